//! Kinds, sites and stacks on real, generic, deeply nested code: `tests/data/serde_app.rs`
//! (serde_json parsing into a `Value` and into typed structs) built as a crate of its own
//! with heapy and serde_json as dependencies, as a user builds it: a dev build (with the
//! README's `opt-level = 3` for heapy) and a release build with `debug = "limited"`, each
//! with the README's flags. In both, every String the parse made is `String` (the release
//! build needs `-C llvm-args=-pick-merged-source-locations`: see the README's flags), every
//! other object is its container type, every site is a line of the program, every stack
//! reaches `main`, and no label holds an absolute path.
//!
//! The two builds go to `target/release-kinds` (a minute or two each the first time, then
//! incremental).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The records the program parses.
const RECORDS: usize = 2000;

/// The LLVM major version of the `rustc` cargo uses.
fn llvm_major() -> Option<u32> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let out = Command::new(rustc).arg("-vV").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))?;
    version.split('.').next()?.parse().ok()
}

/// Writes the program's crate below `dir` (its manifest, its source, the workspace's lock
/// file so that the build resolves offline to the versions heapy is tested with).
fn write_crate(root: &Path, dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = format!(
        r#"[package]
name = "serde_app"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
heapy = {{ path = {root:?}, default-features = false }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

[profile.release]
debug = "limited"

[profile.dev.package.heapy]
opt-level = 3

[workspace]
"#
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest);
    let source = std::fs::read_to_string(root.join("tests/data/serde_app.rs")).unwrap();
    write_if_changed(&dir.join("src/main.rs"), &source);
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    if !dir.join("Cargo.lock").exists() {
        std::fs::write(dir.join("Cargo.lock"), lock).unwrap();
    }
}

/// Leaves a file alone when it already says `text` (so that builds stay incremental).
fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap();
    }
}

/// Builds the program in `profile` with `rustflags` and runs it; returns what it printed.
fn build_and_run(profile: &str, rustflags: &str) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let base = root.join("target").join("release-kinds");
    let dir = base.join("app");
    // The two tests share the crate's directory (their builds then wait on cargo's lock).
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    {
        let _one = WRITING.lock().unwrap_or_else(|e| e.into_inner());
        write_crate(&root, &dir);
    }
    let target = base.join("target");
    common::cargo_build(&dir, &target, rustflags, &["build", "--profile", profile]);
    let dir_name = if profile == "dev" { "debug" } else { profile };
    let run = Command::new(target.join(dir_name).join("serde_app"))
        .current_dir(&dir)
        .arg(RECORDS.to_string())
        .output()
        .expect("the program runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).expect("the program prints JSON")
}

/// A table's rows as (label, count, size).
fn rows(v: &Value) -> Vec<(String, usize, usize)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_u64().unwrap() as usize,
                r[2].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

/// What every build must show.
fn check(out: &Value, build: &str) {
    let n = RECORDS;
    let strings = (
        out["strings"][0].as_u64().unwrap() as usize,
        out["strings"][1].as_u64().unwrap() as usize,
    );
    // Per record: the `Value`'s 4 keys, its name, 3 tags, 2 friends of 2 keys and a name
    // (14); the typed record's name, 3 tags and 2 friends' names (6).
    assert_eq!(strings.0, 20 * n, "{build}");
    let mut kinds = rows(&out["kinds"]);
    kinds.sort();
    let string_row = kinds.iter().find(|r| r.0 == "String");
    assert_eq!(
        string_row.map(|r| (r.1, r.2)),
        Some(strings),
        "{build}: every String of the parse is `String`: {kinds:#?}"
    );
    let mut counts: Vec<(&str, usize)> = kinds.iter().map(|r| (r.0.as_str(), r.1)).collect();
    counts.sort();
    // One map node for each object (a record and its two friends), a Value vector for the
    // top array and each record's tags and friends, the typed vectors.
    let mut expected = vec![
        ("BTreeMap<String, serde_json::value::Value>", 3 * n),
        ("String", 20 * n),
        ("Vec<String>", n),
        ("Vec<serde_app::Friend>", n),
        ("Vec<serde_app::User>", 1),
        ("Vec<serde_json::value::Value>", 2 * n + 1),
    ];
    expected.sort();
    assert_eq!(counts, expected, "{build}: {kinds:#?}");
    let objects = out["objects"][0].as_u64().unwrap() as usize;
    assert_eq!(objects, 27 * n + 2, "{build}");

    // Every site is a line of the program's own source.
    let sites = rows(&out["sites"]);
    assert!(!sites.is_empty(), "{build}");
    for (label, ..) in &sites {
        assert!(
            label.starts_with("src/main.rs:"),
            "{build}: a site outside the program: {label}"
        );
    }
    assert_eq!(sites.iter().map(|r| r.1).sum::<usize>(), objects, "{build}");

    // Every stack reaches main: each folded line, each traceback's last frame.
    let folded = out["folded"].as_str().unwrap();
    assert!(folded.lines().count() > 1, "{build}: {folded}");
    for line in folded.lines() {
        assert!(
            line.split(';').any(|f| f.contains("serde_app::main")),
            "{build}: a folded stack that does not reach main: {line}"
        );
    }
    for t in out["tracebacks"].as_array().unwrap() {
        let t = t.as_str().unwrap();
        let last = t.lines().last().unwrap();
        assert!(
            last.contains("src/main.rs:") && last.ends_with("serde_app::main"),
            "{build}: a traceback that does not reach main:\n{t}"
        );
        // Dependencies' files print from their crate's directory, never as absolute paths.
        for frame in t.lines().skip(1) {
            let frame = frame.trim_start();
            assert!(
                !frame.starts_with('/') && !frame.contains("/.cargo/"),
                "{build}: an absolute path: {frame}"
            );
        }
        assert!(t.contains("serde_json-"), "{build}: {t}");
    }
    for (label, ..) in kinds.iter().chain(&sites) {
        assert!(!label.contains("/.cargo/"), "{build}: {label}");
    }
}

const FLAGS: &str = "-C force-frame-pointers=yes -C symbol-mangling-version=v0";

#[test]
fn a_dev_build_names_strings_sites_and_stacks() {
    let out = build_and_run("dev", FLAGS);
    check(&out, "dev build");
}

#[test]
fn a_release_build_names_them_as_a_dev_build_does() {
    // The option exists from LLVM 21 (rustc 1.90): an older rustc rejects it.
    if llvm_major().is_none_or(|v| v < 21) {
        eprintln!("skipped: -pick-merged-source-locations needs LLVM 21 or newer");
        return;
    }
    let flags = format!("{FLAGS} -C llvm-args=-pick-merged-source-locations");
    let out = build_and_run("release", &flags);
    check(&out, "release build (debug = \"limited\")");
}
