#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]
//! Property-based fuzzing of build contexts: arbitrary text, and real contexts with random
//! fields removed or replaced (wrong types, empty, huge, traversal paths), go through the
//! context parser and `build_from_json` into a temporary directory. Each is built or refused
//! with an error naming what was wrong; never a panic, never a partial output directory, never
//! a file written outside the output.
//!
//! Cases per property: `PROPTEST_CASES` (default 48 here, for `npm test`); a long run:
//! `PROPTEST_CASES=5000 cargo test --release -p acme-core --test fuzz_context`.

mod common;

use std::fs;
use std::path::Path;

use acme_core::model::BuildContext;
use acme_core::{build_from_json, WriteOptions};
use proptest::prelude::*;
use serde_json::{json, Value};

const ESCAPE: &str = "acme-fuzz-escape";

/// Replacement values: every JSON type, and the strings that break path handling.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(-1)),
        Just(json!(1e308)),
        Just(json!(u64::MAX)),
        Just(json!(0.5)),
        prop::sample::select(vec![
            "",
            "/",
            ".",
            "..",
            "../",
            "\u{0}",
            "a\u{0}b",
            "C:\\windows",
            "%2e%2e/%2e%2e",
            "/\u{1F600}",
            "(",
            "^(?<x>[^/]+?)$",
            "(?<=a)b",
            "STATIC_FILE",
            "APP_PAGE",
            "PRERENDER",
            "edge",
            "nodejs",
            "../acme-fuzz-escape",
            "../../acme-fuzz-escape",
            "../../../acme-fuzz-escape",
            "../../../../acme-fuzz-escape",
            "../../../../../acme-fuzz-escape",
            "/../../../../../../../../../tmp/acme-fuzz-escape",
            "/tmp/acme-fuzz-escape",
        ])
        .prop_map(|s| json!(s)),
        "\\PC{0,12}".prop_map(|s| json!(s)),
        (1usize..5000).prop_map(|n| json!("a".repeat(n))),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Replace(Value),
    WrapInArray,
}

fn mutations() -> impl Strategy<Value = Vec<(prop::sample::Index, Mutation)>> {
    let m = prop_oneof![
        Just(Mutation::Remove),
        value().prop_map(Mutation::Replace),
        Just(Mutation::WrapInArray),
    ];
    prop::collection::vec((any::<prop::sample::Index>(), m), 1..4)
}

fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_string());
    match v {
        Value::Object(map) => {
            for (k, c) in map {
                pointers(
                    c,
                    &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, c) in items.iter().enumerate() {
                pointers(c, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn apply(v: &mut Value, muts: &[(prop::sample::Index, Mutation)]) {
    for (index, m) in muts {
        let mut all = Vec::new();
        pointers(v, "", &mut all);
        let at = all[index.index(all.len())].clone();
        match m {
            Mutation::Replace(new) => *v.pointer_mut(&at).unwrap() = new.clone(),
            Mutation::WrapInArray => {
                let target = v.pointer_mut(&at).unwrap();
                *target = Value::Array(vec![target.take()]);
            }
            Mutation::Remove => {
                let Some(cut) = at.rfind('/') else {
                    *v = Value::Null;
                    continue;
                };
                let key = at[cut + 1..].replace("~1", "/").replace("~0", "~");
                match v.pointer_mut(&at[..cut]).unwrap() {
                    Value::Object(map) => {
                        map.remove(&key);
                    }
                    Value::Array(items) => {
                        items.remove(key.parse::<usize>().unwrap());
                    }
                    _ => unreachable!("a parent is a container"),
                }
            }
        }
    }
}

/// Every path below `dir`, except inside `skip`.
fn files_named(dir: &Path, name: &str, found: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.file_name().and_then(|n| n.to_str()) == Some(name) {
            found.push(p.display().to_string());
        }
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            files_named(&p, name, found);
        }
    }
}

proptest! {
    #![proptest_config(common::proptest_config(32))]

    #[test]
    fn arbitrary_text_is_parsed_or_refused(text in "\\PC{0,200}") {
        if let Err(e) = BuildContext::from_json(&text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn mutated_captured_contexts_parse_and_validate_or_refuse(muts in mutations()) {
        let mut v: Value = serde_json::from_str(&common::captured("app-router", "/repo")).unwrap();
        apply(&mut v, &muts);
        if let Ok(ctx) = BuildContext::from_json(&v.to_string()) {
            let _ = acme_core::routing::validate(&ctx);
            let _ = ctx.middleware_matchers();
        }
    }

    #[test]
    fn mutated_synthetic_builds_succeed_or_fail_cleanly(muts in mutations()) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        let mut v = common::synthetic(&root);
        apply(&mut v, &muts);
        let out = root.join("app/.acme/output");
        let opts = WriteOptions {
            output_dir: out.clone(),
            adapter_version: "0.0.0-fuzz".into(),
            copy_files: false,
            attach: None,
        };
        match build_from_json(&v.to_string(), &opts) {
            Ok(_) => prop_assert!(out.join("manifest.json").is_file()),
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                prop_assert!(!out.exists(), "a failed build left {} behind: {e}", out.display());
                if let Ok(entries) = fs::read_dir(out.parent().unwrap()) {
                    let left: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
                    prop_assert!(left.is_empty(), "a failed build left {:?}", left);
                }
            }
        }
        let mut escaped = Vec::new();
        files_named(tmp.path(), ESCAPE, &mut escaped);
        escaped.retain(|p| !p.starts_with(&out.display().to_string()));
        prop_assert!(escaped.is_empty(), "written outside the output: {:?}", escaped);
        prop_assert!(!Path::new("/tmp").join(ESCAPE).exists(), "written to /tmp/{}", ESCAPE);
    }
}
