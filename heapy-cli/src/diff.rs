//! `heapy diff new.json old.json [--by …] [--all] [--full] [--fit]`: guppy's A-B table of two
//! snapshots.

use std::path::PathBuf;

use clap::Args;
use heapy::{By, Diff, Heap};

use crate::error::Result;
use crate::fit::{self, Col};

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
    /// Print call sites in full (`--by site`): the function's whole name, where the table
    /// elides generic arguments nested in other arguments as `<…>`, and the file as the
    /// debug info records it. Other views print the same either way.
    #[arg(long)]
    full: bool,
    /// Fit the table to the terminal's width (else `COLUMNS`, else 100), wrapping long
    /// labels, instead of guppy's fixed columns.
    #[arg(long)]
    fit: bool,
}

pub(crate) fn run(a: DiffArgs) -> Result<()> {
    let new = Heap::load(&a.new)?;
    let old = Heap::load(&a.old)?;
    let by = a.by.unwrap_or(By::Kind);
    let d = new.by(by).diff(&old);
    let d = if a.all { d.all() } else { d };
    if a.fit {
        print!("{}", fitted(&d, by, a.all, a.full, fit::width()));
    } else {
        let text = if a.full {
            format!("{d:#}")
        } else {
            d.to_string()
        };
        print!("{}", fit::cli_words(&text));
    }
    Ok(())
}

/// `part` as a percentage of `whole`, as guppy's table computes "% of B".
fn pct(part: i64, whole: usize) -> f64 {
    if whole == 0 {
        match part {
            0 => 0.0,
            p if p > 0 => f64::INFINITY,
            _ => f64::NEG_INFINITY,
        }
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The same summary and rows as guppy's layout, as tables `width` wide (`by`: the view
/// the differences are grouped by; with `full`, each row's full label).
fn fitted(d: &Diff, by: By, all: bool, full: bool, width: u16) -> String {
    let mut out = String::from("Summary of difference operation (A-B).\n");
    let mut s = fit::table(
        &["", "Count", "Size", "% of B"],
        &[Col::Text, Col::Number, Col::Number, Col::Number],
        width,
    );
    s.add_row(vec![
        "A".into(),
        d.a_count().to_string(),
        d.a_size().to_string(),
        String::new(),
    ]);
    s.add_row(vec![
        "B".into(),
        d.b_count().to_string(),
        d.b_size().to_string(),
        String::new(),
    ]);
    s.add_row(vec![
        "A-B".into(),
        d.count().to_string(),
        d.size().to_string(),
        format!("{:.2}", d.pct_of_b()),
    ]);
    out.push_str(&fit::render(&s));
    out.push('\n');
    out.push_str(&format!(
        "Differences by {}, largest absolute size diffs first.\n",
        by.name()
    ));
    let mut t = fit::table(
        &[
            "Index",
            "Count",
            "Size",
            "Cumulative",
            "% of B",
            fit::label_header(by),
        ],
        &[
            Col::Number,
            Col::Number,
            Col::Number,
            Col::Number,
            Col::Number,
            Col::Wrap,
        ],
        width,
    );
    let rows = d.rows().len();
    let shown = if all { rows } else { rows.min(fit::PAGE) };
    for (i, r) in d.rows().take(shown).enumerate() {
        t.add_row(vec![
            i.to_string(),
            r.count().to_string(),
            r.size().to_string(),
            r.cumulative().to_string(),
            format!("{:.2}", pct(r.cumulative(), d.b_size())),
            if full { r.full_label() } else { r.label() }.to_string(),
        ]);
    }
    out.push_str(&fit::render(&t));
    out.push_str(&fit::more(rows - shown));
    out
}
