//! The user-words evaluation (`eval-keyboard --user-words`): how much learning typed words
//! saves on words the model does not know.
//!
//! The corpus is typed twice, line by line (an empty field before each line), as
//! [`super::evaluate`] types it: a word counts as entered by one tap as soon as it appears among
//! the suggestions before it is complete. With learning on, every word typed in full (never
//! offered before it was complete) is reported to [`WordPredictor::learn_typed_word`] in a text
//! field, as a keyboard reports committed words. A corpus whose made-up names each occur twice
//! has them learned during the first pass (`learn_after` = 2); the second pass measures what
//! that saves. The same run with learning off is the reference.
//!
//! Reported per run: keystroke savings (`ksr`) of each pass, and `learned_words_ksr`: the
//! savings over the second-pass occurrences of the words the learning run learned in its first
//! pass (the same words are scored in both runs).

use pocketlm::internals::keyboard::text;
use pocketlm::{FieldKind, KeyboardError, WordPredictor, WordSource};
use std::collections::HashSet;

/// One run (learning on or off) of [`evaluate_user_words`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserWordsRun {
    pub learning: bool,
    /// Keystroke savings of the first and the second pass over the corpus.
    pub first_pass_ksr: f64,
    pub second_pass_ksr: f64,
    /// Keystroke savings over the second-pass occurrences of the learned words.
    pub learned_words_ksr: f64,
    /// Second-pass occurrences of learned words offered before they were complete.
    pub learned_words_offered: f64,
}

/// Both runs and what the learning run learned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserWordsEval {
    pub on: UserWordsRun,
    pub off: UserWordsRun,
    /// The words learned in the learning run's first pass, sorted.
    pub learned: Vec<String>,
    /// Second-pass occurrences of those words.
    pub occurrences: usize,
    pub lines: usize,
}

/// One typed word of a line.
struct Typed {
    start: usize,
    word: String,
    /// Characters it takes to type in full (with the following space).
    cost: usize,
    /// Keystrokes saved by tapping it in the strip (0: typed in full).
    saved: usize,
}

/// Types `line` through `p` and returns its characters and its words.
fn type_line(p: &WordPredictor, line: &str) -> Result<(usize, Vec<Typed>), KeyboardError> {
    let mut at: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, _) in line.char_indices() {
        let s = p.suggest(&line[..i])?;
        at.push((i, s.items.into_iter().map(|x| x.word).collect()));
    }
    let offered = |byte: usize, word: &str| {
        at.binary_search_by_key(&byte, |e| e.0)
            .is_ok_and(|i| at[i].1.iter().any(|w| w == word))
    };
    let mut words = Vec::new();
    for (a, b) in text::word_spans(line) {
        let word = &line[a..b];
        let offs: Vec<usize> = word.char_indices().map(|(i, _)| a + i).collect();
        let cost = offs.len() + usize::from(line[b..].starts_with(' '));
        let saved = offs
            .iter()
            .position(|&pos| offered(pos, word))
            .map_or(0, |typed| cost - (typed + 1));
        words.push(Typed {
            start: a,
            word: word.to_string(),
            cost,
            saved,
        });
    }
    Ok((at.len(), words))
}

/// One pass over `lines`: (characters, saved keystrokes, the words with their line).
fn pass(
    p: &WordPredictor,
    lines: &[&str],
    learning: bool,
) -> Result<(usize, usize, Vec<Typed>), KeyboardError> {
    let (mut chars, mut saved, mut all) = (0, 0, Vec::new());
    for line in lines {
        let (n, words) = type_line(p, line)?;
        chars += n;
        for w in words {
            saved += w.saved;
            if learning && w.saved == 0 {
                p.learn_typed_word(&line[..w.start], &w.word, FieldKind::Text)?;
            }
            all.push(w);
        }
    }
    Ok((chars, saved, all))
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Runs the evaluation with `on` (learning) and `off` (no learning): two predictors of the same
/// settings, their user dictionaries cleared first. `progress` is called with the number of
/// passes done (of 4).
pub fn evaluate_user_words(
    on: &WordPredictor,
    off: &WordPredictor,
    lines: &[&str],
    mut progress: impl FnMut(usize),
) -> Result<UserWordsEval, KeyboardError> {
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.trim_end_matches(['\n', '\r']))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut out = UserWordsEval {
        lines: lines.len(),
        ..UserWordsEval::default()
    };
    let mut done = 0;
    let mut seconds = Vec::new();
    for (p, learning) in [(on, true), (off, false)] {
        p.clear_user_words();
        p.reset();
        let (c1, s1, _) = pass(p, &lines, learning)?;
        done += 1;
        progress(done);
        if learning {
            out.learned = p
                .user_words()
                .into_iter()
                .filter(|w| w.source == WordSource::Learned)
                .map(|w| w.word)
                .collect();
            out.learned.sort();
        }
        let (c2, s2, words) = pass(p, &lines, learning)?;
        done += 1;
        progress(done);
        seconds.push((learning, ratio(s1, c1), ratio(s2, c2), words));
    }
    let learned: HashSet<String> = out.learned.iter().map(|w| w.to_lowercase()).collect();
    for (learning, first, second, words) in seconds {
        let of_learned: Vec<&Typed> = words
            .iter()
            .filter(|w| learned.contains(&w.word.to_lowercase()))
            .collect();
        out.occurrences = of_learned.len();
        let run = UserWordsRun {
            learning,
            first_pass_ksr: first,
            second_pass_ksr: second,
            learned_words_ksr: ratio(
                of_learned.iter().map(|w| w.saved).sum(),
                of_learned.iter().map(|w| w.cost).sum(),
            ),
            learned_words_offered: ratio(
                of_learned.iter().filter(|w| w.saved > 0).count(),
                of_learned.len(),
            ),
        };
        if learning {
            out.on = run;
        } else {
            out.off = run;
        }
    }
    Ok(out)
}
