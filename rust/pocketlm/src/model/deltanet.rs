//! Qwen3.5's Gated DeltaNet, the token mixer of its linear-attention layers (learned from
//! llama.cpp's `src/models/qwen35.cpp` and `delta-net-base.cpp`; the recurrence as ggml's
//! `gated_delta_net`). Per token, with `x` the normed input:
//!
//! ```text
//! c        = silu(conv(qkv · x))        a causal convolution of `conv_kernel` taps per channel
//! q, k, v  = split(c)                    q, k: key heads; v: value heads (all `head_dim` wide)
//! q, k     = q / |q|, k / |k|            per head (|x| = sqrt(Σx² + eps))
//! per value head h (key head h % k_heads):
//!   decay  = exp(softplus(alpha_h · x + dt_h) * a_h)          a_h = -exp(A_log) < 0
//!   beta   = sigmoid(beta_h · x)
//!   S      = decay * S                                          S: head_dim × head_dim
//!   S     += k (beta * (v - Sᵀ k))ᵀ                             the delta rule
//!   o      = Sᵀ q / sqrt(head_dim)
//! y        = rms_norm(o_h) * norm * silu(z_h),  z = gate · x    per head
//! out      = ssm_out · y
//! ```
//!
//! The matrix products run in `forward.rs` with the other layers' products; this module does
//! the per-token part. A layer's state (the convolution's last `conv_kernel - 1` inputs and
//! `S` per value head) lives in the sequence's cache (`KvCache::recurrent_mut`) and is the
//! state after the cache's last position.

use super::config::DeltaNetDims;
use super::forward::BatchRow;
use super::kv_cache::KvCache;

/// A DeltaNet layer's per-channel and per-head parameters.
pub(crate) struct Params<'a> {
    /// The layer (whose state in each cache is advanced).
    pub layer: usize,
    /// `conv_kernel` taps per channel, oldest input first.
    pub conv: &'a [f32],
    /// Per value head: alpha's bias and the decay rate (negative).
    pub dt_bias: &'a [f32],
    pub a: &'a [f32],
    /// The output norm's weights (`head_dim`).
    pub norm: &'a [f32],
    /// Epsilon of the q/k L2 norms and of the output norm.
    pub eps: f32,
}

/// The per-row inputs of one layer, from the matrix products: `qkv` (`channels` per row),
/// `z` (`value_dim`), `alpha` and `beta` (`v_heads`).
pub(crate) struct Inputs<'a> {
    pub qkv: &'a [f32],
    pub z: &'a [f32],
    pub alpha: &'a [f32],
    pub beta: &'a [f32],
}

fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

fn softplus(x: f32) -> f32 {
    // ggml's: linear above 20
    if x > 20.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// For each row of `rows` (in order; rows of one sequence at consecutive positions
/// continuing its cache's state), advances the state of `p.layer` in its sequence's cache by the
/// row's token and writes the gated, normed output (`value_dim` per row) to `y`. `c` is
/// scratch.
pub(crate) fn mix(
    d: &DeltaNetDims,
    p: &Params,
    rows: &[BatchRow],
    caches: &mut [&mut KvCache],
    inp: &Inputs,
    y: &mut [f32],
    c: &mut Vec<f32>,
) {
    let (ch, vd, vh) = (d.channels(), d.value_dim(), d.v_heads);
    if c.len() < ch {
        c.resize(ch, 0.0);
    }
    for (r, row) in rows.iter().enumerate() {
        let state = caches[row.seq].recurrent_mut(p.layer);
        step(
            d,
            p,
            state,
            &inp.qkv[r * ch..][..ch],
            &inp.z[r * vd..][..vd],
            &inp.alpha[r * vh..][..vh],
            &inp.beta[r * vh..][..vh],
            &mut y[r * vd..][..vd],
            &mut c[..ch],
        );
    }
}

/// One token through one layer: `state` (`d.state_len()`) is advanced in place.
#[allow(clippy::too_many_arguments)]
fn step(
    d: &DeltaNetDims,
    p: &Params,
    state: &mut [f32],
    x: &[f32],
    z: &[f32],
    alpha: &[f32],
    beta: &[f32],
    y: &mut [f32],
    c: &mut [f32],
) {
    let (kernel, nch, hd) = (d.conv_kernel, d.channels(), d.head_dim);
    let (hist, mats) = state.split_at_mut(d.conv_state_len());
    // The causal convolution (ggml_ssm_conv: a float sum over the taps in order, from 0),
    // then the history shifts by one input.
    for (ch, out) in c.iter_mut().enumerate() {
        let w = &p.conv[ch * kernel..][..kernel];
        let mut sum = 0f32;
        for (i, &wi) in w[..kernel - 1].iter().enumerate() {
            sum += hist[i * nch + ch] * wi;
        }
        sum += x[ch] * w[kernel - 1];
        *out = silu(sum);
    }
    hist.copy_within(nch.., 0);
    hist[(kernel - 2) * nch..].copy_from_slice(x);
    // L2 norms of the query and key heads (ggml: rms_norm with eps / n, scaled by 1/sqrt(n)).
    let key_dim = d.key_dim();
    for head in c[..2 * key_dim].chunks_mut(hd) {
        let ss: f32 = head.iter().map(|v| v * v).sum();
        let n = hd as f32;
        let scale = 1.0 / (ss / n + p.eps / n).sqrt() / n.sqrt();
        head.iter_mut().for_each(|v| *v *= scale);
    }
    let (qk, v) = c.split_at(2 * key_dim);
    let (q, k) = qk.split_at(key_dim);
    let q_scale = 1.0 / (hd as f32).sqrt();
    for h in 0..d.v_heads {
        let kh = h % d.k_heads;
        let (qh, kh_, vh) = (&q[kh * hd..][..hd], &k[kh * hd..][..hd], &v[h * hd..][..hd]);
        let decay = (softplus(alpha[h] + p.dt_bias[h]) * p.a[h]).exp();
        let b = sigmoid(beta[h]);
        let m = &mut mats[h * hd * hd..][..hd * hd];
        let o = &mut y[h * hd..][..hd];
        // Row j of `m` is column j of S (the keys' weights of value j): each row's update
        // needs only itself.
        for (j, (row, oj)) in m.chunks_exact_mut(hd).zip(o.iter_mut()).enumerate() {
            row.iter_mut().for_each(|s| *s *= decay);
            let sk: f32 = row.iter().zip(kh_).map(|(s, k)| s * k).sum();
            let delta = (vh[j] - sk) * b;
            for (s, &kv) in row.iter_mut().zip(kh_) {
                *s += kv * delta;
            }
            let sq: f32 = row.iter().zip(qh).map(|(s, q)| s * q).sum();
            *oj = sq * q_scale;
        }
        // The gated RMS norm of the head's output.
        let ss: f32 = o.iter().map(|v| v * v).sum();
        let scale = 1.0 / (ss / hd as f32 + p.eps).sqrt();
        for ((ov, &w), &zv) in o.iter_mut().zip(p.norm).zip(&z[h * hd..][..hd]) {
            *ov = *ov * scale * w * silu(zv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let h = (i as u32 ^ seed.wrapping_mul(0x9e37_79b9)).wrapping_mul(2_654_435_761);
                (h >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// The definition written out with S[i][j] (key i, value j) in f64, over a whole token
    /// sequence from a zero state: the outputs per position.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        d: &DeltaNetDims,
        conv: &[f32],
        dt: &[f32],
        a: &[f32],
        norm: &[f32],
        eps: f64,
        xs: &[Vec<f32>],
        zs: &[Vec<f32>],
        alphas: &[Vec<f32>],
        betas: &[Vec<f32>],
    ) -> Vec<Vec<f32>> {
        let (kk, nch, hd) = (d.conv_kernel, d.channels(), d.head_dim);
        let silu = |x: f64| x / (1.0 + (-x).exp());
        let mut s = vec![vec![vec![0f64; hd]; hd]; d.v_heads];
        let mut outs = Vec::new();
        for t in 0..xs.len() {
            let mut c = vec![0f64; nch];
            for (ch, cv) in c.iter_mut().enumerate() {
                let mut sum = 0f64;
                for i in 0..kk {
                    let pos = t as isize - (kk as isize - 1) + i as isize;
                    if pos >= 0 {
                        sum += xs[pos as usize][ch] as f64 * conv[ch * kk + i] as f64;
                    }
                }
                *cv = silu(sum);
            }
            let l2 = |v: &[f64]| {
                let n = v.iter().map(|x| x * x).sum::<f64>() + eps;
                v.iter().map(|x| x / n.sqrt()).collect::<Vec<f64>>()
            };
            let kd = d.key_dim();
            let mut y = vec![0f32; d.value_dim()];
            for (h, sh) in s.iter_mut().enumerate() {
                let kh = h % d.k_heads;
                let q = l2(&c[kh * hd..(kh + 1) * hd]);
                let k = l2(&c[kd + kh * hd..kd + (kh + 1) * hd]);
                let v = &c[2 * kd + h * hd..2 * kd + (h + 1) * hd];
                let x = alphas[t][h] as f64 + dt[h] as f64;
                let sp = if x > 20.0 { x } else { x.exp().ln_1p() };
                let g = (sp * a[h] as f64).exp();
                let b = 1.0 / (1.0 + (-(betas[t][h] as f64)).exp());
                for row in sh.iter_mut() {
                    row.iter_mut().for_each(|x| *x *= g);
                }
                for j in 0..hd {
                    let stk: f64 = (0..hd).map(|i| sh[i][j] * k[i]).sum();
                    let delta = b * (v[j] - stk);
                    for i in 0..hd {
                        sh[i][j] += k[i] * delta;
                    }
                }
                let o: Vec<f64> = (0..hd)
                    .map(|j| (0..hd).map(|i| sh[i][j] * q[i]).sum::<f64>() / (hd as f64).sqrt())
                    .collect();
                let rms = (o.iter().map(|x| x * x).sum::<f64>() / hd as f64 + eps).sqrt();
                for j in 0..hd {
                    y[h * hd + j] =
                        (o[j] / rms * norm[j] as f64 * silu(zs[t][h * hd + j] as f64)) as f32;
                }
            }
            outs.push(y);
        }
        outs
    }

    /// A prompt in one batch and the same tokens one by one give the definition's outputs
    /// (2 key heads tiled over 4 value heads, 3 taps); a reset state gives them again.
    #[test]
    fn batch_and_stepwise_match_the_definition() {
        let d = DeltaNetDims {
            conv_kernel: 3,
            head_dim: 8,
            k_heads: 2,
            v_heads: 4,
        };
        let n = 9;
        let (nch, vd, vh) = (d.channels(), d.value_dim(), d.v_heads);
        let conv = values(nch * d.conv_kernel, 1);
        let dt = values(vh, 2);
        let a: Vec<f32> = values(vh, 3).iter().map(|v| -0.2 - v.abs()).collect();
        let norm: Vec<f32> = values(d.head_dim, 4).iter().map(|v| 1.0 + v).collect();
        let eps = 1e-6;
        let xs: Vec<Vec<f32>> = (0..n)
            .map(|t| values(nch, 10 + t as u32).iter().map(|v| 4.0 * v).collect())
            .collect();
        let zs: Vec<Vec<f32>> = (0..n).map(|t| values(vd, 40 + t as u32)).collect();
        let alphas: Vec<Vec<f32>> = (0..n).map(|t| values(vh, 70 + t as u32)).collect();
        let betas: Vec<Vec<f32>> = (0..n).map(|t| values(vh, 90 + t as u32)).collect();
        let want = reference(
            &d, &conv, &dt, &a, &norm, eps as f64, &xs, &zs, &alphas, &betas,
        );
        let p = Params {
            layer: 0,
            conv: &conv,
            dt_bias: &dt,
            a: &a,
            norm: &norm,
            eps,
        };
        let close = |got: &[f32], want: &[f32], what: &str| {
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{what} [{i}]: {g} vs {w}"
                );
            }
        };
        let run = |state: &mut Vec<f32>, from: usize, to: usize| -> Vec<f32> {
            let mut y = vec![0f32; (to - from) * vd];
            let mut c = Vec::new();
            for (r, t) in (from..to).enumerate() {
                c.resize(nch, 0.0);
                step(
                    &d,
                    &p,
                    state,
                    &xs[t],
                    &zs[t],
                    &alphas[t],
                    &betas[t],
                    &mut y[r * vd..][..vd],
                    &mut c,
                );
            }
            y
        };
        let mut state = vec![0f32; d.state_len()];
        close(&run(&mut state, 0, n), &want.concat(), "batch");
        let mut state = vec![0f32; d.state_len()];
        for (t, want_t) in want.iter().enumerate() {
            close(&run(&mut state, t, t + 1), want_t, &format!("step {t}"));
        }
        // the state after the whole sequence differs from a fresh one: it carries the history
        let fresh = run(&mut vec![0f32; d.state_len()], n - 1, n);
        assert!(fresh
            .iter()
            .zip(&want[n - 1])
            .any(|(f, w)| (f - w).abs() > 1e-3));
    }
}
