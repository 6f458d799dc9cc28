//! Kinds and marks that follow futures across the worker threads of a multi-thread tokio
//! runtime: `InKind::in_kind`, `Mark::scope`, and the async forms of the assertions.
//!
//! Every task here moves between workers on purpose: at each `hop()` (tests/common/hop.rs)
//! it is woken from a thread outside the runtime and made to wait until a *different*
//! worker polls it, so each task runs on both workers, many times. The expected figures are computed from what
//! the tasks allocated (sizes chosen per task and step), and the heap is read by kinds of
//! this file's own (so other tests of the process do not disturb them).
//!
//! The tasks never call `tokio::task::yield_now`: it parks the task's waker in a list that
//! the worker grows on first use and keeps, so the first yield on each worker allocates a
//! long-lived buffer inside the yielding task's poll (rightly named by that task's kind,
//! but not an object the test made).

#[path = "common/hop.rs"]
mod hop;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

use heapy::InKind;
use hop::{hop, runtime, worker, Rewaker};

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

const TASKS: usize = 24;
const STEPS: usize = 6;

/// The bytes task `i` of kind number `k` allocates at step `s`.
fn size(k: usize, i: usize, s: usize) -> usize {
    16 + 8 * k + 24 * i + 40 * s
}

/// What a task left: the buffers it kept, and a bit for each worker it ran on.
struct Kept {
    bufs: Vec<Vec<u8>>,
    workers: u64,
}

/// One task's work: at each step a buffer, kept at even steps and freed at odd ones, then
/// a hop to the other worker.
async fn work(k: usize, i: usize, rw: &Rewaker) -> Kept {
    let mut bufs = Vec::with_capacity(STEPS);
    let mut workers = 0u64;
    for s in 0..STEPS {
        workers |= 1 << worker().min(63);
        let b = vec![s as u8; size(k, i, s)];
        if s % 2 == 0 {
            bufs.push(b);
        } else {
            drop(b);
        }
        hop(rw).await;
    }
    workers |= 1 << worker().min(63);
    Kept { bufs, workers }
}

/// The count and bytes that the tasks of kind number `k` keep.
fn expected(k: usize) -> (usize, usize) {
    let outer = TASKS * STEPS * std::mem::size_of::<Vec<u8>>();
    let kept: usize = (0..TASKS)
        .flat_map(|i| (0..STEPS).step_by(2).map(move |s| size(k, i, s)))
        .sum();
    (TASKS * (1 + STEPS.div_ceil(2)), outer + kept)
}

fn kind_figures(h: &heapy::Heap, kind: &str) -> (usize, usize) {
    let h = h.filter(|o| o.kind() == kind);
    (h.count(), h.size())
}

/// Runs `TASKS` tasks of each kind of `kinds` (`None`: untagged) at once on a two-worker
/// runtime, every task migrating at each step, and returns what they kept.
fn run_kinds(
    rt: &tokio::runtime::Runtime,
    rw: &Arc<Rewaker>,
    kinds: &[Option<&'static str>],
) -> Vec<Vec<Kept>> {
    rt.block_on(async {
        let mut handles = Vec::new();
        for (k, kind) in kinds.iter().enumerate() {
            let mut per_kind = Vec::new();
            for i in 0..TASKS {
                let rw = rw.clone();
                let task = async move { work(k, i, &rw).await };
                per_kind.push(match kind {
                    Some(name) => tokio::spawn(task.in_kind(name)),
                    None => tokio::spawn(task),
                });
            }
            handles.push(per_kind);
        }
        let mut out = Vec::new();
        for per_kind in handles {
            let mut kept = Vec::new();
            for h in per_kind {
                kept.push(h.await.unwrap());
            }
            out.push(kept);
        }
        out
    })
}

#[test]
fn each_task_kind_holds_exactly_what_its_tasks_kept_while_they_migrate() {
    let rt = runtime();
    let (rw, waker_thread) = Rewaker::start(4 * TASKS);
    // Once untagged first, so that whatever the runtime sets up on first use is there
    // before the figures are taken.
    drop(run_kinds(&rt, &rw, &[None, None, None]));

    let kinds = [Some("async-exact-Parse"), Some("async-exact-Render"), None];
    let kept = run_kinds(&rt, &rw, &kinds);
    let h = heapy::hpy().heap();
    for (k, kind) in kinds.iter().enumerate() {
        let Some(kind) = kind else { continue };
        assert_eq!(kind_figures(&h, kind), expected(k), "{kind}");
        // And they are the very objects the tasks kept.
        for t in &kept[k] {
            let addrs: Vec<usize> = t.bufs.iter().map(|b| b.as_ptr() as usize).collect();
            for a in addrs.iter().copied().chain([t.bufs.as_ptr() as usize]) {
                let o = h
                    .objects()
                    .find(|o| o.address() == a)
                    .expect("a kept buffer is live");
                assert_eq!(o.kind(), *kind);
            }
        }
    }
    // The untagged tasks ran on the same workers, between the tagged tasks' polls: none of
    // their objects carries a task kind.
    for t in &kept[2] {
        for a in t.bufs.iter().map(|b| b.as_ptr() as usize) {
            let o = h
                .objects()
                .find(|o| o.address() == a)
                .expect("a kept buffer is live");
            assert!(!o.kind().starts_with("async-exact-"), "{}", o.kind());
        }
    }
    // Every task ran on both workers.
    for t in kept.iter().flatten() {
        assert!(
            t.workers.count_ones() >= 2,
            "a task did not migrate: {:b}",
            t.workers
        );
    }
    drop(kept);
    let h = heapy::hpy().heap();
    for kind in kinds.iter().flatten() {
        assert_eq!(kind_figures(&h, kind), (0, 0), "{kind} after the drop");
    }
    rw.stop(waker_thread);
}

#[test]
fn nested_kinds_innermost_wins_and_the_outer_comes_back_on_another_worker() {
    let rt = runtime();
    let (rw, waker_thread) = Rewaker::start(64);
    let (outer_before, inner, outer_after, workers) = rt.block_on(async {
        let rw2 = rw.clone();
        tokio::spawn(
            async move {
                let mut workers = 1u64 << worker().min(63);
                let a = vec![1u8; 111];
                hop(&rw2).await;
                let b = async {
                    hop(&rw2).await;
                    let b = vec![2u8; 222];
                    hop(&rw2).await;
                    b
                }
                .in_kind("async-nested-Db")
                .await;
                workers |= 1 << worker().min(63);
                hop(&rw2).await;
                let c = vec![3u8; 333];
                (a, b, c, workers)
            }
            .in_kind("async-nested-Request"),
        )
        .await
        .unwrap()
    });
    let h = heapy::hpy().heap();
    assert_eq!(kind_figures(&h, "async-nested-Request"), (2, 111 + 333));
    assert_eq!(kind_figures(&h, "async-nested-Db"), (1, 222));
    let kind_at = |p: *const u8| {
        h.objects()
            .find(|o| o.address() == p as usize)
            .map(|o| o.kind().to_string())
    };
    assert_eq!(kind_at(inner.as_ptr()).as_deref(), Some("async-nested-Db"));
    assert_eq!(
        kind_at(outer_after.as_ptr()).as_deref(),
        Some("async-nested-Request")
    );
    assert_eq!(workers.count_ones(), 2);
    drop((outer_before, inner, outer_after));
    rw.stop(waker_thread);
}

/// Panics at its second poll, after allocating in its kind.
async fn panics_after_a_hop(rw: &Rewaker) {
    let v = std::hint::black_box(vec![0u8; 64]);
    hop(rw).await;
    let w = std::hint::black_box(vec![0u8; 32]);
    if v.len() + w.len() > 0 {
        panic!("this task's poll panics (the test expects it)");
    }
}

#[test]
fn a_kind_never_outlives_its_poll_even_when_the_poll_panics() {
    let rt = runtime();
    let (rw, waker_thread) = Rewaker::start(4 * TASKS);
    // Panicking tagged tasks (tokio catches each panic, and the worker goes on with other
    // tasks), among untagged tasks that keep what they allocate.
    let (panicked, kept) = rt.block_on(async {
        let mut bad = Vec::new();
        let mut good = Vec::new();
        for i in 0..TASKS {
            let rw1 = rw.clone();
            bad.push(tokio::spawn(
                async move { panics_after_a_hop(&rw1).await }.in_kind("async-panic-Bad"),
            ));
            let rw2 = rw.clone();
            good.push(tokio::spawn(async move { work(0, i, &rw2).await }));
        }
        let mut panicked = 0;
        for b in bad {
            panicked += usize::from(b.await.unwrap_err().is_panic());
        }
        let mut kept = Vec::new();
        for g in good {
            kept.push(g.await.unwrap());
        }
        (panicked, kept)
    });
    assert_eq!(panicked, TASKS);
    let h = heapy::hpy().heap();
    for t in &kept {
        for a in t
            .bufs
            .iter()
            .map(|b| b.as_ptr() as usize)
            .chain([t.bufs.as_ptr() as usize])
        {
            let o = h
                .objects()
                .find(|o| o.address() == a)
                .expect("a kept buffer is live");
            assert_ne!(o.kind(), "async-panic-Bad");
        }
    }
    drop(kept);

    // The same on one thread, step by step: a poll that panics, caught, and the thread's
    // own kind is back at once.
    let _outer = heapy::kind("async-panic-Outer");
    let mut fut = Box::pin(
        async {
            let _v = std::hint::black_box(vec![0u8; 8]);
            panic!("this poll panics (the test expects it)");
        }
        .in_kind("async-panic-Inner"),
    );
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    }));
    assert!(caught.is_err());
    let mark = heapy::hpy().mark();
    let after = vec![0u8; 48];
    let h = mark.heap();
    assert_eq!(
        h.objects()
            .map(|o| o.kind().to_string())
            .collect::<Vec<_>>(),
        ["async-panic-Outer"]
    );
    drop((after, fut));
    rw.stop(waker_thread);
}

#[test]
fn dropping_a_kinded_future_frees_and_allocates_in_its_kind() {
    struct AllocOnDrop(Arc<Mutex<Vec<Vec<u8>>>>);
    impl Drop for AllocOnDrop {
        fn drop(&mut self) {
            self.0.lock().unwrap().push(vec![0u8; 77]);
        }
    }
    let sink = Arc::new(Mutex::new(Vec::with_capacity(1)));
    let guard = AllocOnDrop(sink.clone());
    let fut = async move {
        let _g = guard;
        std::future::pending::<()>().await;
    }
    .in_kind("async-drop-Cleanup");
    let mut fut = Box::pin(fut);
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending());
    drop(fut);
    let h = heapy::hpy().heap();
    assert_eq!(kind_figures(&h, "async-drop-Cleanup"), (1, 77));
    let addr = sink.lock().unwrap()[0].as_ptr() as usize;
    assert!(h
        .filter(|o| o.kind() == "async-drop-Cleanup")
        .objects()
        .any(|o| o.address() == addr));
}

/// What the scoped future of `a_future_s_mark_is_exact_while_other_tasks_allocate` does:
/// `(buffers kept, its peak of live bytes computed as it goes)`.
async fn scoped_work(rw: &Rewaker) -> (Vec<Box<[u8]>>, usize) {
    let (mut live, mut peak) = (0usize, 0usize);
    let mut kept: Vec<Box<[u8]>> = Vec::with_capacity(STEPS);
    live += STEPS * std::mem::size_of::<Box<[u8]>>();
    peak = peak.max(live);
    for s in 0..STEPS {
        let keep = vec![1u8; 100 + s].into_boxed_slice();
        live += keep.len();
        kept.push(keep);
        hop(rw).await;
        // A large buffer freed on another worker than the one that made it.
        let big = vec![0u8; 5000 + 10 * s];
        live += big.len();
        peak = peak.max(live);
        hop(rw).await;
        live -= big.len();
        drop(big);
    }
    (kept, peak)
}

#[test]
fn a_future_s_mark_is_exact_while_other_tasks_allocate() {
    let rt = runtime();
    let (rw, waker_thread) = Rewaker::start(4 * TASKS);
    let mark = heapy::hpy().task_mark();
    let ((kept, peak), others) = rt.block_on(async {
        let mut others = Vec::new();
        for i in 0..TASKS {
            let rw = rw.clone();
            others.push(tokio::spawn(async move { work(1, i, &rw).await }));
        }
        let rw2 = rw.clone();
        let mine = tokio::spawn(mark.scope(async move { scoped_work(&rw2).await }));
        let mut kept_by_others = Vec::new();
        for o in others {
            kept_by_others.push(o.await.unwrap());
        }
        (mine.await.unwrap(), kept_by_others)
    });
    let h = mark.heap();
    let want_bytes =
        STEPS * std::mem::size_of::<Box<[u8]>>() + kept.iter().map(|b| b.len()).sum::<usize>();
    assert_eq!((h.count(), h.size()), (1 + STEPS, want_bytes));
    let mut addrs: Vec<usize> = kept.iter().map(|b| b.as_ptr() as usize).collect();
    addrs.push(kept.as_ptr() as usize);
    addrs.sort_unstable();
    let mut seen: Vec<usize> = h.objects().map(|o| o.address()).collect();
    seen.sort_unstable();
    assert_eq!(seen, addrs);
    assert_eq!(mark.peak_bytes(), peak as u64);
    assert!(others.iter().all(|t| t.workers.count_ones() >= 2));
    drop(kept);
    assert!(mark.heap().is_empty());
    drop(others);
    rw.stop(waker_thread);
}

#[test]
fn async_assertions_check_a_migrating_future() {
    let rt = runtime();
    let (rw, waker_thread) = Rewaker::start(64);
    static CACHE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    rt.block_on(async {
        let rw1 = rw.clone();
        // Run inside a task, so that the checked future moves between the workers.
        tokio::spawn(async move {
            heapy::assert_no_leaks!(async {
                let mut v = Vec::new();
                for s in 0..STEPS {
                    v.push(vec![0u8; 10 + s]);
                    hop(&rw1).await;
                }
                drop(v);
                hop(&rw1).await;
            })
            .await;

            heapy::assert_memory_limit!(4000, async {
                let kept = vec![0u8; 1000];
                hop(&rw1).await;
                drop(vec![0u8; 3000]);
                hop(&rw1).await;
                drop(kept);
            })
            .await;

            // The same limit one byte lower fails, with the peak.
            let err = heapy::check_memory_limit_async(3999, async {
                let kept = vec![0u8; 1000];
                hop(&rw1).await;
                drop(vec![0u8; 3000]);
                hop(&rw1).await;
                drop(kept);
            })
            .await
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    heapy::Error::OverLimit {
                        limit: 3999,
                        peak: 4000,
                        ..
                    }
                ),
                "{err}"
            );

            // A leak into a cache, found and measured.
            CACHE.lock().unwrap().reserve(1);
            let err = heapy::check_no_leaks_async(async {
                hop(&rw1).await;
                let entry = heapy::with_kind("async-assert-Entry", || vec![0u8; 56]);
                hop(&rw1).await;
                CACHE.lock().unwrap().push(entry);
            })
            .await
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    heapy::Error::Leaked {
                        count: 1,
                        size: 56,
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("async-assert-Entry"));
        })
        .await
        .unwrap();

        // The macro's failure message, from a task's panic.
        let rw2 = rw.clone();
        let failed = tokio::spawn(async move {
            heapy::assert_no_leaks!(async move {
                hop(&rw2).await;
                std::mem::forget(heapy::with_kind("async-assert-Forgotten", || vec![0u8; 48]));
            })
            .await;
        })
        .await
        .unwrap_err();
        let msg = *failed.into_panic().downcast::<String>().unwrap();
        assert!(
            msg.contains("1 objects (48 bytes) allocated in the scope are still live"),
            "{msg}"
        );
        assert!(msg.contains("async-assert-Forgotten"), "{msg}");
    });
    CACHE.lock().unwrap().clear();
    rw.stop(waker_thread);
}

#[test]
fn a_task_kind_s_totals_come_from_the_census_history() {
    // Blocks allocated and freed at once: none is live at the end, but each is in the
    // census's totals by kind, whichever worker ran it.
    let rt = runtime();
    let (rw, waker_thread) = Rewaker::start(2 * TASKS);
    let workers = rt.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let rw = rw.clone();
                tokio::spawn(
                    async move {
                        let mut workers = 0u64;
                        for s in 0..STEPS {
                            workers |= 1 << worker().min(63);
                            drop(std::hint::black_box(vec![0u8; size(3, i, s)]));
                            hop(&rw).await;
                        }
                        workers | 1 << worker().min(63)
                    }
                    .in_kind("async-history-Churn"),
                )
            })
            .collect();
        let mut workers = Vec::new();
        for h in handles {
            workers.push(h.await.unwrap());
        }
        workers
    });
    let totals = heapy::hpy().allocations().bykind().all();
    let row = totals
        .rows()
        .find(|r| r.label() == "async-history-Churn")
        .expect("a row for the kind");
    let bytes: usize = (0..TASKS)
        .flat_map(|i| (0..STEPS).map(move |s| size(3, i, s)))
        .sum();
    assert_eq!((row.count(), row.size()), (TASKS * STEPS, bytes));
    assert!(workers.iter().all(|w| w.count_ones() >= 2));
    assert_eq!(
        kind_figures(&heapy::hpy().heap(), "async-history-Churn"),
        (0, 0)
    );
    rw.stop(waker_thread);
}
