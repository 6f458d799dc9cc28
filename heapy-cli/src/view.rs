//! `heapy view snap.json [--by kind|site|size|thread|id] [--all]`: a snapshot's table.

use std::path::PathBuf;

use clap::Args;
use heapy::{By, Heap};

use crate::error::Result;

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
}

pub(crate) fn run(a: ViewArgs) -> Result<()> {
    let h = Heap::load(&a.snapshot)?;
    let h = match a.by {
        Some(by) => h.by(by),
        None => h,
    };
    let h = if a.all { h.all() } else { h };
    print!("{h}");
    Ok(())
}
