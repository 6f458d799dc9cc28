//! Leak finding on a small program: a cache held by a static, a local on the stack, and an
//! Rc cycle the program dropped. Prints the shortest paths from roots, the unreachable
//! objects (the cycle) grouped into cycles, referrers by kind, and retained sizes.
//!
//! Run with `cargo run --example leaks`.

#[global_allocator]
static C: heapy::Census = heapy::Census::new();

use std::cell::RefCell;
use std::rc::Rc;

struct Node {
    next: RefCell<Option<Rc<Node>>>,
    _pad: [u64; 3],
}

#[inline(never)]
fn make_cycle() {
    let _g = heapy::kind("CycleNode");
    let a = Rc::new(Node {
        next: RefCell::new(None),
        _pad: [1; 3],
    });
    let b = Rc::new(Node {
        next: RefCell::new(Some(a.clone())),
        _pad: [2; 3],
    });
    *a.next.borrow_mut() = Some(b);
}

#[inline(never)]
fn clobber() {
    let mut junk = [0usize; 4096];
    for (i, j) in junk.iter_mut().enumerate() {
        *j = i;
    }
    std::hint::black_box(&mut junk);
}

static CACHE: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

#[inline(never)]
fn work() {
    let local = heapy::with_kind("Local", || vec![9u8; 10]);
    let h = heapy::hpy()
        .heap()
        .filter(|o| o.kind() == "Cached" || o.kind() == "Local");
    println!("{}", h.sp());
    drop(local);
}

fn main() {
    heapy::with_kind("Cached", || CACHE.lock().unwrap().push(vec![1u8; 100]));
    work();
    make_cycle();
    clobber();
    let t = std::time::Instant::now();
    let u = heapy::hpy().heapu();
    eprintln!("heapu took {:?}", t.elapsed());
    println!("{u}");
    println!("{}", u.cycles());
    let h = heapy::hpy().heap();
    println!("{}", h.byrcs());
    println!("{}", h.byvia());
    println!("{}", h.sp());
    println!("{}", h.retained());
}
