//! Symbolization at snapshot time: addresses to demangled functions, files and lines, with
//! inlined frames expanded, cached per address for the life of the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Frame;

type Cache = HashMap<usize, Arc<[Frame]>>;

/// Taken only at snapshot time (never by the allocator path).
static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// The frames at return address `addr`, innermost (inlined) first. Call with the reentrancy
/// flag held: it allocates.
pub(crate) fn frames(addr: usize) -> Arc<[Frame]> {
    if let Some(f) = lock().get_or_insert_with(HashMap::new).get(&addr) {
        return f.clone();
    }
    // Resolve outside the lock: the first resolution reads debug info and takes long.
    let f = resolve(addr);
    lock()
        .get_or_insert_with(HashMap::new)
        .entry(addr)
        .or_insert(f)
        .clone()
}

fn lock() -> std::sync::MutexGuard<'static, Option<Cache>> {
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Drops every cached address (for the symbolization benchmark's cold runs).
pub(crate) fn clear_cache() {
    *lock() = None;
}

fn resolve(addr: usize) -> Arc<[Frame]> {
    let mut out = Vec::new();
    // `resolve` looks up `addr - 1`: a return address's call instruction.
    backtrace::resolve(addr as *mut core::ffi::c_void, |sym| {
        let function = match sym.name() {
            Some(n) => match n.as_str() {
                Some(raw) => format!("{:#}", rustc_demangle::demangle(raw)),
                None => format!("{n:#}"),
            },
            None => format!("{addr:#x}"),
        };
        out.push(Frame {
            function,
            file: sym.filename().map(|p| p.display().to_string()),
            line: sym.lineno(),
        });
    });
    if out.is_empty() {
        out.push(Frame {
            function: format!("{addr:#x}"),
            ..Frame::default()
        });
    }
    out.into()
}
