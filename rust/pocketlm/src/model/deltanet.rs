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
//! the per-token part (the recurrence's row loops are `kernels/deltanet.rs`). A layer's state
//! (the convolution's last `conv_kernel - 1` inputs and `S` per value head) lives in the
//! sequence's cache (`KvCache::recurrent_mut`) and is the state after the cache's last
//! position.

use super::config::DeltaNetDims;
use super::forward::{seq_runs, BatchRow};
use super::kv_cache::KvCache;
use crate::kernels::act::{self, GluAct};
use crate::kernels::deltanet::{conv_sums, dot, head, Path, RunInput};
use crate::kernels::{selected_tier, ThreadPool, Tier};
use std::sync::Mutex;

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
/// row's token and writes the gated, normed output (`value_dim` per row) to `y`. `scratch`
/// holds the convolved channels, the gates and the heads' outputs of all rows. The heads of a
/// run of rows of one sequence are shared out over `pool` (each head's state is independent).
#[allow(clippy::too_many_arguments)]
pub(crate) fn mix(
    d: &DeltaNetDims,
    p: &Params,
    pool: &ThreadPool,
    rows: &[BatchRow],
    caches: &mut [&mut KvCache],
    inp: &Inputs,
    y: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let tier = selected_tier();
    for (seq, rows) in seq_runs(rows) {
        let (start, end) = (rows.start, rows.end);
        let (ch, vd, vh) = (d.channels(), d.value_dim(), d.v_heads);
        run(
            d,
            p,
            tier,
            pool,
            caches[seq].recurrent_mut(p.layer),
            &Inputs {
                qkv: &inp.qkv[start * ch..end * ch],
                z: &inp.z[start * vd..end * vd],
                alpha: &inp.alpha[start * vh..end * vh],
                beta: &inp.beta[start * vh..end * vh],
            },
            &mut y[start * vd..end * vd],
            scratch,
        );
    }
}

/// Consecutive tokens of one sequence (`inp.beta.len() / v_heads` of them) through one layer:
/// `state` (`d.state_len()`) is advanced in place, the outputs go to `y`. `tier`'s kernels
/// compute the activations and the recurrence.
#[allow(clippy::too_many_arguments)]
fn run(
    d: &DeltaNetDims,
    p: &Params,
    tier: Tier,
    pool: &ThreadPool,
    state: &mut [f32],
    inp: &Inputs,
    y: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let (kernel, nch, hd, vh) = (d.conv_kernel, d.channels(), d.head_dim, d.v_heads);
    let (vd, key_dim) = (d.value_dim(), d.key_dim());
    let n = inp.beta.len() / vh;
    let need = n * (nch + 2 * vh + vd);
    if scratch.len() < need {
        scratch.resize(need, 0.0);
    }
    let (c, rest) = scratch.split_at_mut(n * nch);
    let (gates, rest) = rest.split_at_mut(n * vh);
    let (betas, rest) = rest.split_at_mut(n * vh);
    let o = &mut rest[..n * vd];
    let (hist, mats) = state.split_at_mut(d.conv_state_len());
    let path = Path::of(tier);
    for t in 0..n {
        let x = &inp.qkv[t * nch..][..nch];
        // The causal convolution, then the history shifts by one input.
        conv_sums(path, p.conv, kernel, hist, x, &mut c[t * nch..][..nch]);
        hist.copy_within(nch.., 0);
        hist[(kernel - 2) * nch..].copy_from_slice(x);
    }
    act::silu(tier, c);
    for t in 0..n {
        let c = &mut c[t * nch..][..nch];
        // L2 norms of the query and key heads (ggml: rms_norm with eps / n, scaled by 1/sqrt(n)).
        for head in c[..2 * key_dim].chunks_mut(hd) {
            let ss = dot(head, head);
            let n = hd as f32;
            let scale = 1.0 / (ss / n + p.eps / n).sqrt() / n.sqrt();
            head.iter_mut().for_each(|v| *v *= scale);
        }
        for h in 0..vh {
            gates[t * vh + h] = (softplus(inp.alpha[t * vh + h] + p.dt_bias[h]) * p.a[h]).exp();
            betas[t * vh + h] = sigmoid(inp.beta[t * vh + h]);
        }
    }
    // The recurrence, per value head: the head's outputs go to `o` head-major (`n × hd` per
    // head), so that each head writes a piece of its own.
    let input = RunInput {
        hd,
        nch,
        vh,
        key_dim,
        k_heads: d.k_heads,
        n,
        c,
        gates,
        betas,
    };
    let heads = mats[..vh * hd * hd]
        .chunks_exact_mut(hd * hd)
        .zip(o.chunks_exact_mut(n * hd))
        .enumerate();
    // work: per token, four multiply-adds per state element
    let work = (n * vh * hd * hd * 4) as u64;
    if pool.n_threads() == 1 || vh < 2 {
        for (h, (m, oh)) in heads {
            head(path, &input, h, m, oh);
        }
    } else {
        let pieces = Mutex::new(heads);
        pool.run_joinable(work, |_, _| loop {
            let next = pieces.lock().expect("deltanet heads lock").next();
            let Some((h, (m, oh))) = next else { break };
            head(path, &input, h, m, oh);
        });
    }
    // The gated RMS norm of each head's output: `y = silu(z) · (o · scale · norm)`, the
    // normed outputs laid out as `y` in the convolved channels' room (read no more).
    let normed = &mut c[..n * vd];
    for t in 0..n {
        for h in 0..vh {
            let oh = &o[(h * n + t) * hd..][..hd];
            let scale = 1.0 / (dot(oh, oh) / hd as f32 + p.eps).sqrt();
            let out = &mut normed[t * vd + h * hd..][..hd];
            for ((u, &ov), &w) in out.iter_mut().zip(oh).zip(p.norm) {
                *u = ov * scale * w;
            }
        }
    }
    y.copy_from_slice(&inp.z[..n * vd]);
    act::glu(tier, GluAct::Silu, y, normed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::deltanet::{LANES, ROWS, TOKEN_BLOCK};

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
    /// (2 key heads tiled over 4 value heads, 4 taps; heads of 38: chunks of the row loops'
    /// lanes and vectors and a tail, groups of rows and a tail; 20 tokens: more than one
    /// token block), on one thread and with the heads shared by two, through the scalar
    /// tier's loops and the selected tier's; a fresh state gives other outputs.
    #[test]
    fn batch_and_stepwise_match_the_definition() {
        let d = DeltaNetDims {
            conv_kernel: 4,
            head_dim: 38,
            k_heads: 2,
            v_heads: 4,
        };
        let n = 20;
        assert!(n > TOKEN_BLOCK && d.head_dim > LANES && !d.head_dim.is_multiple_of(LANES));
        assert!(!d.head_dim.is_multiple_of(4) && !d.head_dim.is_multiple_of(ROWS));
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
        let pools = [ThreadPool::new(1), ThreadPool::new(2)];
        let run_tokens =
            |tier: Tier, pool: &ThreadPool, state: &mut Vec<f32>, from: usize, to: usize| {
                let mut y = vec![0f32; (to - from) * vd];
                let inp = Inputs {
                    qkv: &xs[from..to].concat(),
                    z: &zs[from..to].concat(),
                    alpha: &alphas[from..to].concat(),
                    beta: &betas[from..to].concat(),
                };
                run(&d, &p, tier, pool, state, &inp, &mut y, &mut Vec::new());
                y
            };
        for tier in [Tier::Scalar, selected_tier()] {
            for pool in &pools {
                let what = format!("{tier}, {} threads", pool.n_threads());
                let mut state = vec![0f32; d.state_len()];
                let got = run_tokens(tier, pool, &mut state, 0, n);
                close(&got, &want.concat(), &format!("batch, {what}"));
                let mut state = vec![0f32; d.state_len()];
                for (t, want_t) in want.iter().enumerate() {
                    let got = run_tokens(tier, pool, &mut state, t, t + 1);
                    close(&got, want_t, &format!("step {t}, {what}"));
                }
                // the state after the whole sequence differs from a fresh one: it carries
                // the history
                let fresh = run_tokens(tier, pool, &mut vec![0f32; d.state_len()], n - 1, n);
                assert!(fresh
                    .iter()
                    .zip(&want[n - 1])
                    .any(|(f, w)| (f - w).abs() > 1e-3));
            }
        }
    }

    /// The convolution's sums are the same bits on every path (NEON's 4-tap vectors
    /// included), for kernels of 2 to 5 taps and channel counts with a remainder.
    #[test]
    fn convolution_sums_are_the_same_bits_on_every_path() {
        for kernel in 2..=5 {
            for nch in [1usize, 7, 64, 101] {
                let w = values(nch * kernel, 5);
                let hist: Vec<f32> = values((kernel - 1) * nch, 6);
                let x = values(nch, 7);
                let mut want = vec![0f32; nch];
                for (ch, o) in want.iter_mut().enumerate() {
                    let mut sum = 0f32;
                    for i in 0..kernel - 1 {
                        sum += hist[i * nch + ch] * w[ch * kernel + i];
                    }
                    *o = sum + x[ch] * w[ch * kernel + kernel - 1];
                }
                for path in [Path::Plain, Path::of(selected_tier())] {
                    let mut got = vec![f32::NAN; nch];
                    conv_sums(path, &w, kernel, &hist, &x, &mut got);
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&got),
                        bits(&want),
                        "{path:?}, {kernel} taps, {nch} channels"
                    );
                }
            }
        }
    }
}
