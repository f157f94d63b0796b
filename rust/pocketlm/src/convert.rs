//! `pocketlm convert`: a copy of a GGUF file with its weight matrices in the interleaved layout
//! ([`crate::quant::interleave`]), which the x86 AVX-512 decode kernels stream ~1.5x faster.
//!
//! Done offline so loading stays a zero-copy read-only mmap: repacking at load time would put
//! a heap copy of the weights in the app's memory. Only the tensor data and the type ids of the
//! converted tensors change (same sizes, same offsets, same metadata), so the file is as large
//! as the original and the model computes the same bits.

use crate::atomic_file::replace_file;
use crate::gguf::{GgufError, GgufFile, INTERLEAVED8_TYPE_BASE};
use crate::quant::interleave::{self, GROUP_ROWS};
use crate::quant::BlockLayout;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors from [`interleave_file`].
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The input is not a readable GGUF file.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// The output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The output path names the input file.
    #[error("the output {0} is the input file; pass another --out path")]
    SameFile(PathBuf),
}

/// What [`interleave_file`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertReport {
    /// Matrices written interleaved.
    pub interleaved: usize,
    /// Their bytes.
    pub interleaved_bytes: u64,
    /// Tensors copied unchanged (vectors, k-quants, already interleaved ones).
    pub unchanged: usize,
}

/// Whether a tensor of `file` is a weight matrix that can be interleaved.
pub(crate) fn interleavable(info: &crate::gguf::TensorInfo) -> bool {
    info.layout == BlockLayout::Rows
        && info.dims.len() == 2
        && info.name.ends_with(".weight")
        && interleave::head_bytes(info.ty).is_some()
        && info.dims[1].is_multiple_of(GROUP_ROWS as u64)
}

/// Writes `output`: `input` with every interleavable weight matrix interleaved. Converting a
/// converted file changes nothing. The output is written to a temporary file (a name unique to
/// this process and call) and renamed, so a failed conversion never leaves a truncated model
/// behind and two conversions to the same path at once each leave a whole file.
pub fn interleave_file(input: &Path, output: &Path) -> Result<ConvertReport, ConvertError> {
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize()) {
        if a == b {
            return Err(ConvertError::SameFile(output.to_owned()));
        }
    }
    let file = GgufFile::open(input)?;
    interleave_gguf(&file, output)
}

/// [`interleave_file`] from a file already open (the layout cache converts the very file it
/// keyed). The caller has checked that `output` is not the input's path.
///
/// Streamed: the file is written piece by piece from the map (header with the new type ids,
/// then each tensor, interleaved or copied), so the heap holds one tensor at a time, not a copy
/// of the model (an app, or a keyboard extension, converting on first load stays small).
pub(crate) fn interleave_gguf(
    file: &GgufFile,
    output: &Path,
) -> Result<ConvertReport, ConvertError> {
    let bytes = file.bytes();
    let mut order: Vec<_> = file.tensors().iter().collect();
    order.sort_by_key(|t| file.byte_range(t).start);
    let data_from = order
        .first()
        .map_or(bytes.len(), |t| file.byte_range(t).start);
    let mut report = ConvertReport::default();
    let mut header = bytes[..data_from].to_vec();
    for info in &order {
        if !interleavable(info) {
            report.unchanged += 1;
            continue;
        }
        let pos = info.type_id_pos as usize;
        let id = u32::from_le_bytes(header[pos..pos + 4].try_into().unwrap());
        header[pos..pos + 4].copy_from_slice(&(INTERLEAVED8_TYPE_BASE + id).to_le_bytes());
        report.interleaved += 1;
        report.interleaved_bytes += info.size;
    }
    let write = |w: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        w.write_all(&header)?;
        let mut at = data_from;
        for info in &order {
            let range = file.byte_range(info);
            if range.start < at {
                // Tensors sharing bytes (a hostile file): the interleaved bytes of one would
                // be those of another. Not a file the converter writes.
                return Err(std::io::Error::other(format!(
                    "tensor {:?} overlaps the previous one",
                    info.name
                )));
            }
            w.write_all(&bytes[at..range.start])?;
            if interleavable(info) {
                let rows = (info.n_elements() / info.dims[0]) as usize;
                w.write_all(&interleave::interleave(
                    info.ty,
                    &bytes[range.clone()],
                    rows,
                ))?;
            } else {
                w.write_all(&bytes[range.clone()])?;
            }
            at = range.end;
        }
        w.write_all(&bytes[at..])?;
        // The source may have been rewritten in place while it was copied.
        file.check_unchanged().map_err(std::io::Error::other)
    };
    replace_file(output, write).map_err(|e| ConvertError::Write {
        path: e.path,
        source: e.source,
    })?;
    Ok(report)
}
