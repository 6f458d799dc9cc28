//! Sound reads of this process's own memory, for the pointer scan.
//!
//! The graph layer reads objects that other threads may be writing or freeing at the same
//! moment. A plain read would be a data race (undefined behaviour in Rust's model), and a
//! block freed and unmapped meanwhile would crash the reader. The kernel copies instead: no
//! race in the program's memory model, and an address that is not mapped gives a short read
//! instead of a fault. Two calls do that:
//!
//! - `process_vm_readv` on our own pid (`EFAULT` where nothing is mapped);
//! - `pread` on `/proc/self/mem`, opened once and kept (`EIO` where nothing is mapped), for
//!   processes whose seccomp filter denies `process_vm_readv` (hardened containers, systemd's
//!   `SystemCallFilter=`).
//!
//! The two kinds of failure must not be confused. A page that is not mapped holds no
//! pointers: a short read. A call that is denied (`EPERM` or `ENOSYS` from a filter, `EACCES`
//! opening the file) says nothing about the memory, and taking it for "0 bytes here" would
//! make every object the scan could not read look unreachable: a leak invented. So
//! [`check_readable`] reads a word known to be mapped (a local variable) and compares it, at
//! the start and at the end of each scan, choosing the way that works; [`read_words`] falls
//! back from one way to the other when a call fails for another reason than an unmapped
//! page; and both return [`ReadDenied`] when no way works, for the graph to say so.
//!
//! `/proc/self/mem` names the memory of the process that opened it, even after `fork`: the
//! descriptor is kept with the pid that opened it, and a child opens its own. The parent's
//! descriptor is left open in the child (never closed: by then its number may be the
//! program's), as is a descriptor that stopped reading right (closed by the program, say).

use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};

const WORD: usize = core::mem::size_of::<usize>();

/// How one way of reading failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The system call failed with this errno.
    Call(i32),
    /// `/proc/self/mem` could not be opened (this errno).
    Open(i32),
    /// The call succeeded but did not give back what a local variable holds.
    Wrong,
}

/// No way of reading this process's memory works: what each way said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadDenied {
    /// What `process_vm_readv` said.
    pub vm_readv: Failure,
    /// What `/proc/self/mem` said.
    pub proc_mem: Failure,
}

impl Failure {
    /// The failure as the system's error, for messages (allocates: not for the allocator).
    pub(crate) fn to_io_error(self) -> std::io::Error {
        match self {
            Failure::Call(e) | Failure::Open(e) => std::io::Error::from_raw_os_error(e),
            Failure::Wrong => std::io::Error::other(
                "the call succeeded but gave back other bytes than a local variable holds",
            ),
        }
    }
}

/// `VM_*` values below zero; errno values above.
const VM_UNTRIED: i32 = 0;
const VM_WORKS: i32 = -1;
const VM_WRONG: i32 = -2;

/// What `process_vm_readv` did on a word known to be mapped: `VM_UNTRIED`, `VM_WORKS`,
/// `VM_WRONG`, or the errno it failed with. Once failed it is not tried again (a seccomp
/// filter is never lifted, and a denied call may be logged each time). Relaxed: the value
/// is only this verdict; no memory is published with it.
static VM: AtomicI32 = AtomicI32::new(VM_UNTRIED);

/// The open `/proc/self/mem`: `pid << 32 | fd`, the pid of the process that opened it; 0
/// when none. One word, so that a thread never pairs one process's pid with another's
/// descriptor. Relaxed: the value names a kernel object; no memory of ours is published
/// with it.
static MEM: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
thread_local! {
    /// For tests: how many more reads on this thread succeed before each is denied (both
    /// ways failing with EPERM), as when a filter is installed in the middle of a scan.
    pub(crate) static READS_LEFT: core::cell::Cell<usize> = const { core::cell::Cell::new(usize::MAX) };
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Checks that this process can read its own memory now: a local variable read back by the
/// way chosen (`process_vm_readv`, else `/proc/self/mem`) must equal what it holds.
/// Returns why not when no way works.
pub(crate) fn check_readable() -> Result<(), ReadDenied> {
    let probe: [usize; 2] = core::hint::black_box([0x6865_6170_7921_0001, !0x6865_6170_7921]);
    let addr = core::ptr::addr_of!(probe) as usize;
    let mut got = [0usize; 2];
    let vm = match VM.load(Ordering::Relaxed) {
        VM_UNTRIED | VM_WORKS => {
            let verdict = match vm_readv(addr, as_bytes(&mut got)) {
                Ok(n) if n == 2 * WORD && got == probe => VM_WORKS,
                Ok(_) => VM_WRONG,
                Err(e) => e,
            };
            VM.store(verdict, Ordering::Relaxed);
            if verdict == VM_WORKS {
                return Ok(());
            }
            verdict
        }
        denied => denied,
    };
    let vm_readv = vm_failure(vm);
    // The descriptor kept may have stopped reading right (the program closed it and the
    // number now names another file): one more try with a fresh one.
    let mut last = Failure::Wrong;
    for _ in 0..2 {
        let fd = mem_fd().map_err(|e| ReadDenied {
            vm_readv,
            proc_mem: Failure::Open(e),
        })?;
        got = [0; 2];
        match pread(fd, addr, as_bytes(&mut got)) {
            Ok(n) if n == 2 * WORD && got == probe => return Ok(()),
            Ok(_) => last = Failure::Wrong,
            Err(e) => last = Failure::Call(e),
        }
        forget_fd(fd);
    }
    core::hint::black_box(&probe);
    Err(ReadDenied {
        vm_readv,
        proc_mem: last,
    })
}

/// `VM`'s value as a failure.
fn vm_failure(vm: i32) -> Failure {
    if vm > 0 {
        Failure::Call(vm)
    } else {
        Failure::Wrong
    }
}

/// Copies `buf.len()` machine words from address `addr` of this process into `buf`;
/// returns how many leading words were copied whole (fewer when the range runs into
/// unmapped memory), or why memory cannot be read at all. `addr` need not be aligned: the
/// kernel copies bytes.
pub(crate) fn read_words(addr: usize, buf: &mut [usize]) -> Result<usize, ReadDenied> {
    Ok(read(addr, as_bytes(buf))? / WORD)
}

/// The bytes of `buf`.
fn as_bytes(buf: &mut [usize]) -> &mut [u8] {
    let len = core::mem::size_of_val(buf);
    // SAFETY: the same memory as `buf`, viewed as its `len` bytes for as long as `buf` is
    // borrowed: u8 has alignment 1, and every byte pattern is a valid usize, so the words
    // stay valid whatever the kernel writes into them.
    unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), len) }
}

/// Copies `buf.len()` bytes from address `addr` of this process into `buf`; returns how
/// many leading bytes were copied (fewer when the range runs into unmapped memory).
fn read(addr: usize, buf: &mut [u8]) -> Result<usize, ReadDenied> {
    if buf.is_empty() {
        return Ok(0);
    }
    #[cfg(test)]
    if READS_LEFT.with(|n| n.replace(n.get().saturating_sub(1)) == 0) {
        return Err(ReadDenied {
            vm_readv: Failure::Call(libc::EPERM),
            proc_mem: Failure::Call(libc::EPERM),
        });
    }
    let mut vm = VM.load(Ordering::Relaxed);
    if vm == VM_UNTRIED || vm == VM_WORKS {
        match vm_readv(addr, buf) {
            Ok(n) => return Ok(n),
            Err(libc::EFAULT) => return Ok(0),
            Err(e) => {
                // Denied after it worked (a filter installed since): the other way.
                VM.store(e, Ordering::Relaxed);
                vm = e;
            }
        }
    }
    let mut last = Failure::Wrong;
    for _ in 0..2 {
        let fd = mem_fd().map_err(|e| ReadDenied {
            vm_readv: vm_failure(vm),
            proc_mem: Failure::Open(e),
        })?;
        match pread(fd, addr, buf) {
            // Nothing mapped at `addr`.
            Err(libc::EIO) => return Ok(0),
            // `/proc/self/mem` never reads 0 bytes of a live process: not that file now.
            Ok(0) => last = Failure::Wrong,
            Ok(n) => return Ok(n),
            Err(e) => last = Failure::Call(e),
        }
        forget_fd(fd);
    }
    Err(ReadDenied {
        vm_readv: vm_failure(vm),
        proc_mem: last,
    })
}

/// `process_vm_readv` of `buf.len()` bytes at `addr` of this process: bytes copied, or errno.
fn vm_readv(addr: usize, buf: &mut [u8]) -> Result<usize, i32> {
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
    if got < 0 {
        Err(errno())
    } else {
        Ok(got as usize)
    }
}

/// `pread` of `buf.len()` bytes at offset `addr` of `fd`: bytes copied, or errno.
fn pread(fd: i32, addr: usize, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which is writable; a
    // descriptor that is not (or no longer) ours gives an error or other bytes, never a fault.
    let got = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), addr as libc::off_t) };
    if got < 0 {
        Err(errno())
    } else {
        Ok(got as usize)
    }
}

/// The descriptor of `/proc/self/mem` opened by this process, opened now if need be (after
/// `fork`, the parent's names the parent's memory); or the errno of `open`.
fn mem_fd() -> Result<i32, i32> {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u32;
    loop {
        let cur = MEM.load(Ordering::Relaxed);
        if cur != 0 && (cur >> 32) as u32 == pid {
            return Ok(cur as u32 as i32);
        }
        // SAFETY: a NUL-terminated literal path; open only reads it.
        let fd =
            unsafe { libc::open(c"/proc/self/mem".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(errno());
        }
        let new = (u64::from(pid) << 32) | u64::from(fd as u32);
        if MEM
            .compare_exchange(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            return Ok(fd);
        }
        // Another thread opened one first: use it, and close ours, which no one else saw.
        // SAFETY: `fd` was opened just above and never published.
        unsafe { libc::close(fd) };
    }
}

/// Stops using `fd`, which read wrong: the next read opens `/proc/self/mem` again. It is not
/// closed: another thread may be reading with it, or its number may be the program's now.
fn forget_fd(fd: i32) {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u32;
    let old = (u64::from(pid) << 32) | u64::from(fd as u32);
    // Fails when another thread already replaced it: nothing to do then.
    let _ = MEM.compare_exchange(old, 0, Ordering::Relaxed, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes read at `addr` by each way: `process_vm_readv`, then `/proc/self/mem`.
    fn both(addr: usize, buf: &mut [u8]) -> [Result<usize, i32>; 2] {
        let fd = mem_fd().expect("/proc/self/mem opens in tests");
        let a = vm_readv(addr, buf);
        let b = pread(fd, addr, buf);
        [a, b]
    }

    #[test]
    fn reads_own_memory_and_stops_at_unmapped_pages() {
        check_readable().unwrap();
        let data: Vec<u8> = (0..=255).collect();
        let mut buf = vec![0u8; 256];
        assert_eq!(read(data.as_ptr() as usize, &mut buf), Ok(256));
        assert_eq!(buf, data);
        // The first page is never mapped.
        assert_eq!(read(16, &mut buf), Ok(0));
        // A range that runs off the end of the mapping copies what precedes the hole.
        let page = 4096;
        let p = page_then_hole(page);
        let mut big = vec![1u8; 2 * page];
        assert_eq!(read(p + page - 8, &mut big[..16]), Ok(8));
        assert_eq!(&big[..8], &[0u8; 8]);
        // SAFETY: unmaps the first page of our own mapping.
        unsafe { libc::munmap(p as *mut libc::c_void, page) };
    }

    #[test]
    fn both_ways_tell_unmapped_pages_alike() {
        let data: Vec<u8> = (0..=255).collect();
        let mut buf = vec![0u8; 256];
        for got in both(data.as_ptr() as usize, &mut buf) {
            assert_eq!(got, Ok(256));
            assert_eq!(buf, data);
        }
        // Nothing mapped: EFAULT from one, EIO from the other (both "0 bytes here").
        assert_eq!(both(16, &mut buf), [Err(libc::EFAULT), Err(libc::EIO)]);
        let page = 4096;
        let p = page_then_hole(page);
        for got in both(p + page - 8, &mut buf[..16]) {
            assert_eq!(got, Ok(8));
        }
        assert_eq!(
            both(p + page, &mut buf[..16]),
            [Err(libc::EFAULT), Err(libc::EIO)]
        );
        // SAFETY: unmaps the first page of our own mapping.
        unsafe { libc::munmap(p as *mut libc::c_void, page) };
    }

    #[test]
    fn the_descriptor_is_kept_with_the_pid_that_opened_it() {
        let fd = mem_fd().unwrap();
        assert_eq!(mem_fd(), Ok(fd));
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() } as u64;
        assert_eq!(MEM.load(Ordering::Relaxed) >> 32, pid);
        // A descriptor recorded by another process (a parent before fork) is not used:
        // a fresh one is opened (and the other is left open).
        let theirs = ((pid + 1) << 32) | fd as u32 as u64;
        let _ = MEM.compare_exchange(
            (pid << 32) | fd as u32 as u64,
            theirs,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        let mine = mem_fd().unwrap();
        assert_eq!(MEM.load(Ordering::Relaxed) >> 32, pid);
        let x = 0x1234_5678usize;
        let mut got = [0usize; 1];
        assert_eq!(
            pread(mine, core::ptr::addr_of!(x) as usize, as_bytes(&mut got)),
            Ok(WORD)
        );
        assert_eq!(got[0], core::hint::black_box(x));
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
        assert_eq!(read_words(data.as_ptr() as usize, &mut buf), Ok(64));
        assert_eq!(buf, data);
        // Unaligned: the words as they lie in memory from that byte on.
        let bytes: Vec<u8> = data.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let mut two = [0usize; 2];
        assert_eq!(read_words(data.as_ptr() as usize + 3, &mut two), Ok(2));
        let got: Vec<u8> = two.iter().flat_map(|w| w.to_ne_bytes()).collect();
        assert_eq!(got, bytes[3..3 + 2 * WORD]);
        // Nothing mapped, nothing asked.
        assert_eq!(read_words(16, &mut two), Ok(0));
        assert_eq!(read_words(data.as_ptr() as usize, &mut []), Ok(0));
        // A range that runs into unmapped memory half-way through a word: the whole
        // words before the hole.
        let page = 4096;
        let p = page_then_hole(page);
        let mut three = [7usize; 3];
        assert_eq!(read_words(p + page - WORD - WORD / 2, &mut three), Ok(1));
        assert_eq!(three[0], 0);
        // SAFETY: unmaps the first page of our own mapping, which nothing refers to.
        unsafe { libc::munmap(p as *mut libc::c_void, page) };
    }
}
