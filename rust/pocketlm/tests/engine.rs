//! Engine behaviour on a tiny synthetic llama model written by the test (random F32 weights,
//! byte-level vocabulary): load errors for each broken ingredient, session invariants
//! (rollback, fork, batched decode, chunked prefill) and generation limits.

use pocketlm::internals::gguf::{GgufError, GgufWriter, WriteValue};
use pocketlm::internals::quant::GgmlType;
use pocketlm::{
    generate, GenerateError, GenerateOptions, LoadError, Model, Session, SessionError,
    SessionOptions, StopReason,
};
use pocketlm::{internals::sampler::Rng, SamplerConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const D: usize = 32;
const FF: usize = 64;
const LAYERS: usize = 2;
const HEADS: u32 = 4;
const KV_HEADS: u32 = 2;
const HEAD_DIM: usize = D / HEADS as usize;

/// GPT-2's byte-to-character map: printable bytes map to themselves, others above U+0100.
fn byte_chars() -> Vec<char> {
    let mut keep: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut chars = vec!['\0'; 256];
    for &b in &keep {
        chars[b as usize] = char::from_u32(b).unwrap();
    }
    let mut extra = 0;
    for b in 0..256u32 {
        if !keep.contains(&b) {
            chars[b as usize] = char::from_u32(256 + extra).unwrap();
            extra += 1;
        }
    }
    keep.clear();
    chars
}

struct Tiny {
    w: GgufWriter,
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Tiny {
    /// A complete, valid model; tests then break one ingredient.
    fn new(skip_key: &str, skip_tensor: &str) -> Self {
        let mut rng = Rng::new(42);
        let mut rand = |n: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|_| (rng.next_f32() * 2.0 - 1.0) * scale)
                .collect()
        };
        let mut tokens: Vec<String> = vec![
            "<|endoftext|>".into(),
            "<|im_start|>".into(),
            "<|im_end|>".into(),
        ];
        tokens.extend(byte_chars().iter().map(|c| c.to_string()));
        tokens.push("ĠĠ".into());
        let vocab = tokens.len();
        let mut types = vec![1i32; vocab];
        types[..3].fill(3);
        let mut w = GgufWriter::new();
        let mut meta = |k: &str, v: WriteValue| {
            if k != skip_key {
                w.metadata(k, v);
            }
        };
        meta("general.architecture", WriteValue::Str("llama".into()));
        meta("general.name", WriteValue::Str("tiny".into()));
        meta("llama.block_count", WriteValue::U32(LAYERS as u32));
        meta("llama.context_length", WriteValue::U32(256));
        meta("llama.embedding_length", WriteValue::U32(D as u32));
        meta("llama.feed_forward_length", WriteValue::U32(FF as u32));
        meta("llama.attention.head_count", WriteValue::U32(HEADS));
        meta("llama.attention.head_count_kv", WriteValue::U32(KV_HEADS));
        meta("llama.rope.freq_base", WriteValue::F32(10000.0));
        meta(
            "llama.attention.layer_norm_rms_epsilon",
            WriteValue::F32(1e-5),
        );
        meta("tokenizer.ggml.model", WriteValue::Str("gpt2".into()));
        meta("tokenizer.ggml.pre", WriteValue::Str("smollm".into()));
        meta("tokenizer.ggml.tokens", WriteValue::StrArray(tokens));
        meta("tokenizer.ggml.token_type", WriteValue::I32Array(types));
        meta(
            "tokenizer.ggml.merges",
            WriteValue::StrArray(vec!["Ġ Ġ".into()]),
        );
        meta("tokenizer.ggml.bos_token_id", WriteValue::U32(0));
        meta("tokenizer.ggml.eos_token_id", WriteValue::U32(2));
        meta("tokenizer.ggml.add_bos_token", WriteValue::Bool(false));
        let kv = KV_HEADS as usize * HEAD_DIM;
        let mut tensor = |name: &str, dims: &[u64], data: Vec<f32>| {
            if name != skip_tensor {
                w.tensor(name, dims, GgmlType::F32, f32_bytes(&data));
            }
        };
        tensor(
            "token_embd.weight",
            &[D as u64, vocab as u64],
            rand(D * vocab, 1.0),
        );
        tensor("output_norm.weight", &[D as u64], vec![1.0; D]);
        for l in 0..LAYERS {
            let n = |s: &str| format!("blk.{l}.{s}");
            tensor(&n("attn_norm.weight"), &[D as u64], vec![1.0; D]);
            tensor(&n("ffn_norm.weight"), &[D as u64], vec![1.0; D]);
            tensor(&n("attn_q.weight"), &[D as u64, D as u64], rand(D * D, 0.3));
            tensor(
                &n("attn_k.weight"),
                &[D as u64, kv as u64],
                rand(D * kv, 0.3),
            );
            tensor(
                &n("attn_v.weight"),
                &[D as u64, kv as u64],
                rand(D * kv, 0.3),
            );
            tensor(
                &n("attn_output.weight"),
                &[D as u64, D as u64],
                rand(D * D, 0.3),
            );
            tensor(
                &n("ffn_gate.weight"),
                &[D as u64, FF as u64],
                rand(D * FF, 0.3),
            );
            tensor(
                &n("ffn_up.weight"),
                &[D as u64, FF as u64],
                rand(D * FF, 0.3),
            );
            tensor(
                &n("ffn_down.weight"),
                &[FF as u64, D as u64],
                rand(D * FF, 0.3),
            );
        }
        Tiny { w }
    }

    fn write(&self) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        std::fs::write(&path, self.w.to_bytes()).unwrap();
        (dir, path)
    }
}

fn tiny_model() -> (tempfile::TempDir, Arc<Model>) {
    let (dir, path) = Tiny::new("", "").write();
    let m = Model::load(&path).unwrap();
    (dir, m)
}

fn load_err(skip_key: &str, skip_tensor: &str) -> LoadError {
    let (_dir, path) = Tiny::new(skip_key, skip_tensor).write();
    Model::load(&path).unwrap_err()
}

fn opts(ctx: usize, threads: usize) -> SessionOptions {
    SessionOptions {
        context_length: ctx,
        threads,
    }
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn tiny_model_loads_and_describes_itself() {
    let (_d, m) = tiny_model();
    let info = m.info();
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.n_layers, LAYERS);
    assert_eq!(info.quantization, "F32");
    assert!(info.n_params > 0);
}

#[test]
fn unsupported_architecture() {
    let mut t = Tiny::new("general.architecture", "");
    t.w.metadata("general.architecture", WriteValue::Str("mamba".into()));
    let (_d, path) = t.write();
    let err = Model::load(&path).unwrap_err();
    assert!(
        matches!(err, LoadError::UnsupportedArchitecture(ref a) if a == "mamba"),
        "{err}"
    );
}

/// Gemma 4's layer plan from missing or hostile metadata: a missing key is a typed
/// `MissingKey` naming it, an inconsistent plan a typed error naming its key, before any
/// tensor is read.
#[test]
fn gemma4_hostile_layer_plan() {
    type Edit = fn(&mut Vec<(&'static str, WriteValue)>);
    let load = |edit: Edit| {
        let mut kv: Vec<(&'static str, WriteValue)> = vec![
            ("block_count", WriteValue::U32(4)),
            ("context_length", WriteValue::U32(256)),
            ("embedding_length", WriteValue::U32(64)),
            ("attention.head_count", WriteValue::U32(4)),
            ("attention.layer_norm_rms_epsilon", WriteValue::F32(1e-6)),
            (
                "attention.head_count_kv",
                WriteValue::I32Array(vec![2, 1, 2, 1]),
            ),
            (
                "feed_forward_length",
                WriteValue::I32Array(vec![128, 128, 256, 256]),
            ),
            ("attention.key_length", WriteValue::U32(32)),
            ("attention.key_length_swa", WriteValue::U32(16)),
            ("attention.sliding_window", WriteValue::U32(8)),
            (
                "attention.sliding_window_pattern",
                WriteValue::BoolArray(vec![true, false, true, false]),
            ),
            ("attention.shared_kv_layers", WriteValue::U32(2)),
            ("embedding_length_per_layer_input", WriteValue::U32(8)),
        ];
        edit(&mut kv);
        let mut w = GgufWriter::new();
        w.metadata("general.architecture", WriteValue::Str("gemma4".into()));
        for (k, v) in kv {
            w.metadata(&format!("gemma4.{k}"), v);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gemma4.gguf");
        std::fs::write(&path, w.to_bytes()).unwrap();
        Model::load(&path).unwrap_err()
    };
    fn drop_key(kv: &mut Vec<(&'static str, WriteValue)>, key: &str) {
        kv.retain(|(k, _)| *k != key);
    }
    fn set(kv: &mut Vec<(&'static str, WriteValue)>, key: &'static str, v: WriteValue) {
        drop_key(kv, key);
        kv.push((key, v));
    }
    // The plan above is valid: loading it fails only at the tensors.
    assert!(matches!(load(|_| {}), LoadError::MissingTensor(_)));
    let missing: [(Edit, &str); 4] = [
        (
            |kv| drop_key(kv, "attention.sliding_window_pattern"),
            "gemma4.attention.sliding_window_pattern",
        ),
        (
            |kv| drop_key(kv, "embedding_length_per_layer_input"),
            "gemma4.embedding_length_per_layer_input",
        ),
        (
            |kv| drop_key(kv, "attention.sliding_window"),
            "gemma4.attention.sliding_window",
        ),
        (
            |kv| drop_key(kv, "attention.head_count_kv"),
            "gemma4.attention.head_count_kv",
        ),
    ];
    for (edit, key) in missing {
        let err = load(edit);
        assert!(
            matches!(&err, LoadError::Gguf(GgufError::MissingKey(k)) if k == key),
            "{err}"
        );
    }
    let bad: [(Edit, &str, &str); 5] = [
        (
            |kv| {
                set(
                    kv,
                    "attention.sliding_window_pattern",
                    WriteValue::BoolArray(vec![true, false, true]),
                )
            },
            "sliding_window_pattern",
            "3 entries for 4 layers",
        ),
        (
            |kv| {
                set(
                    kv,
                    "attention.sliding_window_pattern",
                    WriteValue::BoolArray(vec![true, true, false, false]),
                );
                set(
                    kv,
                    "attention.head_count_kv",
                    WriteValue::I32Array(vec![2, 2, 1, 1]),
                );
            },
            "shared_kv_layers",
            "a sliding one then a global one",
        ),
        (
            |kv| {
                set(
                    kv,
                    "attention.head_count_kv",
                    WriteValue::I32Array(vec![2, 1, 4, 1]),
                )
            },
            "head_count_kv",
            "one count",
        ),
        (
            |kv| set(kv, "attention.shared_kv_layers", WriteValue::U32(5)),
            "shared_kv_layers",
            "5 shared layers of 4",
        ),
        (
            |kv| set(kv, "expert_count", WriteValue::U32(8)),
            "expert_count",
            "mixture-of-experts",
        ),
    ];
    for (edit, key, why) in bad {
        assert_bad_hyper_parameter(load(edit), key, why);
    }
}

/// LFM2's layer plan (a per-layer `head_count_kv`, 0 for a convolution layer) and convolution
/// width from hostile metadata: each a typed error naming the key, before any tensor is read.
/// Qwen3.5 files whose DeltaNet shape or layer plan cannot run: each a typed error naming
/// the key, never a panic or a model that computes nonsense.
#[test]
fn qwen35_hostile_layer_plan() {
    // The tiny model's keys, then `change` applied (a value replaced, or removed with None).
    let load = |change: &[(&str, Option<WriteValue>)]| {
        let mut keys: Vec<(String, WriteValue)> = [
            ("block_count", 4),
            ("context_length", 256),
            ("embedding_length", 64),
            ("feed_forward_length", 128),
            ("attention.head_count", 4),
            ("attention.head_count_kv", 2),
            ("rope.dimension_count", 8),
            ("ssm.conv_kernel", 4),
            ("ssm.state_size", 16),
            ("ssm.group_count", 2),
            ("ssm.time_step_rank", 4),
            ("ssm.inner_size", 64),
            ("full_attention_interval", 2),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), WriteValue::U32(v)))
        .collect();
        keys.push((
            "rope.dimension_sections".into(),
            WriteValue::I32Array(vec![2, 1, 1, 0]),
        ));
        keys.push((
            "attention.layer_norm_rms_epsilon".into(),
            WriteValue::F32(1e-6),
        ));
        for (k, v) in change {
            keys.retain(|(key, _)| key != k);
            if let Some(v) = v {
                keys.push(((*k).to_owned(), v.clone()));
            }
        }
        let mut w = GgufWriter::new();
        w.metadata("general.architecture", WriteValue::Str("qwen35".into()));
        for (k, v) in keys {
            w.metadata(&format!("qwen35.{k}"), v);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qwen35.gguf");
        std::fs::write(&path, w.to_bytes()).unwrap();
        Model::load(&path).unwrap_err()
    };
    let u = |v: u32| Some(WriteValue::U32(v));
    let cases = [
        (load(&[("ssm.inner_size", u(48))]), "ssm.inner_size", "48"),
        (
            load(&[("ssm.time_step_rank", u(3)), ("ssm.inner_size", u(48))]),
            "ssm.time_step_rank",
            "cannot share",
        ),
        (
            load(&[("ssm.conv_kernel", u(1))]),
            "ssm.conv_kernel",
            "out of range",
        ),
        (
            load(&[("ssm.state_size", u(1 << 20))]),
            "ssm.state_size",
            "out of range",
        ),
        (
            load(&[("full_attention_interval", u(0))]),
            "full_attention_interval",
            "at least 1",
        ),
        (
            load(&[(
                "attention.recurrent_layers",
                Some(WriteValue::BoolArray(vec![true, false, true])),
            )]),
            "attention.recurrent_layers",
            "3 entries for 4 layers",
        ),
        (
            load(&[(
                "attention.recurrent_layers",
                Some(WriteValue::I32Array(vec![1, 0, 1, 0])),
            )]),
            "attention.recurrent_layers",
            "not an array of booleans",
        ),
        (
            load(&[(
                "rope.dimension_sections",
                Some(WriteValue::I32Array(vec![0, 0, 0, 0])),
            )]),
            "rope.dimension_sections",
            "every section is empty",
        ),
        (
            load(&[(
                "rope.dimension_sections",
                Some(WriteValue::I32Array(vec![1, 1, 1, 1, 1])),
            )]),
            "rope.dimension_sections",
            "at most 4",
        ),
        (
            load(&[(
                "rope.dimension_sections",
                Some(WriteValue::I32Array(vec![2, -1, 1, 0])),
            )]),
            "rope.dimension_sections",
            "out of range",
        ),
        (
            load(&[("nextn_predict_layers", u(4))]),
            "nextn_predict_layers",
            "no trunk",
        ),
    ];
    for (err, key, why) in cases {
        assert_bad_hyper_parameter(err, key, why);
    }
    // Keys the DeltaNet layers cannot run without: missing keys, named.
    for key in [
        "ssm.conv_kernel",
        "ssm.state_size",
        "ssm.group_count",
        "ssm.time_step_rank",
        "ssm.inner_size",
        "rope.dimension_sections",
    ] {
        let err = load(&[(key, None)]);
        assert!(
            matches!(err, LoadError::Gguf(pocketlm::GgufError::MissingKey(ref k)) if *k == format!("qwen35.{key}")),
            "{key}: {err}"
        );
    }
    // The plan itself is fine: a file with it fails only for its missing tensors.
    assert!(matches!(load(&[]), LoadError::MissingTensor(_)));
}

#[test]
fn lfm2_hostile_layer_plan() {
    let load = |kv: WriteValue, l_cache: Option<u32>, window: Option<u32>| {
        let mut w = GgufWriter::new();
        w.metadata("general.architecture", WriteValue::Str("lfm2".into()));
        for (k, v) in [
            ("block_count", 4),
            ("context_length", 256),
            ("embedding_length", 64),
            ("feed_forward_length", 128),
            ("attention.head_count", 4),
        ] {
            w.metadata(&format!("lfm2.{k}"), WriteValue::U32(v));
        }
        w.metadata(
            "lfm2.attention.layer_norm_rms_epsilon",
            WriteValue::F32(1e-5),
        );
        w.metadata("lfm2.attention.head_count_kv", kv);
        if let Some(l) = l_cache {
            w.metadata("lfm2.shortconv.l_cache", WriteValue::U32(l));
        }
        if let Some(win) = window {
            w.metadata("lfm2.attention.sliding_window", WriteValue::U32(win));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lfm2.gguf");
        std::fs::write(&path, w.to_bytes()).unwrap();
        Model::load(&path).unwrap_err()
    };
    let plan = |v: &[i32]| WriteValue::I32Array(v.to_vec());
    let cases = [
        (
            load(plan(&[0, 0, 2]), Some(3), None),
            "head_count_kv",
            "3 entries for 4 layers",
        ),
        (
            load(plan(&[0, 0, 0, 0]), Some(3), None),
            "head_count_kv",
            "no attention layer",
        ),
        (
            load(plan(&[0, 2, 0, 4]), Some(3), None),
            "head_count_kv",
            "2 and 4",
        ),
        (
            load(plan(&[0, -1, 0, 2]), Some(3), None),
            "head_count_kv",
            "out of range",
        ),
        (
            load(plan(&[0, 3, 0, 3]), Some(3), None),
            "head_count_kv",
            "grouped",
        ),
        (
            load(plan(&[0, 2, 0, 2]), Some(1), None),
            "shortconv.l_cache",
            "at least 2",
        ),
        (
            load(plan(&[0, 2, 0, 2]), Some(1000), None),
            "shortconv.l_cache",
            "out of range",
        ),
        (
            load(plan(&[0, 2, 0, 2]), Some(3), Some(8)),
            "sliding_window",
            "not supported",
        ),
    ];
    for (err, key, why) in cases {
        assert_bad_hyper_parameter(err, key, why);
    }
    // Without the convolution width the convolution layers cannot run: a missing key.
    let err = load(plan(&[0, 2, 0, 2]), None, None);
    assert!(err.to_string().contains("lfm2.shortconv.l_cache"), "{err}");
}

#[test]
fn missing_hyper_parameter() {
    let err = load_err("llama.block_count", "");
    assert!(err.to_string().contains("llama.block_count"), "{err}");
    assert!(matches!(err, LoadError::Gguf(_)), "{err}");
}

#[test]
fn invalid_hyper_parameter() {
    let mut t = Tiny::new("llama.attention.head_count_kv", "");
    t.w.metadata("llama.attention.head_count_kv", WriteValue::U32(3));
    let (_d, path) = t.write();
    let err = Model::load(&path).unwrap_err();
    assert!(matches!(err, LoadError::BadHyperParameter { .. }), "{err}");
}

#[test]
fn missing_tokenizer() {
    let err = load_err("tokenizer.ggml.tokens", "");
    assert!(matches!(err, LoadError::Tokenizer(_)), "{err}");
}

#[test]
fn missing_tensor() {
    let err = load_err("", "blk.1.ffn_up.weight");
    assert!(
        matches!(err, LoadError::MissingTensor(ref n) if n == "blk.1.ffn_up.weight"),
        "{err}"
    );
}

#[test]
fn wrong_tensor_shape() {
    let mut t = Tiny::new("", "blk.0.attn_q.weight");
    t.w.tensor(
        "blk.0.attn_q.weight",
        &[D as u64, 8],
        GgmlType::F32,
        vec![0; D * 8 * 4],
    );
    let (_d, path) = t.write();
    let err = Model::load(&path).unwrap_err();
    assert!(matches!(err, LoadError::BadTensor { .. }), "{err}");
}

#[test]
fn unsupported_tensor_type() {
    let mut t = Tiny::new("", "blk.0.ffn_gate.weight");
    // Q2_K is a valid GGUF type that the kernels do not multiply.
    let blocks = D * FF / 256;
    t.w.tensor(
        "blk.0.ffn_gate.weight",
        &[256, (D * FF / 256) as u64],
        GgmlType::Q2_K,
        vec![0; blocks * 84],
    );
    let (_d, path) = t.write();
    let err = Model::load(&path).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::BadTensor { .. } | LoadError::UnsupportedTensorType { .. }
        ),
        "{err}"
    );
}

#[test]
fn session_errors() {
    let (_d, m) = tiny_model();
    assert!(matches!(
        Session::new(m.clone(), opts(0, 1)),
        Err(SessionError::InvalidOption(_))
    ));
    assert!(matches!(
        Session::new(m.clone(), opts(16, 0)),
        Err(SessionError::InvalidOption(_))
    ));
    let mut s = Session::new(m.clone(), opts(16, 1)).unwrap();
    assert_eq!(s.eval(&[]).unwrap_err(), SessionError::EmptyInput);
    assert!(matches!(s.logits(), Err(SessionError::NoLogits)));
    assert!(matches!(
        s.eval(&[100_000]),
        Err(SessionError::InvalidToken { id: 100_000, .. })
    ));
    let long: Vec<u32> = (0..17).map(|i| 3 + i).collect();
    assert_eq!(
        s.eval(&long).unwrap_err(),
        SessionError::ContextOverflow {
            needed: 17,
            limit: 16
        }
    );
    // Nothing was evaluated by the failed calls.
    assert_eq!(s.len(), 0);
    s.eval(&long[..16]).unwrap();
    assert!(matches!(
        s.eval(&[5]),
        Err(SessionError::ContextOverflow { .. })
    ));
}

#[test]
fn generation_errors_and_limits() {
    let (_d, m) = tiny_model();
    let mut s = Session::new(m.clone(), opts(32, 1)).unwrap();
    let cancel = AtomicBool::new(false);
    let greedy = GenerateOptions {
        max_tokens: 5,
        sampler: SamplerConfig::greedy(),
        stop: vec![],
        ..Default::default()
    };
    assert!(matches!(
        generate(&mut s, &[], &greedy, &cancel, |_| true),
        Err(GenerateError::EmptyPrompt)
    ));
    let bad = GenerateOptions {
        sampler: SamplerConfig {
            top_p: 2.0,
            ..SamplerConfig::default()
        },
        ..greedy.clone()
    };
    assert!(matches!(
        generate(&mut s, &[10], &bad, &cancel, |_| true),
        Err(GenerateError::Sampler(_))
    ));
    let too_long: Vec<u32> = (0..40).map(|i| 3 + i).collect();
    assert!(matches!(
        generate(&mut s, &too_long, &greedy, &cancel, |_| true),
        Err(GenerateError::Session(SessionError::ContextOverflow { .. }))
    ));
    // Max tokens holds, and deltas concatenate to the text.
    let mut streamed = String::new();
    let out = generate(&mut s, &[10, 11, 12], &greedy, &cancel, |d| {
        streamed.push_str(d);
        true
    })
    .unwrap();
    assert!(out.tokens.len() <= 5);
    if out.tokens.len() < 5 {
        assert_eq!(out.stop_reason, StopReason::EndOfGeneration);
    } else {
        assert_eq!(out.stop_reason, StopReason::MaxTokens);
    }
    assert_eq!(streamed, out.text);
    // A full context ends generation without an error.
    let long = GenerateOptions {
        max_tokens: 100,
        ..greedy.clone()
    };
    let out = generate(&mut s, &too_long[..30], &long, &cancel, |_| true).unwrap();
    assert!(
        matches!(
            out.stop_reason,
            StopReason::ContextFull | StopReason::EndOfGeneration
        ),
        "{:?}",
        out.stop_reason
    );
    assert!(s.len() <= 32);
    // Cancelled before starting, and from the callback.
    cancel.store(true, Ordering::Relaxed);
    let out = generate(&mut s, &[10], &long, &cancel, |_| true).unwrap();
    assert_eq!(out.stop_reason, StopReason::Cancelled);
    assert!(out.tokens.is_empty());
    cancel.store(false, Ordering::Relaxed);
    let sampled = GenerateOptions {
        max_tokens: 20,
        sampler: SamplerConfig {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            ..SamplerConfig::default()
        },
        stop: vec![],
        ..Default::default()
    };
    let mut calls = 0;
    let out = generate(&mut s, &[10], &sampled, &cancel, |_| {
        calls += 1;
        false
    })
    .unwrap();
    if calls > 0 {
        // The first delta's callback asked to stop: nothing more was generated or emitted.
        assert_eq!(out.stop_reason, StopReason::Cancelled);
        assert_eq!(calls, 1);
        assert_eq!(m.tokenizer().decode(&out.tokens, true), out.text);
    }
}

#[test]
fn chunked_prefill_equals_token_by_token() {
    let (_d, m) = tiny_model();
    let toks: Vec<u32> = (0..150).map(|i| 3 + (i * 7 % 250) as u32).collect();
    let mut a = Session::new(m.clone(), opts(200, 2)).unwrap();
    let la = a.eval(&toks).unwrap().to_vec();
    let mut b = Session::new(m.clone(), opts(200, 1)).unwrap();
    let mut lb = Vec::new();
    for &t in &toks {
        lb = b.eval(&[t]).unwrap().to_vec();
    }
    assert!(max_diff(&la, &lb) < 1e-3, "{}", max_diff(&la, &lb));
}

#[test]
fn rollback_equals_fresh_evaluation() {
    let (_d, m) = tiny_model();
    let mut s = Session::new(m.clone(), opts(64, 2)).unwrap();
    s.eval(&[10, 11, 12, 13, 14, 15]).unwrap();
    s.truncate(3);
    assert_eq!(s.tokens(), &[10, 11, 12]);
    assert!(matches!(s.logits(), Err(SessionError::NoLogits)));
    let after = s.eval(&[20, 21]).unwrap().to_vec();
    let mut fresh = Session::new(m.clone(), opts(64, 2)).unwrap();
    let want = fresh.eval(&[10, 11, 12, 20, 21]).unwrap().to_vec();
    assert!(max_diff(&after, &want) < 1e-4);
    // sync_to reuses the common prefix and ends in the same state.
    let synced = s.sync_to(&[10, 11, 30, 31]).unwrap().to_vec();
    let mut fresh = Session::new(m.clone(), opts(64, 2)).unwrap();
    let want = fresh.eval(&[10, 11, 30, 31]).unwrap().to_vec();
    assert_eq!(s.tokens(), &[10, 11, 30, 31]);
    assert!(max_diff(&synced, &want) < 1e-4);
    // Only the last token changed (same length): evaluated again, not the old logits.
    let synced = s.sync_to(&[10, 11, 30, 32]).unwrap().to_vec();
    let mut fresh = Session::new(m.clone(), opts(64, 2)).unwrap();
    let want = fresh.eval(&[10, 11, 30, 32]).unwrap().to_vec();
    assert_eq!(s.tokens(), &[10, 11, 30, 32]);
    assert!(max_diff(&synced, &want) < 1e-4);
    // The same tokens again: the same logits, nothing evaluated.
    assert_eq!(s.sync_to(&[10, 11, 30, 32]).unwrap(), &synced[..]);
}

#[test]
fn eval_batch_with_several_rows_per_session_matches_sequential() {
    let (_d, m) = tiny_model();
    let mut base = Session::new(m.clone(), opts(64, 2)).unwrap();
    base.eval(&[10, 11, 12]).unwrap();
    let mut a = base.fork();
    let mut b = base.fork();
    b.truncate(1); // rolled back: catches up on two tokens in the same pass
    let mut c = base.fork();
    let lists: [&[u32]; 3] = [&[50], &[11, 13, 60], &[40, 41, 42, 70]];
    Session::eval_batch(&mut [&mut a, &mut b, &mut c], &lists).unwrap();
    for (s, toks) in [
        (&a, vec![10, 11, 12, 50]),
        (&b, vec![10, 11, 13, 60]),
        (&c, vec![10, 11, 12, 40, 41, 42, 70]),
    ] {
        assert_eq!(s.tokens(), &toks[..]);
        let mut fresh = Session::new(m.clone(), opts(64, 1)).unwrap();
        let want = fresh.eval(&toks).unwrap().to_vec();
        assert!(max_diff(s.logits().unwrap(), &want) < 1e-4, "{toks:?}");
    }
    // Empty lists and mismatched lengths are errors, not panics.
    assert!(Session::eval_batch(&mut [&mut a], &[&[]]).is_err());
    assert!(Session::eval_batch(&mut [&mut a, &mut b], &[&[1]]).is_err());
}

#[test]
fn fork_is_independent_and_batched_decode_matches_sequential() {
    let (_d, m) = tiny_model();
    let mut base = Session::new(m.clone(), opts(64, 2)).unwrap();
    base.eval(&[10, 11, 12]).unwrap();
    let mut a = base.fork();
    let mut b = base.fork();
    let mut c = base.fork();
    c.eval(&[40, 41]).unwrap(); // a different length in the same batch
    Session::decode_batch(&mut [&mut a, &mut b, &mut c], &[50, 60, 70]).unwrap();
    assert_eq!(
        base.tokens(),
        &[10, 11, 12],
        "forks do not touch the original"
    );
    for (s, toks) in [
        (&a, vec![10, 11, 12, 50]),
        (&b, vec![10, 11, 12, 60]),
        (&c, vec![10, 11, 12, 40, 41, 70]),
    ] {
        assert_eq!(s.tokens(), &toks[..]);
        let mut fresh = Session::new(m.clone(), opts(64, 1)).unwrap();
        let want = fresh.eval(&toks).unwrap().to_vec();
        assert!(max_diff(s.logits().unwrap(), &want) < 1e-4);
    }
}

#[test]
fn batched_multi_token_eval_matches_sequential() {
    let (_d, m) = tiny_model();
    let mut base = Session::new(m.clone(), opts(64, 2)).unwrap();
    base.eval(&[10, 11, 12]).unwrap();
    let mut a = base.fork();
    let mut b = base.fork();
    let mut out = Vec::new();
    Session::eval_batch_all(&mut [&mut a, &mut b], &[&[50, 51, 52], &[60]], &mut out).unwrap();
    let vocab = m.info().vocab_size;
    assert_eq!(out.len(), 4 * vocab);
    let mut fresh = Session::new(m.clone(), opts(64, 1)).unwrap();
    let mut want = Vec::new();
    fresh
        .eval_all(&[10, 11, 12, 50, 51, 52], &mut want)
        .unwrap();
    assert!(max_diff(&out[..3 * vocab], &want[3 * vocab..]) < 1e-4);
    assert!(max_diff(a.logits().unwrap(), &want[5 * vocab..]) < 1e-4);
    let mut fresh = Session::new(m.clone(), opts(64, 1)).unwrap();
    let want = fresh.eval(&[10, 11, 12, 60]).unwrap().to_vec();
    assert!(max_diff(&out[3 * vocab..], &want) < 1e-4);
    assert!(max_diff(b.logits().unwrap(), &want) < 1e-4);
    assert_eq!(b.tokens(), &[10, 11, 12, 60]);
    assert!(Session::eval_batch_all(&mut [&mut a], &[&[]], &mut out).is_err());
}

#[test]
fn copy_from_equals_the_source() {
    let (_d, m) = tiny_model();
    let mut src = Session::new(m.clone(), opts(64, 2)).unwrap();
    src.eval(&[10, 11, 12, 13, 14]).unwrap();
    // A session sharing only a prefix with the source, longer than it.
    let mut s = Session::new(m.clone(), opts(64, 2)).unwrap();
    s.eval(&[10, 11, 20, 21, 22, 23, 24]).unwrap();
    s.copy_from(&src).unwrap();
    assert_eq!(s.tokens(), src.tokens());
    assert_eq!(s.logits().unwrap(), src.logits().unwrap());
    let got = s.eval(&[30]).unwrap().to_vec();
    let mut fresh = Session::new(m.clone(), opts(64, 1)).unwrap();
    let want = fresh.eval(&[10, 11, 12, 13, 14, 30]).unwrap().to_vec();
    assert!(max_diff(&got, &want) < 1e-4);
    // Too small a context is an error, not a panic.
    let mut small = Session::new(m.clone(), opts(4, 1)).unwrap();
    assert!(matches!(
        small.copy_from(&src),
        Err(SessionError::ContextOverflow { .. })
    ));
}

/// A session computing only some rows of the output head (the keyboard's restricted head)
/// gets exactly those columns of the full logits, alone, forked and batched; a batch mixing
/// row selections is refused.
#[test]
fn output_row_subsets_are_the_full_logits_columns() {
    use pocketlm::internals::kernels::OutputRows;
    let (_d, m) = tiny_model();
    let vocab = m.tokenizer().vocab_size();
    let rows = Arc::new(OutputRows::new(vec![0, 1, 2, 40, 41, 97, vocab as u32 - 1]));
    let toks = [5u32, 9, 77, 3];
    let mut full = Session::new(m.clone(), opts(32, 2)).unwrap();
    let want = full.eval(&toks).unwrap().to_vec();
    assert_eq!(full.logits_width(), vocab);
    let mut sub = Session::new(m.clone(), opts(32, 2)).unwrap();
    sub.set_output_rows(Some(rows.clone()));
    assert_eq!(sub.logits_width(), rows.len());
    let got = sub.eval(&toks).unwrap().to_vec();
    let cols = |l: &[f32]| -> Vec<u32> {
        rows.ids()
            .iter()
            .map(|&t| l[t as usize].to_bits())
            .collect()
    };
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        cols(&want)
    );
    // Forks keep the selection; a batched pass gives each session its columns.
    let mut a = sub.fork();
    let mut b = sub.fork();
    Session::eval_batch(&mut [&mut a, &mut b], &[&[11], &[12, 13]]).unwrap();
    let mut fa = full.fork();
    let mut fb = full.fork();
    Session::eval_batch(&mut [&mut fa, &mut fb], &[&[11], &[12, 13]]).unwrap();
    for (s, f) in [(&a, &fa), (&b, &fb)] {
        let l = s.logits().unwrap();
        assert_eq!(l.len(), rows.len());
        let fl = f.logits().unwrap();
        assert!(
            max_diff(
                l,
                &rows
                    .ids()
                    .iter()
                    .map(|&t| fl[t as usize])
                    .collect::<Vec<_>>()
            ) == 0.0
        );
    }
    assert!(matches!(
        Session::eval_batch(&mut [&mut a, &mut fa], &[&[1], &[1]]),
        Err(SessionError::MixedModels)
    ));
    // Back to the full head.
    sub.set_output_rows(None);
    assert!(sub.logits().is_err(), "the selection's logits are dropped");
    sub.truncate(toks.len() - 1);
    assert_eq!(sub.eval(&toks[toks.len() - 1..]).unwrap().len(), vocab);
}

/// The final hidden states a session keeps are what the output head reads: with the tiny
/// model's tied F32 embeddings, each kept state's dot product with a token's embedding row
/// (regenerated here from the same random stream as the file) is that token's logit.
/// Evaluated as one chunk or token by token, rolled back and re-evaluated, the states agree;
/// forks and a session not capturing keep none.
#[test]
fn kept_hidden_states_are_what_the_output_head_reads() {
    let (_dir, m) = tiny_model();
    let vocab = m.tokenizer().vocab_size();
    let mut rng = Rng::new(42);
    let emb: Vec<f32> = (0..D * vocab).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
    let tokens = [5u32, 70, 71, 72, 100, 33, 9];
    let mut s = Session::new(m.clone(), opts(64, 2)).unwrap();
    assert!(s.hidden_states().is_empty());
    s.capture_hidden(Some(2));
    let logits = s.eval(&tokens).unwrap().to_vec();
    let h = s.hidden_states().to_vec();
    assert_eq!(h.len(), (tokens.len() - 2) * D);
    let last = &h[h.len() - D..];
    let from_hidden: Vec<f32> = emb
        .chunks_exact(D)
        .map(|row| row.iter().zip(last).map(|(a, b)| a * b).sum())
        .collect();
    assert!(
        max_diff(&from_hidden, &logits) < 1e-3,
        "{}",
        max_diff(&from_hidden, &logits)
    );
    // The states are normalized (unit RMS with the tiny model's unit norm weights).
    for row in h.chunks_exact(D) {
        let rms = (row.iter().map(|v| v * v).sum::<f32>() / D as f32).sqrt();
        assert!((rms - 1.0).abs() < 1e-3, "{rms}");
    }
    // Token by token, on one thread: the same states.
    let mut t = Session::new(m.clone(), opts(64, 1)).unwrap();
    t.capture_hidden(Some(2));
    for &tok in &tokens {
        t.eval(&[tok]).unwrap();
    }
    assert!(max_diff(t.hidden_states(), &h) < 1e-4);
    // Rolled back and continued differently: the kept prefix stays, the rest is new, as a
    // fresh session computes it.
    t.truncate(4);
    assert_eq!(t.hidden_states(), &h[..2 * D]);
    t.sync_to(&[5, 70, 71, 72, 40, 41]).unwrap();
    let mut fresh = Session::new(m.clone(), opts(64, 2)).unwrap();
    fresh.capture_hidden(Some(2));
    fresh.eval(&[5, 70, 71, 72, 40, 41]).unwrap();
    assert_eq!(t.hidden_states().len(), 4 * D);
    assert!(max_diff(t.hidden_states(), fresh.hidden_states()) < 1e-4);
    assert!(max_diff(&t.hidden_states()[..2 * D], &h[..2 * D]) < 1e-6);
    // Forks keep none; starting a capture drops the positions it cannot have.
    assert!(t.fork().hidden_states().is_empty());
    let mut u = Session::new(m.clone(), opts(64, 2)).unwrap();
    u.eval(&tokens).unwrap();
    u.capture_hidden(Some(3));
    assert_eq!(u.len(), 3);
    assert!(u.hidden_states().is_empty());
    u.capture_hidden(None);
    u.eval(&[1, 2]).unwrap();
    assert!(u.hidden_states().is_empty());
}

/// Asserts that `err` is a bad hyper-parameter naming `key` and saying `why`.
fn assert_bad_hyper_parameter(err: LoadError, key: &str, why: &str) {
    let msg = err.to_string();
    assert!(
        matches!(err, LoadError::BadHyperParameter { .. })
            && msg.contains(key)
            && msg.contains(why),
        "{msg}"
    );
}
