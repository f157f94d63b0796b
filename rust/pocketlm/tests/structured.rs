//! Constrained decoding, scoring and classification on the real models (SmolLM2-135M-Instruct
//! and Gemma 3 270M): JSON Schema outputs checked by an independent validator (Python's
//! `jsonschema`, scripts/setup-jsonschema.sh), regex / grammar / choices, typed errors before
//! generation, incomplete outputs, streaming and cancellation, forced tokens; `score` against
//! token-by-token evaluation; `classify` on obvious cases.

mod common;

use common::{fixture, model_path, repo_root, GEMMA3, SMOLLM2};
use pocketlm::{
    classify, generate, score, ChatMessage, ChatTemplate, Constraint, ConstraintError,
    GenerateError, GenerateOptions, Model, SamplerConfig, Session, SessionOptions, StopReason,
    TaskError,
};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

fn smollm2() -> Arc<Model> {
    static M: OnceLock<Arc<Model>> = OnceLock::new();
    M.get_or_init(|| Model::load(model_path(SMOLLM2)).expect("SmolLM2 loads"))
        .clone()
}

fn gemma() -> Arc<Model> {
    static M: OnceLock<Arc<Model>> = OnceLock::new();
    M.get_or_init(|| Model::load(model_path(GEMMA3)).expect("Gemma 3 loads"))
        .clone()
}

fn models() -> [(&'static str, Arc<Model>); 2] {
    [("smollm2", smollm2()), ("gemma3", gemma())]
}

fn session(model: &Arc<Model>) -> Session {
    Session::new(
        model.clone(),
        SessionOptions {
            context_length: 1024,
            threads: 2,
        },
    )
    .unwrap()
}

/// `text` as the user's message in the model's chat template.
fn chat_prompt(model: &Arc<Model>, text: &str) -> Vec<u32> {
    let t = ChatTemplate::for_model(model).unwrap();
    t.encode(
        model.tokenizer(),
        &[ChatMessage::user(text.to_owned())],
        true,
    )
    .unwrap()
}

fn constrained(c: Constraint, max_tokens: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        sampler: SamplerConfig::greedy(),
        stop: Vec::new(),
        constraint: Some(c),
    }
}

/// Runs Python's `jsonschema` (the venv of scripts/setup-jsonschema.sh) on (schema, output)
/// pairs: (parses, valid, error) per pair.
fn validate(cases: &[(serde_json::Value, String)]) -> Vec<(bool, bool, String)> {
    let setup = Command::new("bash")
        .arg(repo_root().join("scripts/setup-jsonschema.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/setup-jsonschema.sh");
    assert!(setup.status.success(), "scripts/setup-jsonschema.sh failed");
    let python = String::from_utf8(setup.stdout).unwrap().trim().to_owned();
    let mut child = Command::new(&python)
        .arg(repo_root().join("scripts/validate-json.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the validator");
    {
        let mut stdin = child.stdin.take().unwrap();
        for (schema, output) in cases {
            let line = serde_json::json!({"schema": schema, "output": output});
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the validator failed");
    let lines: Vec<(bool, bool, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["parses"].as_bool().unwrap(),
                v["valid"].as_bool().unwrap(),
                v["error"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(lines.len(), cases.len());
    lines
}

fn schema_cases() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fixture("structured-schemas.jsonl")).unwrap();
    let cases: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(cases.len() >= 50, "{} schema/prompt pairs", cases.len());
    cases
}

/// The prompt of a schema case: its request and the schema, in the model's chat template.
fn schema_prompt(model: &Arc<Model>, c: &serde_json::Value) -> Vec<u32> {
    chat_prompt(
        model,
        &format!(
            "{}\nReply with JSON that follows this schema: {}",
            c["prompt"].as_str().unwrap(),
            c["schema"]
        ),
    )
}

/// Every case of tests/fixtures/structured-schemas.jsonl on `model` (greedy, 160 tokens):
/// each output reported valid must parse and validate under Python's `jsonschema`, each cut
/// short must be reported incomplete, and at least `min_complete` of them must be complete.
/// Prints `validity NAME: V valid / C complete / N total`.
fn json_schema_outputs_validate(name: &str, model: Arc<Model>, min_complete: f64) {
    let cases = schema_cases();
    let cancel = AtomicBool::new(false);
    let mut pairs = Vec::new();
    let mut meta = Vec::new();
    let mut s = session(&model);
    for c in &cases {
        let schema = c["schema"].clone();
        let prompt = schema_prompt(&model, c);
        let opts = constrained(Constraint::JsonSchema(schema.to_string()), 160);
        let mut streamed = String::new();
        let out = generate(&mut s, &prompt, &opts, &cancel, |d| {
            streamed.push_str(d);
            true
        })
        .unwrap_or_else(|e| panic!("{name} {}: {e}", c["id"]));
        assert_eq!(streamed, out.text, "streamed deltas are the text");
        let o = out
            .constraint
            .expect("a constrained generation reports its outcome");
        assert!(!o.complete || o.valid, "complete implies valid");
        if o.complete {
            assert_eq!(out.stop_reason, StopReason::EndOfGeneration);
        }
        meta.push((c["id"].as_str().unwrap().to_owned(), o));
        pairs.push((schema, out.text));
    }
    let verdicts = validate(&pairs);
    let (mut complete, mut valid) = (0, 0);
    for (((id, o), (_, text)), (parses, ok, error)) in meta.iter().zip(&pairs).zip(&verdicts) {
        eprintln!("{name} {id}: complete {} {text}", o.complete);
        if o.valid {
            assert!(
                *parses && *ok,
                "{name} {id}: reported valid but {error}: {text}"
            );
            valid += 1;
        }
        if o.complete {
            complete += 1;
        }
        if !o.valid {
            // Cut short inside the constraint: never a full match.
            assert!(!o.complete, "{name} {id}");
        }
    }
    eprintln!(
        "validity {name}: {valid} valid / {complete} complete / {} total",
        pairs.len()
    );
    // Most outputs must finish within the 160-token budget, or the check above would be
    // vacuous (figures in docs/structured.md).
    assert!(
        complete as f64 >= min_complete * pairs.len() as f64,
        "{name}: only {complete} of {} outputs complete",
        pairs.len()
    );
}

// Measured 2026-11-26: SmolLM2 53/56 complete, Gemma 3 44/56 (the 270M model sometimes runs a
// string or a number on until the budget ends; every one cut short was reported incomplete,
// every complete one validated). Two tests so the harness runs the models in parallel.
#[test]
fn json_schema_outputs_validate_on_smollm2() {
    json_schema_outputs_validate("smollm2", smollm2(), 0.85);
}

#[test]
fn json_schema_outputs_validate_on_gemma3() {
    json_schema_outputs_validate("gemma3", gemma(), 0.75);
}

/// Greedy decoding takes the unmasked argmax when the grammar allows it, without computing
/// the mask; sampling with `top_k = 1` (also the argmax, but through the sampler's full-mask
/// path) must give the same tokens, and the fast path must actually have been taken.
#[test]
fn greedy_fast_path_gives_the_same_tokens_as_the_full_mask() {
    let cancel = AtomicBool::new(false);
    let cases = schema_cases();
    let full = SamplerConfig {
        temperature: 1.0,
        top_k: 1,
        top_p: 1.0,
        min_p: 0.0,
        repetition_penalty: 1.0,
        ..SamplerConfig::default()
    };
    for (name, model) in models() {
        let mut s = session(&model);
        let mut constraints: Vec<(String, Constraint, Vec<u32>)> = cases
            .iter()
            .step_by(7)
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_owned(),
                    Constraint::JsonSchema(c["schema"].to_string()),
                    schema_prompt(&model, c),
                )
            })
            .collect();
        constraints.push((
            "regex".into(),
            Constraint::Regex(r"[A-Z][a-z]+ [0-9]{1,2}(am|pm)".into()),
            chat_prompt(&model, "When shall we meet? Answer like Monday 3pm."),
        ));
        let (mut skipped, mut steps) = (0, 0);
        for (id, c, prompt) in constraints {
            let fast = generate(
                &mut s,
                &prompt,
                &constrained(c.clone(), 48),
                &cancel,
                |_| true,
            )
            .unwrap();
            let opts = GenerateOptions {
                sampler: full,
                ..constrained(c, 48)
            };
            let slow = generate(&mut s, &prompt, &opts, &cancel, |_| true).unwrap();
            assert_eq!(fast.tokens, slow.tokens, "{name} {id}: {:?}", fast.text);
            let (f, m) = (fast.constraint.unwrap(), slow.constraint.unwrap());
            assert_eq!((f.valid, f.complete), (m.valid, m.complete), "{name} {id}");
            assert_eq!(m.mask_skipped, 0, "sampling always computes the mask");
            skipped += f.mask_skipped;
            steps += f.mask_steps;
        }
        eprintln!("{name}: greedy took the unmasked pick at {skipped} of {steps} steps");
        assert!(
            skipped * 4 >= steps,
            "{name}: fast path at {skipped} of {steps}"
        );
    }
}

#[test]
fn invalid_constraints_are_typed_errors_before_generation() {
    let model = smollm2();
    let mut s = session(&model);
    let prompt = chat_prompt(&model, "Say something.");
    let cancel = AtomicBool::new(false);
    let bad = [
        (Constraint::JsonSchema("{not json".into()), "JSON schema"),
        (
            Constraint::JsonSchema(r#"{"type": "strin"}"#.into()),
            "JSON schema",
        ),
        (Constraint::JsonSchema("[1, 2]".into()), "JSON schema"),
        (
            Constraint::JsonSchema(r##"{"$ref": "#/$defs/missing"}"##.into()),
            "JSON schema",
        ),
        (Constraint::Regex("(unclosed".into()), "regular expression"),
        (Constraint::Regex("a{3,1}".into()), "regular expression"),
        (
            Constraint::Grammar("start: undefined_rule".into()),
            "grammar",
        ),
        (Constraint::Grammar("start: \"a".into()), "grammar"),
        (Constraint::Grammar("   ".into()), "grammar"),
        (Constraint::Choices(vec![]), "choices"),
        (
            Constraint::Choices(vec!["a".into(), String::new()]),
            "choices",
        ),
    ];
    for (c, what) in bad {
        let mut called = false;
        let r = generate(&mut s, &prompt, &constrained(c.clone(), 8), &cancel, |_| {
            called = true;
            true
        });
        let e = match r {
            Err(GenerateError::Constraint(e)) => e,
            other => panic!("{c:?}: expected a constraint error, got {other:?}"),
        };
        let msg = e.to_string();
        assert!(msg.contains(what), "{c:?}: {msg}");
        assert!(!called, "{c:?}: no text before the error");
        assert!(s.is_empty(), "{c:?}: nothing evaluated before the error");
        match (&c, &e) {
            (Constraint::JsonSchema(_), ConstraintError::InvalidJsonSchema(_))
            | (Constraint::Regex(_), ConstraintError::InvalidRegex(_))
            | (Constraint::Grammar(_), ConstraintError::InvalidGrammar(_))
            | (Constraint::Choices(_), ConstraintError::InvalidChoices(_)) => {}
            _ => panic!("{c:?}: wrong variant {e:?}"),
        }
    }
}

/// regex-syntax is built without its Unicode property tables (docs/structured.md#size): a
/// `\p{..}` class is a typed error naming the limitation in every constraint kind that takes a
/// regex, while the Unicode-aware classes kept (`\d`, `\w`, `\s`, case folding) still compile.
#[test]
fn unicode_property_classes_are_a_typed_unsupported_error() {
    let model = smollm2();
    let unsupported = [
        Constraint::Regex(r"\p{L}+".into()),
        Constraint::Regex(r"[^\P{Lu}]".into()),
        Constraint::JsonSchema(r#"{"type": "string", "pattern": "^\\p{Greek}+$"}"#.into()),
        Constraint::Grammar(r"start: /\p{N}+/".into()),
    ];
    for c in unsupported {
        let e = c.check(&model).unwrap_err();
        match (&c, &e) {
            (Constraint::JsonSchema(_), ConstraintError::InvalidJsonSchema(_))
            | (Constraint::Regex(_), ConstraintError::InvalidRegex(_))
            | (Constraint::Grammar(_), ConstraintError::InvalidGrammar(_)) => {}
            _ => panic!("{c:?}: wrong variant {e:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains(r"Unicode property classes such as \p{L} are not supported"),
            "{c:?}: {msg}"
        );
    }
    let supported = [
        Constraint::Regex(r"\w+ \d{2}\s?".into()),
        Constraint::Regex("(?i)yes|no".into()),
        Constraint::Regex("café|naïve|日本".into()),
        Constraint::Grammar(r#"start: "yes"i | /\w+/"#.into()),
        Constraint::JsonSchema(r#"{"type": "string", "pattern": "^\\w+@\\d+$"}"#.into()),
    ];
    for c in supported {
        c.check(&model)
            .unwrap_or_else(|e| panic!("{c:?} must compile: {e}"));
    }
}

#[test]
fn a_constraint_no_output_satisfies_is_a_typed_error() {
    let model = smollm2();
    let mut s = session(&model);
    let prompt = chat_prompt(&model, "Say something.");
    let cancel = AtomicBool::new(false);
    // An empty character class: no text at all matches.
    for c in [
        Constraint::Regex(r"[^\s\S]".into()),
        Constraint::Grammar("start: /[^\\s\\S]/".into()),
    ] {
        let r = generate(&mut s, &prompt, &constrained(c.clone(), 8), &cancel, |_| {
            true
        });
        assert!(
            matches!(
                r,
                Err(GenerateError::Constraint(ConstraintError::Unsatisfiable(_)))
                    | Err(GenerateError::Constraint(ConstraintError::InvalidRegex(_)))
                    | Err(GenerateError::Constraint(ConstraintError::InvalidGrammar(
                        _
                    )))
            ),
            "{c:?}: {r:?}"
        );
        assert!(s.is_empty());
    }
}

#[test]
fn running_out_of_tokens_inside_the_constraint_is_incomplete() {
    let cancel = AtomicBool::new(false);
    for (name, model) in models() {
        let mut s = session(&model);
        let prompt = chat_prompt(&model, "Write a long story as JSON.");
        let schema = r#"{"type":"object","properties":{"story":{"type":"string","minLength":200}},"required":["story"]}"#;
        let out = generate(
            &mut s,
            &prompt,
            &constrained(Constraint::JsonSchema(schema.into()), 12),
            &cancel,
            |_| true,
        )
        .unwrap();
        let o = out.constraint.unwrap();
        assert_eq!(out.stop_reason, StopReason::MaxTokens, "{name}");
        assert!(!o.complete && !o.valid, "{name}: {o:?}");
        assert!(out.tokens.len() <= 12);
        // JSON allows white space between tokens (SmolLM2 opens with "{\n").
        let compact: String = out.text.split_whitespace().collect();
        assert!(compact.starts_with("{\"story\":"), "{name}: {}", out.text);
    }
}

#[test]
fn choices_regex_and_grammar_outputs_match() {
    let cancel = AtomicBool::new(false);
    for (name, model) in models() {
        let mut s = session(&model);
        let choices: Vec<String> = ["yes", "no", "not sure"].map(String::from).to_vec();
        let prompt = chat_prompt(&model, "Is the sky blue? Answer yes, no or not sure.");
        let out = generate(
            &mut s,
            &prompt,
            &constrained(Constraint::Choices(choices.clone()), 16),
            &cancel,
            |_| true,
        )
        .unwrap();
        let o = out.constraint.unwrap();
        assert!(o.complete && o.valid, "{name}: {o:?} {:?}", out.text);
        assert!(choices.contains(&out.text), "{name}: {:?}", out.text);

        let prompt = chat_prompt(&model, "Give me a phone number like 555-0123.");
        let out = generate(
            &mut s,
            &prompt,
            &constrained(Constraint::Regex("[0-9]{3}-[0-9]{4}".into()), 16),
            &cancel,
            |_| true,
        )
        .unwrap();
        let t = out.text.as_bytes();
        assert!(out.constraint.unwrap().complete, "{name}: {:?}", out.text);
        assert_eq!(t.len(), 8, "{name}: {:?}", out.text);
        assert!(t.iter().enumerate().all(|(i, &b)| if i == 3 {
            b == b'-'
        } else {
            b.is_ascii_digit()
        }));

        let grammar = "start: \"(\" num \" + \" num \")\"\nnum: /[1-9][0-9]?/\n";
        let prompt = chat_prompt(&model, "Write a sum of two numbers in brackets.");
        let out = generate(
            &mut s,
            &prompt,
            &constrained(Constraint::Grammar(grammar.into()), 16),
            &cancel,
            |_| true,
        )
        .unwrap();
        assert!(out.constraint.unwrap().complete, "{name}: {:?}", out.text);
        let inner = out
            .text
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{name}: {:?}", out.text));
        let nums: Vec<&str> = inner.split(" + ").collect();
        assert_eq!(nums.len(), 2, "{name}: {:?}", out.text);
        for n in nums {
            assert!(
                (1..=2).contains(&n.len())
                    && !n.starts_with('0')
                    && n.bytes().all(|b| b.is_ascii_digit()),
                "{name}: {:?}",
                out.text
            );
        }
    }
}

#[test]
fn forced_tokens_sampling_and_cancellation_under_a_constraint() {
    let model = smollm2();
    let mut s = session(&model);
    let cancel = AtomicBool::new(false);
    let schema = r#"{"type":"object","properties":{"status":{"const":"confirmed"},"count":{"type":"integer","minimum":0,"maximum":9}},"required":["status","count"],"additionalProperties":false}"#;
    let prompt = chat_prompt(&model, "Confirm the order as JSON.");
    let out = generate(
        &mut s,
        &prompt,
        &constrained(Constraint::JsonSchema(schema.into()), 40),
        &cancel,
        |_| true,
    )
    .unwrap();
    let o = out.constraint.unwrap();
    assert!(o.complete, "{o:?} {:?}", out.text);
    // `{"status":"confirmed","count":` has one continuation: appended without sampling.
    assert!(o.forced_tokens >= 3, "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&out.text).unwrap();
    assert_eq!(v["status"], "confirmed");
    assert!(v["count"].as_i64().is_some_and(|c| (0..=9).contains(&c)));

    // Sampling at a high temperature still follows the grammar.
    for seed in 0..3 {
        let opts = GenerateOptions {
            sampler: SamplerConfig {
                temperature: 1.5,
                top_k: 0,
                top_p: 1.0,
                min_p: 0.0,
                seed,
                ..SamplerConfig::default()
            },
            ..constrained(Constraint::Choices(vec!["red".into(), "green".into()]), 8)
        };
        let out = generate(&mut s, &prompt, &opts, &cancel, |_| true).unwrap();
        assert!(out.text == "red" || out.text == "green", "{:?}", out.text);
    }

    // The callback stops it: cancelled, not complete.
    let open = r#"{"type":"object","properties":{"story":{"type":"string"}},"required":["story"]}"#;
    let mut deltas = 0;
    let out = generate(
        &mut s,
        &prompt,
        &constrained(Constraint::JsonSchema(open.into()), 60),
        &cancel,
        |_| {
            deltas += 1;
            deltas < 3
        },
    )
    .unwrap();
    assert_eq!(out.stop_reason, StopReason::Cancelled);
    let o = out.constraint.unwrap();
    assert!(!o.complete && !o.valid, "{o:?}");
    // The cancel flag, set before the start.
    cancel.store(true, Ordering::Relaxed);
    let out = generate(
        &mut s,
        &prompt,
        &constrained(Constraint::JsonSchema(open.into()), 60),
        &cancel,
        |_| true,
    )
    .unwrap();
    assert_eq!(out.stop_reason, StopReason::Cancelled);
    assert!(out.tokens.is_empty() && !out.constraint.unwrap().complete);
}

/// log p(token | logits) computed here, independently of the library's scoring.
fn log_prob(logits: &[f32], t: u32) -> f64 {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let z: f64 = logits.iter().map(|&v| (v as f64 - max).exp()).sum();
    logits[t as usize] as f64 - max - z.ln()
}

#[test]
fn batched_scores_match_token_by_token_evaluation() {
    for (name, model) in models() {
        let tok = model.tokenizer();
        let prompt = tok.encode("The capital of France is", true, false);
        let conts: Vec<Vec<u32>> = [" Paris.", " a city in Europe", " London", " Paris"]
            .iter()
            .map(|c| tok.encode(c, false, false))
            .collect();
        let mut s = session(&model);
        let scores = score(&mut s, &prompt, &conts).unwrap();
        assert_eq!(
            s.tokens(),
            &prompt[..],
            "the session holds the prompt afterwards"
        );
        for (c, sc) in conts.iter().zip(&scores) {
            let mut r = session(&model);
            let mut logits = r.eval(&prompt).unwrap().to_vec();
            let mut sum = 0.0;
            for (i, &t) in c.iter().enumerate() {
                let lp = log_prob(&logits, t);
                assert!(
                    (lp - sc.token_logprobs[i] as f64).abs() < 0.05,
                    "{name} {c:?} token {i}: {lp} vs {}",
                    sc.token_logprobs[i]
                );
                sum += lp;
                logits = r.eval(&[t]).unwrap().to_vec();
            }
            assert!((sum - sc.logprob as f64).abs() < 0.1, "{name}");
        }
        // The model knows Paris is more likely than London.
        assert!(scores[3].logprob > scores[2].logprob, "{name}: {scores:?}");
    }
}

#[test]
fn classify_obvious_cases_and_bad_input() {
    let labels: Vec<String> = ["billing", "shipping", "technical"]
        .map(String::from)
        .to_vec();
    let cases = [
        (
            "I was charged twice on my credit card for the same order, please refund one payment.",
            "billing",
        ),
        (
            "My parcel has not arrived yet and the tracking number shows no delivery update.",
            "shipping",
        ),
    ];
    for (name, model) in models() {
        let mut s = session(&model);
        for (text, want) in cases {
            let c = classify(
                &mut s,
                text,
                &labels,
                Some("Which team should handle this customer message?"),
            )
            .unwrap();
            assert_eq!(c.scores.len(), 3);
            assert_eq!(c.label, labels[c.index]);
            assert!(c
                .scores
                .iter()
                .all(|x| x.logprob.is_finite() && x.tokens > 0));
            let best = c
                .scores
                .iter()
                .map(|x| x.mean_logprob)
                .fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(c.scores[c.index].mean_logprob, best);
            // SmolLM2-135M picks "billing" for every triage message (20% on the held-out
            // triage set, docs/structured.md): only Gemma is held to the obvious answers.
            if name == "gemma3" {
                assert_eq!(c.label, want, "{name}: {text}: {:?}", c.scores);
            }
        }
        assert!(matches!(
            classify(&mut s, "text", &[], None),
            Err(TaskError::NoCandidates)
        ));
        assert!(matches!(
            classify(&mut s, "text", &["a".into(), "a".into()], None),
            Err(TaskError::DuplicateLabel(_))
        ));
        assert!(matches!(
            classify(&mut s, "  ", &labels, None),
            Err(TaskError::EmptyPrompt)
        ));
        assert!(matches!(
            score(&mut s, &[1, 2], &[vec![3], vec![]]),
            Err(TaskError::EmptyCandidate(1))
        ));
        assert!(matches!(
            score(&mut s, &[1, 2], &[vec![3; 2000]]),
            Err(TaskError::Session(_))
        ));
    }
}
