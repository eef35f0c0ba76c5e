//! Zone labels of a zoned drawing frame, found from the text itself: a strip of
//! single letters or numbers along a page edge, in sequence and evenly spaced
//! (`1 2 3 … 8` left to right, `A B C … F` top to bottom, either direction). They
//! are grid references, never dimensions. The layout's frame already drops them when
//! it finds the inner frame line; this catches them when it does not (a frame drawn
//! thin, broken, or not at all).
//!
//! A strip is three or more labels whose centres line up along one axis (within
//! half a label height), whose values grow or shrink steadily with position (the
//! step per value within 35 % of the median: a missed label leaves a gap of two
//! steps, not a break), and which lie near a page edge (the outer 15 % of the
//! page). Other one- or two-character texts inside a found strip's band are labels
//! misread (`0` for `D`) and go too. Nothing here depends on a drawing's size,
//! sheet format or coordinates beyond the edge band.

/// The value of a label: `1`…`99`, `A`…`Z` (case-insensitive; `I` and `O` are often
/// skipped by standards, which a gap tolerates).
fn label_value(text: &str) -> Option<i32> {
    let t = text.trim();
    let mut chars = t.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some(c), None, _) if c.is_ascii_alphabetic() => {
            Some(c.to_ascii_uppercase() as i32 - 'A' as i32 + 1)
        }
        (Some(c), None, _) if c.is_ascii_digit() => c.to_digit(10).map(|d| d as i32),
        (Some(a), Some(b), None) if a.is_ascii_digit() && b.is_ascii_digit() && a != '0' => {
            t.parse().ok()
        }
        _ => None,
    }
}

/// A letter label (`A`…`Z`) rather than a number: the two make separate strips.
fn is_letter_label(text: &str) -> bool {
    text.trim().chars().all(|c| c.is_ascii_alphabetic())
}

/// Short texts (one or two characters) that a strip's band may also hold.
fn is_short(text: &str) -> bool {
    let n = text.trim().chars().count();
    (1..=2).contains(&n)
}

/// Which of `items` (text, bbox `[x, y, w, h]` in page pixels) are zone labels, on a
/// page `width` × `height`.
pub fn zone_labels(items: &[(&str, [f32; 4])], width: f32, height: f32) -> Vec<bool> {
    let mut zone = vec![false; items.len()];
    let candidates: Vec<(usize, i32)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, (t, _))| label_value(t).map(|v| (i, v)))
        .collect();
    // Horizontal strips (top, bottom): aligned in y, ordered in x; vertical strips
    // (left, right): aligned in x, ordered in y.
    for horizontal in [true, false] {
        let (along, across, span) = if horizontal {
            (0usize, 1usize, height)
        } else {
            (1, 0, width)
        };
        let centre = |b: &[f32; 4], axis: usize| b[axis] + b[axis + 2] / 2.0;
        let near_edge = |c: f32| c < 0.15 * span || c > 0.85 * span;
        let mut pool: Vec<(usize, i32)> = candidates
            .iter()
            .copied()
            .filter(|(i, _)| near_edge(centre(&items[*i].1, across)))
            .collect();
        pool.sort_by(|a, b| {
            centre(&items[a.0].1, across).total_cmp(&centre(&items[b.0].1, across))
        });
        // Rows: runs of candidates whose cross-axis centres lie within half a label
        // height of the run's first.
        let mut start = 0;
        while start < pool.len() {
            let first = &items[pool[start].0].1;
            let tol = 0.5 * first[3].max(1.0);
            let c0 = centre(first, across);
            let mut end = start + 1;
            while end < pool.len() && centre(&items[pool[end].0].1, across) - c0 <= tol {
                end += 1;
            }
            let mut row: Vec<(usize, i32)> = pool[start..end].to_vec();
            start = end;
            row.sort_by(|a, b| {
                centre(&items[a.0].1, along).total_cmp(&centre(&items[b.0].1, along))
            });
            // Letters and numbers make separate strips.
            for letters in [false, true] {
                let strip: Vec<(usize, i32)> = row
                    .iter()
                    .copied()
                    .filter(|(i, _)| is_letter_label(items[*i].0) == letters)
                    .collect();
                if let Some(found) = sequence(&strip, |i| centre(&items[i].1, along)) {
                    mark_band(items, &found, horizontal, &mut zone);
                    mark_opposite(items, &strip, &pool, horizontal, span, &mut zone);
                }
            }
        }
    }
    zone
}

/// The labels of `strip` (sorted by position) that form one steady sequence: values
/// strictly monotone along the strip, the distance per value step within 35 % of the
/// median. `None` when fewer than three do.
fn sequence(strip: &[(usize, i32)], pos: impl Fn(usize) -> f32) -> Option<Vec<usize>> {
    if strip.len() < 3 {
        return None;
    }
    // Distinct values only (a duplicated value is not a grid reference).
    let mut values: Vec<i32> = strip.iter().map(|(_, v)| *v).collect();
    values.sort_unstable();
    values.dedup();
    if values.len() != strip.len() {
        return None;
    }
    let steps: Vec<f32> = strip
        .windows(2)
        .map(|w| (pos(w[1].0) - pos(w[0].0)) / (w[1].1 - w[0].1) as f32)
        .collect();
    // Monotone: every step has the same sign.
    if !(steps.iter().all(|s| *s > 0.0) || steps.iter().all(|s| *s < 0.0)) {
        return None;
    }
    let mut sorted: Vec<f32> = steps.iter().map(|s| s.abs()).collect();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2];
    if median <= 0.0
        || steps
            .iter()
            .any(|s| (s.abs() - median).abs() > 0.35 * median)
    {
        return None;
    }
    Some(strip.iter().map(|(i, _)| *i).collect())
}

/// Marks the strip's labels, and every other short text inside the strip's band
/// (across: the labels' extent grown by half a label height; along: one step beyond
/// the outer labels), as zone labels.
fn mark_band(items: &[(&str, [f32; 4])], strip: &[usize], horizontal: bool, zone: &mut [bool]) {
    let (along, across) = if horizontal { (0, 1) } else { (1, 0) };
    let lo = |i: usize, axis: usize| items[i].1[axis];
    let hi = |i: usize, axis: usize| items[i].1[axis] + items[i].1[axis + 2];
    let size = strip.iter().map(|&i| items[i].1[3]).fold(0.0f32, f32::max);
    let a0 = strip
        .iter()
        .map(|&i| lo(i, across))
        .fold(f32::MAX, f32::min)
        - size / 2.0;
    let a1 = strip
        .iter()
        .map(|&i| hi(i, across))
        .fold(f32::MIN, f32::max)
        + size / 2.0;
    let first = strip.iter().map(|&i| lo(i, along)).fold(f32::MAX, f32::min);
    let last = strip.iter().map(|&i| hi(i, along)).fold(f32::MIN, f32::max);
    let step = (last - first) / (strip.len() - 1) as f32;
    let (l0, l1) = (first - step, last + step);
    for &i in strip {
        zone[i] = true;
    }
    for (i, (text, b)) in items.iter().enumerate() {
        let (ca, cl) = (
            b[across] + b[across + 2] / 2.0,
            b[along] + b[along + 2] / 2.0,
        );
        if is_short(text) && ca >= a0 && ca <= a1 && cl >= l0 && cl <= l1 {
            zone[i] = true;
        }
    }
}

/// Labels on the edge opposite a found `strip`: a frame repeats its zone labels there at
/// the same positions, where a title block or a parts list may leave too few of them
/// uncovered to make a strip of their own. A candidate in `pool` (near an edge, the
/// same axis) is one when it lies within 35 % of a zone's width, along the edge, of
/// where the strip puts its value: the strip's label of that value, or for a value the
/// strip lacks (a label OCR missed, one zone beyond either end at most) the place its
/// steady step gives.
fn mark_opposite(
    items: &[(&str, [f32; 4])],
    strip: &[(usize, i32)],
    pool: &[(usize, i32)],
    horizontal: bool,
    span: f32,
    zone: &mut [bool],
) {
    let (along, across) = if horizontal { (0, 1) } else { (1, 0) };
    let centre = |i: usize, axis: usize| items[i].1[axis] + items[i].1[axis + 2] / 2.0;
    let letters = |i: usize| is_letter_label(items[i].0);
    let (Some(&(a, va)), Some(&(b, vb))) = (strip.first(), strip.last()) else {
        return;
    };
    if va == vb {
        return;
    }
    let signed = (centre(b, along) - centre(a, along)) / (vb - va) as f32;
    let step = signed.abs();
    let low_side = centre(a, across) < span / 2.0;
    let (lo, hi) = (va.min(vb) - 1, va.max(vb) + 1);
    for &(j, v) in pool {
        if zone[j] || letters(j) != letters(a) || (centre(j, across) < span / 2.0) == low_side {
            continue;
        }
        let at = match strip.iter().find(|&&(_, vi)| vi == v) {
            Some(&(i, _)) => centre(i, along),
            None if (lo..=hi).contains(&v) => centre(a, along) + (v - va) as f32 * signed,
            None => continue,
        };
        if (centre(j, along) - at).abs() <= 0.35 * step {
            zone[j] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A label 20 × 30 pixels centred at (`x`, `y`).
    fn at(text: &'static str, x: f32, y: f32) -> (&'static str, [f32; 4]) {
        (text, [x - 10.0, y - 15.0, 20.0, 30.0])
    }

    #[test]
    fn finds_strips_in_sequence_along_the_edges() {
        let (w, h) = (3000.0, 2000.0);
        let mut items = vec![];
        // Top strip 1…6 left to right, one label (4) missed by OCR.
        for t in ["1", "2", "3", "5", "6"] {
            let v: f32 = t.parse().unwrap();
            items.push(at(t, 250.0 + (v - 1.0) * 500.0, 30.0));
        }
        // Right strip A…D top to bottom, and a misread "0" for a D-like letter in it.
        for (k, t) in ["A", "B", "C"].into_iter().enumerate() {
            items.push(at(t, 2970.0, 250.0 + k as f32 * 500.0));
        }
        items.push(at("0", 2970.0, 1750.0));
        // Dimensions: a lone "8" near the top edge, a row of 3 equal values, numbers
        // inside the drawing.
        items.push(at("8", 1200.0, 120.0));
        items.push(at("5", 600.0, 1000.0));
        items.push(at("6", 1100.0, 1000.0));
        items.push(at("7", 1600.0, 1000.0));
        items.push(at("25", 1500.0, 1900.0));
        items.push(at("25", 1700.0, 1900.0));
        items.push(at("25", 1900.0, 1900.0));
        let got = zone_labels(&items, w, h);
        let zone: Vec<&str> = items
            .iter()
            .zip(&got)
            .filter(|(_, z)| **z)
            .map(|(i, _)| i.0)
            .collect();
        assert_eq!(zone, ["1", "2", "3", "5", "6", "A", "B", "C", "0"]);
    }

    #[test]
    fn labels_repeated_on_the_opposite_edge_are_zone_labels() {
        let (w, h) = (3000.0, 2000.0);
        let mut items: Vec<_> = ["1", "2", "3", "4", "5", "6"]
            .into_iter()
            .enumerate()
            .map(|(k, t)| at(t, 250.0 + k as f32 * 500.0, 30.0))
            .collect();
        // The bottom edge: the title block hides all but `1` and `2`, at the top
        // labels' positions; a `3` there elsewhere and a `7` are dimensions.
        items.push(at("1", 255.0, 1970.0));
        items.push(at("2", 745.0, 1970.0));
        items.push(at("3", 700.0, 1900.0));
        items.push(at("7", 1250.0, 1970.0));
        let got = zone_labels(&items, w, h);
        assert_eq!(&got[6..], [true, true, false, false]);
        // Without the strip at the top, the two bottom labels are not enough.
        assert!(zone_labels(&items[6..8], w, h).iter().all(|z| !z));
        // A top strip that lacks `1` (OCR missed it) still puts it one step before
        // its `2`; a `1` far from there, or an `8` two steps beyond `6`, is no label.
        let mut missed: Vec<_> = items[1..6].to_vec();
        missed.push(at("1", 260.0, 1970.0));
        missed.push(at("1", 520.0, 1970.0));
        missed.push(at("8", 3750.0, 1970.0));
        let got = zone_labels(&missed, 4000.0, h);
        assert_eq!(&got[5..], [true, false, false]);
    }

    #[test]
    fn uneven_or_unordered_rows_are_not_strips() {
        let (w, h) = (3000.0, 2000.0);
        // Near the bottom edge, but out of order: dimension values along a chain.
        let unordered = [
            at("3", 300.0, 1950.0),
            at("1", 800.0, 1950.0),
            at("2", 1300.0, 1950.0),
        ];
        assert!(zone_labels(&unordered, w, h).iter().all(|z| !z));
        // In order but unevenly spaced.
        let uneven = [
            at("1", 300.0, 1950.0),
            at("2", 400.0, 1950.0),
            at("3", 1400.0, 1950.0),
        ];
        assert!(zone_labels(&uneven, w, h).iter().all(|z| !z));
        // Two labels are not enough.
        let two = [at("1", 300.0, 1950.0), at("2", 800.0, 1950.0)];
        assert!(zone_labels(&two, w, h).iter().all(|z| !z));
        // A 10-zone strip with two-digit labels, right to left.
        let long: Vec<_> = ["12", "11", "10", "9"]
            .into_iter()
            .enumerate()
            .map(|(k, t)| at(t, 300.0 + k as f32 * 250.0, 1970.0))
            .collect();
        assert!(zone_labels(&long, w, h).iter().all(|z| *z));
    }
}
