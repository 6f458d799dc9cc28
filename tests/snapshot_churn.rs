//! Snapshots taken while other threads churn are sets: an address is live once. The registry
//! is read while threads free blocks and the allocator hands the same addresses out again,
//! so a copy can read a block's old record before the free and the new record after; the
//! snapshot keeps one of them. (Before that fix, this churn gave about 14 snapshots with a
//! duplicate address in 4 seconds.)
//!
//! This file holds one test: the churn would slow every other test in the process.

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new().stacks(heapy::Stacks::Off);

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[test]
fn snapshots_during_churn_hold_each_address_once() {
    let stop = AtomicBool::new(false);
    let (snapshots, objects) = std::thread::scope(|s| {
        for t in 0..3u64 {
            let stop = &stop;
            s.spawn(move || {
                // Blocks of two sizes freed and allocated at random in a ring. The allocator
                // hands a freed address out again at once, while the registry slot the new
                // record goes to is the last one freed, of either size: the address moves
                // to another record, which the copy may read after it read the old one.
                // (With one size the two are reused in step and the record stays put.)
                let mut ring: Vec<Option<Vec<u8>>> = (0..64).map(|_| None).collect();
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (t + 1);
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let k = (x % 64) as usize;
                    ring[k] = None;
                    let size = if x & (1 << 20) != 0 { 48 } else { 96 };
                    ring[k] = Some(black_box(vec![1u8; size]));
                }
            });
        }
        let start = Instant::now();
        let (mut snapshots, mut objects) = (0usize, 0usize);
        while start.elapsed() < Duration::from_secs(4) {
            let h = heapy::hpy().heap();
            let addrs: HashSet<usize> = h.objects().map(|o| o.address()).collect();
            if addrs.len() != h.count() {
                stop.store(true, Ordering::Relaxed);
                panic!(
                    "snapshot {snapshots}: {} records for {} addresses",
                    h.count(),
                    addrs.len()
                );
            }
            snapshots += 1;
            objects += h.count();
        }
        stop.store(true, Ordering::Relaxed);
        (snapshots, objects)
    });
    assert!(snapshots > 10 && objects > 0, "{snapshots} snapshots");
}
