//! The build outputs: functions, prerenders and static files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use super::route::RouteHas;

/// `type` of an output; checked against the array it appears in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutputType {
    /// A page of `pages/`.
    Pages,
    /// An API route of `pages/api/`.
    PagesApi,
    /// A page of `app/` (and its `.rsc` twin).
    AppPage,
    /// A route handler or metadata route of `app/`.
    AppRoute,
    /// A prerendered (ISR / static) response.
    Prerender,
    /// A static asset or statically optimized page.
    StaticFile,
    /// `middleware.ts` or `proxy.ts`.
    Middleware,
}

impl OutputType {
    /// The name Next uses.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputType::Pages => "PAGES",
            OutputType::PagesApi => "PAGES_API",
            OutputType::AppPage => "APP_PAGE",
            OutputType::AppRoute => "APP_ROUTE",
            OutputType::Prerender => "PRERENDER",
            OutputType::StaticFile => "STATIC_FILE",
            OutputType::Middleware => "MIDDLEWARE",
        }
    }
}

/// Which runtime a function is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Node.js: `handler(req, res, ctx)`.
    Nodejs,
    /// Edge: `handler(request, ctx) -> Response`, evaluated in a sandbox.
    Edge,
}

/// How to invoke an edge output: the registry key and export after its chunks are evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeRuntime {
    /// Absolute path of the module that registers the entry.
    pub module_path: PathBuf,
    /// Key of `globalThis._ENTRIES`.
    pub entry_key: String,
    /// Export to call on the entry (currently `handler`).
    pub handler_export: String,
}

/// A string or a list of strings (`preferredRegion`, header values).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

/// A middleware matcher as listed on the middleware output.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MiddlewareMatcher {
    /// The matcher as written in the middleware config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// JavaScript regex source.
    pub source_regex: String,
    /// Conditions that must all hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has: Option<Vec<RouteHas>>,
    /// Conditions that must all fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<RouteHas>>,
}

impl From<&super::route::Route> for MiddlewareMatcher {
    /// `routing.middlewareMatchers` (Next >= 16.3) lists matchers as routes.
    fn from(r: &super::route::Route) -> Self {
        MiddlewareMatcher {
            source: r.source.clone(),
            source_regex: r.source_regex.clone(),
            has: r.has.clone(),
            missing: r.missing.clone(),
        }
    }
}

/// Per-function configuration (segment config and edge env).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionConfig {
    /// Maximum execution time in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<f64>,
    /// Preferred deployment region(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_region: Option<OneOrMany>,
    /// Environment for edge functions (build keys, `NEXT_*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Middleware matchers (middleware only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matchers: Option<Vec<MiddlewareMatcher>>,
}

/// A page, API route, app page, app route or middleware: code that runs per request.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionOutput {
    /// Output kind; must match the array the output is listed in.
    #[serde(rename = "type")]
    pub output_type: OutputType,
    /// Unique id of the output.
    pub id: String,
    /// Absolute path of the entrypoint.
    pub file_path: PathBuf,
    /// URL pathname it serves (`.rsc` twins included).
    pub pathname: String,
    /// Source file in `app/` or `pages/`.
    #[serde(default)]
    pub source_page: String,
    /// Runtime it is built for.
    pub runtime: Runtime,
    /// Traced files: repo-relative key -> absolute source path.
    #[serde(default)]
    pub assets: BTreeMap<String, PathBuf>,
    /// Content hashes of `assets` (Next >= 16.3).
    #[serde(default)]
    pub assets_hashes: BTreeMap<String, String>,
    /// Bundled wasm: opaque name -> absolute path.
    #[serde(default)]
    pub wasm_assets: BTreeMap<String, PathBuf>,
    /// How to invoke it when `runtime` is edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_runtime: Option<EdgeRuntime>,
    /// Segment config.
    #[serde(default)]
    pub config: FunctionConfig,
}

/// `parentFallbackMode` of a prerender: what happens for paths that were not prerendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "mode", content = "file")]
pub enum FallbackMode {
    /// `false`: unknown paths are 404.
    NotFound,
    /// `null`: unknown paths render on demand, the request waits.
    Blocking,
    /// A string: the fallback shell served while the path renders.
    Static(String),
}

fn fallback_mode<'de, D: Deserializer<'de>>(de: D) -> Result<Option<FallbackMode>, D::Error> {
    use serde::de::Error as _;
    match serde_json::Value::deserialize(de)? {
        serde_json::Value::Null => Ok(Some(FallbackMode::Blocking)),
        serde_json::Value::Bool(false) => Ok(Some(FallbackMode::NotFound)),
        serde_json::Value::String(s) => Ok(Some(FallbackMode::Static(s))),
        other => Err(D::Error::custom(format!(
            "expected false, null or a string, found {other}"
        ))),
    }
}

/// `number | false`: seconds, or never.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Revalidate {
    /// Revalidate after this many seconds.
    After(f64),
    /// `false`: never revalidate.
    Never(bool),
}

impl<'de> Deserialize<'de> for Revalidate {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        match serde_json::Value::deserialize(de)? {
            serde_json::Value::Bool(false) => Ok(Revalidate::Never(false)),
            serde_json::Value::Number(n) => match n.as_f64() {
                Some(s) if s >= 0.0 => Ok(Revalidate::After(s)),
                _ => Err(D::Error::custom(format!(
                    "expected seconds >= 0, found {n}"
                ))),
            },
            other => Err(D::Error::custom(format!(
                "expected a number of seconds or false, found {other}"
            ))),
        }
    }
}

/// The seed Next wrote for a prerender at build time.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrerenderFallback {
    /// HTML, RSC, JSON or body file (absent when nothing was generated).
    #[serde(default)]
    pub file_path: Option<PathBuf>,
    /// Status to serve it with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_status: Option<u16>,
    /// Headers to serve it with (incl. `x-next-cache-tags`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_headers: Option<BTreeMap<String, OneOrMany>>,
    /// Seconds until the entry must not be served any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_expiration: Option<f64>,
    /// Seconds until the entry is stale, or never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_revalidate: Option<Revalidate>,
    /// PPR postponed state to resume from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postponed_state: Option<String>,
}

/// Cache behaviour of a prerender.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrerenderConfig {
    /// Query parameters that are part of the cache key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_query: Option<Vec<String>>,
    /// Headers passed to the function on regeneration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_header: Option<Vec<String>>,
    /// Conditions under which the cache is bypassed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass_for: Option<Vec<RouteHas>>,
    /// `STATIC` or `PARTIALLY_STATIC` (PPR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendering_mode: Option<String>,
    /// Serves a partial shell upgraded in the background.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_fallback: Option<bool>,
    /// Token (draft mode / on-demand revalidation) that bypasses the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass_token: Option<String>,
}

/// Headers Next asks to forward on a PPR resume.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PprChain {
    /// e.g. `x-nextjs-resume: 1`.
    pub headers: BTreeMap<String, String>,
}

/// An ISR-enabled or statically prerendered response.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prerender {
    /// Always `PRERENDER`.
    #[serde(rename = "type")]
    pub output_type: OutputType,
    /// Unique id.
    pub id: String,
    /// URL pathname of the prerendered response.
    pub pathname: String,
    /// The function that regenerates it.
    pub parent_output_id: String,
    /// Prerenders of one group revalidate together.
    pub group_id: u64,
    /// Route template (`/blog/[slug]`), Next >= 16.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// `route`, `page`, `shell` or `fallback` (Next >= 16.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_type: Option<String>,
    /// `empty`, `initial` or `complete` (Next >= 16.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// `blocking`, `resuming` or `static` (Next >= 16.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<String>,
    /// Byte size of the prerendered HTML (HTML outputs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_size: Option<u64>,
    /// PPR resume headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppr_chain: Option<PprChain>,
    /// What happens for paths not prerendered.
    #[serde(
        default,
        deserialize_with = "fallback_mode",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_fallback_mode: Option<FallbackMode>,
    /// The seeded cache entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<PrerenderFallback>,
    /// Cache behaviour.
    #[serde(default)]
    pub config: PrerenderConfig,
}

/// A file served as is: `_next/static`, a static HTML page, a static metadata file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticFile {
    /// Always `STATIC_FILE`.
    #[serde(rename = "type")]
    pub output_type: OutputType,
    /// Unique id.
    pub id: String,
    /// Absolute path of the file.
    pub file_path: PathBuf,
    /// URL pathname to serve it at.
    pub pathname: String,
    /// Content hash when the file name is hashed (immutable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable_hash: Option<String>,
}

/// `outputs`: every build output, by kind.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    /// Pages router pages.
    #[serde(default)]
    pub pages: Vec<FunctionOutput>,
    /// Pages router API routes.
    #[serde(default)]
    pub pages_api: Vec<FunctionOutput>,
    /// App router pages.
    #[serde(default)]
    pub app_pages: Vec<FunctionOutput>,
    /// App router route handlers.
    #[serde(default)]
    pub app_routes: Vec<FunctionOutput>,
    /// Prerendered responses.
    #[serde(default)]
    pub prerenders: Vec<Prerender>,
    /// Static files.
    #[serde(default)]
    pub static_files: Vec<StaticFile>,
    /// Middleware / proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middleware: Option<FunctionOutput>,
}

impl Outputs {
    /// Every function output with the type its array demands, middleware last.
    pub fn functions(&self) -> impl Iterator<Item = (OutputType, &FunctionOutput)> {
        let lists: [(OutputType, &[FunctionOutput]); 4] = [
            (OutputType::Pages, &self.pages),
            (OutputType::PagesApi, &self.pages_api),
            (OutputType::AppPage, &self.app_pages),
            (OutputType::AppRoute, &self.app_routes),
        ];
        lists
            .into_iter()
            .flat_map(|(ty, list)| list.iter().map(move |o| (ty, o)))
            .chain(self.middleware.iter().map(|m| (OutputType::Middleware, m)))
    }
}
