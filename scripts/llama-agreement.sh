#!/usr/bin/env bash
# How closely llama.cpp itself, built here from the same vendored source, reproduces
# ../shared/reference (made by llama.cpp on another x86 machine). Prints the same statistics
# as `cargo test --release -p pocketlm --test reference -- --nocapture`, for comparison.
# Not part of `make test`: building llama.cpp takes ~10 CPU-minutes the first time (cached).
#
#   scripts/llama-agreement.sh            both models
#   FLASH_ATTN=0 scripts/llama-agreement.sh   same, flash attention off
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

bash scripts/fetch-models.sh >&2
TOOL="$(bash scripts/llama-agreement/build-tool.sh)"
python3 scripts/llama-agreement/compare.py "$TOOL" models/SmolLM2-135M-Instruct.Q4_1.gguf tests/fixtures/smollm2-135m-instruct-q4_1.jsonl
python3 scripts/llama-agreement/compare.py "$TOOL" models/gemma-3-270m-q4_k_m.gguf tests/fixtures/gemma-3-270m-q4_k_m.jsonl
