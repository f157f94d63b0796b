//! PocketLM's fuzz targets (see `targets`), the seeds they start from and a stable mutator.

mod targets;
pub use targets::*;

/// For the libFuzzer binaries (`fuzz_target!(init: ...)`): libFuzzer's panic hook aborts on
/// every panic, even one the library catches. The core contains panics of the template engine
/// (minijinja 2.24 panics on a reverse slice of an empty list or string) as typed
/// `TemplateError`s by design (issue 18), so a panic raised inside minijinja is not a crash
/// here; if the core ever failed to contain one, the unwinding would still reach libFuzzer's
/// own `catch_unwind` and abort. Every other panic aborts at once, as before.
pub fn contained_engine_panics_are_not_crashes() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // llguidance (the grammar engine) also contains its own panics as errors.
        if info.location().is_some_and(|l| {
            l.file().contains("/minijinja-")
                || l.file().contains("/llguidance-")
                || l.file().contains("/derivre-")
        }) {
            return;
        }
        abort(info);
    }));
}
