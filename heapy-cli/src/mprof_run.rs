//! `heapy mprof run -- <cmd>`: run a program and record its memory over time.
//!
//! The program gets `HEAPY_MPROF=<temporary file>`: if it uses heapy's `Census`, heapy's
//! recorder starts inside it and writes the exact heap (MEM) and its RSS. Meanwhile this
//! command samples the program's RSS from outside. When the program exits, the recording is
//! the program's own file if it wrote one, else the RSS samples (as mprof does), with the
//! children's memory added (`--include-children`) or as CHLD lines (`--multiprocess`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;

use crate::error::{CliError, Result};
use crate::{mprof_files, proc};

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Seconds between samples.
    #[arg(short = 'T', long, default_value_t = 0.1)]
    interval: f64,
    /// Add the RSS of the program's child processes to its own (RSS recordings).
    #[arg(short = 'C', long)]
    include_children: bool,
    /// Record each child process's RSS as a line of its own (CHLD).
    #[arg(short = 'M', long)]
    multiprocess: bool,
    /// The recording to write [default: mprofile_<YYYYmmddHHMMSS>.dat].
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The program and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

const MIB: f64 = 1024.0 * 1024.0;

pub(crate) fn run(a: RunArgs) -> Result<i32> {
    /// The longest sampling interval: a day.
    const LONGEST: Duration = Duration::from_secs(24 * 3600);
    let interval = match Duration::try_from_secs_f64(a.interval) {
        Ok(d) if !d.is_zero() && d <= LONGEST => d,
        _ => return Err(CliError::Interval(a.interval)),
    };
    let out = a
        .output
        .clone()
        .unwrap_or_else(|| mprof_files::default_name(unix_now() as u64));
    check_output(&out)?;
    let inner = temp_beside(&out);
    let _ = std::fs::remove_file(&inner);
    let program = &a.command[0];
    let mut child = Command::new(program)
        .args(&a.command[1..])
        .env("HEAPY_MPROF", &inner)
        .env("HEAPY_MPROF_INTERVAL", a.interval.to_string())
        .spawn()
        .map_err(|source| CliError::Io {
            path: PathBuf::from(program),
            source,
        })?;
    let pid = child.id();
    let mut rss = String::new();
    let mut chld = String::new();
    let status = loop {
        let next = Instant::now() + interval;
        let t = unix_now();
        if let Some(mut bytes) = proc::rss_bytes(pid) {
            if a.include_children || a.multiprocess {
                for c in proc::descendants(pid) {
                    let Some(b) = proc::rss_bytes(c) else {
                        continue;
                    };
                    if a.include_children {
                        bytes += b;
                    }
                    if a.multiprocess {
                        let _ = writeln!(chld, "CHLD {c} {:.6} {t:.4}", b as f64 / MIB);
                    }
                }
            }
            let _ = writeln!(rss, "MEM {:.6} {t:.4}", bytes as f64 / MIB);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => {
                return Err(CliError::Io {
                    path: PathBuf::from(program),
                    source,
                })
            }
        }
        // Sleep until the next sample, in short steps, so that the end of the program is
        // noticed at once even with a long interval (the loop then takes its last sample).
        loop {
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() || !matches!(child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    };

    let cmdline = a.command.join(" ");
    let own = std::fs::read_to_string(&inner).ok();
    let _ = std::fs::remove_file(&inner);
    let (mut text, what) = match own {
        // The program recorded its exact heap: keep its file (MEM heap, RSS, FUNC).
        Some(t) if t.lines().any(|l| l.starts_with("MEM ")) => {
            let body: String = t
                .lines()
                .filter(|l| !l.starts_with("CMDLINE "))
                .map(|l| format!("{l}\n"))
                .collect();
            (format!("CMDLINE {cmdline}\n{body}"), "exact heap")
        }
        _ => (format!("CMDLINE {cmdline}\n{rss}"), "RSS"),
    };
    text.push_str(&chld);
    write_recording(&out, &text)?;
    // Counted in the text written, not read back: `out` may be a FIFO.
    let samples = text.lines().filter(|l| l.starts_with("MEM ")).count();
    eprintln!(
        "heapy: wrote {} ({samples} samples of {what})",
        out.display()
    );
    Ok(exit_code(program, status))
}

/// The exit status a shell gives for `status`: the program's code, or 128 + N (with the
/// signal named on standard error, as a shell names it) if signal N killed it.
fn exit_code(program: &str, status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return code;
    }
    let Some(sig) = status.signal() else {
        return 1;
    };
    let core = if status.core_dumped() {
        " (core dumped)"
    } else {
        ""
    };
    eprintln!(
        "heapy: {program} was killed by signal {sig} ({}){core}",
        signal_name(sig)
    );
    128 + sig
}

/// The name of signal `sig` (`SIGKILL`), or `signal N` for one without a common name.
fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// Checks, before the program starts, that the recording can be written at `out` (as
/// heapy writes it: its directory, or that of the file a link names, takes a new file, and
/// `out` is not a directory); otherwise the error names `out`, rather than the program
/// running to its end for nothing.
fn check_output(out: &Path) -> Result<()> {
    match heapy::__private::check_file(out) {
        Err(heapy::Error::Io { source, .. }) => Err(CliError::Output {
            path: out.to_path_buf(),
            source,
        }),
        other => Ok(other?),
    }
}

/// The file the program itself writes, beside the recording.
fn temp_beside(out: &Path) -> PathBuf {
    let name = out.file_name().map_or_else(
        || "mprofile.dat".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    out.with_file_name(format!(".{name}.heapy-child-{}.dat", std::process::id()))
}

/// Writes the recording as heapy writes every file: through a temporary file and a rename
/// (a failure never leaves half a file over an older recording of the same name), through
/// a symbolic link to the file it names, into a FIFO or device.
fn write_recording(out: &Path, text: &str) -> Result<()> {
    Ok(heapy::__private::write_file(out, text.as_bytes())?)
}
