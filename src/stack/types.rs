//! Type names as v0 demangling prints them: the self type of a method, generic arguments,
//! and std paths shortened (`alloc::vec::Vec<demo::Person>` → `Vec<demo::Person>`).

/// The self type of a method frame: `<alloc::raw_vec::RawVec<T>>::grow_one` and
/// `<alloc::string::String as core::convert::From<&str>>::from` give the part between the
/// first `<` and its matching `>` (or ` as `), with the method after it.
pub(crate) fn self_type(function: &str) -> Option<(&str, &str)> {
    let rest = function.strip_prefix('<')?;
    let mut depth = 0usize;
    for (i, c) in rest.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            '>' if depth == 0 => {
                let method = rest[i + 1..].trim_start_matches("::");
                return Some((&rest[..i], method));
            }
            '>' => depth -= 1,
            ' ' if depth == 0 && rest[i..].starts_with(" as ") => {
                let end = matching_end(&rest[i..])?;
                let method = rest[i + end + 1..].trim_start_matches("::");
                return Some((&rest[..i], method));
            }
            _ => {}
        }
    }
    None
}

/// Index of the `>` that closes an already-open `<` in `s`.
fn matching_end(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            '>' if depth == 0 => return Some(i),
            '>' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// A type split into its path and top-level generic arguments:
/// `a::B<c::D<e>, (u8, f)>` → (`a::B`, [`c::D<e>`, `(u8, f)`]).
pub(crate) fn split(ty: &str) -> (&str, Vec<&str>) {
    let Some(open) = ty.find('<') else {
        return (ty, Vec::new());
    };
    if !ty.ends_with('>') {
        return (ty, Vec::new());
    }
    (&ty[..open], top_level(&ty[open + 1..ty.len() - 1]))
}

/// The top-level comma-separated parts of `s` (inside a tuple or generic list).
pub(crate) fn top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = s[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// The parts of a tuple type `(a, b)`, if `ty` is one.
pub(crate) fn tuple(ty: &str) -> Option<Vec<&str>> {
    let inner = ty.strip_prefix('(')?.strip_suffix(')')?;
    Some(top_level(inner))
}

/// `ty` with std paths shortened to their last segment and default type arguments
/// (`Global`, `RandomState`) dropped; user paths are kept whole.
pub(crate) fn short(ty: &str) -> String {
    let mut out = String::with_capacity(ty.len());
    let mut path = String::new();
    let flush = |path: &mut String, out: &mut String| {
        const STD: &[&str] = &["alloc::", "core::", "std::", "hashbrown::"];
        if STD.iter().any(|p| path.starts_with(p)) {
            out.push_str(path.rsplit("::").next().unwrap_or(path));
        } else {
            out.push_str(path);
        }
        path.clear();
    };
    for c in ty.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            path.push(c);
        } else {
            flush(&mut path, &mut out);
            out.push(c);
        }
    }
    flush(&mut path, &mut out);
    for default in [", Global>", ", RandomState>"] {
        while out.contains(default) {
            out = out.replace(default, ">");
        }
    }
    out
}

/// Function names longer than this (after std paths are shortened) have their nested
/// generic arguments elided in a table's label.
pub(crate) const LABEL_MAX: usize = 60;

/// A function name as a table's label shows it: std paths shortened to their last segment
/// (`alloc::string::String` → `String`, as in kinds; the program's and dependencies' paths
/// kept whole); then, if it is still longer than [`LABEL_MAX`] characters, every generic
/// argument list nested inside another one printed as `<…>`
/// (`demo::load::<demo::Cache<Vec<demo::Row>>>` → `demo::load::<demo::Cache<…>>`). The
/// `<T as Trait>` of a method and closures (`{closure#0}`, v0 names carry no hash) are kept.
pub(crate) fn label_function(function: &str) -> String {
    let short = short(function);
    if short.chars().count() <= LABEL_MAX {
        return short;
    }
    let mut out = String::with_capacity(short.len());
    // One entry per open `<`, `(` or `[`: true for a generic argument list.
    let mut open: Vec<bool> = Vec::new();
    // Open brackets inside an elided list (its text is skipped).
    let mut skip = 0usize;
    let mut prev = ' ';
    for c in short.chars() {
        if skip > 0 {
            match c {
                '<' | '(' | '[' => skip += 1,
                '>' | ')' | ']' => skip -= 1,
                _ => {}
            }
            if skip == 0 {
                out.push_str("…>");
                open.pop();
            }
            prev = c;
            continue;
        }
        match c {
            '<' => {
                // A list of arguments follows a path (`Vec<`, `::<`); a qualified path's
                // `<` (at the start, after `<`, `(`, `&`, a space) does not.
                let generic = prev.is_alphanumeric() || prev == '_' || prev == ':';
                if generic && open.iter().any(|&g| g) {
                    out.push('<');
                    open.push(true);
                    skip = 1;
                } else {
                    out.push('<');
                    open.push(generic);
                }
            }
            '(' | '[' => {
                out.push(c);
                open.push(false);
            }
            '>' | ')' | ']' => {
                out.push(c);
                open.pop();
            }
            _ => out.push(c),
        }
        prev = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_elide_nested_arguments_of_long_names_only() {
        // Short names: std paths shortened, nothing elided.
        assert_eq!(
            label_function("demo::load::<alloc::vec::Vec<alloc::boxed::Box<demo::P>>>"),
            "demo::load::<Vec<Box<demo::P>>>"
        );
        assert_eq!(
            label_function("<demo::P as core::clone::Clone>::clone"),
            "<demo::P as Clone>::clone"
        );
        assert_eq!(
            label_function("demo::main::{closure#0}"),
            "demo::main::{closure#0}"
        );
        // Long names: arguments inside arguments become `<…>`, the first level stays.
        assert_eq!(
            label_function(
                "<demo::store::Cache<alloc::string::String, demo::model::Row<demo::model::Cell>>>\
                 ::insert::<demo::model::Key<u64, demo::model::Shard>>"
            ),
            "<demo::store::Cache<String, demo::model::Row<…>>>::insert::<demo::model::Key<…>>"
        );
        // A qualified path's `<T as Trait>` is no argument list; a tuple or slice inside
        // an elided list goes with it.
        assert_eq!(
            label_function(
                "<<demo::server::Handler as demo::server::Service>::call::Visitor \
                 as demo::server::Visit>::visit::<demo::server::Ctx<(u32, [u8; 4]), demo::X<u8>>>"
            ),
            "<<demo::server::Handler as demo::server::Service>::call::Visitor \
             as demo::server::Visit>::visit::<demo::server::Ctx<…>>"
        );
    }

    #[test]
    fn self_types_and_arguments() {
        assert_eq!(
            self_type("<alloc::raw_vec::RawVec<demo::Person>>::grow_one"),
            Some(("alloc::raw_vec::RawVec<demo::Person>", "grow_one"))
        );
        assert_eq!(
            self_type("<alloc::string::String as core::convert::From<&str>>::from"),
            Some(("alloc::string::String", "from"))
        );
        assert_eq!(self_type("alloc::fmt::format"), None);
        let (p, a) = split("hashbrown::raw::RawTable<(u32, demo::P<u8, u16>)>");
        assert_eq!(p, "hashbrown::raw::RawTable");
        assert_eq!(a, ["(u32, demo::P<u8, u16>)"]);
        assert_eq!(tuple(a[0]).unwrap(), ["u32", "demo::P<u8, u16>"]);
        assert_eq!(
            short("alloc::vec::Vec<alloc::boxed::Box<demo::model::Person>, alloc::alloc::Global>"),
            "Vec<Box<demo::model::Person>>"
        );
        assert_eq!(
            short("std::collections::hash::map::HashMap<u32, alloc::string::String, std::hash::random::RandomState>"),
            "HashMap<u32, String>"
        );
    }
}
