//! Taking snapshots: `hpy()`, `Hpy` and thread-scoped marks.

use super::{Heap, Obj};
use crate::census::{self, guard, record, registry, Stats};

/// The entry point, as in guppy's `from guppy import hpy; h = hpy()`.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let h = heapy::hpy().heap();
/// println!("{h}");
/// ```
pub fn hpy() -> Hpy {
    // Where no load-time hook exists, `HEAPY_MPROF` is read here (see profile::autostart).
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    crate::profile::autostart::from_env();
    Hpy { _private: () }
}

/// A handle to the census: snapshots, marks and counters.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let hp = heapy::hpy();
/// let s = hp.stats();
/// assert!(s.live_bytes <= s.peak_live_bytes);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Hpy {
    _private: (),
}

/// Copies the live records that pass `keep` out of the registry.
pub(crate) fn take(mut keep: impl FnMut(&Obj) -> bool) -> Heap {
    let objs = guard::internal(|| {
        let mut objs = Vec::new();
        registry::for_each_live(|r| {
            let o = Obj {
                addr: r.addr,
                size: r.size,
                serial: r.serial,
                thread: r.thread,
                ctx: r.ctx,
            };
            if keep(&o) {
                objs.push(o);
            }
        });
        objs
    });
    Heap::resolve(objs)
}

impl Hpy {
    /// Every live object in the process (heapy's own bookkeeping excluded).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let v = vec![7u8; 100];
    /// let h = heapy::hpy().heap();
    /// assert!(h.objects().any(|o| o.address() == v.as_ptr() as usize && o.size() == 100));
    /// ```
    pub fn heap(&self) -> Heap {
        take(|_| true)
    }

    /// A reference point on the calling thread: [`Mark::heap`] is what this thread
    /// allocates after it and keeps alive, whatever other threads do.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let s = String::from("hello");
    /// assert_eq!(mark.heap().size(), 5);
    /// # drop(s);
    /// ```
    pub fn mark(&self) -> Mark {
        Mark {
            thread: record::current_thread(),
            serial: record::thread_watermark(),
        }
    }

    /// The census counters now.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let s = heapy::hpy().stats();
    /// assert!(s.allocations >= s.frees);
    /// ```
    pub fn stats(&self) -> Stats {
        census::collect_stats()
    }

    /// Starts a new peak: `stats().peak_live_bytes` becomes the live bytes now.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let hp = heapy::hpy();
    /// drop(vec![0u8; 1 << 20]);
    /// hp.reset_peak();
    /// let s = hp.stats();
    /// assert!(s.peak_live_bytes < s.live_bytes + (1 << 20));
    /// ```
    pub fn reset_peak(&self) {
        census::reset_peak();
    }
}

/// A thread-scoped reference point, from [`Hpy::mark`].
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let kept = vec![1u64; 4];
/// drop(vec![0u8; 64]); // freed again: not in the heap
/// let h = mark.heap();
/// assert_eq!((h.count(), h.size()), (1, 32));
/// # drop(kept);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    thread: u16,
    serial: u64,
}

impl Mark {
    /// The live objects the marking thread allocated since the mark.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let other = std::thread::spawn(|| vec![0u8; 10]).join().unwrap();
    /// assert!(mark.heap().is_empty()); // another thread allocated it
    /// # drop(other);
    /// ```
    pub fn heap(&self) -> Heap {
        let (t, s) = (self.thread, self.serial);
        take(|o| o.thread == t && o.serial >= s)
    }
}
