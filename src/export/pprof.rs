//! pprof's profile format (`profile.proto`, gzip-compressed), read by `go tool pprof`,
//! pprof's web UI, speedscope, Grafana Pyroscope and most continuous profilers.
//!
//! The messages below are the parts of pprof's `profile.proto` that a heap profile uses,
//! declared by hand with prost's derive (field numbers as in the .proto file), so that no
//! protobuf compiler is needed at build time.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use prost::Message;

use crate::census::guard;
use crate::heap::Heap;
use crate::sys::atomic;
use crate::{Error, Result};

/// `perftools.profiles.Profile`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
}

/// `ValueType`: a sample value's type and unit, as string-table indices.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `Sample`: a stack (leaf first) and its values, one per sample type.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `Label`: a key and a string value, as string-table indices.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
}

/// `Location`: one frame (heapy knows functions and lines, not addresses).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// `Line`: a function and a line number in it.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
}

/// `Function`: a name and a file, as string-table indices.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
}

/// Builds the tables of a profile: strings, functions and locations, each deduplicated.
struct Tables {
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    functions: Vec<Function>,
    function_ids: HashMap<(String, String), u64>,
    locations: Vec<Location>,
    location_ids: HashMap<(u64, i64), u64>,
}

impl Tables {
    fn new() -> Tables {
        Tables {
            // pprof requires the empty string at index 0.
            strings: vec![String::new()],
            string_ids: HashMap::from([(String::new(), 0)]),
            functions: Vec::new(),
            function_ids: HashMap::new(),
            locations: Vec::new(),
            location_ids: HashMap::new(),
        }
    }

    fn string(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.string_ids.get(s) {
            return i;
        }
        let i = self.strings.len() as i64;
        self.strings.push(s.to_owned());
        self.string_ids.insert(s.to_owned(), i);
        i
    }

    /// The location of `function` (in `file`) at `line` (0: unknown).
    fn location(&mut self, function: &str, file: &str, line: i64) -> u64 {
        let key = (function.to_owned(), file.to_owned());
        let fid = match self.function_ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.functions.len() as u64 + 1;
                let name = self.string(function);
                let filename = self.string(file);
                self.functions.push(Function {
                    id,
                    name,
                    system_name: name,
                    filename,
                });
                self.function_ids.insert(key, id);
                id
            }
        };
        *self.location_ids.entry((fid, line)).or_insert_with(|| {
            let id = self.locations.len() as u64 + 1;
            self.locations.push(Location {
                id,
                line: vec![Line {
                    function_id: fid,
                    line,
                }],
            });
            id
        })
    }
}

/// The profile of a set: one sample per allocation stack (or kind, where no stack was
/// captured) with its object count and bytes.
pub(crate) fn profile(h: &Heap) -> Profile {
    let meta = h.meta();
    // Scaled estimates for a sampled heap, as Go's runtime scales its heap samples.
    let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    // With history, Go's four heap sample types (alloc_objects, alloc_space, inuse_objects,
    // inuse_space); without, the last two.
    let mut ctxs: Vec<(u32, Vec<i64>)> = match h.history() {
        Some(hist) => hist
            .iter()
            .map(|c| {
                let v = [
                    c.alloc_blocks,
                    c.alloc_bytes,
                    c.live_blocks(),
                    c.live_bytes(),
                ];
                (c.ctx, v.into_iter().map(signed).collect())
            })
            .collect(),
        None => super::per_context(h)
            .into_iter()
            .map(|(ctx, (n, b))| (ctx, vec![signed(n), signed(b)]))
            .collect(),
    };
    ctxs.sort_unstable_by(|a, b| {
        let key = |v: &[i64]| (v[v.len() - 1], v[0]);
        key(&b.1).cmp(&key(&a.1)).then(a.0.cmp(&b.0))
    });

    let mut t = Tables::new();
    let mut sample_type = Vec::new();
    if h.history().is_some() {
        let alloc_objects = t.string("alloc_objects");
        let count = t.string("count");
        let alloc_space = t.string("alloc_space");
        let bytes = t.string("bytes");
        sample_type.push(ValueType {
            r#type: alloc_objects,
            unit: count,
        });
        sample_type.push(ValueType {
            r#type: alloc_space,
            unit: bytes,
        });
    }
    let objects = t.string("inuse_objects");
    let count = t.string("count");
    let space = t.string("inuse_space");
    let bytes = t.string("bytes");
    sample_type.push(ValueType {
        r#type: objects,
        unit: count,
    });
    sample_type.push(ValueType {
        r#type: space,
        unit: bytes,
    });
    let kind_key = t.string("kind");
    let mut samples = Vec::with_capacity(ctxs.len());
    for (ctx, value) in ctxs {
        let kind = meta.kind(ctx).to_owned();
        let frames = meta.kinds.get(&ctx).map(|i| &*i.frames).unwrap_or_default();
        let mut stack = Vec::with_capacity(frames.len() + 1);
        // The kind is the leaf, unless it only repeats the allocating function (a kind that
        // is a call site).
        if frames.first().map(|f| f.function()) != Some(kind.as_str()) {
            stack.push(t.location(&kind, "", 0));
        }
        for f in frames {
            let line = f.line().map_or(0, i64::from);
            stack.push(t.location(f.function(), f.file().unwrap_or(""), line));
        }
        let kind_str = t.string(&kind);
        samples.push(Sample {
            location_id: stack,
            value,
            label: vec![Label {
                key: kind_key,
                str: kind_str,
            }],
        });
    }
    let mut comment = Vec::new();
    if let Some(rate) = meta.sample_rate {
        let c = format!(
            "heapy: objects sampled every {rate} bytes on average; values are estimates, each sampled object scaled by 1/(1-exp(-size/{rate}))"
        );
        comment.push(t.string(&c));
    }
    let time_nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    Profile {
        sample_type,
        sample: samples,
        location: t.locations,
        function: t.functions,
        string_table: t.strings,
        time_nanos,
        period_type: Some(ValueType {
            r#type: space,
            unit: bytes,
        }),
        period: meta.sample_rate.map_or(0, |r| r as i64),
        comment,
        default_sample_type: space,
    }
}

impl Heap {
    /// The set as a pprof profile (gzip-compressed `profile.proto`), as Go writes heap
    /// profiles: sample types `inuse_objects`/`count` and `inuse_space`/`bytes` (the
    /// default), preceded by `alloc_objects` and `alloc_space` (every block allocated since
    /// the start) when the heap carries the census's history (a whole-process snapshot:
    /// `go tool pprof -sample_index=alloc_space` then shows the churn), one sample per allocation stack (leaf first; the object's kind is the leaf
    /// frame, and also a `kind` label), where no stack was captured the kind alone.
    /// Open it with `go tool pprof -http=: heap.pb.gz`, speedscope or Pyroscope.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let mark = heapy::hpy().mark();
    /// let v = heapy::with_kind("Blob", || vec![0u8; 300]);
    /// let gz = mark.heap().pprof_bytes().unwrap();
    /// assert_eq!(&gz[..2], &[0x1f, 0x8b]); // gzip
    /// # drop(v);
    /// ```
    pub fn pprof_bytes(&self) -> Result<Vec<u8>> {
        guard::internal(|| {
            let raw = profile(self).encode_to_vec();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&raw)
                .and_then(|()| gz.finish())
                .map_err(|e| Error::Encode {
                    what: "pprof profile",
                    source: e.into(),
                })
        })
    }

    /// Writes [`Heap::pprof_bytes`] to `path` (atomically: a failure leaves any old file
    /// whole), e.g. `heap.pb.gz`.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// heapy::hpy().heap().pprof(dir.path().join("heap.pb.gz")).unwrap();
    /// assert!(heapy::hpy().heap().pprof(dir.path().join("no/such/dir/heap.pb.gz")).is_err());
    /// ```
    pub fn pprof(&self, path: impl AsRef<Path>) -> Result<()> {
        // `as_ref` is the program's code: called outside the guard.
        let path = path.as_ref();
        let bytes = self.pprof_bytes()?;
        guard::internal(|| atomic::write(path, &bytes))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::heap::test_support::sample_heap;

    /// Decodes a profile the way a reader does: gunzip, then protobuf.
    fn decode(gz: &[u8]) -> Profile {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut raw)
            .unwrap();
        Profile::decode(raw.as_slice()).unwrap()
    }

    #[test]
    fn a_heap_with_history_has_go_four_heap_sample_types() {
        use crate::census::history::CtxHistory;
        let h = sample_heap();
        // One context of the sample heap (its two 4-byte objects): 10 blocks of 4 bytes
        // allocated, 8 freed.
        let ctx = h.objs().iter().find(|o| o.size == 4).unwrap().ctx;
        let hist = CtxHistory {
            ctx,
            alloc_blocks: 10,
            alloc_bytes: 40,
            free_blocks: 8,
            free_bytes: 32,
            ..CtxHistory::default()
        };
        let h = h.with_history(Some(std::sync::Arc::new(vec![hist])));
        let p = decode(&h.pprof_bytes().unwrap());
        let s = |i: i64| p.string_table[i as usize].as_str();
        let types: Vec<(&str, &str)> = p
            .sample_type
            .iter()
            .map(|t| (s(t.r#type), s(t.unit)))
            .collect();
        assert_eq!(
            types,
            [
                ("alloc_objects", "count"),
                ("alloc_space", "bytes"),
                ("inuse_objects", "count"),
                ("inuse_space", "bytes")
            ]
        );
        assert_eq!(s(p.default_sample_type), "inuse_space");
        assert_eq!(p.sample.len(), 1);
        assert_eq!(p.sample[0].value, [10, 40, 2, 8]);
    }

    #[test]
    fn sampled_values_are_scaled_estimates() {
        let h = sample_heap();
        let mut meta = (**h.meta()).clone();
        meta.sample_rate = Some(64);
        let sampled = Heap::from_parts(h.objs().to_vec(), std::sync::Arc::new(meta));
        let p = decode(&sampled.pprof_bytes().unwrap());
        let s = |i: i64| p.string_table[i as usize].as_str();
        let w = |size: usize| crate::stack::sample_weight(size, 64);
        let value = |kind: &str| {
            p.sample
                .iter()
                .find(|x| s(x.label[0].str) == kind)
                .map(|x| x.value.clone())
                .unwrap()
        };
        // Two objects of 4 bytes; one of 96 and one of 32 bytes.
        assert_eq!(
            value("[u8; 4]"),
            [(2.0 * w(4)).round() as i64, (8.0 * w(4)).round() as i64]
        );
        let n = w(96) + w(32);
        let b = 96.0 * w(96) + 32.0 * w(32);
        assert_eq!(
            value("Vec<demo::Person>"),
            [n.round() as i64, b.round() as i64]
        );
        assert!(
            w(4) > 10.0,
            "a 4-byte object stands for many at a 64-byte rate"
        );
        assert_eq!(p.period, 64);
        assert!(s(p.comment[0]).contains("estimates"));
    }

    #[test]
    fn samples_stacks_and_tables() {
        let p = decode(&sample_heap().pprof_bytes().unwrap());
        let s = |i: i64| p.string_table[i as usize].as_str();
        assert_eq!(s(0), "");
        let types: Vec<(&str, &str)> = p
            .sample_type
            .iter()
            .map(|v| (s(v.r#type), s(v.unit)))
            .collect();
        assert_eq!(
            types,
            [("inuse_objects", "count"), ("inuse_space", "bytes")]
        );
        assert_eq!(s(p.default_sample_type), "inuse_space");
        let frame = |loc: u64| {
            let l = &p.location[loc as usize - 1];
            assert_eq!(l.id, loc);
            let f = &p.function[l.line[0].function_id as usize - 1];
            (
                s(f.name).to_owned(),
                s(f.filename).to_owned(),
                l.line[0].line,
            )
        };
        type Seen<'a> = (Vec<(String, String, i64)>, Vec<i64>, &'a str);
        let mut seen: Vec<Seen> = p
            .sample
            .iter()
            .map(|x| {
                let stack = x.location_id.iter().map(|&l| frame(l)).collect();
                (stack, x.value.clone(), s(x.label[0].str))
            })
            .collect();
        seen.sort();
        let f = |n: &str, file: &str, line: i64| (n.to_owned(), file.to_owned(), line);
        assert_eq!(
            seen,
            vec![
                (
                    vec![
                        f("Vec<demo::Person>", "", 0),
                        f("demo::load", "src/main.rs", 20),
                        f("demo::main", "src/main.rs", 5),
                    ],
                    vec![2, 128],
                    "Vec<demo::Person>"
                ),
                (vec![f("[u8; 4]", "", 0)], vec![2, 8], "[u8; 4]"),
                (
                    vec![
                        f("demo::cache", "src/main.rs", 31),
                        f("demo::main", "src/main.rs", 6)
                    ],
                    vec![1, 1000],
                    "demo::cache"
                ),
            ]
        );
    }
}
