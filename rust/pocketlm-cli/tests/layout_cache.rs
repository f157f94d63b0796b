//! `--layout-cache DIR`, accepted by every command that loads a model: `info --json` on SmolLM2
//! reports `"layout": "converted"` on the first run and `"hit"` on the second (stderr says
//! where the copy is), `generate` prints the same greedy text through the copy as without it,
//! and a directory that cannot be created runs the original file (`"fallback"`) instead of
//! failing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn model() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-models.sh",
        p.display()
    );
    p.to_str().unwrap().to_owned()
}

/// Runs `pocketlm [--layout-cache cache] args`: (stdout, stderr), asserting success.
fn run(cache: Option<&Path>, args: &[&str]) -> (String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pocketlm"));
    if let Some(dir) = cache {
        cmd.arg("--layout-cache").arg(dir);
    }
    let out = cmd.args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

fn info_layout(cache: Option<&Path>) -> (String, String) {
    let m = model();
    let (out, err) = run(cache, &["info", "--model", &m, "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    (v["layout"].as_str().unwrap().to_owned(), err)
}

#[test]
fn layout_cache_converts_then_hits_and_generates_the_same_text() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    assert_eq!(info_layout(None).0, "not_requested");
    let (first, err) = info_layout(Some(&cache));
    assert_eq!(first, "converted", "{err}");
    assert!(err.contains("layout cache: converted"), "{err}");
    let (second, err) = info_layout(Some(&cache));
    assert_eq!(second, "hit", "{err}");
    assert!(err.contains("tokenizer tables: mapped from"), "{err}");
    let mut names: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        2,
        "the copy and the tokenizer's tables: {names:?}"
    );
    for end in [".interleaved.gguf", ".tokenizer-tables"] {
        assert!(names.iter().any(|n| n.ends_with(end)), "{end}: {names:?}");
    }

    let m = model();
    let gen = [
        "generate",
        "--model",
        &m,
        "--prompt",
        "The capital of France is",
    ];
    let gen: Vec<&str> = gen
        .into_iter()
        .chain(["--max-tokens", "8", "--greedy", "--json"])
        .collect();
    let text = |out: String| {
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        v["text"].as_str().unwrap().to_owned()
    };
    let plain = text(run(None, &gen).0);
    assert!(!plain.is_empty());
    assert_eq!(text(run(Some(&cache), &gen).0), plain);

    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let (fallback, err) = info_layout(Some(&blocker.join("cache")));
    assert_eq!(fallback, "fallback", "{err}");
    assert!(err.contains("running the original file"), "{err}");
}

/// `convert` writes the copy for phones (Gemma 3's Q4_K matrices interleaved too) unless
/// `--this-cpu` asks for what this CPU reads in place, which is what the layout cache converts:
/// on x86 with AVX2, which has no interleaved Q4_K or Q6_K kernel, fewer matrices; with
/// AVX-512 all of them, as on the NEON tiers.
#[test]
fn convert_for_this_cpu_interleaves_what_it_reads_in_place() {
    let gemma =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/gemma-3-270m-q4_k_m.gguf");
    let gemma = gemma.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let count = |extra: &[&str], tier: Option<&str>| {
        let out = dir.path().join("g.gguf");
        let out = out.to_str().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pocketlm"));
        cmd.args(["convert", "--model", gemma, "--out", out, "--json"]);
        cmd.args(extra);
        if let Some(t) = tier {
            cmd.env("POCKETLM_KERNEL", t);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["interleaved"].as_u64().unwrap()
    };
    let portable = count(&[], None);
    assert!(portable > 0, "{portable}");
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = count(&["--this-cpu"], Some("avx2"));
        assert!(
            avx2 < portable,
            "AVX2 reads interleaved k-quants by de-interleaving: {avx2} of {portable}"
        );
        if std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            let avx512 = count(&["--this-cpu"], Some("avx512vnni"));
            assert_eq!(
                avx512, portable,
                "AVX-512 reads every interleaved type in place"
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    assert_eq!(count(&["--this-cpu"], None), portable);
}
