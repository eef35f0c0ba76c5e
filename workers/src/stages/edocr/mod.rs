//! `edocr`: reads the dimensions, GD&T frames and title block of a drawing page
//! from its layout and the `ocr` stage's text lines (eDOCr2's job, done with the
//! project's own parser and more of the structure kept).
//!
//! Steps for one page:
//! 1. layout ([`layout::analyse`]): frame, title block, tables, GD&T frames, boxed
//!    dimensions, views;
//! 2. a second, native-resolution detection pass over the page (tiles) finds text
//!    the page-level OCR missed (small or light dimension text); new boxes are read
//!    with the OCR engine's recogniser;
//! 3. tall (vertical) lines are read in both 90° orientations and the more
//!    confident reading kept;
//! 4. lines outside the frame are dropped (zone numbers); fragments of one text
//!    the detector cut apart are read again as one box; lines inside the title
//!    block and inside tables feed the title block (label → value by
//!    [`parse::title_block_key`]); lines inside GD&T frames are read per cell and
//!    parsed by [`parse::parse_gdt`];
//! 5. around each numeric line, a 2× enlarged window is re-detected to find small
//!    stacked tolerances, and tolerance lines next to a nominal (after it in
//!    reading order, within about one text height) are merged into one dimension,
//!    also when the nominal was read with one of its deviations (`4.00 -0.20`
//!    under `(+0.10)`); a fit class stacked over a dimension's (`H7` over
//!    `Ø12.00 k6`) joins it as `H7/k6`;
//! 6. the diameter sign: the first glyph of each line's crop is tested for a ring
//!    crossed by a diagonal stroke (two holes side by side diagonally), which stock
//!    PP-OCR reads as `0` or drops (after a count such as `2x`, the glyph after
//!    it); then [`parse::normalise`],
//!    [`parse::looks_like_dimension`] and [`parse::parse_dimension`].
//!
//! Invariants: polygons and bboxes are page pixels of the page as given; nothing
//! depends on file names or absolute coordinates: thresholds are relative to the
//! page size or the text height.

pub mod iso286;
mod stage;
pub use stage::{Edocr, StageOutput};
pub mod layout;
pub mod parse;

use std::time::Instant;

use drawpipe_core::StageError;
use opencv::core::{self, Mat, Point, Rect, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use super::ocr::{self, OcrEngine, TextLine};
use layout::{LayoutParams, Region, RegionKind};

/// Tunables, overridable per job under `options.edocr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    pub layout: LayoutParams,
    /// Run the native-resolution tiled detection pass (default true).
    pub second_pass: bool,
    /// Tile side for that pass, pixels (default 1280, with 128 overlap).
    pub tile_size: u32,
    /// Re-detect a 2× window around each numeric line for stacked tolerances
    /// (default true).
    pub reread_tolerances: bool,
    /// Lines read with a lower confidence are ignored (default 0.5, as `ocr`).
    pub min_confidence: f32,
    /// A one-character line needs at least this confidence to be a dimension
    /// (default 0.9: on the fixtures, arrowheads and symbols misread as lone
    /// digits score 0.6–0.8, real one-digit dimensions 0.95+).
    pub single_char_confidence: f32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            layout: LayoutParams::default(),
            second_pass: true,
            tile_size: 1280,
            reread_tolerances: true,
            min_confidence: 0.5,
            single_char_confidence: 0.9,
        }
    }
}

/// The stage's input: one 8-bit grayscale page and the `ocr` lines read on it.
pub struct Input<'a> {
    pub page: ocr::GrayPage<'a>,
    pub lines: &'a [TextLine],
}

/// One dimension read: the parsed fields plus where it is.
#[derive(Debug, Clone, Serialize)]
pub struct DimensionItem {
    #[serde(flatten)]
    pub dimension: parse::Dimension,
    /// Mean recogniser confidence of the lines it was read from, in [0, 1].
    pub confidence: f32,
    /// Corners top-left, top-right, bottom-right, bottom-left, page pixels.
    pub polygon: [[f32; 2]; 4],
    /// `[x, y, width, height]`, page pixels.
    pub bbox: [f32; 4],
    pub page: u32,
}

/// One GD&T feature-control frame read.
#[derive(Debug, Clone, Serialize)]
pub struct GdtItem {
    #[serde(flatten)]
    pub frame: parse::GdtFrame,
    pub confidence: f32,
    pub polygon: [[f32; 2]; 4],
    pub bbox: [f32; 4],
    pub page: u32,
}

/// Where the time went, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub layout_ms: f64,
    pub second_pass_ms: f64,
    pub reread_ms: f64,
    pub other_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub dimensions: Vec<DimensionItem>,
    pub gdt: Vec<GdtItem>,
    /// Title-block field (`drawing_number`, `title`, `material`, …) → value.
    pub title_block: serde_json::Map<String, serde_json::Value>,
    pub regions: Vec<Region>,
    pub timings: Timings,
}

/// A line being worked on: text, where, and how it reads.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    confidence: f32,
    polygon: [[f32; 2]; 4],
    bbox: [f32; 4],
    /// Reading direction: 0 horizontal, 1 rotated counter-clockwise (reads bottom
    /// to top), -1 rotated clockwise (reads top to bottom).
    turn: i8,
}

impl Line {
    fn from_text_line(l: &TextLine) -> Self {
        Line {
            text: l.text.clone(),
            confidence: l.confidence,
            polygon: l.polygon,
            bbox: l.bbox,
            turn: if is_tall(&l.bbox) { 1 } else { 0 },
        }
    }
}

/// Runs the stage on one page.
///
/// # Errors
/// [`StageError::Invalid`] for an empty or non-grayscale page; model failures.
pub fn run(params: &Params, engine: &OcrEngine, input: Input) -> Result<Output, StageError> {
    let img = input.page.image;
    let index = input.page.index;
    let mut t = Timings::default();
    let t0 = Instant::now();
    let regions = layout::analyse(&params.layout, img, index)?;
    t.layout_ms = ms(t0);
    let ocr_params = ocr::Params::default();
    let frame = regions[0].clone();
    let title = regions
        .iter()
        .find(|r| r.kind == RegionKind::TitleBlock)
        .cloned();

    let mut lines: Vec<Line> = input
        .lines
        .iter()
        .filter(|l| l.page == index && l.confidence >= params.min_confidence)
        .map(Line::from_text_line)
        .collect();

    if params.second_pass {
        let t1 = Instant::now();
        let extra = second_pass(params, engine, &ocr_params, img, &lines, &regions)?;
        lines.extend(extra);
        t.second_pass_ms = ms(t1);
    }
    let t2 = Instant::now();
    // Vertical lines: read in both orientations, keep the more confident.
    orient_tall_lines(engine, &ocr_params, img, &mut lines)?;
    lines.retain(|l| frame.contains_centre(&l.bbox) && !l.text.trim().is_empty());
    rejoin_fragments(engine, &ocr_params, img, &mut lines)?;

    // Tables whose cells hold no text are line work (a view drawn as rectangles).
    let tables: Vec<&Region> = regions
        .iter()
        .filter(|r| matches!(r.kind, RegionKind::Table | RegionKind::TitleBlock))
        .filter(|r| r.kind == RegionKind::TitleBlock || holds_text(r, &lines))
        .collect();
    let title_block = read_title_block(title.as_ref(), &regions, &lines);
    lines.retain(|l| !tables.iter().any(|r| r.contains_centre(&l.bbox)));

    // GD&T frames (only those holding text).
    let mut gdt = Vec::new();
    for r in regions.iter().filter(|r| r.kind == RegionKind::GdtFrame) {
        let inside: Vec<&Line> = lines
            .iter()
            .filter(|l| r.contains_centre(&l.bbox))
            .collect();
        if inside.is_empty() {
            continue;
        }
        let mut cells: Vec<String> = Vec::new();
        for (i, c) in r.cells.iter().enumerate() {
            let mut in_cell: Vec<&&Line> = inside
                .iter()
                .filter(|l| contains_centre(c, &l.bbox))
                .collect();
            in_cell.sort_by(|a, b| a.bbox[0].total_cmp(&b.bbox[0]));
            let text: String = in_cell
                .iter()
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            if i == 0 && !text.chars().any(|c| c.is_ascii_digit()) {
                // The characteristic symbol: the recogniser does not know them.
                cells.push(gdt_symbol(img, c)?.map(str::to_string).unwrap_or(text));
            } else {
                cells.push(text);
            }
        }
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        if let Ok(frame) = parse::parse_gdt(&refs) {
            let conf = inside.iter().map(|l| l.confidence).sum::<f32>() / inside.len() as f32;
            gdt.push(GdtItem {
                frame,
                confidence: conf,
                polygon: r.polygon,
                bbox: r.bbox,
                page: index,
            });
        }
    }
    let gdt_regions: Vec<&Region> = regions
        .iter()
        .filter(|r| r.kind == RegionKind::GdtFrame)
        .collect();
    lines.retain(|l| !gdt_regions.iter().any(|r| r.contains_centre(&l.bbox)));
    t.other_ms += ms(t2);

    // Stacked tolerances the page-level detector missed.
    if params.reread_tolerances {
        let t3 = Instant::now();
        let extra = reread_tolerances(engine, &ocr_params, img, &lines)?;
        lines.extend(extra);
        t.reread_ms = ms(t3);
    }
    let t4 = Instant::now();
    let merged = merge_stacked_fits(merge_stacked(join_diameter_glyphs(lines)));

    let boxed: Vec<&Region> = regions
        .iter()
        .filter(|r| r.kind == RegionKind::BoxedDimension)
        .collect();
    let all: Vec<([f32; 4], String)> = merged.iter().map(|m| (m.bbox, m.text.clone())).collect();
    let mut dimensions = Vec::new();
    for m in merged {
        if is_list_number(&m.bbox, &m.text, &all) {
            continue;
        }
        let (core_text, trailing) = split_trailing_words(&m.text);
        let single = core_text.chars().filter(|c| !c.is_whitespace()).count() == 1;
        if single && m.confidence < params.single_char_confidence {
            continue;
        }
        if is_scale_ratio(&core_text) {
            continue;
        }
        let mut text = core_text.clone();
        // After a count (`2x ⌀3.40`) the sign is the glyph after the count's.
        let count = count_prefix(&text);
        let glyphs = count.map_or(1, |(_, g)| g + 1);
        if has_diameter_glyph(img, &m, glyphs)? {
            text = match count {
                Some((k, _)) => format!(
                    "{} {}",
                    text[..k].trim_end(),
                    with_diameter_sign(&text[k..])
                ),
                None => with_diameter_sign(&text),
            };
        }
        let read = text;
        let text = parse::normalise(&read);
        if !parse::looks_like_dimension(&text) {
            continue;
        }
        let is_boxed = boxed.iter().any(|r| r.contains_centre(&m.bbox));
        let full = if trailing.is_empty() {
            text.clone()
        } else {
            format!("{text} {trailing}")
        };
        let Ok(mut dimension) = parse::parse_dimension(&full, is_boxed)
            .or_else(|_| parse::parse_dimension(&text, is_boxed))
        else {
            continue;
        };
        // The raw text is the dimension's own: a trailing word (`REF`) sets a flag
        // and sits outside the polygon.
        dimension.raw = raw_as_read(&read, &text);
        let (polygon, bbox) = if trailing.is_empty() {
            (m.polygon, m.bbox)
        } else {
            shrink_to_prefix(&m, core_text.chars().count(), m.text.chars().count())
        };
        dimensions.push(DimensionItem {
            dimension,
            confidence: m.confidence,
            polygon,
            bbox,
            page: index,
        });
    }
    t.other_ms += ms(t4);
    Ok(Output {
        dimensions,
        gdt,
        title_block,
        regions,
        timings: t,
    })
}

/// A note's item number: a bare one- or two-digit integer followed on its row, within
/// three text heights (or in the same OCR line), by a word of three or more letters
/// (`1  BREAK ALL SHARP EDGES`).
fn is_list_number(b: &[f32; 4], text: &str, all: &[([f32; 4], String)]) -> bool {
    // Within one OCR line: `1 Alle Masse in mm`. Words a dimension may carry
    // (`10 REF`, `6 THRU`, `2 HOLES`) do not make it prose.
    const DIMENSION_WORDS: [&str; 12] = [
        "REF", "TYP", "THRU", "DEEP", "HOLE", "HOLES", "PLACES", "PLCS", "PL", "EQS", "EQ", "MAX",
    ];
    let (core, trailing) = split_trailing_words(text);
    let core = core.trim().trim_end_matches(['.', ')']);
    let bare = |t: &str| !t.is_empty() && t.len() <= 2 && t.chars().all(|c| c.is_ascii_digit());
    if bare(core) && !trailing.is_empty() {
        let words: Vec<&str> = trailing.split_whitespace().collect();
        let known = |w: &&str| {
            DIMENSION_WORDS.contains(&w.trim_end_matches('.').to_ascii_uppercase().as_str())
        };
        if words.len() >= 2 || !words.iter().all(known) {
            return true;
        }
    }
    let t = text.trim().trim_end_matches(['.', ')']);
    if t.is_empty() || t.len() > 2 || !t.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let h = b[3];
    all.iter().any(|(o, words)| {
        // The words start after the number, or the OCR line holds both.
        let starts = o[0] > b[0] - 0.5 * h && o[0] < b[0] + b[2] + 3.0 * h;
        let overlap = (b[1] + b[3]).min(o[1] + o[3]) - b[1].max(o[1]);
        let has_word = words
            .split(|c: char| !c.is_alphabetic())
            .any(|w| w.chars().count() >= 3);
        starts && overlap > 0.5 * h.min(o[3]) && has_word
    })
}

/// The dimension's text as read (decimal commas and spacing kept), with only the
/// diameter-sign correction that normalising made: a leading `0`/`O`/`Q` that
/// [`parse::normalise`] took for `Ø`.
fn raw_as_read(read: &str, normalised: &str) -> String {
    let r = read.trim();
    if normalised.starts_with('Ø') && !r.starts_with(['Ø', '⌀', 'ø', '∅']) {
        if let Some(rest) = r.strip_prefix(['0', 'O', 'o', 'Q']) {
            return format!("Ø{}", rest.trim_start());
        }
    }
    r.to_string()
}

/// Runs the stage over a page raster with the `ocr` stage's output JSON (`text`
/// lines): what the worker and the local runner call.
pub fn run_on_page(
    params: &Params,
    engine: &OcrEngine,
    index: u32,
    image: &Mat,
    lines: &[TextLine],
) -> Result<Output, StageError> {
    run(
        params,
        engine,
        Input {
            page: ocr::GrayPage { index, image },
            lines,
        },
    )
}

fn is_tall(b: &[f32; 4]) -> bool {
    b[3] >= 1.5 * b[2]
}

fn contains_centre(outer: &[f32; 4], b: &[f32; 4]) -> bool {
    let (cx, cy) = (b[0] + b[2] / 2.0, b[1] + b[3] / 2.0);
    cx >= outer[0] && cx <= outer[0] + outer[2] && cy >= outer[1] && cy <= outer[1] + outer[3]
}

fn overlap_of_smaller(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let x0 = a[0].max(b[0]);
    let y0 = a[1].max(b[1]);
    let x1 = (a[0] + a[2]).min(b[0] + b[2]);
    let y1 = (a[1] + a[3]).min(b[1] + b[3]);
    let i = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
    let s = (a[2] * a[3]).min(b[2] * b[3]);
    if s <= 0.0 {
        0.0
    } else {
        i / s
    }
}

/// Whether at least half of a table's cells (at least one) hold a line.
fn holds_text(r: &Region, lines: &[Line]) -> bool {
    if r.cells.is_empty() {
        return lines.iter().any(|l| r.contains_centre(&l.bbox));
    }
    let with = r
        .cells
        .iter()
        .filter(|c| lines.iter().any(|l| contains_centre(c, &l.bbox)))
        .count();
    with * 2 >= r.cells.len() && with > 0
}

/// Text of an upright crop: the page quadrilateral cut out and turned per `turn`.
fn upright_crop(img: &Mat, l: &Line) -> Result<Mat, StageError> {
    // crop_line turns tall boxes counter-clockwise itself: upright for text that
    // reads downwards, upside down for text that reads upwards.
    let c = ocr::crop_line(img, &l.polygon)?;
    if !is_tall(&l.bbox) && l.turn != 0 {
        let code = if l.turn == 1 {
            core::ROTATE_90_CLOCKWISE
        } else {
            core::ROTATE_90_COUNTERCLOCKWISE
        };
        let mut r = Mat::default();
        core::rotate(&c, &mut r, code).map_err(cv)?;
        return Ok(r);
    }
    if l.turn == 1 && is_tall(&l.bbox) {
        let mut r = Mat::default();
        core::rotate(&c, &mut r, core::ROTATE_180).map_err(cv)?;
        return Ok(r);
    }
    Ok(c)
}

/// Reads every tall line both ways (turned counter-clockwise and clockwise) and
/// keeps the more confident reading: the angle classifier cannot tell `60` from an
/// upside-down `09`.
fn orient_tall_lines(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut [Line],
) -> Result<(), StageError> {
    let tall: Vec<usize> = (0..lines.len())
        .filter(|&i| is_tall(&lines[i].bbox))
        .collect();
    if tall.is_empty() {
        return Ok(());
    }
    let mut crops = Vec::new();
    for &i in &tall {
        let c = ocr::crop_line(img, &lines[i].polygon)?;
        let mut r = Mat::default();
        core::rotate(&c, &mut r, core::ROTATE_180).map_err(cv)?;
        crops.push(c);
        crops.push(r);
    }
    let mut tm = ocr::Timings::default();
    let read = engine.recognise(p, &crops, &mut tm)?;
    for (k, &i) in tall.iter().enumerate() {
        // crop_line's turn is upright for text reading downwards (-1).
        let (down, up) = (&read[2 * k], &read[2 * k + 1]);
        let (best, turn) = if up.1 >= down.1 { (up, 1) } else { (down, -1) };
        if !best.0.trim().is_empty() {
            lines[i].text = best.0.clone();
            lines[i].confidence = best.1;
            lines[i].turn = turn;
        }
    }
    Ok(())
}

/// Tiled detection at native resolution inside the frame; boxes that no existing
/// line covers (overlap under 30 % of the smaller) are read and returned.
fn second_pass(
    params: &Params,
    engine: &OcrEngine,
    ocr_params: &ocr::Params,
    img: &Mat,
    lines: &[Line],
    regions: &[Region],
) -> Result<Vec<Line>, StageError> {
    let p = ocr::Params {
        tile: ocr::TileParams {
            min_long_side: 1,
            min_short_side: 1,
            size: params.tile_size,
            overlap: 128,
        },
        ..ocr_params.clone()
    };
    let mut tm = ocr::Timings::default();
    let boxes = engine.detect(&p, img, &mut tm)?;
    let skip: Vec<&Region> = regions
        .iter()
        .filter(|r| matches!(r.kind, RegionKind::TitleBlock | RegionKind::Table))
        .collect();
    let frame = &regions[0];
    let mut new: Vec<[[f32; 2]; 4]> = Vec::new();
    for b in boxes {
        let bb = ocr::bbox_of(&b.points);
        if !frame.contains_centre(&bb) || skip.iter().any(|r| r.contains_centre(&bb)) {
            continue;
        }
        if lines
            .iter()
            .any(|l| overlap_of_smaller(&l.bbox, &bb) >= 0.3)
        {
            continue;
        }
        new.push(b.points);
    }
    read_boxes(engine, ocr_params, img, &new, ocr_params.text_score)
}

/// Joins fragments of one text the detector cut apart (`+0.12` turned 90° found as
/// `2`, `0` and `+`): lines of one or two glyphs lined up in a column or a row, each
/// within one glyph size of the next, are read again as one box; the reading
/// replaces them when it is a number or tolerance of more glyphs than they had
/// together, read with confidence ≥ 0.8.
fn rejoin_fragments(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut Vec<Line>,
) -> Result<(), StageError> {
    let glyphs = |l: &Line| l.text.chars().filter(|c| !c.is_whitespace()).count();
    let frag: Vec<usize> = (0..lines.len())
        .filter(|&i| glyphs(&lines[i]) <= 2)
        .collect();
    let n = frag.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let near = |a: &[f32; 4], b: &[f32; 4]| {
        let ox = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
        let oy = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
        let column = ox >= 0.5 * a[2].min(b[2]) && -oy <= a[2].max(b[2]);
        let row = oy >= 0.5 * a[3].min(b[3]) && -ox <= a[3].max(b[3]);
        column || row
    };
    for i in 0..n {
        for j in i + 1..n {
            if near(&lines[frag[i]].bbox, &lines[frag[j]].bbox) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                parent[a] = b;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, &f) in frag.iter().enumerate() {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(f);
    }
    let groups: Vec<Vec<usize>> = groups.into_values().filter(|g| g.len() >= 2).collect();
    if groups.is_empty() {
        return Ok(());
    }
    let boxes: Vec<[[f32; 2]; 4]> = groups
        .iter()
        .map(|g| {
            let bb = g
                .iter()
                .skip(1)
                .fold(lines[g[0]].bbox, |a, &k| union(&a, &lines[k].bbox));
            layout::polygon_of(&bb)
        })
        .collect();
    let mut gone = vec![false; lines.len()];
    let mut add = Vec::new();
    for (g, b) in groups.iter().zip(&boxes) {
        let Some(r) = read_boxes(engine, p, img, std::slice::from_ref(b), 0.8)?.pop() else {
            continue;
        };
        let before: usize = g.iter().map(|&k| glyphs(&lines[k])).sum();
        let t = r.text.trim();
        let wanted = is_tolerance(t) || is_plain_number(t);
        if wanted && glyphs(&r) > before {
            for &k in g {
                gone[k] = true;
            }
            add.push(r);
        }
    }
    let mut k = 0;
    lines.retain(|_| {
        k += 1;
        !gone[k - 1]
    });
    lines.extend(add);
    Ok(())
}

/// Boxes at least this high for their width may hold short vertical text (`40`
/// turned 90° is about square): they are read in all three upright orientations.
const SQUARE: f32 = 0.8;

/// Reads page quadrilaterals into lines of at least `min` confidence: tall boxes
/// both ways along, near-square ones also turned either way; the most confident
/// reading wins.
fn read_boxes(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    boxes: &[[[f32; 2]; 4]],
    min: f32,
) -> Result<Vec<Line>, StageError> {
    if boxes.is_empty() {
        return Ok(vec![]);
    }
    // (box index, turn) per crop.
    let mut crops = Vec::new();
    let mut whose: Vec<(usize, i8)> = Vec::new();
    let rot = |m: &Mat, code: i32| -> Result<Mat, StageError> {
        let mut r = Mat::default();
        core::rotate(m, &mut r, code).map_err(cv)?;
        Ok(r)
    };
    for (k, b) in boxes.iter().enumerate() {
        let bb = ocr::bbox_of(b);
        let c = ocr::crop_line(img, b)?;
        if is_tall(&bb) {
            crops.push(rot(&c, core::ROTATE_180)?);
            whose.push((k, 1));
            crops.push(c);
            whose.push((k, -1));
        } else {
            if bb[3] >= SQUARE * bb[2] {
                // Reads upwards: glyph tops point left, turn clockwise to stand up.
                crops.push(rot(&c, core::ROTATE_90_CLOCKWISE)?);
                whose.push((k, 1));
                crops.push(rot(&c, core::ROTATE_90_COUNTERCLOCKWISE)?);
                whose.push((k, -1));
            }
            crops.push(c);
            whose.push((k, 0));
        }
    }
    let mut tm = ocr::Timings::default();
    let read = engine.recognise(p, &crops, &mut tm)?;
    let mut best: Vec<Option<(String, f32, i8)>> = vec![None; boxes.len()];
    for ((k, turn), (text, conf)) in whose.into_iter().zip(read) {
        if text.trim().is_empty() {
            continue;
        }
        if best[k].as_ref().is_none_or(|b| conf > b.1) {
            best[k] = Some((text, conf, turn));
        }
    }
    let mut out = Vec::new();
    for (k, b) in boxes.iter().enumerate() {
        if let Some((text, confidence, turn)) = best[k].take() {
            if confidence >= min {
                out.push(Line {
                    text,
                    confidence,
                    polygon: *b,
                    bbox: ocr::bbox_of(b),
                    turn,
                });
            }
        }
    }
    Ok(out)
}

/// Whether a text is a tolerance on its own: `+0.02`, `-0,1`, `±0.05`, `0`, or a
/// signed one in brackets (`(+0.10)`, `(-0.20`: SolidWorks brackets stacked
/// deviations; an unsigned number in brackets is a reference dimension).
fn is_tolerance(s: &str) -> bool {
    let bracketed = s.contains(['(', ')']);
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let s = s.trim_start_matches('(').trim_end_matches(')').to_string();
    if bracketed && !s.starts_with(['+', '-', '±', '−']) {
        return false;
    }
    let body = s.trim_start_matches(['+', '-', '±', '−']);
    !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && body.chars().next().is_some_and(|c| c.is_ascii_digit())
        && (s.len() != body.len()
            || body == "0"
            || body.starts_with("0.")
            || body.starts_with("0,"))
}

/// A tolerance's text without the brackets around it.
fn unbracket(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '(' | ')'))
        .collect::<String>()
        .trim()
        .to_string()
}

/// A nominal that may take a stacked tolerance: a plain number, or a plain number
/// already followed by one tolerance on its own line (`4.00 -0.20`, `18.48-0.03`,
/// `7.50 (-0.20`, the other deviation stacked above or below it). Returns the number
/// and that tolerance.
fn split_nominal(s: &str) -> Option<(String, Option<String>)> {
    let t = s.trim();
    if is_plain_number(t) {
        return Some((t.to_string(), None));
    }
    let k = t
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c.is_whitespace() || matches!(c, '+' | '-' | '±' | '−' | '('))
        .map(|(k, _)| k)?;
    let (n, tol) = (t[..k].trim(), t[k..].trim());
    let signed = tol
        .trim_start_matches('(')
        .starts_with(['+', '-', '±', '−']);
    let symmetric = tol.trim_start_matches('(').starts_with('±');
    // An unsigned zero is the other deviation's partner (`6.50 0.00` under `+0.02`).
    let zero = tol
        .trim_matches(['(', ')'])
        .chars()
        .all(|c| matches!(c, '0' | '.' | ','));
    (is_plain_number(n) && (signed || zero) && !symmetric && is_tolerance(tol))
        .then(|| (n.to_string(), Some(unbracket(tol))))
}

/// Whether a text is a plain number (a nominal that may carry stacked tolerances).
fn is_plain_number(s: &str) -> bool {
    let t = s.trim();
    let t = t.trim_start_matches(['Ø', '⌀', 'ø', '∅', 'R']);
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && t.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Page coordinates → the text's own frame: `u` along the reading direction, `v`
/// down the glyphs. Returns (u0, u1, v0, v1).
fn text_frame(b: &[f32; 4], turn: i8) -> (f32, f32, f32, f32) {
    let (x0, y0, x1, y1) = (b[0], b[1], b[0] + b[2], b[1] + b[3]);
    match turn {
        // counter-clockwise: reads upwards, glyph tops point left
        1 => (-y1, -y0, x0, x1),
        // clockwise: reads downwards, glyph tops point right
        -1 => (y0, y1, -x1, -x0),
        _ => (x0, x1, y0, y1),
    }
}

/// Re-detects a window around each plain-number line, enlarged 2×, for small
/// tolerance text after it; returns tolerance lines not already present.
fn reread_tolerances(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &[Line],
) -> Result<Vec<Line>, StageError> {
    let (pw, ph) = (img.cols(), img.rows());
    let mut found: Vec<Line> = Vec::new();
    for l in lines.iter().filter(|l| is_plain_number(&l.text)) {
        let (u0, u1, v0, v1) = text_frame(&l.bbox, l.turn);
        let h = v1 - v0;
        // Window in the text frame: from the nominal's start to 4 text heights past
        // its end, half a height above and below (stacked tolerances sit there).
        let (wu0, wu1, wv0, wv1) = (u0, u1 + 4.0 * h, v0 - 0.6 * h, v1 + 0.6 * h);
        let (x0, y0, x1, y1) = match l.turn {
            1 => (wv0, -wu1, wv1, -wu0),
            -1 => (-wv1, wu0, -wv0, wu1),
            _ => (wu0, wv0, wu1, wv1),
        };
        let r = Rect::new(x0.max(0.0) as i32, y0.max(0.0) as i32, 0, 0);
        let r = Rect::new(
            r.x,
            r.y,
            ((x1.min(pw as f32)) as i32 - r.x).max(0),
            ((y1.min(ph as f32)) as i32 - r.y).max(0),
        );
        if r.width < 8 || r.height < 8 {
            continue;
        }
        let win = Mat::roi(img, r).map_err(cv)?.try_clone().map_err(cv)?;
        let mut big = Mat::default();
        imgproc::resize(
            &win,
            &mut big,
            Size::new(0, 0),
            2.0,
            2.0,
            imgproc::INTER_CUBIC,
        )
        .map_err(cv)?;
        let dp = ocr::Params {
            det_limit_type: ocr::LimitType::None,
            ..p.clone()
        };
        let mut tm = ocr::Timings::default();
        let boxes = engine.detect(&dp, &big, &mut tm)?;
        let mut cand: Vec<[[f32; 2]; 4]> = Vec::new();
        for b in boxes {
            let pts = b
                .points
                .map(|q| [q[0] / 2.0 + r.x as f32, q[1] / 2.0 + r.y as f32]);
            let bb = ocr::bbox_of(&pts);
            if lines
                .iter()
                .chain(found.iter())
                .any(|o| overlap_of_smaller(&o.bbox, &bb) >= 0.3)
            {
                continue;
            }
            cand.push(pts);
        }
        for mut n in read_boxes(engine, p, img, &cand, 0.6)? {
            if is_tolerance(&n.text) {
                // A one-glyph box is not tall; it reads the way its nominal does.
                if n.turn == 0 {
                    n.turn = l.turn;
                }
                found.push(n);
            }
        }
    }
    Ok(found)
}

/// Merges tolerance lines into the nominal they follow: in the frame of the longer
/// of the two (a lone digit has no direction of its own), the tolerance starts
/// within [-0.3 h, +1.0 h] of the nominal's end and lies within half a text height
/// of its band. Upper before lower (higher up the glyphs first). A nominal read
/// together with one deviation ([`split_nominal`]) takes one more, stacked above or
/// below that deviation: its number's end is estimated from its share of the
/// characters, and the other deviation may sit up to 1.2 h off the line's band.
/// Brackets around stacked deviations are dropped.
fn merge_stacked(lines: Vec<Line>) -> Vec<Line> {
    let mut used = vec![false; lines.len()];
    let mut out = Vec::new();
    let mut order: Vec<usize> = (0..lines.len()).collect();
    // Nominals first, so that a tolerance joins a number, not another tolerance.
    order.sort_by_key(|&i| {
        let t = &lines[i].text;
        (is_tolerance(t), is_tolerance(t) && !is_plain_number(t))
    });
    for &i in &order {
        if used[i] {
            continue;
        }
        let n = &lines[i];
        if is_tolerance(&n.text) && n.text.trim_start().starts_with(['+', '-', '±', '(']) {
            continue;
        }
        let Some((number, own)) = split_nominal(&n.text) else {
            continue;
        };
        let mut tols: Vec<(f32, usize)> = Vec::new();
        for (j, t) in lines.iter().enumerate() {
            if j == i || used[j] || !is_tolerance(&t.text) {
                continue;
            }
            let turn = if n.turn != 0 { n.turn } else { t.turn };
            let (nu0, mut nu1, nv0, nv1) = text_frame(&n.bbox, turn);
            let (tu0, _tu1, tv0, tv1) = text_frame(&t.bbox, turn);
            let h = nv1 - nv0;
            let in_band = if own.is_some() {
                let share = number.chars().count() as f32 / n.text.trim().chars().count() as f32;
                nu1 = nu0 + (nu1 - nu0) * share;
                let off = ((tv0 + tv1) - (nv0 + nv1)).abs() / 2.0;
                tv0 >= nv0 - 1.2 * h && tv1 <= nv1 + 1.2 * h && off >= 0.4 * h
            } else {
                tv0 >= nv0 - 0.6 * h && tv1 <= nv1 + 0.6 * h
            };
            let starts_after = tu0 >= nu1 - 0.3 * h && tu0 <= nu1 + 1.0 * h && tu0 > nu0;
            if starts_after && in_band {
                tols.push((tv0, j));
            }
        }
        if tols.is_empty() {
            continue;
        }
        tols.sort_by(|a, b| a.0.total_cmp(&b.0));
        tols.truncate(if own.is_some() { 1 } else { 2 });
        let mut parts: Vec<(f32, String)> = tols
            .iter()
            .map(|&(v, j)| (v, unbracket(&lines[j].text)))
            .collect();
        if let Some(o) = &own {
            let (_, _, nv0, _) = text_frame(&n.bbox, n.turn);
            parts.push((nv0, o.clone()));
            parts.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let mut text = number.clone();
        let mut bb = n.bbox;
        let mut conf = n.confidence;
        for (_, t) in &parts {
            if t.starts_with('±') {
                text.push_str(t);
            } else {
                text.push(' ');
                text.push_str(t);
            }
        }
        for &(_, j) in &tols {
            bb = union(&bb, &lines[j].bbox);
            conf += lines[j].confidence;
            used[j] = true;
        }
        used[i] = true;
        out.push(Line {
            text,
            confidence: conf / (1 + tols.len()) as f32,
            polygon: layout::polygon_of(&bb),
            bbox: bb,
            turn: n.turn,
        });
    }
    for (i, l) in lines.into_iter().enumerate() {
        if !used[i] {
            out.push(l);
        }
    }
    out
}

/// Whether a text is an ISO fit class alone: `H7`, `k6`, `JS9`.
fn is_fit_class(s: &str) -> bool {
    let t = s.trim();
    let letters = t.chars().take_while(|c| c.is_ascii_alphabetic()).count();
    let digits = t[letters..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .count();
    (1..=2).contains(&letters) && (1..=2).contains(&digits) && letters + digits == t.len()
}

/// Stacked fits: a hole's class written above the shaft's that ends a dimension
/// (`H7` over `Ø12.00 k6`) joins it as `Ø12.00 H7/k6`. The class line lies above the
/// dimension's band (its bottom within 0.3 h below the band's top, its top at most
/// 1.5 h above) and over the dimension's last class (its centre along the text past
/// the start of that class, less half a height).
fn merge_stacked_fits(mut lines: Vec<Line>) -> Vec<Line> {
    let mut gone = vec![false; lines.len()];
    for i in 0..lines.len() {
        if gone[i] || is_fit_class(&lines[i].text) {
            continue;
        }
        let text = lines[i].text.trim().to_string();
        let Some(last) = text.rsplit([' ', ',']).next().filter(|w| is_fit_class(w)) else {
            continue;
        };
        let prefix = text[..text.len() - last.len()].trim_end_matches([' ', ',']);
        if prefix.is_empty() || !prefix.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let n = &lines[i];
        let (nu0, nu1, nv0, nv1) = text_frame(&n.bbox, n.turn);
        let h = nv1 - nv0;
        let class_start =
            nu0 + (nu1 - nu0) * prefix.chars().count() as f32 / text.chars().count() as f32;
        let above = (0..lines.len()).find(|&j| {
            if j == i || gone[j] || !is_fit_class(&lines[j].text) {
                return false;
            }
            let (u0, u1, v0, v1) = text_frame(&lines[j].bbox, n.turn);
            let uc = (u0 + u1) / 2.0;
            v1 <= nv0 + 0.3 * h
                && v0 >= nv0 - 1.5 * h
                && uc >= class_start - 0.5 * h
                && uc <= nu1 + 0.5 * h
        });
        if let Some(j) = above {
            let hole = lines[j].text.trim().to_string();
            let bb = union(&lines[i].bbox, &lines[j].bbox);
            let conf = (lines[i].confidence + lines[j].confidence) / 2.0;
            let l = &mut lines[i];
            l.text = format!("{prefix} {hole}/{last}");
            l.bbox = bb;
            l.polygon = layout::polygon_of(&bb);
            l.confidence = conf;
            gone[j] = true;
        }
    }
    lines
        .into_iter()
        .zip(gone)
        .filter(|(_, g)| !g)
        .map(|(l, _)| l)
        .collect()
}

/// A lone glyph the recogniser reads as `Q`, `O`, `0` or a diameter sign, just
/// before a number in its reading direction (ending within half a text height of
/// the number's start, in its band), is the number's diameter sign: they join.
fn join_diameter_glyphs(mut lines: Vec<Line>) -> Vec<Line> {
    let is_sign = |s: &str| {
        matches!(
            s.trim(),
            "Q" | "O" | "o" | "0" | "Ø" | "ø" | "⌀" | "∅" | "φ" | "Φ"
        )
    };
    let mut gone = vec![false; lines.len()];
    for i in 0..lines.len() {
        if !is_sign(&lines[i].text) || gone[i] {
            continue;
        }
        let g = lines[i].clone();
        let target = (0..lines.len()).find(|&j| {
            if j == i || gone[j] || !is_plain_number(&lines[j].text) || is_sign(&lines[j].text) {
                return false;
            }
            let n = &lines[j];
            let (nu0, _, nv0, nv1) = text_frame(&n.bbox, n.turn);
            let (_, gu1, gv0, gv1) = text_frame(&g.bbox, n.turn);
            let h = nv1 - nv0;
            (gu1 - nu0).abs() <= 0.5 * h && gv0 >= nv0 - 0.5 * h && gv1 <= nv1 + 0.5 * h
        });
        if let Some(j) = target {
            let n = &mut lines[j];
            if !n.text.starts_with(['Ø', '⌀', 'ø', '∅']) {
                n.text = format!("Ø{}", n.text.trim());
            }
            n.bbox = union(&n.bbox, &g.bbox);
            n.polygon = layout::polygon_of(&n.bbox);
            gone[i] = true;
        }
    }
    lines
        .into_iter()
        .zip(gone)
        .filter(|(_, g)| !g)
        .map(|(l, _)| l)
        .collect()
}

fn union(a: &[f32; 4], b: &[f32; 4]) -> [f32; 4] {
    let x0 = a[0].min(b[0]);
    let y0 = a[1].min(b[1]);
    let x1 = (a[0] + a[2]).max(b[0] + b[2]);
    let y1 = (a[1] + a[3]).max(b[1] + b[3]);
    [x0, y0, x1 - x0, y1 - y0]
}

/// Splits trailing alphabetic words (`REF`, `TYP`, `THRU`; not `max`/`min`) off a
/// dimension text: (the dimension, the words). Texts with no digit before the words stay whole.
fn split_trailing_words(s: &str) -> (String, String) {
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut k = words.len();
    // `max.` / `min.` stay: they say which limit the number is.
    let limit = |w: &str| {
        let w = w.trim_end_matches('.').to_ascii_lowercase();
        w == "max" || w == "min"
    };
    while k > 1
        && words[k - 1].chars().all(|c| c.is_ascii_alphabetic())
        && words[k - 1].len() >= 2
        && !limit(words[k - 1])
    {
        k -= 1;
    }
    if k == words.len()
        || !words[..k]
            .iter()
            .any(|w| w.chars().any(|c| c.is_ascii_digit()))
    {
        return (s.trim().to_string(), String::new());
    }
    (words[..k].join(" "), words[k..].join(" "))
}

/// `2:1`, `1:2`: a scale, not a dimension.
fn is_scale_ratio(s: &str) -> bool {
    let parts: Vec<&str> = s.trim().split(':').collect();
    parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The part of a line's box holding its first `k` of `n` characters (characters
/// taken as equally wide), along its reading direction.
fn shrink_to_prefix(l: &Line, k: usize, n: usize) -> ([[f32; 2]; 4], [f32; 4]) {
    let f = (k as f32 + 0.5).min(n as f32) / n.max(1) as f32;
    let b = l.bbox;
    let bb = match l.turn {
        1 => [b[0], b[1] + b[3] * (1.0 - f), b[2], b[3] * f],
        -1 => [b[0], b[1], b[2], b[3] * f],
        _ => [b[0], b[1], b[2] * f, b[3]],
    };
    (layout::polygon_of(&bb), bb)
}

/// Puts the diameter sign first: a leading `0` the recogniser read for it becomes
/// `Ø`; otherwise `Ø` is prefixed unless some diameter sign is already there.
fn with_diameter_sign(s: &str) -> String {
    let t = s.trim();
    if t.starts_with(['Ø', '⌀', 'ø', '∅']) {
        return t.to_string();
    }
    let mut ch = t.chars();
    if ch.next() == Some('0') && ch.next().is_some_and(|c| c.is_ascii_digit() || c == ' ') {
        return format!("Ø{}", t[1..].trim_start());
    }
    format!("Ø{t}")
}

/// A leading count (`2x`, `4X `) before a number: its length in bytes (spaces
/// after it included) and its glyphs (digits and the `x`).
fn count_prefix(s: &str) -> Option<(usize, usize)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let rest = s[digits..].trim_start();
    let after = rest.strip_prefix(['x', 'X'])?;
    let body = after.trim_start();
    if !body.starts_with(|c: char| c.is_ascii_digit() || matches!(c, 'Ø' | '⌀' | 'ø' | '∅')) {
        return None;
    }
    // `1x45°` is a chamfer.
    if body
        .split_whitespace()
        .next()
        .is_some_and(|w| w.ends_with('°'))
    {
        return None;
    }
    Some((s.len() - body.len(), digits + 1))
}

/// Whether one of the first `glyphs` glyphs of a line's upright crop is a diameter
/// sign: a ring
/// crossed by a diagonal stroke, i.e. one connected glyph with two holes whose
/// centres differ both across and along the text by at least a fifth of the glyph
/// (an `8` or `B` stacks its holes vertically; `0`, `O`, `6` have one).
fn has_diameter_glyph(img: &Mat, l: &Line, glyphs: usize) -> Result<bool, StageError> {
    let crop = upright_crop(img, l)?;
    diameter_glyph_within(&crop, glyphs)
}

/// [`has_diameter_glyph`] for the first glyph, on an upright text crop (dark text
/// on light paper).
pub fn diameter_glyph_first(crop: &Mat) -> Result<bool, StageError> {
    diameter_glyph_within(crop, 1)
}

/// Whether one of the first `glyphs` glyphs (components at least 40 % of the crop
/// high, left to right) of an upright text crop is a diameter sign.
pub fn diameter_glyph_within(crop: &Mat, glyphs: usize) -> Result<bool, StageError> {
    if crop.rows() < 8 || crop.cols() < 8 {
        return Ok(false);
    }
    // Enlarge small crops: holes of thin glyphs close up at low resolution.
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
    let mut bin = Mat::default();
    imgproc::threshold(
        &big,
        &mut bin,
        0.0,
        255.0,
        imgproc::THRESH_BINARY_INV | imgproc::THRESH_OTSU,
    )
    .map_err(cv)?;
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
    let h = bin.rows();
    // The leftmost component at least 40 % of the crop high (a glyph, not noise or
    // a leader line's end).
    let mut tall: Vec<(i32, Rect)> = Vec::new();
    for i in 1..n {
        let g = |c: i32| -> Result<i32, StageError> { Ok(*stats.at_2d::<i32>(i, c).map_err(cv)?) };
        let r = Rect::new(
            g(imgproc::CC_STAT_LEFT)?,
            g(imgproc::CC_STAT_TOP)?,
            g(imgproc::CC_STAT_WIDTH)?,
            g(imgproc::CC_STAT_HEIGHT)?,
        );
        if (r.height as f64) < 0.4 * h as f64 || r.height >= h - 1 && r.width >= bin.cols() - 1 {
            continue;
        }
        tall.push((i, r));
    }
    tall.sort_by_key(|(_, r)| r.x);
    for &(label, r) in tall.iter().take(glyphs.max(1)) {
        if ring_with_diagonal(&labels, label, r)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether component `label` of a label image, inside `r`, is a ring crossed by a
/// diagonal stroke (see [`has_diameter_glyph`]).
fn ring_with_diagonal(labels: &Mat, label: i32, r: Rect) -> Result<bool, StageError> {
    let mut mask = Mat::default();
    core::compare(
        &Mat::roi(labels, r).map_err(cv)?,
        &Scalar::all(label as f64),
        &mut mask,
        core::CMP_EQ,
    )
    .map_err(cv)?;
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
    let min_hole = 0.01 * r.area() as f64;
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
fn gdt_symbol(img: &Mat, cell: &[f32; 4]) -> Result<Option<&'static str>, StageError> {
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
    let mut bin = Mat::default();
    imgproc::threshold(
        &roi,
        &mut bin,
        0.0,
        255.0,
        imgproc::THRESH_BINARY_INV | imgproc::THRESH_OTSU,
    )
    .map_err(cv)?;
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

/// Title-block fields: a line whose leading words are a label
/// ([`parse::title_block_key`]) takes the rest of the line, else the other lines in
/// its cell, else the nearest unlabelled line in the cell to its right or below.
fn read_title_block(
    title: Option<&Region>,
    regions: &[Region],
    lines: &[Line],
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    let Some(t) = title else {
        return out;
    };
    let _ = regions;
    let inside: Vec<&Line> = lines
        .iter()
        .filter(|l| t.contains_centre(&l.bbox))
        .collect();
    let label_of = |s: &str| -> Option<(&'static str, String)> {
        // `SCALE:2:1`: a label glued to its value by a colon.
        if let Some((head, rest)) = s.split_once(':') {
            if let Some(key) = parse::title_block_key(head) {
                if !rest.trim().is_empty() && !head.trim().contains(' ') {
                    return Some((key, rest.trim().to_string()));
                }
            }
        }
        let words: Vec<&str> = s.split_whitespace().collect();
        for k in (1..=words.len()).rev() {
            if let Some(key) = parse::title_block_key(&words[..k].join(" ")) {
                return Some((key, words[k..].join(" ")));
            }
        }
        None
    };
    let cell_of = |b: &[f32; 4]| t.cells.iter().position(|c| contains_centre(c, b));
    // A value: not a label, known or not (`LINEAR:` under `TOLERANCES:`).
    let is_value = |o: &Line| label_of(&o.text).is_none() && !o.text.trim_end().ends_with(':');
    for l in &inside {
        let Some((key, rest)) = label_of(&l.text) else {
            continue;
        };
        if out.contains_key(key) {
            continue;
        }
        let value = if !rest.is_empty() {
            Some(rest)
        } else {
            let cell = cell_of(&l.bbox);
            // In the label's cell, below it or to its right (a value never
            // precedes its label).
            let mut same: Vec<&&Line> = inside
                .iter()
                .filter(|o| !std::ptr::eq(**o, *l) && cell.is_some() && cell_of(&o.bbox) == cell)
                .filter(|o| is_value(o))
                .filter(|o| {
                    o.bbox[1] + o.bbox[3] / 2.0 > l.bbox[1] + l.bbox[3]
                        || o.bbox[0] >= l.bbox[0] + l.bbox[2] - 2.0
                })
                .collect();
            same.sort_by(|a, b| a.bbox[1].total_cmp(&b.bbox[1]));
            if !same.is_empty() {
                Some(
                    same.iter()
                        .map(|o| o.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            } else {
                // Nearest unlabelled line to the right (same band) or below.
                let (cx, cy) = (l.bbox[0] + l.bbox[2], l.bbox[1] + l.bbox[3] / 2.0);
                inside
                    .iter()
                    .filter(|o| is_value(o))
                    .filter(|o| {
                        let right = o.bbox[0] >= cx - 2.0
                            && (o.bbox[1] + o.bbox[3] / 2.0 - cy).abs() <= l.bbox[3];
                        let below = o.bbox[1] >= l.bbox[1] + l.bbox[3] * 0.5
                            && o.bbox[0] < l.bbox[0] + l.bbox[2] * 2.0
                            && o.bbox[0] + o.bbox[2] > l.bbox[0] - l.bbox[3];
                        right || below
                    })
                    .min_by(|a, b| {
                        let d = |o: &Line| (o.bbox[0] - l.bbox[0]).hypot(o.bbox[1] - l.bbox[1]);
                        d(a).total_cmp(&d(b))
                    })
                    .filter(|o| {
                        (o.bbox[0] - l.bbox[0]).hypot(o.bbox[1] - l.bbox[1])
                            <= 8.0 * l.bbox[3].min(l.bbox[2]).max(10.0)
                    })
                    .map(|o| o.text.clone())
            }
        };
        // A general tolerance names a standard or a band: it has a digit
        // (`ISO 2768-m`, `±0.1`); `DIMENSIONS ARE IN MILLIMETERS` under `UNLESS
        // OTHERWISE SPECIFIED:` is not one.
        let value =
            value.filter(|v| key != "general_tolerance" || v.chars().any(|c| c.is_ascii_digit()));
        if let Some(v) = value {
            out.insert(key.to_string(), serde_json::Value::String(v));
        }
    }
    out
}

fn cv(e: opencv::Error) -> StageError {
    StageError::Other(format!("edocr: opencv: {e}").into())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_keeps_what_was_read_but_the_diameter_sign() {
        struct Case {
            read: &'static str,
            want: &'static str,
        }
        let cases = [
            Case {
                read: "021,5±0,1",
                want: "Ø21,5±0,1",
            },
            Case {
                read: "038 H12",
                want: "Ø38 H12",
            },
            Case {
                read: "Ø42",
                want: "Ø42",
            },
            Case {
                read: "45,0°",
                want: "45,0°",
            },
            Case {
                read: "0,5",
                want: "0,5",
            },
        ];
        for c in cases {
            assert_eq!(
                raw_as_read(c.read, &parse::normalise(c.read)),
                c.want,
                "{}",
                c.read
            );
        }
    }

    fn line(text: &str, b: [f32; 4], turn: i8) -> Line {
        Line {
            text: text.into(),
            confidence: 1.0,
            polygon: layout::polygon_of(&b),
            bbox: b,
            turn,
        }
    }

    #[test]
    fn merges_stacked_tolerances() {
        struct Case {
            name: &'static str,
            lines: Vec<Line>,
            want: Vec<&'static str>,
        }
        let cases = [
            Case {
                name: "vertical, reading upwards, upper and lower",
                lines: vec![
                    line("50.6", [1359.0, 510.0, 47.0, 94.0], 1),
                    line("+0.02", [1348.0, 425.0, 22.0, 90.0], 1),
                    line("0", [1378.0, 470.0, 22.0, 20.0], 0),
                ],
                want: vec!["50.6 +0.02 0"],
            },
            Case {
                name: "lone digit before a vertical ±",
                lines: vec![
                    line("3", [1281.0, 1238.0, 35.0, 28.0], 0),
                    line("±0.02", [1277.0, 1152.0, 39.0, 88.0], 1),
                ],
                want: vec!["3±0.02"],
            },
            Case {
                name: "horizontal",
                lines: vec![
                    line("20", [100.0, 100.0, 40.0, 30.0], 0),
                    line("+0.1", [142.0, 95.0, 40.0, 14.0], 0),
                    line("-0.2", [142.0, 115.0, 40.0, 14.0], 0),
                ],
                want: vec!["20 +0.1 -0.2"],
            },
            Case {
                name: "far apart stays apart",
                lines: vec![
                    line("20", [100.0, 100.0, 40.0, 30.0], 0),
                    line("+0.1", [400.0, 95.0, 40.0, 14.0], 0),
                ],
                want: vec!["20", "+0.1"],
            },
        ];
        for c in cases {
            let mut got: Vec<String> = merge_stacked(c.lines).into_iter().map(|l| l.text).collect();
            got.sort();
            let mut want: Vec<String> = c.want.iter().map(|s| s.to_string()).collect();
            want.sort();
            assert_eq!(got, want, "{}", c.name);
        }
    }

    #[test]
    fn merges_stacked_fits_and_bracketed_deviations() {
        struct Case {
            name: &'static str,
            lines: Vec<Line>,
            want: Vec<&'static str>,
        }
        let cases = [
            Case {
                name: "hole class over the shaft class",
                lines: vec![
                    line("Ø12.00 k6", [1143.0, 1561.0, 284.0, 67.0], 0),
                    line("H7", [1348.0, 1507.0, 86.0, 64.0], 0),
                ],
                want: vec!["Ø12.00 H7/k6"],
            },
            Case {
                name: "class far from the dimension stays apart",
                lines: vec![
                    line("Ø12.00 k6", [1143.0, 1561.0, 284.0, 67.0], 0),
                    line("H7", [1348.0, 1207.0, 86.0, 64.0], 0),
                ],
                want: vec!["H7", "Ø12.00 k6"],
            },
        ];
        for c in cases {
            let mut got: Vec<String> = merge_stacked_fits(c.lines)
                .into_iter()
                .map(|l| l.text)
                .collect();
            got.sort();
            assert_eq!(got, c.want, "{}", c.name);
        }
        // Brackets around stacked deviations (SolidWorks): `4.00 (+0.10 / -0.20)`
        // read as `(+0.10)` over `4.00 -0.20`.
        let got: Vec<String> = merge_stacked(vec![
            line("(+0.10)", [1824.0, 502.0, 176.0, 64.0], 0),
            line("4.00 -0.20", [1700.0, 553.0, 295.0, 67.0], 0),
        ])
        .into_iter()
        .map(|l| l.text)
        .collect();
        assert_eq!(got, vec!["4.00 +0.10 -0.20"]);
        assert_eq!(
            split_nominal("7.50 (-0.20"),
            Some(("7.50".into(), Some("-0.20".into())))
        );
        assert_eq!(split_nominal("60.00 ±0.10"), None);
        assert_eq!(split_nominal("6.50 0.00").map(|n| n.0), Some("6.50".into()));
        assert!(!is_tolerance("(0.5)") && is_tolerance("(+0.10)"));
        assert_eq!(count_prefix("2x3.40±0.10"), Some((2, 2)));
        assert_eq!(count_prefix("2x 6.00 k6"), Some((3, 2)));
        assert_eq!(count_prefix("1x45°"), None);
    }

    #[test]
    fn splits_trailing_words_and_scales() {
        assert_eq!(split_trailing_words("70 REF"), ("70".into(), "REF".into()));
        assert_eq!(
            split_trailing_words("R70 REF"),
            ("R70".into(), "REF".into())
        );
        assert_eq!(
            split_trailing_words("M8x1.25"),
            ("M8x1.25".into(), String::new())
        );
        assert_eq!(
            split_trailing_words("SECTION A"),
            ("SECTION A".into(), String::new())
        );
        assert_eq!(
            split_trailing_words("10.00 max."),
            ("10.00 max.".into(), String::new())
        );
        assert!(is_scale_ratio("2:1") && !is_scale_ratio("20"));
        assert_eq!(with_diameter_sign("038 H12"), "Ø38 H12");
        assert_eq!(with_diameter_sign("40"), "Ø40");
        assert_eq!(with_diameter_sign("⌀15"), "⌀15");
    }

    fn text_crop(draw: impl Fn(&mut Mat)) -> Mat {
        let mut m =
            Mat::new_rows_cols_with_default(60, 160, core::CV_8UC1, Scalar::all(255.0)).unwrap();
        draw(&mut m);
        m
    }

    #[test]
    fn tells_a_diameter_sign_from_digits() {
        let black = Scalar::all(0.0);
        let ring = |m: &mut Mat| {
            imgproc::ellipse(
                m,
                Point::new(25, 30),
                Size::new(16, 18),
                0.0,
                0.0,
                360.0,
                black,
                3,
                imgproc::LINE_8,
                0,
            )
            .unwrap();
        };
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

    #[test]
    fn tolerance_and_number_shapes() {
        for (s, tol, num) in [
            ("+0.02", true, false),
            ("0", true, true),
            ("±0,1", true, false),
            ("-0.2", true, false),
            ("50.6", false, true),
            ("Ø38", false, true),
            ("H12", false, false),
        ] {
            assert_eq!(is_tolerance(s), tol, "{s}");
            assert_eq!(is_plain_number(s), num, "{s}");
        }
    }

    /// Prints the lines the stage works on and writes their upright crops to
    /// /tmp/edocr-crops: `cargo test -p drawpipe-workers dump_edocr_lines -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn dump_edocr_lines() {
        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/drawings");
        let engine = OcrEngine::load(&ocr::Params::default()).unwrap();
        std::fs::create_dir_all("/tmp/edocr-crops").unwrap();
        for name in [
            "example_dwg.png",
            "BM_part.jpg",
            "Aufspannung.PDF",
            "Elevator_bottom.PDF",
        ] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let pre = crate::stages::preprocess::run(&Default::default(), &bytes).unwrap();
            let img = crate::stages::decode_page(&pre.pages[0].png).unwrap();
            let page = ocr::GrayPage {
                index: 0,
                image: &img,
            };
            let tl = ocr::run(&ocr::Params::default(), &engine, &page)
                .unwrap()
                .lines;
            let mut lines: Vec<Line> = tl.iter().map(Line::from_text_line).collect();
            let regions = layout::analyse(&LayoutParams::default(), &img, 0).unwrap();
            lines.extend(
                second_pass(
                    &Params::default(),
                    &engine,
                    &ocr::Params::default(),
                    &img,
                    &lines,
                    &regions,
                )
                .unwrap(),
            );
            orient_tall_lines(&engine, &ocr::Params::default(), &img, &mut lines).unwrap();
            let extra = reread_tolerances(&engine, &ocr::Params::default(), &img, &lines).unwrap();
            for (i, l) in lines.iter().chain(extra.iter()).enumerate() {
                let c = upright_crop(&img, l).unwrap();
                let ok = diameter_glyph_first(&c).unwrap();
                eprintln!(
                    "{name} {i} {:?} {:.2} {:?} turn {} dia {ok}",
                    l.text, l.confidence, l.bbox, l.turn
                );
                opencv::imgcodecs::imwrite(
                    &format!("/tmp/edocr-crops/{name}-{i}.png"),
                    &c,
                    &Vector::new(),
                )
                .unwrap();
            }
        }
    }
}
