//! The `heapy` command: `mprof run|plot|list|peak|clean` and `flame`, with good and bad
//! input. The programs it records are this test binary itself (which uses heapy's Census)
//! and `sh` (which does not).

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

mod common;
use common::{assert_fits, fit_rows};

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

fn heapy(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heapy"))
        .args(args)
        .current_dir(dir)
        .env_remove("HEAPY_MPROF")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[heapy::profile(stream = none)]
fn child_work() {
    let v = vec![7u8; 12 << 20];
    std::thread::sleep(Duration::from_millis(300));
    drop(v);
    std::thread::sleep(Duration::from_millis(200));
}

/// What `mprof run` runs in `run_records_the_exact_heap` (does nothing on its own).
#[test]
fn mprof_child() {
    if std::env::var_os("HEAPY_MPROF").is_some() && std::env::var_os("HEAPY_CLI_CHILD").is_some() {
        child_work();
    }
}

#[test]
fn run_records_the_exact_heap_of_a_heapy_program() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_heapy"))
        .args(["mprof", "run", "-T", "0.05", "-o", "heap.dat", "--", exe])
        .args(["--exact", "mprof_child", "--test-threads=1"])
        .current_dir(dir.path())
        .env("HEAPY_CLI_CHILD", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("samples of exact heap"),
        "{}",
        stderr(&o)
    );
    let t = heapy::mprof::Timeline::load(dir.path().join("heap.dat")).unwrap();
    assert_eq!(
        t.cmdline().unwrap(),
        format!("{exe} --exact mprof_child --test-threads=1")
    );
    let peak = t.peak().unwrap().mib;
    assert!((12.0..13.0).contains(&peak), "peak {peak} MiB");
    assert!(!t.rss().is_empty());
    assert_eq!(t.funcs().len(), 1);
    assert_eq!(t.funcs()[0].name, "cli_mprof::child_work");
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1);
}

#[test]
fn run_records_rss_of_other_programs_and_children() {
    let dir = tempfile::tempdir().unwrap();
    let o = heapy(
        dir.path(),
        &[
            "mprof",
            "run",
            "-T",
            "0.02",
            "--multiprocess",
            "--include-children",
            "--",
            "sh",
            "-c",
            "sleep 0.3; echo done",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("samples of RSS"), "{}", stderr(&o));
    let files = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("mprofile_") && files[0].ends_with(".dat"));
    let t = heapy::mprof::Timeline::load(dir.path().join(&files[0])).unwrap();
    assert_eq!(t.cmdline(), Some("sh -c sleep 0.3; echo done"));
    assert!(t.mem().len() >= 5);
    assert!(t.mem().iter().all(|s| s.mib > 0.0), "RSS is never 0");
    assert!(t.rss().is_empty());
    // `sleep` ran as a child of sh.
    assert!(!t.children().is_empty(), "no CHLD lines");

    // list, peak, clean work on it.
    let o = heapy(dir.path(), &["mprof", "list"]);
    let rows = fit_rows(&String::from_utf8_lossy(&o.stdout), "Command");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].figures[..2], ["0", files[0].as_str()]);
    let o = heapy(dir.path(), &["mprof", "peak"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        out,
        format!("./{}\t{:.3} MiB\n", files[0], t.peak().unwrap().mib)
    );
    let o = heapy(dir.path(), &["mprof", "plot"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join(&files[0]).with_extension("svg").exists());
    let o = heapy(dir.path(), &["mprof", "clean"]);
    assert!(o.status.success());
    assert!(!dir.path().join(&files[0]).exists());
    let o = heapy(dir.path(), &["mprof", "peak"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no mprofile_*.dat file here"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_propagates_exit_code_and_reports_missing_programs() {
    let dir = tempfile::tempdir().unwrap();
    let o = heapy(
        dir.path(),
        &["mprof", "run", "-o", "x.dat", "--", "sh", "-c", "exit 3"],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(dir.path().join("x.dat").exists());
    let o = heapy(dir.path(), &["mprof", "run", "--", "no-such-program-heapy"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "heapy: no-such-program-heapy: No such file or directory (os error 2)\n"
    );
    for t in ["0", "-1", "1e20", "1e19", "86401"] {
        let o = heapy(dir.path(), &["mprof", "run", "-T", t, "--", "true"]);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(
            stderr(&o).contains("--interval must be a positive number of seconds up to a day"),
            "{t}: {}",
            stderr(&o)
        );
    }
    // A long interval still ends when the program does (the wait is cut short).
    let o = heapy(
        dir.path(),
        &[
            "mprof", "run", "-T", "86400", "-o", "long.dat", "--", "true",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn run_exits_as_a_shell_does_when_the_program_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    for (sig, name) in [(9, "SIGKILL"), (15, "SIGTERM"), (6, "SIGABRT")] {
        let o = heapy(
            dir.path(),
            &[
                "mprof",
                "run",
                "-o",
                "k.dat",
                "--",
                "sh",
                "-c",
                &format!("kill -{sig} $$"),
            ],
        );
        assert_eq!(o.status.code(), Some(128 + sig), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("heapy: sh was killed by signal {sig} ({name})")),
            "{err}"
        );
        // The recording is still written.
        assert!(heapy::mprof::Timeline::load(dir.path().join("k.dat")).is_ok());
        std::fs::remove_file(dir.path().join("k.dat")).unwrap();
    }
}

#[test]
fn run_checks_the_output_before_starting_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("file.txt"), "").unwrap();
    for (out, problem) in [
        ("no/such/dir/x.dat", "No such file or directory"),
        ("file.txt/x.dat", "Not a directory"),
        ("sub", "Is a directory"),
    ] {
        let o = heapy(
            d,
            &["mprof", "run", "-o", out, "--", "sh", "-c", "touch started"],
        );
        assert_eq!(o.status.code(), Some(1), "{out}");
        let want = format!(
            "heapy: {out}: cannot write the recording there, so the program was not started: {problem}"
        );
        assert!(stderr(&o).starts_with(&want), "{}", stderr(&o));
        assert!(!d.join("started").exists(), "{out}: the program ran");
    }
    // Nothing was left behind by the check.
    let mut names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["file.txt", "sub"]);
    assert_eq!(std::fs::read_dir(d.join("sub")).unwrap().count(), 0);
}

#[test]
fn run_writes_through_a_link_and_into_a_fifo() {
    use std::io::Read;
    use std::os::unix::fs::{symlink, FileTypeExt, OpenOptionsExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("kept")).unwrap();
    std::fs::write(d.join("kept/real.dat"), "old").unwrap();
    symlink("kept/real.dat", d.join("link.dat")).unwrap();
    let o = heapy(d, &["mprof", "run", "-o", "link.dat", "--", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(d.join("link.dat"))
        .unwrap()
        .file_type()
        .is_symlink());
    let text = std::fs::read_to_string(d.join("kept/real.dat")).unwrap();
    assert!(text.starts_with("CMDLINE true\n"), "{text}");
    // A FIFO, its reading end opened first without blocking (the recording is far smaller
    // than the pipe's buffer, so the command never waits).
    let fifo = d.join("pipe.dat");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let o = heapy(d, &["mprof", "run", "-o", "pipe.dat", "--", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    assert!(got.starts_with("CMDLINE true\n"), "{got}");
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn plot_writes_svg_and_png_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ok.dat"), "CMDLINE demo --big\nMEM 1.0 100.0\nMEM 9.5 100.2\nMEM 3.0 100.4\nFUNC demo::load 1.0 100.05 9.5 100.25 0\n").unwrap();
    let o = heapy(d, &["mprof", "plot", "ok.dat", "-o", "p.svg"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(d.join("p.svg")).unwrap();
    for label in [
        "demo --big",
        "demo::load",
        "peak 9.50 MiB at 0.20 s",
        "time (in seconds)",
    ] {
        assert!(svg.contains(label), "{label:?} missing");
    }
    let o = heapy(d, &["mprof", "plot", "ok.dat", "-o", "p.png"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&std::fs::read(d.join("p.png")).unwrap()[..4], b"\x89PNG");

    // Missing file.
    let o = heapy(d, &["mprof", "plot", "missing.dat", "-o", "m.svg"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "heapy: missing.dat: No such file or directory (os error 2)\n"
    );
    // Malformed: a line cut short; a foreign file; binary garbage.
    std::fs::write(d.join("cut.dat"), "MEM 1.0 100.0\nMEM 2.0").unwrap();
    let o = heapy(d, &["mprof", "plot", "cut.dat", "-o", "c.svg"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "heapy: cut.dat: line 2: the time is missing (the line is cut short)\n"
    );
    std::fs::write(d.join("foreign.dat"), "hello\nworld\n").unwrap();
    let o = heapy(d, &["mprof", "plot", "foreign.dat"]);
    assert!(
        stderr(&o).contains("not an mprof .dat file"),
        "{}",
        stderr(&o)
    );
    std::fs::write(d.join("bin.dat"), [0xffu8, 0xfe, 0, 1, 2]).unwrap();
    let o = heapy(d, &["mprof", "plot", "bin.dat"]);
    assert!(
        stderr(&o).contains("not an mprof .dat file (not text)"),
        "{}",
        stderr(&o)
    );
    // An output that is neither SVG nor PNG; an existing plot is kept when drawing fails.
    let o = heapy(d, &["mprof", "plot", "ok.dat", "-o", "p.gif"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("plots are written as .svg or .png"));
    let before = std::fs::read(d.join("p.svg")).unwrap();
    let o = heapy(d, &["mprof", "plot", "cut.dat", "-o", "p.svg"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(d.join("p.svg")).unwrap(), before);
    // Finite figures whose span is not (plotters would loop forever on an infinite axis).
    for (name, text) in [
        ("wide.dat", "MEM 1.0 -1e308\nMEM 2.0 1e308\n"),
        ("tall.dat", "MEM 1.7e308 1\nMEM 1 2\n"),
    ] {
        std::fs::write(d.join(name), text).unwrap();
        let o = heapy(d, &["mprof", "plot", name, "-o", "w.svg"]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        assert!(
            stderr(&o).contains("the times or MiB figures are too far apart to plot"),
            "{name}: {}",
            stderr(&o)
        );
    }
    // Unknown options are clap's errors (exit 2).
    let o = heapy(d, &["mprof", "plot", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unexpected argument '--bogus'"));
}

#[test]
fn flame_draws_folded_stacks_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // What Heap::folded writes, from a real heap of this process.
    let mark = heapy::hpy().mark();
    let kept = heapy::with_kind("Cache", || vec![0u8; 5000]);
    let folded = mark.heap().folded();
    // One stack, from the test's thread down to the closure that allocated, then the kind.
    let test = "cli_mprof::flame_draws_folded_stacks_and_refuses_bad_input";
    assert!(
        folded.ends_with(&format!("{test};{test}::{{closure#0}};Cache 5000\n")),
        "{folded}"
    );
    assert_eq!(folded.lines().count(), 1, "{folded}");
    std::fs::write(
        d.join("snap.folded"),
        format!("main;load;Vec<Person> 4096\n{folded}"),
    )
    .unwrap();
    let o = heapy(d, &["flame", "snap.folded", "-o", "heap.svg"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(d.join("heap.svg")).unwrap();
    assert!(svg.contains("Live heap: 9096 bytes (snap.folded)"));
    assert!(svg.contains("<title>Vec&lt;Person&gt; (4,096 bytes, 45.03%)</title>"));
    assert!(svg.contains("<title>Cache (5,000 bytes, 54.97%)</title>"));

    let o = heapy(d, &["flame", "nope.folded"]);
    assert_eq!(
        stderr(&o),
        "heapy: nope.folded: No such file or directory (os error 2)\n"
    );
    std::fs::write(d.join("huge.folded"), "a;b 18446744073709551615\nc 1\n").unwrap();
    let o = heapy(d, &["flame", "huge.folded", "-o", "heap.svg"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the byte counts add up to more than 18446744073709551615 (at line 2)"),
        "{}",
        stderr(&o)
    );
    std::fs::write(d.join("bad.folded"), "main;load 12\nmain;x twelve\n").unwrap();
    let o = heapy(d, &["flame", "bad.folded", "-o", "heap.svg"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("line 2 of the folded stacks does not end with a byte count"),
        "{}",
        stderr(&o)
    );
    // The good picture is still there.
    assert_eq!(std::fs::read_to_string(d.join("heap.svg")).unwrap(), svg);
    std::fs::write(d.join("snap.json"), "{\"format\": \"heapy\"}").unwrap();
    let o = heapy(d, &["flame", "snap.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("snap.json: not a heapy snapshot (its format is 'heapy')"),
        "{}",
        stderr(&o)
    );
    drop(kept);
}

#[test]
fn list_tables_the_recordings_and_wraps_long_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A recording of this process while it holds 4 MiB (the recorder samples the whole
    // heap: other tests of this file run meanwhile, so the file's own figures are checked).
    let first = d.join("mprofile_20260101000000.dat");
    let rec = heapy::Recorder::start_every(&first, Duration::from_millis(10)).unwrap();
    let held = vec![1u8; 4 << 20];
    std::thread::sleep(Duration::from_millis(60));
    rec.stop().unwrap();
    drop(held);
    let t = heapy::mprof::Timeline::load(&first).unwrap();
    assert!(t.peak().unwrap().mib >= 4.0);
    // A recording with a long command line, and a file that is not one.
    let long = "./target/release/server --config /etc/server/production.toml --workers 16 --log-level debug";
    std::fs::write(
        d.join("mprofile_20260101000001.dat"),
        format!("CMDLINE {long}\nMEM 1.500 100.0\nMEM 2.250 100.1\nMEM 0.750 100.2\n"),
    )
    .unwrap();
    std::fs::write(d.join("mprofile_20260101000002.dat"), "hello\n").unwrap();
    let second = heapy::mprof::Timeline::load(d.join("mprofile_20260101000001.dat")).unwrap();

    for (columns, width) in [("70", 70), ("200", 200)] {
        let o = Command::new(env!("CARGO_BIN_EXE_heapy"))
            .args(["mprof", "list"])
            .current_dir(d)
            .env("COLUMNS", columns)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_fits(&text, width);
        let rows = fit_rows(&text, "Command");
        assert_eq!(rows.len(), 3, "{text}");
        for (i, (row, t)) in rows.iter().zip([&t, &second]).enumerate() {
            let name = format!("mprofile_2026010100000{i}.dat");
            let expect = [
                i.to_string(),
                name,
                t.mem().len().to_string(),
                format!("{:.3}", t.peak().unwrap().mib),
            ];
            assert_eq!(row.figures[..], expect, "{text}");
            assert_eq!(row.label, t.cmdline().unwrap().replace(' ', ""), "{text}");
            // The commands wrap when narrow, never at 200 columns.
            assert_eq!(row.lines > 1, width == 70, "{row:?}\n{text}");
        }
        assert_eq!(rows[1].figures[2..], ["3", "2.250"]);
        assert_eq!(rows[2].figures[..2], ["2", "mprofile_20260101000002.dat"]);
        assert!(rows[2].label.starts_with("(unreadable:"), "{text}");
    }
}
