//! The NEON tier (ARMv8.0 Advanced SIMD): the shared kernel bodies with a widening-multiply
//! integer dot.

use super::*;
use crate::kernels::interleaved::deinterleave_from_m;
use crate::kernels::table::TierKernels;

/// The NEON tier's kernels.
pub(crate) static KERNELS: TierKernels = TierKernels {
    tile: |ty| base::tile_fn(ty).or_else(|| lowbit_base::tile_fn(ty)),
    interleaved_tile: crate::kernels::interleaved::tile::<3>,
    group_gemm: base::group_gemm,
    interleaved_batch_tile: |_| None,
    deinterleave_from_m: deinterleave_from_m::two,
    tile_acts: |_| crate::kernels::TILE_ACTS,
    act_pairs: false,
    quantizers: None,
    glu: Some(super::glu::glu),
    silu: Some(super::glu::silu),
    softcap: Some(super::glu::softcap),
    attention: Some(ATTENTION),
};

/// Sum of the 16 byte products, in 4 lanes (ARMv8.0: widening multiplies + pairwise add).
#[inline]
#[target_feature(enable = "neon")]
fn dot_base(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    // |a * b| <= 128 * 127, so the sum of two products fits i16
    let p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    let p = vmlal_high_s8(p, a, b);
    vpadalq_s16(acc, p)
}

/// SDOT by element: lane `i` gets the sum of the products of bytes `4i..4i + 4` of `a` with
/// bytes `4L..4L + 4` of `b` (unlike [`dot_base`], whose lanes hold other byte pairs and only
/// their total is the dot). `a`'s bytes are Q4_K nibbles (0..16), so a sum of two products
/// fits i16.
#[inline]
#[target_feature(enable = "neon")]
fn dot_base_lane<const L: i32>(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let b = vreinterpretq_s8_s32(vdupq_laneq_s32::<L>(vreinterpretq_s32_s8(b)));
    let lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    let hi = vmull_high_s8(a, b);
    vpadalq_s16(acc, vpaddq_s16(lo, hi))
}

neon_kernels!(base, "neon", dot_base, dot_base_lane, "NEON");

lowbit_kernels!(lowbit_base, "neon", dot_base);
