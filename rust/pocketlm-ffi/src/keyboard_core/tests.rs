//! The keyboard controller on the real SmolLM2 (and Gemma 3 for languages) with an in-memory
//! UTF-16 field and hand-driven executors: the test decides when the worker runs and when its
//! results are delivered. Ported from the Android sample's KeyboardControllerTest.kt.

use super::*;
use crate::test_models::{smollm2, SMOLLM2};
use std::collections::VecDeque;

/// An executor whose jobs run only when the test drains it.
#[derive(Default)]
struct Queue(Mutex<VecDeque<Job>>);

impl Executor for Arc<Queue> {
    fn execute(&self, job: Job) {
        lock(&self.0).push_back(job);
    }
}

impl Queue {
    fn pending(&self) -> usize {
        lock(&self.0).len()
    }
    /// Runs queued jobs, including those they queue, until none is left; how many ran.
    fn run_pending(&self) -> usize {
        let mut ran = 0;
        loop {
            let job = lock(&self.0).pop_front();
            match job {
                Some(j) => {
                    j();
                    ran += 1;
                }
                None => return ran,
            }
        }
    }
}

/// The text field (UTF-16, like `InputConnection`) and what the observer saw.
#[derive(Default)]
struct Seen {
    text: Vec<u16>,
    cursor: usize,
    batches: usize,
    states: Vec<KeyboardCoreState>,
}

#[derive(Clone, Default)]
struct Field(Arc<Mutex<Seen>>);

impl KeyboardCoreObserver for Field {
    fn on_edit(&self, edit: FieldEdit) {
        let mut f = lock(&self.0);
        f.batches += 1;
        let n = (edit.delete_utf16 as usize).min(f.cursor);
        let c = f.cursor;
        f.text.drain(c - n..c);
        let ins: Vec<u16> = edit.insert.encode_utf16().collect();
        let at = c - n;
        f.text.splice(at..at, ins.iter().copied());
        f.cursor = at + ins.len();
    }
    fn on_state(&self, state: KeyboardCoreState) {
        lock(&self.0).states.push(state);
    }
}

impl Field {
    fn text(&self) -> String {
        String::from_utf16_lossy(&lock(&self.0).text)
    }
    fn set_text(&self, t: &str) {
        let mut f = lock(&self.0);
        f.text = t.encode_utf16().collect();
        f.cursor = f.text.len();
    }
    /// The cursor to scalar offset `k` (clamped), as a tap in the app would.
    fn move_to_scalar(&self, k: usize) {
        let t = self.text();
        let units: usize = t.chars().take(k).map(char::len_utf16).sum();
        lock(&self.0).cursor = units;
    }
    fn batches(&self) -> usize {
        lock(&self.0).batches
    }
    fn last_state(&self) -> KeyboardCoreState {
        lock(&self.0).states.last().cloned().unwrap()
    }
}

fn gemma_path() -> String {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/gemma-3-270m-q4_k_m.gguf"
    );
    assert!(
        std::path::Path::new(p).is_file(),
        "{p} is missing: run scripts/fetch-models.sh"
    );
    p.into()
}

/// The real predictor, recording which calls reached it (conflation, resets, memory release;
/// "close" when it is dropped).
struct Recording {
    real: Arc<KeyboardPredictor>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Engine for Recording {
    fn suggest(&self, text: &str) -> Vec<String> {
        lock(&self.calls).push(format!("suggest:{text}"));
        Engine::suggest(&*self.real, text)
    }
    fn accept(&self, text: &str, word: &str) -> (usize, String) {
        Engine::accept(&*self.real, text, word)
    }
    fn reset(&self) {
        lock(&self.calls).push("reset".into());
        Engine::reset(&*self.real)
    }
    fn release_memory(&self) {
        lock(&self.calls).push("releaseMemory".into());
        Engine::release_memory(&*self.real)
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        lock(&self.calls).push("close".into());
    }
}

#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn all(&self) -> Vec<String> {
        lock(&self.0).clone()
    }
    fn suggests(&self) -> Vec<String> {
        lock(&self.0)
            .iter()
            .filter_map(|c| c.strip_prefix("suggest:").map(String::from))
            .collect()
    }
    fn clear(&self) {
        lock(&self.0).clear()
    }
}

fn predictor(model: Arc<Model>, language: &str) -> Arc<KeyboardPredictor> {
    KeyboardPredictor::new(model, keyboard_options(language)).unwrap()
}

/// An opener of recording engines on SmolLM2.
fn recording_opener(calls: &Calls) -> Opener {
    let calls = calls.0.clone();
    Arc::new(move |language: &str| {
        Ok(Arc::new(Recording {
            real: predictor(smollm2(), language),
            calls: calls.clone(),
        }) as Arc<dyn Engine>)
    })
}

/// A controller on a fresh in-memory field, with both executors driven by the test.
struct K {
    core: KeyboardCore,
    worker: Arc<Queue>,
    ui: Arc<Queue>,
    field: Field,
    calls: Calls,
}

impl K {
    fn new(text: &str, input_type: u32, load: bool) -> K {
        let field = Field::default();
        field.set_text(text);
        let worker = Arc::new(Queue::default());
        let ui = Arc::new(Queue::default());
        let core = KeyboardCore::with_executors(
            Box::new(field.clone()),
            Box::new(worker.clone()),
            Box::new(ui.clone()),
        );
        let k = K {
            core,
            worker,
            ui,
            field,
            calls: Calls::default(),
        };
        k.core
            .start_field(input_type, text.into(), units::utf16_len(text) as u32);
        if load {
            k.core.load_with(recording_opener(&k.calls));
            k.settle();
        }
        k
    }
    fn ready() -> K {
        K::new("", 1, true)
    }
    fn strip(&self) -> Vec<String> {
        self.core.state().strip
    }
    /// Runs the worker and the delivery queue until neither has anything left.
    fn settle(&self) {
        while self.worker.run_pending() + self.ui.run_pending() > 0 {}
    }
    /// Types `text` one key (scalar) at a time, without letting the worker run in between.
    fn type_keys(&self, text: &str) {
        for c in text.chars() {
            self.core.type_text(c.to_string());
        }
    }
    fn tap_word(&self, word: &str) {
        let strip = self.strip();
        let slot = strip
            .iter()
            .position(|w| w == word)
            .unwrap_or_else(|| panic!("{word:?} is not in the strip {strip:?}"));
        self.core.tap(slot as u32);
    }
    /// The platform reports the field's text and cursor (a selection update).
    fn selection_changed(&self) {
        let (text, cursor) = {
            let f = lock(&self.field.0);
            (String::from_utf16_lossy(&f.text), f.cursor)
        };
        self.core.text_changed(text, cursor as u32);
    }
    fn auto_shift(&self) -> bool {
        self.core.state().auto_shift
    }
}

fn empty() -> Vec<String> {
    empty_strip()
}

#[test]
fn strip_order_is_second_best_third() {
    let s = |v: &[&str]| v.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    assert_eq!(arrange(&s(&["a", "b", "c"])), s(&["b", "a", "c"]));
    assert_eq!(arrange(&s(&["a"])), s(&["", "a", ""]));
    assert_eq!(arrange(&s(&["a", "b"])), s(&["b", "a", ""]));
    assert_eq!(arrange(&[]), empty());

    let engine = predictor(smollm2(), "en");
    let best_first = Engine::suggest(&*engine, "Hel");
    assert_eq!(best_first.len(), 3, "the core gave {best_first:?}");
    let k = K::ready();
    k.type_keys("Hel");
    k.settle();
    assert_eq!(
        k.strip(),
        vec![
            best_first[1].clone(),
            best_first[0].clone(),
            best_first[2].clone()
        ]
    );

    // Fewer than three (the core's completion of "tomor" is "tomorrow", with at most its
    // possessive beside it): the best takes the middle slot, empty slots stay empty.
    let few = Engine::suggest(&*engine, "See you tomor");
    assert_eq!(few.first().map(String::as_str), Some("tomorrow"), "{few:?}");
    assert!(few.len() < 3, "the core gave {few:?}");
    let one = K::ready();
    one.type_keys("See you tomor");
    one.settle();
    assert_eq!(one.strip(), arrange(&few));
    assert_eq!(one.strip()[1], "tomorrow");
    assert_eq!(one.strip()[2], "");
}

#[test]
fn a_newer_request_replaces_the_waiting_one() {
    let k = K::ready();
    k.calls.clear();
    k.type_keys("Hel");
    assert_eq!(k.worker.pending(), 1, "three keys, one waiting worker job");
    k.settle();
    assert_eq!(k.calls.suggests(), ["Hel"]);
    assert!(k.strip().iter().any(|w| !w.is_empty()));
}

#[test]
fn a_result_for_text_the_field_no_longer_has_is_dropped() {
    let k = K::ready();
    let empty_field_strip = k.strip(); // the next-word strip of the empty field
    k.type_keys("See you tomor");
    k.worker.run_pending(); // computes the strip for "See you tomor"; its delivery waits
    assert_eq!(k.ui.pending(), 1);
    k.core.type_text("x".into()); // the user typed on meanwhile
    k.ui.run_pending(); // the "See you tomor" result arrives: stale
    assert_eq!(k.strip(), empty_field_strip, "the stale strip was applied");
    assert!(!k.strip().contains(&"tomorrow".to_string()));
    k.settle();
    assert_eq!(k.calls.suggests(), ["", "See you tomor", "See you tomorx"]);
    let reference = predictor(smollm2(), "en");
    assert_eq!(
        k.strip(),
        arrange(&Engine::suggest(&*reference, "See you tomorx"))
    );

    // The same text in a new field: still stale (another field).
    k.field.set_text("");
    k.core.start_field(1, String::new(), 0);
    k.type_keys("Hi");
    k.worker.run_pending();
    k.field.set_text("");
    k.core.start_field(0x81, String::new(), 0); // a password field: "Hi" typed again
    k.type_keys("Hi");
    k.settle();
    assert_eq!(
        k.strip(),
        empty(),
        "a result from the previous field was applied"
    );
}

#[test]
fn suggestions_off_never_calls_the_model() {
    for input_type in [0x81, 0x2, 0x21, 0x80001] {
        let k = K::new("", input_type, true);
        k.calls.clear();
        k.type_keys("Hel");
        k.settle();
        assert_eq!(k.field.text(), "Hel");
        assert_eq!(k.strip(), empty());
        assert!(
            k.calls.suggests().is_empty(),
            "inputType 0x{input_type:x}: {:?}",
            k.calls.all()
        );
    }
}

#[test]
fn a_suggestion_tap_is_one_batch_and_punctuation_eats_its_space() {
    let k = K::ready();
    k.type_keys("See you tomor");
    k.settle();
    let batches = k.field.batches();
    k.tap_word("tomorrow");
    assert_eq!(k.field.text(), "See you tomorrow ");
    assert_eq!(
        k.field.batches(),
        batches + 1,
        "the tap's delete and insert must be one edit"
    );
    k.settle();
    assert!(
        k.strip().iter().any(|w| !w.is_empty()),
        "no next-word strip after the tap"
    );
    k.core.type_text(".".into());
    assert_eq!(k.field.text(), "See you tomorrow.");

    // A space typed by the user stays.
    let typed = K::ready();
    typed.type_keys("See you ");
    typed.core.type_text(",".into());
    assert_eq!(typed.field.text(), "See you ,");

    // Any other event in between ends the auto-space state.
    let betweens: [&dyn Fn(&K); 2] = [
        &|k: &K| {
            k.core.type_text("a".into());
            k.core.backspace(1);
        },
        &|k: &K| {
            k.field.move_to_scalar(3);
            k.selection_changed();
            k.field.move_to_scalar(99);
            k.selection_changed();
        },
    ];
    for between in betweens {
        let h = K::ready();
        h.type_keys("See you tomor");
        h.settle();
        h.tap_word("tomorrow");
        between(&h);
        h.core.type_text("!".into());
        assert_eq!(h.field.text(), "See you tomorrow !");
    }
}

#[test]
fn capitalization_comes_from_the_core_and_shift_follows_sentence_starts() {
    let k = K::ready();
    assert!(k.auto_shift(), "an empty field starts a sentence");
    k.type_keys("Hel");
    k.settle();
    assert!(!k.auto_shift());
    // At a sentence start the core capitalizes ("Hel" -> "Help", "Here", "Hey" with SmolLM2).
    let words: Vec<String> = k.strip().into_iter().filter(|w| !w.is_empty()).collect();
    assert_eq!(words.len(), 3, "{words:?}");
    for w in &words {
        let mut c = w.chars();
        assert!(
            c.next().unwrap().is_uppercase() && c.all(char::is_lowercase),
            "{words:?}"
        );
    }
    k.tap_word(&words[0]);
    k.type_keys("there. ");
    assert!(k.auto_shift(), "after \". \" shift is on");

    let mid = K::ready();
    mid.type_keys("I said hel");
    mid.settle();
    let strip = mid.strip();
    assert!(strip.contains(&"hello".to_string()), "{strip:?}");
    assert!(
        strip
            .iter()
            .filter(|w| !w.is_empty())
            .all(|w| w.starts_with(char::is_lowercase)),
        "{strip:?}"
    );

    let caps = K::ready();
    caps.type_keys("HEL");
    caps.settle();
    let w: Vec<String> = caps.strip().into_iter().filter(|w| !w.is_empty()).collect();
    assert!(
        w.len() == 3 && w.iter().all(|w| *w == w.to_uppercase()),
        "{w:?}"
    );

    let email = K::new("", 0x21, true);
    assert!(!email.auto_shift(), "no auto-shift in an email field");
}

#[test]
fn deletions_next_to_emoji_and_combining_accents() {
    let thumbs = "\u{1F44D}\u{1F3FD}";
    let k = K::new(&format!("Un cafe\u{301} {thumbs}"), 1, true);
    k.core.backspace(1);
    assert_eq!(k.field.text(), "Un cafe\u{301} ");
    k.core.backspace(2);
    assert_eq!(k.field.text(), "Un caf");
    k.core.backspace(10);
    assert_eq!(k.field.text(), "");
    k.core.backspace(1);
    assert_eq!(k.field.text(), "");

    // A tap after an emoji: the core's scalar count becomes the right UTF-16 deletion.
    let t = K::new(&format!("Great {thumbs} see you tomor"), 1, true);
    t.tap_word("tomorrow");
    assert_eq!(t.field.text(), format!("Great {thumbs} see you tomorrow "));
    let cursor = lock(&t.field.0).cursor;
    assert_eq!(cursor, units::utf16_len(&t.field.text()));

    // Accented letters before the word: the tap still replaces exactly "tomor".
    let a = K::new("Un caf\u{e9} tr\u{e8}s bon, see you tomor", 1, true);
    a.tap_word("tomorrow");
    assert_eq!(
        a.field.text(),
        "Un caf\u{e9} tr\u{e8}s bon, see you tomorrow "
    );
}

#[test]
fn a_new_field_resets_the_context_and_the_state() {
    let k = K::ready();
    k.type_keys("See you tomor");
    k.settle();
    k.tap_word("tomorrow");
    k.settle();
    assert_ne!(k.strip(), empty());
    k.calls.clear();
    k.field.set_text("");
    k.core.start_field(1, String::new(), 0);
    assert_eq!(
        k.strip(),
        empty(),
        "the old strip must go with the old field"
    );
    k.settle();
    assert_eq!(k.calls.all(), ["reset", "suggest:"]);
    assert!(k.auto_shift());
    k.core.type_text(".".into()); // no auto-space state carried over
    assert_eq!(k.field.text(), ".");
}

#[test]
fn model_loading_ready_and_failed() {
    let k = K::new("", 1, false);
    k.core.load_with(recording_opener(&k.calls));
    assert_eq!(k.core.state().model, KeyboardModelStatus::Loading);
    k.type_keys("See you tomor"); // keys work while the model loads
    k.ui.run_pending();
    assert_eq!(k.field.text(), "See you tomor");
    assert_eq!(k.strip(), empty());
    assert_eq!(k.core.state().model, KeyboardModelStatus::Loading);
    k.settle();
    assert_eq!(k.core.state().model, KeyboardModelStatus::Ready);
    assert_eq!(
        k.calls.suggests(),
        ["See you tomor"],
        "exactly one request when loading finishes"
    );
    assert_eq!(k.strip()[1], "tomorrow");

    let bad = K::new("", 1, false);
    bad.core
        .load_with(path_opener("/nonexistent/model.gguf".into(), None, None));
    bad.settle();
    match bad.core.state().model {
        KeyboardModelStatus::Failed { message, detail } => {
            assert_eq!(message, "No model: open PocketLM settings");
            assert!(detail.contains("/nonexistent/model.gguf"), "{detail}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    bad.type_keys("Hi");
    bad.settle();
    assert_eq!(bad.field.text(), "Hi");
    assert_eq!(bad.strip(), empty());
    assert!(matches!(
        bad.field.last_state().model,
        KeyboardModelStatus::Failed { .. }
    ));
}

#[test]
fn cursor_moves_and_outside_edits_bring_new_suggestions_own_edits_do_not() {
    let k = K::ready();
    k.type_keys("See you tomor");
    k.settle();
    k.calls.clear();
    k.selection_changed(); // the echo of the controller's own typing
    k.settle();
    assert!(k.calls.suggests().is_empty());
    k.field.move_to_scalar(7); // "See you|"
    k.selection_changed();
    k.settle();
    assert_eq!(k.calls.suggests(), ["See you"]);
    let reference = predictor(smollm2(), "en");
    assert_eq!(k.strip(), arrange(&Engine::suggest(&*reference, "See you")));

    // A platform that passes only the last KEYBOARD_CONTEXT_UNITS units: still an echo.
    let long = "word ".repeat(100);
    let l = K::new(&long, 1, true);
    l.type_keys("a");
    l.settle();
    l.calls.clear();
    let all = format!("{long}a");
    let window = tail_utf16(&all, CONTEXT).to_string();
    l.core
        .text_changed(window.clone(), utf16_len(&window) as u32);
    l.settle();
    assert!(l.calls.suggests().is_empty(), "{:?}", l.calls.all());
}

#[test]
fn memory_pressure_releases_the_predictor_and_suggestions_keep_working() {
    let k = K::ready();
    k.type_keys("See you tomor");
    k.settle();
    let before = k.strip();
    k.core.release_memory();
    k.core.backspace(1);
    k.core.type_text("r".into());
    k.settle();
    assert!(k.calls.all().contains(&"releaseMemory".to_string()));
    assert_eq!(k.strip(), before);
}

#[test]
fn the_language_setting_reopens_the_predictor_for_that_language() {
    // Gemma 3 270M: with English framing and head "Vielen Da" offers no "Dank"; German does
    // (docs/keyboard.md, the library's own language test).
    let gemma = Model::load(gemma_path()).unwrap();
    type Opened = Vec<(String, Calls)>;
    let opened: Arc<Mutex<Opened>> = Arc::default();
    let open: Opener = {
        let opened = opened.clone();
        let gemma = gemma.clone();
        Arc::new(move |language: &str| {
            let calls = Calls::default();
            lock(&opened).push((language.to_string(), calls.clone()));
            Ok(Arc::new(Recording {
                real: predictor(gemma.clone(), language),
                calls: calls.0,
            }) as Arc<dyn Engine>)
        })
    };
    let langs = |o: &Arc<Mutex<Opened>>| lock(o).iter().map(|(l, _)| l.clone()).collect::<Vec<_>>();
    let calls_of = |i: usize| lock(&opened)[i].1.clone();

    let k = K::new("", 1, false);
    assert!(
        k.core.set_language("es".into()).unwrap(),
        "before the first load: sets the language"
    );
    assert!(langs(&opened).is_empty());
    assert!(
        !k.core.set_language("ES".into()).unwrap(),
        "the same language changes nothing"
    );
    assert!(matches!(
        k.core.set_language("nl".into()),
        Err(PocketLmError::InvalidArgument(_))
    ));
    k.core.set_language("en".into()).unwrap();
    k.core.load_with(open);
    k.settle();
    assert_eq!(langs(&opened), ["en"]);
    k.type_keys("Vielen Da");
    k.settle();
    let english = k.strip();

    assert!(k.core.set_language("de-DE".into()).unwrap());
    assert_eq!(k.core.language(), "de");
    assert_eq!(k.core.state().model, KeyboardModelStatus::Loading);
    assert_eq!(k.strip(), empty(), "the old language's strip is cleared");
    k.settle();
    assert_eq!(k.core.state().model, KeyboardModelStatus::Ready);
    assert_eq!(langs(&opened), ["en", "de"]);
    assert!(
        calls_of(0).all().contains(&"close".to_string()),
        "the English predictor was not closed"
    );
    assert_eq!(
        calls_of(1).suggests(),
        ["Vielen Da"],
        "one request when the new predictor is ready"
    );
    let reference = predictor(gemma.clone(), "de");
    assert_eq!(
        k.strip(),
        arrange(&Engine::suggest(&*reference, "Vielen Da"))
    );
    assert!(
        k.strip().contains(&"Dank".to_string()),
        "German {:?}",
        k.strip()
    );
    assert!(
        !english.contains(&"Dank".to_string()),
        "English {english:?}"
    );

    // Two changes before the worker runs: only the last language's predictor is kept.
    k.core.set_language("fr".into()).unwrap();
    k.core.set_language("it".into()).unwrap();
    k.settle();
    assert_eq!(k.core.language(), "it");
    assert_eq!(langs(&opened), ["en", "de", "fr", "it"]);
    assert!(
        calls_of(2).all().contains(&"close".to_string()),
        "the superseded French predictor was not closed"
    );
    assert!(calls_of(2).suggests().is_empty());
    assert_eq!(calls_of(3).suggests(), ["Vielen Da"]);
    assert!(!calls_of(3).all().contains(&"close".to_string()));
}

#[test]
fn the_worker_thread_delivers_states_in_version_order() {
    // The real worker thread (what the apps use): the observer's last state after idle is the
    // strip for the text typed, and versions only grow.
    let field = Field::default();
    let core = KeyboardCore::new(Box::new(field.clone())).unwrap();
    core.load_model(SMOLLM2.into());
    for c in "See you tomor".chars() {
        core.type_text(c.to_string());
    }
    assert!(core.wait_idle(120_000), "the worker never went idle");
    assert_eq!(field.text(), "See you tomor");
    let states = lock(&field.0).states.clone();
    let last = states.iter().max_by_key(|s| s.version).unwrap();
    assert_eq!(last.model, KeyboardModelStatus::Ready);
    assert_eq!(last.strip[1], "tomorrow");
    drop(core); // the worker thread ends (no hang, no panic)
}

/// Types "See you tomor" through a controller on the real worker thread whose predictor keeps
/// its warm-up in `dir`; the last strip.
fn strip_with_state_dir(dir: &std::path::Path) -> Vec<String> {
    let field = Field::default();
    let core = KeyboardCore::new(Box::new(field.clone())).unwrap();
    core.load_model_with_state_dir(SMOLLM2.into(), dir.to_str().unwrap().into());
    for c in "See you tomor".chars() {
        core.type_text(c.to_string());
    }
    assert!(core.wait_idle(120_000), "the worker never went idle");
    let states = lock(&field.0).states.clone();
    let last = states.iter().max_by_key(|s| s.version).unwrap();
    assert_eq!(last.model, KeyboardModelStatus::Ready);
    last.strip.clone()
}

/// The files of `dir` with their bytes and modification times.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let m = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p.clone(), std::fs::read(&p).unwrap(), m)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn a_state_dir_is_written_once_reused_and_survives_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keyboard-state"); // created by the predictor
    let first = strip_with_state_dir(&dir);
    assert_eq!(first[1], "tomorrow");
    let saved = files(&dir);
    assert_eq!(saved.len(), 1, "one warm-up file: {saved:?}");
    assert!(saved[0].1.len() > 100_000, "it holds the prefix's KV cache");

    // A restarted keyboard: same strip, the file read and not rewritten.
    assert_eq!(strip_with_state_dir(&dir), first);
    assert_eq!(files(&dir), saved, "a valid warm-up is reused as it is");

    // A damaged file costs only the warm start: same strip, and a valid file again.
    let mut bad = saved[0].1.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    bad.truncate(mid + 10);
    std::fs::write(&saved[0].0, &bad).unwrap();
    assert_eq!(strip_with_state_dir(&dir), first);
    let again = files(&dir);
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].1, saved[0].1,
        "rewritten as the first run wrote it"
    );
}
