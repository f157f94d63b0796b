//! `pocketlm`: the command-line face of the PocketLM core. Every subcommand prints
//! human-readable output, or one JSON object with `--json` (field names are a stable contract).

mod bench_chat;
mod cmd_bench;
mod cmd_keyboard;
mod cmd_reply;
mod cmd_reply_head;
mod cmd_reply_prior;
mod cmd_structured;
mod commands;
mod contend;
mod keyboard_eval;
mod reply_eval;
mod reply_head;
mod reply_prior;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pocketlm",
    version,
    about = "On-device small language models: keyboard suggestions, reply drafts, generation"
)]
struct Cli {
    /// Run models from their interleaved copy in DIR (written on first use, as large as the
    /// model; the same outputs, faster decode), with the tokenizer's tables mapped from a file
    /// there: what an app gets with `Model.loadWithLayoutCache`. Any command that loads a
    /// model accepts it.
    #[arg(long, global = true, value_name = "DIR")]
    layout_cache: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// `--layout-cache`, set once from the command line before any command runs.
static LAYOUT_CACHE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();

/// Loads a model the way every command does: through the layout cache given with
/// `--layout-cache`, if any (what happened is told on stderr, so `--json` output is unchanged).
fn load_model(
    path: &std::path::Path,
) -> Result<std::sync::Arc<pocketlm::Model>, pocketlm::LoadError> {
    let opts = pocketlm::LoadOptions {
        layout_cache: LAYOUT_CACHE.get().cloned().flatten(),
    };
    let model = pocketlm::Model::load_with(path, &opts)?;
    if opts.layout_cache.is_some() {
        eprintln!("layout cache: {}", layout_text(model.layout()));
        match model.tokenizer().tables_file() {
            Some(p) => eprintln!("tokenizer tables: mapped from {}", p.display()),
            None => eprintln!("tokenizer tables: on the heap (the cache could not be used)"),
        }
    }
    Ok(model)
}

/// `Model::layout` in a line.
fn layout_text(status: &pocketlm::LayoutCacheStatus) -> String {
    use pocketlm::LayoutCacheStatus as S;
    match status {
        S::NotRequested => "not requested".into(),
        S::NotNeeded => "not needed (nothing to interleave)".into(),
        S::Hit { path } => format!("hit, running {}", path.display()),
        S::Converted {
            path,
            ms,
            discarded,
        } => format!(
            "converted in {ms:.0} ms, running {}{}",
            path.display(),
            discarded
                .as_ref()
                .map(|d| format!(" (replaced a copy: {d})"))
                .unwrap_or_default()
        ),
        S::Fallback { reason } => format!("not used, running the original file: {reason}"),
    }
}

/// `Model::layout` as one word for `--json` output.
fn layout_kind(status: &pocketlm::LayoutCacheStatus) -> &'static str {
    use pocketlm::LayoutCacheStatus as S;
    match status {
        S::NotRequested => "not_requested",
        S::NotNeeded => "not_needed",
        S::Hit { .. } => "hit",
        S::Converted { .. } => "converted",
        S::Fallback { .. } => "fallback",
    }
}

#[derive(Subcommand)]
enum Command {
    /// Show a model's metadata and architecture.
    Info(commands::InfoArgs),
    /// Write a copy of a model with its weight matrices interleaved for the decode kernels
    /// (same outputs; faster decode on x86 AVX-512).
    Convert(commands::ConvertArgs),
    /// Tokenize text (special tokens parsed, BOS added where the model adds it).
    Tokenize(commands::TokenizeArgs),
    /// Render a chat template for a conversation (prints the prompt text; exits 1 on error).
    Template(commands::TemplateArgs),
    /// Generate a continuation of a prompt.
    Generate(commands::GenerateArgs),
    /// Perplexity of a text file, computed like `llama-perplexity`.
    Score(commands::ScoreArgs),
    /// Speed, time to first token, load time and memory of a model (see `make bench`).
    Bench(cmd_bench::BenchArgs),
    /// Keyboard suggestions (next word, completion, correction) for the text before the cursor.
    Predict(cmd_keyboard::PredictArgs),
    /// Type a corpus through the keyboard predictor: keystroke savings, accuracy, latency.
    EvalKeyboard(cmd_keyboard::EvalKeyboardArgs),
    /// Up to 3 short reply suggestions for a message just received.
    Reply(cmd_reply::ReplyArgs),
    /// Interactive streaming chat (Ctrl-C cancels the current answer).
    Chat(cmd_reply::ChatArgs),
    /// Draft replies for a file of messages: validity, diversity, length, latency.
    EvalReply(cmd_reply::EvalReplyArgs),
    /// Train the reply drafter's cluster prior from the labelled reply cases (a build tool).
    TrainReplyPrior(cmd_reply_prior::TrainReplyPriorArgs),
    /// Pick the most likely of a few labels for a text (length-normalised log-probability).
    Classify(cmd_structured::ClassifyArgs),
    /// Classify a labelled JSONL file (e.g. support-ticket triage): accuracy, confusion.
    EvalClassify(cmd_structured::EvalClassifyArgs),
    /// Extract calendar fields from labelled messages, with and without a JSON Schema
    /// constraint: field accuracy, parse rate.
    EvalExtract(cmd_structured::EvalExtractArgs),
    /// Train the reply drafter's reading head (over the model's hidden states) from the
    /// labelled reply cases (a build tool).
    TrainReplyHead(cmd_reply_head::TrainReplyHeadArgs),
}

/// Panics inside minijinja are contained by `pocketlm::chat_template` and reported as a typed
/// template error; keep the default hook from also printing them as a crash. A reader that
/// closes stdout early (`pocketlm tokenize ... | head`) ends the run quietly, as a Unix tool
/// does, instead of a "failed printing to stdout" panic.
fn quiet_contained_template_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_closed_stdout(info) {
            std::process::exit(0);
        }
        let in_template_engine = info
            .location()
            .is_some_and(|l| l.file().contains("minijinja"));
        if !in_template_engine {
            default_hook(info);
        }
    }));
}

/// Whether a panic is `println!` finding stdout closed by its reader.
fn is_closed_stdout(info: &std::panic::PanicHookInfo) -> bool {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
}

fn main() -> ExitCode {
    quiet_contained_template_panics();
    let cli = Cli::parse();
    let _ = LAYOUT_CACHE.set(cli.layout_cache);
    let result = match cli.command {
        Command::Info(a) => commands::info(a),
        Command::Convert(a) => commands::convert(a),
        Command::Tokenize(a) => commands::tokenize(a),
        Command::Template(a) => commands::template(a),
        Command::Generate(a) => commands::generate(a),
        Command::Score(a) => commands::score(a),
        Command::Bench(a) => cmd_bench::bench(a),
        Command::Predict(a) => cmd_keyboard::predict(a),
        Command::EvalKeyboard(a) => cmd_keyboard::eval_keyboard(a),
        Command::Reply(a) => cmd_reply::reply(a),
        Command::Chat(a) => cmd_reply::chat(a),
        Command::EvalReply(a) => cmd_reply::eval_reply(a),
        Command::TrainReplyPrior(a) => cmd_reply_prior::train_reply_prior(a),
        Command::Classify(a) => cmd_structured::classify(a),
        Command::EvalClassify(a) => cmd_structured::eval_classify(a),
        Command::EvalExtract(a) => cmd_structured::eval_extract(a),
        Command::TrainReplyHead(a) => cmd_reply_head::train_reply_head(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
