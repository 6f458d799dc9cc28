//! Line-by-line profiling (`#[heapy::profile]`) and timelines (`Recorder`, `HEAPY_MPROF`).

mod autostart;
mod line;
pub(crate) mod recorder;
mod report;
mod scope;

pub use line::{FnInfo, Profiler, Stream};
pub use recorder::Recorder;
pub use report::{LineProfile, LineRow};
