//! Perplexity the way `llama-perplexity -c N` computes it, so numbers compare directly:
//! the text is cut into chunks of `ctx` tokens, each chunk is evaluated from an empty cache
//! (its first token replaced by BOS for models that add one), and only the second half of each
//! chunk is scored.

use crate::model::{AdapterError, LoraAdapter, Model};
use crate::ops::log_softmax;
use crate::session::{Session, SessionError, SessionOptions};
use std::sync::Arc;

/// The result of [`perplexity`].
#[derive(Debug, Clone, PartialEq)]
pub struct Perplexity {
    /// `exp(mean negative log-likelihood)` over the scored tokens.
    pub ppl: f64,
    /// Chunks of `ctx` tokens evaluated (a shorter tail is left out).
    pub chunks: usize,
    /// Tokens whose probability was scored.
    pub scored: usize,
    /// Tokens of the whole text (BOS included where the model adds it).
    pub tokens: usize,
}

/// Why [`perplexity`] could not score a text.
#[derive(Debug, thiserror::Error)]
pub enum PerplexityError {
    /// The chunk size (`ctx`) is below 4 tokens.
    #[error("context {0} is too small; use at least 4 tokens")]
    ContextTooSmall(usize),
    /// The text does not fill one chunk.
    #[error("the text has {tokens} tokens, fewer than one chunk of {ctx}")]
    TextTooShort {
        /// Tokens of the text.
        tokens: usize,
        /// The chunk size asked for.
        ctx: usize,
    },
    /// The model failed to evaluate a chunk.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// An adapter could not be attached.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

/// The perplexity of `text` in chunks of `ctx` tokens, evaluated with `threads` threads
/// (see the module docs for how it matches `llama-perplexity -c ctx`).
pub fn perplexity(
    model: &Arc<Model>,
    text: &str,
    ctx: usize,
    threads: usize,
) -> Result<Perplexity, PerplexityError> {
    perplexity_with_adapters(model, text, ctx, threads, &[])
}

/// [`perplexity`] with LoRA adapters applied (each with its scale; see
/// [`Session::set_adapters`]).
pub fn perplexity_with_adapters(
    model: &Arc<Model>,
    text: &str,
    ctx: usize,
    threads: usize,
    adapters: &[(Arc<LoraAdapter>, f32)],
) -> Result<Perplexity, PerplexityError> {
    if ctx < 4 {
        return Err(PerplexityError::ContextTooSmall(ctx));
    }
    let tok = model.tokenizer();
    let tokens = tok.encode(text, true, false);
    let n_chunks = tokens.len() / ctx;
    if n_chunks == 0 {
        return Err(PerplexityError::TextTooShort {
            tokens: tokens.len(),
            ctx,
        });
    }
    let mut session = Session::new(
        model.clone(),
        SessionOptions {
            context_length: ctx,
            threads,
        },
    )?;
    session.set_adapters(adapters)?;
    let vocab = model.config().vocab_size;
    let first = ctx / 2;
    let mut logits = Vec::new();
    let mut logp = vec![0f32; vocab];
    let (mut nll, mut scored) = (0f64, 0usize);
    for c in 0..n_chunks {
        let mut chunk = tokens[c * ctx..(c + 1) * ctx].to_vec();
        if tok.adds_bos() {
            if let Some(bos) = tok.bos() {
                chunk[0] = bos;
            }
        }
        session.clear();
        session.eval_all_from(&chunk, first, &mut logits)?;
        // Row i of `logits` is position first + i; it predicts token first + i + 1.
        for j in first..ctx - 1 {
            let row = &logits[(j - first) * vocab..(j - first + 1) * vocab];
            log_softmax(row, &mut logp);
            nll -= logp[chunk[j + 1] as usize] as f64;
            scored += 1;
        }
    }
    Ok(Perplexity {
        ppl: (nll / scored as f64).exp(),
        chunks: n_chunks,
        scored,
        tokens: tokens.len(),
    })
}
