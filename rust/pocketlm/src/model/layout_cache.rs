//! The layout cache: the converted copy of a model (its weight matrices in the interleaved
//! layout, see [`crate::convert`]) made on first load in a directory the app gives, so that an
//! app gets the fast decode layout from the file as downloaded, without running
//! `pocketlm convert`. The copy is memory-mapped like any model file (zero-copy); a cache
//! problem never fails the load: the original file is used and the status says why.

use crate::convert::{interleavable, interleave_gguf, ConvertTarget};
use crate::gguf::GgufFile;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How [`Model::load_with`](crate::Model::load_with) loads a model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// A directory for the converted copy of the model (created if missing; one copy per
    /// model file, as large as the model) and for the tokenizer's tables (a few to 20 MB per
    /// vocabulary, mapped instead of built on the heap: [`Tokenizer::tables_file`]). On
    /// Android `context.noBackupFilesDir` or `cacheDir`, on iOS the Caches directory. `None`:
    /// the file is mapped as it is and the tables are built on the heap.
    ///
    /// [`Tokenizer::tables_file`]: crate::Tokenizer::tables_file
    pub layout_cache: Option<PathBuf>,
}

/// What the layout cache did for a loaded model ([`Model::layout`](crate::Model::layout)).
#[derive(Debug, Clone, PartialEq)]
pub enum LayoutCacheStatus {
    /// No cache directory was given ([`Model::load`](crate::Model::load)): the file runs as it
    /// is.
    NotRequested,
    /// The file has nothing to convert (it is already converted, or none of its weight
    /// matrices has an interleavable type): it runs as it is, and nothing was written.
    NotNeeded,
    /// A valid converted copy of this exact file was in the cache and is what runs.
    Hit {
        /// The converted copy that is mapped.
        path: PathBuf,
    },
    /// The converted copy was written now (first load, or the source changed, or the copy
    /// there was invalid) and is what runs.
    Converted {
        /// The converted copy that is mapped.
        path: PathBuf,
        /// Milliseconds the conversion took (reading, interleaving and writing the copy).
        ms: f64,
        /// Why a copy already at that path was discarded (truncated, unparsable, not matching
        /// the source), if there was one.
        discarded: Option<String>,
    },
    /// The cache could not be used (directory not writable, disk full, conversion failed):
    /// the original file runs, correct but with the slower layout.
    Fallback {
        /// What went wrong, for logs.
        reason: String,
    },
}

impl LayoutCacheStatus {
    /// Whether the interleaved copy is what runs (a hit or a fresh conversion).
    pub fn uses_copy(&self) -> bool {
        matches!(self, Self::Hit { .. } | Self::Converted { .. })
    }
}

/// Bumped when the interleaved layout, the key or a tier's set of types read in place changes
/// (v3: x86 AVX-512 reads Q4_K and Q6_K in place): every older copy stops matching.
const CACHE_FORMAT: &str = "pocketlm-layout-cache-v3";
/// The ending of every cached copy's name (only such files are ever removed).
const SUFFIX: &str = ".interleaved.gguf";
/// Bytes hashed at each sampled position of the source.
const SAMPLE_BYTES: usize = 4096;
/// Positions sampled evenly over the source (plus its last bytes).
const SAMPLES: usize = 16;

/// Whether `file` has a weight matrix the conversion for this CPU would interleave.
pub(crate) fn needs_conversion(file: &GgufFile) -> bool {
    file.tensors()
        .iter()
        .any(|t| interleavable(t, ConvertTarget::ThisCpu))
}

/// The name of the converted copy of `source`: `{stem}.{place}.{key}.interleaved.gguf`.
///
/// `place` (a hash of the source's canonical path) ties copies to one source file, so that
/// converting it again can remove its older copies and nothing else. `key` binds the copy to
/// the source's exact contents and is what invalidates it. It hashes:
/// - the source's size, modification time (nanoseconds) and, on Unix, its device and inode:
///   any write through the file system (a download replacing the file, an app update, `touch`)
///   changes the modification time or the inode, at the cost of one `fstat`;
/// - its [fingerprint](GgufFile::fingerprint) (header, metadata and tensor table): a file with
///   other hyper-parameters, vocabulary or tensor types never matches even if a copy kept its
///   time stamp (`cp -p`, archive extraction);
/// - 16 blocks of 4 KiB sampled evenly through the file plus its last 4 KiB: weights rewritten
///   while keeping size, time and table are very likely caught, without reading the whole
///   file at every load (hashing the full file would take as long as mapping it does not);
/// - [`CACHE_FORMAT`]: a change of the interleaved layout retires every older copy;
/// - the kernel tier: which types are converted depends on it ([`ConvertTarget::ThisCpu`]).
///
/// Not caught: a weight byte outside the sampled blocks changed with the size, time stamp and
/// inode restored by hand. A cached copy damaged after it was written is caught only if its
/// size or tensor table no longer match (see [`validate`]).
fn copy_name(source: &GgufFile) -> std::io::Result<(String, String)> {
    let meta = source.file_metadata()?;
    let mut key = Sha256::new();
    key.update(CACHE_FORMAT.as_bytes());
    let tier = crate::kernels::select_tier().map_err(std::io::Error::other)?;
    key.update(tier.name().as_bytes());
    key.update(meta.len().to_le_bytes());
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    key.update(mtime_ns.to_le_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        key.update(meta.dev().to_le_bytes());
        key.update(meta.ino().to_le_bytes());
    }
    key.update(source.fingerprint().map_err(std::io::Error::other)?);
    let bytes = source.bytes();
    let span = bytes.len().saturating_sub(SAMPLE_BYTES);
    for i in 0..=SAMPLES {
        let at = span / SAMPLES * i;
        key.update(&bytes[at..(at + SAMPLE_BYTES).min(bytes.len())]);
    }
    // The samples were read from the map: make sure it was not rewritten meanwhile.
    source.check_unchanged().map_err(std::io::Error::other)?;

    let path = source.path();
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let place = Sha256::digest(canonical.to_string_lossy().as_bytes());
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    let prefix = format!("{stem}.{}.", hex(&place[..6]));
    let name = format!("{prefix}{}{SUFFIX}", hex(&key.finalize()[..12]));
    Ok((prefix, name))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why `copy` cannot stand in for `source` (`None`: it can). The conversion changes only
/// tensor data and type ids, so a good copy has the source's size and tensor table (names,
/// shapes, offsets, sizes) and nothing left to interleave. A truncated copy fails to parse or
/// differs in size.
fn validate(source: &GgufFile, copy: &GgufFile) -> Option<String> {
    if copy.file_len() != source.file_len() {
        return Some(format!(
            "its size is {} bytes, the source's {}",
            copy.file_len(),
            source.file_len()
        ));
    }
    if copy.keys() != source.keys() || copy.tensors().len() != source.tensors().len() {
        return Some("its metadata or tensor list differs from the source's".into());
    }
    for (c, s) in copy.tensors().iter().zip(source.tensors()) {
        if c.name != s.name || c.dims != s.dims || c.offset != s.offset || c.size != s.size {
            return Some(format!("tensor {:?} differs from the source's", s.name));
        }
    }
    if needs_conversion(copy) {
        return Some("it is not converted".into());
    }
    None
}

/// Opens the converted copy of `source` in `dir`, writing it first if it is missing or
/// invalid. `Err` is the reason to fall back to `source`.
pub(crate) fn open_copy(
    source: &GgufFile,
    dir: &Path,
) -> Result<(GgufFile, LayoutCacheStatus), String> {
    let (prefix, name) =
        copy_name(source).map_err(|e| format!("cannot identify the source file: {e}"))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the cache directory {}: {e}", dir.display()))?;
    let path = dir.join(&name);
    let mut discarded = None;
    match GgufFile::open(&path) {
        Ok(copy) => match validate(source, &copy) {
            None => {
                let status = LayoutCacheStatus::Hit { path };
                return Ok((copy, status));
            }
            Some(why) => discarded = Some(why),
        },
        Err(crate::gguf::GgufError::Io { source: e, .. })
            if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => discarded = Some(format!("it does not parse: {e}")),
    }
    if discarded.is_some() {
        // Renaming the new copy over it would do too; removing it first frees its space
        // before the new one is written.
        let _ = std::fs::remove_file(&path);
    }
    let t0 = Instant::now();
    interleave_gguf(source, &path, ConvertTarget::ThisCpu)
        .map_err(|e| format!("cannot write the converted copy: {e}"))?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let copy = GgufFile::open(&path)
        .map_err(|e| format!("the converted copy just written does not open: {e}"))?;
    if let Some(why) = validate(source, &copy) {
        let _ = std::fs::remove_file(&path);
        return Err(format!("the converted copy just written is invalid: {why}"));
    }
    remove_stale(dir, &prefix, &name);
    let status = LayoutCacheStatus::Converted {
        path,
        ms,
        discarded,
    };
    Ok((copy, status))
}

/// Removes the other copies of the same source (older versions of it). A process still
/// mapping one keeps its contents until it unmaps it. Temporary files of conversions do not
/// end with [`SUFFIX`]: one is removed only when it was last written over an hour ago (left by
/// a conversion that was killed), never while a conversion may still be writing it.
fn remove_stale(dir: &Path, prefix: &str, keep: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let partial = format!("{SUFFIX}.partial-");
    // The tokenizer's tables of a copy are named after it: `{copy's stem}.{key}.tokenizer-tables`.
    let keep_stem = keep.strip_suffix(".gguf").unwrap_or(keep);
    let abandoned = |entry: &std::fs::DirEntry| {
        entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600))
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(prefix) || name == keep {
            continue;
        }
        let stale_tables =
            name.ends_with(crate::tokenizer::TABLES_FILE_SUFFIX) && !name.starts_with(keep_stem);
        if name.ends_with(SUFFIX) || stale_tables || (name.contains(&partial) && abandoned(&entry))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
