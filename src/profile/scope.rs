//! What "memory" means for a profiled function: the process's live heap, or the calling
//! thread's allocations minus its frees since the function was entered.

use core::sync::atomic::Ordering;

use crate::census::{self, record, threads};

/// The heap figure a line profile reads after each statement.
pub(crate) enum Scope {
    /// Live heap bytes of the whole process (`hpy().stats().live_bytes`).
    Process,
    /// Bytes the calling thread allocated minus bytes it freed, counted from `base`.
    Thread { index: u16, base: u64 },
}

impl Scope {
    pub(crate) fn new(thread_only: bool) -> Scope {
        if !thread_only {
            return Scope::Process;
        }
        let index = record::current_thread();
        let base = net(index);
        Scope::Thread { index, base }
    }

    /// The figure now, in bytes.
    #[inline]
    pub(crate) fn now(&self) -> i64 {
        match *self {
            Scope::Process => census::collect_stats().live_bytes as i64,
            Scope::Thread { index, base } => net(index).wrapping_sub(base) as i64,
        }
    }
}

/// The thread's running allocated-minus-freed bytes (wrapping; differences are exact).
fn net(index: u16) -> u64 {
    if threads::shared(index) {
        // Shared indices (teardown, past 65534 threads) have no per-thread net figure.
        return 0;
    }
    // Relaxed: the counter is written by this very thread only, so it reads its own writes.
    threads::slot(index).net_bytes.load(Ordering::Relaxed)
}
