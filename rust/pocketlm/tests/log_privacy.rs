//! PocketLM's diagnostics never contain what the user typed or received: a capturing `log`
//! logger at Trace (everything) while the keyboard predictor sees typed text keystroke by
//! keystroke (with a zero keystroke budget, so every call logs its over-budget warning) and a
//! suggestion is accepted, and while the reply drafter drafts for received messages (an ordinary
//! one and a sensitive one). No record may contain a word of that text or of the drafts; the
//! records that must exist (the model load, the over-budget keystrokes) do, so the check is not
//! vacuous. Its own test binary: the `log` logger is process-wide.

mod common;

use common::{model_path, SMOLLM2};
use pocketlm::{
    DraftOptions, DrafterConfig, Message, Model, PredictorOptions, ReplyDrafter, WordPredictor,
};
use std::sync::Mutex;

struct Capture(Mutex<Vec<(log::Level, String, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        self.0
            .lock()
            .unwrap()
            .push((r.level(), r.target().to_owned(), r.args().to_string()));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// Words of `text` long enough to be distinctive (4+ letters), lower-cased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .collect()
}

#[test]
fn keyboard_and_reply_log_no_user_text() {
    log::set_logger(&CAPTURE).expect("the only logger of this test binary");
    log::set_max_level(log::LevelFilter::Trace);

    let model = Model::load(model_path(SMOLLM2)).expect("load SmolLM2");
    let mut secret: Vec<String> = Vec::new();

    // The keyboard: every keystroke of a sentence, then a tap on the first suggestion.
    let typed = "Meet Zebulon near the Quarrytown bakery tomorrow";
    secret.extend(words(typed));
    let p = WordPredictor::new(
        model.clone(),
        PredictorOptions {
            threads: 1,
            slow_keystroke_ms: 0,
            ..PredictorOptions::default()
        },
    )
    .expect("predictor");
    let mut last = None;
    for (i, _) in typed.char_indices().skip(1) {
        last = Some(p.suggest(&typed[..i]).expect("suggest"));
    }
    let strip = p.suggest(typed).expect("suggest");
    let strip = if strip.items.is_empty() {
        last.expect("some strip")
    } else {
        strip
    };
    assert!(!strip.items.is_empty(), "no suggestions for {typed:?}");
    for s in &strip.items {
        secret.extend(words(&s.word));
    }
    let _edit = p.accept(typed, &strip.items[0].word);

    // Replies to received messages: an ordinary one and a sensitive one.
    let received = [
        "Can Philippa bring the saxophone to Wednesday's rehearsal?",
        "My grandmother Ottoline passed away last night.",
    ];
    let drafter = ReplyDrafter::new(model.clone(), DrafterConfig::default()).expect("drafter");
    for text in received {
        secret.extend(words(text));
        let replies = drafter
            .draft(&[Message::incoming(text)], &DraftOptions::default())
            .expect("draft");
        for r in replies {
            secret.extend(words(&r.text));
        }
    }

    let records = CAPTURE.0.lock().unwrap().clone();
    // Not vacuous: the load and the over-budget keystrokes were logged.
    assert!(
        records
            .iter()
            .any(|r| r.1 == "pocketlm::model" && r.2.contains("bytes mapped")),
        "no model load record in {records:#?}"
    );
    let slow = records
        .iter()
        .filter(|r| r.1 == "pocketlm::keyboard" && r.2.contains("keystroke over budget"))
        .count();
    assert!(
        slow >= typed.chars().count() - 1,
        "{slow} over-budget records for a zero budget"
    );

    // The records' own wording (their format strings and the model's name) is not user text: a
    // draft saying "come over" must not fail on "keystroke over budget".
    let mut allowed = words(
        "loaded layers vocabulary bytes mapped from file paged clean anonymous norm bias vectors \
         kernel tier chosen supported this unset keystroke over budget suggest took context \
         tokens reused token rows forward passes threads",
    );
    allowed.extend(words(&model.info().name));
    allowed.extend(words(&model.info().architecture));
    secret.retain(|w| !allowed.contains(w));
    secret.sort();
    secret.dedup();
    for (level, target, message) in &records {
        let lower = message.to_lowercase();
        for w in &secret {
            assert!(
                !lower.contains(w.as_str()),
                "a {level} record of {target} contains the user's word {w:?}: {message}"
            );
        }
    }
    eprintln!(
        "log privacy: {} records checked against {} words typed, received or drafted",
        records.len(),
        secret.len()
    );
}
