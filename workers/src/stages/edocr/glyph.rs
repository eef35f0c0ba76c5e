//! Glyph shapes the recogniser does not know, told apart on the page image: the
//! diameter sign (a ring crossed by a diagonal stroke) and the GD&T characteristic
//! symbols in a frame's first cell.

use drawpipe_core::StageError;
use opencv::core::{self, Mat, Point, Rect, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use super::{cv, is_tall, Line};
use crate::stages::ocr;

/// Text of an upright crop: the page quadrilateral cut out and turned per `turn`.
pub(super) fn upright_crop(img: &Mat, l: &Line) -> Result<Mat, StageError> {
    // crop_line turns tall boxes counter-clockwise itself: upright for text that
    // reads downwards, upside down for text that reads upwards. Whether it did is
    // its own test on the quadrilateral: a slanted one can be tall while the box
    // around it is not.
    let c = ocr::crop_line(img, &l.polygon)?;
    let turned = ocr::turns_tall(&l.polygon);
    if !turned && l.turn != 0 {
        let code = if l.turn == 1 {
            core::ROTATE_90_CLOCKWISE
        } else {
            core::ROTATE_90_COUNTERCLOCKWISE
        };
        let mut r = Mat::default();
        core::rotate(&c, &mut r, code).map_err(cv)?;
        return Ok(r);
    }
    if l.turn == 1 && turned {
        let mut r = Mat::default();
        core::rotate(&c, &mut r, core::ROTATE_180).map_err(cv)?;
        return Ok(r);
    }
    Ok(c)
}

/// Whether one of the first `glyphs` glyphs of a line's upright crop is a diameter
/// sign: a ring
/// crossed by a diagonal stroke, i.e. one connected glyph with two holes whose
/// centres differ both across and along the text by at least a fifth of the glyph
/// (an `8` or `B` stacks its holes vertically; `0`, `O`, `6` have one).
pub(super) fn has_diameter_glyph(img: &Mat, l: &Line, glyphs: usize) -> Result<bool, StageError> {
    let crop = upright_crop(img, l)?;
    diameter_glyph_within(&crop, glyphs)
}

/// [`has_diameter_glyph`] for the first glyph, on an upright text crop (dark text
/// on light paper).
pub fn diameter_glyph_first(crop: &Mat) -> Result<bool, StageError> {
    diameter_glyph_within(crop, 1)
}

/// Whether one of the first `glyphs` glyphs (components at least 40 % of the crop
/// high, or round and at least 60 % as high as the tallest glyph, left to right) of
/// an upright text crop is a diameter sign.
pub fn diameter_glyph_within(crop: &Mat, glyphs: usize) -> Result<bool, StageError> {
    let Some(Glyphs { ink, boxes }) = components(crop)? else {
        return Ok(false);
    };
    // The leftmost components at least 40 % of the crop high (glyphs, not noise or
    // a leader line's end), or, in a crop with room around its text (a small sign
    // in a font that sets it at x-height), round ones (a ring: width 0.75–1.33 times
    // the height; a small `8` of a stacked deviation is narrower) at least 60 % as
    // high as the tallest glyph-shaped one (no wider than twice its height: no line
    // along the text).
    let h = ink.bin.rows();
    let glyph_shaped = |r: &Rect| r.width <= 2 * r.height;
    let tallest = boxes
        .iter()
        .filter(|(_, r)| glyph_shaped(r))
        .map(|(_, r)| r.height)
        .max()
        .unwrap_or(h);
    let mut tall: Vec<(i32, Rect)> = boxes
        .into_iter()
        .filter(|(_, r)| {
            let round = (0.75..=1.33).contains(&(r.width as f64 / r.height as f64));
            r.height as f64 >= 0.4 * h as f64 || (round && r.height as f64 >= 0.6 * tallest as f64)
        })
        .collect();
    tall.sort_by_key(|(_, r)| r.x);
    for &(label, r) in tall.iter().take(glyphs.max(1)) {
        if ring_with_diagonal(&ink.labels, label, r)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the last glyph of an upright text crop is a degree sign, and if so how
/// many full-height glyphs (components at least 40 % of the crop high) stand before
/// it. A degree sign is a small ring raised to the top of the line: one component
/// right of every full-height glyph, 15–60 % of their median height and at most
/// 70 % of it wide, about round (height 0.75–1.3 times its width), its top within the upper quarter of the line and its bottom
/// above 60 % of it, holding one hole of at least a tenth of its box. A `0` (or `o`)
/// is as tall as the digits, or sits on the baseline: `450` is not `45°`. The size
/// and place are those of the sign in ISO 3098 and CAD fonts (its diameter about
/// half the cap height, set at cap height), not fitted to any drawing; the
/// roundness was added after a synthetic tune drawing, where a stacked upper
/// deviation's small `0` after `70` had been taken for the sign.
pub fn degree_glyph_last(crop: &Mat) -> Result<Option<usize>, StageError> {
    let Some(Glyphs { ink, boxes }) = components(crop)? else {
        return Ok(None);
    };
    let h = ink.bin.rows() as f64;
    let (tall, small): (Vec<_>, Vec<_>) = boxes
        .into_iter()
        .partition(|(_, r)| r.height as f64 >= 0.4 * h);
    if tall.is_empty() {
        return Ok(None);
    }
    let median = |mut v: Vec<i32>| {
        v.sort_unstable();
        v[v.len() / 2] as f64
    };
    let text_h = median(tall.iter().map(|(_, r)| r.height).collect());
    let top = median(tall.iter().map(|(_, r)| r.y).collect());
    let right = tall.iter().map(|(_, r)| r.x + r.width).max().unwrap_or(0) as f64;
    // The rightmost small component; specks under 8 % of the text height are noise.
    let Some(&(label, r)) = small
        .iter()
        .filter(|(_, r)| r.width.max(r.height) as f64 >= 0.08 * text_h)
        .max_by_key(|(_, r)| r.x)
    else {
        return Ok(None);
    };
    let (rw, rh) = (r.width as f64, r.height as f64);
    // Round, as the sign is: a small zero of a stacked upper deviation is taller
    // than wide.
    let sized = (0.15 * text_h..=0.6 * text_h).contains(&rh)
        && rw <= 0.7 * text_h
        && (0.75..=1.3).contains(&(rh / rw.max(1.0)));
    let raised = (r.y as f64) <= top + 0.25 * text_h && r.y as f64 + rh <= top + 0.6 * text_h;
    let after = r.x as f64 >= right - 0.1 * text_h;
    if !(sized && raised && after) {
        return Ok(None);
    }
    let ring = holes(&ink.labels, label, r, 0.1)?;
    Ok((ring.len() == 1).then_some(tall.len()))
}

/// Whether an upright text crop read as zeros (and ones) holds drawn rectangles
/// rather than glyphs: a row of a component's pads read `100000`, a box read `0`.
/// The zero-like components (at least 40 % of the crop high, at least 45 % as wide
/// as high, ringing one hole of at least a tenth of their box) are looked at, and
/// each is a rectangle when its ink runs along all four sides of its box: in a band
/// an eighth of its smaller side deep, over at least 80 % of each side. A `0` in
/// any lettering is an oval or a stadium, whose top and bottom bands that deep hold
/// ink over about two thirds of its width at most. True when every zero-like
/// component is such a rectangle and there are at least as many as the reading has
/// zeros (a basic dimension's frame around `10` is a rectangle beside an oval).
pub fn rectangles_read_as_zeros(crop: &Mat, zeros: usize) -> Result<bool, StageError> {
    let Some(Glyphs { ink, boxes }) = components(crop)? else {
        return Ok(false);
    };
    let h = ink.bin.rows() as f64;
    let mut rings = 0;
    for &(label, r) in &boxes {
        let (rw, rh) = (r.width as f64, r.height as f64);
        if rh < 0.4 * h || rw < 0.45 * rh || holes(&ink.labels, label, r, 0.1)?.len() != 1 {
            continue;
        }
        let k = (r.width.min(r.height) / 8).max(1);
        let mask = label_mask(&ink.labels, label, r)?;
        // Per side: the share of positions along it whose band holds ink (the band
        // folded across by its maximum).
        let (cols, rows) = (r.width, r.height);
        let along = |band: Rect, across: i32| -> Result<f64, StageError> {
            let mut folded = Mat::default();
            let roi = Mat::roi(&mask, band).map_err(cv)?;
            core::reduce(&roi, &mut folded, across, core::REDUCE_MAX, -1).map_err(cv)?;
            let n = folded.total().max(1) as f64;
            Ok(core::count_non_zero(&folded).map_err(cv)? as f64 / n)
        };
        let sides = [
            along(Rect::new(0, 0, cols, k), 0)?,
            along(Rect::new(0, rows - k, cols, k), 0)?,
            along(Rect::new(0, 0, k, rows), 1)?,
            along(Rect::new(cols - k, 0, k, rows), 1)?,
        ];
        if sides.iter().any(|&c| c < 0.8) {
            return Ok(false);
        }
        rings += 1;
    }
    Ok(zeros > 0 && rings >= zeros)
}

/// An upright text crop's ink components (label and box), the crop first enlarged
/// to 64 rows when smaller (holes of thin glyphs close up at low resolution); a
/// component spanning the whole crop (a frame line) is left out. `None` for a crop
/// under 8 pixels either way.
fn components(crop: &Mat) -> Result<Option<Glyphs>, StageError> {
    if crop.rows() < 8 || crop.cols() < 8 {
        return Ok(None);
    }
    let scale = (64.0 / crop.rows() as f64).max(1.0);
    let mut big = Mat::default();
    imgproc::resize(
        crop,
        &mut big,
        Size::new(0, 0),
        scale,
        scale,
        imgproc::INTER_CUBIC,
    )
    .map_err(cv)?;
    let ink = ink_components(&big)?;
    let (h, w) = (ink.bin.rows(), ink.bin.cols());
    let mut boxes = Vec::new();
    for i in 1..ink.n {
        let g =
            |c: i32| -> Result<i32, StageError> { Ok(*ink.stats.at_2d::<i32>(i, c).map_err(cv)?) };
        let r = Rect::new(
            g(imgproc::CC_STAT_LEFT)?,
            g(imgproc::CC_STAT_TOP)?,
            g(imgproc::CC_STAT_WIDTH)?,
            g(imgproc::CC_STAT_HEIGHT)?,
        );
        if r.height >= h - 1 && r.width >= w - 1 {
            continue;
        }
        boxes.push((i, r));
    }
    Ok(Some(Glyphs { ink, boxes }))
}

/// A crop's ink and its components' labels and boxes ([`components`]).
struct Glyphs {
    ink: Ink,
    boxes: Vec<(i32, Rect)>,
}

/// Component `label` of a label image, inside `r`, as a mask (255 on its pixels).
fn label_mask(labels: &Mat, label: i32, r: Rect) -> Result<Mat, StageError> {
    let mut mask = Mat::default();
    core::compare(
        &Mat::roi(labels, r).map_err(cv)?,
        &Scalar::all(label as f64),
        &mut mask,
        core::CMP_EQ,
    )
    .map_err(cv)?;
    Ok(mask)
}

/// The holes of component `label` of a label image, inside `r`: each hole's centroid
/// and area, those under `min_frac` of `r`'s area left out.
fn holes(
    labels: &Mat,
    label: i32,
    r: Rect,
    min_frac: f64,
) -> Result<Vec<(f64, f64, f64)>, StageError> {
    let mask = label_mask(labels, label, r)?;
    let mut contours = Vector::<Vector<Point>>::new();
    let mut hierarchy = Vector::<core::Vec4i>::new();
    imgproc::find_contours_with_hierarchy(
        &mask,
        &mut contours,
        &mut hierarchy,
        imgproc::RETR_CCOMP,
        imgproc::CHAIN_APPROX_SIMPLE,
        Point::new(0, 0),
    )
    .map_err(cv)?;
    let min_hole = min_frac * r.area() as f64;
    let mut holes = Vec::new();
    for (i, c) in contours.iter().enumerate() {
        let parent = hierarchy.get(i).map_err(cv)?[3];
        if parent < 0 {
            continue;
        }
        if imgproc::contour_area(&c, false).map_err(cv)? < min_hole {
            continue;
        }
        // Centroids, not box centres: the halves of a ring cut diagonally have
        // nearly the same box.
        let m = imgproc::moments(&c, false).map_err(cv)?;
        if m.m00 <= 0.0 {
            continue;
        }
        holes.push((m.m10 / m.m00, m.m01 / m.m00, m.m00));
    }
    Ok(holes)
}

/// Whether component `label` of a label image, inside `r`, is a ring crossed by a
/// diagonal stroke (see [`has_diameter_glyph`]).
fn ring_with_diagonal(labels: &Mat, label: i32, r: Rect) -> Result<bool, StageError> {
    let holes = holes(labels, label, r, 0.01)?;
    if holes.len() != 2 {
        return Ok(false);
    }
    // Relative to the holes' size, not the component's: a leader line touching the
    // sign joins its component. The halves of a ring cut diagonally have centroids
    // ≈ 0.5 √area apart along each axis; an `8`'s holes are stacked (dx ≈ 0).
    // 0.35 / 0.25 were set on synthetic signs and the fixture drawings' two fonts.
    let (a0, a1) = (holes[0].2, holes[1].2);
    if a0.min(a1) < 0.4 * a0.max(a1) {
        return Ok(false);
    }
    let size = ((a0 + a1) / 2.0).sqrt();
    let dx = (holes[0].0 - holes[1].0).abs();
    let dy = (holes[0].1 - holes[1].1).abs();
    Ok(dx >= 0.35 * size && dy >= 0.25 * size)
}

/// The GD&T characteristic drawn in a frame's first cell, from its shape; None
/// when it is none of the shapes told apart here (the cell's text is used then).
/// Told apart: straightness (one horizontal stroke), perpendicularity (a vertical
/// on a horizontal), flatness (a slanted parallelogram), parallelism (two parallel
/// slanted strokes), circularity (a ring), concentricity (two nested rings),
/// position (a ring with a cross).
pub(super) fn gdt_symbol(img: &Mat, cell: &[f32; 4]) -> Result<Option<&'static str>, StageError> {
    // Inset the cell so that its rules are out.
    let inset = (cell[3] * 0.15).max(2.0);
    let r = Rect::new(
        (cell[0] + inset) as i32,
        (cell[1] + inset) as i32,
        (cell[2] - 2.0 * inset) as i32,
        (cell[3] - 2.0 * inset) as i32,
    ) & Rect::new(0, 0, img.cols(), img.rows());
    if r.width < 4 || r.height < 4 {
        return Ok(None);
    }
    let roi = Mat::roi(img, r).map_err(cv)?.try_clone().map_err(cv)?;
    let bin = otsu_ink(&roi)?;
    let mut contours = Vector::<Vector<Point>>::new();
    let mut hierarchy = Vector::<core::Vec4i>::new();
    imgproc::find_contours_with_hierarchy(
        &bin,
        &mut contours,
        &mut hierarchy,
        imgproc::RETR_CCOMP,
        imgproc::CHAIN_APPROX_SIMPLE,
        Point::new(0, 0),
    )
    .map_err(cv)?;
    let mut outer = Vec::new();
    let mut holes = 0;
    for (i, c) in contours.iter().enumerate() {
        let b = imgproc::bounding_rect(&c).map_err(cv)?;
        if b.area() < 6 {
            continue;
        }
        if hierarchy.get(i).map_err(cv)?[3] >= 0 {
            holes += 1;
        } else {
            outer.push((b, c));
        }
    }
    if outer.is_empty() {
        return Ok(None);
    }
    let ink = union_rects(outer.iter().map(|(b, _)| *b));
    let (w, h) = (ink.width as f64, ink.height as f64);
    let sym = match (outer.len(), holes) {
        (1, 0) if h <= 0.25 * w => Some("straightness"),
        (1, 0) => {
            // ⊥: ink along the bottom row and up the middle column.
            let rows = row_profile(&bin, &ink)?;
            let bottom = rows
                .iter()
                .rev()
                .take((h * 0.3) as usize + 1)
                .copied()
                .max()
                .unwrap_or(0);
            if bottom as f64 >= 0.7 * w && h >= 0.5 * w {
                Some("perpendicularity")
            } else {
                None
            }
        }
        (1, 1) => {
            let area = imgproc::contour_area(&outer[0].1, false).map_err(cv)?;
            let mut approx = Vector::<Point>::new();
            let peri = imgproc::arc_length(&outer[0].1, true).map_err(cv)?;
            imgproc::approx_poly_dp(&outer[0].1, &mut approx, 0.04 * peri, true).map_err(cv)?;
            if approx.len() == 4 && area < 0.85 * ink.area() as f64 {
                Some("flatness")
            } else if approx.len() > 6 {
                Some("circularity")
            } else {
                None
            }
        }
        (2, 0) if h >= 0.5 * w => Some("parallelism"),
        (1, 2) | (2, 2) => Some("concentricity"),
        (1, 4) => Some("position"),
        _ => None,
    };
    Ok(sym.map(gdt_char))
}

/// The Unicode sign of a characteristic, as [`parse::parse_gdt`] reads it.
fn gdt_char(name: &str) -> &'static str {
    match name {
        "straightness" => "⏤",
        "perpendicularity" => "⊥",
        "flatness" => "⏥",
        "parallelism" => "∥",
        "circularity" => "○",
        "concentricity" => "◎",
        "position" => "⌖",
        _ => "",
    }
}

fn union_rects(mut it: impl Iterator<Item = Rect>) -> Rect {
    let first = it.next().unwrap_or_default();
    it.fold(first, |a, b| a | b)
}

/// Ink pixels per row inside `r` of a binary image.
fn row_profile(bin: &Mat, r: &Rect) -> Result<Vec<i32>, StageError> {
    let roi = Mat::roi(bin, *r).map_err(cv)?;
    let mut out = Vec::with_capacity(r.height as usize);
    for y in 0..r.height {
        let row = roi.row(y).map_err(cv)?;
        out.push(core::count_non_zero(&row).map_err(cv)?);
    }
    Ok(out)
}

/// The ink of a crop (Otsu, dark on light) and its 8-connected components.
struct Ink {
    bin: Mat,
    labels: Mat,
    stats: Mat,
    n: i32,
}

/// A crop's ink, dark on light: Otsu's threshold, ink 255.
pub(super) fn otsu_ink(crop: &impl core::ToInputArray) -> Result<Mat, StageError> {
    let mut bin = Mat::default();
    imgproc::threshold(
        crop,
        &mut bin,
        0.0,
        255.0,
        imgproc::THRESH_BINARY_INV | imgproc::THRESH_OTSU,
    )
    .map_err(cv)?;
    Ok(bin)
}

fn ink_components(crop: &impl core::ToInputArray) -> Result<Ink, StageError> {
    let bin = otsu_ink(crop)?;
    let mut labels = Mat::default();
    let mut stats = Mat::default();
    let mut centroids = Mat::default();
    let n = imgproc::connected_components_with_stats(
        &bin,
        &mut labels,
        &mut stats,
        &mut centroids,
        8,
        core::CV_32S,
    )
    .map_err(cv)?;
    Ok(Ink {
        bin,
        labels,
        stats,
        n,
    })
}

/// The groups of glyphs in a line's upright crop that lie apart: each group's ink
/// extent `[left, top, right, bottom]` as shares of the crop's width and height (0
/// to 1), left to right, split wherever the paper between two glyphs is wider than
/// `gap` times the tallest glyph (1.5: two dimensions of a chain read as one line,
/// `8` and `10` with the arrows of their dimension lines between). Ink as wide as the
/// crop is tall, as tall as the crop, or a thin stroke the crop's top or bottom edge
/// cuts is line work and no glyph. Empty when no glyph is found.
pub(super) fn glyph_groups(img: &Mat, l: &Line, gap: f32) -> Result<Vec<[f32; 4]>, StageError> {
    let crop = upright_crop(img, l)?;
    if crop.rows() < 8 || crop.cols() < 8 {
        return Ok(vec![]);
    }
    let rows = crop.rows();
    let mut glyphs = glyph_boxes(&crop)?;
    glyphs.sort_by_key(|g| g[0]);
    let Some(tallest) = glyphs.iter().map(|g| g[3] - g[1]).max() else {
        return Ok(vec![]);
    };
    let mut groups: Vec<[i32; 4]> = Vec::new();
    for g in glyphs {
        match groups.last_mut() {
            Some(e) if (g[0] - e[2]) as f32 <= gap * tallest as f32 => {
                *e = [e[0], e[1].min(g[1]), e[2].max(g[2]), e[3].max(g[3])];
            }
            _ => groups.push(g),
        }
    }
    let (cols, rows) = (crop.cols() as f32, rows as f32);
    Ok(groups
        .into_iter()
        .map(|g| {
            [
                g[0] as f32 / cols,
                g[1] as f32 / rows,
                g[2] as f32 / cols,
                g[3] as f32 / rows,
            ]
        })
        .collect())
}

/// The glyphs of a crop of level text (`[left, top, right, bottom]`, crop pixels):
/// its ink components, specks under 4 pixels left out, and line work: ink as wide
/// as the crop is tall, as tall as the crop, or a thin stroke the crop's top or
/// bottom edge cuts.
fn glyph_boxes(crop: &Mat) -> Result<Vec<[i32; 4]>, StageError> {
    let Ink { stats, n, .. } = ink_components(crop)?;
    let stat =
        |i: i32, c: i32| -> Result<i32, StageError> { Ok(*stats.at_2d::<i32>(i, c).map_err(cv)?) };
    let rows = crop.rows();
    let mut glyphs = Vec::new();
    for i in 1..n {
        let (w, h) = (
            stat(i, imgproc::CC_STAT_WIDTH)?,
            stat(i, imgproc::CC_STAT_HEIGHT)?,
        );
        if stat(i, imgproc::CC_STAT_AREA)? < 4 || w >= rows || h >= rows - 1 {
            continue;
        }
        let (left, top) = (
            stat(i, imgproc::CC_STAT_LEFT)?,
            stat(i, imgproc::CC_STAT_TOP)?,
        );
        // A thin stroke cut by the crop's top or bottom edge: an extension line
        // reaching into the box (the detector's box holds its glyphs with room).
        if 5 * w <= rows && (top == 0 || top + h >= rows) {
            continue;
        }
        glyphs.push([left, top, left + w, top + h]);
    }
    Ok(glyphs)
}

/// The page box of the glyphs in an upright box `b` (level, or tall or `vertical`:
/// text written up or down the page), with a margin of a tenth of their height:
/// the detector's box is the text's grown by a margin that is large beside a short
/// text's size (a `6` 13 pixels wide in a box 37 wide). `None` where the box is too small, or
/// where fewer glyphs than the reading's `chars` characters are found (a glyph
/// touching line work is one component with it and left out, so its ink cannot
/// tell where the text ends), or where no glyph's larger side reaches `least`
/// pixels (a glyph set sideways in a level box, wider than the box is high, is no
/// glyph here, and what is left of it is a speck).
pub(super) fn glyph_extent(
    img: &Mat,
    b: &[f32; 4],
    chars: usize,
    least: f32,
    vertical: bool,
) -> Result<Option<[f32; 4]>, StageError> {
    let x0 = b[0].max(0.0) as i32;
    let y0 = b[1].max(0.0) as i32;
    let x1 = ((b[0] + b[2]) as i32).min(img.cols());
    let y1 = ((b[1] + b[3]) as i32).min(img.rows());
    if x1 - x0 < 8 || y1 - y0 < 8 {
        return Ok(None);
    }
    let roi = Mat::roi(img, Rect::new(x0, y0, x1 - x0, y1 - y0)).map_err(cv)?;
    // Tall text, and text read turned in a box about as tall as wide, is looked
    // at across its own lines: the transposed crop's rows run across the text as
    // a level crop's do (which way it reads does not matter).
    let tall = vertical || is_tall(b);
    let mut crop = Mat::default();
    if tall {
        core::transpose(&roi, &mut crop).map_err(cv)?;
    } else {
        roi.copy_to(&mut crop).map_err(cv)?;
    }
    let glyphs = glyph_boxes(&crop)?;
    let largest = glyphs
        .iter()
        .map(|g| (g[3] - g[1]).max(g[2] - g[0]))
        .max()
        .unwrap_or(0);
    if glyphs.len() < chars.max(1) || (largest as f32) < least {
        return Ok(None);
    }
    let u = glyphs
        .iter()
        .fold([i32::MAX, i32::MAX, i32::MIN, i32::MIN], |e, g| {
            [
                e[0].min(g[0]),
                e[1].min(g[1]),
                e[2].max(g[2]),
                e[3].max(g[3]),
            ]
        });
    let m = (u[3] - u[1]) as f32 / 10.0;
    // Back to the page: a transposed crop's columns are the page's rows.
    let [l, t, r, btm] = if tall { [u[1], u[0], u[3], u[2]] } else { u };
    let ex0 = ((x0 + l) as f32 - m).max(b[0]);
    let ey0 = ((y0 + t) as f32 - m).max(b[1]);
    let ex1 = ((x0 + r) as f32 + m).min(b[0] + b[2]);
    let ey1 = ((y0 + btm) as f32 + m).min(b[1] + b[3]);
    Ok((ex1 > ex0 && ey1 > ey0).then_some([ex0, ey0, ex1 - ex0, ey1 - ey0]))
}

/// Whether a one-character box's ink belongs to line work rather than a glyph: the
/// ink component holding most of the box's ink runs on beyond the box by more than a
/// third of the box's size (an arrowhead on its dimension line read as `4`, a circle
/// or a hole mark read as `0` or `9`). A glyph's strokes end within its box; text
/// that is not touching the lines around it stays a component of its own.
pub(super) fn is_line_work(img: &Mat, b: &[f32; 4]) -> Result<bool, StageError> {
    let (bw, bh) = (b[2].max(1.0), b[3].max(1.0));
    let margin = bw.max(bh);
    let x0 = (b[0] - margin).max(0.0) as i32;
    let y0 = (b[1] - margin).max(0.0) as i32;
    let x1 = ((b[0] + bw + margin) as i32).min(img.cols());
    let y1 = ((b[1] + bh + margin) as i32).min(img.rows());
    if x1 - x0 < 2 || y1 - y0 < 2 {
        return Ok(false);
    }
    let roi = Mat::roi(img, Rect::new(x0, y0, x1 - x0, y1 - y0)).map_err(cv)?;
    let Ink {
        bin,
        labels,
        stats,
        n,
    } = ink_components(&roi)?;
    if n < 2 {
        return Ok(false);
    }
    // The box in the crop's coordinates; the label with most ink inside it.
    let (ix0, iy0) = ((b[0] as i32 - x0).max(0), (b[1] as i32 - y0).max(0));
    let (ix1, iy1) = (
        ((b[0] + bw) as i32 - x0).min(bin.cols()),
        ((b[1] + bh) as i32 - y0).min(bin.rows()),
    );
    let mut count = vec![0u32; n as usize];
    for y in iy0..iy1 {
        for x in ix0..ix1 {
            let l = *labels.at_2d::<i32>(y, x).map_err(cv)?;
            if l > 0 {
                count[l as usize] += 1;
            }
        }
    }
    let Some((main, _)) = count
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, c)| **c > 0)
        .max_by_key(|(_, c)| **c)
    else {
        return Ok(false);
    };
    let (ox, oy) = ((bw / 3.0) as i32, (bh / 3.0) as i32);
    runs_beyond(&stats, main as i32, [ix0, iy0, ix1, iy1], ox, oy)
}

/// Whether ink component `k` (its `stats` row) reaches more than `ox` beyond the
/// box `[x0, y0, x1, y1]` (crop coordinates) on the left or right, or more than `oy`
/// above or below it.
fn runs_beyond(stats: &Mat, k: i32, b: [i32; 4], ox: i32, oy: i32) -> Result<bool, StageError> {
    let g = |c: i32| -> Result<i32, StageError> { Ok(*stats.at_2d::<i32>(k, c).map_err(cv)?) };
    let (left, top) = (g(imgproc::CC_STAT_LEFT)?, g(imgproc::CC_STAT_TOP)?);
    let (right, bottom) = (
        left + g(imgproc::CC_STAT_WIDTH)?,
        top + g(imgproc::CC_STAT_HEIGHT)?,
    );
    Ok(left < b[0] - ox || right > b[2] + ox || top < b[1] - oy || bottom > b[3] + oy)
}

/// The box of a line with its first (`at_start`, in reading order) or last glyph
/// cut off, where that glyph is line work: a dimension line's stub and its arrow
/// read as a `1` before `18.3` written upwards. Only for a level line read level
/// or a tall line read along it, in an upright box. The ink inside the box is
/// split into connected components of the page around it; the one that comes
/// first (or last) along the reading direction is line work when it runs on
/// beyond the box by more than a third of the box's shorter side, spans less than
/// half the box's length, and other ink lies past it. None otherwise.
pub(super) fn box_without_line_work_end(
    img: &Mat,
    l: &Line,
    at_start: bool,
) -> Result<Option<[f32; 4]>, StageError> {
    let b = l.bbox;
    let tall = is_tall(&b);
    // +1: reading runs to larger x (level) or y (downwards); -1: upwards.
    let dir = match (tall, l.turn) {
        (false, 0) | (true, -1) => 1,
        (true, 1) => -1,
        _ => return Ok(None),
    };
    if crate::geometry::polygon_area(&l.polygon) < 0.9 * b[2] * b[3] {
        return Ok(None);
    }
    let short = b[2].min(b[3]);
    let x0 = (b[0] - short).max(0.0) as i32;
    let y0 = (b[1] - short).max(0.0) as i32;
    let x1 = ((b[0] + b[2] + short) as i32).min(img.cols());
    let y1 = ((b[1] + b[3] + short) as i32).min(img.rows());
    if x1 - x0 < 4 || y1 - y0 < 4 {
        return Ok(None);
    }
    let roi = Mat::roi(img, Rect::new(x0, y0, x1 - x0, y1 - y0)).map_err(cv)?;
    let Ink {
        labels, stats, n, ..
    } = ink_components(&roi)?;
    // The box in the crop's coordinates.
    let (ix0, iy0) = ((b[0] as i32 - x0).max(0), (b[1] as i32 - y0).max(0));
    let (ix1, iy1) = (
        ((b[0] + b[2]) as i32 - x0).min(labels.cols()),
        ((b[1] + b[3]) as i32 - y0).min(labels.rows()),
    );
    // Per component: its extent along the text inside the box, and pixels there.
    let mut span = vec![(i32::MAX, i32::MIN, 0u32); n as usize];
    for y in iy0..iy1 {
        for x in ix0..ix1 {
            let k = *labels.at_2d::<i32>(y, x).map_err(cv)?;
            if k > 0 {
                let a = if tall { y } else { x };
                let s = &mut span[k as usize];
                *s = (s.0.min(a), s.1.max(a), s.2 + 1);
            }
        }
    }
    let parts: Vec<(usize, i32, i32)> = span
        .iter()
        .enumerate()
        .filter(|(_, s)| s.2 >= 4)
        .map(|(k, s)| (k, s.0, s.1))
        .collect();
    if parts.len() < 2 {
        return Ok(None);
    }
    // Cut from the low end of the axis (smaller x or y) or from the high end.
    let low = at_start == (dir == 1);
    let end = if low {
        parts.iter().min_by_key(|p| p.1)
    } else {
        parts.iter().max_by_key(|p| p.2)
    };
    let Some(&(k, lo, hi)) = end else {
        return Ok(None);
    };
    let length = if tall { iy1 - iy0 } else { ix1 - ix0 };
    let past = parts
        .iter()
        .any(|p| p.0 != k && if low { p.2 > hi } else { p.1 < lo });
    if !past || (hi - lo + 1) * 2 >= length {
        return Ok(None);
    }
    let o = (short / 3.0) as i32;
    if !runs_beyond(&stats, k as i32, [ix0, iy0, ix1, iy1], o, o)? {
        return Ok(None);
    }
    // The box from just past the component (page coordinates).
    let (mut a0, mut a1) = if tall {
        (b[1], b[1] + b[3])
    } else {
        (b[0], b[0] + b[2])
    };
    let origin = if tall { y0 } else { x0 } as f32;
    if low {
        a0 = origin + hi as f32 + 1.0;
    } else {
        a1 = origin + lo as f32;
    }
    Ok(Some(if tall {
        [b[0], a0, b[2], a1 - a0]
    } else {
        [a0, b[1], a1 - a0, b[3]]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_crop(draw: impl Fn(&mut Mat)) -> Mat {
        let mut m =
            Mat::new_rows_cols_with_default(60, 160, core::CV_8UC1, Scalar::all(255.0)).unwrap();
        draw(&mut m);
        m
    }

    /// A row of hollow pads (a circuit board's footprint) read `100000` is drawn
    /// rectangles; `100` written in Hershey lettering is glyphs, and so is `10` in a
    /// basic dimension's frame (the frame is a rectangle, the zero beside it is not).
    #[test]
    fn pads_read_as_zeros_are_rectangles_and_zeros_are_not() {
        let white =
            || Mat::new_rows_cols_with_default(60, 260, core::CV_8UC1, Scalar::all(255.0)).unwrap();
        let rect = |m: &mut Mat, r: Rect| {
            imgproc::rectangle(m, r, Scalar::all(0.0), 3, imgproc::LINE_8, 0).unwrap();
        };
        let mut pads = white();
        rect(&mut pads, Rect::new(10, 8, 16, 44));
        for i in 0..5 {
            rect(&mut pads, Rect::new(40 + 40 * i, 20, 26, 30));
        }
        assert!(rectangles_read_as_zeros(&pads, 5).unwrap());
        // Not when the reading has more zeros than there are rectangles.
        assert!(!rectangles_read_as_zeros(&pads, 6).unwrap());
        let write = |m: &mut Mat, text: &str, at: Point, scale: f64| {
            let (font, ink) = (imgproc::FONT_HERSHEY_SIMPLEX, Scalar::all(0.0));
            imgproc::put_text(m, text, at, font, scale, ink, 3, imgproc::LINE_AA, false).unwrap();
        };
        let mut digits = white();
        write(&mut digits, "100", Point::new(20, 48), 1.4);
        assert!(!rectangles_read_as_zeros(&digits, 2).unwrap());
        let mut boxed = white();
        write(&mut boxed, "10", Point::new(60, 44), 1.2);
        rect(&mut boxed, Rect::new(45, 6, 90, 48));
        assert!(!rectangles_read_as_zeros(&boxed, 1).unwrap());
    }

    #[test]
    fn an_arrowhead_on_its_line_is_line_work_a_digit_is_not() {
        let mut m =
            Mat::new_rows_cols_with_default(200, 300, core::CV_8UC1, Scalar::all(255.0)).unwrap();
        // A dimension line with a filled arrowhead at x 100..130.
        imgproc::line(
            &mut m,
            Point::new(20, 100),
            Point::new(280, 100),
            Scalar::all(0.0),
            2,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        let tri: Vector<Point> = Vector::from_iter([
            Point::new(100, 100),
            Point::new(130, 92),
            Point::new(130, 108),
        ]);
        imgproc::fill_convex_poly(&mut m, &tri, Scalar::all(0.0), imgproc::LINE_8, 0).unwrap();
        // A digit standing clear of it.
        imgproc::put_text(
            &mut m,
            "5",
            Point::new(200, 60),
            imgproc::FONT_HERSHEY_SIMPLEX,
            1.2,
            Scalar::all(0.0),
            3,
            imgproc::LINE_8,
            false,
        )
        .unwrap();
        assert!(is_line_work(&m, &[98.0, 88.0, 34.0, 24.0]).unwrap());
        assert!(!is_line_work(&m, &[198.0, 30.0, 30.0, 34.0]).unwrap());
    }

    /// A black ellipse outline.
    fn ellipse(m: &mut Mat, centre: Point, axes: Size, thickness: i32) {
        imgproc::ellipse(
            m,
            centre,
            axes,
            0.0,
            0.0,
            360.0,
            Scalar::all(0.0),
            thickness,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
    }

    #[test]
    fn tells_a_degree_sign_from_a_zero() {
        let black = Scalar::all(0.0);
        // "45" in a 60-row crop: digits from y ≈ 18 to 48 (30 px high).
        let digits = |m: &mut Mat, text: &str| {
            imgproc::put_text(
                m,
                text,
                Point::new(8, 48),
                imgproc::FONT_HERSHEY_SIMPLEX,
                1.2,
                black,
                3,
                imgproc::LINE_8,
                false,
            )
            .unwrap();
        };
        let ring = |m: &mut Mat, y: i32, filled: bool| {
            let thickness = if filled { -1 } else { 2 };
            imgproc::circle(
                m,
                Point::new(74, y),
                6,
                black,
                thickness,
                imgproc::LINE_8,
                0,
            )
            .unwrap();
        };
        let degree = text_crop(|m| {
            digits(m, "45");
            ring(m, 24, false);
        });
        assert_eq!(degree_glyph_last(&degree).unwrap(), Some(2));
        // A zero as tall as the digits, a ring on the baseline, a raised dot, nothing.
        let zero = text_crop(|m| digits(m, "450"));
        let low = text_crop(|m| {
            digits(m, "45");
            ring(m, 42, false);
        });
        let dot = text_crop(|m| {
            digits(m, "45");
            ring(m, 24, true);
        });
        let bare = text_crop(|m| digits(m, "45"));
        // A stacked upper deviation's small zero: raised, but taller than wide.
        let deviation = text_crop(|m| {
            digits(m, "45");
            ellipse(m, Point::new(74, 25), Size::new(4, 7), 2);
        });
        for (name, crop) in [
            ("450", zero),
            ("low ring", low),
            ("dot", dot),
            ("45", bare),
            ("upper deviation 0", deviation),
        ] {
            assert_eq!(degree_glyph_last(&crop).unwrap(), None, "{name}");
        }
    }

    #[test]
    fn tells_a_diameter_sign_from_digits() {
        let black = Scalar::all(0.0);
        let ring = |m: &mut Mat| ellipse(m, Point::new(25, 30), Size::new(16, 18), 3);
        let slash = |m: &mut Mat| {
            imgproc::line(
                m,
                Point::new(8, 52),
                Point::new(42, 8),
                black,
                3,
                imgproc::LINE_8,
                0,
            )
            .unwrap();
        };
        let digits = |m: &mut Mat| {
            imgproc::put_text(
                m,
                "38",
                Point::new(55, 48),
                imgproc::FONT_HERSHEY_SIMPLEX,
                1.4,
                black,
                3,
                imgproc::LINE_8,
                false,
            )
            .unwrap();
        };
        let with_sign = text_crop(|m| {
            ring(m);
            slash(m);
            digits(m);
        });
        assert!(diameter_glyph_first(&with_sign).unwrap());
        let zero = text_crop(|m| {
            ring(m);
            digits(m);
        });
        assert!(!diameter_glyph_first(&zero).unwrap());
        let eight = text_crop(|m| {
            imgproc::put_text(
                m,
                "838",
                Point::new(5, 48),
                imgproc::FONT_HERSHEY_SIMPLEX,
                1.4,
                black,
                3,
                imgproc::LINE_8,
                false,
            )
            .unwrap();
        });
        assert!(!diameter_glyph_first(&eight).unwrap());
    }
}
