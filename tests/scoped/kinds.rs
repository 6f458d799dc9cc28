//! Kinds inferred from allocation stacks, under the project's flags (frame pointers and v0
//! mangling, see .cargo/config.toml): each kind's count and bytes exactly.
//!
//! Each statement's own objects are measured with a thread-scoped mark (which does not
//! depend on kinds), and the kind table of everything must add up to exactly those figures.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::mem::{align_of, size_of};
use std::rc::Rc;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    id: u32,
    age: u32,
}

fn p(id: u32) -> Person {
    Person { id, age: id + 1 }
}

/// Runs `f` and returns its value with the count and bytes of what it left allocated.
fn made<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let m = heapy::hpy().mark();
    let v = f();
    let h = m.heap();
    (v, h.count(), h.size())
}

/// Kind → (count, bytes) of a heap.
fn kinds(h: &heapy::Heap) -> BTreeMap<String, (usize, usize)> {
    let mut out = BTreeMap::new();
    for o in h.objects() {
        let e = out.entry(o.kind().to_string()).or_insert((0, 0));
        e.0 += 1;
        e.1 += o.size();
    }
    out
}

#[test]
fn std_containers_are_named_by_their_types() {
    // The expected figures are kept on the stack: nothing but the objects under test is
    // allocated after the mark.
    let mut want: [(&str, usize, usize); 20] = [("", 0, 0); 20];
    let mut add = |k: &'static str, c: usize, b: usize| {
        let i = want
            .iter()
            .position(|w| w.0 == k || w.0.is_empty())
            .unwrap();
        want[i].0 = k;
        want[i].1 += c;
        want[i].2 += b;
    };
    let mark = heapy::hpy().mark();

    let (v, c, b) = made(|| vec![p(1); 3]);
    assert_eq!((c, b), (1, 3 * size_of::<Person>()));
    add("Vec<scoped::kinds::Person>", c, b);

    let (pushed, c, b) = made(|| {
        let mut v = Vec::new();
        // A push that grows the Vec (the allocation is RawVec's grow_one).
        std::hint::black_box(&mut v).push(p(2));
        v
    });
    assert_eq!((c, b), (1, pushed.capacity() * size_of::<Person>()));
    add("Vec<scoped::kinds::Person>", c, b);

    let (bx, c, b) = made(|| Box::new(p(3)));
    assert_eq!((c, b), (1, size_of::<Person>()));
    add("Box<scoped::kinds::Person>", c, b);

    let (rc, c, b) = made(|| Rc::new(p(4)));
    assert_eq!((c, b), (1, 2 * size_of::<usize>() + size_of::<Person>()));
    add("Rc<scoped::kinds::Person>", c, b);

    let (arc, c, b) = made(|| Arc::new(p(5)));
    assert_eq!((c, b), (1, 2 * size_of::<usize>() + size_of::<Person>()));
    add("Arc<scoped::kinds::Person>", c, b);

    let (s1, c, b) = made(|| String::from("hello"));
    assert_eq!((c, b), (1, 5));
    add("String", c, b);
    let (s2, c, b) = made(|| format!("{}-{}", 12, 345));
    assert_eq!((c, b), (1, s2.capacity()));
    add("String", c, b);
    let (s3, c, b) = made(|| 4242.to_string());
    assert_eq!((c, b), (1, s3.capacity()));
    add("String", c, b);

    let (m, c, b) = made(|| {
        let mut m: HashMap<u32, Person> = HashMap::new();
        m.insert(1, p(6));
        m
    });
    assert_eq!(c, 1);
    add("HashMap<u32, scoped::kinds::Person>", c, b);

    let (set, c, b) = made(|| {
        let mut s: HashSet<u64> = HashSet::new();
        s.insert(7);
        s
    });
    assert_eq!(c, 1);
    add("HashSet<u64>", c, b);

    let (bt, c, b) = made(|| {
        let mut m: BTreeMap<u32, Person> = BTreeMap::new();
        m.insert(1, p(8));
        m
    });
    assert_eq!(c, 1);
    add("BTreeMap<u32, scoped::kinds::Person>", c, b);

    let (dq, c, b) = made(|| {
        let mut d: VecDeque<Person> = VecDeque::new();
        d.push_back(p(9));
        d
    });
    assert_eq!((c, b), (1, dq.capacity() * size_of::<Person>()));
    add("VecDeque<scoped::kinds::Person>", c, b);

    let (nested, c, b) = made(|| vec![Box::new(p(10)), Box::new(p(11))]);
    assert_eq!(
        (c, b),
        (3, 2 * size_of::<usize>() + 2 * size_of::<Person>())
    );
    add("Vec<Box<scoped::kinds::Person>>", 1, 2 * size_of::<usize>());
    add("Box<scoped::kinds::Person>", 2, 2 * size_of::<Person>());

    let (strings, c, b) = made(|| vec![String::from("ab"), String::from("cde")]);
    assert_eq!((c, b), (3, 2 * size_of::<String>() + 5));
    add("Vec<String>", 1, 2 * size_of::<String>());
    add("String", 2, 5);

    let (set2, c, b) = made(|| {
        let mut s: BTreeSet<u16> = BTreeSet::new();
        s.insert(3);
        s
    });
    assert_eq!(c, 1);
    add("BTreeSet<u16>", c, b);

    let (heap, c, b) = made(|| {
        let mut h: BinaryHeap<u32> = BinaryHeap::new();
        h.push(5);
        h
    });
    assert_eq!((c, b), (1, heap.capacity() * 4));
    add("BinaryHeap<u32>", c, b);

    let (grown, c, b) = made(|| {
        let mut s = String::new();
        s.push_str("grown");
        s
    });
    assert_eq!((c, b), (1, grown.capacity()));
    add("String", c, b);

    let (owned, c, b) = made(|| "owned".to_owned());
    assert_eq!((c, b), (1, 5));
    add("String", c, b);

    let h = mark.heap();
    let want: BTreeMap<String, (usize, usize)> = want
        .iter()
        .filter(|w| !w.0.is_empty())
        .map(|w| (w.0.to_string(), (w.1, w.2)))
        .collect();
    assert_eq!(kinds(&h), want, "\n{}", h.all());
    drop((
        v, pushed, bx, rc, arc, s1, s2, s3, m, set, bt, dq, nested, strings,
    ));
    drop((set2, heap, grown, owned));
}

#[test]
fn element_buffers_strings_and_shared_slices() {
    // Each case: what the closure leaves allocated, kind by kind (computed from the values).
    let check = |name: &str, h: &heapy::Heap, want: &[(&str, usize, usize)]| {
        let want: BTreeMap<String, (usize, usize)> = want
            .iter()
            .map(|(k, c, b)| (k.to_string(), (*c, *b)))
            .collect();
        assert_eq!(kinds(h), want, "{name}\n{}", h.all());
    };

    // A VecDeque of Strings: the Strings are Strings, only the ring buffer is the deque's.
    let words = ["a", "bb"];
    let m = heapy::hpy().mark();
    let mut dq: VecDeque<String> = VecDeque::with_capacity(4);
    dq.extend(words.iter().map(|w| w.to_string()));
    check(
        "VecDeque<String>",
        &m.heap(),
        &[
            ("VecDeque<String>", 1, 4 * size_of::<String>()),
            ("String", 2, 3),
        ],
    );

    // A map from String to Vec<u8>, cloned: keys are Strings, values Vec<u8>.
    let mut src: HashMap<String, Vec<u8>> = HashMap::new();
    src.insert("key".to_string(), vec![1, 2, 3, 4]);
    let m = heapy::hpy().mark();
    let copy = src.clone();
    let h = m.heap();
    let table = h.filter(|o| o.kind().starts_with("HashMap"));
    assert_eq!(table.count(), 1, "{}", h.all());
    check(
        "HashMap<String, Vec<u8>>::clone",
        &(&h - &table),
        &[("String", 1, 3), ("Vec<u8>", 1, 4)],
    );

    // str methods that return Strings.
    let m = heapy::hpy().mark();
    let up = "abc".to_uppercase();
    let rep = "xy".repeat(3);
    check(
        "str methods",
        &m.heap(),
        &[("String", 2, up.capacity() + rep.capacity())],
    );

    // Shared slices: Arc<str> and Rc<[u8]> (two counts and the bytes).
    let m = heapy::hpy().mark();
    let a: Arc<str> = Arc::from("hello");
    let r: Rc<[u8]> = Rc::from(&b"abcdef"[..]);
    // The two counts, then the bytes, the whole rounded up to the counts' alignment.
    let block = |len: usize| (2 * size_of::<usize>() + len).next_multiple_of(align_of::<usize>());
    check(
        "Arc<str>, Rc<[u8]>",
        &m.heap(),
        &[("Arc<str>", 1, block(5)), ("Rc<[u8]>", 1, block(6))],
    );
    drop((dq, copy, src, up, rep, a, r));

    // Byte strings of std, a linked list, and a map to () (not a set).
    let m = heapy::hpy().mark();
    let mut path = std::path::PathBuf::from("/tmp");
    path.push("a-longer-file-name.txt");
    let os = std::ffi::OsString::from("hello");
    let c = std::ffi::CString::new("hi").unwrap();
    let mut list: std::collections::LinkedList<u32> = std::collections::LinkedList::new();
    list.push_back(1);
    let h = m.heap();
    let node = (2 * size_of::<usize>() + size_of::<u32>()).next_multiple_of(align_of::<usize>());
    check(
        "std byte strings, LinkedList",
        &h,
        &[
            ("PathBuf", 1, path.capacity()),
            ("OsString", 1, os.capacity()),
            ("CString", 1, c.as_bytes_with_nul().len()),
            ("LinkedList<u32>", 1, node),
        ],
    );
    let m = heapy::hpy().mark();
    let mut to_unit: HashMap<u32, ()> = HashMap::new();
    to_unit.insert(1, ());
    let mut set: HashSet<u32> = HashSet::new();
    set.insert(1);
    let h = m.heap();
    let names: Vec<&str> = h.objects().map(|o| o.kind()).collect();
    assert_eq!(names, ["HashMap<u32, ()>", "HashSet<u32>"], "{}", h.all());
    drop((path, os, c, list, to_unit, set));
}

#[test]
fn tags_still_win_and_keep_the_call_site() {
    let mark = heapy::hpy().mark();
    let b = heapy::with_kind("Tagged", || Box::new([0u8; 40]));
    let h = mark.heap();
    let o = h.theone().unwrap();
    assert_eq!((o.kind(), o.size()), ("Tagged", 40));
    assert!(
        o.site().starts_with("tests/scoped/kinds.rs:"),
        "{}",
        o.site()
    );
    drop(b);
}

#[test]
fn the_table_rows_are_the_kinds() {
    let mark = heapy::hpy().mark();
    let v: Vec<u64> = Vec::with_capacity(16);
    let h = mark.heap();
    let rows: Vec<(&str, usize, usize)> =
        h.rows().map(|r| (r.label(), r.count(), r.size())).collect();
    assert_eq!(rows, [("Vec<u64>", 1, 128)], "{h}");
    drop(v);
}
