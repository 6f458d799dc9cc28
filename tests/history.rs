//! Allocation history: totals by kind and site, the heap at its peak, and counts over a
//! mark, checked exactly against what the test allocated. The peak is process-wide, so the
//! tests that read it run one after the other in one test function; the rest use kinds of
//! their own and marks, which stay exact while other tests run.

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

use heapy::hpy;

fn row(h: &heapy::History, label: &str) -> Option<(usize, usize)> {
    h.rows()
        .find(|r| r.label() == label)
        .map(|r| (r.count(), r.size()))
}

/// A small deterministic generator (no allocation).
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

#[test]
fn totals_by_kind_count_freed_blocks_too() {
    let before = row(&hpy().allocations(), "hist::Churn");
    assert_eq!(before, None);
    let mut kept = Vec::new();
    let (mut n, mut bytes) = (0, 0);
    for i in 0..1000usize {
        let v = heapy::with_kind("hist::Churn", || vec![0u8; 1 + i % 37]);
        n += 1;
        bytes += 1 + i % 37;
        if i % 10 == 0 {
            kept.push(v);
        }
    }
    let a = hpy().allocations();
    assert_eq!(row(&a, "hist::Churn"), Some((n, bytes)));
    // The site of those blocks is this file's line.
    let sites = a.row(a.rows().position(|r| r.label() == "hist::Churn").unwrap());
    assert_eq!((sites.count(), sites.size()), (n, bytes));
    let by_site = sites.bysite();
    let top = by_site.rows().next().unwrap();
    assert!(top.label().contains("tests/history.rs:"), "{by_site}");
    assert!(
        a.to_string().starts_with("Allocations since start: "),
        "{a}"
    );
    drop(kept);
}

#[test]
fn mark_allocations_are_exact_while_other_threads_allocate() {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let noise = std::thread::spawn(move || {
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            drop(heapy::with_kind("hist::Noise", || vec![0u8; 24]));
        }
    });
    let mark = hpy().mark();
    let mut rng = Lcg(7);
    let (mut n, mut bytes) = (0usize, 0usize);
    let mut held = Vec::new();
    for _ in 0..5000 {
        let size = 1 + rng.next() as usize % 200;
        let v = heapy::with_kind("hist::Mine", || vec![1u8; size]);
        n += 1;
        bytes += size;
        if rng.next().is_multiple_of(3) {
            held.push(v);
        }
        if held.len() > 50 {
            held.clear();
        }
    }
    let a = mark.allocations();
    assert_eq!(row(&a, "hist::Mine"), Some((n, bytes)), "{a}");
    assert_eq!(row(&a, "hist::Noise"), None);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    noise.join().unwrap();
    drop(held);
}

#[test]
fn allocation_assertions() {
    let data = [5u32, 1, 9];
    heapy::assert_no_alloc!(|| data.iter().copied().max());
    heapy::assert_allocations!(3, || {
        let a = vec![1u8; 10];
        let b = a.clone();
        drop((a, b));
    });
    let err = heapy::check_allocations(2, || {
        (0..3)
            .map(|i| heapy::with_kind("hist::Three", || vec![i as u8; 16]))
            .collect::<Vec<_>>()
    })
    .unwrap_err();
    match &err {
        heapy::Error::TooManyAllocations {
            blocks,
            bytes,
            limit,
            table,
        } => {
            // Three 16-byte Vecs, and the outer Vec's buffer (3 x 24 bytes, one block:
            // the iterator's size is known).
            assert_eq!((*blocks, *bytes, *limit), (4, 3 * 16 + 72, 2));
            assert!(table.contains("tests/history.rs:"), "{table}");
        }
        e => panic!("unexpected {e:?}"),
    }
    // Nested marks each count their own span.
    let outer = hpy().mark();
    drop(vec![0u8; 5]);
    let inner = hpy().mark();
    drop(vec![0u8; 7]);
    assert_eq!(
        (inner.allocations().count(), inner.allocations().size()),
        (1, 7)
    );
    assert_eq!(
        (outer.allocations().count(), outer.allocations().size()),
        (2, 12)
    );
}

#[test]
fn history_survives_a_snapshot_file_and_goes_into_the_exports() {
    for _ in 0..7 {
        drop(heapy::with_kind("hist::Filed", || vec![0u8; 33]));
    }
    let h = hpy().heap();
    let a = h.allocations().expect("a whole snapshot carries history");
    let filed = row(&a, "hist::Filed").unwrap();
    assert!(filed.0 >= 7 && filed.1 == filed.0 * 33, "{filed:?}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.json");
    h.dump(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("{\"format\":\"heapy-snapshot\",\"version\":2,"));
    let back = heapy::Heap::load(&path).unwrap();
    let a2 = back.allocations().unwrap();
    assert_eq!(row(&a2, "hist::Filed"), Some(filed));
    assert_eq!((a2.count(), a2.size()), (a.count(), a.size()));
    let p = back.at_peak().unwrap();
    assert_eq!(
        (p.count(), p.size()),
        (h.at_peak().unwrap().count(), h.at_peak().unwrap().size())
    );
    // A subset carries no history, and a file of it is a version-1 file.
    let sub = h.row(0);
    assert!(sub.allocations().is_none());
    sub.dump(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("{\"format\":\"heapy-snapshot\",\"version\":1,"));
    assert!(heapy::Heap::load(&path).unwrap().at_peak().is_none());
}

#[test]
fn dhat_json_has_true_totals() {
    for _ in 0..5 {
        drop(heapy::with_kind("hist::Dhat", || vec![0u8; 21]));
    }
    let kept = heapy::with_kind("hist::DhatKept", || vec![0u8; 50]);
    let h = hpy().heap();
    let json: serde_json::Value = serde_json::from_str(&h.dhat_json()).unwrap();
    assert_eq!(json["tu"], "allocations");
    let ftbl = json["ftbl"].as_array().unwrap();
    let point = |kind: &str| {
        json["pps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| ftbl[p["fs"][0].as_u64().unwrap() as usize] == kind)
            .unwrap()
            .clone()
    };
    let gone = point("hist::Dhat");
    assert_eq!(
        (gone["tb"].as_u64(), gone["tbk"].as_u64()),
        (Some(105), Some(5))
    );
    assert_eq!(
        (gone["eb"].as_u64(), gone["ebk"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(gone["mb"].as_u64(), Some(21), "{gone}");
    // Each was freed before the thread allocated anything else: a lifetime of 1 allocation.
    assert_eq!(gone["tl"].as_u64(), Some(5));
    let live = point("hist::DhatKept");
    assert_eq!(
        (live["tb"].as_u64(), live["eb"].as_u64()),
        (Some(50), Some(50))
    );

    drop(kept);
}
