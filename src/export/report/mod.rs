//! The HTML report: one self-contained page (styles, script and data inline; no request of
//! any kind) to explore a snapshot: partition tables, drill-down, flame graph, the diff from
//! an older snapshot, memory over time, and the object graph's findings.
//!
//! The figures are aggregated here (`data.rs`), the page only draws them (`report.js`).

mod data;
mod page;

use std::path::Path;

use crate::census::guard;
use crate::export::mprof::Timeline;
use crate::graph::Cycles;
use crate::heap::Heap;
use crate::sys::atomic;
#[cfg(test)]
use crate::By;
use crate::Result;

pub(crate) use data::{PageBuilder, ViewData};

/// An interactive HTML report of a heap: one file that opens in any browser, from disk,
/// without a network (its styles, script and data are inline, and its content security
/// policy forbids every request).
///
/// The page shows the totals, guppy's partition table by kind, site, size and thread
/// (sortable, searchable; click a kind or a site to see its sites or kinds, the largest
/// objects and the traceback), an icicle flame graph of live bytes by allocation stack
/// (click to zoom, search, inverted view), and, when given, the difference from an older
/// heap ([`Report::base`]), memory over time ([`Report::timeline`]), and the object graph's
/// findings ([`Report::unreachable`], [`Report::cycles`]). Figures are aggregated before they
/// go into the page: a heap of a million objects makes a page of a few megabytes at most
/// (the 20 largest objects of each kind and site are listed, 20,000 in all).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let before = mark.heap();
/// let v = heapy::with_kind("Blob", || vec![0u8; 4096]);
/// let html = heapy::Report::new(&mark.heap())
///     .base(&before)
///     .program("demo")
///     .peak_bytes(4096)
///     .html();
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(html.contains("\"Blob\""));
/// # drop(v);
/// ```
#[derive(Clone)]
#[must_use]
#[doc(alias("html", "html_report"))]
pub struct Report<'h> {
    heap: &'h Heap,
    base: Option<&'h Heap>,
    timeline: Option<&'h Timeline>,
    unreachable: Option<&'h Heap>,
    cycles: Option<&'h Cycles>,
    program: Option<String>,
    taken: Option<f64>,
    peak: Option<u64>,
}

impl<'h> Report<'h> {
    /// A report of `heap`'s objects (the live view), named after this program, taken now.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let html = heapy::Report::new(&heapy::hpy().mark().heap()).html();
    /// assert!(html.contains("default-src 'none'"));
    /// ```
    pub fn new(heap: &'h Heap) -> Report<'h> {
        Report {
            heap,
            base: None,
            timeline: None,
            unreachable: None,
            cycles: None,
            program: None,
            taken: None,
            peak: None,
        }
    }

    /// Adds the difference from an older heap `old` (guppy's A-B table, A being the
    /// report's heap), by kind, site, size and thread.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let h = heapy::hpy().heap();
    /// let html = heapy::Report::new(&h).base(&h).html();
    /// assert!(html.contains("\"diff\":{"));
    /// ```
    pub fn base(mut self, old: &'h Heap) -> Report<'h> {
        self.base = Some(old);
        self
    }

    /// Adds memory over time: an mprof timeline, with its function brackets.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("run.dat");
    /// std::fs::write(&path, "MEM 1.0 100.0\nMEM 3.0 101.0\n").unwrap();
    /// let t = heapy::mprof::Timeline::load(&path).unwrap();
    /// let h = heapy::hpy().mark().heap();
    /// assert!(heapy::Report::new(&h).timeline(&t).html().contains("[101.0,3.0]"));
    /// ```
    pub fn timeline(mut self, timeline: &'h Timeline) -> Report<'h> {
        self.timeline = Some(timeline);
        self
    }

    /// Adds the unreachable objects ([`Hpy::heapu`](crate::Hpy::heapu)), by kind.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let none = heapy::hpy().mark().heap();
    /// let html = heapy::Report::new(&none).unreachable(&none).html();
    /// assert!(html.contains("\"unreachable\":[]"));
    /// ```
    pub fn unreachable(mut self, leaks: &'h Heap) -> Report<'h> {
        self.unreachable = Some(leaks);
        self
    }

    /// Adds reference cycles ([`Heap::cycles`]): each cycle's objects, bytes and kinds.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let h = heapy::hpy().mark().heap();
    /// let c = h.cycles();
    /// assert!(heapy::Report::new(&h).cycles(&c).html().contains("\"cycles\":[]"));
    /// ```
    pub fn cycles(mut self, cycles: &'h Cycles) -> Report<'h> {
        self.cycles = Some(cycles);
        self
    }

    /// Names the program in the header (default: this executable's file name).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let h = heapy::hpy().mark().heap();
    /// assert!(heapy::Report::new(&h).program("server").html().contains("\"program\":\"server\""));
    /// ```
    pub fn program(mut self, name: impl Into<String>) -> Report<'h> {
        // The conversion is the caller's code (outside heapy's guard); the name then counts
        // as the program's memory while the `Report` holds it.
        self.program = Some(name.into());
        self
    }

    /// When the heap was taken, in seconds since the Unix epoch (default: now).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let h = heapy::hpy().mark().heap();
    /// assert!(heapy::Report::new(&h).taken_at(1.5e9).html().contains("\"taken\":1500000000.0"));
    /// ```
    pub fn taken_at(mut self, unix_seconds: f64) -> Report<'h> {
        self.taken = Some(unix_seconds);
        self
    }

    /// The peak of the live heap in bytes, for the header. By default, the bytes of the
    /// heap at its peak when the heap carries the census's history (a whole-process
    /// snapshot, or a file of one), else none (a mark's heap or a subset does not know its
    /// process's peak; `hpy().stats().peak_live_bytes` does).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let h = heapy::hpy().mark().heap();
    /// let peak = heapy::hpy().stats().peak_live_bytes as u64;
    /// assert!(heapy::Report::new(&h).peak_bytes(peak).html().contains(&format!("\"peak\":{peak}")));
    /// ```
    pub fn peak_bytes(mut self, bytes: u64) -> Report<'h> {
        self.peak = Some(bytes);
        self
    }

    /// The page, as HTML text.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let html = heapy::Report::new(&heapy::hpy().mark().heap()).html();
    /// assert!(html.trim_end().ends_with("</html>"));
    /// ```
    pub fn html(&self) -> String {
        self.html_with(&|p| history_views(self.heap, p))
    }

    /// The page with extra views beside the live one (`html` passes the heap's history:
    /// [`history_views`]). `extra` makes them (with the page's shared strings and
    /// tracebacks), each from its figures per context with [`ViewData::from_contexts`].
    /// The page shows a switch between views when there is more than one; every view has
    /// the same parts (the tables it has, the kind × site cells, the flame graph), so the
    /// page draws them all alike: a new kind of figures per context is a new view, and
    /// nothing else.
    pub(crate) fn html_with(&self, extra: &dyn Fn(&mut PageBuilder) -> Vec<ViewData>) -> String {
        guard::internal(|| {
            let mut p = PageBuilder::default();
            let mut views = vec![ViewData::of_heap("live", "Live heap", self.heap, &mut p)];
            views.extend(extra(&mut p));
            let diff = self.base.map(|b| p.diff(self.heap, b));
            let graph = (self.unreachable.is_some() || self.cycles.is_some())
                .then(|| p.graph(self.unreachable, self.cycles));
            let program = self.program.clone().unwrap_or_else(program_name);
            // The peak: as given, else the heap at its peak that the history recorded.
            let peak = self
                .peak
                .or_else(|| self.heap.at_peak().map(|h| h.size() as u64));
            let page = data::Page {
                program,
                taken: Some(self.taken.unwrap_or_else(now)),
                version: env!("CARGO_PKG_VERSION"),
                sample_rate: self.heap.sample_rate(),
                peak,
                strings: p.strings,
                stacks: p.stacks,
                views,
                diff,
                timeline: self.timeline.map(data::timeline),
                graph,
            };
            page::render(&page)
        })
    }

    /// Writes the page to `path`, atomically (a failure leaves any old file whole), as every
    /// file heapy writes.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("report.html");
    /// heapy::Report::new(&heapy::hpy().mark().heap()).write(&path).unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().starts_with("<!DOCTYPE html>"));
    /// ```
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let html = self.html();
        guard::internal(|| {
            let r = atomic::write(path.as_ref(), html.as_bytes());
            drop(html);
            r
        })
    }
}

/// The views of the heap's allocation history, when it carries one (a whole-process
/// snapshot, or a file of one): every block allocated since the start, freed ones included
/// (where the churn comes from), and what the heap held at its peak.
pub(crate) fn history_views(heap: &Heap, p: &mut PageBuilder) -> Vec<ViewData> {
    let mut views = Vec::new();
    for (id, title, history) in [
        ("allocations", "Allocated since start", heap.allocations()),
        ("peak", "Heap at its peak", heap.at_peak()),
    ] {
        let Some(history) = history else { continue };
        let per_ctx = history
            .items()
            .iter()
            .map(|&(ctx, n, b)| (ctx, (n as u64, b as u64)))
            .collect();
        views.push(ViewData::from_contexts(
            id,
            title,
            &per_ctx,
            history.meta(),
            p,
        ));
    }
    views
}

/// This executable's file name, or `program`.
fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "program".to_owned())
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Heap {
    /// Writes an interactive HTML report of this heap to `path` (feature `report`): the
    /// page of [`Report::new`]`(self)`, for a heap alone. Use [`Report`] to add a base
    /// heap, a timeline, the graph's findings or the peak.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let mark = heapy::hpy().mark();
    /// let v = heapy::with_kind("Blob", || vec![0u8; 100]);
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("report.html");
    /// mark.heap().report(&path).unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().contains("\"Blob\""));
    /// # drop(v);
    /// ```
    #[doc(alias("html_report"))]
    pub fn report(&self, path: impl AsRef<Path>) -> Result<()> {
        Report::new(self).write(path)
    }

    /// The interactive HTML report of this heap, as text (feature `report`; see
    /// [`Heap::report`] and [`Report`]).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let html = heapy::hpy().mark().heap().report_html();
    /// assert!(html.starts_with("<!DOCTYPE html>"));
    /// ```
    pub fn report_html(&self) -> String {
        Report::new(self).html()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::test_support::sample_heap;
    use serde_json::Value;

    /// The data a page carries, parsed back.
    fn data(html: &str) -> Value {
        let start = html.find("id=\"heapy-data\">").unwrap() + "id=\"heapy-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end]).unwrap()
    }

    #[test]
    fn live_view_tables_are_the_heaps_partitions() {
        let h = sample_heap();
        let d = data(&Report::new(&h).program("demo").taken_at(1.0).html());
        let strings: Vec<&str> = d["strings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let view = &d["views"][0];
        assert_eq!(view["id"], "live");
        assert_eq!(
            (view["count"].as_u64(), view["bytes"].as_u64()),
            (Some(h.count() as u64), Some(h.size() as u64))
        );
        for by in [By::Kind, By::Site, By::Size, By::Thread] {
            let page: Vec<(&str, u64, u64)> = view["tables"][by.name()]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        strings[r[0].as_u64().unwrap() as usize],
                        r[1].as_u64().unwrap(),
                        r[2].as_u64().unwrap(),
                    )
                })
                .collect();
            let hb = h.by(by);
            let heap: Vec<(&str, u64, u64)> = hb
                .rows()
                .map(|r| (r.label(), r.count() as u64, r.size() as u64))
                .collect();
            assert_eq!(page, heap, "by {by}");
        }
        // The flame graph's root holds every byte; each cell's objects are its largest.
        assert_eq!(view["flame"]["bytes"][0].as_u64(), Some(h.size() as u64));
        let objects: u64 = view["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["objects"].as_array().unwrap().len() as u64)
            .sum();
        assert_eq!(objects, h.count() as u64);
    }

    #[test]
    fn extra_views_come_from_figures_per_context() {
        // What history will give: figures per context (here each live figure tripled).
        let h = sample_heap();
        let tripled: std::collections::BTreeMap<u32, (u64, u64)> = crate::export::per_context(&h)
            .into_iter()
            .map(|(c, (n, b))| (c, (3 * n, 3 * b)))
            .collect();
        let meta = h.meta().clone();
        let html = Report::new(&h).html_with(&|p| {
            vec![ViewData::from_contexts(
                "allocations",
                "Allocated since start",
                &tripled,
                &meta,
                p,
            )]
        });
        let d = data(&html);
        let views = d["views"].as_array().unwrap();
        assert_eq!(views.len(), 2);
        assert_eq!(views[1]["id"], "allocations");
        assert_eq!(views[1]["bytes"].as_u64(), Some(3 * h.size() as u64));
        assert_eq!(
            views[1]["flame"]["bytes"][0].as_u64(),
            Some(3 * h.size() as u64)
        );
        // Kind and site tables; no objects, so no table by size or thread.
        let tables = views[1]["tables"].as_object().unwrap();
        assert_eq!(tables.keys().collect::<Vec<_>>(), ["kind", "site"]);
        assert_eq!(
            views[1]["tables"]["kind"][0][2].as_u64(),
            Some(3 * h.rows().next().unwrap().size() as u64)
        );
    }
}
