//! Per-thread peaks of live bytes for thread-scoped marks.
//!
//! The hot path keeps, for each thread, its net bytes (allocated minus freed) and the highest
//! value of that figure since the last reset (`ThreadSlot::net_bytes` / `net_peak`, written
//! in `record::count_alloc` with a load, a compare and a store: no read-modify-write, no
//! lock). A [`Watch`] asks for the peak since it was made: making one folds the current peak
//! into every watch still alive on the thread, then resets the thread's peak to its net bytes
//! now. So any number of nested or overlapping marks each see the exact peak of their own
//! span, while the hot path stays a single compare.
//!
//! None of this runs in the allocator: watches are made and read by user calls, inside
//! `guard::internal` (their memory is heapy's own).

use core::sync::atomic::{AtomicI64, Ordering};
use std::cell::RefCell;
use std::sync::{Arc, Weak};

use super::{guard, record, threads};

/// A reference point for one thread's peak net bytes.
#[derive(Debug)]
pub(crate) struct Watch {
    thread: u16,
    /// The thread's net bytes when the watch was made.
    base: i64,
    /// The highest net bytes seen between the watch's start and the thread's last peak reset.
    acc: AtomicI64,
}

thread_local! {
    /// Watches made on this thread that may still be alive (pruned as they die).
    static WATCHES: RefCell<Vec<Weak<Watch>>> = const { RefCell::new(Vec::new()) };
}

fn net(t: u16) -> i64 {
    // Relaxed: written by thread `t` only; read on `t` it sees its own writes, read elsewhere
    // it is a figure of that moment, which is all it is asked to be.
    threads::slot(t).net_bytes.load(Ordering::Relaxed) as i64
}

fn peak(t: u16) -> i64 {
    // Relaxed: as `net`.
    threads::slot(t).net_peak.load(Ordering::Relaxed) as i64
}

/// Starts a watch of the calling thread's peak net bytes.
pub(crate) fn watch() -> Arc<Watch> {
    guard::internal(|| {
        let t = record::current_thread();
        if threads::shared(t) {
            // Shared indices keep no per-thread peak: the watch always reads 0.
            return Arc::new(Watch {
                thread: t,
                base: 0,
                acc: AtomicI64::new(0),
            });
        }
        let now = net(t);
        let w = Arc::new(Watch {
            thread: t,
            base: now,
            acc: AtomicI64::new(now),
        });
        let _ = WATCHES.try_with(|ws| {
            let mut ws = ws.borrow_mut();
            let p = peak(t);
            ws.retain(|w| match w.upgrade() {
                Some(w) => {
                    // Relaxed: the accumulator is a max, and readers on this thread see it in
                    // program order; other threads read a figure of that moment.
                    w.acc.fetch_max(p, Ordering::Relaxed);
                    true
                }
                None => false,
            });
            // Only this thread writes its own peak (here and in the allocator), so the store
            // cannot lose an update. Relaxed: see `peak`.
            threads::slot(t)
                .net_peak
                .store(now as u64, Ordering::Relaxed);
            ws.push(Arc::downgrade(&w));
        });
        w
    })
}

impl Watch {
    /// The highest net bytes of the thread since the watch began, above its start (0 if the
    /// thread only freed).
    pub(crate) fn peak_bytes(&self) -> u64 {
        if threads::shared(self.thread) {
            return 0;
        }
        // Relaxed: see `Watch::acc` and `peak`.
        let hi = self.acc.load(Ordering::Relaxed).max(peak(self.thread));
        hi.saturating_sub(self.base).max(0) as u64
    }

    /// The thread's net bytes now minus at the watch's start (what it allocated minus what
    /// it freed meanwhile); 0 on a shared index.
    pub(crate) fn net_change(&self) -> i64 {
        if threads::shared(self.thread) {
            return 0;
        }
        net(self.thread) - self.base
    }
}
