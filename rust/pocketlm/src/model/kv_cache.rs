//! Per-sequence key/value cache in f16, grown on demand so a short session costs little memory.

use super::ModelConfig;
use half::f16;

/// Positions are added in steps of this many, so growth reallocates rarely and waste stays small.
pub(crate) const GROW_STEP: usize = 64;

/// Keys and values of every layer for positions `0..len`, row-major `[pos][kv_dim]`.
#[derive(Clone)]
pub struct KvCache {
    kv_dim: usize,
    max_len: usize,
    len: usize,
    k: Vec<Vec<f16>>,
    v: Vec<Vec<f16>>,
}

impl KvCache {
    pub fn new(cfg: &ModelConfig, max_len: usize) -> Self {
        Self {
            kv_dim: cfg.kv_dim(),
            max_len,
            len: 0,
            k: vec![Vec::new(); cfg.n_layers],
            v: vec![Vec::new(); cfg.n_layers],
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
    }

    /// Forgets every position and frees the buffers (they are allocated again on use).
    pub fn release(&mut self) {
        self.len = 0;
        for buf in self.k.iter_mut().chain(self.v.iter_mut()) {
            *buf = Vec::new();
        }
    }

    /// Bytes held by the cache buffers.
    pub fn allocated_bytes(&self) -> usize {
        self.k
            .iter()
            .chain(&self.v)
            .map(|b| b.capacity() * std::mem::size_of::<f16>())
            .sum()
    }

    /// Makes room for positions `0..new_len` in every layer.
    pub(crate) fn reserve(&mut self, new_len: usize) {
        debug_assert!(new_len <= self.max_len);
        let want = new_len.div_ceil(GROW_STEP) * GROW_STEP;
        let want = want.min(self.max_len) * self.kv_dim;
        for buf in self.k.iter_mut().chain(self.v.iter_mut()) {
            if buf.len() < want {
                buf.reserve_exact(want - buf.len());
                buf.resize(want, f16::ZERO);
            }
        }
    }

    /// Stores the key and value rows of `layer` at `pos` (room must have been reserved).
    pub(crate) fn store(&mut self, layer: usize, pos: usize, k: &[f32], v: &[f32]) {
        let at = pos * self.kv_dim;
        let kd = &mut self.k[layer][at..at + self.kv_dim];
        for (d, &s) in kd.iter_mut().zip(k) {
            *d = f16::from_f32(s);
        }
        let vd = &mut self.v[layer][at..at + self.kv_dim];
        for (d, &s) in vd.iter_mut().zip(v) {
            *d = f16::from_f32(s);
        }
    }

    /// Keys and values of `layer` for positions `0..n`.
    pub(crate) fn layer(&self, layer: usize, n: usize) -> (&[f16], &[f16]) {
        let end = n * self.kv_dim;
        (&self.k[layer][..end], &self.v[layer][..end])
    }

    /// Keys and values of `layer` for positions `0..n`, writable (room must have been
    /// reserved): filled by a session snapshot's loader, which then sets the length.
    pub(crate) fn layer_mut(&mut self, layer: usize, n: usize) -> (&mut [f16], &mut [f16]) {
        let end = n * self.kv_dim;
        (&mut self.k[layer][..end], &mut self.v[layer][..end])
    }

    /// Copies positions `from..src.len()` of every layer from `src` (the positions before
    /// `from` must already be equal) and takes its length.
    pub(crate) fn copy_tail_from(&mut self, src: &KvCache, from: usize) {
        debug_assert_eq!(self.kv_dim, src.kv_dim);
        let end = src.len;
        if end > from {
            self.reserve(end);
            let (a, b) = (from * self.kv_dim, end * self.kv_dim);
            for (d, s) in self.k.iter_mut().zip(&src.k) {
                d[a..b].copy_from_slice(&s[a..b]);
            }
            for (d, s) in self.v.iter_mut().zip(&src.v) {
                d[a..b].copy_from_slice(&s[a..b]);
            }
        }
        self.len = end;
    }

    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len;
    }
}
