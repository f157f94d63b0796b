//! The output-head rows the keyboard computes. A keyboard only ever looks at tokens that can
//! be part of a word it suggests, and at the likeliest few others (punctuation, end of turn)
//! for the probability that a word ends; a large multilingual vocabulary's head costs more
//! than the rest of a small model's forward pass (Gemma 3 270M: 262,144 rows of 640, 178 MiB
//! at Q8_0, against ~100 M parameters in its layers). Over a row subset the softmax is
//! normalized over the subset only; the rows left out are the tokenizer's rarest, whose
//! probability mass in keyboard text is negligible (the difference is measured on the dev
//! corpus, docs/keyboard.md "Restricted head").
//!
//! The subset is a list of row indices built once per predictor; the head's weights stay in the
//! model's file map (`kernels::matmul_rows_parallel` reads the selected rows in place).

use super::Language;
use crate::kernels::OutputRows;
use crate::Tokenizer;

/// Vocabularies up to this size keep the full head (SmolLM2: 49,152 rows; its head is a
/// fifth of a pass).
pub const FULL_HEAD_MAX_ROWS: usize = 65_536;

/// Rows kept by default for a vocabulary above [`FULL_HEAD_MAX_ROWS`]: SmolLM2's vocabulary
/// size, so a Gemma 3 keyboard pass costs about a SmolLM2 one. Measured with `eval-keyboard
/// --model gemma-3-270m-q4_k_m.gguf --corpus chatterbot-en-heldout.txt --limit 20 --threads 2
/// --head-rows 0|49152` (597 keystrokes): ksr 0.447 → 0.446, next-word top-1/top-3 0.210/0.371
/// both, first word within three letters 0.647 → 0.706, peak anonymous memory 115 → 77 MiB,
/// p95 338 → 40 ms (at load ~2.5). Individual strips do differ: 22 of the dev fixture's first
/// 28 are identical (tests/keyboard.rs, ignored), as near-ties reorder.
pub const DEFAULT_HEAD_ROWS: usize = 49_152;

/// The rows to compute for a model whose head has `n_vocab` rows, `None` for all of them:
/// the first `keep` token ids (SentencePiece and BPE vocabularies list tokens by rank: Gemma
/// 3's scores are −id), plus the end-of-generation tokens.
pub fn head_rows(tok: &Tokenizer, n_vocab: usize, keep: usize) -> Option<OutputRows> {
    if n_vocab <= FULL_HEAD_MAX_ROWS || keep == 0 || keep >= n_vocab {
        return None;
    }
    let mut ids: Vec<u32> = (0..keep as u32).collect();
    ids.extend(
        tok.end_of_generation_tokens()
            .iter()
            .copied()
            .filter(|&t| (t as usize) < n_vocab),
    );
    Some(OutputRows::new(ids))
}

/// The rows to keep for `language` when the option asks for `keep`: the first rows of a
/// multilingual vocabulary are its most frequent tokens overall, mostly English and code
/// (Gemma 3: " Dank" is row 59,679, " morgen" 110,299, " demain" 182,416, " domani"
/// 225,539), so any other language gets the full head (0) until a row list per language is
/// measured. With the first 49,152 rows, "Vielen Da" offered "Da" and "Dabei"; with all of
/// them "Dank" at p = 0.76.
pub fn rows_for_language(keep: usize, language: Language) -> usize {
    if language == Language::En {
        keep
    } else {
        0
    }
}
