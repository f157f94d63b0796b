//! Keyboard subcommands: `predict` (suggestions for one text) and `eval-keyboard` (type a corpus
//! through the predictor and measure keystroke savings and latency). The predictor is
//! `pocketlm::WordPredictor`, the harness is `crate::keyboard_eval`; this file parses arguments
//! and prints.

use crate::keyboard_eval::{
    evaluate_user_words, evaluate_with, EditReport, EvalOptions, EvalReport, NaivePredictor,
    Suggest, UserWordsRun,
};
use clap::{Args, ValueEnum};
use pocketlm::internals::keyboard::Contractions;
use pocketlm::{
    KeyboardError, KeyboardProfile, Language, Model, PredictorOptions, Suggestions, WordPredictor,
};
use serde_json::{json, Value};
use std::cell::Cell;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

type CliResult = Result<(), String>;

/// Prints to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

fn load(path: &std::path::Path) -> Result<Arc<Model>, String> {
    crate::load_model(path).map_err(|e| e.to_string())
}

/// The predictor profile (`--profile`).
#[derive(Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Profile {
    /// Latency first (large caches).
    #[default]
    Default,
    /// For an input method beside the foreground app: small caches, shorter window.
    LowMemory,
}

impl From<Profile> for KeyboardProfile {
    fn from(p: Profile) -> Self {
        match p {
            Profile::Default => KeyboardProfile::Default,
            Profile::LowMemory => KeyboardProfile::LowMemory,
        }
    }
}

/// The process's anonymous resident memory (`RssAnon` of /proc/self/status) in KiB: heap,
/// KV caches, buffers and thread stacks, not the memory-mapped model file. `None` where
/// /proc is not available (not Linux).
pub(crate) fn rss_anon_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A thread that samples the process's `RssAnon` every `interval` and keeps the maximum: the
/// peak inside calls too (a keyboard extension is killed on the footprint it reaches at any
/// moment), which [`PeakAnon`]'s samples after each call do not see. It costs a read of
/// /proc/self/status per sample on a core the run may want, so it is opt-in.
struct AnonSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Option<u64>>,
}

impl AnonSampler {
    fn start(interval: std::time::Duration) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = None;
            while !flag.load(Ordering::Relaxed) {
                if let Some(now) = rss_anon_kib() {
                    peak = Some(peak.map_or(now, |p: u64| p.max(now)));
                }
                std::thread::sleep(interval);
            }
            peak
        });
        AnonSampler { stop, thread }
    }

    /// Stops sampling; the peak in KiB (`None` without /proc).
    fn finish(self) -> Option<u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().ok().flatten()
    }
}

/// A predictor that samples the process's `RssAnon` after every call and keeps the maximum:
/// the peak anonymous memory of a typing run. (The kernel's peak counter, `VmHWM`, also
/// counts the mapped model file, so it cannot tell the caches' share.) Reading
/// /proc/self/status takes some microseconds, counted in the call's latency.
struct PeakAnon<'a> {
    inner: &'a dyn Suggest,
    peak_kib: Cell<Option<u64>>,
}

impl PeakAnon<'_> {
    fn sample(&self) {
        if let Some(now) = rss_anon_kib() {
            self.peak_kib
                .set(Some(self.peak_kib.get().map_or(now, |p| p.max(now))));
        }
    }
}

impl Suggest for PeakAnon<'_> {
    fn suggest(&self, text_before_cursor: &str) -> Result<Suggestions, KeyboardError> {
        let r = self.inner.suggest(text_before_cursor);
        self.sample();
        r
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

#[derive(Args)]
pub struct PredictArgs {
    #[arg(long)]
    model: PathBuf,
    /// Text before the cursor.
    #[arg(long, allow_hyphen_values = true)]
    text: String,
    /// Number of suggestions.
    #[arg(long, default_value_t = 3)]
    k: usize,
    #[arg(long)]
    threads: Option<usize>,
    /// Predictor profile: `default` (latency first) or `low-memory` (an input method).
    #[arg(long, value_enum, default_value_t = Profile::Default)]
    profile: Profile,
    /// Language of the suggestions: en, es, de, fr, pt or it.
    #[arg(long, default_value = "en", value_parser = parse_language)]
    language: Language,
    /// Also suggest words of the built-in offensive-word list.
    #[arg(long)]
    allow_offensive: bool,
    /// Extra words never to suggest (repeatable; a trailing * matches any ending).
    #[arg(long = "block")]
    block: Vec<String>,
    /// Text before every context (tuning; special tokens parsed, `\n` for a line break).
    /// Default: the model's framing (docs/keyboard.md).
    #[arg(long, allow_hyphen_values = true)]
    prefix: Option<String>,
    /// Output-head rows computed for a vocabulary over 65,536 tokens (tuning; 0 = the full
    /// head).
    #[arg(long)]
    head_rows: Option<usize>,
    #[arg(long)]
    json: bool,
}

/// `--language`: an ISO 639-1 code the keyboard supports.
fn parse_language(code: &str) -> Result<Language, String> {
    Language::parse(code).ok_or_else(|| {
        let all: Vec<&str> = Language::ALL.iter().map(|l| l.as_str()).collect();
        format!("unknown language {code:?}: one of {}", all.join(", "))
    })
}

fn options(k: usize, threads: Option<usize>, profile: Profile) -> PredictorOptions {
    let mut o = PredictorOptions {
        k,
        ..PredictorOptions::for_profile(profile.into())
    };
    if let Some(t) = threads {
        o.threads = t;
    }
    o
}

pub fn predict(a: PredictArgs) -> CliResult {
    let model = load(&a.model)?;
    let mut opts = options(a.k, a.threads, a.profile);
    opts.language = a.language;
    opts.allow_offensive = a.allow_offensive;
    opts.blocklist = a.block.clone();
    if let Some(p) = &a.prefix {
        opts.prefix = Some(p.replace("\\n", "\n"));
    }
    if let Some(h) = a.head_rows {
        opts.head_rows = h;
    }
    let p = WordPredictor::new(model, opts).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let s = p.suggest(&a.text).map_err(|e| e.to_string())?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    let mut text = String::new();
    if a.json {
        let list: Vec<Value> = s
            .items
            .iter()
            .map(|x| json!({"word": x.word, "prob": x.probability, "kind": x.kind.as_str()}))
            .collect();
        let v = json!({
            "suggestions": list, "ms": ms,
            "context_tokens": s.stats.context_tokens,
            "evaluated_tokens": s.stats.evaluated_tokens,
        });
        text = format!("{v}\n");
    } else {
        for (i, x) in s.items.iter().enumerate() {
            text += &format!(
                "{}. {:<20} {:>8.5}  {}\n",
                i + 1,
                x.word,
                x.probability,
                x.kind.as_str()
            );
        }
        if s.items.is_empty() {
            text += "(no suggestions)\n";
        }
        text += &format!(
            "{ms:.1} ms ({} context tokens, {} evaluated)\n",
            s.stats.context_tokens, s.stats.evaluated_tokens
        );
    }
    emit(&text);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Baseline {
    /// Whole context re-run on every keystroke, top-3 next tokens.
    Naive,
}

#[derive(Args)]
pub struct EvalKeyboardArgs {
    #[arg(long)]
    model: PathBuf,
    /// Text file, one message per line.
    #[arg(long)]
    corpus: PathBuf,
    /// Also evaluate a baseline method and show it side by side.
    #[arg(long, value_enum)]
    baseline: Option<Baseline>,
    /// Only the first N non-empty lines.
    #[arg(long)]
    limit: Option<usize>,
    /// Number of suggestions.
    #[arg(long, default_value_t = 3)]
    k: usize,
    #[arg(long)]
    threads: Option<usize>,
    /// Predictor profile: `default` (latency first) or `low-memory` (an input method).
    #[arg(long, value_enum, default_value_t = Profile::Default)]
    profile: Profile,
    /// Language of the corpus and the suggestions: en, es, de, fr, pt or it (all but en
    /// need a multilingual model: Gemma 3 270M).
    #[arg(long, default_value = "en", value_parser = parse_language)]
    language: Language,
    /// Logits cache in MiB (tuning; overrides the profile's).
    #[arg(long)]
    cache_mib: Option<usize>,
    /// Most sessions kept (tuning; overrides the profile's).
    #[arg(long)]
    max_sessions: Option<usize>,
    /// Sessions keeping live recurrent states between keystrokes on a model with recurrent
    /// layers (tuning; overrides the profile's).
    #[arg(long)]
    live_states: Option<usize>,
    /// Bytes of context the model sees (tuning; overrides the profile's).
    #[arg(long)]
    max_context_bytes: Option<usize>,
    /// Candidates per batched beam step (tuning).
    #[arg(long)]
    beam: Option<usize>,
    /// Text before every context (tuning; special tokens parsed). Default: a user turn.
    #[arg(long, allow_hyphen_values = true)]
    prefix: Option<String>,
    /// Most candidate evaluations per keystroke (tuning).
    #[arg(long)]
    max_evals: Option<usize>,
    /// Output-head rows computed for a vocabulary over 65,536 tokens (tuning; 0 = the full
    /// head; default: the predictor's).
    #[arg(long)]
    head_rows: Option<usize>,
    /// Let later batched passes evaluate any candidate, not only those spelling the typed
    /// letters (tuning; the search before session 3).
    #[arg(long)]
    full_later_passes: bool,
    /// Write one JSON line per keystroke (line, byte, ms, rows, passes, ...) to this file.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// The user-words evaluation instead: the corpus (lines with made-up names, each twice,
    /// e.g. tests/fixtures/keyboard-user-words.txt) typed twice with learning on and off;
    /// keystroke savings of the second pass, overall and on the learned words.
    #[arg(long)]
    user_words: bool,
    /// Keep the framing prefix's warm-up in this directory (created if missing): the first
    /// run evaluates and saves it, later runs load it (`warm_start` in `--json`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    #[command(flatten)]
    contend: crate::contend::ContendArgs,
    /// Also sample `RssAnon` every this many milliseconds from a thread of its own, for the
    /// peak inside calls (`peak_anon_in_calls_mib`); `peak_anon_mib` is sampled after each
    /// call only.
    #[arg(long)]
    sample_anon_ms: Option<f64>,
    /// Count a word only when a suggestion equals it exactly: "dont" is then not matched by
    /// an offered "don't" (by default it is, through the language's contraction table; see
    /// `typed_form_words` in --json).
    #[arg(long)]
    exact_match: bool,
    /// Edits while typing: every N-th word of a line is deleted with backspaces (with the
    /// space before it) and typed again; those keystrokes are timed apart (`backspaces` in
    /// --json: their p95 and what rewinds cost, `replayed_tokens_*` on recurrent models).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    backspaces: Option<u16>,
    #[arg(long)]
    json: bool,
}

fn report_json(r: &EvalReport) -> Value {
    json!({
        "ksr": r.ksr,
        "next_word_top1": r.next_word_top1,
        "next_word_top3": r.next_word_top3,
        "completion_top3": {"1": r.completion_top3[0], "2": r.completion_top3[1], "3": r.completion_top3[2]},
        "first_word_completion_top3": r.first_word_completion_top3,
        "first_word_completion_top3_apostrophe": r.first_word_completion_top3_apostrophe,
        "first_word_completion_top3_plain": r.first_word_completion_top3_plain,
        "first_words_apostrophe": r.first_words_apostrophe,
        "first_words_plain": r.first_words_plain,
        "first_word_completion_by_letters": {"1": r.first_word_completion_by_letters[0],
            "2": r.first_word_completion_by_letters[1], "3": r.first_word_completion_by_letters[2]},
        "p50_ms": r.p50_ms, "p95_ms": r.p95_ms, "max_ms": r.max_ms, "mean_ms": r.mean_ms,
        "keystrokes": r.keystrokes, "words": r.words, "lines": r.lines,
        "tokens_per_keystroke": r.tokens_per_keystroke, "passes_per_keystroke": r.passes_per_keystroke,
        "p95_rows": r.p95_rows, "p95_passes": r.p95_passes,
        "passes_histogram": {"0": r.passes_histogram[0], "1": r.passes_histogram[1],
                             "2": r.passes_histogram[2], "3+": r.passes_histogram[3]},
        "typed_form_words": r.typed_form_words,
        "typed_form_words_offered": r.typed_form_words_offered,
        "replayed_per_keystroke": r.replayed_per_keystroke,
        "backspaces": r.edits.as_ref().map(edit_json),
    })
}

fn edit_json(e: &EditReport) -> Value {
    json!({
        "every_nth_word": e.every, "edits": e.edits, "keystrokes": e.keystrokes,
        "p50_ms": e.p50_ms, "p95_ms": e.p95_ms, "max_ms": e.max_ms, "mean_ms": e.mean_ms,
        "all_keystrokes_p95_ms": e.all_keystrokes_p95_ms,
        "tokens_per_keystroke": e.tokens_per_keystroke,
        "rewinds": e.rewinds, "replayed_tokens_mean": e.replayed_tokens_mean,
        "replayed_tokens_max": e.replayed_tokens_max, "rewind_mean_ms": e.rewind_mean_ms,
    })
}

fn run(
    s: &dyn Suggest,
    lines: &[&str],
    typed_forms: Option<&Contractions>,
    opts: EvalOptions,
    quiet: bool,
) -> Result<EvalReport, String> {
    let total = lines.len();
    let name = s.name();
    evaluate_with(s, lines, typed_forms, opts, |done| {
        if !quiet && (done % 50 == 0 || done == total) {
            eprint!("\r{name}: {done}/{total} lines");
            let _ = std::io::stderr().flush();
            if done == total {
                eprintln!();
            }
        }
    })
    .map_err(|e| e.to_string())
}

pub fn eval_keyboard(a: EvalKeyboardArgs) -> CliResult {
    let text = std::fs::read_to_string(&a.corpus)
        .map_err(|e| format!("cannot read corpus {}: {e}", a.corpus.display()))?;
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if let Some(n) = a.limit {
        lines.truncate(n);
    }
    if lines.is_empty() {
        return Err(format!(
            "corpus {} has no non-empty lines",
            a.corpus.display()
        ));
    }
    let anon_start = rss_anon_kib();
    let model = load(&a.model)?;
    let anon_model = rss_anon_kib();
    let mut opts = options(a.k, a.threads, a.profile);
    opts.language = a.language;
    if let Some(m) = a.cache_mib {
        opts.cache_bytes = m << 20;
    }
    if let Some(n) = a.max_sessions {
        opts.max_sessions = n;
    }
    if let Some(n) = a.live_states {
        opts.live_states = n;
    }
    if let Some(n) = a.max_context_bytes {
        opts.max_context_bytes = n;
    }
    if let Some(b) = a.beam {
        opts.beam_width = b;
    }
    if let Some(p) = &a.prefix {
        opts.prefix = Some(p.replace("\\n", "\n"));
    }
    if let Some(m) = a.max_evals {
        opts.max_evals = m;
    }
    if let Some(h) = a.head_rows {
        opts.head_rows = h;
    }
    if a.full_later_passes {
        opts.later_passes_spell_only = false;
    }
    let threads = opts.threads;
    if a.user_words {
        return eval_user_words(&model, opts, &lines, a.json);
    }
    // Start to first suggestion: creating the predictor and its first call on an empty field
    // (with `--state-dir`, the framing's warm-up is loaded or evaluated and saved there).
    let t_start = Instant::now();
    let mut ours = WordPredictor::new(model.clone(), opts).map_err(|e| e.to_string())?;
    if let Some(dir) = &a.state_dir {
        ours = ours.with_state_dir(dir);
    }
    let anon_predictor = rss_anon_kib();
    ours.suggest("").map_err(|e| e.to_string())?;
    let first_suggestion_ms = t_start.elapsed().as_secs_f64() * 1e3;
    let warm = ours.warm_start();
    // The evaluation starts from an empty predictor as before (with a state directory, its
    // first keystroke loads the framing again).
    ours.reset();
    let sampled = PeakAnon {
        inner: &ours,
        peak_kib: Cell::new(None),
    };
    let contention = crate::contend::Contention::start(a.contend.contend)?;
    if let Some(ms) = a.sample_anon_ms {
        if !(ms.is_finite() && ms > 0.0) {
            return Err(format!(
                "--sample-anon-ms must be a positive number of milliseconds, got {ms}"
            ));
        }
    }
    let in_calls = a
        .sample_anon_ms
        .map(|ms| AnonSampler::start(std::time::Duration::from_secs_f64(ms / 1e3)));
    let typed_forms = if a.exact_match {
        None
    } else {
        Contractions::for_language(a.language)
    };
    let eval_opts = EvalOptions {
        backspace_every: a.backspaces.map(usize::from),
    };
    let r = run(&sampled, &lines, typed_forms, eval_opts, a.json)?;
    sampled.sample();
    // Peak over the model and this predictor's run (the baseline runs after it).
    let peak_anon_mib = sampled.peak_kib.get().map(|k| k as f64 / 1024.0);
    let peak_in_calls_mib = in_calls
        .and_then(AnonSampler::finish)
        .map(|k| k as f64 / 1024.0);
    // Where the anonymous memory goes: the process before the model, the model's tables
    // (tokenizer; the weights are mapped, not counted), the predictor (keyboard token tables,
    // first session), and what its caches (logits nodes, KV caches and their logits buffers)
    // hold at the end of the run; the rest of the peak is forward-pass scratch, allocator
    // slack and thread stacks.
    let mib = |k: Option<u64>| k.map(|k| k as f64 / 1024.0);
    let anon_breakdown = json!({
        "process_start": mib(anon_start),
        "after_model_load": mib(anon_model),
        "after_predictor_new": mib(anon_predictor),
        "caches_held_at_end": ours.cached_bytes() as f64 / (1024.0 * 1024.0),
    });
    drop(ours);
    if let Some(path) = &a.trace {
        let mut out = String::new();
        for t in &r.trace {
            let v = json!({"line": t.line, "byte": t.byte, "ms": t.ms, "rows": t.rows,
                "passes": t.passes, "context_tokens": t.context_tokens,
                "reused_tokens": t.reused_tokens, "replayed_tokens": t.replayed_tokens,
                "edit": t.edit,
                "text": format!("{}{}", lines[t.line].get(..t.byte).unwrap_or(""), t.extra)});
            out += &format!("{v}\n");
        }
        std::fs::write(path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let base = match a.baseline {
        Some(Baseline::Naive) => {
            let naive = NaivePredictor::new(model, a.k, threads).map_err(|e| e.to_string())?;
            Some(run(&naive, &lines, typed_forms, eval_opts, a.json)?)
        }
        None => None,
    };
    let contend = contention.count();
    drop(contention);
    if a.json {
        let mut v = report_json(&r);
        v["profile"] = json!(KeyboardProfile::from(a.profile).as_str());
        // Whether a word written without its apostrophe matched its contraction.
        v["typed_form_matching"] = json!(typed_forms.is_some());
        // The per-language block: this run's language and its headline measures.
        let lang = a.language.as_str();
        v["language"] = json!(lang);
        v["per_language"] = json!({ lang: {
            "ksr": r.ksr, "next_word_top1": r.next_word_top1, "next_word_top3": r.next_word_top3,
            "first_word_completion_top3": r.first_word_completion_top3,
            "p95_ms": r.p95_ms, "keystrokes": r.keystrokes, "lines": r.lines,
        }});
        v["peak_anon_mib"] = json!(peak_anon_mib);
        if a.sample_anon_ms.is_some() {
            v["peak_anon_in_calls_mib"] = json!(peak_in_calls_mib);
        }
        v["anon_breakdown_mib"] = anon_breakdown;
        v["first_suggestion_ms"] = json!(first_suggestion_ms);
        if a.state_dir.is_some() {
            v["warm_start"] = json!(warm.map(|w| w.0));
            v["warm_up_ms"] = json!(warm.map(|w| w.1));
        }
        v["contend"] = json!(contend);
        if let Some(b) = &base {
            v["baseline"] = report_json(b);
            v["baseline"]["method"] = json!(b.method);
        }
        emit(&format!("{v}\n"));
    } else {
        let mut cols = vec![&r];
        if let Some(b) = &base {
            cols.push(b);
        }
        let mut text = format!("{:<22}", "");
        for c in &cols {
            text += &format!("{:>12}", c.method);
        }
        text.push('\n');
        let mut row = |name: &str, f: &dyn Fn(&EvalReport) -> String| {
            text += &format!("{name:<22}");
            for c in &cols {
                text += &format!("{:>12}", f(c));
            }
            text.push('\n');
        };
        row("ksr", &|c| format!("{:.3}", c.ksr));
        row("next_word_top1", &|c| format!("{:.3}", c.next_word_top1));
        row("next_word_top3", &|c| format!("{:.3}", c.next_word_top3));
        for j in 0..3 {
            row(&format!("completion_top3 @{}", j + 1), &|c| {
                format!("{:.3}", c.completion_top3[j])
            });
        }
        row("first_word_compl_top3", &|c| {
            format!("{:.3}", c.first_word_completion_top3)
        });
        row("p50_ms", &|c| format!("{:.2}", c.p50_ms));
        row("p95_ms", &|c| format!("{:.2}", c.p95_ms));
        row("max_ms", &|c| format!("{:.2}", c.max_ms));
        row("tokens/keystroke", &|c| {
            format!("{:.2}", c.tokens_per_keystroke)
        });
        row("passes/keystroke", &|c| {
            format!("{:.2}", c.passes_per_keystroke)
        });
        row("keystrokes", &|c| c.keystrokes.to_string());
        row("words", &|c| c.words.to_string());
        if r.edits.is_some() {
            let e = |c: &EvalReport, f: &dyn Fn(&EditReport) -> String| {
                c.edits.as_ref().map_or("-".into(), f)
            };
            row("edit keystrokes", &|c| e(c, &|e| e.keystrokes.to_string()));
            row("edit p95_ms", &|c| e(c, &|e| format!("{:.2}", e.p95_ms)));
            row("edit max_ms", &|c| e(c, &|e| format!("{:.2}", e.max_ms)));
            row("rewinds", &|c| e(c, &|e| e.rewinds.to_string()));
            row("replayed/rewind", &|c| {
                e(c, &|e| format!("{:.1}", e.replayed_tokens_mean))
            });
            row("rewind mean_ms", &|c| {
                e(c, &|e| format!("{:.2}", e.rewind_mean_ms))
            });
        }
        text += &format!("start to first suggestion {first_suggestion_ms:.1} ms");
        if let Some((loaded, ms)) = warm {
            let how = if loaded {
                "loaded"
            } else {
                "evaluated and saved"
            };
            text += &format!(" (framing warm-up {how} in {ms:.1} ms)");
        }
        text.push('\n');
        text += &format!(
            "profile {}, peak RssAnon {}, {contend} busy threads beside the run\n",
            KeyboardProfile::from(a.profile).as_str(),
            peak_anon_mib.map_or("unknown".into(), |m| format!("{m:.1} MiB"))
        );
        if let Some(m) = peak_in_calls_mib {
            text += &format!("peak RssAnon inside calls (sampled): {m:.1} MiB\n");
        }
        emit(&text);
    }
    Ok(())
}

/// `eval-keyboard --user-words`: see `pocketlm::keyboard::evaluate_user_words`.
fn eval_user_words(
    model: &Arc<Model>,
    opts: PredictorOptions,
    lines: &[&str],
    quiet: bool,
) -> CliResult {
    let make = || WordPredictor::new(model.clone(), opts.clone()).map_err(|e| e.to_string());
    let (on, off) = (make()?, make()?);
    let t0 = Instant::now();
    let r = evaluate_user_words(&on, &off, lines, |done| {
        if !quiet {
            eprint!("\ruser words: {done}/4 passes");
            let _ = std::io::stderr().flush();
            if done == 4 {
                eprintln!();
            }
        }
    })
    .map_err(|e| e.to_string())?;
    let run = |u: &UserWordsRun| {
        json!({"first_pass_ksr": u.first_pass_ksr, "second_pass_ksr": u.second_pass_ksr,
               "learned_words_ksr": u.learned_words_ksr,
               "learned_words_offered": u.learned_words_offered})
    };
    if quiet {
        let v = json!({"user_words": {"learning_on": run(&r.on), "learning_off": run(&r.off),
            "learned": r.learned, "occurrences": r.occurrences, "lines": r.lines,
            "seconds": t0.elapsed().as_secs_f64()}});
        emit(&format!("{v}\n"));
    } else {
        let mut text = format!("{:<28}{:>12}{:>12}\n", "", "learning on", "off");
        for (name, f) in [
            (
                "first pass ksr",
                (|u: &UserWordsRun| u.first_pass_ksr) as fn(&UserWordsRun) -> f64,
            ),
            ("second pass ksr", |u| u.second_pass_ksr),
            ("learned words ksr (2nd)", |u| u.learned_words_ksr),
            ("learned words offered (2nd)", |u| u.learned_words_offered),
        ] {
            text += &format!("{name:<28}{:>12.3}{:>12.3}\n", f(&r.on), f(&r.off));
        }
        text += &format!(
            "{} words learned in the first pass ({} second-pass occurrences), {} lines\n",
            r.learned.len(),
            r.occurrences,
            r.lines
        );
        emit(&text);
    }
    Ok(())
}
