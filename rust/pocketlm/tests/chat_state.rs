//! Saved chats on the real models: a chat restored from `ChatSession::save_state_file` in a
//! new `ChatSession` continues exactly as the uninterrupted one (the same greedy answer, with
//! the saved conversation taken from the restored cache rather than read again), and bad saved
//! chats (another model, a context too small, truncated, corrupted, not a chat) are typed
//! errors.

mod common;

use common::{model_path, GEMMA3, SMOLLM2};
use pocketlm::{ChatOptions, ChatSession, ChatStateError, GenerateOptions, Model, SamplerConfig};
use pocketlm::{Role, SnapshotError};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn load(name: &str) -> Arc<Model> {
    Model::load(model_path(name)).expect("model loads")
}

fn options(context_length: usize) -> ChatOptions {
    ChatOptions {
        system_prompt: Some("You are a helpful assistant. Answer briefly.".into()),
        context_length,
        threads: 1,
        generate: GenerateOptions {
            max_tokens: 24,
            sampler: SamplerConfig::greedy(),
            ..GenerateOptions::default()
        },
        answer_reserve: 24,
    }
}

fn send(chat: &mut ChatSession, text: &str) -> pocketlm::ChatTurn {
    chat.send(text, &AtomicBool::new(false), |_| true).unwrap()
}

fn check_restore(name: &str) {
    let model = load(name);
    let mut a = ChatSession::new(model.clone(), options(512)).unwrap();
    send(&mut a, "What is the capital of France?");
    send(&mut a, "And of Italy?");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.plmchat");
    let written = a.save_state_file(&path).unwrap();
    let bytes = a.save_state().unwrap();
    assert_eq!(written, bytes.len() as u64);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "file and bytes agree");

    let mut b = ChatSession::restore_state_file(model.clone(), options(512), &path).unwrap();
    assert_eq!(b.messages(), a.messages(), "{name}: the transcript");
    assert_eq!(b.messages()[0].role, Role::System);

    let next = "What about Spain?";
    let ta = send(&mut a, next);
    let tb = send(&mut b, next);
    assert_eq!(
        tb, ta,
        "{name}: the restored chat answers as the uninterrupted one"
    );
    assert!(!ta.text.trim().is_empty(), "{name}");
    // The saved conversation came from the restored cache: only the new turn was read.
    assert!(
        tb.reused_tokens > tb.prompt_tokens / 2 && tb.reused_tokens < tb.prompt_tokens,
        "{name}: reused {} of {} prompt tokens",
        tb.reused_tokens,
        tb.prompt_tokens
    );
    // A chat given only the transcript reads it all again (what the snapshot saves).
    let mut fresh = ChatSession::new(model.clone(), options(512)).unwrap();
    let tf = send(&mut fresh, "What is the capital of France?");
    assert_eq!(tf.reused_tokens, 0, "{name}: a new chat has nothing cached");
}

#[test]
fn a_restored_chat_continues_as_the_uninterrupted_one_smollm2() {
    check_restore(SMOLLM2);
}

#[test]
fn a_restored_chat_continues_as_the_uninterrupted_one_gemma3() {
    check_restore(GEMMA3);
}

#[test]
fn bad_saved_chats_are_typed_errors() {
    let smol = load(SMOLLM2);
    let mut a = ChatSession::new(smol.clone(), options(512)).unwrap();
    send(&mut a, "Say hello.");
    let bytes = a.save_state().unwrap();

    let gemma = load(GEMMA3);
    match ChatSession::restore_state(gemma, options(512), &bytes) {
        Err(ChatStateError::Snapshot(
            SnapshotError::OtherArchitecture { .. } | SnapshotError::OtherModel { .. },
        )) => {}
        other => panic!("another model: {other:?}"),
    }
    match ChatSession::restore_state(smol.clone(), options(16), &bytes) {
        Err(ChatStateError::Snapshot(SnapshotError::ContextTooSmall { .. })) => {}
        other => panic!("a context too small: {other:?}"),
    }
    for cut in [0, 5, 30, bytes.len() / 2, bytes.len() - 1] {
        let r = ChatSession::restore_state(smol.clone(), options(512), &bytes[..cut]);
        assert!(r.is_err(), "cut at {cut}");
    }
    let mut flipped = bytes.clone();
    let at = bytes.len() - 100;
    flipped[at] ^= 0x40;
    assert!(matches!(
        ChatSession::restore_state(smol.clone(), options(512), &flipped),
        Err(ChatStateError::Snapshot(SnapshotError::Corrupted(_)))
    ));
    let snapshot_only = {
        let s = pocketlm::Session::new(smol.clone(), Default::default()).unwrap();
        s.save_state().unwrap()
    };
    assert!(matches!(
        ChatSession::restore_state(smol.clone(), options(512), &snapshot_only),
        Err(ChatStateError::NotAChat { .. })
    ));
    let missing = std::path::Path::new("/nonexistent/dir/chat.plmchat");
    match ChatSession::restore_state_file(smol, options(512), missing) {
        Err(e @ ChatStateError::Io { .. }) => {
            assert!(
                e.to_string().contains("/nonexistent/dir/chat.plmchat"),
                "{e}"
            )
        }
        other => panic!("a missing file: {other:?}"),
    }
}
