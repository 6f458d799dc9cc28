//! The result of one profiled call: memory_profiler's line table.

use std::cell::RefCell;
use std::fmt;

use crate::census::guard;

/// One source line of a [`LineProfile`].
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// #[heapy::profile(thread, stream = none)]
/// fn make() -> Vec<u8> {
///     let v = vec![0u8; 1024];
///     v
/// }
/// let v = make();
/// let p = heapy::LineProfile::last().unwrap();
/// let row = p.rows().find(|r| r.text().contains("vec![0u8; 1024]")).unwrap();
/// assert_eq!(row.increment_bytes(), Some(1024));
/// assert_eq!(row.occurrences(), 1);
/// # drop(v);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineRow {
    pub(crate) line: u32,
    pub(crate) text: String,
    /// (highest heap after the line, summed increment, occurrences), if it ran.
    pub(crate) figures: Option<(i64, i64, u64)>,
}

impl LineRow {
    /// The line number in the source file.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// const FN_LINE: u32 = line!() + 1;
    /// #[heapy::profile(thread, stream = none)]
    /// fn grow() -> usize {
    ///     let v: Vec<u64> = Vec::with_capacity(16);
    ///     v.len()
    /// }
    /// grow();
    /// let p = heapy::LineProfile::last().unwrap();
    /// let row = p.rows().find(|r| r.text().trim().starts_with("let v")).unwrap();
    /// assert_eq!(row.line(), FN_LINE + 2);
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The source text of the line.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// const FN_LINE: u32 = line!() + 1;
    /// #[heapy::profile(thread, stream = none)]
    /// fn grow() -> usize {
    ///     let v: Vec<u64> = Vec::with_capacity(16);
    ///     v.len()
    /// }
    /// grow();
    /// let p = heapy::LineProfile::last().unwrap();
    /// let row = p.rows().find(|r| r.text().trim().starts_with("let v")).unwrap();
    /// assert_eq!(row.text(), "    let v: Vec<u64> = Vec::with_capacity(16);");
    /// ```
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The highest heap figure after this line ran, in bytes (`None` if it never ran as
    /// the end of a statement).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// const FN_LINE: u32 = line!() + 1;
    /// #[heapy::profile(thread, stream = none)]
    /// fn grow() -> usize {
    ///     let v: Vec<u64> = Vec::with_capacity(16);
    ///     v.len()
    /// }
    /// grow();
    /// let p = heapy::LineProfile::last().unwrap();
    /// let row = p.rows().find(|r| r.text().trim().starts_with("let v")).unwrap();
    /// assert_eq!(row.mem_bytes(), Some(16 * 8)); // `thread`: counted from the call
    /// ```
    pub fn mem_bytes(&self) -> Option<i64> {
        self.figures.map(|f| f.0)
    }

    /// The heap change this line made, summed over its occurrences, in bytes.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// const FN_LINE: u32 = line!() + 1;
    /// #[heapy::profile(thread, stream = none)]
    /// fn grow() -> usize {
    ///     let v: Vec<u64> = Vec::with_capacity(16);
    ///     v.len()
    /// }
    /// grow();
    /// let p = heapy::LineProfile::last().unwrap();
    /// let row = p.rows().find(|r| r.text().trim().starts_with("let v")).unwrap();
    /// assert_eq!(row.increment_bytes(), Some(16 * 8));
    /// ```
    pub fn increment_bytes(&self) -> Option<i64> {
        self.figures.map(|f| f.1)
    }

    /// How many times a statement starting on this line finished.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// const FN_LINE: u32 = line!() + 1;
    /// #[heapy::profile(thread, stream = none)]
    /// fn grow() -> usize {
    ///     let v: Vec<u64> = Vec::with_capacity(16);
    ///     v.len()
    /// }
    /// grow();
    /// let p = heapy::LineProfile::last().unwrap();
    /// let row = p.rows().find(|r| r.text().trim().starts_with("let v")).unwrap();
    /// assert_eq!(row.occurrences(), 1);
    /// ```
    pub fn occurrences(&self) -> u64 {
        self.figures.map_or(0, |f| f.2)
    }
}

/// The line-by-line table of one call of a `#[heapy::profile]` function, printed in
/// memory_profiler's layout (`Line #    Mem usage    Increment  Occurrences   Line Contents`).
///
/// Mem usage is the heap after the line (the highest value if it ran several times), in
/// MiB; Increment is the change the line made, summed over its runs; Occurrences how many
/// times it ran. The figures are exact heap bytes from the census, not RSS. With the
/// `thread` option they count only the calling thread's allocations minus its frees since
/// the function was entered (so the first row is 0); otherwise they are the process's live
/// heap, and the first row (the attribute line) shows the heap at entry as both usage and
/// increment, as memory_profiler does, so that the increments add up to the heap after the
/// last line.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// #[heapy::profile(thread, precision = 3, stream = none)]
/// fn grow() -> usize {
///     let big = vec![0u8; 3 << 20];
///     let small = vec![1u8; 1 << 20];
///     drop(big);
///     small.len()
/// }
/// grow();
/// let p = heapy::LineProfile::last().unwrap();
/// let text = p.to_string();
/// assert!(text.contains("Line #    Mem usage    Increment  Occurrences   Line Contents"));
/// assert!(text.contains("   3.000 MiB    3.000 MiB           1       let big"));
/// assert!(text.contains("   1.000 MiB   -3.000 MiB           1       drop(big);"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineProfile {
    pub(crate) function: String,
    pub(crate) file: String,
    pub(crate) precision: usize,
    pub(crate) thread_only: bool,
    pub(crate) entry_bytes: i64,
    pub(crate) rows: Vec<LineRow>,
}

thread_local! {
    static LAST: RefCell<Option<LineProfile>> = const { RefCell::new(None) };
}

/// Keeps `p` as the calling thread's latest profile (call inside the guard).
pub(crate) fn set_last(p: LineProfile) {
    let _ = LAST.try_with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            *l = Some(p);
        }
    });
}

impl LineProfile {
    /// The profile of the latest call of a `#[heapy::profile]` function that returned on
    /// the calling thread (whatever its `stream` option), or `None` if there was none.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// #[heapy::profile(stream = none)]
    /// fn noop() {}
    /// noop();
    /// assert!(heapy::LineProfile::last().unwrap().function().ends_with("noop"));
    /// ```
    pub fn last() -> Option<LineProfile> {
        guard::internal(|| {
            LAST.try_with(|l| l.try_borrow().ok().and_then(|l| l.clone()))
                .ok()
                .flatten()
        })
    }

    /// The function, with its module path.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// #[heapy::profile(stream = none)]
    /// fn named() {}
    /// named();
    /// assert_eq!(heapy::LineProfile::last().unwrap().function(), "rust_out::named");
    /// ```
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The source file, as rustc names it.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// #[heapy::profile(stream = none)]
    /// fn f() {}
    /// f();
    /// assert!(heapy::LineProfile::last().unwrap().file().ends_with(".rs"));
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The rows as data: every line from the attribute to the closing brace, in order;
    /// `rows().len()` is the number of rows.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// #[heapy::profile(stream = none)]
    /// fn two_lines() {
    /// }
    /// two_lines();
    /// assert_eq!(heapy::LineProfile::last().unwrap().rows().len(), 3);
    /// ```
    pub fn rows(&self) -> std::slice::Iter<'_, LineRow> {
        self.rows.iter()
    }

    /// The row of source line `line` (a line number of the file), if it is part of the
    /// function.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// #[heapy::profile(stream = none)]
    /// fn f() {}
    /// f();
    /// let p = heapy::LineProfile::last().unwrap();
    /// let first = p.rows().next().unwrap().line();
    /// assert_eq!(p.line(first).unwrap().occurrences(), 1);
    /// assert!(p.line(first + 1000).is_none());
    /// ```
    pub fn line(&self, line: u32) -> Option<&LineRow> {
        self.rows.iter().find(|r| r.line == line)
    }

    /// True when the figures count only the calling thread (the `thread` option).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// #[heapy::profile(thread, stream = none)]
    /// fn f() {}
    /// f();
    /// assert!(heapy::LineProfile::last().unwrap().thread_only());
    /// ```
    pub fn thread_only(&self) -> bool {
        self.thread_only
    }

    /// The heap figure when the function was entered, in bytes (0 with `thread`).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// #[heapy::profile(thread, stream = none)]
    /// fn f() {}
    /// f();
    /// assert_eq!(heapy::LineProfile::last().unwrap().entry_bytes(), 0);
    /// ```
    pub fn entry_bytes(&self) -> i64 {
        self.entry_bytes
    }
}

const MIB: f64 = 1024.0 * 1024.0;

impl fmt::Display for LineProfile {
    /// memory_profiler's `show_results` layout, byte for byte.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.precision;
        let w = p + 4;
        let header = format!(
            "{:>6} {:>12} {:>12}  {:>10}   {}",
            "Line #", "Mem usage", "Increment", "Occurrences", "Line Contents"
        );
        writeln!(f, "Filename: {}", self.file)?;
        writeln!(f)?;
        writeln!(f, "{header}")?;
        writeln!(f, "{}", "=".repeat(header.len()))?;
        for r in &self.rows {
            let (mem, inc, occ) = match r.figures {
                Some((mem, inc, occ)) => (
                    format!("{:w$.p$} MiB", mem as f64 / MIB),
                    format!("{:w$.p$} MiB", inc as f64 / MIB),
                    occ.to_string(),
                ),
                None => (String::new(), String::new(), String::new()),
            };
            writeln!(
                f,
                "{:>6} {:>12} {:>12}  {:>10}   {}",
                r.line, mem, inc, occ, r.text
            )?;
        }
        writeln!(f)?;
        writeln!(f)
    }
}
