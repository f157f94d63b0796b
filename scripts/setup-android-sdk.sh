#!/usr/bin/env bash
# CI setup for the Android build (.github/workflows/android.yml, release.yml), on a machine that
# has an Android SDK (sdkmanager on PATH or under $ANDROID_HOME): installs the SDK platform, the
# build tools and the NDK the Gradle build uses, the Rust Android targets, and cargo-ndk; exports
# ANDROID_NDK_HOME to later workflow steps through $GITHUB_ENV when it is set.
# Idempotent. Not used by `make test` (this repository's own machine has no Android SDK).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# The versions the build files name: compileSdk 35 (android/pocketlm/build.gradle.kts), the NDK
# build-android.sh suggests.
PLATFORM="platforms;android-35"
BUILD_TOOLS="build-tools;35.0.0"
NDK_VERSION=27.2.12479018
CARGO_NDK_VERSION=3.5.4

sdk="${ANDROID_HOME:-${ANDROID_SDK_ROOT:-}}"
[ -n "$sdk" ] || die "ANDROID_HOME is not set: install the Android SDK command-line tools first"
sdkmanager="$(command -v sdkmanager || true)"
[ -n "$sdkmanager" ] || sdkmanager="$(ls -1 "$sdk"/cmdline-tools/*/bin/sdkmanager 2>/dev/null | sort -V | tail -n1)"
[ -x "$sdkmanager" ] || die "sdkmanager not found on PATH or under $sdk/cmdline-tools"

log "sdkmanager $PLATFORM $BUILD_TOOLS platform-tools ndk;$NDK_VERSION"
yes | "$sdkmanager" --licenses >/dev/null || true
"$sdkmanager" "$PLATFORM" "$BUILD_TOOLS" "platform-tools" "ndk;$NDK_VERSION" >/dev/null
ndk="$sdk/ndk/$NDK_VERSION"
[ -d "$ndk/toolchains/llvm/prebuilt" ] || die "the NDK is not at $ndk after sdkmanager"
if [ -n "${GITHUB_ENV:-}" ]; then echo "ANDROID_NDK_HOME=$ndk" >>"$GITHUB_ENV"; fi

log "rustup target add aarch64-linux-android x86_64-linux-android"
rustup target add aarch64-linux-android x86_64-linux-android >&2
if ! cargo ndk --version 2>/dev/null | grep -q "$CARGO_NDK_VERSION"; then
  log "cargo install cargo-ndk@$CARGO_NDK_VERSION"
  cargo install --locked "cargo-ndk@$CARGO_NDK_VERSION" >&2
fi
log "done: SDK $sdk, NDK $ndk, cargo-ndk $CARGO_NDK_VERSION"
