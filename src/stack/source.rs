//! Where a frame's source file lies — the program's own crates, a dependency, or Rust's own
//! library — and the short form labels print it in.
//!
//! The rules, from the path the debug info records (a frame keeps that path; only its
//! printed form is shortened):
//!
//! * **Rust's library** (std, core, alloc and the crates std vendors): a path below
//!   `/rustc/<commit>/`, `/rust/deps/`, a toolchain's `lib/rustlib/src/` or
//!   `.rustup/toolchains/`. Prints from `library/` on: `std/src/thread/mod.rs`.
//! * **A dependency**: a path in cargo's download cache, below `registry/src/` or
//!   `git/checkouts/` (the layout of `$CARGO_HOME`, wherever it is), or below
//!   `$CARGO_HOME` itself when it is set. A registry crate prints as
//!   `<crate>-<version>/<rest>` (`serde_json-1.0.154/src/de.rs`), a git checkout as
//!   `<repo>-<rev>/<rest>` (`tokio-a1b2c3d/tokio/src/lib.rs`).
//! * **The program**: any other path — a relative one (`src/main.rs`: the package being
//!   built), or an absolute one (a workspace member, a path dependency). It prints as
//!   stored: relative to the current directory when below it.

use std::borrow::Cow;
use std::sync::OnceLock;

/// Whose code a source file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The program's own crates (its package, its workspace, path dependencies).
    Program,
    /// A crate cargo downloaded: its registry cache or a git checkout.
    Dependency,
    /// Rust's own library (std and the crates it is built with).
    Std,
}

/// Where `file` lies (see the module's rules), with `CARGO_HOME` as this process sees it.
pub(crate) fn origin(file: &str) -> Origin {
    origin_in(file, cargo_home())
}

/// `file`'s short form for a label (see the module's rules), with `CARGO_HOME` as this
/// process sees it.
pub(crate) fn short(file: &str) -> Cow<'_, str> {
    short_in(file, cargo_home())
}

/// `CARGO_HOME`, when set to an absolute path (read once).
fn cargo_home() -> Option<&'static str> {
    static HOME: OnceLock<Option<String>> = OnceLock::new();
    HOME.get_or_init(|| {
        std::env::var("CARGO_HOME")
            .ok()
            .map(|h| h.trim_end_matches('/').to_string())
            .filter(|h| h.starts_with('/') && h.len() > 1)
    })
    .as_deref()
}

/// Prefixes (from the start of the path) of Rust's library sources, each up to the point
/// the short form starts after; and markers found anywhere in the path.
const STD_MARKERS: &[&str] = &["/lib/rustlib/src/rust/library/", "/lib/rustlib/src/"];

fn std_rest(file: &str) -> Option<&str> {
    if let Some(rest) = file.strip_prefix("/rustc/") {
        // `/rustc/<commit>/library/std/src/…`
        let rest = rest.split_once('/').map_or(rest, |(_, r)| r);
        return Some(rest.strip_prefix("library/").unwrap_or(rest));
    }
    if let Some(rest) = file.strip_prefix("/rust/deps/") {
        return Some(rest);
    }
    for m in STD_MARKERS {
        if let Some(i) = file.find(m) {
            return Some(&file[i + m.len()..]);
        }
    }
    if let Some(i) = file.find("/.rustup/toolchains/") {
        let rest = &file[i + "/.rustup/toolchains/".len()..];
        return Some(rest.split_once('/').map_or(rest, |(_, r)| r));
    }
    None
}

/// The part of `file` after `marker` (`/registry/src/`, `/git/checkouts/`), if present.
fn after<'a>(file: &'a str, marker: &str) -> Option<&'a str> {
    file.find(marker).map(|i| &file[i + marker.len()..])
}

fn origin_in(file: &str, cargo_home: Option<&str>) -> Origin {
    if std_rest(file).is_some() {
        Origin::Std
    } else if after(file, "/registry/src/").is_some()
        || after(file, "/git/checkouts/").is_some()
        || under(file, cargo_home).is_some()
    {
        Origin::Dependency
    } else {
        Origin::Program
    }
}

/// The part of `file` below directory `dir`, if it lies below it.
fn under<'a>(file: &'a str, dir: Option<&str>) -> Option<&'a str> {
    file.strip_prefix(dir?)?
        .strip_prefix('/')
        .filter(|r| !r.is_empty())
}

fn short_in<'a>(file: &'a str, cargo_home: Option<&str>) -> Cow<'a, str> {
    if let Some(rest) = std_rest(file) {
        return Cow::Borrowed(rest);
    }
    if let Some(rest) = after(file, "/registry/src/") {
        // `<index>-<hash>/<crate>-<version>/<rest>`: drop the index's directory.
        return Cow::Borrowed(rest.split_once('/').map_or(rest, |(_, r)| r));
    }
    if let Some(rest) = after(file, "/git/checkouts/") {
        // `<repo>-<hash of the url>/<rev>/<rest>`: the repo's name and the revision.
        if let Some((dir, rest)) = rest.split_once('/') {
            if let Some((rev, rest)) = rest.split_once('/') {
                let repo = match dir.rsplit_once('-') {
                    Some((name, hash))
                        if !name.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit()) =>
                    {
                        name
                    }
                    _ => dir,
                };
                return Cow::Owned(format!("{repo}-{rev}/{rest}"));
            }
        }
        return Cow::Borrowed(rest);
    }
    if let Some(rest) = under(file, cargo_home) {
        return Cow::Borrowed(rest);
    }
    Cow::Borrowed(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRY: &str = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/\
                            serde_json-1.0.154/src/de.rs";
    const GIT: &str = "/home/ann/.cargo/git/checkouts/tokio-3e5b8c7b4b2c1a2d/a1b2c3d/\
                       tokio/src/runtime/mod.rs";

    #[test]
    fn registry_crates_are_dependencies_named_by_crate_and_version() {
        assert_eq!(origin_in(REGISTRY, None), Origin::Dependency);
        assert_eq!(short_in(REGISTRY, None), "serde_json-1.0.154/src/de.rs");
        // Another CARGO_HOME, another registry (sparse index directory names differ).
        let other = "/opt/cargo/registry/src/my-registry.example.com-0123456789abcdef/\
                     anyhow-1.0.100/src/error.rs";
        assert_eq!(origin_in(other, None), Origin::Dependency);
        assert_eq!(short_in(other, None), "anyhow-1.0.100/src/error.rs");
        // A crate directory without a version prints as it is named.
        let bare = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/weird/lib.rs";
        assert_eq!(origin_in(bare, None), Origin::Dependency);
        assert_eq!(short_in(bare, None), "weird/lib.rs");
    }

    #[test]
    fn git_checkouts_are_dependencies_named_by_repo_and_revision() {
        assert_eq!(origin_in(GIT, None), Origin::Dependency);
        assert_eq!(
            short_in(GIT, None),
            "tokio-a1b2c3d/tokio/src/runtime/mod.rs"
        );
        // A checkout directory without the url's hash keeps its name.
        let odd = "/c/.cargo/git/checkouts/odd/abc1234/src/lib.rs";
        assert_eq!(short_in(odd, None), "odd-abc1234/src/lib.rs");
    }

    #[test]
    fn rusts_library_is_std_named_from_library() {
        let rustc = "/rustc/17067e9ac6d7e98f18d4d4bd3d5e1b4bc3d5f0a1/library/alloc/src/vec/mod.rs";
        assert_eq!(origin_in(rustc, None), Origin::Std);
        assert_eq!(short_in(rustc, None), "alloc/src/vec/mod.rs");
        let vendored = "/rust/deps/hashbrown-0.15.2/src/raw/mod.rs";
        assert_eq!(origin_in(vendored, None), Origin::Std);
        assert_eq!(short_in(vendored, None), "hashbrown-0.15.2/src/raw/mod.rs");
        let rustup = "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/\
                      src/rust/library/std/src/thread/mod.rs";
        assert_eq!(origin_in(rustup, None), Origin::Std);
        assert_eq!(short_in(rustup, None), "std/src/thread/mod.rs");
    }

    #[test]
    fn the_programs_paths_stay_as_they_are() {
        for p in [
            "src/main.rs",
            "tests/scoped/names.rs",
            "/work/app/crates/model/src/lib.rs",
            // A crate vendored into the workspace (`cargo vendor`) is not told apart from
            // the program's own crates.
            "/work/app/vendor/serde_json/src/de.rs",
        ] {
            assert_eq!(origin_in(p, None), Origin::Program, "{p}");
            assert_eq!(short_in(p, None), p);
        }
    }

    #[test]
    fn cargo_home_counts_when_set() {
        let p = "/srv/cargo/vendor/anyhow-1.0.100/src/error.rs";
        assert_eq!(origin_in(p, None), Origin::Program);
        assert_eq!(origin_in(p, Some("/srv/cargo")), Origin::Dependency);
        assert_eq!(
            short_in(p, Some("/srv/cargo")),
            "vendor/anyhow-1.0.100/src/error.rs"
        );
        // A sibling directory that merely starts with the same name is not below it.
        let sibling = "/srv/cargo2/src/main.rs";
        assert_eq!(origin_in(sibling, Some("/srv/cargo")), Origin::Program);
        assert_eq!(short_in(sibling, Some("/srv/cargo")), sibling);
    }
}
