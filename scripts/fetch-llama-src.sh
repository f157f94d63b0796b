#!/usr/bin/env bash
# Fetch llama.cpp's source as vendored in the PyPI sdist llama_cpp_python==0.3.36 (the project's
# reference for everything llama.cpp) and extract it; no build. Prints the source directory.
#
#   scripts/fetch-llama-src.sh      -> $POCKETLM_CACHE/llama.cpp-0.3.36/src
#
# The tests read llama.cpp's tokenizer suite (src/models/ggml-vocab-*.gguf with .inp/.out) and
# its chat templates (src/models/templates/*.jinja) from there; build-llama-bench.sh builds the
# reference tools from the same tree. Idempotent and cached: the sdist (~75 MB) is downloaded
# once; concurrent runs take turns on a lock. Nothing here is ever committed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=0.3.36
DIR="$POCKETLM_CACHE/llama.cpp-$VERSION"
SRC="$DIR/src"

mkdir -p "$DIR"
exec 9>"$DIR/.src.lock"
flock 9

sdist="$DIR/llama_cpp_python-$VERSION.tar.gz"
if [ ! -f "$sdist" ]; then
  log "downloading the llama_cpp_python==$VERSION sdist from PyPI (~75 MB)"
  tmp="$(mktemp -d)"
  # --no-binary for this package only: ':all:' would also build pip's build deps (cmake!) from source.
  python3 -m pip download --quiet --no-deps --no-binary llama_cpp_python \
    "llama_cpp_python==$VERSION" -d "$tmp" >&2
  mv "$tmp/llama_cpp_python-$VERSION.tar.gz" "$sdist.part" && mv "$sdist.part" "$sdist"
  rm -rf "$tmp"
fi
if [ ! -f "$SRC/.extracted" ]; then
  # A fresh tree invalidates build-llama-bench.sh's build directory.
  rm -rf "$SRC" "$DIR/build"; mkdir -p "$SRC"
  tar -xzf "$sdist" -C "$SRC" --strip-components=3 "llama_cpp_python-$VERSION/vendor/llama.cpp"
  [ -f "$SRC/CMakeLists.txt" ] || die "no vendor/llama.cpp in $sdist"
  touch "$SRC/.extracted"
fi
printf '%s\n' "$SRC"
