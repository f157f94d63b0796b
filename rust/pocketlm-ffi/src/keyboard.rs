//! Keyboard suggestions: next word, completion of the word being typed, corrections.

use crate::error::{count, guard, threads, PocketLmError};
use crate::model::Model;
use pocketlm::{PredictorOptions, WordPredictor};

/// Which set of predictor settings to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Enum)]
pub enum KeyboardProfile {
    /// Latency first: large caches of evaluated text.
    #[default]
    Default,
    /// For an input method running beside the foreground app: small caches and a shorter
    /// window, a little slower per keystroke (see docs/keyboard.md for the measured memory).
    LowMemory,
}

impl From<KeyboardProfile> for pocketlm::KeyboardProfile {
    fn from(p: KeyboardProfile) -> Self {
        match p {
            KeyboardProfile::Default => Self::Default,
            KeyboardProfile::LowMemory => Self::LowMemory,
        }
    }
}

/// The core options a [`KeyboardOptions`] stands for.
pub fn predictor_options(options: KeyboardOptions) -> Result<PredictorOptions, PocketLmError> {
    let profile = options.profile.unwrap_or_default();
    Ok(PredictorOptions {
        k: count("max_suggestions", options.max_suggestions, 1, 16)?,
        threads: threads(options.threads)?,
        corrections: options.corrections,
        blocklist: options.blocklist,
        allow_offensive: options.allow_offensive,
        ..PredictorOptions::for_profile(profile.into())
    })
}
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
    /// Memory profile (`null`/`nil` = `Default`); an input method uses `LowMemory`.
    #[uniffi(default = None)]
    pub profile: Option<KeyboardProfile>,
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
            let opts = predictor_options(options)?;
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
                        pocketlm::SuggestionKind::NextWord => SuggestionKind::NextWord,
                        pocketlm::SuggestionKind::Completion => SuggestionKind::Completion,
                        pocketlm::SuggestionKind::Correction => SuggestionKind::Correction,
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

    /// Frees the predictor's caches (evaluated text, extra sessions, buffers) on memory
    /// pressure (`onTrimMemory`, `didReceiveMemoryWarning`). The predictor keeps working: the
    /// next call re-evaluates what it needs.
    pub fn release_memory(&self) -> Result<(), PocketLmError> {
        guard("KeyboardPredictor.release_memory", || {
            self.inner.release_memory();
            Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use pocketlm::KeyboardProfile as CoreProfile;

    fn options(profile: Option<KeyboardProfile>) -> KeyboardOptions {
        KeyboardOptions {
            max_suggestions: 3,
            corrections: true,
            blocklist: vec!["foo*".into()],
            allow_offensive: false,
            threads: 1,
            profile,
        }
    }

    #[test]
    fn profiles_map_to_the_core_profiles_options() {
        for (ffi, core) in [
            (None, CoreProfile::Default),
            (Some(KeyboardProfile::Default), CoreProfile::Default),
            (Some(KeyboardProfile::LowMemory), CoreProfile::LowMemory),
        ] {
            let got = predictor_options(options(ffi)).unwrap();
            let want = PredictorOptions {
                k: 3,
                threads: 1,
                blocklist: vec!["foo*".into()],
                ..PredictorOptions::for_profile(core)
            };
            assert_eq!(got, want, "{ffi:?}");
        }
        let low = predictor_options(options(Some(KeyboardProfile::LowMemory))).unwrap();
        let default = predictor_options(options(None)).unwrap();
        assert!(low.cache_bytes < default.cache_bytes);
        assert!(low.max_sessions < default.max_sessions);
    }
}
