//! The image optimizer's pixel work: decode (refusing decompression bombs before any pixel
//! buffer is allocated), bring colours an embedded profile describes to sRGB as sharp does,
//! apply the EXIF orientation, shrink to a width, encode to the negotiated format. Request
//! validation, fetching, caching and headers live in `runtime/image.js`; this module only sees
//! bytes, so it can run on a worker thread and be tested without Node.

mod av1;
mod avif;
mod color;
mod heif;
mod palette;
mod sniff;

use std::io::Cursor;

use ::image::codecs::avif::AvifEncoder;
use ::image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageReader, Limits};

pub use sniff::{detect_content_type, is_animated};

/// `experimental.imgOptMaxInputPixels` of Next (sharp's `limitInputPixels`): 16383 x 16383.
pub const DEFAULT_MAX_INPUT_PIXELS: u64 = 268_402_689;

/// An encoding the optimizer produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `image/avif`
    Avif,
    /// `image/webp`
    Webp,
    /// `image/png`
    Png,
    /// `image/jpeg`
    Jpeg,
    /// `image/gif` (a still GIF asked for by a client that takes neither WebP nor AVIF)
    Gif,
    /// `image/tiff` (likewise)
    Tiff,
}

impl Format {
    /// The format of a MIME type, if the optimizer can encode it.
    pub fn from_mime(mime: &str) -> Option<Format> {
        match mime {
            "image/avif" => Some(Format::Avif),
            "image/webp" => Some(Format::Webp),
            "image/png" => Some(Format::Png),
            "image/jpeg" => Some(Format::Jpeg),
            "image/gif" => Some(Format::Gif),
            "image/tiff" => Some(Format::Tiff),
            _ => None,
        }
    }
}

/// What to produce.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Target width; an image narrower than this keeps its size (no enlargement, as Next asks
    /// sharp with `withoutEnlargement`).
    pub width: u32,
    /// 1..=100, as in the `q` parameter.
    pub quality: u8,
    /// Output encoding.
    pub format: Format,
    /// Largest width x height decoded; anything larger is refused from its header alone.
    pub max_input_pixels: u64,
    /// Decode AVIF sources. Their AV1 decoder, `rav1d`, is reached through its C interface, and
    /// a panic there on some corrupt inputs cannot unwind: it aborts the process. So only a
    /// process that may die sets this (`runtime/image-decoder.js`); elsewhere an AVIF source is
    /// [`ImageError::AvifNotIsolated`].
    pub avif_sources: bool,
}

/// Why an image could not be optimized.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The header announces more pixels than allowed (a decompression bomb or just too big).
    #[error("image of {width}x{height} pixels exceeds the limit of {limit} input pixels")]
    TooManyPixels {
        /// Announced width.
        width: u32,
        /// Announced height.
        height: u32,
        /// The limit.
        limit: u64,
    },
    /// The bytes are not an image this optimizer decodes.
    #[error("cannot decode image: {0}")]
    Decode(String),
    /// An AVIF source, and [`Options::avif_sources`] is not set.
    #[error(
        "AVIF sources are decoded only in an isolated decoder process (Options::avif_sources)"
    )]
    AvifNotIsolated,
    /// Encoding failed.
    #[error("cannot encode {format:?}: {message}")]
    Encode {
        /// Target format.
        format: Format,
        /// Encoder's message.
        message: String,
    },
}

/// The result of [`optimize`].
#[derive(Debug)]
pub struct Optimized {
    /// Encoded bytes.
    pub bytes: Vec<u8>,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
}

/// Decodes `input`, shrinks it to `opts.width` and encodes it as `opts.format`.
pub fn optimize(input: &[u8], opts: &Options) -> Result<Optimized, ImageError> {
    let avif = detect_content_type(input) == Some("image/avif");
    if avif && !opts.avif_sources {
        return Err(ImageError::AvifNotIsolated);
    }
    let (img, jpeg_unrotated) = if avif {
        (avif::decode(input, opts.max_input_pixels)?, false)
    } else {
        decode(input, opts.max_input_pixels)?
    };
    let img = shrink(img, opts.width, jpeg_unrotated);
    let bytes = encode(&img, opts.format, opts.quality.clamp(1, 100))?;
    Ok(Optimized {
        bytes,
        width: img.width(),
        height: img.height(),
    })
}

/// Reads the dimensions from the header only (no pixel decoding).
pub fn dimensions(input: &[u8]) -> Result<(u32, u32), ImageError> {
    if detect_content_type(input) == Some("image/avif") {
        return avif::dimensions(input);
    }
    let reader = ImageReader::new(Cursor::new(input))
        .with_guessed_format()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    reader
        .into_dimensions()
        .map_err(|e| ImageError::Decode(e.to_string()))
}

/// The decoded image, upright, and whether it is a JPEG that needed no rotation (see [`shrink`]).
fn decode(input: &[u8], max_pixels: u64) -> Result<(DynamicImage, bool), ImageError> {
    let reader = ImageReader::new(Cursor::new(input))
        .with_guessed_format()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    let is_jpeg = reader.format() == Some(::image::ImageFormat::Jpeg);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            limit: max_pixels,
        });
    }
    // The header is trusted only for the check above; the allocation limit also bounds what a
    // decoder may allocate if later data disagrees with it (8 bytes per pixel: 16-bit RGBA).
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(64 << 20));
    decoder
        .set_limits(limits)
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    let orientation = decoder
        .orientation()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    // (A profile that cannot be read is no reason to refuse the pixels.)
    let icc = decoder.icc_profile().ok().flatten();
    let mut img =
        DynamicImage::from_decoder(decoder).map_err(|e| ImageError::Decode(e.to_string()))?;
    if let Some(icc) = icc {
        let deep = matches!(
            img,
            DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgba16(_)
        );
        img = color::from_embedded_profile(img, &icc, deep);
    }
    let unrotated = orientation == ::image::metadata::Orientation::NoTransforms;
    img.apply_orientation(orientation);
    Ok((img, is_jpeg && unrotated))
}

/// Sharp's `resize(width, undefined, { withoutEnlargement: true })`: never enlarges; the height
/// follows the aspect ratio, rounded, never below one pixel.
fn shrink(img: DynamicImage, width: u32, jpeg_unrotated: bool) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    if width == 0 || width >= w {
        return img;
    }
    let height = target_height(w, h, width, jpeg_unrotated);
    resize(img, width, height)
}

/// Lanczos3, as sharp resizes, through `fast_image_resize` (SIMD, ~4x the `image` crate's
/// `resize_exact`: 117 against 27 ms for a 12-megapixel photo to 640 px here) with the colour
/// premultiplied by alpha while it is filtered, as libvips does, so transparent pixels' colours
/// do not bleed into their neighbours. Every image is resized as 8-bit RGB or RGBA, the forms
/// every encoder here takes (its typed API for those two alone keeps the other pixel types'
/// code out of the binary).
fn resize(img: DynamicImage, width: u32, height: u32) -> DynamicImage {
    use fast_image_resize::pixels::{U8x3, U8x4};
    let (from, to) = ((img.width(), img.height()), (width, height));
    let resized = if img.color().has_alpha() {
        let mut rgba = img.to_rgba8();
        resize_samples::<U8x4>(&mut rgba, from, to)
            .and_then(|raw| ::image::RgbaImage::from_raw(width, height, raw))
            .map(DynamicImage::ImageRgba8)
    } else {
        let mut rgb = img.to_rgb8();
        resize_samples::<U8x3>(&mut rgb, from, to)
            .and_then(|raw| ::image::RgbImage::from_raw(width, height, raw))
            .map(DynamicImage::ImageRgb8)
    };
    // (Only buffers of the wrong size fail, which these are not.)
    resized
        .unwrap_or_else(|| img.resize_exact(width, height, ::image::imageops::FilterType::Lanczos3))
}

/// `samples` (pixels of type `P`, `from` wide and high, row after row) resized to `to`.
fn resize_samples<P: fast_image_resize::PixelTrait>(
    samples: &mut [u8],
    from: (u32, u32),
    to: (u32, u32),
) -> Option<Vec<u8>> {
    use fast_image_resize::images::TypedImage;
    use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    let src = TypedImage::<P>::from_buffer(from.0, from.1, samples).ok()?;
    let mut out = vec![0u8; to.0 as usize * to.1 as usize * P::size()];
    let mut dst = TypedImage::<P>::from_buffer(to.0, to.1, &mut out).ok()?;
    Resizer::new().resize_typed(&src, &mut dst, &options).ok()?;
    Some(out)
}

/// The output height sharp gives. A JPEG that needs no rotation is first shrunk on load by
/// libjpeg (1/2, 1/4 or 1/8, dimensions rounded down; one step less when the factor is exactly
/// the integer part of the shrink) and the aspect ratio is taken from that smaller image, so its
/// height can be one pixel off the exact ratio: matching it keeps `<Image>` layouts identical.
fn target_height(w: u32, h: u32, width: u32, jpeg_unrotated: bool) -> u32 {
    let mut load = 1u32;
    if jpeg_unrotated {
        let shrink = f64::from(w) / f64::from(width);
        load = if shrink >= 8.0 {
            8
        } else if shrink >= 4.0 {
            4
        } else if shrink >= 2.0 {
            2
        } else {
            1
        };
        if load > 1 && shrink.trunc() == f64::from(load) {
            load /= 2;
        }
    }
    let (w, h) = (u64::from((w / load).max(1)), u64::from((h / load).max(1)));
    let height = ((h * u64::from(width) * 2 + w) / (2 * w)).max(1);
    u32::try_from(height).unwrap_or(u32::MAX)
}

/// A JPEG as sharp writes one with `mozjpeg: true` (what Next asks for): MozJPEG's default
/// profile, that is progressive with optimized scans, trellis quantisation, overshoot
/// deringing, its ImageMagick quantisation tables, optimized Huffman coding and 4:2:0 chroma.
/// Its sizes and quality match sharp's (28,865 against 28,855 bytes on the test photo at 640 px,
/// the same PSNR); it takes ~2-3x as long as the `image` crate's encoder, whose files were ~2.4x
/// larger.
fn mozjpeg(rgb: &::image::RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    // The library reports errors by unwinding out of its C code (built for it).
    std::panic::catch_unwind(|| {
        let mut jpeg = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        jpeg.set_size(rgb.width() as usize, rgb.height() as usize);
        jpeg.set_quality(f32::from(quality));
        let mut started = jpeg.start_compress(Vec::new())?;
        started.write_scanlines(rgb.as_raw())?;
        started.finish()
    })
    .map_err(|_| "MozJPEG failed".to_string())?
    .map_err(|e| e.to_string())
}

fn encode(img: &DynamicImage, format: Format, quality: u8) -> Result<Vec<u8>, ImageError> {
    let err = |e: &dyn std::fmt::Display| ImageError::Encode {
        format,
        message: e.to_string(),
    };
    let (w, h) = (img.width(), img.height());
    let mut out = Vec::new();
    match format {
        Format::Jpeg => out = mozjpeg(&img.to_rgb8(), quality).map_err(|e| err(&e))?,
        Format::Png => out = palette::encode(img).map_err(|e| err(&e))?,
        Format::Webp => {
            // libwebp's lossy encoder: `image`'s own WebP encoder is lossless only, which would
            // make the "optimized" image larger than a JPEG source.
            let q = f32::from(quality);
            let mem = if img.color().has_alpha() {
                let rgba = img.to_rgba8();
                webp::Encoder::from_rgba(&rgba, w, h)
                    .encode_simple(false, q)
                    .map(|m| m.to_vec())
            } else {
                let rgb = img.to_rgb8();
                webp::Encoder::from_rgb(&rgb, w, h)
                    .encode_simple(false, q)
                    .map(|m| m.to_vec())
            };
            out = mem.map_err(|e| err(&format!("{e:?}")))?;
        }
        Format::Gif => {
            let mut enc = ::image::codecs::gif::GifEncoder::new(&mut out);
            enc.encode(&img.to_rgba8(), w, h, ExtendedColorType::Rgba8)
                .map_err(|e| err(&e))?;
        }
        Format::Tiff => {
            let mut cursor = Cursor::new(Vec::new());
            ::image::codecs::tiff::TiffEncoder::new(&mut cursor)
                .write_image(&img.to_rgba8(), w, h, ExtendedColorType::Rgba8)
                .map_err(|e| err(&e))?;
            out = cursor.into_inner();
        }
        Format::Avif => {
            // Next scales the quality for AVIF (`q * 50 / 80`) so that it looks like WebP's.
            let q = ((u32::from(quality) * 50 + 40) / 80).clamp(1, 100) as u8;
            let rgba = img.to_rgba8();
            AvifEncoder::new_with_speed_quality(&mut out, 8, q)
                .write_image(&rgba, w, h, ExtendedColorType::Rgba8)
                .map_err(|e| err(&e))?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
