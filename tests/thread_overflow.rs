//! After 65,534 threads have allocated, every later thread shares the last thread index.
//! Its allocations must still be counted. This file holds one test, because it uses up the
//! process's thread indices.

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

use std::hint::black_box;

#[test]
fn threads_past_the_index_limit_are_still_counted() {
    // Each short-lived thread allocates once, which registers it and uses up an index.
    for _ in 0..(1 << 16) {
        std::thread::spawn(|| drop(black_box(Box::new(1u8))))
            .join()
            .unwrap();
    }
    let before = heapy::hpy().stats();
    let (label, kept) = std::thread::spawn(|| {
        let mark = heapy::hpy().mark();
        let kept: Vec<Box<[u8; 16]>> = (0..1000).map(|_| Box::new([7u8; 16])).collect();
        let mine = mark.heap();
        assert_eq!((mine.count(), mine.size()), (1001, 1000 * 16 + 1000 * 8));
        let label = mine.bythread().to_string();
        (label, kept)
    })
    .join()
    .unwrap();
    assert!(label.contains("<later threads>"), "{label}");
    let after = heapy::hpy().stats();
    // The thread's 1000 boxes, the Vec's buffer and the label's buffer are live (the
    // thread's other memory was freed when it ended).
    assert_eq!(after.live_objects - before.live_objects, 1002);
    assert_eq!(
        after.live_bytes - before.live_bytes,
        (1000 * 16 + 1000 * 8 + label.capacity()) as u64
    );
    drop(kept);
}
