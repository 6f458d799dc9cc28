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
mod recent;
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
/// The largest context id [`context`] gives (the last context number of the stack tree;
/// numbers are handed out densely from `BASE + 1`).
pub(crate) const MAX_ID: u32 = BASE + intern::CONTEXTS as u32;
const _: () = assert!(MAX_ID - BASE <= 1 << 22);

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
    let how = mode::capture(m);
    if how == mode::Capture::Off {
        return tag;
    }
    match recent::context(how, tag) {
        None => tag,
        Some(n) => BASE + n,
    }
}

/// Gives the calling thread's capture state back (its census state is being torn down).
pub(crate) fn thread_exit() {
    recent::thread_exit();
}

/// Sets how many frames a capture keeps at most (1 ..= 2048) and whether it reuses the
/// thread's previous walk: the overhead benchmark's side-by-side switch.
pub(crate) fn configure_capture(frames: usize, reuse: bool) {
    recent::configure(frames, reuse);
}

/// The frames (innermost first) and tag of stack context `ctx`, if it names one.
pub(crate) fn stack_frames(ctx: u32) -> Option<(Vec<usize>, u32)> {
    intern::TREE.frames(ctx.checked_sub(BASE)?)
}

mod unwind;

/// The mean gap of the sampling census, when objects were recorded by sampling.
pub(crate) fn sample_rate() -> Option<u64> {
    sample::rate()
}

/// Allocations whose stack found no room in the stack tree, distinct stacks handed out as
/// contexts, and the tree's nodes in use.
pub(crate) fn table_counts() -> (u64, u64, u64) {
    intern::TREE.counts()
}
