//! Sampling by bytes: exponentially distributed gaps between sampled bytes.
//!
//! Each thread counts down the bytes to its next sample point. An allocation of size Z that
//! reaches the point is sampled and a fresh gap is drawn; since the gaps are exponential
//! (memoryless) with mean R, an allocation of size Z is sampled with probability
//! 1 - exp(-Z/R) whatever came before, and weighting each sample by the inverse gives
//! unbiased totals (as jemalloc's and Go's heap profilers do).

use core::cell::Cell;
use core::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    /// Bytes left before this thread's next sample point; 0 until the first draw.
    static LEFT: Cell<u64> = const { Cell::new(0) };
    /// This thread's random state (xorshift64*); 0 until seeded.
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// The seed for threads that have not sampled yet (0: from the thread id and the clock).
/// Relaxed: a plain setting, read when a thread first samples.
static SEED: AtomicU64 = AtomicU64::new(0);
/// Seeds handed out, so that threads seeded from one fixed seed still differ. Relaxed: only
/// distinct numbers are needed.
static SEEDED: AtomicU64 = AtomicU64::new(0);
/// The mean gap of the last sampling census that recorded an object (0: none). Relaxed: a
/// label for snapshots, no memory is published through it.
static RATE: AtomicU64 = AtomicU64::new(0);

/// Fixes the seed of the sampler for threads that have not sampled yet: the same program
/// run on the same threads then samples the same allocations.
///
/// ```
/// use heapy::{Census, Stacks};
///
/// #[global_allocator]
/// static CENSUS: Census = Census::new().stacks(Stacks::Sampled { bytes: 4096 });
///
/// heapy::set_sample_seed(42);
/// let t = std::thread::spawn(|| {
///     let mark = heapy::hpy().mark();
///     let v: Vec<Vec<u8>> = (0..100).map(|_| vec![0u8; 1000]).collect();
///     let h = mark.heap();
///     assert!(h.count() < 101); // about a quarter of the buffers are recorded
///     assert!(h.to_string().contains("estimate"));
///     drop(v);
/// });
/// t.join().unwrap();
/// ```
pub fn set_sample_seed(seed: u64) {
    SEED.store(seed, Ordering::Relaxed);
}

/// The mean gap of the sampling census, if objects were recorded by sampling.
pub(crate) fn rate() -> Option<u64> {
    match RATE.load(Ordering::Relaxed) {
        0 => None,
        r => Some(r),
    }
}

#[cold]
fn seed() -> u64 {
    let n = SEEDED.fetch_add(1, Ordering::Relaxed);
    let fixed = SEED.load(Ordering::Relaxed);
    let base = if fixed != 0 {
        fixed
    } else {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the local `ts` and has no other effect.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        (ts.tv_nsec as u64) ^ ((ts.tv_sec as u64) << 32) ^ u64::from(crate::sys::current_tid())
    };
    // splitmix64 of the base and the ordinal: never 0 in practice; 0 is mapped away.
    let mut z = base.wrapping_add(n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z | 1
}

/// A uniform number in (0, 1], from this thread's state.
#[inline]
fn uniform() -> f64 {
    RNG.try_with(|r| {
        let mut x = r.get();
        if x == 0 {
            x = seed();
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11; // 53 bits
        (v as f64 + 1.0) / (1u64 << 53) as f64
    })
    .unwrap_or(0.5)
}

/// An exponential gap with mean `mean` bytes (at least 1).
#[inline]
fn gap(mean: u64) -> u64 {
    let g = -uniform().ln() * mean as f64;
    (g as u64).max(1)
}

/// True when an allocation of `size` bytes is sampled under mean gap `mean`.
#[inline(always)]
pub(crate) fn take(size: usize, mean: u64) -> bool {
    LEFT.try_with(|l| {
        let left = l.get();
        let size = size as u64;
        if left > size {
            l.set(left - size);
            return false;
        }
        draw(l, left, size, mean)
    })
    .unwrap_or(false)
}

#[cold]
#[inline(never)]
fn draw(l: &Cell<u64>, left: u64, size: u64, mean: u64) -> bool {
    if left == 0 {
        // This thread's first sampled allocation: start the countdown, and check again.
        let g = gap(mean);
        if g > size {
            l.set(g - size);
            return false;
        }
    }
    l.set(gap(mean));
    if RATE.load(Ordering::Relaxed) != mean {
        RATE.store(mean, Ordering::Relaxed);
    }
    true
}

/// The inverse of the probability that an object of `size` bytes is sampled under mean gap
/// `mean`: each sample stands for this many objects like it.
pub(crate) fn weight(size: usize, mean: u64) -> f64 {
    let p = -(-(size as f64) / mean as f64).exp_m1();
    if p > 0.0 {
        1.0 / p
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights() {
        assert!((weight(512 * 1024, 512 * 1024) - 1.0 / (1.0 - (-1.0f64).exp())).abs() < 1e-9);
        assert!((weight(1, 1 << 20) - (1u64 << 20) as f64).abs() / ((1u64 << 20) as f64) < 1e-3);
        assert!((weight(1 << 30, 1024) - 1.0).abs() < 1e-12);
    }
}
