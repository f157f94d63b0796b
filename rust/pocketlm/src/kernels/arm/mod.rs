//! aarch64 kernels: the NEON tier (ARMv8.0 baseline, `neon.rs`), NEON + SDOT (`dotprod.rs`)
//! and NEON + SMMLA (`i8mm.rs`).
//!
//! This module holds what the tiers share: the NEON helpers and the kernel bodies, as one macro
//! (`neon_kernels!`). `neon.rs` instantiates it with a `vmull`/`vpadal` dot, `dotprod.rs` with
//! SDOT; `i8mm.rs` adds 2×2 SMMLA tiles for the 32-element formats and uses the SDOT kernels
//! for single rows and the k-quants. SDOT/SMMLA are emitted with `asm!` (their intrinsics are
//! unstable) inside functions compiled with the matching target feature, and those functions
//! are reachable only through the tiers' kernel tables, which `kernels` hands out for a tier
//! only after checking `Tier::is_supported()` — a cortex-a72 never executes SDOT.
//!
//! Weights are decoded to signed bytes (`q - 8`, `q - 16`, `q - 32` in range), so the integer
//! sums equal ggml's reference `sumi` exactly; only the float accumulation order differs.
//!
//! The 32-element formats put rows in f32 lanes where that saves instructions: decode (1
//! activation row) runs 8 (or 4) weight rows, 4 per vector (`small_rows`), batches run 8 activation rows
//! per 2 vectors (`small_m8`); per block the integer dots are reduced with pairwise adds and the
//! f16 scales are converted 4 at a time with FCVTL ([`h2f4`]). Every lane does the same f32
//! operations as the one-row kernel, so all paths of a tier give the same bits (per-function
//! instruction counts: `scripts/bench-neon.sh --syms K`, docs/performance.md).
use core::arch::aarch64::*;
use core::arch::asm;
use std::ops::Range;

use super::interleaved::{group_gemm_entry, GroupGemm};
use super::tiles::{store, Ctx};
use super::{Act32, QActs, QMatrix, TileFn};
use crate::kernels::table::AttentionKernels;
use crate::quant::blocks::*;
use crate::quant::GgmlType;

// ---------------------------------------------------------------------------------------------
// Helpers (baseline NEON, always available on aarch64)

/// 4 f16 values (bits) as f32, exactly: one FCVTL (ARMv8.0 Advanced SIMD, no FEAT_FP16 needed;
/// its intrinsic takes the unstable `float16x4_t`, hence `asm!`). The values equal
/// [`crate::quant::blocks::f16_to_f32_soft`]'s (the scalar reference's conversion) for every
/// non-NaN input; a signalling NaN comes out quiet, as from any float operation.
#[inline]
#[target_feature(enable = "neon")]
fn h2f4(h: uint16x4_t) -> float32x4_t {
    let out: float32x4_t;
    // SAFETY: FCVTL is part of the aarch64 baseline (Advanced SIMD) and touches only the named
    // vector registers.
    unsafe {
        asm!(
            "fcvtl {o:v}.4s, {i:v}.4h",
            o = lateout(vreg) out,
            i = in(vreg) h,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    out
}

/// 8 f16 values (bits) as f32 lanes (0..4, 4..8): FCVTL and FCVTL2 ([`h2f4`]).
#[inline]
#[target_feature(enable = "neon")]
pub(crate) fn h2f8(h: uint16x8_t) -> [float32x4_t; 2] {
    let (lo, hi): (float32x4_t, float32x4_t);
    // SAFETY: FCVTL/FCVTL2 are part of the aarch64 baseline (Advanced SIMD) and touch only the
    // named vector registers.
    unsafe {
        asm!(
            "fcvtl {lo:v}.4s, {i:v}.4h",
            "fcvtl2 {hi:v}.4s, {i:v}.8h",
            // (`lo` is written before `i` is read again, so it must not share its register)
            lo = out(vreg) lo,
            hi = lateout(vreg) hi,
            i = in(vreg) h,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    [lo, hi]
}

/// One f16 value (bits) as f32 ([`h2f4`]: a DUP and an FCVTL instead of ~10 integer and float
/// instructions of the soft conversion).
#[inline]
#[target_feature(enable = "neon")]
fn h2f(h: u16) -> f32 {
    vgetq_lane_f32::<0>(h2f4(vdup_n_u16(h)))
}

/// The f16 fields at byte offset `OFF` of 4 blocks, as f32 lanes (4 lane loads + [`h2f4`]).
#[inline]
#[target_feature(enable = "neon")]
fn h2f_fields<W: bytemuck::Pod, const OFF: usize>(b: [&W; 4]) -> float32x4_t {
    const { assert!(OFF + 2 <= core::mem::size_of::<W>()) };
    let p = |k: usize| {
        (b[k] as *const W)
            .cast::<u8>()
            .wrapping_add(OFF)
            .cast::<u16>()
    };
    // SAFETY: each pointer points to 2 readable bytes inside a block (asserted above), at an
    // even offset of a block that holds `u16` fields (so 2-byte aligned, as `*p` requires).
    unsafe {
        let v = vld1_dup_u16(p(0));
        let v = vld1_lane_u16::<1>(p(1), v);
        let v = vld1_lane_u16::<2>(p(2), v);
        h2f4(vld1_lane_u16::<3>(p(3), v))
    }
}

#[inline]
#[target_feature(enable = "neon")]
fn ld_s8(x: &[i8; 16]) -> int8x16_t {
    // SAFETY: `x` is 16 readable bytes; `vld1q` has no alignment requirement.
    unsafe { vld1q_s8(x.as_ptr()) }
}

#[inline]
#[target_feature(enable = "neon")]
fn ld_u8(x: &[u8; 16]) -> uint8x16_t {
    // SAFETY: `x` is 16 readable bytes; `vld1q` has no alignment requirement.
    unsafe { vld1q_u8(x.as_ptr()) }
}

#[inline]
#[target_feature(enable = "neon")]
fn ld_s16(x: &[i16; 8]) -> int16x8_t {
    // SAFETY: `x` is 16 readable bytes; `vld1q` has no alignment requirement.
    unsafe { vld1q_s16(x.as_ptr()) }
}

#[inline]
#[target_feature(enable = "neon")]
fn ld_f32(x: &[f32; 4]) -> float32x4_t {
    // SAFETY: `x` is 4 readable f32; `vld1q` has no alignment requirement.
    unsafe { vld1q_f32(x.as_ptr()) }
}

#[inline]
#[target_feature(enable = "neon")]
fn ld_u32(x: &[u32; 4]) -> uint32x4_t {
    // SAFETY: `x` is 4 readable u32; `vld1q` has no alignment requirement.
    unsafe { vld1q_u32(x.as_ptr()) }
}

#[inline]
#[target_feature(enable = "neon")]
fn ld_u16x4(x: &[u16; 4]) -> uint16x4_t {
    // SAFETY: `x` is 4 readable u16; `vld1` has no alignment requirement.
    unsafe { vld1_u16(x.as_ptr()) }
}

/// An activation block's quants as a base pointer for [`ld_qs`].
///
/// Why: the quants sit 4 bytes into a `BlockQ8K` (after `d`), and the compiler addresses them
/// from the block's start, so its 16-byte loads have offsets `4 + 16m`, which no `LDP` (a pair
/// of 16-byte loads in one instruction, offsets in multiples of 16) can take: the decode
/// kernels issued one `LDUR` per vector, 16 per super-block and row. From a base the compiler
/// cannot fold back (an empty `asm!` hands it the same address as an opaque value), the
/// offsets are `16m` and the loads pair.
#[inline(always)]
fn qs_base(y: &BlockQ8K) -> *const i8 {
    let mut p = y.qs.as_ptr();
    // SAFETY: an empty asm block: no instruction, no memory access, `p` comes back unchanged.
    // (`nomem` is true: the block only passes the pointer's value through a register.)
    #[allow(clippy::pointers_in_nomem_asm_block)]
    unsafe {
        asm!("/* {0} */", inout(reg) p, options(pure, nomem, nostack, preserves_flags))
    };
    p
}

/// The 16 activation quants `at..at + 16` of the block whose [`qs_base`] is `p`.
#[inline(always)]
fn ld_qs(p: *const i8, at: usize) -> int8x16_t {
    assert!(at + 16 <= QK_K, "activation quants {at}.. out of the block");
    // SAFETY: `p` points at a block's `QK_K` quants (`qs_base`) and `at + 16 <= QK_K`
    // (checked above; the check folds away for the kernels' constant offsets); `vld1q` has no
    // alignment requirement, and NEON is baseline on aarch64.
    unsafe { vld1q_s8(p.add(at)) }
}

/// `x[at..at + N]` as an array reference (the bounds check folds away for constant `at`).
#[inline(always)]
fn sub<const N: usize, T, const L: usize>(x: &[T; L], at: usize) -> &[T; N] {
    x[at..at + N].try_into().unwrap()
}

/// Bytes that are 0x10 where bit `j` of `qh` is set: (elements 0..16, elements 16..32).
#[inline]
#[target_feature(enable = "neon")]
fn qh_to_0x10(qh: [u8; 4]) -> (uint8x16_t, uint8x16_t) {
    let mask = vreinterpretq_u8_u64(vdupq_n_u64(0x8040_2010_0804_0201));
    let v0 = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
    let v1 = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
    let k = vdupq_n_u8(0x10);
    (
        vandq_u8(vtstq_u8(v0, mask), k),
        vandq_u8(vtstq_u8(v1, mask), k),
    )
}

/// The 32-element weight formats.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SmallKind {
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
}

/// 32-element weight blocks, decoded to signed bytes by [`decode`].
trait SmallW: bytemuck::Pod {
    const KIND: SmallKind;
    /// Bytes before the quants (scale, minimum, fifth bits): the interleaved layout stores the
    /// 8 rows' heads of a block column first ([`crate::quant::interleave`]).
    const HEAD: usize = match Self::KIND {
        SmallKind::Q4_0 | SmallKind::Q8_0 => 2,
        SmallKind::Q4_1 => 4,
        SmallKind::Q5_0 => 6,
        SmallKind::Q5_1 => 8,
    };
    /// Whether the format has a minimum `m` (adds `m * s` with Q8_1 activations).
    const MIN: bool = matches!(Self::KIND, SmallKind::Q4_1 | SmallKind::Q5_1);
    /// Whether decode runs 8 weight rows per loop ([`sdot::small_rows`]'s `G = 2`): fewer
    /// instructions per token for Q4_0 / Q4_1 / Q8_0 under `scripts/bench-neon.sh --syms`; the
    /// 5-bit formats' fifth-bit masks need more registers than remain, and spill (Gemma's Q5_0
    /// layers: 62.9 → 76.5 M instructions per token on cortex-a76), so they run 4 rows.
    const ROWS8: bool = !matches!(Self::KIND, SmallKind::Q5_0 | SmallKind::Q5_1);
}

impl SmallW for BlockQ4_0 {
    const KIND: SmallKind = SmallKind::Q4_0;
}
impl SmallW for BlockQ4_1 {
    const KIND: SmallKind = SmallKind::Q4_1;
}
impl SmallW for BlockQ5_0 {
    const KIND: SmallKind = SmallKind::Q5_0;
}
impl SmallW for BlockQ5_1 {
    const KIND: SmallKind = SmallKind::Q5_1;
}
impl SmallW for BlockQ8_0 {
    const KIND: SmallKind = SmallKind::Q8_0;
}

#[inline]
#[target_feature(enable = "neon")]
fn nibbles(qs: &[u8; 16]) -> (uint8x16_t, uint8x16_t) {
    let q = ld_u8(qs);
    (vandq_u8(q, vdupq_n_u8(0x0F)), vshrq_n_u8::<4>(q))
}

/// (elements 0..16, elements 16..32) of a 32-element block, as signed bytes (without the
/// scales: [`decode`] for those one at a time, [`h2f_fields`] for 4 rows' at once).
#[inline]
#[target_feature(enable = "neon")]
fn quants<W: SmallW>(b: &W) -> (int8x16_t, int8x16_t) {
    let (x0, x1, _, _) = decode_with::<W, false>(b);
    (x0, x1)
}

/// (elements 0..16, elements 16..32, d, m) of a 32-element block, as signed bytes.
#[inline]
#[target_feature(enable = "neon")]
fn decode<W: SmallW>(b: &W) -> (int8x16_t, int8x16_t, f32, f32) {
    decode_with::<W, true>(b)
}

/// [`decode`], with the scales only if `SCALES` (otherwise 0).
#[inline]
#[target_feature(enable = "neon")]
fn decode_with<W: SmallW, const SCALES: bool>(b: &W) -> (int8x16_t, int8x16_t, f32, f32) {
    let h2f = |h: u16| if SCALES { h2f(h) } else { 0.0 };
    let s8 = vreinterpretq_s8_u8;
    match W::KIND {
        SmallKind::Q4_0 => {
            let b: &BlockQ4_0 = bytemuck::cast_ref(b);
            let (lo, hi) = nibbles(&b.qs);
            let o = vdupq_n_s8(8);
            (vsubq_s8(s8(lo), o), vsubq_s8(s8(hi), o), h2f(b.d), 0.0)
        }
        SmallKind::Q4_1 => {
            let b: &BlockQ4_1 = bytemuck::cast_ref(b);
            let (lo, hi) = nibbles(&b.qs);
            (s8(lo), s8(hi), h2f(b.d), h2f(b.m))
        }
        SmallKind::Q5_0 => {
            let b: &BlockQ5_0 = bytemuck::cast_ref(b);
            let (lo, hi) = nibbles(&b.qs);
            let (h0, h1) = qh_to_0x10(b.qh);
            let o = vdupq_n_s8(16);
            (
                vsubq_s8(s8(vorrq_u8(lo, h0)), o),
                vsubq_s8(s8(vorrq_u8(hi, h1)), o),
                h2f(b.d),
                0.0,
            )
        }
        SmallKind::Q5_1 => {
            let b: &BlockQ5_1 = bytemuck::cast_ref(b);
            let (lo, hi) = nibbles(&b.qs);
            let (h0, h1) = qh_to_0x10(b.qh);
            (
                s8(vorrq_u8(lo, h0)),
                s8(vorrq_u8(hi, h1)),
                h2f(b.d),
                h2f(b.m),
            )
        }
        SmallKind::Q8_0 => {
            let b: &BlockQ8_0 = bytemuck::cast_ref(b);
            (ld_s8(sub(&b.qs, 0)), ld_s8(sub(&b.qs, 16)), h2f(b.d), 0.0)
        }
    }
}

/// Q4_K / Q5_K super-blocks.
trait K4W: bytemuck::Pod {
    fn header(&self) -> (u16, u16, &[u8; 12]);
    /// The 12 packed scale bytes and the 4 after them (one vector load inside the block).
    fn scales16(&self) -> &[u8; 16] {
        const _: () = assert!(core::mem::offset_of!(BlockQ4K, scales) == 4);
        const _: () = assert!(core::mem::offset_of!(BlockQ5K, scales) == 4);
        bytemuck::bytes_of(self)[4..20].try_into().unwrap()
    }
    fn qs(&self) -> &[u8; 128];
    /// Q5_K's fifth bits.
    fn qh(&self) -> Option<&[u8; 32]>;
}

impl K4W for BlockQ4K {
    fn header(&self) -> (u16, u16, &[u8; 12]) {
        (self.d, self.dmin, &self.scales)
    }
    fn qs(&self) -> &[u8; 128] {
        &self.qs
    }
    fn qh(&self) -> Option<&[u8; 32]> {
        None
    }
}

impl K4W for BlockQ5K {
    fn header(&self) -> (u16, u16, &[u8; 12]) {
        (self.d, self.dmin, &self.scales)
    }
    fn qs(&self) -> &[u8; 128] {
        &self.qs
    }
    fn qh(&self) -> Option<&[u8; 32]> {
        Some(&self.qh)
    }
}

/// `((h >> -s) & 1) << 4` per byte (`s` is a negative shift count).
#[inline]
#[target_feature(enable = "neon")]
fn high_bit(h: uint8x16_t, s: int8x16_t) -> uint8x16_t {
    vshlq_n_u8::<4>(vandq_u8(vshlq_u8(h, s), vdupq_n_u8(1)))
}

/// Sub-blocks `2c` and `2c + 1` of a Q4_K / Q5_K super-block as 4 vectors (elements `64c..64c +
/// 64`): the low nibbles of `qs[32c..32c + 32]`, then the high ones, with Q5_K's fifth bits
/// (`qh` loaded: bit `2c` of each byte for the low nibbles, `2c + 1` for the high ones).
#[inline]
#[target_feature(enable = "neon")]
fn k4_chunk(qs: &[u8; 128], qh: Option<[uint8x16_t; 2]>, c: usize) -> [int8x16_t; 4] {
    let m4 = vdupq_n_u8(0x0F);
    let b0 = ld_u8(sub(qs, 32 * c));
    let b1 = ld_u8(sub(qs, 32 * c + 16));
    let mut q = [
        vandq_u8(b0, m4),
        vandq_u8(b1, m4),
        vshrq_n_u8::<4>(b0),
        vshrq_n_u8::<4>(b1),
    ];
    if let Some([h0, h1]) = qh {
        let sl = vdupq_n_s8(-(2 * c as i8));
        let sh = vdupq_n_s8(-(2 * c as i8 + 1));
        q[0] = vorrq_u8(q[0], high_bit(h0, sl));
        q[1] = vorrq_u8(q[1], high_bit(h1, sl));
        q[2] = vorrq_u8(q[2], high_bit(h0, sh));
        q[3] = vorrq_u8(q[3], high_bit(h1, sh));
    }
    [
        vreinterpretq_s8_u8(q[0]),
        vreinterpretq_s8_u8(q[1]),
        vreinterpretq_s8_u8(q[2]),
        vreinterpretq_s8_u8(q[3]),
    ]
}

/// Q5_K's fifth bits, loaded once per super-block.
#[inline]
#[target_feature(enable = "neon")]
fn k4_high_bits<W: K4W>(b: &W) -> Option<[uint8x16_t; 2]> {
    b.qh().map(|qh| [ld_u8(sub(qh, 0)), ld_u8(sub(qh, 16))])
}

#[inline]
#[target_feature(enable = "neon")]
fn k4_values<W: K4W>(b: &W) -> [int8x16_t; 16] {
    let qh = k4_high_bits(b);
    let mut v = [vdupq_n_s8(0); 16];
    for c in 0..4 {
        let q = k4_chunk(b.qs(), qh, c);
        v[4 * c..4 * c + 4].copy_from_slice(&q);
    }
    v
}

/// A Q4_K / Q5_K super-block's header: the 8 sub-block scales as i32 (`[0..4], [4..8]`), the 8
/// mins as i16, `d` and `dmin`. The 6-bit fields are unpacked in one vector: two table lookups
/// gather each field's low bits (bytes 0..4 for sub-blocks 0..4, the nibbles of 8..12 for 4..8)
/// and its top two bits (the top of bytes 0..8, for sub-blocks 4..8 only).
#[inline]
#[target_feature(enable = "neon")]
fn k4_header<W: K4W>(b: &W) -> ([int32x4_t; 2], int16x8_t, f32, f32) {
    // lanes 0..8 the scales, 8..16 the mins
    const LOW: [u8; 16] = [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11];
    const TOP: [u8; 16] = [
        255, 255, 255, 255, 0, 1, 2, 3, 255, 255, 255, 255, 4, 5, 6, 7,
    ];
    const SHIFT: [i8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -4, -4, -4, -4];
    const MASK: [u8; 16] = [
        63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15,
    ];
    let (d, dmin, _) = b.header();
    let v = ld_u8(b.scales16());
    let low = vqtbl1q_u8(v, ld_u8(&LOW));
    let top = vqtbl1q_u8(v, ld_u8(&TOP));
    let low = vandq_u8(vshlq_u8(low, ld_s8(&SHIFT)), ld_u8(&MASK));
    let f = vorrq_u8(low, vshlq_n_u8::<4>(vshrq_n_u8::<6>(top)));
    let sc = vmovl_u8(vget_low_u8(f));
    let sc = [
        vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(sc))),
        vreinterpretq_s32_u32(vmovl_high_u16(sc)),
    ];
    let mins = vreinterpretq_s16_u16(vmovl_high_u8(f));
    (sc, mins, h2f(d), h2f(dmin))
}

/// Q6_K quants `q + 32` (0..64) of elements `128n + 32k + 16h .. + 16` for `k` = 0..4 (vector
/// `8n + 2k + h` of [`q6k_values`]): a nibble of `ql` with two bits of `qh` inserted above it
/// (SLI / SRI).
#[inline]
#[target_feature(enable = "neon")]
fn q6k_quarter(b: &BlockQ6K, n: usize, h: usize) -> [int8x16_t; 4] {
    let m2 = vdupq_n_u8(0x03);
    let m30 = vdupq_n_u8(0x30);
    let qa = ld_u8(sub(&b.ql, 64 * n + 16 * h));
    let qb = ld_u8(sub(&b.ql, 64 * n + 32 + 16 * h));
    let qh = ld_u8(sub(&b.qh, 32 * n + 16 * h));
    let qh2 = vshrq_n_u8::<2>(qh);
    [
        // low nibble | qh bits 0-1 << 4
        vreinterpretq_s8_u8(vsliq_n_u8::<4>(qa, vandq_u8(qh, m2))),
        // low nibble | qh bits 2-3 << 4
        vreinterpretq_s8_u8(vsliq_n_u8::<4>(qb, vandq_u8(qh2, m2))),
        // high nibble | qh bits 4-5 (already at 4-5)
        vreinterpretq_s8_u8(vsriq_n_u8::<4>(vandq_u8(qh, m30), qa)),
        // high nibble | qh bits 6-7 (at 4-5 after the shift by 2)
        vreinterpretq_s8_u8(vsriq_n_u8::<4>(qh2, qb)),
    ]
}

/// Q6_K super-block as 16 vectors of its stored quants `q + 32` (0..64; elements
/// `16s..16s + 16`): the kernels subtract the 32 once per sub-block through the activations'
/// sums.
#[inline]
#[target_feature(enable = "neon")]
fn q6k_values(b: &BlockQ6K) -> [int8x16_t; 16] {
    let mut v = [vdupq_n_s8(0); 16];
    for n in 0..2 {
        for h in 0..2 {
            for (k, q) in q6k_quarter(b, n, h).into_iter().enumerate() {
                v[8 * n + 2 * k + h] = q;
            }
        }
    }
    v
}

/// A Q6_K super-block's 16 scales as i16 (`[0..8], [8..16]`) and i32 (4 × 4), and `d`.
type Q6kHeader = ([int16x8_t; 2], [int32x4_t; 4], f32);

#[inline]
#[target_feature(enable = "neon")]
fn q6k_header(b: &BlockQ6K) -> Q6kHeader {
    // SAFETY: `scales` is 16 readable bytes; `vld1q` has no alignment requirement.
    let sc8 = unsafe { vld1q_s8(b.scales.as_ptr()) };
    let sc16 = [vmovl_s8(vget_low_s8(sc8)), vmovl_high_s8(sc8)];
    let sc32 = [
        vmovl_s16(vget_low_s16(sc16[0])),
        vmovl_high_s16(sc16[0]),
        vmovl_s16(vget_low_s16(sc16[1])),
        vmovl_high_s16(sc16[1]),
    ];
    (sc16, sc32, h2f(b.d))
}

/// One Q6_K super-block row with one activation block: the sub-block sums (`sums[g]` = those
/// of sub-blocks `4g..4g + 4`) scaled, less the stored quants' offset, accumulated as f32.
#[inline]
#[target_feature(enable = "neon")]
fn q6k_accumulate(header: Q6kHeader, sums: [int32x4_t; 4], y: &BlockQ8K, acc: &mut float32x4_t) {
    let (sc16, sc, d) = header;
    let isum = vmlaq_s32(vmulq_s32(sums[0], sc[0]), sums[1], sc[1]);
    let isum = vmlaq_s32(vmlaq_s32(isum, sums[2], sc[2]), sums[3], sc[3]);
    q6k_finish(isum, sc16, d, y, acc);
}

/// The rest of [`q6k_accumulate`] from the scaled sub-block sums `isum`: the quants are stored
/// with 32 added, so `Σ scale · (Σ (q + 32) y − 32 Σ y)`, Σ y of each 16 being the
/// activations' `bsums`; then accumulated as f32.
#[inline]
#[target_feature(enable = "neon")]
fn q6k_finish(isum: int32x4_t, sc16: [int16x8_t; 2], d: f32, y: &BlockQ8K, acc: &mut float32x4_t) {
    let (b0, b1) = (ld_s16(sub(&y.bsums, 0)), ld_s16(sub(&y.bsums, 8)));
    let off = vmull_s16(vget_low_s16(b0), vget_low_s16(sc16[0]));
    let off = vmlal_high_s16(off, b0, sc16[0]);
    let off = vmlal_s16(off, vget_low_s16(b1), vget_low_s16(sc16[1]));
    let off = vmlal_high_s16(off, b1, sc16[1]);
    let isum = vsubq_s32(isum, vshlq_n_s32::<5>(off));
    *acc = vfmaq_n_f32(*acc, vcvtq_f32_s32(isum), d * y.d);
}

/// A Q4_K / Q5_K super-block row's sub-block dots with one activation block, for
/// `k4_accumulate`: `Plain` as [`sums8`] gives them (lanes `S[0..4]`, `S[4..8]`), `Running` as
/// the decode's running sums (lanes `S[j]`, `S[j] + S[4 + j]`).
#[derive(Clone, Copy)]
enum K4Sums {
    Plain([int32x4_t; 2]),
    Running([int32x4_t; 2]),
}

/// The totals of 8 vectors' lanes, as `[t0..t4], [t4..t8]` (pairwise adds).
#[inline]
#[target_feature(enable = "neon")]
fn sums8(p: [int32x4_t; 8]) -> [int32x4_t; 2] {
    let a = [
        vpaddq_s32(p[0], p[1]),
        vpaddq_s32(p[2], p[3]),
        vpaddq_s32(p[4], p[5]),
        vpaddq_s32(p[6], p[7]),
    ];
    [vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3])]
}

/// Float weight element types.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FloatKind {
    F32,
    F16,
    Bf16,
}

/// Float weights (f32, f16 bits, bf16 bits).
trait FloatW: bytemuck::Pod {
    const KIND: FloatKind;
    fn one(x: Self) -> f32;
}

impl FloatW for f32 {
    const KIND: FloatKind = FloatKind::F32;
    fn one(x: f32) -> f32 {
        x
    }
}

/// f16 bits; converted with integer ops (see [`f16_to_f32_soft`]).
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(transparent)]
struct F16(u16);

/// bf16 bits.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(transparent)]
struct Bf16(u16);

impl FloatW for F16 {
    const KIND: FloatKind = FloatKind::F16;
    fn one(x: F16) -> f32 {
        crate::quant::blocks::f16_to_f32_soft(x.0)
    }
}

impl FloatW for Bf16 {
    const KIND: FloatKind = FloatKind::Bf16;
    fn one(x: Bf16) -> f32 {
        f32::from_bits((x.0 as u32) << 16)
    }
}

/// 4 weights as f32.
#[inline]
#[target_feature(enable = "neon")]
fn load4<W: FloatW>(x: &[W; 4]) -> float32x4_t {
    match W::KIND {
        FloatKind::F32 => ld_f32(bytemuck::cast_ref(x)),
        // FCVTL (ARMv8.0 Advanced SIMD, every NEON core): exact, one instruction for 4 values
        // (the integer-op widening this replaces took ~10; LoRA adapters' F16 `A` under qemu
        // -cpu cortex-a76: docs/adapters.md#speed).
        FloatKind::F16 => h2f4(ld_u16x4(bytemuck::cast_ref(x))),
        FloatKind::Bf16 => {
            vreinterpretq_f32_u32(vshll_n_u16::<16>(ld_u16x4(bytemuck::cast_ref(x))))
        }
    }
}

/// 8 weights as f32 (lanes 0..4, 4..8): [`load4`]'s values, with one load.
///
/// # Safety
/// `x` points at 8 readable values of `W`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn load8<W: FloatW>(x: *const W) -> [float32x4_t; 2] {
    // SAFETY: the caller's contract (8 readable values); `vld1q` has no alignment
    // requirement.
    unsafe {
        match W::KIND {
            FloatKind::F32 => {
                let p = x.cast::<f32>();
                [vld1q_f32(p), vld1q_f32(p.add(4))]
            }
            FloatKind::F16 => h2f8(vld1q_u16(x.cast::<u16>())),
            FloatKind::Bf16 => {
                let h = vld1q_u16(x.cast::<u16>());
                [
                    vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(h))),
                    vreinterpretq_f32_u32(vshll_high_n_u16::<16>(h)),
                ]
            }
        }
    }
}

/// One interleaved block column's 8 heads ([`crate::quant::interleave`]), as vectors.
struct Heads8 {
    /// The scales, rows 0..4 and 4..8.
    d: [float32x4_t; 2],
    /// The minimums (zeros without [`SmallW::MIN`]).
    m: [float32x4_t; 2],
    /// The 5-bit formats' fifth bits (zeros otherwise): bytes `2k, 2k + 1` of `.0` are row
    /// `k`'s `qh[0], qh[1]`; of `.1`, its `qh[2], qh[3]`.
    qh: (uint8x16_t, uint8x16_t),
}

/// The heads of one interleaved block column ([`SmallW::HEAD`] bytes per row, 8 rows) with
/// one de-interleaving load of 8 halves per field (LD1 / LD2 / LD3 / LD4) and FCVTL/FCVTL2.
#[inline]
#[target_feature(enable = "neon")]
fn heads8<W: SmallW>(heads: &[u8]) -> Heads8 {
    assert!(heads.len() >= 8 * W::HEAD);
    let p = heads.as_ptr().cast::<u16>();
    let u8s = vreinterpretq_u8_u16;
    let zq = vdupq_n_u8(0);
    // SAFETY: `heads` holds 8 * HEAD readable bytes (asserted), which is what each load reads;
    // block data is 2-byte aligned (its blocks hold `u16` fields), as `*const u16` requires.
    let (d, m, qh) = unsafe {
        match W::HEAD {
            2 => (vld1q_u16(p), None, (zq, zq)),
            4 => {
                let v = vld2q_u16(p);
                (v.0, Some(v.1), (zq, zq))
            }
            6 => {
                let v = vld3q_u16(p);
                (v.0, None, (u8s(v.1), u8s(v.2)))
            }
            _ => {
                let v = vld4q_u16(p);
                (v.0, Some(v.1), (u8s(v.2), u8s(v.3)))
            }
        }
    };
    let z = vdupq_n_f32(0.0);
    Heads8 {
        d: h2f8(d),
        m: m.map_or([z, z], |m| h2f8(m)),
        qh,
    }
}

/// Row `k`'s quants in an interleaved block column, as signed bytes (elements 0..16, 16..32):
/// `qs` is its quant bytes (16 nibble bytes; 32 for Q8_0); the 5-bit formats' fifth bits come
/// from `heads` (one TBL per 16 elements spreads row `k`'s `qh` bytes, CMTST tests the bits).
/// The same values as [`quants`] of the row-major block.
#[inline(always)]
fn column_quants<W: SmallW>(qs: &[u8], heads: &Heads8, k: usize) -> (int8x16_t, int8x16_t) {
    let s8 = vreinterpretq_s8_u8;
    // SAFETY: every intrinsic below is baseline Advanced SIMD (always present on aarch64), and
    // the loads read the 16 or 32 bytes the `try_into`s checked.
    unsafe {
        if W::KIND == SmallKind::Q8_0 {
            let q: &[u8; 32] = qs[..32].try_into().unwrap();
            return (s8(ld_u8(sub(q, 0))), s8(ld_u8(sub(q, 16))));
        }
        let (lo, hi) = nibbles(qs[..16].try_into().unwrap());
        match W::KIND {
            SmallKind::Q4_0 => {
                let o = vdupq_n_s8(8);
                (vsubq_s8(s8(lo), o), vsubq_s8(s8(hi), o))
            }
            SmallKind::Q4_1 => (s8(lo), s8(hi)),
            _ => {
                // [2k; 8] ++ [2k + 1; 8]: row k's first (second) qh byte in each half
                let idx = vaddq_u8(
                    vcombine_u8(vdup_n_u8(0), vdup_n_u8(1)),
                    vdupq_n_u8(2 * k as u8),
                );
                let bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040_2010_0804_0201));
                let t0 = vtstq_u8(vqtbl1q_u8(heads.qh.0, idx), bit);
                let t1 = vtstq_u8(vqtbl1q_u8(heads.qh.1, idx), bit);
                let k10 = vdupq_n_u8(0x10);
                if W::MIN {
                    // q | bit << 4
                    (
                        s8(vorrq_u8(lo, vandq_u8(t0, k10))),
                        s8(vorrq_u8(hi, vandq_u8(t1, k10))),
                    )
                } else {
                    // (q | bit << 4) - 16 = q - 16 where the bit is clear, q where it is set
                    (
                        vsubq_s8(s8(lo), s8(vbicq_u8(k10, t0))),
                        vsubq_s8(s8(hi), s8(vbicq_u8(k10, t1))),
                    )
                }
            }
        }
    }
}

/// The 4 rows' results of a k-quant column kernel, whose row `r` is lane `r` of `lanes[j]` for
/// its 4 row-major accumulator lanes `j`: per row `(l0 + l1) + (l2 + l3)`, the order in which
/// the row-major kernels' `vaddvq_f32` sums one row's 4 lanes (so the bits are theirs).
#[inline]
#[target_feature(enable = "neon")]
fn row_totals(lanes: [float32x4_t; 4]) -> [f32; 4] {
    let v = vaddq_f32(vaddq_f32(lanes[0], lanes[1]), vaddq_f32(lanes[2], lanes[3]));
    let mut out = [0.0f32; 4];
    // SAFETY: `out` is 4 writable f32; `vst1q` has no alignment requirement.
    unsafe { vst1q_f32(out.as_mut_ptr(), v) };
    out
}

/// The 8 rows' results of a 32-element block kernel whose rows 0..4 and 4..8 are the lanes of
/// `acc[0]` and `acc[1]`: `acc + accm` (the minimums' part added at the end, as the row-major
/// kernels do).
#[inline]
#[target_feature(enable = "neon")]
fn halves_total(acc: [float32x4_t; 2], accm: [float32x4_t; 2]) -> [f32; 8] {
    let mut out = [0.0f32; 8];
    for g in 0..2 {
        // SAFETY: `out[4g..4g + 4]` is 4 writable f32 (g < 2); `vst1q` has no alignment
        // requirement.
        unsafe { vst1q_f32(out[4 * g..].as_mut_ptr(), vaddq_f32(acc[g], accm[g])) };
    }
    out
}

/// A k-quant group's 8 rows × `M` activation rows from its two columns of 4 rows, each by
/// `$x4(columns, activations) -> [f32; 4]`, one pass per activation row.
macro_rules! by_halves {
    ($group:expr, $ar:expr, $x4:ident) => {{
        let (group, ar) = ($group, $ar);
        let half = group.len() / 2;
        let mut out = [[0.0f32; 8]; M];
        for j in 0..M {
            out[j][..4].copy_from_slice(&$x4(&group[..half], ar[j]));
            out[j][4..].copy_from_slice(&$x4(&group[half..], ar[j]));
        }
        out
    }};
}

/// Runs `$body` 8 times with `$k` = 0..8 as a literal: the 8 rows of an interleaved group,
/// unrolled so each row's accumulator stays in a register (LLVM keeps a `for k in 0..8` over
/// the 5-bit formats rolled, with the accumulators in memory).
macro_rules! unroll8 {
    ($k:ident => $body:block) => {
        unroll8!(@each $k $body [0 1 2 3 4 5 6 7])
    };
    ($k:ident in 4 => $body:block) => {
        unroll8!(@each $k $body [0 1 2 3])
    };
    ($k:ident in 2 => $body:block) => {
        unroll8!(@each $k $body [0 1])
    };
    (@each $k:ident $body:block [$($i:literal)*]) => {{
        $({
            const $k: usize = $i;
            $body
        })*
    }};
}

// ---------------------------------------------------------------------------------------------
// Kernels shared by the NEON and SDOT tiers

macro_rules! neon_kernels {
    ($module:ident, $feat:literal, $dot:ident, $dot_lane:ident, $tier:literal) => {
        #[doc = concat!("Kernels of the ", $tier, " tier.")]
        pub(super) mod $module {
            use super::*;

            pub(in crate::kernels::arm) fn tile_fn(ty: GgmlType) -> Option<TileFn> {
                Some(match ty {
                    GgmlType::Q4_0 => tile_small::<BlockQ4_0>,
                    GgmlType::Q4_1 => tile_small::<BlockQ4_1>,
                    GgmlType::Q5_0 => tile_small::<BlockQ5_0>,
                    GgmlType::Q5_1 => tile_small::<BlockQ5_1>,
                    GgmlType::Q8_0 => tile_small::<BlockQ8_0>,
                    GgmlType::Q4_K => tile_k4::<BlockQ4K>,
                    GgmlType::Q5_K => tile_k4::<BlockQ5K>,
                    GgmlType::Q6_K => tile_q6k,
                    GgmlType::F32 => tile_float::<f32>,
                    GgmlType::F16 => tile_float::<F16>,
                    GgmlType::BF16 => tile_float::<Bf16>,
                    _ => return None,
                })
            }

            #[target_feature(enable = $feat)]
            pub(in crate::kernels::arm) fn small<W: SmallW, const R: usize, const M: usize>(
                ctx: &Ctx<'_, W>,
                r: usize,
                t: usize,
            ) -> [[f32; M]; R] {
                if M == 1 && (R == 4 || R == 8) {
                    let mut out = [[0.0f32; M]; R];
                    if R == 8 && W::ROWS8 {
                        let v = small_rows::<W, 2>(ctx, r, t);
                        for k in 0..8 {
                            out[k][0] = v[k];
                        }
                    } else if R == 8 {
                        let (v0, v1) = (small_rows::<W, 1>(ctx, r, t), small_rows::<W, 1>(ctx, r + 4, t));
                        for k in 0..4 {
                            out[k][0] = v0[k];
                            out[k + 4][0] = v1[k];
                        }
                    } else {
                        let v = small_rows::<W, 1>(ctx, r, t);
                        for k in 0..4 {
                            out[k][0] = v[k];
                        }
                    }
                    return out;
                }
                if R == 1 && M >= 2 && (ctx.t0 + t).is_multiple_of(8) {
                    let v = small_m8::<W, M>(ctx, r, t);
                    let mut out = [[0.0f32; M]; R];
                    out[0].copy_from_slice(&v[..M]);
                    return out;
                }
                let nb = ctx.bpr;
                let t = ctx.t0 + t;
                let wr: [&[W]; R] = ctx.wrows::<R>(r);
                let ar: [&[Act32]; M] = ctx.a32_rows::<M>(t);
                for a in &ar {
                    assert!(a.len() == nb);
                }
                // Per block: the exact integer sum, then `acc = fma(sumi, dw * da, acc)` in f32 —
                // the same operations as each lane of the i8mm tiles, so a row's result does not
                // depend on which path (or tile shape) computed it.
                let mut acc = [[0.0f32; M]; R];
                let mut accm = [[0.0f32; M]; R];
                for i in 0..nb {
                    let ys: [(int8x16_t, int8x16_t); M] = core::array::from_fn(|j| {
                        let q = &ar[j][i].qs;
                        (ld_s8(sub(q, 0)), ld_s8(sub(q, 16)))
                    });
                    for k in 0..R {
                        let x = decode(&wr[k][i]);
                        block_dots::<W, M>(x, &ys, &ar, i, &mut acc[k], &mut accm[k]);
                    }
                }
                let mut out = [[0.0f32; M]; R];
                for k in 0..R {
                    for j in 0..M {
                        out[k][j] = acc[k][j] + accm[k][j];
                    }
                }
                out
            }

            /// [`small`] for `4 * G` weight rows × 1 activation row (decode, `G` = 1 or 2),
            /// one weight row per f32 lane: per block and 4 rows, 4 integer dots reduced with
            /// 3 pairwise adds, the 4 rows' f16 scales converted at once ([`h2f_fields`]), then
            /// per lane exactly the operations of [`block_dots`] (`acc = fma(sumi, dw * da,
            /// acc)`, `accm = fma(mw, s, accm)`, `acc + accm`), so the results are
            /// bit-identical to the 1-row and batched paths.
            ///
            /// The integer dots are never reset: each row's SDOT accumulator runs over the whole
            /// row (wrapping), and a block's `sumi` is the difference of two consecutive
            /// reduced totals. Wrapping addition is exact modulo 2^32 and a block's sum is far
            /// inside i32 (|sumi| ≤ 32 · 128 · 127), so the difference is the block's exact sum,
            /// without a zeroing instruction per row and block. Two groups of 4 rows share the
            /// activation loads and the loop.
            #[target_feature(enable = $feat)]
            fn small_rows<W: SmallW, const G: usize>(
                ctx: &Ctx<'_, W>,
                r: usize,
                t: usize,
            ) -> [f32; 8] {
                const { assert!(G == 1 || G == 2) };
                let nb = ctx.bpr;
                let wr: [&[W]; 8] = if G == 2 {
                    ctx.wrows::<8>(r)
                } else {
                    let w4 = ctx.wrows::<4>(r);
                    [w4[0], w4[1], w4[2], w4[3], w4[0], w4[1], w4[2], w4[3]]
                };
                let a = ctx.a.a32_row(ctx.t0 + t);
                assert!(a.len() == nb && wr.iter().all(|w| w.len() == nb));
                let z = vdupq_n_s32(0);
                let mut dots = [[z; 4]; G];
                let mut total = [z; G];
                let mut acc = [vdupq_n_f32(0.0); G];
                let mut accm = [vdupq_n_f32(0.0); G];
                for i in 0..nb {
                    let y = &a[i];
                    let (y0, y1) = (ld_s8(sub(&y.qs, 0)), ld_s8(sub(&y.qs, 16)));
                    for g in 0..G {
                        let b = [
                            &wr[4 * g][i],
                            &wr[4 * g + 1][i],
                            &wr[4 * g + 2][i],
                            &wr[4 * g + 3][i],
                        ];
                        for k in 0..4 {
                            let (x0, x1) = quants(b[k]);
                            dots[g][k] = $dot($dot(dots[g][k], x0, y0), x1, y1);
                        }
                        let d = &dots[g];
                        let now = vpaddq_s32(vpaddq_s32(d[0], d[1]), vpaddq_s32(d[2], d[3]));
                        let sumi = vsubq_s32(now, total[g]);
                        total[g] = now;
                        let dw = h2f_fields::<W, 0>(b);
                        acc[g] = vfmaq_f32(acc[g], vcvtq_f32_s32(sumi), vmulq_n_f32(dw, y.d));
                        if W::MIN {
                            accm[g] = vfmaq_n_f32(accm[g], h2f_fields::<W, 2>(b), y.s());
                        }
                    }
                }
                let mut out = [0.0f32; 8];
                for g in 0..G {
                    // SAFETY: `out[4g..4g + 4]` is 4 writable f32 (g < 2); `vst1q` has no
                    // alignment requirement.
                    unsafe { vst1q_f32(out[4 * g..].as_mut_ptr(), vaddq_f32(acc[g], accm[g])) };
                }
                out
            }

            /// [`small`] for 1 weight row × `M` (2..=8) activation rows `t..t + M` (`t0 + t` a
            /// multiple of 8), one activation row per f32 lane (two vectors): per block `M`
            /// integer dots reduced with pairwise adds, the rows' scales (and `s`) loaded as
            /// vectors from [`QActs::a32_group8`], then per lane exactly the operations of
            /// [`block_dots`], so the results are bit-identical to the other paths. Lanes from
            /// `M` on are computed on zeros and dropped.
            #[target_feature(enable = $feat)]
            fn small_m8<W: SmallW, const M: usize>(
                ctx: &Ctx<'_, W>,
                r: usize,
                t: usize,
            ) -> [f32; 8] {
                let nb = ctx.bpr;
                let t = ctx.t0 + t;
                let w: &[W] = ctx.wrows::<1>(r)[0];
                let ar: [&[Act32]; M] = ctx.a32_rows::<M>(t);
                assert!(w.len() == nb && ar.iter().all(|a| a.len() == nb));
                let z = vdupq_n_s32(0);
                let mut acc = [vdupq_n_f32(0.0); 2];
                let mut accm = [vdupq_n_f32(0.0); 2];
                for i in 0..nb {
                    let (x0, x1, dw, mw) = decode(&w[i]);
                    let p: [int32x4_t; 8] = core::array::from_fn(|j| {
                        if j < M {
                            let q = &ar[j][i].qs;
                            $dot($dot(z, x0, ld_s8(sub(q, 0))), x1, ld_s8(sub(q, 16)))
                        } else {
                            z
                        }
                    });
                    let g = ctx.a.a32_group8(t, i);
                    for h in 0..M.div_ceil(4) {
                        let sumi = vpaddq_s32(
                            vpaddq_s32(p[4 * h], p[4 * h + 1]),
                            vpaddq_s32(p[4 * h + 2], p[4 * h + 3]),
                        );
                        let da = ld_f32(sub(&g.d, 4 * h));
                        acc[h] = vfmaq_f32(acc[h], vcvtq_f32_s32(sumi), vmulq_n_f32(da, dw));
                        if W::MIN {
                            let s = vreinterpretq_f32_u32(ld_u32(sub(&g.aux, 4 * h)));
                            accm[h] = vfmaq_n_f32(accm[h], s, mw);
                        }
                    }
                }
                let mut out = [0.0f32; 8];
                for h in 0..M.div_ceil(4) {
                    // SAFETY: `out[4h..4h + 4]` is 4 writable f32 (h < 2); `vst1q` has no
                    // alignment requirement.
                    unsafe { vst1q_f32(out[4 * h..].as_mut_ptr(), vaddq_f32(acc[h], accm[h])) };
                }
                out
            }

            /// One decoded weight block `x` (from [`decode`]) against block `i` of the `M`
            /// activation rows (`ys`: their quants): per row the exact integer sum, then
            /// `acc = fma(sumi, dw * da, acc)` and the minimum's `accm` in f32.
            #[inline]
            #[target_feature(enable = $feat)]
            fn block_dots<W: SmallW, const M: usize>(
                (x0, x1, dw, mw): (int8x16_t, int8x16_t, f32, f32),
                ys: &[(int8x16_t, int8x16_t); M],
                ar: &[&[Act32]; M],
                i: usize,
                acc: &mut [f32; M],
                accm: &mut [f32; M],
            ) {
                for j in 0..M {
                    let y = &ar[j][i];
                    let p = $dot($dot(vdupq_n_s32(0), x0, ys[j].0), x1, ys[j].1);
                    let sumi = vaddvq_s32(p) as f32;
                    acc[j] = sumi.mul_add(dw * y.d, acc[j]);
                    if W::MIN {
                        accm[j] = mw.mul_add(y.s(), accm[j]);
                    }
                }
            }

            pub(in crate::kernels::arm) fn group_gemm(ty: GgmlType) -> Option<GroupGemm> {
                Some(match ty {
                    GgmlType::Q4_0 => group_gemm_entry!($feat, BlockQ4_0 => small_x8<BlockQ4_0>),
                    GgmlType::Q4_1 => group_gemm_entry!($feat, BlockQ4_1 => small_x8<BlockQ4_1>),
                    GgmlType::Q5_0 => group_gemm_entry!($feat, BlockQ5_0 => small_x8<BlockQ5_0>),
                    GgmlType::Q5_1 => group_gemm_entry!($feat, BlockQ5_1 => small_x8<BlockQ5_1>),
                    GgmlType::Q8_0 => group_gemm_entry!($feat, BlockQ8_0 => small_x8<BlockQ8_0>),
                    GgmlType::Q4_K => group_gemm_entry!($feat, q8k BlockQ4K => k4_x8),
                    GgmlType::Q6_K => group_gemm_entry!($feat, q8k BlockQ6K => q6k_x8),
                    _ => return None,
                })
            }

            /// [`small`] for the 8 rows of an interleaved group ([`crate::quant::interleave`])
            /// × `M` activation rows, reading each block column in place (one sequential
            /// stream through the matrix): the 8 heads with one de-interleaving load
            /// ([`heads8`]), each row's quants from its part of the column
            /// ([`column_quants`]), the 8 rows in two f32 vectors with the running SDOT totals
            /// of [`small_rows`] and the same per-lane operations, so the results are the
            /// row-major file's, bit for bit. Batches come here for Q4_0 and Q4_1 on the
            /// dot-product tier ([`nibbles_x8_m`], up to 4 activation rows per pass); the
            /// other types' batches are de-interleaved for the row-major batched kernels
            /// (`deinterleave_from_m`), so for them `M > 1` is one pass per activation row.
            #[target_feature(enable = $feat)]
            #[inline]
            pub(in crate::kernels::arm) fn small_x8<W: SmallW, const M: usize>(
                group: &[u8],
                ar: [&[Act32]; M],
            ) -> [[f32; 8]; M] {
                let mut out = [[0.0f32; 8]; M];
                if M > 1
                    && matches!(W::KIND, SmallKind::Q4_0 | SmallKind::Q4_1)
                    && !matches!($feat.as_bytes(), b"neon")
                {
                    // at most 4 activation rows per pass: their 8 accumulators, the 8 nibble
                    // vectors and the operands fit the 32 registers (with 8 rows the
                    // accumulators spilled to the stack at every block)
                    macro_rules! pass {
                        ($from:literal, $n:literal) => {{
                            let part = nibbles_x8_m::<W, $n>(
                                group,
                                core::array::from_fn(|j| ar[$from + j]),
                            );
                            out[$from..$from + $n].copy_from_slice(&part);
                        }};
                    }
                    match M {
                        2 => pass!(0, 2),
                        3 => pass!(0, 3),
                        4 => pass!(0, 4),
                        _ => {
                            pass!(0, 4);
                            match M - 4 {
                                1 => pass!(4, 1),
                                2 => pass!(4, 2),
                                3 => pass!(4, 3),
                                _ => pass!(4, 4),
                            }
                        }
                    }
                    return out;
                }
                for j in 0..M {
                    out[j] = small_x8_m1::<W>(group, ar[j]);
                }
                out
            }

            /// [`nibbles_x8`] for `M` (at most 4) activation rows: each block column's nibbles are
            /// loaded and split once for all of them (an LD4 and 8 AND/shifts per 4 rows,
            /// where one pass per activation row repeats them `M` times), then per activation
            /// row exactly [`nibbles_x8`]'s dots and f32 steps: the same bits. Prefill of the
            /// interleaved copy comes here in steps of up to 4 activation rows instead of
            /// de-interleaving the rows for the row-major tiles (`deinterleave_from_m`).
            /// Decode keeps [`nibbles_x8`]: this kernel with `M = 1` took 124.05 against
            /// 120.12 M instructions per decoded LFM2-350M token (its unrolled halves).
            #[target_feature(enable = $feat)]
            #[inline]
            fn nibbles_x8_m<W: SmallW, const M: usize>(
                group: &[u8],
                ar: [&[Act32]; M],
            ) -> [[f32; 8]; M] {
                const { assert!(M >= 1 && M <= 4) };
                let nb = ar[0].len();
                let bb = core::mem::size_of::<W>();
                assert!(ar.iter().all(|a| a.len() == nb));
                let ar: [&[Act32]; M] = ar.map(|a| &a[..nb]);
                assert!(group.len() == 8 * nb * bb && W::HEAD + 16 == bb);
                // as in `nibbles_x8`: every body 4-aligned for the u32 loads below
                assert!(group.as_ptr().cast::<u32>().is_aligned());
                let q4_0 = W::KIND == SmallKind::Q4_0;
                let m4 = vdupq_n_u8(0x0F);
                let z = vdupq_n_s32(0);
                let mut acc = [[vdupq_n_f32(0.0); 2]; M];
                let mut accm = [[vdupq_n_f32(0.0); 2]; M];
                for i in 0..nb {
                    let (heads, bodies) = group[i * 8 * bb..][..8 * bb].split_at(8 * W::HEAD);
                    let h = heads8::<W>(heads);
                    // both halves unrolled too (a loop over them kept the accumulators in
                    // memory)
                    unroll8!(G in 2 => {
                        let rows: &[u8; 64] = bodies[64 * G..][..64].try_into().unwrap();
                        // SAFETY: `rows` is 64 readable bytes, 4-aligned (asserted above).
                        let u = unsafe { vld4q_u32(rows.as_ptr().cast::<u32>()) };
                        let u = [u.0, u.1, u.2, u.3].map(|v| vreinterpretq_u8_u32(v));
                        let lo = u.map(|v| vreinterpretq_s8_u8(vandq_u8(v, m4)));
                        let hi = u.map(|v| vreinterpretq_s8_u8(vshrq_n_u8::<4>(v)));
                        // unrolled over the activation rows (a loop kept the accumulators
                        // in memory); Q4_0's start is computed per half, not kept in
                        // registers
                        unroll8!(JA in 4 => {
                            if JA < M {
                                let y = &ar[JA][i];
                                let (y0, y1) = (ld_s8(sub(&y.qs, 0)), ld_s8(sub(&y.qs, 16)));
                                let mut d = if q4_0 {
                                    vdupq_n_s32(y.isum().wrapping_mul(8).wrapping_neg())
                                } else {
                                    z
                                };
                                unroll8!(J in 4 => {
                                    d = $dot_lane::<{ J as i32 }>(d, lo[J], y0);
                                    d = $dot_lane::<{ J as i32 }>(d, hi[J], y1);
                                });
                                acc[JA][G] = vfmaq_f32(
                                    acc[JA][G],
                                    vcvtq_f32_s32(d),
                                    vmulq_n_f32(h.d[G], y.d),
                                );
                                if W::MIN {
                                    accm[JA][G] = vfmaq_n_f32(accm[JA][G], h.m[G], y.s());
                                }
                            }
                        });
                    });
                }
                core::array::from_fn(|j| halves_total(acc[j], accm[j]))
            }

            #[target_feature(enable = $feat)]
            #[inline]
            fn small_x8_m1<W: SmallW>(group: &[u8], a: &[Act32]) -> [f32; 8] {
                // (plain NEON emulates a dot by element in 5 instructions, its usual dot in 3:
                // there the row-by-row path below stays the shorter one)
                if matches!(W::KIND, SmallKind::Q4_0 | SmallKind::Q4_1)
                    && !matches!($feat.as_bytes(), b"neon")
                {
                    return nibbles_x8::<W>(group, a);
                }
                let nb = a.len();
                let bb = core::mem::size_of::<W>();
                let (head, body) = (W::HEAD, bb - W::HEAD);
                assert!(group.len() == 8 * nb * bb);
                let z = vdupq_n_s32(0);
                let mut dots = [z; 8];
                let mut total = [z; 2];
                let mut acc = [vdupq_n_f32(0.0); 2];
                let mut accm = [vdupq_n_f32(0.0); 2];
                // Q4_0: the nibbles as stored (0..16), and 8 · Σ y taken off each row's block
                // dot once (the activations' integer sum, `Act32::isum`) instead of 8 off
                // every quant: Σ (q − 8) y is the same integer, 2 instructions per row and
                // block fewer
                let q4_0 = W::KIND == SmallKind::Q4_0;
                for i in 0..nb {
                    let (heads, bodies) = group[i * 8 * bb..][..8 * bb].split_at(8 * head);
                    let y = &a[i];
                    let (y0, y1) = (ld_s8(sub(&y.qs, 0)), ld_s8(sub(&y.qs, 16)));
                    let h = heads8::<W>(heads);
                    unroll8!(K => {
                        let q = &bodies[K * body..][..body];
                        let (x0, x1) = if q4_0 {
                            let (lo, hi) = nibbles(q[..16].try_into().unwrap());
                            (vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi))
                        } else {
                            column_quants::<W>(q, &h, K)
                        };
                        dots[K] = $dot($dot(dots[K], x0, y0), x1, y1);
                    });
                    let offset = if q4_0 {
                        vdupq_n_s32(y.isum().wrapping_mul(8))
                    } else {
                        z
                    };
                    for g in 0..2 {
                        let p = &dots[4 * g..4 * g + 4];
                        let now = vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3]));
                        let sumi = vsubq_s32(vsubq_s32(now, total[g]), offset);
                        total[g] = now;
                        acc[g] = vfmaq_f32(acc[g], vcvtq_f32_s32(sumi), vmulq_n_f32(h.d[g], y.d));
                        if W::MIN {
                            accm[g] = vfmaq_n_f32(accm[g], h.m[g], y.s());
                        }
                    }
                }
                halves_total(acc, accm)
            }

            /// [`small_x8_m1`] for the 4-bit types (Q4_0, Q4_1), whose quants are 16 bytes per
            /// row: one LD4 of 4 rows' 64 bytes (as 16 u32) puts bytes `4j..4j + 4` of every
            /// row in register `j`, one row per lane, so a dot by element (`$dot_lane`)
            /// multiplies 4 elements of the 4 rows by the same 4 activation bytes and the row
            /// sums come out in the lanes, with no pairwise additions (the row-by-row path:
            /// one load per row and 3 pairwise adds per 4 rows). Per lane the integer is the
            /// same (for Q4_0, `Σ q·y − 8 · Σ y`) and so are the f32 steps: the same bits.
            #[target_feature(enable = $feat)]
            #[inline]
            fn nibbles_x8<W: SmallW>(group: &[u8], a: &[Act32]) -> [f32; 8] {
                let nb = a.len();
                let bb = core::mem::size_of::<W>();
                assert!(group.len() == 8 * nb * bb && W::HEAD + 16 == bb);
                // every body starts 4-aligned (blocks of 18 or 20 bytes, 8 per column, heads
                // of 16 or 32 bytes) if the group does, as the u32 loads below ask
                assert!(group.as_ptr().cast::<u32>().is_aligned());
                let q4_0 = W::KIND == SmallKind::Q4_0;
                let m4 = vdupq_n_u8(0x0F);
                let z = vdupq_n_s32(0);
                let mut acc = [vdupq_n_f32(0.0); 2];
                let mut accm = [vdupq_n_f32(0.0); 2];
                for i in 0..nb {
                    let (heads, bodies) = group[i * 8 * bb..][..8 * bb].split_at(8 * W::HEAD);
                    let y = &a[i];
                    let (y0, y1) = (ld_s8(sub(&y.qs, 0)), ld_s8(sub(&y.qs, 16)));
                    let h = heads8::<W>(heads);
                    // each half's dots start from Q4_0's `−8 · Σ y` (one copy of one vector
                    // per half, where subtracting it and a running total took 4 instructions)
                    let start = if q4_0 {
                        vdupq_n_s32(y.isum().wrapping_mul(8).wrapping_neg())
                    } else {
                        z
                    };
                    for g in 0..2 {
                        let rows: &[u8; 64] = bodies[64 * g..][..64].try_into().unwrap();
                        // SAFETY: `rows` is 64 readable bytes, 4-aligned (asserted above).
                        let u = unsafe { vld4q_u32(rows.as_ptr().cast::<u32>()) };
                        let u = [u.0, u.1, u.2, u.3].map(|v| vreinterpretq_u8_u32(v));
                        let mut d = start;
                        unroll8!(J in 4 => {
                            let lo = vreinterpretq_s8_u8(vandq_u8(u[J], m4));
                            let hi = vreinterpretq_s8_u8(vshrq_n_u8::<4>(u[J]));
                            d = $dot_lane::<{ J as i32 }>(d, lo, y0);
                            d = $dot_lane::<{ J as i32 }>(d, hi, y1);
                        });
                        acc[g] = vfmaq_f32(acc[g], vcvtq_f32_s32(d), vmulq_n_f32(h.d[g], y.d));
                        if W::MIN {
                            accm[g] = vfmaq_n_f32(accm[g], h.m[g], y.s());
                        }
                    }
                }
                halves_total(acc, accm)
            }

            #[target_feature(enable = $feat)]
            fn t_small<W: SmallW>(
                w: &QMatrix,
                a: &QActs,
                rows: Range<usize>,
                ts: Range<usize>,
                res: &mut [f32],
            ) {
                let ctx = Ctx {
                    w: w.blocks::<W>(rows.clone()),
                    bpr: w.blocks_per_row(),
                    a,
                    t0: ts.start,
                };
                tile_loop!(small<W>, @rows8, ctx, rows.len(), ts.len(), res);
            }

            fn tile_small<W: SmallW>(
                w: &QMatrix,
                a: &QActs,
                rows: Range<usize>,
                ts: Range<usize>,
                res: &mut [f32],
            ) {
                // SAFETY: `tile_fn` of this module is used only by this module's tier's
                // table, which `Tier::kernels` hands out only on a CPU that supports the tier
                // (so the enabled target features exist).
                unsafe { t_small::<W>(w, a, rows, ts, res) }
            }

            /// Two rows' Q4_K / Q5_K super-blocks with one activation block, each 64 activations
            /// loaded once for both rows: per row its running sub-block sums `[T0, T1]`, lane
            /// `j` of `T0` totalling sub-block `j`'s dot `S[j]` and of `T1` `S[j] + S[4 + j]`.
            ///
            /// Why running sums: the batches' lane `j` is `s[j] · S[j] + s[4 + j] · S[4 + j]`
            /// (scales `s`), which is `T0 · (s[j] − s[4 + j]) + T1 · s[4 + j]`, the same
            /// integer (summation by parts; the i32 products may wrap, but i32 arithmetic is
            /// exact modulo 2³² and the true value fits, so the f32 steps after it see the
            /// batches' exact integer: the same bits). One accumulator per lane runs through
            /// its two sub-blocks, so 4 registers start from zero instead of 8 (each `movi`
            /// an instruction: see [`q6k_decode_accumulate`]).
            #[inline(always)]
            fn k4_running_sums_pair<W: K4W>(b: [&W; 2], y: &BlockQ8K) -> [[int32x4_t; 2]; 2] {
                // SAFETY: inlined only into this tier's target-feature kernels (reached only
                // on a CPU with the tier), so the tier's instructions exist.
                unsafe {
                    let qh = [k4_high_bits(b[0]), k4_high_bits(b[1])];
                    let z = vdupq_n_s32(0);
                    let mut c = [[z; 4]; 2];
                    let mut t = [[z; 2]; 2];
                    let tree = |c: &[int32x4_t; 4]| {
                        vpaddq_s32(vpaddq_s32(c[0], c[1]), vpaddq_s32(c[2], c[3]))
                    };
                    // chunk C holds sub-blocks 2C (q[0], q[1]) and 2C + 1 (q[2], q[3]): lanes
                    // j = 2 (C % 2) + h of step C / 2
                    let yq = qs_base(y);
                    unroll8!(C in 4 => {
                        let ys = [
                            ld_qs(yq, 64 * C),
                            ld_qs(yq, 64 * C + 16),
                            ld_qs(yq, 64 * C + 32),
                            ld_qs(yq, 64 * C + 48),
                        ];
                        for k in 0..2 {
                            let q = k4_chunk(b[k].qs(), qh[k], C);
                            for h in 0..2 {
                                let j = 2 * (C % 2) + h;
                                let from = if C < 2 { z } else { c[k][j] };
                                c[k][j] = $dot($dot(from, q[2 * h], ys[2 * h]), q[2 * h + 1], ys[2 * h + 1]);
                            }
                            if C % 2 == 1 {
                                t[k][C / 2] = tree(&c[k]);
                            }
                        }
                    });
                    t
                }
            }

            /// `isum` (the scaled sub-block sums) and the mins' term of one super-block row
            /// ([`k4_header`]) with one activation block, accumulated as f32.
            #[inline(always)]
            fn k4_accumulate(
                header: ([int32x4_t; 2], int16x8_t, f32, f32),
                sums: K4Sums,
                y: &BlockQ8K,
                bs: int16x8_t,
                acc: &mut float32x4_t,
                accm: &mut float32x4_t,
            ) {
                // SAFETY: baseline Advanced SIMD only (always present on aarch64).
                unsafe {
                    let (sc, mins, d, dmin) = header;
                    let isum = match sums {
                        K4Sums::Plain(s) => vmlaq_s32(vmulq_s32(s[0], sc[0]), s[1], sc[1]),
                        K4Sums::Running(t) => {
                            vmlaq_s32(vmulq_s32(t[0], vsubq_s32(sc[0], sc[1])), t[1], sc[1])
                        }
                    };
                    let pm = vmlal_high_s16(vmull_s16(vget_low_s16(bs), vget_low_s16(mins)), bs, mins);
                    *acc = vfmaq_n_f32(*acc, vcvtq_f32_s32(isum), d * y.d);
                    *accm = vfmaq_n_f32(*accm, vcvtq_f32_s32(pm), dmin * y.d);
                }
            }

            /// Decode: 4 rows with one activation row, the rows' accumulators in registers and
            /// the activations loaded once per pair of rows ([`k4_running_sums_pair`]). The same
            /// arithmetic as [`k4`]'s batches, so the same bits.
            #[target_feature(enable = $feat)]
            fn k4_decode4<W: K4W>(ctx: &Ctx<'_, W>, r: usize, t: usize) -> [f32; 4] {
                let nb = ctx.bpr;
                let wr: [&[W]; 4] = ctx.wrows::<4>(r);
                let [a]: [&[BlockQ8K]; 1] = ctx.q8k_rows::<1>(ctx.t0 + t);
                assert!(a.len() == nb);
                unroll8!(K in 4 => {
                    assert!(wr[K].len() == nb);
                });
                let z = vdupq_n_f32(0.0);
                let mut acc = [z; 4];
                let mut accm = [z; 4];
                for i in 0..nb {
                    let y = &a[i];
                    let bs = vpaddq_s16(ld_s16(sub(&y.bsums, 0)), ld_s16(sub(&y.bsums, 8)));
                    let s01 = k4_running_sums_pair([&wr[0][i], &wr[1][i]], y);
                    let s23 = k4_running_sums_pair([&wr[2][i], &wr[3][i]], y);
                    let sums = [s01[0], s01[1], s23[0], s23[1]];
                    unroll8!(K in 4 => {
                        let header = k4_header(&wr[K][i]);
                        let sums = K4Sums::Running(sums[K]);
                        k4_accumulate(header, sums, y, bs, &mut acc[K], &mut accm[K]);
                    });
                }
                let mut out = [0.0f32; 4];
                unroll8!(K in 4 => {
                    out[K] = vaddvq_f32(vsubq_f32(acc[K], accm[K]));
                });
                out
            }

            #[target_feature(enable = $feat)]
            fn k4<W: K4W, const R: usize, const M: usize>(
                ctx: &Ctx<'_, W>,
                r: usize,
                t: usize,
            ) -> [[f32; M]; R] {
                let mut out = [[0.0f32; M]; R];
                if M == 1 && R == 4 {
                    let o = k4_decode4(ctx, r, t);
                    for k in 0..R {
                        out[k][0] = o[k];
                    }
                    return out;
                }
                let nb = ctx.bpr;
                let t = ctx.t0 + t;
                let wr: [&[W]; R] = ctx.wrows::<R>(r);
                let ar: [&[BlockQ8K]; M] = ctx.q8k_rows::<M>(t);
                for a in &ar {
                    assert!(a.len() == nb);
                }
                let mut acc = [[vdupq_n_f32(0.0); M]; R];
                let mut accm = [[vdupq_n_f32(0.0); M]; R];
                for i in 0..nb {
                    for k in 0..R {
                        let b = &wr[k][i];
                        let q = k4_values(b);
                        let header = k4_header(b);
                        for j in 0..M {
                            let y = &ar[j][i];
                            // sub-block s's dot in the lanes of p[s], then the 8 sums in two
                            // vectors by pairwise adds, scaled by one multiply each
                            let sums = sums8(core::array::from_fn(|s| {
                                $dot(
                                    $dot(vdupq_n_s32(0), q[2 * s], ld_s8(sub(&y.qs, 32 * s))),
                                    q[2 * s + 1],
                                    ld_s8(sub(&y.qs, 32 * s + 16)),
                                )
                            }));
                            let bs = vpaddq_s16(ld_s16(sub(&y.bsums, 0)), ld_s16(sub(&y.bsums, 8)));
                            let sums = K4Sums::Plain(sums);
                            k4_accumulate(header, sums, y, bs, &mut acc[k][j], &mut accm[k][j]);
                        }
                    }
                }
                for k in 0..R {
                    for j in 0..M {
                        out[k][j] = vaddvq_f32(vsubq_f32(acc[k][j], accm[k][j]));
                    }
                }
                out
            }

            #[target_feature(enable = $feat)]
            fn t_k4<W: K4W>(
                w: &QMatrix,
                a: &QActs,
                rows: Range<usize>,
                ts: Range<usize>,
                res: &mut [f32],
            ) {
                let ctx = Ctx {
                    w: w.blocks::<W>(rows.clone()),
                    bpr: w.blocks_per_row(),
                    a,
                    t0: ts.start,
                };
                tile_loop!(k4<W>, ctx, rows.len(), ts.len(), res);
            }

            fn tile_k4<W: K4W>(
                w: &QMatrix,
                a: &QActs,
                rows: Range<usize>,
                ts: Range<usize>,
                res: &mut [f32],
            ) {
                // SAFETY: as in `tile_small`.
                unsafe { t_k4::<W>(w, a, rows, ts, res) }
            }

            /// Q4_K for the 8 rows of an interleaved group (two columns of 4 rows each:
            /// [`crate::quant::interleave`]) × `M` activation rows, one pass per activation
            /// row (on NEON only decode comes here: `deinterleave_from_m`).
            #[target_feature(enable = $feat)]
            #[inline]
            pub(in crate::kernels::arm) fn k4_x8<const M: usize>(
                group: &[u8],
                ar: [&[BlockQ8K]; M],
            ) -> [[f32; 8]; M] {
                by_halves!(group, ar, k4_x4)
            }

            /// Q4_K decode of 4 rows stored as [`interleave::Q4K_COLUMN`] columns, one row per
            /// lane: per column, each 16-byte unit of quants holds 4 elements of each row, and
            /// one dot by element multiplies them by the same 4 activation bytes, so the 8
            /// sub-block sums of the 4 rows are 8 registers, and scaling, minimums and f32
            /// accumulation are one vector operation for 4 rows (the row-major decode repeats
            /// them per row). Per row and lane the integers are the row-major kernel's
            /// (`s[j]·S[j] + s[4+j]·S[4+j]`, `b[j]·m[j] + b[4+j]·m[4+j]`, exact in i32) and so
            /// are the f32 steps (`fma` by `d·y.d` and `dmin·y.d` into 4 lanes per row, then the
            /// lanes summed as `vaddvq_f32` does: `(l0 + l1) + (l2 + l3)`): the same bits.
            #[target_feature(enable = $feat)]
            #[inline]
            fn k4_x4(cols: &[u8], a: &[BlockQ8K]) -> [f32; 4] {
                use crate::quant::interleave::{q4k_at, Q4K_COLUMN};
                let nb = a.len();
                assert!(cols.len() == nb * Q4K_COLUMN);
                let (cols, _) = cols.as_chunks::<Q4K_COLUMN>();
                let z = vdupq_n_f32(0.0);
                let mut acc = [z; 4];
                let mut accm = [z; 4];
                let m4 = vdupq_n_u8(0x0F);
                for i in 0..nb {
                    let col = &cols[i];
                    let y = &a[i];
                    let yq = qs_base(y);
                    // sub-block s's dot for the 4 rows in s[s]
                    let mut s = [vdupq_n_s32(0); 8];
                    unroll8!(C in 4 => {
                        let ya = [ld_qs(yq, 64 * C), ld_qs(yq, 64 * C + 16)];
                        let yb = [ld_qs(yq, 64 * C + 32), ld_qs(yq, 64 * C + 48)];
                        unroll8!(E => {
                            let w = ld_u8(sub(col, q4k_at::QS + 16 * (8 * C + E)));
                            let lo = vreinterpretq_s8_u8(vandq_u8(w, m4));
                            let hi = vreinterpretq_s8_u8(vshrq_n_u8::<4>(w));
                            s[2 * C] = $dot_lane::<{ (E % 4) as i32 }>(s[2 * C], lo, ya[E / 4]);
                            s[2 * C + 1] = $dot_lane::<{ (E % 4) as i32 }>(s[2 * C + 1], hi, yb[E / 4]);
                        });
                    });
                    let (sc, mins, d, dmin) = k4_x4_header(col);
                    let bs = vpaddq_s16(ld_s16(sub(&y.bsums, 0)), ld_s16(sub(&y.bsums, 8)));
                    let pm = [
                        vmlal_laneq_s16::<4>(vmull_laneq_s16::<0>(vget_low_s16(mins[0]), bs), vget_low_s16(mins[2]), bs),
                        vmlal_high_laneq_s16::<5>(vmull_high_laneq_s16::<1>(mins[0], bs), mins[2], bs),
                        vmlal_laneq_s16::<6>(vmull_laneq_s16::<2>(vget_low_s16(mins[1]), bs), vget_low_s16(mins[3]), bs),
                        vmlal_high_laneq_s16::<7>(vmull_high_laneq_s16::<3>(mins[1], bs), mins[3], bs),
                    ];
                    let dy = vmulq_n_f32(d, y.d);
                    let dmy = vmulq_n_f32(dmin, y.d);
                    for j in 0..4 {
                        let isum = vmlaq_s32(vmulq_s32(s[j], sc[j]), s[j + 4], sc[j + 4]);
                        acc[j] = vfmaq_f32(acc[j], vcvtq_f32_s32(isum), dy);
                        accm[j] = vfmaq_f32(accm[j], vcvtq_f32_s32(pm[j]), dmy);
                    }
                }
                row_totals(core::array::from_fn(|j| vsubq_f32(acc[j], accm[j])))
            }

            /// Q6_K for the 8 rows of an interleaved group (two columns of 4 rows), as
            /// [`k4_x8`].
            #[target_feature(enable = $feat)]
            #[inline]
            pub(in crate::kernels::arm) fn q6k_x8<const M: usize>(
                group: &[u8],
                ar: [&[BlockQ8K]; M],
            ) -> [[f32; 8]; M] {
                by_halves!(group, ar, q6k_x4)
            }

            /// Q6_K decode of 4 rows stored as [`interleave::Q6K_COLUMN`] columns, one row per
            /// lane (see [`k4_x4`]). Each triple of units gives, by the row-major kernel's SLI /
            /// SRI steps ([`q6k_quarter`]), 4 elements of 4 sub-blocks for the 4 rows (`q + 32`),
            /// each multiplied by 4 activation bytes with one dot by element. Per row and lane
            /// `j` the integer is the row-major kernel's, `Σ_g s[4g+j]·(S[4g+j] − 32·b[4g+j])`
            /// (exact in i32), and so is the f32 step (`fma` by `d·y.d`, lanes summed as
            /// `vaddvq_f32`): the same bits.
            #[target_feature(enable = $feat)]
            #[inline]
            fn q6k_x4(cols: &[u8], a: &[BlockQ8K]) -> [f32; 4] {
                use crate::quant::interleave::{q6k_at, Q6K_COLUMN};
                let nb = a.len();
                assert!(cols.len() == nb * Q6K_COLUMN);
                let (cols, _) = cols.as_chunks::<Q6K_COLUMN>();
                let mut acc = [vdupq_n_f32(0.0); 4];
                let m2 = vdupq_n_u8(0x03);
                let m30 = vdupq_n_u8(0x30);
                for i in 0..nb {
                    let col = &cols[i];
                    let y = &a[i];
                    let yq = qs_base(y);
                    // the scales: sc16[p] holds sub-blocks 2p (lanes 0..4) and 2p + 1 (4..8)
                    let sc16: [int16x8_t; 8] = core::array::from_fn(|p| {
                        let v = vreinterpretq_s8_u8(ld_u8(sub(col, q6k_at::SC + 16 * (p / 2))));
                        if p % 2 == 0 {
                            vmovl_s8(vget_low_s8(v))
                        } else {
                            vmovl_high_s8(v)
                        }
                    });
                    let sc32 = |s: usize| {
                        if s % 2 == 0 {
                            vmovl_s16(vget_low_s16(sc16[s / 2]))
                        } else {
                            vmovl_high_s16(sc16[s / 2])
                        }
                    };
                    let mut isum = [vdupq_n_s32(0); 4];
                    unroll8!(N in 2 => {
                        // sub-block 8N + t's dot for the 4 rows in s[t]
                        let mut s = [vdupq_n_s32(0); 8];
                        unroll8!(E => {
                            let at = q6k_at::TRIPLES + 48 * (8 * N + E);
                            let qa = ld_u8(sub(col, at));
                            let qb = ld_u8(sub(col, at + 16));
                            let qh = ld_u8(sub(col, at + 32));
                            let qh2 = vshrq_n_u8::<2>(qh);
                            let v = [
                                vreinterpretq_s8_u8(vsliq_n_u8::<4>(qa, vandq_u8(qh, m2))),
                                vreinterpretq_s8_u8(vsliq_n_u8::<4>(qb, vandq_u8(qh2, m2))),
                                vreinterpretq_s8_u8(vsriq_n_u8::<4>(vandq_u8(qh, m30), qa)),
                                vreinterpretq_s8_u8(vsriq_n_u8::<4>(qh2, qb)),
                            ];
                            // v[K]: elements 128N + 32K + 4E.., sub-block 8N + 2K + E / 4
                            unroll8!(K in 4 => {
                                let t = 2 * K + E / 4;
                                let yv = ld_qs(yq, 128 * N + 32 * K + 16 * (E / 4));
                                s[t] = $dot_lane::<{ (E % 4) as i32 }>(s[t], v[K], yv);
                            });
                        });
                        unroll8!(T => {
                            isum[T % 4] = vmlaq_s32(isum[T % 4], s[T], sc32(8 * N + T));
                        });
                    });
                    // less 32 · scale · (the activations' sum) per sub-block
                    let (b0, b1) = (ld_s16(sub(&y.bsums, 0)), ld_s16(sub(&y.bsums, 8)));
                    let sc16x32: [int16x8_t; 8] = core::array::from_fn(|p| vshlq_n_s16::<5>(sc16[p]));
                    unroll8!(P => {
                        // sub-blocks 2P (j = 2P % 4) and 2P + 1
                        let b = if P < 4 { b0 } else { b1 };
                        let j = (2 * P) % 4;
                        isum[j] = vmlsl_laneq_s16::<{ ((2 * P) % 8) as i32 }>(isum[j], vget_low_s16(sc16x32[P]), b);
                        isum[j + 1] = vmlsl_high_laneq_s16::<{ ((2 * P + 1) % 8) as i32 }>(isum[j + 1], sc16x32[P], b);
                    });
                    // SAFETY: `sub` checked the 8 bytes; `vld1` has no alignment requirement.
                    let d = unsafe { vld1_u8(sub::<8, _, _>(col, q6k_at::D).as_ptr()) };
                    let d = h2f4(vreinterpret_u16_u8(d));
                    let dy = vmulq_n_f32(d, y.d);
                    for j in 0..4 {
                        acc[j] = vfmaq_f32(acc[j], vcvtq_f32_s32(isum[j]), dy);
                    }
                }
                row_totals(acc)
            }

            /// One interleaved Q4_K column's scales (`[s]`: sub-block `s`'s for the 4 rows, as
            /// i32), minimums (`[p]`: sub-blocks `2p` and `2p + 1`, rows in lanes 0..4 and
            /// 4..8, as i16), `d` and `dmin` of the 4 rows as f32.
            #[inline(always)]
            fn k4_x4_header(
                col: &[u8; crate::quant::interleave::Q4K_COLUMN],
            ) -> ([int32x4_t; 8], [int16x8_t; 4], float32x4_t, float32x4_t) {
                use crate::quant::interleave::q4k_at;
                // SAFETY: baseline Advanced SIMD only (always present on aarch64); the loads
                // read 16 bytes each inside `col` (`sub` checks the ranges).
                unsafe {
                    let [d, dmin] = h2f8(vreinterpretq_u16_u8(ld_u8(sub(col, q4k_at::D))));
                    let l0 = ld_u8(sub(col, q4k_at::L0));
                    let l1 = ld_u8(sub(col, q4k_at::L1));
                    let t = ld_u8(sub(col, q4k_at::T));
                    let m4 = vdupq_n_u8(0x0F);
                    let m30 = vdupq_n_u8(0x30);
                    // bytes 4s + r: row r's field of sub-block s (a) or 4 + s (b)
                    let sc_a = vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8::<4>(t), m30));
                    let m_a = vorrq_u8(vshrq_n_u8::<4>(l0), vandq_u8(vshlq_n_u8::<2>(t), m30));
                    let sc_b = vorrq_u8(vandq_u8(l1, m4), vandq_u8(t, m30));
                    let m_b = vorrq_u8(vshrq_n_u8::<4>(l1), vandq_u8(vshrq_n_u8::<2>(t), m30));
                    let wide = |v: uint8x16_t| {
                        let (w0, w1) = (vmovl_u8(vget_low_u8(v)), vmovl_high_u8(v));
                        [
                            vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w0))),
                            vreinterpretq_s32_u32(vmovl_high_u16(w0)),
                            vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w1))),
                            vreinterpretq_s32_u32(vmovl_high_u16(w1)),
                        ]
                    };
                    let (a, b) = (wide(sc_a), wide(sc_b));
                    let sc = [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]];
                    let s16 = vreinterpretq_s16_u16;
                    let mins = [
                        s16(vmovl_u8(vget_low_u8(m_a))),
                        s16(vmovl_high_u8(m_a)),
                        s16(vmovl_u8(vget_low_u8(m_b))),
                        s16(vmovl_high_u8(m_b)),
                    ];
                    (sc, mins, d, dmin)
                }
            }

            /// One Q6_K super-block row with one activation block, accumulated as the batches'
            /// [`q6k_accumulate`] does, with 4 zeroed accumulators instead of 16.
            ///
            /// Lane `j` of the batches' scaled sum is `Σ_g s[4g + j] · S[4g + j]` (sub-block
            /// sums `S`, scales `s`, `g` = 0..4). Here one accumulator per lane runs through
            /// its 4 sub-blocks in order, so after step `g` its lanes total the running sum
            /// `C[g] = S[j] + … + S[4g + j]`, and `Σ_g C[g] · (s[4g + j] − s[4g + 4 + j])`
            /// (with `s[16 + j]` = 0) is the same integer: summation by parts. The i32
            /// products may wrap, but i32 arithmetic is exact modulo 2³², and the true value
            /// (at most 4 · 127 · 16 · 63 · 127 in size) fits, so every lane holds the batches'
            /// exact integer and the f32 steps after it are theirs: the same bits. Each
            /// `sdot` of the batches starts from a zeroed register (one `movi` each, 16 per
            /// row and super-block, 12% of the decode loop's instructions).
            #[inline(always)]
            fn q6k_decode_accumulate(b: &BlockQ6K, y: &BlockQ8K, acc: &mut float32x4_t) {
                // SAFETY: inlined only into this tier's target-feature kernels (reached only
                // on a CPU with the tier), so the tier's instructions exist.
                unsafe {
                    let (sc16, sc, d) = q6k_header(b);
                    let step = [
                        vsubq_s32(sc[0], sc[1]),
                        vsubq_s32(sc[1], sc[2]),
                        vsubq_s32(sc[2], sc[3]),
                        sc[3],
                    ];
                    let mut c = [vdupq_n_s32(0); 4];
                    let mut isum = vdupq_n_s32(0);
                    let yq = qs_base(y);
                    unroll8!(N in 2 => {
                        // vector 8N + 2k + H of the super-block is sub-block 4g + j with
                        // g = 2N + k / 2, j = 2 (k % 2) + H
                        let v = [q6k_quarter(b, N, 0), q6k_quarter(b, N, 1)];
                        unroll8!(G in 2 => {
                            unroll8!(J in 4 => {
                                let (k, h) = (2 * G + J / 2, J % 2);
                                let yv = ld_qs(yq, 128 * N + 32 * k + 16 * h);
                                c[J] = $dot(c[J], v[h][k], yv);
                            });
                            let t = vpaddq_s32(vpaddq_s32(c[0], c[1]), vpaddq_s32(c[2], c[3]));
                            isum = vmlaq_s32(isum, t, step[2 * N + G]);
                        });
                    });
                    q6k_finish(isum, sc16, d, y, acc);
                }
            }

            /// Decode: 4 rows with one activation row (see [`k4_decode4`]); the same bits as
            /// [`q6k`]'s batches.
            #[target_feature(enable = $feat)]
            fn q6k_decode4(ctx: &Ctx<'_, BlockQ6K>, r: usize, t: usize) -> [f32; 4] {
                let nb = ctx.bpr;
                let wr: [&[BlockQ6K]; 4] = ctx.wrows::<4>(r);
                let [a]: [&[BlockQ8K]; 1] = ctx.q8k_rows::<1>(ctx.t0 + t);
                let mut out = [0.0f32; 4];
                // One row after the other: with 4 rows in flight the 16 activation vectors
                // and 4 rows' values did not fit the 32 registers (spills and reloads, 133
                // instructions per row and super-block against 120 this way, `--syms`).
                for (w, o) in wr.iter().zip(&mut out) {
                    assert!(w.len() == nb && a.len() == nb);
                    let mut acc = vdupq_n_f32(0.0);
                    for (b, y) in w.iter().zip(a) {
                        q6k_decode_accumulate(b, y, &mut acc);
                    }
                    *o = vaddvq_f32(acc);
                }
                out
            }

            #[target_feature(enable = $feat)]
            fn q6k<const R: usize, const M: usize>(
                ctx: &Ctx<'_, BlockQ6K>,
                r: usize,
                t: usize,
            ) -> [[f32; M]; R] {
                let mut out = [[0.0f32; M]; R];
                if M == 1 && R == 4 {
                    let o = q6k_decode4(ctx, r, t);
                    for k in 0..R {
                        out[k][0] = o[k];
                    }
                    return out;
                }
                let nb = ctx.bpr;
                let t = ctx.t0 + t;
                let wr: [&[BlockQ6K]; R] = ctx.wrows::<R>(r);
                let ar: [&[BlockQ8K]; M] = ctx.q8k_rows::<M>(t);
                for a in &ar {
                    assert!(a.len() == nb);
                }
                let mut acc = [[vdupq_n_f32(0.0); M]; R];
                for i in 0..nb {
                    for k in 0..R {
                        let b = &wr[k][i];
                        let q = q6k_values(b);
                        let header = q6k_header(b);
                        for j in 0..M {
                            let y = &ar[j][i];
                            let p: [int32x4_t; 16] = core::array::from_fn(|s| {
                                $dot(vdupq_n_s32(0), q[s], ld_s8(sub(&y.qs, 16 * s)))
                            });
                            let [s0, s1] = sums8(*sub::<8, _, 16>(&p, 0));
                            let [s2, s3] = sums8(*sub::<8, _, 16>(&p, 8));
                            q6k_accumulate(header, [s0, s1, s2, s3], y, &mut acc[k][j]);
                        }
                    }
                }
                for k in 0..R {
                    for j in 0..M {
                        out[k][j] = vaddvq_f32(acc[k][j]);
                    }
                }
                out
            }

            #[target_feature(enable = $feat)]
            fn t_q6k(
                w: &QMatrix,
                a: &QActs,
                rows: Range<usize>,
                ts: Range<usize>,
                res: &mut [f32],
            ) {
                let ctx = Ctx {
                    w: w.blocks::<BlockQ6K>(rows.clone()),
                    bpr: w.blocks_per_row(),
                    a,
                    t0: ts.start,
                };
                tile_loop!(q6k, ctx, rows.len(), ts.len(), res);
            }

            fn tile_q6k(
                w: &QMatrix,
                a: &QActs,
                rows: Range<usize>,
                ts: Range<usize>,
                res: &mut [f32],
            ) {
                // SAFETY: as in `tile_small`.
                unsafe { t_q6k(w, a, rows, ts, res) }
            }

            #[target_feature(enable = $feat)]
            fn float<W: FloatW, const R: usize, const M: usize>(
                ctx: &Ctx<'_, W>,
                r: usize,
                t: usize,
            ) -> [[f32; M]; R] {
                let n = ctx.bpr;
                let t = ctx.t0 + t;
                let wr: [&[W]; R] = ctx.wrows::<R>(r);
                let ar: [&[f32]; M] = core::array::from_fn(|j| ctx.a.f32_row(t + j));
                for a in &ar {
                    assert!(a.len() == n);
                }
                for w in &wr {
                    assert!(w.len() == n);
                }
                let mut acc = [[vdupq_n_f32(0.0); M]; R];
                // 8 values per step: one load of 8 weights (one LDR Q and FCVTL/FCVTL2 for
                // f16), no bounds checks; each accumulator gets the same two multiply-adds in
                // the same order as two 4-value steps, so the bits are those of the 4-value
                // loop below (which takes a remaining 4).
                let n8 = n / 8 * 8;
                let n4 = n / 4 * 4;
                for i in (0..n8).step_by(8) {
                    // SAFETY: `i + 8 <= n8 <= n`, and every weight and activation row holds `n`
                    // values (asserted above).
                    let ys: [[float32x4_t; 2]; M] = core::array::from_fn(|j| unsafe {
                        let p = ar[j].as_ptr().add(i);
                        [vld1q_f32(p), vld1q_f32(p.add(4))]
                    });
                    for k in 0..R {
                        // SAFETY: as above.
                        let [x0, x1] = unsafe { load8::<W>(wr[k].as_ptr().add(i)) };
                        for j in 0..M {
                            acc[k][j] = vfmaq_f32(acc[k][j], x0, ys[j][0]);
                            acc[k][j] = vfmaq_f32(acc[k][j], x1, ys[j][1]);
                        }
                    }
                }
                for i in (n8..n4).step_by(4) {
                    let ys: [float32x4_t; M] =
                        core::array::from_fn(|j| ld_f32(ar[j][i..i + 4].try_into().unwrap()));
                    for k in 0..R {
                        let x = load4::<W>(wr[k][i..i + 4].try_into().unwrap());
                        for j in 0..M {
                            acc[k][j] = vfmaq_f32(acc[k][j], x, ys[j]);
                        }
                    }
                }
                let mut out = [[0.0f32; M]; R];
                for k in 0..R {
                    for j in 0..M {
                        let mut s = vaddvq_f32(acc[k][j]);
                        for i in n4..n {
                            s += W::one(wr[k][i]) * ar[j][i];
                        }
                        out[k][j] = s;
                    }
                }
                out
            }

            #[target_feature(enable = $feat)]
            fn t_float<W: FloatW>(
                w: &QMatrix,
                a: &QActs,
                rows: Range<usize>,
                ts: Range<usize>,
                res: &mut [f32],
            ) {
                let ctx = Ctx {
                    w: w.blocks::<W>(rows.clone()),
                    bpr: w.blocks_per_row(),
                    a,
                    t0: ts.start,
                };
                tile_loop!(float<W>, ctx, rows.len(), ts.len(), res);
            }

            fn tile_float<W: FloatW>(
                w: &QMatrix,
                a: &QActs,
                rows: Range<usize>,
                ts: Range<usize>,
                res: &mut [f32],
            ) {
                // SAFETY: as in `tile_small`.
                unsafe { t_float::<W>(w, a, rows, ts, res) }
            }
        }
    };
}

/// The attention kernels of every aarch64 tier (NEON).
const ATTENTION: AttentionKernels = AttentionKernels {
    scores: attention::scores,
    accum: attention::accum,
    exp_sum: attention::exp_sum,
};

// The tiers (after the macro they expand), and the float kernels they share.
#[macro_use]
mod lowbit;
mod attention;
pub(crate) mod dotprod;
mod glu;
pub(crate) mod i8mm;
pub(crate) mod neon;
