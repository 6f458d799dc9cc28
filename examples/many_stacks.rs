//! The first snapshot of a heap whose objects come from many distinct stacks: 262,144 live
//! boxes, each allocated at the bottom of its own path through a binary recursion (18 levels,
//! each level calling one of two functions from one of two call sites), so every box has a
//! stack of its own while the program has only a handful of return addresses.
//!
//! ```text
//! cargo run --release --example many_stacks       # or without --release: a dev build
//! HEAPY_EXAMPLE_LEVELS=12 cargo run --example many_stacks   # 4,096 stacks
//! ```
//!
//! Prints the time of the first `heap()` (names resolved: symbols, kinds, sites), of a
//! second one (all cached), and the process's peak resident memory (`VmHWM`) before and
//! after the first.

use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

type Out = Vec<Box<[u64; 2]>>;

/// One level of the recursion: `bits`' lowest bit chooses which function the next level
/// runs, so each value of `bits` takes its own path (its own stack).
#[inline(never)]
fn left(level: u32, bits: u32, out: &mut Out) {
    if level == 0 {
        out.push(Box::new([u64::from(bits), 1]));
    } else if bits & 1 == 0 {
        left(level - 1, bits >> 1, out);
    } else {
        right(level - 1, bits >> 1, out);
    }
    // Keeps the calls above from becoming tail calls (which would leave no frame).
    black_box(&out);
}

/// [`left`]'s twin (its own body, so the two are not folded into one function).
#[inline(never)]
fn right(level: u32, bits: u32, out: &mut Out) {
    if level == 0 {
        out.push(Box::new([u64::from(bits), 2]));
    } else if bits & 1 == 0 {
        left(level - 1, bits >> 1, out);
    } else {
        right(level - 1, bits >> 1, out);
    }
    black_box(&out);
}

/// This process's `VmHWM` (peak resident memory) or `VmRSS`, in MB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let levels: u32 = std::env::var("HEAPY_EXAMPLE_LEVELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18)
        .clamp(1, 20);
    let n = 1u32 << levels;
    let stacks_before = heapy::hpy().stats().stacks;
    let mut out: Out = Vec::with_capacity(n as usize);
    let mark = heapy::hpy().mark();
    for bits in 0..n {
        left(levels, bits, &mut out);
    }
    let stats = heapy::hpy().stats();
    let hwm_before = status_mb("VmHWM:");
    let t = Instant::now();
    let h = mark.heap();
    let first = t.elapsed();
    let hwm_after = status_mb("VmHWM:");
    let rss_after = status_mb("VmRSS:");
    let t = Instant::now();
    let again = mark.heap();
    let second = t.elapsed();
    let boxes = h.filter(|o| o.size() == 16);
    let sites = boxes.bysite();
    println!("{sites}");
    println!(
        "{} boxes, {} new stacks ({} dropped), {} site rows",
        boxes.count(),
        stats.stacks - stacks_before,
        stats.stacks_dropped,
        sites.rows().len(),
    );
    println!(
        "first heap() {:.0} ms, second {:.0} ms; peak RSS {hwm_before:.0} MB before the first \
         heap(), {hwm_after:.0} MB after (RSS {rss_after:.0} MB)",
        first.as_secs_f64() * 1e3,
        second.as_secs_f64() * 1e3,
    );
    drop(black_box((again, out)));
}
