//! The transformer forward pass over a batch of token rows.
//!
//! A batch row is one token of one sequence at one position. Prefill is many rows of one
//! sequence; batched decode (keyboard beams, several reply drafts) is one row for each of several
//! sequences. All rows share the matrix products, so weights are read once per batch.

use super::config::{Architecture, LayerDims, ModelConfig};
use super::deltanet;
use super::kv_cache::KvCache;
use super::lora::{self, AdapterSet, LoraScratch};
use super::shortconv;
use super::weights::{MatRef, Mixer};
use super::Model;
use crate::kernels::act::{glu_parallel, GluAct};
use crate::kernels::attention::{attend, AttnScratch, KvHead, QueryBlock};
use crate::kernels::{
    matmul_parallel, matmul_parallel_many_riding, matmul_rows_parallel, selected_tier, NoRider,
    OutputRows, ProductRider, QActs, ThreadPool,
};
use crate::ops::{self, Rope};
use crate::quant::BlockLayout;
use std::sync::Mutex;

/// One token to evaluate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchRow {
    pub token: u32,
    pub pos: usize,
    /// Index of the sequence's cache in the `caches` slice.
    pub seq: usize,
    /// Whether this row's logits are wanted.
    pub logits: bool,
}

/// The runs of `rows` that belong to one sequence (consecutive in the batch): each its
/// sequence and its range of rows. A layer that keeps a recurrent state advances it run by run.
pub(crate) fn seq_runs(
    rows: &[BatchRow],
) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        let seq = rows.get(start)?.seq;
        let end = start + rows[start..].iter().take_while(|r| r.seq == seq).count();
        let run = start..end;
        start = end;
        Some((seq, run))
    })
}

/// Buffers reused across calls so that steady-state decoding does not allocate.
#[derive(Default)]
pub(crate) struct Scratch {
    x: Vec<f32>,
    h: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    att: Vec<f32>,
    o: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    /// LFM2's convolution layers: in_proj's B, C, x (`3 n_embd` per row), the gated
    /// convolution's output (`n_embd` per row), and shortconv.rs's window (a sequence's state
    /// and its rows' inputs).
    conv: Vec<f32>,
    conv_y: Vec<f32>,
    conv_window: Vec<f32>,
    /// Qwen3.5's DeltaNet layers: per row q/k/v before the convolution, z, alpha, beta, the
    /// gated output; deltanet.rs's scratch (per row the convolved channels, gates, outputs).
    dn_qkv: Vec<f32>,
    dn_z: Vec<f32>,
    dn_alpha: Vec<f32>,
    dn_beta: Vec<f32>,
    dn_y: Vec<f32>,
    dn_c: Vec<f32>,
    /// Qwen3.5's attention layers: per row the query projection (queries and gates
    /// interleaved by head), and the gates.
    qg: Vec<f32>,
    att_gate: Vec<f32>,
    acts: QActs,
    /// Per worker thread: attention buffers (each locked once per layer by its thread).
    attn: Vec<Mutex<AttnScratch>>,
    /// Per row: the key range it attends to (this layer).
    ranges: Vec<(usize, usize)>,
    /// Attention work split: thread piece `i` covers the (row, head) pairs
    /// `bounds[i]..bounds[i + 1]`.
    bounds: Vec<usize>,
    last: Vec<f32>,
    ropes: Option<(Rope, Rope)>,
    /// RoPE's (sin, cos) at one position, shared by the row's q and k heads.
    angles: Vec<(f32, f32)>,
    /// Per sequence: positions its keys cover after this batch.
    seq_len: Vec<usize>,
    /// Rows whose logits are wanted.
    want: Vec<usize>,
    /// The adapters' low-rank products (untouched by plain sessions).
    lora: LoraScratch,
    /// Gemma 4: every row's per-layer inputs (`n_layers * n_embd_per_layer` per row), the
    /// projection of its embedding, and one layer's gate and input (`n_embd_per_layer`).
    pl: Vec<f32>,
    pl_proj: Vec<f32>,
    pl_gate: Vec<f32>,
    pl_in: Vec<f32>,
    /// The most rows a pass has sized the row buffers for since they were last released.
    rows: usize,
}

impl Scratch {
    /// Frees the buffers sized by the batch (activations, products, quantized inputs) when a
    /// pass of more than `keep` rows sized them, so that a prompt's scratch does not stay for
    /// the rest of the session: a decode step needs one row's (Llama-3.2-1B: 6.3 MiB after a
    /// 64-token chunk, 60 KiB for one token). The next pass allocates what it needs again. The
    /// attention buffers (per thread, sized by the head) and the RoPE tables stay.
    pub(crate) fn release_rows_above(&mut self, keep: usize) {
        if self.rows <= keep {
            return;
        }
        *self = Scratch {
            attn: std::mem::take(&mut self.attn),
            ropes: self.ropes.take(),
            ..Scratch::default()
        };
    }
}

/// Most rows a prompt's forward pass takes at once ([`prefill_rows`]).
const MAX_PREFILL_ROWS: usize = 64;
/// Fewest: below this the weights are read again too often per token.
const MIN_PREFILL_ROWS: usize = 16;
/// What the row buffers of one prompt pass may take (anonymous memory at a prompt's peak).
/// 64 rows of Gemma 4 E2B's take 13.9 MiB (its per-layer inputs, 35 × 256 per row twice, and
/// the 12,288-wide feed-forward); every other family here fits 64 rows in 10 MiB (the widest,
/// the phi3 shape's, 9.3 MiB; Llama-3.2-1B 6.8). 4 MiB was tried: Llama-3.2-1B's prompts in
/// 32-row passes lost 9–15% of prefill speed, Gemma 4's in 16-row passes 25% (docs/performance.md).
const PREFILL_SCRATCH_BYTES: usize = 10 << 20;

/// Floats per batch row of the row buffers [`forward`] sizes (those of the widest layer); the
/// quantized copies of the inputs and the recurrence's own buffers are smaller and not counted.
pub(crate) fn scratch_floats_per_row(cfg: &ModelConfig) -> usize {
    let (d, qd, kvd, ff) = (cfg.n_embd, cfg.max_q_dim(), cfg.max_kv_dim(), cfg.n_ff);
    let mut n = 3 * d + 2 * qd + 2 * kvd + 2 * ff;
    if cfg.conv_kernel > 0 {
        n += 4 * d;
    }
    if let Some(dn) = &cfg.delta_net {
        n += dn.channels() + 2 * dn.value_dim() + 2 * dn.v_heads;
    }
    if cfg.attn_output_gate {
        n += 3 * qd;
    }
    if cfg.n_embd_per_layer > 0 {
        n += 2 * cfg.n_embd_per_layer * cfg.n_layers + 2 * cfg.n_embd_per_layer;
    }
    n
}

/// Rows per forward pass of a prompt: the largest power of two (the prefill kernels' tiles
/// are 64 rows) between [`MIN_PREFILL_ROWS`] and [`MAX_PREFILL_ROWS`] whose row buffers fit
/// [`PREFILL_SCRATCH_BYTES`]. How a prompt is cut changes no bit of the logits
/// (tests/families.rs), only the peak memory and the prefill speed.
pub(crate) fn prefill_rows(cfg: &ModelConfig) -> usize {
    let fit = PREFILL_SCRATCH_BYTES / (4 * scratch_floats_per_row(cfg).max(1));
    (1 << fit.max(1).ilog2()).clamp(MIN_PREFILL_ROWS, MAX_PREFILL_ROWS)
}

fn resize(buf: &mut Vec<f32>, n: usize) {
    if buf.len() < n {
        buf.resize(n, 0.0);
    }
}

/// `out[m, w.rows] = x[m, w.cols] · wᵀ`, quantizing `x` only when `fresh` or the format changes.
struct Linear<'a> {
    pool: &'a ThreadPool,
    bytes: &'a [u8],
    /// Whether `acts` holds the current input (in some format).
    fresh: bool,
    /// The batch's adapters ([`Linear::run_adapted`]).
    adapters: Option<&'a AdapterSet>,
}

impl Linear<'_> {
    fn run(&mut self, acts: &mut QActs, w: &MatRef, x: &[f32], m: usize, out: &mut [f32]) {
        if !(self.fresh && acts.fits(w.ty)) {
            acts.quantize_for(w.ty, &x[..m * w.cols], m, w.cols);
            self.fresh = true;
        }
        matmul_parallel(
            self.pool,
            &w.view(self.bytes),
            acts,
            &mut out[..m * w.rows],
            w.rows,
        );
    }

    /// Several products of the same input (q/k/v, gate/up) as one parallel job when their
    /// weights take the same activation format ([`Linear::one_job`]), else one after the other.
    fn run_many<const N: usize>(
        &mut self,
        acts: &mut QActs,
        x: &[f32],
        m: usize,
        parts: &mut [(&MatRef, &mut [f32]); N],
    ) {
        if !Self::one_job(parts) {
            for (w, out) in parts.iter_mut() {
                self.run(acts, w, x, m, out);
            }
            return;
        }
        self.run_riding(acts, x, m, parts, &NoRider);
    }

    /// Whether [`Linear::run_many`] runs `parts` as one job.
    fn one_job<const N: usize>(parts: &[(&MatRef, &mut [f32]); N]) -> bool {
        let w0 = parts[0].0;
        N <= 4
            && parts
                .iter()
                .all(|(w, _)| w.cols == w0.cols && w.ty.vec_dot_type() == w0.ty.vec_dot_type())
    }

    /// `parts` as one job ([`Linear::one_job`] holds) with `rider` in it.
    fn run_riding<const N: usize>(
        &mut self,
        acts: &mut QActs,
        x: &[f32],
        m: usize,
        parts: &mut [(&MatRef, &mut [f32]); N],
        rider: &impl ProductRider,
    ) {
        let (w0, cols) = (parts[0].0, parts[0].0.cols);
        if !(self.fresh && acts.fits(w0.ty)) {
            acts.quantize_for(w0.ty, &x[..m * cols], m, cols);
            self.fresh = true;
        }
        let bytes = self.bytes;
        let mut jobs = parts
            .each_mut()
            .map(|(w, out)| (w.view(bytes), &mut out[..m * w.rows], w.rows));
        matmul_parallel_many_riding(self.pool, acts, &mut jobs, rider);
    }

    /// [`Linear::run_many`] of matrices of layer `il` (`slots`: their adapter slots, one
    /// [`lora`] group), then the adapters' updates of their outputs. A decoded token's updates
    /// ride in the products' job ([`lora::DecodeRider`]) when the workers share it.
    #[allow(clippy::too_many_arguments)]
    fn run_adapted<const N: usize>(
        &mut self,
        acts: &mut QActs,
        sc: &mut LoraScratch,
        il: usize,
        x: &[f32],
        m: usize,
        mut parts: [(&MatRef, &mut [f32]); N],
        slots: &[usize; N],
    ) {
        let Some(set) = self.adapters else {
            return self.run_many(acts, x, m, &mut parts);
        };
        sc.new_input();
        if self.pool.n_threads() > 1 && Self::one_job(&parts) {
            if let Some(rider) = lora::DecodeRider::new(set, sc, il, x, m, slots) {
                return self.run_riding(acts, x, m, &mut parts, &rider);
            }
        }
        self.run_many(acts, x, m, &mut parts);
        let mut each = slots.iter();
        let mut outs = parts.map(|(_, out)| (*each.next().expect("one slot per matrix"), out));
        lora::apply(set, self.pool, sc, il, x, m, &mut outs);
    }

    /// Marks the activations stale (the input buffer changed).
    fn invalidate(&mut self) {
        self.fresh = false;
    }
}

fn add_bias(out: &mut [f32], bias: &Option<Vec<f32>>, width: usize) {
    if let Some(b) = bias {
        for row in out.chunks_mut(width) {
            for (o, &bv) in row.iter_mut().zip(b) {
                *o += bv;
            }
        }
    }
}

/// Where [`forward`] writes final hidden states: the output-normed state (what the output
/// head multiplies) of every row of sequence 0 at a position `p >= from`, at
/// `out[(p - from) * n_embd..]` (`out` grows to hold it; nothing else is touched).
pub(crate) struct HiddenOut<'a> {
    pub from: usize,
    pub out: &'a mut Vec<f32>,
}

/// Runs the model on `rows`, writing K/V into `caches[row.seq]` at `row.pos`, and returns the
/// logits of the rows that asked for them, in row order, in `logits` (`n × vocab`, or
/// `n × head.len()` with only the output-head rows `head`, in their order). With `hidden`,
/// also the final hidden states it asks for (one RMS norm per row: no extra pass). With
/// `adapters`, every adapted matrix adds its low-rank term (all rows: one adapter set per batch).
///
/// Callers guarantee: every position fits its cache, and within one sequence the rows'
/// positions are consecutive and continue the cache (checked by the session layer).
// The one entry point of every forward pass: its inputs are distinct borrows (model, pool,
// caches, scratch, outputs) that a bundling struct would only re-borrow.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    model: &Model,
    pool: &ThreadPool,
    caches: &mut [&mut KvCache],
    rows: &[BatchRow],
    s: &mut Scratch,
    logits: &mut Vec<f32>,
    head: Option<&OutputRows>,
    hidden: Option<HiddenOut<'_>>,
    adapters: Option<&AdapterSet>,
) {
    let cfg: &ModelConfig = model.config();
    let w = model.weights();
    let bytes = model.gguf().bytes();
    let n = rows.len();
    // The widest layer sizes the buffers (Gemma 4's layers differ).
    let (d, qd, kvd, ff) = (cfg.n_embd, cfg.max_q_dim(), cfg.max_kv_dim(), cfg.n_ff);
    let gemma = matches!(
        cfg.arch,
        Architecture::Gemma3 | Architecture::Gemma2 | Architecture::Gemma4
    );

    s.rows = s.rows.max(n);
    resize(&mut s.x, n * d);
    resize(&mut s.h, n * d);
    resize(&mut s.q, n * qd);
    resize(&mut s.k, n * kvd);
    resize(&mut s.v, n * kvd);
    resize(&mut s.att, n * qd);
    resize(&mut s.o, n * d);
    resize(&mut s.gate, n * ff);
    resize(&mut s.up, n * ff);
    if cfg.conv_kernel > 0 {
        resize(&mut s.conv, n * 3 * d);
        resize(&mut s.conv_y, n * d);
    }
    if let Some(dn) = &cfg.delta_net {
        resize(&mut s.dn_qkv, n * dn.channels());
        resize(&mut s.dn_z, n * dn.value_dim());
        resize(&mut s.dn_alpha, n * dn.v_heads);
        resize(&mut s.dn_beta, n * dn.v_heads);
        resize(&mut s.dn_y, n * dn.value_dim());
    }
    if cfg.attn_output_gate {
        resize(&mut s.qg, n * 2 * qd);
        resize(&mut s.att_gate, n * qd);
    }
    while s.attn.len() < pool.n_threads() {
        s.attn
            .push(Mutex::new(AttnScratch::with_head_dim(cfg.max_head_dim())));
    }
    if s.ropes.is_none() {
        let halves = cfg.rope_style == super::RopeStyle::Halves;
        let context = rows.first().map_or(0, |r| caches[r.seq].max_len());
        // Gemma 4's `rope_freqs` (partial rotation) belong to its global layers only.
        let factors = |r: Rope, local: bool| {
            let r = match w
                .rope_factors(cfg, context)
                .filter(|_| !(local && cfg.arch == Architecture::Gemma4))
            {
                Some(f) => r.with_factors(f),
                None => r,
            };
            if cfg.rope_attn_factor != 1.0 {
                r.with_mscale(cfg.rope_attn_factor)
            } else {
                r
            }
        };
        s.ropes = Some((
            factors(
                Rope::new(cfg.rope_dim, cfg.rope_base, cfg.rope_scale, halves),
                false,
            ),
            factors(
                Rope::new(cfg.rope_dim_local, cfg.rope_base_local, 1.0, halves),
                true,
            ),
        ));
    }

    // Embedding lookup.
    let embd = w.token_embd.view(bytes);
    for (r, row) in rows.iter().enumerate() {
        let dst = &mut s.x[r * d..(r + 1) * d];
        embd.dequantize_row(row.token as usize, dst)
            .expect("embedding type checked at load");
        if let Some(set) = adapters {
            lora::add_to_embedding(set, &mut s.lora, row.token, dst);
        }
        if cfg.embd_scale != 1.0 {
            dst.iter_mut().for_each(|v| *v *= cfg.embd_scale);
        }
    }

    // Room in every cache for its new positions.
    for row in rows {
        caches[row.seq].reserve(row.pos + 1);
    }
    let seq_len = &mut s.seq_len;
    seq_len.clear();
    seq_len.resize(caches.len(), 0);
    for row in rows {
        seq_len[row.seq] = seq_len[row.seq].max(row.pos + 1);
    }
    for (i, c) in caches.iter().enumerate() {
        seq_len[i] = seq_len[i].max(c.len());
    }

    let mut lin = Linear {
        pool,
        bytes,
        fresh: false,
        adapters,
    };
    // Gemma 4: each row's per-layer inputs, (scaled token row + normed projection) / sqrt(2).
    // The token rows are read from the mapped table, one row per token: the table is never
    // copied.
    let n_pl = cfg.n_embd_per_layer;
    let pl_width = n_pl * cfg.n_layers;
    if let Some(pli) = &w.per_layer {
        resize(&mut s.pl, n * pl_width);
        resize(&mut s.pl_proj, n * pl_width);
        resize(&mut s.pl_gate, n * n_pl);
        resize(&mut s.pl_in, n * n_pl);
        let table = pli.token_embd.view(bytes);
        let token_scale = (n_pl as f32).sqrt();
        for (r, row) in rows.iter().enumerate() {
            let dst = &mut s.pl[r * pl_width..][..pl_width];
            table
                .dequantize_row(row.token as usize, dst)
                .expect("per-layer embedding type checked at load");
            dst.iter_mut().for_each(|v| *v *= token_scale);
        }
        lin.invalidate();
        lin.run(&mut s.acts, &pli.model_proj, &s.x, n, &mut s.pl_proj);
        let proj_scale = 1.0 / (d as f32).sqrt();
        let input_scale = 1.0 / 2f32.sqrt();
        for (p, t) in s.pl_proj[..n * pl_width]
            .chunks_mut(n_pl)
            .zip(s.pl[..n * pl_width].chunks_mut(n_pl))
        {
            p.iter_mut().for_each(|v| *v *= proj_scale);
            ops::rms_norm(p, &pli.proj_norm, cfg.rms_eps);
            for (tv, &pv) in t.iter_mut().zip(p.iter()) {
                *tv = (pv + *tv) * input_scale;
            }
        }
    }
    for (il, lw) in w.layers.iter().enumerate() {
        let local = cfg.is_local_layer(il);
        let LayerDims {
            q: qd,
            kv: kvd,
            ff,
            head: hd,
        } = cfg.dims_of(il);
        // A layer that reads another layer's cache computes no K/V (`kvw` 0).
        let owns_kv = cfg.owns_kv(il);
        let kvw = cfg.cached_kv_dim_of(il);
        // --- attention ---
        for r in 0..n {
            ops::rms_norm_into(
                &mut s.h[r * d..][..d],
                &s.x[r * d..][..d],
                &lw.attn_norm,
                cfg.rms_eps,
            );
        }
        match &lw.mixer {
            Mixer::ShortConv(conv) => {
                // LFM2: in_proj to B, C, x; the gated convolution; out_proj (shortconv.rs).
                lin.invalidate();
                lin.run(&mut s.acts, &conv.in_proj, &s.h, n, &mut s.conv);
                shortconv::mix(
                    il,
                    &conv.conv,
                    cfg.conv_kernel,
                    rows,
                    caches,
                    &s.conv[..n * 3 * d],
                    &mut s.conv_y[..n * d],
                    &mut s.conv_window,
                );
                lin.invalidate();
                lin.run(&mut s.acts, &conv.out_proj, &s.conv_y, n, &mut s.o);
            }
            Mixer::DeltaNet(dn) => {
                // Qwen3.5: q/k/v, z, alpha and beta from the normed input; the convolution
                // and the recurrence per token (deltanet.rs); ssm_out.
                let dims = cfg
                    .delta_net
                    .as_ref()
                    .expect("a DeltaNet layer has its shape");
                lin.invalidate();
                lin.run_many(
                    &mut s.acts,
                    &s.h,
                    n,
                    &mut [
                        (&dn.qkv, &mut s.dn_qkv[..]),
                        (&dn.gate, &mut s.dn_z[..]),
                        (&dn.alpha, &mut s.dn_alpha[..]),
                        (&dn.beta, &mut s.dn_beta[..]),
                    ],
                );
                deltanet::mix(
                    dims,
                    &deltanet::Params {
                        layer: il,
                        conv: &dn.conv,
                        dt_bias: &dn.dt_bias,
                        a: &dn.a,
                        norm: &dn.norm,
                        eps: cfg.rms_eps,
                    },
                    pool,
                    rows,
                    caches,
                    &deltanet::Inputs {
                        qkv: &s.dn_qkv,
                        z: &s.dn_z,
                        alpha: &s.dn_alpha,
                        beta: &s.dn_beta,
                    },
                    &mut s.dn_y,
                    &mut s.dn_c,
                );
                lin.invalidate();
                lin.run(&mut s.acts, &dn.out, &s.dn_y, n, &mut s.o);
            }
            Mixer::Attention(at) => {
                lin.invalidate();
                // Whether the adapters' updates are in (else after the match).
                let adapted = match (&at.wk, &at.wv) {
                    // (a model whose queries carry gates takes no adapter of `Q`)
                    (Some(wk), Some(wv)) => {
                        lin.run_adapted(
                            &mut s.acts,
                            &mut s.lora,
                            il,
                            &s.h,
                            n,
                            [
                                (
                                    &at.wq,
                                    if at.q_gate {
                                        &mut s.qg[..]
                                    } else {
                                        &mut s.q[..]
                                    },
                                ),
                                (wk, &mut s.k[..]),
                                (wv, &mut s.v[..]),
                            ],
                            &[lora::Q, lora::K, lora::V],
                        );
                        true
                    }
                    (Some(wk), None) => {
                        // Gemma 4 without v_proj: the values are the keys' projection
                        // (normed differently below).
                        lin.run_many(
                            &mut s.acts,
                            &s.h,
                            n,
                            &mut [(&at.wq, &mut s.q[..]), (wk, &mut s.k[..])],
                        );
                        s.v[..n * kvd].copy_from_slice(&s.k[..n * kvd]);
                        false
                    }
                    (None, _) => {
                        lin.run(&mut s.acts, &at.wq, &s.h, n, &mut s.q);
                        false
                    }
                };
                if let (false, Some(set)) = (adapted, adapters) {
                    s.lora.new_input();
                    let outs = &mut [
                        (lora::Q, &mut s.q[..]),
                        (lora::K, &mut s.k[..]),
                        (lora::V, &mut s.v[..]),
                    ];
                    lora::apply(set, pool, &mut s.lora, il, &s.h, n, outs);
                }
                if at.q_gate {
                    // Each head's query then its gate (Qwen3.5): queries to `q`, gates aside.
                    for r in 0..n {
                        let full = &s.qg[r * 2 * qd..][..2 * qd];
                        for (h, pair) in full.chunks_exact(2 * hd).enumerate() {
                            let off = r * qd + h * hd;
                            s.q[off..off + hd].copy_from_slice(&pair[..hd]);
                            s.att_gate[off..off + hd].copy_from_slice(&pair[hd..]);
                        }
                    }
                }
                add_bias(&mut s.q[..n * qd], &at.bq, qd);
                add_bias(&mut s.k[..n * kvw], &at.bk, kvd);
                add_bias(&mut s.v[..n * kvw], &at.bv, kvd);
                let (rope_global, rope_local) = s.ropes.as_ref().expect("set above");
                let rope = if local { rope_local } else { rope_global };
                let rotate = cfg.has_rope(il);
                let v_norm = cfg.v_norm;
                // q/k norms and RoPE (and Gemma 4's value norm), row by row: in chunks of rows
                // across the pool for a prompt. A shared layer has no k/v rows (`kvw` 0).
                let qk_rows = |q: &mut [f32],
                               k: &mut [f32],
                               v: &mut [f32],
                               rs: &[BatchRow],
                               angles: &mut Vec<_>| {
                    for (r, row) in rs.iter().enumerate() {
                        let qr = &mut q[r * qd..][..qd];
                        let kr = &mut k[r * kvw..][..kvw];
                        let vr = &mut v[r * kvw..][..kvw];
                        rope.angles(row.pos, angles);
                        for head in qr.chunks_mut(hd) {
                            if let Some(qn) = &at.q_norm {
                                ops::rms_norm(head, qn, cfg.rms_eps);
                            }
                            if rotate {
                                rope.apply_with(head, angles);
                            }
                            if cfg.attn_scale != 1.0 {
                                head.iter_mut().for_each(|v| *v *= cfg.attn_scale);
                            }
                        }
                        for head in kr.chunks_mut(hd) {
                            if let Some(kn) = &at.k_norm {
                                ops::rms_norm(head, kn, cfg.rms_eps);
                            }
                            if rotate {
                                rope.apply_with(head, angles);
                            }
                        }
                        if v_norm {
                            for head in vr.chunks_mut(hd) {
                                ops::rms_norm_unweighted(head, cfg.rms_eps);
                            }
                        }
                    }
                };
                const ROWS_PER_PIECE: usize = 8;
                if pool.n_threads() == 1 || n < 2 * ROWS_PER_PIECE {
                    qk_rows(
                        &mut s.q[..n * qd],
                        &mut s.k[..n * kvw],
                        &mut s.v[..n * kvw],
                        rows,
                        &mut s.angles,
                    );
                } else {
                    // Pieces of ROWS_PER_PIECE rows (a shared layer's k/v pieces are empty).
                    let (mut q, mut k, mut v) =
                        (&mut s.q[..n * qd], &mut s.k[..n * kvw], &mut s.v[..n * kvw]);
                    let mut parts = Vec::with_capacity(n.div_ceil(ROWS_PER_PIECE));
                    for rs in rows.chunks(ROWS_PER_PIECE) {
                        let m = rs.len();
                        let (qa, qb) = std::mem::take(&mut q).split_at_mut(m * qd);
                        let (ka, kb) = std::mem::take(&mut k).split_at_mut(m * kvw);
                        let (va, vb) = std::mem::take(&mut v).split_at_mut(m * kvw);
                        (q, k, v) = (qb, kb, vb);
                        parts.push((qa, ka, va, rs));
                    }
                    let pieces = Mutex::new(parts.into_iter());
                    // work: a few operations per element (norm, rotation)
                    let work = (n * (qd + 2 * kvw) * 4) as u64;
                    pool.run_joinable(work, |_, _| {
                        let mut angles = Vec::new();
                        loop {
                            let next = pieces.lock().expect("rope pieces lock").next();
                            let Some((q, k, v, rs)) = next else { break };
                            qk_rows(q, k, v, rs, &mut angles);
                        }
                    });
                }
                if owns_kv {
                    for (r, row) in rows.iter().enumerate() {
                        caches[row.seq].store(
                            il,
                            row.pos,
                            &s.k[r * kvd..][..kvd],
                            &s.v[r * kvd..][..kvd],
                        );
                    }
                }
                let window = if local { cfg.sliding_window } else { None };
                s.ranges.clear();
                s.ranges.extend(rows.iter().map(|row| {
                    let end = row.pos + 1;
                    (window.map_or(0, |w| end.saturating_sub(w)), end)
                }));
                split_attention(cfg, rows, &s.ranges, pool.n_threads(), &mut s.bounds);
                attention(
                    cfg,
                    il,
                    cfg.kv_source(il),
                    rows,
                    &s.ranges,
                    &s.bounds,
                    &s.q,
                    caches,
                    seq_len,
                    &mut s.att[..n * qd],
                    &s.attn,
                    pool,
                );

                if at.q_gate {
                    for (a, &g) in s.att[..n * qd].iter_mut().zip(&s.att_gate[..n * qd]) {
                        *a *= 1.0 / (1.0 + (-g).exp());
                    }
                }
                lin.invalidate();
                lin.run_adapted(
                    &mut s.acts,
                    &mut s.lora,
                    il,
                    &s.att,
                    n,
                    [(&at.wo, &mut s.o[..])],
                    &[lora::O],
                );
            }
        }
        for r in 0..n {
            let o = &mut s.o[r * d..(r + 1) * d];
            if let Some(pn) = &lw.post_attn_norm {
                ops::rms_norm(o, pn, cfg.rms_eps);
            }
            if cfg.residual_scale != 1.0 {
                o.iter_mut().for_each(|v| *v *= cfg.residual_scale);
            }
            for (x, &ov) in s.x[r * d..(r + 1) * d].iter_mut().zip(o.iter()) {
                *x += ov;
            }
        }

        // --- feed-forward ---
        for r in 0..n {
            ops::rms_norm_into(
                &mut s.h[r * d..][..d],
                &s.x[r * d..][..d],
                &lw.ffn_norm,
                cfg.rms_eps,
            );
        }
        lin.invalidate();
        lin.run_adapted(
            &mut s.acts,
            &mut s.lora,
            il,
            &s.h,
            n,
            [(&lw.w_gate, &mut s.gate[..]), (&lw.w_up, &mut s.up[..])],
            &[lora::GATE, lora::UP],
        );
        let act = if gemma {
            GluAct::GeluTanh
        } else {
            GluAct::Silu
        };
        glu_parallel(pool, act, &mut s.gate[..n * ff], &s.up[..n * ff]);
        lin.invalidate();
        lin.run_adapted(
            &mut s.acts,
            &mut s.lora,
            il,
            &s.gate,
            n,
            [(&lw.w_down, &mut s.o[..])],
            &[lora::DOWN],
        );
        for r in 0..n {
            let o = &mut s.o[r * d..(r + 1) * d];
            if let Some(pn) = &lw.post_ffn_norm {
                ops::rms_norm(o, pn, cfg.rms_eps);
            }
            if cfg.residual_scale != 1.0 {
                o.iter_mut().for_each(|v| *v *= cfg.residual_scale);
            }
            for (x, &ov) in s.x[r * d..(r + 1) * d].iter_mut().zip(o.iter()) {
                *x += ov;
            }
        }

        // --- Gemma 4: this layer's per-layer input, gated by the residual stream ---
        if let Some(g) = &lw.per_layer {
            lin.invalidate();
            lin.run(&mut s.acts, &g.inp_gate, &s.x, n, &mut s.pl_gate);
            for r in 0..n {
                s.pl_in[r * n_pl..][..n_pl]
                    .copy_from_slice(&s.pl[r * pl_width + il * n_pl..][..n_pl]);
            }
            glu_parallel(
                pool,
                GluAct::GeluTanh,
                &mut s.pl_gate[..n * n_pl],
                &s.pl_in[..n * n_pl],
            );
            lin.invalidate();
            lin.run(&mut s.acts, &g.proj, &s.pl_gate, n, &mut s.o);
            for r in 0..n {
                let o = &mut s.o[r * d..(r + 1) * d];
                ops::rms_norm(o, &g.post_norm, cfg.rms_eps);
                for (x, &ov) in s.x[r * d..(r + 1) * d].iter_mut().zip(o.iter()) {
                    *x += ov;
                }
            }
        }
        if let Some(scale) = lw.out_scale {
            s.x[..n * d].iter_mut().for_each(|v| *v *= scale);
        }
    }

    for row in rows {
        let c = &mut caches[row.seq];
        if row.pos + 1 > c.len() {
            c.advance(row.pos + 1);
        }
    }

    if let Some(h) = hidden {
        for (r, row) in rows.iter().enumerate() {
            if row.seq != 0 || row.pos < h.from {
                continue;
            }
            let at = (row.pos - h.from) * d;
            if h.out.len() < at + d {
                h.out.resize(at + d, 0.0);
            }
            ops::rms_norm_into(
                &mut h.out[at..at + d],
                &s.x[r * d..][..d],
                &w.output_norm,
                cfg.rms_eps,
            );
        }
    }

    // Final norm and output projection, only for rows that want logits.
    s.want.clear();
    s.want.extend((0..n).filter(|&r| rows[r].logits));
    let want = &s.want;
    if want.is_empty() {
        logits.clear();
        return;
    }
    resize(&mut s.last, want.len() * d);
    for (i, &r) in want.iter().enumerate() {
        ops::rms_norm_into(
            &mut s.last[i * d..][..d],
            &s.x[r * d..][..d],
            &w.output_norm,
            cfg.rms_eps,
        );
    }
    let vocab = w.output.rows;
    lin.invalidate();
    match head {
        Some(sel) if w.output.layout == BlockLayout::Rows || sel.in_whole_groups() => {
            // Only the selected rows of the head: the weights are read in place (mapped).
            logits.resize(want.len() * sel.len(), 0.0);
            s.acts
                .quantize_for(w.output.ty, &s.last[..want.len() * d], want.len(), d);
            matmul_rows_parallel(pool, &w.output.view(bytes), &s.acts, sel, logits, sel.len());
            if let Some(set) = adapters {
                let x = &s.last[..want.len() * d];
                lora::apply_output_rows(set, pool, &mut s.lora, x, want.len(), sel.ids(), logits);
            }
        }
        Some(sel) => {
            // An interleaved head (a converted file) and rows that cut its groups: the full
            // product, then the columns.
            let mut full = vec![0.0f32; want.len() * vocab];
            lin.run(&mut s.acts, &w.output, &s.last, want.len(), &mut full);
            if let Some(set) = adapters {
                let x = &s.last[..want.len() * d];
                lora::apply_output(set, pool, &mut s.lora, x, want.len(), &mut full);
            }
            logits.clear();
            for row in full.chunks(vocab) {
                logits.extend(sel.ids().iter().map(|&t| row[t as usize]));
            }
        }
        None => {
            logits.resize(want.len() * vocab, 0.0);
            lin.run(&mut s.acts, &w.output, &s.last, want.len(), logits);
            if let Some(set) = adapters {
                let x = &s.last[..want.len() * d];
                lora::apply_output(set, pool, &mut s.lora, x, want.len(), logits);
            }
        }
    }
    if cfg.logit_scale != 1.0 {
        // as llama.cpp: a multiplication by the reciprocal
        let inv = 1.0 / cfg.logit_scale;
        logits.iter_mut().for_each(|v| *v *= inv);
    }
    if let Some(cap) = cfg.final_logit_softcap {
        crate::kernels::act::softcap(crate::kernels::selected_tier(), logits, cap);
    }
}

/// Splits the (row, head) pairs of the batch into one contiguous piece per thread, of about
/// equal cost (keys attended), in `bounds` (`n_threads + 1` entries). With enough rows the
/// cuts fall between rows, so a thread's rows share every key/value read (GQA and row
/// blocking); otherwise between heads.
fn split_attention(
    cfg: &ModelConfig,
    rows: &[BatchRow],
    ranges: &[(usize, usize)],
    n_threads: usize,
    bounds: &mut Vec<usize>,
) {
    let nh = cfg.n_heads;
    let units = rows.len() * nh;
    bounds.clear();
    bounds.push(0);
    if n_threads > 1 {
        // Cost of a (row, head): its keys plus a fixed overhead.
        let cost = |u: usize| (ranges[u / nh].1 - ranges[u / nh].0 + 16) as u64;
        let by_row = rows.len() >= 4 * n_threads;
        let step = if by_row { nh } else { 1 };
        let total: u64 = (0..units).map(cost).sum();
        let mut acc = 0u64;
        let mut u = 0;
        for i in 1..n_threads {
            let target = total * i as u64 / n_threads as u64;
            while u < units && acc + (0..step).map(|d| cost(u + d)).sum::<u64>() / 2 <= target {
                acc += (0..step).map(|d| cost(u + d)).sum::<u64>();
                u += step;
            }
            bounds.push(u);
        }
    }
    bounds.push(units);
}

/// Hands out the pieces of `att` described by `bounds`, one per call.
struct Pieces<'a> {
    rest: &'a mut [f32],
    bounds: &'a [usize],
    next: usize,
    hd: usize,
}

impl<'a> Pieces<'a> {
    fn take(&mut self) -> Option<(usize, usize, &'a mut [f32])> {
        if self.next + 1 >= self.bounds.len() {
            return None;
        }
        let (u0, u1) = (self.bounds[self.next], self.bounds[self.next + 1]);
        self.next += 1;
        let (piece, rest) = std::mem::take(&mut self.rest).split_at_mut((u1 - u0) * self.hd);
        self.rest = rest;
        Some((u0, u1, piece))
    }
}

/// Scaled dot-product attention of every (row, head), causal and optionally windowed, reading
/// the f16 cache in place. Each thread takes one piece of the (row, head) pairs; within it,
/// runs of consecutive rows of one sequence are attended together per KV head, so the query
/// heads of a group and the rows of a block share each key/value read.
#[allow(clippy::too_many_arguments)]
fn attention(
    cfg: &ModelConfig,
    il: usize,
    kv_layer: usize,
    rows: &[BatchRow],
    ranges: &[(usize, usize)],
    bounds: &[usize],
    q: &[f32],
    caches: &[&mut KvCache],
    seq_len: &[usize],
    att: &mut [f32],
    scratch: &[Mutex<AttnScratch>],
    pool: &ThreadPool,
) {
    let tier = selected_tier();
    let nh = cfg.n_heads;
    let LayerDims {
        q: qd,
        kv: kvd,
        head: hd,
        ..
    } = cfg.dims_of(il);
    let group = nh / cfg.n_kv_heads_of(il);
    let pieces = Mutex::new(Pieces {
        rest: att,
        bounds,
        next: 0,
        hd,
    });
    // work: a multiply-add per query and key element, and per value element
    let keys: usize = ranges.iter().map(|(a, b)| b - a).sum();
    let work = (keys * nh * hd * 2) as u64;
    pool.run_joinable(work, |tid, _| {
        let mut sc = scratch[tid].lock().expect("attention scratch lock");
        loop {
            let next = pieces.lock().expect("attention pieces lock").take();
            let Some((u0, u1, out)) = next else { break };
            let mut r = u0 / nh;
            while r * nh < u1 {
                // Heads of row r in this piece, then the run of following rows with the
                // same heads, sequence and consecutive positions.
                let ha = u0.saturating_sub(r * nh);
                let hb = (u1 - r * nh).min(nh);
                let mut re = r + 1;
                while re < rows.len()
                    && re * nh + hb <= u1
                    && ha == 0
                    && hb == nh
                    && rows[re].seq == rows[r].seq
                    && rows[re].pos == rows[re - 1].pos + 1
                {
                    re += 1;
                }
                let seq = rows[r].seq;
                let (k, v) = caches[seq].layer(kv_layer, seq_len[seq]);
                let mut h = ha;
                while h < hb {
                    let g = h / group;
                    let he = hb.min((g + 1) * group);
                    let qb = QueryBlock {
                        q: &q[r * qd + h * hd..],
                        q_stride: qd,
                        heads: he - h,
                        ranges: &ranges[r..re],
                    };
                    let kv = KvHead {
                        k: &k[g * hd..],
                        v: &v[g * hd..],
                        stride: kvd,
                    };
                    let at = (r * nh + h - u0) * hd;
                    attend(
                        tier,
                        hd,
                        &qb,
                        kv,
                        cfg.attn_logit_softcap,
                        &mut sc,
                        &mut out[at..],
                        qd,
                    );
                    h = he;
                }
                r = re;
            }
        }
    });
}
