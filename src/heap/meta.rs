//! Names that go with a snapshot's objects: each context's kind and each thread's label.
//!
//! A snapshot resolves these once, for the distinct ids it holds, so that views, set algebra
//! and files work from the snapshot alone (a loaded snapshot fills the same tables).

use std::collections::HashMap;
use std::sync::Arc;

use crate::census::{self, guard};
use crate::stack::{self, Description};

/// The name of an object's kind when neither a tag nor a stack says more.
pub(crate) const UNTAGGED: &str = "<untagged>";

/// The site label of objects whose stack was not captured.
pub(crate) const NO_STACK: &str = "<no stack>";

/// What context id `ctx` of this process names: nothing (0), a tag (below
/// `census::TAG_LIMIT`), or a stack, whose kind a tag current at the allocation overrides.
/// A stack's description is the stack layer's cached one, shared. Call with the reentrancy
/// flag held: it allocates.
fn describe(ctx: u32) -> Arc<Description> {
    if ctx == 0 {
        return Arc::new(Description::named(UNTAGGED));
    }
    if ctx == census::history::LOG_OVERFLOW {
        return Arc::new(Description::named("<more kinds than a mark's log holds>"));
    }
    if ctx < census::TAG_LIMIT {
        return Arc::new(Description::named(census::tag_name(ctx)));
    }
    let d = stack::describe(ctx);
    // Tags win over what the stack says (the site and frames are the stack's, shared).
    match stack::tag(ctx) {
        0 => d,
        tag => Arc::new(Description {
            kind: census::tag_name(tag).into(),
            merged_call: false,
            ..Description::clone(&d)
        }),
    }
}

/// How the ids of the right operand of set algebra map into the merged names table (only
/// the ids that clashed are listed).
#[derive(Debug, Default)]
pub(crate) struct Remap {
    pub ctx: HashMap<u32, u32>,
    pub thread: HashMap<u16, u16>,
}

impl Remap {
    /// `o` with its ids as the merged table knows them.
    pub(crate) fn apply(&self, mut o: super::Obj) -> super::Obj {
        if let Some(&c) = self.ctx.get(&o.ctx) {
            o.ctx = c;
        }
        if let Some(&t) = self.thread.get(&o.thread) {
            o.thread = t;
        }
        o
    }
}

/// Names for a snapshot's context ids and thread indices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    /// What each context names (shared with the stack layer's cache and other snapshots).
    pub kinds: HashMap<u32, Arc<Description>>,
    pub threads: HashMap<u16, String>,
    /// Mean bytes between samples when the objects are a byte-sampled subset of the heap
    /// (figures derived from them are estimates), `None` when every object was recorded.
    pub sample_rate: Option<u64>,
}

impl Meta {
    /// Resolves every id in `ctxs` from this process's census, with thread labels already
    /// read (see `snapshot::thread_names`).
    pub(crate) fn resolve(
        ctxs: impl IntoIterator<Item = u32>,
        threads: HashMap<u16, String>,
    ) -> Meta {
        let ctxs: Vec<u32> = ctxs.into_iter().collect();
        // Many new stacks are described on several threads first; the lookups below then
        // find them cached.
        stack::describe_all(&ctxs, guard::parallel);
        let kinds = ctxs.into_iter().map(|c| (c, describe(c))).collect();
        Meta {
            kinds,
            threads,
            sample_rate: crate::stack::sample_rate(),
        }
    }

    /// The kind label of context `ctx`.
    pub(crate) fn kind(&self, ctx: u32) -> &str {
        self.kinds.get(&ctx).map_or(UNTAGGED, |k| &k.kind)
    }

    /// The call site label of context `ctx` (`<no stack>` when none was captured).
    pub(crate) fn site(&self, ctx: u32) -> &str {
        self.kinds
            .get(&ctx)
            .and_then(|k| k.site.as_deref())
            .unwrap_or(NO_STACK)
    }

    /// The full call site label of context `ctx` (the alternate form of a table: the site
    /// frame's function in full and its file as recorded), else its site label.
    pub(crate) fn site_full(&self, ctx: u32) -> &str {
        self.kinds
            .get(&ctx)
            .and_then(|k| k.site_full.as_deref().or(k.site.as_deref()))
            .unwrap_or(NO_STACK)
    }

    /// The label of thread index `t`.
    pub(crate) fn thread(&self, t: u16) -> &str {
        self.threads
            .get(&t)
            .map_or("<unknown thread>", String::as_str)
    }

    /// The union of two tables, and how `other`'s ids map into it. Ids from one process
    /// mean the same thing in both tables; where `other` gives an id another meaning (a
    /// snapshot of another process), that id gets a fresh number in the union.
    pub(crate) fn merged(&self, other: &Meta) -> (Meta, Remap) {
        let mut m = self.clone();
        let mut remap = Remap::default();
        let mut next_ctx = m
            .kinds
            .keys()
            .chain(other.kinds.keys())
            .max()
            .map_or(0, |k| k + 1);
        let mut sorted: Vec<_> = other.kinds.iter().collect();
        sorted.sort_by_key(|(k, _)| **k);
        for (k, v) in sorted {
            match m.kinds.get(k) {
                None => {
                    m.kinds.insert(*k, v.clone());
                }
                Some(mine) if mine == v => {}
                Some(_) => {
                    m.kinds.insert(next_ctx, v.clone());
                    remap.ctx.insert(*k, next_ctx);
                    next_ctx += 1;
                }
            }
        }
        let mut sorted: Vec<_> = other.threads.iter().collect();
        sorted.sort_by_key(|(k, _)| **k);
        for (k, v) in sorted {
            match m.threads.get(k) {
                None => {
                    m.threads.insert(*k, v.clone());
                }
                Some(mine) if mine == v => {}
                Some(_) => {
                    // A free index for the other thread (from the top: live indices grow
                    // from 0); with all 65,536 taken, it keeps the clashing one.
                    if let Some(free) = (0..=u16::MAX).rev().find(|i| !m.threads.contains_key(i)) {
                        m.threads.insert(free, v.clone());
                        remap.thread.insert(*k, free);
                    }
                }
            }
        }
        (m, remap)
    }
}
