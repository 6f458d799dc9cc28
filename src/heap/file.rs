//! Snapshot files: `Heap::dump` and `Heap::load`.
//!
//! A snapshot file is one JSON object, written without whitespace:
//!
//! ```text
//! {"format":"heapy-snapshot","version":1,"checksum":"fnv1a64:<16 hex digits>",
//!  "body_bytes":<length of the body>,"body":{
//!   "view":"kind",                       the view the heap printed by
//!   "sample_rate":null,                  mean bytes between samples, null if all recorded
//!   "threads":[{"index":1,"label":"main"}, ...],
//!   "kinds":[{"ctx":5,"kind":"Person","site":null,"frames":[
//!             {"function":"demo::load","file":"src/main.rs","line":20}, ...]}, ...],
//!   "object_fields":["address","size","serial","thread","ctx"],
//!   "objects":[[140231,24,17,1,5], ...],
//!   "history_fields":["ctx","alloc_blocks",...],   version 2: the allocation history,
//!   "history":[[5,1000,24000,999,23976,...], ...]}}  one row per context
//! ```
//!
//! The checksum is FNV-1a (64 bits) of the body's bytes exactly as they stand in the file,
//! so a flipped bit anywhere in the body is caught; `body_bytes` tells a file cut short
//! (shorter than it says) from one damaged in place (as long as it says). Version 2 adds the
//! census's allocation history (per context: blocks and bytes allocated and freed, lifetimes,
//! the context's own maximum and its figures at the heap's peak); a heap without history is
//! written as version 1, and version-1 files load as heaps without history. A reader refuses
//! newer versions with [`Error::UnsupportedVersion`]. The file ends with the
//! closing brace (no newline), so any cut-short copy is detected as truncated.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::meta::Meta;
use super::view::View;
use super::Obj;
use super::{By, Heap};
use crate::census::history::CtxHistory;
use crate::census::{guard, registry};
use crate::stack::{Description, Frame};
use crate::sys::atomic;
use crate::{Error, Result};

/// The `format` field of every snapshot file.
const FORMAT: &str = "heapy-snapshot";
/// The newest version this build writes and reads (2: with allocation history; a heap
/// without history is written as version 1).
const VERSION: u64 = 2;
/// How every file heapy writes begins.
const MAGIC: &str = "{\"format\":\"heapy-snapshot\"";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    view: String,
    sample_rate: Option<u64>,
    threads: Vec<ThreadEntry>,
    kinds: Vec<KindEntry>,
    object_fields: Vec<String>,
    objects: Vec<(usize, usize, u64, u16, u32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    history_fields: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    history: Option<Vec<[u64; 10]>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThreadEntry {
    index: u16,
    label: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindEntry {
    ctx: u32,
    kind: String,
    site: Option<String>,
    /// Each frame as `{"function":…,"file":…,"line":…}` (`Frame`'s serde form).
    frames: Vec<Frame>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    format: Option<String>,
    version: Option<u64>,
    checksum: Option<String>,
    body_bytes: Option<usize>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

const OBJECT_FIELDS: [&str; 5] = ["address", "size", "serial", "thread", "ctx"];
const HISTORY_FIELDS: [&str; 10] = [
    "ctx",
    "alloc_blocks",
    "alloc_bytes",
    "free_blocks",
    "free_bytes",
    "lifetime",
    "short_lived",
    "max_live",
    "peak_blocks",
    "peak_bytes",
];

fn history_row(h: &CtxHistory) -> [u64; 10] {
    [
        u64::from(h.ctx),
        h.alloc_blocks,
        h.alloc_bytes,
        h.free_blocks,
        h.free_bytes,
        h.lifetime,
        h.short_lived,
        h.max_live,
        h.peak_blocks,
        h.peak_bytes,
    ]
}

/// FNV-1a, 64 bits.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn checksum_text(body: &[u8]) -> String {
    format!("fnv1a64:{:016x}", fnv1a64(body))
}

impl Heap {
    /// The file's bytes (what `dump` writes; `heapy::serve`'s `/snapshot`).
    pub(crate) fn snapshot_bytes(&self) -> Result<Vec<u8>> {
        // A subset (a filter, a row, a difference) shares its parent's names table: only
        // the kinds and threads its own objects name go into the file.
        let mut ctxs: HashSet<u32> = self.objs.iter().map(|o| o.ctx).collect();
        if let Some(h) = &self.history {
            ctxs.extend(h.iter().map(|h| h.ctx));
        }
        let thread_ids: HashSet<u16> = self.objs.iter().map(|o| o.thread).collect();
        let mut threads: Vec<ThreadEntry> = self
            .meta
            .threads
            .iter()
            .filter(|(index, _)| thread_ids.contains(index))
            .map(|(&index, label)| ThreadEntry {
                index,
                label: label.clone(),
            })
            .collect();
        threads.sort_by_key(|t| t.index);
        let mut kinds: Vec<KindEntry> = self
            .meta
            .kinds
            .iter()
            .filter(|(ctx, _)| ctxs.contains(ctx))
            .map(|(&ctx, k)| KindEntry {
                ctx,
                kind: k.kind.to_string(),
                site: k.site.as_deref().map(str::to_string),
                frames: k.frames.to_vec(),
            })
            .collect();
        kinds.sort_by_key(|k| k.ctx);
        let view = match self.by {
            View::By(by) => by,
            // A view from above the heap layer (the graph's byrcs and byvia) needs the live
            // process: a file keeps the objects and their names, and the kind view.
            View::Outside(_) => By::Kind,
        };
        let body = Body {
            view: view.name().to_string(),
            sample_rate: self.meta.sample_rate,
            threads,
            kinds,
            object_fields: OBJECT_FIELDS.iter().map(|s| s.to_string()).collect(),
            objects: self
                .objs
                .iter()
                .map(|o| (o.addr, o.size, o.serial, o.thread, o.ctx))
                .collect(),
            history_fields: self
                .history
                .as_ref()
                .map(|_| HISTORY_FIELDS.iter().map(|s| s.to_string()).collect()),
            history: self
                .history
                .as_ref()
                .map(|h| h.iter().map(history_row).collect()),
        };
        let version = if body.history.is_some() { VERSION } else { 1 };
        let body = serde_json::to_vec(&body).map_err(|e| Error::Encode {
            what: "snapshot",
            source: e.into(),
        })?;
        let head = format!(
            "{MAGIC},\"version\":{version},\"checksum\":\"{}\",\"body_bytes\":{},\"body\":",
            checksum_text(&body),
            body.len()
        );
        let mut out = Vec::with_capacity(head.len() + body.len() + 1);
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&body);
        out.push(b'}');
        Ok(out)
    }

    /// Writes the heap to `path` as a snapshot file (versioned JSON with a checksum; see
    /// [`Heap::load`]). The objects, their kinds, call sites and stacks, the thread names and
    /// the view go in, so a snapshot taken on a server or in CI can be studied later with the
    /// same views, diffs and algebra; a subset (a `filter`, a row) writes only the kinds and
    /// threads its own objects name. The file is written beside `path` under a unique
    /// temporary name and renamed over it (it keeps the old file's permissions): a failed
    /// dump never leaves half a file, and never harms a file already at `path`. A symbolic
    /// link is followed (the file it names is replaced, the link stays); a FIFO or a device
    /// is written into.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let mark = heapy::hpy().mark();
    /// let v = heapy::with_kind("Person", || vec![0u8; 100]);
    /// let h = mark.heap();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("snap.json");
    /// h.dump(&path).unwrap();
    /// let back = heapy::Heap::load(&path).unwrap();
    /// assert_eq!(back.to_string(), h.to_string());
    /// # drop(v);
    /// ```
    #[doc(alias("save", "write"))]
    pub fn dump(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        guard::internal(|| {
            let bytes = self.snapshot_bytes()?;
            atomic::write(path, &bytes)
        })
    }

    /// Reads a snapshot file written by [`Heap::dump`]. The heap prints and answers exactly
    /// as the one dumped (same objects, kinds, sites, threads and view).
    ///
    /// Errors name the problem: [`Error::Io`] (with the path) when the file cannot be read,
    /// [`Error::NotASnapshot`] for anything that is not a heapy snapshot,
    /// [`Error::Truncated`] for a file cut short, [`Error::Corrupt`] when the checksum or
    /// the contents do not hold, [`Error::UnsupportedVersion`] for a file from a newer
    /// heapy. No input makes it panic.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("other.json");
    /// std::fs::write(&path, r#"{"name":"not a snapshot"}"#).unwrap();
    /// let err = heapy::Heap::load(&path).unwrap_err();
    /// assert!(matches!(err, heapy::Error::NotASnapshot { .. }));
    /// assert!(err.to_string().contains("not a heapy snapshot"));
    /// ```
    #[doc(alias("open", "read"))]
    pub fn load(path: impl AsRef<Path>) -> Result<Heap> {
        let path = path.as_ref();
        guard::internal(|| {
            let bytes = std::fs::read(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
            parse(path, &bytes)
        })
    }
}

/// The file length a heapy header states: the end of `"body":` plus `body_bytes` plus the
/// closing brace; `None` if the header is not whole or not as heapy writes it.
fn stated_length(bytes: &[u8]) -> Option<usize> {
    let head = &bytes[..bytes.len().min(256)];
    let find = |pat: &[u8], from: usize| {
        head.get(from..)?
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|i| from + i + pat.len())
    };
    let at = find(b"\"body_bytes\":", 0)?;
    let digits = head[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    let n: usize = std::str::from_utf8(&head[at..at + digits])
        .ok()?
        .parse()
        .ok()?;
    let body_at = find(b",\"body\":", at + digits)?;
    if body_at != at + digits + b",\"body\":".len() {
        return None;
    }
    body_at.checked_add(n)?.checked_add(1)
}

/// Reads snapshot `bytes` (`path` names errors).
fn parse(path: &Path, bytes: &[u8]) -> Result<Heap> {
    let not = |problem: &str| Error::NotASnapshot {
        path: path.to_path_buf(),
        problem: problem.to_string(),
    };
    let corrupt = |problem: String| Error::Corrupt {
        path: path.to_path_buf(),
        problem,
    };
    if bytes.is_empty() {
        return Err(not("the file is empty"));
    }
    let magic = MAGIC.as_bytes();
    let ours = bytes.starts_with(magic);
    let env: Envelope = match serde_json::from_slice(bytes) {
        Ok(env) => env,
        Err(e) if e.is_eof() && magic.starts_with(bytes) => {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
            })
        }
        Err(e) if e.is_eof() && ours => {
            // Cut short, or damaged so that the JSON runs on to the end? The header says
            // how long the file is (if the header itself is whole).
            return Err(match stated_length(bytes) {
                Some(n) if bytes.len() >= n => corrupt(format!("unreadable JSON: {e}")),
                _ => Error::Truncated {
                    path: path.to_path_buf(),
                },
            });
        }
        Err(e) if ours => return Err(corrupt(format!("unreadable JSON: {e}"))),
        Err(e) if e.is_data() => return Err(not("JSON, but not an object with heapy's fields")),
        Err(_) => return Err(not("not JSON")),
    };
    match env.format.as_deref() {
        Some(FORMAT) => {}
        Some(other) => return Err(not(&format!("its format is '{other}'"))),
        None => return Err(not("JSON without heapy's \"format\" field")),
    }
    let version = env
        .version
        .ok_or_else(|| corrupt("no format version".into()))?;
    if version > VERSION {
        return Err(Error::UnsupportedVersion {
            path: path.to_path_buf(),
            version,
            supported: VERSION,
        });
    }
    if version == 0 {
        return Err(corrupt("format version 0 does not exist".into()));
    }
    let body = env.body.ok_or_else(|| corrupt("no body".into()))?;
    let length = env
        .body_bytes
        .ok_or_else(|| corrupt("no body length".into()))?;
    if length != body.get().len() {
        return Err(corrupt(format!(
            "the body is {} bytes, the header says {length}",
            body.get().len()
        )));
    }
    let stated = env.checksum.ok_or_else(|| corrupt("no checksum".into()))?;
    let actual = checksum_text(body.get().as_bytes());
    if stated != actual {
        return Err(corrupt(format!(
            "checksum mismatch: the file says {stated}, its contents give {actual}"
        )));
    }
    let body: Body = serde_json::from_str(body.get())
        .map_err(|e| corrupt(format!("the body does not read as a snapshot: {e}")))?;
    if body.object_fields != OBJECT_FIELDS {
        return Err(corrupt(format!(
            "object fields are {:?}, expected {:?}",
            body.object_fields, OBJECT_FIELDS
        )));
    }
    // Figures that no census records: sizes past a record's 40 bits, or a total that
    // overflows the tables' arithmetic.
    let mut total: u64 = 0;
    for &(_, size, _, _, _) in &body.objects {
        total = total
            .checked_add(size as u64)
            .filter(|&t| size <= registry::MAX_SIZE && t <= i64::MAX as u64)
            .ok_or_else(|| corrupt(format!("an object of {size} bytes is not possible")))?;
    }
    // A census samples every 1 byte to every MAX_SAMPLE_RATE bytes on average.
    if let Some(rate) = body.sample_rate {
        if rate == 0 || rate > crate::stack::MAX_SAMPLE_RATE {
            return Err(corrupt(format!(
                "a sample rate of {rate} bytes is not possible"
            )));
        }
    }
    let meta = Meta {
        kinds: body
            .kinds
            .into_iter()
            .map(|k| {
                (
                    k.ctx,
                    Arc::new(Description::loaded(k.kind, k.site, k.frames.into())),
                )
            })
            .collect(),
        threads: body
            .threads
            .into_iter()
            .map(|t| (t.index, t.label))
            .collect(),
        sample_rate: body.sample_rate,
    };
    let objs = body
        .objects
        .into_iter()
        .map(|(addr, size, serial, thread, ctx)| Obj {
            addr,
            size,
            serial,
            thread,
            ctx,
        })
        .collect();
    let history = match (version, body.history_fields, body.history) {
        (1, None, None) => None,
        (1, _, _) => return Err(corrupt("a version 1 file with history".into())),
        (_, Some(fields), Some(rows)) if fields == HISTORY_FIELDS => {
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let ctx = u32::try_from(r[0])
                    .map_err(|_| corrupt(format!("a context id of {} is not possible", r[0])))?;
                if r[2] < r[4] || r[1] < r[3] {
                    return Err(corrupt(format!(
                        "context {ctx} freed more than it allocated"
                    )));
                }
                out.push(CtxHistory {
                    ctx,
                    alloc_blocks: r[1],
                    alloc_bytes: r[2],
                    free_blocks: r[3],
                    free_bytes: r[4],
                    lifetime: r[5],
                    short_lived: r[6],
                    max_live: r[7],
                    peak_blocks: r[8],
                    peak_bytes: r[9],
                });
            }
            Some(Arc::new(out))
        }
        (_, Some(fields), Some(_)) => {
            return Err(corrupt(format!(
                "history fields are {fields:?}, expected {HISTORY_FIELDS:?}"
            )))
        }
        _ => return Err(corrupt("a version 2 file without its history".into())),
    };
    let heap = Heap::from_parts(objs, Arc::new(meta)).with_history(history);
    let by = body.view.parse::<By>().unwrap_or(By::Kind);
    Ok(heap.with_view(by))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_known_values() {
        // Reference values of FNV-1a 64.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_version_1_file_loads_and_is_written_back_byte_for_byte() {
        // The body as the first version of the format writes it (frames with and without a
        // file and line, a context without a stack).
        let body = concat!(
            r#"{"view":"site","sample_rate":null,"threads":[{"index":1,"label":"main"}],"#,
            r#""kinds":[{"ctx":2,"kind":"[u8; 4]","site":null,"frames":[]},"#,
            r#"{"ctx":8388608,"kind":"Vec<demo::Person>","site":"src/main.rs:20 demo::load","#,
            r#""frames":[{"function":"demo::load","file":"src/main.rs","line":20},"#,
            r#"{"function":"demo::main","file":null,"line":null}]}],"#,
            r#""object_fields":["address","size","serial","thread","ctx"],"#,
            r#""objects":[[4160,96,1,1,8388608],[4224,4,2,1,2]]}"#
        );
        let file = format!(
            "{MAGIC},\"version\":1,\"checksum\":\"{}\",\"body_bytes\":{},\"body\":{body}}}",
            checksum_text(body.as_bytes()),
            body.len()
        );
        let h = parse(Path::new("v1.json"), file.as_bytes()).unwrap();
        let frames = &h.meta.kinds[&8388608].frames;
        assert_eq!(frames[0].to_string(), "src/main.rs:20 demo::load");
        assert_eq!((frames[1].file(), frames[1].line()), (None, None));
        assert_eq!((h.count(), h.size()), (2, 100));
        assert_eq!(h.snapshot_bytes().unwrap(), file.as_bytes());
    }

    #[test]
    fn sites_and_frames_survive_the_file() {
        let h = crate::heap::test_support::sample_heap();
        let bytes = h.snapshot_bytes().unwrap();
        let back = parse(Path::new("x.json"), &bytes).unwrap();
        assert_eq!(*back.meta, *h.meta);
        assert_eq!(back.objs, h.objs);
    }

    #[test]
    fn a_view_from_above_is_dumped_as_the_kind_view() {
        let h = crate::heap::test_support::sample_heap();
        let bytes = crate::heap::test_support::by_bigness(&h)
            .snapshot_bytes()
            .unwrap();
        let back = parse(Path::new("x.json"), &bytes).unwrap();
        assert_eq!(back.view(), Some(By::Kind));
        assert_eq!(back.to_string(), h.to_string());
        assert_eq!(bytes, h.snapshot_bytes().unwrap());
    }

    #[test]
    fn a_file_naming_another_view_loads_by_kind() {
        // Files never name the graph's views (see above); one that does anyway, or names a
        // view of a newer heapy, loads as the kind view.
        let h = crate::heap::test_support::sample_heap().bysize();
        let text = String::from_utf8(h.snapshot_bytes().unwrap()).unwrap();
        let at = text.find(",\"body\":").unwrap() + ",\"body\":".len();
        for view in ["rcs", "via", "colour"] {
            let body = text[at..text.len() - 1]
                .replace("\"view\":\"size\"", &format!("\"view\":\"{view}\""));
            let file = format!(
                "{MAGIC},\"version\":1,\"checksum\":\"{}\",\"body_bytes\":{},\"body\":{body}}}",
                checksum_text(body.as_bytes()),
                body.len()
            );
            let back = parse(Path::new("x.json"), file.as_bytes()).unwrap();
            assert_eq!(back.view(), Some(By::Kind), "{view}");
        }
        let back = parse(Path::new("x.json"), text.as_bytes()).unwrap();
        assert_eq!(back.view(), Some(By::Size));
    }
}
