//! A saved chat: the transcript and the session snapshot behind it, in one file or buffer, so
//! that a chat survives its process. A restored chat continues exactly as the uninterrupted one
//! would have: the next [`ChatSession::send`] renders the same transcript, finds its tokens
//! already in the restored KV cache and evaluates only the new turn, bit for bit as before.
//!
//! Layout (little-endian): the magic `PLMCHAT1`, a format version (u32), the transcript's length
//! (u64), the transcript (JSON: `[{"role": "system"|"user"|"assistant", "content": "..."}]`),
//! its CRC-32, then the session snapshot ([`crate::Session::save_state`], which names the model
//! file and carries its own checksum).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::chat::{ChatError, ChatOptions, ChatSession};
use crate::atomic_file::{replace_file, ReplaceError};
use crate::chat_template::{ChatMessage, ChatTemplate, Role};
use crate::model::Model;
use crate::session::SnapshotError;

const MAGIC: &[u8; 8] = b"PLMCHAT1";
const VERSION: u32 = 1;
/// Magic, version, transcript length.
const HEAD_LEN: usize = 8 + 4 + 8;

/// Why a chat could not be saved or restored.
#[derive(Debug, thiserror::Error)]
pub enum ChatStateError {
    /// Reading or writing the file failed.
    #[error("cannot {action} saved chat {}: {source}", path.display())]
    Io {
        /// "read", "write", "rename into place", ...
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes are not a saved chat.
    #[error("not a saved PocketLM chat (it starts with {found:02x?}, not \"PLMCHAT1\"); pass a file written by ChatSession::save_state_file")]
    NotAChat {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// Saved by a PocketLM with another format version.
    #[error("saved chat format version {found} cannot be read by this PocketLM, which reads version {supported}; save the chat again with this version")]
    Version {
        /// The file's version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The file ends early.
    #[error("the saved chat is truncated: {expected} bytes expected, {found} present (an interrupted write or copy); save it again")]
    Truncated {
        /// Bytes the header announces (at least).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The transcript is damaged or not a transcript.
    #[error("the saved chat's transcript is corrupted: {0}; save it again")]
    Corrupted(String),
    /// The session snapshot inside is refused (another model file, corrupted, too long for
    /// the context...).
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The chat itself could not be created (template, options).
    #[error(transparent)]
    Chat(#[from] ChatError),
}

fn role_of(name: &str) -> Option<Role> {
    [Role::System, Role::User, Role::Assistant]
        .into_iter()
        .find(|r| r.as_str() == name)
}

impl From<ReplaceError> for ChatStateError {
    fn from(e: ReplaceError) -> Self {
        ChatStateError::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        }
    }
}

fn transcript_json(messages: &[ChatMessage]) -> Vec<u8> {
    let list: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| serde_json::json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    serde_json::to_vec(&list).expect("a list of strings serializes")
}

fn parse_transcript(bytes: &[u8]) -> Result<Vec<ChatMessage>, ChatStateError> {
    let bad = |m: String| ChatStateError::Corrupted(m);
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON ({e})")))?;
    let list = value
        .as_array()
        .ok_or_else(|| bad("not a list of messages".into()))?;
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let role = m["role"]
                .as_str()
                .and_then(role_of)
                .ok_or_else(|| bad(format!("message {i} has no system/user/assistant role")))?;
            let content = m["content"]
                .as_str()
                .ok_or_else(|| bad(format!("message {i} has no text")))?;
            Ok(ChatMessage {
                role,
                content: content.to_owned(),
            })
        })
        .collect()
}

impl ChatSession {
    /// The chat as bytes: its transcript and its session's snapshot (see the module doc).
    /// [`ChatSession::restore_state`] continues it in another process.
    pub fn save_state(&self) -> Result<Vec<u8>, ChatStateError> {
        let transcript = transcript_json(self.messages());
        let snapshot = self.session().save_state()?;
        let mut out = Vec::with_capacity(HEAD_LEN + transcript.len() + 4 + snapshot.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(transcript.len() as u64).to_le_bytes());
        out.extend_from_slice(&transcript);
        out.extend_from_slice(&crc32fast::hash(&transcript).to_le_bytes());
        out.extend_from_slice(&snapshot);
        Ok(out)
    }

    /// Saves the chat ([`ChatSession::save_state`]) to `path` and returns its size in bytes.
    /// It is written beside `path` under a temporary name, synced and renamed over it, so `path`
    /// never holds a half-written chat.
    pub fn save_state_file(&self, path: impl AsRef<Path>) -> Result<u64, ChatStateError> {
        let bytes = self.save_state()?;
        Ok(replace_file(path.as_ref(), |w| w.write_all(&bytes))?)
    }

    /// A chat restored from [`ChatSession::save_state`]'s bytes, on the model file that saved
    /// it, with the model's own template and `options` (the transcript's system message, if
    /// any, is the one the chat had). Errors say which part is refused: not a saved chat,
    /// another format version, truncated, a damaged transcript, or the snapshot's own checks
    /// (another model file, corrupted, more tokens than `options.context_length`).
    pub fn restore_state(
        model: Arc<Model>,
        options: ChatOptions,
        bytes: &[u8],
    ) -> Result<ChatSession, ChatStateError> {
        let template = ChatTemplate::for_model(&model).map_err(ChatError::from)?;
        Self::restore_state_with_template(model, template, options, bytes)
    }

    /// [`ChatSession::restore_state`] with `template` instead of the model's own (it must be
    /// the template the chat was saved with for the cache to match).
    pub fn restore_state_with_template(
        model: Arc<Model>,
        template: ChatTemplate,
        options: ChatOptions,
        bytes: &[u8],
    ) -> Result<ChatSession, ChatStateError> {
        let (messages, snapshot) = split(bytes)?;
        let mut chat = ChatSession::with_template(model, template, options)?;
        chat.session_mut().load_state(snapshot)?;
        chat.set_history(messages);
        Ok(chat)
    }

    /// [`ChatSession::restore_state`] from the file `path`.
    pub fn restore_state_file(
        model: Arc<Model>,
        options: ChatOptions,
        path: impl AsRef<Path>,
    ) -> Result<ChatSession, ChatStateError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ChatStateError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::restore_state(model, options, &bytes)
    }
}

/// The transcript and the snapshot bytes of a saved chat, checked.
fn split(bytes: &[u8]) -> Result<(Vec<ChatMessage>, &[u8]), ChatStateError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(ChatStateError::NotAChat {
            found: bytes[..bytes.len().min(MAGIC.len())].to_vec(),
        });
    }
    let truncated = |expected: u64| ChatStateError::Truncated {
        expected,
        found: bytes.len() as u64,
    };
    if bytes.len() < HEAD_LEN {
        return Err(truncated(HEAD_LEN as u64));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(ChatStateError::Version {
            found: version,
            supported: VERSION,
        });
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let end = (HEAD_LEN as u64)
        .checked_add(len)
        .and_then(|e| e.checked_add(4))
        .filter(|&e| e <= bytes.len() as u64)
        .ok_or_else(|| truncated((HEAD_LEN as u64).saturating_add(len).saturating_add(4)))?
        as usize;
    let transcript = &bytes[HEAD_LEN..end - 4];
    let crc = u32::from_le_bytes(bytes[end - 4..end].try_into().expect("4 bytes"));
    if crc32fast::hash(transcript) != crc {
        return Err(ChatStateError::Corrupted(
            "its checksum does not match".into(),
        ));
    }
    Ok((parse_transcript(transcript)?, &bytes[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_round_trip_and_damage_is_typed() {
        let msgs = vec![
            ChatMessage::system("Be brief."),
            ChatMessage::user("Hi \"there\" 👋"),
            ChatMessage::assistant("Hello!\nHow can I help?"),
        ];
        assert_eq!(parse_transcript(&transcript_json(&msgs)).unwrap(), msgs);
        for bad in [
            &b"{}"[..],
            b"[{\"role\":\"tool\",\"content\":\"x\"}]",
            b"[{\"role\":\"user\"}]",
            b"[1,2]",
            b"\xff",
        ] {
            assert!(
                matches!(parse_transcript(bad), Err(ChatStateError::Corrupted(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn framing_errors_are_typed() {
        let t = transcript_json(&[ChatMessage::user("hi")]);
        let mut good = MAGIC.to_vec();
        good.extend_from_slice(&VERSION.to_le_bytes());
        good.extend_from_slice(&(t.len() as u64).to_le_bytes());
        good.extend_from_slice(&t);
        good.extend_from_slice(&crc32fast::hash(&t).to_le_bytes());
        good.extend_from_slice(b"SNAPSHOT");
        let (m, rest) = split(&good).unwrap();
        assert_eq!((m.len(), rest), (1, &b"SNAPSHOT"[..]));

        assert!(matches!(
            split(b"PLMSTATE...."),
            Err(ChatStateError::NotAChat { .. })
        ));
        assert!(matches!(split(b""), Err(ChatStateError::NotAChat { .. })));
        assert!(matches!(
            split(&good[..HEAD_LEN + 3]),
            Err(ChatStateError::Truncated { .. })
        ));
        let mut v = good.clone();
        v[8] = 9;
        assert!(matches!(
            split(&v),
            Err(ChatStateError::Version { found: 9, .. })
        ));
        let mut huge = good.clone();
        huge[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            split(&huge),
            Err(ChatStateError::Truncated { .. })
        ));
        let mut flipped = good.clone();
        flipped[HEAD_LEN + 2] ^= 1;
        assert!(matches!(split(&flipped), Err(ChatStateError::Corrupted(_))));
    }
}
