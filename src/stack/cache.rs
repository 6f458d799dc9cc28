//! The stack layer's snapshot-time caches: the frames at each return address, the
//! description of each stack context, and the kind each run of innermost addresses names.
//! All only grow (a return address and an interned stack never change meaning), are read
//! and filled by any thread that resolves a snapshot
//! (sharded maps: threads that resolve at once rarely wait for each other), and are never
//! touched by the allocator path.
//!
//! Their shard locks are only taken inside fork-safe sections (`sys::fork`), so a child of
//! `fork()` finds them free and the maps whole, and keeps what its parent resolved.
//!
//! One place starts them afresh: [`forget`]. It does not clear the maps in place, which
//! would take their locks: it installs new, empty maps and abandons the old ones without
//! touching them again (a thread may still be reading them).

use core::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use super::{Description, Frame};

/// The caches, as one unit so that [`forget`] replaces them together.
#[derive(Default)]
pub(crate) struct Caches {
    /// The frames at a return address, innermost (inlined) first.
    pub symbols: DashMap<usize, Arc<[Frame]>>,
    /// What a stack context names (before its tag is applied).
    pub descriptions: DashMap<u32, Arc<Description>>,
    /// The kind inferred from a stack's innermost return addresses (up to the one holding
    /// its first user frame), shared by every stack that begins with them.
    pub kinds: DashMap<Box<[usize]>, Arc<str>>,
}

/// The current caches; null until first used. A published `Caches` is never freed.
static CACHES: AtomicPtr<Caches> = AtomicPtr::new(core::ptr::null_mut());

/// The current caches (call with the reentrancy flag held: the first call allocates them).
pub(crate) fn caches() -> &'static Caches {
    // Acquire pairs with the Release of the CAS below and of `forget`: the maps are seen
    // whole.
    let p = CACHES.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: a published `Caches` is a leaked Box that is never freed.
        return unsafe { &*p };
    }
    let fresh = Box::into_raw(Box::default());
    // AcqRel: Release publishes our maps; Acquire sees a rival's if we lose.
    match CACHES.compare_exchange(
        core::ptr::null_mut(),
        fresh,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        // SAFETY: `fresh` is now published, and so never freed.
        Ok(_) => unsafe { &*fresh },
        Err(theirs) => {
            // SAFETY: `fresh` came from Box::into_raw above and nobody else has seen it.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: `theirs` is published, and so never freed.
            unsafe { &*theirs }
        }
    }
}

/// Forgets every cached symbol and description: later lookups start from new, empty maps.
/// The old maps are abandoned, never freed (a thread may still be reading them) and never
/// locked again, so this is safe in the child of a `fork()` whatever the parent's threads
/// were doing. Used by the symbolization benchmark's cold runs.
pub(crate) fn forget() {
    // Release: pairs with the Acquire load in `caches` (null: nothing to publish yet).
    CACHES.store(core::ptr::null_mut(), Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forget_starts_from_empty_maps_and_leaves_the_old_ones_alone() {
        let old = caches();
        old.symbols.insert(usize::MAX, Arc::from([]));
        // A lock held across `forget` (as a parent thread may hold one at a fork) does not
        // stop the new maps from working.
        let held = old.symbols.get_mut(&usize::MAX);
        forget();
        let new = caches();
        assert!(!core::ptr::eq(old, new));
        assert!(new.symbols.get(&usize::MAX).is_none());
        new.symbols.insert(usize::MAX, Arc::from([]));
        assert!(new.symbols.contains_key(&usize::MAX));
        drop(held);
    }
}
