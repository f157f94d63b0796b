//! libFuzzer target `reply_warm` (see `pocketlm_fuzz::reply_warm`).
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: pocketlm_fuzz::contained_engine_panics_are_not_crashes(),
    |data: &[u8]| pocketlm_fuzz::reply_warm(data)
);
