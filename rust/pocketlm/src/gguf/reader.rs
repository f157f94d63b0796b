//! A bounds-checked little-endian cursor over the mapped file.

use super::value::{MetaArray, MetaValue, StrRef};
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
        self.value_of_type(key, type_id, 0)
    }

    fn value_of_type(
        &mut self,
        key: &str,
        type_id: u32,
        depth: usize,
    ) -> Result<MetaValue, GgufError> {
        let w = "metadata value";
        Ok(match type_id {
            0 => MetaValue::U8(self.u8(w)?),
            1 => MetaValue::I8(self.u8(w)? as i8),
            2 => MetaValue::U16(self.u16(w)?),
            3 => MetaValue::I16(self.u16(w)? as i16),
            4 => MetaValue::U32(self.u32(w)?),
            5 => MetaValue::I32(self.u32(w)? as i32),
            6 => MetaValue::F32(f32::from_bits(self.u32(w)?)),
            7 => MetaValue::Bool(self.u8(w)? != 0),
            8 => MetaValue::Str(self.str_ref(w)?),
            9 => MetaValue::Array(self.meta_array(key, depth)?),
            10 => MetaValue::U64(self.u64(w)?),
            11 => MetaValue::I64(self.u64(w)? as i64),
            12 => MetaValue::F64(f64::from_bits(self.u64(w)?)),
            _ => {
                return Err(GgufError::UnknownValueType {
                    key: key.to_owned(),
                    type_id,
                })
            }
        })
    }

    fn meta_array(&mut self, key: &str, depth: usize) -> Result<MetaArray, GgufError> {
        if depth >= MAX_NESTING {
            return Err(GgufError::NestingTooDeep(MAX_NESTING));
        }
        let elem_type = self.u32("array element type")?;
        let count = self.u64("array length")?;
        let what = format!("elements of array {key:?}");
        let min_size = match elem_type {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            8 | 10 | 11 | 12 => 8,
            9 => 12,
            _ => {
                return Err(GgufError::UnknownValueType {
                    key: key.to_owned(),
                    type_id: elem_type,
                })
            }
        };
        self.check_count(count, min_size, &what)?;
        let n = count as usize;
        macro_rules! fixed {
            ($variant:ident, $read:ident, $conv:expr) => {{
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push($conv(self.$read(&what)?));
                }
                MetaArray::$variant(v)
            }};
        }
        Ok(match elem_type {
            0 => fixed!(U8, u8, |x| x),
            1 => fixed!(I8, u8, |x: u8| x as i8),
            2 => fixed!(U16, u16, |x| x),
            3 => fixed!(I16, u16, |x: u16| x as i16),
            4 => fixed!(U32, u32, |x| x),
            5 => fixed!(I32, u32, |x: u32| x as i32),
            6 => fixed!(F32, u32, f32::from_bits),
            7 => fixed!(Bool, u8, |x: u8| x != 0),
            10 => fixed!(U64, u64, |x| x),
            11 => fixed!(I64, u64, |x: u64| x as i64),
            12 => fixed!(F64, u64, f64::from_bits),
            8 => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.str_ref(&what)?);
                }
                MetaArray::Str(v)
            }
            9 => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.meta_array(key, depth + 1)?);
                }
                MetaArray::Array(v)
            }
            _ => unreachable!("element type validated above"),
        })
    }
}
