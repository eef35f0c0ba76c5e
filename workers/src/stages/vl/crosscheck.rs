//! `edocr`'s dimensions against `vl`'s, in the report: each `edocr` dimension gets
//! `agreement` — `agreed` (a `vl` dimension has the same value and tolerance),
//! `conflict` (one has the same value with another tolerance, or one lies at the
//! same place with another value) or `edocr_only` — and `vl` dimensions that match
//! none are listed as `vl_only`. A conflict halves the dimension's confidence and is
//! listed for review under `vl.crosscheck.conflicts`.

use serde_json::{json, Map, Value};

use crate::stages::edocr::parse::{normalise, parse_dimension};

/// The list `key` of `vl`'s validated answer to `task`, when it gave one.
fn vl_answer(extra: &Map<String, Value>, task: &str, key: &str) -> Option<Vec<Value>> {
    extra.get("vl")?["tasks"][task]["answer"][key]
        .as_array()
        .cloned()
}

/// A value both readers agree on, as numbers.
fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0),
        (None, None) => true,
        _ => false,
    }
}

/// `(nominal, upper, lower, fit)` of a `vl` dimension: its printed text parsed as
/// `edocr` parses its own (so both sides mean the same by a tolerance), else the
/// fields the model filled in.
fn reading(v: &Value) -> (Option<f64>, Option<f64>, Option<f64>, Option<String>) {
    let text = v["text"].as_str().unwrap_or_default();
    if let Ok(d) = parse_dimension(text, false) {
        if d.nominal.is_some() {
            return (d.nominal, d.upper, d.lower, d.fit);
        }
    }
    (
        v["value"].as_f64(),
        v["upper"].as_f64(),
        v["lower"].as_f64(),
        v["fit"].as_str().map(str::to_string),
    )
}

fn centre_in(bbox: &[f64], x: f64, y: f64, grow: f64) -> bool {
    let (bx, by, bw, bh) = (bbox[0], bbox[1], bbox[2], bbox[3]);
    x >= bx - grow * bw
        && x <= bx + bw + grow * bw
        && y >= by - grow * bh
        && y <= by + bh + grow * bh
}

/// Annotates the report's `dimensions` with `agreement` and adds `vl.crosscheck`,
/// when both `edocr` dimensions and a `vl` dimensions answer are present. `page_size`
/// is page 1's size in pixels (the `vl` boxes are fractions of it).
pub fn annotate(extra: &mut Map<String, Value>, page_size: Option<(f64, f64)>) {
    let Some(vl_dims) = vl_answer(extra, "dimensions", "dimensions") else {
        return;
    };
    let Some(Value::Array(dims)) = extra.get_mut("dimensions") else {
        return;
    };
    let centres: Vec<Option<(f64, f64)>> = vl_dims
        .iter()
        .map(|v| {
            let (w, h) = page_size?;
            let b = v["bbox"].as_array()?;
            let f = |i: usize| b.get(i).and_then(Value::as_f64);
            Some(((f(0)? + f(2)?) / 2.0 * w, (f(1)? + f(3)?) / 2.0 * h))
        })
        .collect();
    let readings: Vec<_> = vl_dims.iter().map(reading).collect();
    let mut used = vec![false; vl_dims.len()];
    let (mut agreed, mut edocr_only) = (0, 0);
    let mut conflicts = Vec::new();
    for (i, d) in dims.iter_mut().enumerate() {
        let nominal = d["nominal"].as_f64();
        let (upper, lower) = (d["upper"].as_f64(), d["lower"].as_f64());
        let fit = d["fit"].as_str().map(str::to_string);
        let bbox: Option<Vec<f64>> = d["bbox"]
            .as_array()
            .map(|b| b.iter().filter_map(Value::as_f64).collect())
            .filter(|b: &Vec<f64>| b.len() == 4);
        let on_page1 = d["page"].as_u64().unwrap_or(0) == 0;
        let near = |j: usize| match (&bbox, centres[j]) {
            (Some(b), Some((x, y))) if on_page1 => centre_in(b, x, y, 0.5),
            _ => false,
        };
        // Same value: nearest first (one at this place), then anywhere.
        let same_value: Vec<usize> = (0..vl_dims.len())
            .filter(|&j| !used[j] && nominal.is_some() && same(readings[j].0, nominal))
            .collect();
        let pick = same_value
            .iter()
            .copied()
            .find(|&j| near(j))
            .or(same_value.first().copied());
        let (agreement, other) = if let Some(j) = pick {
            used[j] = true;
            let r = &readings[j];
            let fits = (
                r.3.as_deref().map(str::to_uppercase),
                fit.as_deref().map(str::to_uppercase),
            );
            // A fit both read is the tolerance (one side may have resolved it to limits).
            let tol_same = match fits {
                (Some(a), Some(b)) => a == b,
                (a, b) => a == b && same(r.1, upper) && same(r.2, lower),
            };
            if tol_same {
                ("agreed", None)
            } else {
                ("conflict", Some((j, "same value, another tolerance")))
            }
        } else if let Some(j) = (0..vl_dims.len()).find(|&j| !used[j] && near(j)) {
            used[j] = true;
            ("conflict", Some((j, "same place, another value")))
        } else {
            ("edocr_only", None)
        };
        match agreement {
            "agreed" => agreed += 1,
            "edocr_only" => edocr_only += 1,
            _ => {}
        }
        d["agreement"] = json!(agreement);
        if let Some((j, why)) = other {
            if let Some(c) = d["confidence"].as_f64() {
                d["confidence"] = json!(c * 0.5);
            }
            conflicts.push(json!({
                "dimension": i, "edocr": d["raw"], "vl": vl_dims[j]["text"], "why": why,
            }));
        }
    }
    let vl_only: Vec<Value> = vl_dims
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(v, _)| v.clone())
        .collect();
    if let Some(Value::Object(vl)) = extra.get_mut("vl") {
        vl.insert(
            "crosscheck".into(),
            json!({
                "agreed": agreed, "edocr_only": edocr_only, "conflict": conflicts.len(),
                "vl_only": vl_only, "conflicts": conflicts,
            }),
        );
    }
}

/// Merges `vl`'s QC checklist into the report's `qc` plan: a check whose printed
/// requirement is an item's text marks that item `vl_agrees`; any other becomes an
/// item of its own (`source: "vl checklist"`, no limits, balloons numbered on).
/// The `qc_items` table and `qc.csv` keep the rule-based plan only.
pub fn merge_checklist(extra: &mut Map<String, Value>) {
    let Some(checks) = vl_answer(extra, "qc_checklist", "checks") else {
        return;
    };
    // `edocr`'s own normalisation (diameter signs, decimal commas), then case and
    // spacing ignored.
    let key = |s: &str| {
        normalise(s)
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let plan = extra
        .entry("qc")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(items) = plan else {
        return;
    };
    let mut balloon = items
        .iter()
        .filter_map(|i| i["balloon"].as_u64())
        .max()
        .unwrap_or(0);
    for c in checks {
        let requirement = c["requirement"].as_str().unwrap_or_default();
        let matched = !requirement.is_empty()
            && items
                .iter_mut()
                .find(|i| {
                    i["raw"]
                        .as_str()
                        .is_some_and(|r| key(r) == key(requirement))
                })
                .map(|i| i["vl_agrees"] = json!(true))
                .is_some();
        if !matched {
            balloon += 1;
            items.push(json!({
                "balloon": balloon, "characteristic": c["characteristic"], "raw": requirement,
                "nominal": null, "unit": "", "tolerance": "", "lower_limit": null, "upper_limit": null,
                "method": c["method"].as_str().unwrap_or_default(),
                "sampling": c["frequency"].as_str().unwrap_or_default(),
                "source": "vl checklist",
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_is_by_value_tolerance_and_place() {
        let mut extra = Map::new();
        extra.insert(
            "dimensions".into(),
            json!([
                {"raw": "Ø38 H12", "nominal": 38.0, "upper": 0.25, "lower": 0.0, "fit": "H12", "confidence": 0.9, "bbox": [100, 100, 50, 20], "page": 0},
                {"raw": "21,5±0,1", "nominal": 21.5, "upper": 0.1, "lower": -0.1, "fit": null, "confidence": 0.8, "bbox": [300, 300, 50, 20], "page": 0},
                {"raw": "45", "nominal": 45.0, "upper": null, "lower": null, "fit": null, "confidence": 0.9, "bbox": [500, 500, 30, 20], "page": 0},
                {"raw": "12", "nominal": 12.0, "upper": null, "lower": null, "fit": null, "confidence": 0.9, "bbox": [700, 100, 30, 20], "page": 0},
            ]),
        );
        extra.insert(
            "vl".into(),
            json!({"tasks": {"dimensions": {"answer": {"dimensions": [
                {"text": "Ø38 H12", "value": 38.0, "bbox": [0.1, 0.1, 0.15, 0.12]},
                {"text": "21,5±0,2", "value": 21.5, "bbox": [0.3, 0.3, 0.35, 0.32]},
                {"text": "48", "value": 48.0, "bbox": [0.5, 0.5, 0.53, 0.52]},
                {"text": "R3", "value": 3.0, "bbox": [0.9, 0.9, 0.92, 0.92]},
            ]}}}}),
        );
        annotate(&mut extra, Some((1000.0, 1000.0)));
        let d = extra["dimensions"].as_array().unwrap();
        let a: Vec<&str> = d.iter().map(|x| x["agreement"].as_str().unwrap()).collect();
        assert_eq!(a, ["agreed", "conflict", "conflict", "edocr_only"]);
        assert!((d[1]["confidence"].as_f64().unwrap() - 0.4).abs() < 1e-9);
        let cc = &extra["vl"]["crosscheck"];
        assert_eq!(cc["agreed"], 1);
        assert_eq!(cc["conflict"], 2);
        assert_eq!(cc["vl_only"][0]["text"], "R3");
        assert_eq!(cc["conflicts"][1]["why"], "same place, another value");
    }

    #[test]
    fn the_vl_checklist_joins_the_plan() {
        let mut extra = Map::new();
        extra.insert(
            "qc".into(),
            json!([{"balloon": 1, "raw": "Ø38 H12", "method": "plug gauge"}]),
        );
        extra.insert(
            "vl".into(),
            json!({"tasks": {"qc_checklist": {"answer": {"checks": [
                {"characteristic": "bore", "requirement": "Ø 38 H12", "method": "plug gauge", "frequency": null},
                {"characteristic": "surface", "requirement": "Ra 1,6", "method": "roughness tester", "frequency": "1 in 10"},
            ]}}}}),
        );
        merge_checklist(&mut extra);
        let qc = extra["qc"].as_array().unwrap();
        assert_eq!(qc.len(), 2);
        assert_eq!(qc[0]["vl_agrees"], true);
        assert_eq!(
            (qc[1]["balloon"].as_u64(), qc[1]["source"].as_str()),
            (Some(2), Some("vl checklist"))
        );
    }
}
