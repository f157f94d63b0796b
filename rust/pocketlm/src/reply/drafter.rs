//! [`ReplyDrafter`]: branch on distinct first words, decode the branches greedily in one
//! batch, filter, dedupe, rank.

use super::filter::{self, Polarity, Rejection};
use super::intent::{self, Intents};
use super::{curated, prompt};
use super::{DraftOptions, Message, Reply, ReplyError, Tone};
use crate::chat_template::{ChatMessage, ChatTemplate};
use crate::model::Model;
use crate::ops::log_softmax;
use crate::sampler::argmax;
use crate::session::{Session, SessionOptions};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How a drafter is set up (defaults suit SmolLM2-135M on two phone cores).
#[derive(Debug, Clone, PartialEq)]
pub struct DrafterConfig {
    pub threads: usize,
    /// KV capacity of the drafting session: few-shot prefix + conversation + reply.
    pub context_length: usize,
    /// Generated candidates decoded together (distinct first words).
    pub branches: usize,
    /// Curated responses scored alongside them.
    pub curated: usize,
    /// Candidates are chosen by `log p(first token | message) - prior_weight * log p(first
    /// token | empty message)`: a first word that is likely whatever the message says
    /// ("You're welcome!") must earn its place.
    pub prior_weight: f32,
    /// Curated responses' scores are multiplied by this (greedy generation maximizes each
    /// token's probability, fixed texts cannot, so raw scores would always favour generation).
    pub curated_bonus: f32,
    /// Weight of the first token's pointwise mutual information with the message in the
    /// final score of generated candidates (log-score += weight × PMI / tokens).
    pub pmi_weight: f32,
    /// The first token's PMI counts at most this many nats (a word copied from the message
    /// is far likelier after it than after nothing; that alone does not make a good reply).
    pub max_pmi: f32,
    /// Weight of a curated response's whole-text PMI with the message (log p(text |
    /// message) − log p(text | empty message)), in its beam rank and final score.
    pub curated_pmi_weight: f32,
    /// The empty-message probabilities of curated responses are computed (once per tone, at
    /// warm-up) for their first this many tokens; the PMI of later tokens counts as 0.
    pub prior_depth: usize,
    /// Score multiplier of candidates that repeat one of the few-shot replies verbatim (their
    /// likelihood is inflated by being in the prompt).
    pub copy_discount: f32,
    /// Longest candidate, in tokens (also the number of decode steps; curated responses
    /// longer than this are not scored); a generated candidate still going then is dropped
    /// unless it ends a sentence.
    pub max_reply_tokens: usize,
    /// Most recent messages of the conversation shown to the model.
    pub max_messages: usize,
    /// Longer messages are clipped to their head and tail (see [`prompt::clip`]).
    pub max_message_chars: usize,
    /// Token budget of the conversation window; older messages are dropped to fit.
    pub max_window_tokens: usize,
    /// No suggestion when the best candidate scores below this.
    pub min_score: f32,
    /// A branch whose first token is this many nats less likely than the best one's is not
    /// tried.
    pub max_first_token_gap: f32,
    /// A declining reply replaces the last suggestion when it scores at least this fraction
    /// of it.
    pub negative_ratio: f32,
    /// Curated responses that best answer the message's kind (an offer: "Yes, please!"; a
    /// request for permission: "Sure, go ahead!"; see [`intent`]) get this many nats in the
    /// beam's ranking (so they are explored) ...
    pub preferred_boost: f32,
    /// ... and their final score is multiplied by this.
    pub preferred_bonus: f32,
    /// Score multiplier of a reply that is a question when the message asks one itself (a
    /// question answered with a question rarely helps).
    pub question_back_discount: f32,
    /// Score multiplier of "I don't know."-like replies ("It depends.", "I'm not sure.")
    /// unless the message asks for an opinion: they fit almost any question, so they are the
    /// last resort.
    pub hedge_discount: f32,
    /// Score multiplier of mild reactions ("Nice!", "Oh, I see.") to a report about oneself,
    /// where interest or a follow-up question ("Tell me more!") is the engaged answer.
    pub mild_discount: f32,
    /// Score multiplier of generated (free-decoded) candidates: a 135M model's own texts are
    /// often odd ("Warmest welcome!"), so they must beat fitting curated ones clearly.
    pub generated_weight: f32,
    /// ... and by this as well when a curated response the message's acts prefer fits
    /// (the act is understood and has a natural answer: "Glad to hear it!" to "Very well,
    /// thanks." rather than the model's "Warmest welcome!").
    pub generated_weight_answered: f32,
    /// A declining reply the message's acts prefer (a polite no to an offer, invitation or
    /// request) replaces the last suggestion when it scores at least this fraction of it
    /// (Smart Reply offers a yes and a no where both fit).
    pub decision_negative_ratio: f32,
}

impl Default for DrafterConfig {
    fn default() -> Self {
        Self {
            threads: crate::session::default_threads(),
            context_length: 1024,
            branches: 2,
            curated: 6,
            prior_weight: 0.5,
            curated_bonus: 1.4,
            pmi_weight: 1.0,
            curated_pmi_weight: 0.7,
            prior_depth: 2,
            max_pmi: 1.5,
            copy_discount: 0.5,
            max_reply_tokens: 6,
            max_messages: 6,
            max_message_chars: 300,
            max_window_tokens: 200,
            min_score: 0.02,
            max_first_token_gap: 6.0,
            negative_ratio: 0.8,
            preferred_boost: 1.5,
            preferred_bonus: 1.3,
            question_back_discount: 0.7,
            hedge_discount: 0.7,
            mild_discount: 0.8,
            generated_weight: 0.8,
            generated_weight_answered: 0.75,
            decision_negative_ratio: 0.3,
        }
    }
}

/// Why no suggestion was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSuggestion {
    /// The message touches a sensitive topic (grief, self-harm, abuse, illness, emergencies).
    Sensitive,
    /// The last message is the device owner's own: there is nothing to reply to.
    LastMessageIsMine,
    /// No candidate passed the filters with a good enough score.
    NothingGood,
}

impl NoSuggestion {
    pub fn as_str(self) -> &'static str {
        match self {
            NoSuggestion::Sensitive => "sensitive",
            NoSuggestion::LastMessageIsMine => "last_message_is_mine",
            NoSuggestion::NothingGood => "nothing_good",
        }
    }
}

/// A generated candidate, kept or not (for evaluation and debugging).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub text: String,
    pub score: f32,
    pub rejected: Option<Rejection>,
    /// From the curated response set (otherwise generated).
    pub curated: bool,
}

/// The full result of one [`ReplyDrafter::draft_detailed`] call.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub replies: Vec<Reply>,
    pub no_suggestion: Option<NoSuggestion>,
    /// Every candidate generated, best first.
    pub candidates: Vec<Candidate>,
    /// Tokens of the whole prompt, and of those the ones evaluated in this call (the rest
    /// came from the cache).
    pub prompt_tokens: usize,
    pub evaluated_tokens: usize,
    /// Batched forward passes after the prompt (one per reply token), and the rows
    /// (candidate tokens) they evaluated: load-independent measures of the work.
    pub steps: usize,
    pub rows: usize,
    pub ms: f64,
}

/// A curated response as the model would produce it in the assistant turn.
#[derive(Debug, Clone)]
struct CuratedReply {
    text: &'static str,
    tokens: Vec<u32>,
    /// The token that ends the turn after it (`<|im_end|>`, or "\n" for the fallback).
    end: u32,
}

struct ToneState {
    session: Session,
    curated: Vec<CuratedReply>,
    trie: Trie,
    /// Log-probabilities of the first reply token after an empty message.
    null_lp: Vec<f32>,
    /// Per trie node: log-probability of its path after an empty message (the prior of the
    /// text so far), and for nodes that end a response, of the path and the end.
    null_path: Vec<f32>,
    null_end: Vec<f32>,
}

struct State {
    /// One session per tone, each holding its few-shot prefix in its KV cache. All are forks
    /// of the first, so they share one thread pool.
    tones: HashMap<Tone, ToneState>,
    base: Session,
}

/// Drafts reply suggestions. `Send + Sync`: calls from several threads are serialized.
pub struct ReplyDrafter {
    model: Arc<Model>,
    template: ChatTemplate,
    config: DrafterConfig,
    state: Mutex<State>,
}

impl std::fmt::Debug for ReplyDrafter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyDrafter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A generated candidate being decoded greedily.
struct Branch {
    session: Session,
    tokens: Vec<u32>,
    logprob: f32,
    /// Log-probabilities counted (tokens plus the end).
    count: usize,
    done: bool,
    finished: bool,
}

/// A node of the token trie of the curated responses (node 0 is the root).
#[derive(Debug, Clone, Default)]
struct TrieNode {
    token: u32,
    children: Vec<usize>,
    /// A response ends here: its index and the end-of-turn token.
    end: Option<(usize, u32)>,
}

#[derive(Debug, Clone, Default)]
struct Trie {
    nodes: Vec<TrieNode>,
}

impl Trie {
    fn build(replies: &[CuratedReply]) -> Trie {
        let mut t = Trie {
            nodes: vec![TrieNode::default()],
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
        t
    }
}

/// A path of the curated trie being scored.
struct Beam {
    node: usize,
    session: Session,
    logprob: f32,
    /// PMI of the path with the message (frozen below the depth the empty-message scores
    /// cover).
    pmi: f32,
    len: usize,
}

impl ReplyDrafter {
    pub fn new(model: Arc<Model>, config: DrafterConfig) -> Result<Self, ReplyError> {
        if config.branches > 16 || config.curated > 16 || config.branches + config.curated == 0 {
            return Err(ReplyError::InvalidOption(format!(
                "branches and curated must be between 0 and 16, not both 0; got {} and {}",
                config.branches, config.curated
            )));
        }
        if config.max_reply_tokens == 0
            || config.max_messages == 0
            || config.max_message_chars < 16
            || config.prior_depth == 0
        {
            return Err(ReplyError::InvalidOption(
                "max_reply_tokens, max_messages and prior_depth must be at least 1, max_message_chars at least 16".into(),
            ));
        }
        let template = ChatTemplate::for_model(&model)?;
        let base = Session::new(
            model.clone(),
            SessionOptions {
                context_length: config.context_length,
                threads: config.threads,
            },
        )?;
        Ok(Self {
            model,
            template,
            config,
            state: Mutex::new(State {
                tones: HashMap::new(),
                base,
            }),
        })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    pub fn config(&self) -> &DrafterConfig {
        &self.config
    }

    /// Evaluates the fixed prompt prefix of `tone` now, so the first `draft` is fast.
    pub fn warm_up(&self, tone: Tone) -> Result<(), ReplyError> {
        let tokens = self
            .template
            .encode(self.model.tokenizer(), &prompt::prefix(tone), false)?;
        let mut state = self.lock();
        let ts = self.tone_state(&mut state, tone)?;
        let keep = ts.session.common_prefix_len(&tokens);
        if keep < tokens.len() {
            ts.session.truncate(keep);
            ts.session.eval(&tokens[keep..])?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tone_state<'a>(
        &self,
        state: &'a mut State,
        tone: Tone,
    ) -> Result<&'a mut ToneState, ReplyError> {
        if !state.tones.contains_key(&tone) {
            let curated = self.curated_tokens(tone)?;
            let mut session = state.base.fork();
            let mut msgs = prompt::prefix(tone);
            msgs.push(ChatMessage::user(""));
            let null = self.template.encode(self.model.tokenizer(), &msgs, true)?;
            let logits = session.sync_to(&null)?;
            let mut null_lp = vec![0.0f32; logits.len()];
            log_softmax(logits, &mut null_lp);
            let trie = Trie::build(&curated);
            let (null_path, null_end) =
                null_scores(&session, &curated, &trie, &null_lp, self.config.prior_depth)?;
            state.tones.insert(
                tone,
                ToneState {
                    session,
                    curated,
                    trie,
                    null_lp,
                    null_path,
                    null_end,
                },
            );
        }
        Ok(state.tones.get_mut(&tone).expect("inserted above"))
    }

    /// Tokenizes the curated responses exactly as they appear in an assistant turn, with the
    /// token that ends the turn.
    fn curated_tokens(&self, tone: Tone) -> Result<Vec<CuratedReply>, ReplyError> {
        let tok = self.model.tokenizer();
        let t = &self.template;
        let user = [ChatMessage::user("x")];
        let p = t.render(&user, true)?;
        let tp = t.encode(tok, &user, true)?;
        let fallback_end = tok.eot().or(tok.eos()).unwrap_or(0);
        let mut out: Vec<CuratedReply> = Vec::new();
        for &text in curated::responses(tone) {
            if out.iter().any(|c| c.text == text) {
                continue;
            }
            let q = t.render(&[user[0].clone(), ChatMessage::assistant(text)], false)?;
            let with_reply = tok.encode(&format!("{p}{text}"), !t.has_bos(&p), true);
            let c = tp
                .iter()
                .zip(&with_reply)
                .take_while(|(a, b)| a == b)
                .count();
            let tokens = with_reply[c..].to_vec();
            let tq = tok.encode(&q, !t.has_bos(&q), true);
            let end = if q.starts_with(&p)
                && tq.starts_with(&with_reply)
                && tq.len() > with_reply.len()
            {
                tq[with_reply.len()]
            } else {
                fallback_end
            };
            // Longer responses are never reached by the beam (one token per decode step).
            if !tokens.is_empty() && tokens.len() <= self.config.max_reply_tokens {
                out.push(CuratedReply { text, tokens, end });
            }
        }
        Ok(out)
    }

    /// Up to `options.n` suggestions for the last message of `conversation`, best first;
    /// empty when none fits (see [`ReplyDrafter::draft_detailed`] for why).
    pub fn draft(
        &self,
        conversation: &[Message],
        options: &DraftOptions,
    ) -> Result<Vec<Reply>, ReplyError> {
        Ok(self.draft_detailed(conversation, options)?.replies)
    }

    /// Like [`ReplyDrafter::draft`], with the reason for no suggestion, every candidate and
    /// timings.
    pub fn draft_detailed(
        &self,
        conversation: &[Message],
        options: &DraftOptions,
    ) -> Result<Draft, ReplyError> {
        self.draft_detailed_cancellable(conversation, options, &AtomicBool::new(false))
    }

    /// Like [`ReplyDrafter::draft_detailed`], returning [`ReplyError::Cancelled`] once
    /// `cancel` is set. It is checked before the prompt is evaluated and between decode
    /// steps (a step takes a few tens of milliseconds). A cancelled call leaves the cache
    /// holding only fully evaluated prompt tokens, so later drafts are unaffected.
    pub fn draft_detailed_cancellable(
        &self,
        conversation: &[Message],
        options: &DraftOptions,
        cancel: &AtomicBool,
    ) -> Result<Draft, ReplyError> {
        let conversation = &*crate::input_bounds::reply_conversation(conversation);
        let cancelled = || {
            if cancel.load(Ordering::Relaxed) {
                Err(ReplyError::Cancelled)
            } else {
                Ok(())
            }
        };
        let t0 = Instant::now();
        if options.n == 0 || options.n > 8 {
            return Err(ReplyError::InvalidOption(format!(
                "n must be between 1 and 8, got {}",
                options.n
            )));
        }
        if options.max_words == 0 {
            return Err(ReplyError::InvalidOption(
                "max_words must be at least 1".into(),
            ));
        }
        let last = conversation.last().ok_or(ReplyError::EmptyConversation)?;
        if last.text.trim().is_empty() {
            return Err(ReplyError::EmptyMessage);
        }
        cancelled()?;
        let none = |reason| Draft {
            replies: Vec::new(),
            no_suggestion: Some(reason),
            candidates: Vec::new(),
            prompt_tokens: 0,
            evaluated_tokens: 0,
            steps: 0,
            rows: 0,
            ms: t0.elapsed().as_secs_f64() * 1e3,
        };
        if last.from_me {
            return Ok(none(NoSuggestion::LastMessageIsMine));
        }
        if filter::is_sensitive(&last.text) {
            return Ok(none(NoSuggestion::Sensitive));
        }
        let tok = self.model.tokenizer();
        let tokens = self.prompt_tokens(conversation, options.tone)?;

        let mut state = self.lock();
        cancelled()?;
        let ts = self.tone_state(&mut state, options.tone)?;
        cancelled()?;
        let session = &mut ts.session;
        let cached = session.common_prefix_len(&tokens).min(tokens.len() - 1);
        let logits = session.sync_to(&tokens)?;
        cancelled()?;
        let mut lp0 = vec![0.0f32; logits.len()];
        log_softmax(logits, &mut lp0);

        // Generated branches: distinct first words, most likely first.
        let w = self.config.prior_weight;
        let adjusted = |id: u32| lp0[id as usize] - w * ts.null_lp[id as usize];
        let mut order: Vec<u32> = (0..lp0.len() as u32).collect();
        let top = 64.min(order.len());
        order.select_nth_unstable_by(top - 1, |&a, &b| {
            lp0[b as usize].total_cmp(&lp0[a as usize])
        });
        order.truncate(top);
        let best = order
            .iter()
            .map(|&id| lp0[id as usize])
            .fold(f32::NEG_INFINITY, f32::max);
        order.retain(|&id| lp0[id as usize] >= best - self.config.max_first_token_gap);
        order.sort_by(|&a, &b| adjusted(b).total_cmp(&adjusted(a)));
        let mut firsts: Vec<u32> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        for &id in &order {
            if firsts.len() >= self.config.branches {
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
        let mut branches: Vec<Branch> = firsts
            .iter()
            .map(|&id| Branch {
                session: session.fork(),
                tokens: vec![id],
                logprob: lp0[id as usize],
                count: 1,
                done: false,
                finished: false,
            })
            .collect();

        // Curated responses: a beam search over their token trie, started from the first
        // tokens that are most likely for this message (relative to an empty message).
        let k = self.config.curated;
        let trie = &ts.trie;
        // Paths that lead to a response fitting this kind of message (children come after
        // their parent in the node list).
        let intents = Intents::of(&last.text);
        let mut open = vec![false; trie.nodes.len()];
        // Paths that lead to a response preferred for this kind of message.
        let mut pref = vec![false; trie.nodes.len()];
        for n in (0..trie.nodes.len()).rev() {
            let node = &trie.nodes[n];
            let fits = node.end.is_some_and(|(i, _)| {
                filter::fits_context_with(ts.curated[i].text, &last.text, &intents)
            });
            open[n] = fits || node.children.iter().any(|&c| open[c]);
            pref[n] = (fits
                && node
                    .end
                    .is_some_and(|(i, _)| intent::preferred(ts.curated[i].text, &intents)))
                || node.children.iter().any(|&c| pref[c]);
        }
        let boost = |n: usize| {
            if pref[n] {
                self.config.preferred_boost
            } else {
                0.0
            }
        };
        let mut roots: Vec<usize> = trie.nodes[0]
            .children
            .iter()
            .copied()
            .filter(|&n| {
                // A preferred response may start with a less likely word ("Tell me more!"
                // after a report): its path is tried within a wider gap.
                open[n]
                    && lp0[trie.nodes[n].token as usize]
                        >= best - self.config.max_first_token_gap - 2.0 * boost(n)
            })
            .collect();
        let cw = self.config.curated_pmi_weight;
        let root_rank = |n: usize| {
            let l = lp0[trie.nodes[n].token as usize];
            l + cw * (l - ts.null_path[n]) + boost(n)
        };
        roots.sort_by(|&x, &y| root_rank(y).total_cmp(&root_rank(x)));
        // Up to half of the beam starts on paths to preferred responses (the answers the
        // message's acts want, e.g. a follow-up question to a report), however unlikely their
        // first word; the rest by rank.
        let reserved: Vec<usize> = roots
            .iter()
            .copied()
            .filter(|&n| pref[n])
            .take(k / 2)
            .collect();
        let mut rest = roots.iter().copied().filter(|n| !reserved.contains(n));
        let mut picked = reserved.clone();
        while picked.len() < k {
            match rest.next() {
                Some(n) => picked.push(n),
                None => break,
            }
        }
        picked.sort_by(|&x, &y| root_rank(y).total_cmp(&root_rank(x)));
        let mut roots = picked;
        roots.truncate(k);
        let mut beams: Vec<Beam> = roots
            .iter()
            .map(|&n| Beam {
                node: n,
                pmi: lp0[trie.nodes[n].token as usize] - ts.null_lp[trie.nodes[n].token as usize],
                session: session.fork(),
                logprob: lp0[trie.nodes[n].token as usize],
                len: 1,
            })
            .collect();
        // (text, log p(text, end | message), tokens counted, PMI(text, end))
        let mut scored: Vec<(&'static str, f32, usize, f32)> = Vec::new();
        let max_len = self.config.max_reply_tokens;

        let mut lp = vec![0.0f32; lp0.len()];
        let mut step_tokens: Vec<u32> = branches.iter().map(|b| b.tokens[0]).collect();
        let mut evaluated = tokens.len() - cached;
        let (mut steps, mut rows) = (0usize, 0usize);
        for _ in 0..self.config.max_reply_tokens {
            let active: Vec<usize> = (0..branches.len()).filter(|&i| !branches[i].done).collect();
            if active.is_empty() && beams.is_empty() {
                break;
            }
            cancelled()?;
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
                evaluated += toks.len();
                steps += 1;
                rows += toks.len();
            }
            for &i in &active {
                let b = &mut branches[i];
                let logits = b.session.logits()?;
                let next = argmax(logits);
                let l = logits[next as usize] - log_norm(logits, &mut lp);
                let piece = tok.token_bytes(next);
                if tok.is_end_of_generation(next) || piece.contains(&b'\n') {
                    b.logprob += l;
                    b.count += 1;
                    b.done = true;
                    b.finished = true;
                } else if b.tokens.len() >= self.config.max_reply_tokens {
                    b.done = true;
                } else {
                    b.tokens.push(next);
                    b.logprob += l;
                    b.count += 1;
                    step_tokens[i] = next;
                }
            }
            // Finish the responses that end here; extend the best k continuations.
            // (beam, child node, log p(path), PMI(path))
            let mut expansions: Vec<(usize, usize, f32, f32)> = Vec::new();
            for (bi, b) in beams.iter().enumerate() {
                let logits = b.session.logits()?;
                let z = log_norm(logits, &mut lp);
                let node = &trie.nodes[b.node];
                if let Some((idx, end)) = node.end {
                    let l = b.logprob + logits[end as usize] - z;
                    let null = ts.null_end[b.node];
                    scored.push((
                        ts.curated[idx].text,
                        l,
                        b.len + 1,
                        if null.is_finite() { l - null } else { b.pmi },
                    ));
                }
                if b.len >= max_len {
                    continue;
                }
                for &c in node.children.iter().filter(|&&c| open[c]) {
                    let l = b.logprob + logits[trie.nodes[c].token as usize] - z;
                    let null = ts.null_path[c];
                    expansions.push((bi, c, l, if null.is_finite() { l - null } else { b.pmi }));
                }
            }
            // The most promising continuations by their log-probability and their pointwise
            // mutual information with the message (log p(text | message) − log p(text |
            // empty message)): a text that is likely whatever the message says must earn
            // its place.
            let rank = |e: &(usize, usize, f32, f32)| e.2 + cw * e.3 + boost(e.1);
            expansions.sort_by(|x, y| rank(y).total_cmp(&rank(x)));
            expansions.truncate(k);
            let mut uses = vec![0usize; beams.len()];
            for e in &expansions {
                uses[e.0] += 1;
            }
            // Sessions of beams not continued are reused for parents continued twice (only
            // the few reply positions are copied, not the whole prompt's cache).
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
            beams = Vec::with_capacity(expansions.len());
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
                beams.push(Beam {
                    node: c,
                    session,
                    logprob: l,
                    pmi,
                    len,
                });
            }
        }
        let null_lp = ts.null_lp.clone();
        drop(state);

        let message = &last.text;
        let pmi = |id: u32| lp0[id as usize] - null_lp[id as usize];
        let copies: Vec<String> = prompt::prefix(options.tone)
            .iter()
            .filter(|m| m.role == crate::chat_template::Role::Assistant)
            .map(|m| filter::key(&m.content))
            .collect();
        let cfg = &self.config;
        let final_score = |logprob: f32, count: usize, pmi: f32, bonus: f32, text: &str| {
            let mut s = ((logprob + pmi) / count as f32).exp() * bonus;
            if intent::hedge(text) && !intents.opinion {
                s *= cfg.hedge_discount;
            }
            if intent::mild(text) && intents.about_me {
                s *= cfg.mild_discount;
            }
            if copies.iter().any(|c| filter::near_duplicate(c, text)) {
                s *= cfg.copy_discount;
            }
            s.min(1.0)
        };
        let check = |text: &str| {
            filter::check(text, message, options.max_words, &options.blocklist)
                .err()
                .or_else(|| {
                    (!filter::fits_context_with(text, message, &intents))
                        .then_some(Rejection::OffContext)
                })
        };
        // A question back to a question (not a clarifying one the message's kind admits, as
        // "What time?" to an invitation: those are curated and gated by their cues).
        let question_back = |text: &str, curated: bool| {
            intents.asks()
                && !intents.invitation
                && text.trim_end().ends_with('?')
                && !(curated && intent::preferred(text, &intents))
        };
        let answered = scored
            .iter()
            .any(|&(text, ..)| intent::preferred(text, &intents) && check(text).is_none());
        let generated_weight = if answered {
            cfg.generated_weight * cfg.generated_weight_answered
        } else {
            cfg.generated_weight
        };
        let mut candidates: Vec<Candidate> = branches
            .iter()
            .map(|b| {
                let decoded = tok.decode(&b.tokens, true);
                let mut text = clean(&decoded);
                if !b.finished {
                    // Cut a reply still going at the token limit back to its last clause.
                    text = match text.rfind([',', '.', '!', '?']) {
                        Some(i) if filter::words(&text[..i]).len() >= 2 => {
                            let end = if text[i..].starts_with(',') { i } else { i + 1 };
                            text[..end].trim().to_owned()
                        }
                        _ => text,
                    };
                }
                let mut rejected = check(&text);
                if rejected.is_none() && filter::parrots(&text, message) {
                    rejected = Some(Rejection::EchoesMessage);
                }
                if rejected.is_none() && !b.finished && !text.ends_with([',', '.', '!', '?']) {
                    let cut = text.len() < decoded.trim().len();
                    // A reply stopped by the token limit that is a whole curated response
                    // ("Nice to meet you too", 7 tokens with its "!") is finished.
                    let k = filter::key(&text);
                    if let Some(&whole) = curated::responses(options.tone)
                        .iter()
                        .find(|r| filter::key(r) == k)
                    {
                        text = whole.to_owned();
                    } else if !cut {
                        rejected = Some(Rejection::Unfinished);
                    }
                }
                let discount = if question_back(&text, false) {
                    cfg.question_back_discount * generated_weight
                } else {
                    generated_weight
                };
                Candidate {
                    score: final_score(
                        b.logprob,
                        b.count,
                        cfg.pmi_weight * pmi(b.tokens[0]).min(cfg.max_pmi),
                        discount,
                        &text,
                    ),
                    text,
                    rejected,
                    curated: false,
                }
            })
            .collect();
        candidates.extend(scored.iter().map(|&(text, logprob, count, pmi)| {
            let mut bonus = self.config.curated_bonus;
            if intent::preferred(text, &intents) {
                bonus *= self.config.preferred_bonus;
            }
            if question_back(text, true) {
                bonus *= self.config.question_back_discount;
            }
            Candidate {
                text: text.to_owned(),
                score: final_score(logprob, count, cw * pmi, bonus, text),
                rejected: check(text),
                curated: true,
            }
        }));
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        let replies = select(
            &candidates,
            options.n,
            &|text: &str| {
                // A polite no the acts prefer ("No, thanks." to an offer, "Sorry, I can't."
                // to an invitation or a request) is offered beside a yes more readily.
                if intent::preferred(text, &intents) {
                    self.config.decision_negative_ratio
                } else {
                    self.config.negative_ratio
                }
            },
            filter::is_question(message) || intents.decision(),
        );
        let no_suggestion = match replies.first() {
            None => Some(NoSuggestion::NothingGood),
            Some(r) if r.score < self.config.min_score => Some(NoSuggestion::NothingGood),
            _ => None,
        };
        Ok(Draft {
            replies: if no_suggestion.is_some() {
                Vec::new()
            } else {
                replies
            },
            no_suggestion,
            candidates,
            prompt_tokens: tokens.len(),
            evaluated_tokens: evaluated,
            steps,
            rows,
            ms: t0.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Prompt tokens for a conversation: prefix + window, with older messages dropped (and
    /// the last one clipped harder) until the window fits its budget and the context.
    fn prompt_tokens(&self, conversation: &[Message], tone: Tone) -> Result<Vec<u32>, ReplyError> {
        let tok = self.model.tokenizer();
        let prefix = prompt::prefix(tone);
        let prefix_len = self.template.encode(tok, &prefix, false)?.len();
        let ctx = self
            .config
            .context_length
            .min(self.model.config().train_ctx);
        let mut max_messages = self.config.max_messages;
        let mut max_chars = self.config.max_message_chars;
        loop {
            let window = prompt::window(conversation, max_messages, max_chars);
            if window.is_empty() {
                return Err(ReplyError::EmptyMessage);
            }
            let mut msgs: Vec<ChatMessage> = prefix.clone();
            msgs.extend(window);
            let tokens = self.template.encode(tok, &msgs, true)?;
            let window_tokens = tokens.len().saturating_sub(prefix_len);
            let fits = window_tokens <= self.config.max_window_tokens
                && tokens.len() + self.config.max_reply_tokens < ctx;
            if fits {
                return Ok(tokens);
            }
            if max_messages > 1 {
                max_messages -= 1;
            } else if max_chars > 16 {
                max_chars /= 2;
            } else {
                return Err(ReplyError::InvalidOption(format!(
                    "the context ({ctx} tokens) is too small for the reply prompt"
                )));
            }
        }
    }
}

/// Scores the curated responses after the empty message (the null context in `session`), up
/// to `depth` tokens: per trie node of depth ≤ `depth`, the log-probability of its path, and
/// for such nodes that end a response, of the path and the end token (others stay −∞:
/// unknown). Distinct prefixes are evaluated in groups, one batched forward pass per group.
fn null_scores(
    session: &Session,
    curated: &[CuratedReply],
    trie: &Trie,
    null_lp: &[f32],
    depth: usize,
) -> Result<(Vec<f32>, Vec<f32>), ReplyError> {
    const GROUP: usize = 16;
    let mut path = vec![f32::NEG_INFINITY; trie.nodes.len()];
    let mut end = vec![f32::NEG_INFINITY; trie.nodes.len()];
    for &c in &trie.nodes[0].children {
        path[c] = null_lp[trie.nodes[c].token as usize];
    }
    // The distinct prefixes whose logits are needed: a response's first `depth` tokens, or
    // the whole response (with its end) when it is no longer. Only the tokens after the
    // first need a pass, so nothing runs for depth 1 except the responses of one token.
    let mut seqs: Vec<(&[u32], Option<u32>)> = Vec::new();
    for c in curated {
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
    let mut rows: Vec<Session> = (0..GROUP.min(seqs.len())).map(|_| session.fork()).collect();
    let mut lp = vec![0.0f32; vocab];
    let mut out = Vec::new();
    // Children of `node` whose token is `t`.
    let child = |node: usize, t: u32| {
        trie.nodes[node]
            .children
            .iter()
            .copied()
            .find(|&n| trie.nodes[n].token == t)
            .expect("the trie holds every response")
    };
    for group in seqs.chunks(GROUP) {
        let mut refs: Vec<&mut Session> = rows.iter_mut().take(group.len()).collect();
        for s in refs.iter_mut() {
            s.truncate(base);
        }
        let toks: Vec<&[u32]> = group.iter().map(|(t, _)| *t).collect();
        Session::eval_batch_all(&mut refs, &toks, &mut out)?;
        let mut at = 0;
        for &(t, e) in group {
            let mut node = child(0, t[0]);
            let mut acc = path[node];
            for i in 0..t.len() {
                log_softmax(&out[(at + i) * vocab..(at + i + 1) * vocab], &mut lp);
                if i + 1 < t.len() {
                    node = child(node, t[i + 1]);
                    acc += lp[t[i + 1] as usize];
                    path[node] = acc;
                    continue;
                }
                if let Some(e) = e {
                    end[node] = acc + lp[e as usize];
                }
                if t.len() < depth {
                    // The children one level deeper (at most at `depth`).
                    for &c in &trie.nodes[node].children {
                        path[c] = acc + lp[trie.nodes[c].token as usize];
                    }
                }
            }
            at += t.len();
        }
    }
    Ok((path, end))
}

/// `log Σ exp(logits)`: a token's log-probability is its logit minus this. (SIMD exp; the
/// drafter needs only a few log-probabilities per row, not the whole distribution.)
fn log_norm(logits: &[f32], scratch: &mut Vec<f32>) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    scratch.clear();
    scratch.extend_from_slice(logits);
    let sum = crate::kernels::attention::exp_sum(crate::kernels::selected_tier(), scratch, max);
    max + sum.ln()
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF)
}

/// Trims a candidate and removes stray quotes around it.
fn clean(text: &str) -> String {
    let t = text.trim();
    let t = t.trim_matches('"').trim();
    t.to_owned()
}

/// Valid, distinct candidates, best first, with a declining reply swapped in when plausible.
fn select(
    candidates: &[Candidate],
    n: usize,
    negative_ratio: &dyn Fn(&str) -> f32,
    question: bool,
) -> Vec<Reply> {
    let mut distinct: Vec<&Candidate> = Vec::new();
    for c in candidates.iter().filter(|c| c.rejected.is_none()) {
        if !distinct
            .iter()
            .any(|d| filter::near_duplicate(&d.text, &c.text))
        {
            distinct.push(c);
        }
    }
    // Greedy selection with a diversity penalty: a reply opening with the same word as one
    // already chosen, or taking the same (non-neutral) stance, must score clearly higher.
    let mut chosen: Vec<&Candidate> = Vec::new();
    let mut rest = distinct.clone();
    let is_q = |t: &str| t.trim_end().ends_with('?');
    while chosen.len() < n && !rest.is_empty() {
        let adjusted = |c: &Candidate| {
            let first = filter::words(&c.text).into_iter().next();
            let pol = filter::polarity(&c.text);
            let mut s = c.score;
            if chosen
                .iter()
                .any(|d| filter::words(&d.text).into_iter().next() == first)
            {
                s *= 0.75;
            }
            if pol != Polarity::Neutral && chosen.iter().any(|d| filter::polarity(&d.text) == pol) {
                s *= 0.85;
            }
            // Two replies of one family say the same kind of thing ("That's great!",
            // "That's awesome!"): the set should cover different intents.
            let fam = intent::family(&c.text);
            if fam.is_some()
                && chosen
                    .iter()
                    .any(|d| intent::family(&d.text) == fam && filter::polarity(&d.text) == pol)
            {
                s *= 0.7;
            }
            // One question back is enough: the others should answer.
            if is_q(&c.text) && chosen.iter().any(|d| is_q(&d.text)) {
                s *= 0.6;
            }
            s
        };
        let (i, _) = rest
            .iter()
            .enumerate()
            .map(|(i, c)| (i, adjusted(c)))
            .fold((0, f32::NEG_INFINITY), |b, x| if x.1 > b.1 { x } else { b });
        chosen.push(rest.remove(i));
    }
    let distinct: Vec<&Candidate> = chosen.iter().copied().chain(rest).collect();
    let has = |set: &[&Candidate], p| set.iter().any(|c| filter::polarity(&c.text) == p);
    if question
        && n >= 2
        && chosen.len() == n
        && has(&chosen, Polarity::Positive)
        && !has(&chosen, Polarity::Negative)
    {
        if let Some(neg) = distinct[n..]
            .iter()
            .find(|c| filter::polarity(&c.text) == Polarity::Negative)
        {
            let last = chosen[n - 1];
            let positives = chosen
                .iter()
                .filter(|c| filter::polarity(&c.text) == Polarity::Positive)
                .count();
            let replaceable = filter::polarity(&last.text) != Polarity::Positive || positives > 1;
            if replaceable && neg.score >= negative_ratio(&neg.text) * last.score {
                chosen[n - 1] = neg;
            }
        }
    }
    chosen.sort_by(|a, b| b.score.total_cmp(&a.score));
    chosen
        .into_iter()
        .map(|c| Reply {
            text: c.text.clone(),
            score: c.score,
        })
        .collect()
}
