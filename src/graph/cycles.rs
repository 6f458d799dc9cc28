//! Reference cycles: strongly connected components of the graph (Tarjan's algorithm), the
//! shape every Rc/Arc leak takes.

use std::collections::HashSet;
use std::fmt;

use super::scan::Graph;
use super::{live_by_address, site_of};
use crate::census::guard;
use crate::heap::{Heap, Obj};

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
/// assert_eq!(c.len(), 1);
/// assert_eq!(c.get(0).unwrap().count(), 2);
/// println!("{c}");
/// # a.0.borrow_mut().take();
/// ```
#[derive(Clone)]
pub struct Cycles {
    comps: Vec<Heap>,
    /// Per component: (from address, offset, to address) of the edges inside it.
    edges: Vec<Edges>,
}

impl Cycles {
    /// Number of cycles (strongly connected components).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert_eq!(heapy::hpy().mark().heap().cycles().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.comps.len()
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

    /// The objects of cycle `i` (largest cycles first).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert!(heapy::hpy().mark().heap().cycles().get(0).is_none());
    /// ```
    pub fn get(&self, i: usize) -> Option<Heap> {
        self.comps.get(i).cloned()
    }
}

impl fmt::Display for Cycles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = guard::internal(|| {
            let mut out = String::new();
            let objects: usize = self.comps.iter().map(Heap::count).sum();
            let bytes: usize = self.comps.iter().map(Heap::size).sum();
            out.push_str(&format!(
                "{} reference cycles, {objects} objects, {bytes} bytes.\n",
                self.comps.len()
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
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let cycles = heapy::hpy().heapu().cycles();
    /// for i in 0..cycles.len() {
    ///     let c = cycles.get(i).unwrap();
    ///     println!("cycle {i}: {} objects, {} bytes", c.count(), c.size());
    /// }
    /// println!("{cycles}");
    /// ```
    pub fn cycles(&self) -> Cycles {
        cycles(self)
    }
}

#[inline(never)]
fn cycles(h: &Heap) -> Cycles {
    guard::internal(|| {
        // Only the set's objects that are still live are nodes, and only their memory is read.
        let mine: HashSet<(usize, u64)> = h.objs().iter().map(|o| (o.addr, o.serial)).collect();
        let nodes: Vec<Obj> = live_by_address()
            .into_iter()
            .filter(|o| mine.contains(&(o.addr, o.serial)))
            .collect();
        let g = Graph::build(nodes, |_| true, Vec::new());
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
        Cycles { comps, edges }
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
