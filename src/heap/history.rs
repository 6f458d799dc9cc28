//! `History`: tables of what was allocated in total, and of what the heap held at its peak,
//! from the census's per-context history (`census::history`).

use std::fmt;
use std::sync::Arc;

use super::meta::Meta;
use super::partition::Partition;
use super::render::{self, PAGE};
use super::view::{By, View};
use super::HeapRow;
use crate::census::guard;
use crate::census::history::CtxHistory;
use crate::{Error, Result};

/// Which figures of the history a table shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Figure {
    /// Blocks and bytes allocated since the start.
    Allocated,
    /// Blocks and bytes allocated since the process-wide reference point.
    AllocatedSinceRel,
    /// Blocks and bytes allocated by a mark's thread since the mark.
    AllocatedSinceMark,
    /// Objects and bytes live when the heap was at its peak.
    AtPeak,
}

/// A table of the heap's history, from [`Hpy::allocations`](crate::Hpy::allocations) (every
/// block allocated, freed ones included: where the allocation churn comes from),
/// [`Hpy::at_peak`](crate::Hpy::at_peak) (what the heap held at its highest point) or
/// [`Mark::allocations`](crate::Mark::allocations).
///
/// It prints in guppy's layout, as a [`Heap`](crate::Heap) does, with Count the blocks and
/// Size their bytes, grouped by kind ([`History::bykind`], the default) or by call site
/// ([`History::bysite`]); [`History::rows`] gives the rows as data.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// for _ in 0..3 {
///     drop(heapy::with_kind("Scratch", || vec![0u8; 100]));
/// }
/// let a = mark.allocations();
/// assert_eq!((a.count(), a.size()), (3, 300));
/// println!("{a}");
/// // Allocations since the mark: 3 blocks, 300 bytes.
/// //  Index  Count   %     Size   % Cumulative  % Kind (type / call site)
/// //      0      3 100      300 100       300 100 Scratch
/// ```
#[derive(Clone)]
#[doc(alias("allocations", "totals", "churn", "peak", "high_water_mark"))]
#[non_exhaustive]
pub struct History {
    /// (context, count, bytes) of the figure shown, contexts with nothing left out.
    items: Arc<Vec<(u32, usize, usize)>>,
    meta: Arc<Meta>,
    figure: Figure,
    by: By,
    start: usize,
    all: bool,
    part: Arc<Partition>,
}

impl History {
    /// A table of `figure` from per-context history `ctxs`, named by `meta`.
    pub(crate) fn new(ctxs: &[CtxHistory], meta: Arc<Meta>, figure: Figure) -> History {
        guard::internal(|| {
            let items: Vec<(u32, usize, usize)> = ctxs
                .iter()
                .map(|h| match figure {
                    Figure::AtPeak => (h.ctx, h.peak_blocks as usize, h.peak_bytes as usize),
                    _ => (h.ctx, h.alloc_blocks as usize, h.alloc_bytes as usize),
                })
                .filter(|&(_, c, s)| c != 0 || s != 0)
                .collect();
            History::from_items(Arc::new(items), meta, figure, By::Kind)
        })
    }

    fn from_items(
        items: Arc<Vec<(u32, usize, usize)>>,
        meta: Arc<Meta>,
        figure: Figure,
        by: By,
    ) -> History {
        let part = guard::internal(|| Arc::new(partition(&items, &meta, by)));
        History {
            items,
            meta,
            figure,
            by,
            start: 0,
            all: false,
            part,
        }
    }

    fn with_view(&self, by: By) -> History {
        History::from_items(self.items.clone(), self.meta.clone(), self.figure, by)
    }

    /// The same history grouped by kind (the default).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// drop(heapy::with_kind("A", || vec![0u8; 8]));
    /// assert_eq!(mark.allocations().bysite().bykind().rows().next().unwrap().label(), "A");
    /// ```
    pub fn bykind(&self) -> History {
        self.with_view(By::Kind)
    }

    /// The same history grouped by call site: the line of the program's own code that
    /// allocated (as [`Heap::bysite`](crate::Heap::bysite)). Where the churn comes from.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// drop(vec![0u8; 8]);
    /// let sites = mark.allocations().bysite();
    /// assert_eq!(sites.count(), 1);
    /// println!("{sites}");
    /// ```
    #[doc(alias("byprod", "by_line", "by_call_site"))]
    pub fn bysite(&self) -> History {
        self.with_view(By::Site)
    }

    /// Every row of the table, printable.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// for i in 0..12 {
    ///     drop(heapy::with_kind(&format!("K{i}"), || vec![0u8; 1]));
    /// }
    /// let a = mark.allocations();
    /// assert!(a.to_string().contains("more rows"));
    /// assert!(!a.all().to_string().contains("more rows"));
    /// ```
    pub fn all(&self) -> History {
        let mut h = self.clone();
        h.all = true;
        h
    }

    /// The next ten rows of the table (guppy's `.more`).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// for i in 0..12 {
    ///     drop(heapy::with_kind(&format!("K{i}"), || vec![0u8; 1]));
    /// }
    /// assert!(mark.allocations().more().to_string().contains("    10 "));
    /// ```
    #[doc(alias("next_page"))]
    pub fn more(&self) -> History {
        let mut h = self.clone();
        h.start = (self.start + PAGE).min(self.part.rows.len());
        h
    }

    /// Blocks (objects, for [`Hpy::at_peak`](crate::Hpy::at_peak)) in the table.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// drop(vec![0u8; 8]);
    /// drop(vec![0u8; 8]);
    /// assert_eq!(mark.allocations().count(), 2);
    /// ```
    #[doc(alias("blocks", "len"))]
    pub fn count(&self) -> usize {
        self.items
            .iter()
            .fold(0, |a, &(_, c, _)| a.saturating_add(c))
    }

    /// Bytes in the table.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// drop(vec![0u8; 8]);
    /// drop(vec![0u8; 24]);
    /// assert_eq!(mark.allocations().size(), 32);
    /// ```
    #[doc(alias("bytes"))]
    pub fn size(&self) -> usize {
        self.items
            .iter()
            .fold(0, |a, &(_, _, s)| a.saturating_add(s))
    }

    /// The rows of the table, largest first, as data (as [`Heap::rows`](crate::Heap::rows)).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// drop(heapy::with_kind("Big", || vec![0u8; 300]));
    /// drop(heapy::with_kind("Small", || vec![0u8; 100]));
    /// let rows: Vec<(String, usize, usize)> = mark
    ///     .allocations()
    ///     .rows()
    ///     .map(|r| (r.label().to_string(), r.count(), r.size()))
    ///     .collect();
    /// assert_eq!(rows, [("Big".to_string(), 1, 300), ("Small".to_string(), 1, 100)]);
    /// ```
    #[doc(alias("table"))]
    pub fn rows(&self) -> impl ExactSizeIterator<Item = HeapRow<'_>> + '_ {
        super::row::rows_of(&self.part, (self.count(), self.size()))
    }

    /// The history of row `i`'s contexts alone (by kind), to drill into with `bysite()`.
    /// Panics past the last row; [`History::try_row`] does not.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// drop(heapy::with_kind("Big", || vec![0u8; 300]));
    /// drop(heapy::with_kind("Small", || vec![0u8; 100]));
    /// assert_eq!(mark.allocations().row(1).size(), 100);
    /// ```
    pub fn row(&self, i: usize) -> History {
        match self.try_row(i) {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        }
    }

    /// The history of row `i`'s contexts, or [`Error::NoSuchRow`].
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// drop(vec![0u8; 8]);
    /// let a = mark.allocations();
    /// assert!(a.try_row(0).is_ok());
    /// assert!(matches!(a.try_row(1), Err(heapy::Error::NoSuchRow { index: 1, rows: 1 })));
    /// ```
    pub fn try_row(&self, i: usize) -> Result<History> {
        let row = self.part.rows.get(i).ok_or(Error::NoSuchRow {
            index: i,
            rows: self.part.rows.len(),
        })?;
        let key = row.key;
        let items = guard::internal(|| {
            Arc::new(
                self.items
                    .iter()
                    .zip(&self.part.keys)
                    .filter(|(_, &k)| k == key)
                    .map(|(it, _)| *it)
                    .collect::<Vec<_>>(),
            )
        });
        Ok(History::from_items(
            items,
            self.meta.clone(),
            self.figure,
            By::Kind,
        ))
    }

    /// The contexts of the table with their figures (count, bytes), for exports.
    pub(crate) fn items(&self) -> &[(u32, usize, usize)] {
        &self.items
    }

    pub(crate) fn meta(&self) -> &Arc<Meta> {
        &self.meta
    }

    fn title(&self) -> String {
        let (n, m) = (self.count(), self.size());
        match self.figure {
            Figure::Allocated => format!("Allocations since start: {n} blocks, {m} bytes."),
            Figure::AllocatedSinceRel => {
                format!("Allocations since the reference point: {n} blocks, {m} bytes.")
            }
            Figure::AllocatedSinceMark => {
                format!("Allocations since the mark: {n} blocks, {m} bytes.")
            }
            Figure::AtPeak => format!("Heap at its peak: {n} objects, {m} bytes."),
        }
    }
}

/// The rows of `items` under view `by` (kind or site; any other view groups by kind).
fn partition(items: &[(u32, usize, usize)], meta: &Meta, by: By) -> Partition {
    let mut labels: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let keys: Vec<u32> = items
        .iter()
        .map(|&(ctx, _, _)| {
            let label = match by {
                By::Site => meta.site(ctx),
                _ => meta.kind(ctx),
            };
            *index.entry(label.to_string()).or_insert_with(|| {
                labels.push(label.to_string());
                (labels.len() - 1) as u32
            })
        })
        .collect();
    let weights: Vec<(usize, usize)> = items.iter().map(|&(_, c, s)| (c, s)).collect();
    let mut p = Partition::from_weights(keys, labels, &weights);
    if by == By::Site {
        let ctxs = items
            .iter()
            .map(|&(ctx, _, _)| ctx)
            .zip(p.keys.iter().copied());
        super::partition::full_sites(&mut p.rows, ctxs, meta);
    }
    p
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = guard::internal(|| -> std::result::Result<String, fmt::Error> {
            let mut out = String::new();
            let title = self.title();
            render::Table {
                by: View::By(self.by),
                part: &self.part,
                count: self.count(),
                size: self.size(),
                start: self.start,
                all: self.all,
                set_kind: None,
                id_kinds: None,
                note: None,
                title: Some(&title),
                full: f.alternate(),
            }
            .write(&mut out)?;
            Ok(out)
        })?;
        f.write_str(&text)
    }
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = guard::internal(|| self.title());
        f.write_str(t.trim_end_matches('.'))
    }
}
