//! Warm starts of the reply drafter on the real SmolLM2-135M-Instruct model: a drafter whose
//! tone warm-up is loaded from its state directory drafts exactly what one that evaluated it
//! drafts; bad files in the directory are refused, logged and rewritten, never a panic.

mod common;

use common::{model_path, SMOLLM2};
use pocketlm::{DraftOptions, DrafterConfig, Message, Model, ReplyDrafter, Tone};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

fn smollm2() -> Arc<Model> {
    static M: OnceLock<Arc<Model>> = OnceLock::new();
    M.get_or_init(|| Model::load(model_path(SMOLLM2)).expect("SmolLM2 loads"))
        .clone()
}

fn drafter(dir: Option<&Path>) -> ReplyDrafter {
    drafter_with(dir, DrafterConfig::default())
}

fn drafter_with(dir: Option<&Path>, config: DrafterConfig) -> ReplyDrafter {
    let d = ReplyDrafter::new(smollm2(), config).expect("drafter");
    match dir {
        Some(dir) => d.with_state_dir(dir),
        None => d,
    }
}

/// Warms `tone` up and returns (loaded from the directory, milliseconds).
fn warm(d: &ReplyDrafter, tone: Tone) -> (bool, f64) {
    assert_eq!(d.warm_start(tone), None);
    d.warm_up(tone).expect("warm-up");
    d.warm_start(tone).expect("warmed up")
}

/// The warm-start files of `tone` in `dir`.
fn files(dir: &Path, tone: Tone) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("reply-{}-", tone.as_str())) && name.ends_with(".plmwarm")
        })
        .collect();
    v.sort();
    v
}

const MESSAGES: [&str; 5] = [
    "Can we meet tomorrow at 5?",
    "Thanks for dinner last night!",
    "Do you like pizza?",
    "The train was late again this morning.",
    "Would you rather go to the beach or the mountains?",
];

/// Drafts of the first `k` messages (replies, reasons and every candidate with its score).
fn drafts(d: &ReplyDrafter, tone: Tone, k: usize) -> Vec<String> {
    let opts = DraftOptions {
        tone,
        ..DraftOptions::default()
    };
    MESSAGES[..k]
        .iter()
        .map(|m| {
            let r = d.draft_detailed(&[Message::incoming(*m)], &opts).unwrap();
            format!(
                "{:?} {:?} {:?} {:?}",
                r.replies, r.no_suggestion, r.candidates, r.acts
            )
        })
        .collect()
}

#[test]
fn a_warm_started_drafter_drafts_what_a_cold_one_drafts() {
    let dir = tempfile::tempdir().unwrap();
    let tone = Tone::Neutral;
    // First drafter with the directory: evaluates (a cold start) and saves.
    let first = drafter(Some(dir.path()));
    let (loaded, cold_ms) = warm(&first, tone);
    assert!(!loaded, "the directory was empty");
    let expected = drafts(&first, tone, 5);
    assert!(expected.iter().any(|d| d.contains("score")), "{expected:?}");
    let saved = files(dir.path(), tone);
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(files(dir.path(), Tone::Casual), Vec::<PathBuf>::new());
    let before = std::fs::read(&saved[0]).unwrap();

    // Second: loads it, and drafts the same replies with the same scores.
    let second = drafter(Some(dir.path()));
    let (loaded, warm_ms) = warm(&second, tone);
    assert!(loaded, "the snapshot in {:?} was not loaded", saved[0]);
    if cfg!(target_os = "linux") {
        // The tone's prefix is the file's pages (/proc/self/maps names it), not a copy.
        let name = saved[0].canonicalize().unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        assert!(
            maps.lines().any(|l| l.ends_with(&*name.to_string_lossy())),
            "the warm start is copied, not mapped"
        );
    }
    assert_eq!(drafts(&second, tone, 5), expected);
    assert_eq!(std::fs::read(&saved[0]).unwrap(), before, "not rewritten");
    eprintln!(
        "warm-up of {}: evaluated and saved {cold_ms:.0} ms, loaded {warm_ms:.0} ms ({} bytes)",
        tone.as_str(),
        before.len()
    );
}

#[test]
fn bad_files_in_the_state_dir_are_rewritten_and_drafting_works() {
    let dir = tempfile::tempdir().unwrap();
    let tone = Tone::Formal;
    // Scoring the catalog after the empty message one token deep keeps the many cold
    // warm-ups of this test cheap.
    let config = DrafterConfig {
        prior_depth: 1,
        ..DrafterConfig::default()
    };
    let drafter = |dir: Option<&Path>| drafter_with(dir, config.clone());
    let reference = drafter(Some(dir.path()));
    assert!(!warm(&reference, tone).0);
    let expected = drafts(&reference, tone, 2);
    let path = files(dir.path(), tone).pop().expect("saved");
    let good = std::fs::read(&path).unwrap();

    // A valid container around a corrupted session snapshot (resealed, so that the
    // snapshot's own check is the one that refuses it).
    let mut resealed = good.clone();
    let at = resealed.len() / 2;
    resealed[at] ^= 0x40;
    let body = resealed.len() - 4;
    let crc = crc32fast::hash(&resealed[..body]);
    resealed[body..].copy_from_slice(&crc.to_le_bytes());

    // The warm start of another tone under this tone's name.
    let casual = drafter(Some(dir.path()));
    assert!(
        !warm(&casual, Tone::Casual).0,
        "another tone's file was loaded"
    );
    let other = std::fs::read(files(dir.path(), Tone::Casual).pop().unwrap()).unwrap();

    let mut flipped = good.clone();
    flipped[good.len() / 3] ^= 1;
    let bad: [(&str, Vec<u8>); 5] = [
        ("flipped byte", flipped),
        ("truncated", good[..good.len() - 1000].to_vec()),
        (
            "not a warm start",
            b"PLMSTATE and then some garbage".repeat(20),
        ),
        ("resealed corrupted snapshot", resealed),
        ("another tone's", other),
    ];
    for (what, bytes) in bad {
        std::fs::write(&path, &bytes).unwrap();
        let d = drafter(Some(dir.path()));
        let (loaded, _) = warm(&d, tone);
        assert!(!loaded, "{what}: loaded");
        assert_eq!(drafts(&d, tone, 2), expected[..], "{what}");
        assert_eq!(std::fs::read(&path).unwrap(), good, "{what}: not rewritten");
    }

    // An unwritable state directory (a file): drafting works.
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let d = drafter(Some(&not_a_dir));
    assert!(!warm(&d, tone).0);
    assert_eq!(drafts(&d, tone, 2), expected[..]);
}
