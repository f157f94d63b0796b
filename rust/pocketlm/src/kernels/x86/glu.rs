//! The gated feed-forward activation of both x86_64 tiers (AVX2 + FMA): the SIMD path of
//! [`crate::kernels::act::glu`] (the method and its accuracy are described there).

use super::attention::exp8;
use crate::kernels::act::{GluAct, GELU_C, SQRT_2_OVER_PI};
use core::arch::x86_64::*;

/// `act(x)` of 8 lanes as `x / (1 + exp(-z))`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn act8(act: GluAct, x: __m256) -> __m256 {
    let z = match act {
        GluAct::Silu => x,
        GluAct::GeluTanh => {
            let x2 = _mm256_mul_ps(x, x);
            // 2·√(2/π)·(x + c·x³) = x · (2·√(2/π)·c · x² + 2·√(2/π))
            let k = 2.0 * SQRT_2_OVER_PI;
            _mm256_mul_ps(
                x,
                _mm256_fmadd_ps(x2, _mm256_set1_ps(k * GELU_C), _mm256_set1_ps(k)),
            )
        }
    };
    let e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), z));
    _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0), e))
}

/// See [`crate::kernels::act::glu`].
///
/// # Safety
/// AVX2+FMA+F16C present; `up.len() == gate.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn glu(act: GluAct, gate: &mut [f32], up: &[f32]) {
    // SAFETY: the caller's guarantees.
    unsafe { apply(act, gate, Some(up)) }
}

/// See [`crate::kernels::act::silu`].
///
/// # Safety
/// AVX2+FMA+F16C present.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn silu(x: &mut [f32]) {
    // SAFETY: the caller's guarantees.
    unsafe { apply(GluAct::Silu, x, None) }
}

/// See [`crate::kernels::act::softcap`]: `cap · tanh(x / cap)` as `2·cap / (1 + exp(-2x / cap))
/// - cap`.
///
/// # Safety
/// AVX2+FMA+F16C present.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn softcap(x: &mut [f32], cap: f32) {
    let (k, two_cap, capv) = (
        _mm256_set1_ps(-2.0 / cap),
        _mm256_set1_ps(2.0 * cap),
        _mm256_set1_ps(cap),
    );
    let one = _mm256_set1_ps(1.0);
    let cap8 = |v: __m256| {
        let e = exp8(_mm256_mul_ps(v, k));
        _mm256_sub_ps(_mm256_div_ps(two_cap, _mm256_add_ps(one, e)), capv)
    };
    let mut x8 = x.chunks_exact_mut(8);
    for c in &mut x8 {
        // SAFETY: `c` is 8 f32; `loadu`/`storeu` need no alignment.
        unsafe { _mm256_storeu_ps(c.as_mut_ptr(), cap8(_mm256_loadu_ps(c.as_ptr()))) }
    }
    let rest = x8.into_remainder();
    if !rest.is_empty() {
        let mut b = [0.0f32; 8];
        b[..rest.len()].copy_from_slice(rest);
        // SAFETY: `b` is 8 f32.
        unsafe { _mm256_storeu_ps(b.as_mut_ptr(), cap8(_mm256_loadu_ps(b.as_ptr()))) }
        let n = rest.len();
        rest.copy_from_slice(&b[..n]);
    }
}

/// `x[i] = act(x[i]) · up[i]`, or `act(x[i])` without `up`.
///
/// # Safety
/// AVX2+FMA+F16C present; `up`, if given, as long as `x`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn apply(act: GluAct, x: &mut [f32], up: Option<&[f32]>) {
    let whole = x.len() / 8 * 8;
    let mut x8 = x.chunks_exact_mut(8);
    for (i, g) in (&mut x8).enumerate() {
        // SAFETY: `g` is 8 f32 and so is `up`'s chunk `i` (as long as `x`); `loadu`/`storeu`
        // need no alignment.
        unsafe {
            let mut y = act8(act, _mm256_loadu_ps(g.as_ptr()));
            if let Some(up) = up {
                y = _mm256_mul_ps(y, _mm256_loadu_ps(up.as_ptr().add(8 * i)));
            }
            _mm256_storeu_ps(g.as_mut_ptr(), y);
        }
    }
    let g = x8.into_remainder();
    if !g.is_empty() {
        let (mut gb, mut ub) = ([0.0f32; 8], [1.0f32; 8]);
        gb[..g.len()].copy_from_slice(g);
        if let Some(up) = up {
            ub[..g.len()].copy_from_slice(&up[whole..]);
        }
        // SAFETY: `gb` and `ub` are 8 f32 each.
        unsafe {
            let y = _mm256_mul_ps(
                act8(act, _mm256_loadu_ps(gb.as_ptr())),
                _mm256_loadu_ps(ub.as_ptr()),
            );
            _mm256_storeu_ps(gb.as_mut_ptr(), y);
        }
        g.copy_from_slice(&gb[..g.len()]);
    }
}
