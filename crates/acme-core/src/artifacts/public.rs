//! The app's `public/` folder: Next 16.4 does not list it in `outputs`, so we walk it ourselves.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One file of `public/`: its URL pathname and where it is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicFile {
    /// `/` + its path relative to `public/`, `/`-separated.
    pub pathname: String,
    /// Absolute path on disk.
    pub path: PathBuf,
}

/// Lists every file below `public_dir` (dotfiles included, nothing ignored: `next start` serves
/// them all), sorted by pathname. A missing folder is an empty list.
pub fn walk_public(public_dir: &Path) -> Result<Vec<PublicFile>> {
    if !public_dir.is_dir() {
        return Ok(Vec::new());
    }
    let walker = ignore::WalkBuilder::new(public_dir)
        .standard_filters(false)
        .follow_links(true)
        .build();
    let mut files = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|e| Error::Io {
            op: "walk",
            path: public_dir.to_path_buf(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("walk failed")),
        })?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let rel = entry.path().strip_prefix(public_dir).map_err(|_| {
            Error::Internal(format!(
                "{} is not below {}",
                entry.path().display(),
                public_dir.display()
            ))
        })?;
        let mut pathname = String::new();
        for part in rel.components() {
            let part = part
                .as_os_str()
                .to_str()
                .ok_or_else(|| Error::InvalidOutput {
                    output: "public".into(),
                    reason: format!("file name {} is not valid UTF-8", entry.path().display()),
                })?;
            pathname.push('/');
            pathname.push_str(part);
        }
        files.push(PublicFile {
            pathname,
            path: entry.path().to_path_buf(),
        });
    }
    files.sort_by(|a, b| a.pathname.cmp(&b.pathname));
    Ok(files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn walks_everything_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("a/b")).unwrap();
        std::fs::create_dir_all(p.join(".well-known")).unwrap();
        std::fs::write(p.join("robots.txt"), "x").unwrap();
        std::fs::write(p.join("a/b/c.svg"), "x").unwrap();
        std::fs::write(p.join(".well-known/security.txt"), "x").unwrap();
        std::fs::write(p.join(".gitignore"), "robots.txt\n").unwrap();
        let names: Vec<_> = walk_public(p)
            .unwrap()
            .into_iter()
            .map(|f| f.pathname)
            .collect();
        assert_eq!(
            names,
            [
                "/.gitignore",
                "/.well-known/security.txt",
                "/a/b/c.svg",
                "/robots.txt"
            ]
        );
    }

    #[test]
    fn missing_folder_is_empty() {
        assert!(walk_public(Path::new("/definitely/not/here"))
            .unwrap()
            .is_empty());
    }
}
