//! Referents, referrers, and the views that classify objects by their referrers: byrcs
//! (guppy's "referrers by kind") and byvia (where the references sit).

use std::collections::HashMap;

use super::paths::RootNames;
use super::roots::Here;
use super::scan::Graph;
use super::{members, names_for, or_panic, process_graph};
use crate::census::guard;
use crate::heap::{Heap, Obj, Outside};
use crate::Result;

impl Heap {
    /// The live objects that objects of this set point to (guppy's `referents`), found by a
    /// conservative scan of the set's memory. Objects freed since the snapshot refer to
    /// nothing.
    ///
    /// # Panics
    ///
    /// When this process may not read its own memory (see
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable)); [`Heap::try_referents`]
    /// returns that error instead.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let inner = heapy::with_kind("Inner", || Box::new(5u64));
    /// let outer = heapy::with_kind("Outer", || Box::new(inner));
    /// let h = heapy::hpy().heap().filter(|o| o.kind() == "Outer");
    /// let r = h.referents();
    /// assert_eq!(r.count(), 1);
    /// assert_eq!(r.theone().unwrap().kind(), "Inner");
    /// # drop(outer);
    /// ```
    #[doc(alias("children", "outgoing"))]
    #[track_caller]
    pub fn referents(&self) -> Heap {
        let here = Here::capture();
        or_panic(referents(self, &here))
    }

    /// The live objects that objects of this set point to, as [`Heap::referents`]; or
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable) when this process may not
    /// read its own memory.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let inner = heapy::with_kind("Inner", || Box::new(5u64));
    /// let outer = heapy::with_kind("Outer", || Box::new(inner));
    /// let h = heapy::hpy().heap().filter(|o| o.kind() == "Outer");
    /// assert_eq!(h.try_referents().unwrap().theone().unwrap().kind(), "Inner");
    /// # drop(outer);
    /// ```
    pub fn try_referents(&self) -> Result<Heap> {
        let here = Here::capture();
        referents(self, &here)
    }

    /// The live objects that point into objects of this set (guppy's `referrers`). Roots
    /// (statics, stacks, thread-locals, registers) are not objects: see [`Heap::byrcs`] for
    /// whether a root refers to an object, and [`Heap::sp`] for which one.
    ///
    /// # Panics
    ///
    /// When this process may not read its own memory (see
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable)); [`Heap::try_referrers`]
    /// returns that error instead.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let inner = heapy::with_kind("Inner", || Box::new(5u64));
    /// let outer = heapy::with_kind("Outer", || Box::new(inner));
    /// let h = heapy::hpy().heap().filter(|o| o.kind() == "Inner");
    /// let r = h.referrers();
    /// assert_eq!(r.count(), 1);
    /// assert_eq!(r.theone().unwrap().kind(), "Outer");
    /// # drop(outer);
    /// ```
    #[doc(alias("parents", "incoming", "referred_by"))]
    #[track_caller]
    pub fn referrers(&self) -> Heap {
        let here = Here::capture();
        or_panic(referrers(self, &here))
    }

    /// The live objects that point into objects of this set, as [`Heap::referrers`]; or
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable) when this process may not
    /// read its own memory.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let inner = heapy::with_kind("Inner", || Box::new(5u64));
    /// let outer = heapy::with_kind("Outer", || Box::new(inner));
    /// let h = heapy::hpy().heap().filter(|o| o.kind() == "Inner");
    /// assert_eq!(h.try_referrers().unwrap().theone().unwrap().kind(), "Outer");
    /// # drop(outer);
    /// ```
    pub fn try_referrers(&self) -> Result<Heap> {
        let here = Here::capture();
        referrers(self, &here)
    }

    /// The same set, grouped by the kinds of the objects that refer to each object (guppy's
    /// `byrcs`): a row's label is the set of referrer kinds, `<root>` standing for a
    /// reference from a static, a stack, a thread-local or a register, and `<Nothing>` for
    /// objects nothing refers to (unreachable, or referred to from memory heapy does not
    /// scan). Objects freed since the snapshot are labelled `<freed>`.
    ///
    /// # Panics
    ///
    /// When this process may not read its own memory (see
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable)); [`Heap::try_byrcs`]
    /// returns that error instead.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let names: Vec<String> = heapy::with_kind("Names", || vec!["ada".into(), "bob".into()]);
    /// let h = heapy::hpy().heap().filter(|o| o.kind() == "Names").byrcs();
    /// let text = h.to_string();
    /// assert!(text.contains("Referrers by Kind (type / call site)"));
    /// assert!(text.contains(" Names\n")); // the two Strings, referred to by the Vec's buffer
    /// assert!(text.contains(" <root>\n")); // the buffer, referred to by `names` on the stack
    /// # drop(names);
    /// ```
    #[doc(alias("by_referrers", "referrers_by_kind", "group_by"))]
    #[track_caller]
    pub fn byrcs(&self) -> Heap {
        let here = Here::capture();
        or_panic(byrcs(self, &here))
    }

    /// The same set grouped by the kinds of its referrers, as [`Heap::byrcs`]; or
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable) when this process may not
    /// read its own memory.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let names: Vec<String> = heapy::with_kind("Names", || vec!["ada".into(), "bob".into()]);
    /// let h = heapy::hpy().heap().filter(|o| o.kind() == "Names");
    /// assert!(h.try_byrcs().unwrap().to_string().contains(" <root>\n"));
    /// # drop(names);
    /// ```
    pub fn try_byrcs(&self) -> Result<Heap> {
        let here = Here::capture();
        byrcs(self, &here)
    }

    /// The same set, grouped by where the references to each object sit (guppy's `byvia`):
    /// the byte offset inside the referring object, such as `+0x10`, or the root's name
    /// (`static demo::CACHE`, `stack of thread main`).
    ///
    /// # Panics
    ///
    /// When this process may not read its own memory (see
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable)); [`Heap::try_byvia`]
    /// returns that error instead.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let pair = heapy::with_kind("Pair", || Box::new((Box::new(1u64), Box::new(2u64))));
    /// let inner = heapy::hpy().heap().filter(|o| o.kind() == "Pair" && o.size() == 8);
    /// let text = inner.byvia().to_string();
    /// assert!(text.contains("Referred Via:"));
    /// assert!(text.contains(" +0x0\n") && text.contains(" +0x8\n"));
    /// # drop(pair);
    /// ```
    #[doc(alias("by_via", "referred_via", "by_field"))]
    #[track_caller]
    pub fn byvia(&self) -> Heap {
        let here = Here::capture();
        or_panic(byvia(self, &here))
    }

    /// The same set grouped by where its references sit, as [`Heap::byvia`]; or
    /// [`Error::MemoryUnreadable`](crate::Error::MemoryUnreadable) when this process may not
    /// read its own memory.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let pair = heapy::with_kind("Pair", || Box::new((Box::new(1u64), Box::new(2u64))));
    /// let inner = heapy::hpy().heap().filter(|o| o.kind() == "Pair" && o.size() == 8);
    /// assert!(inner.try_byvia().unwrap().to_string().contains(" +0x8\n"));
    /// # drop(pair);
    /// ```
    pub fn try_byvia(&self) -> Result<Heap> {
        let here = Here::capture();
        byvia(self, &here)
    }
}

#[inline(never)]
fn referents(h: &Heap, here: &Here) -> Result<Heap> {
    guard::internal(|| {
        let mine: Vec<Obj> = h.objs().to_vec();
        let keys: std::collections::HashSet<(usize, u64)> =
            mine.iter().map(|o| (o.addr, o.serial)).collect();
        let g = process_graph(here, |o| keys.contains(&(o.addr, o.serial)))?;
        let m = members(&g, h);
        let mut out = vec![false; g.len()];
        for (i, &is) in m.iter().enumerate() {
            if is {
                for (t, _) in g.edges(i) {
                    out[t as usize] = true;
                }
            }
        }
        Ok(pick(&g, &out))
    })
}

#[inline(never)]
fn referrers(h: &Heap, here: &Here) -> Result<Heap> {
    guard::internal(|| {
        let g = process_graph(here, |_| true)?;
        let m = members(&g, h);
        let out: Vec<bool> = (0..g.len())
            .map(|i| g.edges(i).any(|(t, _)| m[t as usize]))
            .collect();
        Ok(pick(&g, &out))
    })
}

/// The nodes marked in `mask`, as a heap with names.
pub(crate) fn pick(g: &Graph, mask: &[bool]) -> Heap {
    let objs: Vec<Obj> = g
        .nodes
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .map(|(o, _)| *o)
        .collect();
    Heap::resolve(objs)
}

/// guppy's byrcs: rows by the kinds of each object's referrers. Heaps under it take their
/// partition from `by_references`; `diff` applies it to its other side.
static RCS: Outside = Outside {
    name: "rcs",
    header: "Referrers by Kind (type / call site)",
    apply: Heap::byrcs,
};

/// guppy's byvia: rows by where each object's references sit.
static VIA: Outside = Outside {
    name: "via",
    header: "Referred Via:",
    apply: Heap::byvia,
};

/// A reference to an object, as the views name it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Ref {
    /// From node `.0` at byte offset `.1`.
    Heap(u32, usize),
    /// From root hit `.0`.
    Root(usize),
}

/// Classifies each object of `h` by the set of names of the references to it, then hands
/// `h` the partition. `key(r)` says which references share a name, `name(r)` gives it.
fn by_references<K: std::hash::Hash + Eq>(
    h: &Heap,
    view: &'static Outside,
    g: &Graph,
    mut key: impl FnMut(Ref) -> K,
    mut name: impl FnMut(Ref) -> String,
) -> Heap {
    let pos: Vec<Option<u32>> = h.objs().iter().map(|o| g.node_of(o)).collect();
    let mut at_pos = vec![u32::MAX; g.len()];
    for (p, n) in pos.iter().enumerate() {
        if let Some(n) = n {
            at_pos[*n as usize] = p as u32;
        }
    }
    // Names are interned twice over: by key (cheap, per reference) and by text (so that two
    // keys with one name make one label).
    let mut by_key: HashMap<K, u32> = HashMap::new();
    let mut by_text: HashMap<String, u32> = HashMap::new();
    let mut texts: Vec<String> = Vec::new();
    let mut label = |r: Ref| -> u32 {
        *by_key.entry(key(r)).or_insert_with(|| {
            let t = name(r);
            *by_text.entry(t).or_insert_with_key(|t| {
                texts.push(t.clone());
                (texts.len() - 1) as u32
            })
        })
    };
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for i in 0..g.len() {
        for (t, off) in g.edges(i) {
            let p = at_pos[t as usize];
            if p != u32::MAX {
                pairs.push((p, label(Ref::Heap(i as u32, off))));
            }
        }
    }
    for (k, hit) in g.roots.iter().enumerate() {
        let p = at_pos[hit.target as usize];
        if p != u32::MAX {
            pairs.push((p, label(Ref::Root(k))));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    // Each object's set of names (sorted by text), joined, is its class.
    let mut class_by_ids: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut labels: Vec<String> = Vec::new();
    let mut keys = vec![u32::MAX; pos.len()];
    let mut ids: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let p = pairs[i].0;
        ids.clear();
        while i < pairs.len() && pairs[i].0 == p {
            ids.push(pairs[i].1);
            i += 1;
        }
        ids.sort_unstable_by(|a, b| texts[*a as usize].cmp(&texts[*b as usize]));
        keys[p as usize] = match class_by_ids.get(ids.as_slice()) {
            Some(&c) => c,
            None => {
                let text: Vec<&str> = ids.iter().map(|&x| texts[x as usize].as_str()).collect();
                labels.push(text.join(", "));
                let c = (labels.len() - 1) as u32;
                class_by_ids.insert(ids.clone(), c);
                c
            }
        };
    }
    let mut special: HashMap<&str, u32> = HashMap::new();
    for (p, k) in keys.iter_mut().enumerate() {
        if *k == u32::MAX {
            let text = if pos[p].is_some() {
                "<Nothing>"
            } else {
                "<freed>"
            };
            *k = *special.entry(text).or_insert_with(|| {
                labels.push(text.to_string());
                (labels.len() - 1) as u32
            });
        }
    }
    h.classified(view, keys, labels)
}

#[inline(never)]
fn byrcs(h: &Heap, here: &Here) -> Result<Heap> {
    guard::internal(|| {
        let g = process_graph(here, |_| true)?;
        let meta = names_for(&g.nodes);
        let key = |r: Ref| match r {
            Ref::Heap(i, _) => Some(g.nodes[i as usize].ctx),
            Ref::Root(_) => None,
        };
        let name = |r: Ref| match r {
            Ref::Heap(i, _) => meta.kind(g.nodes[i as usize].ctx).to_string(),
            Ref::Root(_) => "<root>".to_string(),
        };
        Ok(by_references(h, &RCS, &g, key, name))
    })
}

#[inline(never)]
fn byvia(h: &Heap, here: &Here) -> Result<Heap> {
    guard::internal(|| {
        let g = process_graph(here, |_| true)?;
        let mut names = RootNames::new(&g, here);
        let key = |r: Ref| match r {
            Ref::Heap(_, off) => (false, off),
            Ref::Root(k) => (true, k),
        };
        let name = |r: Ref| match r {
            Ref::Heap(_, off) => format!("+{off:#x}"),
            Ref::Root(k) => names.root(&g, k),
        };
        Ok(by_references(h, &VIA, &g, key, name))
    })
}
