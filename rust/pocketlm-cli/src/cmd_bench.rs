//! `pocketlm bench`: prompt-processing and generation speed, time to first token, load time and
//! memory of one model, in this process. `scripts/bench.sh` runs it alternately with llama.cpp's
//! `llama-bench` and prints the comparison.

use clap::Args;
use pocketlm::internals::sampler::argmax;
use pocketlm::{
    generate, ChatMessage, ChatTemplate, Constraint, GenerateOptions, Model, SamplerConfig,
    Session, SessionOptions,
};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long, default_value_t = pocketlm::default_threads())]
    threads: usize,
    /// Repetitions of each measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Prompt lengths to measure (tokens).
    #[arg(long, value_delimiter = ',', default_value = "16,64,128,512")]
    pp: Vec<usize>,
    /// Tokens to generate for the generation-speed measurement.
    #[arg(long, default_value_t = 128)]
    tg: usize,
    #[command(flatten)]
    contend: crate::contend::ContendArgs,
    /// Also decode with a second session of this many threads, alternating with the first rep
    /// by rep (order swapped every rep), so that both see the same load: `tg{N}_vs` and the
    /// median of the per-rep ratios `tg_vs_ratio` (this run's threads over these). For the
    /// contention target "2 threads never slower than 1": `--threads 2 --vs-threads 1
    /// --contend 1`.
    #[arg(long)]
    vs_threads: Option<usize>,
    /// Only the pp and tg measurements: no 256-token memory session, warm-up or time to first
    /// token (for instruction counting under emulation, scripts/bench-neon.sh); the memory
    /// fields then describe this run and `ttft32_ms` is null.
    #[arg(long)]
    minimal: bool,
    /// Also generate under this JSON Schema (greedy, the model asked for such an object) for
    /// `--tg` tokens: `tg_constrained` (tok/s), `constrained_tg_ratio` (the median over reps of
    /// its ratio to generating the same prompt without the schema, alternating rep by rep, order
    /// swapped every rep), `mask_us` (grammar time per generated token), `constrained_forced_fraction` and
    /// `constrained_mask_skipped_fraction` (tokens taken from the unmasked logits, no mask).
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Also prefill (the largest --pp) and decode (--tg) with these LoRA adapters, alternating
    /// rep by rep with the plain model (order swapped every rep): `pp{N}_lora`, `tg{N}_lora`
    /// and the medians of the per-rep ratios over the plain run, `pp_lora_ratio` and
    /// `tg_lora_ratio`; `lora_bytes`, the adapters' tensor bytes.
    #[command(flatten)]
    lora: crate::commands::LoraArgs,
    /// Also save a chat of about this many tokens and compare restoring it with re-reading its
    /// transcript (src/bench_chat.rs): `chat_restore_ms`, `chat_first_text_restored_ms`,
    /// `chat_first_text_reread_ms`, `chat_restore_speedup`, ...
    #[arg(long)]
    chat_restore: Option<usize>,
    #[arg(long)]
    json: bool,
}

/// Constrained generation against the same generation without the constraint: the medians of
/// constrained tok/s, of the per-rep ratios (constrained over unconstrained), of grammar µs per
/// token, of the forced fraction and of the fraction of tokens taken from the unmasked logits
/// without a mask.
struct ConstrainedSpeed {
    tok_s: f64,
    ratio: f64,
    mask_us: f64,
    forced: f64,
    skipped: f64,
}

/// Greedy generation of `tg` tokens of `prompt` (repeated when it ends early): tokens, seconds,
/// and the constraint's grammar µs, forced and mask-skipped tokens summed.
fn timed_generation(
    session: &mut Session,
    prompt: &[u32],
    opts: &mut GenerateOptions,
    tg: usize,
) -> Result<(usize, f64, f64, usize, usize), String> {
    let cancel = AtomicBool::new(false);
    let (mut produced, mut secs, mut mask_us, mut forced, mut skipped) = (0, 0.0, 0.0, 0, 0);
    while produced < tg {
        opts.max_tokens = tg - produced;
        let t = Instant::now();
        let out = generate(session, prompt, opts, &cancel, |_| true).map_err(|e| e.to_string())?;
        secs += t.elapsed().as_secs_f64();
        if out.tokens.is_empty() {
            return Err("the generation produced no tokens".into());
        }
        produced += out.tokens.len();
        if let Some(c) = out.constraint {
            mask_us += c.mask_us;
            forced += c.forced_tokens;
            skipped += c.mask_skipped;
        }
    }
    Ok((produced, secs, mask_us, forced, skipped))
}

/// Constrained generation speed. Each rep generates `tg` tokens under the schema and `tg`
/// tokens of the same prompt without it, in an order swapped every rep, so that both see the
/// same load: the ratio is what the grammar costs, not a change in the machine's load between
/// two separate measurements.
fn constrained_speed(
    model: &std::sync::Arc<Model>,
    session: &mut Session,
    schema_path: &PathBuf,
    tg: usize,
    reps: usize,
) -> Result<ConstrainedSpeed, String> {
    let schema = std::fs::read_to_string(schema_path)
        .map_err(|e| format!("cannot read {}: {e}", schema_path.display()))?;
    let template = ChatTemplate::for_model(model).map_err(|e| e.to_string())?;
    let ask = format!("Reply with a JSON object that follows this JSON Schema:\n{schema}");
    let prompt = template
        .encode(model.tokenizer(), &[ChatMessage::user(ask)], true)
        .map_err(|e| e.to_string())?;
    let mut constrained = GenerateOptions {
        max_tokens: tg,
        sampler: SamplerConfig::greedy(),
        stop: Vec::new(),
        constraint: Some(Constraint::JsonSchema(schema)),
    };
    let mut free = GenerateOptions {
        constraint: None,
        ..constrained.clone()
    };
    // Warm-up: builds the token table once per model and caches the prompt.
    timed_generation(session, &prompt, &mut constrained, 1)?;
    timed_generation(session, &prompt, &mut free, 1)?;
    let (mut speeds, mut ratios, mut mask, mut forced, mut skipped) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        let (c, f) = if rep % 2 == 0 {
            let c = timed_generation(session, &prompt, &mut constrained, tg)?;
            (c, timed_generation(session, &prompt, &mut free, tg)?)
        } else {
            let f = timed_generation(session, &prompt, &mut free, tg)?;
            (timed_generation(session, &prompt, &mut constrained, tg)?, f)
        };
        let speed = c.0 as f64 / c.1;
        speeds.push(speed);
        ratios.push(speed / (f.0 as f64 / f.1));
        mask.push(c.2 / c.0 as f64);
        forced.push(c.3 as f64 / c.0 as f64);
        skipped.push(c.4 as f64 / c.0 as f64);
    }
    Ok(ConstrainedSpeed {
        tok_s: median(speeds),
        ratio: median(ratios),
        mask_us: median(mask),
        forced: median(forced),
        skipped: median(skipped),
    })
}

/// Reads a `kB` field of /proc/self/status (Linux); 0 elsewhere.
fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Deterministic, varied prompt tokens (ordinary vocabulary ids, no control tokens).
fn prompt_tokens(model: &Model, n: usize) -> Vec<u32> {
    let text = "The weather was lovely, so we walked along the river and talked about plans for the weekend. ";
    let mut toks = model
        .tokenizer()
        .encode(&text.repeat(n / 8 + 2), true, false);
    toks.truncate(n);
    toks
}

pub fn bench(a: BenchArgs) -> Result<(), String> {
    if a.reps == 0 || a.tg == 0 {
        return Err("--reps and --tg must be at least 1".into());
    }
    let anon_before = proc_status_kib("RssAnon:");
    // Busy threads for the whole run (load included); stopped when `contention` drops.
    let contention = crate::contend::Contention::start(a.contend.contend)?;
    let t0 = Instant::now();
    let model = crate::load_model(&a.model).map_err(|e| e.to_string())?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    // Memory of a 256-token session (128-token prompt, then generation), measured first so
    // that later, larger benchmark sessions do not inflate it.
    let mut mem_session = Session::new(
        model.clone(),
        SessionOptions {
            context_length: 256,
            threads: a.threads,
        },
    )
    .map_err(|e| e.to_string())?;
    let p = prompt_tokens(&model, if a.minimal { 1 } else { 128 });
    let mut next = argmax(mem_session.eval(&p).map_err(|e| e.to_string())?);
    while !a.minimal && mem_session.len() < 256 {
        next = argmax(mem_session.eval(&[next]).map_err(|e| e.to_string())?);
    }
    let rss_mib = proc_status_kib("VmHWM:") as f64 / 1024.0;
    let anon_mib = proc_status_kib("RssAnon:") as f64 / 1024.0;
    let file_mib = proc_status_kib("RssFile:") as f64 / 1024.0;
    drop(mem_session);

    let max_pp = a.pp.iter().copied().max().unwrap_or(0);
    let ctx = (max_pp + 8)
        .max(32 + a.tg + 8)
        .max(256)
        .max(if a.schema.is_some() { 2048 } else { 0 });
    let opts = SessionOptions {
        context_length: ctx,
        threads: a.threads,
    };
    let mut session = Session::new(model.clone(), opts).map_err(|e| e.to_string())?;

    // Warm-up: page the weights in and size the scratch buffers.
    if !a.minimal {
        session
            .eval(&prompt_tokens(&model, 16))
            .map_err(|e| e.to_string())?;
    }

    let mut results = serde_json::Map::new();
    for &n in &a.pp {
        let toks = prompt_tokens(&model, n);
        let mut times = Vec::new();
        for _ in 0..a.reps {
            session.clear();
            let t = Instant::now();
            session.eval(&toks).map_err(|e| e.to_string())?;
            times.push(t.elapsed().as_secs_f64());
        }
        results.insert(format!("pp{n}"), json!(toks.len() as f64 / median(times)));
    }

    // Time to first token for a 32-token prompt (model loaded, fresh context).
    let toks32 = prompt_tokens(&model, 32);
    let mut ttft = Vec::new();
    for _ in 0..if a.minimal { 0 } else { a.reps } {
        session.clear();
        let t = Instant::now();
        let logits = session.eval(&toks32).map_err(|e| e.to_string())?;
        let _first = argmax(logits);
        ttft.push(t.elapsed().as_secs_f64() * 1e3);
    }

    // Generation: one token at a time after a short prompt.
    let decode = |session: &mut Session| -> Result<f64, String> {
        session.clear();
        let mut next = argmax(session.eval(&toks32[..8]).map_err(|e| e.to_string())?);
        let t = Instant::now();
        for _ in 0..a.tg {
            next = argmax(session.eval(&[next]).map_err(|e| e.to_string())?);
        }
        Ok(a.tg as f64 / t.elapsed().as_secs_f64())
    };
    let mut versus = match a.vs_threads {
        Some(threads) => Some(
            Session::new(model.clone(), SessionOptions { threads, ..opts })
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let (mut tg, mut tg_vs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..a.reps {
        let Some(other) = versus.as_mut() else {
            tg.push(decode(&mut session)?);
            continue;
        };
        let (mine, theirs) = if rep % 2 == 0 {
            let mine = decode(&mut session)?;
            (mine, decode(other)?)
        } else {
            let theirs = decode(other)?;
            (decode(&mut session)?, theirs)
        };
        tg.push(mine);
        tg_vs.push(theirs);
        ratios.push(mine / theirs);
    }

    let tg_median = median(tg);
    results.insert(format!("tg{}", a.tg), json!(tg_median));
    let adapters = a.lora.load(&model)?;
    if !adapters.is_empty() {
        let mut adapted = Session::new(model.clone(), opts).map_err(|e| e.to_string())?;
        adapted.set_adapters(&adapters).map_err(|e| e.to_string())?;
        let pp_toks = prompt_tokens(&model, max_pp.max(1));
        let prefill = |s: &mut Session| -> Result<f64, String> {
            s.clear();
            let t = Instant::now();
            s.eval(&pp_toks).map_err(|e| e.to_string())?;
            Ok(pp_toks.len() as f64 / t.elapsed().as_secs_f64())
        };
        // warm-up of the adapted session's buffers
        prefill(&mut adapted)?;
        let (mut pp_l, mut pp_r, mut tg_l, mut tg_r) = (vec![], vec![], vec![], vec![]);
        for rep in 0..a.reps {
            let ((p0, t0), (p1, t1)) = if rep % 2 == 0 {
                let plain = (prefill(&mut session)?, decode(&mut session)?);
                (plain, (prefill(&mut adapted)?, decode(&mut adapted)?))
            } else {
                let lora = (prefill(&mut adapted)?, decode(&mut adapted)?);
                ((prefill(&mut session)?, decode(&mut session)?), lora)
            };
            pp_l.push(p1);
            pp_r.push(p1 / p0);
            tg_l.push(t1);
            tg_r.push(t1 / t0);
        }
        results.insert(format!("pp{}_lora", pp_toks.len()), json!(median(pp_l)));
        results.insert("pp_lora_ratio".into(), json!(median(pp_r)));
        results.insert(format!("tg{}_lora", a.tg), json!(median(tg_l)));
        results.insert("tg_lora_ratio".into(), json!(median(tg_r)));
        results.insert(
            "lora_bytes".into(),
            json!(adapters
                .iter()
                .map(|(l, _)| l.tensor_bytes())
                .sum::<usize>()),
        );
    }
    if let Some(schema) = &a.schema {
        let c = constrained_speed(&model, &mut session, schema, a.tg, a.reps)?;
        results.insert("tg_constrained".into(), json!(c.tok_s));
        results.insert("constrained_tg_ratio".into(), json!(c.ratio));
        results.insert("mask_us".into(), json!(c.mask_us));
        results.insert("constrained_forced_fraction".into(), json!(c.forced));
        results.insert("constrained_mask_skipped_fraction".into(), json!(c.skipped));
    }
    if let Some(tokens) = a.chat_restore {
        crate::bench_chat::measure(&model, a.threads, tokens, a.reps, &mut results)?;
    }
    if let Some(threads) = a.vs_threads {
        results.insert(format!("tg{}_vs", a.tg), json!(median(tg_vs)));
        results.insert("vs_threads".into(), json!(threads));
        results.insert("tg_vs_ratio".into(), json!(median(ratios)));
    }
    results.insert(
        "ttft32_ms".into(),
        if ttft.is_empty() {
            json!(null)
        } else {
            json!(median(ttft))
        },
    );
    results.insert("load_ms".into(), json!(load_ms));
    results.insert("layout".into(), json!(crate::layout_kind(model.layout())));
    results.insert("rss_mib".into(), json!(rss_mib));
    results.insert("anon_mib".into(), json!(anon_mib));
    results.insert("file_mib".into(), json!(file_mib));
    results.insert(
        "anon_before_load_mib".into(),
        json!(anon_before as f64 / 1024.0),
    );
    results.insert("threads".into(), json!(a.threads));
    results.insert("kernel".into(), json!(pocketlm::kernel_tier()));
    results.insert("contend".into(), json!(contention.count()));
    drop(contention);
    if a.json {
        println!("{}", serde_json::Value::Object(results));
    } else {
        for (k, v) in &results {
            match v.as_f64() {
                Some(x) => println!("{k:>22}: {x:.1}"),
                None => println!("{k:>22}: {v}"),
            }
        }
    }
    Ok(())
}
