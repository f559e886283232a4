//! One AV1 still frame decoded through `rav1d` (dav1d ported to Rust, built without its
//! assembly: there is no nasm here). `rav1d` offers only dav1d's C interface, so this module is
//! the one place of the image code with `unsafe`; it hands out owned planes and nothing of
//! `rav1d`'s types.
#![allow(unsafe_code)]

use std::ffi::c_uint;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use rav1d::include::dav1d::data::Dav1dData;
use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dSettings};
use rav1d::include::dav1d::headers::{
    DAV1D_PIXEL_LAYOUT_I400, DAV1D_PIXEL_LAYOUT_I420, DAV1D_PIXEL_LAYOUT_I422,
};
use rav1d::include::dav1d::picture::Dav1dPicture;
use rav1d::src::lib::{
    dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_get_picture,
    dav1d_open, dav1d_picture_unref, dav1d_send_data,
};

/// A decoded frame: its planes' samples widened to `u16` (8-bit frames too, so the colour
/// conversion has one shape), row after row without padding.
#[derive(Debug)]
pub(super) struct Frame {
    /// Luma width in pixels.
    pub width: usize,
    /// Luma height in pixels.
    pub height: usize,
    /// Bits per sample: 8, 10 or 12.
    pub bit_depth: u32,
    /// Chroma subsampling shifts (x, y): (1, 1) for 4:2:0, (1, 0) for 4:2:2, (0, 0) for 4:4:4.
    pub subsampling: (u32, u32),
    /// Luma, then Cb and Cr (empty for a monochrome frame).
    pub planes: [Vec<u16>; 3],
    /// `matrix_coefficients` of the sequence header (ISO/IEC 23091-4 code points).
    pub matrix: u32,
    /// `color_range`: full (0..=max) rather than studio range.
    pub full_range: bool,
}

impl Frame {
    /// Chroma plane width and height.
    pub fn chroma_size(&self) -> (usize, usize) {
        let (sx, sy) = self.subsampling;
        (
            (self.width + (1 << sx) - 1) >> sx,
            (self.height + (1 << sy) - 1) >> sy,
        )
    }

    /// Whether the frame has chroma planes.
    pub fn has_chroma(&self) -> bool {
        !self.planes[1].is_empty()
    }
}

/// dav1d's `DAV1D_ERR(EAGAIN)`: the decoder wants the caller to do the other call first.
const EAGAIN: i32 = -libc::EAGAIN;

/// Closes the decoder on every way out.
struct Decoder(Option<Dav1dContext>);

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: the context came from `dav1d_open` and is closed once, here.
        unsafe { dav1d_close(NonNull::new(&mut self.0)) }
    }
}

/// Releases data `dav1d_send_data` did not consume (on an error).
struct Data(Dav1dData);

impl Drop for Data {
    fn drop(&mut self) {
        // SAFETY: the data came from `dav1d_data_create`; unref on consumed data is a no-op.
        unsafe { dav1d_data_unref(NonNull::new(&mut self.0)) }
    }
}

/// Releases the picture's reference to the decoder's frame buffer.
struct Picture(Dav1dPicture);

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture was filled by `dav1d_get_picture` (or is still all empty, which
        // unref accepts).
        unsafe { dav1d_picture_unref(NonNull::new(&mut self.0)) }
    }
}

/// Decodes the first frame of an AV1 bitstream (an AVIF item's OBUs). `max_pixels` bounds the
/// frame size the decoder accepts, whatever the container announced.
pub(super) fn decode_frame(obus: &[u8], max_pixels: u64) -> Result<Frame, String> {
    if obus.is_empty() {
        return Err("empty AV1 payload".into());
    }
    let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
    // SAFETY: `dav1d_default_settings` writes every field of the settings it is given.
    let mut settings = unsafe {
        dav1d_default_settings(NonNull::new_unchecked(settings.as_mut_ptr()));
        settings.assume_init()
    };
    // One thread: the optimizer already runs on libuv's pool, one image per thread.
    settings.n_threads = 1;
    settings.max_frame_delay = 1;
    // Only the highest spatial layer: the picture a viewer shows.
    settings.all_layers = 0;
    settings.frame_size_limit = c_uint::try_from(max_pixels).unwrap_or(c_uint::MAX);

    let mut decoder = Decoder(None);
    // SAFETY: both pointers are to live locals; the settings are read, the context written.
    let rc = unsafe { dav1d_open(NonNull::new(&mut decoder.0), NonNull::new(&mut settings)) };
    if rc.0 != 0 || decoder.0.is_none() {
        return Err(format!("AV1 decoder did not open (error {})", rc.0));
    }

    let mut data = Data(Dav1dData::default());
    // SAFETY: `dav1d_data_create` allocates `obus.len()` bytes owned by `data` and returns
    // them (or null on failure); they are written once, in full, before the data is sent.
    unsafe {
        let buf = dav1d_data_create(NonNull::new(&mut data.0), obus.len());
        if buf.is_null() {
            return Err("AV1 decoder could not allocate its input".into());
        }
        std::ptr::copy_nonoverlapping(obus.as_ptr(), buf, obus.len());
    }

    let mut picture = Picture(Dav1dPicture::default());
    loop {
        if data.0.sz > 0 {
            // SAFETY: the context is open; `data` is a live `Dav1dData` from `dav1d_data_create`.
            let rc = unsafe { dav1d_send_data(decoder.0, NonNull::new(&mut data.0)) };
            if rc.0 != 0 && rc.0 != EAGAIN {
                return Err(format!("AV1 data refused (error {})", rc.0));
            }
        }
        // SAFETY: the context is open; `picture` is an empty picture it may fill.
        let rc = unsafe { dav1d_get_picture(decoder.0, NonNull::new(&mut picture.0)) };
        if rc.0 == 0 {
            break;
        }
        if rc.0 != EAGAIN {
            return Err(format!("AV1 frame not decoded (error {})", rc.0));
        }
        if data.0.sz == 0 {
            return Err("AV1 payload holds no complete frame".into());
        }
    }
    read_frame(&picture.0)
}

/// Copies the planes out of a decoded picture.
fn read_frame(pic: &Dav1dPicture) -> Result<Frame, String> {
    let (width, height) = (
        usize::try_from(pic.p.w).map_err(|_| "negative frame width")?,
        usize::try_from(pic.p.h).map_err(|_| "negative frame height")?,
    );
    let bit_depth = u32::try_from(pic.p.bpc).map_err(|_| "bad bit depth")?;
    if width == 0 || height == 0 || !matches!(bit_depth, 8 | 10 | 12) {
        return Err(format!(
            "unsupported AV1 frame {width}x{height} at {bit_depth} bits"
        ));
    }
    let layout = pic.p.layout;
    let subsampling = if layout == DAV1D_PIXEL_LAYOUT_I420 {
        (1, 1)
    } else if layout == DAV1D_PIXEL_LAYOUT_I422 {
        (1, 0)
    } else {
        (0, 0)
    };
    let (matrix, full_range) = match pic.seq_hdr {
        // SAFETY: a decoded picture's sequence header lives as long as the picture.
        Some(seq) => unsafe {
            let seq = seq.as_ref();
            (seq.mtrx, seq.color_range != 0)
        },
        None => (2, false),
    };
    let mut frame = Frame {
        width,
        height,
        bit_depth,
        subsampling,
        planes: [Vec::new(), Vec::new(), Vec::new()],
        matrix,
        full_range,
    };
    let wide = bit_depth > 8;
    frame.planes[0] = read_plane(pic.data[0], pic.stride[0], width, height, wide)?;
    if layout != DAV1D_PIXEL_LAYOUT_I400 {
        let (cw, ch) = frame.chroma_size();
        frame.planes[1] = read_plane(pic.data[1], pic.stride[1], cw, ch, wide)?;
        frame.planes[2] = read_plane(pic.data[2], pic.stride[1], cw, ch, wide)?;
    }
    Ok(frame)
}

/// One plane's samples, `rows` rows of `cols` samples `stride` bytes apart.
fn read_plane(
    base: Option<NonNull<std::ffi::c_void>>,
    stride: isize,
    cols: usize,
    rows: usize,
    wide: bool,
) -> Result<Vec<u16>, String> {
    let base = base.ok_or("AV1 frame without pixel data")?;
    let sample = if wide { 2 } else { 1 };
    let stride = usize::try_from(stride).map_err(|_| "negative AV1 plane stride")?;
    if stride < cols * sample {
        return Err("AV1 plane stride shorter than a row".into());
    }
    let mut out = Vec::with_capacity(cols * rows);
    for row in 0..rows {
        // SAFETY: dav1d allocates each plane as `rows` rows of `stride` bytes, of which the
        // first `cols` samples are the picture; `stride >= cols * sample` was checked above.
        let bytes = unsafe {
            std::slice::from_raw_parts(base.as_ptr().cast::<u8>().add(row * stride), cols * sample)
        };
        if wide {
            out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| u16::from_ne_bytes([b[0], b[1]])),
            );
        } else {
            out.extend(bytes.iter().map(|&b| u16::from(b)));
        }
    }
    Ok(out)
}
