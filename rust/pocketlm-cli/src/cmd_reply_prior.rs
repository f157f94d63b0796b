//! `pocketlm train-reply-prior`: trains the drafter's cluster prior from the labelled reply
//! cases, checks the checked-in table, or cross-validates the settings (the logic is in
//! [`crate::reply_prior`]).

use crate::commands::CliResult;
use crate::reply_prior::{self as prior, Example, Settings, SETTINGS};
use clap::Args;
use pocketlm::internals::reply::Catalog;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args)]
pub struct TrainReplyPriorArgs {
    /// The folder of the labelled case files (`reply-eval-*.txt`; the held-out set is never
    /// read).
    #[arg(long, default_value = "tests/fixtures")]
    fixtures: PathBuf,
    /// A case file (by name) to leave out as well (repeatable): to measure the prior on it.
    #[arg(long)]
    exclude: Vec<String>,
    /// Where the table goes (or is compared with `--check`).
    #[arg(long, default_value = "rust/pocketlm/src/reply/cluster_prior.tsv")]
    out: PathBuf,
    /// Train, and fail if the table at `--out` differs (the fixtures changed since).
    #[arg(long)]
    check: bool,
    /// Write nothing; train once per blind set and dev without it and report how well the
    /// prior ranks its clusters (leave-one-set-out).
    #[arg(long)]
    cross_validate: bool,
    #[arg(long, default_value_t = SETTINGS.epochs)]
    epochs: usize,
    #[arg(long, default_value_t = SETTINGS.rate)]
    rate: f32,
    #[arg(long, default_value_t = SETTINGS.l1)]
    l1: f32,
    #[arg(long, default_value_t = SETTINGS.l2)]
    l2: f32,
    #[arg(long, default_value_t = SETTINGS.min_cases)]
    min_cases: usize,
    #[arg(long, default_value_t = SETTINGS.prune)]
    prune: f32,
    /// Whether the act rules' names are features (`true`/`false`; the builtin table follows
    /// the drafter's `act_rules`).
    #[arg(long, default_value_t = SETTINGS.act_features, action = clap::ArgAction::Set)]
    act_features: bool,
    #[arg(long)]
    json: bool,
}

pub fn train_reply_prior(a: TrainReplyPriorArgs) -> CliResult {
    let cat = Catalog::builtin_rules().map_err(|e| e.to_string())?;
    let settings = Settings {
        epochs: a.epochs,
        rate: a.rate,
        l1: a.l1,
        l2: a.l2,
        min_cases: a.min_cases,
        prune: a.prune,
        act_features: a.act_features,
    };
    if a.cross_validate {
        let files = prior::case_files(&a.fixtures, &a.exclude)?;
        let acts = prior::act_labels(&a.fixtures, settings.act_features)?;
        let sets = prior::examples_by_file(&files, cat, acts.as_ref())?;
        return cross_validate(&sets, cat, &settings, a.json);
    }
    let (text, cases) = prior::build(&a.fixtures, &a.exclude, &settings, cat)?;
    if a.check {
        let current =
            std::fs::read_to_string(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
        if current != text {
            return Err(format!(
                "{} is stale: the labelled cases changed since it was trained; run `pocketlm \
                 train-reply-prior` from the repository root and commit the table",
                a.out.display()
            ));
        }
        println!("{} is current", a.out.display());
        return Ok(());
    }
    std::fs::write(&a.out, &text).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let features = text.lines().filter(|l| !l.starts_with('#')).count() - 1;
    if a.json {
        println!(
            "{}",
            json!({"cases": cases, "features": features, "bytes": text.len()})
        );
    } else {
        println!(
            "{}: {cases} cases, {features} features, {} bytes",
            a.out.display(),
            text.len()
        );
    }
    Ok(())
}

/// Leave-one-set-out over the blind sets and dev: trained on every other file, ranked on
/// this one.
fn cross_validate(
    sets: &[(String, Vec<Example>)],
    cat: &Catalog,
    settings: &Settings,
    json_out: bool,
) -> CliResult {
    let mut rows = Vec::new();
    for (held, test) in sets
        .iter()
        .filter(|(n, _)| n.contains("blind") || n.contains("dev"))
    {
        let train: Vec<Example> = sets
            .iter()
            .filter(|(n, _)| n != held)
            .flat_map(|(_, e)| e.iter().cloned())
            .collect();
        let t = prior::train(&train, cat.clusters.len(), settings);
        let r = prior::ranking(&t, test);
        if !json_out {
            let calibration: Vec<String> = prior::CALIBRATION
                .iter()
                .zip(r.confident)
                .map(|(p, (share, top1))| format!("p>={p}: {share:.2} of cases, top1 {top1:.3}"))
                .collect();
            println!(
                "{held:28} {:3} cases  top1 {:.3}  top3 {:.3}  {}",
                r.cases,
                r.top1,
                r.top3,
                calibration.join("  ")
            );
        }
        rows.push((held.clone(), r));
    }
    let n = rows.len().max(1) as f64;
    let top1 = rows.iter().map(|(_, r)| r.top1).sum::<f64>() / n;
    let top3 = rows.iter().map(|(_, r)| r.top3).sum::<f64>() / n;
    if json_out {
        let sets: Vec<_> = rows
            .iter()
            .map(|(name, r)| {
                json!({"set": name, "cases": r.cases, "top1": r.top1, "top3": r.top3,
                "confident": prior::CALIBRATION.iter().zip(r.confident)
                    .map(|(p, (share, top1))| json!({"p": p, "share": share, "top1": top1}))
                    .collect::<Vec<_>>()})
            })
            .collect();
        println!(
            "{}",
            json!({"sets": sets, "mean_top1": top1, "mean_top3": top3})
        );
    } else {
        println!("mean top1 {top1:.3}  top3 {top3:.3}");
    }
    Ok(())
}
