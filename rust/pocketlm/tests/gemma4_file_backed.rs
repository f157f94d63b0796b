//! Gemma 4's per-layer token embeddings are the largest tensor of E2B/E4B (in the tiny random
//! model as well: 262144 tokens × 4 layers × 64 values, 128 MiB in F16). They must stay in the
//! mapped file: a token's row is read when it is evaluated, and the table is never copied to
//! the heap. Measured as the growth of the process's anonymous memory (`RssAnon`, Linux)
//! over loading the model (the 262k-token tokenizer's tables are most of it) and over
//! evaluating prompts that read many rows: a copy of the table (f16 or widened to f32), made
//! at load or on first use, would add at least its size to one of them. Alone in its test
//! binary, so that no other test's allocations are counted.

mod common;

use common::*;
use pocketlm::{Model, Session, SessionOptions};

/// The process's anonymous resident memory in bytes (`None` off Linux).
fn rss_anon() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[test]
fn gemma4_per_layer_embeddings_stay_in_the_mapped_file() {
    let path = repo_root().join("models/random/gemma4-tiny-seed0.F16.gguf");
    assert!(
        path.exists(),
        "{} is missing: run scripts/gen-random-models.sh (make test does it)",
        path.display()
    );
    let file = pocketlm::internals::gguf::GgufFile::open(&path).unwrap();
    let table = file
        .tensors()
        .iter()
        .find(|t| t.name == "per_layer_token_embd.weight")
        .expect("the per-layer table");
    let table_bytes = table.ty.bytes_for(table.n_elements()).unwrap();
    drop(file);
    let cases = reference_cases("random/gemma4-tiny-seed0.F16.jsonl");

    let Some(before) = rss_anon() else {
        eprintln!("no /proc/self/status: RssAnon not measured");
        return;
    };
    let model = Model::load(&path).unwrap();
    let loaded = rss_anon().unwrap();
    let mut s = Session::new(
        model.clone(),
        SessionOptions {
            context_length: 256,
            threads: 2,
        },
    )
    .unwrap();
    let mut rows = 0;
    for case in &cases {
        s.clear();
        s.eval(&case.tokens).unwrap();
        rows += case.tokens.len();
    }
    let after = rss_anon().unwrap();
    let (at_load, at_eval) = (loaded.saturating_sub(before), after.saturating_sub(loaded));
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "RssAnon grew by {:.1} MiB at load and {:.1} MiB over {rows} tokens; the per-layer \
         table is {:.1} MiB",
        mib(at_load),
        mib(at_eval),
        mib(table_bytes)
    );
    assert!(rows > 50, "too few tokens read rows of the table");
    assert!(
        at_load < table_bytes / 2 && at_eval < table_bytes / 4,
        "anonymous memory grew by {at_load} bytes at load and {at_eval} bytes in evaluation: \
         the per-layer table ({table_bytes} bytes) was copied out of the mapped file?"
    );
}
