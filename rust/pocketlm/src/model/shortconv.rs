//! LFM2's gated short convolution, the token mixer of its convolution layers (learned from
//! llama.cpp's `src/models/lfm2.cpp` and `ggml_ssm_conv`):
//!
//! ```text
//! B, C, x = split3(in_proj · h)            (n_embd each)
//! u[p]    = B[p] * x[p]                     (the convolution input at position p)
//! y[p]    = C[p] * Σ_i w[i] * u[p - (K-1) + i]   per channel, K = shortconv.l_cache taps,
//!                                                  u of a position before 0 is 0
//! out     = out_proj · y
//! ```
//!
//! The matrix products run in `forward.rs` with the other layers' products; this module does
//! the per-channel part. A position needs the inputs of its `K - 1` predecessors: they are
//! the layer's recurrent state in the sequence's cache (`KvCache::recurrent_mut`, oldest
//! first, zeros before position 0), advanced as positions are evaluated. A rewind restores a
//! checkpoint of it and evaluates the positions after it again, as for Qwen3.5's DeltaNet
//! states (`kv_cache.rs`); llama.cpp keeps the same state.

use super::forward::{seq_runs, BatchRow};
use super::kv_cache::KvCache;

/// For the rows of one layer (`bcx[r]`: `3 d` values B, C, x; a sequence's rows consecutive
/// in the batch and at the positions continuing its cache, which the session layer
/// guarantees): `y[r] = C * conv(u)` with `u = B * x` and the taps `taps` (`kernel` per
/// channel, oldest input first), each sequence's state advanced to its last row. `window` is
/// scratch.
#[allow(clippy::too_many_arguments)]
pub(crate) fn mix(
    layer: usize,
    taps: &[f32],
    kernel: usize,
    rows: &[BatchRow],
    caches: &mut [&mut KvCache],
    bcx: &[f32],
    y: &mut [f32],
    window: &mut Vec<f32>,
) {
    let d = taps.len() / kernel;
    let keep = (kernel - 1) * d;
    for (seq, rows) in seq_runs(rows) {
        let (start, end) = (rows.start, rows.end);
        let state = caches[seq].recurrent_mut(layer);
        debug_assert_eq!(state.len(), keep);
        // The run's inputs after the state's: position t of the run reads window[t..t + K].
        window.clear();
        window.extend_from_slice(state);
        for r in start..end {
            let (b, x) = (&bcx[r * 3 * d..][..d], &bcx[r * 3 * d + 2 * d..][..d]);
            window.extend(b.iter().zip(x).map(|(&b, &x)| b * x));
        }
        for (t, r) in (start..end).enumerate() {
            let hist = &window[t * d..][..kernel * d];
            let c = &bcx[r * 3 * d + d..][..d];
            for (ch, (o, &c)) in y[r * d..][..d].iter_mut().zip(c).enumerate() {
                let w = &taps[ch * kernel..][..kernel];
                // ggml_ssm_conv: a float sum over the taps in order, from 0.
                let mut sum = 0f32;
                for (i, &wi) in w.iter().enumerate() {
                    sum += hist[i * d + ch] * wi;
                }
                *o = c * sum;
            }
        }
        state.copy_from_slice(&window[window.len() - keep..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, position by position, on a history kept outside any cache.
    fn reference(taps: &[f32], kernel: usize, bcx: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let d = taps.len() / kernel;
        let u: Vec<Vec<f32>> = bcx
            .iter()
            .map(|r| (0..d).map(|ch| r[ch] * r[2 * d + ch]).collect())
            .collect();
        (0..bcx.len())
            .map(|p| {
                (0..d)
                    .map(|ch| {
                        let mut s = 0f32;
                        for i in 0..kernel {
                            let q = p as isize - (kernel as isize - 1) + i as isize;
                            let v = if q < 0 { 0.0 } else { u[q as usize][ch] };
                            s += v * taps[ch * kernel + i];
                        }
                        bcx[p][d + ch] * s
                    })
                    .collect()
            })
            .collect()
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let h = (i as u32 ^ seed).wrapping_mul(2_654_435_761);
                (h >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// A prompt in one batch, the same tokens one by one, two sequences in one batch, and a
    /// rewind to every length (from a checkpoint there, or from one earlier with the positions
    /// between evaluated again) then the rest again: the same outputs as the definition, bit
    /// for bit.
    #[test]
    fn batch_stepwise_and_rewound_match_the_definition() {
        let (d, kernel, n) = (8, 3, 7);
        let taps = values(d * kernel, 1);
        let bcx: Vec<Vec<f32>> = (0..n).map(|p| values(3 * d, 100 + p as u32)).collect();
        let other: Vec<Vec<f32>> = (0..n).map(|p| values(3 * d, 900 + p as u32)).collect();
        let want = reference(&taps, kernel, &bcx);
        let want_other = reference(&taps, kernel, &other);
        let conv_layer = 1;
        let new_cache = || KvCache::recurrent_only(&[false, true], (kernel - 1) * d, 64);
        // Positions `from..to` of each sequence `(cache, inputs)`, in one batch.
        let run_many = |seqs: &mut [(&mut KvCache, &[Vec<f32>])], from: usize, to: usize| {
            let (mut rows, mut flat) = (Vec::new(), Vec::new());
            for (seq, (cache, bcx)) in seqs.iter_mut().enumerate() {
                cache.reserve(to);
                rows.extend((from..to).map(|pos| BatchRow {
                    token: 0,
                    pos,
                    seq,
                    logits: false,
                }));
                flat.extend(bcx[from..to].concat());
            }
            let (mut y, mut window) = (vec![0f32; rows.len() * d], Vec::new());
            let mut caches: Vec<&mut KvCache> = seqs.iter_mut().map(|(c, _)| &mut **c).collect();
            mix(
                conv_layer,
                &taps,
                kernel,
                &rows,
                &mut caches,
                &flat,
                &mut y,
                &mut window,
            );
            for cache in caches {
                cache.advance(to);
            }
            y
        };
        let run = |cache: &mut KvCache, bcx: &[Vec<f32>], from: usize, to: usize| {
            run_many(&mut [(cache, bcx)], from, to)
        };
        let mut batch = new_cache();
        assert_eq!(run(&mut batch, &bcx, 0, n), want.concat());
        let mut step = new_cache();
        for (p, want_p) in want.iter().enumerate() {
            assert_eq!(run(&mut step, &bcx, p, p + 1), *want_p, "position {p}");
        }
        let (mut a, mut b) = (new_cache(), new_cache());
        let both = run_many(&mut [(&mut a, &bcx), (&mut b, &other)], 0, n);
        assert_eq!(both, [want.concat(), want_other.concat()].concat());
        for keep in 0..n {
            for at in [keep, keep / 2] {
                // Other inputs after `keep` first: a rewind to `keep` must forget them.
                let mut c = new_cache();
                let _ = run(&mut c, &bcx, 0, at);
                c.checkpoint(1);
                let _ = run(&mut c, &bcx, at, keep);
                let _ = run(&mut c, &other, keep, n);
                c.truncate(keep);
                assert!(!c.recurrent_in_sync() || keep == n);
                assert_eq!(c.restore_recurrent(), at, "checkpoint {at}");
                let again = run(&mut c, &bcx, at, n);
                assert_eq!(
                    again[(keep - at) * d..],
                    want[keep..].concat(),
                    "rewind to {keep} from {at}"
                );
            }
        }
    }
}
