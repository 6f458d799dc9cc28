//! Thread churn: what the census costs in a fresh process against a process that has already
//! spawned and joined 50,000 threads. The two must be the same: exited threads' state is
//! folded and reused, so no cost depends on how many threads came and went.
//!
//! One run, two child processes of this same benchmark: `fresh` starts measuring at once,
//! `churned` first spawns and joins 50,000 threads (each allocates and frees a little, which
//! registers it with the census). The parent then asks them for a repetition in turn
//! (fresh, churned, fresh, ...), so both see the same machine at the same time, and prints
//! the medians and their ratio.
//!
//! Workloads: a 16-byte alloc+free pair, a 64 KiB alloc+free pair (above the per-thread
//! flush threshold: every one updates the process-wide live bytes and its peak), the same
//! two pairs straight to `System` (a control: the C allocator's own state after the churn),
//! `hpy().stats()`, and `hpy().mark()` (notes every thread's position).
//!
//! Output ends with lines `threads <workload> fresh <ns> churned <ns> ratio <r>x`.
//! `HEAPY_BENCH_QUICK=1` shortens the run; `HEAPY_BENCH_CHURN=<n>` changes the thread count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new().stacks(heapy::Stacks::Off);

const ROLE: &str = "HEAPY_BENCH_THREADS_ROLE";
const WORKLOADS: [&str; 6] = ["alloc16", "alloc64k", "sys16", "sys64k", "stats", "mark"];

/// Nanoseconds per operation of `workload`, timed over at least `budget` (and at least
/// 16 operations).
fn measure(workload: &str, budget: Duration) -> f64 {
    let hp = heapy::hpy();
    let one = |n: usize| match workload {
        "alloc16" => {
            for _ in 0..n {
                drop(black_box(Box::new([0u8; 16])));
            }
        }
        "alloc64k" => {
            for _ in 0..n {
                drop(black_box(vec![0u8; 64 * 1024]));
            }
        }
        // The same pairs straight to the system allocator, bypassing the census: how much of
        // a difference is the C allocator's own (its arenas after 50,000 threads).
        "sys16" => sys_pairs(n, 16, false),
        "sys64k" => sys_pairs(n, 64 * 1024, true),
        "stats" => {
            for _ in 0..n {
                black_box(hp.stats());
            }
        }
        _ => {
            for _ in 0..n {
                drop(black_box(hp.mark()));
            }
        }
    };
    one(16); // warm up
    let mut n = 16usize;
    loop {
        let t = Instant::now();
        one(n);
        let e = t.elapsed();
        if e >= budget || n >= 1 << 26 {
            return e.as_nanos() as f64 / n as f64;
        }
        n *= 4;
    }
}

/// `n` alloc+free pairs of `size` bytes from `System` (zeroed, as `vec![0u8; size]` asks).
fn sys_pairs(n: usize, size: usize, zeroed: bool) {
    let layout = Layout::from_size_align(size, 8).expect("layout");
    for _ in 0..n {
        // SAFETY: a non-zero layout; the block is freed once with the same layout.
        unsafe {
            let p = if zeroed {
                System.alloc_zeroed(layout)
            } else {
                System.alloc(layout)
            };
            assert!(!p.is_null());
            p.write(1);
            System.dealloc(black_box(p), layout);
        }
    }
}

/// A child: optionally churns threads, then answers each workload name read from stdin
/// with one measurement.
fn child(churn: usize, budget: Duration) {
    for _ in 0..churn {
        std::thread::spawn(|| drop(black_box(vec![1u8; 32])))
            .join()
            .expect("churn thread panicked");
    }
    let s = heapy::hpy().stats();
    println!(
        "ready threads={} live_objects={}",
        s.threads, s.live_objects
    );
    std::io::stdout().flush().ok();
    for line in std::io::stdin().lock().lines() {
        let Ok(w) = line else { return };
        let ns = measure(w.trim(), budget);
        println!("{ns}");
        std::io::stdout().flush().ok();
    }
}

struct Child {
    proc: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Child {
    fn start(role: &str) -> Child {
        let mut proc = Command::new(std::env::current_exe().expect("own path"))
            .env(ROLE, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start child");
        let out = BufReader::new(proc.stdout.take().expect("child stdout"));
        Child { proc, out }
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        self.out.read_line(&mut s).expect("read child");
        s.trim().to_string()
    }

    fn ask(&mut self, workload: &str) -> f64 {
        let stdin = self.proc.stdin.as_mut().expect("child stdin");
        writeln!(stdin, "{workload}").expect("write child");
        stdin.flush().expect("flush child");
        self.line().parse().expect("a number from the child")
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::var_os("HEAPY_BENCH_QUICK").is_some();
    let budget = Duration::from_millis(if quick { 5 } else { 40 });
    let churn: usize = std::env::var("HEAPY_BENCH_CHURN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    match std::env::var(ROLE).as_deref() {
        Ok("fresh") => return child(0, budget),
        Ok("churned") => return child(churn, budget),
        _ => {}
    }
    let reps = if quick { 3 } else { 9 };
    let t = Instant::now();
    let mut fresh = Child::start("fresh");
    let mut churned = Child::start("churned");
    let f_ready = fresh.line();
    let c_ready = churned.line();
    println!(
        "heapy thread-churn benchmark: {reps} interleaved repetitions, medians, ns per operation"
    );
    println!(
        "fresh child: {f_ready}; churned child ({churn} threads spawned and joined, {:.1} s): {c_ready}",
        t.elapsed().as_secs_f64()
    );
    let mut lines = Vec::new();
    for w in WORKLOADS {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            a.push(fresh.ask(w));
            b.push(churned.ask(w));
        }
        let (a, b) = (median(a), median(b));
        lines.push(format!(
            "threads {w:9} fresh {a:10.1} churned {b:10.1} ratio {:.2}x",
            b / a
        ));
    }
    drop(fresh.proc.stdin.take());
    drop(churned.proc.stdin.take());
    let _ = fresh.proc.wait();
    let _ = churned.proc.wait();
    for l in lines {
        println!("{l}");
    }
}
