//! The object graph at scale: 1M live objects, then the time of a full pointer scan with
//! byrcs (target: 1 s; guppy3 takes 4.1 s for byrcs on 1.2M Python objects) and of heapu
//! (target: 2 s), with leaked Rc cycles present so that heapu does its confirming second
//! scan. Medians of interleaved repetitions, printed with ratios to the targets.
//!
//! Then the cost of the stop that makes the scan consistent: heapu with the stop (the other
//! threads stopped for an instant and a copy-on-write clone scanned) against heapu without
//! it (`HEAPY_STOP_SIGNAL=off`: the running process scanned, with its confirming second
//! scan), interleaved, while another thread allocates, frees and writes in a loop: the
//! longest gap between two of its iterations during heapu (the pause it sees) and how many
//! iterations it ran per second meanwhile (copy-on-write faults slow it after the stop).
//!
//! `HEAPY_BENCH_QUICK=1` runs 100k objects and one repetition.

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
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
    stop_cost(if quick { 3 } else { 5 });
    black_box((nodes, strings));
}

/// A thread that allocates, frees and writes in a loop; `gap` is the longest time between
/// two of its iterations since it was last reset (ns), `iters` its iterations.
struct Mutator {
    stop: Arc<AtomicBool>,
    gap: Arc<AtomicU64>,
    iters: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mutator {
    fn start() -> Mutator {
        let (stop, gap, iters) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let (s, g, n) = (stop.clone(), gap.clone(), iters.clone());
        let thread = std::thread::spawn(move || {
            let _k = heapy::kind("Mutator");
            let mut ring: Vec<Box<[u64; 4]>> = (0..100_000).map(|i| Box::new([i; 4])).collect();
            let mut last = Instant::now();
            let mut i = 0u64;
            // Relaxed: a stop flag and statistics.
            while !s.load(Ordering::Relaxed) {
                for _ in 0..64 {
                    i += 1;
                    let k = (i as usize * 7919) % ring.len();
                    // A new block each time (an allocation and a free), not a write in place.
                    drop(std::mem::replace(&mut ring[k], Box::new([i; 4])));
                }
                let now = Instant::now();
                g.fetch_max((now - last).as_nanos() as u64, Ordering::Relaxed);
                n.fetch_add(1, Ordering::Relaxed);
                last = now;
            }
            black_box(ring);
        });
        Mutator {
            stop,
            gap,
            iters,
            thread: Some(thread),
        }
    }

    /// Runs `f`; returns its time, the mutator's longest gap meanwhile and its rate.
    fn during(&self, f: impl FnOnce()) -> (Duration, Duration, f64) {
        // Relaxed: statistics.
        self.gap.store(0, Ordering::Relaxed);
        let n0 = self.iters.load(Ordering::Relaxed);
        let t = Instant::now();
        f();
        let took = t.elapsed();
        let gap = Duration::from_nanos(self.gap.load(Ordering::Relaxed));
        let rate = (self.iters.load(Ordering::Relaxed) - n0) as f64 / took.as_secs_f64();
        (took, gap, rate)
    }
}

impl Drop for Mutator {
    fn drop(&mut self) {
        // Relaxed: the join below synchronises.
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn stop_cost(reps: usize) {
    let m = Mutator::start();
    std::thread::sleep(Duration::from_millis(200));
    // The mutator alone, for its undisturbed rate and gaps.
    let (_, idle_gap, idle_rate) = m.during(|| std::thread::sleep(Duration::from_millis(500)));
    let (mut on, mut off, mut pauses) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        for (stop, out) in [(true, &mut on), (false, &mut off)] {
            if stop {
                std::env::remove_var("HEAPY_STOP_SIGNAL");
            } else {
                std::env::set_var("HEAPY_STOP_SIGNAL", "off");
            }
            let (took, gap, rate) = m.during(|| {
                black_box(heapy::hpy().heapu().count());
            });
            if stop {
                pauses.push(heapy::__private::last_stop_pause().as_secs_f64());
            }
            out.push((took, gap, rate));
        }
    }
    std::env::remove_var("HEAPY_STOP_SIGNAL");
    drop(m);
    let med = |v: &[(Duration, Duration, f64)], k: usize| {
        let mut x: Vec<f64> = v
            .iter()
            .map(|r| match k {
                0 => r.0.as_secs_f64(),
                1 => r.1.as_secs_f64(),
                _ => r.2,
            })
            .collect();
        x.sort_by(f64::total_cmp);
        x[x.len() / 2]
    };
    println!(
        "stop cost (medians of {reps}, a thread allocating and writing meanwhile; idle: longest gap {:.2} ms, {:.0} iterations/s):",
        idle_gap.as_secs_f64() * 1e3,
        idle_rate
    );
    println!(
        "  heapu, threads stopped + frozen copy : {:.3} s, longest gap {:.2} ms, {:.0} iterations/s ({:.2}x of idle)",
        med(&on, 0),
        med(&on, 1) * 1e3,
        med(&on, 2),
        med(&on, 2) / idle_rate
    );
    println!(
        "  heapu, running process (stop off)    : {:.3} s, longest gap {:.2} ms, {:.0} iterations/s ({:.2}x of idle)",
        med(&off, 0),
        med(&off, 1) * 1e3,
        med(&off, 2),
        med(&off, 2) / idle_rate
    );
    pauses.sort_by(f64::total_cmp);
    println!(
        "  threads held stopped (signal round trip + clone): median {:.2} ms, max {:.2} ms",
        pauses[pauses.len() / 2] * 1e3,
        pauses[pauses.len() - 1] * 1e3
    );
    println!(
        "  heapu time, stopped / running: {:.2}x",
        med(&on, 0) / med(&off, 0)
    );
}
