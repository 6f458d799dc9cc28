//! Loaded modules: their writable segments (statics) and static thread-local blocks, from
//! `dl_iterate_phdr`.

use std::ffi::CStr;

use super::regs::thread_pointer;

/// A writable loaded segment: the statics (`.data`, `.bss`, relocated data) of one module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub start: usize,
    pub end: usize,
    /// The module's path, empty for the main program.
    pub module: String,
}

/// A module's static thread-local block: at `thread pointer + offset`, `size` bytes long,
/// in every thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TlsBlock {
    pub offset: isize,
    pub size: usize,
}

/// Static TLS lies within this distance of the thread pointer; a module whose block for the
/// calling thread is farther away has a dynamically allocated block, whose place in other
/// threads is not known.
const STATIC_TLS_SPAN: isize = 16 << 20;

#[derive(Default)]
struct Found {
    segments: Vec<Segment>,
    tls: Vec<TlsBlock>,
    tp: usize,
}

/// Every writable loaded segment, and the static TLS blocks (offsets from the thread
/// pointer, taken from the calling thread). Allocates: call with the reentrancy flag held.
pub(crate) fn loaded() -> (Vec<Segment>, Vec<TlsBlock>) {
    let mut found = Found {
        tp: thread_pointer(),
        ..Found::default()
    };
    // SAFETY: the callback only reads the `dl_phdr_info` the loader passes for the duration
    // of the call, and `data` is the `Found` we own for the whole call.
    unsafe {
        libc::dl_iterate_phdr(Some(each), (&mut found as *mut Found).cast());
    }
    (found.segments, found.tls)
}

unsafe extern "C" fn each(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: `dl_iterate_phdr` passes a valid info for this call and our `Found`.
    let (info, found) = unsafe { (&*info, &mut *data.cast::<Found>()) };
    let module = if info.dlpi_name.is_null() {
        String::new()
    } else {
        // SAFETY: a non-null dlpi_name is a NUL-terminated string owned by the loader.
        unsafe { CStr::from_ptr(info.dlpi_name) }
            .to_string_lossy()
            .into_owned()
    };
    let phdrs: &[libc::Elf64_Phdr] = if info.dlpi_phdr.is_null() {
        &[]
    } else {
        // SAFETY: the loader gives `dlpi_phnum` program headers at `dlpi_phdr`.
        unsafe { core::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) }
    };
    for ph in phdrs {
        if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_W != 0 && ph.p_memsz > 0 {
            let start = (info.dlpi_addr as usize).wrapping_add(ph.p_vaddr as usize);
            found.segments.push(Segment {
                start,
                end: start.wrapping_add(ph.p_memsz as usize),
                module: module.clone(),
            });
        }
        if ph.p_type == libc::PT_TLS && ph.p_memsz > 0 && !info.dlpi_tls_data.is_null() {
            let offset = (info.dlpi_tls_data as isize).wrapping_sub(found.tp as isize);
            if found.tp != 0 && offset.abs() <= STATIC_TLS_SPAN {
                found.tls.push(TlsBlock {
                    offset,
                    size: ph.p_memsz as usize,
                });
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    static MARKER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(7);

    thread_local! {
        static LOCAL: core::cell::Cell<usize> = const { core::cell::Cell::new(3) };
    }

    #[test]
    fn finds_our_statics_and_thread_locals() {
        let (segs, tls) = loaded();
        let m = &MARKER as *const _ as usize;
        assert!(segs.iter().any(|s| s.start <= m && m < s.end), "{segs:x?}");
        let l = LOCAL.with(|c| c as *const _ as usize);
        let tp = thread_pointer() as isize;
        assert!(
            tls.iter().any(|b| {
                let start = (tp + b.offset) as usize;
                start <= l && l < start + b.size
            }),
            "{tls:?} {l:#x} {tp:#x}"
        );
    }
}
