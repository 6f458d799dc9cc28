//! `Stats` and `reset_peak`, exactly. Process-wide counters: this file holds one test so no
//! other test allocates while it measures.

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

#[test]
fn counters_move_by_exactly_what_the_program_did() {
    let hp = heapy::hpy();
    let s0 = hp.stats();
    let b = Box::new([7u8; 5000]);
    let s1 = hp.stats();
    assert_eq!(s1.allocations - s0.allocations, 1);
    assert_eq!(s1.bytes_allocated - s0.bytes_allocated, 5000);
    assert_eq!(s1.live_objects - s0.live_objects, 1);
    assert_eq!(s1.live_bytes - s0.live_bytes, 5000);
    assert_eq!(s1.frees, s0.frees);

    // A realloc is one free and one allocation.
    let mut v: Vec<u8> = Vec::with_capacity(10);
    v.reserve_exact(1000); // len 0 + 1000: a realloc from 10 to 1000 bytes
    let s2 = hp.stats();
    assert_eq!(s2.allocations - s1.allocations, 2);
    assert_eq!(s2.frees - s1.frees, 1);
    assert_eq!(s2.bytes_allocated - s1.bytes_allocated, 10 + 1000);
    assert_eq!(s2.live_bytes - s1.live_bytes, 1000);
    drop(v);
    drop(b);
    let s3 = hp.stats();
    assert_eq!(s3.live_bytes, s0.live_bytes);
    assert_eq!(s3.live_objects, s0.live_objects);
    assert_eq!(s3.frees - s0.frees, 3);

    // Peak: a 1 MiB block allocated and freed after a reset is the new peak, exactly.
    hp.reset_peak();
    let base = hp.stats().live_bytes;
    assert_eq!(hp.stats().peak_live_bytes, base);
    drop(vec![0u8; 1 << 20]);
    let s4 = hp.stats();
    assert_eq!(s4.peak_live_bytes, base + (1 << 20));
    assert_eq!(s4.live_bytes, base);
    hp.reset_peak();
    assert_eq!(hp.stats().peak_live_bytes, base);

    // Threads that allocated are counted; nothing went untracked.
    std::thread::spawn(|| drop(vec![1u8; 3])).join().unwrap();
    let s5 = hp.stats();
    assert!(s5.threads >= 2);
    assert_eq!(s5.untracked, 0);
    // Every live object holds one 24-byte record; the registry has at least that many.
    assert!(s5.registry_bytes >= s5.live_objects * 24);
    assert!(heapy::is_installed());

    // A snapshot that describes many new stacks does it on helper threads (when the machine
    // has more than one core): they are heapy's own, so no counter moves and no thread is
    // registered.
    let mut boxes = Vec::with_capacity(256);
    for path in 0..256 {
        left(path, 8, &mut boxes);
    }
    let s6 = hp.stats();
    assert!(s6.stacks - s5.stacks >= 256);
    let h = hp.heap();
    let s7 = hp.stats();
    assert_eq!(
        (s7.threads, s7.allocations, s7.frees, s7.live_bytes),
        (s6.threads, s6.allocations, s6.frees, s6.live_bytes)
    );
    let ours = h.filter(|o| o.size() == 8 && o.kind() == "Box<u64>");
    assert_eq!(ours.count(), 256);
    drop((h, ours, boxes));
}

/// The boxes of `left` and `right` (each its own heap object, on purpose).
type Boxes = Vec<Box<u64>>;

/// Allocates a box through `n` levels of `left` and `right` calls chosen by the bits of
/// `path`: each path is a distinct stack.
#[inline(never)]
fn left(path: u32, n: u32, out: &mut Boxes) {
    if n == 0 {
        out.push(Box::new(path as u64));
    } else if path >> (n - 1) & 1 == 1 {
        left(path, n - 1, out);
    } else {
        right(path, n - 1, out);
    }
    std::hint::black_box(out.len());
}

#[inline(never)]
fn right(path: u32, n: u32, out: &mut Boxes) {
    if n == 0 {
        out.push(Box::new(path as u64));
    } else if path >> (n - 1) & 1 == 1 {
        left(path, n - 1, out);
    } else {
        right(path, n - 1, out);
    }
    std::hint::black_box(out.len());
}
