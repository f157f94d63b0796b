//! Low-rank updates (LoRA's `B` product): `out[j] += Σ_r c[r] · b[r·stride + j]`, the products
//! added in rank order, each rounded to f32 before its addition (no fused multiply-add), so the
//! result is bit for bit the naive loop's ([`add_rank_products_reference`]).
//!
//! The outputs are taken a block at a time and kept in registers while the `rank` products are
//! added (the naive loop reads and writes every output once per rank). The same generic loop
//! is compiled once for the build's baseline and once with AVX2 enabled (x86-64, chosen at run
//! time); on aarch64 NEON is the baseline.

/// Outputs kept in registers per block (four AVX2 vectors, eight NEON / SSE2 ones).
const BLOCK: usize = 32;

/// Scalar reference: `out[j] += c[r] * b[r * stride + j]` for `r` in order, for every `j`.
pub fn add_rank_products_reference(out: &mut [f32], c: &[f32], b: &[f32], stride: usize) {
    let n = out.len();
    for (r, &cr) in c.iter().enumerate() {
        for (o, &bv) in out.iter_mut().zip(&b[r * stride..][..n]) {
            *o += cr * bv;
        }
    }
}

/// `out[j] += c[r] * b[r * stride + j]` for `r` in order (`c.len()` ranks), for every output
/// `j < out.len()`: the same sums, bit for bit, as [`add_rank_products_reference`]. Panics
/// when `b` is shorter than `(c.len() - 1) * stride + out.len()` or `stride < out.len()`.
pub fn add_rank_products(out: &mut [f32], c: &[f32], b: &[f32], stride: usize) {
    if c.is_empty() || out.is_empty() {
        return;
    }
    assert!(
        stride >= out.len() && b.len() >= (c.len() - 1) * stride + out.len(),
        "add_rank_products: {} values of b for rank {} × stride {stride} (outputs {})",
        b.len(),
        c.len(),
        out.len()
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above); the function only widens the
        // vectors the compiler may use for the safe generic loop.
        unsafe { add_rank_products_avx2(out, c, b, stride) };
        return;
    }
    blocks(out, c, b, stride);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_rank_products_avx2(out: &mut [f32], c: &[f32], b: &[f32], stride: usize) {
    blocks(out, c, b, stride);
}

/// The loop: a block of outputs in a local array, every rank's products added to it in order.
#[inline(always)]
fn blocks(out: &mut [f32], c: &[f32], b: &[f32], stride: usize) {
    let n = out.len();
    let full = n - n % BLOCK;
    for j in (0..full).step_by(BLOCK) {
        let mut acc = [0f32; BLOCK];
        acc.copy_from_slice(&out[j..j + BLOCK]);
        for (r, &cr) in c.iter().enumerate() {
            let bv: &[f32; BLOCK] = b[r * stride + j..][..BLOCK]
                .try_into()
                .expect("a block of b");
            for (a, &x) in acc.iter_mut().zip(bv) {
                *a += cr * x;
            }
        }
        out[j..j + BLOCK].copy_from_slice(&acc);
    }
    if full < n {
        for (r, &cr) in c.iter().enumerate() {
            for (o, &x) in out[full..]
                .iter_mut()
                .zip(&b[r * stride + full..][..n - full])
            {
                *o += cr * x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_bit_for_bit() {
        let mut seed = 0x2545_f491u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed as f32 / u32::MAX as f32) * 2.0 - 1.0
        };
        for (rank, n, stride) in [
            (16, 576, 576),
            (8, 300, 310),
            (1, 31, 31),
            (5, 33, 40),
            (3, 7, 7),
        ] {
            let c: Vec<f32> = (0..rank).map(|_| next() * 5.0).collect();
            let b: Vec<f32> = (0..rank * stride).map(|_| next()).collect();
            let base: Vec<f32> = (0..n).map(|_| next() * 0.01).collect();
            let (mut fast, mut slow) = (base.clone(), base.clone());
            add_rank_products(&mut fast, &c, &b, stride);
            add_rank_products_reference(&mut slow, &c, &b, stride);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&fast),
                bits(&slow),
                "rank {rank} n {n} stride {stride}"
            );
            assert_ne!(fast, base, "it added something");
            // The baseline build of the loop too (the AVX2 one is what `fast` ran on AVX2).
            let mut plain = base.clone();
            blocks(&mut plain, &c, &b, stride);
            assert_eq!(bits(&plain), bits(&slow));
        }
    }
}
