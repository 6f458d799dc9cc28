//! One object of a snapshot.

use super::meta::Meta;
use super::Obj;

/// One live object of a [`Heap`](crate::Heap): where it is, how big, when and by which
/// thread it was allocated, and its kind.
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// let mark = heapy::hpy().mark();
/// let b = heapy::with_kind("Point", || Box::new((1.0f64, 2.0f64)));
/// let h = mark.heap();
/// let o = h.theone().unwrap();
/// assert_eq!(o.size(), 16);
/// assert_eq!(o.kind(), "Point");
/// assert_eq!(o.address(), &*b as *const _ as usize);
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Object<'h> {
    pub(crate) obj: &'h Obj,
    pub(crate) meta: &'h Meta,
}

impl<'h> Object<'h> {
    /// The address of the object's first byte.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let b = heapy::with_kind("Cell", || Box::new(7u64));
    /// let h = mark.heap();
    /// let o = h.theone().unwrap();
    /// assert_eq!(o.address(), &*b as *const u64 as usize);
    /// # drop(b);
    /// ```
    #[doc(alias("addr", "ptr"))]
    pub fn address(&self) -> usize {
        self.obj.addr
    }

    /// The size the program asked for, in bytes.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let b = heapy::with_kind("Cell", || Box::new(7u64));
    /// let h = mark.heap();
    /// let o = h.theone().unwrap();
    /// assert_eq!(o.size(), 8);
    /// # drop(b);
    /// ```
    pub fn size(&self) -> usize {
        self.obj.size
    }

    /// The allocation serial: process-wide allocation order, unique per object.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let b = heapy::with_kind("Cell", || Box::new(7u64));
    /// let h = mark.heap();
    /// let o = h.theone().unwrap();
    /// let c = Box::new(8u64);
    /// let later = mark.heap().filter(|x| x.address() == &*c as *const u64 as usize);
    /// assert!(later.theone().unwrap().serial() > o.serial());
    /// # drop(c);
    /// # drop(b);
    /// ```
    #[doc(alias("allocation_number"))]
    pub fn serial(&self) -> u64 {
        self.obj.serial
    }

    /// The allocating thread's label: its name, else its OS thread id.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let b = heapy::with_kind("Cell", || Box::new(7u64));
    /// let h = mark.heap();
    /// let o = h.theone().unwrap();
    /// assert_eq!(o.thread(), std::thread::current().name().unwrap_or("main"));
    /// # drop(b);
    /// ```
    pub fn thread(&self) -> &'h str {
        self.meta.thread(self.obj.thread)
    }

    /// The object's kind: its tag, else what its call site says.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let mark = heapy::hpy().mark();
    /// let b = heapy::with_kind("Cell", || Box::new(7u64));
    /// let h = mark.heap();
    /// let o = h.theone().unwrap();
    /// assert_eq!(o.kind(), "Cell");
    /// # drop(b);
    /// ```
    #[doc(alias("type_name"))]
    pub fn kind(&self) -> &'h str {
        self.meta.kind(self.obj.ctx)
    }

    /// Where the object was allocated: `file:line function` of the first frame of the
    /// program's own code (its workspace's crates, not a dependency: see
    /// [`Heap::bysite`](crate::Heap::bysite)), or `<no stack>`.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// fn make() -> Box<u8> {
    ///     Box::new(1)
    /// }
    ///
    /// let mark = heapy::hpy().mark();
    /// let b = make();
    /// let h = mark.heap();
    /// let site = h.theone().unwrap().site();
    /// // `src/lib.rs:29 demo::make`; the file and line need debug info (doctests have none).
    /// assert!(site.ends_with("::make"), "{site}");
    /// # drop(b);
    /// ```
    #[doc(alias("call_site", "location"))]
    pub fn site(&self) -> &'h str {
        self.meta.site(self.obj.ctx)
    }
}

impl core::fmt::Debug for Object<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Object")
            .field("address", &format_args!("{:#x}", self.address()))
            .field("size", &self.size())
            .field("serial", &self.serial())
            .field("thread", &self.thread())
            .field("kind", &self.kind())
            .finish()
    }
}
