//! Streaming generation as a cancellable task: each generation runs on its own thread, sends
//! text to a foreign listener, and is observed through a [`GenerationTask`] handle.

use crate::error::{guard, lock, panic_message, PocketLmError};
use crate::structured::ConstraintOutcome;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StopReason {
    /// The model ended its answer (end-of-sequence or end-of-turn token).
    EndOfGeneration,
    /// `max_tokens` were generated.
    MaxTokens,
    /// One of the stop strings appeared (it is not part of the text).
    StopString,
    /// `cancel()` was called, the task handle was dropped, or the listener returned `false`.
    Cancelled,
    /// The session's context is full.
    ContextFull,
}

impl From<pocketlm::StopReason> for StopReason {
    fn from(r: pocketlm::StopReason) -> Self {
        match r {
            pocketlm::StopReason::EndOfGeneration => StopReason::EndOfGeneration,
            pocketlm::StopReason::MaxTokens => StopReason::MaxTokens,
            pocketlm::StopReason::StopString => StopReason::StopString,
            pocketlm::StopReason::Cancelled => StopReason::Cancelled,
            pocketlm::StopReason::ContextFull => StopReason::ContextFull,
        }
    }
}

/// The outcome of one generation.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct GenerationResult {
    /// The generated text: exactly the concatenation of the pieces the listener accepted.
    pub text: String,
    pub stop_reason: StopReason,
    /// Tokens of the prompt (for a chat: the whole rendered conversation).
    pub prompt_tokens: i32,
    /// Tokens generated.
    pub generated_tokens: i32,
    /// Text pieces the model still produced after `cancel()` was called (they are not
    /// delivered). The model checks for cancellation between tokens, so this is 0 or 1.
    pub tokens_after_cancel: i32,
    /// For a generation with `GenerationOptions.constraint`: whether the output is complete and
    /// valid (`null`/`nil` without a constraint).
    #[uniffi(default = None)]
    pub constraint: Option<ConstraintOutcome>,
}

/// Receives generated text, on the generation's own thread, in order.
#[uniffi::export(callback_interface)]
pub trait TextListener: Send + Sync {
    /// A new piece of text (one token or a few; never splits a character). Return `true` once
    /// the piece is taken; `false` refuses it (it is then not part of the result's text) and
    /// stops generating (the result's stop reason is then `Cancelled`).
    fn on_text(&self, delta: String) -> bool;
}

type Outcome = Result<GenerationResult, PocketLmError>;

#[derive(Default)]
struct State {
    outcome: Option<Outcome>,
    wakers: Vec<Waker>,
}

/// What the generation thread and the handle share.
#[derive(Default)]
pub(crate) struct TaskShared {
    cancel: AtomicBool,
    after_cancel: AtomicI32,
    state: Mutex<State>,
    done: Condvar,
}

impl TaskShared {
    fn finish(&self, outcome: Outcome) {
        let mut st = lock(&self.state);
        st.outcome = Some(outcome);
        for w in st.wakers.drain(..) {
            w.wake();
        }
        self.done.notify_all();
    }

    pub(crate) fn is_finished(&self) -> bool {
        lock(&self.state).outcome.is_some()
    }

    pub(crate) fn join(&self) -> Outcome {
        let mut st = lock(&self.state);
        loop {
            if let Some(o) = &st.outcome {
                return o.clone();
            }
            st = self.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    pub(crate) fn wait_async(self: &Arc<Self>) -> OutcomeFuture {
        OutcomeFuture {
            shared: self.clone(),
        }
    }
}

/// Resolves when the task finishes (no thread is blocked while waiting).
pub(crate) struct OutcomeFuture {
    shared: Arc<TaskShared>,
}

impl Future for OutcomeFuture {
    type Output = Outcome;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut st = lock(&self.shared.state);
        if let Some(o) = &st.outcome {
            return Poll::Ready(o.clone());
        }
        if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            st.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// What the generation closure gets: the cancel flag for the core, and the text callback.
pub(crate) struct Stream<'a> {
    pub cancel: &'a AtomicBool,
    pub on_text: &'a mut dyn FnMut(&str) -> bool,
}

/// A generation running on its own thread. `cancel()` stops it between two tokens; dropping
/// (closing) the handle cancels it too. `join()` blocks until it ends, `result()` suspends.
#[derive(uniffi::Object)]
pub struct GenerationTask {
    shared: Arc<TaskShared>,
}

impl std::fmt::Debug for GenerationTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerationTask")
            .field("cancelled", &self.is_cancelled())
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl Drop for GenerationTask {
    fn drop(&mut self) {
        self.shared.cancel.store(true, Ordering::SeqCst);
    }
}

#[uniffi::export]
impl GenerationTask {
    /// Asks the generation to stop; it stops before the next token (at most one more token is
    /// computed and it is not delivered). Safe to call from any thread, any number of times.
    pub fn cancel(&self) {
        self.shared.cancel.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.shared.cancel.load(Ordering::SeqCst)
    }

    /// Whether the generation has ended (its session is free again).
    pub fn is_finished(&self) -> bool {
        self.shared.is_finished()
    }

    /// Blocks until the generation ends and returns its result (also after `cancel()`).
    pub fn join(&self) -> Result<GenerationResult, PocketLmError> {
        self.shared.join()
    }

    /// Suspends until the generation ends and returns its result (also after `cancel()`).
    pub async fn result(&self) -> Result<GenerationResult, PocketLmError> {
        self.shared.wait_async().await
    }
}

/// A cancel flag for a blocking call (`ReplyDrafter.draft`): create one, pass it to the
/// call, and `cancel()` it from any thread; the call then fails with
/// `PocketLmError.Cancelled` at its next check. One token cancels every call it is passed to;
/// it cannot be reset.
#[derive(Debug, Default, uniffi::Object)]
pub struct CancelToken {
    flag: AtomicBool,
}

impl CancelToken {
    pub(crate) fn flag(&self) -> &AtomicBool {
        &self.flag
    }
}

#[uniffi::export]
impl CancelToken {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Cancels the calls this token was or will be passed to. Safe from any thread, any
    /// number of times.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// Spawns `work` on a new thread and returns its handle. `work` gets the cancel flag and a
/// text callback that forwards to `listener` until cancellation; its result's `text` is
/// replaced by the text the listener accepted, and panics become [`PocketLmError::Internal`].
pub(crate) fn spawn<F>(
    what: &'static str,
    listener: Box<dyn TextListener>,
    work: F,
) -> Result<(Arc<GenerationTask>, Arc<TaskShared>), PocketLmError>
where
    F: FnOnce(Stream<'_>) -> Result<GenerationResult, PocketLmError> + Send + 'static,
{
    let shared = Arc::new(TaskShared::default());
    let thread_shared = shared.clone();
    std::thread::Builder::new()
        .name("pocketlm-generate".into())
        .spawn(move || {
            let sh = &*thread_shared;
            let mut delivered = String::new();
            let mut listener_error: Option<String> = None;
            let outcome = guard(what, || {
                let mut on_text = |delta: &str| -> bool {
                    if sh.cancel.load(Ordering::SeqCst) {
                        sh.after_cancel.fetch_add(1, Ordering::SeqCst);
                        return false;
                    }
                    // A listener that throws (Kotlin) surfaces here as a panic: stop and report it.
                    match catch_unwind(AssertUnwindSafe(|| listener.on_text(delta.to_owned()))) {
                        // `false` refuses the delta (a Flow or stream whose consumer has gone
                        // never receives it), so the result's text holds only accepted deltas
                        // and always equals what the listener took.
                        Ok(true) => {
                            delivered.push_str(delta);
                            !sh.cancel.load(Ordering::SeqCst)
                        }
                        Ok(false) => false,
                        Err(payload) => {
                            listener_error = Some(panic_message(&*payload));
                            false
                        }
                    }
                };
                let r = work(Stream {
                    cancel: &sh.cancel,
                    on_text: &mut on_text,
                });
                match listener_error.take() {
                    Some(e) => Err(PocketLmError::Internal(format!(
                        "the TextListener failed, so the generation was stopped: {e}"
                    ))),
                    None => r,
                }
            });
            let outcome = outcome.map(|mut r| {
                r.text = std::mem::take(&mut delivered);
                r.tokens_after_cancel = sh.after_cancel.load(Ordering::SeqCst);
                r
            });
            sh.finish(outcome);
        })
        .map_err(|e| PocketLmError::Internal(format!("cannot start a generation thread: {e}")))?;
    Ok((
        Arc::new(GenerationTask {
            shared: shared.clone(),
        }),
        shared,
    ))
}

/// The most recent task of a session, for `lastResult()`.
#[derive(Default)]
pub(crate) struct LastTask(Mutex<Option<Arc<TaskShared>>>);

impl LastTask {
    pub(crate) fn set(&self, t: Arc<TaskShared>) {
        *lock(&self.0) = Some(t);
    }

    pub(crate) async fn result(&self) -> Option<Outcome> {
        let t = lock(&self.0).clone()?;
        Some(t.wait_async().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Collect(Arc<Mutex<Vec<String>>>, Arc<AtomicUsize>);
    impl TextListener for Collect {
        fn on_text(&self, delta: String) -> bool {
            lock(&self.0).push(delta);
            self.1.fetch_add(1, Ordering::SeqCst);
            true
        }
    }

    fn result(text: &str, reason: StopReason) -> GenerationResult {
        GenerationResult {
            text: text.into(),
            stop_reason: reason,
            prompt_tokens: 1,
            generated_tokens: 0,
            tokens_after_cancel: 0,
            constraint: None,
        }
    }

    /// A fake generation: emits "t0", "t1", ... until cancelled or 10_000 pieces.
    fn counting(s: Stream<'_>) -> Result<GenerationResult, PocketLmError> {
        for i in 0..10_000 {
            if s.cancel.load(Ordering::SeqCst) {
                return Ok(result("", StopReason::Cancelled));
            }
            if !(s.on_text)(&format!("t{i}")) {
                return Ok(result("", StopReason::Cancelled));
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(result("", StopReason::MaxTokens))
    }

    #[test]
    fn cancel_stops_and_text_is_what_was_delivered() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let n = Arc::new(AtomicUsize::new(0));
        let (task, _) =
            spawn("test", Box::new(Collect(seen.clone(), n.clone())), counting).unwrap();
        while n.load(Ordering::SeqCst) < 3 {
            std::thread::yield_now();
        }
        task.cancel();
        let r = task.join().unwrap();
        assert_eq!(r.stop_reason, StopReason::Cancelled);
        assert!(r.tokens_after_cancel <= 1, "{r:?}");
        assert_eq!(r.text, lock(&seen).concat());
        assert!(task.is_finished());
        // join again: same result
        assert_eq!(task.join().unwrap(), r);
    }

    #[test]
    fn dropping_the_handle_cancels() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let n = Arc::new(AtomicUsize::new(0));
        let (task, shared) = spawn("test", Box::new(Collect(seen, n.clone())), counting).unwrap();
        while n.load(Ordering::SeqCst) < 1 {
            std::thread::yield_now();
        }
        drop(task);
        let r = shared.join().unwrap();
        assert_eq!(r.stop_reason, StopReason::Cancelled);
    }

    /// Takes `keep` pieces, then refuses the next one (a consumer that has gone away).
    struct TakeThenRefuse(Arc<Mutex<Vec<String>>>, usize);
    impl TextListener for TakeThenRefuse {
        fn on_text(&self, delta: String) -> bool {
            let mut seen = lock(&self.0);
            if seen.len() == self.1 {
                return false;
            }
            seen.push(delta);
            true
        }
    }

    #[test]
    fn a_refused_piece_is_not_part_of_the_text() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (task, _) = spawn("test", Box::new(TakeThenRefuse(seen.clone(), 3)), counting).unwrap();
        let r = task.join().unwrap();
        assert_eq!(r.stop_reason, StopReason::Cancelled);
        assert_eq!(r.text, "t0t1t2");
        assert_eq!(r.text, lock(&seen).concat());
    }

    struct Throwing;
    impl TextListener for Throwing {
        fn on_text(&self, _delta: String) -> bool {
            panic!("listener blew up")
        }
    }

    #[test]
    fn a_failing_listener_stops_the_generation_with_an_error() {
        let (task, _) = spawn("test", Box::new(Throwing), counting).unwrap();
        match task.join() {
            Err(PocketLmError::Internal(m)) => assert!(
                m.contains("TextListener") && m.contains("listener blew up"),
                "{m}"
            ),
            other => panic!("expected Internal, got {other:?}"),
        }
    }

    #[test]
    fn a_panic_in_the_work_becomes_an_error() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (task, _) = spawn(
            "test",
            Box::new(Collect(seen, Arc::new(AtomicUsize::new(0)))),
            |_| panic!("kaput"),
        )
        .unwrap();
        assert!(matches!(task.join(), Err(PocketLmError::Internal(m)) if m.contains("kaput")));
    }

    #[test]
    fn cancel_token_starts_clear_and_stays_cancelled() {
        let t = CancelToken::new();
        assert!(!t.is_cancelled() && !t.flag().load(Ordering::SeqCst));
        t.cancel();
        t.cancel();
        assert!(t.is_cancelled() && t.flag().load(Ordering::SeqCst));
    }
}
