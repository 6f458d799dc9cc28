//! Platform facts at the bottom of heapy: thread identity, names and stack bounds, the raw
//! pages that hold heapy's own bookkeeping, and, for the object graph, sound reads of the
//! process's memory, its loaded segments and thread-local blocks, and the registers; and
//! atomic file writes for every file heapy writes, helper threads for heapy's own work, and
//! the gate that keeps heapy's locks free across `fork()`.
//!
//! Everything here except `segments::loaded`, `atomic`, `workers::run_parallel` and
//! `fork::section` (which waits while a fork is under way) is callable from inside the
//! global allocator: no function allocates through Rust's global allocator, panics, or
//! takes a lock.
//!
//! The targets heapy supports are named here, once: 64-bit Linux on x86_64 and aarch64.
//! Elsewhere the build stops with a message instead of compiling branches that do nothing.

// What this layer assumes: Linux's calls (`process_vm_readv` or `/proc/self/mem`, `gettid`, `tgkill`, glibc's or
// musl's `pthread_getattr_np`, `/proc/self/statm`, `.init_array`), 64-bit ELF program
// headers and 48-bit user addresses (the registry packs them), and the registers, thread
// pointer and frame layout of x86_64 and aarch64.
#[cfg(not(all(
    target_os = "linux",
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
compile_error!(
    "heapy supports 64-bit Linux on x86_64 and aarch64 only: it reads process memory, thread \
     stacks and loaded segments with Linux calls, and registers and frame pointers of those \
     two architectures"
);

pub(crate) mod atomic;
pub(crate) mod fork;
mod memread;
mod pages;
mod regs;
mod rss;
mod segments;
mod stop;
mod thread;
mod workers;

pub(crate) use memread::{check_readable, read_words, ReadDenied};
#[cfg(test)]
pub(crate) use memread::{Failure as ReadFailure, READS_LEFT};
pub(crate) use pages::{map_zeroed, unmap};
pub(crate) use regs::{
    frame_pointer, read_frame, spill_registers, stack_pointer, thread_alive, thread_pointer,
    FP_SLOT, REGS,
};
pub(crate) use rss::rss_bytes;
pub(crate) use segments::{loaded as loaded_segments, Segment};
pub(crate) use stop::{
    freeze, last_pause, signal as stop_signal, Critical, Frozen, NoFreeze, RED_ZONE,
};
pub(crate) use thread::{current_stack_bounds, current_thread_name, current_tid, is_main_thread};
pub(crate) use workers::run_parallel;
#[cfg(feature = "serve")]
pub(crate) use workers::{spawn as spawn_own, OwnThread};
