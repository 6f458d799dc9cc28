//! `heapy diff new.json old.json [--by …] [--all]`: guppy's A-B table of two snapshots.

use std::path::PathBuf;

use clap::Args;
use heapy::{By, Heap};

use crate::error::Result;

#[derive(Args, Debug)]
pub(crate) struct DiffArgs {
    /// The newer snapshot (A).
    new: PathBuf,
    /// The older snapshot (B).
    old: PathBuf,
    /// Group the differences by: kind, site, size, thread or id [default: kind].
    #[arg(long, value_parser = super::view::parse_by, value_name = "VIEW")]
    by: Option<By>,
    /// Show every row, not only the first ten.
    #[arg(long)]
    all: bool,
}

pub(crate) fn run(a: DiffArgs) -> Result<()> {
    let new = Heap::load(&a.new)?;
    let old = Heap::load(&a.old)?;
    let d = new.by(a.by.unwrap_or(By::Kind)).diff(&old);
    let d = if a.all { d.all() } else { d };
    print!("{d}");
    Ok(())
}
