//! Thread-scoped reference points: `Mark`, and `MarkGuard` to carry one into other threads.
//!
//! A mark remembers the calling thread's index and a serial that every later allocation of
//! that thread reaches or passes (serials rise in allocation order on each thread). Its heap
//! is then the live objects of that thread with a serial at or past the mark: whatever other
//! threads allocate or free, the figure is exact.
//!
//! A mark holds its thread's census slot (and those of the threads that entered it) while it
//! lives, so the slot is not handed to a later thread meanwhile: the index in the mark names
//! the same thread for as long as the mark exists.
//!
//! Threads spawned inside a marked scope are *not* in the mark by default: the mark cannot
//! tell a helper thread of the code under test from a test running in parallel. A thread
//! joins the mark by calling [`Mark::enter`] on itself; from then until the returned
//! [`MarkGuard`] drops, its allocations belong to the mark too.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use super::history::{Figure, History};
use super::snapshot::take;
use super::Heap;
use super::Meta;
use crate::census::history::{self, CtxHistory};
use crate::census::{guard, peak, record, threads};

/// A span of one thread's allocations that belongs to a mark.
#[derive(Clone, Copy, Debug)]
struct Span {
    thread: u16,
    from: u64,
    /// The first serial after the span (`None` while the thread is still inside it).
    until: Option<u64>,
}

impl Span {
    fn holds(&self, thread: u16, serial: u64) -> bool {
        thread == self.thread && serial >= self.from && self.until.is_none_or(|u| serial < u)
    }
}

#[derive(Debug)]
struct Shared {
    peak: Arc<peak::Watch>,
    /// Threads that entered the mark with [`Mark::enter`].
    entered: Mutex<Vec<Span>>,
    /// Every thread's next serial when the mark was made (for `heap_all_threads`).
    watermarks: record::Watermarks,
    /// The marking thread's index, whose slot the mark holds (see `Drop`).
    thread: u16,
    /// The thread's allocation log when the mark was made (see `Mark::allocations`).
    log_base: Vec<(u32, u64, u64)>,
}

impl Shared {
    /// Runs `f` on the entered threads, locked, as a fork-safe section (`sys::fork`): the
    /// lock is never held across a `fork()`, so a child can use a mark it inherited.
    fn with_entered<R>(&self, f: impl FnOnce(&mut Vec<Span>) -> R) -> R {
        guard::internal(|| {
            crate::sys::fork::section(|| {
                f(&mut self.entered.lock().unwrap_or_else(|e| e.into_inner()))
            })
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The slots of the marking thread and of every thread that entered the mark were
        // pinned when they did; nothing of this mark names them any more.
        history::log_stop(self.thread);
        threads::unpin(self.thread);
        let e = self.entered.get_mut().unwrap_or_else(|e| e.into_inner());
        for s in e.iter() {
            threads::unpin(s.thread);
        }
    }
}

/// A thread-scoped reference point, from [`Hpy::mark`](crate::Hpy::mark).
///
/// [`Mark::heap`] is what the marking thread allocated since the mark and still holds,
/// whatever other threads do, so assertions on it are exact while cargo runs other tests
/// in parallel threads. Threads spawned in the scope are not included unless they call
/// [`Mark::enter`] (see there). Clones of a mark are the same mark.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let kept = vec![1u64; 4];
/// drop(vec![0u8; 64]); // freed again: not in the heap
/// let h = mark.heap();
/// assert_eq!((h.count(), h.size()), (1, 32));
/// assert_eq!(mark.peak_bytes(), 64 + 32);
/// # drop(kept);
/// ```
#[derive(Clone, Debug)]
#[doc(alias("checkpoint", "scope"))]
#[non_exhaustive]
pub struct Mark {
    thread: u16,
    serial: u64,
    shared: Arc<Shared>,
}

impl Mark {
    /// A mark on the calling thread, now.
    pub(crate) fn new() -> Mark {
        guard::internal(|| {
            let peak = peak::watch();
            let thread = record::current_thread();
            // Held until the last clone of the mark drops (see `Shared`'s `Drop`).
            threads::pin(thread);
            history::log_start(thread);
            let log_base = history::log_now(thread);
            Mark {
                thread,
                serial: record::thread_watermark(),
                shared: Arc::new(Shared {
                    peak,
                    entered: Mutex::new(Vec::new()),
                    watermarks: record::watermarks(),
                    thread,
                    log_base,
                }),
            }
        })
    }

    fn spans(&self) -> Vec<Span> {
        guard::internal(|| {
            let mut spans = self.shared.with_entered(|e| e.clone());
            spans.push(Span {
                thread: self.thread,
                from: self.serial,
                until: None,
            });
            spans
        })
    }

    /// The live objects the marking thread allocated since the mark (and those of threads
    /// that [entered](Mark::enter) it, while they were inside).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let other = std::thread::spawn(|| vec![0u8; 10]).join().unwrap();
    /// assert!(mark.heap().is_empty()); // another thread allocated it
    /// # drop(other);
    /// ```
    pub fn heap(&self) -> Heap {
        let spans = self.spans();
        take(|o| spans.iter().any(|s| s.holds(o.thread, o.serial)))
    }

    /// The live objects that any thread allocated since the mark (each thread's position
    /// was noted when the mark was made).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let mine = vec![0u8; 7];
    /// let h = mark.heap_all_threads();
    /// assert!(h.objects().any(|o| o.address() == mine.as_ptr() as usize));
    /// # drop(mine);
    /// ```
    pub fn heap_all_threads(&self) -> Heap {
        let wm = &self.shared.watermarks;
        let (t, s) = (self.thread, self.serial);
        take(|o| {
            if o.thread == t {
                o.serial >= s
            } else {
                // Threads not alive at the mark get the global position then.
                o.serial >= wm.get(o.thread)
            }
        })
    }

    /// The highest live bytes of the marking thread since the mark: the peak of what it
    /// allocated minus what it freed, above the figure at the mark (pytest-memray's
    /// `limit_memory` measures the same). Counts the marking thread only, not threads that
    /// entered the mark. 0 if the thread only freed.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let a = vec![0u8; 1000];
    /// drop(a);
    /// let b = vec![0u8; 10];
    /// assert_eq!(mark.peak_bytes(), 1000);
    /// # drop(b);
    /// ```
    #[doc(alias("high_water_mark", "peak"))]
    pub fn peak_bytes(&self) -> u64 {
        self.shared.peak.peak_bytes()
    }

    /// Every block the marking thread allocated since the mark, freed ones included, by
    /// kind (Count is blocks, Size their bytes; `.bysite()` names the lines): what a test
    /// asserts on to prove a piece of code allocates no more than it should (see
    /// [`assert_allocations!`](crate::assert_allocations)). Exact while other threads
    /// allocate; the marking thread only (not threads that entered the mark). A
    /// reallocation counts as a new block. Empty under a sampling census, which keeps no
    /// history.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let mut total = 0;
    /// for i in 0..4 {
    ///     let line = heapy::with_kind("Line", || vec![b'x'; 10 + i]);
    ///     total += line.len();
    /// }
    /// let a = mark.allocations();
    /// assert_eq!((a.count(), a.size()), (4, total));
    /// ```
    #[doc(alias("allocation_count", "total_allocations", "churn"))]
    pub fn allocations(&self) -> History {
        guard::internal(|| {
            let base: std::collections::HashMap<u32, (u64, u64)> = self
                .shared
                .log_base
                .iter()
                .map(|&(c, b, s)| (c, (b, s)))
                .collect();
            let ctxs: Vec<CtxHistory> = history::log_now(self.thread)
                .into_iter()
                .map(|(ctx, blocks, bytes)| {
                    let (b0, s0) = base.get(&ctx).copied().unwrap_or((0, 0));
                    CtxHistory {
                        ctx,
                        alloc_blocks: blocks.saturating_sub(b0),
                        alloc_bytes: bytes.saturating_sub(s0),
                        ..CtxHistory::default()
                    }
                })
                .filter(|h| h.alloc_blocks != 0)
                .collect();
            let meta = Meta::resolve(ctxs.iter().map(|h| h.ctx), Default::default());
            History::new(&ctxs, std::sync::Arc::new(meta), Figure::AllocatedSinceMark)
        })
    }

    /// Brings the calling thread into the mark until the guard drops: what it allocates
    /// meanwhile (and keeps) is in [`Mark::heap`]. This is how a mark follows work into the
    /// threads it spawns; without it, spawned threads are not in the mark. On the marking
    /// thread itself, entering changes nothing.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let m = mark.clone();
    /// let v = std::thread::spawn(move || {
    ///     let _in = m.enter();
    ///     vec![0u8; 48]
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(mark.heap().size(), 48);
    /// # drop(v);
    /// ```
    pub fn enter(&self) -> MarkGuard {
        let thread = record::current_thread();
        let from = record::thread_watermark();
        let index = guard::internal(|| {
            // Held until the mark drops (see `Shared`'s `Drop`).
            threads::pin(thread);
            self.shared.with_entered(|e| {
                e.push(Span {
                    thread,
                    from,
                    until: None,
                });
                e.len() - 1
            })
        });
        MarkGuard {
            shared: self.shared.clone(),
            index,
            _not_send: PhantomData,
        }
    }
}

/// The calling thread's membership in a [`Mark`], from [`Mark::enter`]; it ends when the
/// guard drops (on the thread that entered).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let m = mark.clone();
/// let (inside, after) = std::thread::spawn(move || {
///     let g = m.enter();
///     let inside = vec![0u8; 16];
///     drop(g);
///     let after = vec![0u8; 32]; // allocated after leaving: not in the mark
///     (inside, after)
/// })
/// .join()
/// .unwrap();
/// assert_eq!(mark.heap().size(), 16);
/// # drop((inside, after));
/// ```
#[derive(Debug)]
#[must_use = "the thread leaves the mark when the guard drops"]
#[non_exhaustive]
pub struct MarkGuard {
    shared: Arc<Shared>,
    index: usize,
    _not_send: PhantomData<*const ()>,
}

impl Drop for MarkGuard {
    fn drop(&mut self) {
        let until = record::thread_watermark();
        self.shared.with_entered(|e| {
            if let Some(s) = e.get_mut(self.index) {
                s.until = Some(until);
            }
        });
    }
}
