//! `Router`: the napi face of `acme_core::routing::Router`. Types mirror the core through `From`.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use acme_core::routing as core;
use napi::bindgen_prelude::JsObjectValue;
use napi::bindgen_prelude::{Array, Either, Object, Unknown};
use napi::Env;
use napi_derive::napi;

/// Headers as Node's `rawHeaders` (flat `[name, value, …]`) or a plain object whose values are
/// strings or arrays of strings (as `req.headers`).
pub type HeadersInput = Either<Vec<String>, HashMap<String, Either<String, Vec<String>>>>;

/// Headers as a flat array (`rawHeaders`) or an object (`req.headers`), read lazily.
pub type HeadersArg<'a> = Either<Array<'a>, Object<'a>>;

/// The header pairs routing reads: values of other headers are not converted.
fn header_pairs(
    router: &core::Router,
    h: Option<&HeadersArg>,
) -> napi::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    match h {
        None => {}
        Some(Either::A(flat)) => {
            let mut i = 0;
            while i + 1 < flat.len() {
                if let Some(name) = flat.get::<String>(i)? {
                    if router.wants_header(&name) {
                        if let Some(v) = flat.get::<String>(i + 1)? {
                            out.push((name, v));
                        }
                    }
                }
                i += 2;
            }
        }
        Some(Either::B(obj)) => {
            let names = obj.get_property_names()?;
            let n = names.get_array_length()?;
            for i in 0..n {
                let name: String = names.get_element(i)?;
                if !router.wants_header(&name) {
                    continue;
                }
                match obj.get::<Either<String, Vec<String>>>(&name)? {
                    Some(Either::A(s)) => out.push((name, s)),
                    Some(Either::B(list)) => {
                        out.extend(list.into_iter().map(|s| (name.clone(), s)))
                    }
                    None => {}
                }
            }
        }
    }
    Ok(out)
}

/// All header pairs (response headers are passed through, not only read).
fn all_header_pairs(h: Option<HeadersInput>) -> Vec<(String, String)> {
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

fn set_str(obj: &mut Object, key: &str, v: &str) -> napi::Result<()> {
    obj.set(key, v)
}

/// Sets a property whose name is a C-string literal (no key allocation per call).
fn set_c<T: napi::bindgen_prelude::ToNapiValue>(
    obj: &mut Object,
    key: &std::ffi::CStr,
    v: T,
) -> napi::Result<()> {
    obj.set_c_named_property(key, v)
}

/// `{ name: value }`, repeated names becoming arrays (omitted when empty).
fn multi_object<'e, S: AsRef<str> + PartialEq>(
    env: &'e Env,
    pairs: &[(S, S)],
) -> napi::Result<Option<Object<'e>>> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut obj = Object::new(env)?;
    for (i, (k, v)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(pk, _)| pk == k) {
            continue;
        }
        let n = pairs[i..].iter().filter(|(pk, _)| pk == k).count();
        if n == 1 {
            set_str(&mut obj, k.as_ref(), v.as_ref())?;
        } else {
            let list: Vec<&str> = pairs[i..]
                .iter()
                .filter(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_ref())
                .collect();
            obj.set(k.as_ref(), list)?;
        }
    }
    Ok(Some(obj))
}

/// Builds the plain decision object, setting only the fields that have a value.
fn decision_object<'e>(env: &'e Env, d: core::Decision) -> napi::Result<Object<'e>> {
    let mut o = Object::new(env)?;
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
    set_c(&mut o, c"kind", kind)?;
    if let Some(u) = &d.middleware_url {
        set_c(&mut o, c"middlewareUrl", u)?;
    }
    if let Some(c) = d.continuation {
        set_c(&mut o, c"continuation", c)?;
    }
    if let Some(p) = &d.resolved_pathname {
        set_c(&mut o, c"resolvedPathname", p)?;
    }
    if let Some(p) = &d.invocation_pathname {
        set_c(&mut o, c"invocationPathname", p)?;
    }
    if let Some(t) = &d.target {
        let mut to = Object::new(env)?;
        set_c(&mut to, c"kind", t.kind)?;
        set_c(&mut to, c"id", &*t.id)?;
        set_c(&mut o, c"target", to)?;
    }
    if let Some(p) = &d.rsc_pathname {
        set_c(&mut o, c"rscPathname", p)?;
    }
    if let Some(p) = &d.matched_route {
        set_c(&mut o, c"matchedRoute", p)?;
    }
    let query: Vec<_> = d.query.pairs().collect();
    if let Some(q) = multi_object(env, &query)? {
        set_c(&mut o, c"query", q)?;
    }
    if let Some(s) = d.status {
        set_c(&mut o, c"status", u32::from(s))?;
    }
    if let Some(h) = multi_object(env, &d.headers)? {
        set_c(&mut o, c"headers", h)?;
    }
    if let Some(r) = &d.redirect {
        let mut ro = Object::new(env)?;
        set_c(&mut ro, c"location", &r.location)?;
        set_c(&mut ro, c"status", u32::from(r.status))?;
        set_c(&mut o, c"redirect", ro)?;
    }
    if let Some(u) = &d.external_url {
        set_c(&mut o, c"externalUrl", u)?;
    }
    if !d.route_matches.is_empty() {
        let mut mo = Object::new(env)?;
        for (k, v) in &d.route_matches {
            if let Some(v) = v {
                set_str(&mut mo, k, v)?;
            }
        }
        set_c(&mut o, c"routeMatches", mo)?;
    }
    Ok(o)
}

/// A redirect to send.
#[napi(object)]
#[allow(dead_code)] // declares the TypeScript shape of the object built by `decision_object`
pub struct RouterRedirect {
    /// `Location`.
    pub location: String,
    /// 3xx status.
    pub status: u32,
}

/// What a resolved pathname is in the output.
#[napi(object)]
#[allow(dead_code)] // declares the TypeScript shape of the object built by `decision_object`
pub struct RouterTarget {
    /// `static`, `prerender` or `function`.
    pub kind: String,
    /// Function/prerender id, or the static file relative to the output directory.
    pub id: String,
}

/// The routing decision (the type of what `resolve` and `resumeAfterMiddleware` return). Only
/// the fields that have a value are present.
#[napi(object)]
#[allow(dead_code)] // declares the TypeScript shape of the object built by `decision_object`
pub struct RouterDecision {
    /// `resolved` | `redirect` | `externalRewrite` | `middleware` | `middlewareResponded` |
    /// `status` | `notFound` | `badRequest`.
    pub kind: String,
    /// Output pathname to serve (dynamic routes: the template).
    pub resolved_pathname: Option<String>,
    /// Concrete pathname to invoke.
    pub invocation_pathname: Option<String>,
    /// Resolved query (repeated keys become arrays); absent when empty.
    pub query: Option<HashMap<String, Either<String, Vec<String>>>>,
    /// Status set by a route or by middleware.
    pub status: Option<u32>,
    /// Response headers to add (`set-cookie` may be an array); absent when empty.
    pub headers: Option<HashMap<String, Either<String, Vec<String>>>>,
    /// Redirect to send.
    pub redirect: Option<RouterRedirect>,
    /// External rewrite target.
    pub external_url: Option<String>,
    /// Dynamic route params.
    pub route_matches: Option<HashMap<String, String>>,
    /// URL to run middleware with (kind `middleware`).
    pub middleware_url: Option<String>,
    /// Handle for `resumeAfterMiddleware` (kind `middleware`); single use.
    pub continuation: Option<u32>,
    /// What the resolved pathname is.
    pub target: Option<RouterTarget>,
    /// `.rsc` / segment output to serve for an RSC request.
    pub rsc_pathname: Option<String>,
    /// Kind `notFound` only: the dynamic route (page, e.g. `/products/[id]`) the path matched,
    /// whose paths are all prerendered and whose fallback is "not found" (`dynamicParams =
    /// false`, `fallback: false`); `next start` answers that 404 from the route.
    pub matched_route: Option<String>,
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
pub struct MiddlewareOutcome<'a> {
    /// Middleware sent the whole response.
    pub body_sent: Option<bool>,
    /// Request headers to continue with (only the ones routing reads are converted).
    #[napi(ts_type = "string[] | Record<string, string | string[]>")]
    pub request_headers: Option<HeadersArg<'a>>,
    /// Response headers to add.
    #[napi(ts_type = "string[] | Record<string, string | string[]>")]
    pub response_headers: Option<HeadersInput>,
    /// Redirect.
    pub redirect: Option<MiddlewareRedirect>,
    /// Rewrite target.
    pub rewrite: Option<String>,
}

fn outcome(router: &core::Router, m: MiddlewareOutcome) -> napi::Result<core::MiddlewareResult> {
    Ok(core::MiddlewareResult {
        body_sent: m.body_sent.unwrap_or(false),
        request_headers: match &m.request_headers {
            Some(h) => Some(header_pairs(router, Some(h))?),
            None => None,
        },
        response_headers: m.response_headers.map(|h| all_header_pairs(Some(h))),
        redirect: m
            .redirect
            .map(|r| (r.url, u16::try_from(r.status).unwrap_or(307))),
        rewrite: m.rewrite,
    })
}

/// One-character codes of the decision kinds in a packed decision.
fn kind_code(k: core::DecisionKind) -> char {
    match k {
        core::DecisionKind::Resolved => 'r',
        core::DecisionKind::Redirect => 'R',
        core::DecisionKind::ExternalRewrite => 'x',
        core::DecisionKind::Middleware => 'm',
        core::DecisionKind::MiddlewareResponded => 'M',
        core::DecisionKind::Status => 's',
        core::DecisionKind::NotFound => 'n',
        core::DecisionKind::BadRequest => 'b',
    }
}

/// The decision as one string (one napi value instead of an object tree), appended to `out`:
/// the kind code, then every field preceded by a separator, in the order `runtime/router.js`
/// reads them. The separator is the string's second character: NUL, unless a value holds a NUL
/// itself (a header value a route takes from a decoded query value can), then the first
/// character that no value holds, so every decision packs.
fn pack_into(out: &mut String, d: &core::Decision) {
    let start = out.len();
    pack_with(out, d, '\0');
    // (A byte count: NUL is never part of another character's UTF-8.)
    if count_nul(&out.as_bytes()[start..]) != packed_fields(d) {
        // A string of n characters lacks at least one of any n + 1 candidates.
        let packed = &out[start..];
        let sep = (1..=u32::try_from(packed.len() + 1).unwrap_or(u32::MAX))
            .filter_map(char::from_u32)
            .find(|c| !packed.contains(*c))
            .unwrap_or('\u{fffe}');
        out.truncate(start);
        pack_with_rare(out, d, sep);
    }
}

/// [`pack_with`] for a separator other than NUL (rare), kept out of line.
#[inline(never)]
fn pack_with_rare(out: &mut String, d: &core::Decision, sep: char) {
    pack_with(out, d, sep);
}

/// Fields of a packed decision, list entries aside (`runtime/router.js` `F_LISTS`).
const PACKED_FIELDS_FIXED: usize = 15;

/// How many separators a packed decision holds when no value holds one.
fn packed_fields(d: &core::Decision) -> usize {
    let matches = d.route_matches.iter().filter(|(_, v)| v.is_some()).count();
    PACKED_FIELDS_FIXED + 2 * (d.headers.len() + matches)
}

/// How many NUL bytes `bytes` holds. Counted in byte lanes, 255 bytes at a time: the obvious
/// `filter().count()` widens every byte to a `usize` and took a quarter of the packing time.
fn count_nul(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|c| usize::from(c.iter().fold(0u8, |n, &b| n + u8::from(b == 0))))
        .sum()
}

/// Appends `n` in decimal. Digits are pushed as chars: going through `str::from_utf8` of a digit
/// buffer cost ~170 instructions a number. Most numbers a decision writes are counts below 10:
/// those are written inline, without a call.
#[inline(always)]
fn push_decimal(out: &mut String, n: u32) {
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
    } else {
        push_decimal_long(out, n);
    }
}

/// [`push_decimal`] of a number of two digits or more.
#[inline(never)]
fn push_decimal_long(out: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    while n > 0 {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
}

/// Appends the packed form of `d` to `out`, with separator `sep`. Inlined where it is called
/// with NUL (every decision but one whose values hold a NUL), so each separator is a byte
/// store and not a char's UTF-8 encoding (that, with the copies of empty fields, was most of the
/// packing).
#[inline(always)]
fn pack_with(out: &mut String, d: &core::Decision, sep: char) {
    fn opt(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
    let field = |out: &mut String, v: &str| {
        out.push(sep);
        if !v.is_empty() {
            out.push_str(v);
        }
    };
    // Numbers are written in place, digit by digit (`write!` costs more than the rest of the
    // field): no allocation per field.
    let num = |out: &mut String, v: Option<u32>| {
        out.push(sep);
        if let Some(n) = v {
            push_decimal(out, n);
        }
    };
    out.push(kind_code(d.kind));
    num(out, d.continuation);
    field(out, opt(&d.middleware_url));
    field(out, opt(&d.resolved_pathname));
    field(out, opt(&d.invocation_pathname));
    field(out, d.target.as_ref().map_or("", |t| t.kind));
    field(out, d.target.as_ref().map_or("", |t| &*t.id));
    field(out, opt(&d.rsc_pathname));
    field(out, opt(&d.matched_route));
    num(out, d.status.map(u32::from));
    num(out, d.redirect.as_ref().map(|r| u32::from(r.status)));
    field(out, d.redirect.as_ref().map_or("", |r| r.location.as_str()));
    field(out, opt(&d.external_url));
    let matches = d.route_matches.iter().filter(|(_, v)| v.is_some());
    let count = |n: usize| u32::try_from(n).ok();
    // The query as its text: JavaScript decodes it only if it reads the pairs.
    field(out, d.query.as_str());
    num(out, count(d.headers.len()));
    num(out, count(matches.clone().count()));
    for (k, v) in &d.headers {
        field(out, k);
        field(out, v);
    }
    for (k, v) in matches {
        field(out, k);
        field(out, v.as_deref().unwrap_or(""));
    }
}

/// `s.split('\0')` by bytes: the values are short, and `str::split`'s searcher setup per
/// piece showed in profiles.
fn split_nul(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == 0) {
            Some(i) => {
                // NUL is ASCII: `i` and `i + 1` are char boundaries.
                rest = r.get(i + 1..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// The first header index character of the packed request-header form (printable ASCII for the
/// first 94 names, so the usual index is one byte).
const INDEX_BASE: u32 = 0x21;

/// `(index, value)` pairs of the packed request-header form: each present header as NUL, the
/// character `INDEX_BASE + index`, then its value (`runtime/router.js` `headerValues`; empty
/// pieces are skipped, so the form may start with its NUL). Absent headers take no space: most
/// requests carry few of the headers routing reads.
fn indexed_values(s: &str) -> impl Iterator<Item = (usize, &str)> {
    split_nul(s).filter_map(|piece| {
        let c = piece.chars().next()?;
        let i = usize::try_from(u32::from(c).checked_sub(INDEX_BASE)?).ok()?;
        Some((i, &piece[c.len_utf8()..]))
    })
}

/// The two decisions a routing call writes (the decision, and the pass-through decision of a
/// `middleware` one), kept from call to call: decisions written in place are not copied from
/// step to step of routing, and their lists keep their capacity.
#[derive(Default)]
struct DecisionSlots {
    decision: core::Decision,
    passthrough: core::Decision,
}

/// `resolve` of `packedCalls`: the URL, and the request headers as `(index, value)` pairs.
/// Writes the packed decision into `out` (cleared first) and answers whether it is ASCII. A
/// `middleware` decision carries, in place of a continuation, the UTF-16 offset at which the
/// packed decision for middleware passing the request through unchanged follows it.
fn resolve_packed<'v>(
    router: &'v core::Router,
    url: &str,
    headers: impl IntoIterator<Item = (usize, &'v str)>,
    slots: &mut DecisionSlots,
    out: &mut String,
) -> napi::Result<bool> {
    catch_unwind(AssertUnwindSafe(|| {
        out.clear();
        let DecisionSlots {
            decision,
            passthrough,
        } = slots;
        let paused = router.resolve_indexed_passthrough_into(url, headers, decision, passthrough);
        pack_into(out, decision);
        // Each part scanned for non-ASCII once: the head's answer serves its length too.
        let head_ascii = out.is_ascii();
        if !paused {
            return head_ascii;
        }
        insert_own_length(out, head_ascii);
        let head = out.len();
        pack_into(out, passthrough);
        head_ascii && out[head..].is_ascii()
    }))
    .map_err(|p| {
        // A panic may have left part of a decision behind.
        out.clear();
        panic_error(p)
    })
}

/// Writes into the empty field 1 of a packed decision the string's length in UTF-16 units
/// (where JavaScript finds what follows it), the digits written included. `ascii`: whether
/// `packed` is ASCII (then its length in bytes is its length in UTF-16 units).
fn insert_own_length(packed: &mut String, ascii: bool) {
    let units = if ascii {
        packed.len()
    } else {
        packed.chars().map(char::len_utf16).sum()
    };
    let digits = |n: usize| n.checked_ilog10().map_or(1, |l| l as usize + 1);
    // n + digits(n) grows with n: the first candidate whose digits fit is the length.
    let mut width = digits(units);
    while digits(units + width) != width {
        width += 1;
    }
    let at = packed.chars().next().map_or(0, char::len_utf8)
        + packed.chars().nth(1).map_or(0, char::len_utf8);
    packed.insert_str(at, &(units + width).to_string());
}

/// `resolve` and `resume` of `packedCalls` as plain napi callbacks. `resolve` runs once per
/// request, and napi-rs's closure trampoline around a call costs more than reading its
/// arguments: an argument list allocated per call, a type check per argument, the result
/// converted through a generic path. Here the arguments are read straight into the buffers kept
/// by the function, an absent argument is told from a present one by the status of that read,
/// and the packed decision is written into a kept buffer too (one allocation less per request)
/// before V8 copies it. `resume` (middleware that did more than pass the request through: ~6%
/// of app-router's requests) took ~2 µs through the trampoline, its five strings each read
/// twice and copied into a `String`, and a fresh decision built and packed.
#[allow(unsafe_code)]
mod raw_calls {
    use super::*;
    use napi::sys;
    use std::cell::RefCell;
    use std::ffi::c_void;
    use std::ptr;

    /// The most header index/value pairs a call passes as arguments (more go in the packed
    /// form).
    const MAX_PAIRS: usize = 6;
    /// The URL and the pairs.
    const MAX_ARGS: usize = 1 + 2 * MAX_PAIRS;
    /// `resume(url, requestValues, newRequestValues?, responseHeaders?, other?)`.
    const RESUME_ARGS: usize = 5;

    /// Which of the calls a function is.
    #[derive(Clone, Copy)]
    pub(super) enum Call {
        Resolve,
        Resume,
    }

    /// What the function keeps: the router and the buffers its inputs are read into.
    struct State {
        call: Call,
        router: Arc<core::Router>,
        url: RefCell<Vec<u8>>,
        values: RefCell<Vec<u8>>,
        /// The packed decision, until V8 has copied it.
        out: RefCell<String>,
        /// The decisions routing writes before they are packed.
        slots: RefCell<DecisionSlots>,
    }

    /// Creates the function; its state is freed when V8 collects it.
    pub(super) fn create(
        env: &Env,
        router: Arc<core::Router>,
        call: Call,
    ) -> napi::Result<sys::napi_value> {
        let state = Box::into_raw(Box::new(State {
            call,
            router,
            url: RefCell::new(vec![0; 1024]),
            values: RefCell::new(vec![0; 1024]),
            out: RefCell::new(String::with_capacity(1024)),
            slots: RefCell::default(),
        }));
        let mut f = ptr::null_mut();
        let name = match call {
            Call::Resolve => c"resolve",
            Call::Resume => c"resume",
        };
        // SAFETY: the env is the live one of the calling function; the name is NUL-terminated
        // UTF-8; `state` stays valid until `finalize` frees it, which V8 calls only once the
        // function is unreachable (no call can be running then).
        let status = unsafe {
            sys::napi_create_function(
                env.raw(),
                name.as_ptr(),
                isize::try_from(name.count_bytes()).unwrap_or(0),
                Some(call_native),
                state.cast(),
                &mut f,
            )
        };
        let status = if status == sys::Status::napi_ok {
            // SAFETY: as above; `f` is the function just created.
            unsafe {
                sys::napi_add_finalizer(
                    env.raw(),
                    f,
                    state.cast(),
                    Some(finalize),
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            }
        } else {
            status
        };
        if status != sys::Status::napi_ok {
            // SAFETY: no function holds `state` (none was created, or it could not be given
            // its finalizer and the function is never handed out).
            drop(unsafe { Box::from_raw(state) });
            return Err(napi::Error::from_reason(format!(
                "[ROUTER_INIT] could not create {} (napi status {status})",
                name.to_string_lossy()
            )));
        }
        Ok(f)
    }

    unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
        // SAFETY: `data` is the `Box<State>` of `create`, finalized once.
        drop(unsafe { Box::from_raw(data.cast::<State>()) });
    }

    /// A failure to report to JavaScript as a thrown `Error` with a code.
    struct Thrown(&'static std::ffi::CStr, String);

    unsafe extern "C" fn call_native(
        env: sys::napi_env,
        info: sys::napi_callback_info,
    ) -> sys::napi_value {
        let mut argc = MAX_ARGS;
        let mut argv = [ptr::null_mut(); MAX_ARGS];
        let mut data = ptr::null_mut();
        // SAFETY: `argv` holds `argc` values; `env` and `info` are the call's.
        let status = unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                ptr::null_mut(),
                &mut data,
            )
        };
        let result = if status != sys::Status::napi_ok || data.is_null() {
            Err(Thrown(
                c"ROUTER_INPUT",
                format!("napi_get_cb_info failed (napi status {status})"),
            ))
        } else {
            // SAFETY: `data` is the live `State` of this function (see `create`).
            let state = unsafe { &*data.cast::<State>() };
            // `argc` is the number passed, which may exceed the number read.
            let max = match state.call {
                Call::Resolve => MAX_ARGS,
                Call::Resume => RESUME_ARGS,
            };
            if argc > max {
                Err(Thrown(
                    c"ROUTER_INPUT",
                    match state.call {
                        Call::Resolve => {
                            format!("resolve takes at most {MAX_PAIRS} header index/value pairs")
                        }
                        Call::Resume => format!("resume takes at most {RESUME_ARGS} arguments"),
                    },
                ))
            } else {
                catch_unwind(AssertUnwindSafe(|| match state.call {
                    Call::Resolve => state.resolve(env, &argv[..argc]),
                    Call::Resume => state.resume(env, &argv[..argc]),
                }))
                .unwrap_or_else(|_| Err(Thrown(c"ROUTER_PANIC", "the router panicked".to_string())))
            }
        };
        match result {
            Ok(v) => v,
            Err(Thrown(code, message)) => {
                // The message names its code too, as the binding's other errors do.
                let message = format!(
                    "[{}] {}",
                    code.to_string_lossy(),
                    message.replace('\0', " ")
                );
                let message = std::ffi::CString::new(message)
                    .unwrap_or_else(|_| c"routing failed".to_owned());
                // SAFETY: both strings are NUL-terminated and live for the call. A failure to
                // throw leaves nothing to do but return.
                unsafe { sys::napi_throw_error(env, code.as_ptr(), message.as_ptr()) };
                ptr::null_mut()
            }
        }
    }

    impl State {
        fn resolve(
            &self,
            env: sys::napi_env,
            args: &[sys::napi_value],
        ) -> Result<sys::napi_value, Thrown> {
            let reentered = || Thrown(c"ROUTER_REENTERED", "a routing call is in progress".into());
            let mut url_buf = self.url.try_borrow_mut().map_err(|_| reentered())?;
            let mut values_buf = self.values.try_borrow_mut().map_err(|_| reentered())?;
            let mut out_text = self.out.try_borrow_mut().map_err(|_| reentered())?;
            let mut slots = self.slots.try_borrow_mut().map_err(|_| reentered())?;
            let Some((&url_value, rest)) = args.split_first() else {
                return Err(Thrown(
                    c"ROUTER_INPUT",
                    "resolve(url, …): url is missing".into(),
                ));
            };
            let url_len = read_at(env, url_value, &mut url_buf, 0)?.ok_or_else(|| {
                Thrown(
                    c"ROUTER_INPUT",
                    "resolve(url, …): url must be a string".into(),
                )
            })?;
            let url = text(&url_buf, url_len);
            // The header values, read one after another into one buffer: where each is.
            let mut pairs = [(0usize, 0usize, 0usize); MAX_PAIRS];
            let mut count = 0;
            let mut end = 0;
            let packed_values = match rest {
                [] => None,
                [v] => read_at(env, *v, &mut values_buf, 0)?,
                _ if rest.len() % 2 == 0 => {
                    for pair in rest.chunks_exact(2) {
                        let mut index = 0u32;
                        // SAFETY: `index` is a valid place for the number.
                        let s = unsafe { sys::napi_get_value_uint32(env, pair[0], &mut index) };
                        if s != sys::Status::napi_ok {
                            return Err(Thrown(
                                c"ROUTER_INPUT",
                                "resolve(url, index, value, …): an index must be a number".into(),
                            ));
                        }
                        let Some(n) = read_at(env, pair[1], &mut values_buf, end)? else {
                            return Err(Thrown(
                                c"ROUTER_INPUT",
                                "resolve(url, index, value, …): a value must be a string".into(),
                            ));
                        };
                        pairs[count] = (index as usize, end, end + n);
                        count += 1;
                        end += n;
                    }
                    None
                }
                _ => {
                    return Err(Thrown(
                        c"ROUTER_INPUT",
                        "resolve(url, requestValues?) or resolve(url, index, value, …)".into(),
                    ))
                }
            };
            let ascii = match packed_values {
                Some(n) => {
                    let values = text(&values_buf, n);
                    resolve_packed(
                        &self.router,
                        url,
                        indexed_values(values),
                        &mut slots,
                        &mut out_text,
                    )
                }
                None => {
                    let values = text(&values_buf, end);
                    // Offsets of whole strings within text read whole: char boundaries.
                    let pairs = pairs[..count]
                        .iter()
                        .map(|&(i, a, b)| (i, values.get(a..b).unwrap_or("")));
                    resolve_packed(&self.router, url, pairs, &mut slots, &mut out_text)
                }
            }
            .map_err(|_| Thrown(c"ROUTER_PANIC", "the router panicked".into()))?;
            packed_string(env, &out_text, ascii)
        }

        /// `resume(url, requestValues, newRequestValues?, responseHeaders?, other?)`: the
        /// strings read one after another into one kept buffer, the decision written into a
        /// kept one.
        fn resume(
            &self,
            env: sys::napi_env,
            args: &[sys::napi_value],
        ) -> Result<sys::napi_value, Thrown> {
            let reentered = || Thrown(c"ROUTER_REENTERED", "a routing call is in progress".into());
            let mut buf = self.values.try_borrow_mut().map_err(|_| reentered())?;
            let mut out_text = self.out.try_borrow_mut().map_err(|_| reentered())?;
            let mut slots = self.slots.try_borrow_mut().map_err(|_| reentered())?;
            // Where each argument's text is in `buf` (`None`: absent, `undefined` or `null`).
            let mut spans = [None; RESUME_ARGS];
            let mut end = 0;
            for (span, &value) in spans.iter_mut().zip(args) {
                if let Some(n) = read_at(env, value, &mut buf, end)? {
                    *span = Some((end, end + n));
                    end += n;
                }
            }
            if spans[0].is_none() {
                return Err(Thrown(
                    c"ROUTER_INPUT",
                    "resume(url, …): url must be a string".into(),
                ));
            }
            let all = text(&buf, end);
            // Offsets of whole strings within text read whole: char boundaries.
            let parts = spans.map(|s| s.map(|(a, b)| all.get(a..b).unwrap_or("")));
            let ascii = resume_packed(&self.router, parts, &mut slots, &mut out_text)
                .map_err(|_| Thrown(c"ROUTER_PANIC", "the router panicked".into()))?
                .map_err(|e| Thrown(c"INVALID_CONTINUATION", e.to_string()))?;
            packed_string(env, &out_text, ascii)
        }
    }

    /// The packed decision `text` as a JavaScript string. ASCII (the usual decision: paths and
    /// URLs are percent-encoded) is handed over as Latin-1, which V8 copies as it is instead of
    /// decoding it.
    fn packed_string(
        env: sys::napi_env,
        text: &str,
        ascii: bool,
    ) -> Result<sys::napi_value, Thrown> {
        let mut out = ptr::null_mut();
        let create = if ascii {
            sys::napi_create_string_latin1
        } else {
            sys::napi_create_string_utf8
        };
        // (A `String` is never longer than `isize::MAX` bytes.)
        let len = isize::try_from(text.len()).unwrap_or(isize::MAX);
        // SAFETY: the text is valid for its length; `out` is a valid place for the result.
        let status = unsafe { create(env, text.as_ptr().cast(), len, &mut out) };
        if status != sys::Status::napi_ok {
            return Err(Thrown(
                c"ROUTER_OUTPUT",
                format!("could not create the decision string (napi status {status})"),
            ));
        }
        Ok(out)
    }

    /// The text of `value` read into `buf` from byte `at` (the buffer grown when it does not
    /// fit): how many bytes it took, `None` for `undefined` and `null`, an error for any other
    /// value that is not a string.
    fn read_at(
        env: sys::napi_env,
        value: sys::napi_value,
        buf: &mut Vec<u8>,
        at: usize,
    ) -> Result<Option<usize>, Thrown> {
        // (Room for napi's NUL at least; a value that does not fit is measured and read again.)
        if buf.len() <= at {
            buf.resize(at + 1024, 0);
        }
        let mut written = match utf8_into(env, value, &mut buf[at..]) {
            Ok(n) => n,
            Err(status) if status == sys::Status::napi_string_expected => {
                let mut t = 0;
                // SAFETY: `t` is a valid place for the type tag.
                let s = unsafe { sys::napi_typeof(env, value, &mut t) };
                if s == sys::Status::napi_ok
                    && (t == sys::ValueType::napi_undefined || t == sys::ValueType::napi_null)
                {
                    return Ok(None);
                }
                return Err(Thrown(c"ROUTER_INPUT", "a string was expected".into()));
            }
            Err(status) => {
                return Err(Thrown(
                    c"ROUTER_INPUT",
                    format!("could not read a string (napi status {status})"),
                ))
            }
        };
        // napi writes at most the buffer's length less one (for its NUL), and no part of a
        // character that does not fit (up to 4 bytes): a text that ends so near the end may
        // have been cut.
        if at + written + 4 >= buf.len() {
            let mut len = 0;
            // SAFETY: a null buffer asks for the length only.
            let s = unsafe {
                sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len)
            };
            if s != sys::Status::napi_ok {
                return Err(Thrown(c"ROUTER_INPUT", format!("napi status {s}")));
            }
            buf.resize(at + len + 1, 0);
            written = utf8_into(env, value, &mut buf[at..])
                .map_err(|s| Thrown(c"ROUTER_INPUT", format!("napi status {s}")))?;
        }
        Ok(Some(written))
    }

    /// The text of the first `len` bytes of `buf`, written there by [`read_at`]. Not checked
    /// again: checking was ~1% of a routed request, for bytes napi guarantees.
    fn text(buf: &[u8], len: usize) -> &str {
        let bytes = &buf[..len];
        debug_assert!(std::str::from_utf8(bytes).is_ok(), "napi wrote UTF-8");
        // SAFETY: `read_at` wrote these bytes, one string after another, with
        // `napi_get_value_string_utf8`, which writes whole characters of UTF-8 (V8's `WriteUtf8`
        // with `REPLACE_INVALID_UTF8`: a lone surrogate becomes U+FFFD; a character that does not
        // fit is left out, and `read_at` reads such a string again whole). napi-rs's own `String`
        // conversion relies on the same (`from_utf8_unchecked`).
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// `napi_get_value_string_utf8` into `buf`: the bytes of text written, or the status.
    fn utf8_into(env: sys::napi_env, value: sys::napi_value, buf: &mut [u8]) -> Result<usize, i32> {
        let mut written = 0usize;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes, the size napi is given (it
        // writes no more, its NUL included).
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            )
        };
        if status == sys::Status::napi_ok {
            Ok(written.min(buf.len().saturating_sub(1)))
        } else {
            Err(status)
        }
    }
}

/// `resume` of `packedCalls`: the request as `resolve` had it, then what middleware did. Writes
/// the packed decision into `out` (cleared first) and answers whether it is ASCII; `Ok(Err(…))`
/// for a continuation that cannot be resumed.
fn resume_packed(
    router: &core::Router,
    [url, values, request_values, response_headers, other]: [Option<&str>; 5],
    slots: &mut DecisionSlots,
    out: &mut String,
) -> napi::Result<Result<bool, core::RouterError>> {
    let (url, values) = (url.unwrap_or(""), values.unwrap_or(""));
    let request_headers = request_values.map(|s| router.header_list_indexed(indexed_values(s)));
    let response_headers = response_headers.map(|s| {
        let mut it = split_nul(s);
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((k.to_string(), v.to_string()));
        }
        out
    });
    let mut other = split_nul(other.unwrap_or(""));
    let mut next = || other.next().filter(|s| !s.is_empty());
    let body_sent = next() == Some("1");
    let redirect_status = next().and_then(|s| s.parse::<u16>().ok());
    let redirect_url = next();
    let rewrite = next();
    let result = core::MiddlewareResult {
        body_sent,
        request_headers: None,
        response_headers,
        redirect: redirect_url.map(|u| (u.to_string(), redirect_status.unwrap_or(307))),
        rewrite: rewrite.map(str::to_string),
    };
    catch_unwind(AssertUnwindSafe(|| {
        out.clear();
        let d = &mut slots.decision;
        router.replay_indexed_into(url, indexed_values(values), &result, request_headers, d)?;
        pack_into(out, d);
        Ok(out.is_ascii())
    }))
    .map_err(|p| {
        // A panic may have left part of a decision behind.
        out.clear();
        panic_error(p)
    })
}

fn panic_error(_: Box<dyn std::any::Any + Send>) -> napi::Error {
    napi::Error::from_reason("[ROUTER_PANIC] the router panicked")
}

/// Decides what Next would do with a request, from the output's `manifest.json`.
#[napi]
pub struct Router {
    /// Shared with the functions of `packedCalls`.
    inner: Arc<core::Router>,
}

#[napi]
impl Router {
    /// Compiles the routing table of `manifest.json` (its text).
    #[napi(constructor)]
    pub fn new(manifest_json: String) -> napi::Result<Self> {
        catch_unwind(AssertUnwindSafe(|| core::Router::new(&manifest_json)))
            .map_err(panic_error)?
            .map(|inner| Router {
                inner: Arc::new(inner),
            })
            .map_err(|e| napi::Error::from_reason(format!("[INVALID_MANIFEST] {e}")))
    }

    /// Resolves a request: `method`, `url` (absolute, or a path resolved against
    /// `http://<host header>`) and its headers (`req.rawHeaders` or `req.headers`). When `kind`
    /// is `middleware`, run middleware with `middlewareUrl`, then call
    /// `resumeAfterMiddleware(decision.continuation, outcome)` once.
    #[napi(ts_return_type = "RouterDecision")]
    pub fn resolve<'e>(
        &self,
        env: &'e Env,
        // Informational only (routing does not depend on it): not converted.
        #[napi(ts_arg_type = "string | undefined | null")] method: Option<Unknown<'_>>,
        url: String,
        #[napi(ts_arg_type = "string[] | Record<string, string | string[]>")] headers: Option<
            HeadersArg,
        >,
    ) -> napi::Result<Object<'e>> {
        let _ = method;
        let req = core::Request {
            method: String::new(),
            url,
            headers: header_pairs(&self.inner, headers.as_ref())?,
        };
        let d = catch_unwind(AssertUnwindSafe(|| self.inner.resolve(&req))).map_err(panic_error)?;
        decision_object(env, d)
    }

    /// Continues a `middleware` decision with what middleware did. A continuation can be resumed
    /// once; unknown, reused or expired ones throw `[INVALID_CONTINUATION]`.
    #[napi(ts_return_type = "RouterDecision")]
    pub fn resume_after_middleware<'e>(
        &self,
        env: &'e Env,
        continuation: u32,
        outcome: MiddlewareOutcome,
    ) -> napi::Result<Object<'e>> {
        let result = self::outcome(&self.inner, outcome)?;
        let d = catch_unwind(AssertUnwindSafe(|| {
            self.inner.resume(continuation, &result)
        }))
        .map_err(panic_error)?
        .map_err(|e| napi::Error::from_reason(format!("[INVALID_CONTINUATION] {e}")))?;
        decision_object(env, d)
    }

    /// Lower-case names of the request headers routing reads, whose indexes the functions of
    /// `packedCalls` take. Other headers never change a decision.
    #[napi]
    pub fn header_names(&self) -> Vec<String> {
        self.inner.header_names().to_vec()
    }

    /// The runtime's hot path, as two plain functions over this router (napi-rs checks the
    /// receiver of a class method on every call, which costs more than crossing with a plain
    /// function, whose router comes with the function):
    ///
    /// - `resolve(url, index, value, …)` with up to 6 pairs, or `resolve(url, requestValues?)`:
    ///   the value of each present header of `headerNames()` with its index there, as
    ///   arguments, or packed in `requestValues` (for each header a NUL, the character U+0021 +
    ///   its index, and its value). Arguments are the faster form: V8 reads a string as it is
    ///   only when it is one piece, and `req.url` and Node's header values are, while a string
    ///   joined from them is copied into a new one first. A `middleware` decision keeps no
    ///   continuation: it carries the decision for middleware passing the request through
    ///   unchanged, which needs no second call;
    /// - `resume(url, requestValues, newRequestValues?, responseHeaders?, other?)`, for any
    ///   other outcome: the request as `resolve` had it (resolution up to middleware is run
    ///   again), then `newRequestValues` the request headers to continue with (as
    ///   `requestValues`), `responseHeaders` `name, value, …` NUL-separated, `other` (absent when
    ///   middleware only continued) `bodySent (0|1), redirectStatus, redirectUrl, rewrite`,
    ///   NUL-separated, empty for none.
    ///
    /// Both answer the decision packed in one string, decoded by `runtime/router.js`.
    #[napi(
        ts_return_type = "{ resolve: (url: string, ...requestValues: Array<string | number>) => string, resume: (url: string, requestValues: string, newRequestValues?: string, responseHeaders?: string, other?: string) => string }"
    )]
    pub fn packed_calls<'e>(&self, env: &'e Env) -> napi::Result<Object<'e>> {
        let o = Object::new(env)?;
        for (name, call) in [
            (c"resolve", raw_calls::Call::Resolve),
            (c"resume", raw_calls::Call::Resume),
        ] {
            let f = raw_calls::create(env, Arc::clone(&self.inner), call)?;
            // SAFETY: a function value of this env, set on an object of it.
            #[allow(unsafe_code)]
            let status = unsafe {
                napi::sys::napi_set_named_property(
                    env.raw(),
                    napi::JsValue::raw(&o),
                    name.as_ptr(),
                    f,
                )
            };
            if status != napi::sys::Status::napi_ok {
                return Err(napi::Error::from_reason(format!(
                    "[ROUTER_INIT] napi status {status}"
                )));
            }
        }
        Ok(o)
    }

    /// Every pathname the output serves.
    #[napi]
    pub fn pathnames(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.pathnames().map(str::to_string).collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_length_counts_its_own_digits() {
        for (text_len, wide) in [
            (0, false),
            (7, false),
            (8, false),
            (97, false),
            (98, true),
            (9_995, false),
            (4, true),
        ] {
            let mut s = String::from("m\0");
            s.push_str(&"a".repeat(text_len));
            if wide {
                s.push('\u{1f600}');
            }
            let ascii = s.is_ascii();
            insert_own_length(&mut s, ascii);
            let digits: String = s[2..].chars().take_while(char::is_ascii_digit).collect();
            let n: usize = digits.parse().expect("digits written at field 1");
            assert_eq!(n, s.encode_utf16().count(), "{text_len} {wide}");
        }
    }

    #[test]
    fn decimals_as_to_string_writes_them() {
        for n in [0, 1, 9, 10, 11, 99, 100, 307, 308, 16_383, 65_535, u32::MAX] {
            let mut s = String::from("x");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }
}
