//! `heapy::KindLayer`: tracing spans as kinds, for `#[tracing::instrument]`ed sync and async
//! functions, by name, by a field, innermost or as a path; async ones on a two-worker tokio
//! runtime with tasks forced to move between the workers (tests/common/hop.rs).
//!
//! Each test has its own subscriber (a scoped default dispatcher, set on the test's thread
//! and on its runtime's workers) and kinds of its own, so the tests run in parallel. Each
//! first makes a few spans with no kind current (`warm_up`): the span registry sets up a
//! thread's part of its tables when the thread first makes a span, in whatever kind is
//! current then (an enclosing span's, say), and keeps it.
#![cfg(feature = "tracing")]

#[path = "common/hop.rs"]
mod hop;

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Waker};

use heapy::InKind;
use hop::{hop, worker, Rewaker};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

fn dispatch(layer: heapy::KindLayer) -> tracing::Dispatch {
    tracing::Dispatch::new(tracing_subscriber::registry().with(layer))
}

/// A two-worker runtime whose workers use `d`.
fn runtime(d: &tracing::Dispatch) -> tokio::runtime::Runtime {
    let d = d.clone();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(move || {
            // For the life of the worker thread.
            std::mem::forget(tracing::dispatcher::set_default(&d));
        })
        .build()
        .unwrap()
}

/// Makes the span registry set up this thread's part of its tables (a shard of its span
/// slab, the stack of entered spans) now, with no kind current.
fn warm_up() {
    let _a = tracing::info_span!("tk_warm_up").entered();
    let _b = tracing::info_span!("tk_warm_up").entered();
    let _c = tracing::info_span!("tk_warm_up").entered();
    let _d = tracing::info_span!("tk_warm_up").entered();
}

fn figures(h: &heapy::Heap, kind: &str) -> (usize, usize) {
    let h = h.filter(|o| o.kind() == kind);
    (h.count(), h.size())
}

#[tracing::instrument]
fn tk_sync_load(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

#[tracing::instrument(skip_all)]
fn tk_sync_outer(n: usize) -> (Vec<u8>, Vec<u32>, Vec<u8>) {
    let before = vec![1u8; n];
    let inner = tk_sync_load(n);
    let after = vec![2u8; 2 * n];
    (before, inner, after)
}

#[test]
fn instrumented_sync_functions_are_kinds_innermost_wins() {
    let d = dispatch(heapy::KindLayer::new());
    tracing::dispatcher::with_default(&d, || {
        warm_up();
        let _k = heapy::kind("tk-sync-Around");
        let (before, inner, after) = tk_sync_outer(10);
        let also = vec![0u8; 5]; // the span is left: the kind around it is back
        let h = heapy::hpy().heap();
        assert_eq!(figures(&h, "tk_sync_outer"), (2, 10 + 20));
        assert_eq!(figures(&h, "tk_sync_load"), (1, 10 * 4));
        assert_eq!(figures(&h, "tk-sync-Around"), (1, 5));
        assert_eq!(inner.capacity(), 10);
        drop((before, inner, after, also));
    });
}

#[tracing::instrument]
fn tk_path_load(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

#[tracing::instrument(skip_all)]
fn tk_path_outer(n: usize) -> (Vec<u8>, Vec<u32>) {
    let before = vec![1u8; n];
    (before, tk_path_load(n))
}

#[test]
fn nested_spans_as_a_path() {
    let d = dispatch(heapy::KindLayer::new().path());
    tracing::dispatcher::with_default(&d, || {
        warm_up();
        let kept = tk_path_outer(12);
        let h = heapy::hpy().heap();
        assert_eq!(figures(&h, "tk_path_outer"), (1, 12));
        assert_eq!(figures(&h, "tk_path_outer/tk_path_load"), (1, 12 * 4));
        assert_eq!(figures(&h, "tk_path_load"), (0, 0));
        drop(kept);
    });
}

#[test]
fn spans_left_out_of_order_restore_the_right_kinds() {
    let d = dispatch(heapy::KindLayer::new());
    tracing::dispatcher::with_default(&d, || {
        let run = || {
            let _k = heapy::kind("tk-order-Base");
            let a = tracing::info_span!("tk_order_a").entered();
            let b = tracing::info_span!("tk_order_b").entered();
            drop(a); // left before b, which stays the kind
            let in_b = vec![0u8; 3];
            drop(b);
            let in_base = vec![0u8; 4];
            (in_b, in_base)
        };
        warm_up();
        let kept = run();
        let h = heapy::hpy().heap();
        assert_eq!(figures(&h, "tk_order_b"), (1, 3));
        assert_eq!(figures(&h, "tk-order-Base"), (1, 4));
        assert_eq!(figures(&h, "tk_order_a"), (0, 0));
        drop(kept);
    });
}

const TASKS: usize = 16;
const STEPS: usize = 4;

/// Allocates `STEPS` buffers of `16 + i` bytes (keeping every other one) and hops to the
/// other worker after each; returns what it kept and a bit per worker it ran on.
#[tracing::instrument(skip_all)]
async fn tk_fetch(i: usize, rw: Arc<Rewaker>) -> (Vec<Vec<u8>>, u64) {
    let mut kept = Vec::with_capacity(STEPS);
    let mut workers = 0u64;
    for s in 0..STEPS {
        workers |= 1 << worker().min(63);
        let b = vec![0u8; 16 + i];
        if s % 2 == 0 {
            kept.push(b);
        }
        hop(&rw).await;
    }
    workers |= 1 << worker().min(63);
    (kept, workers)
}

/// As `tk_fetch`, keyed by the route it serves.
#[tracing::instrument(skip_all, fields(route = %route))]
async fn tk_handle(route: &'static str, i: usize, rw: Arc<Rewaker>) -> (Vec<Vec<u8>>, u64) {
    let mut kept = Vec::with_capacity(STEPS);
    let mut workers = 0u64;
    for _ in 0..STEPS {
        workers |= 1 << worker().min(63);
        kept.push(vec![0u8; 8 + i + route.len()]);
        hop(&rw).await;
    }
    (kept, workers | 1 << worker().min(63))
}

/// Bytes kept by `TASKS` tasks of `tk_fetch`.
fn fetch_bytes() -> usize {
    let kept_per_task = STEPS.div_ceil(2);
    (0..TASKS)
        .map(|i| STEPS * std::mem::size_of::<Vec<u8>>() + kept_per_task * (16 + i))
        .sum()
}

#[test]
fn instrumented_async_functions_are_kinds_across_workers() {
    let d = dispatch(heapy::KindLayer::new());
    let rt = runtime(&d);
    let (rw, waker_thread) = Rewaker::start(4 * TASKS);
    let run = || {
        tracing::dispatcher::with_default(&d, || {
            rt.block_on(async {
                let mut handles = Vec::new();
                for i in 0..TASKS {
                    let rw = rw.clone();
                    // Untagged tasks beside them, on the same workers.
                    let rw2 = rw.clone();
                    // The span is made here, on the runtime's caller; the task runs in it
                    // on the workers.
                    handles.push(tokio::spawn(tk_fetch(i, rw)));
                    handles.push(tokio::spawn(async move {
                        let mut v = Vec::with_capacity(STEPS);
                        for _ in 0..STEPS {
                            v.push(vec![0u8; 1000]);
                            hop(&rw2).await;
                        }
                        (v, 1 << worker().min(63))
                    }));
                }
                let mut out = Vec::new();
                for h in handles {
                    out.push(h.await.unwrap());
                }
                out
            })
        })
    };
    tracing::dispatcher::with_default(&d, warm_up);
    drop(run()); // the workers' parts too
    let out = run();
    let h = heapy::hpy().heap();
    let count = TASKS * (1 + STEPS.div_ceil(2));
    assert_eq!(figures(&h, "tk_fetch"), (count, fetch_bytes()));
    // The untagged tasks' buffers carry no span's kind.
    for (v, _) in out.iter().skip(1).step_by(2) {
        for b in v {
            let o = h
                .objects()
                .find(|o| o.address() == b.as_ptr() as usize)
                .unwrap();
            assert_ne!(o.kind(), "tk_fetch");
        }
    }
    for (_, workers) in out.iter().step_by(2) {
        assert!(workers.count_ones() >= 2, "a task did not migrate");
    }
    drop(out);
    rw.stop(waker_thread);
}

#[test]
fn a_span_field_keys_the_kind() {
    let d = dispatch(heapy::KindLayer::new().field("route"));
    let rt = runtime(&d);
    let (rw, waker_thread) = Rewaker::start(4 * TASKS);
    const ROUTES: [&str; 2] = ["/users", "/orders/recent"];
    let run = || {
        tracing::dispatcher::with_default(&d, || {
            rt.block_on(async {
                let mut handles = Vec::new();
                for i in 0..TASKS {
                    let rw = rw.clone();
                    let route = ROUTES[i % 2];
                    handles.push(tokio::spawn(tk_handle(route, i, rw)));
                }
                let mut out = Vec::new();
                for h in handles {
                    out.push(h.await.unwrap());
                }
                out
            })
        })
    };
    tracing::dispatcher::with_default(&d, warm_up);
    drop(run()); // the workers' parts too
    let out = run();
    let h = heapy::hpy().heap();
    for (r, route) in ROUTES.iter().enumerate() {
        let tasks: Vec<usize> = (0..TASKS).filter(|i| i % 2 == r).collect();
        let bytes: usize = tasks
            .iter()
            .map(|i| STEPS * std::mem::size_of::<Vec<u8>>() + STEPS * (8 + i + route.len()))
            .sum();
        let kind = format!("tk_handle{{route={route}}}");
        assert_eq!(
            figures(&h, &kind),
            (tasks.len() * (1 + STEPS), bytes),
            "{kind}"
        );
    }
    assert!(out.iter().all(|(_, w)| w.count_ones() >= 2));
    drop(out);
    rw.stop(waker_thread);
}

#[test]
fn span_kinds_and_in_kind_nest() {
    let d = dispatch(heapy::KindLayer::new());
    tracing::dispatcher::with_default(&d, || {
        let run = || {
            let fut = async {
                let outside = vec![0u8; 11];
                let inside = async { vec![0u8; 22] }
                    .instrument(tracing::info_span!("tk_nest_span"))
                    .await;
                let inner_kind = async { vec![0u8; 33] }.in_kind("tk-nest-Inner");
                let innermost = inner_kind
                    .instrument(tracing::info_span!("tk_nest_outer_span"))
                    .await;
                (outside, inside, innermost)
            }
            .in_kind("tk-nest-Task");
            let mut fut = std::pin::pin!(fut);
            match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                std::task::Poll::Ready(v) => v,
                std::task::Poll::Pending => unreachable!("nothing here waits"),
            }
        };
        warm_up();
        let kept = run();
        let h = heapy::hpy().heap();
        assert_eq!(figures(&h, "tk-nest-Task"), (1, 11));
        assert_eq!(figures(&h, "tk_nest_span"), (1, 22));
        assert_eq!(figures(&h, "tk-nest-Inner"), (1, 33));
        assert_eq!(figures(&h, "tk_nest_outer_span"), (0, 0));
        drop(kept);
    });
}

#[tracing::instrument]
fn tk_history_churn(n: usize) -> usize {
    (0..n)
        .map(|i| std::hint::black_box(vec![0u8; 10 + i]).len())
        .sum()
}

#[test]
fn a_span_s_totals_come_from_the_census_history() {
    let d = dispatch(heapy::KindLayer::new());
    tracing::dispatcher::with_default(&d, || {
        warm_up();
        let bytes = tk_history_churn(25);
        let totals = heapy::hpy().allocations().bykind().all();
        let row = totals
            .rows()
            .find(|r| r.label() == "tk_history_churn")
            .expect("a row for the span");
        assert_eq!((row.count(), row.size()), (25, bytes));
        assert_eq!(figures(&heapy::hpy().heap(), "tk_history_churn"), (0, 0));
    });
}
