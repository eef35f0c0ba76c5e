//! `preprocess`: sniff the type by magic bytes, bound the pixels before decoding,
//! decode (or render PDF pages in a bounded child process), convert to grayscale,
//! apply CLAHE, and hand back page rasters.
//!
//! Invariants: nothing is decoded whose header claims more than
//! [`Params::max_pixels`]; a PDF with more than [`Params::max_pdf_pages`] pages is
//! refused; every failure caused by the input is [`StageError::Invalid`] with a
//! message that names the format and the problem.

use drawpipe_core::media::{self, MediaType};
use drawpipe_core::report::PageInfo;
use drawpipe_core::StageError;
use opencv::core::{Mat, Size, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};
use serde::{Deserialize, Serialize};

use super::contract::{Engines, JobData, Needs, Produced, StageDef, Validate};
use super::PageRaster;
use crate::pdf;
use crate::text_layer::{self, PageLayer};
use drawpipe_core::Stage;
use std::sync::Arc;

/// Tunables, overridable per job under `options.preprocess`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Largest page accepted, in pixels (default 120 megapixels). PDF pages are
    /// rendered at a lower DPI rather than refused.
    pub max_pixels: u64,
    /// Most PDF pages accepted (default 50).
    pub max_pdf_pages: u32,
    /// PDF render resolution (default 300 DPI: scanned A3 drawings need it).
    pub pdf_dpi: f32,
    /// Wall-clock and CPU-time limit per PDF helper process (one page's render, one
    /// page's text), seconds (default 25: real drawing pages render in a few seconds
    /// at 300 DPI; a decompression or operator bomb fails its job within this).
    pub pdf_timeout_secs: u64,
    /// Address-space limit per PDF helper process, MiB (default 4096).
    pub pdf_memory_mib: u64,
    /// CLAHE clip limit (default 3.0, as eDOCr2).
    pub clahe_clip: f64,
    /// CLAHE tile grid (default 8, i.e. 8×8 tiles).
    pub clahe_tiles: i32,
    /// Read a PDF page's own text layer, where it is usable, instead of OCR on its
    /// pixels (default true; false reads every page from its pixels).
    pub text_layer: bool,
    /// Turn a skewed scan upright ([`skew_of`]; default true). Pages with a usable
    /// text layer are left as rendered, so that the layer's boxes stay on them.
    pub deskew: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            max_pixels: 120_000_000,
            max_pdf_pages: 50,
            pdf_dpi: 300.0,
            pdf_timeout_secs: 25,
            pdf_memory_mib: 4096,
            clahe_clip: 3.0,
            clahe_tiles: 8,
            text_layer: true,
            deskew: true,
        }
    }
}

/// What `preprocess` produces: the detected type and the page rasters.
#[derive(Debug, Clone)]
pub struct Output {
    pub media_type: MediaType,
    pub pages: Vec<PageRaster>,
    /// The usable text layers of PDF pages, in page pixels.
    pub text_layer: Vec<PageLayer>,
    /// What a DXF file states (`cad::read`), for a DXF.
    pub cad: Option<crate::cad::CadSummary>,
}

impl Output {
    /// What is stored in `stage_runs.output`: the type and the pages without pixels.
    pub fn summary(&self) -> Summary {
        Summary {
            media_type: self.media_type.mime().to_string(),
            pages: self.pages.iter().map(|p| p.info.clone()).collect(),
            text_layer: self.text_layer.clone(),
            cad: self.cad.clone(),
        }
    }
}

/// `preprocess`'s stored output; the page rasters go to the `pages` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub media_type: String,
    pub pages: Vec<PageInfo>,
    /// The pages whose PDF text layer is usable, and its lines (read by `ocr` instead
    /// of the pixels). Kept in `stage_runs.output`, not in the report.
    #[serde(rename = "_text_layer", default, skip_serializing_if = "Vec::is_empty")]
    pub text_layer: Vec<PageLayer>,
    /// A DXF's own dimensions, GD&T frames, attributes and units (the report's
    /// `cad` key); absent for other types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cad: Option<crate::cad::CadSummary>,
}

impl Validate for Params {}

/// The stage: the drawing's bytes in, page rasters and their summary out.
pub struct Preprocess;

impl StageDef for Preprocess {
    const STAGE: Stage = Stage::Preprocess;
    const NEEDS: Needs = Needs {
        content: true,
        pages: false,
        runs: false,
    };
    type Params = Params;
    type Input = Vec<u8>;
    type Output = Summary;
    type Engine = ();

    fn load(_: &Engines) -> Result<Arc<()>, StageError> {
        Ok(Arc::new(()))
    }

    fn input(mut data: JobData) -> Result<Vec<u8>, StageError> {
        data.take_content(Self::STAGE)
    }

    fn run(_: &(), jobs: Vec<(Params, Vec<u8>)>) -> Vec<Result<Produced<Summary>, StageError>> {
        jobs.into_iter()
            .map(|(params, bytes)| {
                run(&params, &bytes).map(|out| Produced {
                    output: out.summary(),
                    pages: out.pages,
                })
            })
            .collect()
    }
}

/// Runs the stage on a drawing's bytes.
///
/// # Errors
/// [`StageError::Invalid`] for empty, unknown, truncated, corrupt or oversized input
/// and for PDFs that are malformed or have too many pages.
pub fn run(params: &Params, bytes: &[u8]) -> Result<Output, StageError> {
    let media_type = media::sniff(bytes).map_err(|e| StageError::Invalid(e.to_string()))?;
    let mut layers = Vec::new();
    let mut cad = None;
    let pages = match media_type {
        MediaType::Dxf => {
            let sheet = crate::cad::read(bytes).map_err(StageError::Invalid)?;
            let gray = decode_gray(&sheet.png, MediaType::Png)
                .map_err(|e| StageError::Invalid(format!("DXF raster: {e}")))?;
            let raster = finish_page(params, 0, gray, None, false)?;
            // The raster may have been scaled to the pixel bound: the lines follow it.
            let k = raster.info.width as f32 / sheet.width.max(1) as f32;
            let lines: Vec<_> = sheet
                .lines
                .into_iter()
                .map(|mut l| {
                    l.bbox.iter_mut().for_each(|v| *v *= k);
                    l
                })
                .collect();
            if !lines.is_empty() {
                layers.push(PageLayer { page: 0, lines });
            }
            cad = Some(sheet.summary);
            vec![raster]
        }
        MediaType::Pdf => {
            let rendered = pdf::render(bytes, params)?;
            let mut pages = Vec::with_capacity(rendered.len());
            for (i, page) in rendered.into_iter().enumerate() {
                let gray = decode_gray(&page.png, MediaType::Png)
                    .map_err(|e| StageError::Invalid(format!("pdf page {}: {e}", i + 1)))?;
                let lines = text_layer::parse_bbox_layout(&page.layout, gray.cols() as u32);
                // A page read from its text layer stays as rendered: the layer's
                // boxes are on it.
                let usable = text_layer::usable(&lines);
                let raster = finish_page(params, i as u32, gray, Some(page.dpi), !usable)?;
                if usable {
                    layers.push(PageLayer {
                        page: i as u32,
                        lines,
                    });
                }
                pages.push(raster);
            }
            pages
        }
        image => {
            check_image(params, image, bytes)?;
            let gray = decode_gray(bytes, image).map_err(StageError::Invalid)?;
            vec![finish_page(params, 0, gray, image_dpi(image, bytes), true)?]
        }
    };
    Ok(Output {
        media_type,
        pages,
        text_layer: layers,
        cad,
    })
}

/// Header checks before any decoding: dimensions within the bound, and no sign of
/// truncation.
fn check_image(params: &Params, media: MediaType, bytes: &[u8]) -> Result<(), StageError> {
    let (w, h) = media::image_dimensions(media, bytes)
        .map_err(StageError::Invalid)?
        .unwrap_or((0, 0));
    if w == 0 || h == 0 {
        return Err(StageError::Invalid(format!(
            "{} header claims an empty image ({w}×{h})",
            media.short_name()
        )));
    }
    let pixels = w.saturating_mul(h);
    if pixels > params.max_pixels {
        return Err(StageError::Invalid(format!(
            "{} is {w}×{h} pixels ({:.1} megapixels), over the limit of {:.1} megapixels; \
             downscale it or raise options.preprocess.max_pixels",
            media.short_name(),
            pixels as f64 / 1e6,
            params.max_pixels as f64 / 1e6
        )));
    }
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    let truncated = match media {
        MediaType::Png => !tail.windows(4).any(|w| w == b"IEND"),
        MediaType::Jpeg => !tail.windows(2).any(|w| w == [0xFF, 0xD9]),
        _ => false,
    };
    if truncated {
        let what = if media == MediaType::Png {
            "no IEND chunk"
        } else {
            "no end-of-image marker"
        };
        return Err(StageError::Invalid(format!(
            "truncated {}: {what} at the end of its {} bytes; the upload was cut short",
            media.short_name(),
            bytes.len()
        )));
    }
    Ok(())
}

/// Decodes to 8-bit grayscale.
fn decode_gray(bytes: &[u8], media: MediaType) -> Result<Mat, String> {
    let buf = Vector::<u8>::from_slice(bytes);
    let img = imgcodecs::imdecode(&buf, imgcodecs::IMREAD_GRAYSCALE)
        .map_err(|e| format!("corrupt {}: the decoder failed: {e}", media.short_name()))?;
    if img.empty() {
        return Err(format!(
            "corrupt or truncated {}: the decoder could not read the {} bytes",
            media.short_name(),
            bytes.len()
        ));
    }
    Ok(img)
}

/// A page raster from a decoded grayscale page: turned upright where `may_deskew`
/// and the page is skewed, CLAHE applied, stored as PNG.
fn finish_page(
    params: &Params,
    index: u32,
    gray: Mat,
    dpi: Option<f32>,
    may_deskew: bool,
) -> Result<PageRaster, StageError> {
    let other = |e: opencv::Error| StageError::Other(format!("opencv: {e}").into());
    let skew = if params.deskew && may_deskew {
        skew_of(&gray).map_err(other)?
    } else {
        None
    };
    let gray = match skew {
        Some(deg) => turn_upright(&gray, deg).map_err(other)?,
        None => gray,
    };
    let enhanced = clahe(&gray, params.clahe_clip, params.clahe_tiles).map_err(other)?;
    let png = gray_png(&enhanced)?;
    Ok(PageRaster {
        info: PageInfo {
            index,
            width: gray.cols() as u32,
            height: gray.rows() as u32,
            dpi,
            skew_deg: skew.map(|d| (d * 100.0).round() / 100.0),
        },
        png,
    })
}

/// An 8-bit gray page as PNG, written with the `png` crate's fast mode (fdeflate, a
/// DEFLATE made for image rows). The rasters are written once and read a few times,
/// so speed wins over size. libpng through OpenCV at zlib level 1 set up zlib's whole
/// state for every page: on the benchmark's 64×64 pages that was about a seventh of
/// the worker's CPU (perf, `drawpipe-bench --jobs 10000`).
fn gray_png(gray: &impl MatTraitConst) -> Result<Vec<u8>, StageError> {
    let fail = |e: &dyn std::fmt::Display| StageError::Other(format!("png: {e}").into());
    // A region of interest's rows lie apart in memory: copied into one block.
    let copy;
    let pixels = if gray.is_continuous() {
        gray.data_bytes()
    } else {
        copy = gray.try_clone().map_err(|e| fail(&e))?;
        copy.data_bytes()
    }
    .map_err(|e| fail(&e))?;
    let mut out = Vec::with_capacity(pixels.len() / 4 + 1024);
    let mut enc = png::Encoder::new(&mut out, gray.cols() as u32, gray.rows() as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().map_err(|e| fail(&e))?;
    writer.write_image_data(pixels).map_err(|e| fail(&e))?;
    writer.finish().map_err(|e| fail(&e))?;
    Ok(out)
}

/// Skew below this, degrees, is left alone: a CAD rendering is level to the pixel,
/// turning a page resamples every glyph, and the estimate on a level page strays
/// by up to 0.15° (a 820×570 crop of a CAD drawing measured -0.15°).
const MIN_SKEW_DEG: f32 = 0.3;
/// Skew looked for, either way, degrees: a scan fed crooked, not a page on its side.
const MAX_SKEW_DEG: f32 = 5.0;

/// The skew of a page's line work, degrees (positive: lines run down to the right),
/// or none where it is level (under [`MIN_SKEW_DEG`]) or cannot be told. A drawing
/// is ruled along its sheet: the frame, the title block's cells, and most of the
/// line work run level or upright. Lines of at least a quarter of the page's
/// shorter side in ink (Hough transform in 0.05° steps, only within
/// [`MAX_SKEW_DEG`] of level and of upright, on Otsu's ink of the page scaled to at
/// most 1600 px; the 100 strongest of each kind) each give their angle from that
/// axis; the skew is their median weighted by their votes. None where fewer than
/// two lines are found.
pub fn skew_of(gray: &Mat) -> opencv::Result<Option<f32>> {
    // A page under 1000 pixels across is a crop or a thumbnail, no scanned sheet
    // (A4 at 120 DPI is 990 px across): its lines are too short to tell a fraction
    // of a degree.
    let long = gray.cols().max(gray.rows());
    if gray.cols().min(gray.rows()) < 1000 {
        return Ok(None);
    }
    let k = (1600.0 / long as f64).min(1.0);
    let mut scaled = Mat::default();
    let small = if k < 1.0 {
        imgproc::resize(
            gray,
            &mut scaled,
            Size::new(0, 0),
            k,
            k,
            imgproc::INTER_AREA,
        )?;
        &scaled
    } else {
        gray
    };
    let mut ink = Mat::default();
    imgproc::threshold(
        small,
        &mut ink,
        0.0,
        255.0,
        imgproc::THRESH_BINARY_INV | imgproc::THRESH_OTSU,
    )?;
    let short = small.cols().min(small.rows()) as f64;
    // (skew, votes) per line found: level lines have their normal near 90°,
    // upright ones near 0° or 180° (the line x·cos θ + y·sin θ = ρ turned by δ has
    // its normal at 90° + δ, or at δ).
    let mut found: Vec<(f32, f32)> = Vec::new();
    let step = (0.05f64).to_radians();
    let m = (MAX_SKEW_DEG as f64).to_radians();
    let half = std::f64::consts::FRAC_PI_2;
    for (lo, hi, axis) in [
        (half - m, half + m, half),
        (0.0, m, 0.0),
        (
            std::f64::consts::PI - m,
            std::f64::consts::PI - step / 2.0,
            std::f64::consts::PI,
        ),
    ] {
        let mut lines = Vector::<opencv::core::Vec3f>::new();
        imgproc::hough_lines(
            &ink,
            &mut lines,
            1.0,
            step,
            (short / 4.0) as i32,
            0.0,
            0.0,
            lo,
            hi,
        )?;
        found.extend(
            lines
                .iter()
                .take(100)
                .map(|l| (((l[1] as f64 - axis).to_degrees()) as f32, l[2])),
        );
    }
    let total: f32 = found.iter().map(|n| n.1).sum();
    if found.len() < 2 {
        return Ok(None);
    }
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut run = 0.0;
    let skew = found
        .iter()
        .find(|n| {
            run += n.1;
            run >= total / 2.0
        })
        .map_or(0.0, |n| n.0);
    Ok((skew.abs() >= MIN_SKEW_DEG).then_some(skew))
}

/// A box on a page turned upright ([`PageInfo::skew_deg`]) in the pixels of the
/// page as submitted: the box's corners turned back, and the box around them. A box
/// on a page that was not turned is returned as it is.
pub fn box_as_submitted(info: &PageInfo, b: [f32; 4]) -> [f32; 4] {
    let Some(skew) = info.skew_deg else {
        return b;
    };
    let r = (skew as f64).to_radians();
    let (c, s) = (r.cos(), r.sin());
    let (ac, as_) = (c.abs(), s.abs());
    let (nw, nh) = (info.width as f64, info.height as f64);
    // The canvas is (w·c + h·s) × (w·s + h·c): the submitted size, solved back.
    let det = ac * ac - as_ * as_;
    let (w, h) = ((ac * nw - as_ * nh) / det, (ac * nh - as_ * nw) / det);
    // Turned upright, a point moved by -skew about the centre (y down): turning it
    // back is +skew.
    let back = |x: f64, y: f64| {
        let (dx, dy) = (x - nw / 2.0, y - nh / 2.0);
        (c * dx - s * dy + w / 2.0, s * dx + c * dy + h / 2.0)
    };
    let (x0, y0, x1, y1) = (
        b[0] as f64,
        b[1] as f64,
        (b[0] + b[2]) as f64,
        (b[1] + b[3]) as f64,
    );
    let corner = |x: f64, y: f64| {
        let (u, v) = back(x, y);
        [u as f32, v as f32]
    };
    crate::geometry::bbox_of(&[
        corner(x0, y0),
        corner(x1, y0),
        corner(x1, y1),
        corner(x0, y1),
    ])
}

/// The page turned by `-skew` degrees about its centre onto a canvas that holds all
/// of it, the uncovered corners white.
fn turn_upright(gray: &Mat, skew: f32) -> opencv::Result<Mat> {
    let (w, h) = (gray.cols() as f64, gray.rows() as f64);
    let r = (skew as f64).to_radians();
    let (c, s) = (r.cos().abs(), r.sin().abs());
    let (nw, nh) = ((w * c + h * s).ceil(), (w * s + h * c).ceil());
    // OpenCV's positive angle turns the picture counter-clockwise on screen, which
    // lifts a line that runs down to the right (positive skew) back to level.
    let mut m = imgproc::get_rotation_matrix_2d(
        opencv::core::Point2f::new((w / 2.0) as f32, (h / 2.0) as f32),
        skew as f64,
        1.0,
    )?;
    *m.at_2d_mut::<f64>(0, 2)? += (nw - w) / 2.0;
    *m.at_2d_mut::<f64>(1, 2)? += (nh - h) / 2.0;
    let mut out = Mat::default();
    imgproc::warp_affine(
        gray,
        &mut out,
        &m,
        Size::new(nw as i32, nh as i32),
        imgproc::INTER_LINEAR,
        opencv::core::BORDER_CONSTANT,
        opencv::core::Scalar::all(255.0),
    )?;
    Ok(out)
}

/// Contrast-limited adaptive histogram equalisation on an 8-bit grayscale image.
pub fn clahe(gray: &Mat, clip: f64, tiles: i32) -> opencv::Result<Mat> {
    let mut c = imgproc::create_clahe(clip, Size::new(tiles, tiles))?;
    let mut out = Mat::default();
    c.apply(gray, &mut out)?;
    Ok(out)
}

/// Resolution metadata outside this range is taken as absent: no drawing is
/// scanned or rendered below 50 DPI or above 10,000 (a `pHYs` of 1 pixel per metre,
/// or of 4 billion, is a broken or hostile header, not a resolution).
const PLAUSIBLE_DPI: std::ops::RangeInclusive<f32> = 50.0..=10_000.0;

/// DPI from the image's metadata: PNG `pHYs` (metres), JPEG JFIF density; `None`
/// when absent or outside [`PLAUSIBLE_DPI`].
fn image_dpi(media: MediaType, b: &[u8]) -> Option<f32> {
    stated_dpi(media, b).filter(|d| PLAUSIBLE_DPI.contains(d))
}

fn stated_dpi(media: MediaType, b: &[u8]) -> Option<f32> {
    match media {
        MediaType::Png => {
            let pos = b.windows(4).take(64 * 1024).position(|w| w == b"pHYs")?;
            let d = b.get(pos + 4..pos + 13)?;
            let ppu = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
            (d[8] == 1 && ppu > 0).then(|| (ppu as f32 * 0.0254 * 10.0).round() / 10.0)
        }
        MediaType::Jpeg => {
            if b.get(6..11)? != b"JFIF\0" {
                return None;
            }
            let units = *b.get(13)?;
            let x = u16::from_be_bytes([*b.get(14)?, *b.get(15)?]) as f32;
            match units {
                1 if x > 0.0 => Some(x),
                2 if x > 0.0 => Some((x * 2.54 * 10.0).round() / 10.0),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_written_as_png_reads_back_pixel_for_pixel() {
        fn reads_back(img: &Mat, png: &[u8]) {
            let back =
                imgcodecs::imdecode(&Vector::<u8>::from_slice(png), imgcodecs::IMREAD_UNCHANGED)
                    .unwrap();
            assert_eq!(
                (back.cols(), back.rows(), back.channels()),
                (img.cols(), img.rows(), 1)
            );
            let mut diff = Mat::default();
            opencv::core::absdiff(img, &back, &mut diff).unwrap();
            assert_eq!(opencv::core::count_non_zero(&diff).unwrap(), 0);
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/drawings/Candle_holder.jpg");
        let page = imgcodecs::imread(path.to_str().unwrap(), imgcodecs::IMREAD_GRAYSCALE).unwrap();
        reads_back(&page, &gray_png(&page).unwrap());
        // A region of interest: its rows lie apart in memory.
        let roi = Mat::roi(&page, opencv::core::Rect::new(7, 5, 301, 203)).unwrap();
        assert!(!roi.is_continuous());
        reads_back(&roi.try_clone().unwrap(), &gray_png(&roi).unwrap());
    }

    #[test]
    fn a_cad_pdf_brings_its_text_layer_in_page_pixels() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/unseen/Elevator_bottom.PDF");
        let bytes = std::fs::read(path).unwrap();
        let out = run(&Params::default(), &bytes).unwrap();
        assert_eq!(out.text_layer.len(), 1, "one page, one usable layer");
        let layer = &out.text_layer[0];
        let (w, h) = (
            out.pages[0].info.width as f32,
            out.pages[0].info.height as f32,
        );
        let find = |t: &str| layer.lines.iter().find(|l| l.text == t);
        for t in ["90.00", "10.48", "135°", "7.73"] {
            let l = find(t).unwrap_or_else(|| panic!("{t} not in {:?}", layer.lines));
            let [x, y, bw, bh] = l.bbox;
            assert!(
                x >= 0.0 && y >= 0.0 && x + bw <= w && y + bh <= h,
                "{t} at {:?}",
                l.bbox
            );
            // Text boxes a few millimetres high: 15 to 120 pixels at 300 DPI.
            assert!((15.0..120.0).contains(&bh.min(bw)), "{t}: {:?}", l.bbox);
        }
        let off = Params {
            text_layer: false,
            ..Params::default()
        };
        assert!(run(&off, &bytes).unwrap().text_layer.is_empty());
        // A raster has none.
        assert!(run(&Params::default(), &png(40, 30))
            .unwrap()
            .text_layer
            .is_empty());
    }

    fn png(w: i32, h: i32) -> Vec<u8> {
        let img = Mat::new_rows_cols_with_default(h, w, opencv::core::CV_8UC1, 200.into()).unwrap();
        let mut out = Vector::<u8>::new();
        imgcodecs::imencode(".png", &img, &mut out, &Vector::new()).unwrap();
        out.to_vec()
    }

    /// A drawing turned by a known angle is measured at that skew and turned back
    /// level; a level page is left as it is. `--nocapture` prints the estimates.
    #[test]
    fn a_skewed_scan_is_turned_upright() {
        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/drawings");
        for name in ["BM_part.jpg", "Candle_holder.jpg", "example_dwg.png"] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let gray = imgcodecs::imdecode(
                &Vector::<u8>::from_slice(&bytes),
                imgcodecs::IMREAD_GRAYSCALE,
            )
            .unwrap();
            let t = std::time::Instant::now();
            let level = skew_of(&gray).unwrap();
            let ms = t.elapsed().as_secs_f64() * 1e3;
            println!("{name}: level page measured {level:?} in {ms:.0} ms");
            assert_eq!(level, None, "{name}");
            for deg in [2.0f32, -1.2, 0.6] {
                // Turned the other way round: its lines run down to the right by `deg`.
                let skewed = turn_upright(&gray, -deg).unwrap();
                let got = skew_of(&skewed).unwrap();
                println!("{name}: skewed {deg}°, measured {got:?}");
                assert!(
                    got.is_some_and(|g| (g - deg).abs() <= 0.1),
                    "{name} {deg}: {got:?}"
                );
                // Through the stage: the page comes out level and says what it undid.
                let mut jpeg = Vector::<u8>::new();
                imgcodecs::imencode(".jpg", &skewed, &mut jpeg, &Vector::new()).unwrap();
                let out = run(&Params::default(), jpeg.as_slice()).unwrap();
                let info = &out.pages[0].info;
                assert!(
                    info.skew_deg.is_some_and(|g| (g - deg).abs() <= 0.1),
                    "{info:?}"
                );
                let page = crate::stages::decode_page(&out.pages[0].png).unwrap();
                let left = skew_of(&page).unwrap();
                assert_eq!(left, None, "{name} {deg}: still skewed after turning");
                let off = Params {
                    deskew: false,
                    ..Params::default()
                };
                assert_eq!(
                    run(&off, jpeg.as_slice()).unwrap().pages[0].info.skew_deg,
                    None
                );
            }
        }
    }

    /// A box found on a page turned upright lands, turned back, where the same ink
    /// was on the page as submitted.
    #[test]
    fn boxes_on_a_turned_page_map_back_to_the_submitted_one() {
        let mut img =
            Mat::new_rows_cols_with_default(300, 400, opencv::core::CV_8UC1, 255.into()).unwrap();
        let mark = opencv::core::Rect::new(100, 80, 40, 30);
        imgproc::rectangle(&mut img, mark, 0.into(), -1, imgproc::LINE_8, 0).unwrap();
        for skew in [3.0f32, -2.0] {
            let turned = turn_upright(&img, skew).unwrap();
            let mut ink = Mat::default();
            imgproc::threshold(&turned, &mut ink, 128.0, 255.0, imgproc::THRESH_BINARY_INV)
                .unwrap();
            let r = imgproc::bounding_rect(&ink).unwrap();
            let info = PageInfo {
                index: 0,
                width: turned.cols() as u32,
                height: turned.rows() as u32,
                dpi: None,
                skew_deg: Some(skew),
            };
            let b = box_as_submitted(
                &info,
                [r.x as f32, r.y as f32, r.width as f32, r.height as f32],
            );
            let (cx, cy) = (b[0] + b[2] / 2.0, b[1] + b[3] / 2.0);
            assert!(
                (cx - 120.0).abs() <= 1.5 && (cy - 95.0).abs() <= 1.5,
                "{skew}: {b:?}"
            );
            assert!(
                b[2] >= 40.0 && b[2] <= 46.0 && b[3] >= 30.0 && b[3] <= 36.0,
                "{skew}: {b:?}"
            );
        }
        let level = PageInfo {
            index: 0,
            width: 400,
            height: 300,
            dpi: None,
            skew_deg: None,
        };
        assert_eq!(
            box_as_submitted(&level, [1.0, 2.0, 3.0, 4.0]),
            [1.0, 2.0, 3.0, 4.0]
        );
    }

    #[test]
    fn decodes_a_png_into_one_page() {
        let out = run(&Params::default(), &png(40, 30)).unwrap();
        assert_eq!(out.media_type, MediaType::Png);
        assert_eq!(out.pages.len(), 1);
        assert_eq!(
            (out.pages[0].info.width, out.pages[0].info.height),
            (40, 30)
        );
        assert!(out.pages[0].png.starts_with(b"\x89PNG"));
    }

    #[test]
    fn refuses_bad_input_with_a_message() {
        struct Case {
            name: &'static str,
            bytes: Vec<u8>,
            want: &'static str,
        }
        let good = png(40, 30);
        let mut huge = good.clone();
        huge[16..20].copy_from_slice(&50_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&50_000u32.to_be_bytes());
        let cases = [
            Case {
                name: "empty",
                bytes: vec![],
                want: "empty",
            },
            Case {
                name: "text",
                bytes: b"just some text\n".to_vec(),
                want: "unsupported file type",
            },
            Case {
                name: "truncated",
                bytes: good[..good.len() / 2].to_vec(),
                want: "truncated PNG",
            },
            Case {
                name: "huge",
                bytes: huge,
                want: "50000×50000 pixels (2500.0 megapixels)",
            },
            Case {
                name: "garbage pdf",
                bytes: b"%PDF-1.4\nnot really a pdf".to_vec(),
                want: "malformed PDF",
            },
        ];
        for c in cases {
            match run(&Params::default(), &c.bytes) {
                Err(StageError::Invalid(msg)) => assert!(msg.contains(c.want), "{}: {msg}", c.name),
                other => panic!(
                    "{}: expected Invalid, got {:?}",
                    c.name,
                    other.map(|o| o.pages.len())
                ),
            }
        }
    }

    #[test]
    fn reads_png_dpi_and_ignores_absurd_values() {
        // A pHYs chunk of `ppm` pixels per metre after IHDR (8 + 25 bytes).
        let with_phys = |ppm: u32| {
            let mut b = png(10, 10);
            let mut chunk = vec![0, 0, 0, 9];
            chunk.extend_from_slice(b"pHYs");
            chunk.extend_from_slice(&ppm.to_be_bytes());
            chunk.extend_from_slice(&ppm.to_be_bytes());
            chunk.push(1);
            chunk.extend_from_slice(&[0, 0, 0, 0]);
            b.splice(33..33, chunk);
            b
        };
        assert_eq!(image_dpi(MediaType::Png, &with_phys(11811)), Some(300.0));
        assert_eq!(image_dpi(MediaType::Png, &with_phys(1)), None);
        assert_eq!(image_dpi(MediaType::Png, &with_phys(u32::MAX)), None);
    }
}
