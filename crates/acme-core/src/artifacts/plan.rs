//! Planning: every file the output will hold, where it comes from, and the manifest that lists it.
//!
//! Planning touches the filesystem only to walk `public/` and to stat sources; writing happens in
//! [`super::writer`], so a context that cannot be deployed fails before anything is written.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::classify::{classify_function, classify_static, has_seed, DeployKind};
use crate::error::{Error, Result};
use crate::model::{
    check_relative_key, BuildContext, FunctionOutput, OneOrMany, OutputType, Runtime,
};

use super::layout::{join, pathname_to_file, SERVER_DIR, STATIC_DIR};
use super::manifest::{
    CacheConfig, EdgeEntry, FunctionEntry, PrerenderEntry, SeedEntry, StaticEntry,
};
use super::pack::SeedSource;
use super::public::walk_public;

/// One file of the output.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Path inside the output directory, `/`-separated.
    pub dest: String,
    /// Absolute source path.
    pub src: PathBuf,
    /// What it is, for the summary.
    pub kind: DeployKind,
    /// The output that asked for it (for error messages).
    pub owner: String,
    /// A content hash Next already computed, when there is one.
    pub known_hash: Option<String>,
}

/// The manifest sections that name files, filled in during planning.
#[derive(Debug, Default)]
pub struct PlannedEntries {
    /// Functions.
    pub functions: Vec<FunctionEntry>,
    /// Static and public files (sizes filled in after writing).
    pub static_files: Vec<StaticEntry>,
    /// Prerenders, sorted by id; `seed.blob` indexes `seeds` until the pack is written.
    pub prerenders: Vec<PrerenderEntry>,
    /// Distinct cache rules.
    pub cache_configs: Vec<CacheConfig>,
    /// Distinct seed header sets.
    pub header_sets: Vec<BTreeMap<String, OneOrMany>>,
    /// Seeds to pack, in prerender order.
    pub seeds: Vec<SeedSource>,
}

/// Everything to write.
#[derive(Debug, Default)]
pub struct Plan {
    /// Unique by `dest`, sorted by `dest`.
    pub placements: Vec<Placement>,
    /// Manifest sections.
    pub entries: PlannedEntries,
}

struct Planner<'a> {
    ctx: &'a BuildContext,
    by_dest: HashMap<String, Placement>,
    entries: PlannedEntries,
}
impl<'a> Planner<'a> {
    fn place(&mut self, p: Placement) -> Result<()> {
        if let Some(existing) = self.by_dest.get(&p.dest) {
            if existing.src == p.src {
                return Ok(());
            }
            return Err(Error::Conflict {
                dest: p.dest,
                first: format!("{} ({})", existing.owner, existing.src.display()),
                second: format!("{} ({})", p.owner, p.src.display()),
            });
        }
        self.by_dest.insert(p.dest.clone(), p);
        Ok(())
    }

    /// Where a server file goes: by its repo-relative key when the key is clean, else by its
    /// absolute path relative to the repo root (Next 16.4 gives edge assets keys relative to the
    /// working directory, starting with `../`).
    fn server_dest(&self, owner: &str, key: Option<&str>, abs: &Path) -> Result<String> {
        if let Some(key) = key {
            if check_relative_key(owner, key).is_ok() {
                return Ok(join(SERVER_DIR, key));
            }
        }
        let rel = abs
            .strip_prefix(&self.ctx.repo_root)
            .map_err(|_| Error::InvalidOutput {
                output: owner.to_string(),
                reason: format!(
                "file {} is outside the repository root {} and its key {:?} is not a relative path",
                abs.display(),
                self.ctx.repo_root.display(),
                key.unwrap_or("")
            ),
            })?;
        let rel = rel_to_slash(owner, rel)?;
        check_relative_key(owner, &rel)?;
        Ok(join(SERVER_DIR, &rel))
    }

    fn function(&mut self, ty: OutputType, f: &FunctionOutput) -> Result<()> {
        let kind = classify_function(ty, f);
        let entry = self.server_dest(&f.id, None, &f.file_path)?;
        self.place(Placement {
            dest: entry.clone(),
            src: f.file_path.clone(),
            kind,
            owner: f.id.clone(),
            known_hash: None,
        })?;
        let mut scripts = Vec::new();
        let mut blobs = BTreeMap::new();
        let dist_dir = self.ctx.dist_dir.clone();
        for (key, abs) in &f.assets {
            let dest = self.server_dest(&f.id, Some(key), abs)?;
            if dest.ends_with(".js") {
                scripts.push(dest.clone());
            } else if let Ok(below_dist) = abs.strip_prefix(&dist_dir) {
                // Edge code reads its non-code assets with `fetch('blob:<path below distDir>')`
                // (Turbopack), or webpack's `blob:<name>` of `server/edge-chunks/asset_<name>`
                // (next-middleware-asset-loader: `next/og`'s font of a webpack build).
                let name = rel_to_slash(&f.id, below_dist)?;
                if let Some(webpack_name) = name.strip_prefix("server/edge-chunks/asset_") {
                    blobs.insert(webpack_name.to_string(), dest.clone());
                }
                blobs.insert(name, dest.clone());
            }
            self.place(Placement {
                dest,
                src: abs.clone(),
                kind: DeployKind::ServerFile,
                owner: f.id.clone(),
                known_hash: f.assets_hashes.get(key).cloned(),
            })?;
        }
        let mut wasm = BTreeMap::new();
        for (name, abs) in &f.wasm_assets {
            let dest = self.server_dest(&f.id, None, abs)?;
            wasm.insert(name.clone(), dest.clone());
            self.place(Placement {
                dest,
                src: abs.clone(),
                kind: DeployKind::ServerFile,
                owner: f.id.clone(),
                known_hash: None,
            })?;
        }
        let edge = match (&f.runtime, &f.edge_runtime) {
            (Runtime::Edge, Some(er)) => {
                let module_path = self.server_dest(&f.id, None, &er.module_path)?;
                if !scripts.contains(&entry) {
                    scripts.push(entry.clone());
                }
                scripts.sort();
                scripts.dedup();
                order_edge_scripts(&mut scripts, &entry);
                Some(EdgeEntry {
                    module_path,
                    entry_key: er.entry_key.clone(),
                    handler_export: er.handler_export.clone(),
                    scripts,
                    wasm,
                    assets: blobs,
                })
            }
            _ => None,
        };
        self.entries.functions.push(FunctionEntry {
            id: f.id.clone(),
            output_type: ty,
            kind,
            pathname: f.pathname.clone(),
            source_page: f.source_page.clone(),
            runtime: f.runtime,
            entry,
            config: f.config.clone(),
            edge,
        });
        Ok(())
    }
}

/// Builds the plan for a validated context.
pub fn plan(ctx: &BuildContext) -> Result<Plan> {
    let mut planner = Planner {
        ctx,
        by_dest: HashMap::new(),
        entries: PlannedEntries::default(),
    };
    for (ty, f) in ctx.outputs.functions() {
        planner.function(ty, f)?;
    }
    planner.static_files()?;
    planner.public_files()?;
    planner.prerenders()?;
    let Planner {
        by_dest,
        mut entries,
        ..
    } = planner;
    let mut placements: Vec<Placement> = by_dest.into_values().collect();
    placements.sort_by(|a, b| a.dest.cmp(&b.dest));
    check_file_dir_clashes(&placements)?;
    entries.functions.sort_by(|a, b| a.id.cmp(&b.id));
    entries
        .static_files
        .sort_by(|a, b| (&a.pathname, &a.file).cmp(&(&b.pathname, &b.file)));
    // Next 16.2 lists some static pages (`/404`) twice, with the same file: one entry serves both.
    entries
        .static_files
        .dedup_by(|a, b| a.pathname == b.pathname && a.file == b.file);
    check_url_clashes(&entries.static_files)?;
    Ok(Plan {
        placements,
        entries,
    })
}

/// Two files served at one URL: which one `next start` would pick is not ours to guess.
fn check_url_clashes(sorted: &[StaticEntry]) -> Result<()> {
    for pair in sorted.windows(2) {
        if pair[0].pathname == pair[1].pathname {
            return Err(Error::Conflict {
                dest: pair[0].pathname.clone(),
                first: pair[0].file.clone(),
                second: pair[1].file.clone(),
            });
        }
    }
    Ok(())
}

/// A file at `a/b` and another at `a/b/c` cannot both exist.
fn check_file_dir_clashes(sorted: &[Placement]) -> Result<()> {
    let all: HashMap<&str, &Placement> = sorted.iter().map(|p| (p.dest.as_str(), p)).collect();
    for p in sorted {
        let mut dir = p.dest.as_str();
        while let Some((parent, _)) = dir.rsplit_once('/') {
            if let Some(file) = all.get(parent) {
                return Err(Error::Conflict {
                    dest: parent.to_string(),
                    first: format!("{} (a file)", file.owner),
                    second: format!("{} (needs it to be a folder for {})", p.owner, p.dest),
                });
            }
            dir = parent;
        }
    }
    Ok(())
}

fn rel_to_slash(owner: &str, rel: &Path) -> Result<String> {
    let mut out = String::new();
    for part in rel.components() {
        let part = part
            .as_os_str()
            .to_str()
            .ok_or_else(|| Error::InvalidOutput {
                output: owner.to_string(),
                reason: format!("path {} is not valid UTF-8", rel.display()),
            })?;
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(part);
    }
    Ok(out)
}

fn content_type_for(pathname: &str, src: &Path) -> String {
    let from_url = mime_guess::from_path(pathname).first_raw();
    let guessed = from_url.or_else(|| mime_guess::from_path(src).first_raw());
    match guessed {
        Some(m)
            if m.starts_with("text/")
                || m == "application/javascript"
                || m == "application/json" =>
        {
            format!("{m}; charset=utf-8")
        }
        Some(m) => m.to_string(),
        None if pathname.ends_with(".rsc") => "text/x-component".to_string(),
        None => "application/octet-stream".to_string(),
    }
}

/// The `.meta` Next writes beside a prerendered route response (`<name>.body`).
#[derive(serde::Deserialize)]
struct RouteResponseMeta {
    #[serde(default)]
    headers: BTreeMap<String, OneOrMany>,
}

/// The headers of a static file that is a prerendered route response: Next lists static
/// metadata routes (`robots.txt`, `sitemap.xml`, `icon.png`, …) and fully static route handlers
/// as static files pointing at their `.body` in the route cache, and keeps their content type
/// and cache-control in the `.meta` beside it. Empty for any other file. Cache tags are left
/// out: nothing revalidates a static file.
fn route_response_headers(output: &str, body: &Path) -> Result<BTreeMap<String, OneOrMany>> {
    if body.extension().and_then(|e| e.to_str()) != Some("body") {
        return Ok(BTreeMap::new());
    }
    let meta_path = body.with_extension("meta");
    let text = match std::fs::read_to_string(&meta_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(Error::MissingFile {
                output: output.to_string(),
                path: meta_path,
                reason: format!("is not readable: {e}"),
            })
        }
    };
    let meta: RouteResponseMeta =
        serde_json::from_str(&text).map_err(|e| Error::InvalidOutput {
            output: output.to_string(),
            reason: format!(
                "{} is not a route response meta file: {e}",
                meta_path.display()
            ),
        })?;
    let mut headers = meta.headers;
    headers.retain(|k, _| k != "x-next-cache-tags");
    Ok(headers)
}

impl Planner<'_> {
    fn static_files(&mut self) -> Result<()> {
        for s in &self.ctx.outputs.static_files {
            let kind = classify_static(s);
            let dest = join(STATIC_DIR, &pathname_to_file(&s.pathname, &s.file_path));
            self.place(Placement {
                dest: dest.clone(),
                src: s.file_path.clone(),
                kind,
                owner: s.id.clone(),
                known_hash: s.immutable_hash.clone(),
            })?;
            let pathname = s.pathname.clone();
            let mut headers = route_response_headers(&s.id, &s.file_path)?;
            let content_type = match headers.remove("content-type") {
                Some(OneOrMany::One(v)) => v,
                _ => content_type_for(&dest, &s.file_path),
            };
            self.entries.static_files.push(StaticEntry {
                content_type,
                pathname,
                file: dest,
                immutable: kind == DeployKind::StaticAsset,
                kind,
                size: 0,
                headers,
            });
        }
        Ok(())
    }

    fn public_files(&mut self) -> Result<()> {
        // Next lists its own outputs below the basePath; public files are served there too.
        let base_path = self.ctx.config.base_path.trim_end_matches('/');
        for f in walk_public(&self.ctx.project_dir.join("public"))? {
            let pathname = format!("{base_path}{}", f.pathname);
            let dest = join(STATIC_DIR, pathname.trim_start_matches('/'));
            self.place(Placement {
                dest: dest.clone(),
                src: f.path.clone(),
                kind: DeployKind::PublicFile,
                owner: format!("public{}", f.pathname),
                known_hash: None,
            })?;
            self.entries.static_files.push(StaticEntry {
                content_type: content_type_for(&pathname, &f.path),
                pathname,
                file: dest,
                immutable: false,
                kind: DeployKind::PublicFile,
                size: 0,
                headers: BTreeMap::new(),
            });
        }
        Ok(())
    }

    fn prerenders(&mut self) -> Result<()> {
        let mut sorted: Vec<_> = self.ctx.outputs.prerenders.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        let mut configs: HashMap<CacheConfig, usize> = HashMap::new();
        let mut header_sets: HashMap<String, usize> = HashMap::new();
        // Next 16.2 gives prerenders no `route`; the runtime groups a route's prerenders (fallback
        // mode of unbuilt paths, 404s of fully prerendered routes) by it. From 16.3 it equals the
        // parent function's pathname below basePath, so that is what a missing one becomes.
        let base_path = self.ctx.config.base_path.trim_end_matches('/');
        let parent_pathnames: HashMap<&str, &str> = self
            .ctx
            .outputs
            .functions()
            .map(|(_, f)| (f.id.as_str(), f.pathname.as_str()))
            .collect();
        for p in sorted {
            let route = p.route.clone().or_else(|| {
                let parent = parent_pathnames.get(p.parent_output_id.as_str())?;
                let below = parent.strip_prefix(base_path).unwrap_or(parent);
                Some(if below.is_empty() {
                    "/".to_string()
                } else {
                    below.to_string()
                })
            });
            let fallback = p.fallback.as_ref();
            let seed = match fallback.and_then(|f| f.file_path.as_ref()) {
                Some(src) if has_seed(p) => {
                    let headers = fallback
                        .and_then(|f| f.initial_headers.clone())
                        .unwrap_or_default();
                    let key = serde_json::to_string(&headers)
                        .map_err(|e| Error::Internal(e.to_string()))?;
                    let next = self.entries.header_sets.len();
                    let index = *header_sets.entry(key).or_insert(next);
                    if index == next {
                        self.entries.header_sets.push(headers);
                    }
                    self.entries.seeds.push(SeedSource {
                        src: src.clone(),
                        owner: p.id.clone(),
                    });
                    Some(SeedEntry {
                        blob: self.entries.seeds.len() - 1,
                        status: fallback.and_then(|f| f.initial_status),
                        headers: index,
                        postponed_state: fallback.and_then(|f| f.postponed_state.clone()),
                    })
                }
                _ => None,
            };
            let config = CacheConfig {
                allow_query: p.config.allow_query.clone(),
                allow_header: p.config.allow_header.clone(),
                bypass_for: p.config.bypass_for.clone(),
                bypass_token: p.config.bypass_token.clone(),
                rendering_mode: p.config.rendering_mode.clone(),
                partial_fallback: p.config.partial_fallback,
            };
            let next = self.entries.cache_configs.len();
            let cache_config = *configs.entry(config.clone()).or_insert(next);
            if cache_config == next {
                self.entries.cache_configs.push(config);
            }
            self.entries.prerenders.push(PrerenderEntry {
                id: p.id.clone(),
                pathname: p.pathname.clone(),
                parent_output_id: p.parent_output_id.clone(),
                group_id: p.group_id,
                route,
                route_type: p.route_type.clone(),
                response: p.response.clone(),
                compute: p.compute.clone(),
                fallback_mode: p.parent_fallback_mode.clone(),
                seed,
                revalidate: fallback.and_then(|f| f.initial_revalidate),
                expire: fallback.and_then(|f| f.initial_expiration),
                cache_config,
                ppr_chain_headers: p.ppr_chain.as_ref().map(|c| c.headers.clone()),
            });
        }
        Ok(())
    }
}

/// The order an edge sandbox evaluates a function's scripts in, as `next start` does (the
/// middleware manifest's `files`): webpack's runtime first, the entry module last, the rest
/// (manifests, chunks) sorted between. Webpack's entry registers itself in `_ENTRIES` once, as
/// its chunks stand when it runs: evaluated before its chunk (`app/x/page.js` sorts before
/// `edge-chunks/528.js`), an app page or route on the edge registered nothing and answered 500.
/// Turbopack's chunks wait for each other, in any order.
fn order_edge_scripts(scripts: &mut [String], entry: &str) {
    let rank = |s: &String| {
        if s.ends_with("/edge-runtime-webpack.js") {
            0
        } else if s == entry {
            2
        } else {
            1
        }
    };
    scripts.sort_by_key(rank);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn route_response_headers_come_from_the_meta_beside_the_body() {
        let dir = tempfile::tempdir().unwrap();
        let body = dir.path().join("robots.txt.body");
        std::fs::write(&body, "User-Agent: *").unwrap();
        std::fs::write(
            dir.path().join("robots.txt.meta"),
            r#"{"status":200,"headers":{"cache-control":"public, max-age=0, must-revalidate","content-type":"text/plain","x-next-cache-tags":"_N_T_/layout"}}"#,
        )
        .unwrap();
        let headers = route_response_headers("/robots.txt", &body).unwrap();
        assert_eq!(
            headers.get("content-type"),
            Some(&OneOrMany::One("text/plain".into()))
        );
        assert!(headers.contains_key("cache-control"));
        assert!(!headers.contains_key("x-next-cache-tags"));

        // A plain file, or a body without meta, has none.
        assert!(route_response_headers("/x", &dir.path().join("x.txt"))
            .unwrap()
            .is_empty());
        let lone = dir.path().join("lone.body");
        assert!(route_response_headers("/lone", &lone).unwrap().is_empty());

        // A meta that is not JSON names the output and the file.
        std::fs::write(dir.path().join("bad.meta"), "{oops").unwrap();
        let err = route_response_headers("/bad", &dir.path().join("bad.body")).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("/bad") && message.contains("bad.meta"),
            "{message}"
        );
    }

    /// The order of `next start`'s middleware manifest for a webpack app page on the edge.
    #[test]
    fn edge_scripts_run_webpack_runtime_first_and_entry_last() {
        let entry = "server/.next/server/app/edge-page/page.js".to_string();
        let mut scripts: Vec<String> = [
            "server/.next/required-server-files.js",
            "server/.next/server/app/edge-page/page.js",
            "server/.next/server/app/edge-page/page_client-reference-manifest.js",
            "server/.next/server/edge-chunks/528.js",
            "server/.next/server/edge-runtime-webpack.js",
            "server/.next/server/middleware-build-manifest.js",
        ]
        .map(String::from)
        .to_vec();
        order_edge_scripts(&mut scripts, &entry);
        assert_eq!(scripts[0], "server/.next/server/edge-runtime-webpack.js");
        assert_eq!(scripts[scripts.len() - 1], entry);
        assert_eq!(
            scripts[3], "server/.next/server/edge-chunks/528.js",
            "{scripts:?}"
        );
    }
}
