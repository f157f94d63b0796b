//! Plain text generation: a session with a KV cache, prompts in, streamed text out.

use crate::error::{count, guard, lock, threads, PocketLmError};
use crate::model::Model;
use crate::structured::{check, OutputConstraint};
use crate::task::{spawn, GenerationResult, GenerationTask, LastTask, TextListener};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

/// How the next token is chosen. `temperature = 0` is greedy (deterministic).
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct SamplingOptions {
    #[uniffi(default = 0.8)]
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens (0 = all).
    #[uniffi(default = 40)]
    pub top_k: i32,
    /// Keep the smallest set of tokens whose probability reaches `top_p` (1 = all).
    #[uniffi(default = 0.95)]
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one (0 = none).
    #[uniffi(default = 0.05)]
    pub min_p: f32,
    /// Penalize recently seen tokens (1 = off).
    #[uniffi(default = 1.0)]
    pub repetition_penalty: f32,
    #[uniffi(default = 24301)]
    pub seed: i64,
}

impl SamplingOptions {
    pub(crate) fn to_core(self) -> Result<pocketlm::SamplerConfig, PocketLmError> {
        let cfg = pocketlm::SamplerConfig {
            temperature: self.temperature,
            top_k: count("top_k", self.top_k, 0, i32::MAX)?,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repetition_penalty,
            seed: self.seed as u64,
            ..pocketlm::SamplerConfig::default()
        };
        cfg.validate().map_err(|e| {
            PocketLmError::InvalidArgument(format!("invalid sampling options: {e}"))
        })?;
        Ok(cfg)
    }
}

/// Per-generation settings.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct GenerationOptions {
    /// Most tokens to generate (1..=32768).
    #[uniffi(default = 256)]
    pub max_tokens: i32,
    #[uniffi(default)]
    pub sampling: SamplingOptions,
    /// Generation ends before the first of these; the stop string is not part of the text.
    #[uniffi(default = [])]
    pub stop: Vec<String>,
    /// What the output must match (a JSON Schema, a regex, a grammar or a list of choices);
    /// `null`/`nil` for free text. `GenerationResult.constraint` says whether the output is
    /// complete and valid.
    #[uniffi(default = None)]
    pub constraint: Option<OutputConstraint>,
    /// Wrap the prompt as a user message in the model's chat template (and stop at the end of
    /// the assistant's turn), as `pocketlm generate --chat` does. Instruction-tuned models
    /// answer requests (e.g. "extract the event as JSON") far better this way.
    #[uniffi(default = false)]
    pub use_chat_template: bool,
}

impl GenerationOptions {
    fn to_core(&self) -> Result<pocketlm::GenerateOptions, PocketLmError> {
        Ok(pocketlm::GenerateOptions {
            max_tokens: count("max_tokens", self.max_tokens, 1, 32768)?,
            sampler: self.sampling.to_core()?,
            stop: self.stop.clone(),
            constraint: self.constraint.as_ref().map(OutputConstraint::to_core),
        })
    }
}

/// How a session is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SessionOptions {
    /// Most tokens the session holds (prompt + generated); memory grows with use, not with this.
    #[uniffi(default = 2048)]
    pub context_length: i32,
    /// Worker threads (0 = the default, at most 2).
    #[uniffi(default = 0)]
    pub threads: i32,
}

/// A text generation session: holds a KV cache, so a prompt that extends the previous one only
/// evaluates the new tokens. Generations on one session run one at a time, in the order they
/// were started (a second `generate` waits for the first); use one session per concurrent
/// generation (they can share a `Model`).
#[derive(uniffi::Object)]
pub struct TextSession {
    pub(crate) model: Arc<pocketlm::Model>,
    pub(crate) session: Arc<Mutex<pocketlm::Session>>,
    context_length: i32,
    pub(crate) context_tokens: Arc<AtomicI32>,
    pub(crate) reset_requested: Arc<AtomicBool>,
    last: Arc<LastTask>,
}

impl std::fmt::Debug for TextSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextSession")
            .field("context_length", &self.context_length)
            .finish_non_exhaustive()
    }
}

impl TextSession {
    /// The core session once no generation runs, with a pending `reset` applied.
    fn settled(&self) -> std::sync::MutexGuard<'_, pocketlm::Session> {
        let mut session = lock(&self.session);
        if self.reset_requested.swap(false, Ordering::SeqCst) {
            session.clear();
            self.context_tokens.store(0, Ordering::SeqCst);
        }
        session
    }

    /// Loads a snapshot with `load` once no generation runs, and records the restored length.
    fn restore(
        &self,
        what: &'static str,
        load: impl FnOnce(&mut pocketlm::Session) -> Result<(), pocketlm::SnapshotError>,
    ) -> Result<(), PocketLmError> {
        guard(what, || {
            let mut session = self.settled();
            load(&mut session)?;
            self.context_tokens.store(
                i32::try_from(session.len()).unwrap_or(i32::MAX),
                Ordering::SeqCst,
            );
            Ok(())
        })
    }
}

#[uniffi::export]
impl TextSession {
    #[uniffi::constructor]
    pub fn new(model: Arc<Model>, options: SessionOptions) -> Result<Arc<Self>, PocketLmError> {
        guard("TextSession.new", || {
            let session = pocketlm::Session::new(
                model.inner.clone(),
                pocketlm::SessionOptions {
                    context_length: count("context_length", options.context_length, 8, 1 << 20)?,
                    threads: threads(options.threads)?,
                },
            )?;
            Ok(Arc::new(TextSession {
                model: model.inner.clone(),
                context_length: i32::try_from(session.context_length()).unwrap_or(i32::MAX),
                session: Arc::new(Mutex::new(session)),
                context_tokens: Arc::new(AtomicI32::new(0)),
                reset_requested: Arc::new(AtomicBool::new(false)),
                last: Arc::new(LastTask::default()),
            }))
        })
    }

    /// Starts generating after `prompt` (the model's start token is added; with
    /// `use_chat_template`, the prompt is the user's message in the model's chat template) and
    /// returns at once. Text goes to `listener` on a background thread; the returned task
    /// cancels, joins or awaits the generation. Invalid options (an invalid output constraint
    /// too: `InvalidConstraint`) are reported here, errors while generating through the
    /// task's result.
    pub fn generate(
        &self,
        prompt: String,
        options: GenerationOptions,
        listener: Box<dyn TextListener>,
    ) -> Result<Arc<GenerationTask>, PocketLmError> {
        guard("TextSession.generate", || {
            let mut opts = options.to_core()?;
            if prompt.is_empty() {
                return Err(PocketLmError::InvalidArgument(
                    "the prompt is empty; pass some text".into(),
                ));
            }
            check(&self.model, opts.constraint.as_ref())?;
            let tokens = if options.use_chat_template {
                let template = pocketlm::ChatTemplate::for_model(&self.model)
                    .map_err(pocketlm::ChatError::from)?;
                for s in template.stop_strings() {
                    if !opts.stop.contains(s) {
                        opts.stop.push(s.clone());
                    }
                }
                template
                    .encode(
                        self.model.tokenizer(),
                        &[pocketlm::ChatMessage::user(prompt)],
                        true,
                    )
                    .map_err(pocketlm::ChatError::from)?
            } else {
                self.model.tokenizer().encode(&prompt, true, true)
            };
            let session = self.session.clone();
            let context_tokens = self.context_tokens.clone();
            let reset = self.reset_requested.clone();
            let (task, shared) = spawn("TextSession.generate", listener, move |s| {
                let mut session = lock(&session);
                if reset.swap(false, Ordering::SeqCst) {
                    session.clear();
                }
                let out = pocketlm::generate(&mut session, &tokens, &opts, s.cancel, s.on_text);
                context_tokens.store(
                    i32::try_from(session.len()).unwrap_or(i32::MAX),
                    Ordering::SeqCst,
                );
                let out = out?;
                Ok(GenerationResult {
                    text: String::new(),
                    stop_reason: out.stop_reason.into(),
                    prompt_tokens: i32::try_from(tokens.len()).unwrap_or(i32::MAX),
                    generated_tokens: i32::try_from(out.tokens.len()).unwrap_or(i32::MAX),
                    tokens_after_cancel: 0,
                    constraint: out.constraint.map(Into::into),
                })
            })?;
            self.last.set(shared);
            Ok(task)
        })
    }

    /// Applies `adapter` (loaded for this session's model) to every generation from now on,
    /// with `scale` (1 = as trained; its term is multiplied by `scale · alpha / rank`); called
    /// again for the same adapter, changes its scale. Several adapters add up. Waits for a
    /// running generation to finish; the session's context is cleared when its adapters change
    /// (its cache was computed with other weights). Other sessions of the model are unaffected.
    /// `InvalidArgument` for a scale that is not finite or an adapter of another model.
    pub fn attach_adapter(
        &self,
        adapter: Arc<crate::adapter::LoraAdapter>,
        scale: f32,
    ) -> Result<(), PocketLmError> {
        guard("TextSession.attach_adapter", || {
            let mut session = self.settled();
            let mut list = session.adapters().to_vec();
            match list
                .iter_mut()
                .find(|(a, _)| Arc::ptr_eq(a, &adapter.inner))
            {
                Some(entry) => entry.1 = scale,
                None => list.push((adapter.inner.clone(), scale)),
            }
            session.set_adapters(&list)?;
            self.context_tokens.store(
                i32::try_from(session.len()).unwrap_or(i32::MAX),
                Ordering::SeqCst,
            );
            Ok(())
        })
    }

    /// Stops applying `adapter` (nothing happens if it was not attached); the context is
    /// cleared when the adapters change. Waits for a running generation to finish.
    pub fn detach_adapter(
        &self,
        adapter: Arc<crate::adapter::LoraAdapter>,
    ) -> Result<(), PocketLmError> {
        guard("TextSession.detach_adapter", || {
            let mut session = self.settled();
            let mut list = session.adapters().to_vec();
            list.retain(|(a, _)| !Arc::ptr_eq(a, &adapter.inner));
            session.set_adapters(&list)?;
            self.context_tokens.store(
                i32::try_from(session.len()).unwrap_or(i32::MAX),
                Ordering::SeqCst,
            );
            Ok(())
        })
    }

    /// How many adapters the session applies.
    pub fn adapter_count(&self) -> i32 {
        i32::try_from(lock(&self.session).adapters().len()).unwrap_or(i32::MAX)
    }

    /// The result of the most recently started generation, once it has finished (`null` /
    /// `nil` if none was started). Does not block a thread.
    pub async fn last_result(&self) -> Option<GenerationResult> {
        self.last.result().await.and_then(Result::ok)
    }

    /// Tokens held in the KV cache after the last generation (prompt and generated text).
    pub fn context_tokens(&self) -> i32 {
        self.context_tokens.load(Ordering::SeqCst)
    }

    pub fn context_length(&self) -> i32 {
        self.context_length
    }

    /// Saves the session's state (the tokens of the last generation's prompt and output, their
    /// KV cache, the logits) to the file `path`, written under a temporary name and renamed
    /// over it; returns its size in bytes. Waits for a running generation to finish.
    /// `InvalidSnapshot` when the file cannot be written.
    pub fn save_state(&self, path: String) -> Result<i64, PocketLmError> {
        guard("TextSession.save_state", || {
            let session = self.settled();
            let bytes = session.save_state_file(&path)?;
            Ok(i64::try_from(bytes).unwrap_or(i64::MAX))
        })
    }

    /// The session's state as bytes (what [`TextSession::save_state`] writes).
    pub fn save_state_bytes(&self) -> Result<Vec<u8>, PocketLmError> {
        guard("TextSession.save_state_bytes", || {
            Ok(self.settled().save_state()?)
        })
    }

    /// Replaces the session's state with a snapshot saved by `save_state` with the same model
    /// file (sessions of another context length may load it if it fits). A later `generate`
    /// whose prompt starts with the restored text evaluates only the rest, and continues
    /// exactly as the saved session would have. Waits for a running generation to finish.
    /// `InvalidSnapshot` (not a snapshot, truncated, corrupted, another format version or
    /// another model: the message says which) or `ContextFull` (more tokens than this
    /// session's context); the session is then left as it was.
    pub fn load_state(&self, path: String) -> Result<(), PocketLmError> {
        self.restore("TextSession.load_state", |s| s.load_state_file(&path))
    }

    /// [`TextSession::load_state`] from bytes.
    pub fn load_state_bytes(&self, bytes: Vec<u8>) -> Result<(), PocketLmError> {
        self.restore("TextSession.load_state_bytes", |s| s.load_state(&bytes))
    }

    /// Forgets the cached tokens. Never blocks: while a generation runs, the cache is cleared
    /// before the next one.
    pub fn reset(&self) {
        self.reset_requested.store(true, Ordering::SeqCst);
        if let Ok(mut s) = self.session.try_lock() {
            if self.reset_requested.swap(false, Ordering::SeqCst) {
                s.clear();
                self.context_tokens.store(0, Ordering::SeqCst);
            }
        }
    }
}
