//! LoRA adapters through the bindings on the real SmolLM2 and its random rank-8 adapter
//! (scripts/gen-random-loras.sh; make test runs it): one `Model` serves a plain and an adapted
//! `TextSession` at once; the adapted one generates what the core's adapted session generates
//! (the core is checked against llama.cpp in rust/pocketlm/tests/lora.rs), the plain one what
//! the plain model does; detaching restores the plain model; bad adapters and scales are typed
//! errors.

use pocketlm_ffi::{
    AdapterPrecision, LoraAdapter, Model, PocketLmError, SessionOptions, TextSession,
};
use std::sync::Arc;

mod common;
use common::{greedy_text, repo_file};

const MODEL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
const ADAPTER: &str = "models/lora/smollm2-r8-seed0.gguf";
const PROMPT: &str = "def fibonacci(n):\n    ";

fn session(model: &Arc<Model>) -> Arc<TextSession> {
    TextSession::new(
        model.clone(),
        SessionOptions {
            context_length: 128,
            threads: 1,
        },
    )
    .unwrap()
}

/// The core's greedy text (8 tokens) with or without the adapter at `scale`.
fn core_text(scale: Option<f32>) -> String {
    let model = pocketlm::Model::load(repo_file(MODEL)).unwrap();
    let mut s = pocketlm::Session::new(
        model.clone(),
        pocketlm::SessionOptions {
            context_length: 128,
            threads: 1,
        },
    )
    .unwrap();
    if let Some(scale) = scale {
        let a = pocketlm::LoraAdapter::load(&model, repo_file(ADAPTER)).unwrap();
        s.set_adapters(&[(a, scale)]).unwrap();
    }
    let opts = pocketlm::GenerateOptions {
        max_tokens: 8,
        sampler: pocketlm::SamplerConfig::greedy(),
        stop: Vec::new(),
        constraint: None,
    };
    let prompt = model.tokenizer().encode(PROMPT, true, true);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut text = String::new();
    pocketlm::generate(&mut s, &prompt, &opts, &cancel, |t| {
        text.push_str(t);
        true
    })
    .unwrap();
    text
}

#[test]
fn plain_and_adapted_sessions_of_one_model() {
    let m = Model::load(repo_file(MODEL)).unwrap();
    let a = LoraAdapter::load(m.clone(), repo_file(ADAPTER)).unwrap();
    assert_eq!((a.rank(), a.matrix_count()), (8, 210));
    assert!(a.size_bytes() > 9_000_000);
    let plain = session(&m);
    let adapted = session(&m);
    adapted.attach_adapter(a.clone(), 0.75).unwrap();
    assert_eq!((plain.adapter_count(), adapted.adapter_count()), (0, 1));
    let (p, q) = (greedy_text(&plain, PROMPT), greedy_text(&adapted, PROMPT));
    assert_eq!(p, core_text(None));
    assert_eq!(q, core_text(Some(0.75)));
    assert_ne!(p, q);
    // A new scale for the same adapter, then detached: the plain model again.
    adapted.attach_adapter(a.clone(), 0.0).unwrap();
    assert_eq!(adapted.adapter_count(), 1);
    assert_eq!(greedy_text(&adapted, PROMPT), p, "scale 0");
    adapted.attach_adapter(a.clone(), 0.75).unwrap();
    adapted.detach_adapter(a.clone()).unwrap();
    assert_eq!(adapted.adapter_count(), 0);
    assert_eq!(greedy_text(&adapted, PROMPT), p);
}

/// Held at F16, the F32 adapter takes half the memory and adapts the session (its greedy text
/// is not the plain model's); `AsFile` is `load`.
#[test]
fn an_adapter_held_at_f16_takes_half_the_memory() {
    let m = Model::load(repo_file(MODEL)).unwrap();
    let as_file =
        LoraAdapter::load_with_precision(m.clone(), repo_file(ADAPTER), AdapterPrecision::AsFile)
            .unwrap();
    let held =
        LoraAdapter::load_with_precision(m.clone(), repo_file(ADAPTER), AdapterPrecision::F16)
            .unwrap();
    assert_eq!(
        as_file.size_bytes(),
        LoraAdapter::load(m.clone(), repo_file(ADAPTER))
            .unwrap()
            .size_bytes()
    );
    assert_eq!(2 * held.size_bytes(), as_file.size_bytes());
    let s = session(&m);
    s.attach_adapter(held.clone(), 0.75).unwrap();
    assert_ne!(greedy_text(&s, PROMPT), core_text(None));
    // Q8: less again, and still adapting
    let q8 = LoraAdapter::load_with_precision(m.clone(), repo_file(ADAPTER), AdapterPrecision::Q8)
        .unwrap();
    assert!(q8.size_bytes() * 5 < held.size_bytes() * 4);
    let s = session(&m);
    s.attach_adapter(q8, 0.75).unwrap();
    assert_ne!(greedy_text(&s, PROMPT), core_text(None));
}

#[test]
fn bad_adapters_and_scales_are_typed_errors() {
    let m = Model::load(repo_file(MODEL)).unwrap();
    let a = LoraAdapter::load(m.clone(), repo_file(ADAPTER)).unwrap();
    let s = session(&m);
    for bad in [f32::NAN, f32::INFINITY] {
        let e = s.attach_adapter(a.clone(), bad).unwrap_err();
        assert!(matches!(e, PocketLmError::InvalidArgument(_)), "{e}");
    }
    let other = Model::load(repo_file(MODEL)).unwrap();
    let e = session(&other).attach_adapter(a.clone(), 1.0).unwrap_err();
    assert!(matches!(e, PocketLmError::InvalidArgument(_)), "{e}");
    let e = LoraAdapter::load(m.clone(), repo_file(MODEL)).unwrap_err();
    assert!(
        matches!(&e, PocketLmError::InvalidModel(msg) if msg.contains("not an adapter")),
        "{e}"
    );
    let gemma = Model::load(repo_file("models/gemma-3-270m-q4_k_m.gguf")).unwrap();
    let e = LoraAdapter::load(gemma, repo_file(ADAPTER)).unwrap_err();
    assert!(matches!(e, PocketLmError::InvalidModel(_)), "{e}");
    let e = LoraAdapter::load(m, "/nonexistent/adapter.gguf".into()).unwrap_err();
    assert!(matches!(e, PocketLmError::ModelNotFound(_)), "{e}");
    assert_eq!(s.adapter_count(), 0);
}
