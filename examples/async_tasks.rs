//! Memory by async task: a small tokio service whose tasks are kinds, one of them leaking
//! into a shared cache.
//!
//! Each request runs as a task on a two-worker runtime: it parses its text, fetches a body,
//! looks its user up through a cache that keeps every entry it is given (the leak), and
//! renders a page. Each piece of work carries a kind with
//! `.in_kind(...)`, so the census names what each kind of task holds, whichever worker ran
//! it; the pages the requests return are kept, the rest is freed.
//!
//! `cargo run --example async_tasks`

use std::collections::HashMap;
use std::sync::Mutex;

use heapy::InKind;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// User id → profile: filled by every lookup, never emptied.
static PROFILES: Mutex<Option<HashMap<u64, Vec<u8>>>> = Mutex::new(None);

/// The words of a request line and its user (all freed when the request is answered).
async fn parse(line: String) -> (u64, Vec<String>) {
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    let user = words.last().and_then(|w| w.parse().ok()).unwrap_or(0);
    (user, words)
}

/// A response body (freed once the page is rendered).
async fn fetch(id: u64) -> Vec<u8> {
    vec![(id % 251) as u8; 1024]
}

/// The profile of `user`: cached, and the cache is never trimmed.
async fn lookup(user: u64) -> usize {
    let mut cache = PROFILES.lock().unwrap();
    let profile = cache
        .get_or_insert_with(HashMap::new)
        .entry(user)
        .or_insert_with(|| vec![0u8; 200]);
    profile.len()
}

/// The page sent back (kept by the caller).
async fn render(words: &[String], body: &[u8], profile: usize) -> String {
    let mut page = String::with_capacity(256);
    for w in words {
        page.push_str(w);
        page.push(' ');
    }
    page.push_str(&format!("[{} bytes, profile {profile}]", body.len()));
    page
}

async fn request(id: u64, user: u64) -> String {
    let line = format!("GET /item/{id} for user {user}");
    let (user, words) = parse(line).in_kind("parse").await;
    let body = fetch(id).in_kind("fetch").await;
    let profile = lookup(user).in_kind("lookup").await;
    render(&words, &body, profile).in_kind("render").await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut pages = Vec::new();
    let handles: Vec<_> = (0..200)
        .map(|id| tokio::spawn(request(id, id % 60).in_kind("request")))
        .collect();
    for h in handles {
        pages.push(h.await.unwrap());
    }

    let h = heapy::hpy().heap();
    let tasks = h.filter(|o| ["request", "parse", "fetch", "lookup", "render"].contains(&o.kind()));
    println!("What the request tasks hold, by kind:\n{tasks}");
    println!("By line of allocation:\n{}", tasks.bysite());

    // One more request (from a new user), checked: what it allocated, on whichever worker,
    // and still holds once its page is dropped.
    let leak = heapy::check_no_leaks_async(async {
        drop(request(1000, 999).await);
    })
    .await;
    println!("check_no_leaks_async(request):\n{}", leak.unwrap_err());
    drop(pages);
}
