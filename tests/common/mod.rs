//! Helpers for the integration tests that run another process (this test binary again, for
//! what changes the whole process, or an example) and read what it printed. Tests in this
//! process read tables as data (`Heap::rows()`) instead.
#![allow(dead_code)] // each test file uses a part

use std::ffi::OsStr;
use std::process::{Command, Output};

/// Runs the test `name` of this test binary alone in a child process, with `env` set (a
/// `None` value removes the variable) and `args` added (`--nocapture`, say), and returns
/// what it did.
pub fn rerun(name: &str, env: &[(&str, Option<&OsStr>)], args: &[&str]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary's path"));
    cmd.args(["--exact", name, "--test-threads=1"]).args(args);
    for (key, value) in env {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {name} again as a child: {e}"))
}

/// One row of a guppy partition table as another process printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintedRow {
    pub label: String,
    pub count: usize,
    pub size: usize,
}

/// Width of the figures of a partition row: `%6d %6d %3d %8d %3d %9d %3d `.
const FIGURES: usize = 45;

/// The rows of the partition tables in `text`, in order; every other line (titles,
/// headers, footers, other output) is skipped.
pub fn printed_rows(text: &str) -> Vec<PrintedRow> {
    text.lines()
        .filter_map(|line| {
            let figures: Vec<usize> = line
                .get(..FIGURES)?
                .split_whitespace()
                .map(|f| f.parse().ok())
                .collect::<Option<_>>()?;
            let [_index, count, _, size, _, _cumulative, _] = figures[..] else {
                return None;
            };
            Some(PrintedRow {
                label: line[FIGURES..].to_string(),
                count,
                size,
            })
        })
        .collect()
}

/// Runs `cargo <args> --offline` in `dir` with its own target directory and `rustflags`
/// (an empty string replaces the project's configured flags) and panics with cargo's
/// output unless it succeeds: a build of another crate or configuration from a test.
pub fn cargo_build(
    dir: &std::path::Path,
    target: &std::path::Path,
    rustflags: &str,
    args: &[&str],
) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let build = Command::new(&cargo)
        .current_dir(dir)
        .args(args)
        .arg("--offline")
        .env("CARGO_TARGET_DIR", target)
        // RUSTFLAGS replaces the config's flags; the encoded form would win over it.
        .env("RUSTFLAGS", rustflags)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
}
