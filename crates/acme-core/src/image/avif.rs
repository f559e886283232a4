//! AVIF sources. The `image` crate decodes AVIF only through the C library dav1d, so the
//! container is read with `avif-parse` and its AV1 items decoded by [`super::av1`]; the frame's
//! YCbCr is turned into 8-bit RGB(A) here, as libheif does for sharp in `next start`
//! (the sequence header's matrix and range; BT.601 where it names none).
//!
//! Not handled, as before this module (the original is then served as it came): grid images
//! (`avif-parse` refuses them), and the container's rotation and mirroring are not applied.

use std::io::Cursor;

use ::image::{DynamicImage, RgbImage, RgbaImage};

use super::av1::{decode_frame, Frame};
use super::ImageError;

/// Width and height from the AV1 sequence header, without decoding a pixel.
pub(super) fn dimensions(input: &[u8]) -> Result<(u32, u32), ImageError> {
    let avif = parse(input)?;
    let meta = avif
        .primary_item_metadata()
        .map_err(|e| ImageError::Decode(format!("AVIF: {e}")))?;
    Ok((meta.max_frame_width.get(), meta.max_frame_height.get()))
}

/// Decodes the primary image and its alpha, refusing from the header alone a frame larger than
/// `max_pixels` (the decoder is bounded by it too).
pub(super) fn decode(input: &[u8], max_pixels: u64) -> Result<DynamicImage, ImageError> {
    let avif = parse(input)?;
    let meta = avif
        .primary_item_metadata()
        .map_err(|e| ImageError::Decode(format!("AVIF: {e}")))?;
    let (width, height) = (meta.max_frame_width.get(), meta.max_frame_height.get());
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            limit: max_pixels,
        });
    }
    let decode_err = |e: String| ImageError::Decode(format!("AVIF: {e}"));
    let color = decode_frame(&avif.primary_item, max_pixels).map_err(decode_err)?;
    let alpha = match &avif.alpha_item {
        Some(item) => {
            let alpha = decode_frame(item, max_pixels).map_err(decode_err)?;
            if (alpha.width, alpha.height) != (color.width, color.height) {
                return Err(ImageError::Decode(format!(
                    "AVIF: alpha plane {}x{} does not match the image {}x{}",
                    alpha.width, alpha.height, color.width, color.height
                )));
            }
            Some(alpha)
        }
        None => None,
    };
    to_rgb(&color, alpha.as_ref(), avif.premultiplied_alpha)
}

fn parse(input: &[u8]) -> Result<avif_parse::AvifData, ImageError> {
    avif_parse::read_avif(&mut Cursor::new(input))
        .map_err(|e| ImageError::Decode(format!("AVIF: {e}")))
}

/// How a frame's samples map to [0, 1] luma and [-0.5, 0.5] chroma.
struct Levels {
    luma_offset: f32,
    luma_scale: f32,
    chroma_offset: f32,
    chroma_scale: f32,
}

impl Levels {
    fn of(frame: &Frame) -> Levels {
        let max = ((1u32 << frame.bit_depth) - 1) as f32;
        let unit = (1u32 << (frame.bit_depth - 8)) as f32;
        if frame.full_range {
            Levels {
                luma_offset: 0.0,
                luma_scale: 1.0 / max,
                chroma_offset: (1u32 << (frame.bit_depth - 1)) as f32,
                chroma_scale: 1.0 / max,
            }
        } else {
            Levels {
                luma_offset: 16.0 * unit,
                luma_scale: 1.0 / (219.0 * unit),
                chroma_offset: 128.0 * unit,
                chroma_scale: 1.0 / (224.0 * unit),
            }
        }
    }

    fn luma(&self, v: u16) -> f32 {
        (f32::from(v) - self.luma_offset) * self.luma_scale
    }

    fn chroma_f(&self, v: f32) -> f32 {
        (v - self.chroma_offset) * self.chroma_scale
    }
}

/// The conversion a matrix code point names (ISO/IEC 23091-4).
#[derive(Clone, Copy)]
enum Matrix {
    /// Y'CbCr with these luma weights (Kr, Kb).
    YCbCr(f32, f32),
    /// 0: the planes are G, B, R.
    Identity,
    /// 8: YCgCo.
    YCgCo,
}

impl Matrix {
    fn of(code: u32) -> Matrix {
        match code {
            0 => Matrix::Identity,
            1 => Matrix::YCbCr(0.2126, 0.0722),
            4 => Matrix::YCbCr(0.30, 0.11),
            7 => Matrix::YCbCr(0.212, 0.087),
            8 => Matrix::YCgCo,
            9 | 10 => Matrix::YCbCr(0.2627, 0.0593),
            // 5 and 6 (BT.601), 2 (unspecified) and anything else: libheif's default, BT.601.
            _ => Matrix::YCbCr(0.299, 0.114),
        }
    }

    /// R, G, B in [0, 1] (before clamping) of normalized luma and chroma.
    fn rgb(self, y: f32, cb: f32, cr: f32) -> [f32; 3] {
        match self {
            Matrix::YCbCr(kr, kb) => {
                let r = y + 2.0 * (1.0 - kr) * cr;
                let b = y + 2.0 * (1.0 - kb) * cb;
                let g = (y - kr * r - kb * b) / (1.0 - kr - kb);
                [r, g, b]
            }
            // Identity: the "luma" plane is G, Cb is B, Cr is R (both offset like chroma).
            Matrix::Identity => [cr + 0.5, y, cb + 0.5],
            Matrix::YCgCo => {
                let t = y - cb;
                [t + cr, y + cb, t - cr]
            }
        }
    }
}

fn to_byte(v: f32) -> u8 {
    // `as` saturates; the clamp is for NaN-free clarity.
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

/// The chroma plane brought to the luma grid: each luma pixel takes the chroma samples around
/// it weighted 3:1 by distance (chroma sited between the luma samples it covers, as libavif's
/// and libjpeg's smooth upsampling place it), so edges do not come out blocky.
fn upsample(plane: &[u16], cw: usize, ch: usize, w: usize, h: usize, sx: u32, sy: u32) -> Vec<f32> {
    // The two source positions and the near one's weight, per output coordinate along an axis.
    fn taps(n: usize, cn: usize, shift: u32) -> Vec<(usize, usize, f32)> {
        (0..n)
            .map(|i| {
                if shift == 0 {
                    return (i, i, 1.0);
                }
                let near = (i >> 1).min(cn - 1);
                let far = if i & 1 == 0 {
                    near.saturating_sub(1)
                } else {
                    (near + 1).min(cn - 1)
                };
                (near, far, 0.75)
            })
            .collect()
    }
    let (xs, ys) = (taps(w, cw, sx), taps(h, ch, sy));
    let mut out = Vec::with_capacity(w * h);
    for &(yn, yf, wy) in &ys {
        let (rn, rf) = (
            &plane[yn * cw..(yn + 1) * cw],
            &plane[yf * cw..(yf + 1) * cw],
        );
        for &(xn, xf, wx) in &xs {
            let near = wx * f32::from(rn[xn]) + (1.0 - wx) * f32::from(rn[xf]);
            let far = wx * f32::from(rf[xn]) + (1.0 - wx) * f32::from(rf[xf]);
            out.push(wy * near + (1.0 - wy) * far);
        }
    }
    out
}

/// 8-bit RGB, or RGBA when there is an alpha frame.
fn to_rgb(
    color: &Frame,
    alpha: Option<&Frame>,
    premultiplied: bool,
) -> Result<DynamicImage, ImageError> {
    let levels = Levels::of(color);
    let matrix = Matrix::of(color.matrix);
    let (sx, sy) = color.subsampling;
    let (cw, ch) = color.chroma_size();
    let (w, h) = (color.width, color.height);
    let chroma = color.has_chroma().then(|| {
        [
            upsample(&color.planes[1], cw, ch, w, h, sx, sy),
            upsample(&color.planes[2], cw, ch, w, h, sx, sy),
        ]
    });
    let channels = if alpha.is_some() { 4 } else { 3 };
    let mut out = Vec::with_capacity(w * h * channels);
    let alpha = alpha.map(|a| (a, Levels::of(a)));
    for i in 0..w * h {
        let y = levels.luma(color.planes[0][i]);
        let [r, g, b] = match &chroma {
            Some([cb, cr]) => matrix.rgb(y, levels.chroma_f(cb[i]), levels.chroma_f(cr[i])),
            None => [y, y, y],
        };
        match &alpha {
            Some((a, levels)) => {
                let av = levels.luma(a.planes[0][i]).clamp(0.0, 1.0);
                let un = |c: f32| {
                    if premultiplied && av > 0.0 {
                        c / av
                    } else {
                        c
                    }
                };
                out.extend_from_slice(&[
                    to_byte(un(r)),
                    to_byte(un(g)),
                    to_byte(un(b)),
                    to_byte(av),
                ]);
            }
            None => out.extend_from_slice(&[to_byte(r), to_byte(g), to_byte(b)]),
        }
    }
    let size = |n: usize| {
        u32::try_from(n).map_err(|_| ImageError::Decode(format!("AVIF: {n} pixels wide or high")))
    };
    let (w32, h32) = (size(w)?, size(h)?);
    let image = if channels == 4 {
        RgbaImage::from_raw(w32, h32, out).map(DynamicImage::ImageRgba8)
    } else {
        RgbImage::from_raw(w32, h32, out).map(DynamicImage::ImageRgb8)
    };
    // The buffer was filled for exactly these dimensions; a mismatch would be a bug here.
    image.ok_or_else(|| ImageError::Decode("AVIF: pixel buffer does not match the frame".into()))
}
