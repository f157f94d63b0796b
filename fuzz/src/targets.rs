//! The fuzz targets as plain functions of the input bytes: each must return (any result, any
//! typed error) without panicking, aborting or hanging. Shared by the libFuzzer binaries
//! (`fuzz/fuzz_targets/`, nightly) and the stable replay and random-input tests
//! (`rust/pocketlm/tests/fuzz_regressions.rs`, `fuzz/src/bin/fuzz-stable.rs`).

use pocketlm::internals::gguf::synthetic::{SyntheticArch, SyntheticModel};
use pocketlm::internals::gguf::GgufFile;
use pocketlm::internals::quant::GgmlType;
use pocketlm::StreamDecoder;
use pocketlm::{ChatMessage, ChatTemplate};
use pocketlm::{DraftOptions, DrafterConfig, Message, ReplyDrafter};
use pocketlm::{Model, Session, SessionOptions, Tokenizer};
use pocketlm::{PredictorOptions, WordPredictor};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The target names, in the order `make fuzz` runs them.
pub const TARGETS: [&str; 9] = [
    "gguf_model",
    "tokenizer",
    "chat_template",
    "keyboard",
    "reply",
    "constraint",
    "snapshot",
    "lora",
    "reply_warm",
];

/// Runs target `name` on `data`; `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "gguf_model" => gguf_model(data),
        "tokenizer" => tokenizer(data),
        "chat_template" => chat_template(data),
        "keyboard" => keyboard(data),
        "reply" => reply(data),
        "constraint" => constraint(data),
        "snapshot" => snapshot(data),
        "lora" => lora(data),
        "reply_warm" => reply_warm(data),
        _ => return false,
    }
    true
}

/// The repository root (the directory holding `models/` and `fuzz/`).
pub fn repo_root() -> PathBuf {
    if let Some(p) = std::env::var_os("POCKETLM_ROOT") {
        return PathBuf::from(p);
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("fuzz").is_dir() || !dir.join("Makefile").is_file() {
        assert!(
            dir.pop(),
            "repository root not found above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
    dir
}

fn real_model(name: &str) -> Arc<Model> {
    let path = repo_root().join("models").join(name);
    Model::load(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-models.sh)", path.display()))
}

fn smollm2() -> &'static Arc<Model> {
    static M: OnceLock<Arc<Model>> = OnceLock::new();
    M.get_or_init(|| real_model("SmolLM2-135M-Instruct.Q4_1.gguf"))
}

fn gemma3() -> &'static Arc<Model> {
    static M: OnceLock<Arc<Model>> = OnceLock::new();
    M.get_or_init(|| real_model("gemma-3-270m-q4_k_m.gguf"))
}

/// A per-thread scratch file the GGUF target writes its input to (the loader maps files).
fn scratch_path() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pocketlm-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(format!("{:?}.gguf", std::thread::current().id()).replace(['(', ')'], ""))
}

/// GGUF open, model load, and a few evaluation steps of whatever loads.
pub fn gguf_model(data: &[u8]) {
    let path = scratch_path();
    std::fs::write(&path, data).expect("write scratch file");
    load_and_run(&path);
}

fn load_and_run(path: &Path) {
    let Ok(file) = GgufFile::open(path) else {
        return;
    };
    for key in file.keys() {
        if let Some(v) = file.get(key) {
            let _ = file.describe_value(v);
        }
    }
    drop(file);
    let Ok(model) = Model::load(path) else {
        return;
    };
    let _ = model.info();
    let _ = ChatTemplate::for_model(&model);
    let Ok(mut s) = Session::new(
        model.clone(),
        SessionOptions {
            context_length: 32,
            threads: 1,
        },
    ) else {
        return;
    };
    let tok = model.tokenizer();
    let mut ids = tok.encode("Hello, the world", true, false);
    ids.truncate(8);
    if ids.is_empty() {
        ids.push(0);
    }
    for _ in 0..3 {
        let Ok(logits) = s.eval(&ids) else { return };
        let next = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i as u32);
        let _ = tok.decode(&[next], false);
        ids = vec![next];
    }
}

/// Encode and decode arbitrary text with both real tokenizers; decode arbitrary ids.
pub fn tokenizer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for tok in [smollm2().tokenizer(), gemma3().tokenizer()] {
        tokenize_with(tok, &text, data);
    }
}

fn tokenize_with(tok: &Tokenizer, text: &str, data: &[u8]) {
    for (add, parse) in [(false, false), (true, true)] {
        let ids = tok.encode(text, add, parse);
        let _ = tok.decode(&ids, true);
        let _ = tok.decode(&ids, false);
    }
    let ids: Vec<u32> = data
        .chunks(4)
        .map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(b)
        })
        .collect();
    let _ = tok.decode(&ids, true);
    let _ = tok.decode(&ids, false);
    let small: Vec<u32> = ids.iter().map(|&i| i % tok.vocab_size() as u32).collect();
    let mut stream = StreamDecoder::new();
    for &id in &small {
        let _ = stream.push(tok, id);
    }
    let _ = stream.finish();
}

/// Renders an arbitrary template: the input up to the first NUL is the template, the rest
/// the messages (one per line).
pub fn chat_template(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (src, rest) = text.split_once('\0').unwrap_or((&text, "hello"));
    let Ok(t) = ChatTemplate::new(src, "<s>", "</s>") else {
        return;
    };
    let messages: Vec<ChatMessage> = rest
        .lines()
        .enumerate()
        .map(|(i, l)| match i % 3 {
            0 => ChatMessage::user(l),
            1 => ChatMessage::assistant(l),
            _ => ChatMessage::system(l),
        })
        .collect();
    let _ = t.render(&messages, true);
    let _ = t.render(&[], false);
    let _ = t.encode(smollm2().tokenizer(), &messages, true);
}

/// Keyboard suggestions (real SmolLM2) for arbitrary text before the cursor.
pub fn keyboard(data: &[u8]) {
    static P: OnceLock<WordPredictor> = OnceLock::new();
    let p = P.get_or_init(|| {
        WordPredictor::new(smollm2().clone(), PredictorOptions::default()).expect("predictor")
    });
    let text = String::from_utf8_lossy(data);
    if let Ok(s) = p.suggest(&text) {
        if let Some(first) = s.items.first() {
            let _ = p.accept(&text, &first.word);
        }
    }
}

/// The synthetic llama model (fast to evaluate) for the reply target.
fn synthetic() -> &'static Arc<Model> {
    static M: OnceLock<Arc<Model>> = OnceLock::new();
    M.get_or_init(|| {
        let path = std::env::temp_dir().join(format!(
            "pocketlm-fuzz-synthetic-{}.gguf",
            std::process::id()
        ));
        let m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q8_0);
        std::fs::write(&path, m.to_bytes()).expect("write synthetic model");
        Model::load(&path).expect("synthetic model loads")
    })
}

/// The synthetic llama model with a 2,048-token context (room for the reply drafter's few-shot
/// prefix, which the 256-token default cannot hold), for the reply warm-start target.
fn synthetic_long() -> &'static Arc<Model> {
    static M: OnceLock<Arc<Model>> = OnceLock::new();
    M.get_or_init(|| {
        let path = std::env::temp_dir().join(format!(
            "pocketlm-fuzz-synthetic-long-{}.gguf",
            std::process::id()
        ));
        let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q8_0);
        let key = m.key("context_length");
        m.set(&key, pocketlm::internals::gguf::WriteValue::U32(2048));
        std::fs::write(&path, m.to_bytes()).expect("write synthetic model");
        Model::load(&path).expect("synthetic model loads")
    })
}

/// Reply drafts for an arbitrary conversation: one message per line, alternating sides.
pub fn reply(data: &[u8]) {
    static D: OnceLock<ReplyDrafter> = OnceLock::new();
    let d = D.get_or_init(|| {
        ReplyDrafter::new(synthetic().clone(), DrafterConfig::default()).expect("drafter")
    });
    let text = String::from_utf8_lossy(data);
    let conversation: Vec<Message> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| Message::new(i % 2 == 1, l))
        .collect();
    let n = data.first().map_or(3, |b| (*b as usize % 10).max(1));
    let opts = DraftOptions {
        n: n.min(8),
        max_words: data.get(1).map_or(10, |b| (*b as usize % 20).max(1)),
        ..DraftOptions::default()
    };
    let _ = d.draft_detailed(&conversation, &opts);
}

/// A constraint source of any kind and content (the first byte picks JSON Schema, regex,
/// grammar or choices, one per line), compiled for the real SmolLM2 and used for a few tokens
/// of constrained generation: a typed error or an outcome, never a panic or a hang.
pub fn constraint(data: &[u8]) {
    use pocketlm::{generate, Constraint, GenerateOptions, SamplerConfig};
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let src = String::from_utf8_lossy(rest).into_owned();
    let c = match kind % 4 {
        0 => Constraint::JsonSchema(src),
        1 => Constraint::Regex(src),
        2 => Constraint::Grammar(src),
        _ => Constraint::Choices(src.split('\n').map(str::to_owned).collect()),
    };
    let model = smollm2();
    let Ok(mut s) = Session::new(
        model.clone(),
        SessionOptions {
            context_length: 64,
            threads: 1,
        },
    ) else {
        return;
    };
    let opts = GenerateOptions {
        max_tokens: 4,
        sampler: SamplerConfig::greedy(),
        stop: Vec::new(),
        constraint: Some(c),
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let prompt = model.tokenizer().encode("Answer:", true, false);
    let _ = generate(&mut s, &prompt, &opts, &cancel, |_| true);
}

/// A session of the synthetic model with room for `ctx` tokens.
fn synthetic_session(ctx: usize) -> Session {
    Session::new(
        synthetic().clone(),
        SessionOptions {
            context_length: ctx,
            threads: 1,
        },
    )
    .expect("session")
}

/// Rewrites a snapshot's two CRC-32 checksums (header, payload) so that a mutated field is
/// judged by the loader's other checks rather than by the checksum.
fn reseal_snapshot(b: &mut [u8]) {
    if b.len() >= 128 {
        let crc = crc32fast::hash(&b[..124]);
        b[124..128].copy_from_slice(&crc.to_le_bytes());
    }
    if b.len() >= 132 {
        let end = b.len() - 4;
        let crc = crc32fast::hash(&b[128..end]);
        b[end..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// A session snapshot loaded from hostile bytes, in memory and from a file, into a session of
/// the synthetic model (context 32), then one evaluation step: a typed error or a session that
/// runs. The first byte: bit 0 reseals the checksums after the mutation (so that the fields
/// behind them are reached), bit 1 loads from a file instead of the bytes, and with bit 1,
/// bit 2 maps the file ([`pocketlm::Session::map_state_file`]) instead of reading it.
pub fn snapshot(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 != 0 {
        reseal_snapshot(&mut bytes);
    }
    let mut s = synthetic_session(32);
    let loaded = if mode & 2 != 0 {
        let path = scratch_path().with_extension("plmstate");
        std::fs::write(&path, &bytes).expect("write scratch file");
        if mode & 4 != 0 {
            s.map_state_file(&path)
        } else {
            s.load_state_file(&path)
        }
    } else {
        s.load_state(&bytes)
    };
    if loaded.is_err() {
        assert!(s.is_empty(), "a failed load changed the session");
        return;
    }
    let _ = s.logits().map(|l| l.len());
    let _ = s.eval(&[1]);
    let _ = s.save_state();
}

/// The reply drafter's warm-start file for the synthetic model's neutral tone, as a drafter
/// with a state directory writes it on its first warm-up: (file name, bytes).
fn reply_warm_file() -> &'static (std::ffi::OsString, Vec<u8>) {
    static F: OnceLock<(std::ffi::OsString, Vec<u8>)> = OnceLock::new();
    F.get_or_init(|| {
        let dir = scratch_path().with_extension("warm-seed");
        let _ = std::fs::remove_dir_all(&dir);
        let d = ReplyDrafter::new(synthetic_long().clone(), DrafterConfig::default())
            .expect("drafter")
            .with_state_dir(&dir);
        d.warm_up(pocketlm::Tone::Neutral)
            .expect("synthetic warm-up");
        let file = std::fs::read_dir(&dir)
            .expect("state dir")
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".plmwarm"))
            .expect("the drafter saved its warm start");
        let bytes = std::fs::read(file.path()).expect("read warm start");
        let _ = std::fs::remove_dir_all(&dir);
        (file.file_name(), bytes)
    })
}

/// The reply warm-start file's header length (magic, version, snapshot offset, key, snapshot
/// length, trie nodes: `pocketlm::reply::warm`).
const REPLY_WARM_HEAD: usize = 64;

/// Rewrites a reply warm-start file's checksums (the embedded snapshot's two, where its length
/// field points, and the file's) so that a mutated field is judged by the loader's other checks.
fn reseal_reply_warm(b: &mut [u8]) {
    if b.len() < REPLY_WARM_HEAD + 4 {
        return;
    }
    let snap_at = u32::from_le_bytes(b[12..16].try_into().expect("4 bytes")) as usize;
    let snap_len = u64::from_le_bytes(b[48..56].try_into().expect("8 bytes"));
    if let Some(end) = snap_at
        .checked_add(snap_len as usize)
        .filter(|&e| snap_at >= REPLY_WARM_HEAD && e <= b.len() - 4)
    {
        reseal_snapshot(&mut b[snap_at..end]);
    }
    let body = b.len() - 4;
    let crc = crc32fast::hash(&b[..body]);
    b[body..].copy_from_slice(&crc.to_le_bytes());
}

/// A reply drafter (the long-context synthetic model) warm-started from a hostile warm-start file put where it
/// looks for its neutral tone's, then drafting: a refused file is evaluated and rewritten, a
/// loaded one drafts; never a panic. The first byte: bit 0 reseals the checksums after the
/// mutation. The unmutated file must load (so the seeds reach the loader, not a key mismatch).
pub fn reply_warm(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 != 0 {
        reseal_reply_warm(&mut bytes);
    }
    let (name, valid) = reply_warm_file();
    let dir = scratch_path().with_extension("warm");
    std::fs::create_dir_all(&dir).expect("scratch state dir");
    std::fs::write(dir.join(name), &bytes).expect("write scratch file");
    let d = ReplyDrafter::new(synthetic_long().clone(), DrafterConfig::default())
        .expect("drafter")
        .with_state_dir(&dir);
    let conversation = [Message::new(false, "Are you coming tonight?")];
    let _ = d.draft_detailed(&conversation, &DraftOptions::default());
    let warm = d.warm_start(pocketlm::Tone::Neutral).map(|(w, _)| w);
    if &bytes == valid {
        assert_eq!(warm, Some(true), "the valid warm-start file was not loaded");
    }
}

/// A LoRA adapter file of any content loaded for the synthetic model, and if it loads, attached
/// to a session (scale from the first byte's sign) for a few evaluation steps: a typed error or
/// a session that runs.
pub fn lora(data: &[u8]) {
    use pocketlm::LoraAdapter;
    let path = scratch_path().with_extension("lora.gguf");
    std::fs::write(&path, data).expect("write scratch file");
    let Ok(adapter) = LoraAdapter::load(synthetic(), &path) else {
        return;
    };
    let _ = (
        adapter.n_matrices(),
        adapter.max_rank(),
        adapter.tensor_bytes(),
    );
    let mut s = synthetic_session(32);
    let scale = if data.len().is_multiple_of(2) {
        1.0
    } else {
        -0.5
    };
    if s.set_adapters(&[(adapter, scale)]).is_err() {
        return;
    }
    for t in [1u32, 2, 3] {
        if s.eval(&[t]).is_err() {
            return;
        }
    }
}

/// The synthetic model's LoRA adapter (`SyntheticLora`), valid.
fn synthetic_lora() -> pocketlm::internals::gguf::synthetic::SyntheticLora {
    use pocketlm::internals::gguf::synthetic::SyntheticLora;
    SyntheticLora::new(
        &SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q8_0),
        4,
    )
}

/// Hostile chat templates: the constructs that crashed, hung or exhausted memory before.
pub const HOSTILE_TEMPLATES: [&str; 6] = [
    "{{ [][::-1] }}",
    "{{ ''[::-1] }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}",
    "{{ messages[0]['content'][::-1] }}{{ raise_exception('no') }}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
];

/// 0, 1, -1, 2^31, 2^32, 2^63, u64::MAX: the values each numeric header field is swept over.
pub fn sweep_values() -> Vec<pocketlm::internals::gguf::WriteValue> {
    use pocketlm::internals::gguf::WriteValue;
    let mut v: Vec<WriteValue> = [0u64, 1, 1 << 31, 1 << 32, 1 << 63, u64::MAX]
        .into_iter()
        .map(WriteValue::U64)
        .collect();
    v.push(WriteValue::I32(-1));
    v.extend(
        [0.0f32, -1.0, 2f32.powi(31), f32::MAX, f32::NAN]
            .into_iter()
            .map(WriteValue::F32),
    );
    v
}

/// The starting inputs of a target.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    use pocketlm::internals::gguf::WriteValue;
    let text = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    match target {
        "gguf_model" => {
            let mut out = Vec::new();
            for arch in [SyntheticArch::Llama, SyntheticArch::Gemma3] {
                for ty in [GgmlType::Q8_0, GgmlType::Q4_1, GgmlType::F16] {
                    out.push(SyntheticModel::new(arch, ty).to_bytes());
                }
                // Every numeric metadata field at each boundary value.
                let base = SyntheticModel::new(arch, GgmlType::Q4_0);
                for key in base.keys() {
                    if !matches!(
                        base.value(&key),
                        Some(WriteValue::U32(_) | WriteValue::U64(_) | WriteValue::F32(_))
                    ) {
                        continue;
                    }
                    for v in sweep_values() {
                        let mut m = base.clone();
                        m.set(&key, v);
                        out.push(m.to_bytes());
                    }
                }
                // The header counts (version, tensors, metadata) at each boundary value.
                let bytes = base.to_bytes();
                for (at, width) in [(4usize, 4usize), (8, 8), (16, 8)] {
                    for v in [0u64, 1, u64::MAX, 1 << 31, 1 << 32, 1 << 63, 2] {
                        let mut b = bytes.clone();
                        b[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
                        out.push(b);
                    }
                }
            }
            out
        }
        "lora" => {
            let base = synthetic_lora();
            let mut out = vec![base.to_bytes()];
            // alpha at each boundary value
            for v in sweep_values() {
                let mut l = base.clone();
                l.metadata[3].1 = v;
                out.push(l.to_bytes());
            }
            // one pair only, F16 tensors, and a rank-1 pair
            let mut l = base.clone();
            l.tensors.truncate(2);
            out.push(l.to_bytes());
            let mut l = base.clone();
            for t in &mut l.tensors {
                let vals: Vec<f32> =
                    t.3.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                        .collect();
                t.3 = vals
                    .iter()
                    .flat_map(|&v| pocketlm::internals::quant::blocks::f32_to_f16(v).to_le_bytes())
                    .collect();
                t.2 = GgmlType::F16;
            }
            out.push(l.to_bytes());
            // Q8_0 `A`s (F16 `B`s), as `convert_lora_to_gguf.py --outtype q8_0` writes them
            for t in l.tensors.iter_mut().filter(|t| t.0.ends_with(".lora_a")) {
                use pocketlm::internals::quant::blocks::{f16_to_f32, BlockQ8_0, QK};
                let vals: Vec<f32> =
                    t.3.chunks_exact(2)
                        .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                        .collect();
                let mut blocks = vec![BlockQ8_0 { d: 0, qs: [0; QK] }; vals.len() / QK];
                let mut sums = vec![0i16; blocks.len()];
                pocketlm::internals::quant::activations::quantize_row_q8_0(
                    &vals,
                    &mut blocks,
                    &mut sums,
                );
                t.3 = blocks
                    .iter()
                    .flat_map(|b| {
                        let mut v = b.d.to_le_bytes().to_vec();
                        v.extend(b.qs.iter().map(|&q| q as u8));
                        v
                    })
                    .collect();
                t.2 = GgmlType::Q8_0;
            }
            out.push(l.to_bytes());
            out.push(
                pocketlm::internals::gguf::synthetic::SyntheticLora::new(
                    &SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q8_0),
                    1,
                )
                .to_bytes(),
            );
            // a token-embedding pair, in llama.cpp's transposed shapes (lora_a [rank, vocab],
            // lora_b [rank, n_embd]): the loader's and the embedding lookup's own path
            let vocab = synthetic().info().vocab_size as u64;
            let d = pocketlm::internals::gguf::synthetic::EMBD as u64;
            let small = |n: u64| -> Vec<u8> {
                (0..n)
                    .flat_map(|i| ((i % 7) as f32 * 0.01 - 0.03).to_le_bytes())
                    .collect()
            };
            let mut l = base.clone();
            l.tensors.push((
                "token_embd.weight.lora_a".into(),
                vec![4, vocab],
                GgmlType::F32,
                small(4 * vocab),
            ));
            l.tensors.push((
                "token_embd.weight.lora_b".into(),
                vec![4, d],
                GgmlType::F32,
                small(4 * d),
            ));
            out.push(l.to_bytes());
            // the header counts at each boundary value
            let bytes = base.to_bytes();
            for (at, width) in [(8usize, 8usize), (16, 8)] {
                for v in [0u64, 1, u64::MAX, 1 << 31, 1 << 63] {
                    let mut b = bytes.clone();
                    b[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
                    out.push(b);
                }
            }
            out
        }
        "tokenizer" => text(&[
            "Hello, world! How are you?",
            "<|im_start|>user\nhi<|im_end|>",
            "<start_of_turn>model\n<end_of_turn><bos><eos>",
            "  multiple   spaces\t\ttabs\n\nnewlines",
            "émojis 🤖🎉 and ünïcödé, 中文字符, العربية",
            "\u{0}\u{1}\u{7f}\u{ffff}",
        ]),
        "chat_template" => {
            let mut v = text(&HOSTILE_TEMPLATES);
            let real = |m: &Arc<Model>| m.chat_template().unwrap_or("").to_owned();
            v.push(format!("{}\0hi\nhello\nbe brief", real(smollm2())).into_bytes());
            v.push(
                b"{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}\0a\nb"
                    .to_vec(),
            );
            v
        }
        "keyboard" => text(&[
            "",
            "I am going to the sta",
            "Hello ",
            "This is a test. Wh",
            "no spaces at all in this very long word abcdefghijklmnopqrstuvwxyzabcdefghijklmnop",
            "🎉 ",
        ]),
        "constraint" => {
            let tagged = |k: u8, s: &str| {
                let mut v = vec![k];
                v.extend_from_slice(s.as_bytes());
                v
            };
            vec![
                tagged(
                    0,
                    r#"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"array","items":{"enum":["x","y"]}}},"required":["a"]}"#,
                ),
                tagged(
                    0,
                    r##"{"$defs":{"n":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/n"}]}},"$ref":"#/$defs/n"}"##,
                ),
                tagged(
                    0,
                    r#"{"type":"string","pattern":"^[a-z]{2,5}$","maxLength":3}"#,
                ),
                tagged(1, "[0-9]{3}-[0-9]{4}|(a|b)*c{2,}"),
                tagged(1, "(((((x)))))+[^\\s\\S]?"),
                tagged(2, "start: \"(\" num (\",\" num)* \")\"\nnum: /[0-9]+/\n"),
                tagged(2, "start: item*\nitem: %json {\"type\": \"integer\"}\n"),
                tagged(3, "yes\nno\nmaybe \u{1F600}"),
            ]
        }
        "snapshot" => {
            let mut out = Vec::new();
            for n in [0usize, 1, 5, 31] {
                let mut s = synthetic_session(32);
                if n > 0 {
                    let ids: Vec<u32> = (0..n as u32).map(|i| 3 + i % 50).collect();
                    s.eval(&ids).expect("synthetic eval");
                }
                let full = s.save_state().expect("save");
                s.truncate(n.saturating_sub(1));
                let no_logits = s.save_state().expect("save");
                for mode in 0..4u8 {
                    for b in [&full, &no_logits] {
                        out.push([&[mode][..], b].concat());
                    }
                }
            }
            out
        }
        "reply_warm" => {
            let valid = &reply_warm_file().1;
            let mut out = Vec::new();
            for mode in 0..2u8 {
                out.push([&[mode][..], valid].concat());
                out.push([&[mode][..], &valid[..valid.len() / 2]].concat());
                // the trie's node count off by one, resealed or not
                let mut b = valid.clone();
                b[56] ^= 1;
                out.push([&[mode][..], &b].concat());
            }
            out
        }
        "reply" => text(&[
            "Are you coming tonight?",
            "hi\nhey\nwhat's up?",
            "\n\n\n",
            "my password is hunter2",
            "Can you call me?\nsure\nnow?",
        ]),
        _ => Vec::new(),
    }
}

/// A tiny deterministic generator for the stable random-input loop.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random mutation of `input` (bit flips, interesting integers, splices, truncation,
/// duplication): the stable stand-in for libFuzzer's mutator.
pub fn mutate(input: &mut Vec<u8>, rng: &mut Rng) {
    const INTERESTING: [u64; 8] = [0, 1, u64::MAX, 1 << 31, 1 << 32, 1 << 63, 0x7FFF_FFFF, 255];
    let n = 1 + rng.below(4);
    for _ in 0..n {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 if len >= 8 => {
                let i = rng.below(len - 7);
                let w = [1usize, 2, 4, 8][rng.below(4)];
                let v = INTERESTING[rng.below(INTERESTING.len())].to_le_bytes();
                input[i..i + w].copy_from_slice(&v[..w]);
            }
            3 if len > 1 => input.truncate(rng.below(len)),
            4 if len > 0 && len < 1 << 20 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                let chunk = input[a..b].to_vec();
                let at = rng.below(len);
                input.splice(at..at, chunk);
            }
            5 => {
                let at = rng.below(len + 1);
                let bytes: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next() as u8).collect();
                input.splice(at..at, bytes);
            }
            _ if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(16)).min(len);
                input.drain(a..b);
            }
            _ => input.push(rng.next() as u8),
        }
    }
}
