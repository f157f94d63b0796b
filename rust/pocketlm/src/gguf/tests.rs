//! Parser tests on small crafted files: every malformed input maps to its own error variant.

use super::writer::{GgufWriter, WriteValue};
use super::*;

fn write_tmp(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn open_bytes(bytes: &[u8]) -> Result<GgufFile, GgufError> {
    let (_dir, path) = write_tmp("m.gguf", bytes);
    GgufFile::open(&path)
}

/// A small valid file: a few metadata kinds and two tensors.
fn sample() -> GgufWriter {
    let mut w = GgufWriter::new();
    w.metadata("general.architecture", WriteValue::Str("llama".into()))
        .metadata("llama.block_count", WriteValue::U32(2))
        .metadata("llama.rope.freq_base", WriteValue::F32(10000.0))
        .metadata(
            "tok.list",
            WriteValue::StrArray(vec!["a".into(), "bc".into()]),
        )
        .metadata("tok.scores", WriteValue::F32Array(vec![0.5, -1.0]))
        .tensor("w.f32", &[4, 2], GgmlType::F32, (0..32u8).collect())
        .tensor("w.q8", &[32], GgmlType::Q8_0, vec![7u8; 34]);
    w
}

/// Header bytes: magic, version, tensor count, kv count.
fn header(version: u32, n_tensors: u64, n_kv: u64) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&version.to_le_bytes());
    b.extend_from_slice(&n_tensors.to_le_bytes());
    b.extend_from_slice(&n_kv.to_le_bytes());
    b
}

fn push_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u64).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

#[test]
fn roundtrip_metadata_and_tensors() {
    let f = open_bytes(&sample().to_bytes()).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(f.get_u64("llama.block_count").unwrap(), 2);
    assert_eq!(f.get_f32("llama.rope.freq_base").unwrap(), 10000.0);
    let list = f.get_bytes_array("tok.list").unwrap();
    assert_eq!(list, vec![&b"a"[..], &b"bc"[..]]);
    assert_eq!(f.get_f32_array("tok.scores").unwrap(), vec![0.5, -1.0]);
    let t = f.tensor("w.f32").unwrap();
    assert_eq!((t.cols(), t.rows()), (4, 2));
    assert_eq!(t.data, &(0..32u8).collect::<Vec<_>>()[..]);
    assert_eq!(f.tensor("w.q8").unwrap().data, &[7u8; 34][..]);
    assert_eq!(f.keys().len(), 5);
}

#[test]
fn missing_file() {
    let err = GgufFile::open("/definitely/not/here.gguf").unwrap_err();
    assert!(matches!(err, GgufError::Io { .. }), "{err}");
}

#[test]
fn directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = GgufFile::open(dir.path()).unwrap_err();
    assert!(matches!(err, GgufError::IsDirectory(_)), "{err}");
}

#[test]
fn empty_file() {
    let err = open_bytes(b"").unwrap_err();
    assert!(matches!(err, GgufError::Empty(_)), "{err}");
}

#[test]
fn wrong_magic() {
    let err = open_bytes(b"PK\x03\x04 this is a zip file, not a model").unwrap_err();
    assert!(matches!(err, GgufError::BadMagic { .. }), "{err}");
}

#[test]
fn unsupported_version() {
    let err = open_bytes(&header(1, 0, 0)).unwrap_err();
    assert!(matches!(err, GgufError::UnsupportedVersion(1)), "{err}");
    let err = open_bytes(&header(99, 0, 0)).unwrap_err();
    assert!(matches!(err, GgufError::UnsupportedVersion(99)), "{err}");
}

#[test]
fn truncated_header() {
    let full = sample().to_bytes();
    for cut in [3, 6, 12, 20, 40, 100] {
        let err = open_bytes(&full[..cut]).unwrap_err();
        assert!(
            matches!(
                err,
                GgufError::Truncated { .. } | GgufError::AbsurdCount { .. }
            ),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn truncated_tensor_data() {
    let full = sample().to_bytes();
    let err = open_bytes(&full[..full.len() - 40]).unwrap_err();
    assert!(matches!(err, GgufError::TensorOutOfBounds { .. }), "{err}");
}

#[test]
fn tensor_offset_outside_file() {
    let mut b = header(3, 1, 0);
    push_str(&mut b, "w");
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&8u64.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // F32
    b.extend_from_slice(&(1u64 << 40).to_le_bytes()); // offset far past the end
    b.resize(b.len().div_ceil(32) * 32 + 64, 0);
    let err = open_bytes(&b).unwrap_err();
    assert!(matches!(err, GgufError::TensorOutOfBounds { .. }), "{err}");
}

#[test]
fn tensor_shape_larger_than_file() {
    let mut b = header(3, 1, 0);
    push_str(&mut b, "w");
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&4096u64.to_le_bytes());
    b.extend_from_slice(&4096u64.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.resize(b.len().div_ceil(32) * 32 + 64, 0);
    let err = open_bytes(&b).unwrap_err();
    assert!(matches!(err, GgufError::TensorOutOfBounds { .. }), "{err}");
}

#[test]
fn overflowing_shape() {
    let mut b = header(3, 1, 0);
    push_str(&mut b, "w");
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    let err = open_bytes(&b).unwrap_err();
    assert!(matches!(err, GgufError::BadTensorShape { .. }), "{err}");
}

#[test]
fn misaligned_tensor() {
    let mut b = header(3, 1, 0);
    push_str(&mut b, "w");
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&4u64.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&3u64.to_le_bytes());
    b.resize(b.len().div_ceil(32) * 32 + 64, 0);
    let err = open_bytes(&b).unwrap_err();
    assert!(matches!(err, GgufError::MisalignedTensor { .. }), "{err}");
}

#[test]
fn absurd_metadata_string_length() {
    let mut b = header(3, 0, 1);
    push_str(&mut b, "key");
    b.extend_from_slice(&8u32.to_le_bytes()); // string
    b.extend_from_slice(&(u64::MAX - 3).to_le_bytes());
    b.extend_from_slice(b"abc");
    let err = open_bytes(&b).unwrap_err();
    assert!(matches!(err, GgufError::Truncated { .. }), "{err}");
}

#[test]
fn absurd_array_count() {
    let mut b = header(3, 0, 1);
    push_str(&mut b, "tokenizer.ggml.tokens");
    b.extend_from_slice(&9u32.to_le_bytes()); // array
    b.extend_from_slice(&8u32.to_le_bytes()); // of strings
    b.extend_from_slice(&(1u64 << 60).to_le_bytes());
    let err = open_bytes(&b).unwrap_err();
    assert!(matches!(err, GgufError::AbsurdCount { .. }), "{err}");
}

#[test]
fn absurd_counts_in_header() {
    let err = open_bytes(&header(3, u64::MAX, 0)).unwrap_err();
    assert!(matches!(err, GgufError::AbsurdCount { .. }), "{err}");
    let err = open_bytes(&header(3, 0, 1 << 50)).unwrap_err();
    assert!(matches!(err, GgufError::AbsurdCount { .. }), "{err}");
}

#[test]
fn unknown_value_type() {
    let mut b = header(3, 0, 1);
    push_str(&mut b, "key");
    b.extend_from_slice(&77u32.to_le_bytes());
    b.extend_from_slice(&[0u8; 16]);
    let err = open_bytes(&b).unwrap_err();
    assert!(
        matches!(err, GgufError::UnknownValueType { type_id: 77, .. }),
        "{err}"
    );
}

#[test]
fn deeply_nested_arrays() {
    let mut b = header(3, 0, 1);
    push_str(&mut b, "key");
    b.extend_from_slice(&9u32.to_le_bytes());
    for _ in 0..10 {
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
    }
    b.extend_from_slice(&[0u8; 64]);
    let err = open_bytes(&b).unwrap_err();
    assert!(matches!(err, GgufError::NestingTooDeep(_)), "{err}");
}

#[test]
fn unknown_tensor_type() {
    let mut b = header(3, 1, 0);
    push_str(&mut b, "w");
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&32u64.to_le_bytes());
    b.extend_from_slice(&250u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    let err = open_bytes(&b).unwrap_err();
    assert!(
        matches!(err, GgufError::UnknownTensorType { type_id: 250, .. }),
        "{err}"
    );
}

/// A ggml type PocketLM lacks is named in the error, with the supported list.
#[test]
fn unsupported_ggml_type_names_itself_and_the_supported_types() {
    let mut b = header(3, 1, 0);
    push_str(&mut b, "w");
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&256u64.to_le_bytes());
    b.extend_from_slice(&16u32.to_le_bytes()); // IQ2_XXS
    b.extend_from_slice(&0u64.to_le_bytes());
    let msg = open_bytes(&b).unwrap_err().to_string();
    assert!(msg.contains("IQ2_XXS (id 16)"), "{msg}");
    for t in ["Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS", "Q4_K"] {
        assert!(msg.contains(t), "{t} missing from {msg}");
    }
}

#[test]
fn row_not_multiple_of_block() {
    let mut w = GgufWriter::new();
    w.tensor("w", &[20], GgmlType::Q4_0, vec![0; 18]);
    let err = open_bytes(&w.to_bytes()).unwrap_err();
    assert!(matches!(err, GgufError::BadTensorShape { .. }), "{err}");
}

#[test]
fn duplicate_key() {
    let mut w = GgufWriter::new();
    w.metadata("a", WriteValue::U32(1))
        .metadata("a", WriteValue::U32(2));
    let err = open_bytes(&w.to_bytes()).unwrap_err();
    assert!(matches!(err, GgufError::Duplicate { .. }), "{err}");
}

#[test]
fn typed_getters_report_missing_and_wrong_types() {
    let f = open_bytes(&sample().to_bytes()).unwrap();
    assert!(matches!(f.get_u64("nope"), Err(GgufError::MissingKey(_))));
    assert!(matches!(
        f.get_u64("general.architecture"),
        Err(GgufError::WrongType { .. })
    ));
    assert!(matches!(f.tensor("nope"), Err(GgufError::MissingTensor(_))));
    assert_eq!(f.opt_u64("nope").unwrap(), None);
}

#[test]
fn every_prefix_of_a_valid_file_is_an_error_not_a_panic() {
    let full = sample().to_bytes();
    // The writer pads the last tensor (34 bytes of Q8_0) to the 32-byte alignment; the data
    // itself ends 30 bytes before the end of the file.
    let data_end = full.len() - 30;
    assert!(open_bytes(&full[..data_end]).is_ok());
    for cut in 1..data_end {
        assert!(
            open_bytes(&full[..cut]).is_err(),
            "prefix of {cut} bytes parsed"
        );
    }
}

#[test]
fn interleaved_tensors_round_trip_and_bad_ones_are_rejected() {
    use crate::quant::BlockLayout;
    let mut w = GgufWriter::new();
    w.tensor_with_layout(
        "w",
        &[32, 8],
        GgmlType::Q4_1,
        BlockLayout::Interleaved8,
        vec![0; 160],
    );
    let f = open_bytes(&w.to_bytes()).unwrap();
    let info = f.tensor_info("w").unwrap();
    assert_eq!(
        (info.ty, info.layout),
        (GgmlType::Q4_1, BlockLayout::Interleaved8)
    );
    // not a whole group of 8 rows, and a k-quant without an interleaved layout: a corrupt file, not a misread
    for (dims, ty, len) in [
        ([32u64, 4], GgmlType::Q4_1, 80),
        ([256, 4], GgmlType::Q4_K, 576),
        ([256, 8], GgmlType::Q5_K, 1408),
    ] {
        let mut w = GgufWriter::new();
        w.tensor_with_layout("w", &dims, ty, BlockLayout::Interleaved8, vec![0; len]);
        let err = open_bytes(&w.to_bytes()).unwrap_err();
        assert!(matches!(err, GgufError::BadTensorShape { .. }), "{err}");
        assert!(err.to_string().contains("pocketlm convert"), "{err}");
    }
}

#[test]
fn min_alignment_covers_every_block_type() {
    use crate::quant::blocks::*;
    let aligns = [
        std::mem::align_of::<f32>(),
        std::mem::align_of::<BlockQ4_0>(),
        std::mem::align_of::<BlockQ4_1>(),
        std::mem::align_of::<BlockQ5_0>(),
        std::mem::align_of::<BlockQ5_1>(),
        std::mem::align_of::<BlockQ8_0>(),
        std::mem::align_of::<BlockQ8_1>(),
        std::mem::align_of::<BlockQ4K>(),
        std::mem::align_of::<BlockQ5K>(),
        std::mem::align_of::<BlockQ6K>(),
        std::mem::align_of::<BlockQ8K>(),
    ];
    assert!(
        aligns.iter().all(|&a| a as u64 <= MIN_ALIGNMENT),
        "{aligns:?}"
    );
}

#[test]
fn arrays_stay_in_the_file_and_are_walked_on_demand() {
    // key "n": [[ "ab", "" ], [ "c" ]] (arrays of strings); key "i": [-3i64, 5]; key "h": [7u16]
    let mut b = header(3, 0, 3);
    push_str(&mut b, "n");
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&2u64.to_le_bytes());
    for items in [&["ab", ""][..], &["c"][..]] {
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&(items.len() as u64).to_le_bytes());
        for s in items {
            push_str(&mut b, s);
        }
    }
    push_str(&mut b, "i");
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&11u32.to_le_bytes());
    b.extend_from_slice(&2u64.to_le_bytes());
    b.extend_from_slice(&(-3i64).to_le_bytes());
    b.extend_from_slice(&5i64.to_le_bytes());
    push_str(&mut b, "h");
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&7u16.to_le_bytes());
    let f = open_bytes(&b).unwrap();

    let Some(MetaValue::Array(outer)) = f.get("n") else {
        panic!("n is not an array")
    };
    assert_eq!((outer.len(), outer.elem_type()), (2, ElemType::Array));
    let inner: Vec<Vec<Vec<u8>>> = f
        .array_items(outer)
        .map(|v| match v {
            MetaValue::Array(a) => f
                .array_strings(&a)
                .expect("strings")
                .map(<[u8]>::to_vec)
                .collect(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        inner,
        vec![vec![b"ab".to_vec(), vec![]], vec![b"c".to_vec()]]
    );
    assert!(f.array_strings(outer).is_none());

    assert_eq!(f.get_i64_array("i").unwrap(), vec![-3, 5]);
    assert_eq!(f.get_i64_array("h").unwrap(), vec![7]);
    assert!(matches!(
        f.get_f32_array("h"),
        Err(GgufError::WrongType { .. })
    ));
    assert!(matches!(
        f.get_bytes_array("i"),
        Err(GgufError::WrongType { found: "i64", .. })
    ));
    assert_eq!(f.describe_value(f.get("i").unwrap()), "[2 x i64]");
}
