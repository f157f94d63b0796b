#!/usr/bin/env bash
# A cached Python venv for LoRA training (scripts/train-lora.sh): PyTorch, transformers (its
# GGUF loading reads the base weights from the model file, with the gguf package), PEFT, and
# what llama.cpp's convert_lora_to_gguf.py imports. All from PyPI, pinned; ~3 GB (PyPI's
# Linux torch wheel brings its CUDA libraries; training runs on the CPU). Prints the venv's
# python on stdout. Idempotent; not part of `make test` (training is not a test).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PINS="torch==2.15.0 transformers==5.24.0 peft==0.21.2 accelerate==1.15.0 gguf==0.19.0 safetensors==0.8.0 numpy==2.4.6 sentencepiece==0.2.3"
pinned_venv "$POCKETLM_CACHE/venv-train" "$PINS"
