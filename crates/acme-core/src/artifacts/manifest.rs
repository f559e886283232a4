//! `manifest.json`: everything the runtime needs to serve the output, and nothing machine-specific.
//!
//! Deterministic: every list is sorted and maps are ordered, so the same build gives the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::classify::DeployKind;
use crate::model::{
    FallbackMode, FunctionConfig, I18nConfig, MiddlewareMatcher, OneOrMany, OutputType, Revalidate,
    RouteHas, Routing, Runtime,
};

/// The top-level manifest.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// [`super::layout::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Which adapter wrote it.
    pub adapter: AdapterInfo,
    /// Build id of the Next build.
    pub build_id: String,
    /// Next version that built it.
    pub next_version: String,
    /// The app's folder relative to the repository root (`''` when they are the same):
    /// the runtime's working directory below `server/`.
    pub project_dir: String,
    /// Serving-relevant configuration.
    pub config: ServeConfig,
    /// What the app uses, for the platform and the runtime.
    pub features: Features,
    /// The routing table, as Next emitted it.
    pub routing: Routing,
    /// Middleware matchers (normalized across Next versions).
    pub middleware_matchers: Vec<MiddlewareMatcher>,
    /// Every function, sorted by id.
    pub functions: Vec<FunctionEntry>,
    /// Every file served by URL, sorted by pathname.
    pub static_files: Vec<StaticEntry>,
    /// Every prerender, sorted by id.
    pub prerenders: Vec<PrerenderEntry>,
    /// Cache rules shared by prerenders (`PrerenderEntry::cache_config` indexes it): thousands of
    /// prerenders share a handful, so they are listed once.
    pub cache_configs: Vec<CacheConfig>,
    /// Seed header sets shared by prerenders (`SeedEntry::headers` indexes it).
    pub header_sets: Vec<BTreeMap<String, OneOrMany>>,
    /// Where the seed bytes are.
    pub seed_pack: SeedPack,
    /// Number of files below `server/`.
    pub server_files: usize,
    /// Hash stable across rebuilds of the same source: per-build random values (build id,
    /// preview keys, action key and ids, bypass tokens) replaced by placeholders, prerender seed
    /// contents left out. See [`crate::report::hash`].
    pub deployment_hash: String,
    /// Hash of the manifest (without this field) and of every file's content.
    pub content_hash: String,
}

/// Name and version of the adapter.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterInfo {
    /// `@acme/next-adapter`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The next.config settings the runtime honours.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServeConfig {
    /// Path prefix.
    pub base_path: String,
    /// URLs end in `/`.
    pub trailing_slash: bool,
    /// Locale routing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub i18n: Option<I18nConfig>,
    /// Image optimizer settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<serde_json::Value>,
    /// Skew protection id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// Skips middleware URL normalization.
    pub skip_middleware_url_normalize: bool,
    /// Skips the automatic trailing-slash redirect.
    pub skip_trailing_slash_redirect: bool,
    /// Send `x-powered-by`.
    pub powered_by_header: bool,
    /// Compress responses.
    pub compress: bool,
    /// Generate ETags.
    pub generate_etags: bool,
    /// Partial prefetching is on (`partialPrefetching`).
    pub partial_prefetching: bool,
    /// Check the `_rsc` search param of RSC requests (`experimental.validateRSCRequestHeaders`).
    #[serde(rename = "validateRSCRequestHeaders")]
    pub validate_rsc_request_headers: bool,
}

/// What the app uses.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    /// Has `app/` pages or routes.
    pub app_router: bool,
    /// Has `pages/` pages or API routes.
    pub pages_router: bool,
    /// Runtime of middleware / proxy, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middleware: Option<Runtime>,
    /// Number of edge functions (middleware excluded).
    pub edge_functions: usize,
    /// Some prerender revalidates (ISR).
    pub isr: bool,
    /// Some prerender is partially static (PPR).
    pub ppr: bool,
    /// Locale routing is configured.
    pub i18n: bool,
    /// A base path is configured.
    pub base_path: bool,
    /// The image optimizer is on (`images.unoptimized` is not set).
    pub image_optimization: bool,
}

/// A function: where its entry is and how to call it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionEntry {
    /// Output id.
    pub id: String,
    /// Next's output type.
    #[serde(rename = "type")]
    pub output_type: OutputType,
    /// Node, edge or middleware.
    pub kind: DeployKind,
    /// URL pathname.
    pub pathname: String,
    /// Source page.
    pub source_page: String,
    /// Runtime.
    pub runtime: Runtime,
    /// Entry file, relative to the output directory.
    pub entry: String,
    /// Segment config (edge env included).
    pub config: FunctionConfig,
    /// Edge invocation, for edge functions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeEntry>,
}

/// What an edge sandbox must evaluate and call.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeEntry {
    /// The registering module, relative to the output directory.
    pub module_path: String,
    /// Key of `globalThis._ENTRIES`.
    pub entry_key: String,
    /// Export to call.
    pub handler_export: String,
    /// Every `.js` asset to evaluate, in this order (webpack's runtime first, the entry module
    /// last), relative to the output directory.
    pub scripts: Vec<String>,
    /// Wasm modules: binding name -> file relative to the output directory.
    pub wasm: BTreeMap<String, String>,
    /// Other files the code fetches as `blob:<name>` (fonts of `next/og`, …): name (the file's
    /// path below Next's dist dir, as the code spells it) -> file relative to the output directory.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub assets: BTreeMap<String, String>,
}

/// A file served by URL.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticEntry {
    /// URL pathname (without basePath).
    pub pathname: String,
    /// File relative to the output directory.
    pub file: String,
    /// Content-Type to serve it with.
    pub content_type: String,
    /// Hashed asset that can be cached forever.
    pub immutable: bool,
    /// Static asset, static page or public file.
    pub kind: DeployKind,
    /// Size in bytes.
    pub size: u64,
    /// Response headers Next recorded for a route response it prerendered into a file (a static
    /// metadata route or route handler: the `.meta` beside its `.body`), `content-type` and
    /// `x-next-cache-tags` excepted. Empty for plain files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, OneOrMany>,
}

/// A prerender: its cache rules and its seed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrerenderEntry {
    /// Output id.
    pub id: String,
    /// URL pathname.
    pub pathname: String,
    /// The function that regenerates it.
    pub parent_output_id: String,
    /// Revalidation group.
    pub group_id: u64,
    /// Route template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// `route`/`page`/`shell`/`fallback`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_type: Option<String>,
    /// `empty`/`initial`/`complete`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// `blocking`/`resuming`/`static`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute: Option<String>,
    /// What happens for paths not prerendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_mode: Option<FallbackMode>,
    /// The seeded entry, when Next generated one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<SeedEntry>,
    /// Seconds until stale, or never (`false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revalidate: Option<Revalidate>,
    /// Seconds until expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire: Option<f64>,
    /// Index into `Manifest::cache_configs`.
    pub cache_config: usize,
    /// PPR resume headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppr_chain_headers: Option<BTreeMap<String, String>>,
}

/// Cache rules of a prerender.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheConfig {
    /// Query keys in the cache key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_query: Option<Vec<String>>,
    /// Headers passed on regeneration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_header: Option<Vec<String>>,
    /// Cache bypass conditions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass_for: Option<Vec<RouteHas>>,
    /// Token that bypasses the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass_token: Option<String>,
    /// `STATIC` or `PARTIALLY_STATIC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendering_mode: Option<String>,
    /// Partial fallback shell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_fallback: Option<bool>,
}

/// The seeded cache entry of a prerender.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedEntry {
    /// Index into `SeedPack::blobs`.
    pub blob: usize,
    /// Status to serve it with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Index into `Manifest::header_sets`.
    pub headers: usize,
    /// PPR postponed state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postponed_state: Option<String>,
}

/// The seed pack file and its blobs.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedPack {
    /// The pack, relative to the output directory.
    pub file: String,
    /// Distinct seed contents.
    pub blobs: Vec<super::pack::Blob>,
}
