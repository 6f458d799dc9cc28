//! The conservative pointer scan: read objects and roots soundly, and turn every aligned
//! word that points into a live object (interior pointers included) into an edge.
//!
//! Other threads keep running while the scan reads, so the heap moves under it. The classic
//! trap is a container that grows: its elements move to a new buffer allocated after the
//! snapshot, the old buffer is freed, and the elements seem to hang from nothing. So a scan
//! of the live process catches up: after reading the snapshot's objects, and again after
//! reading the roots, it reads the registry again, adds the objects that appeared meanwhile
//! as nodes (a new generation with its own address index), reads them, and resolves against
//! them the words that pointed into no known object before ("misses"). Last, it reads again
//! every object and root that pointed to an object freed meanwhile (its pointer has
//! probably moved since that place was read).

use super::index::AddrIndex;
use super::roots::{Region, RootKind};
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::heap::Obj;
use crate::sys;

const WORD: usize = core::mem::size_of::<usize>();
/// Bytes read per system call at most.
const BUF_BYTES: usize = 1 << 20;
/// Objects closer than this are read together (with the allocator's headers between them):
/// no whole page can lie in such a gap, so it cannot be unmapped.
const GAP: usize = 4096;
/// Words below this are never pointers to objects (the first pages are never mapped).
const LOW: usize = 1 << 16;

/// A root word that points into an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RootHit {
    /// Index in `Graph::regions`.
    pub region: u32,
    /// The word's address (for registers: the register's number).
    pub addr: usize,
    /// The object pointed into.
    pub target: u32,
}

/// A word that pointed into no known object when it was read: (value, source node or
/// `ROOT`, offset in the source or the root word's address, root region).
#[derive(Clone, Copy)]
struct Miss {
    word: usize,
    src: u32,
    at: usize,
    region: u32,
}

const ROOT: u32 = u32::MAX;

/// The object graph of a set of objects: nodes, and edges in compressed rows.
pub(crate) struct Graph {
    /// Nodes: each generation sorted by address, generations one after the other.
    pub nodes: Vec<Obj>,
    /// Each generation's index and first node.
    indexes: Vec<(AddrIndex, u32)>,
    /// Edges of node `i` are `to[first[i]..first[i + 1]]`.
    pub first: Vec<usize>,
    pub to: Vec<u32>,
    /// Where in the referrer the pointer word sits (byte offset), parallel to `to`.
    pub at: Vec<usize>,
    pub regions: Vec<Region>,
    pub roots: Vec<RootHit>,
    /// True when the objects, their memory and the roots were read as of one instant (a
    /// frozen copy of the process), so no pointer can have moved between places read.
    pub consistent: bool,
}

/// Where a scan is, for tests that play another thread's part at a chosen moment (see
/// `heapy::__private::set_scan_hook`). Not public API.
#[doc(hidden)]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanPoint {
    /// A scan begins (before the registry is read or the threads are stopped).
    Start,
    /// The objects were read, the roots not yet.
    ObjectsRead,
}

/// The test hook: a `fn(ScanPoint)` as a usize (0: none).
static HOOK: AtomicUsize = AtomicUsize::new(0);

/// Sets (or clears) the function each scan calls at each [`ScanPoint`], on the scanning
/// thread, with heapy's guard held: it must not allocate what it wants counted.
pub(crate) fn set_hook(f: Option<fn(ScanPoint)>) {
    // Relaxed: the hook publishes no data; a test sets it before it scans.
    HOOK.store(f.map_or(0, |f| f as usize), Ordering::Relaxed);
}

/// Calls the test hook, if one is set: one relaxed load per scan step.
pub(crate) fn hook(p: ScanPoint) {
    // Relaxed: see `set_hook`.
    let f = HOOK.load(Ordering::Relaxed);
    if f != 0 {
        // SAFETY: only `fn(ScanPoint)` values are stored in HOOK (by `set_hook`).
        let f = unsafe { core::mem::transmute::<usize, fn(ScanPoint)>(f) };
        f(p);
    }
}

/// The graph under construction.
struct Builder<'a> {
    /// The frozen copy of the process to read (`None`: the running process itself).
    frozen: Option<&'a sys::Frozen>,
    g: Graph,
    /// (source, target, offset), in source order per generation; late edges appended.
    edges: Vec<(u32, u32, usize)>,
    misses: Vec<Miss>,
    /// Per target node: the last source (node, or region + 2^31 for roots) that got an edge
    /// to it, so each source refers to each target once.
    stamp: Vec<u32>,
    /// `BUF_BYTES` of words that the reads fill.
    buf: Vec<usize>,
    /// Why memory could not be read, once a read found that no way of reading works: the
    /// graph is then not built (every object not read would look unreachable).
    denied: Option<sys::ReadDenied>,
}

impl<'a> Builder<'a> {
    fn new(regions: Vec<Region>, frozen: Option<&'a sys::Frozen>) -> Builder<'a> {
        Builder {
            frozen,
            g: Graph {
                nodes: Vec::new(),
                indexes: Vec::new(),
                first: Vec::new(),
                to: Vec::new(),
                at: Vec::new(),
                regions,
                roots: Vec::new(),
                consistent: false,
            },
            edges: Vec::new(),
            misses: Vec::new(),
            stamp: Vec::new(),
            buf: vec![0usize; BUF_BYTES / WORD],
            denied: None,
        }
    }

    /// Reads `n` words at `addr` into the start of `buf`: how many leading words were read
    /// (fewer where memory is not mapped). After a denied read, reads nothing more.
    fn read(&mut self, addr: usize, n: usize) -> usize {
        if self.denied.is_some() {
            return 0;
        }
        if let Some(f) = self.frozen {
            // The frozen copy was found readable when it was taken; a short read is memory
            // that was not mapped at that instant.
            return f.read_words(addr, &mut self.buf[..n]);
        }
        match sys::read_words(addr, &mut self.buf[..n]) {
            Ok(got) => got,
            Err(d) => {
                self.denied = Some(d);
                0
            }
        }
    }

    /// Adds a generation of nodes (sorted by address, not overlapping each other).
    fn add_generation(&mut self, nodes: Vec<Obj>) -> std::ops::Range<usize> {
        let base = self.g.nodes.len();
        self.g.indexes.push((AddrIndex::new(&nodes), base as u32));
        self.g.nodes.extend(nodes);
        self.stamp.resize(self.g.nodes.len(), u32::MAX);
        base..self.g.nodes.len()
    }

    /// Records the edges a word makes: to every generation's object it points into (two
    /// only when an address was freed and reused between generations). Returns false when
    /// it points into none.
    #[inline]
    fn word(&mut self, src: u32, tag: u32, at: usize, w: usize, region: u32) -> bool {
        let mut any = false;
        for (ix, base) in &self.g.indexes {
            if let Some(t) = ix.find(w) {
                let t = base + t;
                any = true;
                if self.stamp[t as usize] != tag {
                    self.stamp[t as usize] = tag;
                    if src == ROOT {
                        self.g.roots.push(RootHit {
                            region,
                            addr: at,
                            target: t,
                        });
                    } else {
                        self.edges.push((src, t, at));
                    }
                }
            }
        }
        if !any && w >= LOW && w.is_multiple_of(WORD) {
            self.misses.push(Miss {
                word: w,
                src,
                at,
                region,
            });
        }
        any
    }

    /// Reads the nodes `range` for which `read(i)` is true.
    fn scan_nodes(&mut self, range: std::ops::Range<usize>, read: &impl Fn(usize) -> bool) {
        let mut i = range.start;
        while i < range.end {
            if !read(i) {
                i += 1;
                continue;
            }
            // A run of nearby nodes read with one copy.
            let nodes = &self.g.nodes;
            let base = nodes[i].addr & !(WORD - 1);
            let mut j = i;
            let mut end = nodes[i].addr + nodes[i].size;
            while j + 1 < range.end
                && read(j + 1)
                && nodes[j + 1].addr >= end
                && nodes[j + 1].addr < end + GAP
                && nodes[j + 1].addr + nodes[j + 1].size - base <= BUF_BYTES
            {
                j += 1;
                end = nodes[j].addr + nodes[j].size;
            }
            // The whole words of the run: every word an object holds lies below `end`.
            let n = (end - base) / WORD;
            if n <= self.buf.len() && self.read(base, n) == n {
                let words = std::mem::take(&mut self.buf);
                for k in i..=j {
                    let o = self.g.nodes[k];
                    let mut a = (o.addr + WORD - 1) & !(WORD - 1);
                    while a + WORD <= o.addr + o.size {
                        self.word(k as u32, k as u32, a - o.addr, words[(a - base) / WORD], 0);
                        a += WORD;
                    }
                }
                self.buf = words;
            } else {
                // One big object, or part of the run vanished: node by node, in pieces.
                for k in i..=j {
                    self.scan_piecewise(k);
                }
            }
            i = j + 1;
        }
    }

    fn scan_piecewise(&mut self, k: usize) {
        let o = self.g.nodes[k];
        let mut a = (o.addr + WORD - 1) & !(WORD - 1);
        let end = o.addr + o.size;
        while a + WORD <= end {
            let n = ((end - a) / WORD).min(self.buf.len());
            let got = self.read(a, n);
            let words = std::mem::take(&mut self.buf);
            for (x, &w) in words[..got].iter().enumerate() {
                self.word(k as u32, k as u32, a + x * WORD - o.addr, w, 0);
            }
            self.buf = words;
            if got < n {
                // Freed and unmapped while we read: a dead object refers to nothing more.
                break;
            }
            a += n * WORD;
        }
    }

    fn scan_roots(&mut self) {
        for r in 0..self.g.regions.len() {
            let tag = (1u32 << 31) | r as u32;
            if let RootKind::Registers { .. } = self.g.regions[r].kind {
                let values = self.g.regions[r].values.clone();
                for (x, &w) in values.iter().enumerate() {
                    self.word(ROOT, tag, x, w, r as u32);
                }
                continue;
            }
            let (start, end) = (self.g.regions[r].start, self.g.regions[r].end);
            // Words per read: 64 KiB.
            let chunk = (64 << 10) / WORD;
            let mut a = (start + WORD - 1) & !(WORD - 1);
            while a + WORD <= end {
                let n = ((end - a) / WORD).min(chunk);
                let got = self.read(a, n);
                let words = std::mem::take(&mut self.buf);
                for (x, &w) in words[..got].iter().enumerate() {
                    self.word(ROOT, tag, a + x * WORD, w, r as u32);
                }
                self.buf = words;
                if got < n {
                    // Skip the page that could not be read.
                    a = ((a + got * WORD) | 4095) + 1;
                } else {
                    a += n * WORD;
                }
            }
        }
    }

    /// Adds the objects live now that are not nodes yet as a new generation, reads them,
    /// and resolves the earlier misses against them. Returns which nodes are still live.
    fn catch_up(&mut self, live: Vec<Obj>) -> Vec<bool> {
        let mut alive = vec![false; self.g.nodes.len()];
        let mut new = Vec::new();
        for o in live {
            match self.g.node_of(&o) {
                Some(i) => alive[i as usize] = true,
                None => new.push(o),
            }
        }
        alive.resize(self.g.nodes.len() + new.len(), true);
        if new.is_empty() {
            return alive;
        }
        let range = self.add_generation(new);
        let ix = self.g.indexes.len() - 1;
        let misses = std::mem::take(&mut self.misses);
        for m in misses {
            if let Some(t) = self.g.indexes[ix].0.find(m.word) {
                let t = self.g.indexes[ix].1 + t;
                if m.src == ROOT {
                    self.g.roots.push(RootHit {
                        region: m.region,
                        addr: m.at,
                        target: t,
                    });
                } else {
                    self.edges.push((m.src, t, m.at));
                }
            } else {
                self.misses.push(m);
            }
        }
        self.scan_nodes(range, &|_| true);
        alive
    }

    /// Reads again every node and root that pointed to an object freed since: the pointer
    /// was probably moved (into a new buffer, a new table) after the place was read.
    fn remark(&mut self, alive: &[bool]) {
        let mut again = vec![false; self.g.nodes.len()];
        let mut any = false;
        for &(s, t, _) in &self.edges {
            if !alive[t as usize] && alive[s as usize] {
                again[s as usize] = true;
                any = true;
            }
        }
        if any {
            // Edges already found are not repeated (the per-target stamps say so).
            self.scan_nodes(0..self.g.nodes.len(), &|i| again[i]);
        }
        if self.g.roots.iter().any(|h| !alive[h.target as usize]) {
            self.stamp.fill(u32::MAX);
            self.scan_roots();
        }
    }

    /// Sorts the edges into compressed rows; or why memory could not be read, if a read
    /// was denied or reading no longer works now that the scan is over (a read denied in a
    /// way that looks like unmapped memory).
    fn finish(mut self) -> Result<Graph, sys::ReadDenied> {
        if let Some(d) = self.denied {
            return Err(d);
        }
        sys::check_readable()?;
        let n = self.g.nodes.len();
        let mut first = vec![0usize; n + 1];
        for &(s, _, _) in &self.edges {
            first[s as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut to = vec![0u32; self.edges.len()];
        let mut at = vec![0usize; self.edges.len()];
        for &(s, t, off) in &self.edges {
            let f = &mut fill[s as usize];
            to[*f] = t;
            at[*f] = off;
            *f += 1;
        }
        self.g.first = first;
        self.g.to = to;
        self.g.at = at;
        Ok(self.g)
    }
}

impl Graph {
    /// Scans the fixed set `nodes` (sorted by address, not overlapping): reads every node
    /// for which `read(i)` is true and every root region; or why memory cannot be read.
    /// Call with the reentrancy flag held.
    pub(crate) fn build(
        nodes: Vec<Obj>,
        read: impl Fn(usize) -> bool,
        regions: Vec<Region>,
    ) -> Result<Graph, sys::ReadDenied> {
        sys::check_readable()?;
        let mut b = Builder::new(regions, None);
        let range = b.add_generation(nodes);
        b.scan_nodes(range, &read);
        b.scan_roots();
        b.finish()
    }

    /// Scans a frozen copy of the process: `nodes` (sorted by address, not overlapping) are
    /// its objects and `regions` its roots, all of one instant, so nothing moves while they
    /// are read and no catching up is needed. Call with the reentrancy flag held.
    pub(crate) fn build_frozen(
        nodes: Vec<Obj>,
        read: impl Fn(usize) -> bool,
        regions: Vec<Region>,
        frozen: &sys::Frozen,
    ) -> Result<Graph, sys::ReadDenied> {
        let mut b = Builder::new(regions, Some(frozen));
        let range = b.add_generation(nodes);
        b.scan_nodes(range, &read);
        hook(ScanPoint::ObjectsRead);
        b.scan_roots();
        b.g.consistent = true;
        b.finish()
    }

    /// Scans the live process: the snapshot `nodes`, then the roots, catching up with
    /// objects allocated meanwhile (`live()` reads the registry again) after each step; or
    /// why memory cannot be read.
    pub(crate) fn build_live(
        nodes: Vec<Obj>,
        read: impl Fn(usize) -> bool,
        regions: Vec<Region>,
        live: impl Fn() -> Vec<Obj>,
    ) -> Result<Graph, sys::ReadDenied> {
        sys::check_readable()?;
        let mut b = Builder::new(regions, None);
        let range = b.add_generation(nodes);
        b.scan_nodes(range, &read);
        b.catch_up(live());
        hook(ScanPoint::ObjectsRead);
        b.scan_roots();
        let alive = b.catch_up(live());
        b.remark(&alive);
        b.finish()
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The edges of node `i`: (target, offset in `i`).
    #[inline]
    pub(crate) fn edges(&self, i: usize) -> impl Iterator<Item = (u32, usize)> + '_ {
        let r = self.first[i]..self.first[i + 1];
        self.to[r.clone()]
            .iter()
            .copied()
            .zip(self.at[r].iter().copied())
    }

    /// The node that is exactly `o` (same address and serial), if it is in the graph.
    pub(crate) fn node_of(&self, o: &Obj) -> Option<u32> {
        self.indexes.iter().find_map(|(ix, base)| {
            ix.at(o.addr)
                .map(|i| base + i)
                .filter(|&i| self.nodes[i as usize].serial == o.serial)
        })
    }

    /// Which nodes the roots reach.
    pub(crate) fn reached(&self) -> Vec<bool> {
        self.reach(self.roots.iter().map(|h| h.target), |_| true)
    }

    /// Which nodes are reached from `starts` following edges only through nodes for which
    /// `pass` is true (a start is marked even if it does not pass, but not followed).
    pub(crate) fn reach(
        &self,
        starts: impl Iterator<Item = u32>,
        pass: impl Fn(u32) -> bool,
    ) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut stack: Vec<u32> = Vec::new();
        for s in starts {
            if !seen[s as usize] {
                seen[s as usize] = true;
                stack.push(s);
            }
        }
        while let Some(v) = stack.pop() {
            if !pass(v) {
                continue;
            }
            for (t, _) in self.edges(v as usize) {
                if !seen[t as usize] {
                    seen[t as usize] = true;
                    stack.push(t);
                }
            }
        }
        seen
    }

    /// Reverse edges: the referrers of node `i` are `from[first[i]..first[i + 1]]` (with the
    /// offsets in the referrers in `at`).
    pub(crate) fn reverse(&self) -> (Vec<usize>, Vec<u32>, Vec<usize>) {
        let n = self.len();
        let mut first = vec![0usize; n + 1];
        for &t in &self.to {
            first[t as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut from = vec![0u32; self.to.len()];
        let mut at = vec![0usize; self.to.len()];
        for i in 0..n {
            for (t, off) in self.edges(i) {
                let f = &mut fill[t as usize];
                from[*f] = i as u32;
                at[*f] = off;
                *f += 1;
            }
        }
        (first, from, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj<T>(b: &T) -> Obj {
        Obj {
            addr: b as *const T as usize,
            size: core::mem::size_of::<T>(),
            serial: 1,
            thread: 1,
            ctx: 0,
        }
    }

    /// A read denied in the middle of a scan (after the check at its start passed) fails
    /// the scan: the objects it could not read would look unreachable.
    #[test]
    fn a_read_denied_mid_scan_fails_the_scan() {
        let b = Box::new([0usize; 4]);
        let a = Box::new([&*b as *const [usize; 4] as usize, 0, 0, 0]);
        let mut nodes = vec![obj(&*a), obj(&*b)];
        nodes.sort_unstable_by_key(|o| o.addr);
        let g = Graph::build(nodes.clone(), |_| true, Vec::new()).unwrap();
        assert_eq!(g.to.len(), 1);
        sys::READS_LEFT.with(|n| n.set(0));
        let denied = Graph::build(nodes, |_| true, Vec::new());
        sys::READS_LEFT.with(|n| n.set(usize::MAX));
        let d = denied.err().expect("the scan fails");
        assert_eq!(d.vm_readv, sys::ReadFailure::Call(libc::EPERM));
        drop((a, b));
    }
}
