//! Decode kernels of the AVX-512 VNNI tier for Q4_K and Q6_K matrices stored as columns of 4
//! rows (the interleaved layout of [`crate::quant::interleave`], the one the NEON tiers read).
//!
//! Why: the row-major decode kernels (`kquant512.rs`) spend more instructions per row and
//! super-block on its overhead (unpacking the scales, two horizontal sums, the f16 scales, the
//! f32 steps) than on the 256 quants, so a Q4_K_M decode is compute-bound on a CPU whose caches
//! hold the model (Qwen3-0.6B shape, 2 threads: 50% in `gemv_q4_k`, 34% in `gemv_q6_k`,
//! `perf record`). In a column, each 16-byte unit of quants holds 4 consecutive elements of
//! each of the 4 rows, so a zmm of 4 units is 16 elements × 4 rows with rows as the i32 lanes
//! of every 128-bit lane. Multiplied by the activation's 4 matching bytes repeated for the 4
//! rows, it gives the 4 rows' partial sums side by side: the scales, minimums, reductions and
//! f32 steps are then done once for 8 rows (both columns of a group), not row by row.
//!
//! The repeated activations are built once per kernel call ([`Replicated`], 1.25 KB per Q8_K
//! block, for up to 256 weight rows), not once per column.
//!
//! Per (row, super-block) the integers are the row-major kernels' (Q4_K: `Σ sc·Σ q·y` and
//! `Σ m·bsum`; Q6_K: `Σ sc·(Σ q·y − 32·bsum)`), exact in i32, and the f32 steps are theirs in
//! the same order (`fma(sum, d·y.d, acc)`, then for Q4_K `fma(−mins, dmin·y.d, acc)`), so the
//! results are the same bits (`tests/kernels.rs`, `interleaved_layout_is_bit_identical_to_row_major`).

use super::*;
use crate::quant::interleave::{q4k_at, q6k_at, Q4K_COLUMN, Q6K_COLUMN};
use std::cell::RefCell;

/// 64 bytes, as a zmm is loaded from them.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Z([u8; 64]);

/// One Q8_K activation block repeated for a column's 4 rows.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Replicated {
    /// Q4_K: `qs[g]` has in 128-bit lane `q` the activation's bytes `16g + 4q..16g + 4q + 4`
    /// four times (once per row). Q6_K: `qs[8n + e]` has in lane `q` bytes `128n + 32q + 4e..+4`
    /// four times (the elements of a triple's lane `q`, see [`q6k_column`]).
    qs: [Z; 16],
    /// Q4_K: in `aux[0]`, i16 `2(4s + r) + t` is the sum of sub-block `s + 4t`'s 32 quants (the
    /// minimums' operand, see [`k4_column`]). Q6_K: `aux[2n + g]` has in i32 lane `(q, r)`
    /// `32 · bsum[8n + 2q + g]`.
    aux: [Z; 4],
    /// The block's scale.
    d: f32,
}

thread_local! {
    /// The [`Replicated`] blocks of a call's activation rows, row after row; grows once per thread.
    static REPLICATED: RefCell<Vec<Replicated>> = const { RefCell::new(Vec::new()) };
}

/// `_mm512_permutexvar_epi32` indices: lane `(q, r)` (i32 `4q + r`) takes `f(q, r)`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn lanes(f: impl Fn(i32, i32) -> i32) -> __m512i {
    let mut v = [0i32; 16];
    for (i, x) in v.iter_mut().enumerate() {
        *x = f(i as i32 / 4, i as i32 % 4);
    }
    // SAFETY: `v` is 64 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn ld64(x: &[u8], at: usize) -> __m512i {
    let x: &[u8; 64] = x[at..at + 64].try_into().unwrap();
    // SAFETY: `x` is 64 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn ld32(x: &[u8], at: usize) -> __m256i {
    ld_u8x32(x[at..at + 32].try_into().unwrap())
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn ld16(x: &[u8], at: usize) -> __m128i {
    let x: &[u8; 16] = x[at..at + 16].try_into().unwrap();
    // SAFETY: `x` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn ld8(x: &[u8], at: usize) -> __m128i {
    let x: [u8; 8] = x[at..at + 8].try_into().unwrap();
    _mm_cvtsi64_si128(i64::from_le_bytes(x))
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn ldz(z: &Z) -> __m512i {
    // SAFETY: `z` is 64 readable, aligned bytes.
    unsafe { _mm512_load_si512(z.0.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn stz(v: __m512i) -> Z {
    let mut z = Z([0; 64]);
    // SAFETY: `z` is 64 writable, aligned bytes.
    unsafe { _mm512_store_si512(z.0.as_mut_ptr().cast(), v) };
    z
}

/// The i32 lanes `(q, r)` of a column's sums added over `q`: its 4 rows.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn rows4(a: __m512i) -> __m128i {
    let a = _mm256_add_epi32(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64::<1>(a));
    _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256::<1>(a))
}

/// The 4 f16 values at `at` of a column as f32.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn f16x4(c: &[u8], at: usize) -> __m128 {
    _mm_cvtph_ps(ld8(c, at))
}

/// The f32 accumulators of a group's two columns (rows 0..4, 4..8) for `M` activation rows, as
/// the group's 8 results per activation row.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn group_results<const M: usize>(acc: &[[__m128; M]; 2]) -> [[f32; 8]; M] {
    let mut out = [[0.0f32; 8]; M];
    for (j, o) in out.iter_mut().enumerate() {
        *o = st_f32x8(_mm256_set_m128(acc[1][j], acc[0][j]));
    }
    out
}

/// Defines the tier's [`super::interleaved::GroupGemm`] entry `$entry` for a k-quant: the
/// activation rows `ts` (1 to 8) replicated with `$replicate`, then every group of 8 rows
/// by `$kernel::<M>(group, [blocks of activation row j; M], &consts) -> [[f32; 8]; M]`.
macro_rules! column_entry {
    ($entry:ident, $replicate:ident, $kernel:ident, $consts:ty, $column:expr) => {
        pub(super) fn $entry(
            groups: &[u8],
            a: &QActs,
            ts: Range<usize>,
            res: &mut [f32],
            stride: usize,
        ) {
            #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
            fn all_groups<const M: usize>(
                groups: &[u8],
                rep: &[Replicated],
                res: &mut [f32],
                stride: usize,
            ) {
                let nb = rep.len() / M;
                let consts = <$consts>::new();
                let ys: [&[Replicated]; M] = core::array::from_fn(|j| &rep[j * nb..][..nb]);
                for (g, group) in groups.chunks_exact(2 * $column * nb).enumerate() {
                    let v = $kernel::<M>(group, ys, &consts);
                    for (j, rows) in v.iter().enumerate() {
                        for (k, x) in rows.iter().enumerate() {
                            res[(8 * g + k) * stride + j] = *x;
                        }
                    }
                }
            }
            REPLICATED.with_borrow_mut(|rep| {
                rep.clear();
                for t in ts.clone() {
                    // SAFETY: the tier's table hands this entry out only on a CPU with its
                    // features (callers of the tile functions assert `tier.is_supported()`).
                    unsafe { $replicate(a.q8k_row(t), rep) };
                }
                macro_rules! run {
                    ($m:literal) => {
                        // SAFETY: as above.
                        unsafe { all_groups::<$m>(groups, rep, res, stride) }
                    };
                }
                crate::kernels::interleaved::by_group_m!(ts.len(), run)
            });
        }
    };
}

column_entry!(gemm_q4_k, replicate_q4k, k4_x8, K4Consts, Q4K_COLUMN);
column_entry!(gemm_q6_k, replicate_q6k, q6k_x8, Q6KConsts, Q6K_COLUMN);

// ---------------------------------------------------------------------------------------------
// Q4_K

/// [`Replicated`] blocks of one activation row for [`k4_x8`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn replicate_q4k(y: &[BlockQ8K], out: &mut Vec<Replicated>) {
    let idx: [__m512i; 4] = core::array::from_fn(|p| lanes(|q, _| 4 * p as i32 + q));
    for b in y {
        let qs: &[u8; 256] = bytemuck::cast_ref(&b.qs);
        let v: [__m512i; 4] = core::array::from_fn(|c| ld64(qs, 64 * c));
        let mut aux = [0i16; 32];
        for s in 0..4 {
            for t in 0..2 {
                let sb = s + 4 * t;
                let sum = b.bsums[2 * sb] + b.bsums[2 * sb + 1];
                for r in 0..4 {
                    aux[2 * (4 * s + r) + t] = sum;
                }
            }
        }
        out.push(Replicated {
            qs: core::array::from_fn(|g| stz(_mm512_permutexvar_epi32(idx[g % 4], v[g / 4]))),
            aux: [Z(bytemuck::cast(aux)), Z([0; 64]), Z([0; 64]), Z([0; 64])],
            d: b.d,
        });
    }
}

/// `vpermw` indices: every i16 of i32 lane `(q, r)` takes i16 `4s + r` (sub-block `s`'s scale
/// of row `r`).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn q4k_scale_indices() -> [__m512i; 8] {
    core::array::from_fn(|s| {
        let r = lanes(|_, r| 4 * s as i32 + r);
        _mm512_or_si512(r, _mm512_slli_epi32::<16>(r))
    })
}

/// `vpermw` indices of the minimums: i16 `2(4s + r) + t` takes i16 `4(s + 4t) + r`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn q4k_min_indices() -> __m512i {
    let lo = lanes(|s, r| 4 * s + r);
    let hi = lanes(|s, r| 4 * (s + 4) + r);
    _mm512_or_si512(lo, _mm512_slli_epi32::<16>(hi))
}

/// The constants of [`k4_column`].
struct K4Consts {
    m4: __m512i,
    sc_idx: [__m512i; 8],
    min_idx: __m512i,
}

impl K4Consts {
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    fn new() -> Self {
        Self {
            m4: _mm512_set1_epi8(0x0F),
            sc_idx: q4k_scale_indices(),
            min_idx: q4k_min_indices(),
        }
    }
}

/// Q4_K for the 8 rows of an interleaved group (two columns of 4 rows) × `M` activation rows
/// (`ys[j]`: row j's replicated blocks): each column's quants are unpacked once for the `M`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn k4_x8<const M: usize>(group: &[u8], ys: [&[Replicated]; M], k: &K4Consts) -> [[f32; 8]; M] {
    let nb = ys[0].len();
    assert!(group.len() == 2 * nb * Q4K_COLUMN && ys.iter().all(|y| y.len() == nb));
    let (cols, _) = group.as_chunks::<Q4K_COLUMN>();
    let mut acc = [[_mm_setzero_ps(); M]; 2];
    for i in 0..nb {
        let y: [&Replicated; M] = core::array::from_fn(|j| &ys[j][i]);
        for (half, acc) in acc.iter_mut().enumerate() {
            let c = &cols[half * nb + i];
            let (s, m) = k4_column::<M>(c, y, k);
            let (d, dmin) = (f16x4(c, q4k_at::D), f16x4(c, q4k_at::DMIN));
            for j in 0..M {
                let yd = _mm_set1_ps(y[j].d);
                let a = _mm_fmadd_ps(_mm_cvtepi32_ps(rows4(s[j])), _mm_mul_ps(d, yd), acc[j]);
                acc[j] = _mm_fnmadd_ps(_mm_cvtepi32_ps(rows4(m[j])), _mm_mul_ps(dmin, yd), a);
            }
        }
    }
    group_results(&acc)
}

/// One Q4_K column's `Σ sc·Σ q·y` and `Σ m·bsum` per row and activation row `j`, spread over
/// the i32 lanes `(q, r)` of row `r` (added by [`rows4`]).
///
/// Quants: zmm `k = 2c + h` is units `4k..4k + 4`; its 128-bit lane `q` holds bytes
/// `16h + 4q..+4` of each row's 32-byte chunk `c`, whose low nibbles are elements `16h + 4q..`
/// of sub-block `2c` and high nibbles those of sub-block `2c + 1`: activation groups `4c + h`
/// and `4c + 2 + h`. `vpmaddubsw` gives i16 pair sums (|v| ≤ 2 · 15 · 128) and `vpdpwssd`
/// multiplies them by their row's sub-block scale (≤ 63) into i32, exactly.
///
/// Scales and minimums: as the NEON kernel decodes them (`L0`/`L1` nibbles, two top bits from
/// `T`), 32 bytes `4s + r` each; per-qword rotations put `T`'s bits for both halves in place.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn k4_column<const M: usize>(
    c: &[u8],
    y: [&Replicated; M],
    k: &K4Consts,
) -> ([__m512i; M], [__m512i; M]) {
    let m4y = _mm256_set1_epi8(0x0F);
    let m30 = _mm256_set1_epi8(0x30);
    let ll = ld32(c, q4k_at::L0);
    let tt = _mm256_broadcastsi128_si256(ld16(c, q4k_at::T));
    let sc_hi = _mm256_and_si256(_mm256_rolv_epi64(tt, _mm256_setr_epi64x(4, 4, 0, 0)), m30);
    let scs = _mm256_or_si256(_mm256_and_si256(ll, m4y), sc_hi);
    let mn_hi = _mm256_and_si256(_mm256_rolv_epi64(tt, _mm256_setr_epi64x(2, 2, 62, 62)), m30);
    let mns = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(ll), m4y), mn_hi);
    let sc16 = _mm512_cvtepu8_epi16(scs);
    let mn16 = _mm512_permutexvar_epi16(k.min_idx, _mm512_cvtepu8_epi16(mns));
    // two chains per activation row: the dot products' latency, not their count, bounds one row
    let mut s = [[_mm512_setzero_si512(); 2]; M];
    for ch in 0..4 {
        let sc_lo = _mm512_permutexvar_epi16(k.sc_idx[2 * ch], sc16);
        let sc_hi = _mm512_permutexvar_epi16(k.sc_idx[2 * ch + 1], sc16);
        for h in 0..2 {
            let w = ld64(c, q4k_at::QS + 64 * (2 * ch + h));
            let lo = _mm512_and_si512(w, k.m4);
            let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(w), k.m4);
            for j in 0..M {
                let plo = _mm512_maddubs_epi16(lo, ldz(&y[j].qs[4 * ch + h]));
                let phi = _mm512_maddubs_epi16(hi, ldz(&y[j].qs[4 * ch + 2 + h]));
                s[j][0] = _mm512_dpwssd_epi32(s[j][0], plo, sc_lo);
                s[j][1] = _mm512_dpwssd_epi32(s[j][1], phi, sc_hi);
            }
        }
    }
    (
        core::array::from_fn(|j| _mm512_add_epi32(s[j][0], s[j][1])),
        core::array::from_fn(|j| _mm512_madd_epi16(mn16, ldz(&y[j].aux[0]))),
    )
}

// ---------------------------------------------------------------------------------------------
// Q6_K

/// [`Replicated`] blocks of one activation row for [`q6k_x8`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn replicate_q6k(y: &[BlockQ8K], out: &mut Vec<Replicated>) {
    // triple (n, e): lane (q, r) takes i32 8q + e of the half's 32
    let idx: [__m512i; 8] = core::array::from_fn(|e| lanes(|q, _| 8 * q + e as i32));
    let bias_idx: [__m512i; 4] =
        core::array::from_fn(|k| lanes(|q, _| 8 * (k as i32 / 2) + 2 * q + k as i32 % 2));
    for b in y {
        let qs: &[u8; 256] = bytemuck::cast_ref(&b.qs);
        let v: [__m512i; 4] = core::array::from_fn(|c| ld64(qs, 64 * c));
        let bs = _mm512_slli_epi32::<5>(_mm512_cvtepi16_epi32(ld_i16x16(&b.bsums)));
        out.push(Replicated {
            qs: core::array::from_fn(|t| {
                let (n, e) = (t / 8, t % 8);
                stz(_mm512_permutex2var_epi32(v[2 * n], idx[e], v[2 * n + 1]))
            }),
            aux: core::array::from_fn(|k| stz(_mm512_permutexvar_epi32(bias_idx[k], bs))),
            d: b.d,
        });
    }
}

/// The constants of [`q6k_column`].
struct Q6KConsts {
    /// Accumulator `2n + g`'s lane `(q, r)` is sub-block `8n + 2q + g`: its 4 i32 of scale
    /// bytes (one per row) gathered into the low 128 bits, to be widened.
    sc_idx: [__m512i; 4],
}

impl Q6KConsts {
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    fn new() -> Self {
        Self {
            sc_idx: core::array::from_fn(|k| {
                lanes(|_, i| 8 * (k as i32 / 2) + 2 * i + k as i32 % 2)
            }),
        }
    }
}

/// Q6_K for the 8 rows of an interleaved group (two columns of 4 rows) × `M` activation rows.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn q6k_x8<const M: usize>(group: &[u8], ys: [&[Replicated]; M], k: &Q6KConsts) -> [[f32; 8]; M] {
    let nb = ys[0].len();
    assert!(group.len() == 2 * nb * Q6K_COLUMN && ys.iter().all(|y| y.len() == nb));
    let (cols, _) = group.as_chunks::<Q6K_COLUMN>();
    let mut acc = [[_mm_setzero_ps(); M]; 2];
    for i in 0..nb {
        let y: [&Replicated; M] = core::array::from_fn(|j| &ys[j][i]);
        for (half, acc) in acc.iter_mut().enumerate() {
            let c = &cols[half * nb + i];
            let s = q6k_column::<M>(c, y, k);
            let d = f16x4(c, q6k_at::D);
            for j in 0..M {
                let dy = _mm_mul_ps(d, _mm_set1_ps(y[j].d));
                acc[j] = _mm_fmadd_ps(_mm_cvtepi32_ps(rows4(s[j])), dy, acc[j]);
            }
        }
    }
    group_results(&acc)
}

/// One Q6_K column's `Σ sc·(Σ q·y − 32·bsum)` per row and activation row `j`, over the i32
/// lanes `(q, r)` of row `r`.
///
/// Triple `8n + e` (units `A`, `B`, `H`) gives one zmm: `A` and `B` broadcast to both halves
/// and the high half shifted down 4 are, after masking, the low 4 bits of elements
/// `l`, `l + 32`, `l + 64`, `l + 96` of half `n` in lanes 0..4 (`l = 4e..4e + 4`); `H` in
/// every lane, rotated per lane by 4, 2, 0 and −2 bits, puts those elements' top 2 bits at bits
/// 4..6. One `vpdpbusd` (6-bit u8 × i8) adds them to sub-block `8n + 2q + e / 4`'s lane; the
/// 4 triples of one accumulator `2n + e / 4` follow each other, so it is scaled (`vpmulld`)
/// and added to the total before the next starts.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn q6k_column<const M: usize>(c: &[u8], y: [&Replicated; M], k: &Q6KConsts) -> [__m512i; M] {
    let m4 = _mm512_set1_epi8(0x0F);
    let m30 = _mm512_set1_epi8(0x30);
    let lo_shift = _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4);
    let h_rot = _mm512_setr_epi64(4, 4, 2, 2, 0, 0, 62, 62);
    let scb = ld64(c, q6k_at::SC);
    let mut total = [_mm512_setzero_si512(); M];
    for a in 0..4 {
        let mut acc = [_mm512_setzero_si512(); M];
        for t in 4 * a..4 * a + 4 {
            let at = q6k_at::TRIPLES + 48 * t;
            let ab = _mm512_broadcast_i64x4(ld32(c, at));
            let hh = _mm512_broadcast_i32x4(ld16(c, at + 32));
            let x = _mm512_and_si512(_mm512_srlv_epi64(ab, lo_shift), m4);
            let hb = _mm512_and_si512(_mm512_rolv_epi64(hh, h_rot), m30);
            let w = _mm512_or_si512(x, hb);
            for j in 0..M {
                acc[j] = _mm512_dpbusd_epi32(acc[j], w, ldz(&y[j].qs[t]));
            }
        }
        let sv = _mm512_cvtepi8_epi32(_mm512_castsi512_si128(_mm512_permutexvar_epi32(
            k.sc_idx[a],
            scb,
        )));
        for j in 0..M {
            let centred = _mm512_sub_epi32(acc[j], ldz(&y[j].aux[a]));
            total[j] = _mm512_add_epi32(total[j], _mm512_mullo_epi32(centred, sv));
        }
    }
    total
}
