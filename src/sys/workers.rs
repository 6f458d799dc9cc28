//! Helper threads for heapy's own work, made with `pthread_create` rather than
//! `std::thread`: a std thread runs std's start-up code first, which allocates through the
//! global allocator before the thread's closure can say that the work is heapy's (the census
//! would count that block and register the thread); on a thread made here nothing runs but
//! the function it is given.

use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::ptr;

/// The most helper threads one call runs.
pub(crate) const MAX_HELPERS: usize = 8;

/// What a helper thread runs: a borrowed function that outlives the thread.
struct Job<'a>(&'a (dyn Fn() + Sync));

extern "C" fn start(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the `Job` that `run_parallel` passed, which joins this thread before
    // the job goes out of scope (also when it unwinds).
    let job = unsafe { &*(arg as *const Job<'_>) };
    // A panic must not unwind into the C library's thread start: it ends this thread's run
    // (the work it did not take is left to the other runs).
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job.0));
    ptr::null_mut()
}

/// Handles of started helpers, joined on drop.
struct Helpers {
    threads: [MaybeUninit<libc::pthread_t>; MAX_HELPERS],
    started: usize,
}

impl Drop for Helpers {
    fn drop(&mut self) {
        for t in &self.threads[..self.started] {
            // SAFETY: the first `started` handles were written by successful
            // pthread_create calls and are joined once, here.
            unsafe { libc::pthread_join(t.assume_init(), ptr::null_mut()) };
        }
    }
}

/// Runs `f` on the calling thread and at once on up to `extra` helper threads (at most
/// [`MAX_HELPERS`]); returns when every run has finished, and so are the helpers. A helper
/// that cannot be started is just missing, so `f` must share its work out so that any
/// number of runs completes it (each run takes work until none is left).
pub(crate) fn run_parallel(extra: usize, f: &(dyn Fn() + Sync)) {
    let job = Job(f);
    let arg = &job as *const Job<'_> as *mut c_void;
    let mut helpers = Helpers {
        threads: [MaybeUninit::uninit(); MAX_HELPERS],
        started: 0,
    };
    for _ in 0..extra.min(MAX_HELPERS) {
        let slot = &mut helpers.threads[helpers.started];
        // SAFETY: `slot` is writable; `start` has the signature pthread_create expects; `arg`
        // points to `job`, which outlives the thread: `helpers` joins it when dropped, on
        // return or unwind, and is declared after `job`, so it is dropped first.
        let rc = unsafe { libc::pthread_create(slot.as_mut_ptr(), ptr::null(), start, arg) };
        if rc == 0 {
            helpers.started += 1;
        }
    }
    f();
    drop(helpers);
}

/// A long-lived thread of heapy's own (the HTTP server's), made as the helpers are, so that
/// nothing runs on it but the function it is given. Joined with [`OwnThread::join`]; a
/// handle dropped unjoined leaves the thread running, detached from nobody (it ends with
/// the process).
#[cfg_attr(not(feature = "serve"), allow(dead_code))]
pub(crate) struct OwnThread(libc::pthread_t);

/// The boxed function a thread started by [`spawn`] runs.
type Body = Box<dyn FnOnce() + Send + 'static>;

extern "C" fn start_own(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the `Box<Body>` that `spawn` leaked for this thread alone; it is
    // taken back exactly once, here.
    let body = unsafe { Box::from_raw(arg as *mut Body) };
    // A panic must not unwind into the C library's thread start: it ends the thread.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    ptr::null_mut()
}

/// Starts `body` on a new thread named `name` (at most 15 bytes, as Linux keeps them). The
/// caller should hold the reentrancy flag (the boxes are heapy's own), and `body` take it
/// first thing.
#[cfg_attr(not(feature = "serve"), allow(dead_code))]
pub(crate) fn spawn(name: &core::ffi::CStr, body: Body) -> std::io::Result<OwnThread> {
    let arg = Box::into_raw(Box::new(body)) as *mut c_void;
    let mut t = MaybeUninit::<libc::pthread_t>::uninit();
    // SAFETY: `t` is writable; `start_own` has the signature pthread_create expects and owns
    // `arg` from here when the call succeeds.
    let rc = unsafe { libc::pthread_create(t.as_mut_ptr(), ptr::null(), start_own, arg) };
    if rc != 0 {
        // SAFETY: no thread was started, so `arg` is still ours alone.
        drop(unsafe { Box::from_raw(arg as *mut Body) });
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    // SAFETY: pthread_create succeeded and wrote the handle.
    let t = unsafe { t.assume_init() };
    // SAFETY: `t` is a live thread (not joined yet) and `name` a NUL-terminated string;
    // a name too long is refused with ERANGE, which leaves the thread unnamed.
    unsafe { libc::pthread_setname_np(t, name.as_ptr()) };
    Ok(OwnThread(t))
}

impl OwnThread {
    /// Waits for the thread to end.
    #[cfg_attr(not(feature = "serve"), allow(dead_code))]
    pub(crate) fn join(self) {
        // SAFETY: the handle came from a successful pthread_create and is joined once
        // (`self` is consumed).
        unsafe { libc::pthread_join(self.0, ptr::null_mut()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_run_takes_work_until_none_is_left() {
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let runs = AtomicUsize::new(0);
        run_parallel(3, &|| {
            runs.fetch_add(1, Ordering::Relaxed);
            while next.fetch_add(1, Ordering::Relaxed) < 1000 {
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert_eq!(done.load(Ordering::Relaxed), 1000);
        assert_eq!(runs.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn an_own_thread_runs_its_body_and_is_joined() {
        use std::sync::Arc;
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let me = crate::sys::current_tid();
        let t = spawn(
            c"heapy-test",
            Box::new(move || {
                assert_ne!(crate::sys::current_tid(), me);
                r.fetch_add(1, Ordering::Relaxed);
            }),
        )
        .unwrap();
        t.join();
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_panicking_helper_does_not_take_the_caller_down() {
        let me = crate::sys::current_tid();
        let ran = AtomicUsize::new(0);
        run_parallel(2, &|| {
            ran.fetch_add(1, Ordering::Relaxed);
            if crate::sys::current_tid() != me {
                panic!("expected panic: a helper's panic stays on the helper");
            }
        });
        assert_eq!(ran.load(Ordering::Relaxed), 3);
    }
}
