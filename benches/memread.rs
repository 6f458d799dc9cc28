//! The cost of the fallback read: `heapu()` over 1M live objects when memory is read with
//! `process_vm_readv` (the usual way) and when a seccomp filter denies that call, so that
//! heapy reads through `pread` on `/proc/self/mem`. A filter cannot be lifted, so each
//! repetition forks two children from the same heap, one plain and one that installs the
//! filter first, and each times one `heapu()`; the two are interleaved, and the medians and
//! their ratio printed.
//!
//! Then the two system calls alone, in this process, interleaved: copying a 64 MiB buffer
//! in pieces of 64 bytes, 4 KiB and 1 MiB (the scan reads runs of nearby objects, up to
//! 1 MiB, and roots in 64 KiB pieces).
//!
//! `HEAPY_BENCH_QUICK=1` runs 100k objects and one repetition.

use std::hint::black_box;
use std::time::{Duration, Instant};

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

// `leaf` is held (not read) so that each node has an edge to a second object.
#[allow(dead_code)]
struct Node {
    leaf: Box<[u64; 2]>,
    _payload: [u64; 2],
}

/// Makes `process_vm_readv` fail with EPERM in this process from now on.
fn deny_process_vm_readv() {
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;
    let f = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let jeq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let ret = libc::BPF_RET | libc::BPF_K;
    let mut prog = [
        f(ld, 0, 0, 4),
        f(jeq, 1, 0, AUDIT_ARCH),
        f(ret, 0, 0, libc::SECCOMP_RET_ALLOW),
        f(ld, 0, 0, 0),
        f(jeq, 0, 1, libc::SYS_process_vm_readv as u32),
        f(ret, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        f(ret, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: prctl and seccomp with a valid filter program that outlives the calls.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_TSYNC,
                &fprog as *const libc::sock_fprog,
            ),
            0,
            "seccomp: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Forks a child that (with `deny`, after installing the filter) times one `heapu()` and
/// sends the time and the number of leaked objects found back; returns them.
fn in_child(deny: bool) -> (Duration, u64) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fork; the child runs this bench's code only and leaves by _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        if deny {
            deny_process_vm_readv();
        }
        let t = Instant::now();
        let u = heapy::hpy().heapu();
        let took = t.elapsed().as_nanos() as u64;
        let msg = [took, u.filter(|o| o.kind() == "Leaked").count() as u64];
        // SAFETY: writes the 16 bytes of `msg` to the pipe, then ends the child at once.
        unsafe {
            libc::write(fds[1], msg.as_ptr().cast(), 16);
            libc::_exit(0);
        }
    }
    let mut msg = [0u64; 2];
    // SAFETY: reads at most 16 bytes into `msg`; closes this process's ends of the pipe and
    // reaps the child.
    unsafe {
        libc::close(fds[1]);
        assert_eq!(libc::read(fds[0], msg.as_mut_ptr().cast(), 16), 16);
        libc::close(fds[0]);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
    }
    (Duration::from_nanos(msg[0]), msg[1])
}

/// Copies `src` into `dst` in pieces of `piece` bytes with `process_vm_readv` (`fd` < 0)
/// or `pread` on `fd`; returns the time taken.
fn copy(src: &[u8], dst: &mut [u8], piece: usize, fd: i32) -> Duration {
    let t = Instant::now();
    for (s, d) in src.chunks(piece).zip(dst.chunks_mut(piece)) {
        let local = libc::iovec {
            iov_base: d.as_mut_ptr().cast(),
            iov_len: d.len(),
        };
        let remote = libc::iovec {
            iov_base: s.as_ptr() as *mut libc::c_void,
            iov_len: s.len(),
        };
        // SAFETY: the kernel writes `d.len()` bytes into `d` and reads `s`, both ours.
        let got = unsafe {
            if fd < 0 {
                libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0)
            } else {
                libc::pread(fd, local.iov_base, d.len(), s.as_ptr() as libc::off_t)
            }
        };
        assert_eq!(got, d.len() as isize);
    }
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::var_os("HEAPY_BENCH_QUICK").is_some();
    let (scale, reps) = if quick { (100_000, 1) } else { (1_000_000, 3) };
    // Half nodes, half leaves, and 100 leaked boxes.
    let nodes: Vec<Box<Node>> = (0..scale / 2)
        .map(|i| {
            Box::new(Node {
                leaf: Box::new([i as u64; 2]),
                _payload: [i as u64; 2],
            })
        })
        .collect();
    std::thread::spawn(|| {
        for i in 0..100u64 {
            let p = heapy::with_kind("Leaked", || Box::into_raw(Box::new([i; 4])));
            black_box(p as usize ^ 0x5555);
        }
    })
    .join()
    .unwrap();
    let live = heapy::hpy().heap();
    println!(
        "memread bench: heapu() over {} live objects, {} bytes",
        live.count(),
        live.size()
    );
    drop(live);
    let (mut vm, mut mem) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let (t, found) = in_child(false);
        assert_eq!(found, 100, "process_vm_readv: found {found} of 100 leaked");
        vm.push(t);
        let (t, found) = in_child(true);
        assert_eq!(found, 100, "/proc/self/mem: found {found} of 100 leaked");
        mem.push(t);
    }
    let (a, b) = (median(vm), median(mem));
    println!("heapu, process_vm_readv    {:.3} s", a.as_secs_f64());
    println!(
        "heapu, /proc/self/mem      {:.3} s ({:.2}x)",
        b.as_secs_f64(),
        b.as_secs_f64() / a.as_secs_f64()
    );
    black_box(nodes);

    let src: Vec<u8> = (0..64usize << 20).map(|i| i as u8).collect();
    let mut dst = vec![0u8; src.len()];
    // SAFETY: a NUL-terminated literal path.
    let fd = unsafe { libc::open(c"/proc/self/mem".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    assert!(fd >= 0);
    for piece in [64, 4096, 1 << 20] {
        let (mut vm, mut mem) = (Vec::new(), Vec::new());
        for _ in 0..if quick { 1 } else { 5 } {
            vm.push(copy(&src, &mut dst, piece, -1));
            mem.push(copy(&src, &mut dst, piece, fd));
        }
        assert!(src == dst);
        let (a, b) = (median(vm), median(mem));
        println!(
            "64 MiB in {piece:>7}-byte reads: process_vm_readv {:7.1} ms, /proc/self/mem {:7.1} ms ({:.2}x)",
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            b.as_secs_f64() / a.as_secs_f64()
        );
    }
}
