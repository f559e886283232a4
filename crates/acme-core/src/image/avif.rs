//! AVIF sources. The `image` crate decodes AVIF only through the C library dav1d, so the
//! container is read by [`super::heif`] and its AV1 items decoded by [`super::av1`]; grid tiles
//! are put together as decoded samples, the frame's YCbCr is turned into 8-bit RGB(A) here (the
//! sequence header's matrix and range; BT.601 where it names none), its ICC profile applied as
//! sharp applies one, and the container's crop, rotation and mirroring last, as libheif does for
//! sharp in `next start`.

use ::image::{DynamicImage, RgbImage, RgbaImage};

use super::av1::{decode_frame, Frame};
use super::heif::{self, Image, Transform};
use super::ImageError;

fn container_error(e: String) -> ImageError {
    ImageError::Decode(format!("AVIF: {e}"))
}

/// Width and height as the image is shown (after its transforms), without decoding a pixel.
pub(super) fn dimensions(input: &[u8]) -> Result<(u32, u32), ImageError> {
    let avif = heif::parse(input).map_err(container_error)?;
    let (mut width, mut height) = avif.color.size();
    for transform in &avif.transforms {
        match transform {
            Transform::Crop(aperture) => {
                let (_, _, w, h) = aperture.rect(width, height).map_err(container_error)?;
                (width, height) = (w, h);
            }
            Transform::Rotate(turns) if turns % 2 == 1 => (width, height) = (height, width),
            Transform::Rotate(_) | Transform::Mirror(_) => {}
        }
    }
    Ok((width, height))
}

/// Decodes the primary image and its alpha, refusing from the container alone an image larger
/// than `max_pixels` (the decoder is bounded by it too), and applies its transforms.
pub(super) fn decode(input: &[u8], max_pixels: u64) -> Result<DynamicImage, ImageError> {
    let avif = heif::parse(input).map_err(container_error)?;
    let (width, height) = avif.color.size();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            limit: max_pixels,
        });
    }
    let color = decode_image(&avif.color, max_pixels).map_err(container_error)?;
    let alpha = match &avif.alpha {
        Some(image) => {
            let alpha = decode_image(image, max_pixels).map_err(container_error)?;
            if (alpha.width, alpha.height) != (color.width, color.height) {
                return Err(container_error(format!(
                    "alpha plane {}x{} does not match the image {}x{}",
                    alpha.width, alpha.height, color.width, color.height
                )));
            }
            Some(alpha)
        }
        None => None,
    };
    let mut image = to_rgb(&color, alpha.as_ref(), avif.premultiplied)?;
    if let Some(icc) = avif.icc {
        image = super::color::from_embedded_profile(image, icc, color.bit_depth > 8);
    }
    for transform in &avif.transforms {
        image = match *transform {
            Transform::Crop(aperture) => {
                let (x, y, w, h) = aperture
                    .rect(image.width(), image.height())
                    .map_err(container_error)?;
                image.crop_imm(x, y, w, h)
            }
            // Quarter turns anticlockwise: `rotate270` is one (`rotate90` turns clockwise).
            Transform::Rotate(1) => image.rotate270(),
            Transform::Rotate(2) => image.rotate180(),
            Transform::Rotate(3) => image.rotate90(),
            Transform::Rotate(_) => image,
            Transform::Mirror(0) => image.flipv(),
            Transform::Mirror(_) => image.fliph(),
        };
    }
    Ok(image)
}

/// One item's samples: an AV1 item decoded, or a grid's tiles decoded and put in place.
fn decode_image(image: &Image<'_>, max_pixels: u64) -> Result<Frame, String> {
    let grid = match image {
        Image::Coded { data, .. } => return decode_frame(data, max_pixels),
        Image::Grid(grid) => grid,
    };
    let (width, height) = (grid.width as usize, grid.height as usize);
    let mut tiles = grid.tiles.iter();
    let first = decode_frame(tiles.next().ok_or("grid without tiles")?, max_pixels)?;
    let (tw, th) = (first.width, first.height);
    let (sx, sy) = first.subsampling;
    // The tiles cover the output and none lies wholly outside it (ISO/IEC 23008-12, 6.6.2.3),
    // so decoding them costs about the output's pixels; chroma tiles start on whole samples.
    let covers = |tile: usize, count: usize, extent: usize| {
        tile.checked_mul(count).is_some_and(|all| all >= extent) && tile * (count - 1) < extent
    };
    if !covers(tw, grid.columns, width) || !covers(th, grid.rows, height) {
        return Err(format!(
            "{}x{} tiles of {tw}x{th} do not make a {width}x{height} grid",
            grid.columns, grid.rows
        ));
    }
    if (grid.columns > 1 && tw % (1 << sx) != 0) || (grid.rows > 1 && th % (1 << sy) != 0) {
        return Err(format!("{tw}x{th} tiles split chroma samples"));
    }
    let mut out = Frame {
        width,
        height,
        bit_depth: first.bit_depth,
        subsampling: first.subsampling,
        planes: Default::default(),
        matrix: first.matrix,
        full_range: first.full_range,
    };
    let (cw, ch) = out.chroma_size();
    let chroma = if first.has_chroma() { cw * ch } else { 0 };
    out.planes = [vec![0; width * height], vec![0; chroma], vec![0; chroma]];
    let at = |index: usize| ((index % grid.columns) * tw, (index / grid.columns) * th);
    paste(&mut out, &first, at(0));
    for (index, data) in tiles.enumerate().map(|(i, data)| (i + 1, data)) {
        let tile = decode_frame(data, max_pixels)?;
        let same = (tile.width, tile.height, tile.bit_depth, tile.subsampling)
            == (tw, th, out.bit_depth, out.subsampling)
            && (tile.matrix, tile.full_range, tile.has_chroma())
                == (out.matrix, out.full_range, first.has_chroma());
        if !same {
            return Err(format!(
                "grid tile {index} differs from the first in size or format"
            ));
        }
        paste(&mut out, &tile, at(index));
    }
    Ok(out)
}

/// Copies `tile`'s samples into `frame` with its top left corner at luma `(x, y)`, cut at the
/// frame's edges (the caller checked that both have the same format and that chroma
/// positions are whole).
fn paste(frame: &mut Frame, tile: &Frame, (x, y): (usize, usize)) {
    let (sx, sy) = frame.subsampling;
    let sizes = [
        (frame.width, frame.height),
        frame.chroma_size(),
        frame.chroma_size(),
    ];
    let tile_sizes = [
        (tile.width, tile.height),
        tile.chroma_size(),
        tile.chroma_size(),
    ];
    for (plane, (into, from)) in frame.planes.iter_mut().zip(&tile.planes).enumerate() {
        let (into_w, into_h) = sizes[plane];
        let (from_w, from_h) = tile_sizes[plane];
        let (x, y) = if plane == 0 {
            (x, y)
        } else {
            (x >> sx, y >> sy)
        };
        let copy_w = from_w.min(into_w.saturating_sub(x));
        // (A monochrome frame's chroma planes are empty: no rows.)
        let rows = if from.is_empty() {
            0
        } else {
            from_h.min(into_h.saturating_sub(y))
        };
        for row in 0..rows {
            let to = (y + row) * into_w + x;
            into[to..to + copy_w].copy_from_slice(&from[row * from_w..row * from_w + copy_w]);
        }
    }
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
