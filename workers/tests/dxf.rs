//! DXF uploads: one test file per entity kind (written by
//! `tests/fixtures/dxf/make_dxf.py`), read through the real stages (`preprocess`
//! reads the file and renders a raster, `ocr` takes its texts as the text layer,
//! `edocr` parses them), checked for the rows each file must give.

use drawpipe_core::report::Report;
use drawpipe_core::{JobStatus, StagePlan};
use drawpipe_workers::local::Analyzer;
use serde_json::json;

fn read(name: &str) -> Report {
    let path = format!(
        "{}/../tests/fixtures/dxf/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let r = Analyzer::shared().analyze(&bytes, &StagePlan::parse("edocr").unwrap(), &json!({}));
    assert_eq!(r.status, JobStatus::Completed, "{name}: {:?}", r.stages);
    assert_eq!(r.drawing.media_type, "image/vnd.dxf");
    r
}

/// `(raw, nominal, upper, lower)` of the report's dimensions, sorted by raw text.
fn dims(r: &Report) -> Vec<(String, f64, Option<f64>, Option<f64>)> {
    let mut v: Vec<_> = r.extra["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["source"], "text_layer", "{d}");
            (
                d["raw"].as_str().unwrap().to_string(),
                d["nominal"].as_f64().unwrap(),
                d["upper"].as_f64(),
                d["lower"].as_f64(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn dimension_entities_give_measured_values_overrides_and_entity_tolerances() {
    let r = read("dimension.dxf");
    let cad = &r.extra["cad"];
    assert_eq!(cad["units"], "mm");
    assert_eq!(cad["entities"]["DIMENSION"], 5);
    let kinds: Vec<&str> = cad["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["linear", "diameter", "radius", "angle", "linear"]);
    // The angle is stored in radians and reported in degrees.
    assert!((cad["dimensions"][3]["measurement"].as_f64().unwrap() - 45.0).abs() < 1e-9);
    // The diameter's own DSTYLE override turned tolerances on: ±0.02, 2 decimals.
    assert_eq!(cad["dimensions"][1]["text"], "Ø12.00±0.02");
    assert_eq!(cad["dimensions"][4]["text"], "20.0 TYP");
    assert_eq!(
        dims(&r),
        vec![
            (s("20.0"), 20.0, None, None),
            (s("42.5"), 42.5, None, None),
            (s("45.0°"), 45.0, None, None),
            (s("R5.0"), 5.0, None, None),
            (s("Ø12.00±0.02"), 12.0, Some(0.02), Some(-0.02)),
        ]
    );
    let kinds: Vec<(String, String)> = r.extra["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["raw"].as_str().unwrap().into(),
                d["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&(s("Ø12.00±0.02"), s("diameter"))),
        "{kinds:?}"
    );
    assert!(kinds.contains(&(s("R5.0"), s("radius"))), "{kinds:?}");
    assert!(kinds.contains(&(s("45.0°"), s("angle"))), "{kinds:?}");
}

#[test]
fn a_dimension_style_with_tolerances_on_gives_its_deviations() {
    let r = read("tolerance_style.dxf");
    assert_eq!(
        dims(&r),
        vec![
            (s("12,5±0,2"), 12.5, Some(0.2), Some(-0.2)),
            (s("30.00 +0.10 -0.05"), 30.0, Some(0.1), Some(-0.05)),
        ]
    );
    assert_eq!(r.extra["cad"]["dimensions"][0]["style"], "TOL");
}

/// `DIMLIM` (from the style, or turned on by the entity's `DSTYLE` override) prints
/// the limits, value + `DIMTP` over value − `DIMTM`; the parser reads limits as their
/// mean with a symmetric band, and the `cad` row keeps the file's own deviations.
#[test]
fn a_dimension_style_with_limits_on_gives_the_limits() {
    let r = read("limits.dxf");
    let d = dims(&r);
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(d[0].0, "16.10/15.95");
    assert!((d[0].1 - 16.025).abs() < 1e-9, "{d:?}");
    assert!((d[0].2.unwrap() - 0.075).abs() < 1e-9, "{d:?}");
    assert!((d[0].3.unwrap() + 0.075).abs() < 1e-9, "{d:?}");
    assert_eq!(d[1].0, "Ø8.10/7.95");
    let cad = r.extra["cad"]["dimensions"].as_array().unwrap();
    let lim = cad.iter().find(|c| c["style"] == "LIM").unwrap();
    assert_eq!(lim["measurement"], 16.0);
    assert_eq!(lim["upper"], 0.1);
    assert_eq!(lim["lower"], -0.05);
    let overridden = cad.iter().find(|c| c["style"] == "TOL").unwrap();
    assert_eq!(overridden["text"], "Ø8.10/7.95");
}

#[test]
fn text_entities_with_control_codes_are_read_as_printed() {
    let r = read("text.dxf");
    let d = dims(&r);
    assert_eq!(d.len(), 3, "{d:?}");
    assert_eq!(d[0].0, "45°");
    assert_eq!(d[1].0, "M6x1-6H");
    // Ø8 H7: ISO 286 resolves the fit to +0.015 / 0.
    assert_eq!(d[2], (s("Ø8 H7"), 8.0, Some(0.015), Some(0.0)));
}

#[test]
fn mtext_formatting_codes_and_stacked_tolerances_are_undone() {
    let r = read("mtext.dxf");
    assert_eq!(
        dims(&r),
        vec![(s("Ø21,00+0,10-0,05"), 21.0, Some(0.1), Some(-0.05))]
    );
    let text: Vec<&str> = r.extra["text"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert!(text.contains(&"SEE NOTE 2"), "{text:?}");
}

#[test]
fn a_tolerance_entity_is_a_gdt_frame() {
    let r = read("gdt.dxf");
    let g = r.extra["gdt"].as_array().unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(g[0]["characteristic"], "position");
    assert_eq!(g[0]["tolerance"], 0.05);
    assert_eq!(g[0]["diameter_zone"], true);
    assert_eq!(g[0]["modifiers"], json!(["MMC"]));
    assert_eq!(g[0]["datums"], json!(["A", "B"]));
    assert!(g[0]["bbox"][2].as_f64().unwrap() > 0.0);
}

#[test]
fn insert_attributes_fill_the_title_block() {
    let r = read("title_block.dxf");
    let tb = &r.extra["title_block"];
    assert_eq!(tb["title"], "BRACKET");
    assert_eq!(tb["drawing_number"], "DP-0042");
    assert_eq!(tb["material"], "EN AW-6082");
    assert_eq!(tb["revision"], "B");
    assert_eq!(r.extra["cad"]["attributes"]["DWG_NO"], "DP-0042");
}

#[test]
fn a_broken_dxf_fails_its_job_with_a_clear_error() {
    let bytes = b"  0\nSECTION\n  2\nENTITIES\n  0\nLINE\n 10\nnot-a-number\n".to_vec();
    let r = Analyzer::shared().analyze(&bytes, &StagePlan::parse("edocr").unwrap(), &json!({}));
    assert_eq!(r.status, JobStatus::Failed);
    let err = r.stages["preprocess"].error.clone().unwrap_or_default();
    assert!(err.contains("DXF"), "{err}");
    let empty = b"  0\nSECTION\n  2\nENTITIES\n  0\nENDSEC\n  0\nEOF\n".to_vec();
    let r = Analyzer::shared().analyze(&empty, &StagePlan::parse("edocr").unwrap(), &json!({}));
    let err = r.stages["preprocess"].error.clone().unwrap_or_default();
    assert!(err.contains("no entities"), "{err}");
}

/// A block placed by an `INSERT` (scaled 2, turned 90°) is drawn where it lands: its
/// line from (100, 60) to (100, 80) and its circle of radius 10 about (100, 60).
#[test]
fn an_inserts_block_is_drawn_where_it_lands() {
    use opencv::prelude::*;
    let path = format!(
        "{}/../tests/fixtures/dxf/block.dxf",
        env!("CARGO_MANIFEST_DIR")
    );
    let sheet = drawpipe_workers::cad::read(&std::fs::read(path).unwrap()).unwrap();
    let img = drawpipe_workers::stages::decode_page(&sheet.png).unwrap();
    // Dark within 3 px of a model-space point.
    let ink = |x: f64, y: f64| {
        let (px, py) = sheet.to_pixel(x, y);
        (-3..=3).any(|dy| {
            (-3..=3).any(|dx| {
                let (c, r) = (px.round() as i32 + dx, py.round() as i32 + dy);
                *img.at_2d::<u8>(r, c).unwrap() < 128
            })
        })
    };
    assert!(ink(100.0, 70.0), "the block's line, turned up");
    assert!(
        ink(110.0, 60.0) && ink(90.0, 60.0) && ink(100.0, 50.0),
        "the block's circle, radius 10"
    );
    assert!(!ink(105.0, 60.0), "nothing but the block there");
    assert!(ink(50.0, 0.0), "the frame");
}

/// Tables in the drawing area read into rows: the hole table's positions and sizes
/// are dimensions with their column's header (the SIZE column's `Ø6.6` twice), its
/// tags are not; the parts list's item numbers and quantities are table text only,
/// and its one material fills the title block's.
#[test]
fn a_hole_tables_sizes_are_dimensions_a_parts_lists_numbers_are_not() {
    let r = read("hole_table.dxf");
    let mut got: Vec<(String, String, Option<String>)> = r.extra["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["raw"].as_str().unwrap().to_string(),
                d["kind"].as_str().unwrap().to_string(),
                d["table_column"].as_str().map(str::to_string),
            )
        })
        .collect();
    got.sort();
    let col = |c: &str| Some(c.to_string());
    assert_eq!(
        got,
        vec![
            (s("12.5"), s("linear"), col("X LOC")),
            (s("25"), s("linear"), None),
            (s("40"), s("linear"), col("X LOC")),
            (s("8"), s("linear"), col("Y LOC")),
            (s("8"), s("linear"), col("Y LOC")),
            (s("Ø6.6"), s("diameter"), col("SIZE")),
            (s("Ø6.6"), s("diameter"), col("SIZE")),
        ]
    );
    let tables = r.extra["tables"].as_array().unwrap();
    let kinds: Vec<&str> = tables.iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 2, "{tables:?}");
    assert!(kinds.contains(&"dimensions") && kinds.contains(&"parts_list"));
    let parts = tables.iter().find(|t| t["kind"] == "parts_list").unwrap();
    assert_eq!(
        parts["header"],
        json!(["ITEM", "DESCRIPTION", "MATERIAL", "QTY"])
    );
    assert_eq!(
        parts["rows"],
        json!([
            ["2", "RIB 40x8", "S235JR", "4"],
            ["1", "PLATE", "S235JR", "1"]
        ])
    );
    // The title block names no material; the parts list's one material is the drawing's.
    assert_eq!(r.extra["title_block"]["material"], "S235JR");
    // Labels alone in their cells, values in the cells to their right.
    assert_eq!(r.extra["title_block"]["drawing_number"], "HT-1");
    assert_eq!(r.extra["title_block"]["scale"], "1:1");
    let holes = tables.iter().find(|t| t["kind"] == "dimensions").unwrap();
    assert_eq!(holes["rows"][0], json!(["A1", "12.5", "8", "Ø6.6"]));
}
