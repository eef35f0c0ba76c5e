//! A PDF page's own text: the lines poppler's `pdftotext -bbox-layout` finds, in the
//! page raster's pixel frame, with the pieces of text set at a slant joined again.
//!
//! CAD programs export every printed number as text with its position, so a vector
//! PDF states exactly what OCR would re-read with errors. [`usable`] decides per page
//! whether the layer can stand in for OCR (it is there and decodes); the `ocr` stage
//! then takes these lines instead of reading the pixels.

use serde::{Deserialize, Serialize};

/// One line of a page's text layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerLine {
    pub text: String,
    /// `[x, y, width, height]`, page pixels.
    pub bbox: [f32; 4],
}

/// A page's text layer: its lines, or none when the page has no usable layer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageLayer {
    pub page: u32,
    pub lines: Vec<LayerLine>,
}

/// The lines of one page's `pdftotext -bbox-layout` output (coordinates in points,
/// origin top left, in the displayed frame: the same frame `pdftoppm` renders), in the
/// pixels of a raster `raster_width` pixels wide. Words of a `<line>` are joined with
/// spaces; pieces of slanted text, which poppler cuts into lines whose boxes meet
/// exactly and step diagonally, are joined into one line. Empty when the output
/// names no page size.
pub fn parse_bbox_layout(xhtml: &str, raster_width: u32) -> Vec<LayerLine> {
    let Some(page_width) = page_width(xhtml).filter(|w| *w > 0.0) else {
        return Vec::new();
    };
    let scale = (raster_width as f64 / page_width) as f32;
    let mut lines = Vec::new();
    let mut rest = xhtml;
    while let Some(start) = rest.find("<line ") {
        rest = &rest[start..];
        let Some(end) = rest.find("</line>") else {
            break;
        };
        let block = &rest[..end];
        rest = &rest[end + 7..];
        let Some(bbox) = attrs_bbox(block) else {
            continue;
        };
        let mut words = Vec::new();
        let mut w = block;
        while let Some(ws) = w.find("<word ") {
            w = &w[ws..];
            let Some(gt) = w.find('>') else { break };
            let Some(we) = w.find("</word>") else { break };
            if gt < we {
                words.push((attrs_bbox(w), unescape(&w[gt + 1..we])));
            }
            w = &w[we + 7..];
        }
        for (group_box, group) in word_groups(bbox, &words) {
            let text = gdt_font_signs(&group).join(" ").trim().to_string();
            if !text.is_empty() {
                lines.push((group_box, text));
            }
        }
    }
    join_slanted(lines)
        .into_iter()
        .map(|(b, text)| LayerLine {
            text,
            bbox: [
                b[0] as f32 * scale,
                b[1] as f32 * scale,
                (b[2] - b[0]) as f32 * scale,
                (b[3] - b[1]) as f32 * scale,
            ],
        })
        .collect()
}

/// A `<line>`'s words parted where poppler put two texts of the drawing on one line:
/// the next word starts more than [`WORD_GAP`] text heights on from the last along
/// the line (`20` and `15.50`, two dimensions written upwards one after the other in
/// one column); a line of sizes alone (`1 4`, two small dimensions written upwards
/// by one another) is parted word by word. A word is vertical text's when it
/// overlaps the last across the row (x) by 70 % and not along it. Words off each
/// other's row stay together: slanted text steps so, word by word. Groups with their
/// boxes (the words' union); the whole line where a word has no box.
fn word_groups(
    line: [f64; 4],
    words: &[(Option<[f64; 4]>, String)],
) -> Vec<([f64; 4], Vec<String>)> {
    let Some(boxes) = words.iter().map(|w| w.0).collect::<Option<Vec<_>>>() else {
        return vec![(line, words.iter().map(|w| w.1.clone()).collect())];
    };
    let overlap = |a0: f64, a1: f64, b0: f64, b1: f64| a1.min(b1) - a0.max(b0);
    let parts = |a: &[f64; 4], b: &[f64; 4]| {
        let (wa, wb) = (a[2] - a[0], b[2] - b[0]);
        let (ha, hb) = (a[3] - a[1], b[3] - b[1]);
        let vertical = overlap(a[0], a[2], b[0], b[2]) >= 0.7 * wa.min(wb)
            && overlap(a[1], a[3], b[1], b[3]) <= 0.0;
        if vertical {
            // Along the column, up or down; the height is the glyphs' across it.
            let gap = (b[1] - a[3]).max(a[1] - b[3]);
            return gap > WORD_GAP * wa.max(wb);
        }
        b[0] - a[2] > WORD_GAP * ha.max(hb)
    };
    // Sizes and nothing else (`1 4`, `12.31 2`, `C0.50 C0.50`): no callout is two
    // bare sizes, so each is a text of its own, however near.
    let sizes = words.len() >= 2 && words.iter().all(|w| is_lone_size(&w.1));
    let mut out: Vec<([f64; 4], Vec<String>)> = Vec::new();
    for (i, (b, (_, text))) in boxes.iter().zip(words).enumerate() {
        match out.last_mut() {
            Some((u, group)) if !sizes && !parts(&boxes[i - 1], b) => {
                *u = corners_union(u, b);
                group.push(text.clone());
            }
            _ => out.push((*b, vec![text.clone()])),
        }
    }
    out
}

/// The box holding two boxes, each `[xMin, yMin, xMax, yMax]`.
fn corners_union(a: &[f64; 4], b: &[f64; 4]) -> [f64; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// A word that is one size alone: a number with at most one decimal separator
/// (`12.31`, `.125`, `4`), after at most one sign of its kind (`Ø`, `R`, `C`); not a
/// fraction (`1 1/2` is one size), not a zero (`6.50 0.00`: the zero is the lower
/// deviation stacked under `+0.02`).
fn is_lone_size(w: &str) -> bool {
    let n = w.strip_prefix(['Ø', 'ø', '⌀', '∅', 'R', 'C']).unwrap_or(w);
    n.chars().any(|c| ('1'..='9').contains(&c))
        && n.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && n.chars().filter(|&c| c == '.' || c == ',').count() <= 1
        && !n.ends_with(['.', ','])
}

/// More than this many text heights between two words of a poppler line parts them
/// ([`word_groups`]): a callout's words (`M3 x 0.5 - 6H`, `6.40 X 90°`) stand about a
/// third of a height apart.
const WORD_GAP: f64 = 0.8;

/// Whether a page's layer can stand in for OCR: at least one line, and at least 90 %
/// of its characters decodable (not U+FFFD, not control or private-use characters:
/// what fonts without a Unicode map give).
pub fn usable(lines: &[LayerLine]) -> bool {
    let (mut good, mut all) = (0usize, 0usize);
    for l in lines {
        for c in l.text.chars().filter(|c| !c.is_whitespace()) {
            all += 1;
            let bad = c == '\u{FFFD}' || c.is_control() || ('\u{E000}'..='\u{F8FF}').contains(&c);
            good += usize::from(!bad);
        }
    }
    all > 0 && good * 10 >= all * 9
}

/// The `width` of the first `<page>` element, points.
fn page_width(xhtml: &str) -> Option<f64> {
    let tag = &xhtml[xhtml.find("<page ")?..];
    let tag = &tag[..tag.find('>')?];
    let k = tag.find("width=\"")? + 7;
    tag[k..][..tag[k..].find('"')?].parse().ok()
}

/// `xMin yMin xMax yMax` of an element's opening tag.
fn attrs_bbox(tag: &str) -> Option<[f64; 4]> {
    let head = &tag[..tag.find('>')?];
    let get = |name: &str| -> Option<f64> {
        let k = head.find(&format!("{name}=\""))? + name.len() + 2;
        let v = &head[k..];
        v[..v.find('"')?].parse().ok()
    };
    Some([get("xMin")?, get("yMin")?, get("xMax")?, get("yMax")?])
}

/// The hole signs of a GD&T symbol font, which map them to plain letters (AutoCAD's
/// `gdt.shx` and the CAD fonts made after it: `n` diameter, `v` countersink, `w`
/// counterbore, `x` depth), read back: a word `n` alone before a number is `Ø`
/// joined to it (`n 3.4 THRU` → `Ø3.4 THRU`); `v` or `w` alone before that is `⌵` or
/// `⌴`, and an `x` alone after its number is the depth sign (`v n 6.5 x 3.0` →
/// `⌵Ø6.5 ↧3.0`). A lone `n` before a number is nothing else a drawing writes.
fn gdt_font_signs(words: &[String]) -> Vec<String> {
    let number = |w: &str| {
        w.trim_start_matches('.')
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    };
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let next_is_number = words.get(i + 1).is_some_and(|w| number(w));
        if words[i] == "n" && next_is_number {
            let hole = match out.last().map(String::as_str) {
                Some("v") => Some('⌵'),
                Some("w") => Some('⌴'),
                _ => None,
            };
            let mut sign = String::new();
            if let Some(h) = hole {
                out.pop();
                sign.push(h);
            }
            sign.push('Ø');
            out.push(format!("{sign}{}", words[i + 1]));
            i += 2;
            // The depth after the hole's size.
            if words.get(i).is_some_and(|w| w == "x") && words.get(i + 1).is_some_and(|w| number(w))
            {
                out.push(format!("↧{}", words[i + 1]));
                i += 2;
            }
            continue;
        }
        out.push(words[i].clone());
        i += 1;
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Joins pieces of slanted text: two boxes that meet exactly (within 0.3 pt) and step
/// right and (up or down) together, the later piece starting where the earlier ends in
/// x (a shallow slant, sharing ≥ 30 % of the height) or in y (a steep one, sharing
/// ≥ 30 % of the width, both pieces short). Level lines on neighbouring rows overlap
/// or leave a gap instead, so they stay apart.
fn join_slanted(mut lines: Vec<([f64; 4], String)>) -> Vec<([f64; 4], String)> {
    const TOL: f64 = 0.3;
    lines.sort_by(|a, b| a.0[0].total_cmp(&b.0[0]));
    // (union, text, last piece, the last piece's length): a piece is short or not on
    // its own, whatever was joined before it.
    let mut out: Vec<([f64; 4], String, [f64; 4], usize)> = Vec::new();
    'next: for (b, text) in lines {
        let len = text.chars().count();
        for (union, joined, last, last_len) in out.iter_mut() {
            if steps_from(last, &b, TOL, *last_len, len) {
                *union = corners_union(union, &b);
                joined.push_str(&text);
                *last = b;
                *last_len = len;
                continue 'next;
            }
        }
        out.push((b, text, b, len));
    }
    out.into_iter().map(|(u, t, _, _)| (u, t)).collect()
}

fn steps_from(a: &[f64; 4], b: &[f64; 4], tol: f64, a_len: usize, b_len: usize) -> bool {
    if !(b[0] > a[0] + 0.5 && b[2] > a[2] + 0.5) {
        return false;
    }
    let (ha, hb, wa, wb) = (a[3] - a[1], b[3] - b[1], a[2] - a[0], b[2] - b[0]);
    let (hmin, wmin) = (ha.min(hb), wa.min(wb));
    if hmin <= 0.0 || wmin <= 0.0 {
        return false;
    }
    // Both edges move the same way, by a visible step.
    let (d0, d1) = (b[1] - a[1], b[3] - a[3]);
    if d0 * d1 < 0.0 || d0.abs().max(d1.abs()) <= 0.1 * hmin {
        return false;
    }
    let yov = a[3].min(b[3]) - a[1].max(b[1]);
    let xov = a[2].min(b[2]) - a[0].max(b[0]);
    let shallow = (b[0] - a[2]).abs() <= tol && yov >= 0.3 * hmin && ha.max(hb) < 2.0 * hmin;
    // Steep text is cut glyph by glyph: short pieces lying across, as wide as tall.
    let steep = (b[1] - a[3]).abs().min((a[1] - b[3]).abs()) <= tol
        && xov >= 0.3 * wmin
        && wa.max(wb) < 2.0 * wmin
        && wa >= 0.9 * ha
        && wb >= 0.9 * hb
        && a_len <= 2
        && b_len <= 2;
    shallow || steep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_and_joins_slanted_pieces() {
        let xhtml = r#"<page width="841.89" height="595.276"><flow><block>
<line xMin="65.4" yMin="15.7" xMax="68.9" yMax="25.3"><word xMin="65.4" yMin="15.7" xMax="68.9" yMax="25.3">1</word></line>
<line xMin="171.345732" yMin="67.252665" xMax="194.098596" yMax="78.549286"><word xMin="171.345732" yMin="67.252665" xMax="194.098596" yMax="78.549286">20</word></line>
<line xMin="164.341106" yMin="58.780200" xMax="187.093970" yMax="67.252665"><word xMin="164.341106" yMin="58.780200" xMax="187.093970" yMax="67.252665">3.</word></line>
<line xMin="300" yMin="100" xMax="340" yMax="110"><word xMin="300" yMin="100" xMax="318" yMax="110">R4</word><word xMin="320" yMin="100" xMax="340" yMax="110">TYP&amp;</word></line>
</block></flow></page>"#;
        let lines = parse_bbox_layout(xhtml, 1684);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["1", "3.20", "R4 TYP&"]);
        let r4 = &lines[2];
        let px = |v: f32| (v * 1684.0 / 841.89 * 10.0).round() / 10.0;
        assert_eq!(
            r4.bbox.map(|v| (v * 10.0).round() / 10.0),
            [px(300.0), px(100.0), px(40.0), px(10.0)]
        );
        assert!(usable(&lines));
        let garbled = [LayerLine {
            text: "\u{FFFD}\u{FFFD}\u{FFFD}1".into(),
            bbox: [0.0; 4],
        }];
        assert!(!usable(&garbled));
        assert!(!usable(&[]));
    }

    /// Two dimensions written upwards one after the other in one column, which poppler
    /// put on one line (`20` and `15.50`, 0.93 text heights apart, a tune2 drawing of
    /// OpenEAI-Arm), come out as two lines; a callout's words a third of a height apart,
    /// level or upwards, stay one line.
    #[test]
    fn words_far_apart_on_one_poppler_line_are_two_lines() {
        let line = |words: &[([f64; 4], &str)]| {
            let u = words
                .iter()
                .fold([f64::MAX, f64::MAX, 0.0, 0.0], |u, (b, _)| {
                    corners_union(&u, b)
                });
            let w: String = words
                .iter()
                .map(|(b, t)| {
                    format!(
                        r#"<word xMin="{}" yMin="{}" xMax="{}" yMax="{}">{t}</word>"#,
                        b[0], b[1], b[2], b[3]
                    )
                })
                .collect();
            format!(
                r#"<line xMin="{}" yMin="{}" xMax="{}" yMax="{}">{w}</line>"#,
                u[0], u[1], u[2], u[3]
            )
        };
        let xhtml = format!(
            r#"<page width="595.276" height="841.89"><flow><block>{}</block></flow></page>"#,
            [
                line(&[
                    ([338.8, 151.4, 351.5, 160.1], "20"),
                    ([338.8, 117.9, 351.5, 139.6], "15.50"),
                ]),
                line(&[
                    ([100.0, 300.0, 112.0, 310.0], "M3"),
                    ([115.0, 300.0, 121.0, 310.0], "x"),
                    ([124.0, 300.0, 140.0, 310.0], "0.5"),
                ]),
                line(&[
                    ([200.0, 420.0, 210.0, 430.0], "2"),
                    ([200.0, 405.0, 210.0, 416.0], "x"),
                    ([200.0, 385.0, 210.0, 401.0], "M3"),
                ]),
                // Sizes alone, however near (`4` and a small `1` written upwards by
                // one another); a size and the zero stacked under its deviation
                // stay together.
                line(&[
                    ([367.4, 261.1, 380.0, 265.5], "1"),
                    ([367.4, 251.6, 380.0, 256.0], "4"),
                ]),
                line(&[
                    ([100.0, 500.0, 120.0, 510.0], "6.50"),
                    ([123.0, 503.0, 133.0, 510.0], "0.00"),
                ]),
            ]
            .concat()
        );
        let lines = parse_bbox_layout(&xhtml, 595);
        let mut texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        texts.sort();
        assert_eq!(
            texts,
            ["1", "15.50", "2 x M3", "20", "4", "6.50 0.00", "M3 x 0.5"]
        );
        let second = lines.iter().find(|l| l.text == "15.50").unwrap();
        assert_eq!(second.bbox.map(f32::round), [339.0, 118.0, 13.0, 22.0]);
    }

    /// Hole signs set in a GD&T symbol font come out of the layer as plain letters
    /// (a tune2 drawing, Voron-2 build plate: `n 3.4 THRU`, `v n 6.5 x 3.0`); they are
    /// read back as signs, and the same letters elsewhere are left alone.
    #[test]
    fn gdt_font_letters_are_read_as_hole_signs() {
        let signs = |s: &str| {
            let words: Vec<String> = s.split(' ').map(String::from).collect();
            gdt_font_signs(&words).join(" ")
        };
        assert_eq!(signs("n 3.4 THRU"), "Ø3.4 THRU");
        assert_eq!(signs("v n 6.5 x 3.0"), "⌵Ø6.5 ↧3.0");
        assert_eq!(signs("4X w n 11 x 6.4"), "4X ⌴Ø11 ↧6.4");
        assert_eq!(signs("n .250 THRU"), "Ø.250 THRU");
        for s in ["6 x", "n = 4", "see n", "v 3", "Turn n times", "M3 x 0.5"] {
            assert_eq!(signs(s), s);
        }
    }

    /// Steep text cut glyph pair by glyph pair (`M` `3x` `0.` `5`, a 45° thread
    /// callout in a tune drawing): every piece is short, whatever was joined before it.
    #[test]
    fn joins_more_than_two_steep_pieces() {
        let piece = |b: [f64; 4], t: &str| {
            format!(
                r#"<line xMin="{0}" yMin="{1}" xMax="{2}" yMax="{3}"><word xMin="{0}" yMin="{1}" xMax="{2}" yMax="{3}">{t}</word></line>"#,
                b[0], b[1], b[2], b[3]
            )
        };
        let xhtml = format!(
            r#"<page width="595.276" height="841.89"><flow><block>{}{}{}{}</block></flow></page>"#,
            piece([104.194645, 105.675903, 122.277809, 111.208024], "5"),
            piece([96.981705, 97.377722, 119.873495, 105.675903], "0."),
            piece([88.006760, 87.052429, 110.898550, 97.377722], "3x"),
            piece([80.029995, 77.875500, 98.113158, 87.052429], "M"),
        );
        let lines = parse_bbox_layout(&xhtml, 2480);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["M3x0.5"]);
    }
}
