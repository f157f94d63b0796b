//! The keyboard sample's controller, shared by Android and iOS (docs/samples.md, "Keyboard
//! controller"): the platform glue forwards events (a new field, text changed or cursor moved,
//! a key typed, a strip tap, backspace, memory pressure, a language) and applies what the
//! controller reports to its [`KeyboardCoreObserver`] (text edits, the strip, the model's
//! state). The controller owns the worker thread that runs the model, the conflation of requests
//! and the stale-result rule. Offsets are UTF-16 code units ([`units`]). No user text is logged.

mod policy;
mod units;

pub use policy::{keyboard_field_policy, KeyboardFieldPolicy};

use crate::controller::{failed_message, Executor, Inline, Job, PendingJobs, WorkerThread};
use crate::error::{guard, lock, PocketLmError};
use crate::keyboard::{KeyboardOptions, KeyboardPredictor, KeyboardProfile};
use crate::model::Model;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use units::*;

/// UTF-16 units of text before the cursor the controller keeps and asks the platform for (the
/// core bounds what it tokenizes anyway).
pub const KEYBOARD_CONTEXT_UNITS: u32 = 400;
const CONTEXT: usize = KEYBOARD_CONTEXT_UNITS as usize;

/// [`KEYBOARD_CONTEXT_UNITS`] for the platforms (uniffi exports no constants): the UTF-16
/// units of text before the cursor to pass to `startField` and `textChanged`.
#[uniffi::export]
pub fn keyboard_context_units() -> u32 {
    KEYBOARD_CONTEXT_UNITS
}

/// Typed right after an auto-inserted space, these replace the space ("tomorrow ." → "tomorrow.").
const SPACE_EATING_PUNCTUATION: &str = ".,!?;:";

/// An edit of the text before the cursor, to apply as one batch: delete `delete_utf16` UTF-16
/// code units before the cursor, then insert `insert` at the cursor.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldEdit {
    pub delete_utf16: u32,
    pub insert: String,
}

/// Where the keyboard's model is.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum KeyboardModelStatus {
    /// Being loaded on the worker (keys work; the strip is empty).
    Loading,
    Ready,
    /// `message` is short enough for the strip and says what to do; `detail` is the library's
    /// full error (a path, never user text).
    Failed {
        message: String,
        detail: String,
    },
}

/// What the keyboard shows.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KeyboardCoreState {
    /// Increases with every state reported: a state with a lower version than one already
    /// shown is older (it was reported from the worker while an event was being handled).
    pub version: u64,
    /// Exactly three slots, `[second, best, third]` (LatinIME order); "" for an empty slot.
    pub strip: Vec<String>,
    pub model: KeyboardModelStatus,
    pub policy: KeyboardFieldPolicy,
    /// Shift should be on: the policy capitalizes and the cursor is at a sentence start.
    pub auto_shift: bool,
}

/// Receives what the controller decides.
#[uniffi::export(callback_interface)]
pub trait KeyboardCoreObserver: Send + Sync {
    /// Apply `edit` to the field now, as one batch. Called synchronously on the thread of the
    /// event that caused it (`typeText`, `tap`, `backspace`), before that call returns.
    fn on_edit(&self, edit: FieldEdit);
    /// The state changed. Called on the event's thread or on the controller's worker: hop to the
    /// UI thread and draw it unless a state with a higher `version` was drawn already.
    fn on_state(&self, state: KeyboardCoreState);
}

/// The controller's view of the predictor (the real one, or in tests the real one wrapped to
/// record its calls).
pub(crate) trait Engine: Send + Sync {
    fn suggest(&self, text_before_cursor: &str) -> Vec<String>;
    fn accept(&self, text_before_cursor: &str, word: &str) -> (usize, String);
    fn reset(&self);
    fn release_memory(&self);
}

impl Engine for KeyboardPredictor {
    fn suggest(&self, text: &str) -> Vec<String> {
        // A failed call shows no words; the next keystroke tries again.
        KeyboardPredictor::suggest(self, text.to_string())
            .map(|s| s.into_iter().map(|s| s.word).collect())
            .unwrap_or_default()
    }
    fn accept(&self, text: &str, word: &str) -> (usize, String) {
        match KeyboardPredictor::accept(self, text.to_string(), word.to_string()) {
            Ok(e) => (usize::try_from(e.delete_chars).unwrap_or(0), e.insert),
            Err(_) => (0, format!("{word} ")),
        }
    }
    fn reset(&self) {
        let _ = KeyboardPredictor::reset(self);
    }
    fn release_memory(&self) {
        let _ = KeyboardPredictor::release_memory(self);
    }
}

pub(crate) type Opener = Arc<dyn Fn(&str) -> Result<Arc<dyn Engine>, PocketLmError> + Send + Sync>;

/// One suggestion request: the field it was made in, the text before the cursor it is for and
/// the predictor it must be computed by.
struct Request {
    field_id: u64,
    text: String,
    engine: Arc<dyn Engine>,
}

struct St {
    version: u64,
    field_id: u64,
    policy: KeyboardFieldPolicy,
    strip: Vec<String>,
    model: KeyboardModelStatus,
    engine: Option<Arc<dyn Engine>>,
    /// The last edit was a strip tap whose insert ended with a space.
    auto_space: bool,
    /// The text before the cursor (at most [`CONTEXT`] units) as the last event left it.
    known: String,
    /// The request waiting for the worker (conflation: a newer one replaces it).
    pending: Option<Request>,
    language: pocketlm::Language,
    opener: Option<Opener>,
    /// Bumped by every load: the result of an older load is dropped, never used.
    load_generation: u64,
    closed: bool,
}

struct Inner {
    st: Mutex<St>,
    /// Jobs queued or running on either executor.
    jobs: PendingJobs,
    observer: Box<dyn KeyboardCoreObserver>,
    worker: Box<dyn Executor>,
    deliver: Box<dyn Executor>,
}

fn empty_strip() -> Vec<String> {
    vec![String::new(); 3]
}

/// Slots `[second, best, third]` from words best first; missing words are "".
pub(crate) fn arrange(best_first: &[String]) -> Vec<String> {
    let at = |i: usize| best_first.get(i).cloned().unwrap_or_default();
    vec![at(1), at(0), at(2)]
}

fn auto_shift(policy: KeyboardFieldPolicy, text: &str) -> bool {
    if !policy.auto_capitalize {
        return false;
    }
    let Some(last) = text.chars().last() else {
        return true;
    };
    if !last.is_whitespace() {
        return false;
    }
    let trimmed = text.trim_end();
    trimmed.is_empty() || trimmed.ends_with(['.', '!', '?']) || text.ends_with('\n')
}

/// The state of a failed load, for the strip.
fn failed(e: &PocketLmError) -> KeyboardModelStatus {
    KeyboardModelStatus::Failed {
        message: failed_message(e).into(),
        detail: e.to_string(),
    }
}

/// The predictor options of the keyboard: the low-memory profile (an input method runs beside
/// the foreground app), for `language`.
fn keyboard_options(language: &str) -> KeyboardOptions {
    KeyboardOptions {
        max_suggestions: 3,
        corrections: true,
        blocklist: Vec::new(),
        allow_offensive: false,
        threads: 0,
        profile: Some(KeyboardProfile::LowMemory),
        learn_user_words: true,
        language: language.into(),
    }
}

/// Opens predictors on the model at `path`, loaded once and again when the file was replaced
/// (size or modification time changed) since; with `state_dir`, each predictor keeps its
/// framing prefix's warm-up there (docs/state.md: loaded when valid, else evaluated and saved);
/// with `layout_cache`, the model runs from its interleaved copy there (`Model.loadWithLayoutCache`).
fn path_opener(path: String, state_dir: Option<String>, layout_cache: Option<String>) -> Opener {
    type Stamp = (u64, Option<SystemTime>);
    let loaded: Mutex<Option<(Stamp, Arc<Model>)>> = Mutex::new(None);
    Arc::new(move |language: &str| {
        let stamp = std::fs::metadata(&path)
            .map(|m| (m.len(), m.modified().ok()))
            .unwrap_or((0, None));
        let mut slot = lock(&loaded);
        let model = match slot.as_ref() {
            Some((s, m)) if *s == stamp => m.clone(),
            _ => {
                let m = Model::open(path.clone(), layout_cache.as_deref())?;
                *slot = Some((stamp, m.clone()));
                m
            }
        };
        drop(slot);
        let options = keyboard_options(language);
        let p = match &state_dir {
            Some(dir) => KeyboardPredictor::with_state_dir(model, options, dir.clone())?,
            None => KeyboardPredictor::new(model, options)?,
        };
        Ok(p as Arc<dyn Engine>)
    })
}

impl Inner {
    fn new(
        observer: Box<dyn KeyboardCoreObserver>,
        worker: Box<dyn Executor>,
        deliver: Box<dyn Executor>,
    ) -> Arc<Self> {
        Arc::new(Inner {
            st: Mutex::new(St {
                version: 0,
                field_id: 0,
                policy: KeyboardFieldPolicy::ON,
                strip: empty_strip(),
                model: KeyboardModelStatus::Loading,
                engine: None,
                auto_space: false,
                known: String::new(),
                pending: None,
                language: pocketlm::Language::En,
                opener: None,
                load_generation: 0,
                closed: false,
            }),
            jobs: PendingJobs::default(),
            observer,
            worker,
            deliver,
        })
    }

    /// `job` counted as busy until it has run; a panic in it is contained.
    fn wrap(self: &Arc<Self>, job: impl FnOnce(&Arc<Inner>) + Send + 'static) -> Job {
        let me = self.clone();
        Box::new(move || {
            let _ = catch_unwind(AssertUnwindSafe(|| job(&me)));
            me.jobs.done();
        })
    }

    /// Queues `job` on the worker (which never runs it on the calling thread: the lock may be
    /// held).
    fn on_worker(self: &Arc<Self>, job: impl FnOnce(&Arc<Inner>) + Send + 'static) {
        self.jobs.add();
        self.worker.execute(self.wrap(job));
    }

    /// Hands `job` to the delivery executor (may run it at once: never with the lock held).
    fn on_deliver(self: &Arc<Self>, job: impl FnOnce(&Arc<Inner>) + Send + 'static) {
        self.jobs.add();
        self.deliver.execute(self.wrap(job));
    }

    fn snapshot(st: &mut St) -> KeyboardCoreState {
        st.version += 1;
        KeyboardCoreState {
            version: st.version,
            strip: st.strip.clone(),
            model: st.model.clone(),
            policy: st.policy,
            auto_shift: auto_shift(st.policy, &st.known),
        }
    }

    /// Calls the observer (never with the lock held: it may call back); a panic or foreign
    /// exception in it is contained.
    fn report(&self, edit: Option<FieldEdit>, state: Option<KeyboardCoreState>) {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            if let Some(e) = edit {
                self.observer.on_edit(e);
            }
            if let Some(s) = state {
                self.observer.on_state(s);
            }
        }));
    }

    /// Queues a request for the current text (when the policy allows it and a predictor is
    /// ready). Called with the lock held.
    fn request(self: &Arc<Self>, st: &mut St) {
        let Some(engine) = st.engine.clone() else {
            return;
        };
        if !st.policy.suggestions || st.closed {
            return;
        }
        let req = Request {
            field_id: st.field_id,
            text: st.known.clone(),
            engine,
        };
        // A task is already queued for the request this one replaces: it will take this one.
        if st.pending.replace(req).is_none() {
            self.on_worker(|me| me.run_pending());
        }
    }

    /// On the worker: the latest request, if any.
    fn run_pending(self: &Arc<Self>) {
        let Some(req) = lock(&self.st).pending.take() else {
            return;
        };
        let words = req.engine.suggest(&req.text);
        self.on_deliver(move |me| me.deliver_words(req, words));
    }

    /// Shows `words` if the field still has the text they were computed for (same field, same
    /// predictor, suggestions still on).
    fn deliver_words(&self, req: Request, words: Vec<String>) {
        let mut st = lock(&self.st);
        let current = st
            .engine
            .as_ref()
            .is_some_and(|e| Arc::ptr_eq(e, &req.engine));
        if req.field_id != st.field_id || !st.policy.suggestions || !current || st.known != req.text
        {
            return;
        }
        st.strip = arrange(&words);
        let s = Self::snapshot(&mut st);
        drop(st);
        self.report(None, Some(s));
    }

    /// After an edit the controller made: the text it leaves, a state, a request.
    fn own_edit(self: &Arc<Self>, mut st: std::sync::MutexGuard<'_, St>, edit: FieldEdit) {
        let kept = drop_last_utf16(&st.known, edit.delete_utf16 as usize).to_string();
        st.known = tail_utf16(&(kept + &edit.insert), CONTEXT).to_string();
        let s = Self::snapshot(&mut st);
        self.request(&mut st);
        drop(st);
        let edit = (edit.delete_utf16 > 0 || !edit.insert.is_empty()).then_some(edit);
        self.report(edit, Some(s));
    }

    fn load(self: &Arc<Self>, mut st: std::sync::MutexGuard<'_, St>, open: Opener) {
        st.load_generation += 1;
        let generation = st.load_generation;
        let old = st.engine.take();
        let language = st.language.as_str();
        st.model = KeyboardModelStatus::Loading;
        st.strip = empty_strip();
        st.pending = None;
        let s = Self::snapshot(&mut st);
        self.on_worker(move |me| {
            drop(old); // the previous language's predictor is closed on the worker
            let result = open(language);
            me.on_deliver(move |me| {
                let mut st = lock(&me.st);
                if generation != st.load_generation {
                    return; // a newer load started meanwhile: this predictor is dropped
                }
                match result {
                    Ok(e) => {
                        st.engine = Some(e);
                        st.model = KeyboardModelStatus::Ready;
                    }
                    Err(e) => st.model = failed(&e),
                }
                let s = Self::snapshot(&mut st);
                me.request(&mut st);
                drop(st);
                me.report(None, Some(s));
            });
        });
        drop(st);
        self.report(None, Some(s));
    }
}

/// The keyboard controller (docs/samples.md, "Keyboard controller"). Every event method is
/// meant for the UI thread and returns at once; the model runs on the controller's own worker
/// thread, one request at a time, a newer request replacing a waiting one, stale results
/// dropped. Offsets are UTF-16 code units.
#[derive(uniffi::Object)]
pub struct KeyboardCore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KeyboardCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyboardCore").finish_non_exhaustive()
    }
}

impl Drop for KeyboardCore {
    fn drop(&mut self) {
        let mut st = lock(&self.inner.st);
        st.closed = true;
        st.pending = None;
        st.engine = None;
        st.opener = None;
        // Queued jobs hold the controller's state: the worker thread ends once it has run them
        // and the last reference (with the channel's sender) is gone.
    }
}

impl KeyboardCore {
    /// A controller on the given executors (the tests drive both by hand).
    pub(crate) fn with_executors(
        observer: Box<dyn KeyboardCoreObserver>,
        worker: Box<dyn Executor>,
        deliver: Box<dyn Executor>,
    ) -> Self {
        KeyboardCore {
            inner: Inner::new(observer, worker, deliver),
        }
    }

    /// Loads predictors with `open` (on the worker) for the current language.
    pub(crate) fn load_with(&self, open: Opener) {
        let mut st = lock(&self.inner.st);
        st.opener = Some(open.clone());
        self.inner.load(st, open);
    }
}

#[uniffi::export]
impl KeyboardCore {
    /// A controller with its own worker thread, no model yet (`loadModel`) and an empty plain
    /// text field.
    #[uniffi::constructor]
    pub fn new(observer: Box<dyn KeyboardCoreObserver>) -> Result<Arc<Self>, PocketLmError> {
        guard("KeyboardCore.new", || {
            let worker = WorkerThread::start("pocketlm-keyboard")?;
            Ok(Arc::new(Self::with_executors(
                observer,
                Box::new(worker),
                Box::new(Inline),
            )))
        })
    }

    /// Loads the model at `path` and a low-memory predictor for the current language, on the
    /// worker. Keys work meanwhile; suggestions start when it is ready (one request is made
    /// then); a failure shows in the state. Call it again to retry (a model installed since).
    pub fn load_model(&self, path: String) {
        let _ = guard("KeyboardCore.loadModel", || {
            self.load_with(path_opener(path, None, None));
            Ok(())
        });
    }

    /// [`Self::load_model`] with a warm start: the predictor keeps its framing prefix's
    /// warm-up in the directory `state_dir` (created when missing; the Android IME's files
    /// dir, the iOS extension's App Group container), so a keyboard started again shows its
    /// first suggestions sooner. The suggestions are the same; a missing, stale or corrupted
    /// file, or a directory that cannot be written, only costs the warm start.
    pub fn load_model_with_state_dir(&self, path: String, state_dir: String) {
        let _ = guard("KeyboardCore.loadModelWithStateDir", || {
            self.load_with(path_opener(path, Some(state_dir), None));
            Ok(())
        });
    }

    /// [`Self::load_model`] with either directory or both: `state_dir` as in
    /// [`Self::load_model_with_state_dir`]; `layout_cache_dir` a layout cache
    /// (`Model.loadWithLayoutCache`: the first load writes a converted copy of the model
    /// there, later loads map it; faster decode, the same suggestions; a cache that cannot be
    /// used loads the original file).
    pub fn load_model_with_dirs(
        &self,
        path: String,
        state_dir: Option<String>,
        layout_cache_dir: Option<String>,
    ) {
        let _ = guard("KeyboardCore.loadModelWithDirs", || {
            self.load_with(path_opener(path, state_dir, layout_cache_dir));
            Ok(())
        });
    }

    /// The user picked another language (ISO 639-1: en, es, de, fr, pt, it; a region is
    /// ignored). A different language reopens the predictor on the worker (the strip is
    /// cleared; keys keep working; a result of the old predictor is dropped; of two changes
    /// before a load finishes only the last is used). Before `loadModel` it only sets the
    /// language the first load uses. Returns whether the language changed.
    pub fn set_language(&self, code: String) -> Result<bool, PocketLmError> {
        guard("KeyboardCore.setLanguage", || {
            let language = pocketlm::Language::parse(code.trim()).ok_or_else(|| {
                PocketLmError::InvalidArgument(format!(
                    "unknown keyboard language {code:?}: use en, es, de, fr, pt or it"
                ))
            })?;
            let mut st = lock(&self.inner.st);
            if language == st.language {
                return Ok(false);
            }
            st.language = language;
            if let Some(open) = st.opener.clone() {
                self.inner.load(st, open);
            }
            Ok(true)
        })
    }

    /// The language predictors are opened for (an ISO 639-1 code).
    pub fn language(&self) -> String {
        lock(&self.inner.st).language.as_str().to_string()
    }

    /// The keyboard moved to a new field with this raw Android `inputType` (iOS: the value of
    /// its text traits, docs/samples.md); `text` holds the text before the cursor up to UTF-16
    /// offset `cursor_utf16`. Resets the predictor's context and the controller's state.
    pub fn start_field(&self, input_type: u32, text: String, cursor_utf16: u32) {
        let _ = guard("KeyboardCore.startField", || {
            let inner = &self.inner;
            let mut st = lock(&inner.st);
            st.field_id += 1;
            st.policy = keyboard_field_policy(input_type);
            st.strip = empty_strip();
            st.auto_space = false;
            st.pending = None;
            st.known = tail_utf16(prefix_utf16(&text, cursor_utf16 as usize), CONTEXT).into();
            if let Some(e) = st.engine.clone() {
                inner.on_worker(move |_| e.reset());
            }
            let s = Inner::snapshot(&mut st);
            inner.request(&mut st);
            drop(st);
            inner.report(None, Some(s));
            Ok(())
        });
    }

    /// A key typed `text` (a letter, space, punctuation, a newline): reports the edit that
    /// inserts it (deleting first the space the last tap inserted, when `text` is one of
    /// `. , ! ? ; :` typed right after it).
    pub fn type_text(&self, text: String) {
        let _ = guard("KeyboardCore.typeText", || {
            let mut st = lock(&self.inner.st);
            let eat = st.auto_space
                && text.chars().count() == 1
                && SPACE_EATING_PUNCTUATION.contains(text.as_str())
                && st.known.ends_with(' ');
            st.auto_space = false;
            let edit = FieldEdit {
                delete_utf16: u32::from(eat),
                insert: text,
            };
            self.inner.own_edit(st, edit);
            Ok(())
        });
    }

    /// A tap on strip slot `slot` (0 left, 1 middle, 2 right): reports the edit that puts the
    /// word in place of the word being typed, plus one space. An empty slot does nothing.
    pub fn tap(&self, slot: u32) {
        let _ = guard("KeyboardCore.tap", || {
            let mut st = lock(&self.inner.st);
            let word = st.strip.get(slot as usize).cloned().unwrap_or_default();
            let Some(engine) = st.engine.clone() else {
                return Ok(());
            };
            if word.is_empty() {
                return Ok(());
            }
            let (scalars, insert) = engine.accept(&st.known, &word);
            st.auto_space = insert.ends_with(' ');
            let edit = FieldEdit {
                delete_utf16: u32::try_from(units_of_last_scalars(&st.known, scalars)).unwrap_or(0),
                insert,
            };
            self.inner.own_edit(st, edit);
            Ok(())
        });
    }

    /// `count` backspaces: reports the edit that removes that many user-perceived characters
    /// (grapheme clusters: "e\u{301}" and "👍🏽" are one each) before the cursor.
    pub fn backspace(&self, count: u32) {
        let _ = guard("KeyboardCore.backspace", || {
            let mut st = lock(&self.inner.st);
            st.auto_space = false;
            let units = units_of_last_graphemes(&st.known, count as usize);
            let edit = FieldEdit {
                delete_utf16: u32::try_from(units).unwrap_or(0),
                insert: String::new(),
            };
            self.inner.own_edit(st, edit);
            Ok(())
        });
    }

    /// The field's text or selection changed (Android `onUpdateSelection`, iOS
    /// `textDidChange`): `text` holds the text before the cursor up to UTF-16 offset
    /// `cursor_utf16` (the platform may pass just the last `KEYBOARD_CONTEXT_UNITS` units). The
    /// echo of the controller's own edit is ignored; a cursor move, a paste or an edit by the
    /// app ends the auto-space state and brings new suggestions.
    pub fn text_changed(&self, text: String, cursor_utf16: u32) {
        let _ = guard("KeyboardCore.textChanged", || {
            let now = tail_utf16(prefix_utf16(&text, cursor_utf16 as usize), CONTEXT);
            let mut st = lock(&self.inner.st);
            // Compared one unit short of the window: a platform's window may start inside a
            // surrogate pair the controller's own copy keeps whole or drops.
            if tail_utf16(now, CONTEXT - 1) == tail_utf16(&st.known, CONTEXT - 1) {
                return Ok(());
            }
            st.auto_space = false;
            st.known = now.to_string();
            let s = Inner::snapshot(&mut st);
            self.inner.request(&mut st);
            drop(st);
            self.inner.report(None, Some(s));
            Ok(())
        });
    }

    /// Memory pressure (Android `onTrimMemory`, iOS `didReceiveMemoryWarning`): the predictor
    /// frees its caches on the worker; suggestions keep working.
    pub fn release_memory(&self) {
        let engine = lock(&self.inner.st).engine.clone();
        if let Some(e) = engine {
            self.inner.on_worker(move |_| e.release_memory());
        }
    }

    /// The current state (a fresh version).
    pub fn state(&self) -> KeyboardCoreState {
        Inner::snapshot(&mut lock(&self.inner.st))
    }

    /// Blocks until no job is queued or running (no request, load or delivery left), at most
    /// `timeout_ms`; whether it is idle. For simulators and tests: never on a UI thread.
    pub fn wait_idle(&self, timeout_ms: u32) -> bool {
        self.inner.jobs.wait_idle(timeout_ms)
    }
}

#[cfg(test)]
mod tests;
