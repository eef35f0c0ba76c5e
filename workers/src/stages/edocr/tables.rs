//! A table in the drawing area read as a table: its text lines grouped into rows, a
//! header row found by its words (the top row, or the bottom one: an ISO parts list
//! grows upwards from its header), the other rows' lines put in the column whose
//! header they stand under, and the table's kind named by its header's words.
//!
//! A column whose header names a size (a single letter or letter and digit, as a
//! tabulated drawing names its variable dimensions; `X`, `Y LOC`, `DIA`, `SIZE`,
//! `LENGTH`, `Länge`, …) holds dimensions: hole tables and tabulated dimensions. Item
//! numbers, quantities, part numbers, revision entries and everything under other
//! headers are kept in the table, never made dimensions.
//!
//! Only lines read left to right are placed; a table without a header row of words
//! is kept as rows of text, with no columns named.

use serde::{Deserialize, Serialize};

use super::parse;

/// What a table is, by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// Item, quantity, part number, description (a bill of materials).
    PartsList,
    /// Revision, description, date.
    Revision,
    /// Columns of sizes: a hole table or tabulated dimensions.
    Dimensions,
    /// None of the above, or no header found.
    Other,
}

/// One table as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub kind: TableKind,
    /// `[x, y, width, height]`, page pixels.
    pub bbox: [f32; 4],
    pub page: u32,
    /// A row beyond the header, at the table's edge (`HOLE TABLE`, `REVISIONS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The header row's cells, left to right (empty without a header row).
    pub header: Vec<String>,
    /// The other rows, top to bottom: one cell per header column (`""` where the row
    /// has none), or the row's lines left to right without a header.
    pub rows: Vec<Vec<String>>,
}

/// A text line inside the table: its text and box.
#[derive(Debug, Clone, Copy)]
pub struct Word<'a> {
    pub text: &'a str,
    pub bbox: [f32; 4],
}

/// A cell of a size column: its words (indices into the words given, left to right),
/// and the column's header.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeCell {
    pub words: Vec<usize>,
    pub header: String,
}

/// Reads the words of one table region (horizontal lines whose centre lies in it),
/// with the region's cells: words in one cell are one entry (`PART` `NUMBER`, or a
/// callout's pieces, stay together). Returns the table and the cells that stand in
/// its size columns (none for a revision table).
pub fn read(
    bbox: [f32; 4],
    page: u32,
    cells: &[[f32; 4]],
    words: &[Word],
) -> (Table, Vec<SizeCell>) {
    let units = in_cells(cells, words);
    let unit_words: Vec<Word> = units
        .iter()
        .map(|(text, bbox, _)| Word { text, bbox: *bbox })
        .collect();
    let rows = group_rows(&unit_words);
    let text = |i: usize| units[i].0.trim().to_string();
    let Some(h) = header_row(&rows, &unit_words) else {
        let table = Table {
            kind: TableKind::Other,
            bbox,
            page,
            title: None,
            header: Vec::new(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|&i| text(i)).collect())
                .collect(),
        };
        return (table, Vec::new());
    };
    let header: Vec<String> = rows[h].iter().map(|&i| text(i)).collect();
    let spans = column_spans(&rows[h], &unit_words);
    let kind = kind_of(&header);
    // Rows between the header and the table's edge are its title (`HOLE TABLE`).
    let outside = |r: usize| if h < rows.len() / 2 { r < h } else { r > h };
    let title: Vec<String> = (0..rows.len())
        .filter(|&r| outside(r))
        .flat_map(|r| rows[r].iter().map(|&i| text(i)))
        .collect();
    let mut body = Vec::new();
    let mut sizes = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        if r == h || outside(r) {
            continue;
        }
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); header.len()];
        for &i in row {
            let b = units[i].1;
            let cx = b[0] + b[2] / 2.0;
            if let Some(c) = spans.iter().position(|&(x0, x1)| cx >= x0 && cx < x1) {
                members[c].push(i);
            }
        }
        let cells = members
            .iter()
            .map(|m| m.iter().map(|&i| text(i)).collect::<Vec<_>>().join(" "))
            .collect();
        for (c, m) in members.into_iter().enumerate() {
            if !m.is_empty() && kind != TableKind::Revision && names_a_size(&header[c]) {
                sizes.push(SizeCell {
                    words: m.iter().flat_map(|&i| units[i].2.iter().copied()).collect(),
                    header: header[c].clone(),
                });
            }
        }
        body.push(cells);
    }
    let table = Table {
        kind,
        bbox,
        page,
        title: (!title.is_empty()).then(|| title.join(" ")),
        header,
        rows: body,
    };
    (table, sizes)
}

/// The words merged by the cell that holds their centre (left to right), each with
/// its text, box and word indices; words in no cell stay alone.
fn in_cells(cells: &[[f32; 4]], words: &[Word]) -> Vec<(String, [f32; 4], Vec<usize>)> {
    let mut by_cell: Vec<Vec<usize>> = vec![Vec::new(); cells.len()];
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        match cells
            .iter()
            .position(|c| super::contains_centre(c, &w.bbox))
        {
            Some(c) => by_cell[c].push(i),
            None => out.push((w.text.to_string(), w.bbox, vec![i])),
        }
    }
    for mut m in by_cell.into_iter().filter(|m| !m.is_empty()) {
        m.sort_by(|&a, &b| words[a].bbox[0].total_cmp(&words[b].bbox[0]));
        let text = m
            .iter()
            .map(|&i| words[i].text.trim())
            .collect::<Vec<_>>()
            .join(" ");
        let bbox = m.iter().skip(1).fold(words[m[0]].bbox, |b, &i| {
            super::merge::union(&b, &words[i].bbox)
        });
        out.push((text, bbox, m));
    }
    out
}

/// The header row: of the two rows at each end, the one of words (see [`is_header`])
/// with the most entries; the topmost such row, then the bottom one, on a tie.
fn header_row(rows: &[Vec<usize>], words: &[Word]) -> Option<usize> {
    let n = rows.len();
    if n < 2 {
        return None;
    }
    let mut candidates = vec![0, n - 1];
    if n >= 4 {
        candidates.extend([1, n - 2]);
    }
    candidates
        .into_iter()
        .filter(|&i| is_header(&rows[i], words))
        .fold(None, |best: Option<usize>, i| match best {
            Some(b) if rows[b].len() >= rows[i].len() => Some(b),
            _ => Some(i),
        })
}

/// Words grouped into rows (each row's word indices left to right, rows top to
/// bottom): a word joins the row whose vertical span overlaps half its height.
fn group_rows(words: &[Word]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..words.len()).collect();
    order.sort_by(|&a, &b| centre_y(&words[a].bbox).total_cmp(&centre_y(&words[b].bbox)));
    let mut rows: Vec<(f32, f32, Vec<usize>)> = Vec::new();
    for i in order {
        let b = words[i].bbox;
        let (top, bottom) = (b[1], b[1] + b[3]);
        match rows.last_mut() {
            Some((t, bt, members)) if bottom.min(*bt) - top.max(*t) >= 0.5 * b[3].min(*bt - *t) => {
                *t = t.min(top);
                *bt = bt.max(bottom);
                members.push(i);
            }
            _ => rows.push((top, bottom, vec![i])),
        }
    }
    rows.into_iter()
        .map(|(_, _, mut m)| {
            m.sort_by(|&a, &b| words[a].bbox[0].total_cmp(&words[b].bbox[0]));
            m
        })
        .collect()
}

fn centre_y(b: &[f32; 4]) -> f32 {
    b[1] + b[3] / 2.0
}

/// A header row: two words at least, each holding a letter and none a number alone.
fn is_header(row: &[usize], words: &[Word]) -> bool {
    row.len() >= 2
        && row.iter().all(|&i| {
            let t = words[i].text;
            t.chars().any(char::is_alphabetic) && !parse::looks_like_dimension(&parse::normalise(t))
        })
}

/// Each header word's column: from halfway to its left neighbour to halfway to its
/// right one (the outer columns open-ended).
fn column_spans(header: &[usize], words: &[Word]) -> Vec<(f32, f32)> {
    let edges: Vec<(f32, f32)> = header
        .iter()
        .map(|&i| (words[i].bbox[0], words[i].bbox[0] + words[i].bbox[2]))
        .collect();
    (0..edges.len())
        .map(|c| {
            let left = if c == 0 {
                f32::NEG_INFINITY
            } else {
                (edges[c - 1].1 + edges[c].0) / 2.0
            };
            let right = if c + 1 == edges.len() {
                f32::INFINITY
            } else {
                (edges[c].1 + edges[c + 1].0) / 2.0
            };
            (left, right)
        })
        .collect()
}

/// A header's words, upper case, split at anything not a letter or digit (`X LOC.`
/// → `X`, `LOC`; `Ø D` → `Ø`, `D`: the diameter signs are kept as words).
fn header_words(h: &str) -> Vec<String> {
    h.to_uppercase()
        .split(|c: char| !(c.is_alphanumeric() || DIAMETER.contains(&c)))
        .filter(|w| !w.is_empty())
        .flat_map(|w| {
            // `ØD`, `⌀D1`: the sign and the name.
            match w.char_indices().nth(1) {
                Some((k, _)) if DIAMETER.contains(&w.chars().next().unwrap_or(' ')) => {
                    vec![w[..k].to_string(), w[k..].to_string()]
                }
                _ => vec![w.to_string()],
            }
        })
        .collect()
}

const DIAMETER: [char; 3] = ['Ø', '⌀', '∅'];

/// Header words that name a size.
const SIZE_WORDS: &[&str] = &[
    "X",
    "Y",
    "Z",
    "DIA",
    "DIAM",
    "DIAMETER",
    "Ø",
    "⌀",
    "∅",
    "SIZE",
    "LENGTH",
    "LEN",
    "WIDTH",
    "HEIGHT",
    "DEPTH",
    "THICKNESS",
    "THK",
    "RADIUS",
    "RAD",
    "ANGLE",
    "PITCH",
    "DIM",
    "DIMENSION",
    "LÄNGE",
    "LAENGE",
    "BREITE",
    "HÖHE",
    "HOEHE",
    "TIEFE",
    "DICKE",
    "DURCHMESSER",
    "WINKEL",
];

/// Header words that name something else: a header holding one is not a size column.
const OTHER_WORDS: &[&str] = &[
    "QTY",
    "QUANTITY",
    "ITEM",
    "NO",
    "NUMBER",
    "PART",
    "TAG",
    "REV",
    "REVISION",
    "DATE",
    "MATERIAL",
    "WEIGHT",
    "MASS",
    "POS",
    "DESCRIPTION",
    "NAME",
    "MENGE",
    "STK",
    "BENENNUNG",
    "WERKSTOFF",
    "ZONE",
    "ECO",
    "ECN",
    "APPROVED",
    "BY",
    // A general-tolerance table's columns ("nominal size range", "tolerance class").
    "TOLERANCE",
    "TOL",
    "RANGE",
    "NOMINAL",
    "DEVIATION",
    "DEVIATIONS",
    "CLASS",
    "OVER",
    "GRADE",
    "TOLERANZ",
    "NENNMASS",
    "NENNMASSBEREICH",
    "BEREICH",
];

/// Whether a column's header names a size: a variable (`A`, `L1`, `ØD`) or a size word.
pub fn names_a_size(header: &str) -> bool {
    let words = header_words(header);
    if words.is_empty() || words.iter().any(|w| OTHER_WORDS.contains(&w.as_str())) {
        return false;
    }
    let variable = |w: &str| {
        let mut c = w.chars();
        c.next().is_some_and(|f| f.is_ascii_alphabetic())
            && c.clone().all(|d| d.is_ascii_digit())
            && c.count() <= 2
    };
    words.iter().any(|w| SIZE_WORDS.contains(&w.as_str()))
        || (words.len() <= 2
            && words
                .iter()
                .all(|w| variable(w) || DIAMETER.iter().any(|d| w.starts_with(*d))))
}

/// Whether a column's header says its sizes are diameters (`Ø`, `DIA`, `ØD`).
pub fn names_a_diameter(header: &str) -> bool {
    header_words(header).iter().any(|w| {
        matches!(w.as_str(), "DIA" | "DIAM" | "DIAMETER" | "DURCHMESSER")
            || DIAMETER.iter().any(|d| w.starts_with(*d))
    })
}

/// The table's kind from its header's words.
fn kind_of(header: &[String]) -> TableKind {
    let words: Vec<String> = header.iter().flat_map(|h| header_words(h)).collect();
    let has = |set: &[&str]| words.iter().filter(|w| set.contains(&w.as_str())).count();
    if has(&["REV", "REVISION", "ÄNDERUNG", "AENDERUNG", "ECO", "ECN"]) > 0
        && has(&[
            "DATE",
            "DATUM",
            "DESCRIPTION",
            "BESCHREIBUNG",
            "APPROVED",
            "APPD",
        ]) > 0
    {
        TableKind::Revision
    } else if has(&[
        "ITEM",
        "POS",
        "QTY",
        "QUANTITY",
        "MENGE",
        "STK",
        "PART",
        "DESCRIPTION",
        "BENENNUNG",
        "SACHNUMMER",
    ]) >= 2
    {
        TableKind::PartsList
    } else if header.iter().any(|h| names_a_size(h)) {
        TableKind::Dimensions
    } else {
        TableKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, x: f32, y: f32) -> Word<'_> {
        Word {
            text,
            bbox: [x, y, 12.0 * text.chars().count() as f32, 20.0],
        }
    }

    #[test]
    fn a_hole_table_gives_its_positions_and_sizes_not_its_tags() {
        let words = vec![
            word("HOLE", 10.0, 10.0),
            word("X LOC", 100.0, 10.0),
            word("Y LOC", 200.0, 10.0),
            word("SIZE", 300.0, 10.0),
            word("A1", 10.0, 40.0),
            word("12.50", 100.0, 41.0),
            word("8", 210.0, 39.0),
            word("Ø6.6", 290.0, 40.0),
            word("THRU", 345.0, 40.0),
            word("A2", 10.0, 70.0),
            word("40", 105.0, 70.0),
            word("8", 210.0, 70.0),
        ];
        let (table, sizes) = read([0.0, 0.0, 400.0, 100.0], 0, &[], &words);
        assert_eq!(table.kind, TableKind::Dimensions);
        assert_eq!(table.header, ["HOLE", "X LOC", "Y LOC", "SIZE"]);
        assert_eq!(
            table.rows,
            vec![
                vec!["A1", "12.50", "8", "Ø6.6 THRU"],
                vec!["A2", "40", "8", ""],
            ]
        );
        let got: Vec<(&str, &str)> = sizes
            .iter()
            .map(|s| (words[s.words[0]].text, s.header.as_str()))
            .collect();
        assert_eq!(sizes[2].words.len(), 2, "the cell's two words, one size");
        assert_eq!(
            got,
            [
                ("12.50", "X LOC"),
                ("8", "Y LOC"),
                ("Ø6.6", "SIZE"),
                ("40", "X LOC"),
                ("8", "Y LOC")
            ]
        );
    }

    #[test]
    fn a_parts_list_with_its_header_at_the_bottom_gives_no_sizes() {
        let words = vec![
            word("2", 10.0, 10.0),
            word("BOLT M6x20", 60.0, 10.0),
            word("4", 250.0, 10.0),
            word("1", 10.0, 40.0),
            word("PLATE 10", 60.0, 40.0),
            word("1", 250.0, 40.0),
            word("ITEM", 10.0, 70.0),
            word("DESCRIPTION", 60.0, 70.0),
            word("QTY", 250.0, 70.0),
        ];
        let (table, sizes) = read([0.0, 0.0, 300.0, 100.0], 0, &[], &words);
        assert_eq!(table.kind, TableKind::PartsList);
        assert_eq!(table.header, ["ITEM", "DESCRIPTION", "QTY"]);
        assert_eq!(table.rows[0], ["2", "BOLT M6x20", "4"]);
        assert!(sizes.is_empty());
    }

    #[test]
    fn a_tabulated_drawing_names_its_sizes_by_letter_a_revision_table_gives_none() {
        let words = vec![
            word("PART NO", 10.0, 10.0),
            word("A", 150.0, 10.0),
            word("ØD", 200.0, 10.0),
            word("-01", 10.0, 40.0),
            word("25", 150.0, 40.0),
            word("10", 200.0, 40.0),
        ];
        let (table, sizes) = read([0.0, 0.0, 300.0, 70.0], 0, &[], &words);
        assert_eq!(table.kind, TableKind::Dimensions);
        let got: Vec<&str> = sizes.iter().map(|s| s.header.as_str()).collect();
        assert_eq!(got, ["A", "ØD"]);
        assert!(names_a_diameter("ØD") && names_a_diameter("DIA") && !names_a_diameter("A"));

        let words = vec![
            word("REV", 10.0, 10.0),
            word("DESCRIPTION", 60.0, 10.0),
            word("DATE", 250.0, 10.0),
            word("B", 10.0, 40.0),
            word("LENGTH 40 WAS 38", 60.0, 40.0),
            word("2024-06-02", 250.0, 40.0),
        ];
        let (table, sizes) = read([0.0, 0.0, 400.0, 70.0], 0, &[], &words);
        assert_eq!(table.kind, TableKind::Revision);
        assert!(sizes.is_empty());
    }

    #[test]
    fn size_headers_and_other_headers() {
        for h in [
            "A",
            "L1",
            "Ø",
            "⌀D",
            "X",
            "Y LOC",
            "HOLE SIZE",
            "Länge",
            "DIA.",
            "THK",
        ] {
            assert!(names_a_size(h), "{h}");
        }
        for h in [
            "QTY",
            "ITEM NO.",
            "PART NUMBER",
            "TAG",
            "DESCRIPTION",
            "NOTES",
            "MATERIAL",
            "HOLE",
            "NOMINAL SIZE RANGE",
        ] {
            assert!(!names_a_size(h), "{h}");
        }
    }

    #[test]
    fn rows_of_numbers_alone_have_no_header() {
        let words = vec![
            word("10", 10.0, 10.0),
            word("20", 60.0, 10.0),
            word("30", 10.0, 40.0),
        ];
        let (table, sizes) = read([0.0, 0.0, 100.0, 70.0], 0, &[], &words);
        assert_eq!(table.kind, TableKind::Other);
        assert!(table.header.is_empty());
        assert_eq!(table.rows, vec![vec!["10", "20"], vec!["30"]]);
        assert!(sizes.is_empty());
    }

    #[test]
    fn a_title_row_above_the_header_and_words_of_one_cell_joined() {
        // HOLE TABLE (one cell across); TAG | X | Y | HOLE SIZE (two words in a cell).
        let words = vec![
            word("HOLE", 100.0, 10.0),
            word("TABLE", 160.0, 10.0),
            word("TAG", 10.0, 40.0),
            word("X", 100.0, 40.0),
            word("Y", 200.0, 40.0),
            word("HOLE", 300.0, 40.0),
            word("SIZE", 360.0, 40.0),
            word("A", 10.0, 70.0),
            word("10", 100.0, 70.0),
            word("5", 200.0, 70.0),
            word("M4", 300.0, 70.0),
            word("B", 10.0, 100.0),
            word("30", 100.0, 100.0),
            word("5", 200.0, 100.0),
            word("M4", 300.0, 100.0),
        ];
        let mut cells = vec![[0.0, 0.0, 480.0, 30.0]];
        for y in [30.0, 60.0, 90.0] {
            for (x, w) in [(0.0, 90.0), (90.0, 100.0), (190.0, 100.0), (290.0, 190.0)] {
                cells.push([x, y, w, 30.0]);
            }
        }
        let (table, sizes) = read([0.0, 0.0, 480.0, 120.0], 0, &cells, &words);
        assert_eq!(table.title.as_deref(), Some("HOLE TABLE"));
        assert_eq!(table.header, ["TAG", "X", "Y", "HOLE SIZE"]);
        assert_eq!(table.kind, TableKind::Dimensions);
        assert_eq!(
            table.rows,
            vec![vec!["A", "10", "5", "M4"], vec!["B", "30", "5", "M4"]]
        );
        assert_eq!(sizes.len(), 6);
        assert_eq!(sizes[2].words, [10]);
        assert_eq!(sizes[2].header, "HOLE SIZE");
    }
}
