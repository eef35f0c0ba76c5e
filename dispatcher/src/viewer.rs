//! The web viewer (`/`): one HTML page, a style sheet and a script, compiled in and
//! served as they are (nothing from a CDN); it talks to the public API with the key
//! a person signs in with. Also `GET /v1/jobs/{id}/dimensions.xlsx`, the dimensions
//! of a finished job as a spreadsheet.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use rust_xlsxwriter::{Format, Workbook};
use serde_json::Value;

use crate::api::{parse_id, AppState};
use crate::auth::Caller;
use crate::error::ApiError;

const INDEX: &str = include_str!("viewer/index.html");
const SCRIPT: &str = include_str!("viewer/viewer.js");
const STYLE: &str = include_str!("viewer/viewer.css");

/// `/`, `/viewer/viewer.js`, `/viewer/viewer.css` (no key needed: the page signs in).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Html(INDEX) }))
        .route(
            "/viewer/viewer.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/viewer/viewer.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
}

/// The spreadsheet's columns: report key and heading.
const COLUMNS: &[(&str, &str)] = &[
    ("raw", "text"),
    ("kind", "kind"),
    ("nominal", "nominal"),
    ("upper", "upper deviation"),
    ("lower", "lower deviation"),
    ("fit", "fit"),
    ("thread", "thread"),
    ("count", "count"),
    ("unit", "unit"),
    ("confidence", "confidence"),
    ("source", "source"),
    ("page", "page"),
];

pub async fn dimensions_xlsx(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = parse_id(&id)?;
    let row: Option<(Option<Value>, String, Option<String>)> = sqlx::query_as(
        "SELECT report, status, filename FROM jobs WHERE id = $1 AND ($2::bigint IS NULL OR api_key_id = $2)",
    )
    .bind(job.0)
    .bind(caller.tenant())
    .fetch_optional(state.pool())
    .await?;
    let Some((report, status, filename)) = row else {
        return Err(ApiError::job_not_found(&id));
    };
    let Some(report) = report else {
        return Err(ApiError::Conflict(format!(
            "job {id} has not finished (status {status})"
        )));
    };
    let dims = report["dimensions"].as_array().cloned().unwrap_or_default();
    let bytes = workbook(&dims).map_err(|e| ApiError::Internal(anyhow::anyhow!("xlsx: {e}")))?;
    let stem = filename
        .as_deref()
        .and_then(|f| {
            f.rsplit_once('.')
                .map(|(s, _)| s.to_string())
                .or(Some(f.to_string()))
        })
        .unwrap_or_else(|| id.clone())
        .replace(['"', '\\', '/'], "_");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{stem}-dimensions.xlsx\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// One sheet, "dimensions": a heading row, then one row per dimension (numbers as
/// numbers).
fn workbook(dims: &[Value]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("dimensions")?;
    let bold = Format::new().set_bold();
    for (c, (_, title)) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *title, &bold)?;
    }
    for (r, d) in dims.iter().enumerate() {
        let row = r as u32 + 1;
        for (c, (key, _)) in COLUMNS.iter().enumerate() {
            match &d[*key] {
                Value::Number(n) => {
                    sheet.write_number(row, c as u16, n.as_f64().unwrap_or(0.0))?;
                }
                Value::String(s) => {
                    sheet.write_string(row, c as u16, s)?;
                }
                Value::Bool(b) => {
                    sheet.write_boolean(row, c as u16, *b)?;
                }
                _ => {}
            }
        }
    }
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An xlsx file is a zip whose sheet holds the values written.
    #[test]
    fn workbook_is_a_zip_with_a_row_per_dimension() {
        let dims = vec![
            serde_json::json!({"raw": "Ø21,5±0,1", "kind": "diameter", "nominal": 21.5, "upper": 0.1, "lower": -0.1}),
            serde_json::json!({"raw": "45°", "kind": "angle", "nominal": 45.0}),
        ];
        let bytes = workbook(&dims).unwrap();
        assert_eq!(&bytes[..2], b"PK");
        assert!(bytes.len() > 1000);
    }

    #[test]
    fn the_page_loads_its_own_script_and_style_only() {
        assert!(INDEX.contains(r#"src="/viewer/viewer.js""#));
        assert!(INDEX.contains(r#"href="/viewer/viewer.css""#));
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
        assert!(!SCRIPT.contains("https://"));
    }
}
