//! Call sites: `bysite()` rows and tracebacks name the exact line that allocated.

#[inline(never)]
fn make_buffer(n: usize) -> (Vec<u64>, u32) {
    (vec![0u64; n], line!())
}

#[inline(never)]
fn make_two() -> (Box<u32>, String, u32, u32) {
    let (b, lb) = (Box::new(7u32), line!());
    let (s, ls) = (String::from("seven"), line!());
    (b, s, lb, ls)
}

#[test]
fn bysite_rows_are_file_line_function() {
    let mark = heapy::hpy().mark();
    let (a, la) = make_buffer(10);
    let (b, lb) = make_buffer(20);
    let (bx, s, l1, l2) = make_two();
    let h = mark.heap().bysite();
    let text = h.all().to_string();
    assert!(text.contains("Site (file:line function)"), "{text}");
    // make_buffer's one line made both buffers: one row of 2 objects, 240 bytes.
    assert_eq!(la, lb);
    let mut by_site = std::collections::BTreeMap::new();
    for o in h.objects() {
        let e = by_site.entry(o.site().to_string()).or_insert((0, 0));
        e.0 += 1;
        e.1 += o.size();
    }
    let want = std::collections::BTreeMap::from([
        (
            format!("tests/scoped/sites.rs:{la} scoped::sites::make_buffer"),
            (2, 240),
        ),
        (
            format!("tests/scoped/sites.rs:{l1} scoped::sites::make_two"),
            (1, 4),
        ),
        (
            format!("tests/scoped/sites.rs:{l2} scoped::sites::make_two"),
            (1, 5),
        ),
    ]);
    assert_eq!(by_site, want, "{text}");
    let top = h.row(0);
    assert_eq!((top.count(), top.size()), (2, 240));
    // The table's rows are the same sites with the same figures.
    let rows: std::collections::BTreeMap<String, (usize, usize)> = h
        .rows()
        .map(|r| (r.label().to_string(), (r.count(), r.size())))
        .collect();
    assert_eq!(rows, want, "{text}");
    assert_eq!(h.rows().len(), 3);
    drop((a, b, bx, s));
}

#[test]
fn tracebacks_go_from_the_allocating_line_outwards() {
    let mark = heapy::hpy().mark();
    let ((v, line), outer) = (make_buffer(3), line!());
    let h = mark.heap();
    let t = h.traceback();
    let frames: Vec<(String, Option<String>, Option<u32>)> = t
        .frames()
        .iter()
        .map(|f| {
            (
                f.function().to_string(),
                f.file().map(str::to_string),
                f.line(),
            )
        })
        .collect();
    assert_eq!(
        frames[0],
        (
            "scoped::sites::make_buffer".to_string(),
            Some("tests/scoped/sites.rs".to_string()),
            Some(line)
        )
    );
    assert_eq!(
        frames[1],
        (
            "scoped::sites::tracebacks_go_from_the_allocating_line_outwards".to_string(),
            Some("tests/scoped/sites.rs".to_string()),
            Some(outer)
        )
    );
    let text = t.to_string();
    assert!(
        text.starts_with("Traceback of 1 object (24 bytes), most recent call first:\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\n  tests/scoped/sites.rs:{line} scoped::sites::make_buffer\n"
        )),
        "{text}"
    );
    // The same for a row of bysite() and for the object itself.
    assert_eq!(h.bysite().row(0).traceback(), t);
    assert_eq!(
        h.theone().unwrap().site(),
        format!("tests/scoped/sites.rs:{line} scoped::sites::make_buffer")
    );
    drop(v);
}

#[test]
fn closures_are_their_own_sites() {
    let mark = heapy::hpy().mark();
    let make = || (vec![1u8; 5], line!());
    let (v, line) = make();
    let h = mark.heap();
    assert_eq!(
        h.theone().unwrap().site(),
        format!("tests/scoped/sites.rs:{line} scoped::sites::closures_are_their_own_sites::{{closure#0}}")
    );
    drop(v);
}
