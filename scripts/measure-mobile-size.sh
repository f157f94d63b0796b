#!/usr/bin/env bash
# Measure what each release-profile setting costs or saves on the arm64 library (docs/packaging.md).
# No NDK here, so two stand-ins for the Android .so:
#   - the aarch64-unknown-linux-gnu cdylib (linked by aarch64-linux-gnu-gcc; dead code removed
#     like the NDK link would), stripped with `llvm-strip --strip-all`;
#   - the aarch64-linux-android staticlib, `llvm-strip --strip-debug` (symbols stay: an archive
#     must still link), and `llvm-size -t` of its objects (text+data+bss, all of std included).
# Each variant is a custom profile given on the command line (`--config profile.NAME.*`), so
# Cargo.toml is not edited and every variant keeps its own target/<triple>/NAME directory.
#
#   scripts/measure-mobile-size.sh VARIANT...    VARIANT = name:key=value,key=value,...
#   e.g. scripts/measure-mobile-size.sh release: fat:lto=\"fat\" \
#          z:opt-level=\"z\",lto=\"fat\",codegen-units=1
#   a variant named after an existing profile (release, mobile) with no settings uses it as is.
# Prints one line per variant: NAME cdylib_unstripped cdylib_stripped staticlib_stripdebug text+data
# (bytes). Set STATIC=0 to skip the Android staticlib (the slower half).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
strip="$(command -v llvm-strip || command -v aarch64-linux-gnu-strip)"
size_tool="$(command -v llvm-size || true)"

printf '%-14s %12s %12s %14s %12s\n' variant cdylib stripped static-strip-g text+data
for v in "$@"; do
  name="${v%%:*}" settings="${v#*:}"
  args=()
  if [ -n "$settings" ]; then
    args+=(--config "profile.$name.inherits=\"release\"")
    IFS=, read -r -a kvs <<<"$settings"
    for kv in "${kvs[@]}"; do args+=(--config "profile.$name.$kv"); done
  fi
  log "$name: cargo build -p pocketlm-ffi --target aarch64-unknown-linux-gnu --profile $name ${args[*]}"
  cargo build --quiet -p pocketlm-ffi --lib --target aarch64-unknown-linux-gnu --profile "$name" "${args[@]}"
  so="$target_dir/aarch64-unknown-linux-gnu/$name/libpocketlm_ffi.so"
  "$strip" --strip-all -o "$so.stripped" "$so"
  static_a=- static_td=-
  if [ "${STATIC:-1}" = 1 ]; then
    log "$name: cargo rustc -p pocketlm-ffi --lib --target aarch64-linux-android --profile $name --crate-type staticlib"
    cargo rustc --quiet -p pocketlm-ffi --lib --target aarch64-linux-android --profile "$name" "${args[@]}" \
      --crate-type staticlib
    a="$target_dir/aarch64-linux-android/$name/libpocketlm_ffi.a"
    "$strip" --strip-debug -o "$a.stripped" "$a"
    static_a="$(stat -c %s "$a.stripped")"
    [ -n "$size_tool" ] && static_td="$("$size_tool" -t "$a.stripped" | awk 'END { print $1 + $2 + $3 }')"
  fi
  printf '%-14s %12s %12s %14s %12s\n' "$name" "$(stat -c %s "$so")" "$(stat -c %s "$so.stripped")" \
    "$static_a" "$static_td"
done
