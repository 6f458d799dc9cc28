//! The frame-pointer walk: return addresses from the chain of saved frame pointers.
//!
//! With frame pointers, each frame begins with the caller's saved frame pointer, followed by
//! the return address (x86_64 and aarch64 alike). Without them the register holds anything,
//! so the walk never trusts the chain: every frame must lie inside the calling thread's
//! stack, above the current stack pointer, be aligned, and be strictly above the previous
//! one. A bad link ends the walk; it can never read outside the stack or loop.

use core::cell::Cell;
use core::mem::MaybeUninit;

use crate::sys;

thread_local! {
    /// This thread's stack as (lowest, highest) address; (0, 0) until first read, (1, 1)
    /// when unknown. `const` and without a destructor: the allocator reads it at any time.
    static BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// The calling thread's stack bounds, read once per thread.
#[inline(always)]
fn bounds() -> (usize, usize) {
    BOUNDS
        .try_with(|b| {
            let v = b.get();
            if v.0 != 0 {
                return v;
            }
            let v = sys::current_stack_bounds().unwrap_or((1, 1));
            b.set(v);
            v
        })
        .unwrap_or((1, 1))
}

/// Fills `out` with the return addresses of the calling thread's stack, innermost first
/// (the first is the return into `walk`'s caller); returns how many.
#[inline(never)]
pub(crate) fn walk(out: &mut [MaybeUninit<usize>]) -> usize {
    let (lo, hi) = bounds();
    let sp = sys::stack_pointer();
    walk_from(sys::frame_pointer(), lo.max(sp), hi, out)
}

/// What [`walk_against`] found: `n` frames, of which `n - shared` .. `n` (the outermost
/// `shared`) are, address for address and return address for return address, the previous
/// walk's frames `prev_at` .. `prev_at + shared`, which were that walk's outermost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Walked {
    pub n: usize,
    pub shared: usize,
    pub prev_at: usize,
}

/// The frame-pointer walk of the calling thread (as [`walk`]) into `out` (each frame's
/// address and return address), innermost first, compared on the way with a previous walk
/// of the same thread (`prev`, the same pairs, innermost first): the outermost
/// frames that both walks share, each at the same address with the same return address, in
/// an unbroken run up to the last frame of both. The comparison rides along the chain of
/// dependent loads that the walk is, so it costs almost nothing more.
#[inline(never)]
pub(crate) fn walk_against(prev: &[[usize; 2]], out: &mut [[usize; 2]]) -> Walked {
    let (lo, hi) = bounds();
    let lo = lo.max(sys::stack_pointer());
    let mut fp = sys::frame_pointer();
    let none = Walked {
        n: 0,
        shared: 0,
        prev_at: 0,
    };
    let Some(top) = hi.checked_sub(2 * WORD) else {
        return none;
    };
    if fp < lo || fp > top || !fp.is_multiple_of(WORD) {
        return none;
    }
    let (m, len) = (prev.len(), out.len());
    let (mut n, mut j) = (0, 0);
    // The current run of shared frames: where it began here and in the previous walk, and
    // the previous walk's index of its last frame.
    let (mut run, mut run_j, mut last_j) = (usize::MAX, 0, usize::MAX);
    while n < len {
        // SAFETY: `lo <= fp <= top` and aligned, so both words lie inside `[lo, hi)`: this
        // thread's stack from the current stack pointer up. Volatile: the compiler may
        // assume nothing about stack memory that other frames own.
        let (next, ret) = unsafe {
            (
                core::ptr::read_volatile(fp as *const usize),
                core::ptr::read_volatile((fp + WORD) as *const usize),
            )
        };
        if ret == 0 {
            break;
        }
        out[n] = [fp, ret];
        // The previous walk's first frame at or above this one (both walks rise).
        while j < m && prev[j][0] < fp {
            j += 1;
        }
        if j < m && prev[j] == [fp, ret] {
            if run == usize::MAX || last_j.wrapping_add(1) != j {
                (run, run_j) = (n, j);
            }
            last_j = j;
        } else {
            run = usize::MAX;
        }
        n += 1;
        // Frames grow towards lower addresses: a caller's frame is strictly above (so also
        // above `lo`).
        if next <= fp || next > top || !next.is_multiple_of(WORD) {
            break;
        }
        fp = next;
    }
    if run != usize::MAX && last_j.wrapping_add(1) == m {
        Walked {
            n,
            shared: n - run,
            prev_at: run_j,
        }
    } else {
        Walked {
            n,
            shared: 0,
            prev_at: m,
        }
    }
}

/// The walk from frame pointer `fp` into `out`, trusting nothing outside `[lo, hi)`.
///
/// Every word read lies in `[lo, hi)`, which must be readable memory (for a live thread: its
/// stack from the current stack pointer up). The same rules as [`walk_frames`] (which the
/// other walkers use), in a loop of its own: this one runs on every allocation, and a frame
/// strictly above an aligned frame inside the bounds needs only its upper bound checked.
#[inline(always)]
pub(crate) fn walk_from(
    mut fp: usize,
    lo: usize,
    hi: usize,
    out: &mut [MaybeUninit<usize>],
) -> usize {
    // The highest frame address whose two words lie below `hi`.
    let Some(top) = hi.checked_sub(2 * WORD) else {
        return 0;
    };
    if fp < lo || fp > top || !fp.is_multiple_of(WORD) {
        return 0;
    }
    let mut n = 0;
    while n < out.len() {
        // SAFETY: `lo <= fp <= top` and aligned, so both words lie inside `[lo, hi)`, which
        // the caller promises readable. Volatile: the compiler may assume nothing about
        // stack memory that other frames own.
        let (next, ret) = unsafe {
            (
                core::ptr::read_volatile(fp as *const usize),
                core::ptr::read_volatile((fp + WORD) as *const usize),
            )
        };
        if ret == 0 {
            break;
        }
        out[n].write(ret);
        n += 1;
        // Frames grow towards lower addresses: a caller's frame is strictly above (so also
        // above `lo`).
        if next <= fp || next > top || !next.is_multiple_of(WORD) {
            break;
        }
        fp = next;
    }
    n
}

const WORD: usize = core::mem::size_of::<usize>();

/// The frame-pointer walk itself, the one every caller uses: from frame pointer `fp`, gives
/// `visit` each frame's (frame pointer, return address), innermost first, for as long as it
/// returns true and the chain looks like a stack.
///
/// `read(fp)` returns a frame's two words (the caller's saved frame pointer, then the
/// return address), or `None` if they cannot be read. It is asked only for an aligned `fp`
/// whose two words lie inside `[lo, hi)`. The walk ends at a frame outside those bounds or
/// misaligned, at a zero return address, and where the next frame is not strictly above
/// this one, so it can neither leave the bounds nor loop.
#[inline(always)]
pub(crate) fn walk_frames(
    mut fp: usize,
    lo: usize,
    hi: usize,
    read: impl Fn(usize) -> Option<[usize; 2]>,
    mut visit: impl FnMut(usize, usize) -> bool,
) {
    loop {
        if fp < lo
            || !fp.is_multiple_of(WORD)
            || fp.checked_add(2 * WORD).is_none_or(|end| end > hi)
        {
            return;
        }
        let Some([next, ret]) = read(fp) else {
            return;
        };
        if ret == 0 || !visit(fp, ret) {
            return;
        }
        // Frames grow towards lower addresses: a caller's frame is strictly above.
        if next <= fp {
            return;
        }
        fp = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crafted_chain_is_followed_and_garbage_stops_it() {
        // A fake stack: frames at words 0, 4, 8 pointing upwards, then a link back down.
        let mut buf = [0usize; 16];
        let base = buf.as_ptr() as usize;
        let w = core::mem::size_of::<usize>();
        buf[0] = base + 4 * w;
        buf[1] = 0x1111;
        buf[4] = base + 8 * w;
        buf[5] = 0x2222;
        buf[8] = base; // a loop back to the start
        buf[9] = 0x3333;
        let (lo, hi) = (base, base + 16 * w);
        let mut out = [MaybeUninit::<usize>::uninit(); 32];
        let got = |out: &[MaybeUninit<usize>], n: usize| -> Vec<usize> {
            out[..n]
                .iter()
                // SAFETY: `walk_from` initialised the first `n` words.
                .map(|w| unsafe { w.assume_init() })
                .collect()
        };
        let n = walk_from(base, lo, hi, &mut out);
        assert_eq!(got(&out, n), [0x1111, 0x2222, 0x3333]);
        // Garbage: misaligned, below, above, at the very top, null.
        for fp in [base + 1, base - 64, hi, hi - w, 0, usize::MAX - 3] {
            assert_eq!(walk_from(fp, lo, hi, &mut out), 0, "fp {fp:#x}");
        }
        // A link that points outside the bounds ends the walk after that frame.
        buf[4] = usize::MAX - 7;
        let n = walk_from(base, lo, hi, &mut out);
        assert_eq!(got(&out, n), [0x1111, 0x2222]);
        // A self-link (not strictly increasing) ends it too.
        buf[0] = base;
        assert_eq!(walk_from(base, lo, hi, &mut out), 1);
        // A zero return address ends it.
        buf[1] = 0;
        assert_eq!(walk_from(base, lo, hi, &mut out), 0);
        core::hint::black_box(&mut buf);
    }

    #[test]
    fn the_walk_stays_within_bounds_and_depth() {
        let mut out = [MaybeUninit::<usize>::uninit(); 4];
        assert!(walk(&mut out) <= 4);
    }
}
