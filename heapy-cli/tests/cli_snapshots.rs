//! `heapy view`, `heapy diff` and `heapy flame` on snapshot files, with good and bad input:
//! what they print, on which stream, and their exit codes. The snapshots are made by this
//! test process (which uses heapy's Census) with `Heap::dump`.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{assert_fits, fit_rows};

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

fn heapy(dir: &Path, args: &[&str]) -> Output {
    heapy_with(dir, args, None)
}

/// Runs the command with `COLUMNS` set to `columns` (or unset). Its standard output is a
/// pipe, so `--fit` takes its width from `COLUMNS`, else 100.
fn heapy_with(dir: &Path, args: &[&str], columns: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_heapy"));
    c.args(args).current_dir(dir).env_remove("HEAPY_MPROF");
    match columns {
        Some(w) => c.env("COLUMNS", w),
        None => c.env_remove("COLUMNS"),
    };
    c.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Two snapshots: old.json (2 Person of 100 bytes, 1 Cache of 4000) and new.json (plus
/// three Person of 100 and one Log of 7). Returns their heaps.
fn snapshots(d: &Path) -> (heapy::Heap, heapy::Heap, Vec<Vec<u8>>) {
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(16);
    let mark = heapy::hpy().mark();
    heapy::with_kind("Person", || held.extend([vec![0u8; 100], vec![0u8; 100]]));
    heapy::with_kind("Cache", || held.push(vec![0u8; 4000]));
    let old = mark.heap();
    heapy::with_kind("Person", || {
        for _ in 0..3 {
            held.push(vec![1u8; 100]);
        }
    });
    heapy::with_kind("Log", || held.push(vec![0u8; 7]));
    let new = mark.heap();
    old.dump(d.join("old.json")).unwrap();
    new.dump(d.join("new.json")).unwrap();
    (old, new, held)
}

#[test]
fn view_prints_the_snapshots_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, new, held) = snapshots(d);
    let o = heapy(d, &["view", "new.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "Partition of a set of 7 objects. Total size = 4507 bytes.\n\
         \x20Index  Count   %     Size   % Cumulative  % Kind (type / call site)\n\
         \x20    0      1  14     4000  89      4000  89 Cache\n\
         \x20    1      5  71      500  11      4500 100 Person\n\
         \x20    2      1  14        7   0      4507 100 Log\n"
    );
    assert_eq!(stdout(&o), new.to_string());
    for by in ["kind", "site", "size", "thread", "id"] {
        let o = heapy(d, &["view", "new.json", "--by", by, "--all"]);
        assert!(o.status.success(), "{by}: {}", stderr(&o));
        let view: heapy::By = by.parse().unwrap();
        assert_eq!(stdout(&o), new.by(view).all().to_string(), "{by}");
    }
    // The file keeps the call sites (the command printed the same table as the heap above):
    // every row of the site view is a line of this file.
    let sites = heapy::Heap::load(d.join("new.json")).unwrap().bysite();
    assert!(sites.rows().len() > 0, "{sites}");
    for row in sites.rows() {
        assert!(
            row.label().starts_with("tests/cli_snapshots.rs:"),
            "{sites}"
        );
    }
    drop(held);
}

#[test]
fn diff_prints_guppys_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (old, new, held) = snapshots(d);
    let o = heapy(d, &["diff", "new.json", "old.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "Summary of difference operation (A-B).\n\
         \x20       Count     Size\n\
         \x20 A         7     4507\n\
         \x20 B         3     4200\n\
         \x20 A-B       4      307  =      7.31 % of B\n\
         \n\
         Differences by kind, largest absolute size diffs first.\n\
         \x20Index  Count     Size  Cumulative  % of B Kind (type / call site)\n\
         \x20    0      3      300       300      7.14 Person\n\
         \x20    1      1        7       307      7.31 Log\n"
    );
    let o = heapy(d, &["diff", "new.json", "old.json", "--by", "size"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), new.bysize().diff(&old).to_string());
    assert!(stdout(&o).contains(" Index  Count     Size  Cumulative  % of B Individual Size\n"));
    drop(held);
}

#[test]
fn flame_reads_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, _, held) = snapshots(d);
    let o = heapy(d, &["flame", "new.json", "-o", "heap.svg"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(d.join("heap.svg")).unwrap();
    assert!(svg.contains("Live heap: 4507 bytes (new.json)"));
    assert!(svg.contains("<title>Cache (4,000 bytes, 88.75%)</title>"));
    drop(held);
}

#[test]
fn flame_writes_through_a_link_and_into_a_fifo() {
    use std::io::Read;
    use std::os::unix::fs::{symlink, FileTypeExt, OpenOptionsExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, _, held) = snapshots(d);
    // A link to an existing file: the link stays, the file it names gets the graph.
    std::fs::create_dir(d.join("out")).unwrap();
    std::fs::write(d.join("out/real.svg"), "old").unwrap();
    symlink("out/real.svg", d.join("link.svg")).unwrap();
    let o = heapy(d, &["flame", "new.json", "-o", "link.svg"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let link = std::fs::symlink_metadata(d.join("link.svg")).unwrap();
    assert!(link.file_type().is_symlink());
    let svg = std::fs::read_to_string(d.join("out/real.svg")).unwrap();
    assert!(svg.contains("Live heap: 4507 bytes (new.json)"));
    // A FIFO: written into (its reader gets the graph), never replaced by a file. The
    // graph fits in the pipe's buffer (64 KiB), so the command never waits for the reader.
    assert!(svg.len() < 60_000, "{} bytes", svg.len());
    let fifo = d.join("pipe.svg");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    // The reading end opened first without blocking: the command's write finds a reader.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let o = heapy(d, &["flame", "new.json", "-o", "pipe.svg"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, svg);
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    drop(held);
}

#[test]
fn bad_files_and_options_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, _, held) = snapshots(d);
    let good = std::fs::read(d.join("new.json")).unwrap();
    std::fs::write(d.join("cut.json"), &good[..good.len() / 2]).unwrap();
    let mut flipped = good.clone();
    let last_digit = flipped.len() - 10;
    flipped[last_digit] ^= 1;
    std::fs::write(d.join("flip.json"), &flipped).unwrap();
    std::fs::write(d.join("other.json"), "[1, 2, 3]").unwrap();
    let newer =
        String::from_utf8(good.clone())
            .unwrap()
            .replacen("\"version\":1,", "\"version\":7,", 1);
    std::fs::write(d.join("v7.json"), newer).unwrap();

    let cases: [(&[&str], &str); 7] = [
        (
            &["view", "missing.json"],
            "heapy: missing.json: No such file or directory (os error 2)\n",
        ),
        (
            &["view", "cut.json"],
            "heapy: cut.json: truncated heapy snapshot (the file ends before its end)\n",
        ),
        (
            &["view", "flip.json"],
            "heapy: flip.json: corrupt heapy snapshot (",
        ),
        (
            &["view", "other.json"],
            "heapy: other.json: not a heapy snapshot (JSON, but not an object with heapy's fields)\n",
        ),
        (
            &["view", "v7.json"],
            "heapy: v7.json: heapy snapshot format version 7 is newer than this heapy reads (up to 2); upgrade heapy\n",
        ),
        (
            &["diff", "new.json", "cut.json"],
            "heapy: cut.json: truncated heapy snapshot",
        ),
        (
            &["diff", "missing.json", "new.json"],
            "heapy: missing.json: No such file or directory",
        ),
    ];
    for (args, message) in cases {
        let o = heapy(d, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).starts_with(message), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{args:?}");
    }

    // Bad options: clap's usage errors, exit code 2.
    let o = heapy(d, &["view", "new.json", "--by", "colour"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid value 'colour' for '--by <VIEW>': unknown view 'colour'"),
        "{}",
        stderr(&o)
    );
    let o = heapy(d, &["diff", "new.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("required arguments were not provided"));
    let o = heapy(d, &["view"]);
    assert_eq!(o.status.code(), Some(2));
    drop(held);
}

/// Kinds too long for 60 columns but not for 100: the `--fit` tables wrap them when narrow.
const LONG: &str = "ParsedConfigurationDocument cache by tenant";
const LONGER: &str = "Connection pool of the storage backends (per shard)";

#[test]
fn diff_fit_wraps_long_kinds_to_the_width() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mark = heapy::hpy().mark();
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(16);
    heapy::with_kind(LONG, || held.push(vec![0u8; 300]));
    let old = mark.heap();
    heapy::with_kind(LONG, || held.extend([vec![0u8; 300], vec![0u8; 300]]));
    heapy::with_kind(LONGER, || held.push(vec![0u8; 777]));
    for i in 0..11 {
        heapy::with_kind(&format!("Small{i}"), || held.push(vec![0u8; i + 1]));
    }
    let new = mark.heap();
    old.dump(d.join("old.json")).unwrap();
    new.dump(d.join("new.json")).unwrap();
    let want = new.diff(&old);
    assert_eq!(want.rows().len(), 13);

    for (columns, width) in [(Some("60"), 60), (None, 100)] {
        let o = heapy_with(d, &["diff", "new.json", "old.json", "--fit"], columns);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert_fits(&text, width);
        assert!(
            text.starts_with("Summary of difference operation (A-B).\n"),
            "{text}"
        );
        // The summary: A, B and A-B as the library counts them.
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let a = [want.a_count().to_string(), want.a_size().to_string()];
        let b = [want.b_count().to_string(), want.b_size().to_string()];
        let ab = [
            want.count().to_string(),
            want.size().to_string(),
            format!("{:.2}", want.pct_of_b()),
        ];
        assert!(lines.iter().any(|l| l[..] == ["A", &a[0], &a[1]]), "{text}");
        assert!(lines.iter().any(|l| l[..] == ["B", &b[0], &b[1]]), "{text}");
        assert!(
            lines
                .iter()
                .any(|l| l[..] == ["A-B", &ab[0], &ab[1], &ab[2]]),
            "{text}"
        );
        // The first ten rows, figures and whole labels, as the library's rows say.
        let rows = fit_rows(&text, "Kind");
        assert_eq!(rows.len(), 10, "{text}");
        for (i, (row, r)) in rows.iter().zip(want.rows()).enumerate() {
            let pct = r.cumulative() as f64 * 100.0 / want.b_size() as f64;
            let expect = [
                i.to_string(),
                r.count().to_string(),
                r.size().to_string(),
                r.cumulative().to_string(),
                format!("{pct:.2}"),
            ];
            assert_eq!(row.figures[..], expect, "{text}");
            assert_eq!(row.label, r.label().replace(' ', ""), "{text}");
            // Narrow, the long kinds take several lines; at 100 columns, one each.
            let long = r.label() == LONG || r.label() == LONGER;
            assert_eq!(row.lines > 1, long && width == 60, "{row:?}\n{text}");
        }
        assert!(
            text.ends_with("<3 more rows. Use --all to view.>\n"),
            "{text}"
        );
    }
    let o = heapy_with(
        d,
        &["diff", "new.json", "old.json", "--fit", "--all"],
        Some("60"),
    );
    let labels: Vec<String> = fit_rows(&stdout(&o), "Kind")
        .into_iter()
        .map(|r| r.label)
        .collect();
    let want_labels: Vec<String> = want.rows().map(|r| r.label().replace(' ', "")).collect();
    assert_eq!(labels, want_labels);
    assert!(!stdout(&o).contains("more rows"));
    // The default layout is still guppy's, byte for byte, but for the last line: the
    // command names its own option, not guppy's Python method.
    let o = heapy_with(d, &["diff", "new.json", "old.json"], Some("60"));
    let guppy = want.to_string();
    let hint = "<3 more rows. Type e.g. '.all()' to view.>\n";
    assert!(guppy.ends_with(hint), "{guppy}");
    assert_eq!(
        stdout(&o),
        format!(
            "{}<3 more rows. Use --all to view.>\n",
            &guppy[..guppy.len() - hint.len()]
        )
    );
    drop(held);
}

/// A percentage as `--fit` prints it: a whole number, rounded half up (guppy's rounding).
fn whole(percent: f64) -> String {
    format!("{}", (percent + 0.5).floor())
}

#[test]
fn view_fit_has_the_same_rows_with_long_kinds_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mark = heapy::hpy().mark();
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(16);
    heapy::with_kind(LONG, || held.extend([vec![0u8; 300], vec![0u8; 300]]));
    heapy::with_kind(LONGER, || held.push(vec![0u8; 777]));
    for i in 0..11 {
        heapy::with_kind(&format!("Small{i}"), || held.push(vec![0u8; i + 1]));
    }
    let h = mark.heap();
    h.dump(d.join("snap.json")).unwrap();

    for (columns, width) in [(Some("72"), 72), (None, 100)] {
        for by in ["kind", "site", "size"] {
            let o = heapy_with(d, &["view", "snap.json", "--by", by, "--fit"], columns);
            assert!(o.status.success(), "{}", stderr(&o));
            let text = stdout(&o);
            assert_fits(&text, width);
            let want = h.by(by.parse().unwrap());
            let title = format!(
                "Partition of a set of {} objects. Total size = {} bytes.\n",
                want.count(),
                want.size()
            );
            assert!(text.starts_with(&title), "{text}");
            let header = if by == "size" {
                "Individual"
            } else {
                &by[..1].to_uppercase()
            };
            let header = if by == "site" { "Site" } else { header };
            let rows = fit_rows(&text, header);
            assert_eq!(rows.len(), want.rows().len().min(10), "{text}");
            for (i, (row, r)) in rows.iter().zip(want.rows()).enumerate() {
                let expect = [
                    i.to_string(),
                    r.count().to_string(),
                    whole(r.count_percent()),
                    r.size().to_string(),
                    whole(r.size_percent()),
                    r.cumulative().to_string(),
                    whole(r.cumulative_percent()),
                ];
                assert_eq!(row.figures[..], expect, "{text}");
                assert_eq!(row.label, r.label().replace(' ', ""), "{text}");
                if by == "kind" {
                    // Narrow, the long kinds take several lines; at 100 columns, one each.
                    let long = r.label() == LONG || r.label() == LONGER;
                    assert_eq!(row.lines > 1, long && width == 72, "{row:?}\n{text}");
                }
            }
            let left = want.rows().len().saturating_sub(10);
            assert_eq!(
                text.contains(&format!("<{left} more rows. Use --all to view.>\n")),
                left > 0,
                "{text}"
            );
        }
    }
    // The kinds, every row, against the library's own row figures.
    let o = heapy_with(d, &["view", "snap.json", "--fit", "--all"], Some("72"));
    let rows = fit_rows(&stdout(&o), "Kind");
    let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    let want: Vec<String> = h.rows().map(|r| r.label().replace(' ', "")).collect();
    assert_eq!(labels, want);
    let first = h.rows().next().unwrap();
    let expect = [
        first.count().to_string(),
        whole(first.count_percent()),
        first.size().to_string(),
    ];
    assert_eq!(rows[0].figures[1..4], expect, "{}", stdout(&o));
    // The default layout is still guppy's, byte for byte, but for the last line: the
    // command names its own option, not guppy's Python method.
    let o = heapy_with(d, &["view", "snap.json"], Some("60"));
    let guppy = h.to_string();
    let left = h.rows().len() - 10;
    let hint = format!("<{left} more rows. Type e.g. '.more()' to view.>\n");
    assert!(guppy.ends_with(&hint), "{guppy}");
    assert_eq!(
        stdout(&o),
        format!(
            "{}<{left} more rows. Use --all to view.>\n",
            &guppy[..guppy.len() - hint.len()]
        )
    );
    // With --all, every row and no footer.
    let o = heapy_with(d, &["view", "snap.json", "--all"], Some("60"));
    assert_eq!(stdout(&o), h.all().to_string());
    assert!(!stdout(&o).contains("more rows"));
    drop(held);
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    // Many rows: 20,000 objects listed one by one, far more than a pipe holds.
    let mark = heapy::hpy().mark();
    let held: Vec<Box<[u8; 24]>> =
        heapy::with_kind("Row", || (0..20_000).map(|_| Box::new([0u8; 24])).collect());
    mark.heap().dump(dir.path().join("big.json")).unwrap();
    drop(held);
    let mut child = Command::new(env!("CARGO_BIN_EXE_heapy"))
        .args(["view", "--all", "--by", "id", "big.json"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("Set of 20001 <Row> objects."), "{first}");
    // The reader is dropped: the pipe is closed after one line, as by `head -1`.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {err}",
        out.status
    );
}

struct Wrapper<T>(T);

/// A generic function whose full name is long (its type argument nests three deep); returns
/// the line of its allocation.
#[inline(never)]
fn hold_generic<T>() -> (Vec<T>, u32) {
    (Vec::with_capacity(3), line!())
}

#[test]
fn view_full_prints_whole_site_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mark = heapy::hpy().mark();
    let (v, line) = hold_generic::<Wrapper<Wrapper<Wrapper<u64>>>>();
    let h = mark.heap().bysite();
    h.dump(d.join("snap.json")).unwrap();
    let short = format!(
        "tests/cli_snapshots.rs:{line} cli_snapshots::hold_generic::<cli_snapshots::Wrapper<…>>"
    );
    let full = format!(
        "tests/cli_snapshots.rs:{line} cli_snapshots::hold_generic::<cli_snapshots::Wrapper<\
         cli_snapshots::Wrapper<cli_snapshots::Wrapper<u64>>>>"
    );
    let o = heapy(d, &["view", "snap.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.ends_with(&format!(
            "   0      1 100       24 100        24 100 {short}\n"
        )),
        "{text}"
    );
    assert_eq!(text, h.to_string());
    // --full: the same table with the whole name; the file written before keeps no full
    // label, the loaded heap finds it again from the site's frame.
    let o = heapy(d, &["view", "snap.json", "--full"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), text.replace(&short, &full));
    assert_eq!(stdout(&o), format!("{h:#}"));
    // --fit --full: the full label, wrapped to the width.
    let o = heapy_with(d, &["view", "snap.json", "--fit", "--full"], Some("400"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&full), "{}", stdout(&o));
    let o = heapy_with(d, &["view", "snap.json", "--fit"], Some("400"));
    assert!(stdout(&o).contains(&short), "{}", stdout(&o));
    // `heapy diff --by site --full`: the A-B table's row with the whole name (B: nothing).
    (&h - &h).dump(d.join("empty.json")).unwrap();
    let o = heapy(d, &["diff", "snap.json", "empty.json", "--by", "site"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let diff = stdout(&o);
    assert!(diff.ends_with(&format!(" {short}\n")), "{diff}");
    let o = heapy(
        d,
        &["diff", "snap.json", "empty.json", "--by", "site", "--full"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), diff.replace(&short, &full));
    let o = heapy_with(
        d,
        &[
            "diff",
            "snap.json",
            "empty.json",
            "--by",
            "site",
            "--fit",
            "--full",
        ],
        Some("400"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&full), "{}", stdout(&o));
    drop(v);
}
