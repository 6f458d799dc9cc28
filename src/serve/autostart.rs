//! `HEAPY_SERVE=<addr>`: start a server with no code change, as `HEAPY_MPROF` starts a
//! recorder (`profile::autostart`).
//!
//! A function in the `.init_array` section runs as the program is loaded, before `main`. If
//! the variable is set and not empty, and the census is the global allocator (checked by one
//! small allocation, counted like any other), it starts [`serve`](super::serve) on that
//! address for the rest of the process and says where on stderr
//! (`heapy: serving the heap on http://127.0.0.1:6060/`); an address it cannot listen on is
//! reported there too, and the program runs on. A program that links heapy without
//! installing `Census` (the `heapy` command) serves nothing. Only in builds with the `serve`
//! feature: without it the variable is not read.

use std::sync::Once;

static STARTED: Once = Once::new();

/// Starts the server named by `HEAPY_SERVE` once per process, if there is one.
fn from_env() {
    STARTED.call_once(|| {
        let Some(addr) = std::env::var_os("HEAPY_SERVE").filter(|a| !a.is_empty()) else {
            return;
        };
        drop(std::hint::black_box(Box::new(0u8)));
        if !crate::census::is_installed() {
            return;
        }
        crate::census::guard::internal(|| {
            let Some(addr) = addr.to_str() else {
                eprintln!("heapy: HEAPY_SERVE={addr:?} is not an address");
                return;
            };
            match super::serve(addr) {
                Ok(server) => {
                    eprintln!("heapy: serving the heap on http://{}/", server.addr());
                    // Runs until the process exits.
                    std::mem::forget(server);
                }
                Err(e) => eprintln!("heapy: HEAPY_SERVE: {e}"),
            }
        });
    });
}

mod init {
    extern "C" fn heapy_serve_init() {
        super::from_env();
    }

    /// Runs `heapy_serve_init` at load time, as std itself does for its arguments on ELF.
    #[used]
    #[link_section = ".init_array"]
    static INIT: extern "C" fn() = heapy_serve_init;
}
