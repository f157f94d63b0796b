//! Keyboard evaluation: types each line of a corpus character by character through one
//! predictor, as a person would, and measures what the suggestion strip would have saved.
//!
//! - `next_word_top1` / `next_word_top3`: at the start of every word (nothing of it typed),
//!   whether it is the first / among the suggestions.
//! - `completion_top3[j]`: after typing `j + 1` letters of a word longer than that, whether the
//!   word is among the suggestions.
//! - `first_word_completion_top3`: for the first word of each line (of two letters or more),
//!   whether it is among the suggestions after at most 3 typed letters (before it is
//!   complete): how a message starts is what a user sees first, and the model has the least
//!   context there. `first_word_completion_by_letters[j]` is `completion_top3[j]` for first
//!   words only; `first_word_completion_top3_apostrophe` / `_plain` split the lines by
//!   whether that first word has an apostrophe ("Don't", "I'm", "Sam's") or not.
//! - `ksr`, keystroke savings rate: `1 − keystrokes used / characters`. A word counts as entered
//!   by one tap as soon as it appears among the suggestions before it is fully typed; the tap
//!   also inserts the following space (a following punctuation mark is typed as usual).
//! - Latency of every `suggest` call (one per keystroke).
//! - With edits ([`EvalOptions::backspace_every`]): every n-th word of a line, once typed, is
//!   deleted with backspaces together with the space before it (the cursor ends on the
//!   previous word, so the context goes back a word) and typed again, one `suggest` per
//!   backspace and per letter. Those keystrokes are timed apart ([`EditReport`]): on a model
//!   with a recurrent state (Qwen3.5) a rewind restores a checkpoint and evaluates tokens
//!   again (`replayed_tokens`), which plain typing rarely does. The quality measures count the
//!   first typing of each word only.
//!
//! A suggestion matches when it equals the word exactly (case included). With a contraction
//! table ([`evaluate_with`], the CLI's default), a word written without its apostrophe
//! ("dont", "im", "thats": casual text) also matches the table's contraction typed that way
//! ("don't", "I'm", "That's"), case ignored (the writer who skips the apostrophe skips the
//! shift too): accepting it enters the word the writer meant. The table says what a typed
//! form may stand for, not what it is: on a corpus where "its" or "well" are meant as
//! written, an offered "it's" or "we'll" would count as well. `typed_form_words` counts such
//! words and `typed_form_words_offered` those offered before they were fully typed.

use pocketlm::internals::keyboard::{text, Contractions};
use pocketlm::{KeyboardError, Suggestions};
use std::time::Instant;

/// Something that suggests words for the text before the cursor.
pub trait Suggest {
    /// Suggestions for the text before the cursor (an empty text field before each line).
    fn suggest(&self, text_before_cursor: &str) -> Result<Suggestions, KeyboardError>;
    /// Short name for reports.
    fn name(&self) -> &'static str;
}

/// How to type the corpus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalOptions {
    /// Delete and retype every n-th word of each line (not a line's last word); `None` types
    /// straight through.
    pub backspace_every: Option<usize>,
}

/// The keystrokes of the edits: the backspaces over a word and the letters typing it again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EditReport {
    /// The `n` of [`EvalOptions::backspace_every`].
    pub every: usize,
    /// Words deleted and typed again.
    pub edits: usize,
    /// Backspaces and retyped letters (one `suggest` each).
    pub keystrokes: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// p95 over every keystroke, the first typing and the edits together.
    pub all_keystrokes_p95_ms: f64,
    /// Keystrokes of the edits that evaluated tokens again to restore a recurrent state.
    pub rewinds: usize,
    /// Mean and largest number of tokens such a keystroke evaluated again, and its mean
    /// latency: what a rewind costs.
    pub replayed_tokens_mean: f64,
    pub replayed_tokens_max: usize,
    pub rewind_mean_ms: f64,
    /// Token rows per edit keystroke (context and candidates, replays not included).
    pub tokens_per_keystroke: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalReport {
    pub method: String,
    pub ksr: f64,
    pub next_word_top1: f64,
    pub next_word_top3: f64,
    /// After 1, 2 and 3 typed letters.
    pub completion_top3: [f64; 3],
    /// Lines whose first word (2+ letters) is among the suggestions after 1, 2 or 3 typed
    /// letters (before it is complete).
    pub first_word_completion_top3: f64,
    /// `first_word_completion_top3` over the lines whose first word has an apostrophe.
    pub first_word_completion_top3_apostrophe: f64,
    /// `first_word_completion_top3` over the lines whose first word has none.
    pub first_word_completion_top3_plain: f64,
    /// Lines whose first word (2+ letters) has an apostrophe, and lines whose first word has
    /// none.
    pub first_words_apostrophe: usize,
    pub first_words_plain: usize,
    /// `completion_top3` for the first word of each line only.
    pub first_word_completion_by_letters: [f64; 3],
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub keystrokes: usize,
    pub words: usize,
    pub lines: usize,
    /// Mean token rows run through the model per keystroke (context and candidates).
    pub tokens_per_keystroke: f64,
    /// Mean forward passes per keystroke (a batch counts once).
    pub passes_per_keystroke: f64,
    /// Keystrokes that ran 0, 1, 2 and 3 or more forward passes.
    pub passes_histogram: [usize; 4],
    /// Token rows at the 95th percentile of keystrokes (load-independent tail work).
    pub p95_rows: usize,
    /// Forward passes at the 95th percentile of keystrokes.
    pub p95_passes: usize,
    /// Words written without the apostrophe of a contraction of the table ("dont"), and
    /// those of them offered (as written or as the contraction) before fully typed. Zero
    /// without a table.
    pub typed_form_words: usize,
    pub typed_form_words_offered: usize,
    /// Tokens evaluated again after rewinds (recurrent states), per typing keystroke.
    pub replayed_per_keystroke: f64,
    /// The edit keystrokes, when the options asked for edits.
    pub edits: Option<EditReport>,
    /// One entry per keystroke, in typing order (edits included).
    pub trace: Vec<KeyTrace>,
}

/// What one `suggest` call of an evaluation cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyTrace {
    /// Line index (among non-empty lines) and byte offset of the cursor in it; an edit's slip
    /// adds `extra` after `line[..byte]`.
    pub line: usize,
    pub byte: usize,
    pub extra: String,
    pub ms: f64,
    pub rows: usize,
    pub passes: usize,
    pub context_tokens: usize,
    pub reused_tokens: usize,
    pub replayed_tokens: usize,
    /// A backspace, or a letter typed again after them (not the first typing).
    pub edit: bool,
}

#[derive(Default)]
struct Counts {
    chars: usize,
    saved: usize,
    words: usize,
    nw1: usize,
    nw3: usize,
    comp: [(usize, usize); 3],
    /// (hits, tries) of completions of each line's first word, by typed letters.
    first: [(usize, usize); 3],
    /// (lines whose first word was offered within 3 letters, lines with a first word of 2+).
    first_any: (usize, usize),
    /// The same for first words with an apostrophe, and for the others.
    first_apostrophe: (usize, usize),
    first_plain: (usize, usize),
    lat: Vec<f64>,
    lines: usize,
    rows: usize,
    passes: usize,
    typed_forms: (usize, usize),
    replayed: usize,
    edits: usize,
    trace: Vec<KeyTrace>,
}

impl Counts {
    /// Calls `s` for the text before the cursor, `line[..byte]` then `extra`, and records what
    /// it cost; `edit` marks a keystroke of an edit (timed apart from the typing's).
    fn keystroke(
        &mut self,
        s: &dyn Suggest,
        line: &str,
        byte: usize,
        extra: &str,
        edit: bool,
    ) -> Result<Vec<String>, KeyboardError> {
        let text: std::borrow::Cow<str> = if extra.is_empty() {
            line[..byte].into()
        } else {
            format!("{}{extra}", &line[..byte]).into()
        };
        let t0 = Instant::now();
        let sug = s.suggest(&text)?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let st = sug.stats;
        if !edit {
            self.lat.push(ms);
            self.rows += st.evaluated_tokens;
            self.passes += st.forward_passes;
            self.replayed += st.replayed_tokens;
        }
        self.trace.push(KeyTrace {
            line: self.lines - 1,
            byte,
            extra: extra.to_string(),
            ms,
            rows: st.evaluated_tokens,
            passes: st.forward_passes,
            context_tokens: st.context_tokens,
            reused_tokens: st.reused_tokens,
            replayed_tokens: st.replayed_tokens,
            edit,
        });
        Ok(sug.items.into_iter().map(|x| x.word).collect())
    }

    /// After the word `line[a..b]` was typed: a slip (its last letter again, then a space),
    /// backspaces over the slip, the word and the character before it (the cursor lands on the
    /// previous word), and the word typed again up to `b`. The keystroke after the word (in
    /// the caller's loop) then continues a context the model has not seen: a rewind.
    fn edit_word(
        &mut self,
        s: &dyn Suggest,
        line: &str,
        a: usize,
        b: usize,
    ) -> Result<(), KeyboardError> {
        let last = line[a..b].chars().next_back().unwrap_or('x');
        let slip = format!("{last} ");
        let slip_len = slip.len();
        for k in 1..=slip_len {
            self.keystroke(s, line, b, &slip[..k], true)?;
        }
        for k in (1..slip_len).rev() {
            self.keystroke(s, line, b, &slip[..k], true)?;
        }
        let cut = line[..a].char_indices().next_back().map_or(a, |(i, _)| i);
        let stops: Vec<usize> = line[cut..b].char_indices().map(|(i, _)| cut + i).collect();
        for &byte in std::iter::once(&b)
            .chain(stops.iter().skip(1).rev())
            .chain(stops.first())
        {
            self.keystroke(s, line, byte, "", true)?;
        }
        for &byte in stops.iter().skip(1).chain(std::iter::once(&b)) {
            self.keystroke(s, line, byte, "", true)?;
        }
        self.edits += 1;
        Ok(())
    }

    fn edit_report(&self, every: usize) -> EditReport {
        let edits: Vec<&KeyTrace> = self.trace.iter().filter(|t| t.edit).collect();
        let ms: Vec<f64> = edits.iter().map(|t| t.ms).collect();
        let all: Vec<f64> = self.trace.iter().map(|t| t.ms).collect();
        let rewinds: Vec<&&KeyTrace> = edits.iter().filter(|t| t.replayed_tokens > 0).collect();
        let n = rewinds.len().max(1) as f64;
        EditReport {
            every,
            edits: self.edits,
            keystrokes: edits.len(),
            p50_ms: percentile(&ms, 0.5),
            p95_ms: percentile(&ms, 0.95),
            max_ms: percentile(&ms, 1.0),
            mean_ms: mean(&ms),
            all_keystrokes_p95_ms: percentile(&all, 0.95),
            rewinds: rewinds.len(),
            replayed_tokens_mean: rewinds.iter().map(|t| t.replayed_tokens).sum::<usize>() as f64
                / n,
            replayed_tokens_max: rewinds.iter().map(|t| t.replayed_tokens).max().unwrap_or(0),
            rewind_mean_ms: mean(&rewinds.iter().map(|t| t.ms).collect::<Vec<_>>()),
            tokens_per_keystroke: edits.iter().map(|t| t.rows).sum::<usize>() as f64
                / edits.len().max(1) as f64,
        }
    }
}

/// The `p` quantile (0..=1) of `v` by nearest rank; 0 for none.
fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else {
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Whether `sugg` offers `word`: exactly, or (with a table) as the contraction `word` is
/// written without its apostrophe ("don't" for "dont", any case).
fn offers(sugg: &[String], word: &str, typed_forms: Option<&Contractions>) -> bool {
    if sugg.iter().any(|w| w == word) {
        return true;
    }
    let Some(forms) = typed_forms.map(|c| c.of_typed_form(word)) else {
        return false;
    };
    !forms.is_empty()
        && !word.contains(text::is_apostrophe)
        && sugg
            .iter()
            .any(|w| forms.contains(&text::fold(w).to_lowercase()))
}

/// Types `lines` through `s` (an empty field before each line) and measures. Words match
/// exactly, or with `typed_forms`, a word written without its apostrophe also matches the
/// contraction of the table it stands for (module documentation). `opts` says whether edits
/// interrupt the typing. `progress` is called after each line with the number of lines done.
pub fn evaluate_with(
    s: &dyn Suggest,
    lines: &[&str],
    typed_forms: Option<&Contractions>,
    opts: EvalOptions,
    mut progress: impl FnMut(usize),
) -> Result<EvalReport, KeyboardError> {
    let mut c = Counts::default();
    let every = opts.backspace_every.filter(|&n| n > 0);
    for (li, line) in lines.iter().enumerate() {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        c.lines += 1;
        // Where an edit follows the typing: the ends of every n-th word (not the line's last).
        let edit_at: Vec<(usize, usize)> = match every {
            Some(n) => text::word_spans(line)
                .into_iter()
                .enumerate()
                .filter(|&(wi, (_, b))| (wi + 1) % n == 0 && b < line.len())
                .map(|(_, span)| span)
                .collect(),
            None => Vec::new(),
        };
        // Suggestions at every character boundary of the line (before typing that character).
        let mut at: Vec<(usize, Vec<String>)> = Vec::new();
        let mut edited_before: Option<usize> = None;
        for (i, _) in line.char_indices() {
            // The keystroke after an edit is the edit's: it pays for the rewind.
            let after_edit = edited_before == Some(i);
            let words = c.keystroke(s, line, i, "", after_edit)?;
            at.push((i, words));
            edited_before = None;
            if let Some(&(a, b)) = edit_at.iter().find(|e| e.1 == i) {
                c.edit_word(s, line, a, b)?;
                edited_before = line[i..].chars().next().map(|ch| i + ch.len_utf8());
            }
        }
        c.chars += at.len();
        let sugg_at = |byte: usize| -> &[String] {
            at.binary_search_by_key(&byte, |e| e.0)
                .map(|i| at[i].1.as_slice())
                .unwrap_or(&[])
        };
        for (wi, (a, b)) in text::word_spans(line).into_iter().enumerate() {
            let word = &line[a..b];
            c.words += 1;
            let first = sugg_at(a);
            if first
                .first()
                .is_some_and(|w| offers(std::slice::from_ref(w), word, typed_forms))
            {
                c.nw1 += 1;
            }
            if offers(first, word, typed_forms) {
                c.nw3 += 1;
            }
            let offs: Vec<usize> = word.char_indices().map(|(i, _)| a + i).collect();
            let n = offs.len();
            // After 1, 2 and 3 typed letters (offs[j] is where letter j + 1 starts).
            let mut any = false;
            for (j, &pos) in offs.iter().enumerate().skip(1).take(3) {
                let hit = offers(sugg_at(pos), word, typed_forms);
                any |= hit;
                c.comp[j - 1].1 += 1;
                c.comp[j - 1].0 += usize::from(hit);
                if wi == 0 {
                    c.first[j - 1].1 += 1;
                    c.first[j - 1].0 += usize::from(hit);
                }
            }
            if wi == 0 && n >= 2 {
                c.first_any.1 += 1;
                c.first_any.0 += usize::from(any);
                let split = if word.contains(text::is_apostrophe) {
                    &mut c.first_apostrophe
                } else {
                    &mut c.first_plain
                };
                split.1 += 1;
                split.0 += usize::from(any);
            }
            // Keystroke savings: the first time the word shows up before it is complete.
            let space_after = line[b..].starts_with(' ');
            let typed_form = !word.contains(text::is_apostrophe)
                && typed_forms.is_some_and(|t| !t.of_typed_form(word).is_empty());
            c.typed_forms.0 += usize::from(typed_form);
            for (typed, &pos) in offs.iter().enumerate() {
                if offers(sugg_at(pos), word, typed_forms) {
                    let typed_cost = n + usize::from(space_after);
                    c.saved += typed_cost - (typed + 1);
                    c.typed_forms.1 += usize::from(typed_form);
                    break;
                }
            }
        }
        progress(li + 1);
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let pct = |p: f64| percentile(&c.lat, p);
    let edits = every.map(|n| c.edit_report(n));
    let mut passes_histogram = [0usize; 4];
    let p95_of = |mut v: Vec<usize>| -> usize {
        v.sort_unstable();
        v.get(((v.len().max(1) - 1) as f64 * 0.95).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    let typing = || c.trace.iter().filter(|t| !t.edit);
    let p95_rows = p95_of(typing().map(|t| t.rows).collect());
    let p95_passes = p95_of(typing().map(|t| t.passes).collect());
    for t in typing() {
        passes_histogram[t.passes.min(3)] += 1;
    }
    Ok(EvalReport {
        passes_histogram,
        typed_form_words: c.typed_forms.0,
        typed_form_words_offered: c.typed_forms.1,
        p95_rows,
        p95_passes,
        trace: c.trace,
        method: s.name().to_string(),
        ksr: ratio(c.saved, c.chars),
        next_word_top1: ratio(c.nw1, c.words),
        next_word_top3: ratio(c.nw3, c.words),
        completion_top3: [
            ratio(c.comp[0].0, c.comp[0].1),
            ratio(c.comp[1].0, c.comp[1].1),
            ratio(c.comp[2].0, c.comp[2].1),
        ],
        first_word_completion_top3: ratio(c.first_any.0, c.first_any.1),
        first_word_completion_top3_apostrophe: ratio(c.first_apostrophe.0, c.first_apostrophe.1),
        first_word_completion_top3_plain: ratio(c.first_plain.0, c.first_plain.1),
        first_words_apostrophe: c.first_apostrophe.1,
        first_words_plain: c.first_plain.1,
        first_word_completion_by_letters: [
            ratio(c.first[0].0, c.first[0].1),
            ratio(c.first[1].0, c.first[1].1),
            ratio(c.first[2].0, c.first[2].1),
        ],
        p50_ms: pct(0.5),
        p95_ms: pct(0.95),
        max_ms: pct(1.0),
        mean_ms: mean(&c.lat),
        replayed_per_keystroke: ratio(c.replayed, c.lat.len()),
        edits,
        keystrokes: c.chars,
        words: c.words,
        lines: c.lines,
        tokens_per_keystroke: ratio(c.rows, c.lat.len()),
        passes_per_keystroke: ratio(c.passes, c.lat.len()),
    })
}
