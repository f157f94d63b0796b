//! `pocketlm bench --chat-restore N`: what a saved chat saves. A chat whose first message is
//! about N tokens is answered and saved; then, rep by rep (order swapped every rep), a follow-up
//! is answered by (a) a chat restored from the saved file and (b) a new chat given the same
//! transcript, which must read it all again (what an app without saved state does). Reported:
//! `chat_tokens` (the saved conversation's prompt tokens), `chat_save_ms`, `chat_restore_ms`
//! (reading the file into a new chat), and the time from starting to the follow-up's first text,
//! `chat_first_text_restored_ms` (restore included) and `chat_first_text_reread_ms`, with
//! `chat_restore_speedup` (the median of the per-rep ratios reread / restored).

use pocketlm::{ChatOptions, ChatSession, GenerateOptions, Model, SamplerConfig};
use serde_json::{json, Map, Value};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Milliseconds from `start` until `chat` streams the first text of its answer to `message`.
fn first_text_ms(chat: &mut ChatSession, message: &str, start: Instant) -> Result<f64, String> {
    let mut first = None;
    chat.send(message, &AtomicBool::new(false), |t| {
        if first.is_none() && !t.is_empty() {
            first = Some(ms(start));
        }
        true
    })
    .map_err(|e| e.to_string())?;
    first.ok_or_else(|| "the follow-up produced no text".to_string())
}

pub fn measure(
    model: &Arc<Model>,
    threads: usize,
    tokens: usize,
    reps: usize,
    out: &mut Map<String, Value>,
) -> Result<(), String> {
    let options = ChatOptions {
        system_prompt: Some("You are a helpful assistant.".into()),
        context_length: (tokens * 2).max(512),
        threads,
        generate: GenerateOptions {
            max_tokens: 8,
            sampler: SamplerConfig::greedy(),
            ..GenerateOptions::default()
        },
        answer_reserve: 16,
    };
    let sentence = "The river ran past the old mill, where the miller counted sacks of flour. ";
    let per = model
        .tokenizer()
        .encode(sentence, false, false)
        .len()
        .max(1);
    let message = format!(
        "Summarise this in one line: {}",
        sentence.repeat(tokens / per)
    );
    let path = std::env::temp_dir().join(format!("pocketlm-bench-{}.plmchat", std::process::id()));
    let result = measure_with(model, &options, &message, &path, reps, out);
    let _ = std::fs::remove_file(&path);
    result
}

fn measure_with(
    model: &Arc<Model>,
    options: &ChatOptions,
    message: &str,
    path: &std::path::Path,
    reps: usize,
    out: &mut Map<String, Value>,
) -> Result<(), String> {
    let mut chat = ChatSession::new(model.clone(), options.clone()).map_err(|e| e.to_string())?;
    let turn = chat
        .send(message, &AtomicBool::new(false), |_| true)
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    let bytes = chat.save_state_file(path).map_err(|e| e.to_string())?;
    let save_ms = ms(t);
    let transcript = chat.messages().to_vec();
    drop(chat);

    let follow_up = "Thanks. And in three words?";
    let (mut restore, mut restored, mut reread, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        let run_restored = |restore: &mut Vec<f64>| -> Result<f64, String> {
            let start = Instant::now();
            let mut c = ChatSession::restore_state_file(model.clone(), options.clone(), path)
                .map_err(|e| e.to_string())?;
            restore.push(ms(start));
            first_text_ms(&mut c, follow_up, start)
        };
        let run_reread = || -> Result<f64, String> {
            let start = Instant::now();
            let mut c =
                ChatSession::new(model.clone(), options.clone()).map_err(|e| e.to_string())?;
            c.set_history(transcript.clone());
            first_text_ms(&mut c, follow_up, start)
        };
        let (a, b) = if rep % 2 == 0 {
            let a = run_restored(&mut restore)?;
            (a, run_reread()?)
        } else {
            let b = run_reread()?;
            (run_restored(&mut restore)?, b)
        };
        restored.push(a);
        reread.push(b);
        ratios.push(b / a);
    }
    out.insert("chat_tokens".into(), json!(turn.prompt_tokens));
    out.insert("chat_state_bytes".into(), json!(bytes));
    out.insert("chat_save_ms".into(), json!(save_ms));
    out.insert("chat_restore_ms".into(), json!(median(restore)));
    out.insert(
        "chat_first_text_restored_ms".into(),
        json!(median(restored)),
    );
    out.insert("chat_first_text_reread_ms".into(), json!(median(reread)));
    out.insert("chat_restore_speedup".into(), json!(median(ratios)));
    Ok(())
}
