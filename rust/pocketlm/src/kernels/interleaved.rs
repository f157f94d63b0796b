//! Products of an interleaved matrix ([`crate::quant::interleave`], written by
//! `pocketlm convert`): the tier's interleaved decode kernel where it has one, otherwise each
//! tile de-interleaved into a per-thread buffer and multiplied by the row-major kernels. Either
//! way the results are the row-major file's, bit for bit.

use super::{tile_fn, QActs, QMatrix, Tier, TierKernels};
use crate::quant::interleave::{self, GROUP_ROWS};
use std::cell::RefCell;
use std::ops::Range;

/// The kernel of the interleaved layout: whole groups of 8 rows (`groups`) times activation
/// rows `ts` (at most [`GROUP_GEMM_MAX_M`]) into `res[r * stride + j]` (row r of `groups`,
/// activation row `ts.start + j`).
pub(super) type GroupGemm = fn(&[u8], &QActs, Range<usize>, &mut [f32], usize);

/// The most activation rows of one [`GroupGemm`] call (a tile's activation rows are done in
/// calls of up to this many, on the same group, from L1).
pub(super) const GROUP_GEMM_MAX_M: usize = 8;

/// From how many activation rows on a product with an interleaved matrix of type `ty` goes
/// through the tier's batched tiles: those that read the interleaved rows in place where the
/// tier has them (`TierKernels::interleaved_batch_tile`), otherwise the row-major ones on
/// rows de-interleaved a few at a time. They are faster per byte than [`GroupGemm`] calls once
/// the batch is large enough to be compute-bound. Below it the tier's interleaved kernel runs:
/// decode, the keyboard's and the reply drafts' batches. Measured with `pocketlm bench
/// --threads 1 --pp 64,128` on the converted files, one way against the other:
/// - AVX-512, Q4_0/Q4_1: 9, into the 16-row batch tiles that read the interleaved rows in
///   place (`interleaved_batch_tile`). `pocketlm bench --threads 1` on the `convert
///   --this-cpu` copies, tokens/s before (de-interleaved from 32 rows) → after: SmolLM2 Q4_1
///   pp16 454-470 → 518-562, pp128 672-693 → 761-791 (the file as downloaded: 552, 791);
///   LFM2-350M-shape Q4_0 pp32 (passes of 30 and 2 rows) 174-177 → 211-217, pp128 261-264 →
///   292-299 (as downloaded: 214, 291). Between 9 and 16 rows 153 → 160-164 (pp16); below 9
///   the group kernels and the tiles are even.
/// - AVX-512, Q5_0/Q5_1/Q8_0: 9 as well (Gemma 3 270M, mostly Q5_0 and Q8_0 besides its
///   k-quants: pp32 370-377 → 408-411, pp128 589-605 → 635-649 with the in-place tiles from 17
///   rows; from 9, pp16 244 → 269-270, pp12 193 → 204-206, pp10 167-168 → 177-178). Against
///   the de-interleaving tiles the group kernels had won below 17 (pp16 730-745 against
///   661-667 de-interleaved from 9 rows).
/// - AVX-512, Q4_K/Q6_K: 17 as well (Qwen3-0.6B shape, Q4_K_M, 2 threads, 3 alternating runs:
///   pp16 197-216 interleaved, 177-213 de-interleaved from 9 rows; pp8 122-183 either way).
/// - AVX2: 2. Its interleaved kernel is a decode kernel (one activation row per pass); pp16
///   was 2.8x slower than the row-major file through it.
/// - NEON: 2. Its interleaved kernel is fast for one activation row (decode); with more, the
///   row-major batched kernels win: SmolLM2 prefill 81.5 M instructions per token through the
///   interleaved kernel, 36.1 de-interleaved (`scripts/bench-neon.sh --only cortex-a76
///   --ours-only --prompt 8 --decode 2 --syms 8`; row-major file 36.1).
///
/// Each tier's table ([`TierKernels::deinterleave_from_m`]) names one of these functions.
pub(crate) mod deinterleave_from_m {
    use crate::quant::GgmlType;

    /// AVX2 and the NEON tiers: from 2 activation rows.
    pub(crate) fn two(_: GgmlType) -> usize {
        2
    }

    /// AVX-512 VNNI: from 9 rows for the 32-element types, whose batch tiles read the rows in
    /// place (`interleaved_batch_tile`), and from 17 for the k-quants, whose batches
    /// de-interleave them.
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn avx512(ty: GgmlType) -> usize {
        match ty {
            GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q5_0 | GgmlType::Q5_1 | GgmlType::Q8_0 => {
                super::GROUP_GEMM_MAX_M + 1
            }
            _ => super::RUN_GROUPS_MAX_M + 1,
        }
    }

    /// NEON with dot products (not i8mm, whose row-major SMMLA tiles are faster for
    /// batches): never for Q4_0/Q4_1, whose interleaved kernel decodes each block column's
    /// nibbles once for 8 activation rows (fewer instructions than de-interleaving and the
    /// row-major tiles: Gemma 4 E2B's prefill, docs/performance.md); from 2 rows otherwise.
    #[cfg(target_arch = "aarch64")]
    pub(crate) fn dotprod(ty: GgmlType) -> usize {
        match ty {
            GgmlType::Q4_0 | GgmlType::Q4_1 => usize::MAX,
            _ => 2,
        }
    }

    /// The scalar tier, which has no interleaved kernel: every product de-interleaves.
    pub(crate) fn always(_: GgmlType) -> usize {
        0
    }
}

/// Rows de-interleaved at a time for the row-major kernels (tens of KB: stays in L2; fewer
/// calls than one per 16-row tile).
pub(super) const DEINTERLEAVE_ROWS: usize = 128;

/// The most activation rows [`run_groups`] takes.
const RUN_GROUPS_MAX_M: usize = 16;

/// Defines a safe [`GroupGemm`] entry around a tier's interleaved kernel for blocks `$block`,
/// `$kernel::<[$W,] M>(group, [&[Act32]; M]) -> [[f32; 8]; M]` (with `q8k`: `[&[BlockQ8K];
/// M]`, for Q4_K), a `#[target_feature($feat)]`
/// function: a loop over the groups compiled with the same features (so the kernel inlines
/// into it and its setup is not paid per group), dispatched on the number of activation rows.
/// Only for the kernel's own tier: callers of the tile functions assert `tier.is_supported()`.
macro_rules! group_gemm_entry {
    ($feat:literal, $block:ty => $kernel:ident $(<$W:ty>)?) => {
        group_gemm_entry!(@entry $feat, $block, $crate::kernels::Act32, a32_row => $kernel $(<$W>)?)
    };
    // Q4_K: super-blocks, whose activations are Q8_K rows.
    ($feat:literal, q8k $block:ty => $kernel:ident) => {
        group_gemm_entry!(@entry $feat, $block, $crate::quant::blocks::BlockQ8K, q8k_row => $kernel)
    };
    (@entry $feat:literal, $block:ty, $act:ty, $row:ident => $kernel:ident $(<$W:ty>)?) => {{
        #[target_feature(enable = $feat)]
        fn all_groups<const M: usize>(
            groups: &[u8],
            ar: [&[$act]; M],
            res: &mut [f32],
            stride: usize,
        ) {
            let group_bytes = 8 * ar[0].len() * core::mem::size_of::<$block>();
            for (g, group) in groups.chunks_exact(group_bytes).enumerate() {
                let v = $kernel::<$($W,)? M>(group, ar);
                for (j, rows) in v.iter().enumerate() {
                    for (k, x) in rows.iter().enumerate() {
                        res[(8 * g + k) * stride + j] = *x;
                    }
                }
            }
        }
        fn gemm(
            groups: &[u8],
            a: &$crate::kernels::QActs,
            ts: core::ops::Range<usize>,
            res: &mut [f32],
            stride: usize,
        ) {
            let nt = ts.len();
            macro_rules! run {
                ($m:literal) => {{
                    let mut ar: [&[$act]; $m] = [&[]; $m];
                    for (j, r) in ar.iter_mut().enumerate() {
                        *r = a.$row(ts.start + j);
                    }
                    // SAFETY: the kernel needs its tier's target features; its `group_gemm`
                    // hands this entry out only for that tier, and every caller of the tile
                    // functions first asserts `tier.is_supported()`.
                    unsafe { all_groups::<$m>(groups, ar, res, stride) }
                }};
            }
            $crate::kernels::interleaved::by_group_m!(nt, run)
        }
        gemm as $crate::kernels::interleaved::GroupGemm
    }};
}

/// `$run!(M)` with the literal `M` equal to `$m` (1 to [`GROUP_GEMM_MAX_M`]): how a
/// [`GroupGemm`] entry dispatches on its number of activation rows to a kernel monomorphized
/// for it.
macro_rules! by_group_m {
    ($m:expr, $run:ident) => {
        match $m {
            1 => $run!(1),
            2 => $run!(2),
            3 => $run!(3),
            4 => $run!(4),
            5 => $run!(5),
            6 => $run!(6),
            7 => $run!(7),
            8 => $run!(8),
            m => unreachable!("a GroupGemm takes 1 to 8 activation rows, not {m}"),
        }
    };
}
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(unused_imports)
)]
pub(super) use by_group_m;
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(unused_imports)
)]
pub(super) use group_gemm_entry;

thread_local! {
    /// De-interleaved rows of one tile (u16 for the blocks' 2-byte alignment); grows to the
    /// largest tile once per thread, then is reused.
    static ROWS: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
}

/// The tile kernel of interleaved matrices for tier `Tier::ALL[TIER]` (monomorphized per tier,
/// so that a tier's table can hold it as a plain function pointer).
pub(crate) fn tile<const TIER: usize>(
    w: &QMatrix,
    a: &QActs,
    rows: Range<usize>,
    ts: Range<usize>,
    res: &mut [f32],
) {
    let k = Tier::ALL[TIER].kernels();
    // the whole groups holding `rows`
    let rb = w.row_bytes();
    let g0 = rows.start / GROUP_ROWS * GROUP_ROWS;
    let g1 = rows.end.next_multiple_of(GROUP_ROWS);
    let groups = &w.data[g0 * rb..g1 * rb];
    let nt = ts.len();
    if g0 == rows.start && g1 == rows.end && nt < (k.deinterleave_from_m)(w.ty) {
        if let Some(gemm) = (k.group_gemm)(w.ty) {
            gemm_in_steps(gemm, groups, a, ts, res, nt);
            return;
        }
    }
    with_row_major(w, rows, |plain, sub, _| {
        tile_fn(k, w.ty)(plain, a, sub, ts, res)
    });
}

/// `gemm` for any number of activation rows, in calls of up to [`GROUP_GEMM_MAX_M`]:
/// `res[r * stride + j]` for row r of `groups` and activation row `ts.start + j`.
fn gemm_in_steps(
    gemm: GroupGemm,
    groups: &[u8],
    a: &QActs,
    ts: Range<usize>,
    res: &mut [f32],
    stride: usize,
) {
    let mut t = ts.start;
    while t < ts.end {
        let t1 = (t + GROUP_GEMM_MAX_M).min(ts.end);
        gemm(groups, a, t..t1, &mut res[t - ts.start..], stride);
        t = t1;
    }
}

/// Rows per call of [`run_groups`].
const RUN_ROWS: usize = 256;

/// `rows` (whole groups) × all activation rows of an interleaved matrix with the tier's
/// interleaved kernel, into `sink`, [`RUN_ROWS`] rows per kernel call (a 262k-row output head
/// is 1k calls, not 16k tiles). Returns false, having done nothing, when the tier has no such
/// kernel, `rows` cuts a group, or the batch is for the de-interleaving path or larger than
/// [`RUN_GROUPS_MAX_M`].
pub(super) fn run_groups(
    k: &TierKernels,
    w: &QMatrix,
    a: &QActs,
    rows: Range<usize>,
    sink: &mut impl super::Sink,
) -> bool {
    let Some(gemm) = (k.group_gemm)(w.ty) else {
        return false;
    };
    if !rows.start.is_multiple_of(GROUP_ROWS)
        || !rows.end.is_multiple_of(GROUP_ROWS)
        || a.m >= (k.deinterleave_from_m)(w.ty)
        || a.m > RUN_GROUPS_MAX_M
    {
        return false;
    }
    let m = a.m;
    let rb = w.row_bytes();
    let mut res = [0.0f32; RUN_ROWS * RUN_GROUPS_MAX_M];
    let mut r0 = rows.start;
    while r0 < rows.end {
        let r1 = (r0 + RUN_ROWS).min(rows.end);
        gemm_in_steps(gemm, &w.data[r0 * rb..r1 * rb], a, 0..m, &mut res, m);
        for t in 0..m {
            sink.put_run(t, r0, r1 - r0, &res[t..], m);
        }
        r0 = r1;
    }
    true
}

/// Calls `f(plain, sub, first_row)` with the whole groups holding `rows` de-interleaved into a
/// row-major matrix (`plain`, its row 0 = `w`'s row `first_row`); `sub` is `rows` in `plain`.
pub(super) fn with_row_major(
    w: &QMatrix,
    rows: Range<usize>,
    f: impl FnOnce(&QMatrix, Range<usize>, usize),
) {
    let rb = w.row_bytes();
    let g0 = rows.start / GROUP_ROWS * GROUP_ROWS;
    let g1 = rows.end.next_multiple_of(GROUP_ROWS);
    let groups = &w.data[g0 * rb..g1 * rb];
    ROWS.with_borrow_mut(|buf| {
        buf.resize(groups.len().div_ceil(2), 0);
        let bytes: &mut [u8] = &mut bytemuck::cast_slice_mut(buf.as_mut_slice())[..groups.len()];
        for (g, out) in groups
            .chunks_exact(GROUP_ROWS * rb)
            .zip(bytes.chunks_exact_mut(GROUP_ROWS * rb))
        {
            interleave::deinterleave_group(w.ty, g, out);
        }
        let plain = QMatrix::new(w.ty, bytes, g1 - g0, w.cols)
            .expect("de-interleaved groups are a valid row-major matrix");
        f(&plain, rows.start - g0..rows.end - g0, g0);
    });
}
