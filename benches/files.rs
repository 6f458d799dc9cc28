//! Snapshot files, diffs and marks at 1M live objects.
//!
//! Prints, as medians over repetitions:
//! `dump <N> objects <ms> ms` (Heap::dump: encode, checksum, atomic write),
//! `load <N> objects <ms> ms` (Heap::load: read, check, decode),
//! `diff <N> objects <ms> ms` (a.diff(&b) of two 1M-object heaps, both partitioned),
//! `mark.heap <N> objects <ms> ms` (a thread-scoped snapshot of the 1M objects),
//! and the file size.

use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn main() {
    const N: usize = 1_000_000;
    let reps = if std::env::var_os("HEAPY_BENCH_QUICK").is_some() {
        3
    } else {
        5
    };
    let kinds: Vec<String> = (0..16).map(|k| format!("kind-{k:02}")).collect();
    let mut objects: Vec<Box<[u8]>> = Vec::with_capacity(N + 1000);
    let mark = heapy::hpy().mark();
    for i in 0..N {
        let _k = heapy::kind(&kinds[i % kinds.len()]);
        objects.push(vec![0u8; 8 + i % 120].into_boxed_slice());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.json");

    let (mut dump, mut load, mut diff, mut marked) = (vec![], vec![], vec![], vec![]);
    let mut size = 0;
    let mut count = 0;
    for r in 0..reps {
        let t = Instant::now();
        let a = black_box(mark.heap());
        marked.push(ms(t));
        count = a.count();

        let t = Instant::now();
        a.dump(&path).unwrap();
        dump.push(ms(t));
        size = std::fs::metadata(&path).unwrap().len();

        let t = Instant::now();
        let back = black_box(heapy::Heap::load(&path).unwrap());
        load.push(ms(t));
        assert_eq!(back.count(), a.count());

        // B: the same heap with 1000 objects freed and 1000 new ones.
        objects.drain(r * 1000..(r + 1) * 1000);
        for i in 0..1000 {
            objects.push(vec![0u8; 200 + i % 7].into_boxed_slice());
        }
        let b = mark.heap();
        let t = Instant::now();
        let d = black_box(b.diff(&a));
        diff.push(ms(t));
        black_box(d.count());
    }
    println!("heapy files benchmark: {count} live objects, {reps} repetitions, medians");
    println!("  file size {:.1} MB", size as f64 / 1e6);
    println!("dump {count} objects {:.1} ms", median(dump));
    println!("load {count} objects {:.1} ms", median(load));
    println!("diff {count} objects {:.1} ms", median(diff));
    println!("mark.heap {count} objects {:.1} ms", median(marked));
    drop(black_box(objects));
}
