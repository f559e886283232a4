//! Detected features and the Next and React versions.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::artifacts::manifest::Features as ManifestFeatures;
use crate::model::{BuildContext, Runtime};

use super::hints::FileFacts;

/// Whether the app runs code before routing, and which file it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MiddlewareFeature {
    /// `proxy` (`proxy.ts`, Next 16's name) or `middleware` (`middleware.ts`).
    pub kind: &'static str,
    /// `nodejs` or `edge`.
    pub runtime: Runtime,
    /// How `kind` was told: `entry` (the compiled template's page constant, `"/proxy"` or
    /// `"/middleware"`) or `runtime` (no entry found: a Node.js one is taken for a proxy).
    pub detected_by: &'static str,
}

/// What the app uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedFeatures {
    /// App router (React Server Components).
    pub rsc: bool,
    /// Pages router.
    pub pages_router: bool,
    /// Server actions (the server-reference manifest lists at least one).
    pub server_actions: bool,
    /// Middleware or proxy.
    pub middleware: Option<MiddlewareFeature>,
    /// Some prerender revalidates.
    pub isr: bool,
    /// The image optimizer is on.
    pub image_optimization: bool,
    /// Locales are configured.
    pub i18n: bool,
    /// Partial prerendering.
    pub ppr: bool,
    /// `after()` from `next/server` is called: `true` when the server code both calls an
    /// imported `after` (`(0,x.after)(`) and bundles Next's `after`; `false` when it does not;
    /// `null` when no server chunk could be scanned.
    pub after: Option<bool>,
    /// Edge functions (middleware excluded).
    pub edge: bool,
}

impl DetectedFeatures {
    /// Combines the manifest's features with what the scan and the action manifest found.
    pub fn detect(
        ctx: &BuildContext,
        base: &ManifestFeatures,
        facts: &FileFacts,
        scanned_files: usize,
        actions: usize,
    ) -> Self {
        let middleware = ctx.outputs.middleware.as_ref().map(|m| {
            let (kind, detected_by) = if facts.proxy_entry {
                ("proxy", "entry")
            } else if facts.middleware_entry {
                ("middleware", "entry")
            } else if m.runtime == Runtime::Nodejs {
                ("proxy", "runtime")
            } else {
                ("middleware", "runtime")
            };
            MiddlewareFeature {
                kind,
                runtime: m.runtime,
                detected_by,
            }
        });
        DetectedFeatures {
            rsc: base.app_router,
            pages_router: base.pages_router,
            server_actions: actions > 0,
            middleware,
            isr: base.isr,
            image_optimization: base.image_optimization,
            i18n: base.i18n,
            ppr: base.ppr,
            after: (scanned_files > 0).then_some(facts.after_call && facts.after_module),
            edge: base.edge_functions > 0,
        }
    }

    /// Short names of the features in use, for the build summary.
    pub fn names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.rsc {
            v.push("app router (RSC)".to_string());
        }
        if self.pages_router {
            v.push("pages router".to_string());
        }
        if self.server_actions {
            v.push("server actions".to_string());
        }
        if let Some(m) = &self.middleware {
            let rt = match m.runtime {
                Runtime::Nodejs => "nodejs",
                Runtime::Edge => "edge",
            };
            v.push(format!("{} ({rt})", m.kind));
        }
        for (on, name) in [
            (self.isr, "ISR"),
            (self.ppr, "PPR"),
            (self.image_optimization, "image optimization"),
            (self.i18n, "i18n"),
            (self.after == Some(true), "after()"),
            (self.edge, "edge"),
        ] {
            if on {
                v.push(name.to_string());
            }
        }
        v
    }
}

/// A version and where it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    /// The version.
    pub version: String,
    /// Where it was read, relative to the repository root (or `context` for `nextVersion`).
    pub source: String,
}

/// Next and React versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Versions {
    /// Next.js.
    pub next: Version,
    /// React: the traced `react/package.json` (pages router, user-installed React), else the
    /// React Next bundles for the app router (`next/dist/compiled/react`); `null` if neither.
    pub react: Option<Version>,
}

/// Reads the versions from the context and the files its outputs trace.
pub fn versions(ctx: &BuildContext) -> Versions {
    let next = Version {
        version: ctx.next_version.clone(),
        source: "context".into(),
    };
    let mut react_pkg = None;
    let mut next_dir: Option<PathBuf> = None;
    for (_, f) in ctx.outputs.functions() {
        for (key, abs) in &f.assets {
            if key.ends_with("node_modules/react/package.json") && react_pkg.is_none() {
                react_pkg = Some((key.clone(), abs.clone()));
            }
            if next_dir.is_none() && key.ends_with("node_modules/next/package.json") {
                next_dir = abs.parent().map(Path::to_path_buf);
            }
        }
    }
    let from_pkg = react_pkg.and_then(|(key, abs)| {
        let text = fs::read_to_string(abs).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(Version {
            version: v.get("version")?.as_str()?.to_string(),
            source: key,
        })
    });
    let react = from_pkg.or_else(|| {
        let dir = next_dir?;
        let file = dir.join("dist/compiled/react/cjs/react.production.js");
        let text = fs::read_to_string(&file).ok()?;
        let version = compiled_react_version(&text)?;
        let source = file
            .strip_prefix(&ctx.repo_root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "next/dist/compiled/react/cjs/react.production.js".into());
        Some(Version { version, source })
    });
    Versions { next, react }
}

/// `exports.version = "19.3.0-…";` in React's CommonJS build.
fn compiled_react_version(text: &str) -> Option<String> {
    let at = text.find("exports.version")?;
    let rest = &text[at..];
    let open = rest.find(['"', '\''])?;
    let quote = rest[open..].chars().next()?;
    let body = &rest[open + 1..];
    let close = body.find(quote)?;
    Some(body[..close].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_react_version_is_read() {
        assert_eq!(
            compiled_react_version("x;\nexports.version = \"19.3.0-canary-278794d7-20261002\";\n")
                .as_deref(),
            Some("19.3.0-canary-278794d7-20261002")
        );
        assert_eq!(compiled_react_version("nothing"), None);
    }
}
