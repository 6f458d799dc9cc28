//! heapy on a serde_json parse of deeply nested JSON, as a user would run it: the kinds
//! table, the sites table, and whether every folded stack reaches `main`.
//!
//! ```text
//! cargo run --example serde_deep                                          # dev build
//! CARGO_PROFILE_RELEASE_DEBUG=limited cargo run --release --example serde_deep
//! ```
//!
//! Prints the tables, then `folded stacks: <n> of <m> reach main (<bytes> of <total> bytes)`,
//! the deepest folded stack, and the time of the first `heap()` with the process's peak RSS.

use std::hint::black_box;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// JSON nested `depth` levels deep: objects whose keys and string values are Strings.
fn nested(depth: usize, width: usize) -> String {
    let mut s = String::new();
    for d in 0..depth {
        s.push_str(&format!(
            "{{\"level{d}\": \"value at level {d}\", \"items\": ["
        ));
        for w in 0..width {
            s.push_str(&format!("{{\"k{w}\": \"v{w}\"}},"));
        }
        s.push_str("0], \"next\": ");
    }
    s.push_str("null");
    for _ in 0..depth {
        s.push('}');
    }
    s
}

#[inline(never)]
fn parse_value(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("valid JSON")
}

fn main() {
    let text = nested(100, 20);
    let mark = heapy::hpy().mark();
    let v = black_box(parse_value(&text));
    let t = std::time::Instant::now();
    let h = mark.heap();
    let first = t.elapsed();
    println!("{h}");
    println!("{}", h.bysite());
    let folded = h.folded();
    let (mut lines, mut reach, mut bytes, mut total) = (0, 0, 0u64, 0u64);
    for l in folded.lines() {
        let (stack, b) = l.rsplit_once(' ').unwrap_or((l, "0"));
        let b: u64 = b.parse().unwrap_or(0);
        lines += 1;
        total += b;
        if stack.split(';').any(|f| f.ends_with("serde_deep::main")) {
            reach += 1;
            bytes += b;
        }
    }
    println!("folded stacks: {reach} of {lines} reach main ({bytes} of {total} bytes)");
    let deepest = folded
        .lines()
        .map(|l| l.split(';').count())
        .max()
        .unwrap_or(0);
    println!("deepest folded stack: {deepest} frames");
    // The first snapshot resolves every stack (symbols, kinds, sites); VmHWM is the peak.
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_string()))
        })
        .unwrap_or_default();
    println!(
        "first heap() {:.0} ms; peak RSS {hwm}",
        first.as_secs_f64() * 1e3
    );
    drop(v);
}
