//! Views: the equivalence relations a heap can be partitioned by.

use std::collections::HashMap;

use super::intmap::IntMap;
use std::str::FromStr;

use super::classes::Outside;
use super::meta::Meta;
use super::Obj;
use crate::ParseByError;

/// How a [`Heap`](crate::Heap) is grouped when printed (guppy's "equivalence relations"):
/// the views a heap computes from its own objects and names, so that a snapshot loaded
/// from a file has every one of them.
///
/// The object graph's views, [`Heap::byrcs`](crate::Heap::byrcs) and
/// [`Heap::byvia`](crate::Heap::byvia), are not among them: they need a pointer scan of the
/// live process, and are methods of their own.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let by: heapy::By = "size".parse().unwrap();
/// assert_eq!(by, heapy::By::Size);
/// let h = heapy::hpy().mark().heap().by(by);
/// assert!(h.to_string().contains("Individual Size"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[doc(alias("view", "group_by", "classifier", "equivalence_relation"))]
pub enum By {
    /// By kind: the tag, else the type or call site (the default).
    #[default]
    Kind,
    /// One row per object.
    Id,
    /// By the size of each object.
    Size,
    /// By allocating thread.
    Thread,
    /// By line of allocation (guppy's `byprod`): the first frame of the program's own code
    /// on the allocation stack, as `src/main.rs:29 demo::work`. See
    /// [`Heap::bysite`](crate::Heap::bysite).
    Site,
}

impl By {
    /// Every view, in the order `heapy view --by` lists them.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// for by in heapy::By::ALL {
    ///     assert_eq!(by.name().parse::<heapy::By>().unwrap(), *by);
    /// }
    /// ```
    pub const ALL: &'static [By] = &[By::Kind, By::Id, By::Size, By::Thread, By::Site];

    /// The name used on the command line and by `FromStr`.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// assert_eq!(heapy::By::Thread.name(), "thread");
    /// assert!("colour".parse::<heapy::By>().unwrap_err().to_string().contains("unknown view 'colour'"));
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            By::Kind => "kind",
            By::Id => "id",
            By::Size => "size",
            By::Thread => "thread",
            By::Site => "site",
        }
    }

    /// The names of [`By::ALL`], comma-separated (for messages).
    pub(crate) fn names() -> String {
        let names: Vec<&str> = By::ALL.iter().map(|b| b.name()).collect();
        names.join(", ")
    }

    /// The header of the label column.
    pub(crate) fn header(self) -> &'static str {
        match self {
            By::Kind | By::Id => "Kind (type / call site)",
            By::Size => "Individual Size",
            By::Thread => "Thread",
            By::Site => "Site (file:line function)",
        }
    }
}

impl FromStr for By {
    type Err = ParseByError;

    fn from_str(s: &str) -> Result<By, ParseByError> {
        By::ALL
            .iter()
            .copied()
            .find(|b| b.name() == s)
            .ok_or_else(|| ParseByError::new(s))
    }
}

impl std::fmt::Display for By {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The view a heap prints by: one of its own ([`By`]), or one computed above the heap
/// layer ([`Outside`]), whose partition comes with the heap.
#[derive(Clone, Copy, Debug)]
pub(crate) enum View {
    By(By),
    Outside(&'static Outside),
}

impl View {
    /// The view's name (`kind`, `size`, ...).
    pub(crate) fn name(self) -> &'static str {
        match self {
            View::By(by) => by.name(),
            View::Outside(o) => o.name,
        }
    }

    /// The header of the label column.
    pub(crate) fn header(self) -> &'static str {
        match self {
            View::By(by) => by.header(),
            View::Outside(o) => o.header,
        }
    }

    /// The heap's own view, if this is one.
    pub(crate) fn by(self) -> Option<By> {
        match self {
            View::By(by) => Some(by),
            View::Outside(_) => None,
        }
    }
}

impl From<By> for View {
    fn from(by: By) -> View {
        View::By(by)
    }
}

/// Views outside the heap layer are told apart by name.
impl PartialEq for View {
    fn eq(&self, other: &View) -> bool {
        match (self, other) {
            (View::By(a), View::By(b)) => a == b,
            (View::Outside(a), View::Outside(b)) => a.name == b.name,
            _ => false,
        }
    }
}

impl Eq for View {}

impl PartialEq<By> for View {
    fn eq(&self, other: &By) -> bool {
        *self == View::By(*other)
    }
}

/// Each object's class under `by` (a small integer) and each class's label.
pub(crate) fn classify(objs: &[Obj], meta: &Meta, by: By) -> (Vec<u32>, Vec<String>) {
    let mut labels: Vec<String> = Vec::new();
    let mut by_label: HashMap<String, u32> = HashMap::new();
    let mut intern = |label: String| -> u32 {
        *by_label.entry(label).or_insert_with_key(|l| {
            labels.push(l.clone());
            (labels.len() - 1) as u32
        })
    };
    let keys = match by {
        By::Kind => {
            let mut per_ctx: IntMap<u32, u32> = IntMap::default();
            objs.iter()
                .map(|o| {
                    *per_ctx
                        .entry(o.ctx)
                        .or_insert_with(|| intern(meta.kind(o.ctx).to_string()))
                })
                .collect()
        }
        By::Site => {
            let mut per_ctx: IntMap<u32, u32> = IntMap::default();
            objs.iter()
                .map(|o| {
                    *per_ctx
                        .entry(o.ctx)
                        .or_insert_with(|| intern(meta.site(o.ctx).to_string()))
                })
                .collect()
        }
        By::Thread => {
            let mut per: IntMap<u16, u32> = IntMap::default();
            objs.iter()
                .map(|o| {
                    *per.entry(o.thread)
                        .or_insert_with(|| intern(meta.thread(o.thread).to_string()))
                })
                .collect()
        }
        By::Size => {
            let mut per: IntMap<usize, u32> = IntMap::default();
            objs.iter()
                .map(|o| {
                    *per.entry(o.size)
                        .or_insert_with(|| intern(o.size.to_string()))
                })
                .collect()
        }
        By::Id => {
            // One class per object, even for equal addresses (a union of two snapshots can
            // hold a reused address twice).
            labels = objs.iter().map(|o| format!("{:#x}", o.addr)).collect();
            (0..objs.len() as u32).collect()
        }
    };
    (keys, labels)
}
