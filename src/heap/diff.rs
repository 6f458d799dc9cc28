//! `Heap::diff`: guppy's difference of two heaps' statistics (A-B), row by row.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::view::View;
use super::{By, Heap, PAGE};
use crate::census::guard;

/// One row of a [`Diff`]: how a class of the view changed from B to A.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let b = mark.heap();
/// let v = heapy::with_kind("Blob", || vec![0u8; 40]);
/// let d = mark.heap().diff(&b);
/// let row = d.get(0).unwrap();
/// assert_eq!((row.label(), row.count(), row.size()), ("Blob", 1, 40));
/// assert_eq!(row.cumulative(), 40);
/// # drop(v);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiffRow {
    label: String,
    /// The full label (`{:#}`), when it differs from `label` (call sites).
    full: Option<String>,
    count: i64,
    size: i64,
    cumulative: i64,
}

impl DiffRow {
    /// The class's label (a kind, a size, a thread, a site, ... as the view says).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let before = mark.heap();
    /// let v = heapy::with_kind("Blob", || vec![0u8; 40]);
    /// let w = heapy::with_kind("Pair", || vec![0u8; 2]);
    /// let d = mark.heap().diff(&before);
    /// assert_eq!(d.get(1).unwrap().label(), "Pair");
    /// # drop((v, w));
    /// ```
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The class's full label, as the table's alternate form (`{:#}`, `heapy diff --full`)
    /// prints it: for a call site, the function's whole name (generic arguments the label
    /// elides) and its file as recorded (see [`HeapRow::full_label`](crate::HeapRow::full_label));
    /// for other views, the label.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let before = mark.heap();
    /// let v = heapy::with_kind("Blob", || vec![0u8; 40]);
    /// let d = mark.heap().diff(&before);
    /// assert_eq!(d.get(0).unwrap().full_label(), "Blob");
    /// # drop(v);
    /// ```
    pub fn full_label(&self) -> &str {
        self.full.as_deref().unwrap_or(&self.label)
    }

    /// Objects in A's class minus objects in B's.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let before = mark.heap();
    /// let v = heapy::with_kind("Blob", || vec![0u8; 40]);
    /// let w = heapy::with_kind("Pair", || vec![0u8; 2]);
    /// let d = mark.heap().diff(&before);
    /// assert_eq!(d.get(1).unwrap().count(), 1);
    /// # drop((v, w));
    /// ```
    pub fn count(&self) -> i64 {
        self.count
    }

    /// Bytes in A's class minus bytes in B's.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let before = mark.heap();
    /// let v = heapy::with_kind("Blob", || vec![0u8; 40]);
    /// let w = heapy::with_kind("Pair", || vec![0u8; 2]);
    /// let d = mark.heap().diff(&before);
    /// assert_eq!(d.get(1).unwrap().size(), 2);
    /// # drop((v, w));
    /// ```
    pub fn size(&self) -> i64 {
        self.size
    }

    /// The size differences of this row and the rows before it.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let before = mark.heap();
    /// let v = heapy::with_kind("Blob", || vec![0u8; 40]);
    /// let w = heapy::with_kind("Pair", || vec![0u8; 2]);
    /// let d = mark.heap().diff(&before);
    /// assert_eq!(d.get(1).unwrap().cumulative(), 42);
    /// # drop((v, w));
    /// ```
    pub fn cumulative(&self) -> i64 {
        self.cumulative
    }
}

/// The difference between two heaps (guppy's `a.diff(b)`), from [`Heap::diff`]: the totals
/// of A and B, and per class of A's view the change in objects and bytes, largest absolute
/// size change first. Classes that did not change are left out.
///
/// It prints in guppy's layout:
///
/// ```text
/// Summary of difference operation (A-B).
///         Count     Size
///   A         3     1040
///   B         1       40
///   A-B       2     1000  =   2500.00 % of B
///
/// Differences by kind, largest absolute size diffs first.
///  Index  Count     Size  Cumulative  % of B Kind (type / call site)
///      0      2     1000      1000   2500.00 Blob
/// ```
///
/// Its alternate form (`{:#}`, `heapy diff --full`) prints each call site in full (see
/// [`DiffRow::full_label`]).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let mut blobs = vec![heapy::with_kind("Blob", || vec![0u8; 40])];
/// let old = mark.heap();
/// heapy::with_kind("Blob", || blobs.extend([vec![0u8; 500], vec![0u8; 500]]));
/// let d = mark.heap().diff(&old);
/// // The outer Vec's buffer grew from 1 to 4 slots: a new buffer replaced the old one.
/// assert_eq!((d.count(), d.size()), (2, 1000 + 4 * 24 - 24));
/// assert_eq!(d.get(0).unwrap().label(), "Blob");
/// assert!(d.to_string().starts_with("Summary of difference operation (A-B).\n"));
/// # drop(blobs);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
#[doc(alias("difference"))]
pub struct Diff {
    by: View,
    a: (usize, usize),
    b: (usize, usize),
    /// Shared, so that clones (and `all()`) allocate nothing in the program's heap.
    rows: Arc<[DiffRow]>,
    all: bool,
    /// The mean sampling gap when the figures are estimates from a byte-sampled heap.
    sample_rate: Option<u64>,
}

impl Heap {
    /// The difference of this heap (A) and `b` (B), grouped by this heap's view (guppy's
    /// `a.diff(b)`). Each side is classified by the same view; rows match by label.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let b = mark.heap();
    /// let v = (vec![0u8; 8], vec![0u8; 8], vec![0u8; 3]);
    /// let d = mark.heap().bysize().diff(&b);
    /// let rows: Vec<(&str, i64, i64)> = d.rows().map(|r| (r.label(), r.count(), r.size())).collect();
    /// assert_eq!(rows, [("8", 2, 16), ("3", 1, 3)]);
    /// # drop(v);
    /// ```
    #[doc(alias("difference", "compare"))]
    pub fn diff(&self, b: &Heap) -> Diff {
        let other = if b.by == self.by {
            b.clone()
        } else {
            b.under(self.by)
        };
        guard::internal(|| {
            let mut rows: HashMap<String, (i64, i64)> = HashMap::new();
            // Each label's full labels on either side (sites; one per side, or a list).
            let mut fulls: HashMap<&str, Vec<&str>> = HashMap::new();
            // Saturating: estimates from a sampled snapshot can be huge (never wrong sign).
            let signed = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
            let (pa, pb) = (self.partition(), other.partition());
            for r in &pa.rows {
                let e = rows.entry(r.label.clone()).or_default();
                e.0 = e.0.saturating_add(signed(r.count));
                e.1 = e.1.saturating_add(signed(r.size));
            }
            for r in &pb.rows {
                let e = rows.entry(r.label.clone()).or_default();
                e.0 = e.0.saturating_sub(signed(r.count));
                e.1 = e.1.saturating_sub(signed(r.size));
            }
            for r in pa.rows.iter().chain(&pb.rows) {
                if let Some(full) = &r.full {
                    // A row's full label may list several (` | `): keep each once.
                    let list = fulls.entry(r.label.as_str()).or_default();
                    for f in full.split(" | ") {
                        if !list.contains(&f) {
                            list.push(f);
                        }
                    }
                }
            }
            let mut rows: Vec<DiffRow> = rows
                .into_iter()
                .filter(|(_, (c, s))| *c != 0 || *s != 0)
                .map(|(label, (count, size))| {
                    let full = fulls.get(label.as_str()).map(|list| {
                        let mut list = list.clone();
                        list.sort_unstable();
                        list.join(" | ")
                    });
                    DiffRow {
                        label,
                        full,
                        count,
                        size,
                        cumulative: 0,
                    }
                })
                .collect();
            rows.sort_by(|x, y| {
                y.size
                    .unsigned_abs()
                    .cmp(&x.size.unsigned_abs())
                    .then(y.count.unsigned_abs().cmp(&x.count.unsigned_abs()))
                    .then_with(|| x.label.cmp(&y.label))
            });
            let mut cum: i64 = 0;
            for r in &mut rows {
                cum = cum.saturating_add(r.size);
                r.cumulative = cum;
            }
            // The totals are the sums of the rows' classes, so that they agree with the rows:
            // for a byte-sampled heap both are estimates (the objects themselves, by id).
            let total = |h: &Heap| {
                h.partition()
                    .rows
                    .iter()
                    .fold((0usize, 0usize), |(c, s), r| {
                        (c.saturating_add(r.count), s.saturating_add(r.size))
                    })
            };
            let rate = self.meta().sample_rate.or(other.meta().sample_rate);
            Diff {
                by: self.by,
                a: total(self),
                b: total(&other),
                rows: rows.into(),
                all: false,
                sample_rate: rate.filter(|_| self.by != By::Id),
            }
        })
    }
}

impl Diff {
    /// Objects in A.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = Box::new(1u32);
    /// let d = mark.heap().diff(&heapy::hpy().mark().heap());
    /// assert_eq!((d.a_count(), d.a_size(), d.b_count(), d.b_size()), (1, 4, 0, 0));
    /// # drop(v);
    /// ```
    pub fn a_count(&self) -> usize {
        self.a.0
    }

    /// Bytes in A.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let x = vec![0u8; 30];
    /// let before = mark.heap();
    /// let y = vec![0u8; 12];
    /// let d = mark.heap().diff(&before);
    /// assert_eq!(d.a_size(), 42);
    /// # drop((x, y));
    /// ```
    pub fn a_size(&self) -> usize {
        self.a.1
    }

    /// Objects in B.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let x = vec![0u8; 30];
    /// let before = mark.heap();
    /// let y = vec![0u8; 12];
    /// let d = mark.heap().diff(&before);
    /// assert_eq!(d.b_count(), 1);
    /// # drop((x, y));
    /// ```
    pub fn b_count(&self) -> usize {
        self.b.0
    }

    /// Bytes in B.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let x = vec![0u8; 30];
    /// let before = mark.heap();
    /// let y = vec![0u8; 12];
    /// let d = mark.heap().diff(&before);
    /// assert_eq!(d.b_size(), 30);
    /// # drop((x, y));
    /// ```
    pub fn b_size(&self) -> usize {
        self.b.1
    }

    /// Objects in A minus objects in B.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let x = vec![0u8; 100];
    /// let a = mark.heap();
    /// drop(x);
    /// let d = mark.heap().diff(&a); // the vector went away
    /// assert_eq!((d.count(), d.size()), (-1, -100));
    /// ```
    pub fn count(&self) -> i64 {
        self.a.0 as i64 - self.b.0 as i64
    }

    /// Bytes in A minus bytes in B.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let x = vec![0u8; 30];
    /// let before = mark.heap();
    /// let y = vec![0u8; 12];
    /// let d = mark.heap().diff(&before);
    /// assert_eq!(d.size(), 12);
    /// # drop((x, y));
    /// ```
    pub fn size(&self) -> i64 {
        self.a.1 as i64 - self.b.1 as i64
    }

    /// The size change as a percentage of B's size (infinite if B is empty and A is not).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let x = vec![0u8; 200];
    /// let b = mark.heap();
    /// let y = vec![0u8; 50];
    /// assert_eq!(mark.heap().diff(&b).pct_of_b(), 25.0);
    /// # drop((x, y));
    /// ```
    pub fn pct_of_b(&self) -> f64 {
        pct(self.size(), self.b.1)
    }

    /// The rows as data, largest absolute size change first: every row (not a page);
    /// `rows().len()` is the number of rows.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let x = vec![0u8; 30];
    /// let before = mark.heap();
    /// let y = vec![0u8; 12];
    /// let d = mark.heap().diff(&before);
    /// assert_eq!(d.rows().len(), 1);
    /// let sizes: Vec<i64> = d.rows().map(|r| r.size()).collect();
    /// assert_eq!(sizes, [12]);
    /// # drop((x, y));
    /// ```
    pub fn rows(&self) -> std::slice::Iter<'_, DiffRow> {
        self.rows.iter()
    }

    /// Row `i` (largest absolute size change first), if there is one.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let before = mark.heap();
    /// let y = heapy::with_kind("Grown", || vec![0u8; 12]);
    /// let d = mark.heap().diff(&before);
    /// assert_eq!((d.get(0).unwrap().label(), d.get(0).unwrap().size()), ("Grown", 12));
    /// assert!(d.get(1).is_none());
    /// # drop(y);
    /// ```
    pub fn get(&self, i: usize) -> Option<&DiffRow> {
        self.rows.get(i)
    }

    /// The view the rows are grouped by (A's view), or `None` under one of the object
    /// graph's views (see [`Heap::view`]).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let h = heapy::hpy().mark().heap();
    /// assert_eq!(h.bysize().diff(&h).view(), Some(heapy::By::Size));
    /// ```
    pub fn view(&self) -> Option<By> {
        self.by.by()
    }

    /// The same difference, printing every row (not only the first ten).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v: Vec<Vec<u8>> = (1..=12).map(|n| vec![0u8; n]).collect();
    /// let d = mark.heap().bysize().diff(&heapy::hpy().mark().heap());
    /// assert!(d.to_string().contains("<3 more rows. Type e.g. '.all()' to view.>"));
    /// assert!(!d.all().to_string().contains("more rows"));
    /// # drop(v);
    /// ```
    pub fn all(&self) -> Diff {
        let mut d = self.clone();
        d.all = true;
        d
    }
}

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

/// What the rows are called in "Differences by ...".
fn grouping(by: View) -> String {
    match by {
        View::By(By::Kind) => "kind".to_string(),
        View::By(By::Size) => "individual size".to_string(),
        View::By(By::Id) => "object".to_string(),
        other => other.name().to_string(),
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = guard::internal(|| -> Result<String, fmt::Error> {
            use fmt::Write;
            let mut out = String::new();
            writeln!(out, "Summary of difference operation (A-B).")?;
            if let Some(r) = self.sample_rate {
                writeln!(
                    out,
                    "Figures are estimates from byte-sampled heaps (mean gap {r} bytes), each object scaled by 1/(1-exp(-size/{r}))."
                )?;
            }
            writeln!(out, "        Count     Size")?;
            writeln!(out, "  A    {:6} {:8}", self.a.0, self.a.1)?;
            writeln!(out, "  B    {:6} {:8}", self.b.0, self.b.1)?;
            writeln!(
                out,
                "  A-B  {:6} {:8}  = {:9.2} % of B",
                self.count(),
                self.size(),
                self.pct_of_b()
            )?;
            writeln!(out)?;
            writeln!(
                out,
                "Differences by {}, largest absolute size diffs first.",
                grouping(self.by)
            )?;
            writeln!(
                out,
                " Index  Count     Size  Cumulative  % of B {}",
                self.by.header()
            )?;
            let shown = if self.all {
                self.rows.len()
            } else {
                self.rows.len().min(PAGE)
            };
            for (i, r) in self.rows[..shown].iter().enumerate() {
                writeln!(
                    out,
                    "{:6} {:6} {:8} {:9} {:9.2} {}",
                    i,
                    r.count,
                    r.size,
                    r.cumulative,
                    pct(r.cumulative, self.b.1),
                    if f.alternate() {
                        r.full_label()
                    } else {
                        &r.label
                    }
                )?;
            }
            let left = self.rows.len() - shown;
            if left > 0 {
                writeln!(out, "<{left} more rows. Type e.g. '.all()' to view.>")?;
            }
            Ok(out)
        })?;
        f.write_str(&text)
    }
}
