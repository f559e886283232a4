//! Errors of the report. None of them fails a build: the report records them as warnings.

use std::path::PathBuf;

/// Something the report could not read or understand.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A build file the report reads (a manifest, a chunk) could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A Next manifest is not the JSON shape Next 16.2–16.4 writes.
    #[error("cannot parse {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },

    /// The placeholder matcher for per-build values could not be built.
    #[error("cannot build the matcher of per-build values: {0}")]
    Matcher(String),
}
