//! `HEAPY_STACKS` read from a real environment: the test runs this same binary again as a
//! child process (only the `child_reports` test) with the variable set, and reads what the
//! child's census recorded for one untagged box.

#[global_allocator]
static C: heapy::Census = heapy::Census::new();

use std::ffi::OsStr;

mod common;

/// Set in the child's environment: the child test reports only then.
const CHILD: &str = "HEAPY_STACKS_ENV_CHILD";

#[test]
fn child_reports() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let mark = heapy::hpy().mark();
    let line = line!() + 1;
    let b = Box::new([7u8; 48]);
    let h = mark.heap();
    let o = h.theone().unwrap();
    let site = match o.site() {
        s if s == format!("tests/stacks_env.rs:{line} stacks_env::child_reports") => "exact",
        s => s,
    };
    println!(
        "kind={} size={} site={site} rate={:?}",
        o.kind(),
        o.size(),
        h.sample_rate()
    );
    drop(b);
}

/// What the child recorded with `HEAPY_STACKS` set to `value` (unset for `None`), and
/// its standard error.
fn child_and_stderr(value: Option<&str>) -> (String, String) {
    let env = [
        (CHILD, Some(OsStr::new("1"))),
        ("HEAPY_STACKS", value.map(OsStr::new)),
    ];
    let out = common::rerun("child_reports", &env, &["--nocapture"]);
    assert!(out.status.success(), "child failed: {out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report = stdout
        .lines()
        // libtest prints `test child_reports ... ` on the same line first.
        .find_map(|l| l.find("kind=").map(|i| l[i..].to_owned()))
        .unwrap_or_else(|| panic!("no report: {stdout}"));
    (report, String::from_utf8(out.stderr).unwrap())
}

/// What the child recorded, checking that it warned about nothing.
fn child(value: Option<&str>) -> String {
    let (report, stderr) = child_and_stderr(value);
    assert!(!stderr.contains("heapy:"), "{value:?}: {stderr}");
    report
}

#[test]
fn heapy_stacks_chooses_what_is_captured() {
    // The project builds with frame pointers and v0 mangling: by default, and with `fp` or
    // `unwind`, the box is named by its type and has a call site.
    for v in [None, Some("fp"), Some("unwind")] {
        assert_eq!(
            child(v),
            "kind=Box<[u8; 48]> size=48 site=exact rate=None",
            "{v:?}"
        );
    }
    // Off: no stack, so no type and no site.
    assert_eq!(
        child(Some("off")),
        "kind=<untagged> size=48 site=<no stack> rate=None"
    );
    // Sampled every byte on average: a 48-byte block is sampled with probability
    // 1 - exp(-48), that is always; the snapshot says it was sampled.
    assert_eq!(
        child(Some("sample:1")),
        "kind=Box<[u8; 48]> size=48 site=exact rate=Some(1)"
    );
}

#[test]
fn a_bad_value_is_named_and_ignored() {
    let (report, stderr) = child_and_stderr(Some("sideways"));
    assert_eq!(report, "kind=Box<[u8; 48]> size=48 site=exact rate=None");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("heapy: "))
            .collect::<Vec<_>>(),
        [
            "heapy: HEAPY_STACKS=\"sideways\" is not one of off, fp, unwind, sample:<bytes>; \
          ignored (stacks are captured as the program's Census says)"
        ]
    );
}
