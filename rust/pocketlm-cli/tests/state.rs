//! `pocketlm generate --save-state` then `generate --state FILE --prompt P2` gives the text one
//! greedy `generate` over the concatenation (first prompt, first output, P2) gives, on the real
//! models; a snapshot of another model is refused with the error that says so.

use std::path::{Path, PathBuf};
use std::process::Command;

fn model(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(name);
    assert!(
        p.exists(),
        "model {} is missing: run scripts/fetch-models.sh (make test does it)",
        p.display()
    );
    p
}

fn generate(model: &Path, prompt: &str, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_pocketlm"))
        .args([
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--prompt",
            prompt,
        ])
        .args(["--max-tokens", "8", "--greedy", "--threads", "1", "--json"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check(name: &str, p1: &str, p2: &str) {
    let m = model(name);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.plmstate");
    let state = state.to_str().unwrap();

    let first = generate(&m, p1, &["--save-state", state]);
    let n_prompt = first["prompt_tokens"].as_array().unwrap().len();
    let n_gen = first["tokens"].as_array().unwrap().len();
    assert_eq!(first["state_saved_tokens"], n_prompt + n_gen);
    assert_eq!(
        first["state_bytes"].as_u64().unwrap(),
        std::fs::metadata(state).unwrap().len()
    );
    let text1 = first["text"].as_str().unwrap();
    assert!(!text1.is_empty());

    let resumed = generate(&m, p2, &["--state", state]);
    assert_eq!(resumed["state_tokens"], n_prompt + n_gen);
    assert!(resumed["state_load_ms"].as_f64().unwrap() >= 0.0);

    let whole = format!("{p1}{text1}{p2}");
    let once = generate(&m, &whole, &[]);
    assert_eq!(
        resumed["prompt_tokens"], once["prompt_tokens"],
        "{name}: the concatenated text tokenizes as the saved tokens and P2"
    );
    assert_eq!(resumed["tokens"], once["tokens"], "{name}");
    assert_eq!(resumed["text"], once["text"], "{name}");
    assert!(!once["text"].as_str().unwrap().is_empty());
}

#[test]
fn smollm2_generate_resumes_from_state() {
    check(
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "The capital of France is",
        " And the capital of Germany is",
    );
}

#[test]
fn gemma3_generate_resumes_from_state() {
    check(
        "gemma-3-270m-q4_k_m.gguf",
        "The capital of France is",
        " And the capital of Germany is",
    );
}

#[test]
fn a_snapshot_of_another_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.plmstate");
    let smol = model("SmolLM2-135M-Instruct.Q4_1.gguf");
    let gemma = model("gemma-3-270m-q4_k_m.gguf");
    generate(&smol, "Hello", &["--save-state", state.to_str().unwrap()]);
    let out = Command::new(env!("CARGO_BIN_EXE_pocketlm"))
        .args(["generate", "--model", gemma.to_str().unwrap()])
        .args(["--prompt", " there", "--state", state.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("llama") && stderr.contains("gemma3"),
        "{stderr}"
    );
}
