//! Snapshot files: dump → load gives the same tables; damaged, truncated, foreign, newer
//! and missing files each give the right `heapy::Error` and never a panic; a failed dump
//! never harms the file already there; parallel dumps to one path never collide.

use std::path::Path;
use std::thread;

use proptest::prelude::*;

/// A heap of a few kinds from two threads (the second one enters the mark).
fn sample() -> (heapy::Heap, Vec<Vec<u8>>) {
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(64);
    let mark = heapy::hpy().mark();
    heapy::with_kind("Person", || {
        for i in 0..5 {
            held.push(vec![0u8; 40 + i]);
        }
    });
    heapy::with_kind("Cache", || held.push(vec![0u8; 4096]));
    held.push(vec![0u8; 7]);
    let m = mark.clone();
    let theirs = thread::Builder::new()
        .name("loader".into())
        .spawn(move || {
            let _in = m.enter();
            heapy::with_kind("Loaded", || vec![vec![1u8; 300], vec![2u8; 300]])
        })
        .unwrap()
        .join()
        .unwrap();
    held.extend(theirs);
    // The `theirs` Vec's buffer was freed when `extend` consumed it.
    (mark.heap(), held)
}

fn tables(h: &heapy::Heap) -> Vec<String> {
    vec![
        h.to_string(),
        h.bykind().all().to_string(),
        h.bysize().all().to_string(),
        h.bythread().all().to_string(),
        h.byid().all().to_string(),
        format!("{h:?}"),
        h.folded(),
    ]
}

fn objects(h: &heapy::Heap) -> Vec<(usize, usize, u64, String, String)> {
    h.objects()
        .map(|o| {
            (
                o.address(),
                o.size(),
                o.serial(),
                o.thread().to_string(),
                o.kind().to_string(),
            )
        })
        .collect()
}

#[test]
fn dump_then_load_prints_the_same_tables() {
    let (h, held) = sample();
    assert_eq!(h.count(), 5 + 1 + 1 + 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.json");
    h.dump(&path).unwrap();
    let back = heapy::Heap::load(&path).unwrap();
    assert_eq!(tables(&back), tables(&h));
    assert_eq!(objects(&back), objects(&h));
    assert!(back.bythread().rows().any(|r| r.label() == "loader"));
    // The algebra and the diff work across the file.
    assert!((&back - &h).is_empty() && (&h ^ &back).is_empty());
    assert_eq!(back.diff(&h).rows().len(), 0);
    // The view goes into the file too.
    h.bysize().dump(&path).unwrap();
    assert_eq!(
        heapy::Heap::load(&path).unwrap().view(),
        Some(heapy::By::Size)
    );
    // Only the final file is left: no temporary files.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    drop(held);
}

fn snapshot_bytes(dir: &Path) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (h, held) = sample();
    let path = dir.join("good.json");
    h.dump(&path).unwrap();
    (std::fs::read(&path).unwrap(), held)
}

fn load_bytes(dir: &Path, name: &str, bytes: &[u8]) -> heapy::Result<heapy::Heap> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    heapy::Heap::load(&path)
}

#[test]
fn truncated_files_are_reported_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, held) = snapshot_bytes(dir.path());
    let mut cuts: Vec<usize> = (1..bytes.len()).step_by(3).collect();
    cuts.push(bytes.len() - 1);
    for cut in cuts {
        match load_bytes(dir.path(), "cut.json", &bytes[..cut]) {
            Err(heapy::Error::Truncated { path }) => assert!(path.ends_with("cut.json")),
            other => panic!("cut at {cut} of {}: {other:?}", bytes.len()),
        }
    }
    let err = load_bytes(dir.path(), "cut.json", &bytes[..bytes.len() / 2]).unwrap_err();
    assert!(err
        .to_string()
        .contains("cut.json: truncated heapy snapshot"));
    drop(held);
}

#[test]
fn flipped_bits_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, held) = snapshot_bytes(dir.path());
    let text = String::from_utf8(bytes.clone()).unwrap();
    let body = text.find(",\"body\":").unwrap() + ",\"body\":".len();
    let magic = "{\"format\":\"heapy-snapshot\"".len();
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 1 << (i % 8);
        let r = load_bytes(dir.path(), "flip.json", &damaged);
        match (&r, i) {
            (Err(heapy::Error::Corrupt { .. }), _) => {}
            (Err(heapy::Error::NotASnapshot { .. }), i) if i < magic => {}
            (Err(heapy::Error::UnsupportedVersion { .. }), i) if i < body => {}
            _ => panic!(
                "flipping bit {} of byte {i} ({:?}): {:?}",
                i % 8,
                bytes[i] as char,
                r.map(|h| h.count())
            ),
        }
    }
    let mut damaged = bytes.clone();
    let at = text.find("Person").unwrap();
    damaged[at] ^= 0x20; // "person"
    let err = load_bytes(dir.path(), "flip.json", &damaged).unwrap_err();
    assert!(err
        .to_string()
        .contains("corrupt heapy snapshot (checksum mismatch"));
    drop(held);
}

#[test]
fn newer_versions_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, held) = snapshot_bytes(dir.path());
    let text = String::from_utf8(bytes).unwrap();
    // A mark's heap carries no history: a version-1 file.
    let newer = text.replacen("\"version\":1,", "\"version\":3,", 1);
    assert_ne!(newer, text);
    match load_bytes(dir.path(), "v3.json", newer.as_bytes()) {
        Err(heapy::Error::UnsupportedVersion {
            version: 3,
            supported: 2,
            ..
        }) => {}
        other => panic!("{:?}", other.map(|h| h.count())),
    }
    let err = load_bytes(dir.path(), "v3.json", newer.as_bytes()).unwrap_err();
    assert!(err
        .to_string()
        .contains("version 3 is newer than this heapy reads"));
    drop(held);
}

#[test]
fn foreign_files_are_not_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let (h, held) = sample();
    let dhat = h.dhat_json();
    let foreign: [(&str, &[u8]); 8] = [
        ("empty", b""),
        ("object", b"{\"name\":\"x\"}"),
        ("array", b"[1,2,3]"),
        ("string", b"\"heapy\""),
        ("text", b"main;load 123\n"),
        ("binary", &[0xff, 0xfe, 0x00, 0x12, 0x80]),
        ("other format", b"{\"format\":\"other\",\"version\":1}"),
        ("dhat", dhat.as_bytes()),
    ];
    for (what, bytes) in foreign {
        match load_bytes(dir.path(), "foreign.json", bytes) {
            Err(e @ heapy::Error::NotASnapshot { .. }) => {
                assert!(
                    e.to_string().contains("not a heapy snapshot"),
                    "{what}: {e}"
                )
            }
            other => panic!("{what}: {:?}", other.map(|h| h.count())),
        }
    }
    drop(held);
}

#[test]
fn missing_files_and_failed_dumps() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    match heapy::Heap::load(&missing) {
        Err(e @ heapy::Error::Io { .. }) => {
            assert!(e.to_string().contains("missing.json"));
            let heapy::Error::Io { source, .. } = e else {
                unreachable!()
            };
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{:?}", other.map(|h| h.count())),
    }

    let (h, held) = sample();
    // Into a directory that does not exist.
    let nowhere = dir.path().join("no/such/dir/snap.json");
    assert!(matches!(h.dump(&nowhere), Err(heapy::Error::Io { .. })));

    // A good file stays whole when a dump over it fails: with a 250-byte name, the
    // temporary file's name (the name plus a suffix) is too long for the file system, so
    // the good file is put there by a rename, and dumps over it fail.
    let good = dir.path().join(format!("{}.json", "s".repeat(245)));
    let short = dir.path().join("short.json");
    h.dump(&short).unwrap();
    std::fs::rename(&short, &good).unwrap();
    let before = std::fs::read(&good).unwrap();
    let (other, more) = sample();
    match other.dump(&good) {
        Err(heapy::Error::Io { path, .. }) => assert_eq!(path, good),
        r => panic!("the dump should fail: {r:?}"),
    }
    assert_eq!(std::fs::read(&good).unwrap(), before);
    assert_eq!(tables(&heapy::Heap::load(&good).unwrap()), tables(&h));
    // Nothing else was left behind in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    drop((held, more));
}

#[test]
fn parallel_dumps_to_one_path_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.json");
    let (h, held) = sample();
    let expected = tables(&h);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10 {
                    h.dump(&path).unwrap();
                }
            });
        }
    });
    assert_eq!(tables(&heapy::Heap::load(&path).unwrap()), expected);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    drop(held);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_input_makes_load_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let dir = tempfile::tempdir().unwrap();
        prop_assert!(load_bytes(dir.path(), "any.json", &bytes).is_err());
    }

    #[test]
    fn damaged_snapshots_never_load(cut in 0usize..10_000, flips in proptest::collection::vec(any::<(usize, u8)>(), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, held) = snapshot_bytes(dir.path());
        let mut damaged = bytes[..(cut % bytes.len()).max(1)].to_vec();
        let n = damaged.len();
        for (at, bit) in flips {
            damaged[at % n] ^= 1 << (bit % 8);
        }
        if damaged != bytes {
            prop_assert!(load_bytes(dir.path(), "damaged.json", &damaged).is_err());
        }
        drop(held);
    }
}

#[test]
fn heapys_own_snapshot_work_is_not_in_the_census() {
    use std::io::Write;
    let (h, held) = sample();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("own.json");
    let mut sink = std::io::sink();
    let mark = heapy::hpy().mark();
    h.dump(&path).unwrap();
    let back = heapy::Heap::load(&path).unwrap();
    let d = back.bysize().diff(&h);
    let all = d.all();
    let (u, x, i, s) = (&back | &h, &back - &h, &back & &h, &back ^ &h);
    let inner = heapy::hpy().mark();
    write!(sink, "{d}{all}{u}{x}{i}{s}{back:?}").unwrap();
    let leftover = inner.heap();
    drop((back, d, all, u, x, i, s, inner, leftover));
    assert!(heapy::check_no_leaks(|| ()).is_ok());
    let left = mark.heap();
    assert!(left.is_empty(), "heapy's own work showed up:\n{left}");
    assert_eq!(mark.peak_bytes(), 0);
    drop(held);
}

/// FNV-1a (64 bits), to forge a file whose checksum holds.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A file with a valid checksum around `body`.
fn forged(body: &str) -> Vec<u8> {
    format!(
        "{{\"format\":\"heapy-snapshot\",\"version\":1,\"checksum\":\"fnv1a64:{:016x}\",\"body_bytes\":{},\"body\":{body}}}",
        fnv1a64(body.as_bytes()),
        body.len()
    )
    .into_bytes()
}

#[test]
fn impossible_contents_with_a_valid_checksum_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let fields = r#""object_fields":["address","size","serial","thread","ctx"]"#;
    let ok = format!(
        r#"{{"view":"size","sample_rate":null,"threads":[{{"index":1,"label":"main"}}],"kinds":[{{"ctx":3,"kind":"K","site":"src/a.rs:1 f","frames":[{{"function":"f","file":"src/a.rs","line":1}}]}}],{fields},"objects":[[4096,10,1,1,3],[8192,20,2,1,3]]}}"#
    );
    let h = load_bytes(dir.path(), "forged.json", &forged(&ok)).unwrap();
    assert_eq!(
        (h.count(), h.size(), h.view()),
        (2, 30, Some(heapy::By::Size))
    );
    assert_eq!(h.objects().next().unwrap().kind(), "K");
    let bad = [
        ok.replace("[8192,20,2,1,3]", "[8192,18446744073709551615,2,1,3]"),
        ok.replace("[8192,20,2,1,3]", "[8192,20,2,70000,3]"),
        ok.replace("\"size\",\"serial\"", "\"serial\",\"size\""),
        ok.replace("\"view\":\"size\",", ""),
        ok.replace("\"objects\"", "\"extra\":1,\"objects\""),
        ok.replace("[4096,10,1,1,3]", "[4096,10,1,1]"),
        ok.replace("\"sample_rate\":null", "\"sample_rate\":0"),
        ok.replace("\"sample_rate\":null", "\"sample_rate\":1099511627777"),
        ok.replace(
            "\"sample_rate\":null",
            "\"sample_rate\":18446744073709551615",
        ),
        "[]".to_string(),
    ];
    for body in bad {
        match load_bytes(dir.path(), "forged.json", &forged(&body)) {
            Err(heapy::Error::Corrupt { .. }) => {}
            other => panic!("{body}: {:?}", other.map(|h| h.count())),
        }
    }
    // The largest size a census record holds (40 bits) loads; one byte more does not.
    let max = ok.replace("[8192,20,2,1,3]", "[8192,1099511627775,2,1,3]");
    let h = load_bytes(dir.path(), "forged.json", &forged(&max)).unwrap();
    assert_eq!(h.size(), 10 + 1_099_511_627_775);
    // The sparsest sampling a census does (a mean gap of 1 TiB) loads, and its estimates
    // print: each 10- or 20-byte object stands for about 2^40 / size objects.
    let sparse = ok.replace("\"sample_rate\":null", "\"sample_rate\":1099511627776");
    let h = load_bytes(dir.path(), "forged.json", &forged(&sparse)).unwrap();
    assert_eq!(h.sample_rate(), Some(1 << 40));
    let est = h.estimated_count();
    let want = 2.0f64.powi(40) / 10.0 + 2.0f64.powi(40) / 20.0;
    assert!((est - want).abs() / want < 1e-3, "{est} vs {want}");
    // (The id view lists the sampled objects themselves, not estimates.)
    for by in heapy::By::ALL.iter().filter(|b| **b != heapy::By::Id) {
        assert!(h.by(*by).to_string().contains("estimates"), "{by}");
    }
    assert!(h.diff(&h.filter(|_| false)).to_string().contains("Summary"));
    let over = ok.replace("[8192,20,2,1,3]", "[8192,1099511627776,2,1,3]");
    let err = load_bytes(dir.path(), "forged.json", &forged(&over)).unwrap_err();
    assert!(err
        .to_string()
        .contains("an object of 1099511627776 bytes is not possible"));
}

#[test]
fn algebra_on_snapshots_of_two_processes_keeps_each_objects_names() {
    // Two processes used context id 3 and thread index 1 for different things.
    let dir = tempfile::tempdir().unwrap();
    let fields = r#""object_fields":["address","size","serial","thread","ctx"]"#;
    let body = |thread: &str, kind: &str, objects: &str| {
        format!(
            r#"{{"view":"kind","sample_rate":null,"threads":[{{"index":1,"label":"{thread}"}}],"kinds":[{{"ctx":3,"kind":"{kind}","site":null,"frames":[]}}],{fields},"objects":[{objects}]}}"#
        )
    };
    let x = load_bytes(
        dir.path(),
        "x.json",
        &forged(&body("loader", "Apple", "[4096,10,1,1,3],[8192,10,2,1,3]")),
    )
    .unwrap();
    let y = load_bytes(
        dir.path(),
        "y.json",
        &forged(&body("writer", "Cherry", "[4096,7,5,1,3]")),
    )
    .unwrap();
    let names = |h: &heapy::Heap| -> Vec<(String, String, usize)> {
        let mut v: Vec<_> = h
            .objects()
            .map(|o| (o.kind().to_string(), o.thread().to_string(), o.size()))
            .collect();
        v.sort();
        v
    };
    let apple = ("Apple".to_string(), "loader".to_string(), 10);
    let cherry = ("Cherry".to_string(), "writer".to_string(), 7);
    assert_eq!(
        names(&(&x | &y)),
        [apple.clone(), apple.clone(), cherry.clone()]
    );
    assert_eq!(
        names(&(&y | &x)),
        [apple.clone(), apple.clone(), cherry.clone()]
    );
    assert_eq!(names(&(&x ^ &y)), [apple.clone(), apple, cherry.clone()]);
    assert_eq!(names(&(&(&x ^ &y) - &x)), [cherry]);
    let by_kind = (&x | &y).to_string();
    assert!(
        by_kind.contains(" Apple\n") && by_kind.contains(" Cherry\n"),
        "{by_kind}"
    );
}

/// The file of a subset names only what the subset's objects use.
#[test]
fn a_filtered_subset_dumps_only_the_kinds_and_threads_it_uses() {
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(200);
    let mark = heapy::hpy().mark();
    for i in 0..100 {
        heapy::with_kind(&format!("SubsetKind{i}"), || {
            held.push(vec![0u8; 10 + i]);
            held.push(vec![1u8; 10 + i]);
        });
    }
    let m = mark.clone();
    let theirs = thread::Builder::new()
        .name("other-kinds".into())
        .spawn(move || {
            let _in = m.enter();
            heapy::with_kind("TheirKind", || vec![2u8; 33])
        })
        .unwrap()
        .join()
        .unwrap();
    let h = mark.heap();
    assert_eq!(h.count(), 201);
    assert_eq!(h.bythread().rows().len(), 2);
    // 20 objects: both of kinds 0 to 9 (sizes 10 to 19).
    let sub = h.filter(|o| o.size() < 20);
    assert_eq!((sub.count(), sub.size()), (20, 2 * (10..20).sum::<usize>()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("subset.json");
    sub.dump(&path).unwrap();
    let back = heapy::Heap::load(&path).unwrap();
    assert_eq!(objects(&back), objects(&sub));
    assert_eq!(tables(&back), tables(&sub));
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let body = &file["body"];
    let mut names: Vec<&str> = body["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    let mut want: Vec<String> = (0..10).map(|i| format!("SubsetKind{i}")).collect();
    want.sort();
    assert_eq!(names, want);
    // Exactly the contexts the objects name, no other.
    let table: std::collections::BTreeSet<u64> = body["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["ctx"].as_u64().unwrap())
        .collect();
    let used: std::collections::BTreeSet<u64> = body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o[4].as_u64().unwrap())
        .collect();
    assert_eq!(table, used);
    assert_eq!(table.len(), body["kinds"].as_array().unwrap().len());
    // One thread: this one.
    let threads = body["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(
        threads[0]["label"].as_str(),
        Some(sub.objects().next().unwrap().thread())
    );
    drop((held, theirs));
}
