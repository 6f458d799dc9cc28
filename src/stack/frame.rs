//! One frame of an allocation stack, resolved: the function, its source file and line.
//!
//! The one frame type of the crate: symbolization makes it, kind inference reads it, a
//! snapshot keeps the program's frames of each stack, snapshot files store it (its serde
//! form, `{"function":…,"file":…,"line":…}`, is part of the file format), and
//! [`Traceback::frames`](crate::Traceback::frames) hands it out.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One frame of an allocation stack: the function (demangled, without its hash), and the
/// source file and line when the program has debug info.
///
/// [`Traceback::frames`](crate::Traceback::frames) lists them, most recent call first. A
/// frame prints as `src/main.rs:29 demo::load` (the function alone without debug info).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// fn load() -> Vec<u32> {
///     (0..10).collect()
/// }
///
/// let mark = heapy::hpy().mark();
/// let v = load();
/// let t = mark.heap().traceback();
/// let f = &t.frames()[0];
/// assert!(f.function().ends_with("::load"), "{f}");
/// if let (Some(file), Some(line)) = (f.file(), f.line()) {
///     assert_eq!(f.to_string(), format!("{file}:{line} {}", f.function()));
/// }
/// # drop(v);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Frame {
    /// The demangled function name, without hash (`<alloc::vec::Vec<u8>>::push`).
    pub(crate) function: String,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
}

impl Frame {
    /// The function, demangled and without its hash: `demo::load`, or
    /// `<alloc::vec::Vec<demo::Person>>::push` for a generic one (with
    /// `-C symbol-mangling-version=v0`). A frame no symbol covers shows its address (`0x…`).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// fn make() -> Box<u64> {
    ///     Box::new(5)
    /// }
    ///
    /// let mark = heapy::hpy().mark();
    /// let b = make();
    /// let t = mark.heap().traceback();
    /// assert!(t.frames()[0].function().ends_with("::make"), "{t}");
    /// # drop(b);
    /// ```
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The source file, relative to the current directory when it lies below it
    /// (`src/main.rs`), else as the debug info names it (a dependency's is an absolute path
    /// into cargo's registry, which the frame's `Display` shortens); `None` without debug
    /// info.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let b = Box::new(5u64);
    /// let t = mark.heap().traceback();
    /// for f in t.frames() {
    ///     // Doctests are built without debug info: no file, no line.
    ///     println!("{} in {}", f.function(), f.file().unwrap_or("<unknown file>"));
    /// }
    /// # drop(b);
    /// ```
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// The line in [`file`](Frame::file); `None` without debug info.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let b = Box::new(5u64);
    /// let t = mark.heap().traceback();
    /// let lines: Vec<Option<u32>> = t.frames().iter().map(|f| f.line()).collect();
    /// assert_eq!(lines.len(), t.frames().len());
    /// # drop(b);
    /// ```
    pub fn line(&self) -> Option<u32> {
        self.line
    }
}

impl Frame {
    /// The frame as a table's label (`bysite()`): as it prints, with a long generic
    /// function name's nested arguments elided (see `types::label_function`); the full name
    /// stays in the frame, and in tracebacks.
    pub(crate) fn label(&self) -> String {
        Frame {
            function: super::types::label_function(&self.function),
            file: self.file.clone(),
            line: self.line,
        }
        .to_string()
    }
}

/// `src/main.rs:29 demo::load`, `src/main.rs demo::load` without a line, `demo::load`
/// without a file. A dependency's file prints short, from its crate's directory
/// (`serde_json-1.0.154/src/de.rs:2033`, not the absolute path into cargo's registry; a git
/// checkout as `<repo>-<rev>/…`, Rust's library from `library/`: `std/src/…`); `{:#}`
/// prints the file as [`file`](Frame::file) gives it.
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let mark = heapy::hpy().mark();
/// let b = Box::new(5u64);
/// let t = mark.heap().traceback();
/// let f = &t.frames()[0];
/// // The program's own files print the same either way.
/// assert_eq!(f.to_string(), format!("{f:#}"));
/// # drop(b);
/// ```
impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = match &self.file {
            Some(file) if f.alternate() => Some(std::borrow::Cow::Borrowed(file.as_str())),
            Some(file) => Some(super::source::short(file)),
            None => None,
        };
        match (file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line} {}", self.function),
            (Some(file), None) => write!(f, "{file} {}", self.function),
            _ => f.write_str(&self.function),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_file_line_function() {
        let mut f = Frame {
            function: "demo::load".into(),
            file: Some("src/main.rs".into()),
            line: Some(29),
        };
        assert_eq!(f.to_string(), "src/main.rs:29 demo::load");
        f.line = None;
        assert_eq!(f.to_string(), "src/main.rs demo::load");
        f.file = None;
        assert_eq!(f.to_string(), "demo::load");
    }

    #[test]
    fn a_dependencys_file_prints_short_and_full_with_the_alternate_form() {
        let path = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/\
                    serde_json-1.0.154/src/de.rs";
        let f = Frame {
            function: "serde_json::de::from_str".into(),
            file: Some(path.into()),
            line: Some(2033),
        };
        assert_eq!(f.file(), Some(path));
        assert_eq!(
            f.to_string(),
            "serde_json-1.0.154/src/de.rs:2033 serde_json::de::from_str"
        );
        assert_eq!(
            format!("{f:#}"),
            format!("{path}:2033 serde_json::de::from_str")
        );
    }

    #[test]
    fn serde_form_is_the_snapshot_files() {
        let f = Frame {
            function: "demo::load".into(),
            file: Some("src/main.rs".into()),
            line: Some(20),
        };
        let text = r#"{"function":"demo::load","file":"src/main.rs","line":20}"#;
        assert_eq!(serde_json::to_string(&f).unwrap(), text);
        assert_eq!(serde_json::from_str::<Frame>(text).unwrap(), f);
        let bare = r#"{"function":"f","file":null,"line":null}"#;
        assert_eq!(
            serde_json::to_string(&Frame {
                function: "f".into(),
                ..Frame::default()
            })
            .unwrap(),
            bare
        );
        assert!(
            serde_json::from_str::<Frame>(r#"{"function":"f","file":null,"line":null,"x":1}"#)
                .is_err()
        );
    }
}
