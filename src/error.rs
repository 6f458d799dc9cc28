//! heapy's error type, and the parse errors of [`By`](crate::By) and
//! [`Stacks`](crate::Stacks).

use std::path::PathBuf;

/// What can go wrong in heapy's fallible calls: one variant per failure a caller can act on.
/// Errors that come from the system or another library keep it as their
/// [`source`](std::error::Error::source).
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
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `theone()` on a set that does not hold exactly one object.
    #[error("theone() needs a set of exactly one object, this one has {count}")]
    NotOne {
        /// How many objects the set holds.
        count: usize,
    },
    /// A row index past the end of a partition ([`Heap::try_row`](crate::Heap::try_row)).
    #[error("row {index} does not exist: the partition has {rows} rows")]
    NoSuchRow {
        /// The index asked for.
        index: usize,
        /// How many rows there are.
        rows: usize,
    },
    /// Reading or writing a file failed; the system's error is the source.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A file is not in the format its reader expects (an mprof `.dat` timeline, folded
    /// stacks), or is damaged.
    #[error("{}: {problem}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A file given to [`Heap::load`](crate::Heap::load) is not a heapy snapshot (not JSON,
    /// or JSON of another kind).
    #[error("{}: not a heapy snapshot ({problem})", path.display())]
    NotASnapshot {
        /// The file.
        path: PathBuf,
        /// What it looks like instead.
        problem: String,
    },
    /// A heapy snapshot that ends before its end (a copy or a write cut short).
    #[error("{}: truncated heapy snapshot (the file ends before its end)", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
    },
    /// A heapy snapshot whose contents were damaged (its checksum does not match, or its
    /// body does not read as a snapshot).
    #[error("{}: corrupt heapy snapshot ({problem})", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A heapy snapshot written by a newer heapy, in a format version this build cannot read.
    #[error(
        "{}: heapy snapshot format version {version} is newer than this heapy reads \
         (up to {supported}); upgrade heapy",
        path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The file's format version.
        version: u64,
        /// The newest version this build reads.
        supported: u64,
    },
    /// A path to write to that does not end in a file name (such as `/` or `dir/..`).
    #[error("{}: not a file name to write to", path.display())]
    NotAFileName {
        /// The path given.
        path: PathBuf,
    },
    /// heapy could not encode what it was asked to write (a snapshot's JSON, DHAT's JSON, a
    /// compressed pprof profile); the encoder's error is the source.
    #[error("cannot encode the {what}: {source}")]
    Encode {
        /// What was being encoded: `"snapshot"`, `"DHAT JSON"`, `"pprof profile"`.
        what: &'static str,
        /// What the encoder said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// `Timeline::plot` (feature `plot`) was given a file that is neither
    /// `.svg` nor `.png`.
    #[error("{}: plots are written as .svg or .png", path.display())]
    UnsupportedPlotFormat {
        /// The file asked for.
        path: PathBuf,
    },
    /// `Timeline::plot` (feature `plot`) on a timeline that cannot be drawn:
    /// it has no MEM samples, or its figures are too far apart for finite axes.
    #[error("{}: {reason}", path.display())]
    CannotPlot {
        /// The plot that was not written.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// Drawing a plot failed; the plotting library's error is the source.
    #[error("{}: drawing the plot failed: {source}", path.display())]
    Draw {
        /// The plot that was not written.
        path: PathBuf,
        /// What the plotting library said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// `heapy::serve` (feature `serve`) could not listen on the address it was given (not an
    /// address, in use, not this host's, no permission).
    #[error("cannot serve on {addr}: {source}")]
    Serve {
        /// The address as given.
        addr: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// [`Recorder::start`](crate::Recorder::start) while another recorder runs (there is one
    /// timeline per process).
    #[error("a Recorder is already running (writing {})", path.display())]
    RecorderRunning {
        /// The file the running recorder writes.
        path: PathBuf,
    },
    /// A recorder was stopped that no longer had a timeline to finish.
    #[error("no Recorder is running")]
    NotRecording,
    /// A view name that [`By`](crate::By) does not know (from `str::parse`, converted by `?`).
    #[error(transparent)]
    UnknownView(#[from] ParseByError),
    /// A stacks mode that [`Stacks`](crate::Stacks) does not know (from `str::parse`,
    /// converted by `?`).
    #[error(transparent)]
    UnknownStacks(#[from] ParseStacksError),
    /// The object graph (unreachable objects, referrers, paths, retained sizes) cannot be
    /// built because this process may not read its own memory: `process_vm_readv` is denied
    /// (a seccomp filter, as in hardened containers or under systemd's `SystemCallFilter=`),
    /// and so is the fallback, `pread` on `/proc/self/mem` (not mounted, denied, or out of
    /// descriptors). heapy does not guess: without reading memory it cannot tell a reachable
    /// object from a leak. `proc_mem` is the source.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// match heapy::hpy().try_heapu() {
    ///     Ok(leaks) => println!("{leaks}"),
    ///     Err(e @ heapy::Error::MemoryUnreadable { .. }) => eprintln!("no leak check: {e}"),
    ///     Err(e) => panic!("{e}"),
    /// }
    /// ```
    #[error(
        "heapy cannot read this process's memory, so it cannot tell reachable objects from \
         leaks: process_vm_readv: {vm_readv}; /proc/self/mem: {proc_mem}"
    )]
    #[non_exhaustive]
    MemoryUnreadable {
        /// What `process_vm_readv` said.
        vm_readv: std::io::Error,
        /// What `/proc/self/mem` said (opening it, or reading it).
        #[source]
        proc_mem: std::io::Error,
    },
    /// [`assert_no_leaks!`](crate::assert_no_leaks) or [`check_no_leaks`](crate::check_no_leaks):
    /// objects allocated in the scope are still live after it.
    #[error("{count} objects ({size} bytes) allocated in the scope are still live:\n{table}")]
    Leaked {
        /// How many objects are left.
        count: usize,
        /// Their bytes.
        size: usize,
        /// The table of the objects left (by kind, and by call site when sites are known).
        table: String,
    },
    /// [`assert_allocations!`](crate::assert_allocations),
    /// [`assert_no_alloc!`](crate::assert_no_alloc) or their `check_` forms: the scope
    /// allocated more blocks than allowed.
    #[error(
        "{blocks} blocks ({bytes} bytes) allocated in the scope, over the limit of {limit} \
         blocks; the scope's allocations by call site:\n{table}"
    )]
    TooManyAllocations {
        /// Blocks the scope allocated (freed ones included).
        blocks: usize,
        /// Their bytes.
        bytes: usize,
        /// The most blocks allowed.
        limit: usize,
        /// The table of the scope's allocations by call site (by kind when no site is
        /// known).
        table: String,
    },
    /// [`assert_memory_limit!`](crate::assert_memory_limit) or
    /// [`check_memory_limit`](crate::check_memory_limit): the scope's peak went over the limit.
    #[error(
        "the scope's peak was {peak} bytes, over the limit of {limit} bytes \
         ({} bytes over); objects of the scope still live at its end:\n{table}",
        peak.saturating_sub(*limit)
    )]
    OverLimit {
        /// The limit, in bytes.
        limit: u64,
        /// The scope's peak live bytes.
        peak: u64,
        /// The table of the scope's objects still live at its end.
        table: String,
    },
}

/// The error of parsing a [`By`](crate::By) from a view name it does not know
/// (`str::parse::<By>`).
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let err = "colour".parse::<heapy::By>().unwrap_err();
/// assert_eq!(err.input(), "colour");
/// assert_eq!(err.to_string(), "unknown view 'colour': expected one of kind, id, size, thread, site");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown view '{input}': expected one of {}", crate::By::names())]
#[non_exhaustive]
pub struct ParseByError {
    input: String,
}

impl ParseByError {
    pub(crate) fn new(input: &str) -> ParseByError {
        ParseByError {
            input: input.to_owned(),
        }
    }

    /// The text that did not parse.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert_eq!("Kind".parse::<heapy::By>().unwrap_err().input(), "Kind");
    /// ```
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// The error of parsing a [`Stacks`](crate::Stacks) mode it does not know
/// (`str::parse::<Stacks>`).
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let err = "sample:0".parse::<heapy::Stacks>().unwrap_err();
/// assert_eq!(err.input(), "sample:0");
/// assert!(err.to_string().starts_with("unknown stacks mode 'sample:0': expected off, auto"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown stacks mode '{input}': expected off, auto, fp, unwind, sample or sample:<bytes>")]
#[non_exhaustive]
pub struct ParseStacksError {
    input: String,
}

impl ParseStacksError {
    pub(crate) fn new(input: &str) -> ParseStacksError {
        ParseStacksError {
            input: input.to_owned(),
        }
    }

    /// The text that did not parse.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert_eq!("sideways".parse::<heapy::Stacks>().unwrap_err().input(), "sideways");
    /// ```
    pub fn input(&self) -> &str {
        &self.input
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_keep_their_source() {
        let e = Error::Io {
            path: "x.json".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let src = e.source().expect("a source");
        assert!(src.downcast_ref::<std::io::Error>().is_some());
        assert!(e.to_string().starts_with("x.json: "));
    }

    #[test]
    fn parse_errors_convert_with_question_mark() {
        fn view(s: &str) -> Result<crate::By> {
            Ok(s.parse()?)
        }
        let e = view("colour").unwrap_err();
        assert!(matches!(&e, Error::UnknownView(p) if p.input() == "colour"));
        assert_eq!(
            e.to_string(),
            "unknown view 'colour': expected one of kind, id, size, thread, site"
        );
    }
}
