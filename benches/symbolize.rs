//! Symbolization at snapshot time: a snapshot of 100k live objects from 1k distinct
//! allocation stacks, resolved cold (the first snapshot of the process: debug info is read,
//! every address resolved and demangled, every kind inferred) and warm (the caches hit).
//!
//! Prints `symbolize cold <ms> ms`, `symbolize cold-cache <ms> ms` (heapy's caches emptied,
//! the debug info already loaded) and `symbolize warm <ms> ms` (median); each figure is a
//! whole `Mark::heap()` of the 100k objects, names included.

use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

const STACKS: u32 = 1024;
const PER_STACK: usize = 100;

type Out = Vec<Box<[u8; 16]>>;

/// 32 functions `b0..b31` that allocate, and 32 functions `a0..a31` that each call any of
/// them from its own call site: 1024 distinct stacks with 1024 distinct return addresses
/// (plus 32 in the `b`s), so a cold snapshot resolves over a thousand addresses.
macro_rules! leaves {
    ($($b:ident $n:literal)*) => {$(
        // Each body differs (its byte), so the linker cannot fold the functions into one.
        #[inline(never)]
        fn $b(out: &mut Out) {
            for _ in 0..PER_STACK {
                out.push(Box::new([$n; 16]));
            }
            black_box(&out);
        }
    )*};
}

macro_rules! callers {
    ($($a:ident $n:literal)*) => {$(
        #[inline(never)]
        fn $a(j: u32, out: &mut Out) {
            black_box($n);
            match j {
                0 => b0(out), 1 => b1(out), 2 => b2(out), 3 => b3(out),
                4 => b4(out), 5 => b5(out), 6 => b6(out), 7 => b7(out),
                8 => b8(out), 9 => b9(out), 10 => b10(out), 11 => b11(out),
                12 => b12(out), 13 => b13(out), 14 => b14(out), 15 => b15(out),
                16 => b16(out), 17 => b17(out), 18 => b18(out), 19 => b19(out),
                20 => b20(out), 21 => b21(out), 22 => b22(out), 23 => b23(out),
                24 => b24(out), 25 => b25(out), 26 => b26(out), 27 => b27(out),
                28 => b28(out), 29 => b29(out), 30 => b30(out), _ => b31(out),
            }
            black_box(&out);
        }
    )*};
}

leaves!(b0 0u8 b1 1u8 b2 2u8 b3 3u8 b4 4u8 b5 5u8 b6 6u8 b7 7u8 b8 8u8 b9 9u8 b10 10u8 b11 11u8 b12 12u8 b13 13u8 b14 14u8 b15 15u8 b16 16u8 b17 17u8 b18 18u8 b19 19u8 b20 20u8 b21 21u8 b22 22u8 b23 23u8 b24 24u8 b25 25u8 b26 26u8 b27 27u8 b28 28u8 b29 29u8 b30 30u8 b31 31u8);
callers!(a0 0u8 a1 1u8 a2 2u8 a3 3u8 a4 4u8 a5 5u8 a6 6u8 a7 7u8 a8 8u8 a9 9u8 a10 10u8 a11 11u8 a12 12u8 a13 13u8 a14 14u8 a15 15u8 a16 16u8 a17 17u8 a18 18u8 a19 19u8 a20 20u8 a21 21u8 a22 22u8 a23 23u8 a24 24u8 a25 25u8 a26 26u8 a27 27u8 a28 28u8 a29 29u8 a30 30u8 a31 31u8);

const CALLERS: [fn(u32, &mut Out); 32] = [
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
    a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31,
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// This process's resident bytes (`/proc/self/statm`'s second field, in pages).
fn rss() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm.split(' ').nth(1).unwrap().parse().unwrap();
    pages * 4096.0
}

fn main() {
    let reps = if std::env::var_os("HEAPY_BENCH_QUICK").is_some() {
        3
    } else {
        9
    };
    let mut out: Out = Vec::with_capacity(STACKS as usize * PER_STACK);
    let before = heapy::hpy().stats().stacks;
    let mark = heapy::hpy().mark();
    for i in 0..STACKS {
        CALLERS[(i / 32) as usize](i % 32, &mut out);
    }
    let new_stacks = heapy::hpy().stats().stacks - before;
    let time = || {
        let t = Instant::now();
        let h = mark.heap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        (h, ms)
    };
    let rss_before = rss();
    let (h, cold) = time();
    let rss_after = rss();
    let boxes = h.filter(|o| o.size() == 16);
    let sites = boxes.bysite().rows().len();
    let kinds = boxes.bykind().rows().len();
    println!(
        "heapy symbolize benchmark: {} objects from {new_stacks} new stacks ({sites} sites, {kinds} kind), {reps} repetitions",
        boxes.count(),
    );
    assert_eq!(boxes.count(), STACKS as usize * PER_STACK);
    println!("{}", boxes.bysite());
    let mut cold_cache = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..reps {
        heapy::__private::forget_symbols();
        cold_cache.push(time().1);
        warm.push(time().1);
    }
    println!("symbolize cold {cold:.1} ms");
    println!("symbolize cold-cache {:.1} ms", median(cold_cache));
    println!("symbolize warm {:.1} ms", median(warm));
    // What the first resolution leaves resident (the debug info, mostly), and what
    // `release_symbols()` gives back; then a snapshot that must parse it all again.
    let rss_held = rss();
    heapy::hpy().release_symbols();
    let rss_released = rss();
    heapy::__private::forget_symbols();
    let (_, reparse) = time();
    heapy::hpy().release_symbols();
    let mb = |b: f64| b / (1 << 20) as f64;
    println!(
        "symbolize rss +{:.1} MB by the first snapshot ({:.1} MB held after the runs); release_symbols() gave back {:.1} MB",
        mb(rss_after - rss_before),
        mb(rss_held - rss_before),
        mb(rss_held - rss_released),
    );
    println!("symbolize cold-after-release {reparse:.1} ms");
    drop(black_box(out));
}
