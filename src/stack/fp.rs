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

/// What [`walk_against`] found: `n` frames, of which the outermost `shared` are, address
/// for address and return address for return address, the previous walk's outermost
/// `shared`: `out[n - 1 - i] == prev[i]` for `i < shared`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Walked {
    pub n: usize,
    pub shared: usize,
}

/// The frame-pointer walk of the calling thread (as [`walk`]) into `out` (each frame's
/// address and return address), innermost first, compared on the way with a previous walk
/// of the same thread (`prev`, the same pairs, *outermost* first): the outermost frames that
/// both walks share, each at the same address with the same return address, in an unbroken
/// run up to the last frame of both. The comparison rides along the chain of dependent loads
/// that the walk is, so it costs almost nothing more.
#[inline(never)]
pub(crate) fn walk_against(prev: &[[usize; 2]], out: &mut [[usize; 2]]) -> Walked {
    let (lo, hi) = bounds();
    let lo = if lo > sys::stack_pointer() {
        lo
    } else {
        sys::stack_pointer()
    };
    walk_against_from(sys::frame_pointer(), lo, hi, prev, out)
}

/// [`walk_against`] from frame pointer `fp`, trusting nothing outside `[lo, hi)`, which must
/// be readable memory (as for [`walk_from`]).
///
/// Written for a dev build too, where heapy may run at opt-level 0: plain indexing (checked
/// inline, no call), integer tests instead of helper methods, one asm read per frame.
#[inline(always)]
pub(crate) fn walk_against_from(
    mut fp: usize,
    lo: usize,
    hi: usize,
    prev: &[[usize; 2]],
    out: &mut [[usize; 2]],
) -> Walked {
    let none = Walked { n: 0, shared: 0 };
    // The highest frame address whose two words lie below `hi`.
    if hi < 2 * WORD {
        return none;
    }
    let top = hi - 2 * WORD;
    if fp < lo || fp > top || fp & (WORD - 1) != 0 {
        return none;
    }
    let len = out.len();
    let mut n = 0;
    // `prev[j - 1]`: the previous walk's innermost frame not yet passed (its frames are
    // outermost first, so their addresses fall as the index rises; this walk's rise).
    let mut j = prev.len();
    // The run of shared frames ending at the current frame: its length, and the previous
    // walk's index of its last frame.
    let (mut run, mut last) = (0, 0);
    while n < len {
        // SAFETY: `lo <= fp <= top` and aligned, so both words lie inside `[lo, hi)`, which
        // the caller promises readable.
        let (next, ret) = unsafe { sys::read_frame(fp) };
        if ret == 0 {
            break;
        }
        out[n] = [fp, ret];
        while j > 0 && prev[j - 1][0] < fp {
            j -= 1;
        }
        if j > 0 && prev[j - 1][0] == fp && prev[j - 1][1] == ret {
            if run > 0 && last == j {
                run += 1;
            } else {
                run = 1;
            }
            last = j - 1;
        } else {
            run = 0;
        }
        n += 1;
        // Frames grow towards lower addresses: a caller's frame is strictly above (so also
        // above `lo`).
        if next <= fp || next > top || next & (WORD - 1) != 0 {
            break;
        }
        fp = next;
    }
    // Shared only if the run reaches the previous walk's outermost frame.
    Walked {
        n,
        shared: if run > 0 && last == 0 { run } else { 0 },
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
    fn the_walk_against_a_previous_one_finds_the_shared_outer_frames() {
        // A fake stack of four frames at words 0, 4, 8, 12 (innermost first).
        let mut buf = [0usize; 20];
        let base = buf.as_ptr() as usize;
        let w = core::mem::size_of::<usize>();
        let fp = |k: usize| base + 4 * k * w;
        for k in 0..4 {
            buf[4 * k] = if k < 3 { fp(k + 1) } else { 0 };
            buf[4 * k + 1] = 0x1000 + k;
        }
        let (lo, hi) = (base, base + 20 * w);
        let mut out = [[0usize; 2]; 8];
        let frames: Vec<[usize; 2]> = (0..4).map(|k| [fp(k), 0x1000 + k]).collect();
        let outer_first = |f: &[[usize; 2]]| f.iter().rev().copied().collect::<Vec<_>>();
        // No previous walk.
        let got = walk_against_from(fp(0), lo, hi, &[], &mut out);
        assert_eq!(got, Walked { n: 4, shared: 0 });
        assert_eq!(out[..4], frames[..]);
        // The same walk: all four shared.
        let same = outer_first(&frames);
        assert_eq!(walk_against_from(fp(0), lo, hi, &same, &mut out).shared, 4);
        // A previous walk one frame deeper (another innermost frame below) or shallower.
        let mut deeper = same.clone();
        deeper.push([base - 4 * w, 0x999]);
        assert_eq!(
            walk_against_from(fp(0), lo, hi, &deeper, &mut out).shared,
            4
        );
        assert_eq!(
            walk_against_from(fp(1), lo, hi, &same, &mut out),
            Walked { n: 3, shared: 3 }
        );
        // An inner return address differs: the three outer frames are shared.
        let mut inner = same.clone();
        inner[3][1] = 0x777;
        assert_eq!(walk_against_from(fp(0), lo, hi, &inner, &mut out).shared, 3);
        // A middle frame differs: only the frames above it are shared.
        let mut middle = same.clone();
        middle[1][1] = 0x777;
        assert_eq!(
            walk_against_from(fp(0), lo, hi, &middle, &mut out).shared,
            1
        );
        // The outermost frame differs: nothing is shared, though the rest matches.
        let mut outer = same.clone();
        outer[0][1] = 0x777;
        assert_eq!(walk_against_from(fp(0), lo, hi, &outer, &mut out).shared, 0);
        // A previous walk with an extra frame in the middle (at an address this walk skips)
        // breaks the run: frames above it are shared, not those below.
        let mut gap = same.clone();
        gap.insert(2, [fp(1) + 2 * w, 0x555]);
        assert_eq!(walk_against_from(fp(0), lo, hi, &gap, &mut out).shared, 2);
        // A walk cut short by `out`'s length compares what it found.
        let mut short = [[0usize; 2]; 2];
        let got = walk_against_from(fp(0), lo, hi, &same, &mut short);
        assert_eq!(got, Walked { n: 2, shared: 0 });
        let two = outer_first(&frames[..2]);
        assert_eq!(walk_against_from(fp(0), lo, hi, &two, &mut short).shared, 2);
        core::hint::black_box(&mut buf);
    }

    #[test]
    fn the_walk_stays_within_bounds_and_depth() {
        let mut out = [MaybeUninit::<usize>::uninit(); 4];
        assert!(walk(&mut out) <= 4);
    }
}
