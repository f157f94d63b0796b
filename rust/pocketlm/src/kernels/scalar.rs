//! Portable scalar kernels: the reference the SIMD tiers are tested against.
//!
//! Each `dot_*` follows the integer/float formula of ggml's `ggml_vec_dot_*_generic`.

use crate::quant::blocks::*;
use crate::quant::dequant::{
    iq4_values, q2_values, q3k_values, q4k_values, q5_values, q5k_values, q6k_values,
};

/// A 32-element 8-bit activation block: ggml's [`BlockQ8_0`] / [`BlockQ8_1`] or the kernels'
/// compact copy of them.
pub trait Q8Act {
    /// The 32 quantized values.
    fn qs(&self) -> &[i8; 32];
    /// The block scale as f32.
    fn d(&self) -> f32;
}

/// A Q8_1-style activation block with ggml's `s = d * sum(q)`.
pub trait Q8ActS: Q8Act {
    /// `d * sum(qs)`, as f32.
    fn s(&self) -> f32;
}

impl Q8Act for BlockQ8_0 {
    fn qs(&self) -> &[i8; 32] {
        &self.qs
    }
    fn d(&self) -> f32 {
        f16_to_f32(self.d)
    }
}

impl Q8Act for BlockQ8_1 {
    fn qs(&self) -> &[i8; 32] {
        &self.qs
    }
    fn d(&self) -> f32 {
        f16_to_f32(self.d)
    }
}

impl Q8ActS for BlockQ8_1 {
    fn s(&self) -> f32 {
        f16_to_f32(self.s)
    }
}

impl Q8Act for super::Act32 {
    fn qs(&self) -> &[i8; 32] {
        &self.qs
    }
    fn d(&self) -> f32 {
        self.d
    }
}

impl Q8ActS for super::Act32 {
    fn s(&self) -> f32 {
        super::Act32::s(self)
    }
}

/// Dot product of Q4_0 weight blocks with 8-bit activation blocks.
pub fn dot_q4_0<A: Q8Act>(w: &[BlockQ4_0], a: &[A]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for j in 0..QK / 2 {
            let v0 = (x.qs[j] & 0x0F) as i32 - 8;
            let v1 = (x.qs[j] >> 4) as i32 - 8;
            sumi += v0 * y.qs()[j] as i32 + v1 * y.qs()[j + QK / 2] as i32;
        }
        sumf += sumi as f32 * f16_to_f32(x.d) * y.d();
    }
    sumf
}

/// Dot product of Q4_1 weight blocks with 8-bit activation blocks.
pub fn dot_q4_1<A: Q8ActS>(w: &[BlockQ4_1], a: &[A]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for j in 0..QK / 2 {
            let v0 = (x.qs[j] & 0x0F) as i32;
            let v1 = (x.qs[j] >> 4) as i32;
            sumi += v0 * y.qs()[j] as i32 + v1 * y.qs()[j + QK / 2] as i32;
        }
        sumf += (f16_to_f32(x.d) * y.d()) * sumi as f32 + f16_to_f32(x.m) * y.s();
    }
    sumf
}

/// Dot product of Q5_0 weight blocks with 8-bit activation blocks.
pub fn dot_q5_0<A: Q8Act>(w: &[BlockQ5_0], a: &[A]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let v = q5_values(&x.qh, &x.qs);
        let mut sumi = 0i32;
        for (&q, &a) in v.iter().zip(y.qs()) {
            sumi += (q as i32 - 16) * a as i32;
        }
        sumf += (f16_to_f32(x.d) * y.d()) * sumi as f32;
    }
    sumf
}

/// Dot product of Q5_1 weight blocks with 8-bit activation blocks.
pub fn dot_q5_1<A: Q8ActS>(w: &[BlockQ5_1], a: &[A]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let v = q5_values(&x.qh, &x.qs);
        let mut sumi = 0i32;
        for (&q, &a) in v.iter().zip(y.qs()) {
            sumi += q as i32 * a as i32;
        }
        sumf += (f16_to_f32(x.d) * y.d()) * sumi as f32 + f16_to_f32(x.m) * y.s();
    }
    sumf
}

/// Dot product of Q8_0 weight blocks with 8-bit activation blocks.
pub fn dot_q8_0<A: Q8Act>(w: &[BlockQ8_0], a: &[A]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for j in 0..QK {
            sumi += x.qs[j] as i32 * y.qs()[j] as i32;
        }
        sumf += sumi as f32 * (f16_to_f32(x.d) * y.d());
    }
    sumf
}

/// Shared tail of the Q4_K / Q5_K dots: `v` holds the unsigned quants of one super-block.
#[inline(always)]
fn k4_block(v: &[u8; QK_K], d: u16, dmin: u16, scales: &[u8; 12], y: &BlockQ8K) -> f32 {
    let (sc, mn) = scales_mins_k4(scales);
    let mut summ = 0i32;
    for j in 0..QK_K / 16 {
        summ += y.bsums[j] as i32 * mn[j / 2] as i32;
    }
    let mut sumi = 0i32;
    for s in 0..8 {
        let mut isum = 0i32;
        for l in 0..32 {
            isum += v[32 * s + l] as i32 * y.qs[32 * s + l] as i32;
        }
        sumi += sc[s] as i32 * isum;
    }
    let d = f16_to_f32(d) * y.d;
    let dmin = f16_to_f32(dmin) * y.d;
    d * sumi as f32 - dmin * summ as f32
}

/// Dot product of Q4_K weight blocks with 8-bit activation blocks.
pub fn dot_q4_k(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        sumf += k4_block(&q4k_values(&x.qs), x.d, x.dmin, &x.scales, y);
    }
    sumf
}

/// Dot product of Q5_K weight blocks with 8-bit activation blocks.
pub fn dot_q5_k(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        sumf += k4_block(&q5k_values(&x.qh, &x.qs), x.d, x.dmin, &x.scales, y);
    }
    sumf
}

/// Dot product of Q6_K weight blocks with 8-bit activation blocks.
pub fn dot_q6_k(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let v = q6k_values(&x.ql, &x.qh);
        let mut sumi = 0i32;
        for s in 0..QK_K / 16 {
            let mut isum = 0i32;
            for l in 0..16 {
                isum += (v[16 * s + l] as i32 - 32) * y.qs[16 * s + l] as i32;
            }
            sumi += x.scales[s] as i32 * isum;
        }
        sumf += f16_to_f32(x.d) * y.d * sumi as f32;
    }
    sumf
}

/// Dot product of IQ4_NL weight blocks with 8-bit activation blocks.
pub fn dot_iq4_nl<A: Q8Act>(w: &[BlockIQ4NL], a: &[A]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for (&q, &a) in iq4_values(&x.qs).iter().zip(y.qs()) {
            sumi += q as i32 * a as i32;
        }
        sumf += sumi as f32 * (f16_to_f32(x.d) * y.d());
    }
    sumf
}

/// Dot product of IQ4_XS weight blocks with 8-bit activation blocks:
/// `sumi = Σ_ib (ls_ib - 32) · Σ KVALUES[q] · y` per super-block, then `d · y.d · sumi`.
pub fn dot_iq4_xs(w: &[BlockIQ4XS], a: &[BlockQ8K]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let sc = iq4xs_scales(x);
        let mut sumi = 0i32;
        for (ib, &s) in sc.iter().enumerate() {
            let v = iq4_values(x.qs[16 * ib..16 * ib + 16].try_into().unwrap());
            let mut isum = 0i32;
            for (&q, &a) in v.iter().zip(&y.qs[QK * ib..QK * ib + QK]) {
                isum += q as i32 * a as i32;
            }
            sumi += s as i32 * isum;
        }
        sumf += f16_to_f32(x.d) * y.d * sumi as f32;
    }
    sumf
}

/// Dot product of Q2_K weight blocks with 8-bit activation blocks (ggml's formula:
/// `d · y.d · Σ sc · Σ q · y - dmin · y.d · Σ m · bsum`).
pub fn dot_q2_k(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let v = q2_values(&x.qs);
        let mut summ = 0i32;
        let mut sumi = 0i32;
        for s in 0..QK_K / 16 {
            summ += y.bsums[s] as i32 * (x.scales[s] >> 4) as i32;
            let mut isum = 0i32;
            for l in 0..16 {
                isum += v[16 * s + l] as i32 * y.qs[16 * s + l] as i32;
            }
            sumi += (x.scales[s] & 0x0F) as i32 * isum;
        }
        let d = f16_to_f32(x.d) * y.d;
        let dmin = f16_to_f32(x.dmin) * y.d;
        sumf += d * sumi as f32 - dmin * summ as f32;
    }
    sumf
}

/// Dot product of Q3_K weight blocks with 8-bit activation blocks.
pub fn dot_q3_k(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let v = q3k_values(x);
        let sc = q3k_scales(&x.scales);
        let mut sumi = 0i32;
        for s in 0..QK_K / 16 {
            let mut isum = 0i32;
            for l in 0..16 {
                isum += v[16 * s + l] as i32 * y.qs[16 * s + l] as i32;
            }
            sumi += sc[s] as i32 * isum;
        }
        sumf += f16_to_f32(x.d) * y.d * sumi as f32;
    }
    sumf
}

/// Dot product of f32 weights with f32 activations.
pub fn dot_f32(w: &[f32], a: &[f32]) -> f32 {
    w.iter().zip(a).map(|(x, y)| x * y).sum()
}

/// Dot product of f16 weights (raw bits) with f32 activations.
pub fn dot_f16(w: &[u16], a: &[f32]) -> f32 {
    w.iter().zip(a).map(|(&x, y)| f16_to_f32(x) * y).sum()
}

/// Dot product of bf16 weights (raw bits) with f32 activations.
pub fn dot_bf16(w: &[u16], a: &[f32]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(&x, y)| f32::from_bits((x as u32) << 16) * y)
        .sum()
}

/// The scalar tier's kernels: the reference for every other tier (no SIMD entries; the tile
/// kernel is `kernels`' scalar tile for every type).
pub(crate) static KERNELS: super::table::TierKernels = super::table::TierKernels {
    tile: |_| None,
    interleaved_tile: super::interleaved::tile::<0>,
    group_gemm: |_| None,
    interleaved_batch_tile: |_| None,
    deinterleave_from_m: super::interleaved::deinterleave_from_m::always,
    tile_acts: |_| crate::kernels::TILE_ACTS,
    act_pairs: false,
    quantizers: None,
    glu: None,
    silu: None,
    softcap: None,
    attention: None,
};
