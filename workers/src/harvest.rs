//! `drawpipe harvest PDF... --out DIR`: OCR errors with their true text, from
//! CAD-exported PDFs whose text layer states every printed character.
//!
//! Each page with a usable text layer is also read from its pixels (the `ocr`
//! stage). Every pixel-read line holding a digit is paired with the text-layer
//! lines inside it; where the two disagree, the pixels were misread, and the line
//! is written out as training data for the callout recogniser
//! (`models/training/callout`): the page (`<stem>.p<N>.png`), eDOCr2 ground truth
//! of the disagreeing lines (`<stem>.p<N>.csv`: 8 corners, then the text-layer
//! text), a crop of each as the recogniser sees it (`crops/<stem>.p<N>.<k>.png`,
//! level; tall boxes turned counter-clockwise) and `harvest.tsv` (crop, truth, OCR
//! reading, confidence, kind of error).
//!
//! Not errors, so skipped: a diameter sign and parentheses (CAD programs often
//! draw them as line work, so the text layer lacks them), a degree sign where the
//! layer has none (a symbol-font glyph it does not decode), whitespace, and readings that hold the same
//! characters in another order (stacked tolerances come out of the text layer in
//! either order). A pixel-read line is compared only when the text-layer lines it
//! holds lie mostly (70 %) inside it and fill at least a third of it, so that a
//! line the detector cut short or ran into its neighbour is not taken for an error.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use opencv::core::{Mat, Vector};

use crate::eval::{failure_kind, truth_row};
use crate::geometry::{area, intersection};
use crate::stages::ocr::{self, OcrEngine, TextLine};
use crate::stages::{decode_page, preprocess};
use crate::text_layer::LayerLine;
use crate::write_file as write;

/// What a harvest found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Harvest {
    /// Pages with a usable text layer.
    pub pages: usize,
    /// Pixel-read lines with a digit that could be paired with text-layer lines.
    pub compared: usize,
    /// Of those, read as the text layer states.
    pub agreeing: usize,
    /// The disagreements written out.
    pub errors: Vec<Disagreement>,
}

/// One line the pixels misread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub truth: String,
    pub read: String,
    pub kind: &'static str,
    /// `crops/<name>`, relative to the output folder.
    pub crop: String,
}

/// Characters compared: whitespace, diameter signs and parentheses left out.
fn canonical(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, 'Ø' | '⌀' | 'ø' | '∅' | '(' | ')'))
        .collect()
}

/// The text-layer text inside a pixel-read line, when the line can be judged: the
/// layer lines lying ≥ 70 % inside it, together covering ≥ a third of it, in
/// reading order (top to bottom, then left to right).
pub fn truth_for(line: &[f32; 4], layer: &[LayerLine]) -> Option<String> {
    let mut inside: Vec<&LayerLine> = layer
        .iter()
        .filter(|l| area(&l.bbox) > 0.0 && intersection(&l.bbox, line) >= 0.7 * area(&l.bbox))
        .collect();
    let covered: f32 = inside.iter().map(|l| intersection(&l.bbox, line)).sum();
    if inside.is_empty() || covered < area(line) / 3.0 {
        return None;
    }
    inside.sort_by(|a, b| {
        let (ay, by) = (a.bbox[1] + a.bbox[3] / 2.0, b.bbox[1] + b.bbox[3] / 2.0);
        let row = a.bbox[3].min(b.bbox[3]) / 2.0;
        if (ay - by).abs() > row {
            ay.total_cmp(&by)
        } else {
            a.bbox[0].total_cmp(&b.bbox[0])
        }
    });
    Some(
        inside
            .iter()
            .map(|l| l.text.trim())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Whether `read` misreads `truth`: different characters, not merely another order
/// or a diameter sign.
pub fn misread(truth: &str, read: &str) -> bool {
    let (t, mut r) = (canonical(truth), canonical(read));
    // A degree sign the layer lacks is often a symbol-font glyph it does not decode.
    if !t.contains('°') {
        r.retain(|c| c != '°');
    }
    if t == r {
        return false;
    }
    let sorted = |s: &str| {
        let mut v: Vec<char> = s.chars().collect();
        v.sort_unstable();
        v
    };
    sorted(&t) != sorted(&r)
}

/// Reads `files` both ways and writes the disagreements into `out`.
///
/// # Errors
/// An unreadable file, a stage failure, or an unwritable folder (named).
pub fn harvest(
    files: &[PathBuf],
    engine: &OcrEngine,
    params: &ocr::Params,
    out: &Path,
) -> anyhow::Result<Harvest> {
    let crops = out.join("crops");
    std::fs::create_dir_all(&crops)
        .with_context(|| format!("cannot create {}", crops.display()))?;
    let mut found = Harvest::default();
    let mut tsv = String::from("crop\ttruth\tread\tconfidence\tkind\tpage_image\tbbox\n");
    let pre_params = preprocess::Params {
        text_layer: true,
        ..Default::default()
    };
    for file in files {
        let name = file.display().to_string();
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "drawing".into());
        let bytes = std::fs::read(file).with_context(|| format!("cannot read {name}"))?;
        let pre =
            preprocess::run(&pre_params, &bytes).with_context(|| format!("preprocess {name}"))?;
        let (compared, errors) = (found.compared, found.errors.len());
        for page in &pre.pages {
            let index = page.info.index;
            let Some(layer) = pre.text_layer.iter().find(|l| l.page == index) else {
                continue;
            };
            if layer.lines.is_empty() {
                continue;
            }
            found.pages += 1;
            let image = decode_page(&page.png).with_context(|| format!("page of {name}"))?;
            let lines = ocr::run(
                params,
                engine,
                &ocr::GrayPage {
                    index,
                    image: &image,
                },
            )
            .with_context(|| format!("ocr {name}"))?
            .lines;
            let base = format!("{stem}.p{index}");
            let mut csv = String::new();
            for l in lines
                .iter()
                .filter(|l| l.text.chars().any(|c| c.is_ascii_digit()))
            {
                let Some(truth) = truth_for(&l.bbox, &layer.lines) else {
                    continue;
                };
                found.compared += 1;
                if !misread(&truth, &l.text) {
                    found.agreeing += 1;
                    continue;
                }
                let crop = format!("{base}.{}.png", found.errors.len());
                write_crop(&image, l, &crops.join(&crop))?;
                let kind = failure_kind(&truth, &l.text);
                csv.push_str(&truth_row(&l.polygon, &truth));
                csv.push('\n');
                let _ = writeln!(
                    tsv,
                    "crops/{crop}\t{truth}\t{}\t{:.3}\t{kind}\t{base}.png\t{:.0},{:.0},{:.0},{:.0}",
                    l.text, l.confidence, l.bbox[0], l.bbox[1], l.bbox[2], l.bbox[3]
                );
                found.errors.push(Disagreement {
                    truth,
                    read: l.text.clone(),
                    kind,
                    crop: format!("crops/{crop}"),
                });
            }
            if !csv.is_empty() {
                write(&out.join(format!("{base}.png")), &page.png)?;
                write(&out.join(format!("{base}.csv")), csv.as_bytes())?;
            }
        }
        eprintln!(
            "harvest: {name}: {} line(s) compared, {} misread",
            found.compared - compared,
            found.errors.len() - errors
        );
    }
    write(&out.join("harvest.tsv"), tsv.as_bytes())?;
    Ok(found)
}

/// The line as the recogniser reads it (`crop_line`: tall boxes turned
/// counter-clockwise), as PNG.
fn write_crop(page: &Mat, l: &TextLine, path: &Path) -> anyhow::Result<()> {
    let crop = ocr::crop_line(page, &l.polygon)?;
    let mut buf = Vector::<u8>::new();
    opencv::imgcodecs::imencode(".png", &crop, &mut buf, &Vector::new())?;
    write(path, buf.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(text: &str, bbox: [f32; 4]) -> LayerLine {
        LayerLine {
            text: text.into(),
            bbox,
        }
    }

    #[test]
    fn truth_is_the_layer_text_inside_in_reading_order() {
        let l = [
            layer("+0,10", [120.0, 10.0, 40.0, 10.0]),
            layer("21,00", [60.0, 12.0, 55.0, 20.0]),
            layer("-0,10", [120.0, 22.0, 40.0, 10.0]),
            layer("SCALE", [400.0, 10.0, 60.0, 20.0]),
        ];
        assert_eq!(
            truth_for(&[55.0, 5.0, 110.0, 30.0], &l).as_deref(),
            Some("+0,10 21,00 -0,10")
        );
        // A box cut short of its text: not judged.
        assert_eq!(truth_for(&[60.0, 12.0, 20.0, 20.0], &l), None);
        // A box mostly empty of layer text: not judged.
        assert_eq!(truth_for(&[400.0, 0.0, 300.0, 200.0], &l), None);
    }

    /// A real CAD-exported PDF (tune data: `tests/fixtures/unseen` was tuned on),
    /// read both ways: most lines agree, and every disagreement is written as a
    /// crop, a ground-truth row that `drawpipe eval` can read, and a tsv row.
    #[test]
    fn harvests_a_vector_pdf() {
        let engine =
            OcrEngine::load(&ocr::EngineConfig::default()).expect("models: run models/fetch.sh");
        let out = std::env::temp_dir().join(format!("drawpipe-harvest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let pdf = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/unseen/Elevator_bottom.PDF");
        let h = harvest(&[pdf], &engine, &ocr::Params::default(), &out).unwrap();
        assert_eq!(h.pages, 1);
        assert!(h.compared >= 15, "{h:?}");
        assert!(h.agreeing * 10 >= h.compared * 7, "{h:?}");
        let tsv = std::fs::read_to_string(out.join("harvest.tsv")).unwrap();
        assert_eq!(tsv.lines().count(), h.errors.len() + 1, "{tsv}");
        let mut rows = Vec::new();
        for f in std::fs::read_dir(&out).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "csv") {
                rows.extend(
                    crate::eval::read_truth(&std::fs::read_to_string(&f).unwrap()).unwrap(),
                );
                assert!(f.with_extension("png").is_file(), "{f:?} without its page");
            }
        }
        assert_eq!(rows.len(), h.errors.len());
        for (e, r) in h.errors.iter().zip(&rows) {
            assert_eq!(e.truth, r.text);
            assert!(misread(&e.truth, &e.read), "{e:?}");
            let png = std::fs::read(out.join(&e.crop)).unwrap();
            assert_eq!(&png[1..4], b"PNG", "{}", e.crop);
        }
        let _ = std::fs::remove_dir_all(&out);
    }

    #[test]
    fn misreadings_are_told_from_order_and_missing_signs() {
        assert!(misread("45°", "450"));
        assert!(!misread("DOWN 90", "DOWN 90°"));
        assert!(misread("2,5", "25"));
        assert!(!misread("21,00 +0,10 -0,10", "21,00 -0,10 +0,10"));
        assert!(!misread("12", "Ø12"));
        assert!(!misread("+ 0.10", "(+0.10)"));
        assert!(misread("10.00 max.", "10.00 max"));
        assert!(!misread("M4x0.7 - 6H", "M4x0.7-6H"));
    }
}
