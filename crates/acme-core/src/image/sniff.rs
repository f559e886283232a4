//! Content sniffing as Next's image optimizer does it (`detect-content-type.js`, `is-animated`):
//! the upstream's `content-type` header is never trusted.

/// The MIME type of an image from its first bytes, checked in Next's order; `None` when none
/// matches.
pub fn detect_content_type(b: &[u8]) -> Option<&'static str> {
    let starts = |sig: &[u8]| b.len() >= sig.len() && &b[..sig.len()] == sig;
    if b.is_empty() {
        return None;
    }
    if starts(&[0xff, 0xd8, 0xff]) {
        return Some("image/jpeg");
    }
    if starts(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        return Some("image/png");
    }
    if starts(b"GIF8") {
        return Some("image/gif");
    }
    if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    if starts(b"<?xml") || starts(b"<svg") {
        return Some("image/svg+xml");
    }
    if has_ftyp(b, b"avif") {
        return Some("image/avif");
    }
    if starts(&[0, 0, 1, 0]) {
        return Some("image/x-icon");
    }
    if starts(b"icns") {
        return Some("image/x-icns");
    }
    if starts(&[0x49, 0x49, 0x2a, 0x00]) {
        return Some("image/tiff");
    }
    if starts(b"BM") {
        return Some("image/bmp");
    }
    if starts(&[0xff, 0x0a])
        || starts(&[
            0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a,
        ])
    {
        return Some("image/jxl");
    }
    if has_ftyp(b, b"heic") {
        return Some("image/heic");
    }
    if starts(b"%PDF-") {
        return Some("application/pdf");
    }
    if starts(&[
        0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a,
    ]) {
        return Some("image/jp2");
    }
    None
}

fn has_ftyp(b: &[u8], brand: &[u8; 4]) -> bool {
    if b.len() < 12 {
        return false;
    }
    let size = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    size >= 16 && size <= b.len() && &b[4..8] == b"ftyp" && &b[8..12] == brand
}

/// Whether a GIF has more than one frame, a PNG is an APNG, or a WebP is animated: Next serves
/// those unchanged.
pub fn is_animated(b: &[u8]) -> bool {
    match detect_content_type(b) {
        Some("image/gif") => gif_frames_exceed_one(b),
        Some("image/png") => png_has_actl(b),
        Some("image/webp") => webp_animated(b),
        _ => false,
    }
}

fn gif_frames_exceed_one(b: &[u8]) -> bool {
    // Header (6) + logical screen descriptor (7) + optional global color table.
    if b.len() < 13 {
        return false;
    }
    let mut i = 13;
    if b[10] & 0x80 != 0 {
        i += 3 << ((b[10] & 0x07) + 1);
    }
    let skip_sub_blocks = |mut i: usize| -> Option<usize> {
        loop {
            let n = *b.get(i)? as usize;
            i += 1;
            if n == 0 {
                return Some(i);
            }
            i += n;
        }
    };
    let mut frames = 0;
    while let Some(&tag) = b.get(i) {
        match tag {
            0x21 => match skip_sub_blocks(i + 2) {
                Some(next) => i = next,
                None => return false,
            },
            0x2c => {
                frames += 1;
                if frames > 1 {
                    return true;
                }
                let Some(&flags) = b.get(i + 9) else {
                    return false;
                };
                i += 10;
                if flags & 0x80 != 0 {
                    i += 3 << ((flags & 0x07) + 1);
                }
                // LZW minimum code size, then the image data sub-blocks.
                match skip_sub_blocks(i + 1) {
                    Some(next) => i = next,
                    None => return false,
                }
            }
            _ => return false,
        }
    }
    false
}

fn png_has_actl(b: &[u8]) -> bool {
    let mut i = 8;
    while i + 8 <= b.len() {
        let len = u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        match &b[i + 4..i + 8] {
            b"acTL" => return true,
            b"IDAT" => return false,
            _ => {}
        }
        i = match i.checked_add(12).and_then(|x| x.checked_add(len)) {
            Some(next) => next,
            None => return false,
        };
    }
    false
}

fn webp_animated(b: &[u8]) -> bool {
    b.len() > 20 && &b[12..16] == b"VP8X" && b[20] & 0x02 != 0
}
