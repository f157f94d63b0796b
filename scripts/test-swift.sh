#!/usr/bin/env bash
# The Swift binding suite (`make test-swift`): installs Swift 6 in a Debian trixie chroot
# (scripts/setup-swift.sh), builds the host library (release), and runs `swift test` on the
# ios/ package (the PocketLM layer over the generated bindings) against the real model. The
# package is built from a mirror in $POCKETLM_CACHE/swift-build/src (compiler messages name it).
# The last line is `swift: N passed, N failed`; exit status non-zero on any failure.
#
# Env: POCKETLM_MODEL (default models/SmolLM2-135M-Instruct.Q4_1.gguf), CARGO_TARGET_DIR.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# On a setup or build failure: the reason, then the closing count line.
fail() { log "error: $*"; echo "swift: 0 passed, 1 failed"; exit 1; }

bash scripts/setup-swift.sh || fail "scripts/setup-swift.sh failed"

model="${POCKETLM_MODEL:-$REPO_ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
[ -f "$model" ] || fail "model $model is missing: run scripts/fetch-models.sh (make models)"
# models/ holds symlinks into the cache: give the chroot the real file's directory.
model_real="$(readlink -f "$model")"
model_dir="$(dirname "$model_real")"

target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
log "building the host library (cargo build --release -p pocketlm-ffi)"
cargo build --release --quiet -p pocketlm-ffi || fail "cargo build -p pocketlm-ffi failed"
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd -P)"
libdir="$target_dir/release"
[ -f "$libdir/libpocketlm_ffi.so" ] || fail "missing $libdir/libpocketlm_ffi.so"

binds=(--bind "$model_dir")
case "$target_dir/" in "$REPO_ROOT"/*) ;; *) binds+=(--bind "$target_dir") ;; esac

# SwiftPM builds incrementally only in the same directory, so the package is built from a mirror
# of ios/ at a fixed path in the cache, with a fixed scratch directory: a fresh clone of unchanged
# sources then reuses the previous build. Only files whose content differs are copied (so only
# their timestamps move); a lock serializes checkouts that run this at the same time.
swift_dir="$POCKETLM_CACHE/swift-build"
src="$swift_dir/src"
scratch="$swift_dir/scratch"
mkdir -p "$src" "$scratch"
exec 9>"$swift_dir/.lock"
flock 9
files() { (cd "$1" && find . \( -name .build -o -name .swiftpm \) -prune -o -type f -print0); }
sync_tree() {
  local from="$1" to="$2" f
  while IFS= read -r -d '' f; do
    [ -f "$from/$f" ] || rm -f "$to/$f"
  done < <(files "$to")
  while IFS= read -r -d '' f; do
    if ! cmp -s "$from/$f" "$to/$f"; then
      mkdir -p "$(dirname "$to/$f")"
      cp "$from/$f" "$to/$f"
    fi
  done < <(files "$from")
}
sync_tree "$REPO_ROOT/ios" "$src" || fail "cannot mirror ios/ into $src"
binds+=(--bind "$swift_dir")

log "swift test (ios/, built from its mirror $src) on $model_real"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
set +e
scripts/swift-chroot.sh "${binds[@]}" -C "$src" \
  -e POCKETLM_MODEL="$model_real" -e LD_LIBRARY_PATH="$libdir" \
  swift test --scratch-path "$scratch" -Xlinker -L"$libdir" -Xlinker -rpath -Xlinker "$libdir" \
  </dev/null 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e

# XCTest's summary: "Executed N tests, with F failures (U unexpected) in ..." (the last one is
# the total over all suites).
summary="$(grep -E 'Executed [0-9]+ tests?, with [0-9]+ failures?' "$out" | tail -n1 || true)"
[ -n "$summary" ] || fail "swift test did not run the tests (exit $status); see the output above"
total="$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")"
# Count failed test cases (not assertion failures).
failed="$(grep -cE "^Test Case .* failed \(" "$out" || true)"
passed=$((total - failed))
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "swift: $passed passed, $failed failed"
[ "$status" = 0 ] && [ "$failed" = 0 ]
