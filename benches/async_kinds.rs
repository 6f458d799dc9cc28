//! The cost of a kind per poll: a future polled plainly, in a kind (`InKind::in_kind`), and
//! in a tracing span with and without `heapy::KindLayer` (the `tracing` feature).
//!
//! Two workloads, each variant side by side in one run (interleaved repetitions, medians):
//! - `poll`: one future polled in a loop on one thread (it asks to be polled again each
//!   time): the cost of the wrapper alone, per poll;
//! - `churn`: a two-worker tokio runtime running many small tasks, each allocating 16 bytes
//!   at each of its polls and yielding (`tokio::task::yield_now`) between them.
//!
//! Prints `async_kinds <workload> <variant> <ns> ns/poll`, then the ratios and the
//! differences per poll. `cargo bench --bench async_kinds --features tracing` for the layer's
//! rows; `HEAPY_BENCH_QUICK=1` shortens the run.

use std::future::Future;
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use heapy::InKind;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new().stacks(heapy::Stacks::Off);

/// Pending `left` times (asking to be polled again), then ready.
struct Countdown {
    left: u64,
}

impl Future for Countdown {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            return Poll::Ready(());
        }
        self.left -= 1;
        black_box(&mut self.left);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Nanoseconds per poll of `fut`, polled to its end on this thread.
fn poll_loop(polls: u64, fut: impl Future<Output = ()>) -> f64 {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let t = Instant::now();
    while fut.as_mut().poll(&mut cx).is_pending() {}
    t.elapsed().as_secs_f64() * 1e9 / polls as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One small task of the churn: `steps` polls, each allocating a 16-byte box.
async fn small_task(steps: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..steps {
        let b = black_box(Box::new([i as u8; 16]));
        sum += u64::from(b[0]);
        drop(b);
        tokio::task::yield_now().await;
    }
    sum
}

/// Nanoseconds per poll of `tasks` tasks of `steps` polls each, spawned at once on `rt`,
/// each wrapped by `wrap`.
fn churn<F>(rt: &tokio::runtime::Runtime, tasks: u64, steps: u64, wrap: impl Fn(u64) -> F) -> f64
where
    F: Future<Output = u64> + Send + 'static,
{
    rt.block_on(async {
        let t = Instant::now();
        let handles: Vec<_> = (0..tasks).map(|_| tokio::spawn(wrap(steps))).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        black_box(sum);
        // Each task is polled once per step and once more to finish.
        t.elapsed().as_secs_f64() * 1e9 / (tasks * (steps + 1)) as f64
    })
}

fn runtime(dispatch: Option<tracing::Dispatch>) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    if let Some(d) = dispatch {
        b.on_thread_start(move || {
            // For the life of the worker thread.
            std::mem::forget(tracing::dispatcher::set_default(&d));
        });
    }
    b.build().unwrap()
}

#[cfg(feature = "tracing")]
fn with_layer() -> Option<tracing::Dispatch> {
    use tracing_subscriber::layer::SubscriberExt;
    Some(tracing::Dispatch::new(
        tracing_subscriber::registry().with(heapy::KindLayer::new()),
    ))
}

#[cfg(feature = "tracing")]
fn registry_only() -> Option<tracing::Dispatch> {
    Some(tracing::Dispatch::new(tracing_subscriber::registry()))
}

#[cfg(not(feature = "tracing"))]
fn with_layer() -> Option<tracing::Dispatch> {
    None
}

#[cfg(not(feature = "tracing"))]
fn registry_only() -> Option<tracing::Dispatch> {
    None
}

/// A poll-loop variant: its name, the dispatcher it runs under, and the run (ns per poll).
type PollRun<'a> = (
    &'static str,
    Option<&'a tracing::Dispatch>,
    Box<dyn Fn() -> f64>,
);

fn main() {
    use tracing::Instrument;

    let quick = std::env::var_os("HEAPY_BENCH_QUICK").is_some();
    let (reps, polls, tasks, steps) = if quick {
        (5, 200_000, 200, 20)
    } else {
        (11, 2_000_000, 1000, 50)
    };
    let layer = cfg!(feature = "tracing");
    drop(heapy::kind("Task")); // interned before timing

    // The poll loop: (name, dispatcher, run).
    let registry = registry_only();
    let layered = with_layer();
    let poll_runs: Vec<PollRun> = vec![
        (
            "plain",
            None,
            Box::new(move || poll_loop(polls, Countdown { left: polls })),
        ),
        (
            "in_kind",
            None,
            Box::new(move || poll_loop(polls, Countdown { left: polls }.in_kind("Task"))),
        ),
        (
            "span",
            registry.as_ref(),
            Box::new(move || {
                let span = tracing::info_span!("task");
                poll_loop(polls, Countdown { left: polls }.instrument(span))
            }),
        ),
        (
            "span+KindLayer",
            layered.as_ref(),
            Box::new(move || {
                let span = tracing::info_span!("task");
                poll_loop(polls, Countdown { left: polls }.instrument(span))
            }),
        ),
    ];
    let poll_runs = if layer {
        poll_runs
    } else {
        poll_runs.into_iter().take(2).collect()
    };
    let mut poll_times: Vec<Vec<f64>> = vec![Vec::new(); poll_runs.len()];

    let rt_plain = runtime(None);
    let rt_registry = runtime(registry_only());
    let rt_layer = runtime(with_layer());
    let churn_names = ["plain", "in_kind", "span", "span+KindLayer"];
    let n_churn = if layer { 4 } else { 2 };
    let mut churn_times: Vec<Vec<f64>> = vec![Vec::new(); n_churn];

    let churn_run = |i: usize| -> f64 {
        match i {
            0 => churn(&rt_plain, tasks, steps, small_task),
            1 => churn(&rt_plain, tasks, steps, |s| small_task(s).in_kind("Task")),
            2 => tracing::dispatcher::with_default(registry.as_ref().unwrap(), || {
                churn(&rt_registry, tasks, steps, |s| {
                    small_task(s).instrument(tracing::info_span!("task"))
                })
            }),
            _ => tracing::dispatcher::with_default(layered.as_ref().unwrap(), || {
                churn(&rt_layer, tasks, steps, |s| {
                    small_task(s).instrument(tracing::info_span!("task"))
                })
            }),
        }
    };
    // Each runtime runs its workload once before timing (threads started, queues grown).
    for i in 0..n_churn {
        churn_run(i);
    }
    for rep in 0..reps {
        for (i, (_, d, run)) in poll_runs.iter().enumerate() {
            let t = match d {
                Some(d) => tracing::dispatcher::with_default(d, run),
                None => run(),
            };
            poll_times[i].push(t);
        }
        // The churn variants in a rotating order, so that none always runs first.
        for k in 0..n_churn {
            let i = (rep + k) % n_churn;
            churn_times[i].push(churn_run(i));
        }
    }

    println!(
        "heapy async kinds benchmark: {reps} interleaved repetitions, medians; poll loop of \
         {polls} polls; churn of {tasks} tasks x {} polls on 2 workers",
        steps + 1
    );
    let p: Vec<f64> = poll_times.into_iter().map(median).collect();
    for ((name, _, _), ns) in poll_runs.iter().zip(&p) {
        println!("async_kinds poll {name} {ns:.2} ns/poll");
    }
    let c: Vec<f64> = churn_times.into_iter().map(median).collect();
    for (name, ns) in churn_names.iter().zip(&c) {
        println!("async_kinds churn {name} {ns:.1} ns/poll");
    }
    println!(
        "async_kinds poll: in_kind / plain {:.2}x (+{:.2} ns/poll); churn: in_kind / plain \
         {:.3}x (+{:.1} ns/poll)",
        p[1] / p[0],
        p[1] - p[0],
        c[1] / c[0],
        c[1] - c[0]
    );
    if layer {
        println!(
            "async_kinds poll: span+KindLayer / span {:.2}x (+{:.2} ns/poll); churn: \
             span+KindLayer / span {:.3}x (+{:.1} ns/poll)",
            p[3] / p[2],
            p[3] - p[2],
            c[3] / c[2],
            c[3] - c[2]
        );
    } else {
        println!("async_kinds: the KindLayer rows need --features tracing");
    }
}
