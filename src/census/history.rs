//! Per-context allocation history: what each context (a tag or an interned stack: what a
//! row of a table is keyed by) allocated and freed since the start, the context's own
//! highest live bytes, how long its freed blocks lived, and what it held when the process's
//! heap was at its peak.
//!
//! ```text
//!  allocation / free ──► the thread's cache line for the context (direct-mapped, 256 lines,
//!                        the thread's own: plain loads and stores)
//!                          │ evicted by another context, or the thread exits
//!                          ▼
//!                        the global entry of the context (one per possible context id,
//!                        mapped from the kernel, touched only when a line is flushed)
//! ```
//!
//! Two threads allocating from the same line never write one cache line on every allocation:
//! each counts in its own cache, and the global entry is written when a line is evicted.
//! A reader sums the global entries and every live thread's lines (each line read twice
//! around its key, and left out if it changed meanwhile): figures of the moment for other
//! threads' contexts, exact for the calling thread's.
//!
//! The heap at its peak is kept the way dhat keeps it, lazily, but without dhat's copy of
//! every context: the process keeps a *peak generation* `GEN`, moved on when the heap starts
//! to fall from a new maximum (the first free after an allocation that made a new peak). A
//! context's live figures are the sum of parts that each change in one place only: its
//! global entry (changed when a line is flushed into it) and each thread's line (changed by
//! that thread). Each part is copied, the first time it changes in a new generation, as it
//! was before the change: a line copies its own part (no shared write), the entry its own
//! when a line is flushed into it, and a flushed line adds its part at the peak to the
//! entry's. A part not changed since the peak is its value now. So the hot path adds one
//! load and one compare, blocks freed on another thread than the one that made them are
//! counted right, and the copies cost one line's two words per context touched after a
//! peak. A thread notices a new peak without reading the global figures: it keeps the room
//! between its pending live bytes and the peak as of its last flush (see
//! `record::Local::live_change`). With one thread allocating, the at-peak figures are exact
//! and add up to `Stats::peak_live_bytes`; with several, each thread's view of the peak may
//! lag by its unflushed batch (16 KiB), as the peak figure itself does.
//!
//! Nothing here allocates through the global allocator, takes a lock, or panics.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use super::threads;
use crate::stack;
use crate::sys;

/// Global entries for tags: tag ids at or past `TAG_SLOTS - 1` share the last one.
const TAG_SLOTS: usize = 1 << 16;
/// Global entries: every tag slot and every stack id (`BASE ..= MAX_ID`).
const SLOTS: usize = TAG_SLOTS + (stack::MAX_ID - stack::BASE) as usize + 1;
/// Lines of a thread's cache (a power of two).
const LINES: usize = 256;
/// Entries of a thread's mark log (a power of two), and probes before the overflow entry.
const LOG_LEN: usize = 1024;
const LOG_PROBES: usize = 16;
/// The context id under which a mark log counts what found no room in it.
pub(crate) const LOG_OVERFLOW: u32 = u32::MAX;

/// The global entry index of context `ctx`.
#[inline(always)]
fn index(ctx: u32) -> usize {
    if ctx < stack::BASE {
        (ctx as usize).min(TAG_SLOTS - 1)
    } else {
        TAG_SLOTS + (ctx - stack::BASE) as usize
    }
}

/// The context an entry index stands for (the last tag slot stands for every later tag:
/// it is named as the tag table's "too many kinds").
fn ctx_of(i: usize) -> u32 {
    if i < TAG_SLOTS - 1 {
        i as u32
    } else if i == TAG_SLOTS - 1 {
        super::tags::TOO_MANY
    } else {
        stack::BASE + (i - TAG_SLOTS) as u32
    }
}

/// One context's history, process-wide (what flushed lines added).
#[repr(C, align(128))]
struct Entry {
    alloc_blocks: AtomicU64,
    alloc_bytes: AtomicU64,
    free_blocks: AtomicU64,
    free_bytes: AtomicU64,
    /// Sum over freed blocks of the allocations made from the block's own to its free.
    lifetime: AtomicU64,
    /// Freed blocks with no other allocation on their thread in between.
    short_lived: AtomicU64,
    /// The context's own highest live bytes.
    max_live: AtomicU64,
    /// The generation the at-peak figures below belong to.
    peak_gen: AtomicU64,
    /// The entry's own figures (what flushed lines added) at the peak of `peak_gen`.
    peak_blocks: AtomicU64,
    peak_bytes: AtomicU64,
    /// The parts at that peak of the lines flushed since (wrapping sums of signed parts).
    peak_flushed_blocks: AtomicU64,
    peak_flushed_bytes: AtomicU64,
    /// 1 once the entry is in `Table::used`.
    listed: AtomicU32,
}

/// Entries per chunk of the global table (a chunk is mapped when a context in it is first
/// counted, so memory follows the contexts that exist, not every possible id).
const CHUNK: usize = 4096;
const CHUNKS: usize = SLOTS.div_ceil(CHUNK);

/// The global table: chunks of entries, and the indices of the entries ever used (so a
/// reader visits the contexts that exist, not every possible one).
#[repr(C)]
struct Table {
    chunks: [AtomicPtr<Entry>; CHUNKS],
    used: [AtomicU32; SLOTS],
    used_len: AtomicU32,
}

/// Relaxed: the peak generation is a counter; what it orders (the at-peak copies) is each
/// thread's own program order, and across threads the figures are of the moment.
static GEN: AtomicU64 = AtomicU64::new(1);
/// The table, mapped on first use. Acquire/Release: the mapping is published with the
/// pointer, and never unmapped.
static TABLE: AtomicPtr<Table> = AtomicPtr::new(core::ptr::null_mut());

/// Maps `bytes` of zeroed memory into `cell` unless another thread did first; returns the
/// mapping `cell` holds (`None` if the kernel refuses).
#[cold]
fn map_into<T>(cell: &AtomicPtr<T>, bytes: usize) -> Option<*mut T> {
    let fresh = sys::map_zeroed(bytes)?;
    // AcqRel: Release publishes the zeroed mapping; Acquire sees a rival's if we lose.
    match cell.compare_exchange(
        core::ptr::null_mut(),
        fresh.as_ptr().cast::<T>(),
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => Some(fresh.as_ptr().cast::<T>()),
        Err(theirs) => {
            // SAFETY: our mapping was never published; nothing else refers to it.
            unsafe { sys::unmap(fresh, bytes) };
            Some(theirs)
        }
    }
}

#[cold]
fn map_table() -> Option<&'static Table> {
    let t = map_into(&TABLE, core::mem::size_of::<Table>())?;
    // SAFETY: a published table is zeroed memory (valid atomics) that is never unmapped.
    Some(unsafe { &*t })
}

#[inline(always)]
fn table() -> Option<&'static Table> {
    // Acquire: pairs with the Release that published the mapping.
    let p = TABLE.load(Ordering::Acquire);
    if p.is_null() {
        return map_table();
    }
    // SAFETY: as in `map_table`.
    Some(unsafe { &*p })
}

impl Table {
    /// Entry `i`, if its chunk is mapped.
    fn get(&self, i: usize) -> Option<&Entry> {
        // Acquire: pairs with the Release that published the chunk's zeroed mapping.
        let p = self.chunks.get(i / CHUNK)?.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a published chunk is CHUNK zeroed entries (valid atomics), never unmapped;
        // the offset is below CHUNK.
        Some(unsafe { &*p.add(i % CHUNK) })
    }

    /// Entry `i`, mapping its chunk on first use (`None` if the kernel refuses).
    fn get_or_map(&self, i: usize) -> Option<&Entry> {
        if let Some(e) = self.get(i) {
            return Some(e);
        }
        map_into(
            self.chunks.get(i / CHUNK)?,
            CHUNK * core::mem::size_of::<Entry>(),
        )?;
        self.get(i)
    }

    /// The entry of context `ctx`, listing it among the used ones on first use.
    fn entry(&self, ctx: u32) -> Option<&Entry> {
        let i = index(ctx);
        let e = self.get_or_map(i)?;
        // Relaxed: `listed` only makes one thread push the index; `used_len` is read with
        // Acquire after the index is stored with Release.
        if e.listed.load(Ordering::Relaxed) == 0 && e.listed.swap(1, Ordering::Relaxed) == 0 {
            // Each entry is listed once, so the claims stay below SLOTS. A reader that comes
            // between the claim and the store finds 0 there and passes it by (the context
            // is then missing from that one reading).
            let k = self.used_len.fetch_add(1, Ordering::Relaxed) as usize;
            if let Some(u) = self.used.get(k) {
                // Release: pairs with the reader's Acquire load of the index.
                u.store(i as u32 + 1, Ordering::Release);
            }
        }
        Some(e)
    }
}

/// A line of a thread's cache: the context it holds and the changes not yet flushed.
/// Written by its thread only (loads and stores), read by readers summing figures. What an
/// allocation touches is in the first 64 bytes; the free-only counters follow.
#[repr(C, align(128))]
struct Line {
    /// The context + 1, 0 for an empty line.
    key: AtomicU32,
    /// The owner's own: the generation its entry's at-peak figures are up to date with.
    gen: AtomicU64,
    alloc_blocks: AtomicU64,
    alloc_bytes: AtomicU64,
    free_bytes: AtomicU64,
    /// The owner's own: the context's live bytes in the global entry when the line was
    /// filled, and the highest live bytes seen through the line.
    base_live: AtomicU64,
    max_live: AtomicU64,
    free_blocks: AtomicU64,
    lifetime: AtomicU64,
    short_lived: AtomicU64,
    /// The line's part (allocated minus freed, signed, wrapping) at the peak of `gen`.
    peak_blocks: AtomicU64,
    peak_bytes: AtomicU64,
}

const _: () = assert!(core::mem::offset_of!(Line, max_live) + 8 <= 64);
const _: () = assert!(core::mem::size_of::<Line>() == 128);

/// A thread's mark log: this thread's allocations per context, counted while a mark made on
/// the thread lives (see `Mark::allocations`).
#[repr(C)]
struct LogEntry {
    /// The context + 1, 0 for an empty entry.
    key: AtomicU64,
    blocks: AtomicU64,
    bytes: AtomicU64,
}

/// A thread's history state, mapped from the kernel when its census slot is first used and
/// kept with the slot (a later thread of the slot finds it flushed and empty).
#[repr(C)]
pub(crate) struct ThreadHist {
    lines: [Line; LINES],
    /// Marks alive that log this thread's allocations. Changed by the thread itself (a new
    /// mark) and by whoever drops the mark's last clone.
    log_marks: AtomicU32,
    log: [LogEntry; LOG_LEN],
    /// What found no room in the log.
    log_overflow: LogEntry,
}

/// The history state of census slot `t` (not a shared index), mapping it on first use.
/// `None` if the kernel refuses (the thread's changes then go to the global entries).
#[inline]
pub(crate) fn thread_hist(t: u16) -> Option<&'static ThreadHist> {
    let cell = &threads::slot(t).hist;
    // Acquire: pairs with the Release that published the mapping.
    let p = cell.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: a published ThreadHist is zeroed memory (valid atomics), never unmapped.
        return Some(unsafe { &*(p as *const ThreadHist) });
    }
    map_thread(cell)
}

#[cold]
fn map_thread(cell: &AtomicPtr<u8>) -> Option<&'static ThreadHist> {
    // Only the slot's thread maps it, so losing the race is not expected, but handled.
    let h = map_into(cell, core::mem::size_of::<ThreadHist>())?;
    // SAFETY: as in `thread_hist`.
    Some(unsafe { &*(h as *const ThreadHist) })
}

/// The state of thread slot `t` if it was ever mapped (for readers: never maps).
fn mapped(t: u16) -> Option<&'static ThreadHist> {
    // Acquire: as in `thread_hist`.
    let p = threads::slot(t).hist.load(Ordering::Acquire);
    // SAFETY: as in `thread_hist`.
    NonNull::new(p).map(|p| unsafe { &*(p.as_ptr() as *const ThreadHist) })
}

/// The current peak generation.
#[inline(always)]
fn gen() -> u64 {
    GEN.load(Ordering::Relaxed)
}

/// The heap starts to fall from a new peak (or a new peak starts from now, `reset_peak`):
/// every context's figures now are its figures at the peak.
#[cold]
pub(crate) fn peak_passed() {
    RISING.store(false, Ordering::Relaxed);
    GEN.fetch_add(1, Ordering::Relaxed);
}

/// Some thread made a new peak since the last `peak_passed`: the next free, on any thread,
/// starts the fall from it. Relaxed: a flag whose value is all that is asked of it (the
/// at-peak copies it starts are each thread's own program order).
static RISING: AtomicBool = AtomicBool::new(false);

/// An allocation made a new peak.
#[inline(always)]
pub(crate) fn rose() {
    // The load spares the shared line a write while the heap keeps rising.
    if !RISING.load(Ordering::Relaxed) {
        RISING.store(true, Ordering::Relaxed);
    }
}

/// A free: if the heap was at a new peak, it starts to fall from it now.
#[inline(always)]
pub(crate) fn fell() {
    // Relaxed: see RISING. The swap makes one thread move the generation on per peak.
    if RISING.load(Ordering::Relaxed) && RISING.swap(false, Ordering::Relaxed) {
        GEN.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a block's free tells the history besides its size.
#[derive(Clone, Copy)]
pub(crate) struct Freed {
    /// Allocations made from the block's own to its free (its lifetime, in allocations).
    pub lifetime: u64,
    /// No other allocation on the freeing thread since the block (freed by its own thread).
    pub short: bool,
}

#[inline(always)]
fn line_of(h: &ThreadHist, ctx: u32) -> &Line {
    // A multiplicative hash of the id spreads both tag ids and stack ids over the lines.
    let k = (ctx.wrapping_mul(0x9E37_79B1) >> 24) as usize & (LINES - 1);
    &h.lines[k]
}

/// Adds `v` to an owner-written counter (load then store: only the owner writes it).
#[inline(always)]
fn add(c: &AtomicU64, v: u64) {
    // Relaxed: the owner's own counter; readers take figures of the moment.
    c.store(c.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
}

/// The line for `ctx` in `h`, flushing the context it held before if another, and bringing
/// the context's at-peak figures up to date with the current generation.
#[inline(always)]
fn line_for(h: &ThreadHist, ctx: u32) -> &Line {
    let l = line_of(h, ctx);
    // Relaxed: only this thread writes the key.
    if l.key.load(Ordering::Relaxed) != ctx.wrapping_add(1) {
        refill(l, ctx);
    }
    let g = gen();
    // Relaxed: the owner's own field.
    if l.gen.load(Ordering::Relaxed) != g {
        line_peak_copy(l, g);
    }
    l
}

/// Records an allocation of `size` bytes in context `ctx` by the thread whose history state
/// is `h` (`None`: a shared index or no state, straight to the global entry).
#[inline(always)]
pub(crate) fn on_alloc(h: Option<&ThreadHist>, ctx: u32, size: usize) {
    let Some(h) = h else {
        return global_alloc(ctx, size);
    };
    let l = line_for(h, ctx);
    add(&l.alloc_blocks, 1);
    add(&l.alloc_bytes, size as u64);
    // Relaxed: the owner's own fields.
    let live = l
        .base_live
        .load(Ordering::Relaxed)
        .wrapping_add(l.alloc_bytes.load(Ordering::Relaxed))
        .wrapping_sub(l.free_bytes.load(Ordering::Relaxed));
    if live as i64 > l.max_live.load(Ordering::Relaxed) as i64 {
        l.max_live.store(live, Ordering::Relaxed);
    }
    // Relaxed: changed by marks (rarely); a mark made on this thread is seen at once.
    if h.log_marks.load(Ordering::Relaxed) != 0 {
        log(h, ctx, size);
    }
}

/// Records the free of a block of `size` bytes in context `ctx` (see `on_alloc`).
#[inline(always)]
pub(crate) fn on_free(h: Option<&ThreadHist>, ctx: u32, size: usize, f: Freed) {
    let Some(h) = h else {
        return global_free(ctx, size, f);
    };
    let l = line_for(h, ctx);
    add(&l.free_blocks, 1);
    add(&l.free_bytes, size as u64);
    add(&l.lifetime, f.lifetime);
    add(&l.short_lived, u64::from(f.short));
}

#[cold]
fn global_alloc(ctx: u32, size: usize) {
    let Some(e) = table().and_then(|t| t.entry(ctx)) else {
        return;
    };
    entry_peak_copy(e, gen());
    // Relaxed: counters.
    e.alloc_blocks.fetch_add(1, Ordering::Relaxed);
    let b = e.alloc_bytes.fetch_add(size as u64, Ordering::Relaxed) + size as u64;
    let live = b.wrapping_sub(e.free_bytes.load(Ordering::Relaxed));
    if live as i64 > 0 {
        e.max_live.fetch_max(live, Ordering::Relaxed);
    }
}

#[cold]
fn global_free(ctx: u32, size: usize, f: Freed) {
    let Some(e) = table().and_then(|t| t.entry(ctx)) else {
        return;
    };
    entry_peak_copy(e, gen());
    // Relaxed: counters.
    e.free_blocks.fetch_add(1, Ordering::Relaxed);
    e.free_bytes.fetch_add(size as u64, Ordering::Relaxed);
    e.lifetime.fetch_add(f.lifetime, Ordering::Relaxed);
    e.short_lived
        .fetch_add(u64::from(f.short), Ordering::Relaxed);
}

/// The live blocks and bytes of an entry's own figures (wrapping: parts can be negative).
fn entry_live(e: &Entry) -> (u64, u64) {
    let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
    (
        r(&e.alloc_blocks).wrapping_sub(r(&e.free_blocks)),
        r(&e.alloc_bytes).wrapping_sub(r(&e.free_bytes)),
    )
}

/// The live blocks and bytes of a line's part (wrapping: a thread that frees blocks made on
/// another thread has a negative part).
fn line_live(l: &Line) -> (u64, u64) {
    let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
    (
        r(&l.alloc_blocks).wrapping_sub(r(&l.free_blocks)),
        r(&l.alloc_bytes).wrapping_sub(r(&l.free_bytes)),
    )
}

/// Before entry `e`'s own figures change in generation `g`: if they were last copied in an
/// older generation, they have not changed since that peak: copy them as they are.
fn entry_peak_copy(e: &Entry, g: u64) {
    // Relaxed: figures of the moment (see the module notes).
    if e.peak_gen.load(Ordering::Relaxed) == g {
        return;
    }
    let (blocks, bytes) = entry_live(e);
    e.peak_blocks.store(blocks, Ordering::Relaxed);
    e.peak_bytes.store(bytes, Ordering::Relaxed);
    e.peak_flushed_blocks.store(0, Ordering::Relaxed);
    e.peak_flushed_bytes.store(0, Ordering::Relaxed);
    e.peak_gen.store(g, Ordering::Relaxed);
}

/// The first change of a line in generation `g`: its part before the change is its part at
/// the peak.
#[cold]
#[inline(never)]
fn line_peak_copy(l: &Line, g: u64) {
    let (blocks, bytes) = line_live(l);
    // Relaxed: the owner's own fields, read by readers as figures of the moment.
    l.peak_blocks.store(blocks, Ordering::Relaxed);
    l.peak_bytes.store(bytes, Ordering::Relaxed);
    l.gen.store(g, Ordering::Relaxed);
}

/// A line's part at the peak of generation `g`: copied if it changed since, else its part
/// now.
fn line_peak(l: &Line, g: u64) -> (u64, u64) {
    // Relaxed: as in `line_peak_copy`.
    if l.gen.load(Ordering::Relaxed) == g {
        (
            l.peak_blocks.load(Ordering::Relaxed),
            l.peak_bytes.load(Ordering::Relaxed),
        )
    } else {
        line_live(l)
    }
}

/// Flushes line `l` into its context's global entry and empties it.
fn flush_line(l: &Line) {
    // Relaxed: only the owner writes the key.
    let key = l.key.load(Ordering::Relaxed);
    if key == 0 {
        return;
    }
    // Release: a reader that sees the empty key (Acquire) after reading the deltas drops
    // them (its second key read differs), so a change is never counted both in the line and
    // in the entry by one reader. It may be counted in neither for a moment.
    l.key.store(0, Ordering::Release);
    let Some(e) = table().and_then(|t| t.entry(key - 1)) else {
        return;
    };
    // The entry's figures are about to change: keep them as they were at the peak, and add
    // the line's part at the peak to the entry's account of flushed parts.
    let g = gen();
    entry_peak_copy(e, g);
    let (pb, pbytes) = line_peak(l, g);
    // Relaxed: wrapping sums of signed parts; figures of the moment.
    e.peak_flushed_blocks.fetch_add(pb, Ordering::Relaxed);
    e.peak_flushed_bytes.fetch_add(pbytes, Ordering::Relaxed);
    let take = |c: &AtomicU64| c.swap(0, Ordering::Relaxed);
    // Relaxed: counters whose sums are all that is asked of them.
    e.alloc_blocks
        .fetch_add(take(&l.alloc_blocks), Ordering::Relaxed);
    e.alloc_bytes
        .fetch_add(take(&l.alloc_bytes), Ordering::Relaxed);
    e.free_blocks
        .fetch_add(take(&l.free_blocks), Ordering::Relaxed);
    e.free_bytes
        .fetch_add(take(&l.free_bytes), Ordering::Relaxed);
    e.lifetime.fetch_add(take(&l.lifetime), Ordering::Relaxed);
    e.short_lived
        .fetch_add(take(&l.short_lived), Ordering::Relaxed);
    let max = l.max_live.load(Ordering::Relaxed);
    if max as i64 > 0 {
        e.max_live.fetch_max(max, Ordering::Relaxed);
    }
}

/// Line `l` takes context `ctx` (flushing the one it held).
#[cold]
#[inline(never)]
fn refill(l: &Line, ctx: u32) {
    flush_line(l);
    let Some(e) = table().and_then(|t| t.entry(ctx)) else {
        return;
    };
    // Relaxed: figures of the moment; the owner's own fields.
    let live = e
        .alloc_bytes
        .load(Ordering::Relaxed)
        .wrapping_sub(e.free_bytes.load(Ordering::Relaxed));
    l.base_live.store(live, Ordering::Relaxed);
    l.max_live.store(0, Ordering::Relaxed);
    // A line filled now had no part at the current generation's peak (which came before).
    l.peak_blocks.store(0, Ordering::Relaxed);
    l.peak_bytes.store(0, Ordering::Relaxed);
    l.gen.store(gen(), Ordering::Relaxed);
    // Release: pairs with a reader's Acquire; the zeroed deltas come with the new key.
    l.key.store(ctx.wrapping_add(1), Ordering::Release);
}

/// Flushes every line of a thread's state (the thread exits; the next occupant of its slot
/// starts empty).
pub(crate) fn flush_thread(h: &ThreadHist) {
    for l in &h.lines {
        flush_line(l);
    }
}

#[cold]
#[inline(never)]
fn log(h: &ThreadHist, ctx: u32, size: usize) {
    let key = u64::from(ctx) + 1;
    let mut i = (ctx.wrapping_mul(0x9E37_79B1) >> 16) as usize & (LOG_LEN - 1);
    for _ in 0..LOG_PROBES {
        let e = &h.log[i];
        // Relaxed: only this thread writes the log (readers take figures of the moment).
        let k = e.key.load(Ordering::Relaxed);
        if k == key {
            add(&e.blocks, 1);
            add(&e.bytes, size as u64);
            return;
        }
        if k == 0 {
            add(&e.blocks, 1);
            add(&e.bytes, size as u64);
            // Release: a reader that sees the key sees the counts it was given first.
            e.key.store(key, Ordering::Release);
            return;
        }
        i = (i + 1) & (LOG_LEN - 1);
    }
    add(&h.log_overflow.blocks, 1);
    add(&h.log_overflow.bytes, size as u64);
}

/// A context's history figures (a row before names are given).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CtxHistory {
    pub ctx: u32,
    pub alloc_blocks: u64,
    pub alloc_bytes: u64,
    pub free_blocks: u64,
    pub free_bytes: u64,
    pub lifetime: u64,
    pub short_lived: u64,
    pub max_live: u64,
    pub peak_blocks: u64,
    pub peak_bytes: u64,
}

impl CtxHistory {
    /// Blocks allocated and not freed.
    pub(crate) fn live_blocks(&self) -> u64 {
        self.alloc_blocks.saturating_sub(self.free_blocks)
    }

    /// Bytes allocated and not freed.
    pub(crate) fn live_bytes(&self) -> u64 {
        self.alloc_bytes.saturating_sub(self.free_bytes)
    }
}

/// Every context's history now (call with the reentrancy flag held: allocates). Costs one
/// step per context ever seen plus the lines of the threads alive.
pub(crate) fn collect() -> Vec<CtxHistory> {
    let Some(t) = table() else {
        return Vec::new();
    };
    let g = gen();
    // Relaxed: the claims; each index is read with Acquire below (0: not written yet).
    let n = t.used_len.load(Ordering::Relaxed) as usize;
    let mut out: Vec<CtxHistory> = Vec::with_capacity(n);
    // Figures at the peak, signed (parts can be negative), per row of `out`.
    let mut peak: Vec<(i64, i64)> = Vec::with_capacity(n);
    // Rows by entry index (tags past the table's share one entry).
    let mut pos = std::collections::HashMap::<usize, usize>::with_capacity(n);
    let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
    for k in 0..n.min(SLOTS) {
        // Acquire: as above.
        let i = t.used[k].load(Ordering::Acquire);
        if i == 0 {
            continue;
        }
        let i = i as usize - 1;
        let Some(e) = t.get(i) else { continue };
        out.push(CtxHistory {
            ctx: ctx_of(i),
            alloc_blocks: r(&e.alloc_blocks),
            alloc_bytes: r(&e.alloc_bytes),
            free_blocks: r(&e.free_blocks),
            free_bytes: r(&e.free_bytes),
            lifetime: r(&e.lifetime),
            short_lived: r(&e.short_lived),
            max_live: r(&e.max_live),
            peak_blocks: 0,
            peak_bytes: 0,
        });
        // The entry's own part at the peak, with the parts of lines flushed since; or, if
        // it did not change since the peak, its figures now.
        let (pb, pbytes) = if r(&e.peak_gen) == g {
            (
                r(&e.peak_blocks).wrapping_add(r(&e.peak_flushed_blocks)),
                r(&e.peak_bytes).wrapping_add(r(&e.peak_flushed_bytes)),
            )
        } else {
            entry_live(e)
        };
        peak.push((pb as i64, pbytes as i64));
        pos.insert(i, out.len() - 1);
    }
    threads::for_each_active(|ti| {
        if threads::shared(ti) {
            return;
        }
        let Some(th) = mapped(ti) else { return };
        for l in &th.lines {
            // Acquire: pairs with `refill`'s Release (the line's zeroed deltas).
            let key = l.key.load(Ordering::Acquire);
            if key == 0 {
                continue;
            }
            let d = [
                r(&l.alloc_blocks),
                r(&l.alloc_bytes),
                r(&l.free_blocks),
                r(&l.free_bytes),
                r(&l.lifetime),
                r(&l.short_lived),
            ];
            let max = r(&l.max_live);
            let (pb, pbytes) = line_peak(l, g);
            // Acquire fence, then the key again: if the line was flushed or refilled while
            // read, its deltas may be in the entry already: leave them out.
            core::sync::atomic::fence(Ordering::Acquire);
            if l.key.load(Ordering::Relaxed) != key {
                continue;
            }
            let Some(&p) = pos.get(&index(key - 1)) else {
                continue;
            };
            let h = &mut out[p];
            h.alloc_blocks = h.alloc_blocks.wrapping_add(d[0]);
            h.alloc_bytes = h.alloc_bytes.wrapping_add(d[1]);
            h.free_blocks = h.free_blocks.wrapping_add(d[2]);
            h.free_bytes = h.free_bytes.wrapping_add(d[3]);
            h.lifetime = h.lifetime.wrapping_add(d[4]);
            h.short_lived = h.short_lived.wrapping_add(d[5]);
            if max as i64 > h.max_live as i64 {
                h.max_live = max;
            }
            peak[p].0 = peak[p].0.wrapping_add(pb as i64);
            peak[p].1 = peak[p].1.wrapping_add(pbytes as i64);
        }
    });
    for (h, (pb, pbytes)) in out.iter_mut().zip(peak) {
        // Parts read at slightly different moments while other threads run can add up
        // below zero for a moment: a context never held less than nothing.
        h.peak_blocks = pb.max(0) as u64;
        h.peak_bytes = pbytes.max(0) as u64;
        // A context's own maximum is at least what it holds now and held at the peak.
        h.max_live = h.max_live.max(h.live_bytes()).max(h.peak_bytes);
    }
    out.retain(|h| h.alloc_blocks != 0 || h.free_blocks != 0);
    out
}

/// A copy of the calling thread's mark log (`(ctx, blocks, bytes)`; `LOG_OVERFLOW` for what
/// found no room), for a mark made now or read now. Call with the reentrancy flag held.
pub(crate) fn log_now(t: u16) -> Vec<(u32, u64, u64)> {
    let Some(h) = mapped(t) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
    for e in h.log.iter().chain(core::iter::once(&h.log_overflow)) {
        // Acquire: pairs with `log`'s Release (the first counts come with the key).
        let k = e.key.load(Ordering::Acquire);
        let blocks = r(&e.blocks);
        if blocks == 0 {
            continue;
        }
        let ctx = if k == 0 { LOG_OVERFLOW } else { (k - 1) as u32 };
        out.push((ctx, blocks, r(&e.bytes)));
    }
    out
}

/// A mark on thread `t` starts logging its allocations (called on thread `t`). The log is
/// emptied when no mark used it any more. Call with the reentrancy flag held.
pub(crate) fn log_start(t: u16) {
    if threads::shared(t) {
        return;
    }
    let Some(h) = thread_hist(t) else { return };
    // Relaxed: the count only says whether to log; this thread is the only one that raises
    // it from 0, so it alone clears the log, before raising it (no mark reads it then).
    if h.log_marks.load(Ordering::Relaxed) == 0 {
        for e in h.log.iter().chain(core::iter::once(&h.log_overflow)) {
            e.key.store(0, Ordering::Relaxed);
            e.blocks.store(0, Ordering::Relaxed);
            e.bytes.store(0, Ordering::Relaxed);
        }
    }
    h.log_marks.fetch_add(1, Ordering::Relaxed);
}

/// A mark of thread `t` is gone (called on any thread).
pub(crate) fn log_stop(t: u16) {
    if threads::shared(t) {
        return;
    }
    if let Some(h) = mapped(t) {
        // Relaxed: see `log_start`.
        let _ = h
            .log_marks
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}
