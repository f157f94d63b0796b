//! LoRA adapters (llama.cpp's GGUF format) loaded for a model and attached to sessions, each
//! with its own scale; the model stays shared and unchanged.

use crate::error::{guard, PocketLmError};
use crate::model::Model;
use pocketlm::{AdapterError, GgufError};
use std::sync::Arc;

/// How an adapter's matrices are held in memory (`LoraAdapter.loadWithPrecision`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Enum)]
pub enum AdapterPrecision {
    /// In the file's type: llama.cpp's products on that file.
    #[default]
    AsFile,
    /// F32 matrices rounded to F16 at load: half the memory and half the bytes each decoded
    /// token reads for an F32 file (what llama.cpp's converter writes by default); the
    /// products of the adapter converted to F16.
    F16,
    /// Each `A` quantized to Q8_0, each `B` at F16: a quarter less memory than F16 and the
    /// fastest decode; the products of the adapter converted with `--outtype q8_0`.
    Q8,
}

impl From<AdapterPrecision> for pocketlm::AdapterPrecision {
    fn from(p: AdapterPrecision) -> Self {
        match p {
            AdapterPrecision::AsFile => pocketlm::AdapterPrecision::AsFile,
            AdapterPrecision::F16 => pocketlm::AdapterPrecision::F16,
            AdapterPrecision::Q8 => pocketlm::AdapterPrecision::Q8_0,
        }
    }
}

/// A LoRA adapter loaded for one `Model`: checked against its architecture and matrix shapes
/// and copied into memory (about the adapter file's tensor bytes). Attach it to any number of
/// that model's `TextSession`s with `TextSession.attachAdapter`, each with its own scale;
/// sessions without it run the plain model.
#[derive(Debug, uniffi::Object)]
pub struct LoraAdapter {
    pub(crate) inner: Arc<pocketlm::LoraAdapter>,
}

#[uniffi::export]
impl LoraAdapter {
    /// Loads the adapter file at `path` for `model`. It reads the whole adapter: call it off
    /// the main thread. `ModelNotFound` when the file cannot be opened, `InvalidModel` when
    /// it is not a LoRA adapter for this model (the message names the tensor that does not fit).
    #[uniffi::constructor]
    pub fn load(model: Arc<Model>, path: String) -> Result<Arc<Self>, PocketLmError> {
        guard("LoraAdapter.load", || {
            let inner = pocketlm::LoraAdapter::load(&model.inner, &path)?;
            Ok(Arc::new(LoraAdapter { inner }))
        })
    }

    /// `load`, holding the matrices at `precision` (`F16`: half an F32 adapter's memory).
    #[uniffi::constructor]
    pub fn load_with_precision(
        model: Arc<Model>,
        path: String,
        precision: AdapterPrecision,
    ) -> Result<Arc<Self>, PocketLmError> {
        guard("LoraAdapter.loadWithPrecision", || {
            let inner = pocketlm::LoraAdapter::load_with(&model.inner, &path, precision.into())?;
            Ok(Arc::new(LoraAdapter { inner }))
        })
    }

    /// `general.name` of the adapter file, or its file name.
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// The largest rank of its matrices.
    pub fn rank(&self) -> i32 {
        i32::try_from(self.inner.max_rank()).unwrap_or(i32::MAX)
    }

    /// How many of the model's matrices it updates.
    pub fn matrix_count(&self) -> i32 {
        i32::try_from(self.inner.n_matrices()).unwrap_or(i32::MAX)
    }

    /// Bytes of memory its matrices hold.
    pub fn size_bytes(&self) -> i64 {
        i64::try_from(self.inner.tensor_bytes()).unwrap_or(i64::MAX)
    }
}

impl From<AdapterError> for PocketLmError {
    fn from(e: AdapterError) -> Self {
        let msg = format!("LoRA adapter: {e}");
        match e {
            AdapterError::Gguf(
                GgufError::Io { .. }
                | GgufError::IsDirectory(_)
                | GgufError::NotARegularFile { .. },
            ) => PocketLmError::ModelNotFound(msg),
            AdapterError::BadScale(_) | AdapterError::OtherModel(_) => {
                PocketLmError::InvalidArgument(msg)
            }
            _ => PocketLmError::InvalidModel(msg),
        }
    }
}
