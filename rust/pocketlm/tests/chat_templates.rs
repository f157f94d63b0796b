//! llama.cpp's corpus of real chat templates (`models/templates/*.jinja` in its source, fetched by
//! `scripts/fetch-llama-src.sh`) rendered by PocketLM with a system + user + assistant + user
//! conversation, compared with Python jinja2's rendering of the same templates under Hugging
//! Face's conventions (`tests/fixtures/chat-templates.jsonl`, written by
//! `scripts/gen-template-refs.sh`; the conventions are in `scripts/gen-template-refs.py`).

#[path = "common/llama_src.rs"]
mod llama_src;

use pocketlm::{ChatMessage, ChatTemplate, TemplateError};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The conversation of `scripts/gen-template-refs.py`.
fn conversation() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a helpful assistant. Answer briefly."),
        ChatMessage::user("Hello! What is 2+2?"),
        ChatMessage::assistant("2+2 is 4."),
        ChatMessage::user("And what is 3+3?"),
    ]
}

fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

struct Reference {
    fnv: String,
    text: Option<String>,
    folded_system: bool,
}

fn references() -> BTreeMap<String, Reference> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/chat-templates.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("fixture line is JSON");
            (
                v["template"].as_str().expect("template").to_owned(),
                Reference {
                    fnv: v["fnv1a64"].as_str().expect("fnv1a64").to_owned(),
                    text: v["text"].as_str().map(str::to_owned),
                    folded_system: v["folded_system"].as_bool().unwrap_or(false),
                },
            )
        })
        .collect()
}

/// First differing position, with some context, for a readable failure.
fn diff(got: &str, want: &str) -> String {
    let (g, w): (Vec<char>, Vec<char>) = (got.chars().collect(), want.chars().collect());
    let p = g.iter().zip(&w).take_while(|(a, b)| a == b).count();
    let around = |v: &[char]| -> String {
        v[p.saturating_sub(60)..(p + 60).min(v.len())]
            .iter()
            .collect()
    };
    format!(
        "first difference at char {p}:\n   got …{:?}\n  want …{:?}",
        around(&g),
        around(&w)
    )
}

#[test]
fn llama_cpp_template_corpus_renders_like_jinja2() {
    let dir = llama_src::llama_src().join("models/templates");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("templates dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jinja"))
        .collect();
    names.sort();
    let refs = references();
    assert_eq!(
        names,
        refs.keys().cloned().collect::<Vec<_>>(),
        "the fixture lists other templates than llama.cpp's corpus: run scripts/gen-template-refs.sh"
    );
    let msgs = conversation();
    let (mut rendered, mut equal) = (0, 0);
    let mut failures = Vec::new();
    for name in &names {
        let raw = std::fs::read(dir.join(name)).expect("template");
        let r = &refs[name];
        assert_eq!(
            format!("{:016x}", fnv1a64(&raw)),
            r.fnv,
            "{name} changed since the fixture was made: run scripts/gen-template-refs.sh"
        );
        let src = String::from_utf8(raw).expect("UTF-8 template");
        let out = ChatTemplate::new(&src, "<s>", "</s>").and_then(|t| t.render(&msgs, true));
        match (&out, &r.text) {
            (Ok(got), Some(want)) => {
                rendered += 1;
                if got == want {
                    equal += 1;
                } else {
                    failures.push(format!(
                        "{name}: differs from jinja2 (folded system: {}); {}",
                        r.folded_system,
                        diff(got, want)
                    ));
                }
            }
            (Ok(_), None) => failures.push(format!("{name}: renders, but jinja2 could not")),
            (Err(e), _) => failures.push(format!("{name}: {e}")),
        }
        // Whatever the outcome, a failure is typed, never a panic (checked by reaching here).
        if let Err(TemplateError::EngineFailure(m)) = &out {
            failures.push(format!("{name}: engine failure {m}"));
        }
    }
    println!(
        "{rendered}/{} templates render; {equal} equal to jinja2's rendering",
        names.len()
    );
    assert_eq!(names.len(), 70, "llama.cpp 0.3.36 ships 70 templates");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn system_prompt_folds_into_first_user_turn_when_refused() {
    let src = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}\
{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}";
    let t = ChatTemplate::new(src, "", "").unwrap();
    assert_eq!(
        t.render(&conversation(), false).unwrap(),
        "[user]You are a helpful assistant. Answer briefly.\nHello! What is 2+2?[assistant]2+2 is 4.[user]And what is 3+3?"
    );
    // A refusal that folding does not cure is reported as the template's own message.
    let strict = ChatTemplate::new("{{ raise_exception('no way') }}", "", "").unwrap();
    match strict.render(&conversation(), false) {
        Err(TemplateError::Rejected(m)) => assert!(m.contains("no way"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn generation_blocks_render_their_content() {
    let src = "{% for m in messages %}{%- if m.role == 'assistant' -%}{%- generation -%}<a>{{ m.content }}</a>{%- endgeneration -%}{%- else -%}<{{ m.role }}>{%- endif -%}{% endfor %}";
    let t = ChatTemplate::new(src, "", "").unwrap();
    assert_eq!(
        t.render(&conversation()[1..3], false).unwrap(),
        "<user><a>2+2 is 4.</a>"
    );
}
