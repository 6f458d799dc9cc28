//! The allocation stack of a one-object or one-row set, most recent call first.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::Heap;
use crate::census::guard;
use crate::stack::Frame;

/// Where the objects of a set were allocated: the program's own frames of their allocation
/// stack, most recent call first, from [`Heap::traceback`].
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// #[inline(never)]
/// fn inner() -> Box<u64> {
///     Box::new(5)
/// }
/// fn outer() -> Box<u64> {
///     inner()
/// }
///
/// let mark = heapy::hpy().mark();
/// let b = outer();
/// let t = mark.heap().traceback();
/// let functions: Vec<&str> = t.frames().iter().map(|f| f.function()).collect();
/// assert!(functions[0].ends_with("::inner") && functions[1].ends_with("::outer"), "{t}");
/// println!("{t}"); // with debug info, each frame shows its file:line
/// # drop(b);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(alias("backtrace", "stack_trace"))]
#[non_exhaustive]
pub struct Traceback {
    count: usize,
    size: usize,
    /// The largest stack's frames, shared with the snapshot's names.
    frames: Arc<[Frame]>,
    /// Distinct stacks among the objects; the frames are those of the largest.
    stacks: usize,
}

impl Traceback {
    /// The frames, most recent call first: each a [`Frame`] (function, file, line).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let t = heapy::hpy().mark().heap().traceback();
    /// assert!(t.frames().is_empty()); // an empty set has no stack
    ///
    /// let mark = heapy::hpy().mark();
    /// let b = Box::new(1u8);
    /// let t = mark.heap().traceback();
    /// let f: &heapy::Frame = &t.frames()[0];
    /// println!("{} {:?} {:?}", f.function(), f.file(), f.line());
    /// # drop(b);
    /// ```
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }
}

/// `Traceback of 1 object (8 bytes), most recent call first:`, then a frame a line, as
/// [`Frame`] prints (a dependency's file from its crate's directory); `{:#}` prints each
/// frame's file as the debug info gives it (the absolute path into cargo's registry).
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let mark = heapy::hpy().mark();
/// let b = Box::new(1u8);
/// let t = mark.heap().traceback();
/// assert!(t.to_string().starts_with("Traceback of 1 object (1 bytes)"), "{t}");
/// assert_eq!(format!("{t:#}").lines().count(), t.to_string().lines().count());
/// # drop(b);
/// ```
impl fmt::Display for Traceback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.count == 1 { "" } else { "s" };
        write!(
            f,
            "Traceback of {} object{s} ({} bytes), most recent call first",
            self.count, self.size
        )?;
        if self.stacks > 1 {
            write!(f, " (the largest of {} stacks)", self.stacks)?;
        }
        writeln!(f, ":")?;
        if self.frames.is_empty() {
            writeln!(f, "  <no stack>")?;
        }
        for fr in self.frames.iter() {
            if f.alternate() {
                writeln!(f, "  {fr:#}")?;
            } else {
                writeln!(f, "  {fr}")?;
            }
        }
        Ok(())
    }
}

impl Heap {
    /// The allocation stack of this set's objects, most recent call first (for a single
    /// object, or a row of `bysite()`; when the objects come from several stacks, the one
    /// holding the most bytes is shown and the header says how many there were).
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// fn load() -> Vec<u32> {
    ///     (0..10).collect()
    /// }
    ///
    /// let mark = heapy::hpy().mark();
    /// let v = load();
    /// let t = mark.heap().bysite().row(0).traceback();
    /// let functions: Vec<&str> = t.frames().iter().map(|f| f.function()).collect();
    /// assert!(functions[0].ends_with("::load"), "{t}");
    /// assert!(t.to_string().starts_with("Traceback of 1 object (40 bytes), most recent call first:"));
    /// # drop(v);
    /// ```
    #[doc(alias("backtrace", "stack_trace", "allocation_stack"))]
    pub fn traceback(&self) -> Traceback {
        guard::internal(|| {
            let mut by_ctx: HashMap<u32, usize> = HashMap::new();
            for o in self.objs() {
                *by_ctx.entry(o.ctx).or_default() += o.size;
            }
            let best = by_ctx
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(c, _)| *c);
            let frames = best
                .and_then(|c| self.meta().kinds.get(&c))
                .map(|k| k.frames.clone())
                .unwrap_or_default();
            Traceback {
                count: self.count(),
                size: self.size(),
                frames,
                stacks: by_ctx.len(),
            }
        })
    }
}
