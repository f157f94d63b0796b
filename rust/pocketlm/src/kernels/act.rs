//! Gated feed-forward activations: `gate[i] = act(gate[i]) * up[i]` with SiLU or GELU (tanh
//! form), vectorized and split across the pool.
//!
//! Both activations are written as `x / (1 + exp(-z))` (SiLU: `z = x`; GELU:
//! `0.5·x·(1 + tanh(y)) = x / (1 + exp(-2y))`, `y = √(2/π)·(x + 0.044715·x³)`), so the SIMD paths
//! need one vector `exp` (the attention kernels' polynomial) and one division per 8 (AVX2) or 4
//! (NEON) values instead of a libm `tanhf`/`expf` call per value. They agree with the scalar
//! reference ([`glu_reference`], libm) to a few ulp of `x` (tested); the rewritten GELU form is
//! also free of the reference's cancellation in `1 + tanh(y)` for negative `x`.

use super::{ThreadPool, Tier, TierKernels};

/// The activation of a gated feed-forward layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GluAct {
    /// `x · sigmoid(x)` (Llama, SmolLM2).
    Silu,
    /// GELU, tanh approximation (Gemma).
    GeluTanh,
}

/// `√(2/π)`.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

/// Scalar reference: `gate[i] = act(gate[i]) * up[i]` with libm (`crate::ops`).
pub fn glu_reference(act: GluAct, gate: &mut [f32], up: &[f32]) {
    let f: fn(f32) -> f32 = match act {
        GluAct::Silu => crate::ops::silu,
        GluAct::GeluTanh => crate::ops::gelu_tanh,
    };
    crate::ops::glu(gate, up, f);
}

/// `gate[i] = act(gate[i]) * up[i]` with the kernels of `tier` (the scalar reference for tiers
/// without SIMD code). Panics if `up` is shorter than `gate` or the CPU lacks `tier`.
pub fn glu(tier: Tier, act: GluAct, gate: &mut [f32], up: &[f32]) {
    glu_with(tier.kernels(), act, gate, up);
}

fn glu_with(k: &TierKernels, act: GluAct, gate: &mut [f32], up: &[f32]) {
    assert!(up.len() >= gate.len(), "glu: up is shorter than gate");
    let up = &up[..gate.len()];
    match k.glu {
        // SAFETY: a tier's table is handed out only when this CPU supports the tier
        // (`Tier::kernels`); `up` was cut to `gate`'s length.
        Some(glu) => unsafe { glu(act, gate, up) },
        None => glu_reference(act, gate, up),
    }
}

/// [`glu`] with the selected tier, split into contiguous pieces (4 per thread of `pool`,
/// claimed dynamically) when there is enough work (prefill); small inputs (decode) run on the calling thread. The result
/// does not depend on the split (element-wise).
pub fn glu_parallel(pool: &ThreadPool, act: GluAct, gate: &mut [f32], up: &[f32]) {
    let k = super::selected_kernels();
    let n = pool.n_threads();
    if n == 1 || gate.len() < 32 * 1024 {
        glu_with(k, act, gate, up);
        return;
    }
    assert!(up.len() >= gate.len(), "glu: up is shorter than gate");
    let piece = gate.len().div_ceil(4 * n).next_multiple_of(8);
    let pieces = std::sync::Mutex::new(gate.chunks_mut(piece).zip(up.chunks(piece)));
    pool.run_joinable(|_, _| loop {
        let next = pieces.lock().expect("glu pieces lock").next();
        let Some((g, u)) = next else { break };
        glu_with(k, act, g, u);
    });
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use super::{GluAct, GELU_C, SQRT_2_OVER_PI};
    use crate::kernels::attention::avx2::exp8;
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

    /// See [`super::glu`].
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
}

#[cfg(target_arch = "aarch64")]
pub(crate) mod neon {
    use super::{GluAct, GELU_C, SQRT_2_OVER_PI};
    use crate::kernels::attention::neon::exp4;
    use core::arch::aarch64::*;

    /// `act(x)` of 4 lanes as `x / (1 + exp(-z))`.
    #[target_feature(enable = "neon")]
    #[inline]
    fn act4(act: GluAct, x: float32x4_t) -> float32x4_t {
        let z = match act {
            GluAct::Silu => x,
            GluAct::GeluTanh => {
                let x2 = vmulq_f32(x, x);
                let k = 2.0 * SQRT_2_OVER_PI;
                vmulq_f32(x, vfmaq_f32(vdupq_n_f32(k), x2, vdupq_n_f32(k * GELU_C)))
            }
        };
        let e = exp4(vnegq_f32(z));
        vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0), e))
    }

    /// See [`super::glu`].
    ///
    /// # Safety
    /// NEON present; `up.len() == gate.len()`.
    #[target_feature(enable = "neon")]
    pub(crate) unsafe fn glu(act: GluAct, gate: &mut [f32], up: &[f32]) {
        let mut g4 = gate.chunks_exact_mut(4);
        let mut u4 = up.chunks_exact(4);
        for (g, u) in (&mut g4).zip(&mut u4) {
            // SAFETY: `g` and `u` are 4 f32 each; `vld1q`/`vst1q` need no alignment.
            unsafe {
                let y = vmulq_f32(act4(act, vld1q_f32(g.as_ptr())), vld1q_f32(u.as_ptr()));
                vst1q_f32(g.as_mut_ptr(), y);
            }
        }
        let (g, u) = (g4.into_remainder(), u4.remainder());
        if !g.is_empty() {
            let (mut gb, mut ub) = ([0.0f32; 4], [0.0f32; 4]);
            gb[..g.len()].copy_from_slice(g);
            ub[..u.len()].copy_from_slice(u);
            // SAFETY: `gb` and `ub` are 4 f32 each.
            unsafe {
                let y = vmulq_f32(act4(act, vld1q_f32(gb.as_ptr())), vld1q_f32(ub.as_ptr()));
                vst1q_f32(gb.as_mut_ptr(), y);
            }
            g.copy_from_slice(&gb[..g.len()]);
        }
    }
}
