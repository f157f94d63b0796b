//! ggml block layouts, byte for byte (`#[repr(C)]`, no padding), viewable in place over
//! borrowed (mmap'ed) tensor bytes with `bytemuck::try_cast_slice`.
//!
//! Scales are kept as raw IEEE half bits (`u16`); [`f16_to_f32`] converts them.

use bytemuck::{Pod, Zeroable};

/// Elements in a "small" block (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1).
pub const QK: usize = 32;
/// Elements in a k-quant super-block (Q4_K, Q5_K, Q6_K, Q8_K).
pub const QK_K: usize = 256;

/// Converts raw f16 bits to f32 (exact).
#[inline(always)]
pub fn f16_to_f32(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
}

/// Converts f32 to raw f16 bits, rounding to nearest even like ggml's `GGML_FP32_TO_FP16`.
#[inline(always)]
pub fn f32_to_f16(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

/// 4-bit, symmetric: `x = d * (q - 8)`. Element `j < 16` is the low nibble of `qs[j]`,
/// element `j + 16` its high nibble.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ4_0 {
    /// Block scale (f16 bits).
    pub d: u16,
    /// The quants, packed as described above.
    pub qs: [u8; QK / 2],
}

/// 4-bit with minimum: `x = d * q + m`; nibble order as [`BlockQ4_0`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ4_1 {
    /// Block scale (f16 bits).
    pub d: u16,
    /// Block minimum (f16 bits).
    pub m: u16,
    /// The quants, packed as described above.
    pub qs: [u8; QK / 2],
}

/// 5-bit, symmetric: `x = d * (q - 16)`; bit 4 of element `j` is bit `j` of the little-endian
/// `u32` in `qh`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ5_0 {
    /// Block scale (f16 bits).
    pub d: u16,
    /// The quants' high bits.
    pub qh: [u8; 4],
    /// The quants, packed as described above.
    pub qs: [u8; QK / 2],
}

/// 5-bit with minimum: `x = d * q + m`; bit layout as [`BlockQ5_0`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ5_1 {
    /// Block scale (f16 bits).
    pub d: u16,
    /// Block minimum (f16 bits).
    pub m: u16,
    /// The quants' high bits.
    pub qh: [u8; 4],
    /// The quants, packed as described above.
    pub qs: [u8; QK / 2],
}

/// 8-bit, symmetric: `x = d * q`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ8_0 {
    /// Block scale (f16 bits).
    pub d: u16,
    /// The quants.
    pub qs: [i8; QK],
}

/// 8-bit with the block sum: `x = d * q`, `s = d * sum(q)` (both f16).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ8_1 {
    /// Block scale (f16 bits).
    pub d: u16,
    /// `d * sum(qs)` (f16 bits).
    pub s: u16,
    /// The quants.
    pub qs: [i8; QK],
}

/// 4-bit k-quant: 8 sub-blocks of 32 with 6-bit scales and mins packed in `scales`;
/// `x = d * sc * q - dmin * m`. Each 32 bytes of `qs` hold 64 elements: low nibbles first.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ4K {
    /// Block scale (f16 bits).
    pub d: u16,
    /// Scale of the sub-block mins (f16 bits).
    pub dmin: u16,
    /// Sub-block scales (and mins), packed.
    pub scales: [u8; 12],
    /// The quants, packed as described above.
    pub qs: [u8; QK_K / 2],
}

/// 5-bit k-quant: as [`BlockQ4K`] plus one high bit per element in `qh`
/// (bit `2j` / `2j+1` of `qh[l]` for the low / high nibble of chunk `j`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ5K {
    /// Block scale (f16 bits).
    pub d: u16,
    /// Scale of the sub-block mins (f16 bits).
    pub dmin: u16,
    /// Sub-block scales (and mins), packed.
    pub scales: [u8; 12],
    /// The quants' high bits.
    pub qh: [u8; QK_K / 8],
    /// The quants, packed as described above.
    pub qs: [u8; QK_K / 2],
}

/// 6-bit k-quant: 16 sub-blocks of 16 with signed 8-bit scales; `x = d * sc * (q - 32)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ6K {
    /// The quants' low 4 bits.
    pub ql: [u8; QK_K / 2],
    /// The quants' high bits.
    pub qh: [u8; QK_K / 4],
    /// Sub-block scales (and mins), packed.
    pub scales: [i8; QK_K / 16],
    /// Block scale (f16 bits).
    pub d: u16,
}

/// 8-bit activation super-block for k-quant dots: f32 scale, sums of each 16 quants.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ8K {
    /// Block scale.
    pub d: f32,
    /// The quants.
    pub qs: [i8; QK_K],
    /// Sum of each 16 quants.
    pub bsums: [i16; QK_K / 16],
}

/// 2-bit k-quant: 16 sub-blocks of 16 with 4-bit scales (low nibble of `scales[s]`) and 4-bit
/// mins (high nibble); `x = d * sc * q - dmin * m`. Element `128n + 32j + l` (`l < 32`) is bits
/// `2j, 2j + 1` of `qs[32n + l]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ2K {
    /// Sub-block scales (low nibbles) and mins (high nibbles).
    pub scales: [u8; QK_K / 16],
    /// The quants, 4 per byte as described above.
    pub qs: [u8; QK_K / 4],
    /// Block scale (f16 bits).
    pub d: u16,
    /// Scale of the sub-block mins (f16 bits).
    pub dmin: u16,
}

/// 3-bit k-quant: 16 sub-blocks of 16 with 6-bit scales packed in `scales` (offset by 32);
/// `x = d * (sc - 32) * (q - 4 * !h)` where `q` is 2 bits laid out as in [`BlockQ2K`] and `h`
/// is bit `4n + j` of `hmask[l]` for element `128n + 32j + l`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ3K {
    /// The quants' high bits (set: no -4 offset).
    pub hmask: [u8; QK_K / 8],
    /// The quants' low 2 bits.
    pub qs: [u8; QK_K / 4],
    /// Sub-block scales, 6 bits each, packed ([`q3k_scales`]).
    pub scales: [u8; 12],
    /// Block scale (f16 bits).
    pub d: u16,
}

/// Non-linear 4-bit: `x = d * KVALUES_IQ4NL[q]`; nibble order as [`BlockQ4_0`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockIQ4NL {
    /// Block scale (f16 bits).
    pub d: u16,
    /// The 4-bit indices into [`KVALUES_IQ4NL`].
    pub qs: [u8; QK / 2],
}

/// Non-linear 4-bit super-block: 8 sub-blocks of 32 with 6-bit scales (offset by 32; low 4
/// bits in `scales_l`, high 2 bits in `scales_h`); `x = d * (ls - 32) * KVALUES_IQ4NL[q]`.
/// Sub-block `ib` is `qs[16 ib..16 ib + 16]` in [`BlockQ4_0`]'s nibble order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockIQ4XS {
    /// Block scale (f16 bits).
    pub d: u16,
    /// High 2 bits of the 8 sub-block scales (bits `2 ib, 2 ib + 1`).
    pub scales_h: u16,
    /// Low 4 bits of the sub-block scales (sub-block `ib` in nibble `ib % 2` of byte `ib / 2`).
    pub scales_l: [u8; QK_K / 64],
    /// The 4-bit indices into [`KVALUES_IQ4NL`].
    pub qs: [u8; QK_K / 2],
}

/// The 16 values the 4-bit indices of IQ4_NL / IQ4_XS stand for (ggml's `kvalues_iq4nl`).
pub const KVALUES_IQ4NL: [i8; 16] = [
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/// The 16 sub-block scales of a Q3_K block, 6 bits unpacked and offset by -32 (-32..=31):
/// the low 4 bits of scale `s` are nibble `s / 8` of `scales[s % 8]`, the high 2 bits are
/// bits `2 (s / 4)..` of `scales[8 + s % 4]`.
#[inline(always)]
pub fn q3k_scales(q: &[u8; 12]) -> [i8; 16] {
    let mut out = [0i8; 16];
    for (s, o) in out.iter_mut().enumerate() {
        let low = (q[s % 8] >> (4 * (s / 8))) & 0x0F;
        let high = (q[8 + s % 4] >> (2 * (s / 4))) & 3;
        *o = (low | (high << 4)) as i8 - 32;
    }
    out
}

/// The 8 sub-block scales of an IQ4_XS block, offset by -32 (-32..=31).
#[inline(always)]
pub fn iq4xs_scales(b: &BlockIQ4XS) -> [i8; 8] {
    let mut out = [0i8; 8];
    for (ib, o) in out.iter_mut().enumerate() {
        let low = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0F;
        let high = ((b.scales_h >> (2 * ib)) & 3) as u8;
        *o = (low | (high << 4)) as i8 - 32;
    }
    out
}

const _: () = {
    assert!(std::mem::size_of::<BlockQ4_0>() == 18);
    assert!(std::mem::size_of::<BlockQ4_1>() == 20);
    assert!(std::mem::size_of::<BlockQ5_0>() == 22);
    assert!(std::mem::size_of::<BlockQ5_1>() == 24);
    assert!(std::mem::size_of::<BlockQ8_0>() == 34);
    assert!(std::mem::size_of::<BlockQ8_1>() == 36);
    assert!(std::mem::size_of::<BlockQ4K>() == 144);
    assert!(std::mem::size_of::<BlockQ5K>() == 176);
    assert!(std::mem::size_of::<BlockQ6K>() == 210);
    assert!(std::mem::size_of::<BlockQ8K>() == 292);
    assert!(std::mem::size_of::<BlockQ2K>() == 84);
    assert!(std::mem::size_of::<BlockQ3K>() == 110);
    assert!(std::mem::size_of::<BlockIQ4NL>() == 18);
    assert!(std::mem::size_of::<BlockIQ4XS>() == 136);
};

/// Unpacks the 6-bit scale and min of sub-block `j` (0..8) of a Q4_K / Q5_K block
/// (ggml's `get_scale_min_k4`).
#[inline(always)]
pub fn scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// All 8 scales and 8 mins of a Q4_K / Q5_K block.
#[inline(always)]
pub fn scales_mins_k4(q: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    for j in 0..8 {
        let (s, m) = scale_min_k4(j, q);
        sc[j] = s;
        mn[j] = m;
    }
    (sc, mn)
}

/// The 8 6-bit scales and 8 6-bit mins of a Q4_K / Q5_K super-block (12 packed bytes), as 8
/// bytes each (little-endian u64s): the same values as `scales_mins_k4`, with word operations.
/// Sub-blocks 0..4 keep their scale and min in the low 6 bits of bytes 0..4 and 4..8; sub-blocks
/// 4..8 have their low 4 bits in the nibbles of bytes 8..12 and their top 2 bits in the top 2
/// bits of bytes 0..4 (scales) and 4..8 (mins).
#[inline(always)]
pub fn scales_mins_k4_words(q: &[u8; 12]) -> (u64, u64) {
    let w = |i: usize| u32::from_le_bytes([q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3]]);
    let (w0, w1, w2) = (w(0), w(1), w(2));
    const LOW6: u32 = 0x3f3f_3f3f;
    const LOW4: u32 = 0x0f0f_0f0f;
    const LOW2: u32 = 0x0303_0303;
    let sc_lo = w0 & LOW6;
    let mn_lo = w1 & LOW6;
    let sc_hi = (w2 & LOW4) | (((w0 >> 6) & LOW2) << 4);
    let mn_hi = ((w2 >> 4) & LOW4) | (((w1 >> 6) & LOW2) << 4);
    (
        sc_lo as u64 | (sc_hi as u64) << 32,
        mn_lo as u64 | (mn_hi as u64) << 32,
    )
}

/// Exact f16 → f32 from bits with integer ops and one multiply (no FP16 instructions needed;
/// the NEON kernels use it on cores without FEAT_FP16 conversions in stable intrinsics).
#[inline(always)]
pub fn f16_to_f32_soft(h: u16) -> f32 {
    let em = (h & 0x7fff) as u32;
    let sign = ((h & 0x8000) as u32) << 16;
    let mag = if em >= 0x7c00 {
        // inf / NaN: keep the payload
        (em << 13) | 0x7f80_0000
    } else {
        // normal and subnormal: reinterpret with the f32 exponent bias, then rescale by 2^112
        (f32::from_bits(em << 13) * f32::from_bits(0x7780_0000)).to_bits()
    };
    f32::from_bits(mag | sign)
}

#[cfg(test)]
mod tests {
    use super::{scales_mins_k4, scales_mins_k4_words};

    #[test]
    fn scales_mins_words_match_reference() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let mut q = [0u8; 12];
            for b in &mut q {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let (sc, mn) = scales_mins_k4(&q);
            let (ws, wm) = scales_mins_k4_words(&q);
            assert_eq!((ws.to_le_bytes(), wm.to_le_bytes()), (sc, mn), "{q:?}");
        }
    }
}
