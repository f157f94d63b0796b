//! Structured output through the bindings on the real models: output constraints on
//! `GenerationOptions` (JSON Schema, regex, grammar, choices), typed `InvalidConstraint` errors
//! raised when the generation is started (before any token reaches the listener), `complete` /
//! `valid` reported (an output cut short by `max_tokens` is neither), streaming with a
//! constraint and cancellation mid-stream, `score` and `classify` agreeing with the core.

use pocketlm_ffi::{
    GenerationOptions, Model, OutputConstraint, PocketLmError, SessionOptions, StopReason,
    TextListener, TextSession,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod common;
use common::{greedy, repo_file, smollm2};

fn model_path(file: &str) -> String {
    repo_file(&format!("models/{file}"))
}

fn session(model: &Arc<Model>) -> Arc<TextSession> {
    TextSession::new(
        model.clone(),
        SessionOptions {
            context_length: 1024,
            threads: 2,
        },
    )
    .unwrap()
}

fn options(constraint: OutputConstraint, max_tokens: i32) -> GenerationOptions {
    GenerationOptions {
        max_tokens,
        sampling: greedy(),
        stop: Vec::new(),
        constraint: Some(constraint),
        use_chat_template: true,
    }
}

/// Collects the deltas; optionally cancels its task after `cancel_after` pieces.
#[derive(Clone, Default)]
struct Collect {
    pieces: Arc<Mutex<Vec<String>>>,
    calls: Arc<AtomicUsize>,
}

impl TextListener for Collect {
    fn on_text(&self, delta: String) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.pieces.lock().unwrap().push(delta);
        true
    }
}

const EVENT_SCHEMA: &str = r#"{"type":"object","properties":{"title":{"type":"string","maxLength":40},"date":{"type":["string","null"],"maxLength":20},"time":{"type":["string","null"],"maxLength":12},"place":{"type":["string","null"],"maxLength":30}},"required":["title","date","time","place"],"additionalProperties":false}"#;

#[test]
fn invalid_constraints_fail_when_started_before_any_token() {
    let model = smollm2();
    let s = session(&model);
    let cases = [
        (
            OutputConstraint::JsonSchema {
                schema: "{\"type\": \"object\", ".into(),
            },
            "invalid JSON schema",
        ),
        (
            OutputConstraint::JsonSchema {
                schema: "[1, 2]".into(),
            },
            "invalid JSON schema",
        ),
        (
            OutputConstraint::Regex {
                pattern: "a(b".into(),
            },
            "invalid regular expression",
        ),
        (
            OutputConstraint::Grammar {
                grammar: "start: missing_rule".into(),
            },
            "invalid grammar",
        ),
        (
            OutputConstraint::Choices { choices: vec![] },
            "invalid choices",
        ),
        (
            OutputConstraint::Choices {
                choices: vec!["yes".into(), "".into()],
            },
            "invalid choices",
        ),
    ];
    for (c, want) in cases {
        let l = Collect::default();
        let r = s.generate(
            "Answer.".into(),
            options(c.clone(), 16),
            Box::new(l.clone()),
        );
        match r {
            Err(PocketLmError::InvalidConstraint(m)) => {
                assert!(m.contains(want), "{c:?}: {m}")
            }
            other => panic!("{c:?}: expected InvalidConstraint, got {other:?}"),
        }
        assert_eq!(l.calls.load(Ordering::SeqCst), 0);
    }
    // The session still works after the errors.
    let t = s
        .generate(
            "Is the sky blue? Answer yes or no.".into(),
            options(
                OutputConstraint::Choices {
                    choices: vec!["yes".into(), "no".into()],
                },
                8,
            ),
            Box::new(Collect::default()),
        )
        .unwrap();
    let r = t.join().unwrap();
    assert!(r.text == "yes" || r.text == "no", "{r:?}");
}

#[test]
fn constrained_outputs_match_and_report_complete_and_valid() {
    let model = smollm2();
    let s = session(&model);
    // Choices: exactly one of them, complete.
    let choices = vec!["red".to_string(), "green".into(), "blue".into()];
    let r = s
        .generate(
            "What colour is grass?".into(),
            options(
                OutputConstraint::Choices {
                    choices: choices.clone(),
                },
                8,
            ),
            Box::new(Collect::default()),
        )
        .unwrap()
        .join()
        .unwrap();
    assert!(choices.contains(&r.text), "{r:?}");
    let c = r.constraint.expect("a constraint outcome");
    assert!(c.complete && c.valid, "{r:?}");

    // Regex: the whole text matches an ISO date.
    let r = s
        .generate(
            "Write the date of Christmas day 2025 as YYYY-MM-DD.".into(),
            options(
                OutputConstraint::Regex {
                    pattern: r"[0-9]{4}-[0-9]{2}-[0-9]{2}".into(),
                },
                16,
            ),
            Box::new(Collect::default()),
        )
        .unwrap()
        .join()
        .unwrap();
    let b = r.text.as_bytes();
    assert!(
        b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()),
        "{r:?}"
    );
    assert!(r.constraint.unwrap().complete);

    // Grammar.
    let r = s
        .generate(
            "Say hello.".into(),
            options(
                OutputConstraint::Grammar {
                    grammar: "start: (\"hello\" | \"hi\") \" \" (\"there\" | \"world\")".into(),
                },
                16,
            ),
            Box::new(Collect::default()),
        )
        .unwrap()
        .join()
        .unwrap();
    assert!(
        ["hello there", "hello world", "hi there", "hi world"].contains(&r.text.as_str()),
        "{r:?}"
    );
    assert!(r.constraint.unwrap().complete);

    // JSON Schema: the streamed text is the result's text, parses, has exactly the schema's keys.
    let l = Collect::default();
    let r = s
        .generate(
            "Extract the event from this message as JSON with the keys title, date, time and place.\n\nMessage: Dinner at Luigi's on Friday at 7pm?".into(),
            options(
                OutputConstraint::JsonSchema {
                    schema: EVENT_SCHEMA.into(),
                },
                120,
            ),
            Box::new(l.clone()),
        )
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(r.text, l.pieces.lock().unwrap().concat());
    let c = r.constraint.unwrap();
    assert!(c.complete && c.valid, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.text).expect("complete JSON parses");
    let obj = v.as_object().expect("an object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["date", "place", "time", "title"]);
    assert!(obj["title"].is_string());

    // Without a constraint there is no outcome.
    let mut free = options(OutputConstraint::Choices { choices: vec![] }, 4);
    free.constraint = None;
    let r = s
        .generate("Hi".into(), free, Box::new(Collect::default()))
        .unwrap()
        .join()
        .unwrap();
    assert!(r.constraint.is_none());
}

#[test]
fn an_output_cut_short_is_neither_complete_nor_valid() {
    let model = smollm2();
    let s = session(&model);
    let r = s
        .generate(
            "Extract the event as JSON.\n\nMessage: Team lunch at the Thai place on Monday at noon.".into(),
            options(
                OutputConstraint::JsonSchema {
                    schema: EVENT_SCHEMA.into(),
                },
                6,
            ),
            Box::new(Collect::default()),
        )
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(r.stop_reason, StopReason::MaxTokens, "{r:?}");
    let c = r.constraint.unwrap();
    assert!(!c.complete && !c.valid, "{r:?}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&r.text).is_err(),
        "{r:?}"
    );
}

/// Cancels the task (through a shared slot) once it has received `after` pieces.
struct CancelAfter {
    pieces: Arc<Mutex<Vec<String>>>,
    after: usize,
    task: Arc<Mutex<Option<Arc<pocketlm_ffi::GenerationTask>>>>,
}

impl TextListener for CancelAfter {
    fn on_text(&self, delta: String) -> bool {
        let mut p = self.pieces.lock().unwrap();
        p.push(delta);
        if p.len() == self.after {
            // The task may not be stored yet when the first pieces arrive: spin briefly.
            for _ in 0..1000 {
                if let Some(t) = self.task.lock().unwrap().as_ref() {
                    t.cancel();
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        true
    }
}

#[test]
fn streaming_with_a_constraint_can_be_cancelled_mid_stream() {
    let model = smollm2();
    let s = session(&model);
    let pieces = Arc::new(Mutex::new(Vec::new()));
    let slot = Arc::new(Mutex::new(None));
    let task = s
        .generate(
            "List three fruits as a JSON array of strings.".into(),
            options(
                OutputConstraint::JsonSchema {
                    schema:
                        r#"{"type":"array","items":{"type":"string"},"minItems":3,"maxItems":3}"#
                            .into(),
                },
                200,
            ),
            Box::new(CancelAfter {
                pieces: pieces.clone(),
                after: 3,
                task: slot.clone(),
            }),
        )
        .unwrap();
    *slot.lock().unwrap() = Some(task.clone());
    let r = task.join().unwrap();
    assert_eq!(r.stop_reason, StopReason::Cancelled, "{r:?}");
    let got = pieces.lock().unwrap().clone();
    assert!(got.len() >= 3 && got.len() <= 4, "{got:?}");
    assert_eq!(r.text, got.concat());
    let c = r.constraint.unwrap();
    assert!(!c.complete && !c.valid, "{r:?}");
    // The session is free and usable again.
    let r = s
        .generate(
            "Pick one.".into(),
            options(
                OutputConstraint::Choices {
                    choices: vec!["a".into(), "b".into()],
                },
                4,
            ),
            Box::new(Collect::default()),
        )
        .unwrap()
        .join()
        .unwrap();
    assert!(r.text == "a" || r.text == "b");
}

#[test]
fn score_and_classify_agree_with_the_core_and_check_their_input() {
    let model = smollm2();
    let s = session(&model);
    let prompt = "The capital of France is";
    let conts = vec![" Paris".to_string(), " a small green banana".into()];
    let got = s.score(prompt.into(), conts.clone()).unwrap();
    assert_eq!(got.len(), 2);
    // The same computation through the core, on its own session.
    let core = pocketlm::Model::load(model_path("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let tok = core.tokenizer();
    let mut cs = pocketlm::Session::new(
        core.clone(),
        pocketlm::SessionOptions {
            context_length: 1024,
            threads: 2,
        },
    )
    .unwrap();
    let want = pocketlm::score(
        &mut cs,
        &tok.encode(prompt, true, true),
        &conts
            .iter()
            .map(|c| tok.encode(c, false, false))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.token_logprobs, w.token_logprobs);
        assert_eq!(g.logprob, w.logprob);
        let sum: f32 = g.token_logprobs.iter().sum();
        assert!((sum - g.logprob).abs() < 1e-4);
        assert!(g.token_logprobs.iter().all(|&x| x <= 0.0 && x.is_finite()));
    }
    assert_eq!(got[0].text, " Paris");
    assert!(got[0].logprob > got[1].logprob, "{got:?}");

    let labels: Vec<String> = ["billing", "shipping", "technical"]
        .map(String::from)
        .into();
    let text = "My parcel has not arrived yet and the tracking number shows no delivery update.";
    let instruction = "Which team should handle this customer message?";
    let c = s
        .classify(text.into(), labels.clone(), Some(instruction.into()))
        .unwrap();
    let w = pocketlm::classify(&mut cs, text, &labels, Some(instruction)).unwrap();
    assert_eq!(c.label, w.label);
    assert_eq!(c.index as usize, w.index);
    assert_eq!(c.scores.len(), 3);
    for (g, w) in c.scores.iter().zip(&w.scores) {
        assert_eq!(
            (g.label.as_str(), g.logprob, g.tokens as usize),
            (w.label.as_str(), w.logprob, w.tokens)
        );
    }

    // Bad input is a typed error, never a panic.
    assert!(matches!(
        s.score("".into(), conts.clone()),
        Err(PocketLmError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.score(prompt.into(), vec![]),
        Err(PocketLmError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.score(prompt.into(), vec![" x".into(), "".into()]),
        Err(PocketLmError::InvalidArgument(m)) if m.contains("continuation 1")
    ));
    assert!(matches!(
        s.classify("text".into(), vec!["a".into(), "a".into()], None),
        Err(PocketLmError::InvalidArgument(m)) if m.contains("more than once")
    ));
    assert!(matches!(
        s.classify("   ".into(), labels.clone(), None),
        Err(PocketLmError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.score(prompt.into(), vec![" word".repeat(3000)]),
        Err(PocketLmError::ContextFull(_))
    ));
    assert!(s.context_tokens() > 0);
}
