//! libFuzzer target `gguf_model` (see `pocketlm_fuzz::gguf_model`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pocketlm_fuzz::gguf_model(data));
