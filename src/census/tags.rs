//! Kinds by tag: `heapy::kind("Person")` names every allocation the thread makes while the
//! guard lives.
//!
//! Tag names are interned once into `&'static str` (heapy's own memory, never freed) and
//! referred to by a small id stored in each object's context. The current tag is one
//! `const` thread-local `Cell` without a destructor, so the allocator can read it at any
//! time, thread teardown included.

use core::cell::Cell;
use core::marker::PhantomData;
// A std Mutex (futex-based) never allocates, and it is only taken outside the allocator
// path: when a tag is first named and when a snapshot resolves names.
use std::collections::HashMap;
use std::sync::Mutex;

use super::guard;

/// Context ids at or above this are not tags (the stack layer owns them).
pub(crate) const TAG_LIMIT: u32 = 1 << 23;
/// The tag id given once `TAG_LIMIT - 2` distinct names exist.
const TOO_MANY: u32 = TAG_LIMIT - 1;

thread_local! {
    static CURRENT: Cell<u32> = const { Cell::new(0) };
}

struct Table {
    ids: HashMap<&'static str, u32>,
    names: Vec<&'static str>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

fn with_table<R>(f: impl FnOnce(&mut Table) -> R) -> R {
    guard::internal(|| {
        let mut t = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        let t = t.get_or_insert_with(|| Table {
            ids: HashMap::new(),
            names: vec!["<none>"],
        });
        f(t)
    })
}

/// The id of tag `name`, interning it on first use.
pub(crate) fn intern(name: &str) -> u32 {
    with_table(|t| {
        if let Some(&id) = t.ids.get(name) {
            return id;
        }
        let id = t.names.len() as u32;
        if id >= TOO_MANY {
            return TOO_MANY;
        }
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        t.names.push(name);
        t.ids.insert(name, id);
        id
    })
}

/// The name of tag `id`.
pub(crate) fn name(id: u32) -> &'static str {
    if id == TOO_MANY {
        return "<too many kinds>";
    }
    with_table(|t| t.names.get(id as usize).copied().unwrap_or("<unknown tag>"))
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
    let id = intern(name);
    let prev = CURRENT.try_with(|c| c.replace(id)).unwrap_or(0);
    KindGuard {
        prev,
        _not_send: PhantomData,
    }
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
