//! `heapy::serve` seen from outside: each endpoint fetched with a plain HTTP client over
//! std's sockets, the pprof profile decoded, figures checked against what the test allocated
//! (an unsampled census; each test tags its objects with a kind of its own, so tests running
//! in parallel do not disturb its figures), bad requests, limits, and the port closed when
//! the handle drops.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use prost::Message;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// A response: status, head (status line and headers), body.
struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a text body")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads a whole response (the server closes after it).
fn read_reply(mut c: TcpStream) -> Reply {
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).expect("the response");
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw[end + 4..].to_vec();
    let reply = Reply { status, head, body };
    let n: usize = reply.header("Content-Length").unwrap().parse().unwrap();
    // A response to HEAD states the length of the body it leaves out.
    if !reply.body.is_empty() || n == 0 {
        assert_eq!(n, reply.body.len(), "{}", reply.head);
    }
    reply
}

/// Sends `request` as is and reads the response.
fn send(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(request).unwrap();
    read_reply(c)
}

fn get(addr: SocketAddr, target: &str) -> Reply {
    send(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: heapy-test\r\n\r\n")
            .as_bytes(),
    )
}

/// pprof's messages, as far as the test reads them.
mod pb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(int64, tag = "1")]
        pub key: i64,
        #[prost(int64, tag = "2")]
        pub str: i64,
    }
}

/// Gunzips and decodes a profile.
fn decode(gz: &[u8]) -> pb::Profile {
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .unwrap();
    pb::Profile::decode(raw.as_slice()).unwrap()
}

/// The sample types' names, and the sums of each value over the samples labelled `kind`.
fn values_of(p: &pb::Profile, kind: &str) -> (Vec<String>, Vec<i64>) {
    let s = |i: i64| p.string_table[i as usize].as_str();
    let types: Vec<String> = p
        .sample_type
        .iter()
        .map(|t| s(t.r#type).to_owned())
        .collect();
    let mut sums = vec![0i64; types.len()];
    for x in &p.sample {
        if x.label
            .iter()
            .any(|l| s(l.key) == "kind" && s(l.str) == kind)
        {
            for (sum, v) in sums.iter_mut().zip(&x.value) {
                *sum += v;
            }
        }
    }
    (types, sums)
}

/// Blocks of `sizes` bytes, each tagged `kind`, in a Vec tagged `kind` too; with their
/// count and bytes (the Vec's buffer included).
fn tagged(kind: &'static str, sizes: impl Iterator<Item = usize>) -> (Vec<Vec<u8>>, usize, usize) {
    // Collected outside the kind: this Vec is freed, and would count in the alloc_* figures.
    let sizes: Vec<usize> = sizes.collect();
    let v: Vec<Vec<u8>> = heapy::with_kind(kind, || {
        let mut v = Vec::with_capacity(sizes.len());
        for n in sizes {
            v.push(vec![1u8; n]);
        }
        v
    });
    let count = v.len() + 1;
    let bytes = v.iter().map(|b| b.capacity()).sum::<usize>()
        + v.capacity() * std::mem::size_of::<Vec<u8>>();
    (v, count, bytes)
}

#[test]
fn pprof_has_the_exact_figures_of_a_tagged_workload() {
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let (held, count, bytes) = tagged("ServePprof", (0..37).map(|i| 100 + 3 * i));
    // Allocated and freed before the profile: in no inuse figure, in the alloc_* ones.
    let (gone, gone_count, gone_bytes) = tagged("ServePprof", (0..5).map(|_| 1000));
    drop(gone);

    let r = get(server.addr(), "/debug/pprof/heap");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    let p = decode(&r.body);
    let (types, sums) = values_of(&p, "ServePprof");
    // Go's four heap sample types: this census keeps history (the default).
    assert_eq!(
        types,
        [
            "alloc_objects",
            "alloc_space",
            "inuse_objects",
            "inuse_space"
        ]
    );
    let n = |x: usize| x as i64;
    assert_eq!(
        sums,
        [
            n(count + gone_count),
            n(bytes + gone_bytes),
            n(count),
            n(bytes)
        ]
    );
    let s = |i: i64| p.string_table[i as usize].as_str();
    assert_eq!(s(p.default_sample_type), "inuse_space");

    // Go's parameters are ignored: same figures.
    let r = get(server.addr(), "/debug/pprof/heap?gc=1&seconds=30&debug=0");
    assert_eq!(r.status, 200);
    let (_, again) = values_of(&decode(&r.body), "ServePprof");
    assert_eq!(again, sums);
    drop(held);
}

#[test]
fn the_table_by_kind_and_by_size() {
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let (held, count, bytes) = tagged("ServeTable", (0..11).map(|i| 50 + i));
    let r = get(server.addr(), "/heap?by=kind&all=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    let text = r.text();
    assert!(text.starts_with("Partition of a set of "), "{text}");
    let rows = common::printed_rows(&text);
    let row = rows.iter().find(|r| r.label == "ServeTable").expect(&text);
    assert_eq!((row.count, row.size), (count, bytes));
    // Without all=1: ten rows at most, and the hint names the parameter.
    let r = get(server.addr(), "/heap");
    let text = r.text();
    assert!(common::printed_rows(&text).len() <= 10);
    if let Some(hint) = text.lines().find(|l| l.contains("more rows")) {
        assert!(hint.ends_with("more rows. Add &all=1 to view.>"), "{hint}");
    }

    // By size: three blocks of a size nothing else in this test process has.
    let odd = 7919 * 3;
    let blocks: Vec<Vec<u8>> = (0..3).map(|_| vec![2u8; odd]).collect();
    let r = get(server.addr(), "/heap?by=size&all=1");
    let text = r.text();
    assert!(text.contains("Individual Size"), "{text}");
    let row = common::printed_rows(&text)
        .into_iter()
        .find(|r| r.label.trim() == odd.to_string())
        .expect(&text);
    assert_eq!((row.count, row.size), (3, 3 * odd));
    for (view, title) in [
        ("site", "Partition of a set of "),
        ("thread", "Partition of a set of "),
        ("id", "Set of "),
    ] {
        let r = get(server.addr(), &format!("/heap?by={view}"));
        assert_eq!(r.status, 200, "{view}");
        assert!(r.text().starts_with(title), "{view}: {}", r.text());
    }
    // The allocation history: every block since the start, freed ones too; and the peak.
    let (gone, gone_count, gone_bytes) = tagged("ServeTable", (0..4).map(|i| 900 + i));
    drop(gone);
    let r = get(server.addr(), "/heap?alloc=1&all=1");
    assert_eq!(r.status, 200);
    let text = r.text();
    let row = common::printed_rows(&text)
        .into_iter()
        .find(|r| r.label == "ServeTable")
        .expect(&text);
    assert_eq!(
        (row.count, row.size),
        (count + gone_count, bytes + gone_bytes)
    );
    let r = get(server.addr(), "/heap?peak=1&by=site");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get(server.addr(), "/heap?peak=1&alloc=1").status, 400);
    let r = get(server.addr(), "/heap?alloc=1&by=size");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("by kind or site"), "{}", r.text());
    let r = get(server.addr(), "/heap?by=colour");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("unknown view 'colour'"), "{}", r.text());
    drop((held, blocks));
}

#[test]
fn stats_snapshot_index_and_report() {
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let (held, count, bytes) = tagged("ServeSnap", (0..9).map(|i| 200 + i));

    let before = heapy::hpy().stats();
    let r = get(server.addr(), "/stats");
    let after = heapy::hpy().stats();
    assert_eq!(
        (r.status, r.header("Content-Type")),
        (200, Some("application/json"))
    );
    let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let field = |k: &str| json[k].as_u64().unwrap_or_else(|| panic!("{k} in {json}"));
    assert!((before.allocations..=after.allocations).contains(&field("allocations")));
    assert!((before.frees..=after.frees).contains(&field("frees")));
    assert!(field("live_bytes") >= bytes as u64);
    assert!(field("peak_live_bytes") >= field("live_bytes"));

    let r = get(server.addr(), "/snapshot");
    assert_eq!(r.status, 200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("served.json");
    std::fs::write(&path, &r.body).unwrap();
    // What `heapy view` reads.
    let h = heapy::Heap::load(&path).unwrap();
    let mine = h.filter(|o| o.kind() == "ServeSnap");
    assert_eq!((mine.count(), mine.size()), (count, bytes));

    let r = get(server.addr(), "/");
    assert_eq!(r.status, 200);
    for path in [
        "/debug/pprof/heap",
        "/heap?by=",
        "/stats",
        "/snapshot",
        "/report",
    ] {
        assert!(r.text().contains(path), "{path} in {}", r.text());
    }
    let r = get(server.addr(), "/report");
    if cfg!(feature = "report") {
        // The report's page carries the heap's data: the kind is in it.
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
        assert!(r.text().starts_with("<!DOCTYPE html>"));
        assert!(
            r.text().contains("\"ServeSnap\""),
            "the kind in the page's data"
        );
    } else {
        assert_eq!(r.status, 404);
        assert!(r.text().contains("`report` feature"), "{}", r.text());
    }
    drop(held);
}

#[test]
fn bad_requests_get_their_status_and_the_server_goes_on() {
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let addr = server.addr();
    let r = get(addr, "/no/such/page");
    assert_eq!(r.status, 404);
    assert!(r.text().contains("/debug/pprof/heap"));
    for method in ["POST", "PUT", "DELETE", "BREW"] {
        let r = send(addr, format!("{method} /heap HTTP/1.1\r\n\r\n").as_bytes());
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    }
    let r = send(addr, b"HEAD /stats HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_ne!(r.header("Content-Length"), Some("0"));
    // Not HTTP at all (a TLS hello), a bad line, another version.
    assert_eq!(
        send(addr, b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n").status,
        400
    );
    assert_eq!(send(addr, b"GET /\r\n\r\n").status, 400);
    assert_eq!(send(addr, b"GET / HTTP/2.0\r\n\r\n").status, 505);
    // Headers past the limit, never ended: 431 once 8 KiB have come.
    let mut long = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    long.resize(8 * 1024, b'a');
    assert_eq!(send(addr, &long).status, 431);
    // A client that connects and closes, or closes its sending side before a head.
    drop(TcpStream::connect(addr).unwrap());
    let c = TcpStream::connect(addr).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    (&c).read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing to answer: {rest:?}");
    assert_eq!(get(addr, "/stats").status, 200);
}

#[test]
fn a_slow_client_is_timed_out_and_does_not_hold_the_others() {
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let addr = server.addr();
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /stats HTTP/1.1\r\nHost: ").unwrap();
    // Served while the slow one has not finished its head.
    assert_eq!(get(addr, "/stats").status, 200);
    assert_eq!(get(addr, "/debug/pprof/heap").status, 200);
    // The server gives up on it (5 s) with 408, and closes.
    let r = read_reply(slow);
    assert_eq!(r.status, 408);
    assert_eq!(get(addr, "/").status, 200);
}

#[test]
fn connections_past_the_limit_are_refused_with_503() {
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let addr = server.addr();
    // Eight connections that have sent nothing yet hold every place.
    let idle: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for _ in 0..4 {
        let r = read_reply(TcpStream::connect(addr).unwrap());
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.header("Retry-After"), Some("1"));
    }
    // They were accepted and are answered as usual.
    for mut c in idle {
        c.write_all(b"GET /stats HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(read_reply(c).status, 200);
    }
    // Places are free again once those are answered.
    assert_eq!(get(addr, "/stats").status, 200);
}

/// A connection whose receive buffer is `bytes` small (set before connecting, so the window
/// the server sees is small too).
fn small_window(addr: SocketAddr, bytes: i32) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 expected")
    };
    // SAFETY: plain socket calls on a descriptor made here; `sa` is a valid sockaddr_in for
    // the length given; the descriptor is given to the TcpStream, which closes it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let r = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &bytes as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as libc::socklen_t,
        );
        assert_eq!(r, 0);
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let r = libc::connect(
            fd,
            &sa as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        TcpStream::from_raw_fd(fd)
    }
}

#[test]
fn a_second_heavy_request_while_one_is_sent_gets_503() {
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let addr = server.addr();
    // A heap whose snapshot file is several MB, to a client that reads nothing for now:
    // the answer stays in flight.
    let (held, count, bytes) = tagged("ServeBig", (0..100_000).map(|i| 16 + i % 64));
    let mut first = small_window(addr, 4096);
    first.write_all(b"GET /snapshot HTTP/1.1\r\n\r\n").unwrap();
    // The first byte of the answer means the snapshot is built and being sent.
    let mut b = [0u8; 1];
    first.read_exact(&mut b).unwrap();
    let r = get(addr, "/debug/pprof/heap");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("Retry-After"), Some("1"));
    // Light pages are still answered.
    assert_eq!(get(addr, "/stats").status, 200);
    // The first answer is whole.
    let mut raw = b.to_vec();
    first.read_to_end(&mut raw).unwrap();
    let r = parse_reply(&raw);
    assert_eq!(r.status, 200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    std::fs::write(&path, &r.body).unwrap();
    let mine = heapy::Heap::load(&path)
        .unwrap()
        .filter(|o| o.kind() == "ServeBig");
    assert_eq!((mine.count(), mine.size()), (count, bytes));
    // And now a heavy request is served again.
    assert_eq!(get(addr, "/debug/pprof/heap").status, 200);
    drop(held);
}

#[test]
fn the_port_closes_when_the_handle_drops() {
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let addr = server.addr();
    assert_eq!(get(addr, "/").status, 200);
    // An open connection does not keep the server alive.
    let open = TcpStream::connect(addr).unwrap();
    drop(server);
    let e = TcpStream::connect(addr).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    let mut rest = Vec::new();
    let _ = (&open).read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn bad_addresses_are_errors() {
    for addr in ["no address", "127.0.0.1:99999", "256.0.0.1:80", ""] {
        let e = heapy::serve(addr).unwrap_err();
        assert!(matches!(e, heapy::Error::Serve { .. }), "{addr}: {e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("cannot serve on {addr}: ")),
            "{e}"
        );
    }
    // A port in use.
    let taken = heapy::serve("127.0.0.1:0").unwrap();
    let e = heapy::serve(&taken.addr().to_string()).unwrap_err();
    assert!(e.to_string().contains("in use"), "{e}");
}

#[test]
fn heapy_serve_starts_a_server_before_main() {
    const NAME: &str = "heapy_serve_starts_a_server_before_main";
    if let Ok(addr) = std::env::var("HEAPY_SERVE") {
        // The child: its server was started from the variable before main.
        if let Ok(addr) = addr.parse::<SocketAddr>() {
            let r = get(addr, "/stats");
            assert_eq!(r.status, 200);
            assert!(r.text().contains("\"live_objects\":"));
        }
        return;
    }
    // A port free a moment ago.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let out = common::rerun(NAME, &[("HEAPY_SERVE", Some(addr.as_ref()))], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("heapy: serving the heap on http://{addr}/")),
        "{err}"
    );
    // An address it cannot listen on is said, and the program runs on.
    let out = common::rerun(NAME, &[("HEAPY_SERVE", Some("nowhere".as_ref()))], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("heapy: HEAPY_SERVE: cannot serve on nowhere: "),
        "{err}"
    );
}

/// `go tool pprof`'s flat figure for the node `kind` (`-unit=B`: plain numbers).
fn pprof_flat(out: &str, kind: &str) -> Option<i64> {
    out.lines().find_map(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        (fields.last() == Some(&kind)).then(|| fields[0].trim_end_matches('B').parse().ok())?
    })
}

#[test]
fn go_tool_pprof_reads_the_profile() {
    let go = std::process::Command::new("go").arg("version").output();
    if !matches!(&go, Ok(o) if o.status.success()) {
        eprintln!(
            "skipped: no `go` command to run `go tool pprof` with (Debian: apt-get install golang-go)"
        );
        return;
    }
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let (held, count, bytes) = tagged("ServeGo", (0..13).map(|i| 300 + 7 * i));
    let url = format!("http://{}/debug/pprof/heap", server.addr());
    let dir = tempfile::tempdir().unwrap();
    let top = |index: &str| {
        let out = std::process::Command::new("go")
            .args(["tool", "pprof", "-top", "-unit=B", "-focus=^ServeGo$"])
            .arg(format!("-sample_index={index}"))
            .arg(&url)
            .env("PPROF_TMPDIR", dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let space = top("inuse_space");
    assert_eq!(pprof_flat(&space, "ServeGo"), Some(bytes as i64), "{space}");
    let objects = top("inuse_objects");
    assert_eq!(
        pprof_flat(&objects, "ServeGo"),
        Some(count as i64),
        "{objects}"
    );
    drop(held);
}

#[test]
fn a_pointer_scan_stops_and_releases_the_server_thread() {
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let addr = server.addr();
    assert_eq!(get(addr, "/stats").status, 200);
    // The scan stops every thread with a signal, the server's too (its poll returns EINTR).
    match heapy::hpy().try_heapu() {
        Ok(_) | Err(heapy::Error::MemoryUnreadable { .. }) => {}
        Err(e) => panic!("{e}"),
    }
    assert_eq!(get(addr, "/stats").status, 200);
    assert_eq!(get(addr, "/debug/pprof/heap").status, 200);
}
