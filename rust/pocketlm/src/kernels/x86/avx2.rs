//! The AVX2 tier (AVX2 + FMA + F16C): the shared kernel bodies instantiated with the
//! `vpmaddubsw` integer dots, the interleaved-layout decode kernel, the float-weight kernels and
//! the activation quantizers (the last two serve the AVX-512 VNNI tier too).

use super::*;
use crate::kernels::interleaved::deinterleave_from_m;
use crate::kernels::table::{AttentionKernels, Quantizers, TierKernels};
use crate::quant::GgmlType;

/// The AVX2 tier's kernels.
pub(crate) static KERNELS: TierKernels = TierKernels {
    tile: |ty| {
        base::tile_fn(ty)
            .or_else(|| float_tile_fn(ty))
            .or_else(|| super::lowbit::tile_fn(ty))
    },
    interleaved_tile: crate::kernels::interleaved::tile::<1>,
    group_gemm,
    interleaved_batch_tile: |_| None,
    deinterleave_from_m: deinterleave_from_m::two,
    tile_acts: |_| crate::kernels::TILE_ACTS,
    act_pairs: false,
    quantizers: Some(QUANTIZERS),
    glu: Some(super::glu::glu),
    silu: Some(super::glu::silu),
    softcap: Some(super::glu::softcap),
    attention: Some(ATTENTION),
};

/// The activation quantizers of both x86_64 tiers.
pub(super) const QUANTIZERS: Quantizers = Quantizers {
    q8_0: quantize_q8_0,
    q8_1: quantize_q8_1,
    q8_k: quantize_q8_k,
    round_through_f16,
};

/// The attention kernels of both x86_64 tiers.
pub(super) const ATTENTION: AttentionKernels = AttentionKernels {
    scores: super::attention::scores,
    accum: super::attention::accum,
    exp_sum: super::attention::exp_sum,
};

/// The float-weight tile kernels of both x86_64 tiers (activations already rounded to the
/// weight precision by `QActs`).
pub(super) fn float_tile_fn(ty: GgmlType) -> Option<TileFn> {
    match ty {
        GgmlType::F32 => Some(tile_f32 as TileFn),
        GgmlType::F16 => Some(tile_f16),
        GgmlType::BF16 => Some(tile_bf16),
        _ => None,
    }
}

/// The AVX2 tier's decode kernel of a 32-element type in the interleaved layout.
pub(super) trait GroupGemv {
    /// 8 rows (one interleaved `group`) × one activation row; the same results as the
    /// row-major `gemv` of the type.
    ///
    /// # Safety
    /// The CPU must support the AVX2 tier.
    unsafe fn gemv_x8(group: &[u8], ar: &[Act32]) -> [f32; 8];
}

/// The AVX2 tier's kernel of the interleaved layout ([`super::interleaved`]), if any.
fn group_gemm(ty: GgmlType) -> Option<GroupGemm> {
    /// `M` activation rows one after the other (from L1 after the first).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn gemm_x8<W: GroupGemv, const M: usize>(group: &[u8], ar: [&[Act32]; M]) -> [[f32; 8]; M] {
        let mut out = [[0.0; 8]; M];
        for (o, a) in out.iter_mut().zip(ar) {
            // SAFETY: this function's target features are the AVX2 tier's.
            *o = unsafe { W::gemv_x8(group, a) };
        }
        out
    }
    Some(match ty {
        GgmlType::Q4_0 => group_gemm_entry!("avx2,fma,f16c", BlockQ4_0 => gemm_x8<BlockQ4_0>),
        GgmlType::Q4_1 => group_gemm_entry!("avx2,fma,f16c", BlockQ4_1 => gemm_x8<BlockQ4_1>),
        GgmlType::Q5_0 => group_gemm_entry!("avx2,fma,f16c", BlockQ5_0 => gemm_x8<BlockQ5_0>),
        GgmlType::Q5_1 => group_gemm_entry!("avx2,fma,f16c", BlockQ5_1 => gemm_x8<BlockQ5_1>),
        GgmlType::Q8_0 => group_gemm_entry!("avx2,fma,f16c", BlockQ8_0 => gemm_x8<BlockQ8_0>),
        _ => return None,
    })
}

/// The integer dot products of the AVX2 tier: `vpmaddubsw` pair sums (i16, summed in i16
/// while they provably fit) widened to i32 by `vpmaddwd`.
// `c` indexes the weight vectors and the activation chunks alike
#[allow(clippy::needless_range_loop)]
mod dots_avx2 {
    use super::*;

    /// One unsigned weight block × one activation block: 16 i16 pair sums.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn dot_u(x: __m256i, y: __m256i) -> __m256i {
        _mm256_maddubs_epi16(x, y)
    }

    /// One signed weight block × one activation block: 8 i32 partial sums.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn dot_s(x: __m256i, y: __m256i) -> __m256i {
        dot_i8i8(x, y)
    }

    /// Lane k = the sum of [`dot_u`]'s result `p[k]`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn reduce_u(p: [__m256i; 8]) -> __m256i {
        reduce_rows8_i16(p)
    }

    /// 8 transposed signed weight blocks (`xa`: |x|, `xt`: x) × one activation block: lane k =
    /// row k's integer dot.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn dots8_s(xa: &[__m256i; 8], xt: &[__m256i; 8], yq: &[i8; 32]) -> __m256i {
        // pair sums of signed quants reach 2 · 127 · 127: widen each at once
        let ones = _mm256_set1_epi16(1);
        let mut s = _mm256_setzero_si256();
        for c in 0..8 {
            let yc = _mm256_sign_epi8(bcast4(yq, c), xt[c]);
            let p = _mm256_madd_epi16(_mm256_maddubs_epi16(xa[c], yc), ones);
            s = _mm256_add_epi32(s, p);
        }
        s
    }

    /// 8 transposed unsigned weight blocks (quants ≤ 31) × one activation block: lane k = row
    /// k's integer dot.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn dots8_u(xa: &[__m256i; 8], yq: &[i8; 32]) -> __m256i {
        // quants ≤ 31: 4 pair sums stay below 2^15 (see `reduce_rows8_i16`)
        let ones = _mm256_set1_epi16(1);
        let mut h = [_mm256_setzero_si256(); 2];
        for (g, hg) in h.iter_mut().enumerate() {
            for c in 4 * g..4 * g + 4 {
                let p = _mm256_maddubs_epi16(xa[c], bcast4(yq, c));
                *hg = _mm256_add_epi16(*hg, p);
            }
        }
        _mm256_add_epi32(_mm256_madd_epi16(h[0], ones), _mm256_madd_epi16(h[1], ones))
    }

    /// One Q4_K / Q5_K super-block (decoded by [`k4_quants`], [`k4_scales`], [`mins_pairs`]) times
    /// one activation super-block: 8 i32 lanes summing to the exact `Σ scale · Σ q · y`, and 8
    /// summing to `Σ min · Σ y`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn k4_partial(
        q: &[__m256i; 8],
        sv: &[__m256i; 8],
        mins: __m256i,
        y: &BlockQ8K,
    ) -> (__m256i, __m256i) {
        let mut s = _mm256_setzero_si256();
        for v in 0..8 {
            let yv = ld_i8x32(sub32::<32, i8, 256>(&y.qs, 32 * v));
            let p = _mm256_madd_epi16(_mm256_maddubs_epi16(q[v], yv), sv[v]);
            s = _mm256_add_epi32(s, p);
        }
        (s, _mm256_madd_epi16(ld_i16x16(&y.bsums), mins))
    }

    /// The integer dots of 8 transposed Q4_K / Q5_K rows (`xt`, `sv`, `mv` of `$gemm8` in
    /// `k4_kernels!`) with `N` activation super-blocks at once, each transposed vector loaded once
    /// for all `N`: lane k of `sumi[n]` is row k's exact `Σ scale · Σ q · y`, of `summ[n]` its
    /// `Σ min · Σ y`. `GROUP` `vpmaddubsw` results are summed in i16 before widening.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn k4_dots8<const GROUP: usize, const N: usize>(
        xt: &[[__m256i; 8]; 8],
        sv: &[__m256i; 8],
        mv: &[__m256i; 8],
        ys: [&BlockQ8K; N],
    ) -> ([__m256i; N], [__m256i; N]) {
        let mut s = [_mm256_setzero_si256(); N];
        let mut m = [_mm256_setzero_si256(); N];
        for v in 0..8 {
            for c0 in (0..8).step_by(GROUP) {
                for (n, y) in ys.iter().enumerate() {
                    let yq: &[i8; 32] = sub32(&y.qs, 32 * v);
                    let mut h = _mm256_maddubs_epi16(xt[v][c0], bcast4(yq, c0));
                    for (c, &x) in xt[v][c0..c0 + GROUP].iter().enumerate().skip(1) {
                        h = _mm256_add_epi16(h, _mm256_maddubs_epi16(x, bcast4(yq, c0 + c)));
                    }
                    s[n] = _mm256_add_epi32(s[n], _mm256_madd_epi16(h, sv[v]));
                }
            }
            for (n, y) in ys.iter().enumerate() {
                // Σ y of sub-block v = bsums 2v + 2v + 1
                let p = _mm256_madd_epi16(mv[v], bcast_pair16(&y.bsums, v));
                m[n] = _mm256_add_epi32(m[n], p);
            }
        }
        (s, m)
    }

    /// The integer dots of 8 transposed Q6_K rows (`xt`, `sv`, `scp` of `gemm8_q6_k`) with `N`
    /// activation super-blocks at once, each transposed vector loaded once for all `N`: lane k of
    /// result n is row k's exact `Σ scale · Σ (q - 32) · y`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn q6k_dots8<const N: usize>(
        xt: &[[__m256i; 8]; 8],
        sv: &[__m256i; 16],
        scp: &[__m256i; 8],
        ys: [&BlockQ8K; N],
    ) -> [__m256i; N] {
        let mut s = [_mm256_setzero_si256(); N];
        for v in 0..8 {
            for h in 0..2 {
                // 2 pair sums per i16: |2 · 2 · 63 · 127| < 2^15
                let c = 4 * h;
                let svs = sv[2 * v + h];
                for (n, y) in ys.iter().enumerate() {
                    let yq: &[i8; 32] = sub32(&y.qs, 32 * v);
                    let pa = _mm256_add_epi16(
                        _mm256_maddubs_epi16(xt[v][c], bcast4(yq, c)),
                        _mm256_maddubs_epi16(xt[v][c + 1], bcast4(yq, c + 1)),
                    );
                    let pb = _mm256_add_epi16(
                        _mm256_maddubs_epi16(xt[v][c + 2], bcast4(yq, c + 2)),
                        _mm256_maddubs_epi16(xt[v][c + 3], bcast4(yq, c + 3)),
                    );
                    s[n] = _mm256_add_epi32(
                        s[n],
                        _mm256_add_epi32(_mm256_madd_epi16(pa, svs), _mm256_madd_epi16(pb, svs)),
                    );
                }
            }
        }
        for (n, y) in ys.iter().enumerate() {
            // q - 32: subtract 32 · Σ scale · bsum
            let mut corr = _mm256_setzero_si256();
            for (p, scp_p) in scp.iter().enumerate() {
                corr = _mm256_add_epi32(corr, _mm256_madd_epi16(*scp_p, bcast_pair16(&y.bsums, p)));
            }
            s[n] = _mm256_sub_epi32(s[n], _mm256_slli_epi32::<5>(corr));
        }
        s
    }
}

quant_tier!(base, "avx2,fma,f16c", dots_avx2, wide = false);

// ---------------------------------------------------------------------------------------------
// Float weights (f32 activations, already rounded to the weight precision by QActs)

macro_rules! float_kernel {
    ($kern:ident, $tile:ident, $entry:ident, $W:ty, |$c:ident| $load8:expr, |$s:ident| $one:expr) => {
        #[target_feature(enable = "avx2,fma,f16c")]
        fn $kern<const R: usize, const M: usize>(
            ctx: &Ctx<'_, $W>,
            r: usize,
            t: usize,
        ) -> [[f32; M]; R] {
            let n = ctx.bpr;
            let t = ctx.t0 + t;
            let wr: [&[$W]; R] = ctx.wrows::<R>(r);
            let ar: [&[f32]; M] = core::array::from_fn(|j| ctx.a.f32_row(t + j));
            for a in &ar {
                assert!(a.len() == n);
            }
            let mut acc = [[_mm256_setzero_ps(); M]; R];
            let n8 = n / 8 * 8;
            for i in (0..n8).step_by(8) {
                let ys: [__m256; M] = core::array::from_fn(|j| ld_f32x8(sub_f32x8(ar[j], i)));
                for k in 0..R {
                    let $c: &[$W; 8] = wr[k][i..i + 8].try_into().unwrap();
                    let x: __m256 = $load8;
                    for j in 0..M {
                        acc[k][j] = _mm256_fmadd_ps(x, ys[j], acc[k][j]);
                    }
                }
            }
            let mut out = [[0.0f32; M]; R];
            for k in 0..R {
                for j in 0..M {
                    let mut s = hsum(acc[k][j]);
                    for i in n8..n {
                        let $s = wr[k][i];
                        s += $one * ar[j][i];
                    }
                    out[k][j] = s;
                }
            }
            out
        }

        #[target_feature(enable = "avx2,fma,f16c")]
        fn $tile(w: &QMatrix, a: &QActs, rows: Range<usize>, ts: Range<usize>, res: &mut [f32]) {
            let ctx = Ctx {
                w: w.blocks::<$W>(rows.clone()),
                bpr: w.blocks_per_row(),
                a,
                t0: ts.start,
            };
            tile_loop!($kern, ctx, rows.len(), ts.len(), res);
        }

        tile_entry!($entry, $tile);
    };
}

#[inline(always)]
fn sub_f32x8(x: &[f32], i: usize) -> &[f32; 8] {
    x[i..i + 8].try_into().unwrap()
}

float_kernel!(k_f32, t_f32, tile_f32, f32, |c| ld_f32x8(c), |s| s);
float_kernel!(
    k_f16,
    t_f16,
    tile_f16,
    u16,
    |c| _mm256_cvtph_ps(ld_u16x8(c)),
    |s| h2f(s)
);
float_kernel!(
    k_bf16,
    t_bf16,
    tile_bf16,
    u16,
    |c| _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(ld_u16x8(c)))),
    |s| f32::from_bits((s as u32) << 16)
);

// ---------------------------------------------------------------------------------------------
// Activation quantizers: bit-identical to `quant::activations` (for finite inputs).

/// Dispatch target for [`super::QActs`] under the AVX2 and AVX-512 VNNI tiers.
pub(super) fn quantize_q8_0(x: &[f32], out: &mut [Act32]) {
    // SAFETY: called only under `Tier::Avx2` or `Tier::Avx512Vnni` (a superset of AVX2's
    // features), after `quantize_for_tier` asserted `tier.is_supported()`.
    unsafe { q8_0_avx2(x, out) }
}

/// Dispatch target for [`super::QActs`] under the AVX2 and AVX-512 VNNI tiers.
pub(super) fn quantize_q8_1(x: &[f32], out: &mut [Act32]) {
    // SAFETY: called only under `Tier::Avx2` or `Tier::Avx512Vnni` (a superset of AVX2's
    // features), after `quantize_for_tier` asserted `tier.is_supported()`.
    unsafe { q8_1_avx2(x, out) }
}

/// Dispatch target for [`super::QActs`] under the AVX2 and AVX-512 VNNI tiers.
pub(super) fn quantize_q8_k(x: &[f32], out: &mut [BlockQ8K]) {
    // SAFETY: called only under `Tier::Avx2` or `Tier::Avx512Vnni` (a superset of AVX2's
    // features), after `quantize_for_tier` asserted `tier.is_supported()`.
    unsafe { q8_k_avx2(x, out) }
}

/// Dispatch target for [`super::QActs`] under the AVX2 and AVX-512 VNNI tiers: `out = f32(f16(x))` (F16C,
/// round to nearest even like `half`).
pub(super) fn round_through_f16(x: &[f32], out: &mut [f32]) {
    // SAFETY: called only under `Tier::Avx2` or `Tier::Avx512Vnni` (a superset of AVX2's
    // features), after `quantize_for_tier` asserted `tier.is_supported()`.
    unsafe { f16_round_avx2(x, out) }
}

#[target_feature(enable = "avx2,fma,f16c")]
fn f16_round_avx2(x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len());
    let mut xc = x.chunks_exact(8);
    let mut oc = out.chunks_exact_mut(8);
    for (xs, os) in (&mut xc).zip(&mut oc) {
        let v = ld_f32x8(xs.try_into().unwrap());
        let r = _mm256_cvtph_ps(_mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v));
        let r: [f32; 8] = bytemuck::cast(r);
        os.copy_from_slice(&r);
    }
    for (o, &v) in oc.into_remainder().iter_mut().zip(xc.remainder()) {
        *o = h2f(f2h(v));
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hmax(v: __m256) -> f32 {
    let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_max_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn f2h(x: f32) -> u16 {
    _mm_extract_epi16::<0>(_mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set_ss(x))) as u16
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn abs_ps(v: __m256) -> __m256 {
    _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF)))
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn clamp127(v: __m256) -> __m256i {
    // NaN (0 * inf for a subnormal block maximum) becomes 0, like the scalar `as i8`
    let v = _mm256_and_ps(v, _mm256_cmp_ps::<_CMP_ORD_Q>(v, v));
    let v = _mm256_min_ps(
        _mm256_max_ps(v, _mm256_set1_ps(-127.0)),
        _mm256_set1_ps(127.0),
    );
    _mm256_cvtps_epi32(v)
}

/// Packs 4 × 8 i32 (each in -127..=127) to 32 i8 in element order.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack32(q: [__m256i; 4]) -> [i8; 32] {
    let a = _mm256_packs_epi32(q[0], q[1]);
    let b = _mm256_packs_epi32(q[2], q[3]);
    let p = _mm256_packs_epi16(a, b);
    let p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    bytemuck::cast(p)
}

/// One 32-element block with `d = amax / 127` and `q = round_ties_even(x * (127 / amax))`:
/// returns (quants, d, integer sum).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q8_block(x: &[f32; 32]) -> ([i8; 32], f32, i32) {
    let v: [__m256; 4] = core::array::from_fn(|k| ld_f32x8(sub32::<8, f32, 32>(x, 8 * k)));
    let m = _mm256_max_ps(
        _mm256_max_ps(abs_ps(v[0]), abs_ps(v[1])),
        _mm256_max_ps(abs_ps(v[2]), abs_ps(v[3])),
    );
    let amax = hmax(m);
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let idv = _mm256_set1_ps(id);
    let q: [__m256i; 4] = core::array::from_fn(|k| {
        clamp127(_mm256_round_ps::<
            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
        >(_mm256_mul_ps(v[k], idv)))
    });
    let sum = hsum_i32(_mm256_add_epi32(
        _mm256_add_epi32(q[0], q[1]),
        _mm256_add_epi32(q[2], q[3]),
    ));
    (pack32(q), d, sum)
}

#[target_feature(enable = "avx2,fma,f16c")]
fn q8_0_avx2(x: &[f32], out: &mut [Act32]) {
    assert!(x.len() == out.len() * 32);
    for (xb, b) in x.chunks_exact(32).zip(out.iter_mut()) {
        let (q, d, sum) = q8_block(xb.try_into().unwrap());
        b.qs = q;
        b.d = h2f(f2h(d));
        b.aux = sum as u32;
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
fn q8_1_avx2(x: &[f32], out: &mut [Act32]) {
    assert!(x.len() == out.len() * 32);
    for (xb, b) in x.chunks_exact(32).zip(out.iter_mut()) {
        let (q, d, sum) = q8_block(xb.try_into().unwrap());
        b.qs = q;
        b.d = h2f(f2h(d));
        b.aux = h2f(f2h(sum as f32 * d)).to_bits();
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
fn q8_k_avx2(x: &[f32], out: &mut [BlockQ8K]) {
    assert!(x.len() == out.len() * QK_K);
    for (xb, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let xb: &[f32; QK_K] = xb.try_into().unwrap();
        let v: [__m256; 32] = core::array::from_fn(|k| ld_f32x8(sub32::<8, f32, QK_K>(xb, 8 * k)));
        let mut m = abs_ps(v[0]);
        for vk in &v[1..] {
            m = _mm256_max_ps(m, abs_ps(*vk));
        }
        let amax = hmax(m);
        if amax == 0.0 {
            b.d = 0.0;
            b.qs = [0; QK_K];
            b.bsums = [0; QK_K / 16];
            continue;
        }
        // the signed value of the first element of largest magnitude
        let av = _mm256_set1_ps(amax);
        let mut max = 0.0;
        for (k, vk) in v.iter().enumerate() {
            let hit = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(abs_ps(*vk), av));
            if hit != 0 {
                max = xb[8 * k + hit.trailing_zeros() as usize];
                break;
            }
        }
        let iscale = -127.0 / max;
        let isv = _mm256_set1_ps(iscale);
        for g in 0..8 {
            let q: [__m256i; 4] = core::array::from_fn(|k| {
                let p = _mm256_mul_ps(isv, v[4 * g + k]);
                clamp127(_mm256_round_ps::<
                    { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
                >(p))
            });
            b.bsums[2 * g] = hsum_i32(_mm256_add_epi32(q[0], q[1])) as i16;
            b.bsums[2 * g + 1] = hsum_i32(_mm256_add_epi32(q[2], q[3])) as i16;
            b.qs[32 * g..32 * g + 32].copy_from_slice(&pack32(q));
        }
        b.d = 1.0 / iscale;
    }
}
