//! Text tables in guppy's layout (see shared/reference/guppy3-output.txt).
//!
//! Row format `%6d %6d %3d %8d %3d %9d %3d <label>`; percentages are rounded to whole
//! numbers, cumulative columns run from the first row.

use std::fmt::{self, Write};

use super::partition::Partition;
use super::view::{By, View};

/// Rows shown at a time by every table (guppy shows ten, then `<N more rows. ...>`): the
/// partitions, diffs, paths and retained sizes.
pub(crate) const PAGE: usize = 10;

/// `part` as a whole-number percentage of `whole`, rounded half up (guppy's rounding).
pub(crate) fn pct(part: usize, whole: usize) -> usize {
    if whole == 0 {
        0
    } else {
        ((part as u128 * 200 + whole as u128) / (whole as u128 * 2)) as usize
    }
}

fn pct1(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// What to print of a partition.
pub(crate) struct Table<'a> {
    pub by: View,
    pub part: &'a Partition,
    pub count: usize,
    pub size: usize,
    /// First row to show.
    pub start: usize,
    /// Show every row from `start`.
    pub all: bool,
    /// For `By::Id`: the set's kind (`None` for a mixed set), and each object's kind label.
    pub set_kind: Option<&'a str>,
    pub id_kinds: Option<&'a [&'a str]>,
    /// A note printed after the title (for example that figures are estimates).
    pub note: Option<&'a str>,
    /// The first line, when not guppy's "Partition of a set of ..." (history tables).
    pub title: Option<&'a str>,
    /// Print each row's full label (the alternate form, `{:#}`).
    pub full: bool,
}

impl Table<'_> {
    fn shown(&self) -> std::ops::Range<usize> {
        let n = self.part.rows.len();
        let start = self.start.min(n);
        let end = if self.all { n } else { (start + PAGE).min(n) };
        start..end
    }

    fn footer(&self, out: &mut impl Write, end: usize) -> fmt::Result {
        let left = self.part.rows.len() - end;
        if left > 0 {
            writeln!(out, "<{left} more rows. Type e.g. '.more()' to view.>")?;
        }
        Ok(())
    }

    pub(crate) fn write(&self, out: &mut impl Write) -> fmt::Result {
        if self.by == By::Id {
            return self.write_ids(out);
        }
        match self.title {
            Some(t) => writeln!(out, "{t}")?,
            None => writeln!(
                out,
                "Partition of a set of {} objects. Total size = {} bytes.",
                self.count, self.size
            )?,
        }
        if let Some(note) = self.note {
            writeln!(out, "{note}")?;
        }
        writeln!(
            out,
            " Index  Count   %     Size   % Cumulative  % {}",
            self.by.header()
        )?;
        let range = self.shown();
        let mut cum: usize = self.part.rows[..range.start]
            .iter()
            .fold(0, |c, r| c.saturating_add(r.size));
        for (i, r) in self.part.rows[range.clone()].iter().enumerate() {
            cum = cum.saturating_add(r.size);
            let label: std::borrow::Cow<str> = if self.by == By::Size {
                format!("{:>9}", r.label).into()
            } else if self.full {
                r.full.as_deref().unwrap_or(&r.label).into()
            } else {
                r.label.as_str().into()
            };
            writeln!(
                out,
                "{:6} {:6} {:3} {:8} {:3} {:9} {:3} {}",
                range.start + i,
                r.count,
                pct(r.count, self.count),
                r.size,
                pct(r.size, self.size),
                cum,
                pct(cum, self.size),
                label
            )?;
        }
        self.footer(out, range.end)
    }

    fn write_ids(&self, out: &mut impl Write) -> fmt::Result {
        writeln!(
            out,
            "Set of {} <{}> objects. Total size = {} bytes.",
            self.count,
            self.set_kind.unwrap_or("mixed"),
            self.size
        )?;
        if let Some(note) = self.note {
            writeln!(out, "{note}")?;
        }
        let mixed = self.set_kind.is_none();
        writeln!(
            out,
            " Index     Size   %   Cumulative  %   Address{}",
            if mixed { "        Kind" } else { "" }
        )?;
        let range = self.shown();
        let mut cum: usize = self.part.rows[..range.start]
            .iter()
            .fold(0, |c, r| c.saturating_add(r.size));
        for (i, r) in self.part.rows[range.clone()].iter().enumerate() {
            cum = cum.saturating_add(r.size);
            write!(
                out,
                "{:6} {:8} {:5.1} {:9} {:5.1} ",
                range.start + i,
                r.size,
                pct1(r.size, self.size),
                cum,
                pct1(cum, self.size),
            )?;
            match self.id_kinds {
                Some(kinds) if mixed => writeln!(out, "{:<14} {}", r.label, kinds[r.key as usize])?,
                _ => writeln!(out, "{}", r.label)?,
            }
        }
        self.footer(out, range.end)
    }
}

#[cfg(test)]
mod tests {
    use super::pct;

    #[test]
    fn percentages_round_like_guppy() {
        // Figures from shared/reference/guppy3-output.txt.
        assert_eq!(pct(300, 1266), 24);
        assert_eq!(pct(28800, 108270), 27);
        assert_eq!(pct(106898, 108270), 99);
        assert_eq!(pct(168, 108270), 0);
        assert_eq!(pct(20, 1266), 2);
        assert_eq!(pct(43, 1266), 3);
        assert_eq!(pct(1, 0), 0);
    }
}
