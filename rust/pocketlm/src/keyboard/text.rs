//! Text rules of the keyboard: what a word is, where the word being typed starts, which part
//! of a long text the model sees, sentence starts, typed case, and edit distance. Pure functions
//! over `&str`; nothing here touches the model.

/// Longest word (in characters) the engine tries to complete; a longer run of letters (a pasted
/// URL, a key held down) gets no completions.
pub const MAX_WORD_CHARS: usize = 40;

/// A letter, digit or combining mark: the characters words are made of. Marks count so that a
/// word typed in decomposed form ("cafe\u{301}", as some keyboards and pasted text produce) is
/// one word, not a word followed by a separator.
pub fn is_word_char(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as Gc};
    c.is_alphanumeric()
        || matches!(
            get_general_category(c),
            Gc::NonspacingMark | Gc::SpacingMark | Gc::EnclosingMark
        )
}

/// Apostrophes that may sit inside a word ("don't", "I’m").
pub fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// The typographic apostrophe (U+2019), which iOS and many Android keyboards type.
pub const TYPOGRAPHIC_APOSTROPHE: char = '\u{2019}';

/// `text` as the model and the token tables see it: composed (NFC: "cafe\u{301}" → "café",
/// as the model's tokens spell it) and with typographic apostrophes folded to `'` (the
/// models saw "don't" far more often than "don’t"). Borrowed when nothing changes.
pub fn fold(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
    let nfc = is_nfc_quick(text.chars()) == IsNormalized::Yes;
    if nfc && !text.contains(TYPOGRAPHIC_APOSTROPHE) {
        return std::borrow::Cow::Borrowed(text);
    }
    let composed: String = if nfc {
        text.to_string()
    } else {
        text.nfc().collect()
    };
    std::borrow::Cow::Owned(composed.replace(TYPOGRAPHIC_APOSTROPHE, "'"))
}

/// The apostrophe the field uses: the last one typed in `text` (`'` when there is none),
/// so that a suggested "don't" is written "don’t" in a field where the person's keyboard
/// types typographic apostrophes.
pub fn field_apostrophe(text: &str) -> char {
    text.chars()
        .rev()
        .find(|&c| is_apostrophe(c))
        .unwrap_or('\'')
}

/// `word` with its apostrophes written as `apostrophe`.
pub fn with_apostrophe(word: &str, apostrophe: char) -> String {
    word.chars()
        .map(|c| if is_apostrophe(c) { apostrophe } else { c })
        .collect()
}

/// Whether `word` spells the `typed` letters at its start, ignoring case and apostrophes the
/// person left out ("dont" is spelled by "don't"; "don’" by "don't").
pub fn spells_typed(typed: &str, word: &str) -> bool {
    let mut w = word.chars().flat_map(char::to_lowercase).peekable();
    for t in typed.chars().flat_map(char::to_lowercase) {
        if is_apostrophe(t) {
            if !w.next().is_some_and(is_apostrophe) {
                return false;
            }
            continue;
        }
        if w.peek().is_some_and(|&c| is_apostrophe(c)) {
            w.next();
        }
        if w.next() != Some(t) {
            return false;
        }
    }
    true
}

/// Whether `s` is one whole word: word characters, with apostrophes only between them.
pub fn is_whole_word(s: &str) -> bool {
    let mut prev_word = false;
    let mut any = false;
    for c in s.chars() {
        if is_word_char(c) {
            prev_word = true;
            any = true;
        } else if is_apostrophe(c) && prev_word {
            prev_word = false;
        } else {
            return false;
        }
    }
    any && prev_word
}

/// Splits words out of a line the way the evaluation and the engine see them: maximal runs of
/// word characters, apostrophes allowed between letters. Returns byte ranges.
pub fn word_spans(line: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        if !is_word_char(chars[i].1) {
            i += 1;
            continue;
        }
        let start = chars[i].0;
        let mut j = i + 1;
        loop {
            if j < chars.len() && is_word_char(chars[j].1) {
                j += 1;
            } else if j + 1 < chars.len()
                && is_apostrophe(chars[j].1)
                && is_word_char(chars[j + 1].1)
            {
                j += 2;
            } else {
                break;
            }
        }
        let end = chars.get(j).map_or(line.len(), |c| c.0);
        spans.push((start, end));
        i = j;
    }
    spans
}

/// The text before the cursor, split for prediction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split<'a> {
    /// Everything before the word being typed (and before the one space that precedes it).
    pub context: &'a str,
    /// Whether the word being typed is preceded by one space that belongs to it (GPT-2 and
    /// SentencePiece vocabularies attach the space to the following word).
    pub space: bool,
    /// The letters of the word typed so far (may be empty).
    pub word: &'a str,
}

/// Splits `text` into context, the space before the current word, and the current word.
///
/// "How are yo" → ("How are", space, "yo"); "How are " → ("How are", space, ""); "Hi," →
/// ("Hi,", no space, ""); "" → ("", no space, "").
pub fn split(text: &str) -> Split<'_> {
    // Walk back over word characters and inner apostrophes.
    let mut start = text.len();
    let mut last_was_word = false;
    for (i, c) in text.char_indices().rev() {
        if is_word_char(c) {
            start = i;
            last_was_word = true;
        } else if is_apostrophe(c) && (last_was_word || start == text.len()) {
            // An apostrophe at the end ("don'") or between letters; decided below.
            start = i;
            last_was_word = false;
        } else {
            break;
        }
    }
    // A word never starts with an apostrophe (that is an opening quote).
    while let Some(c) = text[start..].chars().next() {
        if is_apostrophe(c) {
            start += c.len_utf8();
        } else {
            break;
        }
    }
    let word = &text[start..];
    let before = &text[..start];
    if let Some(rest) = before.strip_suffix(' ') {
        Split {
            context: rest,
            space: true,
            word,
        }
    } else {
        Split {
            context: before,
            space: false,
            word,
        }
    }
}

/// Whether a word placed after `context` starts a sentence: the context is empty, or ends (after
/// closing quotes and brackets) with `.`, `!` or `?` (not an ellipsis), or with a line break.
pub fn starts_sentence(context: &str) -> bool {
    let trimmed = context.trim_end_matches([' ', '\t']);
    if trimmed.ends_with(['\n', '\r']) {
        return true;
    }
    let trimmed = trimmed.trim_end();
    if trimmed.is_empty() {
        return true;
    }
    let core = trimmed.trim_end_matches(['"', '\'', ')', ']', '\u{201d}', '\u{2019}']);
    if core.ends_with("..") || core.ends_with('\u{2026}') {
        return false;
    }
    core.ends_with(['.', '!', '?'])
}

/// Start (byte offset) of the part of `context` the model sees: the whole context when it is at
/// most `max_bytes` long, otherwise a suffix of between `max_bytes / 2` and `max_bytes` bytes
/// that starts at a sentence start where possible (else at a word, else anywhere).
///
/// The start only depends on the context's length and text, and moves in steps of
/// `max_bytes / 2`, so while someone types at the end of a long text it stays put and the
/// cached tokens keep being reused.
pub fn window_start(context: &str, max_bytes: usize) -> usize {
    let len = context.len();
    let max_bytes = max_bytes.max(16);
    if len <= max_bytes {
        return 0;
    }
    let step = max_bytes / 2;
    let anchor = (len - max_bytes).div_ceil(step) * step;
    let mut anchor = anchor.min(len);
    while !context.is_char_boundary(anchor) {
        anchor += 1;
    }
    let tail = &context[anchor..];
    // Only look for a boundary in the first half of the tail, so the window keeps some text.
    let limit = tail.len() / 2;
    let mut prev: Option<char> = None;
    let mut prev_non_space: Option<char> = None;
    let mut word_start = None;
    for (i, c) in tail.char_indices() {
        if i > limit {
            break;
        }
        if !c.is_whitespace() {
            if let Some(p) = prev {
                if p.is_whitespace() {
                    if matches!(prev_non_space, Some('.' | '!' | '?')) || p == '\n' {
                        return anchor + i;
                    }
                    word_start.get_or_insert(anchor + i);
                }
            }
            prev_non_space = Some(c);
        } else if c == '\n' {
            prev_non_space = Some('.');
        }
        prev = Some(c);
    }
    word_start.unwrap_or(anchor)
}

/// Writes a suggested word the way the person is typing it: the typed letters are kept as they
/// are ("Hel" + "hello" → "Hello", "lon" + "London" → "london"), all-capital typing stays
/// all-capital ("HEL" → "HELLO"), and an untyped word at a sentence start is capitalized.
/// `word` must start with `typed` ignoring case.
///
/// `word` may hold apostrophes the person did not type ("dont" + "don't" → "don't", "Dont" →
/// "Don't"): each typed character replaces the word character it stands for, apostrophes
/// left out are kept from `word`.
pub fn apply_case(typed: &str, word: &str, sentence_start: bool) -> String {
    if typed.is_empty() {
        return if sentence_start {
            capitalize(word)
        } else {
            word.to_string()
        };
    }
    let letters: Vec<char> = typed.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase()) {
        return word.to_uppercase();
    }
    let mut out = String::with_capacity(typed.len() + word.len());
    let mut w = word.chars().peekable();
    for t in typed.chars() {
        if !is_apostrophe(t) && w.peek().copied().is_some_and(is_apostrophe) {
            out.extend(w.next());
        }
        out.push(t);
        w.next();
    }
    out.extend(w);
    out
}

/// Writes a suggestion the typed letters do not spell (a next word, a correction) the way its
/// position asks: all-capital typing stays all-capital, a sentence start or a typed capital
/// capitalizes, and mid-sentence the word starts lower-case ("I said hel" → "hey", not the
/// "Hey" a model spells at the start of a quote) unless it is `inherent`ly capitalized (a
/// name, "I"): the caller decides that from the model (`WordPredictor`).
pub fn position_case(typed: &str, word: &str, sentence_start: bool, inherent: bool) -> String {
    let letters: Vec<char> = typed.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase()) {
        word.to_uppercase()
    } else if sentence_start || typed.chars().next().is_some_and(char::is_uppercase) {
        capitalize(word)
    } else if inherent {
        word.to_string()
    } else {
        lowercase_first(word)
    }
}

/// First letter lower-cased.
pub fn lowercase_first(word: &str) -> String {
    let mut cs = word.chars();
    match cs.next() {
        Some(c) => c.to_lowercase().chain(cs).collect(),
        None => String::new(),
    }
}

/// Whether `word` is the English pronoun "I" or one of its contractions ("I'm", "i’d"), which
/// are written with a capital wherever they stand.
pub fn is_pronoun_i(word: &str) -> bool {
    let mut cs = word.chars();
    matches!(cs.next(), Some('i' | 'I')) && cs.next().is_none_or(is_apostrophe)
}

/// First letter upper-cased.
pub fn capitalize(word: &str) -> String {
    let mut cs = word.chars();
    match cs.next() {
        Some(c) => c.to_uppercase().chain(cs).collect(),
        None => String::new(),
    }
}

fn key_pos(c: char) -> Option<(i32, i32)> {
    const ROWS: [&str; 3] = ["qwertyuiop", "asdfghjkl", "zxcvbnm"];
    ROWS.iter()
        .enumerate()
        .find_map(|(r, row)| row.find(c).map(|col| (r as i32, col as i32)))
}

/// Whether two letters are neighbours on a QWERTY keyboard.
pub fn keys_adjacent(a: char, b: char) -> bool {
    match (key_pos(a), key_pos(b)) {
        (Some((ra, ca)), Some((rb, cb))) => {
            // Each row sits half a key right of the one above it.
            (ra == rb && (ca - cb).abs() == 1)
                || ((ra - rb).abs() == 1 && (ca == cb || ca - cb == if ra > rb { -1 } else { 1 }))
        }
        _ => false,
    }
}

/// Cost of a transposition of two neighbouring letters ("teh") and of hitting a neighbouring
/// key; insertions, deletions and other substitutions cost 1.
pub const TYPO_COST: f32 = 0.6;

/// Typing-error distance between two short lower-case strings: optimal string alignment where
/// slips to neighbouring keys and swapped letters cost [`TYPO_COST`]; `None` once it exceeds
/// `max`.
pub fn typo_distance(a: &[char], b: &[char], max: f32) -> Option<f32> {
    if a.len().abs_diff(b.len()) as f32 > max {
        return None;
    }
    let w = b.len() + 1;
    let mut prev2 = vec![0f32; w];
    let mut prev: Vec<f32> = (0..w).map(|j| j as f32).collect();
    let mut cur = vec![0f32; w];
    for i in 1..=a.len() {
        cur[0] = i as f32;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = if a[i - 1] == b[j - 1] {
                0.0
            } else if keys_adjacent(a[i - 1], b[j - 1]) {
                TYPO_COST
            } else {
                1.0
            };
            let mut v = (prev[j] + 1.0)
                .min(cur[j - 1] + 1.0)
                .min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + TYPO_COST);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining_marks_stay_inside_words() {
        assert!(is_whole_word("cafe\u{301}"));
        assert_eq!(word_spans("Un cafe\u{301} noir").len(), 3);
        let s = split("Un cafe\u{301}");
        assert_eq!((s.context, s.space, s.word), ("Un", true, "cafe\u{301}"));
    }

    #[test]
    fn nfc_and_nfd_fold_to_the_same_text() {
        let nfd = "Un cafe\u{301} cre\u{300}me";
        let nfc = "Un caf\u{e9} cr\u{e8}me";
        assert_eq!(fold(nfd), nfc);
        assert_eq!(fold(nfc), nfc);
        assert!(matches!(fold(nfc), std::borrow::Cow::Borrowed(_)));
        assert_eq!(fold("I\u{2019}m"), "I'm");
        // The word being typed is the whole decomposed word, in either form.
        for text in [nfd, nfc] {
            let s = split(text);
            assert_eq!(fold(s.word), "cr\u{e8}me", "{text:?}");
            assert_eq!(fold(s.context), "Un caf\u{e9}");
        }
        assert_eq!(split("cafe\u{301}").word, "cafe\u{301}");
    }

    #[test]
    fn greek_and_cyrillic_are_words() {
        let line = "Привет, как дела? Καλημέρα φίλε! Straße über naïve";
        let words: Vec<&str> = word_spans(line).iter().map(|&(a, b)| &line[a..b]).collect();
        assert_eq!(
            words,
            [
                "Привет",
                "как",
                "дела",
                "Καλημέρα",
                "φίλε",
                "Straße",
                "über",
                "naïve"
            ]
        );
        let s = split("Καλημέρα φί");
        assert_eq!((s.context, s.space, s.word), ("Καλημέρα", true, "φί"));
        assert!(is_whole_word("дела") && is_whole_word("l'école") && is_whole_word("c’est"));
    }

    #[test]
    fn apostrophes_typed_or_left_out() {
        assert!(spells_typed("dont", "don't"));
        assert!(spells_typed("don'", "don't"));
        assert!(spells_typed("Don\u{2019}", "don't"));
        assert!(spells_typed("Lets", "let's"));
        assert!(spells_typed("", "let's"));
        assert!(!spells_typed("dnt", "don't"));
        assert!(!spells_typed("dont", "done"));
        assert_eq!(apply_case("dont", "don't", false), "don't");
        assert_eq!(apply_case("Dont", "don't", true), "Don't");
        assert_eq!(apply_case("Don", "don't", true), "Don't");
        assert_eq!(apply_case("Don\u{2019}", "don't", true), "Don\u{2019}t");
        assert_eq!(apply_case("DONT", "don't", false), "DON'T");
        assert_eq!(field_apostrophe("I\u{2019}m sure it"), '\u{2019}');
        assert_eq!(field_apostrophe("I'm sure it"), '\'');
        assert_eq!(field_apostrophe("Hi"), '\'');
        assert_eq!(with_apostrophe("don't", '\u{2019}'), "don\u{2019}t");
    }

    #[test]
    fn split_cases() {
        let s = split("How are yo");
        assert_eq!((s.context, s.space, s.word), ("How are", true, "yo"));
        let s = split("How are ");
        assert_eq!((s.context, s.space, s.word), ("How are", true, ""));
        let s = split("Hi,");
        assert_eq!((s.context, s.space, s.word), ("Hi,", false, ""));
        let s = split("");
        assert_eq!((s.context, s.space, s.word), ("", false, ""));
        let s = split("I don't");
        assert_eq!((s.context, s.space, s.word), ("I", true, "don't"));
        let s = split("I don'");
        assert_eq!((s.context, s.space, s.word), ("I", true, "don'"));
        let s = split("say 'hel");
        assert_eq!((s.context, s.space, s.word), ("say '", false, "hel"));
        let s = split("a  b");
        assert_eq!((s.context, s.space, s.word), ("a ", true, "b"));
        let s = split("line\nnext");
        assert_eq!((s.context, s.space, s.word), ("line\n", false, "next"));
        let s = split("🍕 ");
        assert_eq!((s.context, s.space, s.word), ("🍕", true, ""));
        let s = split("'");
        assert_eq!((s.context, s.space, s.word), ("'", false, ""));
    }

    #[test]
    fn words_and_spans() {
        assert!(is_whole_word("don't"));
        assert!(is_whole_word("Hello"));
        assert!(!is_whole_word("don'"));
        assert!(!is_whole_word("'s"));
        assert!(!is_whole_word("a b"));
        assert!(!is_whole_word(""));
        let line = "I'm fine, 'thanks' and you?";
        let words: Vec<&str> = word_spans(line).iter().map(|&(a, b)| &line[a..b]).collect();
        assert_eq!(words, ["I'm", "fine", "thanks", "and", "you"]);
    }

    #[test]
    fn sentence_starts() {
        assert!(starts_sentence(""));
        assert!(starts_sentence("Hi."));
        assert!(starts_sentence("Really?\""));
        assert!(starts_sentence("one\n"));
        assert!(!starts_sentence("Well..."));
        assert!(!starts_sentence("Hi,"));
        assert!(!starts_sentence("How are"));
    }

    #[test]
    fn case_rules() {
        assert_eq!(apply_case("Hel", "hello", false), "Hello");
        assert_eq!(apply_case("HEL", "hello", false), "HELLO");
        assert_eq!(apply_case("lon", "London", false), "london");
        assert_eq!(apply_case("", "the", true), "The");
        assert_eq!(apply_case("", "the", false), "the");
        assert_eq!(apply_case("H", "hello", false), "Hello");
        assert_eq!(capitalize("élan"), "Élan");
    }

    #[test]
    fn position_decides_the_case_of_untyped_words() {
        // Mid-sentence: lower-case, unless the word is capitalized by itself.
        assert_eq!(position_case("hel", "Hey", false, false), "hey");
        assert_eq!(position_case("", "Hey", false, false), "hey");
        assert_eq!(position_case("", "I'm", false, true), "I'm");
        assert_eq!(position_case("lodnon", "London", false, true), "London");
        assert_eq!(position_case("", "the", false, false), "the");
        // A sentence start or a typed capital capitalizes; all-capital typing stays so.
        assert_eq!(position_case("hel", "hey", true, false), "Hey");
        assert_eq!(position_case("", "the", true, false), "The");
        assert_eq!(position_case("Hel", "help", false, false), "Help");
        assert_eq!(position_case("HEL", "Help", false, false), "HELP");
        assert_eq!(lowercase_first("Élan"), "élan");
    }

    #[test]
    fn distances() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(typo_distance(&c("teh"), &c("the"), 2.0), Some(TYPO_COST));
        assert_eq!(
            typo_distance(&c("recieve"), &c("receive"), 2.0),
            Some(TYPO_COST)
        );
        assert_eq!(typo_distance(&c("kitten"), &c("sitting"), 3.0), Some(3.0));
        assert_eq!(typo_distance(&c("kitten"), &c("sitting"), 2.0), None);
        assert_eq!(typo_distance(&c(""), &c("ab"), 2.0), Some(2.0));
        // "r" and "t" are neighbours, "r" and "p" are not.
        assert_eq!(typo_distance(&c("tun"), &c("run"), 2.0), Some(TYPO_COST));
        assert_eq!(typo_distance(&c("pun"), &c("run"), 2.0), Some(1.0));
        assert!(keys_adjacent('a', 's') && keys_adjacent('g', 'y') && keys_adjacent('b', 'g'));
        assert!(!keys_adjacent('a', 'p'));
    }

    #[test]
    fn window_is_stable_and_bounded() {
        let text = "First sentence here. Second one is longer than that. ".repeat(40);
        let max = 200;
        let mut last = None;
        let mut moves = 0;
        for end in 0..text.len() {
            let ctx = &text[..end];
            let s = window_start(ctx, max);
            assert!(ctx.len() - s <= max, "window too long");
            if last.is_some_and(|l| l != s) {
                moves += 1;
            }
            last = Some(s);
            if s > 0 {
                assert!(ctx[..s].ends_with(' '), "starts at a word: {:?}", &ctx[s..]);
            }
        }
        assert!(
            moves <= text.len() / (max / 2) + 1,
            "window moved {moves} times"
        );
        // Unicode without spaces: still a char boundary.
        let cjk = "漢字".repeat(500);
        let s = window_start(&cjk, 100);
        assert!(cjk.is_char_boundary(s) && cjk.len() - s <= 100);
    }
}
