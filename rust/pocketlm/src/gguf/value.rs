//! Metadata values as stored in a GGUF file. Strings and arrays are kept as ranges into the memory
//! map, so that a 262k-entry vocabulary and its merges cost no heap memory once loaded.

use std::fmt;
use std::ops::Range;

/// A string inside the mapped file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrRef {
    pub(crate) start: usize,
    pub(crate) len: usize,
}

impl StrRef {
    pub(crate) fn range(&self) -> Range<usize> {
        self.start..self.start + self.len
    }
}

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// A `u8`.
    U8(u8),
    /// A `i8`.
    I8(i8),
    /// A `u16`.
    U16(u16),
    /// A `i16`.
    I16(i16),
    /// A `u32`.
    U32(u32),
    /// A `i32`.
    I32(i32),
    /// A `u64`.
    U64(u64),
    /// A `i64`.
    I64(i64),
    /// A `f32`.
    F32(f32),
    /// A `f64`.
    F64(f64),
    /// A `bool`.
    Bool(bool),
    /// A string (a range of the file).
    Str(StrRef),
    /// A nested array.
    Array(MetaArray),
}

/// The element type of a metadata array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemType {
    /// `u8`.
    U8,
    /// `i8`.
    I8,
    /// `u16`.
    U16,
    /// `i16`.
    I16,
    /// `u32`.
    U32,
    /// `i32`.
    I32,
    /// `u64`.
    U64,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `bool`.
    Bool,
    /// Strings.
    Str,
    /// Arrays.
    Array,
}

impl ElemType {
    /// The type for a GGUF value type id (`None` for an id GGUF does not define).
    pub(crate) fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::U8,
            1 => Self::I8,
            2 => Self::U16,
            3 => Self::I16,
            4 => Self::U32,
            5 => Self::I32,
            6 => Self::F32,
            7 => Self::Bool,
            8 => Self::Str,
            9 => Self::Array,
            10 => Self::U64,
            11 => Self::I64,
            12 => Self::F64,
            _ => return None,
        })
    }

    /// Bytes of one element, for fixed-size types.
    pub(crate) fn fixed_size(self) -> Option<usize> {
        Some(match self {
            Self::U8 | Self::I8 | Self::Bool => 1,
            Self::U16 | Self::I16 => 2,
            Self::U32 | Self::I32 | Self::F32 => 4,
            Self::U64 | Self::I64 | Self::F64 => 8,
            Self::Str | Self::Array => return None,
        })
    }

    /// The smallest encoding of one element (a string's length, an array's type and count).
    pub(crate) fn min_size(self) -> u64 {
        match self {
            Self::Str => 8,
            Self::Array => 12,
            t => t.fixed_size().unwrap_or(1) as u64,
        }
    }

    /// The type's name, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::I8 => "i8",
            Self::U16 => "u16",
            Self::I16 => "i16",
            Self::U32 => "u32",
            Self::I32 => "i32",
            Self::U64 => "u64",
            Self::I64 => "i64",
            Self::F32 => "f32",
            Self::F64 => "f64",
            Self::Bool => "bool",
            Self::Str => "string",
            Self::Array => "array",
        }
    }
}

/// A homogeneous metadata array, validated when the file was opened and left in the mapped
/// file: a 128k-token vocabulary's strings and merges cost no heap memory until a reader walks
/// them ([`GgufFile::array_items`](super::GgufFile::array_items) and the typed getters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaArray {
    pub(crate) elem: ElemType,
    pub(crate) len: usize,
    /// The elements' bytes in the file (after the type id and count).
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl MetaValue {
    /// The value's GGUF type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::U8(_) => "u8",
            Self::I8(_) => "i8",
            Self::U16(_) => "u16",
            Self::I16(_) => "i16",
            Self::U32(_) => "u32",
            Self::I32(_) => "i32",
            Self::U64(_) => "u64",
            Self::I64(_) => "i64",
            Self::F32(_) => "f32",
            Self::F64(_) => "f64",
            Self::Bool(_) => "bool",
            Self::Str(_) => "string",
            Self::Array(_) => "array",
        }
    }

    /// Any non-negative integer value as u64.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any numeric value as f32.
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            Self::F32(v) => Some(v),
            Self::F64(v) => Some(v as f32),
            _ => self.as_u64().map(|v| v as f32),
        }
    }
}

impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::U8(v) => write!(f, "{v}"),
            Self::I8(v) => write!(f, "{v}"),
            Self::U16(v) => write!(f, "{v}"),
            Self::I16(v) => write!(f, "{v}"),
            Self::U32(v) => write!(f, "{v}"),
            Self::I32(v) => write!(f, "{v}"),
            Self::U64(v) => write!(f, "{v}"),
            Self::I64(v) => write!(f, "{v}"),
            Self::F32(v) => write!(f, "{v}"),
            Self::F64(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Str(s) => write!(f, "<string of {} bytes>", s.len),
            Self::Array(a) => write!(f, "[{} x {}]", a.len(), a.type_name()),
        }
    }
}

impl MetaArray {
    /// Elements in the array.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element type.
    pub fn elem_type(&self) -> ElemType {
        self.elem
    }

    /// The element type's name, for error messages.
    pub fn type_name(&self) -> &'static str {
        self.elem.name()
    }

    /// Bytes the elements take in the file.
    pub(crate) fn byte_len(&self) -> usize {
        self.end - self.start
    }
}
