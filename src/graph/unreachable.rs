//! Unreachable objects: live objects that no root reaches. In Rust these are leaks: a
//! `mem::forget`, a pointer from `Box::into_raw` thrown away, and above all Rc/Arc cycles.

use std::collections::HashSet;

use super::roots::Here;
use super::{or_panic, process_graph};
use crate::census::guard;
use crate::heap::{Heap, Hpy, Obj};
use crate::Result;

impl Hpy {
    /// The live objects that no root reaches (guppy's `heapu`, "unreachable"): leaked
    /// boxes, forgotten values, Rc/Arc cycles the program dropped. See
    /// [`Heap::cycles`] to group them into cycles.
    ///
    /// The scan is conservative, so an object is never reported while anything the scan
    /// sees could still reach it: a static, a thread-local, a registered thread's stack,
    /// any thread's registers, or another object that is reachable. The scan reads a
    /// frozen copy of the process taken while every other thread was stopped for an instant
    /// (see "Finding leaks" in the README for what that costs), so no pointer moves while it
    /// reads. When the threads cannot be stopped (`HEAPY_STOP_SIGNAL=off`, a thread that
    /// blocks the signal), it reads the running process, and an object that looks
    /// unreachable is reported only if a second, fresh scan agrees.
    ///
    /// # Panics
    ///
    /// When this process may not read its own memory (a seccomp filter denies it: see
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable)); [`Hpy::try_heapu`]
    /// returns that error instead.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// // Leaked on a thread that then exits, which forgets the address: no stale copy of it
    /// // stays in this thread's frames, where a conservative scan would still find it.
    /// let tag = std::thread::spawn(|| {
    ///     let leaked = heapy::with_kind("Leaked", || Box::into_raw(Box::new([7u8; 40])));
    ///     leaked as usize ^ 0x5555
    /// })
    /// .join()
    /// .unwrap();
    /// let u = heapy::hpy().heapu().filter(|o| o.kind() == "Leaked");
    /// assert_eq!((u.count(), u.size()), (1, 40));
    /// # // SAFETY: the address is the box leaked above, restored from `tag`; freed once.
    /// # drop(unsafe { Box::from_raw((tag ^ 0x5555) as *mut [u8; 40]) });
    /// ```
    #[doc(alias("unreachable", "leaks", "leaked"))]
    #[track_caller]
    pub fn heapu(&self) -> Heap {
        let here = Here::capture();
        or_panic(heapu(&here))
    }

    /// The unreachable objects, as [`Hpy::heapu`]; or
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable) when this process may not
    /// read its own memory, so that no reachable object is ever reported as a leak.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let tag = std::thread::spawn(|| {
    ///     let leaked = heapy::with_kind("Leaked", || Box::into_raw(Box::new([7u8; 40])));
    ///     leaked as usize ^ 0x5555
    /// })
    /// .join()
    /// .unwrap();
    /// let u = heapy::hpy().try_heapu().expect("memory is readable here");
    /// assert_eq!(u.filter(|o| o.kind() == "Leaked").size(), 40);
    /// # // SAFETY: the address is the box leaked above, restored from `tag`; freed once.
    /// # drop(unsafe { Box::from_raw((tag ^ 0x5555) as *mut [u8; 40]) });
    /// ```
    pub fn try_heapu(&self) -> Result<Heap> {
        let here = Here::capture();
        heapu(&here)
    }
}

/// The unreachable objects now, by address, and whether the scan was of one instant.
fn unreachable_now(here: &Here) -> Result<(Vec<Obj>, bool)> {
    let g = process_graph(here, |_| true)?;
    let reached = g.reached();
    let u = g
        .nodes
        .iter()
        .zip(&reached)
        .filter(|(_, &r)| !r)
        .map(|(o, _)| *o)
        .collect();
    Ok((u, g.consistent))
}

#[inline(never)]
pub(crate) fn heapu(here: &Here) -> Result<Heap> {
    guard::internal(|| {
        let (first, consistent) = unreachable_now(here)?;
        if first.is_empty() || consistent {
            // A scan of one instant needs no second opinion: no pointer moved while it read.
            return Ok(Heap::resolve(first));
        }
        let seen: HashSet<(usize, u64)> = first.iter().map(|o| (o.addr, o.serial)).collect();
        let both: Vec<Obj> = unreachable_now(here)?
            .0
            .into_iter()
            .filter(|o| seen.contains(&(o.addr, o.serial)))
            .collect();
        Ok(Heap::resolve(both))
    })
}
