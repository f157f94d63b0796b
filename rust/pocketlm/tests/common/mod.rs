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

/// Compares one row of our logits with llama.cpp's top tokens and their logprobs at the same
/// position: adds each listed token's |Δ logprob| to `diffs` and, where our top token differs
/// although llama.cpp's own top two are at least `clear_gap` nats apart, a line naming both
/// to `failures`. `logp` is scratch space of the vocabulary's size. Returns whether the top
/// tokens agree.
pub fn compare_with_top(
    row: &[f32],
    top: &[(u32, f32)],
    clear_gap: f32,
    logp: &mut [f32],
    diffs: &mut Vec<f32>,
    failures: &mut Vec<String>,
    label: &str,
) -> bool {
    pocketlm::internals::ops::log_softmax(row, logp);
    for &(t, lp) in top {
        diffs.push((logp[t as usize] - lp).abs());
    }
    let ours = pocketlm::internals::sampler::argmax(row);
    let gap = top[0].1 - top[1].1;
    let same = ours == top[0].0;
    if !same && gap >= clear_gap {
        failures.push(format!(
            "{label}: ours {ours} (logprob {:.3}), llama.cpp {} ({:.3}, runner-up {:.3})",
            logp[ours as usize], top[0].0, top[0].1, top[1].1
        ));
    }
    same
}
