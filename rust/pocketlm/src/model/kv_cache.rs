//! Per-sequence key/value cache in f16, committed as positions are written so a short session
//! costs little memory.
//!
//! A Gated DeltaNet layer (Qwen3.5) and a short-convolution layer (LFM2) keep, instead of keys
//! and values per position, one recurrent state: the state after the last position evaluated
//! (DeltaNet: its convolution's last inputs and a matrix per value head, `deltanet.rs`, 1.1 MiB
//! per layer for Qwen3.5-0.8B; a short convolution: its last `kernel - 1` f32 inputs,
//! `shortconv.rs`, 16 KiB per layer for LFM2-1.2B, where inputs kept per position took 8 KiB a
//! position per layer). A truncation leaves it ahead of the length
//! ([`KvCache::recurrent_in_sync`] is false); before the session continues, it restores the latest checkpoint at or before the
//! length ([`KvCache::restore_recurrent`]; the zero state before position 0 without one) and
//! evaluates the tokens from there to the length again. Checkpoints are copies of every
//! such layer's state ([`KvCache::checkpoint`]), taken where an evaluation starts (at
//! least [`CHECKPOINT_GAP`] positions after the one before; not for a decode step, one token
//! with nothing rewound), at the last word start inside an evaluation (`Session::eval`) and
//! where a caller asks (`Session::checkpoint_here`: the keyboard's contexts): where edits
//! rewind to, the start of the word being typed. The latest [`CHECKPOINTS`] are kept (or the
//! first and the latest few, [`KvCache::keep_checkpoints`]); a truncation drops those past the
//! new length (they belong to another continuation). They are immutable and shared (`Arc`) by
//! forks and copies, and by caches of the same tokens ([`KvCache::checkpoint_sharing`]).
//! Long-lived ones (a prompt's last word start, the keyboard's framing) may be kept in the
//! pages of unnamed files instead of anonymous memory ([`KvCache::checkpoint_in_files`]), and
//! a keyboard pool's context may take the live states themselves as its checkpoint
//! ([`KvCache::checkpoint_moving_states`]).
//!
//! A keyboard pool's copy of a cache can be made shed ([`KvCache::clone_shed`]): near a
//! checkpoint it copies no live states and restores, or is evaluated transiently from, the
//! checkpoint it shares with the original.
//!
//! States worth the keys of a few dozen positions (LFM2's) are small
//! ([`SMALL_STATES_POSITIONS`]): their checkpoints are taken at any gap, and they are neither
//! shed nor evaluated transiently, the two ways a keyboard's pool of sessions saves holding
//! Qwen3.5's 19 MiB of states per session.

use super::kv_map::{page_size, F32Block, Region};
use super::ModelConfig;
use crate::gguf::FileStamp;
use half::f16;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Positions are added in steps of this many, so growth reallocates rarely and waste stays small.
pub(crate) const GROW_STEP: usize = 64;

/// Recurrent-state checkpoints a cache keeps (the latest taken).
pub(crate) const CHECKPOINTS: usize = 4;
/// A checkpoint is not taken within this many positions after an earlier one: batched
/// evaluations of one token each (the keyboard's candidates) copy the state every few tokens,
/// not at each.
pub(crate) const CHECKPOINT_GAP: usize = 4;
/// Recurrent states that take no more than the keys and values of this many positions are
/// small: they cost little to copy and to hold (LFM2's convolutions: 7 positions' worth for
/// the 350M, 13 for the 1.2B; Qwen3.5-0.8B's DeltaNet states about 1,600, its tiny test model
/// 140). Their checkpoints are taken at any gap, they are never shed (a pool's idle sessions
/// keep them in sync, so continuing one replays nothing) and never evaluated transiently.
pub(crate) const SMALL_STATES_POSITIONS: usize = 32;

/// Every recurrent layer's state after position `pos - 1` (empty for other layers).
struct Checkpoint {
    pos: usize,
    states: Vec<F32Block>,
}

/// A checkpoint one cache lends another whose tokens agree up to its position
/// ([`KvCache::checkpoint_at`], [`KvCache::checkpoint_sharing`]).
pub(crate) struct SharedCheckpoint(Arc<Checkpoint>);

/// One layer's keys or values: a region for the whole context whose
/// pages the OS commits as positions are written, its start possibly a snapshot file's pages
/// (`kv_map.rs`), or, where anonymous regions are not used (not Unix) or could not be
/// reserved, a growing heap buffer.
enum Buf<T> {
    Heap(Vec<T>),
    /// The region, and the elements of the context it holds.
    Mapped(Region, usize),
}

impl<T: bytemuck::Pod> Buf<T> {
    fn as_slice(&self) -> &[T] {
        match self {
            Buf::Heap(v) => v,
            Buf::Mapped(r, n) => &bytemuck::cast_slice(r.bytes())[..*n],
        }
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Buf::Heap(v) => v,
            Buf::Mapped(r, n) => &mut bytemuck::cast_slice_mut(r.bytes_mut())[..*n],
        }
    }

    /// An anonymous region of `cap` zero elements (`None` where regions are not used or the
    /// reservation failed).
    fn region(cap: usize) -> Option<Self> {
        if !anon_regions() {
            return None;
        }
        let r = Region::new(cap * std::mem::size_of::<T>(), None).ok()?;
        Some(Buf::Mapped(r, cap))
    }

    /// Makes room for `want` elements of a context of `cap` (a region always has room for the
    /// context): an empty buffer becomes a region for `cap` elements.
    fn ensure(&mut self, want: usize, cap: usize) {
        if let Buf::Heap(buf) = self {
            if buf.len() < want {
                if buf.is_empty() {
                    if let Some(r) = Self::region(cap) {
                        *self = r;
                        return;
                    }
                }
                buf.reserve_exact(want - buf.len());
                buf.resize(want, T::zeroed());
            }
        }
    }

    /// Bytes of the file mapped in.
    fn file_bytes(&self) -> usize {
        match self {
            Buf::Heap(_) => 0,
            Buf::Mapped(r, _) => r.file_bytes(),
        }
    }
}

/// Whether caches without a mapped file use anonymous regions (committed page by page) rather
/// than growing heap buffers: on Unix, where an anonymous mapping's untouched pages cost
/// nothing.
fn anon_regions() -> bool {
    cfg!(unix)
}

/// A snapshot file whose KV segments are mapped as the first positions of caches: kept open,
/// with its stamp at mapping time, so that a truncation or an in-place rewrite is reported
/// before its pages are touched (the same check as the model file's).
pub(crate) struct MappedPrefix {
    file: File,
    path: PathBuf,
    stamp: FileStamp,
    /// Positions the file holds.
    positions: usize,
    /// Per layer, the file offsets of its keys and values, each a multiple of the page size.
    offsets: Vec<(u64, u64)>,
}

impl MappedPrefix {
    pub(crate) fn new(
        file: File,
        path: PathBuf,
        stamp: FileStamp,
        positions: usize,
        offsets: Vec<(u64, u64)>,
    ) -> Self {
        Self {
            file,
            path,
            stamp,
            positions,
            offsets,
        }
    }

    /// Fails (with the message of a changed model file) when the file was truncated, extended
    /// or rewritten since it was mapped: one `fstat` on the kept descriptor.
    pub(crate) fn check(&self) -> Result<(), String> {
        match self.stamp.changes_in(&self.file) {
            None => Ok(()),
            Some(what) => Err(format!(
                "snapshot file {} changed after it was mapped ({what}); load it again (replace \
                 snapshot files by writing a new file and renaming it over the old one, never in place)",
                self.path.display()
            )),
        }
    }
}

/// Keys and values of every layer for positions `0..len`, row-major `[pos][kv_dim]`. A layer
/// that reads another layer's cache (Gemma 4's shared layers) has width 0: nothing of its own.
pub struct KvCache {
    /// Per layer: the width of its key (and value) rows.
    kv_dims: Vec<usize>,
    max_len: usize,
    len: usize,
    k: Vec<Buf<f16>>,
    v: Vec<Buf<f16>>,
    /// Floats of a recurrent layer's state, 0 without recurrent layers.
    rec_len: usize,
    /// Per layer: whether it keeps a recurrent state (DeltaNet, short convolution) instead of
    /// keys and values (its `k`/`v` stay empty).
    is_rec: Vec<bool>,
    /// Whether the recurrent states are small ([`SMALL_STATES_POSITIONS`]).
    small_states: bool,
    /// Per layer: its recurrent state (empty until first used, after
    /// [`KvCache::shed_recurrent`], and for other layers), each its own mapping so that a
    /// state shed leaves the process.
    rec: Vec<F32Block>,
    /// Positions the recurrent states have absorbed (the state after position
    /// `rec_pos - 1`).
    rec_pos: usize,
    /// Recurrent-state checkpoints, oldest first, each at a position `<= len`.
    ckpts: std::collections::VecDeque<Arc<Checkpoint>>,
    /// A transient evaluation ([`KvCache::begin_transient`]): the checkpoint (`None`: the zero
    /// states at 0) each recurrent layer's state is loaded from as the pass reaches it.
    transient: Option<Option<Arc<Checkpoint>>>,
    /// One layer's state during a transient evaluation (kept for the next one).
    scratch: F32Block,
    /// The snapshot file mapped as the first positions (`None`: no buffer maps a file).
    prefix: Option<Arc<MappedPrefix>>,
    /// Positions `0..clean` still hold the mapped file's bytes (nothing was written there).
    clean: usize,
    /// Positions room was made for (a region's written extent, in steps of [`GROW_STEP`]).
    reserved: usize,
    /// Checkpoints kept: 0, the latest [`CHECKPOINTS`]; `n`, the first (a shared start such
    /// as the keyboard's framing) and the latest `n - 1` ([`KvCache::keep_checkpoints`]).
    ring: usize,
}

fn heap_bufs<T>(n: usize) -> Vec<Buf<T>> {
    (0..n).map(|_| Buf::Heap(Vec::new())).collect()
}

fn empty_states(n: usize) -> Vec<F32Block> {
    (0..n).map(|_| F32Block::default()).collect()
}

impl Clone for KvCache {
    /// A mapped cache's copy maps the same file (the page-cache pages are shared) and copies
    /// only the positions written since; if the file changed, the copy holds nothing and stays
    /// refused like the original ([`KvCache::check_prefix`]).
    fn clone(&self) -> Self {
        self.clone_with(true)
    }
}

impl KvCache {
    /// [`Clone::clone`], copying the live recurrent states only if `states` (otherwise the
    /// copy has none and restores them from a checkpoint, as a shed cache does).
    fn clone_with(&self, states: bool) -> Self {
        if let Some(p) = &self.prefix {
            if p.check().is_err() {
                let mut c = self.empty_like();
                c.prefix = Some(p.clone());
                return c;
            }
            if let Ok(mut c) = self.mapped_like(p.clone()) {
                c.clean = self.clean;
                c.len = self.clean.min(self.len);
                c.copy_tail(self, c.len, states);
                return c;
            }
            // Mapping failed (out of address space): a copy, the file being unchanged.
        }
        // Positions past the length are never read before they are written again.
        let mut c = self.empty_like();
        c.copy_tail(self, 0, states);
        c
    }

    /// A copy truncated to `len`, then shed ([`KvCache::shed_recurrent`] with `max_replay`),
    /// without copying the live recurrent states where they go unused (the copy is shorter)
    /// or shedding drops them: a keyboard pool's copy of a session at or past a checkpoint
    /// (its context) restores the states from the checkpoint both share, or is evaluated
    /// transiently from it, instead of holding a copy of them (Qwen3.5-0.8B: 19 MiB each).
    pub(crate) fn clone_shed(&self, len: usize, max_replay: usize) -> Self {
        if len >= self.len && !self.shed_drops_states(max_replay) {
            let mut c = self.clone();
            c.shed_recurrent(max_replay);
            return c;
        }
        let mut c = self.clone_with(false);
        c.truncate(len);
        if c.rec_len > 0 && !c.small_states {
            c.keep_first_and_latest_checkpoints();
        }
        c
    }

    /// Whether [`KvCache::shed_recurrent`] with `max_replay` frees the live states rather
    /// than keeping them (as a checkpoint at the length, or because they are small).
    fn shed_drops_states(&self, max_replay: usize) -> bool {
        let back = self.len - self.latest_checkpoint().map_or(0, |c| c.pos);
        self.rec_len > 0 && !self.small_states && !(self.recurrent_in_sync() && back > max_replay)
    }
}

impl KvCache {
    pub fn new(cfg: &ModelConfig, max_len: usize) -> Self {
        Self {
            kv_dims: (0..cfg.n_layers)
                .map(|il| cfg.cached_kv_dim_of(il))
                .collect(),
            max_len,
            len: 0,
            k: heap_bufs(cfg.n_layers),
            v: heap_bufs(cfg.n_layers),
            rec_len: cfg.recurrent_state_len(),
            is_rec: (0..cfg.n_layers).map(|il| cfg.keeps_state(il)).collect(),
            small_states: {
                let states =
                    cfg.state_layers() * cfg.recurrent_state_len() * std::mem::size_of::<f32>();
                // keys and values, f16
                let position: usize = (0..cfg.n_layers)
                    .map(|il| 4 * cfg.cached_kv_dim_of(il))
                    .sum();
                states <= SMALL_STATES_POSITIONS * position
            },
            rec: empty_states(cfg.n_layers),
            rec_pos: 0,
            ckpts: Default::default(),
            transient: None,
            scratch: F32Block::default(),
            prefix: None,
            clean: 0,
            reserved: 0,
            ring: 0,
        }
    }

    /// An empty cache of the same shape (its buffers are made on first use).
    fn empty_like(&self) -> Self {
        let n = self.is_rec.len();
        Self {
            kv_dims: self.kv_dims.clone(),
            max_len: self.max_len,
            len: 0,
            k: heap_bufs(n),
            v: heap_bufs(n),
            rec_len: self.rec_len,
            is_rec: self.is_rec.clone(),
            small_states: self.small_states,
            rec: empty_states(n),
            rec_pos: 0,
            ckpts: Default::default(),
            transient: None,
            scratch: F32Block::default(),
            prefix: None,
            clean: 0,
            reserved: 0,
            ring: self.ring,
        }
    }

    /// A cache of `cfg`'s shape whose first `prefix.positions` positions are the snapshot
    /// file's KV segments, mapped (not copied); its length is that of the prefix. The caller
    /// has checked the file's contents and that every segment's page-rounded range lies in it.
    pub(crate) fn mapped(
        cfg: &ModelConfig,
        max_len: usize,
        prefix: Arc<MappedPrefix>,
    ) -> std::io::Result<Self> {
        let mut c = Self::new(cfg, max_len).mapped_like(prefix)?;
        c.len = c.clean;
        Ok(c)
    }

    /// A cache of this one's shape mapping `prefix` (its length is 0, its clean extent the
    /// prefix).
    fn mapped_like(&self, prefix: Arc<MappedPrefix>) -> std::io::Result<Self> {
        let mut c = self.empty_like();
        let page = page_size();
        let n = prefix.positions;
        debug_assert!(n <= self.max_len);
        let region = |width: usize, elem: usize, offset: u64| {
            let bytes = n * width * elem;
            let file = (bytes > 0).then(|| (&prefix.file, offset, bytes.div_ceil(page) * page));
            Region::new(self.max_len * width * elem, file)
        };
        for (il, &(a, b)) in prefix.offsets.iter().enumerate() {
            let w = self.kv_dims[il];
            c.k[il] = Buf::Mapped(region(w, 2, a)?, self.max_len * w);
            c.v[il] = Buf::Mapped(region(w, 2, b)?, self.max_len * w);
        }
        c.clean = n;
        c.reserved = n;
        c.prefix = Some(prefix);
        Ok(c)
    }

    /// Fails when the snapshot file mapped as this cache's prefix changed since (its pages
    /// must not be touched then); `Ok` for a cache without a mapped prefix.
    pub(crate) fn check_prefix(&self) -> Result<(), String> {
        self.prefix.as_ref().map_or(Ok(()), |p| p.check())
    }

    /// Bytes of files mapped into this cache (a snapshot's keys and values, checkpoints kept
    /// in files: [`KvCache::checkpoint_in_files`]): pages the OS counts as file-backed, not as
    /// the process's anonymous memory, until written.
    pub fn mapped_bytes(&self) -> usize {
        self.k
            .iter()
            .chain(&self.v)
            .map(Buf::file_bytes)
            .sum::<usize>()
            + self
                .ckpts
                .iter()
                .flat_map(|c| &c.states)
                .map(F32Block::file_bytes)
                .sum::<usize>()
    }

    /// A cache of `is_rec.len()` layers, those of `is_rec` with recurrent states of `rec_len`
    /// floats (under the policy of large states), the others without keys (for the recurrent
    /// layers' unit tests).
    #[cfg(test)]
    pub(crate) fn recurrent_only(is_rec: &[bool], rec_len: usize, max_len: usize) -> Self {
        let n = is_rec.len();
        Self {
            kv_dims: vec![0; n],
            max_len,
            len: 0,
            k: heap_bufs(n),
            v: heap_bufs(n),
            rec_len,
            is_rec: is_rec.to_vec(),
            small_states: false,
            rec: empty_states(n),
            rec_pos: 0,
            ckpts: Default::default(),
            transient: None,
            scratch: F32Block::default(),
            prefix: None,
            clean: 0,
            reserved: 0,
            ring: 0,
        }
    }

    /// Positions currently cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The most positions this cache may hold (the session's context length).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Forgets every position from `len` on (rollback). Memory is kept for reuse.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
        self.ckpts.retain(|c| c.pos <= len);
    }

    /// Forgets every position and frees the buffers (they are allocated again on use).
    /// A mapped prefix is unmapped.
    pub fn release(&mut self) {
        *self = self.empty_like();
    }

    /// Bytes held by the cache buffers (of a region: the positions room was made for, less the
    /// file's pages).
    pub fn allocated_bytes(&self) -> usize {
        fn held<T>(b: &Buf<T>, used: usize) -> usize {
            let size = std::mem::size_of::<T>();
            match b {
                Buf::Heap(v) => v.capacity() * size,
                Buf::Mapped(r, _) => (used * size).saturating_sub(r.file_bytes()),
            }
        }
        self.k
            .iter()
            .zip(&self.kv_dims)
            .chain(self.v.iter().zip(&self.kv_dims))
            .map(|(b, &w)| held(b, self.reserved * w))
            .sum::<usize>()
            + self.rec.iter().map(|r| r.len() * 4).sum::<usize>()
            + self.scratch.len() * 4
            + self
                .ckpts
                .iter()
                .flat_map(|c| &c.states)
                .map(|r| r.len() * 4 - r.file_bytes())
                .sum::<usize>()
    }

    /// Makes room for positions `0..new_len` in every layer.
    /// Positions from the current length on are about to be written.
    pub(crate) fn reserve(&mut self, new_len: usize) {
        if self.rec_len > 0 && self.transient.is_none() {
            for (r, _) in self.rec.iter_mut().zip(&self.is_rec).filter(|(_, &x)| x) {
                if r.len() != self.rec_len {
                    *r = F32Block::zeros(self.rec_len);
                }
            }
        }
        self.reserve_kv(new_len);
    }

    /// [`KvCache::reserve`] for the keys and values only (a copy sets its states itself).
    fn reserve_kv(&mut self, new_len: usize) {
        debug_assert!(new_len <= self.max_len);
        self.clean = self.clean.min(self.len);
        let positions = (new_len.div_ceil(GROW_STEP) * GROW_STEP).min(self.max_len);
        self.reserved = self.reserved.max(positions);
        for (il, &w) in self.kv_dims.iter().enumerate() {
            let cap = self.max_len * w;
            self.k[il].ensure(positions * w, cap);
            self.v[il].ensure(positions * w, cap);
        }
    }

    /// Whether the recurrent states (if any) are those after the last cached position: false
    /// after a truncation, until [`KvCache::restore_recurrent`] and a new evaluation.
    pub(crate) fn recurrent_in_sync(&self) -> bool {
        self.rec_len == 0 || self.rec_pos == self.len
    }

    /// Whether the model has recurrent layers (DeltaNet, short convolutions).
    pub(crate) fn has_recurrent(&self) -> bool {
        self.rec_len > 0
    }

    /// Per checkpoint kept: an identity (equal for caches that share it) and its position.
    pub(crate) fn checkpoint_ids(&self) -> Vec<(usize, usize)> {
        self.ckpts
            .iter()
            .map(|c| (Arc::as_ptr(c) as usize, c.pos))
            .collect()
    }

    /// Whether live recurrent states are held (not shed, not evaluated transiently).
    pub(crate) fn holds_live_states(&self) -> bool {
        self.rec.iter().any(|r| !r.is_empty())
    }

    /// Takes a checkpoint of the recurrent states at the current length, if they are in sync
    /// and no checkpoint is fewer than `gap` positions before it (1: none at this position;
    /// [`CHECKPOINT_GAP`] where evaluations start; 1 for small states), the oldest of
    /// [`CHECKPOINTS`] going (its buffers are reused when no fork shares it).
    pub(crate) fn checkpoint(&mut self, gap: usize) {
        self.checkpoint_with(gap, None);
    }

    /// [`KvCache::checkpoint`] at the length (any gap) whose states are kept in the pages of
    /// unnamed files in `dir` (`F32Block::file_copy_of`), not in anonymous memory: for a
    /// checkpoint taken once and kept long (a prompt's, where a regenerated answer rewinds to;
    /// the keyboard's framing), when the states are large. Small states are copied as by
    /// `checkpoint`, and so is a layer whose file cannot be written (a full disk).
    pub(crate) fn checkpoint_in_files(&mut self, dir: &Path) {
        self.checkpoint_with(1, (!self.small_states).then_some(dir));
    }

    fn checkpoint_with(&mut self, gap: usize, dir: Option<&Path>) {
        let len = self.len;
        let gap = if self.small_states { 1 } else { gap };
        if self.rec_len == 0
            || len == 0
            || self.transient.is_some()
            || !self.recurrent_in_sync()
            || self.ckpts.iter().any(|c| c.pos + gap.max(1) > len)
        {
            return;
        }
        let mut states = self
            .make_room()
            .and_then(|c| Arc::try_unwrap(c).ok())
            .map(|c| c.states)
            .unwrap_or_default();
        states.resize_with(self.rec.len(), F32Block::default);
        for (dst, src) in states.iter_mut().zip(&self.rec) {
            match dir.filter(|_| !src.is_empty()) {
                Some(dir) => {
                    *dst = F32Block::file_copy_of(src, dir).unwrap_or_else(|e| {
                        log::debug!(
                            target: "pocketlm::session",
                            "a checkpoint's states stay in memory: no file in {}: {e}",
                            dir.display()
                        );
                        src.clone()
                    })
                }
                None => dst.clone_from(src),
            }
        }
        self.ckpts
            .push_back(Arc::new(Checkpoint { pos: len, states }));
    }

    /// The checkpoint this cache keeps at exactly `pos`, for another cache of the same tokens
    /// up to `pos` to share ([`KvCache::checkpoint_sharing`]).
    pub(crate) fn checkpoint_at(&self, pos: usize) -> Option<SharedCheckpoint> {
        self.ckpts
            .iter()
            .find(|c| c.pos == pos)
            .map(|c| SharedCheckpoint(c.clone()))
    }

    /// [`KvCache::checkpoint`] at the length (any gap), sharing `c` when given instead of
    /// copying the states: `c` comes from a cache whose tokens up to its position, which must
    /// be this length, are this cache's, so its states are these (a function of the tokens
    /// only). Two sessions that evaluated the same context then hold one checkpoint of it.
    pub(crate) fn checkpoint_sharing(&mut self, c: Option<SharedCheckpoint>) {
        let Some(SharedCheckpoint(c)) = c else {
            return self.checkpoint(1);
        };
        debug_assert_eq!(c.pos, self.len);
        if self.rec_len == 0 || self.ckpts.iter().any(|k| k.pos == c.pos) {
            return;
        }
        self.make_room();
        self.ckpts.push_back(c);
    }

    /// [`KvCache::checkpoint`] at the length (any gap) made of the live states themselves,
    /// moved rather than copied: the cache is then as if shed ([`KvCache::shed_recurrent`]),
    /// and the next evaluation restores the checkpoint (no position to replay) or is evaluated
    /// transiently from it. For a branching point whose continuations are evaluated
    /// transiently anyway (a keyboard pool's context, with copies sharing checkpoints): one
    /// copy of the states fewer held. A checkpoint already at the length is kept and the live
    /// states dropped. Small states ([`SMALL_STATES_POSITIONS`]) are copied as by
    /// [`KvCache::checkpoint`]: they are never shed.
    ///
    /// The first checkpoint, which rings keep ([`KvCache::keep_checkpoints`]: the keyboard's
    /// framing), goes to files in `dir` when given ([`KvCache::checkpoint_in_files`]).
    pub(crate) fn checkpoint_moving_states(&mut self, dir: Option<&Path>) {
        if self.small_states {
            return self.checkpoint(1);
        }
        if let Some(dir) = dir.filter(|_| self.ckpts.is_empty()) {
            self.checkpoint_in_files(dir);
            if self.ckpts.iter().any(|c| c.pos == self.len) {
                self.rec.iter_mut().for_each(|r| *r = F32Block::default());
                self.rec_pos = usize::MAX;
            }
            return;
        }
        let len = self.len;
        if self.rec_len == 0
            || len == 0
            || self.transient.is_some()
            || !self.recurrent_in_sync()
            || !self.holds_live_states()
        {
            return;
        }
        let states = std::mem::replace(&mut self.rec, empty_states(self.is_rec.len()));
        if !self.ckpts.iter().any(|c| c.pos == len) {
            self.make_room();
            self.ckpts
                .push_back(Arc::new(Checkpoint { pos: len, states }));
        }
        // Not in sync at any length: the next evaluation restores the checkpoint.
        self.rec_pos = usize::MAX;
    }

    /// Keeps, from now on, the first checkpoint and the latest `n - 1` (at least 2 in all),
    /// instead of the latest [`CHECKPOINTS`]: the first is where every continuation starts
    /// (the keyboard's framing), the latest is where the next one does (its context); the
    /// ones between only save replays after longer rewinds. Copies inherit it.
    pub(crate) fn keep_checkpoints(&mut self, n: usize) {
        self.ring = n.max(2);
        while self.ckpts.len() > self.ring {
            self.ckpts.remove(1);
        }
    }

    /// [`KvCache::keep_checkpoints`] as `other` does (a cache replacing it: a loaded state).
    pub(crate) fn keep_ring_of(&mut self, other: &KvCache) {
        if other.ring > 0 {
            self.keep_checkpoints(other.ring);
        }
    }

    /// Drops the checkpoint a full ring lets go before a new one comes (the oldest, or the
    /// second when the first is kept: [`KvCache::keep_checkpoints`]) and returns it, its
    /// buffers reusable when no other cache shares it.
    fn make_room(&mut self) -> Option<Arc<Checkpoint>> {
        let (len, keep_first) = match self.ring {
            0 => (CHECKPOINTS, false),
            n => (n, true),
        };
        if self.ckpts.len() < len {
            return None;
        }
        self.ckpts
            .remove(usize::from(keep_first && self.ckpts.len() > 1))
    }

    /// Frees the live recurrent states (a pool of sessions keeps them only where it continues
    /// next), leaving the next evaluation to restore the latest checkpoint at or before the
    /// length and evaluate the positions after it again. When that checkpoint is more than
    /// `max_replay` positions back (or there is none), the states in sync become a checkpoint
    /// at the length instead (moved, not copied; the oldest of [`CHECKPOINTS`] goes), which
    /// forks share rather than copy. Of the checkpoints only the first (a shared start, such
    /// as the keyboard's framing, that every line rewinds to) and the latest stay. Nothing
    /// changes without recurrent layers or states, or with small ones
    /// ([`SMALL_STATES_POSITIONS`]).
    pub(crate) fn shed_recurrent(&mut self, max_replay: usize) {
        if self.rec_len == 0 || self.small_states || !self.holds_live_states() {
            return;
        }
        if !self.shed_drops_states(max_replay) {
            // (no oldest checkpoint dropped first: the trim below keeps the first, the framing)
            let states = std::mem::replace(&mut self.rec, empty_states(self.is_rec.len()));
            self.ckpts.push_back(Arc::new(Checkpoint {
                pos: self.len,
                states,
            }));
        } else {
            self.rec.iter_mut().for_each(|r| *r = F32Block::default());
        }
        self.keep_first_and_latest_checkpoints();
        // Not in sync at any length: the next evaluation restores the checkpoint.
        self.rec_pos = usize::MAX;
    }

    /// What a shed cache keeps of its checkpoints: the first (a shared start, such as the
    /// keyboard's framing) and the latest.
    fn keep_first_and_latest_checkpoints(&mut self) {
        if self.ckpts.len() > 2 {
            let (first, last) = (self.ckpts.pop_front(), self.ckpts.pop_back());
            self.ckpts.clear();
            self.ckpts.extend(first.into_iter().chain(last));
        }
    }

    /// Whether the recurrent states are small ([`SMALL_STATES_POSITIONS`]): a transient
    /// evaluation, which saves holding them, is not worth the checkpoints it does not take.
    pub(crate) fn small_states(&self) -> bool {
        self.small_states
    }

    /// Positions a session truncated to `len` would evaluate again to bring its recurrent
    /// states there (from the latest checkpoint at or before `len`, or from 0): 0 without
    /// recurrent layers or when the states are already at `len`.
    pub(crate) fn replay_cost(&self, len: usize) -> usize {
        if self.rec_len == 0 || (len == self.len && self.recurrent_in_sync()) {
            return 0;
        }
        len - self.checkpoint_at_or_before(len)
    }

    /// [`KvCache::replay_cost`] of a copy made by [`KvCache::clone_shed`] (`len`,
    /// `max_replay`).
    pub(crate) fn replay_cost_shed(&self, len: usize, max_replay: usize) -> usize {
        match self.shed_drops_states(max_replay) {
            true => len - self.checkpoint_at_or_before(len),
            false => self.replay_cost(len),
        }
    }

    /// The position of the latest checkpoint at or before `len` (0: none, the zero states).
    fn checkpoint_at_or_before(&self, len: usize) -> usize {
        self.ckpts
            .iter()
            .map(|c| c.pos)
            .filter(|&p| p <= len)
            .max()
            .unwrap_or(0)
    }

    /// The latest checkpoint at or before the length: where a rewound session's recurrent
    /// states come from.
    fn latest_checkpoint(&self) -> Option<&Arc<Checkpoint>> {
        self.ckpts
            .iter()
            .filter(|c| c.pos <= self.len)
            .max_by_key(|c| c.pos)
    }

    /// Restores the recurrent states of the latest checkpoint at or before the length (the
    /// zero states before position 0 without one) and truncates to its position: the
    /// positions from there to the old length must be evaluated again. Returns the position.
    pub(crate) fn restore_recurrent(&mut self) -> usize {
        self.transient = None;
        let pos = match self.latest_checkpoint().cloned() {
            Some(c) => {
                for (dst, src) in self.rec.iter_mut().zip(&c.states) {
                    dst.clone_from(src);
                }
                c.pos
            }
            None => {
                for (r, _) in self.rec.iter_mut().zip(&self.is_rec).filter(|(_, &x)| x) {
                    if r.len() == self.rec_len {
                        r.fill(0.0);
                    } else {
                        *r = F32Block::zeros(self.rec_len);
                    }
                }
                0
            }
        };
        self.truncate(pos);
        self.rec_pos = pos;
        pos
    }

    /// What a snapshot saves of the recurrent states: the position they follow and, per
    /// recurrent layer in order, its state (an empty slice: the zero state). In sync, the
    /// current states; after a truncation, the latest checkpoint at or before the length (the
    /// zero states at 0 without one), from which a loaded session evaluates the rest again.
    pub(crate) fn recurrent_for_snapshot(&self) -> (usize, Vec<&[f32]>) {
        let rec_layers = || self.is_rec.iter().enumerate().filter(|(_, &r)| r);
        if self.recurrent_in_sync() {
            return (
                self.len,
                rec_layers().map(|(il, _)| &self.rec[il][..]).collect(),
            );
        }
        match self.latest_checkpoint() {
            Some(c) => (
                c.pos,
                rec_layers().map(|(il, _)| &c.states[il][..]).collect(),
            ),
            None => (0, rec_layers().map(|_| &[][..]).collect()),
        }
    }

    /// Sets the recurrent states a snapshot saved (`states`: per recurrent layer in order,
    /// `rec_len` floats each) as those after position `pos` of the `len` positions loaded.
    /// Before the length, they are also a checkpoint: the next evaluation restores them and
    /// evaluates the positions from `pos` again.
    pub(crate) fn load_recurrent(&mut self, pos: usize, states: Vec<Vec<f32>>) {
        debug_assert!(pos <= self.len);
        let mut all = empty_states(self.is_rec.len());
        let rec_layers = self.is_rec.iter().enumerate().filter(|(_, &r)| r);
        for ((il, _), state) in rec_layers.zip(states) {
            debug_assert_eq!(state.len(), self.rec_len);
            all[il] = F32Block::copy_of(&state);
        }
        if pos < self.len && pos > 0 {
            self.ckpts.push_back(Arc::new(Checkpoint {
                pos,
                states: all.clone(),
            }));
        }
        self.rec = all;
        self.rec_pos = pos;
        self.transient = None;
    }

    /// Starts a transient evaluation: truncates to the latest checkpoint at or before the
    /// length (0 without one) and returns its position. The next forward pass, which must
    /// be a single one, loads each recurrent layer's state from that checkpoint into one
    /// layer-sized scratch buffer as it reaches the layer, and keeps none of them: the cache
    /// ends with its keys and values and no live states, as if shed. For a pool's candidates,
    /// evaluated once and rarely continued: one state in flight per session, not one per
    /// session (Qwen3.5-0.8B: 1.1 MiB against 19 MiB). Positions from the checkpoint on are
    /// evaluated again, as rows of that pass. Without recurrent layers, nothing (returns the
    /// length).
    pub(crate) fn begin_transient(&mut self) -> usize {
        if self.rec_len == 0 {
            return self.len;
        }
        let from = self.latest_checkpoint().cloned();
        let pos = from.as_ref().map_or(0, |c| c.pos);
        self.truncate(pos);
        self.rec.iter_mut().for_each(|r| *r = F32Block::default());
        self.rec_pos = pos;
        self.transient = Some(from);
        pos
    }

    /// Ends a transient evaluation before an evaluation of several passes (only one may be
    /// transient): the states are then restored from the checkpoint as after a rewind.
    pub(crate) fn end_transient(&mut self) {
        if self.transient.take().is_some() {
            self.rec_pos = usize::MAX;
        }
    }

    /// The recurrent state of layer `layer` (room must have been reserved); in a
    /// transient evaluation, the scratch buffer loaded with the checkpoint's state.
    pub(crate) fn recurrent_mut(&mut self, layer: usize) -> &mut [f32] {
        let Some(from) = &self.transient else {
            return &mut self.rec[layer];
        };
        debug_assert_eq!(self.rec_pos, self.len, "a transient evaluation is one pass");
        if self.scratch.len() != self.rec_len {
            self.scratch = F32Block::zeros(self.rec_len);
        }
        match from {
            Some(c) => self.scratch.copy_from_slice(&c.states[layer]),
            None => self.scratch.fill(0.0),
        }
        &mut self.scratch
    }

    /// Sets the length after a forward pass evaluated positions up to `len`: the recurrent
    /// states now follow position `len - 1` (after a transient evaluation, none is kept).
    pub(crate) fn advance(&mut self, len: usize) {
        self.len = len;
        self.rec_pos = if self.transient.is_some() {
            usize::MAX
        } else {
            len
        };
    }

    /// Stores the key and value rows of `layer` at `pos` (room must have been reserved).
    pub(crate) fn store(&mut self, layer: usize, pos: usize, k: &[f32], v: &[f32]) {
        let w = self.kv_dims[layer];
        let at = pos * w;
        let kd = &mut self.k[layer].as_mut_slice()[at..at + w];
        for (d, &s) in kd.iter_mut().zip(k) {
            *d = f16::from_f32(s);
        }
        let vd = &mut self.v[layer].as_mut_slice()[at..at + w];
        for (d, &s) in vd.iter_mut().zip(v) {
            *d = f16::from_f32(s);
        }
    }

    /// Keys and values of `layer` for positions `0..n`.
    pub(crate) fn layer(&self, layer: usize, n: usize) -> (&[f16], &[f16]) {
        let end = n * self.kv_dims[layer];
        (
            &self.k[layer].as_slice()[..end],
            &self.v[layer].as_slice()[..end],
        )
    }

    /// Keys and values of `layer` for positions `0..n`, writable (room must have been
    /// reserved): filled by a session snapshot's loader, which then sets the length.
    pub(crate) fn layer_mut(&mut self, layer: usize, n: usize) -> (&mut [f16], &mut [f16]) {
        let end = n * self.kv_dims[layer];
        (
            &mut self.k[layer].as_mut_slice()[..end],
            &mut self.v[layer].as_mut_slice()[..end],
        )
    }

    /// Copies positions `from..src.len()` of every layer from `src` (the positions before
    /// `from` must already be equal) and takes its length. Positions both caches still hold
    /// from the same mapped file are not copied. A mapped `src` must have been checked
    /// ([`KvCache::check_prefix`]).
    pub(crate) fn copy_tail_from(&mut self, src: &KvCache, from: usize) {
        self.copy_tail(src, from, true);
    }

    /// [`KvCache::copy_tail_from`], copying the live recurrent states only if `states`
    /// (otherwise this cache has none, not in sync: it restores a checkpoint of `src`'s).
    fn copy_tail(&mut self, src: &KvCache, from: usize, states: bool) {
        debug_assert_eq!(self.kv_dims, src.kv_dims);
        let end = src.len;
        let mut from = from;
        if let (Some(a), Some(b)) = (&self.prefix, &src.prefix) {
            if Arc::ptr_eq(a, b) {
                from = from.max(self.clean.min(src.clean).min(end));
            }
        }
        if end > from {
            let clean = self.clean.min(from);
            self.reserve_kv(end);
            self.clean = clean;
            for (il, &w) in self.kv_dims.iter().enumerate() {
                let (a, b) = (from * w, end * w);
                self.k[il].as_mut_slice()[a..b].copy_from_slice(&src.k[il].as_slice()[a..b]);
                self.v[il].as_mut_slice()[a..b].copy_from_slice(&src.v[il].as_slice()[a..b]);
            }
        }
        if self.rec_len > 0 {
            // One state for the whole history: copied whole, or not at all.
            for (dst, s) in self.rec.iter_mut().zip(&src.rec) {
                match states {
                    true => dst.clone_from(s),
                    false => *dst = F32Block::default(),
                }
            }
            // A copy of a cache about to be evaluated transiently (its states not loaded) is
            // not in sync: it restores the checkpoint.
            self.rec_pos = match src.transient {
                Some(_) => usize::MAX,
                None if !states => usize::MAX,
                None => src.rec_pos,
            };
            self.ckpts.clone_from(&src.ckpts);
            self.transient = None;
        }
        self.len = end;
    }

    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checkpoints: taken where the state is in sync and not within the gap of another,
    /// the oldest dropped past the ring's size, those past a truncation dropped, and a
    /// restore brings back the latest at or before the length (else the zero state).
    #[test]
    fn checkpoints_restore_the_latest_before_the_length() {
        let mut c = KvCache::recurrent_only(&[true; 2], 3, 1000);
        // "Evaluates" up to `to`: the state of layer l after position p is [p, l, 7].
        let eval = |c: &mut KvCache, to: usize| {
            c.reserve(to);
            let p = to - 1;
            for l in 0..2 {
                c.recurrent_mut(l)
                    .copy_from_slice(&[p as f32, l as f32, 7.0]);
            }
            c.advance(to);
        };
        let state = |c: &mut KvCache| c.recurrent_mut(1).to_vec();
        c.checkpoint(CHECKPOINT_GAP); // empty: nothing taken
        for to in 1..=30 {
            eval(&mut c, to);
            c.checkpoint(CHECKPOINT_GAP);
        }
        let positions: Vec<usize> = c.ckpts.iter().map(|k| k.pos).collect();
        assert_eq!(positions, [17, 21, 25, 29]);
        // what continuing from a length would replay: nothing in sync, else from the latest
        // checkpoint at or before it, or from 0
        assert_eq!(c.replay_cost(30), 0);
        assert_eq!(
            [c.replay_cost(29), c.replay_cost(23), c.replay_cost(16)],
            [0, 2, 16]
        );
        // back to 23: the checkpoint at 21, whose state follows position 20
        c.truncate(23);
        assert_eq!(c.replay_cost(23), 2);
        assert!(!c.recurrent_in_sync());
        assert_eq!(c.restore_recurrent(), 21);
        assert_eq!((c.len(), state(&mut c)), (21, vec![20.0, 1.0, 7.0]));
        assert!(c.recurrent_in_sync());
        // checkpoints past a truncation are gone; before all of them: the zero state
        assert_eq!(c.ckpts.iter().map(|k| k.pos).max(), Some(21));
        c.truncate(5);
        assert!(c.ckpts.is_empty());
        assert_eq!(c.restore_recurrent(), 0);
        assert_eq!((c.len(), state(&mut c)), (0, vec![0.0; 3]));
        // a copy shares the checkpoints and restores as the original does
        for to in 1..=10 {
            eval(&mut c, to);
            c.checkpoint(CHECKPOINT_GAP);
        }
        let mut d = c.clone();
        d.truncate(8);
        assert_eq!(d.restore_recurrent(), 5);
        assert_eq!(state(&mut d), vec![4.0, 1.0, 7.0]);
        assert_eq!(c.len(), 10);
    }

    /// Shedding frees the live states and restores them from the latest checkpoint when it
    /// is near; when it is far (or missing), the states become a checkpoint at the length,
    /// moved rather than copied.
    #[test]
    fn a_checkpoint_of_moved_states_holds_one_copy() {
        let (eval, state) = (eval_states, state_of);
        let mut c = KvCache::recurrent_only(&[true; 2], 3, 1000);
        eval(&mut c, 0, 4);
        c.checkpoint(1);
        eval(&mut c, 4, 10);
        let held = c.allocated_bytes();
        c.checkpoint_moving_states(None);
        assert_eq!(held, c.allocated_bytes(), "moved, not copied");
        assert!(!c.holds_live_states() && !c.recurrent_in_sync());
        assert_eq!(c.ckpts.iter().map(|k| k.pos).collect::<Vec<_>>(), [4, 10]);
        assert_eq!(c.replay_cost(10), 0);
        assert_eq!(c.restore_recurrent(), 10);
        assert_eq!(state(&mut c), vec![9.0, 1.0, 7.0]);
        // a checkpoint already at the length is kept, the live states dropped
        c.checkpoint_moving_states(None);
        assert_eq!(c.ckpts.iter().map(|k| k.pos).collect::<Vec<_>>(), [4, 10]);
        assert!(!c.holds_live_states());
        assert_eq!(c.restore_recurrent(), 10);
        assert_eq!(state(&mut c), vec![9.0, 1.0, 7.0]);
        // a ring of 2 lets the one before go
        c.keep_checkpoints(2);
        eval(&mut c, 10, 12);
        c.checkpoint(1);
        eval(&mut c, 12, 14);
        c.checkpoint_moving_states(None);
        assert_eq!(c.ckpts.iter().map(|k| k.pos).collect::<Vec<_>>(), [4, 14]);
        // small states are copied as by `checkpoint`, never shed
        let mut g = KvCache::recurrent_only(&[true; 2], 3, 1000);
        g.small_states = true;
        eval(&mut g, 0, 5);
        g.checkpoint_moving_states(None);
        assert!(g.recurrent_in_sync() && g.holds_live_states());
        assert_eq!(g.ckpts.iter().map(|k| k.pos).collect::<Vec<_>>(), [5]);
    }

    #[test]
    fn shed_states_come_back_from_a_checkpoint() {
        let mut c = KvCache::recurrent_only(&[true; 2], 3, 1000);
        let (eval, state) = (eval_states, state_of);
        eval(&mut c, 0, 8);
        c.checkpoint(1);
        eval(&mut c, 8, 10);
        let held = c.allocated_bytes();
        c.shed_recurrent(2);
        assert_eq!(
            held - c.allocated_bytes(),
            2 * 3 * 4,
            "the live states are freed"
        );
        assert!(!c.recurrent_in_sync());
        assert_eq!(c.replay_cost(10), 2);
        assert_eq!(c.restore_recurrent(), 8);
        assert_eq!(state(&mut c), vec![7.0, 1.0, 7.0]);
        // far from the checkpoint: the states become one at the length
        eval(&mut c, 8, 20);
        c.shed_recurrent(2);
        assert_eq!(c.ckpts.iter().map(|k| k.pos).collect::<Vec<_>>(), [8, 20]);
        assert_eq!(c.replay_cost(20), 0);
        assert_eq!(c.restore_recurrent(), 20);
        assert_eq!(state(&mut c), vec![19.0, 1.0, 7.0]);
        // shedding twice changes nothing; no checkpoint at all: back to the zero states
        let mut d = KvCache::recurrent_only(&[true; 2], 3, 1000);
        eval(&mut d, 0, 3);
        d.shed_recurrent(8);
        d.shed_recurrent(8);
        assert_eq!(d.replay_cost(3), 3);
        assert_eq!(d.restore_recurrent(), 0);
        assert_eq!(state(&mut d), vec![0.0; 3]);
        // of several checkpoints, the first and the latest stay, also when the states move
        // into a checkpoint of their own
        for (end, kept) in [(18, [4, 16]), (30, [4, 30])] {
            let mut e = KvCache::recurrent_only(&[true; 2], 3, 1000);
            for to in [4, 8, 12, 16] {
                eval(&mut e, to - 4, to);
                e.checkpoint(1);
            }
            eval(&mut e, 16, end);
            e.shed_recurrent(4);
            assert_eq!(e.ckpts.iter().map(|k| k.pos).collect::<Vec<_>>(), kept);
            assert_eq!(e.replay_cost(end), end - kept[1]);
        }
        // small states (LFM2's): a checkpoint at any gap, never shed
        let mut g = KvCache::recurrent_only(&[true; 2], 3, 1000);
        g.small_states = true;
        eval(&mut g, 0, 5);
        g.checkpoint(CHECKPOINT_GAP);
        eval(&mut g, 5, 6);
        g.checkpoint(CHECKPOINT_GAP);
        assert_eq!(g.ckpts.iter().map(|k| k.pos).collect::<Vec<_>>(), [5, 6]);
        let held = g.allocated_bytes();
        g.shed_recurrent(0);
        assert!(g.recurrent_in_sync());
        assert_eq!(
            (g.allocated_bytes(), state(&mut g)),
            (held, vec![5.0, 1.0, 7.0])
        );
    }

    /// Sets the two recurrent layers' states as passes over positions `from..to` would: after
    /// position `p`, layer `l` holds `[p, l, 7]`.
    fn eval_states(c: &mut KvCache, from: usize, to: usize) {
        for to in from + 1..=to {
            c.reserve(to);
            for l in 0..2 {
                c.recurrent_mut(l)
                    .copy_from_slice(&[(to - 1) as f32, l as f32, 7.0]);
            }
            c.advance(to);
        }
    }

    /// Layer 1's live state.
    fn state_of(c: &mut KvCache) -> Vec<f32> {
        c.recurrent_mut(1).to_vec()
    }

    /// Two caches of the same tokens keep one checkpoint of them: `checkpoint_sharing` takes
    /// the other's (no copy), which then restores like its own; without one it copies as
    /// `checkpoint` does, and a position already checkpointed is left alone.
    #[test]
    fn a_checkpoint_of_the_same_tokens_is_shared_not_copied() {
        let mut a = KvCache::recurrent_only(&[true; 2], 3, 1000);
        eval_states(&mut a, 0, 6);
        a.checkpoint(1);
        let mut b = KvCache::recurrent_only(&[true; 2], 3, 1000);
        eval_states(&mut b, 0, 6);
        assert!(b.checkpoint_at(6).is_none() && a.checkpoint_at(5).is_none());
        b.checkpoint_sharing(a.checkpoint_at(6));
        assert!(Arc::ptr_eq(&a.ckpts[0], &b.ckpts[0]), "shared, not copied");
        assert_eq!(a.checkpoint_ids(), b.checkpoint_ids());
        // a second offer at the same position changes nothing
        let mut other = KvCache::recurrent_only(&[true; 2], 3, 1000);
        eval_states(&mut other, 0, 6);
        other.checkpoint(1);
        b.checkpoint_sharing(other.checkpoint_at(6));
        assert!(Arc::ptr_eq(&a.ckpts[0], &b.ckpts[0]));
        // it restores like the cache's own
        eval_states(&mut b, 6, 9);
        b.truncate(7);
        assert_eq!(b.restore_recurrent(), 6);
        assert_eq!(state_of(&mut b), vec![5.0, 1.0, 7.0]);
        // nothing offered: a copy of the live states, as `checkpoint(1)`
        eval_states(&mut b, 6, 8);
        b.checkpoint_sharing(None);
        assert_eq!(b.ckpts.iter().map(|k| k.pos).collect::<Vec<_>>(), [6, 8]);
        assert_eq!(b.ckpts[1].states[1][..], [7.0, 1.0, 7.0]);
        // the ring keeps the latest CHECKPOINTS, shared ones included
        for end in 9..9 + CHECKPOINTS {
            let (from_a, from_b) = (a.len, b.len);
            eval_states(&mut a, from_a, end);
            a.checkpoint(1);
            eval_states(&mut b, from_b, end);
            b.checkpoint_sharing(a.checkpoint_at(end));
        }
        assert_eq!(b.ckpts.len(), CHECKPOINTS);
        assert!(b.ckpts.iter().zip(&a.ckpts).all(|(x, y)| Arc::ptr_eq(x, y)));
    }

    /// `keep_checkpoints(n)`: the first checkpoint and the latest `n - 1` stay, through
    /// copies and shared checkpoints alike; by default the latest `CHECKPOINTS`.
    #[test]
    fn a_short_ring_keeps_the_first_checkpoint_and_the_latest() {
        let positions = |c: &KvCache| c.ckpts.iter().map(|k| k.pos).collect::<Vec<_>>();
        let mut a = KvCache::recurrent_only(&[true; 2], 3, 1000);
        let mut b = KvCache::recurrent_only(&[true; 2], 3, 1000);
        b.keep_checkpoints(2);
        for end in [3, 5, 7, 9, 11, 13] {
            for c in [&mut a, &mut b] {
                let from = c.len;
                eval_states(c, from, end);
                c.checkpoint(1);
            }
            if end == 7 {
                b = b.clone();
            }
        }
        assert_eq!(positions(&a), [7, 9, 11, 13]);
        assert_eq!(positions(&b), [3, 13], "the first and the latest");
        let mut shared = KvCache::recurrent_only(&[true; 2], 3, 1000);
        shared.keep_ring_of(&b);
        eval_states(&mut shared, 0, 3);
        shared.checkpoint(1);
        eval_states(&mut shared, 3, 13);
        shared.checkpoint_sharing(a.checkpoint_at(13));
        eval_states(&mut shared, 13, 15);
        shared.checkpoint(1);
        assert_eq!(positions(&shared), [3, 15]);
        b.truncate(12);
        assert_eq!(
            b.restore_recurrent(),
            3,
            "a rewind past the latest restores the first"
        );
        let mut c = KvCache::recurrent_only(&[true; 2], 3, 1000);
        for end in [3, 5, 7] {
            let from = c.len;
            eval_states(&mut c, from, end);
            c.checkpoint(1);
        }
        c.keep_checkpoints(2);
        assert_eq!(
            positions(&c),
            [3, 7],
            "a ring made shorter drops the middle"
        );
    }

    /// A pool's shed copy (`clone_shed`): near a checkpoint, or shorter than the original, it
    /// copies no live states and restores the checkpoint it shares; far from one, it is the
    /// original's copy shed (the states become a checkpoint of its own); small states are
    /// copied. Its replay cost is the one `replay_cost_shed` predicts, and the original keeps
    /// its states.
    #[test]
    fn a_shed_copy_restores_a_shared_checkpoint_instead_of_copying_the_states() {
        let mut c = KvCache::recurrent_only(&[true; 2], 3, 1000);
        eval_states(&mut c, 0, 8);
        c.checkpoint(1);
        eval_states(&mut c, 8, 10);
        // near the checkpoint
        let mut near = c.clone_shed(10, 2);
        assert_eq!(
            c.allocated_bytes() - near.allocated_bytes(),
            2 * 3 * 4,
            "no live states held"
        );
        assert!(
            Arc::ptr_eq(&near.ckpts[0], &c.ckpts[0]),
            "the checkpoint is shared"
        );
        assert_eq!((near.replay_cost(10), c.replay_cost_shed(10, 2)), (2, 2));
        assert_eq!(near.restore_recurrent(), 8);
        assert_eq!(state_of(&mut near), vec![7.0, 1.0, 7.0]);
        assert!(c.recurrent_in_sync());
        assert_eq!(state_of(&mut c), vec![9.0, 1.0, 7.0]);
        // shorter than the original: its states are of no use to the copy
        let short = c.clone_shed(9, 100);
        assert!(short.rec.iter().all(|r| r.is_empty()));
        assert_eq!(
            (short.len, short.replay_cost(9), c.replay_cost_shed(9, 100)),
            (9, 1, 1)
        );
        // far from the checkpoint: the copy's states become a checkpoint at its length
        assert_eq!(c.replay_cost_shed(10, 1), 0);
        let mut far = c.clone_shed(10, 1);
        assert_eq!(far.ckpts.iter().map(|k| k.pos).collect::<Vec<_>>(), [8, 10]);
        assert_eq!((far.replay_cost(10), far.restore_recurrent()), (0, 10));
        assert_eq!(state_of(&mut far), vec![9.0, 1.0, 7.0]);
        // small states (LFM2's) are copied in sync
        let mut g = KvCache::recurrent_only(&[true; 2], 3, 1000);
        g.small_states = true;
        eval_states(&mut g, 0, 5);
        let mut h = g.clone_shed(5, 8);
        assert!(h.recurrent_in_sync());
        assert_eq!(state_of(&mut h), vec![4.0, 1.0, 7.0]);
    }

    /// Without a mapped file, a cache's buffers are anonymous regions (Unix), made on first
    /// use for the whole context; a copy holds the same positions in regions of its own, and
    /// a release drops them.
    #[test]
    fn unmapped_buffers_are_regions_made_on_use() {
        let mut c = KvCache::recurrent_only(&[false, false], 0, 1000);
        c.kv_dims = vec![3, 0];
        assert!(matches!(&c.k[0], Buf::Heap(v) if v.is_empty()));
        c.reserve(2);
        for pos in 0..2 {
            let x = [pos as f32 + 1.0, 2.0, 3.0];
            c.store(0, pos, &x, &x);
        }
        c.set_len(2);
        let region = |b: &Buf<f16>| matches!(b, Buf::Mapped(r, 3000) if r.file_bytes() == 0);
        assert_eq!(region(&c.k[0]) && region(&c.v[0]), cfg!(unix));
        assert!(matches!(&c.k[1], Buf::Heap(v) if v.is_empty()));
        let d = c.clone();
        assert_eq!(region(&d.k[0]), cfg!(unix));
        let want: Vec<f16> = [1.0, 2.0, 3.0, 2.0, 2.0, 3.0].map(f16::from_f32).to_vec();
        assert_eq!(d.layer(0, 2), (&want[..], &want[..]));
        assert_eq!(d.layer(0, 2), c.layer(0, 2));
        assert_eq!((d.len(), d.mapped_bytes()), (2, 0));
        c.release();
        assert!(matches!(&c.k[0], Buf::Heap(v) if v.is_empty()));
        assert_eq!(d.layer(0, 2).0[0], f16::from_f32(1.0));
    }
}
