//! `Router`: the napi face of `acme_core::routing::Router`. Types mirror the core through `From`.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use acme_core::routing as core;
use napi::bindgen_prelude::Either;
use napi_derive::napi;

/// Headers as Node's `rawHeaders` (flat `[name, value, …]`) or a plain object whose values are
/// strings or arrays of strings (as `req.headers`).
pub type HeadersInput = Either<Vec<String>, HashMap<String, Either<String, Vec<String>>>>;

fn header_pairs(h: Option<HeadersInput>) -> Vec<(String, String)> {
    match h {
        None => Vec::new(),
        Some(Either::A(flat)) => flat
            .chunks_exact(2)
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect(),
        Some(Either::B(map)) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map {
                match v {
                    Either::A(s) => out.push((k, s)),
                    Either::B(list) => out.extend(list.into_iter().map(|s| (k.clone(), s))),
                }
            }
            out
        }
    }
}

/// A request to route.
#[napi(object)]
pub struct RouterRequest {
    /// HTTP method.
    pub method: Option<String>,
    /// Absolute URL, or a path (resolved against `http://<host header>`).
    pub url: String,
    /// Request headers.
    #[napi(ts_type = "string[] | Record<string, string | string[]>")]
    pub headers: Option<HeadersInput>,
}

impl From<RouterRequest> for core::Request {
    fn from(r: RouterRequest) -> Self {
        core::Request {
            method: r.method.unwrap_or_default(),
            url: r.url,
            headers: header_pairs(r.headers),
        }
    }
}

/// A redirect to send.
#[napi(object)]
pub struct RouterRedirect {
    /// `Location`.
    pub location: String,
    /// 3xx status.
    pub status: u32,
}

/// What a resolved pathname is in the output.
#[napi(object)]
pub struct RouterTarget {
    /// `static`, `prerender` or `function`.
    pub kind: String,
    /// Function/prerender id, or the static file relative to the output directory.
    pub id: String,
}

/// The routing decision.
#[napi(object)]
pub struct RouterDecision {
    /// `resolved` | `redirect` | `externalRewrite` | `middleware` | `middlewareResponded` |
    /// `status` | `notFound` | `badRequest`.
    pub kind: String,
    /// Output pathname to serve (dynamic routes: the template).
    pub resolved_pathname: Option<String>,
    /// Concrete pathname to invoke.
    pub invocation_pathname: Option<String>,
    /// Resolved query (repeated keys become arrays).
    pub query: HashMap<String, Either<String, Vec<String>>>,
    /// Status set by a route or by middleware.
    pub status: Option<u32>,
    /// Response headers to add (`set-cookie` may be an array).
    pub headers: HashMap<String, Either<String, Vec<String>>>,
    /// Redirect to send.
    pub redirect: Option<RouterRedirect>,
    /// External rewrite target.
    pub external_url: Option<String>,
    /// Dynamic route params.
    pub route_matches: Option<HashMap<String, String>>,
    /// URL to run middleware with (kind `middleware`).
    pub middleware_url: Option<String>,
    /// Opaque token for `resumeAfterMiddleware` (kind `middleware`).
    pub continuation: Option<String>,
    /// What the resolved pathname is.
    pub target: Option<RouterTarget>,
    /// `.rsc` / segment output to serve for an RSC request.
    pub rsc_pathname: Option<String>,
}

fn multi_map(pairs: Vec<(String, String)>) -> HashMap<String, Either<String, Vec<String>>> {
    let mut out: HashMap<String, Either<String, Vec<String>>> = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        match out.remove(&k) {
            None => {
                out.insert(k, Either::A(v));
            }
            Some(Either::A(prev)) => {
                out.insert(k, Either::B(vec![prev, v]));
            }
            Some(Either::B(mut list)) => {
                list.push(v);
                out.insert(k, Either::B(list));
            }
        }
    }
    out
}

impl From<core::Decision> for RouterDecision {
    fn from(d: core::Decision) -> Self {
        let kind = match d.kind {
            core::DecisionKind::Resolved => "resolved",
            core::DecisionKind::Redirect => "redirect",
            core::DecisionKind::ExternalRewrite => "externalRewrite",
            core::DecisionKind::Middleware => "middleware",
            core::DecisionKind::MiddlewareResponded => "middlewareResponded",
            core::DecisionKind::Status => "status",
            core::DecisionKind::NotFound => "notFound",
            core::DecisionKind::BadRequest => "badRequest",
        };
        let route_matches = (!d.route_matches.is_empty()).then(|| {
            d.route_matches
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect()
        });
        RouterDecision {
            kind: kind.to_string(),
            resolved_pathname: d.resolved_pathname,
            invocation_pathname: d.invocation_pathname,
            query: multi_map(d.query),
            status: d.status.map(u32::from),
            headers: multi_map(d.headers),
            redirect: d.redirect.map(|r| RouterRedirect {
                location: r.location,
                status: u32::from(r.status),
            }),
            external_url: d.external_url,
            route_matches,
            middleware_url: d.middleware_url,
            continuation: d.continuation,
            target: d.target.map(|t| RouterTarget {
                kind: t.kind.to_string(),
                id: t.id,
            }),
            rsc_pathname: d.rsc_pathname,
        }
    }
}

/// A middleware redirect.
#[napi(object)]
pub struct MiddlewareRedirect {
    /// Absolute or relative target.
    pub url: String,
    /// 3xx status.
    pub status: u32,
}

/// What middleware did (the shape of `@next/routing`'s `MiddlewareResult`, URLs as strings).
#[napi(object)]
pub struct MiddlewareOutcome {
    /// Middleware sent the whole response.
    pub body_sent: Option<bool>,
    /// Request headers to continue with.
    #[napi(ts_type = "string[] | Record<string, string | string[]>")]
    pub request_headers: Option<HeadersInput>,
    /// Response headers to add.
    #[napi(ts_type = "string[] | Record<string, string | string[]>")]
    pub response_headers: Option<HeadersInput>,
    /// Redirect.
    pub redirect: Option<MiddlewareRedirect>,
    /// Rewrite target.
    pub rewrite: Option<String>,
}

impl From<MiddlewareOutcome> for core::MiddlewareResult {
    fn from(m: MiddlewareOutcome) -> Self {
        core::MiddlewareResult {
            body_sent: m.body_sent.unwrap_or(false),
            request_headers: m.request_headers.map(|h| header_pairs(Some(h))),
            response_headers: m.response_headers.map(|h| header_pairs(Some(h))),
            redirect: m
                .redirect
                .map(|r| (r.url, u16::try_from(r.status).unwrap_or(307))),
            rewrite: m.rewrite,
        }
    }
}

fn panic_error(_: Box<dyn std::any::Any + Send>) -> napi::Error {
    napi::Error::from_reason("[ROUTER_PANIC] the router panicked")
}

/// Decides what Next would do with a request, from the output's `manifest.json`.
#[napi]
pub struct Router {
    inner: core::Router,
}

#[napi]
impl Router {
    /// Compiles the routing table of `manifest.json` (its text).
    #[napi(constructor)]
    pub fn new(manifest_json: String) -> napi::Result<Self> {
        catch_unwind(AssertUnwindSafe(|| core::Router::new(&manifest_json)))
            .map_err(panic_error)?
            .map(|inner| Router { inner })
            .map_err(|e| napi::Error::from_reason(format!("[INVALID_MANIFEST] {e}")))
    }

    /// Resolves a request. When `kind` is `middleware`, run middleware with `middlewareUrl` and
    /// call `resumeAfterMiddleware(decision.continuation, outcome)`.
    #[napi]
    pub fn resolve(&self, request: RouterRequest) -> napi::Result<RouterDecision> {
        let req: core::Request = request.into();
        catch_unwind(AssertUnwindSafe(|| self.inner.resolve(&req)))
            .map(Into::into)
            .map_err(panic_error)
    }

    /// Continues a `middleware` decision with what middleware did.
    #[napi]
    pub fn resume_after_middleware(
        &self,
        continuation: String,
        outcome: MiddlewareOutcome,
    ) -> napi::Result<RouterDecision> {
        let result: core::MiddlewareResult = outcome.into();
        catch_unwind(AssertUnwindSafe(|| {
            self.inner.resume(&continuation, &result)
        }))
        .map_err(panic_error)?
        .map(Into::into)
        .map_err(|e| napi::Error::from_reason(format!("[INVALID_CONTINUATION] {e}")))
    }

    /// Every pathname the output serves.
    #[napi]
    pub fn pathnames(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.pathnames().map(str::to_string).collect();
        v.sort_unstable();
        v
    }
}
