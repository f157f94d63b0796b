//! Pre-tokenizers of byte-level BPE vocabularies: split text into the "words" BPE merges within.
//!
//! llama.cpp does not run the Hugging Face regexes through a regex engine for the common
//! pre-tokenizers; it runs hand-written state machines (`unicode_regex_split_custom_gpt2` and
//! `_llama3` in its `unicode.cpp`) whose corner cases differ slightly from a real regex engine.
//! This module implements the same state machines over code points, including their quirks:
//! every stage works inside the chunks produced by the previous stage (a chunk boundary acts
//! as end of text for look-ahead), "\s+(?!\S)" leaves the last white-space character of a run
//! for the next word, and a space before a digit never joins it when digits were split first.

use unicode_general_category::{get_general_category, GeneralCategory as Gc};

/// The code point is a letter (`\p{L}`).
pub(crate) const LETTER: u8 = 1;
/// The code point is a number (`\p{N}`).
pub(crate) const NUMBER: u8 = 2;
/// The code point is white space (Unicode `White_Space`, llama.cpp's `\s`).
pub(crate) const SPACE: u8 = 4;
/// Set for every code point inside the current chunk; a position outside has flags 0
/// (llama.cpp's `OUT_OF_RANGE`).
pub(crate) const INSIDE: u8 = 8;

const fn ascii_flags() -> [u8; 128] {
    let mut t = [INSIDE; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if b.is_ascii_alphabetic() {
            t[c] |= LETTER;
        } else if b.is_ascii_digit() {
            t[c] |= NUMBER;
        } else if matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ') {
            t[c] |= SPACE;
        }
        c += 1;
    }
    t
}

static ASCII_FLAGS: [u8; 128] = ascii_flags();

/// Category flags of one code point.
#[inline]
pub(crate) fn char_flags(c: char) -> u8 {
    let cp = c as u32;
    if cp < 128 {
        return ASCII_FLAGS[cp as usize];
    }
    let mut f = INSIDE;
    if c.is_whitespace() {
        f |= SPACE;
    }
    match get_general_category(c) {
        Gc::UppercaseLetter
        | Gc::LowercaseLetter
        | Gc::TitlecaseLetter
        | Gc::ModifierLetter
        | Gc::OtherLetter => f |= LETTER,
        Gc::DecimalNumber | Gc::LetterNumber | Gc::OtherNumber => f |= NUMBER,
        _ => {}
    }
    f
}

/// Which splitting pipeline a BPE vocabulary uses (from `tokenizer.ggml.pre`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    Gpt2,
    /// StarCoder / SmolLM: every `\p{N}` on its own first, then the GPT-2 pattern.
    DigitsThenGpt2,
    /// Llama 3 (`max_digits` 3) and Qwen 2 (`max_digits` 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    Llama3 { max_digits: usize },
}

/// Reusable buffers for splitting.
#[derive(Debug, Default)]
pub(crate) struct SplitScratch {
    flags: Vec<u8>,
    chars: Vec<char>,
    offs: Vec<u32>,
    chunks: Vec<(usize, usize)>,
    words: Vec<(usize, usize)>,
}

/// Splits `text` into words; calls `f` with each word's byte range, in order.
pub(crate) fn split(
    text: &str,
    pre: PreTokenizer,
    s: &mut SplitScratch,
    mut f: impl FnMut(std::ops::Range<usize>),
) {
    s.flags.clear();
    s.chars.clear();
    s.offs.clear();
    for (i, c) in text.char_indices() {
        s.chars.push(c);
        s.flags.push(char_flags(c));
        s.offs.push(i as u32);
    }
    let n = s.chars.len();
    s.offs.push(text.len() as u32);
    if n == 0 {
        return;
    }
    s.chunks.clear();
    s.chunks.push((0, n));
    if pre == PreTokenizer::DigitsThenGpt2 {
        // `\p{N}`: each number is its own chunk; the text between numbers is another.
        s.chunks.clear();
        let mut start = 0;
        for i in 0..n {
            if s.flags[i] & NUMBER != 0 {
                if start < i {
                    s.chunks.push((start, i));
                }
                s.chunks.push((i, i + 1));
                start = i + 1;
            }
        }
        if start < n {
            s.chunks.push((start, n));
        }
    }
    s.words.clear();
    for &(ini, end) in &s.chunks {
        let cx = Chunk {
            chars: &s.chars,
            flags: &s.flags,
            ini,
            end,
        };
        match pre {
            PreTokenizer::Gpt2 | PreTokenizer::DigitsThenGpt2 => cx.gpt2(&mut s.words),
            PreTokenizer::Llama3 { max_digits } => cx.llama3(max_digits.max(1), &mut s.words),
        }
    }
    for &(a, b) in &s.words {
        f(s.offs[a] as usize..s.offs[b] as usize);
    }
}

/// One chunk of code points `[ini, end)`; positions outside read as "out of range".
struct Chunk<'a> {
    chars: &'a [char],
    flags: &'a [u8],
    ini: usize,
    end: usize,
}

impl Chunk<'_> {
    #[inline]
    fn fl(&self, pos: usize) -> u8 {
        if pos >= self.ini && pos < self.end {
            self.flags[pos]
        } else {
            0
        }
    }

    #[inline]
    fn ch(&self, pos: usize) -> Option<char> {
        if pos >= self.ini && pos < self.end {
            Some(self.chars[pos])
        } else {
            None
        }
    }

    /// Length of a contraction (`'s`, `'t`, `'m`, `'d`, `'re`, `'ve`, `'ll`) at `pos`, or 0.
    fn contraction(&self, pos: usize, fold_case: bool) -> usize {
        if self.chars[pos] != '\'' || pos + 1 >= self.end {
            return 0;
        }
        let low = |c: char| if fold_case { c.to_ascii_lowercase() } else { c };
        let c1 = low(self.chars[pos + 1]);
        if matches!(c1, 's' | 't' | 'm' | 'd') {
            return 2;
        }
        if pos + 2 < self.end {
            let c2 = low(self.chars[pos + 2]);
            if matches!((c1, c2), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                return 3;
            }
        }
        0
    }

    /// llama.cpp's hand-written GPT-2 splitter.
    fn gpt2(&self, out: &mut Vec<(usize, usize)>) {
        let mut prev = self.ini;
        let mut add = |end: usize, out: &mut Vec<(usize, usize)>| {
            if end > prev {
                out.push((prev, end));
            }
            prev = end;
        };
        let mut pos = self.ini;
        while pos < self.end {
            let c = self.chars[pos];
            let f = self.flags[pos];
            let n = self.contraction(pos, false);
            if n > 0 {
                pos += n;
                add(pos, out);
                continue;
            }
            let mut f2 = if c == ' ' { self.fl(pos + 1) } else { f };
            // ` ?\p{L}+`
            if f2 & LETTER != 0 {
                pos += usize::from(c == ' ');
                while f2 & LETTER != 0 {
                    pos += 1;
                    f2 = self.fl(pos);
                }
                add(pos, out);
                continue;
            }
            // ` ?\p{N}+`
            if f2 & NUMBER != 0 {
                pos += usize::from(c == ' ');
                while f2 & NUMBER != 0 {
                    pos += 1;
                    f2 = self.fl(pos);
                }
                add(pos, out);
                continue;
            }
            // ` ?[^\s\p{L}\p{N}]+`
            let other = |g: u8| g & (SPACE | LETTER | NUMBER) == 0 && g != 0;
            if other(f2) {
                pos += usize::from(c == ' ');
                while other(f2) {
                    pos += 1;
                    f2 = self.fl(pos);
                }
                add(pos, out);
                continue;
            }
            let mut nws = 0;
            while self.fl(pos + nws) & SPACE != 0 {
                nws += 1;
            }
            // `\s+(?!\S)`: leave the last white space for the next word.
            if nws > 1 && self.ch(pos + nws).is_some() {
                pos += nws - 1;
                add(pos, out);
                continue;
            }
            // `\s+`
            if nws > 0 {
                pos += nws;
                add(pos, out);
                continue;
            }
            pos += 1;
            add(pos, out);
        }
    }

    /// llama.cpp's hand-written Llama 3 splitter (`max_digits` = 1 gives Qwen 2's pattern).
    fn llama3(&self, max_digits: usize, out: &mut Vec<(usize, usize)>) {
        let mut prev = self.ini;
        let mut add = |end: usize, out: &mut Vec<(usize, usize)>| {
            if end > prev {
                out.push((prev, end));
            }
            prev = end;
        };
        let is_rn = |c: Option<char>| matches!(c, Some('\r') | Some('\n'));
        let mut pos = self.ini;
        while pos < self.end {
            let c = self.chars[pos];
            let f = self.flags[pos];
            let n = self.contraction(pos, true);
            if n > 0 {
                pos += n;
                add(pos, out);
                continue;
            }
            // `[^\r\n\p{L}\p{N}]?\p{L}+`
            if !(c == '\r' || c == '\n' || f & NUMBER != 0)
                && (f & LETTER != 0 || self.fl(pos + 1) & LETTER != 0)
            {
                pos += 1;
                while self.fl(pos) & LETTER != 0 {
                    pos += 1;
                }
                add(pos, out);
                continue;
            }
            // `\p{N}{1,max_digits}`
            if f & NUMBER != 0 {
                let mut ini = pos;
                while self.fl(pos) & NUMBER != 0 {
                    pos += 1;
                    if pos - ini >= max_digits {
                        add(pos, out);
                        ini = pos;
                    }
                }
                add(pos, out);
                continue;
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let mut f2 = if c == ' ' { self.fl(pos + 1) } else { f };
            if f2 & (SPACE | LETTER | NUMBER) == 0 && f != 0 {
                pos += usize::from(c == ' ');
                while f2 & (SPACE | LETTER | NUMBER) == 0 && f2 != 0 {
                    pos += 1;
                    f2 = self.fl(pos);
                }
                while is_rn(self.ch(pos)) {
                    pos += 1;
                }
                add(pos, out);
                continue;
            }
            let mut nws = 0;
            let mut last_rn = None;
            while self.fl(pos + nws) & SPACE != 0 {
                if is_rn(self.ch(pos + nws)) {
                    last_rn = Some(pos + nws + 1);
                }
                nws += 1;
            }
            // `\s*[\r\n]+`
            if let Some(e) = last_rn {
                pos = e;
                add(pos, out);
                continue;
            }
            // `\s+(?!\S)`
            if nws > 1 && self.ch(pos + nws).is_some() {
                pos += nws - 1;
                add(pos, out);
                continue;
            }
            // `\s+`
            if nws > 0 {
                pos += nws;
                add(pos, out);
                continue;
            }
            pos += 1;
            add(pos, out);
        }
    }
}

/// GPT-2's reversible map from a byte to a printable code point.
pub(crate) fn byte_to_char(b: u8) -> char {
    let cp = match b {
        0x21..=0x7e | 0xa1..=0xac | 0xae..=0xff => u32::from(b),
        0x00..=0x20 => 256 + u32::from(b),
        0x7f..=0xa0 => u32::from(b) + 162,
        0xad => 323,
    };
    char::from_u32(cp).unwrap_or('\u{fffd}')
}

/// Inverse of [`byte_to_char`].
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    let cp = c as u32;
    match cp {
        0x21..=0x7e | 0xa1..=0xac | 0xae..=0xff => Some(cp as u8),
        256..=288 => Some((cp - 256) as u8),
        289..=322 => Some((cp - 162) as u8),
        323 => Some(0xad),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, pre: PreTokenizer) -> Vec<&str> {
        let mut s = SplitScratch::default();
        let mut v = Vec::new();
        split(text, pre, &mut s, |r| v.push(&text[r]));
        v
    }

    #[test]
    fn byte_map_is_a_bijection() {
        let mut seen = std::collections::HashSet::new();
        for b in 0..=255u8 {
            let c = byte_to_char(b);
            assert!(seen.insert(c));
            assert_eq!(char_to_byte(c), Some(b));
        }
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
    }

    #[test]
    fn gpt2_words() {
        assert_eq!(
            words("Hello world's  end 123!!", PreTokenizer::Gpt2),
            ["Hello", " world", "'s", " ", " end", " 123", "!!"]
        );
        assert_eq!(words("a   ", PreTokenizer::Gpt2), ["a", "   "]);
        assert_eq!(words("a\n\nb", PreTokenizer::Gpt2), ["a", "\n", "\n", "b"]);
    }

    #[test]
    fn smollm_digits_never_take_a_space() {
        assert_eq!(
            words("and 3.14 x", PreTokenizer::DigitsThenGpt2),
            ["and", " ", "3", ".", "1", "4", " x"]
        );
    }

    #[test]
    fn llama3_words() {
        assert_eq!(
            words(
                "Hello 12345 it'S\n\n  x",
                PreTokenizer::Llama3 { max_digits: 3 }
            ),
            ["Hello", " ", "123", "45", " it", "'S", "\n\n", " ", " x"]
        );
    }

    #[test]
    fn unicode_categories() {
        assert_eq!(char_flags('é') & LETTER, LETTER);
        assert_eq!(char_flags('日') & LETTER, LETTER);
        assert_eq!(char_flags('٣') & NUMBER, NUMBER);
        assert_eq!(char_flags('\u{3000}') & SPACE, SPACE);
        assert_eq!(char_flags('\u{0301}') & (LETTER | NUMBER | SPACE), 0);
        assert_eq!(char_flags('😀') & (LETTER | NUMBER | SPACE), 0);
    }
}
