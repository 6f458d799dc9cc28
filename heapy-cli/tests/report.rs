//! `heapy report`: the HTML page, checked in a real browser (headless Chromium driven over
//! WebDriver), and the command's handling of bad input.
//!
//! The browser tests need `chromium` and `chromedriver` on PATH (`.ci/run` installs
//! Debian's `chromium` and `chromium-driver` when missing); without them they fail, naming
//! the packages. `HEAPY_SKIP_BROWSER=1` skips them (they then say so on stderr).

#[path = "common/webdriver.rs"]
mod webdriver;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::{json, Value};
use webdriver::Browser;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// A kind name that would run a script if the page put it in as markup.
const NASTY: &str = "</script><script>alert(1)</script>";

fn heapy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heapy"))
        .args(args)
        .output()
        .expect("heapy runs")
}

fn skip_browser() -> bool {
    if std::env::var_os("HEAPY_SKIP_BROWSER").is_some_and(|v| v == "1") {
        eprintln!("HEAPY_SKIP_BROWSER=1: the browser test is skipped");
        return true;
    }
    false
}

/// Alpha's objects: a buffer for three Vecs (one site), and three 1000-byte buffers
/// (another site).
#[inline(never)]
fn make_alpha() -> Vec<Vec<u8>> {
    let mut v = Vec::with_capacity(3);
    for _ in 0..3 {
        v.push(vec![0u8; 1000]);
    }
    v
}

/// `n` with commas between groups of three digits, as the page writes exact figures.
fn grouped(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn owned(rows: &[(&str, i64, i64)]) -> Vec<(String, i64, i64)> {
    rows.iter()
        .map(|(l, c, s)| (l.to_string(), *c, *s))
        .collect()
}

/// Everything a page must not do to stay self-contained: no URL it could load, one
/// content security policy forbidding requests, the data in one JSON block.
fn assert_self_contained(html: &str) {
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'nonce-"
    ));
    // The only URL in the page is the SVG namespace the script names (not a load).
    let urls = html.matches("http://").count() + html.matches("https://").count();
    let svg_ns = html.matches("'http://www.w3.org/2000/svg'").count();
    assert_eq!(urls, svg_ns, "a URL in the page");
    assert_eq!(svg_ns, 1);
    for attr in ["src=", "href=\"http", "@import", "url("] {
        assert!(!html.contains(attr), "{attr} in the page");
    }
    assert_eq!(html.matches("<script").count(), 2, "two script elements");
}

#[test]
fn report_in_a_browser() {
    if skip_browser() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mark = heapy::hpy().mark();
    let alpha = heapy::with_kind("Alpha", make_alpha);
    let nasty = heapy::with_kind(NASTY, || Box::new([0u8; 64]));
    let base = mark.heap();
    let beta = heapy::with_kind("Beta", || vec![0u64; 50]);
    let h = mark.heap();
    let vec_size = std::mem::size_of::<Vec<u8>>() as i64;
    let (alpha_n, alpha_b) = (4, 3 * 1000 + 3 * vec_size);
    let (beta_n, beta_b) = (1, 50 * 8);
    let (nasty_n, nasty_b) = (1, 64);
    assert_eq!(h.count() as i64, alpha_n + beta_n + nasty_n, "{h}");
    let alpha_fn = h
        .filter(|o| o.kind() == "Alpha")
        .traceback()
        .frames()
        .iter()
        .map(|f| f.function().to_owned())
        .find(|f| f.ends_with("make_alpha"))
        .expect("make_alpha on Alpha's stack");

    let snap = dir.path().join("snap.json");
    let old = dir.path().join("old.json");
    let dat = dir.path().join("run.dat");
    let out = dir.path().join("report.html");
    h.dump(&snap).unwrap();
    base.dump(&old).unwrap();
    let samples = [(100.0, 1.0), (100.5, 2.5), (101.0, 4.0), (101.5, 3.0)];
    let mut text_dat = String::from("CMDLINE demo --flag\n");
    for (t, m) in samples {
        text_dat.push_str(&format!("MEM {m} {t}\n"));
    }
    text_dat.push_str("FUNC demo::load 1.0 100.1 3.9 101.0 0\n");
    std::fs::write(&dat, text_dat).unwrap();
    let o = heapy(&[
        "report",
        snap.to_str().unwrap(),
        "--base",
        old.to_str().unwrap(),
        "--mprof",
        dat.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&out).unwrap();
    assert_self_contained(&html);
    assert!(!html.contains(NASTY), "the kind name went in as markup");

    let b = Browser::start(1280, 1000);
    let url = format!("file://{}", out.display());
    b.open(&url);
    // Nothing asked for anything: no resource loaded, no CSP violation or error logged,
    // and the kind name's script never ran (an open alert would fail every command).
    assert_eq!(
        b.js(
            "return performance.getEntriesByType('resource').length;",
            json!([])
        ),
        json!(0)
    );
    assert_eq!(b.js("return document.scripts.length;", json!([])), json!(2));
    let console = b.console();
    assert!(console.iter().all(|m| !m.contains("SEVERE")), "{console:?}");

    // The header's totals and the table by kind, exact.
    let total = |id: &str| {
        b.js(
            &format!("return Number(document.querySelector('#{id} .v').dataset.value);"),
            json!([]),
        )
    };
    assert_eq!(total("total-count"), json!(alpha_n + beta_n + nasty_n));
    assert_eq!(total("total-bytes"), json!(alpha_b + beta_b + nasty_b));
    let by_kind = owned(&[
        ("Alpha", alpha_n, alpha_b),
        ("Beta", beta_n, beta_b),
        (NASTY, nasty_n, nasty_b),
    ]);
    assert_eq!(b.rows("#table tbody tr"), by_kind);
    // The name shows as text.
    assert_eq!(b.text("#table tbody tr:nth-child(3) td.label"), NASTY);
    assert!(b.text("#total-bytes .v").ends_with("KiB"));

    // Sorting: by count (most first, ties in the table's order), then the other way.
    b.click("th button[data-col=count]");
    let labels = |b: &Browser| -> Vec<String> {
        b.rows("#table tbody tr").into_iter().map(|r| r.0).collect()
    };
    assert_eq!(labels(&b), ["Alpha", "Beta", NASTY]);
    b.click("th button[data-col=count]");
    assert_eq!(labels(&b), ["Beta", NASTY, "Alpha"]);
    b.click("th button[data-col=label]");
    assert_eq!(labels(&b), [NASTY, "Alpha", "Beta"]);

    // Search.
    b.type_into("#search", "alp");
    b.wait("return document.querySelectorAll('#table tbody tr').length === 1;");
    assert_eq!(
        b.rows("#table tbody tr"),
        owned(&[("Alpha", alpha_n, alpha_b)])
    );

    // Drill-down: Alpha's sites, the largest opened, its objects and traceback.
    b.open(&url);
    b.click("#table tbody tr[data-label=Alpha]");
    b.wait("return !!document.querySelector('#traceback li');");
    let mut sites = b.rows("#drill-table tbody tr");
    assert_eq!(sites.len(), 2, "{sites:?}");
    assert!(
        sites.iter().all(|s| s.0.contains("make_alpha")),
        "{sites:?}"
    );
    sites.sort_by_key(|s| s.2);
    assert_eq!((sites[0].1, sites[0].2), (1, 3 * vec_size));
    assert_eq!((sites[1].1, sites[1].2), (3, 3000));
    let objects = b.js(
        "return [...document.querySelectorAll('#objects tbody tr')].map(r => [r.cells[0].textContent, Number(r.dataset.bytes)]);",
        json!([]),
    );
    let mut got: Vec<(String, i64)> = objects
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o[0].as_str().unwrap().to_owned(), o[1].as_i64().unwrap()))
        .collect();
    got.sort();
    let mut want: Vec<(String, i64)> = alpha
        .iter()
        .map(|v| (format!("{:#x}", v.as_ptr() as usize), 1000))
        .collect();
    want.sort();
    assert_eq!(got, want);
    let first = b.text("#traceback li:first-child");
    assert!(first.contains("make_alpha"), "{first}");
    assert!(b.text("#drill-path").contains("Alpha"));
    // The other site: the Vecs' buffer.
    b.click("#drill-table tbody tr:nth-child(2)");
    assert_eq!(
        b.js("return [...document.querySelectorAll('#objects tbody tr')].map(r => Number(r.dataset.bytes));", json!([])),
        json!([3 * vec_size])
    );

    // The keyboard: a row takes focus and opens with Enter.
    b.js(
        "document.querySelector('#table tbody tr[data-label=Beta]').focus();",
        json!([]),
    );
    b.key("\u{E007}");
    b.wait("return document.querySelector('#drill-path').textContent.includes('Beta');");

    // Other tables: by size, exact.
    b.click("#by [data-value=size]");
    assert_eq!(
        b.rows("#table tbody tr"),
        owned(&[
            ("1000", 3, 3000),
            ("400", 1, 400),
            (&(3 * vec_size).to_string(), 1, 3 * vec_size),
            ("64", 1, 64),
        ])
    );
    b.click("#by [data-value=thread]");
    let threads = b.rows("#table tbody tr");
    assert_eq!(threads.len(), 1);
    assert_eq!(
        (threads[0].1, threads[0].2),
        (alpha_n + beta_n + nasty_n, alpha_b + beta_b + nasty_b)
    );

    // The flame graph: click make_alpha's box to zoom, hover for its figures, search.
    let zoom = |b: &Browser| {
        b.js("return [document.querySelector('#flame').dataset.zoom, Number(document.querySelector('#flame').dataset.zoomBytes)];", json!([]))
    };
    assert_eq!(zoom(&b), json!(["", alpha_b + beta_b + nasty_b]));
    let boxed = b.js(
        "return window.heapyFlame.box(arguments[0]);",
        json!([alpha_fn]),
    );
    assert!(boxed.is_object(), "no box for {alpha_fn}");
    let (x, y) = (
        boxed["x"].as_f64().unwrap() + boxed["w"].as_f64().unwrap() / 2.0,
        boxed["y"].as_f64().unwrap() + 9.0,
    );
    b.pointer("#flame-canvas", x, y, false);
    b.wait("return !document.querySelector('#flame-tip').hidden;");
    let tip = b.text("#flame-tip");
    assert!(
        tip.contains(&format!("({} bytes)", grouped(alpha_b))),
        "{tip}"
    );
    b.pointer("#flame-canvas", x, y, true);
    assert_eq!(zoom(&b), json!([alpha_fn, alpha_b]));
    assert!(b.text("#flame-path").contains(&alpha_fn));
    b.click("#flame-reset");
    assert_eq!(zoom(&b), json!(["", alpha_b + beta_b + nasty_b]));
    b.type_into("#flame-search", "Beta");
    b.wait("return document.querySelector('#flame-match').dataset.bytes !== undefined;");
    assert_eq!(
        b.js("const d = document.querySelector('#flame-match').dataset; return [Number(d.frames), Number(d.bytes)];", json!([])),
        json!([1, beta_b])
    );
    // Inverted: the kinds hang from the root.
    b.click("#flame-invert");
    let beta_box = b.js("return window.heapyFlame.box('Beta');", json!([]));
    assert_eq!(beta_box["y"], json!(18), "{beta_box}");
    b.click("#flame-invert");
    // The keyboard: down to the largest child, Enter zooms, Escape zooms out.
    b.js(
        "document.querySelector('#flame-canvas').focus();",
        json!([]),
    );
    b.key("\u{E015}");
    b.key("\u{E007}");
    let z = zoom(&b);
    assert_ne!(z[0], json!(""));
    assert_eq!(z[1], json!(alpha_b + beta_b + nasty_b));
    b.key("\u{E00C}");
    assert_eq!(zoom(&b)[0], json!(""));

    // The difference from the base: Beta grew, in red.
    assert_eq!(
        b.rows("#diff-table tbody tr"),
        owned(&[("Beta", beta_n, beta_b)])
    );
    assert_eq!(
        b.js(
            "return document.querySelector('#diff-table tbody tr').className;",
            json!([])
        ),
        json!("grow")
    );
    // Memory over time: every sample, and the profiled call's brackets.
    assert_eq!(
        b.js("return document.querySelector('#timeline-line').getAttribute('points').split(' ').length;", json!([])),
        json!(samples.len())
    );
    assert_eq!(
        b.js("return [...document.querySelectorAll('#timeline-plot g.func')].map(g => g.dataset.name);", json!([])),
        json!(["demo::load"])
    );
    assert!(b.text("#timeline-what").contains("demo --flag"));

    // A screenshot of the whole page, for a person to look at.
    b.click("#by [data-value=kind]");
    b.click("#table tbody tr[data-label=Alpha]");
    b.wait("return !!document.querySelector('#traceback li');");
    let height = b.js("return document.documentElement.scrollHeight;", json!([]));
    b.resize(1280, height.as_u64().unwrap() as u32 + 40);
    b.js("window.scrollTo(0, 0);", json!([]));
    let png = b.screenshot();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    std::fs::write(&shot, &png).unwrap();
    eprintln!("screenshot: {}", shot.display());
    let console = b.console();
    assert!(console.iter().all(|m| !m.contains("SEVERE")), "{console:?}");
    drop((alpha, nasty, beta));
}

#[test]
fn bad_snapshots_write_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let mark = heapy::hpy().mark();
    let v = heapy::with_kind("Blob", || vec![0u8; 100]);
    let snap = dir.path().join("snap.json");
    mark.heap().dump(&snap).unwrap();
    drop(v);
    let bytes = std::fs::read(&snap).unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let damaged = dir.path().join("damaged.json");
    let mut d = bytes.clone();
    let at = d.len() - 10;
    d[at] = if d[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&damaged, &d).unwrap();
    let missing = dir.path().join("missing.json");
    for bad in [&cut, &damaged, &missing] {
        let want = heapy::Heap::load(bad).unwrap_err().to_string();
        // A new report is not made; an old one stays whole.
        let out = dir.path().join("new.html");
        let o = heapy(&["report", bad.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("heapy: {want}\n")
        );
        assert!(!out.exists());
        let old = dir.path().join("old.html");
        std::fs::write(&old, "old report").unwrap();
        let o = heapy(&[
            "report",
            snap.to_str().unwrap(),
            "--base",
            bad.to_str().unwrap(),
            "-o",
            old.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("heapy: {want}\n")
        );
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "old report");
    }
    // The error says what is wrong.
    let o = heapy(&["report", cut.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("truncated"));
    let bad_dat = dir.path().join("bad.dat");
    std::fs::write(&bad_dat, "MEM not-a-number\n").unwrap();
    let want = heapy::mprof::Timeline::load(&bad_dat)
        .unwrap_err()
        .to_string();
    let out = dir.path().join("r.html");
    let o = heapy(&[
        "report",
        snap.to_str().unwrap(),
        "--mprof",
        bad_dat.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("heapy: {want}\n")
    );
    assert!(!out.exists());
}

/// Allocates `per` boxes of `size` bytes at the end of a chain of calls chosen by the bits
/// of `path`, one function a level (`left_i` or `right_i`: flame graphs merge stacks by
/// function name, so each path has functions of its own): every `path` below 2^17 is a
/// distinct stack, 17 frames deep.
macro_rules! levels {
    ($($left:ident $right:ident => $nl:ident $nr:ident;)*) => {$(
        #[inline(never)]
        fn $left(path: u32, per: usize, size: usize, out: &mut Vec<Box<[u8]>>) {
            if path & 1 == 0 { $nl(path >> 1, per, size, out) } else { $nr(path >> 1, per, size, out) }
            std::hint::black_box(());
        }
        #[inline(never)]
        fn $right(path: u32, per: usize, size: usize, out: &mut Vec<Box<[u8]>>) {
            if path & 1 == 0 { $nl(path >> 1, per, size, out) } else { $nr(path >> 1, per, size, out) }
            std::hint::black_box(());
        }
    )*};
}

levels! {
    left_0 right_0 => left_1 right_1;
    left_1 right_1 => left_2 right_2;
    left_2 right_2 => left_3 right_3;
    left_3 right_3 => left_4 right_4;
    left_4 right_4 => left_5 right_5;
    left_5 right_5 => left_6 right_6;
    left_6 right_6 => left_7 right_7;
    left_7 right_7 => left_8 right_8;
    left_8 right_8 => left_9 right_9;
    left_9 right_9 => left_10 right_10;
    left_10 right_10 => left_11 right_11;
    left_11 right_11 => left_12 right_12;
    left_12 right_12 => left_13 right_13;
    left_13 right_13 => left_14 right_14;
    left_14 right_14 => left_15 right_15;
    left_15 right_15 => left_16 right_16;
}

#[inline(never)]
fn left_16(_path: u32, per: usize, size: usize, out: &mut Vec<Box<[u8]>>) {
    for _ in 0..per {
        out.push(vec![0u8; size].into_boxed_slice());
    }
}

#[inline(never)]
fn right_16(_path: u32, per: usize, size: usize, out: &mut Vec<Box<[u8]>>) {
    for _ in 0..per {
        out.push(vec![0u8; size].into_boxed_slice());
    }
}

/// A heap of 1M objects from 100k distinct stacks: the report's size and the browser's
/// time to its first view, printed (a measurement, not a timed test); its figures checked.
#[test]
fn a_million_objects_report() {
    if skip_browser() {
        return;
    }
    const STACKS: u32 = 100_000;
    const PER: usize = 10;
    let mark = heapy::hpy().mark();
    let t0 = Instant::now();
    let mut out: Vec<Box<[u8]>> = Vec::new();
    heapy::with_kind("Leaf", || {
        out.reserve_exact(STACKS as usize * PER);
        for p in 0..STACKS {
            if p & 1 == 0 {
                left_0(p >> 1, PER, 8 + (p % 8) as usize, &mut out);
            } else {
                right_0(p >> 1, PER, 8 + (p % 8) as usize, &mut out);
            }
        }
    });
    let made = t0.elapsed();
    let t0 = Instant::now();
    let h = mark.heap();
    let snapshot = t0.elapsed();
    let objects = STACKS as usize * PER + 1;
    let bytes: usize = out.iter().map(|b| b.len()).sum::<usize>() + out.capacity() * 16;
    assert_eq!((h.count(), h.size()), (objects, bytes));
    let t0 = Instant::now();
    let html = heapy::Report::new(&h).program("a million objects").html();
    let built = t0.elapsed();
    // Kept for a person to open (and replaced by the next run).
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-1m.html");
    std::fs::write(&path, &html).unwrap();
    let kinds: Vec<String> = h
        .rows()
        .map(|r| format!("{} ({} objects)", r.label(), r.count()))
        .collect();
    let b = Browser::start(1280, 1000);
    let opened = b.open(&format!("file://{}", path.display()));
    let first_flame_ms = b.js("return Number(document.body.dataset.flameMs);", json!([]));
    let total = b.js("return [Number(document.querySelector('#total-count .v').dataset.value), Number(document.querySelector('#total-bytes .v').dataset.value)];", json!([]));
    assert_eq!(total, json!([objects, bytes]));
    // The stacks all reach the flame graph: its frames count them.
    let frames: Value = b.js(
        "return window.heapyFlame && document.querySelector('#top .meta').textContent;",
        json!([]),
    );
    eprintln!(
        "1M-object report: {} objects from {STACKS} stacks; allocated in {made:.2?}, snapshot {snapshot:.2?}, \
         page built in {built:.2?}: {:.1} MiB; opened and drawn by Chromium in {opened:.2?} \
         (flame graph {first_flame_ms} ms); {}; kinds: {kinds:?}; {}",
        objects,
        html.len() as f64 / (1 << 20) as f64,
        frames.as_str().unwrap_or_default(),
        path.display()
    );
    drop(out);
}
