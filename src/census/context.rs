//! An object's context: what the census stores to name its kind later.
//!
//! A context id (24 bits in the record) is either 0 (nothing known), a tag id (below
//! `tags::TAG_LIMIT`), or an id owned by the stack layer (from `TAG_LIMIT` up). The hot path
//! only stores the id; names are resolved when a snapshot is classified.

use super::tags;

/// The context of an allocation made now on this thread.
#[inline(always)]
pub(crate) fn current() -> u32 {
    tags::current()
}

/// The name of an untagged object's kind until call sites can say more.
pub(crate) const UNTAGGED: &str = "<untagged>";

/// What a context id says about an object's kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KindInfo {
    /// The kind shown by `bykind()`.
    pub kind: String,
}

/// Resolves a context id (call with the reentrancy flag held: it allocates).
pub(crate) fn resolve(ctx: u32) -> KindInfo {
    let kind = if ctx == 0 {
        UNTAGGED.to_string()
    } else if ctx < tags::TAG_LIMIT {
        tags::name(ctx).to_string()
    } else {
        format!("<context {ctx}>")
    };
    KindInfo { kind }
}
