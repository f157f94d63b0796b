//! `pocketlm train-reply-head`: extracts the pooled hidden-state features of every labelled
//! message with the drafter itself (cached), trains the reading head and writes its table
//! (the logic is in [`crate::reply_head`]).

use crate::commands::CliResult;
use crate::reply_head::{self as head, Case, FeatureCache, Settings, SETTINGS};
use crate::reply_prior;
use clap::Args;
use pocketlm::internals::reply::acts::{Act, Acts};
use pocketlm::internals::reply::cluster_prior::sigmoid;
use pocketlm::internals::reply::reader_acceptance::ReaderAcceptance;
use pocketlm::internals::reply::reading_head::{hash_bytes, model_fingerprint, ReadingHead};
use pocketlm::internals::reply::Catalog;
use pocketlm::{DrafterConfig, Message, ReplyDrafter, Tone};
use serde_json::json;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct TrainReplyHeadArgs {
    /// The model whose hidden states the head reads.
    #[arg(long)]
    model: PathBuf,
    /// The folder of the labelled case files (the held-out set is never read).
    #[arg(long, default_value = "tests/fixtures")]
    fixtures: PathBuf,
    /// A case file (by name) to leave out as well (repeatable): to measure the head on it.
    #[arg(long)]
    exclude: Vec<String>,
    /// Where the table goes (default: `rust/pocketlm/src/reply/reading_head_<arch>.tsv`,
    /// `smollm2` for a llama-architecture model, `gemma3` for Gemma 3).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where extracted features are cached.
    #[arg(long, default_value = "target/reply-head-cache")]
    cache: PathBuf,
    #[arg(long, default_value_t = pocketlm::default_threads())]
    threads: usize,
    #[arg(long, default_value_t = SETTINGS.epochs)]
    epochs: usize,
    #[arg(long, default_value_t = SETTINGS.rate)]
    rate: f32,
    #[arg(long, default_value_t = SETTINGS.l2)]
    l2: f32,
    /// Write nothing: train without each blind set and dev in turn and report how well the
    /// head ranks its clusters (leave-one-set-out).
    #[arg(long)]
    cross_validate: bool,
    /// With `--cross-validate`: leave out only these case files (by name, repeatable) instead
    /// of every blind set and dev in turn; the others are always trained on.
    #[arg(long)]
    fold: Vec<String>,
    /// Train only on the messages whose features are already cached (no model pass; the
    /// table records how many cases it was trained on): when reading them all would take
    /// longer than there is.
    #[arg(long)]
    cached_only: bool,
    /// With `--cross-validate`: also train the word prior on each fold and report how
    /// blends of the two readings rank (`w · head + (1 − w) · prior`, per cluster).
    #[arg(long)]
    blend: bool,
    /// With `--cross-validate`: report how the silence output (trained on the messages
    /// labelled `none` against all others) silences each left-out set, beside the rules' gate.
    #[arg(long)]
    silence: bool,
    /// With `--cross-validate`: report how the decision output (trained on the messages
    /// whose acceptable replies hold a yes and a no or maybe) finds each left-out set's
    /// decisions, beside the act rules' reading.
    #[arg(long)]
    decision: bool,
    /// With `--cross-validate`: report how the asks output (trained on blind readers'
    /// verdicts of whether a message asks them to decide something) reads each left-out
    /// set's read messages, beside the act labels' reading of a decision.
    #[arg(long)]
    asks: bool,
    /// With `--cross-validate`: report how the act outputs (trained on the act labels,
    /// `tests/fixtures/reply-acts.tsv`) read each left-out set's acts.
    #[arg(long)]
    acts: bool,
    /// With `--cross-validate`: report how well the acceptance outputs (trained on blind
    /// readers' verdicts on each catalog chip, over the reader-acceptance table's rates)
    /// tell the chips readers would send, beside the table's rates alone (5 folds by set).
    #[arg(long)]
    acceptance: bool,
    /// The reader-acceptance table the acceptance outputs correct
    /// (`scripts/reply-read/acceptance.py` writes it; run that first).
    #[arg(long, default_value = ACCEPTANCE_TABLE)]
    acceptance_table: PathBuf,
    /// Label the acts of the labelled messages that have no act labels yet with the builtin
    /// head's act outputs, appended to `tests/fixtures/reply-acts.tsv` for review, then train.
    #[arg(long)]
    label_new_acts: bool,
    #[arg(long)]
    json: bool,
}

/// The acts the head learns: those of the labels not ignored by default with at least this
/// many positive messages.
const MIN_ACT_POSITIVES: usize = 20;

/// Where the reader-acceptance table is, from the repository root.
pub const ACCEPTANCE_TABLE: &str = "rust/pocketlm/src/reply/reader_acceptance.tsv";

pub fn train_reply_head(a: TrainReplyHeadArgs) -> CliResult {
    let cat = Catalog::builtin_rules().map_err(|e| e.to_string())?;
    let settings = Settings {
        epochs: a.epochs,
        rate: a.rate,
        l2: a.l2,
    };
    let model = crate::load_model(&a.model).map_err(|e| format!("{}: {e}", a.model.display()))?;
    let fp = model_fingerprint(&model);
    let info = model.info();
    let dims = 2 * info.n_embd;
    let files = reply_prior::case_files(&a.fixtures, &a.exclude)?;
    let mut sets = head::cases_by_file(&files, cat)?;
    let mut silent = head::silent_messages_by_file(&files, cat)?;
    let labels_path = a.fixtures.join(head::ACT_LABELS);
    let mut labels_text = std::fs::read_to_string(&labels_path)
        .map_err(|e| format!("{}: {e}", labels_path.display()))?;
    let mut labels = head::parse_act_labels(&labels_text)?;
    let reads = head::reader_reads(&a.fixtures, &a.exclude)?;
    let decisions = head::reader_decisions(&reads)?;
    let chips = head::reader_chips(&reads)?;
    let acceptance_text = std::fs::read_to_string(&a.acceptance_table)
        .map_err(|e| format!("{}: {e}", a.acceptance_table.display()))?;
    let acceptance = ReaderAcceptance::parse(&acceptance_text, cat)
        .map_err(|e| format!("{}: {e}", a.acceptance_table.display()))?;
    // Features of every message, from the drafter's own prompt pass.
    let drafter = ReplyDrafter::new(
        model.clone(),
        DrafterConfig {
            threads: a.threads,
            ..DrafterConfig::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let mut cache = FeatureCache::open(&a.cache, fp, dims);
    if a.cached_only {
        for (_, cases) in sets.iter_mut() {
            cases.retain(|c| cache.get(&c.message).is_some());
        }
        sets.retain(|(_, c)| !c.is_empty());
        for (_, msgs) in silent.iter_mut() {
            msgs.retain(|m| cache.get(m).is_some());
        }
    }
    let t0 = Instant::now();
    let mut extracted = 0usize;
    let messages = sets
        .iter()
        .flat_map(|(_, cases)| cases.iter().map(|c| &c.message))
        .chain(silent.iter().flat_map(|(_, m)| m.iter()));
    for message in messages {
        if cache.get(message).is_some() {
            continue;
        }
        let f = drafter
            .reading_features(&[Message::incoming(message.clone())], Tone::Neutral)
            .map_err(|e| format!("{message:?}: {e}"))?;
        if f.len() != dims {
            return Err(format!("{message:?}: {} features, not {dims}", f.len()));
        }
        cache.insert(message, f);
        extracted += 1;
        if extracted.is_multiple_of(200) {
            cache.save()?;
            eprintln!(
                "{extracted} messages read ({:.0} ms each)",
                t0.elapsed().as_secs_f64() * 1e3 / extracted as f64
            );
        }
    }
    cache.save()?;
    let feats_of = |m: &String| cache.get(m).expect("extracted above").clone();
    let feats = |c: &Case| feats_of(&c.message);
    if a.label_new_acts {
        // Messages without act labels get the builtin head's reading, appended for review.
        let builtin = ReadingHead::builtin_for(&model, cat)
            .map_err(|e| e.to_string())?
            .filter(|h| h.reads_acts())
            .ok_or("no builtin head with act outputs for this model")?;
        let at = DrafterConfig::default().act_at;
        let mut added = 0usize;
        for (_, cases) in &sets {
            for c in cases {
                if labels.contains_key(&c.message) {
                    continue;
                }
                let acts = builtin.acts(&feats(c), at).expect("dims");
                labels_text.push_str(&head::act_labels_line(&c.message, &acts));
                labels.insert(c.message.clone(), acts);
                added += 1;
            }
        }
        std::fs::write(&labels_path, &labels_text)
            .map_err(|e| format!("{}: {e}", labels_path.display()))?;
        eprintln!(
            "{added} messages labelled with the builtin head's acts in {} (review them)",
            labels_path.display()
        );
    }
    let acts_of = |m: &String| -> Result<Acts, String> {
        labels.get(m).copied().ok_or_else(|| {
            format!(
                "{m:?} has no act labels in {}: label it (`--label-new-acts` proposes labels)",
                labels_path.display()
            )
        })
    };
    if a.cross_validate {
        let priors = if a.blend {
            let acts = reply_prior::SETTINGS.act_features.then_some(&labels);
            Some(reply_prior::examples_by_file(&files, cat, acts)?)
        } else {
            None
        };
        if a.silence {
            return cross_validate_silence(
                &sets, &a.fold, &silent, cat, &settings, &feats_of, a.json,
            );
        }
        if a.decision {
            return cross_validate_decision(
                &sets, &a.fold, cat, &settings, &feats, &acts_of, a.json,
            );
        }
        if a.asks {
            let read = read_messages(&sets, &silent, &decisions);
            // Messages labelled `none` have no act labels: no decision by the acts.
            let by_acts = |m: &String| labels.get(m).is_some_and(Acts::decision);
            return cross_validate_asks(&read, &settings, &feats_of, &by_acts, a.json);
        }
        if a.acts {
            return cross_validate_acts(&sets, &a.fold, cat, &acts_of, &settings, &feats, a.json);
        }
        if a.acceptance {
            let read = read_messages(&sets, &silent, &decisions);
            let asks = train_asks(&read, None, &feats_of, &settings);
            let examples = accept_examples(&chips, cat, &acceptance, &asks, &cache);
            return cross_validate_acceptance(&examples, cat, &settings, &feats_of, a.json);
        }
        return cross_validate(
            &sets,
            &a.fold,
            priors.as_deref(),
            cat,
            &settings,
            &feats,
            a.json,
        );
    }
    let all: Vec<&Case> = sets.iter().flat_map(|(_, c)| c.iter()).collect();
    let silent_all_len: usize = silent.iter().map(|(_, m)| m.len()).sum();
    let xs: Vec<Vec<f32>> = all.iter().map(|c| feats(c)).collect();
    let xr: Vec<&[f32]> = xs.iter().map(|x| x.as_slice()).collect();
    let yr: Vec<&[usize]> = all.iter().map(|c| c.clusters.as_slice()).collect();
    let t1 = Instant::now();
    let trained = head::train(&xr, &yr, cat.clusters.len(), &settings);
    let train_ms = t1.elapsed().as_secs_f64() * 1e3;
    let names: Vec<&str> = sets.iter().map(|(n, _)| n.as_str()).collect();
    let (act_head, act_names) = train_acts(&all, &acts_of, &settings, &feats)?;
    let meta = [
        ("name", info.name.clone()),
        ("cases", all.len().to_string()),
        ("silent_cases", silent_all_len.to_string()),
        ("files", names.join(",")),
        (
            "fixtures",
            format!("{:016x}", head::training_hash(&files, &labels_text, &reads)),
        ),
        ("prompt", format!("{:016x}", head::prompt_hash())),
        ("settings", format!("{settings:?}")),
        (
            "acceptance",
            format!("{:016x}", hash_bytes(acceptance_text.as_bytes())),
        ),
        ("accept_settings", format!("{:?}", head::ACCEPT)),
    ];
    let silence = train_silence(&sets, &silent, None, &feats_of, &settings);
    let read = read_messages(&sets, &silent, &decisions);
    let asks = train_asks(&read, None, &feats_of, &settings);
    let examples = accept_examples(&chips, cat, &acceptance, &asks, &cache);
    let accept = head::train_acceptance(&examples, None, cat.clusters.len(), &settings, &feats_of);
    let text = head::table(
        &trained,
        Some(&silence),
        Some(&asks),
        Some((&act_head, &act_names)),
        &accept,
        cat,
        fp,
        &meta,
    );
    // The quantized table ranks as the float model did (in-sample).
    let parsed = ReadingHead::parse(&text, cat).map_err(|e| e.to_string())?;
    let pf: Vec<Vec<f32>> = xs.iter().map(|x| trained.probabilities(x)).collect();
    let pq: Vec<Vec<f32>> = xs
        .iter()
        .map(|x| parsed.probabilities(x).expect("dims"))
        .collect();
    let (f1, f3) = head::ranking(&pf, &yr);
    let (q1, q3) = head::ranking(&pq, &yr);
    let out = a.out.clone().unwrap_or_else(|| {
        let arch = if info.architecture == "gemma3" {
            "gemma3"
        } else {
            "smollm2"
        };
        PathBuf::from(format!("rust/pocketlm/src/reply/reading_head_{arch}.tsv"))
    });
    std::fs::write(&out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    let report = json!({
        "out": out.display().to_string(), "cases": all.len(), "bytes": text.len(),
        "model": format!("{fp:016x}"), "extracted": extracted, "train_ms": train_ms,
        "in_sample_top1": f1, "in_sample_top3": f3, "quantized_top1": q1, "quantized_top3": q3,
    });
    if a.json {
        println!("{report}");
    } else {
        println!(
            "{}: {} cases, {} bytes; in-sample top1 {f1:.3} top3 {f3:.3} (quantized {q1:.3} / \
             {q3:.3}); {extracted} messages read, trained in {train_ms:.0} ms",
            out.display(),
            all.len(),
            text.len()
        );
    }
    Ok(())
}

/// Whether a case file is left out in turn by the cross-validations: the blind sets and dev.
/// `only` (`--fold`): the only files left out in turn, when not empty.
fn is_fold(name: &str, only: &[String]) -> bool {
    if only.is_empty() {
        name.contains("blind") || name.contains("dev")
    } else {
        only.iter().any(|f| f == name)
    }
}

/// Each set left out in turn ([`is_fold`]), with its cases and the cases of every other set.
fn folds<'a>(
    sets: &'a [(String, Vec<Case>)],
    only: &'a [String],
) -> impl Iterator<Item = (&'a String, &'a Vec<Case>, Vec<&'a Case>)> {
    sets.iter()
        .filter(|(n, _)| is_fold(n, only))
        .map(move |(held, test)| {
            let train = sets
                .iter()
                .filter(|(n, _)| n != held)
                .flat_map(|(_, c)| c.iter())
                .collect();
            (held, test, train)
        })
}

/// The head's weights in the blends `--blend` reports (0: the prior alone).
const BLEND_WEIGHTS: [f32; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// Leave-one-set-out over the blind sets and dev: trained on every other file, ranked on
/// this one.
fn cross_validate(
    sets: &[(String, Vec<Case>)],
    only: &[String],
    priors: Option<&[(String, Vec<reply_prior::Example>)]>,
    cat: &Catalog,
    settings: &Settings,
    feats: &dyn Fn(&Case) -> Vec<f32>,
    json_out: bool,
) -> CliResult {
    let mut rows = Vec::new();
    for (held, test, train) in folds(sets, only) {
        let xs: Vec<Vec<f32>> = train.iter().map(|c| feats(c)).collect();
        let xr: Vec<&[f32]> = xs.iter().map(|x| x.as_slice()).collect();
        let yr: Vec<&[usize]> = train.iter().map(|c| c.clusters.as_slice()).collect();
        let t = head::train(&xr, &yr, cat.clusters.len(), settings);
        let probs: Vec<Vec<f32>> = test.iter().map(|c| t.probabilities(&feats(c))).collect();
        let ys: Vec<&[usize]> = test.iter().map(|c| c.clusters.as_slice()).collect();
        let (top1, top3) = head::ranking(&probs, &ys);
        let mut row = json!({"set": held, "cases": test.len(), "top1": top1, "top3": top3});
        let mut blends = String::new();
        if let Some(priors) = priors {
            // The same files and cases in the same order as `sets` (both skip `none` lines).
            let train: Vec<reply_prior::Example> = priors
                .iter()
                .filter(|(n, _)| n != held)
                .flat_map(|(_, e)| e.iter().cloned())
                .collect();
            let tp = reply_prior::train(&train, cat.clusters.len(), &reply_prior::SETTINGS);
            let (_, examples) = priors
                .iter()
                .find(|(n, _)| n == held)
                .ok_or("the prior's files differ from the head's")?;
            let pp: Vec<Vec<f32>> = examples
                .iter()
                .map(|e| tp.logits(&e.features).into_iter().map(sigmoid).collect())
                .collect();
            for w in BLEND_WEIGHTS {
                let mixed: Vec<Vec<f32>> = probs
                    .iter()
                    .zip(&pp)
                    .map(|(h, p)| {
                        h.iter()
                            .zip(p)
                            .map(|(h, p)| w * h + (1.0 - w) * p)
                            .collect()
                    })
                    .collect();
                let (b1, b3) = head::ranking(&mixed, &ys);
                row[format!("top1_w{w}")] = json!(b1);
                row[format!("top3_w{w}")] = json!(b3);
                let _ = write!(blends, "  w{w} {b1:.3}/{b3:.3}");
            }
        }
        if !json_out {
            println!(
                "{held:28} {:3} cases  top1 {top1:.3}  top3 {top3:.3}{blends}",
                test.len()
            );
        }
        rows.push(row);
    }
    let n = rows.len().max(1) as f64;
    let mean = |k: &str| {
        rows.iter()
            .map(|r| r[k].as_f64().unwrap_or(0.0))
            .sum::<f64>()
            / n
    };
    let (top1, top3) = (mean("top1"), mean("top3"));
    if priors.is_some() && !json_out {
        for w in BLEND_WEIGHTS {
            println!(
                "blend w{w}: mean top1 {:.3}  top3 {:.3}",
                mean(&format!("top1_w{w}")),
                mean(&format!("top3_w{w}"))
            );
        }
    }
    if json_out {
        println!(
            "{}",
            json!({"sets": rows, "mean_top1": top1, "mean_top3": top3})
        );
    } else {
        println!("mean top1 {top1:.3}  top3 {top3:.3}");
    }
    Ok(())
}

/// The acts worth an output (labelled on at least [`MIN_ACT_POSITIVES`] of `cases`, not
/// ignored by default) and a head with one output per act, fitted on `cases`.
fn train_acts(
    cases: &[&Case],
    acts_of: &dyn Fn(&String) -> Result<Acts, String>,
    settings: &Settings,
    feats: &dyn Fn(&Case) -> Vec<f32>,
) -> Result<(head::Trained, Vec<Act>), String> {
    let ignored = DrafterConfig::default().ignored_acts;
    let labels: Vec<Acts> = cases
        .iter()
        .map(|c| acts_of(&c.message))
        .collect::<Result<_, _>>()?;
    let names: Vec<Act> = Act::ALL
        .iter()
        .copied()
        .filter(|a| !ignored.iter().any(|n| n == a.as_str()))
        .filter(|a| labels.iter().filter(|l| l.has(*a)).count() >= MIN_ACT_POSITIVES)
        .collect();
    let ys: Vec<Vec<usize>> = labels
        .iter()
        .map(|l| (0..names.len()).filter(|&k| l.has(names[k])).collect())
        .collect();
    let xs: Vec<Vec<f32>> = cases.iter().map(|c| feats(c)).collect();
    let xr: Vec<&[f32]> = xs.iter().map(|x| x.as_slice()).collect();
    let yr: Vec<&[usize]> = ys.iter().map(|y| y.as_slice()).collect();
    Ok((head::train(&xr, &yr, names.len(), settings), names))
}

/// Leave-one-set-out for the act outputs: per left-out blind set or dev, how many of its
/// labelled acts the outputs find at 0.5 (recall), how many they add (precision), and how
/// often they agree with the labels on whether a decision is asked.
fn cross_validate_acts(
    sets: &[(String, Vec<Case>)],
    only: &[String],
    cat: &Catalog,
    acts_of: &dyn Fn(&String) -> Result<Acts, String>,
    settings: &Settings,
    feats: &dyn Fn(&Case) -> Vec<f32>,
    json_out: bool,
) -> CliResult {
    use pocketlm::Stance;
    // Decisions as the cluster labels say (a yes and a no or maybe acceptable): found by the
    // act labels' reading and by the act outputs at each threshold.
    let asks = |c: &Case| {
        let st: Vec<Stance> = c.clusters.iter().map(|&k| cat.clusters[k].stance).collect();
        st.contains(&Stance::Yes) && st.iter().any(|s| s.is_no_or_maybe())
    };
    let k = DECISION_AT.len();
    let (mut pos, mut neg, mut lab_tp, mut lab_fp) = (0usize, 0usize, 0usize, 0usize);
    let (mut out_tp, mut out_fp) = (vec![0usize; k], vec![0usize; k]);
    let mut rows = Vec::new();
    let (mut tp, mut fp_, mut fn_, mut dec_agree, mut n_all) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    for (held, test, train) in folds(sets, only) {
        let (t, names) = train_acts(&train, acts_of, settings, feats)?;
        let (mut s_tp, mut s_fp, mut s_fn, mut s_dec) = (0usize, 0usize, 0usize, 0usize);
        for c in test {
            let want = acts_of(&c.message)?;
            let p = t.probabilities(&feats(c));
            let mut got = Acts::default();
            for (k, a) in names.iter().enumerate() {
                if p[k] >= 0.5 {
                    got.insert(*a);
                }
            }
            for a in &names {
                match (want.has(*a), got.has(*a)) {
                    (true, true) => s_tp += 1,
                    (false, true) => s_fp += 1,
                    (true, false) => s_fn += 1,
                    _ => {}
                }
            }
            s_dec += usize::from(want.decision() == got.decision());
            let label = asks(c);
            if label {
                pos += 1;
                lab_tp += usize::from(want.decision());
            } else {
                neg += 1;
                lab_fp += usize::from(want.decision());
            }
            for (i, &at) in DECISION_AT.iter().enumerate() {
                let found = names
                    .iter()
                    .enumerate()
                    .any(|(j, a)| p[j] >= at && a.decision_act());
                if label {
                    out_tp[i] += usize::from(found);
                } else {
                    out_fp[i] += usize::from(found);
                }
            }
        }
        let r = share(s_tp, s_tp + s_fn);
        let pr = share(s_tp, s_tp + s_fp);
        let d = share(s_dec, test.len());
        if !json_out {
            println!(
                "{held:28} {:3} cases  recall {r:.3}  precision {pr:.3}  decision agreement {d:.3}",
                test.len()
            );
        }
        rows.push(json!({"set": held, "cases": test.len(), "recall": r, "precision": pr, "decision_agreement": d}));
        tp += s_tp;
        fp_ += s_fp;
        fn_ += s_fn;
        dec_agree += s_dec;
        n_all += test.len();
    }
    let (r, pr, d) = (
        share(tp, tp + fn_),
        share(tp, tp + fp_),
        share(dec_agree, n_all),
    );
    let at: Vec<_> = DECISION_AT
        .iter()
        .enumerate()
        .map(|(i, &at)| {
            json!({"at": at, "decisions_found": out_tp[i], "others_called_decisions": out_fp[i]})
        })
        .collect();
    if json_out {
        println!(
            "{}",
            json!({"sets": rows, "recall": r, "precision": pr, "decision_agreement": d,
                   "decisions": pos, "others": neg, "labels_found": lab_tp,
                   "labels_others_called": lab_fp, "outputs": at})
        );
    } else {
        println!("all: recall {r:.3}  precision {pr:.3}  decision agreement {d:.3}");
        println!(
            "decisions (cluster labels): {pos}, others {neg}; the act labels find {lab_tp} \
             ({:.3}) and call {lab_fp} others decisions ({:.3})",
            share(lab_tp, pos),
            share(lab_fp, neg)
        );
        for (i, t) in DECISION_AT.iter().enumerate() {
            println!(
                "  act outputs at {t}: {} ({:.3}) found, {} ({:.3}) others",
                out_tp[i],
                share(out_tp[i], pos),
                out_fp[i],
                share(out_fp[i], neg)
            );
        }
    }
    Ok(())
}

/// Fits the silence output on every file's messages but `left_out`'s: those labelled `none`
/// positive, all others negative (all negatives first, then the positives, in file order).
fn train_silence(
    sets: &[(String, Vec<Case>)],
    silent: &[(String, Vec<String>)],
    left_out: Option<&str>,
    feats: &dyn Fn(&String) -> Vec<f32>,
    settings: &Settings,
) -> head::Trained {
    let kept = |name: &String| Some(name.as_str()) != left_out;
    let negatives = sets
        .iter()
        .filter(|(n, _)| kept(n))
        .flat_map(|(_, cases)| cases.iter().map(|c| (&c.message, false)));
    let positives = silent
        .iter()
        .filter(|(n, _)| kept(n))
        .flat_map(|(_, msgs)| msgs.iter().map(|m| (m, true)));
    fit_one(
        negatives.chain(positives).map(|(m, y)| (feats(m), y)),
        settings,
    )
}

/// A one-output head fitted on `(features, positive)` examples, in their order.
fn fit_one(examples: impl Iterator<Item = (Vec<f32>, bool)>, settings: &Settings) -> head::Trained {
    let (xs, ys): (Vec<Vec<f32>>, Vec<&[usize]>) = examples
        .map(|(x, y)| (x, if y { &[0usize][..] } else { &[][..] }))
        .unzip();
    let xr: Vec<&[f32]> = xs.iter().map(|x| x.as_slice()).collect();
    head::train(&xr, &ys, 1, settings)
}

/// The labelled messages blind readers judged, per training file (files in `silent`'s
/// order, then messages: answered ones, then those labelled `none`): each with whether the
/// readers said it asks them to decide something. Files are matched by name (`sets` may
/// have dropped some, e.g. with `--cached-only`).
fn read_messages(
    sets: &[(String, Vec<Case>)],
    silent: &[(String, Vec<String>)],
    decisions: &HashMap<String, bool>,
) -> Vec<(String, Vec<(String, bool)>)> {
    silent
        .iter()
        .map(|(name, quiet)| {
            let answered = sets
                .iter()
                .filter(|(n, _)| n == name)
                .flat_map(|(_, cases)| cases.iter().map(|c| &c.message));
            let messages = answered
                .chain(quiet)
                .filter_map(|m| decisions.get(m).map(|&d| (m.clone(), d)))
                .collect();
            (name.clone(), messages)
        })
        .filter(|(_, m): &(String, Vec<_>)| !m.is_empty())
        .collect()
}

/// Fits the asks output on every file's read messages but `left_out`'s: those the readers
/// said ask for a decision positive.
fn train_asks(
    read: &[(String, Vec<(String, bool)>)],
    left_out: Option<&str>,
    feats: &dyn Fn(&String) -> Vec<f32>,
    settings: &Settings,
) -> head::Trained {
    fit_one(
        read.iter()
            .filter(|(n, _)| Some(n.as_str()) != left_out)
            .flat_map(|(_, m)| m.iter().map(|(m, asks)| (feats(m), *asks))),
        settings,
    )
}

/// The thresholds `--asks` reports.
const ASKS_AT: [f32; 5] = [0.3, 0.4, 0.5, 0.6, 0.7];

/// Leave-one-set-out for the asks output: trained on every other read set, then counted on
/// this one's messages (how many of the readers' decisions it finds, how many others it
/// calls one), beside the act labels' reading (`Acts::decision`).
fn cross_validate_asks(
    read: &[(String, Vec<(String, bool)>)],
    settings: &Settings,
    feats: &dyn Fn(&String) -> Vec<f32>,
    by_acts: &dyn Fn(&String) -> bool,
    json_out: bool,
) -> CliResult {
    let k = ASKS_AT.len();
    let (mut pos, mut neg, mut acts_tp, mut acts_fp) = (0usize, 0usize, 0usize, 0usize);
    let (mut found, mut false_) = (vec![0usize; k], vec![0usize; k]);
    let mut rows = Vec::new();
    for (held, messages) in read {
        let t = train_asks(read, Some(held), feats, settings);
        let (mut p, mut a_tp, mut a_fp) = (0usize, 0usize, 0usize);
        let (mut f, mut x) = (vec![0usize; k], vec![0usize; k]);
        for (m, asks) in messages {
            let prob = t.probabilities(&feats(m))[0];
            p += usize::from(*asks);
            // Counted as found where the readers said it asks, as false otherwise.
            let (learned, acts) = if *asks {
                (&mut f, &mut a_tp)
            } else {
                (&mut x, &mut a_fp)
            };
            *acts += usize::from(by_acts(m));
            for (i, &at) in ASKS_AT.iter().enumerate() {
                learned[i] += usize::from(prob >= at);
            }
        }
        let n = messages.len();
        pos += p;
        neg += n - p;
        acts_tp += a_tp;
        acts_fp += a_fp;
        for i in 0..k {
            found[i] += f[i];
            false_[i] += x[i];
        }
        if !json_out {
            println!(
                "{held:28} asks {p:3} of {n:3} | act labels find {a_tp:3} (false {a_fp:3}) | \
                 learned {f:?} (false {x:?})"
            );
        }
        rows.push(
            json!({"set": held, "messages": n, "asks": p, "acts_found": a_tp,
                         "acts_false": a_fp, "learned_found": f, "learned_false": x}),
        );
    }
    if json_out {
        let summary: Vec<_> = ASKS_AT
            .iter()
            .enumerate()
            .map(|(i, at)| json!({"at": at, "found": found[i], "false": false_[i]}))
            .collect();
        println!(
            "{}",
            json!({"sets": rows, "asks": pos, "others": neg, "acts_found": acts_tp,
                   "acts_false": acts_fp, "thresholds": summary})
        );
    } else {
        println!(
            "pooled: {pos} messages ask for a decision, the act labels find {acts_tp} ({:.3}); \
             {neg} others, the act labels call {acts_fp} a decision ({:.3})",
            share(acts_tp, pos),
            share(acts_fp, neg)
        );
        for (i, at) in ASKS_AT.iter().enumerate() {
            println!(
                "  at {at}: learned finds {} ({:.3}), false {} ({:.3}); agreement {:.3}",
                found[i],
                share(found[i], pos),
                false_[i],
                share(false_[i], neg),
                share(found[i] + neg - false_[i], pos + neg)
            );
        }
    }
    Ok(())
}

/// The catalog chips readers judged ([`head::accept_examples`]), each message's context read
/// as the drafter reads it: by the `asks` output at the drafter's own `asks_at`.
fn accept_examples(
    chips: &[head::ChipVerdict],
    cat: &Catalog,
    acceptance: &ReaderAcceptance,
    asks: &head::Trained,
    cache: &FeatureCache,
) -> Vec<head::AcceptExample> {
    let at = DrafterConfig::default().asks_at;
    head::accept_examples(chips, cat, acceptance, &|m: &String| {
        cache.get(m).map(|x| asks.probabilities(x)[0] >= at)
    })
}

/// Five folds by read set (every fifth set, sorted by name): the acceptance outputs trained
/// on four, then each held-out chip's probability of being sent from the table's rate alone
/// and moved by the outputs; reports the AUC and log-loss of both, pooled.
fn cross_validate_acceptance(
    examples: &[head::AcceptExample],
    cat: &Catalog,
    settings: &Settings,
    feats: &dyn Fn(&String) -> Vec<f32>,
    json_out: bool,
) -> CliResult {
    let mut sets: Vec<&str> = examples.iter().map(|e| e.set.as_str()).collect();
    sets.sort_unstable();
    sets.dedup();
    let (mut table, mut learned, mut sent) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..5 {
        let held: Vec<&str> = sets.iter().skip(k).step_by(5).copied().collect();
        let outputs =
            head::train_acceptance(examples, Some(&held), cat.clusters.len(), settings, feats);
        for e in examples.iter().filter(|e| held.contains(&e.set.as_str())) {
            let shift = outputs[e.cluster]
                .as_ref()
                .map_or(0.0, |t| t.logits(&feats(&e.message))[0]);
            table.push(sigmoid(e.offset));
            learned.push(sigmoid(e.offset + shift));
            sent.push(e.sent);
        }
    }
    let (auc_t, auc_l) = (head::auc(&table, &sent), head::auc(&learned, &sent));
    let (ll_t, ll_l) = (
        head::log_loss(&table, &sent),
        head::log_loss(&learned, &sent),
    );
    if json_out {
        println!(
            "{}",
            json!({"chips": sent.len(), "sets": sets.len(), "table_auc": auc_t,
                   "learned_auc": auc_l, "table_log_loss": ll_t, "learned_log_loss": ll_l})
        );
    } else {
        println!(
            "{} chips of {} read sets, 5 folds by set: the table's rates AUC {auc_t:.3} \
             (log-loss {ll_t:.3}); with the acceptance outputs AUC {auc_l:.3} (log-loss \
             {ll_l:.3})",
            sent.len(),
            sets.len()
        );
    }
    Ok(())
}

/// `a` of `b` as a share (0 when `b` is 0): the cross-validations' reports.
fn share(a: usize, b: usize) -> f64 {
    a as f64 / b.max(1) as f64
}

/// The silence thresholds `--silence` reports.
const SILENCE_AT: [f32; 5] = [0.5, 0.6, 0.7, 0.8, 0.9];

/// Leave-one-set-out for the silence output: trained on every other file's messages (those
/// labelled `none` positive), then counted on this one: of its `none` messages, how many the
/// rules' gate silences and how many it or the learned output does; of the others, how many
/// the learned output alone would silence (false silences).
fn cross_validate_silence(
    sets: &[(String, Vec<Case>)],
    only: &[String],
    silent: &[(String, Vec<String>)],
    cat: &Catalog,
    settings: &Settings,
    feats: &dyn Fn(&String) -> Vec<f32>,
    json_out: bool,
) -> CliResult {
    let gated = |m: &str| {
        matches!(
            pocketlm::internals::reply::gate::gate(&[Message::incoming(m)], cat),
            Ok(Some(_))
        )
    };
    let k = SILENCE_AT.len();
    // Pooled over the folds: none messages, caught by the rules, caught by either per
    // threshold; other messages, silenced by the rules, silenced by the learned output alone.
    let (mut n_none, mut rules_none, mut either_none) = (0usize, 0usize, vec![0usize; k]);
    let (mut n_other, mut rules_other, mut learned_other) = (0usize, 0usize, vec![0usize; k]);
    let mut rows = Vec::new();
    for (held, _) in sets.iter().filter(|(n, _)| is_fold(n, only)) {
        let t = train_silence(sets, silent, Some(held), feats, settings);
        // Per held-out message, once: whether the rules silence it, and the output's probability.
        let read = |m: &String| (gated(m), t.probabilities(&feats(m))[0]);
        let none: Vec<(bool, f32)> = silent
            .iter()
            .find(|(n, _)| n == held)
            .map_or(Vec::new(), |(_, m)| m.iter().map(read).collect());
        let others: Vec<(bool, f32)> = sets
            .iter()
            .find(|(n, _)| n == held)
            .map(|(_, c)| c.iter().map(|c| read(&c.message)).collect())
            .unwrap_or_default();
        let mut row = json!({"set": held, "none": none.len(), "others": others.len()});
        let mut line = format!("{held:28} none {:3}", none.len());
        let r_none = none.iter().filter(|(g, _)| *g).count();
        n_none += none.len();
        rules_none += r_none;
        let _ = write!(line, " rules {r_none:3} |");
        for (i, &at) in SILENCE_AT.iter().enumerate() {
            let e = none.iter().filter(|&&(g, p)| g || p >= at).count();
            either_none[i] += e;
            row[format!("either_{at}")] = json!(e);
            let _ = write!(line, " {e:3}");
        }
        let r_other = others.iter().filter(|(g, _)| *g).count();
        n_other += others.len();
        rules_other += r_other;
        let _ = write!(line, " || others {:3} rules {r_other:2} |", others.len());
        for (i, &at) in SILENCE_AT.iter().enumerate() {
            let l = others.iter().filter(|&&(g, p)| !g && p >= at).count();
            learned_other[i] += l;
            row[format!("learned_false_{at}")] = json!(l);
            let _ = write!(line, " {l:2}");
        }
        if !json_out {
            println!("{line}");
        }
        rows.push(row);
    }
    let summary: Vec<_> = SILENCE_AT
        .iter()
        .enumerate()
        .map(|(i, at)| {
            json!({"at": at, "none_caught": either_none[i], "false_silences": learned_other[i]})
        })
        .collect();
    if json_out {
        println!(
            "{}",
            json!({"sets": rows, "none": n_none, "rules_caught": rules_none, "others": n_other,
                   "rules_false": rules_other, "thresholds": summary})
        );
    } else {
        println!(
            "pooled: {n_none} none, the rules catch {rules_none}; {n_other} others, the rules \
             silence {rules_other}"
        );
        for (i, at) in SILENCE_AT.iter().enumerate() {
            println!(
                "  at {at}: none caught by rules or learned {} ({:.3}); others silenced by \
                 the learned output alone {} ({:.4})",
                either_none[i],
                share(either_none[i], n_none),
                learned_other[i],
                share(learned_other[i], n_other)
            );
        }
    }
    Ok(())
}

/// Whether a labelled case asks for a decision: its acceptable replies hold a yes and a no or
/// a maybe (the same test as `eval-reply`'s `decision_choice`).
fn asks_decision(c: &Case, cat: &Catalog) -> bool {
    use pocketlm::Stance;
    let has = |f: &dyn Fn(Stance) -> bool| c.clusters.iter().any(|&k| f(cat.clusters[k].stance));
    has(&|s| s == Stance::Yes) && has(&|s| s.is_no_or_maybe())
}

/// Fits the decision output on every file's cases but `left_out`'s: those asking for a
/// decision positive, the others negative (in file order).
fn train_decision(
    sets: &[(String, Vec<Case>)],
    left_out: Option<&str>,
    cat: &Catalog,
    feats: &dyn Fn(&Case) -> Vec<f32>,
    settings: &Settings,
) -> head::Trained {
    let examples = sets
        .iter()
        .filter(|(n, _)| Some(n.as_str()) != left_out)
        .flat_map(|(_, cases)| cases.iter())
        .map(|c| (feats(c), asks_decision(c, cat)));
    fit_one(examples, settings)
}

/// The decision thresholds `--decision` reports.
const DECISION_AT: [f32; 5] = [0.3, 0.4, 0.5, 0.6, 0.7];

/// Leave-one-set-out for the decision output: per left-out set, of the cases asking for a
/// decision how many the act rules find (`Acts::decision`), the learned output finds at each
/// threshold, and either finds; of the others, how many each wrongly calls a decision.
fn cross_validate_decision(
    sets: &[(String, Vec<Case>)],
    only: &[String],
    cat: &Catalog,
    settings: &Settings,
    feats: &dyn Fn(&Case) -> Vec<f32>,
    acts_of: &dyn Fn(&String) -> Result<Acts, String>,
    json_out: bool,
) -> CliResult {
    let k = DECISION_AT.len();
    let (mut pos, mut neg, mut rule_tp, mut rule_fp) = (0usize, 0usize, 0usize, 0usize);
    let (mut learned_tp, mut learned_fp) = (vec![0usize; k], vec![0usize; k]);
    let (mut either_tp, mut either_fp) = (vec![0usize; k], vec![0usize; k]);
    let mut rows = Vec::new();
    for (held, cases) in sets.iter().filter(|(n, _)| is_fold(n, only)) {
        let t = train_decision(sets, Some(held), cat, feats, settings);
        let mut row = json!({"set": held});
        let (mut p, mut r_tp, mut r_fp) = (0usize, 0usize, 0usize);
        let (mut l_tp, mut l_fp) = (vec![0usize; k], vec![0usize; k]);
        for c in cases {
            let label = asks_decision(c, cat);
            let rule = acts_of(&c.message)?.decision();
            let prob = t.probabilities(&feats(c))[0];
            p += usize::from(label);
            if label {
                r_tp += usize::from(rule);
            } else {
                r_fp += usize::from(rule);
            }
            for (i, &at) in DECISION_AT.iter().enumerate() {
                let learned = prob >= at;
                if label {
                    l_tp[i] += usize::from(learned);
                    either_tp[i] += usize::from(learned || rule);
                } else {
                    l_fp[i] += usize::from(learned);
                    either_fp[i] += usize::from(learned || rule);
                }
            }
        }
        pos += p;
        neg += cases.len() - p;
        rule_tp += r_tp;
        rule_fp += r_fp;
        for i in 0..k {
            learned_tp[i] += l_tp[i];
            learned_fp[i] += l_fp[i];
        }
        row["decisions"] = json!(p);
        row["others"] = json!(cases.len() - p);
        row["rules_found"] = json!(r_tp);
        row["rules_false"] = json!(r_fp);
        row["learned_found"] = json!(l_tp);
        row["learned_false"] = json!(l_fp);
        if !json_out {
            println!(
                "{held:28} decisions {p:3} rules {r_tp:3} (false {r_fp:3}) | learned {l_tp:?} \
                 (false {l_fp:?})"
            );
        }
        rows.push(row);
    }
    let summary: Vec<_> = DECISION_AT
        .iter()
        .enumerate()
        .map(|(i, at)| {
            json!({"at": at, "learned_found": learned_tp[i], "learned_false": learned_fp[i],
                   "either_found": either_tp[i], "either_false": either_fp[i]})
        })
        .collect();
    if json_out {
        println!(
            "{}",
            json!({"sets": rows, "decisions": pos, "others": neg, "rules_found": rule_tp,
                   "rules_false": rule_fp, "thresholds": summary})
        );
    } else {
        println!(
            "pooled: {pos} decisions, the rules find {rule_tp} ({:.3}); {neg} others, the rules \
             call {rule_fp} a decision ({:.3})",
            share(rule_tp, pos),
            share(rule_fp, neg)
        );
        for (i, at) in DECISION_AT.iter().enumerate() {
            println!(
                "  at {at}: learned finds {} ({:.3}), false {} ({:.3}); rules or learned find \
                 {} ({:.3}), false {} ({:.3})",
                learned_tp[i],
                share(learned_tp[i], pos),
                learned_fp[i],
                share(learned_fp[i], neg),
                either_tp[i],
                share(either_tp[i], pos),
                either_fp[i],
                share(either_fp[i], neg)
            );
        }
    }
    Ok(())
}
