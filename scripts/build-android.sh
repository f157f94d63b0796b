#!/usr/bin/env bash
# Build libpocketlm_ffi.so for the Android ABIs the AAR ships and put them where the Gradle module
# packs them: android/pocketlm/src/main/jniLibs/<abi>/libpocketlm_ffi.so.
#   arm64-v8a -> aarch64-linux-android (phones), x86_64 -> x86_64-linux-android (emulators)
# Profile `mobile` (Cargo.toml: size-optimised release, stripped; docs/packaging.md), API level 23.
# Linking a .so needs the Android NDK. In order of preference:
#   1. cargo-ndk on PATH:  cargo ndk -t <abi>... -P 23 -o <jniLibs> build -p pocketlm-ffi --profile mobile
#   2. the NDK itself:     ANDROID_NDK_HOME (or ANDROID_NDK_ROOT, or the newest $ANDROID_HOME/ndk/*),
#                          cargo build --target <triple> with <ndk>/toolchains/llvm/prebuilt/<host>/bin/
#                          <triple>23-clang as the linker
#   3. neither: exit 2 with what to install (unless --check).
#
#   scripts/build-android.sh [--abi arm64-v8a|x86_64]... [--profile P] [--out DIR]
#   scripts/build-android.sh --check [--abi ...] [--profile P|--dev]
#       builds as far as possible without an NDK: compiles pocketlm-ffi for each ABI as a
#       staticlib (no linker needed), checks it exports the uniffi entry points, and says what it
#       did not do (link, strip, copy). Writes nothing into jniLibs.
# Exit: 0 done; 1 a build failed; 2 no NDK/cargo-ndk (the message says what to install); 64 usage.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

API_LEVEL=23
abis=() profile=mobile check= out="$REPO_ROOT/android/pocketlm/src/main/jniLibs"
usage() { echo "usage: scripts/build-android.sh [--check] [--abi arm64-v8a|x86_64]... [--profile P|--dev] [--out DIR]" >&2; exit 64; }
while [ $# -gt 0 ]; do
  case "$1" in
    --abi) [ $# -ge 2 ] || usage; abis+=("$2"); shift 2 ;;
    --profile) [ $# -ge 2 ] || usage; profile="$2"; shift 2 ;;
    --dev) profile=dev; shift ;;
    --out) [ $# -ge 2 ] || usage; out="$2"; shift 2 ;;
    --check) check=1; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) usage ;;
  esac
done
[ "${#abis[@]}" -gt 0 ] || abis=(arm64-v8a x86_64)

triple_of() {
  case "$1" in
    arm64-v8a) echo aarch64-linux-android ;;
    x86_64) echo x86_64-linux-android ;;
    *) return 1 ;;
  esac
}
for abi in "${abis[@]}"; do triple_of "$abi" >/dev/null || die "unknown ABI '$abi' (supported: arm64-v8a, x86_64)"; done
profile_dir() { case "$1" in dev) echo debug ;; *) echo "$1" ;; esac; }
target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"

ensure_targets() {
  local installed t missing=()
  command -v rustup >/dev/null || return 0
  installed="$(rustup target list --installed)"
  for abi in "${abis[@]}"; do
    t="$(triple_of "$abi")"
    grep -qx "$t" <<<"$installed" || missing+=("$t")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "rustup target add ${missing[*]}"
    rustup target add "${missing[@]}" >&2 || die "rustup target add ${missing[*]} failed"
  fi
}

# The NDK: ANDROID_NDK_HOME, ANDROID_NDK_ROOT, or the newest side-by-side NDK of the SDK.
find_ndk() {
  local d
  for d in "${ANDROID_NDK_HOME:-}" "${ANDROID_NDK_ROOT:-}"; do
    [ -n "$d" ] && [ -d "$d/toolchains/llvm/prebuilt" ] && { echo "$d"; return 0; }
  done
  for d in "${ANDROID_HOME:-}" "${ANDROID_SDK_ROOT:-}"; do
    [ -n "$d" ] && [ -d "$d/ndk" ] || continue
    d="$(ls -1d "$d"/ndk/*/ 2>/dev/null | sort -V | tail -n1)"
    [ -n "$d" ] && [ -d "$d/toolchains/llvm/prebuilt" ] && { echo "${d%/}"; return 0; }
  done
  return 1
}

check_exports() { # FILE: the uniffi entry points must be defined
  local syms nm
  nm="$(command -v llvm-nm || true)"
  local dyn=(); [[ "$1" == *.so ]] && dyn=(-D)   # a stripped .so keeps only its dynamic symbols
  if [ -n "$nm" ]; then syms="$("$nm" "${dyn[@]}" -g --defined-only "$1" 2>/dev/null || true)"
  else syms="$(grep -aoE 'uniffi_pocketlm_ffi_fn_[a-z_]+' "$1" | sort -u || true)"; fi
  grep -q uniffi_pocketlm_ffi_fn_constructor_model_load <<<"$syms" \
    && grep -q uniffi_pocketlm_ffi_fn_method_textsession_generate <<<"$syms"
}

ndk="$(find_ndk || true)"
cargo_ndk=; command -v cargo-ndk >/dev/null && cargo_ndk=1

# --- --check: everything up to the link, no NDK needed ---
if [ -n "$check" ]; then
  ensure_targets
  failed=0
  for abi in "${abis[@]}"; do
    t="$(triple_of "$abi")"
    lib="$target_dir/$t/$(profile_dir "$profile")/libpocketlm_ffi.a"
    log "$abi: cargo rustc -p pocketlm-ffi --lib --profile $profile --target $t --crate-type staticlib"
    if ! cargo rustc --quiet -p pocketlm-ffi --lib --profile "$profile" --target "$t" --crate-type staticlib; then
      log "FAIL: $abi: compiling pocketlm-ffi for $t failed"; failed=1; continue
    fi
    if [ ! -s "$lib" ] || ! check_exports "$lib"; then
      log "FAIL: $abi: $lib is missing or does not export the uniffi entry points"; failed=1; continue
    fi
    log "ok: $abi: compiled for $t ($lib, $(du -h "$lib" | cut -f1))"
  done
  if [ -z "$ndk" ] && [ -z "$cargo_ndk" ]; then
    log "skipped: linking libpocketlm_ffi.so, stripping it and copying it into $out/<abi>/ (no Android NDK here: set ANDROID_NDK_HOME or install cargo-ndk)"
  else
    log "skipped: linking and copying (--check); run without --check to produce the .so files"
  fi
  exit "$failed"
fi

# --- a real build ---
if [ -z "$ndk" ] && [ -z "$cargo_ndk" ]; then
  cat >&2 <<EOF
[build-android] error: the Android NDK is needed to link libpocketlm_ffi.so, and none was found.
  - Install an NDK (Android Studio > SDK Manager > SDK Tools > NDK (Side by side), or
    \`sdkmanager "ndk;27.2.12479018"\`) and set ANDROID_NDK_HOME=<sdk>/ndk/<version>
    (ANDROID_NDK_ROOT, or ANDROID_HOME with an ndk/ directory, work too);
  - optionally \`cargo install cargo-ndk\`, which this script then uses.
  Checked: ANDROID_NDK_HOME='${ANDROID_NDK_HOME:-}' ANDROID_NDK_ROOT='${ANDROID_NDK_ROOT:-}' ANDROID_HOME='${ANDROID_HOME:-}', cargo-ndk on PATH: no.
  \`scripts/build-android.sh --check\` compiles everything that does not need the NDK.
EOF
  exit 2
fi
ensure_targets
mkdir -p "$out"
failed=0
if [ -n "$cargo_ndk" ]; then
  ndk_args=()
  for abi in "${abis[@]}"; do ndk_args+=(-t "$abi"); done
  log "cargo ndk ${ndk_args[*]} -P $API_LEVEL -o $out build -p pocketlm-ffi --lib --profile $profile"
  cargo ndk "${ndk_args[@]}" -P "$API_LEVEL" -o "$out" build -p pocketlm-ffi --lib --profile "$profile" \
    || { log "error: cargo ndk failed"; exit 1; }
else
  host="$(uname -s | tr '[:upper:]' '[:lower:]')-x86_64"
  bin="$ndk/toolchains/llvm/prebuilt/$host/bin"
  [ -d "$bin" ] || bin="$(ls -1d "$ndk"/toolchains/llvm/prebuilt/*/bin | head -n1)"
  for abi in "${abis[@]}"; do
    t="$(triple_of "$abi")"
    cc="$bin/${t}${API_LEVEL}-clang"
    [ -x "$cc" ] || { log "error: $cc not found in the NDK at $ndk"; failed=1; continue; }
    T="$(tr '[:lower:]-' '[:upper:]_' <<<"$t")"
    log "$abi: cargo build -p pocketlm-ffi --lib --profile $profile --target $t (linker $cc)"
    if ! env "CARGO_TARGET_${T}_LINKER=$cc" "CC_${t//-/_}=$cc" "AR_${t//-/_}=$bin/llvm-ar" \
         cargo build --quiet -p pocketlm-ffi --lib --profile "$profile" --target "$t"; then
      log "error: $abi: the build failed"; failed=1; continue
    fi
    mkdir -p "$out/$abi"
    cp "$target_dir/$t/$(profile_dir "$profile")/libpocketlm_ffi.so" "$out/$abi/libpocketlm_ffi.so"
    # The profile strips already; strip again in case a profile without `strip` was asked for.
    [ -x "$bin/llvm-strip" ] && "$bin/llvm-strip" --strip-unneeded "$out/$abi/libpocketlm_ffi.so"
  done
fi
for abi in "${abis[@]}"; do
  so="$out/$abi/libpocketlm_ffi.so"
  if [ -s "$so" ] && check_exports "$so"; then
    echo "$so ($(stat -c %s "$so") bytes)"
  else
    log "error: $so is missing or does not export the uniffi entry points"; failed=1
  fi
done
[ "$failed" = 0 ] && log "done: libpocketlm_ffi.so for ${abis[*]} in $out (profile $profile, API $API_LEVEL)"
exit "$failed"
