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
