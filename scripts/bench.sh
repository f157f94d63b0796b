#!/usr/bin/env bash
# `make bench`: builds llama.cpp's tools (cached, never committed) and compares them with
# PocketLM on both models, alternating runs. Extra arguments go to scripts/bench.py.
# PocketLM runs each model's `pocketlm convert`ed copy (same weights, interleaved for the decode
# kernels; cached next to the models); BENCH_LAYOUT=rows runs the original files instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-models.sh
cargo build --release --bin pocketlm
eval "$(bash scripts/build-llama-bench.sh)"
MODELS=models/SmolLM2-135M-Instruct.Q4_1.gguf,models/gemma-3-270m-q4_k_m.gguf
OURS=$MODELS
if [ "${BENCH_LAYOUT:-interleaved}" != rows ]; then
  DIR="${POCKETLM_CACHE:-$HOME/.cache/pocketlm}/converted"
  mkdir -p "$DIR"
  OURS=""
  for m in ${MODELS//,/ }; do
    out="$DIR/$(basename "$m" .gguf).x8.gguf"
    # re-converted when the model or the converter changed
    if [ ! -f "$out" ] || [ "$out" -ot "$m" ] || [ "$out" -ot target/release/pocketlm ]; then
      target/release/pocketlm convert --model "$m" --out "$out"
    fi
    OURS="${OURS:+$OURS,}$out"
  done
fi
python3 scripts/bench.py --pocketlm target/release/pocketlm --models "$MODELS" --ours-models "$OURS" \
  --llama-bench "$LLAMA_BENCH" --llama-completion "$LLAMA_COMPLETION" "$@"
