//! The AVX-512 VNNI tier (AVX2 tier + AVX-512 F/BW/VL/VNNI): the shared kernel bodies
//! instantiated with the `vpdpbusd` integer dots and 16-row batched kernels, and decode
//! kernels of its own for the 32-element types (below).
//!
//! Decode kernels (8 weight rows × 1 activation row) for the 4- and 5-bit
//! 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1); those of Q4_K and Q6_K are in
//! `kquant512.rs`.
//!
//! Why: on a CPU with fast memory one core's AVX2 `gemv` of these types is compute-bound (the
//! nibble unpacking, `vpmaddubsw` and the `vphaddw` reductions), so decode leaves bandwidth
//! unused. Here 4 weight rows share one zmm: each 128-bit lane holds one row's 16 packed bytes,
//! the low and high nibbles are two `vpdpbusd` against the activation's two 16-quant halves
//! broadcast to every lane, and one small shuffle tree reduces the 8 rows.
//!
//! Every (weight row, activation row) block product is the same exact i32 as the AVX2 kernels',
//! and the f32 accumulation is the same sequence of operations, so the results are
//! bit-identical to the AVX2 tier's `gemv` (tested), and therefore to its batched kernels.

use super::avx2::{ATTENTION, QUANTIZERS};
use super::*;
use crate::kernels::interleaved::deinterleave_from_m;
use crate::kernels::table::TierKernels;
use crate::kernels::{MAX_TILE_ACTS, TILE_ACTS};
use crate::quant::GgmlType;

/// The AVX-512 VNNI tier's kernels: the AVX2 tier's quantizers and attention (AVX2 code; this
/// tier has every AVX2 feature), its own quantized ones and float ones (`float512.rs`,
/// bit-identical to AVX2's), and the AVX2 kernels of Q2_K, Q3_K, IQ4_NL and IQ4_XS
/// (`lowbit.rs`).
pub(crate) static KERNELS: TierKernels = TierKernels {
    tile: |ty| {
        match ty {
            GgmlType::Q4_K => Some(super::kquant512::tile_q4_k as TileFn),
            GgmlType::Q6_K => Some(super::kquant512::tile_q6_k as TileFn),
            _ => vnni::tile_fn(ty),
        }
        .or_else(|| super::float512::tile_fn(ty))
        .or_else(|| super::lowbit::tile_fn(ty))
    },
    interleaved_tile: crate::kernels::interleaved::tile::<2>,
    group_gemm,
    interleaved_batch_tile: vnni::x8_tile_fn,
    deinterleave_from_m: deinterleave_from_m::avx512,
    tile_acts: |ty| match ty {
        // the k-quants' 16-row kernels decode and transpose 16 weight rows once for up to 64
        // activation rows (`k4_kernels!`, `q6k_kernels!`)
        GgmlType::Q4_K | GgmlType::Q5_K | GgmlType::Q6_K => MAX_TILE_ACTS,
        // so do those of the 32-element types (`small_kernel16!`); also for the interleaved
        // layout's prefill, which de-interleaves rows and runs these tiles
        GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q5_0 | GgmlType::Q5_1 | GgmlType::Q8_0 => {
            MAX_TILE_ACTS
        }
        _ => TILE_ACTS,
    },
    act_pairs: false,
    quantizers: Some(QUANTIZERS),
    glu: Some(super::glu::glu),
    silu: Some(super::glu::silu),
    softcap: Some(super::glu::softcap),
    attention: Some(ATTENTION),
};

/// The tile of `ty` built from the shared kernel bodies (for the types that have one), under
/// this tier's decode kernels of their own (`kquant512.rs`).
pub(super) fn vnni_tile(ty: GgmlType) -> TileFn {
    vnni::tile_fn(ty).unwrap_or_else(|| panic!("no shared kernels for {ty}"))
}

/// A 32-element block with 4-bit quants in `qs` (low nibbles: elements 0..16, high nibbles:
/// 16..32), an optional fifth bit per element in `qh` and an optional minimum `m`.
pub(super) trait NibbleBlock {
    /// Subtracted offset in units of 8 (`q - 8` for Q4_0, `q - 16` for Q5_0, none with a min).
    const CORR: i32;
    /// Whether the block has a minimum (`x = d·q + m`).
    const MIN: bool;
    /// Whether the block has fifth bits (`qh`).
    const HIGH: bool;
    /// Bit offset of `qh` in the block's first 8 bytes, read as a little-endian u64
    /// (`HIGH` only; `d` is bits 0..16, `m` bits 16..32).
    const QH_SHIFT: u64;
    fn qs(&self) -> &[u8; 16];
}

macro_rules! nibble_block {
    ($W:ty, corr = $corr:expr, min = $min:expr, high = $high:expr, qh_shift = $sh:expr) => {
        impl NibbleBlock for $W {
            const CORR: i32 = $corr;
            const MIN: bool = $min;
            const HIGH: bool = $high;
            const QH_SHIFT: u64 = $sh;
            #[inline(always)]
            fn qs(&self) -> &[u8; 16] {
                &self.qs
            }
        }
    };
}

nibble_block!(
    BlockQ4_0,
    corr = 1,
    min = false,
    high = false,
    qh_shift = 16
);
nibble_block!(BlockQ4_1, corr = 0, min = true, high = false, qh_shift = 16);
nibble_block!(BlockQ5_0, corr = 2, min = false, high = true, qh_shift = 16);
nibble_block!(BlockQ5_1, corr = 0, min = true, high = true, qh_shift = 32);

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn ld16(x: &[u8; 16]) -> __m128i {
    // SAFETY: `x` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(x.as_ptr().cast()) }
}

/// The 16 packed bytes of 4 blocks, one per 128-bit lane.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn ld4x16(a: &[u8; 16], b: &[u8; 16], c: &[u8; 16], d: &[u8; 16]) -> __m512i {
    let ab = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(ld16(a)), ld16(b));
    let cd = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(ld16(c)), ld16(d));
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(ab), cd)
}

/// The inputs of an 8-row decode kernel: weight rows `r..r + 8`, activation row `t`, and the
/// byte offsets of block column 0 of the 8 rows from row 0's, in the order `order` (for the
/// gathers; the rows are consecutive in memory).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn gemv_inputs<'a, W>(
    ctx: &Ctx<'a, W>,
    r: usize,
    t: usize,
    order: [i32; 8],
) -> ([&'a [W]; 8], &'a [Act32], __m256i) {
    let nb = ctx.bpr;
    let wr: [&[W]; 8] = ctx.wrows::<8>(r);
    let ar: &[Act32] = ctx.a.a32_row(ctx.t0 + t);
    // (lets the compiler drop the per-block bounds checks)
    assert!(ar.len() == nb && wr.iter().all(|w| w.len() == nb));
    let stride = (nb * core::mem::size_of::<W>()) as i32;
    let [o0, o1, o2, o3, o4, o5, o6, o7] = order;
    let idx = _mm256_setr_epi32(o0, o1, o2, o3, o4, o5, o6, o7);
    (wr, ar, _mm256_mullo_epi32(idx, _mm256_set1_epi32(stride)))
}

/// 8 weight rows × 1 activation row of a [`NibbleBlock`] type (decode).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) fn gemv_nibbles<W: NibbleBlock>(ctx: &Ctx<'_, W>, r: usize, t: usize) -> [[f32; 1]; 8] {
    let nb = ctx.bpr;
    let (wr, ar, rows8) = gemv_inputs(ctx, r, t, [0, 1, 2, 3, 4, 5, 6, 7]);
    const { assert!(core::mem::size_of::<W>() >= 8) };
    let mut acc = NibbleAcc::new();
    for i in 0..nb {
        prefetch_next8(&wr, i);
        let base: *const W = &wr[0][i];
        let scales = if W::HIGH {
            // SAFETY: lane k reads the first 8 bytes of block i of row k (`base + k * stride`),
            // inside that block (every type here is at least 18 bytes, asserted above).
            NibbleScales::from_heads::<W>(unsafe {
                _mm512_i32gather_epi64::<1>(rows8, base.cast())
            })
        } else {
            // SAFETY: lane k reads the first 4 bytes of block i of row k (as above).
            let head = unsafe { _mm256_i32gather_epi32::<1>(base.cast(), rows8) };
            NibbleScales {
                d: _mm256_cvtph_ps(_mm256_cvtepi32_epi16(head)),
                m: _mm256_cvtph_ps(_mm256_cvtepi32_epi16(_mm256_srli_epi32::<16>(head))),
                ml: _mm_setzero_si128(),
                mh: _mm_setzero_si128(),
            }
        };
        let q = [0, 1].map(|h| {
            ld4x16(
                wr[4 * h][i].qs(),
                wr[4 * h + 1][i].qs(),
                wr[4 * h + 2][i].qs(),
                wr[4 * h + 3][i].qs(),
            )
        });
        acc.block::<W>(q, &scales, &ar[i]);
    }
    acc.finish().map(|v| [v])
}

/// 8 weight rows × `M` activation rows of a [`NibbleBlock`] type in the interleaved layout
/// ([`crate::quant::interleave`]): `group` is one group of 8 rows. Per (row, activation row)
/// the same results as [`gemv_nibbles`] on the row-major rows, from one sequential stream: the
/// 8 heads are one load and one word permute, the quants of 4 rows one 64-byte load.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
pub(super) fn gemm_nibbles_x8<W: NibbleBlock, const M: usize>(
    group: &[u8],
    ar: [&[Act32]; M],
) -> [[f32; 8]; M] {
    let nb = ar[0].len();
    let bb = core::mem::size_of::<W>();
    let head = bb - 16;
    assert!(group.len() == 8 * nb * bb && head <= 8 && head.is_multiple_of(2));
    assert!(ar.iter().all(|a| a.len() == nb));
    // lane k of the heads vector: row k's head words in its low `head / 2` u16, zeros above
    // (the layout of a row-major block's first 8 bytes: what `gemv_nibbles` gathers)
    let words = head / 2;
    let mut idx = [0i16; 32];
    let mut keep = 0u32;
    for k in 0..8 {
        for j in 0..words {
            idx[4 * k + j] = (k * words + j) as i16;
            keep |= 1 << (4 * k + j);
        }
    }
    // SAFETY: `idx` is 64 readable bytes.
    let idx = unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) };
    let head_mask = u64::MAX >> (64 - 8 * head);
    let mut acc = [(); M].map(|_| NibbleAcc::new());
    for i in 0..nb {
        let col = &group[i * 8 * bb..][..8 * bb];
        prefetch_stream(col.as_ptr(), 8 * bb);
        // SAFETY: the masked load reads the `8 * head` head bytes of `col` only.
        let heads = unsafe { _mm512_maskz_loadu_epi8(head_mask, col.as_ptr().cast()) };
        let heads = _mm512_maskz_permutexvar_epi16(keep, idx, heads);
        let scales = if W::HIGH {
            NibbleScales::from_heads::<W>(heads)
        } else {
            NibbleScales {
                d: _mm256_cvtph_ps(_mm512_cvtepi64_epi16(heads)),
                m: _mm256_cvtph_ps(_mm512_cvtepi64_epi16(_mm512_srli_epi64::<16>(heads))),
                ml: _mm_setzero_si128(),
                mh: _mm_setzero_si128(),
            }
        };
        // SAFETY: the quants of rows 4h..4h + 4 are the 64 bytes at `8 * head + 64 * h`.
        let q = [0, 1]
            .map(|h| unsafe { _mm512_loadu_si512(col.as_ptr().add(8 * head + 64 * h).cast()) });
        for (acc, a) in acc.iter_mut().zip(ar) {
            acc.block::<W>(q, &scales, &a[i]);
        }
    }
    acc.map(|a| a.finish())
}

/// The interleaved kernel for `ty` ([`super::interleaved`]), if there is one.
fn group_gemm(ty: GgmlType) -> Option<GroupGemm> {
    Some(match ty {
        GgmlType::Q4_0 => group_gemm_entry!(
            "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
            BlockQ4_0 => gemm_nibbles_x8<BlockQ4_0>),
        GgmlType::Q4_1 => group_gemm_entry!(
            "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
            BlockQ4_1 => gemm_nibbles_x8<BlockQ4_1>),
        GgmlType::Q5_0 => group_gemm_entry!(
            "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
            BlockQ5_0 => gemm_nibbles_x8<BlockQ5_0>),
        GgmlType::Q5_1 => group_gemm_entry!(
            "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
            BlockQ5_1 => gemm_nibbles_x8<BlockQ5_1>),
        GgmlType::Q8_0 => group_gemm_entry!(
            "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
            BlockQ8_0 => gemm_q8_0_x8),
        GgmlType::Q4_K => super::columns512::gemm_q4_k,
        GgmlType::Q6_K => super::columns512::gemm_q6_k,
        _ => return None,
    })
}

/// The 8 rows' scales of one block column of a [`NibbleBlock`] type.
struct NibbleScales {
    /// `d` as f32.
    d: __m256,
    /// `m` as f32 (types with a minimum).
    m: __m256,
    /// Fifth bits of the low / high nibbles, 16 per row, rows 0..4 in the low u64 (`HIGH`).
    ml: __m128i,
    mh: __m128i,
}

impl NibbleScales {
    /// From the 8 rows' first 8 block bytes, one row per u64 lane.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn from_heads<W: NibbleBlock>(head: __m512i) -> Self {
        // fifth bits: elements 0..16 (low nibbles) are bits 0..16 of qh, 16..32 the rest
        let qh = _mm512_srl_epi64(head, _mm_cvtsi64_si128(W::QH_SHIFT as i64));
        Self {
            d: _mm256_cvtph_ps(_mm512_cvtepi64_epi16(head)),
            m: _mm256_cvtph_ps(_mm512_cvtepi64_epi16(_mm512_srli_epi64::<16>(head))),
            ml: _mm512_cvtepi64_epi16(qh),
            mh: _mm512_cvtepi64_epi16(_mm512_srli_epi64::<16>(qh)),
        }
    }
}

/// The f32 accumulators of an 8-row nibble decode kernel, and the per-block arithmetic shared
/// by the row-major and the interleaved kernels (so both give the same bits).
struct NibbleAcc {
    acc: __m256,
    accm: __m256,
}

impl NibbleAcc {
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn new() -> Self {
        Self {
            acc: _mm256_setzero_ps(),
            accm: _mm256_setzero_ps(),
        }
    }

    /// Adds one block column: `q[h]` holds the packed quants of rows 4h..4h + 4, one row per
    /// 128-bit lane; `y` is the activation block.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn block<W: NibbleBlock>(&mut self, q: [__m512i; 2], sc: &NibbleScales, y: &Act32) {
        let m4 = _mm512_set1_epi8(0x0F);
        let bit4 = _mm512_set1_epi8(0x10);
        // row k's sum sits in element 4k (k < 4) or 4(k - 4) + 1 (k ≥ 4) after the reduction
        let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
        let yq: &[u8; 32] = bytemuck::cast_ref(&y.qs);
        let ylo = _mm512_broadcast_i32x4(ld16(yq[..16].try_into().unwrap()));
        let yhi = _mm512_broadcast_i32x4(ld16(yq[16..].try_into().unwrap()));
        let mut z = [_mm512_setzero_si512(); 2];
        for (h, zh) in z.iter_mut().enumerate() {
            let mut lo = _mm512_and_si512(q[h], m4);
            let mut hi = _mm512_and_si512(_mm512_srli_epi16::<4>(q[h]), m4);
            if W::HIGH {
                let (ml, mh) = if h == 0 {
                    (_mm_cvtsi128_si64(sc.ml), _mm_cvtsi128_si64(sc.mh))
                } else {
                    (_mm_extract_epi64::<1>(sc.ml), _mm_extract_epi64::<1>(sc.mh))
                };
                lo = _mm512_mask_add_epi8(lo, ml as u64, lo, bit4);
                hi = _mm512_mask_add_epi8(hi, mh as u64, hi, bit4);
            }
            let s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, ylo);
            *zh = _mm512_dpbusd_epi32(s, hi, yhi);
        }
        // lane L of z[0] holds row L's 4 partial sums, of z[1] row 4 + L's:
        // per lane [L: a + c, 4 + L: a + c, L: b + d, 4 + L: b + d], then [L, 4 + L, ..]
        let u = _mm512_add_epi32(
            _mm512_unpacklo_epi32(z[0], z[1]),
            _mm512_unpackhi_epi32(z[0], z[1]),
        );
        let v = _mm512_add_epi32(u, _mm512_shuffle_epi32::<0b01_00_11_10>(u));
        let mut s = _mm512_castsi512_si256(_mm512_permutexvar_epi32(order, v));
        if W::CORR != 0 {
            s = _mm256_sub_epi32(s, _mm256_set1_epi32(8 * W::CORR * y.isum()));
        }
        self.acc = _mm256_fmadd_ps(
            _mm256_cvtepi32_ps(s),
            _mm256_mul_ps(sc.d, _mm256_set1_ps(y.d)),
            self.acc,
        );
        if W::MIN {
            self.accm = _mm256_fmadd_ps(sc.m, _mm256_set1_ps(y.s()), self.accm);
        }
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn finish(self) -> [f32; 8] {
        st_f32x8(_mm256_add_ps(self.acc, self.accm))
    }
}

/// 8 weight rows × 1 activation row of Q8_0 (decode; the output heads of both models): 2 rows
/// per zmm, `vpdpbusd` of the weights offset to unsigned (`x + 128`) against the activation
/// broadcast to both halves, minus `128 · Σ y` (exact), the rows' `d` in one gather. Half the
/// instructions of the AVX2 kernel per byte, so the out-of-order window holds more loads.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) fn gemv_q8_0(ctx: &Ctx<'_, BlockQ8_0>, r: usize, t: usize) -> [[f32; 1]; 8] {
    let nb = ctx.bpr;
    // the reduction leaves the rows in the order 0, 2, 4, 6, 1, 3, 5, 7: the scales are
    // gathered in that order too, and the results put back at the end
    let (wr, ar, rows8) = gemv_inputs(ctx, r, t, Q8_ORDER.map(|k| k as i32));
    let mut acc = _mm256_setzero_ps();
    for i in 0..nb {
        prefetch_next8(&wr, i);
        let base: *const BlockQ8_0 = &wr[0][i];
        // SAFETY: lane k reads the first 4 bytes of block i of row Q8_ORDER[k] (`base +
        // offset`), inside that 34-byte block.
        let head = unsafe { _mm256_i32gather_epi32::<1>(base.cast(), rows8) };
        let d = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(head));
        let x = [0, 1, 2, 3].map(|p| {
            let (a, b) = (ld_i8x32(&wr[2 * p][i].qs), ld_i8x32(&wr[2 * p + 1][i].qs));
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(a), b)
        });
        acc = q8_block(acc, x, d, &ar[i]);
    }
    q8_finish(acc).map(|v| [v])
}

/// [`gemv_q8_0`] in the interleaved layout ([`crate::quant::interleave`]) for `M` activation
/// rows: `group` is one group of 8 rows; per (row, activation row) the same results from one
/// sequential stream (the 8 scales one load and one byte shuffle, the quants of 2 rows one
/// 64-byte load).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
pub(super) fn gemm_q8_0_x8<const M: usize>(group: &[u8], ar: [&[Act32]; M]) -> [[f32; 8]; M] {
    const BB: usize = core::mem::size_of::<BlockQ8_0>();
    let nb = ar[0].len();
    assert!(group.len() == 8 * nb * BB && ar.iter().all(|a| a.len() == nb));
    // the 8 f16 scales in Q8_ORDER
    let order = _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    let mut acc = [_mm256_setzero_ps(); M];
    for i in 0..nb {
        let col = &group[i * 8 * BB..][..8 * BB];
        prefetch_stream(col.as_ptr(), 8 * BB);
        let d = _mm256_cvtph_ps(_mm_shuffle_epi8(ld16(col[..16].try_into().unwrap()), order));
        // SAFETY: the quants of rows 2p, 2p + 1 are the 64 bytes at 16 + 64p.
        let x = [0, 1, 2, 3]
            .map(|p| unsafe { _mm512_loadu_si512(col.as_ptr().add(16 + 64 * p).cast()) });
        for (acc, a) in acc.iter_mut().zip(ar) {
            *acc = q8_block(*acc, x, d, &a[i]);
        }
    }
    let mut out = [[0.0; 8]; M];
    for (o, a) in out.iter_mut().zip(acc) {
        *o = q8_finish(a);
    }
    out
}

/// The row order of [`q8_block`]'s lanes.
const Q8_ORDER: [usize; 8] = [0, 2, 4, 6, 1, 3, 5, 7];

/// One Q8_0 block column of 8 rows: `x[p]` holds rows 2p (low half) and 2p + 1 (high half),
/// `d` the rows' scales in [`Q8_ORDER`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn q8_block(acc: __m256, x: [__m512i; 4], d: __m256, y: &Act32) -> __m256 {
    let flip = _mm512_set1_epi8(-128);
    let y2 = _mm512_broadcast_i64x4(ld_i8x32(&y.qs));
    let z = x.map(|x| _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_xor_si512(x, flip), y2));
    // z[p]: row 2p in 256-bit half 0, row 2p + 1 in half 1 (8 partial sums each); per
    // 128-bit lane: [2p: a + c, 2p + 2: a + c, 2p: b + d, 2p + 2: b + d], then the 4 rows
    let u01 = _mm512_add_epi32(
        _mm512_unpacklo_epi32(z[0], z[1]),
        _mm512_unpackhi_epi32(z[0], z[1]),
    );
    let u23 = _mm512_add_epi32(
        _mm512_unpacklo_epi32(z[2], z[3]),
        _mm512_unpackhi_epi32(z[2], z[3]),
    );
    let c = _mm512_add_epi32(
        _mm512_unpacklo_epi64(u01, u23),
        _mm512_unpackhi_epi64(u01, u23),
    );
    // lanes [0, 2, 4, 6 (part 1)], [0, 2, 4, 6 (part 2)], [1, 3, 5, 7 (1)], [1, 3, 5, 7 (2)]
    let t = _mm512_shuffle_i64x2::<0b11_01_10_00>(c, c);
    let mut s = _mm256_add_epi32(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64::<1>(t));
    // x + 128 was multiplied: subtract 128 · Σ y
    s = _mm256_sub_epi32(s, _mm256_set1_epi32(128 * y.isum()));
    _mm256_fmadd_ps(
        _mm256_cvtepi32_ps(s),
        _mm256_mul_ps(d, _mm256_set1_ps(y.d)),
        acc,
    )
}

/// The 8 rows' results of [`q8_block`]'s accumulator, in row order.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn q8_finish(acc: __m256) -> [f32; 8] {
    // the AVX2 kernel's final `acc + accm` with a zero `accm`
    let lanes = st_f32x8(_mm256_add_ps(acc, _mm256_setzero_ps()));
    let mut out = [0.0f32; 8];
    for (k, row) in Q8_ORDER.into_iter().enumerate() {
        out[row] = lanes[k];
    }
    out
}

/// The integer dots of 16 transposed Q4_K / Q5_K rows with `N` activation super-blocks: lane k
/// of `sumi[n]` is row k's exact `Σ scale · Σ q · y`, of `summ[n]` its `Σ min · Σ y`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn k4_dots16<const N: usize>(
    xt: &[[__m512i; 8]; 8],
    sv: &[__m512i; 8],
    mv: &[__m512i; 8],
    ys: [&BlockQ8K; N],
) -> ([__m512i; N], [__m512i; N]) {
    let mut s = [_mm512_setzero_si512(); N];
    let mut m = [_mm512_setzero_si512(); N];
    for v in 0..8 {
        // one chain per activation row, the `N` chains interleaved (in program order too:
        // chains issued one after the other left the multiply-add ports waiting on latency)
        let mut d = [_mm512_setzero_si512(); N];
        for (c, &x) in xt[v].iter().enumerate() {
            for (n, y) in ys.iter().enumerate() {
                let yq: &[i8; 32] = sub32(&y.qs, 32 * v);
                d[n] = _mm512_dpbusd_epi32(d[n], x, bcast4_512(yq, c));
            }
        }
        for (n, y) in ys.iter().enumerate() {
            s[n] = _mm512_add_epi32(s[n], _mm512_mullo_epi32(d[n], sv[v]));
            // Σ y of sub-block v = bsums 2v + 2v + 1; the same exact i32 as `vpmaddwd` + add
            m[n] = _mm512_dpwssd_epi32(m[n], mv[v], bcast_pair16_512(&y.bsums, v));
        }
    }
    (s, m)
}

/// `bsums[2p]` and `bsums[2p + 1]` (as i16) in every 32-bit lane of a zmm.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn bcast_pair16_512(bsums: &[i16; 16], p: usize) -> __m512i {
    let lo = bsums[2 * p] as u16 as u32;
    let hi = bsums[2 * p + 1] as u16 as u32;
    _mm512_set1_epi32((lo | hi << 16) as i32)
}

/// The integer dots of 16 transposed Q6_K rows with `N` activation super-blocks: lane k of
/// result n is row k's exact `Σ scale · Σ (q - 32) · y`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn q6k_dots16<const N: usize>(
    xt: &[[__m512i; 8]; 8],
    sv: &[__m512i; 16],
    scp: &[__m512i; 8],
    ys: [&BlockQ8K; N],
) -> [__m512i; N] {
    let mut s = [_mm512_setzero_si512(); N];
    for v in 0..8 {
        for h in 0..2 {
            // one chain per activation row, interleaved (as in `k4_dots16`)
            let mut d = [_mm512_setzero_si512(); N];
            for (c, &x) in xt[v].iter().enumerate().skip(4 * h).take(4) {
                for (n, y) in ys.iter().enumerate() {
                    let yq: &[i8; 32] = sub32(&y.qs, 32 * v);
                    d[n] = _mm512_dpbusd_epi32(d[n], x, bcast4_512(yq, c));
                }
            }
            for n in 0..N {
                s[n] = _mm512_add_epi32(s[n], _mm512_mullo_epi32(d[n], sv[2 * v + h]));
            }
        }
    }
    for (n, y) in ys.iter().enumerate() {
        // q - 32: subtract 32 · Σ scale · bsum
        let mut corr = _mm512_setzero_si512();
        for (p, scp_p) in scp.iter().enumerate() {
            // the same exact i32 as `vpmaddwd` + add
            corr = _mm512_dpwssd_epi32(corr, *scp_p, bcast_pair16_512(&y.bsums, p));
        }
        s[n] = _mm512_sub_epi32(s[n], _mm512_slli_epi32::<5>(corr));
    }
    s
}

/// Helpers of the AVX-512 16-row kernels.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn transpose16x8_epi32(x: &[__m256i; 16]) -> [__m512i; 8] {
    let lo = transpose8x8_epi32([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
    let hi = transpose8x8_epi32([x[8], x[9], x[10], x[11], x[12], x[13], x[14], x[15]]);
    let mut out = [_mm512_setzero_si512(); 8];
    for c in 0..8 {
        out[c] = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo[c]), hi[c]);
    }
    out
}

/// Quants `4c..4c + 4` of an activation block in every 32-bit lane of a zmm.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn bcast4_512(qs: &[i8; 32], c: usize) -> __m512i {
    let q: &[i8; 4] = sub32(qs, 4 * c);
    _mm512_set1_epi32(i32::from_le_bytes(q.map(|v| v as u8)))
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn ld_u16x16(x: &[u16; 16]) -> __m256i {
    // SAFETY: `x` is 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

/// The prefetch of the 16-row batched kernels (k-quants, 32-element types): part `part` of
/// `parts` of the next 16 rows' lines for (super-)block `i`, into all cache levels (`PREFETCHT0`), called once per pass over
/// the activation rows so that the lines are requested a few at a time. Those kernels get up
/// to 64 activation rows per call, so a row group is prefetched 2 times for a 128-token prompt
/// instead of 8; `PREFETCHNTA` of all lines at once ([`prefetch_rows_ahead`]) there was the
/// hottest instruction of a Q4_K_M prefill (28% of its samples, `perf record`, Qwen3-0.6B
/// shape), and 1-thread CPU time of `pocketlm bench --pp 128` measured 3.8 s with it, 2.7 s
/// with no prefetch and 2.6 s with `PREFETCHT0` of all lines at once (16 rows per tile);
/// with 64 rows per tile, all lines at once were still 14% of the samples (a burst of 37
/// lines, more than the core's line fill buffers).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn prefetch_next16_t0<W>(rows: &[&[W]; 16], i: usize, part: usize, parts: usize) {
    prefetch_after16_t0::<W>(rows[15].as_ptr_range().end.cast(), i, part, parts);
}

/// [`prefetch_next16_t0`] of the lines from `next` on (the first byte after a tile's 16 rows
/// of blocks `W`, in either layout: a tile's bytes are contiguous in both).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn prefetch_after16_t0<W>(next: *const u8, i: usize, part: usize, parts: usize) {
    let lines = (16 * core::mem::size_of::<W>()).div_ceil(64) + 1;
    for l in part * lines / parts..(part + 1) * lines / parts {
        // a hint: never faults, whatever the address
        _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add((i * lines + l) * 64).cast());
    }
}

/// Where a 16-row kernel of a 32-element type reads its weights: 16 row-major rows, or two
/// groups of the interleaved layout read in place (no de-interleaved copy of a batch's rows).
trait Rows16<W> {
    /// Block `i` of row `k`.
    fn block(&self, k: usize, i: usize) -> W;
    /// The first byte after the tile's weights (the next tile's, prefetched along the way).
    fn end(&self) -> *const u8;
}

/// 16 row-major rows.
struct RowMajor16<'a, W>([&'a [W]; 16]);

impl<W: Copy> Rows16<W> for RowMajor16<'_, W> {
    #[inline(always)]
    fn block(&self, k: usize, i: usize) -> W {
        self.0[k][i]
    }

    #[inline(always)]
    fn end(&self) -> *const u8 {
        self.0[15].as_ptr_range().end.cast()
    }
}

/// Two groups of 8 interleaved rows ([`crate::quant::interleave`]): block column `i` of a
/// group is its 8 rows' heads (the scales: `W::HEAD` bytes each), then their 16 or 32 bytes of
/// quants.
struct Interleaved16<'a, W> {
    groups: [&'a [u8]; 2],
    _blocks: core::marker::PhantomData<W>,
}

impl<'a, W: SplitBlock> Interleaved16<'a, W> {
    fn new(groups: [&'a [u8]; 2]) -> Self {
        for g in groups {
            assert!(g.len().is_multiple_of(8 * core::mem::size_of::<W>()));
        }
        assert_eq!(groups[0].len(), groups[1].len());
        Interleaved16 {
            groups,
            _blocks: core::marker::PhantomData,
        }
    }
}

impl<W: SplitBlock> Rows16<W> for Interleaved16<'_, W> {
    #[inline(always)]
    fn block(&self, k: usize, i: usize) -> W {
        let size = core::mem::size_of::<W>();
        let body = size - W::HEAD;
        let (g, r) = (k / 8, k % 8);
        assert!(k < 16 && (i + 1) * 8 * size <= self.groups[g].len());
        let mut block = W::zeroed();
        // SAFETY: column `i` of group `g` is in bounds (asserted), and row `r` < 8's head
        // (`HEAD` bytes at `r * HEAD`) and quants (`size - HEAD` at `8 * HEAD + r * body`)
        // lie within its `8 * size` bytes; `block` is `size` writable bytes.
        unsafe {
            let column = self.groups[g].as_ptr().add(i * 8 * size);
            let out = bytemuck::bytes_of_mut(&mut block).as_mut_ptr();
            core::ptr::copy_nonoverlapping(column.add(r * W::HEAD), out, W::HEAD);
            core::ptr::copy_nonoverlapping(
                column.add(8 * W::HEAD + r * body),
                out.add(W::HEAD),
                body,
            );
        }
        block
    }

    #[inline(always)]
    fn end(&self) -> *const u8 {
        self.groups[1].as_ptr_range().end
    }
}

/// A 32-element block as the interleaved layout splits it: its first `HEAD` bytes (scales,
/// minimum, fifth bits) apart from its quants.
trait SplitBlock: bytemuck::Pod {
    const HEAD: usize;
}

impl SplitBlock for BlockQ4_0 {
    const HEAD: usize = 2;
}
impl SplitBlock for BlockQ4_1 {
    const HEAD: usize = 4;
}
impl SplitBlock for BlockQ5_0 {
    const HEAD: usize = 6;
}
impl SplitBlock for BlockQ5_1 {
    const HEAD: usize = 8;
}
impl SplitBlock for BlockQ8_0 {
    const HEAD: usize = 2;
}

/// The results of a 16-row kernel: lane k of `acc[j]` is (weight row k, activation row j).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn lanes_to_rows16<const M: usize>(acc: &[__m512; M]) -> [[f32; M]; 16] {
    let mut res = [[0.0f32; M]; 16];
    for (j, a) in acc.iter().enumerate() {
        let mut v = [0.0f32; 16];
        // SAFETY: `v` is 16 writable f32; `storeu` has no alignment requirement.
        unsafe { _mm512_storeu_ps(v.as_mut_ptr(), *a) };
        for (k, x) in v.into_iter().enumerate() {
            res[k][j] = x;
        }
    }
    res
}

/// The integer dot products of the AVX-512 VNNI tier: `vpdpbusd` (u8 × i8, 4 products summed
/// into an i32 lane, no i16 intermediate), so the k-quants multiply a sub-block's i32 sum by its
/// scale (`vpmulld`) instead of `vpmaddwd` on i16 pair sums. Same exact integers as
/// [`dots_avx2`], hence the same bits.
#[allow(clippy::needless_range_loop)]
mod dots_vnni {
    use super::*;

    /// `acc + Σ` of 4 adjacent u8 × i8 products per i32 lane.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn dpbusd(acc: __m256i, x: __m256i, y: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(acc, x, y)
    }

    /// One unsigned weight block × one activation block: 8 i32 partial sums.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn dot_u(x: __m256i, y: __m256i) -> __m256i {
        dpbusd(_mm256_setzero_si256(), x, y)
    }

    /// One signed weight block × one activation block (`y` never -128): 8 i32 partial sums.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn dot_s(x: __m256i, y: __m256i) -> __m256i {
        dpbusd(
            _mm256_setzero_si256(),
            _mm256_sign_epi8(x, x),
            _mm256_sign_epi8(y, x),
        )
    }

    /// Lane k = the sum of [`dot_u`]'s result `p[k]`.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn reduce_u(p: [__m256i; 8]) -> __m256i {
        reduce_rows8(p)
    }

    /// As the AVX2 `dots8_s` (two accumulation chains).
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn dots8_s(xa: &[__m256i; 8], xt: &[__m256i; 8], yq: &[i8; 32]) -> __m256i {
        let mut s = [_mm256_setzero_si256(); 2];
        for c in 0..8 {
            let yc = _mm256_sign_epi8(bcast4(yq, c), xt[c]);
            s[c % 2] = dpbusd(s[c % 2], xa[c], yc);
        }
        _mm256_add_epi32(s[0], s[1])
    }

    /// As the AVX2 `dots8_u` (two accumulation chains).
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn dots8_u(xa: &[__m256i; 8], yq: &[i8; 32]) -> __m256i {
        let mut s = [_mm256_setzero_si256(); 2];
        for c in 0..8 {
            s[c % 2] = dpbusd(s[c % 2], xa[c], bcast4(yq, c));
        }
        _mm256_add_epi32(s[0], s[1])
    }

    /// As the AVX2 `k4_partial`, with `vpdpbusd` and the scale multiplied in i32, in two chains
    /// (with these features LLVM fused the AVX2 form's `vpmaddwd` + add into one long, slower
    /// chain of `vpdpwssd`).
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn k4_partial(
        q: &[__m256i; 8],
        sv: &[__m256i; 8],
        mins: __m256i,
        y: &BlockQ8K,
    ) -> (__m256i, __m256i) {
        let mut s = [_mm256_setzero_si256(); 2];
        for v in 0..8 {
            let yv = ld_i8x32(sub32::<32, i8, 256>(&y.qs, 32 * v));
            // the scale (0..=63) as i32: the low i16 of each lane
            let sv32 = _mm256_and_si256(sv[v], _mm256_set1_epi32(0xFFFF));
            let p = _mm256_mullo_epi32(dot_u(q[v], yv), sv32);
            s[v % 2] = _mm256_add_epi32(s[v % 2], p);
        }
        let m = _mm256_madd_epi16(ld_i16x16(&y.bsums), mins);
        (_mm256_add_epi32(s[0], s[1]), m)
    }

    /// As the AVX2 `k4_dots8` (`GROUP` is unused: no i16 sums to bound).
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn k4_dots8<const GROUP: usize, const N: usize>(
        xt: &[[__m256i; 8]; 8],
        sv: &[__m256i; 8],
        mv: &[__m256i; 8],
        ys: [&BlockQ8K; N],
    ) -> ([__m256i; N], [__m256i; N]) {
        let mut s = [_mm256_setzero_si256(); N];
        let mut m = [_mm256_setzero_si256(); N];
        for v in 0..8 {
            // the scale (0..=63) as i32: the low i16 of each lane
            let sv32 = _mm256_and_si256(sv[v], _mm256_set1_epi32(0xFFFF));
            for (n, y) in ys.iter().enumerate() {
                let yq: &[i8; 32] = sub32(&y.qs, 32 * v);
                let mut d = [_mm256_setzero_si256(); 2];
                for c in 0..8 {
                    d[c % 2] = dpbusd(d[c % 2], xt[v][c], bcast4(yq, c));
                }
                let p = _mm256_mullo_epi32(_mm256_add_epi32(d[0], d[1]), sv32);
                s[n] = _mm256_add_epi32(s[n], p);
            }
            for (n, y) in ys.iter().enumerate() {
                // Σ y of sub-block v = bsums 2v + 2v + 1
                let p = _mm256_madd_epi16(mv[v], bcast_pair16(&y.bsums, v));
                m[n] = _mm256_add_epi32(m[n], p);
            }
        }
        (s, m)
    }

    /// As the AVX2 `q6k_dots8`.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn q6k_dots8<const N: usize>(
        xt: &[[__m256i; 8]; 8],
        sv: &[__m256i; 16],
        scp: &[__m256i; 8],
        ys: [&BlockQ8K; N],
    ) -> [__m256i; N] {
        let mut s = [_mm256_setzero_si256(); N];
        for v in 0..8 {
            for h in 0..2 {
                let c = 4 * h;
                // the signed scale as i32: the high i16 of each lane, sign-extended
                let sv32 = _mm256_srai_epi32::<16>(sv[2 * v + h]);
                for (n, y) in ys.iter().enumerate() {
                    let yq: &[i8; 32] = sub32(&y.qs, 32 * v);
                    let mut d = dpbusd(_mm256_setzero_si256(), xt[v][c], bcast4(yq, c));
                    for cc in c + 1..c + 4 {
                        d = dpbusd(d, xt[v][cc], bcast4(yq, cc));
                    }
                    s[n] = _mm256_add_epi32(s[n], _mm256_mullo_epi32(d, sv32));
                }
            }
        }
        for (n, y) in ys.iter().enumerate() {
            // q - 32: subtract 32 · Σ scale · bsum
            let mut corr = _mm256_setzero_si256();
            for (p, scp_p) in scp.iter().enumerate() {
                let b = bcast_pair16(&y.bsums, p);
                corr = _mm256_add_epi32(corr, _mm256_madd_epi16(*scp_p, b));
            }
            s[n] = _mm256_sub_epi32(s[n], _mm256_slli_epi32::<5>(corr));
        }
        s
    }
}

quant_tier!(
    vnni,
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    dots_vnni,
    wide = true
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{matmul_with_tier, QActs, QMatrix, Tier};
    use crate::quant::GgmlType;

    fn supported() -> bool {
        [
            "avx2",
            "fma",
            "f16c",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vnni",
        ]
        .iter()
        .all(|f| match *f {
            "avx2" => is_x86_feature_detected!("avx2"),
            "fma" => is_x86_feature_detected!("fma"),
            "f16c" => is_x86_feature_detected!("f16c"),
            "avx512f" => is_x86_feature_detected!("avx512f"),
            "avx512bw" => is_x86_feature_detected!("avx512bw"),
            "avx512vl" => is_x86_feature_detected!("avx512vl"),
            _ => is_x86_feature_detected!("avx512vnni"),
        })
    }

    /// Random blocks of `W` (every byte random, then `d`/`m` replaced by finite f16 values):
    /// `rows × cols / 32` blocks of `block_bytes` each, the offsets of d and m given.
    fn random_blocks(n: usize, block_bytes: usize, has_m: bool, seed: u64) -> Vec<u8> {
        let mut s = seed;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as u32
        };
        let mut v: Vec<u8> = (0..n * block_bytes).map(|_| next() as u8).collect();
        for b in v.chunks_mut(block_bytes) {
            let f = |x: u32| half::f16::from_f32((x % 2001) as f32 / 1000.0 - 1.0).to_bits();
            b[0..2].copy_from_slice(&f(next()).to_le_bytes());
            if has_m {
                b[2..4].copy_from_slice(&f(next()).to_le_bytes());
            }
        }
        v
    }

    fn check<W: NibbleBlock + bytemuck::Pod>(ty: GgmlType, has_m: bool) {
        let (rows, cols) = (24, 320);
        let bytes = random_blocks(rows * cols / 32, ty.block_bytes(), has_m, ty as u64 + 7);
        let w = QMatrix::new(ty, &bytes, rows, cols).unwrap();
        let x: Vec<f32> = (0..cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let mut acts = QActs::new();
        acts.quantize_for_tier(Tier::Avx2, ty, &x, 1, cols);
        let mut want = vec![0.0f32; rows];
        matmul_with_tier(Tier::Avx2, &w, &acts, &mut want, rows, 0..rows);
        let ctx = Ctx {
            w: w.blocks::<W>(0..rows),
            bpr: w.blocks_per_row(),
            a: &acts,
            t0: 0,
        };
        for r in (0..rows).step_by(8) {
            // SAFETY: `supported()` checked the target features.
            let got = unsafe { gemv_nibbles::<W>(&ctx, r, 0) };
            for k in 0..8 {
                assert_eq!(
                    got[k][0].to_bits(),
                    want[r + k].to_bits(),
                    "{ty} row {}: {} vs avx2 {}",
                    r + k,
                    got[k][0],
                    want[r + k]
                );
            }
        }
    }

    #[test]
    fn gemv_nibbles_is_bit_identical_to_avx2() {
        if !supported() {
            println!("skipped: this CPU lacks AVX-512 VNNI");
            return;
        }
        check::<BlockQ4_0>(GgmlType::Q4_0, false);
        check::<BlockQ4_1>(GgmlType::Q4_1, true);
        check::<BlockQ5_0>(GgmlType::Q5_0, false);
        check::<BlockQ5_1>(GgmlType::Q5_1, true);
    }

    fn best_of(mut f: impl FnMut()) -> f64 {
        let mut best = f64::INFINITY;
        for _ in 0..30 {
            let t = std::time::Instant::now();
            f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        best
    }

    fn bench<W: NibbleBlock + bytemuck::Pod>(ty: GgmlType, has_m: bool, rows: usize, cols: usize) {
        let bytes = random_blocks(rows * cols / 32, ty.block_bytes(), has_m, 3);
        let w = QMatrix::new(ty, &bytes, rows, cols).unwrap();
        let x: Vec<f32> = (0..cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let mut acts = QActs::new();
        acts.quantize_for_tier(Tier::Avx2, ty, &x, 1, cols);
        let mut out = vec![0.0f32; rows];
        let ctx = Ctx {
            w: w.blocks::<W>(0..rows),
            bpr: w.blocks_per_row(),
            a: &acts,
            t0: 0,
        };
        for _ in 0..3 {
            let t2 = best_of(|| matmul_with_tier(Tier::Avx2, &w, &acts, &mut out, rows, 0..rows));
            let t5 = best_of(|| {
                for r in (0..rows).step_by(8) {
                    // SAFETY: `supported()` checked the target features.
                    let v = unsafe { gemv_nibbles::<W>(&ctx, r, 0) };
                    out[r] = v[0][0];
                }
            });
            let gb = w.data.len() as f64 / 1e9;
            println!(
                "{ty} {rows}x{cols} m=1: avx2 {:.1} us ({:.1} GB/s), avx512 gemv {:.1} us ({:.1} GB/s)",
                t2 * 1e6,
                gb / t2,
                t5 * 1e6,
                gb / t5
            );
        }
    }

    #[test]
    #[ignore]
    fn bench_gemv_nibbles() {
        if !supported() {
            return;
        }
        bench::<BlockQ4_1>(GgmlType::Q4_1, true, 1536, 576);
        bench::<BlockQ4_1>(GgmlType::Q4_1, true, 576, 1536);
        bench::<BlockQ5_0>(GgmlType::Q5_0, false, 2048, 640);
        bench::<BlockQ4_1>(GgmlType::Q4_1, true, 32768, 1536);
        bench::<BlockQ5_0>(GgmlType::Q5_0, false, 32768, 1536);
    }
}
