//! Where did all the allocations come from? A function that allocates on every line of its
//! input, the table of its allocations by call site, and the fix, measured the same way.
//!
//! `cargo run --example churn` prints both tables, and writes `churn.heapy.json` (a snapshot
//! with the program's allocation history) for `heapy view churn.heapy.json --alloc --by site`.

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// Counts the words of `text`, case-folded: allocates a String and a Vec on every line.
fn count_words_slow(text: &str) -> usize {
    let mut n = 0;
    for line in text.lines() {
        let lower = line.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        n += words.len();
    }
    n
}

/// The same count without the Vec: one allocation per line instead of two.
fn count_words_fast(text: &str) -> usize {
    let mut n = 0;
    for line in text.lines() {
        let lower = line.to_lowercase();
        n += lower.split_whitespace().count();
    }
    n
}

fn main() {
    let text: String = (0..10_000)
        .map(|i| format!("Line {i} Has three\n"))
        .collect::<String>()
        .replace(" Has three", " HAS")
        .replace("Line ", "Line w");

    let mark = heapy::hpy().mark();
    let slow = count_words_slow(&text);
    let before = mark.allocations();
    println!("count_words_slow: {slow} words");
    println!("{}", before.bysite());

    let mark = heapy::hpy().mark();
    let fast = count_words_fast(&text);
    let after = mark.allocations();
    println!("count_words_fast: {fast} words");
    println!("{}", after.bysite());
    assert_eq!(slow, fast);
    println!(
        "Blocks: {} -> {} ({:.2}x fewer); bytes: {} -> {}.",
        before.count(),
        after.count(),
        before.count() as f64 / after.count().max(1) as f64,
        before.size(),
        after.size()
    );

    // The whole program's history goes into a snapshot, for the command line.
    let path = std::env::temp_dir().join("churn.heapy.json");
    match heapy::hpy().heap().dump(&path) {
        Ok(()) => println!(
            "Wrote {}: try `heapy view {} --alloc --by site`.",
            path.display(),
            path.display()
        ),
        Err(e) => eprintln!("{e}"),
    }
}
