//! The pointer scan reads the process as of one instant: the other threads are stopped for
//! a moment and a frozen copy of the process is scanned, so a pointer that moves while the
//! scan runs cannot make its object look leaked. Its own binary: it sets the scan hook and
//! signal handlers (whole-process facts); the tests that change the process run in a child.

#[global_allocator]
static C: heapy::Census = heapy::Census::new();

use std::ffi::OsStr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use heapy::__private::{set_scan_hook, ScanPoint};

mod common;

/// Set in the child's environment: the child tests run only then.
const CHILD: &str = "HEAPY_GRAPH_STOP_CHILD";
/// Addresses the test must keep out of its own frames and registers are stored XORed.
const MASK: usize = 0x5a5a_5a5a_5a58;

/// The target's address, masked.
static TARGET: AtomicUsize = AtomicUsize::new(0);
/// A root (a static) that holds the target's address at times. Its address is taken (see
/// `make_target`), so that the compiler keeps it in memory as a program's static would be.
static ROOT: AtomicUsize = AtomicUsize::new(0);
/// The address of a reachable heap cell that holds the target's address at other times.
static HOLDER: AtomicUsize = AtomicUsize::new(0);
/// The thread whose scans the hook plays with.
static SCANNER: AtomicU32 = AtomicU32::new(0);

fn tid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// Another thread's part, played at chosen moments of the scan: when a scan begins the
/// pointer sits in a root; once the objects are read (and before the roots are), it moves
/// into an object already read. A scan of the moving process then sees it nowhere.
fn mover(p: ScanPoint) {
    // Relaxed: the test stores these before it scans, on this same thread.
    if tid() != SCANNER.load(Ordering::Relaxed) {
        return;
    }
    let target = TARGET.load(Ordering::Relaxed) ^ MASK;
    // SAFETY: HOLDER is a leaked `Box<AtomicUsize>`, never freed.
    let holder = unsafe { &*(HOLDER.load(Ordering::Relaxed) as *const AtomicUsize) };
    match p {
        ScanPoint::Start => {
            ROOT.store(target, Ordering::Relaxed);
            holder.store(0, Ordering::Relaxed);
        }
        ScanPoint::ObjectsRead => {
            holder.store(target, Ordering::Relaxed);
            ROOT.store(0, Ordering::Relaxed);
        }
        _ => {}
    }
}

/// The target's size: above glibc's mmap threshold, so the block is a fresh mapping that no
/// stale word left on some stack points into (the conservative scan would count that).
const SIZE: usize = 1 << 18;

/// Makes the target (`SIZE` bytes of kind "Moving") and the holder; keeps their addresses
/// only in the statics.
#[inline(never)]
fn make_target() {
    let holder: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    HOLDER.store(holder as *const AtomicUsize as usize, Ordering::Relaxed);
    let target = heapy::with_kind("Moving", || {
        Box::into_raw(vec![7u8; SIZE].into_boxed_slice())
    });
    std::hint::black_box(&ROOT).store(target as *mut u8 as usize, Ordering::Relaxed);
    TARGET.store(target as *mut u8 as usize ^ MASK, Ordering::Relaxed);
}

#[test]
fn a_pointer_that_moves_while_the_scan_runs_is_not_a_leak() {
    // Made on a thread that then exits: no stale copy of the address stays in this
    // thread's frames, where the conservative scan would find it whatever the hook does.
    std::thread::spawn(make_target).join().unwrap();
    SCANNER.store(tid(), Ordering::Relaxed);
    set_scan_hook(Some(mover));
    let u = heapy::hpy().heapu();
    set_scan_hook(None);
    let moving = u.filter(|o| o.kind() == "Moving");
    assert_eq!(
        (moving.count(), moving.size()),
        (0, 0),
        "an object held all along reported as a leak:\n{moving}"
    );
    // The object is live, and now held by the holder, not the root.
    let live = heapy::hpy().heap().filter(|o| o.kind() == "Moving");
    assert_eq!((live.count(), live.size()), (1, SIZE));
    // (This load also keeps the compiler from deleting ROOT, a static only ever stored to.)
    assert_eq!(ROOT.load(Ordering::Relaxed), 0);
}

/// Runs `name` in a child with `env` and returns its standard error, checking it passed.
fn child(name: &str, env: &[(&str, Option<&OsStr>)]) -> String {
    let mut all = vec![(CHILD, Some(OsStr::new("1")))];
    all.extend_from_slice(env);
    let out = common::rerun(name, &all, &["--nocapture"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child {name} failed: {out:?}");
    err
}

/// One leaked 40-byte object of kind `kind`, whose address no frame keeps; its masked address.
#[inline(never)]
fn leak(kind: &'static str) -> usize {
    heapy::with_kind(kind, || Box::into_raw(Box::new([9u8; 40]))) as usize ^ MASK
}

/// Frees what `leak` made.
fn free(masked: usize) {
    // SAFETY: the box `leak` made, restored from its masked address; freed once.
    drop(unsafe { Box::from_raw((masked ^ MASK) as *mut [u8; 40]) });
}

/// A scan that completes with the world not stopped: a held object is not reported, and
/// the leaked one is live (whether a conservative scan of the moving process finds it
/// depends on stale words elsewhere, under a sanitizer say).
fn heapu_completes_and_keeps_what_is_held() {
    let kept = heapy::with_kind("Kept", || Box::new([1u8; 24]));
    let masked = leak("Lost");
    let u = heapy::hpy().heapu();
    assert!(u.filter(|o| o.kind() == "Kept").is_empty(), "{u}");
    let lost = heapy::hpy().heap().filter(|o| o.kind() == "Lost");
    assert_eq!((lost.count(), lost.size()), (1, 40));
    free(masked);
    drop(kept);
}

extern "C" fn programs_handler(_sig: libc::c_int) {}

#[test]
fn child_with_its_own_handler_on_the_stop_signal() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let sig = libc::SIGRTMAX() - 7;
    let mine = programs_handler as extern "C" fn(libc::c_int) as usize;
    // SAFETY: installs a handler that does nothing, for a real-time signal nobody sends.
    unsafe { libc::signal(sig, mine) };
    heapu_completes_and_keeps_what_is_held();
    // SAFETY: reads the current handler without changing it.
    let now = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old);
        old.sa_sigaction
    };
    assert_eq!(now, mine, "heapy replaced the program's handler");
}

#[test]
fn the_programs_handler_on_the_stop_signal_is_left_alone() {
    let err = child("child_with_its_own_handler_on_the_stop_signal", &[]);
    assert!(
        err.contains("has a handler of the program's (choose another with HEAPY_STOP_SIGNAL)"),
        "{err}"
    );
    // Another signal chosen: no warning.
    let other = (libc::SIGRTMAX() - 8).to_string();
    let err = child(
        "child_with_its_own_handler_on_the_stop_signal",
        &[("HEAPY_STOP_SIGNAL", Some(OsStr::new(&other)))],
    );
    assert!(!err.contains("heapy:"), "{err}");
}

#[test]
fn child_with_a_thread_that_blocks_every_signal() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        // SAFETY: blocks every signal on this thread only.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
        }
        ready_tx.send(()).unwrap();
        rx.recv().unwrap();
    });
    ready_rx.recv().unwrap();
    heapu_completes_and_keeps_what_is_held();
    tx.send(()).unwrap();
    t.join().unwrap();
}

#[test]
fn a_thread_that_blocks_the_signal_does_not_hang_the_scan() {
    let err = child("child_with_a_thread_that_blocks_every_signal", &[]);
    assert!(err.contains("did not stop within 2000 ms"), "{err}");
}

#[test]
fn child_with_a_stop_signal_setting() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    heapu_completes_and_keeps_what_is_held();
}

#[test]
fn a_bad_stop_signal_setting_is_named() {
    for bad in ["banana", "9", "1000"] {
        let err = child(
            "child_with_a_stop_signal_setting",
            &[("HEAPY_STOP_SIGNAL", Some(OsStr::new(bad)))],
        );
        assert!(
            err.contains(&format!(
                "HEAPY_STOP_SIGNAL={bad:?} is neither \"off\" nor a real-time signal number"
            )),
            "{bad}: {err}"
        );
    }
    let err = child(
        "child_with_a_stop_signal_setting",
        &[("HEAPY_STOP_SIGNAL", Some(OsStr::new("off")))],
    );
    assert!(!err.contains("heapy:"), "{err}");
}
