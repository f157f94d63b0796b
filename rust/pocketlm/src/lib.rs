//! PocketLM runs a 4-bit quantized small language model (a GGUF file: SmolLM2, Gemma 3,
//! Llama/Qwen-style) on the CPU of a phone or a desktop, with no network.
//!
//! Load a [`Model`] once (it maps the file; `Arc<Model>` is shared by everything), then use it
//! for one of three jobs:
//!
//! - **A keyboard suggestion strip**: [`WordPredictor`] (next word, completion, correction).
//! - **Reply chips** for a received message: [`ReplyDrafter`].
//! - **Streaming chat / generation**: a [`Session`], a [`ChatTemplate`] and [`generate`].
//!
//! # Keyboard strip
//!
//! ```no_run
//! use pocketlm::{Model, PredictorOptions, WordPredictor};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = Model::load("models/SmolLM2-135M-Instruct.Q4_1.gguf")?;
//! let predictor = WordPredictor::new(model, PredictorOptions::default())?;
//!
//! // On every keystroke: the text before the cursor in, up to three words out.
//! let text = "See you tomor";
//! let strip = predictor.suggest(text)?;
//! for s in &strip.items {
//!     println!("{:?} {} ({:.2})", s.kind, s.word, s.probability);
//! }
//! // The user taps a suggestion: how to change the text field.
//! if let Some(first) = strip.items.first() {
//!     let edit = predictor.accept(text, &first.word);
//!     println!("delete {} chars, insert {:?}", edit.delete_chars, edit.insert);
//! }
//! # Ok(()) }
//! ```
//!
//! # Reply chips
//!
//! ```no_run
//! use pocketlm::{DraftOptions, DrafterConfig, Message, Model, ReplyDrafter};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = Model::load("models/SmolLM2-135M-Instruct.Q4_1.gguf")?;
//! let drafter = ReplyDrafter::new(model, DrafterConfig::default())?;
//!
//! // The conversation as the messaging app shows it, the message to answer last.
//! let conversation = [
//!     Message::outgoing("I'm at the station"),
//!     Message::incoming("Want to grab lunch tomorrow?"),
//! ];
//! // Up to three short replies, best first; none when nothing fits or the topic is sensitive.
//! for reply in drafter.draft(&conversation, &DraftOptions::default())? {
//!     println!("[{}] {:.2}", reply.text, reply.score);
//! }
//! # Ok(()) }
//! ```
//!
//! # Streaming chat
//!
//! ```no_run
//! use pocketlm::{generate, ChatMessage, ChatTemplate, GenerateOptions, Model, Session};
//! use std::io::Write;
//! use std::sync::atomic::AtomicBool;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = Model::load("models/SmolLM2-135M-Instruct.Q4_1.gguf")?;
//! let template = ChatTemplate::for_model(&model)?;
//! let mut session = Session::new(model.clone(), Default::default())?;
//!
//! let messages = [ChatMessage::user("Write a haiku about the sea.")];
//! let prompt = template.encode(model.tokenizer(), &messages, true)?;
//! let opts = GenerateOptions {
//!     stop: template.stop_strings().to_vec(),
//!     ..Default::default()
//! };
//! let cancel = AtomicBool::new(false); // set it from another thread to stop early
//! let out = generate(&mut session, &prompt, &opts, &cancel, |delta| {
//!     print!("{delta}"); // text arrives as it is generated, always whole UTF-8
//!     std::io::stdout().flush().is_ok()
//! })?;
//! println!("\n({} tokens, {})", out.tokens.len(), out.stop_reason.as_str());
//! # Ok(()) }
//! ```
//!
//! # Threads and errors
//!
//! [`Model`] is `Send + Sync`; [`WordPredictor`] and [`ReplyDrafter`] are `Send + Sync` and
//! serialize their calls; a [`Session`] is used by one caller at a time. Calls block while the
//! model computes (milliseconds for a keystroke, a second or so for reply chips on a phone):
//! call them off the UI thread. Every failure is a typed error enum with an actionable message.

#![deny(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod atomic_file;
mod chat_template;
mod constraint;
pub mod convert;
mod generate;
mod gguf;
mod input_bounds;
#[allow(unsafe_code)]
mod kernels;
mod keyboard;
mod model;
mod ops;
mod perplexity;
mod quant;
mod reply;
mod sampler;
mod session;
mod task;
mod tokenizer;

pub use chat_template::{ChatMessage, ChatTemplate, Role, TemplateError};
pub use constraint::{Constraint, ConstraintError};
pub use generate::{
    generate, ConstraintOutcome, GenerateError, GenerateOptions, Generation, StopReason,
};
pub use gguf::GgufError;
pub use keyboard::{
    Edit, FieldKind, KeyboardError, KeyboardProfile, Language, LearnOutcome, PredictorOptions,
    SuggestStats, Suggestion, SuggestionKind, Suggestions, UserWord, UserWordOptions,
    UserWordsError, WordPredictor, WordSource,
};
pub use model::{
    AdapterError, AdapterPrecision, LayoutCacheStatus, LoadError, LoadOptions, LoraAdapter, Model,
    ModelInfo,
};
pub use reply::{
    stream_chat, Candidate, ChatError, ChatOptions, ChatSession, ChatStateError, ChatTurn, Draft,
    DraftOptions, DrafterConfig, Message, NoSuggestion, Reading, Rejection, Reply, ReplyDrafter,
    ReplyError, Stance, Tone, WarmStartError,
};
pub use sampler::{Sampler, SamplerConfig, SamplerError};
pub use session::{
    default_threads, Session, SessionError, SessionOptions, SnapshotError, SNAPSHOT_MAGIC,
    SNAPSHOT_VERSION,
};
pub use task::{
    classify, score, Classification, ContinuationScore, LabelScore, TaskError,
    DEFAULT_CLASSIFY_INSTRUCTION,
};
pub use tokenizer::{StreamDecoder, Tokenizer, TokenizerError, VocabKind};

/// The instruction-set tier the matrix kernels run on this CPU, e.g. `"avx2"` or `"dotprod"`
/// (chosen once from the CPU's features; `POCKETLM_KERNEL` overrides it). For logs and reports.
pub fn kernel_tier() -> &'static str {
    kernels::kernel_tier()
}

/// Engine internals for the project's own CLI, kernel tests and benchmarks. Not part of the
/// public API: anything here may change or disappear in any release.
#[doc(hidden)]
pub mod internals {
    /// The GGUF container: the mapped file, metadata values, tensor views, the writer.
    pub mod gguf {
        pub use crate::gguf::*;
    }
    /// Quantized block formats, activation quantizers, dequantization, the interleaved layout.
    pub mod quant {
        pub use crate::quant::*;
    }
    /// Matrix, activation and attention kernels per instruction-set tier.
    pub mod kernels {
        pub use crate::kernels::*;
    }
    /// Element-wise operations (norms, softmax, RoPE).
    pub mod ops {
        pub use crate::ops::*;
    }
    /// The sampler's random generator and greedy pick.
    pub mod sampler {
        pub use crate::sampler::{argmax, Rng};
    }
    /// Perplexity the way llama.cpp computes it (the CLI's `score`).
    pub mod perplexity {
        pub use crate::perplexity::*;
    }
    /// The caps on how much caller text a keyboard or reply call reads.
    pub mod input_bounds {
        pub use crate::input_bounds::*;
    }
    /// Keyboard text helpers (word boundaries, the typed word, sentence starts), the
    /// contraction tables and the start-of-text tokens, for the CLI's keyboard evaluation and
    /// the keyboard tests.
    pub mod keyboard {
        pub use crate::keyboard::contractions::Contractions;
        pub use crate::keyboard::start_tokens;
        pub use crate::keyboard::text;
    }
    /// The reply catalog, dialogue acts and reply filters, for the CLI's `eval-reply` and the
    /// reply tests.
    pub mod reply {
        pub use crate::reply::{
            acts, cluster_prior, filter, gate, prompt, reader_acceptance, reading_head, spelling,
            Catalog, CatalogError,
        };
    }
    /// Hyper-parameters of a loaded model.
    pub mod model {
        pub use crate::model::{Architecture, DeltaNetDims, ModelConfig, RopeStyle};
    }
}
