//! The reply tables built into the library, stored deflated. `build.rs` packs each text file
//! of this directory (the catalog, the word scorer, the cluster prior, the reading heads) as
//! its length then its raw deflate stream; a table is inflated when it is first parsed and the
//! text dropped once parsed. The tables are 1.2 MB of text that deflate to about 0.36 MB of
//! the stripped library an app ships (docs/structured.md#size); inflating them all takes a
//! few milliseconds, once per process. `miniz_oxide` (the deflate implementation Rust's own
//! standard library uses) does both sides.

use super::catalog::CatalogError;

/// One packed table: its source file name and its packed bytes.
pub(crate) struct Packed {
    /// The source file under `src/reply/` (for errors).
    pub(crate) name: &'static str,
    /// Little-endian u64 length of the text, then its raw deflate stream.
    pub(crate) bytes: &'static [u8],
}

/// The packed form of `src/reply/$name`, as `build.rs` wrote it.
macro_rules! packed {
    ($name:literal) => {
        $crate::reply::packed::Packed {
            name: $name,
            bytes: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".deflate")),
        }
    };
}
pub(crate) use packed;

impl Packed {
    /// The table's text. An error here means the library was built wrongly (the bytes are
    /// compiled in), so it names the table rather than a line.
    pub(crate) fn text(&self) -> Result<String, CatalogError> {
        let err = |message: String| CatalogError {
            line: 0,
            message: format!("the built-in table {} is damaged: {message}", self.name),
        };
        let (len, stream) = self
            .bytes
            .split_first_chunk::<8>()
            .ok_or_else(|| err("shorter than its length field".into()))?;
        let len = usize::try_from(u64::from_le_bytes(*len))
            .map_err(|_| err("its length does not fit in memory".into()))?;
        let bytes = miniz_oxide::inflate::decompress_to_vec_with_limit(stream, len)
            .map_err(|e| err(format!("inflating failed ({:?})", e.status)))?;
        if bytes.len() != len {
            return Err(err(format!(
                "{} bytes where {len} were packed",
                bytes.len()
            )));
        }
        String::from_utf8(bytes).map_err(|_| err("not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every packed table inflates to its source file, byte for byte.
    #[test]
    fn packed_tables_inflate_to_their_sources() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/reply");
        for p in [
            packed!("catalog.txt"),
            packed!("cluster_prior.tsv"),
            packed!("sensitive_words.tsv"),
            packed!("reading_head_smollm2.tsv"),
            packed!("reader_acceptance.tsv"),
        ] {
            let source = std::fs::read_to_string(dir.join(p.name)).unwrap();
            let text = p.text().unwrap();
            assert_eq!(text, source, "{}", p.name);
            assert!(p.bytes.len() < source.len(), "{} packs", p.name);
        }
    }

    /// A damaged table is an error that names it, never a panic.
    #[test]
    fn damaged_tables_are_named_errors() {
        let good = packed!("catalog.txt").bytes;
        let mut flipped = good.to_vec();
        flipped[20] ^= 0xff;
        let mut longer = good.to_vec();
        longer[..8].copy_from_slice(&(u64::MAX).to_le_bytes());
        let mut shorter = good.to_vec();
        shorter[..8].copy_from_slice(&10u64.to_le_bytes());
        let cut = good[..good.len() / 2].to_vec();
        for (what, bytes) in [
            ("empty", Vec::new()),
            ("flipped", flipped),
            ("longer", longer),
            ("shorter", shorter),
            ("cut", cut),
        ] {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            let p = Packed {
                name: "catalog.txt",
                bytes,
            };
            match p.text() {
                Err(e) => assert!(e.message.contains("catalog.txt"), "{what}: {e}"),
                // A flipped bit may still inflate; then it must not equal the source.
                Ok(t) => assert_ne!(t, packed!("catalog.txt").text().unwrap(), "{what}"),
            }
        }
    }
}
