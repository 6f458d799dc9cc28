//! `heapy report SNAPSHOT [--base OLD] [--mprof FILE.dat] -o report.html`: the interactive
//! HTML report of a snapshot file.

use std::path::PathBuf;

use clap::Args;
use heapy::{mprof::Timeline, Heap, Report};

use crate::error::{CliError, Result};

#[derive(Args, Debug)]
pub(crate) struct ReportArgs {
    /// A snapshot file written by `Heap::dump`.
    snapshot: PathBuf,
    /// An older snapshot: the report shows the difference (A-B, growth in red).
    #[arg(long, value_name = "OLD")]
    base: Option<PathBuf>,
    /// An mprof `.dat` recording (`heapy mprof run`, `HEAPY_MPROF`): memory over time.
    #[arg(long, value_name = "FILE.dat")]
    mprof: Option<PathBuf>,
    /// The HTML file to write (one self-contained page).
    #[arg(short, long, default_value = "report.html")]
    output: PathBuf,
}

pub(crate) fn run(a: ReportArgs) -> Result<()> {
    // Every input is read before anything is written: a bad file leaves no report behind
    // (and an old report at the output path whole).
    let heap = Heap::load(&a.snapshot)?;
    let base = a.base.as_ref().map(Heap::load).transpose()?;
    let timeline = a.mprof.as_ref().map(Timeline::load).transpose()?;
    let taken = std::fs::metadata(&a.snapshot)
        .and_then(|m| m.modified())
        .map_err(|source| CliError::Io {
            path: a.snapshot.clone(),
            source,
        })?;
    let taken = taken
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut report = Report::new(&heap)
        .program(a.snapshot.display().to_string())
        .taken_at(taken);
    if let Some(b) = &base {
        report = report.base(b);
    }
    if let Some(t) = &timeline {
        report = report.timeline(t);
    }
    let html = report.html();
    heapy::__private::write_file(&a.output, html.as_bytes())?;
    eprintln!(
        "heapy: wrote {} ({} bytes, {} objects)",
        a.output.display(),
        html.len(),
        heap.count()
    );
    Ok(())
}
