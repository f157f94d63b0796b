#!/usr/bin/env bash
# Tests of the packaging scripts that can run without an Android NDK or Xcode (part of
# `make test-mobile-libs`, after scripts/build-mobile-libs.sh --dev, whose mobile-check builds
# tests 3 and 4 reuse):
#   - build-android.sh with no NDK and no cargo-ndk: exit 2, and the message says what to install;
#   - build-android.sh with a fake NDK (ANDROID_NDK_HOME) whose clang refuses to link: the NDK is
#     found, its <triple>23-clang is the linker it gives cargo (a stand-in that only links), and
#     the failure is reported (exit 1);
#   - build-android.sh --check: compiles and checks arm64-v8a as far as possible, says it skipped
#     the link, exit 0, writes nothing into jniLibs;
#   - build-ios.sh (aarch64-apple-ios): builds and checks the static library against the header,
#     writes the headers and module map, says it skipped xcodebuild, exit 0;
#   - build-ios.sh --set-release (what `make ios-release` does after the zip): rewrites a copy of
#     ios/Package.swift's release URL and checksum, which swiftc-free checks then read back, and
#     refuses a non-https URL or a malformed checksum;
#   - check-aar.sh (`make android-aar`'s check) on AARs made here: one complete (passes), one
#     without jni/x86_64 and one with a .so lacking the uniffi symbols (both refused).
# The last line is `packaging: N passed, N failed`.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

passed=0 failed=0
ok() { echo "PASS  $*"; passed=$((passed + 1)); }
bad() { echo "FAIL  $*"; failed=$((failed + 1)); }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A PATH without cargo-ndk, and no NDK variables.
nondk_path=""
IFS=: read -r -a parts <<<"$PATH"
for p in "${parts[@]}"; do [ -x "$p/cargo-ndk" ] || nondk_path="${nondk_path:+$nondk_path:}$p"; done
no_ndk() { env -u ANDROID_NDK_HOME -u ANDROID_NDK_ROOT -u ANDROID_HOME -u ANDROID_SDK_ROOT PATH="$nondk_path" "$@"; }

expect() { # NAME WANT_EXIT LOG PATTERN...: the exit status and each pattern in the log
  local name="$1" want="$2" got="$3" log="$4"; shift 4
  if [ "$got" != "$want" ]; then
    bad "$name: exit $got, expected $want"; tail -n 15 "$log" | sed 's/^/      /'; return
  fi
  local p
  for p in "$@"; do
    if ! grep -qE -- "$p" "$log"; then
      bad "$name: the output lacks /$p/"; tail -n 15 "$log" | sed 's/^/      /'; return
    fi
  done
  ok "$name"
}

# 1. No NDK: a clear message and exit 2.
no_ndk bash scripts/build-android.sh --out "$tmp/jniLibs" >"$tmp/1.log" 2>&1
expect "build-android without an NDK fails with what to install" 2 $? "$tmp/1.log" \
  'Android NDK is needed' 'ANDROID_NDK_HOME' 'cargo install cargo-ndk' 'build-android.sh --check'
[ -e "$tmp/jniLibs" ] && bad "build-android without an NDK created $tmp/jniLibs"

# 2. A fake NDK: found through ANDROID_NDK_HOME, its clang is the linker (and refuses).
fake="$tmp/ndk"
bin="$fake/toolchains/llvm/prebuilt/linux-x86_64/bin"
mkdir -p "$bin"
printf '#!/bin/sh\necho "FAKE-NDK-CLANG called to link" >&2\nexit 1\n' >"$bin/aarch64-linux-android23-clang"
chmod +x "$bin/aarch64-linux-android23-clang"
# cargo itself is a stand-in here: it says what it was asked for and links through the linker
# build-android.sh configured. A real build with the NDK's linker and CC/AR set would compile
# every dependency for the target again (they are part of cargo's fingerprint): about 4
# minutes, for a compile tests 3 and build-mobile-libs.sh already do.
fakecargo="$tmp/fakecargo"
mkdir -p "$fakecargo"
printf '#!/bin/sh\necho "fake cargo: $*" >&2\nexec "$CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER" -o /dev/null\n' \
  >"$fakecargo/cargo"
chmod +x "$fakecargo/cargo"
env -u ANDROID_NDK_ROOT -u ANDROID_HOME -u ANDROID_SDK_ROOT PATH="$fakecargo:$nondk_path" ANDROID_NDK_HOME="$fake" \
  bash scripts/build-android.sh --dev --abi arm64-v8a --out "$tmp/jniLibs" >"$tmp/2.log" 2>&1
expect "build-android links with the NDK's aarch64-linux-android23-clang" 1 $? "$tmp/2.log" \
  'linker .*/toolchains/llvm/prebuilt/linux-x86_64/bin/aarch64-linux-android23-clang' \
  'fake cargo: build .*-p pocketlm-ffi --lib --profile dev --target aarch64-linux-android' \
  'FAKE-NDK-CLANG called to link' 'arm64-v8a: the build failed'

# 3. --check: compile + symbol check for arm64-v8a, the link reported as skipped.
no_ndk bash scripts/build-android.sh --check --profile mobile-check --abi arm64-v8a --out "$tmp/jniLibs-check" >"$tmp/3.log" 2>&1
expect "build-android --check compiles arm64-v8a and skips the link" 0 $? "$tmp/3.log" \
  'ok: arm64-v8a: compiled for aarch64-linux-android' 'skipped: linking libpocketlm_ffi.so'
[ -e "$tmp/jniLibs-check" ] && bad "build-android --check wrote $tmp/jniLibs-check"

# 4. build-ios: the device library checked against the header, Apple-only steps skipped.
if [ "$(uname -s)" = Darwin ]; then
  log "macOS: build-ios.sh is exercised for real by its own run; not repeated here"
else
  bash scripts/build-ios.sh --profile mobile-check --target aarch64-apple-ios --out "$tmp/ios" >"$tmp/4.log" 2>&1
  expect "build-ios builds aarch64-apple-ios and skips the Xcode steps" 0 $? "$tmp/4.log" \
    'ok: aarch64-apple-ios: [0-9]+ functions of the header defined' 'ok: headers and module map' \
    'skipped: xcodebuild -create-xcframework'
  hdr="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/ios-xcframework/mobile-check/Headers/CPocketLM"
  if [ -f "$hdr/module.modulemap" ] && grep -q 'module CPocketLM' "$hdr/module.modulemap" \
     && cmp -s "$hdr/CPocketLM.h" ios/Sources/CPocketLM/CPocketLM.h; then
    ok "build-ios stages the generated header and a CPocketLM module map"
  else
    bad "build-ios did not stage $hdr/{CPocketLM.h,module.modulemap}"
  fi
fi

# 5. build-ios.sh --set-release on a copy of Package.swift.
pkg="$tmp/Package.swift"
cp ios/Package.swift "$pkg"
sum=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
url=https://github.com/pocketlm/pocketlm/releases/download/v9.9.9/PocketLMFFI.xcframework.zip
bash scripts/build-ios.sh --set-release "$url" "$sum" --package "$pkg" >"$tmp/5.log" 2>&1
expect "build-ios --set-release points Package.swift at the release zip" 0 $? "$tmp/5.log" "releaseXCFrameworkURL = $url"
if grep -qx "let releaseXCFrameworkURL: String? = \"$url\"" "$pkg" && grep -qx "let releaseXCFrameworkChecksum = \"$sum\"" "$pkg" \
   && [ "$(diff ios/Package.swift "$pkg" | grep -c '^[<>]')" = 4 ]; then
  ok "build-ios --set-release changed exactly the two release lines"
else
  bad "build-ios --set-release: Package.swift not as expected"; diff ios/Package.swift "$pkg" | sed 's/^/      /'
fi
cp ios/Package.swift "$pkg"
bash scripts/build-ios.sh --set-release "http://x/y.zip" "$sum" --package "$pkg" >"$tmp/5b.log" 2>&1
expect "build-ios --set-release refuses a non-https URL" 1 $? "$tmp/5b.log" 'must be an https URL'
bash scripts/build-ios.sh --set-release "$url" "abc" --package "$pkg" >"$tmp/5c.log" 2>&1
expect "build-ios --set-release refuses a malformed checksum" 1 $? "$tmp/5c.log" 'is not a sha256'
cmp -s ios/Package.swift "$pkg" || bad "a refused --set-release changed the file"

# 6. check-aar.sh on AARs made here (the .so stand-ins carry, or lack, the symbol names).
make_aar() { # OUT ABI...  (ABI=name:content)
  python3 - "$@" <<'PY2'
import io, sys, zipfile
out, specs = sys.argv[1], sys.argv[2:]
cj = io.BytesIO()
with zipfile.ZipFile(cj, "w") as z:
    z.writestr("dev/pocketlm/Model.class", b"x")
    z.writestr("dev/pocketlm/ffi/PocketLmException.class", b"x")
with zipfile.ZipFile(out, "w") as z:
    z.writestr("AndroidManifest.xml", "<manifest/>")
    z.writestr("classes.jar", cj.getvalue())
    for spec in specs:
        abi, content = spec.split(":", 1)
        z.writestr(f"jni/{abi}/libpocketlm_ffi.so", content)
PY2
}
good=uniffi_pocketlm_ffi_fn_constructor_model_load
make_aar "$tmp/good.aar" "arm64-v8a:$good" "x86_64:$good"
bash scripts/check-aar.sh "$tmp/good.aar" >"$tmp/6.log" 2>&1
expect "check-aar passes an AAR with both ABIs and the bindings" 0 $? "$tmp/6.log" 'PASS  arm64-v8a' 'PASS  x86_64' 'PASS  classes.jar has dev/pocketlm/ffi/PocketLmException.class'
make_aar "$tmp/no-x86.aar" "arm64-v8a:$good"
bash scripts/check-aar.sh "$tmp/no-x86.aar" >"$tmp/6b.log" 2>&1
expect "check-aar refuses an AAR without jni/x86_64" 1 $? "$tmp/6b.log" 'FAIL  x86_64'
make_aar "$tmp/nosym.aar" "arm64-v8a:$good" "x86_64:not-a-library"
bash scripts/check-aar.sh "$tmp/nosym.aar" >"$tmp/6c.log" 2>&1
expect "check-aar refuses a .so without the uniffi entry points" 1 $? "$tmp/6c.log" 'FAIL  x86_64'

echo "packaging: $passed passed, $failed failed"
[ "$failed" = 0 ]
