//! Media types drawpipe accepts, recognised by their magic bytes (never by the file
//! name or a client's Content-Type), and image dimensions read from headers alone so
//! that oversized images are refused before anything decodes them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A drawing's container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaType {
    Png,
    Jpeg,
    Tiff,
    Bmp,
    Pdf,
    /// AutoCAD Drawing Exchange Format, ASCII or binary.
    Dxf,
}

impl MediaType {
    pub const ALL: [MediaType; 6] = [
        MediaType::Png,
        MediaType::Jpeg,
        MediaType::Tiff,
        MediaType::Bmp,
        MediaType::Pdf,
        MediaType::Dxf,
    ];

    /// The IANA media type, as stored in `drawings.media_type`.
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Png => "image/png",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Tiff => "image/tiff",
            MediaType::Bmp => "image/bmp",
            MediaType::Pdf => "application/pdf",
            MediaType::Dxf => "image/vnd.dxf",
        }
    }

    pub fn from_mime(mime: &str) -> Option<MediaType> {
        MediaType::ALL.into_iter().find(|m| m.mime() == mime)
    }

    pub fn short_name(self) -> &'static str {
        match self {
            MediaType::Png => "PNG",
            MediaType::Jpeg => "JPEG",
            MediaType::Tiff => "TIFF",
            MediaType::Bmp => "BMP",
            MediaType::Pdf => "PDF",
            MediaType::Dxf => "DXF",
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mime())
    }
}

/// Why bytes are not a drawing drawpipe can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SniffError {
    #[error("the upload is empty (0 bytes)")]
    Empty,
    #[error("unsupported file type: the content starts with {0}, which is not PNG, JPEG, TIFF, BMP, PDF or DXF")]
    Unknown(String),
}

/// Recognises the format by magic bytes.
///
/// # Errors
/// [`SniffError::Empty`] for no bytes, [`SniffError::Unknown`] (quoting the first
/// bytes) for anything else that is not one of the five formats.
pub fn sniff(bytes: &[u8]) -> Result<MediaType, SniffError> {
    if bytes.is_empty() {
        return Err(SniffError::Empty);
    }
    let m = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        MediaType::Png
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        MediaType::Jpeg
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        MediaType::Tiff
    } else if bytes.starts_with(b"BM") && bytes.len() >= 26 {
        MediaType::Bmp
    } else if bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        // The PDF spec allows junk before the header within the first 1024 bytes.
        MediaType::Pdf
    } else if is_dxf(bytes) {
        MediaType::Dxf
    } else {
        return Err(SniffError::Unknown(describe_prefix(bytes)));
    };
    Ok(m)
}

/// A binary DXF's sentinel, or an ASCII DXF: group-code/value pairs whose first
/// non-comment pair is `0` / `SECTION` (comments are group 999).
fn is_dxf(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"AutoCAD Binary DXF\r\n\x1a\0") {
        return true;
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let mut lines = head.lines().map(str::trim);
    while let (Some(code), Some(value)) = (lines.next(), lines.next()) {
        match code {
            "999" => continue,
            "0" => return value == "SECTION",
            _ => return false,
        }
    }
    false
}

fn describe_prefix(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("the text {:?}", String::from_utf8_lossy(head))
    } else {
        format!("the bytes {}", hex::encode(head))
    }
}

/// The name a submitted file is stored and listed under: its last path component
/// (`../../etc/passwd` is `passwd`, `C:\scans\a.pdf` is `a.pdf`), with control and
/// bidirectional-override characters (which could forge log lines or disguise an
/// extension) replaced by `_`, trimmed; `None` when nothing is left or only `.`/`..`.
/// Nothing is ever written to disk under this name; it is for people and search.
pub fn clean_filename(name: &str) -> Option<String> {
    let last = name
        .split(['/', '\\'])
        .map(str::trim)
        .rfind(|part| !part.is_empty())?;
    let clean: String = last
        .chars()
        .map(|c| {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || bidi {
                '_'
            } else {
                c
            }
        })
        .collect();
    (!matches!(clean.as_str(), "." | "..")).then_some(clean)
}

/// Width and height in pixels, read from the header only.
///
/// Returns `Ok(None)` for PDF (pages have no pixel size until rendered).
///
/// # Errors
/// A message naming the format and what is missing when the header is truncated
/// or malformed.
pub fn image_dimensions(media: MediaType, b: &[u8]) -> Result<Option<(u64, u64)>, String> {
    let short = || {
        format!(
            "truncated {} header ({} bytes)",
            media.short_name(),
            b.len()
        )
    };
    match media {
        MediaType::Pdf | MediaType::Dxf => Ok(None),
        MediaType::Png => {
            // IHDR is the first chunk: 8 signature, 4 length, 4 type, then w, h.
            if b.len() < 24 || &b[12..16] != b"IHDR" {
                return Err(short());
            }
            Ok(Some((be32(&b[16..20]) as u64, be32(&b[20..24]) as u64)))
        }
        MediaType::Bmp => {
            if b.len() < 26 {
                return Err(short());
            }
            let header_size = le32(&b[14..18]);
            if header_size == 12 {
                Ok(Some((le16(&b[18..20]) as u64, le16(&b[20..22]) as u64)))
            } else {
                let w = le32(&b[18..22]) as i32;
                let h = le32(&b[22..26]) as i32;
                Ok(Some((w.unsigned_abs() as u64, h.unsigned_abs() as u64)))
            }
        }
        MediaType::Jpeg => jpeg_dimensions(b)
            .ok_or_else(|| {
                format!(
                    "malformed or truncated JPEG: no frame header (SOF) in {} bytes",
                    b.len()
                )
            })
            .map(Some),
        MediaType::Tiff => tiff_dimensions(b)
            .ok_or_else(|| {
                format!(
                    "malformed or truncated TIFF: no image width/length tags in {} bytes",
                    b.len()
                )
            })
            .map(Some),
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn jpeg_dimensions(b: &[u8]) -> Option<(u64, u64)> {
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if (0xD0..=0xD9).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = be16(&b[i + 2..i + 4]) as usize;
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            if i + 9 > b.len() {
                return None;
            }
            let h = be16(&b[i + 5..i + 7]) as u64;
            let w = be16(&b[i + 7..i + 9]) as u64;
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}

fn tiff_dimensions(b: &[u8]) -> Option<(u64, u64)> {
    if b.len() < 8 {
        return None;
    }
    let le = b[0] == b'I';
    let u16_at = |o: usize| -> Option<u16> {
        let s = b.get(o..o + 2)?;
        Some(if le { le16(s) } else { be16(s) })
    };
    let u32_at = |o: usize| -> Option<u32> {
        let s = b.get(o..o + 4)?;
        Some(if le { le32(s) } else { be32(s) })
    };
    let ifd = u32_at(4)? as usize;
    let n = u16_at(ifd)? as usize;
    let (mut w, mut h) = (None, None);
    for k in 0..n {
        let e = ifd + 2 + k * 12;
        let tag = u16_at(e)?;
        let typ = u16_at(e + 2)?;
        let val = if typ == 3 {
            u16_at(e + 8)? as u64
        } else {
            u32_at(e + 8)? as u64
        };
        match tag {
            256 => w = Some(val),
            257 => h = Some(val),
            _ => {}
        }
    }
    Some((w?, h?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_cut_to_a_harmless_last_component() {
        let cases = [
            ("drawing.pdf", Some("drawing.pdf")),
            ("../../etc/passwd", Some("passwd")),
            ("C:\\scans\\part 7.tif", Some("part 7.tif")),
            ("dir/", Some("dir")),
            ("a\nFAKE LOG LINE.png", Some("a_FAKE LOG LINE.png")),
            ("invoice\u{202e}gnp.exe", Some("invoice_gnp.exe")),
            ("Ω-teil ⌀20.png", Some("Ω-teil ⌀20.png")),
            ("/", None),
            ("..", None),
            ("x/. ", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(clean_filename(name).as_deref(), want, "{name:?}");
        }
    }

    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&h.to_be_bytes());
        v
    }

    #[test]
    fn sniffs_by_magic_bytes() {
        struct Case {
            bytes: Vec<u8>,
            want: Result<MediaType, SniffError>,
        }
        let cases = [
            Case {
                bytes: png_header(1, 1),
                want: Ok(MediaType::Png),
            },
            Case {
                bytes: vec![0xFF, 0xD8, 0xFF, 0xE0],
                want: Ok(MediaType::Jpeg),
            },
            Case {
                bytes: b"II*\0\x08\0\0\0".to_vec(),
                want: Ok(MediaType::Tiff),
            },
            Case {
                bytes: b"MM\0*\0\0\0\x08".to_vec(),
                want: Ok(MediaType::Tiff),
            },
            Case {
                bytes: b"%PDF-1.7\n".to_vec(),
                want: Ok(MediaType::Pdf),
            },
            Case {
                bytes: b"999\nwritten by a test\n  0\r\nSECTION\r\n  2\r\nHEADER\r\n".to_vec(),
                want: Ok(MediaType::Dxf),
            },
            Case {
                bytes: b"AutoCAD Binary DXF\r\n\x1a\0\0\0".to_vec(),
                want: Ok(MediaType::Dxf),
            },
            Case {
                bytes: b"0\nEOF\n".to_vec(),
                want: Err(SniffError::Unknown("the bytes 300a454f460a".into())),
            },
            Case {
                bytes: vec![],
                want: Err(SniffError::Empty),
            },
            Case {
                bytes: b"hello world".to_vec(),
                want: Err(SniffError::Unknown("the text \"hello wo\"".into())),
            },
        ];
        for c in cases {
            assert_eq!(sniff(&c.bytes), c.want);
        }
    }

    #[test]
    fn reads_dimensions_from_headers() {
        assert_eq!(
            image_dimensions(MediaType::Png, &png_header(50000, 40000)),
            Ok(Some((50000, 40000)))
        );
        assert!(image_dimensions(MediaType::Png, &png_header(1, 1)[..20])
            .unwrap_err()
            .contains("truncated PNG"));
        // Minimal JPEG: SOI, APP0 of length 2, SOF0 with h=300 w=200.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 2, 0xFF, 0xC0, 0, 11, 8, 1, 44, 0, 200, 1, 0x11, 0,
        ];
        assert_eq!(
            image_dimensions(MediaType::Jpeg, &jpeg),
            Ok(Some((200, 300)))
        );
        let mut tiff = b"II*\0\x08\0\0\0".to_vec();
        tiff.extend_from_slice(&2u16.to_le_bytes());
        for (tag, val) in [(256u16, 640u32), (257, 480)] {
            tiff.extend_from_slice(&tag.to_le_bytes());
            tiff.extend_from_slice(&4u16.to_le_bytes());
            tiff.extend_from_slice(&1u32.to_le_bytes());
            tiff.extend_from_slice(&val.to_le_bytes());
        }
        assert_eq!(
            image_dimensions(MediaType::Tiff, &tiff),
            Ok(Some((640, 480)))
        );
    }
}
