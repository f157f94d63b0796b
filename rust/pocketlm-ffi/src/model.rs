//! A loaded model: memory-mapped, immutable, shared by every predictor, drafter and session
//! made from it, from any thread.

use crate::error::{guard, PocketLmError};
use std::sync::Arc;

/// What a model is.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ModelInfo {
    /// The model's name from its metadata (may be empty).
    pub name: String,
    /// e.g. "llama", "gemma3".
    pub architecture: String,
    pub parameter_count: i64,
    /// The most common weight type, e.g. "Q4_1".
    pub quantization: String,
    /// Context length the model was trained with.
    pub context_length: i32,
    pub vocab_size: i32,
    pub layer_count: i32,
    pub embedding_size: i32,
    pub file_bytes: i64,
    /// Whether the file carries a chat template (otherwise a generic one is used).
    pub has_chat_template: bool,
}

fn clamp_i32(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// A GGUF model, memory-mapped read-only (the weights are never copied to the heap). Cheap to
/// share: every object made from it holds a reference, so closing the `Model` while a
/// predictor still uses it is safe.
#[derive(uniffi::Object)]
pub struct Model {
    pub(crate) inner: Arc<pocketlm::Model>,
    path: String,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl Model {
    /// Maps the GGUF file at `path`. Fast (no weights are read), but it touches the file
    /// system: call it off the main thread.
    #[uniffi::constructor]
    pub fn load(path: String) -> Result<Arc<Self>, PocketLmError> {
        guard("Model.load", || {
            let inner = pocketlm::Model::load(&path)?;
            Ok(Arc::new(Model { inner, path }))
        })
    }

    /// Architecture, parameter count, quantization, context length and more.
    pub fn info(&self) -> Result<ModelInfo, PocketLmError> {
        guard("Model.info", || {
            let i = self.inner.info();
            Ok(ModelInfo {
                name: i.name,
                architecture: i.architecture,
                parameter_count: i64::try_from(i.n_params).unwrap_or(i64::MAX),
                quantization: i.quantization,
                context_length: clamp_i32(i.train_context_length),
                vocab_size: clamp_i32(i.vocab_size),
                layer_count: clamp_i32(i.n_layers),
                embedding_size: clamp_i32(i.n_embd),
                file_bytes: i64::try_from(i.file_bytes).unwrap_or(i64::MAX),
                has_chat_template: i.has_chat_template,
            })
        })
    }

    /// The path the model was loaded from.
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// How many tokens `text` takes as a prompt (with the model's start token, as
    /// `TextSession.generate` encodes it). Useful to budget a context.
    pub fn count_tokens(&self, text: String) -> Result<i32, PocketLmError> {
        guard("Model.countTokens", || {
            Ok(clamp_i32(
                self.inner.tokenizer().encode(&text, true, true).len(),
            ))
        })
    }
}
