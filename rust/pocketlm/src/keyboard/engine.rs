//! The keyboard's evaluation engine: a small pool of sessions (one KV cache each) and a cache of
//! evaluated token sequences ("nodes": a context, or a context plus the first tokens of a
//! candidate word) with what the search needs from their logits.
//!
//! Every result is a function of a node's token sequence only, so it does not matter which
//! session computed it or whether it was computed at this keystroke or an earlier one: caching
//! changes the cost, never the suggestions.

use super::vocab::Vocab;
use crate::model::{F32Block, SharedCheckpoint};
use crate::session::{Session, SessionError};
use std::collections::HashMap;

/// Continuation tokens kept per node for extending multi-token words.
const TOP_CONTINUING: usize = 12;
/// Word-starting tokens kept per node (next word after punctuation; corrections).
pub const TOP_STARTING: usize = 384;
/// Fewest sessions kept (KV caches of recent candidates, reused by their children), unless
/// the predictor's `max_sessions` is lower.
const MIN_POOL: usize = 8;
/// A session sheds its states down to an earlier checkpoint only within this many positions
/// of it (a candidate word's tokens after its context), replayed as rows of a later pass;
/// further back, its states become a checkpoint that its forks share. With
/// `share_checkpoints`, the pool's copies of a session are made shed with the same bound
/// (`Session::fork_shed`).
const SHED_MAX_REPLAY: usize = 8;

/// What the search needs to know about one evaluated token sequence.
pub struct Node {
    /// Raw logits after the sequence's last token (one per computed head row:
    /// `Vocab::slot`). A vocabulary-sized block (192 KiB for SmolLM2) held for a keystroke or
    /// two, so its own mapping: freed, it leaves the process instead of the allocator's heap.
    logits: F32Block,
    /// log Σ exp(logits).
    lse: f32,
    /// The lowest logit: what a token whose head row is not computed is taken to score (it
    /// is rarer than every computed one), so that e.g. a user word starting with a rare token
    /// keeps a small, finite probability.
    floor: f32,
    /// log P(the word in progress ends here) = log(1 − P(next token continues the word)).
    pub end_lp: f32,
    /// The likeliest tokens continuing a word, best first: (id, log-prob).
    pub continuing: Vec<(u32, f32)>,
    /// The likeliest tokens starting a word, best first (computed on first use).
    starting: Option<Vec<(u32, f32)>>,
    used: u64,
}

impl Node {
    fn new(logits: &[f32], vocab: &Vocab) -> Self {
        let lowest = logits.iter().copied().fold(f32::INFINITY, f32::min);
        let lse = crate::ops::log_sum_exp(logits);
        let mut cont_mass = 0.0f32;
        let mut top: Vec<(u32, f32)> = Vec::with_capacity(TOP_CONTINUING + 1);
        let mut floor = f32::NEG_INFINITY;
        for &t in &vocab.continuing {
            let Some(slot) = vocab.slot(t) else { continue };
            let l = logits[slot];
            cont_mass += (l - lse).exp();
            if top.len() < TOP_CONTINUING || l > floor {
                let at = top.partition_point(|&(id, v)| v > l || (v == l && id < t));
                top.insert(at, (t, l));
                top.truncate(TOP_CONTINUING);
                if top.len() == TOP_CONTINUING {
                    floor = top[TOP_CONTINUING - 1].1;
                }
            }
        }
        for e in top.iter_mut() {
            e.1 -= lse;
        }
        Node {
            logits: F32Block::copy_of(logits),
            lse,
            floor: lowest,
            end_lp: (1.0 - cont_mass).max(1e-9).ln(),
            continuing: top,
            starting: None,
            used: 0,
        }
    }

    /// log P(token | sequence).
    pub fn lp(&self, vocab: &Vocab, token: u32) -> f32 {
        match vocab.slot(token) {
            Some(s) => self.logits[s] - self.lse,
            None => self.floor - self.lse,
        }
    }

    /// The likeliest word-starting tokens (computed once per node).
    pub fn starting(&mut self, vocab: &Vocab) -> &[(u32, f32)] {
        if self.starting.is_none() {
            let mut all: Vec<(u32, f32)> = vocab
                .starting
                .iter()
                .map(|&t| (t, self.lp(vocab, t)))
                .collect();
            let by = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
            if all.len() > TOP_STARTING {
                all.select_nth_unstable_by(TOP_STARTING, by);
                all.truncate(TOP_STARTING);
            }
            all.sort_by(by);
            self.starting = Some(all);
        }
        self.starting.as_deref().unwrap_or_default()
    }

    fn bytes(&self) -> usize {
        self.logits.len() * 4
            + (self.continuing.capacity() + self.starting.as_ref().map_or(0, Vec::capacity)) * 8
            + 256
    }
}

/// Work done by one call, for tests and statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Token rows run through the model.
    pub rows: usize,
    /// Forward passes (one batched pass counts once).
    pub passes: usize,
    /// Rows that evaluated context tokens (as opposed to candidate words).
    pub context_rows: usize,
    /// Context tokens taken from the cache instead of being evaluated.
    pub reused: usize,
    /// Tokens evaluated again to bring recurrent states back after rewinds, in replay passes
    /// of their own (models with DeltaNet layers; counted apart from `rows`): what this
    /// call's rewinds cost. A transient candidate's tokens after its checkpoint are `rows`.
    pub replayed: usize,
}

pub struct Engine {
    sessions: Vec<Session>,
    /// Per session: when it was last used (a counter), to recycle the least recently used.
    stamps: Vec<u64>,
    stamp: u64,
    /// A node never dropped by `trim` (the empty field's context: every line starts there).
    pinned: Vec<u32>,
    nodes: HashMap<Vec<u32>, Node>,
    clock: u64,
    cache_bytes: usize,
    /// Most sessions kept (a batched pass may use more, one per candidate).
    max_sessions: usize,
    /// With recurrent layers (Qwen3.5), sessions that keep their live states between calls
    /// (the most recently used); the others shed them (`Session::shed_recurrent`) and restore
    /// a checkpoint when used again: each state is a copy of every DeltaNet layer's (19 MiB
    /// for Qwen3.5-0.8B), so a pool of 16 holding its own would need hundreds of MiB.
    live_states: usize,
    /// Whether the pool's copies of a session share its checkpoint instead of copying its
    /// live states (`PredictorOptions::share_checkpoints`).
    share_checkpoints: bool,
    pub work: Work,
}

impl Engine {
    pub fn new(
        first: Session,
        cache_bytes: usize,
        max_sessions: usize,
        live_states: usize,
        share_checkpoints: bool,
    ) -> Self {
        Engine {
            sessions: vec![first],
            stamps: vec![0],
            stamp: 0,
            pinned: Vec::new(),
            nodes: HashMap::new(),
            clock: 1,
            cache_bytes,
            max_sessions: max_sessions.max(1),
            live_states,
            share_checkpoints,
            work: Work::default(),
        }
    }

    /// Keeps the node of `seq` (once evaluated) across `trim`s.
    pub fn pin(&mut self, seq: &[u32]) {
        self.pinned = seq.to_vec();
    }

    /// Starts a new call: resets the work counters and advances the use clock.
    pub fn begin(&mut self) {
        self.clock += 1;
        self.work = Work::default();
    }

    /// Forgets every cached node and token (a new text field).
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.sessions.truncate(1);
        self.stamps.truncate(1);
        self.sessions[0].clear();
    }

    /// Forgets every cached node and session and frees their memory (memory pressure).
    pub fn release_memory(&mut self) {
        self.nodes = HashMap::new();
        self.sessions.truncate(1);
        self.stamps.truncate(1);
        self.sessions[0].release_memory();
    }

    /// Sessions holding live recurrent states (at most `live_states` between calls).
    pub fn live_state_holders(&self) -> usize {
        self.sessions
            .iter()
            .filter(|s| s.holds_recurrent_states())
            .count()
    }

    /// Recurrent-state checkpoints held by the pool: distinct copies, and distinct token
    /// sequences they follow (fewer when two copies hold the same states).
    pub fn checkpoint_copies(&self) -> (usize, usize) {
        let mut copies = std::collections::HashSet::new();
        let mut sequences = std::collections::HashSet::new();
        for s in &self.sessions {
            for (id, pos) in s.checkpoint_ids() {
                if copies.insert(id) {
                    sequences.insert(&s.tokens()[..pos]);
                }
            }
        }
        (copies.len(), sequences.len())
    }

    /// Bytes held by cached nodes and sessions.
    pub fn held_bytes(&self) -> usize {
        self.nodes.values().map(Node::bytes).sum::<usize>()
            + self.sessions.iter().map(Session::held_bytes).sum::<usize>()
            + self.sessions[0].shared_bytes()
    }

    /// The first session (every other one is a fork of it): the framing prefix is loaded into
    /// it from a warm-start file when it is empty.
    pub fn first_session(&mut self) -> &mut Session {
        &mut self.sessions[0]
    }

    pub fn context_length(&self) -> usize {
        self.sessions[0].context_length()
    }

    pub fn node(&mut self, seq: &[u32]) -> Option<&mut Node> {
        let clock = self.clock;
        let n = self.nodes.get_mut(seq)?;
        n.used = clock;
        Some(n)
    }

    /// Makes sure the node for `seq` (a context) is evaluated: the session sharing the longest
    /// prefix with it is rolled back to that prefix and only the rest is evaluated.
    pub fn ensure_context(&mut self, seq: &[u32], vocab: &Vocab) -> Result<(), SessionError> {
        if seq.is_empty() {
            return Err(SessionError::EmptyInput);
        }
        if let Some(n) = self.nodes.get_mut(seq) {
            n.used = self.clock;
            self.work.reused = seq.len();
            self.touch_holder(seq);
            return Ok(());
        }
        // The session cheapest to continue: fewest tokens to evaluate, counting those a
        // recurrent state replays after the rollback; then the longest common prefix, the
        // least recently used.
        let stamps = &self.stamps;
        let (best, keep) = self
            .sessions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let c = s.common_prefix_len(seq);
                let keep = c.min(seq.len() - 1);
                (i, c, keep, seq.len() - keep + s.replay_cost(keep))
            })
            .min_by_key(|&(i, c, _, cost)| (cost, std::cmp::Reverse(c), stamps[i], i))
            .map_or((0, 0), |(i, _, keep, _)| (i, keep));
        self.stamps[best] = self.tick();
        let s = &mut self.sessions[best];
        s.truncate(keep);
        let replayed_before = s.replayed_tokens();
        // With copies sharing checkpoints, the one at the end below is the only one kept.
        let logits = match self.share_checkpoints {
            true => s.eval_without_checkpoints(&seq[keep..])?,
            false => s.eval(&seq[keep..])?,
        };
        let mut node = Node::new(logits, vocab);
        self.work.replayed += s.replayed_tokens() - replayed_before;
        // Every candidate word continues from here (recurrent states: no replay); a session
        // that evaluated this context before may still keep its checkpoint.
        let shared = self.shared_checkpoint(best, seq);
        let s = &mut self.sessions[best];
        if !self.share_checkpoints {
            s.checkpoint_here_sharing(shared);
        } else if shared.is_some() {
            s.checkpoint_here_sharing(shared);
            s.shed_recurrent(SHED_MAX_REPLAY);
        } else {
            // Candidates are evaluated transiently from the checkpoint (copies share it), so
            // the states themselves become it: one copy fewer held.
            s.checkpoint_here_moving_states();
        }
        node.used = self.clock;
        self.work.rows += seq.len() - keep;
        self.work.context_rows += seq.len() - keep;
        self.work.passes += (seq.len() - keep).div_ceil(64);
        self.work.reused = keep;
        self.nodes.insert(seq.to_vec(), node);
        self.shed_idle_states();
        Ok(())
    }

    /// Evaluates the sequences in `seqs` (each one token longer than an evaluated node) that
    /// are not cached yet, all in one batched forward pass. A sequence whose parent's KV cache
    /// is no longer held by a session catches up on the missing tokens in the same pass (more
    /// rows, never more passes).
    pub fn ensure_children(
        &mut self,
        seqs: &[Vec<u32>],
        vocab: &Vocab,
    ) -> Result<(), SessionError> {
        let mut need: Vec<&[u32]> = Vec::new();
        for s in seqs {
            if let Some(n) = self.nodes.get_mut(s.as_slice()) {
                n.used = self.clock;
                // A session still holding this candidate's KV cache is worth keeping: the
                // candidate may become the context (the word is finished) or get children.
                self.touch_holder(s);
            } else if !s.is_empty() && !need.contains(&s.as_slice()) {
                need.push(s);
            }
        }
        if need.is_empty() {
            return Ok(());
        }
        // Keep a few more sessions than a batch needs, so that the KV caches of recent
        // candidates survive for their children at the next keystrokes.
        let want_pool = (need.len() * 2)
            .max(MIN_POOL)
            .min(self.max_sessions)
            .max(need.len());
        while self.sessions.len() < want_pool {
            let f = self.copy_of(0, self.sessions[0].tokens().len());
            self.sessions.push(f);
            self.stamps.push(0);
        }
        let mut taken = vec![false; self.sessions.len()];
        let mut order = Vec::with_capacity(need.len());
        let mut starts = Vec::with_capacity(need.len());
        for seq in &need {
            let parent = &seq[..seq.len() - 1];
            let p = parent.len();
            // As in `ensure_context`: the free session cheapest to continue from the parent.
            let stamps = &self.stamps;
            let best = self
                .sessions
                .iter()
                .enumerate()
                .filter(|(i, _)| !taken[*i])
                .map(|(i, s)| {
                    let c = s.common_prefix_len(parent);
                    (i, c, p - c + s.replay_cost(c))
                })
                .min_by_key(|&(i, c, cost)| (cost, std::cmp::Reverse(c), stamps[i], i))
                .expect("pool has a free session per request");
            let (best, common, cost) = best;
            let mut start = p;
            // A copy of another session holding the parent, when copying (its KV cache, its
            // recurrent states) leaves fewer tokens to evaluate than continuing `best`: always
            // when `best` lacks part of the parent; with recurrent states, also when `best`
            // would replay tokens and the holder's states are nearer the parent.
            let holder = (cost > 0)
                .then(|| {
                    self.sessions
                        .iter()
                        .enumerate()
                        .filter(|&(i, s)| i != best && s.common_prefix_len(parent) == p)
                        .map(|(i, s)| (self.copy_replay_cost(s, p), i))
                        .min()
                })
                .flatten()
                .filter(|&(replay, _)| replay < cost);
            match holder {
                Some((_, h)) => {
                    let f = self.copy_of(h, p);
                    self.sessions[best] = f;
                }
                None if common < p => {
                    self.sessions[best].truncate(common);
                    start = common;
                }
                None => {}
            }
            // A session that would restore and replay its recurrent states evaluates from
            // its checkpoint instead, in this pass and without keeping states.
            start = self.sessions[best].rewind_for_transient(start, seq.len() - start);
            self.stamps[best] = self.tick();
            taken[best] = true;
            order.push(best);
            starts.push(start);
        }
        let lists: Vec<&[u32]> = need.iter().zip(&starts).map(|(s, &a)| &s[a..]).collect();
        let replayed_before: usize = order
            .iter()
            .map(|&i| self.sessions[i].replayed_tokens())
            .sum();
        {
            let mut slots: Vec<Option<&mut Session>> = self.sessions.iter_mut().map(Some).collect();
            let mut batch: Vec<&mut Session> = order
                .iter()
                .map(|&i| slots[i].take().expect("distinct sessions"))
                .collect();
            Session::eval_batch(&mut batch, &lists)?;
        }
        self.work.rows += lists.iter().map(|l| l.len()).sum::<usize>();
        self.work.passes += 1;
        let replayed_after: usize = order
            .iter()
            .map(|&i| self.sessions[i].replayed_tokens())
            .sum();
        self.work.replayed += replayed_after - replayed_before;
        for (seq, &i) in need.iter().zip(&order) {
            let logits = self.sessions[i].logits()?;
            let mut node = Node::new(logits, vocab);
            node.used = self.clock;
            self.nodes.insert(seq.to_vec(), node);
        }
        self.shed_idle_states();
        Ok(())
    }

    /// A copy of session `i`'s first `len` tokens for the pool: shed (sharing its checkpoint,
    /// not copying its live states) with `share_checkpoints`.
    fn copy_of(&self, i: usize, len: usize) -> Session {
        let s = &self.sessions[i];
        if self.share_checkpoints {
            return s.fork_shed(len, SHED_MAX_REPLAY);
        }
        let mut f = s.fork();
        f.truncate(len);
        f
    }

    /// Tokens a copy of `s` by [`Engine::copy_of`] would replay to continue after `len`.
    fn copy_replay_cost(&self, s: &Session, len: usize) -> usize {
        match self.share_checkpoints {
            true => s.replay_cost_shed(len, SHED_MAX_REPLAY),
            false => s.replay_cost(len),
        }
    }

    /// With recurrent layers, frees the states of every session but the `live_states` most
    /// recently used (see there).
    fn shed_idle_states(&mut self) {
        if !self.sessions[0].has_recurrent() {
            return;
        }
        let mut by_use: Vec<usize> = (0..self.sessions.len()).collect();
        by_use.sort_by_key(|&i| std::cmp::Reverse(self.stamps[i]));
        for &i in by_use.iter().skip(self.live_states) {
            // States another session keeps as a checkpoint of the same tokens: shared, so
            // that shedding drops them instead of keeping a second copy.
            if self.sessions[i].holds_recurrent_states() {
                if let Some(c) = self.shared_checkpoint(i, self.sessions[i].tokens()) {
                    self.sessions[i].checkpoint_here_sharing(Some(c));
                }
            }
            self.sessions[i].shed_recurrent(SHED_MAX_REPLAY);
        }
    }

    /// A checkpoint after exactly the tokens `seq` that a session other than `i` keeps (its
    /// tokens start with `seq`): the same states, since they are a function of the tokens.
    fn shared_checkpoint(&self, i: usize, seq: &[u32]) -> Option<SharedCheckpoint> {
        self.sessions
            .iter()
            .enumerate()
            .filter(|&(j, s)| j != i && s.common_prefix_len(seq) == seq.len())
            .find_map(|(_, s)| s.checkpoint_at(seq.len()))
    }

    /// Marks the session holding exactly `seq` (if any) as just used.
    fn touch_holder(&mut self, seq: &[u32]) {
        if let Some(i) = self.sessions.iter().position(|x| x.tokens() == seq) {
            self.stamps[i] = self.tick();
        }
    }

    fn tick(&mut self) -> u64 {
        self.stamp += 1;
        self.stamp
    }

    /// Drops the least recently used nodes beyond the cache budget (never those of this call).
    pub fn trim(&mut self) {
        let total: usize = self.nodes.values().map(Node::bytes).sum();
        if total <= self.cache_bytes {
            return;
        }
        let mut by_age: Vec<(u64, usize, Vec<u32>)> = self
            .nodes
            .iter()
            .filter(|(k, n)| n.used < self.clock && **k != self.pinned)
            .map(|(k, n)| (n.used, n.bytes(), k.clone()))
            .collect();
        by_age.sort();
        let mut total = total;
        for (_, bytes, key) in by_age {
            if total <= self.cache_bytes {
                break;
            }
            self.nodes.remove(&key);
            total -= bytes;
        }
    }
}
