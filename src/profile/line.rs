//! The runtime of `#[heapy::profile]`: a guard made at function entry that reads the heap
//! after each statement and, when the function returns, builds the table.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::time::SystemTime;

use super::report::{self, LineProfile, LineRow};
use super::{recorder, scope::Scope};
use crate::census::guard;

/// Where a profiled function's table goes.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Standard error (the default).
    Stderr,
    /// Standard output.
    Stdout,
    /// Appended to a file.
    File(&'static str),
    /// Nowhere (the table is still kept for `LineProfile::last`).
    None,
}

/// What the attribute knows at compile time about the function it instruments.
#[doc(hidden)]
#[derive(Debug)]
pub struct FnInfo {
    /// `module::path::function`.
    pub name: &'static str,
    /// The source file as rustc names it.
    pub file: &'static str,
    /// The line of `lines[0]`.
    pub first_line: u32,
    /// The attribute's line (the row that shows the heap at entry).
    pub attr_line: u32,
    /// The source lines from the attribute to the closing brace.
    pub lines: &'static [&'static str],
    /// Decimals of the MiB figures.
    pub precision: usize,
    /// Where the table goes.
    pub stream: Stream,
    /// Count only the calling thread's allocations and frees.
    pub thread: bool,
}

thread_local! {
    /// Depth of profiled calls on this thread (the FUNC level of mprof). No destructor.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Figures of one line so far: summed increment, highest heap after it, times run.
#[derive(Clone, Copy, Default)]
struct Acc {
    inc: i64,
    max: i64,
    occ: u64,
}

/// Made by the attribute as the function's first local; finishes the table when dropped
/// (after every other local of the function is gone).
#[doc(hidden)]
pub struct Profiler {
    info: &'static FnInfo,
    scope: Scope,
    acc: RefCell<Vec<Acc>>,
    prev: Cell<i64>,
    entry_mem: i64,
    entry_live: u64,
    entry_time: SystemTime,
    level: u32,
}

impl Profiler {
    /// Starts profiling a call of `info`'s function: the attribute line gets the heap now.
    #[doc(hidden)]
    pub fn enter(info: &'static FnInfo) -> Profiler {
        guard::internal(|| {
            let scope = Scope::new(info.thread);
            let mem = scope.now();
            let mut acc = vec![Acc::default(); info.lines.len()];
            if let Some(a) = acc.get_mut((info.attr_line - info.first_line) as usize) {
                // As in memory_profiler: the first row's increment is the heap at entry, so
                // the increments of a call add up to the heap after its last line.
                *a = Acc {
                    inc: mem,
                    max: mem,
                    occ: 1,
                };
            }
            let level = DEPTH
                .try_with(|d| {
                    let l = d.get();
                    d.set(l + 1);
                    l
                })
                .unwrap_or(0);
            Profiler {
                info,
                scope,
                acc: RefCell::new(acc),
                prev: Cell::new(mem),
                entry_mem: mem,
                entry_live: recorder::live_bytes(),
                entry_time: SystemTime::now(),
                level,
            }
        })
    }

    /// Records that the statement starting on `line` has just run.
    #[doc(hidden)]
    #[inline]
    pub fn after(&self, line: u32) {
        let mem = self.scope.now();
        let i = line.wrapping_sub(self.info.first_line) as usize;
        if let Ok(mut acc) = self.acc.try_borrow_mut() {
            if let Some(a) = acc.get_mut(i) {
                a.inc += mem - self.prev.get();
                a.max = if a.occ == 0 { mem } else { a.max.max(mem) };
                a.occ += 1;
            }
        }
        self.prev.set(mem);
    }

    fn report(&self) -> LineProfile {
        let acc = self.acc.borrow();
        let rows = self
            .info
            .lines
            .iter()
            .zip(acc.iter())
            .enumerate()
            .map(|(i, (text, a))| LineRow {
                line: self.info.first_line + i as u32,
                text: (*text).to_owned(),
                figures: (a.occ > 0).then_some((a.max, a.inc, a.occ)),
            })
            .collect();
        LineProfile {
            function: self.info.name.to_owned(),
            file: self.info.file.to_owned(),
            precision: self.info.precision,
            thread_only: self.info.thread,
            entry_bytes: self.entry_mem,
            rows,
        }
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|d| d.set(self.level));
        guard::internal(|| {
            let profile = self.report();
            recorder::func(
                self.info.name,
                (self.entry_live, self.entry_time),
                self.level,
            );
            let text = profile.to_string();
            match self.info.stream {
                Stream::Stderr => {
                    let _ = std::io::stderr().lock().write_all(text.as_bytes());
                }
                Stream::Stdout => {
                    let _ = std::io::stdout().lock().write_all(text.as_bytes());
                }
                Stream::File(path) => {
                    let written = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .and_then(|mut f| f.write_all(text.as_bytes()));
                    if let Err(e) = written {
                        eprintln!(
                            "heapy: cannot write the profile of {} to {path}: {e}",
                            self.info.name
                        );
                    }
                }
                Stream::None => {}
            }
            report::set_last(profile);
        });
    }
}
