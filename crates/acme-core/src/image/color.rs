//! Embedded ICC profiles. sharp, for `next start`, converts a source with an RGB profile into
//! its processing space (perceptual intent) before resizing: sRGB for an 8-bit source, Display
//! P3 for a 16-bit one (sharp's `processingProfile`), whose samples then reach the output only
//! scaled to 8 bits. The output carries no profile, and ours carries none either, so without the
//! same conversion a browser shows a Display P3 or Adobe RGB photo's samples as sRGB: washed
//! out. Profiles of other colour spaces (grey, CMYK) are left alone, and so is a profile that
//! cannot be read (sharp warns and goes on without it).

use ::image::{DynamicImage, ImageBuffer};
use std::sync::Arc;

use moxcms::{
    CmsError, ColorProfile, DataColorSpace, Layout, RenderingIntent, TransformExecutor,
    TransformOptions,
};

/// `img` brought from the colour space `icc` describes to sharp's processing space, which
/// depends on whether the source had more than 8 bits a sample (`deep`: an AVIF of 10 or 12
/// bits is decoded to 8 here, to 16 by sharp). Returned as it came when the profile is not an
/// RGB profile or cannot be read, when it already describes that space, or when the image is
/// not 8- or 16-bit RGB(A).
pub(super) fn from_embedded_profile(img: DynamicImage, icc: &[u8], deep: bool) -> DynamicImage {
    let Ok(profile) = ColorProfile::new_from_slice(icc) else {
        return img;
    };
    if profile.color_space != DataColorSpace::Rgb {
        return img;
    }
    let target = if deep {
        ColorProfile::new_display_p3()
    } else {
        ColorProfile::new_srgb()
    };
    if same_space(&profile, &target) {
        return img;
    }
    let options = TransformOptions {
        rendering_intent: RenderingIntent::Perceptual,
        ..TransformOptions::default()
    };
    let (w, h) = (img.width(), img.height());
    let eight = |layout| profile.create_transform_8bit(layout, &target, layout, options);
    let sixteen = |layout| profile.create_transform_16bit(layout, &target, layout, options);
    let converted = match &img {
        DynamicImage::ImageRgb8(buf) => convert(buf, eight(Layout::Rgb))
            .and_then(|raw| ImageBuffer::from_raw(w, h, raw).map(DynamicImage::ImageRgb8)),
        DynamicImage::ImageRgba8(buf) => convert(buf, eight(Layout::Rgba))
            .and_then(|raw| ImageBuffer::from_raw(w, h, raw).map(DynamicImage::ImageRgba8)),
        DynamicImage::ImageRgb16(buf) => convert(buf, sixteen(Layout::Rgb))
            .and_then(|raw| ImageBuffer::from_raw(w, h, raw).map(DynamicImage::ImageRgb16)),
        DynamicImage::ImageRgba16(buf) => convert(buf, sixteen(Layout::Rgba))
            .and_then(|raw| ImageBuffer::from_raw(w, h, raw).map(DynamicImage::ImageRgba16)),
        _ => None,
    };
    converted.unwrap_or(img)
}

/// Whether two RGB profiles have the same primaries and tone curves (most JPEGs that carry a
/// profile carry sRGB's): converting would change nothing but cost a pass over the pixels.
fn same_space(a: &ColorProfile, b: &ColorProfile) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() < 2e-3;
    let colorants = [
        (a.red_colorant, b.red_colorant),
        (a.green_colorant, b.green_colorant),
        (a.blue_colorant, b.blue_colorant),
    ];
    let curves = [
        (&a.red_trc, &b.red_trc),
        (&a.green_trc, &b.green_trc),
        (&a.blue_trc, &b.blue_trc),
    ];
    colorants
        .iter()
        .all(|(p, q)| close(p.x, q.x) && close(p.y, q.y) && close(p.z, q.z))
        && curves.iter().all(|(p, q)| match (p, q) {
            (Some(p), Some(q)) => same_curve(p, q),
            _ => false,
        })
}

/// Whether two tone curves map sample values alike, checked at a few points.
fn same_curve(a: &moxcms::ToneReprCurve, b: &moxcms::ToneReprCurve) -> bool {
    let (Ok(a), Ok(b)) = (a.make_linear_evaluator(), b.make_linear_evaluator()) else {
        return false;
    };
    (0..=16).all(|i| {
        let v = i as f32 / 16.0;
        (a.evaluate_value(v) - b.evaluate_value(v)).abs() < 4e-3
    })
}

/// `samples` run through `transform` (`None` when it could not be made or run).
fn convert<T: Copy + Default>(
    samples: &[T],
    transform: Result<Arc<dyn TransformExecutor<T> + Send + Sync>, CmsError>,
) -> Option<Vec<T>> {
    let mut out = vec![T::default(); samples.len()];
    transform.ok()?.transform(samples, &mut out).ok()?;
    Some(out)
}
