//! The kinds heapy names by itself, without tags: run it with the project's flags
//! (`cargo run --example kinds`) to see `Vec<kinds::Person>`, `String`, `HashMap<u32,
//! kinds::Person>`...; built without `-C symbol-mangling-version=v0` each kind falls back to
//! the function that allocated (`kinds::people`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

/// A user type.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: u32,
    pub age: u32,
}

#[inline(never)]
fn people() -> Vec<Person> {
    (0..4).map(|id| Person { id, age: 30 + id }).collect()
}

#[inline(never)]
fn boxed() -> Box<Person> {
    Box::new(Person { id: 9, age: 9 })
}

#[inline(never)]
fn shared() -> (Rc<Person>, Arc<Person>) {
    (
        Rc::new(Person { id: 1, age: 2 }),
        Arc::new(Person { id: 3, age: 4 }),
    )
}

#[inline(never)]
fn names() -> String {
    format!("{}-{}", "ada", 1815)
}

#[inline(never)]
fn index(people: &[Person]) -> HashMap<u32, Person> {
    people.iter().map(|p| (p.id, p.clone())).collect()
}

#[inline(never)]
fn sorted(people: &[Person]) -> BTreeMap<u32, Person> {
    people.iter().map(|p| (p.id, p.clone())).collect()
}

#[inline(never)]
fn queue(people: &[Person]) -> VecDeque<Person> {
    people.iter().cloned().collect()
}

fn main() {
    let mark = heapy::hpy().mark();
    let p = people();
    let b = boxed();
    let s = shared();
    let n = names();
    let i = index(&p);
    let t = sorted(&p);
    let q = queue(&p);
    let h = mark.heap();
    println!("{}", h.all());
    println!("{}", h.bysite().all());
    print!("{}", h.bysite().row(0).traceback());
    drop((p, b, s, n, i, t, q));
}
