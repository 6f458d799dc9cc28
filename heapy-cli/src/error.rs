//! The command's errors: heapy's own, and the command-line problems heapy's library has no
//! word for. Each message names the file or the option at fault.

use std::path::PathBuf;

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// From the heapy library (loading a snapshot or timeline, plotting, ...).
    #[error(transparent)]
    Heapy(#[from] heapy::Error),
    /// Reading, writing or running a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `mprof run -o`: the recording could not be written there (checked before the
    /// program starts).
    #[error(
        "{}: cannot write the recording there, so the program was not started: {source}",
        path.display()
    )]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file is not what the subcommand reads.
    #[error("{}: {problem}", path.display())]
    Format {
        path: PathBuf,
        problem: &'static str,
    },
    /// No recording to plot or to take the peak of.
    #[error(
        "no mprofile_*.dat file here: record one with `heapy mprof run -- <cmd>` or name a file"
    )]
    NoRecording,
    /// Options that do not go together.
    #[error("{0}")]
    Usage(String),
    /// `--interval` out of range.
    #[error("--interval must be a positive number of seconds up to a day (86400), not {0}")]
    Interval(f64),
}

/// The command's `Result`.
pub(crate) type Result<T, E = CliError> = std::result::Result<T, E>;
