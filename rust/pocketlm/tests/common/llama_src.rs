//! Where llama.cpp's source (the llama_cpp_python 0.3.36 sdist's `vendor/llama.cpp`, extracted
//! by `scripts/fetch-llama-src.sh`) lives: `$POCKETLM_LLAMA_SRC`, else
//! `$POCKETLM_CACHE/llama.cpp-0.3.36/src` (`~/.cache/pocketlm/...`). Its tokenizer suite and
//! chat templates are test inputs; a missing tree is a failure, never a skip.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn llama_src() -> PathBuf {
    let dir = match std::env::var_os("POCKETLM_LLAMA_SRC") {
        Some(d) => PathBuf::from(d),
        None => {
            let cache = std::env::var_os("POCKETLM_CACHE")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pocketlm"))
                })
                .expect("neither POCKETLM_CACHE nor HOME is set");
            cache.join("llama.cpp-0.3.36/src")
        }
    };
    assert!(
        dir.join(".extracted").exists() && dir.join("models").is_dir(),
        "llama.cpp's source is missing at {}: run `bash scripts/fetch-llama-src.sh` \
         (`make test` does it; it downloads the llama_cpp_python 0.3.36 sdist from PyPI once)",
        dir.display()
    );
    dir
}
