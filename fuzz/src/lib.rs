//! PocketLM's fuzz targets (see `targets`), the seeds they start from and a stable mutator.

mod targets;
pub use targets::*;
