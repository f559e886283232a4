#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]
//! Property test of the router over random paths, queries and headers, against the route tables
//! of the captured fixtures and a table of pathological user regexes: no resolution panics, and
//! none takes more than 1 ms.
//!
//! The time bound is checked without flakiness on a shared machine: a case counts as slow only
//! when the fastest of [`REPEATS`] back-to-back resolutions exceeds the bound (a preemption or a
//! cache miss slows one repetition, not all of them), and catastrophic backtracking is also
//! ruled out structurally (`pathological_patterns_are_capped`). Run longer with
//! `PROPTEST_CASES=100000 cargo test --release -p acme-core --test routing_prop`.

mod common;

use std::time::{Duration, Instant};

use acme_core::routing::{
    Decision, DecisionKind, JsRegex, MiddlewareResult, Request, Router, MAX_INPUT,
};
use proptest::prelude::*;
use serde_json::{json, Value};

const REPEATS: usize = 5;
/// 1 ms for optimized code (what the runtime ships); unoptimized test builds run the regex
/// engines some 20x slower, so they get a proportionally larger bound.
const BOUND: Duration = if cfg!(debug_assertions) {
    Duration::from_millis(20)
} else {
    Duration::from_millis(1)
};

/// User `source` regexes that backtrack catastrophically in a naive engine.
const EVIL: &[&str] = &[
    r"^/(a+)+$",
    r"^/(a|a)*b$",
    r"^/((?:x+x+)+)y$",
    r"^/(.*a){12}$",
    r"^/((?!z).*)*q$",
    r"^/(\w+\s?)*$",
];

/// The fixture tables, and the app-router table with pathological routes and conditions.
fn routers() -> Vec<Router> {
    let evil: Vec<Value> = EVIL
        .iter()
        .enumerate()
        .map(|(i, re)| {
            json!({
                "source": format!("/evil-{i}"),
                "sourceRegex": re,
                "destination": "/about?m=$1",
                "has": [{ "type": "header", "key": "x-evil", "value": "(a+)+$" }],
                "missing": [{ "type": "cookie", "key": "c", "value": "(x|x)*y" }],
            })
        })
        .chain(
            EVIL.iter()
                .map(|re| json!({ "source": "/e", "sourceRegex": re, "destination": "/about" })),
        )
        .collect();
    vec![
        Router::new(&common::router_manifest("app-router", &[])).unwrap(),
        Router::new(&common::router_manifest("pages-router", &[])).unwrap(),
        Router::new(&common::router_manifest("app-router", &evil)).unwrap(),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "about",
            "blog",
            "_next",
            "data",
            "static",
            "api",
            "..",
            ".",
            "%2e",
            "%2F",
            "%",
            "%zz",
            "%E2%82%AC",
            "é",
            "a b",
            "[slug]",
            "$1",
            "index.rsc",
            ".segments",
            "x.json",
            "",
            "ABOUT",
            "\\",
            ";",
            "favicon.ico",
            "evil-0",
            "😀",
            "a\u{2028}b",
        ])
        .prop_map(str::to_string),
        "[a-z]{1,12}",
        "[ -~]{0,16}",
        // Long runs that make naive backtracking explode.
        (1usize..3000).prop_map(|n| "a".repeat(n)),
        (1usize..3000).prop_map(|n| format!("{}!", "x".repeat(n))),
    ]
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(segment(), 0..6),
        prop::option::of("[a-z=&%+]{0,24}"),
        any::<bool>(),
    )
        .prop_map(|(segs, q, slash)| {
            let mut p = String::new();
            for s in segs {
                p.push('/');
                p.push_str(&s);
            }
            if p.is_empty() || slash {
                p.push('/');
            }
            if let Some(q) = q {
                p.push('?');
                p.push_str(&q);
            }
            p
        })
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop::sample::select(vec![
        "rsc",
        "cookie",
        "accept-language",
        "x-rewrite-me",
        "x-no-cors",
        "x-evil",
        "next-router-segment-prefetch",
        "x-prerender-revalidate",
        "host",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "1",
            "yes",
            "fr",
            "en;q=0.5",
            "c=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxz",
            "NEXT_LOCALE=fr",
            "/_tree",
            "%zz",
            "",
            "localhost",
            "example.com:3000",
        ])
        .prop_map(str::to_string),
        (1usize..2000).prop_map(|n| format!("{}b", "a".repeat(n))),
        "[ -~]{0,40}",
    ];
    prop::collection::vec((name.prop_map(str::to_string), value), 0..5)
}

/// Resolves (and resumes a middleware decision) once; the fastest of `REPEATS` runs.
fn fastest(router: &Router, req: &Request) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..REPEATS {
        let t = Instant::now();
        let d = router.resolve(req);
        if d.kind == DecisionKind::Middleware {
            let token = d
                .continuation
                .expect("a middleware decision carries a continuation");
            router
                .resume(token, &MiddlewareResult::default())
                .expect("own continuation");
        }
        best = best.min(t.elapsed());
    }
    best
}

proptest! {
    // 400 cases by default; `PROPTEST_CASES` runs more.
    #![proptest_config(common::proptest_config(400))]

    #[test]
    fn no_panic_and_no_slow_resolution(which in 0usize..3, path in path(), headers in headers()) {
        thread_local! {
            static ROUTERS: Vec<Router> = routers();
            static SLOTS: std::cell::RefCell<(Decision, Decision)> = Default::default();
        }
        ROUTERS.with(|routers| {
            let req = Request { method: "GET".into(), url: path.clone(), headers };
            let took = fastest(&routers[which], &req);
            prop_assert!(took < BOUND, "{path:?} took {took:?} at best of {REPEATS}");
            Ok(())
        })?;
    }
}

/// The decision as JSON, its continuation left out (a handle, not a routing result).
fn comparable(d: &acme_core::routing::Decision) -> Value {
    let mut v = serde_json::to_value(d).unwrap();
    if let Some(o) = v.as_object_mut() {
        o.remove("continuation");
    }
    v
}

/// What middleware might do, by number: continue (unchanged or with other request headers),
/// rewrite, redirect, answer.
fn outcome(which: usize, headers: &[(String, String)]) -> MiddlewareResult {
    let mut changed = headers.to_vec();
    changed.push(("rsc".into(), "1".into()));
    changed.push(("x-rewrite-me".into(), "yes".into()));
    match which % 6 {
        0 => MiddlewareResult::default(),
        1 => MiddlewareResult {
            request_headers: Some(changed),
            ..Default::default()
        },
        2 => MiddlewareResult {
            rewrite: Some("/blog/x?y=1".into()),
            ..Default::default()
        },
        3 => MiddlewareResult {
            redirect: Some(("http://localhost/r".into(), 307)),
            response_headers: Some(vec![("x-r".into(), "1".into())]),
            ..Default::default()
        },
        4 => MiddlewareResult {
            body_sent: true,
            ..Default::default()
        },
        _ => MiddlewareResult {
            request_headers: Some(headers.to_vec()),
            response_headers: Some(vec![("set-cookie".into(), "a=1".into())]),
            ..Default::default()
        },
    }
}

proptest! {
    #![proptest_config(common::proptest_config(300))]

    /// The addon's calls (`resolve_indexed_passthrough`, then `replay_indexed` for an outcome
    /// other than passing through) decide what a kept continuation does (`resolve`, `resume`).
    #[test]
    fn passthrough_and_replay_equal_a_kept_continuation(
        which in 0usize..3,
        path in path(),
        headers in headers(),
        what in 0usize..6,
    ) {
        thread_local! {
            static ROUTERS: Vec<Router> = routers();
            static SLOTS: std::cell::RefCell<(Decision, Decision)> = Default::default();
        }
        ROUTERS.with(|routers| {
            let router = &routers[which];
            let names = router.header_names().to_vec();
            // As the addon passes headers: those routing reads, by index.
            let indexed = |list: &[(String, String)]| -> Vec<(usize, String)> {
                list.iter()
                    .filter_map(|(k, v)| Some((names.iter().position(|n| n == k)?, v.clone())))
                    .collect()
            };
            let request_pairs = indexed(&headers);
            let pairs: Vec<(usize, &str)> = request_pairs.iter().map(|(i, v)| (*i, v.as_str())).collect();
            let req = Request { method: "GET".into(), url: path.clone(), headers: headers.clone() };
            let kept = router.resolve(&req);
            let (d, passthrough) = router.resolve_indexed_passthrough(&path, pairs.iter().copied());
            prop_assert_eq!(comparable(&d), comparable(&kept), "{:?}", path);
            prop_assert!(d.continuation.is_none());
            // The addon's form: two decisions kept from call to call (they hold whatever the
            // previous case left in them) decide what fresh ones do.
            SLOTS.with_borrow_mut(|(into, through_into)| {
                let paused = router.resolve_indexed_passthrough_into(&path, pairs.iter().copied(), into, through_into);
                prop_assert_eq!(paused, passthrough.is_some());
                prop_assert_eq!(serde_json::to_value(&*into).unwrap(), serde_json::to_value(&d).unwrap(), "{:?}", path);
                if let Some(p) = &passthrough {
                    prop_assert_eq!(serde_json::to_value(&*through_into).unwrap(), serde_json::to_value(&**p).unwrap(), "{:?}", path);
                }
                Ok(())
            })?;
            if kept.kind != DecisionKind::Middleware {
                prop_assert!(passthrough.is_none());
                return Ok(());
            }
            let passthrough = passthrough.expect("a middleware decision comes with its pass-through");
            let unchanged = router.resume(kept.continuation.unwrap(), &MiddlewareResult::default()).unwrap();
            prop_assert_eq!(comparable(&passthrough), comparable(&unchanged), "{:?}", path);
            let result = outcome(what, &headers);
            let again = router.resolve(&req).continuation.unwrap();
            let resumed = router.resume(again, &result).unwrap();
            let new_pairs = result.request_headers.as_deref().map(indexed);
            let new_headers = new_pairs
                .as_ref()
                .map(|n| router.header_list_indexed(n.iter().map(|(i, v)| (*i, v.as_str()))));
            let replayed = router
                .replay_indexed(&path, pairs.iter().copied(), &result, new_headers)
                .unwrap();
            prop_assert_eq!(comparable(&replayed), comparable(&resumed), "{:?} after {:?}", path, what);
            Ok(())
        })?;
    }
}

/// Structural guard: each pathological pattern gets an input cap below the general one (or is
/// run by the linear-time engine), so its worst case is bounded by construction.
#[test]
fn pathological_patterns_are_capped() {
    for re in EVIL {
        let js = JsRegex::new(re, "i").unwrap();
        assert!(
            js.is_translated() || js.cap() < MAX_INPUT,
            "{re}: cap {} and no linear-time program",
            js.cap()
        );
    }
}
