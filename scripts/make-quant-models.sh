#!/usr/bin/env bash
# SmolLM2-135M-Instruct in the formats PocketLM gained for issue 43 (IQ4_NL, IQ4_XS, Q3_K_M,
# Q2_K), made from the Q4_1 release by llama.cpp's own llama-quantize (--allow-requantize), and
# llama.cpp's reference outputs on each (the prompts of tests/fixtures/smollm2-135m-instruct-
# q4_1.jsonl; scripts/llama-agreement/make-reference.py): a manual cross-check on the real
# model, not part of `make test` (the formats are tested there on random-weight models,
# tests/families.rs and tests/fixtures/random/README.md).
#
# Everything is cached under $POCKETLM_CACHE/models/quant and linked into ./models; a second run
# is instant. The first needs llama.cpp's static libraries (scripts/build-llama-bench.sh, ~10
# CPU-minutes once) and compiles llama-quantize and the logprobs tool against them (~1 CPU-minute).
#   scripts/make-quant-models.sh          prints the model paths
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

FORMATS="IQ4_NL IQ4_XS Q3_K_M Q2_K"
SRC_MODEL=SmolLM2-135M-Instruct.Q4_1.gguf
PROMPTS=tests/fixtures/smollm2-135m-instruct-q4_1.jsonl
OUT="$POCKETLM_CACHE/models/quant"
DIR="$POCKETLM_CACHE/llama.cpp-0.3.36"
# what the cached files depend on: the tools' sources and the prompts
STAMP="v1 $(cat scripts/llama-agreement/logprobs.cpp scripts/llama-agreement/make-reference.py \
  "$PROMPTS" | sha256sum | cut -c1-16)"

done_already() {
  [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$STAMP" ] || return 1
  local f; for f in $FORMATS; do
    [ -f "$OUT/SmolLM2-135M-Instruct.$f.gguf" ] && [ -f "$OUT/SmolLM2-135M-Instruct.$f.jsonl" ] || return 1
  done
}

link() {
  mkdir -p models
  local f; for f in $FORMATS; do
    for ext in gguf jsonl; do
      ln -sf "$OUT/SmolLM2-135M-Instruct.$f.$ext" "models/SmolLM2-135M-Instruct.$f.$ext"
    done
    echo "models/SmolLM2-135M-Instruct.$f.gguf"
  done
}

if done_already; then link; exit 0; fi
bash scripts/fetch-models.sh >&2
BUILD="$DIR/build"
LIBS=("$BUILD/src/libllama.a" "$BUILD/ggml/src/libggml.a" "$BUILD/ggml/src/libggml-cpu.a"
  "$BUILD/ggml/src/libggml-base.a")
QLIBS=("$BUILD/common/libllama-common.a" "$BUILD/common/libllama-common-base.a")
have_libs() { local l; for l in "${LIBS[@]}" "${QLIBS[@]}"; do [ -f "$l" ] || return 1; done; }
# llama.cpp's static libraries (built by build-llama-bench.sh with its tools; only the libraries
# are needed here, so a build of those tools still running elsewhere is not waited for)
have_libs || bash scripts/build-llama-bench.sh >/dev/null
have_libs || die "llama.cpp's static libraries are missing under $BUILD"
QUANTIZE="$DIR/bin/llama-quantize"
mkdir -p "$DIR/bin"
if [ ! -x "$QUANTIZE" ]; then
  log "compiling llama-quantize against llama.cpp's static libraries"
  Q="$DIR/src/tools/quantize"
  g++ -O2 -std=c++17 "$Q/main.cpp" "$Q/quantize.cpp" -I"$Q" -I"$DIR/src/include" \
    -I"$DIR/src/ggml/include" -I"$DIR/src/common" -I"$DIR/src/vendor" "${QLIBS[@]}" "${LIBS[@]}" \
    -fopenmp -lpthread -ldl -o "$QUANTIZE.tmp" && mv "$QUANTIZE.tmp" "$QUANTIZE"
fi
TOOL="$DIR/bin/llama-logprobs"
SRC=scripts/llama-agreement/logprobs.cpp
if [ ! -x "$TOOL" ] || [ "$SRC" -nt "$TOOL" ]; then
  log "compiling $SRC against llama.cpp's static libraries"
  g++ -O2 -std=c++17 "$SRC" -I"$DIR/src/include" -I"$DIR/src/ggml/include" \
    "${LIBS[@]}" -fopenmp -lpthread -ldl -o "$TOOL.tmp" && mv "$TOOL.tmp" "$TOOL"
fi
mkdir -p "$OUT"
rm -f "$OUT/.stamp"
for f in $FORMATS; do
  model="$OUT/SmolLM2-135M-Instruct.$f.gguf"
  if [ ! -f "$model" ]; then
    log "llama-quantize $SRC_MODEL -> $f"
    "$QUANTIZE" --allow-requantize "models/$SRC_MODEL" "$model.part" "$f" 2 >"$OUT/quantize-$f.log" 2>&1 \
      || { tail -n 20 "$OUT/quantize-$f.log" >&2; die "llama-quantize $f failed"; }
    mv "$model.part" "$model"
  fi
  log "llama.cpp reference outputs for $f"
  python3 scripts/llama-agreement/make-reference.py "$TOOL" "$model" "$PROMPTS" \
    "$OUT/SmolLM2-135M-Instruct.$f.jsonl"
done
echo "$STAMP" >"$OUT/.stamp"
link
