//! Streaming chat: messages in, text deltas out.

use crate::chat_template::{ChatMessage, ChatTemplate, Role, TemplateError};
use crate::generate::{generate, GenerateError, GenerateOptions, StopReason};
use crate::model::Model;
use crate::session::{Session, SessionError, SessionOptions};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Why a chat answer could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// [`stream_chat`] got no messages.
    #[error("there are no messages to answer")]
    NoMessages,
    /// The user message has no text.
    #[error("the message is empty")]
    EmptyMessage,
    /// The last message is not the user's (its role is given).
    #[error(
        "the last message must be the user's (got {0}); an assistant turn answers a user turn"
    )]
    LastNotUser(&'static str),
    /// The prompt does not fit the context with room for the answer.
    #[error("the message is too long: the prompt needs {tokens} tokens but the context holds {limit} (with room for the answer); shorten it or use a longer context_length")]
    MessageTooLong {
        /// Tokens the prompt needs.
        tokens: usize,
        /// Tokens the context holds for it.
        limit: usize,
    },
    /// The chat template could not render the messages.
    #[error("chat template: {0}")]
    Template(#[from] TemplateError),
    /// The session could not be created or could not evaluate the prompt.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Generation failed (sampling options, the model file).
    #[error(transparent)]
    Generate(#[from] GenerateError),
}

/// Settings of a [`ChatSession`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChatOptions {
    /// A system message opening the chat (`None` = the template's default, if any).
    pub system_prompt: Option<String>,
    /// Tokens the session's KV cache holds (history and answer).
    pub context_length: usize,
    /// Worker threads for the model.
    pub threads: usize,
    /// Per answer: token budget, sampling, extra stop strings.
    pub generate: GenerateOptions,
    /// Tokens kept free for the answer when older turns must be dropped to fit the context.
    pub answer_reserve: usize,
}

impl Default for ChatOptions {
    fn default() -> Self {
        Self {
            system_prompt: None,
            context_length: 2048,
            threads: crate::session::default_threads(),
            generate: GenerateOptions {
                max_tokens: 256,
                ..GenerateOptions::default()
            },
            answer_reserve: 128,
        }
    }
}

/// One answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatTurn {
    /// The answer's text (the concatenation of the deltas).
    pub text: String,
    /// Why generation ended.
    pub stop_reason: StopReason,
    /// Tokens of the rendered prompt.
    pub prompt_tokens: usize,
    /// Of those, tokens already in the session's cache (the earlier turns, or a restored
    /// chat's), which were not evaluated again.
    pub reused_tokens: usize,
    /// Tokens generated for the answer.
    pub generated_tokens: usize,
    /// Older turns dropped so the prompt fits the context.
    pub dropped_messages: usize,
}

/// Renders `messages` with `template` and streams the assistant's answer (the last message
/// must be the user's). The session's cached prefix is reused, so calling this again with the
/// same messages plus a new turn evaluates only the new tokens. Stop strings are the options'
/// plus the template's end-of-turn strings. Errors with [`ChatError::MessageTooLong`] when the
/// prompt plus `max_tokens` (at least 1) does not fit the session's context.
pub fn stream_chat(
    session: &mut Session,
    template: &ChatTemplate,
    messages: &[ChatMessage],
    opts: &GenerateOptions,
    cancel: &AtomicBool,
    on_text: impl FnMut(&str) -> bool,
) -> Result<ChatTurn, ChatError> {
    let last = messages.last().ok_or(ChatError::NoMessages)?;
    if last.role != Role::User {
        return Err(ChatError::LastNotUser(last.role.as_str()));
    }
    if last.content.trim().is_empty() {
        return Err(ChatError::EmptyMessage);
    }
    let model = session.model().clone();
    let prompt = template.encode(model.tokenizer(), messages, true)?;
    let limit = session.context_length();
    if prompt.len() + opts.max_tokens.clamp(1, 16) > limit {
        return Err(ChatError::MessageTooLong {
            tokens: prompt.len(),
            limit,
        });
    }
    let mut gen_opts = opts.clone();
    for s in template.stop_strings() {
        if !gen_opts.stop.contains(s) {
            gen_opts.stop.push(s.clone());
        }
    }
    let reused_tokens = session
        .tokens()
        .iter()
        .zip(&prompt)
        .take_while(|(a, b)| a == b)
        .count();
    let out = generate(session, &prompt, &gen_opts, cancel, on_text)?;
    Ok(ChatTurn {
        text: out.text,
        stop_reason: out.stop_reason,
        prompt_tokens: prompt.len(),
        reused_tokens,
        generated_tokens: out.tokens.len(),
        dropped_messages: 0,
    })
}

/// A chat with a model: keeps the history and the KV cache between answers.
/// `Send`; wrap in a Mutex to share.
pub struct ChatSession {
    model: Arc<Model>,
    template: ChatTemplate,
    session: Session,
    options: ChatOptions,
    messages: Vec<ChatMessage>,
}

impl std::fmt::Debug for ChatSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatSession")
            .field("messages", &self.messages.len())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ChatSession {
    /// A chat over `model` with its own chat template (errors when it has none usable).
    pub fn new(model: Arc<Model>, options: ChatOptions) -> Result<Self, ChatError> {
        let template = ChatTemplate::for_model(&model)?;
        Self::with_template(model, template, options)
    }

    /// A chat rendered with `template` instead of the model's own.
    pub fn with_template(
        model: Arc<Model>,
        template: ChatTemplate,
        options: ChatOptions,
    ) -> Result<Self, ChatError> {
        options
            .generate
            .sampler
            .validate()
            .map_err(GenerateError::from)?;
        let session = Session::new(
            model.clone(),
            SessionOptions {
                context_length: options.context_length,
                threads: options.threads,
            },
        )?;
        let mut chat = Self {
            model,
            template,
            session,
            options,
            messages: Vec::new(),
        };
        chat.clear();
        Ok(chat)
    }

    /// The model it runs.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The template that renders its messages.
    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    /// The history (system prompt, user and assistant turns).
    pub fn messages(&self) -> &[ChatMessage] {
        &self.messages
    }

    /// The session holding the conversation's KV cache (saved with the chat).
    pub(super) fn session(&self) -> &Session {
        &self.session
    }

    pub(super) fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Replaces the history with `messages`: a transcript the app kept, or the fallback when a
    /// saved chat's snapshot is refused (another model file). The next answer reads them all
    /// again; [`ChatSession::restore_state`] avoids that.
    pub fn set_history(&mut self, messages: Vec<ChatMessage>) {
        self.messages = messages;
    }

    /// Forgets the history (keeps the system prompt and the cached prompt prefix).
    pub fn clear(&mut self) {
        self.messages.clear();
        if let Some(s) = &self.options.system_prompt {
            self.messages.push(ChatMessage::system(s.clone()));
        }
    }

    /// Sends a user message and streams the answer through `on_text` (return `false` to
    /// stop). Generation stops between tokens when `cancel` is set. The answer, even a
    /// cancelled partial one, joins the history unless it is empty. When the history no
    /// longer fits the context (minus `answer_reserve`), the oldest turns are dropped; when
    /// the new message alone does not fit, [`ChatError::MessageTooLong`] is returned and the
    /// history is unchanged.
    pub fn send(
        &mut self,
        text: &str,
        cancel: &AtomicBool,
        on_text: impl FnMut(&str) -> bool,
    ) -> Result<ChatTurn, ChatError> {
        if text.trim().is_empty() {
            return Err(ChatError::EmptyMessage);
        }
        let has_system = self
            .messages
            .first()
            .is_some_and(|m| m.role == Role::System);
        let first_turn = usize::from(has_system);
        let mut msgs = self.messages.clone();
        msgs.push(ChatMessage::user(text));
        let limit = self.session.context_length();
        let reserve = self
            .options
            .answer_reserve
            .min(self.options.generate.max_tokens)
            .max(1)
            .min(limit / 2);
        let mut dropped = 0;
        loop {
            let n = self
                .template
                .encode(self.model.tokenizer(), &msgs, true)?
                .len();
            if n + reserve <= limit {
                break;
            }
            if msgs.len() - first_turn <= 1 {
                return Err(ChatError::MessageTooLong {
                    tokens: n,
                    limit: limit - reserve,
                });
            }
            // Drop the oldest exchange (a user turn and the assistant's answer).
            msgs.remove(first_turn);
            dropped += 1;
            if msgs.len() - first_turn > 1 && msgs[first_turn].role == Role::Assistant {
                msgs.remove(first_turn);
                dropped += 1;
            }
        }
        let mut turn = stream_chat(
            &mut self.session,
            &self.template,
            &msgs,
            &self.options.generate,
            cancel,
            on_text,
        )?;
        turn.dropped_messages = dropped;
        if !turn.text.trim().is_empty() {
            msgs.push(ChatMessage::assistant(turn.text.trim().to_owned()));
        }
        self.messages = msgs;
        Ok(turn)
    }
}
