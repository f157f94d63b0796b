//! llama.cpp's tokenizer suite (`tests/test-tokenizer-0.cpp`) over every vocabulary it ships:
//! each `models/ggml-vocab-*.gguf` (vocabulary-only files: no weights) is loaded with
//! `Tokenizer::from_gguf`, and each text of its `.gguf.inp` must tokenize (no BOS/EOS, special
//! tokens not parsed, as the C++ test does) to the ids on the same line of its `.gguf.out`.
//! Vocabularies PocketLM deliberately does not read must fail with the typed error naming their
//! tokenizer model, and that list is pinned here.

#[path = "common/llama_src.rs"]
mod llama_src;

use pocketlm::internals::gguf::GgufFile;
use pocketlm::{Tokenizer, TokenizerError};
use std::collections::BTreeMap;
use std::path::Path;

/// Vocabularies refused on purpose, with the `tokenizer.ggml.model` the error must name: they
/// belong to embedding models (WordPiece / Unigram), not to chat models.
const REFUSED: &[(&str, &str)] = &[("bert-bge", "bert"), ("nomic-bert-moe", "t5")];

/// The vocabularies whose `.inp`/`.out` cases must all pass, pinned so that none can drop out
/// of the suite unnoticed (e.g. a missing case file). `gemma-4` (tokenizer model `gemma4`) and
/// `qwen35` (pre-tokenizer `qwen35`) are issue 49's.
const TESTED: &[&str] = &[
    "command-r",
    "deepseek-coder",
    "deepseek-llm",
    "falcon",
    "gemma-4",
    "gpt-2",
    "llama-bpe",
    "llama-spm",
    "mpt",
    "phi-3",
    "qwen2",
    "qwen35",
    "refact",
    "starcoder",
];

/// `test-tokenizer-0.cpp`'s `read_tests`: texts separated by "\n__ggml_vocab_test__\n", one
/// line of space-separated ids per text; a repeated text keeps its last ids (a `std::map`).
fn read_cases(inp: &Path, out: &Path) -> BTreeMap<String, Vec<u32>> {
    let raw = std::fs::read(inp).unwrap_or_else(|e| panic!("{}: {e}", inp.display()));
    let raw = String::from_utf8(raw).expect("the .inp file is UTF-8");
    let outs = std::fs::read_to_string(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let sep = "\n__ggml_vocab_test__\n";
    let mut texts = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        match raw[pos..].find(sep) {
            Some(i) => {
                texts.push(&raw[pos..pos + i]);
                pos += i + sep.len();
            }
            None => {
                texts.push(&raw[pos..]);
                break;
            }
        }
    }
    let lines: Vec<&str> = outs.lines().collect();
    assert_eq!(
        texts.len(),
        lines.len(),
        "{}: input and output files have different numbers of tests",
        inp.display()
    );
    texts
        .into_iter()
        .zip(lines)
        .map(|(t, l)| {
            let ids = l
                .split_whitespace()
                .map(|x| x.parse::<u32>().expect("token id"))
                .collect();
            (t.to_owned(), ids)
        })
        .collect()
}

#[test]
fn llama_cpp_tokenizer_suite() {
    let models = llama_src::llama_src().join("models");
    let mut vocabs: Vec<_> = std::fs::read_dir(&models)
        .expect("models dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let v = name.strip_prefix("ggml-vocab-")?.strip_suffix(".gguf")?;
            Some(v.to_owned())
        })
        .collect();
    vocabs.sort();
    assert!(
        vocabs.len() >= 15,
        "expected llama.cpp's ~19 vocabularies, found {vocabs:?}"
    );

    let mut failures = Vec::new();
    let mut refused = Vec::new();
    let (mut n_pass, mut n_cases, mut n_vocab_tested) = (0, 0, 0);
    let mut tested = Vec::new();
    println!(
        "{:<16} {:<7} {:<16} {:>6}",
        "vocabulary", "model", "pre-tokenizer", "cases"
    );
    for v in &vocabs {
        let path = models.join(format!("ggml-vocab-{v}.gguf"));
        let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let model = file
            .opt_str("tokenizer.ggml.model")
            .ok()
            .flatten()
            .unwrap_or("?")
            .to_owned();
        let pre = file
            .opt_str("tokenizer.ggml.pre")
            .ok()
            .flatten()
            .unwrap_or("")
            .to_owned();
        let tok = match Tokenizer::from_gguf(&file) {
            Ok(t) => t,
            Err(e) => {
                println!("{v:<16} {model:<7} {pre:<16} refused: {e}");
                refused.push((v.clone(), e));
                continue;
            }
        };
        let inp = models.join(format!("ggml-vocab-{v}.gguf.inp"));
        let out = models.join(format!("ggml-vocab-{v}.gguf.out"));
        if !inp.exists() {
            println!(
                "{v:<16} {model:<7} {pre:<16} loads ({} tokens; no test cases)",
                tok.vocab_size()
            );
            continue;
        }
        let cases = read_cases(&inp, &out);
        let mut pass = 0;
        for (text, want) in &cases {
            let got = tok.encode(text, false, false);
            if &got == want {
                pass += 1;
            } else if failures.len() < 40 {
                failures.push(format!("[{v}] {text:?}\n   got {got:?}\n  want {want:?}"));
            }
        }
        println!("{v:<16} {model:<7} {pre:<16} {pass:>3}/{}", cases.len());
        n_vocab_tested += 1;
        tested.push(v.clone());
        n_pass += pass;
        n_cases += cases.len();
        if pass != cases.len() && failures.len() >= 40 {
            failures.push(format!(
                "[{v}] {} of {} cases fail",
                cases.len() - pass,
                cases.len()
            ));
        }
    }
    println!("total: {n_pass}/{n_cases} cases on {n_vocab_tested} vocabularies");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );

    assert_eq!(tested, TESTED, "vocabularies with test cases");

    // Exactly the deliberate refusals, each a typed error naming the tokenizer model and the
    // supported list.
    let got: Vec<(String, String)> = refused
        .iter()
        .map(|(v, e)| match e {
            TokenizerError::UnsupportedModel(m) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("\"gpt2\"") && msg.contains("\"llama\""),
                    "{msg}"
                );
                (v.clone(), m.clone())
            }
            other => panic!("{v}: refused with an unexpected error: {other}"),
        })
        .collect();
    let want: Vec<(String, String)> = REFUSED
        .iter()
        .map(|(v, m)| (v.to_string(), m.to_string()))
        .collect();
    assert_eq!(got, want, "refused vocabularies");
}

/// The tables mapped from a cache file (`Tokenizer::from_gguf_cached`, written on the first
/// load, mapped on the second) tokenize every case of the suite as the heap-built tables do,
/// and give every token the same texts: BPE and SentencePiece vocabularies up to Gemma 4's 262k
/// tokens and 515k merges.
#[test]
fn mapped_tables_tokenize_every_case_like_built_ones() {
    let models = llama_src::llama_src().join("models");
    let cache = tempfile::tempdir().unwrap();
    for v in TESTED {
        let path = models.join(format!("ggml-vocab-{v}.gguf"));
        let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let heap = Tokenizer::from_gguf(&file).unwrap();
        let written = Tokenizer::from_gguf_cached(&file, Some(cache.path())).unwrap();
        let mapped = Tokenizer::from_gguf_cached(&file, Some(cache.path())).unwrap();
        let tables = mapped
            .tables_file()
            .unwrap_or_else(|| panic!("{v}: tables not mapped"));
        assert_eq!(written.tables_file(), Some(tables), "{v}");
        for id in 0..heap.vocab_size() as u32 {
            assert_eq!(
                heap.token_bytes_special(id),
                mapped.token_bytes_special(id),
                "{v}: token {id}"
            );
            assert_eq!(
                heap.token_text(id),
                mapped.token_text(id),
                "{v}: token {id}"
            );
        }
        let cases = read_cases(
            &models.join(format!("ggml-vocab-{v}.gguf.inp")),
            &models.join(format!("ggml-vocab-{v}.gguf.out")),
        );
        for (text, want) in &cases {
            for t in [&written, &mapped] {
                assert_eq!(&t.encode(text, false, false), want, "{v}: {text:?}");
                assert_eq!(
                    t.encode(text, true, true),
                    heap.encode(text, true, true),
                    "{v}: {text:?}"
                );
            }
        }
    }
}
