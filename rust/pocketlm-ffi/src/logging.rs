//! Diagnostics for app developers: PocketLM's `log` records (kernel tier, model load time and
//! memory, a chat template falling back, a model file changed on disk, a keystroke over budget)
//! routed to the platform's log by one setup call.
//!
//! - [`init_logging`]: Android → logcat (tag `PocketLM`, through the `android_logger` crate);
//!   elsewhere → standard error. Swift's `PocketLM.Logging.enable(level:)` calls
//!   [`init_logging_to`] with a sink that writes to the unified log (`os.Logger`, subsystem
//!   `dev.pocketlm`): Apple's logging API is Swift/C macros, which a Rust crate can only reach by
//!   compiling C against the Apple SDK (the `oslog` crate does), and that would break building the
//!   iOS static library where there is no Apple SDK (`make test-mobile-libs`).
//! - Nothing is logged before either call; the default level is [`LogLevel::Warn`]; calling
//!   again changes the level (and, for [`init_logging_to`], the sink).
//! - Records never contain text the user typed or received (a test in
//!   `rust/pocketlm/tests/log_privacy.rs` checks the keyboard and reply paths), and no record is
//!   made per token: the hot paths only test the level.

use std::sync::{Arc, OnceLock, RwLock};

/// How much PocketLM logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Failures: an invalid `POCKETLM_KERNEL`, a model file changed on disk.
    Error,
    /// The default: also a chat template falling back, a keystroke over its time budget.
    Warn,
    /// Also the kernel tier chosen and each model load (time, mapped and anonymous bytes).
    Info,
    /// More detail, for bug reports.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    fn filter(self) -> log::LevelFilter {
        match self {
            Self::Off => log::LevelFilter::Off,
            Self::Error => log::LevelFilter::Error,
            Self::Warn => log::LevelFilter::Warn,
            Self::Info => log::LevelFilter::Info,
            Self::Debug => log::LevelFilter::Debug,
            Self::Trace => log::LevelFilter::Trace,
        }
    }

    fn of(level: log::Level) -> Self {
        match level {
            log::Level::Error => Self::Error,
            log::Level::Warn => Self::Warn,
            log::Level::Info => Self::Info,
            log::Level::Debug => Self::Debug,
            log::Level::Trace => Self::Trace,
        }
    }
}

/// Receives PocketLM's log records when the app routes them itself ([`init_logging_to`]); called
/// on the thread that logged, so it must be quick and must not call back into PocketLM.
#[uniffi::export(callback_interface)]
pub trait LogSink: Send + Sync {
    /// One record: its level, target (the PocketLM module, e.g. `pocketlm::keyboard`) and
    /// message.
    fn log(&self, level: LogLevel, target: String, message: String);
}

/// Where records go: the app's sink, or the platform's log.
enum Route {
    Platform,
    Sink(Arc<dyn LogSink>),
}

struct Dispatch {
    route: RwLock<Route>,
}

impl log::Log for Dispatch {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let route = self.route.read().unwrap_or_else(|e| e.into_inner());
        match &*route {
            Route::Sink(sink) => sink.log(
                LogLevel::of(record.level()),
                record.target().to_owned(),
                record.args().to_string(),
            ),
            Route::Platform => platform::log(record),
        }
    }

    fn flush(&self) {}
}

static DISPATCH: OnceLock<Dispatch> = OnceLock::new();

/// Installs PocketLM's logger (once per process) with `route`, at `level`. Returns false when
/// another logger owns the process's `log` facade (another Rust library set one first): then
/// only the level is set, and PocketLM's records go to that logger.
fn install(level: LogLevel, route: Route) -> bool {
    // Whether `log::set_logger` accepted PocketLM's logger (decided by the first call).
    static OURS: OnceLock<bool> = OnceLock::new();
    let dispatch = DISPATCH.get_or_init(|| Dispatch {
        route: RwLock::new(Route::Platform),
    });
    *dispatch.route.write().unwrap_or_else(|e| e.into_inner()) = route;
    let ours = *OURS.get_or_init(|| log::set_logger(dispatch).is_ok());
    log::set_max_level(level.filter());
    ours
}

/// Routes PocketLM's diagnostics to the platform's log: logcat on Android (tag `PocketLM`),
/// standard error elsewhere; at `level` (default [`LogLevel::Warn`]). Call once at start-up;
/// calling again changes the level. Returns false when another logger already owns the
/// process's Rust `log` facade (PocketLM's records then go there). Never logs user text.
#[uniffi::export(default(level = None))]
pub fn init_logging(level: Option<LogLevel>) -> bool {
    install(level.unwrap_or(LogLevel::Warn), Route::Platform)
}

/// Like [`init_logging`], but every record goes to `sink` (the Swift layer's os_log sink, or an
/// app's own logger). Calling again replaces the sink.
#[uniffi::export]
pub fn init_logging_to(level: Option<LogLevel>, sink: Box<dyn LogSink>) -> bool {
    install(
        level.unwrap_or(LogLevel::Warn),
        Route::Sink(Arc::from(sink)),
    )
}

#[cfg(target_os = "android")]
mod platform {
    use std::sync::OnceLock;

    /// logcat through `android_logger` (its own level left at Trace: the facade's max level,
    /// set by `init_logging`, filters).
    pub(super) fn log(record: &log::Record) {
        static LOGCAT: OnceLock<android_logger::AndroidLogger> = OnceLock::new();
        let logcat = LOGCAT.get_or_init(|| {
            android_logger::AndroidLogger::new(
                android_logger::Config::default()
                    .with_tag("PocketLM")
                    .with_max_level(log::LevelFilter::Trace),
            )
        });
        log::Log::log(logcat, record);
    }
}

#[cfg(not(target_os = "android"))]
mod platform {
    /// Standard error, one line per record.
    pub(super) fn log(record: &log::Record) {
        eprintln!(
            "[PocketLM {} {}] {}",
            record.level(),
            record.target(),
            record.args()
        );
    }
}
