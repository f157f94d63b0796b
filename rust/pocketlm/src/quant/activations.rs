//! Activation quantizers, numerically identical to what llama.cpp runs on x86-64: its SIMD
//! `quantize_row_q8_0`/`quantize_row_q8_1` (multiplier `127 / max|x|`, round half to even;
//! ggml's scalar `_ref` versions use `1 / d` and round half away, which flips a quant by one
//! now and then) and `quantize_row_q8_K_ref`. One activation quant off by one, in a block
//! holding one of these models' huge outlier activations, moves later logprobs by tenths of
//! a nat, so matching llama.cpp's reference outputs needs these exact semantics on every tier.

use super::blocks::*;

// All quantizers clamp to [-127, 127]: identical to ggml for finite scales, and it keeps the
// degenerate case (subnormal block maximum, whose reciprocal scale overflows to infinity) from
// producing -128, which the SIMD sign tricks cannot negate.

/// Quantizes `x` (a whole number of 32-element blocks) to Q8_0.
///
/// `d = max|x| / 127`, `q = round_ties_even(x * (127 / max|x|))`; the f16 rounding of `d`
/// is stored.
/// `sums[i]` receives the integer sum of block `i`'s quants (used by kernels that work on
/// unsigned weight nibbles; ggml does not store it).
pub fn quantize_row_q8_0(x: &[f32], out: &mut [BlockQ8_0], sums: &mut [i16]) {
    assert_eq!(
        x.len(),
        out.len() * QK,
        "quantize_row_q8_0: length mismatch"
    );
    assert_eq!(
        sums.len(),
        out.len(),
        "quantize_row_q8_0: sums length mismatch"
    );
    for ((xb, b), s) in x.chunks_exact(QK).zip(out.iter_mut()).zip(sums.iter_mut()) {
        let amax = xb.iter().fold(0.0f32, |a, &v| a.max(v.abs()));
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        b.d = f32_to_f16(d);
        let mut sum = 0i32;
        for (q, &v) in b.qs.iter_mut().zip(xb) {
            *q = (v * id).round_ties_even().clamp(-127.0, 127.0) as i8;
            sum += *q as i32;
        }
        *s = sum as i16;
    }
}

/// Quantizes `x` to Q8_1: as Q8_0 plus `s = f16(d * sum(q))`.
pub fn quantize_row_q8_1(x: &[f32], out: &mut [BlockQ8_1]) {
    assert_eq!(
        x.len(),
        out.len() * QK,
        "quantize_row_q8_1: length mismatch"
    );
    for (xb, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let amax = xb.iter().fold(0.0f32, |a, &v| a.max(v.abs()));
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        b.d = f32_to_f16(d);
        let mut sum = 0i32;
        for (q, &v) in b.qs.iter_mut().zip(xb) {
            *q = (v * id).round_ties_even().clamp(-127.0, 127.0) as i8;
            sum += *q as i32;
        }
        b.s = f32_to_f16(sum as f32 * d);
    }
}

/// Quantizes `x` (a whole number of 256-element super-blocks) to Q8_K.
///
/// Like ggml: `max` is the signed value of largest magnitude, `iscale = -127 / max`,
/// `q = min(127, nearest_int(iscale * x))` (round half to even), `d = 1 / iscale`,
/// `bsums` = sums of each 16 quants.
pub fn quantize_row_q8_k(x: &[f32], out: &mut [BlockQ8K]) {
    assert_eq!(
        x.len(),
        out.len() * QK_K,
        "quantize_row_q8_k: length mismatch"
    );
    for (xb, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let mut max = 0.0f32;
        let mut amax = 0.0f32;
        for &v in xb {
            let ax = v.abs();
            if ax > amax {
                amax = ax;
                max = v;
            }
        }
        if amax == 0.0 {
            b.d = 0.0;
            b.qs = [0; QK_K];
            b.bsums = [0; QK_K / 16];
            continue;
        }
        let iscale = -127.0 / max;
        for (q, &v) in b.qs.iter_mut().zip(xb) {
            *q = (iscale * v).round_ties_even().clamp(-127.0, 127.0) as i8;
        }
        for (s, qs) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
            *s = qs.iter().map(|&q| q as i16).sum();
        }
        b.d = 1.0 / iscale;
    }
}
