//! The report's data: what the page shows, aggregated here so that the page never holds one
//! element per object. It goes into the page as one JSON document (see `page.rs`).
//!
//! A *view* is one set of figures about the heap (the live heap now; later the allocations
//! since start and the heap at its peak): its partition tables, its kind × site cells (the
//! drill-down), and its flame graph. Every view has the same shape, so the page switches
//! between them without knowing which is which.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::export::folded;
use crate::export::mprof::Timeline;
use crate::graph::Cycles;
use crate::heap::{Heap, Meta, Obj};
use crate::By;

/// Objects embedded in the page at most, over all cells (the largest of each cell, the
/// largest cells first): the page lists objects, it does not hold the heap.
pub(crate) const OBJECT_BUDGET: usize = 20_000;
/// Objects embedded per cell at most.
pub(crate) const OBJECTS_PER_CELL: usize = 20;
/// Memory-over-time samples embedded at most (the highest of each stretch is kept).
pub(crate) const MAX_SAMPLES: usize = 4_000;

/// Strings the page shows, each once; the rest of the data names them by index.
#[derive(Default, Serialize)]
#[serde(transparent)]
pub(crate) struct Strings {
    list: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

impl Strings {
    pub(crate) fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }
}

/// One row of a table: label (a string id), objects, bytes.
pub(crate) type TableRow = (u32, u64, u64);

/// A flame graph as a tree in parallel arrays; node 0 is the root (`all`), every other
/// node's parent comes before it.
#[derive(Default, Serialize)]
pub(crate) struct Flame {
    pub name: Vec<u32>,
    pub parent: Vec<u32>,
    pub bytes: Vec<u64>,
    pub count: Vec<u64>,
}

impl Flame {
    /// The tree of `stacks` (frames root first, objects, bytes).
    fn build(
        strings: &mut Strings,
        stacks: impl Iterator<Item = (Vec<String>, u64, u64)>,
    ) -> Flame {
        let mut f = Flame::default();
        let all = strings.id("all");
        f.name.push(all);
        f.parent.push(0);
        f.bytes.push(0);
        f.count.push(0);
        let mut children: HashMap<(u32, u32), u32> = HashMap::new();
        for (frames, count, bytes) in stacks {
            let mut node = 0u32;
            f.bytes[0] += bytes;
            f.count[0] += count;
            for frame in &frames {
                let name = strings.id(frame);
                let next = *children.entry((node, name)).or_insert_with(|| {
                    f.name.push(name);
                    f.parent.push(node);
                    f.bytes.push(0);
                    f.count.push(0);
                    (f.name.len() - 1) as u32
                });
                f.bytes[next as usize] += bytes;
                f.count[next as usize] += count;
                node = next;
            }
        }
        f
    }
}

/// A class of objects with one kind and one site: the drill-down's unit.
#[derive(Serialize)]
pub(crate) struct Cell {
    pub kind: u32,
    pub site: u32,
    pub count: u64,
    pub bytes: u64,
    /// The traceback (index into `Page::stacks`) of the cell's context with the most
    /// bytes, as `Heap::traceback` chooses, or none without a stack.
    pub stack: Option<u32>,
    /// The distinct stacks among the cell's objects.
    pub stacks: u32,
    /// The cell's largest objects: `[address, size, serial, thread label id]` (empty for a
    /// view without objects).
    pub objects: Vec<(u64, u64, u64, u32)>,
}

/// One view of the heap: tables, cells and flame graph.
#[derive(Serialize)]
pub(crate) struct ViewData {
    /// `live`, `allocations`, `peak`, ...: the view's id.
    pub id: String,
    /// What the view shows, in words (`Live heap`).
    pub title: String,
    pub count: u64,
    pub bytes: u64,
    /// Tables by `kind`, `site`, and (for a view with objects) `size` and `thread`.
    pub tables: BTreeMap<&'static str, Vec<TableRow>>,
    pub cells: Vec<Cell>,
    pub flame: Flame,
}

impl ViewData {
    /// A view from figures per context (allocation stack or tag): `per_ctx` maps each
    /// context of `meta` to its objects and bytes. The kind and site tables, the cells and
    /// the flame graph come from these figures alone, so a view of history (totals per
    /// context, or each context's share of the peak) is made by this same function.
    pub(crate) fn from_contexts(
        id: &str,
        title: &str,
        per_ctx: &BTreeMap<u32, (u64, u64)>,
        meta: &Meta,
        p: &mut PageBuilder,
    ) -> ViewData {
        let strings = &mut p.strings;
        // Cells: (kind, site) → figures, and the context with the most bytes.
        let mut cells: Vec<Cell> = Vec::new();
        let mut cell_of: HashMap<(u32, u32), usize> = HashMap::new();
        let mut best: Vec<(u32, u64)> = Vec::new();
        let mut count = 0u64;
        let mut bytes = 0u64;
        for (&ctx, &(n, b)) in per_ctx {
            count += n;
            bytes += b;
            let kind = strings.id(meta.kind(ctx));
            let site = strings.id(meta.site(ctx));
            let i = *cell_of.entry((kind, site)).or_insert_with(|| {
                cells.push(Cell {
                    kind,
                    site,
                    count: 0,
                    bytes: 0,
                    stack: None,
                    stacks: 0,
                    objects: Vec::new(),
                });
                best.push((ctx, 0));
                cells.len() - 1
            });
            let c = &mut cells[i];
            c.count += n;
            c.bytes += b;
            c.stacks += 1;
            // The largest context wins; on a tie the lower id, as `Heap::traceback` does.
            if b > best[i].1 || (b == best[i].1 && ctx < best[i].0) {
                best[i] = (ctx, b);
            }
        }
        for (c, (ctx, _)) in cells.iter_mut().zip(&best) {
            c.stack = p.stack_of(meta, *ctx);
        }
        let strings = &mut p.strings;
        let mut tables = BTreeMap::new();
        for (name, key) in [("kind", 0usize), ("site", 1)] {
            let mut sums: HashMap<u32, (u64, u64)> = HashMap::new();
            for c in &cells {
                let e = sums
                    .entry(if key == 0 { c.kind } else { c.site })
                    .or_default();
                e.0 += c.count;
                e.1 += c.bytes;
            }
            let mut rows: Vec<TableRow> = sums.into_iter().map(|(l, (n, b))| (l, n, b)).collect();
            sort_rows(&mut rows, strings);
            tables.insert(name, rows);
        }
        let flame = Flame::build(
            strings,
            per_ctx.iter().map(|(&ctx, &(n, b))| {
                let frames = folded::stack(meta.kinds.get(&ctx).map(|d| &**d), meta.kind(ctx));
                (frames, n, b)
            }),
        );
        cells.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.count.cmp(&a.count)));
        ViewData {
            id: id.to_owned(),
            title: title.to_owned(),
            count,
            bytes,
            tables,
            cells,
            flame,
        }
    }

    /// The view of a heap's objects: `from_contexts` of its figures per context, with the
    /// tables by size and by thread (the heap's own partitions) and each cell's largest
    /// objects.
    pub(crate) fn of_heap(id: &str, title: &str, h: &Heap, p: &mut PageBuilder) -> ViewData {
        let meta = h.meta();
        let per_ctx = super::super::per_context(h);
        let mut v = ViewData::from_contexts(id, title, &per_ctx, meta, p);
        for by in [By::Size, By::Thread] {
            let rows: Vec<TableRow> = h
                .by(by)
                .rows()
                .map(|r| (p.strings.id(r.label()), r.count() as u64, r.size() as u64))
                .collect();
            v.tables.insert(by.name(), rows);
        }
        v.add_objects(h.objs(), meta, p);
        v
    }

    /// Puts each cell's largest objects in (largest cells first, within the page's budget).
    fn add_objects(&mut self, objs: &[Obj], meta: &Meta, p: &mut PageBuilder) {
        let mut index: HashMap<(u32, u32), usize> = HashMap::new();
        for (i, c) in self.cells.iter().enumerate() {
            index.insert((c.kind, c.site), i);
        }
        let mut per_cell: Vec<Vec<u32>> = vec![Vec::new(); self.cells.len()];
        let mut cell_of_ctx: HashMap<u32, usize> = HashMap::new();
        for (i, o) in objs.iter().enumerate() {
            let cell = *cell_of_ctx.entry(o.ctx).or_insert_with(|| {
                let k = p.strings.id(meta.kind(o.ctx));
                let s = p.strings.id(meta.site(o.ctx));
                index[&(k, s)]
            });
            per_cell[cell].push(i as u32);
        }
        let mut budget = OBJECT_BUDGET;
        for (cell, mut list) in self.cells.iter_mut().zip(per_cell) {
            let k = OBJECTS_PER_CELL.min(budget).min(list.len());
            if k == 0 {
                continue;
            }
            let key = |i: &u32| {
                let o = &objs[*i as usize];
                (std::cmp::Reverse(o.size), o.addr)
            };
            if list.len() > k {
                list.select_nth_unstable_by_key(k - 1, key);
                list.truncate(k);
            }
            list.sort_by_key(key);
            budget -= k;
            cell.objects = list
                .into_iter()
                .map(|i| {
                    let o = &objs[i as usize];
                    let t = p.strings.id(meta.thread(o.thread));
                    (o.addr as u64, o.size as u64, o.serial, t)
                })
                .collect();
        }
    }
}

/// Rows largest first, then most objects, then by label (as the partitions sort).
pub(crate) fn sort_rows(rows: &mut [TableRow], strings: &Strings) {
    rows.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then(b.1.cmp(&a.1))
            .then_with(|| strings.list[a.0 as usize].cmp(&strings.list[b.0 as usize]))
    });
}

/// The difference of the live heap from an older one (guppy's A-B), per table.
#[derive(Serialize)]
pub(crate) struct DiffData {
    pub a: (u64, u64),
    pub b: (u64, u64),
    /// Per view: `[label id, objects A-B, bytes A-B]`, largest absolute change first.
    pub tables: BTreeMap<&'static str, Vec<(u32, i64, i64)>>,
}

/// A memory-over-time timeline (mprof's `.dat`).
#[derive(Serialize)]
pub(crate) struct TimelineData {
    pub cmdline: Option<String>,
    /// `[unix seconds, MiB]`.
    pub samples: Vec<(f64, f64)>,
    /// `[name, start time, start MiB, end time, end MiB, level]`.
    pub funcs: Vec<(String, f64, f64, f64, f64, u32)>,
}

/// What the object graph found.
#[derive(Serialize)]
pub(crate) struct GraphData {
    /// Unreachable objects by kind: `[label id, objects, bytes]`, or none if not given.
    pub unreachable: Option<Vec<TableRow>>,
    /// Each cycle: objects, bytes, and its kinds (label ids).
    pub cycles: Option<Vec<(u64, u64, Vec<u32>)>>,
}

/// The whole page's data.
#[derive(Serialize)]
pub(crate) struct Page {
    pub program: String,
    /// Unix seconds.
    pub taken: Option<f64>,
    pub version: &'static str,
    pub sample_rate: Option<u64>,
    pub peak: Option<u64>,
    pub strings: Strings,
    /// Tracebacks: frames (string ids), most recent call first.
    pub stacks: Vec<Vec<u32>>,
    pub views: Vec<ViewData>,
    pub diff: Option<DiffData>,
    pub timeline: Option<TimelineData>,
    pub graph: Option<GraphData>,
}

/// Strings and tracebacks shared by the views being made.
#[derive(Default)]
pub(crate) struct PageBuilder {
    pub strings: Strings,
    pub stacks: Vec<Vec<u32>>,
    stack_index: HashMap<Vec<u32>, u32>,
}

impl PageBuilder {
    /// The traceback of context `ctx` (an index into `stacks`), or none without frames.
    fn stack_of(&mut self, meta: &Meta, ctx: u32) -> Option<u32> {
        let d = meta.kinds.get(&ctx)?;
        if d.frames.is_empty() {
            return None;
        }
        let frames: Vec<u32> = d
            .frames
            .iter()
            .map(|f| self.strings.id(&f.to_string()))
            .collect();
        let next = self.stacks.len() as u32;
        let i = *self.stack_index.entry(frames.clone()).or_insert(next);
        if i == next {
            self.stacks.push(frames);
        }
        Some(i)
    }

    /// The diff tables of `a` from `b` (the heap layer's `Heap::diff`, per view).
    pub(crate) fn diff(&mut self, a: &Heap, b: &Heap) -> DiffData {
        let mut tables = BTreeMap::new();
        let mut totals = ((0, 0), (0, 0));
        for by in [By::Kind, By::Site, By::Size, By::Thread] {
            let d = a.by(by).diff(b);
            totals = (
                (d.a_count() as u64, d.a_size() as u64),
                (d.b_count() as u64, d.b_size() as u64),
            );
            let rows = d
                .rows()
                .map(|r| (self.strings.id(r.label()), r.count(), r.size()))
                .collect();
            tables.insert(by.name(), rows);
        }
        DiffData {
            a: totals.0,
            b: totals.1,
            tables,
        }
    }

    /// The graph's findings: unreachable objects by kind, and cycles.
    pub(crate) fn graph(
        &mut self,
        unreachable: Option<&Heap>,
        cycles: Option<&Cycles>,
    ) -> GraphData {
        let unreachable = unreachable.map(|h| {
            h.bykind()
                .rows()
                .map(|r| {
                    (
                        self.strings.id(r.label()),
                        r.count() as u64,
                        r.size() as u64,
                    )
                })
                .collect()
        });
        let cycles = cycles.map(|c| {
            c.rows()
                .map(|r| {
                    let kinds = r
                        .heap()
                        .bykind()
                        .rows()
                        .map(|k| self.strings.id(k.label()))
                        .collect();
                    (r.count() as u64, r.size() as u64, kinds)
                })
                .collect()
        });
        GraphData {
            unreachable,
            cycles,
        }
    }
}

/// A timeline's samples (at most `MAX_SAMPLES`: the highest of each stretch) and brackets.
pub(crate) fn timeline(t: &Timeline) -> TimelineData {
    let mem = t.mem();
    let samples = if mem.len() <= MAX_SAMPLES {
        mem.iter().map(|s| (s.time, s.mib)).collect()
    } else {
        mem.chunks(mem.len().div_ceil(MAX_SAMPLES))
            .map(|c| {
                let top = c
                    .iter()
                    .max_by(|a, b| a.mib.total_cmp(&b.mib))
                    .expect("chunks are not empty");
                (top.time, top.mib)
            })
            .collect()
    };
    TimelineData {
        cmdline: t.cmdline().map(str::to_owned),
        samples,
        funcs: t
            .funcs()
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    f.start.time,
                    f.start.mib,
                    f.end.time,
                    f.end.mib,
                    f.level,
                )
            })
            .collect(),
    }
}
