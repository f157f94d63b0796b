//! Gated feed-forward activations: `gate[i] = act(gate[i]) * up[i]` with SiLU or GELU (tanh
//! form), vectorized and split across the pool.
//!
//! Both activations are written as `x / (1 + exp(-z))` (SiLU: `z = x`; GELU:
//! `0.5·x·(1 + tanh(y)) = x / (1 + exp(-2y))`, `y = √(2/π)·(x + 0.044715·x³)`), so the SIMD
//! paths (`x86/glu.rs`, `arm/glu.rs`, reached through the tier's kernel table) need one vector
//! `exp` (the attention kernels' polynomial) and one division per 8 (AVX2) or 4 (NEON) values
//! instead of a libm `tanhf`/`expf` call per value. They agree with the scalar reference
//! ([`glu_reference`], libm) to a few ulp of `x` (tested); the rewritten GELU form is also free
//! of the reference's cancellation in `1 + tanh(y)` for negative `x`.

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
pub(crate) const SQRT_2_OVER_PI: f32 = 0.797_884_6;
pub(crate) const GELU_C: f32 = 0.044_715;

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
    // work: the exp polynomial and a division per element, ~16 multiply-adds
    let work = 16 * gate.len() as u64;
    let pieces = std::sync::Mutex::new(gate.chunks_mut(piece).zip(up.chunks(piece)));
    pool.run_joinable(work, |_, _| loop {
        let next = pieces.lock().expect("glu pieces lock").next();
        let Some((g, u)) = next else { break };
        glu_with(k, act, g, u);
    });
}
