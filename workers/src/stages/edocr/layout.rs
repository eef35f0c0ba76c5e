//! Layout segmentation of a drawing page, the way eDOCr2 does it: rectangles by
//! contour approximation, a containment tree, clusters of touching rectangles, and
//! the drawing frame from the largest rectangle or from line projections.
//!
//! Classification of rectangle clusters (all thresholds relative to the page):
//! - **frame**: from long lines found by projecting 1×k / k×1 morphological
//!   openings (peaks ≥ 0.8 of the maximum): on each side the innermost line near the
//!   page edge, or, with a zone border (two lines a narrow strip apart holding the
//!   zone labels), the inner of the two ([`frame_from_projections`]); else the
//!   smallest rectangle covering at least half the page (a closed rectangle may be
//!   only the part of the frame above a full-width title block);
//! - **title block**: the table whose box lies nearest the frame's bottom-right corner;
//! - **table**: a cluster of touching rectangles whose box covers more than 2 % of
//!   the page (eDOCr2's rule);
//! - **GD&T frame**: a smaller cluster of two or more cells side by side in one row,
//!   low (height under 4.5 % of the page's shorter side) and at least twice as wide
//!   as high;
//! - **boxed dimension**: a lone small rectangle (one cell);
//! - **view**: a large connected blob of line work inside the frame that is none of
//!   the above.
//!
//! Ink is Otsu's, except on clean rasters whose line work is light gray
//! ([`ink_mask`]).
//!
//! Invariants: every polygon and bbox is in page pixels, clipped to the page; regions
//! come out in the order frame, title block, tables, GD&T frames, boxed dimensions,
//! views.

use drawpipe_core::StageError;
use opencv::core::{self, Mat, Point, Rect, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

/// What a region is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionKind {
    Frame,
    TitleBlock,
    Table,
    GdtFrame,
    BoxedDimension,
    View,
    /// A cell of a zoned border's strip (between the outer border and the inner frame
    /// line, cut by the zone ticks): what lies in it is a zone label.
    BorderStrip,
}

/// One region of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub kind: RegionKind,
    /// Corners top-left, top-right, bottom-right, bottom-left, page pixels.
    pub polygon: [[f32; 2]; 4],
    /// `[x, y, width, height]`, page pixels.
    pub bbox: [f32; 4],
    pub page: u32,
    /// The cells (`[x, y, w, h]`, left to right, top to bottom) of a table, title
    /// block or GD&T frame; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<[f32; 4]>,
}

impl Region {
    fn new(kind: RegionKind, r: Rect, page: u32, cells: Vec<[f32; 4]>) -> Self {
        let b = [r.x as f32, r.y as f32, r.width as f32, r.height as f32];
        Region {
            cells,
            ..Region::over(kind, b, page)
        }
    }

    /// A region without cells over `bbox` (`[x, y, w, h]`, page pixels), found by
    /// other means than the rules on the page.
    pub(super) fn over(kind: RegionKind, bbox: [f32; 4], page: u32) -> Self {
        Region {
            kind,
            polygon: polygon_of(&bbox),
            bbox,
            page,
            cells: Vec::new(),
        }
    }

    /// Whether the centre of `bbox` lies inside this region.
    pub fn contains_centre(&self, bbox: &[f32; 4]) -> bool {
        let (cx, cy) = (bbox[0] + bbox[2] / 2.0, bbox[1] + bbox[3] / 2.0);
        let b = self.bbox;
        cx >= b[0] && cx <= b[0] + b[2] && cy >= b[1] && cy <= b[1] + b[3]
    }
}

/// The four corners of an axis-aligned `[x, y, w, h]`, clockwise from the top-left.
pub fn polygon_of(b: &[f32; 4]) -> [[f32; 2]; 4] {
    [
        [b[0], b[1]],
        [b[0] + b[2], b[1]],
        [b[0] + b[2], b[1] + b[3]],
        [b[0], b[1] + b[3]],
    ]
}

/// Tunables (fractions of the page unless stated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LayoutParams {
    /// Smallest rectangle kept, as a fraction of the page area (default 1e-4:
    /// ≈ 770 px² on an A3 page at 300 DPI, close to eDOCr2's fixed 1000 px²).
    pub min_rect_area: f64,
    /// A cluster whose box covers more than this fraction of the page is a table
    /// (default 0.02, eDOCr2's rule).
    pub table_area: f64,
    /// Highest GD&T frame, as a fraction of the page's shorter side (default 0.045:
    /// frames on the fixture drawings are 0.8–1.2 % high; on A4 sheets, whose
    /// shorter side is small for their text height, 3.3 %).
    pub gdt_max_height: f64,
    /// Largest boxed dimension, as a fraction of the page area (default 0.005).
    pub boxed_max_area: f64,
    /// A line projection counts as a frame line at this fraction of the strongest
    /// (default 0.8, eDOCr2's rule).
    pub frame_peak: f64,
}

impl Default for LayoutParams {
    fn default() -> Self {
        LayoutParams {
            min_rect_area: 1e-4,
            table_area: 0.02,
            gdt_max_height: 0.045,
            boxed_max_area: 0.005,
            frame_peak: 0.8,
        }
    }
}

/// Segments an 8-bit grayscale page (dark line work on light paper).
///
/// # Errors
/// [`StageError::Invalid`] for an empty or non-grayscale page; OpenCV failures.
pub fn analyse(params: &LayoutParams, page: &Mat, index: u32) -> Result<Vec<Region>, StageError> {
    if page.empty() || page.typ() != core::CV_8UC1 {
        return Err(StageError::Invalid(format!(
            "edocr layout: page {index} must be a non-empty 8-bit grayscale image"
        )));
    }
    let (w, h) = (page.cols(), page.rows());
    let page_area = w as f64 * h as f64;
    let bin = ink_mask(page)?;
    let (rects, ruled) = find_cells(&bin, params.min_rect_area * page_area)?;
    // Touching: within a line's thickness or so (0.4 % of the shorter side: 9 px at
    // A3 300 DPI; table rules on the fixtures are 2–5 px).
    let tol = touch_tolerance(w, h);

    let page_rect = Rect::new(0, 0, w, h);
    // Borders with zone strips yield a closed outer rectangle while the inner frame
    // is broken by ticks and the title block.
    let by_rect = rects
        .iter()
        .filter(|r| r.area() as f64 >= 0.5 * page_area)
        .min_by_key(|r| r.area())
        .copied();
    let by_lines = frame_from_projections(&bin, params.frame_peak)?;
    // The lines first: a closed rectangle may be only the part of the frame above
    // a full-width title block, or the outer border.
    let frame = by_lines.or(by_rect).unwrap_or(page_rect);
    let mut regions = vec![Region::new(RegionKind::Frame, frame, index, vec![])];

    // Everything strictly inside the frame (the frame itself and what encloses it
    // are not cells).
    let inner: Vec<Rect> = rects
        .into_iter()
        .filter(|r| (r.area() as f64) < 0.5 * page_area && contains(&grow(&frame, tol), r))
        .collect();
    // A zoned border's strip inside the found frame is not a table: left in, it would
    // join the title block to whatever else touches the strip.
    let strip = border_strip(&inner, &frame, tol, w.min(h) as f64);
    let mut kept = Vec::with_capacity(inner.len());
    for (r, in_strip) in inner.into_iter().zip(strip) {
        if in_strip {
            regions.push(Region::new(RegionKind::BorderStrip, r, index, vec![]));
        } else {
            kept.push(r);
        }
    }
    let inner = kept;
    let clusters = cluster_touching(&inner, tol);

    let mut tables: Vec<(Rect, Vec<Rect>)> = Vec::new();
    let mut gdt = Vec::new();
    let mut boxed = Vec::new();
    let short = w.min(h) as f64;
    for members in clusters {
        let cells = leaf_cells(&members, tol);
        let bb = union_all(&members);
        let area = bb.area() as f64;
        if area > params.table_area * page_area {
            tables.push((bb, cells));
        } else if cells.len() >= 2
            && (bb.height as f64) <= params.gdt_max_height * short
            && bb.width >= 2 * bb.height
            && in_one_row(&cells, tol)
        {
            gdt.push((bb, cells));
        } else if cells.len() == 1 && area <= params.boxed_max_area * page_area {
            boxed.push(bb);
        } else if cells.len() >= 2 && area <= params.table_area * page_area {
            // Small grids that are not one row: small tables (e.g. revision tables).
            tables.push((bb, cells));
        }
    }
    // The title block: the table nearest the frame's bottom-right corner, in the
    // lower half of the frame.
    let corner = (
        (frame.x + frame.width) as f64,
        (frame.y + frame.height) as f64,
    );
    let title = tables
        .iter()
        .enumerate()
        .filter(|(_, (b, _))| (b.y + b.height / 2) > frame.y + frame.height / 2)
        .min_by(|(_, (a, _)), (_, (b, _))| {
            let d = |r: &Rect| {
                let (x, y) = ((r.x + r.width) as f64, (r.y + r.height) as f64);
                (x - corner.0).hypot(y - corner.1)
            };
            d(a).total_cmp(&d(b))
        })
        .map(|(i, _)| i);
    if let Some(i) = title {
        let (b, cells) = tables.remove(i);
        let (b, mut cells) = grow_by_ruled_cells(b, cells, &ruled, &frame, tol);
        // What the grown block took in is its cells, not a table or box of its own.
        let within = |r: &Rect| contains(&grow(&b, tol), r);
        let before = cells.len();
        for (_, c) in tables.iter().chain(&gdt).filter(|(t, _)| within(t)) {
            cells.extend(c);
        }
        cells.extend(boxed.iter().filter(|r| within(r)));
        if cells.len() > before {
            cells = leaf_cells(&cells, tol);
        }
        tables.retain(|(t, _)| !within(t));
        gdt.retain(|(g, _)| !within(g));
        boxed.retain(|r| !within(r));
        regions.push(Region::new(
            RegionKind::TitleBlock,
            b,
            index,
            to_f32(&cells),
        ));
    }
    for (b, cells) in tables {
        regions.push(Region::new(RegionKind::Table, b, index, to_f32(&cells)));
    }
    for (b, cells) in gdt {
        regions.push(Region::new(RegionKind::GdtFrame, b, index, to_f32(&cells)));
    }
    for b in boxed {
        regions.push(Region::new(RegionKind::BoxedDimension, b, index, vec![]));
    }
    for v in find_views(&bin, &frame, &regions)? {
        regions.push(Region::new(RegionKind::View, v, index, vec![]));
    }
    Ok(regions)
}

/// Paper at least this share of a page within [`CLEAN_SPREAD`] levels of the
/// commonest value marks a clean raster (a rendered PDF or CAD export, not a scan).
/// Empirical: the two SolidWorks PDF sheets rendered at 300 DPI are ≈ 94 % pure
/// white; scans spread their paper over tens of levels.
const CLEAN_PAPER: f64 = 0.85;
const CLEAN_SPREAD: i32 = 3;
/// On a clean raster, anything this many levels darker than the paper is ink.
const CLEAN_INK_DROP: i32 = 32;

/// The ink of a page as a binary image (white = ink). Otsu's threshold, except on
/// clean rasters whose line work is drawn in light gray (SolidWorks draws borders,
/// frames and tables at ≈ 192 with black text: Otsu then splits text from
/// everything else and the line work is lost): there any pixel visibly darker than
/// the paper is ink.
pub fn ink_mask(page: &Mat) -> Result<Mat, StageError> {
    let mut bin = Mat::default();
    let otsu = imgproc::threshold(
        page,
        &mut bin,
        0.0,
        255.0,
        imgproc::THRESH_BINARY_INV | imgproc::THRESH_OTSU,
    )
    .map_err(cv)?;
    let mut hist = [0u64; 256];
    for y in 0..page.rows() {
        for &v in page.at_row::<u8>(y).map_err(cv)? {
            hist[v as usize] += 1;
        }
    }
    let total: u64 = hist.iter().sum();
    let mode = (0..256).max_by_key(|&i| hist[i]).unwrap_or(255) as i32;
    let near: u64 = (mode - CLEAN_SPREAD..=mode + CLEAN_SPREAD)
        .filter(|v| (0..256).contains(v))
        .map(|v| hist[v as usize])
        .sum();
    let light = (mode - CLEAN_INK_DROP) as f64;
    let dark: u64 = hist[..=(otsu as usize).min(255)].iter().sum();
    // Between Otsu's threshold and the light one (empty when they cross).
    let gray: u64 = hist
        .iter()
        .enumerate()
        .filter(|&(v, _)| v as f64 > otsu && (v as f64) < light)
        .map(|(_, n)| n)
        .sum();
    // Only when the light line work outweighs the dark ink: antialiased edges of
    // black line work add a fraction of the dark count (0.05–0.25 on the fixture
    // drawings), light-gray line work several times it (≈ 2.4 on the PDF sheets).
    if total == 0 || (near as f64) < CLEAN_PAPER * total as f64 || light <= otsu || gray < dark {
        return Ok(bin);
    }
    imgproc::threshold(page, &mut bin, light, 255.0, imgproc::THRESH_BINARY_INV).map_err(cv)?;
    Ok(bin)
}

/// The tolerance within which two rectangles touch (a ruling line's thickness or
/// so): 0.4 % of the page's shorter side, at least 3 px.
fn touch_tolerance(w: i32, h: i32) -> i32 {
    (0.004 * w.min(h) as f64).max(3.0) as i32
}

/// Axis-aligned rectangles among the contours of a binary image (white = ink):
/// 4-vertex approximations (ε = 2 % of the perimeter) whose corners sit at their
/// bbox's corners and which fill it, of at least `min_area` px². Near-duplicates
/// (the outer and inner edge of one drawn line) are merged, the inner kept.
pub fn find_rectangles(bin: &Mat, min_area: f64) -> Result<Vec<Rect>, StageError> {
    Ok(find_cells(bin, min_area)?.0)
}

/// [`find_rectangles`], and beside them the contours that fail its test but whose
/// bounding box is ruled on all four sides ([`ruled_all_round`]): table cells whose
/// text touches their rules, so that the outline follows the letters in and out.
/// Only a title block takes those ([`grow_by_ruled_cells`]): in a view, part
/// outlines crossed by centre lines are ruled all round too.
fn find_cells(bin: &Mat, min_area: f64) -> Result<(Vec<Rect>, Vec<Rect>), StageError> {
    let mut contours = Vector::<Vector<Point>>::new();
    imgproc::find_contours(
        bin,
        &mut contours,
        imgproc::RETR_LIST,
        imgproc::CHAIN_APPROX_SIMPLE,
        Point::new(0, 0),
    )
    .map_err(cv)?;
    let mut square: Vec<Rect> = Vec::new();
    let mut ruled: Vec<Rect> = Vec::new();
    for c in contours.iter() {
        let b = imgproc::bounding_rect(&c).map_err(cv)?;
        if (b.area() as f64) < min_area || b.width < 8 || b.height < 8 {
            continue;
        }
        let peri = imgproc::arc_length(&c, true).map_err(cv)?;
        let mut approx = Vector::<Point>::new();
        imgproc::approx_poly_dp(&c, &mut approx, 0.02 * peri, true).map_err(cv)?;
        // ~90° corners, axis aligned: every vertex near a bbox corner (within 3 %
        // of the shorter side, at least 3 px).
        let t = ((0.03 * b.width.min(b.height) as f64).max(3.0)) as i32;
        let near = |v: i32, a: i32, z: i32| (v - a).abs() <= t || (v - z).abs() <= t;
        let aligned = approx.len() == 4
            && approx
                .iter()
                .all(|p| near(p.x, b.x, b.x + b.width - 1) && near(p.y, b.y, b.y + b.height - 1));
        if aligned && imgproc::contour_area(&approx, false).map_err(cv)? >= 0.85 * b.area() as f64 {
            square.push(b);
        } else if ruled_all_round(bin, &b)? {
            ruled.push(b);
        }
    }
    // Merge near-duplicates: each side within 1 % of the page's shorter side.
    let tol = ((0.01 * bin.cols().min(bin.rows()) as f64).max(4.0)) as i32;
    let dup = |k: &Rect, r: &Rect| {
        (k.x - r.x).abs() <= tol
            && (k.y - r.y).abs() <= tol
            && (k.x + k.width - r.x - r.width).abs() <= tol
            && (k.y + k.height - r.y - r.height).abs() <= tol
    };
    let dedup = |mut rs: Vec<Rect>, seen: &[Rect]| {
        rs.sort_by_key(|r| r.area());
        let mut kept: Vec<Rect> = Vec::new();
        for r in rs {
            if !kept.iter().chain(seen).any(|k| dup(k, &r)) {
                kept.push(r);
            }
        }
        kept
    };
    let square = dedup(square, &[]);
    let ruled = dedup(ruled, &square);
    Ok((square, ruled))
}

/// Share of a side's pixels that must be ink for [`ruled_all_round`]. Chosen on a
/// synthetic tune drawing (seed 9191, 00006) whose thin, grey title-block rules the
/// ink mask keeps on 74 % of their length.
const RULED_SIDE: f64 = 0.7;

/// How far a rule may run off the level over its length on a page `preprocess` left
/// as it was: it turns pages skewed by 0.3° or more, and tan 0.3° ≈ 0.005.
const LEFT_SKEW: f64 = 0.005;

/// Whether all four sides of a contour's bounding box are drawn lines (at least
/// [`RULED_SIDE`] of each side's pixels ink, counting the two pixels beyond the
/// side): a table cell whose text touches its rules, so that its outline follows
/// the letters in and out and is no quadrilateral, though the cell is one. A view's
/// outline touches its bounding box only here and there; a glyph's bowl (`0`) is
/// ruled all round, and [`grow_by_ruled_cells`] tells it by its shape.
fn ruled_all_round(bin: &Mat, b: &Rect) -> Result<bool, StageError> {
    let (x1, y1) = (b.x + b.width - 1, b.y + b.height - 1);
    // Each side with the two pixels beyond it: a rule drawn between pixel rows is
    // ink on one row here and the next there.
    let sides = [
        (true, b.y, -1, b.x, x1),
        (true, y1, 1, b.x, x1),
        (false, b.x, -1, b.y, y1),
        (false, x1, 1, b.y, y1),
    ];
    for (horizontal, at, out, from, to) in sides {
        // A rule left a little crooked by the scan (pages under 0.3° are not turned
        // upright: 0.5 % of its length) runs from the box's side at one end to a few
        // pixels inside it at the other.
        let inward = (LEFT_SKEW * (to - from) as f64).ceil() as i32;
        let across: Vec<i32> = (-inward..=2).map(|d| d * out).collect();
        if inked_share(bin, horizontal, at, &across, from, to)? < RULED_SIDE {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The share of the positions `from..=to` along a row (`horizontal`) or column at
/// `at` where any of the pixels `at + d` across it (`d` in `across`) is ink.
fn inked_share(
    bin: &Mat,
    horizontal: bool,
    at: i32,
    across: &[i32],
    from: i32,
    to: i32,
) -> Result<f64, StageError> {
    let mut hits = 0;
    for i in from..=to {
        for &d in across {
            let (x, y) = if horizontal { (i, at + d) } else { (at + d, i) };
            let inside = x >= 0 && y >= 0 && x < bin.cols() && y < bin.rows();
            if inside && *bin.at_2d::<u8>(y, x).map_err(cv)? > 0 {
                hits += 1;
                break;
            }
        }
    }
    Ok(hits as f64 / (to - from + 1).max(1) as f64)
}

/// Runs of long straight lines across the page: openings with 1×k (k×1) kernels,
/// k = 1/20 of the side, keep long lines; rows (columns) whose ink count is at
/// least `peak` of the strongest count, grouped into runs of adjacent indices
/// (one drawn line), as `(first, last)` index, in page order.
pub fn strong_lines(bin: &Mat, horizontal: bool, peak: f64) -> Result<Vec<(i32, i32)>, StageError> {
    let (w, h) = (bin.cols(), bin.rows());
    let k = if horizontal {
        Size::new((w / 20).max(20), 1)
    } else {
        Size::new(1, (h / 20).max(20))
    };
    let kernel =
        imgproc::get_structuring_element(imgproc::MORPH_RECT, k, Point::new(-1, -1)).map_err(cv)?;
    let mut lines = Mat::default();
    imgproc::morphology_ex(
        bin,
        &mut lines,
        imgproc::MORPH_OPEN,
        &kernel,
        Point::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value().map_err(cv)?,
    )
    .map_err(cv)?;
    let mut sums = Mat::default();
    // dim 1 reduces each row to one value (row sums), dim 0 each column.
    let dim = if horizontal { 1 } else { 0 };
    core::reduce(&lines, &mut sums, dim, core::REDUCE_SUM, core::CV_32S).map_err(cv)?;
    let v: Vec<i32> = sums.iter::<i32>().map_err(cv)?.map(|(_, x)| x).collect();
    let max = v.iter().copied().max().unwrap_or(0);
    let mut runs: Vec<(i32, i32)> = Vec::new();
    if max == 0 {
        return Ok(runs);
    }
    for (i, &x) in v.iter().enumerate() {
        if (x as f64) < peak * max as f64 {
            continue;
        }
        let i = i as i32;
        match runs.last_mut() {
            Some(r) if r.1 + 1 >= i => r.1 = i,
            _ => runs.push((i, i)),
        }
    }
    Ok(runs)
}

/// The frame from line projections ([`strong_lines`]). On each side the candidates
/// are the lines within the outer 12 % of the page. With a zone border (an outer
/// border and the frame a narrow strip apart, the strip holding only zone labels
/// and ticks) the frame's edge is the second line from the page edge when it lies
/// within [`ZONE_STRIP`] of the first and the first is the outermost line: lines
/// further in (a title block's rules) are not the frame. Otherwise the innermost
/// candidate is the edge (an outer border without zones lies outside it), unless
/// the frame's two other sides run on (90 % ink) to a line further out: then that
/// line is the edge and the one inside it a title block's rule as long as the
/// frame. None unless all four edges are found.
pub fn frame_from_projections(bin: &Mat, peak: f64) -> Result<Option<Rect>, StageError> {
    let (w, h) = (bin.cols(), bin.rows());
    let short = w.min(h) as f64;
    let runs_h = strong_lines(bin, true, peak)?;
    let runs_v = strong_lines(bin, false, peak)?;
    let margin = |n: i32| (0.12 * n as f64) as i32;
    let edges = |runs: &[(i32, i32)], n: i32| -> Option<(i32, i32)> {
        // Inner edges of the lines, as seen from each side.
        let lead: Vec<i32> = runs
            .iter()
            .filter(|r| r.1 < margin(n))
            .map(|r| r.1)
            .collect();
        let mut trail: Vec<i32> = runs
            .iter()
            .filter(|r| r.0 >= n - margin(n))
            .map(|r| n - 1 - r.0)
            .collect();
        trail.sort();
        let pick = |c: &[i32]| -> Option<i32> {
            match c {
                [] => None,
                [a, b, ..] if ((b - a) as f64) <= ZONE_STRIP * short => Some(*b),
                _ => c.last().copied(),
            }
        };
        pick(&lead).zip(pick(&trail).map(|t| n - 1 - t))
    };
    let (Some((mut y0, mut y1)), Some((mut x0, mut x1))) = (edges(&runs_h, h), edges(&runs_v, w))
    else {
        return Ok(None);
    };
    // A line further out that both of the frame's other sides run on to is the
    // frame's edge, and the line picked a rule inside it (a title block as wide as
    // the frame, whose top rule is as long as the frame's).
    let runs_on = |horizontal: bool, at: i32, from: i32, to: i32| -> Result<bool, StageError> {
        Ok(inked_share(bin, horizontal, at, &[-1, 0, 1], from, to)? >= 0.9)
    };
    // Lines (`runs`, across a side of length `n`) further out than `lo` and `hi` that
    // the frame's two other sides, at `sides` (rows where `along`, else columns),
    // run on to.
    let extend = |runs: &[(i32, i32)],
                  n: i32,
                  along: bool,
                  sides: (i32, i32),
                  (mut lo, mut hi): (i32, i32)|
     -> Result<(i32, i32), StageError> {
        let both = |from: i32, to: i32| -> Result<bool, StageError> {
            Ok(runs_on(along, sides.0, from, to)? && runs_on(along, sides.1, from, to)?)
        };
        let mut outer: Vec<i32> = runs
            .iter()
            .filter(|r| r.0 > hi && r.0 >= n - margin(n))
            .map(|r| r.0)
            .collect();
        outer.sort_unstable();
        for c in outer {
            if !both(hi, c)? {
                break;
            }
            hi = c;
        }
        let mut outer: Vec<i32> = runs
            .iter()
            .filter(|r| r.1 < lo && r.1 < margin(n))
            .map(|r| r.1)
            .collect();
        outer.sort_unstable_by(|a, b| b.cmp(a));
        for c in outer {
            if !both(c, lo)? {
                break;
            }
            lo = c;
        }
        Ok((lo, hi))
    };
    (y0, y1) = extend(&runs_h, h, false, (x0, x1), (y0, y1))?;
    (x0, x1) = extend(&runs_v, w, true, (y0, y1), (x0, x1))?;
    if (y1 - y0) * 2 < h || (x1 - x0) * 2 < w {
        return Ok(None);
    }
    Ok(Some(Rect::new(x0, y0, x1 - x0 + 1, y1 - y0 + 1)))
}

/// Widest zone strip between an outer border and the frame, as a fraction of the
/// page's shorter side (default 0.08: ISO 5457 puts zone labels in the 10–20 mm margin, 5–17 mm strips on A4's
/// 210 mm; the SolidWorks sheets here are 5 mm ≈ 2.4 %).
pub const ZONE_STRIP: f64 = 0.08;

/// Views: blobs of line work inside the frame (shrunk by 1 %, so that its border is
/// out) once tables, GD&T frames and boxes are blanked, dilated by 1 % of the
/// shorter side so that a view's strokes join; kept when they cover at least 1 % of
/// the frame.
fn find_views(bin: &Mat, frame: &Rect, regions: &[Region]) -> Result<Vec<Rect>, StageError> {
    let short = bin.cols().min(bin.rows());
    let m = (short / 100).max(2);
    let inner = Rect::new(
        frame.x + m,
        frame.y + m,
        (frame.width - 2 * m).max(1),
        (frame.height - 2 * m).max(1),
    ) & Rect::new(0, 0, bin.cols(), bin.rows());
    if inner.width < 4 || inner.height < 4 {
        return Ok(vec![]);
    }
    let mut work = Mat::roi(bin, inner).map_err(cv)?.try_clone().map_err(cv)?;
    for r in regions.iter().filter(|r| r.kind != RegionKind::Frame) {
        let b = Rect::new(
            r.bbox[0] as i32 - inner.x - m,
            r.bbox[1] as i32 - inner.y - m,
            r.bbox[2] as i32 + 2 * m,
            r.bbox[3] as i32 + 2 * m,
        );
        imgproc::rectangle(&mut work, b, Scalar::all(0.0), -1, imgproc::LINE_8, 0).map_err(cv)?;
    }
    let k = (short / 100).max(3);
    let kernel =
        imgproc::get_structuring_element(imgproc::MORPH_RECT, Size::new(k, k), Point::new(-1, -1))
            .map_err(cv)?;
    let mut dil = Mat::default();
    imgproc::dilate(
        &work,
        &mut dil,
        &kernel,
        Point::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value().map_err(cv)?,
    )
    .map_err(cv)?;
    let mut contours = Vector::<Vector<Point>>::new();
    imgproc::find_contours(
        &dil,
        &mut contours,
        imgproc::RETR_EXTERNAL,
        imgproc::CHAIN_APPROX_SIMPLE,
        Point::new(inner.x, inner.y),
    )
    .map_err(cv)?;
    let min = 0.01 * frame.area() as f64;
    let mut out = Vec::new();
    for c in contours.iter() {
        let b = imgproc::bounding_rect(&c).map_err(cv)?;
        if b.area() as f64 >= min {
            out.push(b);
        }
    }
    out.sort_by_key(|r| (r.y, r.x));
    Ok(out)
}

/// Which rectangles are cells of a zoned border's strip: thin (at most 3 % of the
/// page's shorter side across, at least twice as long), lying against one edge of
/// `frame`, at least two of about the same length (within 35 % of their median: the
/// zone ticks cut the strip evenly; not every zone closes into a rectangle), together
/// running along at least 40 % of that edge. Title-block rows on the frame's edge
/// differ in length and run along less of it.
fn border_strip(rects: &[Rect], frame: &Rect, tol: i32, short: f64) -> Vec<bool> {
    let mut strip = vec![false; rects.len()];
    let max_thick = (0.03 * short) as i32;
    // (touches the edge, thickness, length) per edge: left, right, top, bottom.
    type Edge = fn(&Rect, &Rect, i32) -> bool;
    let edges: [(Edge, bool, i32); 4] = [
        (|r, f, t| (r.x - f.x).abs() <= t, true, frame.height),
        (
            |r, f, t| (r.x + r.width - f.x - f.width).abs() <= t,
            true,
            frame.height,
        ),
        (|r, f, t| (r.y - f.y).abs() <= t, false, frame.width),
        (
            |r, f, t| (r.y + r.height - f.y - f.height).abs() <= t,
            false,
            frame.width,
        ),
    ];
    for (touches, vertical, edge_len) in edges {
        let dims = |r: &Rect| {
            if vertical {
                (r.width, r.height)
            } else {
                (r.height, r.width)
            }
        };
        let cands: Vec<usize> = (0..rects.len())
            .filter(|&i| {
                let (thick, len) = dims(&rects[i]);
                touches(&rects[i], frame, tol) && thick <= max_thick && len >= 2 * thick
            })
            .collect();
        if cands.len() < 2 {
            continue;
        }
        let mut lens: Vec<i32> = cands.iter().map(|&i| dims(&rects[i]).1).collect();
        lens.sort_unstable();
        let median = lens[lens.len() / 2] as f64;
        let even: Vec<usize> = cands
            .into_iter()
            .filter(|&i| ((dims(&rects[i]).1 as f64) - median).abs() <= 0.35 * median)
            .collect();
        let run: i32 = even.iter().map(|&i| dims(&rects[i]).1).sum();
        if even.len() >= 2
            && 5 * run >= 2 * edge_len
            && !under_a_table(rects, &even, vertical, edge_len, tol)
        {
            for i in even {
                strip[i] = true;
            }
        }
    }
    strip
}

/// A title block grown by the cells beside it that only [`find_cells`]' ruled test
/// found (their text touches their rules): a ruled cell inside the frame that
/// touches the block and is no taller than it joins it, until none does; then by
/// the strip between it and the frame's bottom edge where that is one row high.
/// Returns the block's box and its cells (leaf cells of the old ones and those
/// joined).
fn grow_by_ruled_cells(
    mut b: Rect,
    mut cells: Vec<Rect>,
    ruled: &[Rect],
    frame: &Rect,
    tol: i32,
) -> (Rect, Vec<Rect>) {
    let inside = grow(frame, tol);
    let mut joined = vec![false; ruled.len()];
    loop {
        let mut grew = false;
        for (r, j) in ruled.iter().zip(joined.iter_mut()) {
            // Cells are wider than tall and more than a fifth of the block's
            // height; a glyph's bowl (`0`, `O`) is ruled all round too.
            let cell_like = r.width > r.height && 5 * r.height >= b.height && r.height <= b.height;
            if *j || !cell_like || !contains(&inside, r) {
                continue;
            }
            if (grow(&b, tol) & *r).area() > 0 {
                *j = true;
                grew = true;
                b |= *r;
                cells.push(*r);
            }
        }
        if !grew {
            break;
        }
    }
    if joined.iter().any(|j| *j) {
        cells = leaf_cells(&cells, tol);
    }
    // A block stops short of the frame's bottom edge by at most one of its rows
    // (and a half): that strip is its last row, whose rule is the frame's (no
    // table closes it into rectangles) and where nothing else fits.
    let bottom = frame.y + frame.height;
    let gap = bottom - (b.y + b.height);
    let mut heights: Vec<i32> = cells.iter().map(|c| c.height).collect();
    heights.sort_unstable();
    if let Some(&row) = heights.get(heights.len() / 2) {
        if gap > 2 * tol && 2 * gap <= 3 * row {
            let last = Rect::new(b.x, b.y + b.height, b.width, gap);
            cells.push(last);
            b |= last;
        }
    }
    (b, cells)
}

/// Whether a run of thin cells along an edge is a table's row rather than a zone
/// strip: the rectangles that touch them from inside (other than the run's own, and
/// short of the edge's whole length) span every one of them along the edge. A
/// title block's last row on the frame's edge lies under the block's other cells; a
/// zoned strip runs on past the title block beside it.
fn under_a_table(rects: &[Rect], run: &[usize], vertical: bool, edge_len: i32, tol: i32) -> bool {
    let along = |r: &Rect| {
        if vertical {
            (r.y, r.y + r.height)
        } else {
            (r.x, r.x + r.width)
        }
    };
    let touching: Vec<(i32, i32)> = (0..rects.len())
        .filter(|j| !run.contains(j))
        .filter(|&j| {
            10 * along(&rects[j]).1.abs_diff(along(&rects[j]).0) < 9 * edge_len.unsigned_abs()
        })
        .filter(|&j| {
            run.iter()
                .any(|&i| (grow(&rects[i], tol) & rects[j]).area() > 0)
        })
        .map(|j| along(&rects[j]))
        .collect();
    let (Some(lo), Some(hi)) = (
        touching.iter().map(|s| s.0).min(),
        touching.iter().map(|s| s.1).max(),
    ) else {
        return false;
    };
    run.iter().all(|&i| {
        let (a, b) = along(&rects[i]);
        a >= lo - tol && b <= hi + tol
    })
}

/// Groups rectangles that touch or overlap (boxes grown by `tol`), union-find.
pub fn cluster_touching(rects: &[Rect], tol: i32) -> Vec<Vec<Rect>> {
    let n = rects.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let find = crate::geometry::root;
    for (i, ri) in rects.iter().enumerate() {
        let gi = grow(ri, tol);
        for (j, rj) in rects.iter().enumerate().skip(i + 1) {
            if (gi & *rj).area() > 0 {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                parent[a] = b;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<Rect>> = Default::default();
    for (i, r) in rects.iter().enumerate() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(*r);
    }
    groups.into_values().collect()
}

/// The cells of a cluster: rectangles that contain no other member (a table's
/// outline contains its cells), top to bottom, left to right.
fn leaf_cells(members: &[Rect], tol: i32) -> Vec<Rect> {
    let mut cells: Vec<Rect> = members
        .iter()
        .filter(|r| {
            !members
                .iter()
                .any(|o| o != *r && o.area() < r.area() && contains(&grow(r, tol), o))
        })
        .copied()
        .collect();
    cells.sort_by_key(|r| (r.y / tol.max(1), r.x));
    cells
}

/// Whether all cells share one row: tops and bottoms within `2 × tol`.
fn in_one_row(cells: &[Rect], tol: i32) -> bool {
    let (t0, b0) = (cells[0].y, cells[0].y + cells[0].height);
    cells
        .iter()
        .all(|c| (c.y - t0).abs() <= 2 * tol && (c.y + c.height - b0).abs() <= 2 * tol)
}

fn union_all(rs: &[Rect]) -> Rect {
    rs.iter().skip(1).fold(rs[0], |a, b| a | *b)
}

fn grow(r: &Rect, t: i32) -> Rect {
    Rect::new(r.x - t, r.y - t, r.width + 2 * t, r.height + 2 * t)
}

fn contains(outer: &Rect, inner: &Rect) -> bool {
    inner.x >= outer.x
        && inner.y >= outer.y
        && inner.x + inner.width <= outer.x + outer.width
        && inner.y + inner.height <= outer.y + outer.height
}

fn to_f32(rs: &[Rect]) -> Vec<[f32; 4]> {
    rs.iter()
        .map(|r| [r.x as f32, r.y as f32, r.width as f32, r.height as f32])
        .collect()
}

fn cv(e: opencv::Error) -> StageError {
    StageError::Other(format!("edocr layout: opencv: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn blank(w: i32, h: i32) -> Mat {
        Mat::new_rows_cols_with_default(h, w, core::CV_8UC1, Scalar::all(255.0)).unwrap()
    }

    fn rect(m: &mut Mat, x: i32, y: i32, w: i32, h: i32) {
        imgproc::rectangle(
            m,
            Rect::new(x, y, w, h),
            Scalar::all(0.0),
            3,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
    }

    /// A 2000×1400 page with a border at 20 px and the frame at 60 px.
    fn page() -> Mat {
        let mut m = blank(2000, 1400);
        rect(&mut m, 20, 20, 1960, 1360);
        rect(&mut m, 60, 60, 1880, 1280);
        m
    }

    /// A 3-column × 3-row table of 160×50 cells with its top-left at (x, y).
    fn table(m: &mut Mat, x: i32, y: i32) {
        for r in 0..3 {
            for c in 0..3 {
                rect(m, x + c * 160, y + r * 50, 160, 50);
            }
        }
    }

    fn kinds(regions: &[Region]) -> Vec<RegionKind> {
        let mut k: Vec<RegionKind> = regions
            .iter()
            .map(|r| r.kind)
            .filter(|k| *k != RegionKind::View)
            .collect();
        k.sort_by_key(|k| *k as u8);
        k
    }

    #[test]
    fn classifies_synthetic_layouts() {
        use RegionKind::*;
        struct Case {
            name: &'static str,
            draw: fn(&mut Mat),
            want: Vec<RegionKind>,
        }
        let cases = [
            Case {
                name: "frame only",
                draw: |_| {},
                want: vec![Frame],
            },
            Case {
                name: "title block at the bottom right",
                draw: |m| table(m, 1940 - 480, 1340 - 150),
                want: vec![Frame, TitleBlock],
            },
            Case {
                name: "title block and a table at the top left",
                draw: |m| {
                    table(m, 1940 - 480, 1340 - 150);
                    table(m, 100, 100);
                },
                want: vec![Frame, TitleBlock, Table],
            },
            Case {
                name: "gdt frame of three cells",
                draw: |m| {
                    rect(m, 500, 500, 40, 36);
                    rect(m, 540, 500, 90, 36);
                    rect(m, 630, 500, 40, 36);
                },
                want: vec![Frame, GdtFrame],
            },
            Case {
                name: "boxed dimension",
                draw: |m| rect(m, 800, 700, 90, 40),
                want: vec![Frame, BoxedDimension],
            },
            Case {
                name: "everything",
                draw: |m| {
                    table(m, 1940 - 480, 1340 - 150);
                    rect(m, 500, 500, 40, 36);
                    rect(m, 540, 500, 90, 36);
                    rect(m, 800, 700, 90, 40);
                },
                want: vec![Frame, TitleBlock, GdtFrame, BoxedDimension],
            },
        ];
        for c in cases {
            let mut m = page();
            (c.draw)(&mut m);
            let regions = analyse(&LayoutParams::default(), &m, 0).unwrap();
            assert_eq!(kinds(&regions), c.want, "{}: {regions:?}", c.name);
            let f = &regions[0];
            assert_eq!(f.kind, Frame);
            // The inner frame, not the outer border.
            assert!(
                (f.bbox[0] - 60.0).abs() <= 4.0 && (f.bbox[2] - 1880.0).abs() <= 8.0,
                "{}: {f:?}",
                c.name
            );
        }
    }

    /// A SolidWorks-style sheet: outer border and frame 50 px apart with zone ticks
    /// between them, a title block across the frame's full width, everything in
    /// light gray (192) but some black text.
    #[test]
    fn finds_the_inner_frame_of_a_light_gray_zone_border() {
        let (w, h) = (2000, 2800);
        let mut m = blank(w, h);
        let gray = Scalar::all(192.0);
        let r = |m: &mut Mat, x, y, rw, rh| {
            imgproc::rectangle(m, Rect::new(x, y, rw, rh), gray, 6, imgproc::LINE_8, 0).unwrap();
        };
        r(&mut m, 40, 40, w - 80, h - 80);
        r(&mut m, 90, 90, w - 180, h - 180);
        for k in 1..4 {
            let x = k * w / 4;
            for (a, b) in [(40, 90), (h - 90, h - 40)] {
                imgproc::line(
                    &mut m,
                    Point::new(x, a),
                    Point::new(x, b),
                    gray,
                    6,
                    imgproc::LINE_8,
                    0,
                )
                .unwrap();
            }
        }
        // Title block: three rows of four cells across the whole frame.
        let (tx, ty, cw, ch) = (90, h - 90 - 3 * 120, (w - 180) / 4, 120);
        for row in 0..3 {
            for col in 0..4 {
                r(&mut m, tx + col * cw, ty + row * ch, cw, ch);
            }
        }
        // A GD&T frame of three cells, 80 px high (3.3 % of an A4 sheet's width).
        for (x, cw) in [(300, 80), (380, 120), (500, 80)] {
            r(&mut m, x, 1500, cw, 80);
        }
        // Black ink (a block standing in for text) heavy enough that Otsu splits
        // black from gray, and a zone label.
        imgproc::rectangle(
            &mut m,
            Rect::new(800, 800, 400, 150),
            Scalar::all(0.0),
            -1,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        imgproc::put_text(
            &mut m,
            "4",
            Point::new(w / 8, 80),
            imgproc::FONT_HERSHEY_SIMPLEX,
            1.2,
            Scalar::all(0.0),
            3,
            imgproc::LINE_8,
            false,
        )
        .unwrap();
        let regions = analyse(&LayoutParams::default(), &m, 0).unwrap();
        let f = regions[0].bbox;
        assert!(
            (f[0] - 93.0).abs() <= 6.0 && (f[1] - 93.0).abs() <= 6.0,
            "frame {f:?}"
        );
        assert!((f[1] + f[3] - (h - 93) as f32).abs() <= 6.0, "frame {f:?}");
        let t = regions
            .iter()
            .find(|r| r.kind == RegionKind::TitleBlock)
            .unwrap_or_else(|| panic!("no title block: {regions:?}"));
        assert!(t.bbox[1] >= ty as f32 - 6.0 && t.cells.len() >= 12, "{t:?}");
        assert!(
            regions.iter().any(|r| r.kind == RegionKind::GdtFrame),
            "{regions:?}"
        );
    }

    #[test]
    fn a_zoned_strip_inside_the_frame_is_not_a_table() {
        // A frame whose right strip (between the border and the inner line) is cut into
        // six zone cells, and a title block against it at the bottom right.
        let frame = Rect::new(0, 0, 3000, 2000);
        let mut rects: Vec<Rect> = (0..6).map(|k| Rect::new(2950, k * 333, 50, 333)).collect();
        rects.push(Rect::new(2200, 1800, 750, 100));
        rects.push(Rect::new(2200, 1900, 400, 100));
        rects.push(Rect::new(2600, 1900, 350, 100));
        let strip = border_strip(&rects, &frame, 8, 2000.0);
        assert_eq!(
            strip,
            [true, true, true, true, true, true, false, false, false]
        );
        // Title-block rows on the bottom edge are uneven and short of half the edge.
        let rows = [
            Rect::new(1500, 1950, 500, 50),
            Rect::new(2000, 1950, 300, 50),
            Rect::new(2300, 1950, 700, 50),
        ];
        assert_eq!(
            border_strip(&rows, &frame, 8, 2000.0),
            [false, false, false]
        );
    }

    #[test]
    fn gdt_cells_come_left_to_right() {
        let mut m = page();
        rect(&mut m, 500, 500, 40, 36);
        rect(&mut m, 540, 500, 90, 36);
        rect(&mut m, 630, 500, 40, 36);
        let regions = analyse(&LayoutParams::default(), &m, 3).unwrap();
        let g = regions
            .iter()
            .find(|r| r.kind == RegionKind::GdtFrame)
            .unwrap();
        assert_eq!(g.cells.len(), 3);
        assert!(g.cells[0][0] < g.cells[1][0] && g.cells[1][0] < g.cells[2][0]);
        assert_eq!(g.page, 3);
    }

    #[test]
    fn frame_from_projections_without_a_closed_rectangle() {
        let mut m = blank(1000, 800);
        // Four long lines that do not close (gaps at the corners).
        for (a, b) in [
            ((60, 50), (940, 50)),
            ((60, 750), (940, 750)),
            ((50, 60), (50, 740)),
            ((950, 60), (950, 740)),
        ] {
            imgproc::line(
                &mut m,
                Point::new(a.0, a.1),
                Point::new(b.0, b.1),
                Scalar::all(0.0),
                3,
                imgproc::LINE_8,
                0,
            )
            .unwrap();
        }
        let regions = analyse(&LayoutParams::default(), &m, 0).unwrap();
        let f = regions[0].bbox;
        assert!(
            (f[0] - 49.0).abs() <= 3.0 && (f[1] - 49.0).abs() <= 3.0,
            "{f:?}"
        );
        assert!((f[0] + f[2] - 952.0).abs() <= 3.0, "{f:?}");
    }

    /// A title block as wide as the frame: its top rule is as long as the frame's
    /// edges and lies within the outer 12 % of the page, but the frame's sides run
    /// on past it to the frame's bottom edge.
    #[test]
    fn a_title_block_as_wide_as_the_frame_is_inside_it() {
        let mut m = blank(1400, 2000);
        rect(&mut m, 40, 40, 1320, 1920);
        hline(&mut m, 40, 1800, 1360);
        let f = frame_from_projections(&ink_mask(&m).unwrap(), 0.8)
            .unwrap()
            .unwrap();
        assert!((f.y + f.height - 1960).abs() <= 3, "{f:?}");
        let regions = analyse(&LayoutParams::default(), &m, 0).unwrap();
        let frame = regions[0].bbox;
        assert!((frame[1] + frame[3] - 1960.0).abs() <= 3.0, "{frame:?}");
    }

    /// A title block whose labels touch its rules (so that those cells' outlines
    /// follow the letters and are no rectangles), and whose last row is closed by
    /// the frame's bottom edge under a broken rule: the block still spans all its
    /// cells. Without the ruled test only its right-hand column, whose text keeps
    /// clear of the rules, is found.
    #[test]
    fn a_title_block_whose_text_touches_its_rules_is_found_whole() {
        let mut m = blank(2000, 1400);
        rect(&mut m, 40, 40, 1920, 1320);
        let (x0, x1, x2) = (1300, 1600, 1960);
        let rows = [1180, 1240, 1300, 1360];
        for r in 0..2 {
            rect(&mut m, x0, rows[r], x1 - x0, rows[r + 1] - rows[r]);
            rect(&mut m, x1, rows[r], x2 - x1, rows[r + 1] - rows[r]);
            // Labels hanging from the rule in the left-hand cells.
            for k in 0..6 {
                let x = x0 + 10 + 22 * k;
                imgproc::rectangle(
                    &mut m,
                    Rect::new(x, rows[r], 14, 18),
                    Scalar::all(0.0),
                    -1,
                    imgproc::LINE_8,
                    0,
                )
                .unwrap();
            }
        }
        // The last row: its top rule broken, its bottom the frame's edge.
        for (a, b) in [(x0, x0 + 200), (x0 + 260, x2)] {
            hline(&mut m, a, rows[2], b);
        }
        let regions = analyse(&LayoutParams::default(), &m, 0).unwrap();
        let t = regions
            .iter()
            .find(|r| r.kind == RegionKind::TitleBlock)
            .expect("a title block")
            .bbox;
        assert!((t[0] - x0 as f32).abs() <= 6.0, "{t:?}");
        assert!((t[1] - rows[0] as f32).abs() <= 6.0, "{t:?}");
        assert!((t[1] + t[3] - rows[3] as f32).abs() <= 6.0, "{t:?}");
    }

    /// A cell whose top rule a scan left 0.3° off the level (3 pixels over its 650):
    /// the rule runs from the box's top at one end to 3 pixels inside it at the
    /// other, and the cell is still ruled all round. A side with no rule is not.
    #[test]
    fn a_cell_whose_rule_the_scan_left_crooked_is_ruled_all_round() {
        let mut bin =
            Mat::new_rows_cols_with_default(200, 800, core::CV_8UC1, Scalar::all(0.0)).unwrap();
        let ink = |m: &mut Mat, a: (i32, i32), b: (i32, i32)| {
            imgproc::line(
                m,
                Point::new(a.0, a.1),
                Point::new(b.0, b.1),
                Scalar::all(255.0),
                2,
                imgproc::LINE_8,
                0,
            )
            .unwrap();
        };
        ink(&mut bin, (50, 40), (700, 43));
        ink(&mut bin, (50, 130), (700, 130));
        ink(&mut bin, (50, 40), (50, 130));
        let cell = Rect::new(49, 39, 653, 93);
        assert!(!ruled_all_round(&bin, &cell).unwrap());
        ink(&mut bin, (700, 43), (700, 130));
        assert!(ruled_all_round(&bin, &cell).unwrap());
    }

    fn hline(m: &mut Mat, x0: i32, y: i32, x1: i32) {
        imgproc::line(
            m,
            Point::new(x0, y),
            Point::new(x1, y),
            Scalar::all(0.0),
            3,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
    }

    #[test]
    fn finds_a_view() {
        let mut m = page();
        imgproc::circle(
            &mut m,
            Point::new(700, 600),
            200,
            Scalar::all(0.0),
            3,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        let regions = analyse(&LayoutParams::default(), &m, 0).unwrap();
        let v: Vec<&Region> = regions
            .iter()
            .filter(|r| r.kind == RegionKind::View)
            .collect();
        assert_eq!(v.len(), 1, "{regions:?}");
        assert!(v[0].contains_centre(&[690.0, 590.0, 20.0, 20.0]));
    }

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/drawings")
    }

    /// On each real drawing a title block is found in the bottom-right quarter.
    #[test]
    fn finds_the_title_block_on_real_drawings() {
        for name in ["Candle_holder.jpg", "BM_part.jpg", "example_dwg.png"] {
            let img = opencv::imgcodecs::imread(
                &fixtures().join(name).to_string_lossy(),
                opencv::imgcodecs::IMREAD_GRAYSCALE,
            )
            .unwrap();
            let regions = analyse(&LayoutParams::default(), &img, 0).unwrap();
            let t = regions
                .iter()
                .find(|r| r.kind == RegionKind::TitleBlock)
                .unwrap_or_else(|| panic!("{name}: no title block in {regions:?}"));
            let (w, h) = (img.cols() as f32, img.rows() as f32);
            assert!(
                t.bbox[0] + t.bbox[2] > 0.75 * w && t.bbox[1] + t.bbox[3] > 0.75 * h,
                "{name}: title block at {:?}",
                t.bbox
            );
            assert!(t.bbox[2] * t.bbox[3] > 0.02 * w * h, "{name}: {:?}", t.bbox);
        }
    }

    /// Prints the regions found on the fixture drawings:
    /// `cargo test -p drawpipe-workers dump_regions -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn dump_regions() {
        // `DRAWPIPE_DUMP_REGIONS=a.png,b.png` dumps those files instead.
        let paths: Vec<PathBuf> = match std::env::var("DRAWPIPE_DUMP_REGIONS") {
            Ok(list) => list.split(',').map(PathBuf::from).collect(),
            Err(_) => [
                "Candle_holder.jpg",
                "BM_part.jpg",
                "example_dwg.png",
                "Aufspannung.PDF",
                "Elevator_bottom.PDF",
            ]
            .iter()
            .map(|n| fixtures().join(n))
            .collect(),
        };
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let pre = crate::stages::preprocess::run(&Default::default(), &bytes).unwrap();
            let img = crate::stages::decode_page(&pre.pages[0].png).unwrap();
            let bin = ink_mask(&img).unwrap();
            let area = (img.cols() * img.rows()) as f64;
            let big: Vec<Rect> = find_rectangles(&bin, 1e-4 * area)
                .unwrap()
                .into_iter()
                .filter(|r| r.area() as f64 >= 0.5 * area)
                .collect();
            eprintln!("{name} big rects {big:?}");
            eprintln!(
                "{name} h lines {:?}",
                strong_lines(&bin, true, 0.8).unwrap()
            );
            eprintln!(
                "{name} v lines {:?}",
                strong_lines(&bin, false, 0.8).unwrap()
            );
            eprintln!(
                "{name} by lines {:?}",
                frame_from_projections(&bin, 0.8).unwrap()
            );
            for r in analyse(&LayoutParams::default(), &img, 0).unwrap() {
                eprintln!("{name} {:?} {:?} cells {}", r.kind, r.bbox, r.cells.len());
                if std::env::var("DRAWPIPE_DUMP_CELLS").is_ok() {
                    for c in &r.cells {
                        eprintln!("    cell {c:?}");
                    }
                }
            }
        }
    }
}
