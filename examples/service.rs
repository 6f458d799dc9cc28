//! A long-running service with its heap on an HTTP endpoint, for `curl`, `go tool pprof`,
//! Pyroscope or Parca: it handles made-up requests on two worker threads, keeps a session
//! table that is trimmed, and a cache that is not (the leak to find).
//!
//! ```sh
//! cargo run --example service --features serve                  # on 127.0.0.1:6060, until killed
//! cargo run --example service --features serve -- 127.0.0.1:0 --seconds 5
//! curl -s http://127.0.0.1:6060/heap?by=site
//! go tool pprof -top http://127.0.0.1:6060/debug/pprof/heap
//! ```
//!
//! It listens on 127.0.0.1 (this host only) unless given another address: the profiles name
//! the program's functions and files, and the endpoint has no authentication.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// A user's session: kept for the last 500 requests.
struct Session {
    user: String,
    cart: Vec<u64>,
}

/// A rendered page, cached by path. Nothing ever evicts it: the heap grows with every new
/// path.
struct Page {
    html: String,
}

#[derive(Default)]
struct State {
    sessions: VecDeque<Session>,
    cache: HashMap<String, Page>,
}

/// One made-up request: a scratch buffer (freed), a session (kept a while), a page (kept).
fn handle(state: &Mutex<State>, n: u64) {
    let scratch: Vec<u8> = vec![(n % 251) as u8; 512 + (n % 8) as usize * 256];
    let session = Session {
        user: format!("user{}", n % 1000),
        cart: (0..n % 16).collect(),
    };
    let path = format!("/items/{}", n / 3);
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    s.sessions.push_back(session);
    if s.sessions.len() > 500 {
        s.sessions.pop_front();
    }
    if let Entry::Vacant(e) = s.cache.entry(path) {
        // Tagged by hand: the kind shows as "Page" in the tables and as a label in pprof.
        let html = heapy::with_kind("Page", || {
            format!("<html><body>{}: {}</body></html>", e.key(), scratch.len())
        });
        e.insert(Page { html });
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:6060".to_owned();
    let mut seconds: Option<f64> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => {
                let v = args.next().and_then(|v| v.parse().ok());
                let Some(v) = v.filter(|v: &f64| *v >= 0.0) else {
                    eprintln!("service: --seconds needs a number of seconds");
                    std::process::exit(2);
                };
                seconds = Some(v);
            }
            _ => addr = a,
        }
    }
    let server = match heapy::serve(&addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("service: {e}");
            std::process::exit(1);
        }
    };
    println!("heap profiles on http://{}/", server.addr());
    println!(
        "  go tool pprof -top http://{}/debug/pprof/heap",
        server.addr()
    );

    let state = Arc::new(Mutex::new(State::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn(move || {
                    let mut n = w;
                    while !stop.load(Ordering::Relaxed) {
                        handle(&state, n);
                        n += 2;
                        // About 2,000 requests a second per worker.
                        std::thread::sleep(Duration::from_micros(500));
                    }
                })
                .expect("a worker thread")
        })
        .collect();

    let start = Instant::now();
    while seconds.is_none_or(|s| start.elapsed().as_secs_f64() < s) {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    let session_bytes: usize = s
        .sessions
        .iter()
        .map(|x| x.user.len() + 8 * x.cart.len())
        .sum();
    let page_bytes: usize = s.cache.values().map(|p| p.html.len()).sum();
    println!(
        "stopped after {:.1} s: {} sessions ({session_bytes} bytes of users and carts), {} cached pages ({page_bytes} bytes of HTML)",
        start.elapsed().as_secs_f64(),
        s.sessions.len(),
        s.cache.len()
    );
    drop(server);
}
