//! `Recorder`: a background thread that samples the heap into an mprof `.dat` file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::census::{self, guard};
use crate::export::mprof;
use crate::{sys, Error, Result};

/// The file of the running recorder. A std `Mutex` never allocates, and it is taken only
/// by the sampler thread, when a recorder starts or stops, when a profiled function
/// returns and at exit, never in the allocator; always through [`with_sink`].
static SINK: Mutex<Option<Sink>> = Mutex::new(None);

struct Sink {
    out: BufWriter<File>,
    path: PathBuf,
    /// The first write error, reported by `stop`.
    error: Option<std::io::Error>,
    /// MEM is the exact heap (the census is installed) rather than RSS.
    heap: bool,
    /// The process that opened the file (`sys::fork::generation`). A child of `fork()`
    /// leaves it alone: the timeline is its parent's.
    generation: u32,
}

impl Sink {
    fn write(&mut self, line: &str) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(line.as_bytes()) {
                self.error = Some(e);
            }
        }
    }
}

/// Runs `f` on the running recorder's file, locked, as a fork-safe section (`sys::fork`):
/// the lock is never held across a `fork()`, so a child never waits for it.
///
/// In a child of `fork()` the file is the parent's: it is let go first, as the child's own
/// copy of it, unwritten (the lines its buffer holds are the parent's to write: they are
/// dropped, not flushed), and `f` finds no recorder.
fn with_sink<R>(f: impl FnOnce(&mut Option<Sink>) -> R) -> R {
    guard::internal(|| {
        sys::fork::section(|| {
            // A panic while the lock was held leaves at worst a partial line.
            let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
            if sink
                .as_ref()
                .is_some_and(|s| s.generation != sys::fork::generation())
            {
                if let Some(s) = sink.take() {
                    // `into_parts` gives the buffer back without writing it; the file (this
                    // process's descriptor only) is closed as it drops.
                    drop(s.out.into_parts());
                }
            }
            f(&mut sink)
        })
    })
}

/// Unix time now, in seconds.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Live heap bytes of the process now.
pub(crate) fn live_bytes() -> u64 {
    census::collect_stats().live_bytes
}

/// Writes a FUNC bracket for a profiled call that began at `start` (heap bytes, time), if a
/// recorder is running. Call inside the reentrancy guard.
pub(crate) fn func(name: &str, start: (u64, SystemTime), level: u32) {
    with_sink(|sink| {
        if let Some(s) = sink.as_mut() {
            let line = mprof::func_line(
                name,
                (start.0, unix(start.1)),
                (live_bytes(), unix_now()),
                level,
            );
            s.write(&line);
        }
    });
}

/// Takes one sample: MEM (the highest heap since the last sample, or RSS when the census
/// is not installed) and, beside an exact heap, RSS.
fn sample(sink: &mut Sink) {
    let t = unix_now();
    let rss = sys::rss_bytes();
    if !sink.heap && census::is_installed() {
        sink.heap = true;
    }
    if sink.heap {
        let peak = census::take_window_peak();
        sink.write(&mprof::sample_line("MEM", peak, t));
        if let Some(rss) = rss {
            sink.write(&mprof::sample_line("RSS", rss, t));
        }
    } else if let Some(rss) = rss {
        sink.write(&mprof::sample_line("MEM", rss, t));
    }
    if let Err(e) = sink.out.flush() {
        sink.error.get_or_insert(e);
    }
}

/// Records the heap over time into an mprof `.dat` file, as `mprof run` does for Python.
///
/// A background thread writes a `MEM <MiB> <unix time>` line every interval (0.1 s by
/// default, as mprof): the exact live heap from the census, and each sample carries the
/// **highest** live heap since the previous one, so a peak shorter than the interval is not
/// missed (the figure has the census's peak granularity: exact for allocations of 16 KiB
/// or more, within 16 KiB per allocating thread otherwise). Beside it, an `RSS` line gives
/// the resident set size (mprof ignores these lines; `heapy mprof plot` draws them). If the
/// census is not the global allocator, MEM is the RSS, as in mprof. Every call of a
/// `#[heapy::profile]` function that returns while the recorder runs adds a
/// `FUNC <name> <MiB> <t> <MiB> <t> <level>` bracket. The file is flushed after each sample,
/// and read back by [`Timeline::load`](crate::mprof::Timeline::load), `heapy mprof plot` and
/// `mprof plot`.
///
/// One recorder runs at a time in a process. The recorder's own work (its thread, buffers,
/// file) is heapy's and never shows in a census. A child of `fork()` records nothing into
/// its parent's file (no sample, no FUNC line, no last sample at exit), and
/// [`stop`](Recorder::stop) on a recorder it inherited returns [`Error::NotRecording`]; it
/// may start a recorder of its own, into a file of its own.
///
/// `HEAPY_MPROF=<path>` in the environment starts one with no code change: see the README.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("run.dat");
/// let rec = heapy::Recorder::start_every(&path, std::time::Duration::from_millis(5)).unwrap();
/// let v = vec![0u8; 4 << 20];
/// std::thread::sleep(std::time::Duration::from_millis(30));
/// drop(v);
/// rec.stop().unwrap();
/// let t = heapy::mprof::Timeline::load(&path).unwrap();
/// assert!(t.peak().unwrap().mib >= 4.0);
/// ```
#[must_use = "the recorder stops when dropped"]
#[doc(alias("mprof", "timeline"))]
#[non_exhaustive]
pub struct Recorder {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// The process that started it (`sys::fork::generation`): in a child of `fork()` its
    /// thread does not exist and its file is the parent's.
    generation: u32,
}

impl Recorder {
    /// Starts recording into `path` (created or truncated), sampling every 0.1 s.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let rec = heapy::Recorder::start(dir.path().join("a.dat")).unwrap();
    /// // A second one at the same time is refused.
    /// assert!(heapy::Recorder::start(dir.path().join("b.dat")).is_err());
    /// rec.stop().unwrap();
    /// ```
    #[doc(alias("record", "mprof_run"))]
    pub fn start(path: impl AsRef<Path>) -> Result<Recorder> {
        Recorder::start_every(path, Duration::from_millis(100))
    }

    /// Starts recording into `path`, sampling every `interval` (at least 1 ms).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("fast.dat");
    /// let rec = heapy::Recorder::start_every(&path, std::time::Duration::from_millis(1)).unwrap();
    /// std::thread::sleep(std::time::Duration::from_millis(20));
    /// rec.stop().unwrap();
    /// assert!(heapy::mprof::Timeline::load(&path).unwrap().mem().len() >= 2);
    /// ```
    pub fn start_every(path: impl AsRef<Path>, interval: Duration) -> Result<Recorder> {
        let path = path.as_ref();
        let interval = interval.max(Duration::from_millis(1));
        guard::internal(|| {
            with_sink(|sink| {
                if let Some(s) = sink.as_ref() {
                    return Err(Error::RecorderRunning {
                        path: s.path.clone(),
                    });
                }
                let file = File::create(path).map_err(|source| Error::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
                let mut s = Sink {
                    out: BufWriter::new(file),
                    path: path.to_path_buf(),
                    error: None,
                    heap: census::is_installed(),
                    generation: sys::fork::generation(),
                };
                let cmd: Vec<String> = std::env::args().collect();
                s.write(&mprof::cmdline_line(&cmd.join(" ")));
                // Start the peak window now: what happened before the recorder is not its
                // business.
                census::take_window_peak();
                sample(&mut s);
                *sink = Some(s);
                Ok(())
            })?;
            let (tx, rx) = mpsc::channel::<()>();
            let thread = std::thread::Builder::new()
                .name("heapy-recorder".into())
                .spawn(move || {
                    // The whole thread is heapy's own: nothing it allocates is counted.
                    guard::internal(|| {
                        while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                            with_sink(|sink| {
                                if let Some(s) = sink.as_mut() {
                                    sample(s);
                                }
                            });
                        }
                    })
                });
            match thread {
                Ok(thread) => Ok(Recorder {
                    stop: Some(tx),
                    thread: Some(thread),
                    generation: sys::fork::generation(),
                }),
                Err(source) => {
                    with_sink(Option::take);
                    Err(Error::Io {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            }
        })
    }

    /// Takes a last sample, closes the file and returns its path, or the first error met
    /// while writing it.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let rec = heapy::Recorder::start(dir.path().join("x.dat")).unwrap();
    /// assert_eq!(rec.stop().unwrap(), dir.path().join("x.dat"));
    /// ```
    pub fn stop(mut self) -> Result<PathBuf> {
        self.finish()
    }

    fn finish(&mut self) -> Result<PathBuf> {
        guard::internal(|| {
            if self.generation != sys::fork::generation() {
                // A recorder inherited through `fork()`: its thread is the parent's (joining
                // it would wait forever) and so is its channel (whose locks that thread may
                // have held); both are let go untouched, and the file is the parent's to
                // finish (`with_sink` lets the child's copy go).
                core::mem::forget(self.stop.take());
                core::mem::forget(self.thread.take());
                with_sink(|_| ());
                return Err(Error::NotRecording);
            }
            drop(self.stop.take());
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
            finish_sink()
        })
    }
}

/// Last sample, flush, close. Call inside the guard.
fn finish_sink() -> Result<PathBuf> {
    let Some(mut s) = with_sink(Option::take) else {
        return Err(Error::NotRecording);
    };
    sample(&mut s);
    let flushed = s.out.flush();
    let path = s.path.clone();
    match s.error.take().map_or(flushed, Err) {
        Ok(()) => Ok(path),
        Err(source) => Err(Error::Io { path, source }),
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.finish();
        }
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

/// Starts a recorder that lives until the process exits (for `HEAPY_MPROF`): a final sample
/// is written by an `atexit` handler.
pub(crate) fn start_for_process(path: &Path, interval: Duration) -> Result<()> {
    let rec = Recorder::start_every(path, interval)?;
    std::mem::forget(rec);
    // In a child of `fork()` it writes nothing: the file is the parent's (see `with_sink`).
    extern "C" fn at_exit() {
        guard::internal(|| {
            with_sink(|sink| {
                if let Some(s) = sink.as_mut() {
                    sample(s);
                    let _ = s.out.flush();
                }
            })
        });
    }
    // SAFETY: `at_exit` is a plain `extern "C" fn()` that never unwinds (it only writes a
    // line and flushes, ignoring errors).
    unsafe { libc::atexit(at_exit) };
    Ok(())
}
