//! Stacks of realistic depth: captured in full (up to 2,048 frames), interned as paths that
//! share their outer frames, and reused from the thread's previous walk only where every
//! frame matches. Its own test binary: the tests read the census's stacks of this process.

use std::hint::black_box;
use std::sync::Barrier;

use heapy::{Census, Stacks};

#[global_allocator]
static CENSUS: Census = Census::new().stacks(Stacks::FramePointers);

/// Recurses `n` levels, then allocates a 24-byte box at the bottom.
#[inline(never)]
fn dive(n: usize) -> Box<[u64; 3]> {
    let b = if n == 0 {
        leaf()
    } else {
        dive(black_box(n - 1))
    };
    // Not a tail call: this frame stays on the stack during the allocation.
    black_box(&b);
    b
}

#[inline(never)]
fn leaf() -> Box<[u64; 3]> {
    Box::new(black_box([1, 2, 3]))
}

fn functions(t: &heapy::Traceback) -> Vec<String> {
    t.frames()
        .iter()
        .map(|f| f.function().to_string())
        .collect()
}

#[test]
fn a_1500_deep_recursion_reaches_the_test_function() {
    let mark = heapy::hpy().mark();
    let b = dive(1500);
    let h = mark.heap();
    assert_eq!((h.count(), h.size()), (1, 24));
    let t = h.traceback();
    let f = functions(&t);
    assert!(f[0].ends_with("deep_stacks::leaf"), "{f:?}");
    // dive(1500) down to dive(0): 1,501 frames, all in the stack, then the test function.
    assert_eq!(
        f.iter()
            .filter(|s| s.ends_with("deep_stacks::dive"))
            .count(),
        1501
    );
    let top = f
        .iter()
        .position(|s| s.contains("a_1500_deep_recursion_reaches_the_test_function"))
        .unwrap_or_else(|| panic!("the test function is not in the stack: {:?}", &f[1490..]));
    assert!(top > 1501);
    // The folded stack runs from the test function (its outer frames are std's test
    // harness, also kept) down to the box.
    let folded = h.folded();
    let line = folded.lines().next().unwrap_or_default();
    assert_eq!(folded.lines().count(), 1, "{folded}");
    assert!(line.ends_with(" 24"), "{line}");
    let names: Vec<&str> = line.rsplit_once(' ').unwrap().0.split(';').collect();
    let at = names
        .iter()
        .position(|s| s.contains("a_1500_deep_recursion_reaches_the_test_function"))
        .expect("the folded stack reaches the test function");
    assert_eq!(
        names[at + 1..]
            .iter()
            .filter(|s| s.ends_with("deep_stacks::dive"))
            .count(),
        1501
    );
    drop(b);
}

/// Recurses `depth` levels; the first `bits` levels go through `left` or `right` as the
/// bits of `path` say, so each path is a distinct stack; allocates at the bottom.
#[inline(never)]
fn left(depth: usize, bits: usize, path: usize) -> Box<[u64; 4]> {
    let b = step(depth, bits, path);
    black_box(&b);
    b
}

#[inline(never)]
fn right(depth: usize, bits: usize, path: usize) -> Box<[u64; 4]> {
    let b = step(depth, bits, path);
    black_box(&b);
    b
}

#[inline(never)]
fn step(depth: usize, bits: usize, path: usize) -> Box<[u64; 4]> {
    if depth == 0 {
        return Box::new(black_box([path as u64; 4]));
    }
    let b = if bits > 0 && path >> (bits - 1) & 1 == 1 {
        right(depth - 1, bits - 1, path)
    } else if bits > 0 {
        left(depth - 1, bits - 1, path)
    } else {
        step(depth - 1, 0, path)
    };
    black_box(&b);
    b
}

#[test]
fn many_distinct_deep_stacks_are_told_apart() {
    const BITS: usize = 9;
    const DEPTH: usize = 300;
    let mark = heapy::hpy().mark();
    // Every path twice: the second time the thread's previous walk is of another path.
    let boxes: Vec<Box<[u64; 4]>> = (0..2 << BITS)
        .map(|i| step(DEPTH, BITS, i % (1 << BITS)))
        .collect();
    let h = mark.heap();
    let folded = h.folded();
    // One line per path, each holding that path's two boxes (64 bytes), plus the vector.
    let lines: Vec<&str> = folded
        .lines()
        .filter(|l| l.contains("deep_stacks::step;"))
        .collect();
    assert_eq!(lines.len(), 1 << BITS, "{folded}");
    for l in &lines {
        assert!(l.ends_with(" 64"), "{l}");
        assert!(
            l.contains("many_distinct_deep_stacks_are_told_apart"),
            "{l}"
        );
        // DEPTH levels below the first `step`: BITS of them through left/right.
        let below = l.rsplit_once(' ').unwrap().0.split(';');
        let (lr, steps) = below.fold((0, 0), |(lr, st), s| {
            if s.ends_with("deep_stacks::left") || s.ends_with("deep_stacks::right") {
                (lr + 1, st)
            } else if s.ends_with("deep_stacks::step") {
                (lr, st + 1)
            } else {
                (lr, st)
            }
        });
        assert_eq!((lr, steps), (BITS, DEPTH + 1), "{l}");
    }
    drop(boxes);
}

#[inline(never)]
fn caller_line_a() -> (Box<[u64; 3]>, u32) {
    (dive(black_box(40)), line!())
}

#[inline(never)]
fn caller_line_b() -> (Box<[u64; 3]>, u32) {
    (dive(black_box(40)), line!())
}

/// The same 40 inner frames (same addresses, same return addresses) reached from two
/// different callers in turn: the previous walk is reused for none of the outer frames
/// that changed.
#[test]
fn the_previous_walk_is_reused_only_where_every_frame_matches() {
    for _ in 0..3 {
        let a = heapy::hpy().mark();
        let (ba, la) = caller_line_a();
        let ha = a.heap();
        let m = heapy::hpy().mark();
        let (bb, lb) = caller_line_b();
        let hb = m.heap();
        let (fa, fb) = (ha.traceback(), hb.traceback());
        let pos = |t: &heapy::Traceback, name: &str| {
            t.frames()
                .iter()
                .find(|f| f.function().ends_with(name))
                .map(|f| f.line())
        };
        assert!(pos(&fa, "caller_line_a").is_some(), "{fa}");
        assert!(pos(&fb, "caller_line_b").is_some(), "{fb}");
        assert_eq!(pos(&fa, "caller_line_b"), None, "{fa}");
        assert_eq!(pos(&fb, "caller_line_a"), None, "{fb}");
        if let (Some(Some(x)), Some(Some(y))) =
            (pos(&fa, "caller_line_a"), pos(&fb, "caller_line_b"))
        {
            assert_eq!((x, y), (la, lb));
        }
        drop((ba, bb));
    }
}

/// Recurses `n` levels on a spawned thread, meeting the others at the bottom, then
/// allocates: every thread interns the same new deep stack at the same moment.
#[inline(never)]
fn dive_then_meet(n: usize, barrier: &Barrier) -> Box<[u64; 5]> {
    if n == 0 {
        barrier.wait();
        return Box::new(black_box([9; 5]));
    }
    let b = dive_then_meet(black_box(n - 1), barrier);
    black_box(&b);
    b
}

#[test]
fn threads_interning_the_same_new_deep_stack_at_once_all_get_it() {
    const THREADS: usize = 4;
    const DEPTH: usize = 700;
    let barrier = Barrier::new(THREADS);
    let mark = heapy::hpy().mark();
    let boxes: Vec<Box<[u64; 5]>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    let _in = mark.enter();
                    dive_then_meet(DEPTH, &barrier)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let h = mark.heap();
    let folded = h.folded();
    let lines: Vec<&str> = folded
        .lines()
        .filter(|l| l.contains("dive_then_meet"))
        .collect();
    // The same functions all the way: one folded line with every box.
    assert_eq!(lines.len(), 1, "{folded}");
    assert!(
        lines[0].ends_with(&format!(" {}", THREADS * 40)),
        "{}",
        lines[0]
    );
    let deep = lines[0]
        .split(';')
        .filter(|s| s.ends_with("deep_stacks::dive_then_meet"))
        .count();
    assert_eq!(deep, DEPTH + 1);
    assert!(
        lines[0].contains("threads_interning_the_same_new_deep_stack_at_once_all_get_it"),
        "{}",
        lines[0]
    );
    drop(boxes);
}

#[test]
fn the_table_counts_stacks_and_nodes() {
    let before = heapy::hpy().stats();
    let b = dive(black_box(900));
    let after = heapy::hpy().stats();
    // At least the new innermost frames became nodes; nothing was dropped.
    assert!(after.stack_nodes > before.stack_nodes);
    assert!(after.stacks > before.stacks);
    assert_eq!(after.stacks_dropped, 0);
    drop(b);
}

/// Allocations one after another at changing depths: each stack has exactly its own frames
/// (the shared outer frames move in the thread's previous walk when the depth changes).
#[test]
fn depth_changes_keep_each_stack_exact() {
    for d in [50, 10, 50, 51, 49, 50, 0, 300, 299, 301] {
        let mark = heapy::hpy().mark();
        let b = dive(black_box(d));
        let f = functions(&mark.heap().traceback());
        assert_eq!(
            f.iter()
                .filter(|s| s.ends_with("deep_stacks::dive"))
                .count(),
            d + 1,
            "depth {d}"
        );
        assert!(f
            .iter()
            .any(|s| s.contains("depth_changes_keep_each_stack_exact")));
        drop(b);
    }
}
