#!/usr/bin/env bash
# CI setup for the iOS build (.github/workflows/ios.yml, release.yml) on a macOS runner with
# Xcode: the Rust targets of the XCFramework and XcodeGen (the sample apps' project is generated
# from examples/ios/project.yml). Idempotent. Not used by `make test` (no Xcode here).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$(uname -s)" = Darwin ] || die "this sets up a macOS runner (Xcode); on Linux see make test-mobile-libs"
command -v xcodebuild >/dev/null || die "xcodebuild is missing: install Xcode"
log "rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios"
rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios >&2
if ! command -v xcodegen >/dev/null; then
  log "brew install xcodegen"
  brew install xcodegen >&2
fi
log "done: $(xcodebuild -version | head -n1), xcodegen $(xcodegen --version 2>/dev/null | tail -n1)"
