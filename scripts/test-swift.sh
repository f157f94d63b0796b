#!/usr/bin/env bash
# The Swift suite (`make test-swift`): installs Swift 6 in a Debian trixie chroot
# (scripts/setup-swift.sh), builds the host library (test profile), and runs `swift test` against the
# real model on the ios/ package (the PocketLM layer over the generated bindings), then on the
# iOS samples' examples/ios/SampleCore package (their controllers). Each package is built from a
# mirror under $POCKETLM_CACHE/swift-build (compiler messages name it).
# The last line is `swift: N passed, N failed` over both; exit status non-zero on any failure.
#
# Env: POCKETLM_MODEL (default models/SmolLM2-135M-Instruct.Q4_1.gguf), POCKETLM_LORA (an adapter
# for that model; default: the random rank-8 SmolLM2 adapter that scripts/gen-random-loras.sh
# makes, cached, in models/lora/), CARGO_TARGET_DIR.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# On a setup or build failure: the reason, then the closing count line.
fail() { log "error: $*"; echo "swift: 0 passed, 1 failed"; exit 1; }

bash scripts/setup-swift.sh || fail "scripts/setup-swift.sh failed"

model="${POCKETLM_MODEL:-$REPO_ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
[ -f "$model" ] || fail "model $model is missing: run scripts/fetch-models.sh (make models)"
# The adapter of the adapter tests (docs/adapters.md): generated once, then cached.
lora="$(test_adapter)" ||
  fail "the adapter ${POCKETLM_LORA:-models/lora/smollm2-r8-seed0.gguf} is missing: run scripts/gen-random-loras.sh (make random-loras)"
# models/ holds symlinks into the cache: give the chroot the real file's directory.
model_real="$(readlink -f "$model")"
model_dir="$(dirname "$model_real")"
lora_real="$(readlink -f "$lora")"

target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
log "building the host library (cargo build --profile test -p pocketlm-ffi)"
libdir="$(build_host_ffi)" || fail "building pocketlm-ffi (cargo test --workspace --no-run) failed"
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd -P)"
[ -f "$libdir/libpocketlm_ffi.so" ] || fail "missing $libdir/libpocketlm_ffi.so"

binds=(--bind "$model_dir" --bind "$(dirname "$lora_real")")
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
sync_tree "$REPO_ROOT/ios" "$src" || fail "cannot mirror ios/ into $src"
binds+=(--bind "$swift_dir")

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
passed_all=0 failed_all=0 status_all=0

# run_suite NAME PACKAGE_DIR SCRATCH: `swift test` in the chroot; adds to the totals.
run_suite() {
  local name="$1" pkg="$2" scratch_dir="$3" status summary total failed
  log "swift test ($name, built from its mirror $pkg) on $model_real"
  set +e
  scripts/swift-chroot.sh "${binds[@]}" -C "$pkg" \
    -e POCKETLM_MODEL="$model_real" -e POCKETLM_LORA="$lora_real" -e LD_LIBRARY_PATH="$libdir" \
    swift test --scratch-path "$scratch_dir" -Xlinker -L"$libdir" -Xlinker -rpath -Xlinker "$libdir" \
    </dev/null 2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  set -e
  # XCTest's summary: "Executed N tests, with F failures (U unexpected) in ..." (the last one is
  # the total over all suites).
  summary="$(grep -E 'Executed [0-9]+ tests?, with [0-9]+ failures?' "$out" | tail -n1 || true)"
  if [ -z "$summary" ]; then
    log "error: $name: swift test did not run the tests (exit $status); see the output above"
    failed_all=$((failed_all + 1)); status_all=1
    return
  fi
  total="$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")"
  # Count failed test cases (not assertion failures).
  failed="$(grep -cE "^Test Case .* failed \(" "$out" || true)"
  if [ "$status" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
  log "$name: $((total - failed)) passed, $failed failed"
  passed_all=$((passed_all + total - failed))
  failed_all=$((failed_all + failed))
  [ "$status" = 0 ] && [ "$failed" = 0 ] || status_all=1
}

run_suite "ios/" "$src" "$scratch"

# The samples' package depends on ../../../ios: its mirror keeps that layout
# (scripts/lib.sh: swift_samples_mirror).
flock -u 9
swift_samples_mirror || fail "cannot mirror examples/ios/SampleCore"
run_suite "examples/ios/SampleCore" "$SWIFT_SAMPLES_DIR/src/examples/ios/SampleCore" "$SWIFT_SAMPLES_DIR/scratch"

echo "swift: $passed_all passed, $failed_all failed"
[ "$status_all" = 0 ]
