#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// The code under test: `key=value` lines into pairs.
fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn parse_frees_everything_it_allocates() {
    heapy::assert_no_leaks!(|| {
        let pairs = parse("a=1\nb=2");
        assert_eq!(pairs[1].1, "2");
    });
}

#[test]
fn parse_stays_under_its_budget() {
    // The peak of this thread's live bytes inside the closure (pytest-memray's limit_memory).
    heapy::assert_memory_limit!(16 * 1024, || parse(&"key=value\n".repeat(100)));
}

#[test]
fn parse_keeps_exactly_its_result() {
    let mark = heapy::hpy().mark(); // this thread only: parallel tests do not disturb it
    let pairs = heapy::with_kind("Config", || parse("a=1\nb=2\nc=3"));
    let h = mark.heap();
    // One buffer for 4 pairs (48 bytes each) and six 1-byte strings.
    assert_eq!((h.count(), h.size()), (7, 4 * 48 + 6));
    let row = h.rows().next().unwrap(); // the table's first row, as data
    assert_eq!((row.label(), row.count(), row.size()), ("Config", 7, 198));
    drop(pairs);
    assert!(mark.heap().is_empty());
}

// ---- Above: the README's example, word for word. Below: the check that it stays so. ----

#[test]
fn the_readme_shows_this_file() {
    let readme = include_str!("../README.md");
    let file = include_str!("readme_memory.rs");
    let example = file
        .split("\n// ---- Above: the README's example")
        .next()
        .unwrap();
    assert!(
        readme.contains(&format!("```rust\n{example}```\n")),
        "README.md's \"Tests that prove memory behaviour\" must show tests/readme_memory.rs \
         up to its marker line, word for word"
    );
}
