#!/usr/bin/env bash
# Build llama.cpp's reference tools (for benchmarks that compare PocketLM against llama.cpp in
# the same run) from the llama.cpp source vendored in the PyPI sdist llama_cpp_python==0.3.36.
#
#   scripts/build-llama-bench.sh     build if needed; prints NAME=PATH for each binary on stdout
#
# Binaries (static, no shared libs; Release, GGML_NATIVE=ON, AMX disabled, no HTTPS/curl):
#   $CACHE/llama.cpp-0.3.36/bin/llama-bench       pp/tg throughput (llama-bench -m M -t 2 -p 128 -n 32)
#   $CACHE/llama.cpp-0.3.36/bin/llama-completion  cold load + prompt + N tokens with -t
#                                                 (llama-completion -m M -t 2 -n 1 -no-cnv --no-warmup -p "...")
#   $CACHE/llama.cpp-0.3.36/bin/llama-simple      minimal example (always 4 threads: n_threads isn't settable)
# LLAMA_TARGETS="llama-bench llama-simple" overrides the set. Nothing here is ever committed.
# Takes ~10 CPU-minutes (15-25 min wall on a busy 2-core machine) from scratch; instant when the binaries exist.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=0.3.36
DIR="$POCKETLM_CACHE/llama.cpp-$VERSION"
SRC="$DIR/src"
BUILD="$DIR/build"
BIN="$DIR/bin"
read -r -a TARGETS <<<"${LLAMA_TARGETS:-llama-bench llama-completion llama-simple}"
ISA_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
STAMP="llama_cpp_python==$VERSION native=ON flags=$ISA_FLAGS static v1"

print_paths() {
  local t
  for t in "${TARGETS[@]}"; do
    printf '%s=%s\n' "$(echo "$t" | tr 'a-z-' 'A-Z_')" "$BIN/$t"
  done
}

have_all() {
  [ -f "$DIR/.stamp" ] && [ "$(cat "$DIR/.stamp")" = "$STAMP" ] || return 1
  local t; for t in "${TARGETS[@]}"; do [ -x "$BIN/$t" ] || return 1; done
}

if have_all; then print_paths; exit 0; fi
start=$SECONDS
apt_ensure cmake g++ make
mkdir -p "$DIR"

# 1. source: the sdist from PyPI (kept in the cache), only vendor/llama.cpp extracted.
bash "$(dirname "${BASH_SOURCE[0]}")/fetch-llama-src.sh" >/dev/null

# 2. configure + build only the needed targets.
# (LLAMA_CURL is deprecated and ignored by this llama.cpp; LLAMA_OPENSSL=OFF is its successor.)
[ -f "$DIR/.stamp" ] && [ "$(cat "$DIR/.stamp")" != "$STAMP" ] && rm -rf "$BUILD"
rm -f "$DIR/.stamp"
log "configuring llama.cpp (Release, GGML_NATIVE=ON, static)"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON -DGGML_CCACHE=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DCMAKE_C_FLAGS="$ISA_FLAGS" -DCMAKE_CXX_FLAGS="$ISA_FLAGS" >"$DIR/configure.log" 2>&1 \
  || { tail -n 30 "$DIR/configure.log" >&2; die "cmake configure failed (log: $DIR/configure.log)"; }
log "building ${TARGETS[*]} with -j2 (several minutes on 2 cores)"
cmake --build "$BUILD" --config Release --target "${TARGETS[@]}" -j2 >"$DIR/build.log" 2>&1 \
  || { tail -n 30 "$DIR/build.log" >&2; die "build failed (log: $DIR/build.log)"; }

mkdir -p "$BIN"
for t in "${TARGETS[@]}"; do
  cp "$BUILD/bin/$t" "$BIN/$t.tmp" && mv "$BIN/$t.tmp" "$BIN/$t"
done
echo "$STAMP" >"$DIR/.stamp"
log "built in $((SECONDS - start)) s"
print_paths
