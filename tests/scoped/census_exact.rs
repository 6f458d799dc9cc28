//! Exact counts and bytes for what a test allocates, through every allocator entry point.
//!
//! Every test looks only at `mark.heap()`, which holds what its own thread allocated after
//! the mark: the tests stay exact while cargo runs them in parallel threads.

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};
use std::hint::black_box;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

#[test]
fn tagged_allocations_are_counted_exactly() {
    let mark = heapy::hpy().mark();
    let people: Vec<Box<[u8; 40]>> =
        heapy::with_kind("Person", || (0..7).map(|_| Box::new([0u8; 40])).collect());
    let other = heapy::with_kind("Other", || vec![0u16; 33]);
    let h = mark.heap();
    let person = h.filter(|o| o.kind() == "Person");
    // 7 boxes of 40 bytes and the Vec's buffer of 7 pointers (the collect is exact here).
    assert_eq!(person.count(), 8);
    assert_eq!(person.size(), 7 * 40 + people.capacity() * 8);
    let o = h.filter(|o| o.kind() == "Other");
    assert_eq!((o.count(), o.size()), (1, 66));
    drop(people);
    let after = mark.heap();
    assert_eq!(after.filter(|o| o.kind() == "Person").count(), 0);
    assert_eq!((after.count(), after.size()), (1, 66), "{}", after.all());
    drop(other);
    assert!(mark.heap().is_empty());
}

#[test]
fn nested_kind_guards_innermost_wins() {
    let mark = heapy::hpy().mark();
    let outer = heapy::kind("Outer");
    // black_box: boxes that never escape may be elided by LLVM at opt-level 1.
    let a = black_box(Box::new(1u32));
    let b = heapy::with_kind("Inner", || black_box(Box::new(2u64)));
    let c = black_box(Box::new(3u16));
    drop(outer);
    let d = black_box(Box::new(4u8));
    let h = mark.heap();
    let kinds: Vec<(usize, &str)> = h.objects().map(|o| (o.size(), o.kind())).collect();
    assert_eq!(
        kinds,
        [(4, "Outer"), (8, "Inner"), (2, "Outer"), (1, "Box<u8>")]
    );
    drop((a, b, c, d));
}

#[test]
fn realloc_growth_and_shrink_move_the_record() {
    let _k = heapy::kind("Grow");
    let mark = heapy::hpy().mark();
    // SAFETY: each block is used with the layout it was made with, and freed once.
    unsafe {
        let l = layout(10, 8);
        // black_box: see alloc_zeroed_is_zeroed_and_counted.
        let p = std::hint::black_box(alloc(l));
        assert!(!p.is_null());
        p.write_bytes(7, 10);
        let h = mark.heap();
        assert_eq!((h.count(), h.size()), (1, 10));
        let serial0 = h.theone().unwrap().serial();

        let q = realloc(p, l, 5000);
        assert!(!q.is_null());
        assert_eq!(*q.add(9), 7, "contents survive growth");
        let h = mark.heap();
        let one = h.theone().unwrap();
        assert_eq!((one.size(), one.address()), (5000, q as usize));
        assert!(one.serial() > serial0, "a realloc is a new object");

        let r = realloc(q, layout(5000, 8), 3);
        assert!(!r.is_null());
        assert_eq!(*r.add(2), 7, "contents survive shrinking");
        let h = mark.heap();
        assert_eq!((h.count(), h.size()), (1, 3));
        assert_eq!(h.theone().unwrap().address(), r as usize);

        dealloc(r, layout(3, 8));
    }
    assert!(mark.heap().is_empty());
}

#[test]
fn alloc_zeroed_is_zeroed_and_counted() {
    let mark = heapy::hpy().mark();
    // SAFETY: the block is read within its size and freed once with its layout.
    unsafe {
        let l = layout(4096 * 3 + 5, 16);
        // black_box: the block must escape, or the optimizer may elide the allocation
        // altogether (it knows what the allocator shims do), and the census sees nothing.
        let p = std::hint::black_box(alloc_zeroed(l));
        assert!(!p.is_null());
        assert!(std::slice::from_raw_parts(p, l.size())
            .iter()
            .all(|&b| b == 0));
        let h = mark.heap();
        assert_eq!((h.count(), h.size()), (1, l.size()));
        dealloc(p, l);
    }
    assert!(mark.heap().is_empty());
}

#[test]
fn large_alignments_are_honoured() {
    let mark = heapy::hpy().mark();
    let mut blocks = Vec::new();
    let mut expected = 0;
    // SAFETY: blocks are written within their size and freed once with their layouts.
    unsafe {
        for (i, align) in [1usize, 2, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
            .into_iter()
            .enumerate()
        {
            let size = 3 + i * 17;
            let l = layout(size, align);
            let p = if i % 2 == 0 {
                alloc(l)
            } else {
                alloc_zeroed(l)
            };
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0, "alignment {align}");
            p.write_bytes(0xAB, size);
            expected += size;
            blocks.push((p, l));
        }
        let h = mark
            .heap()
            .filter(|o| blocks.iter().any(|(p, _)| *p as usize == o.address()));
        assert_eq!((h.count(), h.size()), (blocks.len(), expected));
        // Grow the 4096-aligned block: it keeps its alignment.
        let (p, l) = blocks.pop().unwrap();
        let q = realloc(p, l, 10_000);
        assert_eq!(q as usize % 4096, 0);
        dealloc(q, layout(10_000, 4096));
        for (p, l) in blocks.drain(..) {
            dealloc(p, l);
        }
    }
    drop(blocks);
    assert!(mark.heap().is_empty());
}

#[test]
fn frees_on_another_thread_remove_the_object() {
    let mark = heapy::hpy().mark();
    let data: Vec<Vec<u8>> = heapy::with_kind("Sent", || (1..=50).map(|n| vec![1u8; n]).collect());
    let outer = data.capacity() * 24;
    let h = mark.heap();
    assert_eq!(h.count(), 51);
    assert_eq!(h.size(), (1..=50).sum::<usize>() + outer);
    // Another thread frees half of the inner vectors.
    let kept = std::thread::spawn(move || {
        let mut data = data;
        data.retain(|v| v.len() % 2 == 0);
        data
    })
    .join()
    .unwrap();
    let h = mark.heap();
    // 25 even-length vectors and the outer buffer remain; the other thread's own
    // allocations (none here, as retain frees in place) never appear in this mark.
    assert_eq!(h.count(), 26);
    assert_eq!(
        h.size(),
        (1..=50).filter(|n| n % 2 == 0).sum::<usize>() + outer
    );
    drop(kept);
    assert!(mark.heap().is_empty());
}

#[test]
fn objects_carry_address_size_thread_and_order() {
    let mark = heapy::hpy().mark();
    let a = Box::new([1u8; 11]);
    let b = Box::new([2u8; 22]);
    let h = mark.heap();
    let objs: Vec<_> = h.objects().collect();
    assert_eq!(objs.len(), 2);
    assert_eq!(objs[0].address(), &*a as *const _ as usize);
    assert_eq!(objs[1].address(), &*b as *const _ as usize);
    assert_eq!((objs[0].size(), objs[1].size()), (11, 22));
    assert!(objs[0].serial() < objs[1].serial());
    let me = std::thread::current().name().unwrap_or("").to_string();
    // Test threads are named after the test (truncated to the OS limit of 15 bytes).
    assert!(
        me.starts_with(objs[0].thread()),
        "{me} vs {}",
        objs[0].thread()
    );
    drop((a, b));
}

#[test]
fn another_threads_allocations_are_not_in_this_mark() {
    let mark = heapy::hpy().mark();
    let theirs = std::thread::spawn(|| vec![0u8; 999]).join().unwrap();
    let mine = vec![0u8; 7];
    let h = mark.heap();
    assert_eq!((h.count(), h.size()), (1, 7));
    drop((theirs, mine));
}

#[test]
fn theone_and_rows() {
    let mark = heapy::hpy().mark();
    let big = heapy::with_kind("Big", || vec![0u8; 300]);
    let small: Vec<Box<u8>> = heapy::with_kind("Small", || (0..5).map(Box::new).collect());
    let h = mark.heap();
    let rows: Vec<(&str, usize, usize)> =
        h.rows().map(|r| (r.label(), r.count(), r.size())).collect();
    assert_eq!(rows, [("Big", 1, 300), ("Small", 6, 5 + 5 * 8)]);
    let r0 = h.row(0);
    assert_eq!((r0.count(), r0.size()), (1, 300));
    assert_eq!(r0.theone().unwrap().address(), big.as_ptr() as usize);
    let r1 = h.row(1);
    assert_eq!((r1.count(), r1.size()), (6, 5 + 5 * 8));
    assert!(matches!(
        r1.theone(),
        Err(heapy::Error::NotOne { count: 6 })
    ));
    assert!(matches!(
        h.try_row(2),
        Err(heapy::Error::NoSuchRow { index: 2, rows: 2 })
    ));
    let past = std::panic::catch_unwind(|| h.row(2)).unwrap_err();
    assert_eq!(
        past.downcast_ref::<String>().map(String::as_str),
        Some("row 2 does not exist: the partition has 2 rows")
    );
    drop((big, small));
}

#[test]
fn heapys_own_memory_is_never_in_the_census() {
    let mark = heapy::hpy().mark();
    let kept = heapy::with_kind("Mine", || vec![0u8; 21]);
    // Snapshots, views, subsets, tables and briefs, all kept alive while we look.
    let h = heapy::hpy().heap();
    let views = [
        h.bykind(),
        h.byid(),
        h.bysize(),
        h.bythread(),
        h.row(0),
        h.more(),
        h.all(),
    ];
    let filtered = h.filter(|o| o.size() == 21);
    let texts: Vec<String> = views.iter().map(|v| format!("{v}{v:?}")).collect();
    let inner = mark.heap();
    let now = mark.heap();
    // Only the test's own Vec and the `texts` strings the test itself built are its objects.
    let expected_texts: usize =
        texts.iter().map(|t| t.capacity()).sum::<usize>() + texts.capacity() * 24;
    let mine = now.filter(|o| o.kind() == "Mine");
    assert_eq!((mine.count(), mine.size()), (1, 21));
    assert_eq!(now.size(), 21 + expected_texts, "{}", now.all());
    assert_eq!(now.count(), 1 + texts.len() + 1);
    drop((kept, views, filtered, texts, inner, h));
    assert!(mark.heap().is_empty(), "{}", mark.heap());
}
