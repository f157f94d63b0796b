//! The AVX-512 tier's float kernels (F32, F16, BF16 weights; f32 activations, already rounded
//! to the weight precision by `QActs`): two activation rows per zmm.
//!
//! Why: a LoRA adapter's `A·x` (`rank` rows × the matrix's inputs, a prompt's pieces of 8
//! tokens) runs on these kernels, and the AVX2 one (`avx2.rs`) does one 8-lane fused
//! multiply-add per weight row, activation row and 8 inputs. Here the low 256 bits of a zmm
//! hold activation row `t`'s 8 inputs and the high 256 bits row `t + 1`'s, against the weight
//! row's 8 values broadcast to both halves: half the multiply-adds, 4 weight rows × 8
//! activation rows in 16 zmm accumulators, each weight vector loaded once for 8 activation rows.
//!
//! Bit-identical to the AVX2 tier (tested: `tests/kernels.rs`): each half of an accumulator
//! receives the same fused multiply-adds in the same order as the AVX2 kernel's ymm for that
//! (weight row, activation row), is reduced by the same [`hsum`], and the inputs past the last
//! multiple of 8 are added by the same scalar loop. An odd last activation row goes to the AVX2
//! kernel.

use super::avx2::float_tile_fn;
use super::*;
use crate::quant::GgmlType;

/// The F32/F16/BF16 tile of the AVX-512 tier.
pub(super) fn tile_fn(ty: GgmlType) -> Option<TileFn> {
    match ty {
        GgmlType::F32 => Some(tile512_f32 as TileFn),
        GgmlType::F16 => Some(tile512_f16),
        GgmlType::BF16 => Some(tile512_bf16),
        _ => None,
    }
}

/// `x` in both 256-bit halves.
#[target_feature(enable = "avx2,fma,f16c,avx512f")]
#[inline]
fn both_halves(x: __m256) -> __m512 {
    _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(x)))
}

/// Activation rows `a` (low half) and `b` (high half), inputs `i..i + 8`.
#[target_feature(enable = "avx2,fma,f16c,avx512f")]
#[inline]
fn pair(a: &[f32], b: &[f32], i: usize) -> __m512 {
    let lo = _mm512_castps256_ps512(ld_f32x8(sub8(a, i)));
    let hi = _mm256_castps_pd(ld_f32x8(sub8(b, i)));
    _mm512_castpd_ps(_mm512_insertf64x4::<1>(_mm512_castps_pd(lo), hi))
}

#[inline(always)]
fn sub8<T>(x: &[T], i: usize) -> &[T; 8] {
    x[i..i + 8].try_into().unwrap()
}

/// The two halves of `v` (activation rows `t`, `t + 1`).
#[target_feature(enable = "avx2,fma,f16c,avx512f")]
#[inline]
fn halves(v: __m512) -> [__m256; 2] {
    let pd = _mm512_castps_pd(v);
    [
        _mm256_castpd_ps(_mm512_castpd512_pd256(pd)),
        _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(pd)),
    ]
}

macro_rules! float512_kernel {
    ($kern:ident, $tile:ident, $entry:ident, $ty:expr, $W:ty, |$c:ident| $load8:expr,
     |$s:ident| $one:expr) => {
        /// Weight rows `r..r + R` × activation rows `t..t + 2P` (of the tile): `[k][p]` holds
        /// rows `t + 2p` and `t + 2p + 1`.
        #[target_feature(enable = "avx2,fma,f16c,avx512f")]
        fn $kern<const R: usize, const P: usize>(
            ctx: &Ctx<'_, $W>,
            r: usize,
            t: usize,
        ) -> [[[f32; 2]; P]; R] {
            let n = ctx.bpr;
            let t = ctx.t0 + t;
            let wr: [&[$W]; R] = ctx.wrows::<R>(r);
            let mut ar: [&[f32]; 8] = [&[]; 8];
            for (j, a) in ar.iter_mut().enumerate().take(2 * P) {
                *a = ctx.a.f32_row(t + j);
                assert!(a.len() == n);
            }
            for w in &wr {
                assert!(w.len() == n);
            }
            let mut acc = [[_mm512_setzero_ps(); P]; R];
            let n8 = n / 8 * 8;
            for i in (0..n8).step_by(8) {
                let mut ys = [_mm512_setzero_ps(); P];
                for (p, y) in ys.iter_mut().enumerate() {
                    *y = pair(ar[2 * p], ar[2 * p + 1], i);
                }
                for k in 0..R {
                    let $c: &[$W; 8] = sub8(wr[k], i);
                    let x: __m512 = $load8;
                    for p in 0..P {
                        acc[k][p] = _mm512_fmadd_ps(x, ys[p], acc[k][p]);
                    }
                }
            }
            let mut out = [[[0.0f32; 2]; P]; R];
            for k in 0..R {
                for p in 0..P {
                    for (h, v) in halves(acc[k][p]).into_iter().enumerate() {
                        let a = ar[2 * p + h];
                        let mut s = hsum(v);
                        for i in n8..n {
                            let $s = wr[k][i];
                            s += $one * a[i];
                        }
                        out[k][p][h] = s;
                    }
                }
            }
            out
        }

        #[target_feature(enable = "avx2,fma,f16c,avx512f")]
        fn $tile(w: &QMatrix, a: &QActs, rows: Range<usize>, ts: Range<usize>, res: &mut [f32]) {
            let ctx = Ctx {
                w: w.blocks::<$W>(rows.clone()),
                bpr: w.blocks_per_row(),
                a,
                t0: ts.start,
            };
            let (nr, nt) = (rows.len(), ts.len());
            let mut t = 0;
            while t + 2 <= nt {
                let p = ((nt - t) / 2).min(4);
                match p {
                    4 => walk_rows::<4, _>(&ctx, nr, nt, t, res, $kern::<4, 4>, $kern::<1, 4>),
                    3 => walk_rows::<3, _>(&ctx, nr, nt, t, res, $kern::<4, 3>, $kern::<1, 3>),
                    2 => walk_rows::<2, _>(&ctx, nr, nt, t, res, $kern::<4, 2>, $kern::<1, 2>),
                    _ => walk_rows::<1, _>(&ctx, nr, nt, t, res, $kern::<4, 1>, $kern::<1, 1>),
                }
                t += 2 * p;
            }
            if t < nt {
                // the odd last activation row: the AVX2 kernel (the same bits)
                let avx2 = float_tile_fn($ty).expect("an AVX2 float tile");
                let mut one = [0.0f32; 16];
                let one = &mut one[..nr];
                avx2(w, a, rows, ts.start + t..ts.end, one);
                for (i, v) in one.iter().enumerate() {
                    res[i * nt + t] = *v;
                }
            }
        }

        tile_entry!($entry, $tile);
    };
}

/// A kernel of [`float512_kernel!`]: `R` weight rows × `P` pairs of activation rows.
type Kernel<W, const R: usize, const P: usize> =
    unsafe fn(&Ctx<'_, W>, usize, usize) -> [[[f32; 2]; P]; R];

/// The weight rows of a tile, 4 then 1 at a time, against activation rows `t..t + 2P`.
#[inline(always)]
fn walk_rows<const P: usize, W>(
    ctx: &Ctx<'_, W>,
    nr: usize,
    nt: usize,
    t: usize,
    res: &mut [f32],
    k4: Kernel<W, 4, P>,
    k1: Kernel<W, 1, P>,
) {
    let put = |res: &mut [f32], r: usize, v: &[[[f32; 2]; P]]| {
        for (i, row) in v.iter().enumerate() {
            let dst = &mut res[(r + i) * nt + t..][..2 * P];
            for (d, s) in dst.iter_mut().zip(row.iter().flatten()) {
                *d = *s;
            }
        }
    };
    let mut r = 0;
    while r + 4 <= nr {
        // SAFETY: the kernels need the AVX-512 tier's features; this runs only inside its tile
        // (see `tile_entry!`).
        put(res, r, &unsafe { k4(ctx, r, t) });
        r += 4;
    }
    while r < nr {
        // SAFETY: as above.
        put(res, r, &unsafe { k1(ctx, r, t) });
        r += 1;
    }
}

float512_kernel!(
    k512_f32,
    t512_f32,
    tile512_f32,
    GgmlType::F32,
    f32,
    |c| both_halves(ld_f32x8(c)),
    |s| s
);
float512_kernel!(
    k512_f16,
    t512_f16,
    tile512_f16,
    GgmlType::F16,
    u16,
    |c| _mm512_cvtph_ps(_mm256_broadcastsi128_si256(ld_u16x8(c))),
    |s| h2f(s)
);
float512_kernel!(
    k512_bf16,
    t512_bf16,
    tile512_bf16,
    GgmlType::BF16,
    u16,
    |c| _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(
        _mm256_broadcastsi128_si256(ld_u16x8(c))
    ))),
    |s| f32::from_bits((s as u32) << 16)
);
