//! Threads as the census knows them: an index per thread (recorded in each object), the
//! thread's name, id and stack bounds, and its counters.
//!
//! A thread is registered when it first allocates. Index 0 stands for allocations made where
//! no thread state exists any more (thread teardown). Indices are never reused, so an object
//! keeps naming the thread that made it after that thread exits; past `MAX_THREADS - 1`
//! threads, later threads share the last index (and its label says so).

use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::sys;

/// Thread indices fit the record's 16 bits.
pub(crate) const MAX_THREADS: usize = 1 << 16;
/// Index of allocations made with no thread state (teardown).
pub(crate) const UNKNOWN: u16 = 0;
const OVERFLOW: u16 = (MAX_THREADS - 1) as u16;

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
    tid: AtomicU32,
    /// 1 once the facts below are written; read with Acquire.
    state: AtomicU32,
    name: [AtomicU64; 2],
    stack_lo: AtomicUsize,
    stack_hi: AtomicUsize,
    /// The thread pointer (its static thread-local blocks are at fixed offsets from it).
    tp: AtomicUsize,
    /// While the thread does heapy's own work (`guard::internal`), the stack pointer where
    /// that work began, else 0. Its stack below this holds heapy's frames, full of object
    /// addresses that are not the program's references; the graph scan skips them.
    heapy_sp: AtomicUsize,
    /// 1 once the thread's allocator state was torn down (the thread is exiting).
    exited: AtomicU32,
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
            tid: AtomicU32::new(0),
            state: AtomicU32::new(0),
            name: [AtomicU64::new(0), AtomicU64::new(0)],
            stack_lo: AtomicUsize::new(0),
            stack_hi: AtomicUsize::new(0),
            tp: AtomicUsize::new(0),
            heapy_sp: AtomicUsize::new(0),
            exited: AtomicU32::new(0),
        }
    }
}

static THREADS: [ThreadSlot; MAX_THREADS] = [const { ThreadSlot::new() }; MAX_THREADS];
/// Next index to hand out. Relaxed: it only has to hand out distinct numbers.
static NEXT: AtomicU32 = AtomicU32::new(1);

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
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    if i as usize >= OVERFLOW as usize {
        // Every later thread shares OVERFLOW, the last index: `count` includes it from now on.
        NEXT.store(MAX_THREADS as u32, Ordering::Relaxed);
        let s = slot(OVERFLOW);
        if s.state.load(Ordering::Relaxed) == 0 {
            s.name[0].store(u64::from_le_bytes(*b"<later t"), Ordering::Relaxed);
            s.name[1].store(u64::from_le_bytes(*b"hreads>\0"), Ordering::Relaxed);
            s.state.store(1, Ordering::Release);
        }
        return OVERFLOW;
    }
    let i = i as u16;
    let s = slot(i);
    let mut name = [0u8; 16];
    if sys::is_main_thread() {
        name[..4].copy_from_slice(b"main");
    } else {
        sys::current_thread_name(&mut name);
    }
    name[15] = 0;
    s.name[0].store(
        u64::from_le_bytes(name[..8].try_into().unwrap_or([0; 8])),
        Ordering::Relaxed,
    );
    s.name[1].store(
        u64::from_le_bytes(name[8..].try_into().unwrap_or([0; 8])),
        Ordering::Relaxed,
    );
    s.tid.store(sys::current_tid(), Ordering::Relaxed);
    if let Some((lo, hi)) = sys::current_stack_bounds() {
        s.stack_lo.store(lo, Ordering::Relaxed);
        s.stack_hi.store(hi, Ordering::Relaxed);
    }
    s.tp.store(sys::thread_pointer(), Ordering::Relaxed);
    // Release publishes the facts above to `info`.
    s.state.store(1, Ordering::Release);
    i
}

/// Number of indices handed out so far (index 0 included).
pub(crate) fn count() -> usize {
    (NEXT.load(Ordering::Relaxed) as usize).min(MAX_THREADS)
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
}

/// Facts about thread index `i` (call with the reentrancy flag held: it allocates a name).
pub(crate) fn info(i: u16) -> ThreadInfo {
    let s = slot(i);
    if i == UNKNOWN || s.state.load(Ordering::Acquire) == 0 {
        return ThreadInfo {
            index: i,
            tid: 0,
            name: String::new(),
            stack: None,
            tp: 0,
            heapy_sp: 0,
            exited: false,
        };
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&s.name[0].load(Ordering::Relaxed).to_le_bytes());
    bytes[8..].copy_from_slice(&s.name[1].load(Ordering::Relaxed).to_le_bytes());
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(16);
    let (lo, hi) = (
        s.stack_lo.load(Ordering::Relaxed),
        s.stack_hi.load(Ordering::Relaxed),
    );
    ThreadInfo {
        index: i,
        tid: s.tid.load(Ordering::Relaxed),
        name: String::from_utf8_lossy(&bytes[..len]).into_owned(),
        stack: (hi > lo).then_some((lo, hi)),
        tp: s.tp.load(Ordering::Relaxed),
        heapy_sp: s.heapy_sp.load(Ordering::Relaxed),
        // Relaxed: a hint for the pointer scan, which still checks that the thread is gone.
        exited: s.exited.load(Ordering::Relaxed) != 0,
    }
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

/// Notes that thread index `i` is exiting (its allocator state is being torn down), so the
/// pointer scan stops treating its stack as live once the thread is gone.
pub(crate) fn mark_exited(i: u16) {
    if !shared(i) {
        // Relaxed: see `info`.
        slot(i).exited.store(1, Ordering::Relaxed);
    }
}

/// The label rows of `bythread()` show: the thread's name, else its OS id.
pub(crate) fn label(i: u16) -> String {
    let t = info(i);
    if i == UNKNOWN {
        "<exiting thread>".to_string()
    } else if !t.name.is_empty() {
        t.name
    } else {
        format!("<unnamed tid {}>", t.tid)
    }
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
