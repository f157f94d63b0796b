//! `KeyboardPredictor.withStateDir` through the bindings on the real SmolLM2 model: a second
//! predictor loads the first one's framing warm-up and suggests the same; a corrupted file is
//! rewritten.

mod common;

use common::{keyboard_options as options, smollm2};
use pocketlm_ffi::{KeyboardPredictor, Suggestion};
use std::path::PathBuf;

fn type_text(p: &KeyboardPredictor, text: &str) -> Vec<Vec<Suggestion>> {
    text.char_indices()
        .map(|(i, _)| p.suggest(text[..i].to_owned()).unwrap())
        .collect()
}

#[test]
fn a_predictor_with_a_state_dir_loads_its_framing_and_suggests_the_same() {
    let model = smollm2();
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("keyboard");
    let state_dir = state_dir.to_string_lossy().into_owned();
    let new =
        || KeyboardPredictor::with_state_dir(model.clone(), options(), state_dir.clone()).unwrap();
    let text = "Are you coming to";
    let expected = type_text(
        &KeyboardPredictor::new(model.clone(), options()).unwrap(),
        text,
    );

    let first = new();
    assert_eq!(first.warm_started(), None);
    assert_eq!(type_text(&first, text), expected);
    assert_eq!(first.warm_started(), Some(false));

    let second = new();
    assert_eq!(type_text(&second, text), expected);
    assert_eq!(second.warm_started(), Some(true));

    let files: Vec<PathBuf> = std::fs::read_dir(&state_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let good = std::fs::read(&files[0]).unwrap();
    let mut bytes = good.clone();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&files[0], &bytes).unwrap();
    let third = new();
    assert_eq!(type_text(&third, text), expected);
    assert_eq!(third.warm_started(), Some(false));
    assert_eq!(std::fs::read(&files[0]).unwrap(), good);
}
