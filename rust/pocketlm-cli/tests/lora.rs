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
    // held at F16: another rounding of the same adapter, close to the F32 one's perplexity
    let held = score(&["--lora", &spec, "--lora-precision", "f16"]);
    assert!(held != adapted, "--lora-precision f16 changed nothing");
    assert!((held - adapted).abs() < 0.05 * adapted, "{adapted} {held}");
    // at Q8_0: its `A`s quantized, close too, and the converter's spelling accepted
    let q8 = score(&["--lora", &spec, "--lora-precision", "q8-0"]);
    assert!(
        q8 != held && q8 != adapted,
        "--lora-precision q8-0 changed nothing"
    );
    assert!((q8 - adapted).abs() < 0.05 * adapted, "{adapted} {q8}");
    assert_eq!(q8, score(&["--lora", &spec, "--lora-precision", "q8_0"]));
    let bad = run(&[
        "score",
        "--model",
        &model,
        "--file",
        text.to_str().unwrap(),
        "--lora",
        &spec,
        "--lora-precision",
        "f8",
    ]);
    assert!(!bad.status.success());

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

/// `eval-extract --write-training` (scripts/train-lora.sh's input) writes one row per message
/// of the split: the expected answer as one-line JSON with the schema's keys in order, and its
/// tokens as the assistant's turn, ending with the template's end of turn; `eval-extract` takes
/// `--lora` and reports it, and a missing adapter is an error.
#[test]
fn eval_extract_writes_training_rows_and_takes_adapters() {
    let dir = tempfile::tempdir().unwrap();
    let data = path("tests/fixtures/calendar-events.jsonl");
    let schema = path("tests/fixtures/calendar-schema.json");
    let model = path(MODEL);
    let rows_path = dir.path().join("train.jsonl");
    let out = run(&[
        "eval-extract",
        "--model",
        &model,
        "--data",
        &data,
        "--schema",
        &schema,
        "--split",
        "dev",
        "--write-training",
        rows_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fixture: Vec<serde_json::Value> = std::fs::read_to_string(&data)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["split"] == "dev")
        .collect();
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&rows_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), fixture.len());
    let im_end = *tokens(&json(&[
        "tokenize",
        "--model",
        &model,
        "--text",
        "<|im_end|>",
        "--json",
    ]))
    .last()
    .unwrap();
    for (row, want) in rows.iter().zip(&fixture) {
        assert_eq!(row["id"], want["id"]);
        let answer: serde_json::Value =
            serde_json::from_str(row["answer_text"].as_str().unwrap()).unwrap();
        let keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{answer}");
        for k in ["title", "date", "time", "place"] {
            let expected = want["expected"].get(k).cloned().unwrap_or_default();
            assert_eq!(answer[k], expected, "{k} of {}", row["id"]);
        }
        let ids = |k: &str| -> Vec<u64> {
            row[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap())
                .collect()
        };
        let (prompt, answer_ids) = (ids("prompt"), ids("answer"));
        assert!(prompt.len() > 20, "{}", row["id"]);
        let end = answer_ids.iter().position(|&t| t == im_end);
        assert!(
            end.is_some_and(|e| e >= 8 && e + 2 >= answer_ids.len()),
            "the answer ends with its turn's end: {answer_ids:?}"
        );
    }

    // Two messages, a few tokens: the adapter is attached and reported.
    let small = dir.path().join("two.jsonl");
    let two: Vec<String> = fixture[..2].iter().map(|r| r.to_string()).collect();
    std::fs::write(&small, two.join("\n")).unwrap();
    let adapter = path(ADAPTER);
    let base = [
        "eval-extract",
        "--model",
        &model,
        "--data",
        small.to_str().unwrap(),
        "--schema",
        &schema,
        "--max-tokens",
        "6",
        "--json",
    ];
    let plain = json(&base);
    assert_eq!(plain["lora"], serde_json::json!([]));
    let adapted = json(&[&base[..], &["--lora", &adapter]].concat());
    assert_eq!(adapted["lora"], serde_json::json!([adapter]));
    assert_eq!(adapted["n"], 2);
    let missing = run(&[&base[..], &["--lora", "/nonexistent/a.gguf"]].concat());
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--lora"));
}
