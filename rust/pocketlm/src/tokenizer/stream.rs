//! Incremental detokenization for streaming generated text.

use super::Tokenizer;

/// Turns tokens into text one at a time without ever emitting half of a UTF-8 character: bytes
/// of a character split across tokens (byte-fallback tokens, byte-level BPE pieces) are held
/// back until the character is complete. Invalid bytes become U+FFFD exactly as
/// `String::from_utf8_lossy` would render the whole output, so the concatenation of every
/// [`StreamDecoder::push`] and the final [`StreamDecoder::finish`] equals
/// [`Tokenizer::decode`] of the same tokens (with `skip_special` = `!render_special`).
///
/// One decoder per generated sequence; it keeps no reference to the tokenizer.
#[derive(Debug, Clone, Default)]
pub struct StreamDecoder {
    pending: Vec<u8>,
    render_special: bool,
    started: bool,
}

impl StreamDecoder {
    /// A decoder that renders control tokens (`<|im_end|>`, `<eos>`...) as nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that renders control tokens as their text when `render_special` is true.
    pub fn with_special(render_special: bool) -> Self {
        Self {
            render_special,
            ..Self::default()
        }
    }

    /// Adds one token; returns the text completed by it (often empty for a partial character).
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> String {
        let mut piece = if self.render_special {
            tok.token_bytes_special(id)
        } else {
            tok.token_bytes(id)
        };
        if !self.started {
            self.started = true;
            // The space SentencePiece puts before the first word is not part of the text,
            // unless the stream starts with the BOS that `decode` drops first.
            let dropped_bos = !self.render_special && tok.adds_bos() && tok.bos() == Some(id);
            if tok.add_space_prefix && !dropped_bos && piece.first() == Some(&b' ') {
                piece = &piece[1..];
            }
        }
        self.pending.extend_from_slice(piece);
        self.drain()
    }

    /// Flushes bytes still held back (an incomplete character becomes U+FFFD) and resets the
    /// decoder for a new sequence.
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        self.started = false;
        out
    }

    /// Bytes held back waiting for the rest of a character.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    fn drain(&mut self) -> String {
        let mut out = String::new();
        let mut consumed = 0;
        loop {
            let rest = &self.pending[consumed..];
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    consumed = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&rest[..valid]).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            out.push('\u{fffd}');
                            consumed += valid + n;
                        }
                        None => {
                            // An incomplete character at the end: keep it for the next token.
                            consumed += valid;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..consumed);
        out
    }
}
