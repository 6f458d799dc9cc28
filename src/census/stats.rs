//! Process-wide counters: live bytes and their peak (global atomics), and the per-thread
//! counters summed into [`Stats`].

use core::sync::atomic::{AtomicI64, Ordering};

use super::{registry, threads};

/// Live bytes of program allocations as flushed by threads, and the highest value seen.
/// Relaxed: each is a single counter whose value is all that is asked of it; no other
/// memory is published through them.
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);
/// The highest flushed live bytes since the Recorder's last sample (see `take_window_peak`).
/// Relaxed, for the same reason as `PEAK`.
static WINDOW_PEAK: AtomicI64 = AtomicI64::new(0);

/// A thread adds its live-byte changes to `LIVE` once they reach this much either way (at
/// once for any allocation this large). Two threads allocating at the same time then do not
/// fight over one counter on every call. The peak does not lose what happens inside a batch:
/// each thread keeps the top of its batch (`ThreadSlot::pending_high`), which its flush and
/// every `collect` take into account.
pub(crate) const FLUSH_BYTES: u64 = 16 * 1024;

/// Adds a thread's pending live-byte change to the global counter and updates the peak
/// with the highest point the batch reached.
///
/// The peak candidate also counts the other live threads' pending changes, so the peak is
/// exact whenever the other threads are not allocating at that moment. Flushes happen once
/// per 16 KiB of change at most, so the sum over live threads is paid rarely; threads that
/// have exited are not in it.
///
/// Returns the room left below the peak after the flush: how far the thread's pending
/// change can rise before the live bytes pass the peak (see `record::Local::live_change`).
#[inline]
pub(crate) fn flush(slot: &threads::ThreadSlot, delta: i64) -> i64 {
    // Relaxed: the owner's own figures (see `ThreadSlot`); a reader summing them meanwhile
    // sees the batch either pending or flushed, and the high at most once more.
    let high = slot.pending_high.load(Ordering::Relaxed);
    slot.pending.store(0, Ordering::Relaxed);
    slot.pending_high.store(0, Ordering::Relaxed);
    add_live(delta, high.max(delta))
}

/// Adds `delta` to the flushed live bytes and updates the peaks; `high` (at least `delta`)
/// is how far above the flushed figure the batch went at its top. Returns the room left
/// below the peak for a thread whose pending change is now 0.
fn add_live(delta: i64, high: i64) -> i64 {
    let before = LIVE.fetch_add(delta, Ordering::Relaxed);
    let top = before + high;
    let others = threads::pending_sum();
    raise_peak(top + others);
    if top > WINDOW_PEAK.load(Ordering::Relaxed) {
        WINDOW_PEAK.fetch_max(top, Ordering::Relaxed);
    }
    // Relaxed: see PEAK.
    PEAK.load(Ordering::Relaxed) - (before + delta) - others
}

/// The room below the peak for a thread with nothing pending (a thread starting).
pub(crate) fn room_now() -> i64 {
    // Relaxed: see LIVE and PEAK.
    PEAK.load(Ordering::Relaxed) - LIVE.load(Ordering::Relaxed) - threads::pending_sum()
}

/// Raises the peak to `candidate` if it is higher.
#[inline]
fn raise_peak(candidate: i64) {
    // Relaxed: a max whose value is all that is asked of it; the load spares the
    // read-modify-write when the peak is not exceeded (nearly always).
    if candidate > PEAK.load(Ordering::Relaxed) {
        PEAK.fetch_max(candidate, Ordering::Relaxed);
    }
}

/// A live-byte change on a shared slot (thread teardown, or threads past the index limit):
/// many threads add to its `pending` at once, so it is a `fetch_add`, and the sum is flushed
/// once it reaches `FLUSH_BYTES` either way (not on every allocation).
#[inline]
pub(crate) fn shared_live_change(slot: &threads::ThreadSlot, delta: i64) {
    // Relaxed: a counter whose sum with LIVE is all that is asked of it.
    let p = slot
        .pending
        .fetch_add(delta, Ordering::Relaxed)
        .wrapping_add(delta);
    if p.unsigned_abs() >= FLUSH_BYTES || delta.unsigned_abs() >= FLUSH_BYTES {
        // Take whatever is there now (other threads may have added since): moved, not lost.
        // Relaxed: as above; the swap alone makes each byte move once.
        let all = slot.pending.swap(0, Ordering::Relaxed);
        let _ = add_live(all, all.max(0));
    }
}

/// Counters of the census since the process started, in the manner of jemalloc-ctl's
/// typed stats and tracemalloc's `get_traced_memory()`.
///
/// A reallocation counts as one allocation and one free. Byte figures are the sizes the
/// program asked for (what `Layout::size` says), not what the allocator rounded them up to.
/// A sampling census ([`Stacks::Sampled`](crate::Stacks::Sampled)) counts every block too,
/// but adds the blocks it passes by to a thread's counters in batches of 64: the calling
/// thread's own figures are always exact, another thread's may lag by up to 64 blocks.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let before = heapy::hpy().stats();
/// let v = vec![0u8; 1000];
/// let after = heapy::hpy().stats();
/// assert!(after.allocations > before.allocations);
/// assert!(after.peak_live_bytes >= 1000);
/// # drop(v);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Objects allocated and not yet freed.
    pub live_objects: u64,
    /// Bytes of the live objects.
    pub live_bytes: u64,
    /// The highest `live_bytes` since the start or the last
    /// [`Hpy::reset_peak`](crate::Hpy::reset_peak); it never goes down otherwise. Exact
    /// while one thread allocates at a time (each thread keeps the top of its unflushed
    /// changes). Threads add their changes to the process-wide figure in steps of up to
    /// 16 KiB, so when several threads allocate at the same moment the peak counts each
    /// other thread's change as of its last step: it can be off by up to 16 KiB per such
    /// thread. Thread-scoped peaks ([`Mark::peak_bytes`](crate::Mark::peak_bytes)) are
    /// always exact.
    pub peak_live_bytes: u64,
    /// Allocations since the start (reallocations included).
    pub allocations: u64,
    /// Frees since the start (reallocations included).
    pub frees: u64,
    /// Bytes allocated since the start.
    pub bytes_allocated: u64,
    /// Bytes freed since the start.
    pub bytes_freed: u64,
    /// Allocations the census counted but could not record as objects (the registry could
    /// not grow, or an address or size beyond what a record holds). They are in the byte
    /// and object counts above, but not in any `Heap`.
    pub untracked: u64,
    /// Threads that have allocated since the start.
    pub threads: u64,
    /// The most per-thread slots the census has had in use at once. A thread's slot is
    /// reused once the thread has exited and none of its objects or marks is alive, so this
    /// follows the threads alive at once (plus exited threads whose objects live on), not
    /// the threads ever started; no cost of the census grows with the threads ever started.
    pub thread_slots: u64,
    /// Bytes of heapy's own object registry (records ever in use; slots are reused).
    pub registry_bytes: u64,
    /// Distinct allocation stacks interned so far (see [`Stacks`](crate::Stacks)).
    pub stacks: u64,
    /// Allocations whose stack found no room in heapy's stack table: they are recorded,
    /// with the kind `<stack table full>` and no call site.
    pub stacks_dropped: u64,
    /// Nodes of heapy's stack table in use: stacks are stored as paths of (caller, return
    /// address) nodes that share their outer frames; the table holds 4,194,304 nodes and
    /// takes no new one past 7/8 of that (3,670,016). At most 1,048,576 distinct stacks
    /// (`stacks`) are named.
    pub stack_nodes: u64,
}

/// Sums the counters now. Other threads keep running, so the figures are each exact but
/// not taken at one single instant.
pub(crate) fn collect() -> Stats {
    // The calling thread's own figures are exact: publish what a sampling census batched.
    {
        let _g = super::guard::Reentrancy::enter();
        super::record::publish_unsampled();
    }
    // Relaxed: see LIVE.
    let t = threads::sums(|| LIVE.load(Ordering::Relaxed));
    let mut s = Stats {
        allocations: t.allocs,
        frees: t.frees,
        bytes_allocated: t.alloc_bytes,
        bytes_freed: t.free_bytes,
        untracked: t.untracked,
        ..Stats::default()
    };
    s.live_objects = s.allocations.saturating_sub(s.frees);
    s.live_bytes = (t.flushed + t.pending).max(0) as u64;
    // The top of a batch not yet flushed is a peak that happened: keep it, so the figure
    // never goes down.
    raise_peak(t.flushed + t.pending + t.pending_excess.max(0));
    // Relaxed: see PEAK.
    s.peak_live_bytes = (PEAK.load(Ordering::Relaxed).max(0) as u64).max(s.live_bytes);
    s.threads = threads::seen();
    s.thread_slots = threads::slots_used();
    s.registry_bytes = registry::footprint_bytes() as u64;
    (s.stacks_dropped, s.stacks, s.stack_nodes) = crate::stack::table_counts();
    s
}

/// Starts a new peak from the current live bytes.
pub(crate) fn reset_peak() {
    // What the heap holds now is the new peak's composition (see `history`); the calling
    // thread's room below the peak is its pending change (others find theirs at their next
    // flush).
    super::history::peak_passed();
    super::record::reset_room();
    // Each live thread's batch starts its top afresh from where it is now. Relaxed: the
    // owner may raise it again at once, with a value its batch really reached.
    threads::for_each_active(|i| {
        let s = threads::slot(i);
        s.pending_high
            .store(s.pending.load(Ordering::Relaxed), Ordering::Relaxed);
    });
    let live = collect().live_bytes as i64;
    PEAK.store(live, Ordering::Relaxed);
}

/// The highest live bytes since the previous call (or the start), and starts a new window
/// from the live bytes now. Used by the Recorder so that each timeline sample carries the
/// peak between samples; it has the same 16 KiB-per-thread granularity as
/// `peak_live_bytes`, and leaves that figure alone.
pub(crate) fn take_window_peak() -> u64 {
    let live = collect().live_bytes as i64;
    WINDOW_PEAK.swap(live, Ordering::Relaxed).max(live).max(0) as u64
}
