//! Chasing memory growth: a request handler that keeps a little of every request in a
//! cache it never trims. Two snapshots around a batch of requests, their difference by type
//! and by line of allocation, and the snapshots saved for later study with the `heapy`
//! command (`heapy view`, `heapy diff`, `heapy flame`).
//!
//! Run with `cargo run --example growth`.

use std::collections::HashMap;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// What the handler remembers of a request (the bug: it is never evicted).
struct Entry {
    path: String,
    body: Vec<u8>,
}

#[derive(Default)]
struct Server {
    cache: HashMap<u64, Entry>,
}

impl Server {
    fn handle(&mut self, id: u64) -> usize {
        let path = format!("/items/{id}");
        let body = vec![0u8; 64 + (id % 7) as usize * 16];
        let len = body.len();
        // The scratch buffer is freed; the cache entry is not.
        let scratch: Vec<u64> = (0..32).collect();
        self.cache.insert(id, Entry { path, body });
        len + scratch.len()
    }
}

fn main() -> heapy::Result<()> {
    let mut server = Server::default();
    for id in 0..100 {
        server.handle(id);
    }

    let before = heapy::hpy().heap();
    for id in 100..1100 {
        server.handle(id);
    }
    let after = heapy::hpy().heap();

    // What the second batch left behind, by type, then by the line that allocated it.
    println!("{}", after.diff(&before));
    println!("{}", after.bysite().diff(&before));
    // The objects that appeared between the two snapshots (set difference by identity).
    let new = &after - &before;
    println!("{new}");
    println!(
        "{} entries cached; the largest kind's allocation stack:\n{}",
        server.cache.len(),
        new.row(0).traceback()
    );

    let dir = std::env::temp_dir();
    let (old_path, new_path) = (
        dir.join("growth-before.json"),
        dir.join("growth-after.json"),
    );
    before.dump(&old_path)?;
    after.dump(&new_path)?;
    println!(
        "Saved. Study them later with:\n  heapy diff {} {} --by site",
        new_path.display(),
        old_path.display()
    );
    let cached: usize = server
        .cache
        .values()
        .map(|e| e.path.len() + e.body.len())
        .sum();
    println!("(the cache holds {cached} bytes of paths and bodies)");
    Ok(())
}
