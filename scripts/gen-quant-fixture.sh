#!/usr/bin/env bash
# Regenerates tests/fixtures/quant-dequant-gguf-py.bin (gguf-py's dequantization of random
# blocks; see scripts/gen-quant-fixture.py) with numpy from a cached venv and the gguf-py of the
# llama_cpp_python 0.3.36 sdist (extracted by scripts/build-llama-bench.sh).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

VENV="$POCKETLM_CACHE/venv-numpy"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, yaml' 2>/dev/null; then
  log "creating $VENV (numpy, pyyaml: gguf-py imports both)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'numpy>=1.26,<3' 'pyyaml>=6'
fi
GGUF_PY="$POCKETLM_CACHE/llama.cpp-0.3.36/src/gguf-py"
if [ ! -f "$GGUF_PY/gguf/quants.py" ]; then
  bash scripts/build-llama-bench.sh >/dev/null
fi
"$VENV/bin/python" scripts/gen-quant-fixture.py "$GGUF_PY" tests/fixtures/quant-dequant-gguf-py.bin
