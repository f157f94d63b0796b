//! libFuzzer target `chat_template` (see `pocketlm_fuzz::chat_template`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pocketlm_fuzz::chat_template(data));
