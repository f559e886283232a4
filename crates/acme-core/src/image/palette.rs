//! PNG output. Next asks sharp for `png({ quality })`, which makes it a palette image of at most
//! 256 colours (libimagequant, dithered): a photo comes out ~4-5x smaller than as a true-colour
//! PNG. Here an image of at most 256 distinct colours keeps them exactly; any other is quantized
//! by NeuQuant and dithered (Floyd–Steinberg, damped). The palette PNG is sent unless the
//! true-colour one is smaller (flat graphics with gradients, where dithering adds noise that
//! compresses badly). libimagequant does better than NeuQuant (on the fixture's photo our files
//! are 1.2-2x sharp's size at 1-4 dB less PSNR), but the maintained library and its Rust crate
//! (`imagequant`) are GPL-3.0, so it is not used here.

use std::collections::HashMap;

use ::image::codecs::png::{CompressionType, FilterType, PngEncoder};
use ::image::{DynamicImage, ExtendedColorType, ImageEncoder, RgbaImage};
use color_quant::NeuQuant;

/// NeuQuant's sampling factor: 1 learns from every pixel, 10 (its recommended balance of speed
/// and quality) from one in 10. Images up to this many pixels are learnt from whole: a
/// thumbnail's few thousand pixels sampled leave a poor palette.
const LEARN_WHOLE_UP_TO: usize = 50_000;

/// The share of each pixel's error passed on. Full Floyd–Steinberg (1.0) spreads noise that
/// costs size and, measured against the unquantized image, quality: on the fixture's photo at
/// 256/128/64 px wide, 0.75 gave 13%/17%/6% smaller files at 0.5–0.7 dB more PSNR than 1.0.
const DITHER: f32 = 0.75;

/// The smaller of the palette and the true-colour encodings of `img`.
pub(super) fn encode(img: &DynamicImage) -> Result<Vec<u8>, String> {
    let truecolor = truecolor(img)?;
    let rgba = img.to_rgba8();
    let (palette, indexes) = match exact_palette(&rgba) {
        Some(exact) => exact,
        None => quantized(&rgba, img.color().has_alpha()),
    };
    let indexed = indexed_png(rgba.width(), rgba.height(), &palette, &indexes)?;
    Ok(if indexed.len() < truecolor.len() {
        indexed
    } else {
        truecolor
    })
}

pub(super) fn truecolor(img: &DynamicImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::Adaptive);
    let (w, h) = (img.width(), img.height());
    if img.color().has_alpha() {
        encoder.write_image(&img.to_rgba8(), w, h, ExtendedColorType::Rgba8)
    } else {
        encoder.write_image(&img.to_rgb8(), w, h, ExtendedColorType::Rgb8)
    }
    .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The image's own colours when there are at most 256 of them, and each pixel's index.
fn exact_palette(rgba: &RgbaImage) -> Option<(Vec<[u8; 4]>, Vec<u8>)> {
    let mut palette: Vec<[u8; 4]> = Vec::new();
    let mut index: HashMap<[u8; 4], u8> = HashMap::new();
    let mut indexes = Vec::with_capacity(rgba.as_raw().len() / 4);
    for pixel in rgba.pixels() {
        let i = match index.get(&pixel.0) {
            Some(&i) => i,
            None => {
                let i = u8::try_from(palette.len()).ok()?;
                palette.push(pixel.0);
                index.insert(pixel.0, i);
                i
            }
        };
        indexes.push(i);
    }
    Some((palette, indexes))
}

/// 256 colours chosen by NeuQuant (`alpha`: the image has an alpha channel), and each pixel's
/// index after error diffusion (the error of each pixel's choice, times [`DITHER`], spread right
/// and below: 7/16, 3/16, 5/16, 1/16).
fn quantized(rgba: &RgbaImage, alpha: bool) -> (Vec<[u8; 4]>, Vec<u8>) {
    let pixels = rgba.as_raw().len() / 4;
    let sample = if pixels <= LEARN_WHOLE_UP_TO { 1 } else { 10 };
    let quant = NeuQuant::new(sample, 256, rgba.as_raw());
    // An opaque image's palette stays opaque (the network's alpha can drift off 255, which would
    // add a `tRNS` chunk and an alpha channel for nothing).
    let palette: Vec<[u8; 4]> = quant
        .color_map_rgba()
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], if alpha { c[3] } else { 255 }])
        .collect();
    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
    // Errors carried to this row and the next, one slot of margin on each side.
    let mut here = vec![[0f32; 4]; w + 2];
    let mut below = vec![[0f32; 4]; w + 2];
    let mut indexes = Vec::with_capacity(w * h);
    let raw = rgba.as_raw();
    for y in 0..h {
        for x in 0..w {
            let at = 4 * (y * w + x);
            let mut want = [0u8; 4];
            let mut exact = [0f32; 4];
            for c in 0..4 {
                exact[c] = (f32::from(raw[at + c]) + here[x + 1][c]).clamp(0.0, 255.0);
                want[c] = exact[c].round() as u8;
            }
            let i = quant.index_of(&want);
            let got = palette.get(i).copied().unwrap_or(want);
            for c in 0..4 {
                let e = (exact[c] - f32::from(got[c])) * DITHER;
                here[x + 2][c] += e * 7.0 / 16.0;
                below[x][c] += e * 3.0 / 16.0;
                below[x + 1][c] += e * 5.0 / 16.0;
                below[x + 2][c] += e / 16.0;
            }
            // NeuQuant has 256 colours at most, so an index fits a byte.
            indexes.push(i as u8);
        }
        std::mem::swap(&mut here, &mut below);
        below.iter_mut().for_each(|e| *e = [0.0; 4]);
    }
    (palette, indexes)
}

/// An 8-bit indexed PNG: the colours that are not opaque first, so `tRNS` lists only them (and
/// is left out when all are); palette images are not filtered, as libpng advises.
fn indexed_png(w: u32, h: u32, palette: &[[u8; 4]], indexes: &[u8]) -> Result<Vec<u8>, String> {
    let mut order: Vec<usize> = (0..palette.len()).collect();
    order.sort_by_key(|&i| palette[i][3] == 255);
    let mut position = vec![0u8; palette.len()];
    for (to, &from) in order.iter().enumerate() {
        position[from] = to as u8;
    }
    let palette: Vec<[u8; 4]> = order.iter().map(|&i| palette[i]).collect();
    let indexes: Vec<u8> = indexes.iter().map(|&i| position[usize::from(i)]).collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_filter(png::Filter::NoFilter);
    encoder.set_palette(
        palette
            .iter()
            .flat_map(|c| [c[0], c[1], c[2]])
            .collect::<Vec<_>>(),
    );
    let mut alphas: Vec<u8> = palette.iter().map(|c| c[3]).collect();
    while alphas.last() == Some(&255) {
        alphas.pop();
    }
    if !alphas.is_empty() {
        encoder.set_trns(alphas);
    }
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&indexes)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}
