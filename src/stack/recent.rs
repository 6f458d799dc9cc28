//! Each thread's previous stack: what its last capture found, as nodes of the stack tree, so
//! that the next capture interns only the frames that changed.
//!
//! A thread's allocations mostly come from nearby code: a loop at the bottom of a deep
//! recursion allocates again and again below the same hundreds of outer frames. The frame
//! walk itself is a chain of loads that cannot be skipped (see below), but hashing and
//! looking up each of those frames in the tree can: the thread keeps its last walk (each
//! frame's address and return address, outermost first) and `nodes[k]`, the tree node of the
//! path from the outermost frame down to frame `k`. The new walk compares itself with it as
//! it goes (`fp::walk_against`): the outer frames found at the same addresses with the same
//! return addresses, in an unbroken run up to the outermost frame of both walks, take their
//! nodes from the previous walk; only the frames below them are interned. The previous walk
//! is kept outermost first, so that its shared frames never move when the depth changes.
//!
//! Why it cannot give a wrong stack: the comparison is made against the complete new walk,
//! return address by return address, so the path reused is exactly the new stack's outer
//! frames, and a node names the same path for ever (nodes are never removed or rewritten;
//! `nodes[k]` was obtained for exactly the frames `0..=k` of that walk, outermost first).
//! Frame addresses only add a condition (so that the comparison can run inside the walk);
//! they decide nothing by themselves. A memo entry is what the tree returned for exactly
//! that parent node and return address, and so stays the right child for ever. Whatever the
//! block held before (it may come from a thread that exited), the result is the node a full
//! intern would find, except that two threads racing on a brand-new path may get two nodes
//! for it (see `intern`), each naming the same frames.
//!
//! Why the walk is not cut short where the chain meets a frame seen last time: a frame
//! record at the same address with the same saved frame pointer and return address does not
//! prove that the frames above it are unchanged. `main` may call `a()` from one line, which
//! calls `b()`, return, and call `a()` again from another line: `b`'s frame record can be
//! identical, at the same address, while `a`'s return address differs. Only a complete walk
//! tells.
//!
//! Below the shared frames, a new frame's node comes from a small per-thread memo of recent
//! tree lookups when it is there (the same few hundred call paths recur), else from the tree.
//!
//! Blocks are mapped from the kernel (89 KiB of address space, of which a walk of depth `d`
//! touches about `36 * d` bytes, plus the 16 KiB memo), taken by a thread at its first stack
//! capture and given back to a lock-free free list when its census state is torn down, so
//! their number follows the threads alive, not the threads that ever ran.

use core::cell::Cell;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::intern::TREE;
use super::mode::Capture;
use crate::sys;

/// Frames captured per stack at most (innermost first; deeper stacks keep their innermost).
pub(crate) const MAX_FRAMES: usize = 2048;

/// One thread's previous walk and its scratch space. `prev` and `nodes` are outermost first,
/// `cur` innermost first (as the walk finds frames); a walk touches only the pages its depth
/// needs.
#[repr(C)]
struct Recent {
    /// The next block on the free list, while on it.
    next: AtomicUsize,
    /// Frames of the previous walk (`prev` and `nodes` below `len` are valid).
    len: usize,
    /// The context node handed out for the previous walk with tag `ctx_tag`, if `ctx` != 0.
    ctx: u32,
    ctx_tag: u32,
    /// (frame address, return address) of each frame of the previous walk, outermost first.
    prev: [[usize; 2]; MAX_FRAMES],
    /// Keeps `cur` and `prev` apart modulo 4 KiB: the walk stores into the one and loads
    /// from the other at once, and equal low address bits would make the processor wait for
    /// the store (4K aliasing; measured, when both were innermost first: the deep walk took
    /// 1.5x as long).
    _apart: [u8; 1088],
    /// The current walk.
    cur: [[usize; 2]; MAX_FRAMES],
    /// `nodes[k]`: the tree node of the path from the outermost frame down to `prev[k]`.
    nodes: [u32; MAX_FRAMES],
    /// Tree lookups this thread made lately: (parent, return address) -> child node, direct
    /// mapped by [`memo_slot`]. Nodes are never removed or rewritten, so an entry stays true
    /// for ever, whichever thread made it; an empty entry (return address 0) matches no frame
    /// (a walk stops at a zero return address).
    memo: [Memo; MEMO],
}

/// One remembered tree lookup.
#[derive(Clone, Copy)]
#[repr(C)]
struct Memo {
    ret: usize,
    parent: u32,
    node: u32,
}

/// Entries of a thread's lookup memo (16 KiB).
const MEMO: usize = 1024;

/// The memo entry for the child `ret` of `parent` (Fibonacci hashing of both).
#[inline(always)]
fn memo_slot(parent: u32, ret: usize) -> usize {
    let h = (ret as u64 ^ (u64::from(parent) << 20)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> (64 - MEMO.trailing_zeros())) as usize
}

const BYTES: usize = core::mem::size_of::<Recent>();

/// This thread's block: 0 none yet, `GONE` after the thread's census state was torn down.
const GONE: usize = 1;

thread_local! {
    /// `const` and without a destructor: the allocator reads it at any time.
    static MINE: Cell<usize> = const { Cell::new(0) };
}

/// The free list: `(aba counter << 48) | block address` (user-space addresses fit 48 bits;
/// a block that does not is never put on the list). 0: empty.
static FREE: AtomicU64 = AtomicU64::new(0);
const ADDR: u64 = (1 << 48) - 1;

/// The benchmark's switches: frames captured at most, and whether the previous walk is used.
/// Relaxed: settings read at each capture; a capture that sees an old value is still right.
static LIMIT: AtomicUsize = AtomicUsize::new(MAX_FRAMES);
static USE_RECENT: AtomicBool = AtomicBool::new(true);

/// Sets the capture depth (clamped to 1 ..= `MAX_FRAMES`) and whether captures reuse the
/// previous walk (for the overhead benchmark's side-by-side runs).
pub(crate) fn configure(frames: usize, reuse: bool) {
    LIMIT.store(frames.clamp(1, MAX_FRAMES), Ordering::Relaxed);
    USE_RECENT.store(reuse, Ordering::Relaxed);
}

#[cold]
fn take_block() -> Option<NonNull<Recent>> {
    // Acquire: pairs with the Release of `give_back`, so the block's `next` is seen.
    let mut head = FREE.load(Ordering::Acquire);
    while head & ADDR != 0 {
        let p = (head & ADDR) as *mut Recent;
        // SAFETY: blocks on the list are mappings that are never unmapped; `next` is atomic,
        // so reading it while another thread pops the same block is no data race (a stale
        // value fails the CAS through the counter).
        let next = unsafe { &(*p).next }.load(Ordering::Relaxed) as u64;
        let new = (head & !ADDR).wrapping_add(1 << 48) | next;
        // Acquire on success: the block's contents as its last owner left them.
        match FREE.compare_exchange_weak(head, new, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => return NonNull::new(p),
            Err(h) => head = h,
        }
    }
    let p = sys::map_zeroed(BYTES)?.cast::<Recent>();
    Some(p)
}

fn give_back(p: NonNull<Recent>) {
    let a = p.as_ptr() as u64;
    if a & !ADDR != 0 {
        return;
    }
    // Relaxed: ordered by the Release CAS below.
    let mut head = FREE.load(Ordering::Relaxed);
    loop {
        // SAFETY: the block is ours until the CAS below publishes it.
        unsafe { &(*p.as_ptr()).next }.store((head & ADDR) as usize, Ordering::Relaxed);
        let new = (head & !ADDR).wrapping_add(1 << 48) | a;
        // Release: publishes `next` and the block's contents to the next taker.
        match FREE.compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return,
            Err(h) => head = h,
        }
    }
}

/// Gives the calling thread's block back (its census state is being torn down); later
/// captures on the thread go without one.
pub(crate) fn thread_exit() {
    let _ = MINE.try_with(|m| {
        let p = m.replace(GONE);
        if p > GONE {
            if let Some(p) = NonNull::new(p as *mut Recent) {
                give_back(p);
            }
        }
    });
}

/// The calling thread's block, taken on first use; `None` during thread teardown or when
/// no memory could be mapped.
#[inline(always)]
fn mine() -> Option<NonNull<Recent>> {
    MINE.try_with(|m| match m.get() {
        0 => {
            let p = take_block()?;
            m.set(p.as_ptr() as usize);
            Some(p)
        }
        GONE => None,
        p => NonNull::new(p as *mut Recent),
    })
    .ok()
    .flatten()
}

/// The context node for an allocation made now with `tag` current, captured with `how`;
/// `None` when no frame was found, `Some(0)` when the tree had no room (counted). Call with
/// the reentrancy flag held.
#[inline(always)]
pub(crate) fn context(how: Capture, tag: u32) -> Option<u32> {
    let limit = LIMIT.load(Ordering::Relaxed);
    let Some(p) = mine() else {
        return fallback(how, tag, limit);
    };
    // SAFETY: the block is this thread's alone (taken from the free list or mapped for it,
    // given back only by `thread_exit`, after which `mine` returns `None`), and the
    // reentrancy flag held by the caller means no other capture runs on this thread now.
    let r = unsafe { &mut *p.as_ptr() };
    let reuse = USE_RECENT.load(Ordering::Relaxed);
    match how {
        Capture::Fp => r.intern_fp(limit, tag, reuse),
        _ => {
            // The unwinder gives no frame addresses to compare: intern afresh (into the
            // scratch space as plain words), and forget the previous walk.
            r.len = 0;
            r.ctx = 0;
            let words = r.cur.as_flattened_mut();
            let n = walk(how, as_uninit(&mut words[..limit]));
            (n != 0).then(|| TREE.intern(&words[..n], tag))
        }
    }
}

#[inline(always)]
fn walk(how: Capture, out: &mut [MaybeUninit<usize>]) -> usize {
    match how {
        Capture::Fp => super::fp::walk(out),
        Capture::Unwind => super::unwind::capture(out),
        Capture::Off => 0,
    }
}

/// An initialised slice as one the captures may write into.
#[inline(always)]
fn as_uninit(s: &mut [usize]) -> &mut [MaybeUninit<usize>] {
    // SAFETY: same layout; the captures only write initialised words, so the slice stays
    // initialised.
    unsafe { &mut *(s as *mut [usize] as *mut [MaybeUninit<usize>]) }
}

/// A capture without a block (thread teardown): a short stack, interned from scratch.
#[cold]
#[inline(never)]
fn fallback(how: Capture, tag: u32, limit: usize) -> Option<u32> {
    let mut buf = [0usize; 64];
    let limit = limit.min(buf.len());
    let n = walk(how, as_uninit(&mut buf[..limit]));
    (n != 0).then(|| TREE.intern(&buf[..n], tag))
}

impl Recent {
    /// The context node of a frame-pointer walk made now with `tag`, reusing the previous
    /// walk's nodes for the outer frames both share when `reuse`; `None` when the walk found
    /// no frame, `Some(0)` when the tree had no room (counted).
    ///
    /// The previous walk is kept outermost first, so the shared outer frames stay where they
    /// are whatever the new depth: only the new inner frames are written and interned. Plain
    /// loops and indexing, for a dev build that runs heapy at opt-level 0.
    #[inline(always)]
    fn intern_fp(&mut self, limit: usize, tag: u32, reuse: bool) -> Option<u32> {
        let m = if reuse { self.len } else { 0 };
        let w = super::fp::walk_against(&self.prev[..m], &mut self.cur[..limit]);
        let n = w.n;
        if n == 0 {
            return None;
        }
        let shared = w.shared;
        if shared == n && m == n && self.ctx != 0 && self.ctx_tag == tag {
            // The very same frames as last time, at the same addresses.
            return Some(self.ctx);
        }
        // Frames `shared..n` (outermost first) are new: the walk's `n - 1 - shared` down to 0.
        let mut node = if shared > 0 {
            self.nodes[shared - 1]
        } else {
            0
        };
        let mut i = shared;
        while i < n {
            let f = self.cur[n - 1 - i];
            self.prev[i] = f;
            let ret = f[1];
            let slot = memo_slot(node, ret);
            let e = self.memo[slot];
            if e.ret == ret && e.parent == node {
                node = e.node;
            } else {
                match TREE.child(node, ret, 0) {
                    Some(c) => {
                        self.memo[slot] = Memo {
                            ret,
                            parent: node,
                            node: c,
                        };
                        node = c;
                    }
                    None => {
                        self.len = 0;
                        self.ctx = 0;
                        TREE.drop_one();
                        return Some(0);
                    }
                }
            }
            self.nodes[i] = node;
            i += 1;
        }
        self.len = n;
        let ctx = TREE.finish(node, tag);
        self.ctx = ctx;
        self.ctx_tag = tag;
        Some(ctx)
    }
}
