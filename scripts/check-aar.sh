#!/usr/bin/env bash
# Checks a built PocketLM AAR (`make android-aar`): it must contain libpocketlm_ffi.so for each ABI
# the library ships (jni/arm64-v8a, jni/x86_64) exporting the uniffi entry points, and classes.jar
# with the Kotlin layer (dev/pocketlm) and the generated bindings (dev/pocketlm/ffi).
#   scripts/check-aar.sh [AAR]     (default android/pocketlm/build/outputs/aar/pocketlm-release.aar)
# Exit 0 when every check passes; prints one PASS/FAIL line per check.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
aar="${1:-android/pocketlm/build/outputs/aar/pocketlm-release.aar}"
[ -f "$aar" ] || die "$aar does not exist (build it: make android-aar)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 - "$aar" "$tmp" <<'PY' || exit 1
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
failed=0
for abi in arm64-v8a x86_64; do
  so="$tmp/jni/$abi/libpocketlm_ffi.so"
  if [ -s "$so" ] && grep -aq uniffi_pocketlm_ffi_fn_constructor_model_load "$so"; then
    echo "PASS  $abi: jni/$abi/libpocketlm_ffi.so ($(stat -c %s "$so" 2>/dev/null || stat -f %z "$so") bytes) exports the uniffi entry points"
  else
    echo "FAIL  $abi: jni/$abi/libpocketlm_ffi.so is missing or lacks the uniffi entry points"; failed=1
  fi
done
classes="$(python3 -c 'import sys,zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$tmp/classes.jar" 2>/dev/null || true)"
for c in dev/pocketlm/Model.class dev/pocketlm/ffi/PocketLmException.class; do
  if grep -qx "$c" <<<"$classes"; then echo "PASS  classes.jar has $c"
  else echo "FAIL  classes.jar lacks $c"; failed=1; fi
done
exit "$failed"
