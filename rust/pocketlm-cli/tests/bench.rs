//! `pocketlm bench`'s optional measurements on SmolLM2: the fields their `--json` promises are
//! present and sane — `--schema` (docs/structured.md, "Speed") and `--chat-restore`
//! (docs/state.md, "Saved chats") — and a missing schema file is an error, not a benchmark of
//! nothing.

use std::path::PathBuf;
use std::process::{Command, Output};

fn path(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-models.sh (make test does)",
        p.display()
    );
    p.to_str().unwrap().to_owned()
}

/// `pocketlm bench` on SmolLM2, minimal and short, with `extra` arguments.
fn bench(extra: &[&str]) -> Output {
    let model = path("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    Command::new(env!("CARGO_BIN_EXE_pocketlm"))
        .args([
            "bench",
            "--model",
            &model,
            "--pp",
            "4",
            "--minimal",
            "--json",
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// The JSON of a successful run, and a reader of its numeric fields.
fn bench_json(extra: &[&str]) -> impl Fn(&str) -> f64 {
    let out = bench(extra);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    move |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("`{k}` is missing or not a number in {v}"))
    }
}

#[test]
fn bench_schema_reports_the_constrained_fields() {
    let schema = path("tests/fixtures/calendar-schema.json");
    let field = bench_json(&["--tg", "12", "--reps", "2", "--schema", &schema]);
    assert!(field("tg_constrained") > 0.0);
    // Two generations of the same prompt on the same machine: not wildly apart.
    let ratio = field("constrained_tg_ratio");
    assert!((0.2..5.0).contains(&ratio), "constrained_tg_ratio {ratio}");
    assert!(field("mask_us") >= 0.0 && field("mask_us").is_finite());
    for k in [
        "constrained_forced_fraction",
        "constrained_mask_skipped_fraction",
    ] {
        assert!((0.0..=1.0).contains(&field(k)), "{k}");
    }
}

#[test]
fn bench_schema_refuses_a_missing_file() {
    let out = bench(&[
        "--tg",
        "4",
        "--reps",
        "1",
        "--schema",
        "/nonexistent/schema.json",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/schema.json"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bench_chat_restore_reports_its_fields() {
    let field = bench_json(&["--tg", "4", "--reps", "1", "--chat-restore", "200"]);
    let tokens = field("chat_tokens");
    assert!((150.0..400.0).contains(&tokens), "chat_tokens {tokens}");
    // The file holds the KV cache of every token: at least a few KB per token.
    assert!(field("chat_state_bytes") > tokens * 4096.0);
    for k in [
        "chat_save_ms",
        "chat_restore_ms",
        "chat_first_text_restored_ms",
        "chat_first_text_reread_ms",
        "chat_restore_speedup",
    ] {
        assert!(field(k) > 0.0 && field(k).is_finite(), "{k}");
    }
    // The first text comes after the restore it includes.
    assert!(field("chat_first_text_restored_ms") >= field("chat_restore_ms"));
}
