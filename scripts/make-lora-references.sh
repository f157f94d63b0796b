#!/usr/bin/env bash
# Regenerates tests/fixtures/lora/*.jsonl: llama.cpp's greedy tokens and top-10 logprobs on a
# base model with each random-weight LoRA adapter (scripts/gen-random-loras.sh) applied at the
# scale below, through logprobs.cpp's --lora. Run it after a change to the generator, the
# prompts or the llama.cpp version, and commit the fixtures; rust/pocketlm/tests/lora.rs reads
# them, with the base model's own references from the same build (BASE.plain.jsonl, written
# once; PLAIN=1 rewrites them). Not part of `make test` (the fixtures are checked in). A few CPU-minutes (llama.cpp
# with an adapter runs its greedy steps slowly).
#
#   scripts/make-lora-references.sh
#   LORAS="smollm2-r8-seed0" scripts/make-lora-references.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# The user scale of the references (not 1, so that a test that ignores it fails).
SCALE="${SCALE:-0.75}"
TOOL="$(bash scripts/llama-agreement/build-tool.sh)"
mkdir -p tests/fixtures/lora
bash scripts/gen-random-loras.sh | while IFS='=' read -r name adapter base; do
  nice -n 10 python3 scripts/llama-agreement/lora-fixture.py "$TOOL" "$base" "$adapter" "$SCALE" \
    "tests/fixtures/lora/$name.jsonl"
  # The base model alone through the same build: the drift floor the adapted run is held to.
  plain="tests/fixtures/lora/$(basename "$base" .gguf).plain.jsonl"
  [ -f "$plain" ] && [ "${PLAIN:-0}" != 1 ] && continue
  nice -n 10 python3 scripts/llama-agreement/random-fixture.py "$TOOL" "$base" "$plain"
done
