#!/usr/bin/env bash
# Regenerates tests/fixtures/random/*.jsonl: llama.cpp's greedy tokens and top-10 logprobs on
# each tiny random-weight model (scripts/gen-random-models.sh) in each format. Run it after a
# change to the generator, the prompts or the llama.cpp version, and commit the fixtures; the
# parity tests (rust/pocketlm/tests/families.rs) read them. Not part of `make test` (the
# fixtures are checked in); see tests/fixtures/random/README.md.
#
#   scripts/make-random-references.sh                     every family
#   FAMILIES="qwen3" scripts/make-random-references.sh    some
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

TOOL="$(bash scripts/llama-agreement/build-tool.sh)"
mkdir -p tests/fixtures/random
bash scripts/gen-random-models.sh | while IFS='=' read -r name path; do
  nice -n 10 python3 scripts/llama-agreement/random-fixture.py "$TOOL" "$path" \
    "tests/fixtures/random/$name.jsonl"
done
