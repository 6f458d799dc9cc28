//! `heapy mprof ...`: the subcommands of memory_profiler's `mprof`.

use clap::Subcommand;

use crate::{mprof_files, mprof_plot, mprof_run};

#[derive(Subcommand, Debug)]
pub(crate) enum Mprof {
    /// Run a command and record its memory into mprofile_<time>.dat: the exact heap when
    /// the program uses heapy's Census, its RSS otherwise.
    Run(mprof_run::RunArgs),
    /// Plot a recording (the latest mprofile_*.dat here by default) as SVG or PNG.
    Plot(mprof_plot::PlotArgs),
    /// List the recordings (mprofile_*.dat) in the current directory.
    List,
    /// Print the peak memory of recordings (the latest by default).
    Peak(mprof_files::PeakArgs),
    /// Remove the recordings (mprofile_*.dat) in the current directory.
    Clean,
}

/// Runs an mprof subcommand; returns the process exit code.
pub(crate) fn run(m: Mprof) -> crate::error::Result<i32> {
    match m {
        Mprof::Run(a) => mprof_run::run(a),
        Mprof::Plot(a) => mprof_plot::run(a).map(|()| 0),
        Mprof::List => mprof_files::list().map(|()| 0),
        Mprof::Peak(a) => mprof_files::peak(a).map(|()| 0),
        Mprof::Clean => mprof_files::clean().map(|()| 0),
    }
}
