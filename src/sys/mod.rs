//! Platform facts at the bottom of heapy: thread identity, names and stack bounds, and the
//! raw pages that hold heapy's own bookkeeping.
//!
//! Everything here is callable from inside the global allocator: no function allocates
//! through Rust's global allocator, panics, or takes a lock.

mod pages;
mod rss;
mod thread;

pub(crate) use pages::{map_zeroed, unmap};
pub(crate) use rss::rss_bytes;
pub(crate) use thread::{current_stack_bounds, current_thread_name, current_tid, is_main_thread};
