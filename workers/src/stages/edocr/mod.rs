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

mod calibrate;
mod callout;
mod glyph;
pub mod iso286;
mod stage;
pub use stage::{Edocr, StageOutput};
pub mod layout;
mod merge;
pub mod parse;
mod reread;
pub mod tables;
mod title_block;
mod zones;

use std::time::Instant;

use drawpipe_core::StageError;
use opencv::core::Mat;
use opencv::prelude::MatTraitConst;
use serde::{Deserialize, Serialize};

use super::ocr::{self, OcrEngine, TextLine};
use glyph::{gdt_symbol, has_diameter_glyph};
use layout::{LayoutParams, Region, RegionKind};
use merge::{join_diameter_glyphs, merge_limits, merge_stacked, merge_stacked_fits};
use reread::{
    drop_line_work_ones, extend_short_numbers, glyph_count, orient_tall_lines, rejoin_fragments,
    reread_tolerances, second_pass, split_at_spaces, split_far_apart, split_stacked_lines,
    stacked_partners, swallowed_zeros,
};
use title_block::read_title_block;

pub use glyph::{diameter_glyph_first, diameter_glyph_within};

/// The characters a diameter sign is read as.
pub(super) const DIAMETER_SIGNS: [char; 4] = ['Ø', '⌀', 'ø', '∅'];

/// A countersink's and a counterbore's sign, written before a hole's diameter sign.
const HOLE_SIGNS: [char; 2] = ['⌵', '⌴'];

/// Tunables, overridable per job under `options.edocr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    pub layout: LayoutParams,
    /// Run the native-resolution tiled detection pass (default true).
    pub second_pass: bool,
    /// Tile side for that pass, pixels (default 1280, with 128 overlap).
    pub tile_size: u32,
    /// Re-detect a 2× window around each numeric line for stacked tolerances, and
    /// read the two deviations of a stacked tolerance read as one row apart
    /// (default true).
    pub reread_tolerances: bool,
    /// Lines read with a lower confidence are ignored (default 0.5, as `ocr`).
    pub min_confidence: f32,
    /// A one-character line needs at least this confidence to be a dimension
    /// (default 0.9: on the fixtures, arrowheads and symbols misread as lone
    /// digits score 0.6–0.8, real one-digit dimensions 0.95+).
    pub single_char_confidence: f32,
    /// A dimension read with a lower confidence is left out (default 0.75: on the
    /// tune renderings of the vector PDFs every dimension read below 0.75 was wrong,
    /// 6 of 6; on the fixture drawings the least confident right one reads 0.80).
    /// Text-layer lines read 1.0.
    pub min_dimension_confidence: f32,
    /// A line read from pixels whose glyphs are more than this many times the
    /// size of the page's median candidate's ([`glyph_size`]: the box's shorter
    /// side, or the square root of its area per character where smaller) is no
    /// dimension (default 3; 0 turns it off). Dimension text is set in one or two
    /// heights on a drawing. Chosen on the tune and tune2 renderings of the vector
    /// PDFs: right dimensions reach 2.4 times the median of a page's dimensions,
    /// the one graphic read as a number there (`10` on a hose barb) 4.0.
    pub max_text_size: f32,
    /// Read candidate lines again with the callout recogniser (when its model is
    /// installed) for the drawing symbols PP-OCR lacks (default true).
    pub callout_symbols: bool,
    /// The callout recogniser's reading is taken only at this confidence or above.
    pub callout_min_confidence: f32,
    /// Look at the pixels after a reading's last digit for a degree sign PP-OCR read
    /// as `0`/`o` or left out (default true; [`glyph::degree_glyph_last`]).
    pub degree_glyphs: bool,
    /// Readings weighed for a line read from pixels that parses as neither a
    /// dimension nor a callout (CTC beam search over the recogniser's steps; the
    /// likeliest one that parses as a dimension is taken, see [`grammar_rescore`]).
    /// 0 or 1: off, the default; at most 32 are weighed. Measured with 8 (2026-12-05): on the 24 synthetic
    /// tune drawings of seed 4242 and the labelled fixtures nothing changed; on
    /// the 63 tune renderings of the vector PDFs one reading was added, and it was
    /// wrong (`00000` read again as `30000`). The lines that fail the grammar are
    /// notes, labels and marks, not misread dimensions, so it stays off.
    pub grammar_beams: usize,
    /// A line read from pixels that parses as neither a dimension nor a callout is
    /// read again as it stands on the page and turned over (default true): the
    /// recogniser's angle classifier turns some level text over (`90°` read `。06`);
    /// a reading that is a dimension of two glyphs or more, read at 0.9 or surer,
    /// stands for the line ([`grammar_rescore`]).
    pub reread_both_ways: bool,
    /// A pixel-read dimension's `confidence` is the probability that it is right
    /// ([`calibrate`]), the recogniser's own kept as `read_confidence` (default true;
    /// false: `confidence` is the recogniser's).
    pub calibrate: bool,
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
            min_dimension_confidence: 0.75,
            max_text_size: 3.0,
            callout_symbols: true,
            callout_min_confidence: 0.9,
            degree_glyphs: true,
            grammar_beams: 0,
            reread_both_ways: true,
            calibrate: true,
        }
    }
}

/// The stage's input: one 8-bit grayscale page and the `ocr` lines read on it.
pub struct Input<'a> {
    pub page: ocr::GrayPage<'a>,
    pub lines: &'a [TextLine],
}

/// One dimension read: the parsed fields plus where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionItem {
    #[serde(flatten)]
    pub dimension: parse::Dimension,
    /// The probability that it is right (text and kind), in [0, 1]: for a
    /// dimension read from the pixels, the recogniser's confidence calibrated on the
    /// tune drawings ([`calibrate`]); 1 for a text-layer one.
    pub confidence: f32,
    /// The recogniser's own confidence (mean over the characters of the lines it was
    /// read from), where `confidence` was calibrated from it; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_confidence: Option<f32>,
    /// Corners top-left, top-right, bottom-right, bottom-left, page pixels.
    pub polygon: [[f32; 2]; 4],
    /// `[x, y, width, height]`, page pixels.
    pub bbox: [f32; 4],
    pub page: u32,
    /// Where its text came from: `ocr` (the pixels) or `text_layer` (the PDF's own
    /// text; the diameter sign may still come from the pixels).
    #[serde(default)]
    pub source: ocr::TextSource,
    /// PP-OCR's reading of the line(s), where the callout recogniser, the degree-sign
    /// glyph test or the grammar (a zero before a digit is a diameter sign) changed
    /// it (`45°` for `450`, `Ø6,6` for `06,6`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppocr_read: Option<String>,
    /// For a size read from a table's column (a hole table, tabulated dimensions):
    /// the column's header (`X LOC`, `ØD`, `A`); absent for a dimension on the views.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_column: Option<String>,
}

/// One GD&T feature-control frame read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The callout recogniser's second reading of the candidate lines.
    #[serde(default)]
    pub callout_ms: f64,
    /// The likelier readings of lines that made no dimension, weighed by the grammar.
    #[serde(default)]
    pub grammar_ms: f64,
    pub other_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub dimensions: Vec<DimensionItem>,
    pub gdt: Vec<GdtItem>,
    /// Title-block field (`drawing_number`, `title`, `material`, …) → value.
    pub title_block: serde_json::Map<String, serde_json::Value>,
    pub regions: Vec<Region>,
    /// Text lines that made no dimension, and why.
    pub dropped: Vec<Dropped>,
    /// The tables in the drawing area (not the title block), read into rows.
    pub tables: Vec<tables::Table>,
    pub timings: Timings,
}

/// Why a text line made no dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Outside the drawing frame.
    OutsideFrame,
    /// In a zoned border's strip.
    BorderStrip,
    /// A zone label (a lone letter or digit along the frame).
    ZoneLabel,
    /// In the title block.
    TitleBlock,
    /// In a table's cell (revision table, parts list, tolerance table).
    Table,
    /// In a GD&T feature-control frame (read under `gdt`).
    GdtFrame,
    /// A note's item number (`1  BREAK ALL SHARP EDGES`).
    ListNumber,
    /// One character read with too little confidence.
    UnsureCharacter,
    /// A dimension read with too little confidence.
    UnsureReading,
    /// One character OCR found on line work (an arrowhead, a circle), or drawn
    /// rectangles read as zeros (a component's pads read `100000`).
    LineWork,
    /// Glyphs several times the size of the page's text: graphics read as
    /// characters (a hose barb's rings read `10`).
    Oversize,
    /// A view's scale (`1:2`).
    ScaleRatio,
    /// Neither a dimension nor a callout by the grammar.
    NotADimension,
    /// A size of zero.
    NoSize,
    /// The end of a number whose first digits were cut off: a bare decimal point
    /// first (`.50`) on a page that writes a leading zero (`0.75`).
    CutNumber,
}

/// A text line that made no dimension: what it said, where, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    pub text: String,
    pub bbox: [f32; 4],
    pub page: u32,
    pub reason: DropReason,
}

/// Moves the lines `drop_if` picks from `lines` to `dropped`, with `reason`.
fn sift(
    lines: &mut Vec<Line>,
    dropped: &mut Vec<Dropped>,
    page: u32,
    reason: DropReason,
    mut drop_if: impl FnMut(&Line) -> bool,
) {
    sift_why(lines, dropped, page, |l| drop_if(l).then_some(reason));
}

/// Moves the lines `why` gives a reason for from `lines` to `dropped`, with it
/// (`why` is called once per line, in order).
fn sift_why(
    lines: &mut Vec<Line>,
    dropped: &mut Vec<Dropped>,
    page: u32,
    mut why: impl FnMut(&Line) -> Option<DropReason>,
) {
    let mut kept = Vec::with_capacity(lines.len());
    for l in lines.drain(..) {
        match why(&l) {
            Some(reason) => dropped.push(Dropped {
                text: l.text,
                bbox: l.bbox,
                page,
                reason,
            }),
            None => kept.push(l),
        }
    }
    *lines = kept;
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
    /// From the PDF's text layer: exact, never re-read from pixels.
    exact: bool,
    /// PP-OCR's reading, where the callout recogniser supplied symbols it lacked.
    replaced: Option<String>,
}

impl Line {
    /// Where its text came from, as a dimension reports it.
    fn source(&self) -> ocr::TextSource {
        if self.exact {
            ocr::TextSource::TextLayer
        } else {
            ocr::TextSource::Ocr
        }
    }

    /// A line read from the pixels in `polygon`, turned `turn`.
    fn read(text: String, confidence: f32, polygon: [[f32; 2]; 4], turn: i8) -> Self {
        Line {
            text,
            confidence,
            polygon,
            bbox: ocr::bbox_of(&polygon),
            turn,
            exact: false,
            replaced: None,
        }
    }

    fn from_text_line(l: &TextLine) -> Self {
        Line {
            text: l.text.clone(),
            confidence: l.confidence,
            polygon: l.polygon,
            bbox: l.bbox,
            turn: if is_tall(&l.bbox) { 1 } else { 0 },
            exact: l.source == ocr::TextSource::TextLayer,
            replaced: None,
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

    // A page read from its PDF text layer has every character already: no pass
    // re-reads its pixels.
    let exact = lines.iter().any(|l| l.exact);
    if params.second_pass && !exact {
        let t1 = Instant::now();
        let extra = second_pass(params, engine, &ocr_params, img, &lines, &regions)?;
        lines.extend(extra);
        t.second_pass_ms = ms(t1);
    }
    let t2 = Instant::now();
    // Level lines stacked in one box, read band by band; then vertical lines: read
    // in both orientations, keep the more confident.
    if !exact {
        split_stacked_lines(engine, &ocr_params, img, &mut lines)?;
        orient_tall_lines(engine, &ocr_params, img, &mut lines)?;
    }
    // Outside the frame, or in a zoned border's strip: never a dimension.
    let strips: Vec<&Region> = regions
        .iter()
        .filter(|r| r.kind == RegionKind::BorderStrip)
        .collect();
    let mut dropped = Vec::new();
    lines.retain(|l| !l.text.trim().is_empty());
    // Zone labels are looked for among all lines, those outside the frame too: a
    // strip the frame cuts off still names the labels it leaves inside (the bottom
    // row's `1` that the inner frame line passes below).
    let zone = {
        let items: Vec<(&str, [f32; 4])> =
            lines.iter().map(|l| (l.text.as_str(), l.bbox)).collect();
        zones::zone_labels(&items, img.cols() as f32, img.rows() as f32)
    };
    let mut zone = zone.into_iter();
    sift_why(&mut lines, &mut dropped, index, |l| {
        let zone = zone.next().unwrap_or(false);
        if !frame.contains_centre(&l.bbox) {
            Some(DropReason::OutsideFrame)
        } else if strips.iter().any(|s| s.contains_centre(&l.bbox)) {
            Some(DropReason::BorderStrip)
        } else {
            zone.then_some(DropReason::ZoneLabel)
        }
    });
    // Tables read as rows; the lines under a column that names a size (a hole
    // table, tabulated dimensions) are dimensions, the rest stay table text.
    let mut read_tables = Vec::new();
    let mut in_size_column: Vec<(Vec<usize>, String)> = Vec::new();
    for r in regions
        .iter()
        .filter(|r| r.kind == RegionKind::Table && holds_text(r, &lines))
    {
        let inside: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].turn == 0 && r.contains_centre(&lines[i].bbox))
            .collect();
        let words: Vec<tables::Word> = inside
            .iter()
            .map(|&i| tables::Word {
                text: &lines[i].text,
                bbox: lines[i].bbox,
            })
            .collect();
        let (table, sizes) = tables::read(r.bbox, index, &r.cells, &words);
        in_size_column.extend(
            sizes
                .into_iter()
                .map(|s| (s.words.iter().map(|&w| inside[w]).collect(), s.header)),
        );
        read_tables.push(table);
    }
    // Each size cell's lines, one line (text-layer pieces of one callout), out of the
    // page's lines; done before pieces are joined, which would join across cells.
    let table_sizes: Vec<(Line, String)> = in_size_column
        .iter()
        .map(|(members, header)| (cell_line(&lines, members), header.clone()))
        .collect();
    let taken: std::collections::HashSet<usize> = in_size_column
        .iter()
        .flat_map(|(m, _)| m.iter().copied())
        .collect();
    if !taken.is_empty() {
        lines = lines
            .into_iter()
            .enumerate()
            .filter_map(|(i, l)| (!taken.contains(&i)).then_some(l))
            .collect();
    }
    if exact {
        lines = join_row_pieces(lines);
    } else {
        rejoin_fragments(engine, &ocr_params, img, &mut lines)?;
        extend_short_numbers(engine, &ocr_params, img, &mut lines)?;
        split_far_apart(engine, &ocr_params, img, &mut lines)?;
        split_at_spaces(engine, &ocr_params, img, &mut lines)?;
        drop_line_work_ones(engine, &ocr_params, img, &mut lines)?;
    }

    // No title block in the rules: one from its labels, where they make one.
    let title = title.or_else(|| title_block::from_labels(&lines, img.rows() as f32, index));
    // Tables whose cells hold no text are line work (a view drawn as rectangles).
    let tables: Vec<&Region> = regions
        .iter()
        .filter(|r| matches!(r.kind, RegionKind::Table | RegionKind::TitleBlock))
        .filter(|r| r.kind == RegionKind::TitleBlock || holds_text(r, &lines))
        .collect();
    let mut title_block = read_title_block(title.as_ref(), &regions, &lines);
    sift(
        &mut lines,
        &mut dropped,
        index,
        DropReason::TitleBlock,
        |l| {
            title.as_ref().is_some_and(|t| t.contains_centre(&l.bbox))
                || tables
                    .iter()
                    .any(|r| r.kind == RegionKind::TitleBlock && r.contains_centre(&l.bbox))
        },
    );
    sift(&mut lines, &mut dropped, index, DropReason::Table, |l| {
        tables.iter().any(|r| r.contains_centre(&l.bbox))
    });
    if !title_block.contains_key("material") {
        if let Some(m) = title_block::material_elsewhere(&read_tables, &lines) {
            title_block.insert("material".into(), serde_json::Value::String(m));
        }
    }

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
    sift(&mut lines, &mut dropped, index, DropReason::GdtFrame, |l| {
        gdt_regions.iter().any(|r| r.contains_centre(&l.bbox))
    });
    t.other_ms += ms(t2);

    // Stacked tolerances the page-level detector missed.
    if params.reread_tolerances && !exact {
        let t3 = Instant::now();
        let extra = reread_tolerances(engine, &ocr_params, img, &lines)?;
        lines.extend(extra);
        t.reread_ms = ms(t3);
    }
    if let (Some(reader), true, false) = (engine.callout(), params.callout_symbols, exact) {
        let t5 = Instant::now();
        callout::add_symbols(reader, img, &mut lines, params.callout_min_confidence)?;
        t.callout_ms = ms(t5);
    }
    let t4 = Instant::now();
    if params.reread_tolerances && !exact {
        swallowed_zeros(engine, &ocr_params, img, &mut lines)?;
    }
    let mut merged = merge_limits(merge_stacked_fits(merge_stacked(join_diameter_glyphs(
        lines,
    ))));
    if params.reread_tolerances && !exact {
        stacked_partners(engine, &ocr_params, img, &mut merged)?;
    }

    // The page's glyph size: the median candidate's, over the candidates with a
    // digit (three or more, else none). Title-block and note text, often smaller
    // than the dimensions, is out of them by now.
    // A pixel-read candidate above `max_text_size` times it is no dimension.
    let median_glyph = {
        let mut sizes: Vec<f32> = merged
            .iter()
            .filter(|m| m.text.chars().any(|c| c.is_ascii_digit()))
            .filter_map(glyph_size)
            .collect();
        sizes.sort_by(f32::total_cmp);
        (sizes.len() >= 3).then(|| sizes[sizes.len() / 2])
    };
    let largest_glyph = median_glyph
        .filter(|_| params.max_text_size > 0.0)
        .map(|g| params.max_text_size * g);
    let boxed: Vec<&Region> = regions
        .iter()
        .filter(|r| r.kind == RegionKind::BoxedDimension)
        .collect();
    let all: Vec<([f32; 4], String)> = merged.iter().map(|m| (m.bbox, m.text.clone())).collect();
    let mut dimensions = Vec::new();
    // Lines read from pixels that made no dimension wait here for the grammar: their
    // likeliest readings are weighed once, together, after the first round.
    let mut unparsed: Vec<Line> = Vec::new();
    let mut work: Vec<(Line, bool)> = merged.into_iter().rev().map(|m| (m, true)).collect();
    loop {
        let Some((m, first)) = work.pop() else {
            if unparsed.is_empty() {
                break;
            }
            let t6 = Instant::now();
            let lines = std::mem::take(&mut unparsed);
            for (line, rescored) in grammar_rescore(engine, params, img, lines)? {
                match rescored {
                    Some(r) => work.push((r, false)),
                    None => dropped.push(Dropped {
                        text: line.text,
                        bbox: line.bbox,
                        page: index,
                        reason: DropReason::NotADimension,
                    }),
                }
            }
            work.reverse();
            t.grammar_ms += ms(t6);
            continue;
        };
        let mut drop = |reason| {
            dropped.push(Dropped {
                text: m.text.clone(),
                bbox: m.bbox,
                page: index,
                reason,
            })
        };
        if is_list_number(&m.bbox, &m.text, &all) {
            drop(DropReason::ListNumber);
            continue;
        }
        let (core_text, trailing) = split_trailing_words(&m.text);
        let single = core_text.chars().filter(|c| !c.is_whitespace()).count() == 1;
        if single && m.confidence < params.single_char_confidence {
            drop(DropReason::UnsureCharacter);
            continue;
        }
        if m.confidence < params.min_dimension_confidence {
            drop(DropReason::UnsureReading);
            continue;
        }
        if !m.exact && matches!((glyph_size(&m), largest_glyph), (Some(g), Some(max)) if g > max) {
            drop(DropReason::Oversize);
            continue;
        }
        // A lone character OCR found on line work: an arrowhead, a circle or a hole
        // mark (text-layer characters are printed text, never invented).
        if single && !m.exact && glyph::is_line_work(img, &m.bbox)? {
            drop(DropReason::LineWork);
            continue;
        }
        if is_scale_ratio(&core_text) {
            drop(DropReason::ScaleRatio);
            continue;
        }
        let mut text = core_text.clone();
        // After a count (`2x ⌀3.40`) the sign is the glyph after the count's.
        let count = count_prefix(&text);
        let glyphs = count.map_or(1, |(_, g)| g + 1);
        // Text-layer text often lacks the sign (drawn as line work before the
        // number): look for it in the room before the first character too.
        let crop = if m.exact {
            None
        } else {
            Some(glyph::upright_crop(img, &m)?)
        };
        // Drawn rectangles read as zeros: a component's pads read `100000`.
        let zeros = core_text.chars().filter(|&c| c == '0').count();
        let zeros_and_ones = core_text.chars().all(|c| c == '0' || c == '1');
        if let Some(c) = crop.as_ref().filter(|_| zeros > 0 && zeros_and_ones) {
            if glyph::rectangles_read_as_zeros(c, zeros)? {
                drop(DropReason::LineWork);
                continue;
            }
        }
        // What the grammar changed, the reading keeps PP-OCR's text for (`ppocr_read`).
        let mut replaced = m.replaced.clone();
        let found = match &crop {
            None => {
                !text
                    .trim_start_matches(HOLE_SIGNS)
                    .starts_with(DIAMETER_SIGNS)
                    && has_diameter_glyph(img, &with_room_before(&m), glyphs + 1)?
            }
            Some(crop) => {
                let body = count.map_or(text.as_str(), |(k, _)| &text[k..]);
                if diameter_glyph_within(crop, glyphs)? {
                    true
                } else if leading_zero_is_a_sign(body) {
                    // The grammar, not the pixels, says so: it is recorded.
                    replaced.get_or_insert_with(|| m.text.clone());
                    true
                } else {
                    false
                }
            }
        };
        if found {
            text = match count {
                Some((k, _)) => format!(
                    "{} {}",
                    text[..k].trim_end(),
                    with_diameter_sign(&text[k..])
                ),
                None => with_diameter_sign(&text),
            };
        }
        // A degree sign PP-OCR read as `0` or `o`, or left out: `450`, `45o` or `45`
        // where the pixels hold `45°`.
        if let Some(crop) = crop.as_ref().filter(|_| params.degree_glyphs) {
            // The pixels are looked at only for a reading that may take the sign.
            let fixed = if degree_candidate(&text) {
                glyph::degree_glyph_last(crop)?.and_then(|g| with_degree_sign(&text, g))
            } else {
                None
            };
            if let Some(fixed) = fixed {
                replaced.get_or_insert_with(|| m.text.clone());
                text = fixed;
            }
        }
        let is_boxed = boxed.iter().any(|r| r.contains_centre(&m.bbox));
        // A basic dimension's frame edge read as a character (`240]`, `|30`).
        let read = if m.exact {
            text
        } else {
            without_frame_edges(&text, is_boxed)
        };
        let text = parse::normalise(&read);
        let full = if trailing.is_empty() {
            text.clone()
        } else {
            format!("{text} {trailing}")
        };
        let plain = if parse::looks_like_dimension(&text) {
            parse::parse_dimension(&full, is_boxed)
                .or_else(|_| parse::parse_dimension(&text, is_boxed))
                .ok()
        } else {
            None
        };
        // Otherwise a callout (`M5x0.8 THRO' x 2`, `-75.4`): its raw text and box are
        // the whole line's.
        let (mut dimension, whole) = match plain {
            Some(d) => (d, false),
            None => {
                let line = format!("{read} {trailing}");
                match parse::parse_callout(&line, is_boxed) {
                    Ok(d) => (d, true),
                    Err(_)
                        if first
                            && (params.grammar_beams > 1 || params.reread_both_ways)
                            && crop.is_some()
                            && may_be_dimension(&m.text) =>
                    {
                        unparsed.push(m.clone());
                        continue;
                    }
                    Err(_) => {
                        drop(DropReason::NotADimension);
                        continue;
                    }
                }
            }
        };
        // No feature has a size of zero: a lone `0` (or `Ø0`) is a circle or a hole
        // mark read as a digit, or a stacked deviation left alone.
        if states_no_size(&dimension) {
            drop(DropReason::NoSize);
            continue;
        }
        // The raw text is the dimension's own: a trailing word (`REF`) sets a flag
        // and sits outside the polygon.
        if !whole {
            dimension.raw = raw_as_read(&read, &text);
        }
        let (polygon, bbox, shown) = if trailing.is_empty() || whole {
            (m.polygon, m.bbox, m.text.as_str())
        } else {
            let (p, b) = shrink_to_prefix(&m, core_text.chars().count(), m.text.chars().count());
            (p, b, core_text.as_str())
        };
        let (polygon, bbox) = if m.exact {
            (polygon, bbox)
        } else {
            glyph_box(img, polygon, bbox, shown, m.turn != 0, median_glyph)?
        };
        dimensions.push(DimensionItem {
            dimension,
            confidence: m.confidence,
            polygon,
            bbox,
            page: index,
            source: m.source(),
            ppocr_read: replaced,
            table_column: None,
            read_confidence: None,
        });
    }
    for (line, header) in table_sizes {
        match table_size(params, index, &line, &header) {
            Some(item) => dimensions.push(item),
            None => dropped.push(Dropped {
                text: line.text,
                bbox: line.bbox,
                page: index,
                reason: DropReason::Table,
            }),
        }
    }
    let page_text: Vec<&str> = input
        .lines
        .iter()
        .filter(|l| l.page == index)
        .map(|l| l.text.as_str())
        .collect();
    drop_cut_numbers(&mut dimensions, &mut dropped, &page_text);
    attach_tail_lines(&mut dimensions, &mut dropped);
    if params.calibrate {
        dimensions.iter_mut().for_each(calibrate::apply);
    }
    t.other_ms += ms(t4);
    Ok(Output {
        dimensions,
        gdt,
        title_block,
        regions,
        dropped,
        tables: read_tables,
        timings: t,
    })
}

/// A callout's tail written on a line of its own under its dimension (`TYP 2 PLCS`
/// under `M3x0.5 - 6H`, `4 HOLES` under `Ø6.6 THRU`: [`parse::parse_tail_line`]) was
/// dropped as no dimension; it joins the dimension right above it: its words go to
/// the raw text, its count to the count, its box to the box. Level lines only, of
/// about one height (within 35 %), overlapping across by half the narrower, the tail
/// starting within 0.6 of a line height under the dimension.
fn attach_tail_lines(dimensions: &mut [DimensionItem], dropped: &mut Vec<Dropped>) {
    dropped.retain(|t| {
        if t.reason != DropReason::NotADimension || t.bbox[2] <= t.bbox[3] {
            return true;
        }
        let Some(count) = parse::parse_tail_line(&t.text) else {
            return true;
        };
        let h = t.bbox[3];
        let gap = |d: &DimensionItem| t.bbox[1] - (d.bbox[1] + d.bbox[3]);
        let above = dimensions
            .iter_mut()
            .filter(|d| d.page == t.page && d.bbox[2] > d.bbox[3])
            .filter(|d| (d.bbox[3] - h).abs() <= 0.35 * d.bbox[3].max(h))
            .filter(|d| {
                let across =
                    (d.bbox[0] + d.bbox[2]).min(t.bbox[0] + t.bbox[2]) - d.bbox[0].max(t.bbox[0]);
                across >= 0.5 * d.bbox[2].min(t.bbox[2])
            })
            .filter(|d| (-0.3 * h..=0.6 * h).contains(&gap(d)))
            .min_by(|a, b| gap(a).abs().total_cmp(&gap(b).abs()));
        let Some(d) = above else {
            return true;
        };
        d.dimension.raw = format!("{} {}", d.dimension.raw, t.text.trim());
        d.dimension.count = d.dimension.count.or(count);
        d.bbox = merge::union(&d.bbox, &t.bbox);
        d.polygon = layout::polygon_of(&d.bbox);
        false
    });
}

/// Numbers written without a leading zero (`.50`) on a page that writes them with
/// one (`0.75`, `R0.20`): a metric drawing never prints a bare decimal point first,
/// so such a reading is the end of a number whose first digits were cut off (a line
/// of the drawing crossing it, a detector box too short) and is dropped as
/// [`DropReason::CutNumber`]. Inch drawings, which leave the zero out (ASME Y14.5),
/// are left alone: the page decides, by at least two leading zeros and more of them
/// than bare points among its dimensions and the rest of its text (`page`: notes and
/// tolerance tables write numbers too). Text-layer readings are printed text and
/// always kept.
fn drop_cut_numbers(
    dimensions: &mut Vec<DimensionItem>,
    dropped: &mut Vec<Dropped>,
    page: &[&str],
) {
    let style = |d: &DimensionItem| number_style(&d.dimension.raw);
    let texts = page.iter().map(|t| number_style(t));
    let all: Vec<(bool, bool)> = texts.chain(dimensions.iter().map(style)).collect();
    let zeros = all.iter().filter(|s| s.0).count();
    let bare = all.iter().filter(|s| s.1).count();
    if zeros < 2 || zeros <= bare {
        return;
    }
    let (cut, keep): (Vec<_>, Vec<_>) = std::mem::take(dimensions)
        .into_iter()
        .partition(|d| d.source != ocr::TextSource::TextLayer && style(d).1);
    *dimensions = keep;
    dropped.extend(cut.into_iter().map(|d| Dropped {
        text: d.dimension.raw,
        bbox: d.bbox,
        page: d.page,
        reason: DropReason::CutNumber,
    }));
}

/// Whether a text writes a number below one with a leading zero (`0.75`, `R0,2`)
/// and whether it writes one with a bare decimal point first (`.50`, `⌀.25`).
fn number_style(raw: &str) -> (bool, bool) {
    let c: Vec<char> = raw.chars().collect();
    let sep = |c: char| c == '.' || c == ',';
    let mut zero = false;
    let mut bare = false;
    for i in 0..c.len() {
        let before = |k: usize| k == 0 || !(c[k - 1].is_ascii_digit() || sep(c[k - 1]));
        let digit_at = |k: usize| c.get(k).is_some_and(char::is_ascii_digit);
        if c[i] == '0' && before(i) && c.get(i + 1).is_some_and(|&n| sep(n)) && digit_at(i + 2) {
            zero = true;
        }
        if sep(c[i]) && before(i) && digit_at(i + 1) {
            bare = true;
        }
    }
    (zero, bare)
}

/// One line of a table cell's lines (indices into `lines`, left to right): their
/// texts joined with spaces, their boxes' union, the least confident's confidence.
fn cell_line(lines: &[Line], members: &[usize]) -> Line {
    let mut out = lines[members[0]].clone();
    for &i in &members[1..] {
        let l = &lines[i];
        out.text = format!("{} {}", out.text, l.text);
        out.bbox = merge::union(&out.bbox, &l.bbox);
        out.confidence = out.confidence.min(l.confidence);
        out.exact &= l.exact;
        out.replaced = None;
    }
    out.polygon = layout::polygon_of(&out.bbox);
    out
}

/// A line's glyph size: its box's shorter side, or the square root of the box's
/// area per character where that is smaller (slanted text in an upright box near
/// square); none for a line without a character.
fn glyph_size(l: &Line) -> Option<f32> {
    let glyphs = l.text.chars().filter(|c| !c.is_whitespace()).count();
    let p = &l.polygon;
    let side = |i: usize| (p[(i + 1) % 4][0] - p[i][0]).hypot(p[(i + 1) % 4][1] - p[i][1]);
    let short = side(0).min(side(1));
    (glyphs > 0).then(|| short.min((crate::geometry::polygon_area(p) / glyphs as f32).sqrt()))
}

/// A size read from a table's column: the cell's text as a dimension (or a hole
/// callout), a diameter where the header says so (`DIA`, `ØD`) and the cell leaves
/// the sign out. None for a cell that is not one, reads as a size of zero, or was
/// read with too little confidence.
fn table_size(params: &Params, page: u32, line: &Line, header: &str) -> Option<DimensionItem> {
    if line.confidence < params.min_dimension_confidence {
        return None;
    }
    let text = parse::normalise(&line.text);
    let mut dimension = if parse::looks_like_dimension(&text) {
        parse::parse_dimension(&text, false).ok()
    } else {
        None
    }
    .or_else(|| parse::parse_callout(&line.text, false).ok())?;
    if states_no_size(&dimension) {
        return None;
    }
    if dimension.kind == parse::DimKind::Linear && tables::names_a_diameter(header) {
        dimension.kind = parse::DimKind::Diameter;
    }
    Some(DimensionItem {
        dimension,
        confidence: line.confidence,
        polygon: line.polygon,
        bbox: line.bbox,
        page,
        source: line.source(),
        ppocr_read: line.replaced.clone(),
        table_column: Some(header.to_string()),
        read_confidence: None,
    })
}

/// The least share of a line's readings (their probability mass, summed over
/// alignments) a reading needs for the grammar to take it: one the recogniser gives
/// at least a tenth. Set before any result was looked at.
const MIN_SHARE: f32 = 0.1;

/// Most readings [`grammar_rescore`] weighs per line, whatever `grammar_beams` asks:
/// the search's work grows with the square of its width.
const MAX_BEAMS: usize = 32;

/// Decoding that knows the grammar. Each line read from pixels that parses as
/// neither a dimension nor a callout is read again from its upright crop, keeping
/// its `params.grammar_beams` likeliest readings (CTC beam search); the likeliest
/// one that parses as a dimension of some size and holds at least [`MIN_SHARE`] of
/// the mass is returned beside the line. Its confidence is its own characters' mean
/// probability on its best alignment, so the stage's confidence checks judge it as
/// any other reading, and it keeps the line's original text in `replaced` (the
/// report's `ppocr_read`): a reading the grammar chose says so. With
/// `params.reread_both_ways`, where no such reading is found (or beams are off),
/// the crop is read as it stands and turned over, without the angle classifier,
/// which turns some level text over (`90°` read `。06`).
fn grammar_rescore(
    engine: &OcrEngine,
    params: &Params,
    img: &Mat,
    lines: Vec<Line>,
) -> Result<Vec<(Line, Option<Line>)>, StageError> {
    let crops = lines
        .iter()
        .map(|l| glyph::upright_crop(img, l))
        .collect::<Result<Vec<Mat>, StageError>>()?;
    let width = params.grammar_beams.min(MAX_BEAMS);
    let readings = if width > 1 {
        engine.recognise_beams(&ocr::Params::default(), &crops, width)?
    } else {
        vec![Vec::new(); crops.len()]
    };
    // The crops as they stand and turned over, read without the angle classifier.
    let both_ways = if params.reread_both_ways {
        let mut both = Vec::with_capacity(2 * crops.len());
        for c in &crops {
            let mut o = Mat::default();
            opencv::core::rotate(c, &mut o, opencv::core::ROTATE_180).map_err(cv)?;
            both.push(c.clone());
            both.push(o);
        }
        let mut tm = ocr::Timings::default();
        let read = engine.recognise(&ocr::Params::default(), &both, &mut tm)?;
        read.chunks(2).map(|r| r.to_vec()).collect()
    } else {
        vec![Vec::new(); crops.len()]
    };
    Ok(lines
        .into_iter()
        .zip(readings)
        .zip(both_ways)
        .map(|((l, readings), ways)| {
            // A reading that differs only in its spaces is the same reading: the
            // greedy one's spaces come from where the characters stand (a glyph the
            // recogniser could not read between two numbers), the search's do not.
            let pick = readings
                .into_iter()
                .find(|r| {
                    r.share >= MIN_SHARE
                        && merge::unspaced(&r.text) != merge::unspaced(&l.text)
                        && parses_as_dimension(&r.text)
                })
                .map(|r| (r.text, r.confidence))
                // Otherwise the line as it stands or turned over, where it reads as
                // a dimension of two glyphs or more, surely.
                .or_else(|| {
                    ways.into_iter().find(|(text, conf)| {
                        merge::unspaced(text) != merge::unspaced(&l.text)
                            && stands_for_the_line(text, *conf)
                    })
                });
            let rescored = pick.map(|(text, confidence)| Line {
                text,
                confidence,
                replaced: Some(l.replaced.clone().unwrap_or_else(|| l.text.clone())),
                ..l.clone()
            });
            (l, rescored)
        })
        .collect())
}

/// How sure a line's reading another way (as it stands, turned over, turned 90°
/// where it read nothing level) must be to stand for it: as sure as a stacked band
/// read on its own. Set before any result was looked at.
const OTHER_WAY_CONFIDENCE: f32 = 0.9;

/// Whether a reading of a line another way stands for the line ([`grammar_rescore`],
/// [`orient_tall_lines`]): a dimension of two glyphs or more, read at
/// [`OTHER_WAY_CONFIDENCE`] or surer.
fn stands_for_the_line(text: &str, confidence: f32) -> bool {
    confidence >= OTHER_WAY_CONFIDENCE && glyph_count(text) >= 2 && parses_as_dimension(text)
}

/// Whether an unparsed reading is worth weighing again: a digit in at most 16
/// characters (a dimension callout's length; notes and labels are longer or
/// have no digit). The length was set after looking at the unparsed lines of
/// synthetic tune drawings (seed 4242): notes, which cost beam time for nothing.
fn may_be_dimension(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit()) && text.trim().chars().count() <= 16
}

/// Whether `text` reads as a dimension with a size.
fn parses_as_dimension(text: &str) -> bool {
    let t = parse::normalise(text);
    parse::looks_like_dimension(&t)
        && parse::parse_dimension(&t, false).is_ok_and(|d| !states_no_size(&d))
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
    if normalised.starts_with('Ø') && !r.starts_with(DIAMETER_SIGNS) {
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

/// A text-layer line's box with room before its first character (1.2 text heights),
/// where a diameter sign drawn as line work, not text, sits.
fn with_room_before(l: &Line) -> Line {
    let mut l = l.clone();
    let b = l.bbox;
    l.bbox = match l.turn {
        0 => {
            let r = 1.2 * b[3];
            [b[0] - r, b[1], b[2] + r, b[3]]
        }
        // Reads bottom to top: the first character is at the bottom.
        1 => [b[0], b[1], b[2], b[3] + 1.2 * b[2]],
        _ => {
            let r = 1.2 * b[2];
            [b[0], b[1] - r, b[2], b[3] + r]
        }
    };
    l.polygon = layout::polygon_of(&l.bbox);
    l
}

/// Joins text-layer lines that continue each other on one row: the same height
/// (within 25 %), overlapping by 70 % of it across, with a gap along the row of at
/// most 1.5 heights (2.5 after a bare count, `6 x`, where the diameter sign drawn
/// between takes a height more: a tune2 drawing's `6 x` and `3.40 完全贯穿` are 1.6
/// apart), and not both dimensions on their own. A CAD program writes a
/// callout's parts as separate text (`2x`, the number, its fit), with the diameter
/// sign drawn as line work between them; two complete dimensions side by side (`4.30`
/// and `60°`) stay apart.
fn join_row_pieces(mut lines: Vec<Line>) -> Vec<Line> {
    // Along-row position, across-row span and height, in the line's own frame.
    let frame = |l: &Line| {
        let b = l.bbox;
        match l.turn {
            0 => (b[0], b[0] + b[2], b[1], b[1] + b[3], b[3]),
            // Reading bottom to top: along = -y.
            1 => (-(b[1] + b[3]), -b[1], b[0], b[0] + b[2], b[2]),
            _ => (b[1], b[1] + b[3], b[0], b[0] + b[2], b[2]),
        }
    };
    lines.sort_by(|a, b| frame(a).0.total_cmp(&frame(b).0));
    let mut out: Vec<Line> = Vec::new();
    for l in lines {
        let (a0, _, c0, c1, h) = frame(&l);
        let joined = out.iter_mut().rev().find(|o| {
            if !o.exact || !l.exact || o.turn != l.turn {
                return false;
            }
            let (_, oa1, oc0, oc1, oh) = frame(o);
            let overlap = c1.min(oc1) - c0.max(oc0);
            // After a bare count (`6 x`) the room holds the sign drawn as line
            // work and a space each side of it.
            let reach = if is_bare_count(&o.text) { 2.5 } else { 1.5 };
            (h - oh).abs() <= 0.25 * h.max(oh)
                && overlap >= 0.7 * h.min(oh)
                && a0 >= oa1 - 0.2 * h
                && a0 - oa1 <= reach * h.max(oh)
                && !(parse::looks_like_dimension(&parse::normalise(&o.text))
                    && parse::looks_like_dimension(&parse::normalise(&l.text)))
        });
        match joined {
            Some(o) => {
                o.text = format!("{} {}", o.text, l.text);
                o.bbox = merge::union(&o.bbox, &l.bbox);
                o.polygon = layout::polygon_of(&o.bbox);
            }
            None => out.push(l),
        }
    }
    out
}

/// A count and nothing else: `6 x`, `4X`.
fn is_bare_count(text: &str) -> bool {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    t.strip_suffix(['x', 'X', '×'])
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A pixel-read dimension's box drawn in to its glyphs ([`glyph::glyph_extent`],
/// across the text's lines where it is `vertical`, read turned): where the box is
/// upright and its glyphs are found, one for each character of `text` (what the
/// box shows), the largest at least 0.4 of the page's median
/// glyph size (`median`: the boxes' own, margins included; the box's height
/// across the text where the page has fewer than three numbers), their extent;
/// the box as it is otherwise.
fn glyph_box(
    img: &Mat,
    polygon: [[f32; 2]; 4],
    bbox: [f32; 4],
    text: &str,
    vertical: bool,
    median: Option<f32>,
) -> Result<([[f32; 2]; 4], [f32; 4]), StageError> {
    let upright = crate::geometry::polygon_area(&polygon) >= 0.9 * crate::geometry::area(&bbox);
    if !upright {
        return Ok((polygon, bbox));
    }
    let chars = text.chars().filter(|c| !c.is_whitespace()).count();
    let across = if is_tall(&bbox) { bbox[2] } else { bbox[3] };
    let least = 0.4 * median.unwrap_or(across);
    let extent = glyph::glyph_extent(img, &bbox, chars, least, vertical)?;
    Ok(match extent {
        Some(b) => (layout::polygon_of(&b), b),
        None => (polygon, bbox),
    })
}

/// A size or an angle of zero: nothing a dimension states (ISO 129-1 dimensions
/// give a feature's size, and a zero-size feature is not drawn).
fn states_no_size(d: &parse::Dimension) -> bool {
    use parse::DimKind::*;
    matches!(
        d.kind,
        Linear | Diameter | Radius | SphericalDiameter | SphericalRadius | Angle | Chamfer
    ) && d.nominal == Some(0.0)
}

fn is_tall(b: &[f32; 4]) -> bool {
    b[3] >= 1.5 * b[2]
}

fn contains_centre(outer: &[f32; 4], b: &[f32; 4]) -> bool {
    let (cx, cy) = (b[0] + b[2] / 2.0, b[1] + b[3] / 2.0);
    cx >= outer[0] && cx <= outer[0] + outer[2] && cy >= outer[1] && cy <= outer[1] + outer[3]
}

/// Whether a table region holds text as a table does: at least half of its cells (at
/// least two) hold a line, and most of those lines fill their cell's height (the cell at
/// most 4 text heights across the reading direction). Dimension and extension lines
/// close rectangles too, but a dimension's number is small against such a "cell".
fn holds_text(r: &Region, lines: &[Line]) -> bool {
    if r.cells.is_empty() {
        return lines.iter().any(|l| r.contains_centre(&l.bbox));
    }
    let mut with = 0;
    let mut snug = 0;
    for c in &r.cells {
        let inside: Vec<&Line> = lines
            .iter()
            .filter(|l| contains_centre(c, &l.bbox))
            .collect();
        if inside.is_empty() {
            continue;
        }
        with += 1;
        let fits = |l: &&Line| {
            let (text_h, cell_h) = if l.turn == 0 {
                (l.bbox[3], c[3])
            } else {
                (l.bbox[2], c[2])
            };
            cell_h <= 4.0 * text_h
        };
        if inside.iter().any(fits) {
            snug += 1;
        }
    }
    // Two cells with text at least: one text in a cluster of rectangles is a view's
    // dimension between its edges (a pocket, a boss), not a table.
    with * 2 >= r.cells.len() && with >= 2 && snug * 2 >= with
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
    // A reference dimension: `(041)` is `(Ø41)`.
    if let Some(inner) = t.strip_prefix('(') {
        return format!("({}", with_diameter_sign(inner));
    }
    if t.starts_with(DIAMETER_SIGNS) {
        return t.to_string();
    }
    let mut ch = t.chars();
    if ch.next() == Some('0') && ch.next().is_some_and(|c| c.is_ascii_digit() || c == ' ') {
        return format!("Ø{}", t[1..].trim_start());
    }
    format!("Ø{t}")
}

/// Whether a number starts with a zero followed by a digit (`06,6`, `011`, `(041)`),
/// which no dimension does: that zero is a diameter sign read as a digit, where the
/// sign's stroke stays inside its ring (a slashed zero's shape, as in monospaced and
/// narrow fonts) and the glyph test cannot tell it from one.
fn leading_zero_is_a_sign(body: &str) -> bool {
    let mut ch = body.trim_start().trim_start_matches('(').chars();
    ch.next() == Some('0') && ch.next().is_some_and(|c| c.is_ascii_digit())
}

/// A number without a frame's edge the recogniser read as a character: a lone
/// square bracket first or last (`240]`: the right edge of a basic dimension's box,
/// or what is left of a bracketed alternate unit, `[240]`; the value is the same
/// either way), and in a box the layout found, `|`, `I` or `l` too. Only where the
/// rest is a plain number and the bracket has no partner.
fn without_frame_edges(text: &str, boxed: bool) -> String {
    let t = text.trim();
    if t.contains('[') && t.contains(']') {
        return text.to_string();
    }
    let edge = |c: char| matches!(c, '[' | ']') || (boxed && matches!(c, '|' | 'I' | 'l'));
    let rest = t.trim_matches(|c: char| edge(c) || c.is_whitespace());
    if rest.len() < t.len() && merge::is_plain_number(rest) {
        rest.to_string()
    } else {
        text.to_string()
    }
}

/// Whether a reading may end in a degree sign PP-OCR missed: it ends in a digit or
/// `o`/`O` and holds no sign, tolerance or fraction (a raised `0` after `+` is an
/// upper deviation, not a degree sign).
fn degree_candidate(text: &str) -> bool {
    let t = text.trim();
    t.ends_with(|c: char| c.is_ascii_digit() || c == 'o' || c == 'O')
        && !t.contains(['°', '+', '-', '−', '±', '/', '(', ')', ':'])
}

/// `text` with its degree sign, given the count of full-height glyphs before the
/// sign on the pixels: the last character replaced by `°` when it stands for the
/// sign (`0`, `o`, `O` with one glyph too many in the text), `°` appended when the
/// text's glyphs match the pixels' (the sign was left out); `None` when the counts
/// disagree, which leaves the reading alone.
fn with_degree_sign(text: &str, glyphs: usize) -> Option<String> {
    let t = text.trim();
    if !degree_candidate(t) {
        return None;
    }
    let counted = t
        .chars()
        .filter(|c| c.is_alphanumeric() || DIAMETER_SIGNS.contains(c))
        .count();
    let last = t.chars().last()?;
    if matches!(last, '0' | 'o' | 'O') && counted == glyphs + 1 && counted >= 2 {
        return Some(format!("{}°", &t[..t.len() - last.len_utf8()]));
    }
    (last.is_ascii_digit() && counted == glyphs).then(|| format!("{t}°"))
}

/// A leading count (`2x`, `4X `) before a number: its length in bytes (spaces
/// after it included) and its glyphs (digits and the `x`).
fn count_prefix(s: &str) -> Option<(usize, usize)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let rest = s[digits..].trim_start();
    let after = rest.strip_prefix(['x', 'X', '×'])?;
    let body = after.trim_start();
    if !body.starts_with(|c: char| c.is_ascii_digit() || DIAMETER_SIGNS.contains(&c)) {
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

fn cv(e: opencv::Error) -> StageError {
    StageError::Other(format!("edocr: opencv: {e}").into())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::glyph::upright_crop;
    use super::*;

    #[test]
    fn a_bare_decimal_point_is_a_cut_number_on_a_page_with_leading_zeros() {
        assert_eq!(number_style("0.75"), (true, false));
        assert_eq!(number_style("R0,2"), (true, false));
        assert_eq!(number_style("Ø.25"), (false, true));
        assert_eq!(number_style(".50"), (false, true));
        assert_eq!(number_style("10.5"), (false, false));
        assert_eq!(number_style("2 X .25 THRU"), (false, true));
        assert_eq!(number_style("1:0.5"), (true, false));
        let item = |raw: &str, source| DimensionItem {
            dimension: parse::parse_dimension(raw, false).unwrap(),
            confidence: 1.0,
            polygon: [[0.0; 2]; 4],
            bbox: [0.0; 4],
            page: 0,
            source,
            ppocr_read: None,
            table_column: None,
            read_confidence: None,
        };
        let ocr = ocr::TextSource::Ocr;
        let page =
            |raws: &[&str]| -> Vec<DimensionItem> { raws.iter().map(|r| item(r, ocr)).collect() };
        // Metric: two leading zeros, one bare point; the bare one goes.
        let mut dims = page(&["0.75", "R0.20", ".50", "27"]);
        let mut dropped = Vec::new();
        drop_cut_numbers(&mut dims, &mut dropped, &[]);
        let raws: Vec<&str> = dims.iter().map(|d| d.dimension.raw.as_str()).collect();
        assert_eq!(raws, ["0.75", "R0.20", "27"]);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].reason, DropReason::CutNumber);
        // Inch: bare points are how the page writes, and one leading zero is too
        // little to say otherwise.
        for raws in [&[".50", ".25", "0.75", "0.5"][..], &["0.75", ".50"]] {
            let mut dims = page(raws);
            drop_cut_numbers(&mut dims, &mut Vec::new(), &[]);
            assert_eq!(dims.len(), raws.len(), "{raws:?}");
        }
        // The page's other text (a tolerance table) says how it writes numbers.
        let mut dims = page(&[".50", "27"]);
        drop_cut_numbers(&mut dims, &mut Vec::new(), &["±0.2", "0.5-3", "±0.3"]);
        assert_eq!(dims.len(), 1);
        // Printed text is kept.
        let mut dims = page(&["0.75", "0.2"]);
        dims.push(item(".50", ocr::TextSource::TextLayer));
        drop_cut_numbers(&mut dims, &mut Vec::new(), &[]);
        assert_eq!(dims.len(), 3);
    }

    #[test]
    fn a_leading_zero_before_a_digit_is_a_diameter_sign() {
        for t in ["06,6", "011", "(041)", "05.5 H7", " 012"] {
            assert!(leading_zero_is_a_sign(t), "{t:?}");
        }
        for t in ["0.5", "0,8", "0", "10", "0 5", "Ø6", "R05"] {
            assert!(!leading_zero_is_a_sign(t), "{t:?}");
        }
        assert_eq!(with_diameter_sign("(041)"), "(Ø41)");
        assert_eq!(with_diameter_sign("(34)"), "(Ø34)");
        assert_eq!(with_diameter_sign("06,6"), "Ø6,6");
        // PP-OCR reads the count's x as a multiplication sign too.
        assert_eq!(count_prefix("4 × 011"), Some(("4 × ".len(), 2)));
    }

    #[test]
    fn a_degree_sign_replaces_what_stood_for_it_or_is_added() {
        // (reading, full-height glyphs before the sign on the pixels, result)
        let cases = [
            ("450", 2, Some("45°")),
            ("45o", 2, Some("45°")),
            ("45", 2, Some("45°")),
            ("1x450", 4, Some("1x45°")),
            ("30", 1, Some("3°")),
            // Three digits and the sign on the pixels: the sign was left out.
            ("450", 3, Some("450°")),
            // The counts disagree: left alone.
            ("450", 4, None),
            ("45", 3, None),
            ("0", 0, None),
            // Signs and tolerances: a raised 0 after + is an upper deviation.
            ("20 +0", 2, None),
            ("45°", 2, None),
            ("12.5 -0", 3, None),
            ("M6", 1, None),
        ];
        for (read, glyphs, want) in cases {
            assert_eq!(
                with_degree_sign(read, glyphs).as_deref(),
                want,
                "{read:?} {glyphs}"
            );
        }
    }
    use opencv::core::Vector;

    #[test]
    fn text_layer_pieces_of_one_callout_join_two_dimensions_do_not() {
        let line = |text: &str, x: f32| Line {
            text: text.into(),
            confidence: 1.0,
            polygon: layout::polygon_of(&[x, 100.0, 20.0 * text.len() as f32, 40.0]),
            bbox: [x, 100.0, 20.0 * text.len() as f32, 40.0],
            turn: 0,
            exact: true,
            replaced: None,
        };
        // `2x`, (a diameter sign drawn as line work), `3.40±0.10`.
        let joined = join_row_pieces(vec![line("3.40±0.10", 100.0), line("2x", 20.0)]);
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].text, "2x 3.40±0.10");
        let apart = join_row_pieces(vec![line("4.30", 100.0), line("60°", 200.0)]);
        assert_eq!(apart.len(), 2);
        // After a bare count the sign drawn between leaves 1.6 heights of room (a
        // tune2 drawing's `6 x`, then `3.40 完全贯穿`); after a number it stays apart.
        let joined = join_row_pieces(vec![line("6 x", 20.0), line("3.40", 144.0)]);
        assert_eq!(joined.len(), 1, "{joined:?}");
        assert_eq!(joined[0].text, "6 x 3.40");
        let apart = join_row_pieces(vec![line("ab", 20.0), line("3.40", 124.0)]);
        assert_eq!(apart.len(), 2);
        let apart = join_row_pieces(vec![line("6 x", 20.0), line("3.40", 184.0)]);
        assert_eq!(apart.len(), 2);
    }

    /// A callout's tail on a line of its own under the callout (`TYP 2 PLCS` under
    /// `M3x0.5 - 6H`, as on a tune2 drawing, Voron-2's build plate) joins it; the same
    /// line far below, or a note, stays dropped.
    #[test]
    fn a_tail_line_joins_the_callout_above_it() {
        let item = |raw: &str, bbox: [f32; 4]| DimensionItem {
            dimension: parse::parse_callout(raw, false).unwrap(),
            confidence: 1.0,
            read_confidence: None,
            polygon: layout::polygon_of(&bbox),
            bbox,
            page: 0,
            source: ocr::TextSource::TextLayer,
            ppocr_read: None,
            table_column: None,
        };
        let gone = |text: &str, bbox: [f32; 4]| Dropped {
            text: text.into(),
            bbox,
            page: 0,
            reason: DropReason::NotADimension,
        };
        let mut dims = vec![
            item("M3x0.5 - 6H", [100.0, 100.0, 270.0, 57.0]),
            item("25", [600.0, 100.0, 60.0, 57.0]),
        ];
        let mut dropped = vec![
            gone("TYP 2 PLCS", [120.0, 158.0, 250.0, 57.0]),
            gone("TYP 4 PLCS", [600.0, 300.0, 250.0, 57.0]),
            gone("THIS SIDE UP", [600.0, 158.0, 250.0, 57.0]),
        ];
        attach_tail_lines(&mut dims, &mut dropped);
        assert_eq!(dims[0].dimension.raw, "M3x0.5 - 6H TYP 2 PLCS");
        assert_eq!(dims[0].dimension.count, Some(2));
        assert_eq!(dims[0].bbox, [100.0, 100.0, 270.0, 115.0]);
        assert_eq!(dims[1].dimension.raw, "25");
        let left: Vec<&str> = dropped.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(left, ["TYP 4 PLCS", "THIS SIDE UP"]);
    }

    #[test]
    fn a_table_holds_text_in_two_cells_at_least() {
        let line = |x: f32| Line {
            text: "12.5".into(),
            confidence: 1.0,
            polygon: layout::polygon_of(&[x, 110.0, 80.0, 30.0]),
            bbox: [x, 110.0, 80.0, 30.0],
            turn: 0,
            exact: true,
            replaced: None,
        };
        let region = Region {
            kind: RegionKind::Table,
            polygon: layout::polygon_of(&[0.0, 100.0, 400.0, 50.0]),
            bbox: [0.0, 100.0, 400.0, 50.0],
            page: 0,
            cells: vec![[0.0, 100.0, 200.0, 50.0], [200.0, 100.0, 200.0, 50.0]],
        };
        // One number between a view's edges: line work, not a table.
        assert!(!holds_text(&region, &[line(50.0)]));
        // A row of two filled cells.
        assert!(holds_text(&region, &[line(50.0), line(250.0)]));
        // Text that is small against its cells: dimension lines closing rectangles.
        let tall = Region {
            cells: vec![[0.0, 0.0, 200.0, 400.0], [200.0, 0.0, 200.0, 400.0]],
            ..region.clone()
        };
        assert!(!holds_text(&tall, &[line(50.0), line(250.0)]));
    }

    #[test]
    fn zero_sizes_are_not_dimensions() {
        let no_size = |t: &str| states_no_size(&parse::parse_dimension(t, false).unwrap());
        for t in ["0", "Ø0", "R0", "0°", "0.0"] {
            assert!(no_size(t), "{t}");
        }
        for t in ["0.5", "Ø0.8", "10", "M3", "45°", "Ra 0.8"] {
            assert!(!no_size(t), "{t}");
        }
    }

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

    /// Prints the lines the stage works on and writes their upright crops to
    /// /tmp/edocr-crops: `cargo test -p drawpipe-workers dump_edocr_lines -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn dump_edocr_lines() {
        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/drawings");
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
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

    /// `text` written on `img` at `(x, y)` (its baseline's left end): black Hershey
    /// simplex, scale 1.6, 3 px strokes, antialiased; about 40 px high.
    fn write_text(img: &mut Mat, text: &str, x: i32, y: i32) {
        write_text_sized(img, text, x, y, 1.6, 3);
    }

    /// [`write_text`] at another scale and stroke width (1.0 and 2: about 25 px high).
    fn write_text_sized(img: &mut Mat, text: &str, x: i32, y: i32, scale: f64, stroke: i32) {
        use opencv::core::{Point, Scalar};
        use opencv::imgproc::{put_text, FONT_HERSHEY_SIMPLEX, LINE_AA};
        let ink = Scalar::all(0.0);
        put_text(
            img,
            text,
            Point::new(x, y),
            FONT_HERSHEY_SIMPLEX,
            scale,
            ink,
            stroke,
            LINE_AA,
            false,
        )
        .unwrap();
    }

    #[test]
    fn a_frame_edge_read_as_a_bracket_is_dropped() {
        assert_eq!(without_frame_edges("240]", false), "240");
        assert_eq!(without_frame_edges("[9.53", false), "9.53");
        assert_eq!(without_frame_edges("[9.53]", false), "[9.53]");
        assert_eq!(without_frame_edges("|30", true), "30");
        assert_eq!(without_frame_edges("|30", false), "|30");
        assert_eq!(without_frame_edges("30 I", true), "30");
        assert_eq!(without_frame_edges("M8]", false), "M8]");
        assert_eq!(without_frame_edges("]", false), "]");
    }

    /// `155` with `0` stacked over `-0,016`, the OCR having read `1550` and
    /// `-0,016` (the deviation's box starting inside the nominal's), becomes one
    /// line `155 0 -0,016`; a printed `1550` with a smaller `-0,016` after it on its
    /// own row is left as two lines.
    #[test]
    fn a_stacked_zero_read_as_the_last_digit_is_split_off() {
        use opencv::core::{Scalar, CV_8UC1};
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let small =
            |img: &mut Mat, text: &str, x: i32, y: i32| write_text_sized(img, text, x, y, 1.0, 2);
        let blank =
            || Mat::new_rows_cols_with_default(400, 600, CV_8UC1, Scalar::all(255.0)).unwrap();
        let line = |text: &str, conf: f32, bbox: [f32; 4]| {
            Line::read(text.into(), conf, layout::polygon_of(&bbox), 0)
        };
        let read = |img: &Mat, lines: [Line; 2]| {
            let mut lines = lines.to_vec();
            swallowed_zeros(&engine, &ocr::Params::default(), img, &mut lines).unwrap();
            lines
        };
        // Stacked: `155` (about 40 px high, x 100..190), `0` at its top right, the
        // deviation under the `0`.
        let mut img = blank();
        write_text(&mut img, "155", 100, 220);
        small(&mut img, "0", 205, 203);
        small(&mut img, "-0,016", 200, 242);
        let lines = read(
            &img,
            [
                line("1550", 0.85, [88.0, 166.0, 150.0, 68.0]),
                line("-0,016", 0.99, [190.0, 214.0, 150.0, 40.0]),
            ],
        );
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["155 0 -0,016"], "{lines:?}");
        assert_eq!(lines[0].replaced.as_deref(), Some("1550 -0,016"));
        // A printed `1550` and a deviation after it on its own row, lower down.
        let mut img = blank();
        write_text(&mut img, "1550", 100, 220);
        small(&mut img, "-0,016", 205, 242);
        let lines = read(
            &img,
            [
                line("1550", 0.95, [88.0, 166.0, 150.0, 68.0]),
                line("-0,016", 0.99, [195.0, 214.0, 150.0, 40.0]),
            ],
        );
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["1550", "-0,016"]);
    }

    /// Two boxed `6`s of a synthetic tune drawing (seed 9191), one set level, one
    /// sideways in a level box; the boxes are the detector's, about three times
    /// the text's area (eval's 0.2 IoU match failed). Each is drawn in to its
    /// glyph, within the generator's own text box (`truth`) and a tenth of the
    /// glyph's height around it; a box that is asked for more glyphs than it
    /// holds, or for larger ones, is left as it is.
    #[test]
    fn a_short_numbers_box_is_drawn_in_to_its_glyphs() {
        let img = synthetic_crop("short_numbers_6_6.png");
        let polygon = |b: [f32; 4]| layout::polygon_of(&b);
        for (bbox, truth) in [
            ([27.0, 78.0, 37.0, 38.0], [40.0_f32, 87.0, 13.0, 20.0]),
            ([828.0, 15.0, 39.0, 35.0], [841.0, 25.0, 20.0, 13.0]),
        ] {
            let (p, b) = glyph_box(&img, polygon(bbox), bbox, "6", false, Some(35.0)).unwrap();
            assert_eq!(p, polygon(b));
            let m = 0.1 * truth[2].max(truth[3]) + 1.5;
            for (got, want) in [
                (b[0], truth[0]),
                (b[1], truth[1]),
                (b[0] + b[2], truth[0] + truth[2]),
                (b[1] + b[3], truth[1] + truth[3]),
            ] {
                assert!((got - want).abs() <= m, "{b:?} for the text at {truth:?}");
            }
            assert!(
                crate::geometry::iou(&b, &truth) > 0.5,
                "{b:?} for the text at {truth:?}"
            );
            // Two characters where one glyph stands, or glyphs larger than any here.
            assert_eq!(
                glyph_box(&img, polygon(bbox), bbox, "66", false, Some(35.0))
                    .unwrap()
                    .1,
                bbox
            );
            assert_eq!(
                glyph_box(&img, polygon(bbox), bbox, "6", false, Some(80.0))
                    .unwrap()
                    .1,
                bbox
            );
        }
    }

    /// A boxed `15` written upwards in a box about as tall as wide, which PP-OCR
    /// reads level as `日` at 0.98 (seed-9191 tune drawing 00009): read turned, it
    /// is `15`; a sure level reading with a Latin letter or digit stays as it is.
    #[test]
    fn a_boxed_number_read_as_a_cjk_glyph_is_read_turned() {
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let img = synthetic_crop("boxed_upwards_15.png");
        let bbox = [76.0, 73.0, 45.0, 52.0];
        let line = |text: &str| Line::read(text.into(), 0.981, layout::polygon_of(&bbox), 0);
        let mut lines = vec![line("日")];
        orient_tall_lines(&engine, &ocr::Params::default(), &img, &mut lines).unwrap();
        assert_eq!(
            (lines[0].text.as_str(), lines[0].turn),
            ("15", 1),
            "{lines:?}"
        );
        let mut lines = vec![line("A")];
        orient_tall_lines(&engine, &ocr::Params::default(), &img, &mut lines).unwrap();
        assert_eq!((lines[0].text.as_str(), lines[0].turn), ("A", 0));
    }

    /// A boxed `42` written upwards in a box about as tall as wide (seed-9191 tune
    /// drawing 00007): read lying flat it is `42` at 0.52, left out as unsure;
    /// standing up, `42` at 1.0. The line takes the turn and its confidence, and its
    /// box drawn in is the text's (the generator's box is 29 × 44 pixels at (53, 52)
    /// in the crop; here the level look finds the glyphs too, see the test below).
    #[test]
    fn a_number_read_the_same_lying_flat_and_standing_up_stands_up() {
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let img = synthetic_crop("boxed_upwards_42.png");
        let bbox = [40.0, 40.0, 56.0, 67.0];
        let mut lines = vec![Line::read("42".into(), 0.517, layout::polygon_of(&bbox), 0)];
        orient_tall_lines(&engine, &ocr::Params::default(), &img, &mut lines).unwrap();
        let l = &lines[0];
        assert_eq!(l.text, "42");
        assert_ne!(l.turn, 0, "{l:?}");
        assert!(l.confidence >= 0.9, "{l:?}");
        let truth = [53.0, 52.0, 29.0, 44.0];
        let (_, b) = glyph_box(&img, l.polygon, l.bbox, "42", true, Some(60.0)).unwrap();
        assert!(crate::geometry::iou(&b, &truth) > 0.5, "{b:?}");
    }

    /// A `25` written upwards in a box not tall enough to count as tall (seed-6061
    /// tune drawing 00020): looked at level, its two glyphs stand in one column and
    /// the box stays the detector's, three times the text's area (eval's 0.2 IoU
    /// match failed); looked at across the turned text's lines, it is drawn in to
    /// the text (the generator's box: 29 × 42 pixels at (60, 72) in the crop).
    #[test]
    fn a_turned_numbers_box_is_drawn_in_across_its_lines() {
        let img = synthetic_crop("upwards_25.png");
        let bbox = [40.0, 40.0, 78.0, 106.0];
        let polygon = layout::polygon_of(&bbox);
        let truth = [60.0, 72.0, 29.0, 42.0];
        let (_, b) = glyph_box(&img, polygon, bbox, "25", true, Some(60.0)).unwrap();
        assert!(crate::geometry::iou(&b, &truth) > 0.5, "{b:?}");
        let (_, level) = glyph_box(&img, polygon, bbox, "25", false, Some(60.0)).unwrap();
        assert_eq!(level, bbox);
    }

    /// A level `90°` that PP-OCR's angle classifier turned over, read `。06` (seed-9191
    /// tune drawing 00012), is read as it stands: `90°`. A line that reads no
    /// dimension either way stays unread.
    #[test]
    fn a_line_the_classifier_turned_over_is_read_as_it_stands() {
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let img = synthetic_crop("upside_down_90deg.png");
        let bbox = [63.0, 51.0, 77.0, 52.0];
        let line =
            |text: &str, b: [f32; 4]| Line::read(text.into(), 0.946, layout::polygon_of(&b), 0);
        let read = grammar_rescore(
            &engine,
            &Params::default(),
            &img,
            vec![line("。06", bbox), line("1", [5.0, 100.0, 40.0, 40.0])],
        )
        .unwrap();
        let got: Vec<Option<&str>> = read
            .iter()
            .map(|(_, r)| r.as_ref().map(|r| r.text.as_str()))
            .collect();
        assert_eq!(got, [Some("90°"), None]);
        let r = read[0].1.as_ref().unwrap();
        assert_eq!(r.replaced.as_deref(), Some("。06"));
        assert!(r.confidence >= 0.9);
        // Off: nothing is read again.
        let off = Params {
            reread_both_ways: false,
            ..Params::default()
        };
        let read = grammar_rescore(&engine, &off, &img, vec![line("。06", bbox)]).unwrap();
        assert!(read[0].1.is_none());
    }

    /// A crop of a synthetic drawing in `tests/fixtures/synthetic`, grayscale.
    fn synthetic_crop(name: &str) -> Mat {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/synthetic")
            .join(name);
        let img =
            opencv::imgcodecs::imread(&path.to_string_lossy(), opencv::imgcodecs::IMREAD_GRAYSCALE)
                .unwrap();
        assert!(!img.empty(), "cannot read {}", path.display());
        img
    }

    /// `10±0.3` written upwards in a font that sets the decimal point apart (a
    /// crop of a synthetic tune drawing, seed 6061): the text detector found `10±0.`
    /// and `3` apart (these boxes), and only the `3` made a dimension. The two are
    /// read again as one box, which reads the whole dimension.
    #[test]
    fn a_dimension_cut_at_its_decimal_point_is_read_whole() {
        let img = synthetic_crop("cut_at_point_10_0_3.png");
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let line = |text: &str, bbox: [f32; 4]| {
            Line::read(text.into(), 0.99, layout::polygon_of(&bbox), 1)
        };
        let mut lines = vec![
            line("3", [33.0, 29.0, 43.0, 47.0]),
            line("10±0.", [33.0, 66.0, 45.0, 115.0]),
        ];
        rejoin_fragments(&engine, &ocr::Params::default(), &img, &mut lines).unwrap();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["10±0.3"], "{lines:?}");
        assert_eq!(lines[0].turn, 1);
    }

    /// `Ø10` with `0` stacked over `-0,1`, written upwards (a crop of a synthetic tune
    /// drawing, seed 9191): the text detector's box (this one) stops short of the
    /// last digit, so the line reads `010 -0,`, and the deviations' small glyphs put
    /// the number's share of the characters inside `10`. The stack is found after
    /// the number, looked for again in the box grown past its end (short of the
    /// extension line there), and both deviations are read whole.
    #[test]
    fn a_stack_the_box_cuts_short_is_read_whole() {
        let img = synthetic_crop("stack_cut_short_d10_0_-0_1.png");
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let bbox = [43.0, 47.0, 54.0, 127.0];
        let mut lines = vec![Line::read(
            "010 -0,".into(),
            0.97,
            layout::polygon_of(&bbox),
            1,
        )];
        stacked_partners(&engine, &ocr::Params::default(), &img, &mut lines).unwrap();
        assert_eq!(lines[0].text, "010 0 -0,1", "{lines:?}");
        assert_eq!(lines[0].replaced.as_deref(), Some("010 -0,"));
    }

    /// Two stacked tolerances written upwards side by side (a crop of a synthetic tune
    /// drawing, seed 9191). `42.5` with `+0.3` over `0`: the text detector found the
    /// number alone, and its grown box takes in part of the stack, so the stack's
    /// boxes found again around it overlapped it and were thrown away; they are small
    /// glyphs at its end, and join it. `7.5` with `-0.007` over `-0.02`, read as one
    /// line `7.5 -0. -0.02`: its bands, read on their own, lose their small minus
    /// signs (`0.007`, `0.02`); they take the signs the line's own reading gave them.
    #[test]
    fn turned_stacks_at_a_numbers_end_are_read_whole() {
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let p = ocr::Params::default();
        let img = synthetic_crop("turned_stacks_42_5_7_5.png");
        let line =
            |text: &str, b: [f32; 4]| Line::read(text.into(), 0.99, layout::polygon_of(&b), 1);
        let joined = "7.5 -0. -0.02";
        let mut lines = vec![
            line("42.5", [98.0, 85.0, 54.0, 88.0]),
            line(joined, [39.0, 75.0, 53.0, 127.0]),
        ];
        let found = reread_tolerances(&engine, &p, &img, &lines).unwrap();
        lines.extend(found);
        let mut merged = merge_stacked(lines);
        stacked_partners(&engine, &p, &img, &mut merged).unwrap();
        let read = |t: &str| merged.iter().find(|l| l.text == t);
        assert!(read("42.5 +0.3 0").is_some(), "{merged:?}");
        let stack = read("7.5 -0.007 -0.02").unwrap_or_else(|| panic!("{merged:?}"));
        assert_eq!(stack.replaced.as_deref(), Some(joined));
    }

    /// Two stacked tolerances written upwards, each with a zero deviation (crops of
    /// a synthetic tune drawing, seed 6061). `8` with `+0.018` over `0`: the text
    /// detector's quadrilateral (this one) leans 8° to fit the big `8` and the small
    /// glyphs after it, and in its crop the two bands run into each other; in the
    /// line's level box they stand apart. `160` with `0` over `-0.016`: the lone
    /// `0`, read in a crop as long as the lower band, came out unsure; read in a
    /// crop of its own size, it is sure. Both read with both deviations.
    #[test]
    fn a_stack_with_a_zero_deviation_is_read_whole() {
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let img = synthetic_crop("stack_leaning_8_0_018_0.png");
        let leaning = [[21.0, 36.0], [84.0, 27.0], [109.0, 195.0], [46.0, 205.0]];
        let mut lines = vec![Line::read("8+0.018".into(), 0.92, leaning, 1)];
        stacked_partners(&engine, &ocr::Params::default(), &img, &mut lines).unwrap();
        assert_eq!(lines[0].text, "8 +0.018 0", "{lines:?}");
        let img = synthetic_crop("stack_lone_zero_160_0_-0_016.png");
        let bbox = [21.0, 20.0, 63.0, 197.0];
        let mut lines = vec![Line::read(
            "160 -0.016".into(),
            0.99,
            layout::polygon_of(&bbox),
            1,
        )];
        stacked_partners(&engine, &ocr::Params::default(), &img, &mut lines).unwrap();
        assert_eq!(lines[0].text, "160 0 -0.016", "{lines:?}");
    }

    /// `1.57` of which the detector boxed only `.57` (a tune drawing rendered at
    /// 200 DPI, Tinymovr R3.4, left out its `1`): the cut number is read again in its
    /// box grown along the text and becomes `1.57`; a `.57` with nothing before it
    /// stays as it is.
    #[test]
    fn a_number_boxed_from_its_separator_on_is_read_whole() {
        use opencv::core::{Scalar, CV_8UC1};
        use opencv::imgproc::{get_text_size, FONT_HERSHEY_SIMPLEX};
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let blank =
            || Mat::new_rows_cols_with_default(200, 500, CV_8UC1, Scalar::all(255.0)).unwrap();
        let width = |t: &str| {
            let mut base = 0;
            get_text_size(t, FONT_HERSHEY_SIMPLEX, 1.6, 3, &mut base)
                .unwrap()
                .width as f32
        };
        let extend = |img: &Mat, x: f32| {
            let bbox = [x - 2.0, 70.0, width(".57") + 6.0, 55.0];
            let mut lines = vec![Line::read(".57".into(), 0.95, layout::polygon_of(&bbox), 0)];
            extend_short_numbers(&engine, &ocr::Params::default(), img, &mut lines).unwrap();
            lines.remove(0).text
        };
        let mut img = blank();
        write_text(&mut img, "1.57", 150, 115);
        assert_eq!(extend(&img, 150.0 + width("1")), "1.57");
        let mut img = blank();
        write_text(&mut img, ".57", 150, 115);
        assert_eq!(extend(&img, 150.0), ".57");
    }

    /// Two dimensions read as one line with a space between (`3 50`: neighbours in a
    /// chain, as on a synthetic tune drawing, seed 6061) are read word by word; the
    /// same words a normal space apart stay one line, and so does a line that is a
    /// dimension as a whole.
    #[test]
    fn two_dimensions_read_with_a_space_between_are_read_apart() {
        use opencv::core::{Scalar, CV_8UC1};
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let blank =
            || Mat::new_rows_cols_with_default(300, 700, CV_8UC1, Scalar::all(255.0)).unwrap();
        let line = |text: &str, bbox: [f32; 4]| {
            Line::read(text.into(), 0.99, layout::polygon_of(&bbox), 0)
        };
        let split = |img: &Mat, text: &str, bbox: [f32; 4]| {
            let mut lines = vec![line(text, bbox)];
            split_at_spaces(&engine, &ocr::Params::default(), img, &mut lines).unwrap();
            lines.into_iter().map(|l| l.text).collect::<Vec<_>>()
        };
        // `3` and `50` with about two glyph heights of paper between.
        let mut img = blank();
        write_text(&mut img, "3", 100, 160);
        write_text(&mut img, "50", 230, 160);
        assert_eq!(split(&img, "3 50", [80.0, 100.0, 260.0, 80.0]), ["3", "50"]);
        // The same words half a glyph height apart (a word space in ISO 3098
        // lettering; the glyphs are about 35 pixels high).
        let mut img = blank();
        write_text(&mut img, "3", 100, 160);
        write_text(&mut img, "50", 138, 160);
        assert_eq!(split(&img, "3 50", [80.0, 100.0, 170.0, 80.0]), ["3 50"]);
        // A dimension as a whole is left alone however far apart its words are.
        let mut img = blank();
        write_text(&mut img, "M3", 100, 160);
        write_text(&mut img, "x 0.5", 260, 160);
        assert_eq!(
            split(&img, "M3 x 0.5", [80.0, 100.0, 360.0, 80.0]),
            ["M3 x 0.5"]
        );
    }

    /// A limit dimension's two values printed one over the other in one box (what
    /// the detector gave on a tune drawing) are read as two level lines; the same
    /// digits written upwards in a box of that shape are not split.
    #[test]
    fn two_level_lines_in_one_box_are_read_band_by_band() {
        use opencv::core::{Scalar, CV_8UC1};
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let blank =
            || Mat::new_rows_cols_with_default(400, 400, CV_8UC1, Scalar::all(255.0)).unwrap();
        let write = write_text;
        let line = |bbox: [f32; 4]| Line::read("9.5".into(), 0.67, layout::polygon_of(&bbox), 0);
        let mut img = blank();
        write(&mut img, "6.5", 150, 180);
        write(&mut img, "9.5", 150, 240);
        let mut lines = vec![line([140.0, 140.0, 100.0, 115.0])];
        split_stacked_lines(&engine, &ocr::Params::default(), &img, &mut lines).unwrap();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            ["6.5", "9.5"],
            "{:?}",
            lines
                .iter()
                .map(|l| (&l.text, l.confidence))
                .collect::<Vec<_>>()
        );
        assert!(lines[0].bbox[1] < lines[1].bbox[1] && lines.iter().all(|l| l.turn == 0));
        // `40` written upwards: one glyph per band, left alone.
        let mut level = blank();
        write(&mut level, "40", 150, 220);
        let mut turned = Mat::default();
        opencv::core::rotate(
            &level,
            &mut turned,
            opencv::core::ROTATE_90_COUNTERCLOCKWISE,
        )
        .unwrap();
        let mut lines = vec![line([170.0, 180.0, 50.0, 70.0])];
        split_stacked_lines(&engine, &ocr::Params::default(), &turned, &mut lines).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "9.5", "the line is left as it was");
    }

    /// A `1` that is a dimension line's stub with its arrow and extension line,
    /// inside the box before `18.3`, is cut off and the rest read again, level and
    /// written upwards; a printed `118.3` with no line work is left as it is.
    #[test]
    fn a_leading_one_that_is_line_work_is_cut_off() {
        use opencv::core::{Point, Scalar, Vector, CV_8UC1};
        use opencv::imgproc::{fill_poly, line, LINE_8};
        let engine = OcrEngine::load(&ocr::EngineConfig::default()).unwrap();
        let page = |text: &str, with_line: bool| {
            let mut m =
                Mat::new_rows_cols_with_default(400, 500, CV_8UC1, Scalar::all(255.0)).unwrap();
            let (ink, x) = (Scalar::all(0.0), if with_line { 150 } else { 115 });
            write_text(&mut m, text, x, 220);
            if with_line {
                // Extension line, arrowhead on it, dimension line up to the text.
                line(
                    &mut m,
                    Point::new(60, 40),
                    Point::new(60, 360),
                    ink,
                    3,
                    LINE_8,
                    0,
                )
                .unwrap();
                let arrow: Vector<Point> = [
                    Point::new(60, 200),
                    Point::new(90, 192),
                    Point::new(90, 208),
                ]
                .into_iter()
                .collect();
                fill_poly(
                    &mut m,
                    &Vector::<Vector<Point>>::from_iter([arrow]),
                    ink,
                    LINE_8,
                    0,
                    Point::default(),
                )
                .unwrap();
                line(
                    &mut m,
                    Point::new(60, 200),
                    Point::new(140, 200),
                    ink,
                    3,
                    LINE_8,
                    0,
                )
                .unwrap();
            }
            m
        };
        let bbox = [100.0, 165.0, 230.0, 70.0];
        let level_line = |text: &str| Line::read(text.into(), 0.94, layout::polygon_of(&bbox), 0);
        let p = ocr::Params::default();
        let mut lines = vec![level_line("118.3")];
        drop_line_work_ones(&engine, &p, &page("18.3", true), &mut lines).unwrap();
        assert_eq!(lines[0].text, "18.3", "{:?}", lines[0]);
        assert!(lines[0].bbox[0] >= 140.0, "{:?}", lines[0].bbox);
        // Written upwards: the page turned counter-clockwise (x, y → y, 499 - x).
        let mut turned = Mat::default();
        opencv::core::rotate(
            &page("18.3", true),
            &mut turned,
            opencv::core::ROTATE_90_COUNTERCLOCKWISE,
        )
        .unwrap();
        let tall = [bbox[1], 500.0 - bbox[0] - bbox[2], bbox[3], bbox[2]];
        let mut lines = vec![Line::read(
            "118.3".into(),
            0.94,
            layout::polygon_of(&tall),
            1,
        )];
        drop_line_work_ones(&engine, &p, &turned, &mut lines).unwrap();
        assert_eq!(lines[0].text, "18.3", "{:?}", lines[0]);
        // Printed `118.3`, nothing around it: its first `1` is a glyph.
        let mut lines = vec![level_line("118.3")];
        drop_line_work_ones(&engine, &p, &page("118.3", false), &mut lines).unwrap();
        assert_eq!(lines[0].text, "118.3");
    }

    /// Glyph size: a slanted `Ø12.00` in an upright box near square measures about
    /// its text height (area per character), not the box's; a level line its
    /// height.
    #[test]
    fn glyph_size_is_area_per_character() {
        let l = |text: &str, b: [f32; 4]| Line::read(text.into(), 1.0, layout::polygon_of(&b), 0);
        let level = glyph_size(&l("12.00", [0.0, 0.0, 150.0, 54.0])).unwrap();
        assert!((level - 40.2).abs() < 0.5, "{level}");
        let one = glyph_size(&l("4", [0.0, 0.0, 50.0, 60.0])).unwrap();
        assert_eq!(one, 50.0);
        let slanted = glyph_size(&l("Ø12.00", [0.0, 0.0, 180.0, 189.0])).unwrap();
        assert!(slanted < 2.0 * level, "{slanted}");
        let graphic = glyph_size(&l("10", [0.0, 0.0, 233.0, 356.0])).unwrap();
        assert!(graphic > 3.0 * level, "{graphic}");
        assert_eq!(glyph_size(&l("  ", [0.0, 0.0, 10.0, 10.0])), None);
    }
}
