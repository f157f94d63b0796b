//! Decode kernels (8 weight rows × 1 activation row) of the AVX-512 VNNI tier for the two
//! k-quants of Q4_K_M files, Q4_K and Q6_K, on the row-major (as downloaded) layout.
//!
//! Why: decode of a Q4_K_M file spends nearly all its time in these two types (Qwen3-0.6B
//! shape, 2 threads: 48% Q4_K, 45% Q6_K, `perf record`), and the shared AVX2 `gemv`s are
//! compute-bound: 256-bit vectors, one `vpmaddubsw` + `vpmaddwd` + `vpaddd` per 32 quants, and
//! the scales broadcast sub-block by sub-block. Here one zmm holds 64 consecutive quants of a
//! row in element order (for Q4_K: one 32-byte load broadcast to both halves, the low half's
//! nibbles as they are and the high half's shifted down; for Q6_K: the low bits of 64 elements
//! in one load, their high bits from one broadcast load), so the activation's 64 quants are
//! one plain load; `vpmaddubsw` gives the i16 pair sums and one `vpdpwssd` multiplies them by
//! their sub-block's scale and adds them to the row's i32 lanes.
//!
//! Per (weight row, super-block) the sum of the lanes is the same exact i32 as the AVX2
//! kernels' (`sumi`, and for Q4_K `summ`), and the f32 accumulation is the same sequence of
//! operations, so the results are bit-identical to the AVX2 tier's (tested below), and so to
//! the batched kernels.
//!
//! Why the decode kernels read a group of 8 rows one row after the other: that is the order
//! the rows lie in memory, so the group streams from DRAM as one sequence the hardware
//! prefetcher follows. Reading it by block column (the 8 rows' super-block `i`, then `i + 1`)
//! jumps between 8 places a row apart: from DRAM (`cargo test --release -p pocketlm --lib
//! bench_decode_kernels -- --ignored --nocapture`, 65536 × 1024) Q6_K ran at 10.3 GB/s that
//! way against 31 from cache, and Llama-3.2-1B's Q6_K output head took 42% of a decoded token.
//! A row's f32 accumulation is the AVX2 kernels' lane for that row, operation for operation
//! (`cvt(sum) · (d · y.d) + acc` fused, in block order), done in a scalar, so the results are
//! the same bits.

use super::*;
use crate::quant::GgmlType;

/// `vpsrlvq` counts that keep the low 256 bits and shift the high 256 bits down by 4: a
/// 32-byte Q4_K chunk broadcast to both halves becomes its low nibbles then its high nibbles
/// (after masking with 0x0F), i.e. elements `64c..64c + 64` of the super-block in order.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn nibble_shifts() -> __m512i {
    _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4)
}

/// 32 bytes broadcast to both 256-bit halves of a zmm.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn bcast32(x: &[u8; 32]) -> __m512i {
    _mm512_broadcast_i64x4(ld_u8x32(x))
}

/// 64 activation quants.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn ld_i8x64(x: &[i8; 64]) -> __m512i {
    // SAFETY: `x` is 64 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(x.as_ptr().cast()) }
}

/// The sum of a zmm's two 256-bit halves (i32 lanes).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn fold256(s: __m512i) -> __m256i {
    _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64::<1>(s))
}

/// `vpshufb` indices for Q4_K chunk `c`: every i16 of the low 256 bits takes scale byte `2c`,
/// of the high 256 bits byte `2c + 1` (from a u64 of 8 scale bytes broadcast to every 64-bit
/// lane); index 0x80 zeroes each i16's high byte.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn q4k_scale_indices() -> [__m512i; 4] {
    let mut idx = [_mm512_setzero_si512(); 4];
    for (c, v) in idx.iter_mut().enumerate() {
        let lo = _mm256_set1_epi16((0x8000 | (2 * c) as u16) as i16);
        let hi = _mm256_set1_epi16((0x8000 | (2 * c + 1) as u16) as i16);
        *v = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi);
    }
    idx
}

/// 8 Q4_K weight rows × 1 activation row (decode), bit-identical to the AVX2 `gemv_q4_k`; the
/// rows are read one after the other (the module doc says why).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) fn gemv_q4_k<const PF: u8>(
    ctx: &Ctx<'_, BlockQ4K>,
    r: usize,
    t: usize,
) -> [[f32; 1]; 8] {
    let nb = ctx.bpr;
    let wr: [&[BlockQ4K]; 8] = ctx.wrows::<8>(r);
    let ar: &[BlockQ8K] = ctx.a.q8k_row(ctx.t0 + t);
    // (lets the compiler drop the per-block bounds checks)
    assert!(ar.len() == nb && wr.iter().all(|w| w.len() == nb));
    let m4 = _mm512_set1_epi8(0x0F);
    let shifts = nibble_shifts();
    let idx = q4k_scale_indices();
    let group = 8 * nb * core::mem::size_of::<BlockQ4K>();
    let mut out = [[0.0f32; 1]; 8];
    for (row, o) in wr.iter().zip(&mut out) {
        let mut acc = 0.0f32;
        for (b, y) in row.iter().zip(ar) {
            pf_next_group::<_, PF>(b, group);
            let (sc, mn) = scales_mins_k4_words(&b.scales);
            let scv = _mm512_set1_epi64(sc as i64);
            // two chains: pair sums (|v| ≤ 2 · 15 · 128) times scales (≤ 63), exact in i32
            let mut s = [_mm512_setzero_si512(); 2];
            for c in 0..4 {
                let x = bcast32(sub32::<32, u8, 128>(&b.qs, 32 * c));
                let x = _mm512_and_si512(_mm512_srlv_epi64(x, shifts), m4);
                let yq = ld_i8x64(sub32::<64, i8, 256>(&y.qs, 64 * c));
                let pairs = _mm512_maddubs_epi16(x, yq);
                let scale = _mm512_shuffle_epi8(scv, idx[c]);
                s[c % 2] = _mm512_dpwssd_epi32(s[c % 2], pairs, scale);
            }
            let sum = hsum_i32(fold256(_mm512_add_epi32(s[0], s[1])));
            let mins = hsum_i32(_mm256_madd_epi16(ld_i16x16(&y.bsums), mins_pairs(mn)));
            // the AVX2 `gemv_q4_k`'s f32 operations on this row's lane
            acc = (sum as f32).mul_add(h2f(b.d) * y.d, acc);
            acc = (-(mins as f32)).mul_add(h2f(b.dmin) * y.d, acc);
        }
        o[0] = acc;
    }
    out
}

/// `vpermw` indices for Q6_K quarter `4n + 2h + …`: the zmm of elements `128n + 64h..+ 64`
/// has sub-blocks `8n + 4h + L` (16 elements, 8 i16 pair sums) in its 128-bit lanes `L`; every
/// i16 of lane `L` takes that sub-block's scale (from the 16 scales widened to i16).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn q6k_scale_indices() -> [__m512i; 4] {
    let mut idx = [_mm512_setzero_si512(); 4];
    for (q, v) in idx.iter_mut().enumerate() {
        let s = |l: usize| _mm_set1_epi16((4 * q + l) as i16);
        let lo = _mm256_set_m128i(s(1), s(0));
        let hi = _mm256_set_m128i(s(3), s(2));
        *v = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi);
    }
    idx
}

/// 8 Q6_K weight rows × 1 activation row (decode), bit-identical to the AVX2 `gemv_q6_k`; the
/// rows are read one after the other (the module doc says why).
///
/// Element order of a Q6_K half `n` (128 elements; `l < 32`): `ql[64n + l]` holds elements
/// `l` (low nibble) and `l + 64` (high nibble), `ql[64n + 32 + l]` elements `l + 32` and
/// `l + 96`; bits (0, 1), (2, 3), (4, 5), (6, 7) of `qh[32n + l]` are the high 2 bits of
/// elements `l`, `l + 32`, `l + 64`, `l + 96`. So one 64-byte load of `ql[64n..]` gives
/// elements `0..64` (low nibbles) and `64..128` (high nibbles) in order, and the 32 bytes of
/// `qh` broadcast to both halves and shifted per half (`vpsllvq` / `vpsrlvq`) their high bits.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) fn gemv_q6_k<const PF: u8>(
    ctx: &Ctx<'_, BlockQ6K>,
    r: usize,
    t: usize,
) -> [[f32; 1]; 8] {
    let nb = ctx.bpr;
    let wr: [&[BlockQ6K]; 8] = ctx.wrows::<8>(r);
    let ar: &[BlockQ8K] = ctx.a.q8k_row(ctx.t0 + t);
    assert!(ar.len() == nb && wr.iter().all(|w| w.len() == nb));
    let m4 = _mm512_set1_epi8(0x0F);
    let m30 = _mm512_set1_epi8(0x30);
    let sh_lo = _mm512_setr_epi64(4, 4, 4, 4, 2, 2, 2, 2);
    let sh_hi = _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2);
    let idx = q6k_scale_indices();
    let group = 8 * nb * core::mem::size_of::<BlockQ6K>();
    let mut out = [[0.0f32; 1]; 8];
    for (row, o) in wr.iter().zip(&mut out) {
        let mut acc = 0.0f32;
        for (b, y) in row.iter().zip(ar) {
            pf_next_group::<_, PF>(b, group);
            let sc16 = q6k_scales16(b);
            let sc = _mm512_castsi256_si512(sc16);
            let mut s = [_mm512_setzero_si512(); 2];
            for n in 0..2 {
                // SAFETY: `b.ql` is 128 readable bytes, bytes 64n..64n + 64 are read;
                // `loadu` has no alignment requirement.
                let lo = unsafe { _mm512_loadu_si512(b.ql.as_ptr().add(64 * n).cast()) };
                let hb = bcast32(sub32::<32, u8, 64>(&b.qh, 32 * n));
                let x0 = _mm512_or_si512(
                    _mm512_and_si512(lo, m4),
                    _mm512_and_si512(_mm512_sllv_epi64(hb, sh_lo), m30),
                );
                let x1 = _mm512_or_si512(
                    _mm512_and_si512(_mm512_srli_epi64::<4>(lo), m4),
                    _mm512_and_si512(_mm512_srlv_epi64(hb, sh_hi), m30),
                );
                // pair sums |v| ≤ 2 · 63 · 128 < 2^15; times the signed scales, exact in i32
                for (h, x) in [x0, x1].into_iter().enumerate() {
                    let yq = ld_i8x64(sub32::<64, i8, 256>(&y.qs, 64 * (2 * n + h)));
                    let pairs = _mm512_maddubs_epi16(x, yq);
                    let scale = _mm512_permutexvar_epi16(idx[2 * n + h], sc);
                    s[h] = _mm512_dpwssd_epi32(s[h], pairs, scale);
                }
            }
            // q - 32: subtract 32 · Σ scale · bsum
            let corr = _mm256_madd_epi16(ld_i16x16(&y.bsums), sc16);
            let sum = hsum_i32(_mm256_sub_epi32(
                fold256(_mm512_add_epi32(s[0], s[1])),
                _mm256_slli_epi32::<5>(corr),
            ));
            // the AVX2 `gemv_q6_k`'s f32 operations on this row's lane
            acc = (sum as f32).mul_add(h2f(b.d) * y.d, acc);
        }
        o[0] = acc;
    }
    out
}

/// The software prefetch of the decode kernels: 0, none (the hardware prefetcher follows the
/// row-order stream); 1, the same super-block of the next group of 8 rows
/// ([`pf_next_group`]). Single-threaded GB/s from DRAM (`bench_decode_kernels`, 65536 × 1024,
/// Q4_K / Q6_K) and Llama-3.2-1B tg32 at 1 thread (the Q6_K head): see docs/performance.md
/// ("Row-order decode kernels").
const PREFETCH: u8 = 0;

/// With `PF` 1, prefetches (`PREFETCHT0`) the bytes of super-block `b` one group of 8 rows
/// (`group` bytes) further on.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn pf_next_group<W, const PF: u8>(b: &W, group: usize) {
    if PF == 1 {
        let next = (b as *const W).cast::<u8>().wrapping_add(group);
        for l in 0..core::mem::size_of::<W>().div_ceil(64) {
            // a hint: never faults, whatever the address
            _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(64 * l).cast());
        }
    }
}

/// A decode tile (one activation row) through `gemv` 8 rows at a time; the rows left over
/// (fewer than 8, at the end of a matrix) and every batch go to `other` (the tier's tile).
#[inline(always)]
fn decode_tile<W: bytemuck::Pod>(
    gemv: impl Fn(&Ctx<'_, W>, usize) -> [[f32; 1]; 8],
    other: TileFn,
    w: &QMatrix,
    a: &QActs,
    rows: Range<usize>,
    ts: Range<usize>,
    res: &mut [f32],
) {
    if ts.len() != 1 {
        return other(w, a, rows, ts, res);
    }
    let ctx = Ctx {
        w: w.blocks::<W>(rows.clone()),
        bpr: w.blocks_per_row(),
        a,
        t0: ts.start,
    };
    let n8 = rows.len() / 8 * 8;
    for r in (0..n8).step_by(8) {
        store::<8, 1>(res, 1, r, 0, gemv(&ctx, r));
    }
    if n8 < rows.len() {
        other(w, a, rows.start + n8..rows.end, ts, &mut res[n8..]);
    }
}

/// The tile of Q4_K: [`gemv_q4_k`] for decode, the tier's kernels otherwise.
pub(super) fn tile_q4_k(
    w: &QMatrix,
    a: &QActs,
    rows: Range<usize>,
    ts: Range<usize>,
    res: &mut [f32],
) {
    let other = super::avx512::vnni_tile(GgmlType::Q4_K);
    // SAFETY: `gemv_q4_k` needs the AVX-512 VNNI tier's features; only that tier's table holds
    // this tile, and `Tier::kernels` hands a table out only on a CPU that has them.
    let gemv = |ctx: &Ctx<'_, BlockQ4K>, r| unsafe { gemv_q4_k::<PREFETCH>(ctx, r, 0) };
    decode_tile(gemv, other, w, a, rows, ts, res)
}

/// The tile of Q6_K: [`gemv_q6_k`] for decode, the tier's kernels otherwise.
pub(super) fn tile_q6_k(
    w: &QMatrix,
    a: &QActs,
    rows: Range<usize>,
    ts: Range<usize>,
    res: &mut [f32],
) {
    let other = super::avx512::vnni_tile(GgmlType::Q6_K);
    // SAFETY: as in `tile_q4_k`.
    let gemv = |ctx: &Ctx<'_, BlockQ6K>, r| unsafe { gemv_q6_k::<PREFETCH>(ctx, r, 0) };
    decode_tile(gemv, other, w, a, rows, ts, res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{matmul_with_tier, QActs, QMatrix, Tier};

    /// Random super-blocks of `ty` (every byte random, then the f16 scales finite).
    fn random_blocks(ty: GgmlType, n: usize, seed: u64) -> Vec<u8> {
        let bb = ty.block_bytes();
        let mut s = seed;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as u32
        };
        let mut v: Vec<u8> = (0..n * bb).map(|_| next() as u8).collect();
        let f = |x: u32| half::f16::from_f32((x % 2001) as f32 / 1000.0 - 1.0).to_bits();
        for b in v.chunks_mut(bb) {
            if ty == GgmlType::Q6_K {
                b[208..210].copy_from_slice(&f(next()).to_le_bytes());
            } else {
                b[0..2].copy_from_slice(&f(next()).to_le_bytes());
                b[2..4].copy_from_slice(&f(next()).to_le_bytes());
            }
        }
        v
    }

    /// Rows 0..rows through the decode tile against the AVX2 tier (bit for bit) and the scalar
    /// reference (within the float-order tolerance of `tests/kernels.rs`).
    fn check(ty: GgmlType, rows: usize, cols: usize, extreme: bool) {
        let mut bytes = random_blocks(ty, rows * cols / 256, ty as u64 + rows as u64);
        if extreme {
            // every quant at its largest and Q6_K scales at -128: the widest pair sums
            let bb = ty.block_bytes();
            for b in bytes.chunks_mut(bb) {
                if ty == GgmlType::Q6_K {
                    b[..192].fill(0xFF);
                    b[192..208].fill(0x80);
                } else {
                    b[4..16].fill(0xFF);
                    b[16..].fill(0xFF);
                }
            }
        }
        let w = QMatrix::new(ty, &bytes, rows, cols).unwrap();
        let x: Vec<f32> = (0..cols)
            .map(|i| {
                if extreme {
                    if i % 3 == 0 {
                        -9.0
                    } else {
                        9.0
                    }
                } else {
                    ((i * 37 % 101) as f32 - 50.0) / 7.0
                }
            })
            .collect();
        let mut acts = QActs::new();
        acts.quantize_for_tier(Tier::Avx2, ty, &x, 1, cols);
        let mut want = vec![0.0f32; rows];
        matmul_with_tier(Tier::Avx2, &w, &acts, &mut want, rows, 0..rows);
        let mut scalar = vec![0.0f32; rows];
        matmul_with_tier(Tier::Scalar, &w, &acts, &mut scalar, rows, 0..rows);
        let mut got = vec![f32::NAN; rows];
        let tile = if ty == GgmlType::Q6_K {
            tile_q6_k
        } else {
            tile_q4_k
        };
        tile(&w, &acts, 0..rows, 0..1, &mut got);
        let mut wr = vec![0.0f32; cols];
        for r in 0..rows {
            // magnitude of the dot for the float-order tolerance (as in `tests/kernels.rs`)
            w.dequantize_row(r, &mut wr).unwrap();
            let mag: f32 = wr.iter().zip(&x).map(|(p, q)| (p * q).abs()).sum();
            assert_eq!(
                got[r].to_bits(),
                want[r].to_bits(),
                "{ty} row {r}: {} vs avx2 {}",
                got[r],
                want[r]
            );
            let tol = 2e-5 * mag + 1e-6 * scalar[r].abs();
            assert!(
                (got[r] - scalar[r]).abs() <= tol,
                "{ty} row {r}: {} vs scalar {}",
                got[r],
                scalar[r]
            );
        }
    }

    fn best_of(mut f: impl FnMut()) -> f64 {
        let mut best = f64::INFINITY;
        for _ in 0..20 {
            let t = std::time::Instant::now();
            f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        best
    }

    /// `cargo test --release -p pocketlm --lib bench_decode_kernels -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn bench_decode_kernels() {
        if !Tier::Avx512Vnni.is_supported() {
            return;
        }
        for ty in [GgmlType::Q4_K, GgmlType::Q6_K] {
            for rows in [64, 8192, 65536] {
                let cols = 1024;
                let bytes = random_blocks(ty, rows * cols / 256, 5);
                let w = QMatrix::new(ty, &bytes, rows, cols).unwrap();
                let x: Vec<f32> = (0..cols)
                    .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
                    .collect();
                let mut acts = QActs::new();
                acts.quantize_for_tier(Tier::Avx2, ty, &x, 1, cols);
                let mut out = vec![0.0f32; rows];
                let reps = (1 << 24) / bytes.len() + 1;
                let gb = (bytes.len() * reps) as f64 / 1e9;
                let avx2 = best_of(|| {
                    for _ in 0..reps {
                        matmul_with_tier(Tier::Avx2, &w, &acts, &mut out, rows, 0..rows)
                    }
                });
                let vnni_old = best_of(|| {
                    for _ in 0..reps {
                        let f = super::super::avx512::vnni_tile(ty);
                        f(&w, &acts, 0..rows, 0..1, &mut out)
                    }
                });
                let mut line = format!(
                    "{ty} {rows}x{cols}: avx2 {:.1} GB/s, vnni shared {:.1}",
                    gb / avx2,
                    gb / vnni_old
                );
                macro_rules! variant {
                    ($pf:literal) => {{
                        let t = best_of(|| {
                            for _ in 0..reps {
                                if ty == GgmlType::Q4_K {
                                    let ctx = Ctx {
                                        w: w.blocks::<BlockQ4K>(0..rows),
                                        bpr: w.blocks_per_row(),
                                        a: &acts,
                                        t0: 0,
                                    };
                                    for r in (0..rows).step_by(8) {
                                        // SAFETY: the tier is supported (checked above).
                                        out[r] = unsafe { gemv_q4_k::<$pf>(&ctx, r, 0) }[0][0];
                                    }
                                } else {
                                    let ctx = Ctx {
                                        w: w.blocks::<BlockQ6K>(0..rows),
                                        bpr: w.blocks_per_row(),
                                        a: &acts,
                                        t0: 0,
                                    };
                                    for r in (0..rows).step_by(8) {
                                        // SAFETY: the tier is supported (checked above).
                                        out[r] = unsafe { gemv_q6_k::<$pf>(&ctx, r, 0) }[0][0];
                                    }
                                }
                            }
                        });
                        line += &format!(", new pf{} {:.1}", $pf, gb / t);
                    }};
                }
                variant!(0);
                variant!(1);
                println!("{line}");
            }
        }
    }

    #[test]
    fn decode_kernels_are_bit_identical_to_avx2() {
        if !Tier::Avx512Vnni.is_supported() {
            println!("skipped: this CPU lacks AVX-512 VNNI");
            return;
        }
        for ty in [GgmlType::Q4_K, GgmlType::Q6_K] {
            // 8-row groups and a leftover row; one and several super-blocks per row
            for (rows, cols) in [(8, 256), (17, 1024), (24, 768)] {
                check(ty, rows, cols, false);
            }
            check(ty, 16, 512, true);
        }
    }
}
