//! `ReplyDrafter.withStateDir` through the bindings on the real SmolLM2 model: a second drafter
//! loads the first one's warm-up and drafts the same replies; a corrupted file is rewritten.

mod common;

use common::smollm2;
use pocketlm_ffi::{ConversationMessage, DraftOptions, DrafterOptions, ReplyDrafter, Tone};
use std::path::PathBuf;

#[test]
fn a_drafter_with_a_state_dir_loads_its_warm_up_and_drafts_the_same() {
    let model = smollm2();
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().to_string_lossy().into_owned();
    let new = || {
        ReplyDrafter::with_state_dir(
            model.clone(),
            DrafterOptions { threads: 0 },
            state_dir.clone(),
        )
        .unwrap()
    };
    let options = DraftOptions {
        count: 3,
        max_words: 10,
        tone: Some(Tone::Casual),
        blocklist: Vec::new(),
    };
    let conversation = vec![ConversationMessage {
        from_me: false,
        text: "Do you want to grab lunch tomorrow?".into(),
    }];
    let draft = |d: &ReplyDrafter| {
        d.draft(conversation.clone(), options.clone(), None)
            .unwrap()
    };

    let first = new();
    assert_eq!(first.warm_started(Tone::Casual), None);
    let expected = draft(&first);
    assert!(!expected.replies.is_empty(), "{expected:?}");
    assert_eq!(first.warm_started(Tone::Casual), Some(false));

    let second = new();
    let got = draft(&second);
    assert_eq!(second.warm_started(Tone::Casual), Some(true));
    assert_eq!(got, expected);

    // A corrupted file: not loaded, rewritten, the same drafts.
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let good = bytes.clone();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&files[0], &bytes).unwrap();
    let third = new();
    assert_eq!(draft(&third), expected);
    assert_eq!(third.warm_started(Tone::Casual), Some(false));
    assert_eq!(std::fs::read(&files[0]).unwrap(), good);
}
