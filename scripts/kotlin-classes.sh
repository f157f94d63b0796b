#!/usr/bin/env bash
# Compiles the JVM Kotlin sources with one kotlinc run and prints the classes directory: the
# generated bindings (bindings/kotlin), the Kotlin layer (android/pocketlm/src/main/kotlin), the
# binding tests (tests/kotlin) and the samples' shared logic with its tests and simulator
# (examples/android/samples-core/src/{main,test,sim}). The classes depend only on the sources and
# the compiler, so they are cached by that hash in $POCKETLM_CACHE/kotlin-tests (shared by every
# clone: unchanged sources skip kotlinc). Used by scripts/test-kotlin.sh and scripts/sim/kotlin.sh.
# Needs scripts/setup-kotlin.sh to have run. Logs on stderr; stdout is the directory only.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
# shellcheck disable=SC1091
. "$POCKETLM_CACHE/kotlin/env.sh"

mapfile -t sources < <(find bindings/kotlin android/pocketlm/src/main/kotlin tests/kotlin \
  examples/android/samples-core/src/main examples/android/samples-core/src/test \
  examples/android/samples-core/src/sim -name '*.kt' | sort)
[ "${#sources[@]}" -gt 0 ] || die "no Kotlin sources found"
hash="$( { "$KOTLINC" -version 2>&1 | head -n1; for f in "${sources[@]}"; do echo "== $f"; cat "$f"; done; } |
  sha256sum | cut -c1-16)"
cache="$POCKETLM_CACHE/kotlin-tests"
classes="$cache/$hash"
if [ ! -f "$classes/.complete" ]; then
  mkdir -p "$cache"
  tmp_classes="$(mktemp -d "$cache/.tmp-$hash-XXXXXX")"
  log "compiling ${#sources[@]} Kotlin files (kotlinc, once per source change; cached in $cache)"
  start=$SECONDS
  "$KOTLINC" -nowarn -jvm-target 17 -cp "$KOTLIN_TEST_COMPILE_CP" -d "$tmp_classes" "${sources[@]}" >&2 \
    || { rm -rf "$tmp_classes"; die "kotlinc failed"; }
  touch "$tmp_classes/.complete"
  # Publish atomically (another clone may have compiled the same sources meanwhile).
  if ! mv -T "$tmp_classes" "$classes" 2>/dev/null; then rm -rf "$tmp_classes"; fi
  [ -f "$classes/.complete" ] || die "could not store the compiled classes in $classes"
  log "compiled in $((SECONDS - start)) s"
  # Keep the 5 most recent builds.
  find "$cache" -mindepth 1 -maxdepth 1 -name '.tmp-*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
  ls -1dt "$cache"/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
fi
touch "$classes"
echo "$classes"
