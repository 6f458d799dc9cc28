//! Threads as the census knows them: a slot per thread, whose index is recorded in each
//! object the thread allocates, with the thread's name, id and stack bounds, and its counters.
//!
//! ```text
//!            register                 retire (thread exit)            last reference dropped
//!  free ──────────────► active ─────────────────────────► retired ──────────────────────► free
//!  (on the FREE stack)  (bit in ACTIVE;   counters folded into RETIRED;  (its live objects or
//!                        counters summed)  pending bytes flushed)         marks still name it)
//! ```
//!
//! A thread takes a slot when it first allocates: a free one if any (a lock-free stack of
//! slot indices with an ABA tag), else a never-used one. When the thread exits, its counters
//! are folded into process-wide retired totals and its slot leaves the active set, so neither
//! the allocator nor [`sums`] ever looks at it again: their cost depends on the threads alive
//! now, not on how many have come and gone.
//!
//! The slot is reused only once nothing names it: no live object the thread allocated (each
//! record carries the index) and no mark made on or entered by the thread. So an object's
//! index always names the thread that made it, and a mark's index its own thread, whatever
//! threads came later. `refs` counts what names the slot: `ALIVE` while the thread runs, plus
//! one per mark, minus the thread's objects freed by other threads; at exit the thread adds
//! the objects it still owns and takes `ALIVE` away, and whoever brings it to 0 frees it.
//!
//! Index 0 stands for allocations made where no thread state exists any more (thread
//! teardown). When every index is taken (65,534 threads alive, or exited with live objects
//! or marks), later threads share the last index (its label says so) until slots come free.

use core::sync::atomic::{
    fence, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

use crate::sys;

/// Thread indices fit the record's 16 bits.
pub(crate) const MAX_THREADS: usize = 1 << 16;
/// Index of allocations made with no thread state (teardown).
pub(crate) const UNKNOWN: u16 = 0;
const OVERFLOW: u16 = (MAX_THREADS - 1) as u16;
/// The reference a running thread holds on its own slot (far above any count of objects,
/// marks or frees, so that `refs` cannot reach 0 while the thread runs).
const ALIVE: u64 = 1 << 62;
const WORDS: usize = MAX_THREADS / 64;

/// Per-thread counters and facts. Counters are written by their own thread only (with
/// load-then-store, no read-modify-write) and read by anyone summing stats; index 0 and the
/// overflow index are shared and use `fetch_add`.
#[repr(align(128))]
pub(crate) struct ThreadSlot {
    pub allocs: AtomicU64,
    pub frees: AtomicU64,
    pub alloc_bytes: AtomicU64,
    pub free_bytes: AtomicU64,
    pub untracked: AtomicU64,
    /// Bytes this thread allocated minus bytes it freed, and that figure's peak (for
    /// thread-scoped budgets).
    pub net_bytes: AtomicU64,
    pub net_peak: AtomicU64,
    /// The serial this thread's next allocation gets (for process-wide reference points).
    pub next_serial: AtomicU64,
    /// Live-byte change of this thread not yet in the global counter (an i64).
    pub pending: AtomicI64,
    /// The highest `pending` since the thread's last flush (or the last `reset_peak`): the
    /// top of the batch, which the peak takes into account at the flush.
    pub pending_high: AtomicI64,
    /// The slot's allocation-history state (`history::ThreadHist`), mapped when the slot's
    /// first thread first needs it and kept for the slot's later threads.
    pub hist: AtomicPtr<u8>,
    /// Seqlock over the facts below: odd while a registering thread writes them, +2 for each
    /// thread that took the slot.
    seq: AtomicU32,
    tid: AtomicU32,
    name: [AtomicU64; 2],
    stack_lo: AtomicUsize,
    stack_hi: AtomicUsize,
    /// The thread pointer (its static thread-local blocks are at fixed offsets from it).
    tp: AtomicUsize,
    /// The first serial the occupant can have: objects with this index and a lower serial
    /// were made by an earlier occupant of the slot.
    start: AtomicU64,
    /// While the thread does heapy's own work (`guard::internal`), the stack pointer where
    /// that work began, else 0. Its stack below this holds heapy's frames, full of object
    /// addresses that are not the program's references; the graph scan skips them.
    heapy_sp: AtomicUsize,
    /// 1 once the thread's allocator state was torn down (the thread is exiting).
    exited: AtomicU32,
    /// 1 once the slot went back to the free stack (nothing is left of its thread).
    released: AtomicU32,
    /// Written by other threads (frees, marks, the free stack): its own cache line, so that
    /// they do not slow the owner's counters down.
    life: Life,
}

#[repr(align(128))]
struct Life {
    /// What names the slot (see the module notes).
    refs: AtomicU64,
    /// The next index on the free stack while the slot is on it.
    next_free: AtomicU32,
}

impl ThreadSlot {
    const fn new() -> Self {
        ThreadSlot {
            allocs: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            alloc_bytes: AtomicU64::new(0),
            free_bytes: AtomicU64::new(0),
            untracked: AtomicU64::new(0),
            net_bytes: AtomicU64::new(0),
            net_peak: AtomicU64::new(0),
            next_serial: AtomicU64::new(0),
            pending: AtomicI64::new(0),
            pending_high: AtomicI64::new(0),
            hist: AtomicPtr::new(core::ptr::null_mut()),
            seq: AtomicU32::new(0),
            tid: AtomicU32::new(0),
            name: [AtomicU64::new(0), AtomicU64::new(0)],
            stack_lo: AtomicUsize::new(0),
            stack_hi: AtomicUsize::new(0),
            tp: AtomicUsize::new(0),
            start: AtomicU64::new(0),
            heapy_sp: AtomicUsize::new(0),
            exited: AtomicU32::new(0),
            released: AtomicU32::new(0),
            life: Life {
                refs: AtomicU64::new(0),
                next_free: AtomicU32::new(0),
            },
        }
    }
}

static THREADS: [ThreadSlot; MAX_THREADS] = [const { ThreadSlot::new() }; MAX_THREADS];
/// Next never-used index (so also how many slots were ever used). Relaxed: it only has to
/// hand out distinct numbers.
static NEXT: AtomicU32 = AtomicU32::new(1);
/// The free stack: `(aba tag << 32) | head index`, 0 when empty (index 0 is never free).
static FREE: AtomicU64 = AtomicU64::new(0);
/// One bit per slot whose thread is registered and has not exited.
static ACTIVE: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];
/// Threads registered since the start. Relaxed: a statistic, publishing nothing.
static SEEN: AtomicU64 = AtomicU64::new(0);
/// Folds of exited threads' counters: `(started << 32) | done`. A reader of the counters
/// retries when a fold ran while it read (see `sums`).
static FOLDS: AtomicU64 = AtomicU64::new(0);
const FOLD_STARTED: u64 = 1 << 32;

/// The counters of exited threads, folded.
struct Retired {
    allocs: AtomicU64,
    frees: AtomicU64,
    alloc_bytes: AtomicU64,
    free_bytes: AtomicU64,
    untracked: AtomicU64,
}

static RETIRED: Retired = Retired {
    allocs: AtomicU64::new(0),
    frees: AtomicU64::new(0),
    alloc_bytes: AtomicU64::new(0),
    free_bytes: AtomicU64::new(0),
    untracked: AtomicU64::new(0),
};

/// The slot of thread index `i`.
#[inline(always)]
pub(crate) fn slot(i: u16) -> &'static ThreadSlot {
    &THREADS[i as usize]
}

/// True when index `i` is shared by several threads (counters need `fetch_add`).
#[inline(always)]
pub(crate) fn shared(i: u16) -> bool {
    i == UNKNOWN || i == OVERFLOW
}

/// Registers the calling thread and returns its index. Called once per thread, from the
/// allocator (with the reentrancy flag held), so it must not allocate through Rust.
#[cold]
pub(crate) fn register_current() -> u16 {
    // Relaxed: a statistic.
    SEEN.fetch_add(1, Ordering::Relaxed);
    let i = match pop_free() {
        Some(i) => i,
        None => match fresh_index() {
            Some(i) => i,
            None => return register_overflow(),
        },
    };
    let s = slot(i);
    let mut name = [0u8; 16];
    if sys::is_main_thread() {
        name[..4].copy_from_slice(b"main");
    } else {
        sys::current_thread_name(&mut name);
    }
    name[15] = 0;
    // The slot is ours alone (taken from the free stack or never used), so we are the
    // seqlock's only writer. Relaxed: the Release fence below orders the odd value before
    // the facts for any reader that sees one of them.
    let seq = s.seq.load(Ordering::Relaxed);
    s.seq.store(seq | 1, Ordering::Relaxed);
    fence(Ordering::Release);
    s.name[0].store(
        u64::from_le_bytes(name[..8].try_into().unwrap_or([0; 8])),
        Ordering::Relaxed,
    );
    s.name[1].store(
        u64::from_le_bytes(name[8..].try_into().unwrap_or([0; 8])),
        Ordering::Relaxed,
    );
    s.tid.store(sys::current_tid(), Ordering::Relaxed);
    let (lo, hi) = sys::current_stack_bounds().unwrap_or((0, 0));
    s.stack_lo.store(lo, Ordering::Relaxed);
    s.stack_hi.store(hi, Ordering::Relaxed);
    s.tp.store(sys::thread_pointer(), Ordering::Relaxed);
    // Every serial an earlier occupant had was taken before the slot was freed, and taking
    // it from the free stack (Acquire) comes after that, so this reads past all of them;
    // this thread's own serials are taken after this read.
    s.start
        .store(super::record::serial_now(), Ordering::Relaxed);
    s.heapy_sp.store(0, Ordering::Relaxed);
    s.exited.store(0, Ordering::Relaxed);
    s.released.store(0, Ordering::Relaxed);
    // Release publishes the facts with the even value that validates them (see `info`).
    s.seq.store((seq | 1).wrapping_add(1), Ordering::Release);
    // The counters were zeroed by the previous occupant's fold (or never used); these are
    // the thread's own (only it writes them). Relaxed: see `bump`.
    s.net_bytes.store(0, Ordering::Relaxed);
    s.net_peak.store(0, Ordering::Relaxed);
    s.next_serial.store(0, Ordering::Relaxed);
    // Relaxed: nobody else touches `refs` until they hold one of this thread's objects or
    // marks, which reach them through synchronisation made after this store.
    s.life.refs.store(ALIVE, Ordering::Relaxed);
    // Release: a reader that sees the bit (Acquire) also sees the counters as the previous
    // occupant's fold left them (zero), not the values it folded.
    ACTIVE[i as usize / 64].fetch_or(1 << (i % 64), Ordering::Release);
    i
}

/// A never-used index, or `None` when all are taken.
fn fresh_index() -> Option<u16> {
    // Relaxed: distinct numbers only. The load keeps NEXT from running on past the limit.
    if NEXT.load(Ordering::Relaxed) as usize >= OVERFLOW as usize {
        return None;
    }
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    if i as usize >= OVERFLOW as usize {
        // `count` includes OVERFLOW from now on.
        NEXT.store(MAX_THREADS as u32, Ordering::Relaxed);
        return None;
    }
    Some(i as u16)
}

/// Every later thread shares OVERFLOW, the last index, until slots come free.
#[cold]
fn register_overflow() -> u16 {
    // Relaxed: see `fresh_index`.
    NEXT.store(MAX_THREADS as u32, Ordering::Relaxed);
    let s = slot(OVERFLOW);
    // The first overflowing thread writes the label once. Acquire/Relaxed: the winner alone
    // writes; the Release store of 2 publishes the name to `info`.
    if s.seq
        .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        s.name[0].store(u64::from_le_bytes(*b"<later t"), Ordering::Relaxed);
        s.name[1].store(u64::from_le_bytes(*b"hreads>\0"), Ordering::Relaxed);
        s.seq.store(2, Ordering::Release);
    }
    OVERFLOW
}

/// Thread `i` is exiting: its allocator state is being torn down, and it still owns
/// `own_live` records (allocated and not freed by itself; frees by others were counted in
/// `refs`) and `pending` live bytes not yet flushed. Folds its counters into the retired
/// totals, takes the slot out of the active set and drops the thread's own reference.
pub(crate) fn retire(i: u16, own_live: u64, pending: i64) {
    if shared(i) {
        // A shared slot stays: only the bytes move.
        if pending != 0 {
            super::stats::shared_live_change(slot(i), pending);
        }
        return;
    }
    let s = slot(i);
    // Open the fold. Relaxed + Release fence: a reader that sees any write below sees this
    // count too (fence-to-fence), and retries (see `sums`).
    FOLDS.fetch_add(FOLD_STARTED, Ordering::Relaxed);
    fence(Ordering::Release);
    let _ = super::stats::flush(s, pending);
    let pairs = [
        (&s.allocs, &RETIRED.allocs),
        (&s.frees, &RETIRED.frees),
        (&s.alloc_bytes, &RETIRED.alloc_bytes),
        (&s.free_bytes, &RETIRED.free_bytes),
        (&s.untracked, &RETIRED.untracked),
    ];
    for (mine, total) in pairs {
        // Relaxed: the fold's counts order these (see `sums`); only this thread writes
        // `mine`.
        total.fetch_add(mine.load(Ordering::Relaxed), Ordering::Relaxed);
        mine.store(0, Ordering::Relaxed);
    }
    // Relaxed: covered by the fold's counts as above.
    ACTIVE[i as usize / 64].fetch_and(!(1 << (i % 64)), Ordering::Relaxed);
    // Release: a reader that sees the fold done (Acquire) sees all of it.
    FOLDS.fetch_add(1, Ordering::Release);
    // Relaxed: a hint for the pointer scan, which still checks that the thread is gone.
    s.exited.store(1, Ordering::Relaxed);
    let delta = own_live.wrapping_sub(ALIVE);
    // AcqRel: whoever brings `refs` to 0 must see every earlier change to the slot (this
    // fold, other threads' frees of its records) before the slot is handed out again.
    let prev = s.life.refs.fetch_add(delta, Ordering::AcqRel);
    if prev.wrapping_add(delta) == 0 {
        release(i);
    }
}

/// Adds a reference to the calling thread's own slot `i` (a mark made on or entered by it).
/// Only the thread itself may pin its slot, while it runs: its own reference keeps `refs`
/// above 0 meanwhile.
pub(crate) fn pin(i: u16) {
    if !shared(i) {
        // Relaxed: the thread holds its own reference, so this cannot race with a release;
        // the matching `unpin` is AcqRel.
        slot(i).life.refs.fetch_add(1, Ordering::Relaxed);
    }
}

/// Drops a reference to slot `i`: a mark's pin, or one of the slot's objects freed by
/// another thread (or outside the thread's allocator state). Never panics or allocates.
#[inline]
pub(crate) fn unpin(i: u16) {
    if shared(i) {
        return;
    }
    // AcqRel: Release orders this thread's clearing of the record (or its use of the mark)
    // before the slot can be reused; Acquire lets the thread that reaches 0 see all of them.
    if slot(i).life.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
        release(i);
    }
}

/// Nothing names slot `i` any more: it goes back to the free stack.
#[cold]
fn release(i: u16) {
    // Relaxed: published by the push's Release.
    slot(i).released.store(1, Ordering::Relaxed);
    push_free(i);
}

fn push_free(i: u16) {
    push(&FREE, i);
}

fn pop_free() -> Option<u16> {
    pop(&FREE)
}

/// Pushes slot `i` onto the free stack whose head is `head`.
fn push(head: &AtomicU64, i: u16) {
    let s = slot(i);
    // Relaxed: the CAS below publishes.
    let mut cur = head.load(Ordering::Relaxed);
    loop {
        // Relaxed: published by the CAS's Release.
        s.life.next_free.store(cur as u32, Ordering::Relaxed);
        let new = ((cur >> 32).wrapping_add(1) << 32) | i as u64;
        // Release publishes the link and everything that happened to the slot before it was
        // freed; Relaxed on failure just retries.
        match head.compare_exchange_weak(cur, new, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return,
            Err(seen) => cur = seen,
        }
    }
}

/// Pops a slot index from the free stack whose head is `head`.
fn pop(head: &AtomicU64) -> Option<u16> {
    // Acquire pairs with push's Release: the link and the slot's history are visible.
    let mut cur = head.load(Ordering::Acquire);
    loop {
        let top = cur as u32;
        if top == 0 {
            return None;
        }
        // The top may be popped and pushed again meanwhile: the link read is then stale,
        // but the tag has changed and the CAS fails. Relaxed: as in push.
        let next = slot(top as u16).life.next_free.load(Ordering::Relaxed);
        let new = ((cur >> 32).wrapping_add(1) << 32) | next as u64;
        // Acquire on success: as the load above; on failure we read again.
        match head.compare_exchange_weak(cur, new, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => return Some(top as u16),
            Err(seen) => cur = seen,
        }
    }
}

/// Number of slot indices ever handed out (index 0 included): every index in use is below.
pub(crate) fn count() -> usize {
    // Relaxed: a bound for loops over slots; a slot registered meanwhile is not needed.
    (NEXT.load(Ordering::Relaxed) as usize).min(MAX_THREADS)
}

/// Threads registered since the start.
pub(crate) fn seen() -> u64 {
    // Relaxed: a statistic.
    SEEN.load(Ordering::Relaxed)
}

/// Calls `f` with each shared index in use and each active slot (registered, not exited).
/// Costs one load per 64 slots ever used plus one call per thread alive.
#[inline]
pub(crate) fn for_each_active(mut f: impl FnMut(u16)) {
    let n = count();
    f(UNKNOWN);
    if n > OVERFLOW as usize {
        f(OVERFLOW);
    }
    for (w, word) in ACTIVE.iter().enumerate().take(n.div_ceil(64)) {
        // Acquire pairs with register_current's Release (see there).
        let mut bits = word.load(Ordering::Acquire);
        while bits != 0 {
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            f((w * 64 + b) as u16);
        }
    }
}

/// The process's counters: exited threads' folded totals plus the live threads' own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sums {
    pub allocs: u64,
    pub frees: u64,
    pub alloc_bytes: u64,
    pub free_bytes: u64,
    pub untracked: u64,
    /// Live-byte changes of live threads not yet flushed.
    pub pending: i64,
    /// The most any one live thread's unflushed change rose above where it is now (its
    /// `pending_high - pending`): what the live bytes were higher by at that thread's top.
    pub pending_excess: i64,
    /// The flushed live bytes (`flushed()` in the same reading, since an exiting thread's
    /// fold moves its pending bytes there).
    pub flushed: i64,
}

/// Sums the counters, with `flushed()` (the process-wide flushed live bytes) read in the
/// same pass. Each figure is exact for some moment of the call (threads keep running); a
/// thread's exit never makes its counts show twice or not at all.
pub(crate) fn sums(flushed: impl Fn() -> i64) -> Sums {
    let mut s = Sums::default();
    for attempt in 0..1000u32 {
        // Acquire pairs with the Release that closes a fold: its writes are visible.
        let f1 = FOLDS.load(Ordering::Acquire);
        if f1 >> 32 != f1 & 0xffff_ffff && attempt < 999 {
            // A fold is under way: wait for it (it is a few dozen instructions).
            backoff(attempt);
            continue;
        }
        // Relaxed loads: the counters are independent figures; the fold's counts below
        // tell whether a fold moved any of them while they were read.
        s = Sums {
            allocs: RETIRED.allocs.load(Ordering::Relaxed),
            frees: RETIRED.frees.load(Ordering::Relaxed),
            alloc_bytes: RETIRED.alloc_bytes.load(Ordering::Relaxed),
            free_bytes: RETIRED.free_bytes.load(Ordering::Relaxed),
            untracked: RETIRED.untracked.load(Ordering::Relaxed),
            pending: 0,
            pending_excess: 0,
            flushed: flushed(),
        };
        for_each_active(|i| {
            let t = slot(i);
            s.allocs += t.allocs.load(Ordering::Relaxed);
            s.frees += t.frees.load(Ordering::Relaxed);
            s.alloc_bytes += t.alloc_bytes.load(Ordering::Relaxed);
            s.free_bytes += t.free_bytes.load(Ordering::Relaxed);
            s.untracked += t.untracked.load(Ordering::Relaxed);
            let p = t.pending.load(Ordering::Relaxed);
            s.pending += p;
            let excess = t.pending_high.load(Ordering::Relaxed) - p;
            s.pending_excess = s.pending_excess.max(excess);
        });
        // Acquire fence: if any value above was written by a fold, the fold's start (before
        // its Release fence) is visible to the load below, which then differs.
        fence(Ordering::Acquire);
        if FOLDS.load(Ordering::Relaxed) == f1 {
            return s;
        }
        backoff(attempt);
    }
    // Folds kept running for the whole time (or a forked child inherited one that will
    // never finish): the last reading, which may count one exiting thread twice or not at
    // all.
    s
}

fn backoff(attempt: u32) {
    if attempt < 50 {
        core::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Sum of the live threads' pending live-byte changes (for the peak estimate in
/// `stats::flush`; no consistency asked).
#[inline]
pub(crate) fn pending_sum() -> i64 {
    let mut p = 0i64;
    for_each_active(|i| {
        // Relaxed: an estimate of the moment.
        p += slot(i).pending.load(Ordering::Relaxed);
    });
    p
}

/// What the census knows of a thread index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ThreadInfo {
    pub index: u16,
    pub tid: u32,
    pub name: String,
    pub stack: Option<(usize, usize)>,
    /// The thread pointer, 0 if unknown.
    pub tp: usize,
    /// Where heapy's own work on this thread began on its stack (0 when none is running).
    pub heapy_sp: usize,
    /// The thread's allocator state was torn down: it has exited or is exiting.
    pub exited: bool,
    /// Nothing is left of the slot's last thread (the slot is free).
    pub released: bool,
    /// The first serial of the slot's current thread: objects with this index and a lower
    /// serial were made by an earlier thread in the slot (and are freed by now).
    pub start: u64,
}

/// Facts about thread index `i`, about one thread (call with the reentrancy flag held: it
/// allocates a name).
pub(crate) fn info(i: u16) -> ThreadInfo {
    let s = slot(i);
    let mut out = ThreadInfo {
        index: i,
        tid: 0,
        name: String::new(),
        stack: None,
        tp: 0,
        heapy_sp: 0,
        exited: false,
        released: false,
        start: 0,
    };
    if i == UNKNOWN {
        return out;
    }
    for _ in 0..1000 {
        // Acquire pairs with register_current's Release store of the even value.
        let s1 = s.seq.load(Ordering::Acquire);
        if s1 == 0 {
            return out;
        }
        if s1 & 1 == 1 {
            core::hint::spin_loop();
            continue;
        }
        // Relaxed loads validated by the seqlock below.
        let name = [
            s.name[0].load(Ordering::Relaxed),
            s.name[1].load(Ordering::Relaxed),
        ];
        let tid = s.tid.load(Ordering::Relaxed);
        let (lo, hi) = (
            s.stack_lo.load(Ordering::Relaxed),
            s.stack_hi.load(Ordering::Relaxed),
        );
        let tp = s.tp.load(Ordering::Relaxed);
        let start = s.start.load(Ordering::Relaxed);
        // Relaxed: hints written outside the seqlock by the thread itself (see `set_heapy_sp`
        // and `retire`); the scan re-checks them.
        let heapy_sp = s.heapy_sp.load(Ordering::Relaxed);
        let exited = s.exited.load(Ordering::Relaxed) != 0;
        let released = s.released.load(Ordering::Relaxed) != 0;
        // Acquire fence: if a later writer's value was read above, its odd value is seen.
        fence(Ordering::Acquire);
        if s.seq.load(Ordering::Relaxed) != s1 {
            continue;
        }
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&name[0].to_le_bytes());
        bytes[8..].copy_from_slice(&name[1].to_le_bytes());
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(16);
        out.name = String::from_utf8_lossy(&bytes[..len]).into_owned();
        out.tid = tid;
        out.stack = (hi > lo).then_some((lo, hi));
        out.tp = tp;
        out.start = start;
        out.heapy_sp = heapy_sp;
        out.exited = exited;
        out.released = released;
        return out;
    }
    // The slot changed hands all the time: say nothing rather than mix two threads.
    out
}

/// The facts of a slot that the pointer scan needs while the world is stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StackFacts {
    pub index: u16,
    pub tid: u32,
    /// Stack bounds, `(0, 0)` if unknown.
    pub stack: (usize, usize),
    pub heapy_sp: usize,
}

/// As `info`, without the name: never allocates, takes no lock, so it may run while other
/// threads are stopped. `None` for a slot never used, free, or changing hands.
pub(crate) fn stack_facts(i: u16) -> Option<StackFacts> {
    if i == UNKNOWN || shared(i) {
        return None;
    }
    let s = slot(i);
    for _ in 0..4 {
        // Acquire pairs with register_current's Release store of the even value.
        let s1 = s.seq.load(Ordering::Acquire);
        if s1 == 0 || s1 & 1 == 1 {
            return None;
        }
        // Relaxed loads validated by the seqlock below (heapy_sp and released: hints, as
        // in `info`).
        let tid = s.tid.load(Ordering::Relaxed);
        let stack = (
            s.stack_lo.load(Ordering::Relaxed),
            s.stack_hi.load(Ordering::Relaxed),
        );
        let heapy_sp = s.heapy_sp.load(Ordering::Relaxed);
        let released = s.released.load(Ordering::Relaxed) != 0;
        // Acquire fence: as in `info`.
        fence(Ordering::Acquire);
        if s.seq.load(Ordering::Relaxed) != s1 {
            continue;
        }
        return (!released).then_some(StackFacts {
            index: i,
            tid,
            stack,
            heapy_sp,
        });
    }
    None
}

/// Publishes (or clears, with 0) where heapy's own work began on thread `i`'s stack.
/// Relaxed: a scanner reads it as a hint for where the program's frames end. A stale value
/// only moves that line: a scan that reads 0 while heapy work begins scans heapy's frames
/// too, which can make an object look reachable (a missed leak), never unreachable.
pub(crate) fn set_heapy_sp(i: u16, sp: usize) {
    if !shared(i) {
        slot(i).heapy_sp.store(sp, Ordering::Relaxed);
    }
}

/// The label rows of `bythread()` show for a thread: its name, else its OS id.
pub(crate) fn label_of(t: &ThreadInfo) -> String {
    if t.index == UNKNOWN {
        "<exiting thread>".to_string()
    } else if !t.name.is_empty() {
        t.name.clone()
    } else {
        format!("<unnamed tid {}>", t.tid)
    }
}

/// The label of the thread now in slot `i` (see `label_of`).
pub(crate) fn label(i: u16) -> String {
    label_of(&info(i))
}

/// Adds `v` to a counter of thread `i`: a plain load+store for the thread's own slot (it is
/// the only writer), `fetch_add` for shared slots.
#[inline(always)]
pub(crate) fn bump(i: u16, c: &AtomicU64, v: u64) {
    if shared(i) {
        c.fetch_add(v, Ordering::Relaxed);
    } else {
        c.store(c.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
    }
}

/// Most slots ever in use at once (index 0 and the overflow index not counted).
pub(crate) fn slots_used() -> u64 {
    (count().saturating_sub(1)).min(OVERFLOW as usize - 1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_stack_is_lifo_and_survives_concurrent_use() {
        // A stack of its own over slots near the top, which a test process never hands out
        // (that takes 65,000 threads), so the links are this test's alone.
        let head = AtomicU64::new(0);
        let (a, b) = (OVERFLOW - 3, OVERFLOW - 2);
        push(&head, a);
        push(&head, b);
        assert_eq!(pop(&head), Some(b));
        assert_eq!(pop(&head), Some(a));
        assert_eq!(pop(&head), None);
        // Four threads each pop and push back 10,000 times: every index stays on it once.
        let ids: Vec<u16> = (OVERFLOW - 40..OVERFLOW - 4).collect();
        for &i in &ids {
            push(&head, i);
        }
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        if let Some(i) = pop(&head) {
                            push(&head, i);
                        }
                    }
                });
            }
        });
        let mut back = Vec::new();
        while let Some(i) = pop(&head) {
            back.push(i);
        }
        back.sort_unstable();
        assert_eq!(back, ids);
    }
}
