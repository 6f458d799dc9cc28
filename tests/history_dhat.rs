//! heapy's allocation history against dhat-rs on the same workload: the blocks and bytes
//! allocated, and the peak, must agree exactly. Each allocator must be the global allocator of
//! its process, so the test runs itself twice as a child: once under heapy's `Census`, once
//! under `dhat::Alloc` (chosen at the first allocation from `HEAPY_TEST_ALLOC`, read without
//! allocating). No test harness (`harness = false`): nothing but the workload allocates in
//! the children while they count (libtest's own thread made dhat's process-wide totals move
//! by a block or two now and then).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU8, Ordering};

static HEAPY: heapy::Census = heapy::Census::new();
static DHAT: dhat::Alloc = dhat::Alloc;
/// 0 not read yet, 1 heapy, 2 dhat. Relaxed: every thread computes the same value.
static WHICH: AtomicU8 = AtomicU8::new(0);

fn which() -> u8 {
    let w = WHICH.load(Ordering::Relaxed);
    if w != 0 {
        return w;
    }
    // SAFETY: getenv with a NUL-terminated name; the bytes are read at once and it does not
    // allocate.
    let dhat = unsafe {
        let p = libc::getenv(c"HEAPY_TEST_ALLOC".as_ptr());
        !p.is_null() && core::ffi::CStr::from_ptr(p).to_bytes() == b"dhat"
    };
    let w = if dhat { 2 } else { 1 };
    WHICH.store(w, Ordering::Relaxed);
    w
}

struct Either;

// SAFETY: every call goes to the one allocator chosen for the whole process (the choice is
// made before the first block and never changes), with the caller's arguments.
unsafe impl GlobalAlloc for Either {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        unsafe {
            if which() == 2 {
                DHAT.alloc(l)
            } else {
                HEAPY.alloc(l)
            }
        }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded to the allocator that made the block.
        unsafe {
            if which() == 2 {
                DHAT.dealloc(p, l)
            } else {
                HEAPY.dealloc(p, l)
            }
        }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded to the allocator that made the block.
        unsafe {
            if which() == 2 {
                DHAT.realloc(p, l, n)
            } else {
                HEAPY.realloc(p, l, n)
            }
        }
    }
}

#[global_allocator]
static EITHER: Either = Either;

/// Strings, growing Vecs (reallocations), a map, and a spike in the middle.
fn workload() -> usize {
    let mut keep: Vec<String> = Vec::new();
    let mut total = 0;
    for i in 0..3000usize {
        let s = format!("item {i} {}", "x".repeat(i % 50));
        total += s.len();
        if i % 7 == 0 {
            keep.push(s);
        }
        if i == 1500 {
            let spike: Vec<Vec<u8>> = (0..64).map(|k| vec![k as u8; 4096]).collect();
            total += spike.len();
        }
    }
    let mut m = std::collections::HashMap::new();
    for (i, s) in keep.iter().enumerate() {
        m.insert(i, s.clone());
    }
    total + m.len()
}

fn main() {
    match std::env::var("HEAPY_TEST_ALLOC").as_deref() {
        Ok("heapy") => {
            heapy::hpy().reset_peak();
            let base = heapy::hpy().stats().live_bytes;
            let mark = heapy::hpy().mark();
            let n = std::hint::black_box(workload());
            let a = mark.allocations();
            let peak = heapy::hpy().stats().peak_live_bytes - base;
            let at_peak = heapy::hpy().at_peak().size() as u64 - base;
            println!("RESULT {n} {} {} {peak} {at_peak}", a.count(), a.size());
        }
        Ok("dhat") => {
            let _p = dhat::Profiler::builder().testing().build();
            let s0 = dhat::HeapStats::get();
            let n = std::hint::black_box(workload());
            let s1 = dhat::HeapStats::get();
            let blocks = s1.total_blocks - s0.total_blocks;
            let bytes = s1.total_bytes - s0.total_bytes;
            println!(
                "RESULT {n} {blocks} {bytes} {} {}",
                s1.max_bytes, s1.max_bytes
            );
        }
        _ => {
            let run = |which: &str| -> Vec<u64> {
                let out = std::process::Command::new(std::env::current_exe().unwrap())
                    .env("HEAPY_TEST_ALLOC", which)
                    .env_remove("HEAPY_STACKS")
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                let line = text
                    .lines()
                    .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
                    .unwrap_or_else(|| panic!("{which} child printed no result: {text}"));
                line.split(' ').map(|v| v.parse().unwrap()).collect()
            };
            let heapy = run("heapy");
            let dhat = run("dhat");
            println!("heapy: {heapy:?}\ndhat:  {dhat:?} (workload, blocks, bytes, peak, peak)");
            // The workload's result, then blocks and bytes allocated, then the peak (heapy's
            // figure and its at-peak table's total, above the live bytes at the start).
            assert_eq!(heapy, dhat);
            println!("history_agrees_with_dhat ... ok");
        }
    }
}
