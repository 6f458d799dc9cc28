//! Symbolization at snapshot time: addresses to demangled functions, files and lines, with
//! inlined frames expanded, cached per address (`cache.rs`).

use std::sync::Arc;

use super::cache::caches;
use super::Frame;

/// The frames at return address `addr`, innermost (inlined) first. Call with the reentrancy
/// flag held: it allocates. A fork-safe section (`sys::fork`): neither the cache's shard
/// locks nor the `backtrace` crate's lock is held across a `fork()`.
pub(crate) fn frames(addr: usize) -> Arc<[Frame]> {
    crate::sys::fork::section(|| {
        let symbols = &caches().symbols;
        if let Some(f) = symbols.get(&addr).map(|f| Arc::clone(&f)) {
            return f;
        }
        // Resolved with no shard locked: the first resolution reads debug info and takes
        // long.
        let f = resolve(addr);
        Arc::clone(&symbols.entry(addr).or_insert(f))
    })
}

/// Releases the `backtrace` crate's parsed debug info (its cache of the program's and
/// libraries' DWARF, the bulk of what the first resolution leaves resident). Frames heapy has
/// already resolved stay cached; a later snapshot with new stacks parses the debug info again.
/// Call with the reentrancy flag held.
pub(crate) fn release_debug_info() {
    // A fork-safe section (`sys::fork`): it takes the `backtrace` crate's lock.
    crate::sys::fork::section(backtrace::clear_symbol_cache);
    // The parsed DWARF lived in many small malloc blocks; glibc keeps freed memory in its
    // arenas unless asked to hand whole free pages back.
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim has no preconditions; it takes the allocator's own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn resolve(addr: usize) -> Arc<[Frame]> {
    let mut raw: Vec<(String, Option<String>, Option<u32>)> = Vec::new();
    // `resolve` looks up `addr - 1`: a return address's call instruction. It holds the
    // `backtrace` crate's global lock, so the callback only copies the raw symbol out.
    backtrace::resolve(addr as *mut core::ffi::c_void, |sym| {
        let function = match sym.name() {
            Some(n) => match n.as_str() {
                Some(raw) => raw.to_string(),
                None => format!("{n:#}"),
            },
            None => format!("{addr:#x}"),
        };
        raw.push((
            function,
            sym.filename().map(|p| p.display().to_string()),
            sym.lineno(),
        ));
    });
    // Demangled after the lock, where threads resolving at once overlap (a name that is not
    // mangled comes back as it is); the file made relative once, here, for every stack the
    // address appears in.
    let mut out: Vec<Frame> = raw
        .into_iter()
        .map(|(function, file, line)| {
            let function = format!("{:#}", rustc_demangle::demangle(&function));
            Frame::new(function, file.as_deref().map(short_path), line)
        })
        .collect();
    if out.is_empty() {
        out.push(Frame::new(format!("{addr:#x}"), None, None));
    }
    out.into()
}

/// A source path relative to the current directory (as it was at the first snapshot) when
/// it lies below it.
fn short_path(p: &str) -> String {
    static CWD: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    if let Some(cwd) = CWD.get_or_init(|| std::env::current_dir().ok()) {
        if let Ok(rest) = std::path::Path::new(p).strip_prefix(cwd) {
            return rest.display().to_string();
        }
    }
    p.to_string()
}
