//! The reentrancy guard: one thread-local flag that marks "heapy is working on this thread".
//!
//! WARNING: this flag is what keeps the allocator from recursing into itself and what keeps
//! heapy's own memory out of the census. While it is set, every allocation made on the thread
//! (by heapy's bookkeeping, by a `Heap` being built, by a table being printed) is forwarded to
//! the inner allocator and marked internal, and never recorded. Do not hold it around user
//! code, and never give the flag a destructor: the allocator runs during thread teardown, when
//! destructors have run, so it is read with `try_with` and is `const`-initialised.

use core::cell::Cell;

thread_local! {
    static IN_HEAPY: Cell<bool> = const { Cell::new(false) };
}

/// Holds the flag while alive; clears it on drop.
pub(crate) struct Reentrancy(());

impl Reentrancy {
    /// Sets the flag, or returns `None` when it was already set (a nested entry) or when the
    /// thread-local is gone.
    #[inline(always)]
    pub(crate) fn enter() -> Option<Reentrancy> {
        IN_HEAPY
            .try_with(|f| {
                if f.replace(true) {
                    None
                } else {
                    Some(Reentrancy(()))
                }
            })
            .ok()
            .flatten()
    }
}

/// True while the flag is set on this thread (or the thread-local is gone): what is
/// allocated now is heapy's own.
#[inline(always)]
pub(crate) fn busy() -> bool {
    IN_HEAPY.try_with(Cell::get).unwrap_or(true)
}

impl Drop for Reentrancy {
    #[inline(always)]
    fn drop(&mut self) {
        let _ = IN_HEAPY.try_with(|f| f.set(false));
    }
}

/// Runs `f` as heapy's own work: everything it allocates stays out of the census. Nested
/// calls are fine (the outermost one clears the flag).
///
/// The outermost call also publishes where on the stack heapy's work begins, so that a
/// pointer scan run by another thread at that moment reads only this thread's program frames
/// (above that point), not heapy's frames, which hold the addresses of many objects.
pub(crate) fn internal<R>(f: impl FnOnce() -> R) -> R {
    let Some(g) = Reentrancy::enter() else {
        return f();
    };
    let here = 0u8;
    let sp = core::hint::black_box(&here) as *const u8 as usize;
    let t = super::record::current_thread_in_guard();
    super::threads::set_heapy_sp(t, sp);
    let _clear = ClearSp(t);
    let r = f();
    drop(g);
    r
}

/// Runs `f` on the calling thread and at once on up to `extra` helper threads (at most
/// eight), each as heapy's own work (see [`internal`]); returns when all runs
/// have finished. `f` must share its work out so that any number of runs completes it.
///
/// The helpers are heapy's alone: they run nothing but `f` (no std start-up code, which
/// would allocate through the census before the flag is set), everything they allocate is
/// internal, and they are never registered with the census: no thread index, no counters,
/// and the object graph never scans their stacks (which hold no program references).
pub(crate) fn parallel(extra: usize, f: &(dyn Fn() + Sync)) {
    internal(|| {
        crate::sys::run_parallel(extra, &|| {
            let g = Reentrancy::enter();
            f();
            // On a helper the flag stays set until the thread is gone (its thread-local
            // destructors are heapy's work too); on the calling thread `g` is `None`, the
            // flag being `internal`'s.
            core::mem::forget(g);
        })
    })
}

/// Clears the published stack line on the way out (also when `f` unwinds).
struct ClearSp(u16);

impl Drop for ClearSp {
    fn drop(&mut self) {
        super::threads::set_heapy_sp(self.0, 0);
    }
}
