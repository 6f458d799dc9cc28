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
//! * [`kind`] and [`with_kind`] tag allocations with a kind name.
//! * [`hpy`] gives an [`Hpy`]: [`Hpy::heap`] takes a snapshot ([`Heap`]), [`Hpy::mark`] a
//!   thread-scoped reference point ([`Mark`]), [`Hpy::stats`] the counters ([`Stats`]).
//! * [`Heap`] prints as guppy's partition table and drills down: [`Heap::bykind`],
//!   [`Heap::byid`], [`Heap::bysize`], [`Heap::bythread`], [`Heap::row`], [`Heap::theone`].
//!
//! ## Tests that run in parallel
//!
//! cargo runs tests on several threads of one process. A [`Mark`] only sees what its own
//! thread allocated after it, so a test that asserts on `mark.heap()` is exact whatever the
//! other tests do.
#![deny(missing_docs)]
#![warn(unsafe_op_in_unsafe_fn)]

mod census;
mod error;
mod heap;
mod sys;

pub use census::{is_installed, kind, with_kind, Census, KindGuard, Stats};
pub use error::{Error, Result};
pub use heap::{hpy, By, Heap, Hpy, Mark, Object};
