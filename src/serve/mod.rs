//! `heapy::serve`: heap profiles from a running program over HTTP, where `go tool pprof`,
//! Pyroscope and Parca can fetch them (feature `serve`).
//!
//! One thread of heapy's own runs a small HTTP/1.1 server (`server`, over std's sockets and
//! `poll(2)`); `endpoints` says what each path answers; `http` reads request heads and
//! writes responses; `autostart` starts a server from `HEAPY_SERVE` before `main`.
//!
//! Why not a crate such as tiny_http: its server runs its own threads (an acceptor, and a
//! pool that grows with the connections), whose allocations heapy could not keep out of
//! the census and whose number no limit here would bound, and it sets no timeout on a
//! client that never finishes its request. The little HTTP heapy needs (one GET, one
//! response, then close) is 200 lines over std, bounded everywhere.

mod autostart;
mod endpoints;
mod http;
mod server;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::net::UnixStream;

use crate::census::guard;
use crate::{sys, Error, Result};

/// Serves this process's heap over HTTP on `addr` (`"127.0.0.1:6060"`; port 0 picks a free
/// port, which [`Server::addr`] tells), from one background thread, until the returned
/// [`Server`] is dropped or [stopped](Server::stop). Feature `serve`.
///
/// | path | answer |
/// | --- | --- |
/// | `GET /debug/pprof/heap` | the heap as a gzip'd pprof profile, as Go's `net/http/pprof` serves it ([`Heap::pprof_bytes`](crate::Heap::pprof_bytes)): Go's four sample types `alloc_objects`, `alloc_space`, `inuse_objects`, `inuse_space` when the census keeps history (the default), `inuse_*` otherwise; Go's parameters (`?gc=1`, `?seconds=`, `?debug=`) are ignored |
/// | `GET /heap?by=kind\|site\|size\|thread\|id` | guppy's table as text; `&all=1` for every row; `&alloc=1` every block allocated since the start ([`Hpy::allocations`](crate::Hpy::allocations)), `&peak=1` the heap at its peak ([`Hpy::at_peak`](crate::Hpy::at_peak)), by kind or site |
/// | `GET /stats` | [`Stats`](crate::Stats) as JSON |
/// | `GET /snapshot` | a snapshot file ([`Heap::dump`](crate::Heap::dump)'s), for `heapy view` |
/// | `GET /report` | the interactive HTML report of the heap (`Heap::report_html`) in a build with the `report` feature too; else 404 saying so |
/// | `GET /` | the list |
///
/// The heap is [`hpy().heap()`](crate::Hpy::heap): every live object (after the reference
/// point, if the program set one with [`Hpy::setrelheap`](crate::Hpy::setrelheap)).
///
/// Safe to leave on: the server listens only where it is told (bind to `127.0.0.1` unless
/// the profiles, which name the program's functions and files, should reach other hosts;
/// there is no authentication); its thread's work is heapy's own, so nothing it allocates
/// shows in the census; a snapshot takes no lock that the program's allocations wait for.
/// Bad requests get 400, 404, 405, 408 or 431; at most 8 connections are open at once
/// (more get 503), a client has 5 s to send its request and 60 s to take the answer;
/// requests are answered one at a time, and a heavy one (a snapshot) while another heavy
/// answer is still being sent gets 503. `HEAPY_SERVE=127.0.0.1:6060` starts a server
/// before `main` in a program built with this feature that installs the census.
///
/// Errors: [`Error::Serve`] when `addr` is not an address, or cannot be listened on (in
/// use, not this host's, no permission).
///
/// ```
/// #[global_allocator]
/// static CENSUS: heapy::Census = heapy::Census::new();
///
/// use std::io::{Read, Write};
///
/// let server = heapy::serve("127.0.0.1:0").unwrap();
/// let mut c = std::net::TcpStream::connect(server.addr()).unwrap();
/// c.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
/// let mut answer = String::new();
/// c.read_to_string(&mut answer).unwrap();
/// assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(answer.contains("\"live_bytes\":"));
/// drop(server); // stops it
/// assert!(heapy::serve("no address").is_err());
/// ```
#[doc(alias("pprof", "http", "endpoint", "pyroscope", "parca"))]
pub fn serve(addr: &str) -> Result<Server> {
    guard::internal(|| {
        let failed = |source| Error::Serve {
            addr: addr.to_owned(),
            source,
        };
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(failed)?.collect();
        let listener = TcpListener::bind(&addrs[..]).map_err(failed)?;
        listener.set_nonblocking(true).map_err(failed)?;
        let local = listener.local_addr().map_err(failed)?;
        let (ours, theirs) = UnixStream::pair().map_err(failed)?;
        let thread = sys::spawn_own(
            c"heapy-serve",
            Box::new(move || {
                // The whole thread is heapy's own: nothing it allocates is counted, and a
                // pointer scan reads none of its frames.
                guard::internal(|| server::run(listener, theirs));
            }),
        )
        .map_err(failed)?;
        Ok(Server {
            addr: local,
            wake: Some(ours),
            thread: Some(thread),
            generation: sys::fork::generation(),
        })
    })
}

/// A running server (see [`serve`]); dropping it stops the server and closes its port.
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let server = heapy::serve("127.0.0.1:0").unwrap();
/// let addr = server.addr();
/// server.stop();
/// assert!(std::net::TcpStream::connect(addr).is_err()); // the port is closed
/// ```
#[must_use = "the server stops when dropped"]
pub struct Server {
    addr: SocketAddr,
    /// Writing a byte (or closing it) ends the server's loop.
    wake: Option<UnixStream>,
    thread: Option<sys::OwnThread>,
    /// The process that started it (`sys::fork::generation`): in a child of `fork()` the
    /// thread does not exist and the sockets are shared with the parent.
    generation: u32,
}

impl Server {
    /// The address the server listens on (with the port chosen when 0 was asked).
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let server = heapy::serve("127.0.0.1:0").unwrap();
    /// assert!(server.addr().ip().is_loopback());
    /// assert_ne!(server.addr().port(), 0);
    /// println!("go tool pprof http://{}/debug/pprof/heap", server.addr());
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits for its thread to end: a request being answered is
    /// finished first, responses still being sent are cut. The port is closed on return.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// heapy::serve("127.0.0.1:0").unwrap().stop();
    /// ```
    pub fn stop(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        guard::internal(|| {
            if self.generation != sys::fork::generation() {
                // Inherited through `fork()`: the thread is the parent's, and a byte written
                // to the wake-up socket would stop the parent's server. Let both go.
                core::mem::forget(self.wake.take());
                // A handle never joined leaves its thread alone (`OwnThread` has no `Drop`).
                self.thread = None;
                return;
            }
            if let Some(wake) = self.wake.take() {
                use std::io::Write;
                let _ = (&wake).write(&[1]);
                drop(wake);
            }
            if let Some(t) = self.thread.take() {
                t.join();
            }
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.finish();
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("running", &self.thread.is_some())
            .finish()
    }
}
