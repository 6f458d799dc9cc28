//! An object's context: what the census stores to name its kind later.
//!
//! A context id (24 bits in the record) is either 0 (nothing known), a tag id (below
//! `tags::TAG_LIMIT`), or an id owned by the stack layer (from `TAG_LIMIT` up: an interned
//! stack, which also remembers the tag that was current). The hot path only stores the id;
//! names are resolved when a snapshot is taken (`heap::meta`).

use super::tags;
use crate::stack::{self, Stacks};

const _: () = assert!(tags::TAG_LIMIT == stack::BASE);

/// The context of an allocation made now on this thread by a census capturing `stacks`
/// (the mode in force, see `stack::effective`). Call with the reentrancy flag held.
#[inline(always)]
pub(crate) fn current(stacks: Stacks) -> u32 {
    stack::context(stacks, tags::current())
}
