#!/usr/bin/env bash
# The tiny random-weight models of each architecture family (scripts/gen-random-model.py) in
# every format the parity tests use (F16 as generated; Q4_0, Q4_K_M... by llama-quantize),
# regenerated deterministically and cached, linked into ./models/random/ (git-ignored). tests/fixtures/random/*.jsonl record the sha256 of the file
# each llama.cpp reference was made from; rust/pocketlm/tests/families.rs checks it.
#
#   scripts/gen-random-models.sh                 the tested families, tiny, seed 0, F16
#   FAMILIES="qwen3 llama3 smollm3 gemma2 granite phi3" FORMATS="F16 Q4_0 Q4_K_M" scripts/gen-random-models.sh
#   SIZE=real scripts/gen-random-models.sh       the releases' shapes (benchmarks; large)
#
# Needs: llama.cpp's gguf-py and vocabularies (the llama_cpp_python 0.3.36 sdist, extracted by
# scripts/fetch-llama-src.sh) and, for formats other than F16, its llama-quantize from
# scripts/build-llama-bench.sh (~10 CPU-minutes the first time, cached); numpy (scripts/setup-gen-venv.sh); Gemma 3's vocabulary from scripts/fetch-models.sh.
# Prints NAME=PATH for each file on stdout.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# The families and formats tests/families.rs has references for (the generator knows all six).
read -r -a FAMS <<<"${FAMILIES:-qwen3 llama3 gemma2 granite smollm3 phi3}"
SIZE="${SIZE:-tiny}"
SEED="${SEED:-0}"
read -r -a FORMATS <<<"${FORMATS:-F16}"

SRC="$POCKETLM_CACHE/llama.cpp-0.3.36/src"
QUANTIZE="$POCKETLM_CACHE/llama.cpp-0.3.36/bin/llama-quantize"
if [ "${FORMATS[*]}" != F16 ]; then
  LLAMA_TARGETS="llama-quantize" bash scripts/build-llama-bench.sh >/dev/null
fi
# gguf-py and the vocabularies come with the sdist (extracted, not built)
bash scripts/fetch-llama-src.sh >/dev/null
PY="$(bash scripts/setup-gen-venv.sh)"
bash scripts/fetch-models.sh >&2

vocab_of() {
  case "$1" in
    qwen3) echo "$SRC/models/ggml-vocab-qwen2.gguf" ;;
    llama3 | smollm3) echo "$SRC/models/ggml-vocab-llama-bpe.gguf" ;;
    phi3) echo "$SRC/models/ggml-vocab-phi-3.gguf" ;;
    granite) echo "$SRC/models/ggml-vocab-starcoder.gguf" ;;
    gemma2) echo "$REPO_ROOT/models/gemma-3-270m-q4_k_m.gguf" ;;
    *) die "no vocabulary for family $1" ;;
  esac
}

# A cached file is reused only if made by the same generator and vocabulary (and quantizer).
GEN_SHA="$(sha256sum scripts/gen-random-model.py | cut -c1-16)"
CACHE="$POCKETLM_CACHE/random-models"
mkdir -p "$CACHE" models/random
for fam in "${FAMS[@]}"; do
  vocab="$(vocab_of "$fam")"
  base="$fam-$SIZE-seed$SEED"
  stamp="gen=$GEN_SHA vocab=$(sha256sum "$vocab" | cut -c1-16)"
  if [ ! -f "$CACHE/$base.stamp" ] || [ "$(cat "$CACHE/$base.stamp")" != "$stamp" ]; then
    rm -f "$CACHE/$base".*
    log "generating $base (vocabulary $(basename "$vocab"))"
    PYTHONPATH="$SRC/gguf-py" nice -n 10 "$PY" scripts/gen-random-model.py --arch "$fam" \
      --size "$SIZE" --seed "$SEED" --vocab "$vocab" --out "$CACHE/$base.F16.gguf.part"
    mv "$CACHE/$base.F16.gguf.part" "$CACHE/$base.F16.gguf"
    echo "$stamp" >"$CACHE/$base.stamp"
  fi
  for fmt in "${FORMATS[@]}"; do
    [ "$fmt" = F16 ] && continue
    qstamp="$stamp quantize=$(sha256sum "$QUANTIZE" | cut -c1-16)"
    if [ ! -f "$CACHE/$base.$fmt.stamp" ] || [ "$(cat "$CACHE/$base.$fmt.stamp")" != "$qstamp" ] ||
      [ ! -f "$CACHE/$base.$fmt.gguf" ]; then
      log "quantizing $base to $fmt"
      nice -n 10 "$QUANTIZE" "$CACHE/$base.F16.gguf" "$CACHE/$base.$fmt.gguf.part" "$fmt" 2 \
        >"$CACHE/$base.$fmt.log" 2>&1 || { tail -n 20 "$CACHE/$base.$fmt.log" >&2; die "llama-quantize $base $fmt failed"; }
      mv "$CACHE/$base.$fmt.gguf.part" "$CACHE/$base.$fmt.gguf"
      echo "$qstamp" >"$CACHE/$base.$fmt.stamp"
    fi
  done
  for fmt in "${FORMATS[@]}"; do
    ln -sf "$CACHE/$base.$fmt.gguf" "models/random/$base.$fmt.gguf"
    echo "$base.$fmt=$REPO_ROOT/models/random/$base.$fmt.gguf"
  done
done
