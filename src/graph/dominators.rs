//! Retained sizes: what freeing an object or a set would free. Per object, from a dominator
//! tree (Cooper, Harvey and Kennedy's iterative algorithm); per set, by reachability with
//! the set taken out.
//!
//! Leaked objects have no path from a root, but they still hold what they point to. So the
//! tree's virtual root points at the roots' targets and at every object of the unreachable
//! strongly connected components that nothing else unreachable points into: a leaked cycle
//! then retains what hangs from it, and an object that a leak also points to is not
//! retained by any one live object (freeing that object would not free it).

use std::fmt;
use std::sync::Arc;

use super::cycles::sccs;
use super::roots::Here;
use super::scan::Graph;
use super::views::pick;
use super::{members, or_panic, process_graph};
use crate::census::guard;
use crate::heap::{pct, Heap, Meta, Obj, PAGE};
use crate::{Object, Result};

/// Where walks of the graph start: the roots' targets, then the entry points of leaked
/// structures.
fn sources(g: &Graph) -> Vec<u32> {
    let reached = g.reached();
    let (comp, count) = sccs(g, |v| !reached[v as usize]);
    let mut entered = vec![false; count];
    for i in 0..g.len() {
        if reached[i] {
            continue;
        }
        for (t, _) in g.edges(i) {
            if !reached[t as usize] && comp[t as usize] != comp[i] {
                entered[comp[t as usize] as usize] = true;
            }
        }
    }
    let mut out: Vec<u32> = g.roots.iter().map(|h| h.target).collect();
    out.extend(
        (0..g.len() as u32)
            .filter(|&v| !reached[v as usize] && !entered[comp[v as usize] as usize]),
    );
    out
}

/// The objects freed if the set `s` were: everything reachable from the sources or `s`,
/// less what the sources still reach without passing through `s`.
fn dominated(g: &Graph, s: &[bool]) -> Vec<bool> {
    let src = sources(g);
    let from_s = (0..g.len() as u32).filter(|&v| s[v as usize]);
    let all = g.reach(src.iter().copied().chain(from_s), |_| true);
    let kept = g.reach(src.iter().copied().filter(|&v| !s[v as usize]), |v| {
        !s[v as usize]
    });
    (0..g.len()).map(|v| all[v] && (s[v] || !kept[v])).collect()
}

/// Each node's retained size (its own size plus everything it dominates).
fn retained_sizes(g: &Graph) -> Vec<usize> {
    let n = g.len();
    let root = n as u32;
    let src = sources(g);
    let mut from_root = vec![false; n];
    for &s in &src {
        from_root[s as usize] = true;
    }
    // Depth-first postorder from the virtual root.
    const UNSEEN: u32 = u32::MAX;
    let mut po = vec![UNSEEN; n + 1];
    let mut order: Vec<u32> = Vec::with_capacity(n + 1);
    let mut visited = vec![false; n + 1];
    let mut call: Vec<(u32, usize)> = vec![(root, 0)];
    visited[n] = true;
    while let Some(&mut (v, ref mut e)) = call.last_mut() {
        let next = if v == root {
            let t = src.get(*e).copied();
            *e += 1;
            t
        } else {
            let end = g.first[v as usize + 1];
            let pos = g.first[v as usize] + *e;
            *e += 1;
            (pos < end).then(|| g.to[pos])
        };
        match next {
            Some(t) => {
                if !visited[t as usize] {
                    visited[t as usize] = true;
                    call.push((t, 0));
                }
            }
            None => {
                po[v as usize] = order.len() as u32;
                order.push(v);
                call.pop();
            }
        }
    }
    let (rfirst, rfrom, _) = g.reverse();
    let mut idom = vec![UNSEEN; n + 1];
    idom[n] = root;
    let intersect = |idom: &[u32], mut a: u32, mut b: u32| -> u32 {
        while a != b {
            while po[a as usize] < po[b as usize] {
                a = idom[a as usize];
            }
            while po[b as usize] < po[a as usize] {
                b = idom[b as usize];
            }
        }
        a
    };
    let mut changed = true;
    while changed {
        changed = false;
        for &v in order.iter().rev() {
            if v == root {
                continue;
            }
            let mut new = if from_root[v as usize] { root } else { UNSEEN };
            for &p in &rfrom[rfirst[v as usize]..rfirst[v as usize + 1]] {
                if idom[p as usize] == UNSEEN {
                    continue;
                }
                new = if new == UNSEEN {
                    p
                } else {
                    intersect(&idom, p, new)
                };
            }
            if new != UNSEEN && idom[v as usize] != new {
                idom[v as usize] = new;
                changed = true;
            }
        }
    }
    let mut retained: Vec<usize> = g.nodes.iter().map(|o| o.size).collect();
    retained.push(0);
    // Postorder: every node comes before its immediate dominator (a DFS-tree ancestor).
    for &v in &order {
        if v == root || idom[v as usize] == UNSEEN {
            continue;
        }
        let r = retained[v as usize];
        retained[idom[v as usize] as usize] += r;
    }
    retained.truncate(n);
    retained
}

/// A set's objects sorted by retained size, largest first, from [`Heap::retained`].
///
/// An object's retained size is its own size plus the size of everything it dominates:
/// what would be freed with it, because every path to those objects from a root (or from a
/// leak) passes through it.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// // Built on a thread that then exits, so that no stale copy of an inner buffer's address
/// // stays on this stack (a conservative scan would count it as a root).
/// let table = std::thread::spawn(|| heapy::with_kind("Table", || vec![vec![0u8; 100], vec![0u8; 200]]))
///     .join()
///     .unwrap();
/// let r = heapy::hpy().heap().filter(|o| o.kind() == "Table").retained();
/// let top = r.get(0).unwrap();
/// assert_eq!(top.size(), 48); // the outer Vec's buffer ...
/// assert_eq!(top.retained(), 48 + 100 + 200); // ... holds the two inner buffers
/// println!("{r}");
/// # drop(table);
/// ```
#[derive(Clone)]
#[non_exhaustive]
#[doc(alias("dominator_tree", "retained_sizes"))]
pub struct Retained {
    rows: Vec<(Obj, usize)>,
    meta: Arc<Meta>,
    live_bytes: usize,
    start: usize,
    all: bool,
}

impl Retained {
    /// Number of objects (the set's objects still live, one row each).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v = heapy::with_kind("Counted", || vec![Box::new(1u8), Box::new(2u8)]);
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "Counted").retained();
    /// assert_eq!((r.count(), r.rows().len()), (3, 3));
    /// # drop(v);
    /// ```
    pub fn count(&self) -> usize {
        self.rows.len()
    }

    /// The objects' own bytes, together (the table's Total size).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v = heapy::with_kind("Sized", || vec![Box::new(1u8), Box::new(2u8)]);
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "Sized").retained();
    /// assert_eq!(r.size(), 2 * 8 + 2);
    /// # drop(v);
    /// ```
    pub fn size(&self) -> usize {
        self.rows.iter().map(|r| r.0.size).sum()
    }

    /// True if there is no object.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert!(heapy::hpy().mark().heap().retained().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows as data, largest retained size first (see [`RetainedRow`]);
    /// `rows().len()` is the number of rows.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v = heapy::with_kind("Rows", || vec![Box::new(1u8), Box::new(2u8)]);
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "Rows").retained();
    /// let retained: Vec<usize> = r.rows().map(|row| row.retained()).collect();
    /// assert!(retained.windows(2).all(|w| w[0] >= w[1]));
    /// # drop(v);
    /// ```
    pub fn rows(&self) -> impl ExactSizeIterator<Item = RetainedRow<'_>> + '_ {
        self.rows.iter().map(|row| self.row(row))
    }

    /// Row `i` (largest retained size first), if there is one.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let b = heapy::with_kind("Leaf", || Box::new(1u64));
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "Leaf").retained();
    /// assert_eq!(r.get(0).unwrap().retained(), 8);
    /// assert!(r.get(1).is_none());
    /// # drop(b);
    /// ```
    pub fn get(&self, i: usize) -> Option<RetainedRow<'_>> {
        self.rows.get(i).map(|row| self.row(row))
    }

    fn row<'r>(&'r self, (obj, retained): &'r (Obj, usize)) -> RetainedRow<'r> {
        RetainedRow {
            object: Object {
                obj,
                meta: &self.meta,
            },
            retained: *retained,
            live_bytes: self.live_bytes,
        }
    }

    /// The next ten rows.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v: Vec<Box<u8>> = heapy::with_kind("R", || (0..12).map(Box::new).collect());
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "R").retained();
    /// assert!(r.to_string().contains("<3 more rows."));
    /// assert!(!r.more().to_string().contains("more rows"));
    /// # drop(v);
    /// ```
    pub fn more(&self) -> Retained {
        let mut r = self.clone();
        r.start = (self.start + PAGE).min(self.rows.len());
        r
    }

    /// Every row.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v: Vec<Box<u8>> = heapy::with_kind("S", || (0..12).map(Box::new).collect());
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "S").retained();
    /// assert_eq!(r.all().to_string().lines().count(), 2 + 13);
    /// # drop(v);
    /// ```
    pub fn all(&self) -> Retained {
        let mut r = self.clone();
        r.all = true;
        r
    }
}

/// One row of a [`Retained`] table: an object and the bytes that freeing it would free.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// // Built on a thread that then exits (see `Heap::domisize`).
/// let held = std::thread::spawn(|| heapy::with_kind("Owner", || Box::new(vec![0u8; 500])))
///     .join()
///     .unwrap();
/// let r = heapy::hpy().heap().filter(|o| o.kind() == "Owner").retained();
/// let row = r.get(0).unwrap();
/// assert_eq!((row.object().kind(), row.size(), row.retained()), ("Owner", 24, 24 + 500));
/// # drop(held);
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct RetainedRow<'r> {
    object: Object<'r>,
    retained: usize,
    live_bytes: usize,
}

impl<'r> RetainedRow<'r> {
    /// The object.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let b = heapy::with_kind("Mine", || Box::new(3u32));
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "Mine").retained();
    /// assert_eq!(r.get(0).unwrap().object().address(), &*b as *const u32 as usize);
    /// # drop(b);
    /// ```
    pub fn object(&self) -> Object<'r> {
        self.object
    }

    /// The object's own size, in bytes.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let b = heapy::with_kind("Own", || Box::new([0u8; 40]));
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "Own").retained();
    /// assert_eq!(r.get(0).unwrap().size(), 40);
    /// # drop(b);
    /// ```
    pub fn size(&self) -> usize {
        self.object.size()
    }

    /// The object's retained size: its own size plus that of everything it dominates, in
    /// bytes.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let b = heapy::with_kind("Alone", || Box::new([0u8; 40]));
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "Alone").retained();
    /// assert_eq!(r.get(0).unwrap().retained(), 40); // it points to nothing
    /// # drop(b);
    /// ```
    #[doc(alias("retained_size"))]
    pub fn retained(&self) -> usize {
        self.retained
    }

    /// The retained size as a percentage of every live byte of the process when the graph
    /// was scanned (the table prints it rounded).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let b = heapy::with_kind("Share", || Box::new([0u8; 40]));
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "Share").retained();
    /// let pct = r.get(0).unwrap().retained_percent();
    /// assert!(pct > 0.0 && pct <= 100.0);
    /// # drop(b);
    /// ```
    pub fn retained_percent(&self) -> f64 {
        if self.live_bytes == 0 {
            0.0
        } else {
            self.retained as f64 * 100.0 / self.live_bytes as f64
        }
    }
}

impl fmt::Debug for RetainedRow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetainedRow")
            .field("address", &self.object.address())
            .field("kind", &self.object.kind())
            .field("size", &self.size())
            .field("retained", &self.retained)
            .finish()
    }
}

impl fmt::Display for Retained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Set of {} objects by retained size. Total size = {} bytes.",
            self.count(),
            self.size()
        )?;
        writeln!(
            f,
            " Index     Size   Retained   % Address         Kind (type / call site)"
        )?;
        let end = if self.all {
            self.rows.len()
        } else {
            (self.start + PAGE).min(self.rows.len())
        };
        for (i, (o, r)) in self.rows[self.start.min(end)..end].iter().enumerate() {
            writeln!(
                f,
                "{:6} {:8} {:10} {:3} {:<#15x} {}",
                self.start + i,
                o.size,
                r,
                pct(*r, self.live_bytes),
                o.addr,
                self.meta.kind(o.ctx)
            )?;
        }
        if end < self.rows.len() {
            writeln!(
                f,
                "<{} more rows. Type e.g. '.more()' to view.>",
                self.rows.len() - end
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for Retained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retained")
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

impl Heap {
    /// The dominated size of the set (guppy's `domisize`): the bytes that would be freed if
    /// the set's objects were, directly or through objects only they keep alive. Includes
    /// the set's own live objects.
    ///
    /// # Panics
    ///
    /// When this process may not read its own memory (see
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable)); [`Heap::try_domisize`]
    /// returns that error instead.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// // Built on a thread that then exits, so that no stale copy of the inner buffer's
    /// // address stays on this stack (a conservative scan would count it as a root).
    /// let nested = std::thread::spawn(|| heapy::with_kind("Outer", || Box::new(vec![0u8; 1000])))
    ///     .join()
    ///     .unwrap();
    /// let outer = heapy::hpy().heap().filter(|o| o.kind() == "Outer" && o.size() == 24);
    /// assert_eq!(outer.domisize(), 24 + 1000);
    /// # drop(nested);
    /// ```
    #[doc(alias("dominated_size", "retained_size"))]
    #[track_caller]
    pub fn domisize(&self) -> usize {
        let here = Here::capture();
        or_panic(dominos(self, &here)).size()
    }

    /// The dominated size of the set, as [`Heap::domisize`]; or
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable) when this process may not
    /// read its own memory.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let nested = std::thread::spawn(|| heapy::with_kind("Outer", || Box::new(vec![0u8; 1000])))
    ///     .join()
    ///     .unwrap();
    /// let outer = heapy::hpy().heap().filter(|o| o.kind() == "Outer" && o.size() == 24);
    /// assert_eq!(outer.try_domisize().unwrap(), 24 + 1000);
    /// # drop(nested);
    /// ```
    pub fn try_domisize(&self) -> Result<usize> {
        let here = Here::capture();
        Ok(dominos(self, &here)?.size())
    }

    /// The objects the set dominates (guppy's `dominos`): those that would be freed if the
    /// set's objects were, the set's own live objects included.
    ///
    /// # Panics
    ///
    /// When this process may not read its own memory (see
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable)); [`Heap::try_dominos`]
    /// returns that error instead.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// // Built on a thread that then exits, so that no stale copy of the inner buffer's
    /// // address stays on this stack (a conservative scan would count it as a root).
    /// let nested = std::thread::spawn(|| heapy::with_kind("Outer", || Box::new(vec![0u8; 1000])))
    ///     .join()
    ///     .unwrap();
    /// let outer = heapy::hpy().heap().filter(|o| o.kind() == "Outer" && o.size() == 24);
    /// let d = outer.dominos();
    /// assert_eq!((d.count(), d.size()), (2, 1024));
    /// # drop(nested);
    /// ```
    #[doc(alias("dominated", "dominated_objects"))]
    #[track_caller]
    pub fn dominos(&self) -> Heap {
        let here = Here::capture();
        or_panic(dominos(self, &here))
    }

    /// The objects the set dominates, as [`Heap::dominos`]; or
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable) when this process may not
    /// read its own memory.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let nested = std::thread::spawn(|| heapy::with_kind("Outer", || Box::new(vec![0u8; 1000])))
    ///     .join()
    ///     .unwrap();
    /// let outer = heapy::hpy().heap().filter(|o| o.kind() == "Outer" && o.size() == 24);
    /// assert_eq!(outer.try_dominos().unwrap().size(), 1024);
    /// # drop(nested);
    /// ```
    pub fn try_dominos(&self) -> Result<Heap> {
        let here = Here::capture();
        dominos(self, &here)
    }

    /// The set's objects sorted by retained size, largest first: the objects that keep the
    /// most memory alive. See [`Retained`].
    ///
    /// # Panics
    ///
    /// When this process may not read its own memory (see
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable)); [`Heap::try_retained`]
    /// returns that error instead.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// // Built on a thread that then exits (see `domisize`).
    /// let big = std::thread::spawn(|| heapy::with_kind("Holder", || Box::new(vec![0u8; 4096])))
    ///     .join()
    ///     .unwrap();
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "Holder").retained();
    /// assert_eq!(r.get(0).unwrap().retained(), 24 + 4096);
    /// assert_eq!(r.get(1).unwrap().retained(), 4096);
    /// # drop(big);
    /// ```
    #[doc(alias("retained_sizes", "dominator_tree"))]
    #[track_caller]
    pub fn retained(&self) -> Retained {
        let here = Here::capture();
        or_panic(retained(self, &here))
    }

    /// The set's objects sorted by retained size, as [`Heap::retained`]; or
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable) when this process may not
    /// read its own memory.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let big = std::thread::spawn(|| heapy::with_kind("Holder", || Box::new(vec![0u8; 4096])))
    ///     .join()
    ///     .unwrap();
    /// let r = heapy::hpy().heap().filter(|o| o.kind() == "Holder").try_retained().unwrap();
    /// assert_eq!(r.get(0).unwrap().retained(), 24 + 4096);
    /// # drop(big);
    /// ```
    pub fn try_retained(&self) -> Result<Retained> {
        let here = Here::capture();
        retained(self, &here)
    }
}

#[inline(never)]
fn dominos(h: &Heap, here: &Here) -> Result<Heap> {
    guard::internal(|| {
        let g = process_graph(here, |_| true)?;
        let s = members(&g, h);
        Ok(pick(&g, &dominated(&g, &s)))
    })
}

#[inline(never)]
fn retained(h: &Heap, here: &Here) -> Result<Retained> {
    guard::internal(|| {
        let g = process_graph(here, |_| true)?;
        let sizes = retained_sizes(&g);
        let mut rows: Vec<(Obj, usize)> = h
            .objs()
            .iter()
            .filter_map(|o| g.node_of(o).map(|i| (*o, sizes[i as usize])))
            .collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.addr.cmp(&b.0.addr)));
        Ok(Retained {
            rows,
            meta: h.meta().clone(),
            live_bytes: g.nodes.iter().map(|o| o.size).sum(),
            start: 0,
            all: false,
        })
    })
}
