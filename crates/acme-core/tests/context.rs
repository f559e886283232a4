#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]
//! Parsing real captured contexts, and rejecting malformed ones with errors that name the field.

mod common;

use acme_core::model::{BuildContext, FallbackMode, OutputType, Runtime};
use acme_core::Error;
use serde_json::Value;

#[test]
fn parses_app_router_capture() {
    let ctx = BuildContext::from_json(&common::captured("app-router", "/repo")).unwrap();
    assert_eq!(ctx.next_version, "16.4.6");
    assert!(ctx.outputs.middleware.is_some());
    assert!(!ctx.outputs.app_pages.is_empty());
    assert!(ctx
        .outputs
        .app_pages
        .iter()
        .any(|p| p.pathname.ends_with(".rsc")));
    let edge: Vec<_> = ctx
        .outputs
        .functions()
        .filter(|(_, f)| f.runtime == Runtime::Edge)
        .collect();
    assert!(edge.iter().all(|(_, f)| f.edge_runtime.is_some()));
    assert!(edge.iter().any(|(ty, _)| *ty == OutputType::Middleware));
    assert!(!ctx.middleware_matchers().is_empty());
    let blocking = ctx
        .outputs
        .prerenders
        .iter()
        .filter(|p| p.parent_fallback_mode == Some(FallbackMode::Blocking))
        .count();
    assert!(
        blocking > 0,
        "dynamicParams=true routes have a blocking fallback"
    );
    assert!(ctx
        .outputs
        .prerenders
        .iter()
        .any(|p| p.parent_fallback_mode == Some(FallbackMode::NotFound)));
}

#[test]
fn parses_pages_router_capture() {
    let ctx = BuildContext::from_json(&common::captured("pages-router", "/repo")).unwrap();
    assert!(ctx.outputs.app_pages.is_empty());
    assert!(!ctx.outputs.pages.is_empty());
    assert!(ctx.outputs.prerenders.iter().any(
        |p| matches!(&p.parent_fallback_mode, Some(FallbackMode::Static(f)) if f.ends_with(".html"))
    ));
    acme_core::routing::validate(&ctx).unwrap();
}

fn mutate(f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&common::captured("app-router", "/repo")).unwrap();
    f(&mut v);
    v.to_string()
}

fn context_error(json: &str) -> (String, String) {
    match BuildContext::from_json(json) {
        Err(Error::InvalidContext { path, message }) => (path, message),
        other => panic!("expected InvalidContext, got {other:?}"),
    }
}

#[test]
fn missing_field_names_its_path() {
    let (path, message) = context_error(&mutate(|v| {
        v["outputs"]["prerenders"][2]
            .as_object_mut()
            .unwrap()
            .remove("groupId");
    }));
    assert_eq!(path, "outputs.prerenders[2]");
    assert!(message.contains("groupId"), "{message}");
}

#[test]
fn wrong_type_names_its_path() {
    let (path, _) = context_error(&mutate(|v| {
        v["outputs"]["appPages"][0]["runtime"] = "deno".into()
    }));
    assert_eq!(path, "outputs.appPages[0].runtime");
    let (path, _) = context_error(&mutate(|v| v["routing"]["beforeFiles"] = "nope".into()));
    assert_eq!(path, "routing.beforeFiles");
    let (path, message) = context_error(&mutate(|v| {
        v["outputs"]["prerenders"][0]["fallback"]["initialRevalidate"] = true.into()
    }));
    assert_eq!(path, "outputs.prerenders[0].fallback.initialRevalidate");
    assert!(message.contains("false"), "{message}");
}

#[test]
fn not_json_is_an_invalid_context() {
    let (_, message) = context_error("{\"routing\": ");
    assert!(message.contains("EOF"), "{message}");
}

#[test]
fn output_in_the_wrong_list_is_rejected() {
    let err = BuildContext::from_json(&mutate(|v| {
        v["outputs"]["appPages"][0]["type"] = "PAGES".into()
    }))
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOutput { reason, .. } if reason.contains("APP_PAGE")),
        "{err}"
    );
}

#[test]
fn edge_without_edge_runtime_is_rejected() {
    let err = BuildContext::from_json(&mutate(|v| {
        v["outputs"]["middleware"]
            .as_object_mut()
            .unwrap()
            .remove("edgeRuntime");
    }))
    .unwrap_err();
    assert!(err.to_string().contains("edgeRuntime"), "{err}");
}

#[test]
fn old_next_is_rejected() {
    let err = BuildContext::from_json(&mutate(|v| v["nextVersion"] = "15.5.2".into())).unwrap_err();
    assert!(matches!(err, Error::UnsupportedNextVersion { .. }), "{err}");
}

#[test]
fn traversal_in_pathname_is_rejected() {
    let err = BuildContext::from_json(&mutate(|v| {
        v["outputs"]["staticFiles"][0]["pathname"] = "/../../etc/passwd".into()
    }))
    .unwrap_err();
    assert!(err.to_string().contains(".."), "{err}");
}

#[test]
fn invalid_route_regex_fails_validation() {
    let ctx = BuildContext::from_json(&mutate(|v| {
        v["routing"]["afterFiles"][1]["sourceRegex"] = "^/(unclosed".into()
    }))
    .unwrap();
    let err = acme_core::routing::validate(&ctx).unwrap_err();
    assert!(
        err.to_string().starts_with("routing.afterFiles[1]"),
        "{err}"
    );
}

#[test]
fn next_16_2_shape_is_accepted() {
    // 16.2 has no routing.middlewareMatchers, no assetsHashes, no prerender classification.
    let json = mutate(|v| {
        v["nextVersion"] = "16.2.12".into();
        v["routing"]
            .as_object_mut()
            .unwrap()
            .remove("middlewareMatchers");
        for list in ["appPages", "appRoutes"] {
            for o in v["outputs"][list].as_array_mut().unwrap() {
                o.as_object_mut().unwrap().remove("assetsHashes");
            }
        }
        for p in v["outputs"]["prerenders"].as_array_mut().unwrap() {
            for k in ["route", "routeType", "response", "compute", "htmlSize"] {
                p.as_object_mut().unwrap().remove(k);
            }
        }
    });
    let ctx = BuildContext::from_json(&json).unwrap();
    assert!(ctx.routing.middleware_matchers.is_empty());
    assert!(
        !ctx.middleware_matchers().is_empty(),
        "falls back to the middleware output's matchers"
    );
}

#[test]
fn unknown_fields_are_tolerated() {
    let json = mutate(|v| {
        v["somethingNew"] = serde_json::json!({ "a": 1 });
        v["routing"]["newPhase"] = serde_json::json!([]);
        v["outputs"]["appPages"][0]["futureField"] = true.into();
        v["outputs"]["prerenders"][0]["config"]["experimental"] = "x".into();
        v["outputs"]["newKind"] = serde_json::json!([]);
    });
    let ctx = BuildContext::from_json(&json).unwrap();
    assert_eq!(ctx.next_version, "16.4.6");
}
