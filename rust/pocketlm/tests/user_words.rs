//! The keyboard's user dictionary on the real SmolLM2 model: added words are offered, learning
//! from typed words (threshold, model reach, field kinds), the bounded boost, export/import.

mod common;

use pocketlm::{
    FieldKind, KeyboardProfile, LearnOutcome, Model, PredictorOptions, UserWordsError,
    WordPredictor, WordSource,
};
use std::sync::{Arc, OnceLock};

fn model() -> Arc<Model> {
    static M: OnceLock<Arc<Model>> = OnceLock::new();
    M.get_or_init(|| Model::load(common::model_path(common::SMOLLM2)).expect("load SmolLM2"))
        .clone()
}

fn predictor() -> WordPredictor {
    WordPredictor::new(
        model(),
        PredictorOptions {
            threads: 1,
            ..PredictorOptions::default()
        },
    )
    .expect("predictor")
}

fn words(p: &WordPredictor, text: &str) -> Vec<String> {
    p.suggest(text)
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.word)
        .collect()
}

#[test]
fn an_added_word_is_offered_as_a_completion() {
    let p = predictor();
    let text = "See you at the party with Quen";
    assert!(!words(&p, text).contains(&"Quenbyth".to_string()));
    p.add_user_word("Quenbyth").unwrap();
    let w = words(&p, text);
    assert!(w.contains(&"Quenbyth".to_string()), "{w:?}");
    // Typed case is kept like the model's words.
    assert!(words(&p, "see you, QUEN").contains(&"QUENBYTH".to_string()));
    assert!(p.remove_user_word("quenbyth"));
    assert!(!words(&p, text).contains(&"Quenbyth".to_string()));
}

#[test]
fn a_user_word_never_beats_an_obviously_better_model_word() {
    let p = predictor();
    let before = words(&p, "Hello, how are y");
    assert_eq!(
        before.first().map(String::as_str),
        Some("you"),
        "{before:?}"
    );
    p.add_user_word("yqzzarb").unwrap();
    let after = words(&p, "Hello, how are y");
    assert_eq!(after.first().map(String::as_str), Some("you"), "{after:?}");
}

#[test]
fn learning_counts_words_the_model_would_not_offer() {
    let p = predictor();
    let ctx = "I had lunch with ";
    assert_eq!(
        p.learn_typed_word(ctx, "Vorlanth", FieldKind::Text)
            .unwrap(),
        LearnOutcome::Counted
    );
    assert!(!words(&p, "Tomorrow I will call Vor").contains(&"Vorlanth".to_string()));
    assert_eq!(
        p.learn_typed_word("Then ", "Vorlanth", FieldKind::Text)
            .unwrap(),
        LearnOutcome::Learned
    );
    let w = words(&p, "Tomorrow I will call Vor");
    assert!(w.contains(&"Vorlanth".to_string()), "{w:?}");
    let listed = p.user_words();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].word, "Vorlanth");
    assert_eq!(listed[0].source, WordSource::Learned);
    // A word the model offers is in its easy reach: not counted.
    assert_eq!(
        p.learn_typed_word("Thank you very ", "much", FieldKind::Text)
            .unwrap(),
        LearnOutcome::ModelOffers
    );
    assert_eq!(
        p.learn_typed_word("Hi ", "!!", FieldKind::Text).unwrap(),
        LearnOutcome::NotAWord
    );
}

#[test]
fn passwords_and_no_suggestion_fields_are_never_learned() {
    let p = predictor();
    for field in [FieldKind::Password, FieldKind::NoSuggestions] {
        for _ in 0..5 {
            assert_eq!(
                p.learn_typed_word("", "Hunter2xq", field).unwrap(),
                LearnOutcome::FieldNotLearned
            );
        }
    }
    assert!(p.user_words().is_empty());
    assert!(!words(&p, "my password is Hun").contains(&"Hunter2xq".to_string()));
    // Nothing was counted either: one typing in a text field is still only one.
    assert_eq!(
        p.learn_typed_word("", "Hunter2xq", FieldKind::Text)
            .unwrap(),
        LearnOutcome::Counted
    );
}

#[test]
fn export_then_import_restores_the_dictionary_in_another_predictor() {
    let p = predictor();
    p.add_user_word("Quenbyth").unwrap();
    p.learn_typed_word("I met ", "Vorlanth", FieldKind::Text)
        .unwrap();
    p.learn_typed_word("I met ", "Vorlanth", FieldKind::Text)
        .unwrap();
    let bytes = p.export_user_words();
    let q = predictor();
    assert_eq!(q.import_user_words(&bytes).unwrap(), 2);
    assert_eq!(q.user_words(), p.user_words());
    assert!(words(&q, "Tomorrow I will call Vor").contains(&"Vorlanth".to_string()));
    // Hostile bytes: a typed error, and the dictionary is unchanged.
    let mut bad = bytes.clone();
    let last = bad.len() - 6;
    bad[last] ^= 0x55;
    assert!(matches!(
        q.import_user_words(&bad),
        Err(UserWordsError::InvalidData(_))
    ));
    assert!(q.import_user_words(&[]).is_err());
    assert_eq!(q.user_words(), p.user_words());
}

#[test]
fn the_low_memory_profile_caps_the_dictionary() {
    let p = WordPredictor::new(
        model(),
        PredictorOptions {
            threads: 1,
            ..PredictorOptions::for_profile(KeyboardProfile::LowMemory)
        },
    )
    .unwrap();
    let cap = p.options().user_words.max_words;
    assert!(cap <= 1000);
    for i in 0..cap {
        p.add_user_word(&format!("word{i}x")).unwrap();
    }
    assert_eq!(p.add_user_word("onemore"), Err(UserWordsError::Full(cap)));
    assert_eq!(p.user_words().len(), cap);
    // Suggestions still work with a full dictionary.
    assert!(!words(&p, "I will send the wor").is_empty());
}
