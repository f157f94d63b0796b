//! GGUF writer: builds a v3 file from metadata and tensor bytes. Used by `pocketlm convert`
//! and by tests that craft small model files.

use crate::quant::{BlockLayout, GgmlType};
use std::io::{self, Write};

/// A metadata value to write.
#[derive(Debug, Clone)]
pub enum WriteValue {
    /// A `u32`.
    U32(u32),
    /// An `i32`.
    I32(i32),
    /// A `u64`.
    U64(u64),
    /// An `f32`.
    F32(f32),
    /// A `bool`.
    Bool(bool),
    /// A string.
    Str(String),
    /// An array of strings.
    StrArray(Vec<String>),
    /// An array of `f32`.
    F32Array(Vec<f32>),
    /// An array of `i32`.
    I32Array(Vec<i32>),
    /// An array of `bool` (Gemma 4's sliding-window pattern).
    BoolArray(Vec<bool>),
}

struct PendingTensor {
    name: String,
    dims: Vec<u64>,
    ty: GgmlType,
    layout: BlockLayout,
    data: Vec<u8>,
}

/// Collects metadata and tensors, then serializes them with [`GgufWriter::write_to`].
#[derive(Default)]
pub struct GgufWriter {
    metadata: Vec<(String, WriteValue)>,
    tensors: Vec<PendingTensor>,
    alignment: u64,
}

impl GgufWriter {
    /// An empty file with GGUF's default alignment (32).
    pub fn new() -> Self {
        Self {
            alignment: 32,
            ..Default::default()
        }
    }

    /// Sets the data alignment (a power of two; the default is GGUF's 32). Callers that change
    /// it also write `general.alignment`, so that readers find the tensors where they are.
    pub fn alignment(&mut self, alignment: u64) -> &mut Self {
        assert!(
            alignment.is_power_of_two(),
            "alignment must be a power of two"
        );
        self.alignment = alignment;
        self
    }

    /// Adds a metadata key (written in the order added).
    pub fn metadata(&mut self, key: &str, value: WriteValue) -> &mut Self {
        self.metadata.push((key.to_owned(), value));
        self
    }

    /// Adds a tensor; `dims[0]` is the row length, as in ggml.
    pub fn tensor(&mut self, name: &str, dims: &[u64], ty: GgmlType, data: Vec<u8>) -> &mut Self {
        self.tensor_with_layout(name, dims, ty, BlockLayout::Rows, data)
    }

    /// [`GgufWriter::tensor`] with the data in `layout` (see [`crate::quant::interleave`]).
    pub fn tensor_with_layout(
        &mut self,
        name: &str,
        dims: &[u64],
        ty: GgmlType,
        layout: BlockLayout,
        data: Vec<u8>,
    ) -> &mut Self {
        self.tensors.push(PendingTensor {
            name: name.to_owned(),
            dims: dims.to_vec(),
            ty,
            layout,
            data,
        });
        self
    }

    /// The whole file in memory.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// Writes the whole file to `w`.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        let mut head = Vec::new();
        head.extend_from_slice(b"GGUF");
        head.extend_from_slice(&3u32.to_le_bytes());
        head.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        head.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            put_str(&mut head, key);
            put_value(&mut head, value);
        }
        let align = |n: u64| n.div_ceil(self.alignment) * self.alignment;
        let mut offset = 0u64;
        for t in &self.tensors {
            put_str(&mut head, &t.name);
            head.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                head.extend_from_slice(&d.to_le_bytes());
            }
            let id = match t.layout {
                BlockLayout::Rows => ggml_type_id(t.ty),
                BlockLayout::Interleaved8 => super::INTERLEAVED8_TYPE_BASE + ggml_type_id(t.ty),
            };
            head.extend_from_slice(&id.to_le_bytes());
            head.extend_from_slice(&offset.to_le_bytes());
            offset = align(offset + t.data.len() as u64);
        }
        let data_start = align(head.len() as u64);
        head.resize(data_start as usize, 0);
        w.write_all(&head)?;
        for t in &self.tensors {
            w.write_all(&t.data)?;
            let pad = align(t.data.len() as u64) - t.data.len() as u64;
            w.write_all(&vec![0u8; pad as usize])?;
        }
        Ok(())
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &WriteValue) {
    let tag = |out: &mut Vec<u8>, t: u32| out.extend_from_slice(&t.to_le_bytes());
    let array_head = |out: &mut Vec<u8>, elem: u32, n: usize| {
        out.extend_from_slice(&9u32.to_le_bytes());
        out.extend_from_slice(&elem.to_le_bytes());
        out.extend_from_slice(&(n as u64).to_le_bytes());
    };
    match v {
        WriteValue::U32(x) => {
            tag(out, 4);
            out.extend_from_slice(&x.to_le_bytes());
        }
        WriteValue::I32(x) => {
            tag(out, 5);
            out.extend_from_slice(&x.to_le_bytes());
        }
        WriteValue::F32(x) => {
            tag(out, 6);
            out.extend_from_slice(&x.to_le_bytes());
        }
        WriteValue::Bool(x) => {
            tag(out, 7);
            out.push(*x as u8);
        }
        WriteValue::Str(s) => {
            tag(out, 8);
            put_str(out, s);
        }
        WriteValue::U64(x) => {
            tag(out, 10);
            out.extend_from_slice(&x.to_le_bytes());
        }
        WriteValue::StrArray(items) => {
            array_head(out, 8, items.len());
            for s in items {
                put_str(out, s);
            }
        }
        WriteValue::F32Array(items) => {
            array_head(out, 6, items.len());
            for x in items {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        WriteValue::I32Array(items) => {
            array_head(out, 5, items.len());
            for x in items {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        WriteValue::BoolArray(items) => {
            array_head(out, 7, items.len());
            out.extend(items.iter().map(|&b| b as u8));
        }
    }
}

/// ggml's numeric id of a type (inverse of [`GgmlType::from_id`]).
pub fn ggml_type_id(ty: GgmlType) -> u32 {
    (0..=40)
        .find(|&id| GgmlType::from_id(id) == Some(ty))
        .expect("every GgmlType has an id")
}
