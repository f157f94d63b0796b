//! Shared helpers for the binding tests on the real models.
#![allow(dead_code)]

use pocketlm_ffi::{
    GenerationOptions, KeyboardOptions, Model, SamplingOptions, TextListener, TextSession,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The path of `rel` (from the repository root), which must exist: the models come from
/// scripts/fetch-models.sh, the random adapters from scripts/gen-random-loras.sh (make test
/// runs both).
pub fn repo_file(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-models.sh and scripts/gen-random-loras.sh (make test \
         does both)",
        p.display()
    );
    p.to_string_lossy().into_owned()
}

/// The real SmolLM2 model (scripts/fetch-models.sh).
pub fn smollm2() -> Arc<Model> {
    Model::load(repo_file("models/SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap()
}

/// A listener that keeps the text.
#[derive(Clone, Default)]
pub struct Collect(pub Arc<Mutex<String>>);

impl TextListener for Collect {
    fn on_text(&self, delta: String) -> bool {
        self.0.lock().unwrap().push_str(&delta);
        true
    }
}

/// Greedy sampling (temperature 0).
pub fn greedy() -> SamplingOptions {
    SamplingOptions {
        temperature: 0.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        repetition_penalty: 1.0,
        seed: 1,
    }
}

/// The greedy text of 8 tokens generated after `prompt`.
pub fn greedy_text(s: &TextSession, prompt: &str) -> String {
    let opts = GenerationOptions {
        max_tokens: 8,
        sampling: greedy(),
        stop: Vec::new(),
        constraint: None,
        use_chat_template: false,
    };
    let l = Collect::default();
    s.generate(prompt.into(), opts, Box::new(l.clone()))
        .unwrap()
        .join()
        .unwrap();
    let text = l.0.lock().unwrap().clone();
    text
}

/// A predictor's options as an English keyboard app sets them, with one worker thread.
pub fn keyboard_options() -> KeyboardOptions {
    KeyboardOptions {
        max_suggestions: 3,
        corrections: true,
        blocklist: Vec::new(),
        allow_offensive: false,
        threads: 1,
        profile: None,
        learn_user_words: true,
        language: "en".into(),
    }
}
