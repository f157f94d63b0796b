//! The naive LLM keyboard, kept as a baseline for the evaluation: on every keystroke it
//! evaluates the whole text from scratch and shows the three likeliest next tokens (a token
//! that continues the typed letters is shown appended to them).

use super::eval::Suggest;
use pocketlm::internals::keyboard::{start_tokens, text};
use pocketlm::{
    KeyboardError, Model, Session, SessionOptions, SuggestStats, Suggestion, SuggestionKind,
    Suggestions,
};
use std::sync::{Arc, Mutex};

pub struct NaivePredictor {
    model: Arc<Model>,
    k: usize,
    start: Vec<u32>,
    session: Mutex<Session>,
}

impl NaivePredictor {
    pub fn new(model: Arc<Model>, k: usize, threads: usize) -> Result<Self, KeyboardError> {
        let session = Session::new(
            model.clone(),
            SessionOptions {
                context_length: 2048,
                threads,
            },
        )?;
        let start = start_tokens(model.tokenizer());
        Ok(Self {
            model,
            k: k.max(1),
            start,
            session: Mutex::new(session),
        })
    }

    pub fn suggest(&self, text_before_cursor: &str) -> Result<Suggestions, KeyboardError> {
        let tok = self.model.tokenizer();
        let mut tokens = self.start.clone();
        tok.encode_into(text_before_cursor, false, false, &mut tokens);
        let mut s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let limit = s.context_length();
        if tokens.len() > limit {
            tokens.drain(..tokens.len() - limit);
        }
        s.clear();
        let logits = s.eval(&tokens)?;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = max + logits.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
        // The best few tokens (enough to skip whitespace-only ones), without sorting them all.
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        let by = |a: &u32, b: &u32| {
            logits[*b as usize]
                .total_cmp(&logits[*a as usize])
                .then(a.cmp(b))
        };
        let keep = (self.k * 8).min(order.len() - 1);
        order.select_nth_unstable_by(keep, by);
        order.truncate(keep);
        order.sort_by(by);
        let sp = text::split(text_before_cursor);
        let mut items: Vec<Suggestion> = Vec::new();
        for id in order {
            if items.len() == self.k {
                break;
            }
            let piece = String::from_utf8_lossy(tok.token_bytes(id)).into_owned();
            if piece.trim().is_empty() {
                continue;
            }
            let (word, kind) = if piece.starts_with(char::is_whitespace) || sp.word.is_empty() {
                (piece.trim().to_string(), SuggestionKind::NextWord)
            } else {
                (
                    format!("{}{}", sp.word, piece.trim_end()),
                    SuggestionKind::Completion,
                )
            };
            if items.iter().any(|s| s.word == word) {
                continue;
            }
            items.push(Suggestion {
                word,
                probability: (logits[id as usize] - lse).exp(),
                kind,
            });
        }
        Ok(Suggestions {
            items,
            stats: SuggestStats {
                context_tokens: tokens.len(),
                reused_tokens: 0,
                evaluated_tokens: tokens.len(),
                forward_passes: tokens.len().div_ceil(64),
                replayed_tokens: 0,
            },
        })
    }
}

impl Suggest for NaivePredictor {
    fn suggest(&self, text_before_cursor: &str) -> Result<Suggestions, KeyboardError> {
        NaivePredictor::suggest(self, text_before_cursor)
    }

    fn name(&self) -> &'static str {
        "naive"
    }
}
