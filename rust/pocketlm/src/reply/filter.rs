//! Text checks for reply candidates: validity (no empty text, markup, assistant-speak,
//! repetition loops, blocked words, echoes of the message, parroting) and near-duplicate
//! detection. The word lists are lexicons of the catalog (`markup`, `assistant_speak`,
//! `blocked`, `filler`).

use super::catalog::Catalog;

/// Lowercase words (letters, digits and apostrophes), for comparisons.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('\'', ""))
        .filter(|w| !w.is_empty())
        .collect()
}

/// The words of `text` joined by single spaces: equal keys mean equal replies.
pub fn key(text: &str) -> String {
    words(text).join(" ")
}

/// The key of `text` between spaces (" a b "), for [`has_phrase`].
pub fn padded_key(text: &str) -> String {
    format!(" {} ", key(text))
}

/// Whether `phrase` (lowercase words joined by single spaces) occurs as whole words in
/// `padded` (see [`padded_key`]).
pub fn has_phrase(padded: &str, phrase: &str) -> bool {
    padded.contains(&format!(" {phrase} "))
}

/// Why a candidate was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Nothing but whitespace or punctuation.
    Empty,
    /// More words than `max_words`.
    TooLong,
    /// Markup or chat-template tokens ("<|im_end|>").
    Markup,
    /// Talks like an assistant ("As an AI...").
    AssistantSpeak,
    /// Repeats itself.
    Repetition,
    /// Contains a blocked word or phrase (built-in or the caller's blocklist).
    Blocked,
    /// Repeats the words of the message it answers.
    EchoesMessage,
    /// Generated text that ran out of tokens mid-sentence.
    Unfinished,
    /// A reply that answers another kind of message ("You're welcome!" without thanks).
    OffContext,
    /// Generated text that is one word the model pieced together ("Wonderbeads" to "wyd").
    Garbled,
}

/// Whether `text` is acceptable as a suggestion (see [`Rejection`]).
pub fn check(
    text: &str,
    message: &str,
    max_words: usize,
    blocklist: &[String],
    cat: &Catalog,
) -> Result<(), Rejection> {
    let ws = words(text);
    if ws.is_empty() || !text.chars().any(|c| c.is_alphanumeric()) {
        return Err(Rejection::Empty);
    }
    if ws.len() > max_words {
        return Err(Rejection::TooLong);
    }
    let lower = text.to_lowercase();
    if cat
        .lexicon("markup")
        .iter()
        .any(|m| lower.contains(m.as_str()))
    {
        return Err(Rejection::Markup);
    }
    let padded = format!(" {} ", ws.join(" "));
    if cat.has_any(&padded, "assistant_speak") {
        return Err(Rejection::AssistantSpeak);
    }
    if has_loop(&ws) {
        return Err(Rejection::Repetition);
    }
    let blocked = |w: &str| cat.contains("blocked", w) || blocklist.iter().any(|b| key(b) == w);
    if ws.iter().any(|w| blocked(w)) {
        return Err(Rejection::Blocked);
    }
    // Multi-word blocklist entries match as phrases.
    if blocklist
        .iter()
        .map(|b| key(b))
        .any(|b| b.contains(' ') && padded.contains(&format!(" {b} ")))
    {
        return Err(Rejection::Blocked);
    }
    let mk = words(message);
    // The same words, mostly the same words, or a phrase of the message said back ("how
    // about you?" to "I'm fine, how about you?").
    // "Nice to meet you too!" to "Nice to meet you." returns the words, it does not echo.
    let returned = ["too", "also"]
        .iter()
        .any(|w| ws.iter().any(|x| x == w) && !mk.iter().any(|x| x == w));
    if mk == ws
        || (ws.len() >= 3 && !returned && jaccard(&ws, &mk) >= 0.6)
        || (ws.len() >= 2 && mk.windows(ws.len()).any(|w| w == ws.as_slice()))
    {
        return Err(Rejection::EchoesMessage);
    }
    Ok(())
}

/// A short reply made only of the message's own words ("Up!" to "What's up?", "Steam
/// engine, yes!" to "who invented the steam engine"): a word copied from the message is far
/// likelier after it, which alone does not make a reply. A choice question ("tea or
/// coffee?") may be answered with one of its words.
pub fn parrots(reply: &str, message: &str, cat: &Catalog) -> bool {
    let ws = words(reply);
    let mk = words(message);
    if ws.is_empty() || ws.len() > 3 || mk.iter().any(|w| w == "or") {
        return false;
    }
    let content: Vec<&String> = ws.iter().filter(|w| !cat.contains("filler", w)).collect();
    !content.is_empty() && content.iter().all(|w| mk.contains(w))
}

/// A word repeated three times in a row, or a repeated word pair/triple.
fn has_loop(ws: &[String]) -> bool {
    if ws.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
        return true;
    }
    // A content word said twice in a short reply ("Sorry, I'm sorry.").
    if ws.len() <= 8 {
        for (i, w) in ws.iter().enumerate() {
            if w.len() >= 4 && ws[i + 1..].contains(w) {
                return true;
            }
        }
    }
    for n in [2usize, 3] {
        let grams: Vec<&[String]> = ws.windows(n).collect();
        for (i, g) in grams.iter().enumerate() {
            if grams[i + 1..].contains(g) {
                return true;
            }
        }
    }
    false
}

fn jaccard(a: &[String], b: &[String]) -> f32 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut sa: Vec<&String> = a.iter().collect();
    sa.sort();
    sa.dedup();
    let mut sb: Vec<&String> = b.iter().collect();
    sb.sort();
    sb.dedup();
    let inter = sa.iter().filter(|w| sb.contains(w)).count() as f32;
    let union = (sa.len() + sb.len()) as f32 - inter;
    inter / union
}

/// Whether two replies say nearly the same thing: equal words, one a prefix of the other's
/// words, or mostly the same words.
pub fn near_duplicate(a: &str, b: &str) -> bool {
    let (wa, wb) = (words(a), words(b));
    if wa == wb {
        return true;
    }
    let (short, long) = if wa.len() <= wb.len() {
        (&wa, &wb)
    } else {
        (&wb, &wa)
    };
    if !short.is_empty() && long.starts_with(short) {
        return true;
    }
    jaccard(&wa, &wb) >= 0.6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_candidates() {
        let c = Catalog::builtin().unwrap();
        let m = "Can we meet tomorrow at 5?";
        let check = |t: &str, m: &str, n: usize, b: &[String]| check(t, m, n, b, c);
        assert_eq!(check("", m, 12, &[]), Err(Rejection::Empty));
        assert_eq!(check("!!", m, 12, &[]), Err(Rejection::Empty));
        assert_eq!(check("Sure <|im_end|>", m, 12, &[]), Err(Rejection::Markup));
        assert_eq!(
            check("As an AI, I can't meet.", m, 12, &[]),
            Err(Rejection::AssistantSpeak)
        );
        assert_eq!(
            check("I'm here to help with anything.", m, 12, &[]),
            Err(Rejection::AssistantSpeak)
        );
        assert_eq!(check("yes yes yes", m, 12, &[]), Err(Rejection::Repetition));
        assert_eq!(
            check("see you see you", m, 12, &[]),
            Err(Rejection::Repetition)
        );
        assert_eq!(
            check("Can we meet tomorrow at 5?", m, 12, &[]),
            Err(Rejection::EchoesMessage)
        );
        assert_eq!(
            check("Sure, see you at the pub", m, 12, &["pub".into()]),
            Err(Rejection::Blocked)
        );
        assert_eq!(
            check("one two three four five", m, 4, &[]),
            Err(Rejection::TooLong)
        );
        assert_eq!(check("Sure, see you then!", m, 12, &[]), Ok(()));
        assert_eq!(
            check("How about you?", "I'm fine, how about you?", 12, &[]),
            Err(Rejection::EchoesMessage)
        );
        assert_eq!(
            check("Me too!", "I'm fine, how about you?", 12, &[]),
            Ok(())
        );
        assert_eq!(
            check("Nice to meet you too!", "Nice to meet you.", 12, &[]),
            Ok(())
        );
    }

    #[test]
    fn parroting_and_duplicates() {
        let c = Catalog::builtin().unwrap();
        assert!(parrots("Up!", "What's up?", c));
        assert!(!parrots("Tea!", "Tea or coffee?", c));
        assert!(!parrots("Sounds good!", "Dinner at 8?", c));
        assert!(near_duplicate("See you then!", "Ok see you then!"));
        assert!(near_duplicate("That's great!", "That's great."));
        assert!(!near_duplicate("Sure, see you then!", "Sorry, I can't."));
    }
}
