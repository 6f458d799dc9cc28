//! Sound reads of this process's own memory, for the pointer scan.
//!
//! The graph layer reads objects that other threads may be writing or freeing at the same
//! moment. A plain read would be a data race (undefined behaviour in Rust's model), and a
//! block freed and unmapped meanwhile would crash the reader. `process_vm_readv` on our own
//! pid copies through the kernel instead: no race in the program's memory model, and an
//! address that is not mapped gives `EFAULT` (a short read) instead of a fault.

/// Copies `buf.len()` bytes from address `addr` of this process into `buf`; returns how
/// many leading bytes were copied (fewer when the range runs into unmapped memory).
pub(crate) fn read(addr: usize, buf: &mut [u8]) -> usize {
    if buf.is_empty() {
        return 0;
    }
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes the writable bytes of `buf`; the kernel only writes there,
    // and validates the remote range itself (EFAULT or a short count instead of a fault).
    let got = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    if got <= 0 {
        0
    } else {
        got as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory_and_stops_at_unmapped_pages() {
        let data: Vec<u8> = (0..=255).collect();
        let mut buf = vec![0u8; 256];
        assert_eq!(read(data.as_ptr() as usize, &mut buf), 256);
        assert_eq!(buf, data);
        // The first page is never mapped.
        assert_eq!(read(16, &mut buf), 0);
        // A range that runs off the end of the mapping copies what precedes the hole.
        let page = 4096;
        // SAFETY: a fresh anonymous mapping of two pages; the second is unmapped at once.
        let p = unsafe {
            let p = libc::mmap(
                core::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            libc::munmap(p.cast::<u8>().add(page).cast(), page);
            p as usize
        };
        let mut big = vec![1u8; 2 * page];
        assert_eq!(read(p + page - 8, &mut big[..16]), 8);
        assert_eq!(&big[..8], &[0u8; 8]);
        // SAFETY: unmaps the first page of our own mapping.
        unsafe { libc::munmap(p as *mut libc::c_void, page) };
    }
}
