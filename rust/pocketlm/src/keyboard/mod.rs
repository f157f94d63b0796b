//! Keyboard suggestions: the next word, the completion of the word being typed, and corrections
//! of unlikely words, for a three-slot suggestion strip, computed on every keystroke.
//!
//! [`WordPredictor::suggest`] takes the text before the cursor and returns up to `k` whole,
//! distinct words, best first. It keeps the token sequence and KV cache of earlier calls: the
//! context is cut at the word being typed, so while a word is typed the context does not change
//! and costs nothing; when a word is finished its tokens were usually evaluated already as a
//! candidate. Any edit (backspace, cursor jump, paste, a cleared field) only re-evaluates the
//! tokens after the longest common prefix with what is cached. Results depend on the text only,
//! never on the order of calls.
//!
//! How a word is found: the typed letters (and the space before them) are matched against token
//! bytes ignoring case (token healing: the context is cut at the word boundary, so any
//! tokenization of the typed letters is allowed); a small beam extends multi-token words, each
//! step one batched forward pass; a word's probability is that of its tokens times the
//! probability that the next token does not continue it. The typed case is kept ("Hel" →
//! "Hello", "HEL" → "HELLO"), and words at a sentence start are capitalized.

pub(crate) mod contractions;
mod engine;
mod framing;
mod head;
mod language;
mod profile;
mod search;
pub mod text;
mod user_words;
mod vocab;

use contractions::Contractions;
pub use language::Language;
pub use profile::KeyboardProfile;
use user_words::UserDictionary;
pub use user_words::{
    FieldKind, LearnOutcome, UserWord, UserWordOptions, UserWordsError, WordSource,
};

use crate::ops::log_add;
use crate::session::{default_threads, Session, SessionError, SessionOptions};
use crate::{Model, Tokenizer};
use engine::Engine;
use search::{search, SearchParams};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vocab::{Kind, Vocab};

/// Built-in list of words never suggested unless offensive words are allowed.
const BLOCKLIST: &str = include_str!("blocklist.txt");

/// Log-probability cost of one edit for a correction to outrank a completion.
const CORRECTION_COST: f32 = 5.0;

/// Extra edit cost when a correction changes the first letter (people rarely miss it).
const FIRST_LETTER_COST: f32 = 0.5;

/// Mid-sentence, a suggestion the model spells with a capital ("Hey", "John") keeps it only
/// when the model finds that spelling this many times likelier than the lower-case one in the
/// same place (or has no lower-case token for it): names and "I" keep their capital, words
/// capitalized only because a sentence or a quote might start there lose it. Names are
/// hundreds of times likelier capitalized; a quote's first word a few times.
const KEEP_CAPITAL_RATIO: f32 = 30.0;

/// Suggestions scoring this much (natural log) below the best one are left out.
const MAX_SCORE_GAP: f32 = 9.0;

/// Why a [`WordPredictor`] could not be created or could not suggest.
#[derive(Debug, thiserror::Error)]
pub enum KeyboardError {
    /// A [`PredictorOptions`] value is out of range; the message names it and its range.
    #[error("invalid keyboard option: {0}")]
    InvalidOption(String),
    /// The model could not evaluate the text (e.g. the model file changed on disk).
    #[error("keyboard model evaluation failed: {0}")]
    Session(#[from] SessionError),
    /// A user-dictionary call failed.
    #[error(transparent)]
    UserWords(#[from] UserWordsError),
}

/// How a predictor is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictorOptions {
    /// Most suggestions returned (the strip has 3 slots).
    pub k: usize,
    /// Worker threads for the model.
    pub threads: usize,
    /// Bytes of text before the current word the model sees; longer texts keep a window that
    /// starts at a sentence (re-cut every `max_context_bytes / 2` bytes).
    pub max_context_bytes: usize,
    /// Most candidate words evaluated together in one batched forward pass.
    pub beam_width: usize,
    /// Most candidate evaluations per call (most are cached from earlier keystrokes).
    pub max_evals: usize,
    /// Most tokens a suggested word may have after what is typed.
    pub max_word_tokens: usize,
    /// When the budget allows a later batched pass, it only continues candidates evaluated
    /// before: while no word is found, those needed to spell the typed letters (a token that
    /// is a strict prefix of them, e.g. "don" for "don'"); once one is, only continuations
    /// likelier than every word found ("amanhã" = " am", "anh", "ã" after "amantes"): most
    /// keystrokes then take one pass.
    pub later_passes_spell_only: bool,
    /// Offer corrections of unlikely words ("teh" → "the").
    pub corrections: bool,
    /// Extra words never to suggest (case-insensitive; a trailing `*` matches any ending).
    pub blocklist: Vec<String>,
    /// Suggest words of the built-in offensive-word list too.
    pub allow_offensive: bool,
    /// Memory for cached logits of evaluated sequences.
    pub cache_bytes: usize,
    /// Most sessions (one KV cache each) kept between calls; at least `beam_width` (a batched
    /// pass needs one session per candidate). More sessions keep the KV caches of more recent
    /// candidates, so fewer tokens are re-evaluated.
    pub max_sessions: usize,
    /// On a model with recurrent layers (Qwen3.5's DeltaNet), sessions that keep their live
    /// states between calls: the most recently used. The others keep only checkpoints and
    /// restore one (a copy) when used again. Each state is a copy of every recurrent layer's
    /// (19 MiB for Qwen3.5-0.8B), so fewer cost less memory and more copying per keystroke
    /// (docs/keyboard.md, "Models with a recurrent state"). No effect on other models. At most
    /// `max_sessions`.
    pub live_states: usize,
    /// On a model with large recurrent states (Qwen3.5's), whether the pool's copies of a
    /// session share its latest checkpoint instead of copying its live states: a copy within
    /// a few positions of a checkpoint (usually at its context) is evaluated from it and holds
    /// no states. Less memory at the peak, more tokens replayed by later rewinds
    /// (docs/keyboard.md, "Copies share the checkpoint"). No effect on other models.
    pub share_checkpoints: bool,
    /// On a model with large recurrent states, the checkpoints of them a session keeps: 0,
    /// the latest 4; `n` (at least 2), the first (the framing every line starts from) and
    /// the latest `n - 1` (the context every candidate starts from, then earlier contexts,
    /// which save replaying tokens when a backspace crosses a word). Each is a copy of the
    /// states (19 MiB for Qwen3.5-0.8B; docs/keyboard.md, "Checkpoints kept"). No effect on
    /// other models.
    pub checkpoints: usize,
    /// Text placed before every context (special tokens such as `<|im_start|>` are parsed).
    /// `None`: the model's framing as the start of a message in a chat (`keyboard/framing.rs`),
    /// else the model's start-of-text token.
    pub prefix: Option<String>,
    /// The user dictionary: learning threshold, decay, size cap and ranking boost.
    pub user_words: UserWordOptions,
    /// The language of the suggestions: it picks the framing (`keyboard/framings.tsv`).
    /// Languages other than English need a multilingual model (Gemma 3 270M).
    pub language: Language,
    /// Output-head rows computed when the vocabulary is larger than 65,536 tokens (Gemma 3:
    /// 262,144): the first `head_rows` token ids, the tokenizer's most frequent
    /// (`keyboard/head.rs`). 0: the full head. Default 49,152 (SmolLM2's vocabulary size).
    /// English only: for another `language` the full head is computed (its words are not
    /// among the first rows).
    pub head_rows: usize,
    /// A `suggest` call slower than this many milliseconds logs a warning (target
    /// `pocketlm::keyboard`: its time and work, never the text). Default 50: three 60 Hz frames,
    /// past which the strip visibly lags the key (the p95 on the reference machine is ~15 ms,
    /// docs/keyboard.md). 0 logs every call.
    pub slow_keystroke_ms: u32,
}

impl Default for PredictorOptions {
    fn default() -> Self {
        Self {
            k: 3,
            threads: default_threads(),
            max_context_bytes: 320,
            // One batched pass of at most 4 rows per keystroke: two passes of 3 rows cost far
            // more than one of 4–6, and 4 rows keep the p95 keystroke within 15 ms on the
            // reference machine for a small loss in keystroke savings (see docs/keyboard.md).
            beam_width: 4,
            max_evals: 8,
            max_word_tokens: 4,
            later_passes_spell_only: true,
            corrections: true,
            blocklist: Vec::new(),
            allow_offensive: false,
            cache_bytes: 24 << 20,
            max_sessions: 16,
            live_states: 2,
            share_checkpoints: false,
            checkpoints: 0,
            prefix: None,
            user_words: UserWordOptions::default(),
            language: Language::En,
            head_rows: head::DEFAULT_HEAD_ROWS,
            slow_keystroke_ms: 50,
        }
    }
}

/// What a suggestion does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuggestionKind {
    /// A word after the cursor (nothing of it typed yet).
    NextWord,
    /// The word being typed, completed; starts with the typed letters.
    Completion,
    /// A likely word close to the typed one, which the typed letters do not spell.
    Correction,
}

impl SuggestionKind {
    /// A stable name for logs and JSON: `next_word`, `completion` or `correction`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NextWord => "next_word",
            Self::Completion => "completion",
            Self::Correction => "correction",
        }
    }
}

/// One word of the suggestion strip.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The whole word, in the case to insert it (typed case kept, sentence starts capitalized).
    pub word: String,
    /// The model's probability that this is the next word, given the text before the word.
    pub probability: f32,
    /// Whether it is a next word, a completion or a correction.
    pub kind: SuggestionKind,
}

/// What one call cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SuggestStats {
    /// Tokens of context the model saw.
    pub context_tokens: usize,
    /// Of those, tokens whose KV cache was reused from earlier calls.
    pub reused_tokens: usize,
    /// Token rows run through the model in this call (context and candidates).
    pub evaluated_tokens: usize,
    /// Forward passes (a batch of candidates counts once).
    pub forward_passes: usize,
    /// Tokens evaluated again, besides `evaluated_tokens`, to bring a model's recurrent state
    /// (Qwen3.5's DeltaNet layers) back to an earlier length after a rewind: the cost of
    /// backspacing past the last checkpoint. 0 for models without recurrent layers.
    pub replayed_tokens: usize,
}

/// What [`WordPredictor::suggest`] returns: the strip and what computing it cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suggestions {
    /// Best first, at most `k`, distinct words.
    pub items: Vec<Suggestion>,
    /// The work of this call (for statistics and tests; not needed to show the strip).
    pub stats: SuggestStats,
}

impl Suggestions {
    /// The suggested words, best first.
    pub fn words(&self) -> Vec<&str> {
        self.items.iter().map(|s| s.word.as_str()).collect()
    }
}

/// How to apply a chosen suggestion to the text: delete `delete_chars` characters (Unicode
/// scalar values) before the cursor, then insert `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Characters to delete before the cursor (the typed part of the word).
    pub delete_chars: usize,
    /// Text to insert at the cursor: the word and a space (with a space before it too right
    /// after a punctuation mark).
    pub insert: String,
}

struct Blocklist {
    exact: HashSet<String>,
    prefixes: Vec<String>,
}

impl Blocklist {
    fn new<'a>(words: impl Iterator<Item = &'a str>) -> Self {
        let mut b = Blocklist {
            exact: HashSet::new(),
            prefixes: Vec::new(),
        };
        for w in words {
            let w = w.trim();
            if w.is_empty() || w.starts_with('#') {
                continue;
            }
            let w = w.to_lowercase();
            match w.strip_suffix('*') {
                Some(p) if !p.is_empty() => b.prefixes.push(p.to_string()),
                Some(_) => {}
                None => {
                    b.exact.insert(w);
                }
            }
        }
        b
    }

    fn blocks(&self, word: &str) -> bool {
        if self.exact.is_empty() && self.prefixes.is_empty() {
            return false;
        }
        let w = word.to_lowercase();
        self.exact.contains(&w) || self.prefixes.iter().any(|p| w.starts_with(p.as_str()))
    }
}

struct State {
    engine: Engine,
    /// The last window of context text and its tokens.
    last_window: String,
    last_tokens: Vec<u32>,
    /// First token of user words (with or without the space before them), by word.
    user_first_token: HashMap<(String, bool), Option<u32>>,
    /// The first warm start of the framing prefix (`WordPredictor::with_state_dir`): whether
    /// it was loaded from the state directory, and how long it took.
    warm_start: Option<(bool, f64)>,
}

/// Next-word, completion and correction suggestions over one loaded model. `Send + Sync`:
/// calls from several threads are serialized.
pub struct WordPredictor {
    model: Arc<Model>,
    vocab: Vocab,
    opts: PredictorOptions,
    blocklist: Blocklist,
    start: Vec<u32>,
    max_context_tokens: usize,
    state: Mutex<State>,
    /// Locked after `state` when both are needed.
    user_words: Mutex<UserDictionary>,
    /// Where the framing prefix's KV cache is saved and loaded from
    /// ([`WordPredictor::with_state_dir`]).
    state_dir: Option<PathBuf>,
}

/// Tokens that stand for "start of a text" before any context.
pub fn start_tokens(tok: &Tokenizer) -> Vec<u32> {
    if tok.adds_bos() {
        if let Some(b) = tok.bos() {
            return vec![b];
        }
    }
    for name in ["<|endoftext|>", "<|end_of_text|>", "</s>"] {
        if let Some(id) = tok.token_id(name) {
            return vec![id];
        }
    }
    if let Some(e) = tok.eos() {
        return vec![e];
    }
    tok.encode("\n", false, false)
}

/// `text` with special tokens parsed, after the start-of-text token.
fn prefix_tokens(tok: &Tokenizer, text: &str) -> Vec<u32> {
    let mut t = start_tokens(tok);
    if tok.adds_bos() || text.is_empty() {
        tok.encode_into(text, false, true, &mut t);
    } else {
        // Models without BOS: the turn markers start the text by themselves.
        t = tok.encode(text, false, true);
    }
    if t.is_empty() {
        t = start_tokens(tok);
    }
    t
}

/// The model's framing for `language` (`framing.rs`), else its start-of-text token.
fn auto_prefix(model: &Model, language: Language) -> Vec<u32> {
    let tok = model.tokenizer();
    match framing::for_tokenizer(tok, language) {
        Some(f) => prefix_tokens(tok, &f.text),
        None => start_tokens(tok),
    }
}

/// One ranked candidate: (word, ranking score, log-probability, kind), best first.
type Ranked = (String, f32, f32, SuggestionKind);

/// The strip's `k` slots from the ranked candidates (best first). A contraction the person has
/// not started to spell (no apostrophe typed: "Don't", "That's" for "Tha") adds a candidate
/// without pushing out the plain words people type: it takes a free slot, or displaces the
/// weakest candidate weaker than itself that is either its own stem ("That" for "That's") or
/// not a completion of the typed letters (a correction, or any next word); a contraction
/// likelier than every word of the strip displaces the weakest. So "Tha" keeps
/// "Thank" and "Thanks" beside "That's", and "Who" gains "Who's" over the correction "Why".
fn fill_strip(ranked: Vec<Ranked>, k: usize, typed: &str) -> Vec<Ranked> {
    let folded = |w: &str| text::fold(w).to_lowercase();
    let stem = |w: &str| -> Option<String> {
        let f = folded(w);
        f.find('\'').map(|i| f[..i].to_string())
    };
    let (mut contractions, mut strip) = (Vec::new(), Vec::new());
    for e in ranked {
        if !typed.contains('\'') && stem(&e.0).is_some_and(|s| !s.is_empty()) {
            contractions.push(e);
        } else if strip.len() < k {
            strip.push(e);
        }
    }
    for c in contractions {
        if strip.len() < k {
            strip.push(c);
            continue;
        }
        let c_stem = stem(&c.0);
        let plain = |v: &Ranked| stem(&v.0).is_none_or(|s| s.is_empty());
        let victim = strip
            .iter()
            .rposition(|v: &Ranked| {
                v.1 < c.1
                    && (v.3 != SuggestionKind::Completion || Some(folded(&v.0)) == c_stem)
                    && plain(v)
            })
            // The likeliest candidate of all is never left out ("L" → "Let's" beside "Last"
            // and "Liam").
            .or_else(|| {
                strip
                    .iter()
                    .all(|v| v.1 < c.1)
                    .then(|| strip.iter().rposition(plain))
                    .flatten()
            });
        if let Some(i) = victim {
            strip[i] = c;
            strip.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
    }
    strip.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    strip
}

impl WordPredictor {
    /// A predictor over `model` (shared, not copied). Checks `opts`, prepares the vocabulary
    /// tables and evaluates the start-of-text context once; `KeyboardError::InvalidOption`
    /// names an option out of range.
    pub fn new(model: Arc<Model>, opts: PredictorOptions) -> Result<Self, KeyboardError> {
        if opts.k == 0 || opts.k > 16 {
            return Err(KeyboardError::InvalidOption(format!(
                "k must be between 1 and 16, got {}",
                opts.k
            )));
        }
        if opts.beam_width == 0 || opts.beam_width > 16 {
            return Err(KeyboardError::InvalidOption(format!(
                "beam_width must be between 1 and 16, got {}",
                opts.beam_width
            )));
        }
        if opts.max_evals == 0 || opts.max_evals > 64 {
            return Err(KeyboardError::InvalidOption(format!(
                "max_evals must be between 1 and 64, got {}",
                opts.max_evals
            )));
        }
        if opts.max_word_tokens == 0 || opts.max_word_tokens > 8 {
            return Err(KeyboardError::InvalidOption(format!(
                "max_word_tokens must be between 1 and 8, got {}",
                opts.max_word_tokens
            )));
        }
        if opts.max_context_bytes < 16 || opts.max_context_bytes > 8192 {
            return Err(KeyboardError::InvalidOption(format!(
                "max_context_bytes must be between 16 and 8192, got {}",
                opts.max_context_bytes
            )));
        }
        if opts.max_sessions < opts.beam_width || opts.max_sessions > 64 {
            return Err(KeyboardError::InvalidOption(format!(
                "max_sessions must be between beam_width ({}) and 64, got {}",
                opts.beam_width, opts.max_sessions
            )));
        }
        if opts.live_states > opts.max_sessions {
            return Err(KeyboardError::InvalidOption(format!(
                "live_states must be at most max_sessions ({}), got {}",
                opts.max_sessions, opts.live_states
            )));
        }
        if opts.checkpoints == 1 {
            return Err(KeyboardError::InvalidOption(
                "checkpoints must be 0 (the latest 4) or at least 2 (the first and the latest), \
                 got 1"
                    .into(),
            ));
        }
        opts.user_words
            .validate()
            .map_err(KeyboardError::InvalidOption)?;
        let tok = model.tokenizer();
        let start = match &opts.prefix {
            Some(p) => prefix_tokens(tok, p),
            None => auto_prefix(&model, opts.language),
        };
        let n_vocab = model.config().vocab_size;
        let vocab = Vocab::new(&model, n_vocab).with_head(head::head_rows(
            tok,
            n_vocab,
            head::rows_for_language(opts.head_rows, opts.language),
        ));
        // Byte-level vocabularies never need more tokens than bytes.
        let max_context_tokens = opts.max_context_bytes + start.len();
        let mut session = Session::new(
            model.clone(),
            SessionOptions {
                context_length: max_context_tokens + opts.max_word_tokens + 1,
                threads: opts.threads,
            },
        )?;
        // Every session of the engine is a fork of this one and keeps its head rows.
        session.set_output_rows(vocab.head.clone());
        let max_context_tokens = max_context_tokens
            .min(
                session
                    .context_length()
                    .saturating_sub(opts.max_word_tokens + 1),
            )
            .max(1);
        let mut words: Vec<&str> = opts.blocklist.iter().map(String::as_str).collect();
        if !opts.allow_offensive {
            words.extend(BLOCKLIST.lines());
        }
        let blocklist = Blocklist::new(words.into_iter());
        if opts.checkpoints > 0 {
            session.keep_checkpoints(opts.checkpoints);
        }
        let mut engine = Engine::new(
            session,
            opts.cache_bytes,
            opts.max_sessions,
            opts.live_states,
            opts.share_checkpoints,
        );
        engine.pin(&start);
        Ok(WordPredictor {
            state: Mutex::new(State {
                engine,
                last_window: String::new(),
                last_tokens: Vec::new(),
                user_first_token: HashMap::new(),
                warm_start: None,
            }),
            user_words: Mutex::new(UserDictionary::new(opts.user_words.clone())),
            model,
            vocab,
            opts,
            blocklist,
            start,
            max_context_tokens,
            state_dir: None,
        })
    }

    /// Keeps the framing prefix's warm-up (its KV cache) in `dir` (docs/state.md, "Warm starts
    /// of the keyboard"): whenever the first session is empty (the first call, and after
    /// `reset` or `release_memory`), the prefix is loaded from `keyboard-LANG-KEY.plmstate`
    /// when it is there and valid, and otherwise evaluated and saved there. `KEY` hashes the
    /// model fingerprint and the prefix tokens, so a changed model, framing or language looks
    /// for another file. A warm start is never required: a missing, corrupted or foreign file
    /// is evaluated and rewritten (logged), and a failed save only costs the next warm start.
    /// Suggestions are the same with or without it.
    pub fn with_state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// The state directory ([`WordPredictor::with_state_dir`]).
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// Whether the first warm-up of the framing prefix was loaded from the state directory,
    /// and how many milliseconds it took (loading, or evaluating and saving); `None` before
    /// the first call or without a state directory.
    pub fn warm_start(&self) -> Option<(bool, f64)> {
        self.lock().warm_start
    }

    /// The warm-start file of this predictor's prefix under `dir`.
    fn warm_start_path(&self, dir: &Path) -> Result<PathBuf, crate::gguf::GgufError> {
        use sha2::{Digest, Sha256};
        let fp = self.model.gguf().fingerprint()?;
        let mut h = Sha256::new();
        h.update(b"pocketlm keyboard warm start v1\0");
        h.update(fp);
        h.update((self.start.len() as u64).to_le_bytes());
        for t in &self.start {
            h.update(t.to_le_bytes());
        }
        let key: [u8; 32] = h.finalize().into();
        let hex: String = key[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(dir.join(format!(
            "keyboard-{}-{hex}.plmstate",
            self.opts.language.as_str()
        )))
    }

    /// With a state directory and an empty first session: the framing prefix loaded into it,
    /// or evaluated and saved.
    fn warm_start_prefix(&self, st: &mut State) -> Result<(), KeyboardError> {
        let Some(dir) = &self.state_dir else {
            return Ok(());
        };
        if !st.engine.first_session().is_empty() {
            return Ok(());
        }
        let t0 = std::time::Instant::now();
        let path = match self.warm_start_path(dir) {
            Ok(p) => p,
            Err(e) => {
                log::warn!("keyboard warm start disabled: {e}");
                return Ok(());
            }
        };
        let s = st.engine.first_session();
        let loaded = match s.map_state_file(&path) {
            Ok(()) if s.tokens() == self.start.as_slice() => true,
            Ok(()) => {
                log::warn!(
                    "{} holds another prefix; it will be rewritten",
                    path.display()
                );
                s.clear();
                false
            }
            Err(crate::session::SnapshotError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                false
            }
            Err(e) => {
                log::warn!("keyboard warm start refused, it will be rewritten: {e}");
                false
            }
        };
        if !loaded {
            s.eval(&self.start)?;
            let w = &mut st.engine.work;
            w.rows += self.start.len();
            w.context_rows += self.start.len();
            w.passes += self.start.len().div_ceil(64);
            let s = st.engine.first_session();
            let saved = std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))
                .and_then(|()| s.save_state_file(&path).map_err(|e| e.to_string()));
            if let Err(e) = saved {
                log::warn!("keyboard warm start not saved: {e}");
            }
        }
        if st.warm_start.is_none() {
            st.warm_start = Some((loaded, t0.elapsed().as_secs_f64() * 1e3));
        }
        Ok(())
    }

    /// The model it runs.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The options it was created with.
    pub fn options(&self) -> &PredictorOptions {
        &self.opts
    }

    /// Forgets cached tokens and logits (e.g. when the keyboard moves to another text field).
    pub fn reset(&self) {
        let mut st = self.lock();
        st.engine.clear();
        st.last_window.clear();
        st.last_tokens.clear();
    }

    /// Frees the cached logits, the extra sessions and their KV caches and scratch buffers
    /// (on memory pressure: Android's `onTrimMemory`, iOS's memory warning). The predictor
    /// keeps working; the next call re-evaluates what it needs.
    pub fn release_memory(&self) {
        let mut st = self.lock();
        st.engine.release_memory();
        st.last_window = String::new();
        st.last_tokens = Vec::new();
        st.user_first_token = HashMap::new();
    }

    /// Bytes the predictor holds in its caches now: cached logits, KV caches and the
    /// sessions' logits buffers (not the model, which is shared and file-backed).
    pub fn cached_bytes(&self) -> usize {
        self.lock().engine.held_bytes()
    }

    /// Sessions of the pool holding live recurrent states now (models with recurrent layers:
    /// at most `PredictorOptions::live_states`).
    #[doc(hidden)]
    pub fn live_state_holders(&self) -> usize {
        self.lock().engine.live_state_holders()
    }

    /// Recurrent-state checkpoints the pool holds now: distinct copies, and distinct token
    /// sequences they follow (equal when no two copies hold the same states).
    #[doc(hidden)]
    pub fn checkpoint_copies(&self) -> (usize, usize) {
        self.lock().engine.checkpoint_copies()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How to apply `word` (usually one of the suggestions) when the text before the cursor is
    /// `text_before_cursor`: replace the word being typed and add a space after it.
    pub fn accept(&self, text_before_cursor: &str, word: &str) -> Edit {
        let sp = text::split(text_before_cursor);
        let mut insert = String::new();
        if !sp.space && sp.word.is_empty() && sp.context.ends_with(['.', ',', '!', '?', ';', ':']) {
            insert.push(' ');
        }
        insert.push_str(word);
        insert.push(' ');
        Edit {
            delete_chars: sp.word.chars().count(),
            insert,
        }
    }

    /// The context tokens of the model's window of `context`.
    fn context_tokens(&self, st: &mut State, context: &str) -> Vec<u32> {
        let window = &context[text::window_start(context, self.opts.max_context_bytes)..];
        if window != st.last_window || st.last_tokens.is_empty() {
            let mut toks = self.start.clone();
            self.model
                .tokenizer()
                .encode_into(window, false, false, &mut toks);
            if toks.len() > self.max_context_tokens {
                let cut = toks.len() - self.max_context_tokens;
                toks.drain(..cut);
            }
            st.last_window.clear();
            st.last_window.push_str(window);
            st.last_tokens = toks;
        }
        st.last_tokens.clone()
    }

    /// Up to `k` suggestions for the text before the cursor, best first (the model's words
    /// and the user dictionary's).
    pub fn suggest(&self, text_before_cursor: &str) -> Result<Suggestions, KeyboardError> {
        let t0 = std::time::Instant::now();
        let result = self.suggest_with(text_before_cursor, true);
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        if ms > f64::from(self.opts.slow_keystroke_ms)
            && log::log_enabled!(target: "pocketlm::keyboard", log::Level::Warn)
        {
            // Counts only: the text before the cursor is what the user typed.
            let s = result.as_ref().map(|s| s.stats).unwrap_or_default();
            log::warn!(
                target: "pocketlm::keyboard",
                "keystroke over budget: suggest took {ms:.1} ms (budget {} ms): {} context \
                 tokens ({} reused), {} token rows in {} forward passes, {} threads",
                self.opts.slow_keystroke_ms,
                s.context_tokens,
                s.reused_tokens,
                s.evaluated_tokens,
                s.forward_passes,
                self.opts.threads,
            );
        }
        result
    }

    fn suggest_with(
        &self,
        text_before_cursor: &str,
        with_user_words: bool,
    ) -> Result<Suggestions, KeyboardError> {
        let text_before_cursor = crate::input_bounds::keyboard_text(text_before_cursor);
        let sp = text::split(text_before_cursor);
        if sp.word.chars().count() > text::MAX_WORD_CHARS {
            return Ok(Suggestions::default());
        }
        // What the model sees: composed characters, `'` for apostrophes (`text::fold`); the
        // suggestions are written with the field's apostrophe.
        let apostrophe = text::field_apostrophe(text_before_cursor);
        let typed = text::fold(sp.word);
        let typed = typed.as_ref();
        let mut st = self.lock();
        let st = &mut *st;
        st.engine.begin();
        self.warm_start_prefix(st)?;
        let ctx = self.context_tokens(st, &text::fold(sp.context));
        st.engine.ensure_context(&ctx, &self.vocab)?;

        let typed_lower = typed.to_lowercase();
        let mut pending = Vec::with_capacity(typed_lower.len() + 1);
        if sp.space {
            pending.push(b' ');
        }
        pending.extend_from_slice(typed_lower.as_bytes());
        let params = SearchParams {
            batch: self.opts.beam_width,
            max_evals: self.opts.max_evals,
            depth: self.opts.max_word_tokens,
            k: self.opts.k,
            later_spelling_only: self.opts.later_passes_spell_only,
        };
        // Blocked words, and words of a contraction's shape that are no real word form
        // ("Let't": `contractions.rs`).
        let contractions = Contractions::for_language(self.opts.language);
        let blocked =
            |w: &str| self.blocklist.blocks(w) || contractions.is_some_and(|c| !c.allows(w));
        let found = search(
            &mut st.engine,
            &self.vocab,
            &ctx,
            &pending,
            params,
            &blocked,
        )?;

        let sentence_start = text::starts_sentence(sp.context);
        let kind = if sp.word.is_empty() {
            SuggestionKind::NextWord
        } else {
            SuggestionKind::Completion
        };
        // (word, ranking score, probability, kind)
        let mut ranked: Vec<(String, f32, f32, SuggestionKind)> = Vec::new();
        let mut push = |word: String, score: f32, lp: f32, kind: SuggestionKind| {
            let word = text::with_apostrophe(&word, apostrophe);
            // A word with an apostrophe the person left out ("dont" → "don't") does not
            // start with the typed letters: a correction.
            let kind = if kind == SuggestionKind::Completion
                && !text::fold(&word).to_lowercase().starts_with(&typed_lower)
            {
                SuggestionKind::Correction
            } else {
                kind
            };
            let lower = word.to_lowercase();
            if let Some(e) = ranked.iter_mut().find(|e| e.0.to_lowercase() == lower) {
                // The same word in two spellings ("the", "The"): one suggestion, the likelier
                // spelling, with the probabilities added.
                if score > e.1 {
                    e.0 = word;
                    e.3 = kind;
                }
                e.1 = log_add(e.1, score);
                e.2 = log_add(e.2, lp);
            } else {
                ranked.push((word, score, lp, kind));
            }
        };
        let english = self.opts.language == Language::En;
        for f in found {
            let mut w = if sp.word.is_empty() {
                let inherent = self.keeps_capital(st, &ctx, sp.space, &f.word, sentence_start);
                text::position_case("", &f.word, sentence_start, inherent)
            } else {
                let w = text::apply_case(typed, &f.word, sentence_start);
                // A word the typed letters spell only with an apostrophe left out ("dont" →
                // "don't") is a correction: like every correction it takes the case of its
                // position, so a sentence start capitalizes it ("dont" → "Don't").
                if sentence_start && !text::fold(&w).to_lowercase().starts_with(&typed_lower) {
                    text::capitalize(&w)
                } else {
                    w
                }
            };
            if english && text::is_pronoun_i(&w) {
                // "I" and its contractions are capitalized wherever they stand ("im" → "I'm").
                w = text::capitalize(&w);
            }
            push(w, f.lp, f.lp, kind);
        }
        if self.opts.corrections && typed.chars().count() >= 3 {
            for (w, score, lp) in self.corrections(st, &ctx, sp.space, typed) {
                let inherent = self.keeps_capital(st, &ctx, sp.space, &w, sentence_start);
                let mut w = text::position_case(typed, &w, sentence_start, inherent);
                if english && text::is_pronoun_i(&w) {
                    w = text::capitalize(&w);
                }
                push(w, score, lp, SuggestionKind::Correction);
            }
        }
        if with_user_words {
            for (w, score, lp) in self.user_word_candidates(st, &ctx, sp.space, &typed_lower) {
                push(text::apply_case(typed, &w, sentence_start), score, lp, kind);
            }
        }
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        // Nothing the model finds thousands of times less likely than the best suggestion.
        if let Some(best) = ranked.first().map(|e| e.1) {
            let best_lp = ranked.iter().map(|e| e.2).fold(f32::NEG_INFINITY, f32::max);
            ranked.retain(|e| e.1 >= best - MAX_SCORE_GAP && e.2 >= best_lp - MAX_SCORE_GAP);
        }
        let ranked = fill_strip(ranked, self.opts.k, typed);
        let items = ranked
            .into_iter()
            .map(|(word, _, lp, kind)| Suggestion {
                word,
                probability: lp.exp(),
                kind,
            })
            .collect();
        let w = st.engine.work;
        st.engine.trim();
        Ok(Suggestions {
            items,
            stats: SuggestStats {
                context_tokens: ctx.len(),
                reused_tokens: w.reused,
                evaluated_tokens: w.rows,
                forward_passes: w.passes,
                replayed_tokens: w.replayed,
            },
        })
    }

    /// Whether `word`, as the model spells it after `ctx`, keeps a capital first letter in the
    /// middle of a sentence: "I" and its contractions, words with two capitals or more
    /// (acronyms), and words the model spells capitalized
    /// far more often than lower-case here ([`KEEP_CAPITAL_RATIO`]) or only capitalized (no
    /// lower-case token). Words spelled over several tokens keep the model's spelling (mostly
    /// names). Only the case of the first letter is decided.
    fn keeps_capital(
        &self,
        st: &mut State,
        ctx: &[u32],
        space: bool,
        word: &str,
        sentence_start: bool,
    ) -> bool {
        if sentence_start || !word.chars().next().is_some_and(char::is_uppercase) {
            return true;
        }
        if text::is_pronoun_i(word) {
            return true;
        }
        let lower = word.to_lowercase();
        if word.chars().filter(|c| c.is_uppercase()).count() >= 2 {
            // An acronym or a name spelled with inner capitals ("AI", "McDonald").
            return true;
        }
        let Some(node) = st.engine.node(ctx) else {
            return true;
        };
        // The word's single-token spellings, with the space before it (where it was typed)
        // or without (after "(" or a line break).
        let (mut cap, mut low) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
        let mut spelled = Vec::with_capacity(lower.len() + 1);
        for lead in [usize::from(space), usize::from(!space)] {
            spelled.clear();
            spelled.resize(lead, b' ');
            spelled.extend_from_slice(lower.as_bytes());
            for &t in self.vocab.exact(&spelled) {
                let raw = self.vocab.raw(t);
                let Some(first) = raw
                    .get(lead..)
                    .and_then(|r| std::str::from_utf8(r).ok())
                    .and_then(|r| r.chars().next())
                else {
                    continue;
                };
                if first.is_uppercase() {
                    cap = cap.max(node.lp(&self.vocab, t));
                } else {
                    low = low.max(node.lp(&self.vocab, t));
                }
            }
        }
        if cap == f32::NEG_INFINITY {
            // Not one token: a longer word, most likely a name.
            return true;
        }
        low < cap - KEEP_CAPITAL_RATIO.ln()
    }

    /// Likely single-token words within a small edit distance of the typed word that the typed
    /// letters do not spell: (word, ranking score, log-probability).
    fn corrections(
        &self,
        st: &mut State,
        ctx: &[u32],
        space: bool,
        typed: &str,
    ) -> Vec<(String, f32, f32)> {
        let typed_chars: Vec<char> = typed.to_lowercase().chars().collect();
        let n = typed_chars.len();
        let max_d: f32 = if n <= 4 { 1.0 } else { 2.0 };
        let Some(node) = st.engine.node(ctx) else {
            return Vec::new();
        };
        let mut out: Vec<(String, f32, f32)> = Vec::new();
        let mut cand: Vec<char> = Vec::new();
        for &(t, lp) in node.starting(&self.vocab) {
            let kind = self.vocab.kind(t);
            let ok = match kind {
                Kind::WordStart => true,
                Kind::Piece => !space,
                _ => false,
            };
            if !ok {
                continue;
            }
            let raw = self.vocab.raw(t);
            let raw = raw.strip_prefix(b" ").unwrap_or(raw);
            let Ok(word) = std::str::from_utf8(raw) else {
                continue;
            };
            if !text::is_whole_word(word) || self.blocklist.blocks(word) {
                continue;
            }
            cand.clear();
            cand.extend(word.to_lowercase().chars());
            if cand.len() < 2 || cand.starts_with(&typed_chars) {
                continue;
            }
            // The whole word, or (while typing) its beginning of about the typed length.
            let mut best: Option<f32> = text::typo_distance(&typed_chars, &cand, max_d);
            for len in [n, n + 1] {
                if len < cand.len() {
                    if let Some(d) = text::typo_distance(&typed_chars, &cand[..len], max_d) {
                        let d = d + 0.5;
                        best = Some(best.map_or(d, |b| b.min(d)));
                    }
                }
            }
            if cand[0] != typed_chars[0] {
                best = best.map(|d| d + FIRST_LETTER_COST).filter(|&d| d <= max_d);
            }
            if let Some(d) = best {
                if d > 0.0 {
                    out.push((word.to_string(), lp - CORRECTION_COST * d, lp));
                }
            }
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(2);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SuggestionKind::{Completion, Correction, NextWord};

    fn strip(cands: &[(&str, f32, SuggestionKind)], typed: &str) -> Vec<String> {
        let ranked = cands
            .iter()
            .map(|&(w, s, k)| (w.to_string(), s, s, k))
            .collect();
        fill_strip(ranked, 3, typed)
            .into_iter()
            .map(|e| e.0)
            .collect()
    }

    #[test]
    fn a_contraction_displaces_only_its_stem_or_a_non_completion() {
        // "Tha": "That's" takes the place of "That", never that of "Thank" or "Thanks".
        let tha = [
            ("That's", -7.4, Completion),
            ("That", -7.9, Completion),
            ("Thank", -8.4, Completion),
            ("Thanks", -8.5, Completion),
            ("The", -9.0, Correction),
        ];
        assert_eq!(strip(&tha, "Tha"), ["That's", "Thank", "Thanks"]);
        // "Who": "Who's" is weaker than "Who" but stronger than the correction "Why".
        let who = [
            ("Who", -6.5, Completion),
            ("Who's", -10.6, Completion),
            ("What", -11.0, Correction),
            ("Why", -12.0, Correction),
        ];
        assert_eq!(strip(&who, "Who"), ["Who", "Who's", "What"]);
        // A free slot is taken; a weaker contraction never displaces a stronger word.
        let how = [
            ("How", -3.4, Completion),
            ("How's", -7.9, Completion),
            ("However", -9.9, Completion),
            ("How'd", -11.0, Completion),
        ];
        assert_eq!(strip(&how, "How"), ["How", "How's", "However"]);
        let strong = [
            ("Hello", -3.0, Completion),
            ("Help", -4.0, Completion),
            ("Hell", -5.0, Completion),
            ("He's", -9.0, Completion),
        ];
        assert_eq!(strip(&strong, "He"), ["Hello", "Help", "Hell"]);
        // The likeliest candidate of all is never left out.
        let l = [
            ("Let's", -6.4, Completion),
            ("Last", -6.8, Completion),
            ("Liam", -7.1, Completion),
            ("Lily", -8.1, Completion),
        ];
        assert_eq!(strip(&l, "L"), ["Let's", "Last", "Liam"]);
        // Once the apostrophe is typed, every candidate has one: plain ranking.
        let typed = [
            ("Don't", -1.0, Completion),
            ("Don's", -2.0, Completion),
            ("Don'", -3.0, Completion),
            ("Don'd", -4.0, Completion),
        ];
        assert_eq!(strip(&typed, "Don'"), ["Don't", "Don's", "Don'"]);
        // Next words compete on probability alone.
        let next = [
            ("I'm", -1.0, NextWord),
            ("I", -2.0, NextWord),
            ("it's", -2.5, NextWord),
            ("Hey", -3.0, NextWord),
        ];
        assert_eq!(strip(&next, ""), ["I'm", "I", "it's"]);
    }
}
