//! The command's own listing tables, drawn with comfy-table: `heapy mprof list`, and the
//! `--fit` form of `view` and `diff`, whose label column wraps long kind names to the
//! width of the terminal. guppy's layout (the default output of `view` and `diff`) is the
//! library's own text, byte for byte; these tables are only for reading on a screen.

use std::io::IsTerminal;

use heapy::By;

use comfy_table::{
    CellAlignment, ColumnConstraint, ContentArrangement, LineStyle, Table, TableStyle,
};

/// The width used when standard output is not a terminal and `COLUMNS` is not set.
pub(crate) const DEFAULT_WIDTH: u16 = 100;

/// Columns without borders, a rule under the header: close to guppy's own look, and easy to
/// read with `grep` or `awk`.
const STYLE: TableStyle = TableStyle::new().header_separator(LineStyle::none().fill('-'));

/// The width to fit: the terminal's (standard output's), else `COLUMNS`, else 100.
pub(crate) fn width() -> u16 {
    terminal_width()
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse::<u16>().ok())
        })
        .filter(|&w| w > 0)
        .unwrap_or(DEFAULT_WIDTH)
}

/// Standard output's terminal width, if it is a terminal that knows it.
fn terminal_width() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which points to our
    // local; on failure it writes nothing and the zero width is ignored.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(ws.ws_col)
}

/// Rows shown without `--all`, as in guppy's tables.
pub(crate) const PAGE: usize = 10;

/// The footer that says how many rows `--all` would add (empty when none).
pub(crate) fn more(left: usize) -> String {
    if left == 0 {
        String::new()
    } else {
        format!("<{left} more rows. Use --all to view.>\n")
    }
}

/// guppy's table text `text` with its last line, guppy's Python hint
/// (`<27 more rows. Type e.g. '.more()' to view.>`, or `'.all()'` under a diff), in the
/// command's words: `<27 more rows. Use --all to view.>`. The rest is left byte for byte.
pub(crate) fn cli_words(text: &str) -> String {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let (head, last) = match body.rfind('\n') {
        Some(i) => (&text[..=i], &body[i + 1..]),
        None => ("", body),
    };
    let left = ["'.more()'", "'.all()'"].iter().find_map(|hint| {
        last.strip_prefix('<')?
            .strip_suffix(&format!(" more rows. Type e.g. {hint} to view.>"))?
            .parse::<usize>()
            .ok()
    });
    match left {
        Some(left) => format!("{head}{}", more(left)),
        None => text.to_string(),
    }
}

/// The header of the label column under view `by`: what the rows are grouped by.
pub(crate) fn label_header(by: By) -> &'static str {
    match by {
        By::Size => "Individual Size",
        By::Thread => "Thread",
        By::Site => "Site (file:line function)",
        By::Id => "Address",
        _ => "Kind (type / call site)",
    }
}

/// How a column of a fitted table behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Col {
    /// Figures: right-aligned, never wrapped.
    Number,
    /// Short text such as a file name: left-aligned, never wrapped.
    Text,
    /// Long text such as a kind or a command: takes the width that is left, wrapped at word
    /// boundaries (or inside a word longer than a line).
    Wrap,
}

/// A table with the columns `header`, behaving as `cols` say, fitted to `width`.
pub(crate) fn table(header: &[&str], cols: &[Col], width: u16) -> Table {
    let mut t = Table::new();
    t.load_style(STYLE)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(header.to_vec());
    for (i, &col) in cols.iter().enumerate() {
        let Some(c) = t.column_mut(i) else { continue };
        match col {
            Col::Number => {
                c.set_cell_alignment(CellAlignment::Right);
                c.set_constraint(ColumnConstraint::ContentWidth);
            }
            Col::Text => {
                c.set_constraint(ColumnConstraint::ContentWidth);
            }
            Col::Wrap => {}
        }
    }
    t
}

/// The table as lines without trailing spaces, each ending in a newline.
pub(crate) fn render(t: &Table) -> String {
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guppys_hint_becomes_the_commands() {
        let table = "Partition of a set of 9 objects.\n     9 ...\n";
        assert_eq!(
            cli_words(&format!(
                "{table}<27 more rows. Type e.g. '.more()' to view.>\n"
            )),
            format!("{table}<27 more rows. Use --all to view.>\n")
        );
        assert_eq!(
            cli_words(&format!(
                "{table}<3 more rows. Type e.g. '.all()' to view.>\n"
            )),
            format!("{table}<3 more rows. Use --all to view.>\n")
        );
        // Nothing else changes: a table without the hint, or a label that merely contains
        // the words.
        assert_eq!(cli_words(table), table);
        let label = "    0 x <1 more rows. Type e.g. '.more()' to view.> y\n";
        assert_eq!(cli_words(label), label);
        assert_eq!(cli_words(""), "");
    }

    #[test]
    fn numbers_stay_whole_and_labels_wrap_within_the_width() {
        let mut t = table(
            &["Index", "Size", "Kind"],
            &[Col::Number, Col::Number, Col::Wrap],
            30,
        );
        let long = "HashMap<u64, Vec<demo::Person>> from a rather long call site";
        t.add_row(vec![
            "0".to_string(),
            "123456789".to_string(),
            long.to_string(),
        ]);
        let text = render(&t);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 3, "{text}");
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{text}");
        assert!(lines[2].contains("123456789"), "{text}");
        // The label, read down its column, is whole (wrapped at spaces, or inside a word
        // longer than the column).
        let label: String = lines[2..]
            .iter()
            .flat_map(|l| l.split_whitespace())
            .filter(|w| *w != "0" && *w != "123456789")
            .collect();
        assert_eq!(label, long.replace(' ', ""));
    }
}
