//! Memory of a KV cache (docs/state.md, "File-backed prefixes"): per layer, an anonymous
//! reservation for the whole context, whose pages the OS commits only when they are first
//! written, and when the first positions come from a snapshot file, a page-aligned range of
//! the file mapped privately over its start.
//!
//! The file's pages are mapped `MAP_PRIVATE | MAP_FIXED` with `PROT_READ | PROT_WRITE`: while
//! they are only read they stay clean page-cache pages, shared by every session that maps the
//! same file and not counted as the process's anonymous memory; a write (a rewind into the
//! prefix followed by new tokens) copies that one page (copy-on-write) and never reaches the
//! file. Positions past the mapped range live in the reservation's anonymous pages. Unlike a
//! growing heap buffer, the reservation is never reallocated or copied, commits nothing ahead of
//! the positions written, and returns every page to the OS when dropped (`munmap`).
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
        no_huge_pages(&mut map);
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

/// Asks the OS to back `map` with base pages only: with transparent huge pages set to
/// "always", the first write into a 2 MiB-aligned stretch would otherwise commit all of it.
/// Advice only: a failure changes nothing else.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn no_huge_pages(map: &mut MmapMut) {
    // SAFETY: the range is exactly the mapping `map` owns; MADV_NOHUGEPAGE only changes how
    // the kernel backs it, never its contents or its validity.
    unsafe {
        libc::madvise(map.as_mut_ptr().cast(), map.len(), libc::MADV_NOHUGEPAGE);
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn no_huge_pages(_map: &mut MmapMut) {}

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

/// Buffers from this size up are their own anonymous mapping ([`F32Block`]): glibc's malloc
/// serves blocks this large from its heap once a freed mapping has raised its dynamic
/// threshold, and freed heap blocks stay resident while anything above them is live.
pub(crate) const BLOCK_MAP_MIN_BYTES: usize = 64 * 1024;

/// A fixed-length f32 buffer for large values that come and go (a logits vector kept for one
/// keystroke, a recurrent state or its checkpoint): from [`BLOCK_MAP_MIN_BYTES`] up on Unix its
/// own anonymous mapping, whose pages go back to the OS when it is dropped, whatever the
/// allocator keeps; smaller, elsewhere, or if the mapping fails, a heap `Vec`.
pub(crate) enum F32Block {
    Heap(Vec<f32>),
    Mapped(Region, usize),
}

impl Default for F32Block {
    /// Empty, holding nothing.
    fn default() -> Self {
        F32Block::Heap(Vec::new())
    }
}

impl F32Block {
    /// A copy of `values` (a small one straight from them, not written twice).
    pub(crate) fn copy_of(values: &[f32]) -> Self {
        match Self::mapped_zeros(values.len()) {
            Some(mut b) => {
                b.copy_from_slice(values);
                b
            }
            None => F32Block::Heap(values.to_vec()),
        }
    }

    /// `n` zeros (an anonymous mapping is zero until written).
    pub(crate) fn zeros(n: usize) -> Self {
        Self::mapped_zeros(n).unwrap_or_else(|| F32Block::Heap(vec![0.0; n]))
    }

    /// `n` zeros in a mapping of their own, for a block large enough to be worth one (on Unix;
    /// `None` otherwise or when the mapping fails).
    fn mapped_zeros(n: usize) -> Option<Self> {
        let bytes = n * std::mem::size_of::<f32>();
        if cfg!(unix) && bytes >= BLOCK_MAP_MIN_BYTES {
            if let Ok(r) = Region::new(bytes, None) {
                return Some(F32Block::Mapped(r, n));
            }
        }
        None
    }

    /// A copy of `values` in the pages of an unnamed file created in `dir` and mapped
    /// privately: clean file pages, which the OS may drop and read again, not the process's
    /// anonymous memory. For large values written once and only read after (a checkpoint of
    /// recurrent states). The file has no name, so no other process can reach it to
    /// truncate it under the mapping. Fails (then keep an anonymous copy) where files are not
    /// mapped, or when the file cannot be created or written (a full disk).
    pub(crate) fn file_copy_of(values: &[f32], dir: &std::path::Path) -> std::io::Result<Self> {
        use std::io::Write;
        if !supported() || values.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "no file mappings here",
            ));
        }
        let bytes: &[u8] = bytemuck::cast_slice(values);
        let padded = bytes.len().div_ceil(page_size()) * page_size();
        let mut file = tempfile::tempfile_in(dir)?;
        file.write_all(bytes)?;
        file.set_len(padded as u64)?;
        let r = Region::new(bytes.len(), Some((&file, 0, padded)))?;
        Ok(F32Block::Mapped(r, values.len()))
    }

    /// Bytes of this block in a file's pages ([`F32Block::file_copy_of`]).
    pub(crate) fn file_bytes(&self) -> usize {
        match self {
            F32Block::Mapped(r, n) if r.file_bytes() > 0 => n * std::mem::size_of::<f32>(),
            _ => 0,
        }
    }

    /// Makes this block a copy of `values`, in place when the lengths agree (and it is not
    /// in a file's pages, whose writes would make them anonymous copies).
    pub(crate) fn assign(&mut self, values: &[f32]) {
        if self.len() == values.len() && self.file_bytes() == 0 {
            self.copy_from_slice(values);
        } else {
            *self = Self::copy_of(values);
        }
    }
}

impl Clone for F32Block {
    fn clone(&self) -> Self {
        Self::copy_of(self)
    }

    fn clone_from(&mut self, src: &Self) {
        self.assign(src);
    }
}

impl std::ops::DerefMut for F32Block {
    fn deref_mut(&mut self) -> &mut [f32] {
        match self {
            F32Block::Heap(v) => v,
            F32Block::Mapped(r, n) => &mut bytemuck::cast_slice_mut(r.bytes_mut())[..*n],
        }
    }
}

impl std::ops::Deref for F32Block {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        match self {
            F32Block::Heap(v) => v,
            F32Block::Mapped(r, n) => &bytemuck::cast_slice(r.bytes())[..*n],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Pages of `r` resident in memory (Linux: `mincore`).
    #[cfg(target_os = "linux")]
    fn resident_pages(r: &Region) -> usize {
        let page = page_size();
        let bytes = r.bytes();
        let mut vec = vec![0u8; bytes.len().div_ceil(page)];
        // SAFETY: the range is the region's own page-aligned mapping, alive for the call, and
        // `vec` has one byte per page of it, as mincore writes.
        let rc = unsafe { libc::mincore(bytes.as_ptr() as *mut _, bytes.len(), vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        vec.iter().filter(|&&b| b & 1 != 0).count()
    }

    /// An anonymous region (no file) is zero and commits only the pages written.
    #[test]
    fn an_anonymous_region_commits_only_the_pages_written() {
        let page = page_size();
        let mut r = Region::new(64 * page + 5, None).unwrap();
        assert_eq!(r.bytes().len(), 65 * page);
        assert_eq!(r.file_bytes(), 0);
        #[cfg(target_os = "linux")]
        assert_eq!(resident_pages(&r), 0);
        r.bytes_mut()[3 * page + 7] = 1;
        r.bytes_mut()[40 * page] = 2;
        #[cfg(target_os = "linux")]
        assert_eq!(resident_pages(&r), 2);
        let b = r.bytes();
        assert_eq!((b[3 * page + 7], b[40 * page]), (1, 2));
        assert_eq!(b.iter().filter(|&&x| x != 0).count(), 2);
    }

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

    #[test]
    fn a_block_holds_a_copy_mapped_from_the_threshold_up() {
        let small: Vec<f32> = (0..100).map(|i| i as f32 * 0.5).collect();
        let b = F32Block::copy_of(&small);
        assert!(matches!(b, F32Block::Heap(_)));
        assert_eq!(&b[..], &small[..]);
        let n = BLOCK_MAP_MIN_BYTES / 4 + 3;
        let large: Vec<f32> = (0..n).map(|i| (i as f32).sin()).collect();
        let b = F32Block::copy_of(&large);
        assert_eq!(matches!(b, F32Block::Mapped(..)), cfg!(unix));
        assert_eq!(b.len(), n);
        assert_eq!(&b[..], &large[..]);
        assert!(F32Block::copy_of(&[]).is_empty());
    }

    /// Kilobytes of anonymous memory in the mapping that holds `addr` (Linux:
    /// /proc/self/smaps; the kernel may have merged an anonymous one with its neighbours).
    #[cfg(target_os = "linux")]
    fn anonymous_kib_at(addr: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut lines = smaps.lines();
        while let Some(l) = lines.next() {
            let range = l.split_whitespace().next().unwrap_or("");
            let Some((start, end)) = range.split_once('-') else {
                continue;
            };
            let hex = |x: &str| usize::from_str_radix(x, 16).unwrap_or(0);
            if !(hex(start) <= addr && addr < hex(end)) {
                continue;
            }
            for l in lines.by_ref() {
                if let Some(v) = l.strip_prefix("Anonymous:") {
                    return v.trim().trim_end_matches(" kB").parse().unwrap();
                }
            }
        }
        panic!("no mapping at {addr:#x}");
    }

    /// A block in a file's pages reads back its values, counts them as file bytes, is no
    /// anonymous memory once read, and an assignment replaces it rather than writing into
    /// those pages.
    #[test]
    fn a_file_copy_is_read_from_file_pages() {
        if !supported() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let n = BLOCK_MAP_MIN_BYTES / 4 + 5;
        let values: Vec<f32> = (0..n).map(|i| (i as f32).cos()).collect();
        let mut b = F32Block::file_copy_of(&values, dir.path()).unwrap();
        assert_eq!(&b[..], &values[..]);
        assert_eq!(b.file_bytes(), 4 * n);
        assert_eq!(F32Block::copy_of(&values).file_bytes(), 0);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the file has no name"
        );
        #[cfg(target_os = "linux")]
        {
            assert_eq!(anonymous_kib_at(b.as_ptr() as usize), 0);
            let anon = F32Block::copy_of(&values);
            assert!(anonymous_kib_at(anon.as_ptr() as usize) as usize >= 4 * n / 1024);
        }
        b.assign(&values);
        assert_eq!((b.file_bytes(), &b[..]), (0, &values[..]));
        let missing = dir.path().join("missing");
        assert!(F32Block::file_copy_of(&values, &missing).is_err());
    }
}
