//! Thread-scoped marks: exact while other threads churn, peaks, nesting, and the rule for
//! threads spawned inside a marked scope (not in the mark unless they enter it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

/// Threads that allocate, keep some and free the rest until told to stop.
struct Churn {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

fn churn(n: usize) -> Churn {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = (0..n)
        .map(|t| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut kept: Vec<Vec<u8>> = Vec::with_capacity(64);
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let v = vec![t as u8; 1 + i % 300];
                    if i.is_multiple_of(3) {
                        if kept.len() == 64 {
                            kept.clear();
                        }
                        kept.push(v);
                    }
                    i += 1;
                }
            })
        })
        .collect();
    Churn { stop, threads }
}

impl Drop for Churn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
    }
}

#[test]
fn marks_are_exact_while_other_threads_churn() {
    let _churn = churn(2);
    for round in 1..=20usize {
        let mark = heapy::hpy().mark();
        let mut kept: Vec<Box<[u8]>> = Vec::with_capacity(round);
        for i in 0..round {
            kept.push(vec![1u8; 10 * (i + 1)].into_boxed_slice());
            drop(vec![0u8; 777]); // freed at once: in no heap
        }
        let h = mark.heap();
        // The boxes, and the outer Vec's buffer of `round` fat pointers.
        let boxes: usize = (1..=round).map(|i| 10 * i).sum();
        assert_eq!(h.count(), round + 1);
        assert_eq!(h.size(), boxes + round * 16);
        assert_eq!(
            mark.peak_bytes() as usize,
            boxes + round * 16 + 777,
            "round {round}"
        );
        drop(kept);
        assert!(mark.heap().is_empty());
    }
}

#[test]
fn peak_bytes_follows_the_high_water_mark() {
    let mark = heapy::hpy().mark();
    let a = vec![0u8; 1000];
    let b = vec![0u8; 3000];
    drop(a);
    let c = vec![0u8; 500];
    drop(b);
    assert_eq!(mark.peak_bytes(), 4000);
    drop(c);
    assert_eq!(mark.peak_bytes(), 4000);
    assert!(mark.heap().is_empty());
}

#[test]
fn nested_marks_each_see_their_own_peak() {
    let outer = heapy::hpy().mark();
    let kept = vec![0u8; 100];
    let inner = heapy::hpy().mark();
    drop(vec![0u8; 5000]);
    assert_eq!(inner.peak_bytes(), 5000);
    assert_eq!(outer.peak_bytes(), 5100);
    let later = heapy::hpy().mark(); // resets the thread's peak: the others keep theirs
    let small = vec![0u8; 10];
    assert_eq!(later.peak_bytes(), 10);
    assert_eq!(inner.peak_bytes(), 5000);
    assert_eq!(outer.peak_bytes(), 5100);
    drop(inner);
    drop(later);
    let big = vec![0u8; 9000];
    assert_eq!(outer.peak_bytes(), 100 + 10 + 9000);
    let h = outer.heap();
    assert_eq!((h.count(), h.size()), (3, 9110));
    drop((kept, small, big));
}

#[test]
fn a_clone_is_the_same_mark() {
    let mark = heapy::hpy().mark();
    let copy = mark.clone();
    let v = vec![0u16; 21];
    assert_eq!(copy.heap().size(), 42);
    assert_eq!(copy.peak_bytes(), mark.peak_bytes());
    drop(v);
}

#[test]
fn spawned_threads_are_not_in_the_mark_unless_they_enter_it() {
    let mark = heapy::hpy().mark();
    let m = mark.clone();
    let (outside, inside, after) = thread::spawn(move || {
        let outside = vec![0u8; 11];
        let guard = m.enter();
        let inside = vec![0u8; 22];
        drop(vec![0u8; 99]);
        drop(guard);
        let after = vec![0u8; 44];
        (outside, inside, after)
    })
    .join()
    .unwrap();
    let h = mark.heap();
    assert_eq!((h.count(), h.size()), (1, 22));
    assert_eq!(
        h.theone().unwrap().address(),
        inside.as_ptr() as usize,
        "only the object made inside the entered span"
    );
    // Every thread's objects since the mark, entered or not.
    let all = mark.heap_all_threads();
    for v in [&outside, &inside, &after] {
        assert!(all.objects().any(|o| o.address() == v.as_ptr() as usize));
    }
    drop((outside, inside, after));
    assert!(mark.heap().is_empty());
}

#[test]
fn heap_all_threads_leaves_out_what_was_there_before() {
    let (tx_go, rx_go) = std::sync::mpsc::channel::<()>();
    let (tx_done, rx_done) = std::sync::mpsc::channel::<(usize, usize)>();
    let helper = thread::spawn(move || {
        let before = vec![0u8; 33];
        tx_done.send((before.as_ptr() as usize, 0)).unwrap();
        rx_go.recv().unwrap();
        let after = vec![0u8; 66];
        tx_done
            .send((before.as_ptr() as usize, after.as_ptr() as usize))
            .unwrap();
        rx_go.recv().unwrap();
        drop((before, after));
    });
    let _ = rx_done.recv().unwrap();
    let mark = heapy::hpy().mark();
    tx_go.send(()).unwrap();
    let (before, after) = rx_done.recv().unwrap();
    let all = mark.heap_all_threads();
    assert!(all
        .objects()
        .any(|o| o.address() == after && o.size() == 66));
    assert!(!all
        .objects()
        .any(|o| o.address() == before && o.size() == 33));
    assert!(
        !mark.heap().objects().any(|o| o.address() == after),
        "the helper never entered the mark"
    );
    tx_go.send(()).unwrap();
    helper.join().unwrap();
}
