//! Session snapshots: a session's state (its tokens, the KV cache of those positions and the
//! logits after the last one) saved to bytes or to a file, and loaded into a session of the same
//! model, which then continues exactly as the saved one would have (bit-identical logits).
//!
//! The format (version 2, little-endian; docs/state.md describes it for readers):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic `PLMSTATE` |
//! | 8 | 4 | format version |
//! | 12 | 4 | flags (bit 0: the logits are included; bit 1: a layer plan follows the header; bit 2: a recurrent block follows the plan) |
//! | 16 | 32 | model fingerprint ([`GgufFile::fingerprint`](crate::internals::gguf::GgufFile::fingerprint)) |
//! | 48 | 28 | architecture name, UTF-8, zero-padded |
//! | 76 | 4 | segment alignment `A` (a power of two: the page size of the writer) |
//! | 80 | 4×4 | KV layout: layers, KV heads, head dimension, element type (1 = f16) |
//! | 96 | 4 | vocabulary size (the width of the logits) |
//! | 100 | 4 | 0 (convolution layers of LFM2 snapshots before 2026-12, which kept their inputs per position: refused) |
//! | 104 | 8 | context length of the saved session |
//! | 112 | 8 | token count `n` |
//! | 120 | 4 | 0 (the width of those inputs) |
//! | 124 | 4 | CRC-32 of bytes 0..124 |
//! | 128 | | payload: if flagged, the layer plan (per layer the width of its cached keys in f16 elements, u32, 0 for a layer that reads another layer's cache or keeps a recurrent state (a DeltaNet or short-convolution layer); then the CRC-32 of those widths); if flagged, the recurrent block (recurrent layers `r`, u32; floats of a state `s`, u32; the position `p` the states follow, u64; the CRC-32 of those 16 bytes); `n` token ids (u32); the logits (vocabulary × f32) if flagged; zeros up to a multiple of `A`; then per layer the keys and the values of positions `0..n` (`n × kv_dim` f16 each, `kv_dim` the layer's width in the plan when there is one; a layer of width 0 writes nothing), each segment followed by zeros up to a multiple of `A`; then, with a recurrent block, the `r` states (`s` f32 each, recurrent layers in order, unpadded) |
//! | end − 4 | 4 | CRC-32 of the payload |
//!
//! The layer plan is written only for models whose layers cache keys of different widths or
//! share another layer's cache (Gemma 4), or keep a recurrent state instead (Qwen3.5, LFM2):
//! snapshots of the other models have no plan and are the bytes version 2 always wrote.
//!
//! A recurrent layer's state (DeltaNet, short convolution) is one for the whole history, not
//! one per position: the snapshot holds the states after position `p`, `p = n` unless the
//! session was rewound since its last evaluation (then `p` is its latest checkpoint at or
//! before `n`, and a loaded session evaluates tokens `p..n` again before its next evaluation,
//! as the saved one would have).
//!
//! Loading checks, in this order, before allocating anything: the magic, the version, the
//! header's checksum, the architecture, the model fingerprint, the KV layout, the context, the
//! layer plan (its checksum, then against the model's), and the length the header and plan
//! imply against the bytes present; the payload is then read into new
//! buffers and committed only when its checksum matches, so a failed load leaves the session as
//! it was.
//!
//! Every KV segment starts at a multiple of `A` from the snapshot's start, so that
//! [`Session::map_state_file`] can map the segments as the first positions of the cache
//! instead of copying them (`model/kv_map.rs`); version 1 had no padding and is refused
//! (`OtherVersion`; the state directories of the drafter and the keyboard rewrite it).

use super::Session;
use crate::atomic_file::{replace_file, ReplaceError};
use crate::gguf::FileStamp;
use crate::model::{mapping_supported, page_size, KvCache, MappedPrefix, ModelConfig};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The first bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"PLMSTATE";
/// The snapshot format version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 2;
/// Bytes of the fixed header.
const HEADER_LEN: usize = 128;
/// Bytes of the architecture-name field.
const ARCH_LEN: usize = 28;
/// The largest segment alignment accepted (64 KiB pages are the largest in use).
const MAX_ALIGN: u32 = 1 << 20;
/// Flag: the logits after the last token follow the tokens.
const FLAG_LOGITS: u32 = 1;
/// Flag: the layer plan (per-layer KV widths and its CRC-32) follows the header.
const FLAG_PLAN: u32 = 2;
/// Flag: the recurrent block follows the plan, and the recurrent states the KV segments.
const FLAG_RECURRENT: u32 = 4;
/// Bytes of the recurrent block: layers, floats per state, position, CRC-32.
const RECURRENT_BLOCK_LEN: u64 = 20;
/// KV element type code: IEEE half precision (the cache's type).
const KV_F16: u32 = 1;

impl From<ReplaceError> for SnapshotError {
    fn from(e: ReplaceError) -> Self {
        SnapshotError::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        }
    }
}

/// Why a snapshot could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing the file failed.
    #[error("cannot {action} session snapshot {}: {source}", path.display())]
    Io {
        /// "read", "write", "open", ...
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes do not start with the snapshot magic.
    #[error("not a PocketLM session snapshot (it starts with {found:02x?}, not \"PLMSTATE\"); pass bytes or a file written by Session::save_state")]
    NotASnapshot {
        /// The first bytes found (at most 8).
        found: Vec<u8>,
    },
    /// The snapshot was written in another format version.
    #[error("snapshot format version {found} cannot be read by this PocketLM, which reads version {supported}; save the session again with this version (or evaluate its text again)")]
    OtherVersion {
        /// The snapshot's version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The snapshot was saved by a model of another architecture.
    #[error("the snapshot was saved by a {snapshot:?} model but this session runs a {model:?} model; load it into a session of the model that saved it")]
    OtherArchitecture {
        /// The snapshot's architecture.
        snapshot: String,
        /// The session model's architecture.
        model: String,
    },
    /// The snapshot was saved by another model file of the same architecture.
    #[error("the snapshot was saved by another model file (fingerprint {snapshot}, this model's is {model}); its KV cache means nothing to this model: load it with the model file that saved it, or evaluate the text again")]
    OtherModel {
        /// The snapshot's model fingerprint (hex, first 8 bytes).
        snapshot: String,
        /// The session model's fingerprint (hex, first 8 bytes).
        model: String,
    },
    /// The snapshot's KV cache layout differs from the model's.
    #[error("the snapshot's KV layout ({snapshot}) differs from this model's ({model}); it was saved by another model or build")]
    OtherLayout {
        /// The snapshot's layout.
        snapshot: String,
        /// The model's layout.
        model: String,
    },
    /// The snapshot holds more tokens than the session's context.
    #[error("the snapshot holds {needed} tokens but this session's context holds at most {limit}; create the session with a context_length of at least {needed}")]
    ContextTooSmall {
        /// Tokens in the snapshot.
        needed: u64,
        /// The session's context length.
        limit: usize,
    },
    /// Fewer bytes than the header announces.
    #[error("the snapshot is truncated: {expected} bytes expected, {found} present (an interrupted write or copy); save it again")]
    Truncated {
        /// Bytes the header implies (at least the header's own length).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A checksum does not match, or a field is impossible.
    #[error("the snapshot is corrupted: {0}; save it again")]
    Corrupted(String),
    /// The model's KV cache cannot be saved in this format. No model this build loads gives
    /// it (Gemma 4's per-layer KV widths and shared layers are saved with a layer plan); kept
    /// for callers that match on it.
    #[error(
        "session snapshots of {arch} models are not supported; evaluate the text again instead"
    )]
    UnsupportedModel {
        /// The model's architecture.
        arch: String,
    },
    /// The model file changed on disk since it was loaded (its fingerprint cannot be trusted),
    /// or the snapshot file changed while it was being mapped.
    #[error("{0}")]
    ModelFileChanged(String),
}

/// The length of `path` if it is a regular file, else an `InvalidInput` error. Checked before
/// opening: opening a FIFO blocks until a writer appears.
pub(crate) fn regular_file_len(path: &Path) -> std::io::Result<u64> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(meta.len())
}

/// `path` opened for reading, with its metadata, if it is a regular file (errors name the
/// file and the action "open").
fn open_regular(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), SnapshotError> {
    let io = |source| SnapshotError::Io {
        action: "open",
        path: path.to_path_buf(),
        source,
    };
    regular_file_len(path).map_err(io)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    Ok((file, meta))
}

/// The fixed header, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    flags: u32,
    fingerprint: [u8; 32],
    arch: String,
    layout: Layout,
    context_length: u64,
    n_tokens: u64,
    /// Segment alignment (a power of two, at most `MAX_ALIGN`).
    align: u32,
    /// Per layer the width of its cached keys (f16 elements), when `FLAG_PLAN` is set; empty
    /// otherwise (every attention layer then caches `layout.kv_dim()`). Not part of the fixed
    /// header: read after it ([`Header::plan_block`]).
    plan: Vec<u32>,
    /// The recurrent states' shape and position, when `FLAG_RECURRENT` is set (read after the
    /// plan, [`Header::recurrent_block`]).
    recurrent: Recurrent,
}

/// What a snapshot's recurrent block says: recurrent layers (DeltaNet, short convolutions),
/// floats of each state, and the position the states follow. All 0 without one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Recurrent {
    layers: u32,
    state_len: u32,
    pos: u64,
}

impl Recurrent {
    /// Bytes of the states.
    fn states_len(&self) -> Option<u64> {
        u64::from(self.layers)
            .checked_mul(u64::from(self.state_len))?
            .checked_mul(4)
    }
}

/// The layer plan of `cfg`'s snapshots: empty for a model whose attention layers all cache
/// keys of one width and that has no recurrent layers, else per layer the width of its cached
/// keys (0 for a layer reading another layer's cache or keeping a recurrent state).
fn plan_of(cfg: &ModelConfig) -> Vec<u32> {
    if cfg.uniform_kv() && cfg.recurrent_state_len() == 0 {
        return Vec::new();
    }
    (0..cfg.n_layers)
        .map(|il| cfg.cached_kv_dim_of(il) as u32)
        .collect()
}

/// The shape of `cfg`'s recurrent states (DeltaNet or short-convolution layers, floats each;
/// zeros without them).
fn recurrent_shape_of(cfg: &ModelConfig) -> (u32, u32) {
    match cfg.recurrent_state_len() {
        0 => (0, 0),
        n => (cfg.state_layers() as u32, n as u32),
    }
}

/// A compact description of a layer plan: runs of equal widths, "×count" when repeated.
fn describe_plan(plan: &[u32]) -> String {
    let mut runs: Vec<(u32, usize)> = Vec::new();
    for &w in plan {
        match runs.last_mut() {
            Some((last, count)) if *last == w => *count += 1,
            _ => runs.push((w, 1)),
        }
    }
    let runs: Vec<String> = runs
        .iter()
        .map(|&(w, c)| {
            if c == 1 {
                w.to_string()
            } else {
                format!("{w}×{c}")
            }
        })
        .collect();
    format!("per-layer KV widths {} (0: none cached)", runs.join(", "))
}

/// The KV cache layout and logits width a snapshot's payload is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    n_layers: u32,
    n_kv_heads: u32,
    head_dim: u32,
    kv_type: u32,
    vocab: u32,
}

impl Layout {
    fn of(cfg: &ModelConfig) -> Self {
        Self {
            n_layers: cfg.n_layers as u32,
            n_kv_heads: cfg.n_kv_heads as u32,
            head_dim: cfg.head_dim as u32,
            kv_type: KV_F16,
            vocab: cfg.vocab_size as u32,
        }
    }

    fn kv_dim(&self) -> u64 {
        u64::from(self.n_kv_heads) * u64::from(self.head_dim)
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ty = match self.kv_type {
            KV_F16 => "f16".to_owned(),
            t => format!("type {t}"),
        };
        write!(
            f,
            "{} layers × {} KV heads × {} dims, {ty}, vocabulary {}",
            self.n_layers, self.n_kv_heads, self.head_dim, self.vocab
        )
    }
}

/// `layout` with the layer `plan` (when there is one), for messages.
fn describe_layout(layout: &Layout, plan: &[u32]) -> String {
    if plan.is_empty() {
        layout.to_string()
    } else {
        format!("{layout}, {}", describe_plan(plan))
    }
}

/// The recurrent states' shape, for messages ("" without them).
fn describe_recurrent(layers: u32, state_len: u32) -> String {
    if layers == 0 {
        String::new()
    } else {
        format!(", {layers} recurrent states × {state_len} f32")
    }
}

fn hex8(f: &[u8; 32]) -> String {
    f[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
        h[8..12].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&self.flags.to_le_bytes());
        h[16..48].copy_from_slice(&self.fingerprint);
        let arch = self.arch.as_bytes();
        let n = arch.len().min(ARCH_LEN);
        h[48..48 + n].copy_from_slice(&arch[..n]);
        let l = &self.layout;
        for (i, v) in [l.n_layers, l.n_kv_heads, l.head_dim, l.kv_type, l.vocab]
            .into_iter()
            .enumerate()
        {
            h[80 + 4 * i..84 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        h[76..80].copy_from_slice(&self.align.to_le_bytes());
        h[104..112].copy_from_slice(&self.context_length.to_le_bytes());
        h[112..120].copy_from_slice(&self.n_tokens.to_le_bytes());
        let crc = crc32fast::hash(&h[..124]);
        h[124..128].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Decodes the header from the first bytes of a snapshot of `total` bytes (`head` holds
    /// `min(total, HEADER_LEN)` of them).
    fn decode(head: &[u8], total: u64) -> Result<Self, SnapshotError> {
        let truncated = || SnapshotError::Truncated {
            expected: HEADER_LEN as u64,
            found: total,
        };
        let m = head.len().min(8);
        if head[..m] != SNAPSHOT_MAGIC[..m] {
            return Err(SnapshotError::NotASnapshot {
                found: head[..m].to_vec(),
            });
        }
        if head.len() < 12 {
            return Err(truncated());
        }
        let u32_at = |at: usize| u32::from_le_bytes(head[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::OtherVersion {
                found: version,
                supported: SNAPSHOT_VERSION,
            });
        }
        if head.len() < HEADER_LEN {
            return Err(truncated());
        }
        if crc32fast::hash(&head[..124]) != u32_at(124) {
            return Err(SnapshotError::Corrupted(
                "the header's checksum does not match".into(),
            ));
        }
        let flags = u32_at(12);
        if flags & !(FLAG_LOGITS | FLAG_PLAN | FLAG_RECURRENT) != 0 {
            return Err(SnapshotError::Corrupted(format!(
                "unknown flags {flags:#x}"
            )));
        }
        let (conv_layers, conv_dim) = (u32_at(100), u32_at(120));
        if conv_layers != 0 || conv_dim != 0 {
            return Err(SnapshotError::OtherLayout {
                snapshot: format!(
                    "{conv_layers} convolution layers keeping {conv_dim} f32 inputs per \
                     position: an LFM2 snapshot of PocketLM before 2026-12; evaluate its text \
                     again"
                ),
                model: "short convolutions keeping one recurrent state each".into(),
            });
        }
        let align = u32_at(76);
        if !align.is_power_of_two() || align > MAX_ALIGN {
            return Err(SnapshotError::Corrupted(format!(
                "segment alignment {align} is not a power of two up to {MAX_ALIGN}"
            )));
        }
        let arch_field = &head[48..48 + ARCH_LEN];
        let arch_len = arch_field.iter().position(|&b| b == 0).unwrap_or(ARCH_LEN);
        let arch = std::str::from_utf8(&arch_field[..arch_len])
            .map_err(|_| SnapshotError::Corrupted("the architecture name is not UTF-8".into()))?
            .to_owned();
        Ok(Self {
            flags,
            fingerprint: head[16..48].try_into().expect("32 bytes"),
            arch,
            layout: Layout {
                n_layers: u32_at(80),
                n_kv_heads: u32_at(84),
                head_dim: u32_at(88),
                kv_type: u32_at(92),
                vocab: u32_at(96),
            },
            context_length: u64_at(104),
            n_tokens: u64_at(112),
            align,
            plan: Vec::new(),
            recurrent: Recurrent::default(),
        })
    }

    fn has_plan(&self) -> bool {
        self.flags & FLAG_PLAN != 0
    }

    /// Bytes of the layer plan (its widths and its checksum) after the fixed header.
    fn plan_len(&self) -> u64 {
        if self.has_plan() {
            4 * u64::from(self.layout.n_layers) + 4
        } else {
            0
        }
    }

    /// The layer plan as written after the fixed header: the widths, then their CRC-32.
    fn plan_block(&self) -> Vec<u8> {
        let mut b: Vec<u8> = self.plan.iter().flat_map(|w| w.to_le_bytes()).collect();
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes the layer plan from `block` (`plan_len` bytes) into `self.plan`.
    fn decode_plan(&mut self, block: &[u8]) -> Result<(), SnapshotError> {
        let (widths, crc) = block.split_at(block.len() - 4);
        if crc32fast::hash(widths).to_le_bytes() != crc {
            return Err(SnapshotError::Corrupted(
                "the layer plan's checksum does not match".into(),
            ));
        }
        self.plan = widths
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        Ok(())
    }

    fn has_recurrent(&self) -> bool {
        self.flags & FLAG_RECURRENT != 0
    }

    /// Bytes of the blocks between the fixed header and the tokens: the plan, the recurrent
    /// block.
    fn blocks_len(&self) -> u64 {
        self.plan_len()
            + if self.has_recurrent() {
                RECURRENT_BLOCK_LEN
            } else {
                0
            }
    }

    /// The recurrent block as written after the plan: layers, floats per state, position,
    /// then their CRC-32.
    fn recurrent_block(&self) -> Vec<u8> {
        let r = &self.recurrent;
        let mut b = Vec::with_capacity(RECURRENT_BLOCK_LEN as usize);
        b.extend_from_slice(&r.layers.to_le_bytes());
        b.extend_from_slice(&r.state_len.to_le_bytes());
        b.extend_from_slice(&r.pos.to_le_bytes());
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes the recurrent block from `block` (`RECURRENT_BLOCK_LEN` bytes) into
    /// `self.recurrent`.
    fn decode_recurrent(&mut self, block: &[u8]) -> Result<(), SnapshotError> {
        let (fields, crc) = block.split_at(16);
        if crc32fast::hash(fields).to_le_bytes() != crc {
            return Err(SnapshotError::Corrupted(
                "the recurrent block's checksum does not match".into(),
            ));
        }
        let u32_at = |at: usize| u32::from_le_bytes(fields[at..at + 4].try_into().expect("4"));
        self.recurrent = Recurrent {
            layers: u32_at(0),
            state_len: u32_at(4),
            pos: u64::from_le_bytes(fields[8..16].try_into().expect("8 bytes")),
        };
        if self.recurrent.pos > self.n_tokens {
            return Err(SnapshotError::Corrupted(format!(
                "the recurrent states follow position {} of {} tokens",
                self.recurrent.pos, self.n_tokens
            )));
        }
        Ok(())
    }

    /// The layout with the layer plan and the recurrent states, for messages.
    fn describe(&self) -> String {
        let mut d = self.layout.to_string();
        if self.has_plan() {
            d = format!("{d}, {}", describe_plan(&self.plan));
        }
        if self.has_recurrent() {
            d += &describe_recurrent(self.recurrent.layers, self.recurrent.state_len);
        }
        d
    }

    fn has_logits(&self) -> bool {
        self.flags & FLAG_LOGITS != 0
    }

    /// Bytes of the logits field.
    fn logits_len(&self) -> u64 {
        if self.has_logits() {
            u64::from(self.layout.vocab) * 4
        } else {
            0
        }
    }

    /// Bytes of the keys (or the values) of attention layer `il` before padding; `None` on
    /// overflow (or for a layer the plan does not hold).
    fn kv_segment(&self, il: usize) -> Option<u64> {
        let width = if self.has_plan() {
            u64::from(*self.plan.get(il)?)
        } else {
            self.layout.kv_dim()
        };
        self.n_tokens.checked_mul(width)?.checked_mul(2)
    }

    /// Offset of the first KV segment; `None` on overflow.
    fn kv_start(&self) -> Option<u64> {
        let end = (HEADER_LEN as u64)
            .checked_add(self.blocks_len())?
            .checked_add(self.n_tokens.checked_mul(4)?)?
            .checked_add(self.logits_len())?;
        align_up(end, self.align)
    }

    /// Bytes of the whole snapshot (header, payload, payload checksum); `None` on overflow.
    /// With a plan, its widths must have been read (`plan` holds `n_layers` widths).
    fn total_len(&self) -> Option<u64> {
        let kv_bytes = if self.has_plan() {
            if self.plan.len() != self.layout.n_layers as usize {
                return None;
            }
            let mut sum = 0u64;
            for il in 0..self.plan.len() {
                let kv = align_up(self.kv_segment(il)?, self.align)?;
                sum = sum.checked_add(kv.checked_mul(2)?)?;
            }
            sum
        } else {
            let kv = align_up(self.kv_segment(0)?, self.align)?;
            u64::from(self.layout.n_layers)
                .checked_mul(kv)?
                .checked_mul(2)?
        };
        self.kv_start()?
            .checked_add(kv_bytes)?
            .checked_add(self.recurrent.states_len()?)?
            .checked_add(4)
    }

    /// Per layer, the offsets of its keys and values, for a header whose `total_len` is
    /// `Some`.
    fn offsets(&self) -> Vec<(u64, u64)> {
        let a = self.align;
        let mut at = self.kv_start().expect("checked by total_len");
        (0..self.layout.n_layers as usize)
            .map(|il| {
                let kv = self.kv_segment(il).expect("checked by total_len");
                let kv = align_up(kv, a).expect("checked");
                at += 2 * kv;
                (at - 2 * kv, at - kv)
            })
            .collect()
    }
}

/// The recurrent states of `rec`'s shape from their little-endian bytes.
fn states_from(bytes: &[u8], rec: &Recurrent) -> Vec<Vec<f32>> {
    let floats: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    floats
        .chunks(rec.state_len.max(1) as usize)
        .map(<[f32]>::to_vec)
        .collect()
}

/// `x` rounded up to a multiple of `a` (a power of two); `None` on overflow.
fn align_up(x: u64, a: u32) -> Option<u64> {
    let a = u64::from(a);
    Some(x.checked_add(a - 1)? & !(a - 1))
}

/// The alignment this build writes: the page size, so that the file can be mapped here.
fn write_align() -> u32 {
    (page_size() as u32).clamp(1, MAX_ALIGN).next_power_of_two()
}

/// Writes `n` zero bytes into `w`, adding them to the checksum.
fn write_zeros(w: &mut impl Write, crc: &mut crc32fast::Hasher, n: u64) -> std::io::Result<()> {
    let zeros = [0u8; 4096];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        crc.update(&zeros[..k]);
        w.write_all(&zeros[..k])?;
        left -= k as u64;
    }
    Ok(())
}

/// Reads and checksums `n` padding bytes from `r`.
fn skip(r: &mut impl Read, crc: &mut crc32fast::Hasher, n: u64) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    let mut left = n;
    while left > 0 {
        let k = left.min(buf.len() as u64) as usize;
        r.read_exact(&mut buf[..k])?;
        crc.update(&buf[..k]);
        left -= k as u64;
    }
    Ok(())
}

/// Writes `data` as little-endian bytes into `w`, adding them to the checksum.
fn write_le<T: bytemuck::Pod>(
    w: &mut impl Write,
    crc: &mut crc32fast::Hasher,
    data: &[T],
) -> std::io::Result<()> {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    if cfg!(target_endian = "little") {
        crc.update(bytes);
        w.write_all(bytes)
    } else {
        let mut le = bytes.to_vec();
        for e in le.chunks_exact_mut(std::mem::size_of::<T>()) {
            e.reverse();
        }
        crc.update(&le);
        w.write_all(&le)
    }
}

/// Fills `data` from little-endian bytes read from `r`, adding them to the checksum.
fn read_le<T: bytemuck::Pod>(
    r: &mut impl Read,
    crc: &mut crc32fast::Hasher,
    data: &mut [T],
) -> std::io::Result<()> {
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(data);
    r.read_exact(bytes)?;
    crc.update(bytes);
    if cfg!(target_endian = "big") {
        for e in bytes.chunks_exact_mut(std::mem::size_of::<T>()) {
            e.reverse();
        }
    }
    Ok(())
}

/// The header flags of a snapshot with (or without) the logits, with `plan` and recurrent
/// states of `recurrent` (its `layers` 0: none).
fn flags_for(logits: bool, plan: &[u32], recurrent: &Recurrent) -> u32 {
    let mut flags = if logits { FLAG_LOGITS } else { 0 };
    if !plan.is_empty() {
        flags |= FLAG_PLAN;
    }
    if recurrent.layers > 0 {
        flags |= FLAG_RECURRENT;
    }
    flags
}

/// A label for the in-memory source and sink in I/O errors.
const IN_MEMORY: &str = "<in-memory bytes>";

impl Session {
    fn snapshot_header(&self) -> Result<Header, SnapshotError> {
        // The cache is read next: a mapped prefix's file must still back it.
        self.cache
            .check_prefix()
            .map_err(SnapshotError::ModelFileChanged)?;
        let cfg = self.model.config();
        let fingerprint = self
            .model
            .gguf()
            .fingerprint()
            .map_err(|e| SnapshotError::ModelFileChanged(e.to_string()))?;
        // Only full-width logits are kept: a restored session may select other output rows.
        let logits = self.has_logits && self.output_rows.is_none();
        let plan = plan_of(cfg);
        let recurrent = self.recurrent_header(cfg);
        Ok(Header {
            flags: flags_for(logits, &plan, &recurrent),
            fingerprint,
            arch: cfg.arch_name.clone(),
            layout: Layout::of(cfg),
            context_length: self.cache.max_len() as u64,
            n_tokens: self.tokens.len() as u64,
            align: write_align(),
            plan,
            recurrent,
        })
    }

    /// The recurrent block of this session's snapshot (all 0 without recurrent layers).
    fn recurrent_header(&self, cfg: &ModelConfig) -> Recurrent {
        let (layers, state_len) = recurrent_shape_of(cfg);
        if layers == 0 {
            return Recurrent::default();
        }
        Recurrent {
            layers,
            state_len,
            pos: self.cache.recurrent_for_snapshot().0 as u64,
        }
    }

    /// Bytes [`Session::save_state`] writes for the session as it is now.
    pub fn state_size(&self) -> usize {
        let cfg = self.model.config();
        let logits = self.has_logits && self.output_rows.is_none();
        let plan = plan_of(cfg);
        let recurrent = self.recurrent_header(cfg);
        let h = Header {
            flags: flags_for(logits, &plan, &recurrent),
            fingerprint: [0; 32],
            arch: String::new(),
            layout: Layout::of(cfg),
            context_length: 0,
            n_tokens: self.tokens.len() as u64,
            align: write_align(),
            plan,
            recurrent,
        };
        h.total_len().unwrap_or(0) as usize
    }

    /// Writes the snapshot under `header` into `w` (the payload is read from the cache as it is
    /// written: no copy of the cache is made).
    fn write_state(&self, header: &Header, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(&header.encode())?;
        let mut crc = crc32fast::Hasher::new();
        if header.has_plan() {
            let block = header.plan_block();
            crc.update(&block);
            w.write_all(&block)?;
        }
        if header.has_recurrent() {
            let block = header.recurrent_block();
            crc.update(&block);
            w.write_all(&block)?;
        }
        write_le(w, &mut crc, &self.tokens)?;
        if header.has_logits() {
            write_le(w, &mut crc, &self.logits)?;
        }
        let n = self.tokens.len();
        let pad = |len: u64| align_up(len, header.align).expect("sizes of a live session") - len;
        let written = (HEADER_LEN + 4 * n) as u64 + header.blocks_len() + header.logits_len();
        write_zeros(w, &mut crc, pad(written))?;
        for layer in 0..self.model.config().n_layers {
            let kv = header.kv_segment(layer).expect("sizes of a live session");
            let (k, v) = self.cache.layer(layer, n);
            write_le(w, &mut crc, k)?;
            write_zeros(w, &mut crc, pad(kv))?;
            write_le(w, &mut crc, v)?;
            write_zeros(w, &mut crc, pad(kv))?;
        }
        if header.has_recurrent() {
            let (_, states) = self.cache.recurrent_for_snapshot();
            for state in states {
                if state.is_empty() {
                    write_zeros(w, &mut crc, 4 * u64::from(header.recurrent.state_len))?;
                } else {
                    write_le(w, &mut crc, state)?;
                }
            }
        }
        w.write_all(&crc.finalize().to_le_bytes())
    }

    /// The session's state as bytes: its tokens, the KV cache of those positions and the logits
    /// after the last one (when they were computed over the whole vocabulary), under a header
    /// that names the model. [`Session::load_state`] restores it into a session of the same
    /// model file. The hidden-state capture ([`Session::capture_hidden`]) is not saved, and a
    /// sampler's state is its owner's to keep (seed it again).
    pub fn save_state(&self) -> Result<Vec<u8>, SnapshotError> {
        let header = self.snapshot_header()?;
        let mut out = Vec::with_capacity(self.state_size());
        self.write_state(&header, &mut out)
            .map_err(|source| SnapshotError::Io {
                action: "write",
                path: PathBuf::from(IN_MEMORY),
                source,
            })?;
        Ok(out)
    }

    /// Saves the state ([`Session::save_state`]) to the file `path` and returns its size in
    /// bytes. The file is written beside `path` under a temporary name and renamed over it, so
    /// that `path` never holds a half-written snapshot (and a session that maps or reads the
    /// previous one is not disturbed).
    pub fn save_state_file(&self, path: impl AsRef<Path>) -> Result<u64, SnapshotError> {
        let header = self.snapshot_header()?;
        let len = replace_file(path.as_ref(), |w| self.write_state(&header, w))?;
        Ok(len)
    }

    /// Replaces this session's state with a snapshot written by [`Session::save_state`] of a
    /// session of the same model file. The next evaluated token's logits are bit-identical to
    /// those the saved session would have computed, and so are the restored logits (when the
    /// snapshot holds them and this session computes every output row; otherwise evaluate a
    /// token before reading logits). The context length may differ from the saved session's but
    /// must hold the snapshot's tokens. On any error the session is left as it was.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let mut r = bytes;
        self.read_state(&mut r, bytes.len() as u64, Path::new(IN_MEMORY))
    }

    /// [`Session::load_state`] from the file `path`. Sizes are checked against the header and
    /// the file's length before anything is allocated.
    pub fn load_state_file(&mut self, path: impl AsRef<Path>) -> Result<(), SnapshotError> {
        let path = path.as_ref();
        let (mut file, meta) = open_regular(path)?;
        self.read_state(&mut file, meta.len(), path)
    }

    /// Like [`Session::load_state_file`], but the KV cache of the snapshot's positions is the
    /// file itself, memory-mapped (copy-on-write) instead of copied into the heap: its pages
    /// are file-backed and shared by every session mapping the same file, and positions past
    /// the snapshot go to the heap as usual. Forks map the file again (sharing its pages). A
    /// rewind into the mapped positions followed by new tokens copies only the pages written.
    ///
    /// The file stays open. If it is truncated or rewritten in place afterwards, evaluation
    /// and saving fail with [`SessionError::ModelFileChanged`](super::SessionError) (as for
    /// a changed model file) instead of touching vanished pages; replace snapshot files by
    /// renaming a new file over them (as [`Session::save_state_file`] does). Where mapping is
    /// impossible (not a Unix OS, a big-endian CPU, or a snapshot written with a page size
    /// this OS's does not divide) the snapshot is copied as by `load_state_file`
    /// ([`Session::mapped_bytes`] tells).
    pub fn map_state_file(&mut self, path: impl AsRef<Path>) -> Result<(), SnapshotError> {
        let path = path.as_ref();
        let (file, meta) = open_regular(path)?;
        let stamp = FileStamp::of(&meta);
        if meta.len() == 0 {
            return self.load_state(&[]);
        }
        let map = crate::gguf::map_read_only(&file).map_err(|source| SnapshotError::Io {
            action: "map",
            path: path.to_path_buf(),
            source,
        })?;
        self.map_state_at(file, stamp, &map, 0, meta.len(), path)
    }

    /// Loads the snapshot at `whole[base..base + len]`, `whole` being a read-only map of
    /// `file` (whose stamp at opening is `stamp`), mapping its KV segments when possible.
    pub(crate) fn map_state_at(
        &mut self,
        file: std::fs::File,
        stamp: FileStamp,
        whole: &[u8],
        base: u64,
        len: u64,
        path: &Path,
    ) -> Result<(), SnapshotError> {
        let end = base.checked_add(len).filter(|&e| e <= whole.len() as u64);
        let Some(end) = end else {
            return Err(SnapshotError::Truncated {
                expected: base.saturating_add(len),
                found: whole.len() as u64,
            });
        };
        let bytes = &whole[base as usize..end as usize];
        let head_len = bytes.len().min(HEADER_LEN);
        let mut header = Header::decode(&bytes[..head_len], len)?;
        self.check_header(&header)?;
        let plan_end = HEADER_LEN + header.blocks_len() as usize;
        if bytes.len() < plan_end {
            return Err(SnapshotError::Truncated {
                expected: plan_end as u64,
                found: len,
            });
        }
        self.check_blocks(&mut header, &bytes[HEADER_LEN..plan_end])?;
        let page = page_size() as u64;
        if !mapping_supported()
            || !u64::from(header.align).is_multiple_of(page)
            || !base.is_multiple_of(page)
        {
            return self.load_state(bytes);
        }
        self.check_total(&header, len)?;
        let body = bytes.len() - 4;
        let stored = u32::from_le_bytes(bytes[body..].try_into().expect("4 bytes"));
        if crc32fast::hash(&bytes[HEADER_LEN..body]) != stored {
            return Err(SnapshotError::Corrupted(
                "the payload's checksum does not match".into(),
            ));
        }
        let cfg = self.model.config();
        let n = header.n_tokens as usize;
        let le32 = |at: usize, count: usize| {
            bytes[at..at + 4 * count]
                .chunks_exact(4)
                .map(|c| c.try_into().expect("4 bytes"))
        };
        let tokens: Vec<u32> = le32(plan_end, n).map(u32::from_le_bytes).collect();
        let logits: Vec<f32> = if header.has_logits() {
            le32(plan_end + 4 * n, cfg.vocab_size)
                .map(f32::from_le_bytes)
                .collect()
        } else {
            Vec::new()
        };
        let states_len = header.recurrent.states_len().expect("checked by total_len") as usize;
        let recurrent = states_from(&bytes[body - states_len..body], &header.recurrent);
        let offsets = header
            .offsets()
            .into_iter()
            .map(|(a, b)| (base + a, if b == 0 { 0 } else { base + b }))
            .collect();
        let prefix = MappedPrefix::new(file, path.to_path_buf(), stamp, n, offsets);
        // Checked after the checksum: the file was not rewritten while it was read.
        prefix.check().map_err(SnapshotError::ModelFileChanged)?;
        let cache = match KvCache::mapped(cfg, self.cache.max_len(), Arc::new(prefix)) {
            Ok(c) => c,
            Err(e) => {
                log::warn!(
                    target: "pocketlm::session",
                    "cannot map the snapshot {} ({e}); copying it",
                    path.display()
                );
                return self.load_state(bytes);
            }
        };
        self.commit(&header, cache, tokens, logits, recurrent)
    }

    /// Bytes of files mapped into this session's KV cache (a snapshot's keys and values,
    /// [`Session::map_state_file`]; checkpoints of large recurrent states kept in files in the
    /// model's cache directory): file-backed pages, not counted as the process's anonymous
    /// memory until written. 0 for a session whose cache is all in memory.
    pub fn mapped_bytes(&self) -> usize {
        self.cache.mapped_bytes()
    }

    /// Fails unless the snapshot under `h` is exactly `total` bytes long.
    fn check_total(&self, h: &Header, total: u64) -> Result<(), SnapshotError> {
        let expected = h
            .total_len()
            .ok_or_else(|| SnapshotError::Corrupted("impossible sizes in the header".into()))?;
        if total < expected {
            return Err(SnapshotError::Truncated {
                expected,
                found: total,
            });
        }
        if total > expected {
            return Err(SnapshotError::Corrupted(format!(
                "{} bytes follow the end announced by the header",
                total - expected
            )));
        }
        Ok(())
    }

    fn check_header(&self, h: &Header) -> Result<(), SnapshotError> {
        let cfg = self.model.config();
        if h.arch != cfg.arch_name {
            return Err(SnapshotError::OtherArchitecture {
                snapshot: h.arch.clone(),
                model: cfg.arch_name.clone(),
            });
        }
        let fingerprint = self
            .model
            .gguf()
            .fingerprint()
            .map_err(|e| SnapshotError::ModelFileChanged(e.to_string()))?;
        if h.fingerprint != fingerprint {
            return Err(SnapshotError::OtherModel {
                snapshot: hex8(&h.fingerprint),
                model: hex8(&fingerprint),
            });
        }
        let layout = Layout::of(cfg);
        let plan = plan_of(cfg);
        let (rec_layers, rec_len) = recurrent_shape_of(cfg);
        if h.layout != layout
            || h.has_plan() == plan.is_empty()
            || h.has_recurrent() != (rec_layers > 0)
        {
            return Err(SnapshotError::OtherLayout {
                snapshot: h.layout.to_string()
                    + if h.has_plan() {
                        ", per-layer KV widths"
                    } else {
                        ""
                    }
                    + if h.has_recurrent() {
                        ", recurrent states"
                    } else {
                        ""
                    },
                model: describe_layout(&layout, &plan) + &describe_recurrent(rec_layers, rec_len),
            });
        }
        if h.n_tokens > self.cache.max_len() as u64 {
            return Err(SnapshotError::ContextTooSmall {
                needed: h.n_tokens,
                limit: self.cache.max_len(),
            });
        }
        Ok(())
    }

    /// Reads the layer plan and the recurrent block (those `h` announces) from `block`, the
    /// `blocks_len` bytes after the fixed header, and checks them against the model's.
    fn check_blocks(&self, h: &mut Header, block: &[u8]) -> Result<(), SnapshotError> {
        let cfg = self.model.config();
        let (plan_block, rec_block) = block.split_at(h.plan_len() as usize);
        if h.has_plan() {
            h.decode_plan(plan_block)?;
        }
        if h.has_recurrent() {
            h.decode_recurrent(rec_block)?;
        }
        let plan = plan_of(cfg);
        let (layers, state_len) = recurrent_shape_of(cfg);
        let shape = (h.recurrent.layers, h.recurrent.state_len);
        if (h.has_plan() && h.plan != plan) || (h.has_recurrent() && shape != (layers, state_len)) {
            return Err(SnapshotError::OtherLayout {
                snapshot: h.describe(),
                model: describe_layout(&h.layout, &plan) + &describe_recurrent(layers, state_len),
            });
        }
        Ok(())
    }

    fn read_state(
        &mut self,
        r: &mut impl Read,
        total: u64,
        path: &Path,
    ) -> Result<(), SnapshotError> {
        let io = |source: std::io::Error| SnapshotError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        };
        let mut head = [0u8; HEADER_LEN];
        let head_len = total.min(HEADER_LEN as u64) as usize;
        r.read_exact(&mut head[..head_len]).map_err(io)?;
        let mut header = Header::decode(&head[..head_len], total)?;
        self.check_header(&header)?;
        let mut crc = crc32fast::Hasher::new();
        if header.blocks_len() > 0 {
            // Bounded by the model's layer count (checked with the layout).
            let plan_end = HEADER_LEN as u64 + header.blocks_len();
            if total < plan_end {
                return Err(SnapshotError::Truncated {
                    expected: plan_end,
                    found: total,
                });
            }
            let mut block = vec![0u8; header.blocks_len() as usize];
            r.read_exact(&mut block).map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    SnapshotError::Truncated {
                        expected: plan_end,
                        found: total,
                    }
                } else {
                    io(e)
                }
            })?;
            crc.update(&block);
            self.check_blocks(&mut header, &block)?;
        }
        self.check_total(&header, total)?;
        let expected = total;
        // Every size below is bounded by the session's context and the model: checked above.
        let eof = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                // The file shrank while it was read.
                SnapshotError::Truncated {
                    expected,
                    found: total,
                }
            } else {
                io(e)
            }
        };
        let cfg = self.model.config();
        let n = header.n_tokens as usize;
        let mut tokens = vec![0u32; n];
        read_le(r, &mut crc, &mut tokens).map_err(eof)?;
        let mut logits = Vec::new();
        if header.has_logits() {
            logits = vec![0f32; cfg.vocab_size];
            read_le(r, &mut crc, &mut logits).map_err(eof)?;
        }
        let pad = |len: u64| align_up(len, header.align).expect("checked by total_len") - len;
        let read = (HEADER_LEN + 4 * n) as u64 + header.blocks_len() + header.logits_len();
        skip(r, &mut crc, pad(read)).map_err(eof)?;
        let mut cache = KvCache::new(cfg, self.cache.max_len());
        cache.reserve(n);
        for layer in 0..cfg.n_layers {
            let kv = header.kv_segment(layer).expect("checked by total_len");
            let (k, v) = cache.layer_mut(layer, n);
            read_le(r, &mut crc, k).map_err(eof)?;
            skip(r, &mut crc, pad(kv)).map_err(eof)?;
            read_le(r, &mut crc, v).map_err(eof)?;
            skip(r, &mut crc, pad(kv)).map_err(eof)?;
        }
        let rec = header.recurrent;
        let mut recurrent = Vec::with_capacity(rec.layers as usize);
        for _ in 0..rec.layers {
            let mut state = vec![0f32; rec.state_len as usize];
            read_le(r, &mut crc, &mut state).map_err(eof)?;
            recurrent.push(state);
        }
        let mut stored = [0u8; 4];
        r.read_exact(&mut stored).map_err(eof)?;
        if crc.finalize() != u32::from_le_bytes(stored) {
            return Err(SnapshotError::Corrupted(
                "the payload's checksum does not match".into(),
            ));
        }
        cache.set_len(n);
        self.commit(&header, cache, tokens, logits, recurrent)
    }

    /// Checks the tokens, logits and recurrent states of a loaded snapshot, then makes them
    /// and `cache` (holding the snapshot's positions) the session's state.
    fn commit(
        &mut self,
        header: &Header,
        mut cache: KvCache,
        tokens: Vec<u32>,
        logits: Vec<f32>,
        recurrent: Vec<Vec<f32>>,
    ) -> Result<(), SnapshotError> {
        let cfg = self.model.config();
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= cfg.vocab_size) {
            return Err(SnapshotError::Corrupted(format!(
                "token id {id} is outside the vocabulary of {} tokens",
                cfg.vocab_size
            )));
        }
        if logits.iter().any(|x| x.is_nan()) {
            return Err(SnapshotError::Corrupted("the logits hold NaN".into()));
        }
        if recurrent.iter().flatten().any(|x| !x.is_finite()) {
            return Err(SnapshotError::Corrupted(
                "a recurrent state holds a NaN or an infinity".into(),
            ));
        }
        if header.has_recurrent() {
            cache.load_recurrent(header.recurrent.pos as usize, recurrent);
        }
        cache.keep_ring_of(&self.cache);
        self.cache = cache;
        self.tokens.clear();
        self.push_tokens(&tokens);
        let keep_logits = header.has_logits() && self.output_rows.is_none();
        self.logits = if keep_logits { logits } else { Vec::new() };
        self.has_logits = keep_logits;
        self.hidden_from = None;
        self.hidden = Vec::new();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            flags: FLAG_LOGITS,
            fingerprint: [7; 32],
            arch: "llama".into(),
            layout: Layout {
                n_layers: 30,
                n_kv_heads: 3,
                head_dim: 64,
                kv_type: KV_F16,
                vocab: 49152,
            },
            context_length: 2048,
            n_tokens: 5,
            align: 4096,
            plan: Vec::new(),
            recurrent: Recurrent::default(),
        }
    }

    #[test]
    fn header_round_trips_and_every_prefix_is_a_typed_error() {
        let h = header();
        let bytes = h.encode();
        assert_eq!(Header::decode(&bytes, 1 << 20).unwrap(), h);
        for n in 0..HEADER_LEN {
            match Header::decode(&bytes[..n], n as u64) {
                Err(SnapshotError::Truncated { found, .. }) => assert_eq!(found, n as u64),
                other => panic!("prefix of {n} bytes: {other:?}"),
            }
        }
    }

    #[test]
    fn every_flipped_header_bit_is_caught() {
        let bytes = header().encode();
        for i in 0..HEADER_LEN * 8 {
            let mut b = bytes;
            b[i / 8] ^= 1 << (i % 8);
            let r = Header::decode(&b, 1 << 20);
            match (i / 8, r) {
                (0..8, Err(SnapshotError::NotASnapshot { .. })) => {}
                (8..12, Err(SnapshotError::OtherVersion { .. })) => {}
                (12.., Err(SnapshotError::Corrupted(_))) => {}
                (at, r) => panic!("bit {i} (byte {at}): {r:?}"),
            }
        }
    }

    /// An LFM2 snapshot of a build that kept convolution inputs per position (their layers
    /// and width at bytes 100 and 120) is refused with a layout error that says so.
    #[test]
    fn a_snapshot_with_per_position_convolution_inputs_is_refused() {
        for (at, v) in [(100, 10u32), (120, 1024)] {
            let mut b = header().encode();
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            let crc = crc32fast::hash(&b[..124]);
            b[124..128].copy_from_slice(&crc.to_le_bytes());
            match Header::decode(&b, 1 << 20) {
                Err(e @ SnapshotError::OtherLayout { .. }) => {
                    assert!(e.to_string().contains("evaluate its text again"), "{e}")
                }
                other => panic!("byte {at}: {other:?}"),
            }
        }
    }

    #[test]
    fn total_length_overflow_is_none() {
        let mut h = header();
        h.n_tokens = u64::MAX / 3;
        assert_eq!(h.total_len(), None);
        h.n_tokens = 2;
        // Every KV segment (2 positions × 192 f16: 768 bytes) padded to 4096.
        let kv = 4096 * 2 * 30;
        let start = (128 + 8 + 49152 * 4_u64).div_ceil(4096) * 4096;
        assert_eq!(h.total_len(), Some(start + kv + 4));
        let offsets = h.offsets();
        assert_eq!(offsets[0], (start, start + 4096));
        assert_eq!(offsets[29].1 + 4096 + 4, h.total_len().unwrap());
        h.align = 16384;
        assert_eq!(h.offsets()[1].0 % 16384, 0);
    }

    #[test]
    fn a_recurrent_block_round_trips_and_sizes_the_states() {
        let mut h = header();
        h.flags |= FLAG_RECURRENT;
        h.n_tokens = 3;
        h.recurrent = Recurrent {
            layers: 2,
            state_len: 10,
            pos: 2,
        };
        // The block (20 bytes) sits between the header and the tokens; the states (2 × 10
        // f32) follow the KV segments, unpadded.
        let start = (128 + 20 + 4 * 3 + 49152 * 4_u64).div_ceil(4096) * 4096;
        assert_eq!(h.total_len(), Some(start + 30 * 2 * 4096 + 80 + 4));
        let block = h.recurrent_block();
        assert_eq!(block.len() as u64, RECURRENT_BLOCK_LEN);
        let mut d = Header {
            recurrent: Recurrent::default(),
            ..h.clone()
        };
        d.decode_recurrent(&block).unwrap();
        assert_eq!(d, h);
        for i in 0..block.len() * 8 {
            let mut bad = block.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(
                matches!(d.decode_recurrent(&bad), Err(SnapshotError::Corrupted(_))),
                "bit {i}"
            );
        }
        // States after a position past the tokens are impossible.
        h.recurrent.pos = 4;
        assert!(matches!(
            d.decode_recurrent(&h.recurrent_block()),
            Err(SnapshotError::Corrupted(_))
        ));
        h.recurrent.layers = u32::MAX;
        h.recurrent.state_len = u32::MAX;
        assert_eq!(h.total_len(), None, "2^64 bytes of states overflow");
    }

    #[test]
    fn a_layer_plan_sizes_each_layer_at_its_width() {
        let mut h = header();
        h.layout.n_layers = 4;
        h.flags |= FLAG_PLAN;
        h.plan = vec![256, 512, 0, 0];
        h.n_tokens = 3;
        // The plan (4 widths and a checksum) sits between the header and the tokens.
        let start = (128 + 4 * 4 + 4 + 4 * 3 + 49152 * 4_u64).div_ceil(4096) * 4096;
        // Keys of 3 × 256 and 3 × 512 f16 pad to a page each; the shared layers write nothing.
        assert_eq!(h.total_len(), Some(start + 4 * 4096 + 4));
        let offsets = h.offsets();
        assert_eq!(offsets[0], (start, start + 4096));
        assert_eq!(offsets[1], (start + 8192, start + 12288));
        assert_eq!(offsets[2], (start + 16384, start + 16384));
        let block = h.plan_block();
        assert_eq!(block.len() as u64, h.plan_len());
        let mut d = Header {
            plan: Vec::new(),
            ..h.clone()
        };
        d.decode_plan(&block).unwrap();
        assert_eq!(d, h);
        let mut bad = block.clone();
        bad[1] ^= 1;
        assert!(matches!(
            d.decode_plan(&bad),
            Err(SnapshotError::Corrupted(_))
        ));
        assert_eq!(
            describe_plan(&h.plan),
            "per-layer KV widths 256, 512, 0×2 (0: none cached)"
        );
        h.plan.pop();
        assert_eq!(h.total_len(), None, "a plan shorter than the layers");
        h.plan = vec![u32::MAX; 4];
        h.n_tokens = u64::MAX / 4;
        assert_eq!(h.total_len(), None);
    }
}
