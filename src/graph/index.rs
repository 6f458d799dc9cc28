//! Which object, if any, a word points into: an address index over a set of objects.
//!
//! Objects are kept sorted by address. A hash table maps each 4 KiB page that some object
//! touches to the range of objects touching it, so a lookup is one hash probe and a binary
//! search among the few objects of one page; a word that points into no object's page (a
//! small integer, a pointer to code or to a stack) costs one probe.

use crate::heap::Obj;

const PAGE_BITS: u32 = 12;

/// The objects of a graph, by address.
pub(crate) struct AddrIndex {
    starts: Vec<usize>,
    ends: Vec<usize>,
    lo: usize,
    hi: usize,
    table: Vec<Slot>,
    shift: u32,
}

#[derive(Clone, Copy)]
struct Slot {
    /// Page number + 1 (0: empty).
    key: usize,
    first: u32,
    end: u32,
}

const EMPTY: Slot = Slot {
    key: 0,
    first: 0,
    end: 0,
};

#[inline(always)]
fn hash(key: usize, shift: u32) -> usize {
    (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize >> shift
}

impl AddrIndex {
    /// An index over `objs`, which must be sorted by address and not overlap (live blocks).
    /// An object of size 0 is found by its own address.
    pub(crate) fn new(objs: &[Obj]) -> AddrIndex {
        let starts: Vec<usize> = objs.iter().map(|o| o.addr).collect();
        let ends: Vec<usize> = objs.iter().map(|o| o.addr + o.size.max(1)).collect();
        let pages: usize = objs
            .iter()
            .zip(&ends)
            .map(|(o, &e)| ((e - 1) >> PAGE_BITS) - (o.addr >> PAGE_BITS) + 1)
            .sum();
        let cap = (pages * 2).next_power_of_two().max(16);
        let mut ix = AddrIndex {
            lo: starts.first().copied().unwrap_or(0),
            hi: ends.iter().copied().max().unwrap_or(0),
            starts,
            ends,
            table: vec![EMPTY; cap],
            shift: usize::BITS - cap.trailing_zeros(),
        };
        for i in 0..objs.len() {
            let (first, last) = (ix.starts[i] >> PAGE_BITS, (ix.ends[i] - 1) >> PAGE_BITS);
            for page in first..=last {
                ix.note(page, i as u32);
            }
        }
        ix
    }

    fn note(&mut self, page: usize, i: u32) {
        let key = page + 1;
        let mask = self.table.len() - 1;
        let mut h = hash(key, self.shift);
        loop {
            let s = &mut self.table[h];
            if s.key == key {
                s.end = i + 1;
                return;
            }
            if s.key == 0 {
                *s = Slot {
                    key,
                    first: i,
                    end: i + 1,
                };
                return;
            }
            h = (h + 1) & mask;
        }
    }

    /// The object whose bytes contain address `w`, if any.
    #[inline]
    pub(crate) fn find(&self, w: usize) -> Option<u32> {
        if w < self.lo || w >= self.hi {
            return None;
        }
        let key = (w >> PAGE_BITS) + 1;
        let mask = self.table.len() - 1;
        let mut h = hash(key, self.shift);
        let s = loop {
            let s = self.table[h];
            if s.key == key {
                break s;
            }
            if s.key == 0 {
                return None;
            }
            h = (h + 1) & mask;
        };
        let (a, b) = (s.first as usize, s.end as usize);
        // The last object of the page's range that starts at or before `w`.
        let n = self.starts[a..b].partition_point(|&st| st <= w);
        if n == 0 {
            return None;
        }
        let i = a + n - 1;
        (w < self.ends[i]).then_some(i as u32)
    }

    /// The object that starts exactly at `addr`, if any.
    pub(crate) fn at(&self, addr: usize) -> Option<u32> {
        self.find(addr).filter(|&i| self.starts[i as usize] == addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(addr: usize, size: usize) -> Obj {
        Obj {
            addr,
            size,
            serial: addr as u64,
            thread: 1,
            ctx: 0,
        }
    }

    #[test]
    fn finds_interior_pointers_and_nothing_else() {
        let objs = [
            obj(0x1000, 16),
            obj(0x1010, 0),
            obj(0x1ff8, 0x20),
            obj(0x9000, 0x3000),
        ];
        let ix = AddrIndex::new(&objs);
        assert_eq!(ix.find(0x1000), Some(0));
        assert_eq!(ix.find(0x100f), Some(0));
        assert_eq!(ix.find(0x1010), Some(1));
        assert_eq!(ix.find(0x1011), None);
        assert_eq!(ix.find(0x2000), Some(2));
        assert_eq!(ix.find(0x2017), Some(2));
        assert_eq!(ix.find(0x2018), None);
        assert_eq!(ix.find(0xa123), Some(3));
        assert_eq!(ix.find(0xbfff), Some(3));
        assert_eq!(ix.find(0xc000), None);
        assert_eq!(ix.find(0x5000), None);
        assert_eq!(ix.find(7), None);
        assert_eq!(ix.at(0x9000), Some(3));
        assert_eq!(ix.at(0x9008), None);
    }
}
