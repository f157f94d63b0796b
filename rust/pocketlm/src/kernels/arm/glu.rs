//! The gated feed-forward activation of every aarch64 tier (NEON): the SIMD path of
//! [`crate::kernels::act::glu`] (the method and its accuracy are described there).

use super::attention::exp4;
use crate::kernels::act::{GluAct, GELU_C, SQRT_2_OVER_PI};
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

/// See [`crate::kernels::act::glu`].
///
/// # Safety
/// NEON present; `up.len() == gate.len()`.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn glu(act: GluAct, gate: &mut [f32], up: &[f32]) {
    // SAFETY: the caller's guarantees.
    unsafe { apply(act, gate, Some(up)) }
}

/// See [`crate::kernels::act::silu`].
///
/// # Safety
/// NEON present.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn silu(x: &mut [f32]) {
    // SAFETY: NEON present.
    unsafe { apply(GluAct::Silu, x, None) }
}

/// See [`crate::kernels::act::softcap`]: `cap · tanh(x / cap)` as `2·cap / (1 + exp(-2x / cap))
/// - cap`.
///
/// # Safety
/// NEON present.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn softcap(x: &mut [f32], cap: f32) {
    let (k, two_cap, capv) = (
        vdupq_n_f32(-2.0 / cap),
        vdupq_n_f32(2.0 * cap),
        vdupq_n_f32(cap),
    );
    let one = vdupq_n_f32(1.0);
    let cap4 = |v: float32x4_t| {
        let e = exp4(vmulq_f32(v, k));
        vsubq_f32(vdivq_f32(two_cap, vaddq_f32(one, e)), capv)
    };
    let mut x4 = x.chunks_exact_mut(4);
    for c in &mut x4 {
        // SAFETY: `c` is 4 f32; `vld1q`/`vst1q` need no alignment.
        unsafe { vst1q_f32(c.as_mut_ptr(), cap4(vld1q_f32(c.as_ptr()))) }
    }
    let rest = x4.into_remainder();
    if !rest.is_empty() {
        let mut b = [0.0f32; 4];
        b[..rest.len()].copy_from_slice(rest);
        // SAFETY: `b` is 4 f32.
        unsafe { vst1q_f32(b.as_mut_ptr(), cap4(vld1q_f32(b.as_ptr()))) }
        let n = rest.len();
        rest.copy_from_slice(&b[..n]);
    }
}

/// `x[i] = act(x[i]) · up[i]`, or `act(x[i])` without `up`.
///
/// # Safety
/// NEON present; `up`, if given, as long as `x`.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn apply(act: GluAct, x: &mut [f32], up: Option<&[f32]>) {
    let whole = x.len() / 4 * 4;
    let mut x4 = x.chunks_exact_mut(4);
    for (i, g) in (&mut x4).enumerate() {
        // SAFETY: `g` is 4 f32 and so is `up`'s chunk `i` (as long as `x`); `vld1q`/`vst1q`
        // need no alignment.
        unsafe {
            let mut y = act4(act, vld1q_f32(g.as_ptr()));
            if let Some(up) = up {
                y = vmulq_f32(y, vld1q_f32(up.as_ptr().add(4 * i)));
            }
            vst1q_f32(g.as_mut_ptr(), y);
        }
    }
    let g = x4.into_remainder();
    if !g.is_empty() {
        let (mut gb, mut ub) = ([0.0f32; 4], [1.0f32; 4]);
        gb[..g.len()].copy_from_slice(g);
        if let Some(up) = up {
            ub[..g.len()].copy_from_slice(&up[whole..]);
        }
        // SAFETY: `gb` and `ub` are 4 f32 each.
        unsafe {
            let y = vmulq_f32(act4(act, vld1q_f32(gb.as_ptr())), vld1q_f32(ub.as_ptr()));
            vst1q_f32(gb.as_mut_ptr(), y);
        }
        g.copy_from_slice(&gb[..g.len()]);
    }
}
