//! Reply drafting and chat.
//!
//! - [`ReplyDrafter`]: up to `n` short, distinct reply suggestions for the message a person
//!   just received (Smart Reply style), or none when nothing fits or the topic is sensitive.
//! - [`ChatSession`] and [`stream_chat`]: free-form chat generation from messages, streaming
//!   text deltas through a callback, with cancellation, stop strings and a token budget.
//!
//! The method (see `docs/reply.md`) is a staged pipeline over one declarative [`Catalog`]
//! (`catalog.txt`: responses with tones, clusters, stances, the acts they answer, and the
//! lexicons): gate (sensitive, own last message) → the message's [`acts`], read by the
//! reading head → candidates (a
//! beam over the catalog responses that fit, and generated branches, decoded together in one
//! batched pass per token over a cached few-shot prompt) → scores (likelihood and PMI with
//! the message) → filters → selection (one reply per cluster, a stance mix). Every number is
//! in [`DrafterConfig`]. The CLI's `eval-reply` scores drafts against labelled cases.

pub mod acts;
pub mod catalog;
mod chat;
mod chat_state;
pub mod cluster_prior;
mod config;
mod decode;
mod drafter;
pub mod filter;
pub mod gate;
pub mod options;
mod packed;
pub mod prompt;
pub mod reader_acceptance;
pub mod reading_head;
mod score;
mod select;
pub mod sensitive_words;
pub mod spelling;
mod warm;

pub use catalog::{Catalog, CatalogError, Stance};
pub use chat::{stream_chat, ChatError, ChatOptions, ChatSession, ChatTurn};
pub use chat_state::ChatStateError;
pub use config::{DrafterConfig, Reading};
pub use drafter::{Candidate, Draft, NoSuggestion, ReplyDrafter};
pub use filter::Rejection;
pub use warm::WarmStartError;

use crate::chat_template::TemplateError;
use crate::session::SessionError;

/// One message of a conversation, as a messaging app sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Whether the device owner wrote it (otherwise the other person did).
    pub from_me: bool,
    /// What the message says.
    pub text: String,
}

impl Message {
    /// A message written by the device owner (`from_me`) or by the other person.
    pub fn new(from_me: bool, text: impl Into<String>) -> Self {
        Self {
            from_me,
            text: text.into(),
        }
    }
    /// A message the device owner received.
    pub fn incoming(text: impl Into<String>) -> Self {
        Self::new(false, text)
    }
    /// A message the device owner sent.
    pub fn outgoing(text: impl Into<String>) -> Self {
        Self::new(true, text)
    }
}

/// The register of the suggestions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tone {
    /// Plain and polite ("Sounds good!").
    #[default]
    Neutral,
    /// Relaxed, as between friends ("Yeah sure!").
    Casual,
    /// Careful, as with a colleague or a client ("That works for me, thank you.").
    Formal,
}

impl Tone {
    /// A stable name for logs and JSON: `neutral`, `casual` or `formal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Neutral => "neutral",
            Tone::Casual => "casual",
            Tone::Formal => "formal",
        }
    }
}

impl std::str::FromStr for Tone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "neutral" => Ok(Tone::Neutral),
            "casual" => Ok(Tone::Casual),
            "formal" => Ok(Tone::Formal),
            _ => Err(format!(
                "unknown tone {s:?} (use neutral, casual or formal)"
            )),
        }
    }
}

/// Per-call settings of [`ReplyDrafter::draft`].
#[derive(Debug, Clone, PartialEq)]
pub struct DraftOptions {
    /// How many suggestions at most (1..=8).
    pub n: usize,
    /// Longest suggestion, in words.
    pub max_words: usize,
    /// The register of the suggestions.
    pub tone: Tone,
    /// Words or phrases never suggested (case-insensitive, whole words).
    pub blocklist: Vec<String>,
}

impl Default for DraftOptions {
    fn default() -> Self {
        Self {
            n: 3,
            max_words: 10,
            tone: Tone::Neutral,
            blocklist: Vec::new(),
        }
    }
}

/// A suggestion and its score: the geometric mean of the model's per-token probabilities of
/// the reply and its end, in (0, 1]; higher is more likely.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The text to offer as a chip.
    pub text: String,
    /// In (0, 1]; higher is more likely.
    pub score: f32,
}

/// Why a [`ReplyDrafter`] could not be created or could not draft.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// No messages were given.
    #[error("the conversation has no messages; pass at least the message to reply to")]
    EmptyConversation,
    /// The message to reply to has no text.
    #[error("the message to reply to is empty")]
    EmptyMessage,
    /// A [`DrafterConfig`] or [`DraftOptions`] value is out of range; the message names it.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The model's chat template could not render the prompt.
    #[error("chat template: {0}")]
    Template(#[from] TemplateError),
    /// The model could not evaluate the prompt.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The caller's cancel flag was set ([`ReplyDrafter::draft_detailed_cancellable`]).
    #[error("drafting was cancelled")]
    Cancelled,
}
