//! Times the core router on a URL list: `cargo run --release -p acme-core --example route_timing -- manifest.json urls.json`.
#![allow(clippy::unwrap_used, missing_docs)]
use std::time::Instant;

// As in the addon (src/lib.rs).
#[global_allocator]
static GLOBAL: acme_core::alloc::Mimalloc = acme_core::alloc::Mimalloc;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let router =
        acme_core::routing::Router::new(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    let urls: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&args[2]).unwrap()).unwrap();
    let reqs: Vec<acme_core::routing::Request> = urls
        .iter()
        .map(|u| acme_core::routing::Request {
            method: "GET".into(),
            url: u.clone(),
            headers: vec![("host".into(), "localhost".into())],
        })
        .collect();
    for _ in 0..3 {
        let t = Instant::now();
        for r in &reqs {
            std::hint::black_box(router.resolve(r));
        }
        println!(
            "resolve: {:.2} µs/req",
            t.elapsed().as_secs_f64() * 1e6 / reqs.len() as f64
        );
        let t = Instant::now();
        for r in &reqs {
            std::hint::black_box(url::Url::parse(&r.url).ok());
        }
        println!(
            "url parse: {:.2} µs/req",
            t.elapsed().as_secs_f64() * 1e6 / reqs.len() as f64
        );
    }
}
