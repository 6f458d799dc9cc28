//! Kinds for futures: `fut.in_kind("Request")` gives every poll of `fut` that kind, on
//! whichever thread polls it.
//!
//! A [`KindGuard`](super::KindGuard) is thread-scoped: held across an `.await` it would name
//! the allocations of whatever else the thread runs meanwhile (and it is not `Send`, so a
//! task that holds one cannot move between threads). A task's kind has to be set each time
//! the task runs instead, the way `tracing::Instrument` enters a span: the wrapper interns
//! the name once, when it is made, and each poll is then a thread-local swap in and out
//! (`tags::enter`), restored when the poll returns or unwinds. No lock, no allocation, no
//! user code under heapy's guard: the poll runs as the program's own code.

use core::future::Future;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::tags;

/// Gives a future a kind: what it allocates while it runs (each poll, and its drop) is
/// named `name` in [`Heap`](crate::Heap) tables, whichever thread polls it.
///
/// The async form of [`kind`](crate::kind): a [`KindGuard`](crate::KindGuard) names what
/// one *thread* allocates, so it cannot follow a task that moves between worker threads at
/// each `.await` (and would name other tasks' allocations while the thread runs them).
/// `in_kind` sets the kind at the start of every poll and restores the previous one when
/// the poll returns (or panics). Kinds nest as guards do: the innermost wins, so a
/// `.in_kind("Db")` future awaited inside a `.in_kind("Request")` one names its own
/// allocations `Db`, and the request's other allocations stay `Request`.
///
/// The name is interned once, when `in_kind` is called; a poll costs two thread-local
/// writes (no lock, no allocation). The kind is the name's text, so many futures may share
/// one kind (every request handler, say).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// use heapy::InKind;
///
/// #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// async fn main() {
///     // Whichever worker runs the task (and any it moves to at an `.await`).
///     let parse = tokio::spawn(async { vec![0u8; 100] }.in_kind("Parse"));
///     let buf = parse.await.unwrap();
///     let h = heapy::hpy().heap().filter(|o| o.kind() == "Parse");
///     assert_eq!((h.count(), h.size()), (1, 100));
///     # drop(buf);
/// }
/// ```
#[doc(alias("instrument", "task_kind", "tag"))]
pub trait InKind: Future + Sized {
    /// This future, its polls (and its drop) in the kind `name`; see [`InKind`].
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use heapy::InKind;
    /// use std::future::Future;
    /// use std::task::{Context, Waker};
    ///
    /// let mark = heapy::hpy().mark();
    /// let fut = std::pin::pin!(async { String::from("in a kind") }.in_kind("Greeting"));
    /// let out = fut.poll(&mut Context::from_waker(Waker::noop()));
    /// let h = mark.heap().filter(|o| o.kind() == "Greeting");
    /// assert_eq!((h.count(), h.size()), (1, 9));
    /// # drop(out);
    /// ```
    fn in_kind(self, name: &str) -> Kinded<Self> {
        Kinded {
            inner: ManuallyDrop::new(self),
            tag: tags::intern_cached(name),
        }
    }
}

impl<F: Future> InKind for F {}

/// A future whose polls run in a kind, from [`InKind::in_kind`].
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// use heapy::InKind;
///
/// let fut: heapy::Kinded<_> = async { vec![1u64; 4] }.in_kind("Scores");
/// assert_eq!(format!("{fut:?}"), r#"Kinded { kind: "Scores", .. }"#);
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[non_exhaustive]
pub struct Kinded<F> {
    /// Dropped in place by `Drop`, inside the kind (never moved once pinned).
    inner: ManuallyDrop<F>,
    tag: u32,
}

impl<F: Future> Future for Kinded<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _kind = tags::enter(self.tag);
        // SAFETY: `inner` is pinned structurally: it is never moved out of a `Kinded` (its
        // only other use is `Drop`, which drops it in place), and `Kinded` is `Unpin` only
        // when `F` is (the auto trait), so a pinned `Kinded` keeps `inner` where it is.
        let inner = unsafe { self.map_unchecked_mut(|k| &mut *k.inner) };
        inner.poll(cx)
    }
}

impl<F> Drop for Kinded<F> {
    fn drop(&mut self) {
        // What the future frees or allocates as it is dropped is the kind's too.
        let _kind = tags::enter(self.tag);
        // SAFETY: `inner` is dropped once, here, in place (so a pinned future is never
        // moved), and nothing reads it afterwards.
        unsafe { ManuallyDrop::drop(&mut self.inner) }
    }
}

impl<F> core::fmt::Debug for Kinded<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Kinded")
            .field("kind", &tags::name(self.tag))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// Ready on the second poll, after asking to be polled again.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn each_poll_sets_the_kind_and_restores_the_one_before() {
        let (a, b) = (
            tags::intern("in-kind-unit-a"),
            tags::intern("in-kind-unit-b"),
        );
        let seen = core::cell::Cell::new((0, 0, 0));
        let fut = async {
            let first = tags::current();
            async { seen.set((first, tags::current(), 0)) }
                .in_kind("in-kind-unit-b")
                .await;
            YieldOnce(false).await;
            let (x, y, _) = seen.get();
            seen.set((x, y, tags::current()));
        }
        .in_kind("in-kind-unit-a");
        let mut fut = core::pin::pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        let outer = tags::intern("in-kind-unit-outer");
        let _g = tags::enter(outer);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(tags::current(), outer, "restored between polls");
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        assert_eq!(tags::current(), outer);
        assert_eq!(
            seen.get(),
            (a, b, a),
            "innermost wins, the outer kind comes back"
        );
    }
}
