//! `heapy mprof plot [file] -o plot.svg|png`.

use std::path::PathBuf;

use clap::Args;
use heapy::mprof::Timeline;

use crate::error::Result;

use crate::mprof_files;

#[derive(Args, Debug)]
pub(crate) struct PlotArgs {
    /// The recording (.dat); the latest mprofile_*.dat here if not given.
    file: Option<PathBuf>,
    /// Where to draw: a .svg or .png file [default: the recording's name with .svg].
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub(crate) fn run(a: PlotArgs) -> Result<()> {
    let file = match a.file {
        Some(f) => f,
        None => mprof_files::latest()?,
    };
    let t = Timeline::load(&file)?;
    let out = a.output.unwrap_or_else(|| file.with_extension("svg"));
    t.plot(&out)?;
    eprintln!("heapy: plotted {} to {}", file.display(), out.display());
    Ok(())
}
