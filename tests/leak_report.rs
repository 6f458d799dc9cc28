//! `HEAPY_LEAKS=report`: the leak report printed at process exit. The test runs this same
//! test binary again as a child process (only the `child_*` test, with the environment
//! variable set or not) and reads what the child printed on standard error when it exited.

#[global_allocator]
static C: heapy::Census = heapy::Census::new();

use std::cell::RefCell;
use std::hint::black_box;
use std::process::Command;
use std::rc::Rc;

struct Node {
    next: RefCell<Option<Rc<Node>>>,
    _payload: [u64; 23],
}

/// Bytes of one `Rc<Node>` allocation: the two counts and the value.
const RC_NODE: usize = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Node>();

/// Set in the child's environment: the child test does its work only then.
const CHILD: &str = "HEAPY_LEAK_REPORT_CHILD";

/// A ring of four nodes, dropped: reference counting can never free it. Built on a thread
/// that then exits, so no stale word of a dead frame can make it look reachable.
fn leak_a_cycle() {
    std::thread::spawn(|| {
        let nodes: Vec<Rc<Node>> = (0..4)
            .map(|_| {
                heapy::with_kind("ExitCycle", || {
                    Rc::new(Node {
                        next: RefCell::new(None),
                        _payload: [1; 23],
                    })
                })
            })
            .collect();
        for i in 0..4 {
            *nodes[i].next.borrow_mut() = Some(nodes[(i + 1) % 4].clone());
        }
        black_box(&nodes);
    })
    .join()
    .unwrap();
}

#[test]
fn child_leaks_a_cycle() {
    if std::env::var_os(CHILD).is_some() {
        leak_a_cycle();
    }
}

/// Runs `child_leaks_a_cycle` in a child process with `HEAPY_LEAKS` set to `value` (unset
/// for `None`); returns its standard error.
fn run_child(value: Option<&str>) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_leaks_a_cycle",
        "--test-threads=1",
        "--quiet",
    ])
    .env(CHILD, "1");
    match value {
        Some(v) => cmd.env("HEAPY_LEAKS", v),
        None => cmd.env_remove("HEAPY_LEAKS"),
    };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "child failed: {out:?}");
    String::from_utf8(out.stderr).unwrap()
}

/// The (count, size) of the row of `kind` in the report's partition table
/// (`Index Count % Size % Cumulative % Kind`).
fn row_of(report: &str, kind: &str) -> Option<(usize, usize)> {
    report.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        if cols.len() != 8 || cols[7] != kind {
            return None;
        }
        Some((cols[1].parse().ok()?, cols[3].parse().ok()?))
    })
}

#[test]
fn heapy_leaks_report_prints_the_cycle_at_exit() {
    let err = run_child(Some("report"));
    assert!(err.contains("unreachable objects ("), "no report:\n{err}");
    assert_eq!(row_of(&err, "ExitCycle"), Some((4, 4 * RC_NODE)), "{err}");
    // The cycles view shows the ring as one strongly connected component of four objects,
    // each listed with its kind.
    let lines: Vec<&str> = err.lines().collect();
    let head = format!("objects, {} bytes", 4 * RC_NODE);
    let at = lines
        .iter()
        .position(|l| l.starts_with("Cycle ") && l.contains(": 4 ") && l.ends_with(&head))
        .unwrap_or_else(|| panic!("no cycle of four nodes:\n{err}"));
    let members = lines[at + 2..]
        .iter()
        .take_while(|l| !l.starts_with("Cycle "))
        .filter(|l| l.contains(" ExitCycle"))
        .count();
    assert_eq!(members, 4, "{err}");
}

#[test]
fn no_report_without_the_variable() {
    let err = run_child(None);
    assert!(!err.contains("heapy:"), "unexpected report:\n{err}");
}

#[test]
fn an_unknown_value_is_named_at_exit() {
    let err = run_child(Some("yes"));
    assert_eq!(
        err,
        "heapy: HEAPY_LEAKS=\"yes\" is not \"report\"; no leak report (set HEAPY_LEAKS=report)\n"
    );
}
