//! The CLI whose reader closes stdout early (`pocketlm tokenize ... | head`): it stops quietly
//! with exit status 0, never a "failed printing to stdout" panic (exit 101).

use pocketlm::internals::gguf::synthetic::{SyntheticArch, SyntheticModel};
use pocketlm::internals::quant::GgmlType;
use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.gguf");
    let m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q8_0);
    std::fs::write(&model, m.to_bytes()).unwrap();
    let text = "the quick brown fox jumps over the lazy dog ".repeat(200);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pocketlm"))
        .args([
            "tokenize",
            "--model",
            model.to_str().unwrap(),
            "--text",
            &text,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line is printed.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
}
