//! Matrix kernels: quantized weight matrix × activation rows.
//!
//! * [`QMatrix`] borrows a ggml-layout weight matrix (e.g. straight from the mmap).
//! * [`QActs`] quantizes activation rows to the partner format of a weight type
//!   (ggml's `vec_dot_type`), reusing its buffers.
//! * [`matmul`] / [`matmul_parallel`] compute `out[t * out_stride + r] = dot(w[r], x[t])`.
//!
//! The instruction-set tier (scalar, AVX2, AVX-512 VNNI, NEON, NEON+dotprod, NEON+i8mm) is
//! chosen once at run time from the CPU's features;
//! `POCKETLM_KERNEL=scalar|avx2|avx512vnni|neon|dotprod|i8mm` overrides it. Each tier's code
//! is in its own file (`scalar.rs`, `x86/{avx2,avx512}.rs`, `arm/{neon,dotprod,i8mm}.rs`; what
//! the tiers of one architecture share in `x86/mod.rs`, `arm/mod.rs`) and reached through one
//! table of entry points per tier (`table.rs`), looked up once.
//! Every SIMD tier is tested against the scalar reference (`tests/kernels.rs`).
//!
//! Results are deterministic: a given (weight row, activation row) pair gives the same bits
//! whatever the row range, thread count or number of activation rows in the batch.
//!
//! ```no_run
//! # use pocketlm::internals::kernels::*; use pocketlm::internals::quant::GgmlType;
//! # fn demo(bytes: &[u8], x: &[f32]) -> Result<(), Box<dyn std::error::Error>> {
//! select_tier()?; // report a bad POCKETLM_KERNEL at load time instead of panicking later
//! let pool = ThreadPool::new(2);
//! let w = QMatrix::new(GgmlType::Q4_1, bytes, 1536, 576)?; // rows = ne1, cols = ne0
//! let mut acts = QActs::new(); // keep it around: reused buffers
//! let m = x.len() / 576;
//! acts.quantize_for(w.ty, x, m, 576);
//! let mut out = vec![0.0; m * 1536];
//! matmul_parallel(&pool, &w, &acts, &mut out, 1536); // out[t * 1536 + r]
//! # Ok(()) }
//! ```

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::quant::activations::{quantize_row_q8_0, quantize_row_q8_1, quantize_row_q8_k};
use crate::quant::blocks::*;
use crate::quant::interleave;
use crate::quant::{BlockLayout, GgmlType, QuantError};

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[macro_use]
mod tiles;

pub mod act;
#[cfg(target_arch = "aarch64")]
mod arm;
pub mod attention;
pub(crate) mod deltanet;
mod interleaved;
pub mod pool;
pub mod rank;
pub mod scalar;
mod table;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use pool::ThreadPool;
use table::{selected_kernels, TierKernels};

// ---------------------------------------------------------------------------------------------
// Tier selection

/// An instruction-set tier of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Portable Rust; the reference.
    Scalar,
    /// x86_64 AVX2 + FMA + F16C.
    Avx2,
    /// x86_64 AVX2 tier + AVX-512 F/BW/VL/VNNI: the AVX2 kernels with `vpdpbusd` integer dots
    /// (bit-identical results to [`Tier::Avx2`]).
    Avx512Vnni,
    /// aarch64 ARMv8.0 Advanced SIMD.
    Neon,
    /// aarch64 NEON + SDOT (ARMv8.2 dotprod).
    Dotprod,
    /// aarch64 NEON + SDOT + SMMLA (ARMv8.6 i8mm).
    I8mm,
}

impl Tier {
    /// All tiers, in order of preference from the most portable.
    pub const ALL: [Tier; 6] = [
        Tier::Scalar,
        Tier::Avx2,
        Tier::Avx512Vnni,
        Tier::Neon,
        Tier::Dotprod,
        Tier::I8mm,
    ];

    /// The name used by `POCKETLM_KERNEL` and [`kernel_tier`].
    pub fn name(self) -> &'static str {
        match self {
            Tier::Scalar => "scalar",
            Tier::Avx2 => "avx2",
            Tier::Avx512Vnni => "avx512vnni",
            Tier::Neon => "neon",
            Tier::Dotprod => "dotprod",
            Tier::I8mm => "i8mm",
        }
    }

    /// Parses a tier name (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether this CPU can run the tier.
    pub fn is_supported(self) -> bool {
        match self {
            Tier::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Tier::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Tier::Avx512Vnni => {
                Tier::Avx2.is_supported()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "aarch64")]
            Tier::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(target_arch = "aarch64")]
            Tier::Dotprod => {
                std::arch::is_aarch64_feature_detected!("neon")
                    && std::arch::is_aarch64_feature_detected!("dotprod")
            }
            #[cfg(target_arch = "aarch64")]
            Tier::I8mm => {
                std::arch::is_aarch64_feature_detected!("neon")
                    && std::arch::is_aarch64_feature_detected!("dotprod")
                    && std::arch::is_aarch64_feature_detected!("i8mm")
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The fastest tier this CPU supports.
    pub fn best() -> Self {
        [
            Tier::I8mm,
            Tier::Dotprod,
            Tier::Neon,
            Tier::Avx512Vnni,
            Tier::Avx2,
        ]
        .into_iter()
        .find(|t| t.is_supported())
        .unwrap_or(Tier::Scalar)
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors choosing a kernel tier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    #[error(
        "POCKETLM_KERNEL={0:?} is not a kernel tier; use one of scalar, avx2, avx512vnni, neon, \
         dotprod, i8mm (or unset it to pick the best for this CPU)"
    )]
    /// `POCKETLM_KERNEL` names no tier.
    UnknownTier(String),
    #[error(
        "POCKETLM_KERNEL={tier}: this CPU lacks the instructions for the {tier} kernels \
         (supported here: {supported}); unset POCKETLM_KERNEL or pick a supported tier"
    )]
    /// `POCKETLM_KERNEL` names a tier this CPU cannot run.
    UnsupportedTier {
        /// The tier asked for.
        tier: &'static str,
        /// The tiers this CPU can run, comma-separated.
        supported: String,
    },
}

/// The tiers this CPU supports.
pub fn supported_tiers() -> Vec<Tier> {
    Tier::ALL.into_iter().filter(|t| t.is_supported()).collect()
}

fn supported_list() -> String {
    supported_tiers()
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn tier_from_env() -> Result<Tier, KernelError> {
    match std::env::var("POCKETLM_KERNEL") {
        Ok(s) if !s.trim().is_empty() => {
            let t = Tier::from_name(&s).ok_or(KernelError::UnknownTier(s))?;
            if t.is_supported() {
                Ok(t)
            } else {
                Err(KernelError::UnsupportedTier {
                    tier: t.name(),
                    supported: supported_list(),
                })
            }
        }
        _ => Ok(Tier::best()),
    }
}

/// Selects the tier once (CPU features, `POCKETLM_KERNEL` override) and returns it, or the
/// error explaining why the override cannot be honoured. Call it at model load to report the
/// error instead of panicking in the first matmul.
pub fn select_tier() -> Result<Tier, KernelError> {
    static SELECTED: OnceLock<Result<Tier, KernelError>> = OnceLock::new();
    SELECTED
        .get_or_init(|| {
            let tier = tier_from_env();
            match &tier {
                Ok(t) => log::info!(
                    target: "pocketlm::kernels",
                    "kernel tier {t} chosen (supported by this CPU: {}; POCKETLM_KERNEL {})",
                    supported_list(),
                    if std::env::var_os("POCKETLM_KERNEL").is_some() { "set" } else { "unset" }
                ),
                Err(e) => log::error!(target: "pocketlm::kernels", "{e}"),
            }
            tier
        })
        .clone()
}

/// Whether the selected tier multiplies interleaved matrices of `ty` in place (it has an
/// interleaved kernel for the type), rather than de-interleaving them at every product. False
/// when no tier can be selected.
pub fn reads_interleaved_in_place(ty: GgmlType) -> bool {
    interleave::supports(ty) && select_tier().is_ok_and(|t| (t.kernels().group_gemm)(ty).is_some())
}

/// The selected tier; panics with [`select_tier`]'s message when `POCKETLM_KERNEL` is invalid.
pub fn selected_tier() -> Tier {
    select_tier().unwrap_or_else(|e| panic!("{e}"))
}

/// The selected tier's name, for logs and benchmarks.
pub fn kernel_tier() -> &'static str {
    selected_tier().name()
}

// ---------------------------------------------------------------------------------------------
// Weights

/// A quantized weight matrix: `rows` rows of `cols` elements each, ggml layout (ne0 = cols),
/// borrowed (typically from the model's mmap).
#[derive(Clone, Copy, Debug)]
pub struct QMatrix<'a> {
    /// The block format of `data`.
    pub ty: GgmlType,
    /// The raw blocks, row after row.
    pub data: &'a [u8],
    /// Output rows.
    pub rows: usize,
    /// Elements per row (the input length).
    pub cols: usize,
    /// Block order of `data` (see [`crate::quant::interleave`]).
    pub layout: BlockLayout,
}

impl<'a> QMatrix<'a> {
    /// Checks that `ty` is supported by the kernels, `cols` is a whole number of blocks, and
    /// `data` holds exactly `rows` rows and is aligned for the block type.
    pub fn new(ty: GgmlType, data: &'a [u8], rows: usize, cols: usize) -> Result<Self, QuantError> {
        if ty.vec_dot_type().is_none() {
            return Err(QuantError::Unsupported(ty));
        }
        let bl = ty.block_len();
        if !cols.is_multiple_of(bl) {
            return Err(QuantError::NotBlockMultiple {
                ty,
                n: cols,
                block_len: bl,
            });
        }
        let row_bytes = cols / bl * ty.block_bytes();
        let expected = rows
            .checked_mul(row_bytes)
            .ok_or(QuantError::LengthMismatch {
                ty,
                what: "matrix bytes (overflow)",
                expected: usize::MAX,
                got: data.len(),
            })?;
        if data.len() != expected {
            return Err(QuantError::LengthMismatch {
                ty,
                what: "matrix bytes",
                expected,
                got: data.len(),
            });
        }
        let align = if ty == GgmlType::F32 { 4 } else { 2 };
        if !(data.as_ptr() as usize).is_multiple_of(align) {
            return Err(QuantError::Misaligned { ty, align });
        }
        Ok(Self {
            ty,
            data,
            rows,
            cols,
            layout: BlockLayout::Rows,
        })
    }

    /// The same bytes read as `layout` (checked: interleaving needs a 32-element block type,
    /// Q4_K or Q6_K, and a multiple of 8 rows).
    pub fn with_layout(self, layout: BlockLayout) -> Result<Self, QuantError> {
        if layout == BlockLayout::Interleaved8
            && (!interleave::supports(self.ty) || !self.rows.is_multiple_of(interleave::GROUP_ROWS))
        {
            return Err(QuantError::NotInterleavable {
                ty: self.ty,
                rows: self.rows,
            });
        }
        Ok(Self { layout, ..self })
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        self.cols / self.ty.block_len() * self.ty.block_bytes()
    }

    /// Blocks per row.
    pub fn blocks_per_row(&self) -> usize {
        self.cols / self.ty.block_len()
    }

    /// The raw bytes of row `r` (row-major layout only: an interleaved row is not contiguous).
    pub fn row(&self, r: usize) -> &'a [u8] {
        assert_eq!(
            self.layout,
            BlockLayout::Rows,
            "QMatrix::row of an interleaved matrix"
        );
        let rb = self.row_bytes();
        &self.data[r * rb..(r + 1) * rb]
    }

    /// Dequantizes row `r` into `out` (`cols` elements), e.g. for an embedding lookup.
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) -> Result<(), QuantError> {
        match self.layout {
            BlockLayout::Rows => crate::quant::dequantize_row(self.ty, self.row(r), out),
            BlockLayout::Interleaved8 => {
                let (bb, bl) = (self.ty.block_bytes(), self.ty.block_len());
                if out.len() != self.cols {
                    return Err(QuantError::LengthMismatch {
                        ty: self.ty,
                        what: "output elements",
                        expected: self.cols,
                        got: out.len(),
                    });
                }
                let g = r / interleave::GROUP_ROWS;
                let group = &self.data[g * interleave::GROUP_ROWS * self.row_bytes()..]
                    [..interleave::GROUP_ROWS * self.row_bytes()];
                let mut block = [0u8; interleave::MAX_BLOCK_BYTES];
                for (i, o) in out.chunks_exact_mut(bl).enumerate() {
                    interleave::group_block(
                        self.ty,
                        group,
                        i,
                        r % interleave::GROUP_ROWS,
                        &mut block[..bb],
                    );
                    crate::quant::dequantize_row(self.ty, &block[..bb], o)?;
                }
                Ok(())
            }
        }
    }

    /// The blocks of rows `rows`, typed (sizes and alignment were checked by `new`; row-major
    /// layout only).
    pub(crate) fn blocks<T: bytemuck::Pod>(&self, rows: Range<usize>) -> &'a [T] {
        assert_eq!(
            self.layout,
            BlockLayout::Rows,
            "QMatrix::blocks of an interleaved matrix"
        );
        let rb = self.row_bytes();
        bytemuck::cast_slice(&self.data[rows.start * rb..rows.end * rb])
    }
}

// ---------------------------------------------------------------------------------------------
// Activations

/// Activations (m rows of `cols` f32) quantized to the dot-product partner format a weight type
/// needs (Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for Q4_1/Q5_1, Q8_K for the k-quants and IQ4_XS,
/// f32 for F32/F16/BF16 — rounded through f16/bf16 for F16/BF16 weights, as ggml does).
/// A reusable buffer: after the first call with a given size it never allocates.
#[derive(Clone, Debug, Default)]
pub struct QActs {
    fmt: Option<GgmlType>,
    m: usize,
    cols: usize,
    f: Vec<f32>,
    /// Q8_0 / Q8_1 activations in the kernels' compact layout.
    a32: Vec<Act32>,
    q8k: Vec<BlockQ8K>,
    /// Scratch for the scalar quantizers (ggml layout), converted into `a32`.
    scratch_q8_0: Vec<BlockQ8_0>,
    scratch_q8_1: Vec<BlockQ8_1>,
    scratch_sums: Vec<i16>,
    /// For m > 1: `a32`'s scales transposed per group of 8 rows ([`QActs::a32_group8`]).
    groups8: Vec<Act32x8>,
    /// For m > 1 on tiers that ask for them (i8mm): rows `2j, 2j + 1` paired per block
    /// ([`QActs::a32_pairs`]).
    pairs: Vec<Act32Pair>,
}

/// One block of two consecutive activation rows `a`, `b` in the operand layout of SMMLA (a 2×8
/// matrix per 16 bytes): quants `a[0..8], b[0..8], a[8..16], b[8..16], ...`, and `[d_a, d_b,
/// d_a, d_b]`, `[aux_a, aux_b, aux_a, aux_b]`, the lane order of a 2×2 SMMLA result. Built once
/// per batch, so the kernel does not re-pair the rows for every weight row pair.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Act32Pair {
    pub qs: [i8; 64],
    pub d: [f32; 4],
    pub aux: [u32; 4],
}

/// The `d` and `aux` of one block of 8 consecutive activation rows (see [`Act32`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Act32x8 {
    pub d: [f32; 8],
    pub aux: [u32; 8],
}

/// A quantized 32-element activation block as the kernels read it: the quants, the block scale
/// as f32 (the f16-rounded `d` ggml stores, converted exactly), and `aux`: for the Q8_0 partner
/// format the integer sum of the quants (`i32` bits), for Q8_1 the f32 of ggml's f16
/// `s = d * sum`. One record per block keeps one pointer per activation row in the kernels.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Act32 {
    pub qs: [i8; 32],
    pub d: f32,
    pub aux: u32,
}

impl Act32 {
    /// Sum of the quants (Q8_0 partner).
    #[inline(always)]
    pub fn isum(&self) -> i32 {
        self.aux as i32
    }
    /// ggml's `s` (Q8_1 partner).
    #[inline(always)]
    pub fn s(&self) -> f32 {
        f32::from_bits(self.aux)
    }
}

impl QActs {
    /// Empty buffers, grown on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Quantizes `x` (`m` rows of `cols` f32, row-major, `x.len() == m * cols`) for a matmul with
    /// weights of type `weight_ty`. Panics when `weight_ty` is not supported (check with
    /// [`QMatrix::new`]) or `cols` is not a whole number of the partner format's blocks.
    pub fn quantize_for(&mut self, weight_ty: GgmlType, x: &[f32], m: usize, cols: usize) {
        self.quantize_with(selected_kernels(), weight_ty, x, m, cols);
    }

    /// [`QActs::quantize_for`] with the quantizer of an explicit tier (tests; every tier's
    /// quantizer is bit-identical to the scalar reference). Panics if the CPU lacks the tier.
    pub fn quantize_for_tier(
        &mut self,
        tier: Tier,
        weight_ty: GgmlType,
        x: &[f32],
        m: usize,
        cols: usize,
    ) {
        self.quantize_with(tier.kernels(), weight_ty, x, m, cols);
    }

    fn quantize_with(
        &mut self,
        k: &TierKernels,
        weight_ty: GgmlType,
        x: &[f32],
        m: usize,
        cols: usize,
    ) {
        let simd = k.quantizers;
        let fmt = weight_ty.vec_dot_type().unwrap_or_else(|| {
            panic!("QActs::quantize_for: {weight_ty} weights are not supported")
        });
        assert_eq!(
            x.len(),
            m * cols,
            "QActs::quantize_for: x has {} values, expected m * cols = {m} * {cols}",
            x.len()
        );
        let bl = fmt.block_len();
        assert!(
            cols.is_multiple_of(bl),
            "QActs::quantize_for: cols = {cols} is not a multiple of {fmt}'s block length {bl}"
        );
        self.fmt = Some(fmt);
        self.m = m;
        self.cols = cols;
        let nb = m * cols / bl;
        match fmt {
            GgmlType::F32 => {
                self.f.clear();
                self.f.extend_from_slice(x);
            }
            GgmlType::F16 => {
                self.f.clear();
                match simd {
                    Some(q) => {
                        self.f.resize(x.len(), 0.0);
                        (q.round_through_f16)(x, &mut self.f);
                    }
                    None => {
                        self.f.resize(x.len(), 0.0);
                        rank::round_through_f16(x, &mut self.f);
                    }
                }
            }
            GgmlType::BF16 => {
                self.f.clear();
                self.f
                    .extend(x.iter().map(|&v| half::bf16::from_f32(v).to_f32()));
            }
            GgmlType::Q8_0 => {
                self.a32.resize(nb, Act32::zeroed());
                match simd {
                    Some(q) => (q.q8_0)(x, &mut self.a32),
                    None => {
                        self.scratch_q8_0.resize(nb, BlockQ8_0::zeroed());
                        self.scratch_sums.resize(nb, 0);
                        quantize_row_q8_0(x, &mut self.scratch_q8_0, &mut self.scratch_sums);
                        for ((a, b), &s) in self
                            .a32
                            .iter_mut()
                            .zip(&self.scratch_q8_0)
                            .zip(&self.scratch_sums)
                        {
                            *a = Act32 {
                                qs: b.qs,
                                d: f16_to_f32(b.d),
                                aux: s as i32 as u32,
                            };
                        }
                    }
                }
            }
            GgmlType::Q8_1 => {
                self.a32.resize(nb, Act32::zeroed());
                match simd {
                    Some(q) => (q.q8_1)(x, &mut self.a32),
                    None => {
                        self.scratch_q8_1.resize(nb, BlockQ8_1::zeroed());
                        quantize_row_q8_1(x, &mut self.scratch_q8_1);
                        for (a, b) in self.a32.iter_mut().zip(&self.scratch_q8_1) {
                            *a = Act32 {
                                qs: b.qs,
                                d: f16_to_f32(b.d),
                                aux: f16_to_f32(b.s).to_bits(),
                            };
                        }
                    }
                }
            }
            GgmlType::Q8_K => {
                self.q8k.resize(nb, BlockQ8K::zeroed());
                match simd {
                    Some(q) => (q.q8_k)(x, &mut self.q8k),
                    None => quantize_row_q8_k(x, &mut self.q8k),
                }
            }
            _ => unreachable!("vec_dot_type returned {fmt}"),
        }
        self.build_groups8();
        self.build_pairs(k.act_pairs);
    }

    /// Pairs activation rows `2j, 2j + 1` block by block ([`Act32Pair`]) when the tier's
    /// batched kernels read them (`wanted`) and there is a batch of 32-element blocks.
    fn build_pairs(&mut self, wanted: bool) {
        self.pairs.clear();
        if !wanted || self.m < 2 || !matches!(self.fmt, Some(GgmlType::Q8_0 | GgmlType::Q8_1)) {
            return;
        }
        let nb = self.cols / 32;
        let n_pairs = self.m / 2;
        self.pairs.resize(n_pairs * nb, Act32Pair::zeroed());
        for j in 0..n_pairs {
            let (ra, rb) = (
                &self.a32[2 * j * nb..][..nb],
                &self.a32[(2 * j + 1) * nb..][..nb],
            );
            for ((dst, a), b) in self.pairs[j * nb..][..nb].iter_mut().zip(ra).zip(rb) {
                for c in 0..4 {
                    dst.qs[16 * c..16 * c + 8].copy_from_slice(&a.qs[8 * c..8 * c + 8]);
                    dst.qs[16 * c + 8..16 * c + 16].copy_from_slice(&b.qs[8 * c..8 * c + 8]);
                }
                dst.d = [a.d, b.d, a.d, b.d];
                dst.aux = [a.aux, b.aux, a.aux, b.aux];
            }
        }
    }

    /// Rows `t, t + 1` paired ([`Act32Pair`], one per block), if they were built: `t` even and
    /// `t + 1 < m`, activations quantized with a tier that pairs them.
    #[inline(always)]
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub(crate) fn a32_pairs(&self, t: usize) -> Option<&[Act32Pair]> {
        let nb = self.cols / 32;
        if !t.is_multiple_of(2) || self.pairs.len() < (t / 2 + 1) * nb {
            return None;
        }
        Some(&self.pairs[t / 2 * nb..][..nb])
    }

    /// Transposes the block scales of each group of 8 activation rows (batched products only):
    /// a kernel multiplying one weight block by 8 activation rows loads their 8 scales as one
    /// vector instead of gathering them.
    fn build_groups8(&mut self) {
        self.groups8.clear();
        if self.m < 2 || !matches!(self.fmt, Some(GgmlType::Q8_0 | GgmlType::Q8_1)) {
            return;
        }
        let nb = self.cols / 32;
        let n_groups = self.m.div_ceil(8);
        self.groups8.resize(n_groups * nb, Act32x8::zeroed());
        for g in 0..n_groups {
            for j in 0..8.min(self.m - 8 * g) {
                let row = &self.a32[(8 * g + j) * nb..][..nb];
                for (dst, a) in self.groups8[g * nb..][..nb].iter_mut().zip(row) {
                    dst.d[j] = a.d;
                    dst.aux[j] = a.aux;
                }
            }
        }
    }

    /// Block `i`'s scales of activation rows `t..t + 8` (`t` a multiple of 8, `m > 1`); rows past
    /// `m` have zeros.
    #[inline(always)]
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(dead_code)
    )]
    pub(crate) fn a32_group8(&self, t: usize, i: usize) -> &Act32x8 {
        debug_assert!(t.is_multiple_of(8));
        &self.groups8[(t / 8) * (self.cols / 32) + i]
    }

    /// The raw quantized blocks (tests compare tiers' quantizers bit for bit).
    #[doc(hidden)]
    pub fn raw_bytes(&self) -> Vec<u8> {
        let mut v: Vec<u8> = Vec::new();
        match self.fmt {
            Some(GgmlType::Q8_0 | GgmlType::Q8_1) => {
                v.extend_from_slice(bytemuck::cast_slice(&self.a32))
            }
            Some(GgmlType::Q8_K) => v.extend_from_slice(bytemuck::cast_slice(&self.q8k)),
            Some(_) => v.extend_from_slice(bytemuck::cast_slice(&self.f)),
            None => {}
        }
        v
    }

    /// Number of activation rows.
    pub fn rows(&self) -> usize {
        self.m
    }

    /// Elements per activation row.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The partner format currently held (`None` before the first `quantize_for`).
    pub fn format(&self) -> Option<GgmlType> {
        self.fmt
    }

    /// Whether these activations can be multiplied with weights of type `weight_ty`
    /// (e.g. to reuse one quantization for the q, k and v projections).
    pub fn fits(&self, weight_ty: GgmlType) -> bool {
        self.fmt.is_some() && self.fmt == weight_ty.vec_dot_type()
    }

    pub(crate) fn f32_row(&self, t: usize) -> &[f32] {
        &self.f[t * self.cols..(t + 1) * self.cols]
    }
    /// Row `t` of Q8_0 / Q8_1 activations.
    pub(crate) fn a32_row(&self, t: usize) -> &[Act32] {
        let nb = self.cols / QK;
        &self.a32[t * nb..(t + 1) * nb]
    }
    pub(crate) fn q8k_row(&self, t: usize) -> &[BlockQ8K] {
        let nb = self.cols / QK_K;
        &self.q8k[t * nb..(t + 1) * nb]
    }
}

use bytemuck::Zeroable;

// ---------------------------------------------------------------------------------------------
// Driver

/// Computes a tile: weight rows `rows` × activation rows `ts`;
/// `res[(r - rows.start) * ts.len() + (t - ts.start)]`.
pub(crate) type TileFn = fn(&QMatrix, &QActs, Range<usize>, Range<usize>, &mut [f32]);

/// Weight rows per tile (multiple of every tier's row blocking).
const TILE_ROWS: usize = 16;
/// Activation rows per tile (most types; see [`TierKernels::tile_acts`]).
pub(crate) const TILE_ACTS: usize = 16;
/// The most activation rows per tile any tier asks for ([`TierKernels::tile_acts`]).
pub(crate) const MAX_TILE_ACTS: usize = 64;

pub(crate) fn scalar_tile(
    w: &QMatrix,
    a: &QActs,
    rows: Range<usize>,
    ts: Range<usize>,
    res: &mut [f32],
) {
    fn tile<W: bytemuck::Pod, A>(
        w: &QMatrix,
        rows: Range<usize>,
        ts: Range<usize>,
        res: &mut [f32],
        act_row: impl Fn(usize) -> A,
        dot: impl Fn(&[W], &A) -> f32,
    ) {
        let bpr = w.blocks_per_row();
        let blocks = w.blocks::<W>(rows.clone());
        let nt = ts.len();
        for (i, wr) in blocks.chunks_exact(bpr.max(1)).enumerate() {
            for (j, t) in ts.clone().enumerate() {
                res[i * nt + j] = dot(wr, &act_row(t));
            }
        }
    }
    match w.ty {
        GgmlType::F32 => tile(
            w,
            rows,
            ts,
            res,
            |t| a.f32_row(t),
            |w, a| scalar::dot_f32(w, a),
        ),
        GgmlType::F16 => tile(
            w,
            rows,
            ts,
            res,
            |t| a.f32_row(t),
            |w, a| scalar::dot_f16(w, a),
        ),
        GgmlType::BF16 => tile(
            w,
            rows,
            ts,
            res,
            |t| a.f32_row(t),
            |w, a| scalar::dot_bf16(w, a),
        ),
        GgmlType::Q4_0 => tile(
            w,
            rows,
            ts,
            res,
            |t| a.a32_row(t),
            |w, a| scalar::dot_q4_0(w, a),
        ),
        GgmlType::Q4_1 => tile(
            w,
            rows,
            ts,
            res,
            |t| a.a32_row(t),
            |w, a| scalar::dot_q4_1(w, a),
        ),
        GgmlType::Q5_0 => tile(
            w,
            rows,
            ts,
            res,
            |t| a.a32_row(t),
            |w, a| scalar::dot_q5_0(w, a),
        ),
        GgmlType::Q5_1 => tile(
            w,
            rows,
            ts,
            res,
            |t| a.a32_row(t),
            |w, a| scalar::dot_q5_1(w, a),
        ),
        GgmlType::Q8_0 => tile(
            w,
            rows,
            ts,
            res,
            |t| a.a32_row(t),
            |w, a| scalar::dot_q8_0(w, a),
        ),
        GgmlType::Q4_K => tile(
            w,
            rows,
            ts,
            res,
            |t| a.q8k_row(t),
            |w, a| scalar::dot_q4_k(w, a),
        ),
        GgmlType::Q5_K => tile(
            w,
            rows,
            ts,
            res,
            |t| a.q8k_row(t),
            |w, a| scalar::dot_q5_k(w, a),
        ),
        GgmlType::Q6_K => tile(
            w,
            rows,
            ts,
            res,
            |t| a.q8k_row(t),
            |w, a| scalar::dot_q6_k(w, a),
        ),
        GgmlType::Q2_K => tile(
            w,
            rows,
            ts,
            res,
            |t| a.q8k_row(t),
            |w, a| scalar::dot_q2_k(w, a),
        ),
        GgmlType::Q3_K => tile(
            w,
            rows,
            ts,
            res,
            |t| a.q8k_row(t),
            |w, a| scalar::dot_q3_k(w, a),
        ),
        GgmlType::IQ4_NL => tile(
            w,
            rows,
            ts,
            res,
            |t| a.a32_row(t),
            |w, a| scalar::dot_iq4_nl(w, a),
        ),
        GgmlType::IQ4_XS => tile(
            w,
            rows,
            ts,
            res,
            |t| a.q8k_row(t),
            |w, a| scalar::dot_iq4_xs(w, a),
        ),
        ty => unreachable!("QMatrix::new rejects {ty}"),
    }
}

/// The tile kernel of `k`'s tier for `ty` (the scalar one for types the tier lacks).
fn tile_fn(k: &TierKernels, ty: GgmlType) -> TileFn {
    (k.tile)(ty).unwrap_or(scalar_tile)
}

/// The tile kernel of `k`'s tier for `w`'s type and layout.
fn matrix_tile_fn(k: &TierKernels, w: &QMatrix) -> TileFn {
    match w.layout {
        BlockLayout::Rows => tile_fn(k, w.ty),
        BlockLayout::Interleaved8 => k.interleaved_tile,
    }
}

/// Where results go: a slice (single thread) or a shared raw pointer (row-disjoint threads).
trait Sink {
    /// `out[t * stride + r0 + i] = v[i * step]` for `i < n`.
    fn put_run(&mut self, t: usize, r0: usize, n: usize, v: &[f32], step: usize);
}

/// A sink for rows `first_row..` of another sink's matrix (a de-interleaved tile).
struct OffsetSink<'s, S> {
    inner: &'s mut S,
    first_row: usize,
}

impl<S: Sink> Sink for OffsetSink<'_, S> {
    #[inline(always)]
    fn put_run(&mut self, t: usize, r0: usize, n: usize, v: &[f32], step: usize) {
        self.inner.put_run(t, self.first_row + r0, n, v, step);
    }
}

struct SliceSink<'a> {
    out: &'a mut [f32],
    stride: usize,
}

impl Sink for SliceSink<'_> {
    #[inline(always)]
    fn put_run(&mut self, t: usize, r0: usize, n: usize, v: &[f32], step: usize) {
        let dst = &mut self.out[t * self.stride + r0..][..n];
        if step == 1 {
            // decode: one memcpy (the loop below is not always vectorized)
            dst.copy_from_slice(&v[..n]);
            return;
        }
        for (i, d) in dst.iter_mut().enumerate() {
            *d = v[i * step];
        }
    }
}

/// The output of [`matmul_parallel`], shared by threads that write disjoint rows.
#[derive(Clone, Copy)]
struct RawSink {
    ptr: *mut f32,
    len: usize,
    stride: usize,
}

// SAFETY: a RawSink is only created by `matmul_parallel` / `matmul_parallel_many` /
// `matmul_rows_parallel` from a `&mut [f32]` they hold for the whole `pool.run_joinable`;
// threads write disjoint indices (disjoint weight rows of one output, `stride >= w.rows`; for
// `matmul_rows_parallel`, disjoint runs of output columns, `stride >= sel.len()`).
unsafe impl Send for RawSink {}
// SAFETY: as above.
unsafe impl Sync for RawSink {}

impl RawSink {
    /// Outputs `rows` of activation row `t`, as a slice.
    ///
    /// # Safety
    /// No other reference to these outputs may exist while the slice lives (the calling thread
    /// owns them: e.g. it claimed their rows and finished writing them).
    unsafe fn rows_mut(&mut self, t: usize, rows: Range<usize>) -> &mut [f32] {
        let at = t * self.stride + rows.start;
        assert!(
            at + rows.len() <= self.len,
            "matmul output rows out of bounds"
        );
        // SAFETY: in bounds of the output slice the sink was made from (checked above), which
        // outlives the job; exclusive by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(at), rows.len()) }
    }
}

impl Sink for RawSink {
    #[inline(always)]
    fn put_run(&mut self, t: usize, r0: usize, n: usize, v: &[f32], step: usize) {
        let at = t * self.stride + r0;
        assert!(
            at + n <= self.len && (n == 0 || (n - 1) * step < v.len()),
            "matmul output index out of bounds"
        );
        if step == 1 {
            // SAFETY: as below, for the `n` consecutive values `v[..n]` (`n - 1 < v.len()`
            // checked above) and outputs `at..at + n`; `v` is the caller's tile buffer, not the
            // output, so the two do not overlap.
            unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), self.ptr.add(at), n) };
            return;
        }
        for i in 0..n {
            // SAFETY: `at + i < len` and `i * step < v.len()` (checked above), the output slice
            // outlives the parallel run, and no other thread writes index `at + i` (it belongs
            // to weight row `r0 + i`, which only this thread computes).
            unsafe { self.ptr.add(at + i).write(*v.get_unchecked(i * step)) };
        }
    }
}

fn check_shapes(w: &QMatrix, a: &QActs, out_len: usize, out_stride: usize, rows: &Range<usize>) {
    assert!(
        a.fits(w.ty),
        "matmul: activations were quantized as {:?}, but {} weights need {:?}",
        a.fmt,
        w.ty,
        w.ty.vec_dot_type()
    );
    assert_eq!(
        a.cols, w.cols,
        "matmul: activation rows have {} columns, weights {}",
        a.cols, w.cols
    );
    assert!(
        rows.start <= rows.end && rows.end <= w.rows,
        "matmul: row range {rows:?} outside 0..{}",
        w.rows
    );
    if a.m > 0 && !rows.is_empty() {
        let need = (a.m - 1) * out_stride + rows.end;
        assert!(
            out_len >= need,
            "matmul: out has {out_len} values, needs {need} (m = {}, stride = {out_stride})",
            a.m
        );
        if a.m > 1 {
            assert!(
                out_stride >= rows.end,
                "matmul: out_stride {out_stride} < rows {}",
                rows.end
            );
        }
    }
}

fn run_rows(k: &TierKernels, w: &QMatrix, a: &QActs, rows: Range<usize>, sink: &mut impl Sink) {
    if w.layout == BlockLayout::Interleaved8 && a.m >= (k.deinterleave_from_m)(w.ty) {
        if let Some(tile) = (k.interleaved_batch_tile)(w.ty) {
            // a large batch with the tier's batch kernels reading the rows in place
            run_tiles(tile, (k.tile_acts)(w.ty), w, a, rows, 0..a.m, sink);
            return;
        }
        // a large batch (prefill): rows de-interleaved once (a few at a time, into L2), then
        // the row-major kernels for all activation rows
        let mut r0 = rows.start;
        while r0 < rows.end {
            let r1 = (r0 + interleaved::DEINTERLEAVE_ROWS).min(rows.end);
            interleaved::with_row_major(w, r0..r1, |plain, sub, first_row| {
                let mut sink = OffsetSink {
                    inner: &mut *sink,
                    first_row,
                };
                let acts = (k.tile_acts)(plain.ty);
                run_tiles(tile_fn(k, plain.ty), acts, plain, a, sub, 0..a.m, &mut sink);
            });
            r0 = r1;
        }
        return;
    }
    if w.layout == BlockLayout::Interleaved8 && interleaved::run_groups(k, w, a, rows.clone(), sink)
    {
        return;
    }
    let acts = match w.layout {
        BlockLayout::Rows => (k.tile_acts)(w.ty),
        BlockLayout::Interleaved8 => TILE_ACTS,
    };
    run_tiles(matrix_tile_fn(k, w), acts, w, a, rows, 0..a.m, sink);
}

/// `rows` × activation rows `ts` in tiles of [`TILE_ROWS`] × `tile_acts` (at most
/// [`MAX_TILE_ACTS`]).
fn run_tiles(
    tile: TileFn,
    tile_acts: usize,
    w: &QMatrix,
    a: &QActs,
    rows: Range<usize>,
    ts: Range<usize>,
    sink: &mut impl Sink,
) {
    assert!((1..=MAX_TILE_ACTS).contains(&tile_acts));
    let mut res = [0.0f32; TILE_ROWS * MAX_TILE_ACTS];
    let mut r0 = rows.start;
    while r0 < rows.end {
        let r1 = (r0 + TILE_ROWS).min(rows.end);
        let mut t0 = ts.start;
        while t0 < ts.end {
            let t1 = (t0 + tile_acts).min(ts.end);
            let nt = t1 - t0;
            let res = &mut res[..(r1 - r0) * nt];
            tile(w, a, r0..r1, t0..t1, res);
            // Activation row by activation row: each `t` writes consecutive outputs. (Weight row
            // by weight row would write one value per output row, `out_stride` floats apart:
            // with a power-of-two stride those all map to one L1 set and every store misses.)
            for (j, t) in (t0..t1).enumerate() {
                sink.put_run(t, r0, r1 - r0, &res[j..], nt);
            }
            t0 = t1;
        }
        r0 = r1;
    }
}

/// `out[t * out_stride + r] = dot(weight row r, activation row t)` for every `r` in `rows` and
/// every activation row `t`, single-threaded, with the selected tier.
///
/// Panics on shape mismatches (activations quantized for another type, wrong `cols`, `out` too
/// short, or `out_stride < rows.end` with several activation rows).
pub fn matmul(w: &QMatrix, acts: &QActs, out: &mut [f32], out_stride: usize, rows: Range<usize>) {
    matmul_with_tier(selected_tier(), w, acts, out, out_stride, rows);
}

/// [`matmul`] with an explicit tier (tests and benchmarks). Panics if the CPU lacks it.
pub fn matmul_with_tier(
    tier: Tier,
    w: &QMatrix,
    acts: &QActs,
    out: &mut [f32],
    out_stride: usize,
    rows: Range<usize>,
) {
    let k = tier.kernels();
    check_shapes(w, acts, out.len(), out_stride, &rows);
    let mut sink = SliceSink {
        out,
        stride: out_stride,
    };
    run_rows(k, w, acts, rows, &mut sink);
}

/// A sink for activation rows `first_t..` of another sink's matrix.
struct TokenOffsetSink<'s, S> {
    inner: &'s mut S,
    first_t: usize,
}

impl<S: Sink> Sink for TokenOffsetSink<'_, S> {
    #[inline(always)]
    fn put_run(&mut self, t: usize, r0: usize, n: usize, v: &[f32], step: usize) {
        self.inner.put_run(t - self.first_t, r0, n, v, step);
    }
}

/// Where a piece of activation rows may start for [`matmul_acts`] on a quantized matrix: the
/// integer kernels take activation rows in groups (4 on x86, pairs with i8mm) and a row's
/// group decides how some of its weight rows are summed, so a piece keeps the whole batch's
/// bits only if it starts where a group of the batch does.
pub const ACTS_PIECE_ALIGN: usize = 8;

/// All rows of a row-major matrix `w` times the activation rows `ts` only, single-threaded,
/// with the selected tier: `out[(t - ts.start) * out_stride + r] = dot(weight row r,
/// activation row t)` (a piece of a batch computed where the rest of the piece's work is:
/// LoRA's `A·x` per piece of a prompt, F16, F32 or Q8_0). Every (weight row, activation row)
/// result is the one [`matmul`] gives, bit for bit: float types wherever the piece starts,
/// quantized ones when `ts.start` is a multiple of [`ACTS_PIECE_ALIGN`] (tested for every type
/// and tier: `row_ranges_and_parallel_match` in tests/kernels.rs). Panics on an interleaved
/// matrix, a quantized piece that starts elsewhere, `ts` outside the activations or the shape
/// mismatches of [`matmul`].
pub fn matmul_acts(
    w: &QMatrix,
    acts: &QActs,
    ts: Range<usize>,
    out: &mut [f32],
    out_stride: usize,
) {
    matmul_acts_with_tier(selected_tier(), w, acts, ts, out, out_stride);
}

/// [`matmul_acts`] with an explicit tier (tests). Panics if the CPU lacks it.
pub fn matmul_acts_with_tier(
    tier: Tier,
    w: &QMatrix,
    acts: &QActs,
    ts: Range<usize>,
    out: &mut [f32],
    out_stride: usize,
) {
    let k = tier.kernels();
    assert_eq!(
        w.layout,
        BlockLayout::Rows,
        "matmul_acts: row-major weights only"
    );
    assert!(
        matches!(w.ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
            || ts.start.is_multiple_of(ACTS_PIECE_ALIGN),
        "matmul_acts: a piece of {} activations must start at a multiple of {ACTS_PIECE_ALIGN}, not {}",
        w.ty,
        ts.start
    );
    assert!(
        ts.start <= ts.end && ts.end <= acts.m,
        "matmul_acts: activation rows {ts:?} outside 0..{}",
        acts.m
    );
    check_shapes(w, acts, usize::MAX, out_stride, &(0..w.rows));
    if ts.is_empty() {
        return;
    }
    assert!(
        out_stride >= w.rows && out.len() >= (ts.len() - 1) * out_stride + w.rows,
        "matmul_acts: out has {} values, needs {} rows of stride {out_stride} >= {}",
        out.len(),
        ts.len(),
        w.rows
    );
    let mut sink = TokenOffsetSink {
        inner: &mut SliceSink {
            out,
            stride: out_stride,
        },
        first_t: ts.start,
    };
    run_tiles(
        tile_fn(k, w.ty),
        (k.tile_acts)(w.ty),
        w,
        acts,
        0..w.rows,
        ts,
        &mut sink,
    );
}

/// Asks the CPU to start loading `part` of `parts` equal shares of `bytes` into its caches
/// (one hint per 64-byte line; returns at once). For a few tens of KB of values read once and
/// cold (a decoded token's adapter matrices): issued together the loads overlap, where the
/// kernels' own loop reaches DRAM a few lines at a time. A no-op where no hint is wired up.
pub fn prefetch_share(bytes: &[u8], part: usize, parts: usize) {
    let share = bytes.len().div_ceil(parts.max(1));
    let from = (part * share).min(bytes.len());
    let to = (from + share).min(bytes.len());
    #[cfg(target_arch = "x86_64")]
    for line in bytes[from..to].chunks(64) {
        // SAFETY: PREFETCHT0 needs SSE, which every x86_64 CPU has, and is only a hint: it
        // never faults, whatever the address (here inside `bytes`).
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (from, to);
}

/// All rows of `w` times all activation rows, split across `pool`'s threads:
/// `out[t * out_stride + r]`, `out_stride >= w.rows`.
pub fn matmul_parallel(
    pool: &ThreadPool,
    w: &QMatrix,
    acts: &QActs,
    out: &mut [f32],
    out_stride: usize,
) {
    matmul_parallel_with_tier(pool, selected_tier(), w, acts, out, out_stride);
}

/// [`matmul_parallel`] with an explicit tier. Panics if the CPU lacks it.
pub fn matmul_parallel_with_tier(
    pool: &ThreadPool,
    tier: Tier,
    w: &QMatrix,
    acts: &QActs,
    out: &mut [f32],
    out_stride: usize,
) {
    let k = tier.kernels();
    let rows = 0..w.rows;
    check_shapes(w, acts, out.len(), out_stride, &rows);
    if acts.m > 0 {
        assert!(
            out_stride >= w.rows,
            "matmul_parallel: out_stride {out_stride} < rows {}",
            w.rows
        );
    }
    let n = pool.n_threads();
    // Tiny products are not worth waking the workers.
    let work = w.rows * w.cols * acts.m.max(1);
    if n == 1 || work < 64 * 1024 || w.rows < 2 * TILE_ROWS {
        let mut sink = SliceSink {
            out,
            stride: out_stride,
        };
        run_rows(k, w, acts, rows, &mut sink);
        return;
    }
    let next = AtomicUsize::new(0);
    let sink = RawSink {
        ptr: out.as_mut_ptr(),
        len: out.len(),
        stride: out_stride,
    };
    pool.run_joinable(work as u64, |_, n| {
        // (n is 1 when the caller runs the job alone: one chunk, one stream)
        let chunk = chunk_rows(w, acts.m, n);
        let n_chunks = w.rows.div_ceil(chunk);
        let mut sink = sink;
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= n_chunks {
                break;
            }
            let r0 = c * chunk;
            run_rows(k, w, acts, r0..(r0 + chunk).min(w.rows), &mut sink);
        }
    });
}

/// Rows per chunk of a parallel product: whole tiles, claimed dynamically by the threads
/// (big.LITTLE friendly, and a thread that was descheduled leaves its share to the others:
/// `run_joinable`), up to 8 chunks per thread. For up to 8 activation rows (decode, keyboard
/// and reply batches), which stream the weights, no chunk is smaller than
/// [`MIN_STREAM_CHUNK_BYTES`] of weights (when the matrix allows): every chunk starts its
/// stream from DRAM cold (its first rows were not prefetched) and claims from a shared counter.
/// With 8 chunks per thread SmolLM2's 0.2-0.6 MB matrices ran slower on 2 threads than on 1:
/// decode was 25% slower and the keyboard's p50 20% higher (`pocketlm bench`, phase timings;
/// `pocketlm eval-keyboard`).
fn chunk_rows(w: &QMatrix, m: usize, n_threads: usize) -> usize {
    let per_thread = if m <= 8 {
        (w.data.len() / (n_threads * MIN_STREAM_CHUNK_BYTES)).clamp(1, 8)
    } else {
        8
    };
    w.rows
        .div_ceil(per_thread * n_threads)
        .next_multiple_of(TILE_ROWS)
}

/// See [`chunk_rows`].
const MIN_STREAM_CHUNK_BYTES: usize = 256 << 10;

/// A run of consecutive weight rows of a row subset, and the output column of its first row:
/// see [`OutputRows`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRun {
    /// The weight rows of the run.
    pub rows: Range<usize>,
    /// The output column of `rows.start`.
    pub at: usize,
}

/// A subset of a matrix's rows for [`matmul_rows_parallel`]: row `ids[i]` goes to output
/// column `i`. Built once (e.g. the output-head rows a keyboard can use) and reused for every
/// product; the weights stay where they are (in the file's map), nothing is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRows {
    ids: Vec<u32>,
    /// Consecutive ids grouped, each run at most `MAX_RUN_ROWS` long (the parallel unit).
    runs: Vec<RowRun>,
}

/// Longest run of [`OutputRows`]: the unit of work a thread claims.
const MAX_RUN_ROWS: usize = 512;

impl OutputRows {
    /// The rows `ids` (any order, duplicates dropped), sorted.
    pub fn new(mut ids: Vec<u32>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        let mut runs: Vec<RowRun> = Vec::new();
        for (i, &id) in ids.iter().enumerate() {
            let id = id as usize;
            match runs.last_mut() {
                Some(r) if r.rows.end == id && r.rows.len() < MAX_RUN_ROWS => r.rows.end += 1,
                _ => runs.push(RowRun {
                    rows: id..id + 1,
                    at: i,
                }),
            }
        }
        OutputRows { ids, runs }
    }

    /// The selected row ids, ascending (output column `i` is row `ids()[i]`).
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// How many rows are selected (the output length).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// No row selected.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The selected rows grouped in runs of consecutive ids, ascending.
    pub fn runs(&self) -> &[RowRun] {
        &self.runs
    }

    /// Whether every run starts and ends on a group of [`interleave::GROUP_ROWS`] rows: such
    /// a selection of an interleaved matrix is whole interleaved groups, computed in place like
    /// a row-major one's (the keyboard's first 49,152 rows of Gemma's head in its converted
    /// copy).
    pub fn in_whole_groups(&self) -> bool {
        self.runs.iter().all(|r| {
            let g = interleave::GROUP_ROWS;
            r.rows.start.is_multiple_of(g) && r.rows.end.is_multiple_of(g)
        })
    }
}

/// The rows `sel` of `w` times all activation rows, split across `pool`'s threads:
/// `out[t * out_stride + i] = dot(w[sel.ids()[i]], x[t])`, `out_stride >= sel.len()`. Each run
/// of consecutive rows is a row-major sub-matrix computed by the same tile kernels as
/// [`matmul_parallel`] (the results are identical to that product's columns). An interleaved
/// matrix needs a selection in whole groups ([`OutputRows::in_whole_groups`]): panics on
/// another, or on a row outside `w`.
pub fn matmul_rows_parallel(
    pool: &ThreadPool,
    w: &QMatrix,
    acts: &QActs,
    sel: &OutputRows,
    out: &mut [f32],
    out_stride: usize,
) {
    let k = selected_kernels();
    assert!(
        w.layout == BlockLayout::Rows || sel.in_whole_groups(),
        "matmul_rows_parallel: rows of an interleaved matrix must be whole groups of {}",
        interleave::GROUP_ROWS
    );
    let n_sel = sel.len();
    check_shapes(w, acts, out.len(), out_stride.max(n_sel), &(0..0));
    assert!(
        sel.ids.last().is_none_or(|&r| (r as usize) < w.rows),
        "matmul_rows_parallel: a selected row is outside 0..{}",
        w.rows
    );
    if acts.m == 0 || n_sel == 0 {
        return;
    }
    assert!(
        out_stride >= n_sel && out.len() >= (acts.m - 1) * out_stride + n_sel,
        "matmul_rows_parallel: out has {} values, needs {} rows of stride {out_stride} >= {n_sel}",
        out.len(),
        acts.m
    );
    let rb = w.row_bytes();
    let sub = |r: &RowRun| QMatrix {
        data: &w.data[r.rows.start * rb..r.rows.end * rb],
        rows: r.rows.len(),
        ..*w
    };
    let n = pool.n_threads();
    let work = n_sel * w.cols * acts.m;
    if n == 1 || work < 64 * 1024 {
        let mut sink = SliceSink {
            out,
            stride: out_stride,
        };
        for r in &sel.runs {
            let mut s = OffsetSink {
                inner: &mut sink,
                first_row: r.at,
            };
            run_rows(k, &sub(r), acts, 0..r.rows.len(), &mut s);
        }
        return;
    }
    let sink = RawSink {
        ptr: out.as_mut_ptr(),
        len: out.len(),
        stride: out_stride,
    };
    let next = AtomicUsize::new(0);
    let runs = &sel.runs;
    pool.run_joinable(work as u64, |_, _| {
        let mut sink = sink;
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            let Some(r) = runs.get(c) else { break };
            // Runs cover disjoint output columns `r.at..r.at + len` (built by
            // `OutputRows::new` from sorted, distinct ids), as `RawSink` requires.
            let mut s = OffsetSink {
                inner: &mut sink,
                first_row: r.at,
            };
            run_rows(k, &sub(r), acts, 0..r.rows.len(), &mut s);
        }
    });
}

/// One product of [`matmul_parallel_many`]: weights, output, output stride (`>= w.rows`).
pub type MatmulPart<'w, 'o> = (QMatrix<'w>, &'o mut [f32], usize);

/// Several products of the same activations (e.g. the q, k and v projections) as one parallel
/// job: `out[t * out_stride + r] = dot(w[r], x[t])` for each part. One job instead of one per
/// matrix saves the pool's hand-offs and lets a thread that finished its share of one matrix
/// continue with the next. Results are the same as [`matmul_parallel`] per part. At most 4
/// parts.
pub fn matmul_parallel_many(pool: &ThreadPool, acts: &QActs, parts: &mut [MatmulPart<'_, '_>]) {
    matmul_parallel_many_riding(pool, acts, parts, &NoRider);
}

/// Work that rides in a parallel product's job and finishes its outputs, e.g. an adapter's
/// low-rank update `out += B·(A·x)` of a decoded token: one job instead of two per product
/// (a decoded token's adapter on every matrix of a 30-layer model was 120 more jobs, each a
/// hand-off of the pool), and each block of outputs is updated while it is in cache.
pub trait ProductRider: Sync {
    /// The rider's cost, in the product's unit (multiply-adds), added to the job's.
    fn work(&self) -> u64;
    /// Run first by each thread of the job (`thread` of `n_threads`), before it claims rows:
    /// work that does not need the product's outputs.
    fn start(&self, thread: usize, n_threads: usize);
    /// Rows `rows` of part `part`'s output for activation row `token` hold their products:
    /// `out` is those outputs. Called once for every row of every part and token, from the
    /// thread that computed them.
    fn finish_rows(&self, part: usize, token: usize, rows: Range<usize>, out: &mut [f32]);
}

/// No rider: a plain product.
pub struct NoRider;

impl ProductRider for NoRider {
    fn work(&self) -> u64 {
        0
    }
    #[inline(always)]
    fn start(&self, _: usize, _: usize) {}
    #[inline(always)]
    fn finish_rows(&self, _: usize, _: usize, _: Range<usize>, _: &mut [f32]) {}
}

/// [`matmul_parallel_many`] with `rider` in the same job: each thread runs
/// [`ProductRider::start`], then after each chunk of rows it computed,
/// [`ProductRider::finish_rows`] for those rows (alone: the same calls in part and row order).
pub fn matmul_parallel_many_riding<R: ProductRider>(
    pool: &ThreadPool,
    acts: &QActs,
    parts: &mut [MatmulPart<'_, '_>],
    rider: &R,
) {
    const MAX: usize = 4;
    assert!(
        parts.len() <= MAX,
        "matmul_parallel_many: at most {MAX} parts"
    );
    let k = selected_kernels();
    let n = pool.n_threads();
    for (w, out, stride) in parts.iter() {
        check_shapes(w, acts, out.len(), *stride, &(0..w.rows));
        if acts.m > 0 {
            assert!(
                *stride >= w.rows,
                "matmul_parallel_many: out_stride {stride} < rows {}",
                w.rows
            );
        }
    }
    let work: usize = parts
        .iter()
        .map(|(w, _, _)| w.rows * w.cols * acts.m.max(1))
        .sum();
    if n == 1 || work < 64 * 1024 {
        rider.start(0, 1);
        for (i, (w, out, stride)) in parts.iter_mut().enumerate() {
            let mut sink = SliceSink {
                out,
                stride: *stride,
            };
            run_rows(k, w, acts, 0..w.rows, &mut sink);
            for t in 0..acts.m {
                rider.finish_rows(i, t, 0..w.rows, &mut sink.out[t * *stride..][..w.rows]);
            }
        }
        return;
    }
    // Per part: its weights and output; chunk size and first global chunk index are set per
    // job, for the threads that run it.
    #[derive(Clone, Copy)]
    struct Part<'a> {
        w: QMatrix<'a>,
        sink: RawSink,
        chunk: usize,
        first: usize,
    }
    let mut table: [Option<Part<'_>>; MAX] = [None, None, None, None];
    for (slot, (w, out, stride)) in table.iter_mut().zip(parts.iter_mut()) {
        let sink = RawSink {
            ptr: out.as_mut_ptr(),
            len: out.len(),
            stride: *stride,
        };
        *slot = Some(Part {
            w: *w,
            sink,
            chunk: 0,
            first: 0,
        });
    }
    let next = AtomicUsize::new(0);
    pool.run_joinable(work as u64 + rider.work(), |ti, n| {
        rider.start(ti, n);
        // (n is 1 when the caller runs the job alone: one chunk per part)
        let mut table = table;
        let mut total = 0;
        for p in table.iter_mut().flatten() {
            p.chunk = chunk_rows(&p.w, acts.m, n);
            p.first = total;
            total += p.w.rows.div_ceil(p.chunk);
        }
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= total {
                break;
            }
            let (i, p) = table
                .iter()
                .flatten()
                .enumerate()
                .take_while(|(_, p)| p.first <= c)
                .last()
                .expect("chunk 0 belongs to the first part");
            let r0 = (c - p.first) * p.chunk;
            let rows = r0..(r0 + p.chunk).min(p.w.rows);
            let mut sink = p.sink;
            run_rows(k, &p.w, acts, rows.clone(), &mut sink);
            for t in 0..acts.m {
                // SAFETY: this thread claimed chunk `c` (the counter gives each chunk to one
                // thread), so no other thread writes or reads these outputs during the job;
                // `run_rows` above has finished writing them.
                let out = unsafe { sink.rows_mut(t, rows.clone()) };
                rider.finish_rows(i, t, rows.clone(), out);
            }
        }
    });
}
