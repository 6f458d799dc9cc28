//! The object graph at scale: 1M live objects, then the time of a full pointer scan with
//! byrcs (target: 1 s; guppy3 takes 4.1 s for byrcs on 1.2M Python objects) and of heapu
//! (target: 2 s), with leaked Rc cycles present so that heapu does its confirming second
//! scan. Medians of interleaved repetitions, printed with ratios to the targets.
//!
//! `HEAPY_BENCH_QUICK=1` runs 100k objects and one repetition.

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

// `leaf` is held (not read) so that each node has an edge to a second object.
#[allow(dead_code)]
struct Node {
    leaf: Box<[u64; 2]>,
    _payload: [u64; 2],
}

struct Cyc {
    other: RefCell<Option<Rc<Cyc>>>,
}

#[inline(never)]
fn leak_cycles(n: usize) {
    let _g = heapy::kind("LeakedCycle");
    for _ in 0..n {
        let a = Rc::new(Cyc {
            other: RefCell::new(None),
        });
        let b = Rc::new(Cyc {
            other: RefCell::new(Some(a.clone())),
        });
        *a.other.borrow_mut() = Some(b);
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::var_os("HEAPY_BENCH_QUICK").is_some();
    let (scale, reps) = if quick { (100_000, 1) } else { (1_000_000, 3) };
    // 40% nodes + 40% leaves + 20% strings = `scale` objects (plus a few buffers).
    let nodes: Vec<Box<Node>> = (0..scale * 2 / 5)
        .map(|i| {
            Box::new(Node {
                leaf: Box::new([i as u64; 2]),
                _payload: [i as u64; 2],
            })
        })
        .collect();
    let strings: Vec<String> = (0..scale / 5).map(|i| format!("s{i}")).collect();
    let cycles = 1000;
    leak_cycles(cycles);
    let live = heapy::hpy().heap();
    println!(
        "graph bench: {} live objects, {} bytes ({} leaked cycles)",
        live.count(),
        live.size(),
        cycles
    );
    drop(live);

    let mut scan_byrcs = Vec::new();
    let mut heapu = Vec::new();
    let mut found = 0;
    for _ in 0..reps {
        let h = heapy::hpy().heap();
        let t = Instant::now();
        let rcs = h.byrcs();
        black_box(rcs.to_string());
        scan_byrcs.push(t.elapsed());
        drop((rcs, h));

        let t = Instant::now();
        let u = heapy::hpy().heapu();
        heapu.push(t.elapsed());
        found = u.filter(|o| o.kind() == "LeakedCycle").count();
    }
    let (a, b) = (median(scan_byrcs), median(heapu));
    println!(
        "scan+byrcs {:.3} s (target 1 s: {:.2}x of budget)",
        a.as_secs_f64(),
        a.as_secs_f64()
    );
    println!(
        "heapu      {:.3} s (target 2 s: {:.2}x of budget)",
        b.as_secs_f64(),
        b.as_secs_f64() / 2.0
    );
    println!(
        "byrcs vs guppy3 (4.1 s for 1.2M objects, per object): {:.1}x faster",
        (4.1 / 1.2e6) / (a.as_secs_f64() / (scale as f64))
    );
    println!("heapu found {found} of {} leaked cycle objects", 2 * cycles);
    black_box((nodes, strings));
}
