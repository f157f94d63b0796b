#!/usr/bin/env bash
# Compiles logprobs.cpp against the static libraries of scripts/build-llama-bench.sh's llama.cpp
# build (building that first if needed) and prints the tool's path.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$REPO_ROOT"
bash scripts/build-llama-bench.sh >/dev/null
DIR="$POCKETLM_CACHE/llama.cpp-0.3.36"
TOOL="$DIR/bin/llama-logprobs"
SRC=scripts/llama-agreement/logprobs.cpp
if [ ! -x "$TOOL" ] || [ "$SRC" -nt "$TOOL" ]; then
  log "compiling $SRC against llama.cpp's static libraries"
  B="$DIR/build"
  g++ -O2 -std=c++17 "$SRC" -I"$DIR/src/include" -I"$DIR/src/ggml/include" \
    "$B/src/libllama.a" "$B/ggml/src/libggml.a" "$B/ggml/src/libggml-cpu.a" "$B/ggml/src/libggml-base.a" \
    -fopenmp -lpthread -ldl -o "$TOOL.tmp" && mv "$TOOL.tmp" "$TOOL"
fi
echo "$TOOL"
