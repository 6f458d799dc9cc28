//! DHAT's JSON format (`dhat-heap.json`), read by DHAT's viewer `dh_view.html`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::census::guard;
use crate::heap::Heap;
use crate::sys::atomic;
use crate::{Error, Result};

/// The file, as dhat-rs writes it (field names are DHAT's).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct DhatJson {
    dhatFileVersion: u32,
    mode: &'static str,
    verb: &'static str,
    bklt: bool,
    bkacc: bool,
    tu: &'static str,
    Mtu: &'static str,
    tuth: u32,
    cmd: String,
    pid: u32,
    tg: u64,
    te: u64,
    pps: Vec<ProgramPoint>,
    ftbl: Vec<String>,
}

/// One allocation point: totals, at the global peak, at the end, and its frames.
#[derive(Serialize)]
struct ProgramPoint {
    tb: u64,
    tbk: u64,
    tl: u64,
    mb: u64,
    mbk: u64,
    gb: u64,
    gbk: u64,
    eb: u64,
    ebk: u64,
    fs: Vec<usize>,
}

/// One program point's figures (DHAT's names; see `Heap::dhat_json`).
#[derive(Clone, Copy, Default)]
struct Figures {
    tb: u64,
    tbk: u64,
    tl: u64,
    mb: u64,
    mbk: u64,
    gb: u64,
    gbk: u64,
    eb: u64,
    ebk: u64,
}

impl Figures {
    /// Adds another context's figures to the same point (contexts whose stacks print the
    /// same). The point's maximum is at least the highest of theirs and at most their sum;
    /// the highest is given, the lower bound.
    fn add(&mut self, o: &Figures) {
        self.tb += o.tb;
        self.tbk += o.tbk;
        self.tl += o.tl;
        self.mb = self.mb.max(o.mb);
        self.mbk = self.mbk.max(o.mbk);
        self.gb += o.gb;
        self.gbk += o.gbk;
        self.eb += o.eb;
        self.ebk += o.ebk;
    }
}

impl Heap {
    /// The set in DHAT's JSON format, as dhat-rs writes `dhat-heap.json`, for DHAT's viewer
    /// (`dh_view.html`, shipped with valgrind). One program point per allocation stack (or
    /// kind, where no stack was captured), its frames most recent first, the kind as the
    /// first frame.
    ///
    /// A whole-process snapshot ([`Hpy::heap`](crate::Hpy::heap), or a file of one) carries
    /// the census's allocation history, and each point then has DHAT's true figures, so that
    /// dh_view's sorts by total, by at-t-gmax and by at-t-end all work: `tb`/`tbk` every
    /// block allocated, `gb`/`gbk` what was live at the heap's peak, `eb`/`ebk` what is live
    /// now, `mb` the point's own highest live bytes (`mbk`, which heapy does not keep, is
    /// given as the larger of `gbk` and `ebk`, a lower bound), and `tl` the freed blocks'
    /// lifetimes measured in allocations (`tu` is then `"allocations"`, not time; blocks
    /// still live add nothing to it). A heap without history (a subset, a mark's heap, a
    /// sampling census) holds the objects live at one moment: each point's total, its
    /// figure at the peak and at the end are all the live bytes and blocks of the set, and
    /// lifetimes are unknown (0).
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let mark = heapy::hpy().mark();
    /// let v = heapy::with_kind("Blob", || vec![0u8; 300]);
    /// let json: serde_json::Value = serde_json::from_str(&mark.heap().dhat_json()).unwrap();
    /// assert_eq!(json["dhatFileVersion"], 2);
    /// assert_eq!(json["pps"][0]["eb"], 300);
    /// assert_eq!(json["ftbl"][json["pps"][0]["fs"][0].as_u64().unwrap() as usize], "Blob");
    /// # drop(v);
    /// ```
    pub fn dhat_json(&self) -> String {
        self.dhat_encoded().unwrap_or_default()
    }

    /// [`Heap::dhat_json`], or the encoder's error.
    fn dhat_encoded(&self) -> Result<String> {
        guard::internal(|| {
            let meta = self.meta();
            // The figures per context: from the history when the heap has it, else the live
            // objects (scaled estimates for a sampled heap) for every figure.
            let by_ctx: BTreeMap<u32, Figures> = match self.history() {
                Some(hist) => hist
                    .iter()
                    .map(|h| {
                        let f = Figures {
                            tb: h.alloc_bytes,
                            tbk: h.alloc_blocks,
                            tl: h.lifetime,
                            mb: h.max_live,
                            mbk: h.peak_blocks.max(h.live_blocks()),
                            gb: h.peak_bytes,
                            gbk: h.peak_blocks,
                            eb: h.live_bytes(),
                            ebk: h.live_blocks(),
                        };
                        (h.ctx, f)
                    })
                    .collect(),
                None => super::per_context(self)
                    .into_iter()
                    .map(|(c, (n, b))| {
                        let f = Figures {
                            tb: b,
                            tbk: n,
                            tl: 0,
                            mb: b,
                            mbk: n,
                            gb: b,
                            gbk: n,
                            eb: b,
                            ebk: n,
                        };
                        (c, f)
                    })
                    .collect(),
            };
            let (tg, te, tu) = match self.history() {
                Some(hist) => (0, hist.iter().map(|h| h.alloc_blocks).sum(), "allocations"),
                None => (0, 0, "µs"),
            };
            let mut ftbl = vec!["[root]".to_owned()];
            let mut index: HashMap<String, usize> = HashMap::new();
            let mut intern = |s: String| {
                *index.entry(s.clone()).or_insert_with(|| {
                    ftbl.push(s);
                    ftbl.len() - 1
                })
            };
            let mut points: BTreeMap<Vec<usize>, Figures> = BTreeMap::new();
            for (ctx, fig) in by_ctx {
                let info = meta.kinds.get(&ctx);
                let kind = meta.kind(ctx).to_owned();
                let mut fs = Vec::new();
                let frames = info.map(|i| &*i.frames).unwrap_or_default();
                if frames.first().map(|f| f.function()) != Some(kind.as_str()) {
                    fs.push(intern(kind));
                }
                for f in frames {
                    let loc = match (f.file(), f.line()) {
                        (Some(file), Some(line)) => format!("{} ({file}:{line}:0)", f.function()),
                        (Some(file), None) => format!("{} ({file})", f.function()),
                        _ => f.function().to_string(),
                    };
                    fs.push(intern(loc));
                }
                points.entry(fs).or_default().add(&fig);
            }
            let pps = points
                .into_iter()
                .map(|(fs, f)| ProgramPoint {
                    tb: f.tb,
                    tbk: f.tbk,
                    tl: f.tl,
                    mb: f.mb,
                    mbk: f.mbk,
                    gb: f.gb,
                    gbk: f.gbk,
                    eb: f.eb,
                    ebk: f.ebk,
                    fs,
                })
                .collect();
            let json = DhatJson {
                dhatFileVersion: 2,
                mode: "rust-heap",
                verb: "Allocated",
                bklt: true,
                bkacc: false,
                tu,
                Mtu: "s",
                tuth: 10,
                cmd: std::env::args().collect::<Vec<_>>().join(" "),
                pid: std::process::id(),
                tg,
                te,
                pps,
                ftbl,
            };
            serde_json::to_string_pretty(&json).map_err(|e| Error::Encode {
                what: "DHAT JSON",
                source: e.into(),
            })
        })
    }

    /// Writes [`Heap::dhat_json`] to `path` (atomically: a failure leaves any old file
    /// whole), e.g. `dhat-heap.json`, to open in DHAT's `dh_view.html`.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("dhat-heap.json");
    /// heapy::hpy().heap().dhat(&path).unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().contains("\"mode\": \"rust-heap\""));
    /// assert!(heapy::hpy().heap().dhat(dir.path().join("no/such/dir/x.json")).is_err());
    /// ```
    pub fn dhat(&self, path: impl AsRef<Path>) -> Result<()> {
        // `as_ref` is the program's code: called outside the guard.
        let path = path.as_ref();
        let json = self.dhat_encoded()?;
        guard::internal(|| atomic::write(path, json.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use crate::heap::test_support::sample_heap;

    #[test]
    fn sampled_points_are_scaled_estimates() {
        let h = sample_heap();
        let mut meta = (**h.meta()).clone();
        meta.sample_rate = Some(64);
        let sampled = crate::heap::Heap::from_parts(h.objs().to_vec(), std::sync::Arc::new(meta));
        let json: serde_json::Value = serde_json::from_str(&sampled.dhat_json()).unwrap();
        let w = |size: usize| crate::stack::sample_weight(size, 64);
        let ftbl = json["ftbl"].as_array().unwrap();
        let point = json["pps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| ftbl[p["fs"][0].as_u64().unwrap() as usize] == "[u8; 4]")
            .unwrap();
        assert_eq!(point["eb"], (8.0 * w(4)).round() as u64);
        assert_eq!(point["ebk"], (2.0 * w(4)).round() as u64);
    }

    #[test]
    fn dhat_points_and_frames() {
        let json: serde_json::Value = serde_json::from_str(&sample_heap().dhat_json()).unwrap();
        assert_eq!(json["mode"], "rust-heap");
        assert_eq!(json["bklt"], true);
        let ftbl: Vec<&str> = json["ftbl"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(ftbl[0], "[root]");
        let pps = json["pps"].as_array().unwrap();
        assert_eq!(pps.len(), 3);
        let mut seen: Vec<(Vec<&str>, u64, u64)> = pps
            .iter()
            .map(|p| {
                let fs = p["fs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| ftbl[i.as_u64().unwrap() as usize])
                    .collect();
                (fs, p["eb"].as_u64().unwrap(), p["ebk"].as_u64().unwrap())
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (
                    vec![
                        "Vec<demo::Person>",
                        "demo::load (src/main.rs:20:0)",
                        "demo::main (src/main.rs:5:0)"
                    ],
                    128,
                    2
                ),
                (vec!["[u8; 4]"], 8, 2),
                (
                    vec![
                        "demo::cache (src/main.rs:31:0)",
                        "demo::main (src/main.rs:6:0)"
                    ],
                    1000,
                    1
                ),
            ]
        );
        for p in pps {
            assert_eq!(p["tb"], p["eb"]);
            assert_eq!(p["gb"], p["eb"]);
            assert_eq!(p["tl"], 0);
        }
    }
}
