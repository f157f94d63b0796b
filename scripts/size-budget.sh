#!/usr/bin/env bash
# The size budget of constrained decoding (docs/structured.md#size): the stripped arm64 library
# grows by at most 1.5 MB (1,500,000 bytes) over the last commit before llguidance came in.
#
# Builds pocketlm-ffi's aarch64-unknown-linux-gnu cdylib (the stand-in for the Android .so that
# scripts/measure-mobile-size.sh uses) twice with the same profile and one shared target
# directory: at SIZE_BEFORE (a `git archive` export under <target>/size-budget/) and in this
# working tree; strips both with `llvm-strip --strip-all` and prints, per profile,
#   profile  before  after  growth  budget  verdict      (bytes)
# Exit status 1 when a profile is over budget.
#
#   scripts/size-budget.sh [PROFILE...]     default: mobile (what ships); e.g. mobile release
#   make size-budget                        the same, default profile
# Env: SIZE_BEFORE (a commit, default a42eac0: main just before the structured-output merge),
#      SIZE_BUDGET (bytes, default 1500000). Needs the git history of SIZE_BEFORE (not a
#      shallow clone). Takes about 10 minutes from cold on 2 cores (two fat-LTO links), which
#      is why it is not part of `make test`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

before="${SIZE_BEFORE:-a42eac0}"
budget="${SIZE_BUDGET:-1500000}"
profiles=("$@")
[ "${#profiles[@]}" -gt 0 ] || profiles=(mobile)
triple=aarch64-unknown-linux-gnu

bash scripts/setup-cross.sh >&2
target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
export CARGO_TARGET_DIR="$target_dir"
strip="$(command -v llvm-strip || command -v aarch64-linux-gnu-strip)"

git rev-parse --verify --quiet "$before^{commit}" >/dev/null ||
  die "commit $before is not in this clone (a shallow clone? git fetch --unshallow)"
rev="$(git rev-parse --short=12 "$before^{commit}")"
src="$target_dir/size-budget/$rev"
if [ ! -f "$src/.exported" ]; then
  rm -rf "$src"
  mkdir -p "$src"
  log "exporting $rev to $src"
  git archive "$rev" | tar -x -C "$src"
  touch "$src/.exported"
fi

# stripped_size DIR PROFILE: build the cdylib in DIR and print its stripped size in bytes.
# Both trees write the same file (a cdylib's name has no hash), and cargo would take the other
# tree's as up to date: it is deleted after each measurement so that every build links its own.
stripped_size() {
  log "$1: cargo build -p pocketlm-ffi --lib --target $triple --profile $2"
  (cd "$1" && nice -n 10 cargo build --quiet -p pocketlm-ffi --lib --target "$triple" --profile "$2")
  local dir="$target_dir/$triple/$2"
  "$strip" --strip-all -o "$dir/size-budget.so" "$dir/libpocketlm_ffi.so"
  rm -f "$dir/libpocketlm_ffi.so" "$dir/deps/libpocketlm_ffi.so"
  stat -c %s "$dir/size-budget.so"
}

over=0
rows=()
for p in "${profiles[@]}"; do
  b="$(stripped_size "$src" "$p")"
  a="$(stripped_size "$REPO_ROOT" "$p")"
  growth=$((a - b))
  verdict="within budget"
  if [ "$growth" -gt "$budget" ]; then verdict="OVER BUDGET"; over=1; fi
  rows+=("$(printf '%-8s %12s %12s %+12d %10s  %s' "$p" "$b" "$a" "$growth" "$budget" "$verdict")")
done
printf 'size budget: stripped %s cdylib of pocketlm-ffi, before = %s, after = working tree\n' \
  "$triple" "$rev"
printf '%-8s %12s %12s %12s %10s  %s\n' profile before after growth budget verdict
printf '%s\n' "${rows[@]}"
exit "$over"
