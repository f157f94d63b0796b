//! Constrained decoding: the output of [`crate::generate`] follows a JSON Schema, a regular
//! expression, a Lark-style grammar or a list of choices. The grammar engine is `llguidance`
//! (the structured-output engine of llama.cpp and vLLM); this module builds its token table
//! from PocketLM's own tokenizer and keeps one compiled table per loaded model.
//!
//! The design, why llguidance, and measured costs are in docs/structured.md.

use crate::model::Model;
use crate::tokenizer::Tokenizer;
use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{
    InferenceCapabilities, SimpleVob, TokEnv, TokRxInfo, TokTrie, TokenId, TokenizerEnv,
};
use llguidance::{Matcher, ParserFactory};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

/// What the generated text must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// A JSON Schema (the schema document as JSON text); the output is one JSON value that
    /// validates against it. Properties are generated in the schema's order.
    JsonSchema(String),
    /// A regular expression (Rust `regex` syntax) the whole output must match. Unicode
    /// property classes (`\p{L}`, `\p{Greek}`…) are not supported (an `InvalidRegex` error
    /// says so; the same holds for a schema's `pattern` and a grammar's regexes): their tables
    /// are left out of the library. `\d`, `\w`, `\s` and `(?i)` are Unicode-aware.
    Regex(String),
    /// A grammar in llguidance's Lark-like syntax (`start: ...`; see
    /// <https://github.com/guidance-ai/llguidance/blob/main/docs/syntax.md>).
    Grammar(String),
    /// Exactly one of these strings.
    Choices(Vec<String>),
}

impl Constraint {
    /// A stable name for logs and JSON: `"json_schema"`, `"regex"`, `"grammar"`, `"choices"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::JsonSchema(_) => "json_schema",
            Self::Regex(_) => "regex",
            Self::Grammar(_) => "grammar",
            Self::Choices(_) => "choices",
        }
    }

    /// Compiles the constraint for `model` and checks that its vocabulary can produce some
    /// accepted output, without generating anything: the same errors [`crate::generate`]
    /// returns before its first token, for callers that want them up front (the FFI reports
    /// them when a generation is started, not through its task). The model's token table is
    /// built on first use and kept while the model lives.
    pub fn check(&self, model: &Arc<Model>) -> Result<(), ConstraintError> {
        Grammars::for_model(model)?.matcher(self).map(|_| ())
    }
}

/// Why a [`Constraint`] cannot be used; returned before any token is generated.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConstraintError {
    /// The JSON Schema is not JSON, or uses something the engine cannot compile.
    #[error("invalid JSON schema: {0}")]
    InvalidJsonSchema(String),
    /// The regular expression does not parse.
    #[error("invalid regular expression: {0}")]
    InvalidRegex(String),
    /// The grammar does not parse or is inconsistent (e.g. an undefined rule).
    #[error("invalid grammar: {0}")]
    InvalidGrammar(String),
    /// The list of choices is empty or holds an empty string.
    #[error("invalid choices: {0}")]
    InvalidChoices(String),
    /// No token sequence of this model's vocabulary can produce text the constraint accepts
    /// (e.g. a character no token spells, or a grammar whose language is empty).
    #[error("the model's vocabulary cannot produce any output this constraint accepts: {0}")]
    Unsatisfiable(String),
    /// Constrained generation needs the full output head; the session computes only some rows
    /// (see [`crate::Session::set_output_rows`]).
    #[error(
        "constrained generation needs every logit: call set_output_rows(None) on the session first"
    )]
    PartialLogits,
    /// The grammar engine failed while generating (a bug or a resource limit).
    #[error("grammar engine error: {0}")]
    Engine(String),
}

/// The grammar engine's regex parser (regex-syntax) is built without its Unicode property
/// tables, which would add 0.26 MB to the mobile library (docs/structured.md#size): a `\p{..}`
/// class in a regex, a schema's `pattern` or a grammar fails to parse with "Unicode property
/// not found". This names the limitation and the way around it after the parser's message.
fn unicode_note(msg: String) -> String {
    if msg.contains("Unicode property") {
        format!(
            "{msg} (Unicode property classes such as \\p{{L}} are not supported by PocketLM, \
             whose mobile library leaves out their tables: list the characters or ranges \
             instead, e.g. [a-zA-Z\\x{{C0}}-\\x{{24F}}]; \\d, \\w, \\s and (?i) are \
             Unicode-aware)"
        )
    } else {
        msg
    }
}

/// PocketLM's tokenizer as llguidance sees it: each token's bytes (special tokens prefixed by
/// llguidance's 0xFF marker so no text can spell them), and canonical tokenization of forced
/// text by our own tokenizer.
struct PocketTokEnv {
    trie: TokTrie,
    /// Weak: the per-model cache must not keep its model alive.
    model: Weak<Model>,
    canonical: bool,
}

impl TokenizerEnv for PocketTokEnv {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    fn tokenize_bytes(&self, s: &[u8]) -> Vec<TokenId> {
        match (std::str::from_utf8(s), self.model.upgrade()) {
            (Ok(text), Some(model)) if self.canonical => {
                model.tokenizer().encode(text, false, false)
            }
            _ => self.trie.greedy_tokenize(s),
        }
    }

    // SentencePiece models that add a space prefix would add it to every forced fragment too:
    // for them llguidance forces bytes token by token instead of trusting our tokenization.
    fn tokenize_is_canonical(&self) -> bool {
        self.canonical
    }
}

/// The bytes llguidance sees for token `id`: text tokens spell their bytes, special
/// (control) tokens are `0xFF` + their text, and tokens with no text are empty (never
/// allowed by any grammar).
pub(crate) fn token_table(tok: &Tokenizer) -> Vec<Vec<u8>> {
    (0..tok.vocab_size() as u32)
        .map(|id| {
            let special = tok.is_control(id) || tok.is_end_of_generation(id);
            if special {
                let text = tok.token_bytes_special(id);
                if text.is_empty() {
                    Vec::new()
                } else {
                    let mut b = Vec::with_capacity(text.len() + 1);
                    b.push(TokTrie::SPECIAL_TOKEN_MARKER);
                    b.extend_from_slice(text);
                    b
                }
            } else {
                tok.token_bytes(id).to_vec()
            }
        })
        .collect()
}

/// The compiled token table of one model, shared by every constrained generation on it.
pub(crate) struct Grammars {
    factory: ParserFactory,
    vocab: usize,
}

/// One compiled [`Grammars`] per live model (a model is loaded once and shared as an `Arc`).
static CACHE: Mutex<Vec<(Weak<Model>, Arc<Grammars>)>> = Mutex::new(Vec::new());

impl Grammars {
    /// The token table of `model`, built on first use (tens of milliseconds for a 262k
    /// vocabulary) and kept while the model lives.
    pub(crate) fn for_model(model: &Arc<Model>) -> Result<Arc<Grammars>, ConstraintError> {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(w, _)| w.strong_count() > 0);
        let key = Arc::downgrade(model);
        if let Some((_, g)) = cache.iter().find(|(w, _)| Weak::ptr_eq(w, &key)) {
            return Ok(g.clone());
        }
        let g = Arc::new(Self::build(model)?);
        cache.push((key, g.clone()));
        Ok(g)
    }

    fn build(model: &Arc<Model>) -> Result<Self, ConstraintError> {
        let tok = model.tokenizer();
        let words = token_table(tok);
        let eog = tok.end_of_generation_tokens();
        let eos = tok.eos().or_else(|| eog.first().copied()).ok_or_else(|| {
            ConstraintError::Unsatisfiable(
                "the model has no end-of-generation token to end constrained output".into(),
            )
        })?;
        let info = TokRxInfo {
            vocab_size: words.len() as u32,
            tok_eos: eos,
            tok_bos: tok.bos(),
            tok_pad: tok.pad(),
            tok_unk: tok.unk(),
            tok_end_of_turn: tok.eot(),
        };
        let mut eos_all: Vec<u32> = vec![eos];
        eos_all.extend(eog.iter().copied().filter(|&t| t != eos));
        let trie = TokTrie::from(&info, &words).with_eos_tokens(&eos_all);
        let env: TokEnv = Arc::new(PocketTokEnv {
            trie,
            model: Arc::downgrade(model),
            canonical: !tok.adds_space_prefix(),
        });
        let mut factory = ParserFactory::new(
            &env,
            InferenceCapabilities {
                ff_tokens: true,
                ..Default::default()
            },
            &llguidance::earley::SlicedBiasComputer::general_slices(),
        )
        .map_err(|e| ConstraintError::Engine(e.to_string()))?;
        factory.quiet();
        Ok(Self {
            factory,
            vocab: words.len(),
        })
    }

    /// Compiles `c` into a fresh matcher, checking that some output is reachable.
    pub(crate) fn matcher(&self, c: &Constraint) -> Result<ConstraintRun, ConstraintError> {
        let (grammar, err): (TopLevelGrammar, fn(String) -> ConstraintError) = match c {
            Constraint::JsonSchema(s) => {
                let v: serde_json::Value = serde_json::from_str(s)
                    .map_err(|e| ConstraintError::InvalidJsonSchema(format!("not JSON: {e}")))?;
                if !(v.is_object() || v.is_boolean()) {
                    return Err(ConstraintError::InvalidJsonSchema(
                        "a schema must be a JSON object or a boolean".into(),
                    ));
                }
                (
                    TopLevelGrammar::from_json_schema(v),
                    ConstraintError::InvalidJsonSchema,
                )
            }
            Constraint::Regex(r) => {
                // Parse first so the error names the regex problem, not the grammar it becomes.
                regex_syntax::Parser::new()
                    .parse(r)
                    .map_err(|e| ConstraintError::InvalidRegex(unicode_note(e.to_string())))?;
                (
                    TopLevelGrammar::from_regex(r),
                    ConstraintError::InvalidRegex,
                )
            }
            Constraint::Grammar(g) => {
                if g.trim().is_empty() {
                    return Err(ConstraintError::InvalidGrammar(
                        "the grammar is empty".into(),
                    ));
                }
                (
                    TopLevelGrammar::from_lark(g.clone()),
                    ConstraintError::InvalidGrammar,
                )
            }
            Constraint::Choices(choices) => {
                if choices.is_empty() {
                    return Err(ConstraintError::InvalidChoices("the list is empty".into()));
                }
                if let Some(i) = choices.iter().position(|c| c.is_empty()) {
                    return Err(ConstraintError::InvalidChoices(format!(
                        "choice {i} is an empty string"
                    )));
                }
                let alternatives: Vec<String> =
                    choices.iter().map(|c| regex_syntax::escape(c)).collect();
                (
                    TopLevelGrammar::from_regex(&format!("(?:{})", alternatives.join("|"))),
                    ConstraintError::InvalidChoices,
                )
            }
        };
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(|e| err(unicode_note(e.to_string())))?;
        let mut matcher = Matcher::new(Ok(parser));
        if let Some(e) = matcher.get_error() {
            return Err(err(unicode_note(e)));
        }
        let mask = matcher
            .compute_mask()
            .map_err(|e| ConstraintError::Unsatisfiable(e.to_string()))?;
        if mask.is_zero() {
            return Err(ConstraintError::Unsatisfiable(
                "no token can start the output".into(),
            ));
        }
        Ok(ConstraintRun {
            matcher,
            first_mask: Some(mask),
            vocab: self.vocab,
            mask_ns: 0,
            masks: 0,
            forced: 0,
            skipped: 0,
            pick_ns: 0,
        })
    }
}

/// One constrained generation in progress.
pub(crate) struct ConstraintRun {
    matcher: Matcher,
    /// The mask computed by the satisfiability check, used for the first step.
    first_mask: Option<SimpleVob>,
    vocab: usize,
    pub(crate) mask_ns: u64,
    pub(crate) masks: usize,
    pub(crate) forced: usize,
    /// Steps that took the greedy pick without computing the mask.
    pub(crate) skipped: usize,
    /// Time spent in the greedy pick inside `step` (subtracted from `mask_ns`).
    pub(crate) pick_ns: u64,
}

/// What the next step of a constrained generation is.
pub(crate) enum Step {
    /// The grammar allows exactly these next tokens (append without sampling).
    Forced(Vec<u32>),
    /// The greedy pick from the unmasked logits is allowed: take it (no mask computed).
    Take(u32),
    /// Sample from the logits with the disallowed ones set to minus infinity.
    Sample,
    /// The grammar is finished: nothing more may be generated.
    Done,
}

impl ConstraintRun {
    /// What to do next. `Sample` leaves the mask applied to `masked` (a copy of `logits`).
    ///
    /// `greedy_pick` is called (at most once, only when no token is forced) for the token a
    /// greedy sampler picks from the unmasked logits, or `None` when sampling. If the grammar
    /// allows that token it is the argmax of the masked logits too (the largest logit overall
    /// is among the allowed ones, and the first on ties stays the first), so it is returned as
    /// [`Step::Take`] without computing the vocabulary mask: one parser check instead of a walk
    /// of the whole token trie. Sampling always uses the full mask (top-k/top-p/min-p would
    /// otherwise truncate a different distribution).
    pub(crate) fn step(
        &mut self,
        logits: &[f32],
        masked: &mut Vec<f32>,
        greedy_pick: impl FnOnce() -> Option<u32>,
    ) -> Result<Step, ConstraintError> {
        if self.matcher.is_stopped() {
            return Ok(Step::Done);
        }
        let t0 = Instant::now();
        let mask = match self.first_mask.take() {
            Some(m) => {
                if let Some(t) = self.pick(greedy_pick).filter(|&t| m.is_allowed(t)) {
                    return Ok(self.took(t, t0));
                }
                m
            }
            None => {
                let ff = self.matcher.compute_ff_tokens();
                if let Some(e) = self.matcher.get_error() {
                    return Err(ConstraintError::Engine(e));
                }
                if !ff.is_empty() {
                    self.mask_ns += t0.elapsed().as_nanos() as u64;
                    self.masks += 1;
                    return Ok(Step::Forced(ff));
                }
                // Ids past the token table (a padded output head) never reach the parser.
                if let Some(t) = self
                    .pick(greedy_pick)
                    .filter(|&t| (t as usize) < self.vocab)
                {
                    let ok = self
                        .matcher
                        .validate_tokens(&[t])
                        .map_err(|e| ConstraintError::Engine(e.to_string()))?;
                    if ok == 1 {
                        return Ok(self.took(t, t0));
                    }
                }
                self.matcher
                    .compute_mask()
                    .map_err(|e| ConstraintError::Engine(e.to_string()))?
            }
        };
        apply_mask(&mask, logits, self.vocab, masked);
        self.mask_ns += t0.elapsed().as_nanos() as u64;
        self.masks += 1;
        if mask.is_zero() {
            return Ok(Step::Done);
        }
        Ok(Step::Sample)
    }

    /// Calls `greedy_pick`, keeping its time (the sampler's, not the grammar's) out of
    /// `mask_ns`.
    fn pick(&mut self, greedy_pick: impl FnOnce() -> Option<u32>) -> Option<u32> {
        let t = Instant::now();
        let pick = greedy_pick();
        self.pick_ns += t.elapsed().as_nanos() as u64;
        pick
    }

    fn took(&mut self, t: u32, t0: Instant) -> Step {
        self.mask_ns += t0.elapsed().as_nanos() as u64;
        self.masks += 1;
        self.skipped += 1;
        Step::Take(t)
    }

    /// Advances the grammar by `tokens` (sampled or forced).
    pub(crate) fn consume(&mut self, tokens: &[u32]) -> Result<(), ConstraintError> {
        self.first_mask = None;
        self.matcher
            .consume_tokens(tokens)
            .map_err(|e| ConstraintError::Engine(e.to_string()))
    }

    /// Whether the output so far is a complete match (end of generation is allowed here).
    pub(crate) fn is_accepting(&mut self) -> bool {
        self.matcher.get_error().is_none()
            && (self.matcher.is_stopped() || self.matcher.is_accepting().unwrap_or(false))
    }

    /// Whether the grammar allows nothing more (it ended, or failed).
    pub(crate) fn is_finished(&self) -> bool {
        self.matcher.is_stopped()
    }
}

/// `masked` = `logits` where the mask allows the token, minus infinity elsewhere (also for
/// logits past the tokenizer's vocabulary, e.g. a padded output head).
fn apply_mask(mask: &SimpleVob, logits: &[f32], vocab: usize, masked: &mut Vec<f32>) {
    masked.clear();
    masked.resize(logits.len(), f32::NEG_INFINITY);
    let words = mask.as_slice();
    let n = logits.len().min(vocab);
    for (w, &bits) in words.iter().enumerate() {
        if bits == 0 {
            continue;
        }
        let base = w * 32;
        if base >= n {
            break;
        }
        let end = (base + 32).min(n);
        if bits == u32::MAX {
            masked[base..end].copy_from_slice(&logits[base..end]);
        } else {
            let mut b = bits;
            while b != 0 {
                let i = base + b.trailing_zeros() as usize;
                if i < end {
                    masked[i] = logits[i];
                }
                b &= b - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_only_allowed_logits() {
        let mut m = SimpleVob::alloc(70);
        for t in [0u32, 5, 31, 32, 33, 64, 69] {
            m.allow_token(t);
        }
        let logits: Vec<f32> = (0..72).map(|i| i as f32).collect();
        let mut out = Vec::new();
        apply_mask(&m, &logits, 70, &mut out);
        for (i, &v) in out.iter().enumerate() {
            if m.is_allowed(i as u32) && i < 70 {
                assert_eq!(v, i as f32);
            } else {
                assert_eq!(v, f32::NEG_INFINITY, "{i}");
            }
        }
        let mut all = SimpleVob::alloc(64);
        all.set_all(true);
        apply_mask(&all, &logits[..64], 64, &mut out);
        assert_eq!(out, &logits[..64]);
    }
}
