//! Writing a file so that a failure never leaves half a file over a good one.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A temporary path beside `path`, ending in `.ext`.
fn temp_beside(path: &Path, ext: &str) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{} is not a file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".heapy-tmp-{}.{ext}", std::process::id()));
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
