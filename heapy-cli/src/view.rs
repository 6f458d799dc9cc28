//! `heapy view snap.json [--by kind|site|size|thread|id] [--all] [--full] [--fit]
//! [--alloc|--peak]`:
//! a snapshot's table, or the tables of its allocation history.

use std::path::PathBuf;

use clap::Args;
use heapy::{By, Heap};

use crate::error::{CliError, Result};

use crate::fit::{self, Col};

/// Parses a view name for clap (the message lists the views this build knows).
pub(crate) fn parse_by(s: &str) -> std::result::Result<By, String> {
    s.parse::<By>().map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
pub(crate) struct ViewArgs {
    /// A snapshot file written by `Heap::dump`.
    snapshot: PathBuf,
    /// Group the objects by: kind, site, size, thread or id [default: the view it was
    /// dumped with].
    #[arg(long, value_parser = parse_by, value_name = "VIEW")]
    by: Option<By>,
    /// Show every row, not only the first ten.
    #[arg(long)]
    all: bool,
    /// Print call sites in full (`--by site`): the function's whole name, where the table
    /// elides generic arguments nested in other arguments as `<…>`, and the file as the
    /// debug info records it (a dependency's absolute path into cargo's registry, not
    /// `serde_json-1.0.154/src/de.rs`). Other views print the same either way.
    #[arg(long)]
    full: bool,
    /// Fit the table to the terminal's width (else `COLUMNS`, else 100), wrapping long
    /// labels, instead of guppy's fixed columns.
    #[arg(long)]
    fit: bool,
    /// Show every block allocated since the program started (freed ones included) instead
    /// of the live objects: where the allocation churn comes from (`--by kind` or `site`).
    #[arg(long, conflicts_with = "peak")]
    alloc: bool,
    /// Show what the heap held at its peak instead of the live objects (`--by kind` or
    /// `site`).
    #[arg(long)]
    peak: bool,
}

pub(crate) fn run(a: ViewArgs) -> Result<()> {
    let h = Heap::load(&a.snapshot)?;
    if a.alloc || a.peak {
        let hist = if a.alloc {
            h.allocations()
        } else {
            h.at_peak()
        };
        let Some(hist) = hist else {
            return Err(CliError::Format {
                path: a.snapshot,
                problem: "this snapshot has no allocation history (written by a heapy without \
                          it, by a sampling census or one built with history(false), or a \
                          subset of a heap): --alloc and --peak need it",
            });
        };
        let hist = match a.by {
            None | Some(By::Kind) => hist.bykind(),
            Some(By::Site) => hist.bysite(),
            Some(other) => {
                return Err(CliError::Usage(format!(
                    "--alloc and --peak group by kind or site, not by {}",
                    other.name()
                )))
            }
        };
        let hist = if a.all { hist.all() } else { hist };
        let text = if a.full {
            format!("{hist:#}")
        } else {
            hist.to_string()
        };
        print!("{}", fit::cli_words(&text));
        return Ok(());
    }
    let h = match a.by {
        Some(by) => h.by(by),
        None => h,
    };
    if a.fit {
        print!("{}", fitted(&h, a.all, a.full, fit::width()));
    } else {
        let h = if a.all { h.all() } else { h };
        let text = if a.full {
            format!("{h:#}")
        } else {
            h.to_string()
        };
        print!("{}", fit::cli_words(&text));
    }
    Ok(())
}

/// A percentage as a whole number, rounded half up as guppy's table rounds it.
fn whole(percent: f64) -> String {
    format!("{}", (percent + 0.5).floor())
}

/// The same rows as guppy's partition table, as a table `width` wide (with `full`, each
/// row's full label).
fn fitted(h: &Heap, all: bool, full: bool, width: u16) -> String {
    let rows: Vec<_> = h.rows().collect();
    let count: usize = rows.iter().map(|r| r.count()).sum();
    let size = rows.last().map_or(0, |r| r.cumulative());
    let mut out = format!("Partition of a set of {count} objects. Total size = {size} bytes.\n");
    if let Some(rate) = h.sample_rate() {
        out.push_str(&format!(
            "Figures are estimates from a byte-sampled heap (mean gap {rate} bytes).\n"
        ));
    }
    let mut t = fit::table(
        &[
            "Index",
            "Count",
            "%",
            "Size",
            "%",
            "Cumulative",
            "%",
            fit::label_header(h.view().unwrap_or_default()),
        ],
        &[
            Col::Number,
            Col::Number,
            Col::Number,
            Col::Number,
            Col::Number,
            Col::Number,
            Col::Number,
            Col::Wrap,
        ],
        width,
    );
    let shown = if all {
        rows.len()
    } else {
        rows.len().min(fit::PAGE)
    };
    for (i, r) in rows.iter().take(shown).enumerate() {
        t.add_row(vec![
            i.to_string(),
            r.count().to_string(),
            whole(r.count_percent()),
            r.size().to_string(),
            whole(r.size_percent()),
            r.cumulative().to_string(),
            whole(r.cumulative_percent()),
            if full { r.full_label() } else { r.label() }.to_string(),
        ]);
    }
    out.push_str(&fit::render(&t));
    out.push_str(&fit::more(rows.len() - shown));
    out
}
