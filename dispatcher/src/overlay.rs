//! `GET /v1/jobs/{id}/overlay.png?page=N` and `overlay.svg?page=N`: the page with
//! what was read drawn on it ([`drawpipe_core::overlay`]: no OpenCV here, the SVG is
//! text and resvg renders it). The PNG of a finished job is rendered once, on first
//! request, and kept in `pages.overlay_png`; while the job runs the page is drawn
//! with nothing on it yet and not kept.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use drawpipe_core::overlay::{self, Page};
use drawpipe_core::report::Report;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{parse_id, AppState};
use crate::auth::Caller;
use crate::error::ApiError;

/// The longer side of a rendered overlay PNG, pixels (an A3 page at 300 DPI is 4961).
const MAX_SIDE: u32 = 4000;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// 0-based page index (default 0).
    pub page: Option<u32>,
}

struct Source {
    report: Option<Report>,
    page: Page,
    raster: Vec<u8>,
    cached: Option<Vec<u8>>,
}

async fn load(state: &AppState, id: &str, caller: &Caller, index: u32) -> Result<Source, ApiError> {
    let id = parse_id(id)?;
    type Row = (
        Option<Value>,
        String,
        Option<Vec<u8>>,
        Option<i32>,
        Option<i32>,
        Option<Vec<u8>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT j.report, j.status, p.raster_png, p.width, p.height, p.overlay_png \
         FROM jobs j LEFT JOIN pages p ON p.job_id = j.id AND p.page_index = $3 \
         WHERE j.id = $1 AND ($2::bigint IS NULL OR j.api_key_id = $2)",
    )
    .bind(id.0)
    .bind(caller.tenant())
    .bind(index as i32)
    .fetch_optional(state.pool())
    .await?;
    let Some((report, status, raster, width, height, cached)) = row else {
        return Err(ApiError::job_not_found(&id.to_string()));
    };
    let (Some(raster), Some(width), Some(height)) = (raster, width, height) else {
        return Err(ApiError::NotFound(
            if status == "queued" || status == "running" {
                format!("page {index} of job {id} is not rendered yet (status {status})")
            } else {
                format!("job {id} has no page {index}")
            },
        ));
    };
    let report = match report {
        Some(v) => Some(serde_json::from_value(v).map_err(|e| {
            ApiError::Internal(anyhow::anyhow!(
                "job {id}: stored report does not parse: {e}"
            ))
        })?),
        None => None,
    };
    Ok(Source {
        report,
        page: Page {
            index,
            width: width as u32,
            height: height as u32,
        },
        raster,
        cached,
    })
}

/// While a job runs: its page with nothing on it yet.
fn placeholder() -> Report {
    serde_json::from_value(serde_json::json!({
        "job_id": uuid::Uuid::nil(), "status": "running",
        "drawing": {"sha256": "", "media_type": "", "bytes": 0}, "stages": {}
    }))
    .expect("a fixed report parses")
}

pub async fn png(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let index = q.page.unwrap_or(0);
    let src = load(&state, &id, &caller, index).await?;
    if let (Some(png), Some(_)) = (&src.cached, &src.report) {
        return Ok(([(header::CONTENT_TYPE, "image/png")], png.clone()).into_response());
    }
    let finished = src.report.is_some();
    let report = src.report.unwrap_or_else(placeholder);
    let page = src.page;
    let raster = src.raster;
    let png =
        tokio::task::spawn_blocking(move || overlay::png(&report, page, Some(&raster), MAX_SIDE))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?
            .map_err(|e| ApiError::Internal(e.into()))?;
    if finished {
        let job = parse_id(&id)?;
        sqlx::query("UPDATE pages SET overlay_png = $3 WHERE job_id = $1 AND page_index = $2")
            .bind(job.0)
            .bind(index as i32)
            .bind(&png)
            .execute(state.pool())
            .await?;
    }
    let cache = if finished {
        "private, max-age=60"
    } else {
        "no-store"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, cache),
        ],
        png,
    )
        .into_response())
}

pub async fn svg(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let src = load(&state, &id, &caller, q.page.unwrap_or(0)).await?;
    let finished = src.report.is_some();
    let report = src.report.unwrap_or_else(placeholder);
    let doc = overlay::svg(&report, src.page, Some(&src.raster));
    let cache = if finished {
        "private, max-age=60"
    } else {
        "no-store"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, cache),
        ],
        doc,
    )
        .into_response())
}
