//! A frozen image of the whole process for the pointer scan: every other thread stopped for
//! an instant, and a copy-on-write clone of the address space taken at that instant.
//!
//! A scan of a running process reads memory while other threads move pointers: a pointer
//! can move from a place not yet read to a place already read, and the object it points to
//! looks unreachable. [`freeze`] prevents that the way a stop-the-world collector does, and
//! then some:
//!
//! 1. It sends a real-time signal (see [`signal`]) to every task in `/proc/self/task` but the
//!    calling one. The handler (async-signal-safe: no allocation, no lock) publishes the
//!    interrupted registers, stack pointer and thread pointer into a preallocated table
//!    entry, acknowledges, and waits on a futex word. `/proc/self/task` is read again until
//!    a pass finds no thread that was not signalled (a stopped thread cannot create one).
//! 2. With every thread stopped, it runs the caller's step (which must not allocate: a
//!    stopped thread may hold the C allocator's lock) and clones the process with a raw
//!    `clone` system call (no `fork` handlers run; the child gets no SIGCHLD parent signal
//!    and only sleeps). The child's memory is the whole address space as it was at that
//!    instant, shared copy-on-write.
//! 3. It lets the threads go. The scan then reads the child's memory: nothing in it moves.
//!
//! The pause the running program sees is the signal round-trip and the `clone` (which copies
//! page tables, not pages); afterwards each page the program writes while the scan runs is
//! copied once by the kernel, as after a `fork`.
//!
//! A thread stopped inside the census's `realloc` (from the inner allocator's call, which
//! may free the old block, until the registry records the new one) would leave the moved
//! contents in no recorded block: such a stop is undone and tried again (see [`Critical`]),
//! so the frozen registry never misses a block that holds the program's pointers. (The
//! stop is not deferred to the section's end: the inner allocator may wait there for a lock
//! that a stopped thread holds.)

use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use core::time::Duration;
use std::time::Instant;

use super::regs::thread_pointer;

/// Register words kept per stopped thread (x86_64: 23 general registers and the 16 xmm
/// registers, 2 words each; aarch64: 31 general registers and sp).
pub(crate) const THREAD_REGS: usize = 64;
/// The most threads one stop handles; a process with more is scanned without a stop.
const MAX_STOPPED: usize = 16_384;
/// How long [`freeze`] waits for the threads to stop before it gives up.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes below a stopped thread's stack pointer that still belong to its frame (x86_64's
/// red zone: leaf functions keep locals there without moving the stack pointer).
pub(crate) const RED_ZONE: usize = 128;

/// Stops tried before giving up when each finds a thread inside a realloc.
const TRIES: u32 = 64;

const SENT: u32 = 1;
const STOPPED: u32 = 2;
const GONE: u32 = 3;

/// A stopped thread's facts, written by its signal handler.
#[repr(C)]
struct Entry {
    tid: AtomicU32,
    state: AtomicU32,
    sp: AtomicUsize,
    tp: AtomicUsize,
    /// 1 if the thread was stopped inside a census critical section.
    critical: AtomicU32,
    regs: [AtomicUsize; THREAD_REGS],
}

/// The table of the stop under way: `MAX_STOPPED` entries in pages of their own (mapped once,
/// never unmapped, so a late handler never reads freed memory; not a static, so its stale
/// register copies are never a root of the scan).
static TABLE: AtomicPtr<Entry> = AtomicPtr::new(core::ptr::null_mut());
/// Entries of the stop under way (Release after an entry is written, before its signal).
static LEN: AtomicUsize = AtomicUsize::new(0);
/// Stop generation: odd while a stop is under way. Also the futex word stopped threads wait
/// on until it changes.
static STATE: AtomicU32 = AtomicU32::new(0);
/// Acknowledgements of the stop under way; the futex word the stopping thread waits on.
static ACKS: AtomicU32 = AtomicU32::new(0);
/// One stop at a time.
static BUSY: AtomicBool = AtomicBool::new(false);
/// How long the last stop held the threads, in nanoseconds (from the first signal of its
/// last try to the release). Relaxed: a statistic for benchmarks.
static LAST_PAUSE_NS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// How long the last stop held the other threads (the pause they saw, signal delivery
/// included).
pub(crate) fn last_pause() -> Duration {
    // Relaxed: see LAST_PAUSE_NS.
    Duration::from_nanos(LAST_PAUSE_NS.load(Ordering::Relaxed))
}

/// The signal whose handler is ours (0: none yet).
static INSTALLED: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// 1 while the thread is in a census critical section (see [`Critical`]).
    static CRITICAL: AtomicU8 = const { AtomicU8::new(0) };
}

/// A census critical section: a thread stopped while it holds one makes that stop useless,
/// and the stop is tried again. Costs one thread-local store at each end.
pub(crate) struct Critical(());

impl Critical {
    /// Enters the section.
    #[inline(always)]
    pub(crate) fn enter() -> Critical {
        // Relaxed: only this thread and its own signal handler touch the cell, and a
        // handler sees the thread's own earlier stores.
        let _ = CRITICAL.try_with(|c| c.store(1, Ordering::Relaxed));
        Critical(())
    }
}

impl Drop for Critical {
    #[inline(always)]
    fn drop(&mut self) {
        // Relaxed: as in `enter`.
        let _ = CRITICAL.try_with(|c| c.store(0, Ordering::Relaxed));
    }
}

/// Why the world was not stopped: the scan then runs against the moving process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NoFreeze {
    /// `HEAPY_STOP_SIGNAL=off`.
    Off,
    /// `HEAPY_STOP_SIGNAL` holds something else than `off` or a real-time signal number.
    BadSignal(String),
    /// The program has its own handler for the signal (heapy never replaces it).
    SignalTaken(i32),
    /// A system call failed (its name and errno).
    Sys(&'static str, i32),
    /// More threads than one stop handles.
    TooManyThreads,
    /// Another stop did not end in time (or a forked child inherited one).
    Busy,
    /// These threads did not stop in time (the signal blocked, say).
    Timeout(Vec<u32>),
    /// Every stop tried found a thread inside the census's `realloc`.
    AlwaysInRealloc,
    /// The frozen image cannot be read (`process_vm_readv` and `/proc/<pid>/mem` denied).
    Unreadable(i32),
}

impl core::fmt::Display for NoFreeze {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NoFreeze::Off => write!(f, "HEAPY_STOP_SIGNAL=off"),
            NoFreeze::BadSignal(v) => write!(
                f,
                "HEAPY_STOP_SIGNAL={v:?} is neither \"off\" nor a real-time signal number ({}..={})",
                libc::SIGRTMIN(),
                libc::SIGRTMAX()
            ),
            NoFreeze::SignalTaken(s) => write!(
                f,
                "signal {s} has a handler of the program's (choose another with HEAPY_STOP_SIGNAL)"
            ),
            NoFreeze::Sys(call, e) => write!(
                f,
                "{call} failed: {}",
                std::io::Error::from_raw_os_error(*e)
            ),
            NoFreeze::TooManyThreads => write!(f, "more than {MAX_STOPPED} threads"),
            NoFreeze::Busy => write!(f, "another scan's stop did not end in time"),
            NoFreeze::Timeout(tids) => write!(
                f,
                "threads {tids:?} did not stop within {} ms (the signal blocked?)",
                TIMEOUT.as_millis()
            ),
            NoFreeze::AlwaysInRealloc => write!(
                f,
                "each of {TRIES} stops found a thread inside a realloc"
            ),
            NoFreeze::Unreadable(e) => write!(
                f,
                "the frozen copy cannot be read: {}",
                std::io::Error::from_raw_os_error(*e)
            ),
        }
    }
}

/// The default stop signal: `SIGRTMAX - 7` (57 with glibc), a real-time signal that no
/// common runtime claims (glibc keeps the first two for itself).
pub(crate) fn default_signal() -> i32 {
    libc::SIGRTMAX() - 7
}

/// The signal the stop uses: `HEAPY_STOP_SIGNAL` (`off`, or a number between `SIGRTMIN` and
/// `SIGRTMAX`), else [`default_signal`]. Allocates.
pub(crate) fn signal() -> Result<i32, NoFreeze> {
    match std::env::var("HEAPY_STOP_SIGNAL") {
        Err(std::env::VarError::NotPresent) => Ok(default_signal()),
        Err(std::env::VarError::NotUnicode(v)) => {
            Err(NoFreeze::BadSignal(v.to_string_lossy().into_owned()))
        }
        Ok(v) if v.trim() == "off" => Err(NoFreeze::Off),
        Ok(v) => match v.trim().parse::<i32>() {
            Ok(n) if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n) => Ok(n),
            _ => Err(NoFreeze::BadSignal(v)),
        },
    }
}

/// A thread as it was stopped.
#[derive(Clone, Debug)]
pub(crate) struct Stopped {
    pub tid: u32,
    /// The stack pointer where it was interrupted.
    pub sp: usize,
    /// Its thread pointer.
    pub tp: usize,
    pub regs: Vec<usize>,
}

/// A frozen copy of the process: a child that shares the address space as it was at one
/// instant (copy-on-write), the threads as they were stopped then, and a way to read it.
/// Dropping it ends the child.
pub(crate) struct Frozen {
    pid: libc::pid_t,
    /// `/proc/<pid>/mem` when `process_vm_readv` is denied, else -1.
    mem: libc::c_int,
    pub threads: Vec<Stopped>,
}

impl Frozen {
    /// Copies `buf.len()` words from address `addr` of the frozen image into `buf`; returns
    /// how many leading words were copied whole (fewer where the range runs into memory
    /// that was not mapped at the instant of the freeze).
    pub(crate) fn read_words(&self, addr: usize, buf: &mut [usize]) -> usize {
        let len = core::mem::size_of_val(buf);
        if len == 0 {
            return 0;
        }
        let got = if self.mem >= 0 {
            // SAFETY: `buf` is `len` writable bytes; pread writes at most that many.
            unsafe { libc::pread(self.mem, buf.as_mut_ptr().cast(), len, addr as libc::off_t) }
        } else {
            let local = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: len,
            };
            let remote = libc::iovec {
                iov_base: addr as *mut libc::c_void,
                iov_len: len,
            };
            // SAFETY: `local` describes the writable bytes of `buf`; the kernel validates
            // the remote range in the child (EFAULT or a short count instead of a fault).
            unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) }
        };
        if got <= 0 {
            0
        } else {
            got as usize / core::mem::size_of::<usize>()
        }
    }

    /// The mapping of the frozen image that contains `addr`, as `(start, end)`. Allocates.
    pub(crate) fn mapping_of(&self, addr: usize) -> Option<(usize, usize)> {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.pid)).ok()?;
        maps.lines().find_map(|line| {
            let range = line.split_whitespace().next()?;
            let (a, b) = range.split_once('-')?;
            let (a, b) = (
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            );
            (a <= addr && addr < b).then_some((a, b))
        })
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        // SAFETY: plain system calls on our own child and descriptor: the child is killed
        // and reaped (it was cloned without an exit signal, hence __WALL).
        unsafe {
            if self.mem >= 0 {
                libc::close(self.mem);
            }
            libc::kill(self.pid, libc::SIGKILL);
            let mut status = 0;
            while libc::waitpid(self.pid, &mut status, libc::__WALL) < 0 && errno() == libc::EINTR {
            }
        }
    }
}

fn errno() -> i32 {
    // SAFETY: the calling thread's errno location is always valid.
    unsafe { *libc::__errno_location() }
}

fn set_errno(e: i32) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e };
}

fn futex_wait(word: &AtomicU32, value: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT reads the aligned u32 behind `word`, which lives as long as the
    // call; the timeout (or null) is valid for the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            value,
            tsp,
        );
    }
}

fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: FUTEX_WAKE only names the address; no memory is accessed through it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        );
    }
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// The signal handler: publishes the interrupted registers and waits for the stop to end.
extern "C" fn on_signal(_sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let saved = errno();
    park(ctx.cast());
    set_errno(saved);
}

/// Stops the calling thread if a stop is under way and it was asked to: publishes its
/// interrupted registers and waits until the stop ends. Async-signal-safe: atomics,
/// gettid, futex.
fn park(uc: *const libc::ucontext_t) {
    // Acquire pairs with the Release store that opened the stop and with LEN's.
    let g = STATE.load(Ordering::Acquire);
    if g & 1 == 0 || uc.is_null() {
        return;
    }
    let table = TABLE.load(Ordering::Acquire);
    let n = LEN.load(Ordering::Acquire);
    if table.is_null() {
        return;
    }
    let tid = gettid();
    // SAFETY: the table is MAX_STOPPED entries that are never unmapped; `n` entries were
    // published (Release on LEN) and `n <= MAX_STOPPED`.
    let entries = unsafe { core::slice::from_raw_parts(table, n.min(MAX_STOPPED)) };
    // Relaxed: the entry's tid was published by LEN's Release.
    let Some(e) = entries
        .iter()
        .find(|e| e.tid.load(Ordering::Relaxed) == tid)
    else {
        return;
    };
    // Relaxed: only this thread moves its entry out of SENT.
    if e.state.load(Ordering::Relaxed) != SENT {
        return;
    }
    let mut regs = [0usize; THREAD_REGS];
    // SAFETY: the kernel passes the interrupted context, valid while the handler runs.
    let sp = unsafe { context_registers(&*uc, &mut regs) };
    for (slot, v) in e.regs.iter().zip(regs) {
        // Relaxed: published by the state's Release below.
        slot.store(v, Ordering::Relaxed);
    }
    e.sp.store(sp, Ordering::Relaxed);
    e.tp.store(thread_pointer(), Ordering::Relaxed);
    // Relaxed: this thread's own cell (see `Critical`).
    let critical = CRITICAL
        .try_with(|c| c.load(Ordering::Relaxed))
        .unwrap_or(0);
    e.critical.store(critical as u32, Ordering::Relaxed);
    // Release: the facts above, and everything this thread wrote before it stopped, happen
    // before the stopping thread's Acquire load of the state.
    e.state.store(STOPPED, Ordering::Release);
    ACKS.fetch_add(1, Ordering::Release);
    futex_wake(&ACKS, 1);
    // Acquire pairs with the Release store that ends the stop.
    while STATE.load(Ordering::Acquire) == g {
        futex_wait(&STATE, g, None);
    }
}

/// The interrupted registers of a signal context; returns its stack pointer.
///
/// # Safety
///
/// `uc` is the context the kernel passed to a signal handler that is still running.
#[cfg(target_arch = "x86_64")]
unsafe fn context_registers(uc: &libc::ucontext_t, out: &mut [usize; THREAD_REGS]) -> usize {
    let g = &uc.uc_mcontext.gregs;
    for (o, &v) in out.iter_mut().zip(g.iter()) {
        *o = v as usize;
    }
    let fp = uc.uc_mcontext.fpregs;
    if !fp.is_null() {
        // SAFETY: a non-null fpregs points into the signal frame, valid during the handler.
        let xmm = unsafe { &(*fp)._xmm };
        for (k, x) in xmm.iter().enumerate() {
            let e = x.element;
            out[23 + 2 * k] = e[0] as usize | (e[1] as usize) << 32;
            out[24 + 2 * k] = e[2] as usize | (e[3] as usize) << 32;
        }
    }
    g[libc::REG_RSP as usize] as usize
}

/// The interrupted registers of a signal context; returns its stack pointer.
///
/// # Safety
///
/// `uc` is the context the kernel passed to a signal handler that is still running.
#[cfg(target_arch = "aarch64")]
unsafe fn context_registers(uc: &libc::ucontext_t, out: &mut [usize; THREAD_REGS]) -> usize {
    let m = &uc.uc_mcontext;
    for (o, &v) in out.iter_mut().zip(m.regs.iter()) {
        *o = v as usize;
    }
    out[31] = m.sp as usize;
    m.sp as usize
}

/// Installs the handler for `sig` unless the program has one of its own.
fn install(sig: i32) -> Result<(), NoFreeze> {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: as above; `old` is a valid out-pointer.
    if unsafe { libc::sigaction(sig, core::ptr::null(), &mut old) } != 0 {
        return Err(NoFreeze::Sys("sigaction", errno()));
    }
    let ours = on_signal as *const () as usize;
    if old.sa_sigaction == ours {
        return Ok(());
    }
    if old.sa_sigaction != libc::SIG_DFL {
        return Err(NoFreeze::SignalTaken(sig));
    }
    // SAFETY: a zeroed sigaction is a valid starting point; the handler has the
    // SA_SIGINFO signature; every other signal is blocked while it runs.
    unsafe {
        let mut act: libc::sigaction = core::mem::zeroed();
        act.sa_sigaction = ours;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
        libc::sigfillset(&mut act.sa_mask);
        if libc::sigaction(sig, &act, core::ptr::null_mut()) != 0 {
            return Err(NoFreeze::Sys("sigaction", errno()));
        }
    }
    // Relaxed: a note of which signal we own; `install` checks the handler itself anyway.
    INSTALLED.store(sig as u32, Ordering::Relaxed);
    Ok(())
}

fn table() -> Result<*mut Entry, NoFreeze> {
    // Acquire pairs with the Release below.
    let p = TABLE.load(Ordering::Acquire);
    if !p.is_null() {
        return Ok(p);
    }
    let bytes = MAX_STOPPED * core::mem::size_of::<Entry>();
    let fresh = super::pages::map_zeroed(bytes)
        .ok_or(NoFreeze::Sys("mmap", errno()))?
        .as_ptr()
        .cast::<Entry>();
    // Only the thread holding BUSY gets here. Release publishes the zeroed mapping.
    TABLE.store(fresh, Ordering::Release);
    Ok(fresh)
}

/// Calls `f` with the id of every task of this process, read from `/proc/self/task` with
/// raw system calls (nothing allocated). Returns false if the directory cannot be read.
fn for_each_task(mut f: impl FnMut(u32)) -> bool {
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe {
        libc::open(
            c"/proc/self/task".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return false;
    }
    let mut buf = [0u64; 1024];
    loop {
        // SAFETY: getdents64 writes at most the buffer's 8 KiB into it.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd,
                buf.as_mut_ptr(),
                core::mem::size_of_val(&buf),
            )
        };
        if n <= 0 {
            break;
        }
        let bytes = &buf[..];
        // SAFETY: the u64 buffer viewed as its bytes (alignment 1, any value valid).
        let bytes = unsafe {
            core::slice::from_raw_parts(bytes.as_ptr().cast::<u8>(), core::mem::size_of_val(bytes))
        };
        let mut off = 0usize;
        while off + 19 < n as usize {
            // linux_dirent64: ino u64, off i64, reclen u16, type u8, name (NUL-terminated).
            let reclen = u16::from_ne_bytes([bytes[off + 16], bytes[off + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let mut tid = 0u32;
            let mut digits = 0;
            for &b in &bytes[off + 19..(off + reclen).min(n as usize)] {
                if !b.is_ascii_digit() {
                    break;
                }
                tid = tid.wrapping_mul(10).wrapping_add((b - b'0') as u32);
                digits += 1;
            }
            if digits > 0 {
                f(tid);
            }
            off += reclen;
        }
    }
    // SAFETY: our own descriptor, closed once.
    unsafe { libc::close(fd) };
    true
}

/// Ends the stop on every path (also if the caller's step panics).
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        // Release: the handlers' Acquire loads see the stop end.
        STATE.store(self.0.wrapping_add(1), Ordering::Release);
        futex_wake(&STATE, i32::MAX);
    }
}

/// Lets the next stop begin, on every path.
struct Unbusy;

impl Drop for Unbusy {
    fn drop(&mut self) {
        // Release pairs with the Acquire that takes BUSY.
        BUSY.store(false, Ordering::Release);
    }
}

/// Stops every other thread: returns the stop (ended when dropped), the number of table
/// entries, and whether a thread was stopped inside a critical section.
fn stop_all(
    sig: i32,
    entries: &[Entry],
    start: Instant,
) -> Result<(Resume, usize, bool), NoFreeze> {
    // Relaxed: only the BUSY holder writes these; the Release store of STATE publishes them.
    LEN.store(0, Ordering::Relaxed);
    ACKS.store(0, Ordering::Relaxed);
    let g = STATE.load(Ordering::Relaxed).wrapping_add(1) | 1;
    STATE.store(g, Ordering::Release);
    let resume = Resume(g);
    let me = gettid();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let mut len = 0usize;
    let mut too_many = false;
    loop {
        let mut added = 0usize;
        let listed = for_each_task(|tid| {
            // Relaxed: this thread's own writes.
            if tid == me
                || entries[..len]
                    .iter()
                    .any(|e| e.tid.load(Ordering::Relaxed) == tid)
            {
                return;
            }
            if len == entries.len() {
                too_many = true;
                return;
            }
            let e = &entries[len];
            // Relaxed: published by LEN's Release below, before the signal is sent.
            e.tid.store(tid, Ordering::Relaxed);
            e.state.store(SENT, Ordering::Relaxed);
            e.critical.store(0, Ordering::Relaxed);
            len += 1;
            LEN.store(len, Ordering::Release);
            // SAFETY: a signal to a task of our own process; the handler is installed.
            if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) } != 0 {
                // Relaxed: the thread is gone; nobody else writes its entry.
                e.state.store(GONE, Ordering::Relaxed);
            }
            added += 1;
        });
        if !listed {
            return Err(NoFreeze::Sys("reading /proc/self/task", errno()));
        }
        if too_many {
            return Err(NoFreeze::TooManyThreads);
        }
        if added == 0 {
            break;
        }
        // Wait for every signalled thread to stop (or to be gone).
        let mut checks = 0u32;
        loop {
            // Acquire pairs with the handlers' Release increments.
            let acks = ACKS.load(Ordering::Acquire);
            let mut waiting = false;
            for e in &entries[..len] {
                // Acquire pairs with the handler's Release store of STOPPED.
                if e.state.load(Ordering::Acquire) == SENT {
                    waiting = true;
                    let tid = e.tid.load(Ordering::Relaxed);
                    let gone = checks % 16 == 15 && {
                        // SAFETY: signal 0 only asks whether the task exists.
                        unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) != 0 }
                    };
                    if gone {
                        // Relaxed: a gone thread never writes its entry.
                        e.state.store(GONE, Ordering::Relaxed);
                    }
                }
            }
            if !waiting {
                break;
            }
            if start.elapsed() > TIMEOUT {
                drop(resume);
                let mut late = Vec::new();
                for e in &entries[..len] {
                    // Relaxed: the stop is over; a report only.
                    if e.state.load(Ordering::Relaxed) == SENT {
                        late.push(e.tid.load(Ordering::Relaxed));
                    }
                }
                return Err(NoFreeze::Timeout(late));
            }
            checks += 1;
            futex_wait(&ACKS, acks, Some(Duration::from_millis(1)));
        }
    }
    // Relaxed: published with STOPPED, read with Acquire above.
    let critical = entries[..len].iter().any(|e| {
        e.state.load(Ordering::Relaxed) == STOPPED && e.critical.load(Ordering::Relaxed) != 0
    });
    Ok((resume, len, critical))
}

/// Stops every other thread of the process, runs `inside` (which must not allocate, print
/// or take a lock), takes the frozen copy, and lets the threads go. On failure nothing is
/// stopped any more and the reason is returned.
pub(crate) fn freeze(sig: i32, inside: &mut dyn FnMut()) -> Result<Frozen, NoFreeze> {
    let start = Instant::now();
    // Acquire pairs with Unbusy's Release: the previous stop is over.
    while BUSY
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        if start.elapsed() > TIMEOUT {
            return Err(NoFreeze::Busy);
        }
        std::thread::yield_now();
    }
    let _unbusy = Unbusy;
    install(sig)?;
    let table = table()?;
    // SAFETY: the table is MAX_STOPPED entries mapped for good; this thread (holding BUSY)
    // is the only one that writes entries' tid, and their state before the signal.
    let entries = unsafe { core::slice::from_raw_parts(table, MAX_STOPPED) };
    let mut tries = 0;
    let mut began;
    let (resume, len) = loop {
        began = Instant::now();
        let (resume, len, critical) = stop_all(sig, entries, start)?;
        if !critical {
            break (resume, len);
        }
        drop(resume);
        tries += 1;
        if tries == TRIES || start.elapsed() > TIMEOUT {
            return Err(NoFreeze::AlwaysInRealloc);
        }
        std::thread::yield_now();
    };
    inside();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    // SAFETY: a raw clone without CLONE_VM: the child is a copy-on-write copy of this
    // process with this thread only; it runs nothing but `child_waits` (raw system calls)
    // and never returns. No exit signal: the parent reaps it with __WALL.
    let child = unsafe { libc::syscall(libc::SYS_clone, 0usize, 0usize, 0usize, 0usize, 0usize) };
    if child == 0 {
        child_waits(pid);
    }
    let clone_errno = errno();
    drop(resume);
    // Relaxed: see LAST_PAUSE_NS.
    LAST_PAUSE_NS.store(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
    if child < 0 {
        return Err(NoFreeze::Sys("clone", clone_errno));
    }
    let mut threads = Vec::with_capacity(len);
    for e in &entries[..len] {
        // Relaxed: the handler's Release store of STOPPED was seen with Acquire.
        if e.state.load(Ordering::Relaxed) == STOPPED {
            threads.push(Stopped {
                tid: e.tid.load(Ordering::Relaxed),
                sp: e.sp.load(Ordering::Relaxed),
                tp: e.tp.load(Ordering::Relaxed),
                regs: e.regs.iter().map(|r| r.load(Ordering::Relaxed)).collect(),
            });
        }
    }
    let mut frozen = Frozen {
        pid: child as libc::pid_t,
        mem: -1,
        threads,
    };
    // Can the child's memory be read? A known word, through either door.
    let probe = [PROBE; 1];
    let mut back = [0usize; 1];
    let at = &PROBE as *const usize as usize;
    if frozen.read_words(at, &mut back) != 1 || back != probe {
        let e = errno();
        let path = format!("/proc/{child}/mem\0");
        // SAFETY: a NUL-terminated path.
        frozen.mem = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if frozen.mem < 0 || frozen.read_words(at, &mut back) != 1 || back != probe {
            return Err(NoFreeze::Unreadable(e));
        }
    }
    Ok(frozen)
}

/// A word of known value, read back from the frozen child to check that it can be read.
static PROBE: usize = 0x5eed_f00d_cafe;

/// The frozen child: sleeps until its parent kills it (or dies). Raw system calls only.
fn child_waits(parent: libc::pid_t) -> ! {
    // SAFETY: plain system calls in a single-threaded child; `_exit` runs no handlers.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        loop {
            libc::pause();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_this_process_tasks() {
        let mut tids = Vec::new();
        assert!(for_each_task(|t| tids.push(t)));
        assert!(tids.contains(&gettid()), "{tids:?}");
    }
}
