//! The calling thread's registers, stack pointer, frame pointer and thread pointer: the only
//! place heapy reads registers.

/// How many machine words [`spill_registers`] writes.
pub(crate) const REGS: usize = 32;

/// Writes the calling thread's general-purpose registers into `out`, so that pointers a
/// caller keeps only in registers can be found (x86_64 has 16 and leaves the other words as
/// they were; aarch64 fills all 32).
#[inline(never)]
pub(crate) fn spill_registers(out: &mut [usize; REGS]) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = out.as_mut_ptr();
        // SAFETY: stores 16 registers into the first 16 words of `out`, which has 32; no
        // register other than the pointer input is changed and no stack is used.
        unsafe {
            core::arch::asm!(
                "mov [{p}], rax", "mov [{p} + 8], rbx", "mov [{p} + 16], rcx",
                "mov [{p} + 24], rdx", "mov [{p} + 32], rsi", "mov [{p} + 40], rdi",
                "mov [{p} + 48], rbp", "mov [{p} + 56], r8", "mov [{p} + 64], r9",
                "mov [{p} + 72], r10", "mov [{p} + 80], r11", "mov [{p} + 88], r12",
                "mov [{p} + 96], r13", "mov [{p} + 104], r14", "mov [{p} + 112], r15",
                "mov [{p} + 120], rsp",
                p = in(reg) p,
                options(nostack, preserves_flags),
            );
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let p = out.as_mut_ptr();
        // SAFETY: stores x0..x30 and sp into the 32 words of `out`; no register other than
        // the pointer input and one scratch register is changed and no stack is used.
        unsafe {
            core::arch::asm!(
                "stp x0, x1, [{p}]", "stp x2, x3, [{p}, #16]", "stp x4, x5, [{p}, #32]",
                "stp x6, x7, [{p}, #48]", "stp x8, x9, [{p}, #64]",
                "stp x10, x11, [{p}, #80]", "stp x12, x13, [{p}, #96]",
                "stp x14, x15, [{p}, #112]", "stp x16, x17, [{p}, #128]",
                "stp x18, x19, [{p}, #144]", "stp x20, x21, [{p}, #160]",
                "stp x22, x23, [{p}, #176]", "stp x24, x25, [{p}, #192]",
                "stp x26, x27, [{p}, #208]", "stp x28, x29, [{p}, #224]",
                "mov {t}, sp", "stp x30, {t}, [{p}, #240]",
                p = in(reg) p,
                t = out(reg) _,
                options(nostack, preserves_flags),
            );
        }
    }
}

/// Where [`spill_registers`] puts the frame-pointer register (rbp).
#[cfg(target_arch = "x86_64")]
pub(crate) const FP_SLOT: usize = 6;
/// Where [`spill_registers`] puts the frame-pointer register (x29).
#[cfg(target_arch = "aarch64")]
pub(crate) const FP_SLOT: usize = 29;

/// The calling function's frame pointer (its frame's saved-frame-pointer slot when the code
/// keeps frame pointers; anything at all when it does not).
#[inline(always)]
pub(crate) fn frame_pointer() -> usize {
    let fp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: copies rbp into a register; no memory is touched.
    unsafe {
        core::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: copies x29 into a register; no memory is touched.
    unsafe {
        core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    fp
}

/// The calling function's stack pointer (approximately: the address of a local on the
/// caller's frame when inlined).
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    let sp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads rsp into a register; no memory is touched.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads sp into a register; no memory is touched.
    unsafe {
        core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    sp
}

/// The calling thread's thread pointer (where its static thread-local blocks are found).
/// Never allocates: callable from inside the allocator.
/// The two words of the frame record at `fp`: the saved frame pointer and the return
/// address. One instruction on x86_64 and aarch64, inlined even at opt-level 0 (where a
/// `read_volatile` is a call with its precondition checks: the frame walk reads two words per
/// frame on every allocation).
///
/// # Safety
///
/// `fp` is aligned to a word and both words, `fp .. fp + 16`, are readable memory.
#[inline(always)]
pub(crate) unsafe fn read_frame(fp: usize) -> (usize, usize) {
    let (next, ret): (usize, usize);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller promises both words readable; the loads change nothing else (asm
    // reads are opaque to the compiler, so it assumes nothing about the other frames'
    // memory, as a volatile read would).
    unsafe {
        core::arch::asm!(
            "mov {n}, qword ptr [{p}]",
            "mov {r}, qword ptr [{p} + 8]",
            p = in(reg) fp,
            n = lateout(reg) next,
            r = lateout(reg) ret,
            options(readonly, nostack, preserves_flags),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above; `ldp` needs only the word alignment the caller promises.
    unsafe {
        core::arch::asm!(
            "ldp {n}, {r}, [{p}]",
            p = in(reg) fp,
            n = lateout(reg) next,
            r = lateout(reg) ret,
            options(readonly, nostack, preserves_flags),
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    // SAFETY: the caller promises both words readable and aligned.
    unsafe {
        next = core::ptr::read_volatile(fp as *const usize);
        ret = core::ptr::read_volatile((fp + core::mem::size_of::<usize>()) as *const usize);
    }
    (next, ret)
}

#[inline]
pub(crate) fn thread_pointer() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let tp: usize;
        // SAFETY: on x86_64 Linux the first word of the thread control block, at fs:0,
        // holds the thread pointer itself (the TLS ABI guarantees it); reading it has no
        // side effect.
        unsafe {
            core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp,
                options(nostack, preserves_flags, readonly));
        }
        tp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let tp: usize;
        // SAFETY: reads the thread pointer register; no memory is touched.
        unsafe {
            core::arch::asm!("mrs {}, tpidr_el0", out(reg) tp,
                options(nomem, nostack, preserves_flags));
        }
        tp
    }
}

/// True if the thread `tid` of this process still exists.
pub(crate) fn thread_alive(tid: u32) -> bool {
    // SAFETY: signal 0 only checks that the thread exists; nothing is delivered.
    unsafe { libc::tgkill(libc::getpid(), tid as libc::pid_t, 0) == 0 }
}
