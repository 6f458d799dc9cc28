//! Kind inference from the std container frames of an allocation's stack.
//!
//! With v0 mangling, the frames between the allocator shim and the program's own code name
//! the container and its element type: `<alloc::raw_vec::RawVec<demo::Person>>::grow_one`,
//! `<alloc::boxed::Box<alloc::rc::RcInner<demo::Person>>>::new`,
//! `<hashbrown::raw::RawTable<(u32, demo::Person)>>::reserve_rehash`. Non-generic frames
//! (`RawVecInner`, `finish_grow`) name nothing and are passed over. With legacy mangling the
//! arguments are missing and no rule matches: the caller falls back to the call site.

use super::types::{self_type, short, split, tuple};
use super::Frame;

/// True for a frame of the program: not heapy, the allocator shims, std or its crates (by
/// name, or by a source file inside Rust's own library, for trait impls std provides for
/// the program's types, such as `<demo::P as SpecFromElem>::from_elem`).
pub(crate) fn is_user_frame(f: &Frame) -> bool {
    is_user(f.function())
        && !f
            .file()
            .is_some_and(|p| super::source::origin(p) == super::source::Origin::Std)
}

/// Of the user frames (see [`is_user_frame`]), true for one of the program's own crates,
/// not a dependency's: its file is not in cargo's registry or git checkouts (see
/// `source`). Without a file (no debug info) nothing tells them apart: every user frame
/// counts.
pub(crate) fn is_own_frame(f: &Frame) -> bool {
    f.file()
        .is_none_or(|p| super::source::origin(p) == super::source::Origin::Program)
}

/// True for a function of the program (by name alone).
pub(crate) fn is_user(function: &str) -> bool {
    // The C runtime's frames around `main` and thread starts.
    const C_RUNTIME: &[&str] = &[
        "main",
        "_start",
        "start_thread",
        "clone",
        "clone3",
        "__libc_start_main",
        "__libc_start_call_main",
        "__clone",
        "__clone3",
    ];
    if C_RUNTIME.contains(&function) || function.starts_with("__libc_") {
        return false;
    }
    let f = function.trim_start_matches('<');
    const NOT_USER: &[&str] = &[
        "heapy::",
        "heapy_macros::",
        "std::",
        "core::",
        "alloc::",
        "hashbrown::",
        "backtrace::",
        "__rust",
        "__rdl",
        "__rg",
        "_ZN",
        "0x",
        "dhat::",
        "[",
        "&",
        "str as ",
        "u8 as ",
        "i8 as ",
        "i16 as ",
        "u16 as ",
        "i32 as ",
        "u32 as ",
        "i64 as ",
        "u64 as ",
        "i128 as ",
        "u128 as ",
        "isize as ",
        "usize as ",
        "f32 as ",
        "f64 as ",
        "bool as ",
        "char as ",
        "fn(",
        "dyn ",
    ];
    !NOT_USER.iter().any(|p| f.starts_with(p))
}

/// The byte-string type a `Vec<u8>` buffer belongs to, from the frames around it: `String`
/// (see `makes_string`), or the outermost of `PathBuf`, `OsString`, `CString` (a PathBuf's
/// buffer is grown by OsString's methods).
fn byte_string_kind(outer: &[Frame]) -> Option<&'static str> {
    if outer.iter().any(|f| makes_string(f.function())) {
        return Some("String");
    }
    outer.iter().rev().find_map(|f| {
        if f.function()
            .contains("alloc::ffi::c_str::CString::new::SpecNewImpl")
        {
            return Some("CString");
        }
        let (ty, _) = self_type(f.function())?;
        match split(ty).0 {
            "std::path::PathBuf" => Some("PathBuf"),
            "std::ffi::os_str::OsString" => Some("OsString"),
            "alloc::ffi::c_str::CString" => Some("CString"),
            _ => None,
        }
    })
}

/// True when a frame says the bytes being allocated become a `String`: a method of
/// `String` itself (its self type, not a collection that merely holds Strings), `format!`,
/// `to_string`, `to_owned` on `str`, or a `str` method that returns a `String`.
fn makes_string(function: &str) -> bool {
    let f = function.trim_start_matches('<');
    f.starts_with("alloc::string::String>")
        || f.starts_with("alloc::string::String as ")
        || f.starts_with("alloc::fmt::format")
        || f.starts_with("str as alloc::borrow::ToOwned>")
        || f.starts_with("str>::")
        || f.starts_with("alloc::str::<impl str>")
        || function.contains(" as alloc::string::ToString>::to_string")
        || function.contains(" as alloc::string::SpecToString>::spec_to_string")
}

/// The kind named by the std frames `inner` (innermost first, up to the first user frame).
pub(crate) fn kind(inner: &[Frame]) -> Option<String> {
    for (i, f) in inner.iter().enumerate() {
        let Some((ty, method)) = self_type(f.function()) else {
            continue;
        };
        let (path, args) = split(ty);
        let outer = &inner[i + 1..];
        if path == "alloc::string::String" {
            // A String growing through the untyped `RawVecInner` (no `RawVec<u8>` frame).
            return Some("String".to_string());
        }
        let Some(t) = args.first().copied() else {
            continue;
        };
        if is_param(t) {
            // Legacy mangling prints the generic parameters (`RawVec<T>`), not the types:
            // nothing to infer, the caller falls back to the call site.
            return None;
        }
        match path {
            "alloc::raw_vec::RawVec" | "alloc::vec::Vec" => {
                let t = vec_element(outer).unwrap_or(t);
                if let Some(dq) = outer.iter().find_map(|f| container(f, "VecDeque", t)) {
                    return Some(dq);
                }
                if t == "u8" {
                    if let Some(k) = byte_string_kind(outer) {
                        return Some(k.to_string());
                    }
                }
                if let Some(h) = outer.iter().find_map(|f| container(f, "BinaryHeap", t)) {
                    return Some(h);
                }
                return Some(format!("Vec<{}>", short(t)));
            }
            "alloc::sync::Arc" | "alloc::rc::Rc" => {
                // Slices and `str` (`Arc<str>`, `Rc<[u8]>`) are allocated without a Box:
                // the outermost such frame names the type the program asked for.
                let name = if path == "alloc::sync::Arc" {
                    "Arc"
                } else {
                    "Rc"
                };
                let last = outer
                    .iter()
                    .take_while(|f| {
                        self_type(f.function()).is_some_and(|(ty, _)| split(ty).0 == path)
                    })
                    .last()
                    .and_then(|f| self_type(f.function()))
                    .and_then(|(ty, _)| split(ty).1.first().copied())
                    .unwrap_or(t);
                return Some(format!("{name}<{}>", short(last)));
            }
            "alloc::boxed::Box" => return Some(boxed(t, method)),
            "hashbrown::raw::RawTable" => return Some(table(t, outer)),
            "alloc::collections::vec_deque::VecDeque" => {
                return Some(format!("VecDeque<{}>", short(t)))
            }
            _ => continue,
        }
    }
    None
}

/// True for a generic parameter name such as `T` (legacy symbols) rather than a type: v0
/// symbols print types with their full path (`demo::Person`) or as primitives (`u8`).
fn is_param(t: &str) -> bool {
    let t = t.trim_start_matches('(');
    t.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ',' || c == ' ' || c == ')')
        && !t.contains("::")
}

/// The std container `name` a frame belongs to, as `Name<T>`, if it is one and its
/// element type is `t` (the buffer being allocated is that container's own, not one of its
/// elements').
fn container(f: &Frame, name: &str, t: &str) -> Option<String> {
    let (ty, _) = self_type(f.function())?;
    let (path, args) = split(ty);
    if path.rsplit("::").next() != Some(name) || !path.starts_with("alloc::") {
        return None;
    }
    let elem = args.first().copied()?;
    (elem == t).then(|| format!("{name}<{}>", short(elem)))
}

/// The element type of the `Vec` method frame that follows a buffer's `RawVec` frames, if
/// any. It is the truth when the two differ: identical code folding can leave the physical
/// frame of another instance (`RawVec<isize>` for a `Vec<u64>`'s buffer) under the inlined
/// `Vec<u64>` frame.
fn vec_element(outer: &[Frame]) -> Option<&str> {
    for f in outer {
        let (ty, _) = self_type(f.function())?;
        let (path, args) = split(ty);
        match path {
            "alloc::raw_vec::RawVec" | "alloc::raw_vec::RawVecInner" => continue,
            "alloc::vec::Vec" => return args.first().copied(),
            _ => return None,
        }
    }
    None
}

/// The kind of a `Box<T>` allocation: the inner boxes of `Rc` and `Arc`, BTreeMap nodes,
/// and the array that `vec![a, b, c]` builds its Vec from.
fn boxed(t: &str, method: &str) -> String {
    let (path, args) = split(t);
    let first = args.first().copied().unwrap_or("?");
    match path {
        "alloc::rc::RcInner" | "alloc::rc::RcBox" => format!("Rc<{}>", short(first)),
        "alloc::collections::linked_list::Node" => format!("LinkedList<{}>", short(first)),
        "alloc::sync::ArcInner" => format!("Arc<{}>", short(first)),
        "alloc::collections::btree::node::LeafNode"
        | "alloc::collections::btree::node::InternalNode" => {
            let v = args.get(1).copied().unwrap_or("()");
            if v == "alloc::collections::btree::set_val::SetValZST" || v == "()" {
                format!("BTreeSet<{}>", short(first))
            } else {
                format!("BTreeMap<{}, {}>", short(first), short(v))
            }
        }
        _ => {
            // `vec![a, b]` is `<[_]>::into_vec(Box::new_uninit() of [T; N])`.
            if method.starts_with("new_uninit") {
                if let Some(inner) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                    if let Some((elem, _n)) = inner.rsplit_once(';') {
                        return format!("Vec<{}>", short(elem.trim()));
                    }
                }
            }
            format!("Box<{}>", short(t))
        }
    }
}

/// The kind of a hash table allocation: `(K, V)` is a `HashMap<K, V>`, `(T, ())` a
/// `HashSet<T>` unless std's `HashMap` frame says it is a `HashMap<T, ()>`.
fn table(t: &str, outer: &[Frame]) -> String {
    match tuple(t).as_deref() {
        Some([k, "()"]) => {
            // hashbrown's HashSet is a map to (): the std wrapper frame tells them apart.
            let map = outer.iter().find_map(|f| {
                let (ty, _) = self_type(f.function())?;
                match split(ty).0 {
                    "std::collections::hash::map::HashMap" => Some(true),
                    p if p.ends_with("::HashSet") => Some(false),
                    _ => None,
                }
            });
            if map == Some(true) {
                format!("HashMap<{}, ()>", short(k))
            } else {
                format!("HashSet<{}>", short(k))
            }
        }
        Some([k, v]) => format!("HashMap<{}, {}>", short(k), short(v)),
        _ => format!("HashSet<{}>", short(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Frame {
        Frame::new(s.to_string(), None, None)
    }

    #[test]
    fn containers() {
        let k = |fs: &[&str]| kind(&fs.iter().map(|s| f(s)).collect::<Vec<_>>());
        assert_eq!(
            k(&[
                "<alloc::raw_vec::RawVecInner>::finish_grow",
                "<alloc::raw_vec::RawVec<demo::Person>>::grow_one"
            ]),
            Some("Vec<demo::Person>".into())
        );
        assert_eq!(
            k(&[
                "<alloc::raw_vec::RawVec<u8>>::with_capacity_in",
                "<alloc::string::String as core::convert::From<&str>>::from"
            ]),
            Some("String".into())
        );
        assert_eq!(
            k(&["<alloc::boxed::Box<alloc::rc::RcInner<demo::P>>>::new"]),
            Some("Rc<demo::P>".into())
        );
        assert_eq!(
            k(&["<alloc::boxed::Box<alloc::collections::btree::node::LeafNode<u32, demo::P>>>::try_new_uninit_in"]),
            Some("BTreeMap<u32, demo::P>".into())
        );
        assert_eq!(
            k(&["<alloc::boxed::Box<[alloc::boxed::Box<demo::P>; 2]>>::new_uninit"]),
            Some("Vec<Box<demo::P>>".into())
        );
        assert_eq!(
            k(&["<hashbrown::raw::RawTable<(u64, ())>>::reserve_rehash::<x>"]),
            Some("HashSet<u64>".into())
        );
        assert_eq!(
            k(&[
                "<alloc::raw_vec::RawVec<demo::P>>::grow_one",
                "<alloc::collections::vec_deque::VecDeque<demo::P>>::grow"
            ]),
            Some("VecDeque<demo::P>".into())
        );
        assert_eq!(k(&["<alloc::raw_vec::RawVecInner>::finish_grow"]), None);
        // An element's buffer is not its container's (`VecDeque<String>::extend`, a
        // `VecDeque<Vec<u8>>` clone).
        assert_eq!(
            k(&[
                "<alloc::raw_vec::RawVec<u8>>::with_capacity_in",
                "<alloc::string::String as core::clone::Clone>::clone",
                "<alloc::collections::vec_deque::VecDeque<alloc::string::String>>::extend"
            ]),
            Some("String".into())
        );
        assert_eq!(
            k(&[
                "<alloc::raw_vec::RawVec<u8>>::with_capacity_in",
                "<alloc::vec::Vec<u8> as core::clone::Clone>::clone",
                "<alloc::collections::vec_deque::VecDeque<alloc::vec::Vec<u8>> as core::clone::Clone>::clone"
            ]),
            Some("Vec<u8>".into())
        );
        // A collection that holds Strings does not make every byte buffer a String.
        assert_eq!(
            k(&[
                "<alloc::raw_vec::RawVec<u8>>::with_capacity_in",
                "<alloc::vec::Vec<u8> as core::clone::Clone>::clone",
                "<hashbrown::raw::RawTable<(alloc::string::String, alloc::vec::Vec<u8>)> as core::clone::Clone>::clone"
            ]),
            Some("Vec<u8>".into())
        );
        // Identical code folding: the inlined Vec frame names the element.
        assert_eq!(
            k(&[
                "<alloc::raw_vec::RawVec<isize>>::grow_one",
                "<alloc::vec::Vec<u64>>::push"
            ]),
            Some("Vec<u64>".into())
        );
        // str methods that return a String.
        assert_eq!(
            k(&[
                "<alloc::raw_vec::RawVec<u8>>::with_capacity_in",
                "<alloc::vec::Vec<u8>>::with_capacity",
                "<str>::to_uppercase"
            ]),
            Some("String".into())
        );
        // A String growing through RawVecInner only.
        assert_eq!(
            k(&[
                "<alloc::raw_vec::RawVecInner>::reserve::do_reserve_and_handle",
                "<alloc::string::String>::reserve"
            ]),
            Some("String".into())
        );
        // Arc<str> and Rc<[u8]>: the outermost Arc/Rc frame names the type.
        assert_eq!(
            k(&[
                "<alloc::sync::Arc<[u8]>>::allocate_for_slice",
                "<alloc::sync::Arc<[u8]>>::copy_from_slice",
                "<alloc::sync::Arc<str> as core::convert::From<&str>>::from"
            ]),
            Some("Arc<str>".into())
        );
        assert_eq!(
            k(&["<alloc::rc::Rc<[u8]>>::allocate_for_slice"]),
            Some("Rc<[u8]>".into())
        );
        assert_eq!(
            k(&[
                "<alloc::raw_vec::RawVec<u8>>::reserve",
                "<alloc::vec::Vec<u8>>::extend_from_slice",
                "<std::ffi::os_str::OsString>::push::<&std::path::Path>",
                "<std::path::PathBuf>::push::<&str>"
            ]),
            Some("PathBuf".into())
        );
        assert_eq!(
            k(&["<alloc::boxed::Box<alloc::collections::linked_list::Node<u32>, &alloc::alloc::Global>>::new_in"]),
            Some("LinkedList<u32>".into())
        );
        let set_or_map = |wrapper: &str| {
            k(&[
                "<hashbrown::raw::RawTable<(u32, ())>>::reserve_rehash",
                "<hashbrown::map::HashMap<u32, (), std::hash::random::RandomState>>::insert",
                wrapper,
            ])
        };
        assert_eq!(
            set_or_map("<std::collections::hash::map::HashMap<u32, ()>>::insert"),
            Some("HashMap<u32, ()>".into())
        );
        assert_eq!(
            set_or_map("<std::collections::hash::set::HashSet<u32>>::insert"),
            Some("HashSet<u32>".into())
        );
        // Legacy symbols name parameters, not types.
        assert_eq!(k(&["<alloc::raw_vec::RawVec<T>>::grow_one"]), None);
        assert_eq!(
            k(&["<hashbrown::raw::RawTable<(K, V)>>::reserve_rehash"]),
            None
        );
        assert!(is_user("demo::work"));
        assert!(is_user("<demo::Person as core::clone::Clone>::clone"));
        assert!(!is_user("<alloc::vec::Vec<u8>>::push"));
    }
}
