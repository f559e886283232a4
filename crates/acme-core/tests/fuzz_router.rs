#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]
//! Property-based fuzzing of the Router on the captured app-router and pages-router routing
//! tables: arbitrary request targets (every encoding, traversal, NUL, absolute and `//host`
//! forms, long paths, queries) and headers are resolved, and middleware round trips resumed
//! with arbitrary outcomes, without a panic; no redirect is protocol-relative (`//host`), and
//! none points at a host the request did not name (these tables send none off-site).
//!
//! Cases per property: `PROPTEST_CASES` (default 64 here, for `npm test`); a long run:
//! `PROPTEST_CASES=50000 cargo test --release -p acme-core --test fuzz_router`.

mod common;

use acme_core::routing::{MiddlewareResult, Request, Router};
use proptest::prelude::*;

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            ".",
            "..",
            "%2e%2e",
            "%2E%2e",
            "%252e%252e",
            "..%2f",
            "..%5c",
            "..\\",
            "\\",
            "%00",
            "\u{0}",
            "%",
            "%zz",
            "%E0%A4%A",
            "%ff",
            "%C0%AE",
            "_next",
            "static",
            "data",
            "b1",
            "blog",
            "first",
            "about",
            "api",
            "hello",
            "edge",
            "index",
            "index.rsc",
            "about.rsc",
            "x.json",
            "favicon.ico",
            "robots.txt",
            "images",
            "logo.svg",
            "%2F",
            "%3F",
            "%23",
            "😀",
            "%F0%9F%98%80",
            "en",
            "fr",
            "docs",
            ":slug",
            "[slug]",
            "(group)",
            "@modal",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z0-9._~-]{1,12}",
        (1usize..3000).prop_map(|n| "a".repeat(n)),
    ]
}

fn target() -> impl Strategy<Value = String> {
    let path = prop::collection::vec(segment(), 0..8).prop_map(|s| format!("/{}", s.join("/")));
    let query = prop_oneof![
        Just(String::new()),
        "\\?[a-z_]{1,6}=[a-z0-9%]{0,8}(&[a-z]{1,3}=[^#]{0,6}){0,2}",
        Just("?__nextDataReq=1&_rsc=x".to_string()),
        Just("?".to_string()),
    ];
    let form = prop::sample::select(vec![
        "",
        "",
        "",
        "http://localhost",
        "https://evil.example",
        "/",
        "//evil.example",
    ]);
    (form, path, query).prop_map(|(f, p, q)| format!("{f}{p}{q}"))
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop::sample::select(vec![
        "host",
        "Host",
        "rsc",
        "RSC",
        "next-router-prefetch",
        "next-router-state-tree",
        "next-url",
        "cookie",
        "accept-language",
        "x-prerender-revalidate",
        "x-rewrite-me",
        "x-no-cors",
        "next-action",
        "content-type",
        "x-middleware-subrequest",
        "x-nextjs-data",
        "x-invoke-path",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "",
            "1",
            "yes",
            "localhost",
            "evil.example",
            "en-US,en;q=0.9",
            "fr",
            "session=1",
            "__prerender_bypass=tok",
            "a".repeat(100).leak(),
            "middleware:middleware:middleware",
        ])
        .prop_map(str::to_string),
        "\\PC{0,20}",
    ];
    prop::collection::vec((name.prop_map(str::to_string), value), 0..5)
}

fn outcome() -> impl Strategy<Value = MiddlewareResult> {
    (
        any::<bool>(),
        proptest::option::of(headers()),
        proptest::option::of(headers()),
        proptest::option::of((
            target().prop_map(|t| format!("http://localhost{t}")),
            prop::sample::select(vec![301u16, 302, 307, 308, 0, 999]),
        )),
        proptest::option::of(prop_oneof![
            target(),
            target().prop_map(|t| format!("http://localhost{t}"))
        ]),
    )
        .prop_map(
            |(body_sent, request_headers, response_headers, redirect, rewrite)| MiddlewareResult {
                body_sent,
                request_headers,
                response_headers,
                redirect,
                rewrite,
            },
        )
}

fn routers() -> &'static [Router] {
    static ROUTERS: std::sync::OnceLock<Vec<Router>> = std::sync::OnceLock::new();
    ROUTERS.get_or_init(|| {
        ["app-router", "pages-router"]
            .iter()
            .map(|n| Router::new(&common::router_manifest(n, &[])).unwrap())
            .collect()
    })
}

proptest! {
    #![proptest_config(common::proptest_config(64))]

    #[test]
    fn requests_resolve_without_panic(url in target(), headers in headers(), method in prop::sample::select(vec!["GET", "HEAD", "POST", "OPTIONS", "PROPFIND"]), outcome in outcome()) {
        for router in routers() {
            let req = Request { method: method.to_string(), url: url.clone(), headers: headers.clone() };
            let d = router.resolve(&req);
            if let Some(r) = &d.redirect {
                // `//host` or `/\\host` in a Location is another host to a browser
                let loc = &r.location;
                prop_assert!(!loc.starts_with("//") && !loc.starts_with("/\\"), "protocol-relative redirect {loc} for {url}");
                if !url.contains("evil.example") && !headers.iter().any(|(_, v)| v.contains("evil.example")) {
                    prop_assert!(!loc.contains("evil.example"), "redirect to another host: {loc} for {url}");
                }
            }
            if let Some(c) = d.continuation {
                let _ = router.resume(c, &outcome);
                prop_assert!(router.resume(c, &outcome).is_err(), "a continuation resumed twice");
            }
        }
    }
}
