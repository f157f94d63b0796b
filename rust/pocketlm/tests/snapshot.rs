//! Session snapshots on the real models: a session restored from a snapshot continues exactly as
//! the uninterrupted one (bit-identical logits, the same greedy text), and every kind of bad
//! snapshot (another model, another architecture, another format version, a context too small,
//! truncated, corrupted, hostile headers) is its typed error, never a panic or a huge allocation.

mod common;

use common::{model_path, GEMMA3, SMOLLM2};
use pocketlm::internals::sampler::argmax;
use pocketlm::{Model, Session, SessionOptions, SnapshotError, SNAPSHOT_VERSION};
use std::sync::Arc;

fn load(name: &str) -> Arc<Model> {
    Model::load(model_path(name)).expect("model loads")
}

fn session(model: &Arc<Model>, context_length: usize) -> Session {
    Session::new(
        model.clone(),
        SessionOptions {
            context_length,
            threads: 1,
        },
    )
    .unwrap()
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Saves after `first`, restores into a new session (of another context length), and checks
/// that the restored logits, those after `second` appended, and a greedy continuation are
/// bit-identical to the uninterrupted session's.
fn check_resume(name: &str) {
    let model = load(name);
    let tok = model.tokenizer();
    let first = tok.encode(
        "The capital of France is Paris. The capital of Italy is",
        true,
        false,
    );
    let second = tok.encode(" Rome. The capital of Spain", false, false);

    let mut a = session(&model, 256);
    a.eval(&first).unwrap();
    let bytes = a.save_state().unwrap();
    assert_eq!(bytes.len(), a.state_size());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.plmstate");
    let written = a.save_state_file(&path).unwrap();
    assert_eq!(written, bytes.len() as u64);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "file and bytes agree");

    // One restored from bytes with a larger context, one from the file with just enough.
    let mut b = session(&model, 512);
    b.load_state(&bytes).unwrap();
    let mut c = session(&model, first.len() + second.len() + 8);
    c.load_state_file(&path).unwrap();
    for r in [&b, &c] {
        assert_eq!(r.tokens(), a.tokens());
        assert_eq!(bits(r.logits().unwrap()), bits(a.logits().unwrap()));
    }

    let la = bits(a.eval(&second).unwrap());
    assert_eq!(
        bits(b.eval(&second).unwrap()),
        la,
        "{name}: logits after P2"
    );
    assert_eq!(
        bits(c.eval(&second).unwrap()),
        la,
        "{name}: logits after P2"
    );

    let mut greedy = Vec::new();
    for _ in 0..6 {
        let t = argmax(a.logits().unwrap());
        greedy.push(t);
        let la = bits(a.eval(&[t]).unwrap());
        for r in [&mut b, &mut c] {
            assert_eq!(argmax(r.logits().unwrap()), t);
            assert_eq!(bits(r.eval(&[t]).unwrap()), la, "{name}: greedy step");
        }
    }
    // The check can fail: the continuation is the model's, not a constant.
    assert!(
        !greedy.iter().all(|&t| t == greedy[0]),
        "{name}: {greedy:?}"
    );
}

#[test]
fn smollm2_resumes_bit_identically() {
    check_resume(SMOLLM2);
}

#[test]
fn gemma3_resumes_bit_identically() {
    check_resume(GEMMA3);
}

/// A snapshot of a session whose logits are not computed (rolled back) restores without
/// logits, and the next token's logits still match.
#[test]
fn snapshot_without_logits_and_empty_session() {
    let model = load(SMOLLM2);
    let tokens = model.tokenizer().encode("One two three four", true, false);
    let mut a = session(&model, 64);
    a.eval(&tokens).unwrap();
    a.truncate(tokens.len() - 1);
    let bytes = a.save_state().unwrap();
    let mut b = session(&model, 64);
    b.load_state(&bytes).unwrap();
    assert!(b.logits().is_err());
    let last = &tokens[tokens.len() - 1..];
    assert_eq!(bits(b.eval(last).unwrap()), bits(a.eval(last).unwrap()));

    let empty = session(&model, 64).save_state().unwrap();
    b.load_state(&empty).unwrap();
    assert!(b.is_empty());
    assert!(b.logits().is_err());
}

/// A small valid SmolLM2 snapshot, its session's tokens, and the model.
fn smol_snapshot() -> (Arc<Model>, Vec<u8>, Vec<u32>) {
    let model = load(SMOLLM2);
    let tokens = model.tokenizer().encode("Hello there, friend", true, false);
    let mut s = session(&model, 64);
    s.eval(&tokens).unwrap();
    (model.clone(), s.save_state().unwrap(), tokens)
}

/// Loads `bytes` into a session that already holds other text, and checks that a failed load
/// left it untouched.
fn load_err(model: &Arc<Model>, bytes: &[u8]) -> SnapshotError {
    let mut s = session(model, 64);
    let before = model.tokenizer().encode("untouched", true, false);
    let logits = bits(s.eval(&before).unwrap());
    let err = s.load_state(bytes).unwrap_err();
    assert_eq!(s.tokens(), &before[..], "a failed load changed the session");
    assert_eq!(bits(s.logits().unwrap()), logits);
    assert!(!err.to_string().is_empty());
    err
}

/// Rewrites the header's checksum after a crafted change (so that the check under test, not
/// the checksum, decides).
fn reseal_header(b: &mut [u8]) {
    let crc = crc32fast::hash(&b[..124]);
    b[124..128].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn other_architecture_and_other_model_are_named() {
    let (smol, bytes, _) = smol_snapshot();
    let gemma = load(GEMMA3);
    match load_err(&gemma, &bytes) {
        SnapshotError::OtherArchitecture { snapshot, model } => {
            assert_eq!(snapshot, smol.info().architecture);
            assert_eq!(model, gemma.info().architecture);
        }
        e => panic!("{e:?}"),
    }
    let mut g = session(&gemma, 64);
    g.eval(&gemma.tokenizer().encode("Hi", true, false))
        .unwrap();
    assert!(matches!(
        load_err(&smol, &g.save_state().unwrap()),
        SnapshotError::OtherArchitecture { .. }
    ));

    // Another file of the same architecture: a copy of SmolLM2 with one metadata byte changed
    // (its name), which loads and runs but has another fingerprint.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("renamed.gguf");
    let mut file = std::fs::read(model_path(SMOLLM2)).unwrap();
    let name = b"general.name";
    let at = file
        .windows(name.len())
        .position(|w| w == name)
        .expect("general.name key")
        + name.len()
        + 4 // value type
        + 8 // string length
        + 1; // second character of the value
    file[at] ^= 0x20;
    std::fs::write(&copy, &file).unwrap();
    drop(file);
    let renamed = Model::load(&copy).unwrap();
    assert_ne!(renamed.info().name, smol.info().name);
    match load_err(&renamed, &bytes) {
        SnapshotError::OtherModel { snapshot, model } => assert_ne!(snapshot, model),
        e => panic!("{e:?}"),
    }
}

#[test]
fn other_version_truncated_corrupted_and_small_context() {
    let (model, bytes, tokens) = smol_snapshot();

    let mut v = bytes.clone();
    v[8..12].copy_from_slice(&(SNAPSHOT_VERSION + 1).to_le_bytes());
    match load_err(&model, &v) {
        SnapshotError::OtherVersion { found, supported } => {
            assert_eq!((found, supported), (SNAPSHOT_VERSION + 1, SNAPSHOT_VERSION))
        }
        e => panic!("{e:?}"),
    }

    for cut in [1, 4, 1000, bytes.len() - 130, bytes.len() - 100] {
        let short = &bytes[..bytes.len() - cut];
        assert!(
            matches!(load_err(&model, short), SnapshotError::Truncated { found, .. } if found == short.len() as u64),
            "cut {cut}"
        );
    }
    assert!(matches!(
        load_err(&model, &[bytes.clone(), vec![0]].concat()),
        SnapshotError::Corrupted(_)
    ));

    // One flipped byte anywhere in the payload (tokens, logits, keys, values, checksum).
    for at in [
        130,
        140,
        128 + 4 * tokens.len() + 17,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        let mut c = bytes.clone();
        c[at] ^= 0x10;
        assert!(
            matches!(load_err(&model, &c), SnapshotError::Corrupted(_)),
            "byte {at}"
        );
    }
    // One flipped byte in the header, past the magic and version.
    let mut c = bytes.clone();
    c[90] ^= 1;
    assert!(matches!(load_err(&model, &c), SnapshotError::Corrupted(_)));

    let mut small = session(&model, tokens.len() - 1);
    match small.load_state(&bytes).unwrap_err() {
        SnapshotError::ContextTooSmall { needed, limit } => {
            assert_eq!((needed, limit), (tokens.len() as u64, tokens.len() - 1))
        }
        e => panic!("{e:?}"),
    }
    assert!(small.is_empty());

    // A model file is not a snapshot.
    let gguf = std::fs::read(model_path(SMOLLM2)).unwrap();
    assert!(matches!(
        load_err(&model, &gguf[..4096]),
        SnapshotError::NotASnapshot { .. }
    ));
    let mut s = session(&model, 64);
    assert!(matches!(
        s.load_state_file(model_path(SMOLLM2)).unwrap_err(),
        SnapshotError::NotASnapshot { .. }
    ));
}

/// Hostile headers (valid checksums, absurd counts) are refused from the header and the length
/// alone, before anything is allocated.
#[test]
fn hostile_headers_are_refused_before_allocating() {
    let (model, bytes, _) = smol_snapshot();
    let mut big = session(&model, model.info().train_context_length);
    for n in [
        u64::MAX,
        u64::MAX / 2,
        1 << 40,
        model.info().train_context_length as u64 + 1,
    ] {
        let mut h = bytes[..128].to_vec();
        h[112..120].copy_from_slice(&n.to_le_bytes());
        reseal_header(&mut h);
        assert!(
            matches!(big.load_state(&h).unwrap_err(), SnapshotError::ContextTooSmall { needed, .. } if needed == n),
            "n = {n}"
        );
    }
    // Within the context, but the bytes are missing: refused on length, not read.
    let mut h = bytes[..128].to_vec();
    h[112..120].copy_from_slice(&(model.info().train_context_length as u64).to_le_bytes());
    reseal_header(&mut h);
    assert!(matches!(
        big.load_state(&h).unwrap_err(),
        SnapshotError::Truncated { found: 128, .. }
    ));
    // Unknown flags, convolution-layer fields (100, 120) or a layout of another model.
    for (at, v) in [(12usize, 2u8), (100, 1), (120, 1), (80, 31), (96, 1)] {
        let mut h = bytes.clone();
        h[at] = v;
        reseal_header(&mut h);
        let e = big.load_state(&h).unwrap_err();
        assert!(
            matches!(
                e,
                SnapshotError::Corrupted(_) | SnapshotError::OtherLayout { .. }
            ),
            "byte {at}: {e:?}"
        );
    }
    assert!(big.is_empty());
    // A file that is not a regular file, and one that does not exist.
    assert!(matches!(
        big.load_state_file("/").unwrap_err(),
        SnapshotError::Io { .. }
    ));
    assert!(matches!(
        big.load_state_file("/nonexistent/snapshot").unwrap_err(),
        SnapshotError::Io { .. }
    ));
}

/// Whether this process maps `path` (Linux: /proc/self/maps names mapped files).
fn maps_file(path: &std::path::Path) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let name = path.canonicalize().unwrap();
    maps.lines().any(|l| l.ends_with(&*name.to_string_lossy()))
}

/// A SmolLM2 session after `first`, saved to a file in `dir`: (model, session, tokens, file).
fn saved_file(dir: &std::path::Path) -> (Arc<Model>, Session, Vec<u32>, std::path::PathBuf) {
    let model = load(SMOLLM2);
    let first = model.tokenizer().encode(
        "The capital of France is Paris. The capital of Italy is",
        true,
        false,
    );
    let mut a = session(&model, 128);
    a.eval(&first).unwrap();
    let path = dir.join("prefix.plmstate");
    a.save_state_file(&path).unwrap();
    (model, a, first, path)
}

/// A mapped snapshot is the cache's prefix (the file's pages, not a copy: the accessor and
/// the process's maps say so), and the session and its forks continue bit-identically.
#[test]
fn mapped_prefix_continues_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (model, mut a, first, path) = saved_file(dir.path());
    let mut b = session(&model, 128);
    b.map_state_file(&path).unwrap();
    assert_eq!(b.tokens(), a.tokens());
    assert_eq!(bits(b.logits().unwrap()), bits(a.logits().unwrap()));
    // At least the keys and values of every position of every layer are the file's (at least
    // one KV head of at least 64 f16 per position).
    let kv = first.len() * 64 * 2 * 2 * model.info().n_layers;
    assert!(b.mapped_bytes() >= kv, "{} < {kv}", b.mapped_bytes());
    assert_eq!(a.mapped_bytes(), 0);
    if cfg!(target_os = "linux") {
        assert!(maps_file(&path), "the snapshot is not mapped");
    }
    let mut c = b.fork();
    assert!(c.mapped_bytes() >= kv, "a fork maps the file too");
    let second = model
        .tokenizer()
        .encode(" Rome. The capital of Spain", false, false);
    let la = bits(a.eval(&second).unwrap());
    assert_eq!(bits(b.eval(&second).unwrap()), la);
    assert_eq!(bits(c.eval(&second).unwrap()), la);
    let t = argmax(a.logits().unwrap());
    let la = bits(a.eval(&[t]).unwrap());
    assert_eq!(bits(b.eval(&[t]).unwrap()), la);
    // A snapshot of a mapped session is the uninterrupted session's.
    assert_eq!(b.save_state().unwrap(), a.save_state().unwrap());
    drop((b, c));
    if cfg!(target_os = "linux") {
        assert!(!maps_file(&path), "dropped sessions keep the file mapped");
    }
}

/// A rewind into the mapped positions followed by other tokens equals a fresh evaluation
/// (the written pages are copied, never the file or a fork's pages), and the file is intact.
#[test]
fn rewind_into_the_mapped_prefix_equals_a_fresh_run() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _, first, path) = saved_file(dir.path());
    let file_before = std::fs::read(&path).unwrap();
    let mut b = session(&model, 128);
    b.map_state_file(&path).unwrap();
    let mut keep = b.fork();
    let cut = first.len() - 5;
    let other = model
        .tokenizer()
        .encode(" Berlin is in Germany and", false, false);
    b.truncate(cut);
    let lb = bits(b.eval(&other).unwrap());
    let mut fresh = session(&model, 128);
    let mut tokens = first[..cut].to_vec();
    tokens.extend_from_slice(&other);
    assert_eq!(lb, bits(fresh.eval(&tokens).unwrap()));
    // The fork made before the rewind still holds the saved prefix.
    let mut whole = session(&model, 128);
    whole.eval(&first).unwrap();
    let next = [argmax(whole.logits().unwrap())];
    assert_eq!(
        bits(keep.eval(&next).unwrap()),
        bits(whole.eval(&next).unwrap())
    );
    // A copy of the rewound session (sharing the mapped file) continues as it does.
    let mut d = session(&model, 128);
    d.map_state_file(&path).unwrap();
    d.copy_from(&b).unwrap();
    assert_eq!(bits(d.eval(&next).unwrap()), bits(b.eval(&next).unwrap()));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        file_before,
        "a write reached the file"
    );
}

/// Truncating or rewriting a mapped snapshot in place is reported as a changed file (the model
/// file's error) by evaluation, saving and copying; nothing touches the vanished pages.
#[test]
fn a_mapped_snapshot_changed_on_disk_is_a_typed_error() {
    use pocketlm::SessionError;
    let dir = tempfile::tempdir().unwrap();
    let (model, _, _, path) = saved_file(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    for truncate in [true, false] {
        let mut b = session(&model, 128);
        b.map_state_file(&path).unwrap();
        let fork = b.fork();
        if truncate {
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.set_len(100).unwrap();
        } else {
            // Same length, other bytes, later modification time (timestamps are coarse).
            std::thread::sleep(std::time::Duration::from_millis(30));
            let mut other = bytes.clone();
            let mid = other.len() / 2;
            other[mid] ^= 0xff;
            std::fs::write(&path, &other).unwrap();
        }
        for s in [&mut b, &mut fork.fork()] {
            match s.eval(&[1]) {
                Err(SessionError::ModelFileChanged(m)) => assert!(m.contains("snapshot"), "{m}"),
                r => panic!("{truncate}: {:?}", r.map(|l| l.len())),
            }
            assert!(matches!(
                s.save_state(),
                Err(SnapshotError::ModelFileChanged(_))
            ));
        }
        let mut c = session(&model, 128);
        assert!(matches!(
            c.copy_from(&b),
            Err(SessionError::ModelFileChanged(_))
        ));
        // Released memory drops the mapping: the session works again.
        b.release_memory();
        b.eval(&[1]).unwrap();
        std::fs::write(&path, &bytes).unwrap();
    }
}

/// The tiny random Gemma 4 model (`scripts/gen-random-models.sh`): sliding and global layers
/// cache keys of different widths, and its last layers read an earlier layer's cache.
fn gemma4(quant: &str) -> Arc<Model> {
    load(&format!("random/gemma4-tiny-seed0.{quant}.gguf"))
}

/// Token ids for the random model (its vocabulary is larger than 64).
fn g4_tokens(from: u32, n: u32) -> Vec<u32> {
    (0..n).map(|i| from + (i * 7) % 61).collect()
}

/// A Gemma 4 snapshot (bytes and file, copied and mapped) restores into fresh sessions that
/// continue bit-identically, F16 and Q4_0; its layer plan is checked.
#[test]
fn gemma4_resumes_bit_identically() {
    for quant in ["F16", "Q4_0"] {
        let model = gemma4(quant);
        let (first, second) = (g4_tokens(2, 12), g4_tokens(5, 6));
        let mut a = session(&model, 64);
        a.eval(&first).unwrap();
        let bytes = a.save_state().unwrap();
        assert_eq!(bytes.len(), a.state_size(), "{quant}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g4.plmstate");
        assert_eq!(a.save_state_file(&path).unwrap(), bytes.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), bytes);

        let mut b = session(&model, 128);
        b.load_state(&bytes).unwrap();
        let mut c = session(&model, 32);
        c.load_state_file(&path).unwrap();
        let mut d = session(&model, 64);
        d.map_state_file(&path).unwrap();
        if cfg!(target_os = "linux") {
            assert!(maps_file(&path), "{quant}: the snapshot is not mapped");
            assert!(d.mapped_bytes() > 0, "{quant}: the snapshot is copied");
        }
        let want = bits(a.eval(&second).unwrap());
        for (r, how) in [(&mut b, "bytes"), (&mut c, "file"), (&mut d, "mapped")] {
            assert_eq!(r.tokens(), &first[..]);
            assert_eq!(bits(r.eval(&second).unwrap()), want, "{quant} {how}");
        }
        // The check can fail: another history gives other logits.
        let mut other = session(&model, 64);
        other.eval(&g4_tokens(3, 12)).unwrap();
        assert_ne!(bits(other.eval(&second).unwrap()), want);
    }
}

/// Bad Gemma 4 snapshots: another model, a tampered or truncated layer plan, a truncated
/// payload; typed errors, the session untouched.
#[test]
fn gemma4_bad_snapshots_are_typed_errors() {
    let model = gemma4("F16");
    let mut a = session(&model, 64);
    a.eval(&g4_tokens(2, 5)).unwrap();
    let bytes = a.save_state().unwrap();
    let flags = u32::from_le_bytes(bytes[12..16].try_into().unwrap());
    assert_eq!(flags & 2, 2, "a Gemma 4 snapshot has a layer plan");
    let n_layers = u32::from_le_bytes(bytes[80..84].try_into().unwrap()) as usize;
    let plan_end = 128 + 4 * n_layers + 4;
    let plan: Vec<u32> = bytes[128..plan_end - 4]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert!(plan.contains(&0), "shared layers cache nothing: {plan:?}");
    assert!(plan.iter().any(|&w| w != plan[0] && w != 0), "{plan:?}");

    let fresh = |m: &Arc<Model>| {
        let mut s = session(m, 64);
        s.eval(&[2, 3]).unwrap();
        s
    };
    let refused = |m: &Arc<Model>, b: &[u8]| {
        let mut s = fresh(m);
        let e = s.load_state(b).unwrap_err();
        assert_eq!(s.tokens(), &[2, 3], "a failed load changed the session");
        assert!(!e.to_string().is_empty());
        e
    };
    // Another model: another quantization of the same architecture, another architecture.
    assert!(matches!(
        refused(&gemma4("Q4_0"), &bytes),
        SnapshotError::OtherModel { .. }
    ));
    assert!(matches!(
        refused(&load(SMOLLM2), &bytes),
        SnapshotError::OtherArchitecture { .. }
    ));
    let (smol, smol_bytes, _) = smol_snapshot();
    assert!(matches!(
        refused(&model, &smol_bytes),
        SnapshotError::OtherArchitecture { .. }
    ));
    // A uniform snapshot has no plan: its tokens follow the header.
    assert_eq!(smol_bytes[12] & 2, 0);
    let mut s = session(&smol, 64);
    s.load_state(&smol_bytes).unwrap();
    assert_eq!(smol_bytes[128..132], s.tokens()[0].to_le_bytes());

    // A flipped plan byte: the plan's checksum. Another plan, resealed: another layout.
    let mut c = bytes.clone();
    c[130] ^= 4;
    assert!(matches!(refused(&model, &c), SnapshotError::Corrupted(_)));
    let mut c = bytes.clone();
    c[128..132].copy_from_slice(&(plan[0] + 1).to_le_bytes());
    let crc = crc32fast::hash(&c[128..plan_end - 4]);
    c[plan_end - 4..plan_end].copy_from_slice(&crc.to_le_bytes());
    match refused(&model, &c) {
        SnapshotError::OtherLayout { snapshot, model } => {
            assert!(snapshot.contains("per-layer KV widths"), "{snapshot}");
            assert_ne!(snapshot, model);
        }
        e => panic!("{e:?}"),
    }
    // The plan flag cleared (resealed): the layout differs from the model's.
    let mut c = bytes.clone();
    c[12] &= !2;
    reseal_header(&mut c);
    assert!(matches!(
        refused(&model, &c),
        SnapshotError::OtherLayout { .. }
    ));
    // Cut inside the plan, inside the payload; a flipped payload byte.
    for keep in [129, plan_end - 1, plan_end + 3, bytes.len() - 1] {
        assert!(
            matches!(refused(&model, &bytes[..keep]), SnapshotError::Truncated { found, .. } if found == keep as u64),
            "keep {keep}"
        );
    }
    let mut c = bytes.clone();
    let at = bytes.len() - 40;
    c[at] ^= 1;
    assert!(matches!(refused(&model, &c), SnapshotError::Corrupted(_)));
    // Hostile token count: refused from the header.
    let mut h = bytes.clone();
    h[112..120].copy_from_slice(&(1u64 << 40).to_le_bytes());
    reseal_header(&mut h);
    assert!(matches!(
        refused(&model, &h),
        SnapshotError::ContextTooSmall { .. }
    ));
}
