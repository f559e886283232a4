//! Serde types for the context Next 16.2–16.4 passes to `onBuildComplete`.
//!
//! Unknown fields are ignored (newer Next versions add some); known fields are typed strictly,
//! because a wrong type there would mean a wrong deployment.

mod config;
mod output;
mod route;

use std::path::PathBuf;

use serde::Deserialize;

pub use config::{DomainLocale, ExperimentalConfig, I18nConfig, NextConfig};
pub use output::{
    EdgeRuntime, FallbackMode, FunctionConfig, FunctionOutput, MiddlewareMatcher, OneOrMany,
    OutputType, Outputs, PprChain, Prerender, PrerenderConfig, PrerenderFallback, Revalidate,
    Runtime, StaticFile,
};
pub use route::{Route, RouteHas, Routing, RscConfig};

use crate::error::{Error, Result};

/// The whole `onBuildComplete` context.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildContext {
    /// The routing table.
    pub routing: Routing,
    /// Every build output.
    pub outputs: Outputs,
    /// Absolute directory of the Next app.
    pub project_dir: PathBuf,
    /// Absolute root of the repository; asset keys are relative to it.
    pub repo_root: PathBuf,
    /// Absolute `.next` directory.
    pub dist_dir: PathBuf,
    /// The final next.config (the parts a deployment needs).
    pub config: NextConfig,
    /// Version of Next that built it.
    pub next_version: String,
    /// Build id.
    pub build_id: String,
}

/// Oldest and first unsupported Next versions (major, minor).
pub const SUPPORTED_NEXT: ((u64, u64), (u64, u64)) = ((16, 2), (17, 0));

impl BuildContext {
    /// Parses and validates a context from its JSON text.
    ///
    /// Errors name the JSON path of the first offending field.
    pub fn from_json(json: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let ctx: BuildContext =
            serde_path_to_error::deserialize(de).map_err(|e| Error::InvalidContext {
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        ctx.validate()?;
        Ok(ctx)
    }

    /// Checks what serde cannot: supported version, output types, pathnames, paths.
    pub fn validate(&self) -> Result<()> {
        check_version(&self.next_version)?;
        for (ty, f) in self.outputs.functions() {
            if f.output_type != ty {
                return Err(Error::InvalidOutput {
                    output: f.id.clone(),
                    reason: format!(
                        "has type {} but is listed among the {} outputs",
                        f.output_type.as_str(),
                        ty.as_str()
                    ),
                });
            }
            check_pathname(&f.id, &f.pathname)?;
            if f.runtime == Runtime::Edge && f.edge_runtime.is_none() {
                return Err(Error::InvalidOutput {
                    output: f.id.clone(),
                    reason: "runtime is edge but edgeRuntime is missing".into(),
                });
            }
        }
        for p in &self.outputs.prerenders {
            if p.output_type != OutputType::Prerender {
                return Err(Error::InvalidOutput {
                    output: p.id.clone(),
                    reason: format!(
                        "has type {} but is listed among the prerenders",
                        p.output_type.as_str()
                    ),
                });
            }
            check_pathname(&p.id, &p.pathname)?;
        }
        for s in &self.outputs.static_files {
            if s.output_type != OutputType::StaticFile {
                return Err(Error::InvalidOutput {
                    output: s.id.clone(),
                    reason: format!(
                        "has type {} but is listed among the static files",
                        s.output_type.as_str()
                    ),
                });
            }
            check_pathname(&s.id, &s.pathname)?;
        }
        Ok(())
    }

    /// Middleware matchers: from `routing` (Next >= 16.3) or the middleware output (16.2).
    pub fn middleware_matchers(&self) -> Vec<MiddlewareMatcher> {
        if !self.routing.middleware_matchers.is_empty() {
            return self
                .routing
                .middleware_matchers
                .iter()
                .map(MiddlewareMatcher::from)
                .collect();
        }
        self.outputs
            .middleware
            .as_ref()
            .and_then(|m| m.config.matchers.clone())
            .unwrap_or_default()
    }
}

fn check_version(version: &str) -> Result<()> {
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u64>().ok());
    let major = parts.next().flatten();
    let minor = parts.next().flatten();
    let ((min_major, min_minor), (max_major, max_minor)) = SUPPORTED_NEXT;
    match (major, minor) {
        (Some(major), Some(minor))
            if (major, minor) >= (min_major, min_minor)
                && (major, minor) < (max_major, max_minor) =>
        {
            Ok(())
        }
        _ => Err(Error::UnsupportedNextVersion {
            version: version.to_string(),
        }),
    }
}

fn check_pathname(id: &str, pathname: &str) -> Result<()> {
    if !pathname.starts_with('/') || pathname.contains('\0') || pathname.contains('\\') {
        return Err(Error::InvalidOutput {
            output: id.to_string(),
            reason: format!("pathname {pathname:?} must be an absolute URL path"),
        });
    }
    if pathname.split('/').any(|seg| seg == "..") {
        return Err(Error::InvalidOutput {
            output: id.to_string(),
            reason: format!("pathname {pathname:?} contains a `..` segment"),
        });
    }
    Ok(())
}

/// An asset key is a path relative to the repo root; it must not climb out of the output.
pub(crate) fn check_relative_key(id: &str, key: &str) -> Result<()> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key.contains('\0')
        || key.split('/').any(|seg| seg == ".." || seg == ".");
    if bad {
        return Err(Error::InvalidOutput {
            output: id.to_string(),
            reason: format!(
                "asset key {key:?} is not a plain path relative to the repository root"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(check_version("16.2.0").is_ok());
        assert!(check_version("16.4.6").is_ok());
        assert!(check_version("16.5.0-canary.3").is_ok());
        assert!(check_version("16.1.9").is_err());
        assert!(check_version("15.5.0").is_err());
        assert!(check_version("17.0.0").is_err());
        assert!(check_version("garbage").is_err());
    }

    #[test]
    fn keys() {
        assert!(check_relative_key("x", "node_modules/next/package.json").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a\\b", "./a"] {
            assert!(check_relative_key("x", bad).is_err(), "{bad}");
        }
    }
}
