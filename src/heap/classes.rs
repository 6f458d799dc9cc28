//! Heaps whose partition comes from outside the heap layer (the graph's views: byrcs and
//! byvia classify objects by their referrers, which only a pointer scan knows).

use std::sync::{Arc, OnceLock};

use super::partition::Partition;
use super::{By, Heap};
use crate::census::guard;

impl Heap {
    /// The same objects under view `by`, classified by `keys` (one class per object, in this
    /// heap's object order) named by `labels`.
    pub(crate) fn classified(&self, by: By, keys: Vec<u32>, labels: Vec<String>) -> Heap {
        let part = guard::internal(|| {
            Arc::new(OnceLock::from(Partition::from_classes(
                &self.objs, keys, labels, by,
            )))
        });
        self.with_partition(by, part)
    }
}
