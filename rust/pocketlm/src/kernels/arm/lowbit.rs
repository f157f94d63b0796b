//! NEON kernels of Q2_K, Q3_K, IQ4_NL and IQ4_XS, instantiated per tier with its integer dot
//! (`neon.rs`: widening multiplies, `dotprod.rs`: SDOT; the i8mm tier uses the SDOT ones).
//!
//! Each weight block is decoded once to signed bytes in element order (IQ4 values by a table
//! lookup, `TBL`), and its exact integer sums with each activation row of the tile are reduced
//! to one i32 and added to that pair's f32 sum with the scalar reference's own f32 expression
//! (`scalar::dot_*`), in block order: bit-identical to the scalar reference (tested by
//! `new_formats_every_tier_bit_identical_to_scalar`, under qemu for these tiers).
//!
//! Ranges: the widening dot sums two products of |w| ≤ 127 and |y| ≤ 127 in i16; every
//! 16-element sub-block dot times its scale (≤ 32 in magnitude) stays far inside i32.

/// Instantiates the kernels of one tier in module `$module`, compiled with `$feat`, using
/// `$dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t`.
macro_rules! lowbit_kernels {
    ($module:ident, $feat:literal, $dot:ident) => {
        pub(super) mod $module {
            use core::arch::aarch64::*;
            use std::ops::Range;

            use super::$dot;
            use crate::kernels::{Act32, QActs, QMatrix, TileFn};
            use crate::quant::blocks::*;
            use crate::quant::GgmlType;

            /// The tile kernel of a format handled here.
            pub(in crate::kernels::arm) fn tile_fn(ty: GgmlType) -> Option<TileFn> {
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

            #[target_feature(enable = $feat)]
            #[inline]
            fn ld_i8(x: &[i8], at: usize) -> int8x16_t {
                let s: &[i8; 16] = x[at..at + 16].try_into().unwrap();
                // SAFETY: `s` is 16 readable bytes; `vld1q` has no alignment needs.
                unsafe { vld1q_s8(s.as_ptr()) }
            }

            #[target_feature(enable = $feat)]
            #[inline]
            fn ld_u8(x: &[u8], at: usize) -> uint8x16_t {
                let s: &[u8; 16] = x[at..at + 16].try_into().unwrap();
                // SAFETY: `s` is 16 readable bytes; `vld1q` has no alignment needs.
                unsafe { vld1q_u8(s.as_ptr()) }
            }

            /// 16 bytes of IQ4 indices as their 32 signed values (low nibbles first).
            #[target_feature(enable = $feat)]
            #[inline]
            fn iq4_decode(qs: &[u8]) -> [int8x16_t; 2] {
                let q = ld_u8(qs, 0);
                let table = ld_i8(&KVALUES_IQ4NL, 0);
                let lo = vandq_u8(q, vdupq_n_u8(0x0F));
                let hi = vshrq_n_u8::<4>(q);
                [vqtbl1q_s8(table, lo), vqtbl1q_s8(table, hi)]
            }

            /// The 2-bit values of a Q2_K / Q3_K block as 16 vectors of 16 elements in element
            /// order (vector `2(4n + j) + h` holds elements `128n + 32j + 16h..`).
            #[target_feature(enable = $feat)]
            #[inline]
            fn q2_decode(qs: &[u8; 64]) -> [int8x16_t; 16] {
                let m = vdupq_n_u8(3);
                let mut out = [vdupq_n_s8(0); 16];
                for n in 0..2 {
                    for h in 0..2 {
                        let q = ld_u8(qs, 32 * n + 16 * h);
                        for j in 0..4 {
                            let s = vshlq_u8(q, vdupq_n_s8(-2 * j as i8));
                            out[2 * (4 * n + j) + h] = vreinterpretq_s8_u8(vandq_u8(s, m));
                        }
                    }
                }
                out
            }

            /// `Σ_s scale[s] · Σ v[s] · y[16 s..]` over the 16 sub-blocks of 16.
            #[target_feature(enable = $feat)]
            #[inline]
            fn sum16(v: &[int8x16_t; 16], sc: &[i32; 16], y: &[i8; 256]) -> i32 {
                let mut p = vdupq_n_s32(0);
                for s in 0..16 {
                    let d = $dot(vdupq_n_s32(0), v[s], ld_i8(y, 16 * s));
                    p = vmlaq_n_s32(p, d, sc[s]);
                }
                vaddvq_s32(p)
            }

            /// Runs a tile: `decode` once per weight block, `contrib` (the scalar reference's
            /// f32 term of one block pair) per activation row, summed in block order from 0.0.
            macro_rules! lowbit_tile {
                ($tile:ident, $inner:ident, $W:ty, $A:ty, |$qa:ident, $t:ident| $row:expr,
                 |$b:ident| $decode:expr, |$x:ident, $dec:ident, $y:ident| $contrib:expr) => {
                    #[target_feature(enable = $feat)]
                    fn $inner(
                        w: &QMatrix,
                        a: &QActs,
                        rows: Range<usize>,
                        ts: Range<usize>,
                        res: &mut [f32],
                    ) {
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

                    fn $tile(
                        w: &QMatrix,
                        a: &QActs,
                        rows: Range<usize>,
                        ts: Range<usize>,
                        res: &mut [f32],
                    ) {
                        // SAFETY: `$inner` needs this tier's features; only tables of tiers with
                        // them hold this wrapper, and `Tier::kernels` hands a table out only on a
                        // CPU that has its features.
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
                    let p = $dot(vdupq_n_s32(0), v[0], ld_i8(&y.qs, 0));
                    let p = $dot(p, v[1], ld_i8(&y.qs, 16));
                    vaddvq_s32(p) as f32 * (f16_to_f32(x.d) * y.d)
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
                    let mut v = [vdupq_n_s8(0); 16];
                    for ib in 0..8 {
                        let [lo, hi] = iq4_decode(&b.qs[16 * ib..]);
                        v[2 * ib] = lo;
                        v[2 * ib + 1] = hi;
                    }
                    (v, sc)
                },
                |x, vs, y| {
                    let (v, sc) = &vs;
                    let mut p = vdupq_n_s32(0);
                    for ib in 0..8 {
                        let d = $dot(vdupq_n_s32(0), v[2 * ib], ld_i8(&y.qs, 32 * ib));
                        let d = $dot(d, v[2 * ib + 1], ld_i8(&y.qs, 32 * ib + 16));
                        p = vmlaq_n_s32(p, d, sc[ib] as i32);
                    }
                    f16_to_f32(x.d) * y.d * vaddvq_s32(p) as f32
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
                    let hm = [ld_u8(&b.hmask, 0), ld_u8(&b.hmask, 16)];
                    let four = vdupq_n_u8(4);
                    for c in 0..8 {
                        // bit c of hmask[l] is the high bit of element 32c + l
                        let bit = vdupq_n_u8(1 << c);
                        for h in 0..2 {
                            let set = vtstq_u8(hm[h], bit);
                            let off = vreinterpretq_s8_u8(vbicq_u8(four, set));
                            v[2 * c + h] = vsubq_s8(v[2 * c + h], off);
                        }
                    }
                    let sc = q3k_scales(&b.scales).map(|s| s as i32);
                    (v, sc)
                },
                |x, vs, y| {
                    let (v, sc) = &vs;
                    f16_to_f32(x.d) * y.d * sum16(v, sc, &y.qs) as f32
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
                    let sc = b.scales.map(|s| (s & 0x0F) as i32);
                    let mins = vmovl_u8(vshr_n_u8::<4>(vget_low_u8(ld_u8(&b.scales, 0))));
                    let mins_hi = vmovl_high_u8(vshrq_n_u8::<4>(ld_u8(&b.scales, 0)));
                    (v, sc, [vreinterpretq_s16_u16(mins), vreinterpretq_s16_u16(mins_hi)])
                },
                |x, vs, y| {
                    let (v, sc, mins) = &vs;
                    let sumi = sum16(v, sc, &y.qs);
                    // SAFETY: `bsums` is 16 readable i16 (this reads 0..8); `vld1q` has no
                    // alignment needs.
                    let b0 = unsafe { vld1q_s16(y.bsums.as_ptr()) };
                    // SAFETY: as above, elements 8..16.
                    let b1 = unsafe { vld1q_s16(y.bsums.as_ptr().add(8)) };
                    let m = vmull_s16(vget_low_s16(b0), vget_low_s16(mins[0]));
                    let m = vmlal_high_s16(m, b0, mins[0]);
                    let m = vmlal_s16(m, vget_low_s16(b1), vget_low_s16(mins[1]));
                    let m = vmlal_high_s16(m, b1, mins[1]);
                    let summ = vaddvq_s32(m);
                    let d = f16_to_f32(x.d) * y.d;
                    let dmin = f16_to_f32(x.dmin) * y.d;
                    d * sumi as f32 - dmin * summ as f32
                }
            );
        }
    };
}
