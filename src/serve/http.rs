//! The little of HTTP/1.1 the server speaks: a request head read whole (request line and
//! headers, bounded), and a response written whole, each connection closed after one
//! response. No body is read, no chunked encoding, no keep-alive.

use std::fmt::Write as _;

/// The most bytes a request head (request line and headers) may take; more is answered
/// with 431. Go's net/http allows 1 MB, nginx 8 KiB per buffer; a scraper sends a few
/// hundred bytes.
pub(crate) const MAX_HEAD: usize = 8 * 1024;

/// A request's method and target.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub method: Method,
    /// The path, without the query (`/debug/pprof/heap`).
    pub path: String,
    /// The query's `key=value` pairs in order (`?gc=1&by=site`); a key without `=` has an
    /// empty value. Not percent-decoded: heapy's own parameters are plain words.
    pub query: Vec<(String, String)>,
}

impl Request {
    /// The value of the first query parameter `key`.
    pub(crate) fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The methods the server answers; any other is a 405.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    /// GET without the body (RFC 9110 asks every server for it; `curl -I` sends it).
    Head,
    /// Any other method: its name, for the 405's message.
    Other,
}

/// What reading a head gave so far.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Head {
    /// The head has not ended yet: read more.
    Partial,
    /// A whole head, parsed.
    Done(Request),
    /// A whole head that is not a request heapy understands: answer with this status and
    /// message, then close.
    Bad(u16, String),
}

/// Parses the bytes read so far from a connection. A head ends at an empty line
/// (`\r\n\r\n`, or `\n\n` from a lenient client).
pub(crate) fn parse(buf: &[u8]) -> Head {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n"));
    let Some(end) = end else {
        return if buf.len() >= MAX_HEAD {
            Head::Bad(
                431,
                format!("the request head is longer than {MAX_HEAD} bytes"),
            )
        } else {
            Head::Partial
        };
    };
    if end > MAX_HEAD {
        return Head::Bad(
            431,
            format!("the request head is longer than {MAX_HEAD} bytes"),
        );
    }
    let Ok(head) = std::str::from_utf8(&buf[..end]) else {
        return Head::Bad(400, "the request head is not UTF-8".into());
    };
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Head::Bad(400, format!("not an HTTP request line: {line:?}"));
    };
    if !version.starts_with("HTTP/1.") {
        return Head::Bad(505, format!("heapy speaks HTTP/1.1, not {version:?}"));
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => Method::Other,
    };
    // An absolute-form target (`http://host:port/path`, sent to proxies) names the same path.
    let target = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    if !target.starts_with('/') {
        return Head::Bad(400, format!("not a path: {target:?}"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    Head::Done(Request {
        method,
        path: path.to_owned(),
        query,
    })
}

/// A response, written whole.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// Extra header lines, each without its line end (`Allow: GET, HEAD`).
    pub headers: Vec<String>,
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text response.
    pub(crate) fn text(status: u16, body: impl Into<String>) -> Response {
        let mut body: String = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.into_bytes(),
        }
    }

    /// Adds a header line.
    pub(crate) fn with_header(mut self, line: String) -> Response {
        self.headers.push(line);
        self
    }

    /// The bytes to send: status line, headers (`Connection: close`, the length), body
    /// (none for a HEAD request).
    pub(crate) fn encode(self, head_only: bool) -> Vec<u8> {
        let mut head = String::with_capacity(256);
        let _ = write!(
            head,
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for h in &self.headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if !head_only {
            out.reserve_exact(self.body.len());
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// The reason phrase of the statuses the server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(buf: &str) -> Request {
        match parse(buf.as_bytes()) {
            Head::Done(r) => r,
            other => panic!("{buf:?}: {other:?}"),
        }
    }

    #[test]
    fn a_request_line_with_its_query() {
        let r = done("GET /heap?by=site&gc=1&flag HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, "/heap");
        assert_eq!(r.param("by"), Some("site"));
        assert_eq!(r.param("gc"), Some("1"));
        assert_eq!(r.param("flag"), Some(""));
        assert_eq!(r.param("seconds"), None);
        assert_eq!(done("HEAD / HTTP/1.0\n\n").method, Method::Head);
        assert_eq!(done("DELETE / HTTP/1.1\r\n\r\n").method, Method::Other);
        assert_eq!(done("GET http://h:1/stats HTTP/1.1\r\n\r\n").path, "/stats");
        assert_eq!(done("GET http://h:1 HTTP/1.1\r\n\r\n").path, "/");
    }

    #[test]
    fn a_head_not_ended_asks_for_more_until_the_limit() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Head::Partial);
        assert_eq!(parse(b""), Head::Partial);
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert!(matches!(parse(long.as_bytes()), Head::Bad(431, _)));
        let ended = format!("{long}\r\n\r\n");
        assert!(matches!(parse(ended.as_bytes()), Head::Bad(431, _)));
    }

    #[test]
    fn bad_heads_get_a_status_and_a_reason() {
        let bad = |s: &[u8]| match parse(s) {
            Head::Bad(status, msg) => (status, msg),
            other => panic!("{other:?}"),
        };
        assert_eq!(bad(b"GET /\r\n\r\n").0, 400);
        assert_eq!(bad(b"GET / HTTP/1.1 extra\r\n\r\n").0, 400);
        assert_eq!(bad(b"GET / SPDY/3\r\n\r\n").0, 505);
        assert_eq!(bad(b"GET / HTTP/2.0\r\n\r\n").0, 505);
        assert_eq!(bad(b"GET * HTTP/1.1\r\n\r\n").0, 400);
        assert_eq!(bad(b"GET /\xff HTTP/1.1\r\n\r\n").0, 400);
        assert!(bad(b"\x16\x03\x01\n\n")
            .1
            .contains("not an HTTP request line"));
    }

    #[test]
    fn responses_say_their_length_and_close() {
        let r = Response::text(404, "no such page").with_header("X-A: b".into());
        let bytes = String::from_utf8(r.encode(false)).unwrap();
        assert!(bytes.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(bytes.contains("\r\nContent-Length: 13\r\n"));
        assert!(bytes.contains("\r\nConnection: close\r\n"));
        assert!(bytes.contains("\r\nX-A: b\r\n\r\nno such page\n"));
        let head = String::from_utf8(Response::text(200, "abc").encode(true)).unwrap();
        assert!(head.ends_with(
            "Content-Length: 4\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n"
        ));
    }
}
