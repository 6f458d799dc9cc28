//! A partition: the rows of a view, largest first.

use super::meta::Meta;
use super::view::{classify, By};
use super::Obj;

/// One row: a class of objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub label: String,
    /// The full label the table's alternate form prints, when it differs from `label`
    /// (sites: see `full_sites`).
    pub full: Option<String>,
    pub count: usize,
    pub size: usize,
    /// The class id in `Partition::keys`.
    pub key: u32,
}

/// A heap's objects grouped by a view.
#[derive(Clone, Debug)]
pub(crate) struct Partition {
    pub rows: Vec<Row>,
    /// Each object's class (parallel to the heap's objects).
    pub keys: Vec<u32>,
}

impl Partition {
    pub(crate) fn new(objs: &[Obj], meta: &Meta, by: By) -> Partition {
        let (keys, labels) = classify(objs, meta, by);
        let mut p = Partition::from_classes(objs, keys, labels, by == By::Id);
        if by == By::Site {
            let ctxs = objs.iter().map(|o| o.ctx).zip(p.keys.iter().copied());
            full_sites(&mut p.rows, ctxs, meta);
        }
        if let (Some(rate), false) = (meta.sample_rate, by == By::Id) {
            p.estimate(objs, rate);
        }
        p
    }

    /// Scales each row of a byte-sampled heap by the inverse sampling probability of its
    /// objects (see `Heap::estimated_size`), and sorts the rows again.
    fn estimate(&mut self, objs: &[Obj], rate: u64) {
        let mut sums = vec![(0.0f64, 0.0f64); self.rows.len()];
        let index: std::collections::HashMap<u32, usize> = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key, i))
            .collect();
        for (o, k) in objs.iter().zip(&self.keys) {
            let w = crate::stack::sample_weight(o.size, rate);
            let s = &mut sums[index[k]];
            s.0 += w;
            s.1 += w * o.size as f64;
        }
        // Estimates stay far below the integer limits, so that the tables' sums of rows
        // cannot overflow (2^53: beyond it an f64 is not exact anyway).
        const MAX_ESTIMATE: f64 = (1u64 << 53) as f64;
        for (r, (c, s)) in self.rows.iter_mut().zip(sums) {
            r.count = c.round().min(MAX_ESTIMATE) as usize;
            r.size = s.round().min(MAX_ESTIMATE) as usize;
        }
        sort_by_size(&mut self.rows);
    }

    /// The partition of items (one per context of a history table) into the classes `keys`
    /// named by `labels`, each item counting `weights[i]` (objects or blocks, bytes).
    pub(crate) fn from_weights(
        keys: Vec<u32>,
        labels: Vec<String>,
        weights: &[(usize, usize)],
    ) -> Partition {
        let mut rows = empty_rows(labels);
        for (&(c, s), &k) in weights.iter().zip(&keys) {
            let r = &mut rows[k as usize];
            r.count = r.count.saturating_add(c);
            r.size = r.size.saturating_add(s);
        }
        rows.retain(|r| r.count != 0 || r.size != 0);
        sort_by_size(&mut rows);
        Partition { rows, keys }
    }

    /// The partition of `objs` into the classes `keys` (one per object) named by `labels`;
    /// with `by_id`, each class is one object (`keys[i] == i`).
    pub(crate) fn from_classes(
        objs: &[Obj],
        keys: Vec<u32>,
        labels: Vec<String>,
        by_id: bool,
    ) -> Partition {
        let mut rows = empty_rows(labels);
        for (o, &k) in objs.iter().zip(&keys) {
            let r = &mut rows[k as usize];
            r.count += 1;
            r.size += o.size;
        }
        if by_id {
            // guppy's byid: largest objects first, then by address.
            rows.sort_by(|a, b| {
                b.size.cmp(&a.size).then_with(|| {
                    let pa = objs[a.key as usize].addr;
                    let pb = objs[b.key as usize].addr;
                    pa.cmp(&pb)
                })
            })
        } else {
            sort_by_size(&mut rows);
        }
        Partition { rows, keys }
    }
}

/// One empty row per label, keyed by its position.
fn empty_rows(labels: Vec<String>) -> Vec<Row> {
    labels
        .into_iter()
        .enumerate()
        .map(|(k, label)| Row {
            label,
            full: None,
            count: 0,
            size: 0,
            key: k as u32,
        })
        .collect()
}

/// Sets each site row's full label: the full labels (`Description::site_full`: the
/// function's full name, the file as recorded) of the contexts in the row, `ctx_keys` giving
/// each item's context and row key. A row holds one call site's label, but names that differ
/// only in what the short label elides (two instances of a generic function at one line)
/// share a row: its full label lists each, sorted, joined by ` | `.
pub(crate) fn full_sites(
    rows: &mut [Row],
    ctx_keys: impl Iterator<Item = (u32, u32)>,
    meta: &Meta,
) {
    let mut seen = std::collections::HashSet::new();
    let mut fulls: std::collections::HashMap<u32, Vec<&str>> = std::collections::HashMap::new();
    for (ctx, key) in ctx_keys {
        if seen.insert(ctx) {
            let full = meta.site_full(ctx);
            let list = fulls.entry(key).or_default();
            if !list.contains(&full) {
                list.push(full);
            }
        }
    }
    for r in rows {
        if let Some(mut list) = fulls.remove(&r.key) {
            list.sort_unstable();
            let full = list.join(" | ");
            if full != r.label {
                r.full = Some(full);
            }
        }
    }
}

/// guppy's order: largest size first, then most objects, then by label.
fn sort_by_size(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then(b.count.cmp(&a.count))
            .then_with(|| a.label.cmp(&b.label))
    });
}
