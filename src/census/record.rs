//! What the allocator does for each allocation and free: count it and keep its record.
//!
//! Both entry points run inside the global allocator. They never panic, never allocate
//! through the census (the reentrancy flag is held, so anything below that allocates is
//! marked as heapy's own), and take no lock: per-thread state, the lock-free registry and
//! relaxed atomic counters only.

use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicU64, Ordering};

use super::guard::Reentrancy;
use super::registry::{self, LocalSlots, Rec};
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

/// For every registered thread, a serial its later allocations will reach or pass (for
/// process-wide reference points); index 0 and unknown threads get the global counter.
#[allow(dead_code)] // used by the layers being merged (set algebra, call sites)
pub(crate) fn watermarks() -> Vec<u64> {
    let global = SERIAL.load(Ordering::Relaxed);
    (0..threads::count())
        .map(|i| {
            let s = threads::slot(i as u16).next_serial.load(Ordering::Relaxed);
            if i == 0 || s == 0 {
                global
            } else {
                s
            }
        })
        .collect()
}

/// A thread's allocator state. Only its own thread touches it, and only with the reentrancy
/// flag held, so the `UnsafeCell` is never borrowed twice.
struct Local {
    thread: Cell<u16>,
    serial_next: Cell<u64>,
    serial_end: Cell<u64>,
    /// Live-byte change not yet added to the global counter (see `stats::flush`).
    pending: Cell<i64>,
    slots: UnsafeCell<LocalSlots>,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _g = Reentrancy::enter();
        self.slots.get_mut().park();
        let t = self.thread.get();
        if t != 0 {
            stats::flush(threads::slot(t), self.pending.replace(0));
            threads::mark_exited(t);
        }
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            thread: Cell::new(0),
            serial_next: Cell::new(0),
            serial_end: Cell::new(0),
            pending: Cell::new(0),
            slots: UnsafeCell::new(LocalSlots::new()),
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
        t
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
        let p = self.pending.get() + delta;
        let slot = threads::slot(t);
        if p.unsigned_abs() >= stats::FLUSH_BYTES || threads::shared(t) {
            self.pending.set(0);
            stats::flush(slot, p);
        } else {
            self.pending.set(p);
            slot.pending.store(p, Ordering::Relaxed);
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
#[inline(always)]
pub(crate) fn on_alloc(addr: usize, size: usize, stacks: Stacks) -> u32 {
    let Some(_g) = Reentrancy::enter() else {
        return INTERNAL;
    };
    let ctx = context::current(stacks, size);
    let Some(ctx) = ctx else {
        return on_alloc_unsampled(size);
    };
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
                slot
            }
            None => untracked(t),
        }
    }) {
        Ok(mark) => mark,
        Err(_) => on_alloc_shared(addr, size, ctx),
    }
}

/// An allocation a sampling census passes by: counted, not recorded.
#[inline(always)]
fn on_alloc_unsampled(size: usize) -> u32 {
    let counted = LOCAL
        .try_with(|l| {
            let t = l.thread();
            l.live_change(t, size as i64);
            count_alloc(t, size);
        })
        .is_ok();
    if !counted {
        let t = threads::UNKNOWN;
        stats::flush(threads::slot(t), size as i64);
        count_alloc(t, size);
    }
    UNSAMPLED
}

#[inline(always)]
fn rec(addr: usize, size: usize, serial: u64, thread: u16, ctx: u32) -> Rec {
    Rec {
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
fn on_alloc_shared(addr: usize, size: usize, ctx: u32) -> u32 {
    let t = threads::UNKNOWN;
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    stats::flush(threads::slot(t), size as i64);
    count_alloc(t, size);
    if addr > registry::MAX_ADDR || size > registry::MAX_SIZE {
        return untracked(t);
    }
    match registry::take_shared() {
        Some(slot) => {
            registry::fill(slot, &rec(addr, size, serial, t, ctx));
            slot
        }
        None => untracked(t),
    }
}

/// Records that the block whose trailer holds `mark`, of `size` bytes, is freed.
#[inline(always)]
pub(crate) fn on_free(mark: u32, size: usize) {
    if mark == INTERNAL {
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
                    registry::clear(mark);
                    // SAFETY: the reentrancy flag is held, `l` is this thread's state, and
                    // `give` does not reach `l`.
                    unsafe { l.with_slots(|s| s.give(mark)) };
                }
            })
            .is_ok();
    if !done {
        on_free_shared(mark, size);
    }
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
fn on_free_shared(mark: u32, size: usize) {
    stats::flush(threads::slot(threads::UNKNOWN), -(size as i64));
    count_free(threads::UNKNOWN, size);
    if mark != UNTRACKED && mark != UNSAMPLED {
        registry::clear(mark);
        registry::give_shared(mark);
    }
}
