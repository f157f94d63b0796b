//! Training the drafter's cluster prior (`rust/pocketlm/src/reply/cluster_prior.tsv`) from
//! the labelled reply cases: one logistic regression per catalog cluster over the binary,
//! L2-normalized features of `pocketlm::internals::reply::cluster_prior::features`, fitted by
//! FTRL-Proximal (McMahan et al., KDD 2013: per-weight step sizes, an L1 penalty that keeps
//! most weights exactly zero, so the table stays small) over a fixed order of the cases, so
//! a run is reproducible to the last bit. The
//! harness of `pocketlm train-reply-prior`; like `eval-reply` it is a measuring and build
//! tool, not something an app ships.
//!
//! The data: every `tests/fixtures/reply-eval-*.txt` except `reply-eval-heldout.txt` (never
//! read: it measures the drafter), and the `reply-train-*.txt` sets written for training
//! only; lines labelled `none` left out (the gate answers those).

use crate::reply_eval::{parse_cases, LabelledCase};
use pocketlm::internals::reply::acts::Acts;
use pocketlm::internals::reply::cluster_prior::{features, sigmoid};
use pocketlm::internals::reply::spelling::spelled_out;
use pocketlm::internals::reply::Catalog;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// The case file never trained on.
pub const HELD_OUT: &str = "reply-eval-heldout.txt";

/// How the prior is trained. Chosen by leave-one-set-out cross-validation over the blind
/// sets (`pocketlm train-reply-prior --cross-validate`; docs/reply.md, "The cluster prior").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Passes over the cases.
    pub epochs: usize,
    /// FTRL's step size (alpha; beta is 1).
    pub rate: f32,
    /// L1 penalty: a weight whose accumulated gradient stays below it is zero.
    pub l1: f32,
    /// L2 penalty.
    pub l2: f32,
    /// Features of fewer cases than this are left out (names, one-off typos).
    pub min_cases: usize,
    /// Weights smaller in size are left out of the table.
    pub prune: f32,
    /// Whether the messages' act labels (`tests/fixtures/reply-acts.tsv`) are features too:
    /// as the drafter reads acts ([`DrafterConfig::act_rules`](pocketlm::DrafterConfig::act_rules)).
    pub act_features: bool,
}

/// The settings the builtin table is trained with.
pub const SETTINGS: Settings = Settings {
    epochs: 30,
    rate: 2.0,
    l1: 5.0,
    l2: 1.0,
    min_cases: 2,
    prune: 0.001,
    act_features: true,
};

/// A labelled case as the trainer sees it: its features and its acceptable clusters.
#[derive(Debug, Clone)]
pub struct Example {
    pub features: Vec<String>,
    pub clusters: Vec<usize>,
}

/// The examples of `cases` (those with acceptable clusters); with `acts`, each message's
/// act labels are features too (a message without labels has none).
pub fn examples(
    cases: &[LabelledCase],
    cat: &Catalog,
    acts: Option<&HashMap<String, Acts>>,
) -> Vec<Example> {
    cases
        .iter()
        .filter(|c| !c.expects_none())
        .map(|c| {
            let read = spelled_out(&c.message, cat);
            let a = acts
                .and_then(|l| l.get(&c.message).copied())
                .unwrap_or_default();
            Example {
                features: features(&read, &a),
                clusters: c
                    .acceptable
                    .iter()
                    .filter_map(|n| cat.cluster_by_name(n))
                    .collect(),
            }
        })
        .collect()
}

/// The labelled case files of `dir` to train on, by file name, sorted: every
/// `reply-eval-*.txt` and `reply-train-*.txt` but the held-out set and `exclude`.
pub fn case_files(dir: &Path, exclude: &[String]) -> Result<Vec<(String, String)>, String> {
    files_named(dir, |name| {
        let labelled = name.starts_with("reply-eval-") || name.starts_with("reply-train-");
        labelled && name.ends_with(".txt") && name != HELD_OUT && !exclude.iter().any(|e| e == name)
    })
}

/// The files of `dir` (not its subfolders' files) whose names `keep` accepts, as
/// `(name, text)` pairs sorted by name.
pub fn files_named(
    dir: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !path.is_file() || !keep(name) {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        out.push((name.to_owned(), text));
    }
    out.sort();
    Ok(out)
}

/// A trained prior: per kept feature (sorted) the weight per cluster, and a bias per
/// cluster (catalog order).
#[derive(Debug, Clone)]
pub struct Trained {
    pub features: Vec<String>,
    /// `features.len() × clusters` weights, row-major.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub clusters: usize,
}

impl Trained {
    /// Per cluster, the logit for a message with `feats`.
    pub fn logits(&self, feats: &[String]) -> Vec<f32> {
        let mut z = self.bias.clone();
        let scale = 1.0 / (feats.len().max(1) as f32).sqrt();
        for f in feats {
            if let Ok(row) = self.features.binary_search(f) {
                let w = &self.weights[row * self.clusters..(row + 1) * self.clusters];
                for (z, w) in z.iter_mut().zip(w) {
                    *z += w * scale;
                }
            }
        }
        z
    }
}

/// Fits the prior to `examples`, `clusters` being the catalog's cluster count.
pub fn train(examples: &[Example], clusters: usize, s: &Settings) -> Trained {
    // Features of at least `min_cases` examples, sorted.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in examples {
        for f in &e.features {
            *counts.entry(f.as_str()).or_default() += 1;
        }
    }
    let features: Vec<String> = counts
        .into_iter()
        .filter(|&(_, n)| n >= s.min_cases)
        .map(|(f, _)| f.to_owned())
        .collect();
    // Each example as (row, value) pairs over the kept features.
    let rows: Vec<Vec<usize>> = examples
        .iter()
        .map(|e| {
            e.features
                .iter()
                .filter_map(|f| features.binary_search(f).ok())
                .collect()
        })
        .collect();
    // FTRL-Proximal state per weight: `zs` (accumulated adjusted gradients) and `ns`
    // (accumulated squared gradients); the weight is derived from them. The bias is a
    // weight of a feature every case has, without the L1 penalty.
    let cols = features.len() + 1;
    let mut zs = vec![0.0f32; cols * clusters];
    let mut ns = vec![0.0f32; cols * clusters];
    let weight = |z: f32, n: f32, l1: f32| {
        if z.abs() <= l1 {
            0.0
        } else {
            -(z - z.signum() * l1) / ((1.0 + n.sqrt()) / s.rate + s.l2)
        }
    };
    let bias_col = features.len();
    // A fixed order per epoch: a shuffle driven by a linear congruential generator.
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut z = vec![0.0f32; clusters];
    for _ in 0..s.epochs {
        for i in (1..order.len()).rev() {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            order.swap(i, (seed >> 33) as usize % (i + 1));
        }
        for &k in &order {
            let v = 1.0 / (examples[k].features.len().max(1) as f32).sqrt();
            // (column, value) of the case's features, the bias last
            let cols_k: Vec<(usize, f32)> = rows[k]
                .iter()
                .map(|&r| (r, v))
                .chain(std::iter::once((bias_col, 1.0)))
                .collect();
            z.iter_mut().for_each(|z| *z = 0.0);
            for &(col, x) in &cols_k {
                let l1 = if col == bias_col { 0.0 } else { s.l1 };
                for (c, z) in z.iter_mut().enumerate() {
                    let j = col * clusters + c;
                    *z += weight(zs[j], ns[j], l1) * x;
                }
            }
            for (c, &zc) in z.iter().enumerate() {
                let y = if examples[k].clusters.contains(&c) {
                    1.0
                } else {
                    0.0
                };
                let g = sigmoid(zc) - y;
                for &(col, x) in &cols_k {
                    let l1 = if col == bias_col { 0.0 } else { s.l1 };
                    let j = col * clusters + c;
                    let gj = g * x;
                    let sigma = ((ns[j] + gj * gj).sqrt() - ns[j].sqrt()) / s.rate;
                    zs[j] += gj - sigma * weight(zs[j], ns[j], l1);
                    ns[j] += gj * gj;
                }
            }
        }
    }
    let w: Vec<f32> = (0..features.len() * clusters)
        .map(|j| weight(zs[j], ns[j], s.l1))
        .collect();
    let bias: Vec<f32> = (0..clusters)
        .map(|c| {
            let j = bias_col * clusters + c;
            weight(zs[j], ns[j], 0.0)
        })
        .collect();
    Trained {
        features,
        weights: w,
        bias,
        clusters,
    }
}

/// The table text: a header, the bias line, then each feature with its weights of at least
/// `prune` in size (features left with none are dropped).
pub fn table(t: &Trained, cat: &Catalog, header: &str, prune: f32) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let item = |c: usize, w: f32| format!("{}:{w:.3}", cat.clusters[c].name);
    let bias: Vec<String> = (0..t.clusters).map(|c| item(c, t.bias[c])).collect();
    let _ = writeln!(out, "bias\t{}", bias.join(" "));
    for (row, f) in t.features.iter().enumerate() {
        let items: Vec<String> = (0..t.clusters)
            .filter_map(|c| {
                let w = t.weights[row * t.clusters + c];
                (w.abs() >= prune).then(|| item(c, w))
            })
            .collect();
        if !items.is_empty() {
            let _ = writeln!(out, "{f}\t{}", items.join(" "));
        }
    }
    out
}

/// How well a prior ranks the clusters of unseen cases: the share whose most probable
/// cluster is acceptable, and whose three most probable hold an acceptable one.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Ranking {
    pub cases: usize,
    pub top1: f64,
    pub top3: f64,
    /// Per [`CALIBRATION`] threshold: the share of cases whose most probable cluster has at
    /// least that probability, and how often that cluster is acceptable among them.
    pub confident: [(f64, f64); 3],
}

/// Probabilities at which [`Ranking::confident`] is measured.
pub const CALIBRATION: [f32; 3] = [0.3, 0.5, 0.7];

/// [`Ranking`] of `t` on `examples`.
pub fn ranking(t: &Trained, examples: &[Example]) -> Ranking {
    let (mut top1, mut top3) = (0usize, 0usize);
    let mut over = [(0usize, 0usize); 3];
    for e in examples {
        let z = t.logits(&e.features);
        let mut order: Vec<usize> = (0..z.len()).collect();
        order.sort_by(|&a, &b| z[b].total_cmp(&z[a]));
        let hit = e.clusters.contains(&order[0]);
        top1 += usize::from(hit);
        top3 += usize::from(order.iter().take(3).any(|c| e.clusters.contains(c)));
        let p_max = sigmoid(z[order[0]]);
        for (k, &threshold) in CALIBRATION.iter().enumerate() {
            if p_max >= threshold {
                over[k].0 += 1;
                over[k].1 += usize::from(hit);
            }
        }
    }
    let n = examples.len().max(1) as f64;
    Ranking {
        cases: examples.len(),
        top1: top1 as f64 / n,
        top3: top3 as f64 / n,
        confident: over.map(|(cases, hits)| (cases as f64 / n, hits as f64 / cases.max(1) as f64)),
    }
}

/// The table trained on every case file of `dir` but `exclude` (and the held-out set), and
/// the number of cases it was trained on.
pub fn build(
    dir: &Path,
    exclude: &[String],
    settings: &Settings,
    cat: &Catalog,
) -> Result<(String, usize), String> {
    let files = case_files(dir, exclude)?;
    let labels = act_labels(dir, settings.act_features)?;
    let sets = examples_by_file(&files, cat, labels.as_ref())?;
    let all: Vec<Example> = sets.iter().flat_map(|(_, e)| e.iter().cloned()).collect();
    let trained = train(&all, cat.clusters.len(), settings);
    let names: Vec<&str> = sets.iter().map(|(n, _)| n.as_str()).collect();
    let header = format!(
        "The drafter's cluster prior (rust/pocketlm/src/reply/cluster_prior.rs), generated by\n\
         `pocketlm train-reply-prior` (do not edit) from the {} cases with acceptable clusters of\n\
         {} (never {HELD_OUT}).\n\
         Settings: {settings:?}.\n\
         Format: feature<TAB>cluster:weight ...; the first line is each cluster's bias.",
        all.len(),
        names.join(", "),
    );
    Ok((table(&trained, cat, &header, settings.prune), all.len()))
}

/// The act labels of the fixtures folder `dir` (`None` when `wanted` is false).
pub fn act_labels(dir: &Path, wanted: bool) -> Result<Option<HashMap<String, Acts>>, String> {
    if !wanted {
        return Ok(None);
    }
    let path = dir.join(crate::reply_head::ACT_LABELS);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::reply_head::parse_act_labels(&text).map(Some)
}

/// The examples of each case file (name → examples).
pub fn examples_by_file(
    files: &[(String, String)],
    cat: &Catalog,
    acts: Option<&HashMap<String, Acts>>,
) -> Result<Vec<(String, Vec<Example>)>, String> {
    files
        .iter()
        .map(|(name, text)| {
            let cases = parse_cases(text, cat).map_err(|e| format!("{name}: {e}"))?;
            Ok((name.clone(), examples(&cases, cat, acts)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(features: &[&str], clusters: &[usize]) -> Example {
        Example {
            features: features.iter().map(|s| s.to_string()).collect(),
            clusters: clusters.to_vec(),
        }
    }

    /// The builtin table is trained with the features the default drafter reads.
    #[test]
    fn the_table_has_the_act_features_the_drafter_reads() {
        assert_eq!(
            SETTINGS.act_features,
            pocketlm::DrafterConfig::default().act_rules
        );
    }

    #[test]
    fn training_separates_clusters_by_their_words_and_is_reproducible() {
        // cluster 0 follows "thanks", cluster 1 follows "lunch"; "hey" says nothing
        let data: Vec<Example> = (0..20)
            .flat_map(|_| {
                [
                    ex(&["w:thanks", "w:hey"], &[0]),
                    ex(&["w:lunch", "w:hey"], &[1]),
                ]
            })
            .collect();
        let t = train(&data, 2, &SETTINGS);
        let thanks = t.logits(&["w:thanks".into()]);
        let lunch = t.logits(&["w:lunch".into()]);
        assert!(thanks[0] > 0.0 && thanks[1] < 0.0, "{thanks:?}");
        assert!(lunch[1] > 0.0 && lunch[0] < 0.0, "{lunch:?}");
        let r = ranking(&t, &data);
        assert_eq!((r.top1, r.top3), (1.0, 1.0));
        let again = train(&data, 2, &SETTINGS);
        assert_eq!(t.weights, again.weights, "the same bits every run");
        // a feature of a single case is left out
        let mut rare = data.clone();
        rare.push(ex(&["w:once"], &[0]));
        assert!(!train(&rare, 2, &SETTINGS)
            .features
            .contains(&"w:once".to_owned()));
    }

    /// The checked-in table is what the trainer makes of the checked-in cases: a changed
    /// case file needs `pocketlm train-reply-prior` run again (the drafter would otherwise
    /// read a prior that does not match its fixtures).
    #[test]
    fn the_builtin_table_is_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let cat = Catalog::builtin_rules().unwrap();
        let (text, cases) =
            build(&root.join("tests/fixtures"), &[], &SETTINGS, cat).expect("the trainer runs");
        assert!(cases > 2000, "{cases}");
        let path = root.join("rust/pocketlm/src/reply/cluster_prior.tsv");
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(
            current == text,
            "{} is stale: run `pocketlm train-reply-prior` from the repository root and commit it",
            path.display()
        );
    }

    #[test]
    fn the_table_parses_as_the_drafter_reads_it() {
        let cat = Catalog::builtin().unwrap();
        let yes = cat.cluster_by_name("yes").unwrap();
        let thanks = cat.cluster_by_name("thanks").unwrap();
        let data: Vec<Example> = (0..10)
            .flat_map(|_| {
                [
                    ex(&["w:sure", "w:ok"], &[yes]),
                    ex(&["w:ta", "w:ok"], &[thanks]),
                ]
            })
            .collect();
        let t = train(&data, cat.clusters.len(), &SETTINGS);
        let text = table(&t, cat, "test table\nsecond line", SETTINGS.prune);
        assert!(text.starts_with("# test table\n# second line\nbias\t"));
        let p = pocketlm::internals::reply::cluster_prior::ClusterPrior::parse(&text, cat)
            .expect("the trainer's table parses");
        let probs = p.probabilities(&["w:sure".to_owned()]);
        assert!(
            probs[yes] > probs[thanks],
            "{} {}",
            probs[yes],
            probs[thanks]
        );
        // the table's logits agree with the trainer's within the printed precision
        let z = t.logits(&["w:sure".to_owned()]);
        let from_table = (probs[yes] / (1.0 - probs[yes])).ln();
        assert!(
            (z[yes] - from_table).abs() < 0.05,
            "{} {from_table}",
            z[yes]
        );
    }
}
