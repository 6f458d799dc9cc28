//! One frame of an allocation stack, resolved: the function, its source file and line.
//!
//! The one frame type of the crate: symbolization makes it, kind inference reads it, a
//! snapshot keeps the program's frames of each stack, snapshot files store it (its serde
//! form, `{"function":…,"file":…,"line":…}`, is part of the file format), and
//! [`Traceback::frames`](crate::Traceback::frames) hands it out.

use std::fmt;
use std::sync::{Arc, OnceLock};

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
#[derive(Clone)]
#[non_exhaustive]
pub struct Frame(Arc<Inner>);

/// A frame's text, shared by every stack the frame appears in (cloning a [`Frame`] copies a
/// pointer), with what snapshots ask of it again and again worked out once.
struct Inner {
    data: Data,
    /// What the frame is, found on first use.
    class: OnceLock<Class>,
    /// The frame as a table's label ([`Frame::label`]), made on first use.
    label: OnceLock<Arc<str>>,
    /// The frame as a table's full label ([`Frame::full_label`]), made on first use.
    full: OnceLock<Arc<str>>,
}

/// What a snapshot asks of every frame of every stack, worked out once per frame.
#[derive(Clone, Copy)]
struct Class {
    /// The program's (`infer::is_user_frame`).
    user: bool,
    /// The program's own crates' (`infer::is_own_frame`).
    own: bool,
    /// The global allocator's shim (`describe::is_shim`).
    shim: bool,
}

/// A frame's serde form (part of the snapshot file format).
#[derive(Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Data {
    /// The demangled function name, without hash (`<alloc::vec::Vec<u8>>::push`).
    function: String,
    file: Option<String>,
    line: Option<u32>,
}

impl Frame {
    /// A frame of `function`, in `file` at `line` when known.
    pub(crate) fn new(function: String, file: Option<String>, line: Option<u32>) -> Frame {
        Frame::from_data(Data {
            function,
            file,
            line,
        })
    }

    fn from_data(data: Data) -> Frame {
        Frame(Arc::new(Inner {
            data,
            class: OnceLock::new(),
            label: OnceLock::new(),
            full: OnceLock::new(),
        }))
    }

    fn class(&self) -> Class {
        *self.0.class.get_or_init(|| Class {
            user: super::infer::is_user_frame(self),
            own: super::infer::is_own_frame(self),
            shim: super::describe::is_shim(self.function()),
        })
    }

    /// True for a frame of the program (see `infer::is_user_frame`); worked out once.
    pub(crate) fn is_user(&self) -> bool {
        self.class().user
    }

    /// True for a frame of the program's own crates (see `infer::is_own_frame`); worked out
    /// once.
    pub(crate) fn is_own(&self) -> bool {
        self.class().own
    }

    /// True for a frame of the global allocator's shim (see `describe::is_shim`); worked out
    /// once.
    pub(crate) fn is_shim(&self) -> bool {
        self.class().shim
    }
}

impl Default for Frame {
    fn default() -> Frame {
        Frame::from_data(Data::default())
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.data == other.0.data
    }
}

impl Eq for Frame {}

impl std::hash::Hash for Frame {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.data.hash(state);
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0.data;
        f.debug_struct("Frame")
            .field("function", &d.function)
            .field("file", &d.file)
            .field("line", &d.line)
            .finish()
    }
}

impl Serialize for Frame {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.data.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Frame {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Frame, D::Error> {
        Data::deserialize(d).map(Frame::from_data)
    }
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
        &self.0.data.function
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
        self.0.data.file.as_deref()
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
        self.0.data.line
    }
}

impl Frame {
    /// The frame as a table's label (`bysite()`): as it prints, with a long generic
    /// function name's nested arguments elided (see `types::label_function`); the full name
    /// stays in the frame, in tracebacks and in [`full_label`](Frame::full_label). Made once
    /// per frame and shared.
    pub(crate) fn label(&self) -> Arc<str> {
        let label = self.0.label.get_or_init(|| {
            let d = &self.0.data;
            let short = Frame::new(
                super::types::label_function(&d.function),
                d.file.clone(),
                d.line,
            );
            Arc::from(short.to_string())
        });
        Arc::clone(label)
    }

    /// The frame as a table's full label (`{:#}` of a table, `heapy view --full`): as `{:#}`
    /// prints it, the function's full name and the file as [`file`](Frame::file) gives it.
    /// Made once per frame and shared.
    pub(crate) fn full_label(&self) -> Arc<str> {
        let full = self.0.full.get_or_init(|| Arc::from(format!("{self:#}")));
        Arc::clone(full)
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
        let d = &self.0.data;
        let file = match &d.file {
            Some(file) if f.alternate() => Some(std::borrow::Cow::Borrowed(file.as_str())),
            Some(file) => Some(super::source::short(file)),
            None => None,
        };
        match (file, d.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line} {}", d.function),
            (Some(file), None) => write!(f, "{file} {}", d.function),
            _ => f.write_str(&d.function),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_file_line_function() {
        let f =
            |file: Option<&str>, line| Frame::new("demo::load".into(), file.map(Into::into), line);
        assert_eq!(
            f(Some("src/main.rs"), Some(29)).to_string(),
            "src/main.rs:29 demo::load"
        );
        assert_eq!(
            f(Some("src/main.rs"), None).to_string(),
            "src/main.rs demo::load"
        );
        assert_eq!(f(None, Some(29)).to_string(), "demo::load");
    }

    #[test]
    fn a_dependencys_file_prints_short_and_full_with_the_alternate_form() {
        let path = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/\
                    serde_json-1.0.154/src/de.rs";
        let f = Frame::new(
            "serde_json::de::from_str".into(),
            Some(path.into()),
            Some(2033),
        );
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
        let f = Frame::new("demo::load".into(), Some("src/main.rs".into()), Some(20));
        let text = r#"{"function":"demo::load","file":"src/main.rs","line":20}"#;
        assert_eq!(serde_json::to_string(&f).unwrap(), text);
        assert_eq!(serde_json::from_str::<Frame>(text).unwrap(), f);
        let bare = r#"{"function":"f","file":null,"line":null}"#;
        assert_eq!(
            serde_json::to_string(&Frame::new("f".into(), None, None)).unwrap(),
            bare
        );
        assert!(
            serde_json::from_str::<Frame>(r#"{"function":"f","file":null,"line":null,"x":1}"#)
                .is_err()
        );
    }
}
