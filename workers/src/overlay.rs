//! The overlay: a page with what was read drawn on it, for a person to check the
//! reading at a glance. Every dimension box is labelled with its parsed value and
//! tolerance (blue; red when its confidence is under [`REVIEW_BELOW`]), GD&T frames
//! with their characteristic and zone (magenta), detector boxes with their class
//! (green), and a legend in the top-left corner.
//!
//! Labels are ASCII (OpenCV's Hershey fonts have no `Ø` or `°`): `D21.5 +0.1/-0.1`,
//! `R2`, `45deg`, `M8x1.25`.

use drawpipe_core::report::Report;
use drawpipe_core::StageError;
use opencv::core::{Mat, Point, Rect, Scalar, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use serde_json::Value;

/// Dimensions read with a lower confidence are drawn in the review colour.
pub const REVIEW_BELOW: f64 = 0.9;

const DIMENSION: (f64, f64, f64) = (255.0, 110.0, 0.0);
const REVIEW: (f64, f64, f64) = (0.0, 0.0, 230.0);
const GDT: (f64, f64, f64) = (200.0, 0.0, 200.0);
const DETECTION: (f64, f64, f64) = (0.0, 150.0, 0.0);

fn bgr(c: (f64, f64, f64)) -> Scalar {
    Scalar::new(c.0, c.1, c.2, 0.0)
}

fn cv(e: opencv::Error) -> StageError {
    StageError::Other(format!("overlay: opencv: {e}").into())
}

/// One thing to draw: its box, colour and label.
struct Mark {
    bbox: [f64; 4],
    colour: (f64, f64, f64),
    label: String,
}

/// Renders page `index` of `report` over its raster `page_png` (grayscale PNG) as a
/// colour PNG.
///
/// # Errors
/// The raster cannot be decoded or the PNG encoded.
pub fn render(page_png: &[u8], index: u32, report: &Report) -> Result<Vec<u8>, StageError> {
    let gray = crate::stages::decode_page(page_png)?;
    let mut img = Mat::default();
    imgproc::cvt_color_def(&gray, &mut img, imgproc::COLOR_GRAY2BGR).map_err(cv)?;
    let (w, h) = (img.cols(), img.rows());
    // Line and text sizes follow the page: about 1 px and 0.5 scale per 1000 px.
    let unit = (w.min(h) as f64 / 1000.0).max(0.5);
    let thickness = unit.round().max(1.0) as i32;
    let scale = 0.45 * unit;
    for m in marks(report, index) {
        let r = Rect::new(
            m.bbox[0].floor() as i32,
            m.bbox[1].floor() as i32,
            m.bbox[2].ceil().max(1.0) as i32,
            m.bbox[3].ceil().max(1.0) as i32,
        );
        imgproc::rectangle(
            &mut img,
            r,
            bgr(m.colour),
            thickness + 1,
            imgproc::LINE_8,
            0,
        )
        .map_err(cv)?;
        label(
            &mut img,
            &m.label,
            Point::new(r.x, r.y - 3),
            m.colour,
            scale,
            thickness,
        )?;
    }
    legend(&mut img, scale, thickness)?;
    let mut out = Vector::<u8>::new();
    opencv::imgcodecs::imencode(".png", &img, &mut out, &Vector::new()).map_err(cv)?;
    Ok(out.to_vec())
}

/// Text on a white background, above `at` (moved inside the page when it would leave it).
fn label(
    img: &mut Mat,
    text: &str,
    at: Point,
    colour: (f64, f64, f64),
    scale: f64,
    thickness: i32,
) -> Result<(), StageError> {
    if text.is_empty() {
        return Ok(());
    }
    let font = imgproc::FONT_HERSHEY_SIMPLEX;
    let mut base = 0;
    let size = imgproc::get_text_size(text, font, scale, thickness, &mut base).map_err(cv)?;
    let x = at.x.clamp(0, (img.cols() - size.width).max(0));
    let y = at.y.max(size.height + 2);
    let back = Rect::new(
        x,
        y - size.height - 2,
        size.width + 2,
        size.height + base + 2,
    );
    imgproc::rectangle(
        img,
        back,
        Scalar::all(255.0),
        imgproc::FILLED,
        imgproc::LINE_8,
        0,
    )
    .map_err(cv)?;
    imgproc::put_text(
        img,
        text,
        Point::new(x + 1, y),
        font,
        scale,
        bgr(colour),
        thickness,
        imgproc::LINE_AA,
        false,
    )
    .map_err(cv)
}

fn legend(img: &mut Mat, scale: f64, thickness: i32) -> Result<(), StageError> {
    let rows = [
        ("dimension", DIMENSION),
        ("dimension to review (confidence < 0.9)", REVIEW),
        ("GD&T frame", GDT),
        ("detection", DETECTION),
    ];
    let line = (28.0 * scale / 0.45) as i32;
    let box_w = (420.0 * scale / 0.45) as i32;
    let frame = Rect::new(
        4,
        4,
        box_w.min(img.cols() - 8).max(1),
        line * rows.len() as i32 + 8,
    );
    imgproc::rectangle(
        img,
        frame,
        Scalar::all(255.0),
        imgproc::FILLED,
        imgproc::LINE_8,
        0,
    )
    .map_err(cv)?;
    imgproc::rectangle(img, frame, Scalar::all(0.0), 1, imgproc::LINE_8, 0).map_err(cv)?;
    for (i, (name, colour)) in rows.iter().enumerate() {
        let y = 4 + line * (i as i32 + 1);
        let swatch = Rect::new(10, y - line / 2 - 2, line / 2, line / 2);
        imgproc::rectangle(
            img,
            swatch,
            bgr(*colour),
            imgproc::FILLED,
            imgproc::LINE_8,
            0,
        )
        .map_err(cv)?;
        imgproc::put_text(
            img,
            name,
            Point::new(16 + line / 2, y),
            imgproc::FONT_HERSHEY_SIMPLEX,
            scale,
            Scalar::all(0.0),
            thickness,
            imgproc::LINE_AA,
            false,
        )
        .map_err(cv)?;
    }
    Ok(())
}

fn items<'a>(report: &'a Report, key: &str, index: u32) -> impl Iterator<Item = &'a Value> {
    report
        .extra
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |v| v["page"].as_u64().unwrap_or(0) == index as u64)
}

fn bbox(v: &Value) -> Option<[f64; 4]> {
    let b = v["bbox"].as_array()?;
    let n = |i: usize| b.get(i).and_then(Value::as_f64);
    Some([n(0)?, n(1)?, n(2)?, n(3)?])
}

fn marks(report: &Report, index: u32) -> Vec<Mark> {
    let mut out = Vec::new();
    for d in items(report, "detections", index) {
        if let Some(b) = bbox(d) {
            out.push(Mark {
                bbox: b,
                colour: DETECTION,
                label: d["class_name"].as_str().unwrap_or("").to_string(),
            });
        }
    }
    for g in items(report, "gdt", index) {
        if let Some(b) = bbox(g) {
            let zone = g["tolerance"].as_f64().map(num).unwrap_or_default();
            out.push(Mark {
                bbox: b,
                colour: GDT,
                label: format!("{} {zone}", g["characteristic"].as_str().unwrap_or("")),
            });
        }
    }
    for d in items(report, "dimensions", index) {
        if let Some(b) = bbox(d) {
            let unsure = d["confidence"].as_f64().unwrap_or(0.0) < REVIEW_BELOW;
            out.push(Mark {
                bbox: b,
                colour: if unsure { REVIEW } else { DIMENSION },
                label: dimension_label(d),
            });
        }
    }
    out
}

fn num(v: f64) -> String {
    crate::stages::decimal(v, 4)
}

/// `D21.5 +0.1/-0.1`, `R2`, `45deg`, `M8x1.25`, `38 H12 (+0.25/0)`, `2x D3.4`.
pub fn dimension_label(d: &Value) -> String {
    if let Some(t) = d["thread"].as_str() {
        return t.to_string();
    }
    let Some(nominal) = d["nominal"].as_f64() else {
        return d["raw"].as_str().unwrap_or("").to_string();
    };
    let prefix = match d["kind"].as_str().unwrap_or("") {
        "diameter" => "D",
        "spherical_diameter" => "SD",
        "radius" => "R",
        "spherical_radius" => "SR",
        _ => "",
    };
    let mut s = format!("{prefix}{}", num(nominal));
    if d["kind"] == "angle" {
        s.push_str("deg");
    }
    if let Some(a) = d["chamfer_angle"].as_f64() {
        s.push_str(&format!("x{}deg", num(a)));
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
            s.push_str(&format!(" +/-{}", num(u)))
        }
        (Some(u), Some(l)) => s.push_str(&format!(" {}/{}", signed(u), signed(l))),
        _ => {}
    }
    if let Some(n) = d["count"].as_u64().filter(|n| *n > 1) {
        s = format!("{n}x {s}");
    }
    if d["reference"] == true {
        s = format!("({s})");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use drawpipe_core::report::DrawingInfo;
    use drawpipe_core::{JobId, JobStatus};
    use opencv::core;
    use serde_json::json;

    fn blank_png(w: i32, h: i32) -> Vec<u8> {
        let m = Mat::new_rows_cols_with_default(h, w, core::CV_8UC1, Scalar::all(255.0)).unwrap();
        let mut out = Vector::<u8>::new();
        opencv::imgcodecs::imencode(".png", &m, &mut out, &Vector::new()).unwrap();
        out.to_vec()
    }

    #[test]
    fn labels_read_as_values_with_tolerances() {
        let d = |v: Value| dimension_label(&v);
        assert_eq!(
            d(json!({"kind": "diameter", "nominal": 21.5, "upper": 0.1, "lower": -0.1})),
            "D21.5 +/-0.1"
        );
        assert_eq!(
            d(
                json!({"kind": "diameter", "nominal": 38.0, "fit": "H12", "upper": 0.25, "lower": 0.0})
            ),
            "D38 H12 +0.25/0"
        );
        assert_eq!(d(json!({"kind": "angle", "nominal": 45.0})), "45deg");
        assert_eq!(
            d(json!({"kind": "thread", "nominal": 8.0, "thread": "M8x1.25"})),
            "M8x1.25"
        );
        assert_eq!(
            d(json!({"kind": "diameter", "nominal": 3.4, "count": 2})),
            "2x D3.4"
        );
    }

    #[test]
    fn dimensions_are_drawn_in_their_colour_and_unsure_ones_in_red() {
        let report = Report {
            job_id: JobId::new(),
            status: JobStatus::Completed,
            drawing: DrawingInfo {
                sha256: "ab".repeat(32),
                media_type: "image/png".into(),
                bytes: 1,
            },
            pages: vec![],
            stages: Default::default(),
            extra: json!({"dimensions": [
                {"kind": "linear", "nominal": 12.0, "confidence": 0.99, "bbox": [300.0, 400.0, 80.0, 30.0], "page": 0},
                {"kind": "linear", "nominal": 5.0, "confidence": 0.6, "bbox": [500.0, 600.0, 60.0, 30.0], "page": 0},
                {"kind": "linear", "nominal": 7.0, "confidence": 0.99, "bbox": [100.0, 700.0, 60.0, 30.0], "page": 1}
            ]})
            .as_object()
            .unwrap()
            .clone(),
        };
        let png = render(&blank_png(1000, 800), 0, &report).unwrap();
        let buf = Vector::<u8>::from_slice(&png);
        let img = opencv::imgcodecs::imdecode(&buf, opencv::imgcodecs::IMREAD_COLOR).unwrap();
        assert_eq!((img.cols(), img.rows()), (1000, 800));
        let at = |x: i32, y: i32| {
            let p = img.at_2d::<core::Vec3b>(y, x).unwrap();
            (p[0], p[1], p[2])
        };
        // The left edge of each box, half-way down.
        assert_eq!(at(300, 415), (255, 110, 0), "a dimension in blue");
        assert_eq!(at(500, 615), (0, 0, 230), "an unsure one in red");
        // Page 1's dimension is not on page 0; the legend is.
        assert_eq!(at(100, 715), (255, 255, 255));
        assert_ne!(at(12, 20), (255, 255, 255), "the legend's first swatch");
    }
}
