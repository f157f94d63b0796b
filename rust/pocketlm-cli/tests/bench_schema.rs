//! `pocketlm bench --schema`: the constrained-generation fields its `--json` promises
//! (docs/structured.md, "Speed") are present and sane on SmolLM2, and a missing schema file
//! is an error, not a benchmark of nothing.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn path(rel: &str) -> String {
    let p = root().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-models.sh (make test does)",
        p.display()
    );
    p.to_str().unwrap().to_owned()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pocketlm"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn bench_schema_reports_the_constrained_fields() {
    let model = path("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let schema = path("tests/fixtures/calendar-schema.json");
    let args = [
        "bench",
        "--model",
        &model,
        "--pp",
        "4",
        "--tg",
        "12",
        "--reps",
        "2",
        "--minimal",
        "--schema",
        &schema,
        "--json",
    ];
    let out = run(&args);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let field = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("`{k}` is missing or not a number in {v}"))
    };
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
    let model = path("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let out = run(&[
        "bench",
        "--model",
        &model,
        "--pp",
        "4",
        "--tg",
        "4",
        "--reps",
        "1",
        "--minimal",
        "--schema",
        "/nonexistent/schema.json",
        "--json",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/schema.json"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
