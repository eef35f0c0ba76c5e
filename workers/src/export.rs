//! `drawpipe corrections export DIR`: what people corrected in the viewer (or with
//! `PATCH /v1/jobs/{id}/dimensions/{n}`), written as ground truth in eDOCr2's
//! format, ready for `drawpipe eval DIR` or as recogniser training data.
//!
//! For every page holding a correction: the page as stored (`<name>.png`, the pixel
//! frame of the report's boxes) and `<name>.csv`, one row per dimension on that page
//! (8 corner coordinates, then the text; the corrected text where a person changed
//! it). A page a person corrected counts as reviewed: its other readings are taken
//! as confirmed. Dimensions nobody read are not in the report, so they are not in
//! the CSV either; with `--only-corrected` the CSV holds the corrected rows alone
//! (crops with their true text, not a complete page). `corrections.csv` lists every
//! correction: job, file, page, dimension, the text before and after, kind before
//! and after, who, when.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::client::Client;
use crate::eval::truth_row;
use crate::summary::quote;
use crate::write_file as write;

/// What an export wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Exported {
    pub jobs: usize,
    pub pages: usize,
    pub rows: usize,
    pub corrections: usize,
}

/// The report's dimensions on `page` as eDOCr2 truth rows, corrected text where
/// corrected; only the corrected ones with `only_corrected`.
pub fn truth_rows(report: &Value, page: u32, only_corrected: bool) -> String {
    let mut out = String::new();
    for d in dimensions(report) {
        if d["page"].as_u64().unwrap_or(0) != u64::from(page)
            || (only_corrected && d.get("correction").is_none())
        {
            continue;
        }
        let Some(raw) = d["raw"].as_str().filter(|r| !r.trim().is_empty()) else {
            continue;
        };
        let mut polygon = [[0f32; 2]; 4];
        for (i, corner) in polygon.iter_mut().enumerate() {
            for (j, v) in corner.iter_mut().enumerate() {
                *v = d["polygon"][i][j].as_f64().unwrap_or(0.0) as f32;
            }
        }
        out.push_str(&truth_row(&polygon, raw.trim()));
        out.push('\n');
    }
    out
}

/// The pages of `report` that hold a corrected dimension.
pub fn corrected_pages(report: &Value) -> BTreeSet<u32> {
    dimensions(report)
        .filter(|d| d.get("correction").is_some())
        .map(|d| d["page"].as_u64().unwrap_or(0) as u32)
        .collect()
}

/// `corrections.csv` rows for one job: one per corrected dimension.
pub fn log_rows(job: &str, file: &str, report: &Value) -> Vec<String> {
    dimensions(report)
        .enumerate()
        .filter_map(|(n, d)| {
            let c = d.get("correction")?;
            let text = |v: &Value| quote(v.as_str().unwrap_or(""));
            Some(format!(
                "{job},{},{},{n},{},{},{},{},{},{}",
                quote(file),
                d["page"].as_u64().unwrap_or(0),
                text(&c["original"]["raw"]),
                text(&d["raw"]),
                text(&c["original"]["kind"]),
                text(&d["kind"]),
                text(&c["by"]),
                text(&c["at"]),
            ))
        })
        .collect()
}

pub const LOG_HEADER: &str = "job_id,file,page,dimension,original,corrected,original_kind,corrected_kind,corrected_by,corrected_at";

fn dimensions(report: &Value) -> impl Iterator<Item = &Value> {
    report["dimensions"].as_array().into_iter().flatten()
}

/// `<file stem>-<first 8 of the job id>`, `.p<N>` after it for page N of a
/// multi-page drawing; characters other than letters, digits, `-` and `_` as `_`.
pub fn page_name(file: &str, job: &str, page: u32, pages: usize) -> String {
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let stem = if stem.is_empty() {
        "drawing".into()
    } else {
        stem
    };
    let short: String = job.chars().take(8).collect();
    if pages > 1 {
        format!("{stem}-{short}.p{page}")
    } else {
        format!("{stem}-{short}")
    }
}

/// Walks the dispatcher's corrected jobs (after `since`, when given) and writes them
/// into `dir`; progress on stderr.
pub async fn export(
    client: &Client,
    dir: &Path,
    since: Option<&str>,
    only_corrected: bool,
) -> anyhow::Result<Exported> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut done = Exported::default();
    let mut log = vec![LOG_HEADER.to_string()];
    let mut cursor: Option<String> = None;
    loop {
        let page = client.corrected_jobs(since, cursor.as_deref()).await?;
        for job in page["jobs"].as_array().into_iter().flatten() {
            let id = job["id"].as_str().context("a listed job without an id")?;
            let file = job["filename"].as_str().unwrap_or("drawing");
            let report = client.result(id).await?;
            let pages = corrected_pages(&report);
            let page_count = report["pages"].as_array().map_or(1, Vec::len);
            for &p in &pages {
                let name = page_name(file, id, p, page_count);
                let png = client.page_png(id, p).await?;
                write(&dir.join(format!("{name}.png")), &png)?;
                let rows = truth_rows(&report, p, only_corrected);
                done.rows += rows.lines().count();
                write(&dir.join(format!("{name}.csv")), rows.as_bytes())?;
                done.pages += 1;
            }
            let rows = log_rows(id, file, &report);
            eprintln!(
                "{id} {file}: {} corrected dimension(s) on {} page(s)",
                rows.len(),
                pages.len()
            );
            done.corrections += rows.len();
            log.extend(rows);
            done.jobs += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    log.push(String::new());
    write(&dir.join("corrections.csv"), log.join("\n").as_bytes())?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::read_truth;
    use serde_json::json;

    fn report() -> Value {
        json!({"dimensions": [
            {"raw": "Ø21,5±0,1", "kind": "diameter", "page": 0,
             "polygon": [[937.0, 1337.0], [1130.0, 1337.0], [1130.0, 1383.0], [937.0, 1383.0]]},
            {"raw": "38", "kind": "linear", "page": 0,
             "polygon": [[149.4, 1062.0], [182.0, 1062.0], [182.0, 1109.0], [149.0, 1109.0]],
             "correction": {"by": "reviewer", "at": "2026-12-05T10:00:00Z",
                            "original": {"raw": "3B", "kind": "linear"}}},
            {"raw": "5", "kind": "linear", "page": 1,
             "polygon": [[1.0, 1.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0]]}
        ]})
    }

    #[test]
    fn rows_read_back_as_truth() {
        let r = report();
        let all = truth_rows(&r, 0, false);
        let t = read_truth(&all).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].text, "Ø21,5±0,1");
        assert_eq!(t[0].bbox, [937.0, 1337.0, 193.0, 46.0]);
        assert_eq!(t[1].text, "38");
        assert!(all.starts_with("937,1337,1130,1337,1130,1383,937,1383,\"Ø21,5±0,1\"\n"));
        let only = read_truth(&truth_rows(&r, 0, true)).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].text, "38");
        assert_eq!(corrected_pages(&r).into_iter().collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn log_names_before_after_and_who() {
        let rows = log_rows("abc", "part, v2.png", &report());
        assert_eq!(
            rows,
            vec!["abc,\"part, v2.png\",0,1,3B,38,linear,linear,reviewer,2026-12-05T10:00:00Z"]
        );
    }

    #[test]
    fn page_names_are_safe_and_distinct() {
        let id = "0123456789abcdef";
        assert_eq!(
            page_name("Candle holder.jpg", id, 0, 1),
            "Candle_holder-01234567"
        );
        assert_eq!(page_name("../x/a.pdf", id, 2, 3), "a-01234567.p2");
        assert_eq!(page_name("", id, 0, 1), "drawing-01234567");
    }
}
