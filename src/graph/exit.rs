//! The leak report at process exit: the counterpart of Python's
//! `gc.set_debug(gc.DEBUG_LEAK)`. Turned on by `Census::report_leaks_at_exit()` or by the
//! environment variable `HEAPY_LEAKS=report`; prints the unreachable objects and their
//! cycles to standard error when the process exits normally.
//!
//! The census only records that a report was asked for (`census::leak_report_asked`): the
//! allocator never calls up into the graph. This layer arms itself instead: as the program
//! is loaded, a function in the `.init_array` section (as `profile::autostart` has) reads
//! `HEAPY_LEAKS` and registers one `atexit` handler, which decides at exit whether there is
//! anything to say. A program whose census is not installed (the `heapy` command links
//! heapy without using `Census`) prints nothing.

use core::sync::atomic::{AtomicU8, Ordering};

use super::roots::Here;
use super::unreachable::heapu;
use crate::census::{self, guard};
use crate::Result;

/// `HEAPY_LEAKS` is unset or empty.
const ENV_UNSET: u8 = 0;
/// `HEAPY_LEAKS=report`.
const ENV_REPORT: u8 = 1;
/// `HEAPY_LEAKS` holds something else: the exit handler says so instead of reporting.
const ENV_BAD: u8 = 2;

/// What `HEAPY_LEAKS` said when the program was loaded. Relaxed: written before `atexit`
/// registers the handler that reads it, and glibc's `exit` takes the lock that
/// registration took before it runs the handlers, so the handler sees the value.
static ENV: AtomicU8 = AtomicU8::new(ENV_UNSET);

/// What to do at exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AtExit {
    Nothing,
    /// Say that `HEAPY_LEAKS` holds a value heapy does not understand.
    NameBadValue,
    Report,
}

/// The decision: a report asked for in code wins over the variable; the variable counts
/// only where the census is installed.
fn decide(asked_in_code: bool, env: u8, installed: bool) -> AtExit {
    match (asked_in_code, env, installed) {
        (true, _, _) => AtExit::Report,
        (false, _, false) => AtExit::Nothing,
        (false, ENV_REPORT, true) => AtExit::Report,
        (false, ENV_BAD, true) => AtExit::NameBadValue,
        (false, _, true) => AtExit::Nothing,
    }
}

/// Runs as the program is loaded: reads `HEAPY_LEAKS` (without allocating) and registers
/// the exit handler.
fn on_load() {
    // SAFETY: the name is a NUL-terminated literal; getenv returns a pointer into the
    // environment or null, read here at once (the program is being loaded: no other Rust
    // code runs yet to change the environment).
    let v = unsafe { libc::getenv(c"HEAPY_LEAKS".as_ptr()) };
    let env = if v.is_null() {
        ENV_UNSET
    } else {
        // SAFETY: a non-null getenv result is a NUL-terminated string.
        match unsafe { core::ffi::CStr::from_ptr(v) }.to_bytes() {
            b"" => ENV_UNSET,
            b"report" => ENV_REPORT,
            _ => ENV_BAD,
        }
    };
    ENV.store(env, Ordering::Relaxed);
    // SAFETY: `at_exit` is an `extern "C" fn()` that lives as long as the program; atexit
    // only stores it.
    unsafe {
        libc::atexit(at_exit);
    }
}

mod init {
    extern "C" fn heapy_leaks_init() {
        super::on_load();
    }

    /// Runs `heapy_leaks_init` at load time, as std itself does for its arguments on ELF.
    #[used]
    #[link_section = ".init_array"]
    static INIT: extern "C" fn() = heapy_leaks_init;
}

extern "C" fn at_exit() {
    let what = decide(
        census::leak_report_asked(),
        ENV.load(Ordering::Relaxed),
        census::is_installed(),
    );
    match what {
        AtExit::Nothing => {}
        AtExit::NameBadValue => {
            // A panic must not unwind out of an `extern "C"` exit handler.
            let _ = std::panic::catch_unwind(|| {
                guard::internal(|| {
                    let value = std::env::var("HEAPY_LEAKS").unwrap_or_default();
                    eprintln!(
                        "heapy: HEAPY_LEAKS={value:?} is not \"report\"; no leak report (set HEAPY_LEAKS=report)"
                    );
                })
            });
        }
        AtExit::Report => {
            let here = Here::capture();
            report(&here);
        }
    }
}

#[inline(never)]
fn report(here: &Here) {
    // A panic must not unwind out of an `extern "C"` exit handler.
    let _ = std::panic::catch_unwind(|| {
        let text = guard::internal(|| {
            report_text(here)
                .unwrap_or_else(|e| format!("heapy: the leak check at exit could not run: {e}\n"))
        });
        eprint!("{text}");
    });
}

/// The report: the unreachable objects and their cycles; or why they cannot be found.
fn report_text(here: &Here) -> Result<String> {
    let u = heapu(here)?;
    if u.is_empty() {
        return Ok("heapy: no unreachable objects at exit.\n".to_string());
    }
    Ok(format!(
        "heapy: {} unreachable objects ({} bytes) at exit:\n{}{}",
        u.count(),
        u.size(),
        u,
        u.try_cycles()?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_asked_in_code_wins() {
        for env in [ENV_UNSET, ENV_REPORT, ENV_BAD] {
            assert_eq!(decide(true, env, true), AtExit::Report);
        }
    }

    #[test]
    fn the_variable_counts_where_the_census_is_installed() {
        assert_eq!(decide(false, ENV_UNSET, true), AtExit::Nothing);
        assert_eq!(decide(false, ENV_REPORT, true), AtExit::Report);
        assert_eq!(decide(false, ENV_BAD, true), AtExit::NameBadValue);
        for env in [ENV_UNSET, ENV_REPORT, ENV_BAD] {
            assert_eq!(decide(false, env, false), AtExit::Nothing);
        }
    }
}
