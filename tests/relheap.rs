//! `Hpy::setrelheap`: a process-wide reference point. It changes what every `heap()` in the
//! process shows, so it has a test file (a process) of its own, with one test.

use std::thread;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

fn has(h: &heapy::Heap, p: *const u8, size: usize) -> bool {
    h.objects()
        .any(|o| o.address() == p as usize && o.size() == size)
}

#[test]
fn setrelheap_shows_only_what_came_after() {
    let hp = heapy::hpy();
    let before = vec![1u8; 123];
    let other_before = thread::spawn(|| vec![2u8; 321]).join().unwrap();
    assert!(has(&hp.heap(), before.as_ptr(), 123));

    hp.setrelheap();
    let after = vec![3u8; 456];
    let other_after = thread::spawn(|| vec![4u8; 654]).join().unwrap();
    let h = hp.heap();
    assert!(has(&h, after.as_ptr(), 456));
    assert!(has(&h, other_after.as_ptr(), 654));
    assert!(!has(&h, before.as_ptr(), 123));
    assert!(!has(&h, other_before.as_ptr(), 321));

    // Nothing else of this thread's lives in the relative heap but what it made since.
    let mine = h.filter(|o| o.address() == after.as_ptr() as usize);
    assert_eq!((mine.count(), mine.size()), (1, 456));

    // Setting it again moves it.
    hp.setrelheap();
    let h = hp.heap();
    assert!(!has(&h, after.as_ptr(), 456));

    hp.clear_relheap();
    let h = hp.heap();
    for (p, n) in [
        (before.as_ptr(), 123),
        (other_before.as_ptr(), 321),
        (after.as_ptr(), 456),
        (other_after.as_ptr(), 654),
    ] {
        assert!(has(&h, p, n));
    }
    drop((before, other_before, after, other_after));
}
