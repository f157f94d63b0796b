//! Labelled evaluation of drafts: each case is a message and the set of catalog clusters
//! whose replies are acceptable answers to it (or `none`: no suggestion is the right answer,
//! a sensitive topic). A reply is acceptable when its text is a catalog response (or has
//! the same words) of an acceptable cluster; generated text with no catalog equivalent is
//! not (the blind read judges those).
//!
//! File format: `message<TAB>cluster cluster ...`, `#` comments and empty lines skipped.
//!
//! The harness of `pocketlm eval-reply`. It lives in the CLI, not the core: it is a measuring
//! tool, not something an app ships.

use pocketlm::internals::reply::Catalog;
use pocketlm::Draft;

#[cfg(test)]
mod tests;

/// A message with its acceptable clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledCase {
    /// The incoming message.
    pub message: String,
    /// Cluster names; empty when `none` (no suggestion expected).
    pub acceptable: Vec<String>,
    /// 1-based line in the file.
    pub line: usize,
}

impl LabelledCase {
    /// No suggestion is the right answer.
    pub fn expects_none(&self) -> bool {
        self.acceptable.is_empty()
    }
}

/// Parses a labelled case file; every label must name a cluster of `cat` (or be `none`).
pub fn parse_cases(text: &str, cat: &Catalog) -> Result<Vec<LabelledCase>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (message, labels) = line
            .split_once('\t')
            .ok_or_else(|| format!("line {}: expected `message<TAB>clusters`", i + 1))?;
        let labels: Vec<&str> = labels.split_whitespace().collect();
        if labels.is_empty() {
            return Err(format!("line {}: no labels", i + 1));
        }
        let mut acceptable = Vec::new();
        for l in labels {
            if l == "none" {
                continue;
            }
            if cat.cluster_by_name(l).is_none() {
                return Err(format!("line {}: unknown cluster {l:?}", i + 1));
            }
            acceptable.push(l.to_owned());
        }
        out.push(LabelledCase {
            message: message.trim().to_owned(),
            acceptable,
            line: i + 1,
        });
    }
    Ok(out)
}

/// How one draft fares against its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseScore {
    /// Per reply: acceptable or not.
    pub acceptable: Vec<bool>,
    /// At least one acceptable reply (or, for `none`, no suggestion).
    pub covered: bool,
    /// `n` replies, all acceptable (or, for `none`, no suggestion).
    pub all_acceptable: bool,
    /// Distinct stances among the replies (generated text without one counts as its own).
    pub stances: usize,
}

/// The labels under which a reply naming one of the message's options (an option chip,
/// [`Draft::options`]) is acceptable: where leaving the choice to the sender ("Either is
/// fine!") or naming a day or a place is, picking one of the options named is too. The
/// labelled sets predate option chips; a fact question labelled only `check`/`unsure`
/// counts them as wrong, which undercounts.
pub const OPTION_CLUSTERS: &[&str] = &["either", "time_answer", "place_answer"];

/// Scores one draft (`n`: the number of suggestions asked for).
pub fn score_case(draft: &Draft, case: &LabelledCase, cat: &Catalog, n: usize) -> CaseScore {
    if case.expects_none() {
        let ok = draft.replies.is_empty();
        return CaseScore {
            acceptable: vec![false; draft.replies.len()],
            covered: ok,
            all_acceptable: ok,
            stances: 0,
        };
    }
    let acceptable: Vec<bool> = draft
        .replies
        .iter()
        .map(|r| {
            if draft.options.contains(&r.text) {
                return case
                    .acceptable
                    .iter()
                    .any(|c| OPTION_CLUSTERS.contains(&c.as_str()));
            }
            cat.cluster_of(&r.text)
                .is_some_and(|c| case.acceptable.contains(&cat.clusters[c].name))
        })
        .collect();
    let mut stances: Vec<String> = draft
        .replies
        .iter()
        .map(|r| match cat.cluster_of(&r.text) {
            Some(c) => cat.clusters[c].stance.as_str().to_owned(),
            None => format!("generated:{}", r.text),
        })
        .collect();
    stances.sort();
    stances.dedup();
    CaseScore {
        covered: acceptable.iter().any(|&a| a),
        all_acceptable: acceptable.len() >= n && acceptable.iter().all(|&a| a),
        acceptable,
        stances: stances.len(),
    }
}

/// Whether a labelled case asks for a decision or a yes/no fact: its acceptable clusters
/// include one of stance `yes` and one of stance `no` or `maybe` (the catalog's stances:
/// data, not a list of clusters).
pub fn asks_decision(case: &LabelledCase, cat: &Catalog) -> bool {
    use pocketlm::Stance;
    let stances: Vec<Stance> = case
        .acceptable
        .iter()
        .filter_map(|n| cat.cluster_by_name(n))
        .map(|c| cat.clusters[c].stance)
        .collect();
    stances.contains(&Stance::Yes) && stances.iter().any(|s| s.is_no_or_maybe())
}

/// Whether the replies offer both directions: one of stance `yes` and one of stance `no` or
/// `maybe` (by the catalog cluster of each reply's text; generated text of no cluster
/// counts for neither).
pub fn offers_both(draft: &Draft, cat: &Catalog) -> bool {
    use pocketlm::Stance;
    let stances: Vec<Stance> = draft
        .replies
        .iter()
        .filter_map(|r| cat.cluster_of(&r.text))
        .map(|c| cat.clusters[c].stance)
        .collect();
    stances.contains(&Stance::Yes) && stances.iter().any(|s| s.is_no_or_maybe())
}

/// The aggregate of a labelled evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Cases scored.
    pub cases: usize,
    /// Share of cases with at least one acceptable reply.
    pub coverage3: f64,
    /// Share of cases whose `n` replies are all acceptable.
    pub all3_acceptable: f64,
    /// Mean distinct stances per case with replies.
    pub distinct_stances: f64,
}

/// The aggregate of per-case scores.
pub fn summarize(scores: &[CaseScore]) -> Summary {
    let n = scores.len().max(1) as f64;
    let with: Vec<&CaseScore> = scores.iter().filter(|s| !s.acceptable.is_empty()).collect();
    Summary {
        cases: scores.len(),
        coverage3: scores.iter().filter(|s| s.covered).count() as f64 / n,
        all3_acceptable: scores.iter().filter(|s| s.all_acceptable).count() as f64 / n,
        distinct_stances: with.iter().map(|s| s.stances as f64).sum::<f64>()
            / with.len().max(1) as f64,
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;
    use pocketlm::Reply;

    fn draft(texts: &[&str]) -> Draft {
        Draft {
            replies: texts
                .iter()
                .map(|t| Reply {
                    text: (*t).into(),
                    score: 0.5,
                })
                .collect(),
            no_suggestion: None,
            candidates: Vec::new(),
            acts: Vec::new(),
            silence: None,
            asks: None,
            prompt_tokens: 0,
            evaluated_tokens: 0,
            options: Vec::new(),
            steps: 0,
            rows: 0,
            ms: 0.0,
        }
    }

    #[test]
    fn labels_resolve_and_scores_can_fail() {
        let cat = Catalog::builtin().unwrap();
        assert!(parse_cases("Hi\tgreet bogus\n", cat).is_err());
        assert!(parse_cases("Hi greet\n", cat).is_err());
        let cases =
            parse_cases("# c\nThanks!\twelcome no_worries\nMy dog died\tnone\n", cat).unwrap();
        assert_eq!(cases.len(), 2);
        let s = score_case(
            &draft(&["You're welcome!", "Anytime!", "Hi!"]),
            &cases[0],
            cat,
            3,
        );
        assert_eq!(s.acceptable, vec![true, true, false]);
        assert!(s.covered && !s.all_acceptable);
        let s = score_case(
            &draft(&["You're welcome!", "No worries!", "my pleasure"]),
            &cases[0],
            cat,
            3,
        );
        assert!(s.all_acceptable, "{s:?}");
        let s = score_case(&draft(&["Warmest welcome!"]), &cases[0], cat, 3);
        assert!(!s.covered);
        assert!(score_case(&draft(&[]), &cases[1], cat, 3).covered);
        assert!(!score_case(&draft(&["Oh no!"]), &cases[1], cat, 3).covered);
        let sum = summarize(&[
            score_case(
                &draft(&["You're welcome!", "Anytime!", "Hi!"]),
                &cases[0],
                cat,
                3,
            ),
            score_case(&draft(&["Hi!"]), &cases[0], cat, 3),
        ]);
        assert_eq!(sum.coverage3, 0.5);
        assert_eq!(sum.all3_acceptable, 0.0);
    }
}
