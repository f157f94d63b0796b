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
//! the per-channel part. The inputs `u` are kept in the sequence's cache at every position
//! (`KvCache::store_conv`), so the state a position needs (its `K - 1` predecessors) survives
//! any rewind: a truncated session continues from the history exactly as a fresh one would.

use super::forward::BatchRow;
use super::kv_cache::KvCache;

/// For each row `r` of `rows` (one layer): writes `u = B * x` of `bcx[r]` (`3 d` values: B,
/// C, x) to its sequence's cache at its position, then `y[r] = C * conv(u)` with the taps
/// `taps` (`kernel` per channel, oldest input first). Rows of one sequence must be at
/// consecutive positions continuing its cache (the session layer guarantees it).
pub(crate) fn mix(
    layer: usize,
    taps: &[f32],
    kernel: usize,
    rows: &[BatchRow],
    caches: &mut [&mut KvCache],
    bcx: &[f32],
    y: &mut [f32],
) {
    let d = taps.len() / kernel;
    // Every row's input first: a row reads the inputs of the rows before it in the batch.
    let mut u = vec![0f32; d];
    for (r, row) in rows.iter().enumerate() {
        let (b, x) = (&bcx[r * 3 * d..][..d], &bcx[r * 3 * d + 2 * d..][..d]);
        for ((u, &b), &x) in u.iter_mut().zip(b).zip(x) {
            *u = b * x;
        }
        caches[row.seq].store_conv(layer, row.pos, &u);
    }
    for (r, row) in rows.iter().enumerate() {
        let hist = caches[row.seq].conv_rows(layer, row.pos + 1);
        let c = &bcx[r * 3 * d + d..][..d];
        let out = &mut y[r * d..][..d];
        // Position p - (kernel - 1) + i for tap i; taps before position 0 see zeros.
        let first = (kernel - 1).saturating_sub(row.pos);
        for (ch, o) in out.iter_mut().enumerate() {
            let w = &taps[ch * kernel..][..kernel];
            // ggml_ssm_conv: a float sum over the taps in order, from 0.
            let mut sum = 0f32;
            for (i, &wi) in w.iter().enumerate().skip(first) {
                let p = row.pos + i + 1 - kernel;
                sum += hist[p * d + ch] * wi;
            }
            *o = c[ch] * sum;
        }
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

    /// A prompt in one batch, the same tokens one by one, and a rewind to every length then
    /// the rest again: the same outputs as the definition, bit for bit.
    #[test]
    fn batch_stepwise_and_rewound_match_the_definition() {
        let (d, kernel, n) = (8, 3, 7);
        let taps = values(d * kernel, 1);
        let bcx: Vec<Vec<f32>> = (0..n).map(|p| values(3 * d, 100 + p as u32)).collect();
        let other: Vec<Vec<f32>> = (0..n).map(|p| values(3 * d, 900 + p as u32)).collect();
        let want = reference(&taps, kernel, &bcx);
        let conv_layer = 1;
        let new_cache = || KvCache::conv_only(&[false, true], d, 64);
        let run = |cache: &mut KvCache, bcx: &[Vec<f32>], from: usize, to: usize| -> Vec<f32> {
            let rows: Vec<BatchRow> = (from..to)
                .map(|pos| BatchRow {
                    token: 0,
                    pos,
                    seq: 0,
                    logits: false,
                })
                .collect();
            cache.reserve(to);
            let flat: Vec<f32> = bcx[from..to].concat();
            let mut y = vec![0f32; (to - from) * d];
            mix(
                conv_layer,
                &taps,
                kernel,
                &rows,
                &mut [cache],
                &flat,
                &mut y,
            );
            cache.set_len(to);
            y
        };
        let mut batch = new_cache();
        assert_eq!(run(&mut batch, &bcx, 0, n), want.concat());
        let mut step = new_cache();
        for (p, want_p) in want.iter().enumerate() {
            assert_eq!(run(&mut step, &bcx, p, p + 1), *want_p, "position {p}");
        }
        for keep in 0..n {
            // Other inputs after `keep` first: a rewind to `keep` must forget them.
            let mut c = new_cache();
            let _ = run(&mut c, &bcx, 0, keep);
            let _ = run(&mut c, &other, keep, n);
            c.truncate(keep);
            assert_eq!(
                run(&mut c, &bcx, keep, n),
                want[keep..].concat(),
                "rewind to {keep}"
            );
        }
    }
}
