//! Hyper-parameters of a transformer, read from GGUF metadata (`{arch}.*` keys).

use super::LoadError;
use crate::gguf::GgufFile;

/// The transformer graphs this crate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Llama-style decoder (SmolLM2/3, Llama 3.x, Qwen2/3, Granite): RMSNorm, SwiGLU, RoPE, with
    /// the family's options (QKV bias, q/k norms, RoPE factors, multipliers; see `Family`).
    Llama,
    /// Gemma 3: pre/post norms, QK norm, GELU, interleaved sliding-window and global layers.
    Gemma3,
    /// Gemma 2: pre/post norms, GELU, attention and final logit soft-caps, sliding window on
    /// every other layer.
    Gemma2,
    /// LFM2: gated short-convolution layers (`shortconv`, see `shortconv.rs`) beside
    /// grouped-query attention layers with q/k norms; SwiGLU feed-forward in every layer.
    Lfm2,
    /// Gemma 4 (dense text model: E2B/E4B): Gemma 3's pre/post norms and GELU, plus
    /// per-layer token embeddings gated into the residual stream after each layer, sliding
    /// layers with their own head size, KV head count and RoPE beside global layers with
    /// partial RoPE, the last layers reading an earlier layer's KV cache, values RMS-normed,
    /// no query scaling, a scalar output scale per layer. MoE variants are refused.
    Gemma4,
    /// Qwen3.5 (dense): Gated DeltaNet layers (linear attention with a recurrent state per
    /// head, see `deltanet.rs`) beside full-attention layers whose query projection also
    /// gives a sigmoid output gate; q/k norms, partial interleaved-multimodal RoPE (for text:
    /// NeoX RoPE on the first `rope_dim` dims), the pre-FFN norm named `post_attention_norm`.
    Qwen35,
}

/// How one `general.architecture` name runs: its graph and the options that differ between
/// the families sharing it (llama.cpp's `src/models/*.cpp` for each name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// `general.architecture`.
    pub name: &'static str,
    /// The forward pass.
    pub arch: Architecture,
    /// How RoPE pairs dimensions (llama.cpp's `llama_model_rope_type`).
    pub rope_style: RopeStyle,
    /// Every layer has q/k RMS norms (`attn_q_norm`/`attn_k_norm`), a missing one is an error.
    pub qk_norm: bool,
    /// Every `n`-th layer (1-based) skips RoPE (SmolLM3: 4).
    pub no_rope_every: Option<usize>,
    /// Reads Granite's embedding/attention/residual/logit multipliers.
    pub granite_scales: bool,
}

/// Every architecture name PocketLM runs: the data behind [`Architecture::from_name`].
pub const FAMILIES: &[Family] = {
    use Architecture::*;
    use RopeStyle::*;
    const fn f(name: &'static str, arch: Architecture, rope_style: RopeStyle) -> Family {
        Family {
            name,
            arch,
            rope_style,
            qk_norm: false,
            no_rope_every: None,
            granite_scales: false,
        }
    }
    &[
        f("llama", Llama, Interleaved),
        f("mistral", Llama, Interleaved),
        f("smollm", Llama, Interleaved),
        f("qwen2", Llama, Halves),
        Family {
            qk_norm: true,
            ..f("qwen3", Llama, Halves)
        },
        f("gemma3", Gemma3, Halves),
        f("gemma2", Gemma2, Halves),
        Family {
            granite_scales: true,
            ..f("granite", Llama, Interleaved)
        },
        Family {
            no_rope_every: Some(4),
            ..f("smollm3", Llama, Interleaved)
        },
        // Phi-3: fused QKV and gate-up, LongRoPE factors (both in the weight loader).
        f("phi3", Llama, Halves),
        // LFM2: a layer with 0 key/value heads (`attention.head_count_kv` is per layer) is a
        // short-convolution layer.
        Family {
            qk_norm: true,
            ..f("lfm2", Lfm2, Halves)
        },
        // Gemma 4: the layer plan (sliding or global, which layers own KV) is in the file.
        Family {
            qk_norm: true,
            ..f("gemma4", Gemma4, Halves)
        },
        // Qwen3.5: which layers are DeltaNet is in the file (`attention.recurrent_layers`,
        // else every layer but each `full_attention_interval`-th).
        Family {
            qk_norm: true,
            ..f("qwen35", Qwen35, Halves)
        },
    ]
};

/// The supported architecture names, for error messages.
pub fn supported_architecture_names() -> String {
    FAMILIES
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Architecture {
    /// The family of a `general.architecture` name, if PocketLM runs it.
    pub fn family(name: &str) -> Option<&'static Family> {
        FAMILIES.iter().find(|f| f.name == name)
    }

    /// Maps `general.architecture` to the graph that runs it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::family(name).map(|f| f.arch)
    }

    /// The graph's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Gemma3 => "gemma3",
            Self::Gemma2 => "gemma2",
            Self::Lfm2 => "lfm2",
            Self::Gemma4 => "gemma4",
            Self::Qwen35 => "qwen35",
        }
    }
}

/// How rotary position embeddings pair up dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs (x0, x1), (x2, x3)... (llama.cpp's "norm"; GGUF llama files are permuted for it).
    Interleaved,
    /// First half with second half (x0, x_{d/2})... (llama.cpp's "neox"; Gemma, Qwen).
    Halves,
}

/// Hyper-parameters of a loaded model, read from its GGUF metadata.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// The forward pass this model runs.
    pub arch: Architecture,
    /// `general.architecture` as written in the file (e.g. "qwen2" runs as [`Architecture::Llama`]).
    pub arch_name: String,
    /// Transformer blocks.
    pub n_layers: usize,
    /// Embedding (hidden) width.
    pub n_embd: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (fewer than `n_heads` with grouped-query attention).
    pub n_kv_heads: usize,
    /// Dimensions per attention head.
    pub head_dim: usize,
    /// Feed-forward width.
    pub n_ff: usize,
    /// Tokens in the vocabulary (rows of the output head).
    pub vocab_size: usize,
    /// Context length the model was trained with.
    pub train_ctx: usize,
    /// Epsilon of the RMS norms.
    pub rms_eps: f32,
    /// How RoPE pairs dimensions.
    pub rope_style: RopeStyle,
    /// Dimensions of each head that RoPE rotates.
    pub rope_dim: usize,
    /// RoPE frequency base (`rope_theta`) of global layers.
    pub rope_base: f32,
    /// RoPE base of sliding-window layers (Gemma 3 uses 10k locally, 1M globally).
    pub rope_base_local: f32,
    /// Linear RoPE scaling factor (1.0 = none).
    pub rope_scale: f32,
    /// Multiplier applied to queries before attention.
    pub attn_scale: f32,
    /// Multiplier applied to token embeddings (Gemma: sqrt(n_embd)).
    pub embd_scale: f32,
    /// Sliding window size for local layers, if any.
    pub sliding_window: Option<usize>,
    /// Every `n`-th layer is global; the others use the sliding window.
    pub sliding_pattern: usize,
    /// Gemma-style soft cap of the final logits (`cap * tanh(x / cap)`), if any.
    pub final_logit_softcap: Option<f32>,
    /// The same soft cap on attention scores, if any.
    pub attn_logit_softcap: Option<f32>,
    /// Every layer has q/k RMS norms (Qwen3, Gemma 3).
    pub qk_norm: bool,
    /// Every `n`-th layer (1-based) has no RoPE (SmolLM3).
    pub no_rope_every: Option<usize>,
    /// Multiplier of each residual branch (attention and feed-forward outputs) before it is
    /// added (Granite; 1.0 elsewhere).
    pub residual_scale: f32,
    /// The logits are divided by this (Granite's `logits_scaling`; 1.0 elsewhere).
    pub logit_scale: f32,
    /// The context the model was pretrained with before RoPE scaling
    /// (`rope.scaling.original_context_length`): LongRoPE uses its long factors beyond it.
    pub rope_orig_ctx: Option<usize>,
    /// Multiplier of RoPE's sin and cos (`rope.scaling.attn_factor`, LongRoPE's attention
    /// scaling; 1.0 elsewhere).
    pub rope_attn_factor: f32,
    /// Per layer: whether it is a short-convolution layer (LFM2) instead of attention.
    pub conv_layers: Vec<bool>,
    /// Taps of each short convolution (`shortconv.l_cache`: the current input and the
    /// `conv_kernel - 1` before it); 0 without convolution layers.
    pub conv_kernel: usize,
    /// Per layer: whether it is a sliding-window layer, when the file lists it
    /// (`attention.sliding_window_pattern`, Gemma 4); empty: `sliding_pattern` decides.
    pub local_layers: Vec<bool>,
    /// Sliding layers' head size (Gemma 4's `attention.key_length_swa`; `head_dim` elsewhere).
    pub head_dim_local: usize,
    /// Sliding layers' key/value heads (`n_kv_heads` elsewhere).
    pub n_kv_heads_local: usize,
    /// Sliding layers' rotated dimensions (`rope.dimension_count_swa`; `rope_dim` elsewhere).
    pub rope_dim_local: usize,
    /// Per layer: its feed-forward width (Gemma 4's double-wide shared layers); all
    /// `n_ff` elsewhere. `n_ff` is the widest.
    pub ff_layers: Vec<usize>,
    /// Layers `0..kv_layers` compute and cache their own keys and values; each later one
    /// reads the cache of layer [`ModelConfig::kv_source`] (Gemma 4's `shared_kv_layers`).
    pub kv_layers: usize,
    /// Values per layer of the per-layer token embeddings (`embedding_length_per_layer_input`);
    /// 0 without them.
    pub n_embd_per_layer: usize,
    /// Values are RMS-normalized (without weights) before they are cached (Gemma 4).
    pub v_norm: bool,
    /// Per layer: whether it is a Gated DeltaNet layer (Qwen3.5) instead of attention.
    pub recurrent_layers: Vec<bool>,
    /// The DeltaNet layers' shape (`None` without them).
    pub delta_net: Option<DeltaNetDims>,
    /// The attention layers' query projection gives each head's query then its output gate
    /// (Qwen3.5): `attn_q` is twice the query width.
    pub attn_output_gate: bool,
    /// Per rotated pair: whether it stays unrotated (an interleaved-multimodal RoPE pair of
    /// the fourth section, whose position is 0 for text; Qwen3.5's sections leave none).
    pub rope_still_pairs: Vec<bool>,
}

/// The shape of Qwen3.5's Gated DeltaNet layers (llama.cpp's `ssm.*` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaNetDims {
    /// Taps of the causal convolution over q/k/v (`ssm.conv_kernel`).
    pub conv_kernel: usize,
    /// Size of a key head and of a value head (`ssm.state_size`).
    pub head_dim: usize,
    /// Key (and query) heads (`ssm.group_count`).
    pub k_heads: usize,
    /// Value heads, each with its own state, decay and beta (`ssm.time_step_rank`); value
    /// head `h` reads key head `h % k_heads` (llama.cpp's converter orders them so).
    pub v_heads: usize,
}

impl DeltaNetDims {
    /// Width of the queries (and of the keys).
    pub fn key_dim(&self) -> usize {
        self.k_heads * self.head_dim
    }
    /// Width of the values (and of the output).
    pub fn value_dim(&self) -> usize {
        self.v_heads * self.head_dim
    }
    /// Channels of the convolution: queries, keys, values.
    pub fn channels(&self) -> usize {
        2 * self.key_dim() + self.value_dim()
    }
    /// Floats of the convolution's state: the last `conv_kernel - 1` inputs.
    pub fn conv_state_len(&self) -> usize {
        (self.conv_kernel - 1) * self.channels()
    }
    /// Floats of one layer's whole recurrent state: the convolution's inputs, then per value
    /// head a `head_dim × head_dim` matrix.
    pub fn state_len(&self) -> usize {
        self.conv_state_len() + self.v_heads * self.head_dim * self.head_dim
    }

    /// Reads and checks the `ssm.*` keys (each required, as llama.cpp requires them).
    fn read(file: &GgufFile, arch_name: &str) -> Result<Self, LoadError> {
        let key = |k: &str| format!("{arch_name}.{k}");
        let get = |k: &str, min: usize, max: usize| -> Result<usize, LoadError> {
            in_range(&key(k), file.get_u64(&key(k))?, min, max)
        };
        let d = Self {
            conv_kernel: get("ssm.conv_kernel", 2, limits::MAX_CONV_KERNEL)?,
            head_dim: get("ssm.state_size", 1, limits::MAX_HEAD_DIM)?,
            k_heads: get("ssm.group_count", 1, limits::MAX_HEADS)?,
            v_heads: get("ssm.time_step_rank", 1, limits::MAX_HEADS)?,
        };
        let inner = get("ssm.inner_size", 1, limits::MAX_ATTN_WIDTH)?;
        if inner != d.value_dim() {
            return Err(LoadError::BadHyperParameter {
                key: key("ssm.inner_size"),
                reason: format!(
                    "{inner} is not ssm.time_step_rank × ssm.state_size = {} (PocketLM's \
                     DeltaNet, as llama.cpp's, has value heads as wide as key heads)",
                    d.value_dim()
                ),
            });
        }
        if !d.v_heads.is_multiple_of(d.k_heads) {
            return Err(LoadError::BadHyperParameter {
                key: key("ssm.time_step_rank"),
                reason: format!(
                    "{} value heads cannot share {} key heads",
                    d.v_heads, d.k_heads
                ),
            });
        }
        if d.channels() > limits::MAX_ATTN_WIDTH
            || d.v_heads * d.head_dim * d.head_dim > limits::MAX_RECURRENT_STATE
        {
            return Err(LoadError::BadHyperParameter {
                key: key("ssm.state_size"),
                reason: format!(
                    "{} value heads of {} exceed the recurrent state limit",
                    d.v_heads, d.head_dim
                ),
            });
        }
        Ok(d)
    }
}

/// Qwen3.5's layer plan: which layers are DeltaNet (`attention.recurrent_layers`, else all but
/// every `full_attention_interval`-th, llama.cpp's default interval being 4), of the first
/// `n_layers` (the trunk: multi-token-prediction layers after it are not run).
fn recurrent_plan(
    file: &GgufFile,
    arch_name: &str,
    n_layers_all: usize,
    n_layers: usize,
) -> Result<Vec<bool>, LoadError> {
    use crate::gguf::{ElemType, MetaValue};
    let key = |k: &str| format!("{arch_name}.{k}");
    let plan_key = key("attention.recurrent_layers");
    match file.get(&plan_key) {
        Some(MetaValue::Array(a)) if a.elem_type() == ElemType::Bool => {
            let v: Vec<bool> = file
                .array_items(a)
                .map(|item| matches!(item, MetaValue::Bool(true)))
                .collect();
            if v.len() != n_layers_all {
                return Err(LoadError::BadHyperParameter {
                    key: plan_key,
                    reason: format!("{} entries for {n_layers_all} layers", v.len()),
                });
            }
            Ok(v[..n_layers].to_vec())
        }
        Some(other) => Err(LoadError::BadHyperParameter {
            key: plan_key,
            reason: format!(
                "{}, not an array of booleans (one per layer)",
                other.type_name()
            ),
        }),
        None => {
            let interval = file.opt_u64(&key("full_attention_interval"))?.unwrap_or(4);
            if interval == 0 {
                return Err(LoadError::BadHyperParameter {
                    key: key("full_attention_interval"),
                    reason: "0: every interval-th layer is an attention layer, so it must be at \
                             least 1"
                        .into(),
                });
            }
            Ok((0..n_layers)
                .map(|i| !(i as u64 + 1).is_multiple_of(interval))
                .collect())
        }
    }
}

/// Qwen3.5's `rope.dimension_sections` (up to 4 entries): for text every position of the first
/// three sections is the token's and of the fourth 0. Returns, per rotated pair of `rope_dim`,
/// whether it is in the fourth section (unrotated), with ggml's interleaved assignment.
fn imrope_still_pairs(
    file: &GgufFile,
    arch_name: &str,
    rope_dim: usize,
) -> Result<Vec<bool>, LoadError> {
    let k = format!("{arch_name}.rope.dimension_sections");
    let bad = |reason: String| LoadError::BadHyperParameter {
        key: k.clone(),
        reason,
    };
    // Up to 4 entries, the missing ones 0; one number for all 4 (llama.cpp's get_key_or_arr).
    let n = match file.get(&k) {
        None => return Err(crate::gguf::GgufError::MissingKey(k.clone()).into()),
        Some(crate::gguf::MetaValue::Array(a)) if a.len() > 4 => {
            return Err(bad(format!("{} entries (at most 4)", a.len())))
        }
        Some(crate::gguf::MetaValue::Array(a)) => a.len(),
        Some(_) => 4,
    };
    let v: Vec<i64> = per_layer_ints(file, &k, n)?
        .unwrap_or_default()
        .into_iter()
        .chain([0; 4])
        .take(4)
        .collect();
    if let Some(x) = v
        .iter()
        .find(|&&x| !(0..=limits::MAX_HEAD_DIM as i64).contains(&x))
    {
        return Err(bad(format!(
            "{x} is out of range (0 to {})",
            limits::MAX_HEAD_DIM
        )));
    }
    let s: Vec<usize> = v.iter().map(|&x| x as usize).collect();
    let total: usize = s.iter().sum();
    if total == 0 {
        return Err(bad("every section is empty".into()));
    }
    Ok((0..rope_dim / 2)
        .map(|i| {
            let sector = i % total;
            let text = (sector.is_multiple_of(3) && sector < 3 * s[0])
                || (sector % 3 == 1 && sector < 3 * s[1])
                || (sector % 3 == 2 && sector < 3 * s[2]);
            !text
        })
        .collect())
}

/// Upper bounds of the hyper-parameters, far above every model this SDK targets (the largest
/// real values: 128 layers, 16384 embedding, 128 heads, head size 256, 256k vocabulary, 128k
/// context) and low enough that every derived size (q/kv widths, scratch buffers, the KV cache
/// per position) is a small allocation computed without overflow. A file outside them is
/// corrupt or hostile; loading it fails instead of the first evaluation.
pub mod limits {
    pub const MAX_LAYERS: usize = 1024;
    pub const MAX_EMBD: usize = 1 << 16;
    pub const MAX_HEADS: usize = 1024;
    pub const MAX_HEAD_DIM: usize = 1024;
    /// Query width (`head_count * key_length`) and key/value width.
    pub const MAX_ATTN_WIDTH: usize = 1 << 17;
    pub const MAX_FF: usize = 1 << 20;
    pub const MAX_CONTEXT: usize = 1 << 24;
    pub const MAX_VOCAB: usize = 1 << 22;
    /// RoPE bases and scales beyond this are not numbers a model was trained with.
    pub const MAX_ROPE_BASE: f32 = 1e12;
    pub const MAX_ROPE_SCALE: f32 = 1e6;
    /// Taps of a short convolution (LFM2: 3, Qwen3.5: 4).
    pub const MAX_CONV_KERNEL: usize = 64;
    /// Floats of one DeltaNet layer's state matrices (Qwen3.5: 16 heads × 128 × 128 = 2^18).
    pub const MAX_RECURRENT_STATE: usize = 1 << 24;
}

/// `v`, the value of metadata key `key`, as a `usize` in `min..=max` (the one range check every
/// hyper-parameter goes through, so every out-of-range value gets the same error).
fn in_range(key: &str, v: u64, min: usize, max: usize) -> Result<usize, LoadError> {
    usize::try_from(v)
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| LoadError::BadHyperParameter {
            key: key.to_owned(),
            reason: format!("{v} is out of range ({min} to {max})"),
        })
}

/// A key that is one integer for every layer or an array of one per layer (`None` when the
/// file lacks it). Signed entries stay signed, so a negative one is reported as out of range.
fn per_layer_ints(
    file: &GgufFile,
    key: &str,
    n_layers: usize,
) -> Result<Option<Vec<i64>>, LoadError> {
    use crate::gguf::{ElemType, MetaValue};
    let bad = |reason: String| LoadError::BadHyperParameter {
        key: key.to_owned(),
        reason,
    };
    let wide = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    let v: Vec<i64> = match file.get(key) {
        None => return Ok(None),
        Some(MetaValue::Array(a)) => match a.elem_type() {
            ElemType::U32
            | ElemType::I32
            | ElemType::U64
            | ElemType::I64
            | ElemType::U16
            | ElemType::U8 => file
                .array_items(a)
                .map(|x| match x {
                    MetaValue::U8(x) => x.into(),
                    MetaValue::U16(x) => x.into(),
                    MetaValue::U32(x) => x.into(),
                    MetaValue::I32(x) => x.into(),
                    MetaValue::U64(x) => wide(x),
                    MetaValue::I64(x) => x,
                    _ => 0,
                })
                .collect(),
            _ => {
                return Err(bad(format!(
                    "an array of {}, not of integers",
                    a.type_name()
                )))
            }
        },
        Some(_) => vec![wide(file.get_u64(key)?); n_layers],
    };
    if v.len() != n_layers {
        return Err(bad(format!("{} entries for {n_layers} layers", v.len())));
    }
    Ok(Some(v))
}

/// A per-layer `head_count_kv` array (LFM2): the one key/value head count of its attention
/// layers, and which layers have none (short convolutions). A single number applies to every
/// layer (all attention).
fn per_layer_kv_heads(
    file: &GgufFile,
    key: &str,
    n_layers: usize,
) -> Result<(usize, Vec<bool>), LoadError> {
    let bad = |reason: String| LoadError::BadHyperParameter {
        key: key.to_owned(),
        reason,
    };
    let counts = per_layer_ints(file, key, n_layers)?
        .ok_or_else(|| bad("missing (LFM2 files list it per layer)".into()))?;
    let mut kv = None;
    for &c in counts.iter().filter(|&&c| c != 0) {
        if !(0..=limits::MAX_HEADS as i64).contains(&c) {
            return Err(bad(format!(
                "{c} is out of range (0 to {})",
                limits::MAX_HEADS
            )));
        }
        match kv {
            Some(k) if k != c => {
                return Err(bad(format!(
                    "attention layers with {k} and {c} key/value heads (one count is supported)"
                )))
            }
            _ => kv = Some(c),
        }
    }
    let kv = kv.ok_or_else(|| bad("no attention layer (every entry is 0)".into()))?;
    Ok((kv as usize, counts.iter().map(|&c| c == 0).collect()))
}

/// A required key that is one unsigned integer for every layer or an array of one per layer.
fn per_layer_u64(file: &GgufFile, key: &str, n_layers: usize) -> Result<Vec<u64>, LoadError> {
    per_layer_ints(file, key, n_layers)?
        .ok_or_else(|| crate::gguf::GgufError::MissingKey(key.to_owned()))?
        .into_iter()
        .map(|x| {
            u64::try_from(x).map_err(|_| LoadError::BadHyperParameter {
                key: key.to_owned(),
                reason: format!("{x} is negative"),
            })
        })
        .collect()
}

/// Gemma 4's per-layer plan: which layers slide, the sliding layers' attention shape, the
/// layers that own KV and the per-layer feed-forward widths.
struct Gemma4Plan {
    local: Vec<bool>,
    head_dim_local: usize,
    n_kv_heads: usize,
    n_kv_heads_local: usize,
    rope_dim_local: usize,
    rope_base_local: f32,
    ff_layers: Vec<usize>,
    kv_layers: usize,
    n_embd_per_layer: usize,
}

impl Gemma4Plan {
    fn read(
        file: &GgufFile,
        arch_name: &str,
        n_layers: usize,
        head_dim: usize,
    ) -> Result<Self, LoadError> {
        use crate::gguf::{ElemType, MetaValue};
        let key = |k: &str| format!("{arch_name}.{k}");
        let bad = |k: &str, reason: String| LoadError::BadHyperParameter {
            key: key(k),
            reason,
        };
        if let Some(n) = file.opt_u64(&key("expert_count"))?.filter(|&n| n > 0) {
            return Err(bad(
                "expert_count",
                format!("{n} experts: Gemma 4's mixture-of-experts models are not supported (the dense E2B/E4B are)"),
            ));
        }
        let pattern_key = key("attention.sliding_window_pattern");
        let local: Vec<bool> = match file.get(&pattern_key) {
            None => return Err(crate::gguf::GgufError::MissingKey(pattern_key).into()),
            Some(MetaValue::Array(a)) if a.elem_type() == ElemType::Bool => file
                .array_items(a)
                .map(|v| matches!(v, MetaValue::Bool(true)))
                .collect(),
            Some(other) => {
                return Err(bad(
                    "attention.sliding_window_pattern",
                    format!(
                        "{}, not an array of booleans (one per layer)",
                        other.type_name()
                    ),
                ))
            }
        };
        if local.len() != n_layers {
            return Err(bad(
                "attention.sliding_window_pattern",
                format!("{} entries for {n_layers} layers", local.len()),
            ));
        }
        let small = |k: &str, v: u64, max: usize| in_range(&key(k), v, 1, max);
        let head_dim_local = match file.opt_u64(&key("attention.key_length_swa"))? {
            Some(v) => small("attention.key_length_swa", v, limits::MAX_HEAD_DIM)?,
            None => head_dim,
        };
        if let Some(v) = file.opt_u64(&key("attention.value_length_swa"))? {
            if v != head_dim_local as u64 {
                return Err(bad(
                    "attention.value_length_swa",
                    format!("{v} differs from the key length {head_dim_local}"),
                ));
            }
        }
        // Without the key: the whole head, as Gemma 4's sliding layers rotate (llama.cpp would
        // take the global count, which does not fit a smaller head).
        let rope_dim_local = match file.opt_u64(&key("rope.dimension_count_swa"))? {
            Some(v) => usize::try_from(v).unwrap_or(usize::MAX),
            None => head_dim_local,
        };
        if rope_dim_local > head_dim_local || !rope_dim_local.is_multiple_of(2) {
            return Err(bad(
                "rope.dimension_count_swa",
                format!("{rope_dim_local} does not fit head size {head_dim_local}"),
            ));
        }
        // llama.cpp's default base of sliding layers
        let rope_base_local = file
            .opt_f32(&key("rope.freq_base_swa"))?
            .unwrap_or(10_000.0);
        if !(rope_base_local.is_finite()
            && rope_base_local > 0.0
            && rope_base_local <= limits::MAX_ROPE_BASE)
        {
            return Err(bad(
                "rope.freq_base_swa",
                format!("{rope_base_local} is not a RoPE base"),
            ));
        }
        // One KV head count per layer type.
        let kv_key = "attention.head_count_kv";
        let kv = per_layer_u64(file, &key(kv_key), n_layers)?;
        let mut counts: [Option<u64>; 2] = [None, None];
        for (il, &c) in kv.iter().enumerate() {
            let slot = &mut counts[local[il] as usize];
            if c == 0 || c > limits::MAX_HEADS as u64 || slot.is_some_and(|s| s != c) {
                return Err(bad(
                    kv_key,
                    format!(
                        "layer {il} has {c} key/value heads: each layer type needs one count \
                         from 1 to {}",
                        limits::MAX_HEADS
                    ),
                ));
            }
            *slot = Some(c);
        }
        let n_kv_heads = counts[0].or(counts[1]).unwrap_or(1) as usize;
        let n_kv_heads_local = counts[1].unwrap_or(n_kv_heads as u64) as usize;
        let ff_layers = per_layer_u64(file, &key("feed_forward_length"), n_layers)?
            .into_iter()
            .map(|f| small("feed_forward_length", f, limits::MAX_FF))
            .collect::<Result<Vec<_>, _>>()?;
        let shared = file
            .opt_u64(&key("attention.shared_kv_layers"))?
            .unwrap_or(0);
        let kv_layers = (n_layers as u64)
            .checked_sub(shared)
            .map(|k| k as usize)
            .ok_or_else(|| {
                bad(
                    "attention.shared_kv_layers",
                    format!("{shared} shared layers of {n_layers}"),
                )
            })?;
        // llama.cpp hands a shared sliding layer the cache of layer kv_layers - 2, a shared
        // global one that of kv_layers - 1: those must be of the matching types.
        if kv_layers < n_layers && (kv_layers < 2 || !local[kv_layers - 2] || local[kv_layers - 1])
        {
            return Err(bad(
                "attention.shared_kv_layers",
                format!(
                    "{shared} shared layers: the last two layers with their own KV cache must be \
                     a sliding one then a global one"
                ),
            ));
        }
        let per_layer_key = key("embedding_length_per_layer_input");
        let n_embd_per_layer = usize::try_from(file.get_u64(&per_layer_key)?)
            .ok()
            .filter(|&v| v <= limits::MAX_EMBD)
            .ok_or_else(|| bad("embedding_length_per_layer_input", "out of range".into()))?;
        Ok(Self {
            local,
            head_dim_local,
            n_kv_heads,
            n_kv_heads_local,
            rope_dim_local,
            rope_base_local,
            ff_layers,
            kv_layers,
            n_embd_per_layer,
        })
    }
}

impl ModelConfig {
    /// Reads and validates the hyper-parameters from a GGUF file's metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Self, LoadError> {
        let arch_name = file.get_str("general.architecture")?.to_owned();
        let family = Architecture::family(&arch_name)
            .ok_or_else(|| LoadError::UnsupportedArchitecture(arch_name.clone()))?;
        let arch = family.arch;
        let key = |k: &str| format!("{arch_name}.{k}");
        let range = |k: &str, v: u64, min: usize, max: usize| in_range(&key(k), v, min, max);
        let req = |k: &str, max: usize| -> Result<usize, LoadError> {
            range(k, file.get_u64(&key(k))?, 1, max)
        };
        let opt = |k: &str, min: usize, max: usize| -> Result<Option<usize>, LoadError> {
            file.opt_u64(&key(k))?
                .map(|v| range(k, v, min, max))
                .transpose()
        };
        let mut n_layers = req("block_count", limits::MAX_LAYERS)?;
        let n_layers_all = n_layers;
        if arch == Architecture::Qwen35 {
            // Multi-token-prediction layers follow the trunk; only the trunk is run.
            let nextn = opt("nextn_predict_layers", 0, limits::MAX_LAYERS)?.unwrap_or(0);
            n_layers = n_layers
                .checked_sub(nextn)
                .filter(|&n| n > 0)
                .ok_or_else(|| LoadError::BadHyperParameter {
                    key: key("nextn_predict_layers"),
                    reason: format!("{nextn} of {n_layers} layers leaves no trunk"),
                })?;
        }
        let n_embd = req("embedding_length", limits::MAX_EMBD)?;
        let n_heads = req("attention.head_count", limits::MAX_HEADS)?;
        // LFM2 writes head_count_kv per layer, 0 marking a short-convolution layer.
        let (n_kv_heads, conv_layers) = if arch == Architecture::Lfm2 {
            per_layer_kv_heads(file, &key("attention.head_count_kv"), n_layers)?
        } else if arch == Architecture::Gemma4 {
            // per layer type, read with the rest of the plan below
            (1, vec![false; n_layers])
        } else {
            let kv = opt("attention.head_count_kv", 1, limits::MAX_HEADS)?.unwrap_or(n_heads);
            (kv, vec![false; n_layers])
        };
        let conv_kernel = if conv_layers.contains(&true) {
            let k = req("shortconv.l_cache", limits::MAX_CONV_KERNEL)?;
            if k < 2 {
                return Err(LoadError::BadHyperParameter {
                    key: key("shortconv.l_cache"),
                    reason: format!("{k}: a short convolution needs at least 2 taps"),
                });
            }
            k
        } else {
            0
        };
        let n_ff = if arch == Architecture::Gemma4 {
            0 // per layer, below
        } else {
            req("feed_forward_length", limits::MAX_FF)?
        };
        let head_dim = match opt("attention.key_length", 1, limits::MAX_HEAD_DIM)? {
            Some(v) => v,
            None => range(
                "attention.key_length",
                (n_embd / n_heads) as u64,
                1,
                limits::MAX_HEAD_DIM,
            )?,
        };
        if let Some(v) = opt("attention.value_length", 1, limits::MAX_HEAD_DIM)? {
            if v != head_dim {
                return Err(LoadError::BadHyperParameter {
                    key: key("attention.value_length"),
                    reason: format!(
                        "{v} differs from the key length {head_dim} (not supported: PocketLM's \
                         attention uses one head size for keys and values)"
                    ),
                });
            }
        }
        let train_ctx = req("context_length", limits::MAX_CONTEXT)?;
        let rms_eps = file.get_f32(&key("attention.layer_norm_rms_epsilon"))?;
        let rope_dim = opt("rope.dimension_count", 0, limits::MAX_HEAD_DIM)?.unwrap_or(head_dim);
        let rope_base = file.opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0);
        let rope_scale = match file.opt_str(&key("rope.scaling.type"))? {
            None | Some("none") => 1.0,
            Some("linear") => file.opt_f32(&key("rope.scaling.factor"))?.unwrap_or(1.0),
            Some(other) => {
                return Err(LoadError::BadHyperParameter {
                    key: key("rope.scaling.type"),
                    reason: format!("RoPE scaling {other:?} is not supported (none, linear are)"),
                })
            }
        };
        // 0 means none in a llama-graph file (Phi-3.5/Phi-4 files write it so); the Gemma
        // graphs slide on some layers, where a window of 0 would hide every key.
        let sliding_window = match opt("attention.sliding_window", 0, usize::MAX)? {
            Some(0) if arch != Architecture::Llama => {
                return Err(LoadError::BadHyperParameter {
                    key: key("attention.sliding_window"),
                    reason: "must be at least 1 for a model with sliding-window layers".into(),
                })
            }
            Some(0) => None,
            Some(w) if arch == Architecture::Lfm2 => {
                return Err(LoadError::BadHyperParameter {
                    key: key("attention.sliding_window"),
                    reason: format!(
                        "{w}: LFM2 with sliding-window attention layers is not supported yet \
                         (LFM2 350M/700M/1.2B/2.6B attend globally)"
                    ),
                })
            }
            w => w,
        };
        let mut final_logit_softcap = file.opt_f32(&key("final_logit_softcapping"))?;
        let attn_logit_softcap = file.opt_f32(&key("attn_logit_softcapping"))?;

        let rope_style = family.rope_style;
        let (mut attn_scale, mut embd_scale, rope_base_local, sliding_pattern) = match arch {
            Architecture::Llama | Architecture::Lfm2 | Architecture::Qwen35 => {
                (1.0 / (head_dim as f32).sqrt(), 1.0, rope_base, 1)
            }
            // Gemma 3 scales queries by 1/sqrt(head_dim) (query_pre_attn_scalar), embeddings
            // by sqrt(n_embd), and makes every sixth layer global with a 1M RoPE base.
            Architecture::Gemma3 => (
                1.0 / (head_dim as f32).sqrt(),
                (n_embd as f32).sqrt(),
                10_000.0,
                6,
            ),
            // Gemma 2: the same scales, one RoPE base, every other layer global.
            Architecture::Gemma2 => (
                1.0 / (head_dim as f32).sqrt(),
                (n_embd as f32).sqrt(),
                file.opt_f32(&key("rope.freq_base_swa"))?
                    .unwrap_or(rope_base),
                2,
            ),
            // Gemma 4: no query scaling (q and k are RMS-normed); the layer plan is in the file.
            Architecture::Gemma4 => (1.0, (n_embd as f32).sqrt(), rope_base, 1),
        };
        let plan = if arch == Architecture::Gemma4 {
            if sliding_window.is_none() {
                return Err(
                    crate::gguf::GgufError::MissingKey(key("attention.sliding_window")).into(),
                );
            }
            // llama.cpp's default when the key is absent
            final_logit_softcap = final_logit_softcap.or(Some(30.0));
            Some(Gemma4Plan::read(file, &arch_name, n_layers, head_dim)?)
        } else {
            None
        };
        let (n_kv_heads, n_ff, rope_base_local) = match &plan {
            Some(p) => (
                p.n_kv_heads,
                p.ff_layers.iter().copied().max().unwrap_or(0),
                p.rope_base_local,
            ),
            None => (n_kv_heads, n_ff, rope_base_local),
        };
        // Gemma 2 files may leave the window out: llama.cpp's default is the release's 4096.
        let sliding_window = match (arch, sliding_window) {
            (Architecture::Gemma2, None) => Some(4096),
            (_, w) => w,
        };
        let (mut residual_scale, mut logit_scale) = (1.0, 1.0);
        if family.granite_scales {
            let scale = |k: &str| file.opt_f32(&key(k));
            embd_scale = scale("embedding_scale")?.unwrap_or(embd_scale);
            attn_scale = scale("attention.scale")?.unwrap_or(attn_scale);
            residual_scale = scale("residual_scale")?.unwrap_or(1.0);
            logit_scale = file.get_f32(&key("logit_scale"))?;
        }

        let rope_orig_ctx = opt(
            "rope.scaling.original_context_length",
            1,
            limits::MAX_CONTEXT,
        )?;
        let rope_attn_factor = file
            .opt_f32(&key("rope.scaling.attn_factor"))?
            .unwrap_or(1.0);
        let (recurrent_layers, delta_net, rope_still_pairs) = if arch == Architecture::Qwen35 {
            (
                recurrent_plan(file, &arch_name, n_layers_all, n_layers)?,
                Some(DeltaNetDims::read(file, &arch_name)?),
                imrope_still_pairs(file, &arch_name, rope_dim)?,
            )
        } else {
            (vec![false; n_layers], None, Vec::new())
        };
        let cfg = Self {
            arch,
            arch_name,
            n_layers,
            n_embd,
            n_heads,
            n_kv_heads,
            head_dim,
            n_ff,
            vocab_size: 0,
            train_ctx,
            rms_eps,
            rope_style,
            rope_dim,
            rope_base,
            rope_base_local,
            rope_scale,
            attn_scale,
            embd_scale,
            sliding_window,
            sliding_pattern,
            final_logit_softcap,
            attn_logit_softcap,
            qk_norm: family.qk_norm,
            no_rope_every: family.no_rope_every,
            residual_scale,
            logit_scale,
            rope_orig_ctx,
            rope_attn_factor,
            conv_layers,
            conv_kernel,
            local_layers: plan.as_ref().map_or(Vec::new(), |p| p.local.clone()),
            head_dim_local: plan.as_ref().map_or(head_dim, |p| p.head_dim_local),
            n_kv_heads_local: plan.as_ref().map_or(n_kv_heads, |p| p.n_kv_heads_local),
            rope_dim_local: plan.as_ref().map_or(rope_dim, |p| p.rope_dim_local),
            ff_layers: plan
                .as_ref()
                .map_or_else(|| vec![n_ff; n_layers], |p| p.ff_layers.clone()),
            kv_layers: plan.as_ref().map_or(n_layers, |p| p.kv_layers),
            n_embd_per_layer: plan.as_ref().map_or(0, |p| p.n_embd_per_layer),
            v_norm: arch == Architecture::Gemma4,
            recurrent_layers,
            delta_net,
            attn_output_gate: arch == Architecture::Qwen35,
            rope_still_pairs,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the hyper-parameters against each other (each one is in range already).
    fn validate(&self) -> Result<(), LoadError> {
        let bad = |key: &str, reason: String| LoadError::BadHyperParameter {
            key: format!("{}.{key}", self.arch_name),
            reason,
        };
        if self.n_kv_heads > self.n_heads || !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(bad(
                "attention.head_count_kv",
                format!(
                    "{} query heads cannot be grouped over {} key/value heads",
                    self.n_heads, self.n_kv_heads
                ),
            ));
        }
        let width = |heads: usize| {
            heads
                .checked_mul(self.head_dim)
                .filter(|&w| w <= limits::MAX_ATTN_WIDTH)
        };
        if width(self.n_heads).is_none() || width(self.n_kv_heads).is_none() {
            return Err(bad(
                "attention.key_length",
                format!(
                    "{} heads of size {} exceed the attention width limit {}",
                    self.n_heads,
                    self.head_dim,
                    limits::MAX_ATTN_WIDTH
                ),
            ));
        }
        // Gemma 4's sliding layers and per-layer inputs (the global shape is checked above).
        if self.n_kv_heads_local > self.n_heads
            || !self.n_heads.is_multiple_of(self.n_kv_heads_local)
        {
            return Err(bad(
                "attention.head_count_kv",
                format!(
                    "{} query heads cannot be grouped over {} key/value heads",
                    self.n_heads, self.n_kv_heads_local
                ),
            ));
        }
        let local_width = self.n_heads.checked_mul(self.head_dim_local);
        if local_width.is_none_or(|w| w > limits::MAX_ATTN_WIDTH)
            || self.n_embd_per_layer.saturating_mul(self.n_layers) > limits::MAX_ATTN_WIDTH
        {
            return Err(bad(
                "attention.key_length_swa",
                "the sliding layers' or per-layer inputs' width exceeds the limit".into(),
            ));
        }
        if self.rope_dim > self.head_dim || !self.rope_dim.is_multiple_of(2) {
            return Err(bad(
                "rope.dimension_count",
                format!("{} does not fit head size {}", self.rope_dim, self.head_dim),
            ));
        }
        if !(self.rms_eps > 0.0 && self.rms_eps < 1.0) {
            return Err(bad(
                "attention.layer_norm_rms_epsilon",
                format!("{} is not a small positive number", self.rms_eps),
            ));
        }
        let positive = |key: &str, v: f32, max: f32| {
            if v.is_finite() && v > 0.0 && v <= max {
                Ok(())
            } else {
                Err(bad(key, format!("{v} is not a number in (0, {max}]")))
            }
        };
        positive("rope.freq_base", self.rope_base, limits::MAX_ROPE_BASE)?;
        positive(
            "rope.scaling.factor",
            self.rope_scale,
            limits::MAX_ROPE_SCALE,
        )?;
        positive("residual_scale", self.residual_scale, 1e6)?;
        positive("rope.scaling.attn_factor", self.rope_attn_factor, 1e6)?;
        positive("logit_scale", self.logit_scale, 1e6)?;
        positive("attention.scale", self.attn_scale, 1e6)?;
        positive("embedding_scale", self.embd_scale, 1e6)?;
        if let Some(cap) = self.final_logit_softcap {
            positive("final_logit_softcapping", cap, f32::MAX)?;
        }
        if let Some(cap) = self.attn_logit_softcap {
            positive("attn_logit_softcapping", cap, f32::MAX)?;
        }
        Ok(())
    }

    /// Whether layer `il` attends only within the sliding window.
    pub fn is_local_layer(&self, il: usize) -> bool {
        if !self.local_layers.is_empty() {
            return self.local_layers[il];
        }
        self.sliding_window.is_some()
            && self.sliding_pattern > 1
            && !(il + 1).is_multiple_of(self.sliding_pattern)
    }

    /// Whether layer `il` is a short-convolution layer (LFM2), not attention.
    pub fn is_conv_layer(&self, il: usize) -> bool {
        self.conv_layers.get(il).copied().unwrap_or(false)
    }

    /// Whether layer `il` is a Gated DeltaNet layer (Qwen3.5), not attention.
    pub fn is_recurrent_layer(&self, il: usize) -> bool {
        self.recurrent_layers.get(il).copied().unwrap_or(false)
    }

    /// Whether layer `il` keeps one recurrent state for the whole history instead of keys and
    /// values per position: a DeltaNet layer (Qwen3.5) or a short convolution (LFM2).
    pub fn keeps_state(&self, il: usize) -> bool {
        self.is_recurrent_layer(il) || self.is_conv_layer(il)
    }

    /// How many layers keep a recurrent state ([`Self::keeps_state`]).
    pub fn state_layers(&self) -> usize {
        (0..self.n_layers)
            .filter(|&il| self.keeps_state(il))
            .count()
    }

    /// Floats of the recurrent state of each layer that keeps one ([`Self::keeps_state`]): a
    /// DeltaNet layer's convolution inputs and matrices, a short convolution's last
    /// `conv_kernel - 1` inputs (`n_embd` each); 0 without such layers.
    pub fn recurrent_state_len(&self) -> usize {
        match self.delta_net {
            Some(d) if self.recurrent_layers.contains(&true) => d.state_len(),
            _ if self.conv_layers.contains(&true) => (self.conv_kernel - 1) * self.n_embd,
            _ => 0,
        }
    }

    /// Whether layer `il` rotates queries and keys.
    pub fn has_rope(&self, il: usize) -> bool {
        self.no_rope_every
            .is_none_or(|n| !(il + 1).is_multiple_of(n))
    }

    /// Head size of layer `il` (sliding layers may differ: Gemma 4).
    pub fn head_dim_of(&self, il: usize) -> usize {
        if self.is_local_layer(il) {
            self.head_dim_local
        } else {
            self.head_dim
        }
    }

    /// Key/value heads of layer `il`.
    pub fn n_kv_heads_of(&self, il: usize) -> usize {
        if self.is_local_layer(il) {
            self.n_kv_heads_local
        } else {
            self.n_kv_heads
        }
    }

    /// Width of the query heads of layer `il`.
    pub fn q_dim_of(&self, il: usize) -> usize {
        self.n_heads * self.head_dim_of(il)
    }

    /// Width of the key (or value) heads of layer `il`.
    pub fn kv_dim_of(&self, il: usize) -> usize {
        self.n_kv_heads_of(il) * self.head_dim_of(il)
    }

    /// Feed-forward width of layer `il`.
    pub fn n_ff_of(&self, il: usize) -> usize {
        self.ff_layers.get(il).copied().unwrap_or(self.n_ff)
    }

    /// The widths of layer `il` that may differ between layers (Gemma 4's sliding and global
    /// layers, its double-wide shared layers): what the loader and the forward pass size by.
    pub(crate) fn dims_of(&self, il: usize) -> LayerDims {
        LayerDims {
            q: self.q_dim_of(il),
            kv: self.kv_dim_of(il),
            ff: self.n_ff_of(il),
            head: self.head_dim_of(il),
        }
    }

    /// Whether layer `il` computes and caches its own keys and values (a Gemma 4 layer past
    /// `kv_layers` reads another layer's cache instead).
    pub fn owns_kv(&self, il: usize) -> bool {
        il < self.kv_layers
    }

    /// Width of the key (or value) rows layer `il` caches: 0 for a layer that reads another
    /// layer's cache or keeps a recurrent state instead.
    pub fn cached_kv_dim_of(&self, il: usize) -> usize {
        if self.owns_kv(il) && !self.keeps_state(il) {
            self.kv_dim_of(il)
        } else {
            0
        }
    }

    /// The layer whose KV cache layer `il` attends to: itself, or for a layer past
    /// `kv_layers` the last layer of its type that has its own (llama.cpp's rule: `kv_layers - 2`
    /// for a sliding layer, `kv_layers - 1` for a global one, checked at load).
    pub fn kv_source(&self, il: usize) -> usize {
        if self.owns_kv(il) {
            il
        } else if self.is_local_layer(il) {
            self.kv_layers - 2
        } else {
            self.kv_layers - 1
        }
    }

    /// Whether every layer caches keys and values of one width (what session snapshots hold).
    pub fn uniform_kv(&self) -> bool {
        self.kv_layers == self.n_layers
            && (0..self.n_layers).all(|il| self.kv_dim_of(il) == self.kv_dim())
    }

    /// The widest head over the layers.
    pub fn max_head_dim(&self) -> usize {
        self.head_dim.max(self.head_dim_local)
    }
    /// The widest query width over the layers.
    pub fn max_q_dim(&self) -> usize {
        self.n_heads * self.max_head_dim()
    }
    /// The widest key/value width over the layers.
    pub fn max_kv_dim(&self) -> usize {
        self.kv_dim()
            .max(self.n_kv_heads_local * self.head_dim_local)
    }

    /// Width of all query heads together.
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }

    /// Width of all key (or value) heads together.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}

/// One layer's widths ([`ModelConfig::dims_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayerDims {
    /// Query width (heads × head width).
    pub q: usize,
    /// Key (or value) width.
    pub kv: usize,
    /// Feed-forward width.
    pub ff: usize,
    /// Head width.
    pub head: usize,
}
