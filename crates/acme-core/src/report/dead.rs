//! Dead outputs: files the build wrote below `<distDir>/server/` that no output needs.
//!
//! The adapter already places only what outputs trace (functions' files and assets, static
//! files, seeds), so these files are never written: the report measures what that saves
//! compared with copying all of `.next/server`, by reason. Nothing traced is ever dropped:
//! a traced file may be required lazily by a request, an on-demand revalidation or an error
//! page, and telling otherwise would need the module graph.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Files and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Files.
    pub files: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
    }
}

/// The dead-output section of the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadOutputs {
    /// Everything below `<distDir>/server/`.
    pub server_dir: Tally,
    /// Of it, placed in the output (traced by some output).
    pub placed: Tally,
    /// Of it, prerender seeds, stored in the seed pack.
    pub packed: Tally,
    /// Of it, needed by no output: not written. `dead.bytes` is the saving.
    pub dead: Tally,
    /// `dead` by reason: `source-map` (`*.map`), `trace` (`*.nft.json`, build-time file lists),
    /// `seed-meta` (`route-cache/**/*.meta`: the status and headers the manifest carries from the
    /// context), `unused-seed` (other `route-cache/` files no prerender lists), `untraced` (the
    /// rest: build manifests and duplicates no function traces).
    pub by_reason: BTreeMap<String, Tally>,
    /// Traced files the adapter dropped on top: none (see the module doc).
    pub elided: Tally,
}

/// Walks `<dist_dir>/server` and sorts every file into placed, packed or dead.
pub fn dead_outputs(
    dist_dir: &Path,
    placed: &HashSet<&Path>,
    seeds: &HashSet<&Path>,
) -> DeadOutputs {
    let mut out = DeadOutputs::default();
    let server = dist_dir.join("server");
    let mut stack: Vec<PathBuf> = vec![server.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let path = e.path();
            if ft.is_dir() {
                stack.push(path);
                continue;
            }
            let size = e.metadata().map(|m| m.len()).unwrap_or(0);
            out.server_dir.add(size);
            if placed.contains(path.as_path()) {
                out.placed.add(size);
            } else if seeds.contains(path.as_path()) {
                out.packed.add(size);
            } else {
                out.dead.add(size);
                let name = e.file_name();
                let name = name.to_string_lossy();
                let reason = if name.ends_with(".map") {
                    "source-map"
                } else if name.ends_with(".nft.json") {
                    "trace"
                } else if path
                    .strip_prefix(&server)
                    .is_ok_and(|rel| rel.starts_with("route-cache"))
                {
                    if name.ends_with(".meta") {
                        "seed-meta"
                    } else {
                        "unused-seed"
                    }
                } else {
                    "untraced"
                };
                out.by_reason
                    .entry(reason.to_string())
                    .or_default()
                    .add(size);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sorts_files_into_placed_packed_and_dead() {
        let tmp = tempfile::tempdir().unwrap();
        let dist = tmp.path().join(".next");
        let w = |rel: &str, body: &str| {
            let p = dist.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, body).unwrap();
        };
        w("server/app/page.js", "12345");
        w("server/app/page.js.map", "123");
        w("server/app/page.js.nft.json", "12");
        w("server/route-cache/APP_PAGE/h/$/isr.html", "1234");
        w("server/route-cache/APP_PAGE/h/$/old.html", "1");
        w("server/route-cache/APP_PAGE/h/$/isr.meta", "1");
        w("server/pages-manifest.json", "123456");
        let page = dist.join("server/app/page.js");
        let seed = dist.join("server/route-cache/APP_PAGE/h/$/isr.html");
        let placed: HashSet<&Path> = [page.as_path()].into_iter().collect();
        let seeds: HashSet<&Path> = [seed.as_path()].into_iter().collect();
        let d = dead_outputs(&dist, &placed, &seeds);
        assert_eq!(
            d.server_dir,
            Tally {
                files: 7,
                bytes: 22
            }
        );
        assert_eq!(d.placed, Tally { files: 1, bytes: 5 });
        assert_eq!(d.packed, Tally { files: 1, bytes: 4 });
        assert_eq!(
            d.dead,
            Tally {
                files: 5,
                bytes: 13
            }
        );
        assert_eq!(d.by_reason["seed-meta"], Tally { files: 1, bytes: 1 });
        assert_eq!(d.by_reason["source-map"], Tally { files: 1, bytes: 3 });
        assert_eq!(d.by_reason["trace"], Tally { files: 1, bytes: 2 });
        assert_eq!(d.by_reason["unused-seed"], Tally { files: 1, bytes: 1 });
        assert_eq!(d.by_reason["untraced"], Tally { files: 1, bytes: 6 });
        assert_eq!(d.elided, Tally::default());
    }
}
