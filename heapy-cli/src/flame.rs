//! `heapy flame <input> -o heap.svg`: a heap flame graph.

use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};
use clap::Args;

#[derive(Args, Debug)]
pub(crate) struct FlameArgs {
    /// Live bytes by stack: folded stacks (`a;b;c 123` lines, as `Heap::folded()` writes
    /// them) or a heapy snapshot.
    input: PathBuf,
    /// The SVG to write.
    #[arg(short, long, default_value = "heap.svg")]
    output: PathBuf,
    /// The picture's title [default: "Live heap: <bytes> bytes (<input>)", or
    /// "Allocated: ..." / "Heap at its peak: ..." with --alloc / --peak].
    #[arg(long)]
    title: Option<String>,
    /// Every byte allocated since the program started (freed ones included), from a
    /// snapshot's allocation history: where the churn comes from.
    #[arg(long, conflicts_with = "peak")]
    alloc: bool,
    /// The heap at its peak, from a snapshot's allocation history (memray's
    /// high-watermark flame graph).
    #[arg(long)]
    peak: bool,
}

/// Reads `path` as folded stacks, or as a heapy snapshot (JSON, read with `Heap::load`)
/// folded by `Heap::folded`. The one place that knows the input formats.
fn load_folded(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| CliError::Format {
        path: path.to_path_buf(),
        problem: "not folded stacks or a heapy snapshot (not text)",
    })?;
    if text.trim_start().starts_with('{') {
        return Ok(heapy::Heap::load(path)?.folded());
    }
    Ok(text)
}

/// The folded stacks of a snapshot's history: every byte allocated, or the heap at its peak.
fn history_folded(path: &Path, alloc: bool) -> Result<String> {
    let h = heapy::Heap::load(path)?;
    let hist = if alloc { h.allocations() } else { h.at_peak() };
    match hist {
        Some(hist) => Ok(hist.folded()),
        None => Err(CliError::Format {
            path: path.to_path_buf(),
            problem: "this snapshot has no allocation history (written by a heapy without it, \
                      by a sampling census or one built with history(false), or a subset of a \
                      heap): --alloc and --peak need it",
        }),
    }
}

pub(crate) fn run(a: FlameArgs) -> Result<()> {
    let folded = if a.alloc || a.peak {
        history_folded(&a.input, a.alloc)?
    } else {
        load_folded(&a.input)?
    };
    let what = if a.alloc {
        "Allocated"
    } else if a.peak {
        "Heap at its peak"
    } else {
        "Live heap"
    };
    let total: u64 = folded
        .lines()
        .filter_map(|l| l.trim().rsplit_once(' ')?.1.parse::<u64>().ok())
        .fold(0, u64::saturating_add);
    let title = a
        .title
        .unwrap_or_else(|| format!("{what}: {total} bytes ({})", a.input.display()));
    heapy::flamegraph(&folded, &title, &a.output)?;
    eprintln!("heapy: wrote {}", a.output.display());
    Ok(())
}
