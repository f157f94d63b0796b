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

/// What the layout cache did for a model ([`Model::layout_cache`]): whether the interleaved
/// copy (faster decode on ARM and AVX-512, the same outputs) runs, and if not, why.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum LayoutCacheStatus {
    /// Loaded with `Model.load`: no cache directory, the file runs as it is.
    NotRequested,
    /// The file has nothing to convert (already converted, or no interleavable weights).
    NotNeeded,
    /// The converted copy at `path` was already in the cache and runs.
    Hit { path: String },
    /// The converted copy at `path` was written by this load (`millis` long; the first load,
    /// or the model file changed, or the copy there was damaged: `discarded` says how).
    Converted {
        path: String,
        millis: f64,
        discarded: Option<String>,
    },
    /// The cache could not be used (directory not writable, disk full): the original file
    /// runs, correct but slower. `reason` is for logs.
    Fallback { reason: String },
}

impl From<&pocketlm::LayoutCacheStatus> for LayoutCacheStatus {
    fn from(s: &pocketlm::LayoutCacheStatus) -> Self {
        use pocketlm::LayoutCacheStatus as S;
        let text = |p: &std::path::Path| p.to_string_lossy().into_owned();
        match s {
            S::NotRequested => Self::NotRequested,
            S::NotNeeded => Self::NotNeeded,
            S::Hit { path } => Self::Hit { path: text(path) },
            S::Converted {
                path,
                ms,
                discarded,
            } => Self::Converted {
                path: text(path),
                millis: *ms,
                discarded: discarded.clone(),
            },
            S::Fallback { reason } => Self::Fallback {
                reason: reason.clone(),
            },
        }
    }
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

impl Model {
    /// `pocketlm::Model::load_with` a layout cache in `cache_dir` (`None`: plain `load`).
    pub(crate) fn open(path: String, cache_dir: Option<&str>) -> Result<Arc<Self>, PocketLmError> {
        let opts = pocketlm::LoadOptions {
            layout_cache: cache_dir.map(Into::into),
        };
        let inner = pocketlm::Model::load_with(&path, &opts)?;
        Ok(Arc::new(Model { inner, path }))
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

    /// [`Model::load`] through a layout cache in the directory `cache_dir` (created when
    /// missing; Android `context.noBackupFilesDir` or `cacheDir`, iOS the Caches directory):
    /// the first load writes a copy of the model with its weights interleaved for the decode
    /// kernels (as much disk as the model; about as long as reading it once), later loads map
    /// that copy directly (zero-copy, as fast as `load`). The outputs are the same bit for
    /// bit. A changed model file gets a new copy; a cache that cannot be used never fails the
    /// load: the original file runs and [`Model::layout_cache`] says why. The tokenizer's
    /// tables are kept there too and mapped instead of built on the heap (a few to 20 MB less
    /// anonymous memory, which a keyboard extension's limit counts).
    #[uniffi::constructor]
    pub fn load_with_layout_cache(
        path: String,
        cache_dir: String,
    ) -> Result<Arc<Self>, PocketLmError> {
        guard("Model.loadWithLayoutCache", || {
            Self::open(path, Some(&cache_dir))
        })
    }

    /// What the layout cache did at load.
    pub fn layout_cache(&self) -> LayoutCacheStatus {
        self.inner.layout().into()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_models::SMOLLM2;

    #[test]
    fn a_layout_cache_converts_then_hits_and_an_unusable_one_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("layout").to_string_lossy().into_owned();
        let first = Model::load_with_layout_cache(SMOLLM2.into(), cache.clone()).unwrap();
        let LayoutCacheStatus::Converted { path, .. } = first.layout_cache() else {
            panic!("{:?}", first.layout_cache())
        };
        assert!(path.starts_with(&cache), "{path}");
        let second = Model::load_with_layout_cache(SMOLLM2.into(), cache).unwrap();
        assert_eq!(second.layout_cache(), LayoutCacheStatus::Hit { path });
        assert_eq!(second.path(), SMOLLM2, "path() is the file the app gave");
        assert_eq!(
            Model::load(SMOLLM2.into()).unwrap().layout_cache(),
            LayoutCacheStatus::NotRequested
        );

        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let under_a_file = blocker.join("cache").to_string_lossy().into_owned();
        let fallback = Model::load_with_layout_cache(SMOLLM2.into(), under_a_file).unwrap();
        assert!(
            matches!(fallback.layout_cache(), LayoutCacheStatus::Fallback { .. }),
            "{:?}",
            fallback.layout_cache()
        );
        let missing = Model::load_with_layout_cache("/nonexistent/x.gguf".into(), "/tmp".into());
        assert!(missing.is_err());
    }
}
