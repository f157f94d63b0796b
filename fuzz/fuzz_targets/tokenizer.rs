//! libFuzzer target `tokenizer` (see `pocketlm_fuzz::tokenizer`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pocketlm_fuzz::tokenizer(data));
