#!/usr/bin/env bash
# The Kotlin binding suite on the JVM (`make test-kotlin`): installs kotlinc/JNA/JUnit 5
# (scripts/setup-kotlin.sh), builds the host library (test profile), compiles the generated bindings
# (bindings/kotlin), the Kotlin layer (android/pocketlm/src/main/kotlin), the tests (tests/kotlin)
# and the samples' shared logic with its tests and simulator (examples/android/samples-core) with one
# kotlinc run (scripts/kotlin-classes.sh, cached by source hash in $POCKETLM_CACHE/kotlin-tests),
# runs them on the real model. (The keyboard simulator's end-to-end check, against the Swift one, is
# scripts/test-sample-sim.sh, `make test-sample-sim`.)
# The last line is `kotlin: N passed, N failed, N skipped`; exit status non-zero on any failure.
#
# Env: POCKETLM_MODEL (default models/SmolLM2-135M-Instruct.Q4_1.gguf), POCKETLM_LORA (an adapter
# for that model; default: the random rank-8 SmolLM2 adapter that scripts/gen-random-loras.sh
# makes, cached, in models/lora/), CARGO_TARGET_DIR.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# On a setup or build failure: the reason, then the closing count line.
fail() { log "error: $*"; echo "kotlin: 0 passed, 1 failed"; exit 1; }

bash scripts/setup-kotlin.sh || fail "scripts/setup-kotlin.sh failed"
# shellcheck disable=SC1091
. "$POCKETLM_CACHE/kotlin/env.sh"

model="${POCKETLM_MODEL:-$REPO_ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
[ -f "$model" ] || fail "model $model is missing: run scripts/fetch-models.sh (make models)"
# The adapter of the adapter tests (docs/adapters.md): generated once, then cached.
lora="$(test_adapter)" ||
  fail "the adapter ${POCKETLM_LORA:-models/lora/smollm2-r8-seed0.gguf} is missing: run scripts/gen-random-loras.sh (make random-loras)"
export POCKETLM_MODEL="$model" POCKETLM_REPO="$REPO_ROOT" POCKETLM_LORA="$lora"

target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
log "building the host library (cargo build --profile test -p pocketlm-ffi)"
libdir="$(build_host_ffi)" || fail "building pocketlm-ffi (cargo test --workspace --no-run) failed"
[ -f "$libdir/libpocketlm_ffi.so" ] || fail "missing $libdir/libpocketlm_ffi.so"

classes="$(bash scripts/kotlin-classes.sh)" || fail "compiling the Kotlin sources failed"

log "running the tests on $model"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
set +e
java -Djna.library.path="$libdir" -Xss4m \
  -cp "$classes:$KOTLIN_TEST_RUN_CP" "$POCKETLM_JUNIT_MAIN" --label kotlin "$classes" \
  </dev/null 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e

# JUnit silently ignores a @Test whose function does not return Unit: make sure every @Test ran.
expected="$(find tests/kotlin examples/android/samples-core/src/test -name '*.kt' -exec cat {} + |
  grep -cE '^\s*@Test\b' || true)"
last="$(grep -E '^kotlin: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n1 || true)"
[ -n "$last" ] || fail "the test runner printed no summary (exit $status)"
read -r passed failed skipped < <(sed -E 's/^kotlin: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/' <<<"$last")
ran=$((passed + failed + skipped))
missing=0
if [ "$ran" -lt "$expected" ]; then
  log "error: only $ran of the $expected @Test functions ran (a test function must return Unit)"
  missing=$((expected - ran))
fi
if [ "$missing" -gt 0 ]; then
  echo "kotlin: $passed passed, $((failed + missing)) failed, $skipped skipped"
  exit 1
fi
exit "$status"
