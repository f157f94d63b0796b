//! The model file changing underneath a loaded model: truncation and in-place writes are
//! detected before evaluation touches the map (a typed error, not SIGBUS); replacing the file
//! by rename leaves the loaded model working. Also: special files are not "empty" models.

use pocketlm::internals::gguf::synthetic::{SyntheticArch, SyntheticModel};
use pocketlm::internals::quant::GgmlType;
use pocketlm::{GgufError, LoadError, Model, Session, SessionError, SessionOptions};
use pocketlm::{KeyboardError, PredictorOptions, WordPredictor};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const CHILD_ENV: &str = "POCKETLM_MODEL_FILE_CHILD";

/// Runs the test `name` of this binary in a child process (when not already in one), so that
/// a regression that faults on the truncated map fails this test instead of killing the run.
fn in_child(name: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {name} failed: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(path: &Path, m: &SyntheticModel) {
    std::fs::write(path, m.to_bytes()).unwrap();
}

fn session(m: &Arc<Model>) -> Session {
    Session::new(
        m.clone(),
        SessionOptions {
            context_length: 64,
            threads: 1,
        },
    )
    .unwrap()
}

fn logits(m: &Arc<Model>) -> Result<Vec<f32>, SessionError> {
    session(m).eval(&[5, 6, 7, 8]).map(|l| l.to_vec())
}

fn is_changed(r: Result<Vec<f32>, SessionError>) -> bool {
    matches!(r, Err(SessionError::ModelFileChanged(ref m)) if m.contains("changed after it was loaded"))
}

#[test]
fn truncated_after_load_is_a_typed_error() {
    in_child("truncated_after_load_is_a_typed_error", || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        write(
            &path,
            &SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q8_0),
        );
        let model = Model::load(&path).unwrap();
        let predictor = WordPredictor::new(model.clone(), PredictorOptions::default()).unwrap();
        let mut s = session(&model);
        s.eval(&[5, 6]).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(4096)
            .unwrap();
        let err = s.eval(&[7]).unwrap_err();
        assert!(
            matches!(err, SessionError::ModelFileChanged(ref m) if m.contains("to 4096 bytes")),
            "{err}"
        );
        assert!(is_changed(logits(&model)));
        // What reads metadata after loading (the template for a new chat or drafter, the
        // info) reads copies made at load, never the truncated map.
        assert!(pocketlm::ChatTemplate::for_model(&model).is_ok());
        assert!(model.info().has_chat_template);
        let err = predictor.suggest("the qu").unwrap_err();
        assert!(
            matches!(
                err,
                KeyboardError::Session(SessionError::ModelFileChanged(_))
            ),
            "{err}"
        );
        // Loading the truncated file is a load error.
        assert!(Model::load(&path).is_err());
    });
}

#[test]
fn a_tokenizer_tables_file_truncated_after_load_is_a_typed_error() {
    in_child(
        "a_tokenizer_tables_file_truncated_after_load_is_a_typed_error",
        || {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m.gguf");
            write(
                &path,
                &SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q8_0),
            );
            let opts = pocketlm::LoadOptions {
                layout_cache: Some(dir.path().join("cache")),
            };
            let model = Model::load_with(&path, &opts).unwrap();
            let tables = model.tokenizer().tables_file().expect("mapped").to_owned();
            let mut s = session(&model);
            s.eval(&[5, 6]).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&tables)
                .unwrap()
                .set_len(64)
                .unwrap();
            let err = s.eval(&[7]).unwrap_err();
            assert!(
                matches!(err, SessionError::ModelFileChanged(ref m) if m.contains("tokenizer tables")),
                "{err}"
            );
            // The next load rebuilds the file and works.
            let again = Model::load_with(&path, &opts).unwrap();
            assert_eq!(again.tokenizer().tables_file(), Some(tables.as_path()));
            assert!(logits(&again).is_ok());
        },
    );
}

#[test]
fn rewritten_in_place_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let m = SyntheticModel::new(SyntheticArch::Gemma3, GgmlType::F32);
    write(&path, &m);
    let model = Model::load(&path).unwrap();
    logits(&model).unwrap();
    // Same size, new contents and modification time.
    let mut bytes = m.to_bytes();
    let n = bytes.len();
    bytes[n - 100..].fill(0x7F);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    std::io::Write::write_all(&mut &f, &bytes).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(2))
        .unwrap();
    drop(f);
    assert!(is_changed(logits(&model)));
}

#[test]
fn replaced_by_rename_keeps_the_loaded_model_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    write(
        &path,
        &SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q4_1),
    );
    let old = Model::load(&path).unwrap();
    let before = logits(&old).unwrap();
    // The safe update: write the new model next to the old one, rename it over the path.
    let tmp = dir.path().join("m.gguf.partial");
    write(
        &tmp,
        &SyntheticModel::new(SyntheticArch::Gemma3, GgmlType::Q8_0),
    );
    std::fs::rename(&tmp, &path).unwrap();
    assert_eq!(
        logits(&old).unwrap(),
        before,
        "the old mapping keeps its contents"
    );
    let new = Model::load(&path).unwrap();
    assert_eq!(new.info().architecture, "gemma3");
    logits(&new).unwrap();
    // Deleting the path does not disturb either.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(logits(&old).unwrap(), before);
    logits(&new).unwrap();
}

#[cfg(unix)]
#[test]
fn special_files_are_not_regular_files() {
    let not_regular = |p: &Path, kind: &str| {
        let err = Model::load(p).unwrap_err();
        assert!(
            matches!(err, LoadError::Gguf(GgufError::NotARegularFile { kind: k, .. }) if k.contains(kind)),
            "{}: {err}",
            p.display()
        );
        assert!(!err.to_string().contains("empty"), "{err}");
    };
    not_regular(Path::new("/dev/zero"), "character device");
    not_regular(Path::new("/dev/null"), "character device");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.gguf");
    let ok = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(ok.success());
    // Opening a FIFO for reading would block without a writer: the type check comes first.
    not_regular(&fifo, "FIFO");
    // An empty regular file is still "empty".
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        Model::load(&empty),
        Err(LoadError::Gguf(GgufError::Empty(_)))
    ));
}
