//! Keyboard suggestions: next word, completion of the word being typed, corrections.

use crate::error::{count, guard, threads, PocketLmError};
use crate::model::Model;
use pocketlm::{Language, PredictorOptions, UserWordOptions, WordPredictor};

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
    let base = PredictorOptions::for_profile(options.profile.unwrap_or_default().into());
    Ok(PredictorOptions {
        k: count("max_suggestions", options.max_suggestions, 1, 16)?,
        threads: threads(options.threads)?,
        corrections: options.corrections,
        blocklist: options.blocklist,
        allow_offensive: options.allow_offensive,
        user_words: UserWordOptions {
            learning: options.learn_user_words,
            ..base.user_words
        },
        language: Language::parse(&options.language).ok_or_else(|| {
            PocketLmError::InvalidArgument(format!(
                "unknown keyboard language {:?}: use en, es, de, fr, pt or it",
                options.language
            ))
        })?,
        ..base
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
    /// Learn user words from `learnTypedWord` (words added with `addUserWord` are offered
    /// either way).
    #[uniffi(default = true)]
    pub learn_user_words: bool,
    /// Language of the suggestions, an ISO 639-1 code: `en` (default), `es`, `de`, `fr`, `pt`
    /// or `it` (a region is ignored: `pt-BR`). It frames the text as a message in that
    /// language; languages other than English need a multilingual model (Gemma 3 270M).
    #[uniffi(default = "en")]
    pub language: String,
}

/// The kind of text field a word was typed in (Android `inputType`, iOS text traits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FieldKind {
    /// Ordinary text with suggestions: words may be learned.
    Text,
    /// A password or any secure entry: never learned from.
    Password,
    /// Suggestions off (no-suggestions flag, e-mail, URL, numbers): never learned from.
    NoSuggestions,
}

impl From<FieldKind> for pocketlm::FieldKind {
    fn from(k: FieldKind) -> Self {
        match k {
            FieldKind::Text => Self::Text,
            FieldKind::Password => Self::Password,
            FieldKind::NoSuggestions => Self::NoSuggestions,
        }
    }
}

/// What `learnTypedWord` did with a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LearnOutcome {
    /// Not learned from: password or no-suggestion field, or learning is off.
    FieldNotLearned,
    /// Not a word (punctuation, digits only, too long) or a blocked word.
    NotAWord,
    /// The model would have offered it: nothing to learn.
    ModelOffers,
    /// Counted; not yet a user word.
    Counted,
    /// Now (or still) a user word.
    Learned,
    /// The dictionary is full of added words.
    DictionaryFull,
}

impl From<pocketlm::LearnOutcome> for LearnOutcome {
    fn from(o: pocketlm::LearnOutcome) -> Self {
        use pocketlm::LearnOutcome as L;
        match o {
            L::FieldNotLearned => Self::FieldNotLearned,
            L::NotAWord => Self::NotAWord,
            L::ModelOffers => Self::ModelOffers,
            L::Counted => Self::Counted,
            L::Learned => Self::Learned,
            L::DictionaryFull => Self::DictionaryFull,
        }
    }
}

/// Where a user word came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UserWordSource {
    /// Added with `addUserWord` (or imported as added); never decays.
    Added,
    /// Learned from typing; forgotten when unused for long.
    Learned,
}

/// One word of the user dictionary.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UserWord {
    pub word: String,
    pub source: UserWordSource,
    /// Typings counted, after decay (0 for an added word never typed).
    pub count: u32,
}

impl From<pocketlm::UserWord> for UserWord {
    fn from(w: pocketlm::UserWord) -> Self {
        UserWord {
            word: w.word,
            source: match w.source {
                pocketlm::WordSource::Added => UserWordSource::Added,
                pocketlm::WordSource::Learned => UserWordSource::Learned,
            },
            count: w.count,
        }
    }
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

    /// A predictor that keeps its framing prefix's warm-up (the KV cache of the text it places
    /// before every context) in the directory `state_dir` (created when missing): loaded from
    /// there when a valid file for this model, framing and language exists, and otherwise
    /// evaluated and saved there, so that a restarted keyboard shows its first suggestions
    /// sooner. The suggestions are the same either way. A missing, corrupted or stale file, or
    /// a directory that cannot be written, only costs the warm start (it is logged), never an
    /// error.
    #[uniffi::constructor]
    pub fn with_state_dir(
        model: Arc<Model>,
        options: KeyboardOptions,
        state_dir: String,
    ) -> Result<Arc<Self>, PocketLmError> {
        guard("KeyboardPredictor.withStateDir", || {
            let opts = predictor_options(options)?;
            Ok(Arc::new(KeyboardPredictor {
                inner: WordPredictor::new(model.inner.clone(), opts)?.with_state_dir(state_dir),
            }))
        })
    }

    /// Whether the framing prefix's first warm-up was loaded from the state directory (null:
    /// no call yet, or no state directory).
    pub fn warm_started(&self) -> Option<bool> {
        guard("KeyboardPredictor.warmStarted", || {
            Ok(self.inner.warm_start().map(|(w, _)| w))
        })
        .unwrap_or(None)
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

    /// Adds a word to the user dictionary: offered as a completion and next word from now on,
    /// never above an obviously likelier model word; never decays. `InvalidArgument` for a
    /// word that is not one (spaces, no letters, over 40 characters), `UserDictionaryFull`
    /// when the dictionary holds only added words and no room is left.
    pub fn add_user_word(&self, word: String) -> Result<(), PocketLmError> {
        guard("KeyboardPredictor.add_user_word", || {
            Ok(self.inner.add_user_word(&word)?)
        })
    }

    /// Removes a word (any case) from the user dictionary; whether it was there.
    pub fn remove_user_word(&self, word: String) -> Result<bool, PocketLmError> {
        guard("KeyboardPredictor.remove_user_word", || {
            Ok(self.inner.remove_user_word(&word))
        })
    }

    /// The words the user dictionary offers now, sorted.
    pub fn user_words(&self) -> Result<Vec<UserWord>, PocketLmError> {
        guard("KeyboardPredictor.user_words", || {
            Ok(self
                .inner
                .user_words()
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Forgets every user word and every count of words being learned.
    pub fn clear_user_words(&self) -> Result<(), PocketLmError> {
        guard("KeyboardPredictor.clear_user_words", || {
            self.inner.clear_user_words();
            Ok(())
        })
    }

    /// The user dictionary (with the counts of words being learned) as bytes for the app to
    /// store; the SDK writes no files. Give them to `importUserWords` on the next start.
    pub fn export_user_words(&self) -> Result<Vec<u8>, PocketLmError> {
        guard("KeyboardPredictor.export_user_words", || {
            Ok(self.inner.export_user_words())
        })
    }

    /// Replaces the user dictionary with bytes from `exportUserWords`; the number of words
    /// read. `InvalidUserDictionary` for bytes that are not one (corrupt, truncated, from a
    /// newer SDK), and nothing changes.
    pub fn import_user_words(&self, bytes: Vec<u8>) -> Result<u32, PocketLmError> {
        guard("KeyboardPredictor.import_user_words", || {
            let n = self.inner.import_user_words(&bytes)?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    /// Learns from a word the person typed in full (not picked from the strip) after
    /// `textBeforeWord`, in a field of kind `field`: a word the model would not have offered,
    /// typed twice, becomes a user word. Password and no-suggestion fields are never learned
    /// from. Costs about one `suggest` call.
    pub fn learn_typed_word(
        &self,
        text_before_word: String,
        word: String,
        field: FieldKind,
    ) -> Result<LearnOutcome, PocketLmError> {
        guard("KeyboardPredictor.learn_typed_word", || {
            Ok(self
                .inner
                .learn_typed_word(&text_before_word, &word, field.into())?
                .into())
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
            learn_user_words: true,
            language: "en".into(),
        }
    }

    #[test]
    fn the_language_code_picks_the_core_language() {
        for (code, want) in [
            ("en", Language::En),
            ("de", Language::De),
            ("pt-BR", Language::Pt),
            ("ES", Language::Es),
        ] {
            let o = KeyboardOptions {
                language: code.into(),
                ..options(None)
            };
            assert_eq!(predictor_options(o).unwrap().language, want, "{code}");
        }
        for bad in ["", "nl", "english"] {
            let o = KeyboardOptions {
                language: bad.into(),
                ..options(None)
            };
            assert!(
                matches!(predictor_options(o), Err(PocketLmError::InvalidArgument(_))),
                "{bad:?}"
            );
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

    #[test]
    fn learning_user_words_can_be_switched_off() {
        assert!(
            predictor_options(options(None))
                .unwrap()
                .user_words
                .learning
        );
        let off = KeyboardOptions {
            learn_user_words: false,
            ..options(None)
        };
        let got = predictor_options(off).unwrap();
        assert!(!got.user_words.learning);
        assert_eq!(
            got.user_words,
            UserWordOptions {
                learning: false,
                ..UserWordOptions::default()
            }
        );
    }
}
