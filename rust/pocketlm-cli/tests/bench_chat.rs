//! `pocketlm bench --chat-restore N`: the saved-chat fields its `--json` promises
//! (docs/state.md, "Saved chats") are present and consistent on SmolLM2.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn bench_chat_restore_reports_its_fields() {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        model.exists(),
        "{} is missing: run scripts/fetch-models.sh (make test does)",
        model.display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_pocketlm"))
        .args(["bench", "--model"])
        .arg(&model)
        .args(["--pp", "4", "--tg", "4", "--reps", "1", "--minimal"])
        .args(["--chat-restore", "200", "--json"])
        .output()
        .unwrap();
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
