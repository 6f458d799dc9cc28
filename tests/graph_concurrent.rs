//! Scanning while other threads allocate, mutate and free: no crash, and none of their
//! (always reachable) objects is ever reported as a leak. Its own binary: heapu is a
//! whole-process fact.

#[global_allocator]
static C: heapy::Census = heapy::Census::new();

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn churn(
    seed: u64,
    stop: &AtomicBool,
    shared: &Mutex<HashMap<u64, Vec<u8>>>,
    rounds: &AtomicUsize,
) {
    let _g = heapy::kind("Churn");
    let mut x = seed;
    let mut boxes: Vec<Box<[u64; 4]>> = Vec::new();
    let mut strings: Vec<String> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..1000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 7 {
                0 | 1 => boxes.push(Box::new([x; 4])),
                2 if !boxes.is_empty() => {
                    let i = (x as usize) % boxes.len();
                    drop(boxes.swap_remove(i));
                }
                3 => strings.push(format!("{x:x}")),
                4 if !strings.is_empty() => {
                    let i = (x as usize) % strings.len();
                    strings[i].push_str("more text that reallocates");
                }
                5 => {
                    let mut m = shared.lock().unwrap();
                    m.insert(x % 5000, vec![x as u8; (x % 200) as usize]);
                }
                _ => {
                    if boxes.len() > 5_000 {
                        boxes.truncate(500);
                        boxes.shrink_to_fit();
                        strings.clear();
                        strings.shrink_to_fit();
                    }
                }
            }
        }
        rounds.fetch_add(1, Ordering::Relaxed);
    }
    black_box((&boxes, &strings));
}

#[test]
fn scans_while_threads_mutate_and_free() {
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new(Mutex::new(HashMap::new()));
    let workers: Vec<_> = (0..2u64)
        .map(|t| {
            let (stop, shared, rounds) = (stop.clone(), shared.clone(), rounds.clone());
            std::thread::spawn(move || churn(0x1234_5678 + t * 7919, &stop, &shared, &rounds))
        })
        .collect();
    while rounds.load(Ordering::Relaxed) < 10 {
        std::thread::yield_now();
    }
    for i in 0..4 {
        let u = heapy::hpy().heapu();
        let churn = u.filter(|o| o.kind() == "Churn");
        assert!(
            churn.is_empty(),
            "round {i}: live objects reported as leaks:\n{churn}"
        );
        // The other views scan the same moving heap: they must not crash or misbehave.
        let h = heapy::hpy().heap().filter(|o| o.kind() == "Churn");
        let rcs = h.byrcs();
        assert_eq!(rcs.count(), h.count());
        assert!(rcs.to_string().contains("Referrers by Kind"));
        let _ = h.referrers().count();
        let _ = h.referents().count();
        if i % 2 == 0 {
            let _ = h.retained().count();
            let _ = h.dominos().count();
            let _ = h.sp().rows().len();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(rounds.load(Ordering::Relaxed) >= 10);
}
