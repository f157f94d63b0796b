//! The model's tensors, located in the mapped file. Matrices stay in the map (zero copy); only
//! the small norm and bias vectors are converted to owned f32.

use super::config::{Architecture, LayerDims, ModelConfig};
use super::LoadError;
use crate::gguf::{GgufFile, TensorInfo};
use crate::kernels::QMatrix;
use crate::quant::{self, BlockLayout, GgmlType};
use std::ops::Range;

/// A weight matrix inside the mapped file: `rows` outputs of `cols` inputs each.
#[derive(Debug, Clone)]
pub struct MatRef {
    pub ty: GgmlType,
    pub bytes: Range<usize>,
    pub rows: usize,
    pub cols: usize,
    /// Block order in the file (`pocketlm convert` interleaves groups of 8 rows).
    pub layout: BlockLayout,
}

impl MatRef {
    /// Rows `start..start + n` as a matrix of their own (a fused tensor's parts: Phi-3's
    /// QKV and gate/up). Rows are contiguous in the file in both layouts; an interleaved
    /// matrix can only be cut between its groups of 8 rows.
    fn rows(&self, start: usize, n: usize) -> Option<MatRef> {
        let row_bytes = self.ty.bytes_for(self.cols as u64)? as usize;
        let group = match self.layout {
            BlockLayout::Rows => 1,
            BlockLayout::Interleaved8 => crate::quant::interleave::GROUP_ROWS,
        };
        if !start.is_multiple_of(group) || !n.is_multiple_of(group) || start + n > self.rows {
            return None;
        }
        let begin = self.bytes.start + start * row_bytes;
        Some(MatRef {
            bytes: begin..begin + n * row_bytes,
            rows: n,
            ..self.clone()
        })
    }

    /// The borrowed matrix, given the file's bytes.
    pub fn view<'a>(&self, file_bytes: &'a [u8]) -> QMatrix<'a> {
        QMatrix {
            ty: self.ty,
            data: &file_bytes[self.bytes.clone()],
            rows: self.rows,
            cols: self.cols,
            layout: self.layout,
        }
    }
}

/// A layer's token mixer: attention, LFM2's gated short convolution or Qwen3.5's Gated
/// DeltaNet.
pub enum Mixer {
    Attention(AttnWeights),
    ShortConv(ShortConvWeights),
    DeltaNet(DeltaNetWeights),
}

pub struct LayerWeights {
    /// The norm before the mixer (attention or convolution).
    pub attn_norm: Vec<f32>,
    pub mixer: Mixer,
    /// Gemma: norm of the attention output before the residual add.
    pub post_attn_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub w_gate: MatRef,
    pub w_up: MatRef,
    pub w_down: MatRef,
    /// Gemma: norm of the feed-forward output before the residual add.
    pub post_ffn_norm: Option<Vec<f32>>,
    /// Gemma 4: the per-layer input's gate, projection and post-norm.
    pub per_layer: Option<PerLayerGate>,
    /// Gemma 4: the scalar the layer's output (the whole residual stream) is multiplied by.
    pub out_scale: Option<f32>,
}

/// Gemma 4's per-layer input inside one layer: `x += post_norm(proj · (gelu(inp_gate · x) *
/// this layer's input))`.
pub struct PerLayerGate {
    /// `n_embd` → `n_embd_per_layer`.
    pub inp_gate: MatRef,
    /// `n_embd_per_layer` → `n_embd`.
    pub proj: MatRef,
    pub post_norm: Vec<f32>,
}

/// Gemma 4's per-layer token embeddings and the projection of the input embedding that is
/// added to them: each token's `n_layers * n_embd_per_layer` inputs.
pub struct PerLayerInputs {
    /// `vocab` rows of `n_layers * n_embd_per_layer`: the large table. It stays in the
    /// mapped file; a token's row is read (dequantized) when the token is evaluated.
    pub token_embd: MatRef,
    /// `n_embd` → `n_layers * n_embd_per_layer`.
    pub model_proj: MatRef,
    /// RMS norm weights of each layer's projected part (`n_embd_per_layer`).
    pub proj_norm: Vec<f32>,
}

impl LayerWeights {
    /// The attention weights, unless this is a convolution layer.
    pub fn attn(&self) -> Option<&AttnWeights> {
        match &self.mixer {
            Mixer::Attention(a) => Some(a),
            Mixer::ShortConv(_) | Mixer::DeltaNet(_) => None,
        }
    }

    /// The layer's first matrix (its type names the layer's quantization).
    pub fn first_matrix(&self) -> &MatRef {
        match &self.mixer {
            Mixer::Attention(a) => &a.wq,
            Mixer::ShortConv(c) => &c.in_proj,
            Mixer::DeltaNet(n) => &n.qkv,
        }
    }

    /// Every matrix of the layer.
    pub fn matrices(&self) -> Vec<&MatRef> {
        let mut m = match &self.mixer {
            Mixer::Attention(a) => [Some(&a.wq), a.wk.as_ref(), a.wv.as_ref(), Some(&a.wo)]
                .into_iter()
                .flatten()
                .collect(),
            Mixer::ShortConv(c) => vec![&c.in_proj, &c.out_proj],
            Mixer::DeltaNet(n) => vec![&n.qkv, &n.gate, &n.alpha, &n.beta, &n.out],
        };
        m.extend([&self.w_gate, &self.w_up, &self.w_down]);
        if let Some(p) = &self.per_layer {
            m.extend([&p.inp_gate, &p.proj]);
        }
        m
    }

    /// The owned vectors of the layer (norms, biases, convolution taps).
    fn vectors(&self) -> Vec<&[f32]> {
        let mut v: Vec<&[f32]> = vec![&self.attn_norm, &self.ffn_norm];
        match &self.mixer {
            Mixer::Attention(a) => {
                v.extend(
                    [&a.bq, &a.bk, &a.bv, &a.q_norm, &a.k_norm]
                        .into_iter()
                        .flatten()
                        .map(Vec::as_slice),
                );
            }
            Mixer::ShortConv(c) => v.push(&c.conv),
            Mixer::DeltaNet(n) => v.extend([&n.conv, &n.dt_bias, &n.a, &n.norm].map(Vec::as_slice)),
        }
        v.extend(
            [&self.post_attn_norm, &self.post_ffn_norm]
                .into_iter()
                .flatten()
                .map(Vec::as_slice),
        );
        if let Some(p) = &self.per_layer {
            v.push(&p.post_norm);
        }
        v
    }
}

pub struct AttnWeights {
    /// The query projection; with `q_gate`, each head's query then its output gate.
    pub wq: MatRef,
    /// Qwen3.5: `wq` also gives a sigmoid gate per query value, applied to the attention
    /// output before `wo`.
    pub q_gate: bool,
    /// `None` in a layer that reads another layer's KV cache (Gemma 4's shared layers).
    pub wk: Option<MatRef>,
    /// `None`: the values are the keys' projection (Gemma 4 without `attn_v`), or a shared layer.
    pub wv: Option<MatRef>,
    pub wo: MatRef,
    pub bq: Option<Vec<f32>>,
    pub bk: Option<Vec<f32>>,
    pub bv: Option<Vec<f32>>,
    /// Gemma: RMSNorm of each query/key head.
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
}

/// LFM2's gated short convolution (llama.cpp's `shortconv` tensors).
pub struct ShortConvWeights {
    /// `n_embd` → `3 n_embd`: the gate B, the output gate C and the input x, in that order.
    pub in_proj: MatRef,
    /// The convolution taps, `conv_kernel` per channel (oldest input first), as f32.
    pub conv: Vec<f32>,
    pub out_proj: MatRef,
}

/// Qwen3.5's Gated DeltaNet (llama.cpp's `attn_qkv`, `attn_gate` and `ssm_*` tensors); see
/// `deltanet.rs` for what each does.
pub struct DeltaNetWeights {
    /// `n_embd` → the convolution's channels: queries, keys, values.
    pub qkv: MatRef,
    /// `n_embd` → `value_dim`: z, the gate of the output norm.
    pub gate: MatRef,
    /// The convolution taps, `conv_kernel` per channel (oldest input first), as f32.
    pub conv: Vec<f32>,
    /// Per value head: the bias of alpha (`ssm_dt.bias`) and the decay rate (`ssm_a`, -exp(A_log)).
    pub dt_bias: Vec<f32>,
    pub a: Vec<f32>,
    /// `n_embd` → value heads: beta (the update's strength) and alpha (the decay's input).
    pub beta: MatRef,
    pub alpha: MatRef,
    /// The output's RMS norm weights, one head wide.
    pub norm: Vec<f32>,
    /// `value_dim` → `n_embd`.
    pub out: MatRef,
}

pub struct Weights {
    /// Token embedding table, `vocab` rows of `n_embd`.
    pub token_embd: MatRef,
    pub output_norm: Vec<f32>,
    /// Output projection; the embedding table when the model ties them.
    pub output: MatRef,
    pub layers: Vec<LayerWeights>,
    /// RoPE frequency divisors, one per rotated pair (Llama 3.x's `rope_freqs`, written by
    /// llama.cpp's converter from the llama3 `rope_scaling`).
    pub rope_freqs: Option<Vec<f32>>,
    /// LongRoPE's factors for sessions within the original context (`rope_factors_short`)
    /// and beyond it (`rope_factors_long`).
    pub rope_short: Option<Vec<f32>>,
    pub rope_long: Option<Vec<f32>>,
    /// Gemma 4's per-layer token embeddings (file-backed) and their projection.
    pub per_layer: Option<PerLayerInputs>,
}

impl Weights {
    /// The RoPE frequency divisors for a session of `context` positions, if the model has any.
    pub fn rope_factors(&self, cfg: &ModelConfig, context: usize) -> Option<&[f32]> {
        let long = cfg.rope_orig_ctx.is_some_and(|orig| context > orig);
        self.rope_freqs
            .as_deref()
            .or(if long {
                self.rope_long.as_deref()
            } else {
                self.rope_short.as_deref()
            })
            .or(self.rope_short.as_deref())
    }
}

/// Types the kernels can multiply.
/// Weight matrix types the kernels multiply (those with an activation partner type).
pub(crate) const SUPPORTED_MATRIX_TYPES: [GgmlType; 15] = {
    use GgmlType::*;
    [
        F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS,
    ]
};

fn is_supported_matrix_type(ty: GgmlType) -> bool {
    SUPPORTED_MATRIX_TYPES.contains(&ty)
}

/// The names of [`SUPPORTED_MATRIX_TYPES`], for error messages.
pub(crate) fn supported_matrix_type_names() -> String {
    SUPPORTED_MATRIX_TYPES.map(GgmlType::name).join(", ")
}

struct Loader<'a> {
    file: &'a GgufFile,
}

impl Loader<'_> {
    fn info(&self, name: &str) -> Result<&TensorInfo, LoadError> {
        self.file
            .tensor_info(name)
            .ok_or_else(|| LoadError::MissingTensor(name.to_owned()))
    }

    fn shape_error(name: &str, expected: String, info: &TensorInfo) -> LoadError {
        LoadError::BadTensor {
            name: name.to_owned(),
            reason: format!("expected shape {expected}, found {:?}", info.dims),
        }
    }

    fn matrix(&self, name: &str, cols: usize, rows: usize) -> Result<MatRef, LoadError> {
        let info = self.info(name)?;
        if info.dims.len() != 2 || info.dims[0] != cols as u64 || info.dims[1] != rows as u64 {
            return Err(Self::shape_error(name, format!("[{cols}, {rows}]"), info));
        }
        if !is_supported_matrix_type(info.ty) {
            return Err(LoadError::UnsupportedTensorType {
                name: name.to_owned(),
                ty: info.ty.name().to_owned(),
            });
        }
        Ok(MatRef {
            ty: info.ty,
            bytes: self.file.byte_range(info),
            rows,
            cols,
            layout: info.layout,
        })
    }

    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>, LoadError> {
        let info = self.info(name)?;
        if info.n_elements() != len as u64 {
            return Err(Self::shape_error(name, format!("[{len}]"), info));
        }
        let mut out = vec![0f32; len];
        let data = &self.file.bytes()[self.file.byte_range(info)];
        quant::dequantize_row(info.ty, data, &mut out).map_err(|e| LoadError::BadTensor {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(out)
    }

    /// A small 2-D tensor (`cols` per row) read whole as f32 (LFM2's convolution taps).
    fn matrix_f32(&self, name: &str, cols: usize, rows: usize) -> Result<Vec<f32>, LoadError> {
        let info = self.info(name)?;
        if info.dims.len() != 2 || info.dims[0] != cols as u64 || info.dims[1] != rows as u64 {
            return Err(Self::shape_error(name, format!("[{cols}, {rows}]"), info));
        }
        if !matches!(info.ty, GgmlType::F32 | GgmlType::F16) {
            return Err(LoadError::UnsupportedTensorType {
                name: name.to_owned(),
                ty: info.ty.name().to_owned(),
            });
        }
        self.vector(name, cols * rows)
    }

    fn opt_vector(&self, name: &str, len: usize) -> Result<Option<Vec<f32>>, LoadError> {
        match self.file.tensor_info(name) {
            None => Ok(None),
            Some(_) => self.vector(name, len).map(Some),
        }
    }
}

impl Weights {
    /// Locates every tensor the architecture needs and checks its shape.
    /// Returns the vocabulary size (rows of the embedding table).
    pub fn locate(file: &GgufFile, cfg: &ModelConfig) -> Result<(Self, usize), LoadError> {
        let l = Loader { file };
        let embd_info = l.info("token_embd.weight")?;
        if embd_info.dims.len() != 2 || embd_info.dims[0] != cfg.n_embd as u64 {
            return Err(Loader::shape_error(
                "token_embd.weight",
                format!("[{}, vocab]", cfg.n_embd),
                embd_info,
            ));
        }
        let vocab = usize::try_from(embd_info.dims[1])
            .ok()
            .filter(|v| (1..=super::config::limits::MAX_VOCAB).contains(v))
            .ok_or_else(|| LoadError::BadTensor {
                name: "token_embd.weight".into(),
                reason: format!(
                    "{} rows (vocabulary size) is out of range (1 to {})",
                    embd_info.dims[1],
                    super::config::limits::MAX_VOCAB
                ),
            })?;
        let token_embd = l.matrix("token_embd.weight", cfg.n_embd, vocab)?;
        let output = match file.tensor_info("output.weight") {
            Some(_) => l.matrix("output.weight", cfg.n_embd, vocab)?,
            None => token_embd.clone(),
        };
        // LFM2's converter stores the final norm as `token_embd_norm` (llama.cpp's
        // LLM_TENSOR_OUTPUT_NORM_LFM2).
        let output_norm_name = match cfg.arch {
            Architecture::Lfm2 => "token_embd_norm.weight",
            _ => "output_norm.weight",
        };
        let output_norm = l.vector(output_norm_name, cfg.n_embd)?;
        let d = cfg.n_embd;
        let gemma4 = cfg.arch == Architecture::Gemma4;
        let gemma = matches!(
            cfg.arch,
            Architecture::Gemma3 | Architecture::Gemma2 | Architecture::Gemma4
        );
        let qk_norm = cfg.qk_norm || cfg.arch == Architecture::Gemma3;
        // Llama 3's `rope_freqs`; else LongRoPE's (Phi-3.5, Phi-4-mini) factors for the
        // session's context: the long ones beyond the original context (as llama.cpp picks).
        let factors = |name: &str| -> Result<Option<Vec<f32>>, LoadError> {
            let f = l.opt_vector(name, cfg.rope_dim / 2)?;
            if let Some(bad) = f.iter().flatten().find(|v| !(v.is_finite() && **v > 0.0)) {
                return Err(LoadError::BadTensor {
                    name: name.into(),
                    reason: format!("frequency factor {bad} is not a positive number"),
                });
            }
            Ok(f)
        };
        // Qwen3.5 reads no `rope_freqs`: its unrotated pairs (a fourth RoPE section) become
        // factors of 1e30 (an angle of ~0, as Gemma 4's converter writes them).
        let rope_freqs = if cfg.arch == Architecture::Qwen35 {
            cfg.rope_still_pairs.contains(&true).then(|| {
                cfg.rope_still_pairs
                    .iter()
                    .map(|&still| if still { 1e30 } else { 1.0 })
                    .collect()
            })
        } else {
            factors("rope_freqs.weight")?
        };
        let rope_short = factors("rope_factors_short.weight")?;
        let rope_long = factors("rope_factors_long.weight")?;
        let mut layers = Vec::with_capacity(cfg.n_layers);
        let n_pl = cfg.n_embd_per_layer;
        let per_layer = if gemma4 && n_pl > 0 {
            let width = n_pl * cfg.n_layers;
            Some(PerLayerInputs {
                token_embd: l.matrix("per_layer_token_embd.weight", width, vocab)?,
                model_proj: l.matrix("per_layer_model_proj.weight", d, width)?,
                proj_norm: l.vector("per_layer_proj_norm.weight", n_pl)?,
            })
        } else {
            None
        };
        for i in 0..cfg.n_layers {
            let LayerDims {
                q,
                kv,
                ff,
                head: hd,
            } = cfg.dims_of(i);
            let owns_kv = cfg.owns_kv(i);
            let n = |s: &str| format!("blk.{i}.{s}");
            let required = |name: &str, len| -> Result<Option<Vec<f32>>, LoadError> {
                if gemma {
                    l.vector(name, len).map(Some)
                } else {
                    l.opt_vector(name, len)
                }
            };
            let qk = |name: &str, len| -> Result<Option<Vec<f32>>, LoadError> {
                if qk_norm {
                    l.vector(name, len).map(Some)
                } else {
                    l.opt_vector(name, len)
                }
            };
            let split = |name: &str, w: &MatRef, at: usize, len: usize| {
                w.rows(at, len).ok_or_else(|| LoadError::BadTensor {
                    name: name.to_owned(),
                    reason: format!(
                        "the fused tensor cannot be split at row {at} (converted with groups \
                         of 8 rows)"
                    ),
                })
            };
            let mixer = if let Some(dn) = cfg.delta_net.filter(|_| cfg.is_recurrent_layer(i)) {
                let (vh, vd) = (dn.v_heads, dn.value_dim());
                Mixer::DeltaNet(DeltaNetWeights {
                    qkv: l.matrix(&n("attn_qkv.weight"), d, dn.channels())?,
                    gate: l.matrix(&n("attn_gate.weight"), d, vd)?,
                    conv: l.matrix_f32(&n("ssm_conv1d.weight"), dn.conv_kernel, dn.channels())?,
                    dt_bias: l.vector(&n("ssm_dt.bias"), vh)?,
                    a: l.vector(&n("ssm_a"), vh)?,
                    beta: l.matrix(&n("ssm_beta.weight"), d, vh)?,
                    alpha: l.matrix(&n("ssm_alpha.weight"), d, vh)?,
                    norm: l.vector(&n("ssm_norm.weight"), dn.head_dim)?,
                    out: l.matrix(&n("ssm_out.weight"), vd, d)?,
                })
            } else if cfg.is_conv_layer(i) {
                Mixer::ShortConv(ShortConvWeights {
                    in_proj: l.matrix(&n("shortconv.in_proj.weight"), d, 3 * d)?,
                    conv: l.matrix_f32(&n("shortconv.conv.weight"), cfg.conv_kernel, d)?,
                    out_proj: l.matrix(&n("shortconv.out_proj.weight"), d, d)?,
                })
            } else {
                // Phi-3 fuses q/k/v into one matrix (q rows, then k, then v).
                let qkv_name = n("attn_qkv.weight");
                let (wq, wk, wv) = if file.tensor_info(&qkv_name).is_some() && owns_kv {
                    let qkv = l.matrix(&qkv_name, d, q + 2 * kv)?;
                    (
                        split(&qkv_name, &qkv, 0, q)?,
                        Some(split(&qkv_name, &qkv, q, kv)?),
                        Some(split(&qkv_name, &qkv, q + kv, kv)?),
                    )
                } else if !owns_kv {
                    // a shared layer: its k/v (if the file has them) are never used
                    (l.matrix(&n("attn_q.weight"), d, q)?, None, None)
                } else if cfg.attn_output_gate {
                    (
                        l.matrix(&n("attn_q.weight"), d, 2 * q)?,
                        Some(l.matrix(&n("attn_k.weight"), d, kv)?),
                        Some(l.matrix(&n("attn_v.weight"), d, kv)?),
                    )
                } else {
                    let v_name = n("attn_v.weight");
                    (
                        l.matrix(&n("attn_q.weight"), d, q)?,
                        Some(l.matrix(&n("attn_k.weight"), d, kv)?),
                        // Gemma 4 may leave out v_proj: the values are then the keys'
                        // projection.
                        if gemma4 && file.tensor_info(&v_name).is_none() {
                            None
                        } else {
                            Some(l.matrix(&v_name, d, kv)?)
                        },
                    )
                };
                Mixer::Attention(AttnWeights {
                    wq,
                    q_gate: cfg.attn_output_gate,
                    wk,
                    wv,
                    wo: l.matrix(&n("attn_output.weight"), q, d)?,
                    bq: l.opt_vector(&n("attn_q.bias"), q)?,
                    bk: if owns_kv {
                        l.opt_vector(&n("attn_k.bias"), kv)?
                    } else {
                        None
                    },
                    bv: if owns_kv {
                        l.opt_vector(&n("attn_v.bias"), kv)?
                    } else {
                        None
                    },
                    q_norm: qk(&n("attn_q_norm.weight"), hd)?,
                    k_norm: if owns_kv {
                        qk(&n("attn_k_norm.weight"), hd)?
                    } else {
                        None
                    },
                })
            };
            // Phi-3 fuses gate and up into `ffn_up` (gate rows first, as ggml_swiglu splits).
            let up_name = n("ffn_up.weight");
            let (w_gate, w_up) = if file.tensor_info(&n("ffn_gate.weight")).is_none()
                && file
                    .tensor_info(&up_name)
                    .is_some_and(|t| t.dims.get(1) == Some(&(2 * ff as u64)))
            {
                let fused = l.matrix(&up_name, d, 2 * ff)?;
                (
                    split(&up_name, &fused, 0, ff)?,
                    split(&up_name, &fused, ff, ff)?,
                )
            } else {
                (
                    l.matrix(&n("ffn_gate.weight"), d, ff)?,
                    l.matrix(&up_name, d, ff)?,
                )
            };
            // Qwen3.5's norm before the feed-forward is named `post_attention_norm`.
            let (post_attn_norm, ffn_norm) = if cfg.arch == Architecture::Qwen35 {
                (None, l.vector(&n("post_attention_norm.weight"), d)?)
            } else {
                (
                    required(&n("post_attention_norm.weight"), d)?,
                    l.vector(&n("ffn_norm.weight"), d)?,
                )
            };
            layers.push(LayerWeights {
                attn_norm: l.vector(&n("attn_norm.weight"), d)?,
                mixer,
                post_attn_norm,
                ffn_norm,
                w_gate,
                w_up,
                w_down: l.matrix(&n("ffn_down.weight"), ff, d)?,
                post_ffn_norm: required(&n("post_ffw_norm.weight"), d)?,
                per_layer: if per_layer.is_some() {
                    Some(PerLayerGate {
                        inp_gate: l.matrix(&n("inp_gate.weight"), d, n_pl)?,
                        proj: l.matrix(&n("proj.weight"), n_pl, d)?,
                        post_norm: l.vector(&n("post_norm.weight"), d)?,
                    })
                } else {
                    None
                },
                out_scale: match l.opt_vector(&n("layer_output_scale.weight"), 1)? {
                    Some(v) if gemma4 => Some(v[0]),
                    _ => None,
                },
            });
        }
        Ok((
            Self {
                token_embd,
                output_norm,
                output,
                layers,
                rope_freqs,
                rope_short,
                rope_long,
                per_layer,
            },
            vocab,
        ))
    }

    /// Bytes the weights hold outside the file mapping (the norm and bias vectors, as f32).
    pub fn owned_bytes(&self) -> u64 {
        let mut n = self.output_norm.len() as u64;
        if let Some(p) = &self.per_layer {
            n += p.proj_norm.len() as u64;
        }
        for l in &self.layers {
            n += l.vectors().iter().map(|v| v.len() as u64).sum::<u64>();
        }
        n * std::mem::size_of::<f32>() as u64
    }

    /// Parameter count (elements of every located tensor; tied output counted once).
    pub fn n_params(&self) -> u64 {
        let m = |w: &MatRef| (w.rows * w.cols) as u64;
        let mut n = m(&self.token_embd) + self.output_norm.len() as u64;
        if self.output.bytes != self.token_embd.bytes {
            n += m(&self.output);
        }
        if let Some(p) = &self.per_layer {
            n += m(&p.token_embd) + m(&p.model_proj) + p.proj_norm.len() as u64;
        }
        for l in &self.layers {
            n += l.matrices().into_iter().map(m).sum::<u64>();
            n += l.vectors().iter().map(|v| v.len() as u64).sum::<u64>();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loader accepts exactly the types the kernels multiply, and its error lists them.
    #[test]
    fn supported_types_are_the_kernels_types() {
        use GgmlType::*;
        let all = [
            F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
            IQ4_NL, IQ4_XS,
        ];
        for ty in all {
            let multiplied = ty.vec_dot_type().is_some();
            assert_eq!(is_supported_matrix_type(ty), multiplied, "{ty}");
            assert_eq!(
                supported_matrix_type_names()
                    .split(", ")
                    .any(|n| n == ty.name()),
                multiplied,
                "{ty}"
            );
        }
    }
}
