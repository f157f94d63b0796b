//! The interleaved weight layout written by `pocketlm convert`: groups of 8 consecutive rows
//! stored block column by block column, the 8 blocks' scales first and their quants after.
//!
//! Why: a decode kernel multiplies 8 weight rows at once. In ggml's row-major layout it reads 8
//! streams a row apart, gathers the 8 scales one by one and assembles the quants from 8 loads;
//! interleaved, one block column of 8 rows is one contiguous run (one load for the scales, one
//! 64-byte load per 4 rows' quants) and the whole matrix is one sequential stream, which the
//! hardware prefetcher follows. The bytes and the arithmetic are unchanged, so results are
//! bit-identical to the row-major file's.
//!
//! Layout of one group (rows `8g..8g + 8`) for block column `i`: `head(0) .. head(7)` then
//! `body(0) .. body(7)`, where `head` is a block's bytes before its quants (scale, minimum,
//! fifth bits) and `body` its quants. Groups follow each other; a group is `8 × row bytes`.
//!
//! Q4_K and Q6_K have layouts of their own, made for a dot product instruction that multiplies
//! 4 bytes of each of 4 rows by the same 4 activation bytes (SDOT by element): a group is two
//! halves of 4 rows (rows `8g..8g + 4`, then `8g + 4..8g + 8`), each half its super-block
//! columns one after the other. A Q4_K column ([`Q4K_COLUMN`] bytes, the 4 rows'
//! super-blocks) is
//! - `d` of the 4 rows (4 f16), then their `dmin` (4 f16): one load, two conversions;
//! - the 4 rows' 8 six-bit scales and 8 six-bit minimums, re-packed losslessly into the same 48
//!   bytes so that a few vector operations give them with one row per lane (`L0`, `L1`, `T`:
//!   see [`q4k_at`]);
//! - the quants in 32 units of 16 bytes: unit `u` is bytes `4u..4u + 4` of each row's `qs`,
//!   row after row, so one unit's low nibbles are 4 elements of one sub-block for the 4 rows.
//!
//! A Q6_K column ([`Q6K_COLUMN`]) holds the 16 scales of the 4 rows, then the quants as 16
//! triples of units of `ql`, `ql` and `qh` bytes (each 4 bytes per row), then the 4 `d`
//! ([`q6k_at`]).
//!
//! The integers and the f32 operations of the kernels are the row-major kernels', so the
//! results are the same bits here too.

use super::blocks::scales_mins_k4;
use super::GgmlType;

/// Rows per interleaved group.
pub const GROUP_ROWS: usize = 8;

/// How a weight matrix's blocks are ordered in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BlockLayout {
    /// ggml's layout: row after row.
    #[default]
    Rows,
    /// Groups of [`GROUP_ROWS`] rows interleaved block column by block column (see the module
    /// docs); only for [`head_bytes`] types and a row count that is a multiple of 8.
    Interleaved8,
}

/// Whether matrices of `ty` can be interleaved: the 32-element block types, Q4_K and Q6_K.
pub fn supports(ty: GgmlType) -> bool {
    head_bytes(ty).is_some() || lane_codec(ty).is_some()
}

/// Bytes of a block before its quants, for the 32-element block types (the ones interleaved as
/// head and body); `None` for the others.
pub fn head_bytes(ty: GgmlType) -> Option<usize> {
    Some(match ty {
        GgmlType::Q4_0 | GgmlType::Q8_0 => 2,
        GgmlType::Q4_1 => 4,
        GgmlType::Q5_0 => 6,
        GgmlType::Q5_1 => 8,
        _ => return None,
    })
}

/// The byte ranges of block column `i`, row `k` of a group: `(head start, body start)` within
/// the group, for blocks of `bb` bytes with `head` header bytes.
#[inline(always)]
fn offsets(bb: usize, head: usize, i: usize, k: usize) -> (usize, usize) {
    let col = i * GROUP_ROWS * bb;
    (col + k * head, col + GROUP_ROWS * head + k * (bb - head))
}

/// Interleaves a row-major matrix (`rows` × `row_bytes`). Panics if `ty` cannot be
/// interleaved, `rows` is not a multiple of 8 or `data` is not `rows` whole rows.
pub fn interleave(ty: GgmlType, data: &[u8], rows: usize) -> Vec<u8> {
    assert!(supports(ty), "{ty} cannot be interleaved");
    assert!(rows.is_multiple_of(GROUP_ROWS) && rows > 0, "{rows} rows");
    assert!(data.len().is_multiple_of(rows), "not {rows} whole rows");
    let row_bytes = data.len() / rows;
    if let Some(codec) = lane_codec(ty) {
        return lane_interleave(codec, data, row_bytes);
    }
    let head = head_bytes(ty).expect("a 32-element block type");
    let bb = ty.block_bytes();
    let nb = row_bytes / bb;
    let mut out = vec![0u8; data.len()];
    for (src, dst) in data
        .chunks_exact(GROUP_ROWS * row_bytes)
        .zip(out.chunks_exact_mut(GROUP_ROWS * row_bytes))
    {
        for k in 0..GROUP_ROWS {
            for i in 0..nb {
                let block = &src[k * row_bytes + i * bb..][..bb];
                let (h, b) = offsets(bb, head, i, k);
                dst[h..h + head].copy_from_slice(&block[..head]);
                dst[b..b + bb - head].copy_from_slice(&block[head..]);
            }
        }
    }
    out
}

/// The largest block of an interleavable type (Q6_K).
pub const MAX_BLOCK_BYTES: usize = Q6K_BLOCK;

/// Block column `i` of row `k` (`< 8`) of an interleaved group, reassembled into `out` (one
/// block's bytes).
pub fn group_block(ty: GgmlType, group: &[u8], i: usize, k: usize, out: &mut [u8]) {
    assert!(supports(ty), "{ty} cannot be interleaved");
    let bb = ty.block_bytes();
    assert!(k < GROUP_ROWS && out.len() == bb);
    if let Some(c) = lane_codec(ty) {
        let nb = group.len() / (GROUP_ROWS * c.block);
        let at = (k / LANE_ROWS * nb + i) * c.column();
        let mut rows = [[0u8; MAX_BLOCK_BYTES]; LANE_ROWS];
        (c.rows)(
            &group[at..][..c.column()],
            rows.each_mut().map(|r| &mut r[..c.block]),
        );
        out.copy_from_slice(&rows[k % LANE_ROWS][..c.block]);
        return;
    }
    let head = head_bytes(ty).expect("a 32-element block type");
    let (h, b) = offsets(bb, head, i, k);
    out[..head].copy_from_slice(&group[h..h + head]);
    out[head..].copy_from_slice(&group[b..b + bb - head]);
}

/// A whole interleaved group back to its 8 row-major rows (`out.len() == group.len()`).
pub fn deinterleave_group(ty: GgmlType, group: &[u8], out: &mut [u8]) {
    assert_eq!(group.len(), out.len());
    /// Fixed-size copies, block column by block column: prefill de-interleaves every weight
    /// once per pass (this order measured 15 GB/s, row by row 10-13).
    fn typed<const HEAD: usize, const BODY: usize, const BB: usize>(group: &[u8], out: &mut [u8]) {
        const { assert!(HEAD + BODY == BB) };
        let nb = out.len() / GROUP_ROWS / BB;
        let (cols, _) = group.as_chunks::<BB>();
        let (blocks, _) = out.as_chunks_mut::<BB>();
        for i in 0..nb {
            let (heads, bodies) = cols[i * GROUP_ROWS..][..GROUP_ROWS]
                .as_flattened()
                .split_at(GROUP_ROWS * HEAD);
            for k in 0..GROUP_ROWS {
                let block = &mut blocks[k * nb + i];
                block[..HEAD].copy_from_slice(&heads[k * HEAD..][..HEAD]);
                block[HEAD..].copy_from_slice(&bodies[k * BODY..][..BODY]);
            }
        }
    }
    match ty {
        GgmlType::Q4_0 => typed::<2, 16, 18>(group, out),
        GgmlType::Q4_1 => typed::<4, 16, 20>(group, out),
        GgmlType::Q5_0 => typed::<6, 16, 22>(group, out),
        GgmlType::Q5_1 => typed::<8, 16, 24>(group, out),
        GgmlType::Q8_0 => typed::<2, 32, 34>(group, out),
        _ => {
            let c = lane_codec(ty).unwrap_or_else(|| panic!("{ty} cannot be interleaved"));
            let row = out.len() / GROUP_ROWS;
            // the columns in order: each half's 4 rows, block after block
            let mut cols = group.chunks_exact(c.column());
            for half in out.chunks_exact_mut(LANE_ROWS * row) {
                let mut it = half.chunks_exact_mut(row);
                let mut rows: [&mut [u8]; LANE_ROWS] =
                    core::array::from_fn(|_| it.next().expect("a half holds 4 rows"));
                for i in 0..row / c.block {
                    let col = cols.next().expect("a column per block of each half");
                    (c.rows)(
                        col,
                        rows.each_mut().map(|r| &mut r[i * c.block..][..c.block]),
                    );
                }
            }
        }
    }
}

/// Rows of a k-quant column: one per lane of a 4-lane SDOT.
pub const LANE_ROWS: usize = 4;

/// How a k-quant is stored in columns of [`LANE_ROWS`] rows.
#[derive(Clone, Copy)]
struct LaneCodec {
    /// Bytes of one super-block.
    block: usize,
    /// Writes a column from the 4 rows' super-blocks.
    write: fn([&[u8]; LANE_ROWS], &mut [u8]),
    /// Reads the 4 rows' super-blocks back from a column.
    rows: fn(&[u8], [&mut [u8]; LANE_ROWS]),
}

impl LaneCodec {
    fn column(self) -> usize {
        LANE_ROWS * self.block
    }
}

fn lane_codec(ty: GgmlType) -> Option<LaneCodec> {
    Some(match ty {
        GgmlType::Q4_K => LaneCodec {
            block: Q4K_BLOCK,
            write: q4k_column,
            rows: q4k_rows,
        },
        GgmlType::Q6_K => LaneCodec {
            block: Q6K_BLOCK,
            write: q6k_column,
            rows: q6k_rows,
        },
        _ => return None,
    })
}

/// [`interleave`] for the k-quants: each group's two halves of 4 rows, column after column.
fn lane_interleave(c: LaneCodec, data: &[u8], row_bytes: usize) -> Vec<u8> {
    let nb = row_bytes / c.block;
    let mut out = vec![0u8; data.len()];
    for (src, dst) in data
        .chunks_exact(GROUP_ROWS * row_bytes)
        .zip(out.chunks_exact_mut(GROUP_ROWS * row_bytes))
    {
        for (n, col) in dst.chunks_exact_mut(c.column()).enumerate() {
            let (half, i) = (n / nb, n % nb);
            let blocks = core::array::from_fn(|r| {
                &src[(half * LANE_ROWS + r) * row_bytes + i * c.block..][..c.block]
            });
            (c.write)(blocks, col);
        }
    }
    out
}

/// Bytes of a Q4_K super-block.
const Q4K_BLOCK: usize = 144;
/// Bytes of one Q4_K column of 4 rows (see the module docs).
pub const Q4K_COLUMN: usize = LANE_ROWS * Q4K_BLOCK;
/// Where a Q4_K column's parts start: the 4 `d`, the 4 `dmin`, the scales' `L0`, `L1`, `T`
/// and the 32 units of quants.
pub mod q4k_at {
    /// The rows' `d` (4 f16).
    pub const D: usize = 0;
    /// The rows' `dmin` (4 f16).
    pub const DMIN: usize = 8;
    /// Byte `4s + r`: the low nibbles of row `r`'s scale and minimum of sub-block `s` (< 4).
    pub const L0: usize = 16;
    /// The same for sub-blocks `4 + s`.
    pub const L1: usize = 32;
    /// Byte `4s + r`: the top two bits of row `r`'s scale and minimum of sub-block `s` (bits 0-1,
    /// 2-3) and of sub-block `4 + s` (bits 4-5, 6-7).
    pub const T: usize = 48;
    /// The 32 units of 16 quant bytes.
    pub const QS: usize = 64;
}

/// One Q4_K column ([`Q4K_COLUMN`] bytes) from the 4 rows' super-blocks.
fn q4k_column(blocks: [&[u8]; LANE_ROWS], col: &mut [u8]) {
    assert_eq!(col.len(), Q4K_COLUMN);
    for (r, b) in blocks.iter().enumerate() {
        let b: &[u8; Q4K_BLOCK] = (*b).try_into().expect("a Q4_K super-block");
        col[q4k_at::D + 2 * r..][..2].copy_from_slice(&b[0..2]);
        col[q4k_at::DMIN + 2 * r..][..2].copy_from_slice(&b[2..4]);
        let (sc, m) = scales_mins_k4(b[4..16].try_into().unwrap());
        for s in 0..4 {
            let k = 4 * s + r;
            col[q4k_at::L0 + k] = (sc[s] & 15) | ((m[s] & 15) << 4);
            col[q4k_at::L1 + k] = (sc[s + 4] & 15) | ((m[s + 4] & 15) << 4);
            col[q4k_at::T + k] = (sc[s] >> 4)
                | ((m[s] >> 4) << 2)
                | ((sc[s + 4] >> 4) << 4)
                | ((m[s + 4] >> 4) << 6);
        }
        for u in 0..32 {
            col[q4k_at::QS + 16 * u + 4 * r..][..4].copy_from_slice(&b[16 + 4 * u..][..4]);
        }
    }
}

/// The 4 rows' super-blocks of a Q4_K column (the inverse of [`q4k_column`]). Prefill
/// de-interleaves every weight once per pass, so this is written for speed: fixed-size arrays
/// (no bounds checks in the loops), and ggml's 12 scale bytes straight from `L0`, `L1`, `T`
/// (byte `j` is `sc[j]` and the top bits of `sc[4 + j]`, byte `4 + j` the same for the
/// minimums, byte `8 + j` the low nibbles of `sc[4 + j]` and `m[4 + j]`, which is `L1`'s byte).
fn q4k_rows(col: &[u8], out: [&mut [u8]; LANE_ROWS]) {
    let col: &[u8; Q4K_COLUMN] = col.try_into().expect("a Q4_K column");
    let part = |at: usize| -> &[u8; 16] { col[at..at + 16].try_into().unwrap() };
    let (l0, l1, t) = (part(q4k_at::L0), part(q4k_at::L1), part(q4k_at::T));
    for (r, o) in out.into_iter().enumerate() {
        let o: &mut [u8; Q4K_BLOCK] = o.try_into().expect("a Q4_K super-block");
        o[0..2].copy_from_slice(&col[q4k_at::D + 2 * r..][..2]);
        o[2..4].copy_from_slice(&col[q4k_at::DMIN + 2 * r..][..2]);
        for j in 0..4 {
            let (a, b, t) = (l0[4 * j + r], l1[4 * j + r], t[4 * j + r]);
            o[4 + j] = (a & 15) | ((t & 0x03) << 4) | ((t & 0x30) << 2);
            o[8 + j] = (a >> 4) | ((t & 0x0C) << 2) | (t & 0xC0);
            o[12 + j] = b;
        }
        for u in 0..32 {
            o[16 + 4 * u..][..4].copy_from_slice(&col[q4k_at::QS + 16 * u + 4 * r..][..4]);
        }
    }
}

/// Bytes of a Q6_K super-block: `ql` (128), `qh` (64), the 16 scales (i8), `d`.
const Q6K_BLOCK: usize = 210;
/// Bytes of one Q6_K column of 4 rows (see the module docs).
pub const Q6K_COLUMN: usize = LANE_ROWS * Q6K_BLOCK;
/// Where a Q6_K column's parts start.
pub mod q6k_at {
    /// Byte `4s + r`: row `r`'s scale of sub-block `s` (16 sub-blocks of 16 elements).
    pub const SC: usize = 0;
    /// 16 triples of units `(A, B, H)`, triple `8n + e` (half `n` < 2 of the super-block, `e`
    /// < 8): bytes `4e..4e + 4` of `ql[64n..]` (A), of `ql[64n + 32..]` (B) and of `qh[32n..]`
    /// (H), each as 4 bytes per row, row after row. One triple gives 4 elements of 4
    /// sub-blocks for the 4 rows, as the row-major kernel's `ql` / `qh` loads give 16.
    pub const TRIPLES: usize = 64;
    /// The rows' `d` (4 f16).
    pub const D: usize = 832;
}

/// One Q6_K column ([`Q6K_COLUMN`] bytes) from the 4 rows' super-blocks.
fn q6k_column(blocks: [&[u8]; LANE_ROWS], col: &mut [u8]) {
    assert_eq!(col.len(), Q6K_COLUMN);
    for (r, b) in blocks.iter().enumerate() {
        assert_eq!(b.len(), Q6K_BLOCK);
        for s in 0..16 {
            col[q6k_at::SC + 4 * s + r] = b[192 + s];
        }
        for n in 0..2 {
            for e in 0..8 {
                let t = q6k_at::TRIPLES + 48 * (8 * n + e) + 4 * r;
                col[t..][..4].copy_from_slice(&b[64 * n + 4 * e..][..4]);
                col[t + 16..][..4].copy_from_slice(&b[64 * n + 32 + 4 * e..][..4]);
                col[t + 32..][..4].copy_from_slice(&b[128 + 32 * n + 4 * e..][..4]);
            }
        }
        col[q6k_at::D + 2 * r..][..2].copy_from_slice(&b[208..210]);
    }
}

/// The 4 rows' super-blocks of a Q6_K column (the inverse of [`q6k_column`]), on fixed-size
/// arrays as [`q4k_rows`].
fn q6k_rows(col: &[u8], out: [&mut [u8]; LANE_ROWS]) {
    let col: &[u8; Q6K_COLUMN] = col.try_into().expect("a Q6_K column");
    for (r, o) in out.into_iter().enumerate() {
        let o: &mut [u8; Q6K_BLOCK] = o.try_into().expect("a Q6_K super-block");
        for s in 0..16 {
            o[192 + s] = col[q6k_at::SC + 4 * s + r];
        }
        for n in 0..2 {
            for e in 0..8 {
                let t = q6k_at::TRIPLES + 48 * (8 * n + e) + 4 * r;
                o[64 * n + 4 * e..][..4].copy_from_slice(&col[t..][..4]);
                o[64 * n + 32 + 4 * e..][..4].copy_from_slice(&col[t + 16..][..4]);
                o[128 + 32 * n + 4 * e..][..4].copy_from_slice(&col[t + 32..][..4]);
            }
        }
        o[208..210].copy_from_slice(&col[q6k_at::D + 2 * r..][..2]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips_and_moves_every_byte() {
        for ty in [
            GgmlType::Q4_0,
            GgmlType::Q4_1,
            GgmlType::Q5_0,
            GgmlType::Q5_1,
            GgmlType::Q8_0,
            GgmlType::Q4_K,
            GgmlType::Q6_K,
        ] {
            let (rows, nb) = (16, 3);
            let row_bytes = nb * ty.block_bytes();
            let data: Vec<u8> = (0..rows * row_bytes)
                .map(|i| (i * 7 + i / 251) as u8)
                .collect();
            let inter = interleave(ty, &data, rows);
            assert_ne!(inter, data, "{ty}");
            if let Some(head) = head_bytes(ty) {
                // the first group starts with the 8 heads of block column 0
                for k in 0..GROUP_ROWS {
                    assert_eq!(
                        inter[k * head..][..head],
                        data[k * row_bytes..][..head],
                        "{ty}"
                    );
                }
            } else if ty == GgmlType::Q4_K {
                // the first column starts with rows 0..4's d
                for r in 0..4 {
                    assert_eq!(inter[2 * r..][..2], data[r * row_bytes..][..2], "{ty}");
                }
            }
            let mut back = vec![0u8; data.len()];
            for (g, o) in inter
                .chunks_exact(8 * row_bytes)
                .zip(back.chunks_exact_mut(8 * row_bytes))
            {
                deinterleave_group(ty, g, o);
            }
            assert_eq!(back, data, "{ty}");
            // every block column of every row reads back the same
            let mut block = [0u8; MAX_BLOCK_BYTES];
            let bb = ty.block_bytes();
            for k in 0..GROUP_ROWS {
                for i in 0..nb {
                    group_block(
                        ty,
                        &inter[8 * row_bytes..][..8 * row_bytes],
                        i,
                        k,
                        &mut block[..bb],
                    );
                    let want = &data[(8 + k) * row_bytes + i * bb..][..bb];
                    assert_eq!(&block[..bb], want, "{ty} row {k} block {i}");
                }
            }
        }
    }

    /// ggml's Q4_K scale packing is a bijection of 96 bits, so any 12 scale bytes (and any
    /// other bytes) of 4 super-blocks come back from their column.
    #[test]
    fn q4k_columns_round_trip_any_bytes() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..500 {
            let mut blocks = [[0u8; Q4K_BLOCK]; LANE_ROWS];
            for b in blocks.iter_mut().flatten() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let mut col = [0u8; Q4K_COLUMN];
            q4k_column(blocks.each_ref().map(|b| &b[..]), &mut col);
            let mut back = [[0u8; Q4K_BLOCK]; LANE_ROWS];
            q4k_rows(&col, back.each_mut().map(|b| &mut b[..]));
            assert_eq!(back, blocks);
        }
    }

    #[test]
    #[should_panic(expected = "cannot be interleaved")]
    fn other_k_quants_are_not_interleaved() {
        interleave(GgmlType::Q5_K, &[0; 176 * 8], 8);
    }
}
