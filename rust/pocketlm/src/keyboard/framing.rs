//! Framing: the text the model sees before the keyboard's context, so that a field's first
//! letters read as the start of a message to someone, in the field's language, rather than
//! as raw text after nothing.
//!
//! Keyboard text is mostly messages. Seen after nothing (or as the start of a turn addressed
//! to an assistant), "Are you com" continues with "considering" and "comparing" and "Hel" with
//! "Help"; seen as a message in a chat between friends it continues with "coming" and "Hello".
//! A multilingual model also needs to be told the language: after nothing, "Bis mor" goes on
//! in whatever language the model finds likeliest. The framing is evaluated once and stays
//! cached as the KV prefix of every context (the engine pins its node), so a longer framing
//! costs its tokens once per field, not per keystroke.
//!
//! The framings are data (`framings.tsv`, validated by the tests), one row per chat format
//! (the marker: a special token the tokenizer has, not the model's chat template: Gemma 3
//! 270M ships without one) and language. The measured rows and their figures are in
//! docs/keyboard.md, "Framing".

use super::Language;
use crate::Tokenizer;

/// The framing table.
const FRAMINGS: &str = include_str!("framings.tsv");

/// One framing: used when the tokenizer has the `marker` token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framing {
    /// A special token the model's vocabulary must have (its chat format); `*`: any model.
    pub marker: &'static str,
    /// The language it frames.
    pub language: Language,
    /// The text placed before every context (special tokens parsed), after the model's
    /// start-of-text token when it adds one.
    pub text: String,
}

/// The rows of `table` (comments and blank lines skipped); an error names a bad line.
fn parse(table: &'static str) -> Result<Vec<Framing>, String> {
    let mut out = Vec::new();
    for (i, line) in table.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split('\t');
        let (Some(marker), Some(lang), Some(text), None) = (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(format!("line {}: expected marker, language, text", i + 1));
        };
        let language = Language::parse(lang)
            .ok_or_else(|| format!("line {}: unknown language {lang:?}", i + 1))?;
        if marker.is_empty() || text.is_empty() {
            return Err(format!("line {}: empty marker or text", i + 1));
        }
        out.push(Framing {
            marker,
            language,
            text: text.replace("\\n", "\n"),
        });
    }
    Ok(out)
}

/// The framing for a model with tokenizer `tok` writing `language`, if a row applies.
pub fn for_tokenizer(tok: &Tokenizer, language: Language) -> Option<Framing> {
    // The table is checked by the tests; a bad row could only come from an edit of it.
    let rows = parse(FRAMINGS).unwrap_or_default();
    rows.into_iter()
        .find(|f| f.language == language && (f.marker == "*" || tok.token_id(f.marker).is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_valid_and_frames_every_language() {
        let rows = parse(FRAMINGS).expect("framings.tsv");
        for l in Language::ALL {
            assert!(
                rows.iter().any(|f| f.language == l),
                "no framing for {}",
                l.as_str()
            );
        }
        // Every non-English language has a row for any model (Gemma 3 has no chat markers
        // of its own in the table).
        for l in &Language::ALL[1..] {
            assert!(rows.iter().any(|f| f.language == *l && f.marker == "*"));
        }
        assert!(parse("x\tnl\ttext").is_err());
        assert!(parse("x\ten").is_err());
        assert!(parse("x\ten\t\t").is_err());
    }
}
