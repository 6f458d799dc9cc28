//! A thread's census slot (the 16-bit index in each of its objects) is reused once the thread
//! has exited and none of its objects is alive. Exited threads whose objects live on keep
//! theirs: once 65,534 slots are held that way, later threads share the last index. Their
//! allocations must still be counted, and once the objects go, the slots come back.
//!
//! (Holding the slots with 65,534 threads alive at once is not possible here: the kernel's
//! pid_max is 32,768 on this project's machines. Threads that exit but leave an object
//! behind hold their slots the same way.)
//!
//! This file holds one test, because it uses up the process's thread slots.

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new().stacks(heapy::Stacks::Off);

use std::hint::black_box;

#[test]
fn threads_past_the_slot_limit_are_counted_and_slots_come_back() {
    // Each short-lived thread leaves a box behind, which keeps its slot taken. The last few
    // already share the last index.
    let kept: Vec<Box<u8>> = (0..(1 << 16) - 2)
        .map(|_| {
            std::thread::spawn(|| black_box(Box::new(1u8)))
                .join()
                .unwrap()
        })
        .collect();
    assert_eq!(heapy::hpy().stats().thread_slots, (1 << 16) - 2);
    let before = heapy::hpy().stats();
    let (label, mine) = std::thread::spawn(|| {
        let mark = heapy::hpy().mark();
        let mine: Vec<Box<[u8; 16]>> = (0..1000).map(|_| Box::new([7u8; 16])).collect();
        let h = mark.heap();
        assert_eq!((h.count(), h.size()), (1001, 1000 * 16 + 1000 * 8));
        let label = h.bythread().to_string();
        (label, mine)
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
    drop(mine);

    // The boxes go: their slots are free again, and a new thread has one of its own.
    drop(kept);
    let label = std::thread::Builder::new()
        .name("back".into())
        .spawn(|| {
            let mark = heapy::hpy().mark();
            let v = vec![0u8; 10];
            let label = mark.heap().bythread().to_string();
            drop(v);
            label
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(label.contains(" back\n"), "{label}");
    assert!(!label.contains("<later threads>"), "{label}");
    assert_eq!(heapy::hpy().stats().thread_slots, (1 << 16) - 2);
}
