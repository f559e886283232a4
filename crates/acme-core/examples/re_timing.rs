//! Times `JsRegex::is_match` and `captures` of route regexes on the pathnames of a request
//! corpus (`node bench/dump-corpus.js` writes one):
//! `cargo run --release -p acme-core --example re_timing -- corpus.json 'regex' …`.
#![allow(clippy::unwrap_used, missing_docs)]
use std::time::Instant;
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use acme_core::routing::JsRegex;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    let paths: Vec<String> = corpus
        .iter()
        .map(|c| {
            let u = c["url"].as_str().unwrap();
            let p = u.split('?').next().unwrap();
            let p = if let Some(r) = p.strip_prefix("http://").or(p.strip_prefix("https://")) {
                &r[r.find('/').unwrap_or(r.len())..]
            } else {
                p
            };
            p.to_string()
        })
        .collect();
    for pat in &args[2..] {
        let re = JsRegex::new(pat, "").unwrap();
        let mut hits = 0;
        for p in &paths {
            if re.is_match(p) {
                hits += 1;
            }
        }
        let mut best = f64::MAX;
        for _ in 0..7 {
            let t = Instant::now();
            for p in &paths {
                std::hint::black_box(re.is_match(std::hint::black_box(p)));
            }
            best = best.min(t.elapsed().as_secs_f64() * 1e9 / paths.len() as f64);
        }
        let mut bc = f64::MAX;
        for _ in 0..7 {
            let t = Instant::now();
            for p in &paths {
                std::hint::black_box(re.captures(std::hint::black_box(p)));
            }
            bc = bc.min(t.elapsed().as_secs_f64() * 1e9 / paths.len() as f64);
        }
        println!(
            "{best:7.1} ns is_match {bc:7.1} ns captures hits {hits}/{}  {pat}",
            paths.len()
        );
    }
}
