//! libFuzzer target `lora` (see `pocketlm_fuzz::lora`).
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: pocketlm_fuzz::contained_engine_panics_are_not_crashes(),
    |data: &[u8]| pocketlm_fuzz::lora(data)
);
