//! LoRA adapters in llama.cpp's GGUF format (`convert_lora_to_gguf.py`): low-rank updates of a
//! loaded model's weight matrices, applied without merging. The base stays mapped and
//! quantized; an adapted product is `W·x + scale·B·(A·x)` with `A` and `B` kept in the file's
//! float type (F32, F16 or BF16) and multiplied by the same kernels as the base.
//!
//! The file: `general.type = "adapter"`, `adapter.type = "lora"`, `general.architecture` the
//! base model's, `adapter.lora.alpha` (optional), and for each adapted matrix `NAME` of the base
//! model (e.g. `blk.3.attn_q.weight`) the pair `NAME.lora_a` (ggml shape `[cols, rank]`) and
//! `NAME.lora_b` (`[rank, rows]`). The scale of a pair is `user_scale · alpha / rank`, or
//! `user_scale` when alpha is 0 or absent (llama.cpp's rule). `*_norm.weight` tensors are
//! ignored, as llama.cpp does.
//!
//! Besides each layer's attention and feed-forward matrices: Phi-3's fused matrices (`attn_qkv`,
//! and `ffn_up` holding gate and up), whose `B` is split by rows among the parts the model
//! splits the matrix into, their `A` shared; the output head (`output.weight`); and the token
//! embeddings (`token_embd.weight`, llama.cpp's convention: `lora_a` `[rank, vocab]` holds one
//! row of `rank` values per token, `lora_b` `[rank, n_embd]`, a token's embedding row gets
//! `scale·B·a[token]` before any embedding scale). On a model whose output head is its token
//! table (tied), a `token_embd` pair changes the embeddings only, as PEFT's embedding LoRA does.

use super::weights::MatRef;
use super::Model;
use crate::gguf::{GgufError, GgufFile, TensorInfo};
#[cfg(doc)]
use crate::kernels::matmul_parallel_many_riding;
use crate::kernels::rank::{
    add_rank_products, add_rank_products_f16, add_rank_products_f16_strided,
    add_rank_products_tokens,
};
use crate::kernels::{
    matmul, matmul_acts, matmul_parallel, prefetch_share, ProductRider, QActs, QMatrix, ThreadPool,
    ACTS_PIECE_ALIGN,
};
use crate::quant::GgmlType;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Why an adapter could not be loaded or attached.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The file is not a readable GGUF file.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// `general.type` is not `"adapter"` (e.g. a model file was given).
    #[error("{path}: general.type is {found:?}, not \"adapter\": not an adapter file")]
    NotAnAdapter {
        /// The file.
        path: PathBuf,
        /// The `general.type` found (empty when absent).
        found: String,
    },
    /// `adapter.type` is not `"lora"`.
    #[error("adapter type {0:?} is not supported (only \"lora\")")]
    UnsupportedAdapterType(String),
    /// The adapter was made for another architecture than the model's.
    #[error("the adapter is for architecture {adapter:?} but the model is {model:?}")]
    ArchitectureMismatch {
        /// The adapter's `general.architecture`.
        adapter: String,
        /// The model's.
        model: String,
    },
    /// `adapter.lora.alpha` is not a finite number.
    #[error("adapter.lora.alpha is {0}, not a finite number")]
    BadAlpha(f32),
    /// A tensor name ends in neither `.lora_a`, `.lora_b` nor `_norm.weight`.
    #[error("tensor {0:?} is not a LoRA tensor (expected NAME.lora_a or NAME.lora_b)")]
    UnexpectedTensor(String),
    /// A `lora_a` without its `lora_b` or the reverse.
    #[error("tensor {name:?} has no {missing:?} partner")]
    MissingPair {
        /// The tensor present.
        name: String,
        /// The one missing.
        missing: String,
    },
    /// The adapted matrix does not exist in the model.
    #[error("tensor {name:?} adapts {target:?}, which the model does not have (adapter made for another model?)")]
    UnknownTarget {
        /// The adapter tensor.
        name: String,
        /// The base matrix it names.
        target: String,
    },
    /// The adapted matrix exists but PocketLM cannot adapt it yet.
    #[error("tensor {name:?} adapts {target:?}, which PocketLM cannot adapt (supported: the attention and feed-forward matrices attn_q/attn_k/attn_v/attn_output/ffn_gate/ffn_up/ffn_down, Phi-3's fused attn_qkv and ffn_up, output and token_embd)")]
    UnsupportedTarget {
        /// The adapter tensor.
        name: String,
        /// The base matrix it names.
        target: String,
    },
    /// A tensor's shape does not fit the matrix it adapts, or its pair.
    #[error("tensor {name:?}: {reason} (adapter made for another model?)")]
    ShapeMismatch {
        /// The adapter tensor.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor is of a type other than F32, F16 or BF16 (or Q8_0 for an `A`).
    #[error("tensor {name:?} has type {ty}; LoRA tensors must be F32, F16 or BF16 (lora_a also Q8_0): convert the adapter with --outtype f16")]
    UnsupportedTensorType {
        /// The adapter tensor.
        name: String,
        /// Its ggml type name.
        ty: String,
    },
    /// A tensor holds a NaN or infinite value.
    #[error("tensor {0:?} holds a NaN or infinite value")]
    NonFinite(String),
    /// The file has no `lora_a`/`lora_b` pair.
    #[error("the adapter adapts no matrix (no NAME.lora_a / NAME.lora_b pair)")]
    Empty,
    /// A user scale that is NaN or infinite.
    #[error("adapter scale {0} is not a finite number")]
    BadScale(f32),
    /// The adapter was loaded for another model than the session's.
    #[error("the adapter {0:?} was loaded for another model than this session's; load it with the session's model")]
    OtherModel(String),
}

/// How an adapter's matrices are held in memory ([`LoraAdapter::load_with`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AdapterPrecision {
    /// In the file's type (F32, F16 or BF16): llama.cpp's products on that file.
    #[default]
    AsFile,
    /// F32 matrices rounded to F16 at load (F16 and BF16 ones kept): half the memory and half
    /// the bytes each decoded token reads for an F32 file (what `convert_lora_to_gguf.py`
    /// writes by default). The products are then llama.cpp's on the same adapter converted with
    /// `--outtype f16`, bit for bit what loading that file gives.
    F16,
    /// Each `A` quantized to Q8_0 at load (where its rows split into 32-value blocks, else
    /// F16), each `B` at F16: what `convert_lora_to_gguf.py --outtype q8_0` writes for an
    /// adapter of rank under 32, and bit for bit what loading that file gives. A rank-16 adapter
    /// on SmolLM2 is 7.5 MB instead of 9.8 (F16) or 19.5 (F32): decode, which reads the
    /// adapter once per token, is the faster for it (docs/adapters.md#speed). Not the file's
    /// products: `A·x` is then an integer product on `x` quantized to Q8_0.
    Q8_0,
}

/// The matrices of a layer an adapter may update, in [`LayerLora`] order.
pub(crate) const SLOTS: [&str; 7] = [
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
];
pub(crate) const Q: usize = 0;
pub(crate) const K: usize = 1;
pub(crate) const V: usize = 2;
pub(crate) const O: usize = 3;
pub(crate) const GATE: usize = 4;
pub(crate) const UP: usize = 5;
pub(crate) const DOWN: usize = 6;

/// A matrix owned by the adapter, in its file type (aligned for the kernels).
#[derive(Debug, Clone)]
enum Data {
    F32(Vec<f32>),
    /// The little-endian 16-bit words of F16 or BF16 values or of Q8_0 blocks (17 each).
    Words(Vec<u16>),
}

#[derive(Debug, Clone)]
struct OwnedMat {
    ty: GgmlType,
    data: Data,
    rows: usize,
    cols: usize,
}

impl OwnedMat {
    /// F32 values rounded to F16 (to nearest, ties to even: numpy's `astype(float16)`, as
    /// `convert_lora_to_gguf.py --outtype f16` rounds); other types unchanged.
    fn into_f16(self) -> Self {
        match self.data {
            Data::F32(v) => OwnedMat {
                ty: GgmlType::F16,
                data: Data::Words(
                    v.iter()
                        .map(|&x| half::f16::from_f32(x).to_bits())
                        .collect(),
                ),
                ..self
            },
            Data::Words(_) => self,
        }
    }

    /// A float matrix whose rows split into 32-value blocks quantized to Q8_0 as
    /// `convert_lora_to_gguf.py --outtype q8_0` quantizes (gguf-py's `Q8_0.quantize_blocks`,
    /// from each value as f32: `d = max|x| / 127`, `q = x · (1/d)` rounded half away from zero,
    /// `d` stored as f16); others at F16 ([`OwnedMat::into_f16`]).
    fn into_q8_0(self) -> Self {
        use crate::quant::blocks::{BlockQ8_0, QK};
        if self.ty == GgmlType::Q8_0 || !self.cols.is_multiple_of(QK) {
            return self.into_f16();
        }
        let mut row = vec![0f32; self.cols];
        let mut blocks: Vec<BlockQ8_0> = Vec::with_capacity(self.rows * self.cols / QK);
        let view = self.view();
        for r in 0..self.rows {
            view.dequantize_row(r, &mut row)
                .expect("a float row of the checked size");
            for xb in row.chunks_exact(QK) {
                let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
                let d = amax / 127.0;
                let id = if d == 0.0 { 0.0 } else { 1.0 / d };
                let mut qs = [0i8; QK];
                for (q, &v) in qs.iter_mut().zip(xb) {
                    // round half away from zero, exactly (gguf-py's `np_roundf`)
                    let (x, a) = (v * id, (v * id).abs());
                    *q = (a.floor() + (2.0 * (a - a.floor())).floor()).copysign(x) as i8;
                }
                blocks.push(BlockQ8_0 {
                    d: half::f16::from_f32(d).to_bits(),
                    qs,
                });
            }
        }
        OwnedMat {
            ty: GgmlType::Q8_0,
            data: Data::Words(bytemuck::cast_slice(&blocks).to_vec()),
            ..self
        }
    }

    fn view(&self) -> QMatrix<'_> {
        let bytes: &[u8] = match &self.data {
            Data::F32(v) => bytemuck::cast_slice(v),
            Data::Words(v) => bytemuck::cast_slice(v),
        };
        QMatrix::new(self.ty, bytes, self.rows, self.cols).expect("shape and type checked at load")
    }

    fn bytes(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len() * 4,
            Data::Words(v) => v.len() * 2,
        }
    }
}

/// `B` transposed: `rank` rows of the matrix's outputs. An F16 `B` stays F16 (exact, and half
/// the bytes each decoded token reads: decode with an adapter is bound by reading it), others
/// are f32.
#[derive(Debug)]
enum BTransposed {
    F32(Vec<f32>),
    F16(Vec<half::f16>),
}

impl BTransposed {
    fn as_bytes(&self) -> &[u8] {
        match self {
            BTransposed::F32(v) => bytemuck::cast_slice(v),
            BTransposed::F16(v) => bytemuck::cast_slice(v),
        }
    }

    fn bytes(&self) -> usize {
        self.as_bytes().len()
    }
}

/// One adapted matrix: `A` (`rank` rows of the matrix's inputs, in its file type, multiplied
/// by the kernels; rows `a_row..a_row + rank` of its layer's stacked `A` number `stack`, see
/// [`StackedA`]) and `B` transposed to `rank` rows of the matrix's outputs (`B·t` is then
/// `rank` contiguous multiply-adds into the output, no reduction: a rank-16 `B` as a matrix
/// product ran at a fraction of the kernels' speed, its rows being 16 long), and
/// `alpha / rank` (1 without alpha).
#[derive(Debug)]
pub(crate) struct LoraPair {
    stack: usize,
    a_row: usize,
    rank: usize,
    bt: BTransposed,
    /// `B`'s type in the file: ggml multiplies an F16 (BF16) `B` by `t` rounded to f16 (bf16).
    b_ty: GgmlType,
    rows: usize,
    factor: f32,
}

/// The matrices of a layer that share their input (the normed hidden state for q/k/v and for
/// gate/up): their `A`s are stacked, and one product reads the input once for all of them.
const GROUPS: [&[usize]; 4] = [&[Q, K, V], &[O], &[GATE, UP], &[DOWN]];

/// The `A` of an adapted matrix at load: its own, or the `A` of another slot of its group (the
/// parts of a fused matrix, e.g. Phi-3's q/k/v, share the fused matrix's `A`).
enum APart {
    Own(OwnedMat),
    SameAs(usize),
}

/// The `A`s of one [`GROUPS`] entry's pairs of one file type, stacked in slot order: one
/// product `A·x` gives every pair's `t` (each row's result is that of the row alone: the
/// kernels' sums do not depend on the rows beside it). Pairs sharing an `A` read the same rows.
#[derive(Debug)]
struct StackedA {
    a: OwnedMat,
    /// The slots whose rows these are, in order.
    slots: Vec<usize>,
}

/// An adapter's pairs for one layer, by slot ([`SLOTS`]), and their stacked `A`s.
#[derive(Debug, Default)]
pub(crate) struct LayerLora {
    pairs: [Option<LoraPair>; 7],
    stacks: Vec<StackedA>,
}

impl LayerLora {
    /// Stacks the `A`s of `pairs` (the pairs' `stack` and `a_row` are set here).
    fn new(pairs: [Option<(APart, LoraPair)>; 7]) -> Self {
        let mut a_of: [Option<OwnedMat>; 7] = Default::default();
        let mut same_as: [Option<usize>; 7] = Default::default();
        let mut layer = LayerLora::default();
        for (slot, p) in pairs.into_iter().enumerate() {
            if let Some((a, pair)) = p {
                match a {
                    APart::Own(a) => a_of[slot] = Some(a),
                    APart::SameAs(s) => same_as[slot] = Some(s),
                }
                layer.pairs[slot] = Some(pair);
            }
        }
        for group in GROUPS {
            // the next type of this group not stacked yet, then every pair of that type
            while let Some(ty) = group.iter().find_map(|&s| a_of[s].as_ref().map(|a| a.ty)) {
                let members: Vec<usize> = group
                    .iter()
                    .copied()
                    .filter(|&s| a_of[s].as_ref().is_some_and(|a| a.ty == ty))
                    .collect();
                let cols = a_of[members[0]].as_ref().map_or(0, |a| a.cols);
                let mut data = match a_of[members[0]].as_ref().map(|a| &a.data) {
                    Some(Data::F32(_)) => Data::F32(Vec::new()),
                    _ => Data::Words(Vec::new()),
                };
                let mut rows = 0;
                for &s in &members {
                    let a = a_of[s].take().expect("a member has its A");
                    assert_eq!(a.cols, cols, "the matrices of a group share their input");
                    match (&mut data, a.data) {
                        (Data::F32(d), Data::F32(v)) => d.extend(v),
                        (Data::Words(d), Data::Words(v)) => d.extend(v),
                        _ => unreachable!("one file type has one storage"),
                    }
                    let p = layer.pairs[s].as_mut().expect("a member is a pair");
                    p.stack = layer.stacks.len();
                    p.a_row = rows;
                    rows += a.rows;
                }
                // the slots reading another member's rows (a fused matrix's other parts)
                let mut slots = members.clone();
                for (slot, src) in same_as.iter().enumerate() {
                    let Some(src) = src.filter(|s| members.contains(s)) else {
                        continue;
                    };
                    let (stack, a_row) = {
                        let p = layer.pairs[src].as_ref().expect("a member is a pair");
                        (p.stack, p.a_row)
                    };
                    let p = layer.pairs[slot]
                        .as_mut()
                        .expect("a sharing slot is a pair");
                    p.stack = stack;
                    p.a_row = a_row;
                    slots.push(slot);
                }
                slots.sort_unstable();
                layer.stacks.push(StackedA {
                    a: OwnedMat {
                        ty,
                        data,
                        rows,
                        cols,
                    },
                    slots,
                });
            }
        }
        layer
    }

    /// Bytes of the stacked `A`s and the `B`s.
    fn bytes(&self) -> usize {
        let a: usize = self.stacks.iter().map(|st| st.a.bytes()).sum();
        let b: usize = self.pairs.iter().flatten().map(|p| p.bt.bytes()).sum();
        a + b
    }
}

/// The token embeddings' pair: `a` holds one row of `rank` values per token (the vocabulary's
/// rows, read for the tokens of a batch), `pair` the `B` of the embedding width.
#[derive(Debug)]
struct EmbdLora {
    a: OwnedMat,
    pair: LoraPair,
}

/// Rows `rows` of `B` (`rank` values each), transposed to `rank` rows of `rows.len()` outputs;
/// an F16 `B` stays F16.
fn transpose_b(b: &OwnedMat, rows: std::ops::Range<usize>) -> BTransposed {
    let (n, rank) = (rows.len(), b.cols);
    let mut bt = vec![0f32; rank * n];
    let mut row = vec![0f32; rank];
    let bv = b.view();
    for (i, o) in rows.enumerate() {
        bv.dequantize_row(o, &mut row)
            .expect("F32/F16/BF16 rows of the checked size");
        for (r, &v) in row.iter().enumerate() {
            bt[r * n + i] = v;
        }
    }
    if b.ty == GgmlType::F16 {
        BTransposed::F16(bt.into_iter().map(half::f16::from_f32).collect())
    } else {
        BTransposed::F32(bt)
    }
}

/// A LoRA adapter loaded for one model: validated against its architecture, matrix names and
/// shapes, and copied into memory (anonymous memory ≈ the adapter's tensor bytes; the file is
/// not kept open). Attach it to sessions of that model with [`crate::Session::set_adapters`];
/// one adapter serves any number of sessions, each with its own scale.
pub struct LoraAdapter {
    name: String,
    alpha: f32,
    layers: Vec<LayerLora>,
    /// The output head's pair (slot 0).
    output: Option<LayerLora>,
    embd: Option<EmbdLora>,
    n_pairs: usize,
    max_rank: usize,
    bytes: usize,
    model: Weak<Model>,
}

impl std::fmt::Debug for LoraAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoraAdapter")
            .field("name", &self.name)
            .field("alpha", &self.alpha)
            .field("matrices", &self.n_pairs)
            .field("max_rank", &self.max_rank)
            .finish()
    }
}

/// An adapter tensor's type: F32, F16 or BF16, or Q8_0 for an `A` (`lora_a`), which
/// `convert_lora_to_gguf.py --outtype q8_0` writes (its `B`s, whose rows are `rank` values, stay
/// F16 unless the rank is a multiple of 32; such a Q8_0 `B` is not supported).
fn check_type(name: &str, info: &TensorInfo, is_a: bool) -> Result<(), AdapterError> {
    match info.ty {
        GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => Ok(()),
        GgmlType::Q8_0 if is_a => Ok(()),
        ty => Err(AdapterError::UnsupportedTensorType {
            name: name.to_owned(),
            ty: ty.name().to_owned(),
        }),
    }
}

/// `(cols, rows)` of a 2-D tensor (ggml order), or a shape error.
fn dims2(name: &str, info: &TensorInfo) -> Result<(usize, usize), AdapterError> {
    let bad = || AdapterError::ShapeMismatch {
        name: name.to_owned(),
        reason: format!("expected a matrix, found shape {:?}", info.dims),
    };
    if info.dims.len() != 2 {
        return Err(bad());
    }
    let c = usize::try_from(info.dims[0]).map_err(|_| bad())?;
    let r = usize::try_from(info.dims[1]).map_err(|_| bad())?;
    if c == 0 || r == 0 {
        return Err(bad());
    }
    Ok((c, r))
}

/// Copies a tensor out of the map into an owned, aligned matrix, rejecting NaN and infinity.
fn copy_mat(
    file: &GgufFile,
    name: &str,
    info: &TensorInfo,
    rows: usize,
    cols: usize,
) -> Result<OwnedMat, AdapterError> {
    let bytes = &file.bytes()[file.byte_range(info)];
    let non_finite = || AdapterError::NonFinite(name.to_owned());
    let data = match info.ty {
        GgmlType::F32 => {
            let v: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if v.iter().any(|x| !x.is_finite()) {
                return Err(non_finite());
            }
            Data::F32(v)
        }
        ty => {
            let v: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            let finite = |h: u16| match ty {
                GgmlType::F16 => half::f16::from_bits(h).is_finite(),
                _ => half::bf16::from_bits(h).is_finite(),
            };
            let all_finite = if ty == GgmlType::Q8_0 {
                // each 34-byte block: its f16 scale, then 32 signed bytes
                v.chunks(17)
                    .all(|block| half::f16::from_bits(block[0]).is_finite())
            } else {
                v.iter().all(|&h| finite(h))
            };
            if !all_finite {
                return Err(non_finite());
            }
            Data::Words(v)
        }
    };
    let m = OwnedMat {
        ty: info.ty,
        data,
        rows,
        cols,
    };
    // The element count was checked against the shape by the GGUF reader; the kernels' own
    // check (sizes, alignment) must pass too.
    let view_ok = {
        let bytes: &[u8] = match &m.data {
            Data::F32(v) => bytemuck::cast_slice(v),
            Data::Words(v) => bytemuck::cast_slice(v),
        };
        QMatrix::new(m.ty, bytes, rows, cols).is_ok()
    };
    if !view_ok {
        return Err(AdapterError::ShapeMismatch {
            name: name.to_owned(),
            reason: format!(
                "{} bytes for a {rows}×{cols} {} matrix",
                bytes.len(),
                info.ty
            ),
        });
    }
    Ok(m)
}

impl LoraAdapter {
    /// Loads `path` for `model`, checking the file's type, architecture, and every pair's
    /// names and shapes against the model's matrices; a mismatch names the tensor. The
    /// matrices are held in the file's type ([`AdapterPrecision::AsFile`]).
    pub fn load(model: &Arc<Model>, path: impl AsRef<Path>) -> Result<Arc<Self>, AdapterError> {
        Self::load_with(model, path, AdapterPrecision::AsFile)
    }

    /// [`LoraAdapter::load`] holding the matrices at `precision`: [`AdapterPrecision::F16`]
    /// halves an F32 adapter's memory and its decode cost, [`AdapterPrecision::Q8_0`] takes
    /// a quarter more off an F16 one (docs/adapters.md).
    pub fn load_with(
        model: &Arc<Model>,
        path: impl AsRef<Path>,
        precision: AdapterPrecision,
    ) -> Result<Arc<Self>, AdapterError> {
        let path = path.as_ref();
        // Each matrix copied out of the file, at the precision asked for.
        let copy = |file: &GgufFile, name: &str, info: &TensorInfo, rows, cols, is_a: bool| {
            let m = copy_mat(file, name, info, rows, cols)?;
            Ok::<_, AdapterError>(match precision {
                AdapterPrecision::AsFile => m,
                AdapterPrecision::F16 => m.into_f16(),
                AdapterPrecision::Q8_0 if is_a => m.into_q8_0(),
                AdapterPrecision::Q8_0 => m.into_f16(),
            })
        };
        let file = GgufFile::open(path)?;
        let general_type = file.opt_str("general.type")?.unwrap_or("");
        if general_type != "adapter" {
            return Err(AdapterError::NotAnAdapter {
                path: path.to_path_buf(),
                found: general_type.to_owned(),
            });
        }
        let arch = file.get_str("general.architecture")?;
        let model_arch = &model.config().arch_name;
        if arch != model_arch {
            return Err(AdapterError::ArchitectureMismatch {
                adapter: arch.to_owned(),
                model: model_arch.clone(),
            });
        }
        let ty = file.opt_str("adapter.type")?.unwrap_or("");
        if ty != "lora" {
            return Err(AdapterError::UnsupportedAdapterType(ty.to_owned()));
        }
        let alpha = file.opt_f32("adapter.lora.alpha")?.unwrap_or(0.0);
        if !alpha.is_finite() {
            return Err(AdapterError::BadAlpha(alpha));
        }
        let name = file
            .opt_str("general.name")?
            .map(str::to_owned)
            .unwrap_or_else(|| {
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });

        // Pair the tensors by the matrix they adapt.
        let mut pairs: Vec<(String, Option<&TensorInfo>, Option<&TensorInfo>)> = Vec::new();
        for info in file.tensors() {
            let n = info.name.as_str();
            let (target, is_a) = if let Some(t) = n.strip_suffix(".lora_a") {
                (t, true)
            } else if let Some(t) = n.strip_suffix(".lora_b") {
                (t, false)
            } else if n.ends_with("_norm.weight") {
                continue;
            } else {
                return Err(AdapterError::UnexpectedTensor(n.to_owned()));
            };
            let at = match pairs.iter().position(|p| p.0 == target) {
                Some(i) => i,
                None => {
                    pairs.push((target.to_owned(), None, None));
                    pairs.len() - 1
                }
            };
            if is_a {
                pairs[at].1 = Some(info);
            } else {
                pairs[at].2 = Some(info);
            }
        }
        if pairs.is_empty() {
            return Err(AdapterError::Empty);
        }

        let cfg = model.config();
        let w = model.weights();
        let mut layers: Vec<[Option<(APart, LoraPair)>; 7]> =
            (0..cfg.n_layers).map(|_| Default::default()).collect();
        // the output head's pair, in slot 0 of a layer of its own
        let mut output: Option<[Option<(APart, LoraPair)>; 7]> = None;
        let mut embd: Option<EmbdLora> = None;
        let mut max_rank = 0;
        // Before copying out of the map: a file truncated since it was opened is refused here
        // rather than faulting.
        file.check_unchanged()?;
        for (target, a, b) in &pairs {
            let (a, b) = match (a, b) {
                (Some(a), Some(b)) => (*a, *b),
                (Some(a), None) => {
                    return Err(AdapterError::MissingPair {
                        name: a.name.clone(),
                        missing: format!("{target}.lora_b"),
                    })
                }
                (None, Some(b)) => {
                    return Err(AdapterError::MissingPair {
                        name: b.name.clone(),
                        missing: format!("{target}.lora_a"),
                    })
                }
                (None, None) => unreachable!("a pair is made from one of its tensors"),
            };
            let base = model.gguf().tensor_info(target);
            let Some(base) = base else {
                return Err(AdapterError::UnknownTarget {
                    name: a.name.clone(),
                    target: target.clone(),
                });
            };
            let unsupported = || AdapterError::UnsupportedTarget {
                name: a.name.clone(),
                target: target.clone(),
            };
            check_type(&a.name, a, true)?;
            check_type(&b.name, b, false)?;
            let (a_cols, a_rows) = dims2(&a.name, a)?;
            let (b_cols, b_rows) = dims2(&b.name, b)?;
            // llama.cpp's `get_scale`: alpha / rank, or 1 without alpha
            let factor_of = |rank: usize| {
                if alpha != 0.0 {
                    alpha / rank as f32
                } else {
                    1.0
                }
            };
            if target == "token_embd.weight" {
                // llama.cpp's convention for the table: `lora_a` is [rank, vocab] (one row per
                // token), `lora_b` [rank, n_embd].
                let (vocab, n_embd) = (w.token_embd.rows, w.token_embd.cols);
                let (rank, a_vocab) = (a_cols, a_rows);
                if a_vocab != vocab || b_rows != n_embd || b_cols != rank {
                    return Err(AdapterError::ShapeMismatch {
                        name: a.name.clone(),
                        reason: format!(
                            "shapes {:?} and {:?}: token_embd takes lora_a [rank, {vocab}] and \
                             lora_b [rank, {n_embd}]",
                            a.dims, b.dims
                        ),
                    });
                }
                let b_mat = copy(&file, &b.name, b, n_embd, rank, false)?;
                let pair = LoraPair {
                    stack: 0,
                    a_row: 0,
                    rank,
                    bt: transpose_b(&b_mat, 0..n_embd),
                    b_ty: b_mat.ty,
                    rows: n_embd,
                    factor: factor_of(rank),
                };
                max_rank = max_rank.max(rank);
                embd = Some(EmbdLora {
                    a: copy(&file, &a.name, a, vocab, rank, true)?,
                    pair,
                });
                continue;
            }
            let (rank, b_rank) = (a_rows, b_cols);
            if b_rank != rank {
                return Err(AdapterError::ShapeMismatch {
                    name: b.name.clone(),
                    reason: format!(
                        "shape {:?}: rank {b_rank}, but {} has rank {rank} (lora_a not transposed?)",
                        b.dims, a.name
                    ),
                });
            }
            let factor = factor_of(rank);
            max_rank = max_rank.max(rank);
            // Where the product lands: a layer's slots (a fused matrix: several, each its
            // rows of `B`) or the output head.
            let (il, cols, parts): (Option<usize>, usize, Vec<(usize, usize)>) = if target
                == "output.weight"
            {
                (None, w.output.cols, vec![(0, w.output.rows)])
            } else {
                // blk.N.NAME.weight
                let (il, name) = target
                    .strip_prefix("blk.")
                    .and_then(|r| r.strip_suffix(".weight"))
                    .and_then(|r| r.split_once('.'))
                    .and_then(|(l, s)| {
                        Some((l.parse::<usize>().ok().filter(|&i| i < cfg.n_layers)?, s))
                    })
                    .ok_or_else(unsupported)?;
                let lw = &w.layers[il];
                let fits = |m: &MatRef| {
                    base.dims.len() == 2
                        && base.dims[0] == m.cols as u64
                        && base.dims[1] == m.rows as u64
                };
                let fused_rows = |ms: &[&MatRef]| {
                    let rows: u64 = ms.iter().map(|m| m.rows as u64).sum();
                    base.dims.len() == 2
                        && ms.iter().all(|m| base.dims[0] == m.cols as u64)
                        && base.dims[1] == rows
                };
                let slot = SLOTS.iter().position(|&x| x == name);
                let parts: Vec<(usize, &MatRef)> = match (lw.attn(), name, slot) {
                    // Qwen3.5's query projection also gives the output gates: not a q target.
                    (Some(at), _, Some(0)) if at.q_gate => return Err(unsupported()),
                    // Phi-3: q, k and v in one matrix
                    (Some(at), "attn_qkv", _) => match (&at.wk, &at.wv) {
                        (Some(wk), Some(wv)) if fused_rows(&[&at.wq, wk, wv]) => {
                            vec![(Q, &at.wq), (K, wk), (V, wv)]
                        }
                        _ => return Err(unsupported()),
                    },
                    (Some(at), _, Some(slot @ 0..=3)) => {
                        // a layer reading another's KV cache has no k/v of its own (Gemma 4)
                        match [Some(&at.wq), at.wk.as_ref(), at.wv.as_ref(), Some(&at.wo)][slot] {
                            Some(m) => vec![(slot, m)],
                            None => return Err(unsupported()),
                        }
                    }
                    // Phi-3: gate and up in one matrix named ffn_up
                    (_, "ffn_up", _) if !fits(&lw.w_up) && fused_rows(&[&lw.w_gate, &lw.w_up]) => {
                        vec![(GATE, &lw.w_gate), (UP, &lw.w_up)]
                    }
                    (_, _, Some(slot @ 4..)) => {
                        vec![(slot, [&lw.w_gate, &lw.w_up, &lw.w_down][slot - 4])]
                    }
                    // A convolution or DeltaNet layer (LFM2, Qwen3.5) has no q/k/v/o.
                    _ => return Err(unsupported()),
                };
                if parts.len() == 1 && !fits(parts[0].1) {
                    return Err(unsupported());
                }
                let cols = parts[0].1.cols;
                (
                    Some(il),
                    cols,
                    parts.iter().map(|&(s, m)| (s, m.rows)).collect(),
                )
            };
            let rows: usize = parts.iter().map(|p| p.1).sum();
            if a_cols != cols {
                return Err(AdapterError::ShapeMismatch {
                    name: a.name.clone(),
                    reason: format!(
                        "shape {:?}: {a_cols} inputs, but {target} takes {cols}",
                        a.dims
                    ),
                });
            }
            if b_rows != rows {
                return Err(AdapterError::ShapeMismatch {
                    name: b.name.clone(),
                    reason: format!(
                        "shape {:?}: {b_rows} outputs, but {target} has {rows}",
                        b.dims
                    ),
                });
            }
            let b_mat = copy(&file, &b.name, b, rows, rank, false)?;
            let mut a_part = Some(copy(&file, &a.name, a, rank, cols, true)?);
            let dest = match il {
                Some(il) => &mut layers[il],
                None => output.get_or_insert_with(Default::default),
            };
            let (first_slot, mut from) = (parts[0].0, 0);
            for &(slot, n) in &parts {
                let pair = LoraPair {
                    stack: 0,
                    a_row: 0,
                    rank,
                    bt: transpose_b(&b_mat, from..from + n),
                    b_ty: b_mat.ty,
                    rows: n,
                    factor,
                };
                let a = match a_part.take() {
                    Some(a) => APart::Own(a),
                    None => APart::SameAs(first_slot),
                };
                dest[slot] = Some((a, pair));
                from += n;
            }
        }
        let layers: Vec<LayerLora> = layers.into_iter().map(LayerLora::new).collect();
        let output = output.map(LayerLora::new);
        let bytes: usize = layers
            .iter()
            .chain(&output)
            .map(LayerLora::bytes)
            .sum::<usize>()
            + embd.as_ref().map_or(0, |e| e.a.bytes() + e.pair.bt.bytes());
        let n_pairs = pairs.len();
        log::info!(
            target: "pocketlm::model",
            "loaded LoRA adapter {name:?}: {n_pairs} matrices, rank up to {max_rank}, alpha \
             {alpha}, {bytes} bytes"
        );
        Ok(Arc::new(Self {
            name,
            alpha,
            layers,
            output,
            embd,
            n_pairs,
            max_rank,
            bytes,
            model: Arc::downgrade(model),
        }))
    }

    /// `general.name`, or the file name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// `adapter.lora.alpha` (0 when absent: the scale is then the user's scale alone).
    pub fn alpha(&self) -> f32 {
        self.alpha
    }
    /// Matrices the adapter updates.
    pub fn n_matrices(&self) -> usize {
        self.n_pairs
    }
    /// The largest rank of its pairs.
    pub fn max_rank(&self) -> usize {
        self.max_rank
    }
    /// Bytes of its `A` and `B` matrices held in memory.
    pub fn tensor_bytes(&self) -> usize {
        self.bytes
    }
    /// Whether the adapter was loaded for `model`.
    pub fn is_for(&self, model: &Arc<Model>) -> bool {
        std::ptr::eq(self.model.as_ptr(), Arc::as_ptr(model))
    }
}

/// The adapters a session applies, each with its user scale (checked finite, loaded for the
/// session's model). Compared by adapter identity and scale.
#[derive(Debug, Clone, Default)]
pub(crate) struct AdapterSet {
    pub(crate) list: Vec<(Arc<LoraAdapter>, f32)>,
}

impl PartialEq for AdapterSet {
    fn eq(&self, other: &Self) -> bool {
        self.list.len() == other.list.len()
            && self
                .list
                .iter()
                .zip(&other.list)
                .all(|((a, x), (b, y))| Arc::ptr_eq(a, b) && x.to_bits() == y.to_bits())
    }
}

impl AdapterSet {
    pub(crate) fn new(
        model: &Arc<Model>,
        list: &[(Arc<LoraAdapter>, f32)],
    ) -> Result<Self, AdapterError> {
        for (a, s) in list {
            if !s.is_finite() {
                return Err(AdapterError::BadScale(*s));
            }
            if !a.is_for(model) {
                return Err(AdapterError::OtherModel(a.name.clone()));
            }
        }
        Ok(Self {
            list: list.to_vec(),
        })
    }
}

/// `t` rounded as ggml rounds an activation multiplied by a matrix of type `ty`.
fn round_like(ty: GgmlType, t: f32) -> f32 {
    match ty {
        GgmlType::F16 => half::f16::from_f32(t).to_f32(),
        GgmlType::BF16 => half::bf16::from_f32(t).to_f32(),
        _ => t,
    }
}

/// Buffers of the low-rank products (reused across calls).
#[derive(Default)]
pub(crate) struct LoraScratch {
    acts: QActs,
    /// What `acts` holds: the input's `(type, m, cols)` since the last [`LoraScratch::new_input`]
    /// (the q/k/v and the gate/up products of a layer share their input: converted once).
    acts_of: Option<(GgmlType, usize, usize)>,
    t: Vec<f32>,
    /// `t` of a decoded token's shared job ([`one_token_shared`]), as f32 bits.
    shared_t: Vec<AtomicU32>,
    /// One slot's multipliers, out of `t`.
    c: Vec<f32>,
}

impl LoraScratch {
    /// The next [`apply`] has another input than the previous one (or the same buffer with
    /// new contents): call before each group of products sharing an input.
    pub(crate) fn new_input(&mut self) {
        self.acts_of = None;
    }

    /// Room in `t` for `m` tokens' products with `st`'s stacked `A`, and `x` (`m` tokens)
    /// converted for it unless it already is; returns the stack's rows.
    fn prepare(&mut self, st: &StackedA, x: &[f32], m: usize) -> usize {
        let (ranks, cols) = (st.a.rows, st.a.cols);
        if self.t.len() < m * ranks {
            self.t.resize(m * ranks, 0.0);
        }
        if self.acts_of != Some((st.a.ty, m, cols)) {
            self.acts.quantize_for(st.a.ty, &x[..m * cols], m, cols);
            self.acts_of = Some((st.a.ty, m, cols));
        }
        ranks
    }
}

/// Tokens per piece of a prompt's low-rank products (a piece's `A·x`, multipliers and B add run
/// on one thread; the pieces are shared across the pool). A multiple of the F16 NEON kernel's
/// 4-token step and of the AVX-512 one's, and of where a Q8_0 `A`'s piece may start.
const PIECE_TOKENS: usize = 8;
const _: () = assert!(PIECE_TOKENS.is_multiple_of(ACTS_PIECE_ALIGN));

/// `out[m × rows] += Σ scale · B·(A·x)` for each `(slot, out)` of `outs` (matrices of layer `il`
/// sharing the input `x`, `m × cols`: one [`GROUPS`] entry), over the adapters of `set` that
/// update them, adapter by adapter in order, as llama.cpp adds them. `x` is converted for `A`
/// only when [`LoraScratch::new_input`] was called since the last call (or its type or shape
/// differ). Each adapter's stacked `A` of the group is one product: `t` for every slot of the
/// group, each slot's the bits of its own `A` alone.
///
/// A prompt's tokens are split into pieces of [`PIECE_TOKENS`], each piece's `A·x`, multipliers
/// and B adds done by one thread, the pieces shared across the pool (one job per stacked `A`;
/// `A` has only a few `rank`s of rows, too few to split its product by rows, so it would run on
/// the calling thread alone while the workers wait). Each token's results are the same bits
/// whatever its piece ([`matmul_acts`]). A decoded token's products are shared in one job per
/// stack by blocks of rows of `A` and of outputs ([`one_token_shared`]). Between 2 and 15
/// tokens (a keyboard's batches) the calling thread does them (and `A·x` by rows across the
/// pool if `A` is large).
pub(crate) fn apply(
    set: &AdapterSet,
    pool: &ThreadPool,
    sc: &mut LoraScratch,
    il: usize,
    x: &[f32],
    m: usize,
    outs: &mut [(usize, &mut [f32])],
) {
    apply_at(set, pool, sc, |a| Some(&a.layers[il]), x, m, outs);
}

/// [`apply`] for the output head: `logits[m × vocab] += Σ scale · B·(A·x)` over the adapters
/// of `set` that adapt it (`x`: the `m` normed final states).
pub(crate) fn apply_output(
    set: &AdapterSet,
    pool: &ThreadPool,
    sc: &mut LoraScratch,
    x: &[f32],
    m: usize,
    logits: &mut [f32],
) {
    sc.new_input();
    apply_at(
        set,
        pool,
        sc,
        |a| a.output.as_ref(),
        x,
        m,
        &mut [(0, logits)],
    );
}

/// [`apply_output`] for the head rows `ids` only (`logits[m × ids.len()]`): each logit gets
/// the same fused products in the same order as the full head's, so the same bits.
pub(crate) fn apply_output_rows(
    set: &AdapterSet,
    pool: &ThreadPool,
    sc: &mut LoraScratch,
    x: &[f32],
    m: usize,
    ids: &[u32],
    logits: &mut [f32],
) {
    sc.new_input();
    for (adapter, user_scale) in &set.list {
        let Some(head) = &adapter.output else {
            continue;
        };
        let (Some(st), Some(p)) = (head.stacks.first(), head.pairs[0].as_ref()) else {
            continue;
        };
        let ranks = sc.prepare(st, x, m);
        let t = &mut sc.t[..m * ranks];
        matmul_parallel(pool, &st.a.view(), &sc.acts, t, ranks);
        for (tok, out) in t
            .chunks_exact(ranks)
            .zip(logits.chunks_exact_mut(ids.len()))
        {
            sc.c.clear();
            sc.c.extend_from_slice(&tok[p.a_row..][..p.rank]);
            to_multipliers(p.b_ty, *user_scale * p.factor, &mut sc.c);
            let (c, n) = (&sc.c, p.rows);
            match &p.bt {
                BTransposed::F32(bt) => {
                    for (v, &id) in out.iter_mut().zip(ids) {
                        *v = fused_rank_sum(*v, c, |r| bt[r * n + id as usize]);
                    }
                }
                BTransposed::F16(bt) => {
                    for (v, &id) in out.iter_mut().zip(ids) {
                        *v = fused_rank_sum(*v, c, |r| bt[r * n + id as usize].to_f32());
                    }
                }
            }
        }
    }
}

/// `v + Σ c[r]·b(r)`, one fused multiply-add per rank in rank order: what the B add gives one
/// output ([`add_b`]), for an output read alone.
#[inline]
fn fused_rank_sum(v: f32, c: &[f32], b: impl Fn(usize) -> f32) -> f32 {
    c.iter()
        .enumerate()
        .fold(v, |acc, (r, &c)| c.mul_add(b(r), acc))
}

/// Adds the token embeddings' low-rank term of each adapter of `set` that has one to `row`
/// (the embedding row of `token`, before any embedding scale): `row += scale · B·a[token]`.
pub(crate) fn add_to_embedding(
    set: &AdapterSet,
    sc: &mut LoraScratch,
    token: u32,
    row: &mut [f32],
) {
    for (adapter, user_scale) in &set.list {
        let Some(e) = &adapter.embd else {
            continue;
        };
        let p = &e.pair;
        sc.c.resize(p.rank, 0.0);
        e.a.view()
            .dequantize_row(token as usize, &mut sc.c)
            .expect("a token of the model's vocabulary, rows checked at load");
        to_multipliers(p.b_ty, *user_scale * p.factor, &mut sc.c);
        add_b(&p.bt, p.rank, p.rows, &sc.c, row);
    }
}

/// [`apply`]'s work for the layer `layer_of` picks out of each adapter (none: not adapted).
fn apply_at<'a>(
    set: &'a AdapterSet,
    pool: &ThreadPool,
    sc: &mut LoraScratch,
    layer_of: impl Fn(&'a LoraAdapter) -> Option<&'a LayerLora>,
    x: &[f32],
    m: usize,
    outs: &mut [(usize, &mut [f32])],
) {
    for (adapter, user_scale) in &set.list {
        let Some(layer) = layer_of(adapter) else {
            continue;
        };
        for st in &layer.stacks {
            if !outs.iter().any(|(slot, _)| *slot == st.slots[0]) {
                continue;
            }
            // The pairs of this stack with their outputs.
            let mut parts: Vec<&LoraPair> = Vec::with_capacity(st.slots.len());
            let mut part_outs: Vec<&mut [f32]> = Vec::with_capacity(st.slots.len());
            for (slot, out) in outs.iter_mut() {
                if st.slots.contains(slot) {
                    let p = layer.pairs[*slot]
                        .as_ref()
                        .expect("a stacked slot has a pair");
                    parts.push(p);
                    part_outs.push(&mut out[..m * p.rows]);
                }
            }
            assert_eq!(
                parts.len(),
                st.slots.len(),
                "lora::apply: the outputs of a group come together"
            );
            let (ranks, cols) = (st.a.rows, st.a.cols);
            sc.prepare(st, x, m);
            let a = st.a.view();
            let acts = &sc.acts;
            let t = &mut sc.t[..m * ranks];
            if m == 1 && pool.n_threads() > 1 {
                one_token_shared(
                    pool,
                    &a,
                    acts,
                    &mut sc.shared_t,
                    &parts,
                    part_outs,
                    *user_scale,
                );
            } else if m < 2 * PIECE_TOKENS || pool.n_threads() == 1 {
                // (`matmul_parallel` shares out the rows of a large `A`; a rank-16 one it runs
                // on this thread)
                matmul_parallel(pool, &a, acts, t, ranks);
                for (p, out) in parts.iter().zip(part_outs) {
                    add_part(p, *user_scale, ranks, t, &mut sc.c, out);
                }
            } else {
                let mut t_chunks = t.chunks_mut(PIECE_TOKENS * ranks);
                let mut out_chunks: Vec<_> = parts
                    .iter()
                    .zip(part_outs)
                    .map(|(p, o)| o.chunks_mut(PIECE_TOKENS * p.rows))
                    .collect();
                // (piece, its `t`, its part of each output)
                type Job<'a> = (usize, &'a mut [f32], Vec<&'a mut [f32]>);
                let jobs: Vec<Job<'_>> = (0..m.div_ceil(PIECE_TOKENS))
                    .map(|i| {
                        let t = t_chunks.next().expect("one chunk of t per piece");
                        let outs = out_chunks
                            .iter_mut()
                            .map(|c| c.next().expect("one chunk of each output per piece"))
                            .collect();
                        (i, t, outs)
                    })
                    .collect();
                let jobs = Mutex::new(jobs.into_iter());
                let work: usize = parts.iter().map(|p| p.rank * (cols + p.rows)).sum();
                pool.run_joinable((m * work) as u64, |_, _| {
                    let mut c = Vec::new();
                    loop {
                        let next = jobs.lock().unwrap_or_else(|e| e.into_inner()).next();
                        let Some((i, t, outs)) = next else { break };
                        let t0 = i * PIECE_TOKENS;
                        matmul_acts(&a, acts, t0..t0 + t.len() / ranks, t, ranks);
                        for (p, out) in parts.iter().zip(outs) {
                            add_part(p, *user_scale, ranks, t, &mut c, out);
                        }
                    }
                });
            }
        }
    }
}

/// Rows of the stacked `A` per item of a decoded token's shared job ([`one_token_shared`]): a
/// rank-16 `A` is two items, q/k/v's stacked 48 rows six.
const A_ROWS_PER_ITEM: usize = 8;

/// Outputs per item of a decoded token's B add ([`one_token_shared`]), about: blocks are whole
/// multiples of 64 (the AVX-512 kernel's block), so q's 576 outputs are two items (320 + 256),
/// gate's 1536 five.
const B_OUTPUTS_PER_ITEM: usize = 320;

/// One decoded token's low-rank products of one stack (`a`, the pairs `parts` and their
/// outputs) in one job of the pool. Decode reads each value of the adapter once per token (a
/// rank-16 F32 adapter on SmolLM2: 19.5 MB, against ~100 MB of its Q4_1 file): done by the calling
/// thread alone while the workers waited, it cost 2 threads about 20% of their decode speed
/// (`pocketlm bench --threads 2 --lora`). Here the job's items are first the stacked `A`'s row
/// blocks ([`A_ROWS_PER_ITEM`]), then blocks of each pair's outputs ([`B_OUTPUTS_PER_ITEM`]),
/// claimed in that order; an output block waits until every row of `t` is in (the items before
/// it were all claimed by threads inside the job, which wait for nothing, so it never waits for
/// long). Each output gets the same multipliers and the same fused products in the same order as
/// [`add_part`] gives it: the bits of the serial path.
fn one_token_shared(
    pool: &ThreadPool,
    a: &QMatrix<'_>,
    acts: &QActs,
    t: &mut Vec<AtomicU32>,
    parts: &[&LoraPair],
    part_outs: Vec<&mut [f32]>,
    user_scale: f32,
) {
    let ranks = a.rows;
    let a_items = ranks.div_ceil(A_ROWS_PER_ITEM);
    // `t` as f32 bits: written by the `A` items, read by the output items after `t_done`
    // (kept in the scratch: no allocation per decoded token).
    if t.len() < ranks {
        t.resize_with(ranks, || AtomicU32::new(0));
    }
    let t = &t[..ranks];
    let next_a = AtomicUsize::new(0);
    let t_done = AtomicUsize::new(0);
    let mut blocks: Vec<(usize, usize, &mut [f32])> = Vec::new();
    for (i, out) in part_outs.into_iter().enumerate() {
        let n = out.len().div_ceil(B_OUTPUTS_PER_ITEM);
        let size = out.len().div_ceil(n).next_multiple_of(64);
        for (k, block) in out.chunks_mut(size).enumerate() {
            blocks.push((i, k * size, block));
        }
    }
    let blocks = Mutex::new(blocks.into_iter());
    let work: usize = parts.iter().map(|p| p.rank * (a.cols + p.rows)).sum();
    pool.run_joinable(work as u64, |ti, nt| {
        // This thread's share of the stack's values, requested at once (see `prefetch_share`).
        prefetch_share(a.data, ti, nt);
        for p in parts {
            prefetch_share(p.bt.as_bytes(), ti, nt);
        }
        loop {
            let i = next_a.fetch_add(1, Ordering::Relaxed);
            if i >= a_items {
                break;
            }
            // Counted even if the product panics, so no thread waits forever for it (the
            // panic reaches the caller through the pool).
            let _counted = CountOnDrop(&t_done);
            a_item(a, acts, i, t);
        }
        let mut c = Vec::new();
        let mut waited = false;
        loop {
            let next = blocks.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((i, from, out)) = next else { break };
            if !waited {
                wait_for(&t_done, a_items);
                waited = true;
            }
            let p = parts[i];
            c.resize(p.rank, 0.0);
            add_b_block(p, user_scale, &t[p.a_row..], from, &mut c, out);
        }
    });
}

/// Item `i` of a decoded token's `A·x` ([`A_ROWS_PER_ITEM`] rows of `a`), stored in `t` (the
/// products of all of `a`'s rows, as f32 bits).
fn a_item(a: &QMatrix<'_>, acts: &QActs, i: usize, t: &[AtomicU32]) {
    let row_bytes = a.row_bytes();
    let r0 = i * A_ROWS_PER_ITEM;
    let r1 = (r0 + A_ROWS_PER_ITEM).min(a.rows);
    let rows = QMatrix {
        data: &a.data[r0 * row_bytes..r1 * row_bytes],
        rows: r1 - r0,
        ..*a
    };
    let mut part = [0f32; A_ROWS_PER_ITEM];
    matmul(&rows, acts, &mut part[..r1 - r0], r1 - r0, 0..r1 - r0);
    for (slot, v) in t[r0..r1].iter().zip(&part) {
        slot.store(v.to_bits(), Ordering::Relaxed);
    }
}

/// Waits until `done` counts `n` (items claimed by threads inside the job, which wait for
/// nothing: never for long).
fn wait_for(done: &AtomicUsize, n: usize) {
    let mut spins = 0u32;
    while done.load(Ordering::Acquire) < n {
        spins += 1;
        if spins.is_multiple_of(1024) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// `out += scale · B·t` for the outputs `from..from + out.len()` of `p`, `t` starting with `p`'s
/// `rank` products (f32 bits), `c` room for its `rank` multipliers: the bits [`add_part`] gives
/// those outputs.
fn add_b_block(
    p: &LoraPair,
    user_scale: f32,
    t: &[AtomicU32],
    from: usize,
    c: &mut [f32],
    out: &mut [f32],
) {
    let c = &mut c[..p.rank];
    for (m, v) in c.iter_mut().zip(&t[..p.rank]) {
        *m = f32::from_bits(v.load(Ordering::Relaxed));
    }
    to_multipliers(p.b_ty, user_scale * p.factor, c);
    match &p.bt {
        BTransposed::F32(bt) => add_rank_products(out, c, &bt[from..], p.rows),
        BTransposed::F16(bt) => add_rank_products_f16_strided(out, c, &bt[from..], p.rows),
    }
}

/// A decoded token's low-rank updates of one group's outputs (`slots`: the parts of a base
/// product sharing an input, e.g. q/k/v), riding in that product's job
/// ([`matmul_parallel_many_riding`]) instead of a job of their own ([`one_token_shared`]): each
/// thread first claims row items of the stacked `A`s ([`A_ROWS_PER_ITEM`]), then, after each
/// chunk of base outputs it computed, adds their `B·t` while they are in cache. The adapters'
/// updates of an output follow its base product in the order of [`apply`], with the same
/// multipliers and fused products: the same bits.
pub(crate) struct DecodeRider<'a> {
    set: &'a AdapterSet,
    il: usize,
    /// The slot of each part of the base product.
    slots: &'a [usize],
    acts: &'a QActs,
    /// Every stack's `A·x` (f32 bits), the stacks in [`DecodeRider::stacks`] order.
    t: &'a [AtomicU32],
    a_items: usize,
    next_a: AtomicUsize,
    t_done: AtomicUsize,
    work: u64,
}

impl<'a> DecodeRider<'a> {
    /// The rider of `set`'s updates of one decoded token's (`m == 1`) products `slots` of layer
    /// `il` (one [`GROUPS`] entry's matrices, input `x`), or `None` when nothing in `set` adapts
    /// them or they cannot ride ([`apply`] then does them): several tokens, stacks of several
    /// `A` types (one conversion of `x` serves the job), a stack with slots outside `slots`.
    pub(crate) fn new(
        set: &'a AdapterSet,
        sc: &'a mut LoraScratch,
        il: usize,
        x: &[f32],
        m: usize,
        slots: &'a [usize],
    ) -> Option<Self> {
        if m != 1 {
            return None;
        }
        let (mut first, mut ranks, mut a_items, mut work) = (None::<&StackedA>, 0, 0, 0);
        for (_, layer, st) in Self::stacks_of(set, il, slots) {
            let f = first.get_or_insert(st);
            if (st.a.ty, st.a.cols) != (f.a.ty, f.a.cols)
                || !st.slots.iter().all(|s| slots.contains(s))
            {
                return None;
            }
            ranks += st.a.rows;
            a_items += st.a.rows.div_ceil(A_ROWS_PER_ITEM);
            for p in st.slots.iter().filter_map(|&s| layer.pairs[s].as_ref()) {
                work += p.rank * (st.a.cols + p.rows);
            }
        }
        sc.prepare(first?, x, 1);
        if sc.shared_t.len() < ranks {
            sc.shared_t.resize_with(ranks, || AtomicU32::new(0));
        }
        let sc: &'a LoraScratch = sc;
        Some(Self {
            set,
            il,
            slots,
            acts: &sc.acts,
            t: &sc.shared_t[..ranks],
            a_items,
            next_a: AtomicUsize::new(0),
            t_done: AtomicUsize::new(0),
            work: work as u64,
        })
    }

    /// The stacks updating `slots` of layer `il`, adapter by adapter, with their adapter's
    /// user scale and layer.
    fn stacks_of(
        set: &'a AdapterSet,
        il: usize,
        slots: &'a [usize],
    ) -> impl Iterator<Item = (f32, &'a LayerLora, &'a StackedA)> {
        set.list.iter().flat_map(move |(adapter, scale)| {
            let layer = &adapter.layers[il];
            layer
                .stacks
                .iter()
                .filter(|st| slots.contains(&st.slots[0]))
                .map(move |st| (*scale, layer, st))
        })
    }

    fn stacks(&self) -> impl Iterator<Item = (f32, &'a LayerLora, &'a StackedA)> {
        Self::stacks_of(self.set, self.il, self.slots)
    }
}

impl ProductRider for DecodeRider<'_> {
    fn work(&self) -> u64 {
        self.work
    }

    fn start(&self, thread: usize, n_threads: usize) {
        for (_, layer, st) in self.stacks() {
            prefetch_share(st.a.view().data, thread, n_threads);
            for p in st.slots.iter().filter_map(|&s| layer.pairs[s].as_ref()) {
                prefetch_share(p.bt.as_bytes(), thread, n_threads);
            }
        }
        loop {
            let i = self.next_a.fetch_add(1, Ordering::Relaxed);
            if i >= self.a_items {
                break;
            }
            // Counted even if the product panics (see `one_token_shared`).
            let _counted = CountOnDrop(&self.t_done);
            let (mut first_item, mut t0) = (0, 0);
            for (_, _, st) in self.stacks() {
                let items = st.a.rows.div_ceil(A_ROWS_PER_ITEM);
                if i < first_item + items {
                    a_item(&st.a.view(), self.acts, i - first_item, &self.t[t0..]);
                    break;
                }
                first_item += items;
                t0 += st.a.rows;
            }
        }
    }

    fn finish_rows(&self, part: usize, token: usize, rows: Range<usize>, out: &mut [f32]) {
        debug_assert_eq!(token, 0, "a rider of one decoded token");
        let slot = self.slots[part];
        wait_for(&self.t_done, self.a_items);
        let mut room = [0f32; 64];
        let mut t0 = 0;
        for (scale, layer, st) in self.stacks() {
            if let Some(p) = layer.pairs[slot]
                .as_ref()
                .filter(|_| st.slots.contains(&slot))
            {
                let t = &self.t[t0 + p.a_row..];
                if p.rank <= room.len() {
                    add_b_block(p, scale, t, rows.start, &mut room, out);
                } else {
                    add_b_block(p, scale, t, rows.start, &mut vec![0.0; p.rank], out);
                }
            }
            t0 += st.a.rows;
        }
    }
}

/// Adds one to its counter when dropped (also while unwinding).
struct CountOnDrop<'a>(&'a AtomicUsize);

impl Drop for CountOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// `out += scale · B·t` for the tokens of `out` (`p.rows` each), `t` being their products with
/// the stacked `A` (`ranks` per token, `p`'s from its `a_row`): the multipliers of `p`'s `B`
/// ([`to_multipliers`], in `c`), then the B add ([`add_b`]).
fn add_part(
    p: &LoraPair,
    user_scale: f32,
    ranks: usize,
    t: &[f32],
    c: &mut Vec<f32>,
    out: &mut [f32],
) {
    c.clear();
    for tok in t.chunks_exact(ranks) {
        c.extend_from_slice(&tok[p.a_row..][..p.rank]);
    }
    to_multipliers(p.b_ty, user_scale * p.factor, c);
    add_b(&p.bt, p.rank, p.rows, c, out);
}

/// `A·x` (`t`) turned in place into the multipliers of `B`'s rows, `round(t) · scale`, with `t`
/// rounded as ggml rounds an activation multiplied by a `b_ty` matrix.
fn to_multipliers(b_ty: GgmlType, scale: f32, t: &mut [f32]) {
    for v in t {
        *v = round_like(b_ty, *v) * scale;
    }
}

/// `out[tok] += Bᵀ·c[tok]` for each token's `rank` multipliers in `c` ([`to_multipliers`];
/// `rows` outputs per token). Each output receives its `rank` products in rank order, each a
/// fused multiply-add, in both storages, so an F16 `B` gives the same sums, bit for bit, as the
/// same `B` widened to f32, and both the sums of the naive fused loop (rank outer, outputs
/// inner: [`crate::kernels::rank::add_rank_products_reference`]).
fn add_b(bt: &BTransposed, rank: usize, rows: usize, c: &[f32], out: &mut [f32]) {
    match bt {
        BTransposed::F32(bt) => add_rank_products_tokens(out, c, rank, bt, rows),
        // Widened in registers as it is added (a widened copy written and read back per call
        // cost more than the adds on NEON).
        BTransposed::F16(bt) => add_rank_products_f16(out, c, rank, bt, rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An F16 `Bᵀ` adds exactly what the same values widened to f32 add, for one token
    /// (decode), a few, and more than a widening chunk of outputs.
    #[test]
    fn f16_b_adds_what_its_f32_widening_adds() {
        let mut next = crate::kernels::rank::test_values(0x9e37_79b9);
        for (rank, rows, tokens) in [(16, 576, 1), (8, 300, 5), (4, 1000, 20), (3, 1100, 2)] {
            let b16: Vec<half::f16> = (0..rank * rows)
                .map(|_| half::f16::from_f32(next()))
                .collect();
            let b32: Vec<f32> = b16.iter().map(|h| h.to_f32()).collect();
            let t: Vec<f32> = (0..tokens * rank).map(|_| next() * 3.0).collect();
            let base: Vec<f32> = (0..tokens * rows).map(|_| next()).collect();
            let (mut o16, mut o32) = (base.clone(), base.clone());
            let (h, f) = (BTransposed::F16(b16), BTransposed::F32(b32.clone()));
            let mut c = t.clone();
            to_multipliers(GgmlType::F16, 0.75, &mut c);
            add_b(&h, rank, rows, &c, &mut o16);
            add_b(&f, rank, rows, &c, &mut o32);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&o16),
                bits(&o32),
                "rank {rank} rows {rows} tokens {tokens}"
            );
            assert_ne!(o16, base, "it added something");
            // The naive loop: token by token, rank outer, outputs inner.
            let mut naive = base.clone();
            for (t, out) in t.chunks_exact(rank).zip(naive.chunks_exact_mut(rows)) {
                for (r, &tr) in t.iter().enumerate() {
                    let c = round_like(GgmlType::F16, tr) * 0.75;
                    for (o, &bv) in out.iter_mut().zip(&b32[r * rows..][..rows]) {
                        *o = c.mul_add(bv, *o);
                    }
                }
            }
            assert_eq!(
                bits(&o32),
                bits(&naive),
                "rank {rank} rows {rows} tokens {tokens}"
            );
            assert_eq!(h.bytes() * 2, f.bytes());
        }
    }

    /// A pair of slot `slot` for [`stacked_a_adds_what_each_pair_adds_alone`]: its `A` twice
    /// (one to stack, one for the pair-by-pair reference) and the pair (its `B` twice too).
    #[allow(clippy::type_complexity)]
    fn test_pair(
        next: &mut impl FnMut() -> f32,
        ty: GgmlType,
        rank: usize,
        cols: usize,
        rows: usize,
    ) -> ((OwnedMat, LoraPair), (OwnedMat, LoraPair)) {
        let a: Vec<f32> = (0..rank * cols).map(|_| next()).collect();
        let b: Vec<f32> = (0..rank * rows).map(|_| next() * 0.5).collect();
        let mat = || OwnedMat {
            ty,
            data: match ty {
                GgmlType::F32 => Data::F32(a.clone()),
                GgmlType::Q8_0 => {
                    use crate::quant::blocks::{BlockQ8_0, QK};
                    let mut blocks =
                        vec![<BlockQ8_0 as bytemuck::Zeroable>::zeroed(); a.len() / QK];
                    let mut sums = vec![0i16; blocks.len()];
                    crate::quant::activations::quantize_row_q8_0(&a, &mut blocks, &mut sums);
                    Data::Words(bytemuck::cast_slice(&blocks).to_vec())
                }
                _ => Data::Words(
                    a.iter()
                        .map(|&v| half::f16::from_f32(v).to_bits())
                        .collect(),
                ),
            },
            rows: rank,
            cols,
        };
        // (a file's Q8_0 `A` comes with an F16 `B`)
        let ty = if ty == GgmlType::Q8_0 {
            GgmlType::F16
        } else {
            ty
        };
        let pair = || LoraPair {
            stack: 0,
            a_row: 0,
            rank,
            bt: match ty {
                GgmlType::F32 => BTransposed::F32(b.clone()),
                _ => BTransposed::F16(b.iter().map(|&v| half::f16::from_f32(v)).collect()),
            },
            b_ty: ty,
            rows,
            factor: 2.0,
        };
        ((mat(), pair()), (mat(), pair()))
    }

    /// A rank-16 test adapter of `layers` (alpha 32, for no model).
    fn test_adapter(layers: Vec<LayerLora>, n_pairs: usize) -> Arc<LoraAdapter> {
        let bytes = layers.iter().map(LayerLora::bytes).sum();
        Arc::new(LoraAdapter {
            name: "test".into(),
            alpha: 32.0,
            layers,
            output: None,
            embd: None,
            n_pairs,
            max_rank: 16,
            bytes,
            model: Weak::new(),
        })
    }

    /// The `(slot, output)` list [`apply`] takes: `slots` with `bufs` in order.
    fn outputs<'a>(slots: &[usize], bufs: &'a mut [Vec<f32>]) -> Vec<(usize, &'a mut [f32])> {
        slots
            .iter()
            .copied()
            .zip(bufs.iter_mut().map(|v| &mut v[..]))
            .collect()
    }

    /// A stacked `A` gives each pair what its own `A` gives: a group's update is, bit for bit,
    /// the pair-by-pair one (each pair's own `A·x`, multipliers and B add, adapter by adapter),
    /// in decode, a prompt short of two pieces and prompts in pieces on 2 threads; with ranks
    /// and types mixed in a group and slots absent.
    #[test]
    fn stacked_a_adds_what_each_pair_adds_alone() {
        check_stacked_against_alone(77, 24, 50, &[1, 5, 16, 21, 40], Spec::Mixed);
    }

    /// Q8_0 `A`s (a file converted with `--outtype q8_0`), a prompt's by pieces of 8 tokens
    /// (m = 21, 40): the same bits as pair by pair, on every path.
    #[test]
    fn quantized_a_adds_what_each_pair_adds_alone() {
        check_stacked_against_alone(96, 32, 160, &[1, 5, 16, 21, 40], Spec::Quantized);
        check_stacked_against_alone(768, 128, 1024, &[1], Spec::Quantized);
    }

    /// The parts of fused matrices (Phi-3's q/k/v, gate/up) read their fused matrix's `A`
    /// rows, stacked once: each part adds what a pair with its own copy of that `A` adds, for
    /// a prompt's pieces, a keyboard's batches and a decoded token shared in blocks.
    #[test]
    fn fused_parts_sharing_an_a_add_what_each_pair_adds_alone() {
        check_stacked_against_alone(77, 24, 50, &[1, 5, 16, 21, 40], Spec::Fused);
        check_stacked_against_alone(700, 130, 1000, &[1], Spec::Fused);
    }

    /// Decode's shared job ([`one_token_shared`]) with several row items of `A` per stack and
    /// several output blocks per pair (ragged last ones): the serial pair-by-pair bits.
    #[test]
    fn a_decoded_token_shared_in_blocks_adds_what_each_pair_adds_alone() {
        check_stacked_against_alone(700, 130, 1000, &[1], Spec::Mixed);
    }

    /// The layers [`check_stacked_against_alone`] tries.
    #[derive(PartialEq)]
    enum Spec {
        /// Types and ranks mixed in a group, slots absent.
        Mixed,
        /// Phi-3's fused matrices.
        Fused,
        /// Q8_0 `A`s (dimensions multiples of 32).
        Quantized,
    }

    /// With `fused`, K and V read Q's `A` and UP reads GATE's (the parts of Phi-3's fused
    /// matrices), the reference pairs each a copy of it.
    fn check_stacked_against_alone(d: usize, kv: usize, ff: usize, ms: &[usize], spec: Spec) {
        let mut next = crate::kernels::rank::test_values(0x51ed_270b);
        let fused = spec == Spec::Fused;
        // (slot, type, rank, inputs, outputs); mixed: no O, no GATE, and V's F16 `A` is a
        // stack of its own
        let spec = match spec {
            Spec::Quantized => vec![
                (Q, GgmlType::Q8_0, 16, d, d),
                (K, GgmlType::Q8_0, 8, d, kv),
                (V, GgmlType::Q8_0, 16, d, kv),
                (UP, GgmlType::Q8_0, 4, d, ff),
                (DOWN, GgmlType::F16, 16, ff, d),
            ],
            Spec::Fused => vec![
                (Q, GgmlType::F32, 16, d, d),
                (K, GgmlType::F32, 16, d, kv),
                (V, GgmlType::F32, 16, d, kv),
                (GATE, GgmlType::F16, 8, d, ff),
                (UP, GgmlType::F16, 8, d, ff),
                (DOWN, GgmlType::F32, 16, ff, d),
            ],
            Spec::Mixed => vec![
                (Q, GgmlType::F32, 16, d, d),
                (K, GgmlType::F32, 8, d, kv),
                (V, GgmlType::F16, 16, d, kv),
                (UP, GgmlType::F32, 4, d, ff),
                (DOWN, GgmlType::F32, 16, ff, d),
            ],
        };
        let shares = |slot: usize| match slot {
            K | V if fused => Some(Q),
            UP if fused => Some(GATE),
            _ => None,
        };
        let mut stacked: [Option<(APart, LoraPair)>; 7] = Default::default();
        let mut alone: [Option<(OwnedMat, LoraPair)>; 7] = Default::default();
        for &(slot, ty, rank, cols, rows) in &spec {
            let (x, y) = test_pair(&mut next, ty, rank, cols, rows);
            match shares(slot) {
                Some(src) => {
                    stacked[slot] = Some((APart::SameAs(src), x.1));
                    let a = alone[src].as_ref().expect("the fused A first").0.clone();
                    alone[slot] = Some((a, y.1));
                }
                None => {
                    stacked[slot] = Some((APart::Own(x.0), x.1));
                    alone[slot] = Some(y);
                }
            }
        }
        let layer = LayerLora::new(stacked);
        let stacks: Vec<&[usize]> = layer.stacks.iter().map(|st| &st.slots[..]).collect();
        if fused {
            assert_eq!(stacks, [&[Q, K, V][..], &[GATE, UP], &[DOWN]]);
            assert_eq!(layer.stacks[0].a.rows, 16, "q/k/v's A stacked once");
        } else if spec[0].1 == GgmlType::Q8_0 {
            assert_eq!(stacks, [&[Q, K, V][..], &[UP], &[DOWN]]);
        } else {
            assert_eq!(stacks, [&[Q, K][..], &[V], &[UP], &[DOWN]]);
        }
        let adapter = test_adapter(vec![layer], spec.len());
        let set = AdapterSet {
            list: vec![(adapter.clone(), 0.75), (adapter, -0.5)],
        };
        let pool = ThreadPool::new(2);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let groups: [(&[usize], usize); 3] = [(&[Q, K, V], d), (&[GATE, UP], d), (&[DOWN], ff)];
        for &m in ms {
            for (slots, cols) in groups {
                let x: Vec<f32> = (0..m * cols).map(|_| next() * 2.0).collect();
                let rows_of = |s: usize| spec.iter().find(|p| p.0 == s).map_or(d, |p| p.4);
                let base: Vec<Vec<f32>> = slots
                    .iter()
                    .map(|&s| (0..m * rows_of(s)).map(|_| next()).collect())
                    .collect();
                let mut got = base.clone();
                let mut sc = LoraScratch::default();
                sc.new_input();
                let mut outs = outputs(slots, &mut got);
                apply(&set, &pool, &mut sc, 0, &x, m, &mut outs);
                // pair by pair, adapter by adapter
                let mut want = base.clone();
                for (_, user_scale) in &set.list {
                    for (&s, out) in slots.iter().zip(&mut want) {
                        let Some((a, p)) = &alone[s] else { continue };
                        let mut acts = QActs::new();
                        acts.quantize_for(a.ty, &x, m, cols);
                        let mut t = vec![0f32; m * p.rank];
                        crate::kernels::matmul(&a.view(), &acts, &mut t, p.rank, 0..p.rank);
                        to_multipliers(p.b_ty, user_scale * p.factor, &mut t);
                        add_b(&p.bt, p.rank, p.rows, &t, out);
                    }
                }
                for ((&s, g), w) in slots.iter().zip(&got).zip(&want) {
                    assert_eq!(bits(g), bits(w), "slot {} m {m}", SLOTS[s]);
                }
                assert_ne!(got, base, "m {m}: it added something");
                if m == 1 {
                    check_rider(&set, &pool, slots, cols, &rows_of, &x, &mut next);
                }
            }
        }
    }

    /// A decoded token's update of `slots` riding in their base product's job
    /// ([`DecodeRider`]): the bits of the product, then [`apply`]. A group whose stacks have
    /// several `A` types has no rider.
    fn check_rider(
        set: &AdapterSet,
        pool: &ThreadPool,
        slots: &[usize],
        cols: usize,
        rows_of: &dyn Fn(usize) -> usize,
        x: &[f32],
        next: &mut impl FnMut() -> f32,
    ) {
        use crate::kernels::{matmul_parallel_many, matmul_parallel_many_riding, MatmulPart};
        let ws: Vec<Vec<f32>> = slots
            .iter()
            .map(|&s| (0..rows_of(s) * cols).map(|_| next() * 0.1).collect())
            .collect();
        let views: Vec<QMatrix<'_>> = ws
            .iter()
            .zip(slots)
            .map(|(w, &s)| {
                QMatrix::new(GgmlType::F32, bytemuck::cast_slice(w), rows_of(s), cols)
                    .expect("an f32 matrix")
            })
            .collect();
        let mut acts = QActs::new();
        acts.quantize_for(GgmlType::F32, x, 1, cols);
        fn parts_of<'w, 'o>(
            views: &[QMatrix<'w>],
            outs: &'o mut [Vec<f32>],
        ) -> Vec<MatmulPart<'w, 'o>> {
            views
                .iter()
                .zip(outs)
                .map(|(w, o)| (*w, &mut o[..], w.rows))
                .collect()
        }
        let mut want: Vec<Vec<f32>> = slots.iter().map(|&s| vec![0.0; rows_of(s)]).collect();
        let mut got = want.clone();
        matmul_parallel_many(pool, &acts, &mut parts_of(&views, &mut want));
        let plain = want.clone();
        let mut sc = LoraScratch::default();
        sc.new_input();
        apply(set, pool, &mut sc, 0, x, 1, &mut outputs(slots, &mut want));
        let mut sc = LoraScratch::default();
        sc.new_input();
        let types: Vec<GgmlType> = DecodeRider::stacks_of(set, 0, slots)
            .map(|(_, _, st)| st.a.ty)
            .collect();
        let Some(rider) = DecodeRider::new(set, &mut sc, 0, x, 1, slots) else {
            assert!(
                types.iter().any(|&t| t != types[0]),
                "{slots:?}: no rider only for mixed A types ({types:?})"
            );
            return;
        };
        matmul_parallel_many_riding(pool, &acts, &mut parts_of(&views, &mut got), &rider);
        let bits = |v: &[Vec<f32>]| v.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&got),
            bits(&want),
            "{slots:?}: riding gives apply's bits"
        );
        assert_ne!(got, plain, "{slots:?}: the rider added something");
    }

    /// Decode's adapter update, the calling thread alone (a 1-thread pool: what 2 threads did
    /// before `one_token_shared`, the worker waiting) against shared by a 2-thread pool: a
    /// rank-16 adapter on every matrix of SmolLM2's 30 layers (F32 19.5 MB, F16 9.8 MB), one
    /// token through all of them in turn with 100 MB read between (the base model's share), so
    /// that the adapter comes from memory as in decode; only the updates are timed. The fastest
    /// of 7 passes of 10 tokens each way, alternating. `cargo test --release -p
    /// pocketlm --lib bench_lora_decode -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_lora_decode() {
        let mut next = crate::kernels::rank::test_values(0x2f6e_2b1d);
        let (d, kv, ff, layers) = (576, 192, 1536, 30);
        let shapes = [
            (Q, d, d),
            (K, d, kv),
            (V, d, kv),
            (O, d, d),
            (GATE, d, ff),
            (UP, d, ff),
            (DOWN, ff, d),
        ];
        let groups: [(&[usize], usize); 4] =
            [(&[Q, K, V], d), (&[O], d), (&[GATE, UP], d), (&[DOWN], ff)];
        for ty in [GgmlType::F32, GgmlType::F16] {
            let layer_loras: Vec<LayerLora> = (0..layers)
                .map(|_| {
                    let mut pairs: [Option<(APart, LoraPair)>; 7] = Default::default();
                    for (slot, cols, rows) in shapes {
                        let (a, p) = test_pair(&mut next, ty, 16, cols, rows).0;
                        pairs[slot] = Some((APart::Own(a), p));
                    }
                    LayerLora::new(pairs)
                })
                .collect();
            let adapter = test_adapter(layer_loras, 7 * layers);
            let bytes = adapter.bytes;
            let set = AdapterSet {
                list: vec![(adapter, 1.0)],
            };
            let x: Vec<f32> = (0..ff).map(|_| next()).collect();
            let mut outs: Vec<Vec<f32>> = vec![vec![0.0; ff]; 3];
            // What the base model's products read between the adapter's (~100 MB per token
            // for SmolLM2 Q4_1), so that the adapter comes from memory, not from the cache.
            let model = vec![1u64; 100 << 17];
            let per_group = model.len() / (layers * groups.len());
            let mut pass = |pool: &ThreadPool, sc: &mut LoraScratch| {
                let mut spent = std::time::Duration::ZERO;
                let mut sum = 0u64;
                for _ in 0..10 {
                    for il in 0..layers {
                        for (g, (slots, cols)) in groups.into_iter().enumerate() {
                            let at = (il * groups.len() + g) * per_group;
                            sum = model[at..at + per_group].iter().fold(sum, |a, &v| a ^ v);
                            sc.new_input();
                            let mut o = outputs(slots, &mut outs);
                            let start = std::time::Instant::now();
                            apply(&set, pool, sc, il, &x[..cols], 1, &mut o);
                            spent += start.elapsed();
                        }
                    }
                }
                std::hint::black_box(sum);
                spent.as_secs_f64() * 1e6 / 10.0
            };
            let (alone, shared) = (ThreadPool::new(1), ThreadPool::new(2));
            let mut sc = LoraScratch::default();
            let (mut best_alone, mut best_shared) = (f64::MAX, f64::MAX);
            for _ in 0..7 {
                best_alone = best_alone.min(pass(&alone, &mut sc));
                best_shared = best_shared.min(pass(&shared, &mut sc));
            }
            println!(
                "{ty:?} adapter, {:.1} MB: {best_alone:.0} µs per token alone, {best_shared:.0} µs \
                 shared by 2 threads ({:.2}x); {:.1} / {:.1} GB/s",
                bytes as f64 / 1e6,
                best_alone / best_shared,
                bytes as f64 / best_alone / 1e3,
                bytes as f64 / best_shared / 1e3,
            );
        }
    }
}
