//! Pre-tokenizers of byte-level BPE vocabularies: split text into the "words" BPE merges within.
//!
//! llama.cpp does not run the Hugging Face regexes through a regex engine for the common
//! pre-tokenizers; it runs hand-written state machines (`unicode_regex_split_custom_gpt2` and
//! `_llama3` in its `unicode.cpp`) whose corner cases differ slightly from a real regex engine.
//! This module implements the same state machines over code points, including their quirks:
//! every stage works inside the chunks produced by the previous stage (a chunk boundary acts
//! as end of text for look-ahead), "\s+(?!\S)" leaves the last white-space character of a run
//! for the next word, and a space before a digit never joins it when digits were split first.
//!
//! The other pre-tokenizers (DeepSeek, Falcon, the unnamed default) are lists of regexes that
//! llama.cpp runs through `std::regex`: each regex splits every word of the previous one, and
//! both its matches and the text between them become words. They are simple (an optional `\s`,
//! one character class repeated, or `\s+$`), so they are written here as data (the class texts
//! are llama.cpp's) over a small matcher that reproduces how llama.cpp feeds them to
//! `std::regex`: a regex with `\p{..}` sees every non-ASCII code point as one byte for its
//! category, and non-ASCII white space is read as U+000B. A regex crate would add a large
//! dependency to the phone libraries and still need that translation layer.

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
/// The code point is punctuation (`\p{P}`).
pub(crate) const PUNCT: u8 = 16;
/// The code point is a combining mark (`\p{M}`).
pub(crate) const MARK: u8 = 32;

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
        } else if b.is_ascii_punctuation()
            && !matches!(
                b,
                b'$' | b'+' | b'<' | b'=' | b'>' | b'^' | b'`' | b'|' | b'~'
            )
        {
            t[c] |= PUNCT;
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
        Gc::ConnectorPunctuation
        | Gc::DashPunctuation
        | Gc::OpenPunctuation
        | Gc::ClosePunctuation
        | Gc::InitialPunctuation
        | Gc::FinalPunctuation
        | Gc::OtherPunctuation => f |= PUNCT,
        Gc::NonspacingMark | Gc::SpacingMark | Gc::EnclosingMark => f |= MARK,
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
    Llama3 {
        /// Longest run of digits kept in one word.
        max_digits: usize,
    },
    /// Qwen 3.5: Qwen 2's pattern where combining marks (`\p{M}`) belong to letter runs.
    Qwen35,
    /// llama.cpp's default for byte-level vocabularies without a pre-tokenizer name (GPT-NeoX,
    /// Aquila): runs of `[\p{P}$+<=>^~|]`, then GPT-2, then `\p{N}+`, then `[0-9]{3}`.
    Default,
    /// Falcon: runs of ``[\p{P}$+<=>^~|`]``, then GPT-2, then `[0-9]{3}`.
    Falcon,
    /// DeepSeek LLM: `[\r\n]`, `\s?` + Latin/Greek/Cyrillic/... letters, `\s?` + ASCII and
    /// full-width punctuation, trailing white space, CJK runs, `\p{N}+`.
    DeepseekLlm,
    /// DeepSeek Coder: `[\r\n]`, `\s?\p{L}+`, `\s?\p{P}+`, CJK runs, single `\p{N}`.
    DeepseekCoder,
    /// Gemma 4 (SentencePiece-style BPE over raw UTF-8): only runs of newlines are split off,
    /// `[^\n]+|[\n]+`.
    Gemma4,
}

/// How often a [`Class`] repeats in a [`Pattern`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rep {
    /// Exactly this many.
    Exactly(usize),
    /// One or more (greedy).
    Many,
}

/// A character class as llama.cpp's `std::regex` fallback sees it. With `collapsed` (the
/// regex used `\p{..}`), llama.cpp matches a text where every non-ASCII code point is replaced
/// by one byte standing for its category, so a non-ASCII code point matches iff its category
/// is in `cats`; ASCII code points match `ranges`. Without it, code points match `ranges`
/// directly. In both cases non-ASCII white space reads as U+000B.
#[derive(Debug, Clone)]
struct Class {
    ranges: Vec<(u32, u32)>,
    cats: u8,
    collapsed: bool,
}

impl Class {
    #[inline]
    fn has(&self, c: char, f: u8) -> bool {
        let mut cp = c as u32;
        if cp >= 0x80 && f & SPACE != 0 {
            cp = 0x0b;
        } else if self.collapsed && cp >= 0x80 {
            return f & self.cats != 0;
        }
        self.ranges.iter().any(|&(a, b)| a <= cp && cp <= b)
    }
}

/// One regex of llama.cpp's `std::regex` pre-tokenizers: `\s?` (optional) then a class
/// repeated, or `\s+$`. Matches and the text between them both become words.
#[derive(Debug, Clone)]
enum Pattern {
    Class {
        space_prefix: bool,
        class: Class,
        rep: Rep,
    },
    TrailingSpace,
}

/// One stage of a pipeline; each stage splits every word of the previous one.
#[derive(Debug, Clone)]
enum Stage {
    /// llama.cpp's hand-written GPT-2 splitter.
    Gpt2,
    /// llama.cpp's hand-written Llama 3 / Qwen 2 / Qwen 3.5 splitter.
    Llama3 { max_digits: usize, marks: bool },
    /// A regex run the way llama.cpp's `std::regex` fallback runs it.
    Regex(Pattern),
    /// `[^\n]+|[\n]+`: runs of newlines and runs of anything else.
    NewlineRuns,
}

/// ASCII members of llama.cpp's collapsed `\p{N}`, `\p{L}` and `\p{P}` (`k_ucat_map`).
const ASCII_N: &str = "0-9";
const ASCII_L: &str = "A-Za-z";
const ASCII_P: &str = "!-#%-*,-/:-;?-@[-]_{}";
/// CJK ideographs, U+0800..U+4E00 and Hangul (`[一-龥ࠀ-一가-퟿]`).
const CJK: &str = "\u{4e00}-\u{9fa5}\u{0800}-\u{4e00}\u{ac00}-\u{d7ff}";
/// DeepSeek LLM's letter class (its tokenizer.json, as llama.cpp writes it).
const DEEPSEEK_LETTERS: &str = "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃";
/// DeepSeek LLM's punctuation class (ASCII and full-width punctuation, quotes, CJK marks).
const DEEPSEEK_PUNCT: &str = "!-/:-~！-／：-～‘-‟　-。";

/// Parses the inside of a regex character class made of characters and `a-b` ranges.
fn parse_ranges(set: &str) -> Vec<(u32, u32)> {
    let cs: Vec<char> = set.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if i + 2 < cs.len() && cs[i + 1] == '-' {
            out.push((cs[i] as u32, cs[i + 2] as u32));
            i += 3;
        } else {
            out.push((cs[i] as u32, cs[i] as u32));
            i += 1;
        }
    }
    out
}

/// A class of literal characters and ranges (llama.cpp's `std::wregex` path).
fn literal(set: &str) -> Class {
    Class {
        ranges: parse_ranges(set),
        cats: 0,
        collapsed: false,
    }
}

/// A class with Unicode categories (llama.cpp's collapsed `std::regex` path): the ASCII ranges
/// of those categories plus `extra`.
fn categories(cats: u8, extra: &str) -> Class {
    let mut set = String::from(extra);
    for (flag, ascii) in [(NUMBER, ASCII_N), (LETTER, ASCII_L), (PUNCT, ASCII_P)] {
        if cats & flag != 0 {
            set.push_str(ascii);
        }
    }
    Class {
        ranges: parse_ranges(&set),
        cats,
        collapsed: true,
    }
}

fn regex(space_prefix: bool, class: Class, rep: Rep) -> Stage {
    Stage::Regex(Pattern::Class {
        space_prefix,
        class,
        rep,
    })
}

impl PreTokenizer {
    /// The stages of this pipeline, as llama.cpp's `llm_tokenizer_bpe` lists its regexes.
    fn stages(self) -> &'static [Stage] {
        use std::sync::OnceLock;
        static DIGITS_GPT2: OnceLock<Vec<Stage>> = OnceLock::new();
        static DEFAULT: OnceLock<Vec<Stage>> = OnceLock::new();
        static FALCON: OnceLock<Vec<Stage>> = OnceLock::new();
        static DS_LLM: OnceLock<Vec<Stage>> = OnceLock::new();
        static DS_CODER: OnceLock<Vec<Stage>> = OnceLock::new();
        const GPT2: &[Stage] = &[Stage::Gpt2];
        const LLAMA3: &[Stage] = &[Stage::Llama3 {
            max_digits: 3,
            marks: false,
        }];
        const QWEN2: &[Stage] = &[Stage::Llama3 {
            max_digits: 1,
            marks: false,
        }];
        const QWEN35: &[Stage] = &[Stage::Llama3 {
            max_digits: 1,
            marks: true,
        }];
        use Rep::{Exactly, Many};
        match self {
            PreTokenizer::Gpt2 => GPT2,
            PreTokenizer::Llama3 { max_digits: 3 } => LLAMA3,
            PreTokenizer::Llama3 { max_digits: 1 } => QWEN2,
            // Not reachable from a file (bpe_pre only builds 1 and 3); kept total.
            PreTokenizer::Llama3 { .. } => LLAMA3,
            PreTokenizer::Qwen35 => QWEN35,
            PreTokenizer::Gemma4 => &[Stage::NewlineRuns],
            PreTokenizer::DigitsThenGpt2 => DIGITS_GPT2.get_or_init(|| {
                vec![
                    regex(false, categories(NUMBER, ""), Exactly(1)),
                    Stage::Gpt2,
                ]
            }),
            PreTokenizer::Default => DEFAULT.get_or_init(|| {
                vec![
                    regex(false, categories(PUNCT, "$+<=>^~|"), Many),
                    Stage::Gpt2,
                    regex(false, categories(NUMBER, ""), Many),
                    regex(false, literal("0-9"), Exactly(3)),
                ]
            }),
            PreTokenizer::Falcon => FALCON.get_or_init(|| {
                vec![
                    regex(false, categories(PUNCT, "$+<=>^~|`"), Many),
                    Stage::Gpt2,
                    regex(false, literal("0-9"), Exactly(3)),
                ]
            }),
            PreTokenizer::DeepseekLlm => DS_LLM.get_or_init(|| {
                vec![
                    regex(false, literal("\r\n"), Exactly(1)),
                    regex(true, literal(DEEPSEEK_LETTERS), Many),
                    regex(true, literal(DEEPSEEK_PUNCT), Many),
                    Stage::Regex(Pattern::TrailingSpace),
                    regex(false, literal(CJK), Many),
                    regex(false, categories(NUMBER, ""), Many),
                ]
            }),
            PreTokenizer::DeepseekCoder => DS_CODER.get_or_init(|| {
                vec![
                    regex(false, literal("\r\n"), Exactly(1)),
                    regex(true, categories(LETTER, ""), Many),
                    regex(true, categories(PUNCT, ""), Many),
                    regex(false, literal(CJK), Many),
                    regex(false, categories(NUMBER, ""), Exactly(1)),
                ]
            }),
        }
    }
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
    for stage in pre.stages() {
        s.words.clear();
        for &(ini, end) in &s.chunks {
            let cx = Chunk {
                chars: &s.chars,
                flags: &s.flags,
                ini,
                end,
            };
            match stage {
                Stage::Gpt2 => cx.gpt2(&mut s.words),
                Stage::Llama3 { max_digits, marks } => {
                    cx.llama3(*max_digits.max(&1), *marks, &mut s.words)
                }
                Stage::Regex(p) => cx.regex(p, &mut s.words),
                Stage::NewlineRuns => {
                    let mut a = ini;
                    while a < end {
                        let nl = s.chars[a] == '\n';
                        let mut b = a + 1;
                        while b < end && (s.chars[b] == '\n') == nl {
                            b += 1;
                        }
                        s.words.push((a, b));
                        a = b;
                    }
                }
            }
        }
        std::mem::swap(&mut s.chunks, &mut s.words);
    }
    for &(a, b) in &s.chunks {
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

    /// Splits the chunk at every match of a `std::regex` pattern: matches and the text between
    /// them become words (llama.cpp's `unicode_regex_split_stl`, leftmost matches in order).
    fn regex(&self, p: &Pattern, out: &mut Vec<(usize, usize)>) {
        let (ini, end) = (self.ini, self.end);
        let (space_prefix, class, rep) = match p {
            Pattern::TrailingSpace => {
                // `\s+$`: the white space at the end of the chunk.
                let mut s = end;
                while s > ini && self.flags[s - 1] & SPACE != 0 {
                    s -= 1;
                }
                for w in [(ini, s), (s, end)] {
                    if w.1 > w.0 {
                        out.push(w);
                    }
                }
                return;
            }
            Pattern::Class {
                space_prefix,
                class,
                rep,
            } => (*space_prefix, class, *rep),
        };
        let has = |q: usize| q < end && class.has(self.chars[q], self.flags[q]);
        // The end of `class{rep}` starting at `q`, if it matches there.
        let body = |q: usize| -> Option<usize> {
            match rep {
                Rep::Exactly(k) => (0..k).all(|i| has(q + i)).then_some(q + k),
                Rep::Many => {
                    let mut e = q;
                    while has(e) {
                        e += 1;
                    }
                    (e > q).then_some(e)
                }
            }
        };
        let mut last = ini;
        let mut pos = ini;
        while pos < end {
            let m = if space_prefix && self.flags[pos] & SPACE != 0 {
                body(pos + 1).or_else(|| body(pos))
            } else {
                body(pos)
            };
            match m {
                Some(e) => {
                    if pos > last {
                        out.push((last, pos));
                    }
                    out.push((pos, e));
                    pos = e;
                    last = e;
                }
                None => pos += 1,
            }
        }
        if end > last {
            out.push((last, end));
        }
    }

    /// llama.cpp's hand-written Llama 3 splitter (`max_digits` = 1 gives Qwen 2's pattern;
    /// `marks` makes combining marks part of letter runs, Qwen 3.5's pattern).
    fn llama3(&self, max_digits: usize, marks: bool, out: &mut Vec<(usize, usize)>) {
        let letter = if marks { LETTER | MARK } else { LETTER };
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
                && (f & letter != 0 || self.fl(pos + 1) & letter != 0)
            {
                pos += 1;
                while self.fl(pos) & letter != 0 {
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
            if f2 & (SPACE | letter | NUMBER) == 0 && f != 0 {
                pos += usize::from(c == ' ');
                while f2 & (SPACE | letter | NUMBER) == 0 && f2 != 0 {
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
