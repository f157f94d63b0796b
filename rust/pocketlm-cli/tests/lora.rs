//! `--lora FILE[:SCALE]` on `generate`, `score` and `classify`: with the random-weight rank-8
//! adapter of SmolLM2 (scripts/gen-random-loras.sh; make test runs it), `generate --greedy`
//! gives llama.cpp's greedy tokens with the same adapter and scale
//! (tests/fixtures/lora/smollm2-r8-seed0.jsonl) where llama.cpp's decision is clear, which the
//! plain model does not; the adapter changes `score` and `classify`; bad specs are refused.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn path(rel: &str) -> String {
    let p = root().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-models.sh and scripts/gen-random-loras.sh (make test \
         does both)",
        p.display()
    );
    p.to_str().unwrap().to_owned()
}

const MODEL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
const ADAPTER: &str = "models/lora/smollm2-r8-seed0.gguf";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pocketlm"))
        .args(args)
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tokens(v: &serde_json::Value) -> Vec<u64> {
    v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect()
}

#[test]
fn generate_with_lora_follows_llama_cpp() {
    let fixture =
        std::fs::read_to_string(root().join("tests/fixtures/lora/smollm2-r8-seed0.jsonl")).unwrap();
    let case: serde_json::Value = fixture
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|c| c["id"] == "code")
        .unwrap();
    // llama.cpp's greedy steps up to the first one whose top two are within 0.5 nats.
    let clear = case["greedy_top10"]
        .as_array()
        .unwrap()
        .iter()
        .take_while(|t| t[0][1].as_f64().unwrap() - t[1][1].as_f64().unwrap() >= 0.5)
        .count();
    assert!(clear >= 4, "too few clear steps ({clear}) to compare");
    let want: Vec<u64> = case["greedy"].as_array().unwrap()[..clear]
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    let scale = format!("{}:{}", path(ADAPTER), case["scale"]);
    let (model, text) = (path(MODEL), case["text"].as_str().unwrap());
    let base = [
        "generate",
        "--model",
        &model,
        "--prompt",
        text,
        "--greedy",
        "--max-tokens",
        "8",
        "--threads",
        "1",
        "--json",
    ];
    let adapted = json(&[&base[..], &["--lora", &scale]].concat());
    assert_eq!(&tokens(&adapted)[..clear], &want[..]);
    let plain = json(&base);
    assert_ne!(&tokens(&plain)[..clear], &want[..], "the plain model");
}

#[test]
fn score_and_classify_take_adapters_and_refuse_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("t.txt");
    std::fs::write(
        &text,
        "The quick brown fox jumps over the lazy dog. Small language models run on phones, \
         and a keyboard suggests the next word as you type.",
    )
    .unwrap();
    let (model, adapter) = (path(MODEL), path(ADAPTER));
    let score = |extra: &[&str]| {
        let base = [
            "score",
            "--model",
            &model,
            "--file",
            text.to_str().unwrap(),
            "--ctx",
            "16",
            "--threads",
            "1",
            "--json",
        ];
        json(&[&base[..], extra].concat())["ppl"].as_f64().unwrap()
    };
    let plain = score(&[]);
    let spec = format!("{adapter}:0.75");
    let adapted = score(&["--lora", &spec]);
    let zero = score(&["--lora", &format!("{adapter}:0")]);
    assert!((adapted - plain).abs() > 0.05 * plain, "{plain} {adapted}");
    assert_eq!(zero, plain, "scale 0 is the plain model");

    let classify = |extra: &[&str]| {
        let base = [
            "classify",
            "--model",
            &model,
            "--text",
            "I love this phone",
            "--labels",
            "positive,negative",
            "--threads",
            "1",
            "--json",
        ];
        json(&[&base[..], extra].concat())["scores"][0]["logprob"]
            .as_f64()
            .unwrap()
    };
    assert_ne!(classify(&[]), classify(&["--lora", &spec]));

    // Bad specs and files: a typed message, exit status 1, never a panic.
    for (spec, says) in [
        (format!("{adapter}:nan"), "not a finite number"),
        (format!("{adapter}:inf"), "not a finite number"),
        (model.clone(), "not an adapter file"),
        ("/nonexistent.gguf".to_owned(), "nonexistent"),
    ] {
        let out = run(&[
            "classify", "--model", &model, "--text", "hi", "--labels", "a,b", "--lora", &spec,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{spec}: {err}");
        assert!(err.contains(says), "{spec}: {err}");
    }
}
