//! uniffi bindings of the PocketLM core: the objects and records that Kotlin and Swift see.
//!
//! A thin layer: it converts types, runs each streaming generation on its own thread behind a
//! cancellable [`GenerationTask`], serializes the use of a session, and maps every failure
//! (and any panic) to [`PocketLmError`]. Inference logic stays in the `pocketlm` crate.
//!
//! Objects: [`Model`], [`KeyboardPredictor`], [`ReplyDrafter`], [`TextSession`],
//! [`ChatSession`], [`GenerationTask`], [`CancelToken`]; foreign traits: [`TextListener`],
//! [`LogSink`], [`KeyboardCoreObserver`], [`ReplyCoreObserver`]. The sample apps' controllers,
//! shared by both platforms: [`KeyboardCore`] and [`ReplyCore`] (docs/samples.md). Diagnostics: [`init_logging`] (logcat on Android, the unified log on iOS through
//! the Swift layer; never user text).

mod adapter;
mod chat;
mod controller;
mod error;
mod keyboard;
mod keyboard_core;
mod logging;
mod model;
mod reply;
mod reply_core;
mod session;
mod structured;
mod task;
#[cfg(test)]
mod test_models;

pub use adapter::{AdapterPrecision, LoraAdapter};
pub use chat::{ChatMessage, ChatOptions, ChatRole, ChatSession};
pub use error::PocketLmError;
pub use keyboard::{
    predictor_options, KeyboardOptions, KeyboardPredictor, KeyboardProfile, Suggestion,
    SuggestionKind, TextEdit,
};
pub use keyboard_core::{
    keyboard_context_units, keyboard_field_policy, FieldEdit, KeyboardCore, KeyboardCoreObserver,
    KeyboardCoreState, KeyboardFieldPolicy, KeyboardModelStatus, KEYBOARD_CONTEXT_UNITS,
};
pub use logging::{init_logging, init_logging_to, LogLevel, LogSink};
pub use model::{LayoutCacheStatus, Model, ModelInfo};
pub use reply::{
    ConversationMessage, DraftOptions, DrafterOptions, NoDraftReason, ReplyDraft, ReplyDrafter,
    ReplyDrafts, Tone,
};
pub use reply_core::{
    CalendarEvent, ReplyCore, ReplyCoreObserver, ReplyCoreState, ReplyModelStatus,
    LONGER_REPLY_MAX_TOKENS,
};
pub use session::{GenerationOptions, SamplingOptions, SessionOptions, TextSession};
pub use structured::{
    Classification, ConstraintOutcome, ContinuationScore, LabelScore, OutputConstraint,
};
pub use task::{CancelToken, GenerationResult, GenerationTask, StopReason, TextListener};

/// The version of the PocketLM library.
#[uniffi::export]
pub fn pocketlm_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

uniffi::setup_scaffolding!();
