//! The leak report at process exit: the counterpart of Python's
//! `gc.set_debug(gc.DEBUG_LEAK)`. Turned on by `Census::report_leaks_at_exit()` or by the
//! environment variable `HEAPY_LEAKS=report`; prints the unreachable objects and their
//! cycles to standard error when the process exits normally.

use core::sync::atomic::{AtomicBool, Ordering};

use super::roots::Here;
use super::unreachable::heapu;
use crate::census::guard;

/// True once the exit handler is registered (or being registered). Relaxed: it only makes
/// the registration happen once; it publishes no other memory.
static ARMED: AtomicBool = AtomicBool::new(false);
/// True once the environment was consulted. Relaxed, as above.
static ENV_CHECKED: AtomicBool = AtomicBool::new(false);
/// True when `HEAPY_LEAKS` holds something other than `report`: the exit handler then says
/// so instead of reporting (the allocator, which reads the variable, cannot print). Relaxed:
/// set before `atexit` registers the handler, read by it on the same thread at exit or after
/// the registration's own synchronization.
static ENV_BAD: AtomicBool = AtomicBool::new(false);

/// Makes sure the report runs at exit. Called from the allocator when the option is on:
/// one relaxed load after the first call; never allocates through Rust, never panics.
#[inline]
pub(crate) fn arm() {
    if !REQUESTED_IN_CODE.load(Ordering::Relaxed) {
        REQUESTED_IN_CODE.store(true, Ordering::Relaxed);
        arm_slow();
    }
}

/// True once a census built with `report_leaks_at_exit()` allocated: the report is wanted
/// whatever `HEAPY_LEAKS` says. Relaxed, as `ARMED`.
static REQUESTED_IN_CODE: AtomicBool = AtomicBool::new(false);

#[cold]
fn arm_slow() {
    if !ARMED.swap(true, Ordering::Relaxed) {
        // SAFETY: `at_exit` is an `extern "C" fn()` that lives as long as the program; atexit
        // only stores it (glibc may take its own lock and memory, never Rust's allocator).
        unsafe {
            libc::atexit(at_exit);
        }
    }
}

/// Arms the report if `HEAPY_LEAKS=report` is set. Called from the allocator when a thread
/// registers; reads the environment once per process, without allocating.
pub(crate) fn arm_from_env() {
    if ENV_CHECKED.swap(true, Ordering::Relaxed) {
        return;
    }
    // SAFETY: the name is a NUL-terminated literal; getenv returns a pointer into the
    // environment or null, read here at once (the process is starting its first threads).
    let v = unsafe { libc::getenv(c"HEAPY_LEAKS".as_ptr()) };
    if v.is_null() {
        return;
    }
    // SAFETY: a non-null getenv result is a NUL-terminated string.
    let value = unsafe { core::ffi::CStr::from_ptr(v) }.to_bytes();
    if value.is_empty() {
        return;
    }
    if value != b"report" {
        ENV_BAD.store(true, Ordering::Relaxed);
    }
    arm_slow();
}

extern "C" fn at_exit() {
    if ENV_BAD.load(Ordering::Relaxed) && !REQUESTED_IN_CODE.load(Ordering::Relaxed) {
        let _ = std::panic::catch_unwind(|| {
            guard::internal(|| {
                let value = std::env::var("HEAPY_LEAKS").unwrap_or_default();
                eprintln!(
                    "heapy: HEAPY_LEAKS={value:?} is not \"report\"; no leak report (set HEAPY_LEAKS=report)"
                );
            })
        });
        return;
    }
    let here = Here::capture();
    report(&here);
}

#[inline(never)]
fn report(here: &Here) {
    // A panic must not unwind out of an `extern "C"` exit handler.
    let _ = std::panic::catch_unwind(|| {
        let text = guard::internal(|| {
            let u = heapu(here);
            if u.is_empty() {
                return "heapy: no unreachable objects at exit.\n".to_string();
            }
            format!(
                "heapy: {} unreachable objects ({} bytes) at exit:\n{}{}",
                u.count(),
                u.size(),
                u,
                u.cycles()
            )
        });
        eprint!("{text}");
    });
}
