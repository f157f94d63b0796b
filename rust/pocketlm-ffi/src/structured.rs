//! Structured output and task APIs: output constraints on generation options (JSON Schema,
//! regular expression, grammar, choices) and how a constrained generation ended; scoring
//! continuations and classifying a text into one of a few labels. Thin: the work is in the
//! core's `constraint` and `task` modules (docs/structured.md).

use crate::error::{guard, lock, PocketLmError};
use crate::session::TextSession;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What the generated text must match. Set it as `GenerationOptions.constraint`; an invalid
/// constraint fails the call that starts the generation with `InvalidConstraint` (naming the
/// problem) before any token is generated.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum OutputConstraint {
    /// One JSON value that validates against this JSON Schema (the schema document as JSON
    /// text: objects, arrays, enums, numbers with bounds, patterns, `anyOf`, local `$ref`).
    /// Properties are generated in the schema's order.
    JsonSchema { schema: String },
    /// The whole output matches this regular expression (Rust `regex` syntax).
    Regex { pattern: String },
    /// A grammar in llguidance's Lark-like syntax (`start: ...`; `%json {...}` embeds a schema).
    Grammar { grammar: String },
    /// Exactly one of these strings.
    Choices { choices: Vec<String> },
}

impl OutputConstraint {
    pub(crate) fn to_core(&self) -> pocketlm::Constraint {
        match self {
            Self::JsonSchema { schema } => pocketlm::Constraint::JsonSchema(schema.clone()),
            Self::Regex { pattern } => pocketlm::Constraint::Regex(pattern.clone()),
            Self::Grammar { grammar } => pocketlm::Constraint::Grammar(grammar.clone()),
            Self::Choices { choices } => pocketlm::Constraint::Choices(choices.clone()),
        }
    }
}

/// How a constrained generation ended (`GenerationResult.constraint`).
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct ConstraintOutcome {
    /// The text is a full match and generation ended there. Only then is the output the
    /// finished value (e.g. JSON that parses and validates against the schema).
    pub complete: bool,
    /// The text is a full match of the constraint. False when `max_tokens`, the context, a stop
    /// string or cancellation cut it short: an incomplete output is never reported valid.
    pub valid: bool,
    /// Tokens appended without sampling because the grammar allowed only them.
    pub forced_tokens: i32,
    /// Time spent in the grammar engine, in microseconds (total over the generation).
    pub mask_us: f64,
}

impl From<pocketlm::ConstraintOutcome> for ConstraintOutcome {
    fn from(c: pocketlm::ConstraintOutcome) -> Self {
        ConstraintOutcome {
            complete: c.complete,
            valid: c.valid,
            forced_tokens: i32::try_from(c.forced_tokens).unwrap_or(i32::MAX),
            mask_us: c.mask_us,
        }
    }
}

impl From<pocketlm::ConstraintError> for PocketLmError {
    fn from(e: pocketlm::ConstraintError) -> Self {
        use pocketlm::ConstraintError as C;
        let msg = e.to_string();
        match e {
            C::InvalidJsonSchema(_)
            | C::InvalidRegex(_)
            | C::InvalidGrammar(_)
            | C::InvalidChoices(_)
            | C::Unsatisfiable(_) => PocketLmError::InvalidConstraint(msg),
            C::PartialLogits | C::Engine(_) => PocketLmError::Internal(msg),
        }
    }
}

impl From<pocketlm::TaskError> for PocketLmError {
    fn from(e: pocketlm::TaskError) -> Self {
        use pocketlm::TaskError as T;
        let msg = e.to_string();
        match e {
            T::Session(s) => s.into(),
            T::Template(_) => PocketLmError::InvalidModel(format!(
                "{msg} (the model's chat template cannot be used)"
            )),
            T::EmptyPrompt | T::NoCandidates | T::EmptyCandidate(_) | T::DuplicateLabel(_) => {
                PocketLmError::InvalidArgument(msg)
            }
            T::PartialLogits => PocketLmError::Internal(msg),
        }
    }
}

/// The log-probability of one continuation after a prompt (`TextSession.score`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ContinuationScore {
    /// The continuation, as given.
    pub text: String,
    /// Natural log-probability of each of its tokens given the prompt and the tokens before.
    pub token_logprobs: Vec<f32>,
    /// Their sum: the log-probability of the whole continuation.
    pub logprob: f32,
    /// Per token (the sum divided by the token count): comparable across lengths.
    pub mean_logprob: f32,
}

/// One label's score in a [`Classification`].
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct LabelScore {
    pub label: String,
    /// Log-probability of the model answering exactly this label (and ending its turn).
    pub logprob: f32,
    /// Per token; the label with the highest wins.
    pub mean_logprob: f32,
    /// Tokens scored.
    pub tokens: i32,
}

/// The result of `TextSession.classify`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Classification {
    /// The most likely label.
    pub label: String,
    /// Its index in the labels given.
    pub index: i32,
    /// Every label's score, in the order given.
    pub scores: Vec<LabelScore>,
}

#[uniffi::export]
impl TextSession {
    /// The log-probability of each continuation after `prompt` (the model's start token is
    /// added to the prompt, as `generate` does; each continuation is tokenized on its own, so
    /// give it its leading space). One pass over the prompt (its cached prefix is reused) and
    /// one batched pass over the continuations. Blocks: call it off the main thread. Waits for
    /// a generation running on this session.
    pub fn score(
        &self,
        prompt: String,
        continuations: Vec<String>,
    ) -> Result<Vec<ContinuationScore>, PocketLmError> {
        guard("TextSession.score", || {
            if prompt.is_empty() {
                return Err(PocketLmError::InvalidArgument(
                    "the prompt is empty; pass some text".into(),
                ));
            }
            let tok = self.model.tokenizer();
            let prompt_tokens = tok.encode(&prompt, true, true);
            let cont: Vec<Vec<u32>> = continuations
                .iter()
                .map(|c| tok.encode(c, false, false))
                .collect();
            let scores = self.with_session(|s| pocketlm::score(s, &prompt_tokens, &cont))?;
            Ok(continuations
                .into_iter()
                .zip(scores)
                .map(|(text, s)| ContinuationScore {
                    text,
                    mean_logprob: s.mean_logprob(),
                    logprob: s.logprob,
                    token_logprobs: s.token_logprobs,
                })
                .collect())
        })
    }

    /// Picks the label the model finds most likely as the answer to "which of these
    /// categories is `text` in?" (asked in the model's chat template, after `instruction`,
    /// or a generic one when `null`/`nil`): each label is scored as the whole answer,
    /// length-normalised, all in one batched pass. Labels must be distinct and non-empty.
    /// Blocks: call it off the main thread.
    pub fn classify(
        &self,
        text: String,
        labels: Vec<String>,
        instruction: Option<String>,
    ) -> Result<Classification, PocketLmError> {
        guard("TextSession.classify", || {
            let c = self
                .with_session(|s| pocketlm::classify(s, &text, &labels, instruction.as_deref()))?;
            Ok(Classification {
                label: c.label,
                index: i32::try_from(c.index).unwrap_or(i32::MAX),
                scores: c
                    .scores
                    .into_iter()
                    .map(|s| LabelScore {
                        label: s.label,
                        logprob: s.logprob,
                        mean_logprob: s.mean_logprob,
                        tokens: i32::try_from(s.tokens).unwrap_or(i32::MAX),
                    })
                    .collect(),
            })
        })
    }
}

impl TextSession {
    /// Runs `f` on the session (after a pending reset), then records its token count.
    fn with_session<T>(
        &self,
        f: impl FnOnce(&mut pocketlm::Session) -> Result<T, pocketlm::TaskError>,
    ) -> Result<T, PocketLmError> {
        let mut session = lock(&self.session);
        if self.reset_requested.swap(false, Ordering::SeqCst) {
            session.clear();
        }
        let r = f(&mut session);
        self.context_tokens.store(
            i32::try_from(session.len()).unwrap_or(i32::MAX),
            Ordering::SeqCst,
        );
        Ok(r?)
    }
}

/// Checks `constraint` against `model` before a generation starts (typed errors, no token).
pub(crate) fn check(
    model: &Arc<pocketlm::Model>,
    constraint: Option<&pocketlm::Constraint>,
) -> Result<(), PocketLmError> {
    match constraint {
        Some(c) => Ok(c.check(model)?),
        None => Ok(()),
    }
}
