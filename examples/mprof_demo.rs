//! A program to profile: `#[heapy::profile]` tables on stderr, and a timeline when run with
//! `HEAPY_MPROF=run.dat` or under `heapy mprof run -- target/debug/examples/mprof_demo`.

use std::time::Duration;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

#[heapy::profile(precision = 5)]
fn build() -> usize {
    let a = vec![0u8; 1 << 20];
    let mut v: Vec<u64> = Vec::new();
    for i in 0..3 {
        v.push(i);
    }
    drop(a);
    v.len()
}

#[heapy::profile]
fn load(mib: usize) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    for _ in 0..mib {
        chunks.push(vec![1u8; 1 << 20]);
        std::thread::sleep(Duration::from_millis(20));
    }
    chunks
}

fn main() {
    build();
    let data = load(40);
    std::thread::sleep(Duration::from_millis(200));
    drop(data);
    let _small = load(10);
    std::thread::sleep(Duration::from_millis(200));
}
