//! `fork()` safety: heapy's fork gate.
//!
//! A child of `fork()` has one thread, and a copy of every lock as it was at the fork: a
//! lock another thread held then is held forever in the child. heapy's snapshot-time locks
//! (the symbol and description caches' and the tag table's shard locks, the `backtrace`
//! crate's global lock taken while symbolizing, the reference point's and the recorder's
//! mutexes, a mark's list of threads, a snapshot's partition while it is computed) would
//! then stop the child's first snapshot, tag or exit for good.
//!
//! So every place where heapy takes such a lock runs inside a [`section`]: a shared hold
//! on one process-wide gate. A `pthread_atfork` prepare handler closes the gate (new
//! sections wait) and waits until no section is open; the parent and child handlers open
//! it again. The fork thus happens while no heapy lock is held by any thread, and the
//! child finds every lock free and every cache whole, as glibc does for its malloc arenas
//! (its fork takes every arena lock first). Sections are short (one cache lookup, one
//! symbol resolved, one line written), so a fork waits at most for one of them; the first
//! symbol resolved in a process reads debug information and may take a fraction of a
//! second.
//!
//! Rules for a section: it never waits for another thread except on a lock that is itself
//! taken only inside sections (that thread is inside one and finishes it), and so never
//! joins a thread and never starts helper threads that would enter the gate; and it runs
//! no user code. Sections nest (the inner ones cost a thread-local check). A thread that
//! forks from inside a section (heapy never does) does not wait for itself.
//!
//! The handlers are registered at the first section, not at load time, after one
//! allocation: the inner allocator has started by then, and an allocator that registers
//! its own fork handlers when it starts (jemalloc) has registered them first, so its
//! prepare handler runs after heapy's (prepare handlers run in the reverse order of
//! registration) and sections that allocate can finish before the allocator's locks are
//! taken for the fork. (glibc's malloc takes its locks after every prepare handler.)
//!
//! [`generation`] counts the forks between the first process and this one, for state that
//! belongs to the process that made it (the recorder's file).

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};

/// Counters of open sections, one cache line each, so that threads that open sections at
/// once rarely write the same line; a thread always uses the same one.
const STRIPES: usize = 16;

#[repr(align(64))]
struct Stripe(AtomicUsize);

static OPEN: [Stripe; STRIPES] = [const { Stripe(AtomicUsize::new(0)) }; STRIPES];
/// Closed by the prepare handler: no new section may open.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// Hands out stripes to threads, round robin.
static NEXT_STRIPE: AtomicU32 = AtomicU32::new(0);
/// Forks between the first process and this one (0 in the first process).
static GENERATION: AtomicU32 = AtomicU32::new(0);

/// Whether the fork handlers are registered: not yet, being registered, done.
static REGISTERED: AtomicU8 = AtomicU8::new(UNREGISTERED);
const UNREGISTERED: u8 = 0;
const REGISTERING: u8 = 1;
const DONE: u8 = 2;

thread_local! {
    /// Sections this thread has open (nested), and its stripe plus one (0: none yet). A
    /// `const` cell without a destructor: readable at any time, thread teardown included.
    static LOCAL: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
}

/// Runs `f` as a section: no `fork()` happens while it runs. Call it with the reentrancy
/// flag held (`census::guard`: the first call allocates), and follow the rules in the
/// module's documentation.
pub(crate) fn section<R>(f: impl FnOnce() -> R) -> R {
    let _open = Open::enter();
    f()
}

/// An open section; closes it on drop (also when `f` unwinds).
struct Open(Option<usize>);

impl Open {
    fn enter() -> Open {
        let Ok((depth, stripe)) = LOCAL.try_with(Cell::get) else {
            return Open(None);
        };
        if depth > 0 {
            let _ = LOCAL.try_with(|l| l.set((depth + 1, stripe)));
            return Open(None);
        }
        register();
        let stripe = match stripe {
            0 => {
                // Relaxed: it only spreads threads over the stripes.
                NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) as usize % STRIPES
            }
            s => s as usize - 1,
        };
        let count = &OPEN[stripe].0;
        let mut attempt = 0u32;
        loop {
            // SeqCst on this load, the increment and the load after it, and on the prepare
            // handler's close and its loads of the counters: in their single total order
            // either the handler sees this section counted, or this thread sees the gate
            // closed and backs out. (Dekker's handshake.)
            while CLOSED.load(Ordering::SeqCst) {
                backoff(&mut attempt);
            }
            count.fetch_add(1, Ordering::SeqCst);
            if !CLOSED.load(Ordering::SeqCst) {
                break;
            }
            // Release: nothing was done inside; pairs with the handler's loads.
            count.fetch_sub(1, Ordering::Release);
        }
        let _ = LOCAL.try_with(|l| l.set((1, stripe as u32 + 1)));
        Open(Some(stripe))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let _ = LOCAL.try_with(|l| {
            let (depth, stripe) = l.get();
            l.set((depth.saturating_sub(1), stripe));
        });
        if let Some(stripe) = self.0 {
            // Release: every lock the section took is released before the handler, which
            // loads this counter with Acquire, can see it closed.
            OPEN[stripe].0.fetch_sub(1, Ordering::Release);
        }
    }
}

/// Spins a little, then yields, then sleeps: the wait is for a fork or a section to end.
fn backoff(attempt: &mut u32) {
    *attempt = attempt.saturating_add(1);
    if *attempt < 64 {
        core::hint::spin_loop();
    } else if *attempt < 256 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
}

/// How many forks lie between the first process and this one: 0 in the process that
/// started, one more in each child of `fork()`. State that belongs to the process that made
/// it (an open file that only it may write) records this and leaves the state alone where it
/// differs.
pub(crate) fn generation() -> u32 {
    // Relaxed: written by the child handler before the child runs anything else, on the
    // only thread the child has.
    GENERATION.load(Ordering::Relaxed)
}

/// Registers the fork handlers once.
fn register() {
    // Acquire pairs with the Release below: nothing is read under it, but a `DONE` seen
    // means the handlers are in.
    if REGISTERED.load(Ordering::Acquire) == DONE {
        return;
    }
    // Relaxed on both: the winner registers; a thread that loses does not wait for it (a
    // section opened meanwhile is not waited for by a fork that happens before the
    // handlers are in, as before heapy registered any).
    if REGISTERED
        .compare_exchange(
            UNREGISTERED,
            REGISTERING,
            Ordering::Relaxed,
            Ordering::Relaxed,
        )
        .is_err()
    {
        return;
    }
    // One allocation first, so that the inner allocator has started (and registered its
    // own fork handlers, if it has any) before heapy registers: see the module's
    // documentation. The caller holds the reentrancy flag: it is heapy's own.
    drop(core::hint::black_box(Box::new(0u8)));
    // A failure (no memory for the handlers) is not retried: forks then risk heapy's locks
    // as they did before it had handlers.
    // The three handlers are `extern "C"` fns that live as long as the program, never
    // unwind, and call only async-signal-safe operations (atomics, sched_yield, nanosleep).
    // SAFETY: sound handlers, as just said; pthread_atfork only records them.
    let _ = unsafe {
        libc::pthread_atfork(
            Some(prepare as unsafe extern "C" fn()),
            Some(parent as unsafe extern "C" fn()),
            Some(child as unsafe extern "C" fn()),
        )
    };
    // Release: see the load above.
    REGISTERED.store(DONE, Ordering::Release);
}

/// Before the fork, on the forking thread: closes the gate and waits until every section
/// but the forking thread's own (if it forks from inside one) has ended.
extern "C" fn prepare() {
    let mut attempt = 0u32;
    // SeqCst: see `Open::enter`. Two threads that fork at once take turns (the C library
    // serialises forks anyway).
    while CLOSED
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
        .is_err()
    {
        backoff(&mut attempt);
    }
    let own = match LOCAL.try_with(Cell::get) {
        Ok((depth, _)) if depth > 0 => 1,
        _ => 0,
    };
    let mut attempt = 0u32;
    // SeqCst: see `Open::enter`; it also acquires what the sections released.
    while OPEN
        .iter()
        .map(|s| s.0.load(Ordering::SeqCst))
        .sum::<usize>()
        > own
    {
        backoff(&mut attempt);
    }
}

/// After the fork, in the parent: opens the gate.
extern "C" fn parent() {
    // Release: pairs with the SeqCst loads of waiting sections.
    CLOSED.store(false, Ordering::Release);
}

/// After the fork, in the child (one thread, the forking one): counts the fork and opens
/// the gate. Every heapy lock is free: no section was open in another thread.
extern "C" fn child() {
    // Relaxed: the child's only thread reads it later.
    GENERATION.fetch_add(1, Ordering::Relaxed);
    // Every registration finished before the fork (the C library serialises registration
    // and fork), so this process's handlers are in. Relaxed: one thread.
    REGISTERED.store(DONE, Ordering::Relaxed);
    // Release: as in `parent`.
    CLOSED.store(false, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_nest_and_count_once_per_thread() {
        let sum = || {
            OPEN.iter()
                .map(|s| s.0.load(Ordering::SeqCst))
                .sum::<usize>()
        };
        section(|| {
            let (depth, stripe) = LOCAL.with(Cell::get);
            assert_eq!(depth, 1);
            assert!(stripe > 0);
            assert!(sum() >= 1);
            section(|| assert_eq!(LOCAL.with(Cell::get).0, 2));
            assert_eq!(LOCAL.with(Cell::get).0, 1);
        });
        assert_eq!(LOCAL.with(Cell::get).0, 0);
        // Registered, or being registered by a test on another thread.
        assert_ne!(REGISTERED.load(Ordering::Acquire), UNREGISTERED);
    }
}
