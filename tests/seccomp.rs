//! The object graph in a process that may not read its own memory the usual way: a seccomp
//! filter denies `process_vm_readv` (as hardened containers and systemd's
//! `SystemCallFilter=` do). heapy must then read through `/proc/self/mem` and find exactly
//! the objects leaked, or, when that is denied too, say that it cannot read memory: never
//! report a reachable object as a leak.
//!
//! A seccomp filter can never be lifted, so each case runs this test binary again as a child
//! process (only the `child` test, told what to deny by an environment variable) and reads
//! its exit status and standard error.

mod common;

use std::ffi::OsStr;
use std::hint::black_box;
use std::sync::Mutex;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// Set in the child's environment: what its filter denies (`vm:<errno>`: `process_vm_readv`
/// fails with that errno; `all`: `process_vm_readv` and opening files are denied).
const CHILD: &str = "HEAPY_SECCOMP_CHILD";

/// Objects reachable from a static only (the case the issue saw reported as leaks): boxes,
/// so that each is an object of its own.
#[allow(clippy::vec_box)]
static HELD: Mutex<Vec<Box<[u64; 4]>>> = Mutex::new(Vec::new());

/// How many objects of `kind` are in `h`, and their bytes.
fn of_kind(h: &heapy::Heap, kind: &str) -> (usize, usize) {
    let k = h.filter(|o| o.kind() == kind);
    (k.count(), k.size())
}

/// Leaks three boxes of 40 bytes on a thread that then exits (no stale copy of their
/// addresses stays on a live stack).
fn leak_three() {
    std::thread::spawn(|| {
        for _ in 0..3 {
            let p = heapy::with_kind("Leaked", || Box::into_raw(Box::new([7u8; 40])));
            black_box(p as usize ^ 0x5555);
        }
    })
    .join()
    .unwrap();
}

/// Ten boxes held by the static `HELD` (its buffer, reserved first, holds them).
fn hold_ten() {
    heapy::with_kind("Static", || {
        let mut v = HELD.lock().unwrap();
        v.reserve_exact(16);
        for i in 0..10 {
            v.push(Box::new([i; 4]));
        }
    });
}

/// Installs a seccomp filter on every thread of the process: each `(syscall, errno)` pair
/// makes that call fail with that errno; everything else is allowed.
fn deny(calls: &[(libc::c_long, i32)]) {
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = |offset: u32| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
    let ret = |k: u32| stmt(libc::BPF_RET | libc::BPF_K, k);
    // struct seccomp_data: int nr at 0, __u32 arch at 4.
    let mut prog = vec![
        load(4),
        jeq(AUDIT_ARCH, 1, 0),
        ret(libc::SECCOMP_RET_ALLOW),
        load(0),
    ];
    for &(nr, errno) in calls {
        prog.push(jeq(nr as u32, 0, 1));
        prog.push(ret(libc::SECCOMP_RET_ERRNO | errno as u32));
    }
    prog.push(ret(libc::SECCOMP_RET_ALLOW));
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(
        r,
        0,
        "PR_SET_NO_NEW_PRIVS: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `fprog` points to `prog`, a valid filter program that outlives the call (the
    // kernel copies it).
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog as *const libc::sock_fprog,
        )
    };
    assert_eq!(r, 0, "seccomp: {}", std::io::Error::last_os_error());
}

/// The checks of a child whose `process_vm_readv` fails with `errno`: heapu() finds the
/// three leaked boxes and nothing else, before and after the filter, and in a child forked
/// after heapy opened `/proc/self/mem` (which must read its own memory, not the parent's).
fn vm_denied(errno: i32) {
    hold_ten();
    let local: Vec<Box<[u64; 3]>> =
        heapy::with_kind("Local", || (0..5).map(|i| Box::new([i; 3])).collect());
    leak_three();
    let check = |when: &str| {
        let u = heapy::hpy().heapu();
        assert_eq!(of_kind(&u, "Leaked"), (3, 120), "{when}:\n{u}");
        assert_eq!(of_kind(&u, "Static"), (0, 0), "{when}:\n{u}");
        assert_eq!(of_kind(&u, "Local"), (0, 0), "{when}:\n{u}");
    };
    check("before the filter");
    deny(&[(libc::SYS_process_vm_readv, errno)]);
    check("process_vm_readv denied");
    check("process_vm_readv denied, again");
    // SAFETY: fork; the child only runs Rust code of this test and leaves by _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let ok = std::panic::catch_unwind(|| {
            // Memory the parent does not have: a box held by the static from now on.
            let b = heapy::with_kind("AfterFork", || Box::new([9u64; 4]));
            HELD.lock().unwrap().push(b);
            check("in a forked child");
            let u = heapy::hpy().heapu();
            assert_eq!(of_kind(&u, "AfterFork"), (0, 0), "in a forked child:\n{u}");
        })
        .is_ok();
        // SAFETY: ends the forked child at once, without running the parent's exit code.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above; `status` is writable.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child failed (status {status:#x})"
    );
    black_box(&local);
}

/// The message of `Error::MemoryUnreadable` when `process_vm_readv` gives EPERM and opening
/// `/proc/self/mem` gives EACCES.
const UNREADABLE: &str = "heapy cannot read this process's memory, so it cannot tell reachable \
                          objects from leaks: process_vm_readv: Operation not permitted (os \
                          error 1); /proc/self/mem: Permission denied (os error 13)";

/// The checks of a child that can read its memory in no way: every graph call fails with
/// `Error::MemoryUnreadable`, and the plain forms panic with its message.
fn all_denied() {
    hold_ten();
    leak_three();
    let h = heapy::hpy().heap().filter(|o| o.kind() == "Static");
    assert_eq!(h.count(), 11);
    let mut opens = vec![(libc::SYS_openat, libc::EACCES)];
    #[cfg(target_arch = "x86_64")]
    opens.push((libc::SYS_open, libc::EACCES));
    opens.push((libc::SYS_process_vm_readv, libc::EPERM));
    deny(&opens);
    let unreadable = |what: &str, r: Result<String, heapy::Error>| match r {
        Err(e @ heapy::Error::MemoryUnreadable { .. }) => {
            assert_eq!(e.to_string(), UNREADABLE, "{what}");
            let source = std::error::Error::source(&e).expect("a source");
            assert_eq!(
                source.to_string(),
                "Permission denied (os error 13)",
                "{what}"
            );
        }
        other => panic!("{what}: {other:?}"),
    };
    let hpy = heapy::hpy();
    unreadable("try_heapu", hpy.try_heapu().map(|u| u.to_string()));
    unreadable("try_referents", h.try_referents().map(|u| u.to_string()));
    unreadable("try_referrers", h.try_referrers().map(|u| u.to_string()));
    unreadable("try_byrcs", h.try_byrcs().map(|u| u.to_string()));
    unreadable("try_byvia", h.try_byvia().map(|u| u.to_string()));
    unreadable("try_sp", h.try_sp().map(|u| u.to_string()));
    unreadable("try_dominos", h.try_dominos().map(|u| u.to_string()));
    unreadable("try_domisize", h.try_domisize().map(|u| u.to_string()));
    unreadable("try_retained", h.try_retained().map(|u| u.to_string()));
    unreadable("try_cycles", h.try_cycles().map(|u| u.to_string()));
    let panicked = std::panic::catch_unwind(|| heapy::hpy().heapu()).unwrap_err();
    assert_eq!(panicked.downcast_ref::<String>().unwrap(), UNREADABLE);
}

#[test]
fn child() {
    match std::env::var(CHILD).as_deref() {
        Ok("all") => all_denied(),
        Ok(v) => vm_denied(v.strip_prefix("vm:").unwrap().parse().unwrap()),
        Err(_) => {}
    }
}

/// Runs `child` with `CHILD=value` (and `HEAPY_LEAKS=report`); returns its standard error.
fn run(value: &str) -> String {
    let env = [
        (CHILD, Some(OsStr::new(value))),
        ("HEAPY_LEAKS", Some(OsStr::new("report"))),
    ];
    let out = common::rerun("child", &env, &["--quiet"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        out.status.success(),
        "child {value} failed: {}\n{err}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

#[test]
fn heapu_is_exact_when_process_vm_readv_gives_eperm() {
    let err = run(&format!("vm:{}", libc::EPERM));
    // The report at exit reads memory the same way.
    let leaked = common::printed_rows(&err)
        .into_iter()
        .find(|r| r.label == "Leaked")
        .map(|r| (r.count, r.size));
    assert_eq!(leaked, Some((3, 120)), "{err}");
    assert!(
        !err.contains(" Static\n") && !err.contains(" Local\n"),
        "{err}"
    );
}

#[test]
fn heapu_is_exact_when_process_vm_readv_gives_enosys() {
    run(&format!("vm:{}", libc::ENOSYS));
}

/// A filter that answers EFAULT makes every read look like unmapped memory: only the check
/// of a word known to be mapped tells it from a hole.
#[test]
fn heapu_is_exact_when_process_vm_readv_gives_efault() {
    run(&format!("vm:{}", libc::EFAULT));
}

#[test]
fn with_no_way_to_read_memory_the_graph_calls_fail_and_the_exit_report_says_so() {
    let err = run("all");
    let line = format!("heapy: the leak check at exit could not run: {UNREADABLE}\n");
    assert!(err.ends_with(&line), "{err}");
    assert!(!err.contains("unreachable objects"), "{err}");
}
