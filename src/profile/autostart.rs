//! `HEAPY_MPROF=<path>`: start a [`Recorder`](super::Recorder) with no code change.
//!
//! When it starts: a function in the `.init_array` section runs as the program is loaded,
//! before `main`. It reads the variable
//! and, if it is set and not empty, checks that the census is the global allocator (by one
//! small allocation, counted like any other) and starts the recorder, whose thread runs
//! until the process exits; an `atexit` handler writes the last sample. Nothing of this runs inside the allocator. If the census is not installed
//! (the program links heapy without using `Census`, like the `heapy` command itself),
//! nothing is recorded.
//!
//! `HEAPY_MPROF_INTERVAL=<seconds>` sets the sampling interval (0.1 s by default).
//!
//! A path that cannot be created is reported once on stderr; the program runs on.

use std::sync::Once;
use std::time::Duration;

static STARTED: Once = Once::new();

/// Starts the recorder named by `HEAPY_MPROF` once per process, if there is one.
fn from_env() {
    STARTED.call_once(|| {
        let Some(path) = std::env::var_os("HEAPY_MPROF").filter(|p| !p.is_empty()) else {
            return;
        };
        drop(std::hint::black_box(Box::new(0u8)));
        if !crate::census::is_installed() {
            return;
        }
        let interval = match std::env::var("HEAPY_MPROF_INTERVAL") {
            Err(_) => Duration::from_millis(100),
            Ok(s) => match s.trim().parse::<f64>() {
                Ok(secs) if secs > 0.0 && Duration::try_from_secs_f64(secs).is_ok() => {
                    Duration::from_secs_f64(secs)
                }
                _ => {
                    eprintln!(
                        "heapy: HEAPY_MPROF_INTERVAL={s:?} is not a positive number of seconds; using 0.1"
                    );
                    Duration::from_millis(100)
                }
            },
        };
        if let Err(e) = super::recorder::start_for_process(path.as_ref(), interval) {
            eprintln!("heapy: HEAPY_MPROF: {e}");
        }
    });
}

mod init {
    extern "C" fn heapy_mprof_init() {
        super::from_env();
    }

    /// Runs `heapy_mprof_init` at load time, as std itself does for its arguments on ELF.
    #[used]
    #[link_section = ".init_array"]
    static INIT: extern "C" fn() = heapy_mprof_init;
}
