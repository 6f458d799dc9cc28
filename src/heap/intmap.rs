//! Hash maps keyed by heapy's own small integers (stack contexts, thread indices, sizes),
//! hashed by one multiply instead of SipHash: a snapshot of 1M objects looks up a map or two
//! per object, and SipHash was a tenth of its time. The keys come from the census, not from
//! an adversary, so a keyed hash buys nothing here.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash's step (rustc's hasher): rotate, xor the word in, multiply by an odd constant.
/// hashbrown takes the top 7 bits and the low bits of the result; the multiply spreads a
/// key's bits upward, and distinct small keys keep distinct low bits.
#[derive(Default, Clone, Copy)]
pub(crate) struct IntHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl IntHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for IntHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A map keyed by one of heapy's integers.
pub(crate) type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;
/// A set of heapy's integers.
pub(crate) type IntSet<K> = HashSet<K, BuildHasherDefault<IntHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keys_stay_distinct_and_found() {
        let mut m: IntMap<u32, u32> = IntMap::default();
        for k in (0..100_000u32).map(|k| k.wrapping_mul(2_654_435_761)) {
            m.insert(k, k ^ 1);
        }
        assert_eq!(m.len(), 100_000);
        for k in (0..100_000u32).map(|k| k.wrapping_mul(2_654_435_761)) {
            assert_eq!(m[&k], k ^ 1);
        }
        let s: IntSet<u16> = (0..=u16::MAX).chain(0..10).collect();
        assert_eq!(s.len(), 1 << 16);
    }
}
