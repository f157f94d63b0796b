//! Hyper-parameters of a transformer, read from GGUF metadata (`{arch}.*` keys).

use super::LoadError;
use crate::gguf::GgufFile;

/// The transformer families this crate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Llama-style decoder (SmolLM2, Llama 3.x, Qwen2 with QKV bias): RMSNorm, SwiGLU, RoPE.
    Llama,
    /// Gemma 3: pre/post norms, QK norm, GELU, interleaved sliding-window and global layers.
    Gemma3,
}

impl Architecture {
    /// Maps `general.architecture`; `qwen2` shares the llama graph (with QKV bias).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "llama" | "qwen2" | "mistral" | "smollm" => Some(Self::Llama),
            "gemma3" => Some(Self::Gemma3),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Gemma3 => "gemma3",
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

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub arch: Architecture,
    /// `general.architecture` as written in the file (e.g. "qwen2" runs as [`Architecture::Llama`]).
    pub arch_name: String,
    pub n_layers: usize,
    pub n_embd: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub n_ff: usize,
    pub vocab_size: usize,
    /// Context length the model was trained with.
    pub train_ctx: usize,
    pub rms_eps: f32,
    pub rope_style: RopeStyle,
    pub rope_dim: usize,
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
    pub final_logit_softcap: Option<f32>,
    pub attn_logit_softcap: Option<f32>,
}

impl ModelConfig {
    pub fn from_gguf(file: &GgufFile) -> Result<Self, LoadError> {
        let arch_name = file.get_str("general.architecture")?.to_owned();
        let arch = Architecture::from_name(&arch_name)
            .ok_or_else(|| LoadError::UnsupportedArchitecture(arch_name.clone()))?;
        let key = |k: &str| format!("{arch_name}.{k}");
        let req = |k: &str| -> Result<usize, LoadError> {
            let v = file.get_u64(&key(k))?;
            usize::try_from(v)
                .ok()
                .filter(|&v| v > 0 && v < (1 << 24))
                .ok_or_else(|| LoadError::BadHyperParameter {
                    key: key(k),
                    reason: format!("{v} is out of range"),
                })
        };
        let n_layers = req("block_count")?;
        let n_embd = req("embedding_length")?;
        let n_heads = req("attention.head_count")?;
        let n_kv_heads = match file.opt_u64(&key("attention.head_count_kv"))? {
            Some(v) => v as usize,
            None => n_heads,
        };
        let n_ff = req("feed_forward_length")?;
        let head_dim = match file.opt_u64(&key("attention.key_length"))? {
            Some(v) => v as usize,
            None => n_embd / n_heads,
        };
        let train_ctx = req("context_length")?;
        let rms_eps = file.get_f32(&key("attention.layer_norm_rms_epsilon"))?;
        let rope_dim = match file.opt_u64(&key("rope.dimension_count"))? {
            Some(v) => v as usize,
            None => head_dim,
        };
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
        let sliding_window = file
            .opt_u64(&key("attention.sliding_window"))?
            .map(|v| v as usize);
        let final_logit_softcap = file.opt_f32(&key("final_logit_softcapping"))?;
        let attn_logit_softcap = file.opt_f32(&key("attn_logit_softcapping"))?;

        let (rope_style, attn_scale, embd_scale, rope_base_local, sliding_pattern) = match arch {
            Architecture::Llama => {
                let style = if arch_name == "qwen2" {
                    RopeStyle::Halves
                } else {
                    RopeStyle::Interleaved
                };
                (style, 1.0 / (head_dim as f32).sqrt(), 1.0, rope_base, 1)
            }
            // Gemma 3 scales queries by 1/sqrt(head_dim) (query_pre_attn_scalar), embeddings
            // by sqrt(n_embd), and makes every sixth layer global with a 1M RoPE base.
            Architecture::Gemma3 => (
                RopeStyle::Halves,
                1.0 / (head_dim as f32).sqrt(),
                (n_embd as f32).sqrt(),
                10_000.0,
                6,
            ),
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
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), LoadError> {
        let bad = |key: &str, reason: String| LoadError::BadHyperParameter {
            key: format!("{}.{key}", self.arch_name),
            reason,
        };
        if self.n_kv_heads == 0 || !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(bad(
                "attention.head_count_kv",
                format!(
                    "{} query heads cannot be grouped over {} key/value heads",
                    self.n_heads, self.n_kv_heads
                ),
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
        Ok(())
    }

    /// Whether layer `il` attends only within the sliding window.
    pub fn is_local_layer(&self, il: usize) -> bool {
        self.sliding_window.is_some()
            && self.sliding_pattern > 1
            && !(il + 1).is_multiple_of(self.sliding_pattern)
    }

    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }

    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}
