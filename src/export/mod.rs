//! Files for other tools: mprof `.dat` timelines and their plots, folded stacks and flame
//! graphs, DHAT's JSON.

mod dhat;
mod folded;
#[cfg(feature = "flame")]
mod flame;
pub(crate) mod mprof;
#[cfg(feature = "plot")]
mod plot;

pub use mprof::{Func, Sample, Timeline};
