//! Files for other tools: mprof `.dat` timelines and their plots, folded stacks and flame
//! graphs, DHAT's JSON, pprof profiles, the interactive HTML report.

mod dhat;
#[cfg(feature = "flame")]
mod flame;
mod folded;
pub(crate) mod mprof;
#[cfg(feature = "plot")]
mod plot;
#[cfg(feature = "pprof")]
mod pprof;
#[cfg(feature = "report")]
mod report;

#[cfg(feature = "flame")]
pub use flame::flamegraph;
pub use mprof::{Func, Sample, Timeline};
#[cfg(feature = "report")]
pub use report::Report;

/// Objects and bytes of a set per context (allocation stack or tag), rounded. A byte-sampled
/// heap stands for more than it holds: each object counts its inverse sampling probability
/// (see `Heap::estimated_size`), so the figures of a sampled set are estimates.
pub(crate) fn per_context(h: &crate::Heap) -> std::collections::BTreeMap<u32, (u64, u64)> {
    let rate = h.meta().sample_rate;
    let mut weighed: std::collections::BTreeMap<u32, (f64, f64)> = Default::default();
    for o in h.objs() {
        let w = rate.map_or(1.0, |r| crate::stack::sample_weight(o.size, r));
        let e = weighed.entry(o.ctx).or_default();
        e.0 += w;
        e.1 += w * o.size as f64;
    }
    weighed
        .into_iter()
        .map(|(c, (n, b))| (c, (n.round() as u64, b.round() as u64)))
        .collect()
}
