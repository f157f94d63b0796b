//! Attention over the f16 KV cache, read in place (no f32 copy of the cache).
//!
//! Two primitives, each with a scalar reference, an x86_64 AVX2+FMA+F16C path and an aarch64
//! NEON path (ARMv8.0; f16 → f32 with `fcvtl`/`fcvtl2` through `asm!`, whose intrinsics are
//! unstable):
//!
//! * [`scores_f16`]: `s[j][t] = q_j · k_t` for a tile of query vectors against f16 key rows;
//!   every key chunk is converted once per 4 queries.
//! * [`accum_f16`]: `acc_j += Σ_t p[j][t] · v_t` over f16 value rows, 4 queries × 16 lanes of
//!   accumulators held in registers across the keys.
//!
//! [`attend`] builds attention of a block of query vectors (the rows × heads that share one KV
//! head: GQA) on top of them with an online, max-subtracted softmax over blocks of
//! [`KEY_BLOCK`] keys, so each key/value row is read once per block of queries.
//!
//! The SIMD paths need `head_dim % 8 == 0`; other sizes use the scalar code. The tier is the
//! one of the matrix kernels ([`super::selected_tier`]); AVX2 and AVX-512 VNNI use the AVX2
//! code here, NEON, dotprod and i8mm the NEON code.

use super::table::AttentionKernels;
use super::Tier;
use half::f16;

/// Keys per block of the online softmax.
pub const KEY_BLOCK: usize = 64;

/// Query vectors [`attend`] handles at once (rows × heads of one KV group); larger blocks are
/// split. Bounds the scratch memory.
pub const MAX_QUERIES: usize = 32;

/// The tier's SIMD attention kernels when they apply (a head dimension that is a multiple of
/// 8); panics if this CPU lacks the tier.
fn simd_kernels(tier: Tier, hd: usize) -> Option<AttentionKernels> {
    tier.kernels().attention.filter(|_| hd.is_multiple_of(8))
}

/// Scores of `nq` query vectors (`q[j * hd..][..hd]`, contiguous) against `nk` f16 key rows
/// (`k[t * k_stride..][..hd]`): `out[j * out_stride + t] = q_j · k_t`.
///
/// Panics if a slice is too short or `tier` is not supported by this CPU.
#[allow(clippy::too_many_arguments)]
pub fn scores_f16(
    tier: Tier,
    q: &[f32],
    nq: usize,
    hd: usize,
    k: &[f16],
    k_stride: usize,
    nk: usize,
    out: &mut [f32],
    out_stride: usize,
) {
    let simd = simd_kernels(tier, hd);
    if nq == 0 || nk == 0 {
        return;
    }
    assert!(q.len() >= nq * hd, "q holds fewer than nq × hd values");
    assert!(
        k_stride >= hd && k.len() >= (nk - 1) * k_stride + hd,
        "k too short"
    );
    assert!(
        out_stride >= nk && out.len() >= (nq - 1) * out_stride + nk,
        "scores output too short"
    );
    match simd {
        // SAFETY: the table is this CPU's (`Tier::kernels`), `hd % 8 == 0`, and the slice
        // lengths were checked above.
        Some(kern) => unsafe { (kern.scores)(q, nq, hd, k, k_stride, nk, out, out_stride) },
        None => scores_scalar(q, nq, hd, k, k_stride, nk, out, out_stride),
    }
}

/// Weighted sum of `nk` f16 value rows (`v[t * v_stride..][..hd]`) into the accumulators of
/// `nq` queries: `acc[j * hd + d] += Σ_t p[j * p_stride + t] · v_t[d]`.
///
/// Panics if a slice is too short or `tier` is not supported by this CPU.
#[allow(clippy::too_many_arguments)]
pub fn accum_f16(
    tier: Tier,
    p: &[f32],
    p_stride: usize,
    nq: usize,
    v: &[f16],
    v_stride: usize,
    nk: usize,
    hd: usize,
    acc: &mut [f32],
) {
    let simd = simd_kernels(tier, hd);
    if nq == 0 || nk == 0 {
        return;
    }
    assert!(
        p_stride >= nk && p.len() >= (nq - 1) * p_stride + nk,
        "p too short"
    );
    assert!(
        v_stride >= hd && v.len() >= (nk - 1) * v_stride + hd,
        "v too short"
    );
    assert!(acc.len() >= nq * hd, "acc holds fewer than nq × hd values");
    match simd {
        // SAFETY: as in `scores_f16`: this CPU's table, `hd % 8 == 0`, lengths checked.
        Some(kern) => unsafe { (kern.accum)(p, p_stride, nq, v, v_stride, nk, hd, acc) },
        None => accum_scalar(p, p_stride, nq, v, v_stride, nk, hd, acc),
    }
}

/// `s[i] = exp(s[i] - m)` for every element; returns their sum. The SIMD paths use a
/// degree-6 polynomial (relative error ≤ ~2 ulp) and clamp the argument to
/// `[-87.3, 88]`, so tiny results stay at ~1e-38 instead of going subnormal or zero.
pub fn exp_sum(tier: Tier, s: &mut [f32], m: f32) -> f32 {
    match simd_kernels(tier, 8) {
        // SAFETY: the table is this CPU's (`Tier::kernels`).
        Some(kern) => unsafe { (kern.exp_sum)(s, m) },
        None => exp_sum_scalar(s, m),
    }
}

/// Scalar reference of [`exp_sum`].
pub fn exp_sum_scalar(s: &mut [f32], m: f32) -> f32 {
    let mut sum = 0.0f32;
    for x in s.iter_mut() {
        *x = (*x - m).exp();
        sum += *x;
    }
    sum
}

/// Constants of the exp polynomial (Cephes `expf`): `exp(x) = 2^n · exp(r)`,
/// `r = x - n·ln 2` in two parts, `exp(r) ≈ 1 + r + r²·P(r)`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod expc {
    pub const LO: f32 = -87.336_55;
    pub const HI: f32 = 88.0;
    pub const LOG2E: f32 = std::f32::consts::LOG2_E;
    pub const LN2_HI: f32 = 0.693_359_4;
    pub const LN2_LO: f32 = -2.121_944_4e-4;
    pub const P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_2e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        0.166_666_65,
        0.5,
    ];
}

/// Scalar reference of [`scores_f16`].
#[allow(clippy::too_many_arguments)]
pub fn scores_scalar(
    q: &[f32],
    nq: usize,
    hd: usize,
    k: &[f16],
    k_stride: usize,
    nk: usize,
    out: &mut [f32],
    out_stride: usize,
) {
    for j in 0..nq {
        let qj = &q[j * hd..][..hd];
        for t in 0..nk {
            let kt = &k[t * k_stride..][..hd];
            out[j * out_stride + t] = qj.iter().zip(kt).map(|(&a, &b)| a * b.to_f32()).sum();
        }
    }
}

/// Scalar reference of [`accum_f16`].
#[allow(clippy::too_many_arguments)]
pub fn accum_scalar(
    p: &[f32],
    p_stride: usize,
    nq: usize,
    v: &[f16],
    v_stride: usize,
    nk: usize,
    hd: usize,
    acc: &mut [f32],
) {
    for j in 0..nq {
        let aj = &mut acc[j * hd..][..hd];
        for t in 0..nk {
            let pj = p[j * p_stride + t];
            for (a, &b) in aj.iter_mut().zip(&v[t * v_stride..][..hd]) {
                *a += pj * b.to_f32();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The attention of a block of queries

/// Reusable buffers of [`attend`] (one per thread).
#[derive(Default, Debug)]
pub struct AttnScratch {
    q: Vec<f32>,
    acc: Vec<f32>,
    s: Vec<f32>,
    m: Vec<f32>,
    l: Vec<f32>,
}

/// A block of query vectors: `rows` rows of `heads` consecutive query heads each. Query
/// `(r, h)` is `q[r * q_stride + h * hd..][..hd]`; its output goes to
/// `out[r * out_stride + h * hd..][..hd]`; row `r` attends to keys `ranges[r].0..ranges[r].1`.
#[derive(Debug)]
pub struct QueryBlock<'a> {
    /// The query rows.
    pub q: &'a [f32],
    /// f32s from one query row to the next.
    pub q_stride: usize,
    /// Query heads per row.
    pub heads: usize,
    /// Per row, the half-open range of key positions it attends to.
    pub ranges: &'a [(usize, usize)],
}

/// One KV head of one layer in the cache: key/value `t` is `k[t * stride..][..hd]`.
#[derive(Debug, Clone, Copy)]
pub struct KvHead<'a> {
    /// Keys.
    pub k: &'a [f16],
    /// Values.
    pub v: &'a [f16],
    /// f16s from one position to the next.
    pub stride: usize,
}

/// `softmax(q · kᵀ [soft-capped: cap · tanh(s / cap)]) · v` for every query of `qb` over its key
/// range, with an online softmax over key blocks (max-subtracted, so large scores are safe).
/// Every range must be non-empty. Processes up to [`MAX_QUERIES`] queries per pass so each
/// key/value row is read once per pass.
#[allow(clippy::too_many_arguments)]
pub fn attend(
    tier: Tier,
    hd: usize,
    qb: &QueryBlock,
    kv: KvHead,
    softcap: Option<f32>,
    scratch: &mut AttnScratch,
    out: &mut [f32],
    out_stride: usize,
) {
    let heads = qb.heads;
    if heads == 0 {
        return;
    }
    // Rows per pass.
    let rb = (MAX_QUERIES / heads).max(1);
    let mut r0 = 0;
    while r0 < qb.ranges.len() {
        let r1 = (r0 + rb).min(qb.ranges.len());
        let sub = QueryBlock {
            q: &qb.q[r0 * qb.q_stride..],
            q_stride: qb.q_stride,
            heads,
            ranges: &qb.ranges[r0..r1],
        };
        attend_pass(
            tier,
            hd,
            &sub,
            kv,
            softcap,
            scratch,
            &mut out[r0 * out_stride..],
            out_stride,
        );
        r0 = r1;
    }
}

#[allow(clippy::too_many_arguments)]
fn attend_pass(
    tier: Tier,
    hd: usize,
    qb: &QueryBlock,
    kv: KvHead,
    softcap: Option<f32>,
    sc: &mut AttnScratch,
    out: &mut [f32],
    out_stride: usize,
) {
    let heads = qb.heads;
    let nr = qb.ranges.len();
    let nq = nr * heads;
    let lo = qb.ranges.iter().map(|r| r.0).min().unwrap_or(0);
    let hi = qb.ranges.iter().map(|r| r.1).max().unwrap_or(0);
    assert!(
        qb.ranges.iter().all(|r| r.0 < r.1),
        "every query needs at least one key"
    );
    fit(&mut sc.q, nq * hd);
    fit(&mut sc.acc, nq * hd);
    fit(&mut sc.s, nq * KEY_BLOCK);
    fit(&mut sc.m, nq);
    fit(&mut sc.l, nq);
    for r in 0..nr {
        let src = &qb.q[r * qb.q_stride..][..heads * hd];
        sc.q[r * heads * hd..][..heads * hd].copy_from_slice(src);
    }
    sc.acc[..nq * hd].fill(0.0);
    sc.m[..nq].fill(f32::NEG_INFINITY);
    sc.l[..nq].fill(0.0);

    let mut t0 = lo;
    while t0 < hi {
        let t1 = (t0 + KEY_BLOCK).min(hi);
        let kb = t1 - t0;
        let k = &kv.k[t0 * kv.stride..];
        let v = &kv.v[t0 * kv.stride..];
        scores_f16(tier, &sc.q, nq, hd, k, kv.stride, kb, &mut sc.s, KEY_BLOCK);
        for j in 0..nq {
            let (qlo, qhi) = qb.ranges[j / heads];
            let s = &mut sc.s[j * KEY_BLOCK..][..kb];
            let a = qlo.clamp(t0, t1) - t0;
            let b = qhi.clamp(t0, t1) - t0;
            if a >= b {
                s.fill(0.0);
                continue;
            }
            s[..a].fill(0.0);
            s[b..].fill(0.0);
            let s = &mut s[a..b];
            if let Some(cap) = softcap {
                s.iter_mut().for_each(|x| *x = cap * (*x / cap).tanh());
            }
            let mut mb = f32::NEG_INFINITY;
            for &x in s.iter() {
                if x > mb {
                    mb = x;
                }
            }
            if mb > sc.m[j] {
                let scale = (sc.m[j] - mb).exp();
                sc.m[j] = mb;
                sc.l[j] *= scale;
                sc.acc[j * hd..][..hd].iter_mut().for_each(|x| *x *= scale);
            }
            sc.l[j] += exp_sum(tier, s, sc.m[j]);
        }
        accum_f16(
            tier,
            &sc.s,
            KEY_BLOCK,
            nq,
            v,
            kv.stride,
            kb,
            hd,
            &mut sc.acc,
        );
        t0 = t1;
    }

    for j in 0..nq {
        let (r, h) = (j / heads, j % heads);
        let inv = 1.0 / sc.l[j];
        let dst = &mut out[r * out_stride + h * hd..][..hd];
        for (d, &a) in dst.iter_mut().zip(&sc.acc[j * hd..][..hd]) {
            *d = a * inv;
        }
    }
}

fn fit(buf: &mut Vec<f32>, n: usize) {
    if buf.len() < n {
        buf.resize(n, 0.0);
    }
}

/// Straightforward attention of one query over keys `lo..hi` (two-pass softmax), the reference
/// for [`attend`] in the tests.
pub fn attend_reference(
    q: &[f32],
    kv: KvHead,
    hd: usize,
    range: (usize, usize),
    softcap: Option<f32>,
    out: &mut [f32],
) {
    let (lo, hi) = range;
    let mut s: Vec<f64> = (lo..hi)
        .map(|t| {
            let k = &kv.k[t * kv.stride..][..hd];
            let d: f64 = q.iter().zip(k).map(|(&a, &b)| a as f64 * b.to_f64()).sum();
            match softcap {
                Some(cap) => cap as f64 * (d / cap as f64).tanh(),
                None => d,
            }
        })
        .collect();
    let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for x in s.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for (d, o) in out[..hd].iter_mut().enumerate() {
        let mut a = 0.0f64;
        for (i, t) in (lo..hi).enumerate() {
            a += s[i] * kv.v[t * kv.stride + d].to_f64();
        }
        *o = (a / sum) as f32;
    }
}

// ---------------------------------------------------------------------------------------------
// x86_64: AVX2 + FMA + F16C

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use crate::kernels::x86::hsum;
    use core::arch::x86_64::*;
    use half::f16;

    /// 8 f16 at `x` as f32.
    ///
    /// # Safety
    /// `x` must point to 8 readable f16; the CPU must have F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn ld8(x: *const f16) -> __m256 {
        // SAFETY: the caller guarantees 8 readable f16 (16 bytes); `loadu` needs no alignment.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(x.cast())) }
    }

    /// # Safety
    /// `q` holds `N * hd` f32, `k` holds `hd` f16, `hd % 8 == 0`; AVX2+FMA+F16C present.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn dots<const N: usize>(q: *const f32, hd: usize, k: *const f16) -> __m128 {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut c = 0;
        while c < hd {
            // SAFETY: c + 8 <= hd: in bounds of the key row and of every query row.
            unsafe {
                let kv = ld8(k.add(c));
                for (i, a) in acc.iter_mut().enumerate().take(N) {
                    *a = _mm256_fmadd_ps(_mm256_loadu_ps(q.add(i * hd + c)), kv, *a);
                }
            }
            c += 8;
        }
        let s01 = _mm256_hadd_ps(acc[0], acc[1]);
        let s23 = _mm256_hadd_ps(acc[2], acc[3]);
        let s = _mm256_hadd_ps(s01, s23);
        _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s))
    }

    /// See [`super::scores_f16`].
    ///
    /// # Safety
    /// AVX2+FMA+F16C present; `hd % 8 == 0`; the slices hold what `scores_f16` checks.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn scores(
        q: &[f32],
        nq: usize,
        hd: usize,
        k: &[f16],
        k_stride: usize,
        nk: usize,
        out: &mut [f32],
        out_stride: usize,
    ) {
        for t in 0..nk {
            let kt = k[t * k_stride..][..hd].as_ptr();
            let mut j = 0;
            while j < nq {
                let n = (nq - j).min(4);
                let qj = q[j * hd..][..n * hd].as_ptr();
                // SAFETY: `qj` holds n * hd f32 and `kt` hd f16 (slices above); features present.
                let d = unsafe {
                    match n {
                        4 => dots::<4>(qj, hd, kt),
                        3 => dots::<3>(qj, hd, kt),
                        2 => dots::<2>(qj, hd, kt),
                        _ => dots::<1>(qj, hd, kt),
                    }
                };
                let mut lanes = [0.0f32; 4];
                // SAFETY: `lanes` is 4 writable f32; `storeu` needs no alignment.
                unsafe { _mm_storeu_ps(lanes.as_mut_ptr(), d) };
                for (i, &x) in lanes.iter().enumerate().take(n) {
                    out[(j + i) * out_stride + t] = x;
                }
                j += n;
            }
        }
    }

    /// `exp(x)` of 8 lanes (see [`super::exp_sum`] for its accuracy and clamping).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in crate::kernels) fn exp8(x: __m256) -> __m256 {
        use super::expc::*;
        let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(LO)), _mm256_set1_ps(HI));
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
        let mut y = _mm256_set1_ps(P[0]);
        for &c in &P[1..] {
            y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(c));
        }
        let y = _mm256_fmadd_ps(
            _mm256_mul_ps(y, r),
            r,
            _mm256_add_ps(r, _mm256_set1_ps(1.0)),
        );
        let e = _mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(n),
            _mm256_set1_epi32(127),
        ));
        _mm256_mul_ps(y, _mm256_castsi256_ps(e))
    }

    /// See [`super::exp_sum`].
    ///
    /// # Safety
    /// AVX2+FMA+F16C present.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(crate) unsafe fn exp_sum(s: &mut [f32], m: f32) -> f32 {
        let mv = _mm256_set1_ps(m);
        let mut acc = _mm256_setzero_ps();
        let mut chunks = s.chunks_exact_mut(8);
        for c in &mut chunks {
            // SAFETY: `c` is 8 f32; `loadu`/`storeu` need no alignment.
            unsafe {
                let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(c.as_ptr()), mv));
                _mm256_storeu_ps(c.as_mut_ptr(), e);
                acc = _mm256_add_ps(acc, e);
            }
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mut buf = [0.0f32; 8];
            buf[..rest.len()].copy_from_slice(rest);
            // SAFETY: `buf` is 8 f32.
            unsafe {
                let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(buf.as_ptr()), mv));
                _mm256_storeu_ps(buf.as_mut_ptr(), e);
            }
            rest.copy_from_slice(&buf[..rest.len()]);
            let tail: f32 = rest.iter().sum();
            return hsum(acc) + tail;
        }
        hsum(acc)
    }

    /// `acc` rows `0..N` (stride `hd`), lanes `c..c + 8 * W`, += Σ_t p[i][t] · v_t.
    ///
    /// # Safety
    /// `p` holds rows `0..N` of `p_stride` (≥ nk) f32; `v` holds `nk` rows of `v_stride` f16
    /// with `c + 8 * W <= hd <= v_stride`; `acc` holds `N * hd` f32; AVX2+FMA+F16C present.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn accum_tile<const N: usize, const W: usize>(
        p: *const f32,
        p_stride: usize,
        v: *const f16,
        v_stride: usize,
        nk: usize,
        hd: usize,
        c: usize,
        acc: *mut f32,
    ) {
        let mut a = [[_mm256_setzero_ps(); W]; N];
        // SAFETY: (whole body) every offset stays inside the regions the caller guarantees:
        // rows i < N, keys t < nk, lanes c..c + 8W <= hd.
        unsafe {
            for (i, ai) in a.iter_mut().enumerate() {
                for (w, aw) in ai.iter_mut().enumerate() {
                    *aw = _mm256_loadu_ps(acc.add(i * hd + c + 8 * w));
                }
            }
            for t in 0..nk {
                let vt = v.add(t * v_stride + c);
                let mut vv = [_mm256_setzero_ps(); W];
                for (w, x) in vv.iter_mut().enumerate() {
                    *x = ld8(vt.add(8 * w));
                }
                for (i, ai) in a.iter_mut().enumerate() {
                    let pb = _mm256_broadcast_ss(&*p.add(i * p_stride + t));
                    for (aw, &x) in ai.iter_mut().zip(&vv) {
                        *aw = _mm256_fmadd_ps(pb, x, *aw);
                    }
                }
            }
            for (i, ai) in a.iter().enumerate() {
                for (w, &aw) in ai.iter().enumerate() {
                    _mm256_storeu_ps(acc.add(i * hd + c + 8 * w), aw);
                }
            }
        }
    }

    /// # Safety
    /// As [`accum_tile`], for all lanes `0..hd` (`hd % 8 == 0`).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn accum_rows<const N: usize>(
        p: *const f32,
        p_stride: usize,
        v: *const f16,
        v_stride: usize,
        nk: usize,
        hd: usize,
        acc: *mut f32,
    ) {
        let mut c = 0;
        // SAFETY: c + 16 <= hd (resp. c + 8 <= hd) in each call; the rest is the caller's.
        unsafe {
            while c + 16 <= hd {
                accum_tile::<N, 2>(p, p_stride, v, v_stride, nk, hd, c, acc);
                c += 16;
            }
            if c < hd {
                accum_tile::<N, 1>(p, p_stride, v, v_stride, nk, hd, c, acc);
            }
        }
    }

    /// See [`super::accum_f16`].
    ///
    /// # Safety
    /// AVX2+FMA+F16C present; `hd % 8 == 0`; the slices hold what `accum_f16` checks.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn accum(
        p: &[f32],
        p_stride: usize,
        nq: usize,
        v: &[f16],
        v_stride: usize,
        nk: usize,
        hd: usize,
        acc: &mut [f32],
    ) {
        let mut j = 0;
        while j < nq {
            let n = (nq - j).min(4);
            let pj = p[j * p_stride..][..(n - 1) * p_stride + nk].as_ptr();
            let aj = acc[j * hd..][..n * hd].as_mut_ptr();
            let vp = v.as_ptr();
            // SAFETY: `pj` covers rows j..j+n of p (sliced above), `aj` rows j..j+n of acc,
            // `v` holds nk rows (checked by `accum_f16`); features present.
            unsafe {
                match n {
                    4 => accum_rows::<4>(pj, p_stride, vp, v_stride, nk, hd, aj),
                    3 => accum_rows::<3>(pj, p_stride, vp, v_stride, nk, hd, aj),
                    2 => accum_rows::<2>(pj, p_stride, vp, v_stride, nk, hd, aj),
                    _ => accum_rows::<1>(pj, p_stride, vp, v_stride, nk, hd, aj),
                }
            }
            j += n;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// aarch64: NEON (ARMv8.0)

#[cfg(target_arch = "aarch64")]
pub(crate) mod neon {
    use core::arch::aarch64::*;
    use core::arch::asm;
    use half::f16;

    /// 8 f16 at `x` as two f32x4 (`fcvtl`/`fcvtl2`, ARMv8.0 FP; exact for every f16).
    ///
    /// # Safety
    /// `x` must point to 8 readable f16.
    #[target_feature(enable = "neon")]
    #[inline]
    unsafe fn ld8(x: *const f16) -> (float32x4_t, float32x4_t) {
        // SAFETY: the caller guarantees 16 readable bytes; `vld1q` needs no alignment.
        let h = unsafe { vld1q_u16(x.cast()) };
        let lo: float32x4_t;
        let hi: float32x4_t;
        // SAFETY: FCVTL/FCVTL2 are baseline ARMv8.0 instructions that read and write only the
        // named vector registers (`out`, not `lateout`: `h` is not overwritten before FCVTL2).
        unsafe {
            asm!(
                "fcvtl {lo:v}.4s, {h:v}.4h",
                "fcvtl2 {hi:v}.4s, {h:v}.8h",
                h = in(vreg) h,
                lo = out(vreg) lo,
                hi = out(vreg) hi,
                options(pure, nomem, nostack, preserves_flags)
            );
        }
        (lo, hi)
    }

    /// # Safety
    /// `q` holds `N * hd` f32, `k` holds `hd` f16, `hd % 8 == 0`.
    #[target_feature(enable = "neon")]
    #[inline]
    unsafe fn dots<const N: usize>(q: *const f32, hd: usize, k: *const f16) -> float32x4_t {
        let mut acc = [[vdupq_n_f32(0.0); 2]; 4];
        let mut c = 0;
        while c < hd {
            // SAFETY: c + 8 <= hd: in bounds of the key row and of every query row.
            unsafe {
                let (k0, k1) = ld8(k.add(c));
                for (i, a) in acc.iter_mut().enumerate().take(N) {
                    a[0] = vfmaq_f32(a[0], vld1q_f32(q.add(i * hd + c)), k0);
                    a[1] = vfmaq_f32(a[1], vld1q_f32(q.add(i * hd + c + 4)), k1);
                }
            }
            c += 8;
        }
        let s0 = vaddq_f32(acc[0][0], acc[0][1]);
        let s1 = vaddq_f32(acc[1][0], acc[1][1]);
        let s2 = vaddq_f32(acc[2][0], acc[2][1]);
        let s3 = vaddq_f32(acc[3][0], acc[3][1]);
        vpaddq_f32(vpaddq_f32(s0, s1), vpaddq_f32(s2, s3))
    }

    /// See [`super::scores_f16`].
    ///
    /// # Safety
    /// NEON present; `hd % 8 == 0`; the slices hold what `scores_f16` checks.
    #[target_feature(enable = "neon")]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn scores(
        q: &[f32],
        nq: usize,
        hd: usize,
        k: &[f16],
        k_stride: usize,
        nk: usize,
        out: &mut [f32],
        out_stride: usize,
    ) {
        for t in 0..nk {
            let kt = k[t * k_stride..][..hd].as_ptr();
            let mut j = 0;
            while j < nq {
                let n = (nq - j).min(4);
                let qj = q[j * hd..][..n * hd].as_ptr();
                // SAFETY: `qj` holds n * hd f32 and `kt` hd f16 (slices above).
                let d = unsafe {
                    match n {
                        4 => dots::<4>(qj, hd, kt),
                        3 => dots::<3>(qj, hd, kt),
                        2 => dots::<2>(qj, hd, kt),
                        _ => dots::<1>(qj, hd, kt),
                    }
                };
                let mut lanes = [0.0f32; 4];
                // SAFETY: `lanes` is 4 writable f32.
                unsafe { vst1q_f32(lanes.as_mut_ptr(), d) };
                for (i, &x) in lanes.iter().enumerate().take(n) {
                    out[(j + i) * out_stride + t] = x;
                }
                j += n;
            }
        }
    }

    /// `exp(x)` of 4 lanes (see [`super::exp_sum`] for its accuracy and clamping).
    #[target_feature(enable = "neon")]
    #[inline]
    pub(in crate::kernels) fn exp4(x: float32x4_t) -> float32x4_t {
        use super::expc::*;
        let x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(LO)), vdupq_n_f32(HI));
        let n = vcvtnq_s32_f32(vmulq_n_f32(x, LOG2E));
        let nf = vcvtq_f32_s32(n);
        let r = vfmsq_f32(x, nf, vdupq_n_f32(LN2_HI));
        let r = vfmsq_f32(r, nf, vdupq_n_f32(LN2_LO));
        let mut y = vdupq_n_f32(P[0]);
        for &c in &P[1..] {
            y = vfmaq_f32(vdupq_n_f32(c), y, r);
        }
        let y = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0)), vmulq_f32(y, r), r);
        let e = vshlq_n_s32::<23>(vaddq_s32(n, vdupq_n_s32(127)));
        vmulq_f32(y, vreinterpretq_f32_s32(e))
    }

    /// See [`super::exp_sum`].
    ///
    /// # Safety
    /// NEON present.
    #[target_feature(enable = "neon")]
    pub(crate) unsafe fn exp_sum(s: &mut [f32], m: f32) -> f32 {
        let mv = vdupq_n_f32(m);
        let mut acc = vdupq_n_f32(0.0);
        let mut chunks = s.chunks_exact_mut(4);
        for c in &mut chunks {
            // SAFETY: `c` is 4 f32; `vld1q`/`vst1q` need no alignment.
            unsafe {
                let e = exp4(vsubq_f32(vld1q_f32(c.as_ptr()), mv));
                vst1q_f32(c.as_mut_ptr(), e);
                acc = vaddq_f32(acc, e);
            }
        }
        let rest = chunks.into_remainder();
        let mut tail = 0.0;
        if !rest.is_empty() {
            let mut buf = [0.0f32; 4];
            buf[..rest.len()].copy_from_slice(rest);
            // SAFETY: `buf` is 4 f32.
            unsafe {
                let e = exp4(vsubq_f32(vld1q_f32(buf.as_ptr()), mv));
                vst1q_f32(buf.as_mut_ptr(), e);
            }
            rest.copy_from_slice(&buf[..rest.len()]);
            tail = rest.iter().sum();
        }
        vaddvq_f32(acc) + tail
    }

    /// `acc` rows `0..N` (stride `hd`), lanes `c..c + 8 * W`, += Σ_t p[i][t] · v_t.
    ///
    /// # Safety
    /// `p` holds rows `0..N` of `p_stride` (≥ nk) f32; `v` holds `nk` rows of `v_stride` f16
    /// with `c + 8 * W <= hd <= v_stride`; `acc` holds `N * hd` f32.
    #[target_feature(enable = "neon")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn accum_tile<const N: usize, const W: usize>(
        p: *const f32,
        p_stride: usize,
        v: *const f16,
        v_stride: usize,
        nk: usize,
        hd: usize,
        c: usize,
        acc: *mut f32,
    ) {
        let mut a = [[[vdupq_n_f32(0.0); 2]; W]; N];
        // SAFETY: (whole body) every offset stays inside the regions the caller guarantees:
        // rows i < N, keys t < nk, lanes c..c + 8W <= hd.
        unsafe {
            for (i, ai) in a.iter_mut().enumerate() {
                for (w, aw) in ai.iter_mut().enumerate() {
                    aw[0] = vld1q_f32(acc.add(i * hd + c + 8 * w));
                    aw[1] = vld1q_f32(acc.add(i * hd + c + 8 * w + 4));
                }
            }
            for t in 0..nk {
                let vt = v.add(t * v_stride + c);
                let mut vv = [(vdupq_n_f32(0.0), vdupq_n_f32(0.0)); W];
                for (w, x) in vv.iter_mut().enumerate() {
                    *x = ld8(vt.add(8 * w));
                }
                for (i, ai) in a.iter_mut().enumerate() {
                    let pb = *p.add(i * p_stride + t);
                    for (aw, &(x0, x1)) in ai.iter_mut().zip(&vv) {
                        aw[0] = vfmaq_n_f32(aw[0], x0, pb);
                        aw[1] = vfmaq_n_f32(aw[1], x1, pb);
                    }
                }
            }
            for (i, ai) in a.iter().enumerate() {
                for (w, aw) in ai.iter().enumerate() {
                    vst1q_f32(acc.add(i * hd + c + 8 * w), aw[0]);
                    vst1q_f32(acc.add(i * hd + c + 8 * w + 4), aw[1]);
                }
            }
        }
    }

    /// # Safety
    /// As [`accum_tile`], for all lanes `0..hd` (`hd % 8 == 0`).
    #[target_feature(enable = "neon")]
    #[inline]
    unsafe fn accum_rows<const N: usize>(
        p: *const f32,
        p_stride: usize,
        v: *const f16,
        v_stride: usize,
        nk: usize,
        hd: usize,
        acc: *mut f32,
    ) {
        let mut c = 0;
        // SAFETY: c + 16 <= hd (resp. c + 8 <= hd) in each call; the rest is the caller's.
        unsafe {
            while c + 16 <= hd {
                accum_tile::<N, 2>(p, p_stride, v, v_stride, nk, hd, c, acc);
                c += 16;
            }
            if c < hd {
                accum_tile::<N, 1>(p, p_stride, v, v_stride, nk, hd, c, acc);
            }
        }
    }

    /// See [`super::accum_f16`].
    ///
    /// # Safety
    /// NEON present; `hd % 8 == 0`; the slices hold what `accum_f16` checks.
    #[target_feature(enable = "neon")]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn accum(
        p: &[f32],
        p_stride: usize,
        nq: usize,
        v: &[f16],
        v_stride: usize,
        nk: usize,
        hd: usize,
        acc: &mut [f32],
    ) {
        let mut j = 0;
        while j < nq {
            let n = (nq - j).min(4);
            let pj = p[j * p_stride..][..(n - 1) * p_stride + nk].as_ptr();
            let aj = acc[j * hd..][..n * hd].as_mut_ptr();
            let vp = v.as_ptr();
            // SAFETY: `pj` covers rows j..j+n of p (sliced above), `aj` rows j..j+n of acc,
            // `v` holds nk rows (checked by `accum_f16`).
            unsafe {
                match n {
                    4 => accum_rows::<4>(pj, p_stride, vp, v_stride, nk, hd, aj),
                    3 => accum_rows::<3>(pj, p_stride, vp, v_stride, nk, hd, aj),
                    2 => accum_rows::<2>(pj, p_stride, vp, v_stride, nk, hd, aj),
                    _ => accum_rows::<1>(pj, p_stride, vp, v_stride, nk, hd, aj),
                }
            }
            j += n;
        }
    }
}
