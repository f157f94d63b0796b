#!/usr/bin/env python3
"""Writes tests/fixtures/quant-dequant-gguf-py.bin: random blocks of every quantized GGML type
PocketLM multiplies and gguf-py's dequantization of them (gguf.quants.dequantize, numpy, from
the llama_cpp_python 0.3.36 sdist's gguf-py), the independent reference `tests/kernels.rs`
(`dequantize_matches_gguf_py`) compares the crate's scalar dequantization with, bit for bit.

    bash scripts/gen-quant-fixture.sh   (makes the numpy venv and extracts the sdist first)

Deterministic from the seed. Format, per type: u8 name length, name (ASCII), u32 block count,
u32 bytes per block, the raw blocks, then the f32 values (little-endian). Scale fields (f16) are
overwritten with finite values (random bits would give inf/NaN blocks, which compare poorly).
"""
import struct
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])  # .../gguf-py
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T  # noqa: E402
from gguf.quants import dequantize  # noqa: E402

OUT = sys.argv[2]
SEED = 43

# type -> byte offsets of its f16 scale fields within a block
SCALES = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
    "IQ4_NL": [0], "IQ4_XS": [0],
}
BLOCKS = 8  # per type: 8 super-blocks (2048 values) or 8 small blocks

rng = np.random.default_rng(SEED)
with open(OUT, "wb") as f:
    for name, offsets in SCALES.items():
        qt = T[name]
        block_len, block_bytes = GGML_QUANT_SIZES[qt]
        raw = rng.integers(0, 256, size=(BLOCKS, block_bytes), dtype=np.uint8)
        for off in offsets:
            # mostly small normal scales, a few large, a few subnormal, some negative, one zero
            v = rng.normal(0.0, 0.02, size=BLOCKS).astype(np.float16)
            v[1] = np.float16(3000.0)
            v[2] = np.float16(-1e-6)  # subnormal in f16
            v[3] = np.float16(0.0)
            raw[:, off:off + 2] = v.view(np.uint8).reshape(BLOCKS, 2)
        values = dequantize(raw.reshape(-1), qt).astype(np.float32).reshape(-1)
        assert values.size == BLOCKS * block_len, (name, values.size)
        f.write(struct.pack("<B", len(name)) + name.encode())
        f.write(struct.pack("<II", BLOCKS, block_bytes))
        f.write(raw.tobytes())
        f.write(values.astype("<f4").tobytes())
print(f"wrote {OUT}")
