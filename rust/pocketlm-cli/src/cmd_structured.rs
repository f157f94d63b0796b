//! Structured output and task subcommands: the constraint flags shared by `generate` and
//! `bench`, `classify`, and the evaluations `eval-extract` (calendar fields from a message,
//! with and without a JSON Schema constraint) and `eval-classify` (support-ticket triage).

use clap::Args;
use pocketlm::{
    classify as run_classify, generate, ChatMessage, ChatTemplate, Constraint, GenerateOptions,
    Model, SamplerConfig, Session, SessionOptions,
};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// What the output must match (at most one of these).
#[derive(Args, Clone, Default)]
pub struct ConstraintArgs {
    /// A JSON Schema file: the output is one JSON value that validates against it.
    #[arg(long, group = "constraint")]
    pub schema: Option<PathBuf>,
    /// A regular expression the whole output must match.
    #[arg(long, group = "constraint")]
    pub regex: Option<String>,
    /// A grammar file in llguidance's Lark-like syntax (`start: ...`).
    #[arg(long, group = "constraint")]
    pub grammar: Option<PathBuf>,
    /// The output is exactly one of these (comma-separated).
    #[arg(long, group = "constraint", value_delimiter = ',')]
    pub choices: Option<Vec<String>>,
}

fn read_text(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

impl ConstraintArgs {
    /// The constraint given on the command line, if any.
    pub fn constraint(&self) -> Result<Option<Constraint>, String> {
        Ok(if let Some(p) = &self.schema {
            Some(Constraint::JsonSchema(read_text(p)?))
        } else if let Some(r) = &self.regex {
            Some(Constraint::Regex(r.clone()))
        } else if let Some(p) = &self.grammar {
            Some(Constraint::Grammar(read_text(p)?))
        } else {
            self.choices.clone().map(Constraint::Choices)
        })
    }
}

fn load(path: &std::path::Path) -> Result<Arc<Model>, String> {
    crate::load_model(path).map_err(|e| e.to_string())
}

fn session(model: &Arc<Model>, ctx: usize, threads: usize) -> Result<Session, String> {
    Session::new(
        model.clone(),
        SessionOptions {
            context_length: ctx,
            threads,
        },
    )
    .map_err(|e| e.to_string())
}

#[derive(Args)]
pub struct ClassifyArgs {
    #[arg(long)]
    model: PathBuf,
    /// The text to classify.
    #[arg(long)]
    text: String,
    /// The labels (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    labels: Vec<String>,
    /// What the labels mean (default: "Classify the text into one of the categories.").
    #[arg(long)]
    instruction: Option<String>,
    #[arg(long, default_value_t = pocketlm::default_threads())]
    threads: usize,
    #[command(flatten)]
    lora: crate::commands::LoraArgs,
    #[arg(long)]
    json: bool,
}

pub fn classify(a: ClassifyArgs) -> Result<(), String> {
    let model = load(&a.model)?;
    let mut s = session(&model, 2048, a.threads)?;
    a.lora.attach(&mut s)?;
    let t0 = Instant::now();
    let c = run_classify(&mut s, &a.text, &a.labels, a.instruction.as_deref())
        .map_err(|e| e.to_string())?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if a.json {
        let scores: Vec<Value> = c
            .scores
            .iter()
            .map(|s| {
                json!({"label": s.label, "logprob": s.logprob, "mean_logprob": s.mean_logprob,
                       "tokens": s.tokens})
            })
            .collect();
        println!(
            "{}",
            json!({"label": c.label, "index": c.index, "scores": scores, "ms": ms})
        );
    } else {
        println!("{}", c.label);
        for s in &c.scores {
            eprintln!(
                "  {:<20} mean {:>8.3}  sum {:>8.3}  ({} tokens)",
                s.label, s.mean_logprob, s.logprob, s.tokens
            );
        }
        eprintln!("[{ms:.0} ms]");
    }
    Ok(())
}

/// One JSON object per non-empty line.
fn read_jsonl(path: &PathBuf) -> Result<Vec<Value>, String> {
    read_text(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn split_of<'a>(rows: &'a [Value], split: &str) -> Vec<&'a Value> {
    rows.iter()
        .filter(|r| split == "all" || r["split"].as_str() == Some(split))
        .collect()
}

#[derive(Args)]
pub struct EvalClassifyArgs {
    #[arg(long)]
    model: PathBuf,
    /// JSONL: {"text": .., "label": .., "split": ..} per line (tests/fixtures/triage.jsonl).
    #[arg(long)]
    data: PathBuf,
    /// Which split to evaluate ("dev", "heldout" or "all").
    #[arg(long, default_value = "dev")]
    split: String,
    /// The instruction given to `classify`.
    #[arg(
        long,
        default_value = "Sort this customer support message into the queue that should handle it."
    )]
    instruction: String,
    #[arg(long, default_value_t = pocketlm::default_threads())]
    threads: usize,
    #[arg(long)]
    json: bool,
}

pub fn eval_classify(a: EvalClassifyArgs) -> Result<(), String> {
    let model = load(&a.model)?;
    let rows = read_jsonl(&a.data)?;
    let rows = split_of(&rows, &a.split);
    if rows.is_empty() {
        return Err(format!("no rows in split {:?}", a.split));
    }
    let mut labels: Vec<String> = Vec::new();
    for r in &rows {
        let l = r["label"].as_str().ok_or("a row has no \"label\"")?;
        if !labels.iter().any(|x| x == l) {
            labels.push(l.to_owned());
        }
    }
    labels.sort();
    let mut s = session(&model, 2048, a.threads)?;
    let (mut correct, mut ms) = (0usize, Vec::new());
    let mut per_label = serde_json::Map::new();
    let mut confusion: Vec<Vec<usize>> = vec![vec![0; labels.len()]; labels.len()];
    for r in &rows {
        let text = r["text"].as_str().ok_or("a row has no \"text\"")?;
        let want = r["label"].as_str().unwrap_or_default();
        let t0 = Instant::now();
        let c =
            run_classify(&mut s, text, &labels, Some(&a.instruction)).map_err(|e| e.to_string())?;
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
        let wi = labels.iter().position(|l| l == want).unwrap_or(0);
        confusion[wi][c.index] += 1;
        if c.label == want {
            correct += 1;
        }
    }
    for (i, l) in labels.iter().enumerate() {
        let n: usize = confusion[i].iter().sum();
        per_label.insert(
            l.clone(),
            json!({"n": n, "recall": confusion[i][i] as f64 / n.max(1) as f64}),
        );
    }
    ms.sort_by(f64::total_cmp);
    let out = json!({
        "model": a.model, "split": a.split, "n": rows.len(), "labels": labels,
        "accuracy": correct as f64 / rows.len() as f64, "per_label": per_label,
        "confusion": confusion, "median_ms": ms[ms.len() / 2],
    });
    if a.json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    Ok(())
}

#[derive(Args)]
pub struct EvalExtractArgs {
    #[arg(long)]
    model: PathBuf,
    /// JSONL: {"text": .., "expected": {"title","date","time","place"} | null, "split": ..}
    /// per line (tests/fixtures/calendar-events.jsonl).
    #[arg(long)]
    data: PathBuf,
    /// The JSON Schema of the answer (tests/fixtures/calendar-schema.json).
    #[arg(long)]
    schema: PathBuf,
    /// Which split to evaluate ("dev", "heldout" or "all").
    #[arg(long, default_value = "dev")]
    split: String,
    #[arg(long, default_value_t = 96)]
    max_tokens: usize,
    #[arg(long, default_value_t = pocketlm::default_threads())]
    threads: usize,
    #[command(flatten)]
    lora: crate::commands::LoraArgs,
    /// Instead of evaluating, write the split as training data for a LoRA adapter
    /// (scripts/train-lora.sh): per message, the token ids of the exact prompt this evaluation
    /// gives the model and of the expected answer (JSON, then the template's end of turn).
    #[arg(long, value_name = "FILE")]
    write_training: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

/// The instruction of the extraction prompt (the evaluation and its training data share it).
fn extract_prompt(text: &str) -> String {
    format!(
        "Extract the event from this message as JSON with the keys title, date, time and place. Copy date, time and place in the message's own words; use null for anything the message does not say.\n\nMessage: {text}"
    )
}

/// The answer the extraction is trained to give: the four keys in schema order, one line,
/// `null` for a field not stated (all four for a message without an event).
fn expected_answer(expected: &Value) -> String {
    let parts: Vec<String> = FIELDS
        .iter()
        .map(|k| {
            let v = match expected.get(k) {
                Some(Value::String(s)) => Value::String(s.clone()),
                _ => Value::Null,
            };
            format!("\"{k}\": {v}")
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Writes the rows as JSON lines `{"id", "prompt": [ids], "answer": [ids], "answer_text"}`:
/// the prompt is what [`eval_extract`] evaluates, the answer the rest of the conversation
/// with [`expected_answer`] as the assistant's turn.
fn write_training(
    model: &Arc<Model>,
    template: &ChatTemplate,
    rows: &[&Value],
    out: &PathBuf,
) -> Result<(), String> {
    let tok = model.tokenizer();
    let mut lines = String::new();
    for r in rows {
        let text = r["text"].as_str().ok_or("a row has no \"text\"")?;
        let user = ChatMessage::user(extract_prompt(text));
        let prompt = template
            .encode(tok, std::slice::from_ref(&user), true)
            .map_err(|e| e.to_string())?;
        let answer_text = expected_answer(&r["expected"]);
        let whole = template
            .encode(
                tok,
                &[user, ChatMessage::assistant(answer_text.clone())],
                false,
            )
            .map_err(|e| e.to_string())?;
        let Some(answer) = whole.strip_prefix(prompt.as_slice()) else {
            return Err(format!(
                "the chat template does not extend the prompt with the answer for row {:?}: \
                 its tokens cannot be trained as prompt + answer",
                r["id"]
            ));
        };
        lines.push_str(
            &json!({"id": r["id"], "prompt": prompt, "answer": answer, "answer_text": answer_text})
                .to_string(),
        );
        lines.push('\n');
    }
    std::fs::write(out, lines).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!("wrote {} training rows to {}", rows.len(), out.display());
    Ok(())
}

/// Lower case, letters and digits only, single spaces: "Nando's " and "nandos" compare equal.
fn norm(s: &str) -> String {
    let kept: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A field's value as a string (`None` for null, missing, or empty).
fn field(v: &Value, k: &str) -> Option<String> {
    match v.get(k) {
        Some(Value::String(s)) if !norm(s).is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The first JSON object in `text` (free text may wrap it in prose or a code fence).
fn first_object(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let mut de = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    match de.next() {
        Some(Ok(v)) if v.is_object() => Some(v),
        _ => None,
    }
}

const FIELDS: [&str; 4] = ["title", "date", "time", "place"];

pub fn eval_extract(a: EvalExtractArgs) -> Result<(), String> {
    let model = load(&a.model)?;
    let schema = read_text(&a.schema)?;
    let rows = read_jsonl(&a.data)?;
    let rows = split_of(&rows, &a.split);
    if rows.is_empty() {
        return Err(format!("no rows in split {:?}", a.split));
    }
    let template = ChatTemplate::for_model(&model).map_err(|e| e.to_string())?;
    if let Some(out) = &a.write_training {
        return write_training(&model, &template, &rows, out);
    }
    let tok = model.tokenizer();
    let mut s = session(&model, 2048, a.threads)?;
    a.lora.attach(&mut s)?;
    let cancel = AtomicBool::new(false);
    let mut report = serde_json::Map::new();
    for (mode, constraint) in [
        ("constrained", Some(Constraint::JsonSchema(schema.clone()))),
        ("free", None),
    ] {
        // Per field: exact (normalised) matches over the event messages, and how often the
        // field was correctly left null where the message does not state it.
        let mut hits = [0usize; 4];
        let mut stated = [0usize; 4];
        let (mut parsed, mut no_event_ok, mut no_event, mut events) = (0, 0, 0, 0);
        let (mut complete, mut ms, mut tokens) = (0, Vec::new(), 0usize);
        for r in &rows {
            let text = r["text"].as_str().ok_or("a row has no \"text\"")?;
            let prompt = template
                .encode(tok, &[ChatMessage::user(extract_prompt(text))], true)
                .map_err(|e| e.to_string())?;
            let opts = GenerateOptions {
                max_tokens: a.max_tokens,
                sampler: SamplerConfig::greedy(),
                stop: template.stop_strings().to_vec(),
                constraint: constraint.clone(),
            };
            let t0 = Instant::now();
            let out =
                generate(&mut s, &prompt, &opts, &cancel, |_| true).map_err(|e| e.to_string())?;
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
            tokens += out.tokens.len();
            if out.constraint.is_some_and(|c| c.complete) {
                complete += 1;
            }
            let got = first_object(&out.text);
            if got.is_some() {
                parsed += 1;
            }
            let got = got.unwrap_or(Value::Null);
            let exp = &r["expected"];
            if exp.is_null() {
                no_event += 1;
                if FIELDS.iter().all(|k| field(&got, k).is_none()) {
                    no_event_ok += 1;
                }
                continue;
            }
            events += 1;
            for (i, k) in FIELDS.iter().enumerate() {
                let (want, have) = (field(exp, k), field(&got, k));
                if want.is_some() {
                    stated[i] += 1;
                }
                let ok = match (&want, &have) {
                    (None, None) => true,
                    (Some(w), Some(h)) if *k == "title" => {
                        // Titles are a guide: one contains the other.
                        let (w, h) = (norm(w), norm(h));
                        !h.is_empty() && (w.contains(&h) || h.contains(&w))
                    }
                    (Some(w), Some(h)) => norm(w) == norm(h),
                    _ => false,
                };
                hits[i] += ok as usize;
            }
        }
        ms.sort_by(f64::total_cmp);
        let mut fields = serde_json::Map::new();
        for (i, k) in FIELDS.iter().enumerate() {
            fields.insert(
                k.to_string(),
                json!({"accuracy": hits[i] as f64 / events.max(1) as f64, "stated": stated[i]}),
            );
        }
        let date_time_place = (hits[1] + hits[2] + hits[3]) as f64 / (3 * events.max(1)) as f64;
        report.insert(
            mode.into(),
            json!({
                "fields": fields,
                "date_time_place_accuracy": date_time_place,
                "events": events,
                "no_event": no_event,
                "no_event_all_null": no_event_ok as f64 / no_event.max(1) as f64,
                "parsed_json": parsed as f64 / rows.len() as f64,
                "complete": if constraint.is_some() { json!(complete as f64 / rows.len() as f64) } else { json!(null) },
                "median_ms": ms[ms.len() / 2],
                "tokens_per_message": tokens as f64 / rows.len() as f64,
            }),
        );
    }
    report.insert("model".into(), json!(a.model));
    report.insert("split".into(), json!(a.split));
    report.insert("n".into(), json!(rows.len()));
    report.insert("lora".into(), json!(a.lora.specs()));
    let out = Value::Object(report);
    if a.json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    Ok(())
}
