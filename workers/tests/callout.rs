//! The callout recogniser (`models/callout/`) on a real drawing: it reads the
//! diameter sign, decimal comma and ± of `Ø21,5±0,1` on `Candle_holder.jpg` (a
//! drawing it was not trained on), reads the same with room above and below the
//! text (the crop is cut to its text's rows first), and `edocr` keeps PP-OCR's
//! reading beside a text the recogniser changed.

use drawpipe_core::StagePlan;
use drawpipe_workers::local::Analyzer;
use drawpipe_workers::ort_env::{self, Device};
use drawpipe_workers::stages::ocr::CalloutReader;
use opencv::core::{self, Mat, Rect, Scalar};
use opencv::imgcodecs;
use opencv::prelude::*;
use serde_json::json;

fn page() -> Mat {
    let path = format!(
        "{}/../tests/fixtures/drawings/Candle_holder.jpg",
        env!("CARGO_MANIFEST_DIR")
    );
    imgcodecs::imread(&path, imgcodecs::IMREAD_GRAYSCALE).unwrap()
}

/// A file under `tests/fixtures/`.
fn fixture(path: &str) -> Vec<u8> {
    let path = format!("{}/../tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `edocr`'s dimensions on a fixture (a path under `tests/fixtures/`), default options.
fn edocr_dimensions(path: &str) -> Vec<serde_json::Value> {
    let plan = StagePlan::parse("edocr").unwrap();
    let r = Analyzer::shared().analyze(&fixture(path), &plan, &json!({}));
    r.extra["dimensions"].as_array().unwrap().clone()
}

fn reader() -> CalloutReader {
    CalloutReader::load(&ort_env::models_dir(), Device::Cpu, 1)
        .unwrap()
        .expect("models/callout/manifest.json is in the repository")
}

#[test]
fn reads_drawing_symbols_on_a_real_drawing() {
    let page = page();
    let r = reader();
    // The boxes `edocr` finds for these lines on this page.
    let tol = Mat::roi(&page, Rect::new(937, 1337, 193, 46))
        .unwrap()
        .try_clone()
        .unwrap();
    let dia = Mat::roi(&page, Rect::new(125, 454, 86, 45))
        .unwrap()
        .try_clone()
        .unwrap();
    let read = r.read(&[tol.clone(), dia]).unwrap();
    assert_eq!(read[0].0, "⌀21,5±0,1", "{read:?}");
    assert_eq!(read[1].0, "⌀42", "{read:?}");
    assert!(read.iter().all(|(_, c)| *c > 0.9), "{read:?}");
    // With as much white again above and below, the same reading.
    let mut tall = Mat::default();
    core::copy_make_border(
        &tol,
        &mut tall,
        46,
        46,
        0,
        0,
        core::BORDER_CONSTANT,
        Scalar::all(255.0),
    )
    .unwrap();
    assert_eq!(r.read(&[tall]).unwrap()[0].0, "⌀21,5±0,1");
}

#[test]
fn a_dimension_the_recogniser_changed_keeps_the_ppocr_reading() {
    let bytes = fixture("drawings/Candle_holder.jpg");
    let plan = StagePlan::parse("edocr").unwrap();
    let on = Analyzer::shared().analyze(&bytes, &plan, &json!({}));
    let dims = on.extra["dimensions"].as_array().unwrap();
    let changed: Vec<_> = dims
        .iter()
        .filter(|d| d.get("ppocr_read").is_some())
        .collect();
    assert!(!changed.is_empty(), "{dims:?}");
    for d in &changed {
        // Only drawing symbols differ: the digits are PP-OCR's, less a `0` it read
        // for a `⌀` or a `°`.
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        let (raw, before) = (
            digits(d["raw"].as_str().unwrap()),
            digits(d["ppocr_read"].as_str().unwrap()),
        );
        assert!(
            before == raw
                || before.strip_prefix('0') == Some(raw.as_str())
                || before.strip_suffix('0') == Some(raw.as_str()),
            "{d}"
        );
    }
    // Per job, off: no dimension says it was changed.
    let off =
        Analyzer::shared().analyze(&bytes, &plan, &json!({"edocr": {"callout_symbols": false}}));
    let dims_off = off.extra["dimensions"].as_array().unwrap();
    assert!(dims_off.iter().all(|d| d.get("ppocr_read").is_none()));
    assert_eq!(dims_off.len(), dims.len());
}

/// Glyphs PP-OCR has no class for, on a crop of a real CAD drawing
/// (`tests/fixtures/vector-crops/depth_signs.png`, tune data): the depth sign of
/// `⌀2.50 ↧5` leaves a gap between the two numbers that is read as a space, not as
/// one number `2.505`; a depth sign read as `T` and Chinese callout words
/// (`完全贯穿`, through all) stand in a thread callout's tail.
#[test]
fn numbers_either_side_of_an_unread_glyph_stay_apart() {
    let dims = edocr_dimensions("vector-crops/depth_signs.png");
    let numbers = |d: &serde_json::Value| -> Vec<String> {
        d["raw"]
            .as_str()
            .unwrap()
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|s| s.chars().any(|c| c.is_ascii_digit()))
            .map(str::to_string)
            .collect()
    };
    // Every number read is one printed there: none glued across a depth sign.
    let printed = ["2", "3", "4", "6", "5", "2.50", "169", "165", "94", "47"];
    for d in &dims {
        for n in numbers(d) {
            assert!(printed.contains(&n.as_str()), "{n} in {d}");
        }
    }
    // Both `⌀2.50 ↧5` callouts: a diameter of 2.5 with its depth 5 beside it.
    let holes: Vec<_> = dims
        .iter()
        .filter(|d| d["kind"] == "diameter" && numbers(d) == ["2.50", "5"])
        .collect();
    assert_eq!(holes.len(), 2, "{dims:?}");
    assert!(holes.iter().all(|d| d["nominal"] == 2.5), "{holes:?}");
    // The three thread callouts, with their counts: one ending in Chinese words,
    // two in a depth (one with its sign read as `T`).
    let mut threads: Vec<(i64, String)> = dims
        .iter()
        .filter(|d| d["kind"] == "thread")
        .map(|d| {
            (
                d["count"].as_i64().unwrap(),
                d["thread"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    threads.sort();
    assert_eq!(
        threads,
        [
            (2, "M3-6H".to_string()),
            (4, "M3-6H".to_string()),
            (4, "M3-6H".to_string())
        ]
    );
}

/// A stacked tolerance read as one row without one of its deviations: `40,4` with
/// `0` over `-0,013` (turned 90°, on a synthetic tune drawing, scan noise and all)
/// comes back from PP-OCR as `40,4 -0,013`. The two bands of ink after the number
/// are read apart, and the `0` joins, above the `-0,013`; PP-OCR's reading is kept.
#[test]
fn a_stacked_deviation_read_as_one_row_gets_its_partner() {
    let bytes = fixture("synthetic/stacked_zero.png");
    let plan = StagePlan::parse("edocr").unwrap();
    let r = Analyzer::shared().analyze(&bytes, &plan, &json!({}));
    let dims = r.extra["dimensions"].as_array().unwrap();
    let d = dims
        .iter()
        .find(|d| d["nominal"] == 40.4)
        .unwrap_or_else(|| panic!("no 40,4 in {dims:?}"));
    assert_eq!(d["raw"], "40,4 0 -0,013", "{d}");
    assert_eq!(
        (d["upper"].as_f64(), d["lower"].as_f64()),
        (Some(0.0), Some(-0.013))
    );
    assert_eq!(d["ppocr_read"], "40,4 -0,013", "{d}");
    // Without the second reads, PP-OCR's row as it was.
    let off = Analyzer::shared().analyze(
        &bytes,
        &plan,
        &json!({"edocr": {"reread_tolerances": false}}),
    );
    let raws: Vec<&str> = off.extra["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["raw"].as_str())
        .collect();
    assert!(raws.contains(&"40,4 -0,013"), "{raws:?}");
}

/// `2.25` written upwards with an extension line crossing it (a crop of OpenEAI-Arm
/// JXS-02-04, tune2): the detector finds it as two pieces, `2` and the rest, which
/// read alone as `2` and `.25` (or `25`). Read again as one box, it is one
/// dimension of 2.25, and no piece is left there as a dimension of its own.
#[test]
fn a_number_cut_by_a_line_of_the_drawing_reads_whole() {
    let dims = edocr_dimensions("vector-crops/cut_by_lines.png");
    let near = |d: &serde_json::Value| {
        let b = d["bbox"].as_array().unwrap();
        let (x, y) = (b[0].as_f64().unwrap(), b[1].as_f64().unwrap());
        (100.0..220.0).contains(&x) && (150.0..300.0).contains(&y)
    };
    let there: Vec<_> = dims.iter().filter(|d| near(d)).collect();
    assert_eq!(there.len(), 1, "{there:?}");
    assert_eq!(there[0]["nominal"], 2.25, "{there:?}");
}

/// `20` and `15.50` written upwards one after the other in a column, `15.50` cut at
/// its decimal point by an extension line (a crop of OpenEAI-Arm JXS-03-02, tune2):
/// the pieces `50` and `15` are one number, `20` stays a number of its own (read
/// as one chain the column gives `2015.50`).
#[test]
fn a_cut_number_in_a_column_of_numbers_is_joined_without_its_neighbour() {
    let dims = edocr_dimensions("vector-crops/column_of_numbers.png");
    let mut column: Vec<f64> = dims
        .iter()
        .filter(|d| {
            let b = d["bbox"].as_array().unwrap();
            let (x, y) = (b[0].as_f64().unwrap(), b[1].as_f64().unwrap());
            (150.0..230.0).contains(&x) && y < 250.0
        })
        .map(|d| d["nominal"].as_f64().unwrap())
        .collect();
    column.sort_by(f64::total_cmp);
    assert_eq!(column, [15.5, 20.0], "{dims:?}");
}

/// Numbers written upwards that the text detector finds only in part, `5` of
/// `1.50` (an arrow crosses it) and `5` of `55` (crops of OpenEAI-Arm JXS-02-01 and
/// JXS-04-02, tune2): read again in a box grown along the text, they come out
/// whole, and nothing else on the crops is read as a dimension.
#[test]
fn a_short_number_found_in_part_is_read_whole() {
    for (file, want) in [
        ("short_number_1_50.png", 1.5),
        ("short_number_55.png", 55.0),
    ] {
        let dims = edocr_dimensions(&format!("vector-crops/{file}"));
        let nominals: Vec<f64> = dims
            .iter()
            .map(|d| d["nominal"].as_f64().unwrap())
            .collect();
        assert_eq!(nominals, [want], "{file}: {dims:?}");
    }
}

/// Two dimensions of a chain, `8` and `10` with their arrows between, found by the
/// text detector as one line and read `810` (synthetic tune drawing, seed 4242):
/// the line's glyphs stand in two groups far apart, each read on its own.
#[test]
fn two_dimensions_of_a_chain_read_as_one_line_are_read_apart() {
    let dims = edocr_dimensions("synthetic/chain_8_10.png");
    let mut nominals: Vec<f64> = dims
        .iter()
        .map(|d| d["nominal"].as_f64().unwrap())
        .collect();
    nominals.sort_by(f64::total_cmp);
    assert_eq!(nominals, [8.0, 10.0], "{dims:?}");
    // Each where its own glyphs are: `8` left of `10`.
    let x = |v: f64| {
        let d = dims
            .iter()
            .find(|d| d["nominal"].as_f64() == Some(v))
            .unwrap();
        d["bbox"][0].as_f64().unwrap()
    };
    assert!(x(8.0) + 40.0 < x(10.0), "{dims:?}");
}

/// `75` with `-0.02` over `-0.05`, read by PP-OCR as one row `75 -0 3` (synthetic
/// tune drawing, seed 4242): the number and each band of the stack are read on
/// their own, and the dimension carries both deviations.
#[test]
fn a_stack_read_as_one_unreadable_row_is_read_band_by_band() {
    let dims = edocr_dimensions("synthetic/stacked_75.png");
    assert_eq!(dims.len(), 1, "{dims:?}");
    let d = &dims[0];
    assert_eq!(d["nominal"].as_f64(), Some(75.0), "{d}");
    assert_eq!(d["upper"].as_f64(), Some(-0.02), "{d}");
    assert_eq!(d["lower"].as_f64(), Some(-0.05), "{d}");
}

/// `Ø60` and `Ø90` written upwards side by side (synthetic tune drawing, seed 6061):
/// each is the other turned over, and the recogniser reads the sign as `0` (`060`
/// upwards, `090` downwards). The way whose first glyph is the diameter sign is the
/// text's, so `Ø60` is not read as a second `Ø90`.
#[test]
fn a_diameter_written_upwards_is_not_read_turned_over() {
    let dims = edocr_dimensions("synthetic/turned_signs_60_90.png");
    let mut read: Vec<(f64, String)> = dims
        .iter()
        .map(|d| {
            (
                d["nominal"].as_f64().unwrap(),
                d["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    read.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(
        read,
        [
            (60.0, "diameter".to_string()),
            (90.0, "diameter".to_string())
        ],
        "{dims:?}"
    );
}

/// `⌀62` written upwards in an italic font with a small sign (synthetic tune drawing,
/// seed 9191): the recogniser reads it `∅62` upwards, and surer `290` downwards (the
/// sign last, read as `0`). A reading that starts with the sign itself lets the
/// glyph test decide too, so the dimension is not read turned over.
#[test]
fn a_diameter_read_with_its_sign_upwards_is_not_read_turned_over() {
    let dims = edocr_dimensions("synthetic/turned_sign_62.png");
    assert_eq!(dims.len(), 1, "{dims:?}");
    assert_eq!(dims[0]["nominal"].as_f64(), Some(62.0), "{dims:?}");
    assert_eq!(dims[0]["kind"], "diameter", "{dims:?}");
}
