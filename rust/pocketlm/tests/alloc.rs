//! Steady-state decoding does not touch the heap (issue 3: "no heap allocation per token").
//!
//! A counting global allocator (its own test binary, so no other test shares it) wraps
//! one-token steps of the real SmolLM2 on 2 threads: single-sequence `Session::eval` and the
//! keyboard's batched `Session::decode_batch`. The only allocations allowed are those of the
//! steps where the KV cache grows (it grows in steps of positions, visible through
//! `Session::cache_bytes`), and in a batched step the few bytes of the per-call list of caches.
//!
//! No test harness (`harness = false` in Cargo.toml): libtest's main thread allocates when it
//! reports a test running for over 60 seconds (as this one does under qemu-user), and the
//! counter would blame that on the decode step running at the time.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{model_path, SMOLLM2};
use pocketlm::Model;
use pocketlm::{Session, SessionOptions};

/// Counts allocations and allocated bytes (every thread: the pool's workers too).
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
/// The largest single allocation since it was last reset.
static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated and not yet freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most bytes live at once since it was last reset.
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn note(size: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size, Ordering::Relaxed);
    LARGEST.fetch_max(size, Ordering::Relaxed);
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged;
// counting has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// (allocations, bytes) made while `f` runs.
fn counted(f: impl FnOnce()) -> (usize, usize) {
    let (a0, b0) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
    f();
    (
        ALLOCS.load(Ordering::SeqCst) - a0,
        BYTES.load(Ordering::SeqCst) - b0,
    )
}

fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// The model file, then `pocketlm convert`'s interleaved copy (its kernels, and the per-thread
/// buffer of the de-interleaving paths, which grows once). One check at a time: the allocation
/// counter is global, so nothing else may run meanwhile. A failed check panics (exit code 101).
fn main() {
    println!(
        "running tests/alloc.rs (no harness) on kernel tier {}",
        pocketlm::kernel_tier()
    );
    check_decode_allocations(&model_path(SMOLLM2));
    check_prompt_buffers_freed(&model_path(SMOLLM2));
    println!("a_prompts_row_buffers_are_freed ... ok");
    check_wide_prompt_scratch();
    println!("a_wide_models_prompt_takes_fewer_rows_at_once ... ok");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x8.gguf");
    // The conversion streams the file (an app converts on first load, `Model::load_with`):
    // no allocation near the model's size, only one tensor's worth at a time.
    LARGEST.store(0, Ordering::SeqCst);
    pocketlm::convert::interleave_file(&model_path(SMOLLM2), &out).unwrap();
    let largest = LARGEST.load(Ordering::SeqCst);
    let file_len = std::fs::metadata(&out).unwrap().len() as usize;
    assert!(
        largest < file_len / 3,
        "converting allocated {largest} bytes at once for a {file_len}-byte model"
    );
    println!("interleave_file_streams ... ok (largest allocation {largest} of {file_len} bytes)");
    check_decode_allocations(&out);
    println!(
        "decoding_allocates_only_when_the_kv_cache_grows ... ok (model file and interleaved copy)"
    );
}

/// The model in `file` and a 512-position session on 2 threads.
fn load_session(file: &std::path::Path) -> (std::sync::Arc<Model>, Session) {
    let model = Model::load(file).unwrap();
    let opts = SessionOptions {
        context_length: 512,
        threads: 2,
    };
    let session = Session::new(model.clone(), opts).unwrap();
    (model, session)
}

fn check_decode_allocations(file: &std::path::Path) {
    let (model, mut s) = load_session(file);
    let prompt = model
        .tokenizer()
        .encode("The weather today is sunny and", true, false);
    let mut tok = argmax(s.eval(&prompt).unwrap());

    // Single sequence: 150 greedy steps, crossing at least two cache growth steps.
    let (mut growths, mut steps) = (0, 0);
    for _ in 0..150 {
        let cache_before = s.cache_bytes();
        let mut next = 0;
        let (allocs, bytes) = counted(|| next = argmax(s.eval(&[tok]).unwrap()));
        let grew = s.cache_bytes() != cache_before;
        growths += grew as usize;
        steps += 1;
        if !grew {
            assert_eq!(
                (allocs, bytes),
                (0, 0),
                "decode step at position {} allocated {allocs} times ({bytes} bytes)",
                s.len() - 1
            );
        }
        tok = next;
    }
    assert!(
        (2..=4).contains(&growths),
        "the cache grew in {growths} of {steps} steps: it should grow in steps of positions"
    );

    // Batched decode of 3 sequences (keyboard beams): no per-token buffers.
    let mut beams: Vec<Session> = (0..3).map(|_| s.fork()).collect();
    let mut toks = [tok, 13, 29];
    let mut quiet_steps = 0;
    for step in 0..40 {
        let caches_before: Vec<usize> = beams.iter().map(|b| b.cache_bytes()).collect();
        let mut refs: Vec<&mut Session> = beams.iter_mut().collect();
        let (allocs, bytes) = counted(|| Session::decode_batch(&mut refs, &toks).unwrap());
        drop(refs);
        let grew = beams
            .iter()
            .zip(&caches_before)
            .any(|(b, &c)| b.cache_bytes() != c);
        // The first steps size the leading session's buffers for 3 rows (and the threads'
        // de-interleaving buffers where the tier de-interleaves 3-row batches).
        if !grew && step > 2 {
            quiet_steps += 1;
            assert!(
                allocs <= 1 && bytes <= 3 * std::mem::size_of::<usize>(),
                "batched step {step} allocated {allocs} times ({bytes} bytes)"
            );
        }
        for (t, b) in toks.iter_mut().zip(&beams) {
            *t = argmax(b.logits().unwrap());
        }
    }
    assert!(
        quiet_steps >= 28,
        "only {quiet_steps} batched steps were checked"
    );
}

/// A prompt's forward-pass buffers (sized for a chunk of up to 64 rows) are freed once it is
/// evaluated: the decode steps after it need one row's. Without that, SmolLM2 keeps about
/// 1.5 MB of them for the session's life (a 1B model 6.3 MiB).
fn check_prompt_buffers_freed(file: &std::path::Path) {
    let (model, mut s) = load_session(file);
    let tok = model.tokenizer();
    // A first short prompt sizes what every evaluation keeps (the logits row, the tokens).
    s.eval(&tok.encode("Hello there", true, false)).unwrap();
    let text =
        "The weather today is sunny and warm, so we walked along the river to the old mill, \
                where the children fed the ducks and we sat on the bench by the water until the \
                sun went down behind the hills and the air turned cold.";
    let prompt = tok.encode(text, false, false);
    assert!(prompt.len() > 40, "the prompt should fill a large batch");
    let live_before = LIVE.load(Ordering::SeqCst);
    let next = argmax(s.eval(&prompt).unwrap());
    let grown = LIVE.load(Ordering::SeqCst).saturating_sub(live_before);
    // SmolLM2's buffers for a batch of `m` rows: about 24 KB per row (the activations, the
    // feed-forward's gate and up), so the prompt's batch would keep over 1 MB.
    let limit = 256 * 1024;
    assert!(
        grown < limit,
        "after a {}-token prompt the heap holds {grown} more bytes (limit {limit})",
        prompt.len()
    );
    // Decoding goes on from there.
    s.eval(&[next]).unwrap();
}

/// A prompt's row buffers are bounded in bytes, not only in rows: a model whose feed-forward
/// is very wide (a synthetic Llama with 32,768-wide Q4_0 feed-forward matrices: 264 KB of row
/// buffers per token, where Gemma 4 E2B's are 227 KB) evaluates a 64-token prompt in passes of
/// 32 rows (10 MiB of row buffers at most). In one 64-row pass its buffers alone would take
/// 17 MB.
fn check_wide_prompt_scratch() {
    use pocketlm::internals::gguf::synthetic::{SyntheticArch, SyntheticModel, EMBD, LAYERS};
    use pocketlm::internals::gguf::WriteValue;
    use pocketlm::internals::quant::GgmlType;
    const FF: usize = 32_768;
    let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q4_0);
    m.set(&m.key("feed_forward_length"), WriteValue::U32(FF as u32));
    // Q4_0 blocks of 32 values: an f16 scale of 1/64, then 16 bytes of 4-bit values.
    let q4 = |rows: usize, cols: usize| -> Vec<u8> {
        let mut out = Vec::with_capacity(rows * cols / 32 * 18);
        for b in 0..rows * cols / 32 {
            out.extend_from_slice(&0x2400u16.to_le_bytes());
            out.extend((0..16).map(|i| (b * 7 + i * 13) as u8));
        }
        out
    };
    for l in 0..LAYERS {
        let t = |n: &str| format!("blk.{l}.{n}.weight");
        m.tensor(
            &t("ffn_gate"),
            &[EMBD as u64, FF as u64],
            GgmlType::Q4_0,
            q4(FF, EMBD),
        );
        m.tensor(
            &t("ffn_up"),
            &[EMBD as u64, FF as u64],
            GgmlType::Q4_0,
            q4(FF, EMBD),
        );
        m.tensor(
            &t("ffn_down"),
            &[FF as u64, EMBD as u64],
            GgmlType::Q4_0,
            q4(EMBD, FF),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.gguf");
    std::fs::write(&path, m.to_bytes()).unwrap();
    let (_model, mut s) = load_session(&path);
    s.eval(&[1, 2]).unwrap();
    let prompt: Vec<u32> = (0..64).map(|i| 3 + (i * 5) % 200).collect();
    let live_before = LIVE.load(Ordering::SeqCst);
    PEAK.store(live_before, Ordering::SeqCst);
    s.eval(&prompt).unwrap();
    let peak = PEAK.load(Ordering::SeqCst) - live_before;
    // 32 rows of f32 row buffers take 8.4 MB; the quantized inputs and the attention's
    // buffers come on top.
    let limit = 12 << 20;
    assert!(
        peak < limit,
        "a 64-token prompt took {peak} bytes of heap at its peak (limit {limit})"
    );
}
