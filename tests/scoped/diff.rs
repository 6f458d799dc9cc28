//! `Heap::diff`: guppy's A-B layout line by line, and the figures programmatically. Every
//! figure is what the test allocated, after a thread-scoped mark.

use std::thread;

fn blocks(kind: &str, n: usize, size: usize, into: &mut Vec<Vec<u8>>) {
    heapy::with_kind(kind, || {
        for _ in 0..n {
            into.push(vec![0u8; size]);
        }
    });
}

/// The objects of guppy's own example (shared/reference/guppy3-output.txt, "diff"):
/// B holds 1271 objects of 108790 bytes; A adds ten 557-byte bytearrays, a 184-byte list
/// and a 152-byte function.
#[test]
fn diff_prints_guppys_layout() {
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(2000); // before the mark: not counted
    let mark = heapy::hpy().mark();
    blocks("bytearray", 20, 1057, &mut held);
    blocks("dict of Person", 1250, 70, &mut held);
    blocks("list", 1, 150, &mut held);
    let b = mark.heap();
    assert_eq!((b.count(), b.size()), (1271, 20 * 1057 + 1250 * 70 + 150));
    blocks("bytearray", 10, 557, &mut held);
    blocks("list", 1, 184, &mut held);
    blocks("function", 1, 152, &mut held);
    let a = mark.heap();
    let d = a.diff(&b);

    let expected = include_str!("../data/guppy3-diff.txt");
    let text = d.to_string();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        expected.lines().collect::<Vec<_>>()
    );

    let (b_count, b_size) = (20 + 1250 + 1, 20 * 1057 + 1250 * 70 + 150);
    let (a_count, a_size) = (b_count + 12, b_size + 10 * 557 + 184 + 152);
    assert_eq!((d.a_count(), d.a_size()), (a_count, a_size));
    assert_eq!((d.b_count(), d.b_size()), (b_count, b_size));
    assert_eq!((d.count(), d.size()), (12, 5906));
    assert!((d.pct_of_b() - 5906.0 * 100.0 / 108790.0).abs() < 1e-12);
    let rows: Vec<(&str, i64, i64, i64)> = d
        .rows()
        .map(|r| (r.label(), r.count(), r.size(), r.cumulative()))
        .collect();
    assert_eq!(
        rows,
        [
            ("bytearray", 10, 5570, 5570),
            ("list", 1, 184, 5754),
            ("function", 1, 152, 5906)
        ]
    );
    drop(held);
}

#[test]
fn shrinking_rows_are_negative_and_sorted_by_absolute_size() {
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(64);
    let mark = heapy::hpy().mark();
    blocks("Gone", 4, 250, &mut held);
    blocks("Stays", 2, 10, &mut held);
    let b = mark.heap();
    held.drain(..4); // the four Gone blocks
    blocks("New", 3, 100, &mut held);
    let d = mark.heap().diff(&b);
    let rows: Vec<(&str, i64, i64)> = d.rows().map(|r| (r.label(), r.count(), r.size())).collect();
    assert_eq!(rows, [("Gone", -4, -1000), ("New", 3, 300)]);
    assert_eq!((d.count(), d.size()), (-1, -700));
    let text = d.to_string();
    assert!(text.contains("  A-B      -1     -700  =    -68.63 % of B\n"));
    assert!(text.contains("     0     -4    -1000     -1000    -98.04 Gone\n"));
    assert!(text.contains("     1      3      300      -700    -68.63 New\n"));
    drop(held);
}

#[test]
fn diff_groups_by_the_view_of_a() {
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(64);
    let mark = heapy::hpy().mark();
    blocks("X", 2, 8, &mut held);
    let b = mark.heap();
    blocks("Y", 3, 8, &mut held);
    blocks("Y", 1, 5, &mut held);
    let a = mark.heap();

    let d = a.bysize().diff(&b);
    assert_eq!(d.view(), Some(heapy::By::Size));
    let rows: Vec<(&str, i64, i64)> = d.rows().map(|r| (r.label(), r.count(), r.size())).collect();
    assert_eq!(rows, [("8", 3, 24), ("5", 1, 5)]);
    let text = d.to_string();
    assert!(text.contains("Differences by individual size, largest absolute size diffs first."));
    assert!(text.contains(" Index  Count     Size  Cumulative  % of B Individual Size\n"));

    let d = a.bythread().diff(&b);
    let me = thread::current().name().unwrap_or_default().to_string();
    assert_eq!(d.rows().len(), 1);
    let row = d.get(0).unwrap();
    assert_eq!((row.count(), row.size()), (4, 29));
    // The census keeps a thread's name as the OS does (at most 15 bytes).
    assert!(me.starts_with(row.label()), "{me} / {}", row.label());
    drop(held);
}

#[test]
fn empty_b_and_many_rows() {
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(64);
    let mark = heapy::hpy().mark();
    let empty = mark.heap();
    for n in 1..=13 {
        held.push(vec![0u8; n]);
    }
    let d = mark.heap().bysize().diff(&empty);
    assert_eq!((d.count(), d.size()), (13, 91));
    let text = d.to_string();
    assert!(text.contains("  A-B      13       91  =       inf % of B\n"));
    assert_eq!(d.rows().len(), 13);
    assert_eq!(text.lines().count(), 8 + 10 + 1);
    assert!(text.ends_with("<3 more rows. Type e.g. '.all()' to view.>\n"));
    assert_eq!(d.all().to_string().lines().count(), 8 + 13);
    // No change: no rows.
    let h = mark.heap();
    let same = h.diff(&h);
    assert_eq!(same.rows().len(), 0);
    assert!(same
        .to_string()
        .contains("  A-B       0        0  =      0.00 % of B\n"));
    drop(held);
}
