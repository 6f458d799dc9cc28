//! Set algebra on heaps by object identity (address and allocation serial): `&a - &b`,
//! `&a & &b`, `&a | &b`, `&a ^ &b`.
//!
//! A heap keeps its objects sorted by (serial, address), so each operation is one merge pass.
//! The result carries the names of both operands (`Meta::merged`): ids from one process mean
//! the same thing in both; for snapshots from different processes, an id that `b` uses for
//! another kind or thread is renumbered in the result, so every object keeps its own names.
//! It prints by `a`'s view.

use std::cmp::Ordering;
use std::ops::{BitAnd, BitOr, BitXor, Sub};
use std::sync::{Arc, OnceLock};

use super::view::View;
use super::Obj;
use super::{By, Heap};
use crate::census::guard;

fn key(o: &Obj) -> (u64, usize) {
    (o.serial, o.addr)
}

/// Merges two sorted identity sets, keeping objects only in `a` (`left`), in both (`both`,
/// taken from `a`) and only in `b` (`right`, passed through `fix`).
fn merge(
    a: &[Obj],
    b: &[Obj],
    (left, both, right): (bool, bool, bool),
    fix: impl Fn(Obj) -> Obj,
) -> Vec<Obj> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match key(&a[i]).cmp(&key(&b[j])) {
            Ordering::Less => {
                if left {
                    out.push(a[i]);
                }
                i += 1;
            }
            Ordering::Greater => {
                if right {
                    out.push(fix(b[j]));
                }
                j += 1;
            }
            Ordering::Equal => {
                if both {
                    out.push(a[i]);
                }
                i += 1;
                j += 1;
            }
        }
    }
    if left {
        out.extend_from_slice(&a[i..]);
    }
    if right {
        out.extend(b[j..].iter().map(|&o| fix(o)));
    }
    out
}

impl Heap {
    fn combine(&self, other: &Heap, left: bool, both: bool, right: bool) -> Heap {
        guard::internal(|| {
            let ops = (left, both, right);
            let (objs, meta) = if Arc::ptr_eq(&self.meta, &other.meta) || !right {
                // Every object comes from `self` (or both share one table).
                let objs = merge(&self.objs, &other.objs, ops, |o| o);
                (objs, self.meta.clone())
            } else {
                let (meta, remap) = self.meta.merged(&other.meta);
                let objs = merge(&self.objs, &other.objs, ops, |o| remap.apply(o));
                (objs, Arc::new(meta))
            };
            let by = match self.by {
                // A view from above the heap layer (the graph's) came with `self`'s
                // partition; a new set starts by kind.
                View::Outside(_) => View::By(By::Kind),
                by => by,
            };
            Heap {
                objs: Arc::new(objs),
                meta,
                by,
                start: 0,
                all: false,
                part: Arc::new(OnceLock::new()),
                history: None,
            }
        })
    }
}

/// The objects of `a` that are not in `b` (guppy's `a - b`).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let x = vec![0u8; 10];
/// let before = mark.heap();
/// let y = vec![0u8; 20];
/// let new = &mark.heap() - &before;
/// assert_eq!((new.count(), new.size()), (1, 20));
/// # drop((x, y));
/// ```
impl Sub for &Heap {
    type Output = Heap;
    fn sub(self, b: &Heap) -> Heap {
        self.combine(b, true, false, false)
    }
}

/// The objects in both `a` and `b`.
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let mark = heapy::hpy().mark();
/// let x = vec![0u8; 10];
/// let a = mark.heap();
/// let y = vec![0u8; 20];
/// let b = mark.heap();
/// assert_eq!((&a & &b).size(), 10);
/// # drop((x, y));
/// ```
impl BitAnd for &Heap {
    type Output = Heap;
    fn bitand(self, b: &Heap) -> Heap {
        self.combine(b, false, true, false)
    }
}

/// The objects in `a` or `b` (or both).
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let mark = heapy::hpy().mark();
/// let x = vec![0u8; 10];
/// let a = mark.heap();
/// let y = vec![0u8; 20];
/// let b = &mark.heap() - &a;
/// assert_eq!((&a | &b).size(), 30);
/// # drop((x, y));
/// ```
impl BitOr for &Heap {
    type Output = Heap;
    fn bitor(self, b: &Heap) -> Heap {
        self.combine(b, true, true, true)
    }
}

/// The objects in exactly one of `a` and `b`.
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let mark = heapy::hpy().mark();
/// let x = vec![0u8; 10];
/// let a = mark.heap();
/// let y = vec![0u8; 20];
/// drop(x);
/// let b = mark.heap();
/// let changed = &a ^ &b; // x went away, y came
/// assert_eq!((changed.count(), changed.size()), (2, 30));
/// # drop(y);
/// ```
impl BitXor for &Heap {
    type Output = Heap;
    fn bitxor(self, b: &Heap) -> Heap {
        self.combine(b, true, false, true)
    }
}
