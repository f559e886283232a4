//! One entry of a routing phase, as Next emits it (`Route` in `build-complete.d.ts`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A route of one routing phase: a JavaScript regex over the pathname plus what to do on a match.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// The pattern as the user wrote it (absent for generated internal rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// JavaScript regex source matched against the pathname.
    pub source_regex: String,
    /// Rewrite or redirect destination, with `$1` / `$name` substitutions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Response headers to set on a match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// Conditions that must all hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has: Option<Vec<RouteHas>>,
    /// Conditions that must all fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<RouteHas>>,
    /// Redirect (3xx) or response status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Next's internal priority flag (e.g. the trailing-slash redirect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<bool>,
}

/// A `has` / `missing` condition of a route, a middleware matcher or a prerender bypass.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RouteHas {
    /// A request header, optionally with a value regex.
    Header {
        /// Header name.
        key: String,
        /// Value regex (JavaScript); any value when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    /// A cookie, optionally with a value regex.
    Cookie {
        /// Cookie name.
        key: String,
        /// Value regex (JavaScript); any value when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    /// A query parameter, optionally with a value regex.
    Query {
        /// Parameter name.
        key: String,
        /// Value regex (JavaScript); any value when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    /// The request host.
    Host {
        /// Host regex (JavaScript).
        value: String,
    },
}

/// The routing table handed to `onBuildComplete`: phases in the order Next applies them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Routing {
    /// Headers and redirects applied before middleware.
    pub before_middleware: Vec<Route>,
    /// Middleware matchers (absent before Next 16.3: then taken from the middleware output).
    #[serde(default)]
    pub middleware_matchers: Vec<Route>,
    /// Rewrites checked before the filesystem.
    pub before_files: Vec<Route>,
    /// Rewrites checked after the filesystem.
    pub after_files: Vec<Route>,
    /// Dynamic route matchers.
    pub dynamic_routes: Vec<Route>,
    /// Routes applied after a successful match (e.g. immutable cache headers).
    pub on_match: Vec<Route>,
    /// Rewrites checked when nothing else matched.
    pub fallback: Vec<Route>,
    /// Whether `/_next/data/<buildId>/…json` URLs are normalized during matching.
    pub should_normalize_next_data: bool,
    /// React Server Components header and suffix names.
    pub rsc: RscConfig,
}

impl Routing {
    /// Every phase with its name, in the order Next applies them.
    pub fn phases(&self) -> [(&'static str, &[Route]); 7] {
        [
            ("beforeMiddleware", &self.before_middleware),
            ("middlewareMatchers", &self.middleware_matchers),
            ("beforeFiles", &self.before_files),
            ("afterFiles", &self.after_files),
            ("dynamicRoutes", &self.dynamic_routes),
            ("onMatch", &self.on_match),
            ("fallback", &self.fallback),
        ]
    }
}

/// `routing.rsc`: the names the runtime needs to map RSC requests to `.rsc` outputs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RscConfig {
    /// Request header marking an RSC request (`rsc`).
    pub header: String,
    /// Response header set when a render postponed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did_postpone_header: Option<String>,
    /// Content type of RSC payloads.
    pub content_type_header: String,
    /// The `Vary` value for RSC-aware responses.
    pub vary_header: String,
    /// Request header marking a prefetch.
    pub prefetch_header: String,
    /// Suffix of RSC outputs (`.rsc`).
    pub suffix: String,
    /// Request header naming the segment of a segment prefetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefetch_segment_header: Option<String>,
    /// Directory suffix of segment outputs (`.segments`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefetch_segment_dir_suffix: Option<String>,
    /// Suffix of a segment output (`.segment.rsc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefetch_segment_suffix: Option<String>,
    /// Fields this version of the adapter does not interpret, kept for the runtime.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}
