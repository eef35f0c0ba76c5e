//! The title block: labels ([`super::parse::title_block_key`]) and the values next to
//! or below them.

use super::layout::Region;
use super::{contains_centre, parse, Line};

/// Title-block fields: a line whose leading words are a label
/// ([`parse::title_block_key`]) takes the rest of the line, else the other lines in
/// its cell, else the nearest unlabelled line in the cell to its right or below.
pub(super) fn read_title_block(
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
