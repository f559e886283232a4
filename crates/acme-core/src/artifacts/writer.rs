//! Executing a plan: a staging directory filled in parallel, then swapped in place of the old one.
//!
//! Nothing is written at the destination until everything succeeded: a failed build leaves the
//! previous output untouched and removes its staging directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use crate::classify::DeployKind;
use crate::error::{Error, Result};

use super::plan::Placement;

/// What happened to one placement.
#[derive(Debug, Clone)]
pub struct Written {
    /// Bytes of the file.
    pub size: u64,
    /// Content hash (Next's when it gave one, else blake3 of the bytes), prefixed by its origin.
    pub hash: String,
    /// Whether it was hardlinked rather than copied.
    pub linked: bool,
}

/// Writes every placement below `staging`, in parallel. Results are in plan order.
///
/// Files are hardlinked from the build (a copy where linking fails, e.g. across filesystems), or
/// always copied when `copy` is set. Nothing in the output is ever written in place afterwards.
pub fn write_all(staging: &Path, placements: &[Placement], copy: bool) -> Result<Vec<Written>> {
    // Create every folder once, parents first, so the parallel writers never race on them.
    let mut dirs: Vec<&str> = placements
        .iter()
        .filter_map(|p| p.dest.rsplit_once('/').map(|(d, _)| d))
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    for d in dirs {
        let path = staging.join(d);
        fs::create_dir_all(&path).map_err(Error::io("create directory", &path))?;
    }
    placements
        .par_iter()
        .map(|p| write_one(staging, p, copy))
        .collect()
}

fn write_one(staging: &Path, p: &Placement, copy: bool) -> Result<Written> {
    let dest = staging.join(&p.dest);
    let missing = |e: io::Error| -> Error {
        let reason = if e.kind() == io::ErrorKind::NotFound {
            "does not exist".to_string()
        } else {
            format!("cannot be read: {e}")
        };
        Error::MissingFile {
            output: p.owner.clone(),
            path: p.src.clone(),
            reason,
        }
    };
    let meta = fs::metadata(&p.src).map_err(missing)?;
    if !meta.is_file() {
        return Err(Error::MissingFile {
            output: p.owner.clone(),
            path: p.src.clone(),
            reason: "is not a regular file".into(),
        });
    }
    let linked = !copy && fs::hard_link(&p.src, &dest).is_ok();
    let hash = if linked {
        match &p.known_hash {
            Some(h) => format!("next:{h}"),
            None => hash_file(&p.src).map_err(missing)?,
        }
    } else {
        // Copy through memory so the bytes we hash are the bytes we wrote.
        let bytes = fs::read(&p.src).map_err(missing)?;
        fs::write(&dest, &bytes).map_err(Error::io("write", &dest))?;
        format!("b3:{}", blake3::hash(&bytes).to_hex())
    };
    Ok(Written {
        size: meta.len(),
        hash,
        linked,
    })
}

fn hash_file(path: &Path) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(fs::File::open(path)?)?;
    Ok(format!("b3:{}", hasher.finalize().to_hex()))
}

/// Per-kind counts for the summary.
pub fn tally(placements: &[Placement], written: &[Written]) -> Vec<(DeployKind, u64, u64)> {
    DeployKind::ALL
        .iter()
        .filter_map(|&kind| {
            let (count, bytes) = placements
                .iter()
                .zip(written)
                .filter(|(p, _)| p.kind == kind)
                .fold((0u64, 0u64), |(c, b), (_, w)| (c + 1, b + w.size));
            (count > 0).then_some((kind, count, bytes))
        })
        .collect()
}

static STAGING_SEQ: AtomicU64 = AtomicU64::new(0);

/// A fresh sibling of `out_dir` to stage into.
pub fn staging_dir(out_dir: &Path) -> Result<PathBuf> {
    let parent = out_dir.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(Error::io("create directory", parent))?;
    let name = out_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("output");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seq = STAGING_SEQ.fetch_add(1, Ordering::Relaxed);
    let dir = parent.join(format!(
        ".{name}.staging-{}-{nanos}-{seq}",
        std::process::id()
    ));
    fs::create_dir(&dir).map_err(Error::io("create directory", &dir))?;
    Ok(dir)
}

/// Moves every entry of `from` into `staging` (same filesystem: a rename each), then removes
/// `from`. An entry that already exists in the staging directory is a conflict.
pub fn attach(from: &Path, staging: &Path) -> Result<()> {
    let entries = fs::read_dir(from).map_err(Error::io("read directory", from))?;
    for entry in entries {
        let entry = entry.map_err(Error::io("read directory", from))?;
        let dest = staging.join(entry.file_name());
        if dest.exists() {
            return Err(Error::Conflict {
                dest: entry.file_name().to_string_lossy().into_owned(),
                first: "the build output".into(),
                second: format!("the attached directory {}", from.display()),
            });
        }
        fs::rename(entry.path(), &dest).map_err(Error::io("move into the output", entry.path()))?;
    }
    fs::remove_dir(from).map_err(Error::io("remove directory", from))
}

/// Replaces `out_dir` with `staging`. The old output is moved aside first and removed only after
/// the new one is in place; if the swap fails the old one is put back.
pub fn publish(staging: &Path, out_dir: &Path) -> Result<()> {
    let mut aside_name = staging.file_name().unwrap_or_default().to_os_string();
    aside_name.push(".previous");
    let aside = staging.with_file_name(aside_name);
    let had_old = match fs::rename(out_dir, &aside) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => {
            return Err(Error::Io {
                op: "move aside",
                path: out_dir.to_path_buf(),
                source: e,
            })
        }
    };
    if let Err(e) = fs::rename(staging, out_dir) {
        if had_old {
            // Best effort: the error we report is the one that matters.
            let _ = fs::rename(&aside, out_dir);
        }
        return Err(Error::Io {
            op: "rename into place",
            path: out_dir.to_path_buf(),
            source: e,
        });
    }
    if had_old {
        remove_in_background(aside);
    }
    Ok(())
}

/// Deleting a large previous output takes seconds on some disks and nobody waits for it: it is
/// removed on a background thread. If the process exits first, the next build sweeps it up
/// (see [`sweep_leftovers`]), so at most one is ever left.
fn remove_in_background(dir: PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("acme-remove-previous".into())
        .spawn({
            let dir = dir.clone();
            move || {
                let _ = fs::remove_dir_all(&dir);
            }
        });
    if spawned.is_err() {
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Removes previous outputs whose background removal did not finish, and staging directories
/// of builds that died (older than an hour, so a concurrent build's staging is left alone).
/// Only names this module creates (`.<name>.staging-…`) are touched. Synchronously: `next build`
/// exits right after the adapter returns and takes a background thread with it, so a sweep in
/// the background was itself left unfinished, and a full copy of the output piled up beside it
/// with every build.
pub fn sweep_leftovers(out_dir: &Path) {
    let (Some(parent), Some(name)) = (
        out_dir.parent(),
        out_dir.file_name().and_then(|n| n.to_str()),
    ) else {
        return;
    };
    let prefix = format!(".{name}.staging-");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(n) = file_name.to_str() else {
            continue;
        };
        if !n.starts_with(&prefix) {
            continue;
        }
        let abandoned = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600);
        if n.ends_with(".previous") || abandoned {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
