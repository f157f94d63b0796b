//! Long input is cut before tokenization: 100 KB of text gives exactly the result of its
//! bounded tail (and so costs what the tail costs), for the keyboard and for reply drafting.

mod common;

use common::{model_path, SMOLLM2};
use pocketlm::internals::input_bounds::{
    keyboard_text, reply_conversation, tail_chars, KEYBOARD_MAX_CHARS, REPLY_MAX_CHARS,
};
use pocketlm::Model;
use pocketlm::{DraftOptions, DrafterConfig, Message, ReplyDrafter};
use pocketlm::{PredictorOptions, WordPredictor};

/// ~100 KB of varied sentences.
fn long_text() -> String {
    let sentences = [
        "We went to the market on Saturday and bought some apples. ",
        "The weather was nice, so we walked home along the river. ",
        "Did you see the game last night? It was amazing! ",
        "I think we should meet again next week to talk about the plan. ",
    ];
    let mut s = String::new();
    let mut i = 0;
    while s.len() < 100_000 {
        s.push_str(sentences[i % sentences.len()]);
        i += 1;
    }
    s
}

#[test]
fn keyboard_reads_only_the_bounded_tail() {
    let model = Model::load(model_path(SMOLLM2)).unwrap();
    let p = WordPredictor::new(model, PredictorOptions::default()).unwrap();
    let text = long_text() + "See you at the sta";
    let tail = keyboard_text(&text);
    assert_eq!(tail.chars().count(), KEYBOARD_MAX_CHARS);
    assert!(text.ends_with(tail));
    let full = p.suggest(&text).unwrap();
    p.reset();
    let bounded = p.suggest(tail).unwrap();
    assert!(!full.items.is_empty());
    assert_eq!(full.words(), bounded.words());
    assert_eq!(full.items, bounded.items);
    // A tail shorter than the bound is read whole.
    assert_eq!(keyboard_text("See you at the sta"), "See you at the sta");
}

#[test]
fn reply_reads_only_the_bounded_tail() {
    let model = Model::load(model_path(SMOLLM2)).unwrap();
    let d = ReplyDrafter::new(model, DrafterConfig::default()).unwrap();
    let conversation = vec![
        Message::incoming(long_text()),
        Message::outgoing(long_text()),
        Message::incoming("Are you coming to dinner tonight?"),
    ];
    let bounded = reply_conversation(&conversation);
    let total: usize = bounded.iter().map(|m| m.text.chars().count()).sum();
    assert_eq!(total, REPLY_MAX_CHARS);
    assert_eq!(bounded.len(), 2);
    assert_eq!(
        bounded[0].text,
        tail_chars(&conversation[1].text, REPLY_MAX_CHARS - 33)
    );
    let opts = DraftOptions::default();
    let full = d.draft(&conversation, &opts).unwrap();
    let cut = d.draft(&bounded, &opts).unwrap();
    assert!(!full.is_empty());
    assert_eq!(full, cut);
}
