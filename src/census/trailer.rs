//! The 4-byte trailer after every block: the block's registry slot, or a marker.
//!
//! `Census` asks the inner allocator for `size + 4` bytes with the caller's alignment and
//! keeps a `u32` (unaligned) just past the caller's bytes. A trailer rather than a header
//! leaves the caller's pointer and alignment exactly as the inner allocator gave them, for
//! any alignment, and costs 4 bytes instead of a header's 16.

use core::alloc::Layout;

/// The block is heapy's own memory (made while the reentrancy flag was set).
pub(crate) const INTERNAL: u32 = u32::MAX;
/// The block is the program's, but the census could not record it (counted in
/// `Stats::untracked`).
pub(crate) const UNTRACKED: u32 = u32::MAX - 1;
/// The block is the program's, counted in `Stats` but not recorded: a sampling census
/// passed it by.
pub(crate) const UNSAMPLED: u32 = u32::MAX - 2;

const LEN: usize = core::mem::size_of::<u32>();

/// The layout asked of the inner allocator for a caller's `layout`.
#[inline(always)]
pub(crate) fn outer(layout: Layout) -> Option<Layout> {
    Layout::from_size_align(layout.size().checked_add(LEN)?, layout.align()).ok()
}

/// The outer size for a caller's size (for realloc's new size).
#[inline(always)]
pub(crate) fn outer_size(size: usize) -> Option<usize> {
    size.checked_add(LEN)
}

/// Writes the trailer of the block at `p` whose caller size is `size`.
///
/// # Safety
///
/// `p` must point to a block of at least `size + 4` writable bytes.
#[inline(always)]
pub(crate) unsafe fn write(p: *mut u8, size: usize, mark: u32) {
    // SAFETY: the caller guarantees `p + size .. p + size + 4` is inside the block.
    unsafe { p.add(size).cast::<u32>().write_unaligned(mark) }
}

/// Reads the trailer of the block at `p` whose caller size is `size`.
///
/// # Safety
///
/// `p` must be a live block from `Census` whose caller size is `size`.
#[inline(always)]
pub(crate) unsafe fn read(p: *const u8, size: usize) -> u32 {
    // SAFETY: Census wrote 4 bytes at `p + size` when it made this block; the program may not
    // write past its `size` bytes, so they are intact.
    unsafe { p.add(size).cast::<u32>().read_unaligned() }
}
