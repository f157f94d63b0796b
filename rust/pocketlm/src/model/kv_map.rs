//! Memory of a KV cache whose first positions come from a snapshot file (docs/state.md,
//! "File-backed prefixes"): per layer, an anonymous reservation for the whole context with a
//! page-aligned range of the file mapped privately over its start.
//!
//! The file's pages are mapped `MAP_PRIVATE | MAP_FIXED` with `PROT_READ | PROT_WRITE`: while
//! they are only read they stay clean page-cache pages, shared by every session that maps the
//! same file and not counted as the process's anonymous memory; a write (a rewind into the
//! prefix followed by new tokens) copies that one page (copy-on-write) and never reaches the
//! file. Positions past the mapped range live in the reservation's anonymous pages, which the
//! OS only allocates when they are first written, as a growing heap buffer would.
//!
//! A mapped file that is truncated faults (SIGBUS) on access to its vanished pages: the cache
//! keeps the file open with its stamp, and every evaluation checks it first
//! (`KvCache::check_prefix`), as for the model file.

use memmap2::MmapMut;
use std::fs::File;

/// The OS page size, queried at run time (16 KiB on many arm64 phones, 4 KiB on x86).
pub(crate) fn page_size() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: sysconf only reads a system constant; it has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if n > 0 {
            return n as usize;
        }
    }
    4096
}

/// Whether mapping is possible at all here: a Unix OS, and a little-endian CPU (the snapshot's
/// bytes are little-endian and used as they are).
pub(crate) fn supported() -> bool {
    cfg!(unix) && cfg!(target_endian = "little")
}

/// Zero-initialised memory of a fixed length, its first bytes possibly a private map of a file.
pub(crate) struct Region {
    /// The anonymous reservation (page-rounded); the file's pages replace its start.
    map: MmapMut,
    /// Bytes of the file mapped over the start.
    file_bytes: usize,
}

impl Region {
    /// `len` bytes, the first `file_len` of them the file's bytes at `offset` (both multiples
    /// of [`page_size`]; the file must hold `offset + file_len` bytes).
    pub(crate) fn new(len: usize, file: Option<(&File, u64, usize)>) -> std::io::Result<Self> {
        let page = page_size();
        let file_len = file.map_or(0, |f| f.2);
        let total = len.max(file_len).max(1).div_ceil(page) * page;
        let mut map = MmapMut::map_anon(total)?;
        if let Some((f, offset, n)) = file {
            if n > 0 {
                if !offset.is_multiple_of(page as u64) || !n.is_multiple_of(page) {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "the mapped range is not page-aligned",
                    ));
                }
                map_over(&mut map, f, offset, n)?;
            }
        }
        Ok(Self {
            map,
            file_bytes: file_len,
        })
    }

    /// The region's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The region's bytes, writable (a write into the file's pages copies that page).
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }

    /// Bytes of the file mapped over the start.
    pub(crate) fn file_bytes(&self) -> usize {
        self.file_bytes
    }
}

/// Maps `file[offset..offset + len]` privately over the first `len` bytes of `map`.
#[cfg(unix)]
fn map_over(map: &mut MmapMut, file: &File, offset: u64, len: usize) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    assert!(len <= map.len(), "the file range exceeds the reservation");
    let off = libc::off_t::try_from(offset).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "file offset too large")
    })?;
    let at = map.as_mut_ptr();
    // SAFETY: `at..at + len` lies inside `map`, a mapping this function borrows mutably (no
    // other reference into it exists), so replacing its pages with MAP_FIXED cannot invalidate
    // anything; `munmap` of `map` on drop unmaps the file pages with it. MAP_PRIVATE: writes
    // copy the page and never reach the file. The file stays open in the cache's prefix, and
    // every read of these pages is preceded by a check that the file was neither truncated
    // nor rewritten (`KvCache::check_prefix`), so its pages stay backed by data.
    let p = unsafe {
        libc::mmap(
            at.cast(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_FIXED,
            file.as_raw_fd(),
            off,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    debug_assert_eq!(p.cast::<u8>(), at);
    Ok(())
}

/// Without `MAP_FIXED`, the file's bytes are read into the reservation instead.
#[cfg(not(unix))]
fn map_over(map: &mut MmapMut, file: &File, offset: u64, len: usize) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(&mut map[..len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_file_pages_come_first_and_writes_do_not_reach_the_file() {
        let page = page_size();
        let mut f = tempfile::tempfile().unwrap();
        let content: Vec<u8> = (0..3 * page).map(|i| (i % 251) as u8).collect();
        f.write_all(&content).unwrap();
        let mut r = Region::new(5 * page + 3, Some((&f, page as u64, page))).unwrap();
        assert!(r.bytes().len() >= 5 * page + 3);
        assert_eq!(&r.bytes()[..page], &content[page..2 * page]);
        assert!(r.bytes()[page..].iter().all(|&b| b == 0));
        r.bytes_mut()[0] ^= 0xff;
        r.bytes_mut()[4 * page] = 7;
        let mut back = Vec::new();
        use std::io::{Read, Seek};
        f.rewind().unwrap();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, content, "a write reached the file");
        assert_eq!(r.file_bytes(), page);
        assert!(Region::new(page, Some((&f, 1, page))).is_err());
    }
}
