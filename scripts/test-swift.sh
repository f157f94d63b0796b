#!/usr/bin/env bash
# The Swift binding suite (`make test-swift`): installs Swift 6 in a Debian trixie chroot
# (scripts/setup-swift.sh), builds the host library (release), and runs `swift test` on the
# ios/ package (the PocketLM layer over the generated bindings) against the real model.
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

# SwiftPM's scratch directory lives in the cache (not in the repo), one per checkout.
scratch="$POCKETLM_CACHE/swift-build/$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12)"
mkdir -p "$scratch"
binds+=(--bind "$scratch")

log "swift test (ios/) on $model_real"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
set +e
scripts/swift-chroot.sh "${binds[@]}" -C "$REPO_ROOT/ios" \
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
