//! Several threads allocate, free (their own blocks and each other's) and take snapshots at
//! once. Nothing deadlocks, every snapshot is well formed, and once the threads are done the
//! census is exact: per-kind counts and bytes, and `Stats` against a full snapshot.
//!
//! This file holds one test so that the process-wide figures are this test's alone.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

const THREADS: usize = 4;
const STEPS: usize = 20_000;

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn threads_allocate_free_and_snapshot_at_once() {
    // A watchdog: a deadlock fails the test instead of hanging CI.
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            for _ in 0..1200 {
                if done.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!("stress test still running after 120 s: deadlock?");
            std::process::abort();
        })
    };

    let stop = AtomicBool::new(false);
    // Each worker sends some blocks to the next worker, which frees them.
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..THREADS).map(|_| mpsc::channel::<Vec<u8>>()).unzip();
    let kept: Vec<(String, Vec<Vec<u8>>)> = std::thread::scope(|s| {
        let snapshots = s.spawn(|| {
            let mut taken = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let h = heapy::hpy().heap();
                // Well formed: no record appears twice, sizes are positive.
                let ids: HashSet<(usize, u64)> =
                    h.objects().map(|o| (o.address(), o.serial())).collect();
                assert_eq!(ids.len(), h.count());
                assert!(h.objects().all(|o| o.size() > 0));
                let _ = h.bysize().to_string();
                taken += 1;
            }
            taken
        });
        let workers: Vec<_> = receivers
            .into_iter()
            .enumerate()
            .map(|(i, rx)| {
                let tx = senders[(i + 1) % THREADS].clone();
                s.spawn(move || {
                    let tag = format!("stress-{i}");
                    let _k = heapy::kind(&tag);
                    let mut seed = 0x1234_5678_9abc_def0 ^ (i as u64 + 1);
                    let mut mine: Vec<Vec<u8>> = Vec::new();
                    for step in 0..STEPS {
                        let r = xorshift(&mut seed);
                        let size = 1 + (r % 300) as usize;
                        let mut v = vec![i as u8; size];
                        if r.is_multiple_of(7) {
                            v.reserve_exact(size); // a realloc now and then
                        }
                        match r % 5 {
                            0 => {
                                let _ = tx.send(v); // freed by the next worker
                            }
                            1 | 2 => mine.push(v),
                            _ => drop(v),
                        }
                        if step % 3 == 0 && !mine.is_empty() {
                            let k = (r as usize / 5) % mine.len();
                            mine.swap_remove(k);
                        }
                        while let Ok(theirs) = rx.try_recv() {
                            drop(theirs);
                        }
                    }
                    drop(tx);
                    // Drain what the previous worker still sends.
                    while let Ok(theirs) = rx.recv_timeout(Duration::from_millis(200)) {
                        drop(theirs);
                    }
                    mine.shrink_to_fit();
                    (tag, mine)
                })
            })
            .collect();
        drop(senders);
        let kept = workers.into_iter().map(|w| w.join().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        assert!(snapshots.join().unwrap() > 0);
        kept
    });

    // Exact per-kind figures: each worker's kept vectors (its tag) and the buffer of `mine`.
    let h = heapy::hpy().heap();
    for (tag, mine) in &kept {
        let k = h.filter(|o| o.kind() == tag);
        let expected: usize =
            mine.iter().map(|v| v.capacity()).sum::<usize>() + mine.capacity() * 24;
        let buffers = usize::from(mine.capacity() > 0);
        assert_eq!(k.count(), mine.len() + buffers, "{tag}");
        assert_eq!(k.size(), expected, "{tag}");
    }

    // Quiescent: the counters agree with a full snapshot exactly.
    let h = heapy::hpy().heap();
    let s = heapy::hpy().stats();
    assert_eq!(s.untracked, 0);
    assert_eq!(s.live_objects as usize, h.count());
    assert_eq!(s.live_bytes as usize, h.size());
    assert!(s.peak_live_bytes >= s.live_bytes);
    assert_eq!(s.allocations - s.frees, s.live_objects);
    assert_eq!(s.bytes_allocated - s.bytes_freed, s.live_bytes);
    drop(kept);
    done.store(true, Ordering::Relaxed);
    watchdog.join().unwrap();
}
