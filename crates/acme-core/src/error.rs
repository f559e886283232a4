//! Errors of the core. Each names what a user needs to act on: the output, the file, the field.

use std::path::PathBuf;

/// Everything that can go wrong between receiving a build context and a finished output directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The context JSON is not what Next 16.2–16.4 emits: a field is missing or has the wrong type.
    #[error("invalid build context at `{path}`: {message}")]
    InvalidContext {
        /// JSON path of the offending field, e.g. `outputs.prerenders[3].groupId`.
        path: String,
        /// What serde found wrong there.
        message: String,
    },

    /// The Next version cannot be served by this adapter (no stable adapter API, or unknown major).
    #[error("unsupported Next.js version {version}: @acme/next-adapter supports Next.js >= 16.2 and < 17")]
    UnsupportedNextVersion {
        /// The `nextVersion` of the context.
        version: String,
    },

    /// An output is well-formed JSON but describes something that cannot be deployed.
    #[error("output `{output}`: {reason}")]
    InvalidOutput {
        /// The output id (or pathname when there is no id).
        output: String,
        /// Why it cannot be deployed.
        reason: String,
    },

    /// A route regex that Next emitted (or the user wrote) cannot be compiled with JavaScript semantics.
    #[error("routing.{phase}[{index}]: cannot compile sourceRegex `{pattern}`: {message}")]
    InvalidRouteRegex {
        /// Routing phase, e.g. `beforeFiles`.
        phase: String,
        /// Index of the route in that phase.
        index: usize,
        /// The regex source as Next emitted it.
        pattern: String,
        /// The compiler's message.
        message: String,
    },

    /// A file an output lists does not exist or cannot be read.
    #[error("output `{output}`: file {path} is listed in the build output but {reason}")]
    MissingFile {
        /// The output id that lists the file.
        output: String,
        /// The absolute path Next gave.
        path: PathBuf,
        /// `does not exist`, `is not readable: …`, …
        reason: String,
    },

    /// Two outputs want the same place in the output directory with different contents.
    #[error("`{dest}` is claimed by both `{first}` and `{second}`")]
    Conflict {
        /// Path inside the output directory.
        dest: String,
        /// The output that claimed it first.
        first: String,
        /// The output that claimed it next.
        second: String,
    },

    /// A filesystem operation failed while writing the output directory.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing: `create directory`, `copy`, `rename`, …
        op: &'static str,
        /// The path it failed on.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A bug in this crate surfaced as a panic; caught so that it never crosses into Node.
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

impl Error {
    /// A stable, machine-readable code for the variant, used as the `code` of the JS error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidContext { .. } => "ACME_INVALID_CONTEXT",
            Error::UnsupportedNextVersion { .. } => "ACME_UNSUPPORTED_NEXT_VERSION",
            Error::InvalidOutput { .. } => "ACME_INVALID_OUTPUT",
            Error::InvalidRouteRegex { .. } => "ACME_INVALID_ROUTE_REGEX",
            Error::MissingFile { .. } => "ACME_MISSING_FILE",
            Error::Conflict { .. } => "ACME_OUTPUT_CONFLICT",
            Error::Io { .. } => "ACME_IO",
            Error::Internal(_) => "ACME_INTERNAL",
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
