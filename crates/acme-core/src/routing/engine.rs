//! The request router: what Next would do with a request, decided from `manifest.json`.
//!
//! The algorithm follows `@next/routing`'s `resolveRoutes` phase by phase (i18n, beforeMiddleware,
//! middleware, beforeFiles, filesystem, afterFiles, dynamicRoutes, fallback, onMatch) so that
//! both agree on the same build; URL handling follows WHATWG `URL`/`URLSearchParams` (the
//! `weburl` module: URLs already in serialized form as they are, the `url` crate for the rest).
//! Every regex is compiled once in [`Router::new`].

use compact_str::CompactString;
use rustc_hash::{FxHashMap as HashMap, FxHashSet};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::sync::Arc;

use super::{cat, find_byte, split_once_byte};

use serde::{Deserialize, Serialize};

use super::jsre::{decode_uri_component, encode_uri_path, Captures, JsRegex, RegexFilter};
use super::nextquery::redirect_query;
use super::weburl::{form_pairs, Url};
use crate::model::{DomainLocale, I18nConfig, MiddlewareMatcher, Route, RouteHas, Routing};

/// Errors of [`Router::new`] and [`Router::resume`].
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The manifest is not valid JSON of the expected shape.
    #[error("invalid manifest: {0}")]
    Manifest(String),
    /// A route regex does not compile.
    #[error("{phase}[{index}]: invalid regex {pattern:?}: {message}")]
    Regex {
        /// Phase name.
        phase: String,
        /// Index in the phase.
        index: usize,
        /// The pattern.
        pattern: String,
        /// Compiler message.
        message: String,
    },
    /// A continuation token that this router did not issue.
    #[error("invalid middleware continuation: {0}")]
    Continuation(String),
}

// ---------------------------------------------------------------------------------------------
// Manifest input
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestInput {
    build_id: String,
    config: ConfigInput,
    routing: Routing,
    #[serde(default)]
    middleware_matchers: Option<Vec<MiddlewareMatcher>>,
    #[serde(default)]
    functions: Vec<PathEntry>,
    #[serde(default)]
    static_files: Vec<PathEntry>,
    #[serde(default)]
    prerenders: Vec<PathEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigInput {
    #[serde(default)]
    base_path: String,
    #[serde(default)]
    trailing_slash: bool,
    #[serde(default)]
    i18n: Option<I18nConfig>,
}

#[derive(Deserialize)]
struct FallbackModeInput {
    #[serde(default)]
    mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PathEntry {
    pathname: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    /// Functions: what renders them (`PAGES`, `APP_PAGE`, …).
    #[serde(default, rename = "type")]
    output_type: Option<String>,
    /// Prerenders: the route (template) they belong to.
    #[serde(default)]
    route: Option<String>,
    /// Prerenders: what the route does for a path that was not prerendered.
    #[serde(default)]
    fallback_mode: Option<FallbackModeInput>,
}

// ---------------------------------------------------------------------------------------------
// Compiled routes
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CondType {
    Header,
    Cookie,
    Query,
    Host,
}

#[derive(Debug)]
struct Cond {
    ty: CondType,
    key: String,
    /// `normalizeCaptureKey(key)`: letters only.
    capture_key: String,
    /// The value's source and its regex as `next start` builds it, `^<source>$` (`None` when it
    /// does not compile).
    value: Option<(String, Option<JsRegex>)>,
}

#[derive(Debug)]
struct CRoute {
    re: JsRegex,
    /// The route's `source` (for dynamic routes: the page, e.g. `/blog/[slug]`).
    source: Option<String>,
    /// Next's internal rules (`priority`: the trailing-slash redirects): with i18n, `next start`
    /// matches them against the pathname without the default locale.
    priority: bool,
    destination: Option<String>,
    headers: Vec<(String, String)>,
    /// `headers` as they are set when none holds a `$` (the usual route): names lower-cased,
    /// values trimmed, a repeated name merged, as [`match_route`] and [`HeaderList::set`] would
    /// make them on every match.
    static_headers: Option<Vec<(CompactString, CompactString)>>,
    has: Vec<Cond>,
    missing: Vec<Cond>,
    status: Option<u16>,
    /// The destination or a header uses `$…` substitution (regex captures are needed).
    needs_captures: bool,
    /// Dynamic routes: `re` with its group of the Flight suffixes emptied (either form of
    /// [`flight_suffix_groups`]), for a path whose URL itself names a segment: `next start`
    /// matches the route against the path as it is (its page then reads the suffix), so
    /// `[^/]+?` cannot take `first.segments/_tree.segment.rsc` there.
    flight_free: Option<JsRegex>,
}

fn compile_conds(list: &Option<Vec<RouteHas>>) -> Vec<Cond> {
    let mut out = Vec::new();
    for c in list.iter().flatten() {
        let (ty, key, value) = match c {
            // Lower-cased: request headers are read by their lower-case names.
            RouteHas::Header { key, value } => {
                (CondType::Header, key.to_ascii_lowercase(), value.clone())
            }
            RouteHas::Cookie { key, value } => (CondType::Cookie, key.clone(), value.clone()),
            RouteHas::Query { key, value } => (CondType::Query, key.clone(), value.clone()),
            RouteHas::Host { value } => (CondType::Host, String::new(), Some(value.clone())),
        };
        // As `next start`'s `matchHas` (prepare-destination.js) builds it: the source between
        // `^` and `$` as it is, not grouped (`yes|true` is `^yes` or `true$`), and nothing else
        // tried. (`@next/routing` tries `^(?:value)$`, then the value unanchored, then the
        // value as a literal: it took `yesyes` for `(?<val>yes|true)`, which `next start` 404s.)
        let value = value.map(|v| {
            let re = JsRegex::new(&format!("^{v}$"), "").ok();
            (v, re)
        });
        let capture_key = key.chars().filter(|c| c.is_ascii_alphabetic()).collect();
        out.push(Cond {
            ty,
            key,
            capture_key,
            value,
        });
    }
    out
}

fn compile_route(phase: &str, index: usize, r: &Route, flags: &str) -> Result<CRoute, RouterError> {
    let re = JsRegex::new(&r.source_regex, flags).map_err(|message| RouterError::Regex {
        phase: phase.into(),
        index,
        pattern: r.source_regex.clone(),
        message,
    })?;
    let headers: Vec<(String, String)> = r
        .headers
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let headers_substitute = headers
        .iter()
        .any(|(k, v)| k.contains('$') || v.contains('$'));
    let needs_captures =
        r.destination.as_deref().is_some_and(|d| d.contains('$')) || headers_substitute;
    let static_headers = (!headers_substitute).then(|| {
        // The list `match_route` makes (a repeated name, compared as written, keeps its first
        // place and its last value), then what `HeaderList::set` stores of each entry.
        let mut merged: Vec<(&str, &str)> = Vec::with_capacity(headers.len());
        for (k, v) in &headers {
            match merged.iter_mut().find(|(mk, _)| *mk == k) {
                Some(e) => e.1 = v,
                None => merged.push((k, v)),
            }
        }
        merged
            .into_iter()
            .map(|(k, v)| (lower(k), CompactString::from(trim_http(v))))
            .collect()
    });
    Ok(CRoute {
        re,
        source: r.source.clone(),
        static_headers,
        priority: r.priority == Some(true),
        needs_captures,
        destination: r.destination.clone(),
        headers,
        has: compile_conds(&r.has),
        missing: compile_conds(&r.missing),
        status: r.status,
        flight_free: None,
    })
}

impl CRoute {
    /// The regex a dynamic route matches a path with: without its Flight-suffix group when the
    /// path itself names a segment (see `flight_free`).
    fn dynamic_regex(&self, url_segment: bool) -> &JsRegex {
        match &self.flight_free {
            Some(re) if url_segment => re,
            _ => &self.re,
        }
    }
}

/// The group of a dynamic route's regex that takes the Flight suffixes, as Next writes it, and
/// the same group emptied. Next 16.4 folds the suffixes into the page's route as an optional
/// group, `(\.rsc|\.segments/.+\.segment\.rsc|)`; 16.2 and 16.3 write a route of their own
/// for them whose group is required and named, `(?<rscSuffix>\.rsc|\.segments/.+\.segment\.rsc)`
/// (its destination ends in `$rscSuffix`). Emptied, either keeps the numbering of the groups.
fn flight_suffix_groups(
    rsc_suffix: &str,
    segment_dir: &str,
    segment_suffix: &str,
) -> [(String, &'static str); 2] {
    let alternatives = format!(
        "{}|{}/.+{}",
        super::regex_escape(rsc_suffix),
        super::regex_escape(segment_dir),
        super::regex_escape(segment_suffix)
    );
    [
        (format!("({alternatives}|)"), "()"),
        (format!("(?<rscSuffix>{alternatives})"), "(?<rscSuffix>)"),
    ]
}

/// The routes of one phase, with a filter that finds in one pass which of them can match a path.
#[derive(Debug)]
struct Phase {
    routes: Vec<CRoute>,
    filter: Option<RegexFilter>,
}

impl Phase {
    fn new(routes: Vec<CRoute>) -> Self {
        let filter = RegexFilter::new(routes.iter().map(|r| &r.re));
        Self { routes, filter }
    }

    /// Middleware's matchers: without a filter when each asks its lookahead in place (the
    /// usual matcher: its filter's walk searched the whole path for the lookahead's body, to
    /// send it to the backtracking matcher on every `/_next/static/…` path).
    fn matchers(routes: Vec<CRoute>) -> Self {
        if routes.iter().all(|r| r.re.tests_lookahead_in_place()) {
            return Self {
                routes,
                filter: None,
            };
        }
        Self::new(routes)
    }

    /// Which routes' regexes may match `path`, and which certainly do (see [`Mask`]).
    fn candidates(&self, path: &str) -> Mask {
        self.filter.as_ref().map_or(Mask::ALL, |f| {
            let m = f.matches(path);
            Mask {
                may: m.may,
                sure: m.sure,
            }
        })
    }

    /// The routes whose regex may match `path`, in order (for loops that never re-filter), each
    /// with whether its regex certainly matches.
    fn may_match_path<'a>(&'a self, path: &str) -> impl Iterator<Item = (&'a CRoute, bool)> + 'a {
        let mask = self.candidates(path);
        self.routes
            .iter()
            .enumerate()
            .filter(move |(i, _)| mask.may(*i))
            .map(move |(i, r)| (r, mask.sure(i)))
    }
}

impl std::ops::Deref for Phase {
    type Target = [CRoute];
    fn deref(&self) -> &[CRoute] {
        &self.routes
    }
}

/// What a phase's filter found about a path: bit `i` of `may` unset, route `i`'s regex certainly
/// does not match; bit `i` of `sure` set, it certainly does (its regex need not run again, only
/// for captures). Phases of more than 128 routes have no filter.
#[derive(Debug, Clone, Copy)]
struct Mask {
    may: u128,
    sure: u128,
}

impl Mask {
    const ALL: Mask = Mask {
        may: u128::MAX,
        sure: 0,
    };

    fn may(&self, i: usize) -> bool {
        i >= 128 || (self.may >> i) & 1 == 1
    }

    fn sure(&self, i: usize) -> bool {
        i < 128 && (self.sure >> i) & 1 == 1
    }
}

/// What a resolved pathname is in the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// `static`, `prerender` or `function`.
    pub kind: &'static str,
    /// Function or prerender id, or the static file (relative to the output directory).
    /// Shared with the router's table: a decision takes it without copying it.
    #[serde(serialize_with = "serialize_str")]
    pub id: Arc<str>,
}

fn serialize_str<S: serde::Serializer>(s: &str, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

/// A router over one build's manifest. Immutable and `Sync`: share it across requests.
#[derive(Debug)]
pub struct Router {
    build_id: String,
    base_path: String,
    /// `<basePath>/_next/data/<buildId>/` (see [`Router::data_prefix`]).
    data_prefix: String,
    trailing_slash: bool,
    i18n: Option<I18n>,
    /// Indexes in `dynamic_routes`, in order, of the routes (pages) whose paths that were not
    /// prerendered are not found (`dynamicParams = false`, `fallback: false`).
    not_found_routes: Vec<usize>,
    should_normalize_next_data: bool,
    rsc_header: String,
    rsc_suffix: String,
    segment_header: Option<String>,
    segment_dir_suffix: String,
    segment_suffix: String,
    before_middleware: Phase,
    middleware: Option<Phase>,
    /// Whether the app has middleware (`middleware` is `None` when its matchers are unknown:
    /// it runs on every path).
    has_middleware: bool,
    before_files: Phase,
    after_files: Phase,
    dynamic_routes: Phase,
    on_match: Phase,
    /// Some onMatch route has a `has`/`missing` condition on the query.
    on_match_reads_query: bool,
    fallback: Phase,
    pathnames: HashMap<String, Target>,
    /// Static outputs that are Flight twins (`/legacy.rsc` of a pages-router page where the
    /// app router is used too: `{}`, which tells the client to load the page as a document).
    static_twins: FxHashSet<String>,
    /// Outputs `next start` does not serve at their own URL (see [`is_internal_page`]).
    internal_pages: FxHashSet<String>,
    /// The pathnames of the files (`public/` and `_next/static`, not pages) by the name
    /// `next start` lists each under: its segments percent-encoded (filesystem.js
    /// `encodeURIPath`), `/docs/my%20file.txt`, webpack's `/_next/static/chunks/pages/posts/
    /// %5Bid%5D-….js`. Read by [`Router::file_by_url`].
    files_by_url: HashMap<String, String>,
    /// What the names of `files_by_url` look like, so that most paths with an escape are
    /// passed over without being decoded.
    file_shapes: NameShapes,
    /// Lower-case names of the request headers any rule reads; others are not kept.
    wanted_headers: Vec<String>,
    pending: std::sync::Mutex<Pending>,
}

// ---------------------------------------------------------------------------------------------
// Requests, headers, decisions
// ---------------------------------------------------------------------------------------------

/// An incoming request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// HTTP method (informational: routing does not depend on it).
    pub method: String,
    /// Absolute URL, or a path resolved against `http://<host header>`.
    pub url: String,
    /// Header name/value pairs in any case; repeated names allowed.
    pub headers: Vec<(String, String)>,
}

/// A list of headers with Fetch `Headers` semantics (case-insensitive names, trimmed values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList(Vec<(CompactString, CompactString)>);

/// `name` lower-cased, inline when short.
fn lower(name: &str) -> CompactString {
    let mut n = CompactString::from(name);
    n.make_ascii_lowercase();
    n
}

/// Trims HTTP whitespace (space, tab, CR, LF): bytes, not chars (it runs on every header value).
fn trim_http(v: &str) -> &str {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let b = v.as_bytes();
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |i| i + 1);
    // ASCII bytes are char boundaries.
    v.get(start..end).unwrap_or("")
}

/// The request headers routing reads (see [`Router::header_names`]), borrowed from the caller
/// (names from the router, values from the request): a request carries a few of them, so they
/// are read in place instead of copied into a list of their own. Values are trimmed.
#[derive(Debug, Clone, Default)]
pub struct RequestHeaders<'a>(SmallVec<[(Cow<'a, str>, Cow<'a, str>); 4]>);

impl<'a> RequestHeaders<'a> {
    /// Adds a header (`name` lower-case); a repeated name is read joined with `, `.
    pub fn push(&mut self, name: &'a str, value: &'a str) {
        debug_assert!(
            !name.bytes().any(|b| b.is_ascii_uppercase()),
            "header names are pushed lower-case: {name}"
        );
        self.0
            .push((Cow::Borrowed(name), Cow::Borrowed(trim_http(value))));
    }

    /// The same headers, owning their text (to outlive the request).
    fn into_owned(self) -> RequestHeaders<'static> {
        RequestHeaders(
            self.0
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        )
    }

    /// `headers.get(name)` (`name` lower-case, as every name pushed is), borrowed when the
    /// header occurs once. (Names compared as they are: folding both sides on each of the
    /// several reads a request makes cost ~170 instructions a request.)
    fn get_cow(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut it = self.0.iter().filter(|(k, _)| k == name).peekable();
        let (_, first) = it.next()?;
        if it.peek().is_none() {
            return Some(Cow::Borrowed(first));
        }
        let mut joined = first.to_string();
        for (_, v) in it {
            joined.push_str(", ");
            joined.push_str(v);
        }
        Some(Cow::Owned(joined))
    }
}

impl RequestHeaders<'static> {
    /// The same headers, to be read beside ones of a shorter life (`SmallVec` makes the
    /// lifetime invariant: the entries are moved, not the list).
    fn shorten<'b>(self) -> RequestHeaders<'b> {
        let mut out = RequestHeaders::default();
        for entry in self.0 {
            out.0.push(entry);
        }
        out
    }
}

impl HeaderList {
    /// `headers.get(name)`: values joined with `, `.
    pub fn get(&self, name: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for (k, v) in &self.0 {
            if k.eq_ignore_ascii_case(name) {
                match &mut out {
                    Some(s) => {
                        s.push_str(", ");
                        s.push_str(v);
                    }
                    None => out = Some(v.as_str().to_owned()),
                }
            }
        }
        out
    }

    /// `headers.has(name)`.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// `headers.set(name, value)`.
    pub fn set(&mut self, name: &str, value: &str) {
        // Names are stored lower-cased: compared without lower-casing a copy first.
        self.set_where(
            |k| k.eq_ignore_ascii_case(name),
            trim_http(value).into(),
            || lower(name),
        );
    }

    /// [`HeaderList::set`] of a name already lower-cased and a value already trimmed (as
    /// [`lower`] and [`trim_http`] make them): compared and stored as they are.
    fn set_normalized(&mut self, name: &CompactString, value: &CompactString) {
        self.set_where(|k| k == name, value.clone(), || name.clone());
    }

    /// `set`: `value` for the first entry whose name `is_name` accepts, the later ones removed,
    /// or a new entry named `new_name()` when there is none.
    fn set_where(
        &mut self,
        is_name: impl Fn(&CompactString) -> bool,
        value: CompactString,
        new_name: impl FnOnce() -> CompactString,
    ) {
        match self.0.iter().position(|(k, _)| is_name(k)) {
            Some(i) => {
                self.0[i].1 = value;
                let mut j = i + 1;
                while j < self.0.len() {
                    if is_name(&self.0[j].0) {
                        self.0.remove(j);
                    } else {
                        j += 1;
                    }
                }
            }
            None => self.0.push((new_name(), value)),
        }
    }

    /// `headers.append(name, value)`.
    pub fn append(&mut self, name: &str, value: &str) {
        self.0.push((lower(name), trim_http(value).into()));
    }

    /// Fetch iteration order: sorted names, values combined with `, ` except `set-cookie`.
    /// Short names and values stay inline (a decision usually carries one or two headers).
    pub fn entries(&self) -> Vec<(CompactString, CompactString)> {
        let mut out = Vec::with_capacity(self.0.len());
        self.entries_into(&mut out);
        out
    }

    /// [`HeaderList::entries`] written into `out` (cleared first; its capacity kept).
    fn entries_into(&self, out: &mut Vec<(CompactString, CompactString)>) {
        out.clear();
        let mut push = |(k, v): &(CompactString, CompactString)| match out.last_mut() {
            Some((pk, pv)) if pk == k && k != "set-cookie" => {
                pv.push_str(", ");
                pv.push_str(v);
            }
            _ => out.push((k.clone(), v.clone())),
        };
        // Names are stored lower-cased, so equal names end up adjacent in name order and are
        // combined there; a stable sort keeps a repeated name's values in the order they were
        // added. A list already in order (one or two headers, usually) is not sorted.
        if self.0.windows(2).all(|w| w[0].0 <= w[1].0) {
            self.0.iter().for_each(&mut push);
        } else {
            let mut sorted: Vec<&(CompactString, CompactString)> = self.0.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            sorted.into_iter().for_each(push);
        }
    }
}

/// What the router decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DecisionKind {
    /// A pathname of the output serves the request (`resolved_pathname`).
    Resolved,
    /// Answer with a redirect (`redirect`).
    Redirect,
    /// Proxy to another origin (`external_url`).
    ExternalRewrite,
    /// Run middleware with `middleware_url`, then call [`Router::resume`] with `continuation`.
    Middleware,
    /// Middleware already produced the response.
    MiddlewareResponded,
    /// Answer with `status` and `headers`, no body target.
    Status,
    /// Nothing matched: render the 404 page.
    NotFound,
    /// The URL cannot be parsed.
    BadRequest,
}

/// A redirect to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    /// `Location` value.
    pub location: String,
    /// 3xx status.
    pub status: u16,
}

/// The routing decision for one request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// What to do.
    pub kind: DecisionKind,
    /// Pathname of the output to serve (for dynamic routes: the template, e.g. `/blog/[slug]`).
    pub resolved_pathname: Option<String>,
    /// Concrete pathname to invoke (e.g. `/blog/first`).
    pub invocation_pathname: Option<String>,
    /// Resolved query (its pairs in order; repeated keys repeat).
    pub query: Query,
    /// Status set by a route, if any.
    pub status: Option<u16>,
    /// Response headers to add (Fetch order; `set-cookie` may repeat).
    pub headers: Vec<(CompactString, CompactString)>,
    /// Redirect to send.
    pub redirect: Option<Redirect>,
    /// Target of an external rewrite.
    pub external_url: Option<String>,
    /// Dynamic route params (`1`, `2`, … and named groups; `None` = group did not participate).
    pub route_matches: Vec<(CompactString, Option<CompactString>)>,
    /// URL to invoke middleware with.
    pub middleware_url: Option<String>,
    /// Handle for [`Router::resume`] (single use; see [`PENDING_CAPACITY`]).
    pub continuation: Option<u32>,
    /// What `resolved_pathname` is in the output.
    pub target: Option<Target>,
    /// The `.rsc` / segment output to serve instead, for RSC requests.
    pub rsc_pathname: Option<String>,
    /// With [`DecisionKind::NotFound`]: the dynamic route (page) the path matched, whose
    /// paths are all prerendered and whose fallback is "not found" (`dynamicParams = false`,
    /// `fallback: false`). `next start` answers such a 404 from that route (cacheable), not as
    /// an unmatched URL.
    pub matched_route: Option<String>,
    /// The strings of the fields above as [`Decision::reset`] took them, kept for the next
    /// decision written here to fill instead of allocating its own (a kept decision otherwise
    /// allocated two to three strings a request).
    #[serde(skip)]
    spare: Spare,
}

/// [`Decision::spare`]: a clone of a decision starts without any (they hold no value).
#[derive(Debug, Default)]
struct Spare {
    /// Strings of the decision's text fields.
    texts: Vec<String>,
    /// The room of a request's response headers (routing gathers them in a list of its own
    /// before a decision copies them): an allocation per request on apps with a header route
    /// that matches every path.
    headers: HeaderList,
}

impl Spare {
    /// Keeps `list`'s room, emptied, unless it is more than a kept decision keeps.
    fn keep_headers(&mut self, mut list: HeaderList) {
        clear_kept(&mut list.0);
        self.headers = list;
    }
}

impl Clone for Spare {
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// A decision's query, kept as `application/x-www-form-urlencoded` text (without the `?`): the
/// URL's own query as it came when routing merged nothing into it, else the merged pairs
/// serialized. Its pairs are decoded only when asked for: the runtime forwards the text in the
/// invocation URL, and decoding every request's pairs (and packing them for JavaScript) was
/// ~7% of a routed request's instructions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(String);

impl Query {
    /// The query as a URL carries it (no leading `?`; empty when there is none).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The decoded pairs, in order (as `URLSearchParams` reads the text).
    pub fn pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        form_pairs(&self.0)
    }

    /// Empties it, keeping its room unless that is more than a kept decision keeps.
    fn clear_kept(&mut self) {
        if self.0.capacity() > KEPT_TEXT_CAPACITY {
            self.0 = String::new();
        } else {
            self.0.clear();
        }
    }

    /// Sets it to `text` (a URL's query), in the room it has.
    fn set(&mut self, text: &str) {
        self.0.clear();
        self.0.push_str(text);
    }

    /// Sets it to `pairs` serialized.
    fn set_pairs<'p>(&mut self, pairs: impl IntoIterator<Item = (Cow<'p, str>, Cow<'p, str>)>) {
        let mut text = std::mem::take(&mut self.0);
        text.clear();
        self.0 = url::form_urlencoded::Serializer::new(text)
            .extend_pairs(pairs)
            .finish();
    }
}

impl Serialize for Query {
    /// As its pairs (`[[key, value], …]`).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.pairs())
    }
}

impl Decision {
    fn new(kind: DecisionKind) -> Self {
        Self {
            kind,
            resolved_pathname: None,
            invocation_pathname: None,
            query: Query::default(),
            status: None,
            headers: Vec::new(),
            redirect: None,
            external_url: None,
            route_matches: Vec::new(),
            middleware_url: None,
            continuation: None,
            target: None,
            rsc_pathname: None,
            matched_route: None,
            spare: Spare::default(),
        }
    }

    /// Makes this decision one of `kind` with no field set, as [`Decision::new`] makes it, but
    /// in place: a decision is ~300 bytes, and building one per step and returning it through
    /// the steps of routing copied it several times a request. The lists keep their capacity,
    /// so a decision reused request after request (the addon keeps two) allocates them once;
    /// so do its strings, taken into [`Decision::spare`] for [`Decision::text`] to fill again.
    fn reset(&mut self, kind: DecisionKind) {
        self.kind = kind;
        let texts = [
            &mut self.resolved_pathname,
            &mut self.invocation_pathname,
            &mut self.external_url,
            &mut self.middleware_url,
            &mut self.rsc_pathname,
            &mut self.matched_route,
        ];
        for text in texts {
            if let Some(t) = text.take() {
                if t.capacity() <= KEPT_TEXT_CAPACITY && self.spare.texts.len() < KEPT_TEXTS {
                    self.spare.texts.push(t);
                }
            }
        }
        self.query.clear_kept();
        self.status = None;
        clear_kept(&mut self.headers);
        self.redirect = None;
        clear_kept(&mut self.route_matches);
        self.continuation = None;
        self.target = None;
    }

    /// `s` in a string of [`Decision::spare`] when one is kept, else in a new one.
    fn text(&mut self, s: &str) -> String {
        match self.spare.texts.pop() {
            Some(mut t) => {
                t.clear();
                t.push_str(s);
                t
            }
            None => s.to_string(),
        }
    }

    /// [`Decision::reset`], then the response headers and status routing set.
    fn reset_with_headers(
        &mut self,
        kind: DecisionKind,
        headers: &HeaderList,
        status: Option<u16>,
    ) {
        self.reset(kind);
        headers.entries_into(&mut self.headers);
        self.status = status;
    }
}

/// The most entries a kept decision's list holds room for between requests: one request with
/// thousands of query pairs would otherwise leave their room held by the router until the next.
const KEPT_LIST_CAPACITY: usize = 64;

/// The most strings a kept decision keeps between requests ([`Decision::spare`]): one for each
/// of its text fields.
const KEPT_TEXTS: usize = 6;

/// The longest string (its room, in bytes) a kept decision keeps between requests.
const KEPT_TEXT_CAPACITY: usize = 1024;

/// Empties `list`, keeping its room unless it grew past [`KEPT_LIST_CAPACITY`].
fn clear_kept<T>(list: &mut Vec<T>) {
    if list.capacity() > KEPT_LIST_CAPACITY {
        *list = Vec::new();
    } else {
        list.clear();
    }
}

impl Default for Decision {
    /// A [`DecisionKind::NotFound`] decision with no field set: a place for the `…_into`
    /// calls of [`Router`] to write decisions into.
    fn default() -> Self {
        Self::new(DecisionKind::NotFound)
    }
}

/// What middleware did (`MiddlewareResult` of `@next/routing`).
#[derive(Debug, Clone, Default)]
pub struct MiddlewareResult {
    /// Middleware sent the full response.
    pub body_sent: bool,
    /// Request headers to continue with (replaces the request's headers).
    pub request_headers: Option<Vec<(String, String)>>,
    /// Response headers to add.
    pub response_headers: Option<Vec<(String, String)>>,
    /// Redirect `(absolute URL, status)`.
    pub redirect: Option<(String, u16)>,
    /// Rewrite target (absolute URL, or a path relative to the request URL).
    pub rewrite: Option<String>,
}

impl<'a> State<'a> {
    /// The state of a request with `headers` before routing has begun. The caller keeps it
    /// and routing fills it in place: a state is ~300 bytes, mostly the headers, and moving it
    /// from step to step of routing copied it several times a request.
    fn new(headers: RequestHeaders<'a>) -> Self {
        State {
            headers,
            resp: HeaderList::default(),
            status: None,
            i18n_redirect: None,
            stopped: None,
            is_data: false,
        }
    }

    /// The same state with its request headers mapped by `f` (to a list of another lifetime:
    /// owned to wait in [`Pending`], shortened to continue with the caller's).
    fn map_headers<'b>(
        self,
        f: impl FnOnce(RequestHeaders<'a>) -> RequestHeaders<'b>,
    ) -> State<'b> {
        State {
            headers: f(self.headers),
            resp: self.resp,
            status: self.status,
            i18n_redirect: self.i18n_redirect,
            stopped: self.stopped,
            is_data: self.is_data,
        }
    }
}

/// Routing state saved while middleware runs.
#[derive(Debug)]
struct State<'a> {
    headers: RequestHeaders<'a>,
    resp: HeaderList,
    status: Option<u16>,
    i18n_redirect: Option<(String, u16)>,
    stopped: Option<Option<u16>>,
    is_data: bool,
}

// ---------------------------------------------------------------------------------------------
// URL helpers (WHATWG semantics)
// ---------------------------------------------------------------------------------------------

fn js_search(u: &Url) -> String {
    match u.query() {
        Some(q) if !q.is_empty() => cat(&["?", q]),
        _ => String::new(),
    }
}

fn js_hash(u: &Url) -> String {
    match u.fragment() {
        Some(f) if !f.is_empty() => cat(&["#", f]),
        _ => String::new(),
    }
}

fn query_get(u: &Url, key: &str) -> Option<String> {
    u.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The pairs of `query` after `url.searchParams.set(k, v)` for every pair of `dest_query`, in
/// order; `None` when `dest_query` has no pair (the query is left as it is, not re-serialized).
/// Pairs stay borrowed from the two queries (decoded copies only where `%` or `+` asks).
fn merged_pairs<'q>(
    query: &'q str,
    dest_query: &'q str,
) -> Option<Vec<(Cow<'q, str>, Cow<'q, str>)>> {
    let mut add = form_pairs(dest_query).peekable();
    add.peek()?;
    let mut list: Vec<(Cow<'_, str>, Cow<'_, str>)> = form_pairs(query).collect();
    for (k, v) in add {
        match list.iter().position(|(lk, _)| *lk == k) {
            Some(i) => {
                list[i].1 = v;
                let mut j = i + 1;
                while j < list.len() {
                    if list[j].0 == k {
                        list.remove(j);
                    } else {
                        j += 1;
                    }
                }
            }
            None => list.push((k, v)),
        }
    }
    Some(list)
}

/// `url.searchParams.set(k, v)` for every pair of `dest_query`, in order.
fn merge_query(u: &mut Url, dest_query: &str) {
    let query = u.query().unwrap_or("");
    let Some(list) = merged_pairs(query, dest_query) else {
        return;
    };
    let s = url::form_urlencoded::Serializer::new(String::with_capacity(
        query.len() + dest_query.len() + 8,
    ))
    .extend_pairs(list)
    .finish();
    u.set_query(Some(&s));
}

/// `destination.split('?')`: the part before the first `?` and the part between the first and
/// the second `?`.
fn split_destination(dest: &str) -> (&str, Option<&str>) {
    match split_once_byte(dest, b'?') {
        None => (dest, None),
        Some((path, rest)) => (
            path,
            Some(split_once_byte(rest, b'?').map_or(rest, |(q, _)| q)),
        ),
    }
}

fn is_external(dest: &str) -> bool {
    dest.starts_with("http://") || dest.starts_with("https://")
}

fn apply_destination(u: &Url, dest: &str) -> Option<Url> {
    if is_external(dest) {
        return Url::parse(dest).ok();
    }
    let mut n = u.clone();
    let (path, q) = split_destination(dest);
    n.set_path(path);
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        merge_query(&mut n, q);
    }
    Some(n)
}

fn origin(u: &Url) -> String {
    u.origin_ascii()
}

/// `a.origin === b.origin`: compared part by part for `http`/`https` (no allocation), serialized
/// otherwise.
///
/// Whether a rewrite leaves the request's origin is asked of the URL routed so far and the
/// rewritten one: the URL routed keeps the request's origin until a rewrite leaves it, which ends
/// routing (an external rewrite), so the two questions have the same answer, and the request's
/// origin need not be kept (working it out cost ~130 instructions a request, most of which
/// rewrite nothing).
fn same_origin(a: &Url, b: &Url) -> bool {
    match (a.scheme(), b.scheme()) {
        (x @ ("http" | "https"), y) if x == y => {
            a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
        }
        ("http" | "https", _) | (_, "http" | "https") => false,
        _ => origin(a) == origin(b),
    }
}

/// How many middleware continuations a router keeps (a ring: the oldest unresumed one is
/// dropped when a newer request needs its slot, and resuming it then fails).
pub const PENDING_CAPACITY: usize = 16384;

/// A request waiting for middleware: where routing paused, and its state.
type Waiting = Box<(Url, State<'static>)>;

/// Continuations waiting for middleware.
#[derive(Debug, Default)]
struct Pending {
    next: u32,
    slots: Vec<Option<(u32, Waiting)>>,
}

impl Pending {
    fn put(&mut self, url: Url, st: State<'static>) -> u32 {
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        let slot = id as usize % PENDING_CAPACITY;
        let entry = Some((id, Box::new((url, st))));
        if slot < self.slots.len() {
            self.slots[slot] = entry;
        } else {
            self.slots.push(entry);
        }
        id
    }

    fn take(&mut self, id: u32) -> Option<(Url, State<'static>)> {
        let slot = self.slots.get_mut(id as usize % PENDING_CAPACITY)?;
        match slot {
            Some((sid, _)) if *sid == id => slot.take().map(|(_, st)| *st),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions and destinations
// ---------------------------------------------------------------------------------------------

type HasCaptures = Vec<(String, String)>;

fn caps_insert(caps: &mut HasCaptures, k: &str, v: &str) {
    match caps.iter_mut().find(|(ck, _)| ck == k) {
        Some(e) => e.1 = v.to_string(),
        None => caps.push((k.to_string(), v.to_string())),
    }
}

fn parse_cookies(header: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for part in header.split(';') {
        let mut it = part.trim().split('=');
        let name = it.next().unwrap_or("");
        if name.is_empty() {
            continue;
        }
        let value = it.collect::<Vec<_>>().join("=");
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(e) => e.1 = value,
            None => out.push((name, value)),
        }
    }
    out
}

/// The value condition `c` reads, borrowed where the request holds it as it is (a header, the
/// host): most conditions are only tested, and a copy is made only for a captured value.
fn condition_value<'v>(c: &Cond, u: &'v Url, h: &'v RequestHeaders<'_>) -> Option<Cow<'v, str>> {
    match c.ty {
        CondType::Header => h.get_cow(&c.key).filter(|v| !v.is_empty()),
        CondType::Cookie => {
            let header = h.get_cow("cookie").filter(|v| !v.is_empty())?;
            parse_cookies(&header)
                .into_iter()
                .find(|(n, _)| *n == c.key)
                .map(|(_, v)| Cow::Owned(v))
        }
        CondType::Query => query_get(u, &c.key)
            .filter(|v| !v.is_empty())
            .map(Cow::Owned),
        CondType::Host => Some(Cow::Borrowed(u.host_str().unwrap_or(""))),
    }
}

/// Whether condition `c` matches the request's `value` (`matchHas`): `Some((capturedValue,
/// namedCaptures))` on a match, the captures as `@next/routing`'s `matchesCondition` gives them.
fn condition_matches(
    value: Option<Cow<'_, str>>,
    c: &Cond,
) -> Option<(String, Vec<(String, String)>)> {
    let value = value?;
    let Some((source, res)) = &c.value else {
        return Some((value.into_owned(), Vec::new()));
    };
    let Some(re) = res else {
        return (*value == **source).then(|| (value.into_owned(), Vec::new()));
    };
    let m = re.captures(&value)?;
    let named = m
        .named
        .iter()
        .filter_map(|(n, v)| {
            v.as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| (n.to_string(), v.to_string()))
        })
        .collect();
    let whole = m.groups.first().cloned().flatten().unwrap_or_default();
    Some((whole.into_string(), named))
}

fn check_has(has: &[Cond], u: &Url, h: &RequestHeaders<'_>) -> Option<HasCaptures> {
    let mut caps = HasCaptures::new();
    for c in has {
        let (captured, named) = condition_matches(condition_value(c, u, h), c)?;
        for (k, v) in named {
            caps_insert(&mut caps, &k, &v);
        }
        if c.ty != CondType::Host {
            caps_insert(&mut caps, &c.capture_key, &captured);
        }
    }
    Some(caps)
}

fn check_missing(missing: &[Cond], u: &Url, h: &RequestHeaders<'_>) -> bool {
    missing.iter().all(|c| !condition_holds(c, u, h))
}

/// Whether [`condition_matches`] would match: a yes or no, which is all `missing` asks, so no
/// capture is copied (a middleware matcher's `missing` header is checked on most requests, and
/// is usually absent).
fn condition_holds(c: &Cond, u: &Url, h: &RequestHeaders<'_>) -> bool {
    let Some(value) = condition_value(c, u, h) else {
        return false;
    };
    let Some((source, res)) = &c.value else {
        return true;
    };
    match res {
        Some(re) => re.is_match(&value),
        // (A value that is no regex here, compared as a literal.)
        None => *value == **source,
    }
}

/// `replaceDestination`: `$1`, `$name` from the regex match, then from `has` captures.
///
/// As `@next/routing`: at each `$`, the longest key that follows it (a `has` capture key, a group
/// number not followed by another digit, a named group), the first of those lists winning a tie.
/// The keys are matched where they stand instead of being listed and sorted per call.
fn replace_destination<'d>(dest: &'d str, m: Option<&Captures>, has: &HasCaptures) -> Cow<'d, str> {
    // Most header names and values, and many destinations, hold no `$`: nothing to look up,
    // and nothing to copy.
    if find_byte(dest, b'$').is_none() {
        return Cow::Borrowed(dest);
    }
    let groups = m.map_or(0, |m| m.groups.len());
    let named = m.map_or(&[][..], |m| m.named.as_slice());
    if has.is_empty() && groups <= 1 && named.is_empty() {
        return Cow::Borrowed(dest);
    }
    let mut out = String::with_capacity(dest.len() + 16);
    let mut rest = dest;
    while let Some(pos) = find_byte(rest, b'$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        // A group number is the whole run of digits (`$10` is not `$1` then `0`).
        let run = after.bytes().take_while(u8::is_ascii_digit).count();
        let digits = &after[..run];
        let number = (!digits.starts_with('0')
            && digits.parse::<usize>().is_ok_and(|n| n >= 1 && n < groups))
        .then_some(digits);
        let candidates = has
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(number)
            .chain(named.iter().map(|(n, _)| n.as_str()));
        let mut key: Option<&str> = None;
        for k in candidates {
            if after.starts_with(k) && key.is_none_or(|best| k.len() > best.len()) {
                key = Some(k);
            }
        }
        match key {
            Some(k) => {
                push_substitute(&mut out, k, m, has);
                rest = &after[k.len()..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Appends to `out` what `$key` stands for (see [`replace_destination`]).
fn push_substitute(out: &mut String, key: &str, m: Option<&Captures>, has: &HasCaptures) {
    if let Some(m) = m {
        // A group number as JavaScript writes it: digits without a leading zero (`parse` also
        // takes a leading `+`).
        let canonical = !key.starts_with('0') && key.bytes().all(|b| b.is_ascii_digit());
        if let Some(n) = key.parse::<usize>().ok().filter(|_| canonical) {
            if n > 0 && n < m.groups.len() {
                out.push_str(m.groups[n].as_deref().unwrap_or_default());
                return;
            }
        }
        if let Some(v) = m.named_group(key) {
            out.push_str(v.as_deref().unwrap_or_default());
            return;
        }
    }
    match has.iter().find(|(k, _)| k == key) {
        Some((_, v)) => out.push_str(v),
        None => {
            out.push('$');
            out.push_str(key);
        }
    }
}

/// A matched route's destination and headers, substituted (borrowed from the route when they
/// hold nothing to substitute).
struct Matched<'r> {
    destination: Option<Cow<'r, str>>,
    headers: Option<MatchedHeaders<'r>>,
}

/// The headers of a matched route.
enum MatchedHeaders<'r> {
    /// Compiled with the route ([`CRoute::static_headers`]).
    Static(&'r [(CompactString, CompactString)]),
    /// With their `$…` substituted, as the route writes them.
    Substituted(Vec<(Cow<'r, str>, Cow<'r, str>)>),
}

impl MatchedHeaders<'_> {
    /// `resp.set(name, value)` for each.
    fn apply(&self, resp: &mut HeaderList) {
        match self {
            Self::Static(list) => {
                for (k, v) in *list {
                    resp.set_normalized(k, v);
                }
            }
            Self::Substituted(list) => {
                for (k, v) in list {
                    resp.set(k, v);
                }
            }
        }
    }

    /// The `(name, value)` pairs.
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        let (a, b) = match self {
            Self::Static(list) => (
                Some(list.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                None,
            ),
            Self::Substituted(list) => (None, Some(list.iter().map(|(k, v)| (&**k, &**v)))),
        };
        a.into_iter().flatten().chain(b.into_iter().flatten())
    }

    /// Whether a `location` or `refresh` header is among them.
    fn has_redirect(&self) -> bool {
        self.pairs()
            .any(|(k, _)| k.eq_ignore_ascii_case("location") || k.eq_ignore_ascii_case("refresh"))
    }

    /// The value of the first `location` header.
    fn location(&self) -> Option<&str> {
        self.pairs()
            .find(|(k, _)| k.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v)
    }
}

/// The lengths and last bytes of a set of names: a path whose length and last byte no name has
/// is none of them, told without hashing (or decoding) it. A tenth of the corpus's paths have an
/// escape, and each filesystem check of one decoded it: ~100 instructions a request.
#[derive(Debug, Default)]
struct NameShapes {
    /// Bit `n` for a name of `n` bytes, the last bit for 255 or more.
    lengths: [u64; 4],
    last_bytes: [u64; 4],
}

impl NameShapes {
    fn add(&mut self, name: &str) {
        let set = |bits: &mut [u64; 4], i: usize| bits[i / 64] |= 1 << (i % 64);
        set(&mut self.lengths, name.len().min(255));
        if let Some(&last) = name.as_bytes().last() {
            set(&mut self.last_bytes, usize::from(last));
        }
    }

    fn may_name(&self, len: usize, last: u8) -> bool {
        has_bit(&self.lengths, len.min(255)) && has_bit(&self.last_bytes, usize::from(last))
    }
}

fn has_bit(bits: &[u64; 4], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

/// Whether `s` has a `%`, eight bytes at a time: it is asked of every path the filesystem
/// lookup does not find as it is (`<[u8]>::contains` took ~25 instructions a call there).
#[inline]
fn has_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const PERCENTS: u64 = 0x2525_2525_2525_2525;
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // A zero byte of `x` is a `%` of the chunk (the classic has-zero-byte test).
        let x = u64::from_le_bytes(word) ^ PERCENTS;
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            return true;
        }
    }
    chunks.remainder().contains(&b'%')
}

/// `sure`: the phase's filter found that the route's regex matches `u`'s path.
fn match_route<'r>(
    r: &'r CRoute,
    u: &Url,
    h: &RequestHeaders<'_>,
    sure: bool,
) -> Option<Matched<'r>> {
    let m = if r.needs_captures {
        r.re.captures(u.path())?
    } else if sure || r.re.is_match(u.path()) {
        Captures::default()
    } else {
        return None;
    };
    let caps = check_has(&r.has, u, h)?;
    if !check_missing(&r.missing, u, h) {
        return None;
    }
    let destination = r
        .destination
        .as_ref()
        .map(|d| replace_destination(d, Some(&m), &caps));
    let headers = (!r.headers.is_empty()).then(|| {
        if let Some(list) = &r.static_headers {
            return MatchedHeaders::Static(list);
        }
        let mut out: Vec<(Cow<'r, str>, Cow<'r, str>)> = Vec::with_capacity(r.headers.len());
        for (k, v) in &r.headers {
            let k = replace_destination(k, Some(&m), &caps);
            let v = replace_destination(v, Some(&m), &caps);
            match out.iter_mut().find(|(ok, _)| *ok == k) {
                Some(e) => e.1 = v,
                None => out.push((k, v)),
            }
        }
        MatchedHeaders::Substituted(out)
    });
    Some(Matched {
        destination,
        headers,
    })
}

fn is_redirect_status(s: Option<u16>) -> bool {
    s.is_some_and(|s| (300..400).contains(&s))
}

/// A redirect's `Location` with the request's query, as `next start` writes it (the query
/// parsed and written again: [`redirect_query`]; `@next/routing` appends it as it is). A
/// `Location` with a query of its own is kept as it is.
fn redirect_location_with_query(loc: &str, u: &Url) -> String {
    // (`location.search` is empty for an absent or an empty query alike.)
    let Some(query) = u.query().filter(|q| !q.is_empty()) else {
        return loc.to_string();
    };
    // A plain path on this origin (the usual location, e.g. a trailing-slash redirect's): what
    // the join, the query and the same-origin serialization of `joined_location_with_query`
    // come to, without a new URL.
    if u.joins_as_is(loc) {
        let query = redirect_query(query);
        return if query.is_empty() {
            loc.to_string()
        } else {
            cat(&[loc, "?", &query])
        };
    }
    joined_location_with_query(loc, u, query)
}

/// [`redirect_location_with_query`] for any `loc`, through a URL joined from it; `query` is
/// `u`'s, not empty.
fn joined_location_with_query(loc: &str, u: &Url, query: &str) -> String {
    let Ok(mut n) = u.join(loc) else {
        return loc.to_string();
    };
    if n.query().is_some_and(|q| !q.is_empty()) {
        return loc.to_string();
    }
    let query = redirect_query(query);
    n.set_query(Some(&*query).filter(|q| !q.is_empty()));
    // Absolute as the route wrote it, on this origin too (`next start` formats the destination
    // it parsed; `@next/routing` makes a same-origin one relative): an i18n domain's redirect,
    // `http://fr.example.test/base/posts/1?x=1` asked for on fr.example.test.
    if has_scheme(loc) || !same_origin(&n, u) {
        return n.to_string();
    }
    cat(&[n.path(), &js_search(&n), &js_hash(&n)])
}

/// Whether `loc` begins with a URL scheme (`http:`, `https:`, …): an absolute URL.
fn has_scheme(loc: &str) -> bool {
    let Some((scheme, _)) = loc.split_once(':') else {
        return false;
    };
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

enum PhaseEnd {
    Continue,
    Redirect(Url, u16),
    External(Url),
    Stopped,
}

/// Maps a URL to the pathname Next's internal rules are matched against (`None`: its own).
type Delocalize<'a> = &'a dyn Fn(&Url) -> Option<String>;

/// `processRoutes` for beforeMiddleware and beforeFiles. `internal` gives the pathname that
/// Next's internal (`priority`) rules are matched against, when it differs from `u`'s (i18n).
fn process_routes(
    routes: &Phase,
    u: &mut Url,
    internal: Option<Delocalize<'_>>,
    h: &RequestHeaders<'_>,
    resp: &mut HeaderList,
    status: &mut Option<u16>,
) -> Result<PhaseEnd, ()> {
    // The delocalized path and what the filter finds for it, computed once per URL the phase
    // sees (`None` = not computed yet; `Some((None, _))` = the URL's own path). The URL with
    // that path is built only for a route the filter lets through: most paths reach no
    // internal rule (the trailing-slash redirects), and copying the URL cost more than the rest.
    let mut delocalized: Option<(Option<String>, Mask)> = None;
    let mut delocalized_url: Option<Url> = None;
    let mut mask = routes.candidates(u.path());
    for (i, r) in routes.iter().enumerate() {
        let on_delocalized = internal.is_some() && r.priority;
        let m = match internal {
            Some(f) if r.priority => {
                delocalized
                    .get_or_insert_with(|| match f(u) {
                        Some(path) => {
                            let dmask = routes.candidates(&path);
                            (Some(path), dmask)
                        }
                        None => (None, mask),
                    })
                    .1
            }
            _ => mask,
        };
        if !m.may(i) {
            continue;
        }
        let sure = m.sure(i);
        let mu: &Url = match (&delocalized, on_delocalized) {
            (Some((Some(path), _)), true) => delocalized_url.get_or_insert_with(|| {
                let mut d = u.clone();
                d.set_path(path);
                d
            }),
            _ => u,
        };
        let Some(m) = match_route(r, mu, h, sure) else {
            continue;
        };
        // The URL the route matched: the delocalized one is taken, not copied.
        delocalized = None;
        let taken = delocalized_url.take().filter(|_| on_delocalized);
        let mu = taken.as_ref().unwrap_or(u);
        if let Some(hs) = &m.headers {
            hs.apply(resp);
        }
        if r.status.is_some_and(|s| s != 0) {
            *status = r.status;
        }
        if let Some(hs) = m
            .headers
            .as_ref()
            .filter(|hs| is_redirect_status(r.status) && hs.has_redirect())
        {
            if let Some(d) = &m.destination {
                let target = apply_destination(mu, d).ok_or(())?;
                return Ok(PhaseEnd::Redirect(target, r.status.unwrap_or(308)));
            }
            if let Some(loc) = hs.location() {
                if !loc.is_empty() {
                    resp.set("location", &redirect_location_with_query(loc, mu));
                }
            }
            return Ok(PhaseEnd::Stopped);
        }
        if let Some(d) = &m.destination {
            if is_external(d) {
                return Ok(PhaseEnd::External(Url::parse(d).map_err(|_| ())?));
            }
            *u = apply_destination(mu, d).ok_or(())?;
            mask = routes.candidates(u.path());
        }
    }
    Ok(PhaseEnd::Continue)
}

// ---------------------------------------------------------------------------------------------
// i18n (`@next/routing`'s detectLocale and friends)
// ---------------------------------------------------------------------------------------------

/// `a.toLowerCase() === b.toLowerCase()`, without allocating for ASCII strings.
fn eq_lower(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        // Equal up to ASCII case: equal lower-cased.
        return true;
    }
    // Lower-casing maps a char to one or more chars, and a char takes at most 4 bytes: what
    // lower-cases to n ASCII bytes has at most 4n bytes. Checked before scanning the longer
    // string for non-ASCII (a path segment compared with each locale can be kilobytes).
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_ascii() && (long.len() > 4 * short.len() || long.is_ascii()) {
        return false;
    }
    a.to_lowercase() == b.to_lowercase()
}

/// `path.split('/')[1]` (`None`: no `/`), by bytes: it runs several times a request with i18n.
fn second_segment(path: &str) -> Option<&str> {
    let b = path.as_bytes();
    let start = b.iter().position(|&c| c == b'/')? + 1;
    let len = b[start..].iter().position(|&c| c == b'/');
    Some(&path[start..len.map_or(path.len(), |n| start + n)])
}

/// [`eq_lower`] with `b`'s ASCII-ness known: an ASCII pair is equal only up to ASCII case (the
/// usual: locale and host names are ASCII but in odd configs), which spares scanning `b` again
/// for each of the names it is compared with.
fn eq_lower_known(a: &str, b: &str, b_ascii: bool) -> bool {
    if b_ascii && a.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        eq_lower(a, b)
    }
}

/// A configured name that routing compares case-insensitively on every request (a locale with
/// a path segment, a domain with the host), as JavaScript compares `a.toLowerCase() ===
/// b.toLowerCase()`: lower-cased once when it is ASCII (the usual), so that comparing it with an
/// ASCII text is one pass that lower-cases only the text. (Scanning the name for non-ASCII and
/// folding both sides on every comparison was ~10% of routing a request with i18n.)
#[derive(Debug)]
struct FoldedName {
    /// As configured.
    name: String,
    /// `name` lower-cased, when it is ASCII.
    ascii_lower: Option<Box<str>>,
}

impl FoldedName {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ascii_lower: name.is_ascii().then(|| name.to_ascii_lowercase().into()),
        }
    }

    /// `name.toLowerCase() === text.toLowerCase()`; `text_ascii`: whether `text` is ASCII.
    #[inline]
    fn eq_lower(&self, text: &str, text_ascii: bool) -> bool {
        match &self.ascii_lower {
            Some(lower) if text_ascii => {
                lower.len() == text.len()
                    && lower
                        .bytes()
                        .zip(text.bytes())
                        .all(|(l, t)| l == t.to_ascii_lowercase())
            }
            _ => eq_lower(&self.name, text),
        }
    }
}

/// The i18n config, with the names routing compares on every request folded once
/// ([`FoldedName`]).
#[derive(Debug)]
struct I18n {
    config: I18nConfig,
    /// `config.locales`, in order.
    locales: Vec<FoldedName>,
    /// The host of each of `config.domains` (its domain without a port), in order.
    domain_hosts: Vec<FoldedName>,
}

impl I18n {
    fn new(config: I18nConfig) -> Self {
        let locales = config.locales.iter().map(|l| FoldedName::new(l)).collect();
        let domain_hosts = config
            .domains
            .iter()
            .flatten()
            .map(|d| FoldedName::new(d.domain.split(':').next().unwrap_or("")))
            .collect();
        Self {
            config,
            locales,
            domain_hosts,
        }
    }

    /// `detectDomainLocale`: the first domain whose host is `hostname` or whose locales
    /// include `detected` (both compared case-insensitively).
    fn domain_locale(
        &self,
        hostname: Option<&str>,
        detected: Option<&str>,
    ) -> Option<&DomainLocale> {
        let domains = self.config.domains.as_deref()?;
        let host = hostname.map(|h| (h, h.is_ascii()));
        let detected = detected.map(|l| (l, l.is_ascii()));
        domains.iter().zip(&self.domain_hosts).find_map(|(d, dom)| {
            let found = host.is_some_and(|(h, ascii)| dom.eq_lower(h, ascii))
                || detected.is_some_and(|(det, ascii)| {
                    eq_lower_known(&d.default_locale, det, ascii)
                        || d.locales
                            .iter()
                            .flatten()
                            .any(|l| eq_lower_known(l, det, ascii))
                });
            found.then_some(d)
        })
    }
}

impl std::ops::Deref for I18n {
    type Target = I18nConfig;
    fn deref(&self) -> &I18nConfig {
        &self.config
    }
}

/// `normalizeLocalePath`: the path without its locale segment (borrowed: it is a suffix of
/// `path`, or `/`), and the locale, spelled as configured.
fn normalize_locale_path<'p, 'a>(
    path: &'p str,
    locales: &'a [FoldedName],
) -> (&'p str, Option<&'a str>) {
    if locales.is_empty() {
        return (path, None);
    }
    let Some(seg) = second_segment(path).filter(|s| !s.is_empty()) else {
        return (path, None);
    };
    let ascii = seg.is_ascii();
    match locales.iter().find(|l| l.eq_lower(seg, ascii)) {
        Some(l) => {
            let rest = path.get(l.name.len() + 1..).unwrap_or("");
            (
                if rest.is_empty() { "/" } else { rest },
                Some(l.name.as_str()),
            )
        }
        None => (path, None),
    }
}

/// `path` (whose first segment is `locale`, as [`normalize_locale_path`] found it) with that
/// segment spelled as configured; `None` when it already is.
fn respell_locale(path: &str, locale: &str) -> Option<String> {
    let typed = path.get(1..1 + locale.len())?;
    (typed != locale).then(|| cat(&["/", locale, &path[1 + locale.len()..]]))
}

/// The regex of an i18n app's index data route (`…/<buildId>/en.json`) as `next start` matches it.
/// Next's build (build-complete.js) ends it in `(?<nextLocale>[^/]{1,}).json`, the dot unescaped
/// and no `$`, so it took `…/en.json.rsc`, `…/fr.jsonx` and `…/ssr.json/x` (each served a data
/// output); `next start` matches data URLs against the build's own data routes, which end in
/// `\.json$`, and 404s them. Any other regex is returned as it is.
fn anchored_index_data_route(regex: &str) -> Cow<'_, str> {
    const UNANCHORED: &str = "(?<nextLocale>[^/]{1,}).json";
    match regex.strip_suffix(UNANCHORED) {
        Some(head) if head.contains("/_next/data/") => {
            Cow::Owned(cat(&[head, "(?<nextLocale>[^/]{1,})\\.json$"]))
        }
        _ => Cow::Borrowed(regex),
    }
}

/// The locale `next start` prefers for an `Accept-Language` header (server/accept-header.js
/// `acceptLanguage(header, locales)`, as get-locale-redirect.js asks it): spaces and tabs
/// dropped, the languages by quality (a weight outside 0.001..=1 counts as 1, a weight of 0
/// drops the language), then by the configured order, then as listed; a language is a locale
/// in any case or a prefix of one (`de` is `de-DE`: the header's own `de-AT` is none), `*` the
/// locales the header does not name. A header `next start`'s parser refuses (a language with
/// two parameters, a parameter other than `q`, an empty one) prefers none. (`@next/routing`
/// reads it otherwise: exact matches first, `de-AT` as `de-DE`, so `de, fr;q=0.9` chose `fr`
/// where `next start` redirects to `de-DE`.)
fn accept_language_locale<'a>(raw: &str, locales: &'a [String]) -> Option<&'a str> {
    // What each lower-cased name (a locale, or a prefix of one) stands for, in insertion order:
    // (name, locale, position).
    let mut names: Vec<(String, &'a str, usize)> = Vec::new();
    let mut pos = 0;
    for locale in locales {
        let lower = locale.to_lowercase();
        match names.iter_mut().find(|(n, _, _)| *n == lower) {
            Some(e) => (e.1, e.2) = (locale, pos),
            None => names.push((lower.clone(), locale, pos)),
        }
        pos += 1;
        let parts: Vec<&str> = lower.split('-').collect();
        for n in (1..parts.len()).rev() {
            let prefix = parts[..n].join("-");
            if !names.iter().any(|(k, _, _)| *k == prefix) {
                names.push((prefix, locale, pos));
                pos += 1;
            }
        }
    }
    let find = |token: &str| names.iter().find(|(n, _, _)| n == token);
    let header: String = raw.chars().filter(|c| *c != ' ' && *c != '\t').collect();
    // (token, position in the header, quality, position among the names)
    let mut picks: Vec<(String, usize, f64, Option<usize>)> = Vec::new();
    let mut named: Vec<String> = Vec::new();
    for (i, part) in header.split(',').enumerate() {
        if part.is_empty() {
            continue;
        }
        let params: Vec<&str> = part.split(';').collect();
        if params.len() > 2 || params[0].is_empty() {
            return None;
        }
        let token = params[0].to_lowercase();
        let pref = find(&token).map(|e| e.2);
        named.push(token.clone());
        let mut q = 1.0;
        if let Some(param) = params.get(1) {
            let mut kv = param.split('=');
            let (key, value) = (kv.next().unwrap_or(""), kv.next().unwrap_or(""));
            if value.is_empty() || (key != "q" && key != "Q") {
                return None;
            }
            let score = js_parse_float(value);
            if score == 0.0 {
                continue;
            }
            if score.is_finite() && (0.001..=1.0).contains(&score) {
                q = score;
            }
        }
        picks.push((token, i, q, pref));
    }
    picks.sort_by(|a, b| {
        use std::cmp::Ordering;
        b.2.partial_cmp(&a.2)
            .filter(|o| *o != Ordering::Equal)
            .or_else(|| match (a.3, b.3) {
                (x, y) if x == y => None,
                (None, _) => Some(Ordering::Greater),
                (_, None) => Some(Ordering::Less),
                (Some(x), Some(y)) => Some(x.cmp(&y)),
            })
            .unwrap_or_else(|| a.1.cmp(&b.1))
    });
    for (token, ..) in &picks {
        if token == "*" {
            if let Some((_, locale, _)) = names.iter().find(|(n, _, _)| !named.contains(n)) {
                return Some(locale);
            }
        } else if let Some((_, locale, _)) = find(token) {
            return Some(locale);
        }
    }
    None
}

/// JavaScript `parseFloat`: the longest prefix that reads as a decimal number (sign, digits,
/// fraction, exponent, or `Infinity`); NaN when none does.
fn js_parse_float(s: &str) -> f64 {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    if s[i..].starts_with("Infinity") {
        return if b[0] == b'-' {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let mut any = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        let mut j = i + 1;
        if digits(&mut j) || any {
            any = true;
            i = j;
        }
    }
    if !any {
        return f64::NAN;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1 + usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        if digits(&mut j) {
            i = j;
        }
    }
    s[..i].parse().unwrap_or(f64::NAN)
}

fn cookie_locale<'a>(header: Option<&str>, locales: &'a [String]) -> Option<&'a str> {
    let header = header.filter(|h| !h.is_empty())?;
    if locales.is_empty() {
        return None;
    }
    let mut found: Option<String> = None;
    for part in header.split(';') {
        let mut it = part.trim().split('=');
        let name = it.next().unwrap_or("");
        let rest: Vec<&str> = it.collect();
        if !name.is_empty() && !rest.is_empty() {
            let v = decode_uri_component(&rest.join("="))?;
            if name == "NEXT_LOCALE" {
                found = Some(v);
            }
        }
    }
    let want = found?.to_lowercase();
    if want.is_empty() {
        return None;
    }
    locales
        .iter()
        .find(|l| l.to_lowercase() == want)
        .map(String::as_str)
}

// ---------------------------------------------------------------------------------------------
// The router
// ---------------------------------------------------------------------------------------------

/// `pathHasPrefix`: `path` is `prefix` or starts with `prefix/`.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|r| r.is_empty() || r.starts_with('/') || r.starts_with('?'))
}

/// `removePathPrefix`.
fn remove_path_prefix<'p>(path: &'p str, prefix: &str) -> Cow<'p, str> {
    if prefix.is_empty() || !path_has_prefix(path, prefix) {
        return Cow::Borrowed(path);
    }
    match &path[prefix.len()..] {
        "" => Cow::Borrowed("/"),
        rest if rest.starts_with('/') => Cow::Borrowed(rest),
        rest => Cow::Owned(cat(&["/", rest])),
    }
}

/// `addPathPrefix`.
fn add_path_prefix(path: &str, prefix: &str) -> String {
    if prefix.is_empty() || !path.starts_with('/') {
        return path.to_string();
    }
    cat(&[prefix, path])
}

/// The params of a dynamic route's match appended to `out`: numbered groups, then named ones
/// (a name already listed takes the named value).
fn param_list_into(m: &Captures, out: &mut Vec<(CompactString, Option<CompactString>)>) {
    for (i, g) in m.groups.iter().enumerate().skip(1) {
        if let Some(g) = g {
            // (`to_compact_string` writes an integer's digits directly: no formatter.)
            out.push((
                compact_str::ToCompactString::to_compact_string(&i),
                Some(g.clone()),
            ));
        }
    }
    for (n, v) in &m.named {
        match out.iter_mut().find(|(k, _)| k == n) {
            Some(e) => e.1 = v.clone(),
            None => out.push((n.clone(), v.clone())),
        }
    }
}

/// Whether a (leftmost, non-overlapping) occurrence of `suffix` in `path` is followed by `/`:
/// `path.match_indices(suffix)` by bytes, without the setup of a substring searcher (~370
/// instructions a call, more than the scan of a path).
fn has_segment_dir(path: &str, suffix: &str) -> bool {
    let (p, s) = (path.as_bytes(), suffix.as_bytes());
    if s.is_empty() {
        return path.contains('/');
    }
    let mut i = 0;
    // Candidates start with the suffix's first byte (usually `.`, absent from most paths).
    while let Some(at) = p[i..].iter().position(|&b| b == s[0]) {
        let start = i + at;
        if p[start..].starts_with(s) {
            if p.get(start + s.len()) == Some(&b'/') {
                return true;
            }
            i = start + s.len();
        } else {
            i = start + 1;
        }
    }
    false
}

fn is_dynamic_template(p: &str) -> bool {
    // `/\[[^/]+?\]/`
    let b = p.as_bytes();
    // (Most paths have no `[`: one word-at-a-time search settles them.)
    if !b.contains(&b'[') {
        return false;
    }
    b.iter().enumerate().any(|(i, c)| {
        *c == b'['
            && b[i + 1..]
                .iter()
                .take_while(|c| **c != b'/')
                .skip(1)
                .any(|c| *c == b']')
    })
}

/// Whether an output is a page `next start` answers with a 404 at its own URL (below the
/// basePath and a locale): the pages it keeps out of its routes (`BLOCKED_PAGES`: `/_error`,
/// `/_app`, `/_document`), the app router's not-found page (`/_not-found`), a pages-router
/// `/index`, static or rendered (`pages_output`: its page is `/`; an app route may be named
/// `/index`), and without i18n the static `/500` (with i18n Next lists the localized `/en/500`
/// among its pages, and `next start` serves it, with status 500). The runtime still renders
/// them where they belong (a 404, a 500), and `/` still finds `/index`.
fn is_internal_page(
    pathname: &str,
    base_path: &str,
    locales: &[FoldedName],
    pages_output: bool,
) -> bool {
    let item = remove_path_prefix(pathname, base_path);
    let (rest, _) = normalize_locale_path(&item, locales);
    matches!(rest, "/_error" | "/_app" | "/_document" | "/_not-found")
        || (rest == "/index" && pages_output)
        || (rest == "/500" && locales.is_empty())
}

impl Router {
    /// Builds a router from the text of the output's `manifest.json`.
    pub fn new(manifest_json: &str) -> Result<Self, RouterError> {
        let m: ManifestInput = serde_json::from_str(manifest_json)
            .map_err(|e| RouterError::Manifest(e.to_string()))?;
        // Custom routes (headers, redirects, rewrites) match case-insensitively, as path-to-regexp
        // matches them in `next start` (without `experimental.caseSensitiveRoutes`, which the
        // output does not carry); dynamic routes (pages and their data routes) case-sensitively:
        // `next start` matches them with `new RegExp(re)`, so `/Blog/first` is not
        // `/blog/[slug]` there. (`@next/routing` matches both with the `i` flag.)
        let custom_flags = "i";
        let dynamic_flags = "";
        let compile_with =
            |phase: &str, routes: &[Route], flags: &str| -> Result<Vec<CRoute>, RouterError> {
                routes
                    .iter()
                    .enumerate()
                    .map(|(i, r)| compile_route(phase, i, r, flags))
                    .collect()
            };
        let compile = |phase: &str, routes: &[Route]| compile_with(phase, routes, custom_flags);
        let matchers: Option<Vec<MiddlewareMatcher>> = match m.middleware_matchers {
            Some(list) => Some(list),
            None if !m.routing.middleware_matchers.is_empty() => Some(
                m.routing
                    .middleware_matchers
                    .iter()
                    .map(MiddlewareMatcher::from)
                    .collect(),
            ),
            None => None,
        };
        let matchers_for_headers = matchers.clone();
        let middleware = match matchers {
            Some(list) => Some(
                list.iter()
                    .enumerate()
                    .map(|(i, mm)| {
                        let r = Route {
                            source: mm.source.clone(),
                            source_regex: mm.source_regex.clone(),
                            destination: None,
                            headers: None,
                            has: mm.has.clone(),
                            missing: mm.missing.clone(),
                            status: None,
                            priority: None,
                        };
                        // Case-sensitive, as `next start` matches them (`new RegExp(regexp)`);
                        // `@next/routing` adds the `i` flag.
                        compile_route("middlewareMatchers", i, &r, "")
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Phase::matchers)?,
            ),
            None => None,
        };
        let base_path = m.config.base_path.clone();
        let mut pathnames: HashMap<String, Target> = HashMap::default();
        let mut add = |pathname: &str, kind: &'static str, id: &Option<String>| {
            pathnames.insert(
                pathname.to_string(),
                Target {
                    kind,
                    id: Arc::from(id.as_deref().unwrap_or_default()),
                },
            );
        };
        for f in &m.functions {
            if f.kind.as_deref() != Some("middleware") {
                add(&f.pathname, "function", &f.id);
            }
        }
        let mut static_twins = FxHashSet::default();
        let mut files_by_url = HashMap::default();
        let mut file_shapes = NameShapes::default();
        for s in &m.static_files {
            add(&s.pathname, "static", &s.file);
            if s.kind.as_deref() != Some("static-page") {
                let name = encode_uri_path(&s.pathname);
                file_shapes.add(&name);
                files_by_url.insert(name, s.pathname.clone());
            }
            if !m.routing.rsc.suffix.is_empty()
                && s.pathname.ends_with(&m.routing.rsc.suffix)
                && s.kind.as_deref() != Some("public-file")
            {
                static_twins.insert(s.pathname.clone());
            }
        }
        for p in &m.prerenders {
            add(&p.pathname, "prerender", &p.id);
        }
        let i18n = m.config.i18n.map(I18n::new);
        let locales = i18n.as_ref().map_or(&[][..], |i| &i.locales[..]);
        let internal_pages: FxHashSet<String> = m
            .functions
            .iter()
            .chain(&m.prerenders)
            .chain(
                m.static_files
                    .iter()
                    .filter(|s| s.kind.as_deref() != Some("public-file")),
            )
            .filter(|e| {
                let pages_output = e.kind.as_deref() == Some("static-page")
                    || e.output_type
                        .as_deref()
                        .is_some_and(|t| t.starts_with("PAGES"));
                is_internal_page(&e.pathname, &m.config.base_path, locales, pages_output)
            })
            .map(|e| e.pathname.clone())
            .collect();
        let not_found_sources: FxHashSet<String> = m
            .prerenders
            .iter()
            .filter(|p| {
                p.fallback_mode
                    .as_ref()
                    .and_then(|f| f.mode.as_deref())
                    .is_some_and(|mode| mode == "notFound")
            })
            .filter_map(|p| p.route.clone())
            .collect();
        let rsc = &m.routing.rsc;
        // Only the headers some rule can read: the runtime passes each across napi per request
        // (a string read each), and a header listed here that middleware changes sends its
        // request back through the Router. `host` places a path-only URL; `cookie` and
        // `accept-language` pick a locale (i18n) and `cookie` answers cookie conditions.
        let mut wanted_headers: Vec<String> = vec!["host".to_string()];
        if i18n.is_some() {
            wanted_headers.push("cookie".to_string());
            wanted_headers.push("accept-language".to_string());
        }
        wanted_headers.push(rsc.header.to_ascii_lowercase());
        wanted_headers.extend(
            rsc.prefetch_segment_header
                .iter()
                .map(|s| s.to_ascii_lowercase()),
        );
        let mut conds: Vec<&RouteHas> = Vec::new();
        for (_, routes) in m.routing.phases() {
            for r in routes {
                conds.extend(r.has.iter().chain(&r.missing).flatten());
            }
        }
        for mm in matchers_for_headers.iter().flatten() {
            conds.extend(mm.has.iter().chain(&mm.missing).flatten());
        }
        for c in conds {
            match c {
                RouteHas::Header { key, .. } => wanted_headers.push(key.to_ascii_lowercase()),
                RouteHas::Cookie { .. } => wanted_headers.push("cookie".to_string()),
                _ => {}
            }
        }
        wanted_headers.sort_unstable();
        wanted_headers.dedup();
        // Compiled in the manifest's phase order (the first bad pattern is the one reported).
        let before_middleware =
            Phase::new(compile("beforeMiddleware", &m.routing.before_middleware)?);
        let before_files = Phase::new(compile("beforeFiles", &m.routing.before_files)?);
        let after_files = Phase::new(compile("afterFiles", &m.routing.after_files)?);
        let dynamic_input: Vec<Route> = m
            .routing
            .dynamic_routes
            .iter()
            .map(|r| match anchored_index_data_route(&r.source_regex) {
                Cow::Owned(regex) => Route {
                    source_regex: regex,
                    ..r.clone()
                },
                Cow::Borrowed(_) => r.clone(),
            })
            .collect();
        let mut dynamic = compile_with("dynamicRoutes", &dynamic_input, dynamic_flags)?;
        let segment_dir_suffix = rsc
            .prefetch_segment_dir_suffix
            .clone()
            .unwrap_or_else(|| ".segments".into());
        let segment_suffix = rsc
            .prefetch_segment_suffix
            .clone()
            .unwrap_or_else(|| ".segment.rsc".into());
        let groups = flight_suffix_groups(&rsc.suffix, &segment_dir_suffix, &segment_suffix);
        let with_suffix = dynamic
            .iter_mut()
            .zip(&m.routing.dynamic_routes)
            .filter(|_| !rsc.suffix.is_empty());
        for (r, input) in with_suffix {
            let regex = &input.source_regex;
            if let Some((group, emptied)) = groups.iter().find(|(g, _)| regex.contains(g)) {
                r.flight_free =
                    JsRegex::new(&regex.replacen(group, emptied, 1), dynamic_flags).ok();
            }
        }
        let dynamic_routes = Phase::new(dynamic);
        let on_match = Phase::new(compile("onMatch", &m.routing.on_match)?);
        let not_found_routes = dynamic_routes
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.source
                    .as_ref()
                    .is_some_and(|s| not_found_sources.contains(s))
            })
            .map(|(i, _)| i)
            .collect();
        Ok(Self {
            data_prefix: format!("{}/_next/data/{}/", base_path, m.build_id),
            wanted_headers,
            pending: std::sync::Mutex::new(Pending::default()),
            build_id: m.build_id,
            base_path,
            trailing_slash: m.config.trailing_slash,
            not_found_routes,
            static_twins,
            internal_pages,
            files_by_url,
            file_shapes,
            i18n,
            // As `next start`'s `middleware_next_data` route: wherever middleware runs, also in an
            // app without the pages router (whose build says not to: it has no data routes, and
            // next start then serves an app page at its data URL).
            should_normalize_next_data: m.routing.should_normalize_next_data
                || middleware.as_ref().is_none_or(|m| !m.routes.is_empty()),
            rsc_header: rsc.header.to_ascii_lowercase(),
            rsc_suffix: rsc.suffix.clone(),
            segment_header: rsc
                .prefetch_segment_header
                .as_ref()
                .map(|n| n.to_ascii_lowercase()),
            segment_dir_suffix,
            segment_suffix,
            before_middleware,
            has_middleware: middleware.as_ref().is_none_or(|m| !m.routes.is_empty()),
            middleware,
            before_files,
            after_files,
            dynamic_routes,
            on_match_reads_query: on_match
                .iter()
                .flat_map(|r| r.has.iter().chain(&r.missing))
                .any(|c| c.ty == CondType::Query),
            on_match,
            fallback: Phase::new(compile("fallback", &m.routing.fallback)?),
            pathnames,
        })
    }

    /// Whether routing reads request header `name` (any case). Headers it does not read may be
    /// left out of a [`Request`] and of [`MiddlewareResult::request_headers`] without changing
    /// any decision.
    pub fn wants_header(&self, name: &str) -> bool {
        self.wanted_name(name).is_some()
    }

    /// The lower-case name of a header routing reads, spelled `name` in any case.
    fn wanted_name(&self, name: &str) -> Option<&str> {
        self.wanted_headers
            .iter()
            .find(|w| w.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }

    /// The headers of `pairs` that routing reads, borrowed.
    fn request_headers<'a>(&'a self, pairs: &'a [(String, String)]) -> RequestHeaders<'a> {
        let mut h = RequestHeaders::default();
        for (k, v) in pairs {
            if let Some(name) = self.wanted_name(k) {
                h.push(name, v);
            }
        }
        h
    }

    /// Every pathname the output serves (functions, static files, public files, prerenders).
    pub fn pathnames(&self) -> impl Iterator<Item = &str> {
        self.pathnames.keys().map(String::as_str)
    }

    /// `<basePath>/_next/data/<buildId>/`.
    fn data_prefix(&self) -> &str {
        &self.data_prefix
    }

    fn normalize_next_data(&self, u: &mut Url) {
        let prefix = self.data_prefix();
        let Some(rest) = u.path().strip_prefix(prefix) else {
            return;
        };
        let rest = rest.strip_suffix(".json").unwrap_or(rest);
        // A data URL without a locale is the default locale's (of the request's domain), as
        // next start's `middleware_next_data` route reads it: `…/<id>/posts/77.json` is `en`'s.
        let default_locale = self.i18n.as_ref().and_then(|i18n| {
            let (_, detected) = normalize_locale_path(&cat(&["/", rest]), &i18n.locales);
            detected.is_none().then(|| {
                i18n.domain_locale(u.host_str(), None)
                    .map_or(i18n.default_locale.as_str(), |d| d.default_locale.as_str())
                    .to_string()
            })
        });
        let rest = match &default_locale {
            Some(locale) if rest == "index" => locale.clone(),
            Some(locale) => cat(&[locale, "/", rest]),
            None => rest.to_string(),
        };
        let mut p = if rest == "index" {
            if self.base_path.is_empty() {
                "/".to_string()
            } else {
                self.base_path.clone()
            }
        } else {
            cat(&[&self.base_path, "/", &rest])
        };
        // With `trailingSlash`, as next start's `middleware_next_data` route writes the page
        // path (`maybeAddTrailingSlash`): its own trailing-slash redirect, which runs next, must
        // not send a data request to the page (`@next/routing` leaves the slash off, and every
        // data URL of an app with middleware was a 308 to its page).
        if self.trailing_slash && !p.ends_with('/') {
            p.push('/');
        }
        u.set_path(&p);
    }

    fn denormalize_next_data(&self, u: &Url) -> Url {
        let mut n = u.clone();
        if n.path().starts_with(self.data_prefix()) {
            return n;
        }
        let bp = &self.base_path;
        let mut rest = n.path().to_string();
        if !bp.is_empty() && rest.starts_with(bp.as_str()) {
            rest = rest[bp.len()..].to_string();
        }
        if rest.is_empty() || rest == "/" {
            rest = "/index".into();
        } else if rest.ends_with('/') {
            // (The slash `normalize_next_data` added for `trailingSlash`.)
            rest.pop();
        }
        n.set_path(&cat(&[bp, "/_next/data/", &self.build_id, &rest, ".json"]));
        n
    }

    fn should_invoke_middleware(&self, u: &Url, h: &RequestHeaders<'_>) -> bool {
        let Some(matchers) = &self.middleware else {
            return true;
        };
        if matchers.is_empty() {
            return false;
        }
        let test = |p: &str| {
            let mask = matchers.candidates(p);
            matchers.iter().enumerate().any(|(i, r)| {
                mask.may(i)
                    && (mask.sure(i) || r.re.is_match(p))
                    && check_has(&r.has, u, h).is_some()
                    && check_missing(&r.missing, u, h)
            })
        };
        if test(u.path()) {
            return true;
        }
        match decode_uri_component(u.path()) {
            Some(d) if d != u.path() => test(&d),
            _ => false,
        }
    }

    fn with_locale_fallback(&self, pathname: &str) -> Option<Cow<'_, str>> {
        if let Some(known) = self.known_pathname(pathname) {
            return Some(known);
        }
        let i18n = self.i18n.as_ref()?;
        if let Some(canonical) = self.canonical_locale_path(pathname) {
            if let Some(known) = self.known_pathname(&canonical) {
                return Some(known);
            }
        }
        let bp = &self.base_path;
        let r = if !bp.is_empty() && pathname.starts_with(bp.as_str()) {
            let s = &pathname[bp.len()..];
            if s.is_empty() {
                "/"
            } else {
                s
            }
        } else {
            pathname
        };
        for l in &i18n.config.locales {
            // `r` is `/<l>` or starts with `/<l>/`.
            let Some(after) = r.strip_prefix('/').and_then(|x| x.strip_prefix(l.as_str())) else {
                continue;
            };
            if !after.is_empty() && !after.starts_with('/') {
                continue;
            }
            let s = if after.is_empty() { "/" } else { after };
            let o = cat(&[bp, s]);
            if self.pathnames.contains_key(&o) {
                return Some(Cow::Owned(o));
            }
        }
        None
    }

    /// `p`, unless it is an output `next start` does not serve at its own URL.
    fn routable<'p>(&self, p: Cow<'p, str>) -> Option<Cow<'p, str>> {
        (!self.internal_pages.contains(&*p)).then_some(p)
    }

    /// `path` with its locale segment spelled as configured, when it is spelled otherwise
    /// (`/base/FR/about` -> `/base/fr/about`); `None` when it has no locale segment or already
    /// spells it so. `next start` finds a page under a locale in any case (its filesystem
    /// lookup and dynamic routes take the path without the locale that `normalizeLocalePath`,
    /// which ignores case, removes); the outputs are named with the configured spelling.
    /// A `_next/data` URL's locale is the first segment of its page path
    /// (`/base/_next/data/<buildId>/FR/about.json`, `…/FR.json`).
    fn canonical_locale_path(&self, path: &str) -> Option<String> {
        let i18n = self.i18n.as_ref()?;
        let data = path.starts_with(self.data_prefix());
        let base = if data {
            &self.data_prefix()[..self.data_prefix().len() - 1]
        } else {
            self.base_path.as_str()
        };
        let item = if base.is_empty() {
            path
        } else {
            path.strip_prefix(base).filter(|r| r.starts_with('/'))?
        };
        let page = if data {
            item.strip_suffix(".json").unwrap_or(item)
        } else {
            item
        };
        let (_, locale) = normalize_locale_path(page, &i18n.locales);
        respell_locale(item, locale?).map(|respelled| cat(&[base, &respelled]))
    }

    /// `path` when the output has it, borrowed from the router's own table (the decision copies
    /// it into a string it keeps: no string is made for the lookup).
    fn known_pathname(&self, path: &str) -> Option<Cow<'_, str>> {
        self.pathnames
            .get_key_value(path)
            .map(|(k, _)| Cow::Borrowed(k.as_str()))
    }

    /// The pathname `next start` matches its internal rules against with i18n
    /// (`resolve-routes.js` `handleRoute` for `route.internal`): the default locale (of the
    /// request's domain) removed, the basePath kept. `None` when it is the URL's own pathname.
    fn internal_path(&self, u: &Url) -> Option<String> {
        let i18n = self.i18n.as_ref()?;
        let bp = self.base_path.as_str();
        let path = u.path();
        let had_trailing_slash = path.ends_with('/');
        let mut cur = remove_path_prefix(path, bp).into_owned();
        let had_base_path = cur != path;
        let (rest, detected) = normalize_locale_path(&cur, &i18n.locales);
        let domain = i18n.domain_locale(u.host_str(), None);
        let default = domain.map_or(i18n.default_locale.as_str(), |d| d.default_locale.as_str());
        let is_default = detected == Some(default);
        let prefix = if had_base_path { bp } else { "" };
        if is_default {
            cur = if rest == "/" && had_base_path {
                bp.to_string()
            } else {
                add_path_prefix(rest, prefix)
            };
        } else if had_base_path {
            cur = if cur == "/" {
                bp.to_string()
            } else {
                add_path_prefix(&cur, bp)
            };
        }
        if (is_default || had_base_path)
            && had_trailing_slash
            && self.trailing_slash
            && !cur.ends_with('/')
        {
            cur.push('/');
        }
        (cur != path).then_some(cur)
    }

    /// What `next start`'s filesystem lookup (`filesystem.js` `getItem`) finds for a pathname:
    /// the pathname itself, else below basePath without a trailing slash (`/` is the `/index`
    /// page), else without a locale prefix (pages and functions under any locale, static and
    /// public files only under a default locale). `@next/routing` only does the first step.
    fn fs_lookup(&self, path: &str) -> Option<Cow<'_, str>> {
        if self.i18n.is_some() && path.starts_with(self.data_prefix()) {
            return self.data_lookup(path);
        }
        if let Some(known) = self.known_pathname(path) {
            return self.routable(known);
        }
        let bp = self.base_path.as_str();
        if !bp.is_empty() && !path_has_prefix(path, bp) {
            return None;
        }
        let item = remove_path_prefix(path, bp);
        let item = match item.strip_suffix('/') {
            Some(trimmed) if &*item != "/" => trimmed,
            _ => &item,
        };
        // `bp + rest` when the output has it (copied only then).
        let under_base = |rest: &str| -> Option<Cow<'_, str>> {
            if bp.is_empty() {
                return self.known_pathname(rest).or_else(|| self.file_by_url(rest));
            }
            let p = cat(&[bp, rest]);
            if self.pathnames.contains_key(&p) {
                return Some(Cow::Owned(p));
            }
            self.file_by_url(&p)
        };
        let found = |item: &str| -> Option<Cow<'_, str>> {
            if item == "/" {
                // The basePath itself (`/` without one), then its `/index` page.
                under_base(if bp.is_empty() { "/" } else { "" }).or_else(|| under_base("/index"))
            } else {
                under_base(item).and_then(|p| self.routable(p))
            }
        };
        if let Some(p) = found(item) {
            return Some(p);
        }
        let i18n = self.i18n.as_ref()?;
        let (rest, locale) = normalize_locale_path(item, &i18n.locales);
        let locale = locale?;
        // The item under its locale spelled as configured (`/FR/about` is `/fr/about`).
        if let Some(p) = respell_locale(item, locale).and_then(|r| found(&r)) {
            return Some(p);
        }
        let p = found(rest)?;
        let is_default = locale == i18n.default_locale
            || i18n
                .domains
                .iter()
                .flatten()
                .any(|d| d.default_locale == locale);
        match self.pathnames.get(&*p) {
            Some(t) if t.kind != "static" || is_default => Some(p),
            _ => None,
        }
    }

    /// The file `next start` serves for a path that spells its name percent-encoded otherwise
    /// than the pathname: filesystem.js `getItem` looks the path up, then the path decoded,
    /// among the files' encoded names ([`Router::files_by_url`]). So `/docs/my%20file.txt` (as
    /// browsers ask for `public/docs/my file.txt`), `/robots%2Etxt` and even
    /// `/docs/my%2520file.txt` are files, while pages are not found so (`/%61bout` 404s there).
    /// `_next/static` files only below `/_next/static/` as spelled (`/_next/%73tatic/…` 404s).
    #[inline]
    fn file_by_url(&self, path: &str) -> Option<Cow<'_, str>> {
        if !has_escape(path.as_bytes()) {
            return None;
        }
        self.escaped_file(path)
    }

    /// [`Router::file_by_url`] of a path with an escape.
    #[cold]
    #[inline(never)]
    fn escaped_file(&self, path: &str) -> Option<Cow<'_, str>> {
        let b = path.as_bytes();
        let escapes = b.iter().filter(|&&c| c == b'%').count();
        let last = *b.last()?;
        let as_is = self.file_shapes.may_name(b.len(), last);
        // Decoded, the path loses two bytes an escape; it ends in its last escape's byte when
        // it ends in an escape (a malformed escape fails the decoding below anyway).
        let decoded_last = match b.len().checked_sub(3).map(|i| &b[i..]) {
            Some([b'%', hi, lo]) => super::hex_byte(*hi, *lo).unwrap_or(last),
            _ => last,
        };
        let decoded = (b.len() >= 2 * escapes)
            && self
                .file_shapes
                .may_name(b.len() - 2 * escapes, decoded_last);
        let name = match as_is.then(|| self.files_by_url.get(path)).flatten() {
            Some(name) => name,
            None if decoded => self.files_by_url.get(&decode_uri_component(path)?)?,
            None => return None,
        };
        let assets = cat(&[&self.base_path, "/_next/static/"]);
        if name.starts_with(&assets) && !path.starts_with(&assets) {
            return None;
        }
        Some(Cow::Borrowed(name.as_str()))
    }

    /// [`Router::fs_lookup`] of a `_next/data` URL in an app with i18n, as `next start` serves it:
    /// the locale of its page path (`/fr/ssr` of `…/fr/ssr.json`) is found in any case (`FR`
    /// finds the `fr` output), and without a locale the URL is a 404 unless the app has
    /// middleware (base-server's `handleNextDataRequest`), though the build has an output for
    /// it (`…/<buildId>/ssr.json` of a `getServerSideProps` page).
    fn data_lookup(&self, path: &str) -> Option<Cow<'_, str>> {
        let i18n = self.i18n.as_ref()?;
        let rest = &path[self.data_prefix().len() - 1..];
        let page = rest.strip_suffix(".json").unwrap_or(rest);
        if !self.has_middleware && normalize_locale_path(page, &i18n.locales).1.is_none() {
            return None;
        }
        match self.canonical_locale_path(path) {
            Some(p) => self.pathnames.contains_key(&p).then_some(Cow::Owned(p)),
            None => self.known_pathname(path),
        }
        .and_then(|p| self.routable(p))
    }

    /// Whether a path names a segment's Flight output (`/blog/first.segments/_tree.segment.rsc`).
    fn names_segment(&self, path: &str) -> bool {
        !self.segment_suffix.is_empty()
            && path.ends_with(&self.segment_suffix)
            && has_segment_dir(path, &self.segment_dir_suffix)
    }

    /// Whether an output pathname is the Flight (RSC) form of a page or route, `.rsc` or a
    /// segment's `.segment.rsc`, rather than a file of `public/`: a function's or prerender's,
    /// or a static one that is no public file (a pages-router page's `.rsc` in an app that has
    /// the app router too).
    fn is_flight_output(&self, pathname: &str) -> bool {
        !self.rsc_suffix.is_empty()
            && pathname.ends_with(&self.rsc_suffix)
            && self
                .pathnames
                .get(pathname)
                .is_some_and(|t| t.kind != "static" || self.static_twins.contains(pathname))
    }

    /// The dynamic route whose paths are all prerendered (fallback "not found") that a
    /// pathname matches, conditions aside (`has`/`missing` only select the draft-mode bypass).
    /// A path naming a Flight twin (`/static-params/1.rsc`) counts: `next start` answers it with
    /// the route's 404, as for a parameter it never prerendered. A segment URL does not.
    fn not_found_route(&self, path: &str) -> Option<String> {
        if self.not_found_routes.is_empty() || has_segment_dir(path, &self.segment_dir_suffix) {
            return None;
        }
        self.not_found_routes
            .iter()
            .map(|&i| &self.dynamic_routes[i])
            .find(|r| r.re.is_match(path))
            .and_then(|r| r.source.clone())
    }

    /// `resp` with the headers of the onMatch routes that match; `None` when none adds any
    /// (most requests: no copy of `resp` then).
    fn on_match_headers(
        &self,
        u: &Url,
        h: &RequestHeaders<'_>,
        resp: &HeaderList,
    ) -> Option<HeaderList> {
        let mut out: Option<HeaderList> = None;
        for (r, sure) in self.on_match.may_match_path(u.path()) {
            if let Some(hs) = match_route(r, u, h, sure).and_then(|m| m.headers) {
                hs.apply(out.get_or_insert_with(|| resp.clone()));
            }
        }
        out
    }

    /// A resolved decision for `u`, written into `out`, with the query of a destination,
    /// `dest_query`, merged into its own, and the params of the dynamic route's match `params`.
    #[allow(clippy::too_many_arguments)]
    fn resolved(
        &self,
        resolved: &str,
        invocation: &str,
        u: &Url,
        dest_query: Option<&str>,
        h: &RequestHeaders<'_>,
        resp: &HeaderList,
        status: Option<u16>,
        params: Option<&Captures>,
        out: &mut Decision,
    ) {
        // The destination's query is merged into the URL itself only when an onMatch condition
        // reads it; otherwise it is merged into the decision's pairs alone (`unmerged`).
        let merged;
        let (u, unmerged) = match dest_query.filter(|q| !q.is_empty()) {
            Some(q) if self.on_match_reads_query => {
                let mut n = u.clone();
                merge_query(&mut n, q);
                merged = n;
                (&merged, None)
            }
            q => (u, q),
        };
        let headers = self.on_match_headers(u, h, resp);
        out.reset_with_headers(
            DecisionKind::Resolved,
            headers.as_ref().unwrap_or(resp),
            status,
        );
        let query = u.query().unwrap_or("");
        match unmerged.and_then(|q| merged_pairs(query, q)) {
            Some(list) => out.query.set_pairs(list),
            None => out.query.set(query),
        }
        let invocation = out.text(invocation);
        out.invocation_pathname = Some(invocation);
        if let Some(m) = params {
            param_list_into(m, &mut out.route_matches);
        }
        out.target = self.pathnames.get(resolved).cloned();
        out.rsc_pathname = self.rsc_pathname(resolved, h);
        let resolved = out.text(resolved);
        out.resolved_pathname = Some(resolved);
    }

    /// The `.rsc` or segment output for an RSC request, when the output has it.
    fn rsc_pathname(&self, resolved: &str, h: &RequestHeaders<'_>) -> Option<String> {
        if h.get_cow(&self.rsc_header).as_deref() != Some("1")
            || resolved.ends_with(&self.rsc_suffix)
        {
            return None;
        }
        let base = if resolved == "/" || resolved == self.base_path {
            cat(&[&self.base_path, "/index"])
        } else {
            resolved.to_string()
        };
        if let Some(seg) = self
            .segment_header
            .as_ref()
            .and_then(|n| h.get_cow(n))
            .filter(|s| s.starts_with('/'))
        {
            let p = cat(&[&base, &self.segment_dir_suffix, &seg, &self.segment_suffix]);
            if self.pathnames.contains_key(&p) {
                return Some(p);
            }
        }
        let p = cat(&[&base, &self.rsc_suffix]);
        self.pathnames.contains_key(&p).then_some(p)
    }

    /// Lower-case names of the request headers routing reads, sorted: what the indexes of
    /// [`Router::resolve_indexed`] refer to. Other headers never change a decision.
    pub fn header_names(&self) -> &[String] {
        &self.wanted_headers
    }

    /// Resolves a request. A [`DecisionKind::Middleware`] decision must be continued with
    /// [`Router::resume`] once middleware has run.
    pub fn resolve(&self, req: &Request) -> Decision {
        self.resolve_list(&req.url, self.request_headers(&req.headers))
    }

    /// [`Router::resolve`] with the request headers given as `(index, value)` pairs, `index`
    /// into [`Router::header_names`] (absent headers simply do not occur; a repeated index is a
    /// repeated header, read joined with `, `). Out-of-range indexes are ignored.
    pub fn resolve_indexed<'v>(
        &'v self,
        url: &str,
        pairs: impl IntoIterator<Item = (usize, &'v str)>,
    ) -> Decision {
        self.resolve_list(url, self.header_list_indexed(pairs))
    }

    /// The request headers of [`Router::resolve_indexed`]-style `(index, value)` pairs.
    pub fn header_list_indexed<'v>(
        &'v self,
        pairs: impl IntoIterator<Item = (usize, &'v str)>,
    ) -> RequestHeaders<'v> {
        let mut h = RequestHeaders::default();
        self.push_indexed(&mut h, pairs);
        h
    }

    /// Adds [`Router::resolve_indexed`]-style `(index, value)` pairs to `h`.
    fn push_indexed<'v>(
        &'v self,
        h: &mut RequestHeaders<'v>,
        pairs: impl IntoIterator<Item = (usize, &'v str)>,
    ) {
        for (i, v) in pairs {
            if let Some(name) = self.wanted_headers.get(i) {
                h.push(name, v);
            }
        }
    }

    fn resolve_list(&self, url: &str, headers: RequestHeaders<'_>) -> Decision {
        let mut d = Decision::default();
        let mut st = State::new(headers);
        if let Some(f) = self.begin(url, &mut st, &mut d) {
            self.middleware_decision(&f, &st, &mut d);
            d.continuation = Some(
                self.lock_pending()
                    .put(f, st.map_headers(RequestHeaders::into_owned)),
            );
        }
        d
    }

    /// [`Router::resolve_indexed`] without keeping a continuation: a request that invokes
    /// middleware gets its [`DecisionKind::Middleware`] decision (no `continuation`) together
    /// with the decision routing reaches when middleware passes the request through unchanged
    /// (`NextResponse.next()` without headers: what most middleware does for most requests),
    /// so that a caller whose middleware did so needs no second call. For any other outcome,
    /// call [`Router::replay_indexed`] with the same request.
    pub fn resolve_indexed_passthrough<'v>(
        &'v self,
        url: &str,
        pairs: impl IntoIterator<Item = (usize, &'v str)>,
    ) -> (Decision, Option<Box<Decision>>) {
        let mut d = Decision::default();
        let mut through = Box::default();
        let paused = self.resolve_indexed_passthrough_into(url, pairs, &mut d, &mut through);
        (d, paused.then_some(through))
    }

    /// [`Router::resolve_indexed_passthrough`] writing into decisions the caller keeps: the
    /// decision into `out` and, when it is a [`DecisionKind::Middleware`] one (the answer is
    /// then `true`), the pass-through decision into `through` (otherwise left as it was). A
    /// caller routing request after request through the same two decisions spares copying
    /// decisions out and allocating their lists anew.
    pub fn resolve_indexed_passthrough_into<'v>(
        &'v self,
        url: &str,
        pairs: impl IntoIterator<Item = (usize, &'v str)>,
        out: &mut Decision,
        through: &mut Decision,
    ) -> bool {
        // (The headers are added in place: a list of them returned is copied into the state.)
        let mut st = State::new(RequestHeaders::default());
        self.push_indexed(&mut st.headers, pairs);
        // The response headers are gathered in the room `out` kept from the request before.
        st.resp = std::mem::take(&mut out.spare.headers);
        let paused = match self.begin(url, &mut st, out) {
            None => false,
            Some(f) => {
                self.middleware_decision(&f, &st, out);
                self.after_middleware(f, &mut st, through);
                true
            }
        };
        out.spare.keep_headers(std::mem::take(&mut st.resp));
        paused
    }

    /// Continues a request that [`Router::resolve_indexed_passthrough`] answered with a
    /// [`DecisionKind::Middleware`] decision: resolution up to middleware is a function of the
    /// request, so it is run again instead of kept, and then continued as
    /// [`Router::resume_with`] continues it.
    pub fn replay_indexed<'v>(
        &'v self,
        url: &str,
        pairs: impl IntoIterator<Item = (usize, &'v str)>,
        result: &MiddlewareResult,
        request_headers: Option<RequestHeaders<'v>>,
    ) -> Result<Decision, RouterError> {
        let mut d = Decision::default();
        self.replay_indexed_into(url, pairs, result, request_headers, &mut d)?;
        Ok(d)
    }

    /// [`Router::replay_indexed`], the decision written into `out` (whose lists keep their
    /// room, as [`Router::resolve_indexed_passthrough_into`] keeps them).
    pub fn replay_indexed_into<'v>(
        &'v self,
        url: &str,
        pairs: impl IntoIterator<Item = (usize, &'v str)>,
        result: &MiddlewareResult,
        request_headers: Option<RequestHeaders<'v>>,
        out: &mut Decision,
    ) -> Result<(), RouterError> {
        let mut st = State::new(RequestHeaders::default());
        self.push_indexed(&mut st.headers, pairs);
        st.resp = std::mem::take(&mut out.spare.headers);
        let replayed = match self.begin(url, &mut st, out) {
            None => Err(RouterError::Continuation(
                "the request does not invoke middleware".into(),
            )),
            Some(f) => self.continue_after(f, &mut st, result, request_headers, out),
        };
        out.spare.keep_headers(std::mem::take(&mut st.resp));
        replayed
    }

    /// Resolution up to middleware, of the request whose fresh state is `st`: the decision
    /// written into `out`, or the URL at which the request pauses for middleware (with `st`
    /// filled in; `out` then left as it was).
    fn begin(&self, url: &str, st: &mut State<'_>, out: &mut Decision) -> Option<Url> {
        let host = st
            .headers
            .get_cow("host")
            .unwrap_or(std::borrow::Cow::Borrowed("localhost"));
        // A path is taken literally below `http://<host>` (`//x` is a path, not another host).
        let parsed = if url.starts_with('/') {
            Url::parse_owned(cat(&["http://", &host, url]))
        } else {
            Url::parse(url)
        };
        let Ok(url) = parsed else {
            out.reset(DecisionKind::BadRequest);
            return None;
        };
        if url.path().len() > super::jsre::MAX_INPUT {
            out.reset(DecisionKind::Status);
            out.status = Some(414);
            return None;
        }
        self.resolve_url(url, st, out)
    }

    fn resolve_url(&self, url: Url, st: &mut State<'_>, out: &mut Decision) -> Option<Url> {
        let h = &st.headers;
        let mut f = url;
        // (The room a caller kept for them, if any: empty.)
        let mut resp = std::mem::take(&mut st.resp);
        let mut status: Option<u16> = None;
        let mut i18n_redirect: Option<(String, u16)> = None;
        let mut is_data = false;
        let bp = self.base_path.as_str();
        if self.should_normalize_next_data {
            // Only a path ending in `.json` is a data request (next start's `middleware_next_data`
            // route; `/_next/data/<id>/posts/1.json/` is redirected as it is spelled, to the data
            // URL without its slash, where a normalized one went to `/posts/1.json`).
            is_data = f.path().starts_with(self.data_prefix()) && f.path().ends_with(".json");
            if is_data {
                self.normalize_next_data(&mut f);
            }
        }
        if let Some(i18n) = self.i18n.as_ref().filter(|_| !is_data) {
            let path = f.path();
            let e = match path.strip_prefix(bp) {
                Some("") => "/",
                Some(s) => s,
                None => path,
            };
            if !e.starts_with("/_next/") && !e.starts_with("/api/") {
                // Borrowed, not copied: `f` changes only at the end, to a path built anew.
                let hostname = f.host_str();
                let cookie = h.get_cow("cookie").filter(|v| !v.is_empty());
                let accept = h.get_cow("accept-language").filter(|v| !v.is_empty());
                let (rest, detected) = normalize_locale_path(e, &i18n.locales);
                let domain = i18n.domain_locale(hostname, None);
                let default =
                    domain.map_or(i18n.default_locale.as_str(), |d| d.default_locale.as_str());
                let mut locale = detected.unwrap_or(default);
                // The root as get-locale-redirect.js tells it (`denormalizePagePath(p) === '/'`):
                // `/index` and `/index/` are the root too.
                let is_root = matches!(rest, "/" | "/index" | "/index/");
                if i18n.locale_detection != Some(false) && detected.is_none() && is_root {
                    // As `next start` decides (get-locale-redirect.js; `@next/routing` reads the
                    // cookie first everywhere and sends a locale with a domain of its own there):
                    // on a locale's domain that domain's locale is the one detected, and only an
                    // Accept-Language preferring a locale of another domain (or one that is not
                    // its domain's default) sends the request to that domain's root; elsewhere
                    // the cookie, then Accept-Language, choose the locale the root redirects to,
                    // on this host.
                    let preferred = accept_language_locale(
                        accept.as_deref().unwrap_or(""),
                        &i18n.config.locales,
                    );
                    if let (Some(d), Some(p)) = (domain, preferred) {
                        if let Some(pd) = i18n.domain_locale(None, Some(p)) {
                            let is_p_domain = pd.domain == d.domain;
                            let is_p_locale = pd.default_locale == p;
                            if !is_p_domain || !is_p_locale {
                                let scheme = if pd.http == Some(true) {
                                    "http"
                                } else {
                                    "https"
                                };
                                let rlocale = if is_p_locale { "" } else { p };
                                let loc = cat(&[scheme, "://", &pd.domain, "/", rlocale]);
                                if let Ok(u) = Url::parse(&loc) {
                                    i18n_redirect = Some((u.to_string(), 307));
                                }
                            }
                        }
                    }
                    let chosen = match domain {
                        Some(d) => d.default_locale.as_str(),
                        None => cookie_locale(cookie.as_deref(), &i18n.config.locales)
                            .or(preferred)
                            .unwrap_or(&i18n.default_locale),
                    };
                    if i18n_redirect.is_none() && !chosen.eq_ignore_ascii_case(default) {
                        locale = chosen;
                        // On this host: a Location of the path and query alone, as next start
                        // writes it.
                        let slash = if self.trailing_slash { "/" } else { "" };
                        let loc = cat(&[bp, "/", locale, slash, &js_search(&f)]);
                        i18n_redirect = Some((loc, 307));
                    }
                }
                if detected.is_none() && i18n_redirect.is_none() {
                    // As `next start` (resolve-routes.js): the basePath only when the request
                    // had it, and the root without a trailing slash unless the request had one
                    // and `trailingSlash` is on. (`@next/routing` always adds both.)
                    let had_base_path = path_has_prefix(f.path(), bp);
                    let rest = remove_path_prefix(f.path(), bp);
                    let prefix = if had_base_path { bp } else { "" };
                    let tail = if rest == "/" {
                        if f.path().ends_with('/') && self.trailing_slash {
                            "/"
                        } else {
                            ""
                        }
                    } else {
                        &rest
                    };
                    f.set_path(&cat(&[prefix, "/", locale, tail]));
                }
            }
        }
        let delocalize = |u: &Url| self.internal_path(u);
        let internal: Option<Delocalize<'_>> =
            self.i18n.as_ref().map(|_| &delocalize as Delocalize<'_>);
        let stopped = match process_routes(
            &self.before_middleware,
            &mut f,
            internal,
            h,
            &mut resp,
            &mut status,
        ) {
            Err(()) => {
                out.reset(DecisionKind::BadRequest);
                return None;
            }
            Ok(PhaseEnd::Redirect(u, s)) => {
                self.redirect_decision(u.to_string(), s, &resp, status, out);
                return None;
            }
            Ok(PhaseEnd::External(u)) => {
                self.external_decision(u, &resp, status, out);
                return None;
            }
            Ok(PhaseEnd::Stopped) => Some(status),
            Ok(PhaseEnd::Continue) => None,
        };
        // A redirect before middleware ends routing there, as in `next start` (resolve-routes.js
        // runs headers and redirects, then middleware); `@next/routing` runs middleware first.
        let invoke_middleware = stopped.is_none() && self.should_invoke_middleware(&f, h);
        st.resp = resp;
        st.status = status;
        st.i18n_redirect = i18n_redirect;
        st.stopped = stopped;
        st.is_data = is_data;
        if !invoke_middleware {
            self.after_middleware(f, st, out);
            return None;
        }
        Some(f)
    }

    /// The [`DecisionKind::Middleware`] decision (without its continuation) of a request paused
    /// at `f`, written into `out`.
    fn middleware_decision(&self, f: &Url, st: &State, out: &mut Decision) {
        out.reset(DecisionKind::Middleware);
        let mw_url = if st.is_data && self.should_normalize_next_data {
            self.denormalize_next_data(f).to_string()
        } else {
            out.text(f.as_str())
        };
        out.middleware_url = Some(mw_url);
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Continues a [`DecisionKind::Middleware`] decision with what middleware did. Each
    /// continuation can be resumed once.
    pub fn resume(
        &self,
        continuation: u32,
        result: &MiddlewareResult,
    ) -> Result<Decision, RouterError> {
        let headers = result
            .request_headers
            .as_ref()
            .map(|rh| self.request_headers(rh));
        self.resume_with(continuation, result, headers)
    }

    /// [`Router::resume`] with the request headers to continue with given as a list (see
    /// [`Router::header_list_indexed`]) instead of `result.request_headers`, which is ignored.
    pub fn resume_with(
        &self,
        continuation: u32,
        result: &MiddlewareResult,
        request_headers: Option<RequestHeaders<'_>>,
    ) -> Result<Decision, RouterError> {
        let (f, st) = self.lock_pending().take(continuation).ok_or_else(|| {
            RouterError::Continuation(format!(
                "{continuation} is unknown, already resumed or expired"
            ))
        })?;
        let mut d = Decision::default();
        let mut st = st.map_headers(RequestHeaders::shorten);
        self.continue_after(f, &mut st, result, request_headers, &mut d)?;
        Ok(d)
    }

    /// Routing after middleware, from where it paused (`f`, `st`); the decision written into
    /// `out`.
    fn continue_after<'a>(
        &self,
        mut f: Url,
        st: &mut State<'a>,
        result: &MiddlewareResult,
        request_headers: Option<RequestHeaders<'a>>,
        out: &mut Decision,
    ) -> Result<(), RouterError> {
        if result.body_sent {
            out.reset(DecisionKind::MiddlewareResponded);
            return Ok(());
        }
        if let Some(h) = request_headers {
            st.headers = h;
        }
        if let Some(rh) = &result.response_headers {
            for (k, v) in rh {
                if k.eq_ignore_ascii_case("set-cookie") {
                    st.resp.append(k, v);
                } else {
                    st.resp.set(k, v);
                }
            }
        }
        if let Some((loc, s)) = &result.redirect {
            if !st.resp.has("location") {
                st.resp.set("location", loc);
            }
            out.reset_with_headers(DecisionKind::Redirect, &st.resp, Some(*s));
            out.redirect = Some(Redirect {
                location: st.resp.get("location").unwrap_or_default(),
                status: *s,
            });
            return Ok(());
        }
        if let Some(rw) = &result.rewrite {
            let g = f
                .join(rw)
                .map_err(|e| RouterError::Continuation(e.to_string()))?;
            if !same_origin(&g, &f) {
                self.external_decision(g, &st.resp, st.status, out);
                return Ok(());
            }
            f = g;
        }
        self.after_middleware(f, st, out);
        Ok(())
    }

    fn redirect_decision(
        &self,
        location: String,
        status: u16,
        resp: &HeaderList,
        st: Option<u16>,
        out: &mut Decision,
    ) {
        out.reset_with_headers(DecisionKind::Redirect, resp, st);
        out.redirect = Some(Redirect { location, status });
    }

    fn external_decision(&self, u: Url, resp: &HeaderList, st: Option<u16>, out: &mut Decision) {
        out.reset_with_headers(DecisionKind::ExternalRewrite, resp, st);
        out.external_url = Some(u.to_string());
    }

    /// A `{resolvedHeaders, status}` answer without a pathname.
    fn stop_decision(&self, resp: &HeaderList, status: Option<u16>, out: &mut Decision) {
        let loc = resp.get("location");
        let kind = match (&loc, status) {
            (Some(_), Some(s)) if (300..400).contains(&s) => DecisionKind::Redirect,
            (_, Some(_)) => DecisionKind::Status,
            _ => DecisionKind::NotFound,
        };
        out.reset_with_headers(kind, resp, status);
        if kind == DecisionKind::Redirect {
            out.redirect = loc.map(|location| Redirect {
                location,
                status: status.unwrap_or(308),
            });
        }
    }

    /// Routing from middleware on (whether it ran or not), in the request's state `st` (spent
    /// by it, but for the list of its response headers, left there for the caller to keep the
    /// room of); the decision written into `out`.
    fn after_middleware(&self, f: Url, st: &mut State<'_>, out: &mut Decision) {
        let mut resp = std::mem::take(&mut st.resp);
        self.route_after_middleware(f, st, &mut resp, out);
        st.resp = resp;
    }

    /// [`Router::after_middleware`] with the response headers so far, `resp`.
    fn route_after_middleware(
        &self,
        mut f: Url,
        st: &mut State<'_>,
        resp: &mut HeaderList,
        out: &mut Decision,
    ) {
        let mut status = st.status;
        let State {
            headers: h,
            i18n_redirect,
            stopped,
            is_data,
            ..
        } = st;
        let (stopped, is_data) = (*stopped, *is_data);
        if let Some((loc, s)) = i18n_redirect.take() {
            if !resp.has("location") {
                resp.set("location", &loc);
            }
            return self.redirect_decision(loc, s, resp, None, out);
        }
        if let Some(s) = stopped {
            return self.stop_decision(resp, s, out);
        }
        let data = is_data && self.should_normalize_next_data;
        if data {
            self.normalize_next_data(&mut f);
        }
        match process_routes(&self.before_files, &mut f, None, h, resp, &mut status) {
            Err(()) => return out.reset(DecisionKind::BadRequest),
            Ok(PhaseEnd::Redirect(u, s)) => {
                return self.redirect_decision(u.to_string(), s, resp, status, out)
            }
            Ok(PhaseEnd::External(u)) => return self.external_decision(u, resp, status, out),
            Ok(PhaseEnd::Stopped) => return self.stop_decision(resp, status, out),
            Ok(PhaseEnd::Continue) => {}
        }
        if data {
            f = self.denormalize_next_data(&f);
        }
        // A URL naming the template of a route whose paths are all prerendered
        // (`/products/[id]`, `dynamicParams = false`) is that route's request for the param
        // `[id]`, which it does not have: `next start` 404s it. (It found the template's own
        // output, the fallback it renders other paths from.)
        let lookup = self
            .fs_lookup(f.path())
            .filter(|p| !is_dynamic_template(p) || self.not_found_route(f.path()).is_none());
        if let Some(d_path) = lookup {
            let mut dynamic_match = false;
            let path = f.path();
            let url_segment = self.names_segment(path);
            for (r, _) in self.dynamic_routes.may_match_path(path) {
                let Some(m) = r.dynamic_regex(url_segment).captures(path) else {
                    continue;
                };
                let Some(caps) = check_has(&r.has, &f, h) else {
                    continue;
                };
                if !check_missing(&r.missing, &f, h) {
                    continue;
                }
                dynamic_match = true;
                let dest = r
                    .destination
                    .as_ref()
                    .map(|d| replace_destination(d, Some(&m), &caps));
                let (target_path, dest_query) =
                    dest.as_deref().map_or((f.path(), None), split_destination);
                match self.with_locale_fallback(target_path) {
                    None => {
                        if is_dynamic_template(target_path) {
                            continue;
                        }
                        return self.resolved(
                            &d_path,
                            f.path(),
                            &f,
                            dest_query,
                            h,
                            resp,
                            status,
                            Some(&m),
                            out,
                        );
                    }
                    Some(found) => {
                        if found != d_path && !is_dynamic_template(&d_path) {
                            continue;
                        }
                        return self.resolved(
                            &found,
                            f.path(),
                            &f,
                            dest_query,
                            h,
                            resp,
                            status,
                            Some(&m),
                            out,
                        );
                    }
                }
            }
            // A page's Flight twin named in the URL (`/about.rsc`) is no page of `next start`'s
            // filesystem: it answers 404 unless a dynamic route (whose regex takes the RSC
            // suffixes) matches the path, and then serves the twin found here
            // (`/blog/first.rsc`). Public files are served whatever their name.
            if dynamic_match || !self.is_flight_output(&d_path) {
                return self.resolved(&d_path, f.path(), &f, None, h, resp, status, None, out);
            }
        }
        if data {
            self.normalize_next_data(&mut f);
            // No data output: next start's filesystem check takes the page path the URL
            // normalized to (resolve-routes.js `check_fs`), which finds an app page or route
            // (`/_next/data/<id>/index.json` renders `/`). (Static files it finds there too,
            // public files and pages without data, are left to the 404; a route's template, to
            // the dynamic routes.)
            if let Some(found) = self.fs_lookup(f.path()).filter(|p| {
                !is_dynamic_template(p)
                    && self.pathnames.get(&**p).is_some_and(|t| t.kind != "static")
            }) {
                return self.resolved(&found, f.path(), &f, None, h, resp, status, None, out);
            }
        }
        for phase in [&self.after_files, &self.fallback] {
            // A data URL's dynamic routes are matched as the URL asks (next start matches the
            // page's data route, `/_next/data/<id>/posts/[id].json`, and answers its JSON):
            // matched on the page's path (`@next/routing`), a getServerSideProps page reached
            // by a client navigation answered its HTML, in every app with middleware.
            // (Then on the page's path: an app page has no data route, and next start renders
            // it for its data URL, as `@next/routing` resolves it.)
            if std::ptr::eq(phase, &self.fallback)
                && ((data
                    && self.dynamic_pass(&self.denormalize_next_data(&f), h, resp, status, out))
                    || self.dynamic_pass(&f, h, resp, status, out))
            {
                return;
            }
            let mut mask = phase.candidates(f.path());
            for (i, r) in phase.iter().enumerate() {
                if !mask.may(i) {
                    continue;
                }
                let Some(m) = match_route(r, &f, h, mask.sure(i)) else {
                    continue;
                };
                if let Some(hs) = &m.headers {
                    hs.apply(resp);
                }
                if r.status.is_some_and(|s| s != 0) {
                    status = r.status;
                }
                let Some(dest) = &m.destination else { continue };
                if is_redirect_status(r.status)
                    && m.headers.as_ref().is_some_and(MatchedHeaders::has_redirect)
                {
                    let Some(u) = apply_destination(&f, dest) else {
                        return out.reset(DecisionKind::BadRequest);
                    };
                    return self.redirect_decision(
                        u.to_string(),
                        r.status.unwrap_or(308),
                        resp,
                        status,
                        out,
                    );
                }
                if is_external(dest) {
                    return match Url::parse(dest) {
                        Ok(u) => self.external_decision(u, resp, status, out),
                        Err(_) => out.reset(DecisionKind::BadRequest),
                    };
                }
                let Some(u) = apply_destination(&f, dest) else {
                    return out.reset(DecisionKind::BadRequest);
                };
                // (Not external: `apply_destination` set the path and query, the origin is `f`'s.)
                f = u;
                mask = phase.candidates(f.path());
                let probe = if data {
                    self.denormalize_next_data(&f)
                } else {
                    f.clone()
                };
                if self.dynamic_pass(&probe, h, resp, status, out) {
                    return;
                }
                if let Some(found) = self.fs_lookup(probe.path()) {
                    return self.resolved(
                        &found,
                        probe.path(),
                        &probe,
                        None,
                        h,
                        resp,
                        status,
                        None,
                        out,
                    );
                }
            }
        }
        self.stop_decision(resp, status, out);
        if out.kind == DecisionKind::NotFound {
            out.matched_route = self.not_found_route(f.path());
        }
    }

    /// `checkDynamicRoutes` / the dynamicRoutes phase: the first dynamic route whose
    /// destination exists (with locale fallback), its decision written into `out` (whether
    /// there is one: the answer).
    fn dynamic_pass(
        &self,
        f: &Url,
        h: &RequestHeaders<'_>,
        resp: &HeaderList,
        status: Option<u16>,
        out: &mut Decision,
    ) -> bool {
        let path = f.path();
        let url_segment = self.names_segment(path);
        for (r, _) in self.dynamic_routes.may_match_path(path) {
            let Some(m) = r.dynamic_regex(url_segment).captures(path) else {
                continue;
            };
            let Some(caps) = check_has(&r.has, f, h) else {
                continue;
            };
            if !check_missing(&r.missing, f, h) {
                continue;
            }
            let dest = r
                .destination
                .as_ref()
                .map(|d| replace_destination(d, Some(&m), &caps));
            let (target_path, dest_query) =
                dest.as_deref().map_or((f.path(), None), split_destination);
            if let Some(found) = self.with_locale_fallback(target_path) {
                self.resolved(
                    &found,
                    f.path(),
                    f,
                    dest_query,
                    h,
                    resp,
                    status,
                    Some(&m),
                    out,
                );
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A manifest-shaped document built from a captured onBuildComplete context.
    fn manifest_from_context(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/{name}.context.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let ctx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
        let o = &ctx["outputs"];
        let mut functions = Vec::new();
        for k in ["pages", "pagesApi", "appPages", "appRoutes"] {
            for f in o[k].as_array().into_iter().flatten() {
                functions.push(serde_json::json!({ "pathname": f["pathname"], "id": f["id"], "kind": "node-function" }));
            }
        }
        // A route whose unknown paths are not found (`parentFallbackMode: false`), as the
        // artifacts step writes it into the manifest.
        let mut prerenders = o["prerenders"].clone();
        for p in prerenders.as_array_mut().into_iter().flatten() {
            if p["parentFallbackMode"] == serde_json::json!(false) {
                p["fallbackMode"] = serde_json::json!({ "mode": "notFound" });
            }
        }
        serde_json::json!({
            "buildId": ctx["buildId"],
            "config": ctx["config"],
            "routing": ctx["routing"],
            "middlewareMatchers": ctx["routing"]["middlewareMatchers"],
            "functions": functions,
            "staticFiles": o["staticFiles"],
            "prerenders": prerenders,
        })
        .to_string()
    }

    fn req(url: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn app() -> Router {
        Router::new(&manifest_from_context("app-router")).expect("router")
    }

    /// Decisions written into two kept decisions, request after request (as the addon routes),
    /// equal decisions made fresh: nothing one request wrote stays in the next one's.
    #[test]
    fn kept_decisions_hold_nothing_of_the_previous_request() {
        let mut routers = Vec::new();
        for name in ["app-router", "pages-router"] {
            let r = Router::new(&manifest_from_context(name)).expect("router");
            // Every output, with and without a query, and routes of every kind of decision.
            let mut urls: Vec<String> = r.pathnames().map(str::to_string).collect();
            urls.sort();
            let with_query: Vec<String> = urls.iter().map(|u| format!("{u}?a=1&b=%20")).collect();
            urls.extend(with_query);
            for u in [
                "/blog/zzz",
                "/blog/first?x=1",
                "/products/9",
                "/temp-redirect?x=1",
                "/legacy",
                "/old-blog/a/b",
                "/anything",
                "/x",
                "/does-not-exist",
                "/about/",
                "/%zz",
                "/a/../about",
                "/fallback-rewrite/x/y",
                "/mw-external",
                "/after-files/a/b",
                "/posts/1",
                "/api/hello",
                "/docs/nope",
            ] {
                urls.push(u.to_string());
            }
            // A status decision (414) and a bad request.
            urls.push(format!("/{}", "a".repeat(crate::routing::MAX_INPUT + 1)));
            urls.push("http://[::1/".to_string());
            routers.push((r, urls));
        }
        let mut kept = (Decision::default(), Decision::default());
        let mut checked = 0;
        let mut with_matched_route = 0;
        let mut kinds = std::collections::BTreeSet::new();
        // Forwards, then backwards, each URL with and without an RSC request header, the two
        // routers taking turns: each decision follows decisions of other kinds.
        for round in 0..2 {
            for (r, urls) in &routers {
                let names = r.header_names();
                let rsc = names.iter().position(|n| n == "rsc");
                let order: Vec<&String> = if round == 0 {
                    urls.iter().collect()
                } else {
                    urls.iter().rev().collect()
                };
                for (n, url) in order.into_iter().enumerate() {
                    let pairs: Vec<(usize, &str)> = match (rsc, n % 2) {
                        (Some(i), 1) => vec![(i, "1")],
                        _ => Vec::new(),
                    };
                    let (fresh, fresh_through) =
                        r.resolve_indexed_passthrough(url, pairs.iter().copied());
                    let paused = r.resolve_indexed_passthrough_into(
                        url,
                        pairs.iter().copied(),
                        &mut kept.0,
                        &mut kept.1,
                    );
                    let json = |d: &Decision| serde_json::to_value(d).expect("json");
                    assert_eq!(json(&kept.0), json(&fresh), "{url}");
                    assert_eq!(paused, fresh_through.is_some(), "{url}");
                    if let Some(t) = &fresh_through {
                        assert_eq!(json(&kept.1), json(t), "{url} (pass-through)");
                    }
                    kinds.insert(format!("{:?}", fresh.kind));
                    with_matched_route += usize::from(fresh.matched_route.is_some());
                    checked += 1;
                }
            }
        }
        // A request with many query pairs leaves no more than the kept room behind (pages-router:
        // no middleware, so the decision is the first one).
        let many: String = (0..500).map(|i| format!("k{i}=v&")).collect();
        let (r, _) = &routers[1];
        r.resolve_indexed_passthrough_into(&format!("/?{many}"), [], &mut kept.0, &mut kept.1);
        assert_eq!(kept.0.query.pairs().count(), 500);
        r.resolve_indexed_passthrough_into("/", [], &mut kept.0, &mut kept.1);
        assert!(kept.0.query.0.capacity() <= KEPT_TEXT_CAPACITY);
        // A decision's strings are filled again in place: the same buffers request after
        // request, and none kept past its cap (a 2,000-byte invocation path).
        let texts = |d: &Decision| {
            [&d.resolved_pathname, &d.invocation_pathname]
                .map(|t| t.as_ref().expect("text").as_ptr())
        };
        // (Fresh decisions: the first request's strings are still held when the second is
        // written, so a buffer at the same address is one filled again, not one reallocated.)
        let mut kept = (Decision::default(), Decision::default());
        r.resolve_indexed_passthrough_into("/posts/x", [], &mut kept.0, &mut kept.1);
        let first = texts(&kept.0);
        r.resolve_indexed_passthrough_into("/posts/y", [], &mut kept.0, &mut kept.1);
        assert_eq!(texts(&kept.0), first);
        let long = format!("/posts/{}", "a".repeat(2000));
        r.resolve_indexed_passthrough_into(&long, [], &mut kept.0, &mut kept.1);
        assert_eq!(kept.0.invocation_pathname.as_deref(), Some(long.as_str()));
        // The room of the response headers is kept from request to request too (app-router's
        // context has a header route for every path), and given back emptied (the comparison
        // with fresh decisions above fails if it is not).
        let (app, _) = &routers[0];
        let mut kept_app = (Decision::default(), Decision::default());
        app.resolve_indexed_passthrough_into("/about", [], &mut kept_app.0, &mut kept_app.1);
        let room = &kept_app.0.spare.headers.0;
        assert!(room.is_empty() && room.capacity() > 0);
        let room = room.as_ptr();
        app.resolve_indexed_passthrough_into("/blog/x", [], &mut kept_app.0, &mut kept_app.1);
        assert_eq!(kept_app.0.spare.headers.0.as_ptr(), room);
        // A not-found decision: every string of the previous one is given back to `spare`.
        r.resolve_indexed_passthrough_into("/api/x/y", [], &mut kept.0, &mut kept.1);
        assert!(kept.0.invocation_pathname.is_none());
        assert!(!kept.0.spare.texts.is_empty());
        assert!(kept
            .0
            .spare
            .texts
            .iter()
            .all(|t| t.capacity() <= KEPT_TEXT_CAPACITY));
        assert!(kept.0.spare.texts.len() <= KEPT_TEXTS);
        // The walk met decisions of most kinds, with params and queries.
        assert!(checked > 200, "{checked}");
        assert!(kinds.len() >= 6, "{kinds:?}");
        // Not-found decisions naming their route (`/docs/[slug]`), followed by others.
        assert!(with_matched_route >= 2, "{with_matched_route}");
    }

    /// The decision for `url` once the fixture's middleware passed the request through.
    fn passed_through(r: &Router, url: &str, headers: &[(&str, &str)]) -> Decision {
        let d = r.resolve(&req(url, headers));
        match d.continuation {
            Some(token) => r
                .resume(token, &MiddlewareResult::default())
                .expect("resume"),
            None => d,
        }
    }

    /// The pathname a request for `path` on localhost, without headers, resolves to (middleware
    /// passing it through).
    fn resolved_path(r: &Router, path: &str) -> Option<String> {
        passed_through(r, &format!("http://localhost{path}"), &[]).resolved_pathname
    }

    /// A manifest of build `b` with `config`, `dynamic_routes` its only routes and `functions`
    /// its only outputs (tests add what else they need).
    fn small_manifest(
        config: serde_json::Value,
        dynamic_routes: serde_json::Value,
        functions: serde_json::Value,
    ) -> serde_json::Value {
        serde_json::json!({
            "buildId": "b",
            "config": config,
            "routing": {
                "beforeMiddleware": [], "beforeFiles": [], "afterFiles": [], "onMatch": [],
                "fallback": [], "dynamicRoutes": dynamic_routes, "shouldNormalizeNextData": false,
                "rsc": {
                    "header": "rsc", "didPostponeHeader": "x-nextjs-postponed",
                    "contentTypeHeader": "text/x-component", "varyHeader": "rsc",
                    "prefetchHeader": "next-router-prefetch", "suffix": ".rsc"
                }
            },
            "functions": functions,
            "staticFiles": [],
            "prerenders": [],
        })
    }

    #[test]
    fn has_escape_finds_a_percent_anywhere() {
        for len in 0..40 {
            let plain = "a".repeat(len);
            assert!(!has_escape(plain.as_bytes()), "{len}");
            for at in 0..len {
                let mut b = plain.clone().into_bytes();
                b[at] = b'%';
                assert!(has_escape(&b), "{len} {at}");
                // Bytes that differ from `%` in one bit are not it.
                b[at] = b'%' ^ 0x80;
                assert!(!has_escape(&b), "{len} {at}");
                b[at] = b'%' ^ 0x01;
                assert!(!has_escape(&b), "{len} {at}");
            }
        }
    }

    /// Files whose names a URL spells percent-encoded are found as `next start` finds them
    /// (filesystem.js `getItem`: the path, then the path decoded, against the encoded names);
    /// `@next/routing` compares the path with the names as they are and 404s them.
    #[test]
    fn files_found_by_their_encoded_names() {
        let files = |bp: &str| {
            let file = |pathname: &str, kind: &str| serde_json::json!({ "pathname": format!("{bp}{pathname}"), "file": format!("static{pathname}"), "kind": kind });
            serde_json::json!([
                file("/docs/my file.txt", "public-file"),
                file("/café.txt", "public-file"),
                file("/x[1].txt", "public-file"),
                file("/robots.txt", "public-file"),
                file(
                    "/_next/static/chunks/pages/posts/[id]-0a.js",
                    "static-asset"
                ),
                file("/about", "static-page"),
            ])
        };
        for (bp, trailing) in [("", false), ("/base", true)] {
            let mut m = small_manifest(
                serde_json::json!({ "basePath": bp, "trailingSlash": trailing }),
                serde_json::json!([]),
                serde_json::json!([]),
            );
            m["staticFiles"] = files(bp);
            let r = Router::new(&m.to_string()).expect("router");
            let found = |path: &str| {
                let d = passed_through(&r, &format!("http://localhost{bp}{path}"), &[]);
                (d.kind == DecisionKind::Resolved).then(|| {
                    let name = d.resolved_pathname.expect("pathname");
                    name.strip_prefix(bp).expect("below basePath").to_string()
                })
            };
            for (path, file) in [
                ("/docs/my%20file.txt", "/docs/my file.txt"),
                ("/docs/my%2520file.txt", "/docs/my file.txt"),
                ("/caf%C3%A9.txt", "/café.txt"),
                ("/x[1].txt", "/x[1].txt"),
                ("/x%5B1%5D.txt", "/x[1].txt"),
                ("/robots%2Etxt", "/robots.txt"),
                ("/robots%2etxt/", "/robots.txt"),
                ("/%72obots.txt", "/robots.txt"),
                (
                    "/_next/static/chunks/pages/posts/%5Bid%5D-0a.js",
                    "/_next/static/chunks/pages/posts/[id]-0a.js",
                ),
            ] {
                assert_eq!(found(path).as_deref(), Some(file), "{bp}{path}");
            }
            for path in [
                // A `/` written as `%2F` joins no segments of a name with special characters,
                "/docs%2Fmy%20file.txt",
                // a static asset is one only below `/_next/static/` as spelled,
                "/_next/%73tatic/chunks/pages/posts/%5Bid%5D-0a.js",
                "/_next/static%2Fchunks/pages/posts/%5Bid%5D-0a.js",
                // pages are not found by encoded names,
                "/%61bout",
                // nor is a name whose escapes are spelled in lower case (the name is compared
                // encoded, with upper-case hex, or decoded, when it has no escapes),
                "/caf%c3%a9.txt",
                // and a malformed escape is no name.
                "/robots%2.txt",
                "/caf%C3.txt",
            ] {
                assert_eq!(found(path), None, "{bp}{path}");
            }
        }
    }

    /// URLs that name Flight outputs themselves, answered as `next start` answers them (the
    /// oracle, `@next/routing`, resolves each of these to the output).
    #[test]
    fn urls_naming_flight_outputs_resolve_as_on_next_start() {
        let mut m: serde_json::Value =
            serde_json::from_str(&manifest_from_context("app-router")).expect("json");
        let statics = m["staticFiles"].as_array_mut().expect("staticFiles");
        // A pages-router page's `{}` twin (an app with both routers), and a public file that
        // happens to end in `.rsc`.
        statics.push(serde_json::json!({ "pathname": "/legacy.rsc", "file": "static/legacy.rsc.json", "kind": "static-page" }));
        statics.push(serde_json::json!({ "pathname": "/data.rsc", "file": "static/data.rsc", "kind": "public-file" }));
        let r = Router::new(&m.to_string()).expect("router");
        let get = |url: &str, headers: &[(&str, &str)]| passed_through(&r, url, headers);

        assert_eq!(
            get("http://localhost/legacy.rsc", &[]).kind,
            DecisionKind::NotFound
        );
        let public = get("http://localhost/data.rsc", &[]);
        assert_eq!(public.kind, DecisionKind::Resolved);
        assert_eq!(public.resolved_pathname.as_deref(), Some("/data.rsc"));

        // A segment named in the URL: the dynamic route's regex is not allowed to take the
        // suffix (`[^/]+?` cannot take `first.segments/_tree.segment.rsc`): not found, though
        // the segment exists; asked for by its headers, the same segment is served.
        let segment = "/blog/first.segments/_tree.segment.rsc";
        assert!(
            r.pathnames().any(|p| p == segment),
            "the build has {segment}"
        );
        assert_eq!(
            get(&format!("http://localhost{segment}"), &[]).kind,
            DecisionKind::NotFound
        );
        let prefetch = get(
            "http://localhost/blog/first",
            &[
                ("rsc", "1"),
                ("next-router-prefetch", "1"),
                ("next-router-segment-prefetch", "/_tree"),
            ],
        );
        assert_eq!(prefetch.rsc_pathname.as_deref(), Some(segment));
        // A `.rsc` URL the route's regex takes stays the oracle's answer (a known difference).
        assert_eq!(
            get("http://localhost/blog/first.rsc", &[])
                .resolved_pathname
                .as_deref(),
            Some("/blog/first.rsc")
        );
    }

    /// Outputs `next start` keeps out of its routes are not found at their own URL; `/` still
    /// finds the pages router's `/index`, and the 404 page stays where it is.
    #[test]
    fn internal_pages_are_not_found_at_their_own_url() {
        for (name, internal) in [
            ("pages-router", &["/_error", "/index", "/500"][..]),
            ("app-router", &["/_not-found", "/500"][..]),
        ] {
            let mut m: serde_json::Value =
                serde_json::from_str(&manifest_from_context(name)).expect("json");
            // The kind the artifacts step writes for a pages-router page's HTML.
            for f in m["staticFiles"].as_array_mut().into_iter().flatten() {
                if f["pathname"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(".html") || !p.contains('.'))
                {
                    f["kind"] = "static-page".into();
                }
            }
            let r = Router::new(&m.to_string()).expect("router");
            let get = |url: &str| passed_through(&r, &format!("http://localhost{url}"), &[]);
            for url in internal {
                assert_eq!(get(url).kind, DecisionKind::NotFound, "{name} {url}");
            }
            assert_eq!(get("/").kind, DecisionKind::Resolved, "{name} /");
            assert_eq!(
                get("/404").resolved_pathname.as_deref(),
                Some("/404"),
                "{name}"
            );
        }
        let fr = [FoldedName::new("fr")];
        assert!(is_internal_page("/base/fr/_error", "/base", &fr, false));
        assert!(!is_internal_page("/base/fr/500", "/base", &fr, true));
        assert!(is_internal_page("/500", "", &[], true));
        assert!(!is_internal_page("/fr", "", &fr, false));
        // An app route named `/index` (app/index/page.js) is a page of its own; a pages-router
        // `/index` is not, static or rendered (an i18n app's getStaticProps index).
        assert!(is_internal_page("/index", "", &[], true));
        assert!(!is_internal_page("/index", "", &[], false));
        assert!(is_internal_page("/base/index", "/base", &fr, true));
    }

    /// A pages-router `/index` is a 404 at its own URL whatever renders it (an i18n app's
    /// getStaticProps index is a function); an app route named `/index` is a page of its own.
    #[test]
    fn a_pages_index_function_is_not_found_at_its_own_url() {
        let manifest = |functions: serde_json::Value, i18n: bool| {
            let config = if i18n {
                serde_json::json!({ "i18n": { "locales": ["en", "fr"], "defaultLocale": "en" } })
            } else {
                serde_json::json!({})
            };
            let m = small_manifest(config, serde_json::json!([]), functions);
            Router::new(&m.to_string()).expect("router")
        };
        let get = |r: &Router, url: &str| passed_through(r, &format!("http://localhost{url}"), &[]);
        let pages = manifest(
            serde_json::json!([
                { "pathname": "/index", "id": "/index", "kind": "node-function", "type": "PAGES" },
                { "pathname": "/en", "id": "/en", "kind": "node-function", "type": "PAGES" }
            ]),
            true,
        );
        assert_eq!(get(&pages, "/index").kind, DecisionKind::NotFound);
        assert_eq!(get(&pages, "/fr/index").kind, DecisionKind::NotFound);
        assert_eq!(get(&pages, "/en").resolved_pathname.as_deref(), Some("/en"));
        let app = manifest(
            serde_json::json!([
                { "pathname": "/index", "id": "/index", "kind": "node-function", "type": "APP_PAGE" }
            ]),
            false,
        );
        assert_eq!(
            get(&app, "/index").resolved_pathname.as_deref(),
            Some("/index")
        );
    }

    /// A locale typed in another case (`/base/FR/about`) finds the page under the locale as
    /// configured, as `next start`'s filesystem lookup and dynamic routes find it (they take
    /// the path without the locale, which `normalizeLocalePath` removes ignoring case).
    #[test]
    fn a_locale_in_another_case_finds_the_page_under_the_locale() {
        let mut m = small_manifest(
            serde_json::json!({ "basePath": "/base", "i18n": { "locales": ["en", "fr", "de-DE"], "defaultLocale": "en" } }),
            serde_json::json!([{
                "source": "/posts/[id]",
                "sourceRegex": "^/base[/]?(?<nextLocale>[^/]{1,})/posts/(?<nxtPid>[^/]+?)(?:/)?$",
                "destination": "/base/$nextLocale/posts/[id]?nxtPid=$nxtPid"
            }]),
            serde_json::json!([
                { "pathname": "/base/en/posts/[id]", "id": "/en/posts/[id]", "kind": "node-function" },
                { "pathname": "/base/de-DE/posts/[id]", "id": "/de-DE/posts/[id]", "kind": "node-function" }
            ]),
        );
        m["staticFiles"] = serde_json::json!([
            { "pathname": "/base/fr/about", "file": "static/base/fr/about.html", "kind": "static-page" }
        ]);
        let r = Router::new(&m.to_string()).expect("router");
        let resolved = |url: &str| resolved_path(&r, url);
        assert_eq!(
            resolved("/base/fr/about").as_deref(),
            Some("/base/fr/about")
        );
        assert_eq!(
            resolved("/base/FR/about").as_deref(),
            Some("/base/fr/about")
        );
        assert_eq!(
            resolved("/base/de-de/posts/9").as_deref(),
            Some("/base/de-DE/posts/[id]")
        );
        assert_eq!(resolved("/base/xx/about"), None);
    }

    /// The root's locale redirect as `next start` decides it: on a locale's domain the domain's
    /// locale is detected (the cookie and Accept-Language do not redirect), unless
    /// Accept-Language prefers another domain's locale; elsewhere the cookie, then
    /// Accept-Language, choose the locale, and the Location is the path on this host.
    #[test]
    fn the_root_locale_redirect_follows_next_start() {
        let m = small_manifest(
            serde_json::json!({ "basePath": "/base", "trailingSlash": true, "i18n": {
                "locales": ["en", "fr", "de", "nl"], "defaultLocale": "en",
                "domains": [
                    { "domain": "fr.test", "defaultLocale": "fr", "http": true },
                    { "domain": "nl.test", "defaultLocale": "nl" }
                ]
            } }),
            serde_json::json!([]),
            serde_json::json!([
                { "pathname": "/base/en", "id": "/en", "kind": "node-function" },
                { "pathname": "/base/fr", "id": "/fr", "kind": "node-function" }
            ]),
        );
        let r = Router::new(&m.to_string()).expect("router");
        let location = |host: &str, headers: &[(&str, &str)]| {
            let mut all = vec![("host", host)];
            all.extend_from_slice(headers);
            let d = passed_through(&r, &format!("http://{host}/base/?a=1"), &all);
            (d.kind, d.redirect.map(|r| r.location.to_string()))
        };
        // Elsewhere: the cookie first, on this host.
        assert_eq!(
            location(
                "localhost",
                &[("cookie", "NEXT_LOCALE=fr"), ("accept-language", "de")]
            ),
            (DecisionKind::Redirect, Some("/base/fr/?a=1".to_string()))
        );
        assert_eq!(
            location("localhost", &[("accept-language", "de")]),
            (DecisionKind::Redirect, Some("/base/de/?a=1".to_string()))
        );
        // On fr's domain: fr, whatever the cookie says.
        assert_eq!(
            location("fr.test", &[("cookie", "NEXT_LOCALE=de")]).0,
            DecisionKind::Resolved
        );
        // Accept-Language preferring nl, which has a domain of its own: that domain's root.
        assert_eq!(
            location("fr.test", &[("accept-language", "nl")]),
            (DecisionKind::Redirect, Some("https://nl.test/".to_string()))
        );
        // `/index` is the root too (denormalizePagePath), with or without its slash; a page
        // below it is not.
        for (path, to) in [
            ("/base/index", Some("/base/de/")),
            ("/base/index/", Some("/base/de/")),
            ("/base/index/x", None),
            ("/base/indexx", None),
        ] {
            let d = passed_through(
                &r,
                &format!("http://localhost{path}"),
                &[("host", "localhost"), ("accept-language", "de")],
            );
            let redirect = d.redirect.filter(|r| r.status == 307).map(|r| r.location);
            assert_eq!(redirect.as_deref(), to, "{path}");
        }
    }

    /// Next's index data route of an i18n app (`(?<nextLocale>[^/]{1,}).json`, unanchored, the
    /// dot any character) takes only what `next start` takes: `…/en.json`, not `…/en.json.rsc`,
    /// `…/en.jsonx` or `…/enxjson`.
    #[test]
    fn the_index_data_route_is_anchored_as_next_start_matches_it() {
        let m = small_manifest(
            serde_json::json!({ "basePath": "/base", "i18n": { "locales": ["en", "fr"], "defaultLocale": "en" } }),
            serde_json::json!([{
                "source": "/",
                "sourceRegex": "^/base/_next/data/b/(?<nextLocale>[^/]{1,}).json",
                "destination": "/base/_next/data/b/$nextLocale.json"
            }]),
            serde_json::json!([
                { "pathname": "/base/_next/data/b/en.json", "id": "a", "kind": "prerender" },
                { "pathname": "/base/_next/data/b/fr.json", "id": "b", "kind": "prerender" }
            ]),
        );
        let r = Router::new(&m.to_string()).expect("router");
        let resolved = |url: &str| resolved_path(&r, url);
        assert_eq!(
            resolved("/base/_next/data/b/FR.json").as_deref(),
            Some("/base/_next/data/b/fr.json")
        );
        for url in [
            "/base/_next/data/b/en.json.rsc",
            "/base/_next/data/b/fr.jsonx",
            "/base/_next/data/b/enxjson",
        ] {
            assert_eq!(resolved(url), None, "{url}");
        }
        assert_eq!(
            anchored_index_data_route("^/a/(?<nextLocale>[^/]{1,}).json"),
            "^/a/(?<nextLocale>[^/]{1,}).json"
        );
    }

    /// A `_next/data` URL of an i18n app takes its locale in any case and, without middleware,
    /// needs one (base-server's `handleNextDataRequest` 404s it), whatever outputs the build has.
    #[test]
    fn data_urls_with_i18n_take_their_locale_in_any_case_and_need_one() {
        let manifest = |matchers: serde_json::Value| {
            let mut m = small_manifest(
                serde_json::json!({ "basePath": "/base", "i18n": { "locales": ["en", "fr"], "defaultLocale": "en" } }),
                serde_json::json!([{
                    "source": "/posts/[id]",
                    "sourceRegex": "^/base/_next/data/b/(?<nextLocale>[^/]{1,})/posts/(?<nxtPid>[^/]+?)\\.json$",
                    "destination": "/base/_next/data/b/$nextLocale/posts/[id].json?nxtPid=$nxtPid"
                }]),
                serde_json::json!([
                    { "pathname": "/base/_next/data/b/ssr.json", "id": "a", "kind": "node-function" },
                    { "pathname": "/base/_next/data/b/fr/ssr.json", "id": "b", "kind": "node-function" },
                    { "pathname": "/base/_next/data/b/en/ssr.json", "id": "e", "kind": "node-function" },
                    { "pathname": "/base/_next/data/b/en.json", "id": "c", "kind": "node-function" },
                    { "pathname": "/base/_next/data/b/fr/posts/[id].json", "id": "d", "kind": "node-function" }
                ]),
            );
            m["middlewareMatchers"] = matchers;
            m.to_string()
        };
        let r = Router::new(&manifest(serde_json::json!([]))).expect("router");
        assert_eq!(resolved_path(&r, "/base/_next/data/b/ssr.json"), None);
        assert_eq!(resolved_path(&r, "/base/_next/data/b/posts/1.json"), None);
        for (url, output) in [
            (
                "/base/_next/data/b/fr/ssr.json",
                "/base/_next/data/b/fr/ssr.json",
            ),
            (
                "/base/_next/data/b/FR/ssr.json",
                "/base/_next/data/b/fr/ssr.json",
            ),
            ("/base/_next/data/b/EN.json", "/base/_next/data/b/en.json"),
            (
                "/base/_next/data/b/Fr/posts/7.json",
                "/base/_next/data/b/fr/posts/[id].json",
            ),
        ] {
            assert_eq!(resolved_path(&r, url).as_deref(), Some(output), "{url}");
        }
        // With middleware, a data URL without a locale is the default locale's (next start's
        // `middleware_next_data` route normalizes it so), whatever the build's
        // `shouldNormalizeNextData` says.
        let all = serde_json::json!([{ "source": "/:path*", "sourceRegex": "^/.*$" }]);
        let with_middleware = Router::new(&manifest(all)).expect("router");
        assert_eq!(
            resolved_path(&with_middleware, "/base/_next/data/b/ssr.json").as_deref(),
            Some("/base/_next/data/b/en/ssr.json")
        );
    }

    /// `next start` matches dynamic routes case-sensitively and custom routes (rewrites,
    /// redirects, headers) case-insensitively; `@next/routing` matches both with the `i` flag.
    #[test]
    fn dynamic_routes_match_case_sensitively_as_on_next_start() {
        let r = Router::new(&manifest_from_context("app-router")).expect("router");
        let get = |url: &str| passed_through(&r, &format!("http://localhost{url}"), &[]);
        for url in ["/Blog/first", "/BLOG/zzz", "/Products/9"] {
            let d = get(url);
            assert_eq!(d.kind, DecisionKind::NotFound, "{url}");
            assert_eq!(d.matched_route, None, "{url}");
        }
        // The parameter keeps its case; the route's own letters are what must match.
        let slug = get("/blog/First");
        assert_eq!(slug.resolved_pathname.as_deref(), Some("/blog/[slug]"));
        assert!(
            slug.query
                .pairs()
                .any(|(k, v)| k == "nxtPslug" && v == "First"),
            "{}",
            slug.query.as_str()
        );
        assert_eq!(
            get("/products/9").matched_route.as_deref(),
            Some("/products/[id]")
        );
        // A rewrite (afterFiles `/fallback-rewrite/:path*`) still matches in any case.
        let rewritten = get("/Fallback-rewrite/first");
        assert_eq!(rewritten.kind, DecisionKind::Resolved);
        assert_eq!(
            get("/fallback-rewrite/first").resolved_pathname,
            rewritten.resolved_pathname
        );
    }

    /// Next 16.2 and 16.3 write a dynamic route's Flight suffixes as a route of their own,
    /// before the page's, with a required named group and `$rscSuffix` in its destination
    /// (`build/adapter/build-complete.js` there). A segment named in the URL is not found on
    /// `next start` of those versions either; asked for by its headers, it is served.
    #[test]
    fn urls_naming_segments_resolve_as_on_next_start_of_16_3() {
        let mut m: serde_json::Value =
            serde_json::from_str(&manifest_from_context("app-router")).expect("json");
        let group_16_4 = r"(\.rsc|\.segments/.+\.segment\.rsc|)";
        let group_16_3 = r"(?<rscSuffix>\.rsc|\.segments/.+\.segment\.rsc)";
        let dynamic = m["routing"]["dynamicRoutes"]
            .as_array()
            .expect("dynamicRoutes");
        let mut routes = Vec::new();
        for d in dynamic {
            let regex = d["sourceRegex"].as_str().expect("sourceRegex");
            let Some(at) = regex.find(group_16_4) else {
                routes.push(d.clone());
                continue;
            };
            let destination = d["destination"].as_str().expect("destination");
            let mut flight = d.clone();
            flight["source"] = format!("{}.rsc", d["source"].as_str().expect("source")).into();
            flight["sourceRegex"] = regex.replacen(group_16_4, group_16_3, 1).into();
            flight["destination"] = destination.replacen("$2", "$rscSuffix", 1).into();
            let mut page = d.clone();
            page["sourceRegex"] =
                format!("{}{}", &regex[..at], &regex[at + group_16_4.len()..]).into();
            page["destination"] = destination.replacen("$2", "", 1).into();
            routes.push(flight);
            routes.push(page);
        }
        assert!(
            routes.len() > dynamic.len(),
            "the fixture has Flight suffix groups"
        );
        m["routing"]["dynamicRoutes"] = routes.into();
        let r = Router::new(&m.to_string()).expect("router");
        let r16_4 = Router::new(&manifest_from_context("app-router")).expect("router");
        // The decision, but for the captures' numbers and names (the forms differ in those).
        let decide = |r: &Router, url: &str, headers: &[(&str, &str)]| {
            let mut d = passed_through(r, &format!("http://localhost{url}"), headers);
            d.route_matches.clear();
            serde_json::to_value(d).expect("json")
        };

        let prefetch: &[(&str, &str)] = &[
            ("rsc", "1"),
            ("next-router-prefetch", "1"),
            ("next-router-segment-prefetch", "/_tree"),
        ];
        for (url, headers) in [
            ("/blog/first.segments/_tree.segment.rsc", &[][..]),
            ("/blog/new.segments/_tree.segment.rsc", &[]),
            ("/blog/first", prefetch),
            ("/blog/first", &[("rsc", "1")]),
            ("/blog/first", &[]),
            ("/blog/first.rsc", &[]),
            ("/blog/new", prefetch),
            ("/blog/new", &[("rsc", "1")]),
            ("/blog/new", &[]),
            ("/blog/new.rsc", &[]),
            ("/blog/a/b", &[]),
        ] {
            let d = decide(&r, url, headers);
            assert_eq!(d, decide(&r16_4, url, headers), "{url} {headers:?}");
            if url.contains(".segments/") {
                assert_eq!(d["kind"], "notFound", "{url}");
            }
        }
    }

    /// A `.rsc` URL under a route whose unknown paths are not found carries the route, as a
    /// parameter it never prerendered does: `next start` answers both with the route's 404.
    #[test]
    fn flight_urls_of_not_found_routes_name_the_route() {
        let mut m: serde_json::Value =
            serde_json::from_str(&manifest_from_context("app-router")).expect("json");
        // `dynamicParams = false`, as Next writes it: the prerenders' fallback is "not found",
        // and the dynamic route only matches with the draft-mode cookie.
        for p in m["prerenders"].as_array_mut().into_iter().flatten() {
            if p["pathname"]
                .as_str()
                .is_some_and(|s| s.starts_with("/blog/"))
            {
                p["fallbackMode"] = serde_json::json!({ "mode": "notFound" });
            }
        }
        for d in m["routing"]["dynamicRoutes"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if d["source"] == "/blog/[slug]" {
                d["has"] = serde_json::json!([{ "type": "cookie", "key": "__prerender_bypass", "value": "x" }]);
            }
        }
        let r = Router::new(&m.to_string()).expect("router");
        // `/blog/first.rsc` names a twin the build has; next start answers it as the page of
        // the slug `first.rsc`, which was never prerendered.
        for url in ["/blog/first.rsc", "/blog/never.rsc", "/blog/never"] {
            let d = passed_through(&r, &format!("http://localhost{url}"), &[]);
            assert_eq!(d.kind, DecisionKind::NotFound, "{url}");
            assert_eq!(d.matched_route.as_deref(), Some("/blog/[slug]"), "{url}");
        }
        let segment = passed_through(
            &r,
            "http://localhost/blog/never.segments/_tree.segment.rsc",
            &[],
        );
        assert_eq!(segment.kind, DecisionKind::NotFound);
        assert_eq!(segment.matched_route, None);
    }

    #[test]
    fn only_headers_some_rule_reads_are_wanted() {
        let mut base: serde_json::Value =
            serde_json::from_str(&manifest_from_context("pages-router")).expect("json");
        // (Its prerender-bypass cookie conditions taken off.)
        for (_, routes) in base["routing"].as_object_mut().expect("routing").iter_mut() {
            for r in routes.as_array_mut().into_iter().flatten() {
                if let Some(r) = r.as_object_mut() {
                    r.remove("has");
                    r.remove("missing");
                }
            }
        }
        let names = |m: &serde_json::Value| -> Vec<String> {
            Router::new(&m.to_string())
                .expect("router")
                .header_names()
                .to_vec()
        };
        // No i18n, no cookie condition: the locale headers are never read, so never passed.
        let plain = names(&base);
        assert!(plain.iter().any(|n| n == "host"), "{plain:?}");
        assert!(
            !plain
                .iter()
                .any(|n| n == "cookie" || n == "accept-language"),
            "{plain:?}"
        );
        // A cookie condition reads `cookie`; a header condition its header, lower-cased.
        let mut with_conds = base.clone();
        with_conds["routing"]["beforeFiles"]
            .as_array_mut()
            .expect("beforeFiles")
            .push(serde_json::json!({
                "source": "/c", "sourceRegex": "^/c$", "destination": "/ssr",
                "has": [{ "type": "cookie", "key": "flag" }, { "type": "header", "key": "X-Flag" }]
            }));
        let conds = names(&with_conds);
        assert!(conds.iter().any(|n| n == "cookie"), "{conds:?}");
        assert!(conds.iter().any(|n| n == "x-flag"), "{conds:?}");
        assert!(!conds.iter().any(|n| n == "accept-language"), "{conds:?}");
        // The condition's header, named in any case, is read from the request in any case.
        let r = Router::new(&with_conds.to_string()).expect("router");
        let to = |headers: &[(&str, &str)]| {
            r.resolve(&req("http://localhost/c", headers))
                .resolved_pathname
        };
        let both = [("Cookie", "flag=1"), ("x-FLAG", "on")];
        assert_eq!(to(&both).as_deref(), Some("/ssr"));
        assert_ne!(to(&both[..1]).as_deref(), Some("/ssr"));
        assert_ne!(to(&both[1..]).as_deref(), Some("/ssr"));
        // i18n detects the locale from both.
        let mut i18n = base;
        i18n["config"]["i18n"] =
            serde_json::json!({ "locales": ["en", "fr"], "defaultLocale": "en" });
        let localized = names(&i18n);
        assert!(localized.iter().any(|n| n == "cookie"), "{localized:?}");
        assert!(
            localized.iter().any(|n| n == "accept-language"),
            "{localized:?}"
        );
    }

    /// A `has` / `missing` value is matched as `next start`'s `matchHas` builds it, `^<value>$`,
    /// and nothing else: not unanchored, not as a literal (what `@next/routing` also tries).
    #[test]
    fn condition_values_match_as_next_start_anchors_them() {
        let mut m: serde_json::Value =
            serde_json::from_str(&manifest_from_context("pages-router")).expect("json");
        let routes = m["routing"]["beforeFiles"]
            .as_array_mut()
            .expect("beforeFiles");
        routes.push(serde_json::json!({
            "source": "/g", "sourceRegex": "^/g$", "destination": "/ssr",
            "has": [{ "type": "header", "key": "x-g", "value": "(?<val>yes|true)" }]
        }));
        routes.push(serde_json::json!({
            "source": "/a", "sourceRegex": "^/a$", "destination": "/ssr",
            "has": [{ "type": "query", "key": "q", "value": "yes|true" }]
        }));
        routes.push(serde_json::json!({
            "source": "/l", "sourceRegex": "^/l$", "destination": "/ssr",
            "has": [{ "type": "cookie", "key": "c", "value": "a+b" }]
        }));
        routes.push(serde_json::json!({
            "source": "/m", "sourceRegex": "^/m$", "destination": "/ssr",
            "missing": [{ "type": "header", "key": "x-m", "value": "on" }]
        }));
        let r = Router::new(&m.to_string()).expect("router");
        let to = |url: &str, headers: &[(&str, &str)]| {
            r.resolve(&req(&format!("http://localhost{url}"), headers))
                .resolved_pathname
                .as_deref()
                == Some("/ssr")
        };
        assert!(to("/g", &[("x-g", "yes")]));
        assert!(to("/g", &[("x-g", "true")]));
        // (`@next/routing` found `yes` in these.)
        assert!(!to("/g", &[("x-g", "yesyes")]));
        assert!(!to("/g", &[("x-g", "a yes")]));
        // Not grouped: `^yes|true$` is `^yes` or `true$`.
        assert!(to("/a?q=yesno", &[]));
        assert!(to("/a?q=untrue", &[]));
        assert!(!to("/a?q=no", &[]));
        // A value is a regex: `a+b` is `ab`, `aab`, …, not the text `a+b`.
        assert!(to("/l", &[("cookie", "c=aab")]));
        assert!(!to("/l", &[("cookie", "c=a+b")]));
        // `missing` alike: `on` is missing from `only`.
        assert!(to("/m", &[("x-m", "only")]));
        assert!(!to("/m", &[("x-m", "on")]));
    }

    #[test]
    fn redirects_rewrites_and_middleware_round_trip() {
        let r = app();
        let d = r.resolve(&req("http://localhost/temp-redirect?x=1", &[]));
        assert_eq!(
            d.kind,
            DecisionKind::Redirect,
            "redirects come before middleware (which matches every path)"
        );
        assert_eq!(d.status, Some(307));
        assert_eq!(
            d.redirect.as_ref().map(|r| r.location.as_str()),
            Some("/about?x=1")
        );

        let d = r.resolve(&req(
            "http://localhost/header-rewrite",
            &[("x-rewrite-me", "yes")],
        ));
        let d = r
            .resume(d.continuation.expect("token"), &MiddlewareResult::default())
            .expect("resume");
        assert_eq!(d.resolved_pathname.as_deref(), Some("/about"));
        assert!(
            d.query.pairs().any(|(k, v)| k == "val" && v == "yes"),
            "{:?}",
            d.query
        );

        let d = r.resolve(&req("http://localhost/blog/zzz", &[]));
        let d = r
            .resume(d.continuation.expect("token"), &MiddlewareResult::default())
            .expect("resume");
        assert_eq!(d.resolved_pathname.as_deref(), Some("/blog/[slug]"));
        assert_eq!(d.invocation_pathname.as_deref(), Some("/blog/zzz"));

        let rewrite = MiddlewareResult {
            rewrite: Some("/about".into()),
            ..Default::default()
        };
        let d = r.resolve(&req("http://localhost/anything", &[]));
        let d = r
            .resume(d.continuation.expect("token"), &rewrite)
            .expect("resume");
        assert_eq!(d.resolved_pathname.as_deref(), Some("/about"));

        // A rewrite is external when it leaves the request's origin: scheme, host or port.
        for (target, external) in [
            ("http://localhost/about", false),
            ("http://localhost:80/about", false),
            ("https://localhost/about", true),
            ("http://localhost:3000/about", true),
            ("http://example.com/about", true),
        ] {
            let rewrite = MiddlewareResult {
                rewrite: Some(target.into()),
                ..Default::default()
            };
            let d = r.resolve(&req("http://localhost/anything", &[]));
            let d = r
                .resume(d.continuation.expect("token"), &rewrite)
                .expect("resume");
            if external {
                assert_eq!(d.kind, DecisionKind::ExternalRewrite, "{target}");
                assert_eq!(d.external_url.as_deref(), Some(target), "{target}");
            } else {
                assert_eq!(d.resolved_pathname.as_deref(), Some("/about"), "{target}");
            }
        }

        let sent = MiddlewareResult {
            body_sent: true,
            ..Default::default()
        };
        let d = r.resolve(&req("http://localhost/x", &[]));
        let d = r
            .resume(d.continuation.expect("token"), &sent)
            .expect("resume");
        assert_eq!(d.kind, DecisionKind::MiddlewareResponded);
        assert!(r.resume(u32::MAX, &sent).is_err());
        let d = r.resolve(&req("http://localhost/x", &[]));
        let token = d.continuation.expect("token");
        assert!(r.resume(token, &sent).is_ok());
        assert!(r.resume(token, &sent).is_err(), "single use");
    }

    #[test]
    fn split_destination_is_split_on_question_marks() {
        for d in [
            "",
            "?",
            "??",
            "/a",
            "/a?b",
            "/a?b?c",
            "?x",
            "/a?",
            "/\u{e9}?\u{fc}?x",
        ] {
            let mut it = d.split('?');
            let expected = (it.next().unwrap_or(""), it.next());
            assert_eq!(split_destination(d), expected, "{d:?}");
        }
    }

    #[test]
    fn destination_substitution() {
        let caps = Captures {
            groups: vec![Some("/a/b".into()), Some("a".into()), None],
            named: vec![("slug".into(), Some("s".into()))],
        };
        let has = vec![("val".into(), "v".into())];
        assert_eq!(
            replace_destination("/x/$1/$2/$slug/$val/$10/$nope", Some(&caps), &has),
            "/x/a//s/v/$10/$nope"
        );
        assert_eq!(replace_destination("/plain", None, &Vec::new()), "/plain");
    }

    #[test]
    fn header_entries_follow_fetch_order() {
        // Fetch `Headers` iteration: sorted names, a repeated name's values joined with `, ` in
        // the order they were added, except `set-cookie`, whose values stay apart.
        let mut h = HeaderList::default();
        h.append("X-B", "2");
        h.append("set-cookie", "b=2");
        h.append("x-a", "1");
        h.append("x-b", " 3 ");
        h.append("Set-Cookie", "a=1");
        h.set("X-C", "c");
        let pairs = |v: &[(&str, &str)]| -> Vec<(CompactString, CompactString)> {
            v.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
        };
        assert_eq!(
            h.entries(),
            pairs(&[
                ("set-cookie", "b=2"),
                ("set-cookie", "a=1"),
                ("x-a", "1"),
                ("x-b", "2, 3"),
                ("x-c", "c"),
            ])
        );
        h.set("x-b", "4");
        assert_eq!(h.get("X-B").as_deref(), Some("4"));
        assert_eq!(HeaderList::default().entries(), Vec::new());
        // Already in name order: combined without sorting.
        let mut h = HeaderList::default();
        h.append("x-a", "1");
        h.append("X-A", "2");
        h.append("x-b", "3");
        assert_eq!(h.entries(), pairs(&[("x-a", "1, 2"), ("x-b", "3")]));
    }

    #[test]
    fn segment_dirs_are_found_as_match_indices_finds_them() {
        let reference = |path: &str, suffix: &str| {
            path.match_indices(suffix)
                .any(|(i, m)| path[i + m.len()..].starts_with('/'))
        };
        let pieces = [
            "",
            "/",
            ".segments",
            ".seg",
            "a",
            "aa",
            "é",
            ".segments/",
            "x/.segments",
        ];
        let suffixes = [".segments", "aa", "a", "", "é/", "/"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let path = format!("{a}{b}{c}");
                    for suffix in suffixes {
                        assert_eq!(
                            has_segment_dir(&path, suffix),
                            reference(&path, suffix),
                            "{path:?} {suffix:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn plain_redirect_locations_are_what_the_joined_url_gives() {
        let urls = [
            "http://localhost/a?x=1&y=%20z",
            "https://Example.com:8443/base/fr/?q=%E2%82%AC#frag",
            "http://h/a?",
            "http://h/?=v",
        ];
        let locations = [
            "/",
            "/a/",
            "/base/fr/about",
            "/a//b/",
            "/x?y",
            "/x#y",
            "//other/x",
            "/./x",
            "/a/%2e%2e/",
            "/é/",
            "/a b",
            "http://other/x",
            "x/y",
            "",
        ];
        let mut fast = 0;
        for url in urls {
            let u = Url::parse(url).expect("a valid URL");
            for loc in locations {
                let ours = redirect_location_with_query(loc, &u);
                let Some(query) = u.query().filter(|q| !q.is_empty()) else {
                    assert_eq!(ours, loc);
                    continue;
                };
                fast += usize::from(u.joins_as_is(loc));
                assert_eq!(
                    ours,
                    joined_location_with_query(loc, &u, query),
                    "{url} {loc}"
                );
            }
        }
        // The plain locations took the fast path on the URLs with a query.
        assert_eq!(fast, 3 * 4);
    }

    /// A Location the route wrote absolute stays absolute with the request's query, on the
    /// request's own origin too (an i18n domain's redirect asked for on that domain), as
    /// `next start` writes it; a relative one stays relative.
    #[test]
    fn absolute_redirect_locations_stay_absolute_with_the_query() {
        let u = Url::parse("http://fr.example.test/base/fr/old/1/?x=a+b").expect("URL");
        assert_eq!(
            redirect_location_with_query("http://fr.example.test/base/posts/1", &u),
            "http://fr.example.test/base/posts/1?x=a%20b"
        );
        assert_eq!(
            redirect_location_with_query("/base/posts/1", &u),
            "/base/posts/1?x=a%20b"
        );
        assert!(has_scheme("https://x/") && has_scheme("a+b-c.d:x"));
        assert!(!has_scheme("/a:b") && !has_scheme("1http://x") && !has_scheme("//x/y"));
    }

    #[test]
    fn a_condition_holds_where_it_matches() {
        let header = |key: &str, value: Option<&str>| RouteHas::Header {
            key: key.into(),
            value: value.map(str::to_string),
        };
        let conds = compile_conds(&Some(vec![
            header("x-a", None),
            header("x-a", Some("ab+")),
            header("x-a", Some("z")),
            // Does not compile: compared as a literal.
            header("x-a", Some("(")),
            header("x-b", None),
            header("x-e", None),
            RouteHas::Cookie {
                key: "c".into(),
                value: Some("v".into()),
            },
            RouteHas::Query {
                key: "q".into(),
                value: Some("a.c".into()),
            },
            RouteHas::Query {
                key: "e".into(),
                value: None,
            },
            RouteHas::Host {
                value: "example\\.com".into(),
            },
        ]));
        let u = Url::parse("http://Example.com/p?q=abc&e=").expect("url");
        let (mut held, mut not) = (0, 0);
        for a in ["abbb", "(", "z", "zz", "AB", ""] {
            let mut h = RequestHeaders::default();
            h.push("x-a", a);
            h.push("x-e", "");
            h.push("cookie", "c=v; d=w");
            for c in &conds {
                let holds = condition_holds(c, &u, &h);
                let matches = condition_matches(condition_value(c, &u, &h), c).is_some();
                assert_eq!(holds, matches, "{:?} {} = {a:?}", c.ty, c.key);
                if holds {
                    held += 1;
                } else {
                    not += 1;
                }
            }
        }
        assert!(held > 0 && not > 0, "{held} held, {not} did not");
    }

    #[test]
    fn eq_lower_is_lowercased_equality() {
        let long = "a".repeat(5000);
        for (a, b) in [
            ("en", "EN"),
            ("de-DE", "de-de"),
            ("ko", "\u{212A}O"),
            ("\u{212A}\u{212A}", "kk"),
            ("fr", "fra"),
            ("fr", ""),
            ("\u{130}", "i\u{307}"),
            ("\u{130}", "I"),
            ("nl", long.as_str()),
            ("\u{e9}t\u{e9}", "\u{c9}T\u{c9}"),
        ] {
            let want = a.to_lowercase() == b.to_lowercase();
            assert_eq!(eq_lower(a, b), want, "{a:?} {b:?}");
            assert_eq!(eq_lower(b, a), want, "{b:?} {a:?}");
            assert_eq!(eq_lower_known(a, b, b.is_ascii()), want, "{a:?} {b:?}");
            assert_eq!(eq_lower_known(b, a, a.is_ascii()), want, "{b:?} {a:?}");
            let (fa, fb) = (FoldedName::new(a), FoldedName::new(b));
            assert_eq!(fa.eq_lower(b, b.is_ascii()), want, "folded {a:?} {b:?}");
            assert_eq!(fb.eq_lower(a, a.is_ascii()), want, "folded {b:?} {a:?}");
        }
    }

    #[test]
    fn locale_helpers() {
        let locales: Vec<String> = ["en", "fr", "de-DE"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            accept_language_locale("de;q=0.1, fr;q=0.9", &locales),
            Some("fr")
        );
        assert_eq!(accept_language_locale("fr;q=0", &locales), None);
        // As next start's acceptLanguage reads them (each checked against a live next start's
        // root redirect on i18n-basepath, whose locales these are).
        for (header, locale) in [
            ("de, fr;q=0.9", Some("de-DE")),
            ("de-AT", None),
            ("de-AT, fr;q=0.9", Some("fr")),
            ("xx, fr ;q=0.5", Some("fr")),
            ("*", Some("en")),
            ("*, en;q=0.5", Some("fr")),
            ("fr;q=2", Some("fr")),
            ("en;q=0.001, fr;q=0.0001", Some("fr")),
            (",,fr", Some("fr")),
            ("fr;q=0.5;x=1", None),
            ("fr;x", None),
        ] {
            assert_eq!(accept_language_locale(header, &locales), locale, "{header}");
        }
        assert_eq!(js_parse_float("1e-3x"), 0.001);
        assert_eq!(js_parse_float("-.5"), -0.5);
        assert_eq!(js_parse_float("5."), 5.0);
        assert!(js_parse_float(".").is_nan() && js_parse_float("x1").is_nan());
        assert_eq!(
            cookie_locale(Some("a=1; NEXT_LOCALE=FR"), &locales),
            Some("fr")
        );
        assert_eq!(
            cookie_locale(Some("bad=%zz; NEXT_LOCALE=fr"), &locales),
            None
        );
        let folded: Vec<FoldedName> = locales.iter().map(|l| FoldedName::new(l)).collect();
        assert_eq!(
            normalize_locale_path("/de-de/about", &folded),
            ("/about", Some("de-DE"))
        );
        assert_eq!(normalize_locale_path("/fr", &folded), ("/", Some("fr")));
        assert_eq!(normalize_locale_path("/FR/x", &folded), ("/x", Some("fr")));
        assert_eq!(normalize_locale_path("/fr-x/y", &folded), ("/fr-x/y", None));
    }

    /// Bounded random test: random paths, queries and headers never panic, and no resolution
    /// (middleware round trip included) backtracks catastrophically. The bound is far above the
    /// microseconds a resolution takes, so a shared, loaded machine cannot make it flaky; the
    /// speed itself is measured by `npm run bench:routing`, not here.
    #[test]
    fn random_requests_never_panic_or_stall() {
        let routers = [
            app(),
            Router::new(&manifest_from_context("pages-router")).expect("router"),
        ];
        let limit = Duration::from_millis(250);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let atoms = [
            "about",
            "blog",
            "_next",
            "data",
            "static",
            "api",
            "..",
            ".",
            "%2e",
            "%2F",
            "%",
            "%zz",
            "%E2%82%AC",
            "é",
            "a b",
            "[slug]",
            "$1",
            "index.rsc",
            ".segments",
            "x.json",
            "",
            "ABOUT",
            "\\",
            ";",
            "a".repeat(300).leak(),
        ];
        let values = [
            "1",
            "yes",
            "fr",
            "en;q=0.5",
            "session=1; NEXT_LOCALE=fr",
            "(a+)+",
            "%zz",
            "",
        ];
        let names = [
            "rsc",
            "cookie",
            "accept-language",
            "x-rewrite-me",
            "x-no-cors",
            "next-router-segment-prefetch",
        ];
        // Untimed warm-up: the linear-time regex programs build their caches on first use.
        for router in &routers {
            for p in [
                "/",
                "/about/x",
                "/blog/a.rsc",
                "/_next/data/x/y.json",
                "/a/b/c/d/",
            ] {
                let d = router.resolve(&req(p, &[("rsc", "1"), ("cookie", "a=1")]));
                if let Some(token) = d.continuation {
                    let _ = router.resume(token, &MiddlewareResult::default());
                }
            }
        }
        let mut worst = Duration::ZERO;
        for i in 0..3000 {
            let mut path = String::new();
            for _ in 0..(next() % 6) {
                path.push('/');
                path.push_str(atoms[(next() % atoms.len() as u64) as usize]);
            }
            if next() % 3 == 0 {
                path.push_str("?go=home&a=1&a=2");
            }
            let headers: Vec<(String, String)> = (0..(next() % 4))
                .map(|_| {
                    (
                        names[(next() % names.len() as u64) as usize].to_string(),
                        values[(next() % values.len() as u64) as usize].to_string(),
                    )
                })
                .collect();
            let request = Request {
                method: "GET".into(),
                url: if path.is_empty() { "/".into() } else { path },
                headers,
            };
            let router = &routers[i % 2];
            let t = Instant::now();
            let d = router.resolve(&request);
            if let Some(token) = d.continuation {
                let _ = router
                    .resume(token, &MiddlewareResult::default())
                    .expect("own token");
            }
            worst = worst.max(t.elapsed());
        }
        assert!(worst < limit, "slowest resolution took {worst:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// A route's compiled headers set what its headers set through `HeaderList::set` (names
        /// in any case, values with HTTP whitespace, on a list that already has some of them).
        #[test]
        fn static_route_headers_set_what_the_route_writes(
            headers in proptest::collection::btree_map(
                "(x-a|X-A|x-B|Location|location|LOCATION|set-cookie)",
                "[ \t]{0,2}[a-z/ ]{0,6}[ \r\n]{0,2}",
                0..6,
            ),
            before in proptest::collection::vec(("(x-a|X-a|location|x-c)", "[a-z ]{0,4}"), 0..4),
        ) {
            let route = Route {
                source: None,
                source_regex: "^/x$".into(),
                destination: None,
                headers: Some(headers.clone()),
                has: None,
                missing: None,
                status: None,
                priority: None,
            };
            let r = compile_route("beforeMiddleware", 0, &route, "").expect("compiles");
            let compiled = r.static_headers.as_deref().expect("no `$`: compiled");
            let mut resp = HeaderList::default();
            for (k, v) in &before {
                resp.append(k, v);
            }
            let mut want = resp.clone();
            for (k, v) in &headers {
                want.set(k, v);
            }
            MatchedHeaders::Static(compiled).apply(&mut resp);
            proptest::prop_assert_eq!(resp, want);
        }
    }
}
