//! Streaming text generation: evaluate a prompt, then sample tokens one at a time, emitting
//! UTF-8-safe text deltas, until an end-of-generation token, a stop string, the token budget,
//! a full context, or cancellation.

use crate::constraint::{Constraint, ConstraintError, ConstraintRun, Grammars, Step};
use crate::sampler::{Sampler, SamplerConfig, SamplerError};
use crate::session::{Session, SessionError};
use crate::tokenizer::StreamDecoder;
use std::sync::atomic::{AtomicBool, Ordering};

/// What [`generate`] produces and when it stops.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Most tokens generated.
    pub max_tokens: usize,
    /// How the next token is picked.
    pub sampler: SamplerConfig,
    /// Generation ends before the first occurrence of any of these; the stop string itself is
    /// not part of the output.
    pub stop: Vec<String>,
    /// What the output must match (a JSON Schema, a regex, a grammar or a list of choices);
    /// `None` for free text. See [`Generation::constraint`] for whether the output matched.
    pub constraint: Option<Constraint>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            sampler: SamplerConfig::default(),
            stop: Vec::new(),
            constraint: None,
        }
    }
}

/// How a constrained generation ended (see [`GenerateOptions::constraint`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConstraintOutcome {
    /// The output is a full match of the constraint and generation ended there (the grammar
    /// allowed nothing more, or the model ended where the grammar may end).
    pub complete: bool,
    /// The text is a full match of the constraint (a JSON value that validates, a string the
    /// regex matches...). False when `max_tokens`, the context, a stop string or cancellation
    /// cut it short inside the constraint.
    pub valid: bool,
    /// Tokens appended without sampling because the grammar allowed only them.
    pub forced_tokens: usize,
    /// Steps that consulted the grammar (a mask, a forced run or a greedy pick check).
    pub mask_steps: usize,
    /// Steps (greedy decoding only) where the token picked from the unmasked logits was
    /// allowed, so it was taken after one parser check, without computing the mask.
    pub mask_skipped: usize,
    /// Time spent in the grammar engine and applying its masks, in microseconds (total; the
    /// sampler's time is not included).
    pub mask_us: f64,
}

/// Why [`generate`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model produced an end-of-generation token (EOS, end of turn).
    EndOfGeneration,
    /// [`GenerateOptions::max_tokens`] tokens were generated.
    MaxTokens,
    /// One of [`GenerateOptions::stop`] was produced.
    StopString,
    /// The caller's cancel flag was set, or its callback asked to stop.
    Cancelled,
    /// The session's context length was reached.
    ContextFull,
}

impl StopReason {
    /// A stable snake_case name for logs and JSON (`"end_of_generation"`, `"max_tokens"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndOfGeneration => "end_of_generation",
            Self::MaxTokens => "max_tokens",
            Self::StopString => "stop_string",
            Self::Cancelled => "cancelled",
            Self::ContextFull => "context_full",
        }
    }
}

/// The result of [`generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// Everything emitted (equals the concatenation of the deltas).
    pub text: String,
    /// Generated token ids (excluding the prompt; including a token that completed a stop string).
    pub tokens: Vec<u32>,
    /// Why generation ended.
    pub stop_reason: StopReason,
    /// For a constrained generation: whether the output is complete and valid.
    pub constraint: Option<ConstraintOutcome>,
}

/// Why [`generate`] failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Evaluating the prompt or a generated token failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// [`GenerateOptions::sampler`] is out of range.
    #[error("invalid sampling settings: {0}")]
    Sampler(#[from] SamplerError),
    /// No prompt tokens were given.
    #[error("the prompt is empty")]
    EmptyPrompt,
    /// [`GenerateOptions::constraint`] is invalid or cannot be satisfied (reported before any
    /// token is generated), or the grammar engine failed.
    #[error(transparent)]
    Constraint(#[from] ConstraintError),
}

/// Holds back text that might be the start of a stop string until it is known not to be.
struct StopMatcher<'a> {
    stops: &'a [String],
    text: String,
    emitted: usize,
}

impl<'a> StopMatcher<'a> {
    fn new(stops: &'a [String]) -> Self {
        Self {
            stops,
            text: String::new(),
            emitted: 0,
        }
    }

    /// Adds decoded text; returns (text safe to emit now, whether a stop string was found).
    fn push(&mut self, delta: &str) -> (String, bool) {
        let search_from = self.emitted;
        self.text.push_str(delta);
        // A stop string may straddle the boundary of previously held-back text.
        let found = self
            .stops
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| {
                self.text[search_from..]
                    .find(s.as_str())
                    .map(|i| search_from + i)
            })
            .min();
        if let Some(at) = found {
            let out = self.text[self.emitted..at].to_owned();
            self.text.truncate(at);
            self.emitted = at;
            return (out, true);
        }
        // Longest suffix that is a proper prefix of some stop string stays pending.
        let mut hold = 0;
        for s in self.stops {
            for (i, _) in s.char_indices().skip(1) {
                if i <= self.text.len() - self.emitted && self.text.ends_with(&s[..i]) {
                    hold = hold.max(i);
                }
            }
        }
        let until = self.text.len() - hold;
        let out = self.text[self.emitted..until].to_owned();
        self.emitted = until;
        (out, false)
    }

    /// Releases held-back text at the end of generation.
    fn finish(&mut self) -> String {
        let out = self.text[self.emitted..].to_owned();
        self.emitted = self.text.len();
        out
    }
}

/// Makes `session` hold `prompt` (reusing any cached common prefix) and generates after it.
/// `on_text` receives each non-empty text delta and returns `false` to stop early.
pub fn generate(
    session: &mut Session,
    prompt: &[u32],
    opts: &GenerateOptions,
    cancel: &AtomicBool,
    mut on_text: impl FnMut(&str) -> bool,
) -> Result<Generation, GenerateError> {
    if prompt.is_empty() {
        return Err(GenerateError::EmptyPrompt);
    }
    let mut sampler = Sampler::new(opts.sampler)?;
    let greedy = opts.sampler.is_greedy();
    let model = session.model().clone();
    let mut run = match &opts.constraint {
        Some(c) => {
            if session.logits_width() != model.config().vocab_size {
                return Err(ConstraintError::PartialLogits.into());
            }
            Some(Grammars::for_model(&model)?.matcher(c)?)
        }
        None => None,
    };
    let tok = model.tokenizer();
    let mut decoder = StreamDecoder::new();
    let mut matcher = StopMatcher::new(&opts.stop);
    let mut tokens = Vec::new();
    let mut text = String::new();
    let mut masked = Vec::new();
    let mut step_tokens: Vec<u32> = Vec::new();

    let mut emit = |delta: &str, text: &mut String| -> bool {
        if delta.is_empty() {
            return true;
        }
        text.push_str(delta);
        on_text(delta)
    };

    if cancel.load(Ordering::Relaxed) {
        let constraint = run.as_mut().map(|r| outcome(r, StopReason::Cancelled));
        return Ok(Generation {
            text,
            tokens,
            stop_reason: StopReason::Cancelled,
            constraint,
        });
    }
    session.sync_to(prompt)?;
    let stop_reason = 'gen: loop {
        if tokens.len() >= opts.max_tokens {
            break StopReason::MaxTokens;
        }
        if cancel.load(Ordering::Relaxed) {
            break StopReason::Cancelled;
        }
        let logits = session.logits()?;
        step_tokens.clear();
        match run.as_mut() {
            None => step_tokens.push(sampler.sample(logits, session.tokens())),
            Some(r) => match r.step(logits, &mut masked, || {
                greedy.then(|| sampler.sample(logits, session.tokens()))
            })? {
                Step::Done => break StopReason::EndOfGeneration,
                Step::Forced(ff) => {
                    let room = opts.max_tokens - tokens.len();
                    step_tokens.extend(ff.into_iter().take(room));
                    r.forced += step_tokens.len();
                }
                Step::Take(t) => step_tokens.push(t),
                Step::Sample => step_tokens.push(sampler.sample(&masked, session.tokens())),
            },
        }
        for (i, &next) in step_tokens.iter().enumerate() {
            if tok.is_end_of_generation(next) {
                // Under a constraint the mask allows this only where the grammar may end.
                break 'gen StopReason::EndOfGeneration;
            }
            if let Some(r) = run.as_mut() {
                r.consume(&[next])?;
            }
            tokens.push(next);
            let piece = if tok.is_control(next) {
                String::new()
            } else {
                decoder.push(tok, next)
            };
            let (out, stopped) = matcher.push(&piece);
            let keep_going = emit(&out, &mut text);
            if stopped {
                break 'gen StopReason::StopString;
            }
            if !keep_going {
                break 'gen StopReason::Cancelled;
            }
            if session.len() + i >= session.context_length() {
                if i > 0 {
                    session.eval(&step_tokens[..i])?;
                }
                break 'gen StopReason::ContextFull;
            }
        }
        if run.as_ref().is_some_and(|r| r.is_finished()) {
            // The grammar allows nothing more: no need to evaluate the last tokens.
            break StopReason::EndOfGeneration;
        }
        if tokens.len() < opts.max_tokens && !cancel.load(Ordering::Relaxed) {
            session.eval(&step_tokens)?;
        }
    };
    if stop_reason != StopReason::StopString {
        let tail = decoder.finish();
        let (out, stopped) = matcher.push(&tail);
        emit(&out, &mut text);
        if !stopped {
            let rest = matcher.finish();
            emit(&rest, &mut text);
        }
    }
    let constraint = run.as_mut().map(|r| outcome(r, stop_reason));
    Ok(Generation {
        text,
        tokens,
        stop_reason,
        constraint,
    })
}

/// The [`ConstraintOutcome`] of a finished run.
fn outcome(r: &mut ConstraintRun, stop_reason: StopReason) -> ConstraintOutcome {
    let accepting = r.is_accepting();
    let valid = accepting && stop_reason != StopReason::StopString;
    ConstraintOutcome {
        complete: valid && stop_reason == StopReason::EndOfGeneration,
        valid,
        forced_tokens: r.forced,
        mask_steps: r.masks,
        mask_skipped: r.skipped,
        mask_us: r.mask_ns.saturating_sub(r.pick_ns) as f64 / 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::StopMatcher;

    fn run(stops: &[&str], deltas: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        for d in deltas {
            let (o, stop) = m.push(d);
            out.push_str(&o);
            if stop {
                return (out, true);
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn stop_string_split_across_deltas() {
        assert_eq!(
            run(&["\nUser:"], &["Hi", " there", "\nUs", "er:", " more"]),
            ("Hi there".into(), true)
        );
    }

    #[test]
    fn held_back_text_is_released_when_no_match() {
        assert_eq!(
            run(&["\nUser:"], &["Hi", "\nUs", "ually"]),
            ("Hi\nUsually".into(), false)
        );
    }

    #[test]
    fn no_stops_passes_through() {
        assert_eq!(run(&[], &["a", "b"]), ("ab".into(), false));
    }

    #[test]
    fn earliest_stop_wins() {
        assert_eq!(run(&["c", "b"], &["abc"]), ("a".into(), true));
    }
}
