//! Scalar dequantization (the reference every kernel is tested against).

use super::blocks::*;
use super::{GgmlType, QuantError};

/// Views `data` as blocks of `T`, checking length and alignment.
pub(crate) fn view<T: bytemuck::Pod>(ty: GgmlType, data: &[u8]) -> Result<&[T], QuantError> {
    bytemuck::try_cast_slice(data).map_err(|e| match e {
        bytemuck::PodCastError::TargetAlignmentGreaterAndInputNotAligned => {
            QuantError::Misaligned {
                ty,
                align: std::mem::align_of::<T>(),
            }
        }
        _ => QuantError::LengthMismatch {
            ty,
            what: "data bytes (not a whole number of blocks)",
            expected: data.len() / std::mem::size_of::<T>() * std::mem::size_of::<T>(),
            got: data.len(),
        },
    })
}

/// Dequantizes one row (or any whole number of blocks) of `ty` into `out`.
///
/// `out.len()` is the element count; `data` must hold exactly that many elements.
pub fn dequantize_row(ty: GgmlType, data: &[u8], out: &mut [f32]) -> Result<(), QuantError> {
    let n = out.len();
    let bl = ty.block_len();
    if !n.is_multiple_of(bl) {
        return Err(QuantError::NotBlockMultiple {
            ty,
            n,
            block_len: bl,
        });
    }
    let expected = n / bl * ty.block_bytes();
    if data.len() != expected {
        return Err(QuantError::LengthMismatch {
            ty,
            what: "data bytes",
            expected,
            got: data.len(),
        });
    }
    match ty {
        GgmlType::F32 => {
            for (o, c) in out.iter_mut().zip(data.chunks_exact(4)) {
                *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        GgmlType::F16 => {
            for (o, c) in out.iter_mut().zip(data.chunks_exact(2)) {
                *o = f16_to_f32(u16::from_le_bytes([c[0], c[1]]));
            }
        }
        GgmlType::BF16 => {
            for (o, c) in out.iter_mut().zip(data.chunks_exact(2)) {
                *o = f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16);
            }
        }
        GgmlType::Q4_0 => {
            for (b, o) in view::<BlockQ4_0>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK))
            {
                dequant_q4_0(b, o.try_into().unwrap());
            }
        }
        GgmlType::Q4_1 => {
            for (b, o) in view::<BlockQ4_1>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK))
            {
                dequant_q4_1(b, o.try_into().unwrap());
            }
        }
        GgmlType::Q5_0 => {
            for (b, o) in view::<BlockQ5_0>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK))
            {
                dequant_q5_0(b, o.try_into().unwrap());
            }
        }
        GgmlType::Q5_1 => {
            for (b, o) in view::<BlockQ5_1>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK))
            {
                dequant_q5_1(b, o.try_into().unwrap());
            }
        }
        GgmlType::Q8_0 => {
            for (b, o) in view::<BlockQ8_0>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK))
            {
                let d = f16_to_f32(b.d);
                for (o, &q) in o.iter_mut().zip(b.qs.iter()) {
                    *o = d * q as f32;
                }
            }
        }
        GgmlType::Q8_1 => {
            for (b, o) in view::<BlockQ8_1>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK))
            {
                let d = f16_to_f32(b.d);
                for (o, &q) in o.iter_mut().zip(b.qs.iter()) {
                    *o = d * q as f32;
                }
            }
        }
        GgmlType::Q4_K => {
            for (b, o) in view::<BlockQ4K>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK_K))
            {
                dequant_q4_k(b, o.try_into().unwrap());
            }
        }
        GgmlType::Q5_K => {
            for (b, o) in view::<BlockQ5K>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK_K))
            {
                dequant_q5_k(b, o.try_into().unwrap());
            }
        }
        GgmlType::Q6_K => {
            for (b, o) in view::<BlockQ6K>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK_K))
            {
                dequant_q6_k(b, o.try_into().unwrap());
            }
        }
        GgmlType::Q8_K => {
            for (b, o) in view::<BlockQ8K>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK_K))
            {
                for (o, &q) in o.iter_mut().zip(b.qs.iter()) {
                    *o = b.d * q as f32;
                }
            }
        }
        GgmlType::Q2_K => {
            for (b, o) in view::<BlockQ2K>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK_K))
            {
                dequant_q2_k(b, o.try_into().unwrap());
            }
        }
        GgmlType::Q3_K => {
            for (b, o) in view::<BlockQ3K>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK_K))
            {
                dequant_q3_k(b, o.try_into().unwrap());
            }
        }
        GgmlType::IQ4_NL => {
            for (b, o) in view::<BlockIQ4NL>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK))
            {
                let d = f16_to_f32(b.d);
                for (o, q) in o.iter_mut().zip(iq4_values(&b.qs)) {
                    *o = d * q as f32;
                }
            }
        }
        GgmlType::IQ4_XS => {
            for (b, o) in view::<BlockIQ4XS>(ty, data)?
                .iter()
                .zip(out.chunks_exact_mut(QK_K))
            {
                let d = f16_to_f32(b.d);
                let sc = iq4xs_scales(b);
                for (ib, o) in o.chunks_exact_mut(QK).enumerate() {
                    let dl = d * sc[ib] as f32;
                    let q = iq4_values(b.qs[16 * ib..16 * ib + 16].try_into().unwrap());
                    for (o, q) in o.iter_mut().zip(q) {
                        *o = dl * q as f32;
                    }
                }
            }
        }
    }
    Ok(())
}

fn dequant_q4_0(b: &BlockQ4_0, o: &mut [f32; QK]) {
    let d = f16_to_f32(b.d);
    for j in 0..QK / 2 {
        o[j] = ((b.qs[j] & 0x0F) as i32 - 8) as f32 * d;
        o[j + QK / 2] = ((b.qs[j] >> 4) as i32 - 8) as f32 * d;
    }
}

fn dequant_q4_1(b: &BlockQ4_1, o: &mut [f32; QK]) {
    let d = f16_to_f32(b.d);
    let m = f16_to_f32(b.m);
    for j in 0..QK / 2 {
        o[j] = (b.qs[j] & 0x0F) as f32 * d + m;
        o[j + QK / 2] = (b.qs[j] >> 4) as f32 * d + m;
    }
}

/// The 5-bit values (0..=31) of a Q5_0 / Q5_1 block.
#[inline(always)]
pub(crate) fn q5_values(qh: &[u8; 4], qs: &[u8; QK / 2]) -> [u8; QK] {
    let h = u32::from_le_bytes(*qh);
    let mut v = [0u8; QK];
    for j in 0..QK / 2 {
        v[j] = (qs[j] & 0x0F) | ((((h >> j) & 1) as u8) << 4);
        v[j + QK / 2] = (qs[j] >> 4) | ((((h >> (j + 16)) & 1) as u8) << 4);
    }
    v
}

fn dequant_q5_0(b: &BlockQ5_0, o: &mut [f32; QK]) {
    let d = f16_to_f32(b.d);
    for (o, q) in o.iter_mut().zip(q5_values(&b.qh, &b.qs)) {
        *o = (q as i32 - 16) as f32 * d;
    }
}

fn dequant_q5_1(b: &BlockQ5_1, o: &mut [f32; QK]) {
    let d = f16_to_f32(b.d);
    let m = f16_to_f32(b.m);
    for (o, q) in o.iter_mut().zip(q5_values(&b.qh, &b.qs)) {
        *o = q as f32 * d + m;
    }
}

/// The 4-bit values (0..=15) of a Q4_K block in element order.
#[inline(always)]
pub(crate) fn q4k_values(qs: &[u8; QK_K / 2]) -> [u8; QK_K] {
    let mut v = [0u8; QK_K];
    for j in 0..QK_K / 64 {
        for l in 0..32 {
            let q = qs[32 * j + l];
            v[64 * j + l] = q & 0x0F;
            v[64 * j + 32 + l] = q >> 4;
        }
    }
    v
}

/// The 5-bit values (0..=31) of a Q5_K block in element order.
#[inline(always)]
pub(crate) fn q5k_values(qh: &[u8; QK_K / 8], qs: &[u8; QK_K / 2]) -> [u8; QK_K] {
    let mut v = q4k_values(qs);
    for j in 0..QK_K / 64 {
        for l in 0..32 {
            v[64 * j + l] |= ((qh[l] >> (2 * j)) & 1) << 4;
            v[64 * j + 32 + l] |= ((qh[l] >> (2 * j + 1)) & 1) << 4;
        }
    }
    v
}

/// The 6-bit values (0..=63, not yet offset by -32) of a Q6_K block in element order.
#[inline(always)]
pub(crate) fn q6k_values(ql: &[u8; QK_K / 2], qh: &[u8; QK_K / 4]) -> [u8; QK_K] {
    let mut v = [0u8; QK_K];
    for n in 0..2 {
        let ql = &ql[64 * n..64 * n + 64];
        let qh = &qh[32 * n..32 * n + 32];
        let v = &mut v[128 * n..128 * n + 128];
        for l in 0..32 {
            v[l] = (ql[l] & 0x0F) | ((qh[l] & 3) << 4);
            v[l + 32] = (ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4);
            v[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            v[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
    v
}

fn dequant_q4_k(b: &BlockQ4K, o: &mut [f32; QK_K]) {
    let d = f16_to_f32(b.d);
    let dmin = f16_to_f32(b.dmin);
    let v = q4k_values(&b.qs);
    for s in 0..8 {
        let (sc, m) = scale_min_k4(s, &b.scales);
        let d1 = d * sc as f32;
        let m1 = dmin * m as f32;
        for l in 0..32 {
            o[32 * s + l] = d1 * v[32 * s + l] as f32 - m1;
        }
    }
}

fn dequant_q5_k(b: &BlockQ5K, o: &mut [f32; QK_K]) {
    let d = f16_to_f32(b.d);
    let dmin = f16_to_f32(b.dmin);
    let v = q5k_values(&b.qh, &b.qs);
    for s in 0..8 {
        let (sc, m) = scale_min_k4(s, &b.scales);
        let d1 = d * sc as f32;
        let m1 = dmin * m as f32;
        for l in 0..32 {
            o[32 * s + l] = d1 * v[32 * s + l] as f32 - m1;
        }
    }
}

fn dequant_q6_k(b: &BlockQ6K, o: &mut [f32; QK_K]) {
    let d = f16_to_f32(b.d);
    let v = q6k_values(&b.ql, &b.qh);
    for (i, (o, q)) in o.iter_mut().zip(v).enumerate() {
        *o = d * b.scales[i / 16] as f32 * (q as i32 - 32) as f32;
    }
}

/// The 32 signed values (`KVALUES_IQ4NL[q]`) of 16 bytes of IQ4_NL / IQ4_XS indices.
#[inline(always)]
pub(crate) fn iq4_values(qs: &[u8; QK / 2]) -> [i8; QK] {
    let mut v = [0i8; QK];
    for j in 0..QK / 2 {
        v[j] = KVALUES_IQ4NL[(qs[j] & 0x0F) as usize];
        v[j + QK / 2] = KVALUES_IQ4NL[(qs[j] >> 4) as usize];
    }
    v
}

/// The 2-bit values (0..=3) of a Q2_K / Q3_K block's `qs` in element order.
#[inline(always)]
pub(crate) fn q2_values(qs: &[u8; QK_K / 4]) -> [u8; QK_K] {
    let mut v = [0u8; QK_K];
    for n in 0..2 {
        for j in 0..4 {
            for l in 0..32 {
                v[128 * n + 32 * j + l] = (qs[32 * n + l] >> (2 * j)) & 3;
            }
        }
    }
    v
}

/// The signed 3-bit values (-4..=3) of a Q3_K block in element order.
#[inline(always)]
pub(crate) fn q3k_values(b: &BlockQ3K) -> [i8; QK_K] {
    let low = q2_values(&b.qs);
    let mut v = [0i8; QK_K];
    for (e, o) in v.iter_mut().enumerate() {
        let (n, j, l) = (e / 128, (e / 32) % 4, e % 32);
        let high = (b.hmask[l] >> (4 * n + j)) & 1;
        *o = low[e] as i8 - if high == 0 { 4 } else { 0 };
    }
    v
}

fn dequant_q2_k(b: &BlockQ2K, o: &mut [f32; QK_K]) {
    let d = f16_to_f32(b.d);
    let dmin = f16_to_f32(b.dmin);
    let v = q2_values(&b.qs);
    for s in 0..16 {
        let dl = d * (b.scales[s] & 0x0F) as f32;
        let ml = dmin * (b.scales[s] >> 4) as f32;
        for l in 0..16 {
            o[16 * s + l] = dl * v[16 * s + l] as f32 - ml;
        }
    }
}

fn dequant_q3_k(b: &BlockQ3K, o: &mut [f32; QK_K]) {
    let d = f16_to_f32(b.d);
    let sc = q3k_scales(&b.scales);
    let v = q3k_values(b);
    for s in 0..16 {
        let dl = d * sc[s] as f32;
        for l in 0..16 {
            o[16 * s + l] = dl * v[16 * s + l] as f32;
        }
    }
}
