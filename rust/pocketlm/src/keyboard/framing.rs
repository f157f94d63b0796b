//! Framing: the text the model sees before the keyboard's context, so that a field's first
//! letters read as the start of a message to someone rather than as raw text after nothing.
//!
//! Keyboard text is mostly messages. Seen after nothing (or as the start of a turn addressed
//! to an assistant), "Are you com" continues with "considering" and "comparing" and "Hel" with
//! "Help"; seen as a message in a chat between friends it continues with "coming" and "Hello".
//! The framing is evaluated once and stays cached as the KV prefix of every context (the
//! engine pins its node), so a longer framing costs its tokens once per field, not per
//! keystroke.
//!
//! The framings live in one table, chosen by the special tokens the tokenizer has (the marker
//! of a chat format), not by the model's chat template: Gemma 3 270M ships without one.
//! Every row was measured with `pocketlm eval-keyboard --corpus <dev lines> --prefix <text>`
//! on the dev split only (figures in docs/keyboard.md, "Framing").

use crate::Tokenizer;

/// One framing: used when the tokenizer has the `marker` token.
pub struct Framing {
    /// A special token the model's vocabulary must have (its chat format).
    pub marker: &'static str,
    /// The text placed before every context (special tokens parsed), after the model's
    /// start-of-text token when it adds one.
    pub text: &'static str,
}

/// The framings, tried in order (measured on `chatterbot-en-dev.txt`, every 24th line).
pub const FRAMINGS: &[Framing] = &[
    // SmolLM2 (ChatML). A system turn saying the text is a chat with a friend, then the user
    // turn the typed text starts. Dev 60 lines, `--threads 1`: ksr 0.457 → 0.474, first-word
    // completions per typed letter (pooled) 0.424 → 0.525 against the bare user turn; "You
    // are texting a friend on your phone." 0.465 / 0.525, SmolLM2's default system prompt
    // 0.463 / 0.517, the text as the assistant's answer to "Write a short text message to a
    // friend." 0.439 / 0.441.
    Framing {
        marker: "<|im_start|>",
        text: "<|im_start|>system\nYou are chatting with a friend.<|im_end|>\n<|im_start|>user\n",
    },
];

/// The framing text for a model with tokenizer `tok`, if a row of [`FRAMINGS`] applies.
pub fn for_tokenizer(tok: &Tokenizer) -> Option<&'static Framing> {
    FRAMINGS.iter().find(|f| tok.token_id(f.marker).is_some())
}
