//! The source lines of the profiled function, as the table shows them.
//!
//! They are read at compile time from the file rustc is compiling (so comments and blank
//! lines show as written). Where the file cannot be read (a doctest, generated code), the
//! lines are rebuilt from the tokens at their columns.

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream, TokenTree};

/// Lines `first..=last` of the file `span` is in, or `None` if it cannot be read.
fn from_file(span: Span, first: usize, last: usize) -> Option<Vec<String>> {
    let path = span.local_file()?;
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<String> = text
        .lines()
        .skip(first - 1)
        .take(last + 1 - first)
        .map(str::to_owned)
        .collect();
    (lines.len() == last + 1 - first).then_some(lines)
}

/// Places every token of `ts` at its line and column.
fn place(ts: TokenStream, out: &mut BTreeMap<usize, String>) {
    for tt in ts {
        match tt {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Brace => ("{", "}"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                put(out, g.span_open(), open);
                place(g.stream(), out);
                put(out, g.span_close(), close);
            }
            other => {
                let text = other.to_string();
                put(out, other.span(), &text);
            }
        }
    }
}

fn put(out: &mut BTreeMap<usize, String>, span: Span, text: &str) {
    if text.is_empty() {
        return;
    }
    let at = span.start();
    let line = out.entry(at.line).or_default();
    let have = line.chars().count();
    if have < at.column {
        line.extend(std::iter::repeat_n(' ', at.column - have));
    } else if have > at.column && !line.ends_with(' ') {
        line.push(' ');
    }
    line.push_str(text);
}

/// The lines `first..=last` of the function whose tokens are `item`; `check` is the line
/// (`fn_line`) and the text (`fn name`) that must be found there for the file to be trusted
/// (a doctest's spans name the outer file but count lines in the test).
pub(crate) fn lines(
    span: Span,
    item: &TokenStream,
    (first, last): (usize, usize),
    (fn_line, fn_name): (usize, &str),
) -> Vec<String> {
    if let Some(lines) = from_file(span, first, last) {
        let fn_ok = lines
            .get(fn_line - first)
            .is_some_and(|l| l.contains(&format!("fn {fn_name}")));
        let end_ok = lines.last().is_some_and(|l| l.trim_end().ends_with('}'));
        if fn_ok && end_ok {
            return lines;
        }
    }
    let mut placed = BTreeMap::new();
    place(item.clone(), &mut placed);
    (first..=last)
        .map(|l| placed.remove(&l).unwrap_or_default())
        .collect()
}
