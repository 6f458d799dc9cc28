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
    let text = h.bysite().to_string();
    assert!(
        text.contains("     0      2 100       25 100        25 100 <no stack>\n"),
        "{text}"
    );
    assert!(h.traceback().to_string().contains("<no stack>"));
    drop((v, t));
}
