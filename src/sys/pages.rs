//! Zeroed anonymous pages straight from the kernel, for heapy's bookkeeping.
//!
//! heapy's registry must not live in the heap it counts: memory obtained here never passes
//! through the global allocator, so it can never appear in a census and taking it can never
//! recurse into `Census::alloc`.

use core::ptr::{self, NonNull};

/// Maps `len` bytes of zeroed, private, read-write memory. Returns `None` when the kernel
/// refuses (out of memory or address space).
pub(crate) fn map_zeroed(len: usize) -> Option<NonNull<u8>> {
    // SAFETY: an anonymous private mapping with no address hint touches no existing memory;
    // the result is checked against MAP_FAILED before use.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        None
    } else {
        NonNull::new(p.cast())
    }
}

/// Returns pages obtained from [`map_zeroed`] to the kernel.
///
/// # Safety
///
/// `p` and `len` must describe exactly one earlier `map_zeroed` result, and nothing may use
/// that memory afterwards.
pub(crate) unsafe fn unmap(p: NonNull<u8>, len: usize) {
    // SAFETY: the caller promises `p..p+len` is a mapping of ours that is no longer used.
    unsafe {
        libc::munmap(p.as_ptr().cast(), len);
    }
}
