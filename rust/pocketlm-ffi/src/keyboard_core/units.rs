//! Offsets across the FFI: the keyboard controller counts text in **UTF-16 code units**, the
//! unit of both platforms' text APIs (Android `InputConnection` and Kotlin `String` indices; iOS
//! `NSString`/`UITextDocumentProxy` ranges and `String.utf16`). Each platform converts at its
//! edge with one small function (docs/samples.md, "Offsets"); here are the conversions between
//! UTF-16 units, Unicode scalars (the core's `TextEdit.delete_chars`) and user-perceived
//! characters (extended grapheme clusters, what one backspace removes; the
//! `unicode-segmentation` crate's UAX #29 rules).

use unicode_segmentation::UnicodeSegmentation;

/// UTF-16 units in `s`.
pub(crate) fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The prefix of `text` up to UTF-16 offset `cursor` (clamped to the text; an offset inside a
/// surrogate pair counts the whole scalar).
pub(crate) fn prefix_utf16(text: &str, cursor: usize) -> &str {
    let mut units = 0;
    for (i, c) in text.char_indices() {
        if units >= cursor {
            return &text[..i];
        }
        units += c.len_utf16();
    }
    text
}

/// The longest suffix of `s` made of whole scalars taking at most `max` UTF-16 units.
pub(crate) fn tail_utf16(s: &str, max: usize) -> &str {
    let mut units = 0;
    for (i, c) in s.char_indices().rev() {
        units += c.len_utf16();
        if units > max {
            return &s[i + c.len_utf8()..];
        }
    }
    s
}

/// UTF-16 units taken by the last `scalars` Unicode scalars of `text` (all of it when shorter).
pub(crate) fn units_of_last_scalars(text: &str, scalars: usize) -> usize {
    text.chars().rev().take(scalars).map(char::len_utf16).sum()
}

/// UTF-16 units taken by the last `clusters` user-perceived characters of `text`.
pub(crate) fn units_of_last_graphemes(text: &str, clusters: usize) -> usize {
    text.graphemes(true)
        .rev()
        .take(clusters)
        .map(utf16_len)
        .sum()
}

/// `text` without its last `units` UTF-16 units (whole scalars: a unit count ending inside a
/// surrogate pair removes the pair).
pub(crate) fn drop_last_utf16(text: &str, units: usize) -> &str {
    let mut left = units;
    let mut end = text.len();
    for (i, c) in text.char_indices().rev() {
        if left == 0 {
            break;
        }
        left = left.saturating_sub(c.len_utf16());
        end = i;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const THUMBS: &str = "\u{1F44D}\u{1F3FD}"; // 👍🏽: two scalars, four UTF-16 units, one cluster

    #[test]
    fn counts_in_utf16_units() {
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len(THUMBS), 4);
        assert_eq!(utf16_len("cafe\u{301}"), 5);
        assert_eq!(prefix_utf16("a\u{1F44D}b", 1), "a");
        assert_eq!(prefix_utf16("a\u{1F44D}b", 2), "a\u{1F44D}");
        assert_eq!(prefix_utf16("a\u{1F44D}b", 3), "a\u{1F44D}");
        assert_eq!(prefix_utf16("a\u{1F44D}b", 99), "a\u{1F44D}b");
        assert_eq!(tail_utf16("a\u{1F44D}b", 2), "b");
        assert_eq!(tail_utf16("a\u{1F44D}b", 3), "\u{1F44D}b");
        assert_eq!(tail_utf16("ab", 0), "");
    }

    #[test]
    fn scalars_and_clusters_before_the_cursor() {
        let text = format!("Great {THUMBS} see you tomor");
        assert_eq!(units_of_last_scalars(&text, 5), 5);
        assert_eq!(units_of_last_scalars(THUMBS, 1), 2);
        assert_eq!(units_of_last_scalars(THUMBS, 9), 4);
        let t = format!("Un cafe\u{301} {THUMBS}");
        assert_eq!(
            units_of_last_graphemes(&t, 1),
            4,
            "the emoji with its skin tone"
        );
        assert_eq!(units_of_last_graphemes(&t, 2), 5, "and the space");
        assert_eq!(units_of_last_graphemes(&t, 3), 7, "and e + combining acute");
        assert_eq!(units_of_last_graphemes(&t, 99), utf16_len(&t));
        assert_eq!(
            units_of_last_graphemes("\u{1F1EB}\u{1F1F7}\u{1F1E9}\u{1F1EA}", 1),
            4
        ); // 🇫🇷🇩🇪
        assert_eq!(units_of_last_graphemes("a\r\n", 1), 2);
        assert_eq!(drop_last_utf16(&t, 4), "Un cafe\u{301} ");
        assert_eq!(drop_last_utf16(&t, 99), "");
        assert_eq!(drop_last_utf16("a\u{1F44D}", 1), "a");
    }
}
