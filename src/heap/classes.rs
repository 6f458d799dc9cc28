//! Heaps whose partition comes from outside the heap layer: the graph's views (byrcs and
//! byvia) classify objects by their referrers, which only a pointer scan knows. The heap
//! layer knows them only as an [`Outside`] view: a name, a header, and a way to apply the
//! same view to another heap.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::partition::Partition;
use super::view::View;
use super::Heap;
use crate::census::guard;

/// A view computed above the heap layer. A heap under it prints its rows with `header`,
/// keeps it through `all()` and `more()`, and asks `apply` for the same view of another
/// heap (`diff` classifies both sides alike). Set algebra and files, which make a new set
/// without the layer above, start again by kind.
pub(crate) struct Outside {
    /// The view's name (`Differences by <name>`); views are told apart by it.
    pub name: &'static str,
    /// The header of the label column.
    pub header: &'static str,
    /// The same view of another heap (one that holds the partition: see `classified`).
    pub apply: fn(&Heap) -> Heap,
}

impl fmt::Debug for Outside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outside").field("name", &self.name).finish()
    }
}

impl Heap {
    /// The same objects under view `view`, classified by `keys` (one class per object, in
    /// this heap's object order) named by `labels`.
    pub(crate) fn classified(
        &self,
        view: &'static Outside,
        keys: Vec<u32>,
        labels: Vec<String>,
    ) -> Heap {
        let part = guard::internal(|| {
            Arc::new(OnceLock::from(Partition::from_classes(
                &self.objs, keys, labels, false,
            )))
        });
        self.with_partition(View::Outside(view), part)
    }

    /// The same objects under `view`: one of the heap's own views, or one from above
    /// (computed by its `apply`).
    pub(crate) fn under(&self, view: View) -> Heap {
        match view {
            View::By(by) => self.with_view(by),
            View::Outside(o) => (o.apply)(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::heap::test_support::{by_bigness, sample_heap};
    use crate::heap::By;

    #[test]
    fn a_view_from_above_prints_its_rows_under_its_header() {
        let h = by_bigness(&sample_heap());
        let text = h.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "Partition of a set of 5 objects. Total size = 1136 bytes.",
                " Index  Count   %     Size   % Cumulative  % Bigness",
                "     0      2  40     1096  96      1096  96 big",
                "     1      3  60       40   4      1136 100 small",
            ]
        );
        assert_eq!(h.view(), None);
        assert_eq!(h.all().to_string(), text);
        assert_eq!(h.row(0).size(), 1096);
        assert_eq!(h.by(By::Size).view(), Some(By::Size));
    }

    #[test]
    fn diff_applies_the_view_to_the_other_side() {
        let h = sample_heap();
        let d = by_bigness(&h).diff(&h.filter(|o| o.size() != 1000));
        let rows: Vec<(&str, i64, i64)> =
            d.rows().map(|r| (r.label(), r.count(), r.size())).collect();
        assert_eq!(rows, [("big", 1, 1000)]);
        assert_eq!(d.view(), None);
        let text = d.to_string();
        assert!(text.contains("Differences by bigness, largest"), "{text}");
        assert!(text.contains("% of B Bigness\n"), "{text}");
    }

    #[test]
    fn set_algebra_starts_again_by_kind() {
        let h = by_bigness(&sample_heap());
        let empty = h.filter(|_| false);
        for set in [&h - &empty, &h | &empty, &h & &h, &h ^ &empty] {
            assert_eq!(set.view(), Some(By::Kind));
            assert_eq!(set.to_string(), sample_heap().to_string());
        }
    }
}
