//! What each build output becomes in a deployment.

use serde::Serialize;

use crate::model::{FunctionOutput, OutputType, Prerender, Runtime, StaticFile};

/// How the platform deploys a piece of the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployKind {
    /// A hashed, immutable asset (`/_next/static/…`).
    StaticAsset,
    /// A file served as is that is not content-hashed (static HTML, 404/500, metadata files).
    StaticPage,
    /// A file of the app's `public/` folder.
    PublicFile,
    /// A prerendered response seeded into the ISR cache.
    PrerenderSeed,
    /// A function run in Node.js.
    NodeFunction,
    /// A function run in an edge sandbox.
    EdgeFunction,
    /// Middleware or proxy, run before routing completes.
    Middleware,
    /// A traced file a function needs at run time (node_modules, chunks, manifests).
    ServerFile,
}

impl DeployKind {
    /// Every kind, in the order summaries list them.
    pub const ALL: [DeployKind; 8] = [
        DeployKind::StaticAsset,
        DeployKind::StaticPage,
        DeployKind::PublicFile,
        DeployKind::PrerenderSeed,
        DeployKind::NodeFunction,
        DeployKind::EdgeFunction,
        DeployKind::Middleware,
        DeployKind::ServerFile,
    ];

    /// Name used in summaries and the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            DeployKind::StaticAsset => "static-asset",
            DeployKind::StaticPage => "static-page",
            DeployKind::PublicFile => "public-file",
            DeployKind::PrerenderSeed => "prerender-seed",
            DeployKind::NodeFunction => "node-function",
            DeployKind::EdgeFunction => "edge-function",
            DeployKind::Middleware => "middleware",
            DeployKind::ServerFile => "server-file",
        }
    }
}

/// Node, edge or middleware.
pub fn classify_function(output_type: OutputType, f: &FunctionOutput) -> DeployKind {
    match (output_type, f.runtime) {
        (OutputType::Middleware, _) => DeployKind::Middleware,
        (_, Runtime::Edge) => DeployKind::EdgeFunction,
        (_, Runtime::Nodejs) => DeployKind::NodeFunction,
    }
}

/// Immutable asset or plain static page.
pub fn classify_static(s: &StaticFile) -> DeployKind {
    if s.immutable_hash.is_some()
        || s.pathname.contains("/_next/static/")
        || s.pathname.starts_with("/_next/static/")
    {
        DeployKind::StaticAsset
    } else {
        DeployKind::StaticPage
    }
}

/// A prerender is a seed when Next generated a file for it; otherwise it only carries cache rules.
pub fn has_seed(p: &Prerender) -> bool {
    p.fallback.as_ref().is_some_and(|f| f.file_path.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn static_file(pathname: &str, hash: Option<&str>) -> StaticFile {
        StaticFile {
            output_type: OutputType::StaticFile,
            id: pathname.into(),
            file_path: PathBuf::from("/x"),
            pathname: pathname.into(),
            immutable_hash: hash.map(Into::into),
        }
    }

    #[test]
    fn statics() {
        assert_eq!(
            classify_static(&static_file("/_next/static/chunks/a.js", None)),
            DeployKind::StaticAsset
        );
        assert_eq!(
            classify_static(&static_file("/docs/_next/static/chunks/a.js", None)),
            DeployKind::StaticAsset
        );
        assert_eq!(
            classify_static(&static_file("/x.js", Some("abc"))),
            DeployKind::StaticAsset
        );
        assert_eq!(
            classify_static(&static_file("/404", None)),
            DeployKind::StaticPage
        );
    }
}
