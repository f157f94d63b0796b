//! The keyboard evaluation harness of `pocketlm eval-keyboard`: types a corpus through a
//! predictor and measures keystroke savings and latency ([`eval`]), against the naive LLM
//! keyboard as a baseline ([`naive`]). It lives in the CLI, not the core: it is a measuring
//! tool, not something an app ships.

mod eval;
mod naive;
#[cfg(test)]
mod tests;
mod user_words;

pub use eval::{evaluate_with, EditReport, EvalOptions, EvalReport, Suggest};
pub use naive::NaivePredictor;
pub use user_words::{evaluate_user_words, UserWordsRun};

use pocketlm::{KeyboardError, Suggestions, WordPredictor};

impl Suggest for WordPredictor {
    fn suggest(&self, text_before_cursor: &str) -> Result<Suggestions, KeyboardError> {
        WordPredictor::suggest(self, text_before_cursor)
    }

    fn name(&self) -> &'static str {
        "pocketlm"
    }
}
