//! Other processes' memory, from /proc (Linux): RSS and descendants.

use std::collections::HashMap;

/// Resident bytes of process `pid`, or `None` if it is gone (or a zombie) or the system does
/// not tell.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // A process that has exited but not been reaped (a zombie) reads as 0: it is gone.
    (pages > 0).then(|| pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Every descendant of `pid` alive now (children, their children, ...).
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for e in dir.filter_map(|e| e.ok()) {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The command name is in parentheses and may hold spaces: the parent id is the
        // second field after the last ')'.
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        children.entry(ppid).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            out.push(c);
            todo.push(c);
        }
    }
    out.sort_unstable();
    out
}
