//! Helpers for the integration tests that read the output of another process (a child test
//! or an example). Tests in this process read tables as data (`Heap::rows()`) instead.

/// One row of a guppy partition table as another process printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintedRow {
    pub label: String,
    pub count: usize,
    pub size: usize,
}

/// Width of the figures of a partition row: `%6d %6d %3d %8d %3d %9d %3d `.
const FIGURES: usize = 45;

/// The rows of the partition tables in `text`, in order; every other line (titles,
/// headers, footers, other output) is skipped.
pub fn printed_rows(text: &str) -> Vec<PrintedRow> {
    text.lines()
        .filter_map(|line| {
            let figures: Vec<usize> = line
                .get(..FIGURES)?
                .split_whitespace()
                .map(|f| f.parse().ok())
                .collect::<Option<_>>()?;
            let [_index, count, _, size, _, _cumulative, _] = figures[..] else {
                return None;
            };
            Some(PrintedRow {
                label: line[FIGURES..].to_string(),
                count,
                size,
            })
        })
        .collect()
}
