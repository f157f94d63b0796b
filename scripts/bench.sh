#!/usr/bin/env bash
# `make bench`: builds llama.cpp's tools (cached, never committed) and compares them with
# PocketLM on both models, alternating runs. Extra arguments go to scripts/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-models.sh
cargo build --release --bin pocketlm
eval "$(bash scripts/build-llama-bench.sh)"
python3 scripts/bench.py --pocketlm target/release/pocketlm \
  --llama-bench "$LLAMA_BENCH" --llama-completion "$LLAMA_COMPLETION" "$@"
