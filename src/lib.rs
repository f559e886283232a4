//! The napi binding: thin wrappers over `acme-core`. Types here mirror core types via `From`.

mod error;
mod image;
mod router;

pub use image::{optimize_image, sniff_image, ImageSniff, OptimizeImageTask};

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;

/// mimalloc instead of the system allocator (see Cargo.toml): the router's many short-lived
/// small allocations cost a fraction of what they cost with glibc inside Node.
#[global_allocator]
static GLOBAL: acme_core::alloc::Mimalloc = acme_core::alloc::Mimalloc;

/// Options of `writeOutput`.
#[napi(object)]
pub struct WriteOutputOptions {
    /// Absolute output directory; replaced atomically.
    pub output_dir: String,
    /// Version of the adapter package, recorded in the manifest.
    pub adapter_version: String,
    /// Copy every file instead of hardlinking it from the build.
    pub copy_files: Option<bool>,
    /// A directory (on the output's filesystem) whose entries are moved into the output before
    /// it is published; removed afterwards.
    pub attach_dir: Option<String>,
}

/// Files and bytes of one deploy kind.
#[napi(object)]
pub struct KindSummary {
    /// `static-asset`, `public-file`, `prerender-seed`, `server-file`, …
    pub kind: String,
    /// Number of files.
    pub count: f64,
    /// Bytes.
    pub bytes: f64,
}

/// What `writeOutput` did.
#[napi(object)]
pub struct BuildSummary {
    /// Files written.
    pub files: f64,
    /// Bytes written.
    pub bytes: f64,
    /// Files hardlinked from the build.
    pub linked: f64,
    /// Files copied.
    pub copied: f64,
    /// Per deploy kind.
    pub kinds: Vec<KindSummary>,
    /// Prerenders with a seed.
    pub seeds: f64,
    /// Distinct seed contents in the pack.
    pub seed_blobs: f64,
    /// Seed bytes before deduplication and compression.
    pub seed_raw_bytes: f64,
    /// Bytes of manifest.json.
    pub manifest_bytes: f64,
    /// Outputs Next reported.
    pub outputs: f64,
    /// Content hash of the output.
    pub content_hash: String,
    /// Hash stable across rebuilds of the same source (per-build random values normalized).
    pub deployment_hash: String,
    /// Features in use, short names.
    pub features: Vec<String>,
    /// Server actions.
    pub actions: f64,
    /// Environment variables the app's server code reads.
    pub env: Vec<String>,
    /// External origins the server code fetches.
    pub fetch_origins: Vec<String>,
    /// Build files below `.next/server` no output needs (not written).
    pub dead_files: f64,
    /// Their bytes.
    pub dead_bytes: f64,
}

impl From<acme_core::KindSummary> for KindSummary {
    fn from(k: acme_core::KindSummary) -> Self {
        KindSummary {
            kind: k.kind.as_str().to_string(),
            count: k.count as f64,
            bytes: k.bytes as f64,
        }
    }
}

impl From<acme_core::BuildSummary> for BuildSummary {
    fn from(s: acme_core::BuildSummary) -> Self {
        BuildSummary {
            files: s.files as f64,
            bytes: s.bytes as f64,
            linked: s.linked as f64,
            copied: s.copied as f64,
            kinds: s.kinds.into_iter().map(Into::into).collect(),
            seeds: s.seeds as f64,
            seed_blobs: s.seed_blobs as f64,
            seed_raw_bytes: s.seed_raw_bytes as f64,
            manifest_bytes: s.manifest_bytes as f64,
            outputs: s.outputs as f64,
            content_hash: s.content_hash,
            deployment_hash: s.deployment_hash,
            features: s.features,
            actions: s.actions as f64,
            env: s.env,
            fetch_origins: s.fetch_origins,
            dead_files: s.dead_files as f64,
            dead_bytes: s.dead_bytes as f64,
        }
    }
}

impl From<WriteOutputOptions> for acme_core::WriteOptions {
    fn from(o: WriteOutputOptions) -> Self {
        acme_core::WriteOptions {
            output_dir: PathBuf::from(o.output_dir),
            adapter_version: o.adapter_version,
            copy_files: o.copy_files.unwrap_or(false),
            attach: o.attach_dir.map(PathBuf::from),
        }
    }
}

/// The work of `writeOutput`, run on libuv's thread pool.
pub struct WriteOutputTask {
    context_json: String,
    options: acme_core::WriteOptions,
}

impl Task for WriteOutputTask {
    type Output = acme_core::BuildSummary;
    type JsValue = BuildSummary;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (json, opts) = (&self.context_json, &self.options);
        catch_unwind(AssertUnwindSafe(|| acme_core::build_from_json(json, opts)))
            .unwrap_or_else(|panic| Err(error::from_panic(panic)))
            .map_err(error::to_napi)
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(output.into())
    }
}

/// Parses the serialized `onBuildComplete` context, validates it and writes the output directory.
/// Runs off the JS thread; rejects with an error naming the output and field on bad input.
#[napi(ts_return_type = "Promise<BuildSummary>")]
pub fn write_output(
    context_json: String,
    options: WriteOutputOptions,
) -> AsyncTask<WriteOutputTask> {
    AsyncTask::new(WriteOutputTask {
        context_json,
        options: options.into(),
    })
}

/// Version of the native core.
#[napi]
pub fn native_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// How this addon was built: `pgo` (profile-guided, as `npm run build:native` builds it when
/// an `llvm-profdata` of rustc's LLVM is found), `plain`, or `instrumented` (the training
/// build of the profile-guided one).
#[napi]
pub fn native_build() -> String {
    env!("ACME_NATIVE_BUILD").to_string()
}
