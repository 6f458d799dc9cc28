//! mprof's `.dat` timeline format: writing its lines, and reading a file back.
//!
//! ```text
//! CMDLINE ./target/release/demo --big
//! MEM 61.050781 1795458576.7588      heap (or RSS) in MiB, unix time in seconds
//! FUNC demo::load 22.9023 1795458576.7066 61.0508 1795458577.0365 0
//! RSS 63.113281 1795458576.7588      heapy's own: the RSS beside an exact-heap MEM
//! CHLD 4242 12.500000 1795458576.7588 a child process's RSS (mprof --multiprocess)
//! ```
//!
//! `mprof plot` reads MEM, FUNC, CMDLINE and CHLD and skips lines of other kinds, so the
//! RSS lines heapy adds do not disturb it.

use std::fmt::Write as _;
use std::path::Path;

use crate::{Error, Result};

/// Bytes in a MiB.
pub(crate) const MIB: f64 = 1024.0 * 1024.0;

/// A `MEM` line (or `RSS`, by `kind`): bytes as MiB with 6 decimals, time with 4, as mprof.
pub(crate) fn sample_line(kind: &str, bytes: u64, time: f64) -> String {
    format!("{kind} {:.6} {time:.4}\n", bytes as f64 / MIB)
}

/// A `FUNC` line: name, MiB and time at entry, MiB and time at exit, nesting level.
pub(crate) fn func_line(name: &str, start: (u64, f64), end: (u64, f64), level: u32) -> String {
    let name: String = name.split_whitespace().collect::<Vec<_>>().join("_");
    format!(
        "FUNC {name} {:.4} {:.4} {:.4} {:.4} {level}\n",
        start.0 as f64 / MIB,
        start.1,
        end.0 as f64 / MIB,
        end.1
    )
}

/// A `CMDLINE` line (newlines in the command become spaces).
pub(crate) fn cmdline_line(cmd: &str) -> String {
    format!("CMDLINE {}\n", cmd.replace(['\n', '\r'], " "))
}

/// One point of a timeline: memory in MiB at a unix time in seconds.
///
/// ```
/// let s = heapy::mprof::Sample::new(1.5, 2.0);
/// assert_eq!((s.time, s.mib * 1024.0), (1.5, 2048.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// Unix time, in seconds.
    pub time: f64,
    /// Memory, in MiB.
    pub mib: f64,
}

impl Sample {
    /// A sample of `mib` MiB at unix time `time` (seconds).
    ///
    /// ```
    /// let s = heapy::mprof::Sample::new(100.0, 0.5);
    /// assert_eq!(s.mib, 0.5);
    /// ```
    pub fn new(time: f64, mib: f64) -> Sample {
        Sample { time, mib }
    }
}

/// One call of a profiled function on a timeline (an mprof `FUNC` line).
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("t.dat");
/// std::fs::write(&path, "FUNC demo::load 1.0 100.0 3.0 101.5 0\n").unwrap();
/// let t = heapy::mprof::Timeline::load(&path).unwrap();
/// let f = &t.funcs()[0];
/// assert_eq!((f.name.as_str(), f.level), ("demo::load", 0));
/// assert_eq!((f.start.mib, f.end.time), (1.0, 101.5));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Func {
    /// The function, with its module path.
    pub name: String,
    /// Memory and time at entry.
    pub start: Sample,
    /// Memory and time at return.
    pub end: Sample,
    /// How many profiled calls were already running on the thread (0 for the outermost).
    pub level: u32,
}

/// A memory timeline: an mprof `.dat` file, as written by [`Recorder`](crate::Recorder),
/// `heapy mprof run` or memory_profiler's `mprof run`.
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("run.dat");
/// std::fs::write(&path, "CMDLINE demo --big\nMEM 1.5 100.0\nMEM 4.0 100.1\nMEM 2.0 100.2\n").unwrap();
/// let t = heapy::mprof::Timeline::load(&path).unwrap();
/// assert_eq!(t.cmdline(), Some("demo --big"));
/// assert_eq!(t.mem().len(), 3);
/// assert_eq!(t.peak().unwrap().mib, 4.0);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Timeline {
    cmdline: Option<String>,
    mem: Vec<Sample>,
    rss: Vec<Sample>,
    funcs: Vec<Func>,
    children: Vec<(String, Vec<Sample>)>,
}

fn number(path: &Path, n: usize, field: Option<&str>, what: &str) -> Result<f64> {
    let bad = |found: &str| Error::Format {
        path: path.to_path_buf(),
        problem: format!("line {n}: {what} is not a number: {found:?}"),
    };
    let s = field.ok_or_else(|| Error::Format {
        path: path.to_path_buf(),
        problem: format!("line {n}: {what} is missing (the line is cut short)"),
    })?;
    let v: f64 = s.parse().map_err(|_| bad(s))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(bad(s))
    }
}

impl Timeline {
    /// Reads a `.dat` file. A file that is not one (no MEM, FUNC or CMDLINE line), or a
    /// line that is cut short or holds something other than a number where one belongs,
    /// gives [`Error::Format`] naming the file and line.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("bad.dat");
    /// std::fs::write(&path, "MEM 1.5 100.0\nMEM 4.0\n").unwrap();
    /// let err = heapy::mprof::Timeline::load(&path).unwrap_err();
    /// assert!(err.to_string().contains("line 2"));
    /// ```
    #[doc(alias("open", "read"))]
    pub fn load(path: impl AsRef<Path>) -> Result<Timeline> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Format {
            path: path.to_path_buf(),
            problem: "not an mprof .dat file (not text)".into(),
        })?;
        Timeline::parse(&text, path)
    }

    /// Parses the text of a `.dat` file (`path` only names it in errors).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Timeline> {
        let mut t = Timeline::default();
        let mut known = 0usize;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim_end_matches('\r');
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            let mut f = rest.split_whitespace();
            match kind {
                "MEM" | "RSS" => {
                    let mib = number(path, n, f.next(), "the memory")?;
                    let time = number(path, n, f.next(), "the time")?;
                    let s = Sample { time, mib };
                    if kind == "MEM" {
                        t.mem.push(s);
                    } else {
                        t.rss.push(s);
                    }
                }
                "FUNC" => {
                    let name = f.next().ok_or_else(|| Error::Format {
                        path: path.to_path_buf(),
                        problem: format!("line {n}: FUNC without a function name"),
                    })?;
                    let m0 = number(path, n, f.next(), "the memory at entry")?;
                    let t0 = number(path, n, f.next(), "the time at entry")?;
                    let m1 = number(path, n, f.next(), "the memory at return")?;
                    let t1 = number(path, n, f.next(), "the time at return")?;
                    let level = match f.next() {
                        None => 0,
                        Some(l) => l.parse().map_err(|_| Error::Format {
                            path: path.to_path_buf(),
                            problem: format!(
                                "line {n}: the FUNC level is not a whole number: {l:?}"
                            ),
                        })?,
                    };
                    t.funcs.push(Func {
                        name: name.to_owned(),
                        start: Sample { time: t0, mib: m0 },
                        end: Sample { time: t1, mib: m1 },
                        level,
                    });
                }
                "CHLD" => {
                    let id = f.next().unwrap_or("").to_owned();
                    let mib = number(path, n, f.next(), "the child's memory")?;
                    let time = number(path, n, f.next(), "the time")?;
                    match t.children.iter_mut().find(|(c, _)| *c == id) {
                        Some((_, v)) => v.push(Sample { time, mib }),
                        None => t.children.push((id, vec![Sample { time, mib }])),
                    }
                }
                "CMDLINE" => {
                    t.cmdline = Some(rest.to_owned());
                }
                "" => continue,
                _ => continue,
            }
            known += 1;
        }
        if known == 0 {
            return Err(Error::Format {
                path: path.to_path_buf(),
                problem: "not an mprof .dat file (no MEM, FUNC or CMDLINE line)".into(),
            });
        }
        Ok(t)
    }

    /// The command that was recorded, if the file says.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.dat");
    /// std::fs::write(
    ///     &path,
    ///     "CMDLINE ./app --fast\nMEM 1.5 10.0\nMEM 4.0 10.1\nFUNC app::load 1.5 10.0 4.0 10.1 0\nMEM 2.0 10.2\n",
    /// )
    /// .unwrap();
    /// let t = heapy::mprof::Timeline::load(&path).unwrap();
    /// assert_eq!(t.cmdline(), Some("./app --fast"));
    /// ```
    pub fn cmdline(&self) -> Option<&str> {
        self.cmdline.as_deref()
    }

    /// The MEM samples in file order: the exact live heap (the highest since the previous
    /// sample) when the program used heapy's census, else its RSS.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.dat");
    /// std::fs::write(
    ///     &path,
    ///     "CMDLINE ./app --fast\nMEM 1.5 10.0\nMEM 4.0 10.1\nFUNC app::load 1.5 10.0 4.0 10.1 0\nMEM 2.0 10.2\n",
    /// )
    /// .unwrap();
    /// let t = heapy::mprof::Timeline::load(&path).unwrap();
    /// let mib: Vec<f64> = t.mem().iter().map(|s| s.mib).collect();
    /// assert_eq!(mib, [1.5, 4.0, 2.0]);
    /// ```
    pub fn mem(&self) -> &[Sample] {
        &self.mem
    }

    /// The RSS samples heapy writes beside exact-heap MEM samples (empty in mprof's files).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.dat");
    /// std::fs::write(&path, "MEM 1.0 10.0\nRSS 7.5 10.0\n").unwrap();
    /// assert_eq!(heapy::mprof::Timeline::load(&path).unwrap().rss()[0].mib, 7.5);
    /// ```
    pub fn rss(&self) -> &[Sample] {
        &self.rss
    }

    /// The profiled calls (FUNC lines), in file order.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.dat");
    /// std::fs::write(
    ///     &path,
    ///     "CMDLINE ./app --fast\nMEM 1.5 10.0\nMEM 4.0 10.1\nFUNC app::load 1.5 10.0 4.0 10.1 0\nMEM 2.0 10.2\n",
    /// )
    /// .unwrap();
    /// let t = heapy::mprof::Timeline::load(&path).unwrap();
    /// assert_eq!(t.funcs().len(), 1);
    /// assert_eq!(t.funcs()[0].name, "app::load");
    /// ```
    pub fn funcs(&self) -> &[Func] {
        &self.funcs
    }

    /// Child processes' samples (CHLD lines), by child id.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.dat");
    /// std::fs::write(&path, "MEM 1.0 10.0\nCHLD 77 2.0 10.0\nCHLD 77 3.0 10.1\n").unwrap();
    /// let t = heapy::mprof::Timeline::load(&path).unwrap();
    /// assert_eq!(t.children()[0].0, "77");
    /// assert_eq!(t.children()[0].1.len(), 2);
    /// ```
    pub fn children(&self) -> &[(String, Vec<Sample>)] {
        &self.children
    }

    /// The highest MEM sample (the first one if several tie), or `None` with no samples.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.dat");
    /// std::fs::write(
    ///     &path,
    ///     "CMDLINE ./app --fast\nMEM 1.5 10.0\nMEM 4.0 10.1\nFUNC app::load 1.5 10.0 4.0 10.1 0\nMEM 2.0 10.2\n",
    /// )
    /// .unwrap();
    /// let t = heapy::mprof::Timeline::load(&path).unwrap();
    /// let p = t.peak().unwrap();
    /// assert_eq!((p.mib, p.time), (4.0, 10.1));
    /// ```
    pub fn peak(&self) -> Option<Sample> {
        self.mem
            .iter()
            .copied()
            .reduce(|a, b| if b.mib > a.mib { b } else { a })
    }

    /// The file's text (what [`Timeline::load`] reads back).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.dat");
    /// std::fs::write(&path, "CMDLINE x\nMEM 1.000000 10.0000\n").unwrap();
    /// let t = heapy::mprof::Timeline::load(&path).unwrap();
    /// assert_eq!(t.to_dat(), "CMDLINE x\nMEM 1.000000 10.0000\n");
    /// ```
    pub fn to_dat(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.cmdline {
            out.push_str(&cmdline_line(c));
        }
        for f in &self.funcs {
            let _ = writeln!(
                out,
                "FUNC {} {:.4} {:.4} {:.4} {:.4} {}",
                f.name, f.start.mib, f.start.time, f.end.mib, f.end.time, f.level
            );
        }
        for s in &self.mem {
            let _ = writeln!(out, "MEM {:.6} {:.4}", s.mib, s.time);
        }
        for s in &self.rss {
            let _ = writeln!(out, "RSS {:.6} {:.4}", s.mib, s.time);
        }
        for (id, v) in &self.children {
            for s in v {
                let _ = writeln!(out, "CHLD {id} {:.6} {:.4}", s.mib, s.time);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_memory_profiler_output() {
        // The file memory_profiler 0.61.0 wrote (shared/reference/memory-profiler-output.txt).
        let text = "FUNC __main__.f 22.9023 1795458576.7066 61.0508 1795458577.0365 0\n\
                    CMDLINE python3 mp2.py\n\
                    MEM 1.730469 1795458576.5575\n\
                    MEM 17.199219 1795458576.6581\n\
                    MEM 61.050781 1795458576.7588\n\
                    MEM 61.050781 1795458576.8594\n\
                    MEM 61.050781 1795458576.9600\n\
                    MEM 22.902344 1795458577.0606\n\
                    MEM 22.902344 1795458577.1613\n\
                    MEM 22.910156 1795458577.2649\n";
        let t = Timeline::parse(text, Path::new("mp2.dat")).unwrap();
        assert_eq!(t.cmdline(), Some("python3 mp2.py"));
        assert_eq!(t.mem().len(), 8);
        assert_eq!(t.peak().unwrap().time, 1795458576.7588);
        assert_eq!(t.funcs()[0].name, "__main__.f");
        assert_eq!(t.funcs()[0].end.mib, 61.0508);
    }

    #[test]
    fn lines_round_trip() {
        let mut text = cmdline_line("demo\n--x");
        text += &sample_line("MEM", 3 << 20, 10.25);
        text += &sample_line("RSS", 1 << 19, 10.25);
        text += &func_line("a b", (1 << 20, 10.0), (2 << 20, 10.5), 2);
        let t = Timeline::parse(&text, Path::new("x")).unwrap();
        assert_eq!(t.cmdline(), Some("demo --x"));
        assert_eq!(
            t.mem(),
            &[Sample {
                time: 10.25,
                mib: 3.0
            }]
        );
        assert_eq!(
            t.rss(),
            &[Sample {
                time: 10.25,
                mib: 0.5
            }]
        );
        assert_eq!(t.funcs()[0].name, "a_b");
        assert_eq!((t.funcs()[0].start.mib, t.funcs()[0].level), (1.0, 2));
    }

    #[test]
    fn bad_files_name_the_problem() {
        let p = Path::new("f.dat");
        let e = Timeline::parse("hello world\n", p).unwrap_err().to_string();
        assert!(e.contains("not an mprof .dat file"), "{e}");
        let e = Timeline::parse("MEM x 1.0\n", p).unwrap_err().to_string();
        assert!(
            e.contains("line 1: the memory is not a number: \"x\""),
            "{e}"
        );
        let e = Timeline::parse("MEM 1.0 2.0\nFUNC f 1 2 3\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2: the time at return is missing"), "{e}");
        let e = Timeline::parse("MEM inf 2.0\n", p).unwrap_err().to_string();
        assert!(e.contains("not a number"), "{e}");
        assert!(Timeline::parse("", p).is_err());
    }
}
