//! The stack interner: stacks as paths in a tree of (parent node, return address) nodes, so
//! that deep stacks share their common outer frames (as heaptrack and memray store traces).
//! Lock-free, without allocating, never waiting on another thread for long.
//!
//! A node names the path from the outermost captured frame (a child of the root) down to
//! its own return address. A stack with frames `f0` (innermost) .. `fn-1` (outermost) is the
//! node reached from the root by `fn-1`, then `fn-2`, ..., then `f0`; when a tag was current,
//! one more node below it holds the tag (a *tag node*), so a context id names one full stack
//! plus the tag. The node handed out as a context gets a context number, dense from 1 in
//! the order stacks are first seen (at most `CONTEXTS`); a context id is `base` + that number,
//! so tables indexed by context (the census's history) touch memory in proportion to the
//! stacks seen, not scattered over the node table.
//!
//! The nodes live in one open-addressed hash table (keyed by parent, return address and kind)
//! in pages mapped from the kernel, never through the global allocator. A node is claimed
//! with one compare-and-swap of its key word, its return address written, and the key
//! published with a release store. A thread that meets a node being written with the same
//! key bits waits a few hundred spins for it; if the writer still has not finished (it was
//! descheduled, or the process forked while it wrote), the reader makes a second node for
//! the same path. Ids stay unique per path except in that case, and every id always names
//! exactly the stack it was made for. Nodes are never removed or rewritten.
//!
//! Limits: `NODES` nodes; a new node is refused once 7/8 of them are used (or when `PROBES`
//! slots in a row are taken); `CONTEXTS` distinct stacks. A stack that finds no room gets
//! context number 0 (context id `base`, `<stack table full>`), counted in `dropped`.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::sys;

/// Nodes in the process's table.
pub(crate) const NODES: usize = 1 << 22;
/// Distinct stacks (with their tags) the process's table names at most: context ids
/// `base + 1 ..= base + CONTEXTS`.
pub(crate) const CONTEXTS: usize = 1 << 20;
/// Slots tried before a node is given up as "table full".
const PROBES: usize = 256;
/// Spins a reader waits for a node another thread is writing with the same key bits.
const SPINS: u32 = 512;

/// Key word: state in bits 63..62, bit 61 unused, tag node in bit 60,
/// 37 bits of the hash in 59..23, the parent's number (0: the root) in 22..0.
const WRITING: u64 = 1 << 62;
const READY: u64 = 2 << 62;
const STATE: u64 = 3 << 62;
pub(crate) const TAG: u64 = 1 << 60;
const HASH_BITS: u64 = ((1 << 37) - 1) << 23;
const PARENT: u64 = (1 << 23) - 1;
/// What identifies a node (with its return address).
const IDENT: u64 = TAG | HASH_BITS | PARENT;

/// A node: its key word, its return address (or, for a tag node, the tag), and its context
/// number once handed out as a context (0 before).
#[repr(C)]
struct Node {
    key: AtomicU64,
    ret: AtomicUsize,
    ctx: AtomicU32,
}

/// A table of nodes. The process has one ([`TREE`]); tests make small ones.
pub(crate) struct Tree {
    /// The nodes, mapped on first use. Acquire/Release: the mapping is published with the
    /// pointer, and it is never unmapped once published.
    nodes: AtomicPtr<Node>,
    /// Slots (a power of two, at most 2^23 - 1 usable numbers).
    cap: usize,
    /// The node of each context number (number `c` at index `c - 1`), mapped on first use.
    /// Acquire/Release as `nodes`.
    ctxs: AtomicPtr<AtomicU32>,
    /// Context numbers at most.
    ctx_cap: usize,
    /// The next context number. Relaxed: it only hands out distinct numbers.
    next_ctx: AtomicU32,
    /// Nodes in use. Relaxed: a counter and a soft limit.
    used: AtomicU64,
    /// Distinct stacks handed out as contexts. Relaxed: a counter.
    stacks: AtomicU64,
    /// Stacks that found no room. Relaxed: a counter.
    dropped: AtomicU64,
}

/// The process's stack tree.
pub(crate) static TREE: Tree = Tree::new(NODES, CONTEXTS);

/// The hash of a node's identity (fmix64 of MurmurHash3 over the mixed words).
#[inline(always)]
fn hash(parent: u32, ret: usize, kind: u64) -> u64 {
    let mut h = (ret as u64) ^ (u64::from(parent) << 40) ^ u64::from(parent) ^ kind;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Tree {
    /// An empty tree of `cap` slots (a power of two below 2^23) naming at most `ctx_cap`
    /// contexts, mapped on first use.
    pub(crate) const fn new(cap: usize, ctx_cap: usize) -> Tree {
        assert!(cap.is_power_of_two() && cap < (1 << 23) && ctx_cap < (1 << 31));
        Tree {
            nodes: AtomicPtr::new(core::ptr::null_mut()),
            cap,
            ctxs: AtomicPtr::new(core::ptr::null_mut()),
            ctx_cap,
            next_ctx: AtomicU32::new(1),
            used: AtomicU64::new(0),
            stacks: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    fn bytes(&self) -> usize {
        self.cap * core::mem::size_of::<Node>()
    }

    #[cold]
    fn map(&self) -> Option<NonNull<Node>> {
        let p = sys::map_zeroed(self.bytes())?.cast::<Node>();
        match self.nodes.compare_exchange(
            core::ptr::null_mut(),
            p.as_ptr(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Some(p),
            Err(theirs) => {
                // SAFETY: our mapping was never published; nothing else refers to it.
                unsafe { sys::unmap(p.cast(), self.bytes()) };
                NonNull::new(theirs)
            }
        }
    }

    fn ctx_bytes(&self) -> usize {
        self.ctx_cap * core::mem::size_of::<AtomicU32>()
    }

    #[cold]
    fn map_ctxs(&self) -> Option<NonNull<AtomicU32>> {
        let p = sys::map_zeroed(self.ctx_bytes())?.cast::<AtomicU32>();
        match self.ctxs.compare_exchange(
            core::ptr::null_mut(),
            p.as_ptr(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Some(p),
            Err(theirs) => {
                // SAFETY: our mapping was never published; nothing else refers to it.
                unsafe { sys::unmap(p.cast(), self.ctx_bytes()) };
                NonNull::new(theirs)
            }
        }
    }

    /// The slot of context number `c` (1 ..= ctx_cap), mapping the array if `map`.
    #[inline(always)]
    fn ctx_slot(&self, c: u32, map: bool) -> Option<&AtomicU32> {
        let i = (c as usize).checked_sub(1)?;
        if i >= self.ctx_cap {
            return None;
        }
        let p = match NonNull::new(self.ctxs.load(Ordering::Acquire)) {
            Some(p) => p,
            None if map => self.map_ctxs()?,
            None => return None,
        };
        // SAFETY: `i < ctx_cap` inside a mapping that is never unmapped; slots are atomics.
        Some(unsafe { &*p.as_ptr().add(i) })
    }

    #[inline(always)]
    fn table(&self) -> Option<NonNull<Node>> {
        match NonNull::new(self.nodes.load(Ordering::Acquire)) {
            Some(t) => Some(t),
            None => self.map(),
        }
    }

    /// The node at number `n` (1 ..= cap), if the table is mapped.
    #[inline(always)]
    fn node(&self, n: u32) -> Option<&Node> {
        let i = (n as usize).checked_sub(1)?;
        if i >= self.cap {
            return None;
        }
        let t = NonNull::new(self.nodes.load(Ordering::Acquire))?;
        // SAFETY: `i < cap` inside a mapping that is never unmapped; nodes are only
        // accessed through their atomics.
        Some(unsafe { &*t.as_ptr().add(i) })
    }

    /// The number of the node for `ret` below `parent` (0: the root; `kind` 0 for a frame,
    /// [`TAG`] for a tag node), made if new; `None` when the table has no room (not
    /// counted here: the caller counts the stack once).
    #[inline]
    pub(crate) fn child(&self, parent: u32, ret: usize, kind: u64) -> Option<u32> {
        let t = self.table()?;
        let h = hash(parent, ret, kind);
        let ident = kind | (h & HASH_BITS) | (u64::from(parent) & PARENT);
        let mask = self.cap - 1;
        let mut i = h as usize & mask;
        let mut spins = 0;
        let mut probes = 0;
        while probes < PROBES {
            // SAFETY: `i <= mask < cap`; the table holds `cap` nodes and is never unmapped;
            // nodes are only accessed through their atomics.
            let n = unsafe { &*t.as_ptr().add(i) };
            // Acquire: pairs with the Release that published the node's return address.
            let k = n.key.load(Ordering::Acquire);
            match k & STATE {
                READY => {
                    // Relaxed: the Acquire load of the key above ordered this read after the
                    // write it published, and a ready node is never written again.
                    if k & IDENT == ident && n.ret.load(Ordering::Relaxed) == ret {
                        return Some(i as u32 + 1);
                    }
                }
                WRITING => {
                    if k & IDENT == ident && spins < SPINS {
                        // Most likely our own node, being written: look again shortly.
                        spins += 1;
                        core::hint::spin_loop();
                        continue;
                    }
                }
                _ => {
                    if self.used.load(Ordering::Relaxed) >= (self.cap - self.cap / 8) as u64 {
                        return None;
                    }
                    // Claim the slot. Relaxed: the claim publishes nothing; the return
                    // address is published by the Release store below.
                    if n.key
                        .compare_exchange(0, WRITING | ident, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                    {
                        // Relaxed: published by the Release store of the key just below.
                        n.ret.store(ret, Ordering::Relaxed);
                        // Release: publishes the return address with the key.
                        n.key.store(READY | ident, Ordering::Release);
                        self.used.fetch_add(1, Ordering::Relaxed);
                        return Some(i as u32 + 1);
                    }
                    // Lost the race: look at the same slot again.
                    continue;
                }
            }
            i = (i + 1) & mask;
            probes += 1;
        }
        None
    }

    /// The context number of node `n`, given on first use (0 when none is left: the
    /// caller counts the stack as dropped).
    #[inline]
    fn context_number(&self, n: u32) -> u32 {
        let Some(node) = self.node(n) else {
            return 0;
        };
        // Acquire: pairs with the Release CAS below, so the number's slot is seen filled.
        let c = node.ctx.load(Ordering::Acquire);
        if c != 0 {
            return c;
        }
        // Relaxed: a soft limit, checked so that the counter cannot run on for ever.
        if self.next_ctx.load(Ordering::Relaxed) as usize > self.ctx_cap {
            return 0;
        }
        // Relaxed: only distinct numbers are needed; the slot is published below.
        let c = self.next_ctx.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.ctx_slot(c, true) else {
            return 0;
        };
        // Release: pairs with the Acquire load of `node_of` (the CAS below publishes it
        // too, to whoever reads the node's number).
        slot.store(n, Ordering::Release);
        // AcqRel: Release publishes the slot with the number; Acquire sees a rival's number
        // (and its slot) if another thread numbered the node first.
        match node
            .ctx
            .compare_exchange(0, c, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                self.stacks.fetch_add(1, Ordering::Relaxed);
                c
            }
            // Another thread numbered the node first: number `c` names the same stack but is
            // never handed out.
            Err(theirs) => theirs,
        }
    }

    /// Counts a stack that found no room.
    #[cold]
    pub(crate) fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// The context number of `frames` (innermost first) with `tag` (0: none): interned
    /// without any cache; 0 when the table has no room (counted). For stacks captured where the
    /// thread has no cache (thread teardown), and for tests.
    pub(crate) fn intern(&self, frames: &[usize], tag: u32) -> u32 {
        let mut n = 0;
        for &ret in frames.iter().rev() {
            match self.child(n, ret, 0) {
                Some(c) => n = c,
                None => {
                    self.drop_one();
                    return 0;
                }
            }
        }
        self.finish(n, tag)
    }

    /// The context number for a stack whose innermost node is `leaf` and with `tag`; 0 when
    /// there is no room (counted).
    #[inline]
    pub(crate) fn finish(&self, leaf: u32, tag: u32) -> u32 {
        let n = if tag == 0 {
            Some(leaf)
        } else {
            self.child(leaf, tag as usize, TAG)
        };
        match n.map(|n| self.context_number(n)) {
            Some(c) if c != 0 => c,
            _ => {
                self.drop_one();
                0
            }
        }
    }

    /// The node that context number `c` names, if handed out.
    fn node_of(&self, c: u32) -> Option<u32> {
        // Acquire: pairs with the Release store of `context_number`. Unset slots read 0.
        let n = self.ctx_slot(c, false)?.load(Ordering::Acquire);
        (n != 0).then_some(n)
    }

    /// The published node `n`: (key word, return address), read with Acquire.
    fn read(&self, n: u32) -> Option<(u64, usize)> {
        let node = self.node(n)?;
        // Acquire: pairs with the Release that published the return address.
        let k = node.key.load(Ordering::Acquire);
        if k & STATE != READY {
            return None;
        }
        // Relaxed: ordered by the Acquire above; a ready node is never written again.
        Some((k, node.ret.load(Ordering::Relaxed)))
    }

    /// The tag of context number `c` (0: none or unknown).
    pub(crate) fn tag(&self, c: u32) -> u32 {
        let Some(n) = self.node_of(c) else {
            return 0;
        };
        match self.read(n) {
            Some((k, ret)) if k & TAG != 0 => ret as u32,
            _ => 0,
        }
    }

    /// The frames (innermost first) and tag of context number `c`, if handed out.
    /// Allocates: call with the reentrancy flag held.
    pub(crate) fn frames(&self, c: u32) -> Option<(Vec<usize>, u32)> {
        let (mut k, mut ret) = self.read(self.node_of(c)?)?;
        let mut tag = 0;
        if k & TAG != 0 {
            tag = ret as u32;
            let parent = (k & PARENT) as u32;
            if parent == 0 {
                return Some((Vec::new(), tag));
            }
            (k, ret) = self.read(parent)?;
        }
        let mut out = Vec::new();
        // Parents exist before their children, so the chain ends at the root; the bound
        // only guards against a corrupted table.
        for _ in 0..=self.cap {
            out.push(ret);
            let parent = (k & PARENT) as u32;
            if parent == 0 {
                return Some((out, tag));
            }
            (k, ret) = self.read(parent)?;
        }
        None
    }

    /// Stacks that found no room, distinct stacks handed out, and nodes in use.
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        (
            self.dropped.load(Ordering::Relaxed),
            self.stacks.load(Ordering::Relaxed),
            self.used.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if let Some(p) = NonNull::new(*self.nodes.get_mut()) {
            // SAFETY: `&mut self`: nothing else reaches the mapping any more.
            unsafe { sys::unmap(p.cast(), self.bytes()) };
        }
        if let Some(p) = NonNull::new(*self.ctxs.get_mut()) {
            // SAFETY: as above.
            unsafe { sys::unmap(p.cast(), self.ctx_bytes()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_stack_same_node_and_frames_come_back() {
        let t = Tree::new(1 << 10, 64);
        let a = t.intern(&[1, 2, 3, 0xdead_0001], 0);
        let b = t.intern(&[1, 2, 3, 0xdead_0001], 0);
        let c = t.intern(&[1, 2, 3, 0xdead_0002], 0);
        let d = t.intern(&[1, 2, 3, 0xdead_0001], 7);
        let e = t.intern(&[9, 2, 3, 0xdead_0001], 0);
        assert_eq!(a, b);
        assert!(a != 0 && c != 0 && d != 0 && e != 0);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(a, e);
        assert_eq!(t.frames(a), Some((vec![1, 2, 3, 0xdead_0001], 0)));
        assert_eq!(t.frames(d), Some((vec![1, 2, 3, 0xdead_0001], 7)));
        assert_eq!(t.frames(e), Some((vec![9, 2, 3, 0xdead_0001], 0)));
        assert_eq!((t.tag(d), t.tag(a)), (7, 0));
        assert_eq!(t.frames(0), None);
        // Context numbers are dense, in the order stacks were first seen.
        assert_eq!((a, c, d, e), (1, 2, 3, 4));
        // Shared outer frames are shared nodes: 4 + 4 (the other outermost frame) + 1
        // (another innermost frame below the shared three) + 1 (the tag node).
        assert_eq!(t.counts(), (0, 4, 10));
    }

    #[test]
    fn a_full_table_refuses_new_nodes_and_counts_each_stack_once() {
        let t = Tree::new(1 << 6, 64);
        // 7/8 of 64 slots: 56 nodes. Stacks of 4 fresh frames each: 14 fit exactly.
        let mut ids = Vec::new();
        for s in 0..14usize {
            let f: Vec<usize> = (0..4).map(|i| 0x1000 + s * 16 + i).collect();
            let id = t.intern(&f, 0);
            assert_ne!(id, 0, "stack {s}");
            ids.push((id, f));
        }
        assert_eq!(t.counts(), (0, 14, 56));
        assert_eq!(t.intern(&[0x9999], 0), 0);
        assert_eq!(t.intern(&[0x9998, 0x9997], 3), 0);
        assert_eq!(t.counts(), (2, 14, 56));
        // What is in keeps its id and frames; a known stack with a new tag needs a node.
        for (id, f) in &ids {
            assert_eq!(t.intern(f, 0), *id);
            assert_eq!(t.frames(*id), Some((f.clone(), 0)));
        }
        assert_eq!(t.intern(&ids[0].1, 5), 0);
        assert_eq!(t.counts(), (3, 14, 56));
        // Context numbers run out too: two of them here.
        let t = Tree::new(1 << 10, 2);
        assert_eq!((t.intern(&[1], 0), t.intern(&[2], 0)), (1, 2));
        assert_eq!(t.intern(&[3], 0), 0);
        assert_eq!(t.intern(&[1], 0), 1);
        assert_eq!(t.counts(), (1, 2, 3));
    }

    #[test]
    fn threads_interning_the_same_new_stacks_agree() {
        let t = Tree::new(1 << 16, 1024);
        let stacks: Vec<Vec<usize>> = (0..64usize)
            .map(|s| {
                // 250 shared outer frames, 50 inner ones of the stack's own.
                (0..300)
                    .map(|i| {
                        if i < 50 {
                            0x20_0000 + s * 1000 + i
                        } else {
                            0x10_0000 + i
                        }
                    })
                    .collect()
            })
            .collect();
        let got: Vec<Vec<u32>> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..4)
                .map(|_| sc.spawn(|| stacks.iter().map(|f| t.intern(f, 0)).collect::<Vec<_>>()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for ids in &got {
            for (id, f) in ids.iter().zip(&stacks) {
                assert_ne!(*id, 0);
                assert_eq!(t.frames(*id), Some((f.clone(), 0)));
            }
        }
    }
}
