//! Shared helpers for the real-model integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

pub const SMOLLM2: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const GEMMA3: &str = "gemma-3-270m-q4_k_m.gguf";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Path of a fetched model; fails (never skips) when it is missing.
pub fn model_path(name: &str) -> PathBuf {
    let p = repo_root().join("models").join(name);
    assert!(
        p.exists(),
        "model {} is missing: run scripts/fetch-models.sh (make test does it)",
        p.display()
    );
    p
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// One prompt of llama.cpp's reference outputs.
pub struct RefCase {
    pub id: String,
    pub text: String,
    pub tokens: Vec<u32>,
    pub prompt_top10: Vec<Vec<(u32, f32)>>,
    pub greedy: Vec<u32>,
    pub greedy_top10: Vec<Vec<(u32, f32)>>,
    pub greedy_text: String,
}

fn top10(v: &serde_json::Value) -> Vec<Vec<(u32, f32)>> {
    v.as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row.as_array()
                        .unwrap()
                        .iter()
                        .map(|p| (p[0].as_u64().unwrap() as u32, p[1].as_f64().unwrap() as f32))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn reference_cases(file: &str) -> Vec<RefCase> {
    let text = std::fs::read_to_string(fixture(file)).expect("reference fixture");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let ids = |k: &str| -> Vec<u32> {
                v[k].as_array()
                    .map(|a| a.iter().map(|x| x.as_u64().unwrap() as u32).collect())
                    .unwrap_or_default()
            };
            RefCase {
                id: v["id"].as_str().unwrap_or("").to_owned(),
                text: v["text"].as_str().unwrap().to_owned(),
                tokens: ids("tokens"),
                prompt_top10: top10(&v["prompt_top10"]),
                greedy: ids("greedy"),
                greedy_top10: top10(&v["greedy_top10"]),
                greedy_text: v["greedy_text"].as_str().unwrap_or("").to_owned(),
            }
        })
        .collect()
}
