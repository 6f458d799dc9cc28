//! Taking snapshots: `hpy()`, `Hpy` and thread-scoped marks.

use super::history::{Figure, History};
use super::{Heap, Mark, Meta, Obj};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::census::history::{self, CtxHistory};
use crate::census::{self, guard, record, registry, threads, Stats};

/// The entry point, as in guppy's `from guppy import hpy; h = hpy()`.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let h = heapy::hpy().heap();
/// println!("{h}");
/// ```
#[doc(alias("heapy", "census"))]
pub fn hpy() -> Hpy {
    // The allocator reads `HEAPY_STACKS` but cannot print: a value it did not understand is
    // named here, once.
    if crate::stack::take_bad_env() {
        guard::internal(|| eprintln!("{}", crate::stack::bad_env_warning()));
    }
    Hpy { _private: () }
}

/// A handle to the census: snapshots, marks and counters.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let hp = heapy::hpy();
/// let s = hp.stats();
/// assert!(s.live_bytes <= s.peak_live_bytes);
/// ```
#[derive(Clone, Copy, Debug)]
#[doc(alias("heapy"))]
#[non_exhaustive]
pub struct Hpy {
    _private: (),
}

/// The process-wide reference point: for each thread index, the first serial it shows, and
/// the allocation history then (what `Hpy::allocations` counts from).
struct RelHeap {
    marks: record::Watermarks,
    history: Vec<CtxHistory>,
}

static RELHEAP: Mutex<Option<Arc<RelHeap>>> = Mutex::new(None);

/// Runs `f` on the reference point, locked, as a fork-safe section (`sys::fork`): the lock
/// is never held across a `fork()`.
fn with_relheap<R>(f: impl FnOnce(&mut Option<Arc<RelHeap>>) -> R) -> R {
    guard::internal(|| {
        crate::sys::fork::section(|| {
            // A panic while the lock was held cannot leave the Option half-written.
            f(&mut RELHEAP.lock().unwrap_or_else(|e| e.into_inner()))
        })
    })
}

fn relheap() -> Option<Arc<RelHeap>> {
    with_relheap(|r| r.clone())
}

/// Copies the live records that pass `keep` out of the registry: a set of objects (each
/// address once), each live when the copy ended.
pub(crate) fn take(mut keep: impl FnMut(&Obj) -> bool) -> Heap {
    let objs = guard::internal(|| {
        let mut found = Vec::new();
        registry::for_each_live_slot(|slot, o| {
            if keep(&o) {
                found.push((o, slot));
            }
        });
        still_live(found)
    });
    Heap::resolve(objs)
}

/// The objects of `found` (each with the registry slot it was read from) that are still
/// live now.
///
/// The registry is not read at one instant: while it is read, a block can be freed and its
/// address reused by a later allocation, whose record lands in a slot read later, and then
/// the copy holds two objects at one address. Reading each kept slot again after the copy
/// leaves out every object freed meanwhile. What is left is a set: an object still live at
/// this second reading was live throughout from its first reading, so it was live when the
/// copy ended, and two objects live at one instant have distinct addresses. (The second
/// pass goes through the slots in the order of the first, so it costs far less than
/// sorting by address would.)
fn still_live(found: Vec<(Obj, u32)>) -> Vec<Obj> {
    found
        .into_iter()
        .filter(|(o, slot)| registry::still_live(*slot, o.serial))
        .map(|(o, _)| o)
        .collect()
}

/// Names the threads of `objs`, live objects of this process just copied from the registry,
/// and drops the objects that no thread of that name made.
///
/// A thread's slot (its index in the records) is reused once the thread has exited and none
/// of its objects is live. A copy that raced with that can hold a record of the earlier
/// thread: its serial is below the first serial of the slot's thread now, and it is freed by
/// now, so it is left out (objects freed during the copy may or may not be in it) rather
/// than shown under the later thread's name. The same holds for a slot that is free now.
pub(crate) fn thread_names(objs: &mut Vec<Obj>) -> HashMap<u16, String> {
    // A thread index is a u16: one table entry per index up to the largest present (read
    // per object, so no hashing on this per-object path).
    let top = objs
        .iter()
        .map(|o| o.thread)
        .max()
        .map_or(0, |t| t as usize + 1);
    let mut infos: Vec<Option<threads::ThreadInfo>> = Vec::new();
    infos.resize_with(top, || None);
    for o in objs.iter() {
        infos[o.thread as usize].get_or_insert_with(|| threads::info(o.thread));
    }
    let mut present = vec![false; top];
    objs.retain(|o| {
        let keep = threads::shared(o.thread)
            || infos[o.thread as usize]
                .as_ref()
                .is_some_and(|t| !t.released && o.serial >= t.start);
        present[o.thread as usize] |= keep;
        keep
    });
    infos
        .into_iter()
        .enumerate()
        .filter(|(t, _)| present[*t])
        .filter_map(|(t, info)| Some((t as u16, threads::label_of(&info?))))
        .collect()
}

/// The census's allocation history now. When the heap is at its peak at this moment (it
/// rose to a new maximum and has not begun to fall), the composition now is the peak's: the
/// peak generation moves on first, as the next free would have done.
fn history_settled() -> Vec<CtxHistory> {
    let s = census::collect_stats();
    if s.live_bytes >= s.peak_live_bytes {
        history::peak_passed();
    }
    history::collect()
}

/// The census's allocation history now, passed through `f`, with names for its contexts.
fn history_now(f: impl FnOnce(Vec<CtxHistory>) -> Vec<CtxHistory>) -> (Vec<CtxHistory>, Arc<Meta>) {
    guard::internal(|| {
        let all = f(history_settled());
        let meta = Meta::resolve(all.iter().map(|h| h.ctx), HashMap::new());
        (all, Arc::new(meta))
    })
}

impl Hpy {
    /// Every live object in the process (heapy's own bookkeeping excluded).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v = vec![7u8; 100];
    /// let h = heapy::hpy().heap();
    /// assert!(h.objects().any(|o| o.address() == v.as_ptr() as usize && o.size() == 100));
    /// ```
    ///
    /// After [`Hpy::setrelheap`], only the objects allocated after that reference point.
    ///
    /// # While other threads allocate
    ///
    /// The census is copied while the program runs; other threads keep allocating and
    /// freeing meanwhile, so a snapshot is not the heap at one instant. It is a set (each
    /// address once), and every object in it was live when the copy ended: an object freed
    /// during the copy is left out even if its record was read, and one allocated during the
    /// copy may or may not be in it. Objects that live through the whole copy are all in it,
    /// so a snapshot of a quiet program, and a [`Mark::heap`] taken by the thread that made
    /// the mark (its own objects do not move while it copies), are exact.
    #[doc(alias("snapshot", "live_objects"))]
    pub fn heap(&self) -> Heap {
        let rel = relheap();
        let objs = guard::internal(|| {
            let mut found = Vec::new();
            registry::for_each_live_slot(|slot, o| {
                if rel
                    .as_ref()
                    .is_none_or(|r| o.serial >= r.marks.get(o.thread))
                {
                    found.push((o, slot));
                }
            });
            still_live(found)
        });
        // The history as of the copy's end (after the objects: an object in the copy is in
        // its context's figures).
        let hist = guard::internal(history_settled);
        Heap::resolve_with_history(objs, hist)
    }

    /// Sets a process-wide reference point (guppy's `setrelheap`): later [`Hpy::heap`] calls
    /// show only objects allocated after it, by any thread. One reference point exists per
    /// process; setting it again moves it, [`Hpy::clear_relheap`] removes it. For a reference
    /// point that other threads cannot disturb (tests running in parallel), use
    /// [`Hpy::mark`].
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let hp = heapy::hpy();
    /// let old = vec![0u8; 100];
    /// hp.setrelheap();
    /// let new = vec![0u8; 200];
    /// let h = hp.heap();
    /// assert!(h.objects().any(|o| o.address() == new.as_ptr() as usize));
    /// assert!(!h.objects().any(|o| o.address() == old.as_ptr() as usize));
    /// hp.clear_relheap();
    /// assert!(hp.heap().objects().any(|o| o.address() == old.as_ptr() as usize));
    /// # drop((old, new));
    /// ```
    #[doc(alias("baseline", "set_baseline", "reference_point"))]
    pub fn setrelheap(&self) {
        let wm = guard::internal(|| {
            Arc::new(RelHeap {
                marks: record::watermarks(),
                history: history::collect(),
            })
        });
        let old = with_relheap(|r| r.replace(wm));
        guard::internal(|| drop(old));
    }

    /// Removes the reference point of [`Hpy::setrelheap`]: [`Hpy::heap`] shows every live
    /// object again.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let hp = heapy::hpy();
    /// let v = vec![1u8; 10];
    /// hp.setrelheap();
    /// hp.clear_relheap();
    /// assert!(hp.heap().objects().any(|o| o.address() == v.as_ptr() as usize));
    /// # drop(v);
    /// ```
    #[doc(alias("clear_baseline"))]
    pub fn clear_relheap(&self) {
        let old = with_relheap(Option::take);
        guard::internal(|| drop(old));
    }

    /// A reference point on the calling thread: [`Mark::heap`] is what this thread
    /// allocates after it and keeps alive, whatever other threads do.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let s = String::from("hello");
    /// assert_eq!(mark.heap().size(), 5);
    /// # drop(s);
    /// ```
    #[doc(alias("checkpoint", "scope"))]
    pub fn mark(&self) -> Mark {
        Mark::new()
    }

    /// A reference point for futures: a [`Mark`] that no thread is in, so that its heap is
    /// only what the futures [scoped](Mark::scope) to it allocated (and threads that
    /// [entered](Mark::enter) it), on whichever threads polled them, and its
    /// [peak](Mark::peak_bytes) theirs. The mark for an async test: neither the test's own
    /// code nor the runtime's work between polls, nor other tasks, are in it.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// # use std::future::Future;
    /// # use std::task::{Context, Waker};
    /// let mark = heapy::hpy().task_mark();
    /// let outside = vec![0u8; 10]; // the calling thread's: not in a task mark
    /// let fut = std::pin::pin!(mark.scope(async { vec![0u8; 20] }));
    /// let inside = fut.poll(&mut Context::from_waker(Waker::noop()));
    /// assert_eq!(mark.heap().size(), 20);
    /// # drop((outside, inside));
    /// ```
    #[doc(alias("async_mark", "future_mark"))]
    pub fn task_mark(&self) -> Mark {
        Mark::task()
    }

    /// The census counters now.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let s = heapy::hpy().stats();
    /// assert!(s.allocations >= s.frees);
    /// ```
    #[doc(alias("counters", "memory_usage"))]
    pub fn stats(&self) -> Stats {
        census::collect_stats()
    }

    /// Every block allocated since the start (or since [`Hpy::setrelheap`]), freed ones
    /// included, by kind: Count is blocks, Size their bytes. Where the allocation churn
    /// comes from (`.bysite()` names the lines). A reallocation counts as a new block.
    ///
    /// Kept by every census that records every block; a sampling census
    /// ([`Stacks::Sampled`](crate::Stacks::Sampled)) keeps no history, and the table is
    /// empty. Another thread's latest blocks may be missing for a moment (each thread counts
    /// in its own cache and adds to the shared figures now and then; a reader adds the
    /// caches up as they are): the calling thread's own figures are exact.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// for i in 0..5 {
    ///     drop(heapy::with_kind("Temp", || vec![0u8; 10 + i]));
    /// }
    /// let a = heapy::hpy().allocations();
    /// let temp = a.rows().find(|r| r.label() == "Temp").unwrap();
    /// assert_eq!((temp.count(), temp.size()), (5, 60));
    /// println!("{}", a.bysite());
    /// ```
    #[doc(alias("totals", "churn", "allocated", "total_allocations"))]
    pub fn allocations(&self) -> History {
        let rel = relheap();
        let (ctxs, meta) = history_now(|mut all| {
            if let Some(r) = &rel {
                let base: HashMap<u32, &CtxHistory> =
                    r.history.iter().map(|h| (h.ctx, h)).collect();
                for h in &mut all {
                    if let Some(b) = base.get(&h.ctx) {
                        h.alloc_blocks = h.alloc_blocks.saturating_sub(b.alloc_blocks);
                        h.alloc_bytes = h.alloc_bytes.saturating_sub(b.alloc_bytes);
                    }
                }
            }
            all
        });
        let figure = if rel.is_some() {
            Figure::AllocatedSinceRel
        } else {
            Figure::Allocated
        };
        History::new(&ctxs, meta, figure)
    }

    /// What the heap held at its highest point so far (since the start or the last
    /// [`Hpy::reset_peak`]), by kind: Count is objects, Size their bytes. Its
    /// [`size`](History::size) is [`Stats::peak_live_bytes`] exactly when one thread
    /// allocates; with several allocating at once, each may be behind by its last
    /// unflushed 16 KiB, as the peak figure itself. Not changed by [`Hpy::setrelheap`].
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let big = heapy::with_kind("Spike", || vec![0u8; 1 << 24]);
    /// drop(big);
    /// let p = heapy::hpy().at_peak();
    /// let spike = p.rows().find(|r| r.label() == "Spike").unwrap();
    /// assert_eq!((spike.count(), spike.size()), (1, 1 << 24));
    /// ```
    #[doc(alias("peak", "high_water_mark", "t_gmax", "peak_consumers"))]
    pub fn at_peak(&self) -> History {
        let (ctxs, meta) = history_now(|all| all);
        History::new(&ctxs, meta, Figure::AtPeak)
    }

    /// Starts a new peak: `stats().peak_live_bytes` becomes the live bytes now.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let hp = heapy::hpy();
    /// drop(vec![0u8; 1 << 20]);
    /// hp.reset_peak();
    /// let s = hp.stats();
    /// assert!(s.peak_live_bytes < s.live_bytes + (1 << 20));
    /// ```
    pub fn reset_peak(&self) {
        census::reset_peak();
    }

    /// Gives back the memory that naming stacks keeps: the program's debug info, which the
    /// first snapshot that resolves call sites parses and which otherwise stays resident for
    /// the life of the process (tens to hundreds of MB in a large debug build; see the
    /// README's "What it costs"). The names heapy already resolved stay cached, so later
    /// snapshots of the same stacks cost nothing more; a snapshot with new stacks parses the
    /// debug info again (the cost of a first snapshot). Call it after the snapshots of a
    /// session, in a long-running program that takes one now and then.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let hp = heapy::hpy();
    /// let m = hp.mark();
    /// let v = vec![1u32; 8];
    /// let site = || m.heap().filter(|o| o.size() == 32).bysite().rows().next().unwrap().label().to_string();
    /// let before = site();
    /// hp.release_symbols();
    /// // The same site, named the same, after the release.
    /// assert_eq!(site(), before);
    /// assert!(before.contains("main"), "{before}");
    /// # drop(v);
    /// ```
    #[doc(alias("clear_symbol_cache", "free_debug_info", "release_memory"))]
    pub fn release_symbols(&self) {
        guard::internal(crate::stack::release_debug_info);
    }
}
