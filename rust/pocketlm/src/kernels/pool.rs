//! A small persistent thread pool for splitting matmuls across cores with low latency.
//!
//! Workers spin briefly on an atomic generation counter (jobs come ~10 times per layer per
//! token, microseconds apart), then park on a condvar. `run` blocks until every thread has
//! finished the job, so the job may borrow from the caller's stack.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a waiting thread spins before it parks.
const SPIN_TIME: Duration = Duration::from_micros(100);

/// Spins until `ready()` or until [`SPIN_TIME`] has passed; returns `ready()`'s last value.
/// With `yield_cpu` (a pool with more threads than cores) it yields between checks so the
/// threads it waits for can run; otherwise it keeps the core (yielding to other processes
/// costs a scheduler time slice, ~100x the job latency).
#[inline]
fn spin_until(yield_cpu: bool, ready: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if yield_cpu {
            std::thread::yield_now();
        }
        if start.elapsed() > SPIN_TIME {
            return ready();
        }
    }
}

type Job<'a> = dyn Fn(usize, usize) + Sync + 'a;

struct Shared {
    n_threads: usize,
    /// More threads than the machine has cores: yield while spinning.
    oversubscribed: bool,
    /// Incremented (under `lock`) to publish a new job, or to announce shutdown.
    generation: AtomicUsize,
    /// Workers that have not finished the current job yet.
    remaining: AtomicUsize,
    shutdown: AtomicBool,
    worker_panicked: AtomicBool,
    /// Workers parked on `wake` (or about to be).
    sleepers: AtomicUsize,
    /// The caller is parked on `done` (or about to be).
    caller_sleeping: AtomicBool,
    /// The current job: a lifetime-erased pointer, valid while `remaining > 0`.
    job: UnsafeCell<Option<*const Job<'static>>>,
    lock: Mutex<()>,
    wake: Condvar,
    done: Condvar,
}

// SAFETY: `job` is written only by the thread inside `run` (serialized by `run_lock`) while no
// worker reads it (all workers finished the previous generation: `remaining == 0`), and read by
// workers only after observing the new generation with Acquire ordering, which happens-after the
// write (Release increment). The pointee is `Sync`. All other fields are Sync primitives.
unsafe impl Sync for Shared {}
// SAFETY: see above; the raw pointer is only dereferenced under that protocol.
unsafe impl Send for Shared {}

/// A fixed set of worker threads; `run` executes a closure on all of them plus the caller.
pub struct ThreadPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Serializes concurrent `run` calls from different threads.
    run_lock: Mutex<()>,
}

impl ThreadPool {
    /// Creates a pool of `n_threads` threads in total (the caller of `run` counts as thread 0,
    /// so `n_threads - 1` workers are spawned). `0` is treated as `1`.
    pub fn new(n_threads: usize) -> Self {
        let n_threads = n_threads.max(1);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let shared = Arc::new(Shared {
            n_threads,
            oversubscribed: n_threads > cores,
            generation: AtomicUsize::new(0),
            remaining: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            worker_panicked: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            caller_sleeping: AtomicBool::new(false),
            job: UnsafeCell::new(None),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            done: Condvar::new(),
        });
        let workers = (1..n_threads)
            .map(|idx| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("pocketlm-worker-{idx}"))
                    .spawn(move || worker_loop(&shared, idx))
                    .expect("failed to spawn a pocketlm worker thread")
            })
            .collect();
        Self {
            shared,
            workers,
            run_lock: Mutex::new(()),
        }
    }

    /// Total threads, the caller included.
    pub fn n_threads(&self) -> usize {
        self.shared.n_threads
    }

    /// Runs `f(thread_index, n_threads)` on every thread (the calling thread is index 0) and
    /// returns when all have finished. If `f` panics on any thread, the panic is propagated to
    /// the caller after all threads are done (the pool stays usable).
    pub fn run<F: Fn(usize, usize) + Sync>(&self, f: F) {
        let n = self.shared.n_threads;
        if n == 1 {
            f(0, 1);
            return;
        }
        let _guard = self.run_lock.lock().unwrap_or_else(|e| e.into_inner());
        let sh = &*self.shared;
        let job: &Job<'_> = &f;
        // SAFETY: erases the borrow's lifetime. The pointer is published to workers below and
        // cleared before this function returns; we wait (even when `f` panics on this thread)
        // until every worker has finished calling it, so it is never used after `f` dies.
        let job: *const Job<'static> = unsafe { std::mem::transmute(job as *const Job<'_>) };
        // SAFETY: no worker reads `job` now: the previous generation is complete
        // (`remaining == 0`, observed with Acquire at the end of the previous `run`) and workers
        // read it only after seeing a new generation.
        unsafe { *sh.job.get() = Some(job) };
        sh.remaining.store(n - 1, Ordering::Relaxed);
        sh.generation.fetch_add(1, Ordering::SeqCst);
        if sh.sleepers.load(Ordering::SeqCst) > 0 {
            let _l = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.wake.notify_all();
        }

        let mine = catch_unwind(AssertUnwindSafe(|| f(0, n)));

        // Wait for the workers: spin, then park.
        if !spin_until(sh.oversubscribed, || {
            sh.remaining.load(Ordering::Acquire) == 0
        }) {
            let mut l = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.caller_sleeping.store(true, Ordering::SeqCst);
            while sh.remaining.load(Ordering::SeqCst) != 0 {
                l = sh.done.wait(l).unwrap_or_else(|e| e.into_inner());
            }
            sh.caller_sleeping.store(false, Ordering::SeqCst);
            drop(l);
            // Pairs with the workers' Release decrements.
            sh.remaining.load(Ordering::Acquire);
        }
        // SAFETY: all workers are done with the job (remaining == 0, Acquire above).
        unsafe { *sh.job.get() = None };

        if let Err(p) = mine {
            sh.worker_panicked.store(false, Ordering::Relaxed);
            resume_unwind(p);
        }
        if sh.worker_panicked.swap(false, Ordering::Relaxed) {
            panic!("a pocketlm ThreadPool worker panicked while running a job");
        }
    }
}

fn worker_loop(sh: &Shared, idx: usize) {
    let mut seen = 0usize;
    loop {
        // Wait for a new generation: spin, then park.
        if !spin_until(sh.oversubscribed, || {
            sh.generation.load(Ordering::Acquire) != seen
        }) {
            let mut l = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.sleepers.fetch_add(1, Ordering::SeqCst);
            while sh.generation.load(Ordering::SeqCst) == seen {
                l = sh.wake.wait(l).unwrap_or_else(|e| e.into_inner());
            }
            sh.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
        seen = sh.generation.load(Ordering::Acquire);
        if sh.shutdown.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: the new generation was observed with Acquire, so the job pointer written
        // before the Release/SeqCst increment is visible; `run` keeps the closure alive and
        // does not touch `job` until `remaining` drops to 0, which happens only below.
        let job = unsafe { *sh.job.get() };
        if let Some(job) = job {
            // SAFETY: the pointee outlives this call (see above).
            let job = unsafe { &*job };
            if catch_unwind(AssertUnwindSafe(|| job(idx, sh.n_threads))).is_err() {
                sh.worker_panicked.store(true, Ordering::Relaxed);
            }
        }
        if sh.remaining.fetch_sub(1, Ordering::SeqCst) == 1
            && sh.caller_sleeping.load(Ordering::SeqCst)
        {
            let _l = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.done.notify_all();
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        let sh = &*self.shared;
        sh.shutdown.store(true, Ordering::Release);
        {
            let _l = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.generation.fetch_add(1, Ordering::SeqCst);
            sh.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("n_threads", &self.shared.n_threads)
            .finish()
    }
}
