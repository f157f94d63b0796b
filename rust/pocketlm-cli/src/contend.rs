//! `--contend N` of `bench`, `eval-keyboard` and `eval-reply`: N busy threads at normal priority
//! spin beside the measured run, for its whole duration. A phone's keyboard or reply drafter
//! runs while the foreground app (or anything else) keeps cores busy; these threads make that
//! case reproducible on a desktop (docs/performance.md#under-cpu-contention).

use clap::Args;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

#[derive(Args, Clone, Copy, Default)]
pub struct ContendArgs {
    /// Busy threads (normal priority, pure computation) spinning beside the run, to measure
    /// latency under CPU contention. 0 = none.
    #[arg(long, default_value_t = 0)]
    pub contend: usize,
}

/// The busy threads; they stop when this is dropped.
pub struct Contention {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Contention {
    /// Starts `n` busy threads (none for 0).
    pub fn start(n: usize) -> Result<Self, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|i| {
                let stop = Arc::clone(&stop);
                std::thread::Builder::new()
                    .name(format!("contend-{i}"))
                    .spawn(move || busy(&stop))
                    .map_err(|e| format!("cannot start a --contend thread: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { stop, threads })
    }

    /// Number of busy threads.
    pub fn count(&self) -> usize {
        self.threads.len()
    }
}

/// Integer work in registers (no memory traffic, no system calls) until `stop`: a CPU-bound
/// process of another app, which the scheduler treats like any other runnable thread.
fn busy(stop: &AtomicBool) {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        black_box(x);
    }
}

impl Drop for Contention {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
