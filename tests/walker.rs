//! The frame-pointer walk never trusts the chain: an allocation made below a frame whose
//! saved frame pointer is garbage (as in code built without frame pointers) is recorded
//! as usual, and its stack simply ends at the garbage.
#![cfg(target_arch = "x86_64")]

use std::sync::atomic::{AtomicPtr, Ordering};

use heapy::{Census, Stacks};

#[global_allocator]
static CENSUS: Census = Census::new().stacks(Stacks::FramePointers);

static MADE: AtomicPtr<[u8; 24]> = AtomicPtr::new(std::ptr::null_mut());

/// Allocates one object and leaves it in `MADE`.
#[inline(never)]
extern "C" fn alloc_here() {
    let b = Box::new([7u8; 24]);
    MADE.store(Box::into_raw(b), Ordering::Relaxed);
}

/// Calls `f` with the frame-pointer register holding `fp`, so that `f`'s frame saves
/// `fp` as its caller's frame pointer.
///
/// # Safety
///
/// `f` must be a valid `extern "C"` function taking nothing.
unsafe fn call_with_frame_pointer(fp: usize, f: extern "C" fn()) {
    // SAFETY: rbp and rbx are saved and restored around the call, the stack is aligned to
    // 16 bytes at the call as the C ABI requires, and every caller-saved register is
    // declared clobbered.
    unsafe {
        std::arch::asm!(
            "push rbp",
            "push rbx",
            "mov rbx, rsp",
            "and rsp, -16",
            "mov rbp, {fp}",
            "call {f}",
            "mov rsp, rbx",
            "pop rbx",
            "pop rbp",
            fp = in(reg) fp,
            f = in(reg) f,
            clobber_abi("C"),
        );
    }
}

#[test]
fn garbage_frame_pointers_end_the_walk_safely() {
    // A fake frame chain on this thread's stack (above the walker, so inside its bounds):
    // a frame that links to itself, and one that links upwards to it.
    let mut chain = [0usize; 8];
    let base = chain.as_mut_ptr() as usize;
    chain[0] = base; // a loop
    chain[1] = 0x1234;
    chain[2] = base; // increasing into the loop
    chain[3] = 0x5678;
    let chain = std::hint::black_box(chain);
    let heap_ptr = Box::into_raw(Box::new(0u64)) as usize;
    let garbage = [
        0,
        1,
        8,
        0xdead_beef,
        usize::MAX,
        usize::MAX - 15,
        base + 3,    // misaligned, inside the stack
        base,        // a self-loop
        base + 16,   // a chain into the loop
        heap_ptr,    // outside the stack
        base - 4096, // below the stack pointer
        0x7fff_ffff_fff0,
    ];
    for fp in garbage {
        let mark = heapy::hpy().mark();
        // SAFETY: `alloc_here` is an extern "C" fn taking nothing.
        unsafe { call_with_frame_pointer(fp, alloc_here) };
        let h = mark.heap();
        assert_eq!((h.count(), h.size()), (1, 24), "fp {fp:#x}");
        let o = h.theone().unwrap();
        // The walk reached the allocating function before the garbage.
        assert_eq!(o.kind(), "Box<[u8; 24]>", "fp {fp:#x}");
        assert!(o.site().ends_with(" walker::alloc_here"), "{}", o.site());
        // Printing and tracebacks work whatever the garbage frames resolved to.
        let _ = (
            h.to_string(),
            h.bysite().to_string(),
            h.traceback().to_string(),
        );
        // SAFETY: made by `alloc_here` from a Box, freed once.
        drop(unsafe { Box::from_raw(MADE.swap(std::ptr::null_mut(), Ordering::Relaxed)) });
    }
    std::hint::black_box(&chain);
    // SAFETY: made above from a Box, freed once.
    drop(unsafe { Box::from_raw(heap_ptr as *mut u64) });
}
