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

/// `dst[i] = src[i]` widened from f16 to f32 (exact). On aarch64 with NEON's FCVTL, 8 values
/// per step (ARMv8.0 Advanced SIMD: every NEON core; the `half` crate converts element by
/// element in software there unless the core has FP16 arithmetic, ~10 instructions a value:
/// most of a rank-16 adapter's cost per decoded token under qemu -cpu cortex-a72). Elsewhere
/// `half`'s slice conversion (F16C on x86-64). Panics when the lengths differ.
pub fn widen_f16(src: &[half::f16], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len(), "widen_f16: lengths differ");
    #[cfg(target_arch = "aarch64")]
    {
        use std::arch::aarch64::{vld1q_u16, vst1q_f32};
        let n = src.len();
        let full = n - n % 8;
        let bits: &[u16] = half::slice::HalfFloatSliceExt::reinterpret_cast(src);
        for i in (0..full).step_by(8) {
            // SAFETY: `i + 8 <= n` for both slices (equal lengths, `full` a multiple of 8 not
            // above `n`); NEON is part of the aarch64 target.
            unsafe {
                let [lo, hi] = super::arm::h2f8(vld1q_u16(bits.as_ptr().add(i)));
                vst1q_f32(dst.as_mut_ptr().add(i), lo);
                vst1q_f32(dst.as_mut_ptr().add(i + 4), hi);
            }
        }
        for (d, s) in dst[full..].iter_mut().zip(&src[full..]) {
            *d = s.to_f32();
        }
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") && std::arch::is_x86_feature_detected!("f16c") {
        // SAFETY: the CPU has AVX and F16C (checked just above).
        unsafe { widen_f16_f16c(src, dst) };
        return;
    }
    #[cfg(not(target_arch = "aarch64"))]
    half::slice::HalfFloatSliceExt::convert_to_f32_slice(src, dst);
}

/// [`widen_f16`] with F16C, 8 values per step, inlined (`half`'s slice conversion calls a
/// function per 8 values: under `perf`, 4% of an adapted decode's samples against 0.4% for the
/// B add itself).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,f16c")]
fn widen_f16_f16c(src: &[half::f16], dst: &mut [f32]) {
    use std::arch::x86_64::{__m128i, _mm256_cvtph_ps, _mm256_storeu_ps, _mm_loadu_si128};
    let n = src.len().min(dst.len());
    let full = n - n % 8;
    let bits: &[u16] = half::slice::HalfFloatSliceExt::reinterpret_cast(src);
    for i in (0..full).step_by(8) {
        // SAFETY: `i + 8 <= n` for both slices; unaligned loads and stores.
        unsafe {
            let h = _mm_loadu_si128(bits.as_ptr().add(i).cast::<__m128i>());
            _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(h));
        }
    }
    for (d, s) in dst[full..n].iter_mut().zip(&src[full..n]) {
        *d = s.to_f32();
    }
}

/// `out[i] = f32(f16(x[i]))`: rounded to the nearest f16 (ties to even, as `half`) and back
/// (the activations of F16 weights: [`super::QActs`] on tiers without a SIMD quantizer). On
/// aarch64 with NEON's FCVTN/FCVTL, 4 values per step (ARMv8.0; the default FPCR rounds to
/// nearest even, overflow to infinity, f16 subnormals kept: `half`'s rules), elsewhere `half`
/// value by value. Panics when the lengths differ.
pub fn round_through_f16(x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "round_through_f16: lengths differ");
    #[cfg(target_arch = "aarch64")]
    let full = {
        use std::arch::aarch64::{float32x4_t, vld1q_f32, vst1q_f32};
        let full = x.len() - x.len() % 4;
        for i in (0..full).step_by(4) {
            let r: float32x4_t;
            // SAFETY: `i + 4 <= len` for both slices (equal lengths, `full` a multiple of 4
            // not above it); NEON is part of the aarch64 target; FCVTN/FCVTL (ARMv8.0
            // Advanced SIMD) use only the named vector registers.
            unsafe {
                let v = vld1q_f32(x.as_ptr().add(i));
                std::arch::asm!(
                    "fcvtn {r:v}.4h, {v:v}.4s",
                    "fcvtl {r:v}.4s, {r:v}.4h",
                    v = in(vreg) v,
                    r = out(vreg) r,
                    options(pure, nomem, nostack, preserves_flags)
                );
                vst1q_f32(out.as_mut_ptr().add(i), r);
            }
        }
        full
    };
    #[cfg(not(target_arch = "aarch64"))]
    let full = 0;
    for (o, &v) in out[full..].iter_mut().zip(&x[full..]) {
        *o = half::f16::from_f32(v).to_f32();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every finite f16 (and ±infinity), at every position of an 8-value step and in the tail.
    #[test]
    fn widen_f16_is_exact() {
        let src: Vec<half::f16> = (0..=u16::MAX)
            .map(half::f16::from_bits)
            .filter(|h| !h.is_nan())
            .collect();
        for skip in [0, 1, 3] {
            let src = &src[skip..];
            let mut dst = vec![f32::NAN; src.len()];
            widen_f16(src, &mut dst);
            for (h, d) in src.iter().zip(&dst) {
                assert_eq!(
                    d.to_bits(),
                    h.to_f32().to_bits(),
                    "f16 bits {:#06x}",
                    h.to_bits()
                );
            }
        }
    }

    /// Ties, f16 subnormals, overflow, ±0 and ±infinity, and random values, at every position
    /// of a 4-value step and in the tail: `half`'s rounding.
    #[test]
    fn round_through_f16_is_halfs() {
        let mut x: Vec<f32> = vec![
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            65504.0,
            65519.99,
        ];
        x.extend([
            65520.0, -65520.0, 1e10, 5.96e-8, 2.98e-8, 2.99e-8, 1e-9, 6.1e-5, -6.0e-5,
        ]);
        // every f16 and the midpoints to its neighbours (ties) and just beside them
        for h in 0..0x7c00u16 {
            let a = half::f16::from_bits(h).to_f32();
            let b = half::f16::from_bits(h + 1).to_f32();
            let mid = (a as f64 + b as f64) / 2.0;
            x.extend([
                a,
                mid as f32,
                -(mid as f32),
                f32::from_bits((mid as f32).to_bits() + 1),
            ]);
        }
        let mut seed = 0x1234_5678u32;
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let v = f32::from_bits(seed);
            x.push(if v.is_nan() { 1.5 } else { v });
        }
        for skip in [0, 1, 2, 3] {
            let x = &x[skip..];
            let mut out = vec![f32::NAN; x.len()];
            round_through_f16(x, &mut out);
            for (v, o) in x.iter().zip(&out) {
                let want = half::f16::from_f32(*v).to_f32();
                assert_eq!(
                    o.to_bits(),
                    want.to_bits(),
                    "x = {v:e} ({:#010x})",
                    v.to_bits()
                );
            }
        }
    }

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
