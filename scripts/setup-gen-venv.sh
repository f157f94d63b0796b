#!/usr/bin/env bash
# A cached Python venv for scripts/gen-random-model.py: numpy, pyyaml and tqdm from PyPI (the
# dependencies of llama.cpp's gguf-py, which is used from the llama_cpp_python 0.3.36 sdist that
# scripts/build-llama-bench.sh extracts). Prints the venv's python on stdout. Idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pinned_venv "$POCKETLM_CACHE/venv-gen" "numpy==2.2.6 pyyaml==6.0.2 tqdm==4.67.1"
