//! A small persistent thread pool for splitting matmuls across cores with low latency.
//!
//! Workers spin briefly on an atomic generation counter (jobs come ~10 times per layer per
//! token, microseconds apart), then park on a condvar. `run` blocks until every thread has
//! finished the job, so the job may borrow from the caller's stack.
//!
//! [`ThreadPool::run_joinable`] is for jobs whose threads claim work dynamically: a worker must
//! *enter* the job before the caller, having finished its own share, *closes* it; the caller
//! then waits only for the workers inside. A worker that was descheduled (other processes busy
//! on a small machine) no longer stalls every matmul: the caller does the work and moves on.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `Shared::ticket`: the job accepts no more workers.
const CLOSED: u64 = 1 << 31;
/// `Shared::ticket` marks the jobs of `run` (every worker runs them) with this bit.
const ALL: u64 = 1 << 30;
/// `Shared::ticket`: workers inside the job.
const INSIDE: u64 = ALL - 1;

/// How the pool's threads wait: the policy in one place (mechanism below).
///
/// A worker waiting for the next job, and the caller waiting for the workers inside a job, spin
/// for `spin` and then park on a condvar. Jobs of one forward pass come microseconds apart
/// (~10 per layer per token), so with a 100 µs budget the workers stay awake through a pass and
/// park between tokens and keystrokes; parking per job instead costs a futex wake-up
/// (tens of µs) on every matmul. `ThreadPool(2).run` of an empty job takes ~1 µs when spinning
/// (`cargo test --release -p pocketlm --test kernels bench_pool_latency -- --ignored`).
///
/// Under contention (another process busy on the cores) the budget does not decide much: a
/// worker that is not running is never waited for ([`ThreadPool::run_joinable`]: the caller
/// takes its chunks), and one descheduled *inside* a chunk is waited for until it runs again,
/// spinning or parked (`pocketlm bench --contend 1`, `pocketlm eval-keyboard --contend 1`,
/// docs/performance.md#under-cpu-contention).
///
/// Stalls: when the caller of a joinable job waits for a worker inside it longer than
/// `stall` and longer than its own share took, that worker was descheduled mid-chunk (idle,
/// the wait is microseconds). After `stalls_to_go_solo` such jobs in a row the caller runs the
/// next joinable jobs alone (any subset of threads completes them, with the same results), for
/// `solo_jobs` jobs, doubling up to `solo_jobs_max` while stalls come back; the period shrinks
/// back only after `calm_jobs_to_forget` joinable jobs without a stall. Measured
/// on 2 vCPUs with one busy thread beside a 2-thread run (`pocketlm bench --pp 16 --tg 128
/// --minimal --contend 1`, SmolLM2): decode 87–100 tok/s without it, 106–113 with it (a single
/// thread under the same load: 122–134); idle 2-thread decode 238–246 either way. A 20 µs
/// threshold cost idle decode (181), 0 µs even more (150); see docs/performance.md.
#[derive(Debug, Clone, Copy)]
struct WaitPolicy {
    /// How long a waiting thread spins before it parks.
    spin: Duration,
    /// Readiness checks between two clock reads (and yields, when oversubscribed).
    checks_per_clock_read: u32,
    /// A wait for workers inside a joinable job at least this long (and longer than the
    /// caller's own share) is a stall.
    stall: Duration,
    /// Stalled joinable jobs in a row before the caller runs them alone.
    stalls_to_go_solo: u32,
    /// Joinable jobs the caller then runs alone before trying the workers again.
    solo_jobs: u32,
    /// The most `solo_jobs` grows to while every try stalls again.
    solo_jobs_max: u32,
    /// Joinable jobs in a row the workers must join without a stall before the solo period
    /// shrinks back to `solo_jobs`. One calm probe proves little under steady contention (the
    /// worker happened to be running); forgetting the backoff after it made every cycle pay
    /// another stall and another short solo period.
    calm_jobs_to_forget: u32,
}

/// The pool's [`WaitPolicy`].
const WAIT: WaitPolicy = WaitPolicy {
    spin: Duration::from_micros(100),
    checks_per_clock_read: 64,
    stall: Duration::from_micros(50),
    stalls_to_go_solo: 1,
    solo_jobs: 256,
    solo_jobs_max: 8192,
    calm_jobs_to_forget: 4096,
};

/// The caller's record of stalls in joinable jobs ([`WaitPolicy`]); touched only under
/// `run_lock`.
#[derive(Debug, Default)]
struct StallState {
    /// Stalled jobs in a row.
    in_a_row: u32,
    /// Joinable jobs still to run alone.
    solo_left: u32,
    /// The length of the next solo period (0: `WAIT.solo_jobs`).
    next_solo: u32,
    /// The job just run was the first after a solo period.
    probing: bool,
    /// Joinable jobs the workers joined without a stall since the last stall.
    calm: u32,
}

impl StallState {
    /// Whether the next joinable job runs on the caller alone (counts it).
    fn solo(&mut self) -> bool {
        if self.solo_left > 0 {
            self.solo_left -= 1;
            self.probing = self.solo_left == 0;
            return true;
        }
        false
    }

    /// Records a joinable job the workers could join: whether the caller stalled on them.
    fn record(&mut self, stalled: bool) {
        let probe = std::mem::take(&mut self.probing);
        if !stalled {
            self.in_a_row = 0;
            self.calm = self.calm.saturating_add(1);
            if self.calm >= WAIT.calm_jobs_to_forget {
                self.next_solo = 0;
            }
            return;
        }
        self.calm = 0;
        self.in_a_row += 1;
        if self.in_a_row >= WAIT.stalls_to_go_solo || probe {
            let len = if self.next_solo == 0 {
                WAIT.solo_jobs
            } else {
                self.next_solo
            };
            self.solo_left = len;
            self.next_solo = (len * 2).min(WAIT.solo_jobs_max);
            self.in_a_row = 0;
        }
    }
}

/// Spins until `ready()` or until [`WAIT`]`.spin` has passed; returns `ready()`'s last value.
/// With `yield_cpu` (a pool with more threads than cores) it yields between checks so the
/// threads it waits for can run; otherwise it keeps the core (yielding to other processes
/// costs a scheduler time slice, ~100x the job latency).
#[inline]
fn spin_until(yield_cpu: bool, ready: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..WAIT.checks_per_clock_read {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if yield_cpu {
            std::thread::yield_now();
        }
        if start.elapsed() > WAIT.spin {
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
    /// Workers that have not finished the current job yet (jobs of `run`).
    remaining: AtomicUsize,
    /// Jobs of `run_joinable`: the job's tag (low 32 bits of its generation) in the high 32
    /// bits, [`CLOSED`], and the number of workers inside the job in the low bits. Workers
    /// enter with a compare-and-swap that checks the tag and `CLOSED`.
    ticket: AtomicU64,
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
    /// Serializes concurrent `run` calls from different threads; holds the stall record.
    run_lock: Mutex<StallState>,
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
            ticket: AtomicU64::new(0),
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
            run_lock: Mutex::new(StallState::default()),
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
        self.run_mode(true, f)
    }

    /// Runs `f(thread_index, n_threads)` on the calling thread (index 0) and on the workers that
    /// join before the caller has finished its own call; returns when those are done. `f` must
    /// share its work out dynamically (e.g. claim chunks from an atomic counter) so that any
    /// subset of threads completes it: a worker that is not running at the time (descheduled)
    /// is not waited for. Each thread index calls `f` at most once per job. Panics propagate as
    /// with [`ThreadPool::run`].
    pub fn run_joinable<F: Fn(usize, usize) + Sync>(&self, f: F) {
        self.run_mode(false, f)
    }

    fn run_mode<F: Fn(usize, usize) + Sync>(&self, all: bool, f: F) {
        let n = self.shared.n_threads;
        if n == 1 {
            f(0, 1);
            return;
        }
        let mut stalls = self.run_lock.lock().unwrap_or_else(|e| e.into_inner());
        if !all && stalls.solo() {
            // workers were stalling this job's predecessors: the caller does it alone
            f(0, n);
            return;
        }
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
        let tag = (sh.generation.load(Ordering::Relaxed).wrapping_add(1) as u32 as u64) << 32;
        sh.ticket
            .store(tag | if all { ALL } else { 0 }, Ordering::Relaxed);
        sh.generation.fetch_add(1, Ordering::SeqCst);
        if sh.sleepers.load(Ordering::SeqCst) > 0 {
            let _l = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.wake.notify_all();
        }

        let started = Instant::now();
        let mine = catch_unwind(AssertUnwindSafe(|| f(0, n)));
        let own_share = started.elapsed();

        // Wait for the workers (`run`: all of them; `run_joinable`: those that entered before
        // the job closed): spin, then park.
        let finished = || {
            if all {
                sh.remaining.load(Ordering::SeqCst) == 0
            } else {
                sh.ticket.load(Ordering::SeqCst) & INSIDE == 0
            }
        };
        if !all {
            sh.ticket.fetch_or(CLOSED, Ordering::SeqCst);
        }
        let waiting = Instant::now();
        if !spin_until(sh.oversubscribed, finished) {
            let mut l = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.caller_sleeping.store(true, Ordering::SeqCst);
            while !finished() {
                l = sh.done.wait(l).unwrap_or_else(|e| e.into_inner());
            }
            sh.caller_sleeping.store(false, Ordering::SeqCst);
            drop(l);
        }
        if !all {
            let waited = waiting.elapsed();
            stalls.record(waited >= WAIT.stall && waited > own_share);
        }
        // (`finished` read the counters with SeqCst, which pairs with the workers' SeqCst
        // decrements: their writes are visible here.)
        // SAFETY: all workers are done with the job (`run`: remaining == 0; `run_joinable`: no
        // worker inside a closed job, and none can enter it any more), observed above.
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
        // Enter the job: only the current generation's, and only while it is open (a
        // `run_joinable` caller may have closed it, or even published the next one, while this
        // thread was not running).
        let tag = (seen as u32 as u64) << 32;
        let mut t = sh.ticket.load(Ordering::SeqCst);
        let all = loop {
            if t & !(CLOSED | ALL | INSIDE) != tag || t & CLOSED != 0 {
                break None;
            }
            match sh
                .ticket
                .compare_exchange_weak(t, t + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break Some(t & ALL != 0),
                Err(now) => t = now,
            }
        };
        let Some(all) = all else { continue };
        // SAFETY: this thread entered the job (ticket of its generation, not closed, inside
        // count incremented), so the job pointer written before the generation's SeqCst
        // increment is visible (Acquire load above), and the caller keeps the closure alive and
        // does not touch `job` until this thread leaves below (`remaining` or the inside count).
        let job = unsafe { *sh.job.get() };
        if let Some(job) = job {
            // SAFETY: the pointee outlives this call (see above).
            let job = unsafe { &*job };
            if catch_unwind(AssertUnwindSafe(|| job(idx, sh.n_threads))).is_err() {
                sh.worker_panicked.store(true, Ordering::Relaxed);
            }
        }
        let last = if all {
            // leave the ticket first: once `remaining` is 0 the caller may publish the next job
            sh.ticket.fetch_sub(1, Ordering::SeqCst);
            sh.remaining.fetch_sub(1, Ordering::SeqCst) == 1
        } else {
            sh.ticket.fetch_sub(1, Ordering::SeqCst) & INSIDE == 1
        };
        if last && sh.caller_sleeping.load(Ordering::SeqCst) {
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

#[cfg(test)]
mod tests {
    use super::{StallState, WAIT};

    #[test]
    fn stalls_send_the_caller_solo_with_backoff() {
        let mut st = StallState::default();
        assert!(!st.solo());
        for _ in 0..WAIT.stalls_to_go_solo {
            assert!(!st.solo());
            st.record(true);
        }
        // a solo period of `solo_jobs` jobs, then a probe
        for _ in 0..WAIT.solo_jobs {
            assert!(st.solo());
        }
        assert!(!st.solo());
        // the probe stalls again: twice as long
        st.record(true);
        for _ in 0..2 * WAIT.solo_jobs {
            assert!(st.solo());
        }
        assert!(!st.solo());
        // the probe runs fine: the workers are used again, but the backoff is kept until
        // the workers have been calm for a while
        st.record(false);
        assert!(!st.solo());
        st.record(false);
        assert_eq!(
            st.next_solo,
            4 * WAIT.solo_jobs,
            "one calm job keeps the backoff"
        );
        // a stall soon after: straight back to the long solo period
        assert!(!st.solo());
        st.record(true);
        for _ in 0..4 * WAIT.solo_jobs {
            assert!(st.solo());
        }
        assert!(!st.solo());
        for _ in 0..WAIT.calm_jobs_to_forget {
            st.record(false);
            assert!(!st.solo());
        }
        assert_eq!(st.next_solo, 0, "calm workers reset the backoff");
        st.record(true);
        assert_eq!(st.solo_left, WAIT.solo_jobs);
    }

    #[test]
    fn jobs_without_stalls_never_go_solo() {
        let mut st = StallState::default();
        for _ in 0..10_000 {
            assert!(!st.solo());
            st.record(false);
        }
    }
}
