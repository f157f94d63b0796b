//! Tokenizer built from a GGUF file's `tokenizer.ggml.*` metadata, reproducing llama.cpp's
//! `llama_tokenize` / `llama_token_to_piece` / `llama_detokenize` token for token.
//!
//! Three vocabulary types are supported:
//! - `"gpt2"`: byte-level BPE with merges (SmolLM2, Llama 3, Qwen 2/3.5, DeepSeek, Falcon...),
//!   after a pre-tokenizer chosen by `tokenizer.ggml.pre` (see [`PreTokenizer`]);
//! - `"gemma4"`: SentencePiece-style BPE with merges over raw UTF-8, spaces written "▁" and
//!   `<0xXX>` byte fallback (Gemma 4);
//! - `"llama"`: SentencePiece-style BPE over token scores with `<0xXX>` byte fallback
//!   (Gemma, Llama 2...).
//!
//! WordPiece (`"bert"`) and Unigram (`"t5"`) vocabularies belong to embedding models and are
//! refused with [`TokenizerError::UnsupportedModel`].
//!
//! Pipeline of [`Tokenizer::encode`]: special tokens are split out first ([`special`]), then
//! each raw-text fragment goes through [`bpe`] or [`spm`]; BOS/EOS are added as the metadata
//! says. Everything the hot paths need is precomputed at load into flat tables ([`table`]):
//! token texts in one byte arena with an open-addressing index, merges as
//! `(left id, right id) -> rank -> merged id`, and the detokenized bytes of every token so
//! [`Tokenizer::token_bytes`] is a slice lookup.
//!
//! Why not the `tokenizers` crate: it cannot reproduce llama.cpp from GGUF data. It has no
//! score-driven SentencePiece BPE (Gemma's GGUF has scores and no merges), its pre-tokenizers
//! need a regex engine (`onig`, a C library that complicates iOS/Android cross builds, or
//! `fancy-regex`) and would not match llama.cpp's hand-written splitters at chunk boundaries
//! (e.g. SmolLM2 splits digits before the GPT-2 pattern, so " 3" is two words), and its
//! added-token matching differs from llama.cpp's longest-first partition. The algorithms here
//! are small; writing them keeps the core pure Rust with one tiny table crate
//! (`unicode-general-category`).
//!
//! Verified token for token against llama.cpp (the build behind `tests/fixtures`) on both
//! project models: `encode` in all four `add_special`/`parse_special` modes, `decode`, and every
//! token's piece, end-of-generation and control flag (`tests/fixtures/tokenizer-oracle`).
//! Like llama.cpp, texts that llama.cpp marks as end of generation (`<|im_end|>`, `</s>`...)
//! become control tokens, so Gemma 3's user-defined `</s>` tag ends a generation and is not
//! split out of plain text. Known differences, none reachable with the project's models:
//! - special tokens of equal length are tried in id order (llama.cpp's `std::sort` leaves the
//!   order of ties unspecified);
//! - the `lstrip`/`rstrip` attributes llama.cpp sets by model name (Phi-3, Jina) are not applied;
//! - a byte-level token holding a character outside GPT-2's byte alphabet decodes to that
//!   character's UTF-8, where llama.cpp writes `[UNK_BYTE_0x..]`;
//! - an out-of-range special token id is an error (llama.cpp warns and keeps its default), and
//!   duplicate token texts resolve to the first id (current llama.cpp refuses such files);
//! - BPE pre-tokenizers outside [`SUPPORTED_PRE`] are rejected. llama.cpp's test suite
//!   (`tests/llama_vocab.rs`: every `ggml-vocab-*.gguf` with its `.inp`/`.out` cases) passes for
//!   every vocabulary it accepts;
//! - [`StreamDecoder`] does not apply `decode`'s space clean-up, which llama.cpp enables for the
//!   GPT-2 and Llama 3 families only (token-by-token streaming in llama.cpp skips it too).

mod bpe;
mod pretok;
mod special;
mod spm;
mod stream;
mod table;
mod tables_file;

pub(crate) use tables_file::SUFFIX as TABLES_FILE_SUFFIX;

pub use pretok::PreTokenizer;
pub use stream::StreamDecoder;

use crate::gguf::{ElemType, GgufError, GgufFile, MetaArray, MetaValue};
use bpe::NO_TOKEN;
use special::{Fragment, SpecialMatcher};
use std::cell::RefCell;
use std::path::Path;
use table::{Arena, PairMap, PieceMap};

/// Token attributes, as llama.cpp derives them from `tokenizer.ggml.token_type`.
pub(crate) mod attr {
    pub const UNKNOWN: u8 = 1 << 0;
    pub const UNUSED: u8 = 1 << 1;
    pub const NORMAL: u8 = 1 << 2;
    pub const CONTROL: u8 = 1 << 3;
    pub const USER_DEFINED: u8 = 1 << 4;
    pub const BYTE: u8 = 1 << 5;
}

/// Why a tokenizer could not be built from a model file.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A tokenizer key is missing or of the wrong type.
    #[error("tokenizer metadata: {0} (the file has no usable vocabulary; re-convert the model with llama.cpp's convert_hf_to_gguf.py)")]
    Gguf(#[from] GgufError),
    /// A `tokenizer.ggml.model` other than `gpt2`, `gemma4` or `llama` (e.g. the WordPiece
    /// `bert` and Unigram `t5` vocabularies of embedding models).
    #[error("tokenizer.ggml.model {0:?} is not supported (supported: \"gpt2\" byte-level BPE, \"gemma4\" SentencePiece-style BPE, \"llama\" SentencePiece)")]
    UnsupportedModel(String),
    /// A `tokenizer.ggml.pre` PocketLM does not implement.
    #[error("tokenizer.ggml.pre {name:?} is not supported for byte-level BPE vocabularies (supported: {list})", name = .0, list = SUPPORTED_PRE.join(", "))]
    UnsupportedPreTokenizer(String),
    /// The vocabulary has no tokens.
    #[error("tokenizer.ggml.tokens is empty")]
    EmptyVocab,
    /// More tokens than 32-bit ids can address.
    #[error("tokenizer.ggml.tokens has {0} entries; at most {max} are supported", max = table::PAIR_MAX_VOCAB)]
    VocabTooLarge(usize),
    /// A per-token array whose length differs from the vocabulary's.
    #[error("{key} has {found} entries but tokenizer.ggml.tokens has {expected}: the tokenizer metadata is inconsistent")]
    LengthMismatch {
        /// The metadata key of the array.
        key: &'static str,
        /// Tokens in the vocabulary.
        expected: usize,
        /// Entries in the array.
        found: usize,
    },
    /// A BPE merge that is not two tokens of the vocabulary.
    #[error("tokenizer.ggml.merges[{index}] = {merge:?}: {reason}")]
    BadMerge {
        /// Its index in `tokenizer.ggml.merges`.
        index: usize,
        /// The merge as written.
        merge: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A special token id outside the vocabulary.
    #[error("{key} = {id} is outside the vocabulary of {n_vocab} tokens")]
    BadSpecialId {
        /// The metadata key, e.g. `tokenizer.ggml.bos_token_id`.
        key: &'static str,
        /// The id read.
        id: u64,
        /// Tokens in the vocabulary.
        n_vocab: usize,
    },
    /// A flag asks for a special token the model does not define.
    #[error("{flag} is true but the model has no {what} token (set {key})")]
    MissingSpecial {
        /// The flag, e.g. `tokenizer.ggml.add_bos_token`.
        flag: &'static str,
        /// The token it needs, e.g. "BOS".
        what: &'static str,
        /// The key that would define it.
        key: &'static str,
    },
}

/// The vocabulary type (`tokenizer.ggml.model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VocabKind {
    /// `"gpt2"`: byte-level BPE with merges.
    Bpe,
    /// `"llama"`: SentencePiece BPE over scores, with byte fallback.
    Spm,
}

const K_MODEL: &str = "tokenizer.ggml.model";
const K_PRE: &str = "tokenizer.ggml.pre";
const K_TOKENS: &str = "tokenizer.ggml.tokens";
const K_SCORES: &str = "tokenizer.ggml.scores";
const K_TYPES: &str = "tokenizer.ggml.token_type";
const K_MERGES: &str = "tokenizer.ggml.merges";
const K_BOS: &str = "tokenizer.ggml.bos_token_id";
const K_EOS: &str = "tokenizer.ggml.eos_token_id";
const K_EOT: &str = "tokenizer.ggml.eot_token_id";
const K_EOM: &str = "tokenizer.ggml.eom_token_id";
const K_UNK: &str = "tokenizer.ggml.unknown_token_id";
const K_SEP: &str = "tokenizer.ggml.seperator_token_id";
const K_PAD: &str = "tokenizer.ggml.padding_token_id";
const K_FIM_PAD: &str = "tokenizer.ggml.fim_pad_token_id";
const K_FIM_REP: &str = "tokenizer.ggml.fim_rep_token_id";
const K_FIM_SEP: &str = "tokenizer.ggml.fim_sep_token_id";
const K_ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
const K_ADD_EOS: &str = "tokenizer.ggml.add_eos_token";
const K_ADD_PREFIX: &str = "tokenizer.ggml.add_space_prefix";

/// Texts llama.cpp recognizes as end-of-turn tokens when `eot_token_id` is absent.
const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];
/// Texts that end a generation (llama.cpp's `special_eog_ids` detection).
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "</s>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];
const FIM_PRE_TEXTS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
];
const FIM_SUF_TEXTS: &[&str] = &[
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
];
const FIM_MID_TEXTS: &[&str] = &[
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];
const FIM_PAD_TEXTS: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP_TEXTS: &[&str] = &[
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
];
const FIM_SEP_TEXTS: &[&str] = &["<|file_sep|>"];

/// Scratch buffers reused across `encode` calls on one thread.
#[derive(Default)]
struct Scratch {
    frags: Vec<Fragment>,
    part: special::PartitionScratch,
    bpe: bpe::BpeScratch,
    spm: spm::SpmScratch,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A model's tokenizer: text to token ids and back. Built once per model; `Send + Sync`, and
/// `encode` / `decode` take `&self`.
pub struct Tokenizer {
    kind: VocabKind,
    pre_name: String,
    pub(crate) pre: PreTokenizer,
    /// Raw vocabulary texts (byte-level encoded for BPE, "▁" for spaces in SPM).
    pub(crate) pieces: Arena,
    /// Detokenized bytes of each token, control tokens included (llama.cpp's
    /// `cache_token_to_piece`).
    rendered: Arena,
    pub(crate) map: PieceMap,
    attrs: Vec<u8>,
    /// SentencePiece token scores (empty for BPE vocabularies, which merge by rank).
    pub(crate) scores: table::Flat<f32>,
    pub(crate) merges: PairMap,
    /// Token of each single byte: the byte-level character (BPE) or `<0xXX>` (SPM).
    pub(crate) byte_tokens: [u32; 256],
    /// BPE: tokens for a byte whose byte-level character is not in the vocabulary.
    pub(crate) byte_fallback: Vec<Vec<u32>>,
    specials: SpecialMatcher,
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    pub(crate) unk: Option<u32>,
    pad: Option<u32>,
    add_bos: bool,
    add_eos: bool,
    pub(crate) add_space_prefix: bool,
    clean_spaces: bool,
    pub(crate) ignore_merges: bool,
    /// BPE over GPT-2's byte-level alphabet (`gpt2`); false for raw UTF-8 (`gemma4`).
    pub(crate) byte_level: bool,
    /// Spaces become "▁" before BPE, and "▁" a space when decoding (`gemma4`).
    pub(crate) escape_spaces: bool,
    eog: Vec<u32>,
    /// The cache file the large tables are mapped from, if they are.
    tables_file: Option<tables_file::TablesFile>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("kind", &self.kind)
            .field("pre", &self.pre_name)
            .field("vocab_size", &self.vocab_size())
            .field("merges", &self.merges.len())
            .field("special_tokens", &self.specials.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("eog", &self.eog)
            .field("add_bos", &self.add_bos)
            .finish_non_exhaustive()
    }
}

/// An optional token id; a negative stored value means "none".
fn opt_id(file: &GgufFile, key: &str) -> Result<Option<u64>, GgufError> {
    match file.get(key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(x) => Ok(Some(x)),
            None => match v {
                MetaValue::I8(x) if *x < 0 => Ok(None),
                MetaValue::I16(x) if *x < 0 => Ok(None),
                MetaValue::I32(x) if *x < 0 => Ok(None),
                MetaValue::I64(x) if *x < 0 => Ok(None),
                _ => Err(GgufError::WrongType {
                    key: key.to_owned(),
                    expected: "token id (unsigned integer)",
                    found: v.type_name(),
                }),
            },
        },
    }
}

/// Every `tokenizer.ggml.pre` [`bpe_pre`] accepts ("" is a file without the key).
const SUPPORTED_PRE: &[&str] = &[
    "\"\" (none)",
    "default",
    "gpt-2",
    "phi-2",
    "jina-es",
    "jina-de",
    "gigachat",
    "jina-v2-es",
    "jina-v2-de",
    "a.x-4.0",
    "mellum",
    "modern-bert",
    "mpt",
    "olmo",
    "jais",
    "exaone4",
    "trillion",
    "granite-docling",
    "smollm",
    "command-r",
    "starcoder",
    "refact",
    "codeshell",
    "exaone",
    "minerva-7b",
    "mellum2",
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "falcon-h1",
    "pixtral",
    "midm-2.0",
    "lfm2",
    "jina-v5-nano",
    "dbrx",
    "smaug-bpe",
    "qwen2",
    "deepseek-r1-qwen",
    "kormo",
    "f2llmv2",
    "hunyuan",
    "solar-open",
    "stablelm2",
    "megrez",
    "qwen35",
    "falcon",
    "deepseek-llm",
    "deepseek-coder",
    "gemma4",
];

/// BPE pre-tokenizer settings by `tokenizer.ggml.pre`: (splitter, clean_spaces, ignore_merges,
/// add_bos default), as in llama.cpp's `llama_vocab::impl::load`.
fn bpe_pre(name: &str) -> Option<(PreTokenizer, bool, bool, bool)> {
    use PreTokenizer::*;
    Some(match name {
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de"
        | "a.x-4.0" | "mellum" | "modern-bert" | "mpt" | "olmo" | "jais" | "exaone4" => {
            (Gpt2, true, false, false)
        }
        "trillion" | "granite-docling" => (Gpt2, false, false, false),
        "smollm" | "command-r" => (DigitsThenGpt2, false, false, false),
        "starcoder" | "refact" | "codeshell" | "exaone" | "minerva-7b" | "mellum2" => {
            (DigitsThenGpt2, true, false, false)
        }
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" | "jina-v5-nano" => (Llama3 { max_digits: 3 }, true, true, true),
        "dbrx" | "smaug-bpe" => (Llama3 { max_digits: 3 }, true, false, false),
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "hunyuan" | "solar-open" => {
            (Llama3 { max_digits: 1 }, false, false, false)
        }
        "stablelm2" | "megrez" => (Llama3 { max_digits: 1 }, true, false, false),
        "qwen35" => (Qwen35, false, false, false),
        // No name (old GPT-NeoX, Aquila... conversions): llama.cpp's default pipeline.
        "" | "default" => (PreTokenizer::Default, true, false, false),
        "falcon" => (Falcon, true, false, false),
        "deepseek-llm" => (DeepseekLlm, false, false, false),
        "deepseek-coder" => (DeepseekCoder, false, false, false),
        // llama.cpp forces BOS on for Gemma 4.
        "gemma4" => (Gemma4, true, false, true),
        _ => return None,
    })
}

/// A string array (its entries stay in the file until walked).
fn str_array<'a>(file: &'a GgufFile, key: &str) -> Result<&'a MetaArray, GgufError> {
    match file.get(key) {
        None => Err(GgufError::MissingKey(key.to_owned())),
        Some(MetaValue::Array(a)) if a.elem_type() == ElemType::Str => Ok(a),
        Some(MetaValue::Array(a)) => Err(GgufError::WrongType {
            key: key.to_owned(),
            expected: "array of strings",
            found: a.type_name(),
        }),
        Some(v) => Err(GgufError::WrongType {
            key: key.to_owned(),
            expected: "array of strings",
            found: v.type_name(),
        }),
    }
}

fn num_array<'a>(file: &'a GgufFile, key: &str) -> Result<&'a MetaArray, GgufError> {
    match file.get(key) {
        None => Err(GgufError::MissingKey(key.to_owned())),
        Some(MetaValue::Array(a)) => Ok(a),
        Some(v) => Err(GgufError::WrongType {
            key: key.to_owned(),
            expected: "array of numbers",
            found: v.type_name(),
        }),
    }
}

/// Token scores (f32; integer arrays are accepted, as llama.cpp does).
fn float_array(file: &GgufFile, key: &str) -> Result<Vec<f32>, GgufError> {
    let a = num_array(file, key)?;
    file.array_to_f32(a).ok_or_else(|| GgufError::WrongType {
        key: key.to_owned(),
        expected: "array of numbers",
        found: a.type_name(),
    })
}

/// Token types mapped straight to attributes (no intermediate i64 vector).
fn token_types(file: &GgufFile, key: &str) -> Result<Vec<u8>, GgufError> {
    use ElemType::*;
    let a = num_array(file, key)?;
    if !matches!(a.elem_type(), I32 | U32 | I8 | U8 | I16 | U16 | I64 | U64) {
        return Err(GgufError::WrongType {
            key: key.to_owned(),
            expected: "array of integers",
            found: a.type_name(),
        });
    }
    Ok(file
        .array_items(a)
        .map(|v| match v {
            MetaValue::I32(t) => attr_of_type(t.into()),
            MetaValue::U32(t) => attr_of_type(t.into()),
            MetaValue::I8(t) => attr_of_type(t.into()),
            MetaValue::U8(t) => attr_of_type(t.into()),
            MetaValue::I16(t) => attr_of_type(t.into()),
            MetaValue::U16(t) => attr_of_type(t.into()),
            MetaValue::I64(t) => attr_of_type(t),
            MetaValue::U64(t) => attr_of_type(t.min(255) as i64),
            _ => 0,
        })
        .collect())
}

/// Resolves every merge "left right" to `(left id, right id) -> (rank, merged id)`.
///
/// Lookups run in batches: first every lookup's table slot and arena entry is read once (the
/// loads are independent, so their cache misses overlap), then the lookups proper hit cache.
/// This halves the cost of the ~100k random lookups SmolLM2's 48,900 merges need.
fn build_merges(
    file: &GgufFile,
    list: &MetaArray,
    pieces: &Arena,
    map: &PieceMap,
    guess_ok: bool,
) -> Result<PairMap, TokenizerError> {
    const BATCH: usize = 32;
    let mut merges = PairMap::with_capacity(list.len());
    let mut joined = Vec::new();
    let mut next_merged = 0u32;
    let mut batch: Vec<(&[u8], usize, u64, u64)> = Vec::with_capacity(BATCH);
    let mut resolved: Vec<(u32, u32, u32, u32)> = Vec::with_capacity(BATCH);
    let mut chunk: Vec<&[u8]> = Vec::with_capacity(BATCH);
    let mut items = file.array_strings(list).into_iter().flatten();
    for c in 0.. {
        chunk.clear();
        chunk.extend(items.by_ref().take(BATCH));
        if chunk.is_empty() {
            break;
        }
        batch.clear();
        for (j, &m) in chunk.iter().enumerate() {
            if c * BATCH + j >= table::PAIR_MAX_MERGES {
                return Err(TokenizerError::BadMerge {
                    index: c * BATCH + j,
                    merge: String::from_utf8_lossy(m).into_owned(),
                    reason: format!(
                        "more than {} merges are not supported",
                        table::PAIR_MAX_MERGES
                    ),
                });
            }
            let sp = m.iter().skip(1).position(|&b| b == b' ').map(|p| p + 1);
            let Some(sp) = sp else {
                return Err(TokenizerError::BadMerge {
                    index: c * BATCH + j,
                    merge: String::from_utf8_lossy(m).into_owned(),
                    reason: "expected two tokens separated by a space".into(),
                });
            };
            let (ha, hb) = (table::hash_bytes(&m[..sp]), table::hash_bytes(&m[sp + 1..]));
            batch.push((m, sp, ha, hb));
        }
        let mut warm = 0u64;
        for &(_, _, ha, hb) in &batch {
            warm ^= map.first_slot(ha) ^ map.first_slot(hb);
        }
        for &(_, _, ha, hb) in &batch {
            for h in [ha, hb] {
                if let Some(id) = map.first_candidate(h) {
                    warm ^= u64::from(pieces.get(id as usize).first().copied().unwrap_or(0));
                }
            }
        }
        std::hint::black_box(warm);
        for (j, &(m, sp, ha, hb)) in batch.iter().enumerate() {
            let rank = c * BATCH + j;
            let bad = |part: &[u8]| TokenizerError::BadMerge {
                index: rank,
                merge: String::from_utf8_lossy(m).into_owned(),
                reason: format!(
                    "refers to {:?}, which is not in the vocabulary",
                    String::from_utf8_lossy(part)
                ),
            };
            let (a, b) = (&m[..sp], &m[sp + 1..]);
            let la = map.get_hashed(a, ha, pieces).ok_or_else(|| bad(a))?;
            let lb = map.get_hashed(b, hb, pieces).ok_or_else(|| bad(b))?;
            // Merged tokens usually follow each other in the vocabulary: try the next id
            // before hashing.
            let g = pieces.get(next_merged as usize);
            let merged =
                if guess_ok && g.len() == a.len() + b.len() && g.starts_with(a) && g.ends_with(b) {
                    next_merged
                } else {
                    joined.clear();
                    joined.extend_from_slice(a);
                    joined.extend_from_slice(b);
                    map.get(&joined, pieces).ok_or_else(|| bad(&joined))?
                };
            next_merged = merged.wrapping_add(1);
            resolved.push((la, lb, rank as u32, merged));
        }
        for &(la, lb, _, _) in &resolved {
            warm ^= merges.first_slot(la, lb);
        }
        std::hint::black_box(warm);
        for (la, lb, rank, merged) in resolved.drain(..) {
            merges.insert_first(la, lb, rank, merged);
        }
    }
    Ok(merges)
}

/// Token texts into one arena; empty texts get llama.cpp's placeholder. The array's bytes are
/// its texts and an 8-byte length before each.
fn build_pieces(file: &GgufFile, tokens: &MetaArray, n: usize) -> Result<Arena, TokenizerError> {
    let total = tokens.byte_len().saturating_sub(8 * n);
    let mut pieces = Arena::with_capacity(n, total);
    for (i, t) in file.array_strings(tokens).into_iter().flatten().enumerate() {
        if t.is_empty() {
            pieces.extend(format!("[EMPTY_{i}]").as_bytes());
        } else {
            pieces.extend(t);
        }
        pieces.end_item();
    }
    if pieces.len() != n {
        // the file was rewritten in place since it was opened
        return Err(TokenizerError::LengthMismatch {
            key: K_TOKENS,
            expected: n,
            found: pieces.len(),
        });
    }
    Ok(pieces)
}

/// Detokenized bytes of every token (llama.cpp's token_to_piece with special = true).
fn render(kind: VocabKind, sentencepiece_bpe: bool, pieces: &Arena, attrs: &[u8]) -> Arena {
    let mut rendered = Arena::with_capacity(pieces.len(), pieces.total_bytes());
    for (i, &a) in attrs.iter().enumerate() {
        let text = pieces.get(i);
        if a & (attr::UNKNOWN | attr::CONTROL | attr::USER_DEFINED) != 0 {
            rendered.extend(text);
        } else if a & attr::NORMAL != 0 {
            match kind {
                VocabKind::Spm => render_spm(text, &mut rendered),
                VocabKind::Bpe if sentencepiece_bpe => render_spm(text, &mut rendered),
                VocabKind::Bpe => render_byte_level(text, &mut rendered),
            }
        } else if a & attr::BYTE != 0 {
            rendered.push_byte(parse_byte_token(text));
        }
        rendered.end_item();
    }
    rendered
}

fn attr_of_type(t: i64) -> u8 {
    match t {
        1 => attr::NORMAL,
        2 => attr::UNKNOWN,
        3 => attr::CONTROL,
        4 => attr::USER_DEFINED,
        5 => attr::UNUSED,
        6 => attr::BYTE,
        _ => 0,
    }
}

/// The byte a `<0xXX>` token stands for (llama.cpp parses the two characters after "<0x" with
/// `strtol`; malformed text gives 0 there too).
fn parse_byte_token(text: &[u8]) -> u8 {
    let hex = |c: u8| (c as char).to_digit(16);
    match (
        text.get(3).and_then(|&c| hex(c)),
        text.get(4).and_then(|&c| hex(c)),
    ) {
        (Some(a), Some(b)) => (a * 16 + b) as u8,
        (Some(a), None) => a as u8,
        _ => 0,
    }
}

impl Tokenizer {
    /// Builds the tokenizer from a model file's metadata (apps get it from
    /// [`Model::tokenizer`](crate::Model::tokenizer); tests build vocabularies directly).
    #[doc(hidden)]
    pub fn from_gguf(file: &GgufFile) -> Result<Self, TokenizerError> {
        Self::from_gguf_cached(file, None)
    }

    /// [`Tokenizer::from_gguf`] with the large tables mapped from a file in `cache_dir`
    /// (`tables_file.rs`): read from it when a valid one is there, else built and written to
    /// it. A cache that cannot be used only costs the heap: the reason is logged and the tables
    /// are built as without one. (Apps get this through [`crate::LoadOptions::layout_cache`].)
    #[doc(hidden)]
    pub fn from_gguf_cached(
        file: &GgufFile,
        cache_dir: Option<&Path>,
    ) -> Result<Self, TokenizerError> {
        let tokens = str_array(file, K_TOKENS)?;
        let model = file.get_str(K_MODEL)?;
        let pre_name = file.opt_str(K_PRE)?.unwrap_or("").to_owned();
        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        if n > table::PAIR_MAX_VOCAB {
            return Err(TokenizerError::VocabTooLarge(n));
        }
        let kind = match model {
            "gpt2" | "gemma4" => VocabKind::Bpe,
            "llama" => VocabKind::Spm,
            other => return Err(TokenizerError::UnsupportedModel(other.to_owned())),
        };
        // Gemma 4: SentencePiece-style BPE with merges over raw UTF-8 (llama.cpp names its
        // pre-tokenizer "gemma4" whatever the file says).
        let sentencepiece_bpe = model == "gemma4";
        let pre_name = if sentencepiece_bpe {
            "gemma4".to_owned()
        } else {
            pre_name
        };
        let (pre, clean_spaces, ignore_merges, mut add_bos) = match kind {
            VocabKind::Bpe => bpe_pre(&pre_name)
                .ok_or_else(|| TokenizerError::UnsupportedPreTokenizer(pre_name.clone()))?,
            VocabKind::Spm => (PreTokenizer::Gpt2, false, false, true),
        };
        let mut add_space_prefix = kind == VocabKind::Spm;
        if let Some(v) = file.opt_bool(K_ADD_PREFIX)? {
            add_space_prefix = v;
        }

        let cached = cache_dir.and_then(|dir| match tables_file::open(dir, file, n) {
            Ok(found) => found,
            Err(why) => {
                log::warn!(target: "pocketlm::tokenizer", "rebuilding the tokenizer's tables: {why}");
                None
            }
        });
        let (cached, mut tables_file) = match cached {
            Some((t, f)) => (Some(t), Some(f)),
            None => (None, None),
        };
        let scores = match file.get(K_SCORES) {
            Some(_) if cached.is_some() => Vec::new(),
            Some(_) => {
                let s = float_array(file, K_SCORES)?;
                if s.len() != n {
                    return Err(TokenizerError::LengthMismatch {
                        key: K_SCORES,
                        expected: n,
                        found: s.len(),
                    });
                }
                // Only SentencePiece merges by score; a BPE vocabulary's are checked and
                // dropped (Gemma 4's: 1 MiB of heap for the session's life).
                if kind == VocabKind::Spm {
                    s
                } else {
                    Vec::new()
                }
            }
            None => Vec::new(),
        };
        let mut attrs = match file.get(K_TYPES) {
            Some(_) => {
                let t = token_types(file, K_TYPES)?;
                if t.len() != n {
                    return Err(TokenizerError::LengthMismatch {
                        key: K_TYPES,
                        expected: n,
                        found: t.len(),
                    });
                }
                t
            }
            None => vec![attr::NORMAL; n],
        };

        // From the cache file: every large table. Built: the texts and their index now, the
        // merges and detokenized forms below (they need the special tokens' attributes).
        let (pieces, map, has_duplicates, cached_rendered, cached_merges, scores) = match cached {
            Some(c) => (
                c.pieces,
                c.map,
                false,
                Some(c.rendered),
                Some(c.merges),
                c.scores,
            ),
            None => {
                let pieces = build_pieces(file, tokens, n)?;
                let (map, has_duplicates) = PieceMap::build(&pieces);
                (
                    pieces,
                    map,
                    has_duplicates,
                    None,
                    None,
                    table::Flat::Heap(scores),
                )
            }
        };
        let lookup = |s: &[u8]| map.get(s, &pieces);

        // Special ids: defaults by vocabulary type, then the file's keys.
        let (mut bos, mut eos, mut unk) = match kind {
            VocabKind::Spm => (Some(1), Some(2), Some(0)),
            VocabKind::Bpe if sentencepiece_bpe => (None, None, None),
            VocabKind::Bpe => (Some(11), Some(11), None),
        };
        let in_range = |id: Option<u32>| id.filter(|&i| (i as usize) < n);
        (bos, eos, unk) = (in_range(bos), in_range(eos), in_range(unk));
        let read = |key: &'static str, cur: Option<u32>| -> Result<Option<u32>, TokenizerError> {
            match opt_id(file, key)? {
                None => Ok(cur),
                Some(id) if id < n as u64 => Ok(Some(id as u32)),
                Some(id) => Err(TokenizerError::BadSpecialId {
                    key,
                    id,
                    n_vocab: n,
                }),
            }
        };
        bos = read(K_BOS, bos)?;
        eos = read(K_EOS, eos)?;
        unk = read(K_UNK, unk)?;
        let mut eot = read(K_EOT, None)?;
        let eom = read(K_EOM, None)?;
        let _sep = read(K_SEP, None)?;
        let pad = read(K_PAD, None)?;
        let mut fim_pad = read(K_FIM_PAD, None)?;
        let mut fim_rep = read(K_FIM_REP, None)?;
        let mut fim_sep = read(K_FIM_SEP, None)?;
        if let Some(v) = file.opt_bool(K_ADD_BOS)? {
            add_bos = v;
        }
        // llama.cpp overrides a false add_bos_token for Gemma 4.
        add_bos |= pre == PreTokenizer::Gemma4;
        let add_eos = file.opt_bool(K_ADD_EOS)?.unwrap_or(false);
        if add_bos && bos.is_none() {
            return Err(TokenizerError::MissingSpecial {
                flag: K_ADD_BOS,
                what: "BOS",
                key: K_BOS,
            });
        }
        if add_eos && eos.is_none() {
            return Err(TokenizerError::MissingSpecial {
                flag: K_ADD_EOS,
                what: "EOS",
                key: K_EOS,
            });
        }

        // Recognize end-of-turn / FIM tokens by text and make them control tokens, as
        // llama.cpp does for models whose converter did not mark them.
        let mut eog: Vec<u32> = Vec::new();
        let force_control = |attrs: &mut Vec<u8>, id: u32| attrs[id as usize] |= attr::CONTROL;
        let find =
            |texts: &[&str]| -> Option<u32> { texts.iter().find_map(|t| lookup(t.as_bytes())) };
        if eot.is_none() {
            eot = find(EOT_TEXTS);
            if let Some(id) = eot {
                force_control(&mut attrs, id);
            }
        }
        for (slot, texts) in [
            (None, FIM_PRE_TEXTS),
            (None, FIM_SUF_TEXTS),
            (None, FIM_MID_TEXTS),
            (Some(&mut fim_pad), FIM_PAD_TEXTS),
            (Some(&mut fim_rep), FIM_REP_TEXTS),
            (Some(&mut fim_sep), FIM_SEP_TEXTS),
        ] {
            match slot {
                Some(s) if s.is_some() => {}
                Some(s) => {
                    *s = find(texts);
                    if let Some(id) = *s {
                        force_control(&mut attrs, id);
                    }
                }
                None => {
                    if let Some(id) = find(texts) {
                        force_control(&mut attrs, id);
                    }
                }
            }
        }
        eog.extend([fim_pad, fim_rep, fim_sep].into_iter().flatten());
        for t in EOG_TEXTS {
            if let Some(id) = lookup(t.as_bytes()) {
                eog.push(id);
                force_control(&mut attrs, id);
            }
        }
        // ... except where "</s>" is an ordinary token (Gemma 4 and PLaMo 2 have an end marker of
        // their own): llama.cpp then turns it back into a normal token.
        if let Some(s) = lookup(b"</s>") {
            let marker = ["<|tool_response>", "<|plamo:eos|>"]
                .iter()
                .any(|t| lookup(t.as_bytes()).is_some_and(|id| eog.contains(&id)));
            if marker && eog.contains(&s) {
                eog.retain(|&x| x != s);
                attrs[s as usize] = attr::NORMAL;
            }
        }
        eog.extend([eos, eot, eom].into_iter().flatten());
        // o200k_harmony: "<|end|>" is not an end of generation when "<|return|>" and "<|call|>"
        // (or "<|calls|>" and "<|flush|>") exist.
        let has = |t: &str| lookup(t.as_bytes()).is_some_and(|id| eog.contains(&id));
        if let Some(end) = lookup(b"<|end|>") {
            if (has("<|return|>") && has("<|call|>")) || (has("<|calls|>") && has("<|flush|>")) {
                eog.retain(|&x| x != end);
                attrs[end as usize] = attr::USER_DEFINED;
            }
        }
        eog.sort_unstable();
        eog.dedup();

        // BPE merges: "left right" -> (left id, right id) -> (rank, merged id).
        let merges = match (cached_merges, kind) {
            (Some(m), _) => m,
            (None, VocabKind::Bpe) => build_merges(
                file,
                str_array(file, K_MERGES)?,
                &pieces,
                &map,
                !has_duplicates,
            )?,
            (None, VocabKind::Spm) => PairMap::default(),
        };

        // Single-byte tokens.
        let mut byte_tokens = [NO_TOKEN; 256];
        let mut byte_fallback = vec![Vec::new(); 256];
        for b in 0..=255u8 {
            let mut buf = [0u8; 4];
            byte_tokens[b as usize] = match kind {
                VocabKind::Bpe if sentencepiece_bpe => lookup(format!("<0x{b:02X}>").as_bytes()),
                VocabKind::Bpe => {
                    let enc = pretok::byte_to_char(b).encode_utf8(&mut buf).as_bytes();
                    let id = lookup(enc);
                    if id.is_none() {
                        byte_fallback[b as usize] =
                            enc.iter().filter_map(|&x| lookup(&[x])).collect();
                    }
                    id
                }
                VocabKind::Spm => {
                    lookup(format!("<0x{b:02X}>").as_bytes()).or_else(|| lookup(&[b]))
                }
            }
            .unwrap_or(NO_TOKEN);
        }

        let rendered = match cached_rendered {
            Some(r) => r,
            None => render(kind, sentencepiece_bpe, &pieces, &attrs),
        };

        let specials = SpecialMatcher::new(
            (0..n as u32)
                .filter(|&id| {
                    attrs[id as usize] & (attr::CONTROL | attr::USER_DEFINED | attr::UNKNOWN) != 0
                        && lookup(pieces.get(id as usize)) == Some(id)
                })
                .collect(),
            &pieces,
            &attrs,
        );
        let mut tables = tables_file::Tables {
            pieces,
            rendered,
            map,
            merges,
            scores,
        };
        if let (Some(dir), None) = (cache_dir, &tables_file) {
            // Built now: written for the next load, and mapped from the file from now on so
            // that this load's heap copies are freed too.
            match tables_file::write(dir, file, &tables)
                .and_then(|_| tables_file::open(dir, file, n))
            {
                Ok(Some((mapped, f))) => (tables, tables_file) = (mapped, Some(f)),
                Ok(None) => {}
                Err(why) => log::warn!(
                    target: "pocketlm::tokenizer",
                    "the tokenizer's tables stay on the heap: {why}"
                ),
            }
        }
        let tables_file::Tables {
            pieces,
            rendered,
            map,
            merges,
            scores,
        } = tables;
        Ok(Self {
            kind,
            pre_name,
            pre,
            pieces,
            rendered,
            map,
            attrs,
            scores,
            merges,
            byte_tokens,
            byte_fallback,
            specials,
            bos,
            eos,
            eot,
            unk,
            pad,
            add_bos,
            add_eos,
            add_space_prefix,
            clean_spaces,
            ignore_merges,
            byte_level: !sentencepiece_bpe,
            escape_spaces: sentencepiece_bpe,
            eog,
            tables_file,
        })
    }

    /// Text to token ids. `add_special` adds BOS (and EOS) where the model's metadata asks for
    /// them; `parse_special` lets control tokens written in the text (`<|im_start|>`) become
    /// those tokens instead of plain text.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<u32> {
        let mut out = Vec::new();
        self.encode_into(text, add_special, parse_special, &mut out);
        out
    }

    /// Like [`Tokenizer::encode`], appending to `out` (reuses its allocation).
    pub fn encode_into(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
        out: &mut Vec<u32>,
    ) {
        // Reuse this thread's buffers; a re-entrant call or a thread being torn down gets fresh
        // ones.
        let done = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => {
                self.encode_with(text, add_special, parse_special, &mut s, out);
                true
            }
            Err(_) => false,
        });
        if !matches!(done, Ok(true)) {
            let mut s = Scratch::default();
            self.encode_with(text, add_special, parse_special, &mut s, out);
        }
    }

    fn encode_with(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
        s: &mut Scratch,
        out: &mut Vec<u32>,
    ) {
        let Scratch {
            frags,
            part,
            bpe: bpe_s,
            spm: spm_s,
        } = s;
        self.specials
            .partition(&self.pieces, text, parse_special, part, frags);
        if add_special && self.add_bos {
            out.extend(self.bos);
        }
        let mut prev_special = true;
        for f in frags.iter() {
            match f {
                Fragment::Token(id) => {
                    out.push(*id);
                    prev_special = true;
                }
                Fragment::Text(r) => {
                    let t = &text[r.clone()];
                    match self.kind {
                        VocabKind::Bpe => bpe::encode_fragment(self, t, bpe_s, out),
                        VocabKind::Spm => spm::encode_fragment(
                            self,
                            t,
                            self.add_space_prefix && prev_special,
                            spm_s,
                            out,
                        ),
                    }
                    prev_special = false;
                }
            }
        }
        if add_special && self.add_eos {
            out.extend(self.eos);
        }
    }

    /// The cache file the tokenizer's large tables are mapped from (written on the first load
    /// with a cache directory, [`crate::LoadOptions::layout_cache`]), or `None` when they are on
    /// the heap.
    pub fn tables_file(&self) -> Option<&Path> {
        self.tables_file.as_ref().map(|f| f.path())
    }

    /// Fails when the tables' cache file was truncated or rewritten since it was mapped (its
    /// pages must not be touched then). One `fstat`; nothing to check without a file.
    pub(crate) fn check_tables_file(&self) -> Result<(), String> {
        match &self.tables_file {
            Some(f) => f.check_unchanged(),
            None => Ok(()),
        }
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// The vocabulary type.
    pub fn kind(&self) -> VocabKind {
        self.kind
    }

    /// `tokenizer.ggml.pre` as written in the file ("" when absent).
    pub fn pre_tokenizer_name(&self) -> &str {
        &self.pre_name
    }

    /// Number of BPE merges (0 for SentencePiece vocabularies).
    pub fn n_merges(&self) -> usize {
        self.merges.len()
    }

    /// The beginning-of-text token, if the model has one.
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    /// The end-of-text token, if the model has one.
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// The end-of-turn token (`eot_token_id`, or recognized by its text).
    pub fn eot(&self) -> Option<u32> {
        self.eot
    }

    /// The unknown-token token, if the model has one.
    pub fn unk(&self) -> Option<u32> {
        self.unk
    }

    /// The padding token, if the model has one.
    pub fn pad(&self) -> Option<u32> {
        self.pad
    }

    /// Whether `encode(.., add_special = true, ..)` starts with BOS.
    pub fn adds_bos(&self) -> bool {
        self.add_bos
    }

    /// Whether `encode(.., add_special = true, ..)` ends with EOS.
    pub fn adds_eos(&self) -> bool {
        self.add_eos
    }

    /// Whether SentencePiece text gets a leading space (and decoding drops it).
    pub fn adds_space_prefix(&self) -> bool {
        self.add_space_prefix
    }

    /// Tokens that end a generation: EOS, end-of-turn tokens (`<|im_end|>`, `<end_of_turn>`,
    /// `<|eot_id|>`, `<|endoftext|>`...) and llama.cpp's other end-of-generation tokens.
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }

    /// All end-of-generation tokens, sorted.
    pub fn end_of_generation_tokens(&self) -> &[u32] {
        &self.eog
    }

    fn attr(&self, id: u32) -> u8 {
        self.attrs.get(id as usize).copied().unwrap_or(0)
    }

    /// A control token (`<|im_start|>`, `<bos>`, `<end_of_turn>`...): never produced from plain
    /// text, rendered as nothing by default.
    pub fn is_control(&self, id: u32) -> bool {
        self.attr(id) & attr::CONTROL != 0
    }

    /// A user-defined token (Gemma's "\n\n", "`<td>`"...): always matched as a whole in text.
    pub fn is_user_defined(&self, id: u32) -> bool {
        self.attr(id) & attr::USER_DEFINED != 0
    }

    /// A byte-fallback token (`<0xE2>`).
    pub fn is_byte(&self, id: u32) -> bool {
        self.attr(id) & attr::BYTE != 0
    }

    /// Exact vocabulary lookup of a token's text as stored in the file (byte-level form for
    /// BPE, e.g. "Ġthe"; "▁the" for SentencePiece).
    pub fn token_id(&self, piece: &str) -> Option<u32> {
        self.map.get(piece.as_bytes(), &self.pieces)
    }

    /// A token's text as stored in the vocabulary (empty for an unknown id).
    pub fn token_text(&self, id: u32) -> &[u8] {
        self.pieces.get(id as usize)
    }

    /// The bytes a token contributes to decoded text (llama.cpp's `llama_token_to_piece` with
    /// `special = false`): byte-level decoding for BPE, "▁" → " " and `<0xXX>` → one byte for
    /// SentencePiece, nothing for control/unknown tokens and unknown ids. O(1).
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        if self.attr(id) & (attr::CONTROL | attr::UNKNOWN) != 0 {
            &[]
        } else {
            self.rendered.get(id as usize)
        }
    }

    /// Like [`Tokenizer::token_bytes`] but control tokens render as their text (`special = true`).
    pub fn token_bytes_special(&self, id: u32) -> &[u8] {
        self.rendered.get(id as usize)
    }

    /// Token ids to text (invalid UTF-8 is replaced by U+FFFD), like llama.cpp's
    /// `llama_detokenize(remove_special = skip_special, unparse_special = !skip_special)`:
    /// with `skip_special`, control tokens render as nothing and a leading BOS / trailing EOS
    /// that the model adds are dropped.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> String {
        String::from_utf8_lossy(&self.decode_bytes(ids, skip_special)).into_owned()
    }

    /// [`Tokenizer::decode`] before UTF-8 validation.
    pub fn decode_bytes(&self, ids: &[u32], skip_special: bool) -> Vec<u8> {
        let mut ids = ids;
        let mut remove_space = self.add_space_prefix;
        if skip_special && self.add_bos && !ids.is_empty() && Some(ids[0]) == self.bos {
            remove_space = false;
            ids = &ids[1..];
        }
        if skip_special && self.add_eos && !ids.is_empty() && ids.last().copied() == self.eos {
            ids = &ids[..ids.len() - 1];
        }
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            let mut piece = if skip_special {
                self.token_bytes(id)
            } else {
                self.token_bytes_special(id)
            };
            if remove_space && piece.first() == Some(&b' ') {
                piece = &piece[1..];
            }
            remove_space = false;
            out.extend_from_slice(piece);
        }
        if self.clean_spaces {
            clean_up_spaces(&mut out);
        }
        out
    }
}

/// SentencePiece piece to text: "▁" becomes a space.
fn render_spm(text: &[u8], out: &mut Arena) {
    let mut rest = text;
    while let Some(p) = rest.iter().position(|&b| b == 0xe2) {
        if rest[p..].starts_with(spm::SPACE_MARK) {
            out.extend(&rest[..p]);
            out.push_byte(b' ');
            rest = &rest[p + spm::SPACE_MARK.len()..];
        } else {
            out.extend(&rest[..=p]);
            rest = &rest[p + 1..];
        }
    }
    out.extend(rest);
}

/// Byte-level BPE piece to bytes. A character outside GPT-2's byte alphabet (only in
/// hand-edited vocabularies) is kept as its UTF-8, where llama.cpp writes "[UNK_BYTE_...]".
fn render_byte_level(text: &[u8], out: &mut Arena) {
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        // Printable ASCII stands for itself; two-byte characters cover the rest of the alphabet.
        if (0x21..=0x7e).contains(&b) {
            out.push_byte(b);
            i += 1;
            continue;
        }
        if (0xc2..=0xc5).contains(&b) && i + 1 < text.len() && text[i + 1] & 0xc0 == 0x80 {
            let cp = (u32::from(b & 0x1f) << 6) | u32::from(text[i + 1] & 0x3f);
            match char::from_u32(cp).and_then(pretok::char_to_byte) {
                Some(x) => out.push_byte(x),
                None => out.extend(&text[i..i + 2]),
            }
            i += 2;
            continue;
        }
        // Anything else (not in GPT-2's alphabet, or invalid UTF-8) is copied through.
        let len = match b >> 4 {
            0xc | 0xd => 2,
            0xe => 3,
            0xf => 4,
            _ => 1,
        };
        let end = (i + len).min(text.len());
        out.extend(&text[i..end]);
        i = end;
    }
}

/// llama.cpp's `clean_spaces` pass of `llama_detokenize` (GPT-2 / Llama 3 vocabularies): drop
/// the space before `?!.,`, around a lone `'`, and before `'s 'm 're 've`.
fn clean_up_spaces(t: &mut Vec<u8>) {
    let n1 = t.len();
    let mut n = usize::from(n1 > 0);
    for i in 1..n1 {
        let x = t[i];
        if t[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            n -= 1;
        }
        t[n] = x;
        n += 1;
    }
    let n2 = n;
    n = usize::from(n2 > 0);
    let mut i = 1;
    while i < n2 {
        let x = t[i];
        if x == b'\'' && i + 1 < n2 && t[i - 1] == b' ' && t[i + 1] == b' ' {
            n -= 1;
            i += 1;
            t[i] = 0;
        }
        t[n] = x;
        n += 1;
        i += 1;
    }
    let n3 = n;
    n = usize::from(n3 > 0);
    for i in 1..n3 {
        let x = t[i];
        if t[i - 1] == b' ' && x == b'\'' && i + 1 < n3 {
            let x1 = t[i + 1];
            if matches!(x1, b's' | b'm')
                || (i + 2 < n3 && matches!((x1, t[i + 2]), (b'r', b'e') | (b'v', b'e')))
            {
                n -= 1;
            }
        }
        t[n] = x;
        n += 1;
    }
    t.truncate(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> String {
        let mut v = s.as_bytes().to_vec();
        clean_up_spaces(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn clean_spaces_matches_llama_cpp_rules() {
        assert_eq!(clean("Hello , world !"), "Hello, world!");
        assert_eq!(clean("a ' b"), "a'b");
        assert_eq!(
            clean("it 's I 'm we 're they 've"),
            "it's I'm we're they've"
        );
        assert_eq!(clean("don 't we 'll"), "don 't we 'll");
        assert_eq!(clean(""), "");
        assert_eq!(clean(" ."), ".");
    }

    #[test]
    fn supported_pre_tokenizer_list_is_exact() {
        for &name in SUPPORTED_PRE {
            let name = if name.starts_with('"') { "" } else { name };
            assert!(bpe_pre(name).is_some(), "{name}");
        }
        assert!(bpe_pre("tekken").is_none());
    }

    #[test]
    fn byte_token_parsing() {
        assert_eq!(parse_byte_token(b"<0x0A>"), 0x0a);
        assert_eq!(parse_byte_token(b"<0xFF>"), 0xff);
        assert_eq!(parse_byte_token(b"<0xzz>"), 0);
    }
}
