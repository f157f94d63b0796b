//! Files replaced atomically: written beside their path under a temporary name, synced and
//! renamed over it, so the path never holds a half-written file and a reader (or a mapping) of
//! the previous one is not disturbed. Session snapshots, saved chats and the reply drafter's
//! warm-start files are written this way.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A step of [`replace_file`] that failed: callers turn it into their own error type.
#[derive(Debug)]
pub(crate) struct ReplaceError {
    /// "create", "write" or "rename into place".
    pub action: &'static str,
    /// The file the step was on (the temporary file, or `path` for the rename).
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Writes `path` through `write` (a buffered writer on the temporary file) and returns the
/// file's size in bytes. On any error the temporary file is removed and `path` is unchanged.
pub(crate) fn replace_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<u64, ReplaceError> {
    // Unique per process and per call: two threads (or processes) replacing the same path at
    // once each write their own temporary file, and the last rename wins with a whole file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".partial-{}-{n}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let at = |action: &'static str, p: &Path| {
        let path = p.to_path_buf();
        move |source| ReplaceError {
            action,
            path,
            source,
        }
    };
    let file = File::create(&tmp).map_err(at("create", &tmp))?;
    let written = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, file);
        write(&mut w)?;
        w.flush()?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(file.metadata()?.len())
    })()
    .map_err(at("write", &tmp));
    let len = match written {
        Ok(len) => len,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        at("rename into place", path)(e)
    })?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert_eq!(replace_file(&path, |w| w.write_all(b"first")).unwrap(), 5);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let failed = replace_file(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("interrupted"))
        })
        .unwrap_err();
        assert_eq!(failed.action, "write");
        assert_eq!(std::fs::read(&path).unwrap(), b"first", "unchanged");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
        let missing = dir.path().join("no/such/dir/f");
        assert_eq!(
            replace_file(&missing, |_| Ok(())).unwrap_err().action,
            "create"
        );
    }
}
