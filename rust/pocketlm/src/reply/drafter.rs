//! [`ReplyDrafter`]: the staged pipeline. gate → acts → candidates (catalog beam and
//! generated branches, [`decode`]) → scores and filters ([`score`]) → selection
//! ([`select`]). The policy (responses, clusters, stances, acts, lexicons) is the
//! [`Catalog`]; every number is in [`DrafterConfig`].

use super::acts::{self, Act, Acts};
use super::catalog::{Catalog, Stance};
use super::cluster_prior::{self, PriorReading};
use super::config::{DrafterConfig, Reading};
use super::decode::{self, DecodeInput, TokenizedResponse, Trie};
use super::filter::{self, Rejection};
use super::reader_acceptance::InContext;
use super::reading_head::{self, ReadingHead};
use super::spelling;
use super::{gate, options, prompt, score, select, warm};
use super::{DraftOptions, Message, Reply, ReplyError, Tone};
use crate::chat_template::{ChatMessage, ChatTemplate};
use crate::model::Model;
use crate::ops::log_softmax;
use crate::session::{Session, SessionOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Why no suggestion was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSuggestion {
    /// The message touches a sensitive topic (grief, self-harm, abuse, illness, emergencies).
    Sensitive,
    /// The last message is the device owner's own: there is nothing to reply to.
    LastMessageIsMine,
    /// No candidate passed the filters with a good enough score.
    NothingGood,
    /// The message is automated (a one-time code, a do-not-reply notice): nobody answers it.
    Automated,
    /// The message only acknowledges or closes ("ok", "sounds good", "👍"): it asks for no
    /// answer.
    Closing,
    /// The learned reading (the reading head's silence output) judges the message one
    /// nobody answers, where the gate's rules did not: a notice from a sender they do not
    /// know, serious news in words their lexicons lack.
    NoReplyExpected,
}

impl NoSuggestion {
    /// A stable name for logs and JSON, e.g. `sensitive`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoSuggestion::Sensitive => "sensitive",
            NoSuggestion::LastMessageIsMine => "last_message_is_mine",
            NoSuggestion::NothingGood => "nothing_good",
            NoSuggestion::Automated => "automated",
            NoSuggestion::Closing => "closing",
            NoSuggestion::NoReplyExpected => "no_reply_expected",
        }
    }
}

/// A candidate reply, kept or not (for evaluation and debugging).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The reply text.
    pub text: String,
    /// Its score, as [`Reply::score`].
    pub score: f32,
    /// Why a filter rejected it (`None`: it passed the filters).
    pub rejected: Option<Rejection>,
    /// From the catalog (otherwise generated).
    pub curated: bool,
    /// The catalog cluster and stance of the text (generated text equal to a catalog
    /// response has them too).
    pub cluster: Option<String>,
    /// See `cluster`.
    pub stance: Option<Stance>,
    /// A preferred answer to the message's acts.
    pub preferred: bool,
    /// Its cluster is a hedge ("I'm not sure."): it fits almost any question, so a second
    /// reply of that cluster adds nothing to the first.
    pub hedge: bool,
}

/// The full result of one [`ReplyDrafter::draft_detailed`] call.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// The suggestions, best first (what [`ReplyDrafter::draft`] returns).
    pub replies: Vec<Reply>,
    /// Why there are none, when there are none.
    pub no_suggestion: Option<NoSuggestion>,
    /// Every candidate, best first.
    pub candidates: Vec<Candidate>,
    /// The dialogue acts read from the message (catalog names).
    pub acts: Vec<&'static str>,
    /// The reading head's probability that nobody answers the message (`None`: not read,
    /// e.g. gated by the rules first or no head); compared with `silence_at`.
    pub silence: Option<f32>,
    /// The reading head's probability that the message asks the reader to decide something
    /// (`None`: not read); compared with `asks_at` for the reader acceptance's context.
    pub asks: Option<f32>,
    /// Tokens of the whole prompt, and of those the ones evaluated in this call (the rest
    /// came from the cache).
    pub prompt_tokens: usize,
    /// See `prompt_tokens`.
    pub evaluated_tokens: usize,
    /// Batched forward passes after the prompt (one per reply token), and the rows
    /// (candidate tokens) they evaluated: load-independent measures of the work.
    pub steps: usize,
    /// See `steps`.
    pub rows: usize,
    /// Wall-clock milliseconds of the call.
    pub ms: f64,
    /// The replies that name an option of an either/or question (`reply/options.rs`),
    /// shown first.
    pub options: Vec<String>,
}

struct ToneState {
    session: Session,
    replies: Vec<TokenizedResponse>,
    trie: Trie,
    /// Log-probabilities of the first reply token after an empty message.
    null_lp: Vec<f32>,
    /// Tokens of the fixed prefix: the conversation starts here (the reading head pools
    /// the hidden states from this position on).
    prefix_len: usize,
    /// The warm-up was loaded from the state directory (not evaluated).
    warm_start: bool,
    /// Wall-clock milliseconds of the warm-up (evaluated or loaded).
    warm_up_ms: f64,
}

impl ToneState {
    /// Keeps the conversation's hidden states from now on (positions after the prefix
    /// evaluated before are evaluated again).
    fn capture(&mut self) {
        if self.session.hidden_capture_from() != Some(self.prefix_len) {
            self.session.capture_hidden(Some(self.prefix_len));
        }
    }
}

struct State {
    /// One session per tone, each holding its few-shot prefix in its KV cache; all are
    /// forks of `base`, so they share one thread pool.
    tones: HashMap<Tone, ToneState>,
    base: Session,
}

/// Drafts reply suggestions. `Send + Sync`: calls from several threads are serialized.
pub struct ReplyDrafter {
    model: Arc<Model>,
    template: ChatTemplate,
    config: DrafterConfig,
    catalog: &'static Catalog,
    /// The reading head for this model (`config.reading` is `Head` and one exists).
    head: Option<Arc<ReadingHead>>,
    /// `config.ignored_acts`, parsed.
    ignored_acts: Acts,
    /// Where tone warm-ups are saved and loaded from ([`ReplyDrafter::with_state_dir`]).
    state_dir: Option<PathBuf>,
    state: Mutex<State>,
}

impl std::fmt::Debug for ReplyDrafter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyDrafter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ReplyDrafter {
    /// A drafter over `model` (shared, not copied). Checks `config`; the few-shot prompt is
    /// evaluated on the first draft of each tone (or by [`ReplyDrafter::warm_up`]) and kept.
    pub fn new(model: Arc<Model>, config: DrafterConfig) -> Result<Self, ReplyError> {
        let catalog = Catalog::builtin().map_err(|e| ReplyError::InvalidOption(e.to_string()))?;
        Self::with_catalog(model, config, catalog)
    }

    /// A drafter reading `catalog` instead of the builtin one (the project's evaluation
    /// tries other cluster priors with it).
    #[doc(hidden)]
    pub fn with_catalog(
        model: Arc<Model>,
        config: DrafterConfig,
        catalog: &'static Catalog,
    ) -> Result<Self, ReplyError> {
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
        let prior_numbers = [
            config.prior_open,
            config.prior_prefer,
            config.prior_exponent,
            config.prior_unclustered,
            config.prior_beam_weight,
        ];
        if prior_numbers.iter().any(|x| !(x.is_finite() && *x >= 0.0))
            || !(config.prior_unclustered > 0.0 && config.prior_unclustered <= 1.0)
        {
            return Err(ReplyError::InvalidOption(format!(
                "prior_open, prior_prefer, prior_exponent and prior_beam_weight must be finite and \
                 at least 0, prior_unclustered in (0, 1]; got {prior_numbers:?}"
            )));
        }
        if !(0.0..=1.0).contains(&config.min_acceptance) {
            return Err(ReplyError::InvalidOption(format!(
                "min_acceptance must be in [0, 1]; got {}",
                config.min_acceptance
            )));
        }
        if !(0.0..=1.0).contains(&config.head_weight) {
            return Err(ReplyError::InvalidOption(format!(
                "head_weight must be in [0, 1]; got {}",
                config.head_weight
            )));
        }
        let mut ignored_acts = Acts::default();
        for name in &config.ignored_acts {
            let act = Act::parse(name).ok_or_else(|| {
                ReplyError::InvalidOption(format!(
                    "ignored_acts: {name:?} is not an act name (see reply/acts.rs)"
                ))
            })?;
            ignored_acts.insert(act);
        }
        let template = ChatTemplate::for_model(&model)?;
        let head = match config.reading {
            Reading::Head => ReadingHead::builtin_for(&model, catalog)
                .map_err(|e| ReplyError::InvalidOption(e.to_string()))?
                .map(Arc::new),
            _ => None,
        };
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
            catalog,
            head,
            ignored_acts,
            state_dir: None,
            state: Mutex::new(State {
                tones: HashMap::new(),
                base,
            }),
        })
    }

    /// Keeps each tone's warm-up in `dir` (created when missing): the first warm-up of a tone
    /// loads it from there when a file for this model, prefix and catalog exists and is
    /// valid, and otherwise evaluates it and saves it there. The file's name is a hash of
    /// what it depends on, so a changed prefix is never loaded. A missing, corrupted or stale
    /// file is only logged and rewritten, and a failed save is only logged: drafting works
    /// without the directory (docs/state.md, "Warm starts of the reply drafter").
    pub fn with_state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// The state directory ([`ReplyDrafter::with_state_dir`]).
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// Whether the warm-up of `tone` was loaded from the state directory (`None`: not warmed
    /// up yet), and its wall-clock milliseconds.
    pub fn warm_start(&self, tone: Tone) -> Option<(bool, f64)> {
        self.lock()
            .tones
            .get(&tone)
            .map(|t| (t.warm_start, t.warm_up_ms))
    }

    /// The model it runs.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &DrafterConfig {
        &self.config
    }

    /// The reply catalog this drafter uses (an internal type: for the project's evaluation
    /// and tests, through `pocketlm::internals::reply`).
    #[doc(hidden)]
    pub fn catalog(&self) -> &'static Catalog {
        self.catalog
    }

    /// Replaces the reading head (`None`: none, the word prior reads instead); the project's
    /// evaluation tries heads trained without a case set with it. Only read when
    /// `config.reading` is `Head`. A head of another model or width is an error.
    #[doc(hidden)]
    pub fn with_reading_head(mut self, head: Option<ReadingHead>) -> Result<Self, ReplyError> {
        if let Some(h) = &head {
            let fp = reading_head::model_fingerprint(&self.model);
            let dims = 2 * self.model.config().n_embd;
            if h.model != fp || h.dims != dims {
                return Err(ReplyError::InvalidOption(format!(
                    "the reading head is for model {:016x} with {} features; this model is \
                     {fp:016x} with {dims}",
                    h.model, h.dims
                )));
            }
        }
        self.head = head.map(Arc::new);
        Ok(self)
    }

    /// The reading in use: `Head` only when a head exists for the model (otherwise the
    /// drafter reads as `Prior`).
    pub fn reading(&self) -> Reading {
        match self.config.reading {
            Reading::Head if self.head.is_none() => Reading::Prior,
            r => r,
        }
    }

    /// The pooled hidden-state features of a conversation as the reading head sees them
    /// ([`reading_head::pool`] over the conversation's positions of the prompt `draft`
    /// evaluates, reusing the cached prefix): what `pocketlm train-reply-head` trains on.
    #[doc(hidden)]
    pub fn reading_features(
        &self,
        conversation: &[Message],
        tone: Tone,
    ) -> Result<Vec<f32>, ReplyError> {
        let conversation = &*crate::input_bounds::reply_conversation(conversation);
        let tokens = self.prompt_tokens(conversation, tone)?;
        let mut state = self.lock();
        let ts = self.tone_state(&mut state, tone)?;
        ts.capture();
        ts.session.sync_to(&tokens)?;
        Ok(reading_head::pool(
            ts.session.hidden_states(),
            self.model.config().n_embd,
        ))
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

    /// The catalog responses of `tone` the beam cannot reach with this model (longer than
    /// `max_reply_tokens` tokens): a catalog test expects none.
    pub fn unreachable_responses(&self, tone: Tone) -> Result<Vec<String>, ReplyError> {
        let (_, too_long) = self.tokenize_responses(tone)?;
        Ok(too_long)
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
            let t0 = Instant::now();
            let (replies, _) = self.tokenize_responses(tone)?;
            let mut session = state.base.fork();
            let mut msgs = prompt::prefix(tone);
            let prefix_len = self
                .template
                .encode(self.model.tokenizer(), &msgs, false)?
                .len();
            msgs.push(ChatMessage::user(""));
            let null = self.template.encode(self.model.tokenizer(), &msgs, true)?;
            let mut trie = Trie::build(&replies);
            let file = match (&self.state_dir, self.model.gguf().fingerprint()) {
                (Some(dir), Ok(fp)) => Some(warm::key_and_path(
                    dir,
                    tone,
                    &fp,
                    &null,
                    &replies,
                    self.config.prior_depth,
                    self.config.warm_up_group,
                )),
                (Some(_), Err(e)) => {
                    log::warn!("reply warm start disabled: {e}");
                    None
                }
                (None, _) => None,
            };
            let warm_start = match &file {
                Some((key, path)) => match warm::load(path, key, &null, &mut session, &mut trie) {
                    Ok(()) => true,
                    Err(warm::WarmStartError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        false
                    }
                    Err(e) => {
                        log::warn!("{e}");
                        false
                    }
                },
                None => false,
            };
            let null_lp = if warm_start {
                let logits = session.logits()?;
                let mut null_lp = vec![0.0f32; logits.len()];
                log_softmax(logits, &mut null_lp);
                null_lp
            } else {
                let logits = session.sync_to(&null)?;
                let mut null_lp = vec![0.0f32; logits.len()];
                log_softmax(logits, &mut null_lp);
                trie.score_null(
                    &session,
                    &replies,
                    &null_lp,
                    self.config.prior_depth,
                    self.config.warm_up_group,
                )?;
                if let Some((key, path)) = &file {
                    if let Err(e) = warm::save(path, key, &session, &trie) {
                        log::warn!("reply warm start not saved: {e}");
                    }
                }
                null_lp
            };
            let warm_up_ms = t0.elapsed().as_secs_f64() * 1e3;
            state.tones.insert(
                tone,
                ToneState {
                    session,
                    replies,
                    trie,
                    null_lp,
                    prefix_len,
                    warm_start,
                    warm_up_ms,
                },
            );
        }
        Ok(state.tones.get_mut(&tone).expect("inserted above"))
    }

    /// Tokenizes the catalog responses of a tone exactly as they appear in an assistant
    /// turn, with the token that ends the turn; also returns those too long for the beam.
    fn tokenize_responses(
        &self,
        tone: Tone,
    ) -> Result<(Vec<TokenizedResponse>, Vec<String>), ReplyError> {
        let tok = self.model.tokenizer();
        let t = &self.template;
        let user = [ChatMessage::user("x")];
        let p = t.render(&user, true)?;
        let tp = t.encode(tok, &user, true)?;
        let fallback_end = tok.eot().or(tok.eos()).unwrap_or(0);
        let mut out: Vec<TokenizedResponse> = Vec::new();
        let mut too_long = Vec::new();
        for (index, r) in self.catalog.responses_for(tone) {
            let text = r.text.as_str();
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
            if !tokens.is_empty() && tokens.len() <= self.config.max_reply_tokens {
                out.push(TokenizedResponse { index, tokens, end });
            } else {
                too_long.push(text.to_owned());
            }
        }
        Ok((out, too_long))
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
        let t0 = Instant::now();
        validate(options)?;
        let cancelled = || {
            if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                Err(ReplyError::Cancelled)
            } else {
                Ok(())
            }
        };
        let mut draft = Draft {
            replies: Vec::new(),
            no_suggestion: None,
            candidates: Vec::new(),
            acts: Vec::new(),
            silence: None,
            asks: None,
            prompt_tokens: 0,
            evaluated_tokens: 0,
            steps: 0,
            rows: 0,
            ms: 0.0,
            options: Vec::new(),
        };
        // 1. Gate.
        let gated = gate::gate(conversation, self.catalog)?;
        cancelled()?;
        if let Some(reason) = gated {
            draft.no_suggestion = Some(reason);
            draft.ms = t0.elapsed().as_secs_f64() * 1e3;
            return Ok(draft);
        }
        let message = conversation.last().expect("gated").text.as_str();
        // 2. Acts.
        // Cues are looked up in the message as the acts read it ("miss u" has "miss you").
        let read = spelling::spelled_out(message, self.catalog);
        // The acts come from the head's act outputs, over the prompt pass below.
        let head_acts = self.config.act_rules && self.head.as_ref().is_some_and(|h| h.reads_acts());
        // 3. Candidates.
        let tokens = self.prompt_tokens(conversation, options.tone)?;
        let mut state = self.lock();
        cancelled()?;
        let ts = self.tone_state(&mut state, options.tone)?;
        if self.reading() == Reading::Head || head_acts {
            ts.capture();
        }
        cancelled()?;
        let cached = ts.session.common_prefix_len(&tokens).min(tokens.len() - 1);
        let logits = ts.session.sync_to(&tokens)?;
        cancelled()?;
        let mut lp0 = vec![0.0f32; logits.len()];
        log_softmax(logits, &mut lp0);
        let features = (self.head.is_some() && (self.reading() == Reading::Head || head_acts))
            .then(|| reading_head::pool(ts.session.hidden_states(), self.model.config().n_embd));
        let mut acts = match (&self.head, &features) {
            (Some(head), Some(f)) if head_acts => {
                head.acts(f, self.config.act_at).unwrap_or_default()
            }
            _ => Acts::default(),
        };
        acts.remove_all(&self.ignored_acts);
        let acts = acts;
        draft.acts = acts.names();
        // How far the head moves each cluster's reader acceptance for this message.
        let learned = self.config.learned_acceptance;
        let shifts: Vec<f32> = match (&self.head, &features) {
            (Some(head), Some(f)) if self.reading() == Reading::Head && learned != 0.0 => head
                .acceptance_shifts(f)
                .map(|s| s.into_iter().map(|v| v * learned).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let word_prior = |read: &str| {
            self.catalog
                .cluster_prior
                .as_ref()
                .map(|p| p.probabilities(&cluster_prior::features(read, &acts)))
        };
        let reading = match (&self.head, &features) {
            (Some(head), Some(features)) if self.reading() == Reading::Head => {
                let features = features.as_slice();
                draft.silence = head.silence(features);
                draft.asks = head.asks(features);
                if draft.silence.is_some_and(|p| p >= self.config.silence_at) {
                    draft.no_suggestion = Some(NoSuggestion::NoReplyExpected);
                    draft.prompt_tokens = tokens.len();
                    draft.evaluated_tokens = tokens.len() - cached;
                    draft.ms = t0.elapsed().as_secs_f64() * 1e3;
                    return Ok(draft);
                }
                head.probabilities(features).map(|p_head| {
                    let w = self.config.head_weight;
                    match word_prior(&read) {
                        Some(p_words) if w < 1.0 => PriorReading::new(
                            p_head
                                .iter()
                                .zip(&p_words)
                                .map(|(h, p)| w * h + (1.0 - w) * p)
                                .collect(),
                        ),
                        _ => PriorReading::new(p_head),
                    }
                })
            }
            _ => None,
        };
        // 4–5 (set up first: the candidates stage asks it what is open and preferred).
        let cat = self.catalog;
        let copies: Vec<String> = prompt::prefix(options.tone)
            .iter()
            .filter(|m| m.role == crate::chat_template::Role::Assistant)
            .map(|m| filter::key(&m.content))
            .collect();
        let mut ctx = score::Context {
            cat,
            cfg: &self.config,
            message: &read,
            acts: &acts,
            max_words: options.max_words,
            blocklist: &options.blocklist,
            copies: &copies,
            answered: false,
            choice: false,
            prior: match self.reading() {
                Reading::Head => reading,
                Reading::Prior => word_prior(&read).map(PriorReading::new),
                Reading::Rules => None,
            },
        };
        // Only the head's reading asks for a choice (the word prior's was not measured so).
        ctx.choice = self.reading() == Reading::Head
            && ctx
                .prior
                .as_ref()
                .is_some_and(|r| score::reads_choice(r, cat, &self.config));
        // Per tokenized response: whether it may answer, and whether it is preferred.
        let opens: Vec<bool> = ts.replies.iter().map(|r| ctx.opens(r.index)).collect();
        let prefers: Vec<bool> = ts.replies.iter().map(|r| ctx.prefers(r.index)).collect();
        ctx.answered = prefers.contains(&true);
        let open = ts.trie.mark(|i| opens[i]);
        // The beam keeps room for the other side of a decision too.
        let preferred = ts
            .trie
            .mark(|i| prefers[i] || ctx.other_side(ts.replies[i].index));
        let decision = acts.decision() || ctx.choice;
        // Each side of a decision keeps a path in the beam (yes; no or maybe).
        let side = |of_side: fn(Stance) -> bool| {
            ts.trie.mark(|i| {
                let r = &cat.responses[ts.replies[i].index];
                decision && opens[i] && of_side(cat.clusters[r.cluster].stance)
            })
        };
        let yes_side = side(|s| s == Stance::Yes);
        let other_side = side(Stance::is_no_or_maybe);
        let lean = ts.trie.best(|i| {
            if opens[i] {
                ctx.lean(ts.replies[i].index)
            } else {
                f32::NEG_INFINITY
            }
        });
        let decoded = decode::decode(
            &DecodeInput {
                session: &ts.session,
                tokenizer: self.model.tokenizer(),
                trie: &ts.trie,
                lp0: &lp0,
                null_lp: &ts.null_lp,
                open: &open,
                preferred: &preferred,
                sides: [&yes_side, &other_side],
                lean: &lean,
                cancel,
            },
            &self.config,
        )?;
        draft.prompt_tokens = tokens.len();
        draft.evaluated_tokens = tokens.len() - cached + decoded.rows;
        draft.steps = decoded.steps;
        draft.rows = decoded.rows;
        // 4–5. Scores and filters.
        let mut candidates: Vec<Candidate> = decoded
            .generated
            .iter()
            .map(|g| ctx.score_generated(g, self.model.tokenizer()))
            .chain(
                decoded
                    .scored
                    .iter()
                    .map(|s| ctx.score_curated(s, &ts.replies)),
            )
            .collect();
        drop(state);
        for c in candidates.iter_mut() {
            ctx.filter(c);
        }
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        // 6. Selection.
        // What readers send is looked up as they judged the message: asked to decide or not.
        let asked = draft.asks.map_or(decision, |p| p >= self.config.asks_at);
        let in_context = self
            .catalog
            .reader_acceptance
            .as_ref()
            .map(|table| InContext {
                table,
                catalog: self.catalog,
                asked,
                shifts: &shifts,
            });
        let replies = select::select(
            &candidates,
            options.n,
            &acts,
            ctx.choice,
            &self.config,
            in_context.as_ref(),
        );
        draft.candidates = candidates;
        match replies.first() {
            Some(r) if r.score >= self.config.min_score => draft.replies = replies,
            _ => draft.no_suggestion = Some(NoSuggestion::NothingGood),
        }
        // 7. Option chips.
        if !draft.replies.is_empty() && options.n >= 2 && self.config.option_chips {
            let pick = acts.decision() || acts.has(acts::Act::Choice) || ctx.choice;
            let chips = self.option_chips(message, pick, &lp0, &options.blocklist);
            if let Some(chips) = chips {
                draft.replies = select::with_options(&chips, draft.replies, options.n);
                draft.options = chips.to_vec();
            }
        }
        // 8. Chips readers seldom send.
        if let Some(acceptance) = in_context.as_ref() {
            let kept = select::drop_unsent(
                std::mem::take(&mut draft.replies),
                &draft.candidates,
                decision,
                self.config.min_acceptance,
                acceptance,
            );
            if kept.is_empty() && draft.no_suggestion.is_none() {
                draft.no_suggestion = Some(NoSuggestion::NothingGood);
            }
            draft.replies = kept;
        }
        draft.ms = t0.elapsed().as_secs_f64() * 1e3;
        Ok(draft)
    }

    /// The options an either/or question in `message` names, as replies ("!" where a choice
    /// is to be made, `pick`; "." for a fact), when the model could start a reply with
    /// each (its first token within `max_first_token_gap + preferred_gap` of the best
    /// after the prompt, `lp0`) and neither holds a blocked phrase.
    fn option_chips(
        &self,
        message: &str,
        pick: bool,
        lp0: &[f32],
        blocklist: &[String],
    ) -> Option<[String; 2]> {
        let tok = self.model.tokenizer();
        let best = lp0.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let [a, b] = options::alternatives(message, self.catalog)?;
        let end = if pick { '!' } else { '.' };
        let chips = [options::chip(&a, end), options::chip(&b, end)];
        let plausible = |text: &str| {
            tok.encode(text, false, false)
                .first()
                .and_then(|&t| lp0.get(t as usize))
                .is_some_and(|&lp| {
                    lp >= best - self.config.max_first_token_gap - self.config.preferred_gap
                })
        };
        let blocked = |text: &str| {
            let padded = filter::padded_key(text);
            blocklist
                .iter()
                .any(|b| !b.trim().is_empty() && filter::has_phrase(&padded, &filter::key(b)))
        };
        chips
            .iter()
            .all(|c| plausible(c) && !blocked(c))
            .then_some(chips)
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

fn validate(options: &DraftOptions) -> Result<(), ReplyError> {
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
    Ok(())
}
