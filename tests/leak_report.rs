//! `HEAPY_LEAKS=report` and `Census::report_leaks_at_exit()`: the leak report printed at
//! process exit. The test runs this same test binary again as a child process (only the
//! `child_*` test, with the environment variable set or not, asking for the report in code
//! or not) and reads what the child printed on standard error when it exited.

mod common;

use std::alloc::{GlobalAlloc, Layout};
use std::cell::RefCell;
use std::ffi::OsStr;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Two censuses over heapy's one process-wide registry: a plain one, and one that asks for
/// the report in code. Either frees what the other made (same inner allocator, same trailer).
static PLAIN: heapy::Census = heapy::Census::new();
static ASKING: heapy::Census = heapy::Census::new().report_leaks_at_exit();
/// Set by a child that asks for the report in code: from then on allocations go through
/// `ASKING`. Relaxed: it only picks which census forwards; it publishes nothing else.
static IN_CODE: AtomicBool = AtomicBool::new(false);

/// The global allocator: forwards to `PLAIN`, or to `ASKING` once `IN_CODE` is set.
struct Switch;

impl Switch {
    fn census(&self) -> &'static heapy::Census {
        if IN_CODE.load(Ordering::Relaxed) {
            &ASKING
        } else {
            &PLAIN
        }
    }
}

// SAFETY: every call forwards unchanged to a `Census<System>`; both censuses allocate,
// free and reallocate the same way, so a block may be freed by either.
unsafe impl GlobalAlloc for Switch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.census().alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.census().alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on (see the impl's comment).
        unsafe { self.census().dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on (see the impl's comment).
        unsafe { self.census().realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static C: Switch = Switch;

struct Node {
    next: RefCell<Option<Rc<Node>>>,
    _payload: [u64; 23],
}

/// Bytes of one `Rc<Node>` allocation: the two counts and the value.
const RC_NODE: usize = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Node>();

/// Set in the child's environment: the child test does its work only then (`code`: it also
/// asks for the report in code).
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
    match std::env::var(CHILD).as_deref() {
        Ok("code") => {
            IN_CODE.store(true, Ordering::Relaxed);
            leak_a_cycle();
        }
        Ok(_) => leak_a_cycle(),
        Err(_) => {}
    }
}

/// Runs `child_leaks_a_cycle` in a child process with `HEAPY_LEAKS` set to `value` (unset
/// for `None`); returns its standard error.
fn run_child(value: Option<&str>) -> String {
    run_child_asking(value, false)
}

/// As `run_child`; with `in_code`, the child also asks for the report in code (its census
/// is built with `report_leaks_at_exit()`).
fn run_child_asking(value: Option<&str>, in_code: bool) -> String {
    let child = if in_code { "code" } else { "1" };
    let env = [
        (CHILD, Some(OsStr::new(child))),
        ("HEAPY_LEAKS", value.map(OsStr::new)),
    ];
    let out = common::rerun("child_leaks_a_cycle", &env, &["--quiet"]);
    assert!(out.status.success(), "child failed: {out:?}");
    String::from_utf8(out.stderr).unwrap()
}

/// The (count, size) of the row of `kind` in the report's partition table.
fn row_of(report: &str, kind: &str) -> Option<(usize, usize)> {
    common::printed_rows(report)
        .into_iter()
        .find(|r| r.label == kind)
        .map(|r| (r.count, r.size))
}

#[test]
fn heapy_leaks_report_prints_the_cycle_at_exit() {
    assert_reports_the_cycle(&run_child(Some("report")));
}

/// Checks that `err` is a leak report holding the ring of four `ExitCycle` nodes.
fn assert_reports_the_cycle(err: &str) {
    assert!(err.contains("unreachable objects ("), "no report:\n{err}");
    assert_eq!(row_of(err, "ExitCycle"), Some((4, 4 * RC_NODE)), "{err}");
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
    // The report is the last thing written at exit, and it ends its last line.
    assert!(
        err.ends_with('\n'),
        "the report's last line is not ended:\n{err:?}"
    );
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

#[test]
fn report_leaks_at_exit_prints_the_cycle_without_the_variable() {
    assert_reports_the_cycle(&run_child_asking(None, true));
}

#[test]
fn a_report_asked_in_code_wins_over_an_unknown_value() {
    let err = run_child_asking(Some("yes"), true);
    assert!(!err.contains("is not \"report\""), "{err}");
    assert_reports_the_cycle(&err);
}
