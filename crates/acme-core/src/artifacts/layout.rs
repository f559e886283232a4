//! Where things go inside `.acme/output/`, and mapping URL pathnames to file names.

use std::path::Path;

/// Folder of files served by URL (`_next/static`, `public/`, static HTML).
pub const STATIC_DIR: &str = "static";
/// The pack of prerender seeds, addressable by pathname through the manifest.
pub const SEED_PACK: &str = "prerender/seeds.pack";
/// Folder of server code, laid out as in the repository so `require` resolves as at build time.
pub const SERVER_DIR: &str = "server";
/// The manifest file at the top of the output.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Version of the manifest schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Maps a URL pathname to a file name below a folder, keeping the source file's extension.
///
/// `/` becomes `index.<ext>`, `/about` served from `about.html` becomes `about.html`,
/// `/_next/static/a.js` stays as is. The result never starts with `/` and has no `..`.
pub fn pathname_to_file(pathname: &str, source: &Path) -> String {
    let mut rel = pathname.trim_start_matches('/').to_string();
    if rel.is_empty() || rel.ends_with('/') {
        rel.push_str("index");
    }
    if let Some(ext) = source.extension().and_then(|e| e.to_str()) {
        let suffix = format!(".{ext}");
        if !rel.ends_with(&suffix) {
            rel.push_str(&suffix);
        }
    }
    rel
}

/// Joins a folder and a relative path with `/` (manifest paths are always `/`-separated).
pub fn join(dir: &str, rel: &str) -> String {
    format!("{dir}/{rel}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pathnames() {
        let html = Path::new("/x/about.html");
        assert_eq!(pathname_to_file("/", html), "index.html");
        assert_eq!(pathname_to_file("/about", html), "about.html");
        assert_eq!(pathname_to_file("/about.html", html), "about.html");
        assert_eq!(pathname_to_file("/blog/", html), "blog/index.html");
        assert_eq!(pathname_to_file("/a.rsc", Path::new("/x/a.rsc")), "a.rsc");
        assert_eq!(
            pathname_to_file("/robots.txt", Path::new("/x/robots.txt.body")),
            "robots.txt.body"
        );
        assert_eq!(
            pathname_to_file("/LICENSE", Path::new("/x/LICENSE")),
            "LICENSE"
        );
    }
}
