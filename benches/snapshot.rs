//! Snapshot cost at 1M live objects: `hpy().heap()` (copying records out of the registry and
//! resolving names), partitioning, and printing the table.
//!
//! Prints `snapshot <N> objects <ms> ms` for heap() + partition + printing, and the parts.

use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    const N: usize = 1_000_000;
    let reps = if std::env::var_os("HEAPY_BENCH_QUICK").is_some() {
        3
    } else {
        7
    };
    // 1M live objects of 16 kinds and many sizes.
    let kinds: Vec<String> = (0..16).map(|k| format!("kind-{k:02}")).collect();
    let objects: Vec<Box<[u8]>> = (0..N)
        .map(|i| {
            let _k = heapy::kind(&kinds[i % kinds.len()]);
            vec![0u8; 8 + i % 120].into_boxed_slice()
        })
        .collect();
    let live = heapy::hpy().stats().live_objects;

    let (mut take, mut part, mut print, mut total) = (vec![], vec![], vec![], vec![]);
    let mut rows = 0;
    for _ in 0..reps {
        let t0 = Instant::now();
        let h = heapy::hpy().heap();
        let t1 = Instant::now();
        rows = black_box(h.rows().len());
        let t2 = Instant::now();
        let text = h.to_string();
        let by_size = h.bysize().to_string();
        let t3 = Instant::now();
        black_box((text, by_size));
        take.push((t1 - t0).as_secs_f64() * 1e3);
        part.push((t2 - t1).as_secs_f64() * 1e3);
        print.push((t3 - t2).as_secs_f64() * 1e3);
        total.push((t3 - t0).as_secs_f64() * 1e3);
    }
    println!("heapy snapshot benchmark: {live} live objects, {reps} repetitions, medians");
    println!(
        "  heap() (copy records + resolve names) {:8.1} ms",
        median(take)
    );
    println!(
        "  partition by kind ({rows} rows)        {:8.1} ms",
        median(part)
    );
    println!(
        "  print by kind + by size               {:8.1} ms",
        median(print)
    );
    println!("snapshot {} objects {:.1} ms", N, median(total));
    drop(black_box(objects));
}
