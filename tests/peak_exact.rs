//! The process-wide peak (`Stats::peak_live_bytes`) is exact while one thread allocates,
//! including a peak reached and left inside one 16 KiB batch of a thread's changes, and never
//! goes down without `reset_peak`. Process-wide figures: one test in a file of its own, so
//! no other test allocates meanwhile.

use heapy::hpy;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

#[test]
fn the_peak_of_a_batch_is_exact_and_never_goes_down() {
    let hp = hpy();
    // Small peaks, each well inside one 16 KiB batch: 10 blocks of 100 bytes and the vector
    // holding them (10 * 8 bytes), then freed.
    for round in 0..3 {
        hp.reset_peak();
        let base = hp.stats();
        assert_eq!(base.peak_live_bytes, base.live_bytes, "round {round}");
        let mut v: Vec<Box<[u8; 100]>> = Vec::with_capacity(10);
        for i in 0..10 {
            v.push(Box::new([i as u8; 100]));
        }
        let held = 10 * 8 + 10 * 100;
        drop(v);
        let after = hp.stats();
        assert_eq!(after.live_bytes, base.live_bytes, "round {round}");
        assert_eq!(
            after.peak_live_bytes,
            base.live_bytes + held,
            "round {round}: the top of the batch"
        );
        // Read again: the same figure, not lower.
        assert_eq!(hp.stats().peak_live_bytes, after.peak_live_bytes);
    }

    // A peak that crosses batch boundaries: 40 KiB in 1 KiB blocks, freed in turn, with a
    // stats() read between each step: the figure only rises, and ends at the top exactly.
    hp.reset_peak();
    let base = hp.stats();
    let mut v: Vec<Box<[u8; 1024]>> = Vec::with_capacity(40);
    let mut last = base.peak_live_bytes;
    for i in 0..40 {
        v.push(Box::new([i as u8; 1024]));
        let p = hp.stats().peak_live_bytes;
        assert!(p >= last, "the peak went down: {last} -> {p}");
        last = p;
    }
    let top = base.live_bytes + 40 * 8 + 40 * 1024;
    while let Some(b) = v.pop() {
        drop(b);
        let p = hp.stats().peak_live_bytes;
        assert_eq!(p, top, "after freeing down to {} blocks", v.len());
    }
    drop(v);
    assert_eq!(hp.stats().peak_live_bytes, top);
    assert_eq!(hp.stats().live_bytes, base.live_bytes);
}
