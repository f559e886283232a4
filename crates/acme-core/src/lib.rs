//! Core of `@acme/next-adapter`, free of napi so everything here is testable with `cargo test`.
//!
//! The chain: [`model`] parses the `onBuildComplete` context, [`classify`] decides what each
//! output becomes, [`routing`] compiles Next's JavaScript route regexes, and [`artifacts`] writes
//! the self-contained `.acme/output/` directory, with [`report`]'s `report.json` beside it.

pub mod alloc;
pub mod artifacts;
pub mod classify;
pub mod error;
pub mod image;
pub mod model;
pub mod report;
pub mod routing;

pub use artifacts::{build_from_json, write_output, BuildSummary, KindSummary, WriteOptions};
pub use error::{Error, Result};
