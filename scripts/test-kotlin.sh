#!/usr/bin/env bash
# The Kotlin binding suite on the JVM (`make test-kotlin`): installs kotlinc/JNA/JUnit 5
# (scripts/setup-kotlin.sh), builds the host library (release), compiles the generated bindings
# (bindings/kotlin), the Kotlin layer (android/pocketlm/src/main/kotlin) and the tests
# (tests/kotlin) with one kotlinc run (cached by source hash in $POCKETLM_CACHE/kotlin-tests), and
# runs them on the real model.
# The last line is `kotlin: N passed, N failed, N skipped`; exit status non-zero on any failure.
#
# Env: POCKETLM_MODEL (default models/SmolLM2-135M-Instruct.Q4_1.gguf), CARGO_TARGET_DIR.
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
export POCKETLM_MODEL="$model" POCKETLM_REPO="$REPO_ROOT"

target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
log "building the host library (cargo build --release -p pocketlm-ffi)"
cargo build --release --quiet -p pocketlm-ffi || fail "cargo build -p pocketlm-ffi failed"
libdir="$target_dir/release"
[ -f "$libdir/libpocketlm_ffi.so" ] || fail "missing $libdir/libpocketlm_ffi.so"

mapfile -t sources < <(find bindings/kotlin android/pocketlm/src/main/kotlin tests/kotlin -name '*.kt' | sort)
[ "${#sources[@]}" -gt 0 ] || fail "no Kotlin sources found"
# The compiled classes depend only on the sources and the compiler: cache them by that hash under
# $POCKETLM_CACHE (shared by every clone, so a fresh CI clone of unchanged sources skips kotlinc).
hash="$( { "$KOTLINC" -version 2>&1 | head -n1; for f in "${sources[@]}"; do echo "== $f"; cat "$f"; done; } |
  sha256sum | cut -c1-16)"
cache="$POCKETLM_CACHE/kotlin-tests"
classes="$cache/$hash"
if [ ! -f "$classes/.complete" ]; then
  mkdir -p "$cache"
  tmp_classes="$(mktemp -d "$cache/.tmp-$hash-XXXXXX")"
  log "compiling ${#sources[@]} Kotlin files (kotlinc, once per source change; cached in $cache)"
  start=$SECONDS
  "$KOTLINC" -nowarn -jvm-target 17 -cp "$KOTLIN_TEST_COMPILE_CP" -d "$tmp_classes" "${sources[@]}" \
    || { rm -rf "$tmp_classes"; fail "kotlinc failed"; }
  touch "$tmp_classes/.complete"
  # Publish atomically (another clone may have compiled the same sources meanwhile).
  if ! mv -T "$tmp_classes" "$classes" 2>/dev/null; then rm -rf "$tmp_classes"; fi
  [ -f "$classes/.complete" ] || fail "could not store the compiled classes in $classes"
  log "compiled in $((SECONDS - start)) s"
  # Keep the 5 most recent builds.
  find "$cache" -mindepth 1 -maxdepth 1 -name '.tmp-*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
  ls -1dt "$cache"/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
fi
touch "$classes"

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
expected="$(cat tests/kotlin/*.kt | grep -cE '^\s*@Test\b' || true)"
last="$(grep -E '^kotlin: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n1 || true)"
[ -n "$last" ] || fail "the test runner printed no summary (exit $status)"
read -r passed failed skipped < <(sed -E 's/^kotlin: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/' <<<"$last")
ran=$((passed + failed + skipped))
if [ "$ran" -lt "$expected" ]; then
  log "error: only $ran of the $expected @Test functions ran (a test function must return Unit)"
  echo "kotlin: $passed passed, $((failed + expected - ran)) failed, $skipped skipped"
  exit 1
fi
exit "$status"
