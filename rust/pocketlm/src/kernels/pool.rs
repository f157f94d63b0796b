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
//! Whether joinable jobs are shared at all is measured, not assumed (`SharingPolicy`): with
//! the cores taken by other work, the caller alone is faster.

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
/// spinning or parked. Whether to share at all is [`SHARING`]'s question.
#[derive(Debug, Clone, Copy)]
struct WaitPolicy {
    /// How long a waiting thread spins before it parks.
    spin: Duration,
    /// Readiness checks between two clock reads (and yields, when oversubscribed).
    checks_per_clock_read: u32,
    /// A wait for workers inside a joinable job at least this long (and longer than the
    /// caller's own share) is a stall: a worker was descheduled mid-chunk (idle, the wait is
    /// microseconds). A 20 µs threshold cost idle decode on Zen 5 (181 tok/s against 238), 0 µs
    /// even more (150).
    stall: Duration,
}

/// The pool's [`WaitPolicy`].
const WAIT: WaitPolicy = WaitPolicy {
    spin: Duration::from_micros(100),
    checks_per_clock_read: 64,
    stall: Duration::from_micros(50),
};

/// When joinable jobs are shared with the workers and when the caller runs them alone
/// ([`Sharing`]): the policy in one place.
///
/// Sharing pays only while a worker has a core of its own. With other work busy on the cores,
/// a worker is descheduled mid-chunk (a stall: the caller waits a scheduler time slice), and
/// even without stalls a third runnable thread takes time slices from the caller too; on a VM
/// whose vCPUs are busy elsewhere, stray stalls come even when this machine is idle. So the
/// pool does not guess from stalls: a stall starts a *trial* that compares the two ways on the
/// jobs at hand, as time per unit of the jobs' stated work, and keeps the faster:
///
/// - shared: the last `trial_jobs` to `2 * trial_jobs` shared jobs (steady state, the stall
///   included), or after a solo period `trial_jobs` shared jobs after `warmup_jobs` (workers
///   just woken from parking may run on a core's spare time before the scheduler evens out);
/// - alone: the next `trial_jobs` jobs, or the whole solo period.
///
/// Sharing wins only when it is `shared_margin` times faster: a tie leaves a core to the rest
/// of the system, and a 2-thread run must not be slower than a 1-thread one. When the caller
/// alone wins it stays alone for `solo_jobs` jobs, then tries sharing again; the period doubles
/// up to `solo_jobs_max` while the caller keeps winning. A try that is plainly lost (its
/// shared jobs so far, at least `lost_after_jobs`, warm-up included, cost `lost_ratio` times
/// the solo rate) ends at once: under contention shared jobs cost ~2.3x (SmolLM2 decode, one
/// busy thread), so a try costs ~`lost_after_jobs` slow jobs, not `warmup_jobs + trial_jobs`
/// (trials were 2.3% of a contended run before, with 16k-job periods). When
/// sharing wins, stalls start no trial for `calm_jobs` jobs, doubling up to `calm_jobs_max`
/// while sharing keeps winning. Idle and calm there is no stall and no trial: nothing is
/// spent on measuring.
///
/// Measured on 2 vCPUs with one busy thread beside a 2-thread run
/// (docs/performance.md#under-cpu-contention).
#[derive(Debug, Clone, Copy)]
struct SharingPolicy {
    /// Jobs measured each way in a trial.
    trial_jobs: u32,
    /// Shared jobs not measured after a solo period.
    warmup_jobs: u32,
    /// How much faster per unit of work sharing must be to win.
    shared_margin: f64,
    /// Shared jobs of a try after which a plain loss ends it.
    lost_after_jobs: u32,
    /// A try's shared jobs costing this many times the solo rate are a plain loss.
    lost_ratio: f64,
    /// The first solo period after the caller alone won, in jobs.
    solo_jobs: u32,
    /// The longest solo period, in jobs (SmolLM2 decode runs ~150 joinable jobs per token).
    solo_jobs_max: u32,
    /// Jobs after sharing won during which a stall starts no trial.
    calm_jobs: u32,
    /// The longest such period, in jobs.
    calm_jobs_max: u32,
}

/// The pool's [`SharingPolicy`].
const SHARING: SharingPolicy = SharingPolicy {
    trial_jobs: 128,
    warmup_jobs: 32,
    shared_margin: 1.1,
    lost_after_jobs: 16,
    lost_ratio: 1.5,
    solo_jobs: 512,
    solo_jobs_max: 32768,
    calm_jobs: 512,
    calm_jobs_max: 16384,
};

/// Time and stated work of a run of joinable jobs.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    nanos: u64,
    work: u64,
    jobs: u32,
}

impl Tally {
    fn add(&mut self, nanos: u64, work: u64) {
        self.nanos = self.nanos.saturating_add(nanos);
        self.work = self.work.saturating_add(work.max(1));
        self.jobs += 1;
    }

    fn plus(self, other: Tally) -> Tally {
        Tally {
            nanos: self.nanos.saturating_add(other.nanos),
            work: self.work.saturating_add(other.work),
            jobs: self.jobs + other.jobs,
        }
    }

    /// Time per unit of work (the lower the faster).
    fn cost(&self) -> f64 {
        self.nanos as f64 / self.work.max(1) as f64
    }
}

/// Where the caller stands in [`SHARING`]'s cycle; counts are jobs left in that phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Jobs go to the workers; a stall starts a trial once `calm` is 0.
    Shared { calm: u32 },
    /// A trial's second half after a stall: the caller alone.
    TrialSolo(u32),
    /// The caller alone won: it runs the jobs alone, then tries sharing again.
    Solo(u32),
    /// After a solo period: shared jobs, the first `warmup_jobs` unmeasured, then the faster
    /// way wins.
    TrialShared(u32),
}

/// The caller's record of how joinable jobs ran ([`SHARING`]); touched only under `run_lock`.
#[derive(Debug)]
struct Sharing {
    phase: Phase,
    /// The solo jobs since the last decision.
    solo: Tally,
    /// The shared jobs measured: in `Shared`, the current window of up to `trial_jobs`.
    shared: Tally,
    /// In `TrialShared`, every shared job of the try (warm-up included).
    tried: Tally,
    /// In `Shared`, the window before `shared`.
    shared_before: Tally,
    /// The length of the next solo period.
    next_solo: u32,
    /// The length of the next calm period.
    next_calm: u32,
}

impl Default for Sharing {
    fn default() -> Self {
        Self {
            phase: Phase::Shared { calm: 0 },
            solo: Tally::default(),
            shared: Tally::default(),
            tried: Tally::default(),
            shared_before: Tally::default(),
            next_solo: SHARING.solo_jobs,
            next_calm: SHARING.calm_jobs,
        }
    }
}

impl Sharing {
    /// Whether the next joinable job runs on the caller alone.
    fn solo(&self) -> bool {
        matches!(self.phase, Phase::TrialSolo(_) | Phase::Solo(_))
    }

    /// Records a joinable job that ran as [`Sharing::solo`] said: its time, its stated work,
    /// and (shared) whether the caller stalled on a worker.
    fn record(&mut self, nanos: u64, work: u64, stalled: bool) {
        self.phase = match self.phase {
            Phase::Shared { calm } => {
                if self.shared.jobs >= SHARING.trial_jobs {
                    self.shared_before = std::mem::take(&mut self.shared);
                }
                self.shared.add(nanos, work);
                if stalled && calm == 0 {
                    self.shared = self.shared_before.plus(self.shared);
                    self.solo = Tally::default();
                    Phase::TrialSolo(SHARING.trial_jobs)
                } else {
                    Phase::Shared {
                        calm: calm.saturating_sub(1),
                    }
                }
            }
            Phase::TrialSolo(left) => {
                self.solo.add(nanos, work);
                if left > 1 {
                    Phase::TrialSolo(left - 1)
                } else {
                    self.decide(self.shared_wins())
                }
            }
            Phase::Solo(left) => {
                self.solo.add(nanos, work);
                if left > 1 {
                    Phase::Solo(left - 1)
                } else {
                    self.shared = Tally::default();
                    self.tried = Tally::default();
                    Phase::TrialShared(SHARING.warmup_jobs + SHARING.trial_jobs)
                }
            }
            Phase::TrialShared(left) => {
                if left <= SHARING.trial_jobs {
                    self.shared.add(nanos, work);
                }
                self.tried.add(nanos, work);
                let lost = self.tried.jobs >= SHARING.lost_after_jobs
                    && self.tried.cost() > SHARING.lost_ratio * self.solo.cost();
                if lost {
                    self.decide(false)
                } else if left > 1 {
                    Phase::TrialShared(left - 1)
                } else {
                    self.decide(self.shared_wins())
                }
            }
        };
    }

    /// Whether the trial's shared jobs beat its solo ones by [`SHARING`]`.shared_margin`.
    fn shared_wins(&self) -> bool {
        self.shared.cost() * SHARING.shared_margin < self.solo.cost()
    }

    /// The end of a trial: the next phase.
    fn decide(&mut self, shared_wins: bool) -> Phase {
        self.solo = Tally::default();
        self.shared = Tally::default();
        self.shared_before = Tally::default();
        if shared_wins {
            self.next_solo = (self.next_solo / 2).max(SHARING.solo_jobs);
            let calm = self.next_calm;
            self.next_calm = (calm * 2).min(SHARING.calm_jobs_max);
            Phase::Shared { calm }
        } else {
            self.next_calm = SHARING.calm_jobs;
            let len = self.next_solo;
            self.next_solo = (len * 2).min(SHARING.solo_jobs_max);
            Phase::Solo(len)
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
    /// Serializes concurrent `run` calls from different threads; holds the sharing record.
    run_lock: Mutex<Sharing>,
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
            run_lock: Mutex::new(Sharing::default()),
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
        self.run_mode(None, f)
    }

    /// Runs `f(thread_index, n_threads)` on the calling thread (index 0) and on the workers that
    /// join before the caller has finished its own call; returns when those are done. `f` must
    /// share its work out dynamically (e.g. claim chunks from an atomic counter) so that any
    /// subset of threads completes it: a worker that is not running at the time (descheduled)
    /// is not waited for. Each thread index calls `f` at most once per job. Panics propagate as
    /// with [`ThreadPool::run`].
    ///
    /// `work` is the job's cost in any unit proportional to its time on one thread (the
    /// kernels state multiply-adds): the pool compares time per unit of work, shared and alone,
    /// to decide whether the workers help at all (other processes busy on the cores). When the
    /// caller runs a job alone it calls `f(0, 1)`, so `f` can split the work for one thread.
    pub fn run_joinable<F: Fn(usize, usize) + Sync>(&self, work: u64, f: F) {
        self.run_mode(Some(work), f)
    }

    /// `joinable`: the stated work of a `run_joinable` job; `None` for `run`.
    fn run_mode<F: Fn(usize, usize) + Sync>(&self, joinable: Option<u64>, f: F) {
        let n = self.shared.n_threads;
        if n == 1 {
            f(0, 1);
            return;
        }
        let all = joinable.is_none();
        let mut sharing = self.run_lock.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        if let Some(work) = joinable {
            if sharing.solo() {
                f(0, 1);
                sharing.record(started.elapsed().as_nanos() as u64, work, false);
                return;
            }
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

        let own_start = Instant::now();
        let mine = catch_unwind(AssertUnwindSafe(|| f(0, n)));
        let own_share = own_start.elapsed();

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
        if let Some(work) = joinable {
            let waited = waiting.elapsed();
            let stalled = waited >= WAIT.stall && waited > own_share;
            sharing.record(started.elapsed().as_nanos() as u64, work, stalled);
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
    use super::{Phase, Sharing, SHARING};

    /// Runs `jobs` jobs through `st` as it decides, each costing `solo_ns` or `shared_ns` per
    /// unit of work; every shared job stalls when `stalls`. Returns how many ran alone.
    fn drive(st: &mut Sharing, jobs: u32, solo_ns: u64, shared_ns: u64, stalls: bool) -> u32 {
        let mut alone = 0;
        for i in 0..jobs {
            let work = 1000 + u64::from(i % 7) * 300;
            if st.solo() {
                alone += 1;
                st.record(solo_ns * work, work, false);
            } else {
                st.record(shared_ns * work, work, stalls);
            }
        }
        alone
    }

    /// Jobs of a try of sharing after a solo period.
    const TRY: u32 = SHARING.warmup_jobs + SHARING.trial_jobs;

    #[test]
    fn calm_shared_jobs_never_run_alone() {
        let mut st = Sharing::default();
        assert_eq!(drive(&mut st, 100_000, 10, 50, false), 0);
        assert_eq!(st.phase, Phase::Shared { calm: 0 });
    }

    #[test]
    fn a_stall_starts_a_trial_and_the_faster_way_wins() {
        let t = SHARING.trial_jobs;
        // sharing is faster (an idle machine with a stray stall): after `trial_jobs` alone,
        // back to sharing, and stalls start no trial for a while
        let mut st = Sharing::default();
        drive(&mut st, 300, 10, 6, false);
        st.record(1000 * 6, 1000, true);
        assert_eq!(st.phase, Phase::TrialSolo(t));
        assert_eq!(drive(&mut st, t, 10, 6, false), t);
        assert_eq!(
            st.phase,
            Phase::Shared {
                calm: SHARING.calm_jobs
            }
        );
        assert_eq!(drive(&mut st, SHARING.calm_jobs, 10, 6, true), 0);
        // the caller alone is faster (a busy core), compared with the shared jobs before the
        // stall: it stays alone for the solo period
        assert_eq!(st.phase, Phase::Shared { calm: 0 });
        drive(&mut st, 300, 10, 13, false);
        st.record(13 * 1000, 1000, true);
        assert_eq!(drive(&mut st, t, 10, 13, false), t);
        assert_eq!(st.phase, Phase::Solo(SHARING.solo_jobs));
        // within the margin, the caller alone wins too
        let mut st = Sharing::default();
        drive(&mut st, 300, 10, 10, false);
        st.record(10 * 1000, 1000, true);
        drive(&mut st, t, 10, 10, false);
        assert!(st.solo());
    }

    #[test]
    fn the_solo_period_doubles_while_alone_keeps_winning_and_halves_when_sharing_wins() {
        let mut st = Sharing::default();
        st.record(1000, 1, true);
        drive(&mut st, SHARING.trial_jobs, 10, 13, true);
        let mut len = SHARING.solo_jobs;
        for _ in 0..8 {
            assert_eq!(st.phase, Phase::Solo(len));
            // the period alone, then a try of sharing that loses (stalls or not)
            assert_eq!(drive(&mut st, len + TRY, 10, 13, true), len);
            len = (len * 2).min(SHARING.solo_jobs_max);
        }
        assert_eq!(st.phase, Phase::Solo(SHARING.solo_jobs_max));
        // the other work stops: the next try finds sharing faster
        drive(&mut st, SHARING.solo_jobs_max + TRY, 10, 6, false);
        assert_eq!(
            st.phase,
            Phase::Shared {
                calm: SHARING.calm_jobs
            }
        );
        assert_eq!(st.next_solo, SHARING.solo_jobs_max / 2);
        // measured per unit of work: bigger shared jobs that are cheaper per unit still win
        let mut st = Sharing::default();
        st.record(1000, 1, true);
        drive(&mut st, SHARING.trial_jobs, 10, 13, false);
        for i in 0..SHARING.solo_jobs + TRY {
            if st.solo() {
                st.record(10 * 100, 100, false);
            } else {
                st.record(8 * 1000 + u64::from(i), 1000, false);
            }
        }
        assert_eq!(
            st.phase,
            Phase::Shared {
                calm: SHARING.calm_jobs
            }
        );
    }

    #[test]
    fn a_plainly_lost_try_ends_early_and_tries_cost_little_under_steady_contention() {
        let mut st = Sharing::default();
        st.record(1000, 1, true);
        drive(&mut st, SHARING.trial_jobs, 10, 25, true);
        assert_eq!(st.phase, Phase::Solo(SHARING.solo_jobs));
        // sharing costs 2.5x: the try ends after `lost_after_jobs` shared jobs
        let alone = drive(
            &mut st,
            SHARING.solo_jobs + SHARING.lost_after_jobs,
            10,
            25,
            false,
        );
        assert_eq!(alone, SHARING.solo_jobs);
        assert_eq!(st.phase, Phase::Solo(2 * SHARING.solo_jobs));
        // over a long contended run the shared jobs are a small fraction
        let (mut alone, mut total) = (0u64, 0u64);
        for _ in 0..100 {
            alone += u64::from(drive(&mut st, 20_000, 10, 25, true));
            total += 20_000;
        }
        let shared = (total - alone) as f64 / total as f64;
        let bound = f64::from(SHARING.lost_after_jobs) / f64::from(SHARING.solo_jobs_max);
        assert!(
            shared < 1.5 * bound,
            "{shared} of jobs shared, bound {bound}"
        );
    }
}
