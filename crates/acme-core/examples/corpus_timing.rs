//! Times the core router on a request corpus with recorded middleware outcomes:
//! `cargo run --release -p acme-core --example corpus_timing -- manifest.json corpus.json [rounds]`.
//!
//! The corpus is a JSON array of `{ method, url, headers: [name, value, …], outcome }` where
//! `outcome` is `null` or `{ body_sent, request_headers, response_headers, redirect: [url, status],
//! rewrite }`, as `node bench/dump-corpus.js` writes it. `TIMING_TOP=n`: also the n slowest
//! requests.
#![allow(clippy::unwrap_used, missing_docs)]
// The counting allocator below forwards to the addon's: the only unsafe code, in a timing tool.
#![allow(unsafe_code)]
use std::time::Instant;

/// The addon's allocator (src/lib.rs), counting allocations: a figure that, unlike time, the
/// machine's noise cannot move.
struct Counting;

static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts with a plain load and store, not a locked add (~20 cycles each, which would show in
/// the timings): the timing loop runs on one thread.
fn count_allocation() {
    use std::sync::atomic::Ordering::Relaxed;
    ALLOCATIONS.store(ALLOCATIONS.load(Relaxed) + 1, Relaxed);
}

// SAFETY: forwards every call unchanged to the addon's allocator.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { acme_core::alloc::Mimalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { acme_core::alloc::Mimalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { acme_core::alloc::Mimalloc.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A recorded middleware outcome's request headers as the addon takes them (indexed), and
/// whether the outcome passes the request through.
type Outcome = (Option<Vec<(usize, String)>>, bool);

use acme_core::routing::{Decision, DecisionKind, MiddlewareResult, Request, Router};
use serde_json::Value;

fn pairs(v: &Value) -> Option<Vec<(String, String)>> {
    let a = v.as_array()?;
    Some(
        a.chunks_exact(2)
            .map(|c| {
                (
                    c[0].as_str().unwrap_or("").to_string(),
                    c[1].as_str().unwrap_or("").to_string(),
                )
            })
            .collect(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let router = Router::new(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    let corpus: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&args[2]).unwrap()).unwrap();
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let reqs: Vec<(Request, Option<MiddlewareResult>)> = corpus
        .iter()
        .map(|c| {
            let req = Request {
                method: c["method"].as_str().unwrap_or("GET").to_string(),
                url: c["url"].as_str().unwrap_or("/").to_string(),
                headers: pairs(&c["headers"]).unwrap_or_default(),
            };
            let o = &c["outcome"];
            let mr = (!o.is_null()).then(|| MiddlewareResult {
                body_sent: o["body_sent"].as_bool().unwrap_or(false),
                request_headers: pairs(&o["request_headers"]),
                response_headers: pairs(&o["response_headers"]),
                redirect: o["redirect"].as_array().map(|r| {
                    (
                        r[0].as_str().unwrap_or("").to_string(),
                        r[1].as_u64().unwrap_or(307) as u16,
                    )
                }),
                rewrite: o["rewrite"].as_str().map(str::to_string),
            });
            (req, mr)
        })
        .collect();
    // The headers routing reads as `(index in header_names(), value)`, as the addon passes them.
    let indexed = |headers: &[(String, String)]| -> Vec<(usize, String)> {
        let mut out: Vec<(usize, String)> = headers
            .iter()
            .filter_map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let i = router.header_names().iter().position(|n| *n == lower)?;
                Some((i, v.clone()))
            })
            .collect();
        out.sort();
        out
    };
    let values: Vec<Vec<(usize, String)>> = reqs.iter().map(|(r, _)| indexed(&r.headers)).collect();
    // Per request: the outcome's request headers as the addon takes them, and whether the
    // outcome is a pass-through (runtime/router.js answers it without a second call: nothing
    // changed that routing reads).
    let outcomes: Vec<Outcome> = reqs
        .iter()
        .zip(&values)
        .map(|((_, mr), vals)| {
            let Some(mr) = mr else {
                return (None, true);
            };
            let new = mr.request_headers.as_deref().map(indexed);
            let passes = !mr.body_sent
                && mr.redirect.is_none()
                && mr.rewrite.is_none()
                && mr.response_headers.as_ref().is_none_or(Vec::is_empty)
                && new.as_ref().is_none_or(|n| n == vals);
            (new, passes)
        })
        .collect();
    // One request, as the runtime routes it through the addon: resolve (a middleware decision
    // comes with the pass-through decision), then, for any other outcome, replay with it.
    // The two decisions the addon keeps from call to call (src/router.rs `DecisionSlots`).
    let slots = std::cell::RefCell::new((Decision::default(), Decision::default()));
    let route = |r: &Request,
                 mr: &Option<MiddlewareResult>,
                 vals: &[(usize, String)],
                 (new, passes): &Outcome| {
        let pairs = || vals.iter().map(|(i, v)| (*i, v.as_str()));
        let (d, through) = &mut *slots.borrow_mut();
        router.resolve_indexed_passthrough_into(&r.url, pairs(), d, through);
        if let (DecisionKind::Middleware, Some(mr), false) = (d.kind, mr, *passes) {
            let new = new
                .as_ref()
                .map(|n| router.header_list_indexed(n.iter().map(|(i, v)| (*i, v.as_str()))));
            std::hint::black_box(router.replay_indexed(&r.url, pairs(), mr, new).ok());
        }
        std::hint::black_box((&*d, &*through));
    };
    let before = ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed);
    for (((r, mr), vals), o) in reqs.iter().zip(&values).zip(&outcomes) {
        route(r, mr, vals, o);
    }
    let allocations = ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed) - before;
    let mut times = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for (((r, mr), vals), o) in reqs.iter().zip(&values).zip(&outcomes) {
            route(r, mr, vals, o);
        }
        times.push(t.elapsed().as_secs_f64() * 1e6 / reqs.len() as f64);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    // `TIMING_TOP=n`: the n slowest requests and the share of the time the slowest 5% take.
    if let Some(top) = std::env::var("TIMING_TOP")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        let mut each: Vec<(f64, &str)> = reqs
            .iter()
            .zip(&values)
            .zip(&outcomes)
            .map(|(((r, mr), vals), o)| {
                let t = Instant::now();
                for _ in 0..50 {
                    route(r, mr, vals, o);
                }
                (t.elapsed().as_secs_f64() * 1e6 / 50.0, r.url.as_str())
            })
            .collect();
        each.sort_by(|a, b| b.0.total_cmp(&a.0));
        let total: f64 = each.iter().map(|e| e.0).sum();
        let slow: f64 = each[..each.len() / 20].iter().map(|e| e.0).sum();
        println!(
            "per request: median {:.3} µs, slowest 5% take {:.0}% of the time",
            each[each.len() / 2].0,
            100.0 * slow / total
        );
        for (t, u) in each.iter().take(top) {
            println!("  {t:.2} µs  {u}");
        }
    }
    println!(
        "routed as the addon routes: median {:.3} µs/req (min {:.3}), {:.1} allocations/req",
        times[times.len() / 2],
        times[0],
        allocations as f64 / reqs.len() as f64
    );
}
