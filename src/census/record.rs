//! What the allocator does for each allocation and free: count it and keep its record.
//!
//! Both entry points run inside the global allocator. They never panic, never allocate
//! through the census (the reentrancy flag is held, so anything below that allocates is
//! marked as heapy's own), and take no lock: per-thread state, the lock-free registry and
//! relaxed atomic counters only.

use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicU64, Ordering};

use super::guard::{self, Reentrancy};
use super::history::{self, Freed, ThreadHist};
use super::registry::{self, LocalSlots, Obj};
use super::trailer::{INTERNAL, UNSAMPLED, UNTRACKED};
use super::{context, stats, threads};
use crate::stack::Stacks;

/// Allocation serials, process-wide, from 1 (0 marks a free registry slot). Threads take
/// them in blocks of `SERIAL_BLOCK`, so that two threads allocating at once do not fight over
/// one cache line: serials rise in allocation order on each thread, and across threads they
/// order allocations to within a block. Relaxed is enough: `fetch_add` alone makes every
/// block distinct.
static SERIAL: AtomicU64 = AtomicU64::new(1);
const SERIAL_BLOCK: u64 = 64;

/// The next serial not yet handed out in a block (every serial taken so far is below it).
pub(crate) fn serial_now() -> u64 {
    // Relaxed: the callers order this read themselves (see `threads::register_current`).
    SERIAL.load(Ordering::Relaxed)
}

/// True once anything was allocated through a `Census`.
pub(crate) fn any_allocation() -> bool {
    SERIAL.load(Ordering::Relaxed) > 1
}

/// A serial that every later allocation of the calling thread will reach or pass.
pub(crate) fn thread_watermark() -> u64 {
    let _g = Reentrancy::enter();
    LOCAL
        .try_with(|l| {
            let (next, end) = (l.serial_next.get(), l.serial_end.get());
            if next < end {
                next
            } else {
                SERIAL.load(Ordering::Relaxed)
            }
        })
        .unwrap_or_else(|_| SERIAL.load(Ordering::Relaxed))
}

/// For every thread, a serial that its later allocations will reach or pass: a process-wide
/// reference point (`Hpy::setrelheap`, `Mark::heap_all_threads`). Threads alive now keep
/// their own position; every other index (free slots, exited threads, threads that register
/// later) gets the global counter, which any later allocation reaches or passes.
#[derive(Clone, Debug)]
pub(crate) struct Watermarks {
    global: u64,
    /// (index, serial) of the threads alive when taken, sorted by index.
    threads: Vec<(u16, u64)>,
}

impl Watermarks {
    /// The serial from which thread index `t`'s objects are after the reference point.
    pub(crate) fn get(&self, t: u16) -> u64 {
        match self.threads.binary_search_by_key(&t, |&(i, _)| i) {
            Ok(k) => self.threads[k].1,
            Err(_) => self.global,
        }
    }
}

/// The watermarks now (call with the reentrancy flag held: allocates). Costs one step per
/// thread alive, none per thread that has exited.
pub(crate) fn watermarks() -> Watermarks {
    // Relaxed: a position of this moment; allocations racing with the call may land on
    // either side of it.
    let global = SERIAL.load(Ordering::Relaxed);
    let mut threads = Vec::new();
    threads::for_each_active(|i| {
        if threads::shared(i) {
            return;
        }
        // Relaxed: as above. A serial of 0 means the thread has not taken one yet: its
        // first will be past the global counter.
        let s = threads::slot(i).next_serial.load(Ordering::Relaxed);
        if s != 0 {
            threads.push((i, s));
        }
    });
    threads.sort_unstable_by_key(|&(i, _)| i);
    Watermarks { global, threads }
}

/// A thread's allocator state. Only its own thread touches it, and only with the reentrancy
/// flag held, so the `UnsafeCell` is never borrowed twice.
struct Local {
    thread: Cell<u16>,
    serial_next: Cell<u64>,
    serial_end: Cell<u64>,
    /// Live-byte change not yet added to the global counter (see `stats::flush`).
    pending: Cell<i64>,
    /// Records this thread made and has not freed itself (frees by other threads are
    /// counted on the thread's slot: see `threads::retire`).
    own_live: Cell<u64>,
    slots: UnsafeCell<LocalSlots>,
    /// The thread's allocation-history state (null until mapped; see `history`).
    hist: Cell<*const ThreadHist>,
    /// How far `pending` can rise before the live bytes pass the peak, as of the thread's
    /// last flush (or its start, or `reset_peak` on this thread).
    room: Cell<i64>,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _g = Reentrancy::enter();
        // What this thread's sampling census counted but did not publish yet: with the
        // thread state still here (it is being dropped, but its fields are intact).
        let u = UNSAMPLED_PENDING
            .try_with(|p| {
                p.live.set(false);
                p.take()
            })
            .unwrap_or(NO_UNSAMPLED);
        let t = self.thread.get();
        if t != 0 && (u.allocs != 0 || u.frees != 0) {
            count_batch(t, &u);
            self.pending
                .set(self.pending.get() + u.alloc_bytes as i64 - u.free_bytes as i64);
        }
        self.slots.get_mut().park();
        if let Some(h) = self.hist_state(t) {
            history::flush_thread(h);
        }
        // Folds the thread's counters away and lets its slot be reused once nothing names it.
        threads::retire(
            self.thread.get(),
            self.own_live.get(),
            self.pending.replace(0),
        );
        // The stack capture's per-thread state goes back for the next thread.
        crate::stack::thread_exit();
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            thread: Cell::new(0),
            serial_next: Cell::new(0),
            serial_end: Cell::new(0),
            pending: Cell::new(0),
            own_live: Cell::new(0),
            slots: UnsafeCell::new(LocalSlots::new()),
            hist: Cell::new(core::ptr::null()),
            room: Cell::new(0),
        }
    };
}

impl Local {
    #[inline(always)]
    fn thread(&self) -> u16 {
        let t = self.thread.get();
        if t != 0 {
            return t;
        }
        let t = threads::register_current();
        self.thread.set(t);
        self.room.set(stats::room_now());
        t
    }

    /// The thread's history state (`None` for a shared index, or if it cannot be mapped).
    #[inline(always)]
    fn hist_state(&self, t: u16) -> Option<&'static ThreadHist> {
        let p = self.hist.get();
        if !p.is_null() {
            // SAFETY: the pointer came from `history::thread_hist`, whose mappings are
            // never unmapped.
            return Some(unsafe { &*p });
        }
        if threads::shared(t) {
            return None;
        }
        let h = history::thread_hist(t)?;
        self.hist.set(h);
        Some(h)
    }

    /// The serial the thread's next allocation gets (or past every serial taken so far).
    #[inline(always)]
    fn serial_pos(&self) -> u64 {
        let (next, end) = (self.serial_next.get(), self.serial_end.get());
        if next < end {
            next
        } else {
            SERIAL.load(Ordering::Relaxed)
        }
    }

    #[inline(always)]
    fn serial(&self, t: u16) -> u64 {
        let mut s = self.serial_next.get();
        if s == self.serial_end.get() {
            s = SERIAL.fetch_add(SERIAL_BLOCK, Ordering::Relaxed);
            self.serial_end.set(s + SERIAL_BLOCK);
        }
        self.serial_next.set(s + 1);
        let slot = threads::slot(t);
        if !threads::shared(t) {
            slot.next_serial.store(s + 1, Ordering::Relaxed);
        }
        s
    }

    #[inline(always)]
    fn live_change(&self, t: u16, delta: i64) {
        let slot = threads::slot(t);
        if threads::shared(t) {
            stats::shared_live_change(slot, delta);
            return;
        }
        let p = self.pending.get() + delta;
        // A new peak: the live bytes pass the highest figure so far (exact while this thread
        // is the one allocating); the next free starts the fall from it.
        if delta > 0 {
            if p > self.room.get() {
                self.room.set(p);
                history::rose();
            }
        } else {
            history::fell();
        }
        if p.unsigned_abs() >= stats::FLUSH_BYTES {
            self.pending.set(0);
            self.room.set(stats::flush(slot, p));
        } else {
            self.pending.set(p);
            // Relaxed: the owner's own figures, read by others as figures of the moment.
            slot.pending.store(p, Ordering::Relaxed);
            if p > slot.pending_high.load(Ordering::Relaxed) {
                slot.pending_high.store(p, Ordering::Relaxed);
            }
        }
    }

    /// Runs `f` on this thread's free slots.
    ///
    /// # Safety
    ///
    /// Called with the reentrancy flag held, on the thread that owns `self`, and `f` must
    /// not reach `self` again.
    #[inline(always)]
    unsafe fn with_slots<R>(&self, f: impl FnOnce(&mut LocalSlots) -> R) -> R {
        // SAFETY: only the owning thread reaches `self`, and the reentrancy flag (held by
        // the caller) means no other borrow of the cell is alive on this thread.
        f(unsafe { &mut *self.slots.get() })
    }
}

/// The calling thread's index, registering it if needed (`UNKNOWN` during teardown).
pub(crate) fn current_thread() -> u16 {
    let _g = Reentrancy::enter();
    current_thread_in_guard()
}

/// As `current_thread`, for a caller that already holds the reentrancy flag.
pub(crate) fn current_thread_in_guard() -> u16 {
    LOCAL.try_with(Local::thread).unwrap_or(threads::UNKNOWN)
}

/// Records a new block `addr` of `size` bytes made by a census capturing `stacks`; returns
/// the trailer mark for it.
///
/// Not `#[inline]`, and neither is [`on_free`]: `Census<A>`'s `GlobalAlloc` methods are
/// generic, so they and everything inlined into them are compiled in the program's crate,
/// with the program's optimisation level. Out of line, the census's hot path is compiled
/// here, with heapy's: a dev build with `[profile.dev.package.heapy] opt-level = 3` then
/// runs it optimised (inlined, it ran at opt-level 0 whatever heapy's profile said: parse
/// of 40k JSON records, stacks on, 2.4 s against 1.2 s with stacks off). In a release build
/// it costs one call.
pub(crate) fn on_alloc(addr: usize, size: usize, stacks: Stacks, history: bool) -> u32 {
    let stacks = crate::stack::effective(stacks);
    let sampling = crate::stack::sample_bytes(stacks);
    let history = history && sampling.is_none();
    if let Some(mean) = sampling {
        // A sampling census decides first, and passes most blocks by without taking the
        // reentrancy flag (it only reads it: heapy's own blocks stay internal).
        if guard::busy() {
            return INTERNAL;
        }
        if !crate::stack::sampled(size, mean) {
            return on_alloc_unsampled(size);
        }
    }
    let Some(_g) = Reentrancy::enter() else {
        return INTERNAL;
    };
    let ctx = context::current(stacks);
    match LOCAL.try_with(|l| {
        let t = l.thread();
        let serial = l.serial(t);
        l.live_change(t, size as i64);
        count_alloc(t, size);
        if addr > registry::MAX_ADDR || size > registry::MAX_SIZE {
            return untracked(t);
        }
        // SAFETY: the reentrancy flag is held, `l` is this thread's state, and `take` does
        // not reach `l`.
        match unsafe { l.with_slots(LocalSlots::take) } {
            Some(slot) => {
                registry::fill(slot, &rec(addr, size, serial, t, ctx));
                if !threads::shared(t) {
                    l.own_live.set(l.own_live.get() + 1);
                }
                if history {
                    history::on_alloc(l.hist_state(t), ctx, size);
                }
                slot
            }
            None => untracked(t),
        }
    }) {
        Ok(mark) => mark,
        Err(_) => on_alloc_shared(addr, size, ctx, history),
    }
}

/// The counts of blocks a sampling census passed by, not yet added to the thread's
/// counters. Adding them up here and publishing them every `UNSAMPLED_BATCH` blocks keeps the
/// unsampled path to a few instructions. `const` and without a destructor, so the allocator
/// can reach it at any time; `Local`'s destructor publishes what is left.
#[derive(Clone, Copy)]
struct Unsampled {
    allocs: u32,
    frees: u32,
    alloc_bytes: u64,
    free_bytes: u64,
}

const NO_UNSAMPLED: Unsampled = Unsampled {
    allocs: 0,
    frees: 0,
    alloc_bytes: 0,
    free_bytes: 0,
};

/// The same counts as cells, so that each path touches only the fields it changes.
struct PendingCells {
    allocs: Cell<u32>,
    frees: Cell<u32>,
    alloc_bytes: Cell<u64>,
    free_bytes: Cell<u64>,
    /// The thread's allocator state exists (so its destructor will publish what is left):
    /// until then, and after that state is torn down, every block is published at once.
    live: Cell<bool>,
}

impl PendingCells {
    fn take(&self) -> Unsampled {
        Unsampled {
            allocs: self.allocs.replace(0),
            frees: self.frees.replace(0),
            alloc_bytes: self.alloc_bytes.replace(0),
            free_bytes: self.free_bytes.replace(0),
        }
    }
}

thread_local! {
    static UNSAMPLED_PENDING: PendingCells = const {
        PendingCells {
            allocs: Cell::new(0),
            frees: Cell::new(0),
            alloc_bytes: Cell::new(0),
            free_bytes: Cell::new(0),
            live: Cell::new(false),
        }
    };
}

/// Unsampled blocks counted per thread before they are published to its counters.
const UNSAMPLED_BATCH: u32 = 64;

/// An allocation a sampling census passes by: counted (in batches), not recorded.
#[inline(always)]
fn on_alloc_unsampled(size: usize) -> u32 {
    count_unsampled(|p| (&p.allocs, &p.alloc_bytes), size);
    UNSAMPLED
}

/// A free of a block a sampling census passed by.
#[inline(always)]
fn on_free_unsampled(size: usize) {
    count_unsampled(|p| (&p.frees, &p.free_bytes), size);
}

/// Adds one block of `size` bytes to the pending count and bytes that `field` picks, and
/// publishes the pending counts once a batch is full (or when the thread's state is gone).
#[inline(always)]
fn count_unsampled(field: impl Fn(&PendingCells) -> (&Cell<u32>, &Cell<u64>), size: usize) {
    let full = UNSAMPLED_PENDING
        .try_with(|p| {
            let (count, bytes) = field(p);
            count.set(count.get() + 1);
            bytes.set(bytes.get() + size as u64);
            p.allocs.get() + p.frees.get() >= UNSAMPLED_BATCH || !p.live.get()
        })
        .unwrap_or(true);
    if full {
        let _g = Reentrancy::enter();
        publish_unsampled();
    }
}

/// Adds the calling thread's pending unsampled counts to its counters (with the reentrancy
/// flag held, or where nothing can allocate). Stats read on a thread are exact for that
/// thread; another thread's unsampled blocks show up within `UNSAMPLED_BATCH` of them.
#[cold]
#[inline(never)]
pub(crate) fn publish_unsampled() {
    let u = UNSAMPLED_PENDING
        .try_with(PendingCells::take)
        .unwrap_or(NO_UNSAMPLED);
    if u.allocs == 0 && u.frees == 0 {
        return;
    }
    let net = u.alloc_bytes as i64 - u.free_bytes as i64;
    let done = LOCAL
        .try_with(|l| {
            let t = l.thread();
            l.live_change(t, net);
            count_batch(t, &u);
        })
        .is_ok();
    // From now on (while the thread state lives) blocks can wait for a batch.
    let _ = UNSAMPLED_PENDING.try_with(|p| p.live.set(done));
    if !done {
        let t = threads::UNKNOWN;
        stats::shared_live_change(threads::slot(t), net);
        count_batch(t, &u);
    }
}

fn count_batch(t: u16, u: &Unsampled) {
    let s = threads::slot(t);
    threads::bump(t, &s.allocs, u64::from(u.allocs));
    threads::bump(t, &s.alloc_bytes, u.alloc_bytes);
    threads::bump(t, &s.frees, u64::from(u.frees));
    threads::bump(t, &s.free_bytes, u.free_bytes);
    if !threads::shared(t) {
        let net = s
            .net_bytes
            .load(Ordering::Relaxed)
            .wrapping_add(u.alloc_bytes)
            .wrapping_sub(u.free_bytes);
        s.net_bytes.store(net, Ordering::Relaxed);
        if net as i64 > s.net_peak.load(Ordering::Relaxed) as i64 {
            s.net_peak.store(net, Ordering::Relaxed);
        }
    }
}

#[inline(always)]
fn rec(addr: usize, size: usize, serial: u64, thread: u16, ctx: u32) -> Obj {
    Obj {
        addr,
        size,
        serial,
        thread,
        ctx,
    }
}

#[inline(always)]
fn count_alloc(t: u16, size: usize) {
    let s = threads::slot(t);
    threads::bump(t, &s.allocs, 1);
    threads::bump(t, &s.alloc_bytes, size as u64);
    if !threads::shared(t) {
        let net = s
            .net_bytes
            .load(Ordering::Relaxed)
            .wrapping_add(size as u64);
        s.net_bytes.store(net, Ordering::Relaxed);
        if net as i64 > s.net_peak.load(Ordering::Relaxed) as i64 {
            s.net_peak.store(net, Ordering::Relaxed);
        }
    }
}

#[cold]
fn untracked(t: u16) -> u32 {
    threads::slot(t).untracked.fetch_add(1, Ordering::Relaxed);
    UNTRACKED
}

/// Allocation with no thread state left (thread teardown): shared counters and slots.
#[cold]
fn on_alloc_shared(addr: usize, size: usize, ctx: u32, keep_history: bool) -> u32 {
    let t = threads::UNKNOWN;
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    stats::shared_live_change(threads::slot(t), size as i64);
    count_alloc(t, size);
    if addr > registry::MAX_ADDR || size > registry::MAX_SIZE {
        return untracked(t);
    }
    match registry::take_shared() {
        Some(slot) => {
            registry::fill(slot, &rec(addr, size, serial, t, ctx));
            if keep_history {
                history::on_alloc(None, ctx, size);
            }
            slot
        }
        None => untracked(t),
    }
}

/// Records that the block whose trailer holds `mark`, of `size` bytes, is freed. Out of
/// line, as [`on_alloc`].
pub(crate) fn on_free(mark: u32, size: usize, stacks: Stacks, history: bool) {
    let history = history && keep_history(stacks);
    if mark == INTERNAL {
        return;
    }
    if mark == UNSAMPLED {
        on_free_unsampled(size);
        return;
    }
    let g = Reentrancy::enter();
    let done = g.is_some()
        && LOCAL
            .try_with(|l| {
                let t = l.thread();
                l.live_change(t, -(size as i64));
                count_free(t, size);
                if mark != UNTRACKED && mark != UNSAMPLED {
                    let (owner, ctx, serial) = registry::clear_full(mark);
                    if history {
                        let now = l.serial_pos();
                        let f = Freed {
                            lifetime: now.saturating_sub(serial),
                            short: owner == t && serial.wrapping_add(1) == l.serial_next.get(),
                        };
                        history::on_free(l.hist_state(t), ctx, size, f);
                    }
                    if owner == t && !threads::shared(t) {
                        l.own_live.set(l.own_live.get().wrapping_sub(1));
                    } else {
                        threads::unpin(owner);
                    }
                    // SAFETY: the reentrancy flag is held, `l` is this thread's state, and
                    // `give` does not reach `l`.
                    unsafe { l.with_slots(|s| s.give(mark)) };
                }
            })
            .is_ok();
    if !done {
        on_free_shared(mark, size, history);
    }
}

/// Whether a census capturing `stacks` keeps allocation history: every census but a
/// sampling one (whose recorded blocks are a sample).
#[inline(always)]
fn keep_history(stacks: Stacks) -> bool {
    crate::stack::sample_bytes(crate::stack::effective(stacks)).is_none()
}

/// The calling thread's room below the peak after `stats::reset_peak` (the live bytes now
/// are the peak).
pub(crate) fn reset_room() {
    let _ = LOCAL.try_with(|l| l.room.set(l.pending.get()));
}

#[inline(always)]
fn count_free(t: u16, size: usize) {
    let s = threads::slot(t);
    threads::bump(t, &s.frees, 1);
    threads::bump(t, &s.free_bytes, size as u64);
    if !threads::shared(t) {
        let net = s
            .net_bytes
            .load(Ordering::Relaxed)
            .wrapping_sub(size as u64);
        s.net_bytes.store(net, Ordering::Relaxed);
    }
}

/// Free with no thread state (teardown, or a program block freed from inside heapy).
#[cold]
fn on_free_shared(mark: u32, size: usize, keep_history: bool) {
    stats::shared_live_change(threads::slot(threads::UNKNOWN), -(size as i64));
    count_free(threads::UNKNOWN, size);
    if mark != UNTRACKED && mark != UNSAMPLED {
        let (owner, ctx, serial) = registry::clear_full(mark);
        if keep_history {
            let f = Freed {
                lifetime: SERIAL.load(Ordering::Relaxed).saturating_sub(serial),
                short: false,
            };
            history::on_free(None, ctx, size, f);
        }
        registry::give_shared(mark);
        // The owner still counts it among its own (if it runs): its slot's count drops.
        threads::unpin(owner);
    }
}
