//! The census: the global allocator, its per-thread state and reentrancy guard, the
//! live-object registry, kinds by tag, and the counters.

mod alloc;
pub(crate) mod context;
pub(crate) mod guard;
pub(crate) mod history;
mod in_kind;
pub(crate) mod peak;
pub(crate) mod record;
pub(crate) mod registry;
#[cfg(feature = "tracing")]
mod span_kinds;
#[cfg(feature = "tracing")]
mod span_table;
mod stats;
mod tags;
pub(crate) mod threads;
mod trailer;

pub(crate) use alloc::leak_report_asked;
pub use alloc::Census;
pub use in_kind::{InKind, Kinded};
#[cfg(feature = "tracing")]
pub use span_kinds::KindLayer;
pub use stats::Stats;
pub(crate) use stats::{collect as collect_stats, reset_peak, take_window_peak};
pub use tags::{kind, with_kind, KindGuard};
pub(crate) use tags::{name as tag_name, TAG_LIMIT};

/// True once any allocation has gone through a [`Census`] (that is, when one is installed
/// as the global allocator).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let v = vec![1u8; 3];
/// assert!(heapy::is_installed());
/// # drop(v);
/// ```
pub fn is_installed() -> bool {
    record::any_allocation()
}
