//! Unreachable objects, whole-process: one test in its own binary, so no other test's
//! objects come and go while it scans. Garbage is built in functions that are never inlined
//! and the stack is overwritten afterwards, so that no stale word can keep it looking
//! reachable (a conservative scan would rightly count such a word).

#[global_allocator]
static C: heapy::Census = heapy::Census::new();

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::mpsc;

struct Node {
    next: RefCell<Option<Rc<Node>>>,
    _payload: [u64; 29],
}

/// Bytes of one `Rc<Node>` allocation: the two counts and the value. (An unusual size: a
/// conservative scan counts stale words, and a stale pointer to a freed object whose address
/// a node reused would rightly keep the node alive; fresh addresses make that unlikely.)
const RC_NODE: usize = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Node>();

fn node(kind: &str, next: Option<Rc<Node>>) -> Rc<Node> {
    heapy::with_kind(kind, || {
        Rc::new(Node {
            next: RefCell::new(next),
            _payload: [7; 29],
        })
    })
}

/// A ring of three nodes, dropped: reference counting can never free it.
#[inline(never)]
fn drop_a_cycle() {
    let a = node("DroppedCycle", None);
    let b = node("DroppedCycle", Some(a.clone()));
    let c = node("DroppedCycle", Some(b));
    *a.next.borrow_mut() = Some(c);
}

/// A ring of two nodes that the caller keeps.
#[inline(never)]
fn live_cycle() -> Rc<Node> {
    let a = node("LiveCycle", None);
    let b = node("LiveCycle", Some(a.clone()));
    *a.next.borrow_mut() = Some(b);
    a
}

#[inline(never)]
fn forget_a_box() {
    std::mem::forget(heapy::with_kind("Forgotten", || Box::new([3u8; 40])));
}

static HELD: AtomicPtr<[u8; 32]> = AtomicPtr::new(std::ptr::null_mut());

#[inline(never)]
fn hold_in_static() {
    let p = heapy::with_kind("StaticOnly", || Box::into_raw(Box::new([5u8; 32])));
    HELD.store(p, Ordering::SeqCst);
}

thread_local! {
    static KEPT: RefCell<Option<Box<[u8; 24]>>> = const { RefCell::new(None) };
}

#[inline(never)]
fn hold_in_thread_local() {
    let b = heapy::with_kind("TlsOnly", || Box::new([6u8; 24]));
    KEPT.with(|k| *k.borrow_mut() = Some(b));
}

/// Overwrites the stack below the caller with junk, so no stale copy of a garbage pointer
/// survives in dead frames.
#[inline(never)]
fn clobber() {
    let mut junk = [0usize; 16 * 1024];
    for (i, j) in junk.iter_mut().enumerate() {
        *j = i.wrapping_mul(0x9E37_79B9);
    }
    black_box(&mut junk);
}

#[test]
fn unreachable_objects_are_exactly_the_leaks() {
    // The garbage is made on a thread that then exits: no stale word of a dead frame or a
    // register can survive it (the stack of a thread that is gone is not scanned).
    std::thread::spawn(|| {
        drop_a_cycle();
        forget_a_box();
    })
    .join()
    .unwrap();
    // Another thread keeps one box on its stack and one in its thread-local, then waits.
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let other = std::thread::Builder::new()
        .name("holder".into())
        .spawn(move || {
            let on_stack = heapy::with_kind("OtherStack", || Box::new([8u8; 56]));
            let in_tls = heapy::with_kind("OtherTls", || Box::new([9u8; 64]));
            KEPT.with(|k| *k.borrow_mut() = Some(Box::new([0u8; 24])));
            OTHER.with(|k| *k.borrow_mut() = Some(in_tls));
            black_box(&on_stack);
            ready_tx.send(()).unwrap();
            done_rx.recv().unwrap();
            black_box(&on_stack);
        })
        .unwrap();
    ready_rx.recv().unwrap();

    let live = live_cycle();
    hold_in_static();
    hold_in_thread_local();
    clobber();

    let u = heapy::hpy().heapu();
    let of = |kind: &str| u.filter(|o| o.kind() == kind);
    let dropped = of("DroppedCycle");
    if dropped.count() != 3 {
        let h = heapy::hpy().heap().filter(|o| o.kind() == "DroppedCycle");
        eprintln!("{}\n{}", h.sp().all(), h.byvia());
    }
    assert_eq!((dropped.count(), dropped.size()), (3, 3 * RC_NODE), "{u}");
    let forgotten = of("Forgotten");
    assert_eq!((forgotten.count(), forgotten.size()), (1, 40), "{u}");
    for held in [
        "LiveCycle",
        "StaticOnly",
        "TlsOnly",
        "OtherStack",
        "OtherTls",
    ] {
        assert!(
            of(held).is_empty(),
            "{held} is reachable but was reported:\n{u}"
        );
    }
    // Nothing of heapy's own is ever unreachable (its memory is not in the census).
    // (What else the process holds is the harness's business: printed, not asserted.)
    eprintln!("whole process:\n{u}");

    // The cycle, with its kinds; the forgotten box is no cycle.
    let cycles = u.cycles();
    assert_eq!(cycles.rows().len(), 1, "{cycles}");
    assert_eq!((cycles.count(), cycles.size()), (3, 3 * RC_NODE));
    let c = cycles.get(0).unwrap();
    assert_eq!((c.count(), c.size()), (3, 3 * RC_NODE));
    assert!(c.heap().objects().all(|o| o.kind() == "DroppedCycle"));
    // A ring of three: each member points to the next, inside the ring.
    let members: Vec<usize> = c.heap().objects().map(|o| o.address()).collect();
    assert!(c.references().len() >= 3, "{cycles}");
    assert!(c
        .references()
        .all(|r| members.contains(&r.from()) && members.contains(&r.to())));
    let text = cycles.to_string();
    assert!(text.starts_with("1 reference cycles, 3 objects,"), "{text}");
    assert_eq!(text.matches(" DroppedCycle").count(), 3, "{text}");

    // The reachable cycle is a cycle too, but not a leak.
    let held = heapy::hpy().heap().filter(|o| o.kind() == "LiveCycle");
    assert_eq!(held.cycles().rows().len(), 1);
    assert_eq!(held.cycles().get(0).unwrap().count(), 2);

    // What a leak retains: the whole ring, whichever member is asked about.
    let one = dropped.filter(|o| o.address() == dropped.objects().next().unwrap().address());
    assert_eq!(one.count(), 1);
    assert_eq!(dropped.domisize(), 3 * RC_NODE);

    done_tx.send(()).unwrap();
    other.join().unwrap();
    black_box(&live);
    live.next.borrow_mut().take();
    // HELD must be read somewhere: a static that is only ever stored to may be removed by
    // the optimiser (LLVM's GlobalOpt), and then the box it held really is unreachable.
    // SAFETY: the box made by `hold_in_static`, freed once.
    drop(unsafe { Box::from_raw(HELD.swap(std::ptr::null_mut(), Ordering::SeqCst)) });
}

thread_local! {
    static OTHER: RefCell<Option<Box<[u8; 64]>>> = const { RefCell::new(None) };
}
