//! The fallback capture: the backtrace crate's DWARF unwinder, with a depth limit.
//!
//! It works without frame pointers but costs microseconds per allocation. Call it with the
//! reentrancy flag held: the unwinder may allocate (glibc's or libgcc's caches), and such
//! memory must be marked heapy's own.

/// Fills `out` with instruction pointers of the calling thread's stack, innermost first;
/// returns how many.
#[inline(never)]
pub(crate) fn capture(out: &mut [core::mem::MaybeUninit<usize>]) -> usize {
    let mut n = 0;
    // SAFETY: `trace_unsynchronized` is unsafe only because it skips the crate's global lock,
    // which serialises dbghelp on Windows; on the Unix targets heapy supports it calls the
    // thread-safe `_Unwind_Backtrace`. The callback cannot panic (bounded `get_mut`).
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            match out.get_mut(n) {
                Some(slot) => {
                    slot.write(frame.ip() as usize);
                    n += 1;
                }
                None => return false,
            }
            n < out.len()
        });
    }
    n
}
