//! What blind readers send, per catalog reply and per context: the share of a reply's chips
//! that readers who had never seen the catalog would send as-is, over every blind read the
//! project has (`scripts/reply-read/acceptance.py` writes `reader_acceptance.tsv` from
//! `tests/fixtures/reply-read/`), apart for messages that ask for a decision and for the
//! rest. Labellers, who see the catalog, call far more acceptable than readers send, and
//! replies of one cluster differ: asked for a decision, readers sent "Let me check." 0.73 of
//! the times they saw it, "Sorry, I can't." 0.54, "I'd rather not." 0.14. The drafter ranks
//! its candidates by score × rate^`DrafterConfig::acceptance_exponent`, and a decision's
//! missing direction by score × rate^`DrafterConfig::direction_acceptance`. Where the
//! reading head has acceptance outputs, [`InContext`] moves each cluster's rates by what the
//! head reads of the message itself.

use std::collections::HashMap;

use super::catalog::{Catalog, CatalogError};
use super::cluster_prior::{logit, sigmoid};

/// The table built into the library (packed by `build.rs`).
pub(crate) const BUILTIN: super::packed::Packed = super::packed::packed!("reader_acceptance.tsv");

/// Each catalog reply's reader acceptance, in (0, 1], asked for a decision or not.
#[derive(Debug, Clone)]
pub struct ReaderAcceptance {
    /// Reply text → (rate in a decision, rate elsewhere).
    replies: HashMap<String, (f32, f32)>,
    /// Cluster → rate (for generated text equal to no catalog reply but given a cluster).
    clusters: HashMap<String, f32>,
    /// The rate of text the model wrote itself, equal to no catalog reply (readers sent
    /// about one in eight: "That's a great story" to a power cut).
    generated: f32,
}

impl ReaderAcceptance {
    /// Parses a table against `cat`: `#` comments, `mean<TAB>rate`, `generated<TAB>rate`, a
    /// `cluster<TAB>NAME<TAB>rate` line for every cluster of the catalog and a
    /// `reply<TAB>TEXT<TAB>rate in a decision<TAB>rate elsewhere` line for every catalog
    /// reply (further columns are counts, for reading). Errors name the line (1-based).
    pub fn parse(text: &str, cat: &Catalog) -> Result<ReaderAcceptance, CatalogError> {
        let mut mean = None;
        let mut generated = None;
        let mut clusters = HashMap::new();
        let mut replies = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let err = |message: String| CatalogError {
                line: i + 1,
                message: format!("reader_acceptance: {message}"),
            };
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            let rate = |k: usize| {
                fields
                    .get(k)
                    .and_then(|v| v.trim().parse::<f32>().ok())
                    .filter(|r| *r > 0.0 && *r <= 1.0)
                    .ok_or_else(|| {
                        err(format!("`{line}`: column {} needs a rate in (0, 1]", k + 1))
                    })
            };
            match fields[0] {
                "mean" => mean = Some(rate(1)?),
                "generated" => generated = Some(rate(1)?),
                "cluster" => {
                    let name = fields.get(1).copied().unwrap_or_default();
                    if cat.cluster_by_name(name).is_none() {
                        return Err(err(format!("`{name}` is not a cluster of the catalog")));
                    }
                    if clusters.insert(name.to_owned(), rate(2)?).is_some() {
                        return Err(err(format!("cluster `{name}` twice")));
                    }
                }
                "reply" => {
                    let text = fields.get(1).copied().unwrap_or_default();
                    if !cat.responses.iter().any(|r| r.text == text) {
                        return Err(err(format!("`{text}` is not a reply of the catalog")));
                    }
                    if replies
                        .insert(text.to_owned(), (rate(2)?, rate(3)?))
                        .is_some()
                    {
                        return Err(err(format!("reply `{text}` twice")));
                    }
                }
                other => return Err(err(format!("unknown line kind `{other}`"))),
            }
        }
        let missing: Vec<&str> = cat
            .clusters
            .iter()
            .map(|c| c.name.as_str())
            .filter(|n| !clusters.contains_key(*n))
            .chain(
                cat.responses
                    .iter()
                    .map(|r| r.text.as_str())
                    .filter(|t| !replies.contains_key(*t)),
            )
            .collect();
        if !missing.is_empty() {
            return Err(CatalogError {
                line: 0,
                message: format!(
                    "reader_acceptance: no rate for {} (regenerate it with scripts/reply-read/acceptance.py)",
                    missing.join(", ")
                ),
            });
        }
        let required = |value: Option<f32>, kind: &str| {
            value.ok_or_else(|| CatalogError {
                line: 0,
                message: format!("reader_acceptance: no `{kind}` line"),
            })
        };
        // The mean is what the rates are shrunk toward: checked, not needed to look one up.
        required(mean, "mean")?;
        Ok(ReaderAcceptance {
            replies,
            clusters,
            generated: required(generated, "generated")?,
        })
    }

    /// Whether `text` is a catalog reply the table rates.
    pub fn has_reply(&self, text: &str) -> bool {
        self.replies.contains_key(text)
    }

    /// The acceptance of reply `text` of `cluster` where a decision is asked or not: the
    /// catalog reply's own rate, else its cluster's, else (text the model wrote) the
    /// generated rate.
    pub fn rate(&self, text: &str, cluster: Option<&str>, decision: bool) -> f32 {
        match self.replies.get(text) {
            Some(&(d, o)) => {
                if decision {
                    d
                } else {
                    o
                }
            }
            None => cluster
                .and_then(|c| self.clusters.get(c))
                .copied()
                .unwrap_or(self.generated),
        }
    }
}

/// What readers send in one message's context: the table's rates where a decision is
/// asked or not (`asked`), each cluster's moved on the logit scale by the reading head's
/// acceptance output for the message (`shifts`, indexed like the catalog's clusters, ×
/// `DrafterConfig::learned_acceptance`; empty: none).
#[derive(Debug, Clone, Copy)]
pub struct InContext<'a> {
    /// The rates per reply, cluster and decision context.
    pub table: &'a ReaderAcceptance,
    /// Names the clusters `shifts` is indexed by.
    pub catalog: &'a Catalog,
    /// The message asks the reader to decide something, as readers would judge it.
    pub asked: bool,
    /// Per cluster, the log-odds shift for this message (empty: none).
    pub shifts: &'a [f32],
}

impl InContext<'_> {
    /// The acceptance of reply `text` of `cluster` (`None`: text the model wrote) here.
    pub fn rate(&self, text: &str, cluster: Option<&str>) -> f32 {
        let rate = self.table.rate(text, cluster, self.asked);
        let shift = cluster
            .and_then(|c| self.catalog.cluster_by_name(c))
            .and_then(|c| self.shifts.get(c))
            .copied()
            .unwrap_or(0.0);
        if shift == 0.0 {
            return rate;
        }
        // Rates are in (0, 1]: a rate of 1 stays 1 only without a shift.
        sigmoid(logit(rate.clamp(1e-4, 1.0 - 1e-4)) + shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shift_moves_a_cluster_rate_on_the_logit_scale() {
        let cat = Catalog::builtin().unwrap();
        let table = cat.reader_acceptance.as_ref().unwrap();
        let r = &cat.responses[0];
        let (c, name) = (r.cluster, cat.clusters[r.cluster].name.as_str());
        let base = table.rate(&r.text, Some(name), true);
        let mut shifts = vec![0.0; cat.clusters.len()];
        let ctx = |shifts: &[f32]| {
            InContext {
                table,
                catalog: cat,
                asked: true,
                shifts,
            }
            .rate(&r.text, Some(name))
        };
        assert_eq!(ctx(&shifts), base, "no shift");
        assert_eq!(ctx(&[]), base, "no outputs");
        shifts[c] = 1.0;
        let up = ctx(&shifts);
        assert!(
            (logit(up) - logit(base) - 1.0).abs() < 1e-3,
            "{base} -> {up}"
        );
        shifts[c] = -2.0;
        assert!(ctx(&shifts) < base);
        // Generated text has no cluster: never shifted.
        let gen = InContext {
            table,
            catalog: cat,
            asked: true,
            shifts: &shifts,
        };
        assert_eq!(gen.rate("not a reply", None), table.generated);
    }

    #[test]
    fn the_builtin_table_rates_every_reply_and_reads_the_context() {
        let cat = Catalog::builtin().unwrap();
        let acc = cat
            .reader_acceptance
            .as_ref()
            .expect("the builtin catalog has one");
        for r in &cat.responses {
            for decision in [false, true] {
                let x = acc.rate(&r.text, None, decision);
                assert!(x > 0.0 && x <= 1.0, "{}: {x}", r.text);
            }
        }
        // What the reads say of a decision's second directions.
        assert!(acc.rate("Let me check.", None, true) > acc.rate("I'd rather not.", None, true));
        // Text the model wrote is rated as readers sent such text: far below the catalog's.
        assert_eq!(acc.rate("not a reply", None, true), acc.generated);
        let clusters = acc.clusters.values().sum::<f32>() / acc.clusters.len() as f32;
        assert!(
            acc.generated < clusters / 2.0,
            "{} {clusters}",
            acc.generated
        );
    }

    #[test]
    fn bad_tables_are_errors_naming_the_line() {
        let cat = Catalog::builtin_rules().unwrap();
        let clusters: String = cat
            .clusters
            .iter()
            .map(|c| format!("cluster\t{}\t0.5\n", c.name))
            .collect();
        let mut seen = std::collections::HashSet::new();
        let replies: String = cat
            .responses
            .iter()
            .filter(|r| seen.insert(r.text.clone()))
            .map(|r| format!("reply\t{}\t0.5\t0.4\t1\t2\t3\t4\n", r.text))
            .collect();
        let good = format!("mean\t0.5\ngenerated\t0.1\t1\t10\n{clusters}{replies}");
        assert!(ReaderAcceptance::parse(&good, cat).is_ok());
        let n = good.lines().count();
        for (bad, line) in [
            (
                format!("mean\t0.5\ncluster\tnot_a_cluster\t0.5\n{clusters}{replies}"),
                2,
            ),
            (format!("mean\t1.5\n{clusters}{replies}"), 1),
            (
                format!("mean\t0.5\ncluster\tyes\tNaN\n{clusters}{replies}"),
                2,
            ),
            (
                format!("mean\t0.5\nreply\tNo such reply.\t0.5\t0.5\n{clusters}{replies}"),
                2,
            ),
            (format!("{good}reply\tSure!\t0.5\t0.5\n"), n + 1),
            (format!("{good}reply\tSure!\t0.5\n"), n + 1),
            (format!("{good}weird\tx\n"), n + 1),
        ] {
            let e = ReaderAcceptance::parse(&bad, cat).unwrap_err();
            assert_eq!(e.line, line, "{e:?}");
        }
        assert!(
            ReaderAcceptance::parse(&format!("{clusters}{replies}"), cat).is_err(),
            "no mean"
        );
        let e =
            ReaderAcceptance::parse(&format!("mean\t0.5\n{clusters}{replies}"), cat).unwrap_err();
        assert!(e.message.contains("`generated`"), "{e:?}");
        assert!(
            ReaderAcceptance::parse(&format!("generated\t0\n{good}"), cat).is_err(),
            "a rate of 0"
        );
        assert!(
            ReaderAcceptance::parse(&format!("mean\t0.5\n{clusters}"), cat).is_err(),
            "replies missing"
        );
    }
}
