//! Live bytes by allocation stack, in the folded-stack text format of flame graph tools.

use std::collections::BTreeMap;

use crate::census::guard;
use crate::heap::{Description, Heap, History, Meta};

/// A frame name safe for the folded format (`;` separates frames, the last space the count).
fn clean(name: &str) -> String {
    // Names rarely hold any of the three: one pass over the bytes to find out (the replace
    // below, generic code compiled into the user's build, took 60% of a debug build's
    // snapshot of 800 deep stacks).
    if !name.bytes().any(|b| matches!(b, b';' | b'\n' | b'\r')) {
        return name.to_string();
    }
    name.replace(';', ",").replace(['\n', '\r'], " ")
}

/// The frames of one context, root first: the stack's functions (outermost call first),
/// then the kind as the leaf unless it only repeats the innermost function. With no stack,
/// the kind alone.
pub(crate) fn stack(info: Option<&Description>, untagged: &str) -> Vec<String> {
    let Some(info) = info else {
        return vec![clean(untagged)];
    };
    let mut frames: Vec<String> = info
        .frames
        .iter()
        .rev()
        .map(|f| clean(f.function()))
        .collect();
    let leaf = clean(&info.kind);
    if frames.last() != Some(&leaf) {
        frames.push(leaf);
    }
    frames
}

impl Heap {
    /// Live bytes by allocation stack in the folded-stack format (one `root;caller;callee;kind
    /// bytes` line per distinct stack, sorted), as read by inferno, flamegraph.pl and
    /// speedscope. Each stack runs from the outermost call to the allocating function, and
    /// ends with the object's kind; objects whose stack was not captured show their kind
    /// alone. A `;` inside a name becomes `,`.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let mark = heapy::hpy().mark();
    /// let make = |n: usize| heapy::with_kind("Buffer", || vec![0u8; n]);
    /// let a = make(100);
    /// let b = make(28);
    /// let folded = mark.heap().folded();
    /// // One line: both buffers come through the same functions.
    /// assert_eq!(folded.lines().count(), 1, "{folded}");
    /// assert!(folded.ends_with("::{closure#0}::{closure#0};Buffer 128\n"), "{folded}");
    /// # drop((a, b));
    /// ```
    #[doc(alias("folded_stacks", "collapsed_stacks"))]
    pub fn folded(&self) -> String {
        guard::internal(|| {
            fold(
                self.meta(),
                super::per_context(self)
                    .into_iter()
                    .map(|(ctx, (_, bytes))| (ctx, bytes)),
            )
        })
    }
}

/// Folded stacks of `bytes` per context, named by `meta`.
fn fold(meta: &Meta, per_ctx: impl Iterator<Item = (u32, u64)>) -> String {
    let mut by_stack: BTreeMap<String, u64> = BTreeMap::new();
    for (ctx, bytes) in per_ctx {
        if bytes == 0 {
            continue;
        }
        let key = stack(meta.kinds.get(&ctx).map(|d| &**d), meta.kind(ctx)).join(";");
        let e = by_stack.entry(key).or_default();
        *e = e.saturating_add(bytes);
    }
    let mut out = String::new();
    for (stack, bytes) in by_stack {
        out.push_str(&stack);
        out.push(' ');
        out.push_str(&bytes.to_string());
        out.push('\n');
    }
    out
}

impl History {
    /// The history's bytes by allocation stack as folded stacks (as [`Heap::folded`]):
    /// of [`Hpy::allocations`](crate::Hpy::allocations), every byte allocated (where the
    /// churn comes from); of [`Hpy::at_peak`](crate::Hpy::at_peak), the heap at its peak
    /// (memray's high-watermark flame graph). Feed it to
    /// `heapy::flamegraph` (feature `flame`) or `heapy flame`.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// for _ in 0..3 {
    ///     drop(heapy::with_kind("Scratch", || vec![0u8; 100]));
    /// }
    /// let folded = mark.allocations().folded();
    /// assert!(folded.lines().any(|l| l.ends_with(";Scratch 300") || l == "Scratch 300"));
    /// ```
    #[doc(alias("folded_stacks", "collapsed_stacks"))]
    pub fn folded(&self) -> String {
        guard::internal(|| {
            fold(
                self.meta(),
                self.items()
                    .iter()
                    .map(|&(ctx, _, bytes)| (ctx, bytes as u64)),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::heap::test_support::sample_heap;

    #[test]
    fn folded_lines_root_first_with_kind_leaf() {
        let folded = sample_heap().folded();
        assert_eq!(
            folded,
            "[u8, 4] 8\n\
             demo::main;demo::cache 1000\n\
             demo::main;demo::load;Vec<demo::Person> 128\n"
        );
    }

    #[test]
    fn folded_stacks_survive_a_snapshot_file() {
        let h = sample_heap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.json");
        h.dump(&path).unwrap();
        assert_eq!(crate::Heap::load(&path).unwrap().folded(), h.folded());
    }

    #[test]
    fn empty_heap_folds_to_nothing() {
        let h = sample_heap().filter(|_| false);
        assert_eq!(h.folded(), "");
    }
}
