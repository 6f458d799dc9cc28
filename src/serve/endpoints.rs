//! What each path answers. Everything here runs on the server's thread, as heapy's own work
//! (under the reentrancy guard): the snapshots, tables and files it makes are not counted.

use super::http::{Method, Request, Response};
use crate::{hpy, By, Heap};

/// The paths, for the index page and the 404's message.
const INDEX: &str = "\
/debug/pprof/heap    the heap as a pprof profile (gzip'd profile.proto), as Go serves it:
                     go tool pprof http://HOST/debug/pprof/heap
/heap?by=VIEW        the heap as guppy's table; VIEW is kind (default), site, size, thread
                     or id; &all=1 prints every row; &alloc=1: every block allocated
                     since the start, &peak=1: the heap at its peak (by kind or site)
/stats               the census's counters (JSON)
/snapshot            a snapshot file (JSON), for `heapy view FILE` and `heapy diff`
/report              the interactive HTML report (with heapy's `report` feature)
";

/// A request's answer, and whether building it took a snapshot (the heavy paths: at most one
/// such response is in flight at a time).
pub(crate) struct Answer {
    pub response: Response,
    pub heavy: bool,
}

/// Whether `path` builds a snapshot of the heap to answer.
pub(crate) fn is_heavy(path: &str) -> bool {
    matches!(
        path,
        "/debug/pprof/heap" | "/heap" | "/snapshot" | "/report"
    )
}

/// Answers `req`. `busy`: a heavy response is still being sent to another client, so a heavy
/// request is refused with 503 (the client may retry) rather than building a second one.
pub(crate) fn answer(req: &Request, busy: bool) -> Answer {
    let light = |response| Answer {
        response,
        heavy: false,
    };
    if req.method == Method::Other {
        return light(
            Response::text(405, "heapy's endpoints answer GET (and HEAD) only")
                .with_header("Allow: GET, HEAD".into()),
        );
    }
    let heavy = is_heavy(&req.path);
    if heavy && busy {
        return light(
            Response::text(
                503,
                "heapy is still sending another heap profile; retry in a moment",
            )
            .with_header("Retry-After: 1".into()),
        );
    }
    let response = match req.path.as_str() {
        "/" => Response::text(
            200,
            format!(
                "heapy: the heap of process {}\n\n{INDEX}",
                std::process::id()
            ),
        ),
        "/debug/pprof/heap" => pprof(&hpy().heap()),
        "/heap" => table(req),
        "/stats" => stats(),
        "/snapshot" => snapshot(&hpy().heap()),
        "/report" => report(),
        other => Response::text(
            404,
            format!("no page {other:?} here; heapy serves:\n\n{INDEX}"),
        ),
    };
    Answer { response, heavy }
}

/// A failure of heapy's own (an encoder's error): 500 with its message.
fn failed(what: &str, e: crate::Error) -> Response {
    Response::text(500, format!("heapy could not build the {what}: {e}"))
}

/// `GET /debug/pprof/heap`. Go's parameters (`gc=1`, `seconds=N`, `debug=N`) are ignored:
/// the profile is always the heap now, as profile.proto.
///
/// The one place the server makes a pprof profile: the export decides the sample types
/// (Go's four, `alloc_objects`, `alloc_space`, `inuse_objects`, `inuse_space`, when the
/// heap carries the census's history; `inuse_*` alone otherwise), so the server serves
/// whatever `Heap::pprof_bytes` writes.
fn pprof(h: &Heap) -> Response {
    match h.pprof_bytes() {
        Ok(body) => Response {
            status: 200,
            content_type: "application/octet-stream",
            headers: vec!["Content-Disposition: attachment; filename=\"heap.pb.gz\"".into()],
            body,
        },
        Err(e) => failed("pprof profile", e),
    }
}

/// Whether the flag parameter `key` is on (`&all`, `&all=1`; not `&all=0` or `&all=false`).
fn flag(req: &Request, key: &str) -> bool {
    req.param(key).is_some_and(|v| v != "0" && v != "false")
}

/// `GET /heap?by=VIEW[&all=1][&alloc=1|&peak=1]`: guppy's table, ten rows unless `all` is
/// given; with `alloc`, every block allocated since the start ([`Hpy::allocations`]), with
/// `peak` the heap at its peak ([`Hpy::at_peak`]), by kind or site (as `heapy view --alloc`
/// and `--peak`).
///
/// [`Hpy::allocations`]: crate::Hpy::allocations
/// [`Hpy::at_peak`]: crate::Hpy::at_peak
fn table(req: &Request) -> Response {
    let by = match req.param("by").filter(|v| !v.is_empty()) {
        None => By::Kind,
        Some(v) => match v.parse::<By>() {
            Ok(by) => by,
            Err(e) => return Response::text(400, format!("{e} (as in /heap?by=site)")),
        },
    };
    let all = flag(req, "all");
    let text = match (flag(req, "alloc"), flag(req, "peak")) {
        (true, true) => return Response::text(400, "ask for alloc or for peak, not both"),
        (false, false) => {
            let h = hpy().heap().by(by);
            if all {
                h.all().to_string()
            } else {
                h.to_string()
            }
        }
        (alloc, _) => {
            let hist = if alloc {
                hpy().allocations()
            } else {
                hpy().at_peak()
            };
            let hist = match by {
                By::Kind => hist.bykind(),
                By::Site => hist.bysite(),
                other => {
                    return Response::text(
                        400,
                        format!(
                            "the allocation history groups by kind or site, not by {}",
                            other.name()
                        ),
                    )
                }
            };
            if all {
                hist.all().to_string()
            } else {
                hist.to_string()
            }
        }
    };
    // The library's hint names a method; a reader of this page adds a parameter.
    Response::text(
        200,
        text.replace("Type e.g. '.more()' to view.>", "Add &all=1 to view.>"),
    )
}

/// `GET /stats`: [`Stats`](crate::Stats) as JSON.
fn stats() -> Response {
    match serde_json::to_vec(&hpy().stats()) {
        Ok(body) => Response {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            body,
        },
        Err(e) => failed(
            "counters",
            crate::Error::Encode {
                what: "counters",
                source: e.into(),
            },
        ),
    }
}

/// `GET /snapshot`: the file [`Heap::dump`] writes.
fn snapshot(h: &Heap) -> Response {
    match h.snapshot_bytes() {
        Ok(body) => Response {
            status: 200,
            content_type: "application/json",
            headers: vec!["Content-Disposition: attachment; filename=\"heap.json\"".into()],
            body,
        },
        Err(e) => failed("snapshot", e),
    }
}

/// `GET /report`: the interactive HTML report of the heap now ([`Heap::report_html`], feature
/// `report`).
///
/// [`Heap::report_html`]: crate::Heap::report_html
#[cfg(feature = "report")]
fn report() -> Response {
    Response {
        status: 200,
        content_type: "text/html; charset=utf-8",
        headers: Vec::new(),
        body: hpy().heap().report_html().into_bytes(),
    }
}

/// `GET /report` in a build without the `report` feature (`serve` does not turn it on): 404,
/// saying why.
#[cfg(not(feature = "report"))]
fn report() -> Response {
    Response::text(
        404,
        "the HTML report is not available: this heapy was built without its `report` feature \
         (use /heap, /snapshot or /debug/pprof/heap)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::http::{parse, Head};

    fn req(s: &str) -> Request {
        match parse(s.as_bytes()) {
            Head::Done(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn methods_paths_and_the_busy_refusal() {
        let a = answer(&req("POST /heap HTTP/1.1\r\n\r\n"), false);
        assert_eq!(a.response.status, 405);
        assert!(a.response.headers.contains(&"Allow: GET, HEAD".to_string()));
        let a = answer(&req("GET /nope HTTP/1.1\r\n\r\n"), false);
        assert_eq!(a.response.status, 404);
        assert!(String::from_utf8_lossy(&a.response.body).contains("/debug/pprof/heap"));
        for path in ["/debug/pprof/heap", "/heap", "/snapshot", "/report"] {
            let a = answer(&req(&format!("GET {path} HTTP/1.1\r\n\r\n")), true);
            assert_eq!((a.response.status, a.heavy), (503, false), "{path}");
        }
        // Light pages are answered while a heavy one is in flight.
        let a = answer(&req("GET /stats HTTP/1.1\r\n\r\n"), true);
        assert_eq!(a.response.status, 200);
        let a = answer(&req("GET /heap?by=colour HTTP/1.1\r\n\r\n"), false);
        assert_eq!(a.response.status, 400);
        assert!(String::from_utf8_lossy(&a.response.body).contains("unknown view 'colour'"));
        #[cfg(not(feature = "report"))]
        {
            let a = answer(&req("GET /report HTTP/1.1\r\n\r\n"), false);
            assert_eq!(a.response.status, 404);
            assert!(String::from_utf8_lossy(&a.response.body).contains("`report` feature"));
        }
    }
}
