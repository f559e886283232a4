//! `/_next/image` pixel work for `runtime/image.js`: sniffing is synchronous (a few header
//! bytes), decoding/resizing/encoding runs on libuv's thread pool.

use std::panic::{catch_unwind, AssertUnwindSafe};

use acme_core::image::{self as core_image, Format, Options};
use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;

/// What the first bytes of an image say.
#[napi(object)]
pub struct ImageSniff {
    /// MIME type detected as Next detects it, or undefined.
    pub content_type: Option<String>,
    /// An animated GIF, APNG or WebP (served unchanged).
    pub animated: bool,
}

/// Detects an image's type and whether it is animated, from its bytes only.
#[napi]
pub fn sniff_image(bytes: Buffer) -> ImageSniff {
    let b: &[u8] = &bytes;
    ImageSniff {
        content_type: core_image::detect_content_type(b).map(str::to_string),
        animated: core_image::is_animated(b),
    }
}

/// The work of `optimizeImage`.
pub struct OptimizeImageTask {
    input: Vec<u8>,
    options: Options,
}

impl Task for OptimizeImageTask {
    type Output = Vec<u8>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (input, options) = (&self.input, &self.options);
        catch_unwind(AssertUnwindSafe(|| core_image::optimize(input, options)))
            .map_err(|panic| {
                let e = crate::error::from_panic(panic);
                napi::Error::new(
                    napi::Status::GenericFailure,
                    format!("image optimizer panicked: {e}"),
                )
            })?
            .map(|o| o.bytes)
            .map_err(|e| napi::Error::new(napi::Status::GenericFailure, e.to_string()))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(output.into())
    }
}

/// Decodes an image, shrinks it to `width` (never enlarges) and encodes it as `contentType`
/// (`image/avif`, `image/webp`, `image/png`, `image/jpeg`, `image/gif`, `image/tiff`) at `quality`. Rejects, naming the
/// reason, when the header announces more than `maxInputPixels` pixels or the bytes don't decode.
/// An AVIF source is decoded only with `avifSources` set, which only a process that may die
/// sets: the AV1 decoder aborts its process on some corrupt inputs (`runtime/image-decoder.js`
/// runs it in a child process); without it, an AVIF source rejects.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn optimize_image(
    input: Buffer,
    width: u32,
    quality: u32,
    content_type: String,
    max_input_pixels: Option<f64>,
    avif_sources: Option<bool>,
) -> napi::Result<AsyncTask<OptimizeImageTask>> {
    let format = Format::from_mime(&content_type).ok_or_else(|| {
        napi::Error::new(
            napi::Status::InvalidArg,
            format!("optimizeImage: cannot encode {content_type:?} (image/avif, image/webp, image/png, image/jpeg, image/gif or image/tiff)"),
        )
    })?;
    let max_input_pixels = match max_input_pixels {
        Some(n) if n.is_finite() && n >= 1.0 => n as u64,
        _ => core_image::DEFAULT_MAX_INPUT_PIXELS,
    };
    Ok(AsyncTask::new(OptimizeImageTask {
        input: input.to_vec(),
        options: Options {
            width,
            quality: quality.clamp(1, 100) as u8,
            format,
            max_input_pixels,
            avif_sources: avif_sources.unwrap_or(false),
        },
    }))
}
