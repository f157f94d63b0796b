//! The tokenizer's large tables in a file of the model's cache directory, mapped instead of
//! built on the heap.
//!
//! A 262k-token vocabulary with 515k merges (Gemma 4) needs 17.5 MiB of tables: token texts and
//! their detokenized forms, the text → id index, the merge index. Built at load they are
//! anonymous memory for the model's life, more than the KV cache of a short session, and they
//! take a few hundred milliseconds to build on a phone. The first load with a cache directory
//! writes them to `{stem}.{fingerprint}.tokenizer-tables`; every later load maps that file:
//! clean file pages, which the OS shares and can drop under pressure, and no building.
//!
//! A file is used only if everything checks: its header (format, byte order, the GGUF
//! fingerprint of the model's metadata, the vocabulary size), a CRC-32 of the rest, and each
//! table's structure (offsets in range, index sizes that leave empty slots, ids inside the
//! vocabulary), so a damaged or hostile file can cost a rebuild, never a panic or a hang.
//! Files are written under a temporary name and renamed, never rewritten in place; a file
//! truncated in place while mapped is caught by [`TablesFile::check_unchanged`], which
//! sessions call before every evaluation, as for the model file.

use super::table::{Arena, Flat, PairMap, PieceMap};
use crate::gguf::{map_read_only, FileStamp, GgufFile};
use memmap2::Mmap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"PLMTOKT\0";
/// Bumped when a table's layout or hashing changes: older files stop matching and are rebuilt.
const VERSION: u32 = 1;
const BYTE_ORDER: u32 = 0x0102_0304;
/// The ending of every tables file's name (the layout cache removes those of its stale copies).
pub(crate) const SUFFIX: &str = ".tokenizer-tables";
/// magic, version, byte order, fingerprint, vocabulary size, CRC-32 and padding.
const FIXED: usize = 8 + 4 + 4 + 32 + 8 + 4 + 4;
/// Each section's offset and element count.
const SECTIONS: usize = 8;
const HEADER: usize = FIXED + SECTIONS * 16;

/// The tables a tokenizer keeps for its life, wherever they live.
pub(crate) struct Tables {
    pub(crate) pieces: Arena,
    pub(crate) rendered: Arena,
    pub(crate) map: PieceMap,
    pub(crate) merges: PairMap,
    pub(crate) scores: Flat<f32>,
}

/// The open cache file the mapped tables come from.
#[derive(Debug)]
pub(crate) struct TablesFile {
    path: PathBuf,
    file: File,
    stamp: FileStamp,
}

impl TablesFile {
    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What changed in the file since it was mapped, if anything (one `fstat`).
    pub(crate) fn check_unchanged(&self) -> Result<(), String> {
        match self.stamp.changes_in(&self.file) {
            None => Ok(()),
            Some(what) => Err(format!(
                "tokenizer tables file {} changed after it was mapped ({what}); load the model again",
                self.path.display()
            )),
        }
    }
}

/// The cache file's name for `model`: `{stem}.{first 8 bytes of its fingerprint}` + [`SUFFIX`].
fn file_name(model: &GgufFile, fingerprint: &[u8; 32]) -> String {
    let stem = model
        .path()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let key: String = fingerprint[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{stem}.{key}{SUFFIX}")
}

/// The tables of `model`'s `n_vocab`-token vocabulary from its file in `dir`: `Ok(None)` when
/// there is no file yet, `Err` with the reason when there is one that cannot be used.
pub(crate) fn open(
    dir: &Path,
    model: &GgufFile,
    n_vocab: usize,
) -> Result<Option<(Tables, TablesFile)>, String> {
    let fingerprint = model.fingerprint().map_err(|e| e.to_string())?;
    let path = dir.join(file_name(model, &fingerprint));
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() || (meta.len() as usize) < HEADER {
        return Err(format!("{} is not a tables file", path.display()));
    }
    let stamp = FileStamp::of(&meta);
    let map = Arc::new(map_read_only(&file).map_err(|e| e.to_string())?);
    let tables = read(&map, &fingerprint, n_vocab)
        .map_err(|why| format!("{} cannot be used: {why}", path.display()))?;
    Ok(Some((tables, TablesFile { path, file, stamp })))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks the header and the CRC, then each table (the map holds at least [`HEADER`] bytes).
fn read(map: &Arc<Mmap>, fingerprint: &[u8; 32], n_vocab: usize) -> Result<Tables, &'static str> {
    let b: &[u8] = map;
    if &b[..8] != MAGIC || u32_at(b, 8) != VERSION {
        return Err("not this version's format");
    }
    if u32_at(b, 12) != BYTE_ORDER {
        return Err("written on a CPU of the other byte order");
    }
    if &b[16..48] != fingerprint {
        return Err("written for another model file");
    }
    if u64_at(b, 48) != n_vocab as u64 {
        return Err("written for another vocabulary size");
    }
    if crc32fast::hash(&b[FIXED..]) != u32_at(b, 56) {
        return Err("its checksum does not match (damaged)");
    }
    let section = |i: usize| {
        let at = FIXED + 16 * i;
        (u64_at(b, at) as usize, u64_at(b, at + 8) as usize)
    };
    fn flat<T: bytemuck::Pod>(map: &Arc<Mmap>, (start, len): (usize, usize)) -> Option<Flat<T>> {
        Flat::mapped(map, start, len)
    }
    let bad = "a table is out of range or inconsistent";
    let arena =
        |i: usize| Arena::from_parts(flat(map, section(i))?, flat(map, section(i + 1))?, n_vocab);
    let pieces = arena(0).ok_or(bad)?;
    let rendered = arena(2).ok_or(bad)?;
    let piece_map = PieceMap::from_parts(flat(map, section(4)).ok_or(bad)?, n_vocab).ok_or(bad)?;
    let merges = PairMap::from_parts(
        flat(map, section(5)).ok_or(bad)?,
        flat(map, section(6)).ok_or(bad)?,
        n_vocab,
    )
    .ok_or(bad)?;
    let scores: Flat<f32> = flat(map, section(7)).ok_or(bad)?;
    if !scores.is_empty() && scores.len() != n_vocab {
        return Err(bad);
    }
    Ok(Tables {
        pieces,
        rendered,
        map: piece_map,
        merges,
        scores,
    })
}

/// Writes `tables` for `model` into `dir` (a temporary file renamed into place) and removes the
/// other tables files of the same model name. Returns the file's path.
pub(crate) fn write(dir: &Path, model: &GgufFile, tables: &Tables) -> Result<PathBuf, String> {
    let fingerprint = model.fingerprint().map_err(|e| e.to_string())?;
    let name = file_name(model, &fingerprint);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(&name);
    // Unique per process and call: concurrent loads never write into one temporary file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nth = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}-{nth}.tmp", std::process::id()));
    let result = write_to(&tmp, &fingerprint, tables).and_then(|()| {
        std::fs::rename(&tmp, &path).map_err(|e| format!("cannot rename into {name}: {e}"))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    remove_older(dir, &name);
    Ok(path)
}

fn write_to(tmp: &Path, fingerprint: &[u8; 32], t: &Tables) -> Result<(), String> {
    let (pieces_bytes, pieces_offs) = t.pieces.parts();
    let (rendered_bytes, rendered_offs) = t.rendered.parts();
    let (merge_slots, merged) = t.merges.parts();
    let sections: [&[u8]; SECTIONS] = [
        pieces_bytes,
        bytemuck::cast_slice(pieces_offs),
        rendered_bytes,
        bytemuck::cast_slice(rendered_offs),
        bytemuck::cast_slice(t.map.parts()),
        bytemuck::cast_slice(merge_slots),
        bytemuck::cast_slice(merged),
        bytemuck::cast_slice(&t.scores),
    ];
    let counts = [
        pieces_bytes.len(),
        pieces_offs.len(),
        rendered_bytes.len(),
        rendered_offs.len(),
        t.map.parts().len(),
        merge_slots.len(),
        merged.len(),
        t.scores.len(),
    ];
    let n_vocab = pieces_offs.len() - 1;
    // Sections follow the header, each starting on 8 bytes (the widest element).
    let mut table = Vec::with_capacity(SECTIONS * 16);
    let mut at = HEADER;
    let mut starts = [0usize; SECTIONS];
    for (i, s) in sections.iter().enumerate() {
        starts[i] = at;
        table.extend_from_slice(&(at as u64).to_le_bytes());
        table.extend_from_slice(&(counts[i] as u64).to_le_bytes());
        at = (at + s.len()).next_multiple_of(8);
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&table);
    let mut pos = HEADER;
    let pad = [0u8; 8];
    let mut body: Vec<&[u8]> = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        if starts[i] > pos {
            body.push(&pad[..starts[i] - pos]);
        }
        body.push(s);
        pos = starts[i] + s.len();
    }
    for part in &body {
        crc.update(part);
    }
    let mut fixed = Vec::with_capacity(FIXED);
    fixed.extend_from_slice(MAGIC);
    fixed.extend_from_slice(&VERSION.to_le_bytes());
    fixed.extend_from_slice(&BYTE_ORDER.to_le_bytes());
    fixed.extend_from_slice(fingerprint);
    fixed.extend_from_slice(&(n_vocab as u64).to_le_bytes());
    fixed.extend_from_slice(&crc.finalize().to_le_bytes());
    fixed.extend_from_slice(&0u32.to_le_bytes());
    let io = |e: std::io::Error| format!("cannot write {}: {e}", tmp.display());
    let mut f = std::io::BufWriter::new(File::create(tmp).map_err(io)?);
    f.write_all(&fixed).map_err(io)?;
    f.write_all(&table).map_err(io)?;
    for part in &body {
        f.write_all(part).map_err(io)?;
    }
    f.flush().map_err(io)?;
    let f = f.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)
}

/// Removes the tables files of earlier versions of the model named like `keep`.
fn remove_older(dir: &Path, keep: &str) {
    let Some(stem) = keep
        .strip_suffix(SUFFIX)
        .and_then(|s| s.rsplit_once('.'))
        .map(|(stem, _)| format!("{stem}."))
    else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(key) = name
            .strip_prefix(&stem)
            .and_then(|rest| rest.strip_suffix(SUFFIX))
        else {
            continue;
        };
        if name != keep && key.len() == 16 && key.bytes().all(|c| c.is_ascii_hexdigit()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::synthetic::{SyntheticArch, SyntheticModel};
    use crate::quant::GgmlType;
    use crate::Tokenizer;

    /// A synthetic model file of `arch` in a fresh directory, with its cache directory.
    fn model(arch: SyntheticArch) -> (tempfile::TempDir, GgufFile, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, SyntheticModel::new(arch, GgmlType::F32).to_bytes()).unwrap();
        let cache = dir.path().join("cache");
        (dir, GgufFile::open(&path).unwrap(), cache)
    }

    /// Every token's texts and a few encodings agree between two tokenizers.
    fn assert_same(a: &Tokenizer, b: &Tokenizer) {
        assert_eq!(a.vocab_size(), b.vocab_size());
        for id in 0..a.vocab_size() as u32 {
            assert_eq!(
                a.token_bytes_special(id),
                b.token_bytes_special(id),
                "token {id}"
            );
            assert_eq!(a.token_text(id), b.token_text(id), "token {id}");
        }
        for text in ["Hello world, it's 2026!", "  ünïcödé  😀\n\ttabs", ""] {
            assert_eq!(
                a.encode(text, true, true),
                b.encode(text, true, true),
                "{text:?}"
            );
        }
    }

    #[test]
    fn written_then_mapped_tables_tokenize_the_same() {
        for arch in [SyntheticArch::Llama, SyntheticArch::Gemma3] {
            let (_dir, file, cache) = model(arch);
            let heap = Tokenizer::from_gguf(&file).unwrap();
            assert!(heap.tables_file().is_none());
            let first = Tokenizer::from_gguf_cached(&file, Some(&cache)).unwrap();
            let path = first.tables_file().expect("written and mapped").to_owned();
            assert!(first.pieces.parts().0.is_mapped() && first.map.parts().is_mapped());
            let second = Tokenizer::from_gguf_cached(&file, Some(&cache)).unwrap();
            assert_eq!(second.tables_file(), Some(path.as_path()));
            assert_same(&heap, &first);
            assert_same(&heap, &second);
            assert!(second.check_tables_file().is_ok());
        }
    }

    /// Rewrites the CRC after a change, as a hostile writer who knows the format would.
    fn reseal(bytes: &mut [u8]) {
        let crc = crc32fast::hash(&bytes[FIXED..]);
        bytes[56..60].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn a_damaged_or_hostile_file_is_rebuilt_never_trusted() {
        let (_dir, file, cache) = model(SyntheticArch::Llama);
        let heap = Tokenizer::from_gguf(&file).unwrap();
        let path = Tokenizer::from_gguf_cached(&file, Some(&cache))
            .unwrap()
            .tables_file()
            .unwrap()
            .to_owned();
        let good = std::fs::read(&path).unwrap();
        let section = |i: usize| {
            let at = FIXED + 16 * i;
            (u64_at(&good, at) as usize, u64_at(&good, at + 8) as usize)
        };
        let n = heap.vocab_size();
        let damaged: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("header only", good[..HEADER].to_vec()),
            ("truncated", good[..good.len() - 3].to_vec()),
            ("a flipped bit", {
                let mut b = good.clone();
                let last = b.len() - 1;
                b[last] ^= 1;
                b
            }),
            ("another version", {
                let mut b = good.clone();
                b[8] ^= 0xff;
                b
            }),
            ("another fingerprint", {
                let mut b = good.clone();
                b[20] ^= 1;
                b
            }),
            ("decreasing offsets, resealed", {
                let mut b = good.clone();
                let (start, _) = section(1);
                b[start + 4..start + 8].copy_from_slice(&u32::MAX.to_le_bytes());
                reseal(&mut b);
                b
            }),
            ("a full index (lookups would never stop), resealed", {
                let mut b = good.clone();
                let (start, len) = section(4);
                for i in 0..len {
                    b[start + 8 * i..start + 8 * i + 8].copy_from_slice(&1u64.to_le_bytes());
                }
                reseal(&mut b);
                b
            }),
            ("a merged id outside the vocabulary, resealed", {
                let mut b = good.clone();
                let (start, len) = section(6);
                assert!(len > 0);
                b[start..start + 4].copy_from_slice(&(n as u32).to_le_bytes());
                reseal(&mut b);
                b
            }),
            ("a section past the end, resealed", {
                let mut b = good.clone();
                let at = FIXED + 16 * 2 + 8;
                b[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
                reseal(&mut b);
                b
            }),
        ];
        for (what, bytes) in damaged {
            std::fs::write(&path, &bytes).unwrap();
            let why = match open(&cache, &file, n) {
                Err(why) => why,
                Ok(_) => panic!("{what}: accepted"),
            };
            assert!(why.contains("m."), "{what}: {why}");
            // The load rebuilds the tables, rewrites the file and maps it.
            let tok = Tokenizer::from_gguf_cached(&file, Some(&cache)).unwrap();
            assert_eq!(tok.tables_file(), Some(path.as_path()), "{what}");
            assert_same(&heap, &tok);
            assert_eq!(std::fs::read(&path).unwrap(), good, "{what}: rewritten");
        }
    }

    #[test]
    fn a_file_changed_while_mapped_is_reported() {
        let (_dir, file, cache) = model(SyntheticArch::Gemma3);
        let tok = Tokenizer::from_gguf_cached(&file, Some(&cache)).unwrap();
        let path = tok.tables_file().unwrap().to_owned();
        assert!(tok.check_tables_file().is_ok());
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(HEADER as u64).unwrap();
        let why = tok.check_tables_file().unwrap_err();
        assert!(why.contains("changed after it was mapped"), "{why}");
    }

    #[test]
    fn an_unusable_directory_leaves_the_tables_on_the_heap() {
        let (dir, file, _) = model(SyntheticArch::Llama);
        let not_a_dir = dir.path().join("m.gguf");
        let tok = Tokenizer::from_gguf_cached(&file, Some(&not_a_dir)).unwrap();
        assert!(tok.tables_file().is_none());
        assert_same(&Tokenizer::from_gguf(&file).unwrap(), &tok);
    }

    #[test]
    fn a_new_model_version_replaces_the_older_file() {
        let (dir, file, cache) = model(SyntheticArch::Llama);
        let old = Tokenizer::from_gguf_cached(&file, Some(&cache))
            .unwrap()
            .tables_file()
            .unwrap()
            .to_owned();
        drop(file);
        let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::F32);
        m.set(
            "general.name",
            crate::gguf::writer::WriteValue::Str("v2".into()),
        );
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, m.to_bytes()).unwrap();
        let file = GgufFile::open(&path).unwrap();
        let new = Tokenizer::from_gguf_cached(&file, Some(&cache))
            .unwrap()
            .tables_file()
            .unwrap()
            .to_owned();
        assert_ne!(old, new);
        assert!(!old.exists() && new.exists());
    }
}
