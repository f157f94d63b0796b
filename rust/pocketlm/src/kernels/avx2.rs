//! x86_64 AVX2 + FMA + F16C kernels.

use super::TileFn;
use crate::quant::GgmlType;

pub(super) fn tile_fn(ty: GgmlType) -> Option<TileFn> {
    let _ = ty;
    None
}
