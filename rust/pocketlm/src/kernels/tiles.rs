//! Shared tiling machinery of the SIMD tiers: a tile of weight rows × activation rows is
//! walked in `R × M` register-blocked kernel calls.

use super::QActs;

/// Stores a kernel's `R × M` results into the tile buffer.
#[inline(always)]
pub(crate) fn store<const R: usize, const M: usize>(
    res: &mut [f32],
    nt: usize,
    r: usize,
    t: usize,
    v: [[f32; M]; R],
) {
    for (i, row) in v.iter().enumerate() {
        res[(r + i) * nt + t..][..M].copy_from_slice(row);
    }
}

/// Walks a tile in `R × M` kernel calls: with a single activation row, 4 weight rows at a time
/// (independent accumulation chains; 8 first with `@rows8`, for kernels that have an 8-row
/// decode path); otherwise one weight row (decoded once) against up to 8
/// activation rows (memory operands for the activations keep all accumulators in registers).
macro_rules! tile_loop {
    ($kern:ident $(<$T:ty>)?, $ctx:expr, $nr:expr, $nt:expr, $res:expr) => {
        tile_loop!(@walk $kern $(<$T>)?, false, $ctx, $nr, $nt, $res)
    };
    ($kern:ident $(<$T:ty>)?, @rows8, $ctx:expr, $nr:expr, $nt:expr, $res:expr) => {
        tile_loop!(@walk $kern $(<$T>)?, true, $ctx, $nr, $nt, $res)
    };
    (@walk $kern:ident $(<$T:ty>)?, $rows8:expr, $ctx:expr, $nr:expr, $nt:expr, $res:expr) => {{
        let ctx = $ctx;
        let (nr, nt) = ($nr, $nt);
        let res: &mut [f32] = $res;
        let mut t = 0;
        while t < nt {
            let m = (nt - t).min(8);
            if m == 1 {
                let mut r = 0;
                if $rows8 {
                    while r + 8 <= nr {
                        store::<8, 1>(res, nt, r, t, $kern::<$($T,)? 8, 1>(&ctx, r, t));
                        r += 8;
                    }
                }
                while r + 4 <= nr {
                    store::<4, 1>(res, nt, r, t, $kern::<$($T,)? 4, 1>(&ctx, r, t));
                    r += 4;
                }
                while r < nr {
                    store::<1, 1>(res, nt, r, t, $kern::<$($T,)? 1, 1>(&ctx, r, t));
                    r += 1;
                }
            } else {
                for r in 0..nr {
                    match m {
                        2 => store::<1, 2>(res, nt, r, t, $kern::<$($T,)? 1, 2>(&ctx, r, t)),
                        3 => store::<1, 3>(res, nt, r, t, $kern::<$($T,)? 1, 3>(&ctx, r, t)),
                        4 => store::<1, 4>(res, nt, r, t, $kern::<$($T,)? 1, 4>(&ctx, r, t)),
                        5 => store::<1, 5>(res, nt, r, t, $kern::<$($T,)? 1, 5>(&ctx, r, t)),
                        6 => store::<1, 6>(res, nt, r, t, $kern::<$($T,)? 1, 6>(&ctx, r, t)),
                        7 => store::<1, 7>(res, nt, r, t, $kern::<$($T,)? 1, 7>(&ctx, r, t)),
                        _ => store::<1, 8>(res, nt, r, t, $kern::<$($T,)? 1, 8>(&ctx, r, t)),
                    }
                }
            }
            t += m;
        }
    }};
}

/// Walks a tile with the three kernels of a 32-element block type or a k-quant (AVX2): `$gemv`
/// (8 weight rows × 1 activation row) for decode, `$gemm8::<M>` (8 weight rows × M = 16 or
/// ≤ 8 activation rows) for batches, and `$gemm::<M>` (1 weight row) for the leftover rows;
/// with `@wide $gemm16 from N`, 16-row batched kernels first for batches of at least N rows;
/// with `@big $gemm16`, that kernel also takes 64 or 32 activation rows per call (decoding its
/// 16 weight rows once for all of them) while the tile's rows are whole groups of 16.
/// All of them give bit-identical results for the same (row, activation) pair.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_macros))]
macro_rules! reduced_tile_loop {
    ($gemv:ident, $gemm:ident, $gemm8:ident, $(@big $gemm_big:ident,)? $(@wide $gemm16:ident from $wide_m:literal,)?
     $ctx:expr, $nr:expr, $nt:expr, $res:expr) => {{
        let ctx = $ctx;
        let (nr, nt) = ($nr, $nt);
        let res: &mut [f32] = $res;
        if nt == 1 {
            let mut r = 0;
            while r + 8 <= nr {
                store::<8, 1>(res, 1, r, 0, $gemv(&ctx, r, 0));
                r += 8;
            }
            while r < nr {
                store::<1, 1>(res, 1, r, 0, $gemm::<1>(&ctx, r, 0));
                r += 1;
            }
        } else {
            let mut t = 0;
            $(
                if nr % 16 == 0 {
                    macro_rules! big {
                        ($m:literal) => {
                            while nt - t >= $m {
                                for r in (0..nr).step_by(16) {
                                    store::<16, $m>(res, nt, r, t, $gemm_big::<$m>(&ctx, r, t));
                                }
                                t += $m;
                            }
                        };
                    }
                    big!(64);
                    big!(32);
                }
            )?
            while t < nt {
                let m = if nt - t >= 16 { 16 } else { (nt - t).min(8) };
                macro_rules! rows {
                    ($m:literal) => {{
                        let mut r = 0;
                        $(
                            if $m >= $wide_m {
                                while r + 16 <= nr {
                                    store::<16, $m>(res, nt, r, t, $gemm16::<$m>(&ctx, r, t));
                                    r += 16;
                                }
                            }
                        )?
                        while r + 8 <= nr {
                            store::<8, $m>(res, nt, r, t, $gemm8::<$m>(&ctx, r, t));
                            r += 8;
                        }
                        while r < nr {
                            store::<1, $m>(res, nt, r, t, $gemm::<$m>(&ctx, r, t));
                            r += 1;
                        }
                    }};
                }
                match m {
                    16 => rows!(16),
                    1 => rows!(1),
                    2 => rows!(2),
                    3 => rows!(3),
                    4 => rows!(4),
                    5 => rows!(5),
                    6 => rows!(6),
                    7 => rows!(7),
                    _ => rows!(8),
                }
                t += m;
            }
        }
    }};
}

/// A tile's inputs: the tile's weight rows (typed) and the activations from row `t0` on.
pub(crate) struct Ctx<'a, W> {
    pub w: &'a [W],
    pub bpr: usize,
    pub a: &'a QActs,
    pub t0: usize,
}

impl<'a, W> Ctx<'a, W> {
    #[inline(always)]
    pub fn wrows<const R: usize>(&self, r: usize) -> [&'a [W]; R] {
        // (a loop rather than `array::from_fn`, whose closure is not inlined into the
        // target-feature kernels)
        let mut out: [&'a [W]; R] = [&[]; R];
        for (i, o) in out.iter_mut().enumerate() {
            *o = &self.w[(r + i) * self.bpr..(r + i + 1) * self.bpr];
        }
        out
    }

    /// Activation rows `t..t + M` (Q8_0 / Q8_1 partner formats).
    #[inline(always)]
    pub fn a32_rows<const M: usize>(&self, t: usize) -> [&'a [super::Act32]; M] {
        let mut out: [&'a [super::Act32]; M] = [&[]; M];
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.a.a32_row(t + j);
        }
        out
    }

    /// Activation rows `t..t + M` (Q8_K partner format).
    #[inline(always)]
    pub fn q8k_rows<const M: usize>(&self, t: usize) -> [&'a [crate::quant::blocks::BlockQ8K]; M] {
        let mut out: [&'a [crate::quant::blocks::BlockQ8K]; M] = [&[]; M];
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.a.q8k_row(t + j);
        }
        out
    }
}
