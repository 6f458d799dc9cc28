//! Roots of the object graph: where a live program keeps pointers that are not inside heap
//! objects. Writable segments of loaded modules (statics), every registered thread's stack
//! and static thread-local blocks, and the calling thread's registers.
//!
//! heapy's own memory is never a root: its registry pages (which hold every object's
//! address) are cut out of any region that overlaps them, anonymous mappings are not
//! scanned, and the calling thread's stack is scanned only above the frame of the heapy call,
//! so the scan's own locals cannot make an object look reachable.

use crate::census::{registry, threads};
use crate::sys;

/// What a root region is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RootKind {
    /// A writable segment of a loaded module (empty name: the main program).
    Static { module: String },
    /// A thread's stack.
    Stack { thread: u16 },
    /// A thread's static thread-local block.
    Tls { thread: u16 },
    /// The calling thread's registers (the words are values, not addresses).
    Registers { thread: u16 },
}

/// One root region: the words in `start..end`, or `values` for registers.
#[derive(Clone, Debug)]
pub(crate) struct Region {
    pub kind: RootKind,
    pub start: usize,
    pub end: usize,
    pub values: Vec<usize>,
}

/// The calling thread's registers and stack pointer at a heapy entry point. Captured in the
/// public function itself (`Here::capture` is always inlined), so the frames below it, where
/// heapy works, are not scanned.
pub(crate) struct Here {
    pub sp: usize,
    pub regs: [usize; sys::REGS],
    pub tid: u32,
}

impl Here {
    /// Captures the caller's registers and stack pointer.
    #[inline(always)]
    pub(crate) fn capture() -> Here {
        let mut regs = [0usize; sys::REGS];
        sys::spill_registers(&mut regs);
        Here {
            sp: sys::stack_pointer(),
            regs,
            tid: sys::current_tid(),
        }
    }

    /// The frame-pointer register at capture (for naming stack frames).
    pub(crate) fn frame_pointer(&self) -> usize {
        self.regs[sys::FP_SLOT]
    }
}

/// One root region per loaded module's writable segment.
fn static_regions(segments: Vec<sys::Segment>) -> Vec<Region> {
    segments
        .into_iter()
        .map(|s| Region {
            kind: RootKind::Static { module: s.module },
            start: s.start,
            end: s.end,
            values: Vec::new(),
        })
        .collect()
}

/// All root regions now (call with the reentrancy flag held: allocates).
pub(crate) fn collect(here: &Here) -> Vec<Region> {
    let (segments, tls) = sys::loaded_segments();
    let mut out = static_regions(segments);
    for i in 1..threads::count() {
        let i = i as u16;
        let t = threads::info(i);
        if t.tid == 0 || t.released {
            // Never used, or free: nothing is left of the slot's last thread.
            continue;
        }
        let me = t.tid == here.tid;
        if !me && t.exited && !sys::thread_alive(t.tid) {
            // Gone: its stack may be unmapped and the addresses reused by anything.
            continue;
        }
        if let Some((lo, hi)) = t.stack {
            // The calling thread: only above the heapy call. Another thread busy in heapy's
            // own work (its own snapshot or scan): only above where that work began, since
            // heapy's frames hold the addresses of many objects that nothing refers to.
            let lo = if me && (lo..hi).contains(&here.sp) {
                here.sp
            } else if !me && (lo..hi).contains(&t.heapy_sp) {
                t.heapy_sp
            } else {
                lo
            };
            out.push(Region {
                kind: RootKind::Stack { thread: i },
                start: lo,
                end: hi,
                values: Vec::new(),
            });
        }
        let tp = if me { sys::thread_pointer() } else { t.tp };
        if tp != 0 {
            for b in &tls {
                let start = (tp as isize).wrapping_add(b.offset) as usize;
                out.push(Region {
                    kind: RootKind::Tls { thread: i },
                    start,
                    end: start.wrapping_add(b.size),
                    values: Vec::new(),
                });
            }
        }
        if me {
            out.push(Region {
                kind: RootKind::Registers { thread: i },
                start: 0,
                end: 0,
                values: here.regs.to_vec(),
            });
        }
    }
    without(out, &registry::chunk_ranges())
}

/// The root regions of a frozen copy of the process (call with the reentrancy flag held:
/// allocates): statics, and for every thread that was stopped, and the calling one, its
/// stack from where it was interrupted up, its static thread-locals and its registers.
/// `facts` are the census's facts of its threads as read while they were stopped.
pub(crate) fn collect_frozen(
    here: &Here,
    frozen: &sys::Frozen,
    facts: &[threads::StackFacts],
) -> Vec<Region> {
    let (segments, tls) = sys::loaded_segments();
    let mut out = static_regions(segments);
    let me = (here.tid, here.sp, sys::thread_pointer(), here.regs.to_vec());
    let others = frozen
        .threads
        .iter()
        .map(|t| (t.tid, t.sp, t.tp, t.regs.clone()));
    for (tid, sp, tp, regs) in std::iter::once(me).chain(others) {
        let mine = tid == here.tid;
        let f = facts.iter().find(|f| f.tid == tid);
        let thread = f.map_or(0, |f| f.index);
        // The calling thread's stack above the heapy call; another's from where it was
        // interrupted (with the red zone below it), or above heapy's own work on it.
        let from = if mine {
            sp
        } else {
            sp.saturating_sub(sys::RED_ZONE)
        };
        let heapy_sp = if mine { 0 } else { f.map_or(0, |f| f.heapy_sp) };
        let mut stack = |lo: usize, hi: usize| {
            let lo = if lo < heapy_sp && heapy_sp < hi {
                heapy_sp
            } else {
                lo
            };
            out.push(Region {
                kind: RootKind::Stack { thread },
                start: lo,
                end: hi,
                values: Vec::new(),
            });
        };
        match f.map(|f| f.stack) {
            Some((lo, hi)) if lo < hi && (lo..hi).contains(&sp) => stack(from.max(lo), hi),
            known => {
                // On another stack (a signal's alternate stack), or a thread the census does
                // not know: from where it was interrupted to the end of that mapping; and
                // the whole of its own stack, if known.
                if let Some((_, end)) = frozen.mapping_of(sp) {
                    stack(from, end);
                }
                if let Some((lo, hi)) = known.filter(|(lo, hi)| lo < hi) {
                    stack(lo, hi);
                }
            }
        }
        if tp != 0 {
            for b in &tls {
                let start = (tp as isize).wrapping_add(b.offset) as usize;
                out.push(Region {
                    kind: RootKind::Tls { thread },
                    start,
                    end: start.wrapping_add(b.size),
                    values: Vec::new(),
                });
            }
        }
        out.push(Region {
            kind: RootKind::Registers { thread },
            start: 0,
            end: 0,
            values: regs,
        });
    }
    without(out, &registry::chunk_ranges())
}

/// `regions` with the ranges `holes` cut out.
fn without(regions: Vec<Region>, holes: &[(usize, usize)]) -> Vec<Region> {
    let mut out = Vec::with_capacity(regions.len());
    for r in regions {
        if !r.values.is_empty() || r.end <= r.start {
            if !r.values.is_empty() {
                out.push(r);
            }
            continue;
        }
        let mut pieces = vec![(r.start, r.end)];
        for &(h0, h1) in holes {
            pieces = pieces
                .into_iter()
                .flat_map(|(a, b)| {
                    if h1 <= a || b <= h0 {
                        vec![(a, b)]
                    } else {
                        [(a, h0.max(a)), (h1.min(b), b)]
                            .into_iter()
                            .filter(|(x, y)| x < y)
                            .collect()
                    }
                })
                .collect();
        }
        for (a, b) in pieces {
            out.push(Region {
                kind: r.kind.clone(),
                start: a,
                end: b,
                values: Vec::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(a: usize, b: usize) -> Region {
        Region {
            kind: RootKind::Stack { thread: 1 },
            start: a,
            end: b,
            values: Vec::new(),
        }
    }

    #[test]
    fn holes_are_cut_out() {
        let r = without(vec![region(100, 200)], &[(120, 130), (190, 300), (0, 50)]);
        let got: Vec<(usize, usize)> = r.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(got, [(100, 120), (130, 190)]);
        assert!(without(vec![region(100, 200)], &[(0, 1000)]).is_empty());
    }
}
