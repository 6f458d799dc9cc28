//! `#[heapy::profile]`: the line table of a function with a loop, a drop and a growing Vec,
//! compared with the exact increments the code makes (thread mode, so other tests running
//! in parallel do not disturb it).
#![cfg(feature = "macros")]

const MIB: i64 = 1 << 20;

#[heapy::profile(thread, precision = 5, stream = none)]
fn work(n: u64) -> usize {
    let a = vec![0u8; 1 << 20];
    let mut v: Vec<u64> = Vec::with_capacity(2);
    for i in 0..n {
        v.push(i);
    }
    // a comment line
    drop(a);
    let s = String::from("kept");

    v.len() + s.len()
}

#[test]
fn line_table_has_exact_increments() {
    assert_eq!(work(5), 9);
    let p = heapy::LineProfile::last().expect("a profile");
    let text = p.to_string();
    println!("{text}");
    let row = |needle: &str| {
        p.rows()
            .find(|r| r.text().trim() == needle)
            .unwrap_or_else(|| panic!("no row {needle:?} in\n{text}"))
            .clone()
    };
    assert!(p.thread_only());
    assert_eq!(p.entry_bytes(), 0);
    let attr = row("#[heapy::profile(thread, precision = 5, stream = none)]");
    assert_eq!(attr.mem_bytes(), Some(0));
    assert_eq!(attr.occurrences(), 1);

    let a = row("let a = vec![0u8; 1 << 20];");
    assert_eq!(
        (a.mem_bytes(), a.increment_bytes(), a.occurrences()),
        (Some(MIB), Some(MIB), 1)
    );

    let v = row("let mut v: Vec<u64> = Vec::with_capacity(2);");
    assert_eq!(
        (v.mem_bytes(), v.increment_bytes()),
        (Some(MIB + 16), Some(16))
    );

    // The header: once per iteration and once for the final test.
    let header = row("for i in 0..n {");
    assert_eq!(header.occurrences(), 6);
    assert_eq!(header.increment_bytes(), Some(0));

    // Pushes 1 and 2 fit; push 3 grows 2 -> 4 (16 -> 32 bytes), push 5 grows 4 -> 8 (64).
    let push = row("v.push(i);");
    assert_eq!(push.occurrences(), 5);
    assert_eq!(push.increment_bytes(), Some(64 - 16));
    assert_eq!(push.mem_bytes(), Some(MIB + 64));

    let drop_a = row("drop(a);");
    assert_eq!(
        (drop_a.mem_bytes(), drop_a.increment_bytes()),
        (Some(64), Some(-MIB))
    );

    let s = row("let s = String::from(\"kept\");");
    assert_eq!(s.increment_bytes(), Some(4));

    let tail = row("v.len() + s.len()");
    assert_eq!(
        (tail.mem_bytes(), tail.increment_bytes(), tail.occurrences()),
        (Some(68), Some(0), 1)
    );

    for blank in ["// a comment line", "", "}", "fn work(n: u64) -> usize {"] {
        assert_eq!(row(blank).occurrences(), 0, "{blank:?}");
    }
    // Increments add up to the heap after the last line.
    let sum: i64 = p.rows().filter_map(|r| r.increment_bytes()).sum();
    assert_eq!(sum, 68);

    // memory_profiler's layout, with precision 5.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Filename: ") && lines[0].ends_with("profile_lines.rs"));
    assert_eq!(lines[1], "");
    assert_eq!(
        lines[2],
        "Line #    Mem usage    Increment  Occurrences   Line Contents"
    );
    assert_eq!(lines[3], "=".repeat(61));
    let l = a.line();
    assert_eq!(
        lines.iter().find(|x| x.contains("let a = vec!")).unwrap(),
        &format!(
            "{l:>6}   1.00000 MiB   1.00000 MiB           1       let a = vec![0u8; 1 << 20];"
        )
    );
    let l = drop_a.line();
    assert_eq!(
        lines.iter().find(|x| x.contains("drop(a)")).unwrap(),
        &format!("{l:>6}   0.00006 MiB  -1.00000 MiB           1       drop(a);")
    );
    let l = row("fn work(n: u64) -> usize {").line();
    assert_eq!(
        lines.iter().find(|x| x.contains("fn work")).unwrap(),
        &format!("{l:>6}{}fn work(n: u64) -> usize {{", " ".repeat(41))
    );
    assert!(text.ends_with("}\n\n\n"));
}

/// The layout of memory_profiler 0.61.0's own output (shared/reference), rebuilt from a
/// profile with the same figures: precision 1, and the rows as memory_profiler printed them.
#[test]
fn layout_matches_memory_profiler() {
    #[heapy::profile(thread, stream = none)]
    fn one_line() -> Vec<u8> {
        vec![0u8; 1 << 20]
    }
    drop(one_line());
    let p = heapy::LineProfile::last().unwrap();
    let text = p.to_string();
    let row = text
        .lines()
        .find(|l| l.contains("vec![0u8; 1 << 20]"))
        .unwrap();
    let reference = "     4     30.8 MiB      7.6 MiB           1       a = [1] * (10 ** 6)";
    // Same columns: line number, two 12-wide MiB columns, occurrences, then the source.
    assert_eq!(row.find(" MiB"), reference.find(" MiB"));
    assert_eq!(row.rfind(" MiB"), reference.rfind(" MiB"));
    assert_eq!(
        &row[6..],
        "      1.0 MiB      1.0 MiB           1           vec![0u8; 1 << 20]"
    );
}
