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

/// Bytes of a block before its quants, for the types that can be interleaved (the 32-element
/// block types); `None` for the others.
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
    let head = head_bytes(ty).unwrap_or_else(|| panic!("{ty} cannot be interleaved"));
    assert!(rows.is_multiple_of(GROUP_ROWS) && rows > 0, "{rows} rows");
    assert!(data.len().is_multiple_of(rows), "not {rows} whole rows");
    let bb = ty.block_bytes();
    let row_bytes = data.len() / rows;
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

/// The largest block of an interleavable type (Q8_0).
pub const MAX_BLOCK_BYTES: usize = 34;

/// Block column `i` of row `k` (`< 8`) of an interleaved group, reassembled into `out` (one
/// block's bytes).
pub fn group_block(ty: GgmlType, group: &[u8], i: usize, k: usize, out: &mut [u8]) {
    let head = head_bytes(ty).unwrap_or_else(|| panic!("{ty} cannot be interleaved"));
    let bb = ty.block_bytes();
    assert!(k < GROUP_ROWS && out.len() == bb);
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
        _ => panic!("{ty} cannot be interleaved"),
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
        ] {
            let (rows, nb) = (16, 3);
            let row_bytes = nb * ty.block_bytes();
            let data: Vec<u8> = (0..rows * row_bytes)
                .map(|i| (i * 7 + i / 251) as u8)
                .collect();
            let inter = interleave(ty, &data, rows);
            assert_ne!(inter, data, "{ty}");
            // the first group starts with the 8 heads of block column 0
            let head = head_bytes(ty).unwrap();
            for k in 0..GROUP_ROWS {
                assert_eq!(
                    inter[k * head..][..head],
                    data[k * row_bytes..][..head],
                    "{ty}"
                );
            }
            let mut back = vec![0u8; data.len()];
            for (g, o) in inter
                .chunks_exact(8 * row_bytes)
                .zip(back.chunks_exact_mut(8 * row_bytes))
            {
                deinterleave_group(ty, g, o);
            }
            assert_eq!(back, data, "{ty}");
        }
    }

    #[test]
    #[should_panic(expected = "cannot be interleaved")]
    fn k_quants_are_not_interleaved() {
        interleave(GgmlType::Q4_K, &[0; 144 * 8], 8);
    }
}
