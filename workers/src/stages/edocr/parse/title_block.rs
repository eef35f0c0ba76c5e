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
    let general = key.contains("2768")
        || key.starts_with("general tol")
        || key.starts_with("allgemeintol")
        || key.starts_with("freimass");
    general.then_some("general_tolerance")
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
}
