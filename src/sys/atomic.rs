//! Writing a file so that a failure never leaves half a file over a good one.
//!
//! Where the path leads decides how: a regular file (or nothing yet) is replaced
//! atomically, by a temporary file beside it and a rename, keeping the old file's
//! permissions; a symbolic link is followed, and the file it leads to is replaced beside
//! it (the link stays a link; a dangling link's target is made); anything that is not a
//! regular file (a FIFO, a terminal, `/dev/null`, `/dev/stdout` and the other links of
//! `/proc`) is written into directly, as a shell's `>` does: replacing it would put a
//! regular file in its place.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// Temporary files made by this process so far: with the pid, a name no other dump, plot or
/// flame graph being written at the same moment uses. Relaxed: it only hands out numbers.
static TEMPS: AtomicU64 = AtomicU64::new(0);

/// The most links followed (Linux's own limit): more is a loop.
const MAX_LINKS: usize = 40;

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

/// Where a write to a path goes.
#[derive(Debug, PartialEq, Eq)]
enum Dest {
    /// Replace this file (a regular file, or none yet) atomically, keeping its permissions
    /// (`None`: a new file).
    Replace(PathBuf, Option<fs::Permissions>),
    /// Not a regular file: open the path given and write into it.
    Into,
}

/// Follows `path` through its symbolic links to what a write should do.
fn dest(path: &Path) -> Result<Dest> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut at = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        let meta = match fs::symlink_metadata(&at) {
            Ok(m) => m,
            // Nothing there yet (also the target of a dangling link): a new file.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Dest::Replace(at, None))
            }
            Err(e) => return Err(io(e)),
        };
        let kind = meta.file_type();
        if kind.is_file() {
            return Ok(Dest::Replace(at, Some(meta.permissions())));
        }
        if kind.is_dir() {
            // The rename fails and names the problem ("Is a directory").
            return Ok(Dest::Replace(at, None));
        }
        if !kind.is_symlink() {
            return Ok(Dest::Into);
        }
        if in_proc(&at) {
            // `/proc`'s links (`/dev/stdout` leads to `/proc/self/fd/1`) name open files,
            // not paths: only the kernel follows them rightly.
            return Ok(Dest::Into);
        }
        let to = fs::read_link(&at).map_err(io)?;
        at = match at.parent() {
            Some(dir) => dir.join(to),
            None => to,
        };
    }
    Err(io(std::io::Error::from_raw_os_error(libc::ELOOP)))
}

/// True if the link `at` lives in `/proc` (its directory resolves there).
fn in_proc(at: &Path) -> bool {
    let dir = match at.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::canonicalize(dir).is_ok_and(|d| d.starts_with("/proc"))
}

/// Opens `path`, not a regular file, to write into it.
fn open_into(path: &Path) -> std::io::Result<File> {
    // No `create`: it exists (and if it went away meanwhile, failing is right); no
    // temporary file. A regular file reached through `/proc` is emptied first, as `>` does.
    let f = OpenOptions::new().write(true).open(path)?;
    if f.metadata()?.is_file() {
        f.set_len(0)?;
    }
    Ok(f)
}

/// Renames `tmp` over `target` after giving it `perms` (the replaced file's).
fn put_in_place(tmp: &Path, target: &Path, perms: Option<fs::Permissions>) -> std::io::Result<()> {
    if let Some(p) = perms {
        fs::set_permissions(tmp, p)?;
    }
    fs::rename(tmp, target)
}

#[cfg_attr(not(feature = "plot"), allow(dead_code))]
/// Lets `make` write a temporary file (ending in `.ext`), then puts it where `path` leads
/// (see the module notes); the temporary file is removed in every case.
pub(crate) fn write_with(
    path: &Path,
    ext: &str,
    make: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    match dest(path)? {
        Dest::Replace(target, perms) => {
            let tmp = temp_beside(&target, ext)?;
            let result = make(&tmp).and_then(|()| put_in_place(&tmp, &target, perms).map_err(io));
            if result.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            result
        }
        Dest::Into => {
            // Made in the temporary directory (not beside a device), then copied in.
            let name = path.file_name().ok_or_else(|| Error::NotAFileName {
                path: path.to_path_buf(),
            })?;
            let tmp = temp_beside(&std::env::temp_dir().join(name), ext)?;
            let result = make(&tmp).and_then(|()| {
                fs::read(&tmp)
                    .and_then(|bytes| open_into(path)?.write_all(&bytes))
                    .map_err(io)
            });
            let _ = fs::remove_file(&tmp);
            result
        }
    }
}

/// Checks, without writing anything, that a write to `path` can be made now: for a file to
/// replace (or make), that its directory takes a new file (one is made there and removed);
/// for a FIFO or device, nothing more (it is written into when the time comes).
pub(crate) fn check(path: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    match dest(path)? {
        Dest::Replace(target, _) => {
            if target.is_dir() {
                return Err(io(std::io::Error::from_raw_os_error(libc::EISDIR)));
            }
            let tmp = temp_beside(&target, "probe")?;
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(io)?;
            fs::remove_file(&tmp).map_err(io)
        }
        Dest::Into => Ok(()),
    }
}

/// Writes `bytes` where `path` leads (see the module notes): a regular file is replaced
/// through a temporary file beside it and a rename.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    match dest(path)? {
        Dest::Replace(target, perms) => {
            let tmp = temp_beside(&target, "tmp")?;
            let result = File::create(&tmp)
                .and_then(|mut f| {
                    f.write_all(bytes)?;
                    f.sync_all()
                })
                .and_then(|()| put_in_place(&tmp, &target, perms));
            if result.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            result.map_err(io)
        }
        Dest::Into => open_into(path)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(io),
    }
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

    use std::ffi::CString;
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{symlink, FileTypeExt, OpenOptionsExt, PermissionsExt};

    fn c_path(p: &Path) -> CString {
        CString::new(p.as_os_str().as_bytes()).unwrap()
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        let dir = tempfile::tempdir().unwrap();
        for m in [0o600, 0o640, 0o755] {
            let path = dir.path().join(format!("out-{m:o}.svg"));
            fs::write(&path, b"old").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(m)).unwrap();
            write(&path, b"new").unwrap();
            assert_eq!(fs::read(&path).unwrap(), b"new");
            assert_eq!(mode(&path), m);
            write_with(&path, "png", |tmp| {
                fs::write(tmp, b"newer").map_err(|source| Error::Io {
                    path: tmp.to_path_buf(),
                    source,
                })
            })
            .unwrap();
            assert_eq!(fs::read(&path).unwrap(), b"newer");
            assert_eq!(mode(&path), m);
        }
    }

    #[test]
    fn a_link_stays_a_link_and_its_target_gets_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let target = real.join("graph.svg");
        fs::write(&target, b"old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        // A relative link in another directory, and a link to that link.
        let link = dir.path().join("link.svg");
        symlink("real/graph.svg", &link).unwrap();
        let link2 = dir.path().join("link2.svg");
        symlink(&link, &link2).unwrap();
        write(&link2, b"new").unwrap();
        for l in [&link, &link2] {
            assert!(fs::symlink_metadata(l).unwrap().file_type().is_symlink());
        }
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(mode(&target), 0o600);
        assert_eq!(names(dir.path()), ["link.svg", "link2.svg", "real"]);
        assert_eq!(names(&real), ["graph.svg"]);
    }

    #[test]
    fn a_dangling_link_gets_its_target_made() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.json");
        symlink("made.json", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(dir.path().join("made.json")).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["link.json", "made.json"]);
    }

    #[test]
    fn a_loop_of_links_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.svg"), dir.path().join("b.svg"));
        symlink(&b, &a).unwrap();
        symlink(&a, &b).unwrap();
        let err = write(&a, b"x").unwrap_err();
        let Error::Io {
            ref path,
            ref source,
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!(path, &a);
        assert_eq!(source.raw_os_error(), Some(libc::ELOOP));
        assert!(err.to_string().contains("symbolic links"), "{err}");
        assert_eq!(names(dir.path()), ["a.svg", "b.svg"]);
        assert!(fs::symlink_metadata(&a).unwrap().file_type().is_symlink());
    }

    #[test]
    fn check_says_where_a_write_would_fail_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("file"), b"kept").unwrap();
        symlink("sub/made.dat", d.join("link.dat")).unwrap();
        symlink("gone/made.dat", d.join("broken.dat")).unwrap();
        for ok in ["new.dat", "file", "link.dat", "sub/x.dat"] {
            check(&d.join(ok)).unwrap();
        }
        for (bad, errno) in [
            ("no/such/x.dat", libc::ENOENT),
            ("file/x.dat", libc::ENOTDIR),
            ("sub", libc::EISDIR),
            ("broken.dat", libc::ENOENT),
        ] {
            match check(&d.join(bad)) {
                Err(Error::Io { path, source }) => {
                    assert_eq!(path, d.join(bad));
                    assert_eq!(source.raw_os_error(), Some(errno), "{bad}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(names(d), ["broken.dat", "file", "link.dat", "sub"]);
        assert_eq!(names(&d.join("sub")), Vec::<String>::new());
        assert_eq!(fs::read(d.join("file")).unwrap(), b"kept");
    }

    #[test]
    fn a_fifo_is_written_into_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.svg");
        // SAFETY: a valid NUL-terminated path and a mode.
        assert_eq!(unsafe { libc::mkfifo(c_path(&fifo).as_ptr(), 0o600) }, 0);
        let link = dir.path().join("link.svg");
        symlink(&fifo, &link).unwrap();
        for (path, bytes, ext) in [
            (&fifo, &b"direct"[..], None),
            (&link, b"linked", None),
            (&fifo, b"made", Some("png")),
        ] {
            // The reading end, opened first without blocking: the write then finds a reader
            // (and the bytes wait in the pipe) instead of blocking.
            let mut reader = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo)
                .unwrap();
            match ext {
                None => write(path, bytes).unwrap(),
                Some(ext) => write_with(path, ext, |tmp| {
                    fs::write(tmp, bytes).map_err(|source| Error::Io {
                        path: tmp.to_path_buf(),
                        source,
                    })
                })
                .unwrap(),
            }
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            assert_eq!(got, bytes);
            assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        }
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(names(dir.path()), ["link.svg", "pipe.svg"]);
    }

    #[test]
    fn a_link_into_proc_is_written_through() {
        // What `/dev/stdout` is: a link to `/proc/self/fd/1`, whose own link text is no
        // path ("pipe:[1234]"). Here the descriptor is a pipe of the test's own.
        let (mut reader, writer) = std::io::pipe().unwrap();
        let fd_path = PathBuf::from(format!("/proc/self/fd/{}", writer.as_raw_fd()));
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("stdout.svg");
        symlink(&fd_path, &link).unwrap();
        write(&link, b"one,").unwrap();
        write(&fd_path, b"two").unwrap();
        drop(writer);
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"one,two");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(names(dir.path()), ["stdout.svg"]);
    }

    #[test]
    fn a_device_is_written_into_not_replaced() {
        // A null device of the test's own (major 1, minor 3, as /dev/null), so that even a
        // broken write can only replace this one; making it needs root (CAP_MKNOD).
        let dir = tempfile::tempdir().unwrap();
        let null = dir.path().join("null");
        let dev = libc::makedev(1, 3);
        // SAFETY: a valid NUL-terminated path, a mode and a device number.
        if unsafe { libc::mknod(c_path(&null).as_ptr(), libc::S_IFCHR | 0o666, dev) } != 0 {
            eprintln!(
                "skipped: cannot make a device node here ({})",
                std::io::Error::last_os_error()
            );
            return;
        }
        let link = dir.path().join("out.svg");
        symlink(&null, &link).unwrap();
        write(&link, b"gone").unwrap();
        write(&null, b"gone").unwrap();
        let meta = fs::symlink_metadata(&null).unwrap();
        assert!(meta.file_type().is_char_device());
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&null).unwrap(), b"");
        assert_eq!(names(dir.path()), ["null", "out.svg"]);
    }
}
