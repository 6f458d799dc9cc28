//! The live-object registry: a table of 24-byte records, one per live allocation.
//!
//! ```text
//!  slot index (u32) = chunk (16 bits) | record in chunk (16 bits)
//!  record  word0  = address (48 bits) | thread index (16 bits)
//!          serial = allocation serial (0 means "free slot")
//!          word2  = requested size (40 bits) | context id (24 bits)
//! ```
//!
//! The allocator finds an object's record from the 4-byte slot index it keeps in the block's
//! trailer (see `trailer.rs`), so there is no hashing and no shared lock on the hot path:
//!
//! * A thread takes free slots from its own lists (`LocalSlots`), refilled in batches from a
//!   lock-free global pool or carved from a global bump cursor. A slot freed by any thread
//!   goes to that thread's own lists; full batches spill back to the pool.
//! * Chunks are zeroed pages from the kernel (`sys::map_zeroed`): the registry never allocates
//!   through the global allocator, so it is never part of a census, and a chunk is never freed
//!   (slots are reused), so a record can always be read.
//! * Each record is a small seqlock keyed by its serial: a snapshot reads the serial, the two
//!   data words and the serial again, and keeps the record only if the serial did not change.
//!   Every field is an atomic, so reading a record that another thread is changing is never a
//!   data race, only a retry.
//!
//! Bookkeeping cost per live object: the 24-byte record plus the 4-byte trailer.

use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicPtr, AtomicU64, Ordering};

use crate::sys;

const CHUNK_BITS: u32 = 16;
const CHUNK_LEN: usize = 1 << CHUNK_BITS;
const MAX_CHUNKS: usize = 1 << 16;
/// Slots handed out by the global bump cursor at a time.
const BUMP_BLOCK: u64 = 64;
/// Free slots a thread keeps in one list before moving a batch to the pool.
const BATCH: u32 = 256;

/// End of a free list.
const NIL: u32 = u32::MAX;
/// Slot indices from here up are never handed out (they are trailer markers).
const SLOT_LIMIT: u64 = (u32::MAX - 2) as u64;

/// Largest address a record can hold (48 bits: every user-space address on x86_64 and
/// aarch64 Linux).
pub(crate) const MAX_ADDR: usize = (1 << 48) - 1;
/// Largest size a record can hold (40 bits, 1 TiB).
pub(crate) const MAX_SIZE: usize = (1 << 40) - 1;
/// Largest context id (24 bits).
pub(crate) const MAX_CTX: u32 = (1 << 24) - 1;
// Every context id the stack layer hands out (tags below, stacks above) fits the record.
const _: () = assert!(crate::stack::MAX_ID <= MAX_CTX);

#[repr(C)]
struct Record {
    word0: AtomicU64,
    serial: AtomicU64,
    word2: AtomicU64,
}

/// A live object's record, unpacked: what the registry stores for each live block and what
/// a snapshot (`heap::Heap`) holds for each of its objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Obj {
    pub addr: usize,
    pub size: usize,
    pub serial: u64,
    pub thread: u16,
    pub ctx: u32,
}

static CHUNKS: [AtomicPtr<Record>; MAX_CHUNKS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CHUNKS];
/// Next never-used slot index. Relaxed is enough: it only hands out distinct numbers.
static BUMP: AtomicU64 = AtomicU64::new(0);
/// The pool of free batches: `(aba tag << 32) | head slot`. A batch is a free list whose head
/// record's `word2` holds `(next batch << 32) | batch length`.
static POOL: AtomicU64 = AtomicU64::new(NIL as u64);

const CHUNK_BYTES: usize = CHUNK_LEN * core::mem::size_of::<Record>();

/// The chunk holding `slot`, mapping it on first use. Returns `None` if the kernel refuses.
fn chunk(slot: u32) -> Option<&'static [Record; CHUNK_LEN]> {
    let c = &CHUNKS[(slot >> CHUNK_BITS) as usize];
    // Acquire pairs with the Release that published the chunk, so its zeroed pages are seen.
    let mut p = c.load(Ordering::Acquire);
    if p.is_null() {
        p = install_chunk(c)?;
    }
    // SAFETY: a published chunk is CHUNK_LEN zero-initialised records (all-zero atomics are
    // valid) that are never unmapped, so a shared 'static reference is sound.
    Some(unsafe { &*(p as *const [Record; CHUNK_LEN]) })
}

#[cold]
fn install_chunk(c: &AtomicPtr<Record>) -> Option<*mut Record> {
    let fresh = sys::map_zeroed(CHUNK_BYTES)?.as_ptr().cast::<Record>();
    // AcqRel: Release publishes the zeroed mapping; Acquire sees a rival's if we lose.
    match c.compare_exchange(
        core::ptr::null_mut(),
        fresh,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => Some(fresh),
        Err(winner) => {
            // SAFETY: `fresh` is our own mapping of CHUNK_BYTES that nobody else has seen.
            unsafe { sys::unmap(NonNull::new_unchecked(fresh.cast()), CHUNK_BYTES) };
            Some(winner)
        }
    }
}

/// The record of a slot that was handed out (so its chunk exists).
#[inline(always)]
fn record(slot: u32) -> &'static Record {
    let p = CHUNKS[(slot >> CHUNK_BITS) as usize].load(Ordering::Acquire);
    debug_assert!(!p.is_null());
    // SAFETY: slots are only handed out after `chunk()` mapped their chunk, and chunks are
    // never unmapped; the offset is below CHUNK_LEN by the mask.
    unsafe { &*p.add(slot as usize & (CHUNK_LEN - 1)) }
}

/// A thread's free slots: two lists of at most `BATCH` slots plus a bump range. Lives in the
/// thread's local state and is only touched by its thread.
#[derive(Default)]
pub(crate) struct LocalSlots {
    cur_head: u32,
    cur_len: u32,
    spare_head: u32,
    spare_len: u32,
    bump_next: u64,
    bump_end: u64,
}

impl LocalSlots {
    pub(crate) const fn new() -> Self {
        LocalSlots {
            cur_head: NIL,
            cur_len: 0,
            spare_head: NIL,
            spare_len: 0,
            bump_next: 0,
            bump_end: 0,
        }
    }

    /// Takes a free slot, or `None` when the registry cannot grow.
    #[inline(always)]
    pub(crate) fn take(&mut self) -> Option<u32> {
        if self.cur_len == 0 {
            self.refill()?;
        }
        let slot = self.cur_head;
        self.cur_head = record(slot).word0.load(Ordering::Relaxed) as u32;
        self.cur_len -= 1;
        Some(slot)
    }

    #[cold]
    fn refill(&mut self) -> Option<()> {
        if self.spare_len > 0 {
            self.cur_head = core::mem::replace(&mut self.spare_head, NIL);
            self.cur_len = core::mem::take(&mut self.spare_len);
            return Some(());
        }
        if let Some((head, len)) = pool_pop() {
            self.cur_head = head;
            self.cur_len = len;
            return Some(());
        }
        if self.bump_next == self.bump_end {
            let start = BUMP.fetch_add(BUMP_BLOCK, Ordering::Relaxed);
            if start + BUMP_BLOCK > SLOT_LIMIT {
                return None;
            }
            self.bump_next = start;
            self.bump_end = start + BUMP_BLOCK;
        }
        let slot = self.bump_next as u32;
        chunk(slot)?;
        self.bump_next += 1;
        // A fresh slot is already free (serial 0); make it a one-slot list.
        record(slot).word0.store(NIL as u64, Ordering::Relaxed);
        self.cur_head = slot;
        self.cur_len = 1;
        Some(())
    }

    /// Returns a slot (already cleared by `clear`) to this thread's lists.
    #[inline(always)]
    pub(crate) fn give(&mut self, slot: u32) {
        if self.cur_len == BATCH {
            self.spill();
        }
        record(slot)
            .word0
            .store(self.cur_head as u64, Ordering::Relaxed);
        self.cur_head = slot;
        self.cur_len += 1;
    }

    #[cold]
    fn spill(&mut self) {
        if self.spare_len > 0 {
            pool_push(self.spare_head, self.spare_len);
        }
        self.spare_head = core::mem::replace(&mut self.cur_head, NIL);
        self.spare_len = core::mem::take(&mut self.cur_len);
    }

    /// Hands every slot this thread holds back to the pool (thread exit).
    pub(crate) fn park(&mut self) {
        while self.bump_next < self.bump_end {
            let slot = self.bump_next as u32;
            self.bump_next += 1;
            if chunk(slot).is_none() {
                break;
            }
            self.give(slot);
        }
        if self.cur_len > 0 {
            pool_push(self.cur_head, self.cur_len);
        }
        if self.spare_len > 0 {
            pool_push(self.spare_head, self.spare_len);
        }
        *self = LocalSlots::new();
    }
}

fn pool_push(head: u32, len: u32) {
    let mut cur = POOL.load(Ordering::Relaxed);
    loop {
        let next = cur as u32;
        record(head)
            .word2
            .store(((next as u64) << 32) | len as u64, Ordering::Relaxed);
        let new = ((cur >> 32).wrapping_add(1) << 32) | head as u64;
        // Release publishes the batch's links to the popper; Relaxed on failure just retries.
        match POOL.compare_exchange_weak(cur, new, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return,
            Err(seen) => cur = seen,
        }
    }
}

fn pool_pop() -> Option<(u32, u32)> {
    // Acquire pairs with pool_push's Release: the batch's links are visible.
    let mut cur = POOL.load(Ordering::Acquire);
    loop {
        let head = cur as u32;
        if head == NIL {
            return None;
        }
        // The head may be popped and reused by another thread meanwhile; the value read is
        // then stale, but the tag makes the CAS below fail and we read again.
        let w2 = record(head).word2.load(Ordering::Relaxed);
        let new = ((cur >> 32).wrapping_add(1) << 32) | (w2 >> 32);
        match POOL.compare_exchange_weak(cur, new, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => return Some((head, w2 as u32)),
            Err(seen) => cur = seen,
        }
    }
}

/// Takes one slot without thread-local lists (thread teardown). Slow; rare.
pub(crate) fn take_shared() -> Option<u32> {
    let (head, len) = match pool_pop() {
        Some(b) => b,
        None => {
            let slot = BUMP.fetch_add(1, Ordering::Relaxed);
            if slot >= SLOT_LIMIT {
                return None;
            }
            chunk(slot as u32)?;
            return Some(slot as u32);
        }
    };
    if len > 1 {
        let rest = record(head).word0.load(Ordering::Relaxed) as u32;
        pool_push(rest, len - 1);
    }
    Some(head)
}

/// Returns one cleared slot to the pool without thread-local lists (thread teardown).
pub(crate) fn give_shared(slot: u32) {
    record(slot).word0.store(NIL as u64, Ordering::Relaxed);
    pool_push(slot, 1);
}

/// Fills a slot just taken from a free list and publishes it to snapshots.
#[inline(always)]
pub(crate) fn fill(slot: u32, r: &Obj) {
    let rec = record(slot);
    // Release fence: a snapshot that reads the new words below also sees the slot's earlier
    // history (its serial cleared to 0 by the free), so its second serial read differs.
    fence(Ordering::Release);
    rec.word0
        .store(r.addr as u64 | (r.thread as u64) << 48, Ordering::Relaxed);
    rec.word2
        .store(r.size as u64 | (r.ctx as u64) << 40, Ordering::Relaxed);
    // Release publishes the two words with the serial that validates them.
    rec.serial.store(r.serial, Ordering::Release);
}

/// Clears a live slot; returns the thread index it was allocated by. The caller then hands
/// the slot back with `LocalSlots::give` or `give_shared`.
#[inline(always)]
pub(crate) fn clear(slot: u32) -> u16 {
    let rec = record(slot);
    let thread = (rec.word0.load(Ordering::Relaxed) >> 48) as u16;
    rec.serial.store(0, Ordering::Relaxed);
    // Release fence: the free-list link written into word0 next is ordered after the cleared
    // serial for any snapshot that reads it (it then sees the serial change and drops it).
    fence(Ordering::Release);
    thread
}

/// As `clear`, also giving the record's context and serial (the allocation history's).
#[inline(always)]
pub(crate) fn clear_full(slot: u32) -> (u16, u32, u64) {
    let rec = record(slot);
    // Relaxed: only the freeing thread touches a live record's words now (the block is
    // being freed), and the words were published to it with the block itself.
    let ctx = (rec.word2.load(Ordering::Relaxed) >> 40) as u32;
    let serial = rec.serial.load(Ordering::Relaxed);
    (clear(slot), ctx, serial)
}

/// Reads one record consistently, or `None` if the slot is free.
#[inline(always)]
fn read(rec: &Record) -> Option<Obj> {
    // A counted `while`, not a range: a snapshot reads every record, and a dev build may run
    // heapy at opt-level 0, where iterator adaptors are calls.
    let mut tries = 0;
    while tries < 4 {
        tries += 1;
        // Acquire pairs with `fill`'s Release store of the serial.
        let s1 = rec.serial.load(Ordering::Acquire);
        if s1 == 0 {
            return None;
        }
        let w0 = rec.word0.load(Ordering::Relaxed);
        let w2 = rec.word2.load(Ordering::Relaxed);
        // Acquire fence pairs with the Release fences in `fill` and `clear`: if the words
        // came from a later writer, the serial re-read below sees that writer's change.
        fence(Ordering::Acquire);
        if rec.serial.load(Ordering::Relaxed) == s1 {
            return Some(Obj {
                addr: (w0 & MAX_ADDR as u64) as usize,
                thread: (w0 >> 48) as u16,
                serial: s1,
                size: (w2 & MAX_SIZE as u64) as usize,
                ctx: (w2 >> 40) as u32,
            });
        }
    }
    // Changing under us four times in a row: the object is churning; leave it out.
    None
}

/// Calls `f` with every live record. Concurrent allocations and frees may or may not be
/// seen; every record passed to `f` was live at the moment it was read.
pub(crate) fn for_each_live(mut f: impl FnMut(Obj)) {
    for_each_live_slot(|_, o| f(o));
}

/// As `for_each_live`, with the registry slot each record was read from (for `still_live`).
///
/// The copy is not taken at one instant: a block freed while the registry is read and its
/// address reused by a later allocation can show up twice (an old record read before the
/// free, the new one after). Callers that need one object per address resolve that.
pub(crate) fn for_each_live_slot(mut f: impl FnMut(u32, Obj)) {
    let end = BUMP.load(Ordering::Relaxed).min(SLOT_LIMIT);
    let chunks = end.div_ceil(CHUNK_LEN as u64) as usize;
    for (c, cell) in CHUNKS.iter().enumerate().take(chunks) {
        let p = cell.load(Ordering::Acquire);
        if p.is_null() {
            continue;
        }
        let n = (end - (c * CHUNK_LEN) as u64).min(CHUNK_LEN as u64) as usize;
        // SAFETY: a published chunk is CHUNK_LEN records that are never unmapped.
        let records = unsafe { core::slice::from_raw_parts(p, n) };
        // Indexing, not `iter().enumerate()` (see `read`).
        let mut k = 0;
        while k < n {
            if let Some(r) = read(&records[k]) {
                f((c * CHUNK_LEN + k) as u32, r);
            }
            k += 1;
        }
    }
}

/// Calls `f` with every live record of a frozen copy of this process, whose memory
/// `read(addr, words)` copies (as `sys::Frozen::read_words` does: returns the words copied).
/// The copy was taken while every thread that changes records was stopped, so each record
/// reads whole: `fill` writes the serial last and `clear` clears it first. Allocates.
pub(crate) fn for_each_live_in(
    mut read: impl FnMut(usize, &mut [usize]) -> usize,
    mut f: impl FnMut(Obj),
) {
    const WORDS: usize = core::mem::size_of::<Record>() / core::mem::size_of::<usize>();
    let end = BUMP.load(Ordering::Relaxed).min(SLOT_LIMIT);
    let chunks = end.div_ceil(CHUNK_LEN as u64) as usize;
    let mut buf = vec![0usize; CHUNK_LEN * WORDS];
    for (c, cell) in CHUNKS.iter().enumerate().take(chunks) {
        // Acquire: a chunk published before the copy is in it (a later one is not mapped
        // there, and reads nothing).
        let p = cell.load(Ordering::Acquire);
        if p.is_null() {
            continue;
        }
        let n = (end - (c * CHUNK_LEN) as u64).min(CHUNK_LEN as u64) as usize;
        let got = read(p as usize, &mut buf[..n * WORDS]) / WORDS;
        for r in buf[..got * WORDS].chunks_exact(WORDS) {
            let (w0, serial, w2) = (r[0] as u64, r[1] as u64, r[2] as u64);
            if serial != 0 {
                f(Obj {
                    addr: (w0 & MAX_ADDR as u64) as usize,
                    thread: (w0 >> 48) as u16,
                    serial,
                    size: (w2 & MAX_SIZE as u64) as usize,
                    ctx: (w2 >> 40) as u32,
                });
            }
        }
    }
}

/// True if registry slot `slot` (as passed by `for_each_live_slot`) still holds the object
/// with serial `serial`: that object is live now.
pub(crate) fn still_live(slot: u32, serial: u64) -> bool {
    read(record(slot)).is_some_and(|r| r.serial == serial)
}

/// The address ranges of the registry's pages (heapy's own memory: never a root of the
/// object graph, though its records hold every object's address).
pub(crate) fn chunk_ranges() -> Vec<(usize, usize)> {
    CHUNKS
        .iter()
        .map(|c| c.load(Ordering::Acquire) as usize)
        .filter(|&p| p != 0)
        .map(|p| (p, p + CHUNK_BYTES))
        .collect()
}

/// Bytes of registry memory in use: records ever handed out, rounded to whole chunks
/// touched. (Pages of a chunk that were never touched cost nothing; this counts them.)
pub(crate) fn footprint_bytes() -> usize {
    let end = BUMP.load(Ordering::Relaxed).min(SLOT_LIMIT) as usize;
    end * core::mem::size_of::<Record>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_24_bytes() {
        assert_eq!(core::mem::size_of::<Record>(), 24);
    }

    #[test]
    fn take_fill_read_clear_give() {
        let mut l = LocalSlots::new();
        let s = l.take().unwrap();
        let r = Obj {
            addr: 0x7fff_1234_5670,
            size: (1 << 40) - 1,
            serial: u64::MAX - 7,
            thread: 0xfffe,
            ctx: MAX_CTX,
        };
        fill(s, &r);
        assert_eq!(read(record(s)), Some(r));
        assert_eq!(clear(s), 0xfffe);
        l.give(s);
        assert_eq!(read(record(s)), None);
        // The slot comes back first (LIFO).
        assert_eq!(l.take(), Some(s));
        l.give(s);
        l.park();
    }

    #[test]
    fn batches_move_through_the_pool() {
        let mut a = LocalSlots::new();
        let slots: Vec<u32> = (0..3 * BATCH).map(|_| a.take().unwrap()).collect();
        let mut seen = std::collections::HashSet::new();
        assert!(slots.iter().all(|s| seen.insert(*s)), "slots are distinct");
        for &s in &slots {
            a.give(s);
        }
        a.park();
        // Another thread's lists can now take them again; all distinct.
        let mut b = LocalSlots::new();
        let again: std::collections::HashSet<u32> =
            (0..3 * BATCH).map(|_| b.take().unwrap()).collect();
        assert_eq!(again.len(), (3 * BATCH) as usize);
        for s in again {
            b.give(s);
        }
        b.park();
    }
}
