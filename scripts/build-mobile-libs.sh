#!/usr/bin/env bash
# Compile rust/pocketlm-ffi into static libraries for the phones:
#   aarch64-linux-android  -> <target>/aarch64-linux-android/<profile>/libpocketlm_ffi.a
#   aarch64-apple-ios      -> <target>/aarch64-apple-ios/<profile>/libpocketlm_ffi.a
# Without an NDK or Xcode, a cdylib cannot be linked for these targets, so only the staticlib
# is built (`cargo rustc --crate-type staticlib`); the script then checks that each archive
# exists and exports the uniffi entry points. Packaging (AAR, XCFramework) comes later.
#
#   scripts/build-mobile-libs.sh            release profile (what ships)
#   scripts/build-mobile-libs.sh --dev      the mobile-check profile (a quicker compile check:
#                                           no optimisation, no debug info; Cargo.toml says why)
# Ends with `mobile-libs: N passed, N failed`; exit status non-zero on any failure.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

profile=release
case "${1:-}" in
  --dev) profile=mobile-check ;;
  "" | --release) ;;
  *) die "usage: scripts/build-mobile-libs.sh [--dev|--release]" ;;
esac
dir=$profile

if ! bash scripts/setup-cross.sh; then
  log "FAIL: scripts/setup-cross.sh failed"; echo "mobile-libs: 0 passed, 1 failed"; exit 1
fi
target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"

nm="$(command -v llvm-nm || ls /usr/bin/llvm-nm-* 2>/dev/null | sort -V | tail -n1 || true)"

passed=0 failed=0
for t in aarch64-linux-android aarch64-apple-ios; do
  lib="$target_dir/$t/$dir/libpocketlm_ffi.a"
  rm -f "$lib"
  log "cargo rustc -p pocketlm-ffi --lib --profile $profile --target $t --crate-type staticlib"
  if ! cargo rustc --quiet -p pocketlm-ffi --lib --profile "$profile" --target "$t" --crate-type staticlib; then
    log "FAIL: $t: the build failed"; failed=$((failed + 1)); continue
  fi
  if [ ! -s "$lib" ]; then
    log "FAIL: $t: $lib is missing"; failed=$((failed + 1)); continue
  fi
  # The archive must define the exported functions. GNU nm reads only ELF (not the iOS
  # Mach-O objects); llvm-nm reads both. Without llvm-nm, look for the names in the archive.
  if [ -n "$nm" ]; then
    syms="$("$nm" -g --defined-only "$lib" 2>/dev/null || true)"
  else
    syms="$(grep -aoE 'uniffi_pocketlm_ffi_fn_[a-z_]+' "$lib" | sort -u || true)"
  fi
  if ! grep -q 'uniffi_pocketlm_ffi_fn_constructor_model_load' <<<"$syms" \
     || ! grep -q 'uniffi_pocketlm_ffi_fn_method_textsession_generate' <<<"$syms"; then
    log "FAIL: $t: $lib does not export the uniffi entry points"; failed=$((failed + 1)); continue
  fi
  log "PASS: $t: $lib ($(du -h "$lib" | cut -f1))"
  passed=$((passed + 1))
done
echo "mobile-libs: $passed passed, $failed failed"
[ "$failed" = 0 ]
