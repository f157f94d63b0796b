//! `pocketlm eval-keyboard --state-dir DIR` on the real SmolLM2 model: the first run evaluates
//! and saves the framing's warm-up (`warm_start` false), the second loads it (`warm_start`
//! true) and measures the same suggestions (every accuracy figure equal).

use std::path::PathBuf;
use std::process::Command;

fn eval_keyboard(state_dir: Option<&str>) -> serde_json::Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model = root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        model.exists(),
        "model {} is missing: run scripts/fetch-models.sh (make test does it)",
        model.display()
    );
    let corpus = root.join("tests/fixtures/keyboard-dev.txt");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pocketlm"));
    cmd.args(["eval-keyboard", "--model", model.to_str().unwrap()])
        .args(["--corpus", corpus.to_str().unwrap()])
        .args(["--limit", "2", "--threads", "1", "--json"]);
    if let Some(d) = state_dir {
        cmd.args(["--state-dir", d]);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

const SAME: [&str; 6] = [
    "ksr",
    "next_word_top1",
    "next_word_top3",
    "completion_top3",
    "first_word_completion_top3",
    "keystrokes",
];

#[test]
fn eval_keyboard_with_a_state_dir_loads_the_framing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    let state_dir = state_dir.to_str().unwrap();
    let plain = eval_keyboard(None);
    assert!(plain.get("warm_start").is_none(), "{plain}");
    assert!(plain["first_suggestion_ms"].as_f64().unwrap() > 0.0);
    let cold = eval_keyboard(Some(state_dir));
    assert_eq!(cold["warm_start"], false, "{cold}");
    assert!(cold["warm_up_ms"].as_f64().unwrap() > 0.0);
    let warm = eval_keyboard(Some(state_dir));
    assert_eq!(warm["warm_start"], true, "{warm}");
    for k in SAME {
        assert_eq!(warm[k], cold[k], "{k}");
        assert_eq!(warm[k], plain[k], "{k}");
    }
    eprintln!(
        "first_suggestion_ms: none {}, cold {}, warm {}; warm_up_ms: cold {}, warm {}",
        plain["first_suggestion_ms"],
        cold["first_suggestion_ms"],
        warm["first_suggestion_ms"],
        cold["warm_up_ms"],
        warm["warm_up_ms"]
    );
}
