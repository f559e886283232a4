//! The HEIF container of an AVIF file (ISO/IEC 23008-12 over ISO BMFF boxes): which item is the
//! image, where its AV1 data lies, the grid of tiles it may be made of, its alpha item, and the
//! transforms a reader must apply (clean-aperture crop, rotation, mirroring) in the order the
//! file associates them. libheif, which decodes AVIF for sharp in `next start`, honours all of
//! them; a reader that skips them shows a rotated photo on its side.
//!
//! Only what a still AVIF needs is read. Every count, size and offset is checked against the
//! bytes it points into, so a hostile file is an error naming what is wrong, never a panic, and
//! nothing is allocated beyond the file's own size (item data spread over several extents is the
//! one copy).

use std::borrow::Cow;
use std::collections::HashMap;

/// A container error: what is wrong with the file.
pub(super) type Result<T> = std::result::Result<T, String>;

/// The image an AVIF file shows.
pub(super) struct Avif<'a> {
    /// The primary item.
    pub color: Image<'a>,
    /// Its alpha (an auxiliary item of type alpha), if any.
    pub alpha: Option<Image<'a>>,
    /// The colour samples are premultiplied by alpha (`prem` reference).
    pub premultiplied: bool,
    /// The primary item's transformative properties, in the order they apply.
    pub transforms: Vec<Transform>,
    /// The primary item's ICC profile (a `colr` box of type `prof` or `rICC`).
    pub icc: Option<&'a [u8]>,
}

/// A coded image item, or a grid of them.
pub(super) enum Image<'a> {
    /// One AV1 item: its OBUs, and its size as the container states it (`ispe`).
    Coded {
        /// The item's data.
        data: Cow<'a, [u8]>,
        /// `ispe` width.
        width: u32,
        /// `ispe` height.
        height: u32,
    },
    /// A `grid` item: tiles placed row by row, the whole cut to `width` x `height`.
    Grid(Grid<'a>),
}

/// A `grid` derived image.
pub(super) struct Grid<'a> {
    /// Tiles per column.
    pub rows: usize,
    /// Tiles per row.
    pub columns: usize,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// The tiles' AV1 data, row after row.
    pub tiles: Vec<Cow<'a, [u8]>>,
}

impl Image<'_> {
    /// Width and height before any transform.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Image::Coded { width, height, .. } => (*width, *height),
            Image::Grid(grid) => (grid.width, grid.height),
        }
    }
}

/// A transformative property (ISO/IEC 23008-12, 6.5.10 to 6.5.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transform {
    /// `clap`: keep the clean aperture.
    Crop(CleanAperture),
    /// `irot`: turn by this many quarter turns anticlockwise.
    Rotate(u8),
    /// `imir`: mode 0 swaps top and bottom (about a horizontal axis), 1 left and right.
    Mirror(u8),
}

/// A `clap` box: the aperture's size and the offset of its centre from the image's centre,
/// each a fraction (numerator, denominator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CleanAperture {
    width: (u32, u32),
    height: (u32, u32),
    horizontal_offset: (i32, u32),
    vertical_offset: (i32, u32),
}

impl CleanAperture {
    /// The aperture as a pixel rectangle `(x, y, width, height)` of a `width` x `height` image,
    /// rounded as libheif rounds it (edges down, size to nearest); an error when it does not fit.
    pub fn rect(&self, width: u32, height: u32) -> Result<(u32, u32, u32, u32)> {
        let (x, w) = aperture_span(self.width, self.horizontal_offset, width).ok_or_else(|| {
            format!("clean aperture {self:?} does not fit a {width}x{height} image")
        })?;
        let (y, h) = aperture_span(self.height, self.vertical_offset, height).ok_or_else(|| {
            format!("clean aperture {self:?} does not fit a {width}x{height} image")
        })?;
        Ok((x, y, w, h))
    }
}

/// Start and length of an aperture of `size` centred `offset` from the middle of `extent`
/// pixels: start = floor(offset + (extent - 1) / 2 - (size - 1) / 2), length = round(size).
fn aperture_span(size: (u32, u32), offset: (i32, u32), extent: u32) -> Option<(u32, u32)> {
    let (sn, sd) = (i128::from(size.0), i128::from(size.1));
    let (on, od) = (i128::from(offset.0), i128::from(offset.1));
    if sd == 0 || od == 0 {
        return None;
    }
    // Over the common denominator 2 * sd * od.
    let denominator = 2 * sd * od;
    let start = 2 * on * sd + (i128::from(extent) - 1) * sd * od - (sn - sd) * od;
    let start = start.div_euclid(denominator);
    let length = (2 * sn + sd).div_euclid(2 * sd);
    if start < 0 || length < 1 || start + length > i128::from(extent) {
        return None;
    }
    Some((u32::try_from(start).ok()?, u32::try_from(length).ok()?))
}

/// Tiles a grid may have (its row and column counts are bytes: 256 x 256).
const MAX_TILES: usize = 256 * 256;

/// Reads the container of `file`.
pub(super) fn parse(file: &[u8]) -> Result<Avif<'_>> {
    let mut brand_ok = false;
    let mut meta = None;
    for entry in boxes(file) {
        let (kind, body) = entry?;
        match &kind {
            b"ftyp" => {
                let mut r = Reader::new(body);
                let major = r.fourcc()?;
                r.u32()?;
                let mut brands = vec![major];
                while r.remaining() >= 4 {
                    brands.push(r.fourcc()?);
                }
                brand_ok = brands.iter().any(|b| b == b"avif" || b == b"avis");
            }
            b"meta" if meta.is_none() => meta = Some(body),
            _ => {}
        }
    }
    if !brand_ok {
        return Err("no `ftyp` box naming the avif brand".into());
    }
    let meta = Meta::read(meta.ok_or("no `meta` box")?)?;
    meta.avif(file)
}

/// Where an item's data is: `iloc`'s construction method, base offset and extents.
struct Location {
    /// 0: offsets into the file; 1: into the `idat` box.
    method: u8,
    extents: Vec<(u64, u64)>,
}

/// The `meta` box's tables, as read.
#[derive(Default)]
struct Meta<'a> {
    primary: Option<u32>,
    types: HashMap<u32, [u8; 4]>,
    locations: HashMap<u32, Location>,
    /// `(type, from, to)` of `iref`.
    references: Vec<([u8; 4], u32, Vec<u32>)>,
    /// `ipco`'s properties, in order (an association's index 1 is the first).
    properties: Vec<([u8; 4], &'a [u8])>,
    /// `ipma`: each item's property indexes, in order.
    associations: HashMap<u32, Vec<u16>>,
    idat: Option<&'a [u8]>,
    handler_pict: bool,
}

impl<'a> Meta<'a> {
    fn read(meta: &'a [u8]) -> Result<Meta<'a>> {
        let mut r = Reader::new(meta);
        r.full_box()?;
        let mut m = Meta::default();
        for entry in boxes(r.rest()) {
            let (kind, body) = entry?;
            match &kind {
                b"hdlr" => {
                    let mut r = Reader::new(body);
                    r.full_box()?;
                    r.u32()?;
                    m.handler_pict = &r.fourcc()? == b"pict";
                }
                b"pitm" => {
                    let mut r = Reader::new(body);
                    let (version, _) = r.full_box()?;
                    m.primary = Some(r.item_id(version == 0)?);
                }
                b"iloc" => m.read_iloc(body)?,
                b"iinf" => m.read_iinf(body)?,
                b"iref" => m.read_iref(body)?,
                b"iprp" => m.read_iprp(body)?,
                b"idat" => m.idat = Some(body),
                _ => {}
            }
        }
        Ok(m)
    }

    fn read_iloc(&mut self, body: &[u8]) -> Result<()> {
        let mut r = Reader::new(body);
        let (version, _) = r.full_box()?;
        if version > 2 {
            return Err(format!("`iloc` version {version}"));
        }
        let sizes = r.u16()?;
        let (offset_size, length_size) = ((sizes >> 12) as u8, ((sizes >> 8) & 15) as u8);
        let (base_size, index_size) = (((sizes >> 4) & 15) as u8, (sizes & 15) as u8);
        let index_size = if version == 0 { 0 } else { index_size };
        let count = if version < 2 {
            u32::from(r.u16()?)
        } else {
            r.u32()?
        };
        for _ in 0..count {
            let id = r.item_id(version < 2)?;
            let method = if version == 0 {
                0
            } else {
                (r.u16()? & 15) as u8
            };
            r.u16()?; // data_reference_index: 0, this file
            let base = r.sized(base_size)?;
            let extent_count = r.u16()?;
            let mut extents = Vec::new();
            for _ in 0..extent_count {
                r.sized(index_size)?;
                let offset = r.sized(offset_size)?;
                let length = r.sized(length_size)?;
                let offset = base.checked_add(offset).ok_or("`iloc` offset overflows")?;
                extents.push((offset, length));
            }
            self.locations.insert(id, Location { method, extents });
        }
        Ok(())
    }

    fn read_iinf(&mut self, body: &[u8]) -> Result<()> {
        let mut r = Reader::new(body);
        let (version, _) = r.full_box()?;
        if version == 0 {
            r.u16()?;
        } else {
            r.u32()?;
        }
        for entry in boxes(r.rest()) {
            let (kind, body) = entry?;
            if &kind != b"infe" {
                continue;
            }
            let mut r = Reader::new(body);
            let (version, _) = r.full_box()?;
            // Versions 0 and 1 name no item type: no image item is described so.
            if version < 2 {
                continue;
            }
            let id = r.item_id(version == 2)?;
            r.u16()?; // item_protection_index
            self.types.insert(id, r.fourcc()?);
        }
        Ok(())
    }

    fn read_iref(&mut self, body: &[u8]) -> Result<()> {
        let mut r = Reader::new(body);
        let (version, _) = r.full_box()?;
        for entry in boxes(r.rest()) {
            let (kind, body) = entry?;
            let mut r = Reader::new(body);
            let from = r.item_id(version == 0)?;
            let count = r.u16()?;
            let to = (0..count)
                .map(|_| r.item_id(version == 0))
                .collect::<Result<Vec<_>>>()?;
            self.references.push((kind, from, to));
        }
        Ok(())
    }

    fn read_iprp(&mut self, body: &'a [u8]) -> Result<()> {
        for entry in boxes(body) {
            let (kind, body) = entry?;
            match &kind {
                b"ipco" => {
                    for property in boxes(body) {
                        self.properties.push(property?);
                    }
                }
                b"ipma" => {
                    let mut r = Reader::new(body);
                    let (version, flags) = r.full_box()?;
                    let count = r.u32()?;
                    for _ in 0..count {
                        let id = r.item_id(version < 1)?;
                        let n = r.u8()?;
                        let mut indexes = Vec::with_capacity(usize::from(n));
                        for _ in 0..n {
                            // The top bit is `essential`.
                            let index = if flags & 1 == 1 {
                                r.u16()? & 0x7fff
                            } else {
                                u16::from(r.u8()? & 0x7f)
                            };
                            indexes.push(index);
                        }
                        self.associations.entry(id).or_default().extend(indexes);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The properties associated with `item`, in order.
    fn properties_of(&self, item: u32) -> impl Iterator<Item = ([u8; 4], &'a [u8])> + '_ {
        self.associations
            .get(&item)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.properties.get(usize::from(i).checked_sub(1)?).copied())
    }

    fn property(&self, item: u32, kind: &[u8; 4]) -> Option<&'a [u8]> {
        self.properties_of(item)
            .find(|(k, _)| k == kind)
            .map(|(_, body)| body)
    }

    /// The items `from` refers to by a reference of `kind`, in order.
    fn referenced(&self, kind: &[u8; 4], from: u32) -> Vec<u32> {
        self.references
            .iter()
            .filter(|(k, f, _)| k == kind && *f == from)
            .flat_map(|(_, _, to)| to.iter().copied())
            .collect()
    }

    /// The items referring to `to` by a reference of `kind`.
    fn referring(&self, kind: &[u8; 4], to: u32) -> impl Iterator<Item = u32> + '_ {
        let kind = *kind;
        self.references
            .iter()
            .filter(move |(k, _, t)| *k == kind && t.contains(&to))
            .map(|(_, from, _)| *from)
    }

    fn data<'f>(&self, file: &'f [u8], item: u32) -> Result<Cow<'f, [u8]>>
    where
        'a: 'f,
    {
        let location = self
            .locations
            .get(&item)
            .ok_or_else(|| format!("item {item} has no location"))?;
        let source: &'f [u8] = match location.method {
            0 => file,
            1 => self
                .idat
                .ok_or_else(|| format!("item {item} is in an absent `idat`"))?,
            m => return Err(format!("item {item}: construction method {m}")),
        };
        let slice = |&(offset, length): &(u64, u64)| -> Result<&'f [u8]> {
            let start = usize::try_from(offset).map_err(|_| "offset too large".to_string())?;
            let end = if length == 0 {
                source.len()
            } else {
                usize::try_from(length)
                    .ok()
                    .and_then(|l| start.checked_add(l))
                    .ok_or_else(|| format!("item {item}: extent too large"))?
            };
            source.get(start..end).ok_or_else(|| {
                format!(
                    "item {item}: extent {start}..{end} beyond the data ({} bytes)",
                    source.len()
                )
            })
        };
        match location.extents.as_slice() {
            [] => Err(format!("item {item} has no extent")),
            [one] => Ok(Cow::Borrowed(slice(one)?)),
            several => {
                let mut out = Vec::new();
                for extent in several {
                    out.extend_from_slice(slice(extent)?);
                }
                Ok(Cow::Owned(out))
            }
        }
    }

    fn image<'f>(&self, file: &'f [u8], item: u32) -> Result<Image<'f>>
    where
        'a: 'f,
    {
        match self.types.get(&item) {
            Some(b"av01") => {
                let ispe = self
                    .property(item, b"ispe")
                    .ok_or_else(|| format!("item {item} has no `ispe`"))?;
                let mut r = Reader::new(ispe);
                r.full_box()?;
                let (width, height) = (r.u32()?, r.u32()?);
                Ok(Image::Coded {
                    data: self.data(file, item)?,
                    width,
                    height,
                })
            }
            Some(b"grid") => {
                let header = self.data(file, item)?;
                let mut r = Reader::new(&header);
                let version = r.u8()?;
                if version != 0 {
                    return Err(format!("grid version {version}"));
                }
                let wide = r.u8()? & 1 == 1;
                let rows = usize::from(r.u8()?) + 1;
                let columns = usize::from(r.u8()?) + 1;
                let (width, height) = if wide {
                    (r.u32()?, r.u32()?)
                } else {
                    (u32::from(r.u16()?), u32::from(r.u16()?))
                };
                let tiles = self.referenced(b"dimg", item);
                if tiles.len() != rows * columns || tiles.len() > MAX_TILES {
                    return Err(format!(
                        "grid item {item} is {rows}x{columns} with {} tiles",
                        tiles.len()
                    ));
                }
                let tiles = tiles
                    .into_iter()
                    .map(|tile| match self.types.get(&tile) {
                        Some(b"av01") => self.data(file, tile),
                        _ => Err(format!("grid tile {tile} is not an AV1 item")),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Image::Grid(Grid {
                    rows,
                    columns,
                    width,
                    height,
                    tiles,
                }))
            }
            Some(other) => Err(format!(
                "item {item} is of type {:?}, not an AV1 image or a grid",
                String::from_utf8_lossy(other)
            )),
            None => Err(format!("item {item} is not described (`infe`)")),
        }
    }

    fn avif<'f>(&self, file: &'f [u8]) -> Result<Avif<'f>>
    where
        'a: 'f,
    {
        if !self.handler_pict {
            return Err("the `meta` handler is not `pict`".into());
        }
        let primary = self.primary.ok_or("no primary item (`pitm`)")?;
        let color = self.image(file, primary)?;
        let alpha_item = self.referring(b"auxl", primary).find(|&item| {
            self.property(item, b"auxC").is_some_and(|body| {
                let urn = body.get(4..).unwrap_or_default();
                let urn = urn.split(|&b| b == 0).next().unwrap_or_default();
                urn == b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha"
                    || urn == b"urn:mpeg:hevc:2015:auxid:1"
            })
        });
        let alpha = alpha_item.map(|item| self.image(file, item)).transpose()?;
        let premultiplied =
            alpha_item.is_some_and(|a| self.referenced(b"prem", primary).contains(&a));
        let mut transforms = Vec::new();
        let mut icc = None;
        for (kind, body) in self.properties_of(primary) {
            let mut r = Reader::new(body);
            match &kind {
                b"irot" => transforms.push(Transform::Rotate(r.u8()? & 3)),
                b"imir" => transforms.push(Transform::Mirror(r.u8()? & 1)),
                b"colr" if icc.is_none() => {
                    if matches!(&r.fourcc()?, b"prof" | b"rICC") {
                        icc = Some(r.rest());
                    }
                }
                b"clap" => {
                    let mut fraction = || -> Result<(u32, u32)> { Ok((r.u32()?, r.u32()?)) };
                    let (width, height) = (fraction()?, fraction()?);
                    let (h, v) = (fraction()?, fraction()?);
                    transforms.push(Transform::Crop(CleanAperture {
                        width,
                        height,
                        // Offsets are signed.
                        horizontal_offset: (h.0 as i32, h.1),
                        vertical_offset: (v.0 as i32, v.1),
                    }));
                }
                _ => {}
            }
        }
        Ok(Avif {
            color,
            alpha,
            premultiplied,
            transforms,
            icc,
        })
    }
}

/// The boxes laid one after another in `data`: `(type, body)` each, or the error that ends
/// them.
fn boxes(data: &[u8]) -> impl Iterator<Item = Result<([u8; 4], &[u8])>> {
    let mut rest = data;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let next = (|| {
            let mut r = Reader::new(rest);
            let size = u64::from(r.u32()?);
            let kind = r.fourcc()?;
            let (header, size) = match size {
                0 => (8, rest.len() as u64),
                1 => (16, r.u64()?),
                n => (8, n),
            };
            let size = usize::try_from(size).map_err(|_| "box too large".to_string())?;
            if size < header || size > rest.len() {
                return Err(format!(
                    "box `{}` of {size} bytes where {} remain",
                    String::from_utf8_lossy(&kind),
                    rest.len()
                ));
            }
            let body = &rest[header..size];
            rest = &rest[size..];
            Ok((kind, body))
        })();
        failed = next.is_err();
        Some(next)
    })
}

/// Big-endian fields read off a byte slice; reading past its end is an error.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data, at: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self
            .data
            .get(self.at..self.at + N)
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or("box ends early")?;
        self.at += N;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.take()?))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take()?))
    }

    fn fourcc(&mut self) -> Result<[u8; 4]> {
        self.take()
    }

    /// An `iloc` field of 0, 4 or 8 bytes.
    fn sized(&mut self, size: u8) -> Result<u64> {
        match size {
            0 => Ok(0),
            4 => Ok(u64::from(self.u32()?)),
            8 => self.u64(),
            n => Err(format!("`iloc` field of {n} bytes")),
        }
    }

    /// An item id: 16 bits in the older box versions, else 32.
    fn item_id(&mut self, short: bool) -> Result<u32> {
        if short {
            Ok(u32::from(self.u16()?))
        } else {
            self.u32()
        }
    }

    /// A full box's version and flags.
    fn full_box(&mut self) -> Result<(u8, u32)> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0xff_ffff))
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.at)
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.at..).unwrap_or_default()
    }
}
