//! `init_logging` / `init_logging_to` (its own process: the `log` logger is process-wide).
//! Levels filter (Warn by default), the sink is replaced by a second call, Off stops
//! everything, and a real model load reports its time, mapped bytes and kernel tier.

use pocketlm_ffi::{init_logging, init_logging_to, LogLevel, LogSink, Model};
use std::sync::{Arc, Mutex};

type Records = Arc<Mutex<Vec<(LogLevel, String, String)>>>;

struct Capture(Records);
impl LogSink for Capture {
    fn log(&self, level: LogLevel, target: String, message: String) {
        self.0.lock().unwrap().push((level, target, message));
    }
}

#[test]
fn init_logging_routes_and_filters() {
    let got: Records = Arc::default();
    assert!(init_logging_to(None, Box::new(Capture(got.clone()))));
    assert_eq!(
        log::max_level(),
        log::LevelFilter::Warn,
        "the default level is Warn"
    );
    log::warn!(target: "pocketlm::test", "warn record");
    log::info!(target: "pocketlm::test", "info record");
    assert_eq!(
        *got.lock().unwrap(),
        vec![(
            LogLevel::Warn,
            "pocketlm::test".to_owned(),
            "warn record".to_owned()
        )]
    );

    got.lock().unwrap().clear();
    assert!(init_logging_to(
        Some(LogLevel::Info),
        Box::new(Capture(got.clone()))
    ));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-models.sh",
        path.display()
    );
    let _model = Model::load(path.to_string_lossy().into_owned()).unwrap();
    let loads: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.1 == "pocketlm::model")
        .map(|r| r.2.clone())
        .collect();
    assert_eq!(loads.len(), 1, "{loads:?}");
    let file_len = std::fs::metadata(&path).unwrap().len();
    assert!(
        loads[0].contains(&format!("{file_len} bytes mapped")),
        "{}",
        loads[0]
    );
    assert!(loads[0].contains("bytes anonymous"), "{}", loads[0]);
    assert!(loads[0].contains("kernel tier"), "{}", loads[0]);

    got.lock().unwrap().clear();
    assert!(init_logging(Some(LogLevel::Off)));
    log::error!(target: "pocketlm::test", "dropped");
    assert!(
        got.lock().unwrap().is_empty(),
        "Off logs nothing, and the sink was replaced"
    );
    assert_eq!(log::max_level(), log::LevelFilter::Off);
}
