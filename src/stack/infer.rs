//! Kind inference from the std container frames of an allocation's stack.
//!
//! With v0 mangling, the frames between the allocator shim and the program's own code name
//! the container and its element type: `<alloc::raw_vec::RawVec<demo::Person>>::grow_one`,
//! `<alloc::boxed::Box<alloc::rc::RcInner<demo::Person>>>::new`,
//! `<hashbrown::raw::RawTable<(u32, demo::Person)>>::reserve_rehash`. Non-generic frames
//! (`RawVecInner`, `finish_grow`) name nothing and are passed over. With legacy mangling the
//! arguments are missing and no rule matches: the caller falls back to the call site.

use super::symbolize::SymFrame;
use super::types::{self_type, short, split, tuple};

/// True for a frame of the program: not heapy, the allocator shims, std or its crates (by
/// name, or by a source file inside Rust's own library, for trait impls std provides for
/// the program's types, such as `<demo::P as SpecFromElem>::from_elem`).
pub(crate) fn is_user_frame(f: &SymFrame) -> bool {
    is_user(&f.function)
        && !f.file.as_deref().is_some_and(|p| {
            // std's sources, and the crates std is built with (hashbrown, ...).
            p.starts_with("/rustc/")
                || p.starts_with("/rust/deps/")
                || p.contains("/lib/rustlib/src/")
        })
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

/// True when a frame says the bytes being allocated become a `String`.
fn makes_string(function: &str) -> bool {
    function.contains("alloc::string::String")
        || function.starts_with("alloc::fmt::format")
        || function.contains("<str as alloc::borrow::ToOwned>::to_owned")
        || function.contains("alloc::string::ToString>::to_string")
        || function.contains("alloc::str::<impl str>")
}

/// The kind named by the std frames `inner` (innermost first, up to the first user frame).
pub(crate) fn kind(inner: &[SymFrame]) -> Option<String> {
    for (i, f) in inner.iter().enumerate() {
        let Some((ty, method)) = self_type(&f.function) else {
            continue;
        };
        let (path, args) = split(ty);
        let outer = &inner[i + 1..];
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
                if let Some(dq) = outer.iter().find_map(|f| container(f, "VecDeque")) {
                    return Some(dq);
                }
                if t == "u8" && outer.iter().any(|f| makes_string(&f.function)) {
                    return Some("String".to_string());
                }
                if let Some(h) = outer.iter().find_map(|f| container(f, "BinaryHeap")) {
                    return Some(h);
                }
                return Some(format!("Vec<{}>", short(t)));
            }
            "alloc::boxed::Box" => return Some(boxed(t, method)),
            "hashbrown::raw::RawTable" => return Some(table(t)),
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

/// The std container `name` a frame belongs to, as `Name<T>`, if it is one.
fn container(f: &SymFrame, name: &str) -> Option<String> {
    let (ty, _) = self_type(&f.function)?;
    let (path, args) = split(ty);
    if path.rsplit("::").next() != Some(name) || !path.starts_with("alloc::") {
        return None;
    }
    Some(format!("{name}<{}>", short(args.first()?)))
}

/// The kind of a `Box<T>` allocation: the inner boxes of `Rc` and `Arc`, BTreeMap nodes,
/// and the array that `vec![a, b, c]` builds its Vec from.
fn boxed(t: &str, method: &str) -> String {
    let (path, args) = split(t);
    let first = args.first().copied().unwrap_or("?");
    match path {
        "alloc::rc::RcInner" | "alloc::rc::RcBox" => format!("Rc<{}>", short(first)),
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
/// `HashSet<T>`.
fn table(t: &str) -> String {
    match tuple(t).as_deref() {
        Some([k, "()"]) => format!("HashSet<{}>", short(k)),
        Some([k, v]) => format!("HashMap<{}, {}>", short(k), short(v)),
        _ => format!("HashSet<{}>", short(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> SymFrame {
        SymFrame {
            function: s.to_string(),
            ..SymFrame::default()
        }
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
