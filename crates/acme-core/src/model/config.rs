//! The parts of `NextConfigComplete` a deployment depends on. Everything else is ignored.

use serde::{Deserialize, Serialize};

/// The subset of the final next.config that changes how the output is served.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextConfig {
    /// Path prefix of the whole app (`''` when none).
    #[serde(default)]
    pub base_path: String,
    /// Whether URLs end in `/`.
    #[serde(default)]
    pub trailing_slash: bool,
    /// Locale routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub i18n: Option<I18nConfig>,
    /// Image optimizer settings, passed to the runtime as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<serde_json::Value>,
    /// `standalone`, `export` or unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Skew-protection id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// Skips middleware URL normalization.
    #[serde(default)]
    pub skip_middleware_url_normalize: bool,
    /// Skips the automatic trailing-slash redirect.
    #[serde(default)]
    pub skip_trailing_slash_redirect: bool,
    /// Whether `x-powered-by` is sent.
    #[serde(default = "yes")]
    pub powered_by_header: bool,
    /// Whether responses are gzip-compressed by the server.
    #[serde(default = "yes")]
    pub compress: bool,
    /// Whether ETags are generated.
    #[serde(default = "yes")]
    pub generate_etags: bool,
    /// PPR via cache components.
    #[serde(default)]
    pub cache_components: bool,
    /// Hashed assets may be served with an immutable token.
    #[serde(default)]
    pub supports_immutable_assets: bool,
    /// Partial prefetching (fallback shells upgraded to full routes in the background).
    #[serde(default)]
    pub partial_prefetching: bool,
    /// The `experimental` options a deployment depends on.
    #[serde(default)]
    pub experimental: ExperimentalConfig,
}

/// The parts of `experimental` that change how the output is served.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ExperimentalConfig {
    /// Whether an RSC request whose `_rsc` does not match its headers is redirected.
    #[serde(default = "yes", rename = "validateRSCRequestHeaders")]
    pub validate_rsc_request_headers: bool,
}

impl Default for ExperimentalConfig {
    fn default() -> Self {
        Self {
            validate_rsc_request_headers: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// `i18n` of next.config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct I18nConfig {
    /// Supported locales.
    pub locales: Vec<String>,
    /// Locale used without a prefix.
    pub default_locale: String,
    /// `false` disables Accept-Language detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale_detection: Option<bool>,
    /// Domain-based locales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<DomainLocale>>,
}

/// One domain of `i18n.domains`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainLocale {
    /// Host name.
    pub domain: String,
    /// Locale served by default on that domain.
    pub default_locale: String,
    /// Other locales on that domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locales: Option<Vec<String>>,
    /// Serve over plain http.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<bool>,
}
