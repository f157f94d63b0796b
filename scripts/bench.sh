#!/usr/bin/env bash
# `make bench`: builds llama.cpp's tools (cached, never committed) and compares them with
# PocketLM on both models, alternating runs. Extra arguments go to scripts/bench.py.
# PocketLM runs each model's `pocketlm convert`ed copy (same weights, interleaved for the decode
# kernels; cached next to the models); BENCH_LAYOUT=rows runs the original files instead.
# BENCH_BASELINE=REV (a git revision) also builds PocketLM at REV (cached per commit) and runs it
# on the same files in the same rounds: the columns "baseline" and "ours/base" are before/after.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
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
      target/release/pocketlm convert --model "$m" --out "$out" --this-cpu
    fi
    OURS="${OURS:+$OURS,}$out"
  done
fi
BASELINE=()
if [ -n "${BENCH_BASELINE:-}" ]; then
  rev="$(git rev-parse --verify "$BENCH_BASELINE^{commit}")"
  base="$POCKETLM_CACHE/baseline/$rev"
  if [ ! -x "$base/pocketlm" ]; then
    log "building the baseline PocketLM at $rev"
    rm -rf "$base/src" && mkdir -p "$base/src"
    git archive "$rev" | tar -x -C "$base/src"
    # one target dir for every baseline (incremental between nearby revisions)
    CARGO_TARGET_DIR="$POCKETLM_CACHE/baseline/target" \
      cargo build --release --bin pocketlm --manifest-path "$base/src/Cargo.toml"
    cp "$POCKETLM_CACHE/baseline/target/release/pocketlm" "$base/pocketlm.part"
    mv "$base/pocketlm.part" "$base/pocketlm"
    rm -rf "$base/src"
  fi
  BASELINE=(--baseline "$base/pocketlm")
fi
python3 scripts/bench.py --pocketlm target/release/pocketlm --models "$MODELS" --ours-models "$OURS" \
  --llama-bench "$LLAMA_BENCH" --llama-completion "$LLAMA_COMPLETION" "${BASELINE[@]}" "$@"
