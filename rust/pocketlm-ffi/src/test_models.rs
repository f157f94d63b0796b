//! The real models the controllers' unit tests run on (scripts/fetch-models.sh puts them in
//! models/).

use crate::model::Model;
use std::sync::{Arc, OnceLock};

/// SmolLM2-135M-Instruct Q4_1's path.
pub(crate) const SMOLLM2: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../models/SmolLM2-135M-Instruct.Q4_1.gguf"
);

/// SmolLM2, loaded once per test process.
pub(crate) fn smollm2() -> Arc<Model> {
    static M: OnceLock<Arc<Model>> = OnceLock::new();
    M.get_or_init(|| {
        assert!(
            std::path::Path::new(SMOLLM2).is_file(),
            "{SMOLLM2} is missing: run scripts/fetch-models.sh"
        );
        Model::load(SMOLLM2.into()).unwrap()
    })
    .clone()
}
