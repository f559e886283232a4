//! The deployment hash: a hash of the output that is stable across rebuilds of the same source.
//!
//! Next puts random values in every build: the build id, the preview-mode id and keys, the
//! server-actions encryption key, the action ids derived from it, and prerender bypass tokens
//! (the preview-mode id). They appear in `manifest.json` (edge env, matchers, cache rules, static
//! paths below `_next/static/<buildId>/`) and inside files (manifests, chunks, HTML). The
//! deployment hash replaces every occurrence of these values by named placeholders before
//! hashing, in file paths, file contents and the manifest alike.
//!
//! Prerender seeds are left out: they are what the pages rendered at build time (often a
//! timestamp or fetched data), not source, and on-demand revalidation replaces them anyway. The
//! code that renders them is covered, so a source change still changes the hash. `contentHash`
//! keeps covering the exact bytes, seeds included.

use std::fs;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, MatchKind};

use crate::artifacts::manifest::{Manifest, SeedPack};
use crate::model::{BuildContext, RouteHas};
use crate::routing::regex_escape;

use super::error::ReportError;

/// Per-build values shorter than this are not replaced: they would match unrelated bytes.
pub const MIN_SECRET_LEN: usize = 8;

/// The random values of one build and the placeholder that stands for each.
#[derive(Debug, Clone, Default)]
pub struct BuildSecrets {
    /// `(value, placeholder)`, unique by value.
    pairs: Vec<(String, String)>,
}

impl BuildSecrets {
    /// Adds a value under a placeholder name; empty, short and already known values are skipped.
    ///
    /// The value is also matched as Next writes it inside route regexes (`\-` for `-`, as
    /// `escapeStringRegexp` does) and that form JSON-encoded (`\\-`): build ids contain `-`.
    pub fn add(&mut self, value: &str, name: &str) {
        if value.len() < MIN_SECRET_LEN || self.pairs.iter().any(|(v, _)| v == value) {
            return;
        }
        let placeholder = format!("__ACME_{name}__");
        let escaped = regex_escape(value);
        if escaped != value {
            let json = escaped.replace('\\', "\\\\");
            self.pairs.push((json, placeholder.clone()));
            self.pairs.push((escaped, placeholder.clone()));
        }
        self.pairs.push((value.to_string(), placeholder));
    }

    /// Collects the build's random values from the context and the files it points to:
    /// `buildId`, `<distDir>/server/preview-props.json`, the edge env Next passes every edge
    /// output, prerender bypass tokens, middleware matcher tokens, the action encryption key and
    /// the action ids (numbered in the stable order of `action_ids`).
    pub fn collect<'a>(
        ctx: &BuildContext,
        encryption_key: Option<&str>,
        action_ids: impl IntoIterator<Item = &'a str>,
    ) -> (Self, Vec<ReportError>) {
        let mut s = BuildSecrets::default();
        let mut warnings = Vec::new();
        s.add(&ctx.build_id, "BUILD_ID");
        match preview_props(&ctx.dist_dir) {
            Ok(Some(p)) => {
                for (key, name) in [
                    ("previewModeId", "PREVIEW_MODE_ID"),
                    ("previewModeSigningKey", "PREVIEW_MODE_SIGNING_KEY"),
                    ("previewModeEncryptionKey", "PREVIEW_MODE_ENCRYPTION_KEY"),
                ] {
                    if let Some(v) = p.get(key).and_then(|v| v.as_str()) {
                        s.add(v, name);
                    }
                }
            }
            Ok(None) => {}
            Err(e) => warnings.push(e),
        }
        for (_, f) in ctx.outputs.functions() {
            for (key, value) in f.config.env.iter().flatten() {
                let name = match key.as_str() {
                    "__NEXT_BUILD_ID" => "BUILD_ID",
                    "__NEXT_PREVIEW_MODE_ID" => "PREVIEW_MODE_ID",
                    "__NEXT_PREVIEW_MODE_SIGNING_KEY" => "PREVIEW_MODE_SIGNING_KEY",
                    "__NEXT_PREVIEW_MODE_ENCRYPTION_KEY" => "PREVIEW_MODE_ENCRYPTION_KEY",
                    "NEXT_SERVER_ACTIONS_ENCRYPTION_KEY" => "ACTIONS_ENCRYPTION_KEY",
                    _ => continue,
                };
                s.add(value, name);
            }
        }
        if let Some(key) = encryption_key {
            s.add(key, "ACTIONS_ENCRYPTION_KEY");
        }
        let matchers = ctx.middleware_matchers();
        let mut tokens: Vec<&str> = ctx
            .outputs
            .prerenders
            .iter()
            .filter_map(|p| p.config.bypass_token.as_deref())
            .collect();
        for m in &matchers {
            for h in m.missing.iter().flatten().chain(m.has.iter().flatten()) {
                if let RouteHas::Header {
                    key,
                    value: Some(value),
                } = h
                {
                    if key == "x-prerender-revalidate" {
                        tokens.push(value);
                    }
                }
            }
        }
        tokens.sort_unstable();
        tokens.dedup();
        for (i, t) in tokens.into_iter().enumerate() {
            s.add(t, &format!("BYPASS_TOKEN_{i}"));
        }
        for (i, id) in action_ids.into_iter().enumerate() {
            s.add(id, &format!("ACTION_{i}"));
        }
        (s, warnings)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// No value at all.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Placeholder names (never the values), for the report.
    pub fn placeholders(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (_, p) in &self.pairs {
            if !names.contains(p) {
                names.push(p.clone());
            }
        }
        names
    }

    /// A matcher that finds every value at once.
    pub fn normalizer(&self) -> Result<Normalizer, ReportError> {
        if self.pairs.is_empty() {
            return Ok(Normalizer::empty());
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(self.pairs.iter().map(|(v, _)| v.as_bytes()))
            .map_err(|e| ReportError::Matcher(e.to_string()))?;
        Ok(Normalizer {
            ac: Some(ac),
            placeholders: self.pairs.iter().map(|(_, p)| p.clone()).collect(),
        })
    }
}

fn preview_props(dist_dir: &Path) -> Result<Option<serde_json::Value>, ReportError> {
    let path = dist_dir.join("server").join("preview-props.json");
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ReportError::Parse {
                path,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ReportError::Read { path, source }),
    }
}

/// Replaces a build's random values by placeholders, in strings or while hashing bytes.
#[derive(Debug, Clone)]
pub struct Normalizer {
    ac: Option<AhoCorasick>,
    placeholders: Vec<String>,
}

impl Normalizer {
    /// Replaces nothing.
    pub fn empty() -> Self {
        Normalizer {
            ac: None,
            placeholders: Vec::new(),
        }
    }

    /// Whether `s` holds a value.
    pub fn is_match(&self, s: &str) -> bool {
        self.ac.as_ref().is_some_and(|ac| ac.is_match(s))
    }

    /// `s` with every value replaced.
    pub fn normalize(&self, s: &str) -> String {
        match &self.ac {
            Some(ac) => ac.replace_all(s, &self.placeholders),
            None => s.to_string(),
        }
    }

    /// Feeds `bytes` with every value replaced into `hasher`, without copying them.
    pub fn hash_into(&self, hasher: &mut blake3::Hasher, bytes: &[u8]) {
        let Some(ac) = &self.ac else {
            hasher.update(bytes);
            return;
        };
        let mut last = 0;
        for m in ac.find_iter(bytes) {
            hasher.update(&bytes[last..m.start()]);
            hasher.update(self.placeholders[m.pattern().as_usize()].as_bytes());
            last = m.end();
        }
        hasher.update(&bytes[last..]);
    }

    /// blake3 of the normalized bytes, hex, and whether any value occurred.
    pub fn hash_bytes(&self, bytes: &[u8]) -> (String, bool) {
        let mut hasher = blake3::Hasher::new();
        self.hash_into(&mut hasher, bytes);
        let touched = self.ac.as_ref().is_some_and(|ac| ac.is_match(bytes));
        (hasher.finalize().to_hex().to_string(), touched)
    }
}

/// One file's part of the deployment hash.
#[derive(Debug, Clone)]
pub struct FileDigest {
    /// Normalized path inside the output directory.
    pub dest: String,
    /// Hash of its normalized content (`n:` prefix) or of its exact content (`x:` prefix, for
    /// files that come from outside the build directory and cannot hold per-build values).
    pub hash: String,
}

/// Combines the normalized manifest and every file digest (sorted by `dest`) into the
/// deployment hash.
pub fn deployment_hash(normalized_manifest: &str, files: &[FileDigest]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"acme-deployment-hash-v1\n");
    hasher.update(normalized_manifest.as_bytes());
    let mut sorted: Vec<&FileDigest> = files.iter().collect();
    sorted.sort_by(|a, b| a.dest.cmp(&b.dest));
    for f in sorted {
        hasher.update(f.dest.as_bytes());
        hasher.update(b"\0");
        hasher.update(f.hash.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex().to_string()
}

/// The manifest as the deployment hash sees it: without its own hashes and the seed pack (seed
/// contents are build-time data, see the module doc), per-build values replaced, and in an
/// order that does not depend on them: lists sorted by a key that contains the build id (static
/// files below `_next/static/<buildId>/`, pages-router data routes) are re-sorted by the
/// normalized key, and the shared cache rules and header sets (indexed in prerender order) are
/// renumbered in the new order.
pub fn normalized_manifest(
    manifest: &Manifest,
    normalizer: &Normalizer,
) -> Result<String, ReportError> {
    let mut m = manifest.clone();
    m.content_hash.clear();
    m.deployment_hash.clear();
    m.seed_pack = SeedPack::default();
    for p in &mut m.prerenders {
        if let Some(seed) = &mut p.seed {
            seed.blob = 0;
        }
    }
    sort_by_normalized(&mut m.static_files, normalizer, |s| &s.pathname);
    sort_by_normalized(&mut m.functions, normalizer, |f| &f.id);
    sort_by_normalized(&mut m.prerenders, normalizer, |p| &p.id);
    let (configs, header_sets) = (
        std::mem::take(&mut m.cache_configs),
        std::mem::take(&mut m.header_sets),
    );
    let mut config_map: Vec<Option<usize>> = vec![None; configs.len()];
    let mut header_map: Vec<Option<usize>> = vec![None; header_sets.len()];
    for p in &mut m.prerenders {
        p.cache_config = renumber(
            &mut config_map,
            &configs,
            &mut m.cache_configs,
            p.cache_config,
        );
        if let Some(seed) = &mut p.seed {
            seed.headers = renumber(
                &mut header_map,
                &header_sets,
                &mut m.header_sets,
                seed.headers,
            );
        }
    }
    let text = serde_json::to_string(&m).map_err(|e| ReportError::Parse {
        path: PathBuf::from("manifest.json"),
        message: e.to_string(),
    })?;
    Ok(normalizer.normalize(&text))
}

fn sort_by_normalized<T>(list: &mut Vec<T>, n: &Normalizer, key: impl Fn(&T) -> &String) {
    // Already sorted by the raw key: only a key holding a per-build value can move.
    if !list.iter().any(|v| n.is_match(key(v))) {
        return;
    }
    let mut keyed: Vec<(String, T)> = list.drain(..).map(|v| (n.normalize(key(&v)), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    list.extend(keyed.into_iter().map(|(_, v)| v));
}

/// The index of `old[index]` in `new`, appending it on first use.
fn renumber<T: Clone>(
    map: &mut [Option<usize>],
    old: &[T],
    new: &mut Vec<T>,
    index: usize,
) -> usize {
    match (map.get(index).copied().flatten(), old.get(index)) {
        (Some(i), _) => i,
        (None, Some(v)) => {
            new.push(v.clone());
            map[index] = Some(new.len() - 1);
            new.len() - 1
        }
        (None, None) => index,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn secrets(build: &str, key: &str) -> Normalizer {
        let mut s = BuildSecrets::default();
        s.add(build, "BUILD_ID");
        s.add(key, "ACTIONS_ENCRYPTION_KEY");
        s.add("short", "IGNORED");
        s.normalizer().unwrap()
    }

    #[test]
    fn same_content_with_other_random_values_hashes_the_same() {
        let a = secrets("AAAAbuildAAAAAAAAAAAA", "k1k1k1k1k1k1k1k1=");
        let b = secrets("BBBBbuildBBBBBBBBBBBB", "k2k2k2k2k2k2k2k2=");
        let (ha, ta) = a.hash_bytes(b"id=AAAAbuildAAAAAAAAAAAA key=k1k1k1k1k1k1k1k1= short");
        let (hb, tb) = b.hash_bytes(b"id=BBBBbuildBBBBBBBBBBBB key=k2k2k2k2k2k2k2k2= short");
        assert_eq!(ha, hb);
        assert!(ta && tb);
        let (hc, _) = b.hash_bytes(b"id=BBBBbuildBBBBBBBBBBBB key=k2k2k2k2k2k2k2k2= other");
        assert_ne!(ha, hc);
    }

    #[test]
    fn normalize_and_hash_into_agree() {
        let n = secrets("AAAAbuildAAAAAAAAAAAA", "k1k1k1k1k1k1k1k1=");
        let text = "/_next/static/AAAAbuildAAAAAAAAAAAA/_buildManifest.js";
        assert_eq!(
            n.normalize(text),
            "/_next/static/__ACME_BUILD_ID__/_buildManifest.js"
        );
        let mut h = blake3::Hasher::new();
        n.hash_into(&mut h, text.as_bytes());
        assert_eq!(
            h.finalize(),
            blake3::hash(n.normalize(text).as_bytes()),
            "streaming and copying replacement give the same bytes"
        );
    }

    #[test]
    fn regex_escaped_build_ids_are_replaced_too() {
        let mut s = BuildSecrets::default();
        s.add("6mozyqYifikXmJk-zdrC1", "BUILD_ID");
        let n = s.normalizer().unwrap();
        assert_eq!(
            n.normalize(r#"{"a":"media|6mozyqYifikXmJk\\-zdrC1)/.+","b":"6mozyqYifikXmJk-zdrC1","c":/6mozyqYifikXmJk\-zdrC1/}"#),
            r#"{"a":"media|__ACME_BUILD_ID__)/.+","b":"__ACME_BUILD_ID__","c":/__ACME_BUILD_ID__/}"#
        );
        assert_eq!(s.placeholders(), vec!["__ACME_BUILD_ID__".to_string()]);
    }

    #[test]
    fn short_and_duplicate_values_are_not_replaced() {
        let mut s = BuildSecrets::default();
        s.add("b1", "BUILD_ID");
        s.add("0123456789abcdef", "PREVIEW_MODE_ID");
        s.add("0123456789abcdef", "BYPASS_TOKEN_0");
        assert_eq!(
            s.placeholders(),
            vec!["__ACME_PREVIEW_MODE_ID__".to_string()]
        );
    }

    #[test]
    fn file_order_does_not_matter() {
        let f = |d: &str, h: &str| FileDigest {
            dest: d.into(),
            hash: h.into(),
        };
        let a = deployment_hash("{}", &[f("a", "1"), f("b", "2")]);
        let b = deployment_hash("{}", &[f("b", "2"), f("a", "1")]);
        assert_eq!(a, b);
        assert_ne!(a, deployment_hash("{}", &[f("a", "1"), f("b", "3")]));
    }
}
