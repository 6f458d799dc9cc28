//! Kinds from tracing spans: `KindLayer`, a tracing-subscriber layer that makes the entered
//! span the kind (the `tracing` feature).
//!
//! The span's kind is worked out once, when the span is made (`on_new_span`): its name, or
//! its name and one field's value, or the path of its ancestors' kinds; interned, and its tag
//! id kept in the layer's lock-free table by span id (`span_table`) and in the span's
//! extensions. Entering the span (`on_enter`, at every poll of an instrumented future) then
//! reads the tag from the table (a couple of atomic loads; the extensions, read-locked, only
//! for a span the full table could not hold) and swaps it in as the thread's kind; leaving
//! it (`on_exit`) puts the previous kind back, from a fixed per-thread stack. Neither
//! allocates nor runs user code. The figures are the census's own: this layer counts
//! nothing.
//!
//! A field's value is formatted by its own `Debug`/`Display` (user code) into a buffer on
//! the stack, outside heapy's guard; only the interning that follows is heapy's work.

use core::cell::Cell;
use core::fmt::{self, Write};

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::span_table::SpanTable;
use super::{guard, tags};
use std::sync::Arc;

/// Makes the entered tracing span the kind of what the thread allocates: with it, every
/// `#[tracing::instrument]`ed function (sync or async) is a kind in [`Heap`](crate::Heap)
/// tables, with no change to the function. Nested spans give the innermost span's kind, or
/// the path `outer/inner` with [`KindLayer::path`]; [`KindLayer::field`] names a span by a
/// field's value too (`handle{route=/users}`), so that one function shows per route.
///
/// An async function's span is entered at each poll of its future, on whichever thread
/// polls it, so its kind follows the task from worker to worker as
/// [`InKind`](crate::InKind) does. The kind applies while the span is entered and is
/// restored when it is left. Spans are named when they are made: a field recorded later
/// (`Span::record`) renames the span from its next entry on, and kinds stay interned for the
/// life of the process, so key spans by fields of few values (a route, not a request id).
/// Spans filtered out of this layer (tracing-subscriber's per-layer filters) are not kinds.
///
/// Requires the `tracing` feature (off by default).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// use tracing_subscriber::layer::SubscriberExt;
///
/// #[tracing::instrument]
/// fn load(n: usize) -> Vec<u64> {
///     vec![0; n]
/// }
///
/// let subscriber = tracing_subscriber::registry().with(heapy::KindLayer::new());
/// let v = tracing::subscriber::with_default(subscriber, || load(10));
/// let h = heapy::hpy().heap().filter(|o| o.kind() == "load");
/// assert_eq!((h.count(), h.size()), (1, 80));
/// # drop(v);
/// ```
#[doc(alias("tracing", "span", "instrument", "Layer"))]
#[non_exhaustive]
pub struct KindLayer {
    field: Option<&'static str>,
    path: bool,
    /// Span id → tag, for `on_enter` (the span's extensions keep the same, as a fallback).
    table: Arc<SpanTable>,
}

impl Default for KindLayer {
    fn default() -> KindLayer {
        KindLayer::new()
    }
}

impl Clone for KindLayer {
    /// The same settings, with a table of its own (span ids are per subscriber).
    fn clone(&self) -> KindLayer {
        KindLayer {
            table: guard::internal(|| Arc::new(SpanTable::new())),
            ..*self
        }
    }
}

impl fmt::Debug for KindLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KindLayer")
            .field("field", &self.field)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl KindLayer {
    /// A layer that names each span's allocations by the span's name (for an
    /// `#[instrument]`ed function, the function's name), the innermost span winning.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let subscriber = tracing_subscriber::registry().with(heapy::KindLayer::new());
    /// let v = tracing::subscriber::with_default(subscriber, || {
    ///     let _outer = tracing::info_span!("outer").entered();
    ///     let _inner = tracing::info_span!("inner").entered();
    ///     vec![0u8; 16]
    /// });
    /// assert_eq!(heapy::hpy().heap().filter(|o| o.kind() == "inner").size(), 16);
    /// # drop(v);
    /// ```
    pub fn new() -> KindLayer {
        KindLayer {
            field: None,
            path: false,
            // heapy's own memory (64 KiB).
            table: guard::internal(|| Arc::new(SpanTable::new())),
        }
    }

    /// Names a span that has the field `name` by its name and that field's value, as
    /// tracing's own output writes them: `handle{route=/users}`. Spans without the field
    /// keep their name.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// #[tracing::instrument(skip_all, fields(route = route))]
    /// fn handle(route: &str) -> String {
    ///     format!("page for {route}")
    /// }
    ///
    /// let layer = heapy::KindLayer::new().field("route");
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// let page = tracing::subscriber::with_default(subscriber, || handle("/users"));
    /// let h = heapy::hpy().heap().filter(|o| o.kind() == "handle{route=/users}");
    /// assert_eq!(h.size(), page.capacity());
    /// ```
    pub fn field(mut self, name: &'static str) -> KindLayer {
        self.field = Some(name);
        self
    }

    /// Names each span by the path of the spans it is nested in: `outer/inner` (each part
    /// as [`KindLayer::new`] or [`KindLayer::field`] names it). A span's parent is the one
    /// that was current when it was made (or the one given as its parent).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let subscriber = tracing_subscriber::registry().with(heapy::KindLayer::new().path());
    /// let v = tracing::subscriber::with_default(subscriber, || {
    ///     let _outer = tracing::info_span!("request").entered();
    ///     let _inner = tracing::info_span!("parse").entered();
    ///     vec![0u8; 16]
    /// });
    /// assert_eq!(heapy::hpy().heap().filter(|o| o.kind() == "request/parse").size(), 16);
    /// # drop(v);
    /// ```
    pub fn path(mut self) -> KindLayer {
        self.path = true;
        self
    }

    /// The kind of span `span` with `values`: its label, and its parent's path before it.
    fn name_span<S>(
        &self,
        span: &SpanRef<'_, S>,
        values: Option<&Record<'_>>,
        attrs: Option<&Attributes<'_>>,
    ) -> SpanKind
    where
        S: for<'a> LookupSpan<'a>,
    {
        // User code (the field's Debug or Display) runs here, outside heapy's guard.
        let mut value = FieldValue::new(self.field);
        if let Some(a) = attrs {
            a.record(&mut value);
        }
        if let Some(r) = values {
            r.record(&mut value);
        }
        let parent = if self.path {
            span.parent()
                .and_then(|p| p.extensions().get::<SpanKind>().map(|k| k.text))
        } else {
            None
        };
        let name = span.name();
        guard::internal(|| {
            let mut label = String::new();
            if let Some(p) = parent {
                label.push_str(p);
                label.push('/');
            }
            label.push_str(name);
            if let (Some(field), Some(v)) = (self.field, value.text()) {
                let _ = write!(label, "{{{field}={v}}}");
            }
            let (tag, text) = tags::intern_named(&label);
            SpanKind { tag, text }
        })
    }
}

/// A span's kind, kept in its extensions.
struct SpanKind {
    tag: u32,
    /// The interned name (for the paths of spans made inside it).
    text: &'static str,
}

/// Collects one field's value as text, in a buffer on the stack (cut at `CAP` bytes).
struct FieldValue {
    field: Option<&'static str>,
    buf: [u8; FieldValue::CAP],
    len: usize,
    found: bool,
}

impl FieldValue {
    const CAP: usize = 120;

    fn new(field: Option<&'static str>) -> FieldValue {
        FieldValue {
            field,
            buf: [0; FieldValue::CAP],
            len: 0,
            found: false,
        }
    }

    fn text(&self) -> Option<&str> {
        // Only whole characters are ever copied in (see `write_str`).
        self.found
            .then(|| core::str::from_utf8(&self.buf[..self.len]).unwrap_or(""))
    }
}

impl Write for FieldValue {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = FieldValue::CAP - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl Visit for FieldValue {
    fn record_str(&mut self, field: &Field, value: &str) {
        if Some(field.name()) == self.field {
            self.len = 0;
            self.found = true;
            let _ = self.write_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if Some(field.name()) == self.field {
            self.len = 0;
            self.found = true;
            let _ = write!(self, "{value:?}");
        }
    }
}

/// How many nested entries each thread remembers the previous kind of.
const DEPTH: usize = 32;

/// The spans this thread entered through the layer, innermost last, each with the kind it
/// replaced. `const`, no destructor: usable at any time, thread teardown included.
struct Entered {
    ids: [Cell<u64>; DEPTH],
    prev: [Cell<u32>; DEPTH],
    len: Cell<usize>,
    /// Entries past `DEPTH`: they left the kind as it was, and their exits change nothing.
    deeper: Cell<usize>,
}

thread_local! {
    static ENTERED: Entered = const {
        Entered {
            ids: [const { Cell::new(0) }; DEPTH],
            prev: [const { Cell::new(0) }; DEPTH],
            len: Cell::new(0),
            deeper: Cell::new(0),
        }
    };
}

impl Entered {
    fn enter(&self, id: u64, tag: u32) {
        let n = self.len.get();
        if n == DEPTH {
            self.deeper.set(self.deeper.get() + 1);
            return;
        }
        self.ids[n].set(id);
        self.prev[n].set(tags::replace(tag));
        self.len.set(n + 1);
    }

    fn exit(&self, id: u64) {
        if self.deeper.get() > 0 {
            self.deeper.set(self.deeper.get() - 1);
            return;
        }
        let n = self.len.get();
        let Some(j) = (0..n).rev().find(|&j| self.ids[j].get() == id) else {
            return; // entered before the layer was, or not named by it
        };
        if j == n - 1 {
            // The usual case: the innermost span is left, its kind replaced by the one
            // before it.
            tags::replace(self.prev[j].get());
        } else {
            // A span left before a span entered inside it: the kind stays the inner one's,
            // and leaving that one will go back to what was there before this one.
            self.prev[j + 1].set(self.prev[j].get());
            for k in j + 1..n {
                self.ids[k - 1].set(self.ids[k].get());
                self.prev[k - 1].set(self.prev[k].get());
            }
        }
        self.len.set(n - 1);
    }
}

impl<S> Layer<S> for KindLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let kind = self.name_span(&span, None, Some(attrs));
        self.table.insert(id.into_u64(), kind.tag);
        // The extension's box is heapy's own memory.
        guard::internal(|| span.extensions_mut().replace(kind));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(field) = self.field else { return };
        let Some(span) = ctx.span(id) else { return };
        match span.metadata().fields().field(field) {
            Some(f) if values.contains(&f) => {}
            _ => return,
        }
        let kind = self.name_span(&span, Some(values), None);
        self.table.set(id.into_u64(), kind.tag);
        guard::internal(|| span.extensions_mut().replace(kind));
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let tag = match self.table.get(id.into_u64()) {
            Some(tag) => tag,
            // Not in the table (its probe was full when the span was made).
            None => {
                let Some(span) = ctx.span(id) else { return };
                let Some(tag) = span.extensions().get::<SpanKind>().map(|k| k.tag) else {
                    return;
                };
                tag
            }
        };
        let _ = ENTERED.try_with(|e| e.enter(id.into_u64(), tag));
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        self.table.remove(id.into_u64());
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let _ = ENTERED.try_with(|e| e.exit(id.into_u64()));
    }
}
