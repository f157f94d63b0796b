//! The one memory map of a model file: read-only, private to this process.

use memmap2::Mmap;
use std::fs::File;

/// Maps `file` read-only.
pub(crate) fn map_read_only(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the map is read-only and private to this process. A file truncated while it is
    // mapped would fault on access; `GgufFile::check_unchanged` (called before every
    // evaluation) detects truncation and in-place writes, and replacement by rename leaves
    // this mapping's inode intact.
    unsafe { Mmap::map(file) }
}
