//! `Heap`: an identity set of object records, and its views and tables.

mod algebra;
mod checks;
mod classes;
mod diff;
mod file;
mod history;
mod intmap;
mod mark;
mod meta;
mod object;
mod partition;
mod render;
mod row;
mod snapshot;
#[cfg(test)]
pub(crate) mod test_support;
mod traceback;
mod view;

use std::fmt;
use std::sync::{Arc, OnceLock};

/// The object record a snapshot holds: the registry's own type, copied out as is.
pub(crate) use crate::census::registry::Obj;
pub(crate) use crate::stack::Description;
pub use checks::{
    check_allocations, check_memory_limit, check_memory_limit_async, check_no_alloc,
    check_no_leaks, check_no_leaks_async,
};
pub(crate) use classes::Outside;
pub use diff::{Diff, DiffRow};
pub use history::History;
pub use mark::{Mark, MarkGuard, Scoped};
pub(crate) use meta::Meta;
pub use object::Object;
pub(crate) use render::{pct, PAGE};
pub use row::HeapRow;
pub use snapshot::{hpy, Hpy};
pub use traceback::Traceback;
pub use view::By;
use view::View;

use crate::census::guard;
use crate::census::history::CtxHistory;
use crate::{Error, Result};
use partition::Partition;

/// A set of objects taken from the heap, with a view that says how it prints.
///
/// A `Heap` is a snapshot: the objects' records were copied out of the census when it was
/// taken, so it does not change when the program allocates or frees later. Its identity is
/// by object (address and allocation serial). Printing it shows guppy's partition table,
/// grouped by kind unless another view was chosen:
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let names: Vec<String> = heapy::with_kind("Name", || (0..3).map(|i| "x".repeat(i + 1)).collect());
/// let h = mark.heap();
/// assert_eq!(h.count(), 4); // the Vec's buffer and three Strings
/// assert_eq!(h.size(), 3 * 24 + 1 + 2 + 3);
/// println!("{h}");
/// // Partition of a set of 4 objects. Total size = 78 bytes.
/// //  Index  Count   %     Size   % Cumulative  % Kind (type / call site)
/// //      0      4 100       78 100        78 100 Name
/// # drop(names);
/// ```
#[derive(Clone)]
#[doc(alias("snapshot", "identity_set", "partition"))]
#[non_exhaustive]
pub struct Heap {
    objs: Arc<Vec<Obj>>,
    meta: Arc<Meta>,
    by: View,
    start: usize,
    all: bool,
    part: Arc<OnceLock<Partition>>,
    /// The census's allocation history when the heap was taken (a whole-process snapshot,
    /// or a file of one), for [`Heap::allocations`] and [`Heap::at_peak`] and the exports;
    /// `None` for subsets, marks and combinations, and for files without history.
    history: Option<Arc<Vec<CtxHistory>>>,
}

impl Heap {
    /// A heap of `objs` (any order) with names from `meta`.
    pub(crate) fn from_parts(mut objs: Vec<Obj>, meta: Arc<Meta>) -> Heap {
        guard::internal(|| {
            // Stable sort: it finds the ascending runs a registry copy is made of (each
            // thread's records come in serial order within its chunks) and merges them.
            objs.sort_by_key(|o| (o.serial, o.addr));
            objs.dedup_by_key(|o| (o.serial, o.addr));
            Heap {
                objs: Arc::new(objs),
                meta,
                by: View::By(By::Kind),
                start: 0,
                all: false,
                part: Arc::new(OnceLock::new()),
                history: None,
            }
        })
    }

    /// The same heap carrying `history` (its contexts must be named in its names table).
    pub(crate) fn with_history(mut self, history: Option<Arc<Vec<CtxHistory>>>) -> Heap {
        self.history = history;
        self
    }

    /// A heap of this process's live objects `objs` with the allocation history `history`,
    /// resolving the names of both now.
    pub(crate) fn resolve_with_history(mut objs: Vec<Obj>, history: Vec<CtxHistory>) -> Heap {
        guard::internal(|| {
            let mut ctxs: intmap::IntSet<u32> = objs.iter().map(|o| o.ctx).collect();
            ctxs.extend(history.iter().map(|h| h.ctx));
            let threads = snapshot::thread_names(&mut objs);
            Heap::from_parts(objs, Arc::new(Meta::resolve(ctxs, threads)))
                .with_history(Some(Arc::new(history)))
        })
    }

    /// Every block allocated since the start of the program the heap was taken from (freed
    /// ones included), as [`Hpy::allocations`] showed it when the heap was taken; `None`
    /// when the heap carries no history (a subset, a mark's heap, a file written without
    /// it, a sampling census).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// drop(heapy::with_kind("Gone", || vec![0u8; 40]));
    /// let h = heapy::hpy().heap();
    /// let a = h.allocations().unwrap();
    /// assert!(a.rows().any(|r| r.label() == "Gone" && r.count() >= 1));
    /// assert!(h.row(0).allocations().is_none());
    /// ```
    #[doc(alias("totals", "churn"))]
    pub fn allocations(&self) -> Option<History> {
        let h = self.history.as_ref()?;
        Some(History::new(
            h,
            self.meta.clone(),
            history::Figure::Allocated,
        ))
    }

    /// What the heap held at its peak, as [`Hpy::at_peak`] showed it when the heap was
    /// taken; `None` when the heap carries no history (see [`Heap::allocations`]).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let h = heapy::hpy().heap();
    /// assert!(h.at_peak().unwrap().size() >= h.size());
    /// ```
    #[doc(alias("peak", "high_water_mark"))]
    pub fn at_peak(&self) -> Option<History> {
        let h = self.history.as_ref()?;
        Some(History::new(h, self.meta.clone(), history::Figure::AtPeak))
    }

    /// The per-context history the heap carries, if any (for files and exports).
    pub(crate) fn history(&self) -> Option<&Arc<Vec<CtxHistory>>> {
        self.history.as_ref()
    }

    /// A heap of live objects from this process, resolving their names now.
    ///
    /// Thread names are those of the threads now in the objects' census slots; an object
    /// made by an earlier thread of a slot reused since is freed by now and left out (see
    /// `snapshot::thread_names`).
    pub(crate) fn resolve(mut objs: Vec<Obj>) -> Heap {
        guard::internal(|| {
            let ctxs: intmap::IntSet<u32> = objs.iter().map(|o| o.ctx).collect();
            let threads = snapshot::thread_names(&mut objs);
            Heap::from_parts(objs, Arc::new(Meta::resolve(ctxs, threads)))
        })
    }

    /// The same objects under another view (the partition is computed when needed).
    fn with_view(&self, by: By) -> Heap {
        let part = if self.by == by {
            self.part.clone()
        } else {
            guard::internal(|| Arc::new(OnceLock::new()))
        };
        self.with_partition(View::By(by), part)
    }

    /// The same objects under view `by`, with `part` as its (possibly not yet computed)
    /// partition.
    fn with_partition(&self, by: View, part: Arc<OnceLock<Partition>>) -> Heap {
        Heap {
            objs: self.objs.clone(),
            meta: self.meta.clone(),
            by,
            start: 0,
            all: false,
            part,
            history: self.history.clone(),
        }
    }

    /// A subset of this heap's objects (kept in serial order), with the same names.
    pub(crate) fn subset(&self, objs: Vec<Obj>) -> Heap {
        guard::internal(|| Heap {
            objs: Arc::new(objs),
            meta: self.meta.clone(),
            by: View::By(By::Kind),
            start: 0,
            all: false,
            part: Arc::new(OnceLock::new()),
            history: None,
        })
    }

    pub(crate) fn objs(&self) -> &[Obj] {
        &self.objs
    }

    pub(crate) fn meta(&self) -> &Arc<Meta> {
        &self.meta
    }

    fn partition(&self) -> &Partition {
        if let Some(p) = self.part.get() {
            return p;
        }
        let p = match self.by {
            View::By(by) => guard::internal(|| Partition::new(&self.objs, &self.meta, by)),
            // A heap under a view from above is made with its partition (`classified`);
            // should one lack it, the view itself computes it again.
            View::Outside(o) => (o.apply)(self).partition().clone(),
        };
        // Computed outside the cell, which is locked only while the result moves in, in a
        // fork-safe section (`sys::fork`): a child of `fork()` never finds the cell locked
        // by a computation of its parent's. Two threads that compute it at once both do;
        // the first result stays (the other is dropped as heapy's own memory).
        guard::internal(|| crate::sys::fork::section(|| self.part.get_or_init(|| p)))
    }

    /// Number of objects.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = vec![Box::new(1u8), Box::new(2u8)];
    /// assert_eq!(mark.heap().count(), 3);
    /// # drop(v);
    /// ```
    #[doc(alias("len", "number_of_objects"))]
    pub fn count(&self) -> usize {
        self.objs.len()
    }

    /// Total size of the objects, in bytes (the sizes the program asked for).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = vec![0u32; 25];
    /// assert_eq!(mark.heap().size(), 100);
    /// # drop(v);
    /// ```
    #[doc(alias("bytes", "total_size"))]
    pub fn size(&self) -> usize {
        self.objs.iter().map(|o| o.size).sum()
    }

    /// The estimated number of objects in the program's heap that this set stands for: with
    /// a sampling census ([`Stacks::Sampled`](crate::Stacks::Sampled)) each recorded object
    /// of size Z counts 1 / (1 - exp(-Z/R)) objects; otherwise the same as `count()`.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = vec![0u8; 10];
    /// let h = mark.heap();
    /// assert_eq!((h.estimated_count(), h.estimated_size()), (1.0, 10.0));
    /// # drop(v);
    /// ```
    pub fn estimated_count(&self) -> f64 {
        match self.meta.sample_rate {
            Some(r) => self
                .objs
                .iter()
                .map(|o| crate::stack::sample_weight(o.size, r))
                .sum(),
            None => self.count() as f64,
        }
    }

    /// The estimated bytes of the program's heap that this set stands for (see
    /// [`Heap::estimated_count`]); the same as `size()` without sampling.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = vec![0u16; 10];
    /// assert_eq!(mark.heap().estimated_size(), 20.0);
    /// # drop(v);
    /// ```
    pub fn estimated_size(&self) -> f64 {
        match self.meta.sample_rate {
            Some(r) => self
                .objs
                .iter()
                .map(|o| crate::stack::sample_weight(o.size, r) * o.size as f64)
                .sum(),
            None => self.size() as f64,
        }
    }

    /// The mean gap in bytes between samples when this heap's objects are a byte-sampled
    /// subset of the program's (its figures are then estimates), else `None`.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert_eq!(heapy::hpy().heap().sample_rate(), None);
    /// ```
    pub fn sample_rate(&self) -> Option<u64> {
        self.meta.sample_rate
    }

    /// True if the set holds no object.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert!(heapy::hpy().mark().heap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.objs.is_empty()
    }

    /// The objects, in allocation order.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let a = Box::new(1u16);
    /// let b = Box::new(2u64);
    /// let h = mark.heap();
    /// let sizes: Vec<usize> = h.objects().map(|o| o.size()).collect();
    /// assert_eq!(sizes, [2, 8]);
    /// # drop((a, b));
    /// ```
    #[doc(alias("iter"))]
    pub fn objects(&self) -> impl ExactSizeIterator<Item = Object<'_>> + '_ {
        self.objs.iter().map(|obj| Object {
            obj,
            meta: &self.meta,
        })
    }

    /// The objects for which `keep` returns true.
    ///
    /// `keep` is the program's code: it runs outside heapy's guard, so what it allocates
    /// (and keeps, or leaks) is counted as the program's, like any other allocation.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = (vec![0u8; 10], vec![0u8; 1000]);
    /// assert_eq!(mark.heap().filter(|o| o.size() > 100).size(), 1000);
    /// # drop(v);
    /// ```
    pub fn filter(&self, mut keep: impl FnMut(&Object<'_>) -> bool) -> Heap {
        // heapy's own list of answers, made under the guard; `keep` runs outside it (the
        // loop writes into the list and never grows it), so nothing `keep` allocates is
        // mistaken for heapy's.
        let mut kept = guard::internal(|| vec![false; self.objs.len()]);
        for (k, obj) in kept.iter_mut().zip(self.objs.iter()) {
            *k = keep(&Object {
                obj,
                meta: &self.meta,
            });
        }
        let objs = guard::internal(|| {
            let objs = self
                .objs
                .iter()
                .zip(&kept)
                .filter(|(_, &k)| k)
                .map(|(o, _)| *o)
                .collect();
            drop(kept);
            objs
        });
        self.subset(objs)
    }

    /// The same set, printed by `by`.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let h = heapy::hpy().heap().by(heapy::By::Thread);
    /// assert!(h.to_string().contains("Thread"));
    /// ```
    #[doc(alias("group_by", "view_by"))]
    pub fn by(&self, by: By) -> Heap {
        self.with_view(by)
    }

    /// The view this heap prints by, or `None` under one of the object graph's views
    /// ([`Heap::byrcs`], [`Heap::byvia`]), which are not [`By`]s.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert_eq!(heapy::hpy().heap().bysize().view(), Some(heapy::By::Size));
    /// ```
    pub fn view(&self) -> Option<By> {
        self.by.by()
    }

    /// The same set, grouped by kind (the default view).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let h = heapy::hpy().heap().bysize().bykind();
    /// assert!(h.to_string().contains("Kind (type / call site)"));
    /// ```
    #[doc(alias("by_kind", "by_type", "group_by"))]
    pub fn bykind(&self) -> Heap {
        self.with_view(By::Kind)
    }

    /// The same set, one row per object (size, address, kind), largest first.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let b = heapy::with_kind("Blob", || Box::new([0u8; 64]));
    /// let text = mark.heap().byid().to_string();
    /// assert!(text.starts_with("Set of 1 <Blob> objects. Total size = 64 bytes."));
    /// # drop(b);
    /// ```
    #[doc(alias("by_id", "by_object", "each_object"))]
    pub fn byid(&self) -> Heap {
        self.with_view(By::Id)
    }

    /// The same set, grouped by the size of each object.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = [Box::new(1u32), Box::new(2u32)];
    /// let text = mark.heap().bysize().to_string();
    /// assert!(text.contains("     0      2 100        8 100         8 100         4"));
    /// # drop(v);
    /// ```
    #[doc(alias("by_size"))]
    pub fn bysize(&self) -> Heap {
        self.with_view(By::Size)
    }

    /// The same set, grouped by allocating thread (its name, else its OS thread id).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let t = std::thread::Builder::new().name("loader".into()).spawn(|| {
    ///     let mark = heapy::hpy().mark();
    ///     let v = vec![0u8; 5];
    ///     let text = mark.heap().bythread().to_string();
    ///     drop(v);
    ///     text
    /// }).unwrap();
    /// assert!(t.join().unwrap().contains(" loader\n"));
    /// ```
    #[doc(alias("by_thread"))]
    pub fn bythread(&self) -> Heap {
        self.with_view(By::Thread)
    }

    /// The same set, grouped by line of allocation (guppy's `byprod`): each row is the
    /// first frame of the program's own code on the allocation stacks, labelled
    /// `file:line function`. Objects allocated while stacks were off show `<no stack>`.
    ///
    /// The program's own code is its workspace's crates: a frame in a dependency (a file in
    /// cargo's registry or git checkouts) is passed over, so what a dependency allocates is
    /// sited at the program's line that called it; a stack with no frame of the program (a
    /// thread a dependency started) is sited at its first frame outside Rust's library, its
    /// file from the crate's directory (`serde_json-1.0.154/src/de.rs:2033 …`). The
    /// function reads as in kinds (std paths shortened) and, past 60 characters, with
    /// generic arguments nested in other arguments as `<…>`; the traceback has the full
    /// name.
    ///
    /// The table's alternate form, `format!("{:#}", h.bysite())` (`heapy view --full` on
    /// the command line), prints the same rows with full labels: the function's whole name
    /// and the file as the debug info records it (a dependency's absolute path), as `{:#}`
    /// prints a [`Frame`](crate::Frame); [`HeapRow::full_label`](crate::HeapRow::full_label)
    /// gives it as data.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// fn make() -> Vec<u64> {
    ///     vec![0u64; 8]
    /// }
    ///
    /// struct Envelope<T>(T);
    ///
    /// #[inline(never)]
    /// fn wrap<T>() -> Vec<T> {
    ///     Vec::with_capacity(4)
    /// }
    ///
    /// let mark = heapy::hpy().mark();
    /// let v = make();
    /// let text = mark.heap().bysite().to_string();
    /// assert!(text.contains("Site (file:line function)"));
    /// assert!(text.contains("::make\n"), "{text}");
    ///
    /// // A long generic name: elided in the table, whole in its alternate form.
    /// let mark = heapy::hpy().mark();
    /// let w = wrap::<Envelope<Envelope<Envelope<Vec<u64>>>>>();
    /// let sites = mark.heap().bysite();
    /// let (short, full) = (sites.to_string(), format!("{sites:#}"));
    /// assert!(short.ends_with("::Envelope<…>>\n"), "{short}");
    /// assert_eq!(short.matches("Envelope").count(), 1);
    /// assert!(full.ends_with("::Envelope<alloc::vec::Vec<u64>>>>>\n"), "{full}");
    /// assert_eq!(full.matches("Envelope").count(), 3);
    /// # drop((v, w));
    /// ```
    #[doc(alias("by_site", "byprod", "by_line", "call_site"))]
    pub fn bysite(&self) -> Heap {
        self.with_view(By::Site)
    }

    /// The objects of row `i` of the current view (guppy's `h[i]`), grouped by kind.
    ///
    /// # Panics
    ///
    /// If there is no row `i`, as slice indexing does; the message names the index and the
    /// number of rows. [`Heap::try_row`] returns an error instead.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let big = heapy::with_kind("Big", || vec![0u8; 4096]);
    /// let small = heapy::with_kind("Small", || vec![0u8; 16]);
    /// let h = mark.heap();
    /// assert_eq!(h.row(0).size(), 4096);
    /// assert!(h.row(0).byid().to_string().starts_with("Set of 1 <Big> objects."));
    /// let past = std::panic::catch_unwind(|| h.row(9)).unwrap_err();
    /// assert_eq!(
    ///     past.downcast_ref::<String>().unwrap(),
    ///     "row 9 does not exist: the partition has 2 rows"
    /// );
    /// # drop((big, small));
    /// ```
    #[track_caller]
    #[doc(alias("index", "class"))]
    pub fn row(&self, i: usize) -> Heap {
        match self.try_row(i) {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        }
    }

    /// The objects of row `i`, or [`Error::NoSuchRow`] (the form of [`Heap::row`] that
    /// does not panic).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = vec![0u8; 10];
    /// let h = mark.heap();
    /// assert_eq!(h.try_row(0).unwrap().size(), 10);
    /// assert!(matches!(h.try_row(1), Err(heapy::Error::NoSuchRow { index: 1, rows: 1 })));
    /// # drop(v);
    /// ```
    pub fn try_row(&self, i: usize) -> Result<Heap> {
        let part = self.partition();
        let row = part.rows.get(i).ok_or(Error::NoSuchRow {
            index: i,
            rows: part.rows.len(),
        })?;
        let objs = guard::internal(|| {
            self.objs
                .iter()
                .zip(&part.keys)
                .filter(|(_, &k)| k == row.key)
                .map(|(o, _)| *o)
                .collect()
        });
        Ok(self.subset(objs))
    }

    /// The rows of the table under the current view, as data: each row's label, objects,
    /// bytes and cumulative bytes (see [`HeapRow`]), largest first, every row (not a page).
    /// `rows().len()` is the number of rows.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v = (vec![0u8; 3], vec![0u8; 3], vec![0u8; 7]);
    /// let h = mark.heap().bysize();
    /// assert_eq!(h.rows().len(), 2);
    /// let rows: Vec<(&str, usize, usize)> = h.rows().map(|r| (r.label(), r.count(), r.size())).collect();
    /// assert_eq!(rows, [("7", 1, 7), ("3", 2, 6)]);
    /// # drop(v);
    /// ```
    #[doc(alias("table", "partition"))]
    pub fn rows(&self) -> impl ExactSizeIterator<Item = HeapRow<'_>> + '_ {
        row::rows_of(self.partition(), self.totals())
    }

    /// The objects and bytes the table's title and percentages use: estimates for a
    /// byte-sampled heap (except one row per object, by id), else the exact figures.
    fn totals(&self) -> (usize, usize) {
        match self.meta.sample_rate {
            Some(_) if self.by != By::Id => (
                self.estimated_count().round() as usize,
                self.estimated_size().round() as usize,
            ),
            _ => (self.count(), self.size()),
        }
    }

    /// The next ten rows of the table, printable (guppy's `.more`).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v: Vec<Vec<u8>> = (1..=25).map(|n| vec![0u8; n]).collect();
    /// let h = mark.heap().bysize();
    /// assert!(h.to_string().contains("<16 more rows. Type e.g. '.more()' to view.>"));
    /// assert!(h.more().to_string().contains("<6 more rows."));
    /// assert!(!h.more().more().to_string().contains("more rows"));
    /// # drop(v);
    /// ```
    #[doc(alias("next_page"))]
    pub fn more(&self) -> Heap {
        let mut h = self.clone();
        h.start = (self.start + PAGE).min(self.partition().rows.len());
        h
    }

    /// Every row of the table, printable.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let v: Vec<Vec<u8>> = (1..=25).map(|n| vec![0u8; n]).collect();
    /// let text = mark.heap().bysize().all().to_string();
    /// assert_eq!(text.lines().count(), 2 + 26);
    /// # drop(v);
    /// ```
    #[doc(alias("all_rows"))]
    pub fn all(&self) -> Heap {
        let mut h = self.clone();
        h.all = true;
        h
    }

    /// The single object of a one-object set, or [`Error::NotOne`].
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let b = Box::new(42u32);
    /// let h = mark.heap();
    /// assert_eq!(h.theone().unwrap().address(), &*b as *const u32 as usize);
    /// # drop(b);
    /// ```
    #[doc(alias("the_one", "single", "only"))]
    pub fn theone(&self) -> Result<Object<'_>> {
        match self.objs.as_slice() {
            [obj] => Ok(Object {
                obj,
                meta: &self.meta,
            }),
            objs => Err(Error::NotOne { count: objs.len() }),
        }
    }

    /// The distinct kinds of the set, largest total size first.
    fn kinds(&self) -> Vec<String> {
        guard::internal(|| {
            let part = if self.by == By::Kind {
                std::borrow::Cow::Borrowed(self.partition())
            } else {
                std::borrow::Cow::Owned(Partition::new(&self.objs, &self.meta, By::Kind))
            };
            part.rows.iter().map(|r| r.label.clone()).collect()
        })
    }
}

impl fmt::Display for Heap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = guard::internal(|| -> std::result::Result<String, fmt::Error> {
            let part = self.partition();
            let kinds;
            let id_kinds: Vec<&str>;
            let (set_kind, ids) = if self.by == By::Id {
                kinds = self.kinds();
                id_kinds = self.objs.iter().map(|o| self.meta.kind(o.ctx)).collect();
                let single = (kinds.len() == 1).then(|| kinds[0].as_str());
                (single, Some(id_kinds.as_slice()))
            } else {
                (None, None)
            };
            let mut out = String::new();
            let note = match (self.meta.sample_rate, self.by) {
                (Some(r), View::By(By::Id)) => Some(format!(
                    "These objects are a byte-sample of the heap (mean gap {r} bytes)."
                )),
                (Some(r), _) => Some(format!(
                    "Figures are estimates from {} sampled objects (mean gap {r} bytes), each scaled by 1/(1-exp(-size/{r})).",
                    self.count()
                )),
                (None, _) => None,
            };
            let (count, size) = self.totals();
            render::Table {
                by: self.by,
                part,
                count,
                size,
                start: self.start,
                all: self.all,
                set_kind,
                id_kinds: ids,
                note: note.as_deref(),
                title: None,
                full: f.alternate(),
            }
            .write(&mut out)?;
            if self.by == By::Kind {
                merged_note(&self.objs, &self.meta, &mut out)?;
            }
            Ok(out)
        })?;
        f.write_str(&text)
    }
}

/// Under a table by kind: how many objects are named after the function that allocated them
/// because the optimiser merged their allocation calls (see `Description::merged_call`),
/// and what keeps their types.
fn merged_note(objs: &[Obj], meta: &Meta, out: &mut String) -> fmt::Result {
    use fmt::Write;
    if !meta.kinds.values().any(|d| d.merged_call) {
        return Ok(());
    }
    let merged = |ctx: u32| meta.kinds.get(&ctx).is_some_and(|d| d.merged_call);
    let (mut n, mut bytes) = (0usize, 0usize);
    for o in objs.iter().filter(|o| merged(o.ctx)) {
        n += 1;
        bytes += o.size;
    }
    if n > 0 {
        let s = if n == 1 { "" } else { "s" };
        writeln!(
            out,
            "<{n} object{s} ({bytes} bytes) named after the function that allocated them: the \
             optimiser merged their allocation calls and the debug info lost the type. Build \
             with RUSTFLAGS=\"-C llvm-args=-pick-merged-source-locations\" (LLVM 21+) to keep \
             it (heapy's README: Release builds).>"
        )?;
    }
    Ok(())
}

impl fmt::Debug for Heap {
    /// guppy's brief form: the kinds in alphabetical order, `<3 (Name | String)>`, or the
    /// first five and an open parenthesis when there are more, as guppy prints
    /// `<1266 (__main__.Person | bytearray | dict of __main__.Person | int | list | ...>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let brief = guard::internal(|| {
            let mut kinds = self.kinds();
            kinds.sort();
            let s = kinds
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ");
            if kinds.len() > 5 {
                format!("<{} ({s} | ...>", self.count())
            } else {
                format!("<{} ({s})>", self.count())
            }
        });
        f.write_str(&brief)
    }
}
