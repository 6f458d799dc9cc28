//! An object's context: what the census stores to name its kind later.
//!
//! A context id (24 bits in the record) is either 0 (nothing known), a tag id (below
//! `tags::TAG_LIMIT`), or an id owned by the stack layer (from `TAG_LIMIT` up: an interned
//! stack, which also remembers the tag that was current). The hot path only stores the id;
//! names are resolved when a snapshot is classified.

use super::tags;
use crate::stack::{self, Stacks, SymFrame};

const _: () = assert!(tags::TAG_LIMIT == stack::BASE);

/// The context of an allocation made now on this thread by a census capturing `stacks`
/// (the mode in force, see `stack::effective`). Call with the reentrancy flag held.
#[inline(always)]
pub(crate) fn current(stacks: Stacks) -> u32 {
    stack::context(stacks, tags::current())
}

/// The name of an object's kind when neither a tag nor a stack says more.
pub(crate) const UNTAGGED: &str = "<untagged>";

/// What a context id says about an object's kind.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct KindInfo {
    /// The kind shown by `bykind()`.
    pub kind: String,
    /// The call site shown by `bysite()`, if a stack was captured.
    pub site: Option<String>,
    /// The user frames of the stack, most recent call first.
    pub frames: Vec<SymFrame>,
}

/// Resolves a context id (call with the reentrancy flag held: it allocates).
pub(crate) fn resolve(ctx: u32) -> KindInfo {
    if ctx == 0 {
        return KindInfo {
            kind: UNTAGGED.to_string(),
            ..KindInfo::default()
        };
    }
    if ctx < tags::TAG_LIMIT {
        return KindInfo {
            kind: tags::name(ctx).to_string(),
            ..KindInfo::default()
        };
    }
    let d = stack::describe(ctx);
    // Tags win over what the stack says.
    let kind = if d.tag != 0 {
        tags::name(d.tag).to_string()
    } else {
        d.kind.unwrap_or_else(|| UNTAGGED.to_string())
    };
    KindInfo {
        kind,
        site: d.site,
        frames: d.frames,
    }
}
