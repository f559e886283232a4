#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::panic)]
//! Helpers shared by the integration tests: captured contexts and a small synthetic build.

use std::fs;
use std::path::Path;

use proptest::test_runner::Config as ProptestConfig;
use serde_json::{json, Value};

/// A captured context with `/__ROOT__` replaced by `root`.
pub fn captured(name: &str, root: &str) -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.context.json"));
    fs::read_to_string(path).unwrap().replace("/__ROOT__", root)
}

/// Writes a tiny "build" below `root` and returns its context: one node page with two assets,
/// one edge route, a static chunk, a static page, a prerender with a seed and two public files.
pub fn synthetic(root: &Path) -> Value {
    let w = |rel: &str, body: &str| {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    };
    w(
        "app/.next/server/app/page.js",
        "module.exports.handler = () => {}",
    );
    w("node_modules/next/dist/server/lib.js", "exports.x = 1");
    w(
        "node_modules/next/dist/build/adapter/setup-node-env.external.js",
        "// env",
    );
    w("app/.next/server/edge/chunk.js", "globalThis._ENTRIES = {}");
    w("app/.next/static/chunks/abc.js", "console.log(1)");
    w("app/.next/server/pages/404.html", "<h1>404</h1>");
    w("app/.next/server/app/isr.html", "<p>isr</p>");
    w("app/public/robots.txt", "User-agent: *");
    w("app/public/.well-known/security.txt", "Contact: x");
    let r = root.display().to_string();
    json!({
        "routing": {
            "beforeMiddleware": [], "beforeFiles": [], "afterFiles": [],
            "dynamicRoutes": [{ "sourceRegex": "^/blog/(?<nxtPslug>[^/]+?)(?:/)?$", "destination": "/blog/[slug]?nxtPslug=$nxtPslug" }],
            "onMatch": [], "fallback": [], "shouldNormalizeNextData": false,
            "rsc": { "header": "rsc", "contentTypeHeader": "text/x-component", "varyHeader": "rsc", "prefetchHeader": "next-router-prefetch", "suffix": ".rsc", "clientParamParsing": false }
        },
        "outputs": {
            "pages": [], "pagesApi": [],
            "appPages": [{
                "type": "APP_PAGE", "id": "/", "pathname": "/", "sourcePage": "/page", "runtime": "nodejs",
                "filePath": format!("{r}/app/.next/server/app/page.js"),
                "assets": {
                    "node_modules/next/dist/server/lib.js": format!("{r}/node_modules/next/dist/server/lib.js"),
                    "node_modules/next/setup-node-env.js": format!("{r}/node_modules/next/dist/build/adapter/setup-node-env.external.js")
                },
                "assetsHashes": { "node_modules/next/dist/server/lib.js": "h1" },
                "config": {}
            }],
            "appRoutes": [{
                "type": "APP_ROUTE", "id": "app/api/edge/route", "pathname": "/api/edge", "sourcePage": "/api/edge/route", "runtime": "edge",
                "filePath": format!("{r}/app/.next/server/edge/chunk.js"),
                "edgeRuntime": { "modulePath": format!("{r}/app/.next/server/edge/chunk.js"), "entryKey": "middleware_app/api/edge/route", "handlerExport": "handler" },
                "assets": { "../app/.next/server/edge/chunk.js": format!("{r}/app/.next/server/edge/chunk.js") },
                "assetsHashes": {},
                "config": { "env": { "__NEXT_BUILD_ID": "b1" } }
            }],
            "prerenders": [{
                "type": "PRERENDER", "id": "/isr", "pathname": "/isr", "parentOutputId": "/", "groupId": 1,
                "parentFallbackMode": null,
                "fallback": { "filePath": format!("{r}/app/.next/server/app/isr.html"), "initialRevalidate": 60, "initialExpiration": 3600, "initialHeaders": { "x-next-cache-tags": "a,b" } },
                "config": { "allowQuery": [], "bypassToken": "tok" }
            }],
            "staticFiles": [
                { "type": "STATIC_FILE", "id": "static/chunks/abc.js", "pathname": "/_next/static/chunks/abc.js", "filePath": format!("{r}/app/.next/static/chunks/abc.js") },
                { "type": "STATIC_FILE", "id": "/404", "pathname": "/404", "filePath": format!("{r}/app/.next/server/pages/404.html") }
            ]
        },
        "projectDir": format!("{r}/app"),
        "repoRoot": r,
        "distDir": format!("{r}/app/.next"),
        "config": { "basePath": "", "trailingSlash": false, "images": { "unoptimized": false } },
        "nextVersion": "16.4.6",
        "buildId": "b1"
    })
}

/// Adds a STATIC_FILE output served from an existing file of the synthetic build.
pub fn push_static(ctx: &mut Value, root: &Path, id: &str, pathname: &str, source: &str) {
    let extra = json!({
        "type": "STATIC_FILE", "id": id, "pathname": pathname,
        "filePath": root.join(source).display().to_string()
    });
    ctx["outputs"]["staticFiles"]
        .as_array_mut()
        .unwrap()
        .push(extra);
}

/// Proptest settings shared by the fuzz targets: `PROPTEST_CASES` cases (else `default_cases`,
/// small enough for `npm test`), no persisted failure files.
pub fn proptest_config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The manifest-shaped document the Router reads, made from a captured context, with
/// `extra_before_files` routes appended to `routing.beforeFiles`.
pub fn router_manifest(name: &str, extra_before_files: &[Value]) -> String {
    let ctx: Value = serde_json::from_str(&captured(name, "/repo")).unwrap();
    let o = &ctx["outputs"];
    let mut functions = Vec::new();
    for k in ["pages", "pagesApi", "appPages", "appRoutes"] {
        for f in o[k].as_array().into_iter().flatten() {
            functions
                .push(json!({ "pathname": f["pathname"], "id": f["id"], "kind": "node-function" }));
        }
    }
    let mut routing = ctx["routing"].clone();
    if let Some(list) = routing["beforeFiles"].as_array_mut() {
        list.extend(extra_before_files.iter().cloned());
    }
    json!({
        "buildId": ctx["buildId"],
        "config": ctx["config"],
        "routing": routing,
        "middlewareMatchers": ctx["routing"]["middlewareMatchers"],
        "functions": functions,
        "staticFiles": o["staticFiles"],
        "prerenders": o["prerenders"],
    })
    .to_string()
}
