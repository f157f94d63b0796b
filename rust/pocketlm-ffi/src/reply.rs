//! Reply drafts: short suggestions for the message a person just received.

use crate::error::{count, guard, threads, PocketLmError};
use crate::model::Model;
use crate::task::CancelToken;
use pocketlm::{DrafterConfig, NoSuggestion};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One message of a conversation, as a messaging app sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConversationMessage {
    /// Whether the device owner wrote it (otherwise the other person did).
    pub from_me: bool,
    pub text: String,
}

/// The register of the drafts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Tone {
    Neutral,
    Casual,
    Formal,
}

impl From<Tone> for pocketlm::Tone {
    fn from(t: Tone) -> Self {
        match t {
            Tone::Neutral => pocketlm::Tone::Neutral,
            Tone::Casual => pocketlm::Tone::Casual,
            Tone::Formal => pocketlm::Tone::Formal,
        }
    }
}

/// Per-call settings of `ReplyDrafter.draft`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DraftOptions {
    /// How many drafts at most (1..=8).
    #[uniffi(default = 3)]
    pub count: i32,
    /// Longest draft, in words.
    #[uniffi(default = 10)]
    pub max_words: i32,
    /// The register (`null`/`nil` = neutral).
    #[uniffi(default = None)]
    pub tone: Option<Tone>,
    /// Words or phrases never suggested (case-insensitive, whole words).
    #[uniffi(default = [])]
    pub blocklist: Vec<String>,
}

/// A suggested reply.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReplyDraft {
    pub text: String,
    /// How likely the model finds it, in (0, 1].
    pub score: f32,
}

/// Why there are no drafts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NoDraftReason {
    /// The message touches a sensitive topic (grief, self-harm, abuse, illness, emergencies).
    Sensitive,
    /// The last message is the device owner's own: there is nothing to reply to.
    LastMessageIsMine,
    /// Nothing good enough came up.
    NothingGood,
    /// The message is automated (a one-time code, a do-not-reply notice): nobody answers it.
    Automated,
    /// The message only acknowledges or closes ("ok", "sounds good", "👍"): it asks for no
    /// answer.
    Closing,
    /// The model's own reading judges the message one nobody answers (a notice, serious
    /// news) where the rules did not.
    NoReplyExpected,
}

/// The drafts for one message, best first; empty with a reason when nothing fits.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReplyDrafts {
    pub replies: Vec<ReplyDraft>,
    pub no_draft_reason: Option<NoDraftReason>,
}

/// How a drafter is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct DrafterOptions {
    /// Worker threads (0 = the default, at most 2).
    #[uniffi(default = 0)]
    pub threads: i32,
}

/// Drafts short replies (Smart Reply style). It keeps its few-shot prompt in a KV cache, so
/// after the first call only the conversation is evaluated; calls from several threads are
/// serialized.
#[derive(uniffi::Object)]
pub struct ReplyDrafter {
    inner: pocketlm::ReplyDrafter,
}

impl std::fmt::Debug for ReplyDrafter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyDrafter").finish_non_exhaustive()
    }
}

#[uniffi::export]
impl ReplyDrafter {
    #[uniffi::constructor]
    pub fn new(model: Arc<Model>, options: DrafterOptions) -> Result<Arc<Self>, PocketLmError> {
        guard("ReplyDrafter.new", || {
            let config = DrafterConfig {
                threads: threads(options.threads)?,
                ..DrafterConfig::default()
            };
            Ok(Arc::new(ReplyDrafter {
                inner: pocketlm::ReplyDrafter::new(model.inner.clone(), config)?,
            }))
        })
    }

    /// A drafter that keeps each tone's warm-up in the directory `state_dir` (created when
    /// missing): loaded from there when a valid file for this model and prompt exists, and
    /// otherwise evaluated and saved there, so that a restarted app skips the warm-up. A
    /// missing, corrupted or stale file, or a directory that cannot be written, only costs the
    /// warm start (it is logged), never an error.
    #[uniffi::constructor]
    pub fn with_state_dir(
        model: Arc<Model>,
        options: DrafterOptions,
        state_dir: String,
    ) -> Result<Arc<Self>, PocketLmError> {
        guard("ReplyDrafter.withStateDir", || {
            let config = DrafterConfig {
                threads: threads(options.threads)?,
                ..DrafterConfig::default()
            };
            Ok(Arc::new(ReplyDrafter {
                inner: pocketlm::ReplyDrafter::new(model.inner.clone(), config)?
                    .with_state_dir(state_dir),
            }))
        })
    }

    /// Whether the warm-up of `tone` was loaded from the state directory (null: not warmed up
    /// yet).
    pub fn warm_started(&self, tone: Tone) -> Option<bool> {
        guard("ReplyDrafter.warmStarted", || {
            Ok(self.inner.warm_start(tone.into()).map(|(w, _)| w))
        })
        .unwrap_or(None)
    }

    /// Up to `options.count` replies to the last message of `conversation` (oldest first).
    /// Once `cancel` is cancelled (before or during the call) it fails with
    /// `PocketLmError.Cancelled` within one decode step; the drafter stays usable.
    #[uniffi::method(default(cancel = None))]
    pub fn draft(
        &self,
        conversation: Vec<ConversationMessage>,
        options: DraftOptions,
        cancel: Option<Arc<CancelToken>>,
    ) -> Result<ReplyDrafts, PocketLmError> {
        guard("ReplyDrafter.draft", || {
            let msgs: Vec<pocketlm::Message> = conversation
                .into_iter()
                .map(|m| pocketlm::Message::new(m.from_me, m.text))
                .collect();
            let opts = pocketlm::DraftOptions {
                n: count("count", options.count, 1, 8)?,
                max_words: count("max_words", options.max_words, 1, 100)?,
                tone: options.tone.unwrap_or(Tone::Neutral).into(),
                blocklist: options.blocklist,
            };
            let never = AtomicBool::new(false);
            let flag = cancel.as_deref().map_or(&never, CancelToken::flag);
            let d = self.inner.draft_detailed_cancellable(&msgs, &opts, flag)?;
            Ok(ReplyDrafts {
                replies: d
                    .replies
                    .into_iter()
                    .map(|r| ReplyDraft {
                        text: r.text,
                        score: r.score,
                    })
                    .collect(),
                no_draft_reason: d.no_suggestion.map(|r| match r {
                    NoSuggestion::Sensitive => NoDraftReason::Sensitive,
                    NoSuggestion::LastMessageIsMine => NoDraftReason::LastMessageIsMine,
                    NoSuggestion::NothingGood => NoDraftReason::NothingGood,
                    NoSuggestion::Automated => NoDraftReason::Automated,
                    NoSuggestion::Closing => NoDraftReason::Closing,
                    NoSuggestion::NoReplyExpected => NoDraftReason::NoReplyExpected,
                }),
            })
        })
    }

    /// Evaluates the fixed part of the prompt for `tone` now, so the first draft is fast.
    pub fn warm_up(&self, tone: Tone) -> Result<(), PocketLmError> {
        guard("ReplyDrafter.warmUp", || {
            Ok(self.inner.warm_up(tone.into())?)
        })
    }
}
