//! Facts about the calling thread, read without allocating through Rust's global allocator.

/// The kernel's id of the calling thread.
pub(crate) fn current_tid() -> u32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// True on the process's first thread (whose tid equals the pid).
pub(crate) fn is_main_thread() -> bool {
    // SAFETY: getpid has no preconditions and cannot fail.
    current_tid() == unsafe { libc::getpid() as u32 }
}

/// The calling thread's OS name (at most 15 bytes, as Linux keeps it), written into `buf`;
/// returns the number of bytes written. Rust's `std::thread::Builder::name` sets this name.
pub(crate) fn current_thread_name(buf: &mut [u8; 16]) -> usize {
    // SAFETY: `buf` is 16 writable bytes, the size Linux requires for thread names, and
    // pthread_self() is always a valid handle for the calling thread.
    let rc = unsafe { libc::pthread_getname_np(libc::pthread_self(), buf.as_mut_ptr().cast(), 16) };
    if rc != 0 {
        return 0;
    }
    buf.iter().position(|&b| b == 0).unwrap_or(16)
}

/// The calling thread's stack as `(lowest, highest)` addresses, if the C library knows it.
///
/// glibc's `pthread_getattr_np` may call glibc's own `malloc` (never Rust's global allocator)
/// when it reads `/proc/self/maps` for the main thread, so this is safe inside `Census::alloc`.
pub(crate) fn current_stack_bounds() -> Option<(usize, usize)> {
    // SAFETY: `attr` is initialised by pthread_getattr_np before any read, and destroyed on
    // every path after a successful init; the out-pointers point to live locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = core::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 || addr.is_null() {
            return None;
        }
        let lo = addr as usize;
        Some((lo, lo + size))
    }
}
