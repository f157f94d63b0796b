//! Products of an interleaved matrix ([`crate::quant::interleave`], written by
//! `pocketlm convert`): the tier's interleaved decode kernel where it has one, otherwise each
//! tile de-interleaved into a per-thread buffer and multiplied by the row-major kernels. Either
//! way the results are the row-major file's, bit for bit.

use super::{tile_fn, QActs, QMatrix, Tier, TileFn};
use crate::quant::interleave::{self, GROUP_ROWS};
use crate::quant::GgmlType;
use std::cell::RefCell;
use std::ops::Range;

/// An 8-row kernel of the interleaved layout: one group's bytes times activation rows `ts`
/// (at most [`GROUP_GEMM_MAX_M`]) into `res[k * ts.len() + j]` (row k, activation row j).
pub(super) type GroupGemm = fn(&[u8], &QActs, Range<usize>, &mut [f32]);

/// The most activation rows of one [`GroupGemm`] call (a tile's activation rows are done in
/// calls of up to this many, on the same group, from L1).
pub(super) const GROUP_GEMM_MAX_M: usize = 8;

/// From this many activation rows on (prefill chunks) a matrix's rows are de-interleaved once
/// per tile and multiplied by the row-major batched kernels, which are faster per byte than
/// [`GroupGemm`] calls. Below it the interleaved kernels win: decode, the keyboard's and the
/// reply drafts' batches. (SmolLM2, 1 thread, `pocketlm bench`: pp128 -4% against the row-major
/// file this way, -7% with interleaved kernels only; pp16 -5%, -32% de-interleaving.)
pub(super) const DEINTERLEAVE_FROM_M: usize = 17;

/// The tile function of `tier` for interleaved matrices (callers guarantee
/// `tier.is_supported()`, as for [`tile_fn`]).
pub(super) fn interleaved_tile_fn(tier: Tier) -> TileFn {
    // one monomorphized tile per tier, so the function pointer carries the tier
    match tier {
        Tier::Scalar => tile::<0>,
        Tier::Avx2 => tile::<1>,
        Tier::Avx512Vnni => tile::<2>,
        Tier::Neon => tile::<3>,
        Tier::Dotprod => tile::<4>,
        Tier::I8mm => tile::<5>,
    }
}

/// The interleaved kernel of `tier` for `ty`, if it has one.
fn group_gemm(tier: Tier, ty: GgmlType) -> Option<GroupGemm> {
    match tier {
        #[cfg(target_arch = "x86_64")]
        Tier::Avx512Vnni => super::avx512::group_gemm(ty),
        _ => {
            let _ = ty;
            None
        }
    }
}

thread_local! {
    /// De-interleaved rows of one tile (u16 for the blocks' 2-byte alignment); grows to the
    /// largest tile once per thread, then is reused.
    static ROWS: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
}

fn tile<const TIER: usize>(
    w: &QMatrix,
    a: &QActs,
    rows: Range<usize>,
    ts: Range<usize>,
    res: &mut [f32],
) {
    let tier = Tier::ALL[TIER];
    // the whole groups holding `rows`
    let rb = w.row_bytes();
    let g0 = rows.start / GROUP_ROWS * GROUP_ROWS;
    let g1 = rows.end.next_multiple_of(GROUP_ROWS);
    let groups = &w.data[g0 * rb..g1 * rb];
    let group_bytes = GROUP_ROWS * rb;
    let nt = ts.len();
    if g0 == rows.start && g1 == rows.end {
        if let Some(gemm) = group_gemm(tier, w.ty) {
            let mut part = [0.0f32; GROUP_ROWS * GROUP_GEMM_MAX_M];
            for (g, out) in groups
                .chunks_exact(group_bytes)
                .zip(res.chunks_exact_mut(GROUP_ROWS * nt))
            {
                let mut t = ts.start;
                while t < ts.end {
                    let t1 = (t + GROUP_GEMM_MAX_M).min(ts.end);
                    let m = t1 - t;
                    gemm(g, a, t..t1, &mut part[..GROUP_ROWS * m]);
                    for k in 0..GROUP_ROWS {
                        out[k * nt + t - ts.start..][..m].copy_from_slice(&part[k * m..][..m]);
                    }
                    t = t1;
                }
            }
            return;
        }
    }
    with_row_major(w, rows, |plain, sub, _| {
        tile_fn(tier, w.ty)(plain, a, sub, ts, res)
    });
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
