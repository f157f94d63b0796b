//! Per-sequence key/value cache in f16, grown on demand so a short session costs little memory.
//!
//! A short-convolution layer (LFM2) keeps, instead of keys and values, the f32 input of its
//! convolution at every position (`n_embd` values: the gated B*x of `shortconv.rs`). Its state
//! after position `p` is the inputs of the last `kernel - 1` positions, so keeping them per
//! position like keys makes a rewind to any length exact and free, as for attention: truncating
//! sets the length, and the next position reads the inputs before it from the history.

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
    /// Width of a convolution layer's input row (`n_embd`), 0 without convolution layers.
    conv_dim: usize,
    /// Per layer: whether it is a convolution layer (its `k`/`v` stay empty, `conv` is used).
    is_conv: Vec<bool>,
    /// Per layer: the convolution inputs `[pos][conv_dim]` (empty for attention layers).
    conv: Vec<Vec<f32>>,
}

impl KvCache {
    pub fn new(cfg: &ModelConfig, max_len: usize) -> Self {
        let is_conv: Vec<bool> = (0..cfg.n_layers).map(|il| cfg.is_conv_layer(il)).collect();
        Self {
            kv_dim: cfg.kv_dim(),
            max_len,
            len: 0,
            k: vec![Vec::new(); cfg.n_layers],
            v: vec![Vec::new(); cfg.n_layers],
            conv_dim: if is_conv.contains(&true) {
                cfg.n_embd
            } else {
                0
            },
            is_conv,
            conv: vec![Vec::new(); cfg.n_layers],
        }
    }

    /// A cache of `is_conv.len()` layers, the convolution layers `conv_dim` wide and the
    /// others without keys (for the convolution's unit tests).
    #[cfg(test)]
    pub(crate) fn conv_only(is_conv: &[bool], conv_dim: usize, max_len: usize) -> Self {
        let n = is_conv.len();
        Self {
            kv_dim: 0,
            max_len,
            len: 0,
            k: vec![Vec::new(); n],
            v: vec![Vec::new(); n],
            conv_dim,
            is_conv: is_conv.to_vec(),
            conv: vec![Vec::new(); n],
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
        for buf in &mut self.conv {
            *buf = Vec::new();
        }
    }

    /// Bytes held by the cache buffers.
    pub fn allocated_bytes(&self) -> usize {
        self.k
            .iter()
            .chain(&self.v)
            .map(|b| b.capacity() * std::mem::size_of::<f16>())
            .sum::<usize>()
            + self
                .conv
                .iter()
                .map(|b| b.capacity() * std::mem::size_of::<f32>())
                .sum::<usize>()
    }

    /// Makes room for positions `0..new_len` in every layer.
    pub(crate) fn reserve(&mut self, new_len: usize) {
        debug_assert!(new_len <= self.max_len);
        let positions = (new_len.div_ceil(GROW_STEP) * GROW_STEP).min(self.max_len);
        let want = positions * self.kv_dim;
        let want_conv = positions * self.conv_dim;
        for (il, &conv) in self.is_conv.iter().enumerate() {
            if conv {
                let buf = &mut self.conv[il];
                if buf.len() < want_conv {
                    buf.reserve_exact(want_conv - buf.len());
                    buf.resize(want_conv, 0.0);
                }
                continue;
            }
            for buf in [&mut self.k[il], &mut self.v[il]] {
                if buf.len() < want {
                    buf.reserve_exact(want - buf.len());
                    buf.resize(want, f16::ZERO);
                }
            }
        }
    }

    /// Stores the convolution input of `layer` at `pos` (room must have been reserved).
    pub(crate) fn store_conv(&mut self, layer: usize, pos: usize, x: &[f32]) {
        let at = pos * self.conv_dim;
        self.conv[layer][at..at + self.conv_dim].copy_from_slice(&x[..self.conv_dim]);
    }

    /// The convolution inputs of `layer` for positions `0..n`, `[pos][n_embd]`.
    pub(crate) fn conv_rows(&self, layer: usize, n: usize) -> &[f32] {
        &self.conv[layer][..n * self.conv_dim]
    }

    /// Writable [`Self::conv_rows`] (room must have been reserved): a snapshot's loader.
    pub(crate) fn conv_rows_mut(&mut self, layer: usize, n: usize) -> &mut [f32] {
        &mut self.conv[layer][..n * self.conv_dim]
    }

    /// Whether `layer` is a convolution layer (it keeps inputs, not keys and values).
    pub(crate) fn is_conv_layer(&self, layer: usize) -> bool {
        self.is_conv[layer]
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
            let (ca, cb) = (from * self.conv_dim, end * self.conv_dim);
            for il in 0..self.is_conv.len() {
                if self.is_conv[il] {
                    self.conv[il][ca..cb].copy_from_slice(&src.conv[il][ca..cb]);
                } else {
                    self.k[il][a..b].copy_from_slice(&src.k[il][a..b]);
                    self.v[il][a..b].copy_from_slice(&src.v[il][a..b]);
                }
            }
        }
        self.len = end;
    }

    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len;
    }
}
