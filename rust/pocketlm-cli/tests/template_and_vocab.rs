//! `pocketlm template` (render a chat template file for a JSON conversation) and
//! `pocketlm tokenize` on a vocabulary-only GGUF file (llama.cpp's ggml-vocab-*.gguf: no
//! weights), checked against independent references: Python jinja2's rendering
//! (tests/fixtures/chat-templates.jsonl) and llama.cpp's tokenizer test cases.

#[path = "../../pocketlm/tests/common/llama_src.rs"]
mod llama_src;

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pocketlm"))
        .args(args)
        .output()
        .expect("run pocketlm")
}

fn reference_text(template: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/chat-templates.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["template"] == template)
        .and_then(|v| v["text"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no reference for {template}"))
}

const MESSAGES: &str = r#"[
  {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
  {"role": "user", "content": "Hello! What is 2+2?"},
  {"role": "assistant", "content": "2+2 is 4."},
  {"role": "user", "content": "And what is 3+3?"}
]"#;

#[test]
fn template_renders_like_jinja2_and_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let msgs = dir.path().join("m.json");
    std::fs::write(&msgs, MESSAGES).unwrap();
    let templates = llama_src::llama_src().join("models/templates");
    // Gemma 2 refuses the system role: the system text is folded into the first user turn.
    for name in [
        "google-gemma-2-2b-it.jinja",
        "LFM2.5-8B-A1B.jinja",
        "Qwen-Qwen3-0.6B.jinja",
    ] {
        let file = templates.join(name);
        let out = run(&[
            "template",
            "--file",
            file.to_str().unwrap(),
            "--messages",
            msgs.to_str().unwrap(),
            "--bos",
            "<s>",
            "--eos",
            "</s>",
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
        assert_eq!(v["text"].as_str().unwrap(), reference_text(name), "{name}");
    }
    // A template error: exit status 1 and the error on stderr, nothing on stdout.
    let bad = dir.path().join("bad.jinja");
    std::fs::write(&bad, "{{ raise_exception('no chats today') }}").unwrap();
    let out = run(&[
        "template",
        "--file",
        bad.to_str().unwrap(),
        "--messages",
        msgs.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no chats today"));
    // Malformed messages are an error too.
    std::fs::write(&msgs, r#"[{"role": "robot", "content": "hi"}]"#).unwrap();
    let out = run(&[
        "template",
        "--file",
        bad.to_str().unwrap(),
        "--messages",
        msgs.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("robot"));
}

#[test]
fn tokenize_reads_a_vocabulary_only_file() {
    let models = llama_src::llama_src().join("models");
    let vocab = models.join("ggml-vocab-qwen35.gguf");
    // The expected ids: llama.cpp's own test case for this text (no BOS for this vocabulary).
    let inp = std::fs::read_to_string(models.join("ggml-vocab-qwen35.gguf.inp")).unwrap();
    let outp = std::fs::read_to_string(models.join("ggml-vocab-qwen35.gguf.out")).unwrap();
    let texts: Vec<&str> = inp.split("\n__ggml_vocab_test__\n").collect();
    let text = "Hello world";
    let i = texts
        .iter()
        .position(|t| *t == text)
        .expect("case in the suite");
    let want: Vec<u64> = outp
        .lines()
        .nth(i)
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let out = run(&[
        "tokenize",
        "--model",
        vocab.to_str().unwrap(),
        "--text",
        text,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<u64> = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert_eq!(got, want);
}
