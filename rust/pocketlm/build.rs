//! Packs the reply tables built into the library (`src/reply/*.tsv`, `catalog.txt`): each is
//! written to `OUT_DIR` deflated, with its length, and `reply::packed` inflates it when the
//! table is first parsed. The tables are 1.2 MB of text that deflates to about 0.36 MB, and the
//! stripped library is what an app ships (docs/structured.md#size). The text files stay the
//! source of truth that the trainers write and reviews read.

use std::path::Path;

/// The packed tables: source file under `src/reply/`.
const TABLES: &[&str] = &[
    "catalog.txt",
    "cluster_prior.tsv",
    "sensitive_words.tsv",
    "reading_head_smollm2.tsv",
    "reader_acceptance.tsv",
];

fn main() {
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    for name in TABLES {
        let src = Path::new("src/reply").join(name);
        println!("cargo:rerun-if-changed={}", src.display());
        let text = std::fs::read(&src).unwrap_or_else(|e| panic!("reading {}: {e}", src.display()));
        // Level 9: packing runs once per build, inflating costs the same at any level.
        let mut packed = (text.len() as u64).to_le_bytes().to_vec();
        packed.extend(miniz_oxide::deflate::compress_to_vec(&text, 9));
        let dest = Path::new(&out).join(format!("{name}.deflate"));
        std::fs::write(&dest, packed).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
    }
}
