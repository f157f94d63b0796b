//! Chat on the phone-first families with their own chat templates (llama.cpp's
//! `models/templates`): the tiny random-weight Gemma 4, Qwen3.5 and LFM2 models of
//! `tests/families.rs` carry those families' real vocabularies, so each template's turn
//! markers must encode as single tokens of the vocabulary, and a chat of two turns must answer
//! its second turn exactly as a fresh session given the whole conversation does. The second
//! turn reuses the first's cache and rewinds it where the rendered history differs from what
//! was generated: the recurrent states of Qwen3.5's DeltaNet layers and LFM2's convolutions
//! are restored from a checkpoint there. (Random weights: the words are gibberish, the tokens
//! exact.)

mod common;
#[path = "common/llama_src.rs"]
mod llama_src;

use pocketlm::{
    stream_chat, ChatMessage, ChatOptions, ChatSession, ChatTemplate, GenerateOptions, Model,
    SamplerConfig, Session, SessionOptions,
};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn options() -> ChatOptions {
    ChatOptions {
        system_prompt: Some("Answer in one short sentence.".into()),
        context_length: 512,
        threads: 1,
        generate: GenerateOptions {
            max_tokens: 6,
            sampler: SamplerConfig::greedy(),
            ..GenerateOptions::default()
        },
        ..ChatOptions::default()
    }
}

/// `template` (a file of llama.cpp's corpus) over the tiny model `model_file`, with the
/// vocabulary's own beginning and end tokens.
fn load(model_file: &str, template: &str) -> (Arc<Model>, ChatTemplate) {
    let path = common::repo_root().join("models/random").join(model_file);
    let model = Model::load(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/gen-random-models.sh makes it; make test runs it)",
            path.display()
        )
    });
    let src_path = llama_src::llama_src()
        .join("models/templates")
        .join(template);
    let src = std::fs::read_to_string(&src_path)
        .unwrap_or_else(|e| panic!("{}: {e}", src_path.display()));
    let tok = model.tokenizer();
    let text = |id: Option<u32>| {
        id.map(|id| String::from_utf8_lossy(tok.token_text(id)).into_owned())
            .unwrap_or_default()
    };
    let t = ChatTemplate::new(&src, &text(tok.bos()), &text(tok.eos())).expect("template");
    (model, t)
}

fn chat_two_turns(model_file: &str, template: &str, markers: &[&str]) {
    let (model, t) = load(model_file, template);
    let tok = model.tokenizer();
    let probe = [
        ChatMessage::system("Answer in one short sentence."),
        ChatMessage::user("Hello there"),
    ];
    let ids = t.encode(tok, &probe, true).expect("render");
    for m in markers {
        let id = tok
            .token_id(m)
            .unwrap_or_else(|| panic!("{m:?} is not a token of {model_file}'s vocabulary"));
        assert!(
            ids.contains(&id),
            "{template}: {m:?} (token {id}) is not in the encoded prompt"
        );
    }

    let cancel = AtomicBool::new(false);
    let mut chat = ChatSession::with_template(model.clone(), t, options()).expect("chat");
    chat.send("Hello there, how are you?", &cancel, |_| true)
        .expect("first turn");
    let second = chat
        .send("And what time is it?", &cancel, |_| true)
        .expect("second turn");
    assert!(
        second.reused_tokens > 0,
        "the second turn evaluated the first again"
    );
    assert!(second.generated_tokens > 0);

    // The same conversation, rendered whole into a fresh session.
    let history = chat.messages();
    let until_second = &history[..history.len() - usize::from(!second.text.trim().is_empty())];
    let mut fresh = Session::new(
        model,
        SessionOptions {
            context_length: 512,
            threads: 1,
        },
    )
    .expect("session");
    let (_, t) = load(model_file, template);
    let want = stream_chat(
        &mut fresh,
        &t,
        until_second,
        &options().generate,
        &cancel,
        |_| true,
    )
    .expect("fresh");
    assert_eq!(
        (second.text.as_str(), second.generated_tokens),
        (want.text.as_str(), want.generated_tokens),
        "{model_file}: the second turn differs from a fresh session's"
    );
    eprintln!(
        "{model_file} with {template}: second turn reused {} of {} prompt tokens, {:?}",
        second.reused_tokens, second.prompt_tokens, second.text
    );
}

#[test]
fn gemma4_chats_with_its_template() {
    chat_two_turns(
        "gemma4-tiny-seed0.F16.gguf",
        "google-gemma-4-31B-it.jinja",
        &["<|turn>", "<turn|>"],
    );
}

#[test]
fn qwen35_chats_with_its_template() {
    chat_two_turns(
        "qwen35-tiny-seed0.F16.gguf",
        "Qwen3.5-4B.jinja",
        &["<|im_start|>", "<|im_end|>"],
    );
}

/// The tiny LFM2 has llama3's vocabulary (the sdist has no LFM2 one), which lacks LFM2's
/// `<|im_start|>`: its template's markers are spelled in several tokens, as for any model given
/// a template of another family; the chat must still be exact.
#[test]
fn lfm2_chats_with_its_template() {
    chat_two_turns("lfm2-tiny-seed0.F16.gguf", "LFM2-8B-A1B.jinja", &[]);
}
