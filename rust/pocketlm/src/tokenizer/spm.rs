//! SentencePiece-style BPE over scores (`tokenizer.ggml.model = "llama"`), following llama.cpp's
//! `llm_tokenizer_spm_session`: spaces become "▁", the text starts as one symbol per UTF-8
//! character, and the adjacent pair whose concatenation is the vocabulary token with the highest
//! score is merged first (ties: leftmost first). Characters that never form a token are emitted
//! as byte tokens `<0xXX>`.

use super::Tokenizer;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// "▁" (U+2581), SentencePiece's visible space.
pub(crate) const SPACE_MARK: &[u8] = "\u{2581}".as_bytes();

#[derive(Debug, Clone, Copy)]
struct Sym {
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
}

#[derive(Debug, Clone, Copy)]
struct Bigram {
    score: f32,
    left: u32,
    right: u32,
    size: u32,
}

impl PartialEq for Bigram {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Bigram {}

impl Ord for Bigram {
    /// `BinaryHeap` pops the maximum: the highest score, then the leftmost pair.
    fn cmp(&self, o: &Self) -> Ordering {
        self.score
            .partial_cmp(&o.score)
            .unwrap_or(Ordering::Equal)
            .then(o.left.cmp(&self.left))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Reusable buffers for SPM encoding.
#[derive(Debug, Default)]
pub(crate) struct SpmScratch {
    text: Vec<u8>,
    syms: Vec<Sym>,
    heap: BinaryHeap<Bigram>,
}

#[inline]
fn utf8_len(lead: u8) -> usize {
    match lead >> 4 {
        0xc | 0xd => 2,
        0xe => 3,
        0xf => 4,
        _ => 1,
    }
}

/// Encodes one raw-text fragment; `space_prefix` prepends a space (add_space_prefix after BOS or
/// a special token).
pub(crate) fn encode_fragment(
    tok: &Tokenizer,
    raw: &str,
    space_prefix: bool,
    s: &mut SpmScratch,
    out: &mut Vec<u32>,
) {
    s.text.clear();
    if space_prefix {
        s.text.extend_from_slice(SPACE_MARK);
    }
    for &b in raw.as_bytes() {
        if b == b' ' {
            s.text.extend_from_slice(SPACE_MARK);
        } else {
            s.text.push(b);
        }
    }
    let text = &s.text[..];
    if text.is_empty() {
        return;
    }
    s.syms.clear();
    let mut off = 0usize;
    while off < text.len() {
        let len = utf8_len(text[off]).min(text.len() - off);
        let i = s.syms.len() as i32;
        off += len;
        s.syms.push(Sym {
            start: (off - len) as u32,
            len: len as u32,
            prev: i - 1,
            next: if off == text.len() { -1 } else { i + 1 },
        });
    }
    s.heap.clear();
    for i in 1..s.syms.len() {
        push_pair(tok, text, &s.syms, &mut s.heap, i as i32 - 1, i as i32);
    }
    while let Some(b) = s.heap.pop() {
        let (l, r) = (b.left as usize, b.right as usize);
        let (ll, rl) = (s.syms[l].len, s.syms[r].len);
        if ll == 0 || rl == 0 || ll + rl != b.size {
            continue;
        }
        let right = s.syms[r];
        s.syms[l].len += right.len;
        s.syms[l].next = right.next;
        s.syms[r].len = 0;
        if right.next >= 0 {
            s.syms[right.next as usize].prev = l as i32;
        }
        let (prev, next) = (s.syms[l].prev, s.syms[l].next);
        push_pair(tok, text, &s.syms, &mut s.heap, prev, l as i32);
        push_pair(tok, text, &s.syms, &mut s.heap, l as i32, next);
    }
    let mut i = 0i32;
    while i >= 0 {
        let sym = s.syms[i as usize];
        let piece = &text[sym.start as usize..(sym.start + sym.len) as usize];
        match tok.map.get(piece, &tok.pieces) {
            Some(id) => out.push(id),
            None => {
                for &byte in piece {
                    let id = tok.byte_tokens[byte as usize];
                    if id != super::bpe::NO_TOKEN {
                        out.push(id);
                    } else if let Some(unk) = tok.unk {
                        out.push(unk);
                    }
                }
            }
        }
        i = sym.next;
    }
}

#[inline]
fn push_pair(
    tok: &Tokenizer,
    text: &[u8],
    syms: &[Sym],
    heap: &mut BinaryHeap<Bigram>,
    l: i32,
    r: i32,
) {
    if l < 0 || r < 0 {
        return;
    }
    let (a, b) = (syms[l as usize], syms[r as usize]);
    let size = a.len + b.len;
    let piece = &text[a.start as usize..(a.start + size) as usize];
    if let Some(id) = tok.map.get(piece, &tok.pieces) {
        heap.push(Bigram {
            score: tok.scores.get(id as usize).copied().unwrap_or(0.0),
            left: l as u32,
            right: r as u32,
            size,
        });
    }
}
