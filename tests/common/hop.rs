//! Tasks made to move between worker threads: `hop()` is ready only once a worker other
//! than the one that made it polls it, and the wake that gets it there comes from a thread
//! outside the runtime (`Rewaker`), so tokio queues the task where every worker takes work
//! from. Nothing here allocates once set up (a tokio waker's clone is a reference count),
//! so a task's figures are its own.
#![allow(dead_code)] // each test file uses a part

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

thread_local! {
    /// This thread's number, given when it first asks (0: not yet). `const`, no destructor,
    /// no allocation.
    static WORKER: Cell<usize> = const { Cell::new(0) };
}
static NEXT_WORKER: AtomicUsize = AtomicUsize::new(1);

pub fn worker() -> usize {
    WORKER.with(|w| {
        if w.get() == 0 {
            w.set(NEXT_WORKER.fetch_add(1, Ordering::Relaxed));
        }
        w.get()
    })
}

/// Wakes tasks from a thread outside the runtime, so that tokio queues them where every
/// worker takes tasks from. Its lists are allocated up front: handing it a waker allocates
/// nothing (a tokio waker's clone is a reference count).
pub struct Rewaker {
    queue: Mutex<Vec<Waker>>,
    ready: Condvar,
    stop: AtomicBool,
}

impl Rewaker {
    pub fn start(capacity: usize) -> (Arc<Rewaker>, std::thread::JoinHandle<()>) {
        let rw = Arc::new(Rewaker {
            queue: Mutex::new(Vec::with_capacity(capacity)),
            ready: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let r = rw.clone();
        let thread = std::thread::spawn(move || {
            let mut batch: Vec<Waker> = Vec::with_capacity(capacity);
            loop {
                {
                    let mut q = r.queue.lock().unwrap();
                    while q.is_empty() && !r.stop.load(Ordering::Relaxed) {
                        q = r.ready.wait(q).unwrap();
                    }
                    if q.is_empty() {
                        return;
                    }
                    std::mem::swap(&mut *q, &mut batch);
                }
                for w in batch.drain(..) {
                    w.wake();
                }
            }
        });
        (rw, thread)
    }

    fn wake_later(&self, w: &Waker) {
        let mut q = self.queue.lock().unwrap();
        assert!(q.len() < q.capacity(), "the rewaker's list is full");
        q.push(w.clone());
        self.ready.notify_one();
    }

    pub fn stop(&self, thread: std::thread::JoinHandle<()>) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.queue.lock().unwrap());
        self.ready.notify_one();
        thread.join().unwrap();
    }
}

/// Ready once a worker other than the one that made it polls it.
pub struct Hop<'a> {
    from: usize,
    rw: &'a Rewaker,
}

pub fn hop(rw: &Rewaker) -> Hop<'_> {
    Hop { from: worker(), rw }
}

impl Future for Hop<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if worker() != self.from {
            return Poll::Ready(());
        }
        self.rw.wake_later(cx.waker());
        Poll::Pending
    }
}

/// A tokio runtime with two workers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}
