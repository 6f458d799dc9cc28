//! A user's dev-build program, for `benches/devbuild/run.sh`: parses a JSON text of N
//! records (default 40,000) into `serde_json::Value` and into typed structs, then takes
//! `hpy().heap()` and prints its table, and prints how long each step took:
//!
//! `devbuild value <s> typed <s> heap <s> table <s> again <s> objects <n>`
//!
//! (`again`: a second `heap()` and its table, names already resolved). The script builds it
//! outside heapy's workspace, as a dependent crate, and runs it with `HEAPY_STACKS` unset
//! and `off`.

use std::time::Instant;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct User {
    id: u64,
    name: String,
    tags: Vec<String>,
    friends: Vec<Friend>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Friend {
    id: u64,
    name: String,
}

fn make_json(n: usize) -> String {
    let mut s = String::from("[");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"id":{i},"name":"user number {i}","tags":["alpha","beta","gamma{i}"],"friends":[{{"id":1,"name":"f{i}a"}},{{"id":2,"name":"f{i}b"}}]}}"#
        ));
    }
    s.push(']');
    s
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(40_000);
    let text = make_json(n);

    let t = Instant::now();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let value_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let users: Vec<User> = serde_json::from_str(&text).unwrap();
    let typed_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let h = heapy::hpy().heap();
    let heap_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let table = h.to_string();
    let table_s = t.elapsed().as_secs_f64();
    eprintln!("{table}");

    let t = Instant::now();
    let again = heapy::hpy().heap().to_string();
    let again_s = t.elapsed().as_secs_f64();

    assert_eq!((value.as_array().map(Vec::len), users.len()), (Some(n), n));
    assert!(!again.is_empty());
    println!(
        "devbuild value {value_s:.4} typed {typed_s:.4} heap {heap_s:.4} table {table_s:.4} again {again_s:.4} objects {}",
        h.count()
    );
}
