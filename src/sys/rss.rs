//! The process's resident set size, read without allocating.

/// Bytes of this process resident in memory now (`/proc/self/statm`), or `None` when it
/// cannot be read (no `/proc`).
pub(crate) fn rss_bytes() -> Option<u64> {
    let mut buf = [0u8; 128];
    // SAFETY: the path is a NUL-terminated literal; flags are plain read-only.
    let fd = unsafe {
        libc::open(
            c"/proc/self/statm".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: `buf` is a writable buffer of `buf.len()` bytes and `fd` is open.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: `fd` was opened above and is closed once.
    unsafe { libc::close(fd) };
    if n <= 0 {
        return None;
    }
    // statm: size resident shared text lib data dt, in pages.
    let text = &buf[..n as usize];
    let mut fields = text.split(|&b| b == b' ');
    let resident = fields.nth(1)?;
    let mut pages: u64 = 0;
    for &b in resident {
        if !b.is_ascii_digit() {
            return None;
        }
        pages = pages.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page > 0).then(|| pages * page as u64)
}
