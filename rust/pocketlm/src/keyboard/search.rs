//! Word search: a small batched beam over the token continuations of a context, constrained to
//! what was typed (token healing), that stops at word boundaries.
//!
//! The typed part of the current word (with the space before it) is matched against token bytes
//! ignoring case, so a context cut at the word boundary can continue with any tokenization of
//! the typed letters. A word's probability is the probability of its tokens times the
//! probability that the next token does not continue it.

use super::engine::Engine;
use super::text::is_whole_word;
use super::vocab::{Kind, Vocab};
use crate::ops::log_add;
use crate::session::SessionError;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// Search settings.
#[derive(Debug, Clone, Copy)]
pub struct SearchParams {
    /// Most candidates evaluated together in one batched forward pass.
    pub batch: usize,
    /// Most candidate evaluations per call (cached ones count too, so results never depend
    /// on what is cached).
    pub max_evals: usize,
    /// Most tokens a word may take after the context.
    pub depth: usize,
    /// Words wanted.
    pub k: usize,
    /// A second batch only when the first found no word, and then only for candidates
    /// needed to spell the typed letters.
    pub later_spelling_only: bool,
}

/// One partial candidate: tokens after the context and the text they spell.
#[derive(Clone)]
struct Path {
    tokens: Vec<u32>,
    /// Lower-cased text (for matching what was typed).
    lower: Vec<u8>,
    /// Bytes of the pending text spelled so far (at most all of it): `lower.len()` unless the
    /// candidate has an apostrophe the person left out ("don't" for "dont").
    typed: usize,
    /// Whether it has such an apostrophe (at most one per word).
    skipped: bool,
    /// Text as the model writes it.
    raw: Vec<u8>,
    lp: f32,
}

impl Path {
    /// Whether the text has any word bytes yet (not just the space before the word).
    fn has_word(&self) -> bool {
        self.raw.iter().any(|&b| b != b' ')
    }
}

/// A found word: its text as the model writes it and log P(word | context).
#[derive(Debug, Clone)]
pub struct Found {
    pub word: String,
    pub lp: f32,
}

struct Collector<'a> {
    words: HashMap<String, f32>,
    /// Words ending with a clitic ("don't" = "don" + "'t") that were not evaluated
    /// themselves: probability of their tokens, the word's end taken as certain.
    estimates: HashMap<String, f32>,
    blocked: &'a dyn Fn(&str) -> bool,
}

impl Collector<'_> {
    fn add(&mut self, raw: &[u8], lp: f32) {
        Self::add_to(&mut self.words, self.blocked, raw, lp);
    }

    fn estimate(&mut self, raw: &[u8], lp: f32) {
        Self::add_to(&mut self.estimates, self.blocked, raw, lp);
    }

    fn add_to(map: &mut HashMap<String, f32>, blocked: &dyn Fn(&str) -> bool, raw: &[u8], lp: f32) {
        let raw = raw.strip_prefix(b" ").unwrap_or(raw);
        let Ok(w) = std::str::from_utf8(raw) else {
            return;
        };
        if !is_whole_word(w) || blocked(w) {
            return;
        }
        let e = map.entry(w.to_string()).or_insert(f32::NEG_INFINITY);
        *e = log_add(*e, lp);
    }

    /// Whether `raw` (a candidate's text, optionally space-led) is a whole word the
    /// blocklist rejects.
    fn spells_blocked(&self, raw: &[u8]) -> bool {
        let raw = raw.strip_prefix(b" ").unwrap_or(raw);
        std::str::from_utf8(raw).is_ok_and(|w| is_whole_word(w) && (self.blocked)(w))
    }

    /// The best log-probability found so far (−∞ before any word).
    fn best(&self) -> f32 {
        self.words
            .values()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max)
    }

    /// The k-th best log-probability found so far (−∞ with fewer than k words).
    fn kth(&self, k: usize) -> f32 {
        if self.words.len() < k || k == 0 {
            return f32::NEG_INFINITY;
        }
        let mut v: Vec<f32> = self.words.values().copied().collect();
        v.sort_by(|a, b| b.total_cmp(a));
        v[k - 1]
    }
}

/// Finds the likeliest whole words that continue `ctx` and spell `pending` (lower-cased: an
/// optional leading space, then the letters typed so far) at their start.
///
/// Best-first: a candidate's probability bounds that of every word through it, so candidates
/// are evaluated (a batch per forward pass) in order of probability only while they could
/// still enter the top k.
pub fn search(
    engine: &mut Engine,
    vocab: &Vocab,
    ctx: &[u32],
    pending: &[u8],
    params: SearchParams,
    blocked: &dyn Fn(&str) -> bool,
) -> Result<Vec<Found>, SessionError> {
    let mut out = Collector {
        words: HashMap::new(),
        estimates: HashMap::new(),
        blocked,
    };
    let room = engine.context_length().saturating_sub(ctx.len());
    let depth = params.depth.min(room);
    let keep = params.max_evals + 2 * params.k + 4;
    let mut paths = vec![Path {
        tokens: Vec::new(),
        lower: Vec::new(),
        typed: 0,
        skipped: false,
        raw: Vec::new(),
        lp: 0.0,
    }];
    let mut clitics: Vec<(Vec<u8>, f32)> = Vec::new();
    let mut heap: BinaryHeap<Cand> = BinaryHeap::new();
    let mut scratch: Vec<Cand> = Vec::new();
    let mut seq = ctx.to_vec();
    if let Some(node) = engine.node(ctx) {
        expand(
            0,
            &paths[0],
            node,
            vocab,
            pending,
            &mut scratch,
            &mut clitics,
        );
        push_best(&mut heap, &mut scratch, keep);
    }
    let mut evals = 0;
    let mut passes = 0;
    let mut first = true;
    // Over budget, a word not found yet may still take one pass per token it can have: an
    // empty strip is worse than a slower keystroke ("c'" needs "c", "'" and "est" evaluated
    // in turn, and the first passes go to "c", "C", "c'", "c’").
    // Likewise while an evaluated candidate's continuation is likelier than every word found
    // ("amanh" = " am", "anh" was evaluated, "ã" is still to come): the best word is not
    // found yet. Only later passes may take such continuations (see below).
    let nothing_yet = |out: &Collector, passes: usize| {
        params.later_spelling_only && out.words.is_empty() && passes < params.depth
    };
    let over_budget = |out: &Collector, passes: usize, heap: &BinaryHeap<Cand>, first: bool| {
        nothing_yet(out, passes)
            || (params.later_spelling_only
                && passes < params.depth
                && !first
                && heap.peek().is_some_and(|top| top.lp > out.best()))
    };
    while evals < params.max_evals || over_budget(&out, passes, &heap, first) {
        let extra = evals >= params.max_evals;
        let mut kth = out.kth(params.k);
        let mut batch: Vec<Path> = Vec::new();
        let mut slots = 0;
        while let Some(top) = heap.peek() {
            if top.lp <= kth {
                break;
            }
            let c = heap.pop().expect("peeked");
            if !first && params.later_spelling_only {
                // Later passes only continue evaluated candidates. While no word is found, those
                // that are a strict prefix of the typed letters ("don" when "don'" was typed),
                // or spell all of them but no word yet ("c'" when "c'" was typed: SentencePiece
                // spells "c'est" as "c", "'", "est"): without them such a word is never found.
                // Once words are found, only a continuation likelier than all of them: the word
                // being typed may need more tokens than the first pass gave it ("Até aman"
                // (pt): Gemma spells "amanhã" " am", "anh", "ã", and the first pass finds
                // "amantes"); one that could only take a lower slot is not worth a pass.
                let parent = &paths[c.parent];
                if parent.tokens.is_empty() {
                    continue;
                }
                let allowed = if out.words.is_empty() {
                    parent.typed < pending.len() || !spells_word(&parent.raw)
                } else {
                    c.lp > out.best()
                };
                if !allowed {
                    continue;
                }
            }
            let child = paths[c.parent].child(&c, vocab, pending.len());
            if c.finished {
                // Finishers end the word by themselves: their probability is exact.
                out.add(&child.raw, child.lp);
                kth = out.kth(params.k);
                continue;
            }
            if child.tokens.len() > depth {
                continue;
            }
            // A path spelling a blocked word is still evaluated (it may continue into an
            // allowed word) but does not take one of the pass's slots: a blocklist hit must not
            // leave the strip with fewer than k words.
            if !out.spells_blocked(&child.raw) {
                slots += 1;
            }
            batch.push(child);
            if slots >= params.batch
                || (evals + slots >= params.max_evals && !extra && !nothing_yet(&out, passes))
            {
                break;
            }
        }
        if batch.is_empty() {
            break;
        }
        evals += slots.max(1);
        passes += 1;
        first = false;
        let seqs: Vec<Vec<u32>> = batch
            .iter()
            .map(|p| {
                let mut s = ctx.to_vec();
                s.extend_from_slice(&p.tokens);
                s
            })
            .collect();
        engine.ensure_children(&seqs, vocab)?;
        for p in batch {
            seq.truncate(ctx.len());
            seq.extend_from_slice(&p.tokens);
            let Some(node) = engine.node(&seq) else {
                continue;
            };
            if p.typed >= pending.len() && p.has_word() {
                out.add(&p.raw, p.lp + node.end_lp);
            }
            if p.tokens.len() < depth {
                let idx = paths.len();
                expand(idx, &p, node, vocab, pending, &mut scratch, &mut clitics);
                push_best(&mut heap, &mut scratch, keep);
            }
            paths.push(p);
        }
        for (raw, lp) in clitics.drain(..) {
            out.estimate(&raw, lp);
        }
    }
    // A contraction found only as a continuation of an evaluated word ("Don" then "'t") is
    // offered with its tokens' probability: a clitic ends its word all but always.
    for (w, lp) in std::mem::take(&mut out.estimates) {
        out.words.entry(w).or_insert(lp);
    }
    let mut found: Vec<Found> = out
        .words
        .into_iter()
        .map(|(word, lp)| Found { word, lp })
        .collect();
    found.sort_by(|a, b| b.lp.total_cmp(&a.lp).then_with(|| a.word.cmp(&b.word)));
    Ok(found)
}

/// Whether `raw` (a candidate's text, optionally space-led) is a whole word.
fn spells_word(raw: &[u8]) -> bool {
    let raw = raw.strip_prefix(b" ").unwrap_or(raw);
    std::str::from_utf8(raw).is_ok_and(is_whole_word)
}

/// Moves the best `keep` candidates of `scratch` into the heap.
fn push_best(heap: &mut BinaryHeap<Cand>, scratch: &mut Vec<Cand>, keep: usize) {
    if scratch.len() > keep {
        scratch.select_nth_unstable_by(keep, |a, b| b.cmp(a));
        scratch.truncate(keep);
    }
    heap.extend(scratch.drain(..));
}

/// A child of a path, before it is materialized.
struct Cand {
    lp: f32,
    parent: usize,
    token: u32,
    finished: bool,
    /// The token's leading apostrophe was not typed ("'t" after "don" for "dont").
    skip: bool,
}

impl PartialEq for Cand {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    /// Likelier first; ties broken by position so the order is total and reproducible.
    fn cmp(&self, o: &Self) -> Ordering {
        self.lp
            .total_cmp(&o.lp)
            .then(o.parent.cmp(&self.parent))
            .then(o.token.cmp(&self.token))
    }
}

impl Path {
    fn child(&self, c: &Cand, vocab: &Vocab, pending_len: usize) -> Path {
        let lower = vocab.lower(c.token);
        let raw = vocab.raw(c.token);
        let raw = match vocab.kind(c.token) {
            Kind::Finisher { space, word_len } => {
                &raw[..(usize::from(space) + word_len as usize).min(raw.len())]
            }
            _ => raw,
        };
        let mut tokens = self.tokens.clone();
        tokens.push(c.token);
        let mut l = self.lower.clone();
        l.extend_from_slice(lower);
        let mut r = self.raw.clone();
        r.extend_from_slice(raw);
        let typed = (self.typed + lower.len() - usize::from(c.skip)).min(pending_len);
        Path {
            tokens,
            lower: l,
            typed,
            skipped: self.skipped || c.skip,
            raw: r,
            lp: c.lp,
        }
    }
}

/// Appends the children of `p` (whose node is `node`) that keep the text consistent with
/// `pending` and inside one word to `cands`, and to `clitics` the words a clitic child
/// finishes ("don" + "'t") with their probability.
fn expand(
    parent: usize,
    p: &Path,
    node: &mut super::engine::Node,
    vocab: &Vocab,
    pending: &[u8],
    cands: &mut Vec<Cand>,
    clitics: &mut Vec<(Vec<u8>, f32)>,
) {
    let in_word = p.has_word() || p.raw == b" ";
    let mut push = |t: u32, lp: f32, skip: bool, cands: &mut Vec<Cand>| {
        let kind = vocab.kind(t);
        let ok = if in_word {
            kind.continues()
        } else {
            !matches!(kind, Kind::Boundary)
        };
        // A word never starts with an apostrophe (that is an opening quote).
        let ok = ok && (p.has_word() || vocab.lower(t).first() != Some(&b'\''));
        if !ok {
            return;
        }
        let finished = matches!(kind, Kind::Finisher { .. });
        let typed = p.typed + vocab.lower(t).len() - usize::from(skip);
        // A finished word must cover everything typed.
        if finished && typed < pending.len() {
            return;
        }
        if typed >= pending.len() && p.has_word() && vocab.is_clitic(t) {
            let mut raw = p.raw.clone();
            raw.extend_from_slice(vocab.raw(t));
            clitics.push((raw, p.lp + lp));
        }
        cands.push(Cand {
            lp: p.lp + lp,
            parent,
            token: t,
            finished,
            skip,
        });
    };
    if p.typed < pending.len() {
        // Still spelling what was typed: tokens that start with the rest of it, or are a
        // prefix of it.
        let rest = &pending[p.typed..];
        for &t in vocab.with_prefix(rest) {
            push(t, node.lp(vocab, t), false, cands);
        }
        for i in 1..rest.len() {
            for &t in vocab.exact(&rest[..i]) {
                push(t, node.lp(vocab, t), false, cands);
            }
        }
        // The same with an apostrophe the person left out, inside the word ("dont" is
        // spelled by "don" + "'t").
        if p.has_word() && !p.skipped && rest[0] != b'\'' && rest[0] != b' ' {
            let mut alt = Vec::with_capacity(rest.len() + 1);
            alt.push(b'\'');
            alt.extend_from_slice(rest);
            for &t in vocab.with_prefix(&alt) {
                push(t, node.lp(vocab, t), true, cands);
            }
            for i in 1..alt.len() {
                for &t in vocab.exact(&alt[..i]) {
                    push(t, node.lp(vocab, t), true, cands);
                }
            }
        }
    } else if in_word {
        for &(t, lp) in &node.continuing {
            push(t, lp, false, cands);
        }
    } else {
        for &(t, lp) in node.starting(vocab) {
            push(t, lp, false, cands);
        }
    }
}
