//! Warm starts of the keyboard predictor (`WordPredictor::with_state_dir`) on the real models:
//! the framing prefix is evaluated and saved by the first predictor, loaded by the next, and
//! the suggestions are bit-identical either way (and to a predictor without a state
//! directory); bad files in the directory are rewritten without changing a suggestion.

mod common;

use pocketlm::{Model, PredictorOptions, Suggestions, WordPredictor};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn load(name: &str) -> Arc<Model> {
    Model::load(common::model_path(name)).expect("load model")
}

fn opts() -> PredictorOptions {
    PredictorOptions {
        threads: 1,
        ..PredictorOptions::default()
    }
}

/// Every keystroke of `lines` (each typed in a fresh field: `reset` between them), with the
/// warm start the predictor reported after the first.
fn type_lines(p: &WordPredictor, lines: &[&str]) -> Vec<Suggestions> {
    let mut out = Vec::new();
    for line in lines {
        p.reset();
        for (i, _) in line.char_indices().chain([(line.len(), ' ')]) {
            out.push(p.suggest(&line[..i]).expect("suggest"));
        }
    }
    out
}

/// Same words, kinds and probabilities, bit for bit.
fn assert_identical(a: &[Suggestions], b: &[Suggestions], what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.words(), y.words(), "{what}: keystroke {i}");
        for (s, t) in x.items.iter().zip(&y.items) {
            assert_eq!(s.kind, t.kind, "{what}: keystroke {i}");
            assert_eq!(
                s.probability.to_bits(),
                t.probability.to_bits(),
                "{what}: keystroke {i}, {}: {} vs {}",
                s.word,
                s.probability,
                t.probability
            );
        }
    }
}

fn warm_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "plmstate"))
        .collect();
    v.sort();
    v
}

/// Whether this process maps `path` (Linux: /proc/self/maps names mapped files; elsewhere
/// assumed).
fn maps_file(path: &Path) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let name = path.canonicalize().unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines().any(|l| l.ends_with(&*name.to_string_lossy()))
}

fn warm_vs_cold(model: Arc<Model>, opts: PredictorOptions, lines: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    // Created on the first save.
    let dir = tmp.path().join("state");
    let dir = dir.as_path();
    let plain = WordPredictor::new(model.clone(), opts.clone()).unwrap();
    let reference = type_lines(&plain, lines);
    assert_eq!(plain.warm_start(), None);

    let cold = WordPredictor::new(model.clone(), opts.clone())
        .unwrap()
        .with_state_dir(dir);
    assert_eq!(cold.warm_start(), None, "before the first call");
    let cold_run = type_lines(&cold, lines);
    assert_eq!(cold.warm_start().map(|w| w.0), Some(false), "evaluated");
    let files = warm_files(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&format!("keyboard-{}-", opts.language.as_str())));

    let warm = WordPredictor::new(model.clone(), opts.clone())
        .unwrap()
        .with_state_dir(dir);
    let warm_run = type_lines(&warm, lines);
    assert_eq!(warm.warm_start().map(|w| w.0), Some(true), "loaded");
    assert!(
        maps_file(&files[0]),
        "the framing prefix is copied, not mapped"
    );
    // The first keystroke of a warm start evaluates fewer context rows than a cold one.
    assert!(
        warm_run[0].stats.evaluated_tokens < cold_run[0].stats.evaluated_tokens,
        "{:?} vs {:?}",
        warm_run[0].stats,
        cold_run[0].stats
    );
    assert_identical(&cold_run, &warm_run, "cold vs warm");
    assert_identical(&reference, &warm_run, "no state dir vs warm");

    // A corrupted file (one flipped byte in the KV cache) is refused, evaluated again and
    // rewritten: the next predictor loads the rewritten file.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&files[0], &bytes).unwrap();
    let after_bad = WordPredictor::new(model.clone(), opts.clone())
        .unwrap()
        .with_state_dir(dir);
    assert_identical(&reference, &type_lines(&after_bad, lines), "corrupted file");
    assert_eq!(after_bad.warm_start().map(|w| w.0), Some(false));
    let rewritten = WordPredictor::new(model.clone(), opts.clone())
        .unwrap()
        .with_state_dir(dir);
    rewritten.suggest("").unwrap();
    assert_eq!(rewritten.warm_start().map(|w| w.0), Some(true));

    // A snapshot of another prefix put under this prefix's name is refused (it holds other
    // tokens) and rewritten.
    let mut other = pocketlm::Session::new(model.clone(), Default::default()).unwrap();
    other.eval(&[1, 2, 3]).unwrap();
    other.save_state_file(&files[0]).unwrap();
    let foreign = WordPredictor::new(model.clone(), opts.clone())
        .unwrap()
        .with_state_dir(dir);
    assert_identical(&reference, &type_lines(&foreign, lines), "foreign file");
    assert_eq!(foreign.warm_start().map(|w| w.0), Some(false));

    // Another framing (an explicit prefix) looks for another file.
    let reframed = WordPredictor::new(
        model,
        PredictorOptions {
            prefix: Some("Notes:\n".into()),
            ..opts
        },
    )
    .unwrap()
    .with_state_dir(dir);
    reframed.suggest("Hel").unwrap();
    assert_eq!(reframed.warm_start().map(|w| w.0), Some(false));
    assert_eq!(warm_files(dir).len(), 2);
}

#[test]
fn smollm2_warm_start_suggests_what_a_cold_start_suggests() {
    warm_vs_cold(
        load(common::SMOLLM2),
        opts(),
        &["Are you coming tonight?", "I'll be the"],
    );
}

#[test]
fn gemma3_warm_start_suggests_what_a_cold_start_suggests() {
    warm_vs_cold(load(common::GEMMA3), opts(), &["See you at the"]);
}

#[test]
fn an_unusable_state_dir_only_costs_the_warm_start() {
    let model = load(common::SMOLLM2);
    let file = tempfile::NamedTempFile::new().unwrap();
    // A regular file where the directory should be: loading and saving fail.
    let p = WordPredictor::new(model.clone(), opts())
        .unwrap()
        .with_state_dir(file.path());
    let plain = WordPredictor::new(model, opts()).unwrap();
    let lines = ["See you soon"];
    assert_identical(
        &type_lines(&plain, &lines),
        &type_lines(&p, &lines),
        "bad dir",
    );
    assert_eq!(p.warm_start().map(|w| w.0), Some(false));
}
