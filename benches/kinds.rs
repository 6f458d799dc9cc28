//! The cost of naming a kind: `heapy::kind(name)` entered and left (a name already
//! interned), against a plain thread-local `Cell::replace` (the least a scoped tag can cost),
//! and a 16-byte alloc+free pair with and without a kind around it.
//!
//! Interleaved repetitions, medians; prints `kinds <workload> <ns> ns` and the ratios.
//! `HEAPY_BENCH_QUICK=1` shortens the run.

use std::cell::Cell;
use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new().stacks(heapy::Stacks::Off);

thread_local! {
    static PLAIN: Cell<u32> = const { Cell::new(0) };
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Nanoseconds per iteration of `f` over `n` iterations.
fn time(n: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e9 / n as f64
}

fn main() {
    let quick = std::env::var_os("HEAPY_BENCH_QUICK").is_some();
    let (reps, n) = if quick { (5, 200_000) } else { (11, 1_000_000) };
    drop(heapy::kind("Request")); // interned once, before timing
    let workloads: [(&str, &dyn Fn()); 4] = [
        ("thread-local-cell", &|| {
            let prev = PLAIN.with(|c| c.replace(black_box(7)));
            PLAIN.with(|c| c.set(black_box(prev)));
        }),
        ("kind-enter-leave", &|| {
            drop(black_box(heapy::kind(black_box("Request"))));
        }),
        ("alloc16", &|| {
            drop(black_box(Box::new([0u8; 16])));
        }),
        ("kind+alloc16", &|| {
            let _k = heapy::kind(black_box("Request"));
            drop(black_box(Box::new([0u8; 16])));
        }),
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); workloads.len()];
    for _ in 0..reps {
        for (i, (_, f)) in workloads.iter().enumerate() {
            times[i].push(time(n, f));
        }
    }
    println!("heapy kinds benchmark: {reps} interleaved repetitions of {n}, medians");
    let m: Vec<f64> = times.into_iter().map(median).collect();
    for ((name, _), ns) in workloads.iter().zip(&m) {
        println!("kinds {name} {ns:.1} ns");
    }
    println!(
        "kinds kind() / thread-local cell {:.1}x; alloc16 with a kind / without {:.2}x",
        m[1] / m[0],
        m[3] / m[2]
    );
}
