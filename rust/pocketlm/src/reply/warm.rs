//! Warm starts of [`ReplyDrafter`](super::ReplyDrafter): a tone's warm-up (its few-shot prefix
//! evaluated up to an empty message, and the catalog scored after it) saved to a file in a
//! state directory and loaded instead of evaluated (docs/state.md, "Warm starts of the reply
//! drafter").
//!
//! A file holds a session snapshot ([`Session::save_state`]) and the trie's empty-message
//! scores, under a key: SHA-256 of the tone, the model fingerprint, the prompt tokens, the
//! tokenized responses and the scoring settings. The key names the file, so a changed prefix,
//! catalog or model looks for another file and never loads a stale one.
//!
//! Format (version 2, little-endian): magic `PLMRWARM` (8), version u32, snapshot offset u32,
//! key (32), snapshot length u64, trie nodes u64, zeros up to the snapshot offset (the page
//! size: a multiple of the snapshot's segment alignment, so that its KV segments are
//! page-aligned in the file), the snapshot, the per-node path scores (f32 × nodes), the
//! per-node end scores (f32 × nodes), CRC-32 of everything before it (u32).
//!
//! The file is memory-mapped, not read: the snapshot's KV segments become the tone session's
//! first positions ([`Session::map_state_file`]), so the prefix's KV stays in file-backed
//! pages instead of anonymous memory.

use super::decode::{TokenizedResponse, Trie};
use super::Tone;
use crate::atomic_file::{replace_file, ReplaceError};
use crate::session::{Session, SnapshotError};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: [u8; 8] = *b"PLMRWARM";
const VERSION: u32 = 2;
const HEAD_LEN: usize = 8 + 4 + 4 + 32 + 8 + 8;
/// Larger files are refused before reading (a warm start is a few megabytes per 100 tokens).
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Why a warm-start file could not be loaded or saved (the drafter logs it and evaluates the
/// prefix instead: a warm start is never required).
#[derive(Debug, thiserror::Error)]
pub enum WarmStartError {
    /// Reading or writing the file failed.
    #[error("cannot {action} reply warm-start file {}: {source}", path.display())]
    Io {
        /// "read", "write", ...
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a warm start of this format version.
    #[error("{} is not a version-{VERSION} reply warm-start file; it will be rewritten", .0.display())]
    NotAWarmStart(PathBuf),
    /// The file's key is not the one its name was derived from (renamed or copied over).
    #[error("{} holds the warm start of another prefix, catalog or model; it will be rewritten", .0.display())]
    OtherKey(PathBuf),
    /// Truncated, a checksum mismatch, or sizes that do not fit.
    #[error("the reply warm-start file {} is corrupted: {reason}; it will be rewritten", path.display())]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The embedded session snapshot was refused.
    #[error("the session snapshot in {} was refused: {source}; it will be rewritten", path.display())]
    Snapshot {
        /// The file.
        path: PathBuf,
        /// Why.
        source: SnapshotError,
    },
}

/// The key of a tone's warm-up, and the file it lives in under `dir`.
pub(crate) fn key_and_path(
    dir: &Path,
    tone: Tone,
    fingerprint: &[u8; 32],
    null_tokens: &[u32],
    replies: &[TokenizedResponse],
    depth: usize,
    group: usize,
) -> ([u8; 32], PathBuf) {
    let mut h = Sha256::new();
    h.update(b"pocketlm reply warm start v1\0");
    h.update(tone.as_str().as_bytes());
    h.update([0]);
    h.update(fingerprint);
    let words = |h: &mut Sha256, xs: &[u32]| {
        h.update((xs.len() as u64).to_le_bytes());
        for x in xs {
            h.update(x.to_le_bytes());
        }
    };
    words(&mut h, null_tokens);
    h.update((replies.len() as u64).to_le_bytes());
    for r in replies {
        h.update((r.index as u64).to_le_bytes());
        h.update(r.end.to_le_bytes());
        words(&mut h, &r.tokens);
    }
    h.update((depth as u64).to_le_bytes());
    h.update((group as u64).to_le_bytes());
    let key: [u8; 32] = h.finalize().into();
    let hex: String = key[..8].iter().map(|b| format!("{b:02x}")).collect();
    (
        key,
        dir.join(format!("reply-{}-{hex}.plmwarm", tone.as_str())),
    )
}

/// Loads the warm start at `path` into `session` (a fresh fork) and `trie`; on any error both
/// are left as they were. The session must end up holding exactly `null_tokens` with logits.
pub(crate) fn load(
    path: &Path,
    key: &[u8; 32],
    null_tokens: &[u32],
    session: &mut Session,
    trie: &mut Trie,
) -> Result<(), WarmStartError> {
    let corrupted = |reason: String| WarmStartError::Corrupted {
        path: path.to_path_buf(),
        reason,
    };
    let io = |action: &'static str| {
        move |source| WarmStartError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let len = crate::session::regular_file_len(path).map_err(io("open"))?;
    if len > MAX_FILE_BYTES {
        return Err(corrupted(format!("{len} bytes is too large")));
    }
    if len < (HEAD_LEN + 4) as u64 {
        return Err(WarmStartError::NotAWarmStart(path.to_path_buf()));
    }
    let file = std::fs::File::open(path).map_err(io("open"))?;
    let meta = file.metadata().map_err(io("open"))?;
    let stamp = crate::gguf::FileStamp::of(&meta);
    let map = crate::gguf::map_read_only(&file).map_err(io("map"))?;
    let bytes: &[u8] = &map;
    if bytes.len() < HEAD_LEN + 4 || bytes[..8] != MAGIC {
        return Err(WarmStartError::NotAWarmStart(path.to_path_buf()));
    }
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
    if u32_at(8) != VERSION {
        return Err(WarmStartError::NotAWarmStart(path.to_path_buf()));
    }
    let body = bytes.len() - 4;
    if crc32fast::hash(&bytes[..body]) != u32_at(body) {
        return Err(corrupted("checksum mismatch".into()));
    }
    let snap_at = u64::from(u32_at(12));
    if snap_at < HEAD_LEN as u64 {
        return Err(corrupted(format!(
            "snapshot offset {snap_at} inside the header"
        )));
    }
    if bytes[16..48] != key[..] {
        return Err(WarmStartError::OtherKey(path.to_path_buf()));
    }
    let snap_len = u64_at(48);
    let nodes = u64_at(56);
    if nodes != trie.len() as u64 {
        return Err(corrupted(format!(
            "{nodes} trie nodes, the catalog has {}",
            trie.len()
        )));
    }
    let expected = snap_at
        .checked_add(snap_len)
        .and_then(|n| n.checked_add(nodes.checked_mul(8)?))
        .and_then(|n| n.checked_add(4));
    if expected != Some(bytes.len() as u64) {
        return Err(corrupted(format!(
            "sizes in the header do not add up to the file's {} bytes",
            bytes.len()
        )));
    }
    let snap_end = (snap_at + snap_len) as usize;
    let floats = |from: usize| -> Vec<f32> {
        bytes[from..from + 4 * nodes as usize]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect()
    };
    let path_scores = floats(snap_end);
    let end_scores = floats(snap_end + 4 * nodes as usize);
    if path_scores.iter().chain(&end_scores).any(|x| x.is_nan()) {
        return Err(corrupted("NaN scores".into()));
    }
    let mut loaded = session.fork();
    loaded
        .map_state_at(file, stamp, bytes, snap_at, snap_len, path)
        .map_err(|source| WarmStartError::Snapshot {
            path: path.to_path_buf(),
            source,
        })?;
    if loaded.tokens() != null_tokens || loaded.logits().is_err() {
        return Err(corrupted(
            "the snapshot holds other tokens or no logits".into(),
        ));
    }
    trie.set_nulls(path_scores, end_scores);
    *session = loaded;
    Ok(())
}

/// Saves `session` (holding the prompt up to the empty message, with its logits) and the trie's
/// empty-message scores to `path`, under a temporary name renamed over it.
pub(crate) fn save(
    path: &Path,
    key: &[u8; 32],
    session: &Session,
    trie: &Trie,
) -> Result<u64, WarmStartError> {
    let snap = session
        .save_state()
        .map_err(|source| WarmStartError::Snapshot {
            path: path.to_path_buf(),
            source,
        })?;
    let (path_scores, end_scores) = trie.nulls();
    // The snapshot's segments are aligned to the page size from its start: so is its offset.
    let snap_at = crate::model::page_size().max(HEAD_LEN);
    let mut out = Vec::with_capacity(snap_at + snap.len() + 8 * path_scores.len() + 4);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(snap_at as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(snap.len() as u64).to_le_bytes());
    out.extend_from_slice(&(path_scores.len() as u64).to_le_bytes());
    out.resize(snap_at, 0);
    out.extend_from_slice(&snap);
    for x in path_scores.iter().chain(end_scores) {
        out.extend_from_slice(&x.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());

    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| WarmStartError::Io {
            action: "create the directory of",
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(replace_file(path, |w| w.write_all(&out))?)
}

impl From<ReplaceError> for WarmStartError {
    fn from(e: ReplaceError) -> Self {
        WarmStartError::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_changes_with_what_the_warm_up_depends_on() {
        let dir = Path::new("d");
        let fp = [7u8; 32];
        let replies = vec![TokenizedResponse {
            index: 0,
            tokens: vec![5, 6],
            end: 2,
        }];
        let name = |tone, fp: &[u8; 32], null: &[u32], replies: &[TokenizedResponse], depth| {
            key_and_path(dir, tone, fp, null, replies, depth, 16).1
        };
        let base = name(Tone::Neutral, &fp, &[1, 2, 3], &replies, 3);
        assert_eq!(base, name(Tone::Neutral, &fp, &[1, 2, 3], &replies, 3));
        assert!(base.starts_with(dir));
        let mut other_reply = replies.clone();
        other_reply[0].tokens[1] = 9;
        for other in [
            name(Tone::Casual, &fp, &[1, 2, 3], &replies, 3),
            name(Tone::Neutral, &[8; 32], &[1, 2, 3], &replies, 3),
            name(Tone::Neutral, &fp, &[1, 2, 4], &replies, 3),
            name(Tone::Neutral, &fp, &[1, 2], &replies, 3),
            name(Tone::Neutral, &fp, &[1, 2, 3], &other_reply, 3),
            name(Tone::Neutral, &fp, &[1, 2, 3], &replies, 4),
        ] {
            assert_ne!(base, other);
        }
    }
}
