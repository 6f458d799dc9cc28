//! Writing a file so that a failure never leaves half a file over a good one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// Temporary files made by this process so far: with the pid, a name no other dump, plot or
/// flame graph being written at the same moment uses. Relaxed: it only hands out numbers.
static TEMPS: AtomicU64 = AtomicU64::new(0);

/// A temporary path beside `path`, ending in `.ext`, unique in the process and across
/// processes (pid and counter).
fn temp_beside(path: &Path, ext: &str) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| Error::NotAFileName {
        path: path.to_path_buf(),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    let n = TEMPS.fetch_add(1, Ordering::Relaxed);
    tmp_name.push(format!(".heapy-tmp-{}-{n}.{ext}", std::process::id()));
    Ok(path.with_file_name(tmp_name))
}

#[cfg_attr(not(feature = "plot"), allow(dead_code))]
/// Lets `make` write a temporary file beside `path` (ending in `.ext`), then renames it
/// over `path`; the temporary file is removed if anything fails.
pub(crate) fn write_with(
    path: &Path,
    ext: &str,
    make: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let tmp = temp_beside(path, ext)?;
    let result = make(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = temp_beside(path, "tmp")?;
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, b"old").unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["out.json"]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        std::fs::write(&path, b"old").unwrap();
        let err = write_with(&path, "png", |tmp| {
            std::fs::write(tmp, b"half").unwrap();
            Err(Error::Io {
                path: tmp.to_path_buf(),
                source: std::io::Error::other("disk full"),
            })
        })
        .unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.png"]);
    }

    #[test]
    fn a_path_without_a_file_name_is_an_error() {
        let err = write(Path::new("/"), b"x").unwrap_err();
        assert!(matches!(err, Error::NotAFileName { ref path } if path == Path::new("/")));
    }
}
