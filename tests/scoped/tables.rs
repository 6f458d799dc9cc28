//! The printed tables, line by line, in guppy's layout. Each test builds its objects after a
//! mark (thread-scoped), so parallel tests do not disturb the figures.

// Boxes on purpose: each is one heap object of a known size.
#[allow(clippy::vec_box)]
struct Fixture {
    alpha: Vec<Box<[u8; 100]>>,
    beta: Vec<u8>,
    gamma: Vec<Box<u64>>,
}

/// Tagged objects: 15, 1460 bytes. Alpha 3 x 100 (the `alpha` Vec's own buffer is made
/// outside the tag, so it is untagged), Beta 1 x 1000, Gamma 10 x 8 plus its buffer of 80.
fn fixture() -> Fixture {
    let mut alpha = Vec::with_capacity(3);
    heapy::with_kind("Alpha", || {
        for _ in 0..3 {
            alpha.push(Box::new([0u8; 100]));
        }
    });
    let beta = heapy::with_kind("Beta", || vec![1u8; 1000]);
    let gamma = heapy::with_kind("Gamma", || {
        let mut g = Vec::with_capacity(10);
        for i in 0..10u64 {
            g.push(Box::new(i));
        }
        g
    });
    Fixture { alpha, beta, gamma }
}

/// The fixture's tags (the `alpha` Vec's own buffer has the kind its stack says).
const TAGS: [&str; 3] = ["Alpha", "Beta", "Gamma"];

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn partition_by_kind() {
    let mark = heapy::hpy().mark();
    let f = fixture();
    // The `alpha` Vec's own buffer (24 bytes for 3 pointers) was made untagged: left out.
    let h = mark.heap().filter(|o| TAGS.contains(&o.kind()));
    assert_eq!(
        lines(&h.to_string()),
        [
            "Partition of a set of 15 objects. Total size = 1460 bytes.",
            " Index  Count   %     Size   % Cumulative  % Kind (type / call site)",
            "     0      1   7     1000  68      1000  68 Beta",
            "     1      3  20      300  21      1300  89 Alpha",
            "     2     11  73      160  11      1460 100 Gamma",
        ]
    );
    assert_eq!(format!("{h:?}"), "<15 (Alpha | Beta | Gamma)>");
    // The one untagged object: the `alpha` Vec's buffer, named by its type.
    let rest = mark.heap().filter(|o| !TAGS.contains(&o.kind()));
    let o = rest.theone().unwrap();
    assert_eq!((o.kind(), o.size()), ("Vec<Box<[u8; 100]>>", 24));
    drop(f);
}

#[test]
fn partition_by_size() {
    let mark = heapy::hpy().mark();
    let f = fixture();
    let h = mark.heap().filter(|o| TAGS.contains(&o.kind()));
    assert_eq!(
        lines(&h.bysize().to_string()),
        [
            "Partition of a set of 15 objects. Total size = 1460 bytes.",
            " Index  Count   %     Size   % Cumulative  % Individual Size",
            "     0      1   7     1000  68      1000  68      1000",
            "     1      3  20      300  21      1300  89       100",
            "     2     10  67       80   5      1380  95         8",
            "     3      1   7       80   5      1460 100        80",
        ]
    );
    drop(f);
}

#[test]
fn row_then_byid() {
    let mark = heapy::hpy().mark();
    let f = fixture();
    let h = mark.heap().filter(|o| TAGS.contains(&o.kind()));
    let mut addrs: Vec<usize> = f.alpha.iter().map(|b| &**b as *const _ as usize).collect();
    addrs.sort();
    let expected = [
        "Set of 3 <Alpha> objects. Total size = 300 bytes.".to_string(),
        " Index     Size   %   Cumulative  %   Address".to_string(),
        format!("     0      100  33.3       100  33.3 {:#x}", addrs[0]),
        format!("     1      100  33.3       200  66.7 {:#x}", addrs[1]),
        format!("     2      100  33.3       300 100.0 {:#x}", addrs[2]),
    ];
    assert_eq!(lines(&h.row(1).byid().to_string()), expected);
    drop(f);
}

#[test]
fn byid_of_a_mixed_set_names_each_kind() {
    let mark = heapy::hpy().mark();
    let f = fixture();
    let h = mark.heap().filter(|o| o.kind() == "Beta" || o.size() == 80);
    let beta = f.beta.as_ptr() as usize;
    let gamma = f.gamma.as_ptr() as usize;
    assert_eq!(
        lines(&h.byid().to_string()),
        [
            "Set of 2 <mixed> objects. Total size = 1080 bytes.".to_string(),
            " Index     Size   %   Cumulative  %   Address        Kind".to_string(),
            format!(
                "     0     1000  92.6      1000  92.6 {:<14} Beta",
                format!("{beta:#x}")
            ),
            format!(
                "     1       80   7.4      1080 100.0 {:<14} Gamma",
                format!("{gamma:#x}")
            ),
        ]
    );
    drop(f);
}

#[test]
fn by_thread_names_the_thread() {
    let text = std::thread::Builder::new()
        .name("tables-worker".into())
        .spawn(|| {
            let mark = heapy::hpy().mark();
            let v = vec![0u64; 16];
            let text = mark.heap().bythread().to_string();
            drop(v);
            text
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(
        lines(&text),
        [
            "Partition of a set of 1 objects. Total size = 128 bytes.",
            " Index  Count   %     Size   % Cumulative  % Thread",
            "     0      1 100      128 100       128 100 tables-worker",
        ]
    );
}

#[test]
fn ten_rows_then_more_then_all() {
    let mark = heapy::hpy().mark();
    // 25 kinds K01..K25 of sizes 25..1 bytes: rows in that order.
    let blocks: Vec<Vec<u8>> = (1..=25)
        .map(|i| heapy::with_kind(&format!("K{i:02}"), || vec![0u8; 26 - i]))
        .collect();
    let h = mark.heap().filter(|o| o.kind().starts_with('K'));
    let total: usize = (1..=25).sum();
    let row = |i: usize| {
        let size = 25 - i;
        let cum: usize = (0..=i).map(|j| 25 - j).sum();
        format!(
            "{:6} {:6} {:3} {:8} {:3} {:9} {:3} K{:02}",
            i,
            1,
            (200 + 25) / 50, // 1 of 25 objects: 4 %
            size,
            (size * 200 + total) / (total * 2),
            cum,
            (cum * 200 + total) / (total * 2),
            i + 1
        )
    };
    let first = h.to_string();
    let first = lines(&first);
    assert_eq!(first.len(), 2 + 10 + 1);
    for i in 0..10 {
        assert_eq!(first[2 + i], row(i));
    }
    assert_eq!(first[12], "<15 more rows. Type e.g. '.more()' to view.>");
    // guppy's brief form: the first five kinds alphabetically, the parenthesis left open.
    assert_eq!(format!("{h:?}"), "<25 (K01 | K02 | K03 | K04 | K05 | ...>");
    let more = h.more().to_string();
    let more = lines(&more);
    for i in 10..20 {
        assert_eq!(more[2 + i - 10], row(i));
    }
    assert_eq!(more[12], "<5 more rows. Type e.g. '.more()' to view.>");
    let last = h.more().more().to_string();
    assert_eq!(lines(&last).len(), 2 + 5);
    assert_eq!(lines(&last)[6], row(24));
    let all = h.all().to_string();
    assert_eq!(lines(&all).len(), 2 + 25);
    drop(blocks);
}
