#!/usr/bin/env bash
# The tiny random-weight models of each architecture family (scripts/gen-random-model.py) in
# every format the parity tests use (F16 as generated; Q4_0 and Q4_K_M quantized by the
# generator to the per-tensor types llama-quantize chose, tests/fixtures/random/*.types.json),
# regenerated deterministically and cached, linked into ./models/random/ (git-ignored).
# tests/fixtures/random/*.jsonl record the sha256 of the file each llama.cpp reference was made
# from; rust/pocketlm/tests/families.rs checks it.
#
#   scripts/gen-random-models.sh                 the tested families and formats, tiny, seed 0
#   FAMILIES="qwen3 llama3" FORMATS="F16 Q4_0" scripts/gen-random-models.sh
#   SIZE=real FORMATS=F16 scripts/gen-random-models.sh       the releases' shapes (benchmarks; large)
#
# A quantized format is made for a family only when its types file exists
# (scripts/make-random-references.sh writes it from llama-quantize's output); nothing here
# builds or runs llama.cpp. Needs llama.cpp's gguf-py and vocabularies (the llama_cpp_python
# 0.3.36 sdist, extracted by scripts/fetch-llama-src.sh), numpy (scripts/setup-gen-venv.sh) and
# Gemma 3's vocabulary from scripts/fetch-models.sh. Prints NAME=PATH for each file on stdout.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# The families and formats tests/families.rs has references for (the generator knows all nine).
read -r -a FAMS <<<"${FAMILIES:-qwen3 llama3 gemma2 granite smollm3 phi3 lfm2 gemma4 qwen35}"
SIZE="${SIZE:-tiny}"
SEED="${SEED:-0}"
FORMATS="${FORMATS:-F16 Q4_0 Q4_K_M IQ4_NL IQ4_XS Q3_K_M Q2_K}"
read -r -a FMTS <<<"$FORMATS"

SRC="$POCKETLM_CACHE/llama.cpp-0.3.36/src"
if [ "${1:-}" != --one ]; then
  # gguf-py and the vocabularies come with the sdist (extracted, not built)
  bash scripts/fetch-llama-src.sh >/dev/null
  PY="$(bash scripts/setup-gen-venv.sh)"
  bash scripts/fetch-models.sh >&2
fi

vocab_of() {
  case "$1" in
    qwen3) echo "$SRC/models/ggml-vocab-qwen2.gguf" ;;
    llama3 | smollm3 | lfm2 | lfm2_1b) echo "$SRC/models/ggml-vocab-llama-bpe.gguf" ;;
    phi3) echo "$SRC/models/ggml-vocab-phi-3.gguf" ;;
    granite) echo "$SRC/models/ggml-vocab-starcoder.gguf" ;;
    gemma2) echo "$REPO_ROOT/models/gemma-3-270m-q4_k_m.gguf" ;;
    gemma4) echo "$SRC/models/ggml-vocab-gemma-4.gguf" ;;
    qwen35) echo "$SRC/models/ggml-vocab-qwen35.gguf" ;;
    *) die "no vocabulary for family $1" ;;
  esac
}

# A cached file is reused only if made by the same generator and vocabulary (and types).
GEN_SHA="$(sha256sum scripts/gen-random-model.py | cut -c1-16)"
CACHE="$POCKETLM_CACHE/random-models"
mkdir -p "$CACHE" models/random

# One family's files, generated if not cached, linked, and printed. A file is written under a
# name of this process's own and renamed when complete, so two runs at once (two make targets
# on an empty cache) never move each other's partial files.
gen_family() {
  local fam="$1" vocab base stamp fmt types qstamp made
  vocab="$(vocab_of "$fam")"
  base="$fam-$SIZE-seed$SEED"
  stamp="gen=$GEN_SHA vocab=$(sha256sum "$vocab" | cut -c1-16)"
  if [ ! -f "$CACHE/$base.stamp" ] || [ "$(cat "$CACHE/$base.stamp")" != "$stamp" ]; then
    rm -f "$CACHE/$base".*
    log "generating $base (vocabulary $(basename "$vocab"))"
    PYTHONPATH="$SRC/gguf-py" nice -n 10 "$PY" scripts/gen-random-model.py --arch "$fam" \
      --size "$SIZE" --seed "$SEED" --vocab "$vocab" --vocab-cache "$CACHE/vocab" \
      --out "$CACHE/$base.F16.gguf.$$.part"
    mv "$CACHE/$base.F16.gguf.$$.part" "$CACHE/$base.F16.gguf"
    echo "$stamp" >"$CACHE/$base.stamp"
  fi
  made=()
  for fmt in "${FMTS[@]}"; do
    [ "$fmt" = F16 ] && made+=(F16) && continue
    types="tests/fixtures/random/$base.$fmt.types.json"
    [ -f "$types" ] || continue
    made+=("$fmt")
    qstamp="$stamp types=$(sha256sum "$types" | cut -c1-16)"
    if [ ! -f "$CACHE/$base.$fmt.stamp" ] || [ "$(cat "$CACHE/$base.$fmt.stamp")" != "$qstamp" ] ||
      [ ! -f "$CACHE/$base.$fmt.gguf" ]; then
      log "generating $base in $fmt (types of $types)"
      PYTHONPATH="$SRC/gguf-py" nice -n 10 "$PY" scripts/gen-random-model.py --arch "$fam" \
        --size "$SIZE" --seed "$SEED" --vocab "$vocab" --vocab-cache "$CACHE/vocab" \
        --format "$fmt" --types "$types" --out "$CACHE/$base.$fmt.gguf.$$.part"
      mv "$CACHE/$base.$fmt.gguf.$$.part" "$CACHE/$base.$fmt.gguf"
      echo "$qstamp" >"$CACHE/$base.$fmt.stamp"
    fi
  done
  for fmt in "${made[@]}"; do
    ln -sf "$CACHE/$base.$fmt.gguf" "models/random/$base.$fmt.gguf"
    echo "$base.$fmt=$REPO_ROOT/models/random/$base.$fmt.gguf"
  done
}

# Families are independent (single-threaded numpy each): JOBS of them at once, one per core by
# default. A --one FAMILY run is one of those jobs.
if [ "${1:-}" = --one ]; then
  gen_family "$2"
  exit
fi
export SIZE SEED FORMATS PY
printf '%s\n' "${FAMS[@]}" | xargs -P "${JOBS:-$(nproc)}" -I{} bash "$REPO_ROOT/scripts/gen-random-models.sh" --one {}
