//! # heapy: a heap census for Rust
//!
//! heapy is to Rust what guppy's `hpy().heap()` is to Python: install its counting global
//! allocator, and at any moment ask what the heap holds, grouped by kind, size, thread or
//! call site, printed in guppy's table layout.
//!
//! ```
//! #[global_allocator]
//! static CENSUS: heapy::Census = heapy::Census::new();
//!
//! let people: Vec<String> = heapy::with_kind("Person", || vec!["ada".into(), "grace".into()]);
//! let h = heapy::hpy().heap();
//! println!("{h}");            // Partition of a set of N objects. Total size = M bytes. ...
//! println!("{}", h.row(0).byid()); // the objects of the largest row, one by one
//! # drop(people);
//! ```
//!
//! ## The parts
//!
//! * [`Census`], the global allocator. It records every live allocation (address, size,
//!   allocation serial, thread, kind) in a lock-free registry outside the heap it counts.
//! * Untagged objects are named by their allocation stack: `Vec<demo::Person>`, `String`,
//!   `HashMap<u32, demo::Person>`, `Rc<demo::Person>`... (with `-C symbol-mangling-version=v0`),
//!   else the function that allocated; [`Heap::bysite`] groups them by line of allocation and
//!   [`Heap::traceback`] shows a stack. [`Stacks`] chooses how stacks are captured.
//! * [`kind`] and [`with_kind`] tag allocations with a kind name (tags win over stacks).
//! * Async code: [`InKind::in_kind`] gives a future's polls a kind, whichever worker thread
//!   polls it; [`Hpy::task_mark`] and [`Mark::scope`] make a mark that follows futures, and
//!   [`check_no_leaks_async`], [`check_memory_limit_async`] and the `async` forms of the
//!   assertion macros check them; with the `tracing` feature, `KindLayer` makes the entered
//!   tracing span the kind.
//! * [`hpy`] gives an [`Hpy`]: [`Hpy::heap`] takes a snapshot ([`Heap`]), [`Hpy::mark`] a
//!   thread-scoped reference point ([`Mark`]), [`Hpy::stats`] the counters ([`Stats`]).
//! * [`Heap`] prints as guppy's partition table and drills down: [`Heap::bykind`],
//!   [`Heap::byid`], [`Heap::bysize`], [`Heap::bythread`], [`Heap::row`], [`Heap::theone`].
//! * Every table gives its rows as data, so that programs and tests never parse printed
//!   text: [`Heap::rows`] ([`HeapRow`]), [`Diff::rows`] ([`DiffRow`]), [`Cycles::rows`]
//!   ([`CycleRow`]), [`Paths::rows`] ([`PathRow`]), [`Retained::rows`] ([`RetainedRow`]),
//!   [`LineProfile::rows`] ([`LineRow`]). `count()` is always a number of objects,
//!   `rows().len()` a number of rows.
//! * Reference points: [`Hpy::setrelheap`] (process-wide, guppy's), [`Hpy::mark`] (this
//!   thread; [`Mark::peak_bytes`], [`Mark::heap_all_threads`], [`Mark::enter`]).
//! * [`Heap::diff`] gives guppy's A-B table ([`Diff`]); `&a - &b`, `&a & &b`, `&a | &b`,
//!   `&a ^ &b` are set algebra by object identity.
//! * [`assert_no_leaks!`] and [`assert_memory_limit!`] (and [`check_no_leaks`],
//!   [`check_memory_limit`]) prove memory behaviour in tests.
//! * [`Heap::dump`] and [`Heap::load`]: snapshot files (versioned JSON with a checksum),
//!   read by the `heapy view`, `heapy diff` and `heapy flame` commands.
//! * The object graph, from a conservative pointer scan: [`Hpy::heapu`] (live objects no
//!   root reaches: leaks), [`Heap::cycles`] (Rc/Arc cycles), [`Heap::referrers`],
//!   [`Heap::referents`], [`Heap::byrcs`], [`Heap::byvia`], [`Heap::sp`] (paths from roots),
//!   [`Heap::domisize`] and [`Heap::retained`] (dominator tree), and a leak report at exit
//!   ([`Census::report_leaks_at_exit`], `HEAPY_LEAKS=report`). The scan reads a frozen copy
//!   of the process, taken while the other threads are stopped for an instant by a
//!   real-time signal (`SIGRTMAX - 7`; `HEAPY_STOP_SIGNAL=<n>` or `off`).
//! * Profiles: [`macro@profile`] (memory_profiler's line table), [`Recorder`] (mprof
//!   timelines, `HEAPY_MPROF`, read back and plotted by [`mprof::Timeline`]), [`Heap::folded`] and `Heap::flamegraph` (flame graphs),
//!   [`Heap::dhat`] (DHAT's viewer) and `Heap::pprof` (pprof), and the `heapy mprof`
//!   commands.
//! * `Report` and `Heap::report` (feature `report`): one self-contained interactive HTML
//!   page of a heap (tables, drill-down, flame graph, diff, memory over time), also made by
//!   `heapy report`.
//! * From a running program: `heapy::serve("127.0.0.1:6060")` (feature `serve`) serves the
//!   heap over HTTP (`/debug/pprof/heap` for `go tool pprof`, Pyroscope and Parca; tables,
//!   counters and snapshot files), from one thread of heapy's own; `HEAPY_SERVE=<addr>`
//!   starts it with no code change.
//!
//! ## Tests that run in parallel
//!
//! cargo runs tests on several threads of one process. A [`Mark`] only sees what its own
//! thread allocated after it, so a test that asserts on `mark.heap()` is exact whatever the
//! other tests do. Threads spawned inside a marked scope are not in the mark unless they
//! call [`Mark::enter`].
//!
//! ```
//! #[global_allocator]
//! static CENSUS: heapy::Census = heapy::Census::new();
//!
//! heapy::assert_no_leaks!(|| drop(vec![0u8; 100]));
//! heapy::assert_memory_limit!(1 << 20, || vec![0u8; 1000].len());
//! ```
#![deny(missing_docs)]
#![warn(unsafe_op_in_unsafe_fn)]

mod census;
mod error;
mod export;
mod graph;
mod heap;
mod profile;
#[cfg(feature = "serve")]
mod serve;
mod stack;
mod sys;

#[cfg(feature = "tracing")]
pub use census::KindLayer;
pub use census::{is_installed, kind, with_kind, Census, InKind, KindGuard, Kinded, Stats};
pub use error::{Error, ParseByError, ParseStacksError, Result};
#[cfg(feature = "flame")]
pub use export::flamegraph;
#[cfg(feature = "report")]
pub use export::Report;
pub use graph::{CycleRow, Cycles, PathRow, Paths, Reference, Retained, RetainedRow};
pub use heap::{
    check_allocations, check_memory_limit, check_memory_limit_async, check_no_alloc,
    check_no_leaks, check_no_leaks_async, hpy, By, Diff, DiffRow, Heap, HeapRow, History, Hpy,
    Mark, MarkGuard, Object, Scoped, Traceback,
};
pub use profile::{LineProfile, LineRow, Recorder};
#[cfg(feature = "serve")]
pub use serve::{serve, Server};
pub use stack::{set_sample_seed, Frame, Stacks};

/// memory_profiler's `mprof` timelines: memory over time as `.dat` files, written by
/// [`Recorder`], `HEAPY_MPROF` and `heapy mprof run`, read back and plotted here.
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// use heapy::mprof::{Sample, Timeline};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("run.dat");
/// std::fs::write(&path, "MEM 1.5 100.0\nMEM 4.0 100.1\nFUNC demo::load 1.5 100.0 4.0 100.1 0\n").unwrap();
/// let t = Timeline::load(&path).unwrap();
/// assert_eq!(t.peak(), Some(Sample::new(100.1, 4.0)));
/// assert_eq!(t.funcs()[0].name, "demo::load");
/// ```
pub mod mprof {
    pub use crate::export::{Func, Sample, Timeline};
}

/// Prints memory_profiler's line-by-line table for a function each time it returns.
///
/// Every statement of the function (and of the blocks of its loops, `if`s, `match` arms and
/// plain blocks) is followed by a reading of the heap; when the function returns, the table
/// goes to stderr:
///
/// ```text
/// Filename: src/main.rs
///
/// Line #    Mem usage    Increment  Occurrences   Line Contents
/// =============================================================
///     10   0.00000 MiB   0.00000 MiB           1   #[heapy::profile(thread, precision = 5)]
///     11                                         fn build() -> Vec<u64> {
///     12   1.00000 MiB   1.00000 MiB           1       let a = vec![0u8; 1 << 20];
/// ```
///
/// Mem usage is the heap after the line (the highest, if the line ran several times), in
/// MiB; Increment the change the line made, summed over its runs; Occurrences how many times
/// it ran (a loop header counts each iteration plus the final test, as in Python). The
/// figures are exact heap bytes from the census, not RSS estimates. See [`LineProfile`].
///
/// Options, in any order:
///
/// * `precision = N`: decimals of the MiB figures (default 1, as memory_profiler).
/// * `stream = stderr` (default), `stream = stdout`, `stream = "path"` (appended to the
///   file), or `stream = none` (only kept for [`LineProfile::last`]).
/// * `thread`: count only the calling thread's allocations minus its frees since the
///   function was entered, whatever other threads do (the right mode for tests, which cargo
///   runs in parallel). Without it, the figures are the process's live heap
///   (`hpy().stats().live_bytes`), which other threads change too. Not on an `async fn`:
///   its future may resume on another thread, whose counts are not the function's, so the
///   attribute refuses it at compile time (see below); profile it without `thread`.
///
/// While a [`Recorder`] runs, each call also adds a FUNC bracket to its timeline. The
/// function's locals are dropped after the last row is read (as in memory_profiler); an
/// early return through `?` or a panic ends the table where the function stopped.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// #[heapy::profile(thread, precision = 5, stream = none)]
/// fn build() -> usize {
///     let a = vec![0u8; 1 << 20];
///     let mut v: Vec<u64> = Vec::new();
///     for i in 0..3 {
///         v.push(i);
///     }
///     drop(a);
///     v.len()
/// }
///
/// assert_eq!(build(), 3);
/// let p = heapy::LineProfile::last().unwrap();
/// let push = p.rows().find(|r| r.text().trim() == "v.push(i);").unwrap();
/// assert_eq!(push.occurrences(), 3);
/// assert_eq!(push.increment_bytes(), Some(4 * 8)); // the first push allocates room for 4
/// print!("{p}");
/// ```
///
/// `thread` on an `async fn` does not compile, with the error "#[heapy::profile(thread)]
/// cannot profile an async fn: its future may resume on another thread, and the figures would
/// then count that thread's allocations, not this function's; drop `thread` (the figures are
/// then the process's live heap)", pointing at `async`:
///
/// ```compile_fail
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// #[heapy::profile(thread)]
/// async fn load() -> usize {
///     vec![0u8; 10].len()
/// }
/// # fn main() {}
/// ```
#[cfg(feature = "macros")]
pub use heapy_macros::profile;

/// The runtime of `#[heapy::profile]`, for the code the attribute writes, and what the
/// `heapy` command shares with the library. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::profile::{FnInfo, Profiler, Stream};

    /// Writes `bytes` where `path` leads, as every file heapy writes (`heapy mprof run`'s
    /// recording): a regular file replaced atomically, a symbolic link followed, a FIFO or
    /// device written into.
    pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> crate::Result<()> {
        crate::census::guard::internal(|| crate::sys::atomic::write(path, bytes))
    }

    /// Checks that [`write_file`] to `path` can be made now, writing nothing there (a file
    /// is made and removed beside the one to replace).
    pub fn check_file(path: &std::path::Path) -> crate::Result<()> {
        crate::census::guard::internal(|| crate::sys::atomic::check(path))
    }

    /// Sets how many frames a stack capture keeps at most (1 ..= 2048; 2048 by default) and
    /// whether it reuses the thread's previous walk (by default it does): the overhead
    /// benchmark's side-by-side configurations. Captures already made keep their ids.
    pub fn configure_capture(frames: usize, reuse: bool) {
        crate::stack::configure_capture(frames, reuse);
    }

    /// Forgets every resolved stack and symbol (the symbolization benchmark's cold runs).
    pub fn forget_symbols() {
        crate::census::guard::internal(crate::stack::forget_symbols);
    }

    pub use crate::graph::ScanPoint;

    /// Sets (or clears) a function that every pointer scan calls on the scanning thread at
    /// each [`ScanPoint`]: tests use it to move a pointer at a chosen moment of a scan, as
    /// another thread might. It runs under heapy's guard (what it allocates is not counted).
    pub fn set_scan_hook(f: Option<fn(ScanPoint)>) {
        crate::graph::set_scan_hook(f);
    }

    /// How long the last pointer scan held the other threads stopped (the graph
    /// benchmark's pause figure).
    pub fn last_stop_pause() -> std::time::Duration {
        crate::sys::last_pause()
    }
}
