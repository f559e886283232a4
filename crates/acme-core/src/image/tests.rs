use super::*;
use ::image::codecs::gif::GifEncoder;
use ::image::{Frame, ImageFormat, Rgba, RgbaImage};

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(w, h, |x, y| {
        Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(img)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

/// A PNG whose header claims `w` x `h` pixels, with one tiny (invalid) IDAT: what a
/// decompression bomb looks like before decoding.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

fn opts(width: u32, format: Format) -> Options {
    Options {
        width,
        quality: 75,
        format,
        max_input_pixels: DEFAULT_MAX_INPUT_PIXELS,
    }
}

#[test]
fn shrinks_keeping_the_aspect_ratio_in_every_format() {
    // Small: `cargo test` runs unoptimized, and rav1e is slow there.
    let src = png(160, 107);
    for (format, mime) in [
        (Format::Webp, "image/webp"),
        (Format::Jpeg, "image/jpeg"),
        (Format::Png, "image/png"),
        (Format::Avif, "image/avif"),
        (Format::Gif, "image/gif"),
        (Format::Tiff, "image/tiff"),
    ] {
        let out = optimize(&src, &opts(64, format)).expect("optimize");
        assert_eq!((out.width, out.height), (64, 43), "{format:?}");
        assert_eq!(detect_content_type(&out.bytes), Some(mime), "{format:?}");
        if format != Format::Avif {
            assert_eq!(dimensions(&out.bytes).expect("dims"), (64, 43));
        }
    }
}

#[test]
fn never_enlarges() {
    let out = optimize(&png(100, 50), &opts(3840, Format::Webp)).expect("optimize");
    assert_eq!((out.width, out.height), (100, 50));
}

#[test]
fn refuses_a_decompression_bomb_from_its_header() {
    let bomb = png_header_only(100_000, 100_000);
    assert!(bomb.len() < 100);
    let refused = optimize(&bomb, &opts(640, Format::Webp));
    assert!(
        matches!(
            refused,
            Err(ImageError::TooManyPixels {
                width: 100_000,
                height: 100_000,
                ..
            })
        ),
        "expected TooManyPixels, got {refused:?}"
    );
    let small_limit = Options {
        max_input_pixels: 1000,
        ..opts(16, Format::Png)
    };
    assert!(matches!(
        optimize(&png(40, 40), &small_limit),
        Err(ImageError::TooManyPixels { .. })
    ));
}

#[test]
fn garbage_is_a_decode_error_not_a_panic() {
    for bytes in [
        &b""[..],
        b"hello",
        &[0xff, 0xd8, 0xff, 0, 1, 2][..],
        &png(8, 8)[..30],
    ] {
        assert!(optimize(bytes, &opts(64, Format::Jpeg)).is_err());
    }
}

#[test]
fn sniffs_types_and_animation() {
    assert_eq!(
        detect_content_type(b"<svg xmlns=\"\"/>"),
        Some("image/svg+xml")
    );
    assert_eq!(detect_content_type(b"<?xml version"), Some("image/svg+xml"));
    assert_eq!(detect_content_type(b"BM\0\0"), Some("image/bmp"));
    assert_eq!(detect_content_type(b"text"), None);
    assert!(!is_animated(&png(4, 4)));

    let gif = |frames: usize| {
        let mut out = Vec::new();
        {
            let mut enc = GifEncoder::new(&mut out);
            for i in 0..frames {
                let img = RgbaImage::from_pixel(4, 4, Rgba([i as u8 * 80, 0, 0, 255]));
                enc.encode_frame(Frame::new(img)).expect("frame");
            }
        }
        out
    };
    assert!(!is_animated(&gif(1)));
    assert!(is_animated(&gif(2)));
}

#[test]
fn heights_match_sharp_including_jpeg_shrink_on_load() {
    // (w, h, target, sharp's height for a JPEG, for anything else), measured with sharp 0.34.
    for (w, h, t, jpeg, other) in [
        (800, 533, 64, 42, 43),
        (800, 533, 128, 85, 85),
        (742, 1669, 64, 145, 144),
        (393, 1836, 128, 600, 598),
        (600, 400, 64, 43, 43),
    ] {
        assert_eq!(target_height(w, h, t, true), jpeg, "{w}x{h} -> {t} (jpeg)");
        assert_eq!(target_height(w, h, t, false), other, "{w}x{h} -> {t}");
    }
}
