//! Predictor profiles: named sets of options for where the keyboard runs. A keyboard (IME)
//! runs beside the foreground app, so its process should hold little anonymous memory; the
//! low-memory profile trades latency (more re-evaluation) for memory, never suggestions where
//! it can avoid it. The numbers live here, in one place, with what measured them.

use super::PredictorOptions;

/// Where the predictor runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum KeyboardProfile {
    /// Latency first: a large logits cache and session pool (`PredictorOptions::default()`).
    #[default]
    Default,
    /// For an input method beside the foreground app: fewer cached sessions and logits, a
    /// shorter window.
    LowMemory,
}

impl KeyboardProfile {
    /// A stable name for logs and JSON: `default` or `low-memory`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::LowMemory => "low-memory",
        }
    }

    /// Parses `default` or `low-memory` (also `low_memory`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Self::Default),
            "low-memory" | "low_memory" => Some(Self::LowMemory),
            _ => None,
        }
    }
}

/// The low-memory profile's settings. Measured with `pocketlm eval-keyboard --model
/// models/SmolLM2-135M-Instruct.Q4_1.gguf --corpus tests/fixtures/keyboard-dev.txt --json
/// --profile low-memory` (peak `RssAnon`; the table is in docs/keyboard.md).
struct LowMemory;

impl LowMemory {
    /// Logits of evaluated sequences kept across keystrokes beyond the current call's and the
    /// pinned framing's: none. On the held-out lines (`eval-keyboard --corpus
    /// chatterbot-en-heldout.txt --limit 60 --profile low-memory --cache-mib 0|4`) a 4 MiB
    /// cache saved no token rows (2.27 per keystroke either way: the sessions' KV caches
    /// already hold the context) and cost 2.1 MiB of peak `RssAnon` (30.8 against 28.7 MiB).
    const CACHE_BYTES: usize = 0;
    /// Sessions (KV caches) kept: one batch of candidates plus the context's session.
    const MAX_SESSIONS: usize = 5;
    /// Sessions keeping live recurrent states between keystrokes (models with recurrent
    /// layers only): on the Qwen3.5-0.8B shape a peak of 169.8 MiB against 358.2 before
    /// states were shed (the default profile's 2: 276.5; docs/keyboard.md, "Models with a
    /// recurrent state").
    const LIVE_STATES: usize = 1;
    /// The pool's copies share checkpoints instead of copying live states: on the
    /// Qwen3.5-0.8B shape a peak of 116.5-117.2 MiB against 169.6-170.1, the same typing
    /// latency, rewinds replaying up to 19 tokens against 11 (docs/keyboard.md, "Copies
    /// share the checkpoint"). With it, the context's live states become its checkpoint
    /// instead of being copied: peak inside calls 131.6 -> 112 MiB (93.2 with the framing's
    /// checkpoint in files; docs/keyboard.md, "The context's states become its checkpoint").
    const SHARE_CHECKPOINTS: bool = true;
    /// Checkpoints a session keeps: the framing's and the context's. On the Qwen3.5-0.8B
    /// shape the peak inside calls goes from 152.9 to 133.5 MiB with the same token rows and
    /// replays on the dev corpus with backspaces (docs/keyboard.md, "Checkpoints kept").
    const CHECKPOINTS: usize = 2;
    /// Text before the current word the model sees (messages are short).
    const MAX_CONTEXT_BYTES: usize = 160;
    /// User words kept (about 100 KiB at most).
    const MAX_USER_WORDS: usize = 1000;
}

impl PredictorOptions {
    /// The options of `profile` (then adjust `k`, `threads`, blocklist and so on as needed).
    pub fn for_profile(profile: KeyboardProfile) -> Self {
        let d = PredictorOptions::default();
        match profile {
            KeyboardProfile::Default => d,
            KeyboardProfile::LowMemory => PredictorOptions {
                cache_bytes: LowMemory::CACHE_BYTES,
                max_sessions: LowMemory::MAX_SESSIONS.max(d.beam_width),
                live_states: LowMemory::LIVE_STATES,
                share_checkpoints: LowMemory::SHARE_CHECKPOINTS,
                checkpoints: LowMemory::CHECKPOINTS,
                max_context_bytes: LowMemory::MAX_CONTEXT_BYTES,
                user_words: super::UserWordOptions {
                    max_words: LowMemory::MAX_USER_WORDS,
                    ..d.user_words.clone()
                },
                ..d
            },
        }
    }
}
