//! `heapy report` of a whole-process snapshot, which carries the census's allocation
//! history: the page switches between the live heap, the allocations since start and the
//! heap at its peak. A file of its own: the snapshot is of the whole process.

#[path = "common/webdriver.rs"]
mod webdriver;

use std::process::Command;

use serde_json::json;
use webdriver::Browser;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

#[test]
fn history_views_in_a_browser() {
    if std::env::var_os("HEAPY_SKIP_BROWSER").is_some_and(|v| v == "1") {
        eprintln!("HEAPY_SKIP_BROWSER=1: the browser test is skipped");
        return;
    }
    for _ in 0..5 {
        drop(heapy::with_kind("Churn", || vec![0u8; 100]));
    }
    let kept = heapy::with_kind("Kept", || vec![0u8; 300]);
    let h = heapy::hpy().heap();
    let peak = h
        .at_peak()
        .expect("a whole-process heap carries its history");
    let alloc = h.allocations().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.json");
    let out = dir.path().join("report.html");
    h.dump(&snap).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_heapy"))
        .args([
            "report",
            snap.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let b = Browser::start(1280, 1000);
    b.open(&format!("file://{}", out.display()));
    // The header's peak is the history's heap at its peak.
    assert_eq!(
        b.js("return Number(document.querySelector('#total-peak .x').textContent.replace(/[^0-9]/g, ''));", json!([])),
        json!(peak.size())
    );
    let kind_row = |b: &Browser, label: &str| {
        b.rows(&format!("#table tbody tr[data-label={label}]"))
            .into_iter()
            .map(|r| (r.1, r.2))
            .collect::<Vec<_>>()
    };
    // Live: only the kept buffer; Churn's blocks are freed.
    assert_eq!(kind_row(&b, "Kept"), [(1, 300)]);
    assert_eq!(kind_row(&b, "Churn"), []);
    // Allocated since start: every block, freed ones included.
    b.click("#views [role=tab][data-value='1']");
    b.wait("return document.querySelector('#flame').dataset.view === 'allocations';");
    assert_eq!(kind_row(&b, "Churn"), [(5, 500)]);
    assert_eq!(kind_row(&b, "Kept"), [(1, 300)]);
    // History has no single objects: no table by size or thread.
    assert_eq!(
        b.js("return [...document.querySelectorAll('#by [role=tab]')].map(t => [t.dataset.value, t.disabled]);", json!([])),
        json!([["kind", false], ["site", false], ["size", true], ["thread", true]])
    );
    let total_bytes = b.js(
        "return Number(document.querySelector('#flame').dataset.zoomBytes);",
        json!([]),
    );
    assert_eq!(total_bytes, json!(alloc.size()));
    // Drill-down works in a view of history: Churn's site, and its traceback.
    b.click("#table tbody tr[data-label=Churn]");
    b.wait("return !!document.querySelector('#traceback li');");
    assert_eq!(
        b.rows("#drill-table tbody tr")
            .iter()
            .map(|r| (r.1, r.2))
            .collect::<Vec<_>>(),
        [(5, 500)]
    );
    assert!(b.text("#traceback").contains("history_views_in_a_browser"));
    // The heap at its peak: the flame graph's root holds the peak's bytes.
    b.click("#views [role=tab][data-value='2']");
    b.wait("return document.querySelector('#flame').dataset.view === 'peak';");
    assert_eq!(
        b.js(
            "return Number(document.querySelector('#flame').dataset.zoomBytes);",
            json!([])
        ),
        json!(peak.size())
    );
    let console = b.console();
    assert!(console.iter().all(|m| !m.contains("SEVERE")), "{console:?}");
    drop(kept);
}
