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
    let mut g8 = gate.chunks_exact_mut(8);
    let mut u8 = up.chunks_exact(8);
    for (g, u) in (&mut g8).zip(&mut u8) {
        // SAFETY: `g` and `u` are 8 f32 each; `loadu`/`storeu` need no alignment.
        unsafe {
            let y = _mm256_mul_ps(
                act8(act, _mm256_loadu_ps(g.as_ptr())),
                _mm256_loadu_ps(u.as_ptr()),
            );
            _mm256_storeu_ps(g.as_mut_ptr(), y);
        }
    }
    let (g, u) = (g8.into_remainder(), u8.remainder());
    if !g.is_empty() {
        let (mut gb, mut ub) = ([0.0f32; 8], [0.0f32; 8]);
        gb[..g.len()].copy_from_slice(g);
        ub[..u.len()].copy_from_slice(u);
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
