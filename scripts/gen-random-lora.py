#!/usr/bin/env python3
"""Writes a LoRA adapter in llama.cpp's GGUF format (as convert_lora_to_gguf.py writes it) with
random weights for a base model, deterministic from a seed: the input of the adapter parity
tests (rust/pocketlm/tests/lora.rs), which compare PocketLM with llama.cpp's `--lora` on it.

    gen-random-lora.py --base MODEL.gguf --out OUT.gguf [--rank 8] [--alpha 16] [--seed 0]
                       [--targets attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down]
                       (also attn_qkv, output, token_embd)
                       [--rel 0.1] [--type F32|F16|Q8_0]

- One pair `blk.N.T.weight.lora_a` (numpy shape [rank, cols], ggml [cols, rank]) and
  `.lora_b` ([rows, rank]) for every layer N and target T; `adapter.lora.alpha` = --alpha.
  A fused target (Phi-3's attn_qkv, its gate/up ffn_up) is one pair like any other.
- The model-level targets `output` (the output head, a matrix like the layers') and
  `token_embd` (llama.cpp's embedding convention: `lora_a` numpy [vocab, rank], one row of
  `rank` values per token, `lora_b` [n_embd, rank]; a token's row becomes
  `embd + scale·B·a[token]`), after the layers'.
- A ~ N(0, 1/cols); B ~ N(0, sigma^2/rank), with sigma chosen so that the update
  (alpha/rank)·B·A has an RMS of --rel times the RMS of the base matrix (dequantized), so the
  adapter changes the outputs clearly (a test that ignores it fails) without drowning the
  model.
- --type Q8_0 writes what `convert_lora_to_gguf.py --outtype q8_0` writes: each matrix in Q8_0
  (gguf-py's quantizer, bit-exact with ggml's reference) when its rows split into 32-value
  blocks, else F16 (a rank-16 `lora_b`, whose rows are 16 values, is F16). The random values
  are drawn as for the other types, so the files of one seed hold the same adapter (the F32
  file's values, quantized or rounded as the converter would round them).

Uses gguf-py from the llama_cpp_python 0.3.36 sdist (scripts/fetch-llama-src.sh) and numpy
(scripts/setup-gen-venv.sh); scripts/gen-random-loras.sh drives it.
"""

import argparse
import math

import numpy as np

import gguf

DEFAULT_TARGETS = "attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--targets", default=DEFAULT_TARGETS)
    ap.add_argument("--rel", type=float, default=0.1)
    ap.add_argument("--type", default="F32", choices=["F32", "F16", "Q8_0"])
    args = ap.parse_args()

    reader = gguf.GGUFReader(args.base)
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    tensors = {t.name: t for t in reader.tensors}
    targets = args.targets.split(",")
    rng = np.random.default_rng(args.seed)
    dtype = np.float32 if args.type == "F32" else np.float16

    def add(name, x):
        if args.type != "Q8_0":
            w.add_tensor(name, x.astype(dtype))
            return
        # convert_lora_to_gguf.py's rule: Q8_0 where the rows quantize, else F16
        q8 = gguf.GGMLQuantizationType.Q8_0
        try:
            w.add_tensor(name, gguf.quants.quantize(x.astype(np.float32), q8), raw_dtype=q8)
        except gguf.QuantError:
            # (from float32, as the converter's tensors are)
            w.add_tensor(name, x.astype(np.float32).astype(np.float16))

    w = gguf.GGUFWriter(args.out, arch)
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, args.alpha)
    w.add_name(f"random-lora-r{args.rank}-seed{args.seed}")
    factor = args.alpha / args.rank if args.alpha else 1.0
    n_layers = 1 + max(int(n.split(".")[1]) for n in tensors if n.startswith("blk."))
    model_level = [t for t in targets if t in ("output", "token_embd")]
    block_level = [t for t in targets if t not in model_level]

    def rms_of(base):
        wts = gguf.quants.dequantize(base.data, base.tensor_type)
        return float(np.sqrt(np.mean(np.square(wts, dtype=np.float64))))

    def add_matrix_pair(name):
        base = tensors[name]
        cols, rows = int(base.shape[0]), int(base.shape[1])
        sigma = args.rel * rms_of(base) * math.sqrt(cols) / factor
        a = rng.standard_normal((args.rank, cols)) / math.sqrt(cols)
        b = rng.standard_normal((rows, args.rank)) * sigma / math.sqrt(args.rank)
        add(f"{name}.lora_a", a)
        add(f"{name}.lora_b", b)

    for il in range(n_layers):
        for t in block_level:
            add_matrix_pair(f"blk.{il}.{t}.weight")
    for t in model_level:
        name = f"{t}.weight"
        if t == "output":
            add_matrix_pair(name)
            continue
        base = tensors[name]
        n_embd, vocab = int(base.shape[0]), int(base.shape[1])
        # a token's delta B·a[token] with an RMS of --rel times the table's
        sigma = args.rel * rms_of(base) / factor
        a = rng.standard_normal((vocab, args.rank))
        b = rng.standard_normal((n_embd, args.rank)) * sigma / math.sqrt(args.rank)
        add(f"{name}.lora_a", a)
        add(f"{name}.lora_b", b)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
