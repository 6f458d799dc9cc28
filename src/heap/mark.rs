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
//!
//! A future joins it with [`Mark::scope`]: each of its polls enters the mark on the thread
//! that polls it, so the mark follows a task from worker to worker. A mark from
//! [`Hpy::task_mark`](crate::Hpy::task_mark) holds only such entries (no thread of its own):
//! what the futures scoped to it allocated, whatever else the threads that polled them ran.

use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

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

/// The spans of a mark as a lookup: per thread, sorted, overlaps merged, so that a
/// snapshot asks one binary search per object however many polls entered the mark.
struct SpanIndex {
    /// `(thread, from, until)`, `until` being `u64::MAX` for a span still open.
    spans: Vec<(u16, u64, u64)>,
}

impl SpanIndex {
    fn new(spans: &[Span]) -> SpanIndex {
        let mut v: Vec<(u16, u64, u64)> = spans
            .iter()
            .map(|s| (s.thread, s.from, s.until.unwrap_or(u64::MAX)))
            .filter(|s| s.1 < s.2)
            .collect();
        v.sort_unstable();
        let mut merged: Vec<(u16, u64, u64)> = Vec::with_capacity(v.len());
        for s in v {
            match merged.last_mut() {
                Some(m) if m.0 == s.0 && s.1 <= m.2 => m.2 = m.2.max(s.2),
                _ => merged.push(s),
            }
        }
        SpanIndex { spans: merged }
    }

    fn holds(&self, thread: u16, serial: u64) -> bool {
        let k = self
            .spans
            .partition_point(|s| (s.0, s.1) <= (thread, serial));
        k > 0 && {
            let s = self.spans[k - 1];
            s.0 == thread && serial < s.2
        }
    }
}

/// The figures of the futures scoped to a mark, added up poll by poll.
#[derive(Debug, Default)]
struct ScopedBytes {
    /// What their polls allocated minus what they freed, so far.
    net: AtomicI64,
    /// The highest `net` reached inside a poll.
    peak: AtomicI64,
}

#[derive(Debug)]
struct Shared {
    /// The marking thread's peak (`None` for a task mark).
    peak: Option<Arc<peak::Watch>>,
    /// Threads that entered the mark with [`Mark::enter`], and polls of scoped futures.
    entered: Mutex<Vec<Span>>,
    /// Every thread's next serial when the mark was made (for `heap_all_threads`).
    watermarks: record::Watermarks,
    /// The marking thread's index, whose slot the mark holds (see `Drop`); `None` for a
    /// task mark.
    thread: Option<u16>,
    /// The thread's allocation log when the mark was made (see `Mark::allocations`; empty
    /// for a task mark).
    log_base: Vec<(u32, u64, u64)>,
    scoped: ScopedBytes,
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
        if let Some(t) = self.thread {
            history::log_stop(t);
            threads::unpin(t);
        }
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
    /// The marking thread and its position at the mark (`None` for a task mark).
    own: Option<(u16, u64)>,
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
                own: Some((thread, record::thread_watermark())),
                shared: Arc::new(Shared {
                    peak: Some(peak),
                    entered: Mutex::new(Vec::new()),
                    watermarks: record::watermarks(),
                    thread: Some(thread),
                    log_base,
                    scoped: ScopedBytes::default(),
                }),
            }
        })
    }

    /// A mark that no thread is in: only futures scoped to it and threads that enter it.
    pub(crate) fn task() -> Mark {
        guard::internal(|| Mark {
            own: None,
            shared: Arc::new(Shared {
                peak: None,
                entered: Mutex::new(Vec::new()),
                watermarks: record::watermarks(),
                thread: None,
                log_base: Vec::new(),
                scoped: ScopedBytes::default(),
            }),
        })
    }

    fn spans(&self) -> SpanIndex {
        guard::internal(|| {
            let mut spans = self.shared.with_entered(|e| e.clone());
            if let Some((thread, from)) = self.own {
                spans.push(Span {
                    thread,
                    from,
                    until: None,
                });
            }
            SpanIndex::new(&spans)
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
        take(|o| spans.holds(o.thread, o.serial))
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
        take(|o| match self.own {
            Some((t, s)) if o.thread == t => o.serial >= s,
            // Threads not alive at the mark get the global position then.
            _ => o.serial >= wm.get(o.thread),
        })
    }

    /// The highest live bytes of the marking thread since the mark: the peak of what it
    /// allocated minus what it freed, above the figure at the mark (pytest-memray's
    /// `limit_memory` measures the same). Counts the marking thread only, not threads that
    /// entered the mark. 0 if the thread only freed.
    ///
    /// With futures [scoped](Mark::scope) to the mark, the peak of what their polls
    /// allocated minus what they freed counts too: exact for one scoped future (or several
    /// polled one after another) on a [task mark](crate::Hpy::task_mark); where the marking
    /// thread and scoped futures both allocate, the higher of the two peaks.
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
        let own = self.shared.peak.as_ref().map_or(0, |w| w.peak_bytes());
        // Relaxed: see `ScopedBytes::add`.
        let scoped = self.shared.scoped.peak.load(Ordering::Relaxed).max(0) as u64;
        own.max(scoped)
    }

    /// Every block the marking thread allocated since the mark, freed ones included, by
    /// kind (Count is blocks, Size their bytes; `.bysite()` names the lines): what a test
    /// asserts on to prove a piece of code allocates no more than it should (see
    /// [`assert_allocations!`](crate::assert_allocations)). Exact while other threads
    /// allocate; the marking thread only (not threads that entered the mark). A
    /// reallocation counts as a new block. Empty under a sampling census, which keeps no
    /// history, and for a [task mark](crate::Hpy::task_mark) (no thread of its own; the
    /// polls of futures scoped to a mark are not in this log).
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
            let now = match self.own {
                Some((thread, _)) => history::log_now(thread),
                None => Vec::new(),
            };
            let ctxs: Vec<CtxHistory> = now
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
        let index = self.shared.with_entered(|e| {
            // A span that ended where this one begins (the same thread, nothing allocated
            // on it in between: a future polled again at once) is opened again.
            if let Some(last) = e.last_mut() {
                if last.thread == thread && last.until == Some(from) {
                    last.until = None;
                    return e.len() - 1;
                }
            }
            // Held until the mark drops (see `Shared`'s `Drop`).
            threads::pin(thread);
            e.push(Span {
                thread,
                from,
                until: None,
            });
            e.len() - 1
        });
        MarkGuard {
            shared: self.shared.clone(),
            index,
            _not_send: PhantomData,
        }
    }
}

impl Mark {
    /// `fut`, each of its polls (and its drop) inside this mark on the thread that polls
    /// it, as if that thread called [`Mark::enter`] for the poll: what the future allocates
    /// and keeps is in [`Mark::heap`], whichever worker threads ran it, and nothing the
    /// same threads ran for other tasks between its polls. Its peak counts in
    /// [`Mark::peak_bytes`].
    ///
    /// For an async test, make the mark with [`Hpy::task_mark`](crate::Hpy::task_mark)
    /// (no thread of its own, so the test's own allocations and the runtime's stay out of
    /// it), or use the async forms of [`assert_no_leaks!`](crate::assert_no_leaks) and
    /// [`assert_memory_limit!`](crate::assert_memory_limit). Each poll takes the mark's
    /// lock twice: a tool for tests, not for a service's hot path (there, use
    /// [`InKind`](crate::InKind) and read the census by kind).
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    /// async fn main() {
    ///     let mark = heapy::hpy().task_mark();
    ///     let other = tokio::spawn(async { vec![0u8; 1000] }); // not in the mark
    ///     let mine = tokio::spawn(mark.scope(async { vec![0u8; 24] }));
    ///     let (other, mine) = (other.await.unwrap(), mine.await.unwrap());
    ///     let h = mark.heap();
    ///     assert_eq!((h.count(), h.size()), (1, 24));
    ///     assert_eq!(mark.peak_bytes(), 24);
    ///     # drop((other, mine));
    /// }
    /// ```
    #[doc(alias("async", "future", "task"))]
    pub fn scope<F: Future>(&self, fut: F) -> Scoped<F> {
        Scoped {
            inner: ManuallyDrop::new(fut),
            mark: self.clone(),
        }
    }

    /// Enters the mark for one poll of a scoped future (see `InPoll`).
    fn poll_in(&self) -> InPoll {
        // The watch first: its own memory is heapy's, and it starts the poll's peak.
        let watch = peak::watch();
        InPoll {
            _in: self.enter(),
            watch,
        }
    }
}

/// One poll of a scoped future: inside the mark while alive; on drop, the poll's net bytes
/// and peak are added to the mark's scoped figures.
struct InPoll {
    _in: MarkGuard,
    watch: Arc<peak::Watch>,
}

impl Drop for InPoll {
    fn drop(&mut self) {
        let (hi, change) = (self.watch.peak_bytes() as i64, self.watch.net_change());
        let scoped = &self._in.shared.scoped;
        // Relaxed: the polls of one future run one after another, and the executor orders
        // them (it hands the future from thread to thread through its own synchronisation),
        // so each poll sees the figures the previous one added. Futures polled at once on
        // different threads give a figure of those moments (see `Mark::peak_bytes`).
        let before = scoped.net.fetch_add(change, Ordering::Relaxed);
        scoped.peak.fetch_max(before + hi, Ordering::Relaxed);
    }
}

/// A future inside a [`Mark`], from [`Mark::scope`].
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let mark = heapy::hpy().task_mark();
/// let fut: heapy::Scoped<_> = mark.scope(async { 1 + 1 });
/// # drop(fut);
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[non_exhaustive]
pub struct Scoped<F> {
    /// Dropped in place by `Drop`, inside the mark (never moved once pinned).
    inner: ManuallyDrop<F>,
    mark: Mark,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _in = self.mark.poll_in();
        // SAFETY: `inner` is pinned structurally: it is never moved out of a `Scoped` (its
        // only other use is `Drop`, which drops it in place), and `Scoped` is `Unpin` only
        // when `F` is (`Mark` is `Unpin`), so a pinned `Scoped` keeps `inner` where it is.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut *s.inner) };
        inner.poll(cx)
    }
}

impl<F> Drop for Scoped<F> {
    fn drop(&mut self) {
        let _in = self.mark.poll_in();
        // SAFETY: `inner` is dropped once, here, in place (so a pinned future is never
        // moved), and nothing reads it afterwards.
        unsafe { ManuallyDrop::drop(&mut self.inner) }
    }
}

impl<F> core::fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Scoped")
            .field("mark", &self.mark)
            .finish_non_exhaustive()
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
