"""Writes {tensor name: GGML type name} of a GGUF file as JSON: llama-quantize's choice of type
per tensor, which scripts/gen-random-model.py --types reproduces without llama-quantize.

usage: tensor-types.py MODEL.gguf OUT.json   (PYTHONPATH=.../gguf-py)
"""
import json
import sys

from gguf import GGUFReader

model, out = sys.argv[1:3]
types = {t.name: t.tensor_type.name for t in GGUFReader(model).tensors}
with open(out, "w") as f:
    json.dump(types, f, indent=0, sort_keys=True)
    f.write("\n")
