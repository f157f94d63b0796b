//! The reply sample's controller, shared by Android and iOS (docs/samples.md, "Reply
//! controller"): the platform glue forwards events (a conversation shown, a message received, a
//! chip tapped, the compose box edited, a tone, "Write a longer reply", Stop, Send, "Add to
//! calendar") and draws the states the controller reports to its [`ReplyCoreObserver`]. The
//! controller owns the worker thread that runs the model (drafts, the longer reply, the event
//! extraction, one at a time in order) and the stale-result rules: a result of a draft,
//! stream or extraction that a newer event superseded is never shown. Offsets are UTF-16 code
//! units. No user text is logged.

mod calendar;

pub use calendar::CalendarEvent;

use crate::chat::{ChatOptions, ChatSession};
use crate::controller::{failed_message, Executor, PendingJobs, WorkerThread};
use crate::error::{guard, lock, PocketLmError};
use crate::model::Model;
use crate::reply::{
    ConversationMessage, DraftOptions, DrafterOptions, NoDraftReason, ReplyDrafter, Tone,
};
use crate::session::{GenerationOptions, SamplingOptions, SessionOptions, TextSession};
use crate::structured::OutputConstraint;
use crate::task::{CancelToken, GenerationResult, GenerationTask, TextListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

/// The longer reply's instruction; the earlier messages follow it, one per line.
const LONGER_REPLY_PROMPT: &str =
    "You help the user answer a text message. Write the user's reply only: friendly, a few sentences.";

/// Most tokens of a longer reply.
pub const LONGER_REPLY_MAX_TOKENS: i32 = 96;

/// Most chips shown.
const CHIPS: usize = 3;

/// Where the reply screen's model is.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReplyModelStatus {
    /// Being loaded on the worker (messages can arrive; their draft starts once it is ready).
    Loading,
    Ready,
    /// `message` is short and says what to do; `detail` is the library's full error (a path,
    /// never user text).
    Failed {
        message: String,
        detail: String,
    },
}

/// What the reply screen shows.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReplyCoreState {
    /// Increases with every state reported: a state with a lower version than one already
    /// drawn is older (it was reported from the worker while an event was being handled).
    pub version: u64,
    /// The conversation, oldest first.
    pub messages: Vec<ConversationMessage>,
    /// At most three drafted replies, in the core's order.
    pub chips: Vec<String>,
    /// A draft is being computed (progress indicator).
    pub drafting: bool,
    /// Why there are no chips, when the core drafted none.
    pub no_draft_reason: Option<NoDraftReason>,
    /// A short message when the last draft or longer reply failed (never user text).
    pub error_message: Option<String>,
    pub compose: String,
    /// The compose box's cursor, in UTF-16 code units.
    pub compose_cursor_utf16: u32,
    /// A longer reply is streaming into the compose box (its button shows Stop).
    pub streaming: bool,
    /// "Write a longer reply" applies: a ready model and an incoming last message.
    pub can_write_longer: bool,
    /// The register of the drafts.
    pub tone: Tone,
    pub model: ReplyModelStatus,
    /// The "Add to calendar" action for the last incoming message (`null`/`nil`: not offered).
    pub calendar_event: Option<CalendarEvent>,
    /// The last incoming message is being read for an event.
    pub extracting_event: bool,
    /// The result of the latest longer reply once its generation ended (also a stopped one).
    pub last_longer_reply: Option<GenerationResult>,
}

/// Receives what the controller decides.
#[uniffi::export(callback_interface)]
pub trait ReplyCoreObserver: Send + Sync {
    /// The state changed. Called on the event's thread, on the controller's worker or on a
    /// generation thread: hop to the UI thread and draw it unless a state with a higher
    /// `version` was drawn already.
    fn on_state(&self, state: ReplyCoreState);
}

/// The model-side objects, opened once per model.
pub(crate) struct Engine {
    model: Arc<Model>,
    drafter: Arc<ReplyDrafter>,
    /// The extraction's own session (made on first use, on the worker).
    extract: Mutex<Option<Arc<TextSession>>>,
}

impl Engine {
    /// With `state_dir`, the drafter keeps each tone's warm-up there (docs/state.md).
    pub(crate) fn open(
        model: Arc<Model>,
        state_dir: Option<String>,
    ) -> Result<Arc<Self>, PocketLmError> {
        let options = DrafterOptions { threads: 0 };
        let drafter = match state_dir {
            Some(dir) => ReplyDrafter::with_state_dir(model.clone(), options, dir)?,
            None => ReplyDrafter::new(model.clone(), options)?,
        };
        Ok(Arc::new(Engine {
            model,
            drafter,
            extract: Mutex::new(None),
        }))
    }

    fn extract_session(&self) -> Result<Arc<TextSession>, PocketLmError> {
        let mut slot = lock(&self.extract);
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = TextSession::new(
            self.model.clone(),
            SessionOptions {
                context_length: 2048,
                threads: 0,
            },
        )?;
        *slot = Some(s.clone());
        Ok(s)
    }
}

pub(crate) type Opener = Box<dyn FnOnce() -> Result<Arc<Engine>, PocketLmError> + Send>;

/// What became of a draft (the tests check these).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DraftOutcome {
    Shown,
    /// Superseded and cancelled before it finished.
    Cancelled,
    /// Finished after a newer event superseded it; never shown.
    Discarded,
    Failed,
}

struct St {
    version: u64,
    messages: Vec<ConversationMessage>,
    chips: Vec<String>,
    drafting: bool,
    no_draft_reason: Option<NoDraftReason>,
    error_message: Option<String>,
    compose: String,
    compose_cursor: u32,
    streaming: bool,
    tone: Tone,
    model: ReplyModelStatus,
    calendar_event: Option<CalendarEvent>,
    extracting_event: bool,
    last_longer_reply: Option<GenerationResult>,
    engine: Option<Arc<Engine>>,
    /// Each bumped by a newer load / draft / stream / extraction: an older one's result is
    /// dropped.
    load_generation: u64,
    draft_generation: u64,
    stream_generation: u64,
    event_generation: u64,
    draft_cancel: Option<Arc<CancelToken>>,
    stream_task: Option<Arc<GenerationTask>>,
    event_task: Option<Arc<GenerationTask>>,
    closed: bool,
    #[cfg(test)]
    outcomes: Vec<DraftOutcome>,
}

impl St {
    fn last_is_incoming(&self) -> bool {
        self.messages.last().is_some_and(|m| !m.from_me)
    }
    fn can_write_longer(&self) -> bool {
        self.model == ReplyModelStatus::Ready && self.last_is_incoming()
    }
    fn set_compose(&mut self, text: String) {
        self.compose_cursor = utf16_len(&text);
        self.compose = text;
    }
}

fn utf16_len(s: &str) -> u32 {
    u32::try_from(s.encode_utf16().count()).unwrap_or(u32::MAX)
}

/// The short message of a failed draft or longer reply.
fn short_error(e: &PocketLmError) -> String {
    match e {
        PocketLmError::ContextFull(_) => "The conversation is too long for the model".into(),
        _ => "The model failed: try again".into(),
    }
}

struct Inner {
    st: Mutex<St>,
    /// Jobs queued or running on the worker.
    jobs: PendingJobs,
    observer: Box<dyn ReplyCoreObserver>,
    worker: Box<dyn Executor>,
}

/// The longer reply's system prompt for `conversation`: the instruction, then the messages
/// before the last one (`Them: …` / `Me: …`, one per line).
pub(crate) fn longer_reply_system_prompt(conversation: &[ConversationMessage]) -> String {
    let earlier = &conversation[..conversation.len().saturating_sub(1)];
    if earlier.is_empty() {
        return LONGER_REPLY_PROMPT.into();
    }
    let lines: Vec<String> = earlier
        .iter()
        .map(|m| format!("{}{}", if m.from_me { "Me: " } else { "Them: " }, m.text))
        .collect();
    format!(
        "{LONGER_REPLY_PROMPT}\nEarlier messages:\n{}",
        lines.join("\n")
    )
}

/// Forwards a longer reply's pieces into the compose box while its stream is current.
struct StreamListener {
    inner: Arc<Inner>,
    generation: u64,
}

impl TextListener for StreamListener {
    fn on_text(&self, delta: String) -> bool {
        let mut st = lock(&self.inner.st);
        // After Stop (or a newer event) the text stays as it was: the piece is refused.
        if st.closed || st.stream_generation != self.generation || !st.streaming {
            return false;
        }
        let text = std::mem::take(&mut st.compose) + &delta;
        st.set_compose(text);
        let s = Inner::snapshot(&mut st);
        drop(st);
        self.inner.report(s);
        true
    }
}

/// Takes every piece (the extraction's JSON is read from the task's result).
struct Discard;

impl TextListener for Discard {
    fn on_text(&self, _delta: String) -> bool {
        true
    }
}

impl Inner {
    fn snapshot(st: &mut St) -> ReplyCoreState {
        st.version += 1;
        ReplyCoreState {
            version: st.version,
            messages: st.messages.clone(),
            chips: st.chips.clone(),
            drafting: st.drafting,
            no_draft_reason: st.no_draft_reason,
            error_message: st.error_message.clone(),
            compose: st.compose.clone(),
            compose_cursor_utf16: st.compose_cursor,
            streaming: st.streaming,
            can_write_longer: st.can_write_longer(),
            tone: st.tone,
            model: st.model.clone(),
            calendar_event: st.calendar_event.clone(),
            extracting_event: st.extracting_event,
            last_longer_reply: st.last_longer_reply.clone(),
        }
    }

    /// Calls the observer (never with the lock held); a panic or foreign exception in it is
    /// contained.
    fn report(&self, state: ReplyCoreState) {
        let _ = catch_unwind(AssertUnwindSafe(|| self.observer.on_state(state)));
    }

    /// Reports the current state and releases the lock.
    fn publish(&self, mut st: MutexGuard<'_, St>) {
        let s = Self::snapshot(&mut st);
        drop(st);
        self.report(s);
    }

    /// Queues `job` on the worker, counted as busy until it has run; a panic in it is
    /// contained.
    fn on_worker(self: &Arc<Self>, st: &mut St, job: impl FnOnce(&Arc<Inner>) + Send + 'static) {
        if st.closed {
            return;
        }
        self.jobs.add();
        let me = self.clone();
        self.worker.execute(Box::new(move || {
            let _ = catch_unwind(AssertUnwindSafe(|| job(&me)));
            me.jobs.done();
        }));
    }

    /// Cancels the stream, the draft and the extraction in flight (their results are never
    /// shown) and withdraws the calendar action.
    fn stop_everything(st: &mut St) {
        Self::stop_stream(st);
        Self::cancel_draft(st);
        st.event_generation += 1;
        if let Some(t) = st.event_task.take() {
            t.cancel();
        }
        st.extracting_event = false;
        st.calendar_event = None;
    }

    fn stop_stream(st: &mut St) {
        st.streaming = false;
        if let Some(t) = st.stream_task.take() {
            t.cancel();
        }
    }

    fn cancel_draft(st: &mut St) {
        st.draft_generation += 1;
        if let Some(c) = st.draft_cancel.take() {
            c.cancel();
        }
        st.drafting = false;
    }

    /// Drafts replies to the conversation on the worker (when a model is ready and the last
    /// message is incoming).
    fn start_draft(self: &Arc<Self>, st: &mut St) {
        Self::cancel_draft(st);
        st.chips.clear();
        st.no_draft_reason = None;
        let Some(engine) = st.engine.clone() else {
            return;
        };
        if !st.last_is_incoming() {
            return;
        }
        st.drafting = true;
        st.error_message = None;
        let generation = st.draft_generation;
        let token = CancelToken::new();
        st.draft_cancel = Some(token.clone());
        let conversation = st.messages.clone();
        let options = DraftOptions {
            count: CHIPS as i32,
            max_words: 10,
            tone: Some(st.tone),
            blocklist: Vec::new(),
        };
        self.on_worker(st, move |me| {
            let result = engine
                .drafter
                .draft(conversation, options, Some(token.clone()));
            me.draft_finished(generation, result);
        });
    }

    fn draft_finished(
        &self,
        generation: u64,
        result: Result<crate::reply::ReplyDrafts, PocketLmError>,
    ) {
        let mut st = lock(&self.st);
        if generation != st.draft_generation || !st.drafting || st.closed {
            #[cfg(test)]
            st.outcomes.push(match result {
                Err(PocketLmError::Cancelled(_)) => DraftOutcome::Cancelled,
                _ => DraftOutcome::Discarded,
            });
            return;
        }
        st.drafting = false;
        st.draft_cancel = None;
        match result {
            Ok(d) => {
                st.chips = d.replies.into_iter().take(CHIPS).map(|r| r.text).collect();
                st.no_draft_reason = if st.chips.is_empty() {
                    d.no_draft_reason
                } else {
                    None
                };
                #[cfg(test)]
                st.outcomes.push(DraftOutcome::Shown);
            }
            Err(e) => {
                st.error_message = Some(short_error(&e));
                #[cfg(test)]
                st.outcomes.push(DraftOutcome::Failed);
            }
        }
        self.publish(st);
    }

    /// Reads the last message, when incoming, for an event on the worker (after its draft, so
    /// the chips come first).
    fn start_extraction(self: &Arc<Self>, st: &mut St) {
        st.event_generation += 1;
        if let Some(t) = st.event_task.take() {
            t.cancel();
        }
        st.calendar_event = None;
        st.extracting_event = false;
        let (Some(engine), Some(last)) = (st.engine.clone(), st.messages.last().cloned()) else {
            return;
        };
        if last.from_me {
            return;
        }
        st.extracting_event = true;
        let generation = st.event_generation;
        self.on_worker(st, move |me| {
            let event = me.extract(&engine, generation, &last.text);
            let mut st = lock(&me.st);
            if generation != st.event_generation || st.closed {
                return;
            }
            st.event_task = None;
            st.extracting_event = false;
            st.calendar_event = event;
            me.publish(st);
        });
    }

    /// The event in `message`, or none (also when superseded or failed).
    fn extract(&self, engine: &Engine, generation: u64, message: &str) -> Option<CalendarEvent> {
        let session = engine.extract_session().ok()?;
        let options = GenerationOptions {
            max_tokens: calendar::EXTRACT_MAX_TOKENS,
            sampling: greedy(),
            stop: Vec::new(),
            constraint: Some(OutputConstraint::JsonSchema {
                schema: calendar::CALENDAR_SCHEMA.into(),
            }),
            use_chat_template: true,
        };
        let task = {
            let mut st = lock(&self.st);
            if generation != st.event_generation || st.closed {
                return None;
            }
            let task = session
                .generate(
                    calendar::extraction_prompt(message),
                    options,
                    Box::new(Discard),
                )
                .ok()?;
            st.event_task = Some(task.clone());
            task
        };
        let result = task.join().ok()?;
        if !result.constraint.is_some_and(|c| c.complete) {
            return None;
        }
        calendar::from_extraction(message, &result.text)
    }

    fn load(self: &Arc<Self>, mut st: MutexGuard<'_, St>, open: Opener) {
        Self::stop_everything(&mut st);
        st.load_generation += 1;
        let generation = st.load_generation;
        let old = st.engine.take();
        st.model = ReplyModelStatus::Loading;
        st.chips.clear();
        st.no_draft_reason = None;
        self.on_worker(&mut st, move |me| {
            drop(old); // the previous model's objects are closed on the worker
            let result = open();
            let mut st = lock(&me.st);
            if generation != st.load_generation || st.closed {
                return; // a newer load started meanwhile
            }
            match result {
                Ok(e) => {
                    st.engine = Some(e);
                    st.model = ReplyModelStatus::Ready;
                    if st.last_is_incoming() {
                        me.start_draft(&mut st);
                        me.start_extraction(&mut st);
                    }
                }
                Err(e) => {
                    st.model = ReplyModelStatus::Failed {
                        message: failed_message(&e).into(),
                        detail: e.to_string(),
                    }
                }
            }
            me.publish(st);
        });
        self.publish(st);
    }

    /// On the worker: streams the longer reply of stream `generation` into the compose box.
    fn run_stream(
        self: &Arc<Self>,
        engine: &Engine,
        generation: u64,
        conversation: Vec<ConversationMessage>,
    ) {
        let current = |st: &St| generation == st.stream_generation && st.streaming && !st.closed;
        let Some(last) = conversation.iter().rev().find(|m| !m.from_me).cloned() else {
            return;
        };
        let options = ChatOptions {
            system_prompt: Some(longer_reply_system_prompt(&conversation)),
            context_length: 2048,
            max_tokens: LONGER_REPLY_MAX_TOKENS,
            sampling: SamplingOptions {
                temperature: 0.8,
                top_k: 40,
                top_p: 0.95,
                min_p: 0.05,
                repetition_penalty: 1.0,
                seed: 24301,
            },
            threads: 0,
        };
        let outcome = (|| {
            let chat = ChatSession::new(engine.model.clone(), options)?;
            let task = {
                let mut st = lock(&self.st);
                if !current(&st) {
                    return Ok(None); // stopped before it started
                }
                let listener = StreamListener {
                    inner: self.clone(),
                    generation,
                };
                let task = chat.send(last.text.clone(), Box::new(listener))?;
                st.stream_task = Some(task.clone());
                task
            };
            task.join().map(Some)
        })();
        let mut st = lock(&self.st);
        if generation != st.stream_generation || st.closed {
            return;
        }
        st.stream_task = None;
        st.streaming = false;
        match outcome {
            Ok(result) => st.last_longer_reply = result,
            Err(e) => st.error_message = Some(short_error(&e)),
        }
        self.publish(st);
    }
}

fn greedy() -> SamplingOptions {
    SamplingOptions {
        temperature: 0.0,
        top_k: 40,
        top_p: 0.95,
        min_p: 0.05,
        repetition_penalty: 1.0,
        seed: 24301,
    }
}

/// The reply screen's controller (docs/samples.md, "Reply controller"). Every event method is
/// meant for the UI thread and returns at once; the model runs on the controller's own worker
/// thread, a newer event cancelling the work it supersedes, stale results dropped.
#[derive(uniffi::Object)]
pub struct ReplyCore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ReplyCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyCore").finish_non_exhaustive()
    }
}

impl Drop for ReplyCore {
    fn drop(&mut self) {
        let mut st = lock(&self.inner.st);
        Inner::stop_everything(&mut st);
        st.closed = true;
        st.engine = None;
        // Queued jobs hold the controller's state: the worker thread ends once it has run them
        // and the last reference (with the channel's sender) is gone.
    }
}

impl ReplyCore {
    /// Loads the engine with `open` (on the worker).
    pub(crate) fn load_with(&self, open: Opener) {
        let st = lock(&self.inner.st);
        self.inner.load(st, open);
    }

    #[cfg(test)]
    pub(crate) fn outcomes(&self) -> Vec<DraftOutcome> {
        lock(&self.inner.st).outcomes.clone()
    }
}

#[uniffi::export]
impl ReplyCore {
    /// A controller with its own worker thread, no model yet (`loadModel`) and no messages.
    #[uniffi::constructor]
    pub fn new(observer: Box<dyn ReplyCoreObserver>) -> Result<Arc<Self>, PocketLmError> {
        guard("ReplyCore.new", || {
            let worker = WorkerThread::start("pocketlm-reply")?;
            Ok(Arc::new(ReplyCore {
                inner: Arc::new(Inner {
                    st: Mutex::new(St {
                        version: 0,
                        messages: Vec::new(),
                        chips: Vec::new(),
                        drafting: false,
                        no_draft_reason: None,
                        error_message: None,
                        compose: String::new(),
                        compose_cursor: 0,
                        streaming: false,
                        tone: Tone::Neutral,
                        model: ReplyModelStatus::Loading,
                        calendar_event: None,
                        extracting_event: false,
                        last_longer_reply: None,
                        engine: None,
                        load_generation: 0,
                        draft_generation: 0,
                        stream_generation: 0,
                        event_generation: 0,
                        draft_cancel: None,
                        stream_task: None,
                        event_task: None,
                        closed: false,
                        #[cfg(test)]
                        outcomes: Vec::new(),
                    }),
                    jobs: PendingJobs::default(),
                    observer,
                    worker: Box::new(worker),
                }),
            }))
        })
    }

    /// Loads the model at `path` and its reply drafter on the worker; drafts start once it is
    /// ready (one for the conversation shown, when its last message is incoming). A failure
    /// shows in the state; call it again to retry.
    pub fn load_model(&self, path: String) {
        let _ = guard("ReplyCore.loadModel", || {
            self.load_with(Box::new(move || Engine::open(Model::load(path)?, None)));
            Ok(())
        });
    }

    /// [`Self::load_model`] with a warm start: the drafter keeps each tone's warm-up (its
    /// prompt prefix's KV cache) in the directory `state_dir` (created when missing; the app's
    /// files dir or Application Support), so a restarted app shows its first chips sooner.
    /// The drafts are the same; a missing, stale or corrupted file, or a directory that cannot
    /// be written, only costs the warm start.
    pub fn load_model_with_state_dir(&self, path: String, state_dir: String) {
        let _ = guard("ReplyCore.loadModelWithStateDir", || {
            self.load_with(Box::new(move || {
                Engine::open(Model::load(path)?, Some(state_dir))
            }));
            Ok(())
        });
    }

    /// [`Self::load_model`] with either directory or both: `state_dir` as in
    /// [`Self::load_model_with_state_dir`]; `layout_cache_dir` a layout cache
    /// (`Model.loadWithLayoutCache`: the first load writes a converted copy of the model
    /// there, later loads map it; faster decode, the same drafts; a cache that cannot be used
    /// loads the original file).
    pub fn load_model_with_dirs(
        &self,
        path: String,
        state_dir: Option<String>,
        layout_cache_dir: Option<String>,
    ) {
        let _ = guard("ReplyCore.loadModelWithDirs", || {
            self.load_with(Box::new(move || {
                let model = Model::open(path, layout_cache_dir.as_deref())?;
                Engine::open(model, state_dir)
            }));
            Ok(())
        });
    }

    /// Replaces the conversation (a canned one is picked) and drafts replies to it.
    pub fn show_conversation(&self, messages: Vec<ConversationMessage>) {
        let _ = guard("ReplyCore.showConversation", || {
            let inner = &self.inner;
            let mut st = lock(&inner.st);
            Inner::stop_everything(&mut st);
            st.messages = messages;
            st.set_compose(String::new());
            inner.start_draft(&mut st);
            inner.start_extraction(&mut st);
            inner.publish(st);
            Ok(())
        });
    }

    /// A message from the other person arrived: the draft, stream and extraction in flight
    /// are cancelled (their results never shown) and new ones start.
    pub fn receive(&self, text: String) {
        let _ = guard("ReplyCore.receive", || {
            let inner = &self.inner;
            let mut st = lock(&inner.st);
            Inner::stop_everything(&mut st);
            st.messages.push(ConversationMessage {
                from_me: false,
                text,
            });
            inner.start_draft(&mut st);
            inner.start_extraction(&mut st);
            inner.publish(st);
            Ok(())
        });
    }

    /// The register of the drafts: a different tone drafts the chips again.
    pub fn set_tone(&self, tone: Tone) {
        let _ = guard("ReplyCore.setTone", || {
            let inner = &self.inner;
            let mut st = lock(&inner.st);
            if st.tone == tone {
                return Ok(());
            }
            st.tone = tone;
            inner.start_draft(&mut st);
            inner.publish(st);
            Ok(())
        });
    }

    /// Chip `index` tapped: its text becomes the compose text, cursor at the end. No such chip:
    /// nothing.
    pub fn tap_chip(&self, index: u32) {
        let _ = guard("ReplyCore.tapChip", || {
            let mut st = lock(&self.inner.st);
            let Some(text) = st.chips.get(index as usize).cloned() else {
                return Ok(());
            };
            st.set_compose(text);
            self.inner.publish(st);
            Ok(())
        });
    }

    /// The user edited the compose box: its text and cursor (UTF-16 units, clamped).
    pub fn edit_compose(&self, text: String, cursor_utf16: u32) {
        let _ = guard("ReplyCore.editCompose", || {
            let mut st = lock(&self.inner.st);
            let cursor = cursor_utf16.min(utf16_len(&text));
            if st.compose == text && st.compose_cursor == cursor {
                return Ok(());
            }
            st.compose = text;
            st.compose_cursor = cursor;
            self.inner.publish(st);
            Ok(())
        });
    }

    /// "Write a longer reply" (only with a ready model and an incoming last message): streams a
    /// chat answer into the compose box, replacing its text.
    pub fn write_longer(&self) {
        let _ = guard("ReplyCore.writeLonger", || {
            let inner = &self.inner;
            let mut st = lock(&inner.st);
            let Some(engine) = st.engine.clone() else {
                return Ok(());
            };
            if st.streaming || !st.can_write_longer() {
                return Ok(());
            }
            st.stream_generation += 1;
            let generation = st.stream_generation;
            st.streaming = true;
            st.last_longer_reply = None;
            st.set_compose(String::new());
            let conversation = st.messages.clone();
            inner.on_worker(&mut st, move |me| {
                me.run_stream(&engine, generation, conversation)
            });
            inner.publish(st);
            Ok(())
        });
    }

    /// Stop: the stream ends within one token; the compose box keeps the partial text.
    pub fn stop(&self) {
        let _ = guard("ReplyCore.stop", || {
            let mut st = lock(&self.inner.st);
            if !st.streaming {
                return Ok(());
            }
            Inner::stop_stream(&mut st);
            self.inner.publish(st);
            Ok(())
        });
    }

    /// Send: the compose text (when not blank) becomes my message; the compose box and the
    /// chips clear, the draft and stream in flight stop. The calendar action stays.
    pub fn send(&self) {
        let _ = guard("ReplyCore.send", || {
            let mut st = lock(&self.inner.st);
            if st.compose.trim().is_empty() {
                return Ok(());
            }
            Inner::stop_stream(&mut st);
            Inner::cancel_draft(&mut st);
            let text = std::mem::take(&mut st.compose);
            st.messages.push(ConversationMessage {
                from_me: true,
                text,
            });
            st.set_compose(String::new());
            st.chips.clear();
            st.no_draft_reason = None;
            self.inner.publish(st);
            Ok(())
        });
    }

    /// "Add to calendar" tapped: the event for the platform's calendar editor (Android an
    /// `Intent.ACTION_INSERT`, iOS an `EKEventEditViewController`); the action is withdrawn.
    /// `null`/`nil` when none is offered.
    pub fn add_to_calendar(&self) -> Option<CalendarEvent> {
        guard("ReplyCore.addToCalendar", || {
            let mut st = lock(&self.inner.st);
            let event = st.calendar_event.take();
            if event.is_some() {
                self.inner.publish(st);
            }
            Ok(event)
        })
        .unwrap_or(None)
    }

    /// The current state (a fresh version).
    pub fn state(&self) -> ReplyCoreState {
        Inner::snapshot(&mut lock(&self.inner.st))
    }

    /// Blocks until no job is queued or running on the worker (no load, draft, stream or
    /// extraction left), at most `timeout_ms`; whether it is idle. For tests: never on a UI
    /// thread.
    pub fn wait_idle(&self, timeout_ms: u32) -> bool {
        self.inner.jobs.wait_idle(timeout_ms)
    }
}

#[cfg(test)]
mod tests;
