//! The census against a naive model: random sequences of alloc, alloc_zeroed, realloc and
//! free (some on another thread) through the global allocator, and after each sequence the
//! thread's `mark.heap()` must hold exactly the model's live blocks (address and size).

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};
use std::collections::BTreeMap;

use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Alloc { size: usize, align_log2: u32 },
    Zeroed { size: usize, align_log2: u32 },
    Realloc { pick: usize, size: usize },
    Free { pick: usize },
    FreeElsewhere { pick: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..5000, 0u32..13).prop_map(|(size, align_log2)| Op::Alloc { size, align_log2 }),
        (1usize..5000, 0u32..13).prop_map(|(size, align_log2)| Op::Zeroed { size, align_log2 }),
        (any::<usize>(), 1usize..20_000).prop_map(|(pick, size)| Op::Realloc { pick, size }),
        any::<usize>().prop_map(|pick| Op::Free { pick }),
        any::<usize>().prop_map(|pick| Op::FreeElsewhere { pick }),
    ]
}

struct Block(*mut u8, Layout);
// SAFETY: a Block is an owned allocation; moving it to another thread to free it is fine.
unsafe impl Send for Block {}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn census_matches_a_naive_model(ops in proptest::collection::vec(op(), 1..120)) {
        // The model: live blocks (address, layout), its storage reserved before the mark so
        // that the model's own memory is not part of what the census sees.
        let mut model: Vec<(usize, Layout)> = Vec::with_capacity(ops.len());
        let mark = heapy::hpy().mark();
        for op in ops {
            // SAFETY: every block is used within its layout and freed exactly once, with the
            // layout it was last (re)allocated with.
            unsafe {
                match op {
                    Op::Alloc { size, align_log2 } | Op::Zeroed { size, align_log2 } => {
                        let l = Layout::from_size_align(size, 1 << align_log2).unwrap();
                        let zeroed = matches!(op, Op::Zeroed { .. });
                        let p = if zeroed { alloc_zeroed(l) } else { alloc(l) };
                        prop_assert!(!p.is_null());
                        prop_assert_eq!(p as usize % l.align(), 0);
                        if zeroed {
                            prop_assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                        }
                        p.write_bytes(0x5A, size);
                        model.push((p as usize, l));
                    }
                    Op::Realloc { pick, size } if !model.is_empty() => {
                        let i = pick % model.len();
                        let (addr, l) = model[i];
                        let q = realloc(addr as *mut u8, l, size);
                        prop_assert!(!q.is_null());
                        prop_assert_eq!(*q, 0x5A);
                        q.write_bytes(0x5A, size);
                        model[i] = (q as usize, Layout::from_size_align(size, l.align()).unwrap());
                    }
                    Op::Free { pick } if !model.is_empty() => {
                        let (addr, l) = model.swap_remove(pick % model.len());
                        dealloc(addr as *mut u8, l);
                    }
                    Op::FreeElsewhere { pick } if !model.is_empty() => {
                        let (addr, l) = model.swap_remove(pick % model.len());
                        let b = Block(addr as *mut u8, l);
                        std::thread::spawn(move || {
                            let b = b;
                            dealloc(b.0, b.1);
                        })
                        .join()
                        .unwrap();
                    }
                    _ => {}
                }
            }
            let h = mark.heap();
            let seen: BTreeMap<usize, usize> = h.objects().map(|o| (o.address(), o.size())).collect();
            let want: BTreeMap<usize, usize> = model.iter().map(|(a, l)| (*a, l.size())).collect();
            prop_assert_eq!(seen, want);
            prop_assert_eq!(h.count(), model.len());
        }
        for (addr, l) in model.drain(..) {
            // SAFETY: the remaining live blocks, each freed once with its layout.
            unsafe { dealloc(addr as *mut u8, l) };
        }
        prop_assert!(mark.heap().is_empty());
    }
}
