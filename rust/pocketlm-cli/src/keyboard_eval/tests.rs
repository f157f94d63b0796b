//! The harness on the real SmolLM2 model: our predictor against the naive baseline on the
//! first lines of the keyboard dev corpus.

use super::{evaluate_with, EvalOptions, EvalReport, NaivePredictor, Suggest};
use pocketlm::internals::keyboard::Contractions;
use pocketlm::{KeyboardError, Language, Suggestion, SuggestionKind, Suggestions};
use pocketlm::{Model, PredictorOptions, WordPredictor};
use std::path::PathBuf;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Our predictor on `model` with one worker thread (the evaluations' setting).
fn one_thread_predictor(model: std::sync::Arc<Model>) -> WordPredictor {
    WordPredictor::new(
        model,
        PredictorOptions {
            threads: 1,
            ..PredictorOptions::default()
        },
    )
    .expect("predictor")
}

#[test]
fn evaluation_beats_the_naive_baseline() {
    let path = repo_root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.exists(),
        "model {} is missing: run scripts/fetch-models.sh (make test does it)",
        path.display()
    );
    let model = Model::load(&path).expect("load SmolLM2");
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/keyboard-dev.txt"))
        .expect("fixture");
    let lines: Vec<&str> = text.lines().take(8).collect();
    let ours = one_thread_predictor(model.clone());
    let r = evaluate_with(&ours, &lines, None, EvalOptions::default(), |_| {}).unwrap();
    let naive = NaivePredictor::new(model, 3, 1).unwrap();
    let b = evaluate_with(&naive, &lines, None, EvalOptions::default(), |_| {}).unwrap();
    assert_eq!(r.keystrokes, b.keystrokes);
    assert_eq!(
        r.keystrokes,
        lines.iter().map(|l| l.chars().count()).sum::<usize>()
    );
    assert!(r.ksr > 0.3, "ksr {}", r.ksr);
    assert!(r.ksr > b.ksr + 0.1, "ours {} vs naive {}", r.ksr, b.ksr);
    assert!(
        r.next_word_top3 >= b.next_word_top3,
        "{} vs {}",
        r.next_word_top3,
        b.next_word_top3
    );
    assert!(r.completion_top3[0] > b.completion_top3[0]);
    // Far less work per keystroke than re-running the context.
    assert!(
        r.tokens_per_keystroke * 2.0 < b.tokens_per_keystroke,
        "{} vs {}",
        r.tokens_per_keystroke,
        b.tokens_per_keystroke
    );
}

#[test]
fn the_user_words_evaluation_learns_the_names_and_saves_keystrokes_on_them() {
    let model = Model::load(repo_root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        .expect("load SmolLM2");
    let predictor = || one_thread_predictor(model.clone());
    let (on, off) = (predictor(), predictor());
    // Left over from earlier use: cleared by the evaluation.
    on.add_user_word("Leftover").unwrap();
    let lines = ["I had lunch with Vorlanth.", "Vorlanth is late again."];
    let mut passes = 0;
    let r = super::evaluate_user_words(&on, &off, &lines, |n| passes = n).unwrap();
    assert_eq!(passes, 4);
    assert_eq!(r.lines, 2);
    assert_eq!(r.learned, vec!["Vorlanth".to_string()]);
    assert_eq!(r.occurrences, 2);
    assert!(r.on.learning && !r.off.learning);
    // Not learned: the model alone never offers the name before it is complete.
    assert_eq!(r.off.learned_words_offered, 0.0);
    assert_eq!(r.off.learned_words_ksr, 0.0);
    assert_eq!(r.on.learned_words_offered, 1.0);
    assert!(r.on.learned_words_ksr > 0.3, "{r:?}");
    assert!(r.on.second_pass_ksr > r.off.second_pass_ksr, "{r:?}");
    assert!(off.user_words().is_empty());
}

#[test]
fn first_words_are_split_by_apostrophe() {
    let model = Model::load(repo_root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        .expect("load SmolLM2");
    let p = one_thread_predictor(model);
    let lines = [
        "Don't worry about it.",
        "Let's go tomorrow.",
        "Thanks for the help!",
        "I'm late",
        "Hello there",
    ];
    let r = evaluate_with(&p, &lines, None, EvalOptions::default(), |_| {}).unwrap();
    assert_eq!((r.first_words_apostrophe, r.first_words_plain), (3, 2));
    let pooled = (r.first_word_completion_top3_apostrophe * 3.0
        + r.first_word_completion_top3_plain * 2.0)
        / 5.0;
    assert!((pooled - r.first_word_completion_top3).abs() < 1e-9);
    // "Don't", "Let's" and "I'm" are offered within three letters (issue 45).
    assert_eq!(r.first_word_completion_top3_apostrophe, 1.0, "{r:?}");
}

/// Offers the same words whatever the text.
struct Fixed(&'static [&'static str]);

impl Suggest for Fixed {
    fn suggest(&self, _: &str) -> Result<Suggestions, KeyboardError> {
        Ok(Suggestions {
            items: self
                .0
                .iter()
                .map(|w| Suggestion {
                    word: w.to_string(),
                    probability: 0.1,
                    kind: SuggestionKind::Completion,
                })
                .collect(),
            ..Suggestions::default()
        })
    }

    fn name(&self) -> &'static str {
        "fixed"
    }
}

#[test]
fn a_word_typed_without_its_apostrophe_matches_its_contraction() {
    let table = Contractions::for_language(Language::En);
    let lines = ["dont go", "im here", "hello"];
    let run = |s: &Fixed, t: Option<&Contractions>| -> EvalReport {
        evaluate_with(s, &lines, t, EvalOptions::default(), |_| {}).unwrap()
    };
    let offering = Fixed(&["Don\u{2019}t", "I'm", "hell'o"]);
    let exact = run(&offering, None);
    assert_eq!(exact.first_word_completion_top3_plain, 0.0, "{exact:?}");
    assert_eq!(
        (exact.typed_form_words, exact.typed_form_words_offered),
        (0, 0)
    );
    let typed = run(&offering, table);
    // "dont" and "im" are typed forms of table rows, offered; "hello" is none ("hell'o" is
    // no row of the table).
    assert_eq!(
        (typed.typed_form_words, typed.typed_form_words_offered),
        (2, 2)
    );
    assert!((typed.first_word_completion_top3_plain - 2.0 / 3.0).abs() < 1e-9);
    assert!(typed.ksr > exact.ksr);
    // Exact matches count as before.
    let plain = run(&Fixed(&["dont", "im"]), table);
    assert_eq!(plain.typed_form_words_offered, 2);
}

/// Offers nothing and records every text it is asked about.
#[derive(Default)]
struct Recording(std::cell::RefCell<Vec<String>>);

impl Suggest for Recording {
    fn suggest(&self, text: &str) -> Result<Suggestions, KeyboardError> {
        self.0.borrow_mut().push(text.to_string());
        Ok(Suggestions::default())
    }

    fn name(&self) -> &'static str {
        "recording"
    }
}

#[test]
fn an_edit_slips_backspaces_over_the_word_and_retypes_it() {
    let lines = ["aa bb cc"];
    let rec = Recording::default();
    let opts = EvalOptions {
        backspace_every: Some(2),
    };
    let r = evaluate_with(&rec, &lines, None, opts, |_| {}).unwrap();
    let typed = rec.0.take();
    let expected = [
        "", "a", "aa", "aa ", "aa b", "aa bb",
        // the slip ("b "), backspaces onto the previous word, the word again
        "aa bbb", "aa bbb ", "aa bbb", "aa bb", "aa b", "aa ", "aa", "aa ", "aa b", "aa bb",
        // the keystroke after the edit, then the rest of the line
        "aa bb ", "aa bb c",
    ];
    assert_eq!(typed, expected);
    let e = r.edits.as_ref().expect("edit report");
    assert_eq!((e.every, e.edits, e.keystrokes), (2, 1, 11));
    // The typing's measures count each position once.
    assert_eq!(r.keystrokes, 8);
    assert_eq!(r.trace.iter().filter(|t| !t.edit).count(), 7);
    let plain = evaluate_with(&rec, &lines, None, EvalOptions::default(), |_| {}).unwrap();
    assert!(plain.edits.is_none());
    assert_eq!(
        (plain.ksr, plain.words, plain.keystrokes),
        (r.ksr, r.words, r.keystrokes)
    );
}

/// Typing and editing on Qwen3.5 (the tiny random-weight model of the families tests): the
/// candidate words branch from the context, where the engine keeps a checkpoint of the
/// recurrent state, so few tokens are replayed per keystroke (3.9 per typing keystroke
/// before that checkpoint, 1.0 with it, on the first 12 lines), and the edits rewind.
#[test]
fn qwen35_typing_replays_few_tokens() {
    let path = repo_root().join("models/random/qwen35-tiny-seed0.F16.gguf");
    let model = Model::load(&path).expect("the tiny Qwen3.5 (make random-models)");
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/keyboard-dev.txt"))
        .expect("fixture");
    let lines: Vec<&str> = text.lines().take(12).collect();
    let p = one_thread_predictor(model);
    let opts = EvalOptions {
        backspace_every: Some(3),
    };
    let r = evaluate_with(&p, &lines, None, opts, |_| {}).unwrap();
    let e = r.edits.as_ref().expect("edit report");
    assert!(
        r.replayed_per_keystroke < 2.0,
        "{} tokens replayed per keystroke",
        r.replayed_per_keystroke
    );
    assert!(e.rewinds > 0 && e.replayed_tokens_max < 16, "{e:?}");
}
