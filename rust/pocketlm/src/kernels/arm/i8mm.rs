//! The i8mm tier (NEON + SDOT + SMMLA, ARMv8.6): 2 weight rows × 2 (or 4) activation rows per
//! SMMLA tile for the 32-element formats' batches; the dotprod tier's kernels for single rows,
//! the k-quants and the interleaved layout (same bits).

use core::arch::asm;

use super::dotprod::sdot;
use super::*;
use crate::kernels::interleaved::deinterleave_from_m;
use crate::kernels::table::TierKernels;

/// The i8mm tier's kernels.
pub(crate) static KERNELS: TierKernels = TierKernels {
    tile: |ty| tile_fn(ty).or_else(|| sdot::tile_fn(ty)),
    interleaved_tile: crate::kernels::interleaved::tile::<5>,
    group_gemm: sdot::group_gemm,
    deinterleave_from_m: deinterleave_from_m::two,
    quantizers: None,
    glu: Some(crate::kernels::act::neon::glu),
    attention: Some(ATTENTION),
};

/// 2×2 block of 8-element dot products (SMMLA): lanes `[a0·b0, a0·b1, a1·b0, a1·b1]` where
/// `a0`/`a1` are the low/high 8 bytes of `a` (and likewise `b`).
#[inline]
#[target_feature(enable = "dotprod,i8mm")]
fn smmla(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: compiled with `i8mm` and only called from functions that have it (reached only
    // under Tier::I8mm after detection); SMMLA touches only the named vector registers.
    unsafe {
        asm!(
            "smmla {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    acc
}

pub(super) fn tile_fn(ty: GgmlType) -> Option<TileFn> {
    Some(match ty {
        GgmlType::Q4_0 => tile_small::<BlockQ4_0>,
        GgmlType::Q4_1 => tile_small::<BlockQ4_1>,
        GgmlType::Q5_0 => tile_small::<BlockQ5_0>,
        GgmlType::Q5_1 => tile_small::<BlockQ5_1>,
        GgmlType::Q8_0 => tile_small::<BlockQ8_0>,
        _ => return None,
    })
}

#[inline]
#[target_feature(enable = "neon")]
fn zip1(a: int8x16_t, b: int8x16_t) -> int8x16_t {
    vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)))
}

#[inline]
#[target_feature(enable = "neon")]
fn zip2(a: int8x16_t, b: int8x16_t) -> int8x16_t {
    vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)))
}

/// Weight rows `r, r + 1` × activation rows `t .. t + M` (`M` = 2 or 4).
#[target_feature(enable = "neon,dotprod,i8mm")]
fn small_mm<W: SmallW, const M: usize>(ctx: &Ctx<'_, W>, r: usize, t: usize) -> [[f32; M]; 2] {
    let nb = ctx.bpr;
    let t = ctx.t0 + t;
    let wr: [&[W]; 2] = ctx.wrows::<2>(r);
    let ar: [&[Act32]; M] = ctx.a32_rows::<M>(t);
    for a in &ar {
        assert!(a.len() == nb);
    }
    // acc[p] lanes: [w0·a(2p), w0·a(2p+1), w1·a(2p), w1·a(2p+1)]
    let mut acc = [vdupq_n_f32(0.0); M];
    let mut accm = [vdupq_n_f32(0.0); M];
    for i in 0..nb {
        let (x00, x01, d0, m0) = decode(&wr[0][i]);
        let (x10, x11, d1, m1) = decode(&wr[1][i]);
        let wa = [
            zip1(x00, x10),
            zip2(x00, x10),
            zip1(x01, x11),
            zip2(x01, x11),
        ];
        let dw = vcombine_f32(vdup_n_f32(d0), vdup_n_f32(d1));
        let mw = vcombine_f32(vdup_n_f32(m0), vdup_n_f32(m1));
        for p in 0..M / 2 {
            let (ya, yb) = (&ar[2 * p][i], &ar[2 * p + 1][i]);
            let (a0, a1) = (ld_s8(sub(&ya.qs, 0)), ld_s8(sub(&ya.qs, 16)));
            let (b0, b1) = (ld_s8(sub(&yb.qs, 0)), ld_s8(sub(&yb.qs, 16)));
            let mut c = vdupq_n_s32(0);
            c = smmla(c, wa[0], zip1(a0, b0));
            c = smmla(c, wa[1], zip2(a0, b0));
            c = smmla(c, wa[2], zip1(a1, b1));
            c = smmla(c, wa[3], zip2(a1, b1));
            let da = ld_f32(&[ya.d, yb.d, ya.d, yb.d]);
            acc[p] = vfmaq_f32(acc[p], vcvtq_f32_s32(c), vmulq_f32(dw, da));
            if W::MIN {
                accm[p] = vfmaq_f32(accm[p], mw, ld_f32(&[ya.s(), yb.s(), ya.s(), yb.s()]));
            }
        }
    }
    let mut out = [[0.0f32; M]; 2];
    for p in 0..M / 2 {
        let mut lanes = [0.0f32; 4];
        // SAFETY: `lanes` is 4 writable f32; `vst1q` has no alignment requirement.
        unsafe { vst1q_f32(lanes.as_mut_ptr(), vaddq_f32(acc[p], accm[p])) };
        out[0][2 * p] = lanes[0];
        out[0][2 * p + 1] = lanes[1];
        out[1][2 * p] = lanes[2];
        out[1][2 * p + 1] = lanes[3];
    }
    out
}

#[target_feature(enable = "neon,dotprod,i8mm")]
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
    let (nr, nt) = (rows.len(), ts.len());
    let (nr2, nt2) = (nr / 2 * 2, nt / 2 * 2);
    let mut t = 0;
    while t < nt2 {
        let m = if nt2 - t >= 4 { 4 } else { 2 };
        let mut r = 0;
        while r < nr2 {
            if m == 4 {
                store::<2, 4>(res, nt, r, t, small_mm::<W, 4>(&ctx, r, t));
            } else {
                store::<2, 2>(res, nt, r, t, small_mm::<W, 2>(&ctx, r, t));
            }
            r += 2;
        }
        if nr2 < nr {
            if m == 4 {
                store::<1, 4>(res, nt, nr2, t, sdot::small::<W, 1, 4>(&ctx, nr2, t));
            } else {
                store::<1, 2>(res, nt, nr2, t, sdot::small::<W, 1, 2>(&ctx, nr2, t));
            }
        }
        t += m;
    }
    if nt2 < nt {
        // the last odd activation row (all of them when m = 1): SDOT, 4 rows at a time
        let mut r = 0;
        while r < nr {
            if nr - r >= 4 {
                store::<4, 1>(res, nt, r, nt2, sdot::small::<W, 4, 1>(&ctx, r, nt2));
                r += 4;
            } else {
                store::<1, 1>(res, nt, r, nt2, sdot::small::<W, 1, 1>(&ctx, r, nt2));
                r += 1;
            }
        }
    }
}

fn tile_small<W: SmallW>(
    w: &QMatrix,
    a: &QActs,
    rows: Range<usize>,
    ts: Range<usize>,
    res: &mut [f32],
) {
    // SAFETY: handed out only by the i8mm tier's table, which `Tier::kernels` gives out only on
    // a CPU with dotprod + i8mm.
    unsafe { t_small::<W>(w, a, rows, ts, res) }
}
