//! `prerender/seeds.pack`: every prerender seed in one file, deduplicated and gzip-compressed.
//!
//! A large app has tens of thousands of seeds (HTML, RSC, segment and data files), many of them
//! identical (`_full.segment.rsc` repeats the page's `.rsc`). One pack file instead of one file per
//! seed makes writing, uploading and serving cheaper; gzip is what `next start` sends to clients
//! that accept it, so the runtime can send these bytes as they are. Blobs are addressed by
//! `(offset, length)` from the manifest.

use std::collections::HashMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};

/// Below this size gzip saves too little to be worth a decompression for clients without gzip.
const MIN_COMPRESS: usize = 512;

/// How a blob's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Stored as is.
    Identity,
    /// A complete gzip member (RFC 1952), servable with `Content-Encoding: gzip`.
    Gzip,
}

/// One distinct seed content in the pack.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    /// Byte offset in the pack file.
    pub offset: u64,
    /// Stored length.
    pub length: u64,
    /// Length once decoded.
    pub size: u64,
    /// How it is stored.
    pub encoding: Encoding,
    /// blake3 of the decoded bytes.
    pub hash: String,
}

/// A seed to pack: where it comes from and who asked for it.
#[derive(Debug, Clone)]
pub struct SeedSource {
    /// Absolute path of the seed Next wrote.
    pub src: PathBuf,
    /// The prerender id (for error messages).
    pub owner: String,
}

/// The written pack: its blobs, and for each source (in order) the index of its blob.
#[derive(Debug, Default)]
pub struct Packed {
    /// Distinct blobs, in pack order.
    pub blobs: Vec<Blob>,
    /// `sources[i]` is stored in `blobs[blob_of[i]]`.
    pub blob_of: Vec<usize>,
    /// Bytes of the pack file.
    pub pack_bytes: u64,
    /// Decoded bytes of all sources (duplicates counted).
    pub raw_bytes: u64,
}

struct Loaded {
    hash: blake3::Hash,
    size: u64,
    stored: Vec<u8>,
    encoding: Encoding,
}

fn load(s: &SeedSource) -> Result<Loaded> {
    let bytes = fs::read(&s.src).map_err(|e| Error::MissingFile {
        output: s.owner.clone(),
        path: s.src.clone(),
        reason: if e.kind() == std::io::ErrorKind::NotFound {
            "does not exist".into()
        } else {
            format!("cannot be read: {e}")
        },
    })?;
    let hash = blake3::hash(&bytes);
    let size = bytes.len() as u64;
    if bytes.len() < MIN_COMPRESS {
        return Ok(Loaded {
            hash,
            size,
            stored: bytes,
            encoding: Encoding::Identity,
        });
    }
    let mut gz = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::new(1));
    gz.write_all(&bytes)
        .and_then(|_| gz.finish())
        .map(|stored| Loaded {
            hash,
            size,
            stored,
            encoding: Encoding::Gzip,
        })
        .map_err(|e| Error::Internal(format!("gzip of {}: {e}", s.src.display())))
}

/// Reads, deduplicates, compresses and writes every source into `pack_path`.
/// Identical contents are stored once; blob order follows the first source that has it.
pub fn write_pack(pack_path: &Path, sources: &[SeedSource]) -> Result<Packed> {
    if sources.is_empty() {
        return Ok(Packed::default());
    }
    let loaded: Vec<Loaded> = sources.par_iter().map(load).collect::<Result<_>>()?;
    if let Some(dir) = pack_path.parent() {
        fs::create_dir_all(dir).map_err(Error::io("create directory", dir))?;
    }
    let file = fs::File::create(pack_path).map_err(Error::io("create", pack_path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut packed = Packed::default();
    let mut index: HashMap<blake3::Hash, usize> = HashMap::new();
    for l in &loaded {
        packed.raw_bytes += l.size;
        let next = packed.blobs.len();
        let blob = *index.entry(l.hash).or_insert(next);
        if blob == next {
            out.write_all(&l.stored)
                .map_err(Error::io("write", pack_path))?;
            packed.blobs.push(Blob {
                offset: packed.pack_bytes,
                length: l.stored.len() as u64,
                size: l.size,
                encoding: l.encoding,
                hash: l.hash.to_hex().to_string(),
            });
            packed.pack_bytes += l.stored.len() as u64;
        }
        packed.blob_of.push(blob);
    }
    out.flush().map_err(Error::io("write", pack_path))?;
    Ok(packed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;

    #[test]
    fn dedups_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let big = "<html>".repeat(500);
        let files = [
            ("a.html", big.as_str()),
            ("b.rsc", "tiny"),
            ("c.html", big.as_str()),
        ];
        let sources: Vec<SeedSource> = files
            .iter()
            .map(|(name, body)| {
                let p = dir.path().join(name);
                fs::write(&p, body).unwrap();
                SeedSource {
                    src: p,
                    owner: (*name).into(),
                }
            })
            .collect();
        let pack = dir.path().join("out/seeds.pack");
        let packed = write_pack(&pack, &sources).unwrap();
        assert_eq!(packed.blobs.len(), 2);
        assert_eq!(packed.blob_of, [0, 1, 0]);
        assert_eq!(packed.raw_bytes, 2 * big.len() as u64 + 4);
        let bytes = fs::read(&pack).unwrap();
        assert_eq!(bytes.len() as u64, packed.pack_bytes);

        let html = &packed.blobs[0];
        assert_eq!(html.encoding, Encoding::Gzip);
        assert!(html.length < html.size / 10);
        let slice = &bytes[html.offset as usize..(html.offset + html.length) as usize];
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(slice)
            .read_to_string(&mut decoded)
            .unwrap();
        assert_eq!(decoded, big);

        let tiny = &packed.blobs[1];
        assert_eq!(tiny.encoding, Encoding::Identity);
        assert_eq!(
            &bytes[tiny.offset as usize..(tiny.offset + tiny.length) as usize],
            b"tiny"
        );
    }

    #[test]
    fn missing_seed_names_the_prerender() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_pack(
            &dir.path().join("p"),
            &[SeedSource {
                src: dir.path().join("gone.html"),
                owner: "/gone".into(),
            }],
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::MissingFile { ref output, .. } if output == "/gone"),
            "{err}"
        );
    }
}
