#!/usr/bin/env python3
"""Writes a GGUF model of one architecture family with the family's real vocabulary, its real
metadata conventions and random weights, deterministic from a seed: a model to verify an
engine's forward pass against llama.cpp's without the real weights.

    gen-random-model.py --arch qwen3 --vocab VOCAB.gguf --out OUT.gguf [--size tiny|real] [--seed N]
        [--format Q4_0|Q4_K_M|IQ4_NL|IQ4_XS|Q3_K_M|Q2_K --types TYPES.json]

- The vocabulary (every `tokenizer.*` key) is copied from VOCAB.gguf: llama.cpp's
  `models/ggml-vocab-*.gguf` (qwen2 for Qwen3, llama-bpe for Llama 3.x, SmolLM3 and LFM2,
  phi-3 for Phi-3.5, starcoder for Granite 3.x, gemma-4 for Gemma 4, qwen35 for Qwen3.5) or a real model file of the family (Gemma 3 for Gemma 2).
- `--size tiny` is a few layers of width 256 (every matrix width a multiple of 256, so
  llama-quantize's k-quants apply everywhere); `--size real` has the release's shapes (for
  speed measurements: speed does not depend on the values).
- Weights are Gaussian, scaled so that activations stay O(1) through the residual stream and
  the output logits have a standard deviation of about LOGIT_STD nats: greedy decisions are
  well separated, so an engine that computes the same function picks the same tokens.
- Matrices are written as F16 (norms, biases and RoPE factors as F32), the input llama.cpp's
  `llama-quantize` turns into Q4_0, Q4_K_M, ...
- `--format FORMAT --types TYPES.json` writes the same weights (the F16 values) quantized
  here instead, each matrix to the type TYPES.json names for it: the type llama-quantize chose
  for that tensor of this model (recorded by scripts/make-random-references.sh), so the file
  has llama.cpp's type mix (Q4_K_M: Q4_K with Q6_K on the output and some attn_v/ffn_down)
  without building llama.cpp. Q4_0 is gguf-py's quantizer (a port of ggml's reference); Q2_K,
  Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL and IQ4_XS are the simple min/max and max-abs encoders below
  (llama-quantize searches for better scales; an engine's decoding does not depend on how the
  codes were chosen). Only elementwise float32 arithmetic, max/min, argmin and rounding: the
  same bytes on every machine.

Uses gguf-py from the llama_cpp_python 0.3.36 sdist (scripts/build-llama-bench.sh extracts it)
and numpy (scripts/setup-gen-venv.sh); scripts/gen-random-models.sh drives it.
"""

import argparse
import math
import sys

import numpy as np

LOGIT_STD = 12.0
# gguf-py's decoding of a quantized matrix must give its values back within this relative RMS
# error (0.15 unless listed): llama-quantize's own on these Gaussian weights is 0.30 for Q2_K,
# 0.15 for Q3_K, 0.08 or less for the others (tests/fixtures/random/README.md).
MAX_ROUND_TRIP = {"Q3_K": 0.2, "Q2_K": 0.4}

# Per family: the release this mirrors (`real`), a tiny shape (`tiny`), and conventions.
# Keys of a shape: layers, embd, heads, kv_heads, head_dim, ff, ctx.
FAMILIES = {
    # Qwen3-0.6B (config.json): head_dim 128 != hidden/heads, q/k RMS norms, no QKV bias,
    # NeoX RoPE theta 1e6, tied embeddings.
    "qwen3": dict(
        arch="qwen3",
        real=dict(layers=28, embd=1024, heads=16, kv_heads=8, head_dim=128, ff=3072, ctx=40960),
        tiny=dict(layers=4, embd=256, heads=4, kv_heads=2, head_dim=128, ff=512, ctx=40960),
        rope_base=1e6, eps=1e-6, tie=True, qk_norm=True,
    ),
    # Llama-3.2-1B: rope_scaling {llama3, factor 32, low 1, high 4, original 8192}, written by
    # convert_hf_to_gguf as the `rope_freqs` tensor. The tiny model keeps factor/low/high and
    # shrinks the original context to 16 so that the factors touch the positions tested.
    "llama3": dict(
        arch="llama",
        real=dict(layers=16, embd=2048, heads=32, kv_heads=8, head_dim=64, ff=8192, ctx=131072),
        tiny=dict(layers=4, embd=256, heads=4, kv_heads=2, head_dim=64, ff=512, ctx=131072),
        rope_base=500000.0, eps=1e-5, tie=True,
        llama3_rope=dict(factor=32.0, low=1.0, high=4.0, orig_real=8192, orig_tiny=16),
    ),
    # SmolLM3-3B: llama graph with RoPE skipped in every 4th layer (no_rope_layer_interval 4).
    "smollm3": dict(
        arch="smollm3",
        real=dict(layers=36, embd=2048, heads=16, kv_heads=4, head_dim=128, ff=11008, ctx=65536),
        tiny=dict(layers=4, embd=256, heads=4, kv_heads=2, head_dim=64, ff=512, ctx=65536),
        rope_base=5e6, eps=1e-6, tie=True,
    ),
    # gemma-2-2b: pre and post norms, GELU, embeddings scaled by sqrt(n_embd), attention
    # soft-cap 50, final soft-cap 30, sliding window 4096 on even layers. The tiny model's
    # window is 8 tokens, so that it matters at the prompt lengths tested, and its attention
    # soft-cap 2, so that it bends the O(1) attention scores of random weights (at 50 it would
    # never act, and a graph without it would pass).
    "gemma2": dict(
        arch="gemma2",
        real=dict(layers=26, embd=2304, heads=8, kv_heads=4, head_dim=256, ff=9216, ctx=8192),
        tiny=dict(layers=4, embd=256, heads=4, kv_heads=2, head_dim=64, ff=512, ctx=8192),
        rope_base=10000.0, eps=1e-6, tie=True, post_norms=True,
        gemma2=dict(attn_softcap_real=50.0, attn_softcap_tiny=2.0, final_softcap=30.0,
                    window_real=4096, window_tiny=8),
    ),
    # granite-3.1-2b-instruct: embedding_multiplier 12, attention_multiplier 0.015625,
    # residual_multiplier 0.22, logits_scaling 8.
    "granite": dict(
        arch="granite",
        real=dict(layers=40, embd=2048, heads=32, kv_heads=8, head_dim=64, ff=8192, ctx=131072),
        tiny=dict(layers=4, embd=256, heads=4, kv_heads=2, head_dim=64, ff=512, ctx=131072),
        rope_base=5e6, eps=1e-5, tie=True,
        granite=dict(embedding_scale=12.0, attention_scale=0.015625, residual_scale=0.22,
                     logit_scale=8.0),
    ),
    # Phi-3.5-mini-instruct: fused QKV and gate/up, LongRoPE (`rope_factors_long/short`, original
    # context 4096, 131072 trained), no tied embeddings. The tiny model's factors are random in
    # [1, 4) (the real ones: 1.0-1.8 short, 1.08-~50 long).
    "phi3": dict(
        arch="phi3",
        real=dict(layers=32, embd=3072, heads=32, kv_heads=32, head_dim=96, ff=8192, ctx=131072),
        tiny=dict(layers=4, embd=256, heads=4, kv_heads=4, head_dim=64, ff=512, ctx=131072),
        rope_base=10000.0, eps=1e-5, tie=False, fused=True,
        phi3=dict(orig_ctx=4096),
    ),
    # LFM2-350M (config.json): short-convolution layers (conv_L_cache 3: each channel mixes its
    # last three gated inputs) beside grouped-query attention layers with q/k RMS norms, NeoX
    # RoPE theta 1e6, the output norm stored as `token_embd_norm`, tied embeddings. llama.cpp
    # tells the layers apart by a per-layer head_count_kv array (0: convolution). The tiny model
    # keeps the release's first six layer types (conv, conv, attention, conv, conv, attention).
    "lfm2": dict(
        arch="lfm2",
        real=dict(layers=16, embd=1024, heads=16, kv_heads=8, head_dim=64, ff=4608, ctx=128000),
        tiny=dict(layers=6, embd=256, heads=4, kv_heads=2, head_dim=64, ff=512, ctx=128000),
        rope_base=1e6, eps=1e-5, tie=True, qk_norm=True,
        lfm2=dict(l_cache=3, attn_layers_real=[2, 5, 8, 10, 12, 14], attn_layers_tiny=[2, 5]),
    ),
    # Gemma 4 E2B (dense text part; vision/audio towers and the MoE 26B-A4B are not written):
    # per-layer token embeddings (`per_layer_token_embd`, n_embd_per_layer values per layer
    # and token, projected and gated into the residual stream after each layer's
    # feed-forward), sliding-window layers with their own head size, KV head count, RoPE base
    # and full rotation beside global layers whose RoPE turns only a quarter of each head
    # (the converter's `rope_freqs`: 1 for the rotated pairs, 1e30 for the others), q/k RMS
    # norms, values RMS-normed without weights and no query scaling, the last
    # `shared_kv_layers` layers reading the KV cache of the last earlier layer of their type
    # (llama.cpp: layer n_kv-2 for sliding, n_kv-1 for global), a double-wide feed-forward in
    # those shared layers, a scalar `layer_output_scale` per layer, final soft-cap 30, tied
    # embeddings. The real shape is E2B's from its config as remembered here (35 layers of
    # 1536, 8 heads, 1 KV head, head 256 sliding / 512 global, window 512, every fifth layer
    # global, 20 shared, 256 per-layer values): good for speed figures, not authoritative. The
    # tiny model: swa, global, swa (shared with 0), global (shared with 1); global layers with
    # 1 KV head of 128, sliding ones 4 of 64 (different KV widths), window 8 tokens.
    "gemma4": dict(
        arch="gemma4",
        real=dict(layers=35, embd=1536, heads=8, kv_heads=1, head_dim=256, ff=6144, ctx=131072),
        tiny=dict(layers=4, embd=256, heads=4, kv_heads=4, head_dim=64, ff=512, ctx=131072),
        rope_base=1e6, eps=1e-6, tie=True, post_norms=True, qk_norm=True,
        gemma4=dict(global_real=dict(head_dim=512, kv_heads=1), global_tiny=dict(head_dim=128, kv_heads=1),
                    window_real=512, window_tiny=8, pattern_real=5, pattern_tiny=2,
                    shared_real=20, shared_tiny=2, per_layer_real=256, per_layer_tiny=64,
                    rope_base_swa=10000.0, partial_rotary_global=0.25, final_softcap=30.0),
    ),
    # Qwen3.5-0.8B (config.json as remembered here: hidden 1024, 24 layers, three Gated
    # DeltaNet layers then one full-attention layer, full_attention_interval 4): the DeltaNet
    # layers mix tokens by linear attention with a recurrent state per head (ssm.*: k/v heads
    # of 128, 16 of each, a causal convolution of 4 taps over q/k/v, per-head decay ssm_a and
    # dt bias, beta and alpha projections, a gated RMS norm); the attention layers project
    # queries and an output gate together (attn_q is 2 * heads * head_dim: per head its query
    # then its gate), q/k RMS norms, partial interleaved-multimodal RoPE (a quarter of each
    # head, sections 11/11/10: for text every section turns by the position), theta 1e7. The
    # pre-FFN norm is `post_attention_norm`. Tied embeddings in the release. The tiny model:
    # DeltaNet, attention, DeltaNet, attention (interval 2), 2 key heads shared by 4 value
    # heads (llama.cpp tiles them: value head h reads key head h % 2), RoPE on half of each
    # 64-wide head with sections 6/5/5.
    "qwen35": dict(
        arch="qwen35",
        real=dict(layers=24, embd=1024, heads=8, kv_heads=2, head_dim=256, ff=3584, ctx=262144),
        tiny=dict(layers=4, embd=256, heads=4, kv_heads=2, head_dim=64, ff=512, ctx=262144),
        rope_base=1e7, eps=1e-6, tie=True, qk_norm=True,
        qwen35=dict(interval_real=4, interval_tiny=2, conv=4,
                    real=dict(k_heads=16, v_heads=16, state=128, rope_dim=64, sections=[11, 11, 10, 0]),
                    tiny=dict(k_heads=2, v_heads=4, state=64, rope_dim=32, sections=[6, 5, 5, 0])),
    ),
}

# LFM2-1.2B (config.json): LFM2-350M's layer pattern twice as wide (hidden 2048, 32 query and 8
# KV heads, intermediate_size 12288 auto-adjusted like the 350M's: 2/3 of it, rounded up to a
# multiple of 256 = 8192). Only its real shape differs: its tiny model is lfm2's.
FAMILIES["lfm2_1b"] = dict(
    FAMILIES["lfm2"],
    real=dict(layers=16, embd=2048, heads=32, kv_heads=8, head_dim=64, ff=8192, ctx=128000),
)


def f16(x):
    return x.astype(np.float16)


def quantize_q4_k(x):
    """(rows, cols) float32 -> (rows, cols/256*144) uint8 block_q4_K: per 32 values a 6-bit
    scale and min from the sub-block's range, relative to the super-block's f16 d/dmin."""
    rows = x.shape[0]
    b = x.reshape(-1, 8, 32)
    lo = np.minimum(b.min(axis=-1), np.float32(0))  # x = d*sc*q - dmin*m, m >= 0
    hi = b.max(axis=-1)
    scale = (hi - lo) / np.float32(15)
    mins = -lo
    d = f16(scale.max(axis=-1) / np.float32(63))
    dmin = f16(mins.max(axis=-1) / np.float32(63))
    df, dminf = d.astype(np.float32)[:, None], dmin.astype(np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df > 0, np.rint(scale / df), 0).clip(0, 63).astype(np.uint8)
        m = np.where(dminf > 0, np.rint(mins / dminf), 0).clip(0, 63).astype(np.uint8)
        step = (df * sc.astype(np.float32))[..., None]
        off = (dminf * m.astype(np.float32))[..., None]
        q = np.where(step > 0, np.rint((b + off) / step), 0).clip(0, 15).astype(np.uint8)
    packed = _pack_k_scales(sc, m)
    qs = (q[:, 0::2, :] | (q[:, 1::2, :] << 4)).reshape(-1, 128)
    out = np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2),
                          packed, qs], axis=1)
    return out.reshape(rows, -1)


def quantize_q6_k(x):
    """(rows, cols) float32 -> (rows, cols/256*210) uint8 block_q6_K: per 16 values a signed
    8-bit scale (the value of largest magnitude maps to -32), relative to the f16 d."""
    rows = x.shape[0]
    b = x.reshape(-1, 16, 16)
    imax = np.abs(b).argmax(axis=-1)[..., None]
    scale = np.take_along_axis(b, imax, axis=-1)[..., 0] / np.float32(-32)
    jmax = np.abs(scale).argmax(axis=-1)[:, None]
    big = np.take_along_axis(scale, jmax, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        iscale = np.where(big != 0, np.float32(-128) / big, 0).astype(np.float32)
        sc = np.minimum(np.rint(iscale * scale), 127).astype(np.int8)
        d = f16(np.where(iscale != 0, np.float32(1) / iscale, 0).astype(np.float32)[:, 0])
        step = (d.astype(np.float32)[:, None] * sc.astype(np.float32))[..., None]
        q = np.where(step != 0, np.rint(b / step), 0).clip(-32, 31).astype(np.int16) + 32
    q = q.astype(np.uint8).reshape(-1, 2, 4, 32)  # half, quarter k, l
    lo = q & 0xF  # ql: per half, 64 bytes; quarters 0/1 in the low nibbles, 2/3 in the high
    ql = np.concatenate([lo[:, :, 0] | (lo[:, :, 2] << 4), lo[:, :, 1] | (lo[:, :, 3] << 4)], axis=2)
    hi = q >> 4
    qh = hi[:, :, 0] | (hi[:, :, 1] << 2) | (hi[:, :, 2] << 4) | (hi[:, :, 3] << 6)  # (n, 2, 32)
    out = np.concatenate([ql.reshape(-1, 128), qh.reshape(-1, 64), sc.view(np.uint8),
                          d.view(np.uint8).reshape(-1, 2)], axis=1)
    return out.reshape(rows, -1)


def _pack_k_scales(sc, m):
    """Q4_K/Q5_K's 12 bytes of eight 6-bit scales and mins (n, 8) -> (n, 12)."""
    packed = np.zeros((sc.shape[0], 12), dtype=np.uint8)
    packed[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    packed[:, 4:8] = m[:, 0:4] | ((m[:, 4:8] >> 4) << 6)
    packed[:, 8:12] = (sc[:, 4:8] & 0xF) | ((m[:, 4:8] & 0xF) << 4)
    return packed


def _min_max_codes(b, levels, scale_max):
    """Sub-blocks b (n, s, len) as x = d*sc*q - dmin*m with q in 0..levels, sc and m in
    0..scale_max relative to each super-block's f16 d/dmin: each sub-block's range. Returns
    d, dmin (n,) f16; sc, m (n, s) and q (n, s, len) uint8."""
    lo = np.minimum(b.min(axis=-1), np.float32(0))  # m >= 0
    hi = b.max(axis=-1)
    scale = (hi - lo) / np.float32(levels)
    mins = -lo
    d = f16(scale.max(axis=-1) / np.float32(scale_max))
    dmin = f16(mins.max(axis=-1) / np.float32(scale_max))
    df, dminf = d.astype(np.float32)[:, None], dmin.astype(np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df > 0, np.rint(scale / df), 0).clip(0, scale_max).astype(np.uint8)
        m = np.where(dminf > 0, np.rint(mins / dminf), 0).clip(0, scale_max).astype(np.uint8)
        step = (df * sc.astype(np.float32))[..., None]
        off = (dminf * m.astype(np.float32))[..., None]
        q = np.where(step > 0, np.rint((b + off) / step), 0).clip(0, levels).astype(np.uint8)
    return d, dmin, sc, m, q


def _signed_scales(b, qmin, smin):
    """Sub-blocks b (n, s, len) as x = d*sc*q with signed q (the value of largest magnitude maps
    to qmin < 0) and signed sc in smin..-smin-1 (the largest-magnitude sub-block scale maps to
    smin) relative to the super-block's f16 d. Returns d (n,) f16, sc (n, s) int, and each
    value divided by its step (n, s, len) float32, 0 where the step is 0."""
    imax = np.abs(b).argmax(axis=-1)[..., None]
    scale = np.take_along_axis(b, imax, axis=-1)[..., 0] / np.float32(qmin)
    jmax = np.abs(scale).argmax(axis=-1)[:, None]
    big = np.take_along_axis(scale, jmax, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        iscale = np.where(big != 0, np.float32(smin) / big, 0).astype(np.float32)
        sc = np.rint(iscale * scale).clip(smin, -smin - 1).astype(np.int16)
        d = f16(np.where(iscale != 0, np.float32(1) / iscale, 0).astype(np.float32)[:, 0])
        step = (d.astype(np.float32)[:, None] * sc.astype(np.float32))[..., None]
        r = np.where(step != 0, b / step, 0).astype(np.float32)
    return d, sc, r


def _two_bit_planes(q):
    """(n, 256) values 0..3 -> (n, 64) bytes as Q2_K/Q3_K's qs: element h*128 + j*32 + l is in
    bits 2j of byte h*32 + l."""
    q = q.reshape(-1, 2, 4, 32)
    return (q[:, :, 0] | (q[:, :, 1] << 2) | (q[:, :, 2] << 4) | (q[:, :, 3] << 6)).reshape(-1, 64)


def _bit_planes(bits):
    """(n, 256) bits -> (n, 32) bytes: element i*32 + l is bit i of byte l (Q3_K's hmask,
    Q5_K's qh)."""
    bits = bits.reshape(-1, 8, 32).astype(np.uint8)
    out = np.zeros((bits.shape[0], 32), dtype=np.uint8)
    for i in range(8):
        out |= bits[:, i] << i
    return out


def quantize_q5_k(x):
    """(rows, cols) float32 -> block_q5_K rows: Q4_K's min/max encoding with 5-bit codes (low
    nibbles as Q4_K's, fifth bits in qh)."""
    rows = x.shape[0]
    d, dmin, sc, m, q = _min_max_codes(x.reshape(-1, 8, 32), 31, 63)
    ql = q & 0xF
    qs = (ql[:, 0::2, :] | (ql[:, 1::2, :] << 4)).reshape(-1, 128)
    qh = _bit_planes(q >> 4)
    out = np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2),
                          _pack_k_scales(sc, m), qh, qs], axis=1)
    return out.reshape(rows, -1)


def quantize_q3_k(x):
    """(rows, cols) float32 -> block_q3_K rows: per 16 values a signed 6-bit scale (stored +32),
    codes -4..3 (stored +4: low two bits in qs, the third in hmask), relative to the f16 d."""
    rows = x.shape[0]
    d, sc, r = _signed_scales(x.reshape(-1, 16, 16), -4, -32)
    u = (np.rint(r).clip(-4, 3).astype(np.int16) + 4).astype(np.uint8).reshape(-1, 256)
    s = (sc + 32).astype(np.uint8)  # (n, 16), 0..63
    scales = np.zeros((s.shape[0], 12), dtype=np.uint8)
    scales[:, 0:8] = (s[:, 0:8] & 0xF) | ((s[:, 8:16] & 0xF) << 4)
    hi = s >> 4
    scales[:, 8:12] = hi[:, 0:4] | (hi[:, 4:8] << 2) | (hi[:, 8:12] << 4) | (hi[:, 12:16] << 6)
    out = np.concatenate([_bit_planes(u >> 2), _two_bit_planes(u & 3), scales,
                          d.view(np.uint8).reshape(-1, 2)], axis=1)
    return out.reshape(rows, -1)


def quantize_q2_k(x):
    """(rows, cols) float32 -> block_q2_K rows: per 16 values a 4-bit scale and min from the
    sub-block's range, codes 0..3, relative to the super-block's f16 d/dmin."""
    rows = x.shape[0]
    d, dmin, sc, m, q = _min_max_codes(x.reshape(-1, 16, 16), 3, 15)
    out = np.concatenate([sc | (m << 4), _two_bit_planes(q.reshape(-1, 256)),
                          d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2)], axis=1)
    return out.reshape(rows, -1)


# IQ4_NL's and IQ4_XS's 16 non-linear values (ggml's kvalues_iq4nl)
IQ4_VALUES = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113],
                      dtype=np.float32)


def _iq4_index(r):
    """The index of the IQ4 value nearest to each element of r (the first of a tie)."""
    return np.abs(r[..., None] - IQ4_VALUES).argmin(axis=-1).astype(np.uint8)


def _iq4_nibbles(idx):
    """(..., 32) indexes -> (..., 16) bytes: element l in the low nibble of byte l, 16 + l in
    its high nibble."""
    return idx[..., :16] | (idx[..., 16:] << 4)


def quantize_iq4_nl(x):
    """(rows, cols) float32 -> block_iq4_nl rows: per 32 values an f16 scale mapping the value
    of largest magnitude to -127, each value the nearest of the 16 (scaled) IQ4 values."""
    rows = x.shape[0]
    b = x.reshape(-1, 32)
    imax = np.abs(b).argmax(axis=-1)[:, None]
    d = f16(np.take_along_axis(b, imax, axis=-1)[:, 0] / np.float32(-127))
    df = d.astype(np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(df != 0, b / df, 0).astype(np.float32)
    out = np.concatenate([d.view(np.uint8).reshape(-1, 2), _iq4_nibbles(_iq4_index(r))], axis=1)
    return out.reshape(rows, -1)


def quantize_iq4_xs(x):
    """(rows, cols) float32 -> block_iq4_xs rows: IQ4_NL's values with, per 32, a signed 6-bit
    scale (stored +32; low nibbles in scales_l, high two bits in the u16 scales_h) relative to
    the 256-value super-block's f16 d."""
    rows = x.shape[0]
    d, sc, r = _signed_scales(x.reshape(-1, 8, 32), -127, -32)
    s = (sc + 32).astype(np.uint16)  # (n, 8), 0..63
    scales_l = ((s[:, 0::2] & 0xF) | ((s[:, 1::2] & 0xF) << 4)).astype(np.uint8)
    scales_h = np.zeros(s.shape[0], dtype=np.uint16)
    for i in range(8):
        scales_h |= (s[:, i] >> 4) << (2 * i)
    qs = _iq4_nibbles(_iq4_index(r)).reshape(-1, 128)
    out = np.concatenate([d.view(np.uint8).reshape(-1, 2), scales_h.astype("<u2").view(np.uint8).reshape(-1, 2),
                          scales_l, qs], axis=1)
    return out.reshape(rows, -1)


def llama3_factors(head_dim, base, factor, low, high, orig):
    """convert_hf_to_gguf's `rope_freqs` for rope_scaling type llama3."""
    out = []
    low_wavelen = orig / low
    high_wavelen = orig / high
    for i in range(0, head_dim, 2):
        freq = 1.0 / (base ** (i / head_dim))
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def tokenizer_fields(path, cache_dir):
    """The `tokenizer.*` keys of the GGUF file at `path` as (key, (value, type, array item type
    or None)), in file order. gguf-py's reader spends ~30 s per 128k-token vocabulary building
    per-item views, and one vocabulary serves several families and formats: with `cache_dir`,
    the keys are read once per file content (its sha256) and kept there as a pickle."""
    import hashlib
    import os
    import pickle

    from gguf import GGUFReader, GGUFValueType

    cached = None
    if cache_dir:
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()[:32]
        cached = os.path.join(cache_dir, f"tokenizer-{digest}.pickle")
        if os.path.exists(cached):
            with open(cached, "rb") as f:
                return pickle.load(f)
    reader = GGUFReader(path)
    fields = []
    for k, f in reader.fields.items():
        if not k.startswith("tokenizer."):
            continue
        array = f.types[0] == GGUFValueType.ARRAY
        fields.append((k, (f.contents(), int(f.types[0]), int(f.types[-1]) if array else None)))
    if cached:
        os.makedirs(cache_dir, exist_ok=True)
        part = f"{cached}.{os.getpid()}.part"  # several generators may run at once
        with open(part, "wb") as f:
            pickle.dump(fields, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(part, cached)
    return fields


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True, choices=sorted(FAMILIES))
    ap.add_argument("--vocab", required=True, help="a GGUF file whose tokenizer.* keys are copied")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", default="tiny", choices=["tiny", "real"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", default="F16", choices=["F16", "Q4_0", "Q4_K_M", "IQ4_NL", "IQ4_XS", "Q3_K_M", "Q2_K"])
    ap.add_argument("--types", help="JSON {tensor name: GGML type name} (needed unless F16)")
    ap.add_argument("--vocab-cache", help="a directory where the vocabulary's tokenizer keys are "
                    "kept once read (gguf-py takes ~30 s to read a 128k-token vocabulary)")
    args = ap.parse_args()
    if (args.format != "F16") != (args.types is not None):
        ap.error("--types goes with a quantized --format")

    import json

    import gguf
    from gguf import GGMLQuantizationType, GGUFValueType, GGUFWriter
    from gguf.quants import dequantize, quantize

    types = json.load(open(args.types)) if args.types else None
    encoders = {"Q4_K": quantize_q4_k, "Q6_K": quantize_q6_k, "Q5_K": quantize_q5_k,
                "Q3_K": quantize_q3_k, "Q2_K": quantize_q2_k, "IQ4_NL": quantize_iq4_nl,
                "IQ4_XS": quantize_iq4_xs}

    fam = FAMILIES[args.arch]
    arch = fam["arch"]
    shape = fam[args.size]
    # The seed and the family name select the stream: each family gets its own weights.
    rng = np.random.Generator(np.random.PCG64([args.seed, sum(map(ord, args.arch))]))

    tok_fields = tokenizer_fields(args.vocab, args.vocab_cache)
    n_vocab = len(dict(tok_fields)["tokenizer.ggml.tokens"][0])

    L, d, nh, nkv, hd, ff = (shape[k] for k in ("layers", "embd", "heads", "kv_heads", "head_dim", "ff"))
    qd, kvd = nh * hd, nkv * hd

    w = GGUFWriter(args.out, arch)
    w.add_name(f"random-{args.arch}-{args.size}-seed{args.seed}")
    w.add_string("general.description",
                 f"random weights with {args.arch}'s conventions (scripts/gen-random-model.py "
                 f"--arch {args.arch} --size {args.size} --seed {args.seed})")
    w.add_block_count(L)
    w.add_context_length(shape["ctx"])
    w.add_embedding_length(d)
    if "gemma4" not in fam:
        w.add_feed_forward_length(ff)
    w.add_head_count(nh)
    lfm2 = fam.get("lfm2")
    g4 = fam.get("gemma4")
    q35 = fam.get("qwen35")
    attn_layers = set(lfm2[f"attn_layers_{args.size}"]) if lfm2 else set(range(L))
    if g4:
        # per layer: sliding?, head size, KV heads, feed-forward width, owns its KV
        glob = g4[f"global_{args.size}"]
        n_kv_layers = L - g4[f"shared_{args.size}"]
        swa = [(i + 1) % g4[f"pattern_{args.size}"] != 0 for i in range(L)]
        assert n_kv_layers >= 2 and swa[n_kv_layers - 2] and not swa[n_kv_layers - 1]
        lhd = [hd if s else glob["head_dim"] for s in swa]
        lkv = [nkv if s else glob["kv_heads"] for s in swa]
        lff = [ff if i < n_kv_layers else 2 * ff for i in range(L)]
        n_pl = g4[f"per_layer_{args.size}"]
    if lfm2:
        w.add_head_count_kv([nkv if i in attn_layers else 0 for i in range(L)])
        w.add_shortconv_l_cache(lfm2["l_cache"])
    elif q35:
        qs = q35[args.size]
        interval = q35[f"interval_{args.size}"]
        recurrent = [(i + 1) % interval != 0 for i in range(L)]
        w.add_head_count_kv(nkv)
        w.add_full_attention_interval(interval)
        w.add_ssm_conv_kernel(q35["conv"])
        w.add_ssm_state_size(qs["state"])
        w.add_ssm_group_count(qs["k_heads"])
        w.add_ssm_time_step_rank(qs["v_heads"])
        w.add_ssm_inner_size(qs["state"] * qs["v_heads"])
        w.add_rope_dimension_sections(qs["sections"])
    elif g4:
        w.add_head_count_kv(lkv)
        w.add_feed_forward_length(lff)
        w.add_key_length(glob["head_dim"])
        w.add_value_length(glob["head_dim"])
        w.add_key_length_swa(hd)
        w.add_value_length_swa(hd)
        w.add_sliding_window_pattern(swa)
        w.add_shared_kv_layers(L - n_kv_layers)
        w.add_embedding_length_per_layer_input(n_pl)
        w.add_sliding_window(g4[f"window_{args.size}"])
        w.add_rope_freq_base_swa(g4["rope_base_swa"])
        w.add_rope_dimension_count_swa(hd)
        w.add_final_logit_softcapping(g4["final_softcap"])
    else:
        w.add_head_count_kv(nkv)
    if hd != d // nh and not g4:
        w.add_key_length(hd)
        w.add_value_length(hd)
    w.add_layer_norm_rms_eps(fam["eps"])
    w.add_rope_freq_base(fam["rope_base"])
    w.add_rope_dimension_count(glob["head_dim"] if g4 else q35[args.size]["rope_dim"] if q35 else hd)
    w.add_vocab_size(n_vocab)
    w.add_file_type(getattr(gguf.LlamaFileType, "MOSTLY_" + args.format))
    if types is not None:
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    if "gemma2" in fam:
        g = fam["gemma2"]
        w.add_attn_logit_softcapping(g[f"attn_softcap_{args.size}"])
        w.add_final_logit_softcapping(g["final_softcap"])
        w.add_sliding_window(g[f"window_{args.size}"])
    if "granite" in fam:
        g = fam["granite"]
        w.add_embedding_scale(g["embedding_scale"])
        w.add_attention_scale(g["attention_scale"])
        w.add_residual_scale(g["residual_scale"])
        w.add_logit_scale(g["logit_scale"])
    if "phi3" in fam:
        orig = fam["phi3"]["orig_ctx"]
        w.add_rope_scaling_orig_ctx_len(orig)
        scale = shape["ctx"] / orig
        w.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(orig)))
        w.add_sliding_window(0)  # 0 marks Phi-3.5/Phi-4 (no sliding window) for llama.cpp
    for k, (value, ty, sub) in tok_fields:
        if sub is None:
            w.add_key_value(k, value, GGUFValueType(ty))
        else:
            w.add_key_value(k, value, GGUFValueType(ty), GGUFValueType(sub))

    def normal(shape_, std):
        return (rng.standard_normal(shape_, dtype=np.float32) * np.float32(std)).astype(np.float32)

    def mat(name, rows, cols, std=None):
        # numpy shape (rows, cols) is GGUF [cols, rows]: `rows` outputs of `cols` inputs.
        std = 1.0 / math.sqrt(cols) if std is None else std
        values = normal((rows, cols), std).astype(np.float16)
        ty = "F16" if types is None else types.pop(name)
        if ty == "F16":
            w.add_tensor(name, values)
            return
        if ty == "F32":  # llama-quantize keeps some small matrices (Qwen3.5's alpha/beta) so
            w.add_tensor(name, values.astype(np.float32))
            return
        x = values.astype(np.float32)
        qt = GGMLQuantizationType[ty]
        q = np.concatenate([encoders[ty](x[r:r + 4096]) if ty in encoders else quantize(x[r:r + 4096], qt)
                            for r in range(0, rows, 4096)])
        # gguf-py's decoder (independent of the encoders above) must give back the weights
        back = dequantize(q[:512], qt).reshape(-1, cols)
        err = np.sqrt(np.mean((back - x[:512]) ** 2) / np.mean(x[:512] ** 2))
        assert err < MAX_ROUND_TRIP.get(ty, 0.15), f"{name}: {ty} round trip relative error {err:.3f}"
        w.add_tensor(name, q, raw_dtype=qt)

    def norm(name, n):
        w.add_tensor(name, (1.0 + normal((n,), 0.1)).astype(np.float32))

    # Scales: the input embedding ~1 per element, each residual branch ~1.5 per element (so the
    # layers, not the embedding, decide the output), logits ~LOGIT_STD. llama.cpp always ties
    # Gemma 2's output to its embedding; the other tiny models get their own output matrix
    # (`--size real` ties as the release does): a tied embedding that also sets the input
    # makes a random model predict its input token, which tests little of the layers.
    tied = fam["tie"] if (args.size == "real" or arch in ("gemma2", "gemma4")) else False
    g = fam.get("granite", {})
    logit_scale = g.get("logit_scale", 1.0)
    residual_scale = g.get("residual_scale", 1.0)
    if tied:
        # Gemma 2 multiplies the input by sqrt(n_embd): ~LOGIT_STD per element, so its
        # post-norms (which set each branch's size) get a matching gain.
        embd_std = LOGIT_STD * logit_scale / math.sqrt(d)
        branch_gain = embd_std * math.sqrt(d) if arch in ("gemma2", "gemma4") else 1.0
    else:
        embd_std = 1.0 / g.get("embedding_scale", 1.0)
        branch_gain = 1.0
    mat("token_embd.weight", n_vocab, d, std=embd_std)
    norm("token_embd_norm.weight" if lfm2 else "output_norm.weight", d)
    if not tied:
        mat("output.weight", n_vocab, d, std=LOGIT_STD * logit_scale / math.sqrt(d))
    if "llama3_rope" in fam:
        r = fam["llama3_rope"]
        w.add_tensor("rope_freqs.weight", llama3_factors(hd, fam["rope_base"], r["factor"], r["low"],
                                                         r["high"], r[f"orig_{args.size}"]))
    if "phi3" in fam:
        w.add_tensor("rope_factors_long.weight", (1.0 + 3.0 * rng.random(hd // 2, dtype=np.float32)))
        w.add_tensor("rope_factors_short.weight", (1.0 + 3.0 * rng.random(hd // 2, dtype=np.float32)))
    if g4:
        # Rows of n_pl values per layer, scaled by sqrt(n_pl) when read: ~1 per element. The
        # projection of the scaled input embedding is RMS-normed, so its scale is free.
        mat("per_layer_token_embd.weight", n_vocab, n_pl * L, std=1.0 / math.sqrt(n_pl))
        mat("per_layer_model_proj.weight", n_pl * L, d)
        norm("per_layer_proj_norm.weight", n_pl)
        rot = int(glob["head_dim"] * g4["partial_rotary_global"]) // 2
        w.add_tensor("rope_freqs.weight", np.array([1.0] * rot + [1e30] * (glob["head_dim"] // 2 - rot),
                                                    dtype=np.float32))
    # attention output: the mixed values are ~0.5-1 per element; FFN: silu(gate)*up ~0.6.
    wo_std = 2.0 / math.sqrt(qd) / residual_scale
    down_std = 2.5 / math.sqrt(ff) / residual_scale

    def post_norm(name, n):
        w.add_tensor(name, (branch_gain * (1.0 + normal((n,), 0.1))).astype(np.float32))

    def gemma4_layer(i, p, lhd, lkv, lff, owns_kv):
        norm(p + "attn_norm.weight", d)
        mat(p + "attn_q.weight", nh * lhd, d)
        if owns_kv:  # a shared layer has no keys or values of its own (llama.cpp skips them)
            mat(p + "attn_k.weight", lkv * lhd, d)
            mat(p + "attn_v.weight", lkv * lhd, d)
        mat(p + "attn_output.weight", d, nh * lhd, std=2.0 / math.sqrt(nh * lhd))
        # No query scaling: q and k are RMS-normed, so these gains (~lhd^-1/4 each) keep the
        # scores O(1) instead of ~sqrt(lhd).
        qk_gain = lhd ** -0.25
        w.add_tensor(p + "attn_q_norm.weight", (qk_gain * (1.0 + normal((lhd,), 0.1))).astype(np.float32))
        if owns_kv:
            w.add_tensor(p + "attn_k_norm.weight", (qk_gain * (1.0 + normal((lhd,), 0.1))).astype(np.float32))
        post_norm(p + "post_attention_norm.weight", d)
        norm(p + "ffn_norm.weight", d)
        mat(p + "ffn_gate.weight", lff, d)
        mat(p + "ffn_up.weight", lff, d)
        mat(p + "ffn_down.weight", d, lff, std=2.5 / math.sqrt(lff))
        post_norm(p + "post_ffw_norm.weight", d)
        # The per-layer input: gelu(inp_gate · x) * this layer's row, projected back to
        # n_embd and post-normed like the other branches. The residual x is ~LOGIT_STD and
        # grows with depth, hence inp_gate's small scale (gelu's input ~1).
        mat(p + "inp_gate.weight", n_pl, d, std=1.0 / (math.sqrt(d) * 2 * LOGIT_STD))
        mat(p + "proj.weight", d, n_pl)
        post_norm(p + "post_norm.weight", d)
        w.add_tensor(p + "layer_output_scale.weight", (0.6 + 0.4 * rng.random(1, dtype=np.float32)))

    def qwen35_layer(p, recurrent):
        norm(p + "attn_norm.weight", d)
        if recurrent:
            # Gated DeltaNet: attn_qkv gives q, k (k_heads x state each) and v (v_heads x
            # state), ~1 per element, convolved over the last `conv` positions per channel
            # (ssm_conv1d [conv, channels], F32, taps of std 1/sqrt(conv)); attn_gate gives z
            # (the output norm's gate). alpha and beta (one per value head) ~N(0, 1); the
            # decay exp(softplus(alpha + dt) * ssm_a) with ssm_a in [-1, -0.05) keeps a
            # position's state for a few tokens, so the recurrence matters. The state's
            # output is RMS-normed per head (ssm_norm), so ssm_out sets the branch's size.
            nk, nv, sd = qs["k_heads"], qs["v_heads"], qs["state"]
            channels = 2 * nk * sd + nv * sd
            mat(p + "attn_qkv.weight", channels, d)
            mat(p + "attn_gate.weight", nv * sd, d)
            w.add_tensor(p + "ssm_conv1d.weight", normal((channels, q35["conv"]), 1.0 / math.sqrt(q35["conv"])))
            w.add_tensor(p + "ssm_dt.bias", normal((nv,), 0.5))
            w.add_tensor(p + "ssm_a", -(0.05 + 0.95 * rng.random(nv, dtype=np.float32)))
            mat(p + "ssm_beta.weight", nv, d)
            mat(p + "ssm_alpha.weight", nv, d)
            norm(p + "ssm_norm.weight", sd)
            mat(p + "ssm_out.weight", d, nv * sd, std=1.5 / math.sqrt(nv * sd))
            if types is not None:
                for t in ("ssm_conv1d.weight", "ssm_dt.bias", "ssm_a"):
                    types.pop(p + t, None)
        else:
            # queries and their output gates: per head hd query values then hd gate values
            mat(p + "attn_q.weight", 2 * qd, d)
            mat(p + "attn_k.weight", kvd, d)
            mat(p + "attn_v.weight", kvd, d)
            mat(p + "attn_output.weight", d, qd, std=wo_std)
            norm(p + "attn_q_norm.weight", hd)
            norm(p + "attn_k_norm.weight", hd)
        norm(p + "post_attention_norm.weight", d)
        mat(p + "ffn_gate.weight", ff, d)
        mat(p + "ffn_up.weight", ff, d)
        mat(p + "ffn_down.weight", d, ff, std=down_std)

    for i in range(L):
        p = f"blk.{i}."
        if q35:
            qwen35_layer(p, recurrent[i])
            continue
        if g4:
            gemma4_layer(i, p, lhd[i], lkv[i], lff[i], i < n_kv_layers)
            continue
        norm(p + "attn_norm.weight", d)
        if i not in attn_layers:
            # LFM2's short convolution: in_proj gives B, C and x (d each); the conv mixes B*x
            # over the last l_cache positions per channel (weights [d, l_cache], F32 as the
            # converter writes them); out_proj takes C * conv. Each of B, C, x is ~1 per
            # element, and so is C * conv with taps of std 1/sqrt(l_cache).
            lc = lfm2["l_cache"]
            mat(p + "shortconv.in_proj.weight", 3 * d, d)
            w.add_tensor(p + "shortconv.conv.weight", normal((d, lc), 1.0 / math.sqrt(lc)))
            if types is not None:
                types.pop(p + "shortconv.conv.weight", None)
            mat(p + "shortconv.out_proj.weight", d, d, std=1.5 / math.sqrt(d))
        elif fam.get("fused"):
            mat(p + "attn_qkv.weight", qd + 2 * kvd, d)
        else:
            mat(p + "attn_q.weight", qd, d)
            mat(p + "attn_k.weight", kvd, d)
            mat(p + "attn_v.weight", kvd, d)
        if i in attn_layers:
            mat(p + "attn_output.weight", d, qd, std=wo_std)
        if fam.get("qk_norm") and i in attn_layers:
            norm(p + "attn_q_norm.weight", hd)
            norm(p + "attn_k_norm.weight", hd)
        if fam.get("post_norms"):
            post_norm(p + "post_attention_norm.weight", d)
        norm(p + "ffn_norm.weight", d)
        if fam.get("fused"):
            mat(p + "ffn_up.weight", 2 * ff, d)
        else:
            mat(p + "ffn_gate.weight", ff, d)
            mat(p + "ffn_up.weight", ff, d)
        mat(p + "ffn_down.weight", d, ff, std=down_std)
        if fam.get("post_norms"):
            post_norm(p + "post_ffw_norm.weight", d)

    if types and set(types.values()) != {"F32"}:  # norms and factors stay F32, as written
        sys.exit(f"--types: tensors not written or not F32 here: {sorted(types.items())}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{args.out}: {arch}, {L} layers, n_embd {d}, vocab {n_vocab}", file=sys.stderr)


if __name__ == "__main__":
    main()
