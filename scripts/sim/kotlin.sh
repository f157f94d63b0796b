#!/usr/bin/env bash
# The Kotlin keyboard simulator (run through scripts/sample-sim.sh kotlin): JSON-lines events on
# stdin, one JSON state line per event on stdout, from the shared keyboard controller (Rust's
# KeyboardCore) through the Android sample's KeyboardGlue
# (examples/android/samples-core) on the real model through JNA (docs/samples.md#keyboard-simulator).
# Sets up kotlinc (scripts/setup-kotlin.sh), builds the host library and compiles the Kotlin sources
# once (scripts/kotlin-classes.sh, cached); all logs go to stderr.
#
#   scripts/sample-sim.sh kotlin [--model M] < events.jsonl
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

model="$REPO_ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) [ $# -ge 2 ] || die "--model needs a path"; model="$2"; shift 2 ;;
    *) echo "usage: scripts/sample-sim.sh kotlin [--model M] < events.jsonl" >&2; exit 2 ;;
  esac
done

bash "$REPO_ROOT/scripts/setup-kotlin.sh" >&2 || die "scripts/setup-kotlin.sh failed"
# shellcheck disable=SC1091
. "$POCKETLM_CACHE/kotlin/env.sh"
libdir="$(build_host_ffi)" || die "cargo build -p pocketlm-ffi failed"
classes="$(bash "$REPO_ROOT/scripts/kotlin-classes.sh")" || die "compiling the Kotlin sources failed"
exec java -Djna.library.path="$libdir" -Dfile.encoding=UTF-8 -cp "$classes:$KOTLIN_TEST_RUN_CP" \
  dev.pocketlm.samples.sim.KeyboardSimKt --model "$model"
