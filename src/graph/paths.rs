//! Shortest paths from roots to objects (guppy's `sp`), and the names of roots: static
//! roots by symbol, stack roots by thread (and, on the calling thread, by function).

use std::collections::{HashMap, VecDeque};
use std::fmt;

use super::roots::{Here, RootKind};
use super::scan::Graph;
use super::{members, names_for, or_panic, process_graph};
use crate::census::{guard, threads};
use crate::heap::{Heap, PAGE};
use crate::{stack, sys, Result};

/// Shortest paths from roots to the objects of a set, from [`Heap::sp`]: one line per
/// object, shortest first, such as
/// `static demo::CACHE -> HashMap<u64, Vec<u8>> +0x8 -> Vec<u8>`: the root, then each
/// object's kind, with the byte offset inside it where the pointer to the next one sits.
///
/// Prints ten paths at a time ([`Paths::more`], [`Paths::all`]).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// // Built on a thread that then exits, so that no stale copy of the inner box's address
/// // stays on this stack (a conservative scan would count it as a shorter path).
/// let list = std::thread::spawn(|| heapy::with_kind("Cell", || Box::new(Box::new(1u32))))
///     .join()
///     .unwrap();
/// let inner = heapy::hpy().heap().filter(|o| o.kind() == "Cell" && o.size() == 4);
/// let paths = inner.sp();
/// assert_eq!(paths.rows().len(), 1);
/// let path = paths.get(0).unwrap();
/// assert!(path.text().ends_with("-> Cell +0x0 -> Cell"));
/// assert_eq!(path.depth(), Some(2)); // a root, the outer box, the inner box
/// println!("{paths}");
/// # drop(list);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
#[doc(alias("shortest_paths"))]
pub struct Paths {
    lines: Vec<PathLine>,
    start: usize,
    all: bool,
}

/// One path, as found.
#[derive(Clone, Debug)]
struct PathLine {
    /// The printed line.
    text: String,
    /// Where the root's name ends in `text`, and the number of objects on the path: `None`
    /// when no root reaches the object.
    root: Option<(usize, usize)>,
    /// The object's address.
    address: usize,
}

impl Paths {
    /// True if there is no path (the set was empty, or all its objects were freed).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert!(heapy::hpy().mark().heap().sp().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The paths as data, shortest first, one per object of the set (unreachable objects
    /// last); `rows().len()` is the number of paths. See [`PathRow`].
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v: Vec<Box<u8>> = heapy::with_kind("Pair", || (0..2).map(Box::new).collect());
    /// let p = heapy::hpy().heap().filter(|o| o.kind() == "Pair" && o.size() == 1).sp();
    /// assert_eq!(p.rows().len(), 2);
    /// assert!(p.rows().all(|r| r.text().ends_with("-> Pair")));
    /// # drop(v);
    /// ```
    pub fn rows(&self) -> impl ExactSizeIterator<Item = PathRow<'_>> + '_ {
        self.lines.iter().map(|line| PathRow { line })
    }

    /// Path `i` (shortest first), if there is one.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let b = heapy::with_kind("Solo", || Box::new(3u8));
    /// let p = heapy::hpy().heap().filter(|o| o.kind() == "Solo").sp();
    /// assert!(p.get(0).unwrap().text().ends_with("-> Solo"));
    /// assert!(p.get(1).is_none());
    /// # drop(b);
    /// ```
    pub fn get(&self, i: usize) -> Option<PathRow<'_>> {
        self.lines.get(i).map(|line| PathRow { line })
    }

    /// The next ten paths.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v: Vec<Box<u8>> = heapy::with_kind("Many", || (0..12).map(Box::new).collect());
    /// let p = heapy::hpy().heap().filter(|o| o.kind() == "Many" && o.size() == 1).sp();
    /// assert!(p.to_string().contains("<2 more paths."));
    /// assert!(!p.more().to_string().contains("more paths"));
    /// # drop(v);
    /// ```
    pub fn more(&self) -> Paths {
        let mut p = self.clone();
        p.start = (self.start + PAGE).min(self.lines.len());
        p
    }

    /// Every path.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v: Vec<Box<u8>> = heapy::with_kind("All", || (0..12).map(Box::new).collect());
    /// let p = heapy::hpy().heap().filter(|o| o.kind() == "All" && o.size() == 1).sp();
    /// assert_eq!(p.all().to_string().lines().count(), 12);
    /// # drop(v);
    /// ```
    pub fn all(&self) -> Paths {
        let mut p = self.clone();
        p.all = true;
        p
    }
}

/// One path of a [`Paths`] table: from a root to one object of the set, such as
/// `static demo::CACHE -> HashMap<u64, Vec<u8>> +0x8 -> Vec<u8>`.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// static HELD: std::sync::Mutex<Vec<Box<u64>>> = std::sync::Mutex::new(Vec::new());
/// heapy::with_kind("Kept", || HELD.lock().unwrap().push(Box::new(7)));
/// let h = heapy::hpy().heap().filter(|o| o.kind() == "Kept" && o.size() == 8);
/// let paths = h.sp();
/// let p = paths.get(0).unwrap();
/// assert!(p.root().unwrap().contains("HELD"), "{p}");
/// assert_eq!(p.depth(), Some(2), "{p}"); // the Vec's buffer, then the box
/// assert_eq!(p.address(), h.theone().unwrap().address());
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct PathRow<'p> {
    line: &'p PathLine,
}

impl<'p> PathRow<'p> {
    /// The path as printed: the root, then each object's kind, with the byte offset inside
    /// it where the pointer to the next one sits; `<unreachable> 0x... Kind` when no root
    /// reaches the object.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let b = heapy::with_kind("Text", || Box::new(1u16));
    /// let p = heapy::hpy().heap().filter(|o| o.kind() == "Text").sp();
    /// assert!(p.get(0).unwrap().text().ends_with(" -> Text"));
    /// # drop(b);
    /// ```
    pub fn text(&self) -> &'p str {
        &self.line.text
    }

    /// The root the path starts from, as printed (`static demo::CACHE+0x10`,
    /// `stack of thread main (demo::run)`, `thread-local of thread 2`, `register of thread
    /// main`), or `None` when no root reaches the object (a leak).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let b = heapy::with_kind("Rooted", || Box::new(1u16));
    /// let p = heapy::hpy().heap().filter(|o| o.kind() == "Rooted").sp();
    /// assert!(p.get(0).unwrap().root().is_some()); // the box is on this thread's stack
    /// # drop(b);
    /// ```
    pub fn root(&self) -> Option<&'p str> {
        self.line.root.map(|(end, _)| &self.line.text[..end])
    }

    /// How many objects the path passes through from the root, the object itself
    /// included (1 when the root points at it directly), or `None` when no root reaches it.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let b = heapy::with_kind("Near", || Box::new(1u64));
    /// let p = heapy::hpy().heap().filter(|o| o.kind() == "Near").sp();
    /// assert_eq!(p.get(0).unwrap().depth(), Some(1)); // a stack slot points at the box
    /// # drop(b);
    /// ```
    pub fn depth(&self) -> Option<usize> {
        self.line.root.map(|(_, depth)| depth)
    }

    /// The address of the object the path leads to.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let b = heapy::with_kind("Target", || Box::new(9u32));
    /// let p = heapy::hpy().heap().filter(|o| o.kind() == "Target").sp();
    /// assert_eq!(p.get(0).unwrap().address(), &*b as *const u32 as usize);
    /// # drop(b);
    /// ```
    pub fn address(&self) -> usize {
        self.line.address
    }
}

impl fmt::Display for PathRow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line.text)
    }
}

impl fmt::Display for Paths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = if self.all {
            self.lines.len()
        } else {
            (self.start + PAGE).min(self.lines.len())
        };
        for l in &self.lines[self.start.min(end)..end] {
            writeln!(f, "{}", l.text)?;
        }
        if end < self.lines.len() {
            writeln!(
                f,
                "<{} more paths. Type e.g. '.more()' to view.>",
                self.lines.len() - end
            )?;
        }
        Ok(())
    }
}

impl Heap {
    /// The shortest path from a root to each object of the set (guppy's `sp`), printed like
    /// `static demo::CACHE -> HashMap<u64, Vec<u8>> +0x8 -> Vec<u8>`. Static roots are named
    /// by symbol, stack roots by thread (and by function on the calling thread, when frame
    /// pointers allow). An object no root reaches prints as `<unreachable> ...`.
    ///
    /// # Panics
    ///
    /// When this process may not read its own memory (see
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable)); [`Heap::try_sp`]
    /// returns that error instead.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// static HELD: std::sync::Mutex<Vec<Box<u64>>> = std::sync::Mutex::new(Vec::new());
    /// heapy::with_kind("Held", || HELD.lock().unwrap().push(Box::new(7)));
    /// let h = heapy::hpy().heap().filter(|o| o.kind() == "Held" && o.size() == 8);
    /// let p = h.sp();
    /// // static rust_out::main::HELD+0x10 -> Held +0x0 -> Held
    /// // (the static's Vec sits at some offset inside the Mutex; its buffer, tagged Held,
    /// // holds the box at +0x0)
    /// let line = p.get(0).unwrap().text();
    /// assert!(line.starts_with("static ") && line.contains("HELD"), "{p}");
    /// assert!(line.ends_with("-> Held +0x0 -> Held"), "{p}");
    /// ```
    #[doc(alias("shortest_paths", "paths", "path_from_root"))]
    #[track_caller]
    pub fn sp(&self) -> Paths {
        let here = Here::capture();
        or_panic(shortest_paths(self, &here))
    }

    /// The shortest path from a root to each object of the set, as [`Heap::sp`]; or
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable) when this process may not
    /// read its own memory.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// static HELD: std::sync::Mutex<Vec<Box<u64>>> = std::sync::Mutex::new(Vec::new());
    /// heapy::with_kind("Held", || HELD.lock().unwrap().push(Box::new(7)));
    /// let h = heapy::hpy().heap().filter(|o| o.kind() == "Held" && o.size() == 8);
    /// let p = h.try_sp().unwrap();
    /// assert!(p.get(0).unwrap().text().starts_with("static "), "{p}");
    /// ```
    pub fn try_sp(&self) -> Result<Paths> {
        let here = Here::capture();
        shortest_paths(self, &here)
    }
}

#[derive(Clone, Copy)]
enum Step {
    None,
    Root(u32),
    From(u32, usize),
}

#[inline(never)]
fn shortest_paths(h: &Heap, here: &Here) -> Result<Paths> {
    guard::internal(|| {
        let g = process_graph(here, |_| true)?;
        let want = members(&g, h);
        let mut names = RootNames::new(&g, here);
        let mut step = vec![Step::None; g.len()];
        let mut q: VecDeque<u32> = VecDeque::new();
        // Statics first, then thread-locals, stacks and registers: among equally short
        // paths, the one with the most telling root name wins.
        let mut hits: Vec<usize> = (0..g.roots.len()).collect();
        hits.sort_by_key(|&k| match g.regions[g.roots[k].region as usize].kind {
            RootKind::Static { .. } => 0,
            RootKind::Tls { .. } => 1,
            RootKind::Stack { .. } => 2,
            RootKind::Registers { .. } => 3,
        });
        for k in hits {
            let t = g.roots[k].target;
            if let Step::None = step[t as usize] {
                step[t as usize] = Step::Root(k as u32);
                q.push_back(t);
            }
        }
        while let Some(v) = q.pop_front() {
            for (t, off) in g.edges(v as usize) {
                if let Step::None = step[t as usize] {
                    step[t as usize] = Step::From(v, off);
                    q.push_back(t);
                }
            }
        }
        let meta = names_for(&g.nodes);
        let mut lines: Vec<(usize, PathLine)> = Vec::new();
        for (i, &w) in want.iter().enumerate() {
            if !w {
                continue;
            }
            let mut chain = Vec::new();
            let mut v = i as u32;
            let root = loop {
                match step[v as usize] {
                    Step::None => break None,
                    Step::Root(k) => break Some(k),
                    Step::From(p, off) => {
                        chain.push((v, Some(off)));
                        v = p;
                    }
                }
            };
            chain.push((v, None));
            chain.reverse();
            let kind = |n: u32| meta.kind(g.nodes[n as usize].ctx).to_string();
            let mut text = match root {
                Some(k) => names.root(&g, k as usize),
                None => format!("<unreachable> {:#x}", g.nodes[i].addr),
            };
            let address = g.nodes[i].addr;
            if root.is_none() {
                text.push(' ');
                text.push_str(&kind(i as u32));
                let line = PathLine {
                    text,
                    root: None,
                    address,
                };
                lines.push((usize::MAX, line));
                continue;
            }
            let root_end = text.len();
            // chain[0] is the object the root points to; each later entry carries the offset
            // inside the previous object.
            for (n, off) in &chain {
                match off {
                    Some(off) => text.push_str(&format!(" +{off:#x} -> {}", kind(*n))),
                    None => text.push_str(&format!(" -> {}", kind(*n))),
                }
            }
            let line = PathLine {
                text,
                root: Some((root_end, chain.len())),
                address,
            };
            lines.push((chain.len(), line));
        }
        // Objects of the set freed since the snapshot have no path at all.
        lines.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.text.cmp(&b.1.text)));
        Ok(Paths {
            lines: lines.into_iter().map(|(_, l)| l).collect(),
            start: 0,
            all: false,
        })
    })
}

/// Names roots: static words by symbol, stack words by thread and frame.
pub(crate) struct RootNames {
    symbols: HashMap<usize, Option<(String, usize)>>,
    /// The calling thread's frames: (frame pointer, return address), innermost first.
    frames: Vec<(usize, usize)>,
    caller: u16,
}

impl RootNames {
    pub(crate) fn new(g: &Graph, here: &Here) -> RootNames {
        let caller = g
            .regions
            .iter()
            .find_map(|r| match r.kind {
                RootKind::Registers { thread } => Some(thread),
                _ => None,
            })
            .unwrap_or(0);
        let stack = g.regions.iter().find_map(|r| match r.kind {
            RootKind::Stack { thread } if thread == caller => Some((r.start, r.end)),
            _ => None,
        });
        let mut frames = Vec::new();
        if let Some((lo, hi)) = stack {
            // The walk starts in the register-spilling helper's frame, just below `lo`: a
            // frame popped since, so its words are read soundly, as the scan reads.
            let floor = lo.min(here.sp).saturating_sub(1 << 16);
            let read = |fp| {
                let mut pair = [0usize; 2];
                (sys::read_words(fp, &mut pair) == Ok(2)).then_some(pair)
            };
            stack::walk_frames(here.frame_pointer(), floor, hi, read, |fp, ret| {
                frames.push((fp, ret));
                frames.len() < 4096
            });
        }
        RootNames {
            symbols: HashMap::new(),
            frames,
            caller,
        }
    }

    /// The name of the symbol containing data address `a`.
    fn name_at(a: usize) -> Option<String> {
        let mut found = None;
        // backtrace looks up `addr - 1` (it expects return addresses), hence the `+ 1`. A
        // fork-safe section: its global lock is never held across a `fork()`.
        sys::fork::section(|| {
            backtrace::resolve((a + 1) as *mut core::ffi::c_void, |s| {
                if found.is_none() {
                    found = s.name().map(|n| format!("{n:#}"));
                }
            })
        });
        found
    }

    /// The symbol containing data address `a`, and its start. (The symbol table lookup
    /// gives no start address, so the start is found by searching down word by word for
    /// where the name changes.)
    fn symbol(&mut self, a: usize) -> Option<(String, usize)> {
        if let Some(s) = self.symbols.get(&a) {
            return s.clone();
        }
        let found = Self::name_at(a).map(|name| {
            // The lowest address, in whole words below `a`, that still has this name.
            let same = |x: usize| Self::name_at(x).as_deref() == Some(name.as_str());
            let mut step = 8usize;
            let mut low = a;
            while step <= 1 << 24 && low >= step && same(low - step) {
                low -= step;
                step *= 2;
            }
            // Now `low` has the name and `low - step` (if any) does not; narrow down.
            let mut gap = step / 2;
            while gap >= 8 {
                if low >= gap && same(low - gap) {
                    low -= gap;
                }
                gap /= 2;
            }
            (name, low)
        });
        self.symbols.insert(a, found.clone());
        found
    }

    /// The function whose frame holds stack address `a` on the calling thread.
    fn frame_of(&mut self, a: usize) -> Option<String> {
        // Frame k (pointer fp_k) belongs to the function that its callee's return address
        // (saved in frame k - 1) points into; its slots lie above frame k - 1's two words
        // (saved frame pointer, return address) and up to frame k's two words included.
        const PAIR: usize = 2 * core::mem::size_of::<usize>();
        let k = self.frames.iter().position(|&(fp, _)| a < fp + PAIR)?;
        if k == 0 {
            return None;
        }
        let ret = self.frames[k - 1].1;
        let mut name = None;
        // A fork-safe section, as in `name_at`.
        sys::fork::section(|| {
            backtrace::resolve(ret as *mut core::ffi::c_void, |s| {
                if let Some(n) = s.name() {
                    name = Some(format!("{n:#}"));
                }
            })
        });
        name
    }

    /// The name of root hit `k`.
    pub(crate) fn root(&mut self, g: &Graph, k: usize) -> String {
        let hit = g.roots[k];
        let region = &g.regions[hit.region as usize];
        match &region.kind {
            RootKind::Static { module } => match self.symbol(hit.addr) {
                Some((name, start)) if hit.addr >= start => {
                    if hit.addr == start {
                        format!("static {name}")
                    } else {
                        format!("static {name}+{:#x}", hit.addr - start)
                    }
                }
                _ => {
                    let m = module.rsplit('/').next().unwrap_or("");
                    let m = if m.is_empty() { "<program>" } else { m };
                    format!("static {m}+{:#x}", hit.addr - region.start)
                }
            },
            RootKind::Stack { thread } => {
                let who = threads::label(*thread);
                match (*thread == self.caller)
                    .then(|| self.frame_of(hit.addr))
                    .flatten()
                {
                    Some(f) => format!("stack of thread {who} ({f})"),
                    None => format!("stack of thread {who}"),
                }
            }
            RootKind::Tls { thread } => {
                format!("thread-local of thread {}", threads::label(*thread))
            }
            RootKind::Registers { thread } => {
                format!("register of thread {}", threads::label(*thread))
            }
        }
    }
}
