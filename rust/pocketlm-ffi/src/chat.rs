//! Chat: a conversation with the model, answers streamed.

use crate::error::{count, guard, lock, threads, PocketLmError};
use crate::model::Model;
use crate::session::SamplingOptions;
use crate::task::{spawn, GenerationResult, GenerationTask, LastTask, TextListener};
use pocketlm::Role;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

/// One turn of a chat.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

impl From<&pocketlm::ChatMessage> for ChatMessage {
    fn from(m: &pocketlm::ChatMessage) -> Self {
        ChatMessage {
            role: match m.role {
                Role::System => ChatRole::System,
                Role::User => ChatRole::User,
                Role::Assistant => ChatRole::Assistant,
            },
            content: m.content.clone(),
        }
    }
}

/// How a chat is set up.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChatOptions {
    /// A system message opening the chat (`null`/`nil` = none).
    #[uniffi(default = None)]
    pub system_prompt: Option<String>,
    /// Tokens of history the model sees; the oldest turns are dropped to fit.
    #[uniffi(default = 2048)]
    pub context_length: i32,
    /// Most tokens per answer.
    #[uniffi(default = 256)]
    pub max_tokens: i32,
    #[uniffi(default)]
    pub sampling: SamplingOptions,
    /// Worker threads (0 = the default, at most 2).
    #[uniffi(default = 0)]
    pub threads: i32,
}

/// A chat with the model, rendered with the model's chat template. It keeps the history and
/// the KV cache between answers, so each answer only evaluates the new turn. Answers run one
/// at a time in the order they were asked for.
#[derive(uniffi::Object)]
pub struct ChatSession {
    chat: Arc<Mutex<pocketlm::ChatSession>>,
    history: Arc<Mutex<Vec<ChatMessage>>>,
    clear_requested: Arc<AtomicBool>,
    last: Arc<LastTask>,
}

impl std::fmt::Debug for ChatSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatSession").finish_non_exhaustive()
    }
}

fn snapshot(chat: &pocketlm::ChatSession) -> Vec<ChatMessage> {
    chat.messages().iter().map(ChatMessage::from).collect()
}

fn core_options(options: &ChatOptions) -> Result<pocketlm::ChatOptions, PocketLmError> {
    Ok(pocketlm::ChatOptions {
        system_prompt: options.system_prompt.clone(),
        context_length: count("context_length", options.context_length, 64, 1 << 20)?,
        threads: threads(options.threads)?,
        generate: pocketlm::GenerateOptions {
            max_tokens: count("max_tokens", options.max_tokens, 1, 32768)?,
            sampler: options.sampling.to_core()?,
            stop: Vec::new(),
            ..Default::default()
        },
        ..pocketlm::ChatOptions::default()
    })
}

impl ChatSession {
    fn wrap(chat: pocketlm::ChatSession) -> Arc<Self> {
        Arc::new(ChatSession {
            history: Arc::new(Mutex::new(snapshot(&chat))),
            chat: Arc::new(Mutex::new(chat)),
            clear_requested: Arc::new(AtomicBool::new(false)),
            last: Arc::new(LastTask::default()),
        })
    }
}

#[uniffi::export]
impl ChatSession {
    #[uniffi::constructor]
    pub fn new(model: Arc<Model>, options: ChatOptions) -> Result<Arc<Self>, PocketLmError> {
        guard("ChatSession.new", || {
            let chat = pocketlm::ChatSession::new(model.inner.clone(), core_options(&options)?)?;
            Ok(Self::wrap(chat))
        })
    }

    /// A chat restored from a file written by [`ChatSession::save_state`] with the same model
    /// file: its history, and its KV cache so the next answer only evaluates the new turn,
    /// exactly as the saved chat would have answered. `options` are this chat's (the saved
    /// history keeps its own system prompt). Errors: `InvalidSnapshot` (missing, not a saved
    /// chat, truncated, corrupted, another model), `ContextFull` (`context_length` smaller than
    /// the saved conversation). Reads the file: call it off the UI thread.
    #[uniffi::constructor]
    pub fn restore(
        model: Arc<Model>,
        options: ChatOptions,
        path: String,
    ) -> Result<Arc<Self>, PocketLmError> {
        guard("ChatSession.restore", || {
            let chat = pocketlm::ChatSession::restore_state_file(
                model.inner.clone(),
                core_options(&options)?,
                &path,
            )?;
            Ok(Self::wrap(chat))
        })
    }

    /// Saves the chat (history and KV cache) to `path`, replacing it atomically, and returns
    /// the file's size in bytes. Waits for an answer in progress to finish: call it off the UI
    /// thread (for example when the app goes to the background).
    pub fn save_state(&self, path: String) -> Result<i64, PocketLmError> {
        guard("ChatSession.save_state", || {
            let mut chat = lock(&self.chat);
            if self.clear_requested.swap(false, Ordering::SeqCst) {
                chat.clear();
                *lock(&self.history) = snapshot(&chat);
            }
            let bytes = chat.save_state_file(&path)?;
            Ok(i64::try_from(bytes).unwrap_or(i64::MAX))
        })
    }

    /// Sends a user message and starts streaming the answer to `listener`; returns at once
    /// with the task that cancels, joins or awaits it. The answer (also a cancelled, partial
    /// one) joins the history.
    pub fn send(
        &self,
        message: String,
        listener: Box<dyn TextListener>,
    ) -> Result<Arc<GenerationTask>, PocketLmError> {
        guard("ChatSession.send", || {
            if message.trim().is_empty() {
                return Err(PocketLmError::InvalidArgument(
                    "the message is empty; pass some text".into(),
                ));
            }
            let chat = self.chat.clone();
            let history = self.history.clone();
            let clear = self.clear_requested.clone();
            let (task, shared) = spawn("ChatSession.send", listener, move |s| {
                let mut chat = lock(&chat);
                if clear.swap(false, Ordering::SeqCst) {
                    chat.clear();
                }
                let turn = chat.send(&message, s.cancel, s.on_text);
                *lock(&history) = snapshot(&chat);
                let turn = turn?;
                Ok(GenerationResult {
                    text: String::new(),
                    stop_reason: turn.stop_reason.into(),
                    prompt_tokens: i32::try_from(turn.prompt_tokens).unwrap_or(i32::MAX),
                    generated_tokens: i32::try_from(turn.generated_tokens).unwrap_or(i32::MAX),
                    tokens_after_cancel: 0,
                    constraint: None,
                })
            })?;
            self.last.set(shared);
            Ok(task)
        })
    }

    /// The conversation so far (system prompt, user and assistant turns), as of the last
    /// finished answer. Never blocks.
    pub fn history(&self) -> Vec<ChatMessage> {
        if self.clear_requested.load(Ordering::SeqCst) {
            return lock(&self.history)
                .iter()
                .filter(|m| m.role == ChatRole::System)
                .cloned()
                .collect();
        }
        lock(&self.history).clone()
    }

    /// Forgets the conversation (keeps the system prompt). Never blocks: while an answer is
    /// being generated, the history is cleared before the next one.
    pub fn clear(&self) {
        self.clear_requested.store(true, Ordering::SeqCst);
        if let Ok(mut c) = self.chat.try_lock() {
            if self.clear_requested.swap(false, Ordering::SeqCst) {
                c.clear();
                *lock(&self.history) = snapshot(&c);
            }
        }
    }

    /// The result of the most recent answer, once finished (`null`/`nil` if none).
    pub async fn last_result(&self) -> Option<GenerationResult> {
        self.last.result().await.and_then(Result::ok)
    }
}
