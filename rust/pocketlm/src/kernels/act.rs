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
//!
//! [`glu`] itself evaluates GELU as llama.cpp does, through an f16 table ([`gelu_f16`]) on
//! every tier, so the SIMD kernels' f32 GELU branch is no longer reached (only SiLU uses them).

use super::{ThreadPool, Tier, TierKernels};

/// The activation of a gated feed-forward layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GluAct {
    /// `x · sigmoid(x)` (Llama, SmolLM2).
    Silu,
    /// GELU, tanh approximation (Gemma), in llama.cpp's f16 form ([`gelu_f16`]; a table
    /// lookup on every tier, the SIMD kernels' f32 GELU is not used).
    GeluTanh,
}

/// `√(2/π)`.
pub(crate) const SQRT_2_OVER_PI: f32 = 0.797_884_6;
pub(crate) const GELU_C: f32 = 0.044_715;

/// Scalar reference: `gate[i] = act(gate[i]) * up[i]` with libm (`crate::ops`); GELU as
/// llama.cpp's CPU backend computes it ([`gelu_f16`], directly, without the table).
pub fn glu_reference(act: GluAct, gate: &mut [f32], up: &[f32]) {
    let f: fn(f32) -> f32 = match act {
        GluAct::Silu => crate::ops::silu,
        GluAct::GeluTanh => gelu_f16,
    };
    crate::ops::glu(gate, up, f);
}

/// GELU (tanh form) as ggml's CPU backend evaluates it (`GGML_GELU_FP16`): 0 at or below -10,
/// `x` at or above 10, and between them `x` rounded to f16, the libm formula, the result
/// rounded to f16 (ggml reads it from a table of all 65536 f16 inputs). Rounding through f16
/// moves a value by up to 2^-11 of itself, and the next quantized matrix product turns such a
/// difference into a different 8-bit activation code now and then: with exact f32 GELU, Gemma 2
/// Q4_0/Q4_K_M differed from llama.cpp by 0.04 nats at the first position of a prompt
/// (tests/families.rs), with this form by less than 1e-4.
pub fn gelu_f16(x: f32) -> f32 {
    use crate::quant::blocks::{f16_to_f32, f32_to_f16};
    if x <= -10.0 {
        0.0
    } else if x >= 10.0 {
        x
    } else {
        f16_to_f32(f32_to_f16(crate::ops::gelu_tanh(f16_to_f32(f32_to_f16(x)))))
    }
}

/// [`gelu_f16`] of every f16 input (by its bits), built on first use (128 KB).
fn gelu_f16_table() -> &'static [u16] {
    static TABLE: std::sync::OnceLock<Vec<u16>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        use crate::quant::blocks::{f16_to_f32, f32_to_f16};
        (0..=u16::MAX)
            .map(|h| f32_to_f16(crate::ops::gelu_tanh(f16_to_f32(h))))
            .collect()
    })
}

/// `gate[i] = gelu_f16(gate[i]) * up[i]` through the table (every tier: a lookup per value).
fn geglu_f16(gate: &mut [f32], up: &[f32]) {
    use crate::quant::blocks::{f16_to_f32, f32_to_f16};
    let table = gelu_f16_table();
    for (g, &u) in gate.iter_mut().zip(up) {
        let x = *g;
        *g = if x <= -10.0 {
            0.0
        } else if x >= 10.0 {
            x * u
        } else {
            f16_to_f32(table[f32_to_f16(x) as usize]) * u
        };
    }
}

/// `gate[i] = act(gate[i]) * up[i]` with the kernels of `tier` (the scalar reference for tiers
/// without SIMD code). Panics if `up` is shorter than `gate` or the CPU lacks `tier`.
pub fn glu(tier: Tier, act: GluAct, gate: &mut [f32], up: &[f32]) {
    glu_with(tier.kernels(), act, gate, up);
}

fn glu_with(k: &TierKernels, act: GluAct, gate: &mut [f32], up: &[f32]) {
    assert!(up.len() >= gate.len(), "glu: up is shorter than gate");
    let up = &up[..gate.len()];
    if act == GluAct::GeluTanh {
        // llama.cpp's f16 form, not the SIMD kernels' f32 one (see `gelu_f16`)
        geglu_f16(gate, up);
        return;
    }
    match k.glu {
        // SAFETY: a tier's table is handed out only when this CPU supports the tier
        // (`Tier::kernels`); `up` was cut to `gate`'s length.
        Some(glu) => unsafe { glu(act, gate, up) },
        None => glu_reference(act, gate, up),
    }
}

/// `x[i] = silu(x[i])` with the kernels of `tier` (the SIMD `exp` of [`glu`]; libm on tiers
/// without SIMD code): Qwen3.5's DeltaNet convolution output, a libm `expf` call per value
/// before (5.7 M of 186 M instructions per decoded token on NEON). Panics if the CPU lacks
/// `tier`.
pub fn silu(tier: Tier, x: &mut [f32]) {
    match tier.kernels().silu {
        // SAFETY: a tier's table is handed out only when this CPU supports the tier.
        Some(silu) => unsafe { silu(x) },
        None => silu_reference(x),
    }
}

/// `x[i] = cap · tanh(x[i] / cap)` with the kernels of `tier`: Gemma's final logit soft-capping,
/// over the whole vocabulary at every step (a libm `tanhf` per logit before: 29 M of Gemma 4
/// E2B's 635 M instructions per decoded token on NEON). The SIMD form `2·cap / (1 + exp(-2x /
/// cap)) - cap` is within a few ulp of `cap` of the reference. Panics if the CPU lacks `tier`.
pub fn softcap(tier: Tier, x: &mut [f32], cap: f32) {
    match tier.kernels().softcap {
        // SAFETY: a tier's table is handed out only when this CPU supports the tier.
        Some(softcap) => unsafe { softcap(x, cap) },
        None => softcap_reference(x, cap),
    }
}

/// Scalar reference of [`softcap`] (libm), what llama.cpp computes.
pub fn softcap_reference(x: &mut [f32], cap: f32) {
    x.iter_mut().for_each(|v| *v = cap * (*v / cap).tanh());
}

/// Scalar reference of [`silu`] (libm).
pub fn silu_reference(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = crate::ops::silu(*v));
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
