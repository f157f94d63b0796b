#!/usr/bin/env bash
# Build PocketLMFFI.xcframework: pocketlm-ffi as static libraries for the iOS device and the
# simulators, with the generated C header and a module map, for ios/Package.swift's binaryTarget.
#   1. cargo rustc -p pocketlm-ffi --lib --crate-type staticlib --profile mobile --target T for
#        aarch64-apple-ios (devices), aarch64-apple-ios-sim + x86_64-apple-ios (simulators);
#      each archive must define every function the header declares;
#   2. headers: ios/Sources/CPocketLM/CPocketLM.h (generated, the package's one copy) + a
#      module map (module CPocketLM) in Headers/CPocketLM/;
#   3. lipo -create the two simulator slices into one fat archive;
#   4. xcodebuild -create-xcframework -library <device .a> -headers H -library <sim .a> -headers H
#        -output ios/PocketLMFFI.xcframework
#   5. zip (ditto) + `swift package compute-checksum` -> the url/checksum for a release
#      binaryTarget (printed as a Package.swift snippet; the checksum also in
#      PocketLMFFI.xcframework.zip.checksum); with --release-url URL, ios/Package.swift's
#      releaseXCFrameworkURL/releaseXCFrameworkChecksum are set to URL and that checksum (a release:
#      make ios-release, .github/workflows/release.yml).
# On Linux (no Xcode) it does 1-3 as far as the installed Rust targets and llvm-lipo allow and says
# what it skipped; steps 4-5 need macOS with Xcode.
#
#   scripts/build-ios.sh [--profile P|--dev] [--target T]... [--out DIR] [--release-url URL]
#   scripts/build-ios.sh --set-release URL CHECKSUM [--package FILE]
#       only rewrites the two release lines of ios/Package.swift (or FILE); tested on Linux by
#       scripts/test-packaging.sh.
# Exit: 0 done (or done as far as this machine allows); 1 a build or check failed; 64 usage.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

DEVICE=aarch64-apple-ios
SIMULATORS=(aarch64-apple-ios-sim x86_64-apple-ios)
HEADER=ios/Sources/CPocketLM/CPocketLM.h
profile=mobile out="$REPO_ROOT/ios" targets=() release_url= set_release= set_checksum=
package_file="$REPO_ROOT/ios/Package.swift"
usage() { echo "usage: scripts/build-ios.sh [--profile P|--dev] [--target T]... [--out DIR] [--release-url URL] | --set-release URL CHECKSUM [--package FILE]" >&2; exit 64; }

# set_release_lines URL CHECKSUM FILE: points the package's release binaryTarget at URL.
set_release_lines() {
  local url="$1" sum="$2" file="$3"
  [[ "$url" =~ ^https://[^\"[:space:]]+\.zip$ ]] || die "release URL '$url' must be an https URL of a .zip"
  [[ "$sum" =~ ^[0-9a-f]{64}$ ]] || die "checksum '$sum' is not a sha256 (64 hex digits)"
  grep -q '^let releaseXCFrameworkURL: String? = ' "$file" && grep -q '^let releaseXCFrameworkChecksum = ' "$file" ||
    die "$file lacks the releaseXCFrameworkURL/releaseXCFrameworkChecksum lines"
  sed -i.bak -e "s|^let releaseXCFrameworkURL: String? = .*|let releaseXCFrameworkURL: String? = \"$url\"|" \
    -e "s|^let releaseXCFrameworkChecksum = .*|let releaseXCFrameworkChecksum = \"$sum\"|" "$file" && rm -f "$file.bak"
  log "ok: $file: releaseXCFrameworkURL = $url, checksum $sum"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) [ $# -ge 2 ] || usage; profile="$2"; shift 2 ;;
    --dev) profile=dev; shift ;;
    --target) [ $# -ge 2 ] || usage; targets+=("$2"); shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out="$2"; shift 2 ;;
    --release-url) [ $# -ge 2 ] || usage; release_url="$2"; shift 2 ;;
    --set-release) [ $# -ge 3 ] || usage; set_release="$2"; set_checksum="$3"; shift 3 ;;
    --package) [ $# -ge 2 ] || usage; package_file="$2"; shift 2 ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) usage ;;
  esac
done
if [ -n "$set_release" ]; then set_release_lines "$set_release" "$set_checksum" "$package_file"; exit 0; fi
[ "${#targets[@]}" -gt 0 ] || targets=("$DEVICE" "${SIMULATORS[@]}")
for t in "${targets[@]}"; do
  case "$t" in aarch64-apple-ios | aarch64-apple-ios-sim | x86_64-apple-ios) ;; *) die "unknown iOS target '$t'" ;; esac
done
pdir=$([ "$profile" = dev ] && echo debug || echo "$profile")
target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
stage="$target_dir/ios-xcframework/$pdir"
on_mac=; [ "$(uname -s)" = Darwin ] && on_mac=1
skipped=() failed=0 built=()

nm="$(command -v llvm-nm || command -v nm)"
strip_tool="$(command -v llvm-strip || command -v strip)"
lipo="$(command -v lipo || command -v llvm-lipo || ls /usr/bin/llvm-lipo-* 2>/dev/null | sort -V | tail -n1 || true)"
[ -f "$HEADER" ] || die "$HEADER is missing (scripts/gen-bindings.sh generates it)"

# --- 1. the static libraries ---
installed="$(rustup target list --installed 2>/dev/null || true)"
for t in "${targets[@]}"; do
  if ! grep -qx "$t" <<<"$installed"; then
    log "rustup target add $t"
    if ! RUST_BACKTRACE=0 rustup target add "$t" >"$target_dir/.rustup-$t.log" 2>&1; then
      if [ -n "$on_mac" ]; then
        log "FAIL: rustup target add $t failed: $(grep -m1 error "$target_dir/.rustup-$t.log")"; failed=1
      else
        skipped+=("$t: its Rust standard library is not installable here ($(grep -m1 -oE 'status code: [0-9]+|error: [^:]*' "$target_dir/.rustup-$t.log" | head -n1))")
      fi
      continue
    fi
  fi
  lib="$target_dir/$t/$pdir/libpocketlm_ffi.a"
  log "$t: cargo rustc -p pocketlm-ffi --lib --profile $profile --target $t --crate-type staticlib"
  if ! cargo rustc --quiet -p pocketlm-ffi --lib --profile "$profile" --target "$t" --crate-type staticlib; then
    log "FAIL: $t: the build failed"; failed=1; continue
  fi
  # Every function the header declares must be defined in the archive (Mach-O names carry a
  # leading underscore): a stale header or a missing export fails here, not in Xcode.
  declared="$(grep -oE '\b(uniffi|ffi)_pocketlm_ffi_[A-Za-z0-9_]+\(' "$HEADER" | tr -d '(' | sort -u)"
  defined="$("$nm" -g --defined-only "$lib" 2>/dev/null | awk '{print $NF}' | sed 's/^_//' | sort -u)"
  missing="$(comm -23 <(echo "$declared") <(echo "$defined"))"
  if [ -z "$declared" ] || [ -n "$missing" ]; then
    log "FAIL: $t: $lib does not define $(wc -l <<<"$missing") function(s) of $HEADER, e.g. $(head -n1 <<<"$missing")"
    failed=1; continue
  fi
  stripped="$stage/$t/libpocketlm_ffi.a"
  mkdir -p "$(dirname "$stripped")"
  # Debug info out, symbols kept (an archive must still link); Xcode strips the app at the end.
  "$strip_tool" --strip-debug -o "$stripped" "$lib" 2>/dev/null || cp "$lib" "$stripped"
  log "ok: $t: $(grep -c . <<<"$declared") functions of the header defined; $stripped ($(stat -c %s "$stripped" 2>/dev/null || stat -f %z "$stripped") bytes, debug info stripped)"
  built+=("$t")
done

# --- 2. headers + module map ---
headers="$stage/Headers"
rm -rf "$headers"; mkdir -p "$headers/CPocketLM"
cp "$HEADER" "$headers/CPocketLM/CPocketLM.h"
cat >"$headers/CPocketLM/module.modulemap" <<'EOF'
// The C module of PocketLM's Rust library inside PocketLMFFI.xcframework (written by
// scripts/build-ios.sh). The static library is linked by the XCFramework itself.
module CPocketLM {
    header "CPocketLM.h"
    export *
}
EOF
log "ok: headers and module map in $headers/CPocketLM"

# --- 3. the simulator slices, merged ---
sims=()
for t in "${SIMULATORS[@]}"; do [[ " ${built[*]} " == *" $t "* ]] && sims+=("$stage/$t/libpocketlm_ffi.a"); done
sim_lib=
if [ "${#sims[@]}" = 2 ]; then
  if [ -n "$lipo" ]; then
    sim_lib="$stage/ios-simulator/libpocketlm_ffi.a"
    mkdir -p "$(dirname "$sim_lib")"
    if "$lipo" -create "${sims[@]}" -output "$sim_lib"; then
      log "ok: lipo: $sim_lib ($("$lipo" -info "$sim_lib" 2>&1 | sed 's/.*: //'))"
    else
      log "FAIL: lipo -create of the simulator slices failed"; failed=1; sim_lib=
    fi
  else
    skipped+=("lipo (merging the simulator slices): no lipo or llvm-lipo here")
  fi
elif [ "${#sims[@]}" = 1 ]; then
  sim_lib="${sims[0]}"
  skipped+=("lipo: only one simulator slice was built")
fi

# --- 4-5. the XCFramework, zip, checksum (Xcode) ---
xcf="$out/PocketLMFFI.xcframework"
device_lib=; [[ " ${built[*]} " == *" $DEVICE "* ]] && device_lib="$stage/$DEVICE/libpocketlm_ffi.a"
if [ -n "$on_mac" ] && command -v xcodebuild >/dev/null; then
  if [ -z "$device_lib" ] || [ -z "$sim_lib" ]; then
    log "FAIL: the device and simulator libraries are both needed for the XCFramework"; failed=1
  elif [ "$failed" = 0 ]; then
    rm -rf "$xcf"
    xcodebuild -create-xcframework -library "$device_lib" -headers "$headers" \
      -library "$sim_lib" -headers "$headers" -output "$xcf" || { log "FAIL: xcodebuild -create-xcframework"; exit 1; }
    (cd "$out" && rm -f PocketLMFFI.xcframework.zip &&
      ditto -c -k --sequesterRsrc --keepParent PocketLMFFI.xcframework PocketLMFFI.xcframework.zip) \
      || { log "FAIL: zipping the XCFramework"; exit 1; }
    checksum="$(cd "$out" && swift package compute-checksum PocketLMFFI.xcframework.zip)"
    echo "$xcf"
    echo "$out/PocketLMFFI.xcframework.zip  checksum $checksum"
    echo "$checksum" >"$out/PocketLMFFI.xcframework.zip.checksum"
    [ -z "$release_url" ] || set_release_lines "$release_url" "$checksum" "$package_file"
    cat <<EOF
// For a release: upload PocketLMFFI.xcframework.zip and set in ios/Package.swift
let releaseXCFrameworkURL: String? = "https://<host>/<version>/PocketLMFFI.xcframework.zip"
let releaseXCFrameworkChecksum = "$checksum"
EOF
  fi
else
  [ -z "$release_url" ] || { log "FAIL: --release-url needs the XCFramework zip, which needs macOS with Xcode"; failed=1; }
  skipped+=("xcodebuild -create-xcframework -> $xcf, its zip and \`swift package compute-checksum\`: need macOS with Xcode")
fi

for s in "${skipped[@]}"; do log "skipped: $s"; done
if [ "$failed" != 0 ]; then log "FAILED (see above)"; exit 1; fi
log "done: built ${built[*]:-nothing}${skipped:+; ${#skipped[@]} step(s) skipped on this machine (listed above)}"
exit 0
