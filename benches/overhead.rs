//! Allocation overhead: the same churn under `System`, `heapy::Census` and dhat-rs, in one
//! process run, with interleaved repetitions and medians.
//!
//! A switching global allocator forwards each allocation to the configuration under test and
//! leaves a one-byte trailer saying which, so that every block is freed by the allocator
//! that made it whatever the configuration is by then. Every configuration pays that same
//! byte (the System baseline included), so ratios compare like with like.
//!
//! Configurations: `census` records every object without stacks (`Stacks::Off`) and
//! without allocation history (`Census::history(false)`); `census+history` is the same
//! census keeping history (the default: per-context totals and the heap at its peak);
//! `census+fp-stacks` adds a frame-pointer stack to every object, `census+unwind` an unwound
//! one, and `census+sampled` records only a byte-sample (mean gap 512 KiB) with stacks.
//! (`HEAPY_STACKS` overrides every census here: leave it unset.)
//!
//! Output ends with lines `overhead <configuration> <ratio>x` (the worst workload's time per
//! alloc+free pair against System), `unwind vs dhat <r>x faster`, and
//! `metadata <bytes> bytes/object` (measured at 1M live objects).
//!
//! A second table churns at the bottom of a 200-frame recursion (small blocks, 1 and 2
//! threads) under System and the frame-pointer census with: full capture (up to 2,048
//! frames) reusing the thread's previous walk (the default), full capture interning every
//! frame anew, and a 32-frame capture (the depth before issue 13) with and without reuse.
//! `HEAPY_BENCH_DEEP_ONLY=1` runs that table alone.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use heapy::Stacks;

const SYSTEM: u8 = 0;
const CENSUS: u8 = 1;
const DHAT: u8 = 2;
const FP: u8 = 3;
const SAMPLED: u8 = 4;
const UNWIND: u8 = 5;
const HISTORY: u8 = 6;

static MODE: AtomicU8 = AtomicU8::new(CENSUS);
static HEAPY: heapy::Census = heapy::Census::new().stacks(Stacks::Off).history(false);
static HEAPY_HISTORY: heapy::Census = heapy::Census::new().stacks(Stacks::Off);
static HEAPY_FP: heapy::Census = heapy::Census::new().stacks(Stacks::FramePointers);
static HEAPY_SAMPLED: heapy::Census = heapy::Census::new().stacks(Stacks::SAMPLED);
static HEAPY_UNWIND: heapy::Census = heapy::Census::new().stacks(Stacks::Unwind);
static DHAT_ALLOC: dhat::Alloc = dhat::Alloc;

struct Switch;

fn route(mode: u8) -> &'static dyn GlobalAlloc {
    match mode {
        SYSTEM => &System,
        DHAT => &DHAT_ALLOC,
        FP => &HEAPY_FP,
        SAMPLED => &HEAPY_SAMPLED,
        UNWIND => &HEAPY_UNWIND,
        HISTORY => &HEAPY_HISTORY,
        _ => &HEAPY,
    }
}

fn grown(layout: Layout) -> Layout {
    // Sizes in this benchmark are far from overflow; a failure would return null below.
    Layout::from_size_align(layout.size() + 1, layout.align()).unwrap_or(layout)
}

// SAFETY: each block is made by one of three allocators with the caller's layout grown by
// one byte, which records the allocator; dealloc and realloc read that byte and call the
// same allocator with the same grown layout.
unsafe impl GlobalAlloc for Switch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mode = MODE.load(Ordering::Relaxed);
        // SAFETY: forwarding a valid non-zero layout.
        let p = unsafe { route(mode).alloc(grown(layout)) };
        if !p.is_null() {
            // SAFETY: the block has size + 1 bytes.
            unsafe { p.add(layout.size()).write(mode) };
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` is a live block of ours with `layout`: its byte at `layout.size()` is
        // the trailer that alloc or realloc wrote.
        let mode = unsafe { ptr.add(layout.size()).read() };
        // SAFETY: the same allocator and grown layout that made the block.
        unsafe { route(mode).dealloc(ptr, grown(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` is a live block of ours with `layout`: its byte at `layout.size()` is
        // the trailer that alloc or realloc wrote.
        let mode = unsafe { ptr.add(layout.size()).read() };
        // SAFETY: the same allocator and grown layout; the new size is grown the same way.
        let q = unsafe { route(mode).realloc(ptr, grown(layout), new_size + 1) };
        if !q.is_null() {
            // SAFETY: the new block has new_size + 1 bytes.
            unsafe { q.add(new_size).write(mode) };
        }
        q
    }
}

#[global_allocator]
static SWITCH: Switch = Switch;

/// One thread's churn: a window of `WINDOW` live blocks; each step frees the oldest and
/// allocates a new one, so every step is one alloc+free pair through the global allocator.
fn churn(steps: usize, sizes: &[usize]) {
    use std::alloc::{alloc, dealloc};
    const WINDOW: usize = 512;
    let mut ring: Vec<(*mut u8, Layout)> =
        vec![(std::ptr::null_mut(), Layout::new::<u8>()); WINDOW];
    for i in 0..steps {
        let layout = Layout::from_size_align(sizes[i % sizes.len()], 8).unwrap();
        // SAFETY: non-zero sizes; each block is freed once with its own layout.
        unsafe {
            let p = alloc(layout);
            assert!(!p.is_null());
            p.write(i as u8);
            let (old, old_layout) =
                std::mem::replace(&mut ring[i % WINDOW], (black_box(p), layout));
            if !old.is_null() {
                dealloc(old, old_layout);
            }
        }
    }
    for (p, layout) in ring {
        if !p.is_null() {
            // SAFETY: blocks still held by the ring, freed once.
            unsafe { dealloc(p, layout) };
        }
    }
}

fn sizes(min: usize, max: usize) -> Vec<usize> {
    // A fixed pseudo-random sequence (xorshift) of sizes in [min, max].
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            min + (x as usize) % (max - min + 1)
        })
        .collect()
}

/// Nanoseconds per alloc+free pair of `threads` threads churning at once under `mode`:
/// each thread times its own churn from a common start; the slowest thread counts.
fn run(mode: u8, threads: usize, steps: usize, sizes: &[usize]) -> f64 {
    let barrier = Barrier::new(threads);
    MODE.store(mode, Ordering::SeqCst);
    let slowest = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let t = Instant::now();
                    churn(steps, sizes);
                    t.elapsed().as_nanos() as f64
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("churn thread panicked"))
            .fold(0.0, f64::max)
    });
    MODE.store(CENSUS, Ordering::SeqCst);
    slowest / steps as f64
}

/// Runs `f` at the bottom of `n` more frames of recursion.
#[inline(never)]
fn deep(n: usize, f: &dyn Fn() -> f64) -> f64 {
    if n == 0 {
        return f();
    }
    let r = deep(black_box(n - 1), f);
    // Not a tail call: each level keeps its frame.
    black_box(r)
}

/// As `run`, each thread churning at the bottom of a `depth`-frame recursion.
fn run_deep(mode: u8, threads: usize, steps: usize, sizes: &[usize], depth: usize) -> f64 {
    let barrier = Barrier::new(threads);
    MODE.store(mode, Ordering::SeqCst);
    let slowest = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    deep(depth, &|| {
                        barrier.wait();
                        let t = Instant::now();
                        churn(steps, sizes);
                        t.elapsed().as_nanos() as f64
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("churn thread panicked"))
            .fold(0.0, f64::max)
    });
    MODE.store(CENSUS, Ordering::SeqCst);
    slowest / steps as f64
}

/// The deep-stack table: see the module notes.
fn deep_table(reps: usize, steps: usize) {
    const DEPTH: usize = 200;
    // (name, allocator, frames kept, reuse of the previous walk)
    let configs: [(&str, u8, usize, bool); 5] = [
        ("system", SYSTEM, 2048, true),
        ("fp-2048+reuse", FP, 2048, true),
        ("fp-2048", FP, 2048, false),
        ("fp-32+reuse", FP, 32, true),
        ("fp-32", FP, 32, false),
    ];
    let sz = sizes(8, 64);
    println!(
        "\nchurn at the bottom of a {DEPTH}-frame recursion, small blocks: {reps} interleaved repetitions, medians, ns per alloc+free pair"
    );
    for threads in [1usize, 2] {
        let mut samples = vec![Vec::new(); configs.len()];
        for _ in 0..reps {
            for (i, &(_, mode, frames, reuse)) in configs.iter().enumerate() {
                heapy::__private::configure_capture(frames, reuse);
                samples[i].push(run_deep(mode, threads, steps, &sz, DEPTH));
            }
        }
        heapy::__private::configure_capture(2048, true);
        let med: Vec<f64> = samples.into_iter().map(median).collect();
        print!("{threads} thread(s) deep  :");
        for ((name, ..), m) in configs.iter().zip(&med) {
            print!("  {name} {m:.1} ns");
        }
        println!();
        print!("   ");
        for ((name, ..), m) in configs.iter().zip(&med).skip(1) {
            print!(" {name}/system {:.2}x", m / med[0]);
        }
        println!("   fp-2048+reuse/fp-32 {:.2}x", med[1] / med[4]);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Bookkeeping bytes per live object at 1M live objects: glibc's in-use bytes under Census
/// minus under System for the same objects, plus the registry records they occupy.
fn metadata_per_object() -> f64 {
    const N: usize = 1_000_000;
    let sz = sizes(8, 128);
    let measure = |mode: u8| -> (f64, u64) {
        MODE.store(mode, Ordering::SeqCst);
        // SAFETY: mallinfo2 only reads glibc's counters.
        let before = unsafe { libc::mallinfo2() }.uordblks as f64;
        let objs: Vec<Box<[u8]>> = (0..N)
            .map(|i| vec![1u8; sz[i % sz.len()]].into_boxed_slice())
            .collect();
        // SAFETY: mallinfo2 only reads glibc's counters; it has no preconditions.
        let after = unsafe { libc::mallinfo2() }.uordblks as f64;
        // Every live object holds one registry record (24 bytes) while the Census has it.
        let reg = if mode == CENSUS { (N * 24) as u64 } else { 0 };
        drop(black_box(objs));
        MODE.store(CENSUS, Ordering::SeqCst);
        (after - before, reg)
    };
    // Run each once to warm the allocator's free lists, then measure.
    measure(SYSTEM);
    measure(CENSUS);
    let (sys, _) = measure(SYSTEM);
    let (census, reg) = measure(CENSUS);
    println!(
        "metadata detail: heap bytes/object system {:.1}, census {:.1}; registry {:.1} bytes/object",
        sys / N as f64,
        census / N as f64,
        reg as f64 / N as f64
    );
    (census - sys + reg as f64) / N as f64
}

fn main() {
    // `HEAPY_BENCH_PROFILE=<mode number>`: churn under one configuration only (for perf).
    if let Some(m) = std::env::var("HEAPY_BENCH_PROFILE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let sz = sizes(8, 64);
        let threads = std::env::var("HEAPY_BENCH_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let ns = run(
            m,
            threads,
            if m == 2 || m == 5 { 200_000 } else { 5_000_000 },
            &sz,
        );
        println!("mode {m}: {ns:.1} ns per pair");
        return;
    }
    // `HEAPY_BENCH_DEEP_PROFILE=<frames>,<reuse 0|1>`: the deep churn under the fp census
    // only (for perf).
    if let Some((frames, reuse)) = std::env::var("HEAPY_BENCH_DEEP_PROFILE")
        .ok()
        .and_then(|v| v.split_once(',').map(|(f, r)| (f.parse().ok(), r == "1")))
        .and_then(|(f, r)| Some((f?, r)))
    {
        heapy::__private::configure_capture(frames, reuse);
        let ns = run_deep(FP, 1, 200_000, &sizes(8, 64), 200);
        println!("deep fp {frames} frames reuse {reuse}: {ns:.1} ns per pair");
        return;
    }
    let _dhat = dhat::Profiler::builder().testing().build();
    let quick = std::env::var_os("HEAPY_BENCH_QUICK").is_some();
    let reps = if quick { 3 } else { 9 };
    let steps = if quick { 50_000 } else { 400_000 };
    if std::env::var_os("HEAPY_BENCH_DEEP_ONLY").is_some() {
        deep_table(reps, steps / 4);
        return;
    }
    let workloads = [("small", sizes(8, 64)), ("medium", sizes(256, 4096))];
    let configs = [
        ("system", SYSTEM),
        ("census", CENSUS),
        ("dhat", DHAT),
        ("census+fp-stacks", FP),
        ("census+sampled", SAMPLED),
        ("census+unwind", UNWIND),
        ("census+history", HISTORY),
    ];

    println!(
        "heapy overhead benchmark: {reps} interleaved repetitions, medians, ns per alloc+free pair"
    );
    let mut dhat_over_unwind: Vec<f64> = Vec::new();
    let mut history_over_census: Vec<f64> = Vec::new();
    let mut ratios: Vec<(String, Vec<f64>)> = configs[1..]
        .iter()
        .map(|(n, _)| (n.to_string(), Vec::new()))
        .collect();
    for threads in [1usize, 2] {
        for (wname, wsizes) in &workloads {
            let mut samples = vec![Vec::new(); configs.len()];
            for _ in 0..reps {
                for (i, (_, mode)) in configs.iter().enumerate() {
                    // dhat and the unwinder are ~100x slower: fewer steps keep the run
                    // short; the figure is per pair.
                    let n = if *mode == DHAT || *mode == UNWIND {
                        steps / 20
                    } else {
                        steps
                    };
                    samples[i].push(run(*mode, threads, n, wsizes));
                }
            }
            let med: Vec<f64> = samples.into_iter().map(median).collect();
            print!("{threads} thread(s) {wname:6}:");
            for ((name, _), m) in configs.iter().zip(&med) {
                print!("  {name} {m:.1} ns");
            }
            println!();
            for (k, m) in med[1..].iter().enumerate() {
                ratios[k].1.push(m / med[0]);
            }
            println!(
                "    census/system {:.2}x   dhat/system {:.1}x   dhat/census {:.1}x   fp/system {:.2}x   sampled/system {:.2}x   dhat/unwind {:.2}x",
                med[1] / med[0],
                med[2] / med[0],
                med[2] / med[1],
                med[3] / med[0],
                med[4] / med[0],
                med[2] / med[5]
            );
            println!("    history/census {:.3}x", med[6] / med[1]);
            history_over_census.push(med[6] / med[1]);
            dhat_over_unwind.push(med[2] / med[5]);
        }
    }
    deep_table(reps, steps / 4);
    let meta = metadata_per_object();
    println!();
    for (name, r) in &ratios {
        let worst = r.iter().cloned().fold(0.0, f64::max);
        println!("overhead {name} {worst:.2}x");
    }
    let least = dhat_over_unwind
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min);
    println!("unwind vs dhat {least:.2}x faster");
    let worst = history_over_census.iter().cloned().fold(0.0, f64::max);
    println!("history vs census {worst:.3}x (worst workload; 1 and 2 threads)");
    println!("metadata {meta:.1} bytes/object");
}
