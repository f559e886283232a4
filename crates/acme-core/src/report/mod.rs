//! The build report, `report.json`: detected features and versions, the server-action manifest,
//! binding hints (environment variables and fetch origins of the app's server code), dead
//! outputs, and the deployment hash (stable across rebuilds of the same source).
//!
//! The report never fails a build: what it cannot read becomes a warning in it. It costs one
//! parallel read of the files the output takes from the build directory (the only files that
//! can hold per-build values), which runs while the writer places files.

pub mod actions;
pub mod dead;
pub mod error;
pub mod features;
pub mod hash;
pub mod hints;

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::artifacts::manifest::{Features as ManifestFeatures, Manifest};
use crate::artifacts::plan::Placement;
use crate::artifacts::writer::Written;
use crate::model::BuildContext;

pub use actions::{ActionManifest, ActionRuntime, ActionWorker, ServerAction};
pub use dead::{DeadOutputs, Tally};
pub use error::ReportError;
pub use features::{DetectedFeatures, MiddlewareFeature, Version, Versions};
pub use hash::{BuildSecrets, FileDigest, Normalizer};
pub use hints::{BindingHints, FileFacts};

/// File name of the report in the output directory.
pub const REPORT_FILE: &str = "report.json";
/// Version of the report's schema.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// `report.json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Build id (random per build).
    pub build_id: String,
    /// Next and React versions.
    pub versions: Versions,
    /// What the app uses.
    pub features: DetectedFeatures,
    /// Server actions, sorted by runtime, module and export.
    pub actions: Vec<ServerAction>,
    /// Environment variables and fetch origins of the app's server code.
    pub bindings: BindingHints,
    /// Build files no output needs.
    pub dead_outputs: DeadOutputs,
    /// Hash stable across rebuilds of the same source (see [`hash`]).
    pub deployment_hash: String,
    /// Hash of the exact bytes (`manifest.json`'s `contentHash`).
    pub content_hash: String,
    /// Placeholders that stood for this build's random values in the deployment hash (names
    /// only: the values are secrets).
    pub normalized: Vec<String>,
    /// Server chunks scanned for binding hints and markers.
    pub scanned: Tally,
    /// What the report could not read.
    pub warnings: Vec<String>,
}

/// What is read before any file is written: the action manifest and the build's random values.
#[derive(Debug)]
pub struct Prepared {
    actions: ActionManifest,
    secrets: BuildSecrets,
    normalizer: Normalizer,
    warnings: Vec<String>,
}

/// The result of the parallel pass over the build's files.
#[derive(Debug, Default)]
pub struct Scan {
    /// Per placement (plan order): the normalized digest of files from the build directory;
    /// `None` for files from elsewhere (`node_modules`, `public/`), hashed as they are.
    digests: Vec<Option<String>>,
    /// Facts of each scanned server chunk, by path relative to the repository root.
    facts: Vec<(String, FileFacts)>,
    scanned: Tally,
    dead: DeadOutputs,
    warnings: Vec<String>,
}

/// Reads the action manifest and collects the build's random values.
pub fn prepare(ctx: &BuildContext) -> Prepared {
    let mut warnings = Vec::new();
    let actions = actions::read(ctx).unwrap_or_else(|e| {
        warnings.push(e.to_string());
        ActionManifest::default()
    });
    let (secrets, errs) = BuildSecrets::collect(
        ctx,
        actions.encryption_key.as_deref(),
        actions.actions.iter().map(|a| a.id.as_str()),
    );
    warnings.extend(errs.into_iter().map(|e| e.to_string()));
    let normalizer = secrets.normalizer().unwrap_or_else(|e| {
        warnings.push(e.to_string());
        Normalizer::empty()
    });
    Prepared {
        actions,
        secrets,
        normalizer,
        warnings,
    }
}

fn is_server_chunk(rel_to_server: &Path) -> bool {
    matches!(
        rel_to_server.extension().and_then(|e| e.to_str()),
        Some("js" | "mjs" | "cjs")
    ) && !rel_to_server.starts_with("route-cache")
}

impl Prepared {
    /// Reads every file the output takes from the build directory, in parallel: the normalized
    /// digest of each, binding hints and markers of the server chunks, and the dead outputs.
    pub fn scan(&self, ctx: &BuildContext, placements: &[Placement], seeds: &[&Path]) -> Scan {
        let server_dir = ctx.dist_dir.join("server");
        let (per_file, dead) = rayon::join(
            || {
                placements
                    .par_iter()
                    .map(|p| {
                        if !p.src.starts_with(&ctx.dist_dir) {
                            return (None, None, None);
                        }
                        let bytes = match fs::read(&p.src) {
                            Ok(b) => b,
                            Err(e) => {
                                let w = ReportError::Read {
                                    path: p.src.clone(),
                                    source: e,
                                };
                                return (Some("unreadable".to_string()), None, Some(w.to_string()));
                            }
                        };
                        let (digest, _) = self.normalizer.hash_bytes(&bytes);
                        let facts = p
                            .src
                            .strip_prefix(&server_dir)
                            .ok()
                            .filter(|rel| is_server_chunk(rel))
                            .map(|_| {
                                let rel = p
                                    .src
                                    .strip_prefix(&ctx.repo_root)
                                    .unwrap_or(&p.src)
                                    .to_string_lossy()
                                    .into_owned();
                                (rel, bytes.len() as u64, hints::scan(&bytes))
                            });
                        (Some(format!("n:{digest}")), facts, None)
                    })
                    .collect::<Vec<_>>()
            },
            || {
                let placed: HashSet<&Path> = placements.iter().map(|p| p.src.as_path()).collect();
                let seeds: HashSet<&Path> = seeds.iter().copied().collect();
                dead::dead_outputs(&ctx.dist_dir, &placed, &seeds)
            },
        );
        let mut scan = Scan {
            dead,
            ..Scan::default()
        };
        for (digest, facts, warning) in per_file {
            scan.digests.push(digest);
            if let Some((rel, size, f)) = facts {
                scan.scanned.files += 1;
                scan.scanned.bytes += size;
                scan.facts.push((rel, f));
            }
            scan.warnings.extend(warning);
        }
        scan
    }

    /// The deployment hash of the output: the normalized manifest (`manifest` serialized
    /// without hashes) and every placed file, normalized when it comes from the build directory.
    pub fn deployment_hash(
        &self,
        scan: &Scan,
        manifest: &Manifest,
        placements: &[Placement],
        written: &[Written],
    ) -> Result<String, ReportError> {
        let body = hash::normalized_manifest(manifest, &self.normalizer)?;
        let files: Vec<FileDigest> = placements
            .iter()
            .zip(written)
            .enumerate()
            .map(|(i, (p, w))| FileDigest {
                dest: self.normalizer.normalize(&p.dest),
                hash: match scan.digests.get(i) {
                    Some(Some(d)) => d.clone(),
                    _ => format!("x:{}", w.hash),
                },
            })
            .collect();
        Ok(hash::deployment_hash(&body, &files))
    }

    /// Assembles the report.
    pub fn finish(
        self,
        ctx: &BuildContext,
        scan: Scan,
        base: &ManifestFeatures,
        deployment_hash: String,
        content_hash: String,
    ) -> Report {
        let mut facts = FileFacts::default();
        for (_, f) in &scan.facts {
            facts.merge(f.clone());
        }
        let features = DetectedFeatures::detect(
            ctx,
            base,
            &facts,
            scan.facts.len(),
            self.actions.actions.len(),
        );
        let bindings = BindingHints::from_files(scan.facts.iter().map(|(r, f)| (r.as_str(), f)));
        let mut warnings = self.warnings;
        warnings.extend(scan.warnings);
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            build_id: ctx.build_id.clone(),
            versions: features::versions(ctx),
            features,
            actions: self.actions.actions,
            bindings,
            dead_outputs: scan.dead,
            deployment_hash,
            content_hash,
            normalized: self.secrets.placeholders(),
            scanned: scan.scanned,
            warnings,
        }
    }
}

/// Writes `report.json` (indented: it is meant to be read) into `dir`.
pub fn write_report(dir: &Path, report: &Report) -> crate::Result<u64> {
    let mut text = serde_json::to_string_pretty(report)
        .map_err(|e| crate::Error::Internal(format!("report serialization: {e}")))?;
    text.push('\n');
    let path = dir.join(REPORT_FILE);
    fs::write(&path, &text).map_err(crate::Error::io("write", &path))?;
    Ok(text.len() as u64)
}
