//! Small synthetic model files (random weights, a byte-level vocabulary) for tests and fuzzing.
//!
//! A [`SyntheticModel`] is a complete, loadable file of one architecture; tests then overwrite
//! one metadata key or tensor to build the hostile variant they need. The files are a few
//! hundred KB, so loading and evaluating them takes milliseconds.

use super::writer::{GgufWriter, WriteValue};
use crate::quant::blocks::f32_to_f16;
use crate::quant::GgmlType;

/// Which graph the synthetic file declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntheticArch {
    /// `llama` with a byte-level BPE (gpt2) vocabulary.
    Llama,
    /// `gemma3` with a SentencePiece (llama) vocabulary with byte fallback, sliding window on.
    Gemma3,
}

/// Sizes of the synthetic transformer.
pub const EMBD: usize = 64;
/// Feed-forward width.
pub const FF: usize = 128;
/// Transformer blocks.
pub const LAYERS: usize = 2;
/// Attention (query) heads.
pub const HEADS: usize = 4;
/// Key/value heads.
pub const KV_HEADS: usize = 2;
/// Dimensions per head.
pub const HEAD_DIM: usize = EMBD / HEADS;

/// A loadable synthetic model; edit it with [`SyntheticModel::set`] / [`SyntheticModel::tensor`].
#[derive(Debug, Clone)]
pub struct SyntheticModel {
    arch: SyntheticArch,
    metadata: Vec<(String, WriteValue)>,
    tensors: Vec<(String, Vec<u64>, GgmlType, Vec<u8>)>,
    alignment: u64,
}

/// A tiny deterministic generator (xorshift), so the builder needs no sampler.
struct Xs(u64);
impl Xs {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// `n` elements of `ty` with small random values (block scales are sane f16 numbers).
fn random_tensor(ty: GgmlType, n: usize, scale: f32, rng: &mut Xs) -> Vec<u8> {
    match ty {
        GgmlType::F32 => (0..n)
            .flat_map(|_| (rng.unit() * scale).to_le_bytes())
            .collect(),
        GgmlType::F16 => (0..n)
            .flat_map(|_| f32_to_f16(rng.unit() * scale).to_le_bytes())
            .collect(),
        _ => {
            let (bl, bb) = (ty.block_len(), ty.block_bytes());
            let mut out = Vec::with_capacity(n / bl * bb);
            for _ in 0..n / bl {
                let mut block: Vec<u8> = (0..bb).map(|_| rng.next() as u8).collect();
                // The leading f16 scale (and the Q4_1/Q5_1 minimum after it).
                block[..2].copy_from_slice(&f32_to_f16(scale / 8.0).to_le_bytes());
                if matches!(ty, GgmlType::Q4_1 | GgmlType::Q5_1) {
                    block[2..4].copy_from_slice(&f32_to_f16(-scale).to_le_bytes());
                }
                out.extend_from_slice(&block);
            }
            out
        }
    }
}

/// GPT-2's byte-to-character map: printable bytes map to themselves, others above U+0100.
fn byte_chars() -> Vec<char> {
    let keep = |b: u32| (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    let mut extra = 0;
    (0..256u32)
        .map(|b| {
            if keep(b) {
                char::from_u32(b).expect("latin-1")
            } else {
                extra += 1;
                char::from_u32(255 + extra).expect("latin extended")
            }
        })
        .collect()
}

impl SyntheticModel {
    /// A complete model of `arch` whose matrices have type `matrix_type` (F32, F16, or a
    /// 32-element block type; norms are F32).
    pub fn new(arch: SyntheticArch, matrix_type: GgmlType) -> Self {
        let mut m = Self {
            arch,
            metadata: Vec::new(),
            tensors: Vec::new(),
            alignment: 32,
        };
        let a = m.arch_name();
        m.set("general.architecture", WriteValue::Str(a.into()));
        m.set("general.name", WriteValue::Str(format!("synthetic {a}")));
        for (k, v) in [
            ("block_count", LAYERS),
            ("context_length", 256),
            ("embedding_length", EMBD),
            ("feed_forward_length", FF),
            ("attention.head_count", HEADS),
            ("attention.head_count_kv", KV_HEADS),
            ("attention.key_length", HEAD_DIM),
            ("attention.value_length", HEAD_DIM),
            ("rope.dimension_count", HEAD_DIM),
        ] {
            m.set(&format!("{a}.{k}"), WriteValue::U32(v as u32));
        }
        m.set(&format!("{a}.rope.freq_base"), WriteValue::F32(10000.0));
        m.set(
            &format!("{a}.attention.layer_norm_rms_epsilon"),
            WriteValue::F32(1e-6),
        );
        let vocab = match arch {
            SyntheticArch::Llama => m.bpe_vocab(),
            SyntheticArch::Gemma3 => {
                m.set(&format!("{a}.attention.sliding_window"), WriteValue::U32(8));
                m.spm_vocab()
            }
        };
        m.set(
            "tokenizer.chat_template",
            WriteValue::Str(
                "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n\
                 {% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
                    .into(),
            ),
        );
        m.add_weights(vocab, matrix_type);
        m
    }

    fn arch_name(&self) -> &'static str {
        match self.arch {
            SyntheticArch::Llama => "llama",
            SyntheticArch::Gemma3 => "gemma3",
        }
    }

    fn bpe_vocab(&mut self) -> usize {
        let mut tokens: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
            .map(String::from)
            .to_vec();
        tokens.extend(byte_chars().iter().map(|c| c.to_string()));
        tokens.extend(["ĠĠ", "th", "the", "Ġthe"].map(String::from));
        let n = tokens.len();
        let mut types = vec![1i32; n];
        types[..3].fill(3);
        self.set("tokenizer.ggml.model", WriteValue::Str("gpt2".into()));
        self.set("tokenizer.ggml.pre", WriteValue::Str("smollm".into()));
        self.set("tokenizer.ggml.tokens", WriteValue::StrArray(tokens));
        self.set("tokenizer.ggml.token_type", WriteValue::I32Array(types));
        self.set(
            "tokenizer.ggml.merges",
            WriteValue::StrArray(["Ġ Ġ", "t h", "th e", "Ġ the"].map(String::from).to_vec()),
        );
        self.set("tokenizer.ggml.bos_token_id", WriteValue::U32(0));
        self.set("tokenizer.ggml.eos_token_id", WriteValue::U32(2));
        self.set("tokenizer.ggml.add_bos_token", WriteValue::Bool(false));
        n
    }

    fn spm_vocab(&mut self) -> usize {
        let mut tokens: Vec<String> = [
            "<pad>",
            "<eos>",
            "<bos>",
            "<unk>",
            "<start_of_turn>",
            "<end_of_turn>",
            "▁",
            "▁the",
            "the",
            "e",
            "t",
            "h",
        ]
        .map(String::from)
        .to_vec();
        let mut types = vec![3, 3, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1];
        let mut scores = vec![
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, -0.5, -0.8, -2.0, -2.0, -2.0,
        ];
        for b in 0..=255u32 {
            tokens.push(format!("<0x{b:02X}>"));
            types.push(6);
            scores.push(0.0);
        }
        let n = tokens.len();
        self.set("tokenizer.ggml.model", WriteValue::Str("llama".into()));
        self.set("tokenizer.ggml.tokens", WriteValue::StrArray(tokens));
        self.set("tokenizer.ggml.token_type", WriteValue::I32Array(types));
        self.set("tokenizer.ggml.scores", WriteValue::F32Array(scores));
        self.set("tokenizer.ggml.bos_token_id", WriteValue::U32(2));
        self.set("tokenizer.ggml.eos_token_id", WriteValue::U32(1));
        self.set("tokenizer.ggml.unknown_token_id", WriteValue::U32(3));
        self.set("tokenizer.ggml.add_bos_token", WriteValue::Bool(true));
        n
    }

    fn add_weights(&mut self, vocab: usize, ty: GgmlType) {
        let mut rng = Xs(0x9E37_79B9_7F4A_7C15);
        let (d, ff, q, kv) = (EMBD, FF, HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM);
        let gemma = self.arch == SyntheticArch::Gemma3;
        let mut mat = |m: &mut Self, name: &str, cols: usize, rows: usize| {
            let data = random_tensor(ty, cols * rows, 0.5, &mut rng);
            m.tensor(name, &[cols as u64, rows as u64], ty, data);
        };
        let ones = |m: &mut Self, name: &str, n: usize| {
            let data = (0..n).flat_map(|_| 1f32.to_le_bytes()).collect();
            m.tensor(name, &[n as u64], GgmlType::F32, data);
        };
        mat(self, "token_embd.weight", d, vocab);
        ones(self, "output_norm.weight", d);
        for l in 0..LAYERS {
            let n = |s: &str| format!("blk.{l}.{s}");
            ones(self, &n("attn_norm.weight"), d);
            ones(self, &n("ffn_norm.weight"), d);
            mat(self, &n("attn_q.weight"), d, q);
            mat(self, &n("attn_k.weight"), d, kv);
            mat(self, &n("attn_v.weight"), d, kv);
            mat(self, &n("attn_output.weight"), q, d);
            mat(self, &n("ffn_gate.weight"), d, ff);
            mat(self, &n("ffn_up.weight"), d, ff);
            mat(self, &n("ffn_down.weight"), ff, d);
            if gemma {
                ones(self, &n("attn_q_norm.weight"), HEAD_DIM);
                ones(self, &n("attn_k_norm.weight"), HEAD_DIM);
                ones(self, &n("post_attention_norm.weight"), d);
                ones(self, &n("post_ffw_norm.weight"), d);
            }
        }
    }

    /// `{arch}.{suffix}`, e.g. `key("attention.key_length")`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.arch_name())
    }

    /// Sets (replaces or adds) a metadata value.
    pub fn set(&mut self, key: &str, value: WriteValue) -> &mut Self {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.metadata.push((key.to_owned(), value)),
        }
        self
    }

    /// Removes a metadata key.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.metadata.retain(|(k, _)| k != key);
        self
    }

    /// The metadata keys, in file order.
    pub fn keys(&self) -> Vec<String> {
        self.metadata.iter().map(|(k, _)| k.clone()).collect()
    }

    /// The metadata value of `key`, if set.
    pub fn value(&self, key: &str) -> Option<&WriteValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets (replaces or adds) a tensor.
    pub fn tensor(&mut self, name: &str, dims: &[u64], ty: GgmlType, data: Vec<u8>) -> &mut Self {
        let t = (name.to_owned(), dims.to_vec(), ty, data);
        match self.tensors.iter_mut().find(|(n, ..)| n == name) {
            Some(slot) => *slot = t,
            None => self.tensors.push(t),
        }
        self
    }

    /// Writes tensor data with this alignment and declares it in `general.alignment`.
    pub fn with_alignment(&mut self, alignment: u64) -> &mut Self {
        self.alignment = alignment;
        self.set(
            "general.alignment",
            WriteValue::U32(u32::try_from(alignment).unwrap_or(u32::MAX)),
        )
    }

    /// The GGUF file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = GgufWriter::new();
        w.alignment(self.alignment);
        for (k, v) in &self.metadata {
            w.metadata(k, v.clone());
        }
        for (name, dims, ty, data) in &self.tensors {
            w.tensor(name, dims, *ty, data.clone());
        }
        w.to_bytes()
    }
}

/// A LoRA adapter file in llama.cpp's format for a [`SyntheticModel`] (or, with
/// [`SyntheticLora::for_matrices`], for any model): F32 pairs on every attention and
/// feed-forward matrix, random values. Tests and fuzz seeds break one part of it.
#[derive(Debug, Clone)]
pub struct SyntheticLora {
    /// Metadata, in file order.
    pub metadata: Vec<(String, WriteValue)>,
    /// Tensors: name, ggml dims, type, bytes.
    pub tensors: Vec<(String, Vec<u64>, GgmlType, Vec<u8>)>,
}

impl SyntheticLora {
    /// Rank-`rank` pairs on every `blk.N.{attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,
    /// ffn_down}.weight` of `model`, alpha `2 × rank`.
    pub fn new(model: &SyntheticModel, rank: usize) -> Self {
        let arch = match model.arch {
            SyntheticArch::Llama => "llama",
            SyntheticArch::Gemma3 => "gemma3",
        };
        let mats: Vec<(String, u64, u64)> = model
            .tensors
            .iter()
            .filter(|(n, d, ..)| {
                d.len() == 2
                    && n.starts_with("blk.")
                    && [
                        ".attn_q.weight",
                        ".attn_k.weight",
                        ".attn_v.weight",
                        ".attn_output.weight",
                        ".ffn_gate.weight",
                        ".ffn_up.weight",
                        ".ffn_down.weight",
                    ]
                    .iter()
                    .any(|s| n.ends_with(s))
            })
            .map(|(n, d, ..)| (n.clone(), d[0], d[1]))
            .collect();
        Self::for_matrices(arch, &mats, rank)
    }

    /// Pairs for the matrices `(name, cols, rows)` of a model of architecture `arch`.
    pub fn for_matrices(arch: &str, mats: &[(String, u64, u64)], rank: usize) -> Self {
        let mut rng = Xs(0x10_7A);
        let metadata = vec![
            (
                "general.architecture".to_owned(),
                WriteValue::Str(arch.into()),
            ),
            ("general.type".to_owned(), WriteValue::Str("adapter".into())),
            ("adapter.type".to_owned(), WriteValue::Str("lora".into())),
            (
                "adapter.lora.alpha".to_owned(),
                WriteValue::F32(2.0 * rank as f32),
            ),
        ];
        let mut tensors = Vec::new();
        for (name, cols, rows) in mats {
            let r = rank as u64;
            let a = random_tensor(GgmlType::F32, (cols * r) as usize, 0.5, &mut rng);
            let b = random_tensor(GgmlType::F32, (rows * r) as usize, 0.05, &mut rng);
            tensors.push((format!("{name}.lora_a"), vec![*cols, r], GgmlType::F32, a));
            tensors.push((format!("{name}.lora_b"), vec![r, *rows], GgmlType::F32, b));
        }
        Self { metadata, tensors }
    }

    /// The GGUF file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = GgufWriter::new();
        for (k, v) in &self.metadata {
            w.metadata(k, v.clone());
        }
        for (name, dims, ty, data) in &self.tensors {
            w.tensor(name, dims, *ty, data.clone());
        }
        w.to_bytes()
    }
}
