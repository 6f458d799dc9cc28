//! Reference cycles: strongly connected components of the graph (Tarjan's algorithm), the
//! shape every Rc/Arc leak takes.

use std::collections::HashSet;
use std::fmt;

use super::scan::Graph;
use super::{live_by_address, or_panic, site_of, unreadable};
use crate::census::guard;
use crate::heap::{Heap, Obj};
use crate::Result;

/// The edges inside one cycle: (from address, offset, to address).
type Edges = Vec<(usize, usize, usize)>;

/// The reference cycles among a set's objects, from [`Heap::cycles`]: its strongly
/// connected components that hold a cycle (two objects or more, or one that points to
/// itself), largest first. Printed with each object's kind and allocation site and the
/// references that close the cycle.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// use std::{cell::RefCell, rc::Rc};
/// struct Node(RefCell<Option<Rc<Node>>>);
/// let a = heapy::with_kind("Node", || Rc::new(Node(RefCell::new(None))));
/// let b = heapy::with_kind("Node", || Rc::new(Node(RefCell::new(Some(a.clone())))));
/// *a.0.borrow_mut() = Some(b.clone());
/// let c = heapy::hpy().heap().filter(|o| o.kind() == "Node").cycles();
/// assert_eq!(c.rows().len(), 1); // one cycle ...
/// assert_eq!(c.get(0).unwrap().count(), 2); // ... of two objects
/// assert_eq!(c.count(), 2);
/// println!("{c}");
/// # a.0.borrow_mut().take();
/// ```
#[derive(Clone)]
#[non_exhaustive]
#[doc(alias("reference_cycles", "rc_cycles"))]
pub struct Cycles {
    comps: Vec<Heap>,
    /// Per component: (from address, offset, to address) of the edges inside it.
    edges: Vec<Edges>,
}

impl Cycles {
    /// Objects in all the cycles together (`rows().len()` is the number of cycles).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let c = heapy::hpy().mark().heap().cycles();
    /// assert_eq!((c.count(), c.size(), c.rows().len()), (0, 0, 0));
    /// ```
    pub fn count(&self) -> usize {
        self.comps.iter().map(Heap::count).sum()
    }

    /// Bytes in all the cycles together.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use std::{cell::RefCell, rc::Rc};
    /// struct Ring(RefCell<Option<Rc<Ring>>>);
    /// let a = heapy::with_kind("Ring", || Rc::new(Ring(RefCell::new(None))));
    /// *a.0.borrow_mut() = Some(a.clone()); // a cycle of one
    /// let c = heapy::hpy().heap().filter(|o| o.kind() == "Ring").cycles();
    /// let counters = 2 * std::mem::size_of::<usize>();
    /// assert_eq!(c.size(), counters + std::mem::size_of::<Ring>());
    /// # a.0.borrow_mut().take();
    /// ```
    pub fn size(&self) -> usize {
        self.comps.iter().map(Heap::size).sum()
    }

    /// True if there is no cycle.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v = vec![Box::new(1u8)];
    /// assert!(heapy::hpy().heap().filter(|o| o.size() == 1).cycles().is_empty());
    /// # drop(v);
    /// ```
    pub fn is_empty(&self) -> bool {
        self.comps.is_empty()
    }

    /// The cycles as data, largest first (see [`CycleRow`]); `rows().len()` is the number
    /// of cycles.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let cycles = heapy::hpy().heapu().cycles();
    /// for (i, c) in cycles.rows().enumerate() {
    ///     println!("cycle {i}: {} objects, {} bytes", c.count(), c.size());
    /// }
    /// ```
    pub fn rows(&self) -> impl ExactSizeIterator<Item = CycleRow<'_>> + '_ {
        self.comps
            .iter()
            .zip(&self.edges)
            .map(|(heap, edges)| CycleRow { heap, edges })
    }

    /// Cycle `i` (largest cycles first), if there is one.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert!(heapy::hpy().mark().heap().cycles().get(0).is_none());
    /// ```
    pub fn get(&self, i: usize) -> Option<CycleRow<'_>> {
        Some(CycleRow {
            heap: self.comps.get(i)?,
            edges: self.edges.get(i)?,
        })
    }
}

/// One reference cycle of a [`Cycles`] table (a strongly connected component): its objects
/// and the references between them that close the cycle.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// use std::{cell::RefCell, rc::Rc};
/// struct Node(RefCell<Option<Rc<Node>>>);
/// let a = heapy::with_kind("Pair", || Rc::new(Node(RefCell::new(None))));
/// let b = heapy::with_kind("Pair", || Rc::new(Node(RefCell::new(Some(a.clone())))));
/// *a.0.borrow_mut() = Some(b.clone());
/// let cycles = heapy::hpy().heap().filter(|o| o.kind() == "Pair").cycles();
/// let c = cycles.get(0).unwrap();
/// assert_eq!(c.count(), 2);
/// assert!(c.heap().objects().all(|o| o.kind() == "Pair"));
/// assert_eq!(c.references().len(), 2); // a -> b and b -> a
/// # a.0.borrow_mut().take();
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct CycleRow<'c> {
    heap: &'c Heap,
    edges: &'c [(usize, usize, usize)],
}

impl<'c> CycleRow<'c> {
    /// The cycle's objects, as a set (printable, and with every view of a [`Heap`]).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use std::{cell::RefCell, rc::Rc};
    /// struct Loop(RefCell<Option<Rc<Loop>>>);
    /// let a = heapy::with_kind("Loop", || Rc::new(Loop(RefCell::new(None))));
    /// *a.0.borrow_mut() = Some(a.clone());
    /// let cycles = heapy::hpy().heap().filter(|o| o.kind() == "Loop").cycles();
    /// assert_eq!(cycles.get(0).unwrap().heap().theone().unwrap().kind(), "Loop");
    /// # a.0.borrow_mut().take();
    /// ```
    pub fn heap(&self) -> &'c Heap {
        self.heap
    }

    /// Objects in the cycle.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use std::{cell::RefCell, rc::Rc};
    /// struct Loop(RefCell<Option<Rc<Loop>>>);
    /// let a = heapy::with_kind("Loop1", || Rc::new(Loop(RefCell::new(None))));
    /// *a.0.borrow_mut() = Some(a.clone());
    /// let cycles = heapy::hpy().heap().filter(|o| o.kind() == "Loop1").cycles();
    /// assert_eq!(cycles.get(0).unwrap().count(), 1);
    /// # a.0.borrow_mut().take();
    /// ```
    pub fn count(&self) -> usize {
        self.heap.count()
    }

    /// Bytes in the cycle.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use std::{cell::RefCell, rc::Rc};
    /// struct Loop(RefCell<Option<Rc<Loop>>>);
    /// let a = heapy::with_kind("Loop2", || Rc::new(Loop(RefCell::new(None))));
    /// *a.0.borrow_mut() = Some(a.clone());
    /// let cycles = heapy::hpy().heap().filter(|o| o.kind() == "Loop2").cycles();
    /// // Rc's two counters and the value.
    /// let counters = 2 * std::mem::size_of::<usize>();
    /// assert_eq!(cycles.get(0).unwrap().size(), counters + std::mem::size_of::<Loop>());
    /// # a.0.borrow_mut().take();
    /// ```
    pub fn size(&self) -> usize {
        self.heap.size()
    }

    /// The references between the cycle's objects (each from one object of the cycle to
    /// another, or to itself), in the order the table prints them.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use std::{cell::RefCell, rc::Rc};
    /// struct Loop(RefCell<Option<Rc<Loop>>>);
    /// let a = heapy::with_kind("Loop3", || Rc::new(Loop(RefCell::new(None))));
    /// *a.0.borrow_mut() = Some(a.clone());
    /// let cycles = heapy::hpy().heap().filter(|o| o.kind() == "Loop3").cycles();
    /// let r = cycles.get(0).unwrap().references().next().unwrap();
    /// assert_eq!(r.from(), r.to()); // the Rc points to itself ...
    /// let counters = 2 * std::mem::size_of::<usize>(); // Rc's strong and weak counts
    /// assert!(r.offset() >= counters && r.offset() < counters + std::mem::size_of::<Loop>());
    /// # a.0.borrow_mut().take();
    /// ```
    pub fn references(&self) -> impl ExactSizeIterator<Item = Reference> + 'c {
        self.edges
            .iter()
            .map(|&(from, offset, to)| Reference { from, offset, to })
    }
}

/// A reference from one object to another found by the pointer scan: the word at `offset`
/// bytes into the object at `from` points into the object at `to`.
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// use std::{cell::RefCell, rc::Rc};
/// struct Loop(RefCell<Option<Rc<Loop>>>);
/// let a = heapy::with_kind("Loop4", || Rc::new(Loop(RefCell::new(None))));
/// *a.0.borrow_mut() = Some(a.clone());
/// let cycles = heapy::hpy().heap().filter(|o| o.kind() == "Loop4").cycles();
/// let r = cycles.get(0).unwrap().references().next().unwrap();
/// let counters = 2 * std::mem::size_of::<usize>(); // before the value in an Rc
/// assert_eq!(r.to(), Rc::as_ptr(&a) as usize - counters); // the Rc's allocation
/// # a.0.borrow_mut().take();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Reference {
    from: usize,
    offset: usize,
    to: usize,
}

impl Reference {
    /// The address of the object that holds the pointer.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use std::{cell::RefCell, rc::Rc};
    /// struct Loop(RefCell<Option<Rc<Loop>>>);
    /// let a = heapy::with_kind("Loop5", || Rc::new(Loop(RefCell::new(None))));
    /// *a.0.borrow_mut() = Some(a.clone());
    /// let cycles = heapy::hpy().heap().filter(|o| o.kind() == "Loop5").cycles();
    /// let r = cycles.get(0).unwrap().references().next().unwrap();
    /// assert_eq!(r.from(), cycles.get(0).unwrap().heap().theone().unwrap().address());
    /// # a.0.borrow_mut().take();
    /// ```
    pub fn from(&self) -> usize {
        self.from
    }

    /// Where the pointer sits, in bytes from the start of the object at [`from`](Self::from).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use std::{cell::RefCell, rc::Rc};
    /// struct Loop(RefCell<Option<Rc<Loop>>>);
    /// let a = heapy::with_kind("Loop6", || Rc::new(Loop(RefCell::new(None))));
    /// *a.0.borrow_mut() = Some(a.clone());
    /// let cycles = heapy::hpy().heap().filter(|o| o.kind() == "Loop6").cycles();
    /// assert_eq!(cycles.get(0).unwrap().references().next().unwrap().offset() % 8, 0);
    /// # a.0.borrow_mut().take();
    /// ```
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The address of the object pointed to.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use std::{cell::RefCell, rc::Rc};
    /// struct Loop(RefCell<Option<Rc<Loop>>>);
    /// let a = heapy::with_kind("Loop7", || Rc::new(Loop(RefCell::new(None))));
    /// *a.0.borrow_mut() = Some(a.clone());
    /// let cycles = heapy::hpy().heap().filter(|o| o.kind() == "Loop7").cycles();
    /// let r = cycles.get(0).unwrap().references().next().unwrap();
    /// assert_eq!(r.to(), r.from());
    /// # a.0.borrow_mut().take();
    /// ```
    pub fn to(&self) -> usize {
        self.to
    }
}

impl fmt::Display for Cycles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = guard::internal(|| {
            let mut out = String::new();
            out.push_str(&format!(
                "{} reference cycles, {} objects, {} bytes.\n",
                self.comps.len(),
                self.count(),
                self.size()
            ));
            for (i, (c, edges)) in self.comps.iter().zip(&self.edges).enumerate() {
                out.push_str(&format!(
                    "Cycle {i}: {} objects, {} bytes\n",
                    c.count(),
                    c.size()
                ));
                out.push_str("     Size Address         Kind (site)\n");
                for o in c.objects() {
                    let site = site_of(&o).map(|s| format!(" ({s})")).unwrap_or_default();
                    out.push_str(&format!(
                        "{:9} {:<#15x} {}{site}\n",
                        o.size(),
                        o.address(),
                        o.kind()
                    ));
                    for &(from, off, to) in edges {
                        if from == o.address() {
                            out.push_str(&format!("{:>25} +{off:#x} -> {to:#x}\n", ""));
                        }
                    }
                }
            }
            out
        });
        f.write_str(&text)
    }
}

impl fmt::Debug for Cycles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.comps).finish()
    }
}

impl Heap {
    /// The reference cycles among this set's objects (guppy has none to find: Python's
    /// collector frees them; in Rust an Rc/Arc cycle is the classic leak). Usually asked of
    /// [`Hpy::heapu`](crate::Hpy::heapu)'s unreachable objects. Only references between
    /// objects of the set count.
    ///
    /// # Panics
    ///
    /// When this process may not read its own memory (see
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable)); [`Heap::try_cycles`]
    /// returns that error instead.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let cycles = heapy::hpy().heapu().cycles();
    /// for c in cycles.rows() {
    ///     println!("{} objects, {} bytes", c.count(), c.size());
    /// }
    /// println!("{cycles}");
    /// ```
    #[doc(alias("reference_cycles", "rc_cycles", "strongly_connected_components"))]
    #[track_caller]
    pub fn cycles(&self) -> Cycles {
        or_panic(cycles(self))
    }

    /// The reference cycles among this set's objects, as [`Heap::cycles`]; or
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable) when this process may not
    /// read its own memory.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let cycles = heapy::hpy().try_heapu().and_then(|u| u.try_cycles());
    /// match cycles {
    ///     Ok(c) => println!("{c}"),
    ///     Err(e) => eprintln!("no leak check: {e}"),
    /// }
    /// ```
    pub fn try_cycles(&self) -> Result<Cycles> {
        cycles(self)
    }
}

#[inline(never)]
fn cycles(h: &Heap) -> Result<Cycles> {
    guard::internal(|| {
        // Only the set's objects that are still live are nodes, and only their memory is read.
        let mine: HashSet<(usize, u64)> = h.objs().iter().map(|o| (o.addr, o.serial)).collect();
        let nodes: Vec<Obj> = live_by_address()
            .into_iter()
            .filter(|o| mine.contains(&(o.addr, o.serial)))
            .collect();
        let g = Graph::build(nodes, |_| true, Vec::new()).map_err(unreadable)?;
        let (comp, count) = sccs(&g, |_| true);
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); count];
        for (i, &c) in comp.iter().enumerate() {
            if c != u32::MAX {
                groups[c as usize].push(i as u32);
            }
        }
        let mut found: Vec<(Heap, Edges)> = groups
            .into_iter()
            .filter(|m| m.len() > 1 || g.edges(m[0] as usize).any(|(t, _)| t == m[0]))
            .map(|m| {
                let c = comp[m[0] as usize];
                let mut edges = Vec::new();
                let mut objs = Vec::new();
                for &v in &m {
                    let o = g.nodes[v as usize];
                    objs.push(o);
                    for (t, off) in g.edges(v as usize) {
                        if comp[t as usize] == c {
                            edges.push((o.addr, off, g.nodes[t as usize].addr));
                        }
                    }
                }
                objs.sort_unstable_by_key(|o| (o.serial, o.addr));
                (h.subset(objs), edges)
            })
            .collect();
        found.sort_by(|a, b| {
            b.0.size()
                .cmp(&a.0.size())
                .then(b.0.count().cmp(&a.0.count()))
        });
        let (comps, edges) = found.into_iter().unzip();
        Ok(Cycles { comps, edges })
    })
}

/// Strongly connected components of the subgraph of nodes for which `keep` is true
/// (iterative Tarjan): each kept node's component number (`u32::MAX` for the others) and
/// the number of components. Components are numbered in reverse topological order: a
/// component's edges lead only to components numbered lower or equal.
pub(crate) fn sccs(g: &Graph, keep: impl Fn(u32) -> bool) -> (Vec<u32>, usize) {
    const UNSEEN: u32 = u32::MAX;
    let n = g.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![u32::MAX; n];
    let mut stack: Vec<u32> = Vec::new();
    // (node, next edge position)
    let mut call: Vec<(u32, usize)> = Vec::new();
    let mut next_index = 0u32;
    let mut count = 0u32;
    for s in 0..n as u32 {
        if index[s as usize] != UNSEEN || !keep(s) {
            continue;
        }
        call.push((s, g.first[s as usize]));
        index[s as usize] = next_index;
        low[s as usize] = next_index;
        next_index += 1;
        stack.push(s);
        on_stack[s as usize] = true;
        while let Some(&mut (v, ref mut e)) = call.last_mut() {
            let end = g.first[v as usize + 1];
            let mut descended = false;
            while *e < end {
                let t = g.to[*e];
                *e += 1;
                if !keep(t) {
                    continue;
                }
                if index[t as usize] == UNSEEN {
                    index[t as usize] = next_index;
                    low[t as usize] = next_index;
                    next_index += 1;
                    stack.push(t);
                    on_stack[t as usize] = true;
                    call.push((t, g.first[t as usize]));
                    descended = true;
                    break;
                } else if on_stack[t as usize] {
                    low[v as usize] = low[v as usize].min(index[t as usize]);
                }
            }
            if descended {
                continue;
            }
            call.pop();
            if let Some(&(p, _)) = call.last() {
                low[p as usize] = low[p as usize].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    comp[w as usize] = count;
                    if w == v {
                        break;
                    }
                }
                count += 1;
            }
        }
    }
    (comp, count as usize)
}
