//! The unwinder gives the same kinds and call sites as the frame-pointer walk.

use std::collections::HashMap;

use heapy::{Census, Stacks};

#[global_allocator]
static CENSUS: Census = Census::new().stacks(Stacks::Unwind);

#[derive(Clone)]
pub struct Item {
    _id: u64,
}

#[inline(never)]
fn build() -> (Vec<Item>, HashMap<u8, Item>, String, u32) {
    let mut m = HashMap::new();
    m.insert(1u8, Item { _id: 1 });
    let (v, line) = (vec![Item { _id: 2 }; 5], line!());
    (v, m, "unwound".to_string(), line)
}

#[test]
fn kinds_and_sites_from_the_unwinder() {
    let mark = heapy::hpy().mark();
    let (v, m, s, line) = build();
    let h = mark.heap();
    let mut kinds: Vec<(String, usize)> = h
        .objects()
        .map(|o| (o.kind().to_string(), o.size()))
        .collect();
    kinds.sort();
    assert_eq!(kinds.len(), 3, "{h}");
    assert_eq!(kinds[0].0, "HashMap<u8, unwind::Item>");
    assert_eq!(kinds[1], ("String".to_string(), 7));
    assert_eq!(kinds[2], ("Vec<unwind::Item>".to_string(), 5 * 8));
    let vec_site = h
        .filter(|o| o.kind() == "Vec<unwind::Item>")
        .theone()
        .unwrap()
        .site()
        .to_string();
    assert_eq!(vec_site, format!("tests/unwind.rs:{line} unwind::build"));
    assert!(heapy::hpy().stats().stacks > 0);
    drop((v, m, s));
}
