//! The server's own work never shows in the census: while every endpoint is fetched, the
//! process's counters move by exactly what the client allocated, and the client here
//! allocates nothing (fixed buffers on its stack). A file of its own: it reads the
//! process-wide counters, which tests running in parallel would move.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// Fetches `request` and returns the status and the number of bytes received, allocating
/// nothing.
fn fetch(addr: SocketAddr, request: &[u8]) -> (u16, usize) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(request).unwrap();
    let mut buf = [0u8; 64 * 1024];
    let mut first = [0u8; 12];
    let mut total = 0;
    loop {
        let n = c.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for (i, b) in buf[..n].iter().enumerate() {
            if total + i < first.len() {
                first[total + i] = *b;
            }
        }
        total += n;
    }
    // "HTTP/1.1 200"
    let status = first[9..12]
        .iter()
        .fold(0u16, |s, d| s * 10 + u16::from(d - b'0'));
    (status, total)
}

const REQUESTS: [&[u8]; 13] = [
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET /debug/pprof/heap HTTP/1.1\r\n\r\n",
    b"GET /debug/pprof/heap?gc=1 HTTP/1.1\r\n\r\n",
    b"GET /heap?by=kind HTTP/1.1\r\n\r\n",
    b"GET /heap?by=site&all=1 HTTP/1.1\r\n\r\n",
    b"GET /heap?by=size HTTP/1.1\r\n\r\n",
    b"GET /heap?by=thread HTTP/1.1\r\n\r\n",
    b"GET /heap?alloc=1&by=site HTTP/1.1\r\n\r\n",
    b"GET /heap?peak=1 HTTP/1.1\r\n\r\n",
    b"GET /stats HTTP/1.1\r\n\r\n",
    b"GET /snapshot HTTP/1.1\r\n\r\n",
    b"GET /report HTTP/1.1\r\n\r\n",
    b"POST /nowhere HTTP/1.1\r\n\r\n",
];

#[test]
fn serving_every_endpoint_allocates_nothing_the_census_counts() {
    // Some objects for the tables and profiles to show.
    let held: Vec<Vec<u8>> = heapy::with_kind("Quiet", || (0..100).map(|i| vec![0u8; i]).collect());
    let server = heapy::serve("127.0.0.1:0").unwrap();
    let addr = server.addr();
    // Once to warm what a first request sets up in std on this side (none expected).
    for r in REQUESTS {
        fetch(addr, r);
    }
    // Room for every status first: the client allocates nothing while it fetches.
    let mut statuses = Vec::with_capacity(3 * REQUESTS.len());
    let before = heapy::hpy().stats();
    let mut received = 0;
    for _ in 0..3 {
        for r in REQUESTS {
            let (status, n) = fetch(addr, r);
            statuses.push(status);
            received += n;
        }
    }
    let after = heapy::hpy().stats();
    drop(server);
    let stopped = heapy::hpy().stats();
    assert_eq!(
        (
            after.allocations,
            after.frees,
            after.live_bytes,
            after.live_objects
        ),
        (
            before.allocations,
            before.frees,
            before.live_bytes,
            before.live_objects
        ),
        "the census counted allocations while {received} bytes were served"
    );
    assert_eq!(
        (stopped.allocations, stopped.live_bytes),
        (before.allocations, before.live_bytes),
        "stopping the server allocated in the census"
    );
    // /report is a page with the `report` feature, a 404 without it.
    let report = if cfg!(feature = "report") { 200 } else { 404 };
    let expected: Vec<u16> = [
        200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, report, 405,
    ]
    .repeat(3);
    assert_eq!(statuses, expected);
    drop(held);
}
