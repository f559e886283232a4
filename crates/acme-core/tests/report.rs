#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]
//! The build report: `report.json`, and the deployment hash across rebuilds with new random
//! values, on synthetic builds and the captured contexts.

mod common;

use std::fs;
use std::path::Path;

use acme_core::model::BuildContext;
use acme_core::report::{actions, features, BuildSecrets};
use acme_core::{build_from_json, WriteOptions};
use serde_json::{json, Value};

/// The random values of one synthetic build.
struct Random {
    build_id: &'static str,
    preview_id: &'static str,
    action_id: &'static str,
    key: &'static str,
}

const FIRST: Random = Random {
    build_id: "AbCdEfGhIjK-lmNoPqRsT",
    preview_id: "0584dbfd476a413d11f4be48d70b5dda",
    action_id: "40a6882bb72edc273a45b8950fb3e5a32e8063b62e",
    key: "38JmP/GdGgnkK+KhZvKffjCPUs8ToM60t9XZ175cQPc=",
};
const SECOND: Random = Random {
    build_id: "zYxWvUtSrQp-OnMlKjIhG",
    preview_id: "fd75fbb751ea9f8d805580cf1b58c587",
    action_id: "401622c81e4831a285c0e9534c6ee75ba963a35855",
    key: "edDbUrKU0KZyjBqA0yFt3SZXuyetpwNWTWt/HQuJqBM=",
};

/// The synthetic build of `common`, with per-build random values where Next puts them, a
/// server action, env reads in a chunk, a seed with a timestamp and build files no output needs.
fn build(root: &Path, r: &Random, page_source: &str, seed_time: &str) -> (Value, Value) {
    let mut ctx = common::synthetic(root);
    let w = |rel: &str, body: &str| {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    };
    let chunk = format!(
        "{page_source};let k=process.env.DATABASE_URL,n=process.env.NODE_ENV,b=\"{}\";\
         fetch(\"https://api.example.com/v1\");a.S([b,\"{},$$RSC_SERVER_ACTION_0\"]);\
         var r=/_next\\/data\\/{}\\//;",
        r.build_id,
        r.action_id,
        r.build_id.replace('-', "\\-"),
    );
    w("app/.next/server/chunks/ssr/page-chunk.js", &chunk);
    w(
        "app/.next/server/chunks/ssr/page-chunk.js.map",
        "{\"version\":3}",
    );
    w("app/.next/server/app/page.js.nft.json", "{\"files\":[]}");
    w(
        "app/.next/server/app/isr.html",
        &format!("<p>{seed_time}</p>"),
    );
    w(
        &format!("app/.next/static/{}/_buildManifest.js", r.build_id),
        "self.__BUILD_MANIFEST={}",
    );
    w(
        "app/.next/server/server-reference-manifest.json",
        &json!({
            "node": { r.action_id: {
                "workers": { "app/page": { "moduleId": 1, "async": false } },
                "filename": "app/page.js", "exportedName": "$$RSC_SERVER_ACTION_0" } },
            "edge": {},
            "encryptionKey": r.key
        })
        .to_string(),
    );
    w(
        "app/.next/server/preview-props.json",
        &json!({ "previewModeId": r.preview_id, "previewModeSigningKey": "s".repeat(64),
                 "previewModeEncryptionKey": "e".repeat(64) })
        .to_string(),
    );
    let rs = root.display().to_string();
    ctx["buildId"] = json!(r.build_id);
    ctx["outputs"]["appPages"][0]["assets"]["app/.next/server/chunks/ssr/page-chunk.js"] =
        json!(format!("{rs}/app/.next/server/chunks/ssr/page-chunk.js"));
    ctx["outputs"]["appRoutes"][0]["config"]["env"] = json!({
        "__NEXT_BUILD_ID": r.build_id, "__NEXT_PREVIEW_MODE_ID": r.preview_id,
        "NEXT_SERVER_ACTIONS_ENCRYPTION_KEY": r.key
    });
    ctx["outputs"]["prerenders"][0]["config"]["bypassToken"] = json!(r.preview_id);
    ctx["outputs"]["staticFiles"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "type": "STATIC_FILE", "id": "build-manifest",
            "pathname": format!("/_next/static/{}/_buildManifest.js", r.build_id),
            "filePath": format!("{rs}/app/.next/static/{}/_buildManifest.js", r.build_id)
        }));
    let out = root.join("app/.acme/output");
    build_from_json(
        &ctx.to_string(),
        &WriteOptions {
            output_dir: out.clone(),
            adapter_version: "0.0.0-test".into(),
            copy_files: false,
            attach: None,
        },
    )
    .unwrap();
    let read = |f: &str| -> Value {
        serde_json::from_str(&fs::read_to_string(out.join(f)).unwrap()).unwrap()
    };
    (read("manifest.json"), read("report.json"))
}

const PAGE: &str = "module.exports=()=>\"Hello\"";

#[test]
fn deployment_hash_is_stable_across_rebuilds_and_changes_with_the_source() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (m1, r1) = build(a.path(), &FIRST, PAGE, "2026-01-01T00:00:00.000Z");
    // Another build of the same source: other random values, another build-time timestamp.
    let (m2, r2) = build(b.path(), &SECOND, PAGE, "2026-01-01T00:00:09.999Z");
    let (m3, _) = build(c.path(), &SECOND, "module.exports=()=>\"Hello!\"", "x");

    let hash = |m: &Value| m["deploymentHash"].as_str().unwrap().to_string();
    assert_eq!(hash(&m1).len(), 64);
    assert_eq!(hash(&m1), hash(&m2), "same source, new random values");
    assert_ne!(
        m1["contentHash"], m2["contentHash"],
        "contentHash covers exact bytes"
    );
    assert_ne!(hash(&m1), hash(&m3), "a one-line source change");
    assert_eq!(r1["deploymentHash"], m1["deploymentHash"]);
    assert_eq!(r2["contentHash"], m2["contentHash"]);
    let normalized: Vec<&str> = r1["normalized"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in [
        "__ACME_BUILD_ID__",
        "__ACME_PREVIEW_MODE_ID__",
        "__ACME_ACTIONS_ENCRYPTION_KEY__",
        "__ACME_ACTION_0__",
    ] {
        assert!(normalized.contains(&name), "{name} in {normalized:?}");
    }
}

#[test]
fn report_lists_actions_hints_and_dead_outputs_but_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, report) = build(tmp.path(), &FIRST, PAGE, "t");
    let text = report.to_string();
    assert!(!text.contains(FIRST.key), "the encryption key stays out");
    assert!(!text.contains(&"s".repeat(64)), "preview keys stay out");

    let action = &report["actions"][0];
    assert_eq!(action["id"], FIRST.action_id);
    assert_eq!(action["module"], "app/page.js");
    assert_eq!(action["export"], "$$RSC_SERVER_ACTION_0");
    assert_eq!(action["inline"], true);
    assert_eq!(action["runtime"], "node");
    assert_eq!(action["workers"][0]["outputId"], "/");
    assert_eq!(report["features"]["serverActions"], true);
    assert_eq!(report["features"]["rsc"], true);
    assert_eq!(report["features"]["after"], false);
    assert_eq!(report["features"]["edge"], true);

    let env = &report["bindings"]["env"];
    assert_eq!(
        env["DATABASE_URL"],
        json!(["app/.next/server/chunks/ssr/page-chunk.js"])
    );
    assert!(env.get("NODE_ENV").is_none());
    assert!(report["bindings"]["internalEnv"]
        .as_array()
        .unwrap()
        .contains(&json!("NODE_ENV")));
    assert!(report["bindings"]["fetchOrigins"]
        .get("https://api.example.com")
        .is_some());

    let dead = &report["deadOutputs"];
    assert_eq!(dead["byReason"]["source-map"]["files"], 1);
    assert_eq!(dead["byReason"]["trace"]["files"], 1);
    assert_eq!(
        dead["packed"]["files"], 1,
        "the seed is in the pack, not dead"
    );
    assert_eq!(dead["elided"]["files"], 0);
    assert_eq!(report["versions"]["next"]["version"], "16.4.6");
}

#[test]
fn captured_contexts_yield_secrets_versions_and_no_actions_without_a_build() {
    for name in ["app-router", "pages-router"] {
        let ctx = BuildContext::from_json(&common::captured(name, "/nonexistent-root")).unwrap();
        // The build folder is gone: no action manifest, no preview-props; the context alone
        // still names the build id and the tokens Next put in it.
        let manifest = actions::read(&ctx).unwrap();
        assert!(manifest.actions.is_empty());
        let (secrets, warnings) = BuildSecrets::collect(&ctx, None, []);
        assert!(warnings.is_empty(), "{warnings:?}");
        let names = secrets.placeholders();
        assert!(
            names.contains(&"__ACME_BUILD_ID__".to_string()),
            "{name}: {names:?}"
        );
        let n = secrets.normalizer().unwrap();
        assert!(!n.normalize(&ctx.build_id).contains(&ctx.build_id));
        if ctx
            .outputs
            .prerenders
            .iter()
            .any(|p| p.config.bypass_token.is_some())
        {
            assert!(
                names
                    .iter()
                    .any(|p| p.contains("PREVIEW_MODE_ID") || p.contains("BYPASS")),
                "{name}: {names:?}"
            );
        }
        let v = features::versions(&ctx);
        assert_eq!(v.next.version, ctx.next_version);
    }
}
