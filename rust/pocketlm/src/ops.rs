//! Small element-wise operations of the transformer (norms, activations, RoPE, softmax).
//! Their cost is tiny next to the matrix products, so they stay plain scalar Rust that the
//! compiler auto-vectorizes.

/// `1 / sqrt(mean(x^2) + eps)`. The sum is accumulated in f64, as ggml does, so long rows keep
/// their precision.
fn rms_scale(x: &[f32], eps: f32) -> f32 {
    let ss: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    1.0 / ((ss / x.len() as f64) as f32 + eps).sqrt()
}

/// RMS normalization in place: `x * w / sqrt(mean(x^2) + eps)`.
pub fn rms_norm(x: &mut [f32], w: &[f32], eps: f32) {
    debug_assert_eq!(x.len(), w.len());
    let scale = rms_scale(x, eps);
    for (v, &wi) in x.iter_mut().zip(w) {
        *v = *v * scale * wi;
    }
}

/// RMS-normalizes `x` without weights (ggml's `rms_norm` alone: Gemma 4's values).
pub fn rms_norm_unweighted(x: &mut [f32], eps: f32) {
    let scale = rms_scale(x, eps);
    x.iter_mut().for_each(|v| *v *= scale);
}

/// Copies `src` into `dst` and RMS-normalizes it.
pub fn rms_norm_into(dst: &mut [f32], src: &[f32], w: &[f32], eps: f32) {
    dst.copy_from_slice(src);
    rms_norm(dst, w, eps);
}

/// SiLU (swish), `x * sigmoid(x)`: the gate activation of Llama-style models.
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// GELU, tanh approximation (what Gemma was trained with).
pub fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (1.0 + 0.044_715 * x * x)).tanh())
}

/// `gate = act(gate) * up`, element-wise.
pub fn glu(gate: &mut [f32], up: &[f32], act: fn(f32) -> f32) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = act(*g) * u;
    }
}

/// Softmax in place; returns nothing useful for an empty slice.
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// `ln(exp(a) + exp(b))`: the sum of two probabilities given as natural logs, without
/// overflow (`-inf`, probability 0, is the identity). The keyboard adds the probabilities of
/// the token paths that spell one word with it.
pub fn log_add(a: f32, b: f32) -> f32 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f32::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `ln(Σ exp(x))`, without overflow: a token's log-probability is its logit minus this, for
/// when only a few log-probabilities of a row are needed (the keyboard's nodes, the reply
/// drafter's beams). An empty row or one of `-inf` only (probability 0) gives `-inf`; a `+inf`
/// gives `+inf`. The exps run on the selected kernel tier (a few hundred at a time through a
/// stack buffer), their chunk sums add up in f64.
pub fn log_sum_exp(x: &[f32]) -> f32 {
    const CHUNK: usize = 256;
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max.is_infinite() {
        return max;
    }
    let tier = crate::kernels::selected_tier();
    let mut buf = [0.0f32; CHUNK];
    let mut sum = 0.0f64;
    for c in x.chunks(CHUNK) {
        let b = &mut buf[..c.len()];
        b.copy_from_slice(c);
        sum += crate::kernels::attention::exp_sum(tier, b, max) as f64;
    }
    max + (sum as f32).ln()
}

/// Log-softmax of one row, written into `out`.
pub fn log_softmax(x: &[f32], out: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = x.iter().map(|&v| ((v - max) as f64).exp()).sum();
    let log_z = max + sum.ln() as f32;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v - log_z;
    }
}

/// Rotary position embedding tables: `inv_freq[i] = base^(-2i/dim) / scale`.
#[derive(Debug, Clone)]
pub struct Rope {
    inv_freq: Vec<f32>,
    halves: bool,
    /// Multiplier of sin and cos (LongRoPE's attention factor; 1.0 elsewhere).
    mscale: f32,
}

impl Rope {
    /// The tables for `dim` rotated dimensions, frequency `base` (`rope_theta`) and linear
    /// position `scale`; `halves` pairs dim `i` with `i + dim/2` (NeoX style) instead of
    /// `2i` with `2i + 1`.
    pub fn new(dim: usize, base: f32, scale: f32, halves: bool) -> Self {
        let inv_freq = (0..dim / 2)
            .map(|i| (1.0 / (base as f64).powf(2.0 * i as f64 / dim as f64) / scale as f64) as f32)
            .collect();
        Self {
            inv_freq,
            halves,
            mscale: 1.0,
        }
    }

    /// The same rotation with every pair's frequency divided by its factor (Llama 3's
    /// `rope_freqs`, LongRoPE's short/long factors), as ggml's `rope_ext` `freq_factors`.
    /// `factors` has one entry per rotated pair.
    pub fn with_factors(mut self, factors: &[f32]) -> Self {
        assert_eq!(factors.len(), self.inv_freq.len(), "one factor per pair");
        for (f, &d) in self.inv_freq.iter_mut().zip(factors) {
            *f = (*f as f64 / d as f64) as f32;
        }
        self
    }

    /// The same rotation with sin and cos multiplied by `mscale` (ggml's `attn_factor`).
    pub fn with_mscale(mut self, mscale: f32) -> Self {
        self.mscale = mscale;
        self
    }

    /// Rotates one head vector (its first `2 * inv_freq.len()` dims) for position `pos`.
    pub fn apply(&self, head: &mut [f32], pos: usize) {
        let n = self.inv_freq.len();
        for (i, &f) in self.inv_freq.iter().enumerate() {
            let (sin, cos) = (pos as f32 * f).sin_cos();
            self.rotate(head, n, i, (sin * self.mscale, cos * self.mscale));
        }
    }

    /// The `(sin, cos)` of every rotation angle at position `pos`, for [`Rope::apply_with`]
    /// (several heads at one position share them).
    pub fn angles(&self, pos: usize, out: &mut Vec<(f32, f32)>) {
        out.clear();
        let m = self.mscale;
        out.extend(self.inv_freq.iter().map(|&f| {
            let (sin, cos) = (pos as f32 * f).sin_cos();
            (sin * m, cos * m)
        }));
    }

    /// [`Rope::apply`] with the angles of [`Rope::angles`] (same results).
    pub fn apply_with(&self, head: &mut [f32], angles: &[(f32, f32)]) {
        let n = self.inv_freq.len();
        assert_eq!(angles.len(), n, "Rope::apply_with: angles of another rope");
        for (i, &sc) in angles.iter().enumerate() {
            self.rotate(head, n, i, sc);
        }
    }

    #[inline(always)]
    fn rotate(&self, head: &mut [f32], n: usize, i: usize, (sin, cos): (f32, f32)) {
        let (a, b) = if self.halves {
            (i, i + n)
        } else {
            (2 * i, 2 * i + 1)
        };
        let (x0, x1) = (head[a], head[b]);
        head[a] = x0 * cos - x1 * sin;
        head[b] = x0 * sin + x1 * cos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_add_adds_probabilities() {
        let (a, b) = (0.2f32, 0.3f32);
        assert!((log_add(a.ln(), b.ln()) - 0.5f32.ln()).abs() < 1e-6);
        assert_eq!(log_add(f32::NEG_INFINITY, b.ln()), b.ln());
        assert_eq!(log_add(a.ln(), f32::NEG_INFINITY), a.ln());
        // Far below f32's exp range: still no overflow, the larger term wins.
        assert!((log_add(-1000.0, -1000.0) - (-1000.0 + 2f32.ln())).abs() < 1e-3);
    }

    #[test]
    fn log_sum_exp_matches_a_naive_f64_sum() {
        fn naive(x: &[f32]) -> f64 {
            x.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln()
        }
        let mut state = 0x2545_f491_u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 40.0 - 25.0 // logits in [-25, 15)
        };
        // Lengths around the stack chunk and the SIMD width, and a vocabulary-sized row.
        for n in [1, 7, 8, 9, 255, 256, 257, 1000, 49_152] {
            let x: Vec<f32> = (0..n).map(|_| next()).collect();
            let want = naive(&x);
            let got = log_sum_exp(&x);
            assert!((got as f64 - want).abs() < 1e-4, "n={n}: {got} vs {want}");
            // Shifted far beyond exp's range (f64 too): the same value, shifted.
            let big: Vec<f32> = x.iter().map(|&v| v + 2000.0).collect();
            let got = log_sum_exp(&big);
            assert!(
                (got as f64 - (want + 2000.0)).abs() < 2e-3,
                "n={n} +2000: {got}"
            );
            let small: Vec<f32> = x.iter().map(|&v| v - 2000.0).collect();
            let got = log_sum_exp(&small);
            assert!(
                (got as f64 - (want - 2000.0)).abs() < 2e-3,
                "n={n} -2000: {got}"
            );
        }
        assert_eq!(log_sum_exp(&[]), f32::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[f32::NEG_INFINITY; 3]), f32::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[1.0, f32::INFINITY]), f32::INFINITY);
        // Probability-0 entries add nothing.
        let x = [0.5f32, f32::NEG_INFINITY, -1.0];
        assert!((log_sum_exp(&x) as f64 - naive(&x)).abs() < 1e-6);
        assert_eq!(log_sum_exp(&[3.0]), 3.0);
    }

    #[test]
    fn rope_with_shared_angles_matches_apply() {
        for halves in [false, true] {
            let rope = Rope::new(64, 10000.0, 1.0, halves);
            let mut angles = Vec::new();
            for pos in [0, 1, 7, 513, 30000] {
                let x: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin()).collect();
                let (mut a, mut b) = (x.clone(), x);
                rope.apply(&mut a, pos);
                rope.angles(pos, &mut angles);
                rope.apply_with(&mut b, &angles);
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn rms_norm_unit_weights_gives_unit_rms() {
        let mut x = vec![1.0, -2.0, 3.0, -4.0];
        rms_norm(&mut x, &[1.0; 4], 0.0);
        let rms = (x.iter().map(|v| v * v).sum::<f32>() / 4.0).sqrt();
        assert!((rms - 1.0).abs() < 1e-6);
    }

    #[test]
    fn softmax_sums_to_one_and_is_stable() {
        let mut x = vec![1000.0, 1001.0, 999.0];
        softmax(&mut x);
        assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(x[1] > x[0] && x[0] > x[2]);
    }

    #[test]
    fn log_softmax_matches_softmax() {
        let x = vec![0.5, -1.0, 2.0, 0.0];
        let mut p = x.clone();
        softmax(&mut p);
        let mut lp = vec![0.0; 4];
        log_softmax(&x, &mut lp);
        for (a, b) in p.iter().zip(&lp) {
            assert!((a.ln() - b).abs() < 1e-5);
        }
    }

    #[test]
    fn rope_preserves_norm_and_is_identity_at_zero() {
        for halves in [false, true] {
            let rope = Rope::new(8, 10000.0, 1.0, halves);
            let orig: Vec<f32> = (0..8).map(|i| i as f32 - 3.5).collect();
            let mut h = orig.clone();
            rope.apply(&mut h, 0);
            assert_eq!(h, orig);
            rope.apply(&mut h, 17);
            let n0: f32 = orig.iter().map(|v| v * v).sum();
            let n1: f32 = h.iter().map(|v| v * v).sum();
            assert!((n0 - n1).abs() < 1e-3);
            assert_ne!(h, orig);
        }
    }

    #[test]
    fn activations() {
        assert!((silu(0.0)).abs() < 1e-7);
        assert!((gelu_tanh(0.0)).abs() < 1e-7);
        assert!((gelu_tanh(3.0) - 2.99636).abs() < 1e-4);
        assert!((silu(2.0) - 1.761594).abs() < 1e-5);
    }
}
