//! `pocketlm reply`, `pocketlm chat` and `pocketlm eval-reply`: thin wrappers over
//! `pocketlm::ReplyDrafter` and `pocketlm::ChatSession` (all drafting logic lives in the core;
//! the labelled evaluation is the CLI's own [`crate::reply_eval`]).

use crate::commands::{CliResult, SamplingArgs};
use crate::reply_eval as eval;
use clap::Args;
use pocketlm::internals::reply::cluster_prior::ClusterPrior;
use pocketlm::internals::reply::reading_head::ReadingHead;
use pocketlm::internals::reply::Catalog;
use pocketlm::{
    ChatError, ChatOptions, ChatSession, DraftOptions, DrafterConfig, Message, Reading,
    ReplyDrafter, Tone,
};
use pocketlm::{GenerateOptions, Model};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn load(path: &std::path::Path) -> Result<Arc<Model>, String> {
    crate::load_model(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Drafting settings shared by `reply` and `eval-reply`.
#[derive(Args, Clone)]
pub struct DraftArgs {
    /// Suggestions per message.
    #[arg(long, default_value_t = 3)]
    n: usize,
    /// Longest suggestion, in words.
    #[arg(long, default_value_t = 10)]
    max_words: usize,
    /// neutral, casual or formal.
    #[arg(long, default_value = "neutral")]
    tone: Tone,
    /// A word or phrase never suggested (repeatable).
    #[arg(long)]
    block: Vec<String>,
    /// Candidates decoded together.
    #[arg(long, default_value_t = DrafterConfig::default().branches)]
    branches: usize,
    /// Longest generated candidate, in tokens.
    #[arg(long, default_value_t = DrafterConfig::default().max_reply_tokens)]
    max_reply_tokens: usize,
    /// Curated responses scored alongside the generated ones.
    #[arg(long, default_value_t = DrafterConfig::default().curated)]
    curated: usize,
    /// Weight of the first word's likelihood after an empty message (subtracted).
    #[arg(long, default_value_t = DrafterConfig::default().prior_weight)]
    prior_weight: f32,
    /// Weight of the first token's PMI with the message in the score.
    #[arg(long, default_value_t = DrafterConfig::default().pmi_weight)]
    pmi_weight: f32,
    /// Score multiplier of replies copied from the few-shot examples.
    #[arg(long, default_value_t = DrafterConfig::default().copy_discount)]
    copy_discount: f32,
    /// Score multiplier of curated responses.
    #[arg(long, default_value_t = DrafterConfig::default().curated_bonus)]
    curated_bonus: f32,
    /// Weight of a curated response's whole-text PMI with the message.
    #[arg(long, default_value_t = DrafterConfig::default().curated_pmi_weight)]
    curated_pmi_weight: f32,
    /// Tokens of each curated response scored after an empty message (at warm-up).
    #[arg(long, default_value_t = DrafterConfig::default().prior_depth)]
    prior_depth: usize,
    #[arg(long, default_value_t = pocketlm::default_threads())]
    threads: usize,
    /// A cluster prior table to draft with instead of the builtin one (`pocketlm
    /// train-reply-prior --out FILE` writes one).
    #[arg(long)]
    cluster_prior: Option<PathBuf>,
    /// Draft without the cluster prior (the act rules alone: `--reading rules`).
    #[arg(long, conflicts_with = "cluster_prior")]
    no_cluster_prior: bool,
    /// What reads the message: `head` (the learned hidden-state head; the word prior on a
    /// model without one), `prior` (the act rules and the word prior) or `rules` (the act
    /// rules alone).
    #[arg(long, default_value = DrafterConfig::default().reading.as_str(), value_parser = parse_reading)]
    reading: Reading,
    /// A reading-head table to draft with instead of the builtin one (`pocketlm
    /// train-reply-head --out FILE` writes one).
    #[arg(long)]
    reply_head: Option<PathBuf>,
    /// Any other number of the drafter's configuration, `NAME=VALUE` (repeatable; names as
    /// in `DrafterConfig`, e.g. `prior_open=0.5`): for experiments.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Keep each tone's prefix warm-up in DIR (created when missing): loaded from there when
    /// valid for this model and prefix, otherwise evaluated and saved (docs/state.md).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

impl DraftArgs {
    fn drafter(&self, model: Arc<Model>) -> Result<ReplyDrafter, String> {
        let mut config = DrafterConfig {
            threads: self.threads,
            branches: self.branches,
            curated: self.curated,
            max_reply_tokens: self.max_reply_tokens,
            prior_weight: self.prior_weight,
            curated_bonus: self.curated_bonus,
            curated_pmi_weight: self.curated_pmi_weight,
            prior_depth: self.prior_depth,
            pmi_weight: self.pmi_weight,
            copy_discount: self.copy_discount,
            ..DrafterConfig::default()
        };
        config.reading = if self.no_cluster_prior {
            Reading::Rules
        } else {
            self.reading
        };
        for item in &self.set {
            set_config(&mut config, item)?;
        }
        let mut drafter = self.drafter_with(model, config)?;
        if let Some(dir) = &self.state_dir {
            drafter = drafter.with_state_dir(dir);
        }
        match &self.reply_head {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let head = ReadingHead::parse(&text, drafter.catalog())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                drafter
                    .with_reading_head(Some(head))
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            None => Ok(drafter),
        }
    }

    fn drafter_with(
        &self,
        model: Arc<Model>,
        config: DrafterConfig,
    ) -> Result<ReplyDrafter, String> {
        if self.cluster_prior.is_none() && !self.no_cluster_prior {
            return ReplyDrafter::new(model, config).map_err(|e| e.to_string());
        }
        // An evaluation tool's one drafter: its catalog lives as long as the process.
        let catalog = catalog_with_prior(self.cluster_prior.as_deref())?;
        ReplyDrafter::with_catalog(model, config, Box::leak(Box::new(catalog)))
            .map_err(|e| e.to_string())
    }

    fn options(&self) -> DraftOptions {
        DraftOptions {
            n: self.n,
            max_words: self.max_words,
            tone: self.tone,
            blocklist: self.block.clone(),
        }
    }
}

#[derive(Args)]
pub struct ReplyArgs {
    #[arg(long)]
    model: PathBuf,
    /// The message just received.
    #[arg(long)]
    message: String,
    /// Earlier messages: a JSON array of {"from_me": bool, "text": "..."}, oldest first.
    #[arg(long)]
    history: Option<PathBuf>,
    #[command(flatten)]
    draft: DraftArgs,
    #[arg(long)]
    json: bool,
}

fn read_history(path: &PathBuf) -> Result<Vec<Message>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let items = v
        .as_array()
        .or_else(|| v.get("messages").and_then(Value::as_array))
        .ok_or_else(|| {
            format!(
                "{}: expected a JSON array of {{\"from_me\", \"text\"}} objects",
                path.display()
            )
        })?;
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let text = m.get("text").and_then(Value::as_str);
            let from_me = m.get("from_me").and_then(Value::as_bool);
            match (text, from_me) {
                (Some(t), Some(f)) => Ok(Message::new(f, t)),
                _ => Err(format!(
                    "{}: message {i} needs \"from_me\" (bool) and \"text\" (string)",
                    path.display()
                )),
            }
        })
        .collect()
}

pub fn reply(a: ReplyArgs) -> CliResult {
    let model = load(&a.model)?;
    let drafter = a.draft.drafter(model)?;
    let mut conversation = match &a.history {
        Some(p) => read_history(p)?,
        None => Vec::new(),
    };
    conversation.push(Message::incoming(a.message.clone()));
    let opts = a.draft.options();
    let warm = Instant::now();
    drafter.warm_up(opts.tone).map_err(|e| e.to_string())?;
    let warm_ms = warm.elapsed().as_secs_f64() * 1e3;
    let warm_start = drafter.warm_start(opts.tone).is_some_and(|(w, _)| w);
    let d = drafter
        .draft_detailed(&conversation, &opts)
        .map_err(|e| e.to_string())?;
    if a.json {
        println!(
            "{}",
            json!({
                "replies": d.replies.iter().map(|r| json!({"text": r.text, "score": r.score})).collect::<Vec<_>>(),
                "ms": d.ms,
                "no_suggestion": d.no_suggestion.is_some(),
                "reason": d.no_suggestion.map(|r| r.as_str()),
                "prompt_tokens": d.prompt_tokens,
                "evaluated_tokens": d.evaluated_tokens,
                "steps": d.steps,
                "rows": d.rows,
                "warm_up_ms": warm_ms,
                "warm_start": warm_start,
            })
        );
    } else {
        if let Some(r) = d.no_suggestion {
            println!("(no suggestion: {})", r.as_str());
        }
        for r in &d.replies {
            println!("{:.3}  {}", r.score, r.text);
        }
        eprintln!(
            "[{:.0} ms; {} prompt tokens, {} evaluated; prefix warm-up {:.0} ms{}]",
            d.ms,
            d.prompt_tokens,
            d.evaluated_tokens,
            warm_ms,
            if warm_start { ", loaded" } else { "" }
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct EvalReplyArgs {
    #[arg(long)]
    model: PathBuf,
    /// One incoming message per line (empty lines and lines starting with '#' are skipped);
    /// a line `message<TAB>cluster ...` also labels the acceptable reply clusters (see
    /// tests/fixtures/reply-eval-*.txt), which adds coverage3, all3_acceptable and
    /// distinct_stances to the report.
    #[arg(long)]
    cases: PathBuf,
    #[command(flatten)]
    draft: DraftArgs,
    /// Also print every candidate and why it was rejected.
    #[arg(long)]
    verbose: bool,
    #[command(flatten)]
    contend: crate::contend::ContendArgs,
    #[arg(long)]
    json: bool,
}

/// Sets one number of `config` from `NAME=VALUE`.
fn set_config(config: &mut DrafterConfig, item: &str) -> Result<(), String> {
    let (name, value) = item
        .split_once('=')
        .ok_or_else(|| format!("--set {item}: expected NAME=VALUE"))?;
    let not_a = |kind: &str| format!("--set {item}: {value:?} is not {kind}");
    let c = config;
    let count = match name {
        "curated" => Some(&mut c.curated),
        "branches" => Some(&mut c.branches),
        _ => None,
    };
    if let Some(field) = count {
        *field = value.parse().map_err(|_| not_a("a count"))?;
        return Ok(());
    }
    if name == "ignored_acts" {
        c.ignored_acts = value
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        return Ok(());
    }
    let switch = match name {
        "act_rules" => Some(&mut c.act_rules),
        "option_chips" => Some(&mut c.option_chips),
        _ => None,
    };
    if let Some(field) = switch {
        *field = match value {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(not_a("true or false")),
        };
        return Ok(());
    }
    let v: f32 = value.parse().map_err(|_| not_a("a number"))?;
    let field: &mut f32 = match name {
        "prior_weight" => &mut c.prior_weight,
        "curated_bonus" => &mut c.curated_bonus,
        "pmi_weight" => &mut c.pmi_weight,
        "max_pmi" => &mut c.max_pmi,
        "curated_pmi_weight" => &mut c.curated_pmi_weight,
        "copy_discount" => &mut c.copy_discount,
        "min_score" => &mut c.min_score,
        "max_first_token_gap" => &mut c.max_first_token_gap,
        "preferred_gap" => &mut c.preferred_gap,
        "preferred_boost" => &mut c.preferred_boost,
        "preferred_bonus" => &mut c.preferred_bonus,
        "generated_weight" => &mut c.generated_weight,
        "generated_weight_answered" => &mut c.generated_weight_answered,
        "question_back_discount" => &mut c.question_back_discount,
        "hedge_discount" => &mut c.hedge_discount,
        "same_cluster_discount" => &mut c.same_cluster_discount,
        "unpreferred_discount" => &mut c.unpreferred_discount,
        "same_opening_discount" => &mut c.same_opening_discount,
        "same_stance_discount" => &mut c.same_stance_discount,
        "second_question_discount" => &mut c.second_question_discount,
        "negative_ratio" => &mut c.negative_ratio,
        "decision_negative_ratio" => &mut c.decision_negative_ratio,
        "direction_acceptance" => &mut c.direction_acceptance,
        "acceptance_exponent" => &mut c.acceptance_exponent,
        "learned_acceptance" => &mut c.learned_acceptance,
        "prior_open" => &mut c.prior_open,
        "prior_prefer" => &mut c.prior_prefer,
        "head_weight" => &mut c.head_weight,
        "prior_exponent" => &mut c.prior_exponent,
        "prior_unclustered" => &mut c.prior_unclustered,
        "prior_beam_weight" => &mut c.prior_beam_weight,
        "choice_yes" => &mut c.choice_yes,
        "choice_other" => &mut c.choice_other,
        "choice_open" => &mut c.choice_open,
        "choice_ratio" => &mut c.choice_ratio,
        "silence_at" => &mut c.silence_at,
        "asks_at" => &mut c.asks_at,
        "act_at" => &mut c.act_at,
        "min_acceptance" => &mut c.min_acceptance,
        _ => return Err(format!("--set {item}: no number named {name:?}")),
    };
    *field = v;
    Ok(())
}

fn parse_reading(name: &str) -> Result<Reading, String> {
    Reading::from_name(name).ok_or_else(|| format!("{name:?}: expected head, prior or rules"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn eval_reply(a: EvalReplyArgs) -> CliResult {
    let text =
        std::fs::read_to_string(&a.cases).map_err(|e| format!("{}: {e}", a.cases.display()))?;
    let labelled = text.contains('\t');
    let catalog = pocketlm::internals::reply::Catalog::builtin().map_err(|e| e.to_string())?;
    let labels: Vec<eval::LabelledCase> = if labelled {
        eval::parse_cases(&text, catalog).map_err(|e| format!("{}: {e}", a.cases.display()))?
    } else {
        Vec::new()
    };
    let cases: Vec<&str> = if labelled {
        labels.iter().map(|c| c.message.as_str()).collect()
    } else {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    };
    if cases.is_empty() {
        return Err(format!("{}: no cases", a.cases.display()));
    }
    let model = load(&a.model)?;
    let drafter = a.draft.drafter(model)?;
    let mut scores: Vec<eval::CaseScore> = Vec::new();
    let opts = a.draft.options();
    let warm = Instant::now();
    drafter.warm_up(opts.tone).map_err(|e| e.to_string())?;
    let warm_ms = warm.elapsed().as_secs_f64() * 1e3;
    let warm_start = drafter.warm_start(opts.tone).is_some_and(|(w, _)| w);
    // Peak anonymous memory (RssAnon, sampled after the warm-up and after every draft): the
    // mapped model and a prefix mapped from the state directory are file-backed, not counted.
    let anon_after_warm_up = crate::cmd_keyboard::rss_anon_kib();
    let mut peak_anon_kib = anon_after_warm_up;
    let mut sample_anon = || {
        if let Some(now) = crate::cmd_keyboard::rss_anon_kib() {
            peak_anon_kib = Some(peak_anon_kib.map_or(now, |p| p.max(now)));
        }
    };

    let mut rows = Vec::new();
    let mut ms = Vec::new();
    // Totals: prompt tokens from the cache, prompt tokens evaluated, decode steps, decode rows.
    let mut work = (0usize, 0usize, 0usize, 0usize);
    let (mut valid, mut full, mut sensitive, mut none) = (0usize, 0usize, 0usize, 0usize);
    let (mut automated, mut closing, mut unanswered) = (0usize, 0usize, 0usize);
    let mut bigrams: Vec<String> = Vec::new();
    let (mut n_replies, mut n_words) = (0usize, 0usize);
    // Labelled cases asking for a decision, and those whose replies offer both directions.
    let (mut decisions, mut both) = (0usize, 0usize);
    // Busy threads beside the drafts (not the warm-up, which happens once per model).
    let contention = crate::contend::Contention::start(a.contend.contend)?;
    for (ci, case) in cases.iter().enumerate() {
        let d = drafter
            .draft_detailed(&[Message::incoming(*case)], &opts)
            .map_err(|e| format!("case {case:?}: {e}"))?;
        sample_anon();
        let score = labels
            .get(ci)
            .map(|l| eval::score_case(&d, l, catalog, opts.n));
        let decision = labels
            .get(ci)
            .is_some_and(|l| eval::asks_decision(l, catalog));
        let offers_both = decision && eval::offers_both(&d, catalog);
        decisions += usize::from(decision);
        both += usize::from(offers_both);
        ms.push(d.ms);
        work.0 += d.prompt_tokens - (d.evaluated_tokens - d.rows).min(d.prompt_tokens);
        work.1 += d.evaluated_tokens - d.rows;
        work.2 += d.steps;
        work.3 += d.rows;
        if d.replies.len() == opts.n {
            full += 1;
            valid += 1;
        }
        match d.no_suggestion {
            Some(pocketlm::NoSuggestion::Sensitive) => {
                sensitive += 1;
                valid += 1;
            }
            Some(pocketlm::NoSuggestion::Automated) => {
                automated += 1;
                valid += 1;
            }
            Some(pocketlm::NoSuggestion::Closing) => {
                closing += 1;
                valid += 1;
            }
            Some(pocketlm::NoSuggestion::NoReplyExpected) => {
                unanswered += 1;
                valid += 1;
            }
            Some(_) => none += 1,
            None => {}
        }
        for r in &d.replies {
            let ws = pocketlm::internals::reply::filter::words(&r.text);
            n_words += ws.len();
            n_replies += 1;
            bigrams.extend(ws.windows(2).map(|w| format!("{} {}", w[0], w[1])));
        }
        if !a.json {
            println!("{:>6.0} ms  {case}", d.ms);
            if let Some(r) = d.no_suggestion {
                println!("           (no suggestion: {})", r.as_str());
            }
            for (i, r) in d.replies.iter().enumerate() {
                let mark = match &score {
                    Some(s) if s.acceptable[i] => "ok",
                    Some(_) => "--",
                    None => "",
                };
                println!("           {:.3} {mark:>2} {}", r.score, r.text);
            }
            if a.verbose {
                println!("           acts: {}", d.acts.join(" "));
            }
            if a.verbose {
                for c in &d.candidates {
                    let why = c
                        .rejected
                        .map(|r| format!("{r:?}"))
                        .unwrap_or_else(|| "ok".into());
                    println!(
                        "             · {:.3} {:<14} {:?} {}",
                        c.score,
                        why,
                        c.text,
                        c.cluster.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        rows.push(json!({
            "message": case,
            "replies": d.replies.iter().map(|r| json!({"text": r.text, "score": r.score})).collect::<Vec<_>>(),
            "no_suggestion": d.no_suggestion.is_some(),
            "reason": d.no_suggestion.map(|r| r.as_str()),
            "ms": d.ms,
            "prompt_tokens": d.prompt_tokens,
            "evaluated_tokens": d.evaluated_tokens,
            "steps": d.steps,
            "rows": d.rows,
            "acts": d.acts,
            "options": d.options,
            "silence": d.silence,
            "asks": d.asks,
            "asks_decision": labels.get(ci).map(|_| decision),
            "offers_both": labels.get(ci).map(|_| offers_both),
            "clusters": d.replies.iter().map(|r| catalog.cluster_of(&r.text).map(|c| catalog.clusters[c].name.as_str())).collect::<Vec<_>>(),
            "acceptable": score.as_ref().map(|s| s.acceptable.clone()),
            "expected": labels.get(ci).map(|l| l.acceptable.clone()),
            "candidates": d.candidates.iter().map(|c| json!({
                "text": c.text,
                "score": c.score,
                "rejected": c.rejected.map(|r| format!("{r:?}")),
                "curated": c.curated,
                "cluster": c.cluster,
                "stance": c.stance.map(|s| s.as_str()),
                "preferred": c.preferred,
            })).collect::<Vec<_>>(),
        }));
        if let Some(s) = score {
            scores.push(s);
        }
    }
    let contend = contention.count();
    drop(contention);
    let summary = labelled.then(|| eval::summarize(&scores));
    let n = cases.len() as f64;
    let total_bigrams = bigrams.len();
    bigrams.sort();
    bigrams.dedup();
    let distinct2 = if total_bigrams == 0 {
        0.0
    } else {
        bigrams.len() as f64 / total_bigrams as f64
    };
    let mean_words = if n_replies == 0 {
        0.0
    } else {
        n_words as f64 / n_replies as f64
    };
    ms.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(&ms, 50.0), percentile(&ms, 95.0));
    if a.json {
        println!(
            "{}",
            json!({
                "cases": rows,
                "valid_fraction": valid as f64 / n,
                "full_fraction": full as f64 / n,
                "sensitive_fraction": sensitive as f64 / n,
                "automated_fraction": automated as f64 / n,
                "closing_fraction": closing as f64 / n,
                "no_reply_expected_fraction": unanswered as f64 / n,
                "nothing_fraction": none as f64 / n,
                "distinct2": distinct2,
                "mean_words": mean_words,
                "p50_ms": p50,
                "p95_ms": p95,
                "warm_up_ms": warm_ms,
                "warm_start": warm_start,
                "peak_anon_mib": peak_anon_kib.map(|k| k as f64 / 1024.0),
                "anon_after_warm_up_mib": anon_after_warm_up.map(|k| k as f64 / 1024.0),
                "mean_cached_tokens": work.0 as f64 / n,
                "mean_prompt_evaluated": work.1 as f64 / n,
                "mean_steps": work.2 as f64 / n,
                "mean_rows": work.3 as f64 / n,
                "labelled_cases": summary.map(|s| s.cases),
                "coverage3": summary.map(|s| s.coverage3),
                "all3_acceptable": summary.map(|s| s.all3_acceptable),
                "distinct_stances": summary.map(|s| s.distinct_stances),
                "decision_cases": labelled.then_some(decisions),
                "decision_choice": labelled.then(|| both as f64 / decisions.max(1) as f64),
                "reading": drafter.reading().as_str(),
                "contend": contend,
            })
        );
    } else {
        println!();
        println!(
            "cases {}: valid {:.1}% ({} with {} replies, {} sensitive, {} automated, {} closing, {} no reply expected, {} without a good reply)",
            cases.len(),
            100.0 * valid as f64 / n,
            full,
            opts.n,
            sensitive,
            automated,
            closing,
            unanswered,
            none
        );
        println!("distinct-2 {distinct2:.3}, mean words {mean_words:.2}, p50 {p50:.0} ms, p95 {p95:.0} ms (prefix warm-up {warm_ms:.0} ms, once per model; {contend} busy threads beside the drafts)");
        println!(
            "per draft: {:.1} prompt tokens evaluated ({:.1} from the cache), {:.2} decode steps, {:.1} decode rows",
            work.1 as f64 / n,
            work.0 as f64 / n,
            work.2 as f64 / n,
            work.3 as f64 / n
        );
        if let Some(s) = summary {
            println!(
                "labelled {}: coverage3 {:.3}, all3_acceptable {:.3}, distinct stances {:.2}",
                s.cases, s.coverage3, s.all3_acceptable, s.distinct_stances
            );
            println!(
                "decision_choice {:.3} ({both} of {decisions} asking for a decision offer both \
                 directions); reading {}",
                both as f64 / decisions.max(1) as f64,
                drafter.reading().as_str()
            );
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct ChatArgs {
    #[arg(long)]
    model: PathBuf,
    /// System prompt (default: the chat template's own, if any).
    #[arg(long)]
    system: Option<String>,
    #[arg(long, default_value_t = 256)]
    max_tokens: usize,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Stop before this string (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    #[arg(long, default_value_t = 2048)]
    ctx: usize,
    #[arg(long, default_value_t = pocketlm::default_threads())]
    threads: usize,
}

static CANCEL: AtomicBool = AtomicBool::new(false);
static GENERATING: AtomicBool = AtomicBool::new(false);
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);

/// Ctrl-C while answering cancels the answer; twice at the prompt exits.
fn install_ctrlc() -> Result<(), String> {
    ctrlc::set_handler(|| {
        if GENERATING.load(Ordering::SeqCst) {
            CANCEL.store(true, Ordering::SeqCst);
        } else if INTERRUPTS.fetch_add(1, Ordering::SeqCst) >= 1 {
            eprintln!();
            std::process::exit(130);
        } else {
            eprint!("\n(press Ctrl-C again to exit)\n> ");
        }
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))
}

pub fn chat(a: ChatArgs) -> CliResult {
    let model = load(&a.model)?;
    let options = ChatOptions {
        system_prompt: a.system.clone(),
        context_length: a.ctx,
        threads: a.threads,
        generate: GenerateOptions {
            max_tokens: a.max_tokens,
            sampler: a.sampling.config(),
            stop: a.stop.clone(),
            ..Default::default()
        },
        ..ChatOptions::default()
    };
    let mut chat = ChatSession::new(model, options).map_err(|e| e.to_string())?;
    install_ctrlc()?;
    eprintln!("chat ready (Ctrl-C cancels an answer, twice at the prompt exits; /reset clears the history)");
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        eprint!("> ");
        line.clear();
        let read = stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if read == 0 {
            eprintln!();
            return Ok(());
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        INTERRUPTS.store(0, Ordering::SeqCst);
        if text == "/reset" {
            chat.clear();
            eprintln!("(history cleared)");
            continue;
        }
        CANCEL.store(false, Ordering::SeqCst);
        GENERATING.store(true, Ordering::SeqCst);
        let t0 = Instant::now();
        let result = chat.send(text, &CANCEL, |delta| {
            print!("{delta}");
            let _ = std::io::stdout().flush();
            true
        });
        GENERATING.store(false, Ordering::SeqCst);
        println!();
        match result {
            Ok(turn) => eprintln!(
                "[{} tokens, {:.0} ms, {}{}]",
                turn.generated_tokens,
                t0.elapsed().as_secs_f64() * 1e3,
                turn.stop_reason.as_str(),
                if turn.dropped_messages > 0 {
                    format!(", {} old messages dropped", turn.dropped_messages)
                } else {
                    String::new()
                }
            ),
            // The model's own template cannot render this chat: every later turn would fail
            // the same way, so stop with the error (and a failing exit status).
            Err(e @ ChatError::Template(_)) => return Err(e.to_string()),
            Err(e) => eprintln!("error: {e}"),
        }
    }
}

/// The builtin catalog with the word prior of `path` instead of its own (none: no prior).
/// Only the prior is replaced: the reader acceptance and the word scorer stay the builtin
/// ones, so a prior is compared with everything else as shipped.
fn catalog_with_prior(path: Option<&std::path::Path>) -> Result<Catalog, String> {
    let builtin = Catalog::builtin().map_err(|e| e.to_string())?;
    let mut catalog = builtin.clone();
    catalog.cluster_prior = match path {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(
                ClusterPrior::parse(&text, builtin)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_prior_keeps_the_reader_acceptance_and_word_scorer() {
        let none = catalog_with_prior(None).unwrap();
        assert!(none.cluster_prior.is_none());
        let dir = std::env::temp_dir().join(format!("pocketlm-prior-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("prior.tsv");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        std::fs::copy(
            root.join("rust/pocketlm/src/reply/cluster_prior.tsv"),
            &path,
        )
        .unwrap();
        let some = catalog_with_prior(Some(&path)).unwrap();
        assert!(some.cluster_prior.is_some());
        for c in [&none, &some] {
            assert!(c.reader_acceptance.is_some(), "reader acceptance dropped");
            assert!(c.sensitive_words.is_some(), "word scorer dropped");
        }
        assert!(catalog_with_prior(Some(&dir.join("missing.tsv"))).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn set_reads_numbers_counts_and_the_act_rules_switch() {
        let mut c = DrafterConfig::default();
        set_config(&mut c, "prior_open=0.5").unwrap();
        set_config(&mut c, "branches=3").unwrap();
        set_config(&mut c, "act_rules=false").unwrap();
        assert_eq!((c.prior_open, c.branches, c.act_rules), (0.5, 3, false));
        set_config(&mut c, "act_rules=1").unwrap();
        assert!(c.act_rules);
        set_config(&mut c, "ignored_acts=humor, remark").unwrap();
        assert_eq!(c.ignored_acts, ["humor", "remark"]);
        for bad in [
            "act_rules=maybe",
            "prior_open=x",
            "branches=-1",
            "nope=1",
            "prior_open",
        ] {
            assert!(set_config(&mut c, bad).is_err(), "{bad}");
        }
    }
}
