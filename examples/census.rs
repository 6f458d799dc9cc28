//! The seed note's experiment in Rust: what do a reference, a shared (`Rc`) copy and a deep
//! `clone()` of a `Person` cost on the heap? heapy measures each, nothing is typed in.
//!
//! Run with `cargo run --example census`.

use std::rc::Rc;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

#[derive(Clone, Debug)]
#[allow(dead_code)] // the fields are there to be allocated, not read
struct Person {
    name: String,
    age: u32,
    hw: Vec<f64>,
}

impl Person {
    fn new(name: &str, age: u32, height: f64, weight: f64) -> Person {
        Person {
            name: name.to_string(),
            age,
            hw: vec![height, weight],
        }
    }
}

/// What running `f` left on this thread's heap: objects and bytes, measured by heapy.
fn cost<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    let mark = heapy::hpy().mark();
    let r = f();
    let h = mark.heap();
    (r, h.count(), h.size())
}

fn main() {
    let hp = heapy::hpy();
    let start = hp.mark();

    // A small population, like guppy's reference script.
    let people: Vec<Person> = (0..300)
        .map(|i| Person::new(&format!("person-{i}"), 20 + i % 50, 1.5, 50.0))
        .collect();

    // The note's a1: one person, then its three kinds of copies.
    let (a1, objs, bytes) = cost(|| Rc::new(Person::new("tom", 10, 1.5, 50.0)));
    println!("a1 = Rc::new(Person {{ name: \"tom\", .. }}): {objs} objects, {bytes} bytes\n");

    let (a2, ref_objs, ref_bytes) = cost(|| &a1);
    let ref_count = Rc::strong_count(a2);
    let (a3, rc_objs, rc_bytes) = cost(|| Rc::clone(&a1));
    let rc_count = Rc::strong_count(&a1);
    let (a4, deep_objs, deep_bytes) = cost(|| Person::clone(&a1));

    println!("The heap this program made (heapy::hpy().mark() .. heap()):");
    println!("{}", start.heap());

    println!("What each copy cost, measured by heapy:");
    println!(
        "{:<26} {:>8} {:>8}  {:>16}",
        "copy", "objects", "bytes", "Rc::strong_count"
    );
    println!(
        "{:<26} {:>8} {:>8}  {:>16}",
        "reference  (&a1)", ref_objs, ref_bytes, ref_count
    );
    println!(
        "{:<26} {:>8} {:>8}  {:>16}",
        "shared     (Rc::clone)", rc_objs, rc_bytes, rc_count
    );
    println!(
        "{:<26} {:>8} {:>8}  {:>16}",
        "deep       (clone())", deep_objs, deep_bytes, "-"
    );
    println!();
    println!(
        "A reference and an Rc clone share the Person; clone() copies its String and Vec.\n\
         Rc::strong_count plays the part of Python's sys.getrefcount."
    );
    let s = hp.stats();
    println!(
        "\nCensus counters: {} live objects, {} live bytes, peak {} bytes, {} allocations, {} frees.",
        s.live_objects, s.live_bytes, s.peak_live_bytes, s.allocations, s.frees
    );
    drop((people, a3, a4));
}
