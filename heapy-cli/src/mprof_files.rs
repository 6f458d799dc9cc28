//! The recordings in the current directory: naming, `list`, `peak`, `clean`.

use std::path::{Path, PathBuf};

use clap::Args;
use heapy::mprof::Timeline;

use crate::error::{CliError, Result};

/// The name `mprof run` gives a recording started at unix time `unix` (UTC):
/// `mprofile_YYYYmmddHHMMSS.dat`.
pub(crate) fn default_name(unix: u64) -> PathBuf {
    let (y, mo, d, h, mi, s) = civil(unix);
    PathBuf::from(format!(
        "mprofile_{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}.dat"
    ))
}

/// UTC calendar date and time of a unix time (Howard Hinnant's days-from-civil, inverted).
fn civil(unix: u64) -> (u64, u64, u64, u64, u64, u64) {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y as u64,
        m as u64,
        d as u64,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

/// The recordings in `dir`, oldest first (their names sort by time).
pub(crate) fn recordings(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| CliError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("mprofile_") && n.ends_with(".dat"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The latest recording here, or an error saying there is none.
pub(crate) fn latest() -> Result<PathBuf> {
    recordings(Path::new("."))?
        .pop()
        .ok_or(CliError::NoRecording)
}

/// `heapy mprof list`: index, file, samples, peak and command of each recording, as a
/// table fitted to the terminal (long commands wrap).
pub(crate) fn list() -> Result<()> {
    use crate::fit::{self, Col};
    let mut t = fit::table(
        &["Index", "File", "Samples", "Peak MiB", "Command"],
        &[Col::Number, Col::Text, Col::Number, Col::Number, Col::Wrap],
        fit::width(),
    );
    for (i, p) in recordings(Path::new("."))?.iter().enumerate() {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        let row = match Timeline::load(p) {
            Ok(t) => [
                i.to_string(),
                name.into_owned(),
                t.mem().len().to_string(),
                format!("{:.3}", t.peak().map_or(0.0, |s| s.mib)),
                t.cmdline().unwrap_or("").to_string(),
            ],
            Err(e) => [
                i.to_string(),
                name.into_owned(),
                String::new(),
                String::new(),
                format!("(unreadable: {e})"),
            ],
        };
        t.add_row(row.to_vec());
    }
    print!("{}", fit::render(&t));
    Ok(())
}

#[derive(Args, Debug)]
pub(crate) struct PeakArgs {
    /// Recordings (.dat); the latest mprofile_*.dat here if none is given.
    files: Vec<PathBuf>,
}

/// `heapy mprof peak`: `file<TAB>peak MiB`, as mprof prints it.
pub(crate) fn peak(a: PeakArgs) -> Result<()> {
    let files = if a.files.is_empty() {
        vec![latest()?]
    } else {
        a.files
    };
    for f in files {
        let t = Timeline::load(&f)?;
        let peak = t.peak().ok_or_else(|| CliError::Format {
            path: f.clone(),
            problem: "no MEM samples, so no peak",
        })?;
        println!("{}\t{:.3} MiB", f.display(), peak.mib);
    }
    Ok(())
}

/// `heapy mprof clean`: removes every mprofile_*.dat here.
pub(crate) fn clean() -> Result<()> {
    for p in recordings(Path::new("."))? {
        std::fs::remove_file(&p).map_err(|source| CliError::Io {
            path: p.clone(),
            source,
        })?;
        println!("removed {}", p.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_utc_times() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(
            default_name(1_795_458_576),
            PathBuf::from("mprofile_20261123182936.dat")
        );
    }
}
