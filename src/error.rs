//! heapy's error type.

use std::fmt;
use std::path::PathBuf;

/// What can go wrong in heapy's fallible calls.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let empty = heapy::hpy().mark().heap();
/// match empty.theone() {
///     Err(heapy::Error::NotOne { count }) => assert_eq!(count, 0),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `theone()` on a set that does not hold exactly one object.
    NotOne {
        /// How many objects the set holds.
        count: usize,
    },
    /// A row index past the end of a partition.
    NoSuchRow {
        /// The index asked for.
        index: usize,
        /// How many rows there are.
        rows: usize,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file is not a heapy file of a version this build reads, or is damaged.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// An option or argument heapy does not understand.
    Usage(String),
    /// A file given to [`Heap::load`](crate::Heap::load) is not a heapy snapshot (not JSON,
    /// or JSON of another kind).
    NotASnapshot {
        /// The file.
        path: PathBuf,
        /// What it looks like instead.
        problem: String,
    },
    /// A heapy snapshot that ends before its end (a copy or a write cut short).
    Truncated {
        /// The file.
        path: PathBuf,
    },
    /// A heapy snapshot whose contents were damaged (its checksum does not match, or its
    /// body does not read as a snapshot).
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A heapy snapshot written by a newer heapy, in a format version this build cannot read.
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The file's format version.
        version: u64,
        /// The newest version this build reads.
        supported: u64,
    },
    /// [`assert_no_leaks!`](crate::assert_no_leaks) or [`check_no_leaks`](crate::check_no_leaks):
    /// objects allocated in the scope are still live after it.
    Leaked {
        /// How many objects are left.
        count: usize,
        /// Their bytes.
        size: usize,
        /// The table of the objects left (by kind, and by call site when sites are known).
        table: String,
    },
    /// [`assert_memory_limit!`](crate::assert_memory_limit) or
    /// [`check_memory_limit`](crate::check_memory_limit): the scope's peak went over the limit.
    OverLimit {
        /// The limit, in bytes.
        limit: u64,
        /// The scope's peak live bytes.
        peak: u64,
        /// The table of the scope's objects still live at its end.
        table: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotOne { count } => {
                write!(
                    f,
                    "theone() needs a set of exactly one object, this one has {count}"
                )
            }
            Error::NoSuchRow { index, rows } => {
                write!(
                    f,
                    "row {index} does not exist: the partition has {rows} rows"
                )
            }
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Format { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Usage(msg) => f.write_str(msg),
            Error::NotASnapshot { path, problem } => {
                write!(f, "{}: not a heapy snapshot ({problem})", path.display())
            }
            Error::Truncated { path } => write!(
                f,
                "{}: truncated heapy snapshot (the file ends before its end)",
                path.display()
            ),
            Error::Corrupt { path, problem } => {
                write!(f, "{}: corrupt heapy snapshot ({problem})", path.display())
            }
            Error::UnsupportedVersion {
                path,
                version,
                supported,
            } => write!(
                f,
                "{}: heapy snapshot format version {version} is newer than this heapy reads \
                 (up to {supported}); upgrade heapy",
                path.display()
            ),
            Error::Leaked { count, size, table } => write!(
                f,
                "{count} objects ({size} bytes) allocated in the scope are still live:\n{table}"
            ),
            Error::OverLimit { limit, peak, table } => write!(
                f,
                "the scope's peak was {peak} bytes, over the limit of {limit} bytes \
                 ({} bytes over); objects of the scope still live at its end:\n{table}",
                peak.saturating_sub(*limit)
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// heapy's `Result`.
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// fn biggest_size() -> heapy::Result<usize> {
///     let b = Box::new([0u8; 12]);
///     let mark = heapy::hpy().mark();
///     let c = Box::new([0u8; 34]);
///     let size = mark.heap().theone()?.size();
///     drop((b, c));
///     Ok(size)
/// }
/// assert_eq!(biggest_size().unwrap(), 34);
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
