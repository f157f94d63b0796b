//! The i8mm tier (NEON + SDOT + SMMLA, ARMv8.6): 2 weight rows × 2 (or 4) activation rows per
//! SMMLA tile for the 32-element formats' batches; the dotprod tier's kernels for single rows,
//! the k-quants and the interleaved layout (same bits).

use core::arch::asm;

use super::dotprod::sdot;
use super::*;
use crate::kernels::interleaved::deinterleave_from_m;
use crate::kernels::table::TierKernels;
use crate::kernels::Act32Pair;

/// The i8mm tier's kernels.
pub(crate) static KERNELS: TierKernels = TierKernels {
    tile: |ty| {
        tile_fn(ty)
            .or_else(|| sdot::tile_fn(ty))
            .or_else(|| super::dotprod::lowbit_sdot::tile_fn(ty))
    },
    interleaved_tile: crate::kernels::interleaved::tile::<5>,
    group_gemm: sdot::group_gemm,
    interleaved_batch_tile: |_| None,
    deinterleave_from_m: deinterleave_from_m::two,
    tile_acts: |_| crate::kernels::TILE_ACTS,
    act_pairs: true,
    quantizers: None,
    glu: Some(super::glu::glu),
    silu: Some(super::glu::silu),
    softcap: Some(super::glu::softcap),
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

/// Weight rows `r, r + 1` × activation rows `t .. t + 2P` from their pairs (`pairs[p]`: rows
/// `t + 2p, t + 2p + 1`, [`crate::kernels::Act32Pair`], paired once per batch at quantization):
/// with 4 pairs each weight block is decoded and zipped once for 8 activation rows. Per lane
/// the same exact integer sum and the same f32 operations as the dotprod tier's kernels, so
/// the same bits.
#[target_feature(enable = "neon,dotprod,i8mm")]
fn small_mm_pairs<W: SmallW, const P: usize>(
    ctx: &Ctx<'_, W>,
    r: usize,
    pairs: [&[Act32Pair]; P],
) -> [[f32; 4]; P] {
    let nb = ctx.bpr;
    let wr: [&[W]; 2] = ctx.wrows::<2>(r);
    for p in &pairs {
        assert!(p.len() == nb);
    }
    // acc[p] lanes: [w0·a, w0·b, w1·a, w1·b] for pair p's rows a, b
    let mut acc = [vdupq_n_f32(0.0); P];
    let mut accm = [vdupq_n_f32(0.0); P];
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
        for p in 0..P {
            let y = &pairs[p][i];
            let mut c = vdupq_n_s32(0);
            for (k, w) in wa.iter().enumerate() {
                c = smmla(c, *w, ld_s8(sub(&y.qs, 16 * k)));
            }
            let da = ld_f32(&y.d);
            acc[p] = vfmaq_f32(acc[p], vcvtq_f32_s32(c), vmulq_f32(dw, da));
            if W::MIN {
                let sa = vreinterpretq_f32_u32(ld_u32(&y.aux));
                accm[p] = vfmaq_f32(accm[p], mw, sa);
            }
        }
    }
    let mut out = [[0.0f32; 4]; P];
    for p in 0..P {
        // SAFETY: `out[p]` is 4 writable f32; `vst1q` has no alignment requirement.
        unsafe { vst1q_f32(out[p].as_mut_ptr(), vaddq_f32(acc[p], accm[p])) };
    }
    out
}

/// Stores [`small_mm_pairs`]' lanes: pair `p`'s `[w0·a, w0·b, w1·a, w1·b]` into rows `r, r + 1`,
/// activation rows `t + 2p, t + 2p + 1` of the tile result.
#[inline(always)]
fn store_pairs<const P: usize>(res: &mut [f32], nt: usize, r: usize, t: usize, v: [[f32; 4]; P]) {
    for (p, l) in v.iter().enumerate() {
        let j = t + 2 * p;
        res[r * nt + j] = l[0];
        res[r * nt + j + 1] = l[1];
        res[(r + 1) * nt + j] = l[2];
        res[(r + 1) * nt + j + 1] = l[3];
    }
}

/// Activation rows `t .. t + 2P` in pairs, if the activations hold them.
#[inline(always)]
fn act_pairs<const P: usize>(a: &QActs, t: usize) -> Option<[&[Act32Pair]; P]> {
    let mut out: [&[Act32Pair]; P] = [&[]; P];
    for (p, o) in out.iter_mut().enumerate() {
        *o = a.a32_pairs(t + 2 * p)?;
    }
    Some(out)
}

/// Weight rows `0..nr` (in pairs, the odd last one by SDOT) × activation rows `t .. t + 2P`
/// from their pairs.
#[target_feature(enable = "neon,dotprod,i8mm")]
fn rows_by_pairs<W: SmallW, const P: usize>(
    ctx: &Ctx<'_, W>,
    res: &mut [f32],
    nr: usize,
    nt: usize,
    t: usize,
    pairs: [&[Act32Pair]; P],
) {
    let nr2 = nr / 2 * 2;
    let mut r = 0;
    while r < nr2 {
        store_pairs::<P>(res, nt, r, t, small_mm_pairs::<W, P>(ctx, r, pairs));
        r += 2;
    }
    if nr2 < nr {
        for p in 0..P {
            let v = sdot::small::<W, 1, 2>(ctx, nr2, t + 2 * p);
            store::<1, 2>(res, nt, nr2, t + 2 * p, v);
        }
    }
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
    // activation pairs built at quantization: 8, then 4, then 2 rows at a time
    let mut t = 0;
    while nt - t >= 2 {
        let at = ts.start + t;
        let step = if nt - t >= 8 {
            8
        } else if nt - t >= 4 {
            4
        } else {
            2
        };
        let done = match step {
            8 => act_pairs::<4>(a, at).map(|p| rows_by_pairs::<W, 4>(&ctx, res, nr, nt, t, p)),
            4 => act_pairs::<2>(a, at).map(|p| rows_by_pairs::<W, 2>(&ctx, res, nr, nt, t, p)),
            _ => act_pairs::<1>(a, at).map(|p| rows_by_pairs::<W, 1>(&ctx, res, nr, nt, t, p)),
        };
        if done.is_none() {
            break;
        }
        t += step;
    }
    // the rest (an odd last activation row, or activations quantized without pairs): one
    // activation row at a time with the dotprod tier's kernels (same bits)
    for j in t..nt {
        let mut r = 0;
        while r < nr {
            if nr - r >= 4 {
                store::<4, 1>(res, nt, r, j, sdot::small::<W, 4, 1>(&ctx, r, j));
                r += 4;
            } else {
                store::<1, 1>(res, nt, r, j, sdot::small::<W, 1, 1>(&ctx, r, j));
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
