//! libFuzzer target `reply` (see `pocketlm_fuzz::reply`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pocketlm_fuzz::reply(data));
