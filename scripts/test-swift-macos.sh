#!/usr/bin/env bash
# `swift test` of the ios/ package and of examples/ios/SampleCore on macOS against the real model
# (`make ios-swift-test`; .github/workflows/ios.yml). The Linux counterpart is
# scripts/test-swift.sh (a Debian chroot); both link the host build of libpocketlm_ffi through the
# package's system-library target, so this must run before `make ios-xcframework` puts an
# iOS-only PocketLMFFI.xcframework next to ios/Package.swift (refused below).
# Env: POCKETLM_MODEL (default models/SmolLM2-135M-Instruct.Q4_1.gguf), CARGO_TARGET_DIR.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
[ "$(uname -s)" = Darwin ] || die "macOS only; on Linux use make test-swift"
[ ! -e ios/PocketLMFFI.xcframework ] ||
  die "ios/PocketLMFFI.xcframework exists (iOS slices only): move it away, or run this before make ios-xcframework"
model="${POCKETLM_MODEL:-$REPO_ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
[ -f "$model" ] || die "$model is missing: make models"
export POCKETLM_MODEL="$(cd "$(dirname "$model")" && pwd -P)/$(basename "$model")"
cargo build --release --quiet -p pocketlm-ffi
libdir="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd -P)"
export DYLD_LIBRARY_PATH="$libdir${DYLD_LIBRARY_PATH:+:$DYLD_LIBRARY_PATH}"
log "swift test (ios/)"
(cd ios && swift test -Xlinker -L"$libdir")
log "swift test (examples/ios/SampleCore)"
(cd examples/ios/SampleCore && swift test -Xlinker -L"$libdir")
