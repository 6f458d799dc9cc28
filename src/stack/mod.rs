//! The stack layer: stack capture at allocation (frame-pointer walk, unwinder, sampling),
//! stack interning, and, at snapshot time only, symbolization and kind inference.
//!
//! The census calls [`context`] on every allocation; everything else runs when a snapshot
//! is resolved, with the reentrancy flag held by the caller.

mod cache;
mod describe;
mod fp;
mod frame;
mod infer;
mod intern;
mod mode;
mod sample;
mod source;
mod symbolize;
mod types;

pub(crate) use cache::forget as forget_symbols;
pub(crate) use describe::{describe, describe_all, tag, Description};
pub(crate) use fp::walk_frames;
pub use frame::Frame;
pub use mode::Stacks;
pub use sample::set_sample_seed;
pub(crate) use sample::weight as sample_weight;
pub(crate) use symbolize::release_debug_info;

/// Context ids from here up are stacks (`BASE` itself: the table was full). The census's
/// tag ids lie below.
pub(crate) const BASE: u32 = 1 << 23;
/// The largest context id [`context`] gives (the last entry of the stack table).
pub(crate) const MAX_ID: u32 = BASE + intern::ENTRIES as u32;

pub(crate) use mode::{bad_env_warning, effective, sample_bytes, take_bad_env, MAX_SAMPLE_RATE};
pub(crate) use sample::take as sampled;

/// The context id to store for an allocation made now under mode `m` (as `effective`
/// gives it) with tag `tag` current: an interned stack, or the tag when there is no stack.
/// Call with the reentrancy flag held (the unwinder may allocate).
#[inline(always)]
pub(crate) fn context(m: Stacks, tag: u32) -> u32 {
    capture(m, tag)
}

#[inline(always)]
fn capture(m: Stacks, tag: u32) -> u32 {
    // Not zeroed: only the first `n` words, written by the capture, are read.
    let mut buf = [core::mem::MaybeUninit::<usize>::uninit(); intern::DEPTH];
    let n = match mode::capture(m) {
        mode::Capture::Off => return tag,
        mode::Capture::Fp => fp::walk(&mut buf),
        mode::Capture::Unwind => unwind::capture(&mut buf),
    };
    if n == 0 {
        return tag;
    }
    // SAFETY: the capture initialised the first `n <= DEPTH` words.
    let frames = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<usize>(), n) };
    intern::intern(frames, tag, BASE)
}

mod unwind;

/// The mean gap of the sampling census, when objects were recorded by sampling.
pub(crate) fn sample_rate() -> Option<u64> {
    sample::rate()
}

/// Allocations whose stack found no room in the stack table, and distinct stacks interned.
pub(crate) fn table_counts() -> (u64, u64) {
    intern::counts()
}
