//! With stacks off, untagged objects keep the plain `<untagged>` kind and have no site.

use heapy::{Census, Stacks};

#[global_allocator]
static CENSUS: Census = Census::new().stacks(Stacks::Off);

#[test]
fn no_stacks_no_names() {
    let mark = heapy::hpy().mark();
    let v = vec![0u32; 6];
    let t = heapy::with_kind("Tagged", || Box::new(1u8));
    let h = mark.heap();
    let mut got: Vec<(&str, &str, usize)> = h
        .objects()
        .map(|o| (o.kind(), o.site(), o.size()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("<untagged>", "<no stack>", 24),
            ("Tagged", "<no stack>", 1)
        ]
    );
    let sites = h.bysite();
    let rows: Vec<(&str, usize, usize)> = sites
        .rows()
        .map(|r| (r.label(), r.count(), r.size()))
        .collect();
    assert_eq!(rows, [("<no stack>", 2, 25)], "{sites}");
    assert!(h.traceback().to_string().contains("<no stack>"));
    drop((v, t));
}
