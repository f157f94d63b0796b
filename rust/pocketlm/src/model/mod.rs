//! A loaded model: the mapped GGUF file, its hyper-parameters, weight locations and tokenizer.
//! Immutable after loading, so one `Arc<Model>` serves any number of sessions and threads.

mod config;
mod deltanet;
mod forward;
mod kv_cache;
#[allow(unsafe_code)]
mod kv_map;
mod layout_cache;
mod lora;
mod shortconv;
mod weights;

pub use config::{Architecture, DeltaNetDims, ModelConfig, RopeStyle};
pub(crate) use forward::{forward, prefill_rows, BatchRow, HiddenOut, Scratch};
pub(crate) use kv_cache::{
    KvCache, MappedPrefix, SharedCheckpoint, CHECKPOINT_GAP as KV_CHECKPOINT_GAP,
    GROW_STEP as KV_GROW_STEP,
};
pub(crate) use kv_map::{page_size, supported as mapping_supported, F32Block};
pub use layout_cache::{LayoutCacheStatus, LoadOptions};
pub(crate) use lora::AdapterSet;
pub use lora::{AdapterError, AdapterPrecision, LoraAdapter};

use crate::gguf::{GgufError, GgufFile};
use crate::quant::GgmlType;
use crate::tokenizer::{Tokenizer, TokenizerError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use weights::Weights;

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is not a readable GGUF file.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// `general.architecture` names an architecture PocketLM does not implement.
    #[error(
        "model architecture {arch:?} is not supported (supported: {list})",
        arch = .0,
        list = config::supported_architecture_names()
    )]
    UnsupportedArchitecture(String),
    /// A hyper-parameter is missing or out of range.
    #[error("hyper-parameter {key}: {reason}")]
    BadHyperParameter {
        /// The metadata key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A weight tensor of the architecture is absent.
    #[error("tensor {0:?} is missing; the file does not match its declared architecture")]
    MissingTensor(String),
    /// A weight tensor has the wrong shape or size.
    #[error("tensor {name:?}: {reason}")]
    BadTensor {
        /// The tensor.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A weight matrix is of a quantization type the kernels cannot multiply.
    #[error(
        "tensor {name:?} has type {ty}, which PocketLM cannot multiply yet (supported: {})",
        weights::supported_matrix_type_names()
    )]
    UnsupportedTensorType {
        /// The tensor.
        name: String,
        /// Its ggml type name, e.g. `"Q2_K"`.
        ty: String,
    },
    /// The vocabulary metadata is unusable.
    #[error("tokenizer: {0}")]
    Tokenizer(#[from] TokenizerError),
}

/// A summary for apps and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// `general.name`, or `"unnamed"`.
    pub name: String,
    /// `general.architecture`, e.g. `"llama"` or `"gemma3"`.
    pub architecture: String,
    /// Parameters in the weight tensors.
    pub n_params: u64,
    /// The most common matrix type, e.g. "Q4_1".
    pub quantization: String,
    /// The context length the model was trained with (the most a session can use).
    pub train_context_length: usize,
    /// Rows of the embedding matrix (tokens the model scores).
    pub vocab_size: usize,
    /// Transformer layers.
    pub n_layers: usize,
    /// Width of the hidden state.
    pub n_embd: usize,
    /// Size of the model file.
    pub file_bytes: u64,
    /// Whether the file carries a chat template.
    pub has_chat_template: bool,
}

/// A loaded model: the mapped GGUF file, its hyper-parameters, weight locations and tokenizer.
/// Immutable, `Send + Sync`: load it once and share the `Arc` with every [`Session`](crate::Session),
/// [`WordPredictor`](crate::WordPredictor) and [`ReplyDrafter`](crate::ReplyDrafter).
pub struct Model {
    file: GgufFile,
    config: ModelConfig,
    weights: Weights,
    tokenizer: Tokenizer,
    /// Metadata strings read after loading, copied out of the map at load: the file may be
    /// truncated later, and only evaluation checks it first (see `GgufFile::check_unchanged`).
    chat_template: Option<String>,
    name: String,
    load_ms: f64,
    layout: LayoutCacheStatus,
    /// The layout cache directory it was loaded with ([`LoadOptions::layout_cache`]), where
    /// sessions also keep long-lived checkpoints of large recurrent states in files.
    cache_dir: Option<PathBuf>,
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
        Self::from_file(file, LayoutCacheStatus::NotRequested, None, t0)
    }

    /// [`Model::load`] with options. With [`LoadOptions::layout_cache`], a file whose weight
    /// matrices can be interleaved runs from its converted copy in that directory (what
    /// `pocketlm convert` writes; the same outputs bit for bit, faster decode on the NEON and
    /// AVX-512 kernels): the first load writes the copy (about as long as reading the file,
    /// and as much disk as the model), later loads map it directly. A source that changed
    /// gets a new copy and its older copies are removed. Errors are those of the source file
    /// only: a cache that cannot be used (unwritable directory, full disk, a damaged copy that
    /// cannot be rewritten) loads the original file, and [`Model::layout`] says why.
    ///
    /// The tokenizer's large tables (token texts, the text → id index, the merges) are kept in
    /// that directory too, whether or not the file needs a copy: the first load writes them,
    /// later loads map them (file pages, not the app's anonymous memory: 17.5 MiB less for
    /// Gemma 4's 262k-token vocabulary) and skip building them.
    pub fn load_with(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Arc<Self>, LoadError> {
        let t0 = Instant::now();
        let source = GgufFile::open(path.as_ref())?;
        let Some(dir) = &opts.layout_cache else {
            return Self::from_file(source, LayoutCacheStatus::NotRequested, None, t0);
        };
        if !layout_cache::needs_conversion(&source) {
            return Self::from_file(source, LayoutCacheStatus::NotNeeded, Some(dir), t0);
        }
        let fallback = |reason: String| {
            log::warn!(
                target: "pocketlm::model",
                "layout cache not used, the original file runs: {reason}"
            );
            LayoutCacheStatus::Fallback { reason }
        };
        match layout_cache::open_copy(&source, dir) {
            Ok((copy, status)) => match Self::from_file(copy, status, Some(dir), t0) {
                Ok(model) => Ok(model),
                // The copy is validated against the source, so this is not expected; the
                // source decides whether the model loads.
                Err(e) => Self::from_file(
                    source,
                    fallback(format!("the converted copy does not load: {e}")),
                    Some(dir),
                    t0,
                ),
            },
            Err(reason) => Self::from_file(source, fallback(reason), Some(dir), t0),
        }
    }

    fn from_file(
        file: GgufFile,
        layout: LayoutCacheStatus,
        tables_dir: Option<&Path>,
        t0: Instant,
    ) -> Result<Arc<Self>, LoadError> {
        let mut config = ModelConfig::from_gguf(&file)?;
        let (weights, vocab) = Weights::locate(&file, &config)?;
        config.vocab_size = vocab;
        let tokenizer = Tokenizer::from_gguf_cached(&file, tables_dir)?;
        if tokenizer.vocab_size() > vocab {
            return Err(LoadError::BadTensor {
                name: "token_embd.weight".into(),
                reason: format!(
                    "{vocab} embedding rows for a vocabulary of {} tokens",
                    tokenizer.vocab_size()
                ),
            });
        }
        let chat_template = file
            .opt_str("tokenizer.chat_template")
            .ok()
            .flatten()
            .map(str::to_owned);
        let name = file
            .opt_str("general.name")
            .ok()
            .flatten()
            .unwrap_or("unnamed")
            .to_owned();
        let model = Self {
            cache_dir: tables_dir.map(Path::to_path_buf),
            file,
            config,
            weights,
            tokenizer,
            chat_template,
            name,
            load_ms: t0.elapsed().as_secs_f64() * 1e3,
            layout,
        };
        if log::log_enabled!(target: "pocketlm::model", log::Level::Info) {
            // What an integration needs to see; never a path's contents or any user text.
            log::info!(
                target: "pocketlm::model",
                "loaded {:?} ({}, {} layers, vocabulary {}) in {:.1} ms: {} bytes mapped from the \
                 file (paged in on use, clean), {} bytes anonymous (norm/bias vectors); kernel \
                 tier {}",
                model.name,
                model.config.arch_name,
                model.config.n_layers,
                model.config.vocab_size,
                model.load_ms,
                model.file.file_len(),
                model.weights.owned_bytes(),
                crate::kernels::select_tier()
                    .map(|t| t.name())
                    .unwrap_or("invalid POCKETLM_KERNEL"),
            );
        }
        Ok(Arc::new(model))
    }

    /// The layout cache directory the model was loaded with (`None` without one).
    pub(crate) fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    pub(crate) fn config(&self) -> &ModelConfig {
        &self.config
    }
    /// The model's tokenizer (read from the same file).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
    /// The mapped file (the CLI's `info` lists its metadata). Not part of the public API.
    #[doc(hidden)]
    pub fn gguf(&self) -> &GgufFile {
        &self.file
    }
    pub(crate) fn weights(&self) -> &Weights {
        &self.weights
    }
    /// What the layout cache did: whether the converted copy runs, and if not, why
    /// ([`LayoutCacheStatus::NotRequested`] for [`Model::load`]).
    pub fn layout(&self) -> &LayoutCacheStatus {
        &self.layout
    }
    /// Milliseconds `load` took (map, metadata, tokenizer; with a layout cache, also the
    /// conversion on a first load).
    pub fn load_ms(&self) -> f64 {
        self.load_ms
    }

    /// The chat template stored in the file, if any.
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// A summary for apps and logs.
    pub fn info(&self) -> ModelInfo {
        let mut counts: Vec<(GgmlType, usize)> = Vec::new();
        for l in &self.weights.layers {
            for w in l.matrices() {
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
        ModelInfo {
            name: self.name.clone(),
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
