//! The dotprod tier (NEON + SDOT, ARMv8.2): the shared kernel bodies with SDOT integer dots.

use core::arch::asm;

use super::*;
use crate::kernels::interleaved::deinterleave_from_m;
use crate::kernels::table::TierKernels;

/// The dotprod tier's kernels.
pub(crate) static KERNELS: TierKernels = TierKernels {
    tile: |ty| sdot::tile_fn(ty).or_else(|| lowbit_sdot::tile_fn(ty)),
    interleaved_tile: crate::kernels::interleaved::tile::<4>,
    group_gemm: sdot::group_gemm,
    interleaved_batch_tile: |_| None,
    deinterleave_from_m: deinterleave_from_m::dotprod,
    tile_acts: |_| crate::kernels::TILE_ACTS,
    act_pairs: false,
    quantizers: None,
    glu: Some(super::glu::glu),
    silu: Some(super::glu::silu),
    softcap: Some(super::glu::softcap),
    attention: Some(ATTENTION),
};

/// Sum of the 16 byte products, in 4 lanes (SDOT).
#[inline]
#[target_feature(enable = "dotprod")]
fn dot_sdot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: this function is compiled with the `dotprod` feature and only called from
    // functions that have it (reached only under Tier::Dotprod / Tier::I8mm after detection);
    // SDOT reads and writes only the named vector registers.
    unsafe {
        asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    acc
}

/// Lane `i` gets the sum of the products of bytes `4i..4i + 4` of `a` with bytes `4L..4L + 4`
/// of `b` (SDOT by element: the same 4 activation bytes for the 4 rows of an interleaved Q4_K
/// unit).
#[inline]
#[target_feature(enable = "dotprod")]
fn dot_sdot_lane<const L: i32>(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: as in `dot_sdot`; `L` < 4 is a valid element index for `.4b`.
    unsafe {
        asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.4b[{l}]",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            l = const L,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    acc
}

neon_kernels!(
    sdot,
    "neon,dotprod",
    dot_sdot,
    dot_sdot_lane,
    "NEON + dotprod"
);

lowbit_kernels!(lowbit_sdot, "neon,dotprod", dot_sdot);
