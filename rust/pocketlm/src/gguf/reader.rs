//! A bounds-checked little-endian cursor over the mapped file.

use super::value::{ElemType, MetaArray, MetaValue, StrRef};
use super::GgufError;

/// Arrays inside arrays are legal in GGUF but never deep; a bound stops stack exhaustion.
const MAX_NESTING: usize = 4;

pub(super) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// A cursor over `buf` starting at `pos`.
    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Self {
            buf,
            pos: pos.min(buf.len()),
        }
    }

    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    fn truncated(&self, what: &str, needed: u64) -> GgufError {
        GgufError::Truncated {
            what: what.to_owned(),
            offset: self.pos as u64,
            needed,
            file_len: self.buf.len() as u64,
        }
    }

    /// Rejects a count whose smallest possible encoding could not fit in the rest of the file,
    /// before anything is allocated for it.
    pub fn check_count(
        &self,
        count: u64,
        min_item_bytes: u64,
        what: &str,
    ) -> Result<(), GgufError> {
        if count.saturating_mul(min_item_bytes) > self.remaining() {
            return Err(GgufError::AbsurdCount {
                what: what.to_owned(),
                count,
                file_len: self.buf.len() as u64,
            });
        }
        Ok(())
    }

    pub fn bytes(&mut self, n: u64, what: &str) -> Result<&'a [u8], GgufError> {
        if n > self.remaining() {
            return Err(self.truncated(what, n));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.buf[start..self.pos])
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        Ok(self
            .bytes(N as u64, what)?
            .try_into()
            .expect("length checked"))
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, GgufError> {
        Ok(self.array::<1>(what)?[0])
    }
    pub fn u16(&mut self, what: &str) -> Result<u16, GgufError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn str_ref(&mut self, what: &str) -> Result<StrRef, GgufError> {
        let len = self.u64(what)?;
        let start = self.pos;
        self.bytes(len, what)?;
        Ok(StrRef {
            start,
            len: len as usize,
        })
    }

    /// A UTF-8 string (keys and tensor names must be valid UTF-8).
    pub fn string(&mut self, what: &str) -> Result<&'a str, GgufError> {
        let r = self.str_ref(what)?;
        std::str::from_utf8(&self.buf[r.range()]).map_err(|_| GgufError::InvalidUtf8 {
            what: what.to_owned(),
        })
    }

    pub fn value(&mut self, key: &str) -> Result<MetaValue, GgufError> {
        let type_id = self.u32("metadata value type")?;
        let elem = ElemType::from_id(type_id).ok_or_else(|| GgufError::UnknownValueType {
            key: key.to_owned(),
            type_id,
        })?;
        self.value_of_type(key, elem, 0)
    }

    fn value_of_type(
        &mut self,
        key: &str,
        elem: ElemType,
        depth: usize,
    ) -> Result<MetaValue, GgufError> {
        let w = "metadata value";
        Ok(match elem {
            ElemType::U8 => MetaValue::U8(self.u8(w)?),
            ElemType::I8 => MetaValue::I8(self.u8(w)? as i8),
            ElemType::U16 => MetaValue::U16(self.u16(w)?),
            ElemType::I16 => MetaValue::I16(self.u16(w)? as i16),
            ElemType::U32 => MetaValue::U32(self.u32(w)?),
            ElemType::I32 => MetaValue::I32(self.u32(w)? as i32),
            ElemType::F32 => MetaValue::F32(f32::from_bits(self.u32(w)?)),
            ElemType::Bool => MetaValue::Bool(self.u8(w)? != 0),
            ElemType::Str => MetaValue::Str(self.str_ref(w)?),
            ElemType::Array => MetaValue::Array(self.meta_array(key, depth)?),
            ElemType::U64 => MetaValue::U64(self.u64(w)?),
            ElemType::I64 => MetaValue::I64(self.u64(w)? as i64),
            ElemType::F64 => MetaValue::F64(f64::from_bits(self.u64(w)?)),
        })
    }

    /// Validates an array (every string inside the file, nested element types known, nesting
    /// bounded) without copying its elements: the result records where they lie.
    fn meta_array(&mut self, key: &str, depth: usize) -> Result<MetaArray, GgufError> {
        if depth >= MAX_NESTING {
            return Err(GgufError::NestingTooDeep(MAX_NESTING));
        }
        let type_id = self.u32("array element type")?;
        let elem = ElemType::from_id(type_id).ok_or_else(|| GgufError::UnknownValueType {
            key: key.to_owned(),
            type_id,
        })?;
        let count = self.u64("array length")?;
        let what = format!("elements of array {key:?}");
        self.check_count(count, elem.min_size(), &what)?;
        let n = count as usize;
        let start = self.pos;
        match elem.fixed_size() {
            Some(size) => {
                // check_count bounded count * size by the bytes left
                self.bytes(count * size as u64, &what)?;
            }
            None if elem == ElemType::Str => {
                for _ in 0..n {
                    self.str_ref(&what)?;
                }
            }
            None => {
                for _ in 0..n {
                    self.meta_array(key, depth + 1)?;
                }
            }
        }
        Ok(MetaArray {
            elem,
            len: n,
            start,
            end: self.pos,
        })
    }
}

/// The elements of a [`MetaArray`], read from the file as they are walked. The array was
/// validated when the file was opened; should the bytes no longer parse (the file was written
/// in place since), the iteration ends early.
pub struct ArrayItems<'a> {
    cur: Cursor<'a>,
    array: MetaArray,
    left: usize,
}

impl<'a> ArrayItems<'a> {
    pub(super) fn new(buf: &'a [u8], array: &MetaArray) -> Self {
        Self {
            cur: Cursor::at(buf, array.start),
            array: *array,
            left: array.len,
        }
    }
}

impl Iterator for ArrayItems<'_> {
    type Item = MetaValue;

    fn next(&mut self) -> Option<MetaValue> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match self.cur.value_of_type("", self.array.elem, 1) {
            Ok(v) if self.cur.pos <= self.array.end => Some(v),
            _ => {
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// The strings of an array of strings, as byte slices of the mapped file: the fast path of
/// [`ArrayItems`] for vocabularies (a length and the bytes, no per-element value). Ends early,
/// like [`ArrayItems`], if the bytes no longer parse.
pub struct StrItems<'a> {
    buf: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> StrItems<'a> {
    pub(super) fn new(buf: &'a [u8], array: &MetaArray) -> Self {
        let end = array.end.min(buf.len());
        Self {
            buf: &buf[..end],
            pos: array.start.min(end),
            left: array.len,
        }
    }

    fn read(&mut self) -> Option<&'a [u8]> {
        let len = self.buf.get(self.pos..self.pos.checked_add(8)?)?;
        let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
        let start = self.pos + 8;
        let item = self.buf.get(start..start.checked_add(len)?)?;
        self.pos = start + len;
        Some(item)
    }
}

impl<'a> Iterator for StrItems<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = self.read();
        if item.is_none() {
            self.left = 0;
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}
