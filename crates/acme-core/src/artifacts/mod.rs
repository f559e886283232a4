//! The deployable output: `.acme/output/` with `manifest.json`, `static/`, `prerender/` and
//! `server/`. See [`layout`] for the folders and [`manifest`] for the schema.

pub mod layout;
pub mod manifest;
pub mod pack;
pub mod plan;
pub mod public;
pub mod writer;

use std::fs;
use std::path::{Path, PathBuf};

use crate::classify::DeployKind;
use crate::error::{Error, Result};
use crate::model::{BuildContext, OutputType, Revalidate};
use crate::report;

use layout::{MANIFEST_FILE, SCHEMA_VERSION, SEED_PACK};
use manifest::{AdapterInfo, Features, Manifest, SeedPack, ServeConfig};

/// Options of [`write_output`].
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Destination; replaced atomically.
    pub output_dir: PathBuf,
    /// Version of the adapter package, recorded in the manifest.
    pub adapter_version: String,
    /// Copy every file instead of hardlinking it from the build.
    pub copy_files: bool,
    /// A directory whose entries are moved into the output before it is published (the JS side
    /// puts the runtime there, so `node <output>/server.js` works); removed afterwards. It must
    /// be on the output's filesystem, and its entries must not collide with the output's.
    pub attach: Option<PathBuf>,
}

/// Counts for one deploy kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSummary {
    /// The kind.
    pub kind: DeployKind,
    /// Files of that kind.
    pub count: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What [`write_output`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSummary {
    /// Files in the output directory (the manifest, the report and the seed pack included).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files hardlinked from the build.
    pub linked: u64,
    /// Files copied.
    pub copied: u64,
    /// Per kind, in [`DeployKind::ALL`] order, kinds with no file left out. Seeds count their
    /// prerenders and the bytes of the pack.
    pub kinds: Vec<KindSummary>,
    /// Prerenders with a seed.
    pub seeds: u64,
    /// Distinct seed contents in the pack.
    pub seed_blobs: u64,
    /// Seed bytes before deduplication and compression.
    pub seed_raw_bytes: u64,
    /// Bytes of `manifest.json`.
    pub manifest_bytes: u64,
    /// Outputs by Next type (functions, prerenders, static files).
    pub outputs: u64,
    /// The manifest's content hash.
    pub content_hash: String,
    /// The deployment hash (stable across rebuilds of the same source).
    pub deployment_hash: String,
    /// Features in use, short names (`app router (RSC)`, `server actions`, `ISR`, …).
    pub features: Vec<String>,
    /// Server actions.
    pub actions: u64,
    /// Environment variables the app's server code reads (Next's own left out).
    pub env: Vec<String>,
    /// External origins the server code fetches.
    pub fetch_origins: Vec<String>,
    /// Build files below `.next/server` that no output needs (not written).
    pub dead_files: u64,
    /// Their bytes.
    pub dead_bytes: u64,
}

/// Parses, validates, plans and writes: the whole job of `onBuildComplete`.
pub fn build_from_json(json: &str, opts: &WriteOptions) -> Result<BuildSummary> {
    let t = Timer::start();
    let ctx = BuildContext::from_json(json)?;
    t.lap("parse context");
    crate::routing::validate(&ctx)?;
    t.lap("compile route regexes");
    write_output(&ctx, opts)
}

/// Phase timings on stderr when `ACME_TIMINGS=1`: where a slow build spends its time.
struct Timer {
    on: bool,
    last: std::cell::Cell<std::time::Instant>,
}

impl Timer {
    fn start() -> Self {
        Timer {
            on: std::env::var_os("ACME_TIMINGS").is_some_and(|v| v == "1"),
            last: std::cell::Cell::new(std::time::Instant::now()),
        }
    }

    fn lap(&self, what: &str) {
        if self.on {
            let now = std::time::Instant::now();
            eprintln!(
                "acme: {what}: {:.1} ms",
                (now - self.last.get()).as_secs_f64() * 1e3
            );
            self.last.set(now);
        }
    }
}

/// Writes the output directory for a validated context.
pub fn write_output(ctx: &BuildContext, opts: &WriteOptions) -> Result<BuildSummary> {
    let t = Timer::start();
    let plan = plan::plan(ctx)?;
    t.lap("plan");
    writer::sweep_leftovers(&opts.output_dir);
    let staging = writer::staging_dir(&opts.output_dir)?;
    let result = fill(ctx, opts, &staging, plan, &t).and_then(|summary| {
        if let Some(attach) = &opts.attach {
            writer::attach(attach, &staging)?;
        }
        writer::publish(&staging, &opts.output_dir)?;
        t.lap("publish");
        Ok(summary)
    });
    if result.is_err() {
        // Best effort: the staging directory is ours and worthless once we failed.
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

fn fill(
    ctx: &BuildContext,
    opts: &WriteOptions,
    staging: &Path,
    plan: plan::Plan,
    t: &Timer,
) -> Result<BuildSummary> {
    // The report reads the build's files while the writer places them.
    let prepared = report::prepare(ctx);
    let seed_srcs: Vec<&Path> = plan.entries.seeds.iter().map(|s| s.src.as_path()).collect();
    let (written, scan) = rayon::join(
        || writer::write_all(staging, &plan.placements, opts.copy_files),
        || prepared.scan(ctx, &plan.placements, &seed_srcs),
    );
    let written = written?;
    t.lap("write files + report scan");
    let mut entries = plan.entries;

    let size_of = |dest: &str| -> u64 {
        plan.placements
            .binary_search_by(|p| p.dest.as_str().cmp(dest))
            .map(|i| written[i].size)
            .unwrap_or(0)
    };
    for s in &mut entries.static_files {
        s.size = size_of(&s.file);
    }
    let packed = pack::write_pack(&staging.join(SEED_PACK), &entries.seeds)?;
    t.lap("write seed pack");
    for p in &mut entries.prerenders {
        if let Some(seed) = &mut p.seed {
            seed.blob = packed.blob_of[seed.blob];
        }
    }

    let base_features = features(ctx);
    let mut manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        adapter: AdapterInfo {
            name: "@acme/next-adapter".into(),
            version: opts.adapter_version.clone(),
        },
        build_id: ctx.build_id.clone(),
        next_version: ctx.next_version.clone(),
        project_dir: project_dir_rel(ctx)?,
        config: ServeConfig {
            base_path: ctx.config.base_path.clone(),
            trailing_slash: ctx.config.trailing_slash,
            i18n: ctx.config.i18n.clone(),
            images: ctx.config.images.clone(),
            deployment_id: ctx.config.deployment_id.clone().filter(|d| !d.is_empty()),
            skip_middleware_url_normalize: ctx.config.skip_middleware_url_normalize,
            skip_trailing_slash_redirect: ctx.config.skip_trailing_slash_redirect,
            powered_by_header: ctx.config.powered_by_header,
            compress: ctx.config.compress,
            generate_etags: ctx.config.generate_etags,
            partial_prefetching: ctx.config.partial_prefetching,
            validate_rsc_request_headers: ctx.config.experimental.validate_rsc_request_headers,
        },
        features: base_features.clone(),
        routing: ctx.routing.clone(),
        middleware_matchers: ctx.middleware_matchers(),
        functions: entries.functions,
        static_files: entries.static_files,
        prerenders: entries.prerenders,
        cache_configs: entries.cache_configs,
        header_sets: entries.header_sets,
        seed_pack: SeedPack {
            file: if packed.blobs.is_empty() {
                String::new()
            } else {
                SEED_PACK.to_string()
            },
            blobs: packed.blobs.clone(),
        },
        server_files: plan
            .placements
            .iter()
            .filter(|p| p.dest.starts_with(layout::SERVER_DIR))
            .count(),
        deployment_hash: String::new(),
        content_hash: String::new(),
    };

    let mut report_warnings = Vec::new();
    manifest.deployment_hash = prepared
        .deployment_hash(&scan, &manifest, &plan.placements, &written)
        .unwrap_or_else(|e| {
            report_warnings.push(e.to_string());
            String::new()
        });
    t.lap("deployment hash");

    // The content hash covers the manifest as written (minus the hash) and every file's bytes
    // (seeds through their blob hashes, in the manifest), so equal hashes serve equal responses.
    let body = to_json(&manifest)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(body.as_bytes());
    for (p, w) in plan.placements.iter().zip(&written) {
        hasher.update(p.dest.as_bytes());
        hasher.update(b"\0");
        hasher.update(w.hash.as_bytes());
        hasher.update(b"\n");
    }
    manifest.content_hash = hasher.finalize().to_hex().to_string();
    let path = staging.join(MANIFEST_FILE);
    let manifest_json = to_json(&manifest)?;
    fs::write(&path, &manifest_json).map_err(Error::io("write", &path))?;
    t.lap("write manifest");

    let mut report = prepared.finish(
        ctx,
        scan,
        &base_features,
        manifest.deployment_hash.clone(),
        manifest.content_hash.clone(),
    );
    report.warnings.extend(report_warnings);
    let report_bytes = report::write_report(staging, &report)?;
    t.lap("write report");

    let mut kinds: Vec<KindSummary> = writer::tally(&plan.placements, &written)
        .into_iter()
        .map(|(kind, count, bytes)| KindSummary { kind, count, bytes })
        .collect();
    if !entries.seeds.is_empty() {
        kinds.push(KindSummary {
            kind: DeployKind::PrerenderSeed,
            count: entries.seeds.len() as u64,
            bytes: packed.pack_bytes,
        });
        kinds.sort_by_key(|k| DeployKind::ALL.iter().position(|&d| d == k.kind));
    }
    let linked = written.iter().filter(|w| w.linked).count() as u64;
    let outputs = ctx.outputs.functions().count()
        + ctx.outputs.prerenders.len()
        + ctx.outputs.static_files.len();
    let extra_files = 2 + u64::from(!packed.blobs.is_empty());
    Ok(BuildSummary {
        files: written.len() as u64 + extra_files,
        bytes: written.iter().map(|w| w.size).sum::<u64>()
            + packed.pack_bytes
            + manifest_json.len() as u64
            + report_bytes,
        linked,
        copied: written.len() as u64 - linked,
        kinds,
        seeds: entries.seeds.len() as u64,
        seed_blobs: packed.blobs.len() as u64,
        seed_raw_bytes: packed.raw_bytes,
        manifest_bytes: manifest_json.len() as u64,
        outputs: outputs as u64,
        content_hash: manifest.content_hash,
        deployment_hash: manifest.deployment_hash,
        features: report.features.names(),
        actions: report.actions.len() as u64,
        env: report.bindings.env.keys().cloned().collect(),
        fetch_origins: report.bindings.fetch_origins.keys().cloned().collect(),
        dead_files: report.dead_outputs.dead.files,
        dead_bytes: report.dead_outputs.dead.bytes,
    })
}

// Compact: a large app's manifest is megabytes, and `acme-next inspect` is the readable view.
fn to_json(m: &Manifest) -> Result<String> {
    let mut s = serde_json::to_string(m)
        .map_err(|e| Error::Internal(format!("manifest serialization: {e}")))?;
    s.push('\n');
    Ok(s)
}

fn project_dir_rel(ctx: &BuildContext) -> Result<String> {
    let rel = ctx
        .project_dir
        .strip_prefix(&ctx.repo_root)
        .map_err(|_| Error::InvalidOutput {
            output: "projectDir".into(),
            reason: format!(
                "{} is not inside repoRoot {}",
                ctx.project_dir.display(),
                ctx.repo_root.display()
            ),
        })?;
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/"))
}

fn features(ctx: &BuildContext) -> Features {
    let o = &ctx.outputs;
    Features {
        app_router: !o.app_pages.is_empty() || !o.app_routes.is_empty(),
        pages_router: !o.pages.is_empty() || !o.pages_api.is_empty(),
        middleware: o.middleware.as_ref().map(|m| m.runtime),
        edge_functions: o
            .functions()
            .filter(|(ty, f)| {
                *ty != OutputType::Middleware && f.runtime == crate::model::Runtime::Edge
            })
            .count(),
        isr: o.prerenders.iter().any(|p| {
            matches!(
                p.fallback.as_ref().and_then(|f| f.initial_revalidate),
                Some(Revalidate::After(_))
            )
        }),
        ppr: o.prerenders.iter().any(|p| {
            p.config.rendering_mode.as_deref() == Some("PARTIALLY_STATIC")
                || p.fallback
                    .as_ref()
                    .is_some_and(|f| f.postponed_state.is_some())
        }),
        i18n: ctx.config.i18n.is_some(),
        base_path: !ctx.config.base_path.is_empty(),
        image_optimization: ctx
            .config
            .images
            .as_ref()
            .is_some_and(|i| i.get("unoptimized") != Some(&serde_json::Value::Bool(true))),
    }
}
