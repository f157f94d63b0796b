//! Scoring and classification: the log-probability of fixed continuations after a prompt, and
//! picking one of a few labels for a text. All continuations are evaluated in one batched
//! forward pass after a single pass over the shared prompt (the same batched multi-sequence
//! decoding the reply drafter uses).

use crate::chat_template::{ChatMessage, ChatTemplate, TemplateError};
use crate::session::{Session, SessionError};
use crate::tokenizer::Tokenizer;

/// Rows of one batched pass; longer batches are split (bounded scratch memory).
const MAX_BATCH_ROWS: usize = 64;

/// Why [`score`] or [`classify`] failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Evaluating the prompt or a continuation failed (e.g. they do not fit the context).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The model's chat template failed.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// No prompt tokens (or an empty text to classify).
    #[error("the prompt is empty")]
    EmptyPrompt,
    /// No continuations (or labels) were given.
    #[error("nothing to score: give at least one continuation or label")]
    NoCandidates,
    /// A continuation (or label) is empty.
    #[error("continuation {0} is empty")]
    EmptyCandidate(usize),
    /// The same label twice.
    #[error("label {0:?} is given more than once")]
    DuplicateLabel(String),
    /// The session computes only some output rows (see [`Session::set_output_rows`]).
    #[error("scoring needs every logit: call set_output_rows(None) on the session first")]
    PartialLogits,
}

/// The log-probability of one continuation after a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuationScore {
    /// The continuation's tokens.
    pub tokens: Vec<u32>,
    /// Natural log-probability of each token given the prompt and the tokens before it.
    pub token_logprobs: Vec<f32>,
    /// Their sum: the log-probability of the whole continuation.
    pub logprob: f32,
}

impl ContinuationScore {
    /// The length-normalised log-probability (mean per token).
    pub fn mean_logprob(&self) -> f32 {
        self.logprob / self.tokens.len().max(1) as f32
    }
}

/// `logits[token]` minus the log of the sum of exponentials of all logits.
fn log_softmax_at(logits: &[f32], token: u32) -> f32 {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let sum: f32 = logits.iter().map(|&v| (v - max).exp()).sum();
    logits
        .get(token as usize)
        .copied()
        .unwrap_or(f32::NEG_INFINITY)
        - max
        - sum.ln()
}

/// The log-probability of each continuation after `prompt`. `session` is made to hold
/// `prompt` (its cached common prefix is reused, and it holds the prompt afterwards); the
/// continuations are evaluated together in batched passes on forks of it, so scoring five
/// labels costs about one prompt pass plus their tokens.
pub fn score(
    session: &mut Session,
    prompt: &[u32],
    continuations: &[Vec<u32>],
) -> Result<Vec<ContinuationScore>, TaskError> {
    if prompt.is_empty() {
        return Err(TaskError::EmptyPrompt);
    }
    if continuations.is_empty() {
        return Err(TaskError::NoCandidates);
    }
    if let Some(i) = continuations.iter().position(|c| c.is_empty()) {
        return Err(TaskError::EmptyCandidate(i));
    }
    let vocab = session.model().config().vocab_size;
    if session.logits_width() != vocab {
        return Err(TaskError::PartialLogits);
    }
    // Every continuation must fit after the prompt (checked before any work).
    let longest = continuations.iter().map(Vec::len).max().unwrap_or(0);
    if prompt.len() + longest > session.context_length() {
        return Err(SessionError::ContextOverflow {
            needed: prompt.len() + longest,
            limit: session.context_length(),
        }
        .into());
    }
    let first = session.sync_to(prompt)?.to_vec();
    let mut scores: Vec<ContinuationScore> = continuations
        .iter()
        .map(|c| ContinuationScore {
            tokens: c.clone(),
            token_logprobs: vec![log_softmax_at(&first, c[0])],
            logprob: 0.0,
        })
        .collect();
    // Continuations of more than one token: evaluate all but their last token after the
    // prompt, on forks, several per batched pass.
    let pending: Vec<usize> = (0..continuations.len())
        .filter(|&i| continuations[i].len() > 1)
        .collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start < pending.len() {
        let mut end = start;
        let mut rows = 0;
        while end < pending.len() {
            let n = continuations[pending[end]].len() - 1;
            if end > start && rows + n > MAX_BATCH_ROWS {
                break;
            }
            rows += n;
            end += 1;
        }
        let group = &pending[start..end];
        let mut forks: Vec<Session> = group.iter().map(|_| session.fork()).collect();
        let inputs: Vec<&[u32]> = group
            .iter()
            .map(|&i| &continuations[i][..continuations[i].len() - 1])
            .collect();
        if group.len() == 1 && rows > MAX_BATCH_ROWS {
            forks[0].eval_all(inputs[0], &mut out)?;
        } else {
            let mut refs: Vec<&mut Session> = forks.iter_mut().collect();
            Session::eval_batch_all(&mut refs, &inputs, &mut out)?;
        }
        let mut row = 0;
        for &i in group {
            let c = &continuations[i];
            for &t in &c[1..] {
                let logits = &out[row * vocab..(row + 1) * vocab];
                scores[i].token_logprobs.push(log_softmax_at(logits, t));
                row += 1;
            }
        }
        start = end;
    }
    for s in &mut scores {
        s.logprob = s.token_logprobs.iter().sum();
    }
    Ok(scores)
}

/// One label's score in a [`Classification`].
#[derive(Debug, Clone, PartialEq)]
pub struct LabelScore {
    /// The label.
    pub label: String,
    /// Log-probability of the whole answer (the label and the end of the turn).
    pub logprob: f32,
    /// Length-normalised log-probability (per token); the label with the highest wins.
    pub mean_logprob: f32,
    /// Tokens scored.
    pub tokens: usize,
}

/// The result of [`classify`].
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The most likely label.
    pub label: String,
    /// Its index in the labels given.
    pub index: usize,
    /// Every label's score, in the order given.
    pub scores: Vec<LabelScore>,
}

/// The instruction [`classify`] uses when the caller gives none.
pub const DEFAULT_CLASSIFY_INSTRUCTION: &str = "Classify the text into one of the categories.";

/// Picks the label the model finds most likely as the answer to "which category is this text
/// in?": each label is scored as the assistant's whole answer under the model's chat template
/// (the label and the end of the turn), length-normalised, in one batched pass.
pub fn classify(
    session: &mut Session,
    text: &str,
    labels: &[String],
    instruction: Option<&str>,
) -> Result<Classification, TaskError> {
    if text.trim().is_empty() {
        return Err(TaskError::EmptyPrompt);
    }
    if labels.is_empty() {
        return Err(TaskError::NoCandidates);
    }
    for (i, l) in labels.iter().enumerate() {
        if l.trim().is_empty() {
            return Err(TaskError::EmptyCandidate(i));
        }
        if labels[..i].contains(l) {
            return Err(TaskError::DuplicateLabel(l.clone()));
        }
    }
    let model = session.model().clone();
    let tok = model.tokenizer();
    let template = ChatTemplate::for_model(&model)?;
    let instruction = instruction
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(DEFAULT_CLASSIFY_INSTRUCTION);
    let question = format!(
        "{instruction}\nCategories: {}.\n\nText: {text}\n\nAnswer with the category only.",
        labels.join(", ")
    );
    let user = [ChatMessage::user(question.clone())];
    let prompt = template.encode(tok, &user, true)?;
    let continuations = labels
        .iter()
        .map(|l| answer_tokens(&template, tok, &question, &prompt, l))
        .collect::<Result<Vec<_>, _>>()?;
    let scores = score(session, &prompt, &continuations)?;
    let scores: Vec<LabelScore> = labels
        .iter()
        .zip(&scores)
        .map(|(l, s)| LabelScore {
            label: l.clone(),
            logprob: s.logprob,
            mean_logprob: s.mean_logprob(),
            tokens: s.tokens.len(),
        })
        .collect();
    let index = (0..scores.len())
        .max_by(|&a, &b| scores[a].mean_logprob.total_cmp(&scores[b].mean_logprob))
        .unwrap_or(0);
    Ok(Classification {
        label: labels[index].clone(),
        index,
        scores,
    })
}

/// The tokens of the assistant answering `label` after `prompt`, up to and including the
/// template's end of turn: the difference between the conversation with the answer and the
/// prompt. When the template renders them inconsistently, the label's own tokens plus the
/// end-of-turn token.
fn answer_tokens(
    template: &ChatTemplate,
    tok: &Tokenizer,
    question: &str,
    prompt: &[u32],
    label: &str,
) -> Result<Vec<u32>, TaskError> {
    let full = template.encode(
        tok,
        &[
            ChatMessage::user(question.to_owned()),
            ChatMessage::assistant(label.to_owned()),
        ],
        false,
    )?;
    let mut answer = if full.len() > prompt.len() && full.starts_with(prompt) {
        full[prompt.len()..].to_vec()
    } else {
        let mut a = tok.encode(label, false, false);
        a.extend(tok.eot().or(tok.eos()));
        a
    };
    if let Some(end) = answer.iter().position(|&t| tok.is_end_of_generation(t)) {
        answer.truncate(end + 1);
    }
    if answer.is_empty() {
        answer = tok.encode(label, false, false);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::log_softmax_at;

    #[test]
    fn log_softmax_matches_definition() {
        let logits = [1.0f32, 2.0, 3.0];
        let z: f32 = logits.iter().map(|v| v.exp()).sum();
        for (i, &l) in logits.iter().enumerate() {
            assert!((log_softmax_at(&logits, i as u32) - (l.exp() / z).ln()).abs() < 1e-5);
        }
        assert_eq!(log_softmax_at(&logits, 9), f32::NEG_INFINITY);
    }
}
