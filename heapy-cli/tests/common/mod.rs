//! Helpers shared by the CLI's test files.
#![allow(dead_code)] // each test file uses its own share of them

/// One row of a `--fit` table, read back: its figures (the columns before the label), its
/// label (the label column's pieces down the wrapped lines, joined without the spaces the
/// wrapping took), and how many lines it took.
#[derive(Debug)]
pub struct FitRow {
    pub figures: Vec<String>,
    pub label: String,
    pub lines: usize,
}

/// The rows of the first fitted table in `text` whose header has `label_col`, the first
/// word of the label column's header.
pub fn fit_rows(text: &str, label_col: &str) -> Vec<FitRow> {
    let lines: Vec<&str> = text.lines().collect();
    let h = lines
        .iter()
        .position(|l| l.starts_with(" Index") && l.contains(label_col))
        .unwrap_or_else(|| panic!("no header with {label_col:?}:\n{text}"));
    let col = lines[h].find(label_col).unwrap();
    let rule = h + lines[h..]
        .iter()
        .position(|l| l.starts_with("---"))
        .unwrap();
    let mut rows: Vec<FitRow> = Vec::new();
    for l in &lines[rule + 1..] {
        if l.trim().is_empty() || l.starts_with('<') {
            break;
        }
        let (figures, label) = l.split_at(col.min(l.len()));
        let label = label.replace(' ', "");
        if figures.trim().is_empty() {
            let row = rows.last_mut().expect("a row's first line");
            row.label.push_str(&label);
            row.lines += 1;
        } else {
            rows.push(FitRow {
                figures: figures.split_whitespace().map(String::from).collect(),
                label,
                lines: 1,
            });
        }
    }
    rows
}

/// Every line of `text` is at most `width` columns wide.
pub fn assert_fits(text: &str, width: usize) {
    for l in text.lines() {
        assert!(
            l.chars().count() <= width,
            "wider than {width}: {l:?}\n{text}"
        );
    }
}
