//! Title-block labels, English and German, mapped to consistent keys.

/// Title-block labels (normalised: lowercase, `ß` → `ss`, no `.:'`, `-` as space, single
/// spaces, parenthesised units dropped) and their keys.
const TITLE_LABELS: [(&str, &[&str]); 9] = [
    (
        "drawing_number",
        &[
            "dwg no",
            "dwg nr",
            "dwg number",
            "dwg",
            "drg no",
            "drawing no",
            "drawing nr",
            "drawing number",
            "drawing",
            "document no",
            "document number",
            "doc no",
            "zeichnungsnummer",
            "zeichnungs nr",
            "zeichnungsnr",
            "zeichnung nr",
            "zeichn nr",
            "zchn nr",
            "zeichnungs nummer",
            "zeichnung",
        ],
    ),
    (
        "title",
        &[
            "title",
            "drawing title",
            "part name",
            "description",
            "benennung",
            "bezeichnung",
            "titel",
        ],
    ),
    (
        "material",
        &[
            "material",
            "materials",
            "matl",
            "mat",
            "werkstoff",
            "werkstoffe",
        ],
    ),
    ("scale", &["scale", "massstab", "masstab", "mstb"]),
    (
        "sheet",
        &["sheet", "sheet no", "sht", "blatt", "blatt nr", "bl"],
    ),
    (
        "revision",
        &[
            "rev",
            "revision",
            "rev no",
            "revision no",
            "rev level",
            "issue",
            "index",
            "änderungsindex",
            "änderung",
            "aenderungsindex",
            "ausgabe",
        ],
    ),
    ("date", &["date", "datum", "date drawn", "drawn date"]),
    (
        "weight",
        &["weight", "mass", "gewicht", "masse", "net weight"],
    ),
    (
        "general_tolerance",
        &[
            "general tolerance",
            "general tolerances",
            "tolerance",
            "tolerances",
            "unless otherwise specified",
            "tolerances unless otherwise specified",
            "general tolerances unless otherwise specified",
            "allgemeintoleranz",
            "allgemeintoleranzen",
            "freimasstoleranz",
            "freimasstoleranzen",
            "tolerierung",
        ],
    ),
];

/// Maps a title-block label (English or German) to a consistent key: `drawing_number`,
/// `title`, `material`, `scale`, `sheet`, `revision`, `date`, `weight`,
/// `general_tolerance`; `None` for anything else.
pub fn title_block_key(label: &str) -> Option<&'static str> {
    let mut s = label.to_lowercase().replace('ß', "ss");
    if let Some(k) = s.find('(') {
        s.truncate(k);
    }
    let cleaned: String = s
        .chars()
        .filter(|c| !matches!(c, '.' | ':' | '\'' | '’'))
        .map(|c| {
            if c == '-' || c == '_' || c == '/' {
                ' '
            } else {
                c
            }
        })
        .collect();
    let key = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if key.is_empty() {
        return None;
    }
    if let Some((name, _)) = TITLE_LABELS
        .iter()
        .find(|(_, labels)| labels.contains(&key.as_str()))
    {
        return Some(*name);
    }
    if let Some(name) = misread_label(&key) {
        return Some(name);
    }
    let general = key.contains("2768")
        || key.starts_with("general tol")
        || key.starts_with("allgemeintol")
        || key.starts_with("freimass");
    general.then_some("general_tolerance")
}
/// Element symbols that follow aluminium's in alloy designations (`AlMg3`,
/// `AlSi10Mg`, `Ti6Al4V`, `EN AW-AlMgSi1`).
const ALLOY_ELEMENTS: [&str; 10] = ["Mg", "Si", "Zn", "Cu", "Mn", "Li", "Fe", "Cr", "Ni", "Sn"];

/// A material read by OCR with aluminium's `l` taken for a capital `I` (`AIMg3`,
/// `Ti6AI4V`) written right: `AI` after a digit, a lowercase letter, a separator
/// or the start, and before a digit, an alloy element or the end. `AISI 304`,
/// `MAIN` and `RAIL` stay as they are.
pub fn material_reading(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    let mut out = String::with_capacity(v.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == 'A' && chars.get(i + 1) == Some(&'I') {
            let before = i.checked_sub(1).map(|k| chars[k]);
            let after: String = chars[i + 2..].iter().take(2).collect();
            let starts = before.is_none_or(|c| !c.is_alphabetic() || c.is_lowercase());
            let ends = after.is_empty()
                || after.starts_with(|c: char| c.is_ascii_digit() || !c.is_alphanumeric())
                || ALLOY_ELEMENTS.iter().any(|e| after.starts_with(e));
            if starts && ends {
                out.push_str("Al");
                i += 2;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Shortest label [`misread_label`] matches within one letter: shorter words are
/// too near one another (`rev`, `mat`, `dwg`) and to values.
const FUZZY_LABEL_LEN: usize = 5;

/// A one-word label misread by OCR, where the label has at least
/// [`FUZZY_LABEL_LEN`] letters and labels of only one key lie that near: read with
/// accents on letters that have none (`Benennúng`) and digits for the letters they
/// look like (`T1TTLE`), one letter added, lost or changed (`TITLLE`), or the
/// label with at most two letters added (`TITITLE`, a stutter).
fn misread_label(key: &str) -> Option<&'static str> {
    if key.contains(' ') || key.chars().count() < FUZZY_LABEL_LEN {
        return None;
    }
    let plain: String = key
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' => 'a',
            'é' | 'è' | 'ê' => 'e',
            'í' | 'ì' | 'î' | '1' => 'i',
            'ó' | 'ò' | 'ô' | '0' => 'o',
            'ú' | 'ù' | 'û' => 'u',
            c => c,
        })
        .collect();
    if !plain.chars().all(char::is_alphabetic) {
        return None;
    }
    let n = plain.chars().count();
    let near = |l: &str| {
        let m = l.chars().count();
        if l.contains(' ') || m < FUZZY_LABEL_LEN {
            return false;
        }
        if strsim::levenshtein(l, &plain) <= 1 {
            return true;
        }
        // The label within the reading, in order, with at most two letters more.
        let mut rest = plain.chars();
        n <= m + 2 && l.chars().all(|c| rest.any(|r| r == c))
    };
    let mut keys = TITLE_LABELS
        .iter()
        .filter_map(|(name, labels)| labels.iter().any(|l| near(l)).then_some(*name));
    let first = keys.next()?;
    keys.all(|k| k == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_block_key_maps_english_and_german_labels() {
        struct Case {
            label: &'static str,
            want: Option<&'static str>,
        }
        let cases = [
            Case {
                label: "DWG NO.",
                want: Some("drawing_number"),
            },
            Case {
                label: "DRAWING NUMBER",
                want: Some("drawing_number"),
            },
            Case {
                label: "Zeichnungsnummer",
                want: Some("drawing_number"),
            },
            Case {
                label: "Zeichnungs-Nr.:",
                want: Some("drawing_number"),
            },
            Case {
                label: "TITLE",
                want: Some("title"),
            },
            Case {
                label: "Benennung",
                want: Some("title"),
            },
            Case {
                label: "MATERIAL",
                want: Some("material"),
            },
            Case {
                label: "Mat'l",
                want: Some("material"),
            },
            Case {
                label: "Werkstoff",
                want: Some("material"),
            },
            Case {
                label: "SCALE",
                want: Some("scale"),
            },
            Case {
                label: "Maßstab",
                want: Some("scale"),
            },
            Case {
                label: "SHEET",
                want: Some("sheet"),
            },
            Case {
                label: "Blatt",
                want: Some("sheet"),
            },
            Case {
                label: "REV",
                want: Some("revision"),
            },
            Case {
                label: "REVISION",
                want: Some("revision"),
            },
            Case {
                label: "DATE",
                want: Some("date"),
            },
            Case {
                label: "Datum",
                want: Some("date"),
            },
            Case {
                label: "WEIGHT",
                want: Some("weight"),
            },
            Case {
                label: "MASS (kg)",
                want: Some("weight"),
            },
            Case {
                label: "Gewicht",
                want: Some("weight"),
            },
            Case {
                label: "GENERAL TOLERANCES",
                want: Some("general_tolerance"),
            },
            Case {
                label: "Allgemeintoleranzen",
                want: Some("general_tolerance"),
            },
            Case {
                label: "Freimaßtoleranz",
                want: Some("general_tolerance"),
            },
            Case {
                label: "General tolerances acc. to ISO 2768",
                want: Some("general_tolerance"),
            },
            Case {
                label: "DRAWN",
                want: None,
            },
            Case {
                label: "SURFACE FINISH",
                want: None,
            },
            Case {
                label: "",
                want: None,
            },
        ];
        for case in &cases {
            assert_eq!(title_block_key(case.label), case.want, "{:?}", case.label);
        }
    }

    #[test]
    fn labels_misread_by_a_letter_or_an_accent_are_labels() {
        let cases = [
            ("TITLLE", Some("title")),
            ("T1TTLE", Some("title")),
            ("TITITLE", Some("title")),
            ("Benennúng", Some("title")),
            ("MATERAL", Some("material")),
            ("Werkstof", Some("material")),
            // Too short to tell from other words, or too far from any label.
            ("TLE", None),
            ("REW", None),
            ("Welle", None),
            ("Flansch", None),
            ("SPACER", None),
            ("ZN 71240.17", None),
        ];
        for (label, want) in cases {
            assert_eq!(title_block_key(label), want, "{label:?}");
        }
    }

    #[test]
    fn aluminium_read_with_a_capital_i_is_written_right() {
        let cases = [
            ("AIMg3", "AlMg3"),
            ("Ti6AI4V", "Ti6Al4V"),
            ("EN AW-AIMgSi1", "EN AW-AlMgSi1"),
            ("AISi10Mg", "AlSi10Mg"),
            ("AI 99.5", "Al 99.5"),
            // Not aluminium: left as read.
            ("AISI 304", "AISI 304"),
            ("MAIN", "MAIN"),
            ("S235JR", "S235JR"),
        ];
        for (read, want) in cases {
            assert_eq!(material_reading(read), want, "{read:?}");
        }
    }
}
