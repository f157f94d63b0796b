//! The attention kernels of both x86_64 tiers (AVX2 + FMA + F16C): the SIMD paths of
//! [`crate::kernels::attention`]'s primitives, which hold the scalar references and the
//! dispatch. Reached only through the tiers' kernel tables ([`super::avx2::KERNELS`]).

use super::hsum;
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

/// See [`crate::kernels::attention::scores_f16`].
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

/// `exp(x)` of 8 lanes (see [`crate::kernels::attention::exp_sum`] for its accuracy and clamping).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels) fn exp8(x: __m256) -> __m256 {
    use crate::kernels::attention::expc::*;
    let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(LO)), _mm256_set1_ps(HI));
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(LOG2E),
    ));
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

/// See [`crate::kernels::attention::exp_sum`].
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

/// See [`crate::kernels::attention::accum_f16`].
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
