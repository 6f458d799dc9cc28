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
//! threads snapshot, 300 forks under `HEAPY_MPROF`) for the figures in the issue:
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
/// Set in the environment of item 3's forking process when a thread of it calls a profiled
/// function in a loop meanwhile.
const CALLER: &str = "HEAPY_FORK_TEST_CALLER";
/// The size a fork child holds when it exits under `HEAPY_MPROF`: a sample it wrote into
/// the parent's file would show it (the parent's heap never comes near it).
const CHILD_BLOCK: usize = 256 << 20;

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
            // A panic in the child must not unwind into its copy of the test harness.
            let status =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(&child)).unwrap_or(2);
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

// ---------------------------------------------------------------------------------------
// Item 3: fork under `HEAPY_MPROF`; the child exits (atexit handlers run).

/// A profiled function: each call that returns while the recorder runs writes one FUNC
/// line into the recorder's file.
#[heapy::profile(stream = none)]
fn profiled() -> usize {
    let v: Vec<u8> = Vec::with_capacity(100);
    std::hint::black_box(v).capacity()
}

/// The forking process of item 3: the recorder started by `HEAPY_MPROF` samples every
/// millisecond (and, with `CALLER` set, another thread calls a profiled function in a loop,
/// each call writing a line) while this thread forks; each fork child holds `CHILD_BLOCK` bytes and exits
/// through `exit()`, which runs the recorder's atexit handler. The parent's file is read
/// afterwards by the test.
#[test]
fn mprof_forker() {
    let Some(n) = forks() else { return };
    let stop = AtomicBool::new(false);
    let (counts, calls) = std::thread::scope(|s| {
        let caller = s.spawn(|| {
            let mut calls = 0usize;
            // Relaxed: a stop signal; nothing is published with it.
            while std::env::var_os(CALLER).is_some() && !stop.load(Ordering::Relaxed) {
                std::hint::black_box(profiled());
                calls += 1;
            }
            calls
        });
        let counts = fork_children(n, true, || {
            let big: Vec<u8> = Vec::with_capacity(CHILD_BLOCK);
            core::mem::forget(big);
            0
        });
        // Relaxed: see the loop.
        stop.store(true, Ordering::Relaxed);
        (counts, caller.join().unwrap())
    });
    println!(
        "forks={} hung={} failed={} calls={calls}",
        counts.forks, counts.hung, counts.failed
    );
}

/// Runs item 3's forker on `n` forks; returns its counts and how many samples of the
/// parent's file came from a fork child (they hold the child's block), and checks that the
/// file holds one FUNC line per profiled call of the parent (a child that flushed the
/// parent's buffer would write some twice).
fn mprof_run(n: usize, caller: bool) -> (Counts, String, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.dat");
    let n = n.to_string();
    let (c, line) = counts_of(
        "mprof_forker",
        &[
            (FORKS, Some(OsStr::new(&n))),
            ("HEAPY_MPROF", Some(path.as_os_str())),
            ("HEAPY_MPROF_INTERVAL", Some(OsStr::new("0.001"))),
            (CALLER, caller.then_some(OsStr::new("1"))),
        ],
    );
    let t = heapy::mprof::Timeline::load(&path).unwrap();
    assert!(t.cmdline().unwrap().contains("mprof_forker"));
    let calls: usize = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("calls=")?.parse().ok())
        .unwrap();
    assert_eq!(t.funcs().len(), calls, "{line}");
    let from_children = t
        .mem()
        .iter()
        .filter(|s| s.mib >= (CHILD_BLOCK >> 20) as f64)
        .count();
    // Only the parent's file: a child writes none of its own.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, [OsStr::new("run.dat")]);
    (c, line, from_children)
}

#[test]
fn a_fork_child_exits_under_mprof_without_hanging_or_writing() {
    let (c, line, from_children) = mprof_run(60, true);
    assert_eq!(
        c,
        Counts {
            forks: 60,
            hung: 0,
            failed: 0
        },
        "{line}"
    );
    assert_eq!(
        from_children, 0,
        "samples written by fork children ({line})"
    );
}

/// The audit's run for item 3: 300 forks under `HEAPY_MPROF` (the recorder's thread
/// alone).
#[test]
#[ignore = "the audit-sized run, for the figures"]
fn mprof_audit() {
    let (c, line, from_children) = mprof_run(300, false);
    println!("item 3: {line} samples-from-children={from_children}");
    assert_eq!((c.hung, c.failed, from_children), (0, 0, 0), "{line}");
}

/// The recorder a fork child of `recorder_forker` finds (the test's own lock, touched by
/// the forking thread only).
static INHERITED: std::sync::Mutex<Option<heapy::Recorder>> = std::sync::Mutex::new(None);

/// Item 3 for a `Recorder` the program started itself: each fork child stops (drops) the
/// recorder it inherited. In a child the recorder's thread does not exist and the file is
/// the parent's: `stop` says no recorder runs here, at once, and writes nothing.
#[test]
fn recorder_forker() {
    let Some(n) = forks() else { return };
    let path = std::env::var_os("HEAPY_FORK_TEST_DAT").unwrap();
    let rec = heapy::Recorder::start_every(&path, Duration::from_millis(1)).unwrap();
    *INHERITED.lock().unwrap() = Some(rec);
    let counts = fork_children(n, true, || {
        let big: Vec<u8> = Vec::with_capacity(CHILD_BLOCK);
        core::mem::forget(big);
        let rec = INHERITED.lock().unwrap().take().unwrap();
        match rec.stop() {
            Err(heapy::Error::NotRecording) => 0,
            _ => 1,
        }
    });
    let rec = INHERITED.lock().unwrap().take().unwrap();
    assert_eq!(rec.stop().unwrap(), std::path::Path::new(&path));
    println!(
        "forks={} hung={} failed={}",
        counts.forks, counts.hung, counts.failed
    );
}

#[test]
fn a_fork_child_stops_an_inherited_recorder_without_hanging_or_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("own.dat");
    let (c, line) = counts_of(
        "recorder_forker",
        &[
            (FORKS, Some(OsStr::new("20"))),
            ("HEAPY_FORK_TEST_DAT", Some(path.as_os_str())),
        ],
    );
    assert_eq!(
        c,
        Counts {
            forks: 20,
            hung: 0,
            failed: 0
        },
        "{line}"
    );
    let t = heapy::mprof::Timeline::load(&path).unwrap();
    let from_children = t
        .mem()
        .iter()
        .filter(|s| s.mib >= (CHILD_BLOCK >> 20) as f64)
        .count();
    assert_eq!(
        from_children, 0,
        "samples written by fork children ({line})"
    );
}
