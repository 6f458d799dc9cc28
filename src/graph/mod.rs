//! The object graph: a conservative pointer scan of the live objects, and the views built on
//! it (referents and referrers, byrcs and byvia, unreachable objects and Rc cycles, retained
//! sizes, shortest paths from roots).
//!
//! Rust objects carry no headers, so the graph is rebuilt on demand the way a conservative
//! garbage collector or a leak sanitizer does it: every aligned word inside a live object
//! (only its `size` bytes: the trailer after it is heapy's) that points into another live
//! object, interior pointers included, is an edge. Roots are the writable segments of loaded
//! modules, each registered thread's stack and static thread-local blocks, and the calling
//! thread's registers (see `roots`). Memory is read through the kernel (`process_vm_readv`
//! on the own process, or `/proc/self/mem` where that is denied: `sys::read_words`), never by
//! dereferencing, because other threads may be writing or freeing it. When the process may
//! not read its own memory, every graph call fails with `Error::MemoryUnreadable` (the
//! `try_` forms return it, the others panic with it) rather than build a graph from what it
//! could not read, where every object would look unreachable.
//!
//! Every public entry point captures the caller's registers and stack pointer in its own frame
//! (`Here::capture`) and hands over to a worker that is never inlined, so the scan's own
//! stack frames lie below the scanned part of the stack.

mod cycles;
mod dominators;
mod exit;
mod index;
mod paths;
mod roots;
mod scan;
mod unreachable;
mod views;

use std::collections::HashMap;
use std::sync::Arc;

pub use cycles::{CycleRow, Cycles, Reference};
pub use dominators::{Retained, RetainedRow};
pub use paths::{PathRow, Paths};

use crate::census::registry;
use crate::heap::{Heap, Meta, Obj};
use crate::sys;
use crate::{Error, Result};
use roots::Here;
use scan::Graph;

/// Every live object now, sorted by address, without overlaps (when a block was freed and
/// its address reused while the registry was read, the newer record wins).
pub(crate) fn live_by_address() -> Vec<Obj> {
    let mut objs = Vec::new();
    registry::for_each_live(|o| objs.push(o));
    objs.sort_unstable_by_key(|o| (o.addr, o.serial));
    let mut out: Vec<Obj> = Vec::with_capacity(objs.len());
    for o in objs {
        if let Some(last) = out.last_mut() {
            if o.addr < last.addr + last.size.max(1) {
                if o.serial > last.serial {
                    *last = o;
                }
                continue;
            }
        }
        out.push(o);
    }
    out
}

/// The graph of every live object now; `read(o)` says which objects' memory to scan (the
/// others are targets only; objects that appear during the scan are always read); or
/// [`Error::MemoryUnreadable`]. Call with the reentrancy flag held.
pub(crate) fn process_graph(here: &Here, read: impl Fn(&Obj) -> bool) -> Result<Graph> {
    let regions = roots::collect(here);
    let nodes = live_by_address();
    let scan: Vec<bool> = nodes.iter().map(&read).collect();
    Graph::build_live(nodes, |i| scan[i], regions, live_by_address).map_err(unreadable)
}

/// The error of a scan that could not read memory.
pub(crate) fn unreadable(d: sys::ReadDenied) -> Error {
    Error::MemoryUnreadable {
        vm_readv: d.vm_readv.to_io_error(),
        proc_mem: d.proc_mem.to_io_error(),
    }
}

/// The value of a graph call, or a panic with its error: the plain forms of the `try_`
/// calls (as [`Heap::row`] is of [`Heap::try_row`]).
#[track_caller]
pub(crate) fn or_panic<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// Kind names for the contexts of `objs` (resolved the way snapshots resolve them).
pub(crate) fn names_for(objs: &[Obj]) -> Arc<Meta> {
    let mut one: HashMap<u32, Obj> = HashMap::new();
    for o in objs {
        one.entry(o.ctx).or_insert(*o);
    }
    Heap::resolve(one.into_values().collect()).meta().clone()
}

/// Where an object was allocated (`src/main.rs:12 demo::make`), when a stack was captured.
pub(crate) fn site_of(o: &crate::Object<'_>) -> Option<String> {
    o.meta.kinds.get(&o.obj.ctx).and_then(|k| k.site.clone())
}

/// The nodes of `g` that are objects of `h` (same address and serial), as a mask.
pub(crate) fn members(g: &Graph, h: &Heap) -> Vec<bool> {
    let mut m = vec![false; g.len()];
    for o in h.objs() {
        if let Some(i) = g.node_of(o) {
            m[i as usize] = true;
        }
    }
    m
}
