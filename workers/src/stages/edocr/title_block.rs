//! The title block: labels ([`super::parse::title_block_key`]) and the values next to
//! or below them.

use super::layout::{Region, RegionKind};
use super::tables::{Table, TableKind};
use super::{contains_centre, parse, Line};

/// A line's label and the rest of it: its leading words as a title-block key
/// (`MATERIAL 1.4301`), or a one-word label glued to its value by a colon
/// (`SCALE:2:1`).
fn labelled(s: &str) -> Option<(&'static str, String)> {
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
}

/// A title block found from its labels where the page's rules gave none (a scan
/// whose table lines are broken, a block drawn without a closed outline): lines that
/// are, or start with, a title-block label (`TITLE`, `DRAWN`, `SCALE 1:1`,
/// `WEIGHT`, `BENENNUNG`, …), grouped where each lies within twelve times their
/// median height of another; the group with the most different labels, three at
/// the least, whose centre lies in the lower half of the page. The block is the box
/// around its labels grown by one and a half label heights on every side, so that
/// values written under or beside a label are in it.
pub(super) fn from_labels(lines: &[Line], page_height: f32, page: u32) -> Option<Region> {
    let labels: Vec<(&'static str, [f32; 4])> = lines
        .iter()
        .filter_map(|l| labelled(&l.text).map(|(k, _)| (k, l.bbox)))
        .collect();
    if labels.len() < 3 {
        return None;
    }
    let mut heights: Vec<f32> = labels.iter().map(|(_, b)| b[2].min(b[3])).collect();
    heights.sort_by(f32::total_cmp);
    let h = heights[heights.len() / 2];
    let near = |a: &[f32; 4], b: &[f32; 4]| {
        let gap_x = (a[0].max(b[0]) - (a[0] + a[2]).min(b[0] + b[2])).max(0.0);
        let gap_y = (a[1].max(b[1]) - (a[1] + a[3]).min(b[1] + b[3])).max(0.0);
        gap_x <= 12.0 * h && gap_y <= 12.0 * h
    };
    // Single linkage: each label's group, by union-find over near pairs.
    let mut group: Vec<usize> = (0..labels.len()).collect();
    let root = crate::geometry::root;
    for i in 0..labels.len() {
        for j in i + 1..labels.len() {
            if near(&labels[i].1, &labels[j].1) {
                let (a, b) = (root(&mut group, i), root(&mut group, j));
                group[a] = b;
            }
        }
    }
    let mut best: Option<(usize, [f32; 4])> = None;
    for r in 0..labels.len() {
        let members: Vec<usize> = (0..labels.len())
            .filter(|&i| root(&mut group, i) == r)
            .collect();
        let mut keys: Vec<&str> = members.iter().map(|&i| labels[i].0).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.len() < 3 || best.is_some_and(|(n, _)| n >= keys.len()) {
            continue;
        }
        let hull = members
            .iter()
            .map(|&i| labels[i].1)
            .reduce(|a, b| super::merge::union(&a, &b))
            .unwrap_or_default();
        if hull[1] + hull[3] / 2.0 > page_height / 2.0 {
            best = Some((keys.len(), hull));
        }
    }
    let (_, b) = best?;
    let g = 1.5 * h;
    Some(Region::over(
        RegionKind::TitleBlock,
        [b[0] - g, b[1] - g, b[2] + 2.0 * g, b[3] + 2.0 * g],
        page,
    ))
}

/// The material where the title block states none: the one material of a parts
/// list's material column (all its rows the same), else a note in the drawing area
/// that starts with a material label (`MATERIAL: EN AW-6082`). None where parts differ
/// in material or nothing names one.
pub(super) fn material_elsewhere(tables: &[Table], lines: &[Line]) -> Option<String> {
    for t in tables.iter().filter(|t| t.kind == TableKind::PartsList) {
        let Some(c) = t
            .header
            .iter()
            .position(|h| parse::title_block_key(h) == Some("material"))
        else {
            continue;
        };
        let mut found: Vec<&str> = t
            .rows
            .iter()
            .filter_map(|r| r.get(c).map(|v| v.trim()))
            .filter(|v| !v.is_empty())
            .collect();
        found.dedup();
        if let [one] = found[..] {
            return Some(parse::material_reading(one));
        }
    }
    lines.iter().find_map(|l| match labelled(&l.text) {
        Some(("material", rest)) if rest.chars().any(char::is_alphanumeric) => {
            Some(parse::material_reading(rest.trim_start_matches(':').trim()))
        }
        _ => None,
    })
}

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
    let cell_of = |b: &[f32; 4]| t.cells.iter().position(|c| contains_centre(c, b));
    // A value: not a label, known or not (`LINEAR:` under `TOLERANCES:`).
    let is_value = |o: &Line| labelled(&o.text).is_none() && !o.text.trim_end().ends_with(':');
    for l in &inside {
        let Some((key, rest)) = labelled(&l.text) else {
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
            let beside = || {
                // A label alone in its cell: the value fills the cell to its right
                // (`SCALE | 1:1`) or the one below, where only one of them holds one.
                let c = t.cells.get(cell?)?;
                let tol = 0.5 * l.bbox[3].min(l.bbox[2]);
                let right = t.cells.iter().position(|o| {
                    (o[0] - (c[0] + c[2])).abs() <= tol
                        && o[1] <= l.bbox[1] + l.bbox[3] / 2.0
                        && o[1] + o[3] >= l.bbox[1] + l.bbox[3] / 2.0
                });
                let below = t.cells.iter().position(|o| {
                    (o[1] - (c[1] + c[3])).abs() <= tol
                        && o[0] <= l.bbox[0] + l.bbox[2] / 2.0
                        && o[0] + o[2] >= l.bbox[0] + l.bbox[2] / 2.0
                });
                let value_in = |k: Option<usize>| {
                    let k = k?;
                    let mut held: Vec<&&Line> = inside
                        .iter()
                        .filter(|o| cell_of(&o.bbox) == Some(k))
                        .collect();
                    // A cell holding a label is another field's.
                    if held.is_empty() || held.iter().any(|o| !is_value(o)) {
                        return None;
                    }
                    held.sort_by(|a, b| a.bbox[1].total_cmp(&b.bbox[1]));
                    Some(
                        held.iter()
                            .map(|o| o.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                    )
                };
                // Values on both sides: a row of labels over a row of values, or
                // the reverse; the nearest line below or to the right decides.
                match (value_in(right), value_in(below)) {
                    (Some(v), None) | (None, Some(v)) => Some(v),
                    _ => None,
                }
            };
            if !same.is_empty() {
                Some(
                    same.iter()
                        .map(|o| o.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            } else if let Some(v) = beside() {
                Some(v)
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
        let value = value.map(|v| {
            if key == "material" {
                parse::material_reading(&v)
            } else {
                v
            }
        });
        if let Some(v) = value {
            out.insert(key.to_string(), serde_json::Value::String(v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::edocr::layout;

    fn line(text: &str) -> Line {
        line_at(text, [0.0, 0.0, 100.0, 20.0])
    }

    fn line_at(text: &str, bbox: [f32; 4]) -> Line {
        Line {
            text: text.into(),
            confidence: 1.0,
            polygon: layout::polygon_of(&bbox),
            bbox,
            turn: 0,
            exact: true,
            replaced: None,
        }
    }

    /// Labels of a title block whose rules were not found (a noisy scan): the block
    /// is made from the labels in the lower half, and holds the values under them;
    /// two labels, or labels in the upper half, make none.
    #[test]
    fn a_title_block_is_found_from_its_labels() {
        let h = 2000.0;
        let lines = vec![
            line_at("TITLE", [1800.0, 1600.0, 70.0, 35.0]),
            line_at("DRAWING NO.", [2480.0, 1600.0, 166.0, 31.0]),
            line_at("MATERIAL", [1800.0, 1690.0, 123.0, 39.0]),
            line_at("WEIGHT", [2430.0, 1780.0, 112.0, 39.0]),
            line_at("6.28", [2430.0, 1810.0, 110.0, 60.0]),
            line_at("240", [1350.0, 870.0, 76.0, 48.0]),
            line_at("SCALE", [2150.0, 1690.0, 99.0, 40.0]),
        ];
        let t = from_labels(&lines, h, 0).expect("a title block");
        assert_eq!(t.kind, RegionKind::TitleBlock);
        assert!(t.contains_centre(&lines[4].bbox), "the value under WEIGHT");
        assert!(
            !t.contains_centre(&lines[5].bbox),
            "a dimension in the drawing area"
        );
        // Two labels only.
        assert!(from_labels(&lines[2..6], h, 0).is_none());
        // The same labels in the upper half of the page.
        let high: Vec<Line> = lines
            .iter()
            .map(|l| {
                line_at(
                    &l.text,
                    [l.bbox[0], l.bbox[1] - 1400.0, l.bbox[2], l.bbox[3]],
                )
            })
            .collect();
        assert!(from_labels(&high, h, 0).is_none());
    }

    #[test]
    fn a_label_alone_in_its_cell_takes_the_cell_to_its_right_or_below() {
        // | SCALE | 1:1 | DWG NO | A-17 |   (cells 300 wide, text 20 high: the values
        // | TITLE |  (empty)               lie 15 text heights from their labels)
        // | BRACKET                     |
        let cells = vec![
            [0.0, 0.0, 300.0, 40.0],
            [300.0, 0.0, 300.0, 40.0],
            [600.0, 0.0, 300.0, 40.0],
            [900.0, 0.0, 300.0, 40.0],
            [0.0, 40.0, 1200.0, 40.0],
            [0.0, 80.0, 1200.0, 40.0],
        ];
        let region = Region {
            kind: layout::RegionKind::TitleBlock,
            polygon: layout::polygon_of(&[0.0, 0.0, 1200.0, 120.0]),
            bbox: [0.0, 0.0, 1200.0, 120.0],
            page: 0,
            cells,
        };
        let lines = [
            line_at("SCALE", [10.0, 10.0, 60.0, 20.0]),
            line_at("1:1", [310.0, 10.0, 40.0, 20.0]),
            line_at("DWG NO", [610.0, 10.0, 80.0, 20.0]),
            line_at("A-17", [910.0, 10.0, 50.0, 20.0]),
            line_at("TITLE", [10.0, 50.0, 60.0, 20.0]),
            line_at("BRACKET", [10.0, 90.0, 100.0, 20.0]),
        ];
        let tb = read_title_block(Some(&region), &[], &lines);
        assert_eq!(tb["scale"], "1:1");
        assert_eq!(tb["drawing_number"], "A-17");
        assert_eq!(tb["title"], "BRACKET");
    }

    fn parts(rows: &[&[&str]]) -> Table {
        Table {
            kind: TableKind::PartsList,
            bbox: [0.0; 4],
            page: 0,
            title: None,
            header: ["ITEM", "DESCRIPTION", "MATERIAL", "QTY"]
                .map(String::from)
                .to_vec(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect(),
        }
    }

    #[test]
    fn the_material_of_a_parts_list_or_a_note() {
        let one = parts(&[&["1", "PLATE", "S235JR", "1"], &["2", "RIB", "S235JR", "2"]]);
        assert_eq!(material_elsewhere(&[one], &[]).as_deref(), Some("S235JR"));
        // Parts of different materials: none is the drawing's.
        let two = parts(&[&["1", "PLATE", "S235JR", "1"], &["2", "PIN", "C45", "2"]]);
        assert_eq!(material_elsewhere(std::slice::from_ref(&two), &[]), None);
        let note = [line("BREAK ALL EDGES"), line("MATERIAL: EN AW-6082 T6")];
        assert_eq!(
            material_elsewhere(&[two], &note).as_deref(),
            Some("EN AW-6082 T6")
        );
        assert_eq!(material_elsewhere(&[], &[line("MATERIAL")]), None);
    }
}
