//! Times `JsRegex::is_match` and `captures` of route regexes on the pathnames of a request
//! corpus (`node bench/dump-corpus.js` writes one):
//! `cargo run --release -p acme-core --example re_timing -- corpus.json 'regex' …`.
#![allow(clippy::unwrap_used, missing_docs)]
use std::time::Instant;
#[global_allocator]
static GLOBAL: acme_core::alloc::Mimalloc = acme_core::alloc::Mimalloc;
use acme_core::routing::JsRegex;
/// The fastest of 7 passes of `f` over `paths`, in ns per call.
fn best_ns(paths: &[String], mut f: impl FnMut(&str)) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        for p in paths {
            f(std::hint::black_box(p));
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e9 / paths.len() as f64);
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    // Corpus URLs are absolute: their pathnames, as routing matches them.
    let paths: Vec<String> = corpus
        .iter()
        .map(|c| {
            url::Url::parse(c["url"].as_str().unwrap())
                .unwrap()
                .path()
                .to_string()
        })
        .collect();
    let base = best_ns(&paths, |p| {
        std::hint::black_box(p.len());
    });
    println!("{base:7.1} ns per call of the timing loop itself");
    for pat in &args[2..] {
        let re = JsRegex::new(pat, "").unwrap();
        let hits = paths.iter().filter(|p| re.is_match(p)).count();
        let test = best_ns(&paths, |p| {
            std::hint::black_box(re.is_match(p));
        });
        let exec = best_ns(&paths, |p| {
            std::hint::black_box(re.captures(p));
        });
        println!(
            "{test:7.1} ns is_match {exec:7.1} ns captures hits {hits}/{}  {pat}",
            paths.len()
        );
    }
}
