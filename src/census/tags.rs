//! Kinds by tag: `heapy::kind("Person")` names every allocation the thread makes while the
//! guard lives.
//!
//! Tag names are interned once into `&'static str` (heapy's own memory, never freed) and
//! referred to by a small id stored in each object's context. The current tag is one
//! `const` thread-local `Cell` without a destructor, so the allocator can read it at any
//! time, thread teardown included.

use core::cell::Cell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use super::guard;

/// Context ids at or above this are not tags (the stack layer owns them).
pub(crate) const TAG_LIMIT: u32 = 1 << 23;
/// The tag id given once `TAG_LIMIT - 2` distinct names exist.
pub(crate) const TOO_MANY: u32 = TAG_LIMIT - 1;

thread_local! {
    static CURRENT: Cell<u32> = const { Cell::new(0) };
}

/// Tag names both ways. Sharded maps, taken only outside the allocator path (when a tag is
/// named, and when a snapshot resolves names), always under the reentrancy flag (they
/// allocate, and a contended shard lock may allocate its parking table).
///
/// Unlike the stack layer's caches, this table is data (a name is known only here), so a
/// child of `fork()` must keep it whole, its shard locks free: every use of it (and its
/// construction) is a fork-safe section (`sys::fork`), so no thread holds a shard lock when
/// a `fork()` happens.
struct Table {
    /// Keys are the interned names themselves (leaked, so a lookup hands back the
    /// `&'static str` for the thread's cache of recent names).
    ids: DashMap<&'static str, u32>,
    names: DashMap<u32, &'static str>,
    /// The next id to hand out. Relaxed is enough: it only hands out distinct numbers (the
    /// name is published by the `names` map's lock before the id is returned).
    next: AtomicU32,
}

static TABLE: OnceLock<Table> = OnceLock::new();

fn with_table<R>(f: impl FnOnce(&Table) -> R) -> R {
    guard::internal(|| {
        crate::sys::fork::section(|| {
            f(TABLE.get_or_init(|| Table {
                ids: DashMap::new(),
                names: DashMap::new(),
                next: AtomicU32::new(1),
            }))
        })
    })
}

/// The id of tag `name`, interning it on first use.
pub(crate) fn intern(name: &str) -> u32 {
    intern_named(name).0
}

/// The id of tag `name` and its interned text (the text is `""` for `TOO_MANY`).
pub(crate) fn intern_named(name: &str) -> (u32, &'static str) {
    with_table(|t| {
        if let Some(hit) = t.ids.get(name) {
            return (*hit.value(), *hit.key());
        }
        if t.next.load(Ordering::Relaxed) >= TOO_MANY {
            return (TOO_MANY, "");
        }
        // Leaked before the entry is taken: if another thread wins the race the copy stays
        // unused (one name's bytes, once).
        let text: &'static str = Box::leak(name.into());
        match t.ids.entry(text) {
            Entry::Occupied(e) => (*e.get(), *e.key()),
            Entry::Vacant(e) => {
                let id = t.next.fetch_add(1, Ordering::Relaxed);
                if id >= TOO_MANY {
                    return (TOO_MANY, "");
                }
                t.names.insert(id, text);
                e.insert(id);
                (id, text)
            }
        }
    })
}

/// How many recently named kinds each thread remembers.
const RECENT: usize = 8;
/// An empty entry of the cache (no tag has this id).
const NO_ENTRY: (&str, u32) = ("", u32::MAX);

thread_local! {
    /// The thread's recently named kinds, `(interned name, id)`, direct-mapped by the
    /// address of the caller's `&str`: naming a kind the thread named a moment ago (a kind
    /// per request, per loop iteration, per poll) compares the text with the interned copy
    /// and takes no lock, no hash, no fork section. `const`, no destructor.
    static RECENT_KINDS: [Cell<(&'static str, u32)>; RECENT] =
        const { [const { Cell::new(NO_ENTRY) }; RECENT] };
}

/// `intern`, through the thread's cache of recent names. A hit is exact: the entry's text
/// is compared with `name` in full, so an address reused for another name only misses.
#[inline]
pub(crate) fn intern_cached(name: &str) -> u32 {
    let a = name.as_ptr() as usize;
    let i = (a ^ (a >> 4) ^ (a >> 9)) % RECENT;
    RECENT_KINDS
        .try_with(|recent| {
            let (text, id) = recent[i].get();
            if id != u32::MAX && text == name {
                return id;
            }
            let (id, text) = intern_named(name);
            if id != TOO_MANY {
                recent[i].set((text, id));
            }
            id
        })
        .unwrap_or_else(|_| intern(name))
}

/// The name of tag `id`.
pub(crate) fn name(id: u32) -> &'static str {
    match id {
        0 => "<none>",
        TOO_MANY => "<too many kinds>",
        _ => with_table(|t| t.names.get(&id).map_or("<unknown tag>", |n| *n)),
    }
}

/// The calling thread's current tag id (0 for none).
#[inline(always)]
pub(crate) fn current() -> u32 {
    CURRENT.try_with(Cell::get).unwrap_or(0)
}

/// While alive, gives every allocation made on this thread the kind it was made with.
///
/// Returned by [`kind`](crate::kind). Guards nest: the innermost wins, and dropping a guard
/// restores the kind that was current when it was made (so drop them in reverse order, as
/// scopes do). It cannot be sent to another thread.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let names = {
///     let _g = heapy::kind("Names");
///     vec![String::from("ada"), String::from("grace")]
/// };
/// let h = mark.heap().filter(|o| o.kind() == "Names");
/// assert_eq!(h.count(), 3); // the Vec's buffer and two Strings
/// drop(names);
/// ```
#[must_use = "the kind applies only while the guard lives"]
#[non_exhaustive]
pub struct KindGuard {
    prev: u32,
    _not_send: PhantomData<*const ()>,
}

impl Drop for KindGuard {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(self.prev));
    }
}

impl core::fmt::Debug for KindGuard {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KindGuard").finish_non_exhaustive()
    }
}

/// Gives every allocation made on this thread, while the returned guard lives, the kind
/// `name`. Tags win over kinds inferred from call sites.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let _g = heapy::kind("Person");
/// let b = Box::new([0u8; 40]);
/// let h = mark.heap();
/// assert_eq!(h.filter(|o| o.kind() == "Person").size(), 40);
/// # drop(b);
/// ```
#[doc(alias("tag", "label"))]
pub fn kind(name: &str) -> KindGuard {
    enter(intern_cached(name))
}

/// Makes tag `id` (an id from `intern`) the calling thread's kind until the guard drops:
/// one thread-local swap, no lock, no allocation.
#[inline]
pub(crate) fn enter(id: u32) -> KindGuard {
    KindGuard {
        prev: replace(id),
        _not_send: PhantomData,
    }
}

/// Sets the calling thread's tag to `id` and returns the one it replaces (0 once the
/// thread-local is gone).
#[inline]
pub(crate) fn replace(id: u32) -> u32 {
    CURRENT.try_with(|c| c.replace(id)).unwrap_or(0)
}

/// Runs `f` with the kind `name` applied to everything it allocates on this thread.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let v: Vec<u64> = heapy::with_kind("Scores", || Vec::with_capacity(10));
/// let h = mark.heap().filter(|o| o.kind() == "Scores");
/// assert_eq!((h.count(), h.size()), (1, 80));
/// # drop(v);
/// ```
#[doc(alias("tag", "label"))]
pub fn with_kind<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let _g = kind(name);
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_go_both_ways_from_any_thread() {
        let names: Vec<String> = (0..50).map(|i| format!("tags-test-{i}")).collect();
        let ids: Vec<Vec<u32>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| s.spawn(|| names.iter().map(|n| intern(n)).collect::<Vec<u32>>()))
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert!(ids.iter().all(|v| *v == ids[0]), "one id per name");
        let distinct: std::collections::HashSet<u32> = ids[0].iter().copied().collect();
        assert_eq!(distinct.len(), names.len());
        for (n, &id) in names.iter().zip(&ids[0]) {
            assert!(id > 0 && id < TOO_MANY);
            assert_eq!(name(id), n);
            assert_eq!(intern(n), id);
        }
        assert_eq!(name(0), "<none>");
        assert_eq!(name(TOO_MANY), "<too many kinds>");
        assert_eq!(name(TOO_MANY - 1), "<unknown tag>");
    }

    #[test]
    fn the_recent_names_cache_compares_the_text_not_the_address() {
        // The same buffer (same address, same length) holds one name, then another.
        let mut buf = String::from("tags-cache-alpha");
        let alpha = intern_cached(&buf);
        assert_eq!(alpha, intern("tags-cache-alpha"));
        assert_eq!(intern_cached(&buf), alpha, "a hit gives the same id");
        // SAFETY: the bytes written are ASCII, so the String stays UTF-8.
        unsafe { buf.as_bytes_mut()[11..].copy_from_slice(b"gamma") };
        assert_eq!(buf, "tags-cache-gamma");
        let gamma = intern_cached(&buf);
        assert_ne!(gamma, alpha);
        assert_eq!(gamma, intern("tags-cache-gamma"));
        assert_eq!(name(gamma), "tags-cache-gamma");
        // The empty name is a kind of its own, not the cache's empty entry or "no kind".
        let empty = intern_cached("");
        assert!(empty != 0 && empty != u32::MAX);
        assert_eq!((name(empty), intern("")), ("", empty));
        // More names than the cache holds (they share its entries) each keep their own id.
        let many: Vec<String> = (0..32).map(|i| format!("tags-cache-{i}")).collect();
        for _ in 0..3 {
            for n in &many {
                assert_eq!(intern_cached(n), intern(n), "{n}");
            }
        }
    }
}
