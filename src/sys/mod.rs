//! Platform facts at the bottom of heapy: thread identity, names and stack bounds, the raw
//! pages that hold heapy's own bookkeeping, and, for the object graph, sound reads of the
//! process's memory, its loaded segments and thread-local blocks, and the registers; and
//! atomic file writes for every file heapy writes, and helper threads for heapy's own work.
//!
//! Everything here except `segments::loaded`, `atomic` and `workers::run_parallel` is
//! callable from inside the global allocator: no function allocates through Rust's global
//! allocator, panics, or takes a lock.

pub(crate) mod atomic;
mod memread;
mod pages;
mod regs;
mod rss;
mod segments;
mod thread;
mod workers;

pub(crate) use memread::read_words;
pub(crate) use pages::{map_zeroed, unmap};
pub(crate) use regs::{spill_registers, stack_pointer, thread_alive, thread_pointer, REGS};
pub(crate) use rss::rss_bytes;
pub(crate) use segments::loaded as loaded_segments;
pub(crate) use thread::{current_stack_bounds, current_thread_name, current_tid, is_main_thread};
pub(crate) use workers::run_parallel;
