//! `fork()` from a program that uses heapy (issue 11, items 2 and 3). A child of a
//! multi-threaded program may snapshot, and may exit while a recorder runs; it must not hang
//! on a lock that a thread of its parent held at the fork, and must not write into its
//! parent's `.dat` file.
//!
//! Forking changes the process, so each test here runs this binary again as a child process
//! (`common::rerun`): that process starts its threads, forks many times, waits for every
//! fork child with a deadline (a child still running then is counted as hung and killed),
//! and prints what it counted; the test reads the counts.
//!
//! The `#[ignore]`d `*_audit` tests repeat the runs at the audit's size (30 forks while
//! threads snapshot) for the figures in the issue:
//! `cargo test -p heapy --test fork -- --ignored --nocapture`.

use std::ffi::OsStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod common;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// Set in the environment of the process that forks: its number of forks.
const FORKS: &str = "HEAPY_FORK_TEST_FORKS";
/// How long a fork child may take before it counts as hung, in seconds (a child that does
/// not hang takes milliseconds; the deadline only bounds how long a hang is waited for).
const DEADLINE: &str = "HEAPY_FORK_TEST_DEADLINE";
/// What happened to the fork children.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    forks: usize,
    /// Still running at the deadline (killed then).
    hung: usize,
    /// Ended otherwise than by exit status 0.
    failed: usize,
}

fn forks() -> Option<usize> {
    std::env::var(FORKS).ok().map(|n| n.parse().unwrap())
}

fn deadline() -> Duration {
    let secs = std::env::var(DEADLINE).map_or(10.0, |s| s.parse().unwrap());
    Duration::from_secs_f64(secs)
}

/// Forks `n` times, one at a time; each child runs `child` and exits as it returns (`exit`
/// with its status: atexit handlers run) or with `_exit` when `run_exit_handlers` is
/// false. Waits for each child until the deadline.
fn fork_children(n: usize, run_exit_handlers: bool, child: impl Fn() -> i32) -> Counts {
    let mut c = Counts {
        forks: n,
        ..Counts::default()
    };
    for _ in 0..n {
        // SAFETY: fork has no preconditions; the child only runs `child` and exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let status = child();
            // SAFETY: ends the child: exit runs the atexit handlers (the recorder's), _exit
            // does not.
            unsafe {
                if run_exit_handlers {
                    libc::exit(status)
                } else {
                    libc::_exit(status)
                }
            }
        }
        let start = Instant::now();
        let mut status = 0;
        loop {
            // SAFETY: `pid` is our child; `status` is writable.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                    c.failed += 1;
                }
                break;
            }
            assert_eq!(r, 0, "waitpid: {}", std::io::Error::last_os_error());
            if start.elapsed() > deadline() {
                c.hung += 1;
                // SAFETY: kills and reaps our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    c
}

/// Runs test `name` again in a child process with `env`, and reads the counts it printed.
fn counts_of(name: &str, env: &[(&str, Option<&OsStr>)]) -> (Counts, String) {
    let out = common::rerun(name, env, &["--nocapture"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.find("forks=").map(|i| l[i..].to_owned()))
        .unwrap_or_else(|| panic!("no counts: {stdout}"));
    let field = |k: &str| -> usize {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("no {k} in {line}"))
    };
    let c = Counts {
        forks: field("forks"),
        hung: field("hung"),
        failed: field("failed"),
    };
    (c, line)
}

// ---------------------------------------------------------------------------------------
// Item 2: fork while other threads take snapshots; the child takes one.

/// The forking process of item 2: threads take snapshots in a loop (new tags, so the tag
/// table grows; forgotten symbols, so stacks are symbolized again under the `backtrace`
/// crate's lock and the caches are written), while this thread forks; each fork child takes
/// a snapshot of its own, classifies it, and exits.
#[test]
fn snapshot_forker() {
    let Some(n) = forks() else { return };
    let stop = AtomicBool::new(false);
    let counts = std::thread::scope(|s| {
        for t in 0..3 {
            let stop = &stop;
            s.spawn(move || {
                let mut i = 0u64;
                // Relaxed: a stop signal; nothing is published with it.
                while !stop.load(Ordering::Relaxed) {
                    let _k = heapy::kind(&format!("fork-test-{t}-{i}"));
                    let b = Box::new(i);
                    if i.is_multiple_of(4) {
                        heapy::__private::forget_symbols();
                    }
                    let h = heapy::hpy().heap();
                    std::hint::black_box(h.bysite().to_string());
                    let m = heapy::hpy().mark();
                    std::hint::black_box(m.heap().count());
                    drop(b);
                    i += 1;
                }
            });
        }
        // Let the threads get going before the first fork.
        std::thread::sleep(Duration::from_millis(50));
        let counts = fork_children(n, false, || {
            let b = Box::new([5u8; 40]);
            let _k = heapy::kind("in the fork child");
            let h = heapy::hpy().heap();
            let text = h.bykind().to_string();
            let ok = h.objects().any(|o| o.address() == b.as_ptr() as usize)
                && text.contains("Partition of a set of");
            drop(b);
            if ok {
                0
            } else {
                1
            }
        });
        // Relaxed: see the loop.
        stop.store(true, Ordering::Relaxed);
        counts
    });
    println!(
        "forks={} hung={} failed={}",
        counts.forks, counts.hung, counts.failed
    );
}

fn snapshot_run(n: usize) -> (Counts, String) {
    let n = n.to_string();
    counts_of("snapshot_forker", &[(FORKS, Some(OsStr::new(&n)))])
}

#[test]
fn a_fork_child_snapshots_while_parent_threads_snapshot() {
    let (c, line) = snapshot_run(20);
    assert_eq!(
        c,
        Counts {
            forks: 20,
            hung: 0,
            failed: 0
        },
        "{line}"
    );
}

/// The audit's run for item 2: 30 forks while threads snapshot.
#[test]
#[ignore = "the audit-sized run, for the figures (about 10 s when nothing hangs)"]
fn snapshot_audit() {
    let (c, line) = snapshot_run(30);
    println!("item 2: {line}");
    assert_eq!((c.hung, c.failed), (0, 0), "{line}");
}
