//! The gate's word scorer: a Bernoulli naive Bayes over the words, word pairs and word triples
//! of a message, trained (`scripts/train-sensitive-words.py`) to tell sensitive messages from
//! everyday ones. The phrase lexicons catch what they name; crisis messages are mostly
//! indirect ("gave my xbox to my little brother. tell mom thanks for everything"), and on
//! phrasings no lexicon was written from the scorer catches far more of them (docs/reply.md,
//! "Safety gate"). The table is data (`sensitive_words.tsv`): a bias, a threshold and a weight
//! per feature.

use std::collections::{HashMap, HashSet};

use super::catalog::CatalogError;

/// The table built into the library (packed by `build.rs`).
pub(crate) const BUILTIN: super::packed::Packed = super::packed::packed!("sensitive_words.tsv");

/// A trained word scorer: `bias` plus the weights of the features present; sensitive at or
/// above `threshold`.
#[derive(Debug, Clone)]
pub struct SensitiveWords {
    bias: f64,
    threshold: f64,
    weights: HashMap<String, f64>,
}

impl SensitiveWords {
    /// Parses a table: `#` comments, `bias<TAB>value`, `threshold<TAB>value`, then
    /// `feature<TAB>weight` lines. Errors name the line (1-based).
    pub fn parse(text: &str) -> Result<SensitiveWords, CatalogError> {
        let (mut bias, mut threshold) = (None, None);
        let mut weights = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let err = |message: &str| CatalogError {
                line: i + 1,
                message: format!("sensitive_words: {message}"),
            };
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('\t')
                .ok_or_else(|| err("a line is `feature<TAB>weight`"))?;
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| err("the weight is not a finite number"))?;
            match key {
                "bias" => bias = Some(value),
                "threshold" => threshold = Some(value),
                _ if key.is_empty() || key != key.trim() => {
                    return Err(err("an empty or padded feature"))
                }
                _ => {
                    if weights.insert(key.to_owned(), value).is_some() {
                        return Err(err(&format!("feature `{key}` twice")));
                    }
                }
            }
        }
        let missing = |what: &str| CatalogError {
            line: 0,
            message: format!("sensitive_words: no `{what}` line"),
        };
        Ok(SensitiveWords {
            bias: bias.ok_or_else(|| missing("bias"))?,
            threshold: threshold.ok_or_else(|| missing("threshold"))?,
            weights,
        })
    }

    /// The message's score: the bias plus the weight of each distinct feature it has.
    pub fn score(&self, message: &str) -> f64 {
        self.bias
            + features(message)
                .iter()
                .filter_map(|f| self.weights.get(f))
                .sum::<f64>()
    }

    /// Whether the message scores as sensitive.
    pub fn flags(&self, message: &str) -> bool {
        self.score(message) >= self.threshold
    }
}

/// Lowercase words of `message`, apostrophes dropped ("don't" is "dont"), split at anything
/// but a digit or a Latin letter (the training script reads messages the same way).
fn tokens(message: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in message.chars().flat_map(char::to_lowercase) {
        if matches!(c, '\'' | '\u{2019}' | '\u{2018}') {
            continue;
        }
        if c.is_ascii_digit() || c.is_ascii_lowercase() || ('\u{c0}'..='\u{24f}').contains(&c) {
            word.push(c);
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The distinct words, word pairs and word triples of `message`.
fn features(message: &str) -> HashSet<String> {
    let w = tokens(message);
    let mut f: HashSet<String> = w.iter().cloned().collect();
    f.extend(w.windows(2).map(|p| p.join(" ")));
    f.extend(w.windows(3).map(|t| t.join(" ")));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_the_training_script() {
        assert_eq!(
            tokens("I DON'T know… it’s 3am!! café"),
            ["i", "dont", "know", "its", "3am", "café"]
        );
        let f = features("a b c a");
        for x in ["a", "b", "c", "a b", "b c", "c a", "a b c", "b c a"] {
            assert!(f.contains(x), "{x}");
        }
        assert_eq!(f.len(), 8);
    }

    #[test]
    fn a_table_parses_and_scores_each_feature_once() {
        let t = SensitiveWords::parse("# c\nbias\t-1\nthreshold\t0.5\nhurt\t1\nhurt me\t0.75\n")
            .unwrap();
        assert_eq!(t.score("hurt hurt"), 0.0);
        assert_eq!(t.score("you hurt me"), 0.75);
        assert!(t.flags("he hurt me"));
        assert!(!t.flags("it hurt"));
        for bad in [
            "threshold\t1\n",
            "bias\t1\n",
            "bias\t1\nthreshold\tx\n",
            "bias\t1\nthreshold\t1\nw\tinf\n",
            "bias\t1\nthreshold\t1\nw\t1\nw\t2\n",
            "bias\t1\nthreshold\t1\nno tab\n",
        ] {
            assert!(SensitiveWords::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_builtin_table_parses() {
        let t = SensitiveWords::parse(&BUILTIN.text().unwrap()).unwrap();
        assert!(t.weights.len() > 1000);
    }
}
