//! `pocketlm reply --state-dir DIR` on the real SmolLM2 model: the first run evaluates and saves
//! the warm-up (`warm_start` false), the second loads it (`warm_start` true) and prints the same
//! replies and scores.

use std::path::PathBuf;
use std::process::Command;

fn reply(state_dir: &str) -> serde_json::Value {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        model.exists(),
        "model {} is missing: run scripts/fetch-models.sh (make test does it)",
        model.display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_pocketlm"))
        .args(["reply", "--model", model.to_str().unwrap()])
        .args(["--message", "Thanks for dinner last night!"])
        .args(["--state-dir", state_dir, "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn reply_with_a_state_dir_loads_the_warm_up_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    let state_dir = state_dir.to_str().unwrap();
    let cold = reply(state_dir);
    assert_eq!(cold["warm_start"], false, "{cold}");
    assert!(cold["warm_up_ms"].as_f64().unwrap() > 0.0);
    assert!(!cold["replies"].as_array().unwrap().is_empty(), "{cold}");
    let warm = reply(state_dir);
    assert_eq!(warm["warm_start"], true, "{warm}");
    assert_eq!(warm["replies"], cold["replies"]);
    eprintln!(
        "warm_up_ms: cold {}, warm {}",
        cold["warm_up_ms"], warm["warm_up_ms"]
    );
}
