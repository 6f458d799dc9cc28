//! Assertions for tests: no leaks over a closure (or a future), and a memory limit over a
//! closure (or a future).
//!
//! Both run the closure under a thread-scoped [`Mark`], so tests that cargo runs in parallel
//! threads do not disturb each other. Threads the closure spawns are not in the mark unless
//! they call [`Mark::enter`] (see [`Mark`]); for such work, make the mark yourself and use
//! [`Mark::check_no_leaks`] and [`Mark::check_memory_limit`].

use std::collections::HashMap;
use std::fmt::Write;
use std::future::Future;

use super::{Heap, Mark, PAGE};
use crate::census::guard;
use crate::{Error, Result};

/// The table of `h` for a failure message: by kind, then by call site when sites are known.
fn table(h: &Heap) -> String {
    guard::internal(|| {
        let mut out = h.bykind().to_string();
        let meta = h.meta();
        let mut sites: HashMap<&str, (usize, usize)> = HashMap::new();
        for o in h.objs() {
            if let Some(site) = meta.kinds.get(&o.ctx).and_then(|k| k.site.as_deref()) {
                let e = sites.entry(site).or_default();
                e.0 += 1;
                e.1 += o.size;
            }
        }
        if !sites.is_empty() {
            let mut sites: Vec<_> = sites.into_iter().collect();
            sites.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
            let _ = writeln!(out, "By call site:");
            for (site, (count, size)) in sites.iter().take(PAGE) {
                let _ = writeln!(out, "{count:6} objects {size:9} bytes  {site}");
            }
        }
        out
    })
}

impl Mark {
    /// Checks that nothing allocated in the mark (by its thread, and by threads that
    /// [entered](Mark::enter) it) is still live; otherwise [`Error::Leaked`] with the table.
    /// The form of [`check_no_leaks`] for work that spawns threads.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let mark = heapy::hpy().mark();
    /// let m = mark.clone();
    /// let kept = std::thread::spawn(move || {
    ///     let _in = m.enter();
    ///     heapy::with_kind("Worker", || vec![0u8; 10])
    /// })
    /// .join()
    /// .unwrap();
    /// let err = mark.check_no_leaks().unwrap_err();
    /// assert!(err.to_string().contains("Worker"));
    /// drop(kept);
    /// assert!(mark.check_no_leaks().is_ok());
    /// ```
    #[doc(alias("leak_check"))]
    pub fn check_no_leaks(&self) -> Result<()> {
        let left = self.heap();
        if left.is_empty() {
            Ok(())
        } else {
            Err(Error::Leaked {
                count: left.count(),
                size: left.size(),
                table: table(&left),
            })
        }
    }

    /// Checks that the mark's [peak](Mark::peak_bytes) stayed within `limit_bytes`;
    /// otherwise [`Error::OverLimit`] with the peak and the table of the mark's live objects.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// drop(vec![0u8; 2048]);
    /// assert!(mark.check_memory_limit(2048).is_ok());
    /// assert!(mark.check_memory_limit(2047).is_err());
    /// ```
    #[doc(alias("memory_budget", "limit_memory"))]
    pub fn check_memory_limit(&self, limit_bytes: u64) -> Result<()> {
        let peak = self.peak_bytes();
        if peak <= limit_bytes {
            Ok(())
        } else {
            Err(Error::OverLimit {
                limit: limit_bytes,
                peak,
                table: table(&self.heap()),
            })
        }
    }
}

/// Runs `scope` and checks that everything it allocated on this thread is freed by the time
/// it returns (its return value is dropped first); otherwise [`Error::Leaked`] with the
/// table of the objects left. The non-panicking form of [`assert_no_leaks!`](crate::assert_no_leaks).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// assert!(heapy::check_no_leaks(|| vec![0u8; 64].len()).is_ok());
///
/// let mut cache = Vec::new();
/// let err = heapy::check_no_leaks(|| heapy::with_kind("Entry", || cache.push(vec![0u8; 32])))
///     .unwrap_err();
/// assert!(matches!(err, heapy::Error::Leaked { .. }));
/// assert!(err.to_string().contains("Entry"));
/// ```
#[doc(alias("leak_check"))]
pub fn check_no_leaks<R>(scope: impl FnOnce() -> R) -> Result<()> {
    let mark = Mark::new();
    drop(scope());
    mark.check_no_leaks()
}

/// Runs `scope` and checks that this thread's live bytes never rose more than
/// `limit_bytes` above where they were when it began (its peak, as pytest-memray's
/// `limit_memory` measures it); otherwise [`Error::OverLimit`] with the peak and the table
/// of the scope's objects still live at its end (its return value included). The
/// non-panicking form of [`assert_memory_limit!`](crate::assert_memory_limit).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// assert!(heapy::check_memory_limit(1024, || drop(vec![0u8; 1000])).is_ok());
/// let err = heapy::check_memory_limit(1024, || drop(vec![0u8; 1025])).unwrap_err();
/// assert!(matches!(err, heapy::Error::OverLimit { limit: 1024, peak: 1025, .. }));
/// ```
#[doc(alias("memory_budget", "limit_memory"))]
pub fn check_memory_limit<R>(limit_bytes: u64, scope: impl FnOnce() -> R) -> Result<()> {
    let mark = Mark::new();
    let r = scope();
    let result = mark.check_memory_limit(limit_bytes);
    drop(r);
    result
}

/// Runs the future `fut` and checks that everything it allocated, on whichever threads
/// polled it, is freed by the time it completes (its output is dropped first); otherwise
/// [`Error::Leaked`] with the table of the objects left. The async form of
/// [`check_no_leaks`], with a [task mark](crate::Hpy::task_mark): exact on a multi-thread
/// runtime while other tasks run, and the code around `fut` is not in it. Tasks that `fut`
/// spawns are not in it unless they are [scoped](Mark::scope) to the mark too. The
/// non-panicking form of `assert_no_leaks!(async { … })`.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// async fn main() {
///     assert!(heapy::check_no_leaks_async(async { vec![0u8; 64].len() }).await.is_ok());
///
///     let cache = std::sync::Mutex::new(Vec::new());
///     let err = heapy::check_no_leaks_async(async { cache.lock().unwrap().push([0u8; 32]) })
///         .await
///         .unwrap_err();
///     assert!(matches!(err, heapy::Error::Leaked { count: 1, size: 128, .. }));
/// }
/// ```
#[doc(alias("leak_check", "async"))]
pub async fn check_no_leaks_async<F: Future>(fut: F) -> Result<()> {
    let mark = Mark::task();
    drop(mark.scope(fut).await);
    mark.check_no_leaks()
}

/// Runs the future `fut` and checks that what it allocated minus what it freed, on
/// whichever threads polled it, never rose above `limit_bytes` (its peak, counted poll by
/// poll); otherwise [`Error::OverLimit`] with the peak and the table of its objects still
/// live at its end (its output included). The async form of [`check_memory_limit`], with a
/// [task mark](crate::Hpy::task_mark); the non-panicking form of
/// `assert_memory_limit!(limit, async { … })`.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// async fn main() {
///     let ok = heapy::check_memory_limit_async(1024, async { drop(vec![0u8; 1000]) });
///     assert!(ok.await.is_ok());
///     let err = heapy::check_memory_limit_async(1024, async { vec![0u8; 1025] })
///         .await
///         .unwrap_err();
///     assert!(matches!(err, heapy::Error::OverLimit { limit: 1024, peak: 1025, .. }));
/// }
/// ```
#[doc(alias("memory_budget", "limit_memory", "async"))]
pub async fn check_memory_limit_async<F: Future>(limit_bytes: u64, fut: F) -> Result<()> {
    let mark = Mark::task();
    let r = mark.scope(fut).await;
    let result = mark.check_memory_limit(limit_bytes);
    drop(r);
    result
}

/// Asserts that a closure frees everything it allocates: runs it under a thread-scoped
/// mark, drops its result, and panics with the table of the objects left (their kinds, and
/// call sites when known) if any survive. Exact while other tests run in parallel threads;
/// threads the closure spawns count only if they [enter](crate::Mark::enter) the mark.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// heapy::assert_no_leaks!(|| {
///     let v: Vec<String> = (0..10).map(|i| i.to_string()).collect();
///     assert_eq!(v.len(), 10);
/// });
///
/// let failed = std::panic::catch_unwind(|| {
///     heapy::assert_no_leaks!(|| {
///         std::mem::forget(heapy::with_kind("Forgotten", || Box::new([0u8; 48])));
///     })
/// });
/// let msg = *failed.unwrap_err().downcast::<String>().unwrap();
/// assert!(msg.contains("1 objects (48 bytes) allocated in the scope are still live"));
/// assert!(msg.contains("Forgotten"));
/// ```
///
/// Given an `async` block instead, it is a future to `.await`: it runs the block and
/// checks what the block allocated on whichever threads polled it (with
/// [`check_no_leaks_async`](crate::check_no_leaks_async)), exact on a multi-thread runtime
/// while other tasks run:
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// async fn main() {
///     let other = tokio::spawn(async { vec![0u8; 10] }); // another task: not checked
///     heapy::assert_no_leaks!(async {
///         let v: Vec<String> = (0..10).map(|i| i.to_string()).collect();
///         assert_eq!(v.len(), 10);
///     })
///     .await;
///     # drop(other.await);
/// }
/// ```
#[macro_export]
#[doc(alias("leak_check", "no_leaks"))]
macro_rules! assert_no_leaks {
    (async move $body:block $(,)?) => {
        $crate::assert_no_leaks!(@future async move $body)
    };
    (async $body:block $(,)?) => {
        $crate::assert_no_leaks!(@future async $body)
    };
    (@future $fut:expr) => {
        async {
            if let ::core::result::Result::Err(e) = $crate::check_no_leaks_async($fut).await {
                ::core::panic!("assert_no_leaks! failed: {}", e);
            }
        }
    };
    ($scope:expr $(,)?) => {
        if let ::core::result::Result::Err(e) = $crate::check_no_leaks($scope) {
            ::core::panic!("assert_no_leaks! failed: {}", e);
        }
    };
}

/// Asserts that a closure's peak memory stays within `limit_bytes` (like pytest-memray's
/// `limit_memory`): the highest this thread's live bytes rose above where they were when
/// the closure began. Panics with the peak, the limit and the table of the scope's objects
/// still live at its end.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// heapy::assert_memory_limit!(4096, || {
///     for _ in 0..100 {
///         drop(vec![0u8; 4000]); // one at a time: the peak is 4000
///     }
/// });
///
/// let failed = std::panic::catch_unwind(|| {
///     heapy::assert_memory_limit!(4096, || vec![vec![0u8; 4000], vec![0u8; 4000]]);
/// });
/// let msg = *failed.unwrap_err().downcast::<String>().unwrap();
/// assert!(msg.contains("peak was 8048 bytes, over the limit of 4096 bytes"));
/// ```
///
/// Given an `async` block instead, it is a future to `.await`, and the peak is that of what
/// the block allocated minus what it freed, on whichever threads polled it (with
/// [`check_memory_limit_async`](crate::check_memory_limit_async)):
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// async fn main() {
///     heapy::assert_memory_limit!(4096, async {
///         for _ in 0..100 {
///             drop(vec![0u8; 4000]);
///         }
///     })
///     .await;
/// }
/// ```
#[macro_export]
#[doc(alias("memory_budget", "limit_memory"))]
macro_rules! assert_memory_limit {
    ($limit_bytes:expr, async move $body:block $(,)?) => {
        $crate::assert_memory_limit!(@future $limit_bytes, async move $body)
    };
    ($limit_bytes:expr, async $body:block $(,)?) => {
        $crate::assert_memory_limit!(@future $limit_bytes, async $body)
    };
    (@future $limit_bytes:expr, $fut:expr) => {
        async {
            if let ::core::result::Result::Err(e) =
                $crate::check_memory_limit_async($limit_bytes, $fut).await
            {
                ::core::panic!("assert_memory_limit! failed: {}", e);
            }
        }
    };
    ($limit_bytes:expr, $scope:expr $(,)?) => {
        if let ::core::result::Result::Err(e) = $crate::check_memory_limit($limit_bytes, $scope) {
            ::core::panic!("assert_memory_limit! failed: {}", e);
        }
    };
}

/// Runs `scope` and checks that it allocated at most `max_blocks` blocks on this thread,
/// freed ones included (a reallocation counts as a block); otherwise
/// [`Error::TooManyAllocations`] with the table of its allocations by call site. Exact while
/// other tests run in parallel threads. The non-panicking form of
/// [`assert_allocations!`](crate::assert_allocations).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// assert!(heapy::check_allocations(1, || vec![0u8; 64].len()).is_ok());
/// let err = heapy::check_allocations(1, || (vec![0u8; 8], vec![0u8; 8])).unwrap_err();
/// assert!(matches!(err, heapy::Error::TooManyAllocations { blocks: 2, bytes: 16, limit: 1, .. }));
/// ```
#[doc(alias("allocation_count", "count_allocations"))]
pub fn check_allocations<R>(max_blocks: usize, scope: impl FnOnce() -> R) -> Result<()> {
    let mark = Mark::new();
    let r = scope();
    let result = mark.check_allocations(max_blocks);
    drop(r);
    result
}

/// Runs `scope` and checks that it allocated nothing on this thread; otherwise
/// [`Error::TooManyAllocations`] with the table of its allocations by call site. The
/// non-panicking form of [`assert_no_alloc!`](crate::assert_no_alloc).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let v = vec![1u64, 2, 3];
/// assert!(heapy::check_no_alloc(|| v.iter().sum::<u64>()).is_ok());
/// assert!(heapy::check_no_alloc(|| v.to_vec()).is_err());
/// ```
#[doc(alias("no_alloc", "allocation_free"))]
pub fn check_no_alloc<R>(scope: impl FnOnce() -> R) -> Result<()> {
    check_allocations(0, scope)
}

impl Mark {
    /// Checks that the marking thread allocated at most `max_blocks` blocks since the mark
    /// (see [`Mark::allocations`]); otherwise [`Error::TooManyAllocations`].
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// drop(vec![0u8; 8]);
    /// assert!(mark.check_allocations(1).is_ok());
    /// assert!(mark.check_allocations(0).is_err());
    /// ```
    pub fn check_allocations(&self, max_blocks: usize) -> Result<()> {
        let a = self.allocations();
        if a.count() <= max_blocks {
            return Ok(());
        }
        let table = guard::internal(|| {
            let sites = a.bysite();
            // Without stacks every block is `<no stack>`: the kinds say more.
            if sites.rows().len() == 1 && a.rows().len() > 1 {
                a.all().to_string()
            } else {
                sites.all().to_string()
            }
        });
        Err(Error::TooManyAllocations {
            blocks: a.count(),
            bytes: a.size(),
            limit: max_blocks,
            table,
        })
    }
}

/// Asserts that a closure allocates at most `max_blocks` blocks on this thread, freed ones
/// included (the `allocation-counter` crate's and dhat's testing use): panics with the count
/// and the table of the closure's allocations by call site. Exact while other tests run in
/// parallel threads; threads the closure spawns are not counted.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// heapy::assert_allocations!(1, || {
///     let v: Vec<u32> = Vec::with_capacity(100);
///     v.capacity()
/// });
///
/// let failed = std::panic::catch_unwind(|| {
///     heapy::assert_allocations!(2, || (0..3).map(|i| i.to_string()).collect::<Vec<_>>());
/// });
/// let msg = *failed.unwrap_err().downcast::<String>().unwrap();
/// assert!(msg.contains("over the limit of 2 blocks"), "{msg}");
/// ```
#[macro_export]
#[doc(alias("allocation_count", "count_allocations"))]
macro_rules! assert_allocations {
    ($max_blocks:expr, $scope:expr $(,)?) => {
        if let ::core::result::Result::Err(e) = $crate::check_allocations($max_blocks, $scope) {
            ::core::panic!("assert_allocations! failed: {}", e);
        }
    };
}

/// Asserts that a closure allocates nothing on this thread (the `assert_no_alloc` crate's
/// check, without replacing the global allocator and exact while other tests run in
/// parallel): panics with the table of its allocations by call site.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let data = [3u8, 1, 2];
/// heapy::assert_no_alloc!(|| data.iter().max().copied());
///
/// let failed = std::panic::catch_unwind(|| heapy::assert_no_alloc!(|| data.to_vec()));
/// let msg = *failed.unwrap_err().downcast::<String>().unwrap();
/// assert!(msg.starts_with("assert_no_alloc! failed: 1 blocks (3 bytes) allocated"), "{msg}");
/// ```
#[macro_export]
#[doc(alias("no_alloc", "allocation_free"))]
macro_rules! assert_no_alloc {
    ($scope:expr $(,)?) => {
        if let ::core::result::Result::Err(e) = $crate::check_no_alloc($scope) {
            ::core::panic!("assert_no_alloc! failed: {}", e);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::table;
    use crate::heap::test_support::sample_heap;

    #[test]
    fn failure_tables_list_call_sites_when_known() {
        let t = table(&sample_heap());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "Partition of a set of 5 objects. Total size = 1136 bytes."
        );
        let at = lines.iter().position(|l| *l == "By call site:").unwrap();
        assert_eq!(
            &lines[at + 1..],
            [
                "     1 objects      1000 bytes  src/main.rs:31 demo::cache",
                "     2 objects       128 bytes  src/main.rs:20 demo::load",
            ]
        );
    }
}
