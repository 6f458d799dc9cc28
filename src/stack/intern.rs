//! The stack interner: each distinct stack gets a context id, lock-free, without allocating.
//!
//! A fixed-size open-addressed table in pages mapped from the kernel (never through the
//! global allocator). An entry is claimed with one compare-and-swap of its key, filled, and
//! then published with a release store; a reader that meets an entry still being filled
//! passes it by, so two threads interning the same new stack at the same moment may get two
//! ids for it (both resolve to the same names). A full table is counted, never silent.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use crate::sys;

/// Frames kept per stack (innermost first).
pub(crate) const DEPTH: usize = 32;
/// Entries in the table.
pub(crate) const ENTRIES: usize = 1 << 17;
/// Entries tried before a stack is given up as "table full".
const PROBES: usize = 64;

/// Key states in the top two bits; the low 62 bits are the stack's hash.
const WRITING: u64 = 1 << 62;
const READY: u64 = 2 << 62;
const HASH: u64 = (1 << 62) - 1;

#[repr(C)]
struct Entry {
    key: AtomicU64,
    len: u32,
    /// The tag that was current at the allocation (0 for none): tags win for kinds, the
    /// stack still gives the call site.
    tag: u32,
    frames: [usize; DEPTH],
}

/// The table, mapped on first use. Acquire/Release: the mapping is published with the
/// pointer, and it is never unmapped once published.
static TABLE: AtomicPtr<Entry> = AtomicPtr::new(core::ptr::null_mut());
/// Stacks that found no room. Relaxed: a counter.
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Entries in use. Relaxed: a counter.
static USED: AtomicU64 = AtomicU64::new(0);

/// The context id given to allocations whose stack found no room (the first stack id).
pub(crate) fn full_id(base: u32) -> u32 {
    base
}

const BYTES: usize = ENTRIES * core::mem::size_of::<Entry>();

#[cold]
fn map() -> Option<NonNull<Entry>> {
    let p = sys::map_zeroed(BYTES)?.cast::<Entry>();
    match TABLE.compare_exchange(
        core::ptr::null_mut(),
        p.as_ptr(),
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => Some(p),
        Err(theirs) => {
            // SAFETY: our mapping was never published; nothing else refers to it.
            unsafe { sys::unmap(p.cast(), BYTES) };
            NonNull::new(theirs)
        }
    }
}

#[inline(always)]
fn table() -> Option<NonNull<Entry>> {
    match NonNull::new(TABLE.load(Ordering::Acquire)) {
        Some(t) => Some(t),
        None => map(),
    }
}

/// The stack's hash. Each frame is rotated by its own position and the words are combined
/// in two independent lanes, so the loop has no long chain of multiplies (this runs on
/// every allocation); one final mix spreads the bits. Entries are compared in full, so the
/// hash only has to spread stacks over the table.
#[inline(always)]
fn hash(frames: &[usize], tag: u32) -> u64 {
    let (mut a, mut b) = (frames.len() as u64 ^ (u64::from(tag) << 40), 0u64);
    for (i, pair) in frames.chunks(2).enumerate() {
        let r = (i as u32 * 13) & 63;
        a ^= (pair[0] as u64).rotate_left(r);
        if let Some(&f) = pair.get(1) {
            b ^= (f as u64).rotate_left(r + 7);
        }
    }
    let mut h = a ^ b.rotate_left(32);
    // fmix64 from MurmurHash3.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h & HASH
}

/// Word-by-word equality, inlined (the stacks are short).
#[inline(always)]
fn same(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The id of `frames` with `tag` (`base` + 1 + its entry), interning it if new;
/// `full_id(base)` when the table has no room.
#[inline]
pub(crate) fn intern(frames: &[usize], tag: u32, base: u32) -> u32 {
    let frames = &frames[..frames.len().min(DEPTH)];
    let Some(t) = table() else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return full_id(base);
    };
    let h = hash(frames, tag);
    let mut i = h as usize % ENTRIES;
    for _ in 0..PROBES {
        // SAFETY: `i < ENTRIES`; the table holds ENTRIES entries and is never unmapped.
        let e = unsafe { t.as_ptr().add(i) };
        // SAFETY: `e` is a live entry; only its atomic key is borrowed here.
        let key = unsafe { &(*e).key };
        // Acquire: pairs with the Release that published the entry's frames.
        let k = key.load(Ordering::Acquire);
        if k == (READY | h) {
            // SAFETY: a READY entry is never written again, and its frames were published
            // by the Release store we synchronised with.
            let (fs, t) = unsafe { stored(e) };
            if t == tag && same(fs, frames) {
                return base + 1 + i as u32;
            }
        } else if k == 0 {
            // Claim the entry. Relaxed: the claim publishes nothing; the frames are
            // published by the Release store below.
            if key
                .compare_exchange(0, WRITING | h, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: the CAS made this entry ours alone until we publish it; nobody
                // reads `len` or `frames` of an entry whose key is not READY.
                unsafe {
                    (*e).len = frames.len() as u32;
                    (*e).tag = tag;
                    (&mut (*e).frames)[..frames.len()].copy_from_slice(frames);
                }
                // Release: publishes `len` and `frames` with the key.
                key.store(READY | h, Ordering::Release);
                USED.fetch_add(1, Ordering::Relaxed);
                return base + 1 + i as u32;
            }
            // Lost the race: look at the same entry again on the next probe.
            continue;
        }
        i = (i + 1) % ENTRIES;
    }
    DROPPED.fetch_add(1, Ordering::Relaxed);
    full_id(base)
}

/// The frames and tag of stack id `id` (as given by `intern` with the same `base`), if
/// published.
pub(crate) fn frames(id: u32, base: u32) -> Option<(&'static [usize], u32)> {
    let i = id.checked_sub(base + 1)? as usize;
    if i >= ENTRIES {
        return None;
    }
    let t = NonNull::new(TABLE.load(Ordering::Acquire))?;
    // SAFETY: `i < ENTRIES` inside a table that is never unmapped.
    let e = unsafe { t.as_ptr().add(i) };
    // SAFETY: only the atomic key is borrowed. Acquire: pairs with the Release that
    // published the frames.
    if unsafe { &(*e).key }.load(Ordering::Acquire) & !HASH != READY {
        return None;
    }
    // SAFETY: the key, read above with Acquire, said READY: the frames and tag were written
    // before the Release store that set it, and a READY entry is never written again.
    Some(unsafe { stored(e) })
}

/// The frames and tag of a published entry.
///
/// # Safety
///
/// `e` must be an entry of the table whose key was read READY with Acquire ordering.
#[inline(always)]
unsafe fn stored(e: *const Entry) -> (&'static [usize], u32) {
    // SAFETY: a READY entry is never written again and the table is never unmapped, so a
    // shared borrow for the rest of the process is sound.
    unsafe {
        let len = ((*e).len as usize).min(DEPTH);
        (&(&(*e).frames)[..len], (*e).tag)
    }
}

/// Allocations whose stack found no room in the table, and distinct stacks interned.
pub(crate) fn counts() -> (u64, u64) {
    (
        DROPPED.load(Ordering::Relaxed),
        USED.load(Ordering::Relaxed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_stack_same_id_and_frames_come_back() {
        let base = 1 << 23;
        let a = intern(&[1, 2, 3, 0xdead_0001], 0, base);
        let b = intern(&[1, 2, 3, 0xdead_0001], 0, base);
        let c = intern(&[1, 2, 3, 0xdead_0002], 0, base);
        let d = intern(&[1, 2, 3, 0xdead_0001], 7, base);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert!(a > base);
        assert_eq!(frames(a, base), Some((&[1, 2, 3, 0xdead_0001][..], 0)));
        assert_eq!(frames(d, base), Some((&[1, 2, 3, 0xdead_0001][..], 7)));
        assert_eq!(frames(full_id(base), base), None);
    }
}
