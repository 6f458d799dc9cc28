//! The program's code that heapy calls (the closure given to `Heap::filter`) runs outside
//! heapy's guard: what it allocates is the program's, counted like any other allocation.

/// A heap of `n` objects of this thread's own (and the objects themselves, to keep alive).
fn small_heap(n: usize) -> (heapy::Heap, Vec<Vec<u8>>) {
    let mut held = Vec::with_capacity(n);
    let mark = heapy::hpy().mark();
    for i in 0..n {
        held.push(vec![i as u8; 8]);
    }
    let h = mark.heap();
    assert_eq!((h.count(), h.size()), (n, 8 * n));
    (h, held)
}

#[test]
fn a_leak_inside_a_filter_closure_is_found() {
    let (h, held) = small_heap(3);
    let mut leaked: Vec<usize> = Vec::with_capacity(4);
    let r = heapy::check_no_leaks(|| {
        h.filter(|o| {
            if leaked.is_empty() {
                let b: &'static mut [u8] = Box::leak(vec![0u8; 99].into_boxed_slice());
                leaked.push(b.as_ptr() as usize);
            }
            o.size() == 8
        })
        .count()
    });
    match r {
        Err(heapy::Error::Leaked { count, size, .. }) => assert_eq!((count, size), (1, 99)),
        other => panic!("the 99 bytes leaked in the closure were not found: {other:?}"),
    }
    // The same through a mark: the leaked block itself, by address.
    let mark = heapy::hpy().mark();
    let kept = h.filter(|_| {
        let b: &'static mut [u8] = Box::leak(vec![0u8; 99].into_boxed_slice());
        leaked.push(b.as_ptr() as usize);
        false
    });
    assert!(kept.is_empty());
    let left = mark.heap();
    let found: Vec<(usize, usize)> = left.objects().map(|o| (o.address(), o.size())).collect();
    assert_eq!(
        found,
        leaked[1..].iter().map(|&a| (a, 99)).collect::<Vec<_>>()
    );
    drop(held);
}

#[test]
fn a_vec_grown_inside_a_filter_closure_is_in_the_next_heap() {
    let (h, held) = small_heap(9);
    let mark = heapy::hpy().mark();
    // Grown from nothing, by reallocation (capacities 4, 8, 16), inside the closure.
    let mut sizes: Vec<usize> = Vec::new();
    let big = h.filter(|o| {
        sizes.push(o.size());
        true
    });
    assert_eq!(big.count(), 9);
    assert_eq!(sizes, [8; 9]);
    let now = mark.heap();
    let found: Vec<(usize, usize)> = now.objects().map(|o| (o.address(), o.size())).collect();
    assert_eq!(
        found,
        [(
            sizes.as_ptr() as usize,
            sizes.capacity() * std::mem::size_of::<usize>()
        )]
    );
    drop((sizes, held));
}

/// A path whose `as_ref` (the program's code) leaks 5 bytes at each call, and counts them.
struct LeakyPath(std::path::PathBuf, std::cell::Cell<usize>);

impl AsRef<std::path::Path> for LeakyPath {
    fn as_ref(&self) -> &std::path::Path {
        std::hint::black_box(Box::leak(Box::new([0u8; 5])));
        self.1.set(self.1.get() + 1);
        &self.0
    }
}

#[test]
fn a_path_argument_is_read_outside_the_guard() {
    let (h, held) = small_heap(2);
    let dir = tempfile::tempdir().unwrap();
    let path = LeakyPath(dir.path().join("dhat.json"), std::cell::Cell::new(0));
    let r = heapy::check_no_leaks(|| h.dhat(&path).unwrap());
    let calls = path.1.get();
    assert!(calls >= 1);
    match r {
        Err(heapy::Error::Leaked { count, size, .. }) => {
            assert_eq!((count, size), (calls, 5 * calls))
        }
        other => panic!("the bytes leaked by as_ref were not found: {other:?}"),
    }
    drop(held);
}

/// heapy's own work (what it writes, the text it makes) adds nothing to the program's
/// figures: a scope that only exports a heap has a peak of 0 bytes.
#[test]
fn exports_add_nothing_to_the_programs_peak() {
    let (h, held) = small_heap(4);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |name: &str| d.join(name);
    let paths = (
        p("snap.json"),
        p("dhat.json"),
        p("heap.svg"),
        p("heap.pb.gz"),
    );
    let r = heapy::check_memory_limit(0, || {
        h.dump(&paths.0).unwrap();
        h.dhat(&paths.1).unwrap();
        #[cfg(feature = "flame")]
        h.flamegraph(&paths.2).unwrap();
        #[cfg(feature = "pprof")]
        h.pprof(&paths.3).unwrap();
    });
    assert!(r.is_ok(), "{r:?}");
    drop(held);
}
