//! Tokenizer acceptance tests: token-exact agreement with llama.cpp on the project's two real
//! models (tests/fixtures/*.jsonl, produced by `llama_tokenize(add_special, parse_special)`),
//! round trips, streaming detokenization, and load errors on crafted GGUF files.

use pocketlm::internals::gguf::{GgufFile, GgufWriter, WriteValue};
use pocketlm::{StreamDecoder, Tokenizer, TokenizerError, VocabKind};
use std::path::PathBuf;
use std::time::Instant;

const SMOLLM2: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const GEMMA3: &str = "gemma-3-270m-q4_k_m.gguf";
const SMOLLM2_REF: &str = "smollm2-135m-instruct-q4_1.jsonl";
const GEMMA3_REF: &str = "gemma-3-270m-q4_k_m.jsonl";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Loads a real model's tokenizer; a missing model is a failure, never a skip.
fn load(name: &str) -> Tokenizer {
    let path = repo_root().join("models").join(name);
    assert!(
        path.exists(),
        "model {} is missing: run scripts/fetch-models.sh (make test does it)",
        path.display()
    );
    let file = GgufFile::open(&path).expect("open model");
    let t0 = Instant::now();
    let tok = Tokenizer::from_gguf(&file).expect("tokenizer");
    eprintln!(
        "{name}: Tokenizer::from_gguf took {:.2} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    tok
}

struct Case {
    id: String,
    text: String,
    tokens: Vec<u32>,
    greedy: Vec<u32>,
    greedy_text: String,
}

fn cases(file: &str) -> Vec<Case> {
    let path = repo_root().join("tests/fixtures").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reference fixture {}: {e}", path.display()));
    let cases: Vec<Case> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("fixture line is JSON");
            let ids = |k: &str| -> Vec<u32> {
                v[k].as_array()
                    .map(|a| a.iter().map(|x| x.as_u64().unwrap() as u32).collect())
                    .unwrap_or_default()
            };
            Case {
                id: v["id"].as_str().unwrap_or("").to_owned(),
                text: v["text"].as_str().expect("text").to_owned(),
                tokens: ids("tokens"),
                greedy: ids("greedy"),
                greedy_text: v["greedy_text"].as_str().unwrap_or("").to_owned(),
            }
        })
        .collect();
    assert_eq!(cases.len(), 15, "{file}: expected 15 reference prompts");
    cases
}

/// Strings that stress the pre-tokenizers, byte fallback and special-token splitting.
fn tricky_strings() -> Vec<String> {
    vec![
        String::new(),
        "e\u{301}le\u{300}ve, cafe\u{301}, n\u{303}, a\u{30a}\u{301}".into(),
        "line one\rline two\r\n\r\rend\r".into(),
        "family 👨\u{200d}👩\u{200d}👧\u{200d}👦, flag 🏳\u{fe0f}\u{200d}🌈, thumbs 👍🏽!".into(),
        "مرحبا بالعالم، كيف حالك؟ ١٢٣".into(),
        "Hello мир 世界 κόσμε नमस्ते שלום 123٤٥٦ ½ ²".into(),
        " ".repeat(1000),
        format!("a{}b", " ".repeat(1000)),
        "\t\t\n \n  \n\u{a0}\u{2009}\u{3000}x\u{85}y".into(),
        "<|im_start|>user and <|im_end|> as plain text, <bos> <start_of_turn>".into(),
        "</s><b>bold</b> <td>cell</td>\n\n\n\n".into(),
        "¡¿ÿ ĠĊ \u{0}nul \u{7f}del \u{ad}shy".into(),
        "🤌🫠🪿 𝄞 𠀀𪚥 \u{10ffff}\u{e000}".into(),
        "x".repeat(3000),
        "don't CAN'T it's I'M we'LL 'tis ''quoted''".into(),
        "1234567890 3.14159 1,000,000 0x1F 1e-9".into(),
        "   leading and trailing   ".into(),
    ]
}

/// Decodes through a `StreamDecoder` one token at a time, checking that everything emitted so
/// far is a prefix of the full decode (no half character is ever emitted as U+FFFD).
fn stream_decode(tok: &Tokenizer, ids: &[u32], render_special: bool) -> String {
    let full = tok.decode(ids, !render_special);
    let mut dec = StreamDecoder::with_special(render_special);
    let mut got = String::new();
    for &id in ids {
        got.push_str(&dec.push(tok, id));
        assert!(
            full.starts_with(&got),
            "stream emitted {got:?}, which is not a prefix of {full:?}"
        );
    }
    got.push_str(&dec.finish());
    got
}

fn check_reference(model: &str, reference: &str) {
    let tok = load(model);
    let mut failures = Vec::new();
    for c in cases(reference) {
        let got = tok.encode(&c.text, true, true);
        if got != c.tokens {
            failures.push(format!(
                "[{}] encode({:?})\n   got {:?}\n  want {:?}",
                c.id, c.text, got, c.tokens
            ));
        }
        if !c.greedy.is_empty() {
            let text = tok.decode(&c.greedy, true);
            if text != c.greedy_text {
                failures.push(format!(
                    "[{}] decode(greedy)\n   got {:?}\n  want {:?}",
                    c.id, text, c.greedy_text
                ));
            }
            let streamed = stream_decode(&tok, &c.greedy, false);
            if streamed != c.greedy_text {
                failures.push(format!("[{}] streamed greedy text {streamed:?}", c.id));
            }
        }
        // Round trips: plain text in, the same text out.
        let plain = tok.encode(&c.text, false, false);
        for skip in [true, false] {
            let back = tok.decode(&plain, skip);
            if back != c.text {
                failures.push(format!(
                    "[{}] round trip (skip_special={skip}) gave {back:?}",
                    c.id
                ));
            }
        }
        // With specials parsed, rendering them gives the text back too.
        let back = tok.decode(&c.tokens, false);
        let want = match tok.bos().filter(|_| tok.adds_bos()) {
            Some(bos) => format!(
                "{}{}",
                String::from_utf8_lossy(tok.token_bytes_special(bos)),
                c.text
            ),
            None => c.text.clone(),
        };
        if back != want {
            failures.push(format!("[{}] decode(tokens, special) gave {back:?}", c.id));
        }
    }
    assert!(failures.is_empty(), "{model}:\n{}", failures.join("\n"));
}

#[test]
fn smollm2_matches_llama_cpp() {
    check_reference(SMOLLM2, SMOLLM2_REF);
}

#[test]
fn gemma3_matches_llama_cpp() {
    check_reference(GEMMA3, GEMMA3_REF);
}

/// FNV-1a 64, as in tests/fixtures/tokenizer-oracle/make_fixture.py.
fn fnv1a(mut h: u64, data: &[u8]) -> u64 {
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    h
}

/// Checks against llama.cpp's output for 636 strings (tests/fixtures/tokenizer-oracle).
fn check_oracle(model: &str, fixture: &str) {
    let tok = load(model);
    let path = repo_root()
        .join("tests/fixtures/tokenizer-oracle")
        .join(fixture);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("oracle fixture {}: {e}", path.display()));
    let mut lines = text.lines();
    let head: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(tok.vocab_size() as u64, head["n_vocab"].as_u64().unwrap());
    let eog: Vec<u32> = head["eog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(
        tok.end_of_generation_tokens(),
        &eog[..],
        "{model}: end-of-generation tokens"
    );
    let n_control = (0..tok.vocab_size() as u32)
        .filter(|&id| tok.is_control(id))
        .count();
    assert_eq!(
        n_control as u64,
        head["n_control"].as_u64().unwrap(),
        "{model}: control tokens"
    );
    // Every token's piece, with and without specials, plus its flags.
    let mut h = 0xcbf29ce484222325u64;
    for id in 0..tok.vocab_size() as u32 {
        for p in [tok.token_bytes(id), tok.token_bytes_special(id)] {
            h = fnv1a(h, &(p.len() as u32).to_le_bytes());
            h = fnv1a(h, p);
        }
        h = fnv1a(
            h,
            &[
                u8::from(tok.is_end_of_generation(id)),
                u8::from(tok.is_control(id)),
            ],
        );
    }
    assert_eq!(
        format!("{h:016x}"),
        head["pieces_fnv1a64"].as_str().unwrap(),
        "{model}: token pieces differ from llama_token_to_piece"
    );
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let mut failures = Vec::new();
    let mut n = 0;
    for line in lines {
        let c: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = c["text"].as_str().unwrap();
        let (want, want_plain) = (ids(&c["tokens"]), ids(&c["plain"]));
        let got = tok.encode(text, true, true);
        if got != want {
            failures.push(format!(
                "encode({text:?}, true, true)\n   got {got:?}\n  want {want:?}"
            ));
        }
        let got = tok.encode(text, false, false);
        if got != want_plain {
            failures.push(format!(
                "encode({text:?}, false, false)\n   got {got:?}\n  want {want_plain:?}"
            ));
        }
        for (skip, key) in [(true, "decode"), (false, "decode_special")] {
            let got = tok.decode(&want, skip);
            if got != c[key].as_str().unwrap() {
                failures.push(format!(
                    "decode({text:?}, skip_special={skip}) gave {got:?}"
                ));
            }
        }
        n += 1;
    }
    assert_eq!(n, head["n_texts"].as_u64().unwrap());
    assert!(
        failures.is_empty(),
        "{model}: {} mismatches with llama.cpp:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

#[test]
fn smollm2_matches_llama_cpp_oracle() {
    check_oracle(SMOLLM2, "smollm2.jsonl");
}

#[test]
fn gemma3_matches_llama_cpp_oracle() {
    check_oracle(GEMMA3, "gemma3.jsonl");
}

#[test]
fn tokenizer_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Tokenizer>();
    check::<StreamDecoder>();
}

#[test]
fn round_trips_and_streams_tricky_text() {
    for model in [SMOLLM2, GEMMA3] {
        let tok = load(model);
        for text in tricky_strings() {
            let ids = tok.encode(&text, false, false);
            assert_eq!(
                tok.decode(&ids, true),
                text,
                "{model}: decode(encode({text:?}))"
            );
            assert_eq!(
                stream_decode(&tok, &ids, false),
                text,
                "{model}: stream {text:?}"
            );
            let with_bos = tok.encode(&text, true, false);
            assert_eq!(
                tok.decode(&with_bos, true),
                text,
                "{model}: with BOS {text:?}"
            );
            assert_eq!(
                stream_decode(&tok, &with_bos, false),
                text,
                "{model}: stream+BOS"
            );
            // Parsing specials changes tokens, never the text they spell.
            let parsed = tok.encode(&text, false, true);
            assert_eq!(tok.decode(&parsed, false), text, "{model}: parsed {text:?}");
        }
    }
}

#[test]
fn special_tokens_and_end_of_generation() {
    let smol = load(SMOLLM2);
    assert_eq!(smol.kind(), VocabKind::Bpe);
    assert_eq!(smol.vocab_size(), 49152);
    assert_eq!(smol.n_merges(), 48900);
    assert!(!smol.adds_bos());
    assert_eq!((smol.bos(), smol.eos()), (Some(1), Some(2)));
    assert_eq!(smol.token_id("<|im_start|>"), Some(1));
    assert_eq!(smol.token_id("<|im_end|>"), Some(2));
    assert!(smol.is_control(1) && smol.is_control(0));
    assert!(smol.is_end_of_generation(2), "<|im_end|>");
    assert!(smol.is_end_of_generation(0), "<|endoftext|>");
    assert!(!smol.is_end_of_generation(1), "<|im_start|>");
    assert!(!smol.is_end_of_generation(504));
    assert_eq!(smol.token_bytes(7042), b" Paris");
    assert_eq!(smol.token_text(7042), "ĠParis".as_bytes());
    assert_eq!(smol.token_bytes(198), b"\n");
    assert_eq!(smol.token_bytes(1), b"");
    assert_eq!(smol.token_bytes_special(1), b"<|im_start|>");
    assert_eq!(smol.token_bytes(u32::MAX), b"");
    // Control tokens are text unless parse_special.
    assert_eq!(smol.encode("<|im_end|>", false, true), [2]);
    assert!(!smol.encode("<|im_end|>", false, false).contains(&2));

    let gemma = load(GEMMA3);
    assert_eq!(gemma.kind(), VocabKind::Spm);
    assert_eq!(gemma.vocab_size(), 262144);
    assert!(gemma.adds_bos() && !gemma.adds_space_prefix());
    assert_eq!((gemma.bos(), gemma.eos()), (Some(2), Some(1)));
    let eot = gemma.token_id("<end_of_turn>").unwrap();
    assert!(gemma.is_end_of_generation(1) && gemma.is_end_of_generation(eot));
    assert!(!gemma.is_end_of_generation(gemma.token_id("<start_of_turn>").unwrap()));
    // llama.cpp treats "</s>" as an end of generation (and a control token) even in Gemma 3,
    // where it is a user-defined HTML tag; PocketLM does the same.
    let close_s = gemma.token_id("</s>").unwrap();
    assert!(gemma.is_end_of_generation(close_s) && gemma.is_control(close_s));
    assert!(gemma.is_control(2) && !gemma.is_control(107));
    assert_eq!(
        gemma.token_bytes(gemma.token_id("▁world").unwrap()),
        b" world"
    );
    let nl = gemma.token_id("<0x0A>").unwrap();
    assert!(gemma.is_byte(nl));
    assert_eq!(gemma.token_bytes(nl), b"\n");
    // User-defined tokens split plain text even without parse_special.
    assert_eq!(gemma.encode("\n\n", false, false), [108]);
    assert_eq!(
        gemma.encode("<b>", false, false),
        [gemma.token_id("<b>").unwrap()]
    );
    assert_eq!(gemma.encode("", true, true), [2]);
    assert_eq!(smol.encode("", true, true), Vec::<u32>::new());
    // A leading space survives decoding (add_space_prefix is false).
    assert_eq!(gemma.decode(&gemma.encode(" hi", true, false), true), " hi");
}

#[test]
fn stream_never_splits_a_character() {
    let gemma = load(GEMMA3);
    // 😀 spelled as four byte-fallback tokens.
    let ids: Vec<u32> = [0xF0u8, 0x9F, 0x98, 0x80]
        .iter()
        .map(|b| gemma.token_id(&format!("<0x{b:02X}>")).unwrap())
        .collect();
    let mut dec = StreamDecoder::new();
    for &id in &ids[..3] {
        assert_eq!(dec.push(&gemma, id), "");
    }
    assert_eq!(dec.pending_bytes(), 3);
    assert_eq!(dec.push(&gemma, ids[3]), "😀");
    assert_eq!(dec.finish(), "");
    assert_eq!(gemma.decode(&ids, true), "😀");
    // A truncated character is flushed lossily, once, by finish().
    let mut dec = StreamDecoder::new();
    assert_eq!(dec.push(&gemma, ids[0]), "");
    assert_eq!(dec.push(&gemma, ids[1]), "");
    assert_eq!(dec.finish(), "\u{fffd}");
    // Invalid bytes followed by text: same as the lossy full decode.
    let a = gemma.token_id("a").unwrap();
    let seq = [ids[0], ids[1], a, ids[3]];
    assert_eq!(stream_decode(&gemma, &seq, false), gemma.decode(&seq, true));
    assert_eq!(gemma.decode(&seq, true), "\u{fffd}a\u{fffd}");

    // Characters missing from Gemma's vocabulary fall back to bytes; stream them.
    let text = "rare: 𠀀𪚥\u{10ffff} ok";
    let ids = gemma.encode(text, false, false);
    assert!(
        ids.iter().any(|&id| gemma.is_byte(id)),
        "expected byte fallback in {ids:?}"
    );
    assert_eq!(stream_decode(&gemma, &ids, false), text);

    // Byte-level BPE splits emoji across tokens too.
    let smol = load(SMOLLM2);
    let text = "🫠🪿 family 👨\u{200d}👩\u{200d}👧";
    let ids = smol.encode(text, false, false);
    assert!(ids.len() > 3);
    assert_eq!(stream_decode(&smol, &ids, false), text);
}

#[test]
fn token_bytes_table_is_consistent() {
    for model in [SMOLLM2, GEMMA3] {
        let tok = load(model);
        for id in 0..tok.vocab_size() as u32 {
            let b = tok.token_bytes(id);
            if tok.is_control(id) {
                assert!(b.is_empty(), "{model}: control token {id} renders {b:?}");
            } else if !tok.token_text(id).is_empty() && !tok.is_byte(id) {
                assert!(!b.is_empty(), "{model}: token {id} renders nothing");
            }
            assert_eq!(tok.decode(&[id], true).is_empty(), b.is_empty());
        }
    }
}

// ---- load errors on crafted files ----

fn strs(v: &[&str]) -> WriteValue {
    WriteValue::StrArray(v.iter().map(|s| s.to_string()).collect())
}

/// A tiny valid byte-level BPE vocabulary: "a", "b", "ab", "Ġ", "Ġab".
fn bpe_meta() -> Vec<(&'static str, WriteValue)> {
    vec![
        ("tokenizer.ggml.model", WriteValue::Str("gpt2".into())),
        ("tokenizer.ggml.pre", WriteValue::Str("gpt-2".into())),
        (
            "tokenizer.ggml.tokens",
            strs(&["<|endoftext|>", "a", "b", "ab", "Ġ", "Ġab"]),
        ),
        (
            "tokenizer.ggml.token_type",
            WriteValue::I32Array(vec![3, 1, 1, 1, 1, 1]),
        ),
        ("tokenizer.ggml.merges", strs(&["a b", "Ġ ab"])),
        ("tokenizer.ggml.bos_token_id", WriteValue::U32(0)),
        ("tokenizer.ggml.eos_token_id", WriteValue::U32(0)),
    ]
}

/// A tiny SentencePiece vocabulary with scores and byte fallback.
fn spm_meta() -> Vec<(&'static str, WriteValue)> {
    let mut tokens: Vec<String> = ["<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁ab", "ba"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut types = vec![2, 3, 3, 1, 1, 1, 1, 1, 1];
    let mut scores = vec![0.0, 0.0, 0.0, -1.0, -2.0, -2.0, -0.5, -0.1, -0.2];
    for b in 0..=255u32 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
        scores.push(0.0);
    }
    vec![
        ("tokenizer.ggml.model", WriteValue::Str("llama".into())),
        ("tokenizer.ggml.tokens", WriteValue::StrArray(tokens)),
        ("tokenizer.ggml.token_type", WriteValue::I32Array(types)),
        ("tokenizer.ggml.scores", WriteValue::F32Array(scores)),
    ]
}

fn build(meta: &[(&'static str, WriteValue)]) -> Result<Tokenizer, TokenizerError> {
    let mut w = GgufWriter::new();
    w.metadata("general.architecture", WriteValue::Str("llama".into()));
    for (k, v) in meta {
        w.metadata(k, v.clone());
    }
    let mut f = tempfile::NamedTempFile::new().unwrap();
    w.write_to(&mut f).unwrap();
    let file = GgufFile::open(f.path()).unwrap();
    Tokenizer::from_gguf(&file)
}

fn with(
    mut meta: Vec<(&'static str, WriteValue)>,
    key: &'static str,
    value: Option<WriteValue>,
) -> Vec<(&'static str, WriteValue)> {
    meta.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        meta.push((key, v));
    }
    meta
}

#[test]
fn crafted_vocabularies_tokenize() {
    let bpe = build(&bpe_meta()).unwrap();
    assert_eq!(bpe.encode(" ab", false, false), [5]);
    assert_eq!(bpe.encode("ab b", false, false), [3, 4, 2]);
    assert_eq!(bpe.encode("<|endoftext|>ab", true, true), [0, 3]);
    assert_eq!(bpe.decode(&[3, 5], true), "ab ab");

    let spm = build(&spm_meta()).unwrap();
    assert!(spm.adds_bos() && spm.adds_space_prefix());
    // The text gets a leading "▁"; the best-scoring pair merges first ("ba" beats "ab").
    assert_eq!(spm.encode("ab", true, false), [1, 7]);
    assert_eq!(spm.encode("bab", false, false), [3, 8, 5]);
    assert_eq!(spm.encode("ab ab", false, false), [7, 7]);
    // Decoding drops the prefix space, except after a dropped BOS (llama_detokenize does so).
    assert_eq!(spm.decode(&[7, 7], true), "ab ab");
    assert_eq!(spm.decode(&[1, 7, 7], true), " ab ab");
    assert_eq!(spm.decode(&[1, 7, 7], false), "<s> ab ab");
    // "c" is not in the vocabulary: byte fallback.
    assert_eq!(spm.encode("c", false, false), [3, 9 + 0x63]);
}

#[test]
fn error_no_tokenizer_keys() {
    let err = build(&[]).unwrap_err();
    assert!(
        matches!(&err, TokenizerError::Gguf(pocketlm::GgufError::MissingKey(k)) if k == "tokenizer.ggml.tokens"),
        "{err:?}"
    );
    assert!(err.to_string().contains("tokenizer.ggml.tokens"), "{err}");
}

#[test]
fn error_unknown_model() {
    let meta = with(
        bpe_meta(),
        "tokenizer.ggml.model",
        Some(WriteValue::Str("bert".into())),
    );
    let err = build(&meta).unwrap_err();
    assert!(
        matches!(&err, TokenizerError::UnsupportedModel(m) if m == "bert"),
        "{err:?}"
    );
    let meta = with(
        bpe_meta(),
        "tokenizer.ggml.pre",
        Some(WriteValue::Str("weird".into())),
    );
    let err = build(&meta).unwrap_err();
    assert!(
        matches!(&err, TokenizerError::UnsupportedPreTokenizer(p) if p == "weird"),
        "{err:?}"
    );
}

#[test]
fn error_length_mismatch() {
    let meta = with(
        spm_meta(),
        "tokenizer.ggml.scores",
        Some(WriteValue::F32Array(vec![0.0; 10])),
    );
    let err = build(&meta).unwrap_err();
    assert!(
        matches!(
            err,
            TokenizerError::LengthMismatch {
                key: "tokenizer.ggml.scores",
                expected: 265,
                found: 10
            }
        ),
        "{err:?}"
    );
    let meta = with(
        bpe_meta(),
        "tokenizer.ggml.token_type",
        Some(WriteValue::I32Array(vec![1; 7])),
    );
    let err = build(&meta).unwrap_err();
    assert!(
        matches!(
            err,
            TokenizerError::LengthMismatch {
                key: "tokenizer.ggml.token_type",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn error_bad_merges() {
    let meta = with(
        bpe_meta(),
        "tokenizer.ggml.merges",
        Some(strs(&["a b", "a zz"])),
    );
    let err = build(&meta).unwrap_err();
    assert!(
        matches!(&err, TokenizerError::BadMerge { index: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("zz"), "{err}");
    let meta = with(bpe_meta(), "tokenizer.ggml.merges", Some(strs(&["ab"])));
    assert!(matches!(
        build(&meta),
        Err(TokenizerError::BadMerge { index: 0, .. })
    ));
    let meta = with(bpe_meta(), "tokenizer.ggml.merges", None);
    let err = build(&meta).unwrap_err();
    assert!(
        matches!(&err, TokenizerError::Gguf(pocketlm::GgufError::MissingKey(k)) if k == "tokenizer.ggml.merges"),
        "{err:?}"
    );
}

#[test]
fn error_bad_special_ids() {
    let meta = with(
        bpe_meta(),
        "tokenizer.ggml.bos_token_id",
        Some(WriteValue::U32(6)),
    );
    let err = build(&meta).unwrap_err();
    assert!(
        matches!(
            err,
            TokenizerError::BadSpecialId {
                key: "tokenizer.ggml.bos_token_id",
                id: 6,
                n_vocab: 6
            }
        ),
        "{err:?}"
    );
    let meta = with(
        bpe_meta(),
        "tokenizer.ggml.eos_token_id",
        Some(WriteValue::U64(1 << 40)),
    );
    assert!(matches!(
        build(&meta),
        Err(TokenizerError::BadSpecialId { .. })
    ));
    // add_bos_token (the SentencePiece default) without any BOS token: the default id 1 is
    // outside a one-token vocabulary.
    let meta = with(spm_meta(), "tokenizer.ggml.tokens", Some(strs(&["t0"])));
    let meta = with(meta, "tokenizer.ggml.scores", None);
    let meta = with(meta, "tokenizer.ggml.token_type", None);
    let err = build(&meta).unwrap_err();
    assert!(
        matches!(err, TokenizerError::MissingSpecial { .. }),
        "{err:?}"
    );
}
