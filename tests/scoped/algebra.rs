//! Set algebra by object identity, against a naive model (a BTreeSet of (address, serial))
//! over random sets. Sets come from two snapshots with frees and fresh allocations between
//! them, so reused addresses (same address, new serial: a different object) occur.

use std::collections::BTreeSet;

use proptest::prelude::*;

type Ids = BTreeSet<(usize, u64)>;

fn ids(h: &heapy::Heap) -> Ids {
    h.objects().map(|o| (o.address(), o.serial())).collect()
}

fn pick(h: &heapy::Heap, mask: &[bool]) -> heapy::Heap {
    let keep: Ids = h
        .objects()
        .zip(mask.iter().cycle())
        .filter(|(_, &m)| m)
        .map(|(o, _)| (o.address(), o.serial()))
        .collect();
    h.filter(|o| keep.contains(&(o.address(), o.serial())))
}

fn check(result: &heapy::Heap, model: &Ids, all: &heapy::Heap) {
    assert_eq!(&ids(result), model);
    assert_eq!(result.count(), model.len());
    let size: usize = all
        .objects()
        .filter(|o| model.contains(&(o.address(), o.serial())))
        .map(|o| o.size())
        .sum();
    assert_eq!(result.size(), size);
    // Objects stay in allocation order.
    let serials: Vec<u64> = result.objects().map(|o| o.serial()).collect();
    assert!(serials.windows(2).all(|w| w[0] < w[1]));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn algebra_matches_a_naive_model(
        sizes in proptest::collection::vec(1usize..200, 1..40),
        freed in proptest::collection::vec(any::<bool>(), 1..40),
        mask_a in proptest::collection::vec(any::<bool>(), 1..40),
        mask_b in proptest::collection::vec(any::<bool>(), 1..40),
    ) {
        let mark = heapy::hpy().mark();
        let mut blocks: Vec<Vec<u8>> = Vec::with_capacity(2 * sizes.len());
        for &n in &sizes {
            blocks.push(vec![0u8; n]);
        }
        let first = mark.heap();
        // Free some and allocate as many of the same sizes: addresses are often reused.
        let mut fresh = Vec::new();
        for (i, f) in freed.iter().cycle().take(sizes.len()).enumerate() {
            if *f {
                let n = blocks[i].len();
                blocks[i] = Vec::new();
                fresh.push(n);
            }
        }
        for n in fresh {
            blocks.push(vec![1u8; n]);
        }
        let second = mark.heap();
        let all = &first | &second;
        let (a, b) = (pick(&first, &mask_a), pick(&second, &mask_b));
        let (ma, mb) = (ids(&a), ids(&b));

        check(&(&a - &b), &ma.difference(&mb).copied().collect(), &all);
        check(&(&a & &b), &ma.intersection(&mb).copied().collect(), &all);
        check(&(&a | &b), &ma.union(&mb).copied().collect(), &all);
        check(&(&a ^ &b), &ma.symmetric_difference(&mb).copied().collect(), &all);
        let big: Ids = all.objects().filter(|o| o.size() > 100).map(|o| (o.address(), o.serial())).collect();
        check(&all.filter(|o| o.size() > 100), &big, &all);

        // Laws: a = (a - b) | (a & b); a ^ b = (a | b) - (a & b).
        prop_assert_eq!(ids(&(&(&a - &b) | &(&a & &b))), ma.clone());
        prop_assert_eq!(ids(&(&a ^ &b)), ids(&(&(&a | &b) - &(&a & &b))));
        drop(blocks);
    }
}

#[test]
fn results_keep_names_and_print() {
    let mark = heapy::hpy().mark();
    let x = heapy::with_kind("Xs", || vec![0u8; 30]);
    let a = mark.heap();
    let y = heapy::with_kind("Ys", || vec![0u8; 70]);
    let b = &mark.heap() - &a;
    let u = &a | &b;
    let rows: Vec<(&str, usize, usize, usize)> = u
        .rows()
        .map(|r| (r.label(), r.count(), r.size(), r.cumulative()))
        .collect();
    assert_eq!(rows, [("Ys", 1, 70, 70), ("Xs", 1, 30, 100)]);
    assert!(u
        .to_string()
        .starts_with("Partition of a set of 2 objects. Total size = 100 bytes.\n"));
    // The view of the left operand carries over.
    assert_eq!((&u.bysize() - &a).view(), Some(heapy::By::Size));
    drop((x, y));
}
