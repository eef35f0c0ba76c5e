//! Second reads of the page: the native-resolution tiled detection pass, tall lines
//! read both ways, fragments of one text read again as one box, and a 2× window
//! around each number re-detected for small stacked tolerances.

use drawpipe_core::StageError;
use opencv::core::{self, Mat, Rect, Size};
use opencv::imgproc;
use opencv::prelude::*;

use super::glyph::{self, glyph_groups, is_line_work, otsu_ink, upright_crop};
use super::layout::{self, Region, RegionKind};
use super::merge::{
    is_plain_number, is_tolerance, is_zero, number_share, split_nominal, text_frame, union,
    unspaced, without_gone, SIGNS,
};
use super::{cv, is_tall, parse, Line, Params};
use crate::geometry::{area, intersection, overlap_of_smaller, root as find};
use crate::stages::ocr::{self, OcrEngine};

/// Reads every tall line both ways (turned counter-clockwise and clockwise) and
/// keeps the more confident reading: the angle classifier cannot tell `60` from an
/// upside-down `09`. Squarish lines are read turned too (see below).
pub(super) fn orient_tall_lines(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut [Line],
) -> Result<(), StageError> {
    let tall: Vec<usize> = (0..lines.len())
        .filter(|&i| is_tall(&lines[i].bbox))
        .collect();
    // Boxes about as tall as wide: a short vertical number (`5.8`, `(20)`) whose
    // box the detector's padding made nearly square was read lying on its side.
    // A level reading the recogniser is all but sure of (≥ 0.98) is left alone: a
    // turned one would have to be surer still. Not one without a Latin letter or a
    // digit (`日` for a boxed `15` written upwards, the box's edges taken for the
    // glyph's): however sure, it reads nothing a drawing writes in such a box.
    let square: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            is_squarish(&lines[i].bbox)
                && (lines[i].confidence < 0.98 || !has_latin(&lines[i].text))
        })
        .collect();
    let mut crops = Vec::new();
    for &i in tall.iter().chain(&square) {
        // Reading upwards (1), then downwards (-1).
        for turn in [1, -1] {
            let l = Line {
                turn,
                ..lines[i].clone()
            };
            crops.push(upright_crop(img, &l)?);
        }
    }
    let mut tm = ocr::Timings::default();
    let read = engine.recognise(p, &crops, &mut tm)?;
    for (k, &i) in tall.iter().chain(&square).enumerate() {
        let (up, down) = (&read[2 * k], &read[2 * k + 1]);
        let (best, turn) = match turn_by_sign(up, down, &crops[2 * k], &crops[2 * k + 1])? {
            Some(1) => (up, 1),
            Some(_) => (down, -1),
            None => choose_turn(up, down),
        };
        let l = &lines[i];
        // A tall line takes its better turned reading; a squarish one only when it
        // reads a number more surely than the line lying flat, and another one (a
        // lone `0` reads the same both ways), or the same of two glyphs or more
        // (`42` written upwards in a box as tall as wide, read `42` lying flat at
        // 0.52 and standing up at 1.0: the glyphs stand the surer way).
        let take = if is_tall(&l.bbox) {
            !best.0.trim().is_empty()
        } else if !has_latin(&l.text) {
            // What reads nothing level takes a turned reading that stands for it.
            super::stands_for_the_line(&best.0, best.1)
        } else {
            best.1 > l.confidence
                && best.0.chars().any(|c| c.is_ascii_digit())
                && (best.0.trim() != l.text.trim() || glyph_count(&best.0) >= 2)
        };
        if take {
            lines[i].text = best.0.clone();
            lines[i].confidence = best.1;
            lines[i].turn = turn;
        }
    }
    Ok(())
}

/// Lines stacked in one box: the detector sometimes boxes two level lines one over
/// the other (a limit dimension's `6.5` over `9.5`) as one box about as tall as wide,
/// which the recogniser then reads as one line or, turned, as vertical text (`55`).
/// A box at least [`SQUARE`] as tall as wide whose ink parts into two or more bands
/// of rows by blank rows (bands under a third of the tallest left out: a decimal
/// point of turned text) is read band by band, level; it becomes one line per band
/// when every band reads a number or a dimension of two or more glyphs at least 0.9
/// surely. Vertical text parts into one glyph per band and never passes.
pub(super) fn split_stacked_lines(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut Vec<Line>,
) -> Result<(), StageError> {
    let page = Rect::new(0, 0, img.cols(), img.rows());
    // (line, one padded quadrilateral per band) of each box that parts into bands.
    let mut found: Vec<(usize, Vec<[[f32; 2]; 4]>)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let b = l.bbox;
        if l.exact || b[3] < SQUARE * b[2] {
            continue;
        }
        let (x0, y0) = (b[0].max(0.0) as i32, b[1].max(0.0) as i32);
        let (x1, y1) = ((b[0] + b[2]).ceil() as i32, (b[1] + b[3]).ceil() as i32);
        let r = Rect::new(x0, y0, x1 - x0, y1 - y0) & page;
        if r.width < 4 || r.height < 8 {
            continue;
        }
        let crop = Mat::roi(img, r).map_err(cv)?.try_clone().map_err(cv)?;
        let bands = row_bands(&ink(&crop)?);
        if bands.len() < 2 {
            continue;
        }
        let quads = bands
            .iter()
            .map(|&(top, bottom, left, right)| {
                let (w, h) = ((right - left + 1) as f32, (bottom - top + 1) as f32);
                let m = (0.15 * h).max(2.0);
                let (x, y) = ((r.x + left) as f32, (r.y + top) as f32);
                layout::polygon_of(&[x - m, y - m, w + 2.0 * m, h + 2.0 * m])
            })
            .collect();
        found.push((i, quads));
    }
    if found.is_empty() {
        return Ok(());
    }
    let crops = found
        .iter()
        .flat_map(|(_, quads)| quads)
        .map(|q| ocr::crop_line(img, q))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tm = ocr::Timings::default();
    let mut read = engine.recognise(p, &crops, &mut tm)?.into_iter();
    let mut gone = vec![false; lines.len()];
    let mut add = Vec::new();
    for (i, quads) in found {
        let reads: Vec<(String, f32)> = read.by_ref().take(quads.len()).collect();
        let ok = reads.iter().all(|(t, c)| {
            let t = t.trim();
            *c >= 0.9
                && glyph_count(t) >= 2
                && (is_plain_number(t) || parse::looks_like_dimension(t))
        });
        if ok {
            gone[i] = true;
            add.extend(
                quads
                    .into_iter()
                    .zip(reads)
                    .map(|(q, (t, c))| Line::read(t, c, q, 0)),
            );
        }
    }
    replace_lines(lines, &gone, add);
    Ok(())
}

/// Bands of inked rows parted by blank rows, as (top, bottom, left, right) in the
/// crop, bands under a third of the tallest left out.
fn row_bands(ink: &[Vec<bool>]) -> Vec<(i32, i32, i32, i32)> {
    let bands = runs(ink.iter().map(|row| row.iter().any(|&v| v)));
    let tallest = bands.iter().map(|b| b.1 - b.0).max().unwrap_or(0);
    bands
        .into_iter()
        .filter(|b| 3 * (b.1 - b.0) >= tallest)
        .map(|(top, end)| {
            let bottom = end - 1;
            let cols = |x: usize| (top..=bottom).any(|y| ink[y as usize][x]);
            let w = ink[0].len();
            let left = (0..w).find(|&x| cols(x)).unwrap_or(0) as i32;
            let right = (0..w).rev().find(|&x| cols(x)).unwrap_or(w - 1) as i32;
            (top, bottom, left, right)
        })
        .collect()
}

/// The runs of `true` in `flags`, as half-open index ranges `(start, end)`.
fn runs(flags: impl IntoIterator<Item = bool>) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, on) in flags.into_iter().chain(std::iter::once(false)).enumerate() {
        match (on, start) {
            (true, None) => start = Some(i as i32),
            (false, Some(s)) => {
                out.push((s, i as i32));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Which of a line's two turned readings (reading upwards, downwards: text and
/// confidence) is the text's, and its turn. The grammar first: when only one way
/// reads as a dimension or a stacked deviation (`Ø8`, not `8Ø`; `±0.02`, not
/// `20.0∓`) in two or more characters (a lone `6` is a `9` turned over) and is read
/// at least half surely, that way; otherwise the surer reading.
fn choose_turn<'a>(up: &'a (String, f32), down: &'a (String, f32)) -> (&'a (String, f32), i8) {
    let reads = |r: &(String, f32)| {
        r.1 >= 0.5
            && r.0.trim().chars().count() >= 2
            && (parse::looks_like_dimension(&r.0) || is_tolerance(&r.0))
    };
    match (reads(up), reads(down)) {
        (true, false) => (up, 1),
        (false, true) => (down, -1),
        _ if up.1 >= down.1 => (up, 1),
        _ => (down, -1),
    }
}

/// The turn a diameter sign decides. The recogniser reads a `⌀` as `0`, and a
/// number turned over reads as another (`⌀60` written upwards reads `060` upwards and
/// `090` downwards, the sign last), so where a reading starts with a zero before a
/// digit, which no number does, or with the sign itself (`∅62` upwards, less sure
/// than `290` downwards), the sign is first in one of the two ways: the way
/// whose first glyph is a ring with a diagonal ([`glyph::diameter_glyph_first`]), when
/// only one way's is, is the text's. `None` leaves the choice to [`choose_turn`].
fn turn_by_sign(
    up: &(String, f32),
    down: &(String, f32),
    up_crop: &Mat,
    down_crop: &Mat,
) -> Result<Option<i8>, StageError> {
    let sign_first = |s: &str| {
        let mut c = s.trim().chars();
        match c.next() {
            Some('0') => c.next().is_some_and(|c| c.is_ascii_digit()),
            Some(first) => super::DIAMETER_SIGNS.contains(&first),
            None => false,
        }
    };
    if !(sign_first(&up.0) || sign_first(&down.0)) {
        return Ok(None);
    }
    Ok(
        match (
            glyph::diameter_glyph_first(up_crop)?,
            glyph::diameter_glyph_first(down_crop)?,
        ) {
            (true, false) => Some(1),
            (false, true) => Some(-1),
            _ => None,
        },
    )
}

/// Whether a text holds a Latin letter or a digit.
fn has_latin(t: &str) -> bool {
    t.chars().any(|c| c.is_ascii_alphanumeric())
}

/// A box that may hold a short number turned 90°: not tall, but at least 0.8 as
/// tall as wide.
fn is_squarish(b: &[f32; 4]) -> bool {
    !is_tall(b) && b[3] >= 0.8 * b[2]
}

/// Tiled detection at native resolution inside the frame; boxes that no existing
/// line covers (overlap under 30 % of the smaller) are read and returned.
pub(super) fn second_pass(
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
    let boxes = engine.detect_sweep(&p, img, &mut tm)?;
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

/// Joins fragments of one text the detector cut apart: `+0.12` turned 90° found as
/// `2`, `0` and `+`, or a number cut where a line of the drawing crosses it (`2.50`
/// found as `2` and `50`, `15.50` as `15.` and `50`). The pieces are short lines
/// (one or two glyphs), numbers cut at their decimal separator (`.50`, `15.`) or
/// dimensions cut at their last number's (`10±0.` of `10±0.3`, in a font that sets
/// the point apart),
/// each within one glyph size of the next, lined up along one axis: a column or a
/// row (each axis grouped on its own, so that two dimensions side by side over two
/// others are not one group). A group is read again as one box; the reading
/// replaces its pieces when it is a number or tolerance read with confidence ≥ 0.8
/// and shows what the cut hid: more glyphs than the pieces had together, or, where
/// a piece ends at a separator, one number with its separator inside and every
/// digit of the longest piece; for a cut dimension, a dimension that starts with
/// the cut piece and goes on past its separator.
pub(super) fn rejoin_fragments(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut Vec<Line>,
) -> Result<(), StageError> {
    let frag: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let t = &lines[i].text;
            glyph_count(t) <= 2 || is_cut_number(t) || is_cut_dimension(t)
        })
        .collect();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    // For two neighbours in a chain of three or more pieces, the chain's group: a
    // chain may hold a number of its own beside the cut one (`20` under `15.` `50`).
    let mut chain_of: Vec<Option<usize>> = Vec::new();
    for axis in [Axis::Column, Axis::Row] {
        let near = |a: &[f32; 4], b: &[f32; 4]| lined_up(axis, a, b);
        let n = frag.len();
        let mut parent: Vec<usize> = (0..n).collect();
        for i in 0..n {
            for j in i + 1..n {
                if near(&lines[frag[i]].bbox, &lines[frag[j]].bbox) {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
            }
        }
        let mut by_root: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for (i, &f) in frag.iter().enumerate() {
            let r = find(&mut parent, i);
            by_root.entry(r).or_default().push(f);
        }
        for mut g in by_root.into_values().filter(|g| g.len() >= 2) {
            let long = g.len() >= 3;
            if long {
                let centre = |k: usize| {
                    let b = &lines[k].bbox;
                    if axis == Axis::Column {
                        b[1] + b[3] / 2.0
                    } else {
                        b[0] + b[2] / 2.0
                    }
                };
                g.sort_by(|&a, &b| centre(a).total_cmp(&centre(b)));
            }
            let chain = groups.len();
            groups.push(g.clone());
            chain_of.push(None);
            if long {
                for w in g
                    .windows(2)
                    .filter(|w| near(&lines[w[0]].bbox, &lines[w[1]].bbox))
                {
                    groups.push(w.to_vec());
                    chain_of.push(Some(chain));
                }
            }
        }
    }
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
    // (confidence, group, reading) of each group whose reading is taken.
    let mut taken: Vec<(f32, usize, Line)> = Vec::new();
    for (gi, (g, b)) in groups.iter().zip(&boxes).enumerate() {
        let Some(r) = read_boxes(engine, p, img, std::slice::from_ref(b), 0.8)?.pop() else {
            continue;
        };
        let pieces: Vec<&str> = g.iter().map(|&k| lines[k].text.as_str()).collect();
        if joins_pieces(&r.text, &pieces) {
            taken.push((r.confidence, gi, r));
        }
    }
    // A chain read whole gives way to two of its pieces read as one when every
    // other piece is a number of its own (two or more glyphs).
    let own_number = |k: usize| {
        let t = lines[k].text.trim();
        is_plain_number(t) && glyph_count(t) >= 2
    };
    let pairs: Vec<usize> = taken
        .iter()
        .map(|t| t.1)
        .filter(|&g| chain_of[g].is_some())
        .collect();
    taken.retain(|t| {
        !pairs.iter().any(|&pg| {
            chain_of[pg] == Some(t.1)
                && groups[t.1]
                    .iter()
                    .filter(|k| !groups[pg].contains(k))
                    .all(|&k| own_number(k))
        })
    });
    // Otherwise the chain read whole stands.
    let chains: Vec<usize> = taken
        .iter()
        .map(|t| t.1)
        .filter(|&g| chain_of[g].is_none())
        .collect();
    taken.retain(|t| chain_of[t.1].is_none_or(|c| !chains.contains(&c)));
    // A piece in both a row and a column group goes to the surer reading.
    taken.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut gone = vec![false; lines.len()];
    let mut add = Vec::new();
    for (_, gi, r) in taken {
        if groups[gi].iter().any(|&k| gone[k]) {
            continue;
        }
        for &k in &groups[gi] {
            gone[k] = true;
        }
        add.push(r);
    }
    replace_lines(lines, &gone, add);
    Ok(())
}

/// A short number the detector found only in part (`5` of `15` written upwards,
/// `50` of `1.50` where an arrow crosses it, `.57` of `1.57` whose `1` it left
/// out): each plain number of at most three digits, or such digits after a
/// separator, is read again in its box grown by one glyph size at both ends along
/// the axis its text may run ([`text_axes`]: `18.3` written upwards is not grown
/// sideways), where the grown box takes in no other line, and takes the reading
/// that keeps its digits in a longer number (one separator at most, no zero before
/// a digit), read with confidence ≥ 0.9. A reading with only `1`s more is refused
/// where line work runs into the grown ends: the `1` was a dimension line's or an
/// arrow's stroke (`8` beside its extension line read `18`).
pub(super) fn extend_short_numbers(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut [Line],
) -> Result<(), StageError> {
    let (w, h) = (img.cols() as f32, img.rows() as f32);
    // (line, grown box) per candidate reading.
    let mut grown: Vec<(usize, [f32; 4])> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.text.trim();
        // `.57` of `1.57`: a number cut before its separator is looked for whole too.
        let cut_before = t.starts_with(is_separator) && is_cut_number(t);
        if l.exact || !(is_plain_number(t) || cut_before) || !(1..=3).contains(&digits_of(t).len())
        {
            continue;
        }
        let b = l.bbox;
        let g = b[2].min(b[3]);
        for axis in text_axes(t, &b) {
            let e = match axis {
                Axis::Column => [b[0], b[1] - g, b[2], b[3] + 2.0 * g],
                Axis::Row => [b[0] - g, b[1], b[2] + 2.0 * g, b[3]],
            };
            let (x0, y0) = (e[0].max(0.0), e[1].max(0.0));
            let e = [x0, y0, (e[0] + e[2]).min(w) - x0, (e[1] + e[3]).min(h) - y0];
            // Another line's box under a tenth inside the grown one.
            let clear = lines.iter().enumerate().all(|(j, o)| {
                j == i || area(&o.bbox) <= 0.0 || intersection(&o.bbox, &e) < 0.1 * area(&o.bbox)
            });
            if clear {
                grown.push((i, e));
            }
        }
    }
    let boxes: Vec<[[f32; 2]; 4]> = grown.iter().map(|(_, e)| layout::polygon_of(e)).collect();
    let read = read_each_box(engine, p, img, &boxes, 0.9)?;
    let mut best: Vec<Option<Line>> = vec![None; lines.len()];
    for (&(i, e), r) in grown.iter().zip(read) {
        let Some(r) = r else {
            continue;
        };
        let (old, new) = (digits_of(&lines[i].text), digits_of(&r.text));
        let t = r.text.trim();
        // `075`: a zero before a digit is no number's (a lost separator, or a sign).
        let zero_first = t.starts_with('0') && t[1..].starts_with(|c: char| c.is_ascii_digit());
        if !(is_one_number(t)
            && !zero_first
            && new.len() > old.len()
            && new.contains(&old)
            && best[i].as_ref().is_none_or(|b| r.confidence > b.confidence))
        {
            continue;
        }
        // Only `1`s more (`8` → `18`; `50` → `1.50` shows a separator too): the
        // recogniser's reading of a stroke, unless that stroke ends as a glyph
        // does. A dimension line or an arrow running into the grown box belongs to
        // line work beyond it.
        let only_ones = t
            .replacen(lines[i].text.trim(), "", 1)
            .chars()
            .all(|c| c == '1');
        if only_ones && any_line_work(img, &added_ends(&lines[i].bbox, &e))? {
            continue;
        }
        best[i] = Some(r);
    }
    for (l, b) in lines.iter_mut().zip(best) {
        if let Some(r) = b {
            *l = r;
        }
    }
    Ok(())
}

/// A number (or an angle) read with a `1` first or last that is line work: the
/// stub of a dimension line and its arrow before `18.3` written upwards, read
/// `118.3`, or the cut stroke of a neighbouring word's last letter before `90°`.
/// Where that end's ink runs on beyond the box
/// ([`glyph::box_without_line_work_end`]), the box without it is read again, and
/// the reading replaces the line when it is the text without that `1` (two digits
/// or more left), read the same way round, at confidence ≥ 0.9.
pub(super) fn drop_line_work_ones(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut [Line],
) -> Result<(), StageError> {
    // (line, the reading wanted) per box read again.
    let mut asks: Vec<(usize, String)> = Vec::new();
    let mut boxes = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.text.trim();
        if l.exact || !is_one_number(t.strip_suffix('°').unwrap_or(t)) {
            continue;
        }
        for at_start in [true, false] {
            let rest = if at_start {
                t.strip_prefix('1')
            } else {
                t.strip_suffix('1')
            };
            let Some(rest) = rest else {
                continue;
            };
            if digits_of(rest).len() < 2
                || rest.starts_with(is_separator)
                || rest.ends_with(is_separator)
            {
                continue;
            }
            if let Some(b) = glyph::box_without_line_work_end(img, l, at_start)? {
                asks.push((i, rest.to_string()));
                boxes.push(layout::polygon_of(&b));
            }
        }
    }
    let read = read_each_box(engine, p, img, &boxes, 0.9)?;
    for ((i, want), r) in asks.into_iter().zip(read) {
        if let Some(r) = r.filter(|r| r.text.trim() == want && r.turn == lines[i].turn) {
            lines[i] = r;
        }
    }
    Ok(())
}

/// Two dimensions of a chain that the detector found as one line and the
/// recogniser read as one number (`8` and `10` between their arrows read `810`):
/// a level line whose glyphs stand in groups far apart ([`glyph_groups`]) is read
/// again group by group, and its groups replace it when each reads level, with a
/// digit, at confidence ≥ 0.8.
pub(super) fn split_far_apart(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut Vec<Line>,
) -> Result<(), StageError> {
    let split = level_groups(img, lines, 1.5, |l| {
        (glyph_count(&l.text) >= 2 && l.text.chars().any(|c| c.is_ascii_digit()))
            .then_some(2..=usize::MAX)
    })?;
    read_groups(engine, p, img, lines, split, |_, _, r| {
        r.turn == 0 && r.text.chars().any(|c| c.is_ascii_digit())
    })
}

/// Lines to read again in parts: (line, its parts' boxes on the page).
type Splits = Vec<(usize, Vec<[f32; 4]>)>;

/// The level pixel-read lines to split, each with its glyph groups ([`glyph_groups`]
/// at `gap`) as page boxes ([`group_boxes`]): a line whose text `wanted` gives a
/// range of group counts for, and whose groups number within it.
fn level_groups(
    img: &Mat,
    lines: &[Line],
    gap: f32,
    wanted: impl Fn(&Line) -> Option<std::ops::RangeInclusive<usize>>,
) -> Result<Splits, StageError> {
    let mut split = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.exact || l.turn != 0 || is_tall(&l.bbox) {
            continue;
        }
        let Some(counts) = wanted(l) else {
            continue;
        };
        let groups = glyph_groups(img, l, gap)?;
        if counts.contains(&groups.len()) {
            split.push((i, group_boxes(&l.bbox, &groups)));
        }
    }
    Ok(split)
}

/// Reads each line's group boxes (`split`: line, boxes) at confidence ≥ 0.8 and puts
/// the readings in place of the line when every group reads and `reads(line, k,
/// reading)` accepts the reading of its `k`-th group.
fn read_groups(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut Vec<Line>,
    split: Splits,
    reads: impl Fn(&Line, usize, &Line) -> bool,
) -> Result<(), StageError> {
    let polygons: Vec<[[f32; 2]; 4]> = split
        .iter()
        .flat_map(|(_, boxes)| boxes.iter().map(layout::polygon_of))
        .collect();
    let mut read = read_each_box(engine, p, img, &polygons, 0.8)?.into_iter();
    let mut gone = vec![false; lines.len()];
    let mut add = Vec::new();
    for (i, boxes) in split {
        let parts: Vec<Option<Line>> = read.by_ref().take(boxes.len()).collect();
        let each_reads = parts
            .iter()
            .enumerate()
            .all(|(k, r)| r.as_ref().is_some_and(|r| reads(&lines[i], k, r)));
        if each_reads {
            gone[i] = true;
            add.extend(parts.into_iter().flatten());
        }
    }
    replace_lines(lines, &gone, add);
    Ok(())
}

/// A level line's glyph groups ([`glyph_groups`]) as page boxes: the upright crop
/// of a level box spans the box, so its shares are the box's. Each group's ink with
/// a margin of a quarter of its height.
fn group_boxes(b: &[f32; 4], groups: &[[f32; 4]]) -> Vec<[f32; 4]> {
    groups
        .iter()
        .map(|g| {
            let m = 0.25 * (g[3] - g[1]) * b[3];
            let x0 = b[0] + g[0] * b[2] - m;
            let y0 = b[1] + g[1] * b[3] - m;
            let x1 = b[0] + g[2] * b[2] + m;
            let y1 = b[1] + g[3] * b[3] + m;
            [x0, y0, x1 - x0, y1 - y0]
        })
        .collect()
}

/// The paper between two words of one line, in heights of its tallest glyph, above
/// which [`split_at_spaces`] takes them for two texts: a space inside a callout
/// (`Ø20 H7`, `4x M3`) is about half a glyph wide or less.
const WORD_GAP: f32 = 0.7;

/// Two dimensions side by side that the detector found as one line and the
/// recogniser read with a space between (`3 50`, neighbours in a chain; `15 (15)`,
/// a dimension and its reference repeat): a level line that is no dimension, whose
/// words (split at spaces) each are one and no tolerance, and whose glyphs stand in
/// as many groups with paper wider than [`WORD_GAP`] between, is read again group
/// by group; the groups replace the line when each reads its word, level, at
/// confidence ≥ 0.8.
pub(super) fn split_at_spaces(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut Vec<Line>,
) -> Result<(), StageError> {
    let split = level_groups(img, lines, WORD_GAP, |l| {
        let words = l.text.split_whitespace().count();
        let each = l
            .text
            .split_whitespace()
            .all(|w| super::parses_as_dimension(w) && !is_tolerance(w));
        (words >= 2 && each && !super::parses_as_dimension(&l.text)).then_some(words..=words)
    })?;
    read_groups(engine, p, img, lines, split, |line, k, r| {
        r.turn == 0
            && line
                .text
                .split_whitespace()
                .nth(k)
                .is_some_and(|w| unspaced(&r.text) == unspaced(w))
    })
}

/// `lines` without those marked `gone`, and `add` after them.
fn replace_lines(lines: &mut Vec<Line>, gone: &[bool], add: Vec<Line>) {
    *lines = without_gone(std::mem::take(lines), gone.to_vec())
        .chain(add)
        .collect();
}

/// Whether any of `boxes` holds line work ([`is_line_work`]).
fn any_line_work(img: &Mat, boxes: &[[f32; 4]]) -> Result<bool, StageError> {
    for b in boxes {
        if is_line_work(img, b)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What growing box `b` into `e` added at each end, as boxes (none where it added
/// nothing: at the page's edge).
fn added_ends(b: &[f32; 4], e: &[f32; 4]) -> Vec<[f32; 4]> {
    let mut ends = Vec::new();
    if e[1] < b[1] - 0.5 {
        ends.push([e[0], e[1], e[2], b[1] - e[1]]);
    }
    if e[1] + e[3] > b[1] + b[3] + 0.5 {
        ends.push([e[0], b[1] + b[3], e[2], e[1] + e[3] - b[1] - b[3]]);
    }
    if e[0] < b[0] - 0.5 {
        ends.push([e[0], e[1], b[0] - e[0], e[3]]);
    }
    if e[0] + e[2] > b[0] + b[2] + 0.5 {
        ends.push([b[0] + b[2], e[1], e[0] + e[2] - b[0] - b[2], e[3]]);
    }
    ends
}

/// The axes a short number's text may run along, from its box: two or more
/// glyphs make it longest along their text; a lone glyph, or a box within a tenth of
/// square, may run either way (the detector's box of one glyph often takes in an
/// arrow beside it, so its shape says little).
fn text_axes(text: &str, b: &[f32; 4]) -> Vec<Axis> {
    let (w, h) = (b[2], b[3]);
    if glyph_count(text) == 1 || (h - w).abs() <= 0.1 * w.max(h) {
        return vec![Axis::Column, Axis::Row];
    }
    vec![if h > w { Axis::Column } else { Axis::Row }]
}

/// The axis fragments of one text line up along.
#[derive(Clone, Copy, PartialEq)]
enum Axis {
    Column,
    Row,
}

/// Two boxes one after the other along `axis`: they share at least half the
/// narrower one across it and lie within one box size of each other along it.
fn lined_up(axis: Axis, a: &[f32; 4], b: &[f32; 4]) -> bool {
    let (a, b) = match axis {
        Axis::Column => (*a, *b),
        Axis::Row => (transpose(a), transpose(b)),
    };
    let ox = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let oy = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    ox >= 0.5 * a[2].min(b[2]) && -oy <= a[2].max(b[2])
}

/// Characters that are not white space.
pub(super) fn glyph_count(t: &str) -> usize {
    t.chars().filter(|c| !c.is_whitespace()).count()
}

/// The digits of a text, in order.
fn digits_of(t: &str) -> String {
    t.chars().filter(char::is_ascii_digit).collect()
}

fn is_separator(c: char) -> bool {
    c == '.' || c == ','
}

fn separators(t: &str) -> usize {
    t.chars().filter(|&c| is_separator(c)).count()
}

/// One number: a plain number with at most one decimal separator (not `7.5.0`).
fn is_one_number(t: &str) -> bool {
    is_plain_number(t) && separators(t) <= 1
}

/// A box with its axes swapped (x, y, w, h → y, x, h, w).
fn transpose(b: &[f32; 4]) -> [f32; 4] {
    [b[1], b[0], b[3], b[2]]
}

/// A number cut at its decimal separator: digits with a separator before or after
/// them (`.50`, `15.`), up to four digits.
fn is_cut_number(t: &str) -> bool {
    let t = t.trim();
    (1..=4).contains(&digits_of(t).len())
        && separators(t) == 1
        && (t.starts_with(is_separator) || t.ends_with(is_separator))
        && t.chars().all(|c| c.is_ascii_digit() || is_separator(c))
}

/// A dimension cut at its last number's decimal separator (`10±0.` of `10±0.3`,
/// `Ø12,` of `Ø12,5`): a separator after a digit ends it, something other than
/// digits stands before (a plain number is [`is_cut_number`]'s), up to eight glyphs,
/// and what stands before the separator reads as a dimension.
fn is_cut_dimension(t: &str) -> bool {
    let t = t.trim();
    let mut rev = t.chars().rev();
    rev.next().is_some_and(is_separator)
        && rev.next().is_some_and(|c| c.is_ascii_digit())
        && !t.chars().all(|c| c.is_ascii_digit() || is_separator(c))
        && glyph_count(t) <= 8
        && parse::looks_like_dimension(&parse::normalise(&t[..t.len() - 1]))
}

/// Whether `reading`, a group's box read as one, is the text its `pieces` were cut
/// from (see [`rejoin_fragments`]).
fn joins_pieces(reading: &str, pieces: &[&str]) -> bool {
    let t = reading.trim();
    let before: usize = pieces.iter().map(|p| glyph_count(p)).sum();
    if let Some(cut) = pieces.iter().find(|p| is_cut_dimension(p)) {
        let (whole, cut) = (unspaced(t), unspaced(cut));
        return whole.len() > cut.len()
            && whole.starts_with(&cut)
            && !t.ends_with(is_separator)
            && glyph_count(t) >= before
            && parse::looks_like_dimension(&parse::normalise(t));
    }
    let number = is_one_number(t);
    // A stacked tolerance read as one row (`60 0.013` for `60` with `0` over
    // `-0.013`): its deviations are read apart later ([`stacked_partners`]).
    let stacked = reads_as_stack(t) || split_nominal(t).is_some_and(|n| n.1.is_some());
    if !(is_tolerance(t) || number || stacked) {
        return false;
    }
    // A stacked reading takes the pieces when it holds at least their glyphs (a
    // stack's pieces, read each on its own, pick up signs: `-0`).
    if glyph_count(t) > before || (stacked && glyph_count(t) >= before) {
        return true;
    }
    let inner_sep =
        separators(t) == 1 && !t.starts_with(is_separator) && !t.ends_with(is_separator);
    let longest = pieces.iter().map(|p| digits_of(p)).max_by_key(String::len);
    pieces.iter().any(|p| is_cut_number(p))
        && number
        && inner_sep
        && glyph_count(t) >= before
        && longest.is_some_and(|d| digits_of(t).contains(&d))
}

/// A number, then one or two words that can only be its stacked deviations: each a
/// tolerance that starts with its sign or with a zero (`60 0.013`, `8 +0.018 0`;
/// not `54 45 +`, two dimensions side by side).
fn reads_as_stack(t: &str) -> bool {
    let words: Vec<&str> = t.split_whitespace().collect();
    let [number, rest @ ..] = &words[..] else {
        return false;
    };
    is_plain_number(number)
        && (1..=2).contains(&rest.len())
        && rest
            .iter()
            .all(|w| is_tolerance(w) && (w.starts_with(SIGNS) || w.starts_with('0')))
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
    Ok(read_each_box(engine, p, img, boxes, min)?
        .into_iter()
        .flatten()
        .collect())
}

/// [`read_boxes`], one entry per box: `None` where no reading reaches `min`.
fn read_each_box(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    boxes: &[[[f32; 2]; 4]],
    min: f32,
) -> Result<Vec<Option<Line>>, StageError> {
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
    Ok(boxes
        .iter()
        .zip(best)
        .map(|(b, best)| {
            best.filter(|r| r.1 >= min)
                .map(|(text, confidence, turn)| Line::read(text, confidence, *b, turn))
        })
        .collect())
}

/// Re-detects a window around each plain-number line, enlarged 2×, for small
/// tolerance text after it; returns tolerance lines not already present.
pub(super) fn reread_tolerances(
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
            if lines.iter().chain(found.iter()).any(|o| {
                overlap_of_smaller(&o.bbox, &bb) >= 0.3
                    && !(std::ptr::eq(o, l) && past_the_number(l, &bb))
            }) {
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

/// Whether a box found around a number is a deviation stacked at its end even though
/// it overlaps the number's box (PP-OCR grows its boxes, and a deviation at the
/// number's baseline lies within its height): smaller glyphs (at most 3/4 of the
/// number's height) whose centre lies in the last quarter of the number's length or
/// past it. A piece of the number itself is as high as the number.
fn past_the_number(l: &Line, b: &[f32; 4]) -> bool {
    let (u0, u1, v0, v1) = text_frame(&l.bbox, l.turn);
    let (bu0, bu1, bv0, bv1) = text_frame(b, l.turn);
    bv1 - bv0 <= 0.75 * (v1 - v0) && (bu0 + bu1) / 2.0 >= u0 + 0.75 * (u1 - u0)
}

/// The other deviation of a stacked tolerance that OCR read as one row: a line read
/// as a number and one deviation (`Ø40 +0,1`, `40,4 -0,013`) whose box also holds
/// the other deviation (`0`) stacked over or under it. In the upright crop, the
/// columns after the number (the widest blank run near where its share of the
/// characters ends) must hold exactly two bands of ink one above the other; each
/// is read on its own (all lines' bands in one recogniser call, each pair padded as
/// if read alone), and when one reads as the line's deviation and the other as a
/// tolerance (confidence ≥ 0.8), the line takes both, upper first, and keeps its
/// first reading in `replaced`.
///
/// When neither band reads as the line's deviation (`75 -0 3` for `75` over
/// `-0.02` and `-0.05`: `-0 3` is no band), or the line was read as a number and
/// then something that is no tolerance at all, the number is read again too (the
/// columns before the bands): when it reads as itself and both bands as deviations (signed, or a
/// zero), each with confidence ≥ 0.8, the line takes them, at the least of the
/// three confidences.
pub(super) fn stacked_partners(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut [Line],
) -> Result<(), StageError> {
    // (line, its number, its deviation where it read one), and three crops each:
    // the two bands, upper first, then the number.
    let mut found: Vec<(usize, String, Option<String>)> = Vec::new();
    let mut crops: Vec<Mat> = Vec::new();
    let mut widths: Vec<usize> = Vec::new();
    for (i, l) in lines.iter().enumerate().filter(|(_, l)| !l.exact) {
        let (number, own) = match split_nominal(&l.text) {
            Some((number, Some(own))) => (number, Some(own)),
            Some((_, None)) => continue,
            None => match number_then_unread(&l.text) {
                Some(number) => (number, None),
                None => continue,
            },
        };
        let share = number_share(&number, &l.text);
        // A stack makes the detector's box around it lean (its quadrilateral fits
        // the number's big glyphs and the small ones after them, 8° off for `8`
        // with `+0.018` over `0`): where it leans a little (the quadrilateral fills
        // half its bounding box or more), the text is taken as level with the page
        // and its level box is looked at too.
        let mut level = l.clone();
        level.polygon = layout::polygon_of(&l.bbox);
        let leans = level.polygon != l.polygon
            && crate::geometry::polygon_area(&l.polygon) >= 0.5 * area(&l.bbox);
        let stacked = match stack_in(img, l, share)? {
            None if leans => stack_in(img, &level, share)?,
            stacked => stacked,
        };
        let Some(StackCrop { crop, dark, stack }) = stacked else {
            continue;
        };
        let pieces = stack_pieces(&crop, &dark, stack.start, stack.bands)?;
        widths.extend(ocr::paddle_widths(p, &pieces));
        crops.extend(pieces);
        found.push((i, number, own));
    }
    if found.is_empty() {
        return Ok(());
    }
    let refs: Vec<&Mat> = crops.iter().collect();
    let mut tm = ocr::Timings::default();
    let read = engine.recognise_at(p.infer_batch(), &refs, &widths, &mut tm)?;
    for ((i, number, own), pieces) in found.into_iter().zip(read.chunks_exact(3)) {
        let [upper, lower, again] = pieces else {
            continue;
        };
        let own_above = match &own {
            Some(own) if unspaced(&upper.0) == unspaced(own) => Some(true),
            Some(own) if unspaced(&lower.0) == unspaced(own) => Some(false),
            _ => None,
        };
        let l = &mut lines[i];
        if let (Some(own_above), Some(own)) = (own_above, &own) {
            let partner = if own_above { lower } else { upper };
            let t = partner.0.trim();
            if partner.1 < 0.8 || !is_tolerance(t) || unspaced(t) == unspaced(own) {
                continue;
            }
            let (up, down) = if own_above {
                (own.as_str(), t)
            } else {
                (t, own.as_str())
            };
            l.replaced.get_or_insert_with(|| l.text.clone());
            l.text = format!("{number} {up} {down}");
            // The number and the line's own deviation read back on their own too,
            // surely: the stack is as sure as its three pieces (the line's reading
            // of them together may have been far less sure).
            let own_piece = if own_above { upper } else { lower };
            if unspaced(&again.0) == unspaced(&number) && again.1 >= 0.8 && own_piece.1 >= 0.8 {
                let pieces = partner.1.min(own_piece.1).min(again.1);
                l.confidence = l.confidence.max(pieces);
            }
            continue;
        }
        // Neither band is the deviation read: the number and both bands as read
        // on their own, when each is sure; a band read without the sign the line's
        // own reading gave it takes that sign.
        let sure = [upper, lower, again].iter().all(|r| r.1 >= 0.8);
        let (up, down) = signed_bands(&l.text, &number, upper.0.trim(), lower.0.trim());
        if sure
            && unspaced(&again.0) == unspaced(&number)
            && is_deviation(&up)
            && is_deviation(&down)
        {
            l.replaced.get_or_insert_with(|| l.text.clone());
            l.text = format!("{number} {up} {down}");
            l.confidence = upper.1.min(lower.1).min(again.1);
        }
    }
    Ok(())
}

/// The two bands of a stack as read on their own, each unsigned one given the sign
/// of the line's own reading of it: after the number, the line's reading holds
/// exactly two words, each a sign then a start of the band's digits (`7.5 -0.
/// -0.02` for bands read `0.007` and `0.02`: the small minus signs were cut off or
/// faded in the band crops, not in the whole line). Otherwise the bands as read.
fn signed_bands(line: &str, number: &str, upper: &str, lower: &str) -> (String, String) {
    let as_read = (upper.to_string(), lower.to_string());
    let Some(rest) = line.trim().strip_prefix(number) else {
        return as_read;
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    let [a, b] = words[..] else {
        return as_read;
    };
    let sign = |band: &str, word: &str| -> Option<String> {
        if is_deviation(band) || !is_tolerance(band) {
            return Some(band.to_string());
        }
        let s = word.chars().next().filter(|c| SIGNS.contains(c))?;
        let digits = unspaced(&word[s.len_utf8()..]);
        (!digits.is_empty() && unspaced(band).starts_with(&digits)).then(|| format!("{s}{band}"))
    };
    match (sign(upper, a), sign(lower, b)) {
        (Some(u), Some(d)) => (u, d),
        _ => as_read,
    }
}

/// A line's upright crop, where the stack of deviations starts in it (column) and
/// its two bands of ink, when the columns after the number hold such a stack.
///
/// The stack starts at the end of the widest blank run near where the number's
/// `share` of the characters ends ([`deviation_start`]) or, when that shows no two
/// bands (the deviations' glyphs are smaller and share columns, so a share of the
/// characters ends short of the number), at the first blank run from there on
/// after which two bands show: the number's own glyphs span the whole height, so no
/// gap inside it does. A stack whose ink reaches the crop's end (the detector's box
/// stopped short of the deviations' last digits, `-0,` of `-0,1`) is looked for
/// again in the line grown half, then one, text height past its end (so is a stack
/// read with a word that ends in a separator); that crop, cut before any line across
/// the text there, is taken when it shows the stack and its end is clear.
fn stack_in(img: &Mat, l: &Line, share: f32) -> Result<Option<StackCrop>, StageError> {
    let found = |crop: Mat| -> Result<Option<StackCrop>, StageError> {
        if crop.cols() < 8 || crop.rows() < 8 {
            return Ok(None);
        }
        let dark = ink(&crop)?;
        Ok(
            stack_start(&dark, crop.cols() as f32 * share).map(|stack| StackCrop {
                crop,
                dark,
                stack,
            }),
        )
    };
    let Some(first) = found(upright_crop(img, l)?)? else {
        return Ok(None);
    };
    let cut_word = l.text.split_whitespace().any(|w| w.ends_with(['.', ',']));
    if first.stack.cut || cut_word {
        for by in [0.5, 1.0] {
            let grown = grown_at_end(l, by, img.cols() as f32, img.rows() as f32);
            let wider = before_stroke(&upright_crop(img, &grown)?, first.stack.start)?;
            if let Some(whole) = found(wider)?.filter(|s| !s.stack.cut) {
                return Ok(Some(whole));
            }
        }
    }
    Ok(Some(first))
}

/// The upright crop a stack was found in, its ink, and the stack.
struct StackCrop {
    crop: Mat,
    dark: Vec<Vec<bool>>,
    stack: Stack,
}

/// Two bands of ink one above the other, `(first row, end row)` each, upper first.
type Bands = [(i32, i32); 2];

/// A stack of deviations in an upright crop: the column it starts at, its two
/// bands, and whether their ink reaches the crop's end (the crop cuts the stack).
#[derive(Debug, PartialEq)]
struct Stack {
    start: i32,
    bands: Bands,
    cut: bool,
}

/// Where a stack of deviations starts in an upright crop's ink (column), its two
/// bands, and whether their ink reaches the crop's end (the crop cuts the stack),
/// given where the number is estimated to end: see [`stack_in`].
fn stack_start(dark: &[Vec<bool>], estimate: f32) -> Option<Stack> {
    let (w, h) = (dark[0].len(), dark.len() as f32);
    let u0 = deviation_start(dark, estimate);
    let (u, bands) = match ink_bands(dark, u0) {
        Some(bands) => (u0, bands),
        None => blank_run_ends(dark, (estimate - 0.3 * h) as i32)
            .into_iter()
            .find_map(|u| ink_bands(dark, u).map(|b| (u, b)))?,
    };
    let cut = bands.iter().any(|&(r0, r1)| {
        dark[r0 as usize..r1 as usize]
            .iter()
            .any(|r| r[w.saturating_sub(2)..].iter().any(|&b| b))
    });
    Some(Stack {
        start: u,
        bands,
        cut,
    })
}

/// An upright crop cut before its first column from `from` on whose ink spans four
/// fifths of its height or more: a line across the text (an extension line the grown
/// box reached), no glyph of a stack.
fn before_stroke(crop: &Mat, from: i32) -> Result<Mat, StageError> {
    let dark = ink(crop)?;
    let h = dark.len();
    let w = crop.cols();
    let across = (from.max(1)..w).find(|&x| column_ink(&dark, x) * 5 >= 4 * h);
    match across {
        Some(x) => Mat::roi(crop, Rect::new(0, 0, x, crop.rows()))
            .map_err(cv)?
            .try_clone()
            .map_err(cv),
        None => Ok(crop.clone()),
    }
}

/// The ends of the runs of blank columns from column `from` on, left to right
/// ([`is_blank`]), short of the last third of a text height.
fn blank_run_ends(ink: &[Vec<bool>], from: i32) -> Vec<i32> {
    let (w, h) = (ink[0].len() as i32, ink.len() as i32);
    (from.max(1)..(w - h / 3).max(1))
        .filter(|&x| is_blank(ink, x - 1) && !is_blank(ink, x))
        .collect()
}

/// Whether column `x` of a crop's ink is blank: a twelfth of the rows at most (a
/// dimension line or a speck crossing it) hold ink.
fn is_blank(ink: &[Vec<bool>], x: i32) -> bool {
    column_ink(ink, x) <= (ink.len() / 12).max(1)
}

/// How many rows of a crop's ink hold ink in column `x`.
fn column_ink(ink: &[Vec<bool>], x: i32) -> usize {
    ink.iter().filter(|r| r[x as usize]).count()
}

/// A copy of `l` whose box goes on `by` text heights past the end of its text (the
/// side its reading ends on), within the page.
fn grown_at_end(l: &Line, by: f32, page_w: f32, page_h: f32) -> Line {
    let b = l.bbox;
    let (x0, y0, x1, y1) = (b[0], b[1], b[0] + b[2], b[1] + b[3]);
    let g = by * b[2].min(b[3]);
    let (x0, y0, x1, y1) = match l.turn {
        1 => (x0, (y0 - g).max(0.0), x1, y1),
        -1 => (x0, y0, x1, (y1 + g).min(page_h)),
        _ => (x0, y0, (x1 + g).min(page_w), y1),
    };
    let bbox = [x0, y0, x1 - x0, y1 - y0];
    Line {
        polygon: layout::polygon_of(&bbox),
        bbox,
        ..l.clone()
    }
}

/// A stacked tolerance whose zero deviation the OCR read as the nominal's last
/// digit: `155` with `0` over `-0,016` read `1550` (or `155°`) and `-0,016`, the
/// deviation's box starting inside the nominal's. Where a plain number ends in `0`
/// or `°` and a signed deviation, smaller than it, starts past its middle and
/// before its end less a quarter of its height, and lies above or below its centre
/// (by a tenth of its height or more), the two boxes are read again as one, the
/// way [`stacked_partners`] reads a stack: the columns after the number must hold
/// exactly two bands of ink, and the number read alone must give the number without
/// that character, one band the deviation read before and the other a zero (each at
/// confidence ≥ 0.8). Then the pair becomes one line, `155 0 -0,016`, at the least of
/// the three confidences, with both first readings in `replaced`.
pub(super) fn swallowed_zeros(
    engine: &OcrEngine,
    p: &ocr::Params,
    img: &Mat,
    lines: &mut Vec<Line>,
) -> Result<(), StageError> {
    // (nominal, deviation, number, the joined line); three crops each: the two
    // bands, upper first, then the number.
    let mut found: Vec<(usize, usize, String, Line)> = Vec::new();
    let mut crops: Vec<Mat> = Vec::new();
    let mut widths: Vec<usize> = Vec::new();
    let mut taken = vec![false; lines.len()];
    for i in 0..lines.len() {
        let n = &lines[i];
        let t = n.text.trim();
        let number = match t.strip_suffix(['0', '°']) {
            Some(rest) if !n.exact && is_plain_number(rest) && rest.chars().count() >= 2 => {
                rest.trim_end_matches([',', '.']).to_string()
            }
            _ => continue,
        };
        if taken[i] || !is_plain_number(&number) {
            continue;
        }
        let (nu0, nu1, nv0, nv1) = text_frame(&n.bbox, n.turn);
        let h = nv1 - nv0;
        let partner = (0..lines.len()).find(|&j| {
            let d = &lines[j];
            if j == i || taken[j] || d.exact || !is_deviation(d.text.trim()) {
                return false;
            }
            let dt = d.text.trim();
            if is_zero(dt) {
                return false;
            }
            let (du0, _, dv0, dv1) = text_frame(&d.bbox, n.turn);
            let off = ((dv0 + dv1) - (nv0 + nv1)) / 2.0;
            du0 > (nu0 + nu1) / 2.0
                && du0 < nu1 - 0.25 * h
                && dv1 - dv0 < h
                && off.abs() >= 0.1 * h
                && dv0 >= nv0 - 1.2 * h
                && dv1 <= nv1 + 1.2 * h
        });
        let Some(j) = partner else {
            continue;
        };
        let bb = union(&n.bbox, &lines[j].bbox);
        let joined = Line {
            text: format!("{number} {}", lines[j].text.trim()),
            confidence: n.confidence,
            polygon: layout::polygon_of(&bb),
            bbox: bb,
            turn: n.turn,
            exact: false,
            replaced: Some(format!("{} {}", n.text.trim(), lines[j].text.trim())),
        };
        let crop = upright_crop(img, &joined)?;
        let (w, ch) = (crop.cols(), crop.rows());
        if w < 8 || ch < 8 {
            continue;
        }
        // Where the number ends in the joined crop: its share of the nominal's box.
        let (ju0, ju1, _, _) = text_frame(&bb, n.turn);
        let end = nu0 + (nu1 - nu0) * number_share(&number, t) - ju0;
        let dark = ink(&crop)?;
        let u0 = deviation_start(&dark, w as f32 * end / (ju1 - ju0).max(1.0));
        let Some(bands) = ink_bands(&dark, u0) else {
            continue;
        };
        let pieces = stack_pieces(&crop, &dark, u0, bands)?;
        widths.extend(ocr::paddle_widths(p, &pieces));
        crops.extend(pieces);
        taken[i] = true;
        taken[j] = true;
        found.push((i, j, number, joined));
    }
    if found.is_empty() {
        return Ok(());
    }
    let refs: Vec<&Mat> = crops.iter().collect();
    let mut tm = ocr::Timings::default();
    let read = engine.recognise_at(p.infer_batch(), &refs, &widths, &mut tm)?;
    let mut gone = vec![false; lines.len()];
    let mut add = Vec::new();
    for ((i, j, number, mut joined), pieces) in found.into_iter().zip(read.chunks_exact(3)) {
        let [upper, lower, again] = pieces else {
            continue;
        };
        let dev = unspaced(&lines[j].text);
        let (u, l) = (upper.0.trim(), lower.0.trim());
        let fits = (is_zero(u) && unspaced(l) == dev) || (is_zero(l) && unspaced(u) == dev);
        let sure = [upper, lower, again].iter().all(|r| r.1 >= 0.8);
        if sure && fits && unspaced(&again.0) == unspaced(&number) {
            joined.text = format!("{number} {u} {l}");
            joined.confidence = upper.1.min(lower.1).min(again.1);
            gone[i] = true;
            gone[j] = true;
            add.push(joined);
        }
    }
    replace_lines(lines, &gone, add);
    Ok(())
}

/// A stack's three crops, cut from an upright crop of its line: each band of ink
/// from column `u0` to its last inked column, upper first, with a quarter of its
/// height around it (after it too), then the number before `u0`. `dark`: the
/// crop's ink ([`ink`]).
fn stack_pieces(
    crop: &Mat,
    dark: &[Vec<bool>],
    u0: i32,
    bands: Bands,
) -> Result<Vec<Mat>, StageError> {
    let (w, h) = (crop.cols(), crop.rows());
    let cut = |r: Rect| -> Result<Mat, StageError> {
        Mat::roi(crop, r).map_err(cv)?.try_clone().map_err(cv)
    };
    let mut pieces = Vec::with_capacity(3);
    for (r0, r1) in bands {
        let pad = ((r1 - r0) / 4).max(2);
        let (y0, y1) = ((r0 - pad).max(0), (r1 + pad).min(h));
        // The band's own columns: a lone `0` over a long deviation is read in a
        // crop of its size, not one of the longer band's.
        let inked = |x: i32| dark[r0 as usize..r1 as usize].iter().any(|r| r[x as usize]);
        let x1 = (u0..w)
            .rev()
            .find(|&x| inked(x))
            .map_or(w, |x| (x + 1 + pad).min(w));
        pieces.push(cut(Rect::new(u0, y0, (x1 - u0).max(1), y1 - y0))?);
    }
    pieces.push(cut(Rect::new(0, 0, u0.max(1), h))?);
    Ok(pieces)
}

/// A stacked deviation read on its own: a tolerance with its sign, or a zero
/// (`+0.02`, `-0,013`, `0`); `0.02` has lost its sign.
fn is_deviation(t: &str) -> bool {
    is_tolerance(t) && (t.starts_with(SIGNS) || is_zero(t))
}

/// The number a line's reading starts with, where what follows it, after a space
/// or a sign, holds a digit but is no tolerance, or only one deviation without its
/// sign: a stacked tolerance read as one row, its two deviations run together past
/// what [`split_nominal`] takes (`070 0.013` for `Ø70` with `0` over `-0.013`).
fn number_then_unread(s: &str) -> Option<String> {
    let t = s.trim();
    let k = t
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c.is_whitespace() || SIGNS.contains(&c))
        .map(|(k, _)| k)?;
    let (n, rest) = (t[..k].trim(), t[k..].trim());
    let digits = rest.chars().any(|c| c.is_ascii_digit());
    // One deviation without its sign (`0.013` of `0` over `-0.013`) is no tolerance
    // either: a lone deviation is signed.
    let lone_unsigned = is_tolerance(rest) && !rest.starts_with(SIGNS) && !is_zero(rest);
    (is_plain_number(n) && digits && (!is_tolerance(rest) || lone_unsigned)).then(|| n.to_string())
}

/// The crop's dark pixels (Otsu), as rows of booleans.
fn ink(crop: &Mat) -> Result<Vec<Vec<bool>>, StageError> {
    let bin = otsu_ink(crop)?;
    (0..bin.rows())
        .map(|y| {
            Ok(bin
                .at_row::<u8>(y)
                .map_err(cv)?
                .iter()
                .map(|&v| v > 0)
                .collect())
        })
        .collect()
}

/// Where the number ends and the stacked deviations begin: the end of the widest
/// run of blank columns between 0.3 text heights before the estimate and 0.6 after
/// it (the gap inside a number, as at its decimal comma, is narrower).
fn deviation_start(ink: &[Vec<bool>], estimate: f32) -> i32 {
    let (w, h) = (ink[0].len() as i32, ink.len() as f32);
    let lo = ((estimate - 0.3 * h) as i32).clamp(1, w - 1);
    let hi = ((estimate + 0.6 * h) as i32).clamp(lo, w - 1);
    let (mut best, mut run) = ((0, lo), 0);
    for x in lo..=hi {
        run = if is_blank(ink, x) { run + 1 } else { 0 };
        if run > best.0 {
            best = (run, x + 1);
        }
    }
    best.1.min(w - 1)
}

/// The two bands of ink, top to bottom as `(first row, end row)`, in the columns of
/// an upright crop from `u0` on; `None` unless there are exactly two at least a
/// sixth of the crop's height each (thinner ones, a dimension line or specks, are
/// passed over), with a row between them. A row holds ink where at least 2 % of
/// its columns (2 pixels at least) do.
fn ink_bands(ink: &[Vec<bool>], u0: i32) -> Option<Bands> {
    let h = ink.len() as i32;
    let cols = ink[0].len().saturating_sub(u0 as usize);
    let least = (cols / 50).max(2);
    let mut bands = runs(
        ink.iter()
            .map(|r| r[u0 as usize..].iter().filter(|&&b| b).count() >= least),
    );
    bands.retain(|b| (b.1 - b.0) * 6 >= h);
    match bands[..] {
        [a, b] => Some([a, b]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crop drawn as text: `#` ink, anything else blank.
    fn grid(rows: &[&str]) -> Vec<Vec<bool>> {
        rows.iter()
            .map(|r| r.chars().map(|c| c == '#').collect())
            .collect()
    }

    #[test]
    fn a_stack_read_as_one_row_is_told_from_two_numbers() {
        assert!(reads_as_stack("60 0.013"));
        assert!(reads_as_stack("8 +0.018 0"));
        assert!(!reads_as_stack("54 45 +"));
        assert!(!reads_as_stack("54 45"));
        assert!(!reads_as_stack("60"));
        assert!(!reads_as_stack("60 0.013 0 0"));
    }

    #[test]
    fn unsigned_bands_take_the_signs_of_the_lines_own_reading() {
        // (line, bands as read, bands wanted): a zero or a signed band stays as
        // read; digits that disagree, or not two words after the number, leave both.
        let cases = [
            ("7.5 -0. -0.02", ["0.007", "0.02"], ["-0.007", "-0.02"]),
            ("42.5 +0.3 0", ["0.3", "0"], ["+0.3", "0"]),
            ("20 +0.1 -0.2", ["+0.1", "0.2"], ["+0.1", "-0.2"]),
            ("7.5 -0.1 -0.02", ["0.007", "0.02"], ["0.007", "0.02"]),
            ("7.5 -0.007", ["0.007", "0.02"], ["0.007", "0.02"]),
            ("7.5 0.007 0.02", ["0.007", "0.02"], ["0.007", "0.02"]),
        ];
        for (line, [upper, lower], [up, down]) in cases {
            let number = line.split(' ').next().unwrap();
            let got = signed_bands(line, number, upper, lower);
            assert_eq!(got, (up.to_string(), down.to_string()), "{line}");
        }
    }

    #[test]
    fn stacked_lines_part_into_bands_and_a_turned_decimal_point_is_left_out() {
        // Two lines of text one over the other: two bands, each with its own extent.
        let two = grid(&[
            ".##.##..", ".##.##..", "........", "..#.###.", "..#.###.", "..#.###.",
        ]);
        assert_eq!(row_bands(&two), vec![(0, 1, 1, 5), (3, 5, 2, 6)]);
        // `6.5` turned: glyph, point, glyph; the point's band is under a third of the
        // tallest and left out, so what remains is one glyph per band.
        let turned = grid(&[
            ".####.", ".####.", ".####.", ".####.", "......", "..#...", "......", ".####.",
            ".####.", ".####.", ".####.",
        ]);
        assert_eq!(row_bands(&turned), vec![(0, 3, 1, 4), (7, 10, 1, 4)]);
        // Ink through every row (a leader line crossing the box): one band.
        let crossed = grid(&["#.##", "#...", "#.##"]);
        assert_eq!(row_bands(&crossed).len(), 1);
    }

    #[test]
    fn a_number_cut_by_a_line_is_joined_only_when_the_reading_shows_the_cut() {
        assert!(is_cut_number(".50") && is_cut_number("15.") && is_cut_number(",5"));
        assert!(!is_cut_number("50") && !is_cut_number("2.50") && !is_cut_number("."));
        // The separator the line hid shows again.
        assert!(joins_pieces("2.50", &["2", "50"]));
        // A piece read with its separator: the same glyphs, one number now.
        assert!(joins_pieces("2.25", &[".25", "2"]));
        assert!(joins_pieces("15.50", &["15.", "50"]));
        // Two numbers side by side read as one: nothing was hidden.
        assert!(!joins_pieces("85", &["8", "5"]));
        assert!(!joins_pieces("550", &["5", "50"]));
        // A dimension cut at its last separator (`10±0.` and `3`, the point set
        // apart) joins when the reading goes on past the cut piece.
        assert!(is_cut_dimension("10±0.") && is_cut_dimension("Ø12,"));
        assert!(!is_cut_dimension("15.") && !is_cut_dimension("10±0.3"));
        assert!(joins_pieces("10±0.3", &["3", "10±0."]));
        assert!(!joins_pieces("10±0.", &["3", "10±0."]));
        assert!(!joins_pieces("3 10±0.", &["3", "10±0."]));
        // A reading that loses a piece's digits, or keeps the gap, is not the number.
        assert!(!joins_pieces("2.2", &[".25", "2"]));
        assert!(!joins_pieces("2 .25", &[".25", "2"]));
        assert!(!joins_pieces("7.5.0", &[".50", "7"]));
    }

    #[test]
    fn a_short_number_grows_along_its_text_only() {
        // A lone glyph may run either way, whatever its box.
        assert_eq!(text_axes("8", &[0.0, 0.0, 35.0, 50.0]).len(), 2);
        assert_eq!(text_axes("0", &[0.0, 0.0, 166.0, 69.0]).len(), 2);
        // Two glyphs make the box longest along their text.
        assert!(matches!(
            text_axes("50", &[0.0, 0.0, 40.0, 80.0])[..],
            [Axis::Column]
        ));
        assert!(matches!(
            text_axes("50", &[0.0, 0.0, 80.0, 40.0])[..],
            [Axis::Row]
        ));
        // Within a tenth of square: either way.
        assert_eq!(text_axes("50", &[0.0, 0.0, 69.0, 72.0]).len(), 2);
        // Grown along a column by 10 at both ends: the two added ends.
        let ends = added_ends(&[10.0, 20.0, 30.0, 40.0], &[10.0, 10.0, 30.0, 60.0]);
        assert_eq!(ends, [[10.0, 10.0, 30.0, 10.0], [10.0, 60.0, 30.0, 10.0]]);
        // At the page's edge nothing was added there.
        assert_eq!(
            added_ends(&[0.0, 0.0, 30.0, 40.0], &[0.0, 0.0, 60.0, 40.0]).len(),
            1
        );
    }

    #[test]
    fn two_stacked_bands_after_the_number() {
        // A tall number, a wide gap, then two deviations one above the other, a
        // dimension line along the top.
        let crop = grid(&[
            "##############################",
            "..............................",
            "##.#..........###.###.........",
            "##.#..........###.###.........",
            "##.#..........................",
            "##.#..........................",
            "##.#.........####.###.###.....",
            "##.#.........####.###.###.....",
        ]);
        let u0 = deviation_start(&crop, 8.0);
        assert_eq!(
            u0, 13,
            "the end of the widest blank run, not the gap in the number"
        );
        // The dimension line is one row: too thin for a band.
        assert_eq!(ink_bands(&crop, u0), Some([(2, 4), (6, 8)]));
        // One band (a deviation alone), or three: none.
        let one = grid(&["....####", "....####", "....####", "....####"]);
        assert_eq!(ink_bands(&one, 2), None);
        let three = grid(&["..##", "....", "..##", "....", "..##", "...."]);
        assert_eq!(ink_bands(&three, 1), None);
    }

    /// The deviations' glyphs are smaller and share columns, so a share of the
    /// characters ends inside the number: the stack starts at the first gap after
    /// which two bands show. Ink at the crop's end says the crop cuts the stack.
    #[test]
    fn a_stack_is_found_after_the_number_when_the_estimate_falls_short() {
        let crop = grid(&[
            "##.##.##..###.###.###...",
            "##.##.##..###.###.###...",
            "##.##.##..###.###.###...",
            "##.##.##................",
            "##.##.##................",
            "##.##.##..###.###.###...",
            "##.##.##..###.###.###...",
            "##.##.##..###.###.###...",
        ]);
        assert_eq!(deviation_start(&crop, 3.0), 3, "a gap in the number");
        let stack = |cut| Stack {
            start: 10,
            bands: [(0, 3), (5, 8)],
            cut,
        };
        assert_eq!(stack_start(&crop, 3.0), Some(stack(false)));
        let cut: Vec<Vec<bool>> = crop.iter().map(|r| r[..20].to_vec()).collect();
        assert_eq!(stack_start(&cut, 3.0), Some(stack(true)));
        // Glyphs of the number's height all along: no stack.
        let plain = grid(&["##.##.##..##.##", "##.##.##..##.##", "##.##.##..##.##"]);
        assert_eq!(stack_start(&plain, 3.0), None);
    }

    #[test]
    fn the_grammar_picks_the_way_a_turned_line_reads() {
        let r = |t: &str, c: f32| (t.to_string(), c);
        let pick = |up: (String, f32), down: (String, f32)| {
            let (best, turn) = choose_turn(&up, &down);
            (best.0.clone(), turn)
        };
        // Only one way is a dimension: that one, even when less sure.
        assert_eq!(pick(r("8Ø", 0.99), r("Ø8", 0.9)), ("Ø8".to_string(), -1));
        assert_eq!(
            pick(r("±0.02", 0.8), r("20.0∓", 0.95)),
            ("±0.02".to_string(), 1)
        );
        // Both or neither, a lone character, or a guess under 0.5: the surer one.
        assert_eq!(pick(r("16", 0.9), r("91", 0.95)), ("91".to_string(), -1));
        assert_eq!(pick(r("6", 0.99), r("o", 0.9)), ("6".to_string(), 1));
        assert_eq!(pick(r("o", 0.99), r("6", 0.9)), ("o".to_string(), 1));
        assert_eq!(pick(r("8H", 0.99), r("Ø8", 0.4)), ("8H".to_string(), 1));
    }
}
