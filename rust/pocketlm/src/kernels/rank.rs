//! Low-rank updates (LoRA's `B` product): `out[j] += Σ_r c[r] · b[r·stride + j]`, the products
//! added in rank order, each as one fused multiply-add (`c[r].mul_add(b, out[j])`: a single
//! rounding, NEON's FMLA and x86's VFMADD), so every path gives the naive fused loop's bits
//! ([`add_rank_products_reference`]).
//!
//! The outputs are taken a block at a time and kept in registers while the `rank` products are
//! added (the naive loop reads and writes every output once per rank). The one-token f32 loop
//! ([`add_rank_products`]) is compiled once for the build's baseline and once with AVX2 and FMA
//! enabled (x86-64, chosen at run time); on aarch64 NEON is the baseline. The kernels of a
//! whole batch of tokens ([`add_rank_products_tokens`] for an f32 `B`,
//! [`add_rank_products_f16`] for an F16 one) take a block of outputs for several tokens at once
//! so that each loaded vector of `B` serves them all, and widen an F16 `B` in registers (FCVTL
//! on aarch64, F16C / AVX-512F on x86-64): no widened copy is written and read back. On x86-64
//! they use AVX-512F (16 values per vector, 4 tokens × 64 outputs per block) when the CPU has
//! it, else AVX2 (8 values, 2 tokens × 32 outputs); the order of each output's additions is
//! the same in every path.

/// Outputs kept in registers per block (four AVX2 vectors, eight NEON / SSE2 ones).
const BLOCK: usize = 32;

/// Scalar reference: `out[j] = c[r].mul_add(b[r * stride + j], out[j])` for `r` in order, for
/// every `j`.
pub fn add_rank_products_reference(out: &mut [f32], c: &[f32], b: &[f32], stride: usize) {
    let n = out.len();
    for (r, &cr) in c.iter().enumerate() {
        for (o, &bv) in out.iter_mut().zip(&b[r * stride..][..n]) {
            *o = cr.mul_add(bv, *o);
        }
    }
}

/// `out[j] = c[r].mul_add(b[r * stride + j], out[j])` for `r` in order (`c.len()` ranks), for
/// every output `j < out.len()`: the same bits as [`add_rank_products_reference`]. Panics when
/// `b` is shorter than `(c.len() - 1) * stride + out.len()` or `stride < out.len()`.
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
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above); the function only widens
        // the vectors the compiler may use for the safe generic loop and lets `mul_add` be one
        // instruction.
        unsafe { add_rank_products_avx2(out, c, b, stride) };
        return;
    }
    blocks(out, c, b, stride);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_rank_products_avx2(out: &mut [f32], c: &[f32], b: &[f32], stride: usize) {
    blocks(out, c, b, stride);
}

/// Every token's low-rank update from an f32 `Bᵀ` (`rank` rows of `rows` outputs): for each
/// token `t < c.len() / rank` and output `j < rows`, `out[t·rows + j] =
/// c[t·rank + r].mul_add(b[r·rows + j], out[t·rows + j])` for `r` in order: the bits of
/// [`add_rank_products_reference`] token by token. On x86-64 with AVX-512F or AVX2 a block of
/// outputs of several tokens is held in registers, each loaded vector of `B` serving them all
/// (a block of `B`, 4 KB at rank 16, stays in L1 while the batch's tokens pass); elsewhere
/// [`add_rank_products`] token by token. Panics when `rank` is 0, `c.len()` is not a multiple
/// of it, `out.len()` is not `tokens · rows` or `b.len()` is not `rank · rows`.
pub fn add_rank_products_tokens(out: &mut [f32], c: &[f32], rank: usize, b: &[f32], rows: usize) {
    assert!(
        rank > 0 && c.len().is_multiple_of(rank),
        "add_rank_products_tokens: {} multipliers for rank {rank}",
        c.len()
    );
    let tokens = c.len() / rank;
    assert_eq!(
        out.len(),
        tokens * rows,
        "add_rank_products_tokens: outputs"
    );
    assert_eq!(
        b.len(),
        rank * rows,
        "add_rank_products_tokens: values of b"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU has AVX-512F, AVX2, FMA and F16C (checked just above); shapes
            // asserted above.
            unsafe { x86::f32_avx512(out, c, rank, b, rows, rows) };
            return;
        }
        if has_avx2() {
            // SAFETY: the CPU has AVX2, FMA and F16C (checked just above); shapes asserted above.
            unsafe { x86::f32_avx2(out, c, rank, b, rows, rows) };
            return;
        }
    }
    for (c, out) in c.chunks_exact(rank).zip(out.chunks_exact_mut(rows)) {
        add_rank_products(out, c, b, rows);
    }
}

/// Whether the CPU has what the AVX-512 batch kernels use (AVX-512F with AVX2, FMA and F16C).
#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f") && has_avx2()
}

/// Whether the CPU has what the AVX2 batch kernels use (AVX2, FMA and F16C).
#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
}

/// The loop: a block of outputs in a local array, every rank's products added to it in order.
/// (Without FMA in the build, as on x86-64's baseline, `mul_add` is a library call: correct
/// and slow; AVX2 CPUs have FMA.)
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
                *a = cr.mul_add(x, *a);
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
                *o = cr.mul_add(x, *o);
            }
        }
    }
}

/// Every token's low-rank update from an F16 `Bᵀ` (`rank` rows of `rows` outputs): for each
/// token `t < c.len() / rank` and output `j < rows`, `out[t·rows + j] =
/// c[t·rank + r].mul_add(f32(b[r·rows + j]), out[t·rows + j])` for `r` in order: the bits of
/// [`add_rank_products_reference`] on `B` widened to f32, token by token. `B` is widened in
/// registers, 8 values per FCVTL pair (aarch64), F16C instruction (x86-64 with AVX2, FMA and
/// F16C) or 16 per AVX-512F one, and each widened vector serves 4 tokens at once (2 with AVX2).
/// Panics when `rank` is 0,
/// `c.len()` is not a multiple of it, `out.len()` is not `tokens · rows` or `b.len()` is not
/// `rank · rows`.
pub fn add_rank_products_f16(
    out: &mut [f32],
    c: &[f32],
    rank: usize,
    b: &[half::f16],
    rows: usize,
) {
    assert!(
        rank > 0 && c.len().is_multiple_of(rank),
        "add_rank_products_f16: {} multipliers for rank {rank}",
        c.len()
    );
    let tokens = c.len() / rank;
    assert_eq!(out.len(), tokens * rows, "add_rank_products_f16: outputs");
    assert_eq!(b.len(), rank * rows, "add_rank_products_f16: values of b");
    f16_tokens(out, c, rank, b, rows, rows);
}

/// One token's low-rank update from an F16 `Bᵀ` whose rows are `stride` values apart:
/// `out[j] = c[r].mul_add(f32(b[r·stride + j]), out[j])` for `r` in order (`c.len()` ranks),
/// for every `j < out.len()`: [`add_rank_products_f16`] on a block of its outputs (a decoded
/// token's outputs shared across threads), the same bits. Panics when `stride < out.len()` or
/// `b` is shorter than `(c.len() - 1)·stride + out.len()`.
pub fn add_rank_products_f16_strided(out: &mut [f32], c: &[f32], b: &[half::f16], stride: usize) {
    if c.is_empty() || out.is_empty() {
        return;
    }
    assert!(
        stride >= out.len() && b.len() >= (c.len() - 1) * stride + out.len(),
        "add_rank_products_f16_strided: {} values of b for rank {} × stride {stride} (outputs {})",
        b.len(),
        c.len(),
        out.len()
    );
    f16_tokens(out, c, c.len(), b, out.len(), stride);
}

/// [`add_rank_products_f16`] with `B`'s rows `ld >= rows` values apart (shapes checked by the
/// callers: `out.len() == tokens·rows`, `b.len() >= (rank - 1)·ld + rows`).
fn f16_tokens(out: &mut [f32], c: &[f32], rank: usize, b: &[half::f16], rows: usize, ld: usize) {
    let tokens = c.len() / rank;
    let bits: &[u16] = half::slice::HalfFloatSliceExt::reinterpret_cast(b);
    #[cfg(target_arch = "aarch64")]
    {
        let mut t = 0;
        while t + 4 <= tokens {
            // SAFETY: tokens `t..t + 4` exist (`t + 4 <= tokens`); the callers checked the
            // shapes; NEON is part of the aarch64 target.
            unsafe { f16_neon_tokens::<4, 4>(out, c, rank, bits, rows, ld, t) };
            t += 4;
        }
        while t < tokens {
            // SAFETY: as above, token `t < tokens`.
            unsafe { f16_neon_tokens::<1, 8>(out, c, rank, bits, rows, ld, t) };
            t += 1;
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU has AVX-512F, AVX2, FMA and F16C (checked just above); the
            // callers checked the shapes.
            unsafe { x86::f16_avx512(out, c, rank, bits, rows, ld) };
            return;
        }
        if has_avx2() {
            // SAFETY: the CPU has AVX2, FMA and F16C (checked just above); the callers checked
            // the shapes.
            unsafe { x86::f16_avx2(out, c, rank, bits, rows, ld) };
            return;
        }
    }
    #[cfg(not(target_arch = "aarch64"))]
    for t in 0..tokens {
        f16_scalar_tail(out, c, rank, bits, rows, ld, t, 1, 0);
    }
}

/// Outputs `from..rows` of tokens `t..t + n` ([`f16_tokens`]), one value at a time.
#[allow(clippy::too_many_arguments)]
#[inline]
fn f16_scalar_tail(
    out: &mut [f32],
    c: &[f32],
    rank: usize,
    bits: &[u16],
    rows: usize,
    ld: usize,
    t: usize,
    n: usize,
    from: usize,
) {
    for t in t..t + n {
        let out = &mut out[t * rows..][..rows];
        for (r, &cr) in c[t * rank..][..rank].iter().enumerate() {
            for (o, &h) in out[from..]
                .iter_mut()
                .zip(&bits[r * ld + from..][..rows - from])
            {
                *o = cr.mul_add(half::f16::from_bits(h).to_f32(), *o);
            }
        }
    }
}

/// Tokens `t..t + T` of [`add_rank_products_f16`] on NEON: blocks of `4·V` outputs of the `T`
/// tokens held in `T·V` registers while the ranks are added (each rank's `4·V` values of `B`
/// loaded and widened once for the `T` tokens), then blocks of 16 and 8 outputs, then single
/// values.
///
/// # Safety
/// Tokens `t..t + T` exist: `c.len() >= (t + T)·rank`, `out.len() >= (t + T)·rows`, and
/// `bits.len() >= (rank - 1)·ld + rows` with `ld >= rows`.
#[cfg(target_arch = "aarch64")]
#[inline]
unsafe fn f16_neon_tokens<const T: usize, const V: usize>(
    out: &mut [f32],
    c: &[f32],
    rank: usize,
    bits: &[u16],
    rows: usize,
    ld: usize,
    t: usize,
) {
    debug_assert!(c.len() >= (t + T) * rank && out.len() >= (t + T) * rows);
    debug_assert!(ld >= rows && bits.len() >= (rank - 1) * ld + rows);
    let mut j = 0;
    while j + 4 * V <= rows {
        // SAFETY: outputs `j..j + 4V` of every row exist (`j + 4V <= rows`); the caller's
        // contract covers the tokens.
        unsafe { f16_neon_block::<T, V>(out, c, rank, bits, rows, ld, t, j) };
        j += 4 * V;
    }
    if V > 4 && j + 16 <= rows {
        // SAFETY: as above, with 16 outputs.
        unsafe { f16_neon_block::<T, 4>(out, c, rank, bits, rows, ld, t, j) };
        j += 16;
    }
    if V > 2 && j + 8 <= rows {
        // SAFETY: as above, with 8 outputs.
        unsafe { f16_neon_block::<T, 2>(out, c, rank, bits, rows, ld, t, j) };
        j += 8;
    }
    if j < rows {
        f16_scalar_tail(out, c, rank, bits, rows, ld, t, T, j);
    }
}

/// Outputs `j..j + 4·V` of tokens `t..t + T` ([`f16_neon_tokens`]; `V` even).
///
/// # Safety
/// As [`f16_neon_tokens`], and `j + 4·V <= rows`.
#[cfg(target_arch = "aarch64")]
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn f16_neon_block<const T: usize, const V: usize>(
    out: &mut [f32],
    c: &[f32],
    rank: usize,
    bits: &[u16],
    rows: usize,
    ld: usize,
    t: usize,
    j: usize,
) {
    use std::arch::aarch64::{vdupq_n_f32, vfmaq_n_f32, vld1q_f32, vld1q_u16, vst1q_f32};
    debug_assert!(V.is_multiple_of(2) && j + 4 * V <= rows);
    let o = out.as_mut_ptr();
    let cp = c.as_ptr();
    // SAFETY: every load and store below is within the ranges the caller guarantees: outputs
    // `(t + k)·rows + j + 4i + 0..4` for `k < T`, `i < V` (`j + 4V <= rows`), multipliers
    // `(t + k)·rank + r`, and `B`'s `r·ld + j + 8h + 0..8` for `r < rank`, `h < V / 2`;
    // NEON (with FCVTL) is part of the aarch64 target.
    unsafe {
        let mut acc = [[vdupq_n_f32(0.0); V]; T];
        for (k, a) in acc.iter_mut().enumerate() {
            for (i, v) in a.iter_mut().enumerate() {
                *v = vld1q_f32(o.add((t + k) * rows + j + 4 * i));
            }
        }
        for r in 0..rank {
            let p = bits.as_ptr().add(r * ld + j);
            let mut w = [vdupq_n_f32(0.0); V];
            for h in 0..V / 2 {
                let [lo, hi] = super::arm::h2f8(vld1q_u16(p.add(8 * h)));
                w[2 * h] = lo;
                w[2 * h + 1] = hi;
            }
            for (k, a) in acc.iter_mut().enumerate() {
                let ck = *cp.add((t + k) * rank + r);
                for (v, &wv) in a.iter_mut().zip(&w) {
                    *v = vfmaq_n_f32(*v, wv, ck);
                }
            }
        }
        for (k, a) in acc.iter().enumerate() {
            for (i, v) in a.iter().enumerate() {
                vst1q_f32(o.add((t + k) * rows + j + 4 * i), *v);
            }
        }
    }
}

/// The x86-64 batch kernels ([`add_rank_products_tokens`], [`add_rank_products_f16`]): for each
/// block of `V` vectors of outputs, the batch's tokens `T` at a time (then one at a time), the
/// `T·V` output vectors held in registers while each rank's `V` vectors of `B` are loaded
/// (F16 widened) once and multiply-added into every token's; then single vectors of outputs;
/// then value by value. Every output receives its `rank` fused products in rank order.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Defines `$name(out, c, rank, b, rows, ld)` (the contract of [`super::f16_tokens`] with
    /// `b` of type `&[$E]`: `B`'s rows `ld` values apart): vectors `$vec` of `$lanes` f32, `T` = `$t` tokens and `V` = 4
    /// vectors per block, `$load(p)` the `$lanes` values of `B` at `p` as f32 and `$one(v)` one
    /// value.
    macro_rules! batch_kernel {
        ($name:ident, $block:ident, $feat:literal, $E:ty, $vec:ty, $lanes:literal, $t:literal,
         |$p:ident| $load:expr, |$v:ident| $one:expr,
         $zero:ident, $set1:ident, $fmadd:ident, $loadu:ident, $storeu:ident) => {
            /// # Safety
            /// The CPU has the features named in `target_feature`; `c.len() == tokens·rank`,
            /// `out.len() == tokens·rows`, `ld >= rows`, `b.len() >= (rank - 1)·ld + rows` (checked
            /// by the callers).
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn $name(
                out: &mut [f32],
                c: &[f32],
                rank: usize,
                b: &[$E],
                rows: usize,
                ld: usize,
            ) {
                debug_assert!(rank > 0 && c.len().is_multiple_of(rank));
                let tokens = c.len() / rank;
                debug_assert!(out.len() == tokens * rows && ld >= rows);
                debug_assert!(b.len() >= (rank - 1) * ld + rows);
                let blk = 4 * $lanes;
                let mut j = 0;
                while j + blk <= rows {
                    let mut t = 0;
                    while t + $t <= tokens {
                        // SAFETY: tokens `t..t + T` exist, outputs `j..j + 4·lanes` too
                        // (`j + blk <= rows`); the caller's contract covers the rest.
                        unsafe { $block::<$t, 4>(out, c, rank, b, rows, ld, t, j) };
                        t += $t;
                    }
                    while t < tokens {
                        // SAFETY: as above, token `t < tokens`.
                        unsafe { $block::<1, 4>(out, c, rank, b, rows, ld, t, j) };
                        t += 1;
                    }
                    j += blk;
                }
                while j + $lanes <= rows {
                    for t in 0..tokens {
                        // SAFETY: token `t < tokens`, outputs `j..j + lanes` (`j + lanes <=
                        // rows`).
                        unsafe { $block::<1, 1>(out, c, rank, b, rows, ld, t, j) };
                    }
                    j += $lanes;
                }
                if j < rows {
                    for t in 0..tokens {
                        let out = &mut out[t * rows..][..rows];
                        for (r, &cr) in c[t * rank..][..rank].iter().enumerate() {
                            for (o, $v) in out[j..].iter_mut().zip(&b[r * ld + j..][..rows - j]) {
                                *o = cr.mul_add($one, *o);
                            }
                        }
                    }
                }
            }

            /// Outputs `j..j + V·lanes` of tokens `t..t + T`.
            ///
            /// # Safety
            /// As the kernel's, and tokens `t..t + T` and outputs `j..j + V·lanes` exist.
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = $feat)]
            #[inline]
            unsafe fn $block<const T: usize, const V: usize>(
                out: &mut [f32],
                c: &[f32],
                rank: usize,
                b: &[$E],
                rows: usize,
                ld: usize,
                t: usize,
                j: usize,
            ) {
                debug_assert!(c.len() >= (t + T) * rank && out.len() >= (t + T) * rows);
                debug_assert!(j + V * $lanes <= rows && b.len() >= (rank - 1) * ld + rows);
                let o = out.as_mut_ptr();
                let cp = c.as_ptr();
                // SAFETY: every access is within the ranges the caller guarantees: outputs
                // `(t + k)·rows + j + lanes·i + 0..lanes` for `k < T`, `i < V`, multipliers
                // `(t + k)·rank + r`, and `B`'s `r·ld + j + lanes·i + 0..lanes` for `r <
                // rank`; unaligned loads and stores.
                unsafe {
                    let mut acc = [[$zero(); V]; T];
                    for (k, a) in acc.iter_mut().enumerate() {
                        for (i, v) in a.iter_mut().enumerate() {
                            *v = $loadu(o.add((t + k) * rows + j + $lanes * i));
                        }
                    }
                    for r in 0..rank {
                        let bp = b.as_ptr().add(r * ld + j);
                        let mut w: [$vec; V] = [$zero(); V];
                        for (i, x) in w.iter_mut().enumerate() {
                            let $p = bp.add($lanes * i);
                            *x = $load;
                        }
                        for (k, a) in acc.iter_mut().enumerate() {
                            let cv = $set1(*cp.add((t + k) * rank + r));
                            for (v, &wv) in a.iter_mut().zip(&w) {
                                *v = $fmadd(cv, wv, *v);
                            }
                        }
                    }
                    for (k, a) in acc.iter().enumerate() {
                        for (i, v) in a.iter().enumerate() {
                            $storeu(o.add((t + k) * rows + j + $lanes * i), *v);
                        }
                    }
                }
            }
        };
    }

    batch_kernel!(
        f32_avx512,
        f32_block512,
        "avx512f,avx2,fma,f16c",
        f32,
        __m512,
        16,
        4,
        |p| _mm512_loadu_ps(p),
        |v| *v,
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps
    );
    batch_kernel!(
        f16_avx512,
        f16_block512,
        "avx512f,avx2,fma,f16c",
        u16,
        __m512,
        16,
        4,
        |p| _mm512_cvtph_ps(_mm256_loadu_si256(p.cast::<__m256i>())),
        |v| half::f16::from_bits(*v).to_f32(),
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps
    );
    batch_kernel!(
        f32_avx2,
        f32_block256,
        "avx2,fma,f16c",
        f32,
        __m256,
        8,
        2,
        |p| _mm256_loadu_ps(p),
        |v| *v,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps
    );
    batch_kernel!(
        f16_avx2,
        f16_block256,
        "avx2,fma,f16c",
        u16,
        __m256,
        8,
        2,
        |p| _mm256_cvtph_ps(_mm_loadu_si128(p.cast::<__m128i>())),
        |v| half::f16::from_bits(*v).to_f32(),
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps
    );
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

/// Reproducible values in [-1, 1) for kernel tests (xorshift32 from `seed`).
#[cfg(test)]
pub(crate) fn test_values(mut seed: u32) -> impl FnMut() -> f32 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        (seed as f32 / u32::MAX as f32) * 2.0 - 1.0
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

    /// The F16 kernel as dispatched (NEON: 4-token and 1-token blocks of 32, 16 and 8 outputs,
    /// the single-value tail; x86-64: see below) against the fused reference on `B` widened,
    /// token by token, bit for bit.
    #[test]
    fn f16_matches_the_reference_bit_for_bit() {
        let mut next = test_values(0x6b43_a9b5);
        for (rank, rows, tokens) in BATCH_SHAPES {
            let b16: Vec<half::f16> = (0..rank * rows)
                .map(|_| half::f16::from_f32(next()))
                .collect();
            let b32: Vec<f32> = b16.iter().map(|h| h.to_f32()).collect();
            let c: Vec<f32> = (0..tokens * rank).map(|_| next() * 5.0).collect();
            let base: Vec<f32> = (0..tokens * rows).map(|_| next() * 0.01).collect();
            let mut fast = base.clone();
            add_rank_products_f16(&mut fast, &c, rank, &b16, rows);
            let mut slow = base.clone();
            for (c, out) in c.chunks_exact(rank).zip(slow.chunks_exact_mut(rows)) {
                add_rank_products_reference(out, c, &b32, rows);
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&fast),
                bits(&slow),
                "rank {rank} rows {rows} tokens {tokens}"
            );
            assert_ne!(fast, base, "it added something");
            // Fused: not the unfused loop's bits everywhere (rank 16 over 576 outputs).
            if rank == 16 && rows == 576 {
                let mut unfused = base.clone();
                for (r, &cr) in c.iter().enumerate() {
                    for (o, &bv) in unfused.iter_mut().zip(&b32[r * rows..][..rows]) {
                        *o += cr * bv;
                    }
                }
                assert_ne!(bits(&fast), bits(&unfused), "one rounding per product");
            }
        }
    }

    /// Shapes for the batch kernels: blocks of 64 (AVX-512) and 32 (AVX2) outputs, single
    /// vectors of 16 and 8 and single values after them, token counts around the 4- and
    /// 2-token steps (rank, rows, tokens).
    const BATCH_SHAPES: [(usize, usize, usize); 11] = [
        (16, 576, 1),
        (16, 192, 4),
        (16, 1536, 9),
        (16, 100, 7),
        (8, 59, 5),
        (3, 27, 7),
        (1, 7, 2),
        (5, 40, 3),
        (2, 88, 6),
        (4, 120, 8),
        (16, 64, 13),
    ];

    /// The fused reference token by token on an f32 `B`.
    fn batch_reference(base: &[f32], c: &[f32], rank: usize, b32: &[f32], rows: usize) -> Vec<f32> {
        let mut slow = base.to_vec();
        for (c, out) in c.chunks_exact(rank).zip(slow.chunks_exact_mut(rows)) {
            add_rank_products_reference(out, c, b32, rows);
        }
        slow
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The f32 batch kernel (what this CPU dispatches to, and on x86-64 each of its AVX-512
    /// and AVX2 builds the CPU can run) against the fused reference, bit for bit.
    #[test]
    fn f32_batch_matches_the_reference_bit_for_bit() {
        let mut next = test_values(0x51f1_5e3d);
        for (rank, rows, tokens) in BATCH_SHAPES {
            let b: Vec<f32> = (0..rank * rows).map(|_| next()).collect();
            let c: Vec<f32> = (0..tokens * rank).map(|_| next() * 5.0).collect();
            let base: Vec<f32> = (0..tokens * rows).map(|_| next() * 0.01).collect();
            let slow = batch_reference(&base, &c, rank, &b, rows);
            assert_ne!(slow, base, "it added something");
            let what = format!("rank {rank} rows {rows} tokens {tokens}");
            let mut fast = base.clone();
            add_rank_products_tokens(&mut fast, &c, rank, &b, rows);
            assert_eq!(bits(&fast), bits(&slow), "{what}");
            #[cfg(target_arch = "x86_64")]
            {
                if has_avx512() {
                    let mut v = base.clone();
                    // SAFETY: the CPU has the kernel's features (checked); shapes as asserted by
                    // `add_rank_products_tokens`.
                    unsafe { x86::f32_avx512(&mut v, &c, rank, &b, rows, rows) };
                    assert_eq!(bits(&v), bits(&slow), "AVX-512 {what}");
                }
                if has_avx2() {
                    let mut v = base.clone();
                    // SAFETY: as above.
                    unsafe { x86::f32_avx2(&mut v, &c, rank, &b, rows, rows) };
                    assert_eq!(bits(&v), bits(&slow), "AVX2 {what}");
                }
            }
        }
    }

    /// The F16 batch kernel's x86-64 builds (the dispatched one is in the test above), each the
    /// CPU can run, against the fused reference on `B` widened.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn f16_x86_builds_match_the_reference_bit_for_bit() {
        let mut next = test_values(0x0bad_cafe);
        let mut ran = 0;
        for (rank, rows, tokens) in BATCH_SHAPES {
            let b16: Vec<half::f16> = (0..rank * rows)
                .map(|_| half::f16::from_f32(next()))
                .collect();
            let b32: Vec<f32> = b16.iter().map(|h| h.to_f32()).collect();
            let h: &[u16] = half::slice::HalfFloatSliceExt::reinterpret_cast(&b16[..]);
            let c: Vec<f32> = (0..tokens * rank).map(|_| next() * 5.0).collect();
            let base: Vec<f32> = (0..tokens * rows).map(|_| next() * 0.01).collect();
            let slow = batch_reference(&base, &c, rank, &b32, rows);
            let what = format!("rank {rank} rows {rows} tokens {tokens}");
            if has_avx512() {
                let mut v = base.clone();
                // SAFETY: the CPU has the kernel's features (checked); shapes as asserted by
                // `add_rank_products_f16`.
                unsafe { x86::f16_avx512(&mut v, &c, rank, h, rows, rows) };
                assert_eq!(bits(&v), bits(&slow), "AVX-512 {what}");
                ran += 1;
            }
            if has_avx2() {
                let mut v = base.clone();
                // SAFETY: as above.
                unsafe { x86::f16_avx2(&mut v, &c, rank, h, rows, rows) };
                assert_eq!(bits(&v), bits(&slow), "AVX2 {what}");
                ran += 1;
            }
        }
        println!("{ran} kernel runs compared");
    }

    /// One token's outputs `from..from + n` of an F16 `Bᵀ` of `stride` outputs (a decoded
    /// token's block of outputs), as dispatched and in each x86-64 build the CPU can run,
    /// against the fused reference on `B` widened, bit for bit; the outputs beside the block
    /// are not touched.
    #[test]
    fn f16_strided_matches_the_reference_bit_for_bit() {
        let mut next = test_values(0x7f4a_7c15);
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut ran = 0;
        for (rank, stride, from, n) in [
            (16, 576, 0, 576),
            (16, 576, 192, 192),
            (16, 1536, 1280, 256),
            (16, 1536, 64, 100),
            (8, 300, 7, 73),
            (3, 40, 33, 7),
            (1, 9, 0, 9),
        ] {
            let b16: Vec<half::f16> = (0..rank * stride)
                .map(|_| half::f16::from_f32(next()))
                .collect();
            let b32: Vec<f32> = b16.iter().map(|h| h.to_f32()).collect();
            let c: Vec<f32> = (0..rank).map(|_| next() * 5.0).collect();
            let base: Vec<f32> = (0..stride).map(|_| next() * 0.01).collect();
            let mut slow = base.clone();
            add_rank_products_reference(&mut slow[from..from + n], &c, &b32[from..], stride);
            assert_ne!(slow, base, "it added something");
            let what = format!("rank {rank} stride {stride} outputs {from}..{}", from + n);
            let mut fast = base.clone();
            add_rank_products_f16_strided(&mut fast[from..from + n], &c, &b16[from..], stride);
            assert_eq!(bits(&fast), bits(&slow), "{what}");
            #[cfg(target_arch = "x86_64")]
            {
                let h: &[u16] = half::slice::HalfFloatSliceExt::reinterpret_cast(&b16[from..]);
                if has_avx512() {
                    let mut v = base.clone();
                    // SAFETY: the CPU has the kernel's features (checked); one token, `n`
                    // outputs, `B`'s rows `stride >= n` apart, `h` long enough.
                    unsafe { x86::f16_avx512(&mut v[from..from + n], &c, rank, h, n, stride) };
                    assert_eq!(bits(&v), bits(&slow), "AVX-512 {what}");
                    ran += 1;
                }
                if has_avx2() {
                    let mut v = base.clone();
                    // SAFETY: as above.
                    unsafe { x86::f16_avx2(&mut v[from..from + n], &c, rank, h, n, stride) };
                    assert_eq!(bits(&v), bits(&slow), "AVX2 {what}");
                    ran += 1;
                }
            }
        }
        println!("{ran} x86 kernel runs compared");
    }

    /// A block of `B`'s outputs that runs past the end of `b` is refused, not read.
    #[test]
    #[should_panic(expected = "add_rank_products_f16_strided")]
    fn f16_strided_checks_the_length_of_b() {
        let b = vec![half::f16::from_f32(1.0); 2 * 64];
        let mut out = vec![0.0; 32];
        add_rank_products_f16_strided(&mut out, &[1.0, 2.0], &b[40..], 64);
    }

    #[test]
    fn matches_the_reference_bit_for_bit() {
        let mut next = test_values(0x2545_f491);
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
