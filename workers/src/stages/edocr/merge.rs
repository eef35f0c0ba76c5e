//! Joining the pieces of one dimension the OCR read as separate lines: stacked
//! tolerances after their nominal, a fit class stacked over a dimension's, a lone
//! diameter glyph before its number; with the text shapes that decide it (tolerance,
//! plain number, fit class) and the text's own frame for rotated lines.

use super::{layout, Line};

/// The signs a deviation starts with.
pub(super) const SIGNS: [char; 4] = ['+', '-', '±', '−'];

/// Whether a text is a tolerance on its own: `+0.02`, `-0,1`, `±0.05`, `0`, or a
/// signed one in brackets (`(+0.10)`, `(-0.20`: SolidWorks brackets stacked
/// deviations; an unsigned number in brackets is a reference dimension).
pub(super) fn is_tolerance(s: &str) -> bool {
    let bracketed = s.contains(['(', ')']);
    let s = unspaced(s);
    let s = s.trim_start_matches('(').trim_end_matches(')').to_string();
    if bracketed && !s.starts_with(SIGNS) {
        return false;
    }
    let body = s.trim_start_matches(SIGNS);
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

/// A text without its whitespace: two readings that differ only in spacing are the
/// same reading.
pub(super) fn unspaced(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The share of a line's characters its leading number takes: where along the line,
/// with characters taken as equally wide, the number ends.
pub(super) fn number_share(number: &str, line: &str) -> f32 {
    number.chars().count() as f32 / line.trim().chars().count().max(1) as f32
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
pub(super) fn split_nominal(s: &str) -> Option<(String, Option<String>)> {
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
    let signed = is_signed(tol);
    let symmetric = tol.trim_start_matches('(').starts_with('±');
    // An unsigned zero is the other deviation's partner (`6.50 0.00` under `+0.02`).
    let zero = is_zero(tol);
    (is_plain_number(n) && (signed || zero) && !symmetric && is_tolerance(tol))
        .then(|| (n.to_string(), Some(unbracket(tol))))
}

/// Whether a tolerance's text starts with its sign (after a SolidWorks bracket).
fn is_signed(s: &str) -> bool {
    s.trim_start_matches('(').starts_with(SIGNS)
}

/// Whether a text, brackets aside, is a zero (`0`, `0.00`, `(0,0)`).
pub(super) fn is_zero(s: &str) -> bool {
    s.trim_matches(['(', ')'])
        .chars()
        .all(|c| matches!(c, '0' | '.' | ','))
}

/// Whether a text is a plain number (a nominal that may carry stacked tolerances).
pub(super) fn is_plain_number(s: &str) -> bool {
    let t = s.trim();
    let t = t.trim_start_matches(|c| super::DIAMETER_SIGNS.contains(&c) || c == 'R');
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && t.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Page coordinates → the text's own frame: `u` along the reading direction, `v`
/// down the glyphs. Returns (u0, u1, v0, v1).
pub(super) fn text_frame(b: &[f32; 4], turn: i8) -> (f32, f32, f32, f32) {
    let (x0, y0, x1, y1) = (b[0], b[1], b[0] + b[2], b[1] + b[3]);
    match turn {
        // counter-clockwise: reads upwards, glyph tops point left
        1 => (-y1, -y0, x0, x1),
        // clockwise: reads downwards, glyph tops point right
        -1 => (y0, y1, -x1, -x0),
        _ => (x0, x1, y0, y1),
    }
}

/// Merges tolerance lines into the nominal they follow: in the frame of the longer
/// of the two (a lone digit has no direction of its own), the tolerance starts
/// within [-0.5 h, +1.0 h] of the nominal's end (PP-OCR's boxes are grown by
/// about a third of their height on each side, so neighbours overlap) and lies
/// within half a text height of its band. Upper before lower (higher up the glyphs first). A nominal read
/// together with one deviation ([`split_nominal`]) takes one more, stacked above or
/// below that deviation: its number's end is estimated from its share of the
/// characters, and the other deviation may sit up to 1.2 h off the line's band.
/// Brackets around stacked deviations are dropped.
pub(super) fn merge_stacked(lines: Vec<Line>) -> Vec<Line> {
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
            let turn = frame_turn(n, t);
            let (nu0, mut nu1, nv0, nv1) = text_frame(&n.bbox, turn);
            let (tu0, _tu1, tv0, tv1) = text_frame(&t.bbox, turn);
            let h = nv1 - nv0;
            let in_band = if own.is_some() {
                let share = number_share(&number, &n.text);
                nu1 = nu0 + (nu1 - nu0) * share;
                let off = ((tv0 + tv1) - (nv0 + nv1)).abs() / 2.0;
                tv0 >= nv0 - 1.2 * h && tv1 <= nv1 + 1.2 * h && off >= 0.4 * h
            } else {
                tv0 >= nv0 - 0.6 * h && tv1 <= nv1 + 0.6 * h
            };
            let starts_after = tu0 >= nu1 - 0.5 * h && tu0 <= nu1 + 1.0 * h && tu0 > nu0;
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
        let mut exact = n.exact;
        let replaced: Vec<&str> = std::iter::once(i)
            .chain(tols.iter().map(|&(_, j)| j))
            .filter_map(|k| lines[k].replaced.as_deref())
            .collect();
        for &(_, j) in &tols {
            bb = union(&bb, &lines[j].bbox);
            conf += lines[j].confidence;
            exact &= lines[j].exact;
            used[j] = true;
        }
        used[i] = true;
        // A vertical nominal takes the direction it was judged in.
        let turn = if n.turn != 0 {
            frame_turn(n, &lines[tols[0].1])
        } else {
            n.turn
        };
        out.push(Line {
            text,
            confidence: conf / (1 + tols.len()) as f32,
            polygon: layout::polygon_of(&bb),
            bbox: bb,
            turn,
            exact,
            replaced: (!replaced.is_empty()).then(|| replaced.join(" ")),
        });
    }
    for (i, l) in lines.into_iter().enumerate() {
        if !used[i] {
            out.push(l);
        }
    }
    out
}

/// The reading direction a nominal and a tolerance beside it are judged in: a
/// vertical signed tolerance's own (`+0,1` reads as nothing upside down, while
/// digits such as `040` or `69` read as digits either way, so a vertical nominal's
/// direction is the less sure), else the nominal's, else the tolerance's.
fn frame_turn(n: &Line, t: &Line) -> i8 {
    if t.turn != 0 && is_signed(&t.text) && t.text.trim().chars().count() >= 3 {
        t.turn
    } else if n.turn != 0 {
        n.turn
    } else {
        t.turn
    }
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
/// the start of that class, less half a height). The two grades differ by at most
/// two (ISO 286-2's fits pair a hole with a shaft of its grade or one finer: `H7/k6`,
/// `H11/c11`), so a chamfer `C1` above `Ø28 p6` stays a chamfer.
pub(super) fn merge_stacked_fits(mut lines: Vec<Line>) -> Vec<Line> {
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
        let grade = |c: &str| super::iso286::parse_class(c).map(|c| i16::from(c.grade));
        let Some(shaft_grade) = grade(last) else {
            continue;
        };
        let above = (0..lines.len()).find(|&j| {
            if j == i || gone[j] || !is_fit_class(&lines[j].text) {
                return false;
            }
            if grade(&lines[j].text).is_none_or(|g| (g - shaft_grade).abs() > 2) {
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
    without_gone(lines, gone).collect()
}

/// A lone glyph the recogniser reads as `Q`, `O`, `0` or a diameter sign, just
/// before a number in its reading direction (ending within half a text height of
/// the number's start, in its band), is the number's diameter sign: they join.
pub(super) fn join_diameter_glyphs(mut lines: Vec<Line>) -> Vec<Line> {
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
            if !n.text.starts_with(super::DIAMETER_SIGNS) {
                n.text = format!("Ø{}", n.text.trim());
            }
            n.bbox = union(&n.bbox, &g.bbox);
            n.polygon = layout::polygon_of(&n.bbox);
            gone[i] = true;
        }
    }
    without_gone(lines, gone).collect()
}

/// A limit dimension's value: a plain number with decimals, after an optional
/// diameter or radius sign (`11.30`, `Ø16.00`, `R 11.20`: a CAD text layer puts the
/// sign of a stack in one line with the lower value). Returns the sign, the number,
/// its value and its decimal places.
fn limit_value(s: &str) -> Option<(&str, &str, f64, usize)> {
    let t = s.trim();
    let body = t.trim_start_matches(|c| super::DIAMETER_SIGNS.contains(&c) || c == 'R');
    let sign = t[..t.len() - body.len()].trim();
    let number = body.trim_start();
    if sign.chars().count() > 1 || !is_plain_number(number) {
        return None;
    }
    let decimals = number.split(['.', ',']).nth(1)?.len();
    let value: f64 = number.replace(',', ".").parse().ok()?;
    (decimals >= 1 && value > 0.0).then_some((sign, number, value, decimals))
}

/// Stacked limits: a limit dimension's upper limit printed over its lower (ISO 129-1:
/// `16.00` over `15.50`) joins it as `16.00 15.50`, which the grammar reads as the
/// two limits. Both lines read the same way and are about as high (within 25 %); in
/// their frame the upper is higher up the glyphs by 0.35–1.2 line heights (a stack is
/// set at about one line's pitch; parallel dimension lines lie two or more apart),
/// the two numbers overlap along the text by 60 % of the shorter and start or end
/// within half a height of each other. The upper is the larger value, by at most
/// 10 %, and both have the same decimal places (at least one): a stack of two
/// different dimensions rarely is so. A sign printed before the stack (`R`, `Ø`) goes
/// first, from either line.
pub(super) fn merge_limits(lines: Vec<Line>) -> Vec<Line> {
    let mut gone = vec![false; lines.len()];
    let mut joined: Vec<Line> = Vec::new();
    for i in 0..lines.len() {
        let Some((si, ni, vi, di)) = limit_value(&lines[i].text) else {
            continue;
        };
        if gone[i] {
            continue;
        }
        let a = &lines[i];
        // The number's extent along the text, by its share of the characters.
        let extent = |l: &Line, number: &str| {
            let (u0, u1, v0, v1) = text_frame(&l.bbox, l.turn);
            let share = number_share(number, &l.text);
            (u1 - (u1 - u0) * share, u1, v0, v1)
        };
        let (au0, au1, av0, av1) = extent(a, ni);
        let lower = (0..lines.len()).find(|&j| {
            let Some((sj, nj, vj, dj)) = limit_value(&lines[j].text) else {
                return false;
            };
            let b = &lines[j];
            if j == i || gone[j] || b.turn != a.turn || dj != di || vj >= vi {
                return false;
            }
            if (vi - vj) > 0.1 * vi || (!si.is_empty() && !sj.is_empty() && si != sj) {
                return false;
            }
            let (bu0, bu1, bv0, bv1) = extent(b, nj);
            let (ha, hb) = (av1 - av0, bv1 - bv0);
            let h = ha.max(hb);
            let dv = (bv0 + bv1) / 2.0 - (av0 + av1) / 2.0;
            let overlap = au1.min(bu1) - au0.max(bu0);
            (ha - hb).abs() <= 0.25 * h
                && dv >= 0.35 * h
                && dv <= 1.2 * h
                && overlap >= 0.6 * (au1 - au0).min(bu1 - bu0)
                && ((au0 - bu0).abs() <= 0.5 * h || (au1 - bu1).abs() <= 0.5 * h)
        });
        let Some(j) = lower else {
            continue;
        };
        let (sj, nj, _, _) = limit_value(&lines[j].text).expect("found as a limit");
        let sign = if si.is_empty() { sj } else { si };
        let b = &lines[j];
        let bb = union(&a.bbox, &b.bbox);
        let replaced: Vec<&str> = [a, b]
            .iter()
            .filter_map(|l| l.replaced.as_deref())
            .collect();
        joined.push(Line {
            text: format!("{sign}{ni} {nj}"),
            confidence: (a.confidence + b.confidence) / 2.0,
            polygon: layout::polygon_of(&bb),
            bbox: bb,
            turn: a.turn,
            exact: a.exact && b.exact,
            replaced: (!replaced.is_empty()).then(|| replaced.join(" ")),
        });
        gone[i] = true;
        gone[j] = true;
    }
    without_gone(lines, gone).chain(joined).collect()
}

/// `lines` without those marked `gone`, in order.
pub(super) fn without_gone(lines: Vec<Line>, gone: Vec<bool>) -> impl Iterator<Item = Line> {
    lines
        .into_iter()
        .zip(gone)
        .filter_map(|(l, g)| (!g).then_some(l))
}

pub(super) fn union(a: &[f32; 4], b: &[f32; 4]) -> [f32; 4] {
    let x0 = a[0].min(b[0]);
    let y0 = a[1].min(b[1]);
    let x1 = (a[0] + a[2]).max(b[0] + b[2]);
    let y1 = (a[1] + a[3]).max(b[1] + b[3]);
    [x0, y0, x1 - x0, y1 - y0]
}

#[cfg(test)]
mod tests {
    use super::super::count_prefix;
    use super::*;

    fn line(text: &str, b: [f32; 4], turn: i8) -> Line {
        Line {
            text: text.into(),
            confidence: 1.0,
            polygon: layout::polygon_of(&b),
            bbox: b,
            turn,
            exact: false,
            replaced: None,
        }
    }

    /// A limit dimension written upwards from a CAD text layer (`R` in one line with
    /// the lower limit, as pdftotext groups it: tune fixture `Aufspannung.PDF`), a
    /// level one read by OCR, and stacks that are not limits.
    #[test]
    fn merges_stacked_limits() {
        let texts = |lines: Vec<Line>| -> Vec<String> {
            let mut t: Vec<String> = merge_limits(lines).into_iter().map(|l| l.text).collect();
            t.sort();
            t
        };
        let exact = |text: &str, b: [f32; 4]| Line {
            exact: true,
            ..line(text, b, 1)
        };
        assert_eq!(
            texts(vec![
                exact("11.30", [832.0, 260.0, 75.0, 137.0]),
                exact("R 11.20", [861.0, 260.0, 99.0, 171.0]),
            ]),
            ["R11.30 11.20"]
        );
        // Level, upper over lower, PP-OCR's boxes (grown about a third of the glyph
        // on each side) overlapping.
        let upper = line("16.00", [400.0, 300.0, 120.0, 48.0], 0);
        let under = |text: &str, dy: f32| line(text, [402.0, 300.0 + dy, 118.0, 48.0], 0);
        assert_eq!(
            texts(vec![upper.clone(), under("15.50", 40.0)]),
            ["16.00 15.50"]
        );
        // Two parallel dimensions two lines apart; the smaller value on top; other
        // decimal places; values more than 10 % apart: left alone.
        for (lower, dy) in [
            ("15.50", 100.0),
            ("16.50", 40.0),
            ("15.5", 40.0),
            ("12.00", 40.0),
        ] {
            assert_eq!(
                merge_limits(vec![upper.clone(), under(lower, dy)]).len(),
                2,
                "{lower}"
            );
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
                name: "vertical, reading upwards, upper only read, the nominal's digits taken as read downwards (synthetic tune 5150/00014)",
                lines: vec![
                    line("040", [881.0, 1101.0, 71.0, 131.0], -1),
                    line("+0,1", [869.0, 1013.0, 65.0, 117.0], 1),
                ],
                want: vec!["040 +0,1"],
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
                // PP-OCR's grown boxes overlap: the deviation starts 0.45 h before
                // the nominal's box ends (boxes of a 155 over +0.1 on a rendering).
                name: "overlapping boxes, upper deviation only",
                lines: vec![
                    line("155", [562.0, 570.0, 78.0, 45.0], 0),
                    line("+0.1", [620.0, 566.0, 66.0, 32.0], 0),
                ],
                want: vec!["155 +0.1"],
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
            Case {
                name:
                    "a chamfer above a fit: grades 1 and 6 make no fit (synthetic tune 6061/00024)",
                lines: vec![
                    line("Ø28 p6", [1143.0, 1561.0, 200.0, 67.0], 0),
                    line("C1", [1290.0, 1507.0, 60.0, 64.0], 0),
                ],
                want: vec!["C1", "Ø28 p6"],
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
}
