//! `assert_no_leaks!` and `assert_memory_limit!` (and their `Result` forms): pass and fail
//! cases, exact figures, messages that name the offending kind, and other threads' churn
//! that must not disturb them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

fn panic_message(r: std::thread::Result<()>) -> String {
    let e = r.unwrap_err();
    match e.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e.downcast::<&str>().map(|s| s.to_string()).unwrap(),
    }
}

/// Another thread that allocates and frees (and keeps some) the whole time.
fn with_churn(f: impl FnOnce()) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let t = thread::spawn(move || {
        let mut kept = Vec::with_capacity(100);
        while !s.load(Ordering::Relaxed) {
            if kept.len() == 100 {
                kept.clear();
            }
            kept.push(vec![0u8; 5000]);
        }
    });
    f();
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
}

#[test]
fn a_scope_that_frees_everything_passes() {
    with_churn(|| {
        heapy::assert_no_leaks!(|| {
            let words: Vec<String> = "a b c".split(' ').map(String::from).collect();
            assert_eq!(words.concat(), "abc");
        });
        assert!(
            heapy::check_no_leaks(|| Box::new(5u64)).is_ok(),
            "the result is dropped"
        );
    });
}

#[test]
fn a_leak_fails_with_its_kind_in_the_message() {
    let mut cache: Vec<Vec<u8>> = Vec::with_capacity(8);
    with_churn(|| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            heapy::assert_no_leaks!(|| {
                heapy::with_kind("CacheEntry", || {
                    cache.push(vec![0u8; 100]);
                    cache.push(vec![0u8; 20]);
                });
                drop(vec![0u8; 999]);
            })
        }));
        let msg = panic_message(r);
        assert!(msg.starts_with(
            "assert_no_leaks! failed: 2 objects (120 bytes) allocated in the scope are still live:\n"
        ));
        assert!(msg.contains("Partition of a set of 2 objects. Total size = 120 bytes.\n"));
        assert!(msg.contains("     0      2 100      120 100       120 100 CacheEntry\n"));
    });
    match heapy::check_no_leaks(|| std::mem::forget(vec![1u32; 3])) {
        Err(heapy::Error::Leaked { count, size, table }) => {
            assert_eq!((count, size), (1, 12));
            assert!(table.contains(" Vec<u32>\n"), "{table}");
        }
        other => panic!("{other:?}"),
    }
    drop(cache);
}

#[test]
fn memory_limit_is_the_scopes_peak() {
    with_churn(|| {
        heapy::assert_memory_limit!(10_000, || {
            let a = vec![0u8; 6000];
            drop(a);
            let b = vec![0u8; 4000];
            let c = vec![0u8; 6000];
            drop((b, c)); // peak 10000: within the limit
        });
        let r = std::panic::catch_unwind(|| {
            heapy::assert_memory_limit!(10_000, || {
                let b = heapy::with_kind("Buffer", || vec![0u8; 4000]);
                let c = heapy::with_kind("Buffer", || vec![0u8; 6001]);
                drop(c);
                b // kept past the scope's end: shown in the table
            })
        });
        let msg = panic_message(r);
        assert!(msg.starts_with(
            "assert_memory_limit! failed: the scope's peak was 10001 bytes, over the limit of \
             10000 bytes (1 bytes over)"
        ));
        assert!(msg.contains("     0      1 100     4000 100      4000 100 Buffer\n"));
    });
    match heapy::check_memory_limit(99, || vec![0u8; 100]) {
        Err(heapy::Error::OverLimit { limit, peak, .. }) => assert_eq!((limit, peak), (99, 100)),
        other => panic!("{other:?}"),
    }
    assert!(heapy::check_memory_limit(100, || vec![0u8; 100]).is_ok());
}

#[test]
fn other_threads_do_not_count() {
    // A spawned thread is not in the scope (see `Mark::enter`): its 1 MiB does not count
    // against this limit, and what it keeps is not this scope's leak.
    // (A joined thread, not a scoped one: `join` waits until the thread has exited, so the
    // handles std made for it on this thread are freed by then.)
    let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
    heapy::assert_memory_limit!(64 * 1024, || {
        heapy::assert_no_leaks!(|| {
            let k = kept.clone();
            thread::spawn(move || k.lock().unwrap().push(vec![0u8; 1 << 20]))
                .join()
                .unwrap();
        });
    });
    assert_eq!(kept.lock().unwrap()[0].len(), 1 << 20);
}

#[test]
fn a_mark_checks_threads_that_entered_it() {
    let mark = heapy::hpy().mark();
    let m = mark.clone();
    let kept = thread::spawn(move || {
        let _in = m.enter();
        drop(vec![0u8; 3000]);
        heapy::with_kind("WorkerState", || vec![0u8; 40])
    })
    .join()
    .unwrap();
    match mark.check_no_leaks() {
        Err(heapy::Error::Leaked { count, size, table }) => {
            assert_eq!((count, size), (1, 40));
            assert!(table.contains(" WorkerState\n"), "{table}");
        }
        other => panic!("{other:?}"),
    }
    // The peak counts the marking thread only (here: std's handles for the spawned
    // thread, well under 3000 bytes), not the worker's 3000-byte buffer.
    assert!(mark.check_memory_limit(2999).is_ok());
    drop(kept);
    assert!(mark.check_no_leaks().is_ok());
}
