//! Quantized tensor formats (ggml block layouts) and their scalar reference code.

pub mod activations;
pub mod blocks;
pub mod dequant;
pub mod interleave;

pub use dequant::dequantize_row;
pub use interleave::BlockLayout;

/// Errors from viewing or converting quantized data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantError {
    #[error(
        "tensor type {0} is not supported by PocketLM's kernels \
         (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, \
         IQ4_NL, IQ4_XS); \
         re-quantize the model with llama.cpp's llama-quantize"
    )]
    /// The kernels have no dot product for this weight type
    /// ([`GgmlType::vec_dot_type`] is `None`).
    Unsupported(GgmlType),
    /// A buffer's length does not match the shape.
    #[error("{ty}: {what}: expected {expected}, got {got}")]
    LengthMismatch {
        /// The tensor's type.
        ty: GgmlType,
        /// Which buffer.
        what: &'static str,
        /// Its expected length.
        expected: usize,
        /// Its actual length.
        got: usize,
    },
    /// A row length is not a whole number of blocks.
    #[error("{ty}: {n} elements is not a whole number of {block_len}-element blocks")]
    NotBlockMultiple {
        /// The tensor's type.
        ty: GgmlType,
        /// The row length.
        n: usize,
        /// Elements per block of `ty`.
        block_len: usize,
    },
    #[error(
        "{ty}: {rows} rows cannot be interleaved (only Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, \
         Q4_K and Q6_K, in groups of 8 rows)"
    )]
    /// The type or row count does not fit the interleaved layout.
    NotInterleavable {
        /// The tensor's type.
        ty: GgmlType,
        /// Its row count.
        rows: usize,
    },
    #[error(
        "{ty}: tensor data is not aligned to {align} bytes (GGUF tensor data must be aligned)"
    )]
    /// The tensor data does not start at a multiple of the block alignment.
    Misaligned {
        /// The tensor's type.
        ty: GgmlType,
        /// The alignment needed, in bytes.
        align: usize,
    },
}

/// The element types a GGUF tensor can have, with ggml's numeric ids.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GgmlType {
    /// ggml's `F32` (id 0).
    F32,
    /// ggml's `F16` (id 1).
    F16,
    /// ggml's `Q4_0` (id 2).
    Q4_0,
    /// ggml's `Q4_1` (id 3).
    Q4_1,
    /// ggml's `Q5_0` (id 6).
    Q5_0,
    /// ggml's `Q5_1` (id 7).
    Q5_1,
    /// ggml's `Q8_0` (id 8).
    Q8_0,
    /// ggml's `Q8_1` (id 9).
    Q8_1,
    /// ggml's `Q2_K` (id 10).
    Q2_K,
    /// ggml's `Q3_K` (id 11).
    Q3_K,
    /// ggml's `Q4_K` (id 12).
    Q4_K,
    /// ggml's `Q5_K` (id 13).
    Q5_K,
    /// ggml's `Q6_K` (id 14).
    Q6_K,
    /// ggml's `Q8_K` (id 15).
    Q8_K,
    /// ggml's `IQ4_NL` (id 20).
    IQ4_NL,
    /// ggml's `IQ4_XS` (id 23).
    IQ4_XS,
    /// ggml's `BF16` (id 30).
    BF16,
}

impl GgmlType {
    /// Maps ggml's type id; `None` for ids this crate does not know at all.
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            6 => Self::Q5_0,
            7 => Self::Q5_1,
            8 => Self::Q8_0,
            9 => Self::Q8_1,
            10 => Self::Q2_K,
            11 => Self::Q3_K,
            12 => Self::Q4_K,
            13 => Self::Q5_K,
            14 => Self::Q6_K,
            15 => Self::Q8_K,
            20 => Self::IQ4_NL,
            23 => Self::IQ4_XS,
            30 => Self::BF16,
            _ => return None,
        })
    }

    /// Elements per block.
    pub fn block_len(self) -> usize {
        match self {
            Self::F32 | Self::F16 | Self::BF16 => 1,
            Self::Q4_0
            | Self::Q4_1
            | Self::Q5_0
            | Self::Q5_1
            | Self::Q8_0
            | Self::Q8_1
            | Self::IQ4_NL => 32,
            Self::Q2_K
            | Self::Q3_K
            | Self::Q4_K
            | Self::Q5_K
            | Self::Q6_K
            | Self::Q8_K
            | Self::IQ4_XS => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q5_1 => 24,
            Self::Q8_0 => 34,
            Self::Q8_1 => 36,
            Self::Q2_K => 84,
            Self::Q3_K => 110,
            Self::Q4_K => 144,
            Self::Q5_K => 176,
            Self::Q6_K => 210,
            Self::Q8_K => 292,
            Self::IQ4_NL => 18,
            Self::IQ4_XS => 136,
        }
    }

    /// Bytes needed for `n` elements, or `None` when `n` is not a whole number of blocks
    /// or the size overflows.
    pub fn bytes_for(self, n: u64) -> Option<u64> {
        let bl = self.block_len() as u64;
        if !n.is_multiple_of(bl) {
            return None;
        }
        (n / bl).checked_mul(self.block_bytes() as u64)
    }

    /// The activation format a matmul with weights of this type quantizes its input to
    /// (ggml's `vec_dot_type`), or `None` when the kernels do not support this weight type.
    /// F32/F16/BF16 weights keep f32 activations (rounded to f16/bf16 for F16/BF16, like ggml).
    pub fn vec_dot_type(self) -> Option<GgmlType> {
        Some(match self {
            Self::F32 => Self::F32,
            Self::F16 => Self::F16,
            Self::BF16 => Self::BF16,
            Self::Q4_0 | Self::Q5_0 | Self::Q8_0 | Self::IQ4_NL => Self::Q8_0,
            Self::Q4_1 | Self::Q5_1 => Self::Q8_1,
            Self::Q2_K | Self::Q3_K | Self::Q4_K | Self::Q5_K | Self::Q6_K | Self::IQ4_XS => {
                Self::Q8_K
            }
            Self::Q8_1 | Self::Q8_K => return None,
        })
    }

    /// ggml's name of the type, e.g. `"Q4_K"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::Q4_0 => "Q4_0",
            Self::Q4_1 => "Q4_1",
            Self::Q5_0 => "Q5_0",
            Self::Q5_1 => "Q5_1",
            Self::Q8_0 => "Q8_0",
            Self::Q8_1 => "Q8_1",
            Self::Q2_K => "Q2_K",
            Self::Q3_K => "Q3_K",
            Self::Q4_K => "Q4_K",
            Self::Q5_K => "Q5_K",
            Self::Q6_K => "Q6_K",
            Self::Q8_K => "Q8_K",
            Self::IQ4_NL => "IQ4_NL",
            Self::IQ4_XS => "IQ4_XS",
            Self::BF16 => "BF16",
        }
    }
}

/// Every type id ggml / gguf-py define (gguf-py's `GGMLQuantizationType` in the llama_cpp_python
/// 0.3.36 sdist), for naming a tensor type PocketLM does not support in errors.
const GGML_TYPE_NAMES: [(u32, &str); 35] = [
    (0, "F32"),
    (1, "F16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (6, "Q5_0"),
    (7, "Q5_1"),
    (8, "Q8_0"),
    (9, "Q8_1"),
    (10, "Q2_K"),
    (11, "Q3_K"),
    (12, "Q4_K"),
    (13, "Q5_K"),
    (14, "Q6_K"),
    (15, "Q8_K"),
    (16, "IQ2_XXS"),
    (17, "IQ2_XS"),
    (18, "IQ3_XXS"),
    (19, "IQ1_S"),
    (20, "IQ4_NL"),
    (21, "IQ3_S"),
    (22, "IQ2_S"),
    (23, "IQ4_XS"),
    (24, "I8"),
    (25, "I16"),
    (26, "I32"),
    (27, "I64"),
    (28, "F64"),
    (29, "IQ1_M"),
    (30, "BF16"),
    (34, "TQ1_0"),
    (35, "TQ2_0"),
    (39, "MXFP4"),
    (40, "NVFP4"),
    (41, "Q1_0"),
    (42, "Q2_0"),
];

/// ggml's name of type id `id` (also for types PocketLM does not know), e.g. `"IQ2_XXS"`.
pub fn ggml_type_name(id: u32) -> Option<&'static str> {
    GGML_TYPE_NAMES
        .iter()
        .find(|&&(i, _)| i == id)
        .map(|&(_, n)| n)
}

/// The weight types the kernels multiply, comma-separated (for error messages).
pub fn supported_type_names() -> String {
    (0..64)
        .filter_map(GgmlType::from_id)
        .filter(|t| t.vec_dot_type().is_some())
        .map(GgmlType::name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ggml_names_agree_with_the_known_types() {
        for id in 0..64 {
            if let Some(t) = GgmlType::from_id(id) {
                assert_eq!(ggml_type_name(id), Some(t.name()), "id {id}");
            }
        }
        assert_eq!(ggml_type_name(16), Some("IQ2_XXS"));
        assert_eq!(ggml_type_name(4), None);
    }

    #[test]
    fn unsupported_type_message_lists_exactly_the_supported_types() {
        let msg = QuantError::Unsupported(GgmlType::Q8_K).to_string();
        let listed = msg
            .split("(supported: ")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap();
        let listed: Vec<&str> = listed.split(", ").collect();
        let supported: Vec<&str> = (0..64)
            .filter_map(GgmlType::from_id)
            .filter(|t| t.vec_dot_type().is_some())
            .map(GgmlType::name)
            .collect();
        let mut a = listed.clone();
        let mut b = supported.clone();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(
            a, b,
            "message lists {listed:?}, the kernels support {supported:?}"
        );
    }
}
