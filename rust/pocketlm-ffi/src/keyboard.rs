//! Keyboard suggestions: next word, completion of the word being typed, corrections.

use crate::error::{count, guard, threads, PocketLmError};
use crate::model::Model;
use pocketlm::keyboard::{PredictorOptions, WordPredictor};
use std::sync::Arc;

/// What a suggestion does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SuggestionKind {
    /// The next word (nothing of it typed yet).
    NextWord,
    /// The word being typed, completed (starts with the typed letters).
    Completion,
    /// A likely word close to the typed one ("teh" → "the").
    Correction,
}

/// One slot of the suggestion strip.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Suggestion {
    pub word: String,
    /// The model's probability that this is the next word.
    pub probability: f32,
    pub kind: SuggestionKind,
}

/// How to apply a chosen suggestion: delete `delete_chars` characters (Unicode scalar values)
/// before the cursor, then insert `insert`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TextEdit {
    pub delete_chars: i32,
    pub insert: String,
}

/// How a predictor is set up.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KeyboardOptions {
    /// Most suggestions per call (1..=16; a strip has 3 slots).
    #[uniffi(default = 3)]
    pub max_suggestions: i32,
    /// Offer corrections of unlikely words.
    #[uniffi(default = true)]
    pub corrections: bool,
    /// Extra words never to suggest (case-insensitive; a trailing `*` matches any ending).
    #[uniffi(default = [])]
    pub blocklist: Vec<String>,
    /// Also suggest words of the built-in offensive-word list.
    #[uniffi(default = false)]
    pub allow_offensive: bool,
    /// Worker threads (0 = the default, at most 2).
    #[uniffi(default = 0)]
    pub threads: i32,
}

/// Suggestions for a keyboard's strip, computed on every keystroke. It caches the model's
/// state of the text typed so far, so typing a word costs little; calls from several
/// threads are serialized.
#[derive(uniffi::Object)]
pub struct KeyboardPredictor {
    inner: WordPredictor,
}

impl std::fmt::Debug for KeyboardPredictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyboardPredictor").finish_non_exhaustive()
    }
}

#[uniffi::export]
impl KeyboardPredictor {
    #[uniffi::constructor]
    pub fn new(model: Arc<Model>, options: KeyboardOptions) -> Result<Arc<Self>, PocketLmError> {
        guard("KeyboardPredictor.new", || {
            let opts = PredictorOptions {
                k: count("max_suggestions", options.max_suggestions, 1, 16)?,
                threads: threads(options.threads)?,
                corrections: options.corrections,
                blocklist: options.blocklist,
                allow_offensive: options.allow_offensive,
                ..PredictorOptions::default()
            };
            Ok(Arc::new(KeyboardPredictor {
                inner: WordPredictor::new(model.inner.clone(), opts)?,
            }))
        })
    }

    /// Up to `max_suggestions` distinct words for the text before the cursor, best first:
    /// next words after a space, completions (and corrections) while a word is typed.
    pub fn suggest(&self, text_before_cursor: String) -> Result<Vec<Suggestion>, PocketLmError> {
        guard("KeyboardPredictor.suggest", || {
            let s = self.inner.suggest(&text_before_cursor)?;
            Ok(s.items
                .into_iter()
                .map(|i| Suggestion {
                    word: i.word,
                    probability: i.probability,
                    kind: match i.kind {
                        pocketlm::keyboard::SuggestionKind::NextWord => SuggestionKind::NextWord,
                        pocketlm::keyboard::SuggestionKind::Completion => {
                            SuggestionKind::Completion
                        }
                        pocketlm::keyboard::SuggestionKind::Correction => {
                            SuggestionKind::Correction
                        }
                    },
                })
                .collect())
        })
    }

    /// The edit that applies `word` (usually a suggestion) to the text before the cursor:
    /// it replaces the word being typed and adds a space.
    pub fn accept(
        &self,
        text_before_cursor: String,
        word: String,
    ) -> Result<TextEdit, PocketLmError> {
        guard("KeyboardPredictor.accept", || {
            let e = self.inner.accept(&text_before_cursor, &word);
            Ok(TextEdit {
                delete_chars: i32::try_from(e.delete_chars).unwrap_or(i32::MAX),
                insert: e.insert,
            })
        })
    }

    /// Forgets the cached text (e.g. when the keyboard moves to another text field).
    pub fn reset(&self) -> Result<(), PocketLmError> {
        guard("KeyboardPredictor.reset", || {
            self.inner.reset();
            Ok(())
        })
    }
}
