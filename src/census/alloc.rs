//! `Census`: the global allocator that keeps the census.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicBool, Ordering};
use std::alloc::System;

use super::{record, trailer};
use crate::stack::Stacks;

/// A global allocator that records every live allocation, forwarding the memory work to an
/// inner allocator (`System` by default).
///
/// Install it once, as the program's global allocator; then [`hpy`](crate::hpy) sees the heap:
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let b = Box::new(7u64);
/// assert_eq!(mark.heap().size(), 8);
/// # drop(b);
/// ```
///
/// What it records for each live block: its address, the size the program asked for, a
/// serial number in process-wide allocation order, the allocating thread, and a context
/// from which its kind is named. An object's identity is (address, serial): a reused address
/// is a new object. A `realloc` is a free of the old object and an allocation of a new one
/// (new serial, the caller's current kind); `Stats` counts it as both.
///
/// By default the census also captures each allocation's stack, from which an untagged
/// object's kind (`Vec<demo::Person>`, `String`, ...) and call site are named when a
/// snapshot is taken; [`Census::stacks`] chooses how (or whether) stacks are captured.
///
/// Costs: each block carries a 4-byte trailer (the caller's pointer and alignment are
/// untouched), and each live object a 24-byte record in heapy's registry, which lives in
/// pages taken from the kernel, outside the heap being counted. The allocator path never
/// panics, never recurses into itself and takes no global lock.
#[doc(alias("allocator", "global_allocator"))]
#[non_exhaustive]
pub struct Census<A = System> {
    inner: A,
    /// Print the unreachable objects at process exit (see `report_leaks_at_exit`).
    report_leaks: bool,
    /// Which allocation stacks to capture (see `stacks`).
    stacks: Stacks,
    history: bool,
}

impl Census<System> {
    /// A census over the system allocator.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    /// # assert!(heapy::is_installed() || true);
    /// ```
    pub const fn new() -> Self {
        Census {
            inner: System,
            report_leaks: false,
            stacks: Stacks::Auto,
            history: true,
        }
    }
}

impl Default for Census<System> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A> Census<A> {
    /// A census over any allocator, such as jemalloc or mimalloc.
    ///
    /// ```
    /// use std::alloc::System;
    ///
    /// #[global_allocator]
    /// static CENSUS: heapy::Census<System> = heapy::Census::wrap(System);
    /// # let v = vec![1u8]; drop(v);
    /// ```
    pub const fn wrap(inner: A) -> Self {
        Census {
            inner,
            report_leaks: false,
            stacks: Stacks::Auto,
            history: true,
        }
    }

    /// The same census, printing a leak report to standard error when the process exits:
    /// the live objects no root reaches and their reference cycles (as
    /// [`Hpy::heapu`](crate::Hpy::heapu) and [`Heap::cycles`](crate::Heap::cycles) show
    /// them), the counterpart of Python's `gc.set_debug(gc.DEBUG_LEAK)`. Setting the
    /// environment variable `HEAPY_LEAKS=report` does the same without code.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new().report_leaks_at_exit();
    ///
    /// let v = vec![1u8, 2, 3];
    /// # drop(v);
    /// // At exit, on stderr: "heapy: no unreachable objects at exit." or the leaks.
    /// ```
    #[doc(alias("leak_check", "exit_report"))]
    pub const fn report_leaks_at_exit(mut self) -> Self {
        self.report_leaks = true;
        self
    }

    /// The same census, capturing allocation stacks as `stacks` says (the environment
    /// variable `HEAPY_STACKS` overrides it: `off`, `fp`, `unwind`, `sample:<bytes>`). The
    /// default, [`Stacks::Auto`], takes a stack for every allocation.
    ///
    /// ```
    /// use heapy::{Census, Stacks};
    ///
    /// #[global_allocator]
    /// static CENSUS: Census = Census::new().stacks(Stacks::FramePointers);
    ///
    /// let mark = heapy::hpy().mark();
    /// let v = vec![1u32, 2, 3];
    /// let h = mark.heap();
    /// assert_eq!(h.size(), 12);
    /// println!("{}", h.bysite()); // the line above that made the Vec
    /// # drop(v);
    /// ```
    #[doc(alias("backtraces", "capture"))]
    pub const fn stacks(mut self, stacks: Stacks) -> Self {
        self.stacks = stacks;
        self
    }

    /// The same census, keeping allocation history (`history = true`, the default) or not.
    /// History is what [`Hpy::allocations`](crate::Hpy::allocations),
    /// [`Hpy::at_peak`](crate::Hpy::at_peak), [`Mark::allocations`](crate::Mark::allocations)
    /// and [`assert_allocations!`](crate::assert_allocations) show: per-context counters
    /// kept at every allocation and free (see the README's "What it costs"). Without it
    /// those tables are empty; the live census, stats and peak figure are unchanged.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new().history(false);
    ///
    /// let mark = heapy::hpy().mark();
    /// drop(vec![0u8; 10]);
    /// assert_eq!(mark.allocations().count(), 0);
    /// ```
    #[doc(alias("totals", "allocation_history"))]
    pub const fn history(mut self, history: bool) -> Self {
        self.history = history;
        self
    }

    /// The inner allocator.
    ///
    /// ```
    /// static C: heapy::Census = heapy::Census::new();
    /// let _system: &std::alloc::System = C.inner();
    /// ```
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

/// True once a census built with `report_leaks_at_exit()` allocated: the graph layer's exit
/// handler then prints the leak report, whatever `HEAPY_LEAKS` says. Relaxed: the flag
/// publishes no other memory; its one reader is that handler, at process exit, long after
/// the process's first allocation set it (a stronger ordering would not make the store
/// visible any sooner).
static LEAK_REPORT_ASKED: AtomicBool = AtomicBool::new(false);

/// Notes that a leak report is wanted at exit: one relaxed load once the flag is set (no
/// store, so the cache line stays shared between threads); never allocates or panics.
#[inline(always)]
fn ask_for_leak_report() {
    if !LEAK_REPORT_ASKED.load(Ordering::Relaxed) {
        LEAK_REPORT_ASKED.store(true, Ordering::Relaxed);
    }
}

/// True once a census built with [`Census::report_leaks_at_exit`] allocated.
pub(crate) fn leak_report_asked() -> bool {
    LEAK_REPORT_ASKED.load(Ordering::Relaxed)
}

impl<A> core::fmt::Debug for Census<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Census").finish_non_exhaustive()
    }
}

// SAFETY: every method forwards to `inner` with the caller's layout grown by the 4-byte
// trailer (same alignment), returns the inner pointer unchanged, and frees/reallocates with
// the same grown layout that allocated the block. Bookkeeping never unwinds or panics.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Census<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(outer) = trailer::outer(layout) else {
            return core::ptr::null_mut();
        };
        if self.report_leaks {
            ask_for_leak_report();
        }
        // SAFETY: `outer` has a non-zero size and the caller's valid alignment.
        let p = unsafe { self.inner.alloc(outer) };
        if !p.is_null() {
            let mark = record::on_alloc(p as usize, layout.size(), self.stacks, self.history);
            // SAFETY: the block has `layout.size() + 4` bytes.
            unsafe { trailer::write(p, layout.size(), mark) };
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let Some(outer) = trailer::outer(layout) else {
            return core::ptr::null_mut();
        };
        if self.report_leaks {
            ask_for_leak_report();
        }
        // SAFETY: `outer` is the caller's layout grown by the trailer: a non-zero size and
        // the caller's valid alignment, as `alloc_zeroed` requires.
        let p = unsafe { self.inner.alloc_zeroed(outer) };
        if !p.is_null() {
            let mark = record::on_alloc(p as usize, layout.size(), self.stacks, self.history);
            // SAFETY: the block has `layout.size() + 4` bytes; the caller's bytes stay zero.
            unsafe { trailer::write(p, layout.size(), mark) };
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a live block of ours with the layout it was made with.
        let mark = unsafe { trailer::read(ptr, layout.size()) };
        if mark == trailer::INTERNAL {
            // heapy's own memory (snapshots, scan buffers) is full of object addresses: wipe
            // it, so that when the allocator hands it to the program again, stale copies
            // cannot make objects look reachable to the pointer scan.
            // SAFETY: the block is ours to write until it is freed below.
            unsafe { core::ptr::write_bytes(ptr, 0, layout.size()) };
        }
        record::on_free(mark, layout.size(), self.stacks, self.history);
        // `outer` cannot fail: it succeeded when this block was allocated.
        if let Some(outer) = trailer::outer(layout) {
            // SAFETY: the block was allocated by `inner` with exactly `outer`.
            unsafe { self.inner.dealloc(ptr, outer) };
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (Some(outer), Some(new_outer)) =
            (trailer::outer(layout), trailer::outer_size(new_size))
        else {
            return core::ptr::null_mut();
        };
        if Layout::from_size_align(new_outer, layout.align()).is_err() {
            return core::ptr::null_mut();
        }
        // SAFETY: the caller passes a live block of ours with its layout.
        let mark = unsafe { trailer::read(ptr, layout.size()) };
        if mark == trailer::INTERNAL {
            // heapy's own block: move it by hand so the old copy can be wiped (see dealloc).
            let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
                return core::ptr::null_mut();
            };
            // SAFETY: `new_layout` has a non-zero size (realloc's contract) and a valid
            // alignment; `alloc` marks the new block internal again (the guard is held) or
            // records it (it is not: then it becomes the program's, as any realloc would).
            let q = unsafe { self.alloc(new_layout) };
            if !q.is_null() {
                // SAFETY: both blocks are live and distinct, each at least this long.
                unsafe { core::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size)) };
                // SAFETY: `ptr` is a live block of ours with `layout`.
                unsafe { self.dealloc(ptr, layout) };
            }
            return q;
        }
        // From the moment the inner allocator may free the old block until the registry
        // holds the new one, the moved contents (the program's pointers) are in no recorded
        // block: a stop of the world for the pointer scan waits until the section ends.
        let _section = crate::sys::Critical::enter();
        // SAFETY: the block was allocated by `inner` with `outer`; `new_outer` is non-zero and
        // valid with this alignment (checked above).
        let q = unsafe { self.inner.realloc(ptr, outer, new_outer) };
        if q.is_null() {
            // The old block, its trailer and its record are untouched.
            return q;
        }
        record::on_free(mark, layout.size(), self.stacks, self.history);
        let new_mark = record::on_alloc(q as usize, new_size, self.stacks, self.history);
        // SAFETY: the new block has `new_size + 4` bytes.
        unsafe { trailer::write(q, new_size, new_mark) };
        q
    }
}
