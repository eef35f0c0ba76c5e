//! The overlay: a page with what was read drawn on it, for a person to check the
//! reading at a glance. One drawing, two forms: SVG ([`svg`]; the web viewer zooms
//! it and links each box to its table row through `data-kind` / `data-index`) and
//! PNG ([`png`], the SVG rendered by resvg with the bundled DejaVu Sans, so `⌀`, `°`
//! and `±` print as themselves).
//!
//! Each kind has its colour, named in the legend: dimensions labelled with their
//! parsed value and tolerance, those to review (confidence under [`REVIEW_BELOW`])
//! dashed in red, GD&T frames with characteristic and zone, detector boxes with
//! their class, and the page's layout (`layout`: title block, tables, the frame and
//! the zone strips, where nothing is read as a dimension).

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use serde_json::Value;

use crate::report::Report;

/// Dimensions read with a lower confidence are marked for review.
pub const REVIEW_BELOW: f64 = 0.9;

/// The font labels are set in (DejaVu Sans 2.37, its licence beside it).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// A kind of mark: its key in the report, legend text and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub key: &'static str,
    pub legend: &'static str,
    pub colour: &'static str,
}

pub const DIMENSION: Kind = Kind {
    key: "dimensions",
    legend: "dimension",
    colour: "#0064ff",
};
pub const REVIEW: Kind = Kind {
    key: "dimensions",
    legend: "dimension to review (confidence < 0.9)",
    colour: "#e60000",
};
pub const GDT: Kind = Kind {
    key: "gdt",
    legend: "GD&T frame",
    colour: "#c800c8",
};
pub const DETECTION: Kind = Kind {
    key: "detections",
    legend: "detection",
    colour: "#009600",
};
pub const TITLE_BLOCK: Kind = Kind {
    key: "layout",
    legend: "title block",
    colour: "#e68200",
};
pub const TABLE: Kind = Kind {
    key: "layout",
    legend: "table (parts list, revisions)",
    colour: "#8c5a28",
};
pub const ZONES: Kind = Kind {
    key: "layout",
    legend: "frame and zone strip (never dimensions)",
    colour: "#8c8c8c",
};

/// One thing to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub kind: Kind,
    /// Its position in the report's array for `kind.key` (the table row it links to).
    pub index: usize,
    /// `[x, y, width, height]`, page pixels.
    pub bbox: [f64; 4],
    pub label: String,
}

/// The page a drawing is made for: its index and size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub index: u32,
    pub width: u32,
    pub height: u32,
}

/// Everything on page `index` of `report`, detections and layout first so that dimensions and
/// frames are drawn over them.
pub fn marks(report: &Report, index: u32) -> Vec<Mark> {
    let mut out = Vec::new();
    for (i, d) in items(report, DETECTION.key, index) {
        if let Some(b) = bbox(d) {
            out.push(Mark {
                kind: DETECTION,
                index: i,
                bbox: b,
                label: d["class_name"].as_str().unwrap_or("").to_string(),
            });
        }
    }
    for (i, r) in items(report, "layout", index) {
        let kind = match r["kind"].as_str() {
            Some("title_block") => TITLE_BLOCK,
            Some("table") => TABLE,
            Some("frame" | "border_strip") => ZONES,
            _ => continue,
        };
        if let Some(b) = bbox(r) {
            out.push(Mark {
                kind,
                index: i,
                bbox: b,
                label: String::new(),
            });
        }
    }
    for (i, g) in items(report, GDT.key, index) {
        if let Some(b) = bbox(g) {
            let zone = g["tolerance"].as_f64().map(num).unwrap_or_default();
            let sign = if g["diameter_zone"] == true {
                "⌀"
            } else {
                ""
            };
            out.push(Mark {
                kind: GDT,
                index: i,
                bbox: b,
                label: format!("{} {sign}{zone}", g["symbol"].as_str().unwrap_or(""))
                    .trim()
                    .to_string(),
            });
        }
    }
    for (i, d) in items(report, DIMENSION.key, index) {
        if let Some(b) = bbox(d) {
            let unsure = d["confidence"].as_f64().unwrap_or(0.0) < REVIEW_BELOW;
            out.push(Mark {
                kind: if unsure { REVIEW } else { DIMENSION },
                index: i,
                bbox: b,
                label: dimension_label(d),
            });
        }
    }
    out
}

/// The overlay of page `page` as SVG: the page raster (grayscale PNG) embedded
/// when given, each mark a `<g class="mark" data-kind data-index>` holding its box
/// and label, and the legend.
pub fn svg(report: &Report, page: Page, raster_png: Option<&[u8]>) -> String {
    let (w, h) = (page.width.max(1), page.height.max(1));
    // Line and text sizes follow the page: about 2 px (at least 2, so that a box's
    // edge covers whole pixels) and 14 px per 1000 px.
    let unit = (f64::from(w.min(h)) / 1000.0).max(0.5);
    let stroke = (2.0 * unit).max(2.0).round();
    let font = 14.0 * unit;
    let mut s = String::with_capacity(raster_png.map_or(0, |p| p.len() * 4 / 3) + 8192);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans" font-size="{font:.1}">"#
    );
    match raster_png {
        Some(png) => {
            let _ = write!(
                s,
                r#"<image x="0" y="0" width="{w}" height="{h}" href="data:image/png;base64,{}"/>"#,
                base64::engine::general_purpose::STANDARD.encode(png)
            );
        }
        None => {
            let _ = write!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        }
    }
    for m in marks(report, page.index) {
        let [x, y, bw, bh] = m.bbox;
        let dash = if m.kind == REVIEW {
            format!(
                r#" stroke-dasharray="{:.1} {:.1}""#,
                4.0 * stroke,
                2.0 * stroke
            )
        } else {
            String::new()
        };
        let label = escape(&m.label);
        // Label above the box on a white ground (moved inside the page at the edges).
        let tw = 0.62 * font * m.label.chars().count() as f64 + 4.0;
        let lx = x.clamp(0.0, (f64::from(w) - tw).max(0.0));
        let ly = (y - 0.3 * font - stroke).max(font + 2.0);
        let _ = write!(
            s,
            r#"<g class="mark" data-kind="{key}" data-index="{i}" data-review="{review}"><rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="none" stroke="{c}" stroke-width="{stroke:.1}"{dash}/>"#,
            key = m.kind.key,
            i = m.index,
            review = m.kind == REVIEW,
            c = m.kind.colour,
        );
        if !m.label.is_empty() {
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{tw:.1}" height="{:.1}" fill="white" fill-opacity="0.85"/><text x="{:.1}" y="{:.1}" fill="{c}">{label}</text>"#,
                lx,
                ly - font,
                font * 1.25,
                lx + 2.0,
                ly,
                c = m.kind.colour,
            );
        }
        s.push_str("</g>");
    }
    legend(&mut s, font, stroke);
    s.push_str("</svg>");
    s
}

fn legend(s: &mut String, font: f64, stroke: f64) {
    let rows = [DIMENSION, REVIEW, GDT, DETECTION, TITLE_BLOCK, TABLE, ZONES];
    let line = 1.6 * font;
    let width = 0.62 * font * 40.0 + 3.0 * font;
    let _ = write!(
        s,
        r#"<g class="legend"><rect x="4" y="4" width="{width:.1}" height="{:.1}" fill="white" stroke="black" stroke-width="{stroke:.1}"/>"#,
        line * rows.len() as f64 + 0.6 * font
    );
    for (i, k) in rows.iter().enumerate() {
        let y = 4.0 + line * (i as f64 + 1.0);
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{c}"/><text x="{:.1}" y="{y:.1}" fill="black">{}</text>"#,
            0.6 * font,
            y - 0.8 * font,
            0.8 * font,
            0.8 * font,
            1.8 * font,
            escape(k.legend),
            c = k.colour,
        );
    }
    s.push_str("</g>");
}

/// Errors of [`png`].
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("overlay svg: {0}")]
    Svg(String),
    #[error("overlay png: {0}")]
    Png(String),
}

fn fonts() -> Arc<resvg::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_font_data(FONT.to_vec());
        Arc::new(db)
    })
    .clone()
}

/// [`svg`] rendered to a colour PNG at the page's size, or scaled down so that its
/// longer side is at most `max_side` pixels.
///
/// # Errors
/// The SVG cannot be parsed (a raster that is not a PNG) or the PNG encoded.
pub fn png(
    report: &Report,
    page: Page,
    raster_png: Option<&[u8]>,
    max_side: u32,
) -> Result<Vec<u8>, OverlayError> {
    let doc = svg(report, page, raster_png);
    let opt = resvg::usvg::Options {
        fontdb: fonts(),
        ..Default::default()
    };
    let tree =
        resvg::usvg::Tree::from_str(&doc, &opt).map_err(|e| OverlayError::Svg(e.to_string()))?;
    let longer = page.width.max(page.height).max(1);
    let scale = (max_side.max(1) as f32 / longer as f32).min(1.0);
    let (w, h) = (
        ((page.width.max(1) as f32 * scale).round() as u32).max(1),
        ((page.height.max(1) as f32 * scale).round() as u32).max(1),
    );
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| OverlayError::Png(format!("cannot make a {w}×{h} image")))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| OverlayError::Png(e.to_string()))
}

fn items<'a>(
    report: &'a Report,
    key: &str,
    index: u32,
) -> impl Iterator<Item = (usize, &'a Value)> {
    report
        .extra
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(move |(_, v)| v["page"].as_u64().unwrap_or(0) == u64::from(index))
}

fn bbox(v: &Value) -> Option<[f64; 4]> {
    let b = v["bbox"].as_array()?;
    let n = |i: usize| b.get(i).and_then(Value::as_f64);
    Some([n(0)?, n(1)?, n(2)?, n(3)?])
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `v` with at most 4 decimals, trailing zeros dropped.
fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A dimension as a person writes it from its parsed fields: `⌀21.5 ±0.1`, `R2`,
/// `45°`, `M8x1.25`, `⌀38 H12 +0.25/0`, `2× ⌀3.4`, `(12)`.
pub fn dimension_label(d: &Value) -> String {
    if let Some(t) = d["thread"].as_str() {
        return t.to_string();
    }
    let Some(nominal) = d["nominal"].as_f64() else {
        return d["raw"].as_str().unwrap_or("").to_string();
    };
    let prefix = match d["kind"].as_str().unwrap_or("") {
        "diameter" => "⌀",
        "spherical_diameter" => "S⌀",
        "radius" => "R",
        "spherical_radius" => "SR",
        _ => "",
    };
    let mut s = format!("{prefix}{}", num(nominal));
    if d["kind"] == "angle" {
        s.push('°');
    }
    if let Some(a) = d["chamfer_angle"].as_f64() {
        s.push_str(&format!("×{}°", num(a)));
    }
    if let Some(fit) = d["fit"].as_str() {
        s.push(' ');
        s.push_str(fit);
    }
    let signed = |v: f64| {
        if v > 0.0 {
            format!("+{}", num(v))
        } else {
            num(v)
        }
    };
    match (d["upper"].as_f64(), d["lower"].as_f64()) {
        (Some(u), Some(l)) if (u + l).abs() < 1e-9 && u > 0.0 => {
            s.push_str(&format!(" ±{}", num(u)))
        }
        (Some(u), Some(l)) => s.push_str(&format!(" {}/{}", signed(u), signed(l))),
        _ => {}
    }
    if let Some(n) = d["count"].as_u64().filter(|n| *n > 1) {
        s = format!("{n}× {s}");
    }
    if d["reference"] == true {
        s = format!("({s})");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::DrawingInfo;
    use crate::{JobId, JobStatus};
    use serde_json::json;

    fn report(extra: Value) -> Report {
        Report {
            job_id: JobId::new(),
            status: JobStatus::Completed,
            drawing: DrawingInfo {
                sha256: "ab".repeat(32),
                media_type: "image/png".into(),
                bytes: 1,
            },
            pages: vec![],
            stages: Default::default(),
            extra: extra.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn labels_read_as_values_with_tolerances() {
        let d = |v: Value| dimension_label(&v);
        assert_eq!(
            d(json!({"kind": "diameter", "nominal": 21.5, "upper": 0.1, "lower": -0.1})),
            "⌀21.5 ±0.1"
        );
        assert_eq!(
            d(
                json!({"kind": "diameter", "nominal": 38.0, "fit": "H12", "upper": 0.25, "lower": 0.0})
            ),
            "⌀38 H12 +0.25/0"
        );
        assert_eq!(d(json!({"kind": "angle", "nominal": 45.0})), "45°");
        assert_eq!(
            d(json!({"kind": "thread", "nominal": 8.0, "thread": "M8x1.25"})),
            "M8x1.25"
        );
        assert_eq!(
            d(json!({"kind": "diameter", "nominal": 3.4, "count": 2})),
            "2× ⌀3.4"
        );
        assert_eq!(
            d(json!({"kind": "linear", "nominal": 12.0, "reference": true})),
            "(12)"
        );
    }

    #[test]
    fn each_mark_links_to_its_row_and_unsure_ones_are_marked() {
        let r = report(json!({
            "dimensions": [
                {"kind": "linear", "nominal": 12.0, "confidence": 0.99, "bbox": [300.0, 400.0, 80.0, 30.0], "page": 0},
                {"kind": "linear", "nominal": 7.0, "confidence": 0.99, "bbox": [100.0, 700.0, 60.0, 30.0], "page": 1},
                {"kind": "linear", "nominal": 5.0, "confidence": 0.6, "bbox": [500.0, 600.0, 60.0, 30.0], "page": 0}
            ],
            "gdt": [{"characteristic": "position", "symbol": "⌖", "tolerance": 0.05, "diameter_zone": true, "bbox": [10.0, 10.0, 90.0, 20.0], "page": 0}]
        }));
        let page = Page {
            index: 0,
            width: 1000,
            height: 800,
        };
        let doc = svg(&r, page, None);
        assert!(
            doc.contains(r#"data-kind="dimensions" data-index="0" data-review="false""#),
            "{doc}"
        );
        assert!(
            doc.contains(r#"data-kind="dimensions" data-index="2" data-review="true""#),
            "{doc}"
        );
        assert!(
            !doc.contains(r#"data-index="1""#),
            "page 1's dimension is not on page 0"
        );
        assert!(doc.contains(">⌖ ⌀0.05</text>"), "{doc}");
        assert!(doc.contains(">12</text>"));
        assert!(doc.contains("dimension to review (confidence &lt; 0.9)"));
    }

    /// The PNG has the page's size and each box's colour on its edge.
    #[test]
    fn png_draws_each_box_in_its_colour() {
        let r = report(json!({"dimensions": [
            {"kind": "linear", "nominal": 12.0, "confidence": 0.99, "bbox": [300.0, 400.0, 80.0, 30.0], "page": 0},
            {"kind": "linear", "nominal": 5.0, "confidence": 0.6, "bbox": [500.0, 600.0, 60.0, 30.0], "page": 0}
        ]}));
        let page = Page {
            index: 0,
            width: 1000,
            height: 800,
        };
        let bytes = png(&r, page, None, 4000).unwrap();
        let img = resvg::tiny_skia::Pixmap::decode_png(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (1000, 800));
        let at = |x: u32, y: u32| {
            let p = img.pixel(x, y).unwrap();
            (p.red(), p.green(), p.blue())
        };
        assert_eq!(at(300, 415), (0, 100, 255), "a dimension in blue");
        assert_eq!(
            at(502, 600),
            (230, 0, 0),
            "an unsure one in red (dashed, starting at its corner)"
        );
        assert_eq!(at(700, 700), (255, 255, 255));
        // Scaled down to fit 500 px.
        let small = png(&r, page, None, 500).unwrap();
        let img = resvg::tiny_skia::Pixmap::decode_png(&small).unwrap();
        assert_eq!((img.width(), img.height()), (500, 400));
    }
}
