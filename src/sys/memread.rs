//! Sound reads of this process's own memory, for the pointer scan.
//!
//! The graph layer reads objects that other threads may be writing or freeing at the same
//! moment. A plain read would be a data race (undefined behaviour in Rust's model), and a
//! block freed and unmapped meanwhile would crash the reader. `process_vm_readv` on our own
//! pid copies through the kernel instead: no race in the program's memory model, and an
//! address that is not mapped gives `EFAULT` (a short read) instead of a fault.

const WORD: usize = core::mem::size_of::<usize>();

/// Copies `buf.len()` machine words from address `addr` of this process into `buf`;
/// returns how many leading words were copied whole (fewer when the range runs into
/// unmapped memory). `addr` need not be aligned: the kernel copies bytes.
pub(crate) fn read_words(addr: usize, buf: &mut [usize]) -> usize {
    let len = core::mem::size_of_val(buf);
    // SAFETY: the same memory as `buf`, viewed as its `len` bytes for as long as `buf` is
    // borrowed here: u8 has alignment 1, and every byte pattern is a valid usize, so the
    // words stay valid whatever the kernel writes into them.
    let bytes = unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), len) };
    read(addr, bytes) / WORD
}

/// Copies `buf.len()` bytes from address `addr` of this process into `buf`; returns how
/// many leading bytes were copied (fewer when the range runs into unmapped memory).
fn read(addr: usize, buf: &mut [u8]) -> usize {
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
        let p = page_then_hole(page);
        let mut big = vec![1u8; 2 * page];
        assert_eq!(read(p + page - 8, &mut big[..16]), 8);
        assert_eq!(&big[..8], &[0u8; 8]);
        // SAFETY: unmaps the first page of our own mapping.
        unsafe { libc::munmap(p as *mut libc::c_void, page) };
    }

    /// A mapped page of zeros followed by an unmapped one: its address. The caller unmaps it.
    fn page_then_hole(page: usize) -> usize {
        // SAFETY: a fresh anonymous mapping of two pages; the second is unmapped at once,
        // and nothing else refers to either.
        unsafe {
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
        }
    }

    #[test]
    fn reads_whole_words_only() {
        let data: Vec<usize> = (1..=64).collect();
        let mut buf = vec![0usize; 64];
        assert_eq!(read_words(data.as_ptr() as usize, &mut buf), 64);
        assert_eq!(buf, data);
        // Unaligned: the words as they lie in memory from that byte on.
        let bytes: Vec<u8> = data.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let mut two = [0usize; 2];
        assert_eq!(read_words(data.as_ptr() as usize + 3, &mut two), 2);
        let got: Vec<u8> = two.iter().flat_map(|w| w.to_ne_bytes()).collect();
        assert_eq!(got, bytes[3..3 + 2 * WORD]);
        // Nothing mapped, nothing asked.
        assert_eq!(read_words(16, &mut two), 0);
        assert_eq!(read_words(data.as_ptr() as usize, &mut []), 0);
        // A range that runs into unmapped memory half-way through a word: the whole
        // words before the hole.
        let page = 4096;
        let p = page_then_hole(page);
        let mut three = [7usize; 3];
        assert_eq!(read_words(p + page - WORD - WORD / 2, &mut three), 1);
        assert_eq!(three[0], 0);
        // SAFETY: unmaps the first page of our own mapping, which nothing refers to.
        unsafe { libc::munmap(p as *mut libc::c_void, page) };
    }
}
