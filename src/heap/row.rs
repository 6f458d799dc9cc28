//! `HeapRow`: one row of a heap's partition table, as data.

/// One row of a [`Heap`](crate::Heap)'s table (guppy's partition), from
/// [`Heap::rows`](crate::Heap::rows): a class of objects under the heap's view, with the
/// figures the table prints, unrounded. Rows come largest first, as printed.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let big = heapy::with_kind("Big", || vec![0u8; 300]);
/// let small = heapy::with_kind("Small", || vec![0u8; 100]);
/// let h = mark.heap();
/// let rows: Vec<(&str, usize, usize, usize)> =
///     h.rows().map(|r| (r.label(), r.count(), r.size(), r.cumulative())).collect();
/// assert_eq!(rows, [("Big", 1, 300, 300), ("Small", 1, 100, 400)]);
/// # drop((big, small));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeapRow<'h> {
    pub(crate) label: &'h str,
    /// The label as the table's alternate form (`{:#}`) prints it.
    pub(crate) full: &'h str,
    pub(crate) count: usize,
    pub(crate) size: usize,
    pub(crate) cumulative: usize,
    /// The table's totals (objects, bytes), which the percentages divide by.
    pub(crate) totals: (usize, usize),
}

/// The rows of `part` as data, with running cumulative bytes; `totals` are the table's
/// (objects, bytes) that the percentages divide by.
pub(crate) fn rows_of(
    part: &super::partition::Partition,
    totals: (usize, usize),
) -> impl ExactSizeIterator<Item = HeapRow<'_>> + '_ {
    let mut cumulative = 0usize;
    part.rows.iter().map(move |r| {
        cumulative = cumulative.saturating_add(r.size);
        HeapRow {
            label: &r.label,
            full: r.full.as_deref().unwrap_or(&r.label),
            count: r.count,
            size: r.size,
            cumulative,
            totals,
        }
    })
}

/// `part` as a percentage of `whole` (0 for an empty whole).
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

impl<'h> HeapRow<'h> {
    /// What the row's objects have in common under the view: a kind, a size, a thread, a
    /// call site, or (by id) an address such as `0x55d0c2a4f2b0`.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = (vec![0u8; 8], vec![0u8; 8]);
    /// assert_eq!(mark.heap().bysize().rows().next().unwrap().label(), "8");
    /// # drop(v);
    /// ```
    pub fn label(&self) -> &'h str {
        self.label
    }

    /// The label as the table's alternate form (`format!("{:#}", h.bysite())`, `heapy view
    /// --full`) prints it: for a call site, the function's full name (generic arguments the
    /// short label elides as `<…>` included) and the file as the debug info records it (a
    /// dependency's absolute path into cargo's registry), as `{:#}` prints a
    /// [`Frame`](crate::Frame). A row whose objects come from several such names (instances
    /// of one generic function at one line) lists them all, sorted, joined by ` | `. Other
    /// views' labels are the same as [`label`](HeapRow::label).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = vec![0u8; 8];
    /// let h = mark.heap().bysite();
    /// let row = h.rows().next().unwrap();
    /// // A short name of the program's own prints the same either way.
    /// assert_eq!(row.full_label(), row.label());
    /// let k = mark.heap().filter(|o| o.size() == 8).bykind();
    /// assert_eq!(k.rows().next().unwrap().full_label(), k.rows().next().unwrap().label());
    /// # drop(v);
    /// ```
    pub fn full_label(&self) -> &'h str {
        self.full
    }

    /// How many objects the row holds (an estimate for a byte-sampled heap, as printed).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v: Vec<Box<u32>> = (0..3).map(Box::new).collect();
    /// let h = mark.heap().bysize();
    /// assert_eq!(h.rows().find(|r| r.label() == "4").unwrap().count(), 3);
    /// # drop(v);
    /// ```
    pub fn count(&self) -> usize {
        self.count
    }

    /// The row's bytes (an estimate for a byte-sampled heap, as printed).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = heapy::with_kind("Blob", || vec![0u8; 64]);
    /// assert_eq!(mark.heap().rows().next().unwrap().size(), 64);
    /// # drop(v);
    /// ```
    pub fn size(&self) -> usize {
        self.size
    }

    /// The bytes of this row and of the rows before it (the table's Cumulative column).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = (vec![0u8; 30], vec![0u8; 20], vec![0u8; 10]);
    /// let h = mark.heap().bysize();
    /// let cumulative: Vec<usize> = h.rows().map(|r| r.cumulative()).collect();
    /// assert_eq!(cumulative, [30, 50, 60]);
    /// # drop(v);
    /// ```
    pub fn cumulative(&self) -> usize {
        self.cumulative
    }

    /// The row's objects as a percentage of the table's (the table prints it rounded).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = (vec![0u8; 30], vec![0u8; 30], vec![0u8; 40], vec![0u8; 40]);
    /// let h = mark.heap().bysize();
    /// assert_eq!(h.rows().next().unwrap().count_percent(), 50.0);
    /// # drop(v);
    /// ```
    pub fn count_percent(&self) -> f64 {
        percent(self.count, self.totals.0)
    }

    /// The row's bytes as a percentage of the table's (the table prints it rounded).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = (vec![0u8; 75], vec![0u8; 25]);
    /// let h = mark.heap().bysize();
    /// assert_eq!(h.rows().next().unwrap().size_percent(), 75.0);
    /// # drop(v);
    /// ```
    pub fn size_percent(&self) -> f64 {
        percent(self.size, self.totals.1)
    }

    /// The cumulative bytes as a percentage of the table's (the table prints it rounded).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = (vec![0u8; 50], vec![0u8; 30], vec![0u8; 20]);
    /// let h = mark.heap().bysize();
    /// let last = h.rows().last().unwrap();
    /// assert_eq!(last.cumulative_percent(), 100.0);
    /// # drop(v);
    /// ```
    pub fn cumulative_percent(&self) -> f64 {
        percent(self.cumulative, self.totals.1)
    }
}
