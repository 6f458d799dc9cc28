//! What a context says: its kind, call site and frames; for a stack context, resolved from
//! its stack (symbols, kind inference).

use core::hash::{BuildHasherDefault, Hasher};
use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::HashMap;
use std::sync::Arc;

use super::cache::caches;
use super::infer;
use super::intern;
use super::Frame;

/// What a context id names: the one description of a context in the crate. The stack layer
/// makes it for a stack context (and caches it), the census for a tag, a snapshot keeps one
/// per context it holds (shared, not copied), and snapshot files store its fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Description {
    /// The label `bykind()` shows: a tag, else what the stack says (`Vec<demo::Person>`,
    /// else the call site's function). Shared: stacks with the same innermost frames share
    /// one.
    pub kind: Arc<str>,
    /// The label `bysite()` shows (`src/main.rs:29 demo::work`: the first frame of the
    /// program's own crates, else the first frame outside Rust's library), if a stack was
    /// captured; the site frame's own label, shared by every stack with that frame.
    pub site: Option<Arc<str>>,
    /// The site's full label (`{:#}` of a table, `heapy view --full`): the site frame as
    /// `{:#}` prints it (full function name, file as recorded). Not in snapshot files: a
    /// loaded file finds it again from `frames` (see `Description::loaded`).
    pub site_full: Option<Arc<str>>,
    /// The user frames (the program's and its dependencies'), most recent call first (empty
    /// without a stack); shared, so that a tagged stack's description reuses its stack's
    /// frames, and each frame shared by every stack it appears in.
    pub frames: Arc<[Frame]>,
    /// True when the kind is a function because the optimiser merged the allocation call
    /// from several inlined paths: its debug info then gives the call line 0 and no inlined
    /// frames, so no std frame says what was allocated (LLVM's
    /// `-pick-merged-source-locations` keeps one location instead: README, "Release
    /// builds"). Not in snapshot files (a loaded description says false).
    pub merged_call: bool,
}

impl Description {
    /// A context known by its kind alone (a tag, or no stack).
    pub(crate) fn named(kind: impl Into<Arc<str>>) -> Description {
        Description {
            kind: kind.into(),
            ..Description::default()
        }
    }

    /// A description as a snapshot file stores it (kind, short site label, frames): the full
    /// site label is that of the frame whose label the site is (the site frame, found as
    /// `resolve` picked it, else by its label), else the stored label itself (a file written
    /// under other labelling rules).
    pub(crate) fn loaded(
        kind: impl Into<Arc<str>>,
        site: Option<String>,
        frames: Arc<[Frame]>,
    ) -> Description {
        let site: Option<Arc<str>> = site.map(Arc::from);
        let site_full = site.as_ref().map(|label| {
            site_frame(&frames)
                .into_iter()
                .chain(frames.iter())
                .find(|f| f.label() == *label)
                .map_or_else(|| Arc::clone(label), Frame::full_label)
        });
        Description {
            kind: kind.into(),
            site,
            site_full,
            frames,
            merged_call: false,
        }
    }
}

/// The tag that was current when the allocations of stack context `ctx` were made (0:
/// none).
pub(crate) fn tag(ctx: u32) -> u32 {
    ctx.checked_sub(super::BASE)
        .map_or(0, |n| intern::TREE.tag(n))
}

/// Resolves stack context `ctx` as its stack says (its tag, see [`tag`], is the caller's
/// to apply), once: a stack context never changes, so its description is cached and shared.
/// Call with the reentrancy flag held: it allocates.
///
/// It runs as a fork-safe section (`sys::fork`): the caches' shard locks and the
/// `backtrace` crate's lock are never held across a `fork()`.
pub(crate) fn describe(ctx: u32) -> Arc<Description> {
    describe_in(ctx, &mut Memo::default())
}

/// [`describe`], with the frames of the addresses already looked up kept in `memo`.
fn describe_in(ctx: u32, memo: &mut Memo) -> Arc<Description> {
    crate::sys::fork::section(|| {
        let descriptions = &caches().descriptions;
        if let Some(d) = descriptions.get(&ctx).map(|d| Arc::clone(&d)) {
            return d;
        }
        let d = resolve(ctx, memo);
        Arc::clone(&descriptions.entry(ctx).or_insert(d))
    })
}

/// The frames of the return addresses one thread has looked up while describing a batch of
/// stacks: a plain map of its own (no lock, no shared counter), so that the addresses every
/// stack repeats (its outer frames, `main`'s) cost one lookup per thread, not one in the
/// process's sharded cache per stack.
#[derive(Default)]
struct Memo(HashMap<usize, Arc<[Frame]>, BuildHasherDefault<AddrHasher>>);

impl Memo {
    /// Makes sure the frames of every address of `addrs` are at hand.
    fn fill(&mut self, addrs: &[usize]) {
        for &a in addrs {
            self.0
                .entry(a)
                .or_insert_with(|| super::symbolize::frames(a));
        }
    }

    /// The frames of `addr`, looked up by [`Memo::fill`] (none otherwise).
    fn get(&self, addr: usize) -> &[Frame] {
        self.0.get(&addr).map_or(&[], |f| f)
    }
}

/// Hashes a return address by one multiply (a table of this thread's own addresses needs
/// no defence against chosen keys).
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 ^= self.0 >> 29;
    }
}

/// Undescribed stack contexts from which describing them on helper threads pays (each takes
/// tens of microseconds; starting a thread about as much as one).
const PARALLEL_MIN: usize = 64;
/// Contexts a run takes at a time.
const CHUNK: usize = 8;
/// Helper threads at most, besides the calling thread.
const MAX_EXTRA: usize = 3;

/// Describes (and caches) the stack contexts of `ctxs` not described yet, on several threads
/// when there are many, so that a snapshot's own lookups then find them. `parallel(extra, f)`
/// must run `f` on the calling thread and at once on up to `extra` more (the census runs
/// them as heapy's own work); each run takes contexts until none is left, keeping the
/// frames of the addresses it has looked up (a stack's outer addresses are every stack's).
/// Symbol lookups are serialized by the `backtrace` crate's global lock; demangling, kind
/// inference and labels overlap.
pub(crate) fn describe_all(ctxs: &[u32], parallel: impl FnOnce(usize, &(dyn Fn() + Sync))) {
    // A fork-safe section for the lookups only: the helpers below open their own (a
    // section never waits for threads that would wait to open one).
    let todo: Vec<u32> = crate::sys::fork::section(|| {
        let cached = &caches().descriptions;
        ctxs.iter()
            .copied()
            .filter(|&c| c > super::BASE && !cached.contains_key(&c))
            .collect()
    });
    if todo.is_empty() {
        return;
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut memo = Memo::default();
        loop {
            // Relaxed: it only hands out distinct chunks; the results go through the cache.
            let i = next.fetch_add(CHUNK, Ordering::Relaxed);
            match todo.get(i..todo.len().min(i + CHUNK)) {
                Some(chunk) if !chunk.is_empty() => {
                    chunk.iter().for_each(|&c| drop(describe_in(c, &mut memo)))
                }
                _ => break,
            }
        }
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let extra = (cpus - 1).min(MAX_EXTRA).min(todo.len() / PARALLEL_MIN);
    if extra == 0 {
        work();
    } else {
        parallel(extra, &work);
    }
}

fn resolve(ctx: u32, memo: &mut Memo) -> Arc<Description> {
    let Some((addrs, _tag)) = super::stack_frames(ctx) else {
        return Arc::new(Description::named("<stack table full>"));
    };
    // Each address's frames are resolved once for the process (and the frames' classes and
    // labels worked out once per frame): a stack only gathers shared frames.
    memo.fill(&addrs);
    let memo = &*memo;
    // Every frame with the index of its address, innermost first.
    let all: Vec<(usize, &Frame)> = addrs
        .iter()
        .enumerate()
        .flat_map(|(i, &a)| memo.get(a).iter().map(move |f| (i, f)))
        .collect();
    // The innermost frames are heapy's own code, inlined into the allocator shim (and the
    // shim may be inlined into its caller). With full debug info they name heapy's crate and
    // are trimmed by name; with `line-tables-only` inlined frames carry short names
    // (`capture`, `on_alloc`) that name no crate, so they are cut here by position:
    // everything up to and including the shim's frame.
    let skip = all
        .iter()
        .take(SHIM_SEARCH)
        .rposition(|(_, f)| f.is_shim())
        .map_or(0, |i| i + 1);
    let first_user = all[skip..]
        .iter()
        .position(|(_, f)| f.is_user())
        .map(|i| i + skip);
    let frames: Arc<[Frame]> = match first_user {
        Some(i) => all[i..]
            .iter()
            .filter(|(_, f)| f.is_user())
            .map(|(_, f)| Frame::clone(f))
            .collect(),
        None => Arc::from([]),
    };
    // The kind follows from the frames up to the first user frame (and the shim's place
    // among the first `SHIM_SEARCH`): from the addresses that hold them, so stacks that
    // share those addresses share one inference.
    let key_len = match first_user {
        Some(i) => all[i].0.max(all[SHIM_SEARCH.min(all.len()) - 1].0) + 1,
        None => addrs.len(),
    };
    let key = &addrs[..key_len.min(addrs.len())];
    let kinds = &caches().kinds;
    let kind = match kinds.get(key).map(|k| Arc::clone(&k)) {
        Some(k) => k,
        None => {
            let inner: Vec<Frame> = all[skip..first_user.unwrap_or(all.len())]
                .iter()
                .map(|(_, f)| Frame::clone(f))
                .collect();
            let kind: Arc<str> = infer::kind(&inner)
                .map(Arc::from)
                .or_else(|| frames.first().map(|f| Arc::from(f.function())))
                .unwrap_or_else(|| Arc::from("<no user frame>"));
            Arc::clone(&kinds.entry(key.into()).or_insert(kind))
        }
    };
    // A kind that fell back to a function, where a frame between heapy's and the first
    // user frame (or that frame) has a file and no line: the allocation call's merged
    // location (std and dependency frames otherwise carry their lines).
    let fell_back = frames.first().is_some_and(|f| *kind == *f.function());
    let merged_call = fell_back
        && all[skip..first_user.map_or(all.len(), |i| i + 1)]
            .iter()
            .any(|(_, f)| {
                f.line().is_none() && f.file().is_some() && !f.function().starts_with("heapy::")
            });
    let site = site_frame(&frames);
    Arc::new(Description {
        kind,
        site: site.map(Frame::label),
        site_full: site.map(Frame::full_label),
        frames,
        merged_call,
    })
}

/// The call site of a stack whose user frames are `frames` (most recent first): the first
/// frame of the program's own crates; when the stack has none (a thread a dependency
/// started), the first frame that is not Rust's library.
fn site_frame(frames: &[Frame]) -> Option<&Frame> {
    frames.iter().find(|f| f.is_own()).or(frames.first())
}

/// How many of a stack's first (innermost) frames may be heapy's and the allocator shim's.
const SHIM_SEARCH: usize = 24;

/// True for the global allocator's shim functions (`__rust_alloc`, `__rg_alloc`, ...),
/// which call the installed `Census`.
pub(super) fn is_shim(function: &str) -> bool {
    let f = function.trim_start_matches("__rustc::");
    ["__rg_", "__rdl_", "__rust_alloc", "__rust_realloc"]
        .iter()
        .any(|p| f.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: Option<&str>) -> Frame {
        Frame::new(function.into(), file.map(str::to_string), Some(7))
    }

    const DE: &str =
        "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/serde_json-1.0.154/src/de.rs";
    const POOL: &str = "/root/.cargo/git/checkouts/pool-0123456789abcdef/a1b2c3d/src/lib.rs";

    #[test]
    fn the_site_is_the_programs_first_frame_else_the_first() {
        let dep = frame("serde_json::de::from_str", Some(DE));
        let git = frame("pool::Worker::run", Some(POOL));
        let own = frame("demo::load", Some("src/main.rs"));
        let member = frame("model::parse", Some("/work/app/model/src/lib.rs"));
        let main = frame("demo::main", Some("src/main.rs"));
        assert_eq!(
            site_frame(&[dep.clone(), own.clone(), main.clone()]),
            Some(&own)
        );
        assert_eq!(
            site_frame(&[git.clone(), dep.clone(), member.clone()]),
            Some(&member)
        );
        // A thread a dependency started: no frame of the program, its first frame.
        assert_eq!(site_frame(&[dep.clone(), git.clone()]), Some(&dep));
        assert_eq!(
            site_frame(&[dep.clone(), git]).map(Frame::to_string),
            Some("serde_json-1.0.154/src/de.rs:7 serde_json::de::from_str".to_string())
        );
        // Without debug info nothing tells a dependency apart: the first frame.
        let bare = frame("serde_json::de::from_str", None);
        assert_eq!(site_frame(&[bare.clone(), own]), Some(&bare));
        assert_eq!(site_frame(&[]), None);
    }

    #[test]
    fn a_loaded_description_finds_its_sites_full_label_in_its_frames() {
        let long = "demo::load::<demo::store::Cache<demo::model::Row<demo::model::Cell>>, u64>";
        let dep = frame("serde_json::de::from_str", Some(DE));
        let own = Frame::new(long.into(), Some("src/main.rs".into()), Some(7));
        let short = "src/main.rs:7 demo::load::<demo::store::Cache<…>, u64>";
        assert_eq!(&*own.label(), short);
        let frames: Arc<[Frame]> = vec![dep.clone(), own].into();
        let d = Description::loaded("K", Some(short.into()), frames.clone());
        assert_eq!(d.site.as_deref(), Some(short));
        assert_eq!(
            d.site_full.as_deref(),
            Some(&*format!("src/main.rs:7 {long}"))
        );
        // A dependency's site: its file as recorded.
        let d = Description::loaded("K", Some(dep.label().to_string()), vec![dep].into());
        assert_eq!(
            d.site_full.as_deref(),
            Some(&*format!("{DE}:7 serde_json::de::from_str"))
        );
        // A label no frame gives (a file written under other rules) stands for both.
        let d = Description::loaded("K", Some("old label".into()), frames);
        assert_eq!(d.site_full.as_deref(), Some("old label"));
        let d = Description::loaded("K", None, Arc::from([]));
        assert_eq!((d.site, d.site_full), (None, None));
    }
}
