//! Thread churn: 70,000 threads spawned and joined one after another. An exited thread's
//! census slot is folded and reused, so the slots in use stay bounded by the threads alive
//! at once (not the threads ever started), while counts and bytes stay exact, and
//! everything keyed by a slot (marks, thread names in snapshots) still names the right
//! thread after the slot was reused.
//!
//! This file holds one test: it asserts process-wide figures, which other tests running in
//! the same process would disturb.

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new().stacks(heapy::Stacks::Off);

use std::hint::black_box;
use std::thread;

/// Spawns and joins `n` threads one after another; each allocates and frees a little,
/// which registers it with the census, and every other one hands a box back to this thread,
/// which frees it (a record freed by another thread than its maker).
fn churn(n: usize) {
    for i in 0..n {
        let b = thread::spawn(move || {
            drop(black_box(vec![1u8; 100]));
            (i % 2 == 0).then(|| Box::new(i as u64))
        })
        .join()
        .unwrap();
        drop(black_box(b));
    }
}

fn named<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn seventy_thousand_threads_reuse_their_slots_and_counts_stay_exact() {
    let hp = heapy::hpy();
    // Warm up: whatever std allocates lazily on the first spawns.
    churn(100);
    let s0 = hp.stats();

    // What 1,000 threads cost the counters; 70,000 must cost exactly 70 times as much.
    churn(1000);
    let s1 = hp.stats();
    churn(70_000);
    let s2 = hp.stats();
    assert_eq!(
        s2.allocations - s1.allocations,
        70 * (s1.allocations - s0.allocations)
    );
    assert_eq!(s2.frees - s1.frees, 70 * (s1.frees - s0.frees));
    assert_eq!(
        s2.bytes_allocated - s1.bytes_allocated,
        70 * (s1.bytes_allocated - s0.bytes_allocated)
    );
    assert_eq!(s2.threads - s1.threads, 70_000);
    // Nothing the threads made is alive: the live figures are back where they were.
    assert_eq!(
        (s1.live_objects, s1.live_bytes),
        (s0.live_objects, s0.live_bytes)
    );
    assert_eq!(
        (s2.live_objects, s2.live_bytes),
        (s0.live_objects, s0.live_bytes)
    );
    assert_eq!(s2.untracked, 0);
    // The structural fact: slots are reused. This process has at most a handful of threads
    // alive at once (the harness's, this test's, one churn thread); without reuse this
    // would be 71,100 or the index limit.
    assert!(s2.thread_slots <= 8, "{} slots in use", s2.thread_slots);
    // The census agrees with a full snapshot (nothing else runs in this process).
    let h = hp.heap();
    let s3 = hp.stats();
    assert_eq!(h.count() as u64, s3.live_objects, "{s3:?}");

    // A mark made on a thread that exits holds its slot: later threads do not take it, and
    // the mark still shows only its own thread's objects.
    let (mark, kept) = named("marker", || {
        let mark = heapy::hpy().mark();
        let kept = vec![9u8; 48];
        (mark, kept)
    });
    let later: Vec<Box<[u8; 24]>> = (0..50)
        .map(|_| named("later", || Box::new([1u8; 24])))
        .collect();
    churn(1000);
    let mh = mark.heap();
    assert_eq!((mh.count(), mh.size()), (1, 48));
    assert!(mh.objects().all(|o| o.thread() == "marker"));
    // Each "later" thread's box keeps its slot: 50 slots, each named for its thread.
    let h = hp.heap();
    let boxes: Vec<_> = h
        .objects()
        .filter(|o| later.iter().any(|b| b.as_ptr() as usize == o.address()))
        .collect();
    assert_eq!(boxes.len(), 50);
    assert!(boxes.iter().all(|o| o.thread() == "later"));
    let marked = h
        .objects()
        .find(|o| o.address() == kept.as_ptr() as usize)
        .unwrap();
    assert_eq!(marked.thread(), "marker");
    let busy = hp.stats().thread_slots;
    assert!((51..=60).contains(&busy), "{busy} slots");
    drop((mark, kept, later));

    // Once the mark and the boxes are gone, their slots are free again: a thread that
    // comes later takes one and its objects carry its own name, not an earlier thread's.
    let fresh = named("fresh", || vec![3u8; 40]);
    churn(1000);
    let h = hp.heap();
    let o = h
        .objects()
        .find(|o| o.address() == fresh.as_ptr() as usize)
        .unwrap();
    assert_eq!((o.size(), o.thread()), (40, "fresh"));
    assert!(!h
        .objects()
        .any(|o| o.thread() == "marker" || o.thread() == "later"));
    assert_eq!(hp.stats().thread_slots, busy, "no slot was added");
    let by = h.bythread().to_string();
    assert!(by.contains(" fresh\n"), "{by}");
    drop(fresh);
}
