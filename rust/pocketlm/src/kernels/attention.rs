//! Attention over the f16 KV cache, read in place (no f32 copy of the cache).
//!
//! Two primitives, each with a scalar reference here and SIMD paths in the architecture
//! directories, reached through the tier's kernel table: x86_64 AVX2+FMA+F16C
//! (`x86/attention.rs`) and aarch64 NEON (`arm/attention.rs`; ARMv8.0, f16 → f32 with
//! `fcvtl`/`fcvtl2` through `asm!`, whose intrinsics are unstable):
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
pub(crate) mod expc {
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

impl AttnScratch {
    /// Buffers with room for a full pass of [`MAX_QUERIES`] queries of head dimension `hd`:
    /// a thread's buffers then never grow mid-run, whichever pieces of the work the pool
    /// hands it (a caller that runs a job alone takes pieces its workers usually take).
    pub fn with_head_dim(hd: usize) -> Self {
        AttnScratch {
            q: Vec::with_capacity(MAX_QUERIES * hd),
            acc: Vec::with_capacity(MAX_QUERIES * hd),
            s: Vec::with_capacity(MAX_QUERIES * KEY_BLOCK),
            m: Vec::with_capacity(MAX_QUERIES),
            l: Vec::with_capacity(MAX_QUERIES),
        }
    }
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
