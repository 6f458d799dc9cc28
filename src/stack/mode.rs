//! Which stacks the census captures: the `Stacks` setting, its `HEAPY_STACKS` override, and
//! the run-time check for frame pointers.

use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// Which allocation stacks the census captures, set with
/// [`Census::stacks`](crate::Census::stacks) and overridden by the environment variable
/// `HEAPY_STACKS` (`off`, `fp`, `unwind`, `sample:<bytes>`; read once, at the first
/// allocation).
///
/// Stacks give untagged objects their kinds (`Vec<demo::Person>`, `String`, ...) and
/// [`Heap::bysite`](crate::Heap::bysite) its rows.
///
/// ```
/// use heapy::{Census, Stacks};
///
/// #[global_allocator]
/// static CENSUS: Census = Census::new().stacks(Stacks::Auto);
///
/// assert_eq!(Stacks::default(), Stacks::Auto);
/// assert_eq!("sample:4096".parse::<Stacks>().unwrap(), Stacks::Sampled { bytes: 4096 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Stacks {
    /// No stacks: untagged objects are `<untagged>`, and `bysite()` has one row.
    Off,
    /// A stack for every allocation: a frame-pointer walk when the program was built with
    /// frame pointers (checked at run time), else the unwinder. The default.
    #[default]
    Auto,
    /// A frame-pointer walk for every allocation (about 10 ns for 10 frames). Without
    /// `-C force-frame-pointers=yes` the walk stops early or finds nothing useful, but it
    /// never reads outside the thread's stack.
    FramePointers,
    /// The DWARF unwinder (the backtrace crate) for every allocation: works without frame
    /// pointers, costs microseconds per allocation. It is libgcc's unwinder, which may take
    /// the C runtime's loader lock (heapy's own path takes none).
    Unwind,
    /// Only a sample of the allocations, by bytes: gaps between samples are exponentially
    /// distributed with mean `bytes`, so an object of size Z is recorded with probability
    /// 1 - exp(-Z/bytes). Unsampled objects are counted in [`Stats`](crate::Stats) but are
    /// in no `Heap`; views of a sampled heap scale each object by the inverse probability
    /// and say that their figures are estimates.
    Sampled {
        /// The mean gap between samples, in bytes (512 KiB is a good default).
        bytes: u64,
    },
}

impl Stacks {
    /// Sampling with the default mean gap of 512 KiB (as jemalloc's and Go's profilers).
    ///
    /// ```
    /// use heapy::{Census, Stacks};
    ///
    /// #[global_allocator]
    /// static CENSUS: Census = Census::new().stacks(Stacks::SAMPLED);
    /// assert_eq!(Stacks::SAMPLED, Stacks::Sampled { bytes: 512 * 1024 });
    /// ```
    pub const SAMPLED: Stacks = Stacks::Sampled {
        bytes: DEFAULT_SAMPLE_BYTES,
    };
}

/// The default mean gap between samples.
pub(crate) const DEFAULT_SAMPLE_BYTES: u64 = 512 * 1024;

impl core::str::FromStr for Stacks {
    type Err = crate::ParseStacksError;

    fn from_str(s: &str) -> Result<Stacks, crate::ParseStacksError> {
        parse(s.as_bytes()).ok_or_else(|| crate::ParseStacksError::new(s))
    }
}

/// Parses `off|auto|fp|unwind|sample|sample:<bytes>` without allocating.
fn parse(s: &[u8]) -> Option<Stacks> {
    match s {
        b"off" => Some(Stacks::Off),
        b"auto" | b"on" => Some(Stacks::Auto),
        b"fp" => Some(Stacks::FramePointers),
        b"unwind" => Some(Stacks::Unwind),
        b"sample" => Some(Stacks::SAMPLED),
        _ => {
            let digits = s.strip_prefix(b"sample:")?;
            if digits.is_empty() || digits.len() > 18 {
                return None;
            }
            let mut n: u64 = 0;
            for &d in digits {
                if !d.is_ascii_digit() {
                    return None;
                }
                n = n * 10 + u64::from(d - b'0');
            }
            (n > 0).then_some(Stacks::Sampled { bytes: n })
        }
    }
}

/// The largest mean gap between samples (1 TiB, the largest block a record holds); a
/// `Stacks::Sampled` gap is clamped to 1 ..= this.
pub(crate) const MAX_SAMPLE_RATE: u64 = 1 << 40;

/// A mode as the hot path uses it: a kind code and the sampling gap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Capture {
    Off,
    Fp,
    Unwind,
}

/// `HEAPY_STACKS` as read once: 0 not read yet, 1 unset, `INVALID` for a value heapy does
/// not understand, else `encode(mode)`.
/// Relaxed: the value is computed identically by any thread that reads the environment, so
/// a racing second read only stores the same number.
static ENV: AtomicU64 = AtomicU64::new(0);

/// `ENV`'s code for a `HEAPY_STACKS` value that does not parse (`decode` gives `None`).
const INVALID: u64 = 7;

fn encode(m: Stacks) -> u64 {
    match m {
        Stacks::Off => 2,
        Stacks::Auto => 3,
        Stacks::FramePointers => 4,
        Stacks::Unwind => 5,
        // Sampling gaps are stored shifted above the tag bits.
        Stacks::Sampled { bytes } => 6 | (bytes.min(u64::MAX >> 4) << 4),
    }
}

fn decode(v: u64) -> Option<Stacks> {
    match v & 0xf {
        2 => Some(Stacks::Off),
        3 => Some(Stacks::Auto),
        4 => Some(Stacks::FramePointers),
        5 => Some(Stacks::Unwind),
        6 => Some(Stacks::Sampled { bytes: v >> 4 }),
        _ => None,
    }
}

#[cold]
fn read_env() -> u64 {
    // SAFETY: getenv with a NUL-terminated name returns a pointer into the environment (or
    // null) without allocating; the bytes are read at once, before anything could change
    // the environment on this thread.
    let code = unsafe {
        let p = libc::getenv(c"HEAPY_STACKS".as_ptr());
        if p.is_null() {
            1
        } else {
            parse(core::ffi::CStr::from_ptr(p).to_bytes()).map_or(INVALID, encode)
        }
    };
    ENV.store(code, Ordering::Relaxed);
    code
}

/// True the first time it is called while `HEAPY_STACKS` holds a value heapy does not
/// understand, false otherwise and ever after. The allocator, which reads the variable,
/// cannot print: `hpy()` asks this and prints [`bad_env_warning`] instead. Never allocates.
pub(crate) fn take_bad_env() -> bool {
    /// Relaxed: only makes the warning appear once; it publishes nothing else.
    static WARNED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    ENV.load(Ordering::Relaxed) == INVALID && !WARNED.swap(true, Ordering::Relaxed)
}

/// The warning for a `HEAPY_STACKS` value heapy does not understand (see [`take_bad_env`]).
/// Call with the reentrancy flag held: it allocates.
pub(crate) fn bad_env_warning() -> String {
    let value = std::env::var("HEAPY_STACKS").unwrap_or_default();
    format!(
        "heapy: HEAPY_STACKS={value:?} is not one of off, fp, unwind, sample:<bytes>; \
         ignored (stacks are captured as the program's Census says)"
    )
}

/// The mode in force for a census configured with `m`: `HEAPY_STACKS` wins.
#[inline(always)]
pub(crate) fn effective(m: Stacks) -> Stacks {
    let mut e = ENV.load(Ordering::Relaxed);
    if e == 0 {
        e = read_env();
    }
    decode(e).unwrap_or(m)
}

/// How to capture a stack under mode `m` (sampling aside).
#[inline(always)]
pub(crate) fn capture(m: Stacks) -> Capture {
    match m {
        Stacks::Off => Capture::Off,
        Stacks::FramePointers => Capture::Fp,
        Stacks::Unwind => Capture::Unwind,
        Stacks::Auto | Stacks::Sampled { .. } => {
            if have_frame_pointers() {
                Capture::Fp
            } else {
                Capture::Unwind
            }
        }
    }
}

/// 0 unknown, 1 no frame pointers, 2 frame pointers. Relaxed: every thread computes the
/// same answer; a race only repeats the check.
static FP: AtomicU8 = AtomicU8::new(0);

/// True when the code that calls the allocator keeps frame pointers: checked once by walking
/// the frame-pointer chain and the unwinder from the same spot and comparing the first
/// return addresses (call with the reentrancy flag held: the unwinder may allocate).
#[inline(always)]
pub(crate) fn have_frame_pointers() -> bool {
    match FP.load(Ordering::Relaxed) {
        0 => detect(),
        v => v == 2,
    }
}

#[cold]
#[inline(never)]
fn detect() -> bool {
    let mut fp = [core::mem::MaybeUninit::new(0usize); 8];
    let mut uw = [core::mem::MaybeUninit::new(0usize); 16];
    let (nf, nu) = probe(&mut fp, &mut uw);
    // SAFETY: both arrays were initialised to zeros above (the captures overwrite some).
    let (fp, uw) = unsafe {
        (
            core::mem::transmute::<[core::mem::MaybeUninit<usize>; 8], [usize; 8]>(fp),
            core::mem::transmute::<[core::mem::MaybeUninit<usize>; 16], [usize; 16]>(uw),
        )
    };
    // The walk's first return address is into `probe` after its call of `walk`, which the
    // unwinder (called from a different spot of `probe`) cannot see; the next three (into
    // `detect` and its callers) must be frames the unwinder found too.
    let ok = nf >= 4 && fp[1..4].iter().all(|a| uw[..nu].contains(a));
    FP.store(if ok { 2 } else { 1 }, Ordering::Relaxed);
    ok
}

#[inline(never)]
fn probe(
    fp: &mut [core::mem::MaybeUninit<usize>; 8],
    uw: &mut [core::mem::MaybeUninit<usize>; 16],
) -> (usize, usize) {
    let nf = super::fp::walk(fp);
    let nu = super::unwind::capture(uw);
    core::hint::black_box((nf, nu))
}

/// The sampling gap of mode `m`, if it samples.
#[inline(always)]
pub(crate) fn sample_bytes(m: Stacks) -> Option<u64> {
    match m {
        Stacks::Sampled { bytes } => Some(bytes.clamp(1, MAX_SAMPLE_RATE)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        for m in [
            Stacks::Off,
            Stacks::Auto,
            Stacks::FramePointers,
            Stacks::Unwind,
            Stacks::Sampled { bytes: 123 },
        ] {
            assert_eq!(decode(encode(m)), Some(m));
        }
        assert_eq!(
            parse(b"sample:65536"),
            Some(Stacks::Sampled { bytes: 65536 })
        );
        assert_eq!(parse(b"sample"), Some(Stacks::SAMPLED));
        assert_eq!(parse(b"sample:"), None);
        assert_eq!(parse(b"sample:0"), None);
        assert_eq!(parse(b"sample:12x"), None);
        assert_eq!(parse(b"fast"), None);
    }
}
