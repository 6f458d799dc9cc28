//! Kinds without the project's flags: the `kinds` example built with no RUSTFLAGS (no frame
//! pointers, legacy symbol mangling) into its own target directory. Stacks then come from
//! the unwinder, symbols carry no generic arguments, and every kind falls back to the call
//! site: the function that allocated. One build (a few minutes on CI, once).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// Rows of a partition table the example printed: label → (count, size).
fn rows(table: &str) -> BTreeMap<String, (usize, usize)> {
    let mut out = BTreeMap::new();
    for r in common::printed_rows(table) {
        let e = out.entry(r.label).or_insert((0, 0));
        e.0 += r.count;
        e.1 += r.size;
    }
    out
}

#[test]
fn without_the_flags_kinds_are_call_sites() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target").join("no-flags");
    common::cargo_build(
        &root,
        &target,
        // Empty RUSTFLAGS replace the config's flags.
        "",
        &[
            "build",
            // Only the library's package: the workspace's default members would unify the
            // CLI's features (plotters and its font stack) into this build.
            "-p",
            "heapy",
            "--example",
            "kinds",
            "--no-default-features",
        ],
    );
    let run = Command::new(target.join("debug").join("examples").join("kinds"))
        .current_dir(&root)
        .output()
        .expect("the example runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = String::from_utf8(run.stdout).unwrap();
    let mut tables = out.split("\n\n");
    let (kinds, sites) = (tables.next().unwrap(), tables.next().unwrap());
    let kinds = rows(kinds);
    // Every kind is the allocating function; Rc and Arc both come from `shared`.
    let names: Vec<(&str, usize)> = kinds.iter().map(|(k, v)| (k.as_str(), v.0)).collect();
    assert_eq!(
        names,
        [
            ("kinds::boxed", 1),
            ("kinds::index", 1),
            ("kinds::names", 1),
            ("kinds::people", 1),
            ("kinds::queue", 1),
            ("kinds::shared", 2),
            ("kinds::sorted", 1),
        ],
        "{out}"
    );
    // The bytes are the same objects' whatever the flags: spot-check the plain ones.
    assert_eq!(kinds["kinds::people"].1, 4 * 8, "{out}");
    assert_eq!(kinds["kinds::boxed"].1, 8, "{out}");
    assert_eq!(kinds["kinds::names"].1, "ada-1815".len(), "{out}");
    assert_eq!(kinds["kinds::shared"].1, 2 * 24, "{out}");
    // Sites still have files and lines (debug info), one per allocating line.
    let sites = rows(sites);
    assert_eq!(sites.len(), 8, "{out}");
    let src = std::fs::read_to_string(root.join("examples/kinds.rs")).unwrap();
    for (label, (count, _)) in &sites {
        assert_eq!(*count, 1, "{label}");
        let (place, function) = label.split_once(' ').unwrap();
        let line: usize = place
            .strip_prefix("examples/kinds.rs:")
            .unwrap()
            .parse()
            .unwrap();
        // The line is inside the function the label names.
        let name = function.strip_prefix("kinds::").unwrap();
        let start = src
            .lines()
            .position(|l| l.starts_with(&format!("fn {name}(")))
            .unwrap()
            + 1;
        assert!(line > start && line < start + 10, "{label}");
    }
    assert!(!out.contains("Vec<"), "{out}");
}
