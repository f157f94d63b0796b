//! The one error type of the bindings, the mapping from the core's errors, and the panic guard.

use pocketlm::GgufError;
use pocketlm::{ChatError, ReplyError};
use pocketlm::{GenerateError, LoadError, SessionError, SnapshotError};
use pocketlm::{KeyboardError, UserWordsError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

/// Everything that can go wrong, as one exception type (Kotlin: `PocketLmException`, Swift:
/// `PocketLmError`). Each variant's message says what happened and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum PocketLmError {
    /// The model file does not exist or cannot be opened (wrong path, no permission, a directory).
    #[error("{0}")]
    ModelNotFound(String),
    /// The file is not a model PocketLM can run: corrupt, truncated, not GGUF, or an
    /// unsupported architecture or tensor type.
    #[error("{0}")]
    InvalidModel(String),
    /// An argument or option is out of range (empty prompt, bad sampling settings, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// The input does not fit the session's context.
    #[error("{0}")]
    ContextFull(String),
    /// An unexpected failure caught at the FFI boundary: a bug in PocketLM (please report the
    /// message) or an exception thrown by your `TextListener`. The object stays usable.
    #[error("{0}")]
    Internal(String),
    /// The call was cancelled through its `CancelToken` (the Kotlin and Swift layers turn
    /// this into their own cancellation).
    #[error("{0}")]
    Cancelled(String),
    /// The model file was truncated or rewritten in place after the model was loaded; nothing
    /// was read from the changed file (no SIGBUS). Load the model again; install model updates
    /// by writing a new file and renaming it over the old one (the loaded model keeps working).
    #[error("{0}")]
    ModelFileChanged(String),
    /// The bytes given to `importUserWords` are not a user dictionary this SDK reads (corrupt,
    /// truncated, or written by a newer SDK); the dictionary is unchanged. Start from an empty
    /// one (or the app's backup).
    #[error("{0}")]
    InvalidUserDictionary(String),
    /// The user dictionary is full of words added with `addUserWord`: remove some first.
    #[error("{0}")]
    UserDictionaryFull(String),
    /// The output constraint cannot be used: an invalid JSON Schema, regular expression or
    /// grammar, an empty list of choices, or one the model's vocabulary cannot produce. The
    /// message names the problem; nothing was generated.
    #[error("{0}")]
    InvalidConstraint(String),
    /// A session snapshot cannot be loaded or saved: the file is missing or unreadable, not a
    /// snapshot, truncated or corrupted, of another format version, or saved by another model
    /// (the message names which, and the architectures or fingerprints). The session is left as
    /// it was; save the snapshot again, or evaluate the text again.
    #[error("{0}")]
    InvalidSnapshot(String),
}

impl From<LoadError> for PocketLmError {
    fn from(e: LoadError) -> Self {
        let msg = e.to_string();
        match &e {
            LoadError::Gguf(GgufError::Io { source, .. }) => {
                let hint = if source.kind() == std::io::ErrorKind::NotFound {
                    "; check the path (on Android, copy the model out of the APK assets into a file first)"
                } else {
                    "; check the path and the file's permissions"
                };
                PocketLmError::ModelNotFound(format!("{msg}{hint}"))
            }
            LoadError::Gguf(GgufError::IsDirectory(_) | GgufError::NotARegularFile { .. }) => {
                PocketLmError::ModelNotFound(msg)
            }
            LoadError::UnsupportedArchitecture(_) | LoadError::UnsupportedTensorType { .. } => {
                PocketLmError::InvalidModel(msg)
            }
            _ => PocketLmError::InvalidModel(format!(
                "{msg} (the model file is corrupt or incomplete: download it again and check its checksum)"
            )),
        }
    }
}

impl From<SessionError> for PocketLmError {
    fn from(e: SessionError) -> Self {
        let msg = e.to_string();
        match e {
            SessionError::ContextOverflow { .. } => PocketLmError::ContextFull(msg),
            SessionError::EmptyInput
            | SessionError::InvalidToken { .. }
            | SessionError::InvalidOption(_) => PocketLmError::InvalidArgument(msg),
            SessionError::NoLogits | SessionError::MixedModels => PocketLmError::Internal(msg),
            // The file was truncated or rewritten in place after loading: the loaded model is no
            // longer usable; the message says to load it again.
            SessionError::ModelFileChanged(_) => PocketLmError::ModelFileChanged(msg),
        }
    }
}

impl From<SnapshotError> for PocketLmError {
    fn from(e: SnapshotError) -> Self {
        let msg = e.to_string();
        match e {
            SnapshotError::ContextTooSmall { .. } => PocketLmError::ContextFull(msg),
            SnapshotError::ModelFileChanged(_) => PocketLmError::ModelFileChanged(msg),
            SnapshotError::Io { .. }
            | SnapshotError::NotASnapshot { .. }
            | SnapshotError::OtherVersion { .. }
            | SnapshotError::OtherArchitecture { .. }
            | SnapshotError::OtherModel { .. }
            | SnapshotError::OtherLayout { .. }
            | SnapshotError::Truncated { .. }
            | SnapshotError::UnsupportedModel { .. }
            | SnapshotError::Corrupted(_) => PocketLmError::InvalidSnapshot(msg),
        }
    }
}

impl From<pocketlm::ChatStateError> for PocketLmError {
    fn from(e: pocketlm::ChatStateError) -> Self {
        use pocketlm::ChatStateError as E;
        match e {
            E::Snapshot(e) => e.into(),
            E::Chat(e) => e.into(),
            e @ (E::Io { .. }
            | E::NotAChat { .. }
            | E::Version { .. }
            | E::Truncated { .. }
            | E::Corrupted(_)) => PocketLmError::InvalidSnapshot(e.to_string()),
        }
    }
}

impl From<GenerateError> for PocketLmError {
    fn from(e: GenerateError) -> Self {
        match e {
            GenerateError::Session(s) => s.into(),
            GenerateError::Sampler(s) => {
                PocketLmError::InvalidArgument(format!("invalid sampling options: {s}"))
            }
            GenerateError::EmptyPrompt => {
                PocketLmError::InvalidArgument("the prompt is empty; pass some text".into())
            }
            GenerateError::Constraint(c) => c.into(),
        }
    }
}

impl From<ChatError> for PocketLmError {
    fn from(e: ChatError) -> Self {
        let msg = e.to_string();
        match e {
            ChatError::NoMessages | ChatError::EmptyMessage | ChatError::LastNotUser(_) => {
                PocketLmError::InvalidArgument(msg)
            }
            ChatError::MessageTooLong { .. } => PocketLmError::ContextFull(msg),
            ChatError::Template(_) => PocketLmError::InvalidModel(format!(
                "{msg} (the model's chat template cannot be used)"
            )),
            ChatError::Session(s) => s.into(),
            ChatError::Generate(g) => g.into(),
        }
    }
}

impl From<KeyboardError> for PocketLmError {
    fn from(e: KeyboardError) -> Self {
        match e {
            KeyboardError::InvalidOption(_) => PocketLmError::InvalidArgument(e.to_string()),
            KeyboardError::Session(s) => s.into(),
            KeyboardError::UserWords(ref u) => match u {
                UserWordsError::InvalidWord(_) => PocketLmError::InvalidArgument(e.to_string()),
                UserWordsError::Full(_) => PocketLmError::UserDictionaryFull(e.to_string()),
                UserWordsError::InvalidData(_) | UserWordsError::UnsupportedVersion(_) => {
                    PocketLmError::InvalidUserDictionary(e.to_string())
                }
            },
        }
    }
}

impl From<UserWordsError> for PocketLmError {
    fn from(e: UserWordsError) -> Self {
        KeyboardError::UserWords(e).into()
    }
}

impl From<ReplyError> for PocketLmError {
    fn from(e: ReplyError) -> Self {
        let msg = e.to_string();
        match e {
            ReplyError::EmptyConversation
            | ReplyError::EmptyMessage
            | ReplyError::InvalidOption(_) => PocketLmError::InvalidArgument(msg),
            ReplyError::Template(_) => PocketLmError::InvalidModel(format!(
                "{msg} (the model's chat template cannot be used)"
            )),
            ReplyError::Session(s) => s.into(),
            ReplyError::Cancelled => PocketLmError::Cancelled(msg),
        }
    }
}

/// The text of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs `f`, turning a panic into [`PocketLmError::Internal`] so that no panic reaches the
/// foreign caller (uniffi would turn it into an unchecked exception, or abort in Swift).
pub(crate) fn guard<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, PocketLmError>,
) -> Result<T, PocketLmError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(PocketLmError::Internal(format!(
            "internal error in {what}: {}; please report it",
            panic_message(&*payload)
        ))),
    }
}

/// Locks a mutex, recovering from poisoning (a panic while it was held was already reported
/// as [`PocketLmError::Internal`]; the data behind these locks stays consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Converts a foreign count to `usize` with a range check.
pub(crate) fn count(name: &str, value: i32, min: i32, max: i32) -> Result<usize, PocketLmError> {
    let bad = || {
        PocketLmError::InvalidArgument(format!(
            "{name} must be between {min} and {max}, got {value}"
        ))
    };
    if value < min || value > max {
        return Err(bad());
    }
    usize::try_from(value).map_err(|_| bad())
}

/// `0` means the core's default thread count.
pub(crate) fn threads(value: i32) -> Result<usize, PocketLmError> {
    if value == 0 {
        Ok(pocketlm::default_threads())
    } else {
        count("threads", value, 1, 64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_panics_into_internal_errors() {
        let r: Result<(), _> = guard("test", || panic!("boom"));
        match r {
            Err(PocketLmError::Internal(m)) => {
                assert!(m.contains("boom") && m.contains("test"), "{m}")
            }
            other => panic!("expected Internal, got {other:?}"),
        }
        assert_eq!(guard("ok", || Ok(5)), Ok(5));
    }

    #[test]
    fn missing_file_is_model_not_found_with_a_hint() {
        let e: PocketLmError = pocketlm::Model::load("/nonexistent/x.gguf")
            .unwrap_err()
            .into();
        match e {
            PocketLmError::ModelNotFound(m) => assert!(
                m.contains("/nonexistent/x.gguf") && m.contains("check the path"),
                "{m}"
            ),
            other => panic!("expected ModelNotFound, got {other:?}"),
        }
    }

    #[test]
    fn garbage_file_is_invalid_model() {
        let dir = std::env::temp_dir().join(format!("pocketlm-ffi-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bad.gguf");
        std::fs::write(&p, b"this is not a model at all, just some bytes").unwrap();
        let e: PocketLmError = pocketlm::Model::load(&p).unwrap_err().into();
        std::fs::remove_dir_all(&dir).ok();
        assert!(matches!(e, PocketLmError::InvalidModel(_)), "{e:?}");
    }

    #[test]
    fn user_dictionary_errors_map_to_their_variants() {
        let map = |u: UserWordsError| PocketLmError::from(KeyboardError::UserWords(u));
        assert!(matches!(
            map(UserWordsError::InvalidWord("a b".into())),
            PocketLmError::InvalidArgument(_)
        ));
        assert!(matches!(
            map(UserWordsError::Full(2000)),
            PocketLmError::UserDictionaryFull(ref m) if m.contains("2000")
        ));
        assert!(matches!(
            map(UserWordsError::InvalidData("truncated".into())),
            PocketLmError::InvalidUserDictionary(ref m) if m.contains("truncated")
        ));
        assert!(matches!(
            map(UserWordsError::UnsupportedVersion(9)),
            PocketLmError::InvalidUserDictionary(_)
        ));
    }

    #[test]
    fn a_cancelled_draft_maps_to_cancelled() {
        let e: PocketLmError = ReplyError::Cancelled.into();
        assert!(
            matches!(e, PocketLmError::Cancelled(ref m) if m.contains("cancelled")),
            "{e:?}"
        );
    }

    #[test]
    fn a_changed_model_file_and_special_files_map_to_typed_errors() {
        let e: PocketLmError = SessionError::ModelFileChanged("changed".into()).into();
        assert!(
            matches!(e, PocketLmError::ModelFileChanged(ref m) if m == "changed"),
            "{e:?}"
        );
        let e: PocketLmError = pocketlm::Model::load("/dev/zero").unwrap_err().into();
        assert!(
            matches!(e, PocketLmError::ModelNotFound(ref m) if m.contains("not a regular file")),
            "{e:?}"
        );
    }

    #[test]
    fn counts_are_range_checked() {
        assert_eq!(count("k", 3, 1, 16), Ok(3));
        assert!(
            matches!(count("k", 0, 1, 16), Err(PocketLmError::InvalidArgument(m)) if m.contains("k must be between 1 and 16"))
        );
        assert!(threads(0).unwrap() >= 1);
    }
}
