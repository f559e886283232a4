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
        avif_sources: false,
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

/// The AVIF test files (made with libavif's `avifenc` from a 96x64 photo and an RGBA image) and
/// libavif's own decoding of each (`avifdec -d 8`), the reference our conversion is held to.
const AVIF_CASES: [&str; 6] = [
    "photo-8bit-420-limited",
    "photo-10bit-420-bt709",
    "photo-12bit-422-full",
    "photo-8bit-444-identity",
    "photo-8bit-mono",
    "alpha-8bit-444",
];

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/src/image/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| unreachable!("{path}: {e}"))
}

/// Mean and largest difference of two images' RGBA samples (they must be the same size).
fn sample_difference(a: &DynamicImage, b: &DynamicImage) -> (f64, u32) {
    let (a, b) = (a.to_rgba8(), b.to_rgba8());
    let diffs: Vec<u32> = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u32::from(x.abs_diff(*y)))
        .collect();
    let mean = f64::from(diffs.iter().sum::<u32>()) / diffs.len() as f64;
    (mean, diffs.iter().copied().max().unwrap_or(0))
}

#[test]
fn avif_sources_decode_as_libavif_decodes_them() {
    for case in AVIF_CASES {
        let ours = avif::decode(&testdata(&format!("{case}.avif")), DEFAULT_MAX_INPUT_PIXELS)
            .unwrap_or_else(|e| unreachable!("{case}: {e}"));
        let reference = ::image::load_from_memory(&testdata(&format!("{case}.ref.png")))
            .unwrap_or_else(|e| unreachable!("{case} reference: {e}"));
        assert_eq!(
            (ours.width(), ours.height()),
            (reference.width(), reference.height()),
            "{case}: size"
        );
        assert_eq!(
            ours.color().has_alpha(),
            case.starts_with("alpha"),
            "{case}: alpha channel"
        );
        let (mean, max) = sample_difference(&ours, &reference);
        // Rounding only (0.0-0.3 on average, at most 2 levels, measured): a wrong matrix,
        // range or chroma siting is off by several levels on average and by tens at edges.
        assert!(mean < 0.5, "{case}: mean difference {mean:.2}");
        assert!(max <= 3, "{case}: largest difference {max}");
    }
}

/// AVIF files whose container transforms the image (`irot`, `imir`, `clap`, in the order
/// `avifenc` associates them) or tiles it (`grid`, with a tiled alpha too), made with `avifenc`
/// 0.11.1, and libheif's decoding of each through sharp (`*.libheif.png`): what `next start`
/// shows. 4:4:4, so the colour conversions agree to rounding, except the 4:2:0 grid (libheif
/// upsamples chroma otherwise: a mean of ~4 levels against libavif on a plain 4:2:0 file).
/// Limits (mean, largest difference) measured with a margin: 0 and at most 1 on 4:4:4, a mean
/// of 2.3 and 91 at most on the 4:2:0 grid; a rotation the wrong way round or tiles out of
/// place measured 31 to 72 on average.
const AVIF_CONTAINER_CASES: [(&str, f64, u32); 8] = [
    ("transform-irot1", 0.1, 2),
    ("transform-irot3-imir1", 0.1, 2),
    ("transform-imir0", 0.1, 2),
    ("transform-clap", 0.1, 2),
    ("transform-clap-irot1-imir0", 0.1, 2),
    ("grid-2x2", 0.1, 2),
    ("grid-3x2-alpha", 0.1, 2),
    ("grid-2x2-420", 4.0, 128),
];

#[test]
fn avif_container_transforms_and_grids_decode_as_libheif_shows_them() {
    for (case, mean_limit, max_limit) in AVIF_CONTAINER_CASES {
        let input = testdata(&format!("{case}.avif"));
        let ours = avif::decode(&input, DEFAULT_MAX_INPUT_PIXELS)
            .unwrap_or_else(|e| unreachable!("{case}: {e}"));
        let reference = ::image::load_from_memory(&testdata(&format!("{case}.libheif.png")))
            .unwrap_or_else(|e| unreachable!("{case} reference: {e}"));
        let size = (reference.width(), reference.height());
        assert_eq!((ours.width(), ours.height()), size, "{case}: size");
        assert_eq!(
            dimensions(&input).expect("dimensions"),
            size,
            "{case}: dimensions"
        );
        assert_eq!(
            ours.color().has_alpha(),
            reference.color().has_alpha(),
            "{case}: alpha channel"
        );
        let (mean, max) = sample_difference(&ours, &reference);
        assert!(mean < mean_limit, "{case}: mean difference {mean:.2}");
        assert!(max <= max_limit, "{case}: largest difference {max}");
    }
}

fn avif_opts(width: u32, format: Format) -> Options {
    Options {
        avif_sources: true,
        ..opts(width, format)
    }
}

#[test]
fn avif_sources_are_optimized_like_any_other() {
    let input = testdata("photo-10bit-420-bt709.avif");
    assert_eq!(dimensions(&input).expect("dims"), (96, 64));
    for format in [Format::Webp, Format::Jpeg, Format::Avif, Format::Png] {
        let out = optimize(&input, &avif_opts(48, format)).expect("optimize");
        assert_eq!((out.width, out.height), (48, 32), "{format:?}");
        assert_eq!(
            dimensions(&out.bytes).expect("dims"),
            (48, 32),
            "{format:?}"
        );
    }
    let alpha = optimize(
        &testdata("alpha-8bit-444.avif"),
        &avif_opts(48, Format::Png),
    )
    .expect("alpha");
    let decoded = ::image::load_from_memory(&alpha.bytes).expect("png");
    assert!(decoded.color().has_alpha(), "alpha kept through PNG");
}

#[test]
fn an_avif_too_large_is_refused_from_its_header() {
    let input = testdata("photo-8bit-420-limited.avif");
    let small = Options {
        max_input_pixels: 96 * 64 - 1,
        ..avif_opts(32, Format::Webp)
    };
    match optimize(&input, &small) {
        Err(ImageError::TooManyPixels {
            width: 96,
            height: 64,
            ..
        }) => {}
        other => unreachable!("expected TooManyPixels, got {other:?}"),
    }
}

#[test]
fn avif_sources_are_refused_unless_the_caller_is_isolated() {
    // rav1d aborts the process on some corrupt AV1 data (a panic inside its C interface), so
    // corrupt inputs are tested through the decoder process (`__test__/image.test.js`); here,
    // that nothing reaches rav1d without the option, and that what the container parser
    // refuses is an error.
    let input = testdata("photo-8bit-420-limited.avif");
    assert!(matches!(
        optimize(&input, &opts(32, Format::Png)),
        Err(ImageError::AvifNotIsolated)
    ));
    let mut header_only = input[..64.min(input.len())].to_vec();
    header_only.extend_from_slice(&[0; 32]);
    assert!(matches!(
        optimize(&header_only, &avif_opts(32, Format::Png)),
        Err(ImageError::Decode(_))
    ));
    assert!(dimensions(&header_only).is_err());
}

/// Every AVIF test file cut short at every length, and with each of its first 600 bytes (the
/// boxes that describe it) changed: the container reader answers each with an error or an
/// image size, and never panics (decoding is left out: the AV1 decoder aborts on some corrupt
/// data, which is why it runs in a child process).
#[test]
fn avif_containers_cut_or_corrupted_are_errors_not_panics() {
    let dir = format!("{}/src/image/testdata", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("testdata")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".avif"))
        .collect();
    files.sort();
    assert!(files.len() >= 14, "{files:?}");
    let mut errors = 0;
    for name in &files {
        let input = testdata(name);
        for len in 0..input.len().min(2000) {
            errors += usize::from(heif::parse(&input[..len]).is_err());
        }
        for at in 0..input.len().min(600) {
            for value in [0x00, 0xff, input[at] ^ 0x01, input[at].wrapping_add(0x40)] {
                let mut changed = input.clone();
                changed[at] = value;
                if heif::parse(&changed).is_ok() {
                    let _ = avif::dimensions(&changed);
                }
            }
        }
    }
    // The cuts that leave the boxes whole are few: most lengths must be refused.
    assert!(errors > files.len() * 500, "{errors} cuts refused");
}

/// Sources with an embedded ICC profile, made with sharp (`withIccProfile`), and sharp's own
/// decoding of each (`*.sharp.png`, no profile): what `next start`'s optimizer starts from.
/// sharp converts an 8-bit source to sRGB and a 16-bit one to Display P3 (then only scales it
/// to 8 bits): the P3 JPEG and PNG and the 16-bit sRGB PNG come out converted, the 16-bit P3
/// PNG and the sRGB JPEG as they are; AVIF alike, by the bits a sample of the file (10: left in
/// Display P3). `true`: the case needs the conversion.
#[test]
fn embedded_rgb_profiles_are_converted_as_sharp_converts_them() {
    for (case, converted) in [
        ("profile-p3.jpg", true),
        ("profile-p3.png", true),
        ("profile-srgb-rgb16.png", true),
        ("profile-p3-rgba16.png", false),
        ("profile-srgb.jpg", false),
        ("profile-p3-8bit.avif", true),
        ("profile-p3-10bit.avif", false),
    ] {
        let input = testdata(case);
        let reference = ::image::load_from_memory(&testdata(&format!("{case}.sharp.png")))
            .unwrap_or_else(|e| unreachable!("{case} reference: {e}"));
        let decoded = |input: &[u8]| {
            if case.ends_with(".avif") {
                avif::decode(input, DEFAULT_MAX_INPUT_PIXELS)
            } else {
                decode(input, DEFAULT_MAX_INPUT_PIXELS).map(|(img, _)| img)
            }
            .unwrap_or_else(|e| unreachable!("{case}: {e}"))
        };
        let ours = decoded(&input);
        let (mean, max) = sample_difference(&ours, &reference);
        // Measured: 0.05-0.44 on average, at most 19 (two JPEG decoders' rounding at edges).
        assert!(mean < 1.0, "{case}: mean difference {mean:.2}");
        assert!(max <= 24, "{case}: largest difference {max}");
        // The case tests what it says: the samples as stored are 6-7 levels off sharp's on
        // average where a conversion is needed, and where none is they are what we output.
        let stored = if case.ends_with(".avif") {
            // The same file with its `colr` box no longer naming a profile.
            let at = input
                .windows(8)
                .position(|w| w == b"colrprof")
                .expect("colr");
            let mut unprofiled = input.clone();
            unprofiled[at + 4..at + 8].copy_from_slice(b"none");
            decoded(&unprofiled)
        } else {
            ::image::load_from_memory(&input).expect("decode")
        };
        let (stored_mean, _) = sample_difference(&stored, &reference);
        if converted {
            assert!(
                stored_mean > 4.0,
                "{case}: stored samples {stored_mean:.2} off"
            );
        } else {
            assert_eq!(stored.to_rgba8(), ours.to_rgba8(), "{case}: left as stored");
        }
    }
}

/// An embedded profile cut short or with any of its bytes changed is used or ignored, never a
/// panic.
#[test]
fn corrupted_profiles_are_ignored_or_used_never_a_panic() {
    let jpeg = testdata("profile-p3.jpg");
    let decoder = ::image::codecs::jpeg::JpegDecoder::new(Cursor::new(&jpeg)).expect("jpeg");
    let icc = {
        let mut decoder = decoder;
        decoder.icc_profile().expect("read").expect("a profile")
    };
    let img = DynamicImage::ImageRgb8(::image::RgbImage::from_fn(8, 8, |x, y| {
        ::image::Rgb([(x * 30) as u8, (y * 30) as u8, 200])
    }));
    let mut ignored = 0;
    for len in 0..icc.len() {
        let out = color::from_embedded_profile(img.clone(), &icc[..len], false);
        ignored += usize::from(out == img);
    }
    assert!(ignored > icc.len() / 2, "most cuts leave no usable profile");
    for at in 0..icc.len() {
        for value in [0x00, 0xff, icc[at] ^ 0x01, icc[at].wrapping_add(0x40)] {
            let mut changed = icc.clone();
            changed[at] = value;
            let _ = color::from_embedded_profile(img.clone(), &changed, at % 2 == 0);
        }
    }
}

/// Whether a PNG is a palette image, and its width and height, from its header.
fn png_kind(bytes: &[u8]) -> (bool, u32, u32) {
    let decoder = png::Decoder::new(Cursor::new(bytes));
    let reader = decoder.read_info().expect("png");
    let info = reader.info();
    (
        info.color_type == png::ColorType::Indexed,
        info.width,
        info.height,
    )
}

#[test]
fn png_output_is_a_palette_image_as_sharp_writes_it_unless_true_colour_is_smaller() {
    // A photo: 256 dithered colours, under half the size of true colour (2.7x smaller, measured),
    // and close to it.
    let photo = ::image::load_from_memory(&testdata("photo-320.jpg")).expect("photo");
    let out = palette::encode(&photo).expect("encode");
    assert_eq!(png_kind(&out), (true, 320, 213), "a palette image");
    let truecolor = palette::truecolor(&photo).expect("true colour");
    assert!(
        out.len() * 2 < truecolor.len(),
        "{} against {}",
        out.len(),
        truecolor.len()
    );
    let (mean, _) = sample_difference(&::image::load_from_memory(&out).expect("decode"), &photo);
    // Dithering's noise: ~5 levels a sample (measured); indexes into the wrong colours are off
    // by tens.
    assert!(mean < 7.0, "mean difference {mean:.2}");

    // At most 256 colours, alpha included: kept exactly.
    let few = DynamicImage::ImageRgba8(RgbaImage::from_fn(200, 100, |x, y| {
        // 200 colours in no order (one byte a pixel then beats four), a few half transparent.
        let i = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503))
            .wrapping_mul(2_246_822_519)
            >> 16;
        let i = i % 200;
        Rgba([
            (i * 37 % 256) as u8,
            (i * 91 % 256) as u8,
            i as u8,
            if i < 10 { 128 } else { 255 },
        ])
    }));
    let out = palette::encode(&few).expect("encode");
    assert!(png_kind(&out).0, "a palette image");
    let back = ::image::load_from_memory(&out).expect("decode");
    assert_eq!(back.to_rgba8(), few.to_rgba8(), "lossless");

    // A smooth gradient of thousands of colours compresses better in true colour (dithering
    // would add noise): that is what is written.
    let gradient = DynamicImage::ImageRgb8(::image::RgbImage::from_fn(640, 400, |x, y| {
        ::image::Rgb([(x * 255 / 639) as u8, (y * 255 / 399) as u8, 128])
    }));
    let out = palette::encode(&gradient).expect("encode");
    assert_eq!(out, palette::truecolor(&gradient).expect("true colour"));
}
