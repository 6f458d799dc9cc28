//! Files for other tools: mprof `.dat` timelines and their plots, folded stacks and flame
//! graphs, DHAT's JSON, pprof profiles.

pub(crate) mod atomic;
mod dhat;
#[cfg(feature = "flame")]
mod flame;
mod folded;
pub(crate) mod mprof;
#[cfg(feature = "plot")]
mod plot;
#[cfg(feature = "pprof")]
mod pprof;

#[cfg(feature = "flame")]
pub use flame::flamegraph;
pub use mprof::{Func, Sample, Timeline};

#[cfg(test)]
pub(crate) use folded::tests as folded_tests;
