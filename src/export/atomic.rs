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
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{} is not a file name", path.display())))?;
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
