//! The heap at its peak, against a model of what the test allocated. The peak is
//! process-wide: this file has one test, so nothing else in its process allocates meanwhile.

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

use heapy::hpy;
use std::collections::HashMap;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

const KINDS: [&str; 4] = ["peak::A", "peak::B", "peak::C", "peak::D"];

#[test]
fn at_peak_matches_a_model_and_the_peak_figure() {
    // Room for every block, made before the model starts (the model's own memory).
    let mut live: Vec<(usize, Vec<u8>)> = Vec::with_capacity(10_000);
    let mut model_live: HashMap<usize, (usize, usize)> = HashMap::with_capacity(8);
    for k in 0..KINDS.len() {
        model_live.insert(k, (0, 0));
    }
    let mut model_peak = model_live.clone();
    let (mut cur, mut max) = (0usize, 0usize);
    hpy().reset_peak();
    let base = hpy().stats().live_bytes as usize;
    let mut rng = Lcg(42);
    for step in 0..20_000 {
        // Grows for a while, then shrinks, then grows less: the peak is in the middle.
        let grow = match step {
            0..=7_999 => !rng.next().is_multiple_of(4),
            8_000..=13_999 => rng.next().is_multiple_of(4),
            _ => rng.next().is_multiple_of(2),
        };
        if grow && live.len() < live.capacity() {
            let k = rng.next() as usize % KINDS.len();
            let size = 1 + rng.next() as usize % 3000;
            let v = heapy::with_kind(KINDS[k], || vec![0u8; size]);
            live.push((k, v));
            let e = model_live.get_mut(&k).unwrap();
            e.0 += 1;
            e.1 += size;
            cur += size;
            if cur > max {
                max = cur;
                model_peak.clone_from(&model_live);
            }
        } else if !live.is_empty() {
            let i = rng.next() as usize % live.len();
            let (k, v) = live.swap_remove(i);
            let e = model_live.get_mut(&k).unwrap();
            e.0 -= 1;
            e.1 -= v.len();
            cur -= v.len();
            drop(v);
        }
    }
    let p = hpy().at_peak();
    let stats = hpy().stats();
    for (k, name) in KINDS.iter().enumerate() {
        let got = p
            .rows()
            .find(|r| r.label() == *name)
            .map(|r| (r.count(), r.size()));
        assert_eq!(got, Some(model_peak[&k]), "{name}\n{p}");
    }
    // The harness's main thread may hold a few hundred bytes more at that moment (it runs
    // beside the test), so the process's peak is at least the model's.
    assert!(stats.peak_live_bytes as usize >= base + max);
    assert_eq!(p.size() as u64, stats.peak_live_bytes, "{}", p.all());
    assert!(p.to_string().starts_with("Heap at its peak: "));

    // A new peak starts from the heap now: what is live now is its composition.
    drop(live);
    hpy().reset_peak();
    let keep = heapy::with_kind("peak::After", || vec![0u8; 5000]);
    drop(heapy::with_kind("peak::Gone", || vec![0u8; 100]));
    let p = hpy().at_peak();
    assert_eq!(p.size() as u64, hpy().stats().peak_live_bytes, "{p}");
    assert!(p.rows().any(|r| r.label() == "peak::After"));
    assert!(!p.rows().any(|r| KINDS.contains(&r.label())), "{p}");
    drop(keep);

    // Read while the heap is at a new peak (risen, not yet fallen): the peak is now.
    hpy().reset_peak();
    let a = heapy::with_kind("peak::Now", || vec![0u8; 7000]);
    drop(heapy::with_kind("peak::Now", || vec![0u8; 10]));
    let b = heapy::with_kind("peak::Now", || vec![0u8; 9000]);
    let p = hpy().at_peak();
    let now = p.rows().find(|r| r.label() == "peak::Now").unwrap();
    assert_eq!((now.count(), now.size()), (2, 16_000), "{p}");
    assert_eq!(p.size() as u64, hpy().stats().peak_live_bytes);
    drop((a, b));

    // Blocks made on other threads and freed on this one (a producer and a consumer, one
    // at a time): the peak is counted across the threads.
    hpy().reset_peak();
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(4000);
    let (mut cur, mut max, mut at_max) = (0usize, 0usize, (0usize, 0usize));
    let mut rng = Lcg(9);
    for round in 0..6 {
        let n = 300 + rng.next() as usize % 400;
        let sizes: Vec<usize> = (0..n).map(|_| 1 + rng.next() as usize % 2000).collect();
        let made = std::thread::spawn(move || {
            sizes
                .iter()
                .map(|&s| heapy::with_kind("peak::Cross", || vec![round as u8; s]))
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        for v in made {
            cur += v.len();
            held.push(v);
            if cur > max {
                max = cur;
                at_max = (held.len(), cur);
            }
        }
        // Free about half on this thread.
        let keep = held.len() / 2;
        for v in held.drain(keep..) {
            cur -= v.len();
        }
    }
    let p = hpy().at_peak();
    let cross = p.rows().find(|r| r.label() == "peak::Cross").unwrap();
    assert_eq!((cross.count(), cross.size()), at_max, "{p}");
    assert_eq!(
        p.size() as u64,
        hpy().stats().peak_live_bytes,
        "{}",
        p.all()
    );
    drop(held);
}
