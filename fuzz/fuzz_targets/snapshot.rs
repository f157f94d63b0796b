//! libFuzzer target `snapshot` (see `pocketlm_fuzz::snapshot`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pocketlm_fuzz::snapshot(data));
