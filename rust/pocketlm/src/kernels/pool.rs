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
/// jobs at hand, as time per unit of the jobs' stated work within each size class of job
/// ([`BySize`]: a prefill matmul states 10-100x a decode one's work and runs at a quarter of
/// its cost per unit, so a window of each would otherwise decide for whichever ran the
/// prefill), and keeps the faster:
///
/// - shared: the last `trial_jobs` to `2 * trial_jobs` shared jobs (steady state, the stall
///   included), or after a solo period `trial_jobs` shared jobs after `warmup_jobs` (workers
///   just woken from parking may run on a core's spare time before the scheduler evens out);
/// - alone: the next `trial_jobs` jobs, or the whole solo period.
///
/// A trial needs a window of `trial_jobs` shared jobs, and none starts in a pool's first
/// `first_jobs` jobs (its first forward passes fault the weights in from the file): a stall
/// before then starts one as soon as they are met (under contention stalls can be a few per
/// thousands of jobs, all shared at a loss while none starts a trial). Trials whose two sides
/// share no size class (the work changed in between) decide nothing.
///
/// Sharing wins only when it is `shared_margin` times faster: a tie leaves a core to the rest
/// of the system, and a 2-thread run must not be slower than a 1-thread one. When the caller
/// alone wins it stays alone for `solo_jobs` jobs, then tries sharing again; the period doubles
/// up to `solo_jobs_max` while the caller keeps winning. A try that is plainly lost (its
/// shared jobs so far, at least `lost_after_jobs`, warm-up included, cost `lost_ratio` times
/// the solo rate) ends at once: under contention shared jobs cost ~2.3x (SmolLM2 decode, one
/// busy thread), so a try costs ~`lost_after_jobs` slow jobs, not `warmup_jobs + trial_jobs`
/// (trials were 2.3% of a contended run before, with 16k-job periods). Likewise a trial's solo
/// half ends when the caller alone is plainly slower (`solo_lost_ratio`): on an idle 2-vCPU VM
/// with 20-70 stray stalls per `pocketlm bench` run, alone is 1.2-1.9x slower per unit, and a
/// whole solo half of prefill jobs cost a short prompt 10-30%. When
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
    /// A trial's solo jobs costing this many times the shared rate (after `lost_after_jobs`)
    /// are a plain loss too: sharing wins at once.
    solo_lost_ratio: f64,
    /// The first solo period after the caller alone won, in jobs.
    solo_jobs: u32,
    /// The longest solo period, in jobs (SmolLM2 decode runs ~150 joinable jobs per token).
    solo_jobs_max: u32,
    /// Jobs after sharing won during which a stall starts no trial.
    calm_jobs: u32,
    /// The longest such period, in jobs.
    calm_jobs_max: u32,
    /// A pool's first jobs, after which a trial can start.
    first_jobs: u32,
}

/// The pool's [`SharingPolicy`].
const SHARING: SharingPolicy = SharingPolicy {
    trial_jobs: 128,
    warmup_jobs: 32,
    shared_margin: 1.1,
    lost_after_jobs: 16,
    lost_ratio: 1.5,
    solo_lost_ratio: 1.25,
    solo_jobs: 512,
    solo_jobs_max: 32768,
    calm_jobs: 512,
    calm_jobs_max: 16384,
    first_jobs: 256,
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

/// Size classes of joinable jobs: one per factor of 4 in stated work (a `u64`).
const SIZE_CLASSES: usize = (u64::BITS / 2) as usize;

/// [`Tally`]s of joinable jobs by size class (the base-4 logarithm of their stated work), so
/// that jobs are compared with jobs of like size: a decode step's matmuls, a keyboard pass's,
/// a prefill's and attention over a long context each have their own cost per unit of work.
#[derive(Debug, Default, Clone, Copy)]
struct BySize {
    classes: [Tally; SIZE_CLASSES],
    /// Jobs over all classes (asked for on every shared job).
    jobs: u32,
}

impl BySize {
    fn add(&mut self, nanos: u64, work: u64) {
        self.classes[(work.max(1).ilog2() / 2) as usize].add(nanos, work);
        self.jobs += 1;
    }

    fn plus(self, other: BySize) -> BySize {
        let mut sum = self;
        for (a, b) in sum.classes.iter_mut().zip(other.classes) {
            *a = a.plus(b);
        }
        sum.jobs += other.jobs;
        sum
    }

    /// These jobs' time over the time the same work takes at `base`'s cost per unit, class by
    /// class, over the classes both ran (the lower the faster), and how many of these jobs
    /// that covers; `None` when they share no class.
    fn relative_cost(&self, base: &BySize) -> Option<(f64, u32)> {
        let (mut time, mut base_time, mut jobs) = (0.0, 0.0, 0);
        for (t, b) in self.classes.iter().zip(&base.classes) {
            if t.jobs > 0 && b.jobs > 0 {
                time += t.nanos as f64;
                base_time += t.work as f64 * b.cost();
                jobs += t.jobs;
            }
        }
        (jobs > 0 && base_time > 0.0).then(|| (time / base_time, jobs))
    }

    /// Whether these jobs, at least [`SHARING`]`.lost_after_jobs` of them compared, cost more
    /// than `ratio` times `base`'s (a trial's side that is plainly lost).
    fn plainly_dearer(&self, base: &BySize, ratio: f64) -> bool {
        matches!(self.relative_cost(base),
            Some((cost, jobs)) if jobs >= SHARING.lost_after_jobs && cost > ratio)
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
    solo: BySize,
    /// The shared jobs measured: in `Shared`, the current window of up to `trial_jobs`.
    shared: BySize,
    /// In `TrialShared`, every shared job of the try (warm-up included).
    tried: BySize,
    /// In `Shared`, the window before `shared`.
    shared_before: BySize,
    /// Joinable jobs recorded (saturating).
    jobs: u32,
    /// A stall (past any calm period) waits for its trial.
    stall_pending: bool,
    /// The length of the next solo period.
    next_solo: u32,
    /// The length of the next calm period.
    next_calm: u32,
}

impl Default for Sharing {
    fn default() -> Self {
        Self {
            phase: Phase::Shared { calm: 0 },
            solo: BySize::default(),
            shared: BySize::default(),
            tried: BySize::default(),
            shared_before: BySize::default(),
            jobs: 0,
            stall_pending: false,
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
        self.jobs = self.jobs.saturating_add(1);
        self.phase = match self.phase {
            Phase::Shared { calm } => {
                if self.shared.jobs >= SHARING.trial_jobs {
                    self.shared_before = std::mem::take(&mut self.shared);
                }
                self.shared.add(nanos, work);
                self.stall_pending |= stalled && calm == 0;
                let window = self.shared_before.jobs + self.shared.jobs;
                if self.stall_pending
                    && window >= SHARING.trial_jobs
                    && self.jobs > SHARING.first_jobs
                {
                    self.stall_pending = false;
                    self.shared = self.shared_before.plus(self.shared);
                    self.solo = BySize::default();
                    Phase::TrialSolo(SHARING.trial_jobs)
                } else {
                    Phase::Shared {
                        calm: calm.saturating_sub(1),
                    }
                }
            }
            Phase::TrialSolo(left) => {
                self.solo.add(nanos, work);
                if self
                    .solo
                    .plainly_dearer(&self.shared, SHARING.solo_lost_ratio)
                {
                    self.decide(Some(true))
                } else if left > 1 {
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
                    self.shared = BySize::default();
                    self.tried = BySize::default();
                    Phase::TrialShared(SHARING.warmup_jobs + SHARING.trial_jobs)
                }
            }
            Phase::TrialShared(left) => {
                if left <= SHARING.trial_jobs {
                    self.shared.add(nanos, work);
                }
                self.tried.add(nanos, work);
                if self.tried.plainly_dearer(&self.solo, SHARING.lost_ratio) {
                    self.decide(Some(false))
                } else if left > 1 {
                    Phase::TrialShared(left - 1)
                } else {
                    self.decide(self.shared_wins())
                }
            }
        };
    }

    /// Whether the trial's shared jobs beat its solo ones by [`SHARING`]`.shared_margin`;
    /// `None` when the two sides ran no job of the same size class.
    fn shared_wins(&self) -> Option<bool> {
        let (cost, _) = self.shared.relative_cost(&self.solo)?;
        Some(cost * SHARING.shared_margin < 1.0)
    }

    /// The end of a trial: the next phase. A trial that could not compare (`None`) goes back
    /// to sharing with nothing learnt: the next stall starts another.
    fn decide(&mut self, shared_wins: Option<bool>) -> Phase {
        self.solo = BySize::default();
        self.shared = BySize::default();
        self.shared_before = BySize::default();
        self.stall_pending = false;
        let Some(shared_wins) = shared_wins else {
            return Phase::Shared { calm: 0 };
        };
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
            // A store-buffering handshake with the last worker's decrement and its read of
            // this flag. A SeqCst store then a SeqCst load (`finished`) is enough in Rust's
            // memory model and on aarch64 hardware (STLR, LDAR), but qemu-user 7.2 (TCG on an
            // x86 host) emits them as a host store and load that the host's store buffer may
            // reorder: the worker saw the flag clear and did not notify, the caller saw the job
            // unfinished and parked for good (a CI hang of tests/lora.rs under qemu; the hung
            // process had `remaining` 0 and `caller_sleeping` set). A read-modify-write is a
            // full barrier there too: a store-buffering litmus test of this shape under qemu
            // gave 19 forbidden outcomes in 200,000 rounds with store + load, 0 with `swap`.
            sh.caller_sleeping.swap(true, Ordering::SeqCst);
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

    /// The phase after sharing won a first trial.
    const SHARING_WON: Phase = Phase::Shared {
        calm: SHARING.calm_jobs,
    };

    /// A shared job (costing `shared_ns` per unit) that stalls and starts a trial.
    fn start_trial(st: &mut Sharing, shared_ns: u64) {
        st.record(shared_ns * 1000, 1000, true);
        assert_eq!(st.phase, Phase::TrialSolo(SHARING.trial_jobs));
    }

    /// A record past the pool's first jobs, whose shared jobs cost `shared_ns` per unit.
    fn warmed(shared_ns: u64) -> Sharing {
        let mut st = Sharing::default();
        drive(
            &mut st,
            SHARING.first_jobs + SHARING.trial_jobs,
            10,
            shared_ns,
            false,
        );
        st
    }

    #[test]
    fn a_stall_waits_for_the_first_jobs_and_a_window_of_shared_jobs() {
        let mut st = Sharing::default();
        st.record(6 * 1000, 1000, true);
        assert_eq!(drive(&mut st, SHARING.first_jobs - 1, 10, 6, false), 0);
        assert_eq!(st.phase, Phase::Shared { calm: 0 });
        st.record(6 * 1000, 1000, false);
        assert_eq!(st.phase, Phase::TrialSolo(SHARING.trial_jobs));
        // a trial that could not compare leaves no window behind: the next stall waits for one
        let mut st = warmed(6);
        start_trial(&mut st, 6);
        for _ in 0..SHARING.trial_jobs {
            st.record(10 * (1 << 20), 1 << 20, false);
        }
        assert_eq!(st.phase, Phase::Shared { calm: 0 });
        st.record(6 * 1000, 1000, true);
        assert_eq!(drive(&mut st, SHARING.trial_jobs - 2, 10, 6, false), 0);
        st.record(6 * 1000, 1000, false);
        assert!(st.solo());
    }

    #[test]
    fn a_plainly_lost_solo_half_ends_early() {
        let mut st = warmed(6);
        start_trial(&mut st, 6);
        assert_eq!(
            drive(&mut st, SHARING.lost_after_jobs, 10, 6, false),
            SHARING.lost_after_jobs
        );
        assert_eq!(st.phase, SHARING_WON);
        // alone but a little slower (within `solo_lost_ratio`): the whole half is measured
        let mut st = warmed(9);
        start_trial(&mut st, 9);
        assert_eq!(
            drive(&mut st, SHARING.trial_jobs, 10, 9, false),
            SHARING.trial_jobs
        );
        assert!(!st.solo());
    }

    #[test]
    fn trials_compare_jobs_of_like_size() {
        // Shared small jobs (a decode step's) at 6 per unit; then, alone, the jobs of a
        // prefill: mostly big ones, cheap per unit (3), and a few small ones at 7. Sharing is
        // faster for every size, but over all work the solo side looks twice as cheap.
        let mut st = warmed(6);
        start_trial(&mut st, 6);
        for i in 0..SHARING.trial_jobs {
            let work = if i % 8 == 0 { 1000 } else { 1 << 20 };
            let cost = if work == 1000 { 7 } else { 3 };
            assert!(st.solo());
            st.record(cost * work, work, false);
        }
        assert_eq!(st.phase, SHARING_WON);
        // and the other way: a try of sharing is not lost for running dearer sizes of job
        let mut st = warmed(13);
        start_trial(&mut st, 13);
        drive(&mut st, SHARING.trial_jobs, 10, 13, false);
        assert_eq!(st.phase, Phase::Solo(SHARING.solo_jobs));
        for i in 0..SHARING.solo_jobs + TRY {
            // alone: prefill-sized jobs at 3 per unit, small ones at 10; shared: the small
            // ones at 6, dearer per unit than the solo period's average
            let work = if st.solo() && i % 8 != 0 {
                1 << 20
            } else {
                1000
            };
            let cost = match (st.solo(), work) {
                (true, 1000) => 10,
                (true, _) => 3,
                _ => 6,
            };
            st.record(cost * work, work, false);
        }
        assert_eq!(st.phase, SHARING_WON);
    }

    #[test]
    fn calm_shared_jobs_never_run_alone() {
        let mut st = Sharing::default();
        assert_eq!(drive(&mut st, 100_000, 10, 50, false), 0);
        assert_eq!(st.phase, Phase::Shared { calm: 0 });
    }

    #[test]
    fn a_stall_starts_a_trial_and_the_faster_way_wins() {
        let t = SHARING.trial_jobs;
        // sharing is faster (an idle machine with stray stalls): after `trial_jobs` alone,
        // back to sharing, and stalls start no trial for a while
        let mut st = warmed(8);
        start_trial(&mut st, 8);
        assert_eq!(st.phase, Phase::TrialSolo(t));
        assert_eq!(drive(&mut st, t, 10, 8, false), t);
        assert_eq!(st.phase, SHARING_WON);
        assert_eq!(drive(&mut st, SHARING.calm_jobs, 10, 6, true), 0);
        // the caller alone is faster (a busy core), compared with the shared jobs before the
        // stall: it stays alone for the solo period
        assert_eq!(st.phase, Phase::Shared { calm: 0 });
        drive(&mut st, 300, 10, 13, false);
        start_trial(&mut st, 13);
        assert_eq!(drive(&mut st, t, 10, 13, false), t);
        assert_eq!(st.phase, Phase::Solo(SHARING.solo_jobs));
        // within the margin, the caller alone wins too
        let mut st = warmed(10);
        start_trial(&mut st, 10);
        drive(&mut st, t, 10, 10, false);
        assert!(st.solo());
    }

    #[test]
    fn the_solo_period_doubles_while_alone_keeps_winning_and_halves_when_sharing_wins() {
        let mut st = warmed(13);
        start_trial(&mut st, 13);
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
        assert_eq!(st.phase, SHARING_WON);
        assert_eq!(st.next_solo, SHARING.solo_jobs_max / 2);
    }

    #[test]
    fn a_plainly_lost_try_ends_early_and_tries_cost_little_under_steady_contention() {
        let mut st = warmed(25);
        start_trial(&mut st, 25);
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
