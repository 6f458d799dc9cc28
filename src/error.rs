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
