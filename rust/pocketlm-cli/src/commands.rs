//! Subcommand implementations. Each returns `Err(message)` for the user; nothing panics on bad input.

use clap::Args;
use pocketlm::{
    generate as run_generate, internals::gguf::GgufFile,
    internals::perplexity::perplexity_with_adapters, ChatMessage, ChatTemplate, GenerateOptions,
    Model, Role, SamplerConfig, Session, SessionOptions, Tokenizer,
};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

pub type CliResult = Result<(), String>;

fn load(path: &std::path::Path) -> Result<Arc<Model>, String> {
    crate::load_model(path).map_err(|e| e.to_string())
}

fn print_json(v: serde_json::Value) {
    println!("{v}");
}

#[derive(Args)]
pub struct ConvertArgs {
    /// The GGUF file to convert.
    #[arg(long)]
    model: PathBuf,
    /// Where to write the converted GGUF file.
    #[arg(long)]
    out: PathBuf,
    /// Interleave only the types this CPU's kernels read in place (what the layout cache
    /// does); by default every type the layout has, the copy for phones (x86 AVX2 has no
    /// interleaved Q4_K kernel).
    #[arg(long)]
    this_cpu: bool,
    #[arg(long)]
    json: bool,
}

pub fn convert(a: ConvertArgs) -> CliResult {
    use pocketlm::convert::ConvertTarget;
    let start = Instant::now();
    let target = if a.this_cpu {
        ConvertTarget::ThisCpu
    } else {
        ConvertTarget::Portable
    };
    let r = pocketlm::convert::interleave_file_for(&a.model, &a.out, target)
        .map_err(|e| e.to_string())?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if a.json {
        print_json(json!({
            "out": a.out, "interleaved": r.interleaved, "interleaved_bytes": r.interleaved_bytes,
            "unchanged": r.unchanged, "ms": ms,
        }));
    } else {
        println!(
            "wrote {}: {} matrices interleaved ({:.1} MB), {} tensors unchanged, {ms:.0} ms",
            a.out.display(),
            r.interleaved,
            r.interleaved_bytes as f64 / 1e6,
            r.unchanged
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct InfoArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    json: bool,
}

pub fn info(a: InfoArgs) -> CliResult {
    let model = load(&a.model)?;
    let i = model.info();
    if a.json {
        print_json(json!({
            "name": i.name, "architecture": i.architecture, "n_params": i.n_params,
            "quantization": i.quantization, "context_length": i.train_context_length,
            "vocab_size": i.vocab_size, "n_layers": i.n_layers, "n_embd": i.n_embd,
            "file_bytes": i.file_bytes, "has_chat_template": i.has_chat_template,
            "load_ms": model.load_ms(), "kernel": pocketlm::kernel_tier(),
            "layout": crate::layout_kind(model.layout()),
        }));
    } else {
        println!(
            "{} ({}), {:.1}M parameters, {}",
            i.name,
            i.architecture,
            i.n_params as f64 / 1e6,
            i.quantization
        );
        println!(
            "layers {}, width {}, vocabulary {}, trained context {}",
            i.n_layers, i.n_embd, i.vocab_size, i.train_context_length
        );
        println!(
            "loaded in {:.1} ms; kernels: {}",
            model.load_ms(),
            pocketlm::kernel_tier()
        );
        let gguf = model.gguf();
        for k in gguf.keys() {
            if let Some(v) = gguf.get(k) {
                let s = gguf.describe_value(v);
                let s: String = s.chars().take(100).collect();
                println!("  {k} = {s}");
            }
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct TokenizeArgs {
    /// A GGUF model, or a vocabulary-only GGUF file (no weights are needed).
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    text: String,
    #[arg(long)]
    json: bool,
}

pub fn tokenize(a: TokenizeArgs) -> CliResult {
    // Only the tokenizer metadata is read: vocabulary-only files (llama.cpp's ggml-vocab-*.gguf)
    // work as well as full models.
    let file = GgufFile::open(&a.model).map_err(|e| e.to_string())?;
    let tok = Tokenizer::from_gguf(&file).map_err(|e| e.to_string())?;
    let ids = tok.encode(&a.text, true, true);
    if a.json {
        print_json(json!({ "tokens": ids }));
    } else {
        for id in ids {
            println!("{id:>7} {:?}", String::from_utf8_lossy(tok.token_bytes(id)));
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct TemplateArgs {
    /// The chat template (a Hugging Face style Jinja file).
    #[arg(long)]
    file: PathBuf,
    /// The conversation: a JSON array of {"role": "system"|"user"|"assistant", "content": "..."}.
    #[arg(long)]
    messages: PathBuf,
    /// Text of the model's BOS token (the template's `bos_token`).
    #[arg(long, default_value = "")]
    bos: String,
    /// Text of the model's EOS token (the template's `eos_token`).
    #[arg(long, default_value = "")]
    eos: String,
    /// Do not end the prompt with the opening of the assistant's turn.
    #[arg(long)]
    no_generation_prompt: bool,
    #[arg(long)]
    json: bool,
}

pub fn template(a: TemplateArgs) -> CliResult {
    let src = std::fs::read_to_string(&a.file).map_err(|e| format!("{}: {e}", a.file.display()))?;
    let raw = std::fs::read_to_string(&a.messages)
        .map_err(|e| format!("{}: {e}", a.messages.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&raw).map_err(|e| format!("{}: {e}", a.messages.display()))?;
    let items = v.as_array().ok_or_else(|| {
        format!(
            "{}: expected a JSON array of {{\"role\", \"content\"}} objects",
            a.messages.display()
        )
    })?;
    let mut messages = Vec::with_capacity(items.len());
    for (i, m) in items.iter().enumerate() {
        let role = match m["role"].as_str() {
            Some("system") => Role::System,
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            other => {
                return Err(format!(
                    "message {i}: role {other:?} is not one of \"system\", \"user\", \"assistant\""
                ))
            }
        };
        let content = m["content"]
            .as_str()
            .ok_or_else(|| format!("message {i}: \"content\" must be a string"))?;
        messages.push(ChatMessage::new(role, content));
    }
    let text = ChatTemplate::new(&src, &a.bos, &a.eos)
        .and_then(|t| t.render(&messages, !a.no_generation_prompt))
        .map_err(|e| e.to_string())?;
    if a.json {
        print_json(json!({ "text": text }));
    } else {
        print!("{text}");
    }
    Ok(())
}

/// Sampling flags shared by generating subcommands.
#[derive(Args, Clone)]
pub struct SamplingArgs {
    /// Always take the most likely token (same as --temp 0).
    #[arg(long)]
    greedy: bool,
    #[arg(long, default_value_t = 0.8)]
    temp: f32,
    #[arg(long, default_value_t = 40)]
    top_k: usize,
    #[arg(long, default_value_t = 0.95)]
    top_p: f32,
    #[arg(long, default_value_t = 0.05)]
    min_p: f32,
    #[arg(long, default_value_t = 1.0)]
    repeat_penalty: f32,
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
}

impl SamplingArgs {
    pub fn config(&self) -> SamplerConfig {
        SamplerConfig {
            temperature: if self.greedy { 0.0 } else { self.temp },
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repeat_penalty,
            repeat_last_n: 64,
            seed: self.seed,
        }
    }
}

/// `--lora FILE[:SCALE]` (repeatable): LoRA adapters in llama.cpp's GGUF format.
#[derive(Args, Default)]
pub struct LoraArgs {
    /// Apply a LoRA adapter (llama.cpp's GGUF format) with a scale (default 1); repeatable.
    #[arg(long = "lora", value_name = "FILE[:SCALE]")]
    lora: Vec<String>,
    /// How to hold the adapters' matrices: `as-file` (default); `f16`, F32 matrices as F16
    /// (half the memory and the bytes a decoded token reads; the products of the adapter
    /// converted to F16); `q8-0`, the `A`s quantized to Q8_0 and the `B`s at F16 (a quarter
    /// less than F16; the products of `convert_lora_to_gguf.py --outtype q8_0`'s file).
    #[arg(long = "lora-precision", value_enum, default_value_t)]
    lora_precision: LoraPrecision,
}

/// `--lora-precision`: pocketlm::AdapterPrecision on the command line.
#[derive(Clone, Copy, Default, clap::ValueEnum)]
enum LoraPrecision {
    #[default]
    AsFile,
    F16,
    #[value(name = "q8-0", alias = "q8_0")]
    Q8_0,
}

impl LoraArgs {
    /// The `--lora` arguments as given.
    pub fn specs(&self) -> &[String] {
        &self.lora
    }

    /// The adapters, loaded for `model`, with their scales.
    pub fn load(
        &self,
        model: &Arc<pocketlm::Model>,
    ) -> Result<Vec<(Arc<pocketlm::LoraAdapter>, f32)>, String> {
        self.lora
            .iter()
            .map(|spec| {
                let (path, scale) = parse_lora_spec(spec)?;
                let precision = match self.lora_precision {
                    LoraPrecision::AsFile => pocketlm::AdapterPrecision::AsFile,
                    LoraPrecision::F16 => pocketlm::AdapterPrecision::F16,
                    LoraPrecision::Q8_0 => pocketlm::AdapterPrecision::Q8_0,
                };
                let a = pocketlm::LoraAdapter::load_with(model, path, precision)
                    .map_err(|e| format!("--lora {spec}: {e}"))?;
                Ok((a, scale))
            })
            .collect()
    }

    /// Loads the adapters and attaches them to `session`.
    pub fn attach(&self, session: &mut Session) -> Result<(), String> {
        let adapters = self.load(session.model())?;
        session.set_adapters(&adapters).map_err(|e| e.to_string())
    }
}

/// `FILE[:SCALE]`: the scale after the last colon when it is a number, else 1. Scales that
/// are not finite are refused.
fn parse_lora_spec(spec: &str) -> Result<(&str, f32), String> {
    let (path, scale) = match spec.rsplit_once(':') {
        Some((p, s)) if !p.is_empty() => match s.parse::<f32>() {
            Ok(v) => (p, v),
            Err(_) => (spec, 1.0),
        },
        _ => (spec, 1.0),
    };
    if !scale.is_finite() {
        return Err(format!(
            "--lora {spec}: the scale {scale} is not a finite number"
        ));
    }
    Ok((path, scale))
}

#[derive(Args)]
pub struct GenerateArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    prompt: String,
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Stop before this string (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    #[arg(long, default_value_t = 2048)]
    ctx: usize,
    #[arg(long, default_value_t = pocketlm::default_threads())]
    threads: usize,
    /// What the output must match (JSON Schema, regex, grammar or choices).
    #[command(flatten)]
    constraint: crate::cmd_structured::ConstraintArgs,
    /// Wrap the prompt as a user message in the model's chat template (and stop at its end
    /// of turn).
    #[arg(long)]
    chat: bool,
    #[command(flatten)]
    lora: LoraArgs,
    /// After the generation, save the session (prompt and generated tokens, their KV cache)
    /// to this snapshot file (docs/state.md).
    #[arg(long, value_name = "FILE")]
    save_state: Option<PathBuf>,
    /// Continue from a snapshot saved by --save-state with the same model: the prompt is
    /// appended to the restored tokens (without a BOS token), and only it is evaluated.
    #[arg(long, value_name = "FILE", conflicts_with = "chat")]
    state: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn generate(a: GenerateArgs) -> CliResult {
    let model = load(&a.model)?;
    let constraint = a.constraint.constraint()?;
    let mut stop = a.stop.clone();
    let prompt = if a.chat {
        let template = pocketlm::ChatTemplate::for_model(&model).map_err(|e| e.to_string())?;
        stop.extend(template.stop_strings().iter().cloned());
        template
            .encode(
                model.tokenizer(),
                &[pocketlm::ChatMessage::user(a.prompt.clone())],
                true,
            )
            .map_err(|e| e.to_string())?
    } else {
        model.tokenizer().encode(&a.prompt, a.state.is_none(), true)
    };
    let mut session = Session::new(
        model.clone(),
        SessionOptions {
            context_length: a.ctx,
            threads: a.threads,
        },
    )
    .map_err(|e| e.to_string())?;
    a.lora.attach(&mut session)?;
    // The model's fingerprint (hashed once per load) is timed apart from the snapshot I/O.
    let mut fingerprint_ms = None;
    if a.state.is_some() || a.save_state.is_some() {
        let t = Instant::now();
        model.gguf().fingerprint().map_err(|e| e.to_string())?;
        fingerprint_ms = Some(t.elapsed().as_secs_f64() * 1e3);
    }
    // Restored tokens come first; `generate` then evaluates only what follows them.
    let mut state_load_ms = None;
    let prompt = match &a.state {
        Some(path) => {
            let t = Instant::now();
            session.load_state_file(path).map_err(|e| e.to_string())?;
            state_load_ms = Some(t.elapsed().as_secs_f64() * 1e3);
            [session.tokens(), &prompt[..]].concat()
        }
        None => prompt,
    };
    let state_tokens = session.len();
    let opts = GenerateOptions {
        max_tokens: a.max_tokens,
        sampler: a.sampling.config(),
        stop,
        constraint,
    };
    let cancel = AtomicBool::new(false);
    let t0 = Instant::now();
    let mut first_token_ms = None;
    let json = a.json;
    let out = run_generate(&mut session, &prompt, &opts, &cancel, |delta| {
        first_token_ms.get_or_insert_with(|| t0.elapsed().as_secs_f64() * 1e3);
        if !json {
            print!("{delta}");
            let _ = std::io::stdout().flush();
        }
        true
    })
    .map_err(|e| e.to_string())?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let saved = match &a.save_state {
        Some(path) => Some(save_generation(&mut session, &prompt, &out.tokens, path)?),
        None => None,
    };
    if json {
        print_json(json!({
            "prompt_tokens": prompt,
            "state_tokens": state_tokens,
            "fingerprint_ms": fingerprint_ms,
            "state_load_ms": state_load_ms,
            "state_save_ms": saved.map(|s| s.0),
            "state_bytes": saved.map(|s| s.1),
            "state_saved_tokens": saved.map(|s| s.2),
            "tokens": out.tokens,
            "text": out.text,
            "stop_reason": out.stop_reason.as_str(),
            "ms": ms,
            // Constrained: the output is a full match (valid) and ended there (complete).
            // Free text: valid is null, complete means the model ended it.
            "valid": out.constraint.map(|c| c.valid),
            "complete": out.constraint.map_or(
                out.stop_reason == pocketlm::StopReason::EndOfGeneration,
                |c| c.complete,
            ),
            "forced_tokens": out.constraint.map(|c| c.forced_tokens),
            "mask_skipped": out.constraint.map(|c| c.mask_skipped),
            "mask_us": out.constraint.map(|c| c.mask_us),
        }));
    } else {
        println!();
        eprintln!(
            "[{} prompt tokens, {} generated, {:.0} ms, stop: {}]",
            prompt.len(),
            out.tokens.len(),
            ms,
            out.stop_reason.as_str()
        );
        if let Some(c) = out.constraint {
            eprintln!(
                "[constraint: valid {}, complete {}, {} forced tokens]",
                c.valid, c.complete, c.forced_tokens
            );
        }
        if let Some(ms) = state_load_ms {
            eprintln!("[state: {state_tokens} tokens restored in {ms:.1} ms]");
        }
        if let Some((ms, bytes, n)) = saved {
            eprintln!("[state: {n} tokens saved, {bytes} bytes, {ms:.1} ms]");
        }
    }
    Ok(())
}

/// Saves the session holding the prompt and every generated token (the last one sampled is
/// evaluated first: generation stops before evaluating it) to `path`; returns the time spent
/// saving (ms), the file's size and the tokens saved. Tokens past the context are not saved.
fn save_generation(
    session: &mut Session,
    prompt: &[u32],
    generated: &[u32],
    path: &PathBuf,
) -> Result<(f64, u64, usize), String> {
    let all = [prompt, generated].concat();
    let n = all.len().min(session.context_length());
    if session.len() != n || session.tokens() != &all[..n] {
        session.sync_to(&all[..n]).map_err(|e| e.to_string())?;
    }
    let t = Instant::now();
    let bytes = session.save_state_file(path).map_err(|e| e.to_string())?;
    Ok((t.elapsed().as_secs_f64() * 1e3, bytes, n))
}

#[derive(Args)]
pub struct ScoreArgs {
    #[arg(long)]
    model: PathBuf,
    /// Text file to score.
    #[arg(long)]
    file: PathBuf,
    #[arg(long, default_value_t = 128)]
    ctx: usize,
    #[arg(long, default_value_t = pocketlm::default_threads())]
    threads: usize,
    #[command(flatten)]
    lora: LoraArgs,
    #[arg(long)]
    json: bool,
}

pub fn score(a: ScoreArgs) -> CliResult {
    let model = load(&a.model)?;
    let text =
        std::fs::read(&a.file).map_err(|e| format!("cannot read {}: {e}", a.file.display()))?;
    let text = String::from_utf8(text)
        .map_err(|_| format!("{} is not valid UTF-8 text", a.file.display()))?;
    let t0 = Instant::now();
    let adapters = a.lora.load(&model)?;
    let p = perplexity_with_adapters(&model, &text, a.ctx, a.threads, &adapters)
        .map_err(|e| e.to_string())?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if a.json {
        print_json(
            json!({ "ppl": p.ppl, "chunks": p.chunks, "scored": p.scored, "tokens": p.tokens, "ms": ms }),
        );
    } else {
        println!(
            "perplexity {:.4} over {} chunks of {} ({} tokens scored, {:.1} s)",
            p.ppl,
            p.chunks,
            a.ctx,
            p.scored,
            ms / 1e3
        );
    }
    Ok(())
}
