//! Session snapshots through the bindings on the real models: a `TextSession` saved after a
//! generation and loaded into a new one continues with the same greedy text; bad snapshots are
//! `InvalidSnapshot` (another model, truncated, not a snapshot, missing) or `ContextFull`, and
//! leave the session usable.

use pocketlm_ffi::{Model, PocketLmError, SessionOptions, TextSession};
use std::sync::Arc;

mod common;
use common::{greedy_text, repo_file};

fn model(file: &str) -> Arc<Model> {
    Model::load(repo_file(&format!("models/{file}"))).unwrap()
}

fn session(model: &Arc<Model>, context_length: i32) -> Arc<TextSession> {
    TextSession::new(
        model.clone(),
        SessionOptions {
            context_length,
            threads: 1,
        },
    )
    .unwrap()
}

#[test]
fn a_loaded_session_continues_like_the_saved_one() {
    let m = model("SmolLM2-135M-Instruct.Q4_1.gguf");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.plmstate").to_string_lossy().into_owned();
    let a = session(&m, 256);
    let p1 = "The capital of France is";
    let out1 = greedy_text(&a, p1);
    let bytes = a.save_state(path.clone()).unwrap();
    assert_eq!(bytes as usize, a.save_state_bytes().unwrap().len());
    assert!(a.context_tokens() > 0);

    let b = session(&m, 512);
    b.load_state(path.clone()).unwrap();
    assert_eq!(b.context_tokens(), a.context_tokens());
    let c = session(&m, 512);
    c.load_state_bytes(std::fs::read(&path).unwrap()).unwrap();

    // The same longer prompt on the saved, the loaded and a fresh session: the same text.
    let p2 = format!("{p1}{out1} And the capital of Germany is");
    let fresh = greedy_text(&session(&m, 256), &p2);
    assert!(!fresh.is_empty());
    assert_eq!(greedy_text(&a, &p2), fresh);
    assert_eq!(greedy_text(&b, &p2), fresh);
    assert_eq!(greedy_text(&c, &p2), fresh);
}

#[test]
fn bad_snapshots_are_typed_errors() {
    let smol = model("SmolLM2-135M-Instruct.Q4_1.gguf");
    let gemma = model("gemma-3-270m-q4_k_m.gguf");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.plmstate").to_string_lossy().into_owned();
    let a = session(&smol, 256);
    greedy_text(&a, "Hello there, how are you today?");
    a.save_state(path.clone()).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    let g = session(&gemma, 256);
    match g.load_state(path.clone()) {
        Err(PocketLmError::InvalidSnapshot(m)) => assert!(m.contains("gemma3"), "{m}"),
        other => panic!("{other:?}"),
    }
    let s = session(&smol, 256);
    for bad in [
        &bytes[..bytes.len() - 1],
        &bytes[..50],
        b"GGUF not a snapshot",
    ] {
        assert!(
            matches!(
                s.load_state_bytes(bad.to_vec()),
                Err(PocketLmError::InvalidSnapshot(_))
            ),
            "{} bytes",
            bad.len()
        );
    }
    assert!(matches!(
        s.load_state("/nonexistent/s.plmstate".into()),
        Err(PocketLmError::InvalidSnapshot(_))
    ));
    assert!(matches!(
        session(&smol, 8).load_state(path.clone()),
        Err(PocketLmError::ContextFull(_))
    ));
    assert_eq!(s.context_tokens(), 0);
    // Still usable after the errors.
    assert!(!greedy_text(&s, "The sky is").is_empty());
}

/// A chat's answer to `message`, greedy, through the bindings.
fn chat_answer(chat: &pocketlm_ffi::ChatSession, message: &str) -> String {
    let text = common::Collect::default();
    chat.send(message.into(), Box::new(text.clone()))
        .unwrap()
        .join()
        .unwrap();
    let t = text.0.lock().unwrap().clone();
    t
}

fn chat_options() -> pocketlm_ffi::ChatOptions {
    pocketlm_ffi::ChatOptions {
        system_prompt: Some("Answer briefly.".into()),
        context_length: 512,
        max_tokens: 16,
        sampling: common::greedy(),
        threads: 1,
    }
}

#[test]
fn a_restored_chat_answers_like_the_saved_one() {
    use pocketlm_ffi::ChatSession;
    let m = model("SmolLM2-135M-Instruct.Q4_1.gguf");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.plmchat").to_string_lossy().into_owned();
    let a = ChatSession::new(m.clone(), chat_options()).unwrap();
    assert!(!chat_answer(&a, "What is the capital of France?").is_empty());
    let bytes = a.save_state(path.clone()).unwrap();
    assert_eq!(bytes as u64, std::fs::metadata(&path).unwrap().len());

    let b = ChatSession::restore(m.clone(), chat_options(), path.clone()).unwrap();
    assert_eq!(b.history(), a.history());
    assert_eq!(b.history().len(), 3, "system, user, assistant");
    let next = "And of Italy?";
    assert_eq!(chat_answer(&b, next), chat_answer(&a, next));

    // Bad files: typed errors, never a panic.
    let gemma = model("gemma-3-270m-q4_k_m.gguf");
    for (what, model, file) in [
        ("another model", gemma, path.clone()),
        (
            "missing",
            m.clone(),
            dir.path().join("none").to_string_lossy().into_owned(),
        ),
    ] {
        match ChatSession::restore(model, chat_options(), file) {
            Err(PocketLmError::InvalidSnapshot(_)) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    let cut = dir.path().join("cut.plmchat");
    std::fs::write(&cut, &std::fs::read(&path).unwrap()[..100]).unwrap();
    assert!(matches!(
        ChatSession::restore(m, chat_options(), cut.to_string_lossy().into_owned()),
        Err(PocketLmError::InvalidSnapshot(_))
    ));
}
