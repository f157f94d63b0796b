//! libFuzzer target `constraint` (see `pocketlm_fuzz::constraint`).
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: pocketlm_fuzz::contained_engine_panics_are_not_crashes(),
    |data: &[u8]| pocketlm_fuzz::constraint(data)
);
