//! `heapy`: the command-line companion of the heapy crate.
//!
//! Each subcommand lives in a file of its own; adding one is a variant in [`Command`] and a
//! line in [`run`].

mod diff;
mod error;
mod fit;
mod flame;
mod mprof;
mod mprof_files;
mod mprof_plot;
mod mprof_run;
mod proc;
mod report;
mod view;

use clap::{Parser, Subcommand};

/// A heap census for Rust: snapshots, diffs, timelines, plots and flame graphs of a program's memory.
#[derive(Parser, Debug)]
#[command(name = "heapy", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Memory over time, as memory_profiler's mprof: run, plot, list, peak, clean.
    #[command(subcommand)]
    Mprof(mprof::Mprof),
    /// Draw a heap flame graph (SVG) of live bytes by allocation stack.
    Flame(flame::FlameArgs),
    /// Print a snapshot file's table (guppy's partition), as `Heap::dump` wrote it.
    View(view::ViewArgs),
    /// Print guppy's difference table (A-B) of two snapshot files.
    Diff(diff::DiffArgs),
    /// Write an interactive HTML report of a snapshot file (one self-contained page).
    Report(report::ReportArgs),
}

fn run(cli: Cli) -> error::Result<i32> {
    match cli.command {
        Command::Mprof(m) => mprof::run(m),
        Command::Flame(f) => flame::run(f).map(|()| 0),
        Command::View(v) => view::run(v).map(|()| 0),
        Command::Diff(d) => diff::run(d).map(|()| 0),
        Command::Report(r) => report::run(r).map(|()| 0),
    }
}

fn main() {
    // A closed pipe (`heapy view --all big.json | head -1`) ends the command quietly, by
    // SIGPIPE, as it ends cat or grep; Rust ignores SIGPIPE by default, so println! would
    // panic on the broken pipe instead.
    // SAFETY: setting a signal's disposition to the default has no preconditions; it is
    // done before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("heapy: {e}");
            std::process::exit(1);
        }
    }
}
