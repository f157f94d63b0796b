//! The attention kernels of every aarch64 tier (NEON, ARMv8.0): the SIMD paths of
//! [`crate::kernels::attention`]'s primitives, which hold the scalar references and the
//! dispatch. Reached only through the tiers' kernel tables.

use core::arch::aarch64::*;
use half::f16;

/// 8 f16 at `x` as two f32x4 (FCVTL/FCVTL2, [`super::h2f8`]; exact for every f16).
///
/// # Safety
/// `x` must point to 8 readable f16.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn ld8(x: *const f16) -> (float32x4_t, float32x4_t) {
    // SAFETY: the caller guarantees 16 readable bytes; `vld1q` needs no alignment.
    let [lo, hi] = super::h2f8(unsafe { vld1q_u16(x.cast()) });
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

/// See [`crate::kernels::attention::scores_f16`].
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

/// `exp(x)` of 4 lanes (see [`crate::kernels::attention::exp_sum`] for its accuracy and clamping).
#[target_feature(enable = "neon")]
#[inline]
pub(in crate::kernels) fn exp4(x: float32x4_t) -> float32x4_t {
    use crate::kernels::attention::expc::*;
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

/// See [`crate::kernels::attention::exp_sum`].
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

/// See [`crate::kernels::attention::accum_f16`].
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
