//! x86_64 kernels: the AVX2 tier (AVX2 + FMA + F16C, `avx2.rs`) and the AVX-512 VNNI tier
//! (`avx512.rs`).
//!
//! Integer parts are exact (the same `sumi` as ggml's reference dots); only the order of the
//! float accumulation differs from the scalar path. Weights are decoded once per block and
//! reused for a batch of activation rows (up to 16 per kernel call).
//!
//! This module holds what both tiers share: the AVX2 helpers and the kernel bodies, as macros
//! (`quant_tier!` and the kernel macros it expands). Each tier instantiates them once: `avx2.rs`
//! with the `vpmaddubsw` dots, `avx512.rs` with the `vpdpbusd` dots, compiled with the AVX-512
//! features too, plus its own 16-row and decode kernels. Both compute the same exact integers
//! and then the same f32 operations, so the two tiers give bit-identical results. The
//! activation quantizers (`avx2.rs`), attention (`attention.rs`) and the GLU (`glu.rs`) are AVX2
//! code that the AVX-512 tier uses as well; its float kernels (`float512.rs`) put two activation
//! rows in a zmm and give the AVX2 ones' bits.
//!
//! Every function here is compiled with `avx2,fma,f16c` (the AVX-512 tier's with
//! `avx512f,avx512bw,avx512vl,avx512vnni` as well); the only entry points are the kernel tables
//! ([`avx2::KERNELS`], [`avx512::KERNELS`]), which `kernels` hands out for a tier only after
//! checking `tier.is_supported()`.

use core::arch::x86_64::*;
use std::ops::Range;

use super::interleaved::{group_gemm_entry, GroupGemm};
use super::tiles::{store, Ctx};
use super::{Act32, QActs, QMatrix, TileFn};
use crate::quant::blocks::*;

// ---------------------------------------------------------------------------------------------
// Helpers

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn h2f(bits: u16) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
}

/// Sum of the 8 i32 lanes (exact wherever the kernels use it: their sums are bounded well
/// inside i32).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum_i32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// Sum of the 8 lanes (also used by the attention kernels).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld_u8x32(x: &[u8; 32]) -> __m256i {
    // SAFETY: `x` is 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn ld_i8x32(x: &[i8; 32]) -> __m256i {
    // SAFETY: `x` is 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld_i16x16(x: &[i16; 16]) -> __m256i {
    // SAFETY: `x` is 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld_f32x8(x: &[f32; 8]) -> __m256 {
    // SAFETY: `x` is 8 readable f32; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_ps(x.as_ptr()) }
}

/// Hints the CPU to load the weight cache line at `p` (any address: a prefetch never faults),
/// non-temporally: weights are read once per pass, and keeping them out of the outer caches
/// leaves those to the activations and the KV cache (decode 2-4% faster than PREFETCHT0 on
/// both models and thread counts, `pocketlm bench`, 2 alternating runs).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn prefetch(p: *const u8) {
    // A safe intrinsic: PREFETCHNTA is only a hint and never faults, whatever the address.
    _mm_prefetch::<_MM_HINT_NTA>(p.cast())
}

/// Prefetches block column `i` of the `R` weight rows that start `skip` groups of `R` rows after
/// the end of `rows` (rows are contiguous in memory): weights stream from DRAM at decode and at
/// small batches (keyboard passes).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn prefetch_rows_ahead<W, const R: usize>(rows: &[&[W]; R], i: usize, skip: usize) {
    let group = R * rows[0].len() * core::mem::size_of::<W>();
    let next = rows[R - 1]
        .as_ptr_range()
        .end
        .cast::<u8>()
        .wrapping_add(skip * group);
    let lines = (R * core::mem::size_of::<W>()).div_ceil(64) + 1;
    for l in 0..lines {
        prefetch(next.wrapping_add((i * lines + l) * 64));
    }
}

/// [`prefetch_rows_ahead`] for the 8-row kernels, the group of 8 rows after the next: one
/// group ahead (~3-5 KB) was too short to cover the latency with one core: Gemma's 178 MB
/// output head streamed at 20 GB/s instead of 27 (`pocketlm bench`, 1 thread, phase timings),
/// and decode was 20% slower.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn prefetch_next8<W>(rows: &[&[W]; 8], i: usize) {
    prefetch_rows_ahead(rows, i, 1)
}

/// The results of an 8-row batched kernel (`$gemm8`): lane k of `acc[j]` is (weight row k,
/// activation row j).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn lanes_to_rows<const M: usize>(acc: &[__m256; M]) -> [[f32; M]; 8] {
    let mut res = [[0.0f32; M]; 8];
    for (j, a) in acc.iter().enumerate() {
        for (k, v) in st_f32x8(*a).into_iter().enumerate() {
            res[k][j] = v;
        }
    }
    res
}

/// The result of a 1-row kernel (`$gemm`): activation rows 0..8 in the lanes of `acc[0]`,
/// 8..16 in those of `acc[1]` (unused past `M`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn groups_to_row<const M: usize>(acc: &[__m256; 2]) -> [f32; M] {
    let mut res = [0.0f32; M];
    for (g, part) in res.chunks_mut(8).enumerate() {
        part.copy_from_slice(&st_f32x8(acc[g])[..part.len()]);
    }
    res
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld_u32x8(x: &[u32; 8]) -> __m256i {
    // SAFETY: `x` is 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn st_f32x8(v: __m256) -> [f32; 8] {
    let mut out = [0.0f32; 8];
    // SAFETY: `out` is 8 writable f32; `storeu` has no alignment requirement.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
    out
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld_u16x8(x: &[u16; 8]) -> __m128i {
    // SAFETY: `x` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(x.as_ptr().cast()) }
}

/// 16 packed bytes → 32 nibbles: low nibbles in bytes 0..16, high nibbles in bytes 16..32
/// (ggml's element order for Q4_0/Q4_1/Q5_0/Q5_1).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn nibbles(qs: &[u8; 16]) -> __m256i {
    // SAFETY: `qs` is 16 readable bytes; the broadcast load has no alignment requirement.
    let both = unsafe { _mm256_broadcastsi128_si256(_mm_loadu_si128(qs.as_ptr().cast())) };
    // shift the upper copy by 4 bits: one variable shift instead of shift + insert
    let shifted = _mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    _mm256_and_si256(shifted, _mm256_set1_epi8(0x0F))
}

/// Byte `j` = 0xFF if bit `j` of `x` is set, else 0.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn bits_to_bytes(x: u32) -> __m256i {
    let spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(x as i32),
        _mm256_setr_epi64x(
            0,
            0x0101_0101_0101_0101,
            0x0202_0202_0202_0202,
            0x0303_0303_0303_0303,
        ),
    );
    // every bit except bit k of byte k (mod 8)
    let others = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe_u64 as i64);
    _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi64x(-1))
}

/// Quants `4c..4c + 4` of an activation block in every 32-bit lane.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn bcast4(qs: &[i8; 32], c: usize) -> __m256i {
    let q: &[i8; 4] = sub32(qs, 4 * c);
    _mm256_set1_epi32(i32::from_le_bytes(q.map(|v| v as u8)))
}

/// Sums of 4 adjacent unsigned×signed byte products → 8 × i32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dot_u8i8(x: __m256i, y: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1))
}

/// Sums of 4 adjacent signed×signed byte products → 8 × i32 (`y` never -128).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dot_i8i8(x: __m256i, y: __m256i) -> __m256i {
    dot_u8i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x))
}

fn sub32<const N: usize, T, const L: usize>(x: &[T; L], at: usize) -> &[T; N] {
    x[at..at + N].try_into().unwrap()
}

/// Defines the safe `TileFn` wrapper around an AVX2 tile function.
macro_rules! tile_entry {
    ($name:ident, $inner:ident) => {
        fn $name(w: &QMatrix, a: &QActs, rows: Range<usize>, ts: Range<usize>, res: &mut [f32]) {
            // SAFETY: `$inner` needs the target features of one tier; only that tier's table
            // holds this wrapper, and `Tier::kernels` hands a table out only on a CPU that
            // has the tier's features.
            unsafe { $inner(w, a, rows, ts, res) }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// 32-element blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (activations Q8_0 / Q8_1)

/// One block column of the 8-row decode kernels: the 8 rows' products with activation block
/// `$y` added to `$acc` (and `m · s` to `$accm`); `$block` is row `$k`'s block, decoded by
/// `$decode` (see [`small_kernel!`]).
macro_rules! gemv8_column {
    ($signed:tt, $corr:expr, $min:expr, $acc:ident, $accm:ident, $y:expr, |$k:ident| $block:expr,
     |$b:ident| $decode:expr) => {{
        let y: &Act32 = $y;
        let yq = ld_i8x32(&y.qs);
        let mut p = [_mm256_setzero_si256(); 8];
        let mut dbits = [0u16; 8];
        let mut mbits = [0u16; 8];
        for $k in 0..8 {
            let $b = $block;
            let (x, db, mb): (__m256i, u16, u16) = $decode;
            // unsigned formats: partial sums in the tier's layout (see `reduce_u`)
            p[$k] = if $signed { dot_s(x, yq) } else { dot_u(x, yq) };
            dbits[$k] = db;
            mbits[$k] = mb;
        }
        let mut s = if $signed {
            reduce_rows8(p)
        } else {
            reduce_u(p)
        };
        if $corr != 0 {
            s = _mm256_sub_epi32(s, _mm256_set1_epi32(8 * $corr * y.isum()));
        }
        let dv = _mm256_cvtph_ps(ld_u16x8(&dbits));
        $acc = _mm256_fmadd_ps(
            _mm256_cvtepi32_ps(s),
            _mm256_mul_ps(dv, _mm256_set1_ps(y.d)),
            $acc,
        );
        if $min {
            let mv = _mm256_cvtph_ps(ld_u16x8(&mbits));
            $accm = _mm256_fmadd_ps(mv, _mm256_set1_ps(y.s()), $accm);
        }
    }};
}

/// Implements [`GroupGemv`] for a 32-element type (AVX2 tier only; the AVX-512 tier has its own
/// interleaved kernels in `avx512.rs`): each block column's 8 blocks are reassembled from their
/// heads and quants (in L1), then go through the same [`gemv8_column!`] as the row-major kernel.
macro_rules! group_gemv {
    (true, $($rest:tt)*) => {};
    (false, $feat:literal, $W:ty, corr = $corr:expr, min = $min:expr, signed = $signed:tt,
     |$b:ident| $decode:expr) => {
        impl GroupGemv for $W {
            #[target_feature(enable = $feat)]
            unsafe fn gemv_x8(group: &[u8], ar: &[Act32]) -> [f32; 8] {
                const BB: usize = core::mem::size_of::<$W>();
                const HEAD: usize = BB - if $signed { 32 } else { 16 };
                const CORR: i32 = $corr;
                const MIN: bool = $min;
                assert!(group.len() == 8 * ar.len() * BB);
                let mut acc = _mm256_setzero_ps();
                let mut accm = _mm256_setzero_ps();
                for (i, y) in ar.iter().enumerate() {
                    let col = &group[i * 8 * BB..][..8 * BB];
                    prefetch_stream(col.as_ptr(), 8 * BB);
                    let (heads, quants) = col.split_at(8 * HEAD);
                    let mut blocks = [<$W as bytemuck::Zeroable>::zeroed(); 8];
                    for (k, block) in blocks.iter_mut().enumerate() {
                        let bytes = bytemuck::bytes_of_mut(block);
                        bytes[..HEAD].copy_from_slice(&heads[k * HEAD..][..HEAD]);
                        bytes[HEAD..].copy_from_slice(&quants[k * (BB - HEAD)..][..BB - HEAD]);
                    }
                    gemv8_column!($signed, CORR, MIN, acc, accm, y, |k| &blocks[k], |$b| {
                        $decode
                    });
                }
                st_f32x8(_mm256_add_ps(acc, accm))
            }
        }
    };
}

/// How far ahead of its reads an interleaved kernel prefetches: one core's DRAM latency times
/// its bandwidth is ~5 KB here; 8 KB streamed a 90 MB Q4_1 matrix at 43 GB/s, none or 1-2 KB
/// at 25-30 (AVX-512 kernel, 1 thread).
pub(super) const STREAM_PREFETCH_BYTES: usize = 8192;

/// Prefetches the `len` bytes [`STREAM_PREFETCH_BYTES`] after `p` (a sequential weight stream).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn prefetch_stream(p: *const u8, len: usize) {
    let ahead = p.wrapping_add(STREAM_PREFETCH_BYTES);
    for l in (0..len).step_by(64) {
        prefetch(ahead.wrapping_add(l));
    }
}

/// Defines the kernels for a 32-element weight block type (activations: [`Act32`] rows).
///
/// `$decode` maps a block to (quants as 32 bytes, d bits, m bits); `CORR` (0, 1 or 2) subtracts
/// `8 * CORR * sum(y)` from a block's integer dot (unsigned storage of a symmetric format: 1 for
/// `q - 8`, 2 for `q - 16`); `MIN` adds `m * s`; `SIGNED` uses the signed×signed product.
///
/// All three kernels reduce each (weight row, activation row) block product to one i32 first
/// and accumulate it in one f32 lane with the same operations, so a row's result is
/// bit-identical whether it was computed alone (decode, `$gemv`: 8 weight rows × 1 activation
/// row) or in a batch (`$gemm8`: 8 weight rows × up to 16 activation rows; `$gemm`: 1 weight
/// row, for the rows left over).
macro_rules! small_kernel {
    ($feat:literal, wide = $wide:tt, $gemv:ident, $gemm:ident, $gemm8:ident, $gemm16:ident,
     $tile:ident, $entry:ident, x8 = ($gemm16s:ident, $x8tile:ident, $x8entry:ident), $W:ty,
     corr = $corr:expr, min = $min:expr, signed = $signed:tt, |$b:ident| $decode:expr) => {
        #[target_feature(enable = $feat)]
        #[allow(unreachable_code)] // past `wide_nibble_gemv!` in the AVX-512 tier
        fn $gemv(ctx: &Ctx<'_, $W>, r: usize, t: usize) -> [[f32; 1]; 8] {
            wide_nibble_gemv!($wide, $signed, $W, ctx, r, t);
            const CORR: i32 = $corr;
            const MIN: bool = $min;
            let nb = ctx.bpr;
            let wr: [&[$W]; 8] = ctx.wrows::<8>(r);
            let ar: &[Act32] = ctx.a.a32_row(ctx.t0 + t);
            assert!(ar.len() == nb);
            let mut acc = _mm256_setzero_ps();
            let mut accm = _mm256_setzero_ps();
            for i in 0..nb {
                // a whole model's weights come from DRAM at decode
                prefetch_next8(&wr, i);
                gemv8_column!($signed, CORR, MIN, acc, accm, &ar[i], |k| &wr[k][i], |$b| {
                    $decode
                });
            }
            let out = st_f32x8(_mm256_add_ps(acc, accm));
            out.map(|v| [v])
        }

        group_gemv!(
            $wide,
            $feat,
            $W,
            corr = $corr,
            min = $min,
            signed = $signed,
            |$b| $decode
        );

        /// 1 weight row × `M` ≤ 16 activation rows: each weight block is decoded once for all
        /// `M` (groups of 8 rows, one reduction and one f32 accumulator each).
        #[target_feature(enable = $feat)]
        fn $gemm<const M: usize>(ctx: &Ctx<'_, $W>, r: usize, t: usize) -> [[f32; M]; 1] {
            const CORR: i32 = $corr;
            const MIN: bool = $min;
            let nb = ctx.bpr;
            let w: &[$W] = ctx.wrows::<1>(r)[0];
            let t = ctx.t0 + t;
            let ar: [&[Act32]; M] = ctx.a32_rows::<M>(t);
            for a in &ar {
                assert!(a.len() == nb);
            }
            let mut acc = [_mm256_setzero_ps(); 2];
            let mut accm = [_mm256_setzero_ps(); 2];
            for i in 0..nb {
                let $b = &w[i];
                let (x, db, mb): (__m256i, u16, u16) = $decode;
                let wd = _mm256_set1_ps(h2f(db));
                for g in 0..2 {
                    let j0 = 8 * g;
                    if j0 >= M {
                        break;
                    }
                    let mut p = [_mm256_setzero_si256(); 8];
                    for (j, pj) in p.iter_mut().enumerate() {
                        if j0 + j < M {
                            let yq = ld_i8x32(&ar[j0 + j][i].qs);
                            *pj = if $signed { dot_s(x, yq) } else { dot_u(x, yq) };
                        }
                    }
                    // the group's d and aux (isum or s) as vectors, zero past M
                    let (yd, aux) = if M == 1 {
                        let y = &ar[0][i];
                        (
                            _mm256_setr_ps(y.d, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
                            _mm256_setr_epi32(y.aux as i32, 0, 0, 0, 0, 0, 0, 0),
                        )
                    } else {
                        let gr = ctx.a.a32_group8(t + j0, i);
                        (ld_f32x8(&gr.d), ld_u32x8(&gr.aux))
                    };
                    let mut s = if $signed {
                        reduce_rows8(p)
                    } else {
                        reduce_u(p)
                    };
                    if CORR != 0 {
                        // 8 * CORR * isum
                        let c = _mm256_slli_epi32::<3>(aux);
                        s = _mm256_sub_epi32(s, c);
                        if CORR == 2 {
                            s = _mm256_sub_epi32(s, c);
                        }
                    }
                    let scale = _mm256_mul_ps(wd, yd);
                    acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc[g]);
                    if MIN {
                        let ys = _mm256_castsi256_ps(aux);
                        accm[g] = _mm256_fmadd_ps(_mm256_set1_ps(h2f(mb)), ys, accm[g]);
                    }
                }
            }
            let sum = [
                _mm256_add_ps(acc[0], accm[0]),
                _mm256_add_ps(acc[1], accm[1]),
            ];
            [groups_to_row(&sum)]
        }

        /// 8 weight rows × `M` ≤ 16 activation rows with no horizontal sums: the 8 decoded
        /// blocks are transposed so that one vector holds the same 4 quants of all 8 rows, and
        /// each activation's 4 quants are broadcast against it, so every i32 lane of a product
        /// belongs to one weight row. Same integer sums and the same f32 operations per
        /// (weight row, activation row) as `$gemm` and `$gemv`: bit-identical results.
        #[target_feature(enable = $feat)]
        fn $gemm8<const M: usize>(ctx: &Ctx<'_, $W>, r: usize, t: usize) -> [[f32; M]; 8] {
            const CORR: i32 = $corr;
            const MIN: bool = $min;
            let nb = ctx.bpr;
            let wr: [&[$W]; 8] = ctx.wrows::<8>(r);
            let ar: [&[Act32]; M] = ctx.a32_rows::<M>(ctx.t0 + t);
            for a in &ar {
                assert!(a.len() == nb);
            }
            let mut acc = [_mm256_setzero_ps(); M];
            let mut accm = [_mm256_setzero_ps(); M];
            for i in 0..nb {
                prefetch_next8(&wr, i);
                let mut x = [_mm256_setzero_si256(); 8];
                let mut dbits = [0u16; 8];
                let mut mbits = [0u16; 8];
                for k in 0..8 {
                    let $b = &wr[k][i];
                    let (xk, db, mb): (__m256i, u16, u16) = $decode;
                    x[k] = xk;
                    dbits[k] = db;
                    mbits[k] = mb;
                }
                // xt[c]: quants 4c..4c+4 of the 8 rows; for signed formats |x| and x's signs
                let xt = transpose8x8_epi32(x);
                let mut xa = xt;
                if $signed {
                    for v in xa.iter_mut() {
                        *v = _mm256_sign_epi8(*v, *v);
                    }
                }
                let wd = _mm256_cvtph_ps(ld_u16x8(&dbits));
                let wm = if MIN {
                    _mm256_cvtph_ps(ld_u16x8(&mbits))
                } else {
                    _mm256_setzero_ps()
                };
                for j in 0..M {
                    let y = &ar[j][i];
                    let mut s = if $signed {
                        dots8_s(&xa, &xt, &y.qs)
                    } else {
                        dots8_u(&xa, &y.qs)
                    };
                    if CORR != 0 {
                        s = _mm256_sub_epi32(s, _mm256_set1_epi32(8 * CORR * y.isum()));
                    }
                    let scale = _mm256_mul_ps(wd, _mm256_set1_ps(y.d));
                    acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc[j]);
                    if MIN {
                        accm[j] = _mm256_fmadd_ps(wm, _mm256_set1_ps(y.s()), accm[j]);
                    }
                }
            }
            for (a, m) in acc.iter_mut().zip(accm) {
                *a = _mm256_add_ps(*a, m);
            }
            lanes_to_rows(&acc)
        }

        #[target_feature(enable = $feat)]
        fn $tile(w: &QMatrix, a: &QActs, rows: Range<usize>, ts: Range<usize>, res: &mut [f32]) {
            let ctx = Ctx {
                w: w.blocks::<$W>(rows.clone()),
                bpr: w.blocks_per_row(),
                a,
                t0: ts.start,
            };
            // m = 2 and up (measured: Q8_0 / Q5_0 gain at m = 2, Q4_1 breaks even); 64 and
            // 32 activation rows per call in tiles of more (`avx512::KERNELS.tile_acts`)
            wide_tile_loop!(
                $wide,
                big,
                2,
                $gemv,
                $gemm,
                $gemm8,
                $gemm16,
                ctx,
                rows.len(),
                ts.len(),
                res
            );
        }

        tile_entry!($entry, $tile);

        small_kernel16!(
            $wide,
            $feat,
            ($gemm16, $gemm16s, $x8tile, $x8entry),
            $W,
            corr = $corr,
            min = $min,
            signed = $signed,
            |$b| $decode
        );
    };
}

/// In the AVX-512 tier, the decode kernels of the 32-element types are those of
/// `avx512.rs` (same bits, faster): [`gemv_nibbles`](avx512::gemv_nibbles) for
/// the unsigned (4- and 5-bit) types, [`gemv_q8_0`](avx512::gemv_q8_0) for Q8_0;
/// elsewhere nothing.
macro_rules! wide_nibble_gemv {
    (true, false, $W:ty, $ctx:ident, $r:ident, $t:ident) => {
        // SAFETY: `wide = true` only in the avx512vnni instantiation, compiled with (and only
        // handed out on CPUs with) the AVX-512 VNNI features `gemv_nibbles` needs.
        #[allow(unused_unsafe)]
        return unsafe { super::super::avx512::gemv_nibbles::<$W>($ctx, $r, $t) };
    };
    (true, true, $W:ty, $ctx:ident, $r:ident, $t:ident) => {
        // SAFETY: as above (the only signed 32-element type is Q8_0).
        #[allow(unused_unsafe)]
        return unsafe { super::super::avx512::gemv_q8_0($ctx, $r, $t) };
    };
    ($wide:tt, $signed:tt, $W:ty, $ctx:ident, $r:ident, $t:ident) => {};
}

/// `reduced_tile_loop!`, with the 16-row kernels `$gemm16` when `$wide` (the AVX-512 tier) for
/// batches of at least `$from` activation rows (below, decoding and transposing 16 rows costs
/// more than the dots save); with `big`, `$gemm16` also for 64 and 32 activation rows per call
/// (the k-quants: their tiles get up to `MAX_TILE_ACTS` activation rows, `avx512::KERNELS`).
macro_rules! wide_tile_loop {
    (false, $from:literal, $gemv:ident, $gemm:ident, $gemm8:ident, $gemm16:ident,
     $($rest:tt)*) => {
        reduced_tile_loop!($gemv, $gemm, $gemm8, $($rest)*)
    };
    (true, $from:literal, $gemv:ident, $gemm:ident, $gemm8:ident, $gemm16:ident,
     $($rest:tt)*) => {
        reduced_tile_loop!($gemv, $gemm, $gemm8, @wide $gemm16 from $from, $($rest)*)
    };
    (false, big, $from:literal, $gemv:ident, $gemm:ident, $gemm8:ident, $gemm16:ident,
     $($rest:tt)*) => {
        reduced_tile_loop!($gemv, $gemm, $gemm8, $($rest)*)
    };
    (true, big, $from:literal, $gemv:ident, $gemm:ident, $gemm8:ident, $gemm16:ident,
     $($rest:tt)*) => {
        reduced_tile_loop!($gemv, $gemm, $gemm8, @big $gemm16, @wide $gemm16 from $from, $($rest)*)
    };
}

/// The 16-row batched kernel of a 32-element block type for the AVX-512 tier (nothing for
/// AVX2): `$gemm8` with 16 weight rows in the 16 i32 lanes of a zmm (two transposed groups of
/// 8 rows side by side), so one `vpdpbusd` serves 16 rows. Per (weight row, activation row) it
/// computes the same exact i32 and the same f32 operations as `$gemm8`, `$gemm` and `$gemv`.
macro_rules! small_kernel16 {
    (false, $($rest:tt)*) => {};
    (true, $feat:literal, ($gemm16:ident, $gemm16s:ident, $x8tile:ident, $x8entry:ident),
     $W:ty, corr = $corr:expr, min = $min:expr, signed = $signed:expr,
     |$b:ident| $decode:expr) => {
        #[target_feature(enable = $feat)]
        fn $gemm16<const M: usize>(ctx: &Ctx<'_, $W>, r: usize, t: usize) -> [[f32; M]; 16] {
            $gemm16s::<M, _>(&RowMajor16(ctx.wrows::<16>(r)), ctx, t)
        }

        /// The 16 weight rows of `wr` (row-major rows, or two interleaved groups read in
        /// place) × activation rows `t..t + M` of `ctx`.
        #[target_feature(enable = $feat)]
        #[inline]
        fn $gemm16s<const M: usize, S: Rows16<$W>>(
            wr: &S,
            ctx: &Ctx<'_, $W>,
            t: usize,
        ) -> [[f32; M]; 16] {
            const CORR: i32 = $corr;
            const MIN: bool = $min;
            let nb = ctx.bpr;
            let ar: [&[Act32]; M] = ctx.a32_rows::<M>(ctx.t0 + t);
            for a in &ar {
                assert!(a.len() == nb);
            }
            let mut acc = [_mm512_setzero_ps(); M];
            let mut accm = [_mm512_setzero_ps(); M];
            for i in 0..nb {
                let mut x = [_mm256_setzero_si256(); 16];
                let mut dbits = [0u16; 16];
                let mut mbits = [0u16; 16];
                for k in 0..16 {
                    let block = wr.block(k, i);
                    let $b = &block;
                    let (xk, db, mb): (__m256i, u16, u16) = $decode;
                    x[k] = xk;
                    dbits[k] = db;
                    mbits[k] = mb;
                }
                // xz[c]: quants 4c..4c+4 of the 16 rows; for signed formats |x| and x's signs
                let xz = transpose16x8_epi32(&x);
                let mut xa = xz;
                let mut neg = [0u64; 8];
                if $signed {
                    for c in 0..8 {
                        neg[c] = _mm512_movepi8_mask(xz[c]);
                        xa[c] = _mm512_abs_epi8(xz[c]);
                    }
                }
                let wd = _mm512_cvtph_ps(ld_u16x16(&dbits));
                let wm = if MIN {
                    _mm512_cvtph_ps(ld_u16x16(&mbits))
                } else {
                    _mm512_setzero_ps()
                };
                // 4 activation rows per pass (4 independent `vpdpbusd` chains, each transposed
                // vector used by all 4), then pairs, then a single row
                if M < 4 {
                    // no 4-row pass to spread the prefetch over (a keyboard's batch of 2 or 3
                    // candidates): all of the next rows' lines here. Without it such a batch
                    // streamed the weights unprefetched, and a keyboard pass of 3 rows on
                    // SmolLM2 took 14 ms instead of 9 (docs/keyboard.md, "what sets p95").
                    prefetch_after16_t0::<$W>(wr.end(), i, 0, 1);
                }
                let mut j = 0;
                while j < M {
                    let n = if j + 4 <= M {
                        // the next rows' lines of this block column, spread over the passes
                        // (`PREFETCHNTA` of all of them at once was 15% of a Q4_0 tile's time)
                        prefetch_after16_t0::<$W>(wr.end(), i, j / 4, M / 4);
                        4
                    } else if j + 2 <= M {
                        2
                    } else {
                        1
                    };
                    let mut s = [_mm512_setzero_si512(); 4];
                    for c in 0..8 {
                        for (u, su) in s.iter_mut().enumerate().take(n) {
                            let yc = bcast4_512(&ar[j + u][i].qs, c);
                            // signed: y's sign flipped where x < 0 (x = 0 contributes 0 anyway)
                            let yc = if $signed {
                                _mm512_mask_sub_epi8(yc, neg[c], _mm512_setzero_si512(), yc)
                            } else {
                                yc
                            };
                            *su = _mm512_dpbusd_epi32(*su, xa[c], yc);
                        }
                    }
                    for (u, &su) in s.iter().enumerate().take(n) {
                        let y = &ar[j + u][i];
                        let mut su = su;
                        if CORR != 0 {
                            su = _mm512_sub_epi32(su, _mm512_set1_epi32(8 * CORR * y.isum()));
                        }
                        let scale = _mm512_mul_ps(wd, _mm512_set1_ps(y.d));
                        acc[j + u] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(su), scale, acc[j + u]);
                        if MIN {
                            accm[j + u] = _mm512_fmadd_ps(wm, _mm512_set1_ps(y.s()), accm[j + u]);
                        }
                    }
                    j += n;
                }
            }
            for (a, m) in acc.iter_mut().zip(accm) {
                *a = _mm512_add_ps(*a, m);
            }
            lanes_to_rows16(&acc)
        }

        /// A tile of the interleaved layout for a batch (the prefill's): a whole 16-row tile
        /// (two groups) through `$gemm16s` reading the groups in place, in the row-major
        /// tiles' calls; a partial one through the group kernels (`interleaved::tile`).
        #[target_feature(enable = $feat)]
        fn $x8tile(w: &QMatrix, a: &QActs, rows: Range<usize>, ts: Range<usize>, res: &mut [f32]) {
            use crate::quant::interleave::GROUP_ROWS;
            if rows.len() != 2 * GROUP_ROWS || !rows.start.is_multiple_of(GROUP_ROWS) {
                return crate::kernels::interleaved::tile::<
                    { crate::kernels::Tier::Avx512Vnni as usize },
                >(w, a, rows, ts, res);
            }
            let rb = w.row_bytes();
            let (g0, g1) = w.data[rows.start * rb..rows.end * rb].split_at(GROUP_ROWS * rb);
            let wr = Interleaved16::<$W>::new([g0, g1]);
            let ctx = Ctx {
                w: &[],
                bpr: w.blocks_per_row(),
                a,
                t0: ts.start,
            };
            let nt = ts.len();
            let mut t = 0;
            // the row-major tiles' calls (`reduced_tile_loop!`): 64 and 32 rows, then 16, then
            // what is left in one call of up to 8
            while nt - t >= 64 {
                store::<16, 64>(res, nt, 0, t, $gemm16s::<64, _>(&wr, &ctx, t));
                t += 64;
            }
            while nt - t >= 32 {
                store::<16, 32>(res, nt, 0, t, $gemm16s::<32, _>(&wr, &ctx, t));
                t += 32;
            }
            while t < nt {
                let m = if nt - t >= 16 { 16 } else { (nt - t).min(8) };
                macro_rules! call {
                    ($m:literal) => {
                        store::<16, $m>(res, nt, 0, t, $gemm16s::<$m, _>(&wr, &ctx, t))
                    };
                }
                match m {
                    16 => call!(16),
                    1 => call!(1),
                    2 => call!(2),
                    3 => call!(3),
                    4 => call!(4),
                    5 => call!(5),
                    6 => call!(6),
                    7 => call!(7),
                    _ => call!(8),
                }
                t += m;
            }
        }

        tile_entry!($x8entry, $x8tile);
    };
}

/// The 16-row batched kernel of Q4_K / Q5_K for the AVX-512 tier (nothing for AVX2): `$gemm8`
/// of `k4_kernels!` with 16 weight rows in the 16 i32 lanes of a zmm. Same exact integers
/// (`Σ scale · Σ q · y` via `vpdpbusd` and `vpmulld`, `Σ min · Σ y`) and the same f32 operations
/// per (weight row, activation row) as the other three kernels.
macro_rules! k4_kernel16 {
    (false, $($rest:tt)*) => {};
    (true, $feat:literal, $gemm16:ident, $W:ty) => {
        #[target_feature(enable = $feat)]
        fn $gemm16<const M: usize>(ctx: &Ctx<'_, $W>, r: usize, t: usize) -> [[f32; M]; 16] {
            let nb = ctx.bpr;
            let wr: [&[$W]; 16] = ctx.wrows::<16>(r);
            let aq: [&[BlockQ8K]; M] = ctx.q8k_rows::<M>(ctx.t0 + t);
            for a in &aq {
                assert!(a.len() == nb);
            }
            let (even, odd) = dup_i16_indices();
            let (even, odd) = (_mm512_broadcast_i64x4(even), _mm512_broadcast_i64x4(odd));
            let mut acc = [_mm512_setzero_ps(); M];
            let mut q = [[_mm256_setzero_si256(); 16]; 8];
            for i in 0..nb {
                // per row: the 8 scales (low half) and the 8 mins (high half) as i16
                let mut sm = [_mm256_setzero_si256(); 16];
                let mut dbits = [0u16; 16];
                let mut mbits = [0u16; 16];
                for k in 0..16 {
                    let b = &wr[k][i];
                    let qk = k4_quants(&b.qs, b.high());
                    for v in 0..8 {
                        q[v][k] = qk[v];
                    }
                    let (sc, mn) = scales_mins_k4_words(&b.scales);
                    sm[k] = _mm256_cvtepu8_epi16(_mm_set_epi64x(mn as i64, sc as i64));
                    dbits[k] = b.d;
                    mbits[k] = b.dmin;
                }
                // xt[v][c]: quants 4c..4c + 4 of sub-block v of the 16 rows
                let xt: [[__m512i; 8]; 8] = core::array::from_fn(|v| transpose16x8_epi32(&q[v]));
                // smt[p], p < 4: lane k = row k's scales 2p, 2p + 1 (i16); smt[4 + p]: its mins
                let smt = transpose16x8_epi32(&sm);
                // sv[v]: row k's scale of sub-block v as i32; mv[v]: its min, twice (i16)
                let mut sv = [_mm512_setzero_si512(); 8];
                let mut mv = [_mm512_setzero_si512(); 8];
                for v in 0..8 {
                    let p = smt[v / 2];
                    sv[v] = if v % 2 == 0 {
                        _mm512_and_si512(p, _mm512_set1_epi32(0xFFFF))
                    } else {
                        _mm512_srli_epi32::<16>(p)
                    };
                    let idx = if v % 2 == 0 { even } else { odd };
                    mv[v] = _mm512_shuffle_epi8(smt[4 + v / 2], idx);
                }
                let wd = _mm512_cvtph_ps(ld_u16x16(&dbits));
                let wm = _mm512_cvtph_ps(ld_u16x16(&mbits));
                // 4 activation rows per pass: each transposed vector is loaded once for them
                let mut j = 0;
                while j < M {
                    if j + 4 <= M {
                        // the next rows' lines of this super-block, spread over the passes
                        // (M ≥ 5: the first pass is one of these)
                        prefetch_next16_t0(&wr, i, j / 4, M / 4);
                        let ys = [&aq[j][i], &aq[j + 1][i], &aq[j + 2][i], &aq[j + 3][i]];
                        let (s, m) = k4_dots16::<4>(&xt, &sv, &mv, ys);
                        for n in 0..4 {
                            let yd = _mm512_set1_ps(ys[n].d);
                            let (sf, mf) = (_mm512_cvtepi32_ps(s[n]), _mm512_cvtepi32_ps(m[n]));
                            acc[j + n] = _mm512_fmadd_ps(sf, _mm512_mul_ps(wd, yd), acc[j + n]);
                            acc[j + n] = _mm512_fnmadd_ps(mf, _mm512_mul_ps(wm, yd), acc[j + n]);
                        }
                        j += 4;
                    } else if j + 2 <= M {
                        let ys = [&aq[j][i], &aq[j + 1][i]];
                        let (s, m) = k4_dots16::<2>(&xt, &sv, &mv, ys);
                        for n in 0..2 {
                            let yd = _mm512_set1_ps(ys[n].d);
                            let (sf, mf) = (_mm512_cvtepi32_ps(s[n]), _mm512_cvtepi32_ps(m[n]));
                            acc[j + n] = _mm512_fmadd_ps(sf, _mm512_mul_ps(wd, yd), acc[j + n]);
                            acc[j + n] = _mm512_fnmadd_ps(mf, _mm512_mul_ps(wm, yd), acc[j + n]);
                        }
                        j += 2;
                    } else {
                        let y = &aq[j][i];
                        let ([s], [m]) = k4_dots16::<1>(&xt, &sv, &mv, [y]);
                        let yd = _mm512_set1_ps(y.d);
                        let (sf, mf) = (_mm512_cvtepi32_ps(s), _mm512_cvtepi32_ps(m));
                        acc[j] = _mm512_fmadd_ps(sf, _mm512_mul_ps(wd, yd), acc[j]);
                        acc[j] = _mm512_fnmadd_ps(mf, _mm512_mul_ps(wm, yd), acc[j]);
                        j += 1;
                    }
                }
            }
            lanes_to_rows16(&acc)
        }
    };
}

/// The 16-row batched kernel of Q6_K for the AVX-512 tier (nothing for AVX2), as
/// `k4_kernel16!`: same exact integers and f32 operations as the other Q6_K kernels.
macro_rules! q6k_kernel16 {
    (false, $($rest:tt)*) => {};
    (true, $feat:literal) => {
        #[target_feature(enable = $feat)]
        fn gemm16_q6_k<const M: usize>(
            ctx: &Ctx<'_, BlockQ6K>,
            r: usize,
            t: usize,
        ) -> [[f32; M]; 16] {
            let nb = ctx.bpr;
            let wr: [&[BlockQ6K]; 16] = ctx.wrows::<16>(r);
            let aq: [&[BlockQ8K]; M] = ctx.q8k_rows::<M>(ctx.t0 + t);
            for a in &aq {
                assert!(a.len() == nb);
            }
            let mut acc = [_mm512_setzero_ps(); M];
            let mut q = [[_mm256_setzero_si256(); 16]; 8];
            for i in 0..nb {
                let mut sc = [_mm256_setzero_si256(); 16];
                let mut dbits = [0u16; 16];
                for k in 0..16 {
                    let b = &wr[k][i];
                    let qk = q6k_quants(b);
                    for v in 0..8 {
                        q[v][k] = qk[v];
                    }
                    sc[k] = q6k_scales16(b);
                    dbits[k] = b.d;
                }
                // xt[v][c]: quants 4c..4c + 4 of vector v of the 16 rows (sub-block 2v for
                // c < 4, 2v + 1 for c ≥ 4)
                let xt: [[__m512i; 8]; 8] = core::array::from_fn(|v| transpose16x8_epi32(&q[v]));
                // scp[p]: lane k = row k's scales 2p and 2p + 1 (i16); sv[s]: scale s as i32
                let scp = transpose16x8_epi32(&sc);
                let mut sv = [_mm512_setzero_si512(); 16];
                for p in 0..8 {
                    sv[2 * p] = _mm512_srai_epi32::<16>(_mm512_slli_epi32::<16>(scp[p]));
                    sv[2 * p + 1] = _mm512_srai_epi32::<16>(scp[p]);
                }
                let wd = _mm512_cvtph_ps(ld_u16x16(&dbits));
                // 4 activation rows per pass: each transposed vector is loaded once for them
                let mut j = 0;
                while j < M {
                    if j + 4 <= M {
                        // the next rows' lines of this super-block, spread over the passes
                        // (M ≥ 5: the first pass is one of these)
                        prefetch_next16_t0(&wr, i, j / 4, M / 4);
                        let ys = [&aq[j][i], &aq[j + 1][i], &aq[j + 2][i], &aq[j + 3][i]];
                        let s = q6k_dots16(&xt, &sv, &scp, ys);
                        for n in 0..4 {
                            let scale = _mm512_mul_ps(wd, _mm512_set1_ps(ys[n].d));
                            acc[j + n] =
                                _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[n]), scale, acc[j + n]);
                        }
                        j += 4;
                    } else if j + 2 <= M {
                        let ys = [&aq[j][i], &aq[j + 1][i]];
                        let s = q6k_dots16(&xt, &sv, &scp, ys);
                        for n in 0..2 {
                            let scale = _mm512_mul_ps(wd, _mm512_set1_ps(ys[n].d));
                            acc[j + n] =
                                _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[n]), scale, acc[j + n]);
                        }
                        j += 2;
                    } else {
                        let y = &aq[j][i];
                        let [s] = q6k_dots16(&xt, &sv, &scp, [y]);
                        let scale = _mm512_mul_ps(wd, _mm512_set1_ps(y.d));
                        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc[j]);
                        j += 1;
                    }
                }
            }
            lanes_to_rows16(&acc)
        }
    };
}

/// Transposes an 8 × 8 matrix of i32 (row k = `x[k]`): lane k of the result's vector c is
/// lane c of `x[k]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn transpose8x8_epi32(x: [__m256i; 8]) -> [__m256i; 8] {
    // per half: [x0c0, x1c0, x0c1, x1c1] (low half: c = 0, 1; high half: c = 4, 5), ...
    let t0 = _mm256_unpacklo_epi32(x[0], x[1]);
    let t1 = _mm256_unpackhi_epi32(x[0], x[1]);
    let t2 = _mm256_unpacklo_epi32(x[2], x[3]);
    let t3 = _mm256_unpackhi_epi32(x[2], x[3]);
    let t4 = _mm256_unpacklo_epi32(x[4], x[5]);
    let t5 = _mm256_unpackhi_epi32(x[4], x[5]);
    let t6 = _mm256_unpacklo_epi32(x[6], x[7]);
    let t7 = _mm256_unpackhi_epi32(x[6], x[7]);
    // per half: rows 0..4 (u0..u3) or 4..8 (u4..u7) of one column: u0 = [c0 | c4], u1 = [c1 | c5], ...
    let u0 = _mm256_unpacklo_epi64(t0, t2);
    let u1 = _mm256_unpackhi_epi64(t0, t2);
    let u2 = _mm256_unpacklo_epi64(t1, t3);
    let u3 = _mm256_unpackhi_epi64(t1, t3);
    let u4 = _mm256_unpacklo_epi64(t4, t6);
    let u5 = _mm256_unpackhi_epi64(t4, t6);
    let u6 = _mm256_unpacklo_epi64(t5, t7);
    let u7 = _mm256_unpackhi_epi64(t5, t7);
    [
        _mm256_permute2x128_si256::<0x20>(u0, u4),
        _mm256_permute2x128_si256::<0x20>(u1, u5),
        _mm256_permute2x128_si256::<0x20>(u2, u6),
        _mm256_permute2x128_si256::<0x20>(u3, u7),
        _mm256_permute2x128_si256::<0x31>(u0, u4),
        _mm256_permute2x128_si256::<0x31>(u1, u5),
        _mm256_permute2x128_si256::<0x31>(u2, u6),
        _mm256_permute2x128_si256::<0x31>(u3, u7),
    ]
}

/// Horizontal sums of 8 vectors of 16 × i16 (`vpmaddubsw` pair sums of an unsigned weight
/// block, quants ≤ 31, and an activation block): lane k of the result is the sum of `p[k]`, as
/// i32.
///
/// Two rounds of `hadd` in i16 first (exact: a lane then sums 4 pair sums, |sum| at most
/// 4 · 2 · 31 · 128 = 31744 < 2^15), then one `vpmaddwd` per 4 rows widens to i32: 2 multiplies
/// per 8 rows instead of one per row, on the multiply ports that `vpmaddubsw` saturates.
/// (An unpack/blend tree instead of the `vphaddw`s measured ~7% slower on Zen 3.)
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn reduce_rows8_i16(p: [__m256i; 8]) -> __m256i {
    // per 128-bit half: [pairs of a's 8 lanes summed 2 by 2 (4), same for b (4)]
    let h01 = _mm256_hadd_epi16(p[0], p[1]);
    let h23 = _mm256_hadd_epi16(p[2], p[3]);
    let h45 = _mm256_hadd_epi16(p[4], p[5]);
    let h67 = _mm256_hadd_epi16(p[6], p[7]);
    // per half: 2 partial sums (of 4 lanes) of each of p0..p3
    let h0123 = _mm256_hadd_epi16(h01, h23);
    let h4567 = _mm256_hadd_epi16(h45, h67);
    // per half: [sum p0, sum p1, sum p2, sum p3] of that half's lanes, as i32
    let ones = _mm256_set1_epi16(1);
    let s0123 = _mm256_madd_epi16(h0123, ones);
    let s4567 = _mm256_madd_epi16(h4567, ones);
    halves_sum(s0123, s4567)
}

/// `[lo(s) + hi(s), lo(t) + hi(t)]` for two vectors of 2 × 4 i32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn halves_sum(s: __m256i, t: __m256i) -> __m256i {
    // [lo(s), hi(t)] + [hi(s), lo(t)]
    _mm256_add_epi32(
        _mm256_blend_epi32::<0xF0>(s, t),
        _mm256_permute2x128_si256::<0x21>(s, t),
    )
}

/// Horizontal sums of 8 vectors of 8 × i32: lane k of the result is the sum of `p[k]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn reduce_rows8(p: [__m256i; 8]) -> __m256i {
    // per half: [a0 + a2, b0 + b2, a1 + a3, b1 + b3]
    let u01 = zip_add_epi32(p[0], p[1]);
    let u23 = zip_add_epi32(p[2], p[3]);
    let u45 = zip_add_epi32(p[4], p[5]);
    let u67 = zip_add_epi32(p[6], p[7]);
    // per half: [a, b, c, d]
    let s0123 = _mm256_add_epi32(
        _mm256_unpacklo_epi64(u01, u23),
        _mm256_unpackhi_epi64(u01, u23),
    );
    let s4567 = _mm256_add_epi32(
        _mm256_unpacklo_epi64(u45, u67),
        _mm256_unpackhi_epi64(u45, u67),
    );
    halves_sum(s0123, s4567)
}

/// `unpacklo(a, b) + unpackhi(a, b)` in 32-bit lanes: per half `[a0 + a2, b0 + b2, a1 + a3,
/// b1 + b3]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn zip_add_epi32(a: __m256i, b: __m256i) -> __m256i {
    _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b))
}

// ---------------------------------------------------------------------------------------------
// k-quants (activations Q8_K)

/// `[m0, m0, m1, m1, ..., m7, m7]` as 16 × i16, to pair with the 16 `bsums` (`mn`: the 8 mins
/// as bytes, little-endian).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn mins_pairs(mn: u64) -> __m256i {
    let v = _mm_cvtsi64_si128(mn as i64);
    _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v))
}

/// The 256 quants of a Q4_K super-block (with `qh`: Q5_K's fifth bits) as 8 vectors: vector
/// `v` is sub-block `v` (elements `32v..32v + 32`: the low nibbles of `qs[32c..32c + 32]` for
/// `v = 2c`, the high nibbles for `v = 2c + 1`; the fifth bit is bit `v` of `qh`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn k4_quants(qs: &[u8; 128], qh: Option<&[u8; 32]>) -> [__m256i; 8] {
    let m4 = _mm256_set1_epi8(0x0F);
    let mut q = [_mm256_setzero_si256(); 8];
    for c in 0..4 {
        let bits = ld_u8x32(sub32::<32, u8, 128>(qs, 32 * c));
        q[2 * c] = _mm256_and_si256(bits, m4);
        q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m4);
    }
    if let Some(qh) = qh {
        let hb = ld_u8x32(qh);
        // bit v of every byte moved to bit 4 (16-bit shifts by at most 4 left or 3 right: no
        // bit of the neighbour byte lands on bit 4)
        let hv = [
            _mm256_slli_epi16::<4>(hb),
            _mm256_slli_epi16::<3>(hb),
            _mm256_slli_epi16::<2>(hb),
            _mm256_slli_epi16::<1>(hb),
            hb,
            _mm256_srli_epi16::<1>(hb),
            _mm256_srli_epi16::<2>(hb),
            _mm256_srli_epi16::<3>(hb),
        ];
        let m10 = _mm256_set1_epi8(0x10);
        for (qv, h) in q.iter_mut().zip(hv) {
            *qv = _mm256_or_si256(*qv, _mm256_and_si256(h, m10));
        }
    }
    q
}

/// `sv[v]`: scale `v` (byte `v` of `sc`) in all 16 i16 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn k4_scales(sc: u64) -> [__m256i; 8] {
    let all = _mm256_set1_epi64x(sc as i64);
    let mut sv = [_mm256_setzero_si256(); 8];
    for (v, s) in sv.iter_mut().enumerate() {
        // byte v into the low byte of every i16, index 0x80 (zero) into the high byte
        *s = _mm256_shuffle_epi8(all, _mm256_set1_epi16((0x8000 | v as u16) as i16));
    }
    sv
}

/// `vpshufb` indices per 32-bit lane (an i16 pair): (even) both i16 = the low one, (odd) both
/// = the high one.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dup_i16_indices() -> (__m256i, __m256i) {
    let even = _mm256_setr_epi32(
        0x0100_0100,
        0x0504_0504,
        0x0908_0908,
        0x0d0c_0d0c,
        0x0100_0100,
        0x0504_0504,
        0x0908_0908,
        0x0d0c_0d0c,
    );
    (even, _mm256_add_epi8(even, _mm256_set1_epi8(2)))
}

/// Fifth bits of a Q4_K / Q5_K super-block.
trait HighBits {
    fn high(&self) -> Option<&[u8; 32]>;
}
impl HighBits for BlockQ4K {
    #[inline(always)]
    fn high(&self) -> Option<&[u8; 32]> {
        None
    }
}
impl HighBits for BlockQ5K {
    #[inline(always)]
    fn high(&self) -> Option<&[u8; 32]> {
        Some(&self.qh)
    }
}

/// The three kernels of Q4_K / Q5_K, as for Q6_K and the 32-element types (see
/// `small_kernel!`): each (weight row, activation row) super-block gives the exact i32
/// `sumi = Σ scale · Σ q · y` and `summ = Σ min · Σ y`, then the same f32 operations
/// (`acc = fma(sumi, d · y.d, acc)`, `acc = fnmadd(summ, dmin · y.d, acc)`) in all three, so
/// a row's result does not depend on the batch it was computed in.
///
/// `group`: how many `vpmaddubsw` results of one sub-block are summed in i16 by `$gemm8`
/// (8 for 4-bit quants: 8 · 2 · 15 · 127 < 2^15; 4 for 5-bit: 4 · 2 · 31 · 127 < 2^15).
macro_rules! k4_kernels {
    ($feat:literal, wide = $wide:tt, $gemv:ident, $gemm:ident, $gemm8:ident, $gemm16:ident,
     $tile:ident, $entry:ident, $W:ty, group = $group:expr) => {
        /// 8 weight rows × 1 activation row (decode).
        #[target_feature(enable = $feat)]
        fn $gemv(ctx: &Ctx<'_, $W>, r: usize, t: usize) -> [[f32; 1]; 8] {
            let nb = ctx.bpr;
            let wr: [&[$W]; 8] = ctx.wrows::<8>(r);
            let ar: &[BlockQ8K] = ctx.a.q8k_row(ctx.t0 + t);
            assert!(ar.len() == nb);
            let mut acc = _mm256_setzero_ps();
            for i in 0..nb {
                prefetch_next8(&wr, i);
                let y = &ar[i];
                let mut p = [_mm256_setzero_si256(); 8];
                let mut pm = [_mm256_setzero_si256(); 8];
                let mut dbits = [0u16; 8];
                let mut mbits = [0u16; 8];
                for k in 0..8 {
                    let b = &wr[k][i];
                    let (sc, mn) = scales_mins_k4_words(&b.scales);
                    let q = k4_quants(&b.qs, b.high());
                    (p[k], pm[k]) = k4_partial(&q, &k4_scales(sc), mins_pairs(mn), y);
                    dbits[k] = b.d;
                    mbits[k] = b.dmin;
                }
                let (s, m) = (reduce_rows8(p), reduce_rows8(pm));
                let yd = _mm256_set1_ps(y.d);
                let wd = _mm256_cvtph_ps(ld_u16x8(&dbits));
                let wm = _mm256_cvtph_ps(ld_u16x8(&mbits));
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(wd, yd), acc);
                acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(wm, yd), acc);
            }
            st_f32x8(acc).map(|v| [v])
        }

        /// 1 weight row × `M` ≤ 16 activation rows (the rows left over from `$gemm8`): each
        /// super-block is decoded once for all `M`.
        #[target_feature(enable = $feat)]
        fn $gemm<const M: usize>(ctx: &Ctx<'_, $W>, r: usize, t: usize) -> [[f32; M]; 1] {
            let nb = ctx.bpr;
            let w: &[$W] = ctx.wrows::<1>(r)[0];
            let aq: [&[BlockQ8K]; M] = ctx.q8k_rows::<M>(ctx.t0 + t);
            for a in &aq {
                assert!(a.len() == nb);
            }
            let mut acc = [_mm256_setzero_ps(); 2];
            for i in 0..nb {
                let b = &w[i];
                let (sc, mn) = scales_mins_k4_words(&b.scales);
                let (q, sv, mins) = (k4_quants(&b.qs, b.high()), k4_scales(sc), mins_pairs(mn));
                let wd = _mm256_set1_ps(h2f(b.d));
                let wm = _mm256_set1_ps(h2f(b.dmin));
                for (g, acc_g) in acc.iter_mut().enumerate() {
                    let j0 = 8 * g;
                    if j0 >= M {
                        break;
                    }
                    let mut p = [_mm256_setzero_si256(); 8];
                    let mut pm = [_mm256_setzero_si256(); 8];
                    let mut yd = [0.0f32; 8];
                    for j in 0..8 {
                        if j0 + j < M {
                            let y = &aq[j0 + j][i];
                            (p[j], pm[j]) = k4_partial(&q, &sv, mins, y);
                            yd[j] = y.d;
                        }
                    }
                    let (s, m) = (reduce_rows8(p), reduce_rows8(pm));
                    let yd = ld_f32x8(&yd);
                    *acc_g = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(wd, yd), *acc_g);
                    *acc_g = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(wm, yd), *acc_g);
                }
            }
            [groups_to_row(&acc)]
        }

        /// 8 weight rows × `M` ≤ 16 activation rows with no horizontal sums (as `gemm8_q6_k`):
        /// the 8 decoded super-blocks are transposed in 4-byte chunks and each activation's 4
        /// quants broadcast against them, so every i32 lane belongs to one weight row.
        #[target_feature(enable = $feat)]
        fn $gemm8<const M: usize>(ctx: &Ctx<'_, $W>, r: usize, t: usize) -> [[f32; M]; 8] {
            const GROUP: usize = $group;
            let nb = ctx.bpr;
            let wr: [&[$W]; 8] = ctx.wrows::<8>(r);
            let aq: [&[BlockQ8K]; M] = ctx.q8k_rows::<M>(ctx.t0 + t);
            for a in &aq {
                assert!(a.len() == nb);
            }
            let (even, odd) = dup_i16_indices();
            let mut acc = [_mm256_setzero_ps(); M];
            // xt[v][c]: quants 4c..4c + 4 of sub-block v of the 8 rows (after transposing);
            // zeroed once per call, not per super-block (a 2 KiB `memset` call each time)
            let mut xt = [[_mm256_setzero_si256(); 8]; 8];
            for i in 0..nb {
                prefetch_next8(&wr, i);
                // per row: the 8 scales (low half) and the 8 mins (high half) as i16
                let mut sm = [_mm256_setzero_si256(); 8];
                let mut dbits = [0u16; 8];
                let mut mbits = [0u16; 8];
                for k in 0..8 {
                    let b = &wr[k][i];
                    let q = k4_quants(&b.qs, b.high());
                    for v in 0..8 {
                        xt[v][k] = q[v];
                    }
                    let (sc, mn) = scales_mins_k4_words(&b.scales);
                    sm[k] = _mm256_cvtepu8_epi16(_mm_set_epi64x(mn as i64, sc as i64));
                    dbits[k] = b.d;
                    mbits[k] = b.dmin;
                }
                for xv in xt.iter_mut() {
                    *xv = transpose8x8_epi32(*xv);
                }
                // smt[p], p < 4: lane k = row k's scales 2p, 2p + 1; smt[4 + p]: its mins
                let smt = transpose8x8_epi32(sm);
                // sv[v] / mv[v]: row k's scale / min of sub-block v, twice
                let mut sv = [_mm256_setzero_si256(); 8];
                let mut mv = [_mm256_setzero_si256(); 8];
                for v in 0..8 {
                    let idx = if v % 2 == 0 { even } else { odd };
                    sv[v] = _mm256_shuffle_epi8(smt[v / 2], idx);
                    mv[v] = _mm256_shuffle_epi8(smt[4 + v / 2], idx);
                }
                let wd = _mm256_cvtph_ps(ld_u16x8(&dbits));
                let wm = _mm256_cvtph_ps(ld_u16x8(&mbits));
                // 2 activation rows per pass: each transposed vector is loaded once for both
                let mut j = 0;
                while j < M {
                    if j + 2 <= M {
                        let ys = [&aq[j][i], &aq[j + 1][i]];
                        let (s, m) = k4_dots8::<GROUP, 2>(&xt, &sv, &mv, ys);
                        for n in 0..2 {
                            let yd = _mm256_set1_ps(ys[n].d);
                            let (sf, mf) = (_mm256_cvtepi32_ps(s[n]), _mm256_cvtepi32_ps(m[n]));
                            acc[j + n] = _mm256_fmadd_ps(sf, _mm256_mul_ps(wd, yd), acc[j + n]);
                            acc[j + n] = _mm256_fnmadd_ps(mf, _mm256_mul_ps(wm, yd), acc[j + n]);
                        }
                        j += 2;
                    } else {
                        let y = &aq[j][i];
                        let ([s], [m]) = k4_dots8::<GROUP, 1>(&xt, &sv, &mv, [y]);
                        let yd = _mm256_set1_ps(y.d);
                        let (sf, mf) = (_mm256_cvtepi32_ps(s), _mm256_cvtepi32_ps(m));
                        acc[j] = _mm256_fmadd_ps(sf, _mm256_mul_ps(wd, yd), acc[j]);
                        acc[j] = _mm256_fnmadd_ps(mf, _mm256_mul_ps(wm, yd), acc[j]);
                        j += 1;
                    }
                }
            }
            lanes_to_rows(&acc)
        }

        #[target_feature(enable = $feat)]
        pub(in crate::kernels::x86) fn $tile(
            w: &QMatrix,
            a: &QActs,
            rows: Range<usize>,
            ts: Range<usize>,
            res: &mut [f32],
        ) {
            if $wide && ts.len() == 1 {
                // decode: the AVX2 tile (same bits); its gemv compiled with the AVX-512
                // features measured 5-10% slower (Q4_K, bench_prefill_shapes m = 1)
                return super::super::avx2::base::$tile(w, a, rows, ts, res);
            }
            let ctx = Ctx {
                w: w.blocks::<$W>(rows.clone()),
                bpr: w.blocks_per_row(),
                a,
                t0: ts.start,
            };
            // m ≥ 5 (measured: slower than the 8-row kernels up to m = 4)
            wide_tile_loop!(
                $wide,
                big,
                5,
                $gemv,
                $gemm,
                $gemm8,
                $gemm16,
                ctx,
                rows.len(),
                ts.len(),
                res
            );
        }

        tile_entry!($entry, $tile);
        k4_kernel16!($wide, $feat, $gemm16, $W);
    };
}

/// The 256 quants (0..=63, before the -32 offset) of a Q6_K super-block as 8 vectors: vector
/// `v` holds elements `32v..32v + 32`, i.e. sub-block `2v` in its low 128-bit half and
/// `2v + 1` in its high half.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q6k_quants(b: &BlockQ6K) -> [__m256i; 8] {
    let m4 = _mm256_set1_epi8(0x0F);
    // the 2 high bits of each quant, moved to bits 4..6 (the 16-bit shifts move bits across
    // a byte boundary only outside this mask)
    let m30 = _mm256_set1_epi8(0x30);
    let mut q = [_mm256_setzero_si256(); 8];
    for n in 0..2 {
        let qa = ld_u8x32(sub32::<32, u8, 128>(&b.ql, 64 * n));
        let qb = ld_u8x32(sub32::<32, u8, 128>(&b.ql, 64 * n + 32));
        let qh = ld_u8x32(sub32::<32, u8, 64>(&b.qh, 32 * n));
        q[4 * n] = _mm256_or_si256(
            _mm256_and_si256(qa, m4),
            _mm256_and_si256(_mm256_slli_epi16::<4>(qh), m30),
        );
        q[4 * n + 1] = _mm256_or_si256(
            _mm256_and_si256(qb, m4),
            _mm256_and_si256(_mm256_slli_epi16::<2>(qh), m30),
        );
        q[4 * n + 2] = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16::<4>(qa), m4),
            _mm256_and_si256(qh, m30),
        );
        q[4 * n + 3] = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16::<4>(qb), m4),
            _mm256_and_si256(_mm256_srli_epi16::<2>(qh), m30),
        );
    }
    q
}

/// A Q6_K super-block's 16 signed scales as i16.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q6k_scales16(b: &BlockQ6K) -> __m256i {
    // SAFETY: `b.scales` is 16 readable bytes; `loadu` has no alignment requirement.
    _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(b.scales.as_ptr().cast()) })
}

/// `sv[v]`: the scale of sub-block `2v` in the 8 i16 lanes of the low half, that of `2v + 1`
/// in the high half (to pair with the i16 pair sums of [`q6k_quants`]'s vector `v`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q6k_scale_halves(b: &BlockQ6K) -> [__m256i; 8] {
    // SAFETY: `b.scales` is 16 readable bytes; the broadcast load has no alignment requirement.
    let both = unsafe { _mm256_broadcastsi128_si256(_mm_loadu_si128(b.scales.as_ptr().cast())) };
    let mut sv = [_mm256_setzero_si256(); 8];
    for (v, s) in sv.iter_mut().enumerate() {
        // the scale byte into the high byte of every i16 (index 0x80: a zero low byte), then
        // sign-extended by an arithmetic shift
        let pick = |s: usize| _mm_set1_epi16(((s as i16) << 8) | 0x80);
        let idx = _mm256_set_m128i(pick(2 * v + 1), pick(2 * v));
        *s = _mm256_srai_epi16::<8>(_mm256_shuffle_epi8(both, idx));
    }
    sv
}

/// One Q6_K super-block (decoded by [`q6k_quants`], [`q6k_scale_halves`], [`q6k_scales16`])
/// times one activation super-block: 8 i32 lanes whose sum is the exact integer dot
/// `Σ scale · Σ (q - 32) · y`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q6k_partial(q: &[__m256i; 8], sv: &[__m256i; 8], sc16: __m256i, y: &BlockQ8K) -> __m256i {
    let mut s = _mm256_setzero_si256();
    for v in 0..8 {
        let yv = ld_i8x32(sub32::<32, i8, 256>(&y.qs, 32 * v));
        let p = _mm256_madd_epi16(_mm256_maddubs_epi16(q[v], yv), sv[v]);
        s = _mm256_add_epi32(s, p);
    }
    // q - 32: subtract 32 · Σ scale · bsum
    let corr = _mm256_madd_epi16(ld_i16x16(&y.bsums), sc16);
    _mm256_sub_epi32(s, _mm256_slli_epi32::<5>(corr))
}

/// `bsums[2p]` and `bsums[2p + 1]` (as i16) in every 32-bit lane.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn bcast_pair16(bsums: &[i16; 16], p: usize) -> __m256i {
    let lo = bsums[2 * p] as u16 as u32;
    let hi = bsums[2 * p + 1] as u16 as u32;
    _mm256_set1_epi32((lo | hi << 16) as i32)
}

/// Q6_K has the same three kernels as a 32-element block type (see `small_kernel!`): each
/// (weight row, activation row) super-block product is reduced to its exact i32 first, then
/// accumulated with the same f32 operations (`acc = fma(sumi, d · y.d, acc)`) in all three, so
/// a row's result does not depend on the batch it was computed in.
macro_rules! q6k_kernels {
    ($feat:literal, wide = $wide:tt) => {
        /// 8 weight rows × 1 activation row (decode).
        #[target_feature(enable = $feat)]
        fn gemv_q6_k(ctx: &Ctx<'_, BlockQ6K>, r: usize, t: usize) -> [[f32; 1]; 8] {
            let nb = ctx.bpr;
            let wr: [&[BlockQ6K]; 8] = ctx.wrows::<8>(r);
            let ar: &[BlockQ8K] = ctx.a.q8k_row(ctx.t0 + t);
            assert!(ar.len() == nb);
            let mut acc = _mm256_setzero_ps();
            for i in 0..nb {
                prefetch_next8(&wr, i);
                let y = &ar[i];
                let mut p = [_mm256_setzero_si256(); 8];
                let mut dbits = [0u16; 8];
                for k in 0..8 {
                    let b = &wr[k][i];
                    p[k] = q6k_partial(&q6k_quants(b), &q6k_scale_halves(b), q6k_scales16(b), y);
                    dbits[k] = b.d;
                }
                let s = reduce_rows8(p);
                let wd = _mm256_cvtph_ps(ld_u16x8(&dbits));
                acc = _mm256_fmadd_ps(
                    _mm256_cvtepi32_ps(s),
                    _mm256_mul_ps(wd, _mm256_set1_ps(y.d)),
                    acc,
                );
            }
            st_f32x8(acc).map(|v| [v])
        }

        /// 1 weight row × `M` ≤ 16 activation rows (the rows left over from `gemm8_q6_k`): each
        /// super-block is decoded once for all `M`.
        #[target_feature(enable = $feat)]
        fn gemm_q6_k<const M: usize>(ctx: &Ctx<'_, BlockQ6K>, r: usize, t: usize) -> [[f32; M]; 1] {
            let nb = ctx.bpr;
            let w: &[BlockQ6K] = ctx.wrows::<1>(r)[0];
            let aq: [&[BlockQ8K]; M] = ctx.q8k_rows::<M>(ctx.t0 + t);
            for a in &aq {
                assert!(a.len() == nb);
            }
            let mut acc = [_mm256_setzero_ps(); 2];
            for i in 0..nb {
                let b = &w[i];
                let (q, sv, sc16) = (q6k_quants(b), q6k_scale_halves(b), q6k_scales16(b));
                let wd = _mm256_set1_ps(h2f(b.d));
                for (g, acc_g) in acc.iter_mut().enumerate() {
                    let j0 = 8 * g;
                    if j0 >= M {
                        break;
                    }
                    let mut p = [_mm256_setzero_si256(); 8];
                    let mut yd = [0.0f32; 8];
                    for j in 0..8 {
                        if j0 + j < M {
                            let y = &aq[j0 + j][i];
                            p[j] = q6k_partial(&q, &sv, sc16, y);
                            yd[j] = y.d;
                        }
                    }
                    let s = reduce_rows8(p);
                    let scale = _mm256_mul_ps(wd, ld_f32x8(&yd));
                    *acc_g = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, *acc_g);
                }
            }
            [groups_to_row(&acc)]
        }

        /// 8 weight rows × `M` ≤ 16 activation rows with no horizontal sums (as the 32-element
        /// `$gemm8`): the 8 decoded super-blocks are transposed in 4-byte chunks, so one vector holds
        /// the same 4 quants of all 8 rows, and each activation's 4 quants are broadcast against it;
        /// every i32 lane of a product then belongs to one weight row, and is scaled by that row's
        /// sub-block scale.
        #[target_feature(enable = $feat)]
        fn gemm8_q6_k<const M: usize>(
            ctx: &Ctx<'_, BlockQ6K>,
            r: usize,
            t: usize,
        ) -> [[f32; M]; 8] {
            let nb = ctx.bpr;
            let wr: [&[BlockQ6K]; 8] = ctx.wrows::<8>(r);
            let aq: [&[BlockQ8K]; M] = ctx.q8k_rows::<M>(ctx.t0 + t);
            for a in &aq {
                assert!(a.len() == nb);
            }
            let (even, odd) = dup_i16_indices();
            let mut acc = [_mm256_setzero_ps(); M];
            // x[v][k]: vector v of row k; then xt[v][c]: quants 4c..4c + 4 of vector v of the 8 rows
            // (sub-block 2v for c < 4, 2v + 1 for c ≥ 4). Zeroed once per call, not per super-block
            // (that was a 2 KiB `memset` call each time).
            let mut xt = [[_mm256_setzero_si256(); 8]; 8];
            for i in 0..nb {
                prefetch_next8(&wr, i);
                let mut sc = [_mm256_setzero_si256(); 8];
                let mut dbits = [0u16; 8];
                for k in 0..8 {
                    let b = &wr[k][i];
                    let q = q6k_quants(b);
                    for v in 0..8 {
                        xt[v][k] = q[v];
                    }
                    sc[k] = q6k_scales16(b);
                    dbits[k] = b.d;
                }
                for xv in xt.iter_mut() {
                    *xv = transpose8x8_epi32(*xv);
                }
                // scp[p]: lane k = row k's scales 2p and 2p + 1 (i16); sv[s]: row k's scale s twice
                let scp = transpose8x8_epi32(sc);
                let mut sv = [_mm256_setzero_si256(); 16];
                for p in 0..8 {
                    sv[2 * p] = _mm256_shuffle_epi8(scp[p], even);
                    sv[2 * p + 1] = _mm256_shuffle_epi8(scp[p], odd);
                }
                let wd = _mm256_cvtph_ps(ld_u16x8(&dbits));
                // 2 activation rows per pass: each transposed vector is loaded once for all of them
                let mut j = 0;
                while j < M {
                    if j + 2 <= M {
                        let ys = [&aq[j][i], &aq[j + 1][i]];
                        let s = q6k_dots8(&xt, &sv, &scp, ys);
                        for n in 0..2 {
                            let scale = _mm256_mul_ps(wd, _mm256_set1_ps(ys[n].d));
                            acc[j + n] =
                                _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[n]), scale, acc[j + n]);
                        }
                        j += 2;
                    } else {
                        let y = &aq[j][i];
                        let [s] = q6k_dots8(&xt, &sv, &scp, [y]);
                        let scale = _mm256_mul_ps(wd, _mm256_set1_ps(y.d));
                        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc[j]);
                        j += 1;
                    }
                }
            }
            lanes_to_rows(&acc)
        }

        #[target_feature(enable = $feat)]
        fn t_q6_k(w: &QMatrix, a: &QActs, rows: Range<usize>, ts: Range<usize>, res: &mut [f32]) {
            let ctx = Ctx {
                w: w.blocks::<BlockQ6K>(rows.clone()),
                bpr: w.blocks_per_row(),
                a,
                t0: ts.start,
            };
            // m ≥ 5, as Q4_K / Q5_K
            wide_tile_loop!(
                $wide,
                big,
                5,
                gemv_q6_k,
                gemm_q6_k,
                gemm8_q6_k,
                gemm16_q6_k,
                ctx,
                rows.len(),
                ts.len(),
                res
            );
        }
        tile_entry!(tile_q6_k, t_q6_k);
        q6k_kernel16!($wide, $feat);
    };
}

/// `x8_tile_fn(ty)`: the tiles of [`small_kernel16!`] that read the interleaved layout in
/// place for a batch, in the AVX-512 tier (nothing elsewhere).
macro_rules! x8_tile_fn {
    (false) => {};
    (true) => {
        pub(super) fn x8_tile_fn(ty: GgmlType) -> Option<TileFn> {
            Some(match ty {
                GgmlType::Q4_0 => x8_tile_q4_0,
                GgmlType::Q4_1 => x8_tile_q4_1,
                GgmlType::Q5_0 => x8_tile_q5_0,
                GgmlType::Q5_1 => x8_tile_q5_1,
                GgmlType::Q8_0 => x8_tile_q8_0,
                _ => return None,
            })
        }
    };
}

/// Instantiates the quantized kernels of one tier in module `$module`, compiled with `$feat` and
/// the integer dots of `$dots` (the same kernel bodies for every x86_64 tier).
macro_rules! quant_tier {
    ($module:ident, $feat:literal, $dots:ident, wide = $wide:tt) => {
        pub(in crate::kernels::x86) mod $module {
            use super::$dots::*;
            use super::*;

            pub(super) fn tile_fn(ty: GgmlType) -> Option<TileFn> {
                Some(match ty {
                    GgmlType::Q4_0 => tile_q4_0,
                    GgmlType::Q4_1 => tile_q4_1,
                    GgmlType::Q5_0 => tile_q5_0,
                    GgmlType::Q5_1 => tile_q5_1,
                    GgmlType::Q8_0 => tile_q8_0,
                    GgmlType::Q4_K => tile_q4_k,
                    GgmlType::Q5_K => tile_q5_k,
                    GgmlType::Q6_K => tile_q6_k,
                    _ => return None,
                })
            }

            x8_tile_fn!($wide);

            small_kernel!(
                $feat,
                wide = $wide,
                gemv_q4_0,
                gemm_q4_0,
                gemm8_q4_0,
                gemm16_q4_0,
                t_q4_0,
                tile_q4_0,
                x8 = (gemm16s_q4_0, t_x8_q4_0, x8_tile_q4_0),
                BlockQ4_0,
                corr = 1,
                min = false,
                signed = false,
                |b| (nibbles(&b.qs), b.d, 0)
            );
            small_kernel!(
                $feat,
                wide = $wide,
                gemv_q4_1,
                gemm_q4_1,
                gemm8_q4_1,
                gemm16_q4_1,
                t_q4_1,
                tile_q4_1,
                x8 = (gemm16s_q4_1, t_x8_q4_1, x8_tile_q4_1),
                BlockQ4_1,
                corr = 0,
                min = true,
                signed = false,
                |b| (nibbles(&b.qs), b.d, b.m)
            );
            small_kernel!(
                $feat,
                wide = $wide,
                gemv_q5_0,
                gemm_q5_0,
                gemm8_q5_0,
                gemm16_q5_0,
                t_q5_0,
                tile_q5_0,
                x8 = (gemm16s_q5_0, t_x8_q5_0, x8_tile_q5_0),
                BlockQ5_0,
                corr = 2,
                min = false,
                signed = false,
                |b| (
                    _mm256_or_si256(
                        nibbles(&b.qs),
                        _mm256_and_si256(
                            bits_to_bytes(u32::from_le_bytes(b.qh)),
                            _mm256_set1_epi8(0x10)
                        ),
                    ),
                    b.d,
                    0
                )
            );
            small_kernel!(
                $feat,
                wide = $wide,
                gemv_q5_1,
                gemm_q5_1,
                gemm8_q5_1,
                gemm16_q5_1,
                t_q5_1,
                tile_q5_1,
                x8 = (gemm16s_q5_1, t_x8_q5_1, x8_tile_q5_1),
                BlockQ5_1,
                corr = 0,
                min = true,
                signed = false,
                |b| (
                    _mm256_or_si256(
                        nibbles(&b.qs),
                        _mm256_and_si256(
                            bits_to_bytes(u32::from_le_bytes(b.qh)),
                            _mm256_set1_epi8(0x10)
                        ),
                    ),
                    b.d,
                    b.m
                )
            );
            small_kernel!(
                $feat,
                wide = $wide,
                gemv_q8_0,
                gemm_q8_0,
                gemm8_q8_0,
                gemm16_q8_0,
                t_q8_0,
                tile_q8_0,
                x8 = (gemm16s_q8_0, t_x8_q8_0, x8_tile_q8_0),
                BlockQ8_0,
                corr = 0,
                min = false,
                signed = true,
                |b| (ld_i8x32(&b.qs), b.d, 0)
            );
            k4_kernels!(
                $feat,
                wide = $wide,
                gemv_q4_k,
                gemm_q4_k,
                gemm8_q4_k,
                gemm16_q4_k,
                t_q4_k,
                tile_q4_k,
                BlockQ4K,
                group = 8
            );
            k4_kernels!(
                $feat,
                wide = $wide,
                gemv_q5_k,
                gemm_q5_k,
                gemm8_q5_k,
                gemm16_q5_k,
                t_q5_k,
                tile_q5_k,
                BlockQ5K,
                group = 4
            );
            q6k_kernels!($feat, wide = $wide);
        }
    };
}

// The tiers (after the macros they expand), and the float kernels both use.
mod attention;
pub(crate) mod avx2;
pub(crate) mod avx512;
mod columns512;
mod float512;
mod glu;
mod kquant512;
mod lowbit;

#[cfg(test)]
mod tests {
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn avx2() -> bool {
        super::super::Tier::Avx2.is_supported()
    }

    #[test]
    fn row_reductions_match_scalar_sums() {
        use core::arch::x86_64::__m256i;
        if !avx2() {
            return;
        }
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        for round in 0..5_000 {
            // pair sums of unsigned 5-bit quants × i8 (|v| ≤ 2 · 31 · 128), extremes included
            let lim = 2 * 31 * 128;
            let mut p16 = [[0i16; 16]; 8];
            for (k, row) in p16.iter_mut().enumerate() {
                for v in row.iter_mut() {
                    *v = match round % 4 {
                        0 => lim as i16,
                        1 if k % 2 == 0 => -lim as i16,
                        _ => (rng.next() % (2 * lim as u64 + 1)) as i16 - lim as i16,
                    };
                }
            }
            let want: [i32; 8] = core::array::from_fn(|k| p16[k].iter().map(|&v| v as i32).sum());
            let pv: [__m256i; 8] = core::array::from_fn(|k| bytemuck::cast(p16[k]));
            // SAFETY: AVX2/FMA/F16C checked above.
            let got: [i32; 8] = bytemuck::cast(unsafe { super::reduce_rows8_i16(pv) });
            assert_eq!(got, want, "i16 {p16:?}");

            let mut p32 = [[0i32; 8]; 8];
            for row in p32.iter_mut() {
                for v in row.iter_mut() {
                    *v = (rng.next() as i32) >> 4;
                }
            }
            let want: [i32; 8] = core::array::from_fn(|k| p32[k].iter().sum());
            let pv: [__m256i; 8] = core::array::from_fn(|k| bytemuck::cast(p32[k]));
            // SAFETY: AVX2/FMA/F16C checked above.
            let got: [i32; 8] = bytemuck::cast(unsafe { super::reduce_rows8(pv) });
            assert_eq!(got, want, "i32 {p32:?}");
        }
    }
}
