//! The program `tests/release_kinds.rs` builds as a crate of its own, with heapy and
//! serde_json as real dependencies, in a dev and a release build: it parses JSON into a
//! `serde_json::Value` and into typed structs, and prints what heapy says of the parsed data
//! (its kinds, sites, folded stacks and tracebacks) as JSON, with the figures that the data
//! itself gives, for the test to compare.

use heapy::hpy;
use serde_json::{json, Value};

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

#[derive(serde::Deserialize)]
struct User {
    #[allow(dead_code)]
    id: u64,
    name: String,
    tags: Vec<String>,
    friends: Vec<Friend>,
}

#[derive(serde::Deserialize)]
struct Friend {
    #[allow(dead_code)]
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

/// The Strings a `Value` holds (keys and string values) and their bytes.
fn strings_in(v: &Value) -> (usize, usize) {
    match v {
        Value::String(s) => (1, s.len()),
        Value::Array(items) => items.iter().map(strings_in).fold((0, 0), add),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| add((1, k.len()), strings_in(v)))
            .fold((0, 0), add),
        _ => (0, 0),
    }
}

fn add(a: (usize, usize), b: (usize, usize)) -> (usize, usize) {
    (a.0 + b.0, a.1 + b.1)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let text = make_json(n);
    let mark = hpy().mark();
    let value: Value = serde_json::from_str(&text).unwrap();
    let users: Vec<User> = serde_json::from_str(&text).unwrap();
    let heap = mark.heap();

    // What the parsed data says: its Strings (each allocated with its exact length), its
    // objects, arrays and typed vectors.
    let mut strings = strings_in(&value);
    for u in &users {
        strings = add(strings, (1, u.name.len()));
        for t in &u.tags {
            strings = add(strings, (1, t.len()));
        }
        for f in &u.friends {
            strings = add(strings, (1, f.name.len()));
        }
    }
    let rows = |p: &heapy::Heap| -> Vec<Value> {
        p.rows()
            .map(|r| json!([r.label(), r.count(), r.size()]))
            .collect()
    };
    let bysite = heap.bysite();
    let tracebacks: Vec<String> = (0..bysite.rows().len())
        .map(|i| bysite.row(i).traceback().to_string())
        .collect();
    let out = json!({
        "records": n,
        "strings": [strings.0, strings.1],
        "objects": [heap.count(), heap.size()],
        "kinds": rows(&heap.bykind()),
        "sites": rows(&bysite),
        "folded": heap.folded(),
        "tracebacks": tracebacks,
    });
    println!("{out}");
    drop((value, users));
}
