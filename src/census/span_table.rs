//! `KindLayer`'s table from span id to tag: what lets entering a span find its kind with a
//! couple of atomic loads instead of a registry lookup (a reference count taken and given
//! back, the span's extensions read-locked, a hash probe).
//!
//! Open addressing over a fixed array, lock-free: `on_new_span` inserts (claiming a free
//! slot with a compare-exchange, writing the tag, then publishing the key), `on_close`
//! removes (the key becomes a tombstone), `on_enter` looks up. A slot goes
//! `EMPTY → BUSY → id → TOMBSTONE → BUSY → …` and never back to `EMPTY`, so a lookup that
//! meets `EMPTY` knows the id was never placed further along. A span id is unique among the
//! live spans of one registry, and a span cannot be closed while it is entered, so a lookup
//! never races the removal of its own id; the registry reuses an id only after `on_close`
//! removed it. Ids that find no free slot within `PROBES` slots are not in the table: the
//! layer then reads the span's extensions, as before (correct, only slower).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Slots in a table (a power of two): 64 KiB of heapy's memory per layer.
const SLOTS: usize = 4096;
/// Slots a lookup or an insert looks at before giving up.
const PROBES: usize = 8;

const EMPTY: u64 = 0;
/// A removed entry (reusable).
const TOMBSTONE: u64 = u64::MAX;
/// A slot being written by an insert.
const BUSY: u64 = u64::MAX - 1;

struct Slot {
    key: AtomicU64,
    tag: AtomicU32,
}

/// Span id → tag id, shared by the clones of one layer.
pub(crate) struct SpanTable {
    slots: Box<[Slot]>,
}

impl SpanTable {
    /// An empty table (call under heapy's guard: it allocates).
    pub(crate) fn new() -> SpanTable {
        SpanTable {
            slots: (0..SLOTS)
                .map(|_| Slot {
                    key: AtomicU64::new(EMPTY),
                    tag: AtomicU32::new(0),
                })
                .collect(),
        }
    }

    fn probe(id: u64) -> impl Iterator<Item = usize> {
        let h = (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize;
        (0..PROBES).map(move |i| (h + i) & (SLOTS - 1))
    }

    /// Records `tag` for span `id`; false when no slot was free along its probe.
    pub(crate) fn insert(&self, id: u64, tag: u32) -> bool {
        if id == EMPTY || id >= BUSY {
            return false;
        }
        for i in Self::probe(id) {
            let s = &self.slots[i];
            // Acquire: pairs with the Release that freed the slot (a tombstone).
            let k = s.key.load(Ordering::Acquire);
            if k != EMPTY && k != TOMBSTONE {
                continue;
            }
            // Acquire/Relaxed: winning the claim is all that matters here; the Release
            // below publishes what is written after it.
            if s.key
                .compare_exchange(k, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // Relaxed: published by the key's Release store just below.
            s.tag.store(tag, Ordering::Relaxed);
            // Release: a lookup that reads this key (Acquire) reads the tag written above.
            s.key.store(id, Ordering::Release);
            return true;
        }
        false
    }

    /// The tag of span `id`, if the table holds it.
    #[inline]
    pub(crate) fn get(&self, id: u64) -> Option<u32> {
        for i in Self::probe(id) {
            let s = &self.slots[i];
            // Acquire: pairs with `insert`'s Release, so the tag read next is the one
            // written for this id.
            match s.key.load(Ordering::Acquire) {
                k if k == id => return Some(s.tag.load(Ordering::Relaxed)),
                EMPTY => return None,
                _ => {}
            }
        }
        None
    }

    /// Changes the tag of span `id` if the table holds it (a field recorded later); false
    /// otherwise.
    pub(crate) fn set(&self, id: u64, tag: u32) -> bool {
        for i in Self::probe(id) {
            let s = &self.slots[i];
            // Acquire: as in `get`.
            match s.key.load(Ordering::Acquire) {
                k if k == id => {
                    // Relaxed: an enter racing with this record reads the old tag or the
                    // new one, either of which names this span.
                    s.tag.store(tag, Ordering::Relaxed);
                    return true;
                }
                EMPTY => return false,
                _ => {}
            }
        }
        false
    }

    /// Forgets span `id` (it is closing).
    pub(crate) fn remove(&self, id: u64) {
        for i in Self::probe(id) {
            let s = &self.slots[i];
            // Acquire: pairs with `insert`'s Release (the span may have been made on
            // another thread; its close comes after, through the registry's reference
            // count, but this keeps the key's store visible without leaning on that).
            match s.key.load(Ordering::Acquire) {
                k if k == id => {
                    // Release: the slot's reuse (Acquire in `insert`) comes after this.
                    s.key.store(TOMBSTONE, Ordering::Release);
                    return;
                }
                EMPTY => return,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_out_reused_and_past_a_full_probe() {
        let t = SpanTable::new();
        assert!(t.insert(7, 70));
        assert_eq!(t.get(7), Some(70));
        assert_eq!(t.get(8), None);
        assert!(t.set(7, 71));
        assert_eq!(t.get(7), Some(71));
        t.remove(7);
        assert_eq!(t.get(7), None);
        assert!(!t.set(7, 72));
        // The id comes back for another span.
        assert!(t.insert(7, 73));
        assert_eq!(t.get(7), Some(73));
        // Ids that share a probe start: PROBES fit, the next one does not, and all that
        // fit are still found after one before them is removed.
        let start = |id: u64| SpanTable::probe(id).next().unwrap();
        let same: Vec<u64> = (1000..)
            .filter(|&id| start(id) == start(1000))
            .take(PROBES + 1)
            .collect();
        let t = SpanTable::new();
        for (n, &id) in same.iter().enumerate().take(PROBES) {
            assert!(t.insert(id, n as u32 + 1));
        }
        assert!(!t.insert(same[PROBES], 99), "the probe is full");
        assert_eq!(t.get(same[PROBES]), None);
        t.remove(same[0]);
        for (n, &id) in same.iter().enumerate().take(PROBES).skip(1) {
            assert_eq!(t.get(id), Some(n as u32 + 1));
        }
        assert!(t.insert(same[PROBES], 99), "a tombstone is reused");
        assert_eq!(t.get(same[PROBES]), Some(99));
        assert!(!t.insert(0, 1) && !t.insert(u64::MAX, 1));
    }
}
