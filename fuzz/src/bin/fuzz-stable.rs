//! The fuzz targets without libFuzzer, on stable Rust: seeds, then random mutations of them,
//! for a bounded time per target. A panic or a hang (one input running over `HANG_SECS`) saves
//! the input to `fuzz/regressions/<target>/`, which `cargo test` replays; an abort leaves the
//! input in `<temp>/pocketlm-fuzz-last-<target>`.
//!
//! Usage: `fuzz-stable <seconds per target> [target...]`, or `fuzz-stable seeds <dir>` to write
//! the seed corpora for libFuzzer.

use pocketlm_fuzz::{mutate, repo_root, run, seeds, Rng, TARGETS};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HANG_SECS: u64 = 10;

fn save(target: &str, data: &[u8], why: &str) -> std::path::PathBuf {
    let dir = repo_root().join("fuzz/regressions").join(target);
    std::fs::create_dir_all(&dir).expect("regressions dir");
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("{why}-{hash:016x}"));
    std::fs::write(&path, data).expect("save input");
    path
}

fn fuzz(target: &str, secs: u64) -> (u64, usize) {
    let seeds = seeds(target);
    let last = std::env::temp_dir().join(format!("pocketlm-fuzz-last-{target}"));
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ target.len() as u64);
    let (t0, mut execs, mut found) = (Instant::now(), 0u64, 0usize);
    // Watchdog: a single input running too long is a hang.
    let started = Arc::new(AtomicU64::new(0));
    let watch = started.clone();
    let name = target.to_owned();
    let last_w = last.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(500));
        let s = watch.load(Ordering::Relaxed);
        let now = t0.elapsed().as_millis() as u64;
        if s != 0 && now.saturating_sub(s) > HANG_SECS * 1000 {
            let data = std::fs::read(&last_w).unwrap_or_default();
            let p = save(&name, &data, "hang");
            eprintln!(
                "{name}: HANG (> {HANG_SECS} s), input saved to {}",
                p.display()
            );
            std::process::exit(2);
        }
    });
    let mut i = 0usize;
    while t0.elapsed().as_secs() < secs {
        let mut input = seeds[i % seeds.len().max(1)].clone();
        if i >= seeds.len() {
            mutate(&mut input, &mut rng);
        }
        i += 1;
        std::fs::write(&last, &input).ok();
        started.store(t0.elapsed().as_millis().max(1) as u64, Ordering::Relaxed);
        let r = catch_unwind(AssertUnwindSafe(|| run(target, &input)));
        started.store(0, Ordering::Relaxed);
        execs += 1;
        if r.is_err() {
            let p = save(target, &input, "crash");
            eprintln!("{target}: PANIC, input saved to {}", p.display());
            found += 1;
        }
    }
    (execs, found)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("seeds") {
        let dir = std::path::PathBuf::from(args.get(1).expect("seeds <dir>"));
        for t in TARGETS {
            let d = dir.join(t);
            std::fs::create_dir_all(&d).expect("corpus dir");
            for (i, s) in seeds(t).iter().enumerate() {
                std::fs::write(d.join(format!("seed-{i:04}")), s).expect("write seed");
            }
        }
        return;
    }
    let secs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(30);
    let targets: Vec<&str> = if args.len() > 1 {
        args[1..].iter().map(String::as_str).collect()
    } else {
        TARGETS.to_vec()
    };
    // Panics are expected to be caught and saved; keep their messages short.
    std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    let mut total_found = 0;
    for t in targets {
        let (execs, found) = fuzz(t, secs);
        println!("fuzz {t}: {execs} executions in {secs} s, {found} crashes");
        total_found += found;
    }
    if total_found > 0 {
        std::process::exit(1);
    }
}
