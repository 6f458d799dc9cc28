//! What serving a heap profile costs the program: 1M live objects, two threads allocating
//! and freeing in a loop, and requests to `heapy::serve`'s `/debug/pprof/heap` and
//! `/snapshot` (each builds a snapshot of the 1M objects on the server's thread).
//!
//! Each allocating thread times every batch of 16 alloc+free pairs and keeps, per window,
//! its longest gap between batches (the stall it saw) and how many batches it ran. Windows,
//! interleaved, each repetition in this order:
//!
//! * `idle`: nothing else runs (the main thread sleeps as long as the last request took);
//! * `spin`: the main thread burns a core for as long, allocating nothing: what any busy
//!   third thread costs two allocating threads on this machine;
//! * `pprof`, `snapshot`: the main thread fetches the page and waits; the server's thread
//!   builds it.
//!
//! If the server blocked allocations, the gaps under `pprof`/`snapshot` would be about as
//! long as the request; if it only takes a core, they are like `spin`'s.
//!
//! `HEAPY_BENCH_QUICK=1`: 100k objects, 3 repetitions.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

const WINDOWS: usize = 64;
const THREADS: usize = 2;

/// Per thread and window: the longest gap (ns) and the batches run.
struct Figures {
    max_gap: Vec<AtomicU64>,
    batches: Vec<AtomicU64>,
}

fn figures() -> Figures {
    Figures {
        max_gap: (0..WINDOWS).map(|_| AtomicU64::new(0)).collect(),
        batches: (0..WINDOWS).map(|_| AtomicU64::new(0)).collect(),
    }
}

/// The window the allocating threads count into now.
static WINDOW: AtomicUsize = AtomicUsize::new(0);
static STOP: AtomicBool = AtomicBool::new(false);

fn allocate(f: &Figures) {
    let mut w = WINDOW.load(Ordering::Acquire);
    let (mut max, mut n) = (0u64, 0u64);
    let mut last = Instant::now();
    while !STOP.load(Ordering::Relaxed) {
        for i in 0..16usize {
            black_box(vec![i as u8; 24 + (i * 8)]);
        }
        let now = Instant::now();
        let gap = (now - last).as_nanos() as u64;
        last = now;
        let cur = WINDOW.load(Ordering::Acquire);
        if cur != w {
            // The gap that spans the change belongs to neither window.
            f.max_gap[w].fetch_max(max, Ordering::Relaxed);
            f.batches[w].fetch_add(n, Ordering::Relaxed);
            (w, max, n) = (cur, 0, 0);
            continue;
        }
        max = max.max(gap);
        n += 1;
    }
    f.max_gap[w].fetch_max(max, Ordering::Relaxed);
    f.batches[w].fetch_add(n, Ordering::Relaxed);
}

/// Fetches `path`; returns the bytes received.
fn fetch(addr: SocketAddr, path: &str) -> usize {
    let mut c = TcpStream::connect(addr).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    let mut head = Vec::new();
    loop {
        let n = c.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if head.len() < 12 {
            head.extend_from_slice(&buf[..n.min(12)]);
        }
        total += n;
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{path}: {:?}",
        String::from_utf8_lossy(&head)
    );
    total
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::var_os("HEAPY_BENCH_QUICK").is_some();
    let (n, reps) = if quick { (100_000, 3) } else { (1_000_000, 5) };
    let objects: Vec<Box<[u8]>> = (0..n)
        .map(|i| vec![0u8; 8 + i % 120].into_boxed_slice())
        .collect();
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let addr = server.addr();

    let figs: Arc<Vec<Figures>> = Arc::new((0..THREADS).map(|_| figures()).collect());
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let figs = figs.clone();
            std::thread::spawn(move || allocate(&figs[t]))
        })
        .collect();

    // Window 0 is the start-up; 1 the first request (cold: names are resolved once).
    let mut log: Vec<(&'static str, usize, f64)> = Vec::new();
    std::thread::sleep(Duration::from_millis(200));
    WINDOW.store(1, Ordering::Release);
    let t = Instant::now();
    let cold_bytes = fetch(addr, "/debug/pprof/heap");
    let cold = t.elapsed();
    log.push(("cold", 1, cold.as_secs_f64()));
    let mut next = 2;
    let mut last = cold;
    let mut sizes = (0, 0);
    for _ in 0..reps {
        for label in ["idle", "spin", "pprof", "snapshot"] {
            let w = next;
            next += 1;
            WINDOW.store(w, Ordering::Release);
            let t = Instant::now();
            match label {
                "idle" => std::thread::sleep(last),
                "spin" => {
                    while t.elapsed() < last {
                        black_box(0u64);
                    }
                }
                "pprof" => sizes.0 = fetch(addr, "/debug/pprof/heap"),
                _ => sizes.1 = fetch(addr, "/snapshot"),
            }
            let secs = t.elapsed().as_secs_f64();
            if label == "pprof" {
                last = t.elapsed();
            }
            log.push((label, w, secs));
        }
    }
    WINDOW.store(next, Ordering::Release);
    STOP.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    drop(server);

    let gap_ms = |w: usize| -> f64 {
        figs.iter()
            .map(|f| f.max_gap[w].load(Ordering::Relaxed))
            .max()
            .unwrap_or(0) as f64
            / 1e6
    };
    // Batches per second of both threads together.
    let rate = |w: usize, secs: f64| -> f64 {
        figs.iter()
            .map(|f| f.batches[w].load(Ordering::Relaxed))
            .sum::<u64>() as f64
            / secs
    };
    println!(
        "heapy serve benchmark: {} live objects, {THREADS} threads allocating, {reps} repetitions (medians; worst in brackets)",
        heapy::hpy().stats().live_objects
    );
    println!(
        "  first request (cold: names resolved): /debug/pprof/heap {:.0} ms ({} bytes), longest stall {:.1} ms",
        cold.as_secs_f64() * 1e3,
        cold_bytes,
        gap_ms(1)
    );
    println!("  window     length   longest stall   allocating rate vs idle");
    let idle_rate = median(
        log.iter()
            .filter(|(l, ..)| *l == "idle")
            .map(|&(_, w, s)| rate(w, s))
            .collect(),
    );
    for label in ["idle", "spin", "pprof", "snapshot"] {
        let runs: Vec<&(&str, usize, f64)> = log.iter().filter(|(l, ..)| *l == label).collect();
        let len = median(runs.iter().map(|r| r.2 * 1e3).collect());
        let gaps: Vec<f64> = runs.iter().map(|r| gap_ms(r.1)).collect();
        let worst = gaps.iter().cloned().fold(0.0, f64::max);
        let rates = median(runs.iter().map(|r| rate(r.1, r.2)).collect());
        println!(
            "  {label:<9} {len:6.0} ms   {:6.1} ms [{worst:6.1}]   {:.2}x",
            median(gaps),
            rates / idle_rate
        );
    }
    println!(
        "  sizes: /debug/pprof/heap {} bytes, /snapshot {} bytes",
        sizes.0, sizes.1
    );
    black_box(objects);
}
