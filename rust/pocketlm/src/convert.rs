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
    /// Tensors copied unchanged (vectors, k-quants other than Q4_K, already interleaved ones).
    pub unchanged: usize,
}

/// Which weight types a conversion interleaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvertTarget {
    /// Every type the interleaved layout has (the 32-element types and Q4_K): the copy to ship
    /// to phones, whose NEON tiers read all of them in place.
    #[default]
    Portable,
    /// Only the types this CPU's kernel tier reads in place. The others stay row-major: the
    /// AVX2 tier has no kernel for interleaved Q4_K and Q6_K and would de-interleave them at
    /// every product. The layout cache converts for this target.
    ThisCpu,
}

impl ConvertTarget {
    /// Whether matrices of `ty` are interleaved for this target.
    pub fn interleaves(self, ty: crate::quant::GgmlType) -> bool {
        match self {
            Self::Portable => interleave::supports(ty),
            Self::ThisCpu => crate::kernels::reads_interleaved_in_place(ty),
        }
    }
}

/// Whether a tensor of `file` is a weight matrix that `target` interleaves.
pub(crate) fn interleavable(info: &crate::gguf::TensorInfo, target: ConvertTarget) -> bool {
    info.layout == BlockLayout::Rows
        && info.dims.len() == 2
        && info.name.ends_with(".weight")
        && target.interleaves(info.ty)
        && info.dims[1].is_multiple_of(GROUP_ROWS as u64)
}

/// Writes `output`: `input` with every interleavable weight matrix interleaved
/// ([`ConvertTarget::Portable`]). Converting a converted file changes nothing. The output is
/// written to a temporary file (a name unique to this process and call) and renamed, so a
/// failed conversion never leaves a truncated model behind and two conversions to the same
/// path at once each leave a whole file.
pub fn interleave_file(input: &Path, output: &Path) -> Result<ConvertReport, ConvertError> {
    interleave_file_for(input, output, ConvertTarget::Portable)
}

/// [`interleave_file`] for `target`.
pub fn interleave_file_for(
    input: &Path,
    output: &Path,
    target: ConvertTarget,
) -> Result<ConvertReport, ConvertError> {
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize()) {
        if a == b {
            return Err(ConvertError::SameFile(output.to_owned()));
        }
    }
    let file = GgufFile::open(input)?;
    interleave_gguf(&file, output, target)
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
    target: ConvertTarget,
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
        if !interleavable(info, target) {
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
            if interleavable(info, target) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufWriter;
    use crate::quant::GgmlType;

    /// A file with one Q4_0 and one Q4_K matrix, converted for each target: the portable copy
    /// interleaves both, the copy for this CPU only what its tier reads in place (on aarch64
    /// and x86 AVX-512 both; with AVX2 not Q4_K, which it would de-interleave at every
    /// product).
    #[test]
    fn each_target_interleaves_its_types() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("m.gguf");
        let mut w = GgufWriter::new();
        w.tensor("a.weight", &[64, 8], GgmlType::Q4_0, vec![0; 8 * 2 * 18]);
        w.tensor("k.weight", &[256, 8], GgmlType::Q4_K, vec![0; 8 * 144]);
        std::fs::write(&src, w.to_bytes()).unwrap();
        let layout = |path: &Path, name: &str| {
            GgufFile::open(path)
                .unwrap()
                .tensor_info(name)
                .unwrap()
                .layout
        };
        let all = dir.path().join("all.gguf");
        let r = interleave_file_for(&src, &all, ConvertTarget::Portable).unwrap();
        assert_eq!((r.interleaved, r.unchanged), (2, 0));
        assert_eq!(layout(&all, "k.weight"), BlockLayout::Interleaved8);
        let here = dir.path().join("here.gguf");
        let r = interleave_file_for(&src, &here, ConvertTarget::ThisCpu).unwrap();
        let k_here = crate::kernels::reads_interleaved_in_place(GgmlType::Q4_K);
        let a_here = crate::kernels::reads_interleaved_in_place(GgmlType::Q4_0);
        assert_eq!(r.interleaved, usize::from(k_here) + usize::from(a_here));
        let want = |yes| {
            if yes {
                BlockLayout::Interleaved8
            } else {
                BlockLayout::Rows
            }
        };
        assert_eq!(layout(&here, "k.weight"), want(k_here));
        assert_eq!(layout(&here, "a.weight"), want(a_here));
        if cfg!(target_arch = "aarch64") {
            assert!(
                k_here && a_here,
                "every NEON tier reads interleaved Q4_K in place"
            );
        }
        if cfg!(target_arch = "x86_64") {
            let (want_a, want_k) = match crate::kernels::selected_tier() {
                crate::kernels::Tier::Avx512Vnni => (true, true),
                crate::kernels::Tier::Avx2 => (true, false),
                _ => (false, false),
            };
            assert_eq!(
                (a_here, k_here),
                (want_a, want_k),
                "x86: AVX2 reads Q4_0 in place, AVX-512 Q4_0 and Q4_K"
            );
        }
    }
}
