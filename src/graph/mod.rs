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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use cycles::{CycleRow, Cycles, Reference};
pub use dominators::{Retained, RetainedRow};
pub use paths::{PathRow, Paths};
pub(crate) use scan::set_hook as set_scan_hook;
pub use scan::ScanPoint;

use crate::census::{registry, threads};
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
    by_address(objs)
}

/// `objs` sorted by address, without overlaps (the newer record wins).
fn by_address(mut objs: Vec<Obj>) -> Vec<Obj> {
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
/// others are targets only); or [`Error::MemoryUnreadable`]. Call with the reentrancy flag
/// held.
///
/// The objects, their memory and the roots are read from a frozen copy of the process (see
/// `sys::freeze`), so the graph is that of one instant (`Graph::consistent`). When the world
/// cannot be stopped (see `sys::NoFreeze`), the running process is scanned instead, catching
/// up with what moves meanwhile, and a warning says why (once per process).
pub(crate) fn process_graph(here: &Here, read: impl Fn(&Obj) -> bool) -> Result<Graph> {
    scan::hook(scan::ScanPoint::Start);
    // A process that may not read its own memory gets the error, as a moving scan would
    // give it (the frozen copy might still be readable through another door).
    sys::check_readable().map_err(unreadable)?;
    match frozen_graph(here, &read) {
        Ok(g) => g,
        Err(why) => {
            warn_unstopped(&why);
            moving_graph(here, read)
        }
    }
}

/// The graph of a frozen copy of the process.
fn frozen_graph(
    here: &Here,
    read: &impl Fn(&Obj) -> bool,
) -> std::result::Result<Result<Graph>, sys::NoFreeze> {
    let sig = sys::stop_signal()?;
    // What the stopped step writes is allocated before the stop: a stopped thread may hold
    // the C allocator's lock. Threads registered meanwhile beyond this room are scanned
    // without their census facts (their stack from the mapping that holds it).
    let mut facts: Vec<threads::StackFacts> = Vec::with_capacity(threads::count() + 256);
    let mut step = || {
        facts.clear();
        for i in 1..threads::count() {
            if facts.len() == facts.capacity() {
                break;
            }
            if let Some(f) = threads::stack_facts(i as u16) {
                facts.push(f);
            }
        }
    };
    let frozen = sys::freeze(sig, &mut step)?;
    let mut objs = Vec::new();
    registry::for_each_live_in(|a, b| frozen.read_words(a, b), |o| objs.push(o));
    let nodes = by_address(objs);
    let regions = roots::collect_frozen(here, &frozen, &facts);
    let scan: Vec<bool> = nodes.iter().map(read).collect();
    Ok(Graph::build_frozen(nodes, |i| scan[i], regions, &frozen).map_err(unreadable))
}

/// The graph of the running process, read while other threads keep running.
fn moving_graph(here: &Here, read: impl Fn(&Obj) -> bool) -> Result<Graph> {
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

/// Says once per process why a scan ran without stopping the world (not when the user
/// turned the stop off).
fn warn_unstopped(why: &sys::NoFreeze) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    // Relaxed: one message, whichever thread prints it.
    if *why == sys::NoFreeze::Off || WARNED.swap(true, Ordering::Relaxed) {
        return;
    }
    eprintln!(
        "heapy: the pointer scan runs without stopping the program's threads ({why}); an \
         object whose only pointer moves while it runs may be reported as unreachable"
    );
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
    o.meta
        .kinds
        .get(&o.obj.ctx)
        .and_then(|k| k.site.as_deref().map(str::to_string))
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
