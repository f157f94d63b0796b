//! The candidates stage: from the logits after the prompt, generated branches (distinct
//! first words, continued greedily) and a beam search over the token trie of the catalog
//! responses that fit the message, all advanced one token per step in one batched forward
//! pass. Mechanism only: which responses are open or preferred is decided by the caller.

use super::config::DrafterConfig;
use super::ReplyError;
use crate::ops::{log_softmax, log_sum_exp};
use crate::sampler::argmax;
use crate::session::Session;
use crate::tokenizer::Tokenizer;
use std::sync::atomic::{AtomicBool, Ordering};

/// A catalog response as the model would produce it in the assistant turn.
#[derive(Debug, Clone)]
pub struct TokenizedResponse {
    /// Index into the catalog's responses.
    pub index: usize,
    pub tokens: Vec<u32>,
    /// The token that ends the turn after it (`<|im_end|>`, or "\n" for the fallback).
    pub end: u32,
}

/// A node of the token trie of the responses (node 0 is the root).
#[derive(Debug, Clone, Default)]
struct TrieNode {
    token: u32,
    children: Vec<usize>,
    /// A response ends here: its position in the tokenized list and the end-of-turn token.
    end: Option<(usize, u32)>,
}

/// The token trie of a tone's responses, with their empty-message log-probabilities.
#[derive(Debug, Clone, Default)]
pub struct Trie {
    nodes: Vec<TrieNode>,
    /// Per node: log-probability of its path after an empty message (−∞: not computed).
    null_path: Vec<f32>,
    /// Per node ending a response: log-probability of the path and the end.
    null_end: Vec<f32>,
}

impl Trie {
    pub fn build(replies: &[TokenizedResponse]) -> Trie {
        let mut t = Trie {
            nodes: vec![TrieNode::default()],
            ..Trie::default()
        };
        for (i, r) in replies.iter().enumerate() {
            let mut at = 0;
            for &tok in &r.tokens {
                at = match t.nodes[at]
                    .children
                    .iter()
                    .copied()
                    .find(|&c| t.nodes[c].token == tok)
                {
                    Some(c) => c,
                    None => {
                        t.nodes.push(TrieNode {
                            token: tok,
                            ..TrieNode::default()
                        });
                        let c = t.nodes.len() - 1;
                        t.nodes[at].children.push(c);
                        c
                    }
                };
            }
            if t.nodes[at].end.is_none() {
                t.nodes[at].end = Some((i, r.end));
            }
        }
        t.null_path = vec![f32::NEG_INFINITY; t.nodes.len()];
        t.null_end = vec![f32::NEG_INFINITY; t.nodes.len()];
        t
    }

    /// Nodes of the trie (the root included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The empty-message scores per node ([`Trie::score_null`]): of the path, and of the
    /// path and the end.
    pub fn nulls(&self) -> (&[f32], &[f32]) {
        (&self.null_path, &self.null_end)
    }

    /// Sets the empty-message scores saved from [`Trie::nulls`] of the same trie (a warm
    /// start); both have [`Trie::len`] entries.
    pub fn set_nulls(&mut self, path: Vec<f32>, end: Vec<f32>) {
        debug_assert!(path.len() == self.nodes.len() && end.len() == self.nodes.len());
        self.null_path = path;
        self.null_end = end;
    }

    fn child(&self, node: usize, t: u32) -> usize {
        self.nodes[node]
            .children
            .iter()
            .copied()
            .find(|&n| self.nodes[n].token == t)
            .expect("the trie holds every response")
    }

    /// Scores the responses after the empty message (the null context in `session`), up to
    /// `depth` tokens: per node of depth ≤ `depth` the log-probability of its path, and for
    /// such nodes that end a response, of the path and the end. Distinct prefixes are
    /// evaluated `group` at a time, one batched forward pass per group.
    pub fn score_null(
        &mut self,
        session: &Session,
        replies: &[TokenizedResponse],
        null_lp: &[f32],
        depth: usize,
        group: usize,
    ) -> Result<(), ReplyError> {
        for &c in &self.nodes[0].children {
            self.null_path[c] = null_lp[self.nodes[c].token as usize];
        }
        // The distinct prefixes whose logits are needed: a response's first `depth` tokens,
        // or the whole response (with its end) when it is no longer.
        let mut seqs: Vec<(&[u32], Option<u32>)> = Vec::new();
        for c in replies {
            let whole = c.tokens.len() <= depth;
            let (t, e) = if whole {
                (&c.tokens[..], Some(c.end))
            } else {
                (&c.tokens[..depth - 1], None)
            };
            if t.is_empty() {
                continue;
            }
            match seqs.iter_mut().find(|(s, _)| *s == t) {
                Some(x) => x.1 = x.1.or(e),
                None => seqs.push((t, e)),
            }
        }
        let vocab = null_lp.len();
        let base = session.len();
        let group = group.max(1);
        let mut rows: Vec<Session> = (0..group.min(seqs.len())).map(|_| session.fork()).collect();
        let mut lp = vec![0.0f32; vocab];
        let mut out = Vec::new();
        for chunk in seqs.chunks(group) {
            let mut refs: Vec<&mut Session> = rows.iter_mut().take(chunk.len()).collect();
            for s in refs.iter_mut() {
                s.truncate(base);
            }
            let toks: Vec<&[u32]> = chunk.iter().map(|(t, _)| *t).collect();
            Session::eval_batch_all(&mut refs, &toks, &mut out)?;
            let mut at = 0;
            for &(t, e) in chunk {
                let mut node = self.child(0, t[0]);
                let mut acc = self.null_path[node];
                for i in 0..t.len() {
                    log_softmax(&out[(at + i) * vocab..(at + i + 1) * vocab], &mut lp);
                    if i + 1 < t.len() {
                        node = self.child(node, t[i + 1]);
                        acc += lp[t[i + 1] as usize];
                        self.null_path[node] = acc;
                        continue;
                    }
                    if let Some(e) = e {
                        self.null_end[node] = acc + lp[e as usize];
                    }
                    if t.len() < depth {
                        for &c in &self.nodes[node].children {
                            self.null_path[c] = acc + lp[self.nodes[c].token as usize];
                        }
                    }
                }
                at += t.len();
            }
        }
        Ok(())
    }

    /// Per node: whether some response below it (or ending at it) satisfies `f` (children
    /// come after their parent in the node list).
    pub fn mark(&self, f: impl Fn(usize) -> bool) -> Vec<bool> {
        let mut out = vec![false; self.nodes.len()];
        for n in (0..self.nodes.len()).rev() {
            let node = &self.nodes[n];
            out[n] = node.end.is_some_and(|(i, _)| f(i)) || node.children.iter().any(|&c| out[c]);
        }
        out
    }

    /// Per node: the largest `f` of the responses below it (or ending at it); −∞ for none.
    pub fn best(&self, f: impl Fn(usize) -> f32) -> Vec<f32> {
        let mut out = vec![f32::NEG_INFINITY; self.nodes.len()];
        for n in (0..self.nodes.len()).rev() {
            let node = &self.nodes[n];
            let own = node.end.map_or(f32::NEG_INFINITY, |(i, _)| f(i));
            out[n] = node.children.iter().map(|&c| out[c]).fold(own, f32::max);
        }
        out
    }
}

/// A generated candidate decoded greedily.
#[derive(Debug, Clone)]
pub struct Generated {
    pub tokens: Vec<u32>,
    /// log p(tokens, end | message) (the end only when `finished`).
    pub logprob: f32,
    /// Log-probabilities counted.
    pub count: usize,
    /// Ended by the end of the turn or a newline (otherwise cut at the token limit).
    pub finished: bool,
    /// PMI of the first token with the message.
    pub first_pmi: f32,
}

/// A catalog response scored by the beam.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    /// Position in the tokenized list.
    pub reply: usize,
    /// log p(response, end | message).
    pub logprob: f32,
    pub count: usize,
    /// PMI of the response with the message (frozen below the warm-up depth).
    pub pmi: f32,
}

/// What the decoding produced, with its work counters.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    pub generated: Vec<Generated>,
    pub scored: Vec<Scored>,
    pub steps: usize,
    pub rows: usize,
}

/// The per-call inputs of [`decode`].
pub struct DecodeInput<'a> {
    pub session: &'a Session,
    pub tokenizer: &'a Tokenizer,
    pub trie: &'a Trie,
    /// Log-probabilities after the prompt and after an empty message.
    pub lp0: &'a [f32],
    pub null_lp: &'a [f32],
    /// Per trie node: leads to a response that fits / that is preferred.
    pub open: &'a [bool],
    pub preferred: &'a [bool],
    /// Per trie node, when a decision is asked: leads to a response of its yes direction /
    /// of its other one (no or maybe). The beam keeps the best path of each, whatever the
    /// ranks, so both directions reach the selection. All false without a decision.
    pub sides: [&'a [bool]; 2],
    /// Per trie node: nats added to the rank of paths through it (the cluster prior's lean
    /// towards the responses below it; 0 without a prior).
    pub lean: &'a [f32],
    pub cancel: &'a AtomicBool,
}

/// A path of the trie being scored.
struct Beam {
    node: usize,
    session: Session,
    logprob: f32,
    pmi: f32,
    len: usize,
}

struct Branch {
    session: Session,
    tokens: Vec<u32>,
    logprob: f32,
    count: usize,
    done: bool,
    finished: bool,
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF)
}

/// The first tokens of the generated branches: the most likely distinct first words,
/// ranked against their likelihood after an empty message.
fn first_tokens(inp: &DecodeInput, cfg: &DrafterConfig) -> Vec<u32> {
    let (lp0, null) = (inp.lp0, inp.null_lp);
    let tok = inp.tokenizer;
    let adjusted = |id: u32| lp0[id as usize] - cfg.prior_weight * null[id as usize];
    let mut order: Vec<u32> = (0..lp0.len() as u32).collect();
    let top = cfg.first_token_shortlist.clamp(1, order.len());
    order.select_nth_unstable_by(top - 1, |&a, &b| {
        lp0[b as usize].total_cmp(&lp0[a as usize])
    });
    order.truncate(top);
    let best = order
        .iter()
        .map(|&id| lp0[id as usize])
        .fold(f32::NEG_INFINITY, f32::max);
    order.retain(|&id| lp0[id as usize] >= best - cfg.max_first_token_gap);
    order.sort_by(|&a, &b| adjusted(b).total_cmp(&adjusted(a)));
    let mut firsts: Vec<u32> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for &id in &order {
        if firsts.len() >= cfg.branches {
            break;
        }
        if tok.is_end_of_generation(id) || tok.is_control(id) {
            continue;
        }
        let text = String::from_utf8_lossy(tok.token_bytes(id)).into_owned();
        let t = text.trim_start();
        let Some(c) = t.chars().next() else { continue };
        if !(c.is_alphanumeric() || is_emoji(c)) || text.contains('\n') {
            continue;
        }
        let k: String = t
            .chars()
            .take_while(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        let k = if k.is_empty() { t.to_owned() } else { k };
        if keys.contains(&k) {
            continue;
        }
        keys.push(k);
        firsts.push(id);
    }
    firsts
}

/// The beam's first nodes: open paths within the first-token gap (wider for preferred ones
/// and a decision's sides), kept as the beam is at every step ([`keep_best`]).
fn roots(inp: &DecodeInput, cfg: &DrafterConfig, rank: &dyn Fn(usize) -> f32) -> Vec<usize> {
    let trie = inp.trie;
    let best = inp.lp0.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut roots: Vec<usize> = trie.nodes[0]
        .children
        .iter()
        .copied()
        .filter(|&n| {
            let wide = inp.preferred[n] || inp.sides.iter().any(|s| s[n]);
            let gap = cfg.max_first_token_gap + if wide { cfg.preferred_gap } else { 0.0 };
            inp.open[n] && inp.lp0[trie.nodes[n].token as usize] >= best - gap
        })
        .collect();
    roots.sort_by(|&x, &y| rank(y).total_cmp(&rank(x)));
    let k = cfg.curated;
    keep_best(
        roots,
        k,
        &[
            (1, &|&n| inp.sides[0][n]),
            (1, &|&n| inp.sides[1][n]),
            (k / 2, &|&n| inp.preferred[n]),
        ],
    )
}

/// Decodes the generated branches and the beam together, `cfg.max_reply_tokens` steps at
/// most. Forks of `inp.session` (holding the prompt) carry the candidates.
pub fn decode(inp: &DecodeInput, cfg: &DrafterConfig) -> Result<Decoded, ReplyError> {
    let (lp0, null) = (inp.lp0, inp.null_lp);
    let trie = inp.trie;
    let tok = inp.tokenizer;
    let cw = cfg.curated_pmi_weight;
    let boost = |n: usize| {
        inp.lean[n]
            + if inp.preferred[n] {
                cfg.preferred_boost
            } else {
                0.0
            }
    };
    let mut branches: Vec<Branch> = first_tokens(inp, cfg)
        .into_iter()
        .map(|id| Branch {
            session: inp.session.fork(),
            tokens: vec![id],
            logprob: lp0[id as usize],
            count: 1,
            done: false,
            finished: false,
        })
        .collect();
    let root_rank = |n: usize| {
        let l = lp0[trie.nodes[n].token as usize];
        l + cw * (l - trie.null_path[n]) + boost(n)
    };
    let mut beams: Vec<Beam> = roots(inp, cfg, &root_rank)
        .into_iter()
        .map(|n| {
            let t = trie.nodes[n].token as usize;
            Beam {
                node: n,
                pmi: lp0[t] - null[t],
                session: inp.session.fork(),
                logprob: lp0[t],
                len: 1,
            }
        })
        .collect();
    let mut out = Decoded::default();
    let mut step_tokens: Vec<u32> = branches.iter().map(|b| b.tokens[0]).collect();
    let max_len = cfg.max_reply_tokens;
    for _ in 0..max_len {
        let active: Vec<usize> = (0..branches.len()).filter(|&i| !branches[i].done).collect();
        if active.is_empty() && beams.is_empty() {
            break;
        }
        if inp.cancel.load(Ordering::Relaxed) {
            return Err(ReplyError::Cancelled);
        }
        {
            let mut refs: Vec<&mut Session> = Vec::with_capacity(active.len() + beams.len());
            let mut toks = Vec::with_capacity(active.len() + beams.len());
            for (i, b) in branches.iter_mut().enumerate() {
                if !b.done {
                    refs.push(&mut b.session);
                    toks.push(step_tokens[i]);
                }
            }
            for b in beams.iter_mut() {
                refs.push(&mut b.session);
                toks.push(trie.nodes[b.node].token);
            }
            match Session::decode_batch(&mut refs, &toks) {
                Ok(()) => {}
                Err(crate::session::SessionError::ContextOverflow { .. }) => break,
                Err(e) => return Err(e.into()),
            }
            out.steps += 1;
            out.rows += toks.len();
        }
        for &i in &active {
            let b = &mut branches[i];
            let logits = b.session.logits()?;
            let next = argmax(logits);
            let l = logits[next as usize] - log_sum_exp(logits);
            let piece = tok.token_bytes(next);
            if tok.is_end_of_generation(next) || piece.contains(&b'\n') {
                b.logprob += l;
                b.count += 1;
                b.done = true;
                b.finished = true;
            } else if b.tokens.len() >= max_len {
                b.done = true;
            } else {
                b.tokens.push(next);
                b.logprob += l;
                b.count += 1;
                step_tokens[i] = next;
            }
        }
        // Finish the responses that end here; extend the best continuations, ranked by
        // log-probability plus weighted PMI (a text likely whatever the message says must
        // earn its place) plus the preferred boost and the prior's lean.
        let mut expansions: Vec<(usize, usize, f32, f32)> = Vec::new();
        for (bi, b) in beams.iter().enumerate() {
            let logits = b.session.logits()?;
            let z = log_sum_exp(logits);
            let node = &trie.nodes[b.node];
            if let Some((idx, end)) = node.end {
                let l = b.logprob + logits[end as usize] - z;
                let n = trie.null_end[b.node];
                out.scored.push(Scored {
                    reply: idx,
                    logprob: l,
                    count: b.len + 1,
                    pmi: if n.is_finite() { l - n } else { b.pmi },
                });
            }
            if b.len >= max_len {
                continue;
            }
            for &c in node.children.iter().filter(|&&c| inp.open[c]) {
                let l = b.logprob + logits[trie.nodes[c].token as usize] - z;
                let n = trie.null_path[c];
                expansions.push((bi, c, l, if n.is_finite() { l - n } else { b.pmi }));
            }
        }
        let rank = |e: &(usize, usize, f32, f32)| e.2 + cw * e.3 + boost(e.1);
        let k = cfg.curated;
        expansions.sort_by(|x, y| rank(y).total_cmp(&rank(x)));
        beams = advance(
            beams,
            keep_best(
                expansions,
                k,
                &[
                    (1, &|e| inp.sides[0][e.1]),
                    (1, &|e| inp.sides[1][e.1]),
                    (k / 2, &|e| inp.preferred[e.1]),
                ],
            ),
        )?;
    }
    out.generated = branches
        .into_iter()
        .map(|b| Generated {
            first_pmi: lp0[b.tokens[0] as usize] - null[b.tokens[0] as usize],
            tokens: b.tokens,
            logprob: b.logprob,
            count: b.count,
            finished: b.finished,
        })
        .collect();
    Ok(out)
}

/// A share of the beam kept for paths of one kind: at most this many of the best ones
/// that fit (those already kept count).
type Reservation<'a, T> = (usize, &'a dyn Fn(&T) -> bool);

/// The first `k` of `ranked` (best first), with room kept for each reservation in turn,
/// the rest by rank: a path to a preferred answer ("Almost there!" to "How long until you
/// get here?") or to a decision's other side ("No, thanks." to an offer the prior reads as
/// a yes) is not pushed out by likelier paths on the way.
fn keep_best<T>(ranked: Vec<T>, k: usize, reserve: &[Reservation<T>]) -> Vec<T> {
    let mut kept = vec![false; ranked.len()];
    let mut left = k;
    for (places, fits) in reserve {
        let mut wanted = places.saturating_sub(
            (0..ranked.len())
                .filter(|&i| kept[i] && fits(&ranked[i]))
                .count(),
        );
        for (i, t) in ranked.iter().enumerate() {
            if wanted == 0 || left == 0 {
                break;
            }
            if !kept[i] && fits(t) {
                kept[i] = true;
                wanted -= 1;
                left -= 1;
            }
        }
    }
    for keep in kept.iter_mut().filter(|k| !**k) {
        if left == 0 {
            break;
        }
        *keep = true;
        left -= 1;
    }
    ranked
        .into_iter()
        .zip(kept)
        .filter_map(|(t, keep)| keep.then_some(t))
        .collect()
}

/// The next beams: sessions of beams not continued are reused for parents continued twice
/// (only the few reply positions are copied, not the whole prompt's cache).
fn advance(
    beams: Vec<Beam>,
    expansions: Vec<(usize, usize, f32, f32)>,
) -> Result<Vec<Beam>, ReplyError> {
    let mut uses = vec![0usize; beams.len()];
    for e in &expansions {
        uses[e.0] += 1;
    }
    let mut spare: Vec<Session> = Vec::new();
    let mut parents: Vec<Option<Beam>> = Vec::with_capacity(beams.len());
    for (b, &u) in beams.into_iter().zip(&uses) {
        if u == 0 {
            spare.push(b.session);
            parents.push(None);
        } else {
            parents.push(Some(b));
        }
    }
    let mut next = Vec::with_capacity(expansions.len());
    for (bi, c, l, pmi) in expansions {
        uses[bi] -= 1;
        let parent = parents[bi].as_ref().expect("parent kept while used");
        let len = parent.len + 1;
        let session = if uses[bi] == 0 {
            parents[bi].take().expect("parent kept while used").session
        } else if let Some(mut s) = spare.pop() {
            s.copy_from(&parent.session)?;
            s
        } else {
            parent.session.fork()
        };
        next.push(Beam {
            node: c,
            session,
            logprob: l,
            pmi,
            len,
        });
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::{keep_best, Reservation};

    #[test]
    fn the_beam_keeps_up_to_half_its_width_for_preferred_paths() {
        // ranked best first; odd numbers are the preferred paths
        let ranked = vec![0, 2, 4, 6, 8, 1, 3, 5, 7];
        let odd = |x: &i32| x % 2 == 1;
        assert_eq!(
            keep_best(ranked.clone(), 6, &[(3, &odd)]),
            vec![0, 2, 4, 1, 3, 5]
        );
        // fewer preferred paths than the reservation: the rest by rank
        assert_eq!(
            keep_best(ranked.clone(), 6, &[(3, &|&x| x == 7)]),
            vec![0, 2, 4, 6, 8, 7]
        );
        // preferred paths among the best need no reservation
        assert_eq!(
            keep_best(ranked.clone(), 4, &[(2, &|&x| x == 0)]),
            vec![0, 2, 4, 6]
        );
        assert_eq!(keep_best(ranked, 20, &[(10, &|_| false)]).len(), 9);
    }

    #[test]
    fn each_side_of_a_decision_keeps_a_path_before_the_preferred_ones() {
        // 0–3 lead to yeses (all preferred), 9 to the only "no", ranked last
        let ranked = vec![0, 1, 2, 3, 4, 5, 9];
        let yes = |x: &i32| *x < 4;
        let no = |x: &i32| *x == 9;
        let reserve: [Reservation<i32>; 3] = [(1, &yes), (1, &no), (2, &yes)];
        assert_eq!(keep_best(ranked.clone(), 4, &reserve), vec![0, 1, 2, 9]);
        // without the side's place, the yeses and the rank fill the beam
        assert_eq!(keep_best(ranked.clone(), 4, &[(2, &yes)]), vec![0, 1, 2, 3]);
        // a kept path of a side needs no second place; nothing beyond the width
        assert_eq!(keep_best(ranked.clone(), 2, &reserve), vec![0, 9]);
        assert_eq!(keep_best(ranked, 1, &reserve), vec![0]);
    }
}
