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

/// Parses a JSON document with serde_json (a real registry crate, allocating deep in its own
/// code), returning the line of the call.
#[inline(never)]
fn parse_json() -> (serde_json::Value, u32) {
    let text = r#"{"name": "ann", "tags": ["a", "b"], "age": 42}"#;
    (serde_json::from_str(text).unwrap(), line!())
}

#[test]
fn a_dependencys_allocations_are_sited_in_the_program_and_its_frames_print_short() {
    let mark = heapy::hpy().mark();
    let (value, line) = parse_json();
    let h = mark.heap();
    // Every object serde_json made is sited at the program's line that called it, not in
    // serde_json's code.
    let sites = h.bysite();
    let labels: Vec<&str> = sites.rows().map(|r| r.label()).collect();
    assert_eq!(
        labels,
        [format!(
            "tests/scoped/sites.rs:{line} scoped::sites::parse_json"
        )],
        "{}",
        sites.all()
    );
    // Its frames stay in the traceback, printed from the crate's directory; the frame keeps
    // the path the debug info gives.
    let t = sites.row(0).traceback();
    let text = t.to_string();
    assert!(!text.contains("/registry/"), "{text}");
    let dep = t
        .frames()
        .iter()
        .find(|f| f.function().starts_with("serde_json::"))
        .unwrap_or_else(|| panic!("no serde_json frame: {text}"));
    let file = dep.file().expect("debug info");
    let at = file.find("serde_json-1.0.").expect("a registry path");
    assert!(
        file.starts_with('/') && file[..at].contains("/registry/src/"),
        "{file}"
    );
    assert_eq!(
        dep.to_string(),
        format!("{}:{} {}", &file[at..], dep.line().unwrap(), dep.function())
    );
    assert!(text.contains(&format!("  {dep}\n")), "{text}");
    // `{:#}`: the same frames, each file as the debug info gives it.
    let full = format!("{t:#}");
    assert!(full.contains(&format!("  {dep:#}\n")), "{full}");
    assert!(
        full.contains(&format!(
            "  {file}:{} {}\n",
            dep.line().unwrap(),
            dep.function()
        )),
        "{full}"
    );
    // The program's frame is there too, below serde_json's.
    let own = format!("  tests/scoped/sites.rs:{line} scoped::sites::parse_json\n");
    assert!(text.find(&own) > text.find(&format!("  {dep}\n")), "{text}");
    drop(value);
}

#[derive(Clone, Default)]
struct Wrapper<T>(T);

/// A generic function whose full name is long: its type argument nests three deep.
#[inline(never)]
fn hold_generic<T: Clone>(x: T) -> (Vec<T>, u32) {
    (vec![x; 3], line!())
}

#[test]
fn a_long_generic_name_is_elided_in_the_site_and_whole_in_the_traceback() {
    type Deep = Wrapper<Wrapper<std::collections::BTreeMap<u8, String>>>;
    let mark = heapy::hpy().mark();
    let (v, line) = hold_generic(Deep::default());
    let h = mark.heap();
    let full = "scoped::sites::hold_generic::<scoped::sites::Wrapper<scoped::sites::Wrapper<\
                alloc::collections::btree::map::BTreeMap<u8, alloc::string::String>>>>";
    let t = h.traceback();
    assert_eq!(t.frames()[0].function(), full, "{t}");
    assert!(
        t.to_string()
            .contains(&format!("  tests/scoped/sites.rs:{line} {full}\n")),
        "{t}"
    );
    // The table's label keeps the first level of arguments, and `<…>` below it.
    assert_eq!(
        h.theone().unwrap().site(),
        format!(
            "tests/scoped/sites.rs:{line} scoped::sites::hold_generic::<scoped::sites::Wrapper<…>>"
        )
    );
    let sites = h.bysite();
    assert_eq!(
        sites.rows().map(|r| r.label()).collect::<Vec<_>>(),
        [h.theone().unwrap().site()]
    );
    // The table's alternate form (`heapy view --full`): the same row with the full name.
    let short = format!(
        "tests/scoped/sites.rs:{line} scoped::sites::hold_generic::<scoped::sites::Wrapper<…>>"
    );
    let long = format!("tests/scoped/sites.rs:{line} {full}");
    let row = sites.rows().next().unwrap();
    assert_eq!(
        (row.label(), row.full_label()),
        (short.as_str(), long.as_str())
    );
    let (text, alt) = (sites.to_string(), format!("{sites:#}"));
    assert!(text.ends_with(&format!(" {short}\n")), "{text}");
    assert_eq!(alt, text.replace(&short, &long));
    // Views other than sites print the same either way.
    assert_eq!(format!("{:#}", h.bykind()), h.bykind().to_string());
    // So does a difference by site: its row's full label, and `{:#}` of the table.
    let d = sites.diff(&(&h - &h));
    let row = d.get(0).unwrap();
    assert_eq!(
        (row.label(), row.full_label(), row.count()),
        (short.as_str(), long.as_str(), 1)
    );
    let text = d.to_string();
    assert!(text.ends_with(&format!(" {short}\n")), "{text}");
    assert_eq!(format!("{d:#}"), text.replace(&short, &long));
    drop(v);
}
