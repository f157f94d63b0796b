//! One table of kernel entry points per tier: the single place that maps a [`Tier`] to its code.
//!
//! Each tier's module defines its `KERNELS` (`scalar.rs`, `x86/avx2.rs`, `x86/avx512.rs`,
//! `arm/neon.rs`, `arm/dotprod.rs`, `arm/i8mm.rs`); [`Tier::kernels`] picks one, and the
//! selected tier's table is looked up once ([`selected_kernels`]). Code that runs a kernel asks
//! the table instead of matching on the tier.
//!
//! Safety model: the `unsafe fn` entries (and the safe wrappers that the tile and quantizer
//! entries are) need the tier's CPU features. [`Tier::kernels`] hands a table out only for a
//! tier this CPU supports, so holding a `&TierKernels` is the proof that its entries may run.

use std::sync::OnceLock;

use half::f16;

use super::act::GluAct;
use super::interleaved::GroupGemm;
use super::{Act32, Tier, TileFn};
use crate::quant::blocks::BlockQ8K;
use crate::quant::GgmlType;

/// The kernels of one tier.
pub(crate) struct TierKernels {
    /// The row-major tile kernel of a weight type (`None`: the scalar reference's).
    pub(crate) tile: fn(GgmlType) -> Option<TileFn>,
    /// The tile kernel of interleaved matrices ([`super::interleaved`]).
    pub(crate) interleaved_tile: TileFn,
    /// The tier's kernel of the interleaved layout for a weight type, if any.
    pub(crate) group_gemm: fn(GgmlType) -> Option<GroupGemm>,
    /// The tier's tile kernel of the interleaved layout for batches from
    /// `deinterleave_from_m` rows on, reading the rows in place, if any (`None`: those
    /// batches de-interleave their rows for the row-major tiles).
    pub(crate) interleaved_batch_tile: fn(GgmlType) -> Option<TileFn>,
    /// From how many activation rows an interleaved matrix goes through the batched tiles
    /// instead (`interleaved_batch_tile`, or the row-major ones on rows de-interleaved per
    /// tile); the measurements are at [`super::interleaved::deinterleave_from_m`].
    pub(crate) deinterleave_from_m: fn(GgmlType) -> usize,
    /// Activation rows per tile of a row-major weight type ([`super::TILE_ACTS`] for most;
    /// more where the tile kernel decodes its weight rows once for more activation rows).
    pub(crate) tile_acts: fn(GgmlType) -> usize,
    /// Whether the batched kernels read activation rows in pairs ([`super::Act32Pair`], built
    /// at quantization).
    pub(crate) act_pairs: bool,
    /// SIMD activation quantizers (`None`: the portable reference ones); bit-identical.
    pub(crate) quantizers: Option<Quantizers>,
    /// `gate[i] = act(gate[i]) · up[i]` (`None`: the reference; `up.len() == gate.len()`).
    pub(crate) glu: Option<GluFn>,
    /// `x[i] = silu(x[i])` (`None`: the reference).
    pub(crate) silu: Option<SiluFn>,
    /// `x[i] = cap · tanh(x[i] / cap)` (`None`: the reference).
    pub(crate) softcap: Option<SoftcapFn>,
    /// SIMD attention kernels (`None`: the scalar ones).
    pub(crate) attention: Option<AttentionKernels>,
}

/// `gate[i] = act(gate[i]) · up[i]`.
///
/// Safety: the tier's CPU features (a [`TierKernels`] is their proof); `up.len() == gate.len()`.
pub(crate) type GluFn = unsafe fn(GluAct, &mut [f32], &[f32]);

/// `x[i] = silu(x[i])`. Safety: the tier's CPU features (a [`TierKernels`] is their proof).
pub(crate) type SiluFn = unsafe fn(&mut [f32]);

/// `x[i] = cap · tanh(x[i] / cap)`. Safety: the tier's CPU features.
pub(crate) type SoftcapFn = unsafe fn(&mut [f32], f32);

/// A tier's activation quantizers (the same bits as `quant::activations`).
#[derive(Clone, Copy)]
pub(crate) struct Quantizers {
    pub(crate) q8_0: fn(&[f32], &mut [Act32]),
    pub(crate) q8_1: fn(&[f32], &mut [Act32]),
    pub(crate) q8_k: fn(&[f32], &mut [BlockQ8K]),
    /// Each value rounded to the nearest f16 and back (f16 weights' activations).
    pub(crate) round_through_f16: fn(&[f32], &mut [f32]),
}

/// A tier's attention kernels (`kernels::attention`). Safety: the tier's CPU features, a head
/// dimension that is a multiple of 8, and the slice lengths the safe entry points check.
#[derive(Clone, Copy)]
pub(crate) struct AttentionKernels {
    /// See [`super::attention::scores_f16`].
    #[allow(clippy::type_complexity)]
    pub(crate) scores: unsafe fn(&[f32], usize, usize, &[f16], usize, usize, &mut [f32], usize),
    /// See [`super::attention::accum_f16`].
    #[allow(clippy::type_complexity)]
    pub(crate) accum: unsafe fn(&[f32], usize, usize, &[f16], usize, usize, usize, &mut [f32]),
    /// See [`super::attention::exp_sum`].
    pub(crate) exp_sum: unsafe fn(&mut [f32], f32) -> f32,
}

impl Tier {
    /// This tier's kernels. Panics if this CPU cannot run the tier.
    pub(crate) fn kernels(self) -> &'static TierKernels {
        assert!(
            self.is_supported(),
            "kernel tier {self} is not supported by this CPU"
        );
        match self {
            #[cfg(target_arch = "x86_64")]
            Tier::Avx2 => &super::x86::avx2::KERNELS,
            #[cfg(target_arch = "x86_64")]
            Tier::Avx512Vnni => &super::x86::avx512::KERNELS,
            #[cfg(target_arch = "aarch64")]
            Tier::Neon => &super::arm::neon::KERNELS,
            #[cfg(target_arch = "aarch64")]
            Tier::Dotprod => &super::arm::dotprod::KERNELS,
            #[cfg(target_arch = "aarch64")]
            Tier::I8mm => &super::arm::i8mm::KERNELS,
            // the scalar tier, and tiers of another architecture (never supported here)
            _ => &super::scalar::KERNELS,
        }
    }
}

/// The selected tier's kernels, looked up once ([`super::selected_tier`]; panics as it does).
pub(crate) fn selected_kernels() -> &'static TierKernels {
    static KERNELS: OnceLock<&'static TierKernels> = OnceLock::new();
    KERNELS.get_or_init(|| super::selected_tier().kernels())
}
