//! A loaded model: the mapped GGUF file, its hyper-parameters, weight locations and tokenizer.
//! Immutable after loading, so one `Arc<Model>` serves any number of sessions and threads.

pub mod config;
mod forward;
pub mod weights;

pub use config::{Architecture, ModelConfig, RopeStyle};
pub(crate) use forward::{forward, BatchRow, Scratch};

use crate::gguf::{GgufError, GgufFile};
use crate::quant::GgmlType;
use crate::tokenizer::{Tokenizer, TokenizerError};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use weights::Weights;

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(
        "model architecture {0:?} is not supported (supported: llama, qwen2, mistral, gemma3)"
    )]
    UnsupportedArchitecture(String),
    #[error("hyper-parameter {key}: {reason}")]
    BadHyperParameter { key: String, reason: String },
    #[error("tensor {0:?} is missing; the file does not match its declared architecture")]
    MissingTensor(String),
    #[error("tensor {name:?}: {reason}")]
    BadTensor { name: String, reason: String },
    #[error("tensor {name:?} has type {ty}, which PocketLM cannot multiply yet (supported: F32, F16, Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K)")]
    UnsupportedTensorType { name: String, ty: GgmlType },
    #[error("tokenizer: {0}")]
    Tokenizer(#[from] TokenizerError),
}

/// A summary for apps and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub name: String,
    pub architecture: String,
    pub n_params: u64,
    /// The most common matrix type, e.g. "Q4_1".
    pub quantization: String,
    pub train_context_length: usize,
    pub vocab_size: usize,
    pub n_layers: usize,
    pub n_embd: usize,
    pub file_bytes: u64,
    pub has_chat_template: bool,
}

pub struct Model {
    file: GgufFile,
    config: ModelConfig,
    weights: Weights,
    tokenizer: Tokenizer,
    load_ms: f64,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("file", &self.file)
            .field("arch", &self.config.arch)
            .finish()
    }
}

impl Model {
    /// Maps the file and prepares everything needed to run it. Weights are not read here;
    /// the OS pages them in on first use.
    pub fn load(path: impl AsRef<Path>) -> Result<Arc<Self>, LoadError> {
        let t0 = Instant::now();
        let file = GgufFile::open(path)?;
        let mut config = ModelConfig::from_gguf(&file)?;
        let (weights, vocab) = Weights::locate(&file, &config)?;
        config.vocab_size = vocab;
        let tokenizer = Tokenizer::from_gguf(&file)?;
        if tokenizer.vocab_size() > vocab {
            return Err(LoadError::BadTensor {
                name: "token_embd.weight".into(),
                reason: format!(
                    "{vocab} embedding rows for a vocabulary of {} tokens",
                    tokenizer.vocab_size()
                ),
            });
        }
        Ok(Arc::new(Self {
            file,
            config,
            weights,
            tokenizer,
            load_ms: t0.elapsed().as_secs_f64() * 1e3,
        }))
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
    pub fn gguf(&self) -> &GgufFile {
        &self.file
    }
    pub(crate) fn weights(&self) -> &Weights {
        &self.weights
    }
    /// Milliseconds `load` took (map, metadata, tokenizer).
    pub fn load_ms(&self) -> f64 {
        self.load_ms
    }

    /// The chat template stored in the file, if any.
    pub fn chat_template(&self) -> Option<&str> {
        self.file.opt_str("tokenizer.chat_template").ok().flatten()
    }

    pub fn info(&self) -> ModelInfo {
        let mut counts: Vec<(GgmlType, usize)> = Vec::new();
        for l in &self.weights.layers {
            for w in [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down] {
                match counts.iter_mut().find(|(t, _)| *t == w.ty) {
                    Some((_, c)) => *c += w.rows * w.cols,
                    None => counts.push((w.ty, w.rows * w.cols)),
                }
            }
        }
        let quantization = counts
            .iter()
            .max_by_key(|(_, c)| *c)
            .map(|(t, _)| t.name().to_owned())
            .unwrap_or_default();
        let name = self
            .file
            .opt_str("general.name")
            .ok()
            .flatten()
            .unwrap_or("unnamed")
            .to_owned();
        ModelInfo {
            name,
            architecture: self.config.arch_name.clone(),
            n_params: self.weights.n_params(),
            quantization,
            train_context_length: self.config.train_ctx,
            vocab_size: self.config.vocab_size,
            n_layers: self.config.n_layers,
            n_embd: self.config.n_embd,
            file_bytes: self.file.file_len(),
            has_chat_template: self.chat_template().is_some(),
        }
    }
}
