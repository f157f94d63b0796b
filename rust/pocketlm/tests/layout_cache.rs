//! `Model::load_with` and its layout cache on SmolLM2 (Q4_1, every matrix interleavable): the
//! first load writes the converted copy, the next one maps it without writing, a changed
//! source gets a new copy (and loses the old one), a damaged copy is rebuilt, an unusable
//! cache directory loads the original file, concurrent loads leave one whole copy, and the
//! copy computes the original's bits.

mod common;

use common::*;
use pocketlm::internals::sampler::argmax;
use pocketlm::{LayoutCacheStatus, LoadOptions, Model, Session, SessionOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn opts(dir: &Path) -> LoadOptions {
    LoadOptions {
        layout_cache: Some(dir.to_owned()),
    }
}

/// Every file in `dir` but the tokenizer's tables files, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".tokenizer-tables"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The tokenizer's tables files in `dir` (`Tokenizer::tables_file`), sorted.
fn tables(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".tokenizer-tables"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn converted_path(model: &Model) -> PathBuf {
    match model.layout() {
        LayoutCacheStatus::Converted { path, .. } => path.clone(),
        other => panic!("expected a conversion, got {other:?}"),
    }
}

/// A copy of SmolLM2 in its own directory, free to modify.
fn private_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    std::fs::copy(model_path(SMOLLM2), &path).unwrap();
    (dir, path)
}

/// The logits of a short prompt at every position, then of 4 greedy decode steps, as bits.
fn logit_bits(model: &Arc<Model>) -> Vec<u32> {
    let mut s = Session::new(
        model.clone(),
        SessionOptions {
            context_length: 64,
            threads: 2,
        },
    )
    .unwrap();
    let tokens = model
        .tokenizer()
        .encode("The capital of France is", true, true);
    let mut logits = Vec::new();
    s.eval_all(&tokens, &mut logits).unwrap();
    for _ in 0..4 {
        let next = argmax(s.logits().unwrap());
        s.eval(&[next]).unwrap();
        logits.extend_from_slice(s.logits().unwrap());
    }
    logits.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn first_load_converts_the_next_maps_the_copy_and_the_bits_match() {
    let cache = tempfile::tempdir().unwrap();
    let original = Model::load(model_path(SMOLLM2)).unwrap();
    assert_eq!(original.layout(), &LayoutCacheStatus::NotRequested);

    let first = Model::load_with(model_path(SMOLLM2), &opts(cache.path())).unwrap();
    let copy = converted_path(&first);
    assert!(matches!(
        first.layout(),
        LayoutCacheStatus::Converted {
            discarded: None,
            ..
        }
    ));
    assert_eq!(first.gguf().path(), copy, "the copy is what is mapped");
    assert_eq!(files(cache.path()).len(), 1, "{:?}", files(cache.path()));
    let written = std::fs::metadata(&copy).unwrap().modified().unwrap();

    let second = Model::load_with(model_path(SMOLLM2), &opts(cache.path())).unwrap();
    assert_eq!(
        second.layout(),
        &LayoutCacheStatus::Hit { path: copy.clone() }
    );
    assert!(second.layout().uses_copy());
    assert_eq!(
        std::fs::metadata(&copy).unwrap().modified().unwrap(),
        written,
        "a hit does not rewrite the copy"
    );
    assert_eq!(files(cache.path()).len(), 1);

    // The tokenizer's tables: written by the first load, mapped by both.
    assert_eq!(original.tokenizer().tables_file(), None);
    let mapped = tables(cache.path());
    assert_eq!(mapped.len(), 1, "{mapped:?}");
    assert_eq!(first.tokenizer().tables_file(), Some(mapped[0].as_path()));
    assert_eq!(second.tokenizer().tables_file(), Some(mapped[0].as_path()));

    let want = logit_bits(&original);
    assert!(want.len() > 1000);
    assert!(want == logit_bits(&second), "the copy's logits differ");
}

#[test]
fn a_changed_source_gets_a_new_copy_and_loses_the_old_one() {
    let (_src, path) = private_copy();
    let cache = tempfile::tempdir().unwrap();
    let first = converted_path(&Model::load_with(&path, &opts(cache.path())).unwrap());

    // A new modification time alone (a re-download of the same bytes) invalidates.
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    let later = SystemTime::now() + Duration::from_secs(5);
    file.set_modified(later).unwrap();
    drop(file);
    let second = converted_path(&Model::load_with(&path, &opts(cache.path())).unwrap());
    assert_ne!(first, second);
    assert_eq!(
        files(cache.path()),
        [second.file_name().unwrap().to_string_lossy()],
        "the stale copy is removed"
    );

    // A weight byte rewritten in place with size, time stamp and inode kept (the last bytes
    // of the file are among those sampled) invalidates too.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    std::os::unix::fs::FileExt::write_at(&file, &bytes[last..], last as u64).unwrap();
    file.set_modified(later).unwrap();
    drop(file);
    let third = Model::load_with(&path, &opts(cache.path())).unwrap();
    assert_ne!(converted_path(&third), second);
    assert_eq!(files(cache.path()).len(), 1);
    // The stale copies' tokenizer tables go with them.
    assert_eq!(
        tables(cache.path()),
        [third.tokenizer().tables_file().unwrap()]
    );
}

#[test]
fn a_damaged_copy_is_rebuilt() {
    let (_src, path) = private_copy();
    let cache = tempfile::tempdir().unwrap();
    let copy = converted_path(&Model::load_with(&path, &opts(cache.path())).unwrap());
    let full = std::fs::metadata(&copy).unwrap().len();

    // truncated (a full disk, a killed writer that bypassed the rename)
    std::fs::File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_len(full / 2)
        .unwrap();
    let again = Model::load_with(&path, &opts(cache.path())).unwrap();
    match again.layout() {
        LayoutCacheStatus::Converted {
            path: p,
            discarded: Some(why),
            ..
        } => {
            assert_eq!(p, &copy);
            assert!(why.contains("parse") || why.contains("size"), "{why}");
        }
        other => panic!("expected a rebuild, got {other:?}"),
    }
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), full);

    // replaced by something that is not a GGUF file at all
    std::fs::write(&copy, b"not a model").unwrap();
    let third = Model::load_with(&path, &opts(cache.path())).unwrap();
    assert!(matches!(
        third.layout(),
        LayoutCacheStatus::Converted {
            discarded: Some(_),
            ..
        }
    ));
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), full);
}

#[test]
fn an_unusable_cache_directory_loads_the_original() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory below a regular file cannot be created, even by root.
    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let model = Model::load_with(model_path(SMOLLM2), &opts(&blocker.join("cache"))).unwrap();
    match model.layout() {
        LayoutCacheStatus::Fallback { reason } => {
            assert!(reason.contains("cache directory"), "{reason}")
        }
        other => panic!("expected a fallback, got {other:?}"),
    }
    assert!(!model.layout().uses_copy());
    assert_eq!(model.gguf().path(), model_path(SMOLLM2));
    assert_eq!(files(tmp.path()), ["a-file"]);

    // A source that does not load is an error, cache or not.
    let missing = tmp.path().join("missing.gguf");
    assert!(Model::load_with(&missing, &opts(tmp.path())).is_err());
}

#[test]
fn a_converted_file_needs_no_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let converted = tmp.path().join("converted.gguf");
    pocketlm::convert::interleave_file(&model_path(SMOLLM2), &converted).unwrap();
    let cache = tmp.path().join("cache");
    let model = Model::load_with(&converted, &opts(&cache)).unwrap();
    assert_eq!(model.layout(), &LayoutCacheStatus::NotNeeded);
    assert_eq!(model.gguf().path(), converted);
    assert!(files(&cache).is_empty(), "no copy written");
    // The tokenizer's tables are cached all the same.
    assert_eq!(tables(&cache), [model.tokenizer().tables_file().unwrap()]);
}

#[test]
fn concurrent_first_loads_leave_one_whole_copy() {
    let cache = tempfile::tempdir().unwrap();
    let loads: Vec<_> = (0..2)
        .map(|_| {
            let dir = cache.path().to_owned();
            std::thread::spawn(move || Model::load_with(model_path(SMOLLM2), &opts(&dir)))
        })
        .collect();
    for l in loads {
        let model = l.join().unwrap().unwrap();
        assert!(model.layout().uses_copy(), "{:?}", model.layout());
    }
    let left = files(cache.path());
    assert_eq!(left.len(), 1, "one copy, no temporary files: {left:?}");
    let hit = Model::load_with(model_path(SMOLLM2), &opts(cache.path())).unwrap();
    assert!(matches!(hit.layout(), LayoutCacheStatus::Hit { .. }));
}
