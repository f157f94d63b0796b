//! libFuzzer target `keyboard` (see `pocketlm_fuzz::keyboard`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pocketlm_fuzz::keyboard(data));
