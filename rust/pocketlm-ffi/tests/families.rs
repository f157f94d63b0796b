//! The phone-first architectures (Gemma 4, Qwen3.5, LFM2) through the bindings: the tiny
//! random-weight models of the core's families tests (scripts/gen-random-models.sh) load and
//! report their architecture, stream text, chat, suggest words and draft replies through the
//! same objects an app uses, with the results of a fresh object for the same input; a file cut
//! short is a typed error, not a crash. (Random weights: what they say is gibberish; the
//! parity with llama.cpp is tested in the core, `tests/families.rs`.)

mod common;

use common::{greedy, greedy_text, keyboard_options, repo_file, Collect};
use pocketlm_ffi::{
    ChatOptions, ChatSession, ConversationMessage, DraftOptions, DrafterOptions, KeyboardPredictor,
    Model, ReplyDrafter, SessionOptions, TextSession,
};
use std::sync::Arc;

const MODELS: [(&str, &str); 3] = [
    ("gemma4-tiny-seed0.Q4_0.gguf", "gemma4"),
    ("qwen35-tiny-seed0.Q4_0.gguf", "qwen35"),
    ("lfm2-tiny-seed0.Q4_0.gguf", "lfm2"),
];

fn keyboard(model: &Arc<Model>) -> Arc<KeyboardPredictor> {
    KeyboardPredictor::new(model.clone(), keyboard_options()).unwrap()
}

fn session(model: &Arc<Model>) -> Arc<TextSession> {
    TextSession::new(
        model.clone(),
        SessionOptions {
            context_length: 256,
            threads: 1,
        },
    )
    .unwrap()
}

#[test]
fn every_api_runs_on_the_phone_first_architectures() {
    for (file, arch) in MODELS {
        let model = Model::load(repo_file(&format!("models/random/{file}"))).unwrap();
        assert_eq!(model.info().unwrap().architecture, arch, "{file}");

        // Streaming: the same text from a session that continues as from a fresh one.
        let s = session(&model);
        let first = greedy_text(&s, "The weather today is");
        let again = greedy_text(&s, "The weather today is");
        assert_eq!(first, again, "{file}: a reused session streamed other text");
        assert_eq!(first, greedy_text(&session(&model), "The weather today is"));

        // Chat: two turns join the history.
        let chat = ChatSession::new(
            model.clone(),
            ChatOptions {
                system_prompt: None,
                context_length: 256,
                max_tokens: 4,
                sampling: greedy(),
                threads: 1,
            },
        )
        .unwrap();
        for message in ["Hello there", "What time is it?"] {
            let r = chat
                .send(message.into(), Box::new(Collect::default()))
                .unwrap()
                .join()
                .unwrap();
            assert!(r.generated_tokens > 0, "{file}: {r:?}");
        }
        let users = chat
            .history()
            .iter()
            .filter(|m| m.content.contains('?'))
            .count();
        assert_eq!(users, 1, "{file}: {:?}", chat.history());

        // Keyboard: typing, a backspace over a word, typing on; each strip equals a fresh
        // predictor's for the same text.
        let kb = keyboard(&model);
        let texts = [
            "Hel",
            "Hello th",
            "Hello there ",
            "Hello ",
            "Hello you",
            "Hello you a",
        ];
        for t in texts {
            let got = kb.suggest(t.into()).unwrap();
            assert!(got.len() <= 3);
            assert_eq!(
                got,
                keyboard(&model).suggest(t.into()).unwrap(),
                "{file}: {t:?}"
            );
        }

        // Replies: drafts or a reason for none, never an error.
        let d = ReplyDrafter::new(model.clone(), DrafterOptions { threads: 1 }).unwrap();
        let conversation = vec![ConversationMessage {
            from_me: false,
            text: "Are you coming tonight?".into(),
        }];
        let options = DraftOptions {
            count: 3,
            max_words: 10,
            tone: None,
            blocklist: Vec::new(),
        };
        let drafts = d.draft(conversation, options, None).unwrap();
        assert!(
            !drafts.replies.is_empty() || drafts.no_draft_reason.is_some(),
            "{file}: {drafts:?}"
        );
    }
}

#[test]
fn a_file_cut_short_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    for (file, _) in MODELS {
        let bytes = std::fs::read(repo_file(&format!("models/random/{file}"))).unwrap();
        let cut = dir.path().join(file);
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let err = Model::load(cut.to_string_lossy().into_owned()).unwrap_err();
        assert!(
            err.to_string().contains("corrupt or incomplete"),
            "{file}: the error does not say what is wrong: {err}"
        );
    }
}
