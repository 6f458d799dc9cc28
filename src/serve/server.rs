//! The server's thread: one `poll(2)` loop over the listening socket, a wake-up socket (the
//! handle's way to stop it) and the open connections, all non-blocking.
//!
//! Bounds, so that no client can make the program crash, hang, or hold more than a little:
//! at most [`MAX_CONNECTIONS`] connections open (one more is answered 503 and closed at
//! once), a request head within [`READ_TIMEOUT`] and [`MAX_HEAD`] bytes (else 408 or 431), a
//! response sent within [`WRITE_TIMEOUT`] (else the connection is dropped), one request per
//! connection. Requests are answered one at a time on this thread, so two snapshots are
//! never built at once; while a heavy response (one that took a snapshot) is still being
//! sent, another heavy request is answered 503 with `Retry-After: 1`, so at most one such
//! response is held in memory.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::endpoints;
use super::http::{self, Head, Method, Response, MAX_HEAD};

/// The most connections open at once.
pub(crate) const MAX_CONNECTIONS: usize = 8;
/// How long a client has to send its request head, from the connection's acceptance.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client has to take the whole response, from when it is ready (a 37 MB
/// snapshot of 1M objects needs 60 s at 5 Mbit/s).
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the listener is left alone after `accept` failed for want of resources (out of
/// file descriptors): the loop would otherwise spin on a listener that stays readable.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// The most connections accepted in one turn of the loop.
const ACCEPT_BATCH: usize = 64;

struct Conn {
    stream: TcpStream,
    deadline: Instant,
    state: State,
}

enum State {
    /// Reading the request head: the bytes so far.
    Reading(Vec<u8>),
    /// Sending the response: its bytes, how many are sent, whether a snapshot made it.
    Writing {
        out: Vec<u8>,
        at: usize,
        heavy: bool,
    },
    /// Done (answered, failed or timed out): closed at the end of the turn.
    Closed,
}

/// Serves `listener` (non-blocking) until `wake` is readable or closed. Call it as heapy's
/// own work (under the reentrancy guard).
pub(crate) fn run(listener: TcpListener, wake: UnixStream) {
    let mut conns: Vec<Conn> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    let mut paused_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if paused_until.is_some_and(|t| t <= now) {
            paused_until = None;
        }
        fds.clear();
        let fd = |fd: i32, events: i16| libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        fds.push(fd(wake.as_raw_fd(), libc::POLLIN));
        // A negative descriptor is skipped by poll: the listener while accepting is paused.
        let lfd = if paused_until.is_some() {
            -1
        } else {
            listener.as_raw_fd()
        };
        fds.push(fd(lfd, libc::POLLIN));
        for c in &conns {
            let events = match c.state {
                State::Reading(_) => libc::POLLIN,
                _ => libc::POLLOUT,
            };
            fds.push(fd(c.stream.as_raw_fd(), events));
        }
        let next = conns
            .iter()
            .map(|c| c.deadline)
            .chain(paused_until)
            .min()
            .map(|t| t.saturating_duration_since(now));
        // Rounded up, so a deadline is past when poll returns.
        let timeout = next.map_or(-1, |d| d.as_millis().saturating_add(1).min(60_000) as i32);
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs, borrowed mutably for
        // the call only; every descriptor in it belongs to an object alive meanwhile.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            // EINTR (the object graph's stop signal reaches this thread too) or a transient
            // failure: look again.
            continue;
        }
        if fds[0].revents != 0 {
            // A byte from `Server::stop`, or the handle's end closed.
            break;
        }
        let mut spent = Duration::ZERO;
        for k in 0..conns.len() {
            if fds[k + 2].revents == 0 {
                continue;
            }
            let busy = conns
                .iter()
                .any(|c| matches!(c.state, State::Writing { heavy: true, .. }));
            spent += progress(&mut conns[k], busy);
        }
        // Answered connections are closed before new ones are counted against the limit.
        conns.retain(|c| !matches!(c.state, State::Closed));
        if fds[1].revents != 0 {
            if let Err(pause) = accept(&listener, &mut conns) {
                paused_until = Some(Instant::now() + pause);
            }
        }
        // The time spent answering (a snapshot may take seconds) is not the other clients'
        // fault: their deadlines move by as much.
        let now = Instant::now();
        for c in &mut conns {
            c.deadline += spent;
            if c.deadline <= now {
                expire(c);
            }
        }
        conns.retain(|c| !matches!(c.state, State::Closed));
    }
}

/// Accepts what is waiting (at most [`ACCEPT_BATCH`]); `Err` with a pause when `accept`
/// fails for want of resources.
fn accept(listener: &TcpListener, conns: &mut Vec<Conn>) -> Result<(), Duration> {
    for _ in 0..ACCEPT_BATCH {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // ECONNABORTED and the like: that client is gone; out of descriptors or
            // memory: leave the listener alone for a moment.
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => continue,
            Err(_) => return Err(ACCEPT_PAUSE),
        };
        if stream.set_nonblocking(true).is_err() {
            continue;
        }
        if conns.len() >= MAX_CONNECTIONS {
            // Refused at once: the answer fits in the socket's buffer, so a non-blocking
            // write sends it or nothing (a client that cannot take it is gone anyway).
            let r = Response::text(
                503,
                format!(
                    "heapy serves at most {MAX_CONNECTIONS} connections at once; retry in a moment"
                ),
            )
            .with_header("Retry-After: 1".into());
            drain(&stream);
            let _ = (&stream).write(&r.encode(false));
            let _ = stream.shutdown(Shutdown::Write);
            continue;
        }
        conns.push(Conn {
            stream,
            deadline: Instant::now() + READ_TIMEOUT,
            state: State::Reading(Vec::new()),
        });
    }
    Ok(())
}

/// Reads or writes what the connection allows now; answers a whole request. Returns the time
/// spent building an answer.
fn progress(c: &mut Conn, busy: bool) -> Duration {
    let mut spent = Duration::ZERO;
    if let State::Reading(buf) = &mut c.state {
        let mut chunk = [0u8; 4096];
        let head = loop {
            match (&c.stream).read(&mut chunk) {
                // The client closed (or half-closed) before its head ended: nothing to answer.
                Ok(0) => {
                    c.state = State::Closed;
                    return spent;
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    match http::parse(buf) {
                        Head::Partial => continue,
                        head => break head,
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return spent,
                Err(_) => {
                    c.state = State::Closed;
                    return spent;
                }
            }
        };
        let (out, heavy) = match head {
            Head::Done(req) => {
                let t = Instant::now();
                let a = endpoints::answer(&req, busy);
                spent = t.elapsed();
                (a.response.encode(req.method == Method::Head), a.heavy)
            }
            Head::Bad(status, msg) => (Response::text(status, msg).encode(false), false),
            // Not reached: the loop above reads until the head is whole.
            Head::Partial => return spent,
        };
        c.state = State::Writing { out, at: 0, heavy };
        c.deadline = Instant::now() + WRITE_TIMEOUT;
    }
    if let State::Writing { out, at, .. } = &mut c.state {
        while *at < out.len() {
            match (&c.stream).write(&out[*at..]) {
                Ok(0) => break,
                Ok(n) => *at += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return spent,
                Err(_) => break,
            }
        }
        drain(&c.stream);
        let _ = c.stream.shutdown(Shutdown::Write);
        c.state = State::Closed;
    }
    spent
}

/// A connection past its deadline: a client that has not sent its head is told so (best
/// effort), one that does not take its response is dropped.
fn expire(c: &mut Conn) {
    if let State::Reading(_) = c.state {
        let r = Response::text(
            408,
            format!("no whole request within {} s", READ_TIMEOUT.as_secs()),
        );
        drain(&c.stream);
        let _ = (&c.stream).write(&r.encode(false));
        let _ = c.stream.shutdown(Shutdown::Write);
    }
    c.state = State::Closed;
}

/// Reads and drops what the client sent and nobody read (at most [`MAX_HEAD`] bytes, without
/// waiting): a socket closed with unread bytes is reset, and the reset could reach the client
/// before the answer does.
fn drain(stream: &TcpStream) {
    let mut sink = [0u8; 1024];
    let mut left = MAX_HEAD;
    while left > 0 {
        match (&*stream).read(&mut sink) {
            Ok(n) if n > 0 => left = left.saturating_sub(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            _ => break,
        }
    }
}
