//! The server-action manifest: every action id with its module, export, runtime and the pages
//! or routes whose workers can run it, from `<distDir>/server/server-reference-manifest.json`.
//!
//! The manifest's `encryptionKey` is read only so the deployment hash can replace it by a
//! placeholder; it is never copied into the report.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::BuildContext;

use super::error::ReportError;

/// Name of Next's manifest below `<distDir>/server/`.
pub const SERVER_REFERENCE_MANIFEST: &str = "server-reference-manifest.json";

/// Runtime an action is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionRuntime {
    /// Listed under `node`.
    Node,
    /// Listed under `edge`.
    Edge,
}

/// A page or route whose server bundle contains the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionWorker {
    /// Next's worker key, e.g. `app/action/page`.
    pub worker: String,
    /// The function output that serves it (its id), when one matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_id: Option<String>,
    /// URL pathname of that output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pathname: Option<String>,
    /// The module is async (top-level await) in that worker.
    pub is_async: bool,
}

/// One server action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerAction {
    /// Action id, as sent in the `next-action` header (random per build).
    pub id: String,
    /// Source file, relative to the repository root.
    pub module: String,
    /// Export name; `$$RSC_SERVER_ACTION_<n>` for an inline `'use server'` function.
    pub export: String,
    /// Declared inline in a component rather than exported from a `'use server'` file.
    pub inline: bool,
    /// Node or edge.
    pub runtime: ActionRuntime,
    /// Pages and routes that can run it.
    pub workers: Vec<ActionWorker>,
}

/// What the manifest yields.
#[derive(Debug, Clone, Default)]
pub struct ActionManifest {
    /// Actions sorted by runtime, module, export (stable across builds, unlike ids).
    pub actions: Vec<ServerAction>,
    /// The build's action encryption key (kept out of the report).
    pub encryption_key: Option<String>,
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(default)]
    node: BTreeMap<String, RawAction>,
    #[serde(default)]
    edge: BTreeMap<String, RawAction>,
    #[serde(default, rename = "encryptionKey")]
    encryption_key: Option<String>,
}

#[derive(Deserialize)]
struct RawAction {
    #[serde(default)]
    workers: BTreeMap<String, RawWorker>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default, rename = "exportedName")]
    exported_name: Option<String>,
}

#[derive(Deserialize)]
struct RawWorker {
    #[serde(default, rename = "async")]
    is_async: bool,
}

/// Reads the manifest of a build. No manifest (no app router, or Next did not write one) is an
/// empty result, not an error.
pub fn read(ctx: &BuildContext) -> Result<ActionManifest, ReportError> {
    let path = ctx.dist_dir.join("server").join(SERVER_REFERENCE_MANIFEST);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ActionManifest::default()),
        Err(source) => return Err(ReportError::Read { path, source }),
    };
    parse(ctx, &path, &text)
}

/// Parses the manifest text; `path` names it in errors.
pub fn parse(ctx: &BuildContext, path: &Path, text: &str) -> Result<ActionManifest, ReportError> {
    let raw: RawManifest = serde_json::from_str(text).map_err(|e| ReportError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut actions = Vec::new();
    for (runtime, map) in [
        (ActionRuntime::Node, raw.node),
        (ActionRuntime::Edge, raw.edge),
    ] {
        for (id, a) in map {
            let export = a.exported_name.unwrap_or_default();
            let workers = a
                .workers
                .into_iter()
                .map(|(worker, w)| {
                    let output = output_for_worker(ctx, &worker);
                    ActionWorker {
                        output_id: output.map(|(id, _)| id.to_string()),
                        pathname: output.map(|(_, p)| p.to_string()),
                        worker,
                        is_async: w.is_async,
                    }
                })
                .collect();
            actions.push(ServerAction {
                id,
                module: a.filename.unwrap_or_default(),
                inline: export.starts_with("$$RSC_SERVER_ACTION_"),
                export,
                runtime,
                workers,
            });
        }
    }
    actions.sort_by(|a, b| {
        (a.runtime, &a.module, &a.export, &a.id).cmp(&(b.runtime, &b.module, &b.export, &b.id))
    });
    Ok(ActionManifest {
        actions,
        encryption_key: raw.encryption_key.filter(|k| !k.is_empty()),
    })
}

/// Worker `app/action/page` is the function whose source page is `/action/page` (the page, not
/// its `.rsc` twin, which shares the source page).
fn output_for_worker<'a>(ctx: &'a BuildContext, worker: &str) -> Option<(&'a str, &'a str)> {
    let source_page = worker.strip_prefix("app")?;
    ctx.outputs
        .functions()
        .map(|(_, f)| f)
        .filter(|f| f.source_page == source_page)
        .min_by_key(|f| (f.pathname.ends_with(".rsc"), f.pathname.len()))
        .map(|f| (f.id.as_str(), f.pathname.as_str()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ctx() -> BuildContext {
        let json = serde_json::json!({
            "routing": { "beforeMiddleware": [], "beforeFiles": [], "afterFiles": [], "dynamicRoutes": [],
                "onMatch": [], "fallback": [], "shouldNormalizeNextData": false,
                "rsc": { "header": "rsc", "contentTypeHeader": "text/x-component", "varyHeader": "rsc",
                         "prefetchHeader": "next-router-prefetch", "suffix": ".rsc", "clientParamParsing": false } },
            "outputs": { "pages": [], "pagesApi": [], "appRoutes": [], "prerenders": [], "staticFiles": [],
                "appPages": [
                    { "type": "APP_PAGE", "id": "/action.rsc", "pathname": "/action.rsc", "sourcePage": "/action/page",
                      "runtime": "nodejs", "filePath": "/r/.next/server/app/action/page.js", "assets": {}, "config": {} },
                    { "type": "APP_PAGE", "id": "/action", "pathname": "/action", "sourcePage": "/action/page",
                      "runtime": "nodejs", "filePath": "/r/.next/server/app/action/page.js", "assets": {}, "config": {} }
                ] },
            "projectDir": "/r", "repoRoot": "/r", "distDir": "/r/.next",
            "config": { "basePath": "" }, "nextVersion": "16.4.6", "buildId": "b"
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn flattens_node_and_edge_actions_and_keeps_the_key_out() {
        let text = r#"{
          "node": { "40aa": { "workers": { "app/action/page": { "moduleId": 1, "async": false } },
                              "filename": "app/action/page.js", "exportedName": "$$RSC_SERVER_ACTION_0" } },
          "edge": { "7f01": { "workers": { "app/api/x/route": { "moduleId": 2, "async": true } },
                              "filename": "app/actions.js", "exportedName": "save" } },
          "encryptionKey": "secret-key-value"
        }"#;
        let m = parse(&ctx(), Path::new("m.json"), text).unwrap();
        assert_eq!(m.encryption_key.as_deref(), Some("secret-key-value"));
        assert_eq!(m.actions.len(), 2);
        let a = &m.actions[0];
        assert_eq!(
            (a.id.as_str(), a.runtime, a.inline),
            ("40aa", ActionRuntime::Node, true)
        );
        assert_eq!(a.workers[0].output_id.as_deref(), Some("/action"));
        assert_eq!(a.workers[0].pathname.as_deref(), Some("/action"));
        let e = &m.actions[1];
        assert_eq!(
            (e.export.as_str(), e.runtime, e.inline),
            ("save", ActionRuntime::Edge, false)
        );
        assert!(e.workers[0].is_async);
        assert_eq!(e.workers[0].output_id, None);
        let json = serde_json::to_string(&m.actions).unwrap();
        assert!(!json.contains("secret-key-value"));
    }

    #[test]
    fn malformed_manifest_is_a_parse_error_naming_the_file() {
        let err = parse(&ctx(), Path::new("x/m.json"), r#"{"node": []}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot parse x/m.json"),
            "{err}"
        );
    }
}
