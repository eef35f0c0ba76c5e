//! What `drawpipe analyze` prints for people: a short summary of a report (status,
//! title block, a table of dimensions with tolerances and confidence, GD&T frames,
//! stage times), or the dimensions as CSV. The full report stays JSON (`--format
//! json`, or the files `--out` writes).

use std::fmt::Write as _;

use drawpipe_core::report::Report;
use serde_json::Value;

/// How `analyze` prints each report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A short human summary (the default).
    Table,
    /// The full report as JSON.
    Json,
    /// The dimensions as CSV, one row each.
    Csv,
}

/// Below this confidence a dimension is marked `?` in the table: worth a look.
pub const REVIEW_BELOW: f64 = 0.8;

/// The human summary of one drawing's report.
pub fn table(name: &str, report: &Report) -> String {
    let mut out = String::new();
    let total_ms: f64 = report.stages.values().filter_map(|s| s.duration_ms).sum();
    let pages = report.pages.len();
    let _ = writeln!(
        out,
        "{name}: {} ({} page{}, {} stage{}, {:.1} s)",
        report.status,
        pages,
        if pages == 1 { "" } else { "s" },
        report.stages.len(),
        if report.stages.len() == 1 { "" } else { "s" },
        total_ms / 1000.0
    );
    if let Some(Value::Object(tb)) = report.extra.get("title_block") {
        if !tb.is_empty() {
            let fields: Vec<String> = tb
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().map_or(v.to_string(), str::to_string)))
                .collect();
            let _ = writeln!(out, "title block: {}", fields.join("; "));
        }
    }
    if let Some(Value::Array(dims)) = report.extra.get("dimensions") {
        let _ = writeln!(out, "dimensions ({}):", dims.len());
        if !dims.is_empty() {
            let rows: Vec<[String; 7]> = dims.iter().map(dimension_row).collect();
            let head = [
                "raw",
                "kind",
                "nominal",
                "upper",
                "lower",
                "fit/thread",
                "conf",
            ];
            let mut width = head.map(str::len);
            for r in &rows {
                for (w, c) in width.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |cells: &[String]| {
                let mut l = String::from("  ");
                for (i, (c, w)) in cells.iter().zip(width).enumerate() {
                    let pad = w - c.chars().count();
                    if i == 2 || i == 3 || i == 4 || i == 6 {
                        l.push_str(&" ".repeat(pad));
                        l.push_str(c);
                    } else {
                        l.push_str(c);
                        l.push_str(&" ".repeat(pad));
                    }
                    l.push_str("  ");
                }
                l.trim_end().to_string()
            };
            let _ = writeln!(out, "{}", line(&head.map(str::to_string)));
            for r in &rows {
                let _ = writeln!(out, "{}", line(r));
            }
        }
    }
    if let Some(Value::Array(gdt)) = report.extra.get("gdt") {
        if !gdt.is_empty() {
            let _ = writeln!(out, "GD&T frames ({}):", gdt.len());
            for g in gdt {
                let _ = writeln!(out, "  {}", text(g, "raw"));
            }
        }
    }
    if let Some(Value::Array(qc)) = report.extra.get("qc") {
        if !qc.is_empty() {
            let _ = writeln!(out, "inspection plan ({} items):", qc.len());
            for i in qc {
                let _ = writeln!(
                    out,
                    "  {}. {}  {} – {}  {}",
                    number(&i["balloon"]),
                    text(i, "raw"),
                    number(&i["lower_limit"]),
                    number(&i["upper_limit"]),
                    text(i, "method")
                );
            }
        }
    }
    if let Some(e) = report.extra.get("estimate") {
        let cur = text(e, "currency");
        let prices: Vec<String> = e["quantities"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|q| {
                format!(
                    "{:.2} {cur} each for {}",
                    q["unit_price"].as_f64().unwrap_or(0.0),
                    number(&q["quantity"])
                )
            })
            .collect();
        if !prices.is_empty() {
            let _ = writeln!(
                out,
                "estimate: {} (`drawpipe estimate` for the breakdown)",
                prices.join(", ")
            );
        }
    }
    if let Some(vl) = report.extra.get("vl") {
        let tasks = vl["tasks"].as_object().map(|t| {
            let ok = t.values().filter(|r| r["status"] == "succeeded").count();
            format!("{ok}/{} tasks answered", t.len())
        });
        let cc = &vl["crosscheck"];
        let agreement = cc.is_object().then(|| {
            format!(
                "; dimensions agreed {}, in conflict {}, edocr only {}, vl only {}",
                number(&cc["agreed"]),
                number(&cc["conflict"]),
                number(&cc["edocr_only"]),
                cc["vl_only"].as_array().map_or(0, Vec::len)
            )
        });
        let _ = writeln!(
            out,
            "vl: {}, {} input + {} output tokens, {:.4} USD{}",
            tasks.unwrap_or_default(),
            number(&vl["usage"]["input_tokens"]),
            number(&vl["usage"]["output_tokens"]),
            vl["cost_usd"].as_f64().unwrap_or(0.0),
            agreement.unwrap_or_default()
        );
    }
    if let Some(cad) = report.extra.get("cad") {
        let entities: Vec<String> = cad["entities"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{} {k}", number(v)))
            .collect();
        let _ = writeln!(out, "DXF ({}): {}", text(cad, "units"), entities.join(", "));
    }
    if let Some(Value::Array(text_lines)) = report.extra.get("text") {
        let _ = writeln!(out, "text lines: {}", text_lines.len());
    }
    let times: Vec<String> = report
        .stages
        .iter()
        .map(|(stage, s)| match (&s.duration_ms, s.status.as_str()) {
            (Some(ms), "succeeded") => format!("{stage} {}", millis(*ms)),
            (_, status) => format!("{stage} {status}"),
        })
        .collect();
    let _ = writeln!(out, "stages: {}", times.join(", "));
    for (stage, s) in &report.stages {
        if let Some(e) = &s.error {
            let why = e.strip_prefix("skipped: ").unwrap_or(e);
            let _ = writeln!(out, "  {stage} {}: {why}", s.status);
        }
    }
    out
}

/// The dimensions as CSV rows (with a header when `header`).
pub fn csv(name: &str, report: &Report, header: bool) -> String {
    let mut out = String::new();
    if header {
        out.push_str("drawing,page,raw,kind,nominal,unit,upper,lower,fit,thread,count,confidence,source,x,y,width,height\n");
    }
    let Some(Value::Array(dims)) = report.extra.get("dimensions") else {
        return out;
    };
    for d in dims {
        let bbox: Vec<String> = d
            .get("bbox")
            .and_then(Value::as_array)
            .map(|b| b.iter().map(number).collect())
            .unwrap_or_default();
        let cells = [
            name.to_string(),
            number(d.get("page").unwrap_or(&Value::Null)),
            text(d, "raw"),
            text(d, "kind"),
            number(d.get("nominal").unwrap_or(&Value::Null)),
            text(d, "unit"),
            number(d.get("upper").unwrap_or(&Value::Null)),
            number(d.get("lower").unwrap_or(&Value::Null)),
            text(d, "fit"),
            text(d, "thread"),
            number(d.get("count").unwrap_or(&Value::Null)),
            number(d.get("confidence").unwrap_or(&Value::Null)),
            text(d, "source"),
        ];
        let mut row: Vec<String> = cells.iter().map(|c| quote(c)).collect();
        row.extend(bbox);
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// The report's `estimate` key as text: stock, processes, assumptions, then each
/// quantity's breakdown (per part) with its inputs, unit price and total.
pub fn estimate(e: &Value) -> String {
    use std::fmt::Write;
    let cur = text(e, "currency");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} of {}; processes: {}",
        text(e, "stock"),
        text(e, "material"),
        e["processes"]
            .as_array()
            .map(|p| p
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    for a in e["assumptions"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "assumed: {}", a.as_str().unwrap_or_default());
    }
    for q in e["quantities"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "\nquantity {}:", number(&q["quantity"]));
        for l in q["lines"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  {:<20} {:>10.2} {cur}  {}",
                text(l, "item"),
                l["amount"].as_f64().unwrap_or(0.0),
                text(l, "inputs")
            );
        }
        let _ = writeln!(
            out,
            "  {:<20} {:>10.2} {cur}  (total for {}: {:.2} {cur})",
            "per part",
            q["unit_price"].as_f64().unwrap_or(0.0),
            number(&q["quantity"]),
            q["total"].as_f64().unwrap_or(0.0)
        );
    }
    out
}

fn dimension_row(d: &Value) -> [String; 7] {
    let conf = d.get("confidence").and_then(Value::as_f64).unwrap_or(0.0);
    let signed = |k: &str| match d.get(k).and_then(Value::as_f64) {
        Some(0.0) => "0".to_string(),
        Some(v) => format!("{v:+}"),
        None => String::new(),
    };
    let fit = [text(d, "fit"), text(d, "thread")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut nominal = number(d.get("nominal").unwrap_or(&Value::Null));
    let unit = text(d, "unit");
    if !nominal.is_empty() && unit != "mm" && !unit.is_empty() {
        nominal = format!("{nominal} {unit}");
    }
    let count = d.get("count").and_then(Value::as_u64);
    let kind = match count {
        Some(n) => format!("{} ×{n}", text(d, "kind")),
        None => text(d, "kind"),
    };
    [
        text(d, "raw"),
        kind,
        nominal,
        signed("upper"),
        signed("lower"),
        fit,
        format!("{conf:.2}{}", if conf < REVIEW_BELOW { "?" } else { "" }),
    ]
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn number(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{}", (f * 1e6).round() / 1e6),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

pub(crate) fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        serde_json::from_value(serde_json::json!({
            "job_id": "0190f6a0-0000-7000-8000-000000000000",
            "status": "completed",
            "drawing": {"sha256": "ab", "media_type": "image/png", "bytes": 10},
            "pages": [{"index": 0, "width": 100, "height": 50, "dpi": null}],
            "stages": {
                "ocr": {"status": "succeeded", "device": "cpu", "attempts": 1, "duration_ms": 1500.0, "error": null},
                "edocr": {"status": "succeeded", "device": "cpu", "attempts": 1, "duration_ms": 250.0, "error": null}
            },
            "title_block": {"material": "S235", "drawing_number": "D-1"},
            "dimensions": [
                {"raw": "Ø21,5±0,1", "kind": "diameter", "nominal": 21.5, "unit": "mm", "upper": 0.1, "lower": -0.1,
                 "fit": null, "thread": null, "count": null, "confidence": 0.97, "source": "ocr", "page": 0,
                 "bbox": [1.0, 2.0, 30.0, 10.0]},
                {"raw": "M5x0.8 THRO', x 2", "kind": "thread", "nominal": 5.0, "unit": "mm", "upper": null, "lower": null,
                 "fit": null, "thread": "M5x0.8", "count": 2, "confidence": 0.61, "source": "text_layer", "page": 0,
                 "bbox": [5.0, 6.0, 40.0, 10.0]}
            ],
            "text": [{"text": "a"}, {"text": "b"}]
        }))
        .unwrap()
    }

    #[test]
    fn the_table_says_what_was_read() {
        let t = table("part.png", &report());
        assert!(
            t.starts_with("part.png: completed (1 page, 2 stages, 1.8 s)"),
            "{t}"
        );
        assert!(
            t.contains("title block: drawing_number: D-1; material: S235"),
            "{t}"
        );
        assert!(t.contains("dimensions (2):"), "{t}");
        let row = t.lines().find(|l| l.contains("Ø21,5±0,1")).unwrap();
        assert!(
            row.contains("diameter") && row.contains("+0.1") && row.contains("-0.1"),
            "{row}"
        );
        let thread = t.lines().find(|l| l.contains("M5x0.8 THRO")).unwrap();
        assert!(
            thread.contains("thread ×2") && thread.ends_with("0.61?"),
            "{thread}"
        );
        assert!(t.contains("stages: edocr 250 ms, ocr 1.5 s"), "{t}");
        assert!(t.lines().count() < 15, "{t}");
    }

    #[test]
    fn csv_has_a_row_per_dimension_quoted() {
        let c = csv("part.png", &report(), true);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("drawing,page,raw,kind"));
        assert!(
            lines[1].starts_with("part.png,0,\"Ø21,5±0,1\",diameter,21.5,mm,0.1,-0.1"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].contains("\"M5x0.8 THRO', x 2\",thread,5,mm"),
            "{}",
            lines[2]
        );
        assert!(lines[2].ends_with(",5,6,40,10"), "{}", lines[2]);
    }
}
