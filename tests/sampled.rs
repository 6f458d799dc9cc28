//! Sampling by bytes: over a large run, the estimates of a sampled heap are within a
//! stated tolerance of the truth (fixed seed, so the run is the same every time).

use heapy::{Census, Stacks};

/// Mean gap between samples.
const RATE: u64 = 64 * 1024;

#[global_allocator]
static CENSUS: Census = Census::new().stacks(Stacks::Sampled { bytes: RATE });

#[derive(Clone)]
pub struct Block {
    _bytes: Vec<u8>,
}

#[test]
fn estimates_are_within_ten_percent_of_the_truth() {
    heapy::set_sample_seed(0x5eed);
    // A fresh thread takes its sampler seed from the fixed seed.
    let ((truth, buf_truth), counts, est_size, est_count, per_kind, text, recorded) =
        std::thread::spawn(|| {
            let mark = heapy::hpy().mark();
            let before = heapy::hpy().stats();
            // 40,000 buffers from 16 bytes to 8 KiB, and 20,000 boxed u64s: about 160 MB.
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let buffers: Vec<Vec<u8>> = (0..40_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    vec![0u8; 16 + (x % 8177) as usize]
                })
                .collect();
            let boxes: Vec<Box<u64>> = (0..20_000).map(Box::new).collect();
            let after = heapy::hpy().stats();
            let buf_truth: usize = buffers.iter().map(|b| b.len()).sum();
            let truth: usize = buf_truth
                + boxes.len() * 8
                + buffers.capacity() * std::mem::size_of::<Vec<u8>>()
                + boxes.capacity() * std::mem::size_of::<Box<u64>>();
            let h = mark.heap();
            let per_kind: Vec<(String, f64)> = ["Vec<u8>", "Box<u64>"]
                .iter()
                .map(|k| (k.to_string(), h.filter(|o| o.kind() == *k).estimated_size()))
                .collect();
            let out = (
                (truth, buf_truth),
                (after.allocations - before.allocations) as usize,
                h.estimated_size(),
                h.estimated_count(),
                per_kind,
                h.to_string(),
                h.count(),
            );
            drop((buffers, boxes));
            out
        })
        .join()
        .unwrap();
    // Stats count every allocation, sampled or not: 60,000 objects and the two Vecs.
    assert_eq!(counts, 60_002);
    // Far fewer objects were recorded than made.
    assert!(recorded < 10_000, "{recorded} recorded");
    let rel = |est: f64, truth: f64| (est - truth).abs() / truth;
    assert!(
        rel(est_size, truth as f64) < 0.10,
        "size {est_size} vs {truth}"
    );
    assert!(
        rel(est_count, 60_002.0) < 0.10,
        "count {est_count} vs 60002"
    );
    assert!(
        rel(per_kind[0].1, buf_truth as f64) < 0.15,
        "{per_kind:?} vs {buf_truth}"
    );
    assert!(text.contains("Figures are estimates from"), "{text}");
}
