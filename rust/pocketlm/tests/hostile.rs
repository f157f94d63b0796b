//! Hostile model files: each class of corrupt or malicious hyper-parameter, written into a small
//! synthetic model, yields a typed error at load, or loads and then evaluates normally. Never a
//! panic, an abort or a giant allocation.

use pocketlm::internals::gguf::synthetic::{SyntheticArch, SyntheticModel, HEAD_DIM};
use pocketlm::internals::gguf::WriteValue;
use pocketlm::internals::quant::GgmlType;
use pocketlm::{GgufError, LoadError, Model, Session, SessionError, SessionOptions};
use std::sync::Arc;

const ARCHS: [SyntheticArch; 2] = [SyntheticArch::Llama, SyntheticArch::Gemma3];

fn load(m: &SyntheticModel) -> Result<Arc<Model>, LoadError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    std::fs::write(&path, m.to_bytes()).unwrap();
    Model::load(&path)
}

/// A few evaluation steps: a prompt of 20 tokens (past the Gemma window of 8), then 4 decodes.
/// Returns the logits of the last step; errors are typed, anything else panics the test.
fn try_evaluate(model: &Arc<Model>) -> Result<Vec<f32>, SessionError> {
    let mut s = Session::new(
        model.clone(),
        SessionOptions {
            context_length: 64,
            threads: 2,
        },
    )?;
    let prompt = model
        .tokenizer()
        .encode("the the the the the quick", true, false);
    let mut ids: Vec<u32> = prompt.iter().copied().cycle().take(20).collect();
    let mut last = Vec::new();
    for _ in 0..4 {
        let logits = s.eval(&ids)?;
        let next = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i as u32);
        last = logits.to_vec();
        ids = vec![next];
    }
    Ok(last)
}

/// [`try_evaluate`] on a model that must run: finite logits over the whole vocabulary.
fn evaluate(model: &Arc<Model>) {
    let logits = try_evaluate(model).unwrap();
    assert_eq!(logits.len(), model.info().vocab_size);
    assert!(logits.iter().all(|v| v.is_finite()), "non-finite logits");
}

fn bad_hyper(m: &SyntheticModel, key_suffix: &str) {
    let err = load(m).expect_err("must not load");
    let key = m.key(key_suffix);
    assert!(
        matches!(err, LoadError::BadHyperParameter { key: ref k, .. } if *k == key),
        "{key}: {err}"
    );
}

#[test]
fn synthetic_models_of_each_architecture_and_type_load_and_run() {
    for arch in ARCHS {
        for ty in [
            GgmlType::F32,
            GgmlType::F16,
            GgmlType::Q4_0,
            GgmlType::Q4_1,
            GgmlType::Q8_0,
        ] {
            let m = load(&SyntheticModel::new(arch, ty)).unwrap();
            evaluate(&m);
        }
    }
}

#[test]
fn sliding_window_zero_is_rejected() {
    let mut m = SyntheticModel::new(SyntheticArch::Gemma3, GgmlType::F32);
    m.set(&m.key("attention.sliding_window"), WriteValue::U32(0));
    bad_hyper(&m, "attention.sliding_window");
}

#[test]
fn sliding_window_huge_or_one_evaluates() {
    for w in [1u64, 2, u32::MAX as u64, u64::MAX] {
        let mut m = SyntheticModel::new(SyntheticArch::Gemma3, GgmlType::F32);
        m.set(&m.key("attention.sliding_window"), WriteValue::U64(w));
        evaluate(&load(&m).unwrap());
    }
}

#[test]
fn alignment_below_what_blocks_need_is_rejected() {
    for a in [1u64, 2, 4] {
        let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q4_1);
        m.with_alignment(a);
        let err = load(&m).expect_err("misaligned data must not load");
        assert!(
            matches!(err, LoadError::Gguf(GgufError::BadAlignment(x)) if x == a),
            "{a}: {err}"
        );
    }
    // Not a power of two.
    let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q4_1);
    m.set("general.alignment", WriteValue::U32(48));
    assert!(matches!(
        load(&m),
        Err(LoadError::Gguf(GgufError::BadAlignment(48)))
    ));
    // Larger powers of two are fine.
    for a in [8u64, 64, 4096] {
        let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q4_1);
        m.with_alignment(a);
        evaluate(&load(&m).unwrap());
    }
}

#[test]
fn key_length_huge_or_zero_is_rejected() {
    for arch in ARCHS {
        // 2^62 heads of size 4 wraps q_dim to 0 in 64-bit arithmetic; 2^60+16 wraps to 16*4.
        for v in [
            0u64,
            1 << 31,
            1 << 32,
            (1 << 60) + HEAD_DIM as u64,
            1 << 62,
            u64::MAX,
        ] {
            let mut m = SyntheticModel::new(arch, GgmlType::F32);
            m.set(&m.key("attention.key_length"), WriteValue::U64(v));
            m.set(&m.key("attention.value_length"), WriteValue::U64(v));
            bad_hyper(&m, "attention.key_length");
        }
    }
}

#[test]
fn value_length_differing_from_key_length_is_rejected() {
    let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::F32);
    m.set(&m.key("attention.value_length"), WriteValue::U32(8));
    bad_hyper(&m, "attention.value_length");
}

#[test]
fn head_counts_out_of_range_are_rejected() {
    for arch in ARCHS {
        for v in [0u64, 3, 8, 1 << 31, u64::MAX] {
            let mut m = SyntheticModel::new(arch, GgmlType::F32);
            m.set(&m.key("attention.head_count_kv"), WriteValue::U64(v));
            bad_hyper(&m, "attention.head_count_kv");
        }
        for v in [0u64, 1 << 32, u64::MAX] {
            let mut m = SyntheticModel::new(arch, GgmlType::F32);
            m.set(&m.key("attention.head_count"), WriteValue::U64(v));
            bad_hyper(&m, "attention.head_count");
        }
    }
}

#[test]
fn q_dim_overflow_is_rejected() {
    // A head count and key length each in range whose product exceeds the attention width.
    let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::F32);
    m.set(&m.key("attention.head_count"), WriteValue::U32(1024));
    m.set(&m.key("attention.head_count_kv"), WriteValue::U32(1024));
    m.set(&m.key("attention.key_length"), WriteValue::U32(1024));
    m.set(&m.key("attention.value_length"), WriteValue::U32(1024));
    bad_hyper(&m, "attention.key_length");
}

#[test]
fn rope_dimensions_beyond_the_head_are_rejected() {
    for v in [HEAD_DIM as u64 + 2, 3, 1 << 20, 1 << 37, u64::MAX] {
        let mut m = SyntheticModel::new(SyntheticArch::Gemma3, GgmlType::F32);
        m.set(&m.key("rope.dimension_count"), WriteValue::U64(v));
        bad_hyper(&m, "rope.dimension_count");
    }
    // Partial rotary dimensions (and none) evaluate.
    for v in [0u64, 2, 8] {
        let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::F32);
        m.set(&m.key("rope.dimension_count"), WriteValue::U64(v));
        evaluate(&load(&m).unwrap());
    }
}

#[test]
fn sizes_huge_or_zero_are_rejected() {
    for suffix in [
        "embedding_length",
        "context_length",
        "block_count",
        "feed_forward_length",
    ] {
        for v in [0u64, 1 << 31, 1 << 32, 1 << 63, u64::MAX] {
            let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::F32);
            m.set(&m.key(suffix), WriteValue::U64(v));
            bad_hyper(&m, suffix);
        }
    }
    // A negative count is not an unsigned integer.
    let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::F32);
    m.set(&m.key("block_count"), WriteValue::I32(-1));
    assert!(matches!(load(&m), Err(LoadError::Gguf(_))));
}

#[test]
fn sizes_in_range_but_wrong_for_the_tensors_are_rejected() {
    // In range, but the tensors have other shapes: a tensor error, not an evaluation panic.
    for (suffix, v) in [
        ("embedding_length", 128u64),
        ("feed_forward_length", 64),
        ("block_count", 3),
    ] {
        let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::F32);
        m.set(&m.key(suffix), WriteValue::U64(v));
        let err = load(&m).expect_err("must not load");
        assert!(
            matches!(
                err,
                LoadError::BadTensor { .. } | LoadError::MissingTensor(_)
            ),
            "{suffix}: {err}"
        );
    }
    // A long declared context with a small model is fine (the cache grows on demand).
    let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::F32);
    m.set(&m.key("context_length"), WriteValue::U32(1 << 24));
    evaluate(&load(&m).unwrap());
}

#[test]
fn vocabulary_larger_than_the_embedding_is_rejected() {
    let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::F32);
    m.tensor(
        "token_embd.weight",
        &[64, 100],
        GgmlType::F32,
        vec![0; 64 * 100 * 4],
    );
    let err = load(&m).expect_err("must not load");
    assert!(matches!(err, LoadError::BadTensor { .. }), "{err}");
}

#[test]
fn float_hyper_parameters_out_of_range_are_rejected() {
    for (suffix, v) in [
        ("rope.freq_base", 0.0f32),
        ("rope.freq_base", -1.0),
        ("rope.freq_base", f32::NAN),
        ("rope.freq_base", f32::INFINITY),
        ("attention.layer_norm_rms_epsilon", 0.0),
        ("attention.layer_norm_rms_epsilon", f32::NAN),
        ("final_logit_softcapping", 0.0),
        ("final_logit_softcapping", f32::NAN),
        ("attn_logit_softcapping", -3.0),
    ] {
        let mut m = SyntheticModel::new(SyntheticArch::Gemma3, GgmlType::F32);
        m.set(&m.key(suffix), WriteValue::F32(v));
        bad_hyper(&m, suffix);
    }
    let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::F32);
    m.set(
        &m.key("rope.scaling.type"),
        WriteValue::Str("linear".into()),
    );
    m.set(&m.key("rope.scaling.factor"), WriteValue::F32(0.0));
    bad_hyper(&m, "rope.scaling.factor");
}

/// Every numeric metadata field set to each boundary value: loads and evaluates, or fails to
/// load with an error — never a panic.
#[test]
fn header_field_sweep_never_panics() {
    for arch in ARCHS {
        let base = SyntheticModel::new(arch, GgmlType::Q8_0);
        let numeric: Vec<String> = base
            .keys()
            .into_iter()
            .filter(|k| {
                matches!(
                    base.value(k),
                    Some(WriteValue::U32(_) | WriteValue::F32(_) | WriteValue::U64(_))
                )
            })
            .collect();
        assert!(numeric.len() >= 10, "{numeric:?}");
        for key in &numeric {
            for v in sweep_values() {
                let mut m = base.clone();
                m.set(key, v.clone());
                if let Ok(model) = load(&m) {
                    let _ = try_evaluate(&model);
                }
            }
        }
    }
}

/// 0, 1, -1, 2^31, 2^32, 2^63, u64::MAX (and the same as floats).
pub fn sweep_values() -> Vec<WriteValue> {
    let mut v: Vec<WriteValue> = [0u64, 1, 1 << 31, 1 << 32, 1 << 63, u64::MAX]
        .into_iter()
        .map(WriteValue::U64)
        .collect();
    v.push(WriteValue::I32(-1));
    v.extend(
        [
            0.0f32,
            1.0,
            -1.0,
            2f32.powi(31),
            2f32.powi(63),
            f32::MAX,
            f32::NAN,
        ]
        .into_iter()
        .map(WriteValue::F32),
    );
    v
}
