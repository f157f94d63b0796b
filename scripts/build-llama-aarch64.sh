#!/usr/bin/env bash
# Cross-builds llama.cpp's `llama-bench` for aarch64 Linux (static, 1-thread friendly: OpenMP
# off, GGML_NATIVE=OFF), from the same llama_cpp_python==0.3.36 sdist as build-llama-bench.sh,
# once per ARM feature level, for scripts/bench-neon.sh:
#
#   $CACHE/llama.cpp-0.3.36/aarch64/llama-bench-armv8-a                 (NEON only)
#   $CACHE/llama.cpp-0.3.36/aarch64/llama-bench-armv8.2-a+dotprod       (SDOT/UDOT)
#   $CACHE/llama.cpp-0.3.36/aarch64/llama-bench-armv8.6-a+dotprod+i8mm  (SMMLA)
#
# Prints NAME=PATH lines (LLAMA_ARMV8_A=..., ...). Only ggml-cpu depends on -march, so the first
# level builds everything and the others rebuild ggml-cpu alone and relink. Nothing is committed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=0.3.36
DIR="$POCKETLM_CACHE/llama.cpp-$VERSION"
SRC="$DIR/src"
OUT="$DIR/aarch64"
LEVELS=(armv8-a armv8.2-a+dotprod armv8.6-a+dotprod+i8mm)
STAMP="llama_cpp_python==$VERSION aarch64 static openmp=off native=off v1"

print_paths() {
  local l
  for l in "${LEVELS[@]}"; do
    printf 'LLAMA_%s=%s\n' "$(echo "${l%%+*}" | tr 'a-z.-' 'A-Z__')" "$OUT/llama-bench-$l"
  done
}
have_all() {
  [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$STAMP" ] || return 1
  local l; for l in "${LEVELS[@]}"; do [ -x "$OUT/llama-bench-$l" ] || return 1; done
}
if have_all; then print_paths; exit 0; fi

start=$SECONDS
bash "$REPO_ROOT/scripts/setup-cross.sh"
apt_ensure cmake make g++-aarch64-linux-gnu
mkdir -p "$DIR" "$OUT"

# 1. source: the sdist from PyPI, vendor/llama.cpp only (shared with build-llama-bench.sh).
bash "$REPO_ROOT/scripts/fetch-llama-src.sh" >/dev/null

# configure BUILD_DIR LEVEL
configure() {
  cmake -S "$SRC" -B "$1" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
    -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ \
    -DCMAKE_EXE_LINKER_FLAGS=-static \
    -DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH="$2" -DGGML_OPENMP=OFF -DGGML_CCACHE=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF >"$1.configure.log" 2>&1 ||
    { tail -n 30 "$1.configure.log" >&2; die "cmake configure failed (log: $1.configure.log)"; }
}

base="$DIR/build-aarch64-${LEVELS[0]}"
for l in "${LEVELS[@]}"; do
  b="$DIR/build-aarch64-$l"
  log "configuring llama.cpp for aarch64 -march=$l"
  configure "$b" "$l"
  if [ "$l" = "${LEVELS[0]}" ]; then
    log "building llama-bench (-march=$l; ~10 CPU-minutes)"
    cmake --build "$b" --target llama-bench -j2 >"$b.build.log" 2>&1 ||
      { tail -n 30 "$b.build.log" >&2; die "build failed (log: $b.build.log)"; }
    cp "$b/bin/llama-bench" "$OUT/llama-bench-$l.tmp"
  else
    log "building ggml-cpu (-march=$l) and relinking llama-bench"
    cmake --build "$b" --target ggml-cpu -j2 >"$b.build.log" 2>&1 ||
      { tail -n 30 "$b.build.log" >&2; die "build failed (log: $b.build.log)"; }
    # the base build's link line with this level's libggml-cpu.a
    link="$(cat "$base/tools/llama-bench/CMakeFiles/llama-bench.dir/link.txt")"
    [ -f "$b/ggml/src/libggml-cpu.a" ] || die "no ggml/src/libggml-cpu.a in $b"
    link="${link//..\/..\/ggml\/src\/libggml-cpu.a/$b/ggml/src/libggml-cpu.a}"
    link="${link//-o ..\/..\/bin\/llama-bench/-o $OUT/llama-bench-$l.tmp}"
    (cd "$base/tools/llama-bench" && eval "$link" >>"$b.build.log" 2>&1) ||
      { tail -n 30 "$b.build.log" >&2; die "relink failed (log: $b.build.log)"; }
  fi
  mv "$OUT/llama-bench-$l.tmp" "$OUT/llama-bench-$l"
done
echo "$STAMP" >"$OUT/.stamp"
log "built in $((SECONDS - start)) s"
print_paths
