//! GGUF reader: parses the header, metadata and tensor table of a model file and hands out
//! borrowed views of tensor data straight from a read-only memory map (weights are never copied).
//!
//! Every count, length and offset read from the file is checked against the file's size before
//! it is used, so a corrupt or hostile file yields a [`GgufError`] instead of a panic or a giant
//! allocation.

#[allow(unsafe_code)]
mod mmap;
mod reader;
pub mod synthetic;
mod value;
pub mod writer;

pub use reader::{ArrayItems, StrItems};
pub use value::{ElemType, MetaArray, MetaValue, StrRef};
pub use writer::{GgufWriter, WriteValue};

use crate::quant::interleave::{self, GROUP_ROWS};
use crate::quant::{BlockLayout, GgmlType};
use memmap2::Mmap;
pub(crate) use mmap::map_read_only;
use reader::Cursor;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// "GGUF" read as a little-endian u32.
const GGUF_MAGIC: u32 = 0x4655_4747;
const DEFAULT_ALIGNMENT: u64 = 32;
/// The smallest `general.alignment` accepted: tensor data is viewed in place as f32 rows
/// (4-byte aligned) and as quantized blocks with f16/f32 fields, so every tensor must start at
/// a multiple of the largest of these alignments (8 leaves room for 64-bit fields). The map
/// itself starts on a page boundary.
pub const MIN_ALIGNMENT: u64 = 8;

/// PocketLM's own tensor type ids: `INTERLEAVED8_TYPE_BASE + ggml id` is that ggml type in the
/// [`BlockLayout::Interleaved8`] layout (files written by `pocketlm convert`; other GGUF readers
/// reject them as an unknown type rather than misread them).
pub const INTERLEAVED8_TYPE_BASE: u32 = 0x1000;
/// ggml tensors have at most four dimensions.
const MAX_DIMS: u32 = 4;

/// Why a GGUF file could not be opened or a value could not be read from it.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be read.
    #[error("cannot open model file {path}: {source}")]
    Io {
        /// The model file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The path is a directory.
    #[error("{0} is a directory; pass the path of a .gguf file")]
    IsDirectory(PathBuf),
    /// The file has no bytes.
    #[error("model file {0} is empty (was the download interrupted?)")]
    Empty(PathBuf),
    /// The path is not a regular file (a device, a FIFO, a socket...).
    #[error("{path} is not a regular file but a {kind}; pass the path of a .gguf file")]
    NotARegularFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file was modified or truncated while it was mapped.
    #[error("model file {path} changed after it was loaded ({what}); load the model again (replace model files by writing a new file and renaming it over the old one, never in place)")]
    FileChanged {
        /// The model file.
        path: PathBuf,
        /// What changed.
        what: String,
    },
    /// The file does not start with "GGUF".
    #[error("not a GGUF file: magic bytes are {found:02x?}, expected \"GGUF\"")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A GGUF version other than 2 or 3.
    #[error("GGUF version {0} is not supported (versions 2 and 3 are); re-export the model with a current llama.cpp")]
    UnsupportedVersion(u32),
    /// The file ends inside a structure.
    #[error("file is truncated: needed {needed} bytes for {what} at offset {offset}, but the file has {file_len} bytes")]
    Truncated {
        /// What was being read.
        what: String,
        /// Where it starts.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// Bytes in the file.
        file_len: u64,
    },
    /// A count (of tensors, keys, array items) larger than the file could hold.
    #[error("{what} count {count} is impossible for a file of {file_len} bytes (corrupt file?)")]
    AbsurdCount {
        /// What was counted.
        what: String,
        /// The count read.
        count: u64,
        /// Bytes in the file.
        file_len: u64,
    },
    /// A metadata value of a type id GGUF does not define.
    #[error("metadata key {key:?}: unknown value type id {type_id}")]
    UnknownValueType {
        /// The metadata key.
        key: String,
        /// The type id read.
        type_id: u32,
    },
    /// A string that is not UTF-8.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which string.
        what: String,
    },
    /// Arrays of arrays nested beyond this limit.
    #[error("metadata arrays nest deeper than {0} levels (corrupt file?)")]
    NestingTooDeep(usize),
    /// A tensor of a type PocketLM does not read (a ggml type it lacks, or an id neither ggml
    /// nor PocketLM defines).
    #[error(
        "tensor {name:?}: tensor type {} (id {type_id}) is not supported by PocketLM \
         (supported: {}); re-quantize the model with llama.cpp's llama-quantize",
        crate::quant::ggml_type_name(*type_id).unwrap_or("unknown to ggml"),
        crate::quant::supported_type_names()
    )]
    UnknownTensorType {
        /// The tensor.
        name: String,
        /// The type id read.
        type_id: u32,
    },
    /// A tensor whose dimensions are invalid.
    #[error("tensor {name:?}: {reason}")]
    BadTensorShape {
        /// The tensor.
        name: String,
        /// What is wrong with them.
        reason: String,
    },
    /// A tensor whose data lies outside the file.
    #[error("tensor {name:?}: data [{start}, {end}) lies outside the file's data section of {data_len} bytes")]
    TensorOutOfBounds {
        /// The tensor.
        name: String,
        /// First byte of its data, relative to the data section.
        start: u64,
        /// One past its last byte.
        end: u64,
        /// Bytes in the data section.
        data_len: u64,
    },
    /// A tensor whose data is not aligned as `general.alignment` requires.
    #[error("tensor {name:?}: offset {offset} is not aligned to {alignment} bytes")]
    MisalignedTensor {
        /// The tensor.
        name: String,
        /// Its offset in the data section.
        offset: u64,
        /// The required alignment.
        alignment: u64,
    },
    /// A `general.alignment` PocketLM cannot use.
    #[error("general.alignment {0} is not a power of two of at least {MIN_ALIGNMENT} (tensor data must be aligned for in-place views)")]
    BadAlignment(u64),
    /// A metadata key or tensor name that occurs twice.
    #[error("duplicate {what} {name:?}")]
    Duplicate {
        /// "metadata key" or "tensor".
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A required metadata key is absent.
    #[error("required metadata key {0:?} is missing")]
    MissingKey(String),
    /// A metadata value of another type than the key requires.
    #[error("metadata key {key:?} has type {found}, expected {expected}")]
    WrongType {
        /// The metadata key.
        key: String,
        /// The type it must have.
        expected: &'static str,
        /// The type it has.
        found: &'static str,
    },
    /// A required tensor is absent.
    #[error("required tensor {0:?} is missing")]
    MissingTensor(String),
}

/// Where one tensor's data lives and how to interpret it.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    /// The tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// ggml order: `dims[0]` is the contiguous (row) dimension.
    pub dims: Vec<u64>,
    /// The element type.
    pub ty: GgmlType,
    /// Block order: ggml's rows, or PocketLM's interleaved groups (`pocketlm convert`).
    pub layout: BlockLayout,
    /// Byte offset relative to the start of the data section.
    pub offset: u64,
    /// Byte size of the data.
    pub size: u64,
    /// Where the tensor's type id sits in the file (`pocketlm convert` rewrites it in place).
    pub type_id_pos: u64,
}

impl TensorInfo {
    /// Elements in the tensor (the product of `dims`).
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// A borrowed tensor: its description plus its bytes inside the memory map.
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    /// Where and what the tensor is.
    pub info: &'a TensorInfo,
    /// Its bytes inside the map.
    pub data: &'a [u8],
}

impl TensorView<'_> {
    /// The element type.
    pub fn ty(&self) -> GgmlType {
        self.info.ty
    }
    /// Elements per row (ggml's ne0).
    pub fn cols(&self) -> usize {
        self.info.dims[0] as usize
    }
    /// Number of rows: the product of all dimensions but the first.
    pub fn rows(&self) -> usize {
        self.info.dims[1..].iter().product::<u64>() as usize
    }
}

/// What identifies the mapped file's contents cheaply: if any of these changes, the file was
/// written to or truncated in place, and the map may no longer be backed by data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    pub(crate) len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    dev_ino: (u64, u64),
}

impl FileStamp {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            dev_ino: (meta.dev(), meta.ino()),
        }
    }

    /// What changed in `file` since this stamp was taken (`None`: nothing): one `fstat` on
    /// the open descriptor. Model files and mapped snapshot files share this check.
    pub(crate) fn changes_in(&self, file: &std::fs::File) -> Option<String> {
        let now = match file.metadata() {
            Ok(meta) => FileStamp::of(&meta),
            Err(e) => return Some(format!("cannot stat it: {e}")),
        };
        if now.len != self.len {
            Some(format!(
                "its size went from {} to {} bytes",
                self.len, now.len
            ))
        } else if now != *self {
            Some("it was modified in place".into())
        } else {
            None
        }
    }
}

/// A name for a non-regular file type, for error messages.
fn file_kind(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "character device";
        }
        if ft.is_block_device() {
            return "block device";
        }
        if ft.is_socket() {
            return "socket";
        }
    }
    if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

/// An opened GGUF file: parsed metadata and tensor table over a read-only memory map.
///
/// The file stays open: [`GgufFile::check_unchanged`] compares its size, modification time and
/// identity (`fstat` on the kept descriptor) with those at load, so a file truncated or
/// rewritten in place is reported instead of touched (a truncated map faults with SIGBUS).
/// Replacing the file by renaming a new one over its path is safe: the open descriptor and
/// the map keep the old contents alive.
pub struct GgufFile {
    path: PathBuf,
    file: File,
    stamp: FileStamp,
    map: Mmap,
    version: u32,
    metadata: HashMap<String, MetaValue>,
    /// Keys in file order (for listing).
    keys: Vec<String>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    data_start: u64,
    /// [`GgufFile::fingerprint`], computed on first use.
    fingerprint: std::sync::OnceLock<[u8; 32]>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata_keys", &self.keys.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl GgufFile {
    /// Opens and parses `path`. The weights stay on disk and are paged in on demand.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GgufError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| GgufError::Io {
            path: path.clone(),
            source,
        };
        // The type is checked before opening: opening a FIFO for reading blocks until a writer
        // appears, and devices such as /dev/zero report a size of 0.
        let meta = std::fs::metadata(&path).map_err(io)?;
        if meta.is_dir() {
            return Err(GgufError::IsDirectory(path));
        }
        if !meta.is_file() {
            let kind = file_kind(meta.file_type());
            return Err(GgufError::NotARegularFile { path, kind });
        }
        let file = File::open(&path).map_err(io)?;
        // The descriptor's own type and size: the path may have been swapped since `metadata`.
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            let kind = file_kind(meta.file_type());
            return Err(GgufError::NotARegularFile { path, kind });
        }
        if meta.len() == 0 {
            return Err(GgufError::Empty(path));
        }
        let stamp = FileStamp::of(&meta);
        let map = mmap::map_read_only(&file).map_err(io)?;
        Self::parse(path, file, stamp, map)
    }

    /// Fails with [`GgufError::FileChanged`] when the file was truncated, extended or
    /// rewritten since it was opened (size, modification time or identity differ), so that
    /// callers stop before touching a map that may no longer be backed by data. One `fstat`
    /// on the kept descriptor (about a microsecond).
    pub fn check_unchanged(&self) -> Result<(), GgufError> {
        match self.stamp.changes_in(&self.file) {
            None => Ok(()),
            Some(what) => Err(GgufError::FileChanged {
                path: self.path.clone(),
                what,
            }),
        }
    }

    fn parse(path: PathBuf, file: File, stamp: FileStamp, map: Mmap) -> Result<Self, GgufError> {
        let mut cur = Cursor::new(&map);
        let magic_bytes = cur.bytes(4, "magic")?;
        let magic = u32::from_le_bytes(magic_bytes.try_into().expect("4 bytes"));
        if magic != GGUF_MAGIC {
            return Err(GgufError::BadMagic {
                found: magic_bytes.try_into().expect("4 bytes"),
            });
        }
        let version = cur.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion(version));
        }
        let n_tensors = cur.u64("tensor count")?;
        let n_kv = cur.u64("metadata count")?;
        // Each tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes, each key/value at least 8 + 4 + 1.
        cur.check_count(n_tensors, 32, "tensor")?;
        cur.check_count(n_kv, 13, "metadata key/value")?;

        let mut metadata = HashMap::with_capacity(n_kv as usize);
        let mut keys = Vec::with_capacity(n_kv as usize);
        for _ in 0..n_kv {
            let key = cur.string("metadata key")?.to_owned();
            let value = cur.value(&key)?;
            if metadata.insert(key.clone(), value).is_some() {
                return Err(GgufError::Duplicate {
                    what: "metadata key",
                    name: key,
                });
            }
            keys.push(key);
        }

        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => {
                let a = v.as_u64().ok_or_else(|| GgufError::WrongType {
                    key: "general.alignment".into(),
                    expected: "integer",
                    found: v.type_name(),
                })?;
                if !a.is_power_of_two() || a < MIN_ALIGNMENT {
                    return Err(GgufError::BadAlignment(a));
                }
                a
            }
        };

        let mut tensors = Vec::with_capacity(n_tensors as usize);
        let mut tensor_index = HashMap::with_capacity(n_tensors as usize);
        for _ in 0..n_tensors {
            let info = read_tensor_info(&mut cur)?;
            if tensor_index
                .insert(info.name.clone(), tensors.len())
                .is_some()
            {
                return Err(GgufError::Duplicate {
                    what: "tensor",
                    name: info.name,
                });
            }
            tensors.push(info);
        }

        let file_len = map.len() as u64;
        let data_start = cur.offset().div_ceil(alignment) * alignment;
        let data_len = file_len.saturating_sub(data_start);
        for t in &tensors {
            if t.offset % alignment != 0 {
                return Err(GgufError::MisalignedTensor {
                    name: t.name.clone(),
                    offset: t.offset,
                    alignment,
                });
            }
            let end = t.offset.checked_add(t.size);
            if end.is_none_or(|end| end > data_len) {
                return Err(GgufError::TensorOutOfBounds {
                    name: t.name.clone(),
                    start: t.offset,
                    end: end.unwrap_or(u64::MAX),
                    data_len,
                });
            }
        }

        Ok(Self {
            path,
            file,
            stamp,
            map,
            version,
            metadata,
            keys,
            tensors,
            tensor_index,
            data_start,
            fingerprint: std::sync::OnceLock::new(),
        })
    }

    /// SHA-256 of everything before the tensor data: the header, the metadata (hyper-parameters,
    /// vocabulary) and the tensor table (names, shapes, types, offsets), not the weights. Two
    /// files with the same fingerprint load to the same configuration and tokenizer; a file
    /// whose weights alone were rewritten (same table) keeps its fingerprint. Computed once
    /// (a few milliseconds for a megabytes-long vocabulary), after [`GgufFile::check_unchanged`].
    pub fn fingerprint(&self) -> Result<[u8; 32], GgufError> {
        if let Some(f) = self.fingerprint.get() {
            return Ok(*f);
        }
        self.check_unchanged()?;
        use sha2::Digest;
        let end = (self.data_start as usize).min(self.map.len());
        let digest: [u8; 32] = sha2::Sha256::digest(&self.map[..end]).into();
        Ok(*self.fingerprint.get_or_init(|| digest))
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The GGUF format version.
    pub fn version(&self) -> u32 {
        self.version
    }
    /// The file size in bytes.
    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }
    /// Metadata keys in file order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }
    /// A metadata value, if the key is present.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }
    /// Every tensor, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The bytes of a string value (GGUF strings are meant to be UTF-8; tokens may not be).
    pub fn string_bytes(&self, s: &value::StrRef) -> &[u8] {
        &self.map[s.range()]
    }

    fn require(&self, key: &str) -> Result<&MetaValue, GgufError> {
        self.get(key)
            .ok_or_else(|| GgufError::MissingKey(key.to_owned()))
    }

    fn wrong(key: &str, expected: &'static str, v: &MetaValue) -> GgufError {
        GgufError::WrongType {
            key: key.to_owned(),
            expected,
            found: v.type_name(),
        }
    }

    /// A required string value.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        match self.require(key)? {
            MetaValue::Str(s) => {
                std::str::from_utf8(self.string_bytes(s)).map_err(|_| GgufError::InvalidUtf8 {
                    what: format!("metadata value {key:?}"),
                })
            }
            v => Err(Self::wrong(key, "string", v)),
        }
    }

    /// An optional string value (`Ok(None)` when absent, an error when of another type).
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, GgufError> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.get_str(key).map(Some),
        }
    }

    /// A required unsigned integer of any width.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        let v = self.require(key)?;
        v.as_u64()
            .ok_or_else(|| Self::wrong(key, "unsigned integer", v))
    }

    /// An optional unsigned integer of any width (`None` when absent, an error when of another type).
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, GgufError> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.get_u64(key).map(Some),
        }
    }

    /// A required float (integers are accepted and converted).
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        let v = self.require(key)?;
        v.as_f32().ok_or_else(|| Self::wrong(key, "number", v))
    }

    /// An optional float (`None` when absent, an error when not a number).
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>, GgufError> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.get_f32(key).map(Some),
        }
    }

    /// An optional bool (`None` when absent, an error when of another type).
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, GgufError> {
        match self.get(key) {
            None => Ok(None),
            Some(MetaValue::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(Self::wrong(key, "bool", v)),
        }
    }

    fn get_array(&self, key: &str) -> Result<&MetaArray, GgufError> {
        match self.require(key)? {
            MetaValue::Array(a) => Ok(a),
            v => Err(Self::wrong(key, "array", v)),
        }
    }

    /// The elements of an array value, read from the mapped file as they are walked.
    pub fn array_items(&self, a: &MetaArray) -> ArrayItems<'_> {
        ArrayItems::new(&self.map, a)
    }

    /// The strings of an array of strings, as raw bytes (`None` for another element type).
    pub fn array_strings(&self, a: &MetaArray) -> Option<StrItems<'_>> {
        (a.elem == ElemType::Str).then(|| StrItems::new(&self.map, a))
    }

    /// The elements of a numeric array as f32 (float and 32-bit integer arrays; `None` for
    /// other types).
    pub fn array_to_f32(&self, a: &MetaArray) -> Option<Vec<f32>> {
        if !matches!(
            a.elem,
            ElemType::F32 | ElemType::F64 | ElemType::I32 | ElemType::U32
        ) {
            return None;
        }
        Some(
            self.array_items(a)
                .map(|v| match v {
                    MetaValue::F32(x) => x,
                    MetaValue::F64(x) => x as f32,
                    MetaValue::I32(x) => x as f32,
                    MetaValue::U32(x) => x as f32,
                    _ => 0.0,
                })
                .collect(),
        )
    }

    /// The elements of an integer array as i64 (u64 values converted with `as`; `None` for
    /// other types).
    pub fn array_to_i64(&self, a: &MetaArray) -> Option<Vec<i64>> {
        if !is_int_elem(a.elem) {
            return None;
        }
        self.array_items(a).map(|v| int_as_i64(&v)).collect()
    }

    /// A required array of strings, as raw bytes (vocabularies may hold non-UTF-8 pieces).
    pub fn get_bytes_array(&self, key: &str) -> Result<Vec<&[u8]>, GgufError> {
        let a = self.get_array(key)?;
        match self.array_strings(a) {
            Some(items) => Ok(items.collect()),
            None => Err(GgufError::WrongType {
                key: key.to_owned(),
                expected: "array of strings",
                found: a.type_name(),
            }),
        }
    }

    /// A required array of numbers converted to f32.
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>, GgufError> {
        self.array_to_f32(self.get_array(key)?)
            .ok_or_else(|| GgufError::WrongType {
                key: key.to_owned(),
                expected: "array of numbers",
                found: "array of another type",
            })
    }

    /// A required array of integers converted to i64.
    pub fn get_i64_array(&self, key: &str) -> Result<Vec<i64>, GgufError> {
        self.array_to_i64(self.get_array(key)?)
            .ok_or_else(|| GgufError::WrongType {
                key: key.to_owned(),
                expected: "array of integers",
                found: "array of another type",
            })
    }

    /// A tensor by name.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// A borrowed view of a tensor's bytes (bounds were checked when the file was opened).
    pub fn tensor(&self, name: &str) -> Result<TensorView<'_>, GgufError> {
        let info = self
            .tensor_info(name)
            .ok_or_else(|| GgufError::MissingTensor(name.to_owned()))?;
        Ok(TensorView {
            info,
            data: &self.map[self.byte_range(info)],
        })
    }

    /// Where a tensor's bytes lie in [`GgufFile::bytes`]; lets owners of the file keep
    /// plain ranges instead of self-referential borrows.
    pub fn byte_range(&self, info: &TensorInfo) -> std::ops::Range<usize> {
        let start = (self.data_start + info.offset) as usize;
        start..start + info.size as usize
    }

    /// The whole mapped file.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// `fstat` of the open descriptor (the file that is mapped, even if its path was since
    /// renamed over).
    pub(crate) fn file_metadata(&self) -> std::io::Result<std::fs::Metadata> {
        self.file.metadata()
    }

    /// Renders metadata for humans (long arrays are summarized).
    pub fn describe_value(&self, v: &MetaValue) -> String {
        match v {
            MetaValue::Str(s) => format!("{:?}", String::from_utf8_lossy(self.string_bytes(s))),
            MetaValue::Array(a) => format!("[{} x {}]", a.len(), a.type_name()),
            other => other.to_string(),
        }
    }
}

fn is_int_elem(t: ElemType) -> bool {
    use ElemType::*;
    matches!(t, U8 | I8 | U16 | I16 | U32 | I32 | U64 | I64)
}

/// An integer value as i64 (u64 converted with `as`).
fn int_as_i64(v: &MetaValue) -> Option<i64> {
    Some(match *v {
        MetaValue::U8(x) => x.into(),
        MetaValue::I8(x) => x.into(),
        MetaValue::U16(x) => x.into(),
        MetaValue::I16(x) => x.into(),
        MetaValue::U32(x) => x.into(),
        MetaValue::I32(x) => x.into(),
        MetaValue::U64(x) => x as i64,
        MetaValue::I64(x) => x,
        _ => return None,
    })
}

fn read_tensor_info(cur: &mut Cursor<'_>) -> Result<TensorInfo, GgufError> {
    let name = cur.string("tensor name")?.to_owned();
    let n_dims = cur.u32("tensor dimension count")?;
    if n_dims == 0 || n_dims > MAX_DIMS {
        return Err(GgufError::BadTensorShape {
            name,
            reason: format!("{n_dims} dimensions (1 to {MAX_DIMS} supported)"),
        });
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(cur.u64("tensor dimension")?);
    }
    let type_id_pos = cur.offset();
    let type_id = cur.u32("tensor type")?;
    let (ty, layout) = match type_id.checked_sub(INTERLEAVED8_TYPE_BASE) {
        Some(id) => (GgmlType::from_id(id), BlockLayout::Interleaved8),
        None => (GgmlType::from_id(type_id), BlockLayout::Rows),
    };
    let ty = ty.ok_or_else(|| GgufError::UnknownTensorType {
        name: name.clone(),
        type_id,
    })?;
    let offset = cur.u64("tensor offset")?;

    let bad = |reason: String| GgufError::BadTensorShape {
        name: name.clone(),
        reason,
    };
    if dims.contains(&0) {
        return Err(bad(format!("zero-sized dimension in {dims:?}")));
    }
    let n = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("element count of {dims:?} overflows")))?;
    if dims[0] % ty.block_len() as u64 != 0 {
        return Err(bad(format!(
            "row length {} is not a multiple of the {} block size {}",
            dims[0],
            ty,
            ty.block_len()
        )));
    }
    let size = ty
        .bytes_for(n)
        .ok_or_else(|| bad(format!("byte size of {dims:?} overflows")))?;
    if layout == BlockLayout::Interleaved8 {
        let rows = n / dims[0];
        if !interleave::supports(ty) || !rows.is_multiple_of(GROUP_ROWS as u64) {
            return Err(bad(format!(
                "interleaved {ty} with {rows} rows (only 32-element block types, Q4_K and \
                 Q6_K, rows a multiple of {GROUP_ROWS}): the file is corrupt; re-run `pocketlm convert`"
            )));
        }
    }
    Ok(TensorInfo {
        name,
        dims,
        ty,
        layout,
        offset,
        size,
        type_id_pos,
    })
}

#[cfg(test)]
mod tests;
