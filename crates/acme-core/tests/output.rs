#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]
//! Writing `.acme/output` from a synthetic build: layout, manifest, determinism, atomicity.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use acme_core::{build_from_json, Error, WriteOptions};
use serde_json::Value;

fn opts(out: &Path) -> WriteOptions {
    WriteOptions {
        output_dir: out.to_path_buf(),
        adapter_version: "0.0.0-test".into(),
        copy_files: false,
        attach: None,
    }
}

fn manifest(out: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn writes_every_output_public_file_and_asset() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = common::synthetic(tmp.path());
    let out = tmp.path().join("app/.acme/output");
    let summary = build_from_json(&ctx.to_string(), &opts(&out)).unwrap();

    for rel in [
        "static/_next/static/chunks/abc.js",
        "static/404.html",
        "static/robots.txt",
        "static/.well-known/security.txt",
        "prerender/seeds.pack",
        "server/app/.next/server/app/page.js",
        "server/node_modules/next/dist/server/lib.js",
        // The setup-node-env stub is placed by key, so the runtime can require it by that name.
        "server/node_modules/next/setup-node-env.js",
        // Edge asset keys start with `../`; they are placed by their path in the repository.
        "server/app/.next/server/edge/chunk.js",
    ] {
        assert!(out.join(rel).is_file(), "{rel} missing");
    }
    assert_eq!(
        fs::read_to_string(out.join("static/robots.txt")).unwrap(),
        "User-agent: *"
    );
    assert_eq!(
        summary.files, 11,
        "8 placed files, the seed pack, the manifest and the report"
    );
    assert_eq!(summary.seeds, 1);

    let m = manifest(&out);
    assert_eq!(m["schemaVersion"], 1);
    assert_eq!(m["buildId"], "b1");
    assert_eq!(m["projectDir"], "app");
    let edge = m["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["runtime"] == "edge")
        .unwrap();
    assert_eq!(edge["edge"]["entryKey"], "middleware_app/api/edge/route");
    assert_eq!(
        edge["edge"]["scripts"][0],
        "server/app/.next/server/edge/chunk.js"
    );
    let isr = &m["prerenders"][0];
    assert_eq!(isr["revalidate"], 60.0);
    assert_eq!(isr["expire"], 3600.0);
    assert_eq!(isr["fallbackMode"]["mode"], "blocking");
    let blob = &m["seedPack"]["blobs"][isr["seed"]["blob"].as_u64().unwrap() as usize];
    let pack = fs::read(out.join(m["seedPack"]["file"].as_str().unwrap())).unwrap();
    let (offset, length) = (
        blob["offset"].as_u64().unwrap() as usize,
        blob["length"].as_u64().unwrap() as usize,
    );
    assert_eq!(blob["encoding"], "identity", "small seeds are stored as is");
    assert_eq!(&pack[offset..offset + length], b"<p>isr</p>");
    let headers = &m["headerSets"][isr["seed"]["headers"].as_u64().unwrap() as usize];
    assert_eq!(headers["x-next-cache-tags"], "a,b");
    assert_eq!(
        m["cacheConfigs"][isr["cacheConfig"].as_u64().unwrap() as usize]["bypassToken"],
        "tok"
    );
    let robots = m["staticFiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["pathname"] == "/robots.txt")
        .unwrap();
    assert_eq!(robots["kind"], "public-file");
    assert_eq!(robots["contentType"], "text/plain; charset=utf-8");
    assert_eq!(robots["size"], 13);
    assert_eq!(m["features"]["isr"], true);
    assert_eq!(m["features"]["appRouter"], true);
    assert_eq!(m["features"]["edgeFunctions"], 1);
    assert_eq!(m["contentHash"].as_str().unwrap(), summary.content_hash);
    assert_eq!(m["contentHash"].as_str().unwrap().len(), 64);
}

#[test]
fn copy_files_gives_an_independent_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = common::synthetic(tmp.path());
    let out = tmp.path().join("out");
    let summary = build_from_json(
        &ctx.to_string(),
        &WriteOptions {
            copy_files: true,
            ..opts(&out)
        },
    )
    .unwrap();
    assert_eq!(summary.linked, 0);
    fs::write(
        tmp.path().join("app/public/robots.txt"),
        "changed after the build",
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(out.join("static/robots.txt")).unwrap(),
        "User-agent: *"
    );
}

#[test]
fn server_files_are_hardlinked() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = common::synthetic(tmp.path());
    let out = tmp.path().join("out");
    build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    let ino = |p: &Path| fs::metadata(p).unwrap().ino();
    let lib = tmp.path().join("node_modules/next/dist/server/lib.js");
    assert_eq!(
        ino(&lib),
        ino(&out.join("server/node_modules/next/dist/server/lib.js"))
    );
}

#[test]
fn same_build_gives_byte_identical_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = common::synthetic(tmp.path()).to_string();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let sa = build_from_json(&ctx, &opts(&a)).unwrap();
    let sb = build_from_json(&ctx, &opts(&b)).unwrap();
    assert_eq!(
        fs::read(a.join("manifest.json")).unwrap(),
        fs::read(b.join("manifest.json")).unwrap()
    );
    assert_eq!(sa.content_hash, sb.content_hash);

    // One changed byte in a served file changes the content hash.
    fs::write(tmp.path().join("app/public/robots.txt"), "User-agent: x").unwrap();
    let sc = build_from_json(&ctx, &opts(&tmp.path().join("c"))).unwrap();
    assert_ne!(sa.content_hash, sc.content_hash);
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn failed_build_keeps_the_previous_output_and_leaves_no_staging() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ctx = common::synthetic(tmp.path());
    let parent = tmp.path().join("dist");
    let out = parent.join("output");
    build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    let good = fs::read(out.join("manifest.json")).unwrap();

    ctx["outputs"]["staticFiles"][1]["filePath"] = tmp
        .path()
        .join("app/.next/server/pages/gone.html")
        .display()
        .to_string()
        .into();
    let err = build_from_json(&ctx.to_string(), &opts(&out)).unwrap_err();
    match &err {
        Error::MissingFile {
            output,
            path,
            reason,
        } => {
            assert_eq!(output, "/404");
            assert!(path.ends_with("gone.html"));
            assert_eq!(reason, "does not exist");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(fs::read(out.join("manifest.json")).unwrap(), good);
    assert_eq!(
        entries(&parent),
        ["output"],
        "no staging or previous directory left behind"
    );
}

#[test]
fn rebuild_replaces_the_output_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = common::synthetic(tmp.path());
    let out = tmp.path().join("o");
    build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    fs::write(out.join("static/stale.txt"), "from an older build").unwrap();
    build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    assert!(!out.join("static/stale.txt").exists());
    // The previous output is removed in the background; a third build sweeps up what is left.
    build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while entries(tmp.path()).iter().any(|n| n.starts_with(".o.")) {
        assert!(
            std::time::Instant::now() < deadline,
            "leftovers: {:?}",
            entries(tmp.path())
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// What builds that exited before their background removal finished left (previous outputs,
/// 1,500 files each here) is gone once the next build returns. The sweep ran in the background
/// too, where `next build`'s exit cut it short, and a copy of the output piled up per build.
#[test]
fn leftovers_of_earlier_builds_are_gone_when_the_build_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = common::synthetic(tmp.path());
    let out = tmp.path().join("o");
    for k in 0..2 {
        let left = tmp.path().join(format!(".o.staging-{k}-0.previous/static"));
        fs::create_dir_all(&left).unwrap();
        for i in 0..1500 {
            fs::write(left.join(format!("{i}.txt")), "x").unwrap();
        }
    }
    build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    let left: Vec<String> = entries(tmp.path())
        .into_iter()
        .filter(|n| n.starts_with(".o."))
        .collect();
    assert!(left.is_empty(), "leftovers: {left:?}");
}

#[test]
fn two_outputs_claiming_one_file_is_a_conflict() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ctx = common::synthetic(tmp.path());
    // A Next static file at the URL of a public file.
    common::push_static(
        &mut ctx,
        tmp.path(),
        "robots",
        "/robots.txt",
        "app/.next/server/pages/404.html",
    );
    let err = build_from_json(&ctx.to_string(), &opts(&tmp.path().join("o"))).unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { dest, .. } if dest == "/robots.txt"),
        "{err}"
    );
    assert!(err.to_string().contains("static/robots.txt.html"), "{err}");
    assert!(!tmp.path().join("o").exists());
}

#[test]
fn file_where_a_folder_is_needed_is_a_conflict() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("app/public/robots.txt.d")).unwrap();
    let mut ctx = common::synthetic(tmp.path());
    common::push_static(
        &mut ctx,
        tmp.path(),
        "nested",
        "/robots.txt/inner.html",
        "app/.next/server/pages/404.html",
    );
    let err = build_from_json(&ctx.to_string(), &opts(&tmp.path().join("o"))).unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { dest, .. } if dest == "static/robots.txt"),
        "{err}"
    );
}

#[test]
fn asset_outside_the_repository_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ctx = common::synthetic(tmp.path());
    ctx["outputs"]["appRoutes"][0]["assets"] =
        serde_json::json!({ "../../../etc/passwd": "/etc/passwd" });
    let err = build_from_json(&ctx.to_string(), &opts(&tmp.path().join("o"))).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOutput { output, .. } if output == "app/api/edge/route"),
        "{err}"
    );
    assert!(
        err.to_string().contains("outside the repository root"),
        "{err}"
    );
}

#[test]
fn public_files_are_served_below_the_base_path() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ctx = common::synthetic(tmp.path());
    ctx["config"]["basePath"] = "/docs".into();
    let out = tmp.path().join("o");
    build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    let m = manifest(&out);
    let robots = m["staticFiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "public-file" && s["pathname"] == "/docs/robots.txt");
    assert_eq!(robots.unwrap()["file"], "static/docs/robots.txt");
    assert!(out.join("static/docs/robots.txt").is_file());
}

#[test]
fn across_filesystems_files_are_copied() {
    // /dev/shm is a tmpfs on Linux: a hardlink from the build's filesystem fails there.
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ctx = common::synthetic(tmp.path());
    let out_parent = tempfile::tempdir_in(shm).unwrap();
    let out = out_parent.path().join("output");
    let summary = build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    assert_eq!(summary.linked, 0);
    assert_eq!(summary.copied, 8);
    assert_eq!(
        fs::read_to_string(out.join("server/node_modules/next/dist/server/lib.js")).unwrap(),
        "exports.x = 1"
    );
}

#[test]
fn a_static_file_listed_twice_is_served_once() {
    // Next 16.2 lists `/404` twice with the same file.
    let tmp = tempfile::tempdir().unwrap();
    let mut ctx = common::synthetic(tmp.path());
    let twin = ctx["outputs"]["staticFiles"][1].clone();
    ctx["outputs"]["staticFiles"]
        .as_array_mut()
        .unwrap()
        .push(twin);
    let out = tmp.path().join("o");
    build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    let m = manifest(&out);
    let n = m["staticFiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["pathname"] == "/404")
        .count();
    assert_eq!(n, 1);
}

#[test]
fn an_attached_directory_is_moved_into_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = common::synthetic(tmp.path());
    let attach = tmp.path().join("attach");
    fs::create_dir_all(attach.join("acme/runtime")).unwrap();
    fs::write(attach.join("server.js"), "// serve").unwrap();
    fs::write(attach.join("acme/runtime/cli.js"), "// cli").unwrap();
    let out = tmp.path().join("o");
    build_from_json(
        &ctx.to_string(),
        &WriteOptions {
            attach: Some(attach.clone()),
            ..opts(&out)
        },
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(out.join("server.js")).unwrap(),
        "// serve"
    );
    assert!(out.join("acme/runtime/cli.js").is_file());
    assert!(!attach.exists(), "the attached directory is consumed");

    // An entry the output already has is a conflict, and nothing is published.
    fs::create_dir_all(attach.join("static")).unwrap();
    let other = tmp.path().join("o2");
    let err = build_from_json(
        &ctx.to_string(),
        &WriteOptions {
            attach: Some(attach),
            ..opts(&other)
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { dest, .. } if dest == "static"),
        "{err}"
    );
    assert!(!other.exists());
}

#[test]
fn prerender_route_defaults_to_the_parent_pathname_below_base_path() {
    // Next 16.2 gives prerenders no `route`; the runtime groups a route's prerenders by it.
    let tmp = tempfile::tempdir().unwrap();
    let mut ctx = common::synthetic(tmp.path());
    ctx["config"]["basePath"] = "/base".into();
    ctx["outputs"]["appPages"][0]["pathname"] = "/base/blog/[slug]".into();
    let p = &mut ctx["outputs"]["prerenders"][0];
    p["pathname"] = "/base/blog/a".into();
    let mut given = p.clone();
    let out = tmp.path().join("app/.acme/output");
    build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    assert_eq!(manifest(&out)["prerenders"][0]["route"], "/blog/[slug]");

    // A route Next gives is kept as it is.
    given["route"] = "/given".into();
    ctx["outputs"]["prerenders"][0] = given;
    build_from_json(&ctx.to_string(), &opts(&out)).unwrap();
    assert_eq!(manifest(&out)["prerenders"][0]["route"], "/given");
}
