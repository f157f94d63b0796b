//! AVX2 kernels of Q2_K, Q3_K, IQ4_NL and IQ4_XS, shared by the AVX2 and AVX-512 VNNI tiers
//! (the VNNI tier has no code of its own for them: same function, same bits).
//!
//! Each weight block is decoded once to signed (or, for Q2_K, unsigned 0..=3) bytes in element
//! order, with its sub-block scales as i16 vectors; for each activation row of the tile the
//! block's exact integer sums (`vpmaddubsw` + `vpmaddwd` against the scales) are reduced to one
//! i32 and added to that (weight row, activation row) pair's f32 sum with the scalar
//! reference's own f32 expression (`scalar::dot_*`), in the same block order. So every result is
//! bit-identical to the scalar reference, in any batch (tested:
//! `new_formats_every_tier_bit_identical_to_scalar`).
//!
//! Ranges: `vpmaddubsw` of |w| ≤ 127 with |y| ≤ 127 (activations never hold -128) sums two
//! products ≤ 32258 < 2^15; `vpmaddwd` with a scale ≤ 32 in magnitude stays far inside i32.

use core::arch::x86_64::*;
use std::ops::Range;

use super::{h2f, hsum_i32, ld_i8x32, ld_u8x32};
use crate::kernels::{Act32, QActs, QMatrix, TileFn};
use crate::quant::blocks::*;
use crate::quant::GgmlType;

/// The tile kernel of a format handled here.
pub(super) fn tile_fn(ty: GgmlType) -> Option<TileFn> {
    Some(match ty {
        GgmlType::Q2_K => tile_q2_k,
        GgmlType::Q3_K => tile_q3_k,
        GgmlType::IQ4_NL => tile_iq4_nl,
        GgmlType::IQ4_XS => tile_iq4_xs,
        _ => return None,
    })
}

/// Most activation rows of a tile (`kernels::TILE_ACTS`).
const MAX_ACTS: usize = 16;

/// i16 lanes 0..8 = `a`, 8..16 = `b`: the scales of the two 16-element sub-blocks of 32 bytes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn scale_pair(a: i16, b: i16) -> __m256i {
    _mm256_set_m128i(_mm_set1_epi16(b), _mm_set1_epi16(a))
}

/// Pair sums of signed `x` (|x| ≤ 127) times signed `y` (|y| ≤ 127) as 16 i16.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dot_ss(x: __m256i, y: __m256i) -> __m256i {
    _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x))
}

/// 16 bytes of IQ4 indices as their 32 signed values (low nibbles first).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn iq4_decode(qs: &[u8; 16]) -> __m256i {
    // SAFETY: `qs` and the table are 16 readable bytes each; `loadu` has no alignment needs.
    let (q, table) = unsafe {
        (
            _mm_loadu_si128(qs.as_ptr().cast()),
            _mm_loadu_si128(KVALUES_IQ4NL.as_ptr().cast()),
        )
    };
    let m = _mm_set1_epi8(0x0F);
    let lo = _mm_and_si128(q, m);
    let hi = _mm_and_si128(_mm_srli_epi16::<4>(q), m);
    _mm256_set_m128i(_mm_shuffle_epi8(table, hi), _mm_shuffle_epi8(table, lo))
}

/// The 2-bit values of a Q2_K / Q3_K block as 8 vectors of 32 elements (vector `4n + j` holds
/// elements `128n + 32j..`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q2_decode(qs: &[u8; 64]) -> [__m256i; 8] {
    let m = _mm256_set1_epi8(3);
    let mut out = [_mm256_setzero_si256(); 8];
    for n in 0..2 {
        let q = ld_u8x32(qs[32 * n..32 * n + 32].try_into().unwrap());
        for j in 0..4 {
            let s = _mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * j as i32));
            out[4 * n + j] = _mm256_and_si256(s, m);
        }
    }
    out
}

/// Runs a tile: `decode` once per weight block, `contrib` (the scalar reference's f32 term of
/// one block pair) per activation row, summed in block order from 0.0 like the reference.
macro_rules! lowbit_tile {
    ($tile:ident, $inner:ident, $W:ty, $A:ty, |$qa:ident, $t:ident| $row:expr,
     |$b:ident| $decode:expr, |$x:ident, $dec:ident, $y:ident| $contrib:expr) => {
        #[target_feature(enable = "avx2,fma,f16c")]
        fn $inner(w: &QMatrix, a: &QActs, rows: Range<usize>, ts: Range<usize>, res: &mut [f32]) {
            let bpr = w.blocks_per_row();
            let blocks: &[$W] = w.blocks::<$W>(rows.clone());
            let nt = ts.len();
            assert!(nt <= MAX_ACTS && res.len() >= rows.len() * nt);
            let mut arows: [&[$A]; MAX_ACTS] = [&[]; MAX_ACTS];
            for (j, $t) in ts.enumerate() {
                let $qa = a;
                arows[j] = $row;
                assert!(arows[j].len() == bpr);
            }
            for (i, wr) in blocks.chunks_exact(bpr.max(1)).enumerate() {
                let mut acc = [0.0f32; MAX_ACTS];
                for (k, $x) in wr.iter().enumerate() {
                    let $dec = {
                        let $b = $x;
                        $decode
                    };
                    for (j, acc) in acc[..nt].iter_mut().enumerate() {
                        let $y = &arows[j][k];
                        *acc += $contrib;
                    }
                }
                res[i * nt..(i + 1) * nt].copy_from_slice(&acc[..nt]);
            }
        }

        fn $tile(w: &QMatrix, a: &QActs, rows: Range<usize>, ts: Range<usize>, res: &mut [f32]) {
            // SAFETY: `$inner` needs AVX2/FMA/F16C; only the AVX2 and AVX-512 VNNI tiers' tables
            // hold this wrapper, and `Tier::kernels` hands those out only on CPUs with them.
            unsafe { $inner(w, a, rows, ts, res) }
        }
    };
}

lowbit_tile!(
    tile_iq4_nl,
    t_iq4_nl,
    BlockIQ4NL,
    Act32,
    |a, t| a.a32_row(t),
    |b| iq4_decode(&b.qs),
    |x, v, y| {
        let p = _mm256_madd_epi16(dot_ss(v, ld_i8x32(&y.qs)), _mm256_set1_epi16(1));
        hsum_i32(p) as f32 * (h2f(x.d) * y.d)
    }
);

lowbit_tile!(
    tile_iq4_xs,
    t_iq4_xs,
    BlockIQ4XS,
    BlockQ8K,
    |a, t| a.q8k_row(t),
    |b| {
        let sc = iq4xs_scales(b);
        let mut v = [_mm256_setzero_si256(); 8];
        let mut s = [_mm256_setzero_si256(); 8];
        for ib in 0..8 {
            v[ib] = iq4_decode(b.qs[16 * ib..16 * ib + 16].try_into().unwrap());
            s[ib] = _mm256_set1_epi16(sc[ib] as i16);
        }
        (v, s)
    },
    |x, vs, y| {
        let (v, s) = &vs;
        let mut p = _mm256_setzero_si256();
        for c in 0..8 {
            let yq = ld_i8x32(y.qs[32 * c..32 * c + 32].try_into().unwrap());
            p = _mm256_add_epi32(p, _mm256_madd_epi16(dot_ss(v[c], yq), s[c]));
        }
        h2f(x.d) * y.d * hsum_i32(p) as f32
    }
);

lowbit_tile!(
    tile_q3_k,
    t_q3_k,
    BlockQ3K,
    BlockQ8K,
    |a, t| a.q8k_row(t),
    |b| {
        let mut v = q2_decode(&b.qs);
        let hm = ld_u8x32(&b.hmask);
        let four = _mm256_set1_epi8(4);
        for (c, vc) in v.iter_mut().enumerate() {
            // bit c of hmask[l] is the high bit of element 32c + l (c = 4n + j)
            let bit = _mm256_set1_epi8((1u8 << c) as i8);
            let set = _mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit);
            *vc = _mm256_sub_epi8(*vc, _mm256_andnot_si256(set, four));
        }
        let sc = q3k_scales(&b.scales);
        let mut s = [_mm256_setzero_si256(); 8];
        for (c, sv) in s.iter_mut().enumerate() {
            *sv = scale_pair(sc[2 * c] as i16, sc[2 * c + 1] as i16);
        }
        (v, s)
    },
    |x, vs, y| {
        let (v, s) = &vs;
        let mut p = _mm256_setzero_si256();
        for c in 0..8 {
            let yq = ld_i8x32(y.qs[32 * c..32 * c + 32].try_into().unwrap());
            p = _mm256_add_epi32(p, _mm256_madd_epi16(dot_ss(v[c], yq), s[c]));
        }
        h2f(x.d) * y.d * hsum_i32(p) as f32
    }
);

lowbit_tile!(
    tile_q2_k,
    t_q2_k,
    BlockQ2K,
    BlockQ8K,
    |a, t| a.q8k_row(t),
    |b| {
        let v = q2_decode(&b.qs);
        // SAFETY: `scales` is 16 readable bytes; `loadu` has no alignment needs.
        let sc = unsafe { _mm_loadu_si128(b.scales.as_ptr().cast()) };
        let mins =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16::<4>(sc), _mm_set1_epi8(0x0F)));
        let mut s = [_mm256_setzero_si256(); 8];
        for (c, sv) in s.iter_mut().enumerate() {
            *sv = scale_pair(
                (b.scales[2 * c] & 0x0F) as i16,
                (b.scales[2 * c + 1] & 0x0F) as i16,
            );
        }
        (v, s, mins)
    },
    |x, vs, y| {
        let (v, s, mins) = &vs;
        let mut p = _mm256_setzero_si256();
        for c in 0..8 {
            let yq = ld_i8x32(y.qs[32 * c..32 * c + 32].try_into().unwrap());
            // unsigned 0..=3 weights: `vpmaddubsw` directly
            p = _mm256_add_epi32(p, _mm256_madd_epi16(_mm256_maddubs_epi16(v[c], yq), s[c]));
        }
        // SAFETY: `bsums` is 32 readable bytes; `loadu` has no alignment needs.
        let bs = unsafe { _mm256_loadu_si256(y.bsums.as_ptr().cast()) };
        let summ = hsum_i32(_mm256_madd_epi16(bs, *mins));
        let d = h2f(x.d) * y.d;
        let dmin = h2f(x.dmin) * y.d;
        d * hsum_i32(p) as f32 - dmin * summ as f32
    }
);
