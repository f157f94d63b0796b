//! What the sample controllers (`keyboard_core`, `reply_core`) share: where their jobs run (a
//! worker thread, or inline), the count of jobs not yet run with a wait for none (tests and the
//! simulator), and the short message a failed model load shows.

use crate::error::{lock, PocketLmError};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Where jobs run: the controller's worker thread, and where results are delivered (inline on
/// the worker in apps; a queue the test drains by hand in the tests).
pub(crate) trait Executor: Send + Sync {
    fn execute(&self, job: Job);
}

/// One background thread running jobs in order.
pub(crate) struct WorkerThread {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
}

impl WorkerThread {
    pub(crate) fn start(name: &str) -> Result<Self, PocketLmError> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .map_err(|e| {
                PocketLmError::Internal(format!("cannot start the {name} worker thread: {e}"))
            })?;
        Ok(Self {
            tx: Mutex::new(Some(tx)),
        })
    }
}

impl Executor for WorkerThread {
    fn execute(&self, job: Job) {
        if let Some(tx) = lock(&self.tx).as_ref() {
            let _ = tx.send(job);
        }
    }
}

/// Runs a job at once, on the calling thread.
pub(crate) struct Inline;

impl Executor for Inline {
    fn execute(&self, job: Job) {
        job()
    }
}

/// Jobs handed to a controller's executors and not yet finished.
#[derive(Default)]
pub(crate) struct PendingJobs {
    n: Mutex<usize>,
    idle: Condvar,
}

impl PendingJobs {
    /// A job was queued (call before handing it over, so a wait cannot miss it).
    pub(crate) fn add(&self) {
        *lock(&self.n) += 1;
    }

    /// A job has run (also when it panicked).
    pub(crate) fn done(&self) {
        let mut n = lock(&self.n);
        *n -= 1;
        if *n == 0 {
            self.idle.notify_all();
        }
    }

    /// Blocks until no job is pending, at most `timeout_ms`; whether none is.
    pub(crate) fn wait_idle(&self, timeout_ms: u32) -> bool {
        let deadline = Instant::now() + Duration::from_millis(u64::from(timeout_ms));
        let mut n = lock(&self.n);
        while *n > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            n = self
                .idle
                .wait_timeout(n, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// The short message a failed model load shows (the keyboard's strip, the reply screen).
pub(crate) fn failed_message(e: &PocketLmError) -> &'static str {
    match e {
        PocketLmError::ModelNotFound(_) => "No model: open PocketLM settings",
        PocketLmError::InvalidModel(_) => "Model file unusable: pick another",
        PocketLmError::ModelFileChanged(_) => "Model was replaced: reopen to reload it",
        _ => "Model failed to load",
    }
}
