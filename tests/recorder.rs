//! The Recorder: mprof `.dat` timelines written while the program runs, read back, plotted;
//! and `HEAPY_MPROF` starting one with no code change. One recorder runs at a time in a
//! process, so the tests here take turns.
#![cfg(all(feature = "macros", feature = "plot"))]

use std::ffi::OsStr;
use std::sync::Mutex;
use std::time::Duration;

mod common;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
const MIB: f64 = 1024.0 * 1024.0;

#[heapy::profile(stream = none)]
fn load(n: usize) -> Vec<u8> {
    let v = vec![1u8; n];
    std::thread::sleep(Duration::from_millis(30));
    inner();
    v
}

#[heapy::profile(stream = none)]
fn inner() {
    let w = vec![2u8; 1 << 20];
    std::thread::sleep(Duration::from_millis(20));
    drop(w);
}

#[test]
fn timeline_with_func_brackets_reads_back() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.dat");
    let before = heapy::hpy().stats().live_bytes as f64 / MIB;
    let rec = heapy::Recorder::start_every(&path, Duration::from_millis(10)).unwrap();
    let v = load(8 << 20);
    std::thread::sleep(Duration::from_millis(30));
    drop(v);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(rec.stop().unwrap(), path);

    let t = heapy::mprof::Timeline::load(&path).unwrap();
    let exe = std::env::args().next().unwrap();
    assert!(t.cmdline().unwrap().starts_with(&exe));
    assert!(t.mem().len() >= 5, "{} samples", t.mem().len());
    assert!(t.mem().windows(2).all(|w| w[0].time <= w[1].time));
    assert_eq!(t.rss().len(), t.mem().len());
    // The peak holds the 8 MiB and the nested 1 MiB, on top of what was live before.
    let peak = t.peak().unwrap().mib - before;
    assert!(
        (8.99..9.5).contains(&peak),
        "peak {peak} MiB above the start"
    );

    // Brackets: the nested call first (it returns first), one level deeper.
    let funcs = t.funcs();
    assert_eq!(funcs.len(), 2);
    assert_eq!(
        (funcs[0].name.as_str(), funcs[0].level),
        ("recorder::inner", 1)
    );
    assert_eq!(
        (funcs[1].name.as_str(), funcs[1].level),
        ("recorder::load", 0)
    );
    let (f, g) = (&funcs[1], &funcs[0]);
    assert!(f.start.time <= g.start.time && g.end.time <= f.end.time);
    let grew = f.end.mib - f.start.mib;
    assert!(
        (7.99..8.01).contains(&grew),
        "load grew the heap by {grew} MiB"
    );
    assert!((g.end.mib - g.start.mib).abs() < 0.01);
}

#[test]
fn a_short_peak_between_samples_is_not_missed() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spike.dat");
    let before = heapy::hpy().stats().live_bytes as f64 / MIB;
    // One sample at start, the next 300 ms later: the 16 MiB lives for far less than that.
    let rec = heapy::Recorder::start_every(&path, Duration::from_millis(300)).unwrap();
    let spike = vec![3u8; 16 << 20];
    std::hint::black_box(&spike);
    drop(spike);
    std::thread::sleep(Duration::from_millis(400));
    rec.stop().unwrap();
    let t = heapy::mprof::Timeline::load(&path).unwrap();
    let peak = t.peak().unwrap().mib - before;
    assert!(
        (15.99..16.5).contains(&peak),
        "peak {peak} MiB above the start"
    );
    let last = t.mem().last().unwrap().mib - before;
    assert!(last < 0.5, "the spike is gone at the end: {last}");
}

#[test]
fn plots_svg_and_png() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.dat");
    let rec = heapy::Recorder::start_every(&path, Duration::from_millis(10)).unwrap();
    let v = load(4 << 20);
    std::thread::sleep(Duration::from_millis(20));
    drop(v);
    rec.stop().unwrap();
    let t = heapy::mprof::Timeline::load(&path).unwrap();

    let svg_path = dir.path().join("plot.svg");
    t.plot(&svg_path).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg"));
    for label in [
        "time (in seconds)",
        "memory used (in MiB)",
        "heap (exact)",
        "RSS",
        "recorder::load",
        "recorder::inner",
        "peak ",
    ] {
        assert!(svg.contains(label), "{label:?} missing from the SVG");
    }
    let exe = std::env::args().next().unwrap();
    let title = exe.rsplit('/').next().unwrap();
    assert!(svg.contains(title), "the command is the title");
    // Bracket paths: two per call.
    assert!(svg.matches("<polyline").count() >= 4);

    let png_path = dir.path().join("plot.png");
    t.plot(&png_path).unwrap();
    let png = std::fs::read(&png_path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000, "a real picture, {} bytes", png.len());
    if let Ok(keep) = std::env::var("HEAPY_KEEP_PLOT") {
        std::fs::copy(&png_path, keep).unwrap();
    }
}

/// The child half of `heapy_mprof_env_starts_a_recorder` (does nothing on its own).
#[test]
fn env_child() {
    if std::env::var_os("HEAPY_TEST_CHILD").is_none() {
        return;
    }
    let v = vec![5u8; 6 << 20];
    std::thread::sleep(Duration::from_millis(250));
    drop(v);
    // More than one sampling interval (0.1 s) after the free, so a later window shows it.
    std::thread::sleep(Duration::from_millis(250));
}

#[test]
fn heapy_mprof_env_starts_a_recorder() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.dat");
    let env = [
        ("HEAPY_MPROF", Some(path.as_os_str())),
        ("HEAPY_TEST_CHILD", Some(OsStr::new("1"))),
    ];
    let out = common::rerun("env_child", &env, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = heapy::mprof::Timeline::load(&path).unwrap();
    assert!(t.cmdline().unwrap().contains("env_child"));
    assert!(t.mem().len() >= 2);
    let peak = t.peak().unwrap().mib;
    assert!((6.0..7.0).contains(&peak), "peak {peak} MiB");
    // The last samples (the last from the atexit handler) come after the 6 MiB were freed.
    assert!(t.mem().last().unwrap().mib < 1.0);
}

#[test]
fn a_bad_interval_is_named_and_the_default_used() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Not a number; and a number of seconds too large for a Duration (which would abort
    // the program before main if it were converted blindly).
    for bad in ["fast", "1e20"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.dat");
        let env = [
            ("HEAPY_MPROF", Some(path.as_os_str())),
            ("HEAPY_MPROF_INTERVAL", Some(OsStr::new(bad))),
            ("HEAPY_TEST_CHILD", Some(OsStr::new("1"))),
        ];
        let out = common::rerun("env_child", &env, &["--quiet"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{bad}: {stderr}");
        assert_eq!(
            stderr,
            format!(
                "heapy: HEAPY_MPROF_INTERVAL={bad:?} is not a positive number of seconds; using 0.1\n"
            )
        );
        // Recorded at the default interval: about 5 samples in the child's 0.5 s plus the
        // last (not the 50 of a 0.01 s interval).
        let n = heapy::mprof::Timeline::load(&path).unwrap().mem().len();
        assert!((2..=12).contains(&n), "{bad}: {n} samples");
    }
}

#[test]
fn second_recorder_and_bad_path_are_errors() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let err = heapy::Recorder::start(dir.path().join("no/such/dir/x.dat")).unwrap_err();
    assert!(matches!(err, heapy::Error::Io { .. }), "{err}");
    let rec = heapy::Recorder::start(dir.path().join("a.dat")).unwrap();
    let err = heapy::Recorder::start(dir.path().join("b.dat")).unwrap_err();
    assert!(err.to_string().contains("already running"), "{err}");
    rec.stop().unwrap();
    // Stopped: a new one may start.
    heapy::Recorder::start(dir.path().join("c.dat"))
        .unwrap()
        .stop()
        .unwrap();
}
